"""Sweeps on a real two-node Ray cluster on loopback: a lost worker node and a killed driver.

The cluster (head + worker, each 1 CPU and one ``slot``; the worker also ``nodeB``) is started
with ``ray start`` by :class:`~codesign_gym.experiments.sweep.cluster.LocalCluster`, which ends only
the processes it started (by session id). Trials reserve a ``slot``, so each node runs one at a
time and trials land on every node. The sweep driver is a separate process (``python -m
codesign_gym.experiments.cli sweep ... --address 127.0.0.1:PORT``), so it can be killed.
Waiting loops have a deadline only to turn a hang into a failure; nothing asserts on time.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("ray")
if not sys.platform.startswith("linux"):
    pytest.skip("LocalCluster finds a node's processes through /proc", allow_module_level=True)

from codesign_gym.experiments.sweep.cluster import LocalCluster, kill_session, session_pids  # noqa: E402
from codesign_gym.experiments.sweep.trials import read_attempts, read_done  # noqa: E402

HANG_GUARD_S = 240  # a stuck cluster fails the test instead of blocking CI

SWEEP = """
name: cluster-test
problems:
  - {experiment: confuciux, model: cfx/mobilenet_v2, dataflow: dla, objective: latency, constraint: "area:0.5"}
methods: [annealing]
seeds: %d
budget: %d
resources: {cpus_per_trial: 1, custom: {slot: 1}}
max_failures: 3
"""


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster() as c:
        c.start_head(num_cpus=1, resources={"slot": 1})
        c.add_node("b", num_cpus=1, resources={"slot": 1, "nodeB": 1})
        sessions = [n.session for n in c.nodes.values()]
        yield c
    assert all(not session_pids(s) for s in sessions)  # every process the cluster started is gone


def _driver(cluster: LocalCluster, args: list[str], log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "codesign_gym.experiments.cli", "sweep", *args, "--address", cluster.address]
    with log.open("a") as fh:
        return subprocess.Popen(cmd, env=cluster.driver_env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


def _wait(proc: subprocess.Popen, log: Path) -> int:
    try:
        return proc.wait(timeout=HANG_GUARD_S)
    except subprocess.TimeoutExpired:
        kill_session(proc.pid)
        pytest.fail(f"sweep driver hung; log:\n{log.read_text()[-3000:]}")


def _trial_keys(results: Path) -> list[str]:
    return sorted(p.name for p in (results / "trials").iterdir()) if (results / "trials").exists() else []


def _check_table(results: Path, trials: int) -> None:
    """results.csv holds every trial exactly once: one final row per (problem, method, seed), and
    exactly the rows of the trial's own file."""
    with (results / "results.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    finals = Counter((r["problem"], r["method"], r["seed"]) for r in rows if r["final"] == "1")
    assert len(finals) == trials and set(finals.values()) == {1}
    per_trial = 0
    for key in _trial_keys(results):
        with (results / "trials" / key / "results.csv").open(newline="") as fh:
            per_trial += len(list(csv.DictReader(fh)))
    assert len(rows) == per_trial


def test_lost_worker_node_keeps_finished_trials_and_retries_the_running_one(cluster, tmp_path):
    cluster.add_node("c", num_cpus=1, resources={"slot": 1, "nodeC": 1})
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(SWEEP % (6, 10000))
    results, log = tmp_path / "results", tmp_path / "driver.log"
    driver = _driver(cluster, [str(sweep), "--output-dir", str(results)], log)
    victim, kill_time, done_before = None, None, {}
    deadline = time.monotonic() + HANG_GUARD_S
    while driver.poll() is None and victim is None and time.monotonic() < deadline:
        keys = _trial_keys(results)
        done = {k: read_done(results, k) for k in keys if read_done(results, k) is not None}
        running_on_c = [k for k in keys if k not in done and any("nodeC" in a["node_resources"] for a in read_attempts(results, k))]
        if done and running_on_c:  # a trial finished somewhere and one is running on node c: lose node c now
            victim, done_before = running_on_c[0], done
            kill_time = time.time()
            cluster.kill_node("c")
        time.sleep(0.05)
    assert victim is not None, f"no trial ran on node c; log:\n{log.read_text()[-3000:]}"
    assert _wait(driver, log) == 0, log.read_text()[-3000:]

    keys = _trial_keys(results)
    assert len(keys) == 6 and all(read_done(results, k) for k in keys)  # the sweep completed
    for key, record in done_before.items():  # finished trials kept, never run again
        assert read_done(results, key) == record and len(read_attempts(results, key)) == 1
    record = read_done(results, victim)
    assert record["attempts"] >= 2 or record["finished"] <= kill_time  # retried elsewhere (unless it had just finished)
    if record["attempts"] >= 2:
        assert "nodeC" not in record["node_resources"]
    nodes = {tuple(a["node_resources"]) for k in keys for a in read_attempts(results, k)}
    assert len(nodes) >= 2  # trials ran on more than one node
    _check_table(results, 6)
    table = list(csv.DictReader((results / "trials.csv").open()))
    assert {r["status"] for r in table} == {"complete"}


def test_killed_driver_then_resume_runs_no_completed_trial_again(cluster, tmp_path):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(SWEEP % (6, 10000))
    results, log = tmp_path / "results", tmp_path / "driver.log"
    driver = _driver(cluster, [str(sweep), "--output-dir", str(results)], log)
    snapshot: dict[str, tuple[dict, int]] = {}
    deadline = time.monotonic() + HANG_GUARD_S
    while driver.poll() is None and time.monotonic() < deadline:
        done = [k for k in _trial_keys(results) if read_done(results, k) is not None]
        if len(done) >= 2:
            kill_session(driver.pid)  # the driver dies mid-sweep (SIGKILL: no clean-up of any kind)
            driver.wait()
            break
        time.sleep(0.05)
    snapshot = {k: (read_done(results, k), len(read_attempts(results, k))) for k in _trial_keys(results) if read_done(results, k)}
    assert 2 <= len(snapshot) < 6, f"expected a sweep killed half-way; log:\n{log.read_text()[-3000:]}"

    resumed = _driver(cluster, ["--resume", str(results)], log)
    assert _wait(resumed, log) == 0, log.read_text()[-3000:]
    keys = _trial_keys(results)
    assert len(keys) == 6 and all(read_done(results, k) for k in keys)
    for key, (record, attempts) in snapshot.items():  # no completed trial ran again
        assert read_done(results, key) == record
        assert len(read_attempts(results, key)) == attempts
    _check_table(results, 6)
