"""PyTorch's evenly spaced values, bit for bit: the fused multiply-adds its kernels compile to,
and ``linspace``'s values (``tape.linspace``; the bin edges of ``histogram``)."""
from __future__ import annotations

import numpy as np


def _two_product_error(a: np.ndarray, b: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``a * b - p`` exactly, for ``p = a * b`` in float64 (Dekker's split)."""
    ca, cb = 134217729.0 * a, 134217729.0 * b
    ah, bh = ca - (ca - a), cb - (cb - b)
    al, bl = a - ah, b - bh
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _fma(a, b, c) -> np.ndarray:
    """``a * b + c`` in float64 with one rounding, as the fused multiply-add PyTorch's kernels compile to."""
    a, b, c = (np.asarray(x, np.float64) for x in (a, b, c))
    p = a * b
    e = _two_product_error(a, b, p)
    s = p + c
    v = s - p
    t = (p - (s - v)) + (c - v)
    return s + (t + e)


def linspace_values(start, end, steps: int, dtype: np.dtype) -> np.ndarray:
    """``steps`` values from ``start`` to ``end`` inclusive as PyTorch's ``linspace`` computes them
    in ``dtype``: the first half counted up from ``start``, the second down from ``end``."""
    if dtype not in (np.float32, np.float64) or steps < 2:
        return np.linspace(float(start), float(end), steps).astype(dtype)
    t = np.dtype(dtype).type
    lo, hi = t(start), t(end)
    step = (hi - lo) / t(steps - 1)
    k = np.arange(steps)
    up = k < steps // 2
    v = np.empty(steps)
    v[up] = _fma(step, k[up].astype(t), lo)
    v[~up] = _fma(-step, (steps - 1 - k[~up]).astype(t), hi)
    return v.astype(t)
