"""sb3-contrib's MaskablePPO on a codesign-gym env, with no wrapper code.

Usage (from the repository root)::

    .venv/bin/python examples/maskable_ppo.py --env-id codesign/ResourceAssignment-v0
    .venv/bin/python examples/maskable_ppo.py --env-id codesign/PatchInference-Discrete-v0
    .venv/bin/python examples/maskable_ppo.py --help

``MaskablePPO("MlpPolicy", gym.make(env_id))`` is all it takes: every codesign-gym env with a
discrete action space has an ``action_masks()`` method, which MaskablePPO finds through SB3's
``Monitor`` and ``DummyVecEnv`` (it adds both itself). For ``Discrete(n)`` the mask is ``(n,)``
bool; for ``MultiDiscrete(nvec)`` it is the per-dimension masks concatenated, ``(sum(nvec),)``.

The ``Monitor`` SB3 adds writes each finished episode's return and length into ``info["episode"]``;
a small callback collects them all (SB3's own ``ep_info_buffer`` keeps only the last 100), prints
one line per rollout, and at the end the script prints ``first return X, last return Y``: the
mean return of the first and the last ~10% of the finished episodes.
``main(args)`` returns the figures as a dict so tests can call it.
"""

import dataclasses
import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import tyro
from sb3_contrib import MaskablePPO
from stable_baselines3.common.callbacks import BaseCallback

import codesign_gym.envs  # noqa: F401  (registers the codesign/ ids)


@dataclasses.dataclass
class Args:
    """Command-line options (tyro turns each field into ``--field-name``)."""

    env_id: str = "codesign/ResourceAssignment-v0"
    """Registered id with a Discrete or MultiDiscrete action space."""
    total_timesteps: int = 20_000
    """Env steps to train for (MaskablePPO rounds up to whole rollouts)."""
    n_steps: int = 512
    """Env steps per rollout."""
    batch_size: int = 128
    """Minibatch size of the PPO update."""
    n_epochs: int = 4
    """Passes over each rollout."""
    learning_rate: float = 1e-3
    """Adam step size (constant)."""
    gamma: float = 0.99
    """Discount factor per step."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip_range: float = 0.2
    """PPO ratio clip range."""
    ent_coef: float = 0.01
    """Entropy bonus weight."""
    seed: int = 0
    """Seeds SB3 (torch, numpy, the env's reset and action space)."""
    torch_threads: int = 1
    """torch.set_num_threads for this process (1, as the project advises for small networks on small machines)."""
    quiet: bool = False
    """Print only the final line."""


class EpisodeReturns(BaseCallback):
    """Collects the return (env reward units) of every episode the Monitor reports, in order."""

    def __init__(self, quiet: bool):
        super().__init__()
        self.returns: list[float] = []
        self.quiet = quiet
        self.start = time.perf_counter()

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            if "episode" in info:
                self.returns.append(float(info["episode"]["r"]))
        return True

    def _on_rollout_end(self) -> None:
        if self.quiet:
            return
        recent = np.mean(self.returns[-50:]) if self.returns else float("nan")
        print(f"steps {self.num_timesteps} episodes {len(self.returns)} return(last 50) {recent:.4f} "
              f"sps {self.num_timesteps / (time.perf_counter() - self.start):.0f}", flush=True)

    def window(self, first: bool) -> float:
        """Mean return of the first (or last) ~10% of finished episodes (at least one); nan if none."""
        if not self.returns:
            return float("nan")
        k = max(1, len(self.returns) // 10)
        return float(np.mean(self.returns[:k] if first else self.returns[-k:]))


def main(args: Args) -> dict[str, Any]:
    """Train and return ``{"first_return", "last_return", "episodes", "returns", "steps", "wall_s"}``.

    ``first_return``/``last_return``: mean episodic return (env reward units) of the first/last
    ~10% of finished episodes; ``returns``: every finished episode's return in order;
    ``steps``: env steps taken; ``wall_s``: seconds.
    """
    start = time.perf_counter()
    torch.set_num_threads(args.torch_threads)
    env = gym.make(args.env_id)
    model = MaskablePPO("MlpPolicy", env, n_steps=args.n_steps, batch_size=args.batch_size, n_epochs=args.n_epochs,
                        learning_rate=args.learning_rate, gamma=args.gamma, gae_lambda=args.gae_lambda,
                        clip_range=args.clip_range, ent_coef=args.ent_coef, seed=args.seed, device="cpu")
    callback = EpisodeReturns(args.quiet)
    # torch checks every distribution's arguments by default, which costs SB3 about a third of its
    # time here; switch the checks off for training only (it is process-wide state)
    validate = torch.distributions.Distribution._validate_args
    torch.distributions.Distribution.set_default_validate_args(False)
    try:
        model.learn(total_timesteps=args.total_timesteps, callback=callback)
    finally:
        torch.distributions.Distribution.set_default_validate_args(validate)
        env.close()
    result = {"first_return": callback.window(first=True), "last_return": callback.window(first=False),
              "episodes": len(callback.returns), "returns": callback.returns, "steps": int(model.num_timesteps),
              "wall_s": time.perf_counter() - start}
    print(f"{args.env_id}: {result['episodes']} episodes, {result['steps']} steps, {result['wall_s']:.1f} s; "
          f"first return {result['first_return']:.4f}, last return {result['last_return']:.4f}")
    return result


if __name__ == "__main__":
    main(tyro.cli(Args))
