"""The results table every experiment writes: one CSV row per problem x method x seed x checkpoint.

Rows are appended and flushed one batch at a time, so a killed run loses at most the batch in
flight; :func:`completed_runs` tells a resumed run which (problem, method, seed) runs are finished.
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
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Iterable, Mapping

from codesign_gym.experiments.runner.provenance import version_string

RESULT_COLUMNS: tuple[str, ...] = (
    "experiment", "problem", "method", "seed", "evals", "wall_s", "best_objective", "objective_name", "objective_unit",
    "direction", "best_fitness", "feasible", "gap_to_opt", "ratio_to_ref", "best_design", "best_config", "final", "version",
)
INT_COLUMNS = ("seed", "evals", "final", "feasible")
FLOAT_COLUMNS = ("wall_s", "best_objective", "best_fitness", "gap_to_opt", "ratio_to_ref")
JSON_COLUMNS = ("best_design", "best_config")
RESULTS_FILE = "results.csv"


class ResultsWriter:
    """Appends rows to ``<output_dir>/results.csv``, writing the header once."""

    def __init__(self, output_dir: str | Path):
        self.path = Path(output_dir) / RESULTS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._version = version_string()

    def write(self, rows: Iterable[Mapping[str, object]]) -> None:
        rows = list(rows)
        if not rows:
            return
        new = not self.path.exists() or self.path.stat().st_size == 0
        with self.path.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS, extrasaction="raise")
            if new:
                writer.writeheader()
            for row in rows:
                writer.writerow({**{c: "" for c in RESULT_COLUMNS}, "version": self._version, **_cells(row)})
            fh.flush()


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


RUN_CONFIG_FILE = "run_config.json"


def check_run_config(output_dir: str | Path, config: Mapping[str, object]) -> None:
    """Record the run's settings in ``run_config.json``, or, when resuming a directory that has
    one, refuse settings that differ (a resumed run must not mix budgets or problems).

    Raises:
        ValueError: naming each differing setting with its recorded and its new value.
    """
    path = Path(output_dir) / RUN_CONFIG_FILE
    current = json.loads(json.dumps(dict(config)))  # normalise tuples to lists, as stored
    if path.exists():
        recorded = json.loads(path.read_text())
        diff = {k: (recorded.get(k), current.get(k)) for k in sorted(set(recorded) | set(current)) if recorded.get(k) != current.get(k)}
        # more seeds or methods extend a run; anything else would mix incomparable results
        diff = {k: v for k, v in diff.items() if k not in ("seeds", "methods")}
        if diff:
            details = ", ".join(f"{k}: recorded {a!r}, now {b!r}" for k, (a, b) in diff.items())
            raise ValueError(f"{output_dir} holds a run with other settings ({details}); resume it with the same settings or use a new --output-dir")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current, indent=1))


def open_results(output_dir: str | Path, settings: Mapping[str, object], progress) -> tuple["ResultsWriter", set[tuple[str, str, int]]]:
    """Start or resume a run in ``output_dir``: check the settings against a resumed run's
    (:func:`check_run_config`), drop rows of runs that never finished, and return the writer and
    the (problem, method, seed) triples already done."""
    check_run_config(output_dir, settings)
    writer = ResultsWriter(output_dir)
    dropped = drop_unfinished(output_dir)
    if dropped:
        progress(f"resuming: dropped {dropped} rows of unfinished runs")
    return writer, completed_runs(output_dir)


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


def read_results(output_dir: str | Path) -> list[dict[str, object]]:
    """Rows of ``results.csv`` with numbers parsed (empty cells become None)."""
    path = Path(output_dir) / RESULTS_FILE
    if not path.exists():
        raise FileNotFoundError(f"no {RESULTS_FILE} in {output_dir}; expected the output directory of a run")
    rows = []
    with path.open(newline="") as fh:
        for raw in csv.DictReader(fh):
            row: dict[str, object] = dict(raw)
            for key in INT_COLUMNS:
                row[key] = int(raw[key]) if raw.get(key) not in (None, "") else None
            for key in FLOAT_COLUMNS:
                row[key] = float(raw[key]) if raw.get(key) not in (None, "") else None
            for key in JSON_COLUMNS:
                row[key] = json.loads(raw[key]) if raw.get(key) not in (None, "") else None
            rows.append(row)
    return rows


def completed_runs(output_dir: str | Path) -> set[tuple[str, str, int]]:
    """(problem, method, seed) triples whose final row is in the table (for resuming)."""
    path = Path(output_dir) / RESULTS_FILE
    if not path.exists():
        return set()
    return {(str(r["problem"]), str(r["method"]), int(r["seed"])) for r in read_results(output_dir) if r["final"] == 1}


def drop_unfinished(output_dir: str | Path) -> int:
    """Remove the rows of runs that never wrote a final row (a killed run), so a resumed run
    starts them cleanly; returns how many rows were dropped."""
    path = Path(output_dir) / RESULTS_FILE
    if not path.exists():
        return 0
    done = completed_runs(output_dir)
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    keep = [r for r in rows if (r["problem"], r["method"], int(r["seed"])) in done]
    if len(keep) != len(rows):
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS)
            writer.writeheader()
            writer.writerows(keep)
        tmp.replace(path)
    return len(rows) - len(keep)
