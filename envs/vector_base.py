"""Bookkeeping shared by the natively batched vector envs: gymnasium's NEXT_STEP autoreset.

With NEXT_STEP autoreset, the step after a sub-env's episode ends resets that sub-env instead of
stepping it: its action is ignored, its reward is 0 and it is not terminated. Each env keeps its
own episode logic and action checks; :class:`NextStepVectorEnv` keeps which rows reset, the
batched spaces and gymnasium's ``info[key]`` / ``info["_" + key]`` masks.
:class:`EpisodeBatchVectorEnv` and :class:`EpisodeEnv` step one batched episode state
(``num_envs`` rows, or one row for the single env).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from codesign_gym.envs.episode_info import final_info, final_info_batch
from codesign_gym.envs.problem import Evaluation


def check_started(started: bool) -> None:
    """Raise the envs' error for a step taken before ``reset()`` (single and vector envs)."""
    if not started:
        raise RuntimeError("call reset() before step()")


def design_actions(actions: Any, nvec: np.ndarray, num_envs: int | None = None) -> np.ndarray:
    """Actions that are whole designs, as (N, D): a single env's action (D,) (``num_envs`` None)
    as (1, D), or a vector env's (num_envs, D) integers. The range is the problem's to check
    (``space.check``).

    Raises:
        ValueError: naming the action (or the actions' shape and dtype) and the expected shape.
    """
    act = np.asarray(actions)
    nvec = np.asarray(nvec)
    if num_envs is None:
        if act.shape != nvec.shape:
            raise ValueError(f"action {actions!r} is outside the action space; expected {nvec.size} integer indices (nvec={nvec.tolist()})")
        return act[None, :]
    if act.shape != (num_envs, nvec.size) or act.dtype.kind not in "iu":
        raise ValueError(f"actions have shape {act.shape} and dtype {act.dtype}; expected integers of shape ({num_envs}, {nvec.size})")
    return act


class NextStepVectorEnv(VectorEnv):
    """``num_envs`` sub-envs stepped as arrays, autoreset NEXT_STEP.

    A subclass calls, in order: ``super().__init__(num_envs)``, then :meth:`_set_single_spaces`;
    in ``reset``, ``super().reset(seed=seed, options=options)``; in ``step``,
    :meth:`_begin_step` first (it gives the rows that reset now), then its own action checks and
    episode logic, and returns :meth:`_step_result`.
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs={num_envs!r}; expected a positive integer")
        self.num_envs = int(num_envs)
        self._prev_done = np.zeros(self.num_envs, dtype=bool)  # (num_envs,) episodes that ended last step
        self._started = False

    def _set_single_spaces(self, action_space: spaces.Space, observation_space: spaces.Space) -> None:
        """Set the single spaces and their ``num_envs`` batches (``action_space``, ``observation_space``)."""
        self.single_action_space = action_space
        self.single_observation_space = observation_space
        self.action_space = batch_space(action_space, self.num_envs)
        self.observation_space = batch_space(observation_space, self.num_envs)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> Any:
        """Seed ``np_random`` and clear pending autoresets; returns nothing, like gymnasium's
        ``VectorEnv.reset``: a subclass resets its episodes and returns ``(obs, info)``."""
        super().reset(seed=seed, options=options)
        self._prev_done[:] = False
        self._started = True

    def _begin_step(self) -> np.ndarray:
        """Raise before ``reset()``; else the (num_envs,) bool mask of sub-envs that reset this
        step (their episodes ended on the previous step), a copy the caller may keep."""
        check_started(self._started)
        return self._prev_done.copy()

    def _step_result(self, obs: Any, reward: np.ndarray, terminated: np.ndarray, info: dict[str, Any]) -> tuple:
        """Remember ``terminated`` (num_envs,) for the next step's autoreset and return gymnasium's
        ``(obs, reward (num_envs,) float64, terminated, truncated (num_envs,) all False, info)``."""
        self._prev_done = np.array(terminated, dtype=bool)
        return obs, np.array(reward, dtype=np.float64), terminated, np.zeros(self.num_envs, dtype=bool), info

    @staticmethod
    def _masked_info(values: Mapping[str, Any], mask: np.ndarray, keys: Iterable[str] | None = None) -> dict[str, Any]:
        """``info`` in gymnasium's vector convention: ``values[key]`` (num_envs, ...) for each of
        ``keys`` (default: every key of ``values``), then ``"_" + key`` (num_envs,) bool, a copy
        of ``mask``: the sub-envs whose value is set."""
        keys = list(values if keys is None else keys)
        info = {key: values[key] for key in keys}
        info.update({"_" + key: mask.copy() for key in keys})
        return info


class EpisodeBatchVectorEnv(NextStepVectorEnv):
    """A :class:`NextStepVectorEnv` whose episodes live in one batched state ``self._ep`` with
    ``reset(rows)``, ``observe() -> (num_envs, ...)`` and ``step(actions, active) -> (reward,
    done, metrics or None, designs)``, masked to the episodes that ended: where ``metrics`` is an
    :class:`~codesign_gym.envs.problem.Evaluation` of ``self.problem``, ``info`` is
    :func:`~codesign_gym.envs.episode_info.final_info_batch` (every final-info key and metric);
    where it is a dict, ``info`` holds the metrics named by ``INFO_KEYS`` and ``design`` (num_envs, D)."""

    INFO_KEYS: tuple[str, ...] = ()

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed, options=options)
        self._ep.reset(np.ones(self.num_envs, dtype=bool))
        return self._ep.observe(), {}

    def _step_episodes(self, actions: Any, resetting: np.ndarray) -> tuple:
        """Reset the ``resetting`` rows, step the others with ``actions`` (already checked) and
        return gymnasium's step tuple."""
        self._ep.reset(resetting)
        reward, done, metrics, designs = self._ep.step(actions, ~resetting)
        if metrics is None:
            info = {}
        elif isinstance(metrics, Evaluation):
            info = self._masked_info(final_info_batch(self.problem, designs, metrics, done), done)
        else:
            info = self._masked_info({**metrics, "design": designs}, done, tuple(self.INFO_KEYS) + ("design",))
        return self._step_result(self._ep.observe(), reward, done, info)


class EpisodeEnv(gym.Env):
    """A single env over the batched episode state of :class:`EpisodeBatchVectorEnv` with one
    row: ``self._ep`` (``step`` returning an :class:`~codesign_gym.envs.problem.Evaluation` of
    ``self.problem``). A subclass sets ``problem``, the spaces and ``_ep`` in ``__init__`` and
    implements :meth:`_check_action`; it may override :meth:`_reset_info` and :meth:`_step_info`.
    The final ``info`` is :func:`~codesign_gym.envs.episode_info.final_info`."""

    metadata = {"render_modes": []}
    _started = False

    def _check_action(self, action: Any) -> np.ndarray:
        """``action`` as the (1, ...) batch ``_ep.step`` takes; ValueError outside the action space."""
        raise NotImplementedError

    def _reset_info(self) -> dict[str, Any]:
        """``info`` of ``reset``."""
        return {}

    def _step_info(self) -> dict[str, Any]:
        """``info`` of a step that does not end the episode."""
        return {}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._ep.reset(np.ones(1, dtype=bool))
        self._started = True
        return self._ep.observe()[0], self._reset_info()

    def step(self, action):
        check_started(self._started)
        reward, done, evaluation, designs = self._ep.step(self._check_action(action), np.ones(1, dtype=bool))
        if done[0]:
            info = final_info(self.problem, designs, evaluation, 0)
            self._started = False
        else:
            info = self._step_info()
        return self._ep.observe()[0], float(reward[0]), bool(done[0]), False, info
