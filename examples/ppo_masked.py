"""PPO with invalid-action masking on a native codesign-gym vector env, in one file.

Usage (from the repository root)::

    .venv/bin/python examples/ppo_masked.py --env-id codesign/ResourceAssignment-Discrete-v0
    .venv/bin/python examples/ppo_masked.py --help

What it does, top to bottom:

1. ``gym.make_vec(env_id, num_envs, vectorization_mode="vector_entry_point", autoreset_mode=...)``
   builds the env's own batched implementation (no per-env Python loop).
2. Every step asks ``envs.action_masks()`` for a ``(num_envs, n)`` bool array and pushes the
   logits of invalid actions to a large negative number, so they are never sampled and get no
   probability in the loss.
3. After ``num_steps`` steps per sub-env it computes GAE advantages and runs clipped-PPO updates
   on shuffled minibatches, then repeats until ``total_timesteps`` env steps are spent.
4. Episode returns are summed here from the rewards (no wrapper): at the end it prints
   ``first return X, last return Y``, the mean return of the first and the last ~10% of the
   finished episodes.

Both of gymnasium's autoreset modes are handled:

- ``same_step`` (default): a sub-env whose episode ends is reset inside the same ``step``; the
  returned observation is the new episode's first one and ``info["final_obs"]`` holds the
  ended episode's last one (used to bootstrap truncated episodes).
- ``next_step``: the step after an episode ends only resets that sub-env (its action is ignored,
  its reward is 0); those transitions are left out of the loss.

Only ``Discrete`` action spaces (e.g. the ``-Discrete-v0`` ids) and ``Box`` observations
(flattened) are supported. ``main(args)`` returns the figures as a dict so tests can call it.
"""

import dataclasses
import time
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
import tyro
from torch import nn

import codesign_gym.envs  # noqa: F401  (registers the codesign/ ids)

#: Logit given to invalid actions: exp(-1e8 - max) is exactly 0 in float32, and unlike -inf it
#: keeps ``p * log p`` (entropy) finite.
MASKED_LOGIT = -1e8


@dataclasses.dataclass
class Args:
    """Command-line options (tyro turns each field into ``--field-name``)."""

    env_id: str = "codesign/ResourceAssignment-Discrete-v0"
    """Registered id with a Discrete action space and a Box observation space."""
    num_envs: int = 16
    """Sub-envs of the native vector env, stepped together."""
    total_timesteps: int = 32_768
    """Env steps over all sub-envs (training stops after the update that reaches it)."""
    num_steps: int = 32
    """Steps per sub-env per rollout; one update uses num_envs * num_steps transitions."""
    learning_rate: float = 3e-3
    """Adam step size."""
    anneal: bool = True
    """Decay the learning rate linearly to 0 over the updates."""
    seed: int = 0
    """Seeds torch (sampling, minibatch order, init) and the vector env's reset."""
    gamma: float = 0.99
    """Discount factor per step."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip_coef: float = 0.2
    """PPO ratio clip range (and value clip range)."""
    ent_coef: float = 0.01
    """Entropy bonus weight."""
    vf_coef: float = 0.5
    """Value-loss weight."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip."""
    update_epochs: int = 4
    """Passes over each rollout."""
    num_minibatches: int = 4
    """Minibatches per pass."""
    hidden: int = 128
    """Width of the two hidden layers of the actor and of the critic."""
    torch_threads: int = 1
    """torch.set_num_threads for this process (1, as the project advises for small networks on small machines)."""
    autoreset_mode: Literal["same_step", "next_step"] = "same_step"
    """Vector env autoreset: "same_step" or "next_step"."""
    quiet: bool = False
    """Print only the final line."""


class Agent(nn.Module):
    """Separate actor and critic MLPs (tanh) over flattened observations.

    ``obs_dim``: length of a flattened observation; ``n_actions``: size of the Discrete space.
    """

    def __init__(self, obs_dim: int, n_actions: int, hidden: int):
        super().__init__()

        def layer(n_in: int, n_out: int, gain: float) -> nn.Linear:
            lin = nn.Linear(n_in, n_out)
            nn.init.orthogonal_(lin.weight, gain)
            nn.init.zeros_(lin.bias)
            return lin

        g = float(np.sqrt(2))
        self.critic = nn.Sequential(layer(obs_dim, hidden, g), nn.Tanh(), layer(hidden, hidden, g), nn.Tanh(), layer(hidden, 1, 1.0))
        # a small last-layer gain starts the policy close to uniform over the valid actions
        self.actor = nn.Sequential(layer(obs_dim, hidden, g), nn.Tanh(), layer(hidden, hidden, g), nn.Tanh(),
                                   layer(hidden, n_actions, 0.01))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """State values, shape (B,), for observations (B, obs_dim)."""
        return self.critic(obs).squeeze(-1)

    def policy(self, obs: torch.Tensor, mask: torch.Tensor) -> torch.distributions.Categorical:
        """Action distribution over the valid actions: obs (B, obs_dim) float, mask (B, n) bool."""
        logits = self.actor(obs)
        masked = torch.where(mask, logits, torch.full_like(logits, MASKED_LOGIT))
        return torch.distributions.Categorical(logits=masked, validate_args=False)  # no per-call checks: speed


def make_envs(args: Args) -> gym.vector.VectorEnv:
    """The env's native vector env, checked to have Discrete actions and Box observations."""
    envs = gym.make_vec(args.env_id, num_envs=args.num_envs, vectorization_mode="vector_entry_point",
                        autoreset_mode=args.autoreset_mode)
    problem = None
    if not isinstance(envs.single_action_space, gym.spaces.Discrete):
        problem = (f"action space {envs.single_action_space}; this example needs a Discrete one "
                   "(use a -Discrete-v0 id, or examples/maskable_ppo.py for MultiDiscrete)")
    elif not isinstance(envs.single_observation_space, gym.spaces.Box):
        problem = f"observation space {envs.single_observation_space}; this example needs a Box one"
    if problem is not None:
        envs.close()
        raise ValueError(f"{args.env_id} has {problem}")
    return envs


def flat(obs: np.ndarray, num_envs: int) -> torch.Tensor:
    """Batched observations (num_envs, *shape) as a float32 tensor (num_envs, obs_dim)."""
    return torch.as_tensor(np.asarray(obs, dtype=np.float32).reshape(num_envs, -1))


def current_masks(envs: gym.vector.VectorEnv) -> torch.Tensor:
    """``envs.action_masks()`` as a (num_envs, n) bool tensor.

    A row with no valid action (possible in ``next_step`` mode, where the observation may be an
    ended episode's last one and the next action is ignored anyway) is opened fully so the
    distribution stays defined.
    """
    mask = np.asarray(envs.action_masks(), dtype=bool).copy()
    mask[~mask.any(axis=1)] = True
    return torch.as_tensor(mask)


class EpisodeTracker:
    """Sums rewards per sub-env and records the return of every finished episode (env units)."""

    def __init__(self, num_envs: int):
        self.running = np.zeros(num_envs)
        self.returns: list[float] = []

    def add(self, reward: np.ndarray, ended: np.ndarray) -> None:
        """Add one step's rewards (num_envs,); ``ended`` (num_envs,) bool closes those episodes.

        In ``same_step`` mode the reward of an ended sub-env is its last step's; in ``next_step``
        mode the reset step that follows adds 0 to the next episode, so both modes sum correctly.
        """
        self.running += reward
        self.returns.extend(self.running[ended].tolist())
        self.running[ended] = 0.0

    def window(self, first: bool) -> float:
        """Mean return of the first (or last) ~10% of finished episodes (at least one); nan if none."""
        if not self.returns:
            return float("nan")
        k = max(1, len(self.returns) // 10)
        return float(np.mean(self.returns[:k] if first else self.returns[-k:]))


class Rollout:
    """Storage for ``num_steps`` steps of ``num_envs`` sub-envs, all (num_steps, num_envs, ...) tensors."""

    def __init__(self, num_steps: int, num_envs: int, obs_dim: int, n_actions: int):
        shape = (num_steps, num_envs)
        self.obs = torch.zeros(shape + (obs_dim,))
        self.masks = torch.zeros(shape + (n_actions,), dtype=torch.bool)
        self.actions = torch.zeros(shape, dtype=torch.long)
        self.logprobs = torch.zeros(shape)
        self.values = torch.zeros(shape)
        self.rewards = torch.zeros(shape)
        self.terminated = torch.zeros(shape)    # 1: no bootstrap past this step
        self.ended = torch.zeros(shape)         # 1: terminated or truncated, GAE stops here
        self.next_values = torch.zeros(shape)   # V(s') of the true next state of each step
        self.valid = torch.ones(shape)          # 0: a next_step reset step, left out of the loss

    def advantages(self, gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
        """GAE advantages and returns (value targets), both (num_steps, num_envs).

        delta_t = r_t + gamma * (1 - terminated_t) * V(s'_t) - V(s_t);
        A_t = delta_t + gamma * lam * (1 - ended_t) * A_{t+1}.
        """
        adv = torch.zeros_like(self.rewards)
        last = torch.zeros_like(self.rewards[0])
        for t in reversed(range(self.rewards.shape[0])):
            delta = self.rewards[t] + gamma * (1 - self.terminated[t]) * self.next_values[t] - self.values[t]
            last = delta + gamma * lam * (1 - self.ended[t]) * last
            adv[t] = last
        return adv, adv + self.values


def collect(envs, agent: Agent, buf: Rollout, state: dict[str, Any], tracker: EpisodeTracker, same_step: bool) -> None:
    """Step the vector env ``num_steps`` times with the current policy, filling ``buf``.

    ``state`` carries between rollouts: ``obs`` (num_envs, obs_dim) tensor, its critic ``value``
    (num_envs,), ``mask`` (num_envs, n) bool, and ``reset_next`` (num_envs,) bool numpy, the
    sub-envs whose next step is a ``next_step`` reset.
    """
    num_steps, n = buf.rewards.shape
    with torch.no_grad():
        state["value"] = agent.value(state["obs"])  # the critic changed since the last rollout
    for t in range(num_steps):
        buf.obs[t], buf.masks[t] = state["obs"], state["mask"]
        buf.valid[t] = torch.as_tensor(~state["reset_next"], dtype=torch.float32)
        with torch.no_grad():
            dist = agent.policy(state["obs"], state["mask"])
            action = dist.sample()
        buf.values[t] = state["value"]
        buf.actions[t], buf.logprobs[t] = action, dist.log_prob(action)
        obs, reward, terminated, truncated, info = envs.step(action.numpy())
        ended = np.logical_or(terminated, truncated)
        tracker.add(np.where(state["reset_next"], 0.0, reward), ended)
        buf.rewards[t] = torch.as_tensor(reward, dtype=torch.float32)
        buf.terminated[t] = torch.as_tensor(terminated, dtype=torch.float32)
        buf.ended[t] = torch.as_tensor(ended, dtype=torch.float32)
        state["obs"], state["mask"] = flat(obs, n), current_masks(envs)
        with torch.no_grad():
            state["value"] = agent.value(state["obs"])
            next_value = state["value"].clone()
            # same_step: the returned obs of an ended sub-env is the new episode's; a truncated
            # episode bootstraps from its real last observation instead
            cut = np.flatnonzero(np.asarray(truncated) & ~np.asarray(terminated)) if same_step else np.array([], dtype=int)
            if cut.size:
                final = np.stack([np.asarray(info["final_obs"][i], dtype=np.float32).ravel() for i in cut])
                next_value[cut] = agent.value(torch.as_tensor(final))
        buf.next_values[t] = next_value
        state["reset_next"] = ended if not same_step else np.zeros(n, dtype=bool)


def update(agent: Agent, optimizer: torch.optim.Optimizer, buf: Rollout, args: Args) -> dict[str, float]:
    """Clipped-PPO epochs over the rollout; returns the last minibatch's losses and the mean KL."""
    adv, returns = buf.advantages(args.gamma, args.gae_lambda)
    keep = buf.valid.reshape(-1).bool()
    obs, masks = buf.obs.reshape(-1, buf.obs.shape[-1])[keep], buf.masks.reshape(-1, buf.masks.shape[-1])[keep]
    actions, old_logp = buf.actions.reshape(-1)[keep], buf.logprobs.reshape(-1)[keep]
    adv, returns, old_values = adv.reshape(-1)[keep], returns.reshape(-1)[keep], buf.values.reshape(-1)[keep]
    size = obs.shape[0]
    mb = max(1, size // args.num_minibatches)
    kls, stats = [], {}
    for _ in range(args.update_epochs):
        for idx in torch.randperm(size).split(mb):
            dist = agent.policy(obs[idx], masks[idx])
            logp = dist.log_prob(actions[idx])
            log_ratio = logp - old_logp[idx]
            ratio = log_ratio.exp()
            a = adv[idx]
            a = (a - a.mean()) / (a.std(unbiased=False) + 1e-8)
            pg_loss = torch.max(-a * ratio, -a * ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)).mean()
            # value loss, clipped around the rollout's values like the policy ratio
            v = agent.value(obs[idx])
            v_clip = old_values[idx] + (v - old_values[idx]).clamp(-args.clip_coef, args.clip_coef)
            v_loss = 0.5 * torch.max((v - returns[idx]) ** 2, (v_clip - returns[idx]) ** 2).mean()
            entropy = dist.entropy().mean()
            loss = pg_loss + args.vf_coef * v_loss - args.ent_coef * entropy
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
            optimizer.step()
            with torch.no_grad():
                kls.append(((ratio - 1) - log_ratio).mean().item())  # low-variance KL estimate
            stats = {"pg_loss": pg_loss.item(), "v_loss": v_loss.item(), "entropy": entropy.item()}
    stats["approx_kl"] = float(np.mean(kls))
    return stats


def main(args: Args) -> dict[str, Any]:
    """Train and return ``{"first_return", "last_return", "episodes", "returns", "steps", "wall_s"}``.

    ``first_return``/``last_return``: mean episodic return (env reward units) of the first/last
    ~10% of finished episodes; ``returns``: every finished episode's return in order;
    ``steps``: env steps taken (all sub-envs); ``wall_s``: seconds. Sets torch's thread count
    and global seed for the whole process.
    """
    start = time.perf_counter()
    torch.set_num_threads(args.torch_threads)
    torch.manual_seed(args.seed)  # action sampling and minibatch order
    envs = make_envs(args)
    same_step = args.autoreset_mode == "same_step"
    n, n_actions = args.num_envs, int(envs.single_action_space.n)
    obs, _ = envs.reset(seed=args.seed)
    obs_dim = flat(obs, n).shape[1]
    agent = Agent(obs_dim, n_actions, args.hidden)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
    buf = Rollout(args.num_steps, n, obs_dim, n_actions)
    tracker = EpisodeTracker(n)
    state = {"obs": flat(obs, n), "mask": current_masks(envs), "reset_next": np.zeros(n, dtype=bool)}
    num_updates = max(1, -(-args.total_timesteps // (n * args.num_steps)))
    for u in range(num_updates):
        if args.anneal:
            optimizer.param_groups[0]["lr"] = args.learning_rate * (1 - u / num_updates)
        collect(envs, agent, buf, state, tracker, same_step)
        stats = update(agent, optimizer, buf, args)
        steps = (u + 1) * n * args.num_steps
        if not args.quiet:
            recent = np.mean(tracker.returns[-50:]) if tracker.returns else float("nan")
            print(f"update {u + 1}/{num_updates} steps {steps} episodes {len(tracker.returns)} "
                  f"return(last 50) {recent:.4f} pg {stats['pg_loss']:.4f} v {stats['v_loss']:.4f} "
                  f"entropy {stats['entropy']:.3f} kl {stats['approx_kl']:.4f} "
                  f"sps {steps / (time.perf_counter() - start):.0f}", flush=True)
    envs.close()
    result = {"first_return": tracker.window(first=True), "last_return": tracker.window(first=False),
              "episodes": len(tracker.returns), "returns": tracker.returns, "steps": num_updates * n * args.num_steps,
              "wall_s": time.perf_counter() - start}
    print(f"{args.env_id}: {result['episodes']} episodes, {result['steps']} steps, {result['wall_s']:.1f} s; "
          f"first return {result['first_return']:.4f}, last return {result['last_return']:.4f}")
    return result


if __name__ == "__main__":
    main(tyro.cli(Args))
