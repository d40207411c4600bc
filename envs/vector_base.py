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


def _expected(space: spaces.Space, num_envs: int | None) -> str:
    """What an action (``num_envs`` None) or a batch of actions of ``space`` must be, in words."""
    lead = () if num_envs is None else (num_envs,)
    if isinstance(space, spaces.Discrete):
        return f"{'an integer' if num_envs is None else f'integers of shape {lead}'} in {int(space.start)}..{int(space.start + space.n - 1)}"
    if isinstance(space, spaces.MultiDiscrete):
        return f"integers of shape {lead + space.shape}, entry i in 0..nvec[i]-1 (nvec={space.nvec.tolist()})"
    low, high = np.min(space.low), np.max(space.high)
    return f"finite reals of shape {lead + space.shape} in [{low:g}, {high:g}]"


def check_actions(space: spaces.Space, actions: Any, num_envs: int | None = None, active: np.ndarray | None = None) -> np.ndarray:
    """One action of ``space`` (``num_envs`` None: a single env's) or a vector env's batch of
    ``num_envs``, checked the same way for both and returned as the (N, ...) batch (N = 1 for a
    single env): int64 for ``Discrete`` (N,) and ``MultiDiscrete`` (N, D), float64 for ``Box``.

    Checked: the shape (a ``Discrete`` action may also be (1,), a batch (N, 1)); the dtype kind
    (integers for the discrete spaces, never bool; integers or reals for ``Box``, never bool);
    for ``Discrete`` the range and for ``Box`` finiteness and the bounds, in the rows of ``active``
    (N,) bool (default all: a vector env's rows that autoreset ignore their action). A
    ``MultiDiscrete`` range is the env's to check (its messages name the choices).

    Raises:
        ValueError: naming the action (a batch: its shape and dtype, or the sub-env and its
            action) and what was expected.
    """
    if not isinstance(space, (spaces.Discrete, spaces.MultiDiscrete, spaces.Box)):
        raise TypeError(f"action space {space!r} is not supported; expected Discrete, MultiDiscrete or Box")
    single = num_envs is None
    n = 1 if single else int(num_envs)
    try:
        act = np.asarray(actions)
    except (TypeError, ValueError):
        act = np.asarray(None, dtype=object)
    inner = tuple(space.shape)
    shapes = [inner] if single else [(n,) + inner]
    if isinstance(space, spaces.Discrete):
        shapes.append((1,) if single else (n, 1))
    integer = isinstance(space, (spaces.Discrete, spaces.MultiDiscrete))
    if act.shape not in shapes or act.dtype.kind not in ("iu" if integer else "iuf"):
        if single:
            raise ValueError(f"action {actions!r} is outside the action space; expected {_expected(space, None)}")
        raise ValueError(f"actions have shape {act.shape} and dtype {act.dtype}; expected {_expected(space, n)}")
    if act.dtype.kind == "u" and act.size and int(act.max()) > np.iinfo(np.int64).max:
        raise ValueError(f"action {actions!r} holds {int(act.max())}, beyond int64; expected {_expected(space, num_envs)}")
    batch = act.reshape((n,) + inner).astype(np.int64 if integer else np.float64)
    rows = np.ones(n, dtype=bool) if active is None else np.asarray(active, dtype=bool)
    if isinstance(space, spaces.Discrete):
        bad = rows & ((batch < space.start) | (batch >= space.start + space.n))
    elif isinstance(space, spaces.Box):
        flat = batch.reshape(n, -1)
        bad = rows & (~np.isfinite(flat) | (flat < space.low.reshape(-1)) | (flat > space.high.reshape(-1))).any(axis=1)
    else:
        bad = np.zeros(n, dtype=bool)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        where = f"action {actions!r}" if single else f"action {batch[i].tolist()} of sub-env {i}"
        raise ValueError(f"{where} is outside the action space; expected {_expected(space, None)}")
    return batch


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

    def _same_info(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """A single env's ``info`` that holds for every sub-env (e.g. ``reset``'s) in the vector
        convention, as gymnasium's ``SyncVectorEnv`` gives it: each value repeated in a
        (num_envs,) array (object dtype for non-numbers) with an all-True ``"_" + key`` mask."""
        batched = {}
        for key, value in values.items():
            if isinstance(value, (bool, int, float, np.number, np.bool_)):
                batched[key] = np.full(self.num_envs, value)
            else:
                batched[key] = np.empty(self.num_envs, dtype=object)
                for i in range(self.num_envs):
                    batched[key][i] = value
        return self._masked_info(batched, np.ones(self.num_envs, dtype=bool))

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

    def _reset_info(self) -> dict[str, Any]:
        """The single env's ``reset`` info (the same for every sub-env); :meth:`reset` batches it."""
        return {}

    def _step_values(self) -> dict[str, np.ndarray]:
        """(num_envs,) values of the ``info`` of a step that does not end the episode (the single
        env's :meth:`EpisodeEnv._step_info` is row 0 of its own)."""
        return {}

    def step(self, actions):
        """Check ``actions`` with :func:`check_actions` (the single env's check, per sub-env;
        rows that autoreset ignore their action's range) and step the episodes."""
        resetting = self._begin_step()
        return self._step_episodes(check_actions(self.single_action_space, actions, self.num_envs, ~resetting), resetting)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed, options=options)
        self._ep.reset(np.ones(self.num_envs, dtype=bool))
        return self._ep.observe(), self._same_info(self._reset_info())

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
        mid = ~resetting & ~done
        for key, value in (self._step_values().items() if mid.any() else ()):
            if key in info:  # a final-info key too: the step's value in the rows that did not end
                info[key] = np.where(mid.reshape((-1,) + (1,) * (np.ndim(info[key]) - 1)), value, info[key])
                info["_" + key] = info["_" + key] | mid
            else:
                info.update(self._masked_info({key: value}, mid))
        return self._step_result(self._ep.observe(), reward, done, info)


class EpisodeEnv(gym.Env):
    """A single env over the batched episode state of :class:`EpisodeBatchVectorEnv` with one
    row: ``self._ep`` (``step`` returning an :class:`~codesign_gym.envs.problem.Evaluation` of
    ``self.problem``). A subclass sets ``problem``, the spaces and ``_ep`` in ``__init__`` and
    may override :meth:`_check_action`, :meth:`_reset_info` and :meth:`_step_values`.
    The final ``info`` is :func:`~codesign_gym.envs.episode_info.final_info`."""

    metadata = {"render_modes": []}
    _started = False

    def _check_action(self, action: Any) -> np.ndarray:
        """``action`` as the (1, ...) batch ``_ep.step`` takes (:func:`check_actions`, the vector
        env's check); ValueError outside the action space."""
        return check_actions(self.action_space, action)

    def _reset_info(self) -> dict[str, Any]:
        """``info`` of ``reset``."""
        return {}

    def _step_values(self) -> dict[str, np.ndarray]:
        """(1,) values of the ``info`` of a step that does not end the episode (shared with the
        vector env, which gives (num_envs,) ones)."""
        return {}

    def _step_info(self) -> dict[str, Any]:
        """``info`` of a step that does not end the episode: :meth:`_step_values`' row 0."""
        return {key: np.asarray(value)[0].item() for key, value in self._step_values().items()}

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
