"""Random mappings whose factors multiply to the problem dims (for search, tests and benchmarks).

Each dimension's bound is split into its prime factors; every prime goes to one *slot*: a
temporal loop of some level or a spatial loop (X or Y) of a level with a fan-out. Loop orders
are random permutations. Keep/bypass follows ``keep`` (default: every real level keeps every
data space). The mappings respect the factor products by construction; fan-out and capacity
may still be exceeded, which :func:`.model.evaluate` reports as invalid.
"""

from __future__ import annotations

import numpy as np

from .architecture import Architecture
from .mapping import Mapping
from .problem import Problem


def prime_factors(n: int) -> list[int]:
    """Prime factors of a positive integer with multiplicity, ascending."""
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"prime_factors({n!r}): expected a positive integer")
    out, p = [], 2
    while p * p <= n:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    if n > 1:
        out.append(int(n))
    return out


def random_mappings(problem: Problem, arch: Architecture, n: int, rng: np.random.Generator,
                    spatial: bool = True, keep: np.ndarray | None = None) -> Mapping:
    """``n`` random mappings (see the module docstring). ``spatial=False`` keeps every loop temporal."""
    if n < 1:
        raise ValueError(f"random_mappings: n={n}; expected a positive count")
    L, D, S = arch.num_levels, problem.num_dims, len(problem.data_spaces)
    slots = [("t", l) for l in range(L) if not arch.levels[l].dummy or l == 0]
    if spatial:
        for l in range(L):
            fx, fy = arch.fanout(l)
            if fx > 1:
                slots.append(("x", l))
            if fy > 1:
                slots.append(("y", l))
    temporal = np.ones((n, L, D), dtype=np.int64)
    spatial_x = np.ones((n, L, D), dtype=np.int64)
    spatial_y = np.ones((n, L, D), dtype=np.int64)
    targets = {"t": temporal, "x": spatial_x, "y": spatial_y}
    rows = np.arange(n)
    for d, bound in enumerate(problem.bounds):
        for prime in prime_factors(int(bound)):
            choice = rng.integers(0, len(slots), size=n)
            for k, (kind, l) in enumerate(slots):
                hit = rows[choice == k]
                targets[kind][hit, l, d] *= prime
    permutation = np.argsort(rng.random((n, L, D)), axis=2).astype(np.int64)
    if keep is None:
        keep = np.array([[not lvl.dummy] * S for lvl in arch.levels], dtype=bool)
    keep = np.broadcast_to(np.asarray(keep, dtype=bool), (n, L, S)).copy()
    return Mapping(temporal, permutation, spatial_x, spatial_y, keep)
