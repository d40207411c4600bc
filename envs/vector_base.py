"""Bookkeeping shared by the natively batched vector envs: gymnasium's autoreset modes and masks.

With NEXT_STEP autoreset (the default), the step after a sub-env's episode ends resets that
sub-env instead of stepping it: its action is ignored, its reward is 0 and it is not terminated.
With SAME_STEP the sub-env is reset within the step that ended its episode, so no step is spent
on resets (what one-step problems in CleanRL-style loops want). Each env keeps its own episode
logic and action checks; :class:`AutoresetVectorEnv` keeps which rows reset, the batched spaces,
the action masks (:mod:`codesign_gym.envs.action_masks`) and gymnasium's ``info[key]`` /
``info["_" + key]`` masks.
:class:`EpisodeBatchVectorEnv` and :class:`EpisodeEnv` step one batched episode state
(``num_envs`` rows, or one row for the single env).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, iterate

from codesign_gym.envs.action_masks import MaskRows
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


def autoreset_mode_of(value: Any) -> AutoresetMode:
    """The :class:`gymnasium.vector.AutoresetMode` a native vector env's ``autoreset_mode`` option
    names: ``"next_step"`` or ``"same_step"`` (or the enum member).

    Raises:
        ValueError: naming the value and the modes supported (``DISABLED`` is not).
    """
    for mode in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
        if value is mode or (isinstance(value, str) and value in (mode.name.lower(), mode.value)):
            return mode
    raise ValueError(f"autoreset_mode={value!r}; expected 'next_step' or 'same_step' (or gymnasium.vector.AutoresetMode.NEXT_STEP / SAME_STEP)")


class AutoresetVectorEnv(MaskRows, VectorEnv):
    """``num_envs`` sub-envs stepped as arrays, with gymnasium's NEXT_STEP or SAME_STEP autoreset.

    NEXT_STEP (the default): the step after a sub-env's episode ends resets that sub-env instead
    of stepping it (its action is ignored, its reward 0). SAME_STEP: a sub-env whose episode
    ends is reset within the same step; the step returns the new episode's first observation,
    the ended step's reward and ``terminated``, and, as gymnasium's ``SyncVectorEnv`` does,
    ``info["final_obs"]`` (object array of the ended rows' last observations),
    ``info["final_info"]`` (the step's ``info`` of the ended rows, same vector convention) and
    their ``"_final_obs"`` / ``"_final_info"`` masks; the ended rows' top-level ``info`` is the
    reset ``info``. Every ``info`` carries ``"action_mask"`` (num_envs, M) for discrete action spaces.

    A subclass calls ``super().__init__(num_envs, autoreset_mode)``, then
    :meth:`_set_single_spaces`; implements :meth:`_reset_rows`, :meth:`_observe` and (when it has
    one) :meth:`_reset_info`; in ``step`` calls :meth:`_begin_step` first (it gives the rows that
    reset now, never any under SAME_STEP), then its own action checks and episode logic, and
    returns :meth:`_step_result`.
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}
    _vector = True

    def __init__(self, num_envs: int, autoreset_mode: Any = AutoresetMode.NEXT_STEP):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs={num_envs!r}; expected a positive integer")
        self.num_envs = int(num_envs)
        self.autoreset_mode = autoreset_mode_of(autoreset_mode)
        self.metadata = {**type(self).metadata, "autoreset_mode": self.autoreset_mode}
        self._prev_done = np.zeros(self.num_envs, dtype=bool)  # (num_envs,) episodes that ended last step
        self._started = False

    def _set_single_spaces(self, action_space: spaces.Space, observation_space: spaces.Space) -> None:
        """Set the single spaces and their ``num_envs`` batches (``action_space``, ``observation_space``)."""
        self.single_action_space = action_space
        self.single_observation_space = observation_space
        self.action_space = batch_space(action_space, self.num_envs)
        self.observation_space = batch_space(observation_space, self.num_envs)

    # ------------------------------------------------------------------ what a subclass provides
    def _reset_rows(self, rows: np.ndarray) -> None:
        """Start new episodes in the sub-envs of the bool mask ``rows`` (num_envs,)."""
        raise NotImplementedError

    def _observe(self) -> Any:
        """The batch of observations of the current state (``observation_space``)."""
        raise NotImplementedError

    def _reset_info(self) -> dict[str, Any]:
        """A single env's ``reset`` info (the same for every sub-env); batched by :meth:`_same_info`."""
        return {}

    # ------------------------------------------------------------------ the autoreset bookkeeping
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Seed ``np_random``, clear pending autoresets and start every episode: ``(obs, info)``."""
        super().reset(seed=seed, options=options)
        self._prev_done[:] = False
        self._started = True
        self._reset_rows(np.ones(self.num_envs, dtype=bool))
        return self._observe(), self._with_action_mask(self._same_info(self._reset_info()))

    def _begin_step(self) -> np.ndarray:
        """Raise before ``reset()``; else the (num_envs,) bool mask of sub-envs that reset this
        step (NEXT_STEP: their episodes ended on the previous step; SAME_STEP: none), a copy."""
        check_started(self._started)
        return self._prev_done.copy()

    def _step_result(self, obs: Any, reward: np.ndarray, terminated: np.ndarray, info: dict[str, Any]) -> tuple:
        """Gymnasium's ``(obs, reward (num_envs,) float64, terminated, truncated (num_envs,) all
        False, info)`` of a step whose episodes left ``obs`` and ``terminated`` (num_envs,) bool:
        NEXT_STEP remembers ``terminated`` for the next step; SAME_STEP resets those rows now."""
        terminated = np.array(terminated, dtype=bool)
        if self.autoreset_mode == AutoresetMode.SAME_STEP:
            if terminated.any():
                obs, info = self._reset_ended(obs, terminated, info)
        else:
            self._prev_done = terminated.copy()
        return obs, np.array(reward, dtype=np.float64), terminated, np.zeros(self.num_envs, dtype=bool), self._with_action_mask(info)

    def _reset_ended(self, final_obs: Any, ended: np.ndarray, info: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """SAME_STEP: reset the ``ended`` rows; the new observations and the step's ``info`` with
        the ended rows' values moved to ``final_info`` / ``final_obs`` (gymnasium's layout)."""
        final, top = {}, {}
        for key, value in info.items():
            if key.startswith("_"):
                continue
            mask = info.get("_" + key, np.ones(self.num_envs, dtype=bool))
            for part, rows in ((final, mask & ended), (top, mask & ~ended)):
                if rows.any():
                    part[key], part["_" + key] = value, rows
        last = list(iterate(self.observation_space, final_obs))
        rows = np.full(self.num_envs, None, dtype=object)
        for i in np.flatnonzero(ended):
            rows[i] = last[i]
        self._reset_rows(ended)
        for key, value in self._same_info(self._reset_info()).items():
            if key.startswith("_"):
                continue
            if key in top:  # a step key too: the reset value in the ended rows
                top[key] = np.where(ended.reshape((-1,) + (1,) * (np.ndim(value) - 1)), value, top[key])
                top["_" + key] = top["_" + key] | ended
            else:
                top[key], top["_" + key] = value, ended.copy()
        top.update({"final_obs": rows, "_final_obs": ended.copy(), "final_info": final, "_final_info": ended.copy()})
        return self._observe(), top

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


class EpisodeBatchVectorEnv(AutoresetVectorEnv):
    """An :class:`AutoresetVectorEnv` whose episodes live in one batched state ``self._ep`` with
    ``reset(rows)``, ``observe() -> (num_envs, ...)`` and ``step(actions, active) -> (reward,
    done, metrics or None, designs)``, masked to the episodes that ended: where ``metrics`` is an
    :class:`~codesign_gym.envs.problem.Evaluation` of ``self.problem``, ``info`` is
    :func:`~codesign_gym.envs.episode_info.final_info_batch` (every final-info key and metric);
    where it is a dict, ``info`` holds the metrics named by ``INFO_KEYS`` and ``design`` (num_envs, D)."""

    INFO_KEYS: tuple[str, ...] = ()

    def _reset_rows(self, rows: np.ndarray) -> None:
        self._ep.reset(rows)

    def _observe(self) -> np.ndarray:
        return self._ep.observe()

    def _step_values(self) -> dict[str, np.ndarray]:
        """(num_envs,) values of the ``info`` of a step that does not end the episode (the single
        env's :meth:`EpisodeEnv._step_info` is row 0 of its own)."""
        return {}

    def step(self, actions):
        """Check ``actions`` with :func:`check_actions` (the single env's check, per sub-env;
        rows that autoreset ignore their action's range) and step the episodes."""
        resetting = self._begin_step()
        return self._step_episodes(check_actions(self.single_action_space, actions, self.num_envs, ~resetting), resetting)

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


class EpisodeEnv(MaskRows, gym.Env):
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
        return self._ep.observe()[0], self._with_action_mask(self._reset_info())

    def step(self, action):
        check_started(self._started)
        reward, done, evaluation, designs = self._ep.step(self._check_action(action), np.ones(1, dtype=bool))
        if done[0]:
            info = final_info(self.problem, designs, evaluation, 0)
            self._started = False
        else:
            info = self._step_info()
        return self._ep.observe()[0], float(reward[0]), bool(done[0]), False, self._with_action_mask(info)
