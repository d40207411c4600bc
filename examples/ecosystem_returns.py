"""Train other people's RL code on every codesign-gym id and print a markdown table of returns.

Usage (from the repository root)::

    .venv/bin/python examples/ecosystem_returns.py                       # SB3 PPO, SB3 A2C, MaskablePPO, RLlib PPO
    .venv/bin/python examples/ecosystem_returns.py --cleanrl-ppo /path/to/cleanrl/ppo.py \\
        --cleanrl-python /path/to/python-with-tensorboard                   # adds CleanRL's ppo.py (Discrete variants)
    .venv/bin/python examples/ecosystem_returns.py --ids codesign/PatchInference-Discrete-v0 --clients sb3_ppo

Each cell is ``first -> last (N)``: the mean episodic return of the first and of the last ~10%
of the N episodes that ended during training (at least one episode each side), for one run with
a fixed seed and a small budget of env steps (``--budget-episodes`` episodes' worth of steps,
clipped to ``[--min-steps, --max-steps]``). "—" marks a client that does not take the id's action
space. The clients, all on ``gym.make(id)`` / ``"codesign_gym.envs:<id>"`` with no wrapper code
of ours:

- ``cleanrl``: CleanRL's single-file ``ppo.py``, run unmodified in a subprocess with
  ``--env-id "codesign_gym.envs:<id>"`` (the ``module:id`` form makes gymnasium import this
  package). It needs ``tyro`` and ``tensorboard``; point ``--cleanrl-python`` at an interpreter
  that has them. Only ``Discrete`` action spaces (``ppo.py`` asserts so). ``ppo.py`` reads
  episode returns from ``infos["final_info"]``, which gymnasium >= 1.0's ``SyncVectorEnv``
  (NEXT_STEP autoreset) no longer fills, so here the returns are recorded beside it: the
  subprocess wraps ``RecordEpisodeStatistics.step`` (which ``ppo.py`` applies to every sub-env)
  to append each ended episode's ``info["episode"]`` to a file, then runs ``ppo.py`` with
  ``runpy``. The table notes how many ``episodic_return`` lines ``ppo.py`` printed itself.
- ``sb3_ppo``, ``sb3_a2c``: stable-baselines3 PPO / A2C, ``MlpPolicy``, through SB3's ``Monitor``.
- ``maskable_ppo``: sb3-contrib MaskablePPO; it finds the env's ``action_masks()`` itself
  (Discrete and MultiDiscrete ids).
- ``rllib_ppo``: RLlib PPO (new API stack) through the package's ``build_algorithm_config``, one
  env runner in this process, returns read per episode by a callback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import codesign_gym.envs as cg_envs

CLIENTS = ("cleanrl", "sb3_ppo", "sb3_a2c", "maskable_ppo", "rllib_ppo")
TITLES = {"cleanrl": "CleanRL ppo.py", "sb3_ppo": "SB3 PPO", "sb3_a2c": "SB3 A2C", "maskable_ppo": "MaskablePPO", "rllib_ppo": "RLlib PPO"}

#: Runs CleanRL's ppo.py unmodified (argv[1]: ppo.py, argv[2]: episode file, rest: ppo.py's flags),
#: recording each ended episode's statistics from RecordEpisodeStatistics.
_CLEANRL_BOOTSTRAP = r"""
import json, runpy, sys
import gymnasium as gym
path, record, flags = sys.argv[1], sys.argv[2], sys.argv[3:]
out = open(record, "w")
_step = gym.wrappers.RecordEpisodeStatistics.step
def step(self, action):
    result = _step(self, action)
    if result[2] or result[3]:
        episode = result[4]["episode"]
        out.write(json.dumps({"r": float(episode["r"]), "l": int(episode["l"])}) + "\n")
        out.flush()
    return result
gym.wrappers.RecordEpisodeStatistics.step = step
sys.argv = [path] + flags
runpy.run_path(path, run_name="__main__")
"""


def set_threads(n: int = 1) -> None:
    """One torch thread (fastest for these small networks on a few cores)."""
    import torch

    torch.set_num_threads(n)


def episode_length(env_id: str, seed: int = 0) -> int:
    """Steps of one episode of ``env_id`` under random allowed actions."""
    env = gym.make(env_id)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    steps = 0
    while True:
        space, mask = env.action_space, None
        if isinstance(space, gym.spaces.Discrete):
            mask = env.get_wrapper_attr("action_masks")().astype(np.int8)
        elif isinstance(space, gym.spaces.MultiDiscrete):
            mask = tuple(np.split(env.get_wrapper_attr("action_masks")().astype(np.int8), np.cumsum(space.nvec)[:-1]))
        _, _, terminated, truncated, _ = env.step(space.sample(mask=mask) if mask is not None else space.sample())
        steps += 1
        if terminated or truncated or steps >= 100_000:
            env.close()
            return steps


def space_name(space: gym.Space) -> str:
    """Short name of an action space for the table."""
    if isinstance(space, gym.spaces.Discrete):
        return f"Discrete({int(space.n)})"
    if isinstance(space, gym.spaces.MultiDiscrete):
        nvec = np.asarray(space.nvec).reshape(-1)
        return f"MultiDiscrete({nvec.tolist()})" if nvec.size <= 4 else f"MultiDiscrete({nvec.size} dims)"
    if isinstance(space, gym.spaces.Box):
        return f"Box{tuple(space.shape)}"
    return type(space).__name__


def summary(returns: list[float]) -> str:
    """``first -> last (N)`` over the first and last ~10% (at least one) of ``returns``."""
    n = len(returns)
    if n == 0:
        return "no episode ended"
    k = max(1, math.ceil(n / 10))
    first, last = float(np.mean(returns[:k])), float(np.mean(returns[-k:]))
    return f"{first:.4g} -> {last:.4g} ({n})"


# ---------------------------------------------------------------- clients
def run_sb3(env_id: str, client: str, steps: int, seed: int) -> list[float]:
    from stable_baselines3.common.monitor import Monitor

    env = Monitor(gym.make(env_id))
    if client == "sb3_ppo":
        from stable_baselines3 import PPO

        model = PPO("MlpPolicy", env, n_steps=256, batch_size=64, n_epochs=4, seed=seed, device="cpu", verbose=0)
    elif client == "sb3_a2c":
        from stable_baselines3 import A2C

        model = A2C("MlpPolicy", env, n_steps=8, seed=seed, device="cpu", verbose=0)
    else:
        from sb3_contrib import MaskablePPO

        model = MaskablePPO("MlpPolicy", env, n_steps=256, batch_size=64, n_epochs=4, seed=seed, device="cpu", verbose=0)
    model.learn(total_timesteps=steps)
    returns = [float(r) for r in env.get_episode_rewards()]
    env.close()
    return returns


def run_rllib(env_id: str, steps: int, seed: int) -> list[float]:
    import ray

    from codesign_gym.agents.rllib.callback import DesignCallback
    from codesign_gym.agents.rllib.training import ENV_MODULE_PREFIX, build_algorithm_config

    class ReturnsCallback(DesignCallback):
        """DesignCallback that also logs each finished episode's return as an item series."""

        def on_episode_end(self, *, episode, metrics_logger=None, **kwargs) -> None:
            super().on_episode_end(episode=episode, metrics_logger=metrics_logger, **kwargs)
            if metrics_logger is not None:
                metrics_logger.log_value("codesign_episode_returns", float(episode.get_return()), reduce="item_series")

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    batch = 512
    config = build_algorithm_config("ppo", {}, seed=seed, module="mlp", num_env_runners=0, envs_per_runner=4, episodes_per_batch=1,
                                    env_id=ENV_MODULE_PREFIX + env_id)
    config.training(train_batch_size_per_learner=batch, minibatch_size=64, num_epochs=4).callbacks(ReturnsCallback)
    if isinstance(gym.make(env_id).action_space, gym.spaces.Box):
        from ray.rllib.core.rl_module.rl_module import RLModuleSpec

        # the package's modules take Discrete/MultiDiscrete actions; a Box id gets RLlib's own PPO module
        config.rl_module(rl_module_spec=RLModuleSpec(model_config={"fcnet_hiddens": [64, 64]}))
    algo = config.build_algo()
    returns: list[float] = []
    try:
        for _ in range(max(1, steps // batch)):
            result = algo.train()
            items = result.get("env_runners", {}).get("codesign_episode_returns", [])
            if isinstance(items, (list, tuple)):  # RLlib reports an empty series as NaN
                returns.extend(float(r) for r in items)
    finally:
        algo.stop()
    return returns


def run_cleanrl(env_id: str, steps: int, seed: int, ppo: Path, python: str) -> tuple[list[float], int, str]:
    """(returns, episodic_return lines ppo.py printed, error or "")."""
    with tempfile.TemporaryDirectory() as work:
        record = Path(work) / "episodes.jsonl"
        flags = ["--env-id", f"codesign_gym.envs:{env_id}", "--total-timesteps", str(steps), "--num-envs", "4", "--seed", str(seed)]
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        proc = subprocess.run([python, "-c", _CLEANRL_BOOTSTRAP, str(ppo), str(record)] + flags, cwd=work, env=env,
                              capture_output=True, text=True)
        printed = sum(1 for line in proc.stdout.splitlines() if "episodic_return=" in line)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            return [], printed, f"exit {proc.returncode}: {last}"
        returns = [json.loads(line)["r"] for line in record.read_text().splitlines()] if record.exists() else []
        return returns, printed, ""


def takes(client: str, space: gym.Space) -> bool:
    if client == "cleanrl":
        return isinstance(space, gym.spaces.Discrete)
    if client == "maskable_ppo":
        return isinstance(space, (gym.spaces.Discrete, gym.spaces.MultiDiscrete))
    return True


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ids", nargs="+", default=list(cg_envs.ALL_IDS), help="env ids (default: every id)")
    parser.add_argument("--clients", nargs="+", default=None, choices=CLIENTS,
                        help="clients (default: all; cleanrl only with --cleanrl-ppo)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget-episodes", type=int, default=200, help="env steps: this many episodes' worth (clipped below)")
    parser.add_argument("--min-steps", type=int, default=2048)
    parser.add_argument("--max-steps", type=int, default=16384)
    parser.add_argument("--cleanrl-ppo", type=Path, default=None, help="CleanRL's cleanrl/ppo.py (unmodified)")
    parser.add_argument("--cleanrl-python", default=sys.executable, help="interpreter for ppo.py (needs tyro and tensorboard)")
    args = parser.parse_args(argv)
    clients = args.clients or [c for c in CLIENTS if c != "cleanrl" or args.cleanrl_ppo is not None]
    if "cleanrl" in clients and args.cleanrl_ppo is None:
        parser.error("--clients cleanrl needs --cleanrl-ppo")
    set_threads(1)

    rows, notes = [], []
    for env_id in args.ids:
        env = gym.make(env_id)
        space = env.action_space
        env.close()
        length = episode_length(env_id, args.seed)
        steps = int(np.clip(args.budget_episodes * length, args.min_steps, args.max_steps))
        cells = [f"`{env_id}`", space_name(space), str(length), str(steps)]
        for client in clients:
            if not takes(client, space):
                cells.append("—")
                continue
            start = time.perf_counter()
            if client == "cleanrl":
                returns, printed, error = run_cleanrl(env_id, steps, args.seed, args.cleanrl_ppo, args.cleanrl_python)
                if error:
                    cells.append(f"fails ({error})")
                    continue
                notes.append(f"CleanRL on `{env_id}`: ppo.py printed {printed} episodic_return lines itself")
            elif client == "rllib_ppo":
                returns = run_rllib(env_id, steps, args.seed)
            else:
                returns = run_sb3(env_id, client, steps, args.seed)
            cells.append(summary(returns))
            print(f"{env_id} {client}: {cells[-1]} [{time.perf_counter() - start:.1f} s]", file=sys.stderr, flush=True)
        rows.append(cells)

    header = ["id", "action space", "episode steps", "env steps"] + [TITLES[c] for c in clients]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    table = "\n".join(lines)
    if notes:
        table += "\n\n" + "\n".join(f"- {n}" for n in notes)
    print(table)
    try:
        import ray

        if ray.is_initialized():
            ray.shutdown()
    except ImportError:
        pass
    return table


if __name__ == "__main__":
    main()
