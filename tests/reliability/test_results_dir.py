"""A results directory under kills, concurrent runs and corrupted files (issue 15).

Kill tests run the real command line (``codesign_gym.experiments.cli.main``) in a child
interpreter, which the parent kills with SIGKILL when the table reaches a random row count.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import random
import re
import signal
import socket
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codesign_gym.experiments.cli import main
from codesign_gym.experiments.runner.results import (
    LOCK_FILE, RESULT_COLUMNS, RESULTS_FILE, RUN_CONFIG_FILE, DirectoryLock, DirectoryLockedError, ResultsFileError, open_results,
    read_table,
)

BUDGET = 10000  # ~0.4 s of rows (random, then genetic) on cfx/alexnet, then the report
SETTINGS = {"experiment": "toy"}


def _argv(out: Path, budget: int = BUDGET, *extra: str) -> list[str]:
    return ["run", "confuciux", "--model", "cfx/alexnet", "--budget", str(budget), "--methods", "random", "genetic", "--seeds", "1",
            "--output-dir", str(out), *extra]


def _quiet_main(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


#: The child program: imports first, then waits at the gate (if any), then runs the command line.
_CHILD = """
import json, os, sys
from codesign_gym.experiments.cli import main
gate = int(sys.argv[1])
if gate >= 0:
    os.read(gate, 1)
sys.exit(main(json.loads(sys.argv[2])))
"""
_CHILDREN: list = []  # Popen objects of the children (their pids are waited for with os.waitpid)


def _fork_main(argv: list[str], stderr: Path | None = None, gate: int | None = None) -> int:
    """Run ``codesign-gym`` with ``argv`` in a child process (stdout discarded, stderr to
    ``stderr``); with ``gate`` (a pipe's read end) the child, once imported, waits for one byte
    before it starts. Returns the child's pid. A fresh interpreter, not a fork of this
    (multithreaded) test process, whose locks a fork could inherit held."""
    import subprocess

    err = open(stderr, "w") if stderr else subprocess.DEVNULL
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(-1 if gate is None else gate), json.dumps(argv)],
                             stdout=subprocess.DEVNULL, stderr=err, pass_fds=() if gate is None else (gate,))
    if stderr:
        err.close()
    _CHILDREN.append(child)
    return child.pid


def _exit_code(pid: int) -> int | None:
    """The exit status of child ``pid`` (waiting for it); None if a signal ended it."""
    _, status = os.waitpid(pid, 0)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else None


def _runs(out: Path) -> dict[tuple, list[tuple]]:
    """Each run's rows (every column but wall time and version), in order."""
    keep = [c for c in RESULT_COLUMNS if c not in ("wall_s", "version")]
    runs: dict[tuple, list[tuple]] = {}
    for row in read_table(out / RESULTS_FILE).rows:
        runs.setdefault((row["problem"], row["method"], row["seed"]), []).append(tuple(json.dumps(row[c]) for c in keep))
    return runs


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, float, float]:
    """An uninterrupted run (in a forked child, like the killed ones), the time its last row appeared
    and the time random's final row did (s after the fork)."""
    assert _quiet_main(_argv(tmp_path_factory.mktemp("warm"), 50))[0] == 0  # imports done here, not in each child
    out = tmp_path_factory.mktemp("reference")
    t0 = time.perf_counter()
    pid = _fork_main(_argv(out))
    rows, last_row_at, random_end = 0, 0.0, None
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        with contextlib.suppress(OSError, ValueError):
            table = read_table(out / RESULTS_FILE).rows
            if len(table) > rows:
                rows, last_row_at = len(table), time.perf_counter() - t0
            if random_end is None and any(r["method"] == "random" and r["final"] for r in table):
                random_end = last_row_at
        time.sleep(0.005)
    assert len(read_table(out / RESULTS_FILE).rows) > 100 and random_end is not None
    return out, last_row_at, random_end


def _phase(out: Path) -> str:
    """Where a kill landed, from what the directory holds."""
    if not (out / RESULTS_FILE).exists():
        return "before any row"
    table = read_table(out / RESULTS_FILE)
    done = {r["method"] for r in table.rows if r["final"] == 1}
    phase = "report" if done == {"random", "genetic"} else "genetic" if "random" in done else "random" if table.rows else "before any row"
    return phase + (" (cut line)" if table.cut else "")


def _finished_rows(out: Path, ref_runs: dict) -> int:
    """Rows of the reference run that ``out`` holds as finished runs."""
    if not (out / RESULTS_FILE).exists():
        return 0
    done = {(r["problem"], r["method"], r["seed"]) for r in read_table(out / RESULTS_FILE).rows if r["final"] == 1}
    return sum(len(ref_runs[k]) for k in done)


def _kill_when_rows_reach(out: Path, target: int, timeout_s: float = 120.0) -> str:
    """Run ``codesign-gym run`` on ``out`` in a forked child and SIGKILL it as soon as the table
    holds ``target`` rows (polled every 2 ms, so the kill lands at or just after that row, at
    times mid-write); returns where it landed (:func:`_phase`)."""
    pid = _fork_main(_argv(out))
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        reaped, status = os.waitpid(pid, os.WNOHANG)
        if reaped:
            return "finished before the kill"
        with contextlib.suppress(OSError, ValueError):
            if len(read_table(out / RESULTS_FILE).rows) >= target:
                break
        time.sleep(0.002)
    else:
        os.kill(pid, signal.SIGKILL)
        _exit_code(pid)
        raise AssertionError(f"the run on {out} did not reach {target} rows within {timeout_s} s")
    os.kill(pid, signal.SIGKILL)
    return "finished before the kill" if _exit_code(pid) is not None else _phase(out)


def test_sigkill_at_random_points_then_resume_gives_the_rows_of_an_uninterrupted_run(reference, tmp_path):
    """Chains of kills: each kill hits a resume of the directory the previous one left, when the
    table reaches a random row count among the rows still to write (half of them inside random's
    run while it is unfinished, so kills fall on both methods whatever the machine's speed),
    until both runs are finished; then a resume runs to the end and must give the reference rows."""
    ref = reference[0]
    ref_runs = _runs(ref)
    total = sum(len(v) for v in ref_runs.values())
    random_rows = sum(len(v) for k, v in ref_runs.items() if k[1] == "random")
    rng = random.Random(15)
    kills: dict[str, int] = {}
    chain = 0
    while sum(kills.values()) - kills.get("finished before the kill", 0) < 21:
        out = tmp_path / f"killed{chain}"
        while _finished_rows(out, ref_runs) < total:
            finished = _finished_rows(out, ref_runs)
            in_random = finished < random_rows and rng.random() < 0.5
            target = rng.randint(finished + 1, max(finished + 1, (random_rows if in_random else total) - 1))
            phase = _kill_when_rows_reach(out, target)
            kills[phase] = kills.get(phase, 0) + 1
        code, err = _quiet_main(_argv(out)) if chain == 0 else (_resume_without_report(out), "")
        assert code == 0, err
        assert _runs(out) == ref_runs  # same runs, same rows: killed runs' rows were dropped and redone, none twice
        assert not (out / LOCK_FILE).exists()
        chain += 1
    print(f"kill points by phase over {chain} directories:", kills)
    assert kills.get("random", 0) + kills.get("random (cut line)", 0) >= 2 and kills.get("genetic", 0) + kills.get("genetic (cut line)", 0) >= 2


def _resume_without_report(out: Path) -> int:
    """The resume `codesign-gym run` does, without rendering the report (the rows are what is compared)."""
    import dataclasses

    from codesign_gym.experiments.cli import build_parser
    from codesign_gym.experiments.runner.commands import spec_from_args
    from codesign_gym.experiments.runner.run import run_experiment

    spec = spec_from_args(build_parser().parse_args(_argv(out)))
    run_experiment(dataclasses.replace(spec, report=False), progress=lambda _line: None)
    return 0


@pytest.mark.parametrize("start", ["new directory", "killed directory"])
def test_two_runs_at_once_one_is_refused_and_writes_nothing(reference, tmp_path, start):
    ref, _, random_end = reference
    out = tmp_path / "both"
    if start == "killed directory":  # two resumes at once of a run killed while genetic ran
        pid = _fork_main(_argv(out))
        deadline = time.time() + 120
        while _phase(out) not in ("genetic", "genetic (cut line)", "report"):
            assert time.time() < deadline, "the run wrote no genetic row within 120 s"
            time.sleep(0.002)
        os.kill(pid, signal.SIGKILL)
        _exit_code(pid)
    read_end, write_end = os.pipe()
    errs = [tmp_path / "err0", tmp_path / "err1"]
    pids = [_fork_main(_argv(out), err, gate=read_end) for err in errs]
    os.write(write_end, b"go")  # both start at once
    codes = sorted(_exit_code(pid) for pid in pids)
    assert codes == [0, 2]
    messages = "".join(e.read_text() for e in errs)
    assert "is in use by another run: pid" in messages and f"on host {socket.gethostname()}" in messages and "Traceback" not in messages
    assert _runs(out) == _runs(ref)  # no duplicated row


def test_a_held_directory_is_refused_untouched_and_a_dead_holder_is_taken_over(reference, tmp_path):
    ref, _, _ = reference
    out = tmp_path / "held"
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # holds the directory like a running run, until killed
        try:
            with DirectoryLock(out.parent / "held"):
                os.write(write_end, b"x")
                time.sleep(60)
        finally:
            os._exit(0)
    out.mkdir(exist_ok=True)
    os.read(read_end, 1)
    before = _snapshot(out)
    code, err = _quiet_main(_argv(out))
    assert code == 2 and f"pid {pid} on host {socket.gethostname()}" in err and f"delete {out / LOCK_FILE}" in err
    assert _snapshot(out) == before  # the refused run wrote nothing
    os.kill(pid, signal.SIGKILL)
    _exit_code(pid)
    assert _quiet_main(_argv(out))[0] == 0  # the dead holder's lock is taken over
    assert _runs(out) == _runs(ref)


def test_lock_of_another_host_is_refused_with_the_way_to_break_it(tmp_path):
    (tmp_path / LOCK_FILE).write_text(json.dumps({"host": "node-17", "pid": 4242, "started": "2026-01-01T00:00:00+00:00", "token": "t"}))
    with pytest.raises(DirectoryLockedError, match=f"pid 4242 on host node-17.*delete {tmp_path / LOCK_FILE}"):
        DirectoryLock(tmp_path).acquire()
    (tmp_path / LOCK_FILE).unlink()  # the documented way to break it
    with DirectoryLock(tmp_path) as lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK_FILE).exists()


def test_lock_of_a_reused_pid_and_an_unreadable_old_lock_are_taken_over(tmp_path):
    me = {"host": socket.gethostname(), "pid": os.getpid(), "pid_start": "0", "token": "old"}  # this pid, but another process start
    (tmp_path / LOCK_FILE).write_text(json.dumps(me))
    DirectoryLock(tmp_path).acquire().release()
    (tmp_path / LOCK_FILE).write_text("")  # a holder killed between creating and writing it
    old = time.time() - 3600
    os.utime(tmp_path / LOCK_FILE, (old, old))
    DirectoryLock(tmp_path).acquire().release()


def test_the_lock_goes_on_an_exception(tmp_path):
    with pytest.raises(RuntimeError):
        writer, _ = open_results(tmp_path, SETTINGS, lambda _l: None)
        with writer:
            raise RuntimeError("a method failed")
    assert not (tmp_path / LOCK_FILE).exists()
    with pytest.raises(ValueError, match="other settings"):  # a refusal after locking releases it too
        open_results(tmp_path, {"experiment": "other"}, lambda _l: None)
    assert not (tmp_path / LOCK_FILE).exists()


# ------------------------------------------------------------------------------------------------
# corrupted tables


def _row(method: str, seed: int, evals: int, final: int, objective: str = "5.0") -> str:
    return f"toy,p,{method},{seed},{evals},0.01,{objective},sum,1,min,5.0,1,0.5,,\"[1,0,2]\",,{final},0.1.0+gabc\r\n"


HEADER = ",".join(RESULT_COLUMNS) + "\r\n"
GOOD = HEADER + _row("random", 0, 4, 0) + _row("random", 0, 8, 1) + _row("genetic", 0, 4, 0) + _row("genetic", 0, 8, 1)


def _table_dir(tmp_path: Path, text: bytes | str) -> Path:
    (tmp_path / RESULTS_FILE).write_bytes(text.encode() if isinstance(text, str) else text)
    (tmp_path / RUN_CONFIG_FILE).write_text(json.dumps(SETTINGS))
    return tmp_path


@pytest.mark.parametrize("text, line, expected", [
    (GOOD + "garbage row\r\n", 6, "1 cells; expected 18"),
    (GOOD.replace(HEADER, ""), 1, "expected the header"),
    (GOOD.replace("toy,p,genetic,0,4,", "toy,p,genetic,row,4,"), 4, "'seed' holds 'row'; expected a non-negative integer"),
    (GOOD.replace("0.1.0+gabc\r\ntoy,p,genetic", "0.1.0+gabctoy,p,genetic", 1), 3, "35 cells; expected 18"),
    (GOOD.encode() + b"\x89PNG\r\n\x1a\n\x00\x00", 6, "not UTF-8"),
    (GOOD + "toy,p,random,1,4,0.01\x00,,\r\n", 6, "NUL byte"),
    (GOOD + "toy,p,random,1,4,0.01,nan,sum,1,min,5.0,1,,,\"[1,0,2]\",,1,v,extra\r\n", 6, "19 cells; expected 18"),
    (GOOD + "toy,p,random,1,4,0.01,nan,sum,1,min,5.0,2,,,\"[1,0,2]\",,1,v\r\n", 6, "'feasible' holds '2'; expected 0 or 1"),
    (GOOD + "toy,p,random,1,4,0.01,5,sum,1,min,5.0,1,,,\"[1,0\r\n", 6, "unreadable CSV"),
    (GOOD + "toy,p,random,x,4,0.01,5,sum", 6, "'seed' holds 'x'"),  # a cut last line must still be the start of a row
    (GOOD + "hello", 6, "does not start like a row"),
])
def test_unreadable_tables_are_refused_with_file_line_and_expectation_untouched(tmp_path, text, line, expected):
    out = _table_dir(tmp_path, text)
    before = _snapshot(out)
    with pytest.raises(ResultsFileError, match=f"{out / RESULTS_FILE}: line {line}: .*({expected})"):
        open_results(out, SETTINGS, lambda _l: None)
    code, err = _quiet_main(["report", str(out)])
    assert code == 2 and f"{out / RESULTS_FILE}: line {line}" in err and "Traceback" not in err
    assert _snapshot(out) == before and not (out / LOCK_FILE).exists()


def test_cut_last_line_at_every_byte_is_never_a_row_and_a_resume_repairs_it(tmp_path):
    whole = GOOD.encode()
    start = len((HEADER + _row("random", 0, 4, 0) + _row("random", 0, 8, 1) + _row("genetic", 0, 4, 0)).encode())
    for cut in range(start, len(whole)):  # every byte of the last row, its line ending included
        out = tmp_path / str(cut)
        out.mkdir()
        _table_dir(out, whole[:cut])
        table = read_table(out / RESULTS_FILE)
        assert table.cut == (cut > start) and len(table.rows) == 3  # the cut row is not read as a row
        messages: list[str] = []
        writer, done = open_results(out, SETTINGS, messages.append)
        with writer:
            writer.write([{"experiment": "toy", "problem": "p", "method": "genetic", "seed": 0, "evals": 8, "feasible": 1, "final": 1}])
        assert done == {("p", "random", 0)}
        repaired = read_table(out / RESULTS_FILE)
        assert not repaired.cut and [(r["method"], r["evals"], r["final"]) for r in repaired.rows] == [
            ("random", 4, 0), ("random", 8, 1), ("genetic", 8, 1)]  # the new row is not glued onto the cut one


def test_report_counts_nan_objectives_as_infeasible_and_leaves_unfinished_runs_out(tmp_path):
    text = GOOD.replace(_row("genetic", 0, 8, 1), _row("genetic", 0, 8, 1, objective="nan")) + _row("random", 1, 4, 0)
    out = _table_dir(tmp_path, text + "toy,p,ran")
    (out / RUN_CONFIG_FILE).unlink()  # no experiment: the generic report only
    code, _ = _quiet_main(["report", str(out)])
    summary = (out / "summary.md").read_text()
    assert code == 0 and re.search(r"\| genetic +\| +1 \| +8 \| no feasible design +\| - +\| +0/1 \|", summary), summary
    assert re.search(r"\| random +\| +1 \| +8 \| +5 \| +50 \| +1/1 \|", summary), summary
    assert "1 unfinished runs" in summary and "cut short" in summary


_COUNTER = itertools.count()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_tables_are_read_whole_or_refused_untouched(tmp_path, data):
    lines = GOOD.encode().split(b"\r\n")
    i = data.draw(st.integers(0, len(lines) - 1))
    junk = data.draw(st.binary(max_size=30) | st.text(st.sampled_from(',"\r\n[]0123456789.enaxtoy'), max_size=30).map(str.encode))
    how = data.draw(st.sampled_from(["insert", "replace", "append", "truncate"]))
    if how == "truncate":
        text = GOOD.encode()[: data.draw(st.integers(0, len(GOOD)))]
    else:
        lines = lines[:i] + [junk] + lines[i + (how == "replace"):] if how != "append" else lines[:-1] + [lines[-1] + junk]
        text = b"\r\n".join(lines)
    out = Path(tmp_path) / f"f{next(_COUNTER)}"
    out.mkdir()
    _table_dir(out, text)
    before = _snapshot(out)
    try:
        writer, done = open_results(out, SETTINGS, lambda _l: None)
    except ResultsFileError as err:
        assert str(out / RESULTS_FILE) in str(err) and ": line " in str(err) and "expected" in str(err)
        assert _snapshot(out) == before and not (out / LOCK_FILE).exists()
        return
    writer.close()
    table = read_table(out / RESULTS_FILE)  # what a resume leaves: whole rows of finished runs only
    assert not table.cut and {(r["method"], r["seed"]) for r in table.rows if r["final"]} == {(m, s) for _, m, s in done}


# ------------------------------------------------------------------------------------------------
# the command line


def test_bad_directories_and_run_configs_are_refused(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    code, err = _quiet_main(_argv(a_file, 50))
    assert code == 2 and "is a file" in err and a_file.read_text() == "x"
    out = tmp_path / "run"
    assert _quiet_main(_argv(out, 50))[0] == 0
    (out / RUN_CONFIG_FILE).write_text("{not json")
    before = _snapshot(out)
    code, err = _quiet_main(_argv(out, 50))
    assert code == 2 and f"{out / RUN_CONFIG_FILE}: line 1 column 2" in err and _snapshot(out) == before
    assert _quiet_main(["report", str(out)])[0] == 2
    (out / RUN_CONFIG_FILE).unlink()  # deleted, then resumed with another budget: never mixed
    before = _snapshot(out)
    code, err = _quiet_main(_argv(out, 80))
    assert code == 2 and "2 finished runs" in err and f"{RUN_CONFIG_FILE} is missing" in err and _snapshot(out) == before


def test_sigint_prints_one_line_exits_130_and_the_run_resumes(reference, tmp_path):
    ref, _, _ = reference
    out, err = tmp_path / "int", tmp_path / "stderr"
    pid = _fork_main(_argv(out), err)
    deadline = time.time() + 30
    while not (out / RESULTS_FILE).exists() or not read_table(out / RESULTS_FILE).rows:
        assert time.time() < deadline
        time.sleep(0.005)
    os.kill(pid, signal.SIGINT)
    assert _exit_code(pid) == 130
    lines = [line for line in err.read_text().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("codesign-gym: interrupted: ") and f"--output-dir {out}" in lines[0], lines
    assert not (out / LOCK_FILE).exists()
    assert _quiet_main(_argv(out))[0] == 0 and _runs(out) == _runs(ref)


def test_report_of_a_run_without_any_feasible_design(tmp_path):
    code, _ = _quiet_main(["run", "confuciux", "--model", "cfx/alexnet", "--constraint", "area:0.0001", "--budget", "50", "--seeds", "2",
                           "--methods", "random", "genetic", "--output-dir", str(tmp_path)])
    summary = (tmp_path / "summary.md").read_text()
    assert code == 0 and summary.count("no feasible design") == 2 and list(tmp_path.glob("convergence_*.png"))
