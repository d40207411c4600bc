"""``codesign/PatchInference-v0``: choose a patch-based schedule (and network) for a microcontroller
(MCUNetV2, NeurIPS 2021) under SRAM and flash budgets.

One episode is one design, one step: the action picks where the patch stage ends (after a
block, or no patch stage), the patch grid, and, when the options offer several, the network's
width, resolution and per-block kernel and expansion (MobileNetV2 space,
:mod:`codesign_gym.costmodels.mobilenet_space`). Peak SRAM, flash and MACs come from
:mod:`codesign_gym.costmodels.patch_memory`.

:class:`PatchInferenceProblem` holds the design space, budgets and batched evaluation; the
single env and the native vector env are one-step episode layers over it. See
``docs/envs/patch_inference.md``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from codesign_gym.costmodels.mobilenet_space import (
    NUM_BLOCKS,
    block_output_layers,
    mobilenet_v2_variant,
    published_top1,
)
from codesign_gym.costmodels.patch_memory import NO_SPLIT, flash_bytes, patch_memory
from codesign_gym.envs.episode_info import final_info, final_info_batch
from codesign_gym.envs.options import make_problem
from codesign_gym.envs.problem import DesignSpace, Evaluation, KnownPoint, Objective, Problem
from codesign_gym.envs.action_masks import MaskRows, dimension_masks, ensure_some_allowed
from codesign_gym.envs.vector_base import AutoresetVectorEnv, check_actions, check_started

#: The objectives offered: ``macs`` (MACs incl. recompute, minimised) or ``accuracy`` (the
#: published float ImageNet top-1, maximised; fitness is the top-1 error, ties broken by MACs).
OBJECTIVES: dict[str, Objective] = {"macs": Objective("macs", "MACs", "min"), "accuracy": Objective("top1", "%", "max")}
#: Weight of MACs (over the space's maximum) that breaks ties between equally accurate designs.
ACCURACY_TIE_BREAK = 1e-3
#: The largest space :meth:`PatchInferenceProblem.optimum` enumerates (designs); beyond it no optimum is known.
MAX_ENUMERATED = 1 << 16
#: Unit of every metric of :meth:`PatchInferenceProblem.evaluate`.
METRIC_UNITS: dict[str, str] = {
    "split_layer": "index", "grid": "patches per side", "width": "1", "resolution": "px", "peak_sram_kib": "KiB",
    "layerwise_peak_kib": "KiB", "flash_kib": "KiB", "macs": "MACs", "extra_macs": "MACs", "top1": "%",
    "sram_feasible": "bool", "flash_feasible": "bool",
}
#: The keys of :meth:`PatchInferenceProblem.to_config` (per-block spaces add ``kernels`` and ``expansions``).
CONFIG_KEYS = ("split_layer", "grid", "width", "resolution", "peak_sram_kib", "flash_kib", "macs", "extra_macs")
_DEFAULT_GRIDS = tuple(range(1, 9))


@lru_cache(maxsize=256)
def _network(width: float, resolution: int, kernels: tuple[int, ...], expansions: tuple[int, ...]):
    table = mobilenet_v2_variant(width, resolution, kernels=kernels, expansions=expansions)
    return table, block_output_layers(table), flash_bytes(table)


def _choices(name: str, values: Sequence, kind: type, check) -> tuple:
    try:
        out = tuple(kind(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={values!r}; expected a non-empty sequence of {kind.__name__} values") from None
    if not out or len(set(out)) != len(out) or not all(check(v) for v in out):
        raise ValueError(f"{name}={values!r}; expected a non-empty sequence of distinct valid values")
    return out


def _check_budget(name: str, value: Any, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name}={value!r}; expected a positive budget in KiB")
    return float(value)


class PatchInferenceProblem(Problem):
    """Patch-based inference under SRAM (and flash) budgets: the design space, budgets and batched evaluation.

    A design (D,) is ``[split, grid, width, resolution]`` indices (+ 17 kernel and 16 expansion
    indices when per-block choices are offered): ``split`` 0 is no patch stage, ``k >= 1`` ends
    it after block output ``k-1`` (the stem is block 0).

    Args:
        sram_kib: SRAM budget for activations in KiB (> 0), e.g. 256, 320, 512.
        flash_kib: flash budget for weights (int8) and biases (int32) in KiB (> 0), or ``None``
            for no flash constraint.
        objective: ``macs`` (minimise MACs including recompute, the latency proxy) or
            ``accuracy`` (maximise the published float ImageNet top-1 % of the width x resolution,
            ties broken by MACs; needs every choice to have a published number).
        widths, resolutions: network choices (MobileNetV2 space; default the real network).
        kernel_choices, expansion_choices: per-block depthwise kernel and expansion choices;
            with more than one choice the design gets one entry per block (17 and 16).
        grids: patches per side offered (each >= 1); a grid larger than the split's feature map
            is clamped to its smaller side (metric ``grid`` reports the grid used).
        bytes_per_element: activation bytes (1 = int8).
    """

    env_id = "codesign/PatchInference-v0"

    def __init__(self, sram_kib: float = 256.0, flash_kib: float | None = None, objective: str = "macs", widths: Sequence[float] = (1.0,),
                 resolutions: Sequence[int] = (224,), kernel_choices: Sequence[int] = (3,), expansion_choices: Sequence[int] = (6,),
                 grids: Sequence[int] = _DEFAULT_GRIDS, bytes_per_element: int = 1):
        self.sram_kib = _check_budget("sram_kib", sram_kib)
        self.flash_kib = _check_budget("flash_kib", flash_kib, optional=True)
        if objective not in OBJECTIVES:
            raise ValueError(f"objective {objective!r} is not known; expected one of {tuple(OBJECTIVES)}")
        self.objective_kind = objective
        self.objective = OBJECTIVES[objective]
        self.widths = _choices("widths", widths, float, lambda w: w > 0)
        self.resolutions = _choices("resolutions", resolutions, int, lambda r: r >= 32)
        self.kernels = _choices("kernel_choices", kernel_choices, int, lambda k: k >= 1 and k % 2 == 1)
        self.expansions = _choices("expansion_choices", expansion_choices, int, lambda e: e >= 2)
        self.grids = _choices("grids", grids, int, lambda g: g >= 1)
        if isinstance(bytes_per_element, bool) or not isinstance(bytes_per_element, (int, np.integer)) or bytes_per_element < 1:
            raise ValueError(f"bytes_per_element={bytes_per_element!r}; expected a positive integer (1 for int8 activations)")
        self.bytes_per_element = int(bytes_per_element)
        self.per_block = len(self.kernels) > 1 or len(self.expansions) > 1
        if objective == "accuracy":
            self._check_published()
        #: number of split choices: 0 = no patch stage, k = after block output k-1 (the stem is block 0)
        self.num_splits = 1 + NUM_BLOCKS + 1
        names = ["split", "grid", "width", "resolution"]
        nvec = [self.num_splits, len(self.grids), len(self.widths), len(self.resolutions)]
        if self.per_block:
            names += [f"kernel_{i}" for i in range(NUM_BLOCKS)] + [f"expansion_{i}" for i in range(1, NUM_BLOCKS)]
            nvec += [len(self.kernels)] * NUM_BLOCKS + [len(self.expansions)] * (NUM_BLOCKS - 1)
        self.space = DesignSpace(tuple(names), np.array(nvec, dtype=np.int64))
        self._options = {"sram_kib": self.sram_kib, "flash_kib": self.flash_kib, "objective": objective, "widths": list(self.widths),
                         "resolutions": list(self.resolutions), "kernel_choices": list(self.kernels),
                         "expansion_choices": list(self.expansions), "grids": list(self.grids), "bytes_per_element": self.bytes_per_element}
        self._bounds()

    def _check_published(self) -> None:
        missing = [(w, r) for w in self.widths for r in self.resolutions if published_top1(w, r) is None]
        custom = self.kernels != (3,) or self.expansions != (6,)
        if missing or custom:
            raise ValueError(
                f"objective 'accuracy' needs a published top-1 for every choice; none for (width, resolution) {missing}"
                f"{' or for kernel/expansion choices' if custom else ''}; "
                f"expected widths in (0.35, 0.5, 0.75, 1.0) x resolutions in (96, 128, 160, 192, 224), or 1.3/1.4 at 224, "
                f"default kernels (3) and expansions (6)"
            )

    @property
    def label(self) -> str:
        """``mobilenet_v2@<resolution>x<width>|sram<S>KiB[|flash<F>KiB]`` (the results' ``problem``
        column), with further choices appended where the space offers them."""
        res, wid = "/".join(map(str, self.resolutions)), "/".join(f"{w:g}" for w in self.widths)
        text = f"mobilenet_v2@{res}x{wid}|sram{self.sram_kib:g}KiB" + ("" if self.flash_kib is None else f"|flash{self.flash_kib:g}KiB")
        extra = [("k", self.kernels, (3,)), ("e", self.expansions, (6,)), ("grids", self.grids, _DEFAULT_GRIDS)]
        text += "".join(f"|{tag}{'/'.join(map(str, v))}" for tag, v, default in extra if v != default)
        text += "" if self.objective_kind == "macs" else f"|{self.objective_kind}"
        return text + ("" if self.bytes_per_element == 1 else f"|{self.bytes_per_element}B")

    # ------------------------------------------------------------------ evaluation
    def _bounds(self) -> None:
        """Exact MAC bounds of the space: the smallest network layer by layer (``macs_norm``) and
        the costliest schedule of the largest network at each resolution (``macs_max``); MACs grow
        with width, kernel and expansion, so these are extremes."""
        kmin, kmax = min(self.kernels), max(self.kernels)
        emin, emax = min(self.expansions), max(self.expansions)
        low, high = [], []
        for r in self.resolutions:
            small, _, _ = _network(min(self.widths), r, (kmin,) * NUM_BLOCKS, (emin,) * (NUM_BLOCKS - 1))
            low.append(int(small.macs.sum()))
            big, ends, _ = _network(max(self.widths), r, (kmax,) * NUM_BLOCKS, (emax,) * (NUM_BLOCKS - 1))
            side = np.minimum(big.out_rows[ends], big.out_cols[ends])
            grid = np.minimum(np.array(self.grids)[None, :], side[:, None])
            high.append(int(patch_memory(big, ends[:, None], grid).macs.max()))
        self.macs_norm = float(min(low))
        self.macs_max = float(max(high))

    def decode(self, designs: np.ndarray) -> dict[str, np.ndarray]:
        """Index designs (N, D) to values: ``width``, ``resolution`` (N,), ``kernels`` (N, 17),
        ``expansions`` (N, 16), ``split_index`` (N,), ``grid_choice`` (N,) (before clamping)."""
        d = self.space.check(designs)
        n = d.shape[0]
        out = {"split_index": d[:, 0], "grid_choice": np.array(self.grids)[d[:, 1]], "width": np.array(self.widths)[d[:, 2]],
               "resolution": np.array(self.resolutions)[d[:, 3]]}
        if self.per_block:
            out["kernels"] = np.array(self.kernels)[d[:, 4 : 4 + NUM_BLOCKS]]
            out["expansions"] = np.array(self.expansions)[d[:, 4 + NUM_BLOCKS :]]
        else:
            out["kernels"] = np.full((n, NUM_BLOCKS), self.kernels[0])
            out["expansions"] = np.full((n, NUM_BLOCKS - 1), self.expansions[0])
        return out

    def _price(self, v: dict[str, np.ndarray], keys: list[tuple]) -> dict[str, np.ndarray]:
        """Cost-model numbers (N,) int64 of decoded designs ``v``, one vectorised call per distinct
        network ``keys[i]`` = (width, resolution, kernels, expansions): ``split_layer`` (-1: none),
        ``grid`` (used), ``peak_bytes``, ``layerwise_peak_bytes``, ``flash_bytes``, ``macs``, ``extra_macs``."""
        n = len(keys)
        names = ("split_layer", "grid", "peak_bytes", "layerwise_peak_bytes", "flash_bytes", "macs", "extra_macs")
        out = {k: np.zeros(n, dtype=np.int64) for k in names}
        groups: dict[tuple, list[int]] = {}
        for i, key in enumerate(keys):
            groups.setdefault(key, []).append(i)
        for key, rows in groups.items():
            rows = np.array(rows)
            table, ends, flash = _network(*key)
            s_idx = v["split_index"][rows]
            split = np.where(s_idx == 0, NO_SPLIT, ends[np.maximum(s_idx - 1, 0)])
            side = np.minimum(table.out_rows[np.maximum(split, 0)], table.out_cols[np.maximum(split, 0)])
            grid = np.where(split == NO_SPLIT, 1, np.minimum(v["grid_choice"][rows], side))
            res = patch_memory(table, split, grid, bytes_per_element=self.bytes_per_element)
            out["split_layer"][rows], out["grid"][rows] = split, grid
            out["peak_bytes"][rows], out["layerwise_peak_bytes"][rows] = res.peak_bytes, res.layerwise_peak_bytes
            out["macs"][rows], out["extra_macs"][rows], out["flash_bytes"][rows] = res.macs, res.extra_macs, flash
        return out

    def evaluate(self, designs: np.ndarray) -> Evaluation:
        """Price designs (N, D) int.

        ``objective``: MACs (``macs``) or the published top-1 % (``accuracy``; NaN where none).
        ``fitness``: feasible ``macs / macs_norm`` (>= 1), or ``(100 - top1) / 100 + 1e-3 macs / macs_max``;
        infeasible: the space's worst feasible value times ``1 + overshoot``, so every infeasible
        design ranks below every feasible one and a smaller overshoot is better. ``overshoot``:
        the larger relative excess of SRAM or flash. ``metrics`` (N,): ``split_layer`` (-1: none),
        ``grid`` (used), ``width``, ``resolution``, ``peak_sram_kib``, ``layerwise_peak_kib``,
        ``flash_kib``, ``macs``, ``extra_macs``, ``top1``, ``sram_feasible``, ``flash_feasible``
        (units: :data:`METRIC_UNITS`).
        """
        v = self.decode(designs)
        n = v["width"].size
        keys = [(float(v["width"][i]), int(v["resolution"][i]), tuple(v["kernels"][i].tolist()), tuple(v["expansions"][i].tolist()))
                for i in range(n)]
        priced = self._price(v, keys)
        peak_kib, flash_kib = priced.pop("peak_bytes") / 1024.0, priced.pop("flash_bytes") / 1024.0
        m: dict[str, np.ndarray] = dict(priced)
        m["layerwise_peak_kib"] = m.pop("layerwise_peak_bytes") / 1024.0
        m.update(width=v["width"], resolution=v["resolution"], peak_sram_kib=peak_kib, flash_kib=flash_kib)
        m["top1"] = np.array([np.nan if (t := published_top1(k[0], k[1])) is None or self.per_block else t for k in keys], dtype=np.float64)
        m["sram_feasible"] = peak_kib <= self.sram_kib
        m["flash_feasible"] = np.ones(n, dtype=bool) if self.flash_kib is None else flash_kib <= self.flash_kib
        feasible = m["sram_feasible"] & m["flash_feasible"]
        over = np.maximum(peak_kib / self.sram_kib - 1.0, 0.0)
        if self.flash_kib is not None:
            over = np.maximum(over, flash_kib / self.flash_kib - 1.0)
        if self.objective_kind == "macs":
            objective = m["macs"].astype(np.float64)
            value, worst = m["macs"] / self.macs_norm, self.macs_max / self.macs_norm
        else:
            objective = m["top1"].copy()
            value = (100.0 - m["top1"]) / 100.0 + ACCURACY_TIE_BREAK * m["macs"] / self.macs_max
            worst = 1.0 + ACCURACY_TIE_BREAK
        fitness = np.where(feasible, value, worst * (1.0 + over))
        return Evaluation(fitness, objective, feasible, over, {k: m[k] for k in METRIC_UNITS}, dict(METRIC_UNITS))

    def to_config(self, design: np.ndarray) -> dict[str, Any]:
        """One design (D,) as the schedule it stands for: ``split_layer`` (layer index, -1: none),
        ``grid`` (patches per side, used), ``width``, ``resolution`` (px), ``peak_sram_kib``,
        ``flash_kib``, ``macs``, ``extra_macs`` (+ per-block ``kernels`` and ``expansions``)."""
        designs = np.asarray(design)[None, :]
        m = self.evaluate(designs).metrics
        config = {k: m[k][0].item() for k in CONFIG_KEYS}
        if self.per_block:
            v = self.decode(designs)
            config.update(kernels=v["kernels"][0].tolist(), expansions=v["expansions"][0].tolist())
        return config

    def all_designs(self) -> np.ndarray:
        """Every design of the space, (prod(nvec), D) int64 in lexicographic order."""
        nvec = self.space.nvec
        return np.stack(np.meshgrid(*[np.arange(k) for k in nvec], indexing="ij"), axis=-1).reshape(-1, nvec.size)

    def optimum(self) -> KnownPoint | None:
        """The exact optimum by enumerating the whole space (one evaluation per design; the label
        says how many), where the space has at most :data:`MAX_ENUMERATED` designs (the default
        space: 19 splits x 8 grids = 152); None for larger spaces (per-block choices) or where
        no design is feasible. Computed once per instance."""
        return self._once("optimum", self._enumerate)

    def _enumerate(self) -> KnownPoint | None:
        if int(np.prod(self.space.nvec.astype(float))) > MAX_ENUMERATED:
            return None
        designs = self.all_designs()
        ev = self.evaluate(designs)
        if not ev.feasible.any():
            return None
        i = int(np.argmin(ev.fitness))
        return KnownPoint(float(ev.objective[i]), designs[i], f"exhaustive enumeration of {len(designs)} designs", evals=len(designs))

    def feasible_mask(self) -> np.ndarray | None:
        """(prod(nvec),) bool: which designs of :meth:`all_designs` (row-major flat order) meet the
        budgets, where the space has at most :data:`MAX_ENUMERATED` designs; None beyond. Computed
        once per instance (one evaluation per design)."""
        return self._once("feasible_mask", lambda: None if int(np.prod(self.space.nvec.astype(float))) > MAX_ENUMERATED
                          else self.evaluate(self.all_designs()).feasible)

    def observation(self) -> np.ndarray:
        """The constant observation (2,) float32 in [0, 1]: the SRAM budget over 2048 KiB and the
        flash budget over 16384 KiB (1 without a flash budget), clipped."""
        flash = 1.0 if self.flash_kib is None else min(self.flash_kib / 16384.0, 1.0)
        return np.array([min(self.sram_kib / 2048.0, 1.0), flash], dtype=np.float32)


def _spaces(problem: PatchInferenceProblem) -> tuple[spaces.MultiDiscrete, spaces.Box]:
    return spaces.MultiDiscrete(problem.design_nvec), spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float32)


class _Masks(MaskRows):
    """The envs' masks: the exact joint mask over row-major flat designs is the feasible designs
    (:meth:`PatchInferenceProblem.feasible_mask`; every design where none is feasible), and
    ``action_masks()`` its per-dimension relaxation; every action is allowed where the space is
    too large to enumerate."""

    problem: PatchInferenceProblem

    def _rows(self) -> int:
        return self.num_envs if self._vector else 1

    def _joint_mask_rows(self) -> np.ndarray | None:
        feasible = self.problem.feasible_mask()
        return None if feasible is None else ensure_some_allowed(np.tile(feasible, (self._rows(), 1)))

    def _action_mask_rows(self) -> np.ndarray:
        joint = self._joint_mask_rows()
        return super()._action_mask_rows() if joint is None else dimension_masks(joint, self.problem.space.nvec)


class PatchInferenceEnv(_Masks, gym.Env):
    """One design per episode (one step); reward ``-fitness``; the final ``info`` carries
    :data:`~codesign_gym.envs.episode_info.FINAL_INFO_KEYS` and every metric of the evaluation.
    Keyword options are those of :class:`PatchInferenceProblem`. ``action_masks()`` is the
    per-dimension relaxation of the feasible designs, ``joint_action_masks()`` the exact set."""

    metadata = {"render_modes": []}

    def __init__(self, problem: PatchInferenceProblem | None = None, **problem_options: Any):
        self.problem = make_problem(PatchInferenceProblem, problem, problem_options)
        self.action_space, self.observation_space = _spaces(self.problem)
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._started = True
        return self.problem.observation(), self._with_action_mask({"sram_kib": self.problem.sram_kib})

    def step(self, action):
        check_started(self._started)
        designs = check_actions(self.action_space, action)
        ev = self.problem.evaluate(designs)
        info = final_info(self.problem, designs, ev, 0)
        self._started = False
        return self.problem.observation(), float(-ev.fitness[0]), True, False, self._with_action_mask(info)


class PatchInferenceVectorEnv(_Masks, AutoresetVectorEnv):
    """``num_envs`` one-step episodes stepped as one batch. Autoreset NEXT_STEP (default): after a
    step (which ends every episode) the next step resets every sub-env, ignores its action and
    returns reward 0; SAME_STEP (``autoreset_mode="same_step"``): every step is a design. ``info``
    values are ``(num_envs, ...)`` arrays with gymnasium's ``_key`` masks."""

    def __init__(self, num_envs: int = 1, problem: PatchInferenceProblem | None = None, autoreset_mode: Any = "next_step",
                 **problem_options: Any):
        super().__init__(num_envs, autoreset_mode)
        self.problem = make_problem(PatchInferenceProblem, problem, problem_options)
        self._set_single_spaces(*_spaces(self.problem))

    def _reset_rows(self, rows: np.ndarray) -> None:
        """Nothing to reset: an episode has no state before its one step."""

    def _observe(self) -> np.ndarray:
        return np.tile(self.problem.observation(), (self.num_envs, 1))

    def _reset_info(self) -> dict[str, Any]:
        return {"sram_kib": self.problem.sram_kib}

    def step(self, actions):
        resetting = self._begin_step()
        act = check_actions(self.single_action_space, actions, self.num_envs, ~resetting)
        act = np.where(resetting[:, None], 0, act)  # rows that reset ignore their action
        ev = self.problem.evaluate(act)
        info = self._masked_info(final_info_batch(self.problem, act, ev, ~resetting), ~resetting)
        return self._step_result(self._observe(), np.where(resetting, 0.0, -ev.fitness), ~resetting, info)
