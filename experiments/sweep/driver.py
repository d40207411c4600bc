"""The sweep driver (``codesign-gym sweep``): many trials (problems x methods x seeds x hyperparameters) on a Ray
cluster through Ray Tune, into one results directory that survives lost nodes and killed drivers.

    codesign-gym sweep examples/sweeps/tiny.yaml --address auto --output-dir /shared/results/tiny
    codesign-gym sweep --resume /shared/results/tiny           # finish a killed sweep
    codesign-gym report /shared/results/tiny                   # summary.md and plots

Results directory (on a real cluster it must be storage every node mounts at the same path:
trials write their own files there, and Ray does not copy trial files to the head node)::

    sweep.yaml        the sweep file, as given (a resume reads it back, so trials are the same)
    trials/<key>/     one directory per trial (rows, attempts, RLlib checkpoint, done.json),
                      see :mod:`codesign_gym.experiments.sweep.trials`
    results.csv       every complete trial's rows, gathered by the driver only (never appended
                      to by two processes), rebuilt from the trial files at every start
    trials.csv        one row per trial: status, node, attempts, best objective
    tune/run-<n>/     Ray Tune's own experiment state and trial logs of each (re)start
    summary.md, convergence_*.png   as for a single run (``codesign-gym report``)

Fault tolerance: a trial whose worker or node dies is retried by Tune up to ``max_failures``
times (RL trials resume from their last RLlib checkpoint; RLlib also restarts failed env
runners). A killed driver leaves every complete trial's ``done.json``; ``--resume`` runs only
the trials without one (completed-trial bookkeeping of our own rather than
``Tuner.restore``, whose periodic experiment snapshot can miss a trial that completed just
before the kill and would run it again).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import json
from pathlib import Path
from typing import Callable

from codesign_gym.experiments.runner.results import RESULT_COLUMNS, RESULTS_FILE
from codesign_gym.experiments.sweep.spec import SweepSpec, load_sweep
from codesign_gym.experiments.sweep.trials import read_attempts, read_done, read_rows, sweep_trainable, trial_dir

SWEEP_FILE = "sweep.yaml"
TRIALS_INDEX = "trials.csv"
TUNE_DIR = "tune"
INDEX_COLUMNS = ("key", "experiment", "problem", "method", "seed", "params", "status", "attempts", "best_objective", "evals",
                 "attempt_s", "node_id", "node_resources")


@dataclasses.dataclass
class SweepOutcome:
    """What a sweep invocation did: trials in the sweep, complete before it started, completed
    now, and the keys of trials that did not complete (failed after their retries, or interrupted)."""

    results_dir: Path
    total: int
    complete_before: int
    completed_now: int
    incomplete: list[str]

    @property
    def complete(self) -> bool:
        return self.complete_before + self.completed_now == self.total


def is_sweep_dir(results_dir: str | Path) -> bool:
    return (Path(results_dir) / SWEEP_FILE).is_file()


def prepare_results_dir(sweep_file: str | Path | None, results_dir: str | Path | None, overrides: dict | None = None) -> tuple[SweepSpec, Path]:
    """Check the sweep and set up its results directory; ``sweep_file`` None resumes ``results_dir``.

    A new sweep copies its file into the directory (default ``results/sweep-<name>-<timestamp>``);
    an existing directory is resumed if its ``sweep.yaml`` is the same file and refused otherwise.

    Raises:
        ValueError / FileNotFoundError: a bad sweep file or a directory that holds another sweep.
    """
    if sweep_file is None:
        if results_dir is None or not is_sweep_dir(results_dir):
            raise ValueError(f"--resume {results_dir!r}: expected a sweep's results directory (one that holds {SWEEP_FILE})")
        results_dir = Path(results_dir)
        return load_sweep(results_dir / SWEEP_FILE, overrides), results_dir
    spec = load_sweep(sweep_file, overrides)  # every check before anything is written
    if results_dir is None:
        results_dir = Path("results") / f"sweep-{spec.name}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    results_dir = Path(results_dir)
    recorded = results_dir / SWEEP_FILE
    text = Path(sweep_file).read_text()
    if recorded.exists():
        if recorded.read_text() != text:
            raise ValueError(f"{results_dir} holds another sweep ({recorded} differs from {sweep_file}); resume it with "
                             f"`codesign-gym sweep --resume {results_dir}` or choose a new --output-dir")
    else:
        results_dir.mkdir(parents=True, exist_ok=True)
        recorded.write_text(text)
    return spec, results_dir


def gather_results(spec: SweepSpec, results_dir: str | Path) -> int:
    """Rebuild ``results.csv`` from the rows of every complete trial (in the sweep's trial
    order; written to a temporary file and renamed); returns the number of complete trials."""
    results_dir = Path(results_dir)
    tmp = results_dir / (RESULTS_FILE + ".tmp")
    count = 0
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS)
        writer.writeheader()
        for trial in spec.trials:
            if read_done(results_dir, trial.key) is not None:
                writer.writerows(_trial_rows(results_dir, trial.key))
                count += 1
    tmp.replace(results_dir / RESULTS_FILE)
    return count


def _trial_rows(results_dir: Path, key: str) -> list[dict[str, str]]:
    return read_rows(trial_dir(results_dir, key) / RESULTS_FILE)


def _append_trial(results_dir: Path, key: str) -> None:
    """Append one newly complete trial's rows to ``results.csv`` (the driver is its only writer)."""
    path = results_dir / RESULTS_FILE
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerows(_trial_rows(results_dir, key))


def write_trials_index(spec: SweepSpec, results_dir: str | Path) -> Path:
    """``trials.csv``: one row per trial with its status, attempts, node and best objective."""
    results_dir = Path(results_dir)
    path = results_dir / TRIALS_INDEX
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=INDEX_COLUMNS)
        writer.writeheader()
        for t in spec.trials:
            done = read_done(results_dir, t.key) or {}
            attempts = read_attempts(results_dir, t.key)
            last = attempts[-1] if attempts else {}
            writer.writerow({
                "key": t.key, "experiment": t.experiment, "problem": done.get("problem", json.dumps(t.problem, sort_keys=True)),
                "method": t.label, "seed": t.seed, "params": json.dumps(t.params, sort_keys=True),
                "status": "complete" if done else ("started" if attempts else "pending"), "attempts": len(attempts),
                "best_objective": "" if done.get("best_objective") is None else done["best_objective"], "evals": done.get("evals", ""),
                "attempt_s": done.get("attempt_s", ""), "node_id": done.get("node_id", last.get("node_id", "")) or "",
                "node_resources": " ".join(done.get("node_resources", last.get("node_resources", [])) or []),
            })
    return path


def refresh_sweep_results(results_dir: str | Path) -> bool:
    """If ``results_dir`` is a sweep's, gather its complete trials into ``results.csv`` and
    rewrite ``trials.csv`` (e.g. before ``codesign-gym report``); returns whether it was one."""
    if not is_sweep_dir(results_dir):
        return False
    spec = load_sweep(Path(results_dir) / SWEEP_FILE, check=False)
    gather_results(spec, results_dir)
    write_trials_index(spec, results_dir)
    return True


def _trial_name(trial) -> str:
    return trial.config["trial"]["key"]


def _progress_callback(*args, **kwargs):
    """A Tune callback that appends each newly complete trial's rows to ``results.csv`` and
    prints one line per completion, retry and failure (defined here so that ray.tune is
    imported only when a sweep runs)."""
    from ray.tune import Callback

    class ProgressCallback(Callback):
        def __init__(self, results_dir: Path, total: int, done: int, progress: Callable[[str], None]):
            self.results_dir, self.total, self.done, self.progress = results_dir, total, done, progress
            self.gathered: set[str] = set()

        def on_trial_complete(self, iteration, trials, trial, **info):
            key = _trial_name(trial)
            record = read_done(self.results_dir, key)
            if record is None or key in self.gathered:
                return
            self.gathered.add(key)
            _append_trial(self.results_dir, key)
            self.done += 1
            best = record.get("best_objective")
            self.progress(f"  [{self.done}/{self.total}] {key}: best {best if best is None else f'{best:.6g}'}, "
                          f"{record.get('evals')} evals, attempt {record.get('attempts')}, node {str(record.get('node_id'))[:8]} "
                          f"{' '.join(record.get('node_resources') or [])}")

        def on_trial_recover(self, iteration, trials, trial, **info):
            self.progress(f"  {_trial_name(trial)}: failed ({type(info.get('exception')).__name__ if info.get('exception') else 'error'}), retrying")

        def on_trial_error(self, iteration, trials, trial, **info):
            self.progress(f"  {_trial_name(trial)}: failed after its retries: {info.get('exception')!r}"[:400])

    return ProgressCallback(*args, **kwargs)


def run_sweep(spec: SweepSpec, results_dir: str | Path, address: str | None = None, num_cpus: int | None = None,
              progress: Callable[[str], None] = print) -> SweepOutcome:
    """Run every trial of ``spec`` that has not completed in ``results_dir`` through Ray Tune on
    the cluster at ``address`` (default ``$RAY_ADDRESS``, else an embedded Ray with ``num_cpus``),
    gather the results and render the report."""
    from codesign_gym.experiments.runner.ray_session import ray_session
    from codesign_gym.experiments.runner.report import render_report

    results_dir = Path(results_dir).resolve()
    complete_before = gather_results(spec, results_dir)
    pending = [t for t in spec.trials if read_done(results_dir, t.key) is None]
    progress(f"sweep {spec.name}: {len(spec.trials)} trials, {complete_before} complete, {len(pending)} to run; results in {results_dir}")
    if pending:
        with ray_session(address, num_cpus=num_cpus) as where:
            progress(f"trials run on {where}")
            _warn_if_unplaceable(spec, pending, progress)
            callback = _progress_callback(results_dir, len(spec.trials), complete_before, progress)
            _tuner(spec, pending, results_dir, callback).fit()
    complete = gather_results(spec, results_dir)  # authoritative: rebuilt from the trial files
    completed_now = complete - complete_before
    write_trials_index(spec, results_dir)
    if complete:
        render_report(results_dir)
    outcome = SweepOutcome(results_dir, len(spec.trials), complete_before, completed_now,
                           [t.key for t in spec.trials if read_done(results_dir, t.key) is None])
    if not outcome.complete:
        progress(f"{len(outcome.incomplete)} trial(s) did not complete; finish them with: codesign-gym sweep --resume {results_dir}")
    return outcome


def _tuner(spec: SweepSpec, pending, results_dir: Path, callback):
    from ray import tune

    runs = results_dir / TUNE_DIR
    n = 1 + sum(1 for p in runs.glob("run-*")) if runs.exists() else 1
    # one grid entry per trial; its placement-group bundles ride inside it (_trial_resources reads them)
    param_space = {
        "trial": tune.grid_search([{**t.to_dict(), "bundles": spec.trial_bundles(t)} for t in pending]),
        "results_dir": str(results_dir),
        "execution": dataclasses.asdict(spec.execution),
    }
    return tune.Tuner(
        tune.with_resources(_trainable, _trial_resources),
        param_space=param_space,
        tune_config=tune.TuneConfig(max_concurrent_trials=spec.max_concurrent_trials or None, reuse_actors=True,
                                    trial_name_creator=_trial_name, trial_dirname_creator=_trial_name),
        run_config=tune.RunConfig(name=f"run-{n}", storage_path=str(runs), failure_config=tune.FailureConfig(max_failures=spec.max_failures),
                                  callbacks=[callback], verbose=0),
    )


def _trial_resources(config: dict):
    """The placement group of one trial: the bundles its grid entry carries."""
    from ray.tune import PlacementGroupFactory

    return PlacementGroupFactory(config["trial"]["bundles"], strategy="PACK")


def _trainable(config: dict) -> None:
    trial = {k: v for k, v in config["trial"].items() if k != "bundles"}
    sweep_trainable({**config, "trial": trial})


def _warn_if_unplaceable(spec: SweepSpec, pending, progress: Callable[[str], None]) -> None:
    """Say so when no node of the cluster could host a trial's first bundle (it would wait
    forever unless an autoscaler adds such a node)."""
    import ray

    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    for trial in pending:
        head = spec.trial_bundles(trial)[0]
        if not any(all(res.get(k, 0) >= v for k, v in head.items()) for res in nodes):
            progress(f"warning: no node of the cluster has {head} for trial {trial.key}; it waits until a node with them joins")
            return
