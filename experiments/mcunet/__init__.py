"""The MCUNetV2 experiment: patch-based schedules of a network under an SRAM budget.

``codesign-gym run mcunet --model mobilenet_v2 --sram-kib 256 --budget N --seeds S``

Every method searches ``codesign/PatchInference-v0``'s problem (split after a block x patch grid
of one network, :class:`~codesign_gym.envs.patch_inference.PatchInferenceProblem`) for ``N``
whole-design evaluations; ``exact`` enumerates the space (152 designs by default), the optimum
every ``gap_to_opt`` refers to. RL methods run one-step episodes on RLlib (MLP policy). The
report (:mod:`codesign_gym.experiments.mcunet.report`) tabulates every valid split layer x grid
of the cost model (``schedules.md``, ``schedules.csv``, ``peak_vs_extra_macs.png``).
"""

from __future__ import annotations

import dataclasses

from codesign_gym.agents.rllib.run_options import ONE_STEP_EPISODES
from codesign_gym.experiments.runner.spec import ExperimentDef, option

#: Patches per side offered to the methods.
GRIDS = tuple(range(1, 9))
MODELS = ("mobilenet_v2",)


@dataclasses.dataclass(frozen=True)
class McunetOptions:
    """The network and budgets of ``run mcunet`` (checked when the problem is built)."""

    model: str = option("mobilenet_v2", "network (the env's MobileNetV2 space)", choices=MODELS)
    resolution: int = option(224, "input resolution, px")
    width: float = option(1.0, "width multiplier")
    sram_kib: float = option(256.0, "SRAM budget for activations, KiB")
    flash_kib: float | None = option(None, "flash budget for weights, KiB (none: no flash constraint)")

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"--model {self.model!r}: expected one of {MODELS} (the env's MobileNetV2 space)")


def problems(options: McunetOptions) -> list:
    """The one problem: ``options``' network, split x grid under its budgets, fewest MACs."""
    from codesign_gym.envs.patch_inference import PatchInferenceProblem

    problem = PatchInferenceProblem(sram_kib=options.sram_kib, flash_kib=options.flash_kib, widths=(options.width,),
                                    resolutions=(options.resolution,), grids=GRIDS)
    return [(problem, None)]





EXPERIMENT = ExperimentDef(
    name="mcunet",
    help="MCUNetV2: patch-based schedules under an SRAM budget (codesign/PatchInference-v0)",
    options=McunetOptions,
    problems=problems,
    default_methods=("exact", "random", "genetic", "annealing", "reinforce"),
    default_budget=100,
    default_seeds=3,
    method_options=ONE_STEP_EPISODES,
    report="codesign_gym.experiments.mcunet.report:write_report",
)
