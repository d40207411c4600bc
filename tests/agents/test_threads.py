"""Thread settings for training processes: one thread per CPU given, never beyond the usable cores."""

from __future__ import annotations

import os
import re

import pytest
import torch

from codesign_gym.agents.threads import THREAD_VARIABLES, limit_threads, thread_count, thread_environment, usable_cores


def test_thread_count_follows_the_cpus_given_within_the_usable_cores():
    assert thread_count() == 1 and thread_count(None) == 1
    assert thread_count(0.5) == 1  # a fractional Ray reservation still runs one thread
    assert thread_count(10_000) == usable_cores()
    assert thread_environment(1) == {name: "1" for name in THREAD_VARIABLES}


@pytest.mark.parametrize("cores", [0, -1, True, "2", float("nan")])
def test_thread_count_refuses_what_is_not_a_cpu_count(cores):
    with pytest.raises(ValueError, match=re.escape(f"cores={cores!r}; expected a positive number of CPUs")):
        thread_count(cores)


def test_limit_threads_sizes_torch_and_leaves_set_variables_alone(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    try:
        assert limit_threads(1) == 1 and torch.get_num_threads() == 1
        assert os.environ["OMP_NUM_THREADS"] == "7" and os.environ["MKL_NUM_THREADS"] == "1"
    finally:
        torch.set_num_threads(before)


def test_rllib_env_runners_get_one_thread_per_cpu():
    from codesign_gym.agents.rllib.run_options import RLlibOptions
    from codesign_gym.agents.rllib.training import build_algorithm_config

    config = build_algorithm_config("ppo", {"workload": "cfx/alexnet"}, 0, module="mlp", rllib=RLlibOptions(num_cpus_per_env_runner=2))
    expected = str(min(2, usable_cores()))
    assert all(config.extra_python_environs_for_worker[name] == expected for name in THREAD_VARIABLES)
