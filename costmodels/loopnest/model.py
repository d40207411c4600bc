"""Timeloop's analytical model of a loop nest, vectorized over a batch of mappings.

What is counted (Timeloop v3 semantics, checked on its reference outputs):

* **Tiles.** The tile of a data space at level ``l`` is the box spanned by every loop at or
  inside ``l`` (temporal and spatial); its size is the level's utilized capacity.
* **Fills** of a level are the words its tile gains over the temporal loops above it, in
  nest order: the whole tile at the first iteration, then one delta per step. A tile that
  is unchanged costs nothing. Timeloop credits a partial overlap only when the step is
  taken by the innermost (non-unit) temporal loop above the level and slides the tile
  FORWARD along a single data-space axis (a sliding window); any other move (a step that
  wraps an inner loop around, even one the data space does not depend on, a backward
  move, a move along two axes) reloads the whole tile. For the output (read-write) data space the first
  load of each point is elided (partial sums start at zero), so its fills are the loads
  minus the distinct points.
* **Reads** of a level serve the fills of the next inner level that keeps the data space
  (its *child*), once per word shared by children that differ only in dimensions the data
  space does not depend on (multicast); the innermost keeper serves the MACs, one read per
  MAC per operand (also de-duplicated across the spatial fan-out below it). Outputs are
  read back for accumulation (every update but the first of each point at the innermost
  keeper) and to refill a child's partial sums.
* **Updates** (outputs only) are the child's write-backs (one per loaded word), reduced
  across children that differ only in dimensions the output does not depend on; the
  innermost keeper takes one update per MAC.
* Counts are totals over the level's utilized instances (per-instance count times the
  product of the spatial factors above the level). Energy charges one action per block of
  ``block_size`` words: ``(reads * E_read + fills * E_write + updates * E_update) / block``,
  plus ``MACs * E_mac``; no leakage and no network (wire) energy.
* **Cycles** are the product of all temporal factors (compute cycles), stretched by
  Timeloop's bandwidth throttling: a level whose per-instance read, write or shared
  (read + write) demand in words per cycle exceeds its bandwidth takes
  ``ceil(compute_cycles / slowdown)`` cycles, the slowdown being the smallest ratio of
  bandwidth to demand; the run takes the largest over the levels (:func:`throttled_cycles`
  follows Timeloop's floating-point steps, so its rounding matches to the cycle).

Overflow: counts are int64 and never wrap. A problem whose MACs or data-space sizes do not fit
int64 is refused when it is built (:class:`~.problem.Problem`); a mapping whose factors could
push a count past int64 (a float64 bound, :func:`_overflow_rows`, a few % of the evaluation time),
or whose throttled cycles do not fit, is invalid with code 5 and all its counts and energies 0.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .architecture import Architecture
from .mapping import Mapping
from .problem import Problem

#: Mappings evaluated per internal chunk (keeps the working set in cache).
CHUNK = 2048

INVALID_REASONS = {
    0: "",
    1: "factors do not multiply to the problem dims",
    2: "spatial factors exceed the fan-out",
    3: "tiles exceed a level's capacity",
    4: "a data space is not kept at the outermost level, or a dummy level keeps data",
    5: "a count would not fit in int64 (the point's counts are reported as 0)",
}
#: Rows whose float64 bound of every count (see :func:`_overflow_rows`) reaches this get code 5
#: (a factor-2 margin below 2^63).
SAFE_BOUND = float(2 ** 62)


@dataclasses.dataclass(frozen=True)
class LoopNestResult:
    """Results for ``B`` mappings; ``L`` storage levels, ``S`` data spaces (the problem's order).

    Access counts are scalar (per-word) totals over utilized instances, int64.
    """

    cycles: np.ndarray  # (B,) int64, after bandwidth throttling
    compute_cycles: np.ndarray  # (B,) int64, product of temporal factors
    macs: int
    utilization: np.ndarray  # (B,) fraction of MAC instances busy per cycle
    utilized_instances: np.ndarray  # (B, L) int64; compute's in utilized_macs
    utilized_macs: np.ndarray  # (B,) int64
    utilized_capacity: np.ndarray  # (B, L, S) words per instance (0 where bypassed)
    reads: np.ndarray  # (B, L, S) int64
    fills: np.ndarray  # (B, L, S) int64
    updates: np.ndarray  # (B, L, S) int64
    energy_pj_by_level: np.ndarray  # (B, L) float64, dynamic
    compute_energy_pj: np.ndarray  # (B,) float64
    energy_pj: np.ndarray  # (B,) float64, total dynamic energy
    invalid_code: np.ndarray  # (B,) int64: 0 valid, else a key of INVALID_REASONS
    _explain: tuple = dataclasses.field(repr=False, compare=False)  # (explainer, row offset) per chunk

    @property
    def valid(self) -> np.ndarray:
        return self.invalid_code == 0

    @property
    def edp(self) -> np.ndarray:
        """Energy-delay product, pJ x cycles."""
        return self.energy_pj * self.cycles

    def reason(self, b: int = 0) -> str:
        """Why mapping ``b`` is invalid, naming the level, the field and the value ('' when valid)."""
        if self.invalid_code[b] == 0:
            return ""
        for explainer, offset, size in self._explain:
            if offset <= b < offset + size:
                return explainer(b - offset)
        raise IndexError(f"mapping {b} out of range")


def evaluate(problem: Problem, arch: Architecture, mapping: Mapping, strict: bool = False) -> LoopNestResult:
    """Price every mapping of the batch. ``strict``: raise ValueError on the first invalid one."""
    L, D, S = arch.num_levels, problem.num_dims, len(problem.data_spaces)
    if mapping.temporal.shape[1:] != (L, D):
        raise ValueError(f"mapping has {mapping.temporal.shape[1]} levels x {mapping.temporal.shape[2]} dims; "
                         f"architecture {arch.name!r} has {L} levels and problem {problem.name!r} {D} dims")
    if np.shape(mapping.keep)[2] != S:
        raise ValueError(f"mapping keep has {np.shape(mapping.keep)[2]} data spaces; problem {problem.name!r} has {S}")
    for field in ("temporal", "spatial_x", "spatial_y"):
        arr = np.asarray(getattr(mapping, field))
        if np.any(arr < 1):
            b, l, d = np.argwhere(arr < 1)[0]
            raise ValueError(f"mapping {b}: {field} factor of {problem.dims[d]} at level {arch.levels[l].name!r} is "
                             f"{int(arr[b, l, d])}; expected a positive integer")
    perm = np.asarray(mapping.permutation)
    if np.any(np.sort(perm, axis=-1) != np.arange(D)):
        b, l = np.argwhere(np.any(np.sort(perm, axis=-1) != np.arange(D), axis=-1))[0]
        raise ValueError(f"mapping {b}: permutation {perm[b, l].tolist()} at level {arch.levels[l].name!r} "
                         f"is not a permutation of the {D} dimension indices")
    parts = [_evaluate_chunk(problem, arch, mapping, start, min(start + CHUNK, mapping.batch))
             for start in range(0, mapping.batch, CHUNK)]
    result = parts[0] if len(parts) == 1 else _concat(parts)
    if strict and not result.valid.all():
        b = int(np.argmin(result.valid))
        raise ValueError(f"invalid mapping{f' {b}' if mapping.batch > 1 else ''}: {result.reason(b)}")
    return result


def _concat(parts: list[LoopNestResult]) -> LoopNestResult:
    fields = {}
    for f in dataclasses.fields(LoopNestResult):
        values = [getattr(p, f.name) for p in parts]
        if f.name == "macs":
            fields[f.name] = values[0]
        elif f.name == "_explain":
            offset, chunks = 0, []
            for part in parts:
                for explainer, _, size in part._explain:
                    chunks.append((explainer, offset, size))
                    offset += size
            fields[f.name] = tuple(chunks)
        else:
            fields[f.name] = np.concatenate(values)
    return LoopNestResult(**fields)


def _evaluate_chunk(problem: Problem, arch: Architecture, mapping: Mapping, lo: int, hi: int) -> LoopNestResult:
    L, D, S = arch.num_levels, problem.num_dims, len(problem.data_spaces)
    B = hi - lo
    temporal = np.asarray(mapping.temporal[lo:hi], dtype=np.int64)
    spatial_x = np.asarray(mapping.spatial_x[lo:hi], dtype=np.int64)
    spatial_y = np.asarray(mapping.spatial_y[lo:hi], dtype=np.int64)
    over, count_bound, dim_totals = _overflow_rows(problem, temporal, spatial_x, spatial_y)
    if over.any():  # priced as a trivial mapping (no wrapped intermediates), then zeroed and marked invalid
        temporal, spatial_x, spatial_y = (np.where(over[:, None, None], 1, a) for a in (temporal, spatial_x, spatial_y))
    spatial = spatial_x * spatial_y
    perm = np.asarray(mapping.permutation[lo:hi], dtype=np.int64)
    keep = np.asarray(mapping.keep[lo:hi], dtype=bool)
    bounds = np.asarray(problem.bounds, dtype=np.int64)

    # Per level: utilized instances above it, and the per-instance problem extent.
    spatial_prod = np.prod(spatial, axis=2)  # (B, L)
    utilized = np.ones((B, L + 1), dtype=np.int64)
    utilized[:, 1:] = np.cumprod(spatial_prod, axis=1)  # utilized[:, l]: instances of level l; [:, L]: MACs
    spatial_above = np.ones((B, L + 1, D), dtype=np.int64)
    spatial_above[:, 1:] = np.cumprod(spatial, axis=1)
    compute_cycles = np.prod(temporal, axis=(1, 2))
    macs = problem.macs

    # Dimensions of bound 1 only ever have unit loops: leave them out of the loop analysis.
    active = np.flatnonzero(bounds > 1)
    Da = active.size
    remap = np.full(D, -1, dtype=np.int64)
    remap[active] = np.arange(Da)
    perm_a = remap[perm[np.broadcast_to((bounds > 1)[perm], perm.shape)].reshape(B, L, Da)]  # (B, L, Da)
    t_a = temporal[:, :, active]
    sp_a = spatial[:, :, active]
    # extent[b, l, d]: every factor of dim d at level l or inside it (the tile extent at l).
    extent = np.ones((B, L + 1, Da), dtype=np.int64)
    extent[:, :L] = np.cumprod((t_a * sp_a)[:, ::-1], axis=1)[:, ::-1]
    # Each level has one temporal loop per dim, so a loop's stride is independent of the
    # order: everything inside its level's loop of that dim (the level's spatial factor, the
    # inner levels' factors).
    stride_by_level = extent[:, 1:] * sp_a  # (B, L, Da)
    # The temporal loops in nest order, outermost first: level by level, in permutation
    # order. Loops of the innermost level never step above a level boundary.
    n = (L - 1) * Da
    loop_dim = perm_a[:, :L - 1].reshape(B, n)
    loop_f = np.take_along_axis(t_a[:, :L - 1], perm_a[:, :L - 1], axis=2).reshape(B, n)
    stride = np.take_along_axis(stride_by_level[:, :L - 1], perm_a[:, :L - 1], axis=2).reshape(B, n)
    # Steps of loop j (iterations after its first) over the whole nest above it.
    outer_trips = np.ones((B, n), dtype=np.int64)
    outer_trips[:, 1:] = np.cumprod(loop_f[:, :-1], axis=1)
    steps = (loop_f - 1) * outer_trips
    loop_index = np.arange(n)

    # The innermost nontrivial loop above each level boundary (-1: none); only its step can
    # slide a tile partially.
    last_nontrivial = [np.max(np.where(loop_f[:, :l * Da] > 1, loop_index[:l * Da], -1), axis=1, initial=-1) if l else None
                       for l in range(L)]

    tiles = np.zeros((B, L, S), dtype=np.int64)
    loads = np.zeros((B, L, S), dtype=np.int64)  # per instance: whole first tile + deltas
    partition = np.zeros((B, L, S), dtype=np.int64)
    for s, space in enumerate(problem.data_spaces):
        full_proj = space.matrix(D)
        proj = full_proj[active]
        proj = proj[:, proj.any(axis=0)]  # axes spanned by active dims only (others have extent 1)
        kept_somewhere = keep[:, :, s].any(axis=0)
        for l in range(L):
            axes = (extent[:, l] - 1) @ proj + 1  # (B, K)
            tiles[:, l, s] = np.prod(axes, axis=1)
            if space.read_write:
                partition[:, l, s] = np.prod((bounds // spatial_above[:, l] - 1) @ full_proj + 1, axis=1)
        levels = [l for l in range(1, L) if kept_somewhere[l]]
        loads[:, :, s] = tiles[:, :, s]
        if not levels:
            continue
        if _is_simple(proj):
            # Each axis is one dim: a move is non-zero iff the stepping loop or a wrapped inner
            # loop indexes the data space, and a step always clears the whole tile (a loop
            # above a level strides at least the tile's extent), so there is no partial slide.
            relevant = proj.any(axis=1)[loop_dim]  # (B, n)
            relevant_suffix = np.zeros((B, n + 1), dtype=np.int64)
            relevant_suffix[:, :n] = np.cumsum((relevant & (loop_f > 1))[:, ::-1], axis=1)[:, ::-1]
            for l in levels:
                boundary = l * Da
                moved = relevant[:, :boundary] | (relevant_suffix[:, 1:boundary + 1] > relevant_suffix[:, boundary][:, None])
                loads[:, l, s] = tiles[:, l, s] * (1 + np.sum(steps[:, :boundary] * moved, axis=1))
            continue
        # General projections (sliding windows): moves in data-space coordinates when loop j
        # steps (+stride along its dim) and when it wraps around ((f-1)*stride back). int32
        # halves the memory traffic; axes are padded to an even count so that pairs of int32
        # can be tested as one int64.
        K = proj.shape[1]
        # int32 unless a data-space axis of some row spans 2^30 words or more (it would wrap)
        idt = np.int32 if _max_axis_span(dim_totals[active], proj) < 2 ** 30 else np.int64
        padded = np.zeros((Da, K + K % 2), dtype=idt)
        padded[:, :K] = proj
        step_move = stride.astype(idt)[:, :, None] * padded[loop_dim]  # (B, n, K')
        wrap_suffix = np.zeros((B, n + 1, padded.shape[1]), dtype=idt)
        wrap_suffix[:, :n] = np.cumsum(((loop_f - 1).astype(idt)[:, :, None] * step_move)[:, ::-1], axis=1, dtype=idt)[:, ::-1]
        step_minus_inner_wraps = step_move - wrap_suffix[:, 1:]
        for l in levels:
            boundary = l * Da
            axes = (extent[:, l] - 1) @ proj + 1
            tile = tiles[:, l, s]
            # Loop j < boundary steps; the loops between it and the boundary wrap back. Any
            # move reloads the whole tile, except a forward slide along one axis by the
            # innermost nontrivial loop above the boundary (handled below).
            shift = step_minus_inner_wraps[:, :boundary] + wrap_suffix[:, boundary][:, None, :]
            pairs = shift if idt is np.int64 else shift.view(np.int64)
            merged = pairs[:, :, 0]
            for k in range(1, pairs.shape[2]):
                merged = merged | pairs[:, :, k]
            load = tile * (1 + np.sum(steps[:, :boundary] * (merged != 0), axis=1))
            last = last_nontrivial[l]
            rows = np.flatnonzero(last >= 0)
            if rows.size:
                j = last[rows]
                v = shift[rows, j, :K]  # (R, K)
                nonzero = v != 0
                along = np.argmax(nonzero, axis=1)
                amount = v[np.arange(rows.size), along]
                ext = axes[rows, along]
                forward = (nonzero.sum(axis=1) == 1) & (amount > 0) & (amount < ext)
                saved = np.where(forward, tile[rows] - (tile[rows] // ext) * amount, 0)
                load[rows] -= steps[rows, j] * saved
            loads[:, l, s] = load

    reads = np.zeros((B, L, S), dtype=np.int64)
    fills = np.zeros((B, L, S), dtype=np.int64)
    updates = np.zeros((B, L, S), dtype=np.int64)
    utilized_capacity = np.where(keep, tiles, 0)
    for s, space in enumerate(problem.data_spaces):
        irrelevant = ~space.relevant_dims(D)
        # Product of spatial factors of irrelevant dims per level: multicast / reduction.
        shared = np.prod(np.where(irrelevant, spatial, 1), axis=2)  # (B, L)
        for l in range(L):
            kept_l = keep[:, l, s]
            inner_kept = keep[:, l + 1:, s]
            has_child = inner_kept.any(axis=1)
            child = (l + 1 + np.argmax(inner_kept, axis=1)) if l + 1 < L else np.full(B, L)
            child = np.where(has_child, child, L)
            # Multicast factor over the levels between l (inclusive) and the child (exclusive).
            levels = np.arange(L)[None, :]
            between = (levels >= l) & (levels < child[:, None])
            sharing = np.prod(np.where(between, shared, 1), axis=1)
            child_loads = np.take_along_axis(loads[:, :, s], np.minimum(child, L - 1)[:, None], axis=1)[:, 0]
            child_part = np.take_along_axis(partition[:, :, s], np.minimum(child, L - 1)[:, None], axis=1)[:, 0]
            child_inst = np.take_along_axis(utilized, child[:, None], axis=1)[:, 0]
            is_top = ~keep[:, :l, s].any(axis=1)
            if space.read_write:
                child_fills = (child_loads - child_part) * child_inst
                child_drains = child_loads * child_inst
                r = np.where(has_child, child_fills // sharing, 0)
                u = np.where(has_child, child_drains // sharing, macs // sharing)
                own_first = partition[:, l, s] * utilized[:, l]
                r = np.where(has_child, r, u - own_first)
                f = np.where(is_top, 0, (loads[:, l, s] - partition[:, l, s]) * utilized[:, l])
            else:
                child_fills = child_loads * child_inst
                r = np.where(has_child, child_fills // sharing, macs // sharing)
                u = np.zeros(B, dtype=np.int64)
                f = np.where(is_top, 0, loads[:, l, s] * utilized[:, l])
            reads[:, l, s] = np.where(kept_l, r, 0)
            updates[:, l, s] = np.where(kept_l, u, 0)
            fills[:, l, s] = np.where(kept_l, f, 0)

    energy_by_level = _storage_energy(arch, reads, fills, updates, utilized[:, :L], spatial_x, spatial_y)
    compute_energy = np.full(B, macs * arch.compute.mac_energy, dtype=np.float64)
    energy = energy_by_level.sum(axis=1) + compute_energy

    cycles, cycles_over, cycles_f = throttled_cycles(arch, compute_cycles, reads, fills, updates, utilized[:, :L])
    cycles_over = cycles_over & ~over  # rows already over were priced as trivial mappings
    over = over | cycles_over
    count_bound = np.where(cycles_over, cycles_f, count_bound)

    code, explainer = _validity(problem, arch, temporal, spatial_x, spatial_y, keep, utilized_capacity)
    if over.any():
        code[over] = 5
        for a in (cycles, compute_cycles, utilized, utilized_capacity, reads, fills, updates, energy_by_level, compute_energy, energy):
            a[over] = 0
        explainer = _overflow_explainer(explainer, code, count_bound, cycles_over)
    utilization = np.divide(macs, (cycles * arch.compute.instances).astype(np.float64),
                            out=np.zeros(B, dtype=np.float64), where=cycles > 0)
    return LoopNestResult(
        cycles=cycles, compute_cycles=compute_cycles, macs=macs, utilization=utilization,
        utilized_instances=utilized[:, :L], utilized_macs=utilized[:, L], utilized_capacity=utilized_capacity,
        reads=reads, fills=fills, updates=updates, energy_pj_by_level=energy_by_level,
        compute_energy_pj=compute_energy, energy_pj=energy, invalid_code=code, _explain=((explainer, 0, B),),
    )


def _overflow_rows(problem: Problem, temporal, spatial_x, spatial_y):
    """``(over, bound, totals)``: per row, a float64 upper bound of every count the
    int64 model forms -- ``max(product of all factors, MACs) ** m * W``, ``m`` the most axes of
    one data space a dimension indexes, ``W`` the largest product over a data space's axes of
    ``1 + sum |coefficient|`` (window and stride terms) -- and whether it reaches
    :data:`SAFE_BOUND` (those rows are marked invalid, code 5, instead of wrapping); ``totals``
    (D,): the largest product of one dimension's factors over the rows that are not marked."""
    D = problem.num_dims
    factors = temporal.astype(np.float64) * spatial_x * spatial_y  # (B, L, D); no int64 product
    with np.errstate(over="ignore"):
        per_dim = np.prod(factors, axis=1)  # (B, D)
        fprod = np.maximum(np.prod(per_dim, axis=1), float(problem.macs))
    mult, window = 1, 1.0
    for space in problem.data_spaces:
        mat = np.abs(space.matrix(D))
        mult = max(mult, int((mat != 0).sum(axis=1).max()))
        window = max(window, float(np.prod(mat.sum(axis=0) + 1.0)))
    with np.errstate(over="ignore"):
        bound = fprod ** mult * window
    over = bound >= SAFE_BOUND
    totals = per_dim[~over].max(axis=0) if (~over).any() else np.ones(D)
    return over, bound, totals


def _max_axis_span(totals, proj: np.ndarray) -> float:
    """Upper bound of the data-space axis extents (words) along ``proj`` given each dimension's
    largest factor product ``totals``."""
    spans = (totals - 1.0) @ np.abs(proj) + 1.0
    return float(spans.max()) if spans.size else 0.0


def _overflow_explainer(explain, code, count_bound, cycles_over):
    """``explain`` extended with the message of code 5 (counts, or throttled cycles, beyond int64)."""
    def explain_all(b: int) -> str:
        if code[b] == 5 and cycles_over[b]:
            return (f"bandwidth-throttled cycles would not fit in int64: ~{count_bound[b]:.3g} "
                    f"(at most {np.iinfo(np.int64).max} can be represented); expected larger bandwidths")
        if code[b] == 5:
            return (f"counts would not fit in int64: the loop factors bound them by ~{count_bound[b]:.3g} "
                    f"(at most {np.iinfo(np.int64).max} can be represented); expected smaller factors or problem bounds")
        return explain(b)

    return explain_all


def _is_simple(proj: np.ndarray) -> bool:
    """Each axis is a single dimension with a positive coefficient, no dimension on two axes."""
    return bool(np.all(np.count_nonzero(proj, axis=0) == 1) and np.all(np.count_nonzero(proj, axis=1) <= 1) and np.all(proj >= 0))


def _storage_energy(arch: Architecture, reads, fills, updates, utilized, spatial_x, spatial_y) -> np.ndarray:
    """Dynamic energy per level, pJ (B, L): per instance and data space, each action is charged
    once per started block (``ceil(words / block_size)``), times the utilized instances, or the
    utilized clusters where instances share an access."""
    B, L, _ = reads.shape
    out = np.zeros((B, L), dtype=np.float64)
    for l, lvl in enumerate(arch.levels):
        inst = np.maximum(utilized[:, l], 1)[:, None]
        per_action = 0.0
        for counts, energy in ((reads, lvl.energy.read), (fills, lvl.energy.write), (updates, lvl.energy.update)):
            blocks = -(-(counts[:, l] // inst) // lvl.block_size)  # (B, S) per instance
            per_action = per_action + blocks.sum(axis=1) * energy
        copies = utilized[:, l] if lvl.cluster_size == 1 else _utilized_clusters(arch, l, spatial_x, spatial_y)
        out[:, l] = per_action * copies
    return out


def _utilized_clusters(arch: Architecture, level: int, spatial_x, spatial_y) -> np.ndarray:
    """Clusters of ``cluster_size`` consecutive instances (row-major on the mesh, X fastest)
    holding at least one utilized instance of ``level``; spatial factors occupy the first
    children of each parent along X and Y, as Timeloop places them."""
    B = spatial_x.shape[0]
    used_x = np.ones((B, 1), dtype=bool)
    used_y = np.ones((B, 1), dtype=bool)
    for l in range(level):
        fx, fy = arch.fanout(l)
        kx = np.arange(fx)[None, :] < np.prod(spatial_x[:, l], axis=1)[:, None]
        ky = np.arange(fy)[None, :] < np.prod(spatial_y[:, l], axis=1)[:, None]
        used_x = (used_x[:, :, None] & kx[:, None, :]).reshape(B, -1)
        used_y = (used_y[:, :, None] & ky[:, None, :]).reshape(B, -1)
    lvl = arch.levels[level]
    c, mx = lvl.cluster_size, lvl.mesh_x
    if c % mx == 0:  # a cluster spans c / mx whole rows
        rows = used_y.reshape(B, -1, c // mx).any(axis=2)
        return rows.sum(axis=1) * used_x.any(axis=1)
    if mx % c == 0:  # a row holds mx / c clusters
        return used_y.sum(axis=1) * used_x.reshape(B, -1, c).any(axis=2).sum(axis=1)
    raise ValueError(f"level {lvl.name!r}: cluster_size {c} must divide, or be a multiple of, meshX {mx}")


def throttled_cycles(arch: Architecture, compute_cycles, reads, fills, updates, utilized):
    """Timeloop's bandwidth throttling (``BufferLevel::ComputePerformance`` and
    ``Topology::ComputeStats``, v3.0.3), with its floating-point steps in its order so that
    the rounding is the same:

    * per level and data space, the per-instance demand in words per cycle is
      ``double(count) / compute_cycles``, reads for the read demand and fills + updates for
      the write demand; the level's read (write) demand is the sum over data spaces in the
      problem's order, accumulated from 0.0;
    * the level's slowdown starts at 1.0 and takes the minimum with ``read_bandwidth /
      read demand``, ``write_bandwidth / write demand`` and ``shared_bandwidth / (write +
      read demand)``, each only where the bandwidth is given and below its demand;
    * the level takes ``ceil(compute_cycles / slowdown)`` cycles and the run the largest of
      these over the levels and compute (``compute_cycles``): slowdowns do not compound.

    Per-instance counts are the totals over utilized instances divided by them (exact).
    Returns ``(cycles int64, over, cycles float64)`` (B,): ``over`` marks rows whose
    stretched cycles do not fit int64 (their cycles: 0)."""
    limited = [(l, lvl) for l, lvl in enumerate(arch.levels)
               if lvl.read_bandwidth is not None or lvl.write_bandwidth is not None or lvl.shared_bandwidth is not None]
    if not limited:
        return compute_cycles, np.zeros(compute_cycles.shape, dtype=bool), compute_cycles.astype(np.float64)
    cc = compute_cycles.astype(np.float64)
    slowdown = np.ones(cc.shape, dtype=np.float64)
    S = reads.shape[2]
    for l, lvl in limited:
        inst = np.maximum(utilized[:, l], 1)
        read_demand = np.zeros(cc.shape, dtype=np.float64)
        write_demand = np.zeros(cc.shape, dtype=np.float64)
        for s in range(S):  # data space by data space, as Timeloop accumulates them
            read_demand = read_demand + (reads[:, l, s] // inst).astype(np.float64) / cc
            write_demand = write_demand + ((fills[:, l, s] + updates[:, l, s]) // inst).astype(np.float64) / cc
        for bandwidth, demand in ((lvl.read_bandwidth, read_demand), (lvl.write_bandwidth, write_demand),
                                  (lvl.shared_bandwidth, None)):
            if bandwidth is None:
                continue
            if demand is None:
                demand = write_demand + read_demand
            short = bandwidth < demand  # only then can bandwidth / demand be below 1 (demand > 0)
            ratio = np.divide(bandwidth, demand, out=np.ones(cc.shape, dtype=np.float64), where=short)
            slowdown = np.minimum(slowdown, ratio)
    throttled = slowdown < 1.0
    # max over levels of ceil(cc / slowdown_l) == ceil(cc / min slowdown): IEEE division is monotone.
    stretched = np.where(throttled, np.ceil(cc / slowdown), cc)
    over = throttled & ~(stretched < 2.0 ** 63)  # also NaN / inf
    cycles = np.where(throttled, np.where(over, 0.0, stretched).astype(np.int64), compute_cycles)
    return cycles, over, stretched


def _validity(problem, arch, temporal, spatial_x, spatial_y, keep, utilized_capacity):
    """Per-row invalid code (see INVALID_REASONS) and a function that explains a row."""
    B, L, D = temporal.shape
    bounds = np.asarray(problem.bounds, dtype=np.int64)
    product = np.prod(temporal * spatial_x * spatial_y, axis=1)  # (B, D)
    bad_factors = np.any(product != bounds, axis=1)
    fan = np.array([arch.fanout(l) for l in range(L)], dtype=np.int64)  # (L, 2)
    over_x = np.prod(spatial_x, axis=2) > fan[:, 0]
    over_y = np.prod(spatial_y, axis=2) > fan[:, 1]
    bad_fanout = np.any(over_x | over_y, axis=1)
    capacity = np.array([lvl.capacity_words if lvl.capacity_words is not None else np.iinfo(np.int64).max for lvl in arch.levels])
    over_capacity = utilized_capacity.sum(axis=2) > capacity
    bad_capacity = np.any(over_capacity, axis=1)
    dummy = np.array([lvl.dummy for lvl in arch.levels])
    bad_keep = ~keep[:, 0, :].all(axis=1) | np.any(keep & dummy[None, :, None], axis=(1, 2))
    code = np.select([bad_factors, bad_fanout, bad_capacity, bad_keep], [1, 2, 3, 4], 0).astype(np.int64)

    def explain(b: int) -> str:
        """The message for row ``b`` of this chunk (built only when asked for)."""
        if code[b] == 1:
            d = int(np.argmax(product[b] != bounds))
            return (f"factors of {problem.dims[d]} multiply to {int(product[b, d])} over the levels; "
                    f"expected the problem bound {int(bounds[d])}")
        if code[b] == 2:
            l = int(np.argmax(over_x[b] | over_y[b]))
            axis, used, avail = ("X", np.prod(spatial_x[b, l]), fan[l, 0]) if over_x[b, l] else ("Y", np.prod(spatial_y[b, l]), fan[l, 1])
            return (f"level {arch.levels[l].name!r}: spatial_{axis.lower()} factors multiply to {int(used)}; "
                    f"expected at most the fan-out {int(avail)} along {axis}")
        if code[b] == 3:
            l = int(np.argmax(over_capacity[b]))
            return (f"level {arch.levels[l].name!r}: tiles need {int(utilized_capacity[b, l].sum())} words; "
                    f"expected at most its capacity {int(capacity[l])}")
        missing = [problem.data_spaces[s].name for s in range(keep.shape[2]) if not keep[b, 0, s]]
        if missing:
            return f"level {arch.levels[0].name!r} (outermost) must keep every data space; it bypasses {', '.join(missing)}"
        l = int(np.argmax(np.any(keep[b] & dummy[:, None], axis=1)))
        return f"level {arch.levels[l].name!r} is a dummy level and cannot keep data"

    return code, explain
