"""A small vectorized mapper: the best loop-nest mapping of one layer on one accelerator.

Every design (searched or baseline) is mapped by this same search, so no design gains from
a weaker mapper than another. A :class:`MapSpace` states what the accelerator allows: which
dims may be spread across each fan-out (X and Y), which dims may have temporal loops at each
level, what each level keeps, and optionally a fixed loop order. The search then

1. draws ``samples`` random mappings inside the map space: spatial factors favour filling the
   array (the largest fitting divisor with probability 0.7, else a random fitting divisor);
   the remaining prime factors of each dim go to the allowed temporal levels with per-sample
   random level weights; loop orders are random unless fixed;
2. always adds the trivially valid mapping (every loop temporal at the outermost level);
3. refines the best few by moving one prime factor between temporal levels, for ``rounds``
   rounds;

and returns the valid mapping of least ``objective`` (energy-delay product by default).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from codesign_gym.costmodels.loopnest import Architecture, LoopNestResult, Mapping, Problem, evaluate
from codesign_gym.costmodels.loopnest.random_mappings import prime_factors


@dataclasses.dataclass(frozen=True)
class MapSpace:
    """Mapping constraints of an accelerator (dim names; ``None`` = no constraint).

    ``spatial_x[l]`` / ``spatial_y[l]``: dims that may be spread across level ``l``'s fan-out
    along X / Y. ``temporal[l]``: dims that may loop in time at level ``l`` (the outermost
    level always accepts every dim). ``keep[l]``: data-space names level ``l`` holds.
    ``order[l]``: a fixed loop order at level ``l``, outermost first.
    """

    spatial_x: dict[int, tuple[str, ...]]
    spatial_y: dict[int, tuple[str, ...]]
    temporal: dict[int, tuple[str, ...] | None]
    keep: dict[int, tuple[str, ...]]
    order: dict[int, tuple[str, ...]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class MappingChoice:
    """The chosen mapping (a batch of one) and its evaluation; ``evaluated`` mappings were priced."""

    mapping: Mapping
    result: LoopNestResult
    evaluated: int

    @property
    def cycles(self) -> int:
        return int(self.result.cycles[0])

    @property
    def energy_pj(self) -> float:
        return float(self.result.energy_pj[0])


def _keep_array(problem: Problem, arch: Architecture, space: MapSpace) -> np.ndarray:
    keep = np.zeros((arch.num_levels, len(problem.data_spaces)), dtype=bool)
    for l in range(arch.num_levels):
        names = space.keep.get(l, () if arch.levels[l].dummy else tuple(ds.name for ds in problem.data_spaces))
        for name in names:
            keep[l, problem.data_space_index(name)] = True
    return keep


def _allowed_temporal(problem: Problem, arch: Architecture, space: MapSpace) -> np.ndarray:
    """(L, D) bool: may dim d loop in time at level l (always at the outermost level; never at
    a dummy level unless the map space says so; elsewhere as ``space.temporal`` says, default any)."""
    allowed = np.zeros((arch.num_levels, problem.num_dims), dtype=bool)
    allowed[0] = True
    for l in range(1, arch.num_levels):
        if l not in space.temporal:
            allowed[l] = not arch.levels[l].dummy
        elif space.temporal[l] is None:
            allowed[l] = True
        else:
            for dim in space.temporal[l]:
                allowed[l, problem.dim_index(dim)] = True
    return allowed


def sample_mappings(problem: Problem, arch: Architecture, space: MapSpace, n: int, rng: np.random.Generator) -> Mapping:
    """``n`` mappings inside ``space`` whose factors multiply to the problem dims."""
    L, D = arch.num_levels, problem.num_dims
    temporal = np.ones((n, L, D), dtype=np.int64)
    spatial_x = np.ones((n, L, D), dtype=np.int64)
    spatial_y = np.ones((n, L, D), dtype=np.int64)
    remaining = np.tile(np.asarray(problem.bounds, dtype=np.int64), (n, 1))
    for l in range(L):
        fan = arch.fanout(l)
        for axis, dims, target in ((0, space.spatial_x.get(l, ()), spatial_x), (1, space.spatial_y.get(l, ()), spatial_y)):
            capacity = np.full(n, fan[axis], dtype=np.int64)
            for dim in rng.permutation(list(dims)) if dims else ():
                d = problem.dim_index(str(dim))
                divisors = np.array([k for k in range(1, problem.bounds[d] + 1) if problem.bounds[d] % k == 0], dtype=np.int64)
                fits = (divisors[None, :] <= capacity[:, None]) & (remaining[:, d:d + 1] % divisors[None, :] == 0)
                largest = np.max(np.where(fits, divisors[None, :], 1), axis=1)
                # A uniformly random fitting divisor: rank the fitting ones by a random key.
                keys = np.where(fits, rng.random(fits.shape), -1.0)
                random_pick = divisors[np.argmax(keys, axis=1)]
                factor = np.where(rng.random(n) < 0.7, largest, random_pick)
                target[:, l, d] = factor
                remaining[:, d] //= factor
                capacity //= factor
    allowed = _allowed_temporal(problem, arch, space)
    for d in range(D):
        levels = np.flatnonzero(allowed[:, d])
        weights = rng.dirichlet(np.ones(levels.size), size=n) if levels.size > 1 else np.ones((n, 1))
        cumulative = np.cumsum(weights, axis=1)
        for prime in prime_factors(problem.bounds[d]):
            takes = remaining[:, d] % prime == 0
            slot = np.minimum((rng.random(n)[:, None] > cumulative).sum(axis=1), levels.size - 1)
            rows = np.flatnonzero(takes)
            temporal[rows, levels[slot[rows]], d] *= prime
            remaining[rows, d] //= prime
    permutation = np.argsort(rng.random((n, L, D)), axis=2).astype(np.int64)
    for l, order in space.order.items():
        fixed = [problem.dim_index(x) for x in order]
        fixed += [d for d in range(D) if d not in fixed]
        permutation[:, l] = fixed
    keep = np.broadcast_to(_keep_array(problem, arch, space), (n, L, len(problem.data_spaces))).copy()
    return Mapping(temporal, permutation, spatial_x, spatial_y, keep)


def trivial_mapping(problem: Problem, arch: Architecture, space: MapSpace) -> Mapping:
    """Every loop temporal at the outermost level: inner tiles of one word, always within capacity."""
    L, D = arch.num_levels, problem.num_dims
    temporal = np.ones((1, L, D), dtype=np.int64)
    temporal[0, 0] = problem.bounds
    permutation = np.tile(np.arange(D, dtype=np.int64), (1, L, 1))
    keep = _keep_array(problem, arch, space)[None]
    return Mapping(temporal, permutation, np.ones_like(temporal), np.ones_like(temporal), keep)


def _smallest_prime_factor(values: np.ndarray) -> np.ndarray:
    """Smallest prime factor of each positive integer (a prime and 1 map to themselves)."""
    values = np.asarray(values, dtype=np.int64)
    out = values.copy()
    for p in range(2, int(np.sqrt(max(int(values.max(initial=1)), 1))) + 1):
        hit = (out == values) & (values > p) & (values % p == 0)
        out[hit] = p
    return out


def _perturb(problem: Problem, arch: Architecture, space: MapSpace, parents: Mapping, n: int, rng: np.random.Generator) -> Mapping:
    """Children of ``parents``: one prime factor of one dim moved between allowed temporal
    levels, and with probability 0.3 a new loop order at one level whose order is not fixed."""
    allowed = _allowed_temporal(problem, arch, space)  # (L, D)
    L, D = allowed.shape
    pick = rng.integers(0, parents.batch, size=n)
    temporal = parents.temporal[pick].copy()
    perm = parents.permutation[pick].copy()
    rows = np.arange(n)
    d = rng.integers(0, D, size=n)
    can = allowed[:, d].T  # (n, L) allowed levels of each child's dim
    factors = temporal[rows, :, d]  # (n, L)
    src_ok = can & (factors > 1)
    src = np.argmax(np.where(src_ok, rng.random((n, L)), -1.0), axis=1)
    dst_ok = can & (np.arange(L)[None, :] != src[:, None])
    dst = np.argmax(np.where(dst_ok, rng.random((n, L)), -1.0), axis=1)
    movable = src_ok.any(axis=1) & dst_ok.any(axis=1)
    prime = _smallest_prime_factor(factors[rows, src])
    r = rows[movable]
    temporal[r, src[movable], d[movable]] //= prime[movable]
    temporal[r, dst[movable], d[movable]] *= prime[movable]
    free_levels = np.array([l for l in range(L) if l not in space.order], dtype=np.int64)
    if free_levels.size:
        reorder = rows[rng.random(n) < 0.3]
        levels = free_levels[rng.integers(0, free_levels.size, size=reorder.size)]
        perm[reorder, levels] = np.argsort(rng.random((reorder.size, D)), axis=1)
    return Mapping(temporal, perm, parents.spatial_x[pick].copy(), parents.spatial_y[pick].copy(), parents.keep[pick].copy())


def _score(result: LoopNestResult, objective: str) -> np.ndarray:
    value = {"edp": result.energy_pj * result.cycles, "energy": result.energy_pj, "latency": result.cycles.astype(np.float64)}[objective]
    return np.where(result.valid, value, np.inf)


def best_mapping(problem: Problem, arch: Architecture, space: MapSpace, samples: int = 1024, rounds: int = 2,
                 objective: str = "edp", seed: int = 0) -> MappingChoice:
    """The least-``objective`` valid mapping found (see the module docstring); deterministic per seed."""
    if objective not in ("edp", "energy", "latency"):
        raise ValueError(f"objective {objective!r}; expected edp, energy or latency")
    if samples < 1 or rounds < 0:
        raise ValueError(f"samples={samples}, rounds={rounds}; expected samples >= 1 and rounds >= 0")
    rng = np.random.default_rng(seed)
    pool = Mapping.stack([trivial_mapping(problem, arch, space), sample_mappings(problem, arch, space, samples, rng)])
    result = evaluate(problem, arch, pool)
    evaluated = pool.batch
    score = _score(result, objective)
    for _ in range(rounds):
        top = np.argsort(score)[: max(1, min(16, int(np.isfinite(score).sum())))]
        parents = Mapping(*(np.asarray(getattr(pool, f.name))[top] for f in dataclasses.fields(Mapping)))
        children = _perturb(problem, arch, space, parents, max(1, samples // 4), rng)
        child_result = evaluate(problem, arch, children)
        evaluated += children.batch
        pool = Mapping.stack([parents, children])
        result = _concat_results(result, top, child_result)
        score = _score(result, objective)
    b = int(np.argmin(score))
    if not np.isfinite(score[b]):
        raise ValueError(f"no valid mapping of {problem.name!r} on {arch.name!r}: even one-word tiles do not fit "
                         f"({result.reason(0)})")
    return MappingChoice(pool.row(b), _result_row(result, b), evaluated)


def _result_row(result: LoopNestResult, b: int) -> LoopNestResult:
    """Row ``b`` of a result as a batch of one."""
    fields = {}
    for f in dataclasses.fields(LoopNestResult):
        value = getattr(result, f.name)
        if f.name == "macs":
            fields[f.name] = value
        elif f.name == "_explain":
            fields[f.name] = ((lambda i, r=result, row=b: r.reason(row), 0, 1),)
        else:
            fields[f.name] = np.asarray(value)[b:b + 1]
    return LoopNestResult(**fields)


def _concat_results(previous: LoopNestResult, top: np.ndarray, children: LoopNestResult) -> LoopNestResult:
    """Results of the kept parents (rows ``top`` of ``previous``) followed by the children's."""
    fields = {}
    for f in dataclasses.fields(LoopNestResult):
        a, b = getattr(previous, f.name), getattr(children, f.name)
        if f.name == "macs":
            fields[f.name] = a
        elif f.name == "_explain":
            fields[f.name] = ((lambda i, r=previous, t=top: r.reason(int(t[i])), 0, top.size),
                              (lambda i, r=children: r.reason(i), top.size, children.cycles.size))
        else:
            fields[f.name] = np.concatenate([np.asarray(a)[top], np.asarray(b)])
    return LoopNestResult(**fields)
