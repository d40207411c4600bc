"""The results table every experiment writes: one CSV row per problem x method x seed x checkpoint.

Every experiment writes the same columns with the same meaning (DESIGN.md conventions):

- ``experiment, problem, method, seed``: what ran (``problem`` is the problem's label);
- ``evals``: the problem's evaluations used so far (its ``evaluation_unit``), ``wall_s``;
- ``best_objective``: the objective of the best design so far, once it is feasible (empty
  before), in ``objective_unit``; ``objective_name``, ``direction`` (``min``/``max``);
- ``best_fitness``: the minimised fitness of that design; ``feasible``: whether it is feasible;
- ``gap_to_opt``: ``best / optimum - 1`` (min) or ``1 - best / optimum`` (max) where an exact
  optimum is known; ``ratio_to_ref``: ``best / reference`` where a reference is known;
- ``best_design`` (indices, JSON), ``best_config`` (values, JSON; on a run's final row);
- ``final`` (1 on a run's last row), ``version`` (package version and git commit).

Safety of a results directory (one run directory, ``codesign-gym run ... --output-dir D``):

- **One writer.** :func:`open_results` takes ``D/run.lock`` (:class:`DirectoryLock`) for the
  whole run; a second run on ``D`` is refused with the holder's host and pid. A lock whose holder
  is a dead process on this host is taken over automatically; one held by a machine that went
  down must be removed by hand (``rm D/run.lock``) once that run is known to be gone.
- **Whole rows.** Each batch of rows is written with one ``write`` on an ``O_APPEND`` file (and
  ``fsync``-ed when it holds a run's final row), so after a kill a row is whole or missing; at
  worst the last line is cut short, and such a line (no line ending) is never read as a row.
- **Resume.** Rows of runs without a final row, and a cut last line, are dropped (the file is
  rewritten atomically) and those runs start over; :func:`completed_runs` names the finished ones.
- **Refusals, file untouched.** A table that cannot be read (not UTF-8, another header, a line
  with another number of cells or a cell that does not parse) raises :class:`ResultsFileError`
  naming the file, the line and what was expected, before anything is modified.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import io
import json
import math
import os
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Iterable, Mapping

from codesign_gym.costmodels.textfiles import read_text
from codesign_gym.experiments.runner.provenance import version_string

RESULT_COLUMNS: tuple[str, ...] = (
    "experiment", "problem", "method", "seed", "evals", "wall_s", "best_objective", "objective_name", "objective_unit",
    "direction", "best_fitness", "feasible", "gap_to_opt", "ratio_to_ref", "best_design", "best_config", "final", "version",
)
INT_COLUMNS = ("seed", "evals", "final", "feasible")
FLOAT_COLUMNS = ("wall_s", "best_objective", "best_fitness", "gap_to_opt", "ratio_to_ref")
JSON_COLUMNS = ("best_design", "best_config")
#: Columns every row must fill (the others may be empty).
REQUIRED_COLUMNS = ("experiment", "problem", "method", "seed", "evals", "feasible", "final")
RESULTS_FILE = "results.csv"
RUN_CONFIG_FILE = "run_config.json"
LOCK_FILE = "run.lock"
_HEADER = ",".join(RESULT_COLUMNS)


class ResultsFileError(ValueError):
    """A results directory's file that cannot be used as it is (the file is left untouched)."""


class DirectoryLockedError(ValueError):
    """Another run holds the results directory's lock."""


# ----------------------------------------------------------------------------------------------
# the lock


def _process_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux ``/proc``), or None
    where it cannot be read; it tells a live holder from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def _pid_alive(pid: int, start: str | None) -> bool:
    """Whether process ``pid`` of this host runs (and is the one that started at ``start``)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    now = _process_start(pid)
    return start is None or now is None or now == start


class DirectoryLock:
    """An advisory lock on a results directory: the file ``<dir>/run.lock``, created with
    ``O_CREAT | O_EXCL`` (atomic on local disks and on NFSv3+ shared storage), holding the
    holder's host, pid, process start time, start time (UTC) and command line.

    :meth:`acquire` refuses (:class:`DirectoryLockedError`) while another process holds it; a lock
    whose holder is a dead process of this host is taken over. To break a lock whose holder is on
    another machine that went down, delete the file. :meth:`release` removes the file only if it
    is still this lock's.
    """

    #: Seconds an unreadable (half-created) lock file may be young before it is taken as stale.
    UNREADABLE_GRACE_S = 5.0

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.path = self.directory / LOCK_FILE
        self.token: str | None = None

    def __enter__(self) -> "DirectoryLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> "DirectoryLock":
        """Take the lock (see the class docstring); returns self."""
        me = {"host": socket.gethostname(), "pid": os.getpid(), "pid_start": _process_start(os.getpid()),
              "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "command": " ".join(sys.argv), "token": uuid.uuid4().hex}
        for attempt in range(50):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is None:  # vanished, or being written right now: look again
                    if attempt and self._unreadable_is_stale():
                        self._break(None)
                    time.sleep(0.02)
                    continue
                if holder.get("host") == me["host"] and not _pid_alive(holder["pid"], holder.get("pid_start")):
                    self._break(holder)
                    continue
                raise DirectoryLockedError(self._refusal(holder)) from None
            try:
                os.write(fd, (json.dumps(me) + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            self.token = me["token"]
            return self
        raise DirectoryLockedError(f"{self.directory}: could not take the lock {self.path}: it is unreadable or keeps changing "
                                   f"hands; if no other run uses this directory, delete {self.path} and rerun")

    def _holder(self) -> dict | None:
        try:
            holder = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        pid = holder.get("pid") if isinstance(holder, dict) else None
        return holder if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else None

    def _unreadable_is_stale(self) -> bool:
        try:
            return time.time() - self.path.stat().st_mtime > self.UNREADABLE_GRACE_S
        except OSError:
            return False

    def _break(self, seen: dict | None) -> None:
        """Remove a stale lock, if it is still the one ``seen`` (None: unreadable); one breaker at
        a time (``run.lock.break``, O_EXCL), so two takers cannot remove each other's new lock."""
        guard = self.path.with_name(LOCK_FILE + ".break")
        try:
            fd = os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if time.time() - guard.stat().st_mtime > self.UNREADABLE_GRACE_S:  # a breaker died mid-way
                guard.unlink(missing_ok=True)
            return
        try:
            os.close(fd)
            if self._holder() == seen:
                self.path.unlink(missing_ok=True)
        finally:
            guard.unlink(missing_ok=True)

    def _refusal(self, holder: dict) -> str:
        return (f"{self.directory} is in use by another run: pid {holder.get('pid')} on host {holder.get('host')}, started "
                f"{holder.get('started')} ({holder.get('command') or 'unknown command'}); one run at a time may write a results "
                f"directory: wait for it to end or use another --output-dir. If that run is gone (e.g. its machine went down), "
                f"delete {self.path} and resume; a lock of a dead process on this host is taken over automatically")

    def release(self) -> None:
        """Remove the lock file if it is still this lock's (safe to call twice)."""
        if self.token is None:
            return
        holder = self._holder()
        if holder is not None and holder.get("token") == self.token:
            self.path.unlink(missing_ok=True)
        self.token = None


# ----------------------------------------------------------------------------------------------
# reading


@dataclasses.dataclass
class ResultsTable:
    """A parsed ``results.csv``.

    Attributes:
        path: the file.
        rows: the complete rows, numbers parsed (empty and non-finite cells become None).
        cells: the same rows as the strings they were written as.
        cut: whether the last line lacked its line ending (a row cut short by a kill); it is in
            neither ``rows`` nor ``cells``.
    """

    path: Path
    rows: list[dict[str, object]]
    cells: list[list[str]]
    cut: bool


def _expected() -> str:
    return f"a results table whose first line is the header {_HEADER!r}"


def _parse_cell(path: Path, line: int, column: str, text: str) -> object:
    """``text`` of ``column`` parsed (None for an empty cell); ResultsFileError if it does not parse."""
    if text == "":
        if column in REQUIRED_COLUMNS:
            raise ResultsFileError(f"{path}: line {line}: column {column!r} is empty; expected a value (every row fills {', '.join(REQUIRED_COLUMNS)})")
        return None
    try:
        if column in INT_COLUMNS:
            value = int(text)
            if value < 0 or value >= 2**63 or (column in ("final", "feasible") and value > 1):
                raise ValueError(text)
            return value
        if column in FLOAT_COLUMNS:
            value = float(text)
            return value if math.isfinite(value) else None
        if column in JSON_COLUMNS:
            return json.loads(text)
    except ValueError:
        kind = ("0 or 1" if column in ("final", "feasible") else "a non-negative integer below 2**63") if column in INT_COLUMNS else \
            "a number" if column in FLOAT_COLUMNS else "JSON"
        raise ResultsFileError(f"{path}: line {line}: column {column!r} holds {text[:80]!r}; expected {kind}") from None
    return text


def _parse_row(path: Path, line: int, cells: list[str]) -> dict[str, object]:
    if len(cells) != len(RESULT_COLUMNS):
        raise ResultsFileError(f"{path}: line {line}: {len(cells)} cells; expected {len(RESULT_COLUMNS)} (the columns {_HEADER})")
    row = {c: _parse_cell(path, line, c, t) for c, t in zip(RESULT_COLUMNS, cells)}
    if row["feasible"] and row["best_objective"] is None:  # a NaN objective is never feasible
        row["feasible"] = 0
    return row


def _check_cut_line(path: Path, line: int, text: str, header_done: bool, rows: list[dict[str, object]]) -> None:
    """A last line without its line ending must be the start of what the writer writes there: a
    prefix of the header (if no header yet) or of a row (whose experiment, where the table has
    rows, is theirs); anything else is refused."""
    if not header_done:
        if not _HEADER.startswith(text):
            raise ResultsFileError(f"{path}: line {line}: {text[:80]!r}; expected {_expected()}")
        return
    try:
        cells = next(csv.reader([text], strict=True), [])
    except csv.Error:  # cut inside a quoted cell: close it to read the cells before
        try:
            cells = next(csv.reader([text + '"'], strict=True), [])
        except csv.Error as err:
            raise ResultsFileError(f"{path}: line {line}: unreadable CSV ({err}); expected a row of {len(RESULT_COLUMNS)} cells") from None
    if len(cells) > len(RESULT_COLUMNS):
        raise ResultsFileError(f"{path}: line {line}: {len(cells)} cells; expected {len(RESULT_COLUMNS)} (the columns {_HEADER})")
    for column, cell in zip(RESULT_COLUMNS, cells[:-1]):  # the last cell may be cut anywhere
        _parse_cell(path, line, column, cell)
    experiments = {str(r["experiment"]) for r in rows}
    first = cells[0] if cells else ""
    if experiments and not any(e.startswith(first) if len(cells) == 1 else e == first for e in experiments):
        raise ResultsFileError(f"{path}: line {line}: {text[:80]!r} does not start like a row (experiment "
                               f"{' or '.join(sorted(experiments))}); expected a row of {len(RESULT_COLUMNS)} cells")


def read_table(path: str | Path) -> ResultsTable:
    """Parse a results file (see :class:`ResultsTable`); an empty file is an empty table.

    Raises:
        ResultsFileError: naming the file, the line and what was expected, for bytes that are not
            UTF-8, another header, a line with another number of cells, or a cell that does not
            parse; the file is not modified.
    """
    path = Path(path)
    text = read_text(path, _expected(), error=ResultsFileError, sep=": ")
    cut = bool(text) and not text.endswith("\n")
    body, tail = (text[:text.rfind("\n") + 1], text[text.rfind("\n") + 1:]) if cut else (text, "")
    rows, cells = [], []
    reader = csv.reader(io.StringIO(body, newline=""), strict=True)
    line, header_done = 1, False
    try:
        for record in reader:
            if not header_done:
                if tuple(record) != RESULT_COLUMNS:
                    raise ResultsFileError(f"{path}: line 1: {','.join(record)[:120]!r}; expected the header {_HEADER!r}")
                header_done = True
            else:
                rows.append(_parse_row(path, line, record))
                cells.append(record)
            line = reader.line_num + 1
    except csv.Error as err:
        raise ResultsFileError(f"{path}: line {line}: unreadable CSV ({err}); expected a row of {len(RESULT_COLUMNS)} cells") from None
    if cut:
        _check_cut_line(path, body.count("\n") + 1, tail, header_done, rows)
    return ResultsTable(path, rows, cells, cut)


def read_results(output_dir: str | Path) -> list[dict[str, object]]:
    """Complete rows of ``<output_dir>/results.csv`` with numbers parsed (empty and non-finite
    cells become None; a last line cut short by a kill is left out). See :func:`read_table`."""
    path = Path(output_dir) / RESULTS_FILE
    if not path.exists():
        raise FileNotFoundError(f"no {RESULTS_FILE} in {output_dir}; expected the output directory of a run")
    return read_table(path).rows


def finished(rows: Iterable[Mapping[str, object]]) -> set[tuple[str, str, int]]:
    """(problem, method, seed) of the runs among ``rows`` that have their final row."""
    return {(str(r["problem"]), str(r["method"]), int(r["seed"])) for r in rows if r["final"] == 1}


def completed_runs(output_dir: str | Path) -> set[tuple[str, str, int]]:
    """(problem, method, seed) triples whose final row is in the table (for resuming)."""
    path = Path(output_dir) / RESULTS_FILE
    return finished(read_table(path).rows) if path.exists() else set()


# ----------------------------------------------------------------------------------------------
# writing


def _encode(rows: Iterable[Mapping[str, object]], header: bool, version: str) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=RESULT_COLUMNS, extrasaction="raise")
    if header:
        writer.writeheader()
    for row in rows:
        writer.writerow({**{c: "" for c in RESULT_COLUMNS}, "version": version, **_cells(row)})
    return buf.getvalue().encode("utf-8")


def _write_all(fd: int, data: bytes) -> None:
    """One ``write`` of ``data`` (a regular file takes it whole; a short write is finished)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class ResultsWriter:
    """Appends rows to ``<output_dir>/results.csv`` (header first if the file is empty), each
    batch with one write on an ``O_APPEND`` descriptor; a batch holding a run's final row is
    ``fsync``-ed. Meant to be opened by :func:`open_results`, which holds the directory's lock;
    :meth:`close` closes the file and releases the lock."""

    def __init__(self, output_dir: str | Path, lock: DirectoryLock | None = None):
        self.path = Path(output_dir) / RESULTS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = lock
        self._version = version_string()
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._header = os.fstat(self._fd).st_size == 0

    def write(self, rows: Iterable[Mapping[str, object]]) -> None:
        rows = list(rows)
        if not rows:
            return
        if self._fd is None:
            raise ValueError(f"{self.path}: the results writer is closed; open the directory again to write")
        _write_all(self._fd, _encode(rows, self._header, self._version))
        self._header = False
        if any(r.get("final") in (1, True) for r in rows):
            os.fsync(self._fd)

    def close(self) -> None:
        """Close the file and release the directory's lock (safe to call twice)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> "ResultsWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _cells(row: Mapping[str, object]) -> dict[str, object]:
    out = {}
    for key, value in row.items():
        if key in JSON_COLUMNS and not isinstance(value, str):
            value = json.dumps(value, separators=(",", ":"))
        elif isinstance(value, float) and not math.isfinite(value):
            value = ""
        elif isinstance(value, bool):
            value = int(value)
        out[key] = value
    return out


def read_run_config(output_dir: str | Path) -> dict | None:
    """The settings recorded in ``<output_dir>/run_config.json`` (None if there is none).

    Raises:
        ResultsFileError: the file is not a JSON object (naming the file and the position).
    """
    path = Path(output_dir) / RUN_CONFIG_FILE
    if not path.exists():
        return None
    try:
        recorded = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ResultsFileError(f"{path}: byte {err.start} is not UTF-8 text; expected the JSON object of a run's settings") from None
    except json.JSONDecodeError as err:
        raise ResultsFileError(f"{path}: line {err.lineno} column {err.colno}: {err.msg}; expected the JSON object of a run's settings") from None
    except IsADirectoryError:
        raise ResultsFileError(f"{path} is a directory; expected the JSON object of a run's settings") from None
    if not isinstance(recorded, dict):
        raise ResultsFileError(f"{path}: holds a JSON {type(recorded).__name__}; expected the JSON object of a run's settings")
    return recorded


def check_run_config(output_dir: str | Path, config: Mapping[str, object], finished_runs: int = 0) -> None:
    """Record the run's settings in ``run_config.json``, or, when resuming a directory that has
    one, refuse settings that differ (a resumed run must not mix budgets or problems).

    Args:
        finished_runs: runs with a final row already in the directory's table; without a
            ``run_config.json`` their settings are unknown, so the directory is refused.

    Raises:
        ValueError: naming each differing setting with its recorded and its new value, or a table
            of finished runs without its ``run_config.json``.
    """
    path = Path(output_dir) / RUN_CONFIG_FILE
    current = json.loads(json.dumps(dict(config)))  # normalise tuples to lists, as stored
    recorded = read_run_config(output_dir)
    if recorded is not None:
        diff = {k: (recorded.get(k), current.get(k)) for k in sorted(set(recorded) | set(current)) if recorded.get(k) != current.get(k)}
        # more seeds or methods extend a run; anything else would mix incomparable results
        diff = {k: v for k, v in diff.items() if k not in ("seeds", "methods")}
        if diff:
            details = ", ".join(f"{k}: recorded {a!r}, now {b!r}" for k, (a, b) in diff.items())
            raise ValueError(f"{output_dir} holds a run with other settings ({details}); resume it with the same settings or use a new --output-dir")
        return
    if finished_runs:
        raise ResultsFileError(f"{Path(output_dir) / RESULTS_FILE} holds {finished_runs} finished runs but {path} is missing, so their "
                               f"settings (budget, problem) are unknown and a resume could mix them with others; restore {RUN_CONFIG_FILE} "
                               f"or use a new --output-dir")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(RUN_CONFIG_FILE + ".tmp")
    tmp.write_text(json.dumps(current, indent=1))
    tmp.replace(path)


def _check_directory(output_dir: Path) -> None:
    if output_dir.exists() and not output_dir.is_dir():
        raise ValueError(f"output directory {output_dir} is a file; expected a directory (new, or one a run wrote)")
    for parent in output_dir.parents:
        if parent.exists() and not parent.is_dir():
            raise ValueError(f"output directory {output_dir}: {parent} is a file; expected a directory")


def open_results(output_dir: str | Path, settings: Mapping[str, object], progress, lock: bool = True) -> tuple[ResultsWriter, set[tuple[str, str, int]]]:
    """Start or resume a run in ``output_dir``: take its lock (:class:`DirectoryLock`; ``lock``
    False: the caller guarantees a single writer), read its table (refusing one it cannot read,
    untouched), check the settings (:func:`check_run_config`), drop the rows of runs that never
    finished and a last line cut short, and return the writer (whose ``close`` releases the lock)
    and the (problem, method, seed) triples already done."""
    output_dir = Path(output_dir)
    _check_directory(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    held = DirectoryLock(output_dir).acquire() if lock else None
    try:
        path = output_dir / RESULTS_FILE
        table = read_table(path) if path.exists() else None
        done = finished(table.rows) if table else set()
        check_run_config(output_dir, settings, len(done))
        if table is not None:
            _keep_finished(table, done, progress)
        return ResultsWriter(output_dir, held), done
    except BaseException:
        if held is not None:
            held.release()
        raise


def _keep_finished(table: ResultsTable, done: set[tuple[str, str, int]], progress) -> int:
    """Rewrite ``table``'s file (atomically) with the rows of the ``done`` runs only, if it holds
    others or a cut last line; returns how many rows were dropped."""
    keep = [c for c, r in zip(table.cells, table.rows) if (str(r["problem"]), str(r["method"]), int(r["seed"])) in done]
    dropped = len(table.cells) - len(keep)
    if dropped or table.cut:
        tmp = table.path.with_name(RESULTS_FILE + ".tmp")
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(RESULT_COLUMNS)
        writer.writerows(keep)
        with tmp.open("wb") as fh:
            fh.write(buf.getvalue().encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(table.path)
        cut = " and a last line cut short" if table.cut else ""
        progress(f"resuming: dropped {dropped} rows of unfinished runs{cut}")
    return dropped


def drop_unfinished(output_dir: str | Path) -> int:
    """Remove the rows of runs that never wrote a final row (a killed run) and a last line cut
    short, so a resumed run starts them cleanly; returns how many rows were dropped. The caller
    must own the directory (:func:`open_results` does this under the lock)."""
    path = Path(output_dir) / RESULTS_FILE
    if not path.exists():
        return 0
    table = read_table(path)
    return _keep_finished(table, finished(table.rows), lambda _line: None)


def pending_seeds(problem: str, method: str, seeds: Iterable[int], done: set[tuple[str, str, int]], progress, label: str | None = None) -> list[int]:
    """Those of ``seeds`` of ``(problem, method)`` that have no final row in ``done`` (from
    :func:`open_results`); each one skipped is reported through ``progress`` as ``label`` (default
    the method)."""
    pending = []
    for seed in seeds:
        if (problem, method, seed) in done:
            progress(f"  {label or method} seed {seed}: done already, skipped")
        else:
            pending.append(seed)
    return pending
