"""A literal, slow re-statement of the loop-nest model for small problems, to test the vectorized one.

It walks every iteration of the loops above each level in nest order, builds each tile as an
explicit set of data-space points from the loop indices, and applies Timeloop's delta rule to
consecutive tiles (an unchanged tile costs nothing; an overlap is credited only for a forward
slide along one axis by the innermost loop, i.e. when no inner loop wrapped; anything else
reloads the tile). Reads and updates come from enumerating the child instances of each parent
and grouping those that see the same data. Nothing is shared with the vectorized code except
the problem / architecture / mapping objects.
"""

from __future__ import annotations

import itertools

import numpy as np


def _loops(problem, arch, mapping):
    """[(level, kind, dim, factor)] outermost first; kind 't' temporal or 's' spatial."""
    out = []
    for l in range(arch.num_levels):
        for d in mapping.permutation[0, l]:
            out.append((l, "t", int(d), int(mapping.temporal[0, l, d])))
        for d in range(problem.num_dims):
            out.append((l, "s", d, int(mapping.spatial_x[0, l, d] * mapping.spatial_y[0, l, d])))
    return out


def _strides(loops, num_dims):
    strides = []
    for j, (_, _, d, _) in enumerate(loops):
        s = 1
        for (_, _, d2, f2) in loops[j + 1:]:
            if d2 == d:
                s *= f2
        strides.append(s)
    return strides


def _box(space, num_dims, base, extent):
    lo = [sum(c * base[d] for d, c in axis) for axis in space.projection]
    hi = [sum(c * (base[d] + extent[d] - 1) for d, c in axis) for axis in space.projection]
    return tuple(lo), tuple(hi)


def loads_per_instance(problem, arch, mapping, level: int, s: int) -> int:
    """Whole first tile plus Timeloop deltas over the temporal loops above ``level`` (instance 0)."""
    loops = _loops(problem, arch, mapping)
    strides = _strides(loops, problem.num_dims)
    space = problem.data_spaces[s]
    extent = [1] * problem.num_dims
    for (l, _, d, f) in loops:
        if l >= level:
            extent[d] *= f
    above = [j for j, (l, kind, _, f) in enumerate(loops) if l < level and kind == "t" and f > 1]
    first_box = _box(space, problem.num_dims, [0] * problem.num_dims, extent)
    tile = int(np.prod([h - l + 1 for l, h in zip(*first_box)]))
    total = 0
    prev_idx = None
    prev_box = None
    for idx in itertools.product(*[range(loops[j][3]) for j in above]):
        base = [0] * problem.num_dims
        for j, i in zip(above, idx):
            base[loops[j][2]] += i * strides[j]
        box = _box(space, problem.num_dims, base, extent)
        if prev_box is None:
            total += tile
        elif box != prev_box:
            changed = [k for k in range(len(idx)) if idx[k] != prev_idx[k]]
            no_wrap = changed == [len(idx) - 1]
            moved = [k for k in range(len(box[0])) if box[0][k] != prev_box[0][k]]
            if no_wrap and len(moved) == 1 and box[0][moved[0]] > prev_box[0][moved[0]]:
                k = moved[0]
                ext = box[1][k] - box[0][k] + 1
                shift = box[0][k] - prev_box[0][k]
                total += tile // ext * min(shift, ext)
            else:
                total += tile
        prev_idx, prev_box = idx, box
    return total


def partition_per_instance(problem, arch, mapping, level: int, s: int) -> int:
    """Distinct points instance 0 of ``level`` ever holds (spatial loops above it fixed at 0)."""
    extent = list(problem.bounds)
    for l in range(level):
        for d in range(problem.num_dims):
            extent[d] //= int(mapping.spatial_x[0, l, d] * mapping.spatial_y[0, l, d])
    lo, hi = _box(problem.data_spaces[s], problem.num_dims, [0] * problem.num_dims, extent)
    return int(np.prod([h - l + 1 for l, h in zip(lo, hi)]))


def _child_groups(problem, mapping, parent: int, child: int, s: int):
    """(children per parent instance, distinct groups that see different data)."""
    relevant = problem.data_spaces[s].relevant_dims(problem.num_dims)
    spatial_loops = [(l, d, int(mapping.spatial_x[0, l, d] * mapping.spatial_y[0, l, d]))
                     for l in range(parent, child) for d in range(problem.num_dims)]
    spatial_loops = [x for x in spatial_loops if x[2] > 1]
    children = 0
    groups = set()
    for idx in itertools.product(*[range(f) for _, _, f in spatial_loops]):
        children += 1
        groups.add(tuple(i for (l, d, f), i in zip(spatial_loops, idx) if relevant[d]))
    return children, len(groups)


def accesses(problem, arch, mapping):
    """(reads, fills, updates) arrays of shape (L, S), totals over utilized instances."""
    L, S = arch.num_levels, len(problem.data_spaces)
    reads = np.zeros((L, S), dtype=np.int64)
    fills = np.zeros((L, S), dtype=np.int64)
    updates = np.zeros((L, S), dtype=np.int64)
    instances = [1]
    for l in range(L):
        instances.append(instances[-1] * int(np.prod(mapping.spatial_x[0, l] * mapping.spatial_y[0, l])))
    for s, space in enumerate(problem.data_spaces):
        kept = [l for l in range(L) if mapping.keep[0, l, s]]
        for pos, l in enumerate(kept):
            child = kept[pos + 1] if pos + 1 < len(kept) else L
            children, groups = _child_groups(problem, mapping, l, child, s)
            load = loads_per_instance(problem, arch, mapping, l, s)
            part = partition_per_instance(problem, arch, mapping, l, s)
            if pos > 0:
                fills[l, s] = (load - part if space.read_write else load) * instances[l]
            macs_per_instance = problem.macs // instances[l]
            if child == L:
                per_child = macs_per_instance // children
                if space.read_write:
                    updates[l, s] = per_child * groups * instances[l]
                    reads[l, s] = updates[l, s] - part * instances[l]
                else:
                    reads[l, s] = per_child * groups * instances[l]
            else:
                child_load = loads_per_instance(problem, arch, mapping, child, s)
                child_part = partition_per_instance(problem, arch, mapping, child, s)
                if space.read_write:
                    reads[l, s] = (child_load - child_part) * groups * instances[l]
                    updates[l, s] = child_load * groups * instances[l]
                else:
                    reads[l, s] = child_load * groups * instances[l]
    return reads, fills, updates
