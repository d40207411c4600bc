"""One sweep trial: a one-method, one-seed run of an experiment through the one experiment
runner (:func:`~codesign_gym.experiments.runner.run.run_experiment`), inside a Ray Tune trial on
whichever node Tune placed it.

Everything a trial writes lives in ``<results_dir>/trials/<key>/`` (the runner's output directory):

- ``results.csv``: its rows, appended as the run goes (one writer per file: no concurrent
  appends), with ``run_config.json`` and, for experiments that keep them, ``archives/``;
- ``attempts.jsonl``: one line per start (node, process, time), so retries are visible;
- ``rllib_checkpoint/``: the RLlib checkpoint of an RL trial (resumed from on a retry or resume;
  the rows written before it are kept);
- ``done.json``: written last, atomically; a trial with it is complete and never runs again.

The driver (:mod:`codesign_gym.experiments.sweep.driver`) gathers the files of complete trials
into ``<results_dir>/results.csv``.
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

from codesign_gym.agents.rllib.run_options import checkpoint_progress
from codesign_gym.experiments.runner.results import RESULT_COLUMNS, RESULTS_FILE, RUN_CONFIG_FILE
from codesign_gym.experiments.sweep.spec import CHECKPOINT_DIR, Execution, TrialSpec, trial_experiment_spec

TRIALS_DIR = "trials"
DONE_FILE = "done.json"
ATTEMPTS_FILE = "attempts.jsonl"


def trial_dir(results_dir: str | Path, key: str) -> Path:
    """``<results_dir>/trials/<key>``: where trial ``key`` writes."""
    return Path(results_dir) / TRIALS_DIR / key


def read_done(results_dir: str | Path, key: str) -> dict | None:
    """The completion record of trial ``key``, or None if it has not completed."""
    path = trial_dir(results_dir, key) / DONE_FILE
    return json.loads(path.read_text()) if path.exists() else None


def read_attempts(results_dir: str | Path, key: str) -> list[dict]:
    """One record per start of trial ``key`` (node id, node's custom resources, pid, time)."""
    path = trial_dir(results_dir, key) / ATTEMPTS_FILE
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a results file as strings (none if it does not exist)."""
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def _node() -> dict[str, Any]:
    """Where this process runs: Ray node id and the node's custom resources (placement tags)."""
    import ray

    if not ray.is_initialized():
        return {"node_id": None, "node_resources": []}
    node_id = ray.get_runtime_context().get_node_id()
    standard = ("CPU", "GPU", "memory", "object_store_memory")
    tags = []
    for node in ray.nodes():
        if node.get("NodeID") == node_id:
            tags = sorted(k for k in node.get("Resources", {}) if k not in standard and not k.startswith(("node:", "accelerator_type:")))
    return {"node_id": node_id, "node_resources": tags}


def _checkpoint_evals(directory: Path) -> int | None:
    """Evaluations the trial's latest RLlib checkpoint holds (the runner keeps one per method x
    seed under ``rllib_checkpoint/``), or None without one."""
    root = directory / CHECKPOINT_DIR
    if not root.is_dir():
        return None
    records = [checkpoint_progress(p) for p in root.iterdir() if p.is_dir() and not p.name.endswith((".tmp", ".old"))]
    evals = [int(r.get("evals", r.get("episodes", 0))) for r in records if r is not None]
    return max(evals) if evals else None


def _rows_before_checkpoint(directory: Path) -> tuple[list[dict[str, str]], int | None]:
    """Rows of an interrupted attempt that an RL run resuming from its checkpoint does not redo
    (those before the checkpoint's evaluations), and those evaluations (None: no checkpoint)."""
    evals = _checkpoint_evals(directory)
    rows = read_rows(directory / RESULTS_FILE)
    if evals is None or any(r.get("final") == "1" for r in rows):  # no checkpoint, or the run finished: nothing is redone
        return [], evals
    return [r for r in rows if r.get("evals") not in ("", None) and int(r["evals"]) < evals], evals


def _prepend_rows(path: Path, rows: list[dict[str, str]]) -> None:
    """Put ``rows`` before the rows of ``path`` (atomically)."""
    if not rows:
        return
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows + read_rows(path))
    tmp.replace(path)


def run_trial(trial: TrialSpec, results_dir: str | Path, execution: Execution = Execution(),
              progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Run one trial into ``<results_dir>/trials/<key>/`` unless it completed before; returns its
    completion record (``skipped`` True when it had completed already).

    An attempt after an interrupted one starts the run over, except an RL run with a checkpoint,
    which resumes from it (its rows before the checkpoint are kept).

    Raises:
        RuntimeError: the run ended without a final row (the method skipped the problem).
    """
    from codesign_gym.experiments.runner.run import run_experiment

    done = read_done(results_dir, trial.key)
    if done is not None:
        return {**done, "skipped": True}
    directory = trial_dir(results_dir, trial.key)
    directory.mkdir(parents=True, exist_ok=True)
    node = _node()
    attempt = {"attempt": len(read_attempts(results_dir, trial.key)) + 1, **node, "pid": os.getpid(), "started": time.time()}
    with (directory / ATTEMPTS_FILE).open("a") as fh:
        fh.write(json.dumps(attempt) + "\n")
    kept, resumed = _rows_before_checkpoint(directory)
    # the trial's key is its identity: settings that may change between attempts (eval_tasks) must not block a retry,
    # so this attempt's settings replace the recorded ones (a finished run of an earlier attempt is then kept, not redone)
    spec = trial_experiment_spec(trial, directory, execution)
    _write_json_atomic(directory / RUN_CONFIG_FILE, json.loads(json.dumps(spec.settings())))
    t0 = time.perf_counter()
    # no directory lock: Tune runs a trial once at a time, and a retry on another node must not be refused by the lock
    # a lost node left behind
    run_experiment(spec, progress=progress, lock=False)
    _prepend_rows(directory / RESULTS_FILE, kept)
    finals = [r for r in read_rows(directory / RESULTS_FILE) if r.get("final") == "1"]
    if not finals:
        raise RuntimeError(f"trial {trial.key} ({trial.label} on {trial.problem}) wrote no final row; expected one run of one seed")
    last = finals[-1]
    record = {
        "key": trial.key, "experiment": trial.experiment, "problem": last["problem"], "method": trial.label, "seed": trial.seed,
        "best_objective": float(last["best_objective"]) if last["best_objective"] not in ("", None) else None,
        "objective_unit": last["objective_unit"], "evals": int(last["evals"]), "attempt_s": round(time.perf_counter() - t0, 3),
        "attempts": attempt["attempt"], "resumed_from_evals": resumed, **node, "started": attempt["started"], "finished": time.time(),
    }
    _write_json_atomic(directory / DONE_FILE, record)
    return {**record, "skipped": False}


def sweep_trainable(config: dict) -> None:
    """The Ray Tune function trainable of every sweep trial (``config``: ``trial``, ``results_dir``,
    ``execution``); reports the trial's best objective and evaluations once, at the end."""
    from ray import tune

    execution = Execution(**config.get("execution", {}))
    record = run_trial(TrialSpec.from_dict(config["trial"]), config["results_dir"], execution)
    tune.report({"best_objective": record["best_objective"] if record["best_objective"] is not None else float("nan"),
                 "evals": record["evals"] or 0, "skipped": int(record["skipped"])})
