"""Symbolic tracing of :class:`~.analysis.Analyzer`: the analysis run once on symbols, not arrays.

:class:`SymNS` is an array namespace whose "arrays" are :class:`Sym` expression nodes of a
:class:`Graph`. Running the analysis with it records every array operation once; the graph then
becomes straight-line array code (see :mod:`.plan`). While it records, the graph simplifies:

* hash-consing (common-subexpression elimination): an operation on the same arguments is one node;
* constant folding and identities (``x * 1``, ``where(c, a, a)``, ``max(x, x)``, ...);
* integer sums are kept in a canonical linear form (``c0 + sum c_i * atom_i``), so ``(Y - R) + R``
  *is* ``Y`` and ``Y - Y`` is ``0``;
* every integer node carries bounds ``[lo, hi]`` (``None`` = unbounded) derived from the input
  bounds; a comparison, ``max`` or ``min`` that the bounds decide becomes a constant.

The analysis asks the namespace data-dependent questions (``any(x)``: does some point have ``x``?).
A symbol answers them conservatively -- ``True`` unless the bounds prove otherwise -- which is
always exact: the eager analysis only uses those answers to skip work whose result is zero.
Simplification therefore prunes exactly the iteration cases that are *structurally* impossible.
"""

from __future__ import annotations

from typing import Any

_COMMUTATIVE = {"mul", "and", "or", "max", "min", "eq", "ne"}


class Sym:
    """One node of a :class:`Graph`: ``op`` applied to ``args`` (Syms or python constants).

    ``kind`` is ``"i"`` (int64 array), ``"b"`` (bool array) or ``"f"`` (float64 array); ``lo``/``hi``
    bound an integer node's values (``None``: unbounded).
    """

    __slots__ = ("g", "op", "args", "kind", "lo", "hi", "idx", "_val")

    def __init__(self, g, op, args, kind, lo, hi, idx):
        self.g, self.op, self.args, self.kind, self.lo, self.hi, self.idx = g, op, args, kind, lo, hi, idx
        self._val = None

    @property
    def val(self):
        """The node's values on the graph's sample (numpy array), computed on first use."""
        if self._val is None:
            self._val = self.g._value(self.op, self.args)
        return self._val

    __hash__ = object.__hash__

    def __bool__(self):
        raise TypeError("a traced array has no truth value; the analysis must use xp.any / xp.b")

    def __repr__(self):
        return f"Sym#{self.idx}({self.op})"

    # arithmetic
    def __add__(self, o): return self.g.add(self, o)
    def __radd__(self, o): return self.g.add(o, self)
    def __sub__(self, o): return self.g.add(self, self.g.scale(o, -1))
    def __rsub__(self, o): return self.g.add(o, self.g.scale(self, -1))
    def __neg__(self): return self.g.scale(self, -1)
    def __mul__(self, o): return self.g.mul(self, o)
    def __rmul__(self, o): return self.g.mul(o, self)
    def __floordiv__(self, o): return self.g.floordiv(self, o)
    def __rfloordiv__(self, o): return self.g.floordiv(o, self)
    def __truediv__(self, o): return self.g.node("truediv", (self, o), "f")
    def __rtruediv__(self, o): return self.g.node("truediv", (o, self), "f")

    # comparisons
    def __lt__(self, o): return self.g.compare("lt", self, o)
    def __le__(self, o): return self.g.compare("le", self, o)
    def __gt__(self, o): return self.g.compare("lt", o, self)
    def __ge__(self, o): return self.g.compare("le", o, self)
    def __eq__(self, o): return self.g.compare("eq", self, o)  # type: ignore[override]
    def __ne__(self, o): return self.g.compare("ne", self, o)  # type: ignore[override]

    # logic
    def __and__(self, o): return self.g.logic("and", self, o)
    def __rand__(self, o): return self.g.logic("and", o, self)
    def __or__(self, o): return self.g.logic("or", self, o)
    def __ror__(self, o): return self.g.logic("or", o, self)
    def __invert__(self): return self.g.invert(self)


def _is_const(x) -> bool:
    return not isinstance(x, Sym)


def _bounds(x):
    if isinstance(x, Sym):
        return x.lo, x.hi
    return x, x


def _key(x):
    return ("s", x.idx) if isinstance(x, Sym) else ("c", type(x).__name__, x)


def _add_b(a, b):
    return None if a is None or b is None else a + b


class Graph:
    """A hash-consed expression graph with constant folding, linear sums and integer bounds.

    ``sample``: optional dict of input name -> numpy array (one entry per sample point). When given,
    every node also carries its value on the sample (``Sym.val``), which :class:`SymNS` uses to
    specialise the trace (see there).
    """

    def __init__(self, sample: dict | None = None):
        self.nodes: list[Sym] = []
        self._table: dict = {}
        self.sample = sample

    # ------------------------------------------------------------------ node creation
    def input(self, name: str, lo: int | None = None, hi: int | None = None) -> Sym:
        """A named int64 input array with bounds ``[lo, hi]``."""
        return self.node("input", (name,), "i", lo, hi)

    def _value(self, op: str, args: tuple):
        """The node's value on the sample (numpy), or None without a sample."""
        if self.sample is None:
            return None
        v = [a.val if isinstance(a, Sym) else a for a in args]
        if op == "input":
            return self.sample[args[0]]
        if op == "lin":
            out = v[0]
            for k in range(1, len(v), 2):
                out = out + v[k] * v[k + 1]
            return out
        return _NP_OPS[op](*v)

    def node(self, op: str, args: tuple, kind: str, lo=None, hi=None, ordered: bool = False) -> Sym:
        if op in _COMMUTATIVE and not ordered:
            args = tuple(sorted(args, key=lambda a: (1, a.idx) if isinstance(a, Sym) else (0, repr(a))))
        key = (op,) + tuple(_key(a) for a in args)
        hit = self._table.get(key)
        if hit is not None:
            return hit
        s = Sym(self, op, args, kind, lo, hi, len(self.nodes))
        self.nodes.append(s)
        self._table[key] = s
        return s

    # ------------------------------------------------------------------ linear sums
    @staticmethod
    def _linear(x) -> tuple[int, dict]:
        """``x`` as ``(const, {idx: (coef, atom)})``."""
        if _is_const(x):
            return int(x), {}
        if x.kind != "i":
            raise TypeError(f"arithmetic on a {x.kind!r} node")
        if x.op == "lin":
            c, terms = x.args[0], {}
            for k in range(1, len(x.args), 2):
                terms[x.args[k + 1].idx] = (x.args[k], x.args[k + 1])
            return c, terms
        return 0, {x.idx: (1, x)}

    def _from_linear(self, c: int, terms: dict):
        items = [(coef, atom) for _, (coef, atom) in sorted(terms.items()) if coef != 0]
        if not items:
            return c
        if c == 0 and len(items) == 1 and items[0][0] == 1:
            return items[0][1]
        lo, hi = c, c
        for coef, atom in items:
            alo, ahi = (atom.lo, atom.hi) if coef > 0 else (atom.hi, atom.lo)
            lo = None if lo is None or alo is None else lo + coef * alo
            hi = None if hi is None or ahi is None else hi + coef * ahi
        args: list[Any] = [c]
        for coef, atom in items:
            args += [coef, atom]
        return self.node("lin", tuple(args), "i", lo, hi)

    def add(self, a, b):
        if _is_const(a) and _is_const(b):
            return a + b
        ca, ta = self._linear(a)
        cb, tb = self._linear(b)
        for k, (coef, atom) in tb.items():
            ta[k] = (ta.get(k, (0, atom))[0] + coef, atom)
        return self._from_linear(ca + cb, ta)

    def scale(self, a, k: int):
        if _is_const(a):
            return a * k
        c, t = self._linear(a)
        return self._from_linear(c * k, {i: (coef * k, atom) for i, (coef, atom) in t.items()})

    def mul(self, a, b):
        """Product; a product of several symbols is one left fold over its factors sorted by age, so
        products that share their older (more case-independent) factors share those partial products."""
        if _is_const(a) and _is_const(b):
            return a * b
        if _is_const(a) or _is_const(b):
            k, s = (a, b) if _is_const(a) else (b, a)
            return self.scale(s, int(k))
        factors = sorted(self._factors(a) + self._factors(b), key=lambda f: f.idx)
        acc = factors[0]
        for f in factors[1:]:
            acc = self._mul2(acc, f)
        return acc

    @staticmethod
    def _factors(x) -> list:
        out = []
        while x.op == "mul":
            out.append(x.args[1])
            x = x.args[0]
        out.append(x)
        return out

    def _mul2(self, a: Sym, b: Sym) -> Sym:
        lo = hi = None
        if a.lo is not None and b.lo is not None and a.lo >= 0 and b.lo >= 0:
            lo = a.lo * b.lo
            hi = None if a.hi is None or b.hi is None else a.hi * b.hi
        return self.node("mul", (a, b), "i", lo, hi, ordered=True)

    def floordiv(self, a, b):
        if _is_const(a) and _is_const(b):
            return a // b
        if _is_const(b) and b == 1:
            return a
        if _is_const(a) and a == 0:
            return 0
        if a is b and b.lo is not None and b.lo >= 1:
            return 1
        alo, ahi = _bounds(a)
        blo, bhi = _bounds(b)
        lo = hi = None
        if blo is not None and blo >= 1 and alo is not None and alo >= 0:
            if ahi is not None and ahi < blo:
                return 0
            lo = 0 if bhi is None else alo // bhi
            hi = None if ahi is None else ahi // blo
        return self.node("floordiv", (a, b), "i", lo, hi)

    # ------------------------------------------------------------------ comparisons and logic
    def compare(self, op: str, a, b):
        if _is_const(a) and _is_const(b):
            return {"lt": a < b, "le": a <= b, "eq": a == b, "ne": a != b}[op]
        d = self.add(a, self.scale(b, -1))
        lo, hi = _bounds(d)
        if op == "lt":
            if hi is not None and hi < 0:
                return True
            if lo is not None and lo >= 0:
                return False
        elif op == "le":
            if hi is not None and hi <= 0:
                return True
            if lo is not None and lo > 0:
                return False
        else:
            if _is_const(d) or (lo is not None and lo > 0) or (hi is not None and hi < 0):
                same = _is_const(d) and d == 0
                return same if op == "eq" else not same
        return self.node(op, (a, b), "b")

    def logic(self, op: str, a, b):
        if _is_const(a) and _is_const(b):
            return (a and b) if op == "and" else (a or b)
        if _is_const(a):
            a, b = b, a
        if _is_const(b):
            if op == "and":
                return a if b else False
            return True if b else a
        if a is b:
            return a
        return self.node(op, (a, b), "b")

    def invert(self, a):
        if _is_const(a):
            return not a
        if a.op == "not":
            return a.args[0]
        return self.node("not", (a,), "b")

    # ------------------------------------------------------------------ selection
    def where(self, c, a, b):
        if _is_const(c):
            return a if c else b
        if a is b or (_is_const(a) and _is_const(b) and type(a) is type(b) and a == b):
            return a
        if isinstance(a, Sym) and a.op == "where" and a.args[0] is c:
            return self.where(c, a.args[1], b)
        if isinstance(b, Sym) and b.op == "where" and b.args[0] is c:
            return self.where(c, a, b.args[2])
        if a is True and b is False:
            return c
        if a is False and b is True:
            return self.invert(c)
        kinds = {x.kind for x in (a, b) if isinstance(x, Sym)}
        kind = kinds.pop() if len(kinds) == 1 else "i"
        lo = hi = None
        if kind == "i":
            (alo, ahi), (blo, bhi) = _bounds(a), _bounds(b)
            lo = None if alo is None or blo is None else min(alo, blo)
            hi = None if ahi is None or bhi is None else max(ahi, bhi)
        return self.node("where", (c, a, b), kind, lo, hi)

    def extreme(self, op: str, a, b):
        """``max`` / ``min`` of integer values; nested ones are flattened into one left fold over
        their operands sorted by age (dominated operands dropped), sharing common prefixes."""
        if _is_const(a) and _is_const(b):
            return max(a, b) if op == "max" else min(a, b)
        ops: list = []
        for x in self._operands(op, a) + self._operands(op, b):
            if any(x is y for y in ops):
                continue
            if any(self._dominates(op, y, x) for y in ops):
                continue
            ops = [y for y in ops if not self._dominates(op, x, y)]
            ops.append(x)
        consts = [x for x in ops if _is_const(x)]
        syms = sorted((x for x in ops if not _is_const(x)), key=lambda x: x.idx)
        seq = ([(max if op == "max" else min)(consts)] if consts else []) + syms
        acc = seq[0]
        for x in seq[1:]:
            acc = self._extreme2(op, acc, x)
        return acc

    @staticmethod
    def _operands(op: str, x) -> list:
        out = []
        while isinstance(x, Sym) and x.op == op:
            out.append(x.args[1])
            x = x.args[0]
        out.append(x)
        return out

    def _dominates(self, op: str, x, y) -> bool:
        """Whether ``x`` makes ``y`` redundant in ``op`` (by the bounds of ``x - y``)."""
        if _is_const(x) and _is_const(y):
            return (x >= y) if op == "max" else (x <= y)
        lo, hi = _bounds(self.add(x, self.scale(y, -1)))
        return (lo is not None and lo >= 0) if op == "max" else (hi is not None and hi <= 0)

    def _extreme2(self, op: str, a, b):
        (alo, ahi), (blo, bhi) = _bounds(a), _bounds(b)
        if op == "max":
            nlo = alo if blo is None else (blo if alo is None else max(alo, blo))
            nhi = None if ahi is None or bhi is None else max(ahi, bhi)
        else:
            nlo = None if alo is None or blo is None else min(alo, blo)
            nhi = ahi if bhi is None else (bhi if ahi is None else min(ahi, bhi))
        if _is_const(a):
            a, b = b, a
        return self.node(op, (a, b), "i", nlo, nhi, ordered=True)


def _np_ops():
    import numpy as np

    return {
        "mul": np.multiply, "floordiv": np.floor_divide, "truediv": np.true_divide, "lt": np.less,
        "le": np.less_equal, "eq": np.equal, "ne": np.not_equal, "and": np.logical_and, "or": np.logical_or,
        "not": np.logical_not, "where": np.where, "max": np.maximum, "min": np.minimum,
        "float": lambda x: np.asarray(x, dtype=np.float64),
    }


_NP_OPS = _np_ops()


class SymNS:
    """The array namespace :class:`~.analysis.Analyzer` sees while it is being traced.

    Without a sample every data-dependent question gets the conservative answer (see module doc).
    With a sample (``Graph(sample=...)``) a question whose answer is the same on every sample point
    gets that answer -- ``any(x)`` is ``False`` when no sample point has ``x``, ``b(x)`` collapses
    to a constant when ``x`` is uniform on the sample -- and the assumption is recorded in
    :attr:`guards`: boolean symbols that are ``True`` exactly at the points where it fails. A plan
    built this way is exact wherever all its guards are ``False``; elsewhere the caller must use
    the conservative plan.

    :attr:`questions` lists, in the order asked, the ``b(x)`` questions the sample left open (``x``
    varies over it): the branch points of the trace, which :mod:`.plan` uses to route points to
    plans traced on a sample where those answers are uniform.
    """

    symbolic = True

    def __init__(self, graph: Graph):
        self.g = graph
        self.guards: list[Sym] = []
        self.questions: list[Sym] = []

    def _assume(self, x, value: bool):
        """Answer ``value`` for every point of ``x`` if the sample agrees; record the guard."""
        v = x.val
        if value and bool(v.all()):
            self.guards.append(self.g.invert(x))
            return True
        if not value and not bool(v.any()):
            self.guards.append(x)
            return True
        return False

    def where(self, c, a, b):
        return self.g.where(c, a, b)

    def maximum(self, a, b):
        return self.g.extreme("max", a, b)

    def minimum(self, a, b):
        return self.g.extreme("min", a, b)

    def asfloat(self, x):
        return float(x) if _is_const(x) else self.g.node("float", (x,), "f")

    def any(self, x) -> bool:
        """``True`` unless ``x`` is constant false (or, with a sample, false on all of it)."""
        if _is_const(x):
            return bool(x)
        if self.g.sample is not None and self._assume(x, False):
            return False
        return True

    def all(self, x) -> bool:
        """``False`` unless ``x`` is constant true (or, with a sample, true on all of it)."""
        if _is_const(x):
            return bool(x)
        return self.g.sample is not None and self._assume(x, True)

    def b(self, x):
        """``x`` collapsed to a python bool when constant (or, with a sample, uniform on it)."""
        if _is_const(x) or self.g.sample is None:
            return x
        if self._assume(x, True):
            return True
        if self._assume(x, False):
            return False
        if not any(q is x for q in self.questions):
            self.questions.append(x)
        return x
