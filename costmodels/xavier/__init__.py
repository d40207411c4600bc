"""HADAS (DATE 2023) on a Jetson AGX Xavier: AttentiveNAS backbones with early exits and DVFS,
priced per inference by a latency and per-rail power model fitted on measured AGX rows.

>>> import numpy as np
>>> from codesign_gym.costmodels.xavier import XavierSpace
>>> space = XavierSpace("cifar-100")
>>> res = space.evaluate(["a0"], np.ones((1, space.max_exits), bool), policy="oracle")
>>> res.energy_mj, res.accuracy
>>> static_backbone("a6")["energy_mj"]  # a static backbone needs no exit accuracies

Modules: :mod:`.board` (frequency levels, power modes), :mod:`.backbones` (exact per-block work),
:mod:`.exits` (exit accuracies, oracle and threshold policies), :mod:`.model` (latency and the
power rails of segments), :mod:`.evaluate` (whole designs, static backbones), :mod:`.fit` (the
stored fits). Shipped data
and their sources: ``data/README.md``.
"""

from codesign_gym.costmodels.xavier.backbones import BACKBONES, DATASET_CLASSES, BackboneConfig, BackboneWork, backbone_config, load_backbone
from codesign_gym.costmodels.xavier.board import DOMAINS, PowerMode, XavierBoard, load_board
from codesign_gym.costmodels.xavier.evaluate import POLICY_LABELS, XavierResult, XavierSpace, final_accuracy, static_backbone, stored_rho
from codesign_gym.costmodels.xavier.exits import (
    EXIT_SETS,
    POLICIES,
    ExitBehaviour,
    PolicyOutcome,
    available_backbones,
    exit_accuracy,
    latent_behaviour,
    oracle_policy,
    threshold_policy,
)
from codesign_gym.costmodels.xavier.model import (
    SCOPES,
    WORK,
    OtherRails,
    VoltageCurve,
    XavierParams,
    load_params,
    segment_cost,
    stored_fit,
)

__all__ = [
    "BACKBONES", "BackboneConfig", "BackboneWork", "DATASET_CLASSES", "DOMAINS", "EXIT_SETS", "ExitBehaviour", "OtherRails", "POLICIES",
    "POLICY_LABELS", "PolicyOutcome", "PowerMode", "SCOPES", "VoltageCurve", "WORK", "XavierBoard", "XavierParams", "XavierResult",
    "XavierSpace", "available_backbones", "backbone_config", "exit_accuracy", "final_accuracy", "latent_behaviour", "load_backbone",
    "load_board", "load_params", "oracle_policy", "segment_cost", "static_backbone", "stored_fit", "stored_rho", "threshold_policy",
]
