"""REINFORCE (Williams 1992) as a custom RLlib algorithm on the new API stack.

Each training step samples ``episodes_per_batch`` complete episodes, computes discounted
returns-to-go, subtracts a return baseline (the batch mean, and divides by the batch standard
deviation, as ConfuciuX does) and takes one gradient step on ``-E[log pi(a|s) * A]`` minus an
entropy bonus. Works with any of our environments and with both modules in
:mod:`codesign_gym.agents.rllib.modules` (the MLP default or ConfuciuX's LSTM).
"""

from __future__ import annotations

from typing import Any

import torch

from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided
from ray.rllib.connectors.learner import ComputeReturnsToGo
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.torch.torch_learner import TorchLearner
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, LEARNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME


class REINFORCEConfig(AlgorithmConfig):
    """Configuration of :class:`REINFORCE`. Training options: ``episodes_per_batch`` (default 16),
    ``entropy_coeff`` (default 0.0), ``normalize_returns`` (default True), plus AlgorithmConfig's
    ``lr`` (default 1e-3, ConfuciuX's) and ``gamma`` (default 0.9, ConfuciuX's)."""

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or REINFORCE)
        self.episodes_per_batch = 16
        self.entropy_coeff = 0.0
        self.normalize_returns = True
        self.lr = 1e-3
        self.gamma = 0.9
        self.batch_mode = "complete_episodes"
        self.grad_clip = 100.0

    def training(self, *, episodes_per_batch=NotProvided, entropy_coeff=NotProvided, normalize_returns=NotProvided, **kwargs):
        super().training(**kwargs)
        if episodes_per_batch is not NotProvided:
            if int(episodes_per_batch) < 1:
                raise ValueError(f"episodes_per_batch={episodes_per_batch!r}; expected a positive integer")
            self.episodes_per_batch = int(episodes_per_batch)
        if entropy_coeff is not NotProvided:
            self.entropy_coeff = float(entropy_coeff)
        if normalize_returns is not NotProvided:
            self.normalize_returns = bool(normalize_returns)
        return self

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        from codesign_gym.agents.rllib.modules import MLPPolicyModule

        return RLModuleSpec(module_class=MLPPolicyModule, model_config={"hidden": [128, 128]})

    def get_default_learner_class(self):
        return REINFORCETorchLearner


class REINFORCETorchLearner(TorchLearner):
    """Policy-gradient loss with a normalised return baseline (and optional entropy bonus)."""

    def build(self) -> None:
        super().build()
        if self.config.add_default_connectors_to_learner_pipeline:
            self._learner_connector.prepend(ComputeReturnsToGo(gamma=self.config.gamma))

    def compute_loss_for_module(self, *, module_id, config, batch: dict[str, Any], fwd_out: dict[str, Any]):
        module = self.module[module_id]
        dist = module.get_train_action_dist_cls().from_logits(fwd_out[Columns.ACTION_DIST_INPUTS])
        logp = dist.logp(batch[Columns.ACTIONS])
        returns = batch[Columns.RETURNS_TO_GO].float()
        mask = batch.get(Columns.LOSS_MASK)
        valid = mask.bool() if mask is not None else torch.ones_like(returns, dtype=torch.bool)
        n = valid.sum().clamp(min=1)
        mean = returns[valid].mean()
        advantage = returns - mean
        if config.normalize_returns:
            advantage = advantage / (returns[valid].std(unbiased=False) + 1e-8)
        pg = -(logp * advantage.detach())[valid].sum() / n
        entropy = dist.entropy()[valid].sum() / n
        loss = pg - config.entropy_coeff * entropy
        self.metrics.log_value((module_id, "policy_loss"), pg.item(), window=1)
        self.metrics.log_value((module_id, "entropy"), entropy.item(), window=1)
        self.metrics.log_value((module_id, "return_to_go_mean"), mean.item(), window=1)
        return loss


class REINFORCE(Algorithm):
    """Samples complete episodes, updates the learner once, syncs weights to the env runners."""

    @classmethod
    def get_default_config(cls) -> REINFORCEConfig:
        return REINFORCEConfig()

    def training_step(self) -> None:
        runners = self.config.num_env_runners or 1
        per_runner = -(-self.config.episodes_per_batch // runners)
        sampled = self.env_runner_group.foreach_env_runner(
            lambda runner: (runner.sample(num_episodes=per_runner), runner.get_metrics()),
            local_env_runner=self.env_runner_group.num_remote_workers() <= 0,
        )
        episodes = [ep for eps, _ in sampled for ep in eps]
        self.metrics.aggregate([m for _, m in sampled], key=ENV_RUNNER_RESULTS)
        learner_results = self.learner_group.update(
            episodes=episodes,
            timesteps={NUM_ENV_STEPS_SAMPLED_LIFETIME: self.metrics.peek((ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME))},
        )
        self.metrics.aggregate(learner_results, key=LEARNER_RESULTS)
        self.env_runner_group.sync_weights(from_worker_or_learner_group=self.learner_group, inference_only=True)
