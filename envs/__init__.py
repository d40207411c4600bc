"""Gymnasium environments for hardware-software co-design, registered on import.

>>> import gymnasium, codesign_gym.envs
>>> env = gymnasium.make("codesign/ResourceAssignment-v0", workload="cfx/mobilenet_v2", dataflow="dla")

Every number in a reward comes from a cost model in :mod:`codesign_gym.costmodels`.
"""

from codesign_gym.envs.registration import ALL_IDS, ENV_IDS, VARIANT_IDS, env_classes, problem_class, register_all

register_all()

__all__ = ["ALL_IDS", "ENV_IDS", "VARIANT_IDS", "env_classes", "problem_class", "register_all"]
