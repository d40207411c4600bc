"""Compiled evaluation plans: one traced analysis per (dataflow, layer kind, stride class).

:func:`get_plan` runs :class:`~.analysis.Analyzer` once on symbols (:mod:`._trace`), which
yields a simplified expression graph of every output; the reachable part of it is emitted as one
straight-line Python function of array operations and cached. Evaluating a batch is then a call of
that function on slices of the input arrays -- no level building, no per-case Python logic, no
batch-wide ``any()`` reductions, and each quantity computed once however many cases use it.

The analysis code stays the single description of MAESTRO's semantics; the plan is only a faster
way of running it, and is exact (see :mod:`._trace` for why the symbolic answers are safe).

Plans are specialised on what is cheap to test per point and removes much work: the layer kind
(CONV / DSCONV, whose MAESTRO convention has ``K = 1``) and whether the stride is 1. They are also
specialised on a fixed, broad :func:`training_sample`: an iteration state or branch that no sample
point reaches is left out, guarded by its own condition (see :class:`~._trace.SymNS`). The plan
returns, per point, whether a guard fired (:data:`FALLBACK`); those points -- rare: none in the random
batches of the tests, even with 50,000 PEs -- are re-evaluated by the conservative plan, so results
are exact for every input, and the speed of a plan does not depend on the batch it first saw.

Plan code: one statement per node, variables reused as soon as a value is dead, long sums over
iteration cases turned into running sums (small live set), evaluated on :data:`SLICE`-point slices.
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from ._trace import Graph, Sym, SymNS
from ._xp import NUMPY
from .analysis import Analyzer
from .directives import Directive

#: Plan inputs (flat int64 arrays). ``Yo``/``Xo``: output rows/cols of a stride-1 pass over the
#: padded input (``Y + 2 pad - R + 1``); the others as in :class:`~.analysis.Analyzer`.
INPUTS = ("K", "C", "R", "S", "Yo", "Xo", "stride", "P", "ktile", "bw", "lat", "offchip")
#: Lower bounds the model guarantees for the inputs (validated in :func:`~.model.evaluate`).
_LOWER = {"lat": 0}
#: numpy's array functions, bound directly (no wrapper call per operation).
_NUMPY_FNS = dict(W=np.where, MAX=np.maximum, MIN=np.minimum, F=lambda x: np.asarray(x, dtype=np.float64))
#: Name of a specialised plan's output that marks the points it must not be trusted for.
FALLBACK = "fallback"
#: Points per slice a numpy plan runs on: small enough for its temporaries to stay in cache.
SLICE = 4096

_BINOPS = {"truediv": "/", "floordiv": "//", "mul": "*", "lt": "<", "le": "<=", "eq": "==", "ne": "!=",
           "and": "&", "or": "|"}
_CALLS = {"where": "W", "max": "MAX", "min": "MIN", "float": "F"}


class Plan:
    """A compiled analysis: ``fn(**inputs) -> {output: array or python constant}``.

    ``outputs`` maps each :meth:`~.analysis.Analyzer.run` key to its dtype kind (``"i"`` int64 or
    ``"f"`` float64); ``source`` is the generated code; ``num_ops`` the number of array statements.
    """

    def __init__(self, source: str, outputs: dict, num_ops: int, name: str):
        self.source = source
        self.outputs = outputs
        self.num_ops = num_ops
        #: A generic specialised plan's router (see :func:`run_routed`): a Plan with the one int
        #: output ``"code"``, the point's signature; None when the trace had no open questions.
        self.router: Plan | None = None
        ns: dict = {}
        exec(compile(source, f"<dataflow plan {name}>", "exec"), ns)  # noqa: S102 -- our own generated code
        self._fn = ns["plan"]

    def __call__(self, xp, inputs: dict, n: int, out: dict | None = None) -> dict:
        """Outputs for ``n`` points; ``inputs`` are flat length-``n`` int64 arrays (``xp``'s kind).

        ``out``: optional preallocated length-``n`` arrays (one per output) to write into and return.
        """
        fns = _NUMPY_FNS if getattr(xp, "name", "") == "numpy" else dict(W=xp.where, MAX=xp.maximum, MIN=xp.minimum, F=xp.asfloat)
        step = n if getattr(xp, "device", "cpu") != "cpu" else SLICE
        if out is None:
            if n <= step:
                return self._whole(xp, self._fn(**inputs, **fns), n)
            out = {k: _zeros(xp, n, kd) for k, kd in self.outputs.items()}
        for s in range(0, n, step):
            e = min(n, s + step)
            part = self._fn(**{k: _part(a, slice(s, e)) for k, a in inputs.items()}, **fns)
            for k, a in part.items():
                out[k][s:e] = a
        return out

    def _whole(self, xp, res: dict, n: int) -> dict:
        out = {}
        for k, a in res.items():
            if isinstance(a, Sym) or not hasattr(a, "shape") or tuple(a.shape) != (n,):
                z = _zeros(xp, n, self.outputs[k])
                z[:] = a
                a = z
            out[k] = a
        return out


def _loguniform(rng, lo: int, hi: int, n: int):
    return np.exp(rng.uniform(np.log(lo), np.log(hi + 1), n)).astype(np.int64).clip(lo, hi)


def training_sample(stride: int | None, n: int = 20_000, seed: int = 0) -> dict:
    """A broad, fixed sample of valid plan inputs that specialised plans are traced on.

    It only decides which assumptions a plan makes (and so its speed), never a result: a point
    that breaks an assumption is evaluated by the conservative plan. Ranges: filters 1..11 (square
    and not), outputs 1..256, channels 1..4096, 1..8192 PEs, ktile 1..16, NoC bandwidth 1..1e8,
    latency 0..4, off-chip bandwidth 1..1e6, stride ``stride`` (``None``: 1..4).
    """
    rng = np.random.default_rng(seed)
    R = np.where(rng.random(n) < 0.5, rng.choice([1, 3, 5, 7], n), rng.integers(1, 12, n))
    S = np.where(rng.random(n) < 0.7, R, rng.integers(1, 12, n))
    return {
        "K": _loguniform(rng, 1, 4096, n), "C": _loguniform(rng, 1, 4096, n), "R": R, "S": S,
        "Yo": _loguniform(rng, 1, 256, n), "Xo": _loguniform(rng, 1, 256, n),
        "stride": np.full(n, stride, dtype=np.int64) if stride else rng.integers(1, 5, n),
        "P": np.where(rng.random(n) < 0.5, _loguniform(rng, 1, 8192, n), 8 * rng.integers(1, 129, n)),
        "ktile": rng.integers(1, 17, n), "bw": _loguniform(rng, 1, 100_000_000, n), "lat": rng.integers(0, 5, n),
        "offchip": _loguniform(rng, 1, 1_000_000, n),
    }


def _zeros(xp, n: int, kind: str):
    z = xp.zeros(n, dtype="float64" if kind == "f" else "int64")
    return z != 0 if kind == "b" else z


def _for_kind(sample: dict, kind: str) -> dict:
    """``sample`` as the plans of layer ``kind`` see it (DSCONV: ``K = 1``); a new dict."""
    sample = dict(sample)
    if kind == "DSCONV":
        sample["K"] = np.ones_like(sample["K"])
    return sample


def _trace(directives: Sequence[Directive], kind: str, stride: int | None, specialise: bool, sample: dict | None = None):
    """Trace the analysis; returns ``(outputs, guards, questions)`` (guards and questions only when
    ``specialise``; ``sample``: the sample to specialise on, default :func:`training_sample`)."""
    if specialise:
        sample = _for_kind(training_sample(stride) if sample is None else sample, kind)
    else:
        sample = None
    g = Graph(sample)
    sym = {name: g.input(name, _LOWER.get(name, 1)) for name in INPUTS}
    dims = {"K": 1 if kind == "DSCONV" else sym["K"], "C": sym["C"], "R": sym["R"], "S": sym["S"],
            "Y": sym["Yo"] + sym["R"] - 1, "X": sym["Xo"] + sym["S"] - 1}
    stride = stride if stride else sym["stride"]
    ns = SymNS(g)
    an = Analyzer(ns, directives, kind, dims, stride, sym["P"], sym["ktile"], sym["bw"], sym["lat"], sym["offchip"])
    return an.run(), ns.guards, ns.questions


def _expr(node: Sym, name) -> str:
    a = node.args
    if node.op == "lin":
        parts = []
        for k in range(1, len(a), 2):
            coef, atom = a[k], name(a[k + 1])
            term = atom if abs(coef) == 1 else f"{abs(coef)} * {atom}"
            parts.append(("- " if coef < 0 else "+ ") + term)
        if a[0]:
            parts.append(("- " if a[0] < 0 else "+ ") + str(abs(a[0])))
        s = " ".join(parts)
        return s[2:] if s.startswith("+ ") else "-" + s[2:]
    if node.op in _BINOPS:
        return f"{name(a[0])} {_BINOPS[node.op]} {name(a[1])}"
    if node.op == "not":
        return f"~{name(a[0])}"
    if node.op in _CALLS:
        return f"{_CALLS[node.op]}({', '.join(name(x) for x in a)})"
    raise ValueError(f"no code for op {node.op!r}")


def _live(outputs: dict) -> list[Sym]:
    """The non-input nodes the outputs depend on, in creation (= topological) order."""
    live: dict[int, Sym] = {}
    stack = [v for v in outputs.values() if isinstance(v, Sym)]
    while stack:
        s = stack.pop()
        if s.idx in live:
            continue
        live[s.idx] = s
        stack.extend(x for x in s.args if isinstance(x, Sym))
    return [live[i] for i in sorted(live) if live[i].op != "input"]


def _term(coef: int, atom: str) -> str:
    return atom if coef == 1 else f"{coef} * {atom}"


def _statements(order: list[Sym]) -> list[tuple]:
    """``(key, target, deps, rhs)`` per statement, sorted by ``key``.

    A long sum (an accumulator over iteration cases) becomes a running sum updated right after each
    of its terms is computed, so the terms do not all stay alive until the end (cache footprint).
    ``rhs(name)`` renders the right-hand side given a target -> variable-name function.
    """
    out = []
    for s in order:
        deps = [a for a in s.args if isinstance(a, Sym)]
        if s.op == "lin" and len(s.args) > 7:
            terms = sorted(((s.args[k], s.args[k + 1]) for k in range(1, len(s.args), 2)), key=lambda t: t[1].idx)
            prev = None
            for i, (coef, atom) in enumerate(terms):
                last = i == len(terms) - 1
                target = s if last else ("acc", s.idx, i)
                if prev is None:
                    rhs = (lambda nm, c=coef, a=atom, k=s.args[0]: _term(c, nm(a)) + (f" + {k}" if k else ""))
                    d = [atom]
                else:
                    rhs = (lambda nm, c=coef, a=atom, p=prev: f"{nm(p)} + {_term(c, nm(a))}")
                    d = [prev, atom]
                out.append((atom.idx + 0.5 + i * 1e-6, target, d, rhs))
                prev = target
            continue
        out.append((float(s.idx), s, deps, (lambda nm, s=s: _expr(s, nm))))
    out.sort(key=lambda t: t[0])
    return out


def _codegen(outputs: dict) -> tuple[str, int]:
    """Source of ``plan(**inputs, W, MAX, MIN, F)`` computing ``outputs`` with reused variable names."""
    stmts = _statements(_live(outputs))
    tid = lambda t: t.idx if isinstance(t, Sym) else t  # noqa: E731
    last_use: dict = {}
    for pos, (_, _, deps, _) in enumerate(stmts):
        for d in deps:
            last_use[tid(d)] = pos
    for v in outputs.values():
        if isinstance(v, Sym):
            last_use[v.idx] = len(stmts)
    names: dict = {}
    free: list[str] = []
    lines = []
    count = 0

    def name(x) -> str:
        if isinstance(x, Sym) and x.op == "input":
            return x.args[0]
        if isinstance(x, (Sym, tuple)):
            return names[tid(x)]
        return repr(x)

    for pos, (_, target, deps, rhs) in enumerate(stmts):
        text = rhs(name)
        for d in {tid(d): d for d in deps if not (isinstance(d, Sym) and d.op == "input")}.values():
            if last_use[tid(d)] == pos:
                free.append(names[tid(d)])
        if free:
            var = free.pop()
        else:
            var = f"v{count}"
            count += 1
        names[tid(target)] = var
        lines.append(f"    {var} = {text}")
    ret = ", ".join(f"{k!r}: {name(v)}" for k, v in outputs.items())
    head = f"def plan(*, {', '.join(INPUTS)}, W, MAX, MIN, F):"
    return "\n".join([head, *lines, f"    return {{{ret}}}", ""]), len(stmts)


@functools.lru_cache(maxsize=128)
def get_plan(directives: tuple[Directive, ...], kind: str, stride: int | None, specialise: bool = True) -> Plan:
    """The cached plan of ``directives`` for layer ``kind`` (``"CONV"``/``"DSCONV"``) and a fixed
    ``stride`` (``None``: any stride).

    A specialised plan has the extra bool output :data:`FALLBACK`: the points it must not be
    trusted for (they need the conservative plan, ``specialise=False``).
    """
    outs, guards, questions = _trace(directives, kind, stride, specialise)
    plan = _compile(outs, guards if specialise else None, f"{kind} stride={stride} specialise={specialise}")
    if specialise and questions:
        plan.router = _router(questions[:ROUTE_BITS], f"{kind} stride={stride} router")
    return plan


def _compile(outs: dict, guards: list | None, name: str) -> Plan:
    """The Plan of traced ``outs``; with ``guards`` (a list) it gets the :data:`FALLBACK` output."""
    if guards is not None:
        fb = False
        for gd in {gd.idx: gd for gd in guards}.values():  # a guard recorded twice is tested once
            fb = fb | gd
        outs[FALLBACK] = fb
    kinds = {k: (v.kind if isinstance(v, Sym) else ("b" if isinstance(v, bool) else "f" if isinstance(v, float) else "i"))
             for k, v in outs.items()}
    source, num_ops = _codegen(outs)
    return Plan(source, kinds, num_ops, name)


def _router(questions: list[Sym], name: str) -> Plan:
    """A plan computing each point's signature ``code = sum_i 2**i * questions[i]`` (int64)."""
    g = questions[0].g
    code = 0
    for i, q in enumerate(questions):
        code = g.add(code, g.where(q, 1 << i, 0))
    source, num_ops = _codegen({"code": code})
    return Plan(source, {"code": "i"}, num_ops, name)


#: Routing (:func:`run_routed`): a signature is the answers of a generic specialised plan's first
#: ``ROUTE_BITS`` open branch questions (:attr:`~._trace.SymNS.questions`). Points with one
#: signature run a plan traced on the part of a :data:`ROUTE_SAMPLE`-point training sample that has
#: it, where those branches are decided: typically 2-4x fewer array statements.
ROUTE_BITS = 8
#: Training points per stride class that signature plans are traced on (at most
#: :data:`ROUTE_TRACE_CAP` of them per signature).
ROUTE_SAMPLE = 100_000
ROUTE_TRACE_CAP = 20_000
#: A signature with fewer training points than this gets no plan of its own.
ROUTE_MIN_SAMPLE = 300
#: Fewest points of one signature (in one call) worth routing; smaller groups run the generic plan.
ROUTE_MIN = 1024


@functools.lru_cache(maxsize=8)
def _route_sample(stride: int | None) -> dict:
    return training_sample(stride, n=ROUTE_SAMPLE, seed=1)


@functools.lru_cache(maxsize=512)
def get_signature_plan(directives: tuple[Directive, ...], kind: str, stride: int | None, code: int) -> Plan | None:
    """The cached plan for points whose router signature is ``code`` (None: too few training points
    have it; use the generic plan). Specialised, so it has the :data:`FALLBACK` output."""
    generic = get_plan(directives, kind, stride)
    sample = _for_kind(_route_sample(stride), kind)
    n = int(sample["K"].shape[0])
    sel = np.asarray(generic.router(NUMPY, sample, n)["code"]) == code
    if int(sel.sum()) < ROUTE_MIN_SAMPLE:
        return None
    sub = {k: v[sel][:ROUTE_TRACE_CAP] for k, v in sample.items()}
    outs, guards, _ = _trace(directives, kind, stride, True, sample=sub)
    return _compile(outs, guards, f"{kind} stride={stride} signature={code}")


#: Strides that get a plan of their own (the stride folds into the code as a constant).
STRIDE_PLANS = (1,)


def run_plans(xp, directives: tuple[Directive, ...], kind: str, inputs: dict) -> dict:
    """All analysis outputs for flat ``inputs`` (:data:`INPUTS`), choosing and combining plans.

    Points are grouped by stride class (each of :data:`STRIDE_PLANS`, or any other) and, within a
    class, by router signature (:func:`run_routed`); all groups are sorted into contiguous ranges
    at once. The points a plan flags fall back to the next plan of their chain (signature plan ->
    the class's generic specialised plan -> the conservative plan).
    """
    n = int(inputs["K"].shape[0])
    if getattr(xp, "exact", False):
        return run_exact(directives, kind, inputs, n)
    inputs = _scalarise(xp, inputs, n)
    st = inputs["stride"]
    classes = []
    rest = None
    for s in STRIDE_PLANS:
        m = st == s
        if xp.all(m):
            classes, rest = [(s, None)], None
            break
        if xp.any(m):
            classes.append((s, m))
            rest = ~m if rest is None else rest & ~m
    else:
        if not classes:
            classes = [(None, None)]
        elif xp.any(rest):
            classes.append((None, rest))
    groups = _Groups(n)
    for s, m in classes:
        _route(xp, groups, directives, kind, s, inputs, None if m is None else np.asarray(xp.to_numpy(m)))
    return groups.run(xp, inputs)


def run_exact(directives: tuple[Directive, ...], kind: str, inputs: dict, n: int) -> dict:
    """The eager analysis (the reference the plans are tested against; no compilation) on object
    arrays of Python ints (see :class:`~._xp.ExactNS`): integer outputs come back as length-``n``
    object arrays of exact values, never wrapped; real outputs as float64."""
    from ._xp import EXACT

    i = inputs
    dims = {"K": 1 if kind == "DSCONV" else i["K"], "C": i["C"], "R": i["R"], "S": i["S"],
            "Y": i["Yo"] + i["R"] - 1, "X": i["Xo"] + i["S"] - 1}
    res = Analyzer(EXACT, directives, kind, dims, i["stride"], i["P"], i["ktile"], i["bw"], i["lat"], i["offchip"]).run()
    out = {}
    for k, a in res.items():
        real = getattr(a, "dtype", None) == np.float64 or isinstance(a, float)
        z = np.zeros(n, dtype=np.float64 if real else object)
        z[:] = a
        out[k] = z
    return out


def _route(xp, groups: "_Groups", directives, kind: str, stride: int | None, inputs: dict, mask) -> None:
    """Add the points of one stride class (``mask``; None: all) to ``groups``, by signature."""
    generic = get_plan(directives, kind, stride)
    conservative = lambda: get_plan(directives, kind, stride, False)  # noqa: E731
    count = groups.n if mask is None else int(mask.sum())
    if generic.router is None or count < ROUTE_MIN:
        groups.add(mask, None, [generic], [conservative])
        return
    codes = np.asarray(xp.to_numpy(generic.router(xp, inputs, groups.n)["code"]), dtype=np.intp)
    _add_routed(groups, generic, lambda c: get_signature_plan(directives, kind, stride, c), conservative, codes, mask)


def _add_routed(groups: "_Groups", generic: Plan, signature_plan, conservative, codes, mask) -> None:
    counts = np.bincount(codes if mask is None else codes[mask], minlength=1 << ROUTE_BITS)
    plans: list[Plan] = []
    lut = np.full(len(counts), -1, dtype=np.intp)
    for c in np.flatnonzero(counts >= ROUTE_MIN):
        p = signature_plan(int(c))
        if p is not None:
            lut[c] = len(plans)
            plans.append(p)
    lut[lut < 0] = len(plans)
    plans.append(generic)
    generic_chain = lambda: (lambda xp_, inp, m: run_specialised(xp_, generic, conservative, inp, m))  # noqa: E731
    groups.add(mask, lut[codes], plans, [generic_chain] * (len(plans) - 1) + [conservative])


class _Groups:
    """Points of one batch assigned to plans: ``key[i]`` is point ``i``'s index in :attr:`plans`.

    :meth:`run` sorts the points by key (a stable radix sort of small ints), runs each plan on its
    contiguous range of the sorted inputs, and scatters the results back. Scalar inputs (see
    :func:`_scalarise`) are passed through as they are.
    """

    def __init__(self, n: int):
        self.n = n
        self.key = np.zeros(n, dtype=np.uint16)
        self.plans: list[Plan] = []
        self.chains: list = []  # per plan: () -> the fallback for its flagged points

    def add(self, mask, key, plans: list, chains: list) -> None:
        """Points ``mask`` (None: all) go to ``plans[key]`` (``key`` None: ``plans[0]``)."""
        k = len(self.plans) + (0 if key is None else key)
        if mask is None:
            self.key[:] = k
        else:
            self.key[mask] = k if key is None else k[mask]
        self.plans += plans
        self.chains += chains

    def run(self, xp, inputs: dict) -> dict:
        n = self.n
        numpy = getattr(xp, "name", "") == "numpy"
        bounds = np.concatenate([[0], np.cumsum(np.bincount(self.key, minlength=len(self.plans)))])
        used = np.flatnonzero(np.diff(bounds))
        if len(used) == 1:  # one plan for all points: no sorting
            i = int(used[0])
            return run_specialised(xp, self.plans[i], self.chains[i], inputs, n)
        order = np.argsort(self.key, kind="stable")
        idx = order if numpy else xp.asint(order)
        srt = {k: _part(a, idx) for k, a in inputs.items()}
        kinds = self.plans[-1].outputs
        buf = {k: _zeros(xp, n, kd) for k, kd in kinds.items()}
        for i in used:
            s, e = int(bounds[i]), int(bounds[i + 1])
            run_specialised(xp, self.plans[i], self.chains[i], {k: _part(a, slice(s, e)) for k, a in srt.items()},
                            e - s, {k: a[s:e] for k, a in buf.items()})
        del buf[FALLBACK]
        out = {}
        for k, a in buf.items():
            o = _zeros(xp, n, kinds[k])
            o[idx] = a
            out[k] = o
        return out


def _scalarise(xp, inputs: dict, n: int) -> dict:
    """numpy: the inputs constant over the batch as numpy scalars (not gathered or sliced, and a
    division by a scalar is ~2.5x faster); torch inputs are returned unchanged."""
    if getattr(xp, "name", "") != "numpy" or n < 2:
        return inputs
    return {k: (np.int64(a[0]) if a[0] == a[-1] and (a == a[0]).all() else a) for k, a in inputs.items()}


def _part(a, sel):
    """``a[sel]``, or ``a`` itself when it is a scalar (an input constant over the batch)."""
    return a if getattr(a, "ndim", 1) == 0 else a[sel]


def run_specialised(xp, plan: Plan, conservative, inputs: dict, n: int, out: dict | None = None) -> dict:
    """Run specialised ``plan``; the points it flags are re-run with ``conservative()`` (a Plan, or
    a function ``(xp, inputs, n) -> outputs``). ``out``: as in :meth:`Plan.__call__` (plus a
    :data:`FALLBACK` entry)."""
    res = plan(xp, inputs, n, out)
    fb = res.pop(FALLBACK)
    if xp.any(fb):
        sub = conservative()(xp, {k: _part(a, fb) for k, a in inputs.items()}, int(xp.to_numpy(fb).sum()))
        for k in res:
            res[k][fb] = sub[k]
    return res


def run_routed(xp, generic: Plan, signature_plan, conservative, inputs: dict, n: int) -> dict:
    """Run ``n`` points of one stride class routed by signature (see :data:`ROUTE_BITS`).

    ``generic``: the class's generic specialised plan (with a router); ``signature_plan(code)``: a
    Plan or None; ``conservative()``: the conservative Plan. Points are sorted by plan (one stable
    radix sort in :class:`_Groups`), each plan runs on its contiguous range, and the results are
    scattered back. A signature plan's flagged points fall back to the generic plan (and on to the
    conservative one).
    """
    groups = _Groups(n)
    codes = np.asarray(xp.to_numpy(generic.router(xp, inputs, n)["code"]), dtype=np.intp)
    _add_routed(groups, generic, signature_plan, conservative, codes, None)
    return groups.run(xp, inputs)
