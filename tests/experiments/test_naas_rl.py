"""REINFORCE through RLlib on codesign/NASAccelerator-v0, as `run naas --methods reinforce` runs it."""

from __future__ import annotations

import json

import pytest

ray = pytest.importorskip("ray")

from codesign_gym.experiments.naas import NaasConfig, read_archive, run_experiment  # noqa: E402
from codesign_gym.experiments.results import read_results  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def embedded_ray():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_reinforce_run_archives_every_episode(tmp_path):
    # the network-only ablation: every episode is a table look-up, so the test stays quick
    config = NaasConfig(budget=32, seeds=1, methods=(), ablations=("network",), ablation_methods=("reinforce",))
    run_experiment(config, tmp_path, progress=lambda _: None)
    final = [r for r in read_results(tmp_path) if r["final"] == 1 and r["method"] == "reinforce"]
    assert len(final) == 1 and final[0]["evals"] >= 32
    archive = read_archive(tmp_path / "archives" / "network-reinforce-0.csv")
    assert len(archive["accuracy"]) >= 32 and archive["valid"].all()
    if final[0]["feasible"]:
        cfg = json.loads(final[0]["best_config"])
        assert cfg["accuracy"] >= 93.91 and cfg["edp_reduction"] > 0
