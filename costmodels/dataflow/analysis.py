"""Vectorized re-implementation of MAESTRO's data-centric dataflow analysis (our own code).

The semantics follow MAESTRO (Kwon et al., MICRO 2019; the ``APIV2`` path that its command-line
tool runs): a dataflow is split at each ``Cluster`` into levels; each directive's loop has an
Init, a Steady (repeated) and an Edge state; the iteration cases are the Cartesian product of the
per-directive states, each weighted by the product of its state counts; per case the model
derives the tiles each sub-cluster receives (with spatial multicast and temporal reuse), the NoC
ingress / egress traffic, and a compute delay (partial sums per PE at the innermost level, the
slowest sub-cluster's whole run at upper levels). Runtime sums ``count x delay`` over cases with
double buffering; access counts and buffer requirements come from the same quantities.

Everything here works on flat 1-D arrays of length ``n`` (one entry per evaluation point) and
loops in Python only over the directives and the iteration cases of one template. Iteration
states that no point of the batch has are pruned, so a batch pays only for the cases it uses.

Deliberate reproduction of MAESTRO quirks (they are part of the reference outputs):

* the per-level reuse tables use the level's *static* tile sizes while the iteration states use
  the *dynamic* sub-cluster tile of the enclosing case;
* edge PEs of a spatial edge use the spatial-edge cluster count of the level's first SpatialMap;
* output rows/cols are taken as ``Y-R+1`` in the output read count (stride ignored);
* a NoC transfer of 0 elements costs ``latency - 1`` cycles;
* MAC over-count at a spatial edge (see :meth:`Analyzer._edge_factor`): when a sliding-window
  dimension (``Y``/``X``, or ``Y'``/``X'`` converted to it) is spatially mapped and its Edge
  iteration has exactly one active sub-cluster (``nedge == 1``), MAESTRO's per-PE output/partial-sum
  volume takes that edge tile's *input* extent ``medge[X]`` instead of its output extent
  ``medge[X] - S + 1``. ``Num MACs`` and the output L1 counts then exceed the ideal
  ``K*C*Y'*X'*R*S`` by ``(S-1)`` (resp. ``R-1``) output columns (rows) per such edge fold, even at
  stride 1. Examples: ``xp`` (``SpatialMap(Sz(S),1) X``) whenever the output columns left after the
  full folds number exactly one (``X' mod P == 1``, ``X' > P``), e.g. K=53 C=33 Y=34 X=16 R=S=3 on
  13 PEs counts 8,059,392 MACs, not 7,051,968 (16 columns counted for X'=14); ``cfx_shi``
  (``SpatialMap(Sz(R),Sz(R)) Y'`` on one top-level sub-cluster, so ``nedge == 1`` always) whenever
  ``Y' mod R != 0`` (in a 5,000-layer random stride-1 sample: exact iff ``Y' mod R == 0``, apart
  from layers with ``Y' < R`` or more PEs than ``X'``, where MAESTRO drops cases as having no
  partial sums and counts *fewer* MACs, down to 0). This is MAESTRO's own behaviour, not ours: in ``GetPEEgressVolume``
  (``CA_reuse-analysis.hpp``, commit 4eb08d17) every branch indexes the mapped-size tables with the
  output-coordinate name except the SpatialMap/Edge branch with one active sub-cluster, which uses
  the input-coordinate one; and the reference rows need it -- using the output extent there
  changes ``Num MACs`` (and runtime) on 31 reference rows, e.g. ``yrp`` r50_c3_3x3 and ``cfx_eye``
  r50_c2_3x3 at stride 1, where the real MAESTRO binary reports more MACs than the ideal. Only
  ``kcp`` and ``cfx_dla`` (spatial maps over ``K``/``C``, never a sliding dimension) count exactly
  the ideal MACs on every stride-1 layer; ``xp`` and ``cfx_shi`` do on pointwise (R=S=1) layers.

Speed: :mod:`.plan` traces this analysis once per (dataflow, layer kind, stride class) on symbols
and compiles it into straight-line array code; :func:`~.model.evaluate` runs those plans. The eager
path (this class on arrays) remains the reference the plans are tested against.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Sequence

from .directives import Directive, Sz

#: Tensor -> coupled dimensions (MAESTRO's ConfigConvTensors, no batch).
COUPLED = {
    "CONV": {"input": ("C", "Y", "X"), "filter": ("K", "C", "R", "S"), "output": ("K", "Y", "X")},
    "DSCONV": {"input": ("C", "Y", "X"), "filter": ("C", "R", "S"), "output": ("C", "Y", "X")},
}
#: Sorted union of the input-class tensors' dims (MAESTRO's GetInputTensorVars).
INPUT_VARS = {k: tuple(sorted(set(v["input"]) | set(v["filter"]))) for k, v in COUPLED.items()}
_OUT_NAME = {"Y": "Y'", "X": "X'"}
_SLIDING = {"Y": "R", "X": "S"}


@dataclasses.dataclass
class _LD:
    """A level directive with resolved (array) size and offset."""

    kind: str  # 'spatial' | 'temporal'
    var: str
    size: Any
    ofs: Any


@dataclasses.dataclass
class _State:
    pos: int  # 0 Init, 1 Steady, 2 Edge
    count: Any
    present: Any  # bool array or True
    edge: Any  # bool array or python bool
    unrolled: Any
    ee: Any  # has spatial edge-edge


@dataclasses.dataclass
class _Level:
    dl: list
    dims: dict
    N: Any
    nedge: Any
    mapped: dict
    unique: dict
    medge: dict
    uedge: dict
    first_sp: int


def _tdiv(xp, a, b):
    """C++ integer division (truncation toward zero) for b > 0."""
    return xp.where(a >= 0, a // b, -((-a) // b))


def _nz(xp, u):
    if isinstance(u, int):
        return u if u != 0 else 1
    return xp.where(u != 0, u, 1)


def _mul(a, b):
    if isinstance(a, int) and a == 1:
        return b
    if isinstance(b, int) and b == 1:
        return a
    return a * b


class _Fast:
    """Wraps an array namespace: collapses uniform boolean arrays to python bools and skips no-op selects."""

    def __init__(self, xp):
        self._xp = xp

    def __getattr__(self, name):
        return getattr(self._xp, name)

    def b(self, x):
        """``x`` as a python bool when uniform over the batch, else unchanged."""
        if isinstance(x, bool):
            return x
        if not self._xp.any(x):
            return False
        if self._xp.all(x):
            return True
        return x

    def where(self, c, a, b):
        if c is True:
            return a
        if c is False:
            return b
        if a is b:
            return a
        if isinstance(a, int) and isinstance(b, int) and a == b:
            return a
        return self._xp.where(c, a, b)

    def any(self, x):
        if isinstance(x, bool):
            return x
        return self._xp.any(x)


class Analyzer:
    """One MAESTRO analysis of a flat batch (all arrays 1-D of equal length, int64).

    Parameters: ``kind`` ``"CONV"`` or ``"DSCONV"`` (MAESTRO's convention: a DSCONV has K=1);
    ``dims`` maps K, C, R, S, Y, X to arrays (Y, X the padded input size); ``stride``; ``P`` PEs;
    ``ktile``; ``bw`` NoC elements/cycle; ``lat`` NoC latency (cycles); ``offchip`` elements/cycle.
    """

    def __init__(self, xp, directives: Sequence[Directive], kind: str, dims: dict, stride, P, ktile, bw, lat, offchip):
        self.xp = xp if getattr(xp, "symbolic", False) else _Fast(xp)
        self.kind = kind
        self.coupled = COUPLED[kind]
        self.input_vars = INPUT_VARS[kind]
        self.full = dict(dims)
        self.full["Y'"] = dims["Y"] - dims["R"] + 1
        self.full["X'"] = dims["X"] - dims["S"] + 1
        self.stride = stride
        self.P = P
        self.ktile = ktile
        self.bw = bw
        self.lat = lat
        self.offchip = offchip
        self.levels = self._build_levels(directives)
        self._memo: dict = {}

    # ------------------------------------------------------------------ level construction
    def _resolve(self, expr):
        if isinstance(expr, int):
            return expr
        if isinstance(expr, Sz):
            return self.full[expr.dim]
        if expr == "KTileSz":
            return self.ktile
        if expr == "ClusterSz":
            return self.P
        if expr == "CTileSz":
            return 1
        raise ValueError(f"cannot resolve size {expr!r}")

    def _build_levels(self, directives):
        xp = self.xp
        groups: list[list[Directive]] = [[]]
        csizes = []
        for d in directives:
            if d.kind == "cluster":
                csizes.append(xp.minimum(self._resolve(d.size), self.P))
                groups.append([])
            else:
                groups[-1].append(d)
        upper = 1
        for c in csizes:
            upper = upper * c
        Ns = [self.P // upper] + csizes
        levels = []
        cur = {k: self.full[k] for k in ("K", "C", "R", "S", "Y", "X", "Y'", "X'")}
        prev = None
        for li, group in enumerate(groups):
            dl = [_LD(d.kind, d.dim, self._resolve(d.size), self._resolve(d.offset)) for d in group]
            # input-centric conversion of output-coordinate maps
            rsz = next((x.size for x in dl if x.var == "R"), self.full["R"])
            ssz = next((x.size for x in dl if x.var == "S"), self.full["S"])
            vars_now = {x.var for x in dl}
            for x in dl:
                if x.var == "Y'" and "Y" not in vars_now:
                    x.var, x.size = "Y", x.size + rsz - 1
                elif x.var == "X'" and "X" not in vars_now:
                    x.var, x.size = "X", x.size + ssz - 1
            if prev is not None:
                for u in prev:
                    if not any(x.var == u.var for x in dl):
                        dl.insert(0, _LD("temporal", u.var, u.size, u.ofs))
            for v in self.input_vars:
                if not any(x.var == v for x in dl):
                    dl.append(_LD("temporal", v, cur[v], cur[v]))
            for x in dl:
                if x.var in ("Y", "X"):
                    f = self.full[_SLIDING[x.var]]
                    s = self.stride
                    cond = (s != 1) & (x.size >= f)
                    if xp.any(cond):
                        out = (x.size + s - f) // s
                        adj = out * xp.minimum(s, f) + xp.maximum(f - s, 0)
                        ofs = out * s
                        if li > 0:
                            ofs = xp.where(f < s, out * f, ofs)
                        x.size = xp.where(cond, adj, x.size)
                        x.ofs = xp.where(cond, ofs, x.ofs)
            N = Ns[li]
            sp = [j for j, x in enumerate(dl) if x.kind == "spatial"]
            if not sp:
                raise ValueError(f"cluster level {li} of the dataflow has no SpatialMap; MAESTRO needs one per level")
            nedge = self._num_edge_clusters(dl[sp[0]], cur, N)
            if not xp.any(nedge != 1):
                nedge = 1
            level = _Level(dl=dl, dims=cur, N=N, nedge=nedge,
                           mapped={}, unique={}, medge={}, uedge={}, first_sp=sp[0])
            self._mapping_tables(level)
            levels.append(level)
            nxt = {}
            for v in self.input_vars:
                x = next(x for x in dl if x.var == v)
                nxt[v] = xp.minimum(x.size, cur[v])
            cur = nxt
            prev = dl
        return levels

    def _num_edge_clusters(self, x, dims, N):
        xp = self.xp
        dim, size, ofs = dims[x.var], x.size, x.ofs
        full_cov = ofs * (N - 1) + size
        steady = ((dim - size) // ofs + 1) // N - 1
        remaining = dim - (steady + 1) * ofs * N
        a = xp.where(remaining < size, 1, (xp.maximum(remaining - size, 0)) // ofs + 1)
        nb = (xp.maximum(dim - size, 0)) // ofs + 1
        nb = xp.where(ofs * (nb - 1) + size < dim, nb + 1, nb)
        b = xp.where(dim > size, nb, 1)
        out = xp.where(dim > full_cov, a, b)
        return xp.where(dim <= size, 1, out)

    def _mapping_tables(self, L: _Level):
        xp = self.xp
        for x in L.dl:
            dim, size, ofs = L.dims[x.var], x.size, x.ofs
            st = xp.maximum((dim - size) // ofs, 0)
            has_edge = xp.b((st * ofs + size < dim) | (size > dim))
            L.mapped[x.var] = size
            uq = ofs if (isinstance(ofs, int) and ofs == 1) else xp.minimum(size, ofs)
            if x.kind == "temporal":
                uq = xp.where(xp.b(dim <= size), 0, uq)
            L.unique[x.var] = uq
            em = dim - (st + 1) * ofs
            em = xp.where(xp.b(em < 0), dim, em)
            L.medge[x.var] = xp.where(has_edge, em, size)
            L.uedge[x.var] = xp.maximum(ofs - (size - em), 0)
        for x in L.dl:
            if x.var in _OUT_NAME:
                o, r = _OUT_NAME[x.var], _SLIDING[x.var]
                L.mapped[o] = L.mapped[x.var] - L.mapped.get(r, 0) + 1
                L.unique[o] = xp.minimum(x.ofs, x.size)
                L.medge[o] = L.medge[x.var] - L.medge.get(r, 0) + 1
                L.uedge[o] = xp.minimum(x.ofs, L.medge[o])

    # ------------------------------------------------------------------ iteration states
    def _states(self, L: _Level, dyn: dict):
        xp = self.xp
        out = []
        for x in L.dl:
            dim, size, ofs = dyn[x.var], x.size, x.ofs
            if x.kind == "temporal":
                init_unroll = xp.b(dim <= size)
                init_edge = xp.b(dim < size)
                ns = _tdiv(xp, dim - size, ofs)
                steady_p = xp.b((size < dim) & (ns > 0))
                edge_p = False if init_edge is True else xp.b((dim > size) & (ns * ofs + size < dim))
                out.append([
                    _State(0, 1, True, init_edge, init_unroll, False),
                    _State(1, ns, steady_p, False, False, False),
                    _State(2, 1, edge_p, True, False, False),
                ])
            else:
                N = L.N
                cov = size + ofs * (N - 1)
                init_unroll = xp.b(dim <= cov)
                init_edge = xp.b(dim < cov)
                ns = _tdiv(xp, _tdiv(xp, dim - size, ofs) + 1, N) - 1
                steady_p = xp.b((cov < dim) & (ns > 0))
                if init_unroll is True:
                    edge_p, ee_edge = False, False
                else:
                    sp_edge = (dim > cov) & (((ns + 1) * ofs * N + cov > dim) & (ns * ofs * N + cov != dim))
                    edge_p = xp.b(sp_edge)
                    ee_edge = False
                    if edge_p is not False:
                        remaining = dim - (ns + 1) * ofs * N
                        active = xp.where(remaining < size, 1, xp.maximum(remaining - size, 0) // ofs + 1)
                        ee_edge = xp.b((active - 1) * ofs + size < remaining)
                out.append([
                    _State(0, 1, True, init_edge, init_unroll, init_edge),
                    _State(1, ns, steady_p, False, False, False),
                    _State(2, 1, edge_p, True, False, ee_edge),
                ])
        return out

    # ------------------------------------------------------------------ reuse analysis
    def _pe_mapped(self, L, case, tvars, first, eepe):
        xp = self.xp
        ret = 1
        for j, x in enumerate(L.dl):
            if x.var not in tvars:
                continue
            st, v = case[j], x.var
            if x.kind == "temporal":
                ret = _mul(ret, xp.where(st.edge, L.medge[v], L.mapped[v]))
            else:
                if eepe:
                    e = L.medge[v]
                elif first:
                    e = xp.where(L.nedge == 1, L.medge[v], L.mapped[v])
                else:
                    e = xp.where(L.nedge == 1, 1, L.mapped[v])
                ret = _mul(ret, xp.where(st.edge, e, L.mapped[v]))
        return ret

    def _pe_ingress(self, L, case, tvars, first, eepe, chg, inited):
        xp = self.xp
        if chg == -1:
            return self._pe_mapped(L, case, tvars, first, eepe)
        ret = 1
        changing = False
        for j, x in enumerate(L.dl):
            if x.var not in tvars:
                continue
            st, v = case[j], x.var
            is_chg = j == chg
            if is_chg:
                changing = True
            if x.kind == "temporal":
                if st.pos == 0:
                    f = xp.where(st.edge, L.medge[v], L.mapped[v])
                elif is_chg:
                    f = xp.where(inited, L.mapped[v], xp.maximum(L.unique[v], 1))
                else:
                    f = L.mapped[v]
            else:
                full = L.medge[v] if eepe else L.mapped[v]
                uniq = L.uedge[v] if eepe else L.unique[v]
                if first:
                    f = full
                elif st.pos == 0:
                    f = full if not (j > chg) else uniq
                elif is_chg:
                    f = xp.where(inited, full, uniq)
                else:
                    f = full
            ret = _mul(ret, f)
        if not changing:
            return 0
        return ret

    def _sp_info(self, L, case, tvars, all_spatial=False):
        """(is_sp_mapped, is_sp_edge, ee flag of the governing spatial state)."""
        mapped = False
        edge = False
        ee = False
        idx = {x.var: j for j, x in enumerate(L.dl)}
        for v in tvars:
            j = idx.get(v)
            if j is not None and L.dl[j].kind == "spatial":
                mapped = True
                edge = edge | case[j].edge
                ee = case[j].ee
        if all_spatial:
            for j, x in enumerate(L.dl):
                if x.kind == "spatial":
                    mapped = True
                    edge = edge | case[j].edge
                    ee = case[j].ee
        return mapped, edge, ee

    def _spatial_ingress(self, L, case, tname, chg, inited):
        tvars = self.coupled[tname]
        mapped, edge, ee = self._sp_info(L, case, tvars)
        pe = lambda first, eepe: self._pe_ingress(L, case, tvars, first, eepe, chg, inited)  # noqa: E731
        if not mapped:
            return pe(True, False)
        return self._combine(L, edge, ee, pe)

    def _combine(self, L, edge, ee, pe):
        """MAESTRO's per-sub-cluster sum: first PE + others (+ the edge-edge PE at a spatial edge)."""
        xp = self.xp
        N, nedge = L.N, L.nedge
        p_tf = pe(True, False)
        p_ff = pe(False, False)
        normal = p_tf + (N - 1) * p_ff
        if edge is False or not xp.any(edge):
            return normal
        n_ee = xp.where(ee, 1, 0)
        n_full = xp.maximum(nedge - n_ee - 1, 0)
        base = xp.where((nedge == 1) & ee, pe(True, True), p_tf)
        extra = xp.where(nedge > 1, n_full * p_ff + n_ee * pe(False, True), 0)
        return xp.where(edge, base + extra, normal)

    def _pe_egress(self, L, case, psum, first, eepe, reuse=True):
        xp = self.xp
        ovars = self.coupled["output"]
        nedge = L.nedge
        ret = 1
        if psum:
            for j, x in enumerate(L.dl):
                if x.var in ovars:
                    continue
                st, v = case[j], x.var
                if x.kind == "temporal":
                    ret = _mul(ret, xp.where(st.edge, L.medge[v], L.mapped[v]))
                    continue
                F = L.mapped[v] if first else _nz(xp, L.unique[v])
                if st.pos == 0:
                    f = xp.where(st.edge, L.medge[v], F) if eepe else F
                elif st.pos == 1:
                    f = F
                else:
                    f = self._edge_factor(L, v, v, first, eepe, F)
                ret = _mul(ret, f)
        idx = {x.var: j for j, x in enumerate(L.dl)}
        for v in ovars:
            j = idx[v]
            x, st = L.dl[j], case[j]
            a = _OUT_NAME.get(v, v)
            if x.kind == "temporal":
                if st.pos == 0:
                    f = xp.where(st.edge, L.medge[a], L.mapped[a])
                elif st.pos == 1:
                    f = L.mapped[a]
                else:
                    f = L.medge[a]
            else:
                F = L.mapped[a] if first else _nz(xp, L.unique[a])
                if st.pos == 0:
                    if eepe:
                        e0 = xp.where(nedge == 1, L.medge[a], L.uedge[a] if reuse else L.medge[a])
                        f = xp.where(st.edge, e0, F)
                    else:
                        f = F
                elif st.pos == 1:
                    f = F
                else:
                    f = self._edge_factor(L, v, a, first, eepe, F)
            ret = _mul(ret, f)
        return ret

    def _edge_factor(self, L, v, a, first, eepe, F):
        """GetPEEgressVolume's spatial Edge-state factor.

        With one active edge sub-cluster MAESTRO uses the edge size of ``v`` (for a sliding window:
        the *input* dimension ``Y``/``X``) where every other branch uses ``a`` (``Y'``/``X'``); this
        is the source of MAESTRO's MAC over-count at stride 1 (module doc, last quirk).
        """
        xp = self.xp
        nedge = L.nedge
        one = L.medge[v] if (first or eepe) else 1
        if eepe:
            many = L.uedge[a]
        else:
            many = F
        return xp.where(nedge == 1, one, xp.where(nedge > 1, many, 1))

    def _spatial_egress(self, L, case):
        tvars = self.coupled["output"]
        mapped, edge, ee = self._sp_info(L, case, tvars)
        if not mapped:
            return self._pe_egress(L, case, False, True, False)
        pe = lambda first, eepe: self._pe_egress(L, case, False, first, eepe)  # noqa: E731
        return self._combine(L, edge, ee, pe)

    def _critical_psums(self, L, case):
        xp = self.xp
        tvars = self.coupled["output"]
        mapped, edge, ee = self._sp_info(L, case, tvars)
        p = self._pe_egress(L, case, True, True, False)
        if not mapped or edge is False or not xp.any(edge & ee & (L.nedge == 1)):
            return p
        return xp.where(edge & ee & (L.nedge == 1), self._pe_egress(L, case, True, True, True), p)

    def _out_spatial_map_size(self, L, case):
        xp = self.xp
        tvars = self.coupled["output"]
        _, edge, ee = self._sp_info(L, case, tvars, all_spatial=True)
        N, nedge = L.N, L.nedge
        p_tf = self._pe_egress(L, case, True, True, False)
        normal = N * p_tf
        if edge is False or not xp.any(edge):
            return normal
        n_ee = xp.where(ee, 1, 0)
        n_full = xp.maximum(nedge - n_ee - 1, 0)
        base = xp.where((nedge == 1) & ee, self._pe_egress(L, case, True, True, True), p_tf)
        extra = xp.where(nedge > 1, n_full * p_tf + n_ee * self._pe_egress(L, case, True, False, True, reuse=False), 0)
        return xp.where(edge, base + extra, normal)

    def _mapped_volume(self, L, tname):
        ret = 1
        for v in self.coupled[tname]:
            if v in L.mapped:
                ret = _mul(ret, L.mapped[v])
        return ret

    # ------------------------------------------------------------------ NoC
    def _noc(self, d):
        return self.lat + (d + self.bw - 1) // self.bw - 1

    # ------------------------------------------------------------------ per-level analysis
    def _sub_dims(self, L, case, ee_flag):
        xp = self.xp
        out = {}
        for j, x in enumerate(L.dl):
            st, v = case[j], x.var
            if x.kind == "temporal":
                if st.pos == 2:
                    out[v] = L.medge[v]
                else:
                    out[v] = xp.where(st.edge, L.medge[v], L.mapped[v])
            else:
                cond = (L.nedge == 1) | ee_flag
                if st.pos == 2:
                    out[v] = xp.where(cond, L.medge[v], L.mapped[v])
                else:
                    out[v] = xp.where(st.edge & cond, L.medge[v], L.mapped[v])
        return out

    def _sub_runtime(self, li, L, combo, case, ee_flag):
        key = (li, tuple(2 if p == 2 else 0 for p in combo), bool(ee_flag))
        if key not in self._memo:
            self._memo[key] = self._analyze(li + 1, self._sub_dims(L, case, ee_flag))["runtime"]
        return self._memo[key]

    def _analyze(self, li: int, dyn: dict, top: bool = False) -> dict:
        xp = self.xp
        L = self.levels[li]
        last = li == len(self.levels) - 1
        states = self._states(L, dyn)
        options = []
        for sl in states:
            opts = [0]
            for k in (1, 2):
                p = sl[k].present
                if p is True or xp.any(p):
                    opts.append(k)
            options.append(opts)
        res: dict = {"runtime": 0}
        if top:
            for k in ("macs", "in_l2r", "w_l2r", "in_l1r", "w_l1r", "out_l1", "out_l2w", "ncases", "avg_bw"):
                res[k] = 0
            res["peak_bw"] = 0
            case0 = [sl[0] for sl in states]
            ing0 = self._spatial_ingress(L, case0, "input", -1, False)
            ingw0 = self._spatial_ingress(L, case0, "filter", -1, False)
            eg0 = self._spatial_egress(L, case0)
            res["l2_input"] = 2 * ing0
            res["l2_filter"] = 2 * ingw0
            res["l2_output"] = 2 * eg0
            in_off = ((2 * ing0 + 2 * ingw0) // self.offchip) // 2
            out_off = ((2 * eg0) // self.offchip) // 2
        sp0 = L.first_sp
        for combo in itertools.product(*options):
            case = [states[j][k] for j, k in enumerate(combo)]
            count = 1
            for st in case:
                if st.present is not True:
                    count = _mul(count, xp.where(st.present, st.count, 0))
                elif not isinstance(st.count, int) or st.count != 1:
                    count = _mul(count, st.count)
            chg = max((j for j, k in enumerate(combo) if k != 0), default=-1)
            all_init = chg == -1
            eg = self._spatial_egress(L, case)
            psm = self._out_spatial_map_size(L, case)
            nps = self._critical_psums(L, case)
            valid = nps > 0
            ing = 0
            ing_t = {}
            for tname in ("input", "filter"):
                tv = self.coupled[tname]
                inited = False
                for j in range(chg + 1, len(L.dl)):
                    if L.dl[j].var in tv and combo[j] == 0:
                        u = case[j].unrolled
                        inited = inited | ((not u) if isinstance(u, bool) else ~u)
                ing_t[tname] = self._spatial_ingress(L, case, tname, chg, inited)
                ing = ing + ing_t[tname]
            if last:
                comp = nps
            else:
                spst = case[sp0]
                rt_f = self._sub_runtime(li, L, combo, case, False)
                comp = rt_f
                cond = spst.edge & spst.ee if not isinstance(spst.edge, bool) else (spst.edge and spst.ee)
                if cond is not False and xp.any(cond):
                    rt_t = self._sub_runtime(li, L, combo, case, True)
                    with_ee = xp.maximum(rt_t, xp.where(L.nedge - 1 > 0, rt_f, 0))
                    comp = xp.where(cond, with_ee, rt_f)
            in_d = self._noc(ing)
            eg_d = self._noc(eg)
            if all_init:
                outst = comp + in_d
            else:
                outst = xp.maximum(eg_d, xp.maximum(comp, in_d))
            if top:
                outst = xp.maximum(in_off, xp.maximum(outst, out_off))
            cv = xp.where(valid, count, 0)
            res["runtime"] = res["runtime"] + cv * outst
            if top:
                res["macs"] = res["macs"] + cv * psm
                res["out_l1"] = res["out_l1"] + count * psm
                res["out_l2w"] = res["out_l2w"] + count * eg
                res["in_l2r"] = res["in_l2r"] + cv * ing_t["input"]
                res["w_l2r"] = res["w_l2r"] + cv * ing_t["filter"]
                res["in_l1r"] = res["in_l1r"] + cv * psm
                c1 = xp.maximum(comp, 1)
                traffic = xp.maximum(ing, eg)
                res["peak_bw"] = xp.maximum(res["peak_bw"], xp.where(cv > 0, traffic // c1, 0))
                res["avg_bw"] = res["avg_bw"] + (cv * traffic) // c1
                res["ncases"] = res["ncases"] + cv
        return res

    # ------------------------------------------------------------------ public
    def run(self) -> dict:
        """All MAESTRO outputs for the batch, as a dict of arrays (int64 unless noted)."""
        xp = self.xp
        top = self.levels[0]
        r = self._analyze(0, {k: top.dims[k] for k in top.dims}, top=True)
        inner = self.levels[-1]
        l1 = 2 * (self._mapped_volume(inner, "input") + self._mapped_volume(inner, "filter")
                  + self._mapped_volume(inner, "output"))
        d = self.full
        in_size = 1
        for v in self.coupled["input"]:
            in_size = in_size * d[v]
        w_size = 1
        for v in self.coupled["filter"]:
            w_size = w_size * d[v]
        o_size = 1
        for v in self.coupled["output"]:
            o_size = o_size * (d[v] - d[_SLIDING[v]] + 1 if v in _SLIDING else d[v])
        ncases = xp.maximum(r["ncases"], 1)
        return {
            "runtime": r["runtime"],
            "macs": r["macs"],
            "input_l1_read": r["in_l1r"],
            "input_l1_write": r["in_l2r"],
            "input_l2_read": r["in_l2r"],
            "input_l2_write": in_size,
            "filter_l1_read": r["in_l1r"],
            "filter_l1_write": r["w_l2r"],
            "filter_l2_read": r["w_l2r"],
            "filter_l2_write": w_size,
            "output_l1_read": r["out_l1"],
            "output_l1_write": r["out_l1"],
            "output_l2_read": o_size,
            "output_l2_write": r["out_l2w"],
            "l1_bytes": l1,
            "l2_bytes": r["l2_input"] + r["l2_filter"] + r["l2_output"],
            "peak_bw": r["peak_bw"],
            "avg_bw": xp.asfloat(r["avg_bw"]) / xp.asfloat(ncases),
        }
