"""REINFORCE through RLlib on codesign/NASAccelerator-v0, as `run naas --methods reinforce` runs it
(RLlibMethod on the NAAS problem, every priced episode archived)."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray")

from codesign_gym.experiments.naas import NaasOptions  # noqa: E402
from codesign_gym.experiments.runner.recorder import archive_path, read_archive  # noqa: E402
from codesign_gym.experiments.runner.results import read_results  # noqa: E402
from codesign_gym.experiments.runner.run import run_experiment  # noqa: E402
from codesign_gym.experiments.runner.spec import ExperimentSpec  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def embedded_ray():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_reinforce_run_archives_every_episode(tmp_path):
    # the network-only search: every episode is a table look-up, so the test stays quick
    spec = ExperimentSpec("naas", NaasOptions(searches=("network",)), ("reinforce",), 32, (0,), tmp_path, report=False)
    run_experiment(spec, progress=lambda _: None)
    final = [r for r in read_results(tmp_path) if r["final"] == 1]
    assert len(final) == 1 and final[0]["method"] == "reinforce" and final[0]["evals"] >= 32
    archive = read_archive(archive_path(tmp_path, "eyeriss|cifar10|network", "reinforce", 0))
    assert len(archive["accuracy"]) == final[0]["evals"] and (archive["valid"] == 1).all()
    if final[0]["feasible"]:
        assert final[0]["best_config"]["hardware"] == "eyeriss" and final[0]["gap_to_opt"] >= 0
        assert final[0]["gap_to_opt"] == pytest.approx(final[0]["ratio_to_ref"] - 1)  # on cifar10 the optimum is the reference itself
