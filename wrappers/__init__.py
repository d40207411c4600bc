"""Public wrappers: ``MultiDiscrete`` actions as ``Discrete`` for any env, action masks carried.

>>> import gymnasium as gym, codesign_gym.envs
>>> from codesign_gym.wrappers import FlattenMultiDiscrete
>>> env = FlattenMultiDiscrete(gym.make("codesign/ResourceAssignment-v0"))   # Discrete(144)

The implementation is :mod:`codesign_gym.envs.wrappers` (the registered ``-Discrete-v0``
variants use it); this package is its public name.
"""

from codesign_gym.envs.wrappers import MAX_FLAT_ACTIONS, FlattenMultiDiscrete, VectorFlattenMultiDiscrete

__all__ = ["FlattenMultiDiscrete", "MAX_FLAT_ACTIONS", "VectorFlattenMultiDiscrete"]
