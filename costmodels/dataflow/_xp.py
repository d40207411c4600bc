"""A tiny array-namespace shim so the same model code runs on numpy arrays and torch tensors.

Nothing here imports torch at module import time: :func:`namespace` looks at the arrays it is
given and imports torch lazily only when one of them is a ``torch.Tensor``.

Every count is kept in int64 (and every derived real quantity in float64) on both backends.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np


def is_torch(x: Any) -> bool:
    """True when ``x`` is a torch tensor (without importing torch if it is not loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


class NumpyNS:
    """numpy flavour of the operations the cost model needs."""

    name = "numpy"
    device = "cpu"

    @staticmethod
    def asint(x):
        return np.asarray(x, dtype=np.int64)

    @staticmethod
    def asfloat(x):
        return np.asarray(x, dtype=np.float64)

    @staticmethod
    def where(c, a, b):
        return np.where(c, a, b)

    @staticmethod
    def maximum(a, b):
        return np.maximum(a, b)

    @staticmethod
    def minimum(a, b):
        return np.minimum(a, b)

    @staticmethod
    def any(x) -> bool:
        return bool(np.any(x))

    @staticmethod
    def all(x) -> bool:
        return bool(np.all(x))

    @staticmethod
    def broadcast(*arrays):
        return np.broadcast_arrays(*arrays)

    @staticmethod
    def reshape(x, shape):
        return np.reshape(x, shape)

    @staticmethod
    def concat(xs):
        return np.concatenate(xs)

    @staticmethod
    def zeros(n, dtype="int64"):
        return np.zeros(n, dtype=np.int64 if dtype == "int64" else np.float64)

    @staticmethod
    def empty_like(x, dtype="int64"):
        return np.empty(x.shape, dtype=np.int64 if dtype == "int64" else np.float64)

    @staticmethod
    def to_numpy(x):
        return np.asarray(x)

    @staticmethod
    def ascontiguous(x):
        return np.ascontiguousarray(x)


class TorchNS:
    """torch flavour of the same operations (CPU or CUDA, following the first tensor's device)."""

    name = "torch"

    def __init__(self, device):
        import torch  # lazy: only when a torch tensor was passed

        self.torch = torch
        self.device = device

    def asint(self, x):
        t = self.torch
        if isinstance(x, t.Tensor):
            return x.to(dtype=t.int64, device=self.device)
        return t.as_tensor(np.asarray(x, dtype=np.int64), device=self.device)

    def asfloat(self, x):
        t = self.torch
        if isinstance(x, t.Tensor):
            return x.to(dtype=t.float64, device=self.device)
        return t.as_tensor(np.asarray(x, dtype=np.float64), device=self.device)

    def _t(self, x, like=None):
        t = self.torch
        if isinstance(x, t.Tensor):
            return x
        if isinstance(x, (bool, np.bool_)):
            return t.tensor(bool(x), device=self.device)
        if isinstance(x, (int, np.integer)):
            return t.tensor(int(x), dtype=t.int64, device=self.device)
        if isinstance(x, (float, np.floating)):
            return t.tensor(float(x), dtype=t.float64, device=self.device)
        return t.as_tensor(np.asarray(x), device=self.device)

    def where(self, c, a, b):
        a, b = self._t(a), self._t(b)
        if a.dtype != b.dtype:
            dt = self.torch.promote_types(a.dtype, b.dtype)
            a, b = a.to(dt), b.to(dt)
        return self.torch.where(self._t(c), a, b)

    def maximum(self, a, b):
        a, b = self._t(a), self._t(b)
        if a.dtype != b.dtype:
            dt = self.torch.promote_types(a.dtype, b.dtype)
            a, b = a.to(dt), b.to(dt)
        return self.torch.maximum(a, b)

    def minimum(self, a, b):
        a, b = self._t(a), self._t(b)
        if a.dtype != b.dtype:
            dt = self.torch.promote_types(a.dtype, b.dtype)
            a, b = a.to(dt), b.to(dt)
        return self.torch.minimum(a, b)

    def any(self, x) -> bool:
        return bool(self._t(x).any())

    def all(self, x) -> bool:
        return bool(self._t(x).all())

    def broadcast(self, *arrays):
        return self.torch.broadcast_tensors(*[self._t(a) for a in arrays])

    def reshape(self, x, shape):
        return self._t(x).reshape(shape)

    def concat(self, xs):
        return self.torch.cat([self._t(x) for x in xs])

    def zeros(self, n, dtype="int64"):
        t = self.torch
        return t.zeros(n, dtype=t.int64 if dtype == "int64" else t.float64, device=self.device)

    def empty_like(self, x, dtype="int64"):
        t = self.torch
        return t.empty(tuple(x.shape), dtype=t.int64 if dtype == "int64" else t.float64, device=self.device)

    @staticmethod
    def to_numpy(x):
        return x.detach().cpu().numpy()

    @staticmethod
    def ascontiguous(x):
        return x.contiguous()


NUMPY = NumpyNS()


def namespace(*arrays: Any):
    """The namespace for ``arrays``: torch's (on the first tensor's device) if any is a tensor."""
    for a in arrays:
        if is_torch(a):
            return TorchNS(a.device)
    return NUMPY


class ExactNS(NumpyNS):
    """numpy object arrays of Python ints: exact integer arithmetic of any size (slow).

    Used only for the rare points whose counts may not fit int64 (see
    :func:`~.model.evaluate`): their counts are computed exactly, then checked against int64's
    range, so an overflow is reported instead of wrapping. Real quantities stay float64.
    """

    name = "exact"
    exact = True

    @staticmethod
    def asint(x):
        a = np.asarray(x)
        return a.astype(object) if a.dtype != object else a

    @staticmethod
    def zeros(n, dtype="int64"):
        return np.zeros(n, dtype=object if dtype == "int64" else np.float64)

    @staticmethod
    def empty_like(x, dtype="int64"):
        return np.zeros(x.shape, dtype=object if dtype == "int64" else np.float64)


EXACT = ExactNS()
