"""``codesign/PatchInference-v0``: choose a patch-based schedule (and network) for a microcontroller
(MCUNetV2, NeurIPS 2021) under SRAM and flash budgets.

One episode is one design, one step: the action picks where the patch stage ends (after a
block, or no patch stage), the patch grid, and, when the options offer several, the network's
width, resolution and per-block kernel and expansion (MobileNetV2 space,
:mod:`codesign_gym.costmodels.mobilenet_space`). Peak SRAM, flash and MACs come from
:mod:`codesign_gym.costmodels.patch_memory`.

:class:`PatchInferenceProblem` holds the design space, budgets and batched scoring, shared by
the single env and the native vector env. See ``docs/envs/patch_inference.md``.
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
from codesign_gym.envs.design_space import Evaluation, check_integer_designs
from codesign_gym.envs.vector_base import NextStepVectorEnv, check_started

OBJECTIVES = ("macs", "accuracy")
#: Weight of MACs (over the space's maximum) that breaks ties between equally accurate designs.
ACCURACY_TIE_BREAK = 1e-3


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


class PatchInferenceProblem:
    """The design space, budgets and batched scoring.

    Args:
        sram_kib: SRAM budget for activations in KiB (> 0), e.g. 256, 320, 512.
        flash_kib: flash budget for weights (int8) and biases (int32) in KiB (> 0), or ``None``
            for no flash constraint.
        objective: ``macs`` (minimise MACs including recompute, the latency proxy) or
            ``accuracy`` (maximise the published float ImageNet top-1 of the width x resolution,
            ties broken by MACs; needs every choice to have a published number).
        widths, resolutions: network choices (MobileNetV2 space; default the real network).
        kernel_choices, expansion_choices: per-block depthwise kernel and expansion choices;
            with more than one choice the action gets one entry per block (17 and 16).
        grids: patches per side offered (each >= 1); a grid larger than the split's feature map
            is clamped to its smaller side (``info["grid"]`` reports the grid used).
        bytes_per_element: activation bytes (1 = int8).
    """

    def __init__(
        self,
        sram_kib: float = 256.0,
        flash_kib: float | None = None,
        objective: str = "macs",
        widths: Sequence[float] = (1.0,),
        resolutions: Sequence[int] = (224,),
        kernel_choices: Sequence[int] = (3,),
        expansion_choices: Sequence[int] = (6,),
        grids: Sequence[int] = tuple(range(1, 9)),
        bytes_per_element: int = 1,
    ):
        for name, value in (("sram_kib", sram_kib), ("flash_kib", flash_kib)):
            if value is None and name == "flash_kib":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value) or value <= 0:
                raise ValueError(f"{name}={value!r}; expected a positive budget in KiB")
        if objective not in OBJECTIVES:
            raise ValueError(f"objective {objective!r} is not known; expected one of {OBJECTIVES}")
        self.sram_kib = float(sram_kib)
        self.flash_kib = None if flash_kib is None else float(flash_kib)
        self.objective = objective
        self.widths = _choices("widths", widths, float, lambda w: w > 0)
        self.resolutions = _choices("resolutions", resolutions, int, lambda r: r >= 32)
        self.kernels = _choices("kernel_choices", kernel_choices, int, lambda k: k >= 1 and k % 2 == 1)
        self.expansions = _choices("expansion_choices", expansion_choices, int, lambda e: e >= 2)
        self.grids = _choices("grids", grids, int, lambda g: g >= 1)
        self.bytes_per_element = int(bytes_per_element)
        self.per_block = len(self.kernels) > 1 or len(self.expansions) > 1
        if objective == "accuracy":
            missing = [(w, r) for w in self.widths for r in self.resolutions if published_top1(w, r) is None]
            if missing or self.kernels != (3,) or self.expansions != (6,):
                raise ValueError(
                    f"objective 'accuracy' needs a published top-1 for every choice; none for (width, resolution) {missing}"
                    f"{' or for kernel/expansion choices' if (self.kernels != (3,) or self.expansions != (6,)) else ''}; "
                    f"expected widths in (0.35, 0.5, 0.75, 1.0) x resolutions in (96, 128, 160, 192, 224), or 1.3/1.4 at 224, "
                    f"default kernels (3) and expansions (6)"
                )
        #: number of split choices: 0 = no patch stage, k = after block output k-1 (the stem is block 0)
        self.num_splits = 1 + NUM_BLOCKS + 1
        nvec = [self.num_splits, len(self.grids), len(self.widths), len(self.resolutions)]
        if self.per_block:
            nvec += [len(self.kernels)] * NUM_BLOCKS + [len(self.expansions)] * (NUM_BLOCKS - 1)
        self.design_nvec = np.array(nvec, dtype=np.int64)
        self._bounds()

    # ------------------------------------------------------------------ scoring
    def _bounds(self) -> None:
        """Exact MAC bounds of the space: the smallest network layer by layer (lower) and the
        costliest schedule of the largest network at each resolution (upper); MACs grow with
        width, kernel and expansion, so these are extremes."""
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
        ``expansions`` (N, 16), ``split_index`` (N,), ``grid_choice`` (N,)."""
        d = self.check_designs(designs)
        n = d.shape[0]
        out = {
            "split_index": d[:, 0],
            "grid_choice": np.array(self.grids)[d[:, 1]],
            "width": np.array(self.widths)[d[:, 2]],
            "resolution": np.array(self.resolutions)[d[:, 3]],
        }
        if self.per_block:
            out["kernels"] = np.array(self.kernels)[d[:, 4 : 4 + NUM_BLOCKS]]
            out["expansions"] = np.array(self.expansions)[d[:, 4 + NUM_BLOCKS :]]
        else:
            out["kernels"] = np.full((n, NUM_BLOCKS), self.kernels[0])
            out["expansions"] = np.full((n, NUM_BLOCKS - 1), self.expansions[0])
        return out

    def check_designs(self, designs: np.ndarray) -> np.ndarray:
        """``designs`` (N, D) as int64, checked against :attr:`design_nvec`."""
        return check_integer_designs(designs, self.design_nvec)

    def evaluate_designs(self, designs: np.ndarray) -> dict[str, np.ndarray]:
        """Score designs (N, D); returns (N,) arrays: ``split_layer`` (-1: none), ``grid`` (used),
        ``width``, ``resolution``, ``peak_sram_kib``, ``layerwise_peak_kib``, ``flash_kib``,
        ``macs``, ``extra_macs``, ``top1`` (published float top-1 %, NaN where none),
        ``sram_feasible``, ``flash_feasible``, ``feasible``, ``objective`` and ``overshoot``."""
        v = self.decode(designs)
        n = v["width"].size
        keys = [(float(v["width"][i]), int(v["resolution"][i]), tuple(v["kernels"][i].tolist()), tuple(v["expansions"][i].tolist())) for i in range(n)]
        out = {k: np.zeros(n, dtype=np.int64) for k in ("split_layer", "grid", "peak_bytes", "layerwise_peak_bytes", "flash_bytes", "macs", "extra_macs")}
        groups: dict[tuple, list[int]] = {}
        for i, key in enumerate(keys):
            groups.setdefault(key, []).append(i)
        for key, rows in groups.items():  # one vectorised cost-model call per distinct network
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
        peak_kib = out.pop("peak_bytes") / 1024.0
        flash_kib = out.pop("flash_bytes") / 1024.0
        metrics: dict[str, np.ndarray] = dict(out)
        metrics["layerwise_peak_kib"] = metrics.pop("layerwise_peak_bytes") / 1024.0
        metrics.update(width=v["width"], resolution=v["resolution"], peak_sram_kib=peak_kib, flash_kib=flash_kib)
        metrics["top1"] = np.array([np.nan if (t := published_top1(k[0], k[1])) is None or self.per_block else t for k in keys])
        metrics["sram_feasible"] = peak_kib <= self.sram_kib
        metrics["flash_feasible"] = np.ones(n, dtype=bool) if self.flash_kib is None else flash_kib <= self.flash_kib
        metrics["feasible"] = metrics["sram_feasible"] & metrics["flash_feasible"]
        over = np.maximum(peak_kib / self.sram_kib - 1.0, 0.0)
        if self.flash_kib is not None:
            over = np.maximum(over, flash_kib / self.flash_kib - 1.0)
        metrics["overshoot"] = over
        metrics["objective"] = metrics["macs"].astype(np.float64) if self.objective == "macs" else 100.0 - metrics["top1"]
        return metrics

    def fitness(self, metrics: dict[str, np.ndarray]) -> np.ndarray:
        """Minimised score: feasible ``macs/macs_norm`` (>= 1) or ``error/100 + 1e-3 macs/macs_max``;
        infeasible: the space's worst feasible value times ``1 + overshoot``, so every infeasible
        design ranks below every feasible one and a smaller overshoot is better."""
        if self.objective == "macs":
            value, worst = metrics["macs"] / self.macs_norm, self.macs_max / self.macs_norm
        else:
            value = metrics["objective"] / 100.0 + ACCURACY_TIE_BREAK * metrics["macs"] / self.macs_max
            worst = 1.0 + ACCURACY_TIE_BREAK
        return np.where(metrics["feasible"], value, worst * (1.0 + metrics["overshoot"]))

    def score(self, designs: np.ndarray) -> Evaluation:
        """Black-box view for search methods (see :class:`~codesign_gym.envs.design_space.Evaluation`)."""
        m = self.evaluate_designs(designs)
        return Evaluation(fitness=self.fitness(m), objective=m["objective"], feasible=m["feasible"])

    def observation(self) -> np.ndarray:
        """The constant observation (2,) float32 in [0, 1]: the SRAM budget over 2048 KiB and the
        flash budget over 16384 KiB (1 without a flash budget), clipped."""
        flash = 1.0 if self.flash_kib is None else min(self.flash_kib / 16384.0, 1.0)
        return np.array([min(self.sram_kib / 2048.0, 1.0), flash], dtype=np.float32)


def _step_info(problem: PatchInferenceProblem, metrics: dict[str, np.ndarray], designs: np.ndarray, fitness: np.ndarray) -> dict[str, np.ndarray]:
    info = {k: metrics[k] for k in ("split_layer", "grid", "width", "resolution", "peak_sram_kib", "layerwise_peak_kib",
                                    "flash_kib", "macs", "extra_macs", "top1", "sram_feasible", "flash_feasible", "feasible", "objective")}
    info["fitness"] = fitness
    info["design"] = designs.copy()
    return info


def _spaces(problem: PatchInferenceProblem) -> tuple[spaces.MultiDiscrete, spaces.Box]:
    return spaces.MultiDiscrete(problem.design_nvec), spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float32)


class PatchInferenceEnv(gym.Env):
    """One design per episode (one step). Keyword options are those of :class:`PatchInferenceProblem`."""

    metadata = {"render_modes": []}

    def __init__(self, problem: PatchInferenceProblem | None = None, **problem_options: Any):
        self.problem = problem if problem is not None else PatchInferenceProblem(**problem_options)
        self.action_space, self.observation_space = _spaces(self.problem)
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._started = True
        return self.problem.observation(), {"sram_kib": self.problem.sram_kib}

    def step(self, action):
        check_started(self._started)
        act = np.asarray(action)
        if act.shape != self.problem.design_nvec.shape:
            raise ValueError(f"action {action!r} is outside the action space; expected {self.problem.design_nvec.size} integer indices "
                             f"(nvec={self.problem.design_nvec.tolist()})")
        designs = act[None, :]
        m = self.problem.evaluate_designs(designs)
        fit = self.problem.fitness(m)
        info = {k: (v[0].item() if np.ndim(v[0]) == 0 else v[0]) for k, v in _step_info(self.problem, m, designs, fit).items()}
        self._started = False
        return self.problem.observation(), float(-fit[0]), True, False, info


class PatchInferenceVectorEnv(NextStepVectorEnv):
    """``num_envs`` one-step episodes stepped as one batch, autoreset NEXT_STEP: after a step
    (which ends every episode) the next step resets every sub-env, ignores its action and returns
    reward 0; ``info`` values are ``(num_envs, ...)`` arrays with gymnasium's ``_key`` masks."""

    def __init__(self, num_envs: int = 1, problem: PatchInferenceProblem | None = None, **problem_options: Any):
        super().__init__(num_envs)
        self.problem = problem if problem is not None else PatchInferenceProblem(**problem_options)
        self._set_single_spaces(*_spaces(self.problem))

    def _obs(self) -> np.ndarray:
        return np.tile(self.problem.observation(), (self.num_envs, 1))

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed, options=options)
        return self._obs(), {}

    def step(self, actions):
        resetting = self._begin_step()
        act = np.asarray(actions)
        D = self.problem.design_nvec.size
        if act.shape != (self.num_envs, D) or act.dtype.kind not in "iu":
            raise ValueError(f"actions have shape {act.shape} and dtype {act.dtype}; expected integers of shape ({self.num_envs}, {D})")
        act = np.where(resetting[:, None], 0, act)  # rows that reset ignore their action
        m = self.problem.evaluate_designs(act)
        fit = self.problem.fitness(m)
        info = self._masked_info(_step_info(self.problem, m, act, fit), ~resetting)
        return self._step_result(self._obs(), np.where(resetting, 0.0, -fit), ~resetting, info)
