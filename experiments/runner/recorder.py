"""One recorder for every experiment: the checkpoint rule, the row schema and the archives.

:meth:`Recorder.run` runs one method x seed on one problem and writes, as it goes, the rows of
:data:`~codesign_gym.experiments.runner.results.RESULT_COLUMNS`:

- a row at every improvement of the best objective (so "evaluations to within X% of the
  optimum" are exact) and at least one per 1% of the budget (:class:`CheckpointRule`);
- the final row (``final=1``, with ``best_config``) when the run ends.

With ``archive=True`` every evaluation a method makes through the problem is kept and written
to ``archives/<problem>/<method>-seed<k>.csv`` (design, fitness, objective, feasible and every
scalar metric); a method's ``Trace.extras`` go to ``...-seed<k>.json``. Reports read both.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from codesign_gym.agents.method import Method, Trace, TracePoint
from codesign_gym.envs.problem import Evaluation, KnownPoint, Problem, plain
from codesign_gym.experiments.runner.results import open_results, pending_seeds

ARCHIVES_DIR = "archives"
#: Seconds between progress lines of a running method.
PROGRESS_EVERY_S = 10.0


class CheckpointRule:
    """Which progress points become rows: every improvement of the best objective and at least
    one per 1% of the budget."""

    def __init__(self, budget: int):
        self.step = max(int(budget) // 100, 1)
        self.next_grid = self.step
        self.best = float("nan")

    def wants(self, evals: int, best: float) -> bool:
        improved = math.isfinite(best) and not (best >= self.best)  # NaN-safe: the first finite value counts
        due = evals >= self.next_grid
        if improved:
            self.best = best
        if due:
            self.next_grid = (evals // self.step + 1) * self.step
        return bool(improved or due)


def gap_to_optimum(best: float, optimum: KnownPoint | None, direction: str) -> float:
    """``best / optimum - 1`` (min) or ``1 - best / optimum`` (max); NaN without both."""
    if optimum is None or not math.isfinite(best) or not optimum.objective:
        return float("nan")
    ratio = best / optimum.objective
    return ratio - 1.0 if direction == "min" else 1.0 - ratio


def result_row(experiment: str, problem: Problem, method: str, seed: int, point: TracePoint, known: dict[str, KnownPoint | None],
               final: bool) -> dict[str, Any]:
    """One row of the results table (see :mod:`codesign_gym.experiments.runner.results`)."""
    best = point.best_objective if point.feasible and math.isfinite(point.best_objective) else float("nan")
    ref = known.get("reference")
    design = point.best_design
    return {
        "experiment": experiment, "problem": problem.label, "method": method, "seed": seed, "evals": point.evals,
        "wall_s": round(point.wall_s, 4), "best_objective": best, "objective_name": problem.objective.name,
        "objective_unit": problem.objective.unit, "direction": problem.objective.direction, "best_fitness": point.best_fitness,
        "feasible": bool(math.isfinite(best)), "gap_to_opt": gap_to_optimum(best, known.get("optimum"), problem.objective.direction),
        "ratio_to_ref": best / ref.objective if ref is not None and ref.objective and math.isfinite(best) else float("nan"),
        "best_design": None if design is None else np.asarray(design).tolist(),
        "best_config": (plain(problem.to_config(design)) if design is not None else None) if final else "",
        "final": 1 if final else 0,
    }


class ArchivingProblem:
    """``problem`` that keeps every batch it evaluates (designs and evaluation) besides pricing it;
    every other attribute is the wrapped problem's."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self.batches: list[tuple[np.ndarray, Evaluation]] = []

    def evaluate(self, designs: np.ndarray) -> Evaluation:
        evaluation = self.problem.evaluate(designs)
        self.batches.append((np.asarray(designs, dtype=np.int64).copy(), evaluation))
        return evaluation

    def __getattr__(self, name: str) -> Any:
        if name == "problem":
            raise AttributeError(name)
        return getattr(self.problem, name)


def slug(text: str) -> str:
    """``text`` as a file-name-safe string."""
    return re.sub(r"[^A-Za-z0-9_.=+-]+", "_", text).strip("_") or "problem"


def archive_path(output_dir: str | Path, problem_label: str, method: str, seed: int, suffix: str = ".csv") -> Path:
    """Where the archive of one run lives."""
    return Path(output_dir) / ARCHIVES_DIR / slug(problem_label) / f"{slug(method)}-seed{seed}{suffix}"


def write_archive(path: Path, batches: list[tuple[np.ndarray, Evaluation]]) -> None:
    """Every evaluated design of a run, one CSV row each: ``design`` (JSON), ``fitness``,
    ``objective``, ``feasible``, ``overshoot`` and each scalar metric. Written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    scalar = [k for k, v in batches[0][1].metrics.items() if np.ndim(v) == 1] if batches else []
    with tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["design", "fitness", "objective", "feasible", "overshoot", *scalar])
        for designs, ev in batches:
            for i in range(len(ev)):
                values = [ev.fitness[i], ev.objective[i], int(bool(ev.feasible[i])), ev.overshoot[i], *(ev.metrics[k][i] for k in scalar)]
                writer.writerow([json.dumps(designs[i].tolist())] + [_cell(v) for v in values])
    os.replace(tmp, path)


def _cell(value: Any) -> Any:
    value = plain(value)
    return "" if value is None else int(value) if isinstance(value, bool) else value


def read_archive(path: str | Path) -> dict[str, np.ndarray]:
    """An archive as arrays: ``design`` (M, D) int64 and one (M,) float array per other column."""
    with Path(path).open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return {}
    out: dict[str, np.ndarray] = {"design": np.array([json.loads(r["design"]) for r in rows], dtype=np.int64)}
    for key in rows[0]:
        if key != "design":
            out[key] = np.array([float(r[key]) if r[key] != "" else np.nan for r in rows])
    return out


class Recorder:
    """Writes one experiment's results into ``output_dir`` (resuming what is there).

    The directory is opened with :func:`~codesign_gym.experiments.runner.results.open_results`:
    it is locked (one process at a time: a second one is refused, naming the holder) until
    :meth:`close`; use the recorder as a context manager so the lock goes on any exit.

    Args:
        output_dir: the run's directory.
        experiment: the experiment's name (the ``experiment`` column).
        settings: what names the run (checked against a resumed directory's ``run_config.json``).
        archive: keep every evaluation of every run (see the module docstring).
        progress: where progress lines go.
        lock: take the directory's lock (False only where the caller guarantees one writer).
    """

    def __init__(self, output_dir: str | Path, experiment: str, settings: dict, archive: bool = False,
                 progress: Callable[[str], None] = print, lock: bool = True):
        self.output_dir = Path(output_dir)
        self.experiment, self.archive, self.progress = experiment, archive, progress
        self.writer, self.done = open_results(self.output_dir, settings, progress, lock=lock)
        self._known: dict[int, dict[str, KnownPoint | None]] = {}

    def close(self) -> None:
        """Close the results file and release the directory's lock (safe to call twice)."""
        self.writer.close()

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def known(self, problem: Problem) -> dict[str, KnownPoint | None]:
        """The problem's ``optimum`` and ``reference`` (each computed once per problem)."""
        key = id(problem)
        if key not in self._known:
            self._known[key] = {"optimum": problem.optimum(), "reference": problem.reference()}
        return self._known[key]

    def pending(self, problem: Problem, method: str, seeds) -> list[int]:
        """Seeds of ``(problem, method)`` not finished yet."""
        return pending_seeds(problem.label, method, seeds, self.done, self.progress)

    def run(self, problem: Problem, method: Method, seed: int, budget: int, label: str | None = None) -> Trace:
        """Run ``method`` on ``problem`` with ``seed`` for ``budget`` evaluations, writing rows
        as it goes (see the module docstring); ``label`` names it in the results (default its name)."""
        label = label or method.name
        known = self.known(problem)
        rule = CheckpointRule(budget)
        target = ArchivingProblem(problem) if self.archive else problem
        shown = {"at": time.perf_counter()}

        def on_progress(trace: Trace) -> None:
            point = trace.last
            best = point.best_objective if point.feasible else float("nan")
            if time.perf_counter() - shown["at"] >= PROGRESS_EVERY_S:
                shown["at"] = time.perf_counter()
                self.progress(f"  {label} seed {seed}: {point.evals}/{budget} evaluations, best {best:.6g}")
            if rule.wants(point.evals, best) and point.evals < budget:
                self.writer.write([result_row(self.experiment, problem, label, seed, point, known, final=False)])

        trace = method.run(target, budget, seed, on_progress)
        if not trace.points:
            raise RuntimeError(f"{label} seed {seed} on {problem.label} returned an empty trace; expected at least one point")
        if self.archive:
            write_archive(archive_path(self.output_dir, problem.label, label, seed), target.batches)
        if trace.extras:
            path = archive_path(self.output_dir, problem.label, label, seed, ".json")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(plain(trace.extras)))
        self.writer.write([result_row(self.experiment, problem, label, seed, trace.last, known, final=True)])
        self.done.add((problem.label, label, seed))
        return trace
