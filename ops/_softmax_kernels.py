"""Compiled softmax and log-softmax of float32 rows, forward and adjoint, one pass set per row.

Each kernel takes rows ``lo:hi`` of 2-d C-contiguous float32 arrays (the caller hands parts to
several cores: ``ops/softmax.py``) and computes each row by itself, with the same instructions in
any part, so results do not depend on the number of threads.  A row of 1000 float32 is 4 KB: its
passes (exp, sum, subtract) stay in L1.  The exp is ``_vecmath.exp32`` (these loops vectorize;
libm's exp would not); the row sums reassociate (``_sum``, ``_dot``: they vectorize, in an order
other than numpy's pairwise one, so they differ from numpy's by rounding); the row maxima are taken
on the floats' bits as integers (``_max``: numba's float maximum loop does not vectorize).  The
kernels contract multiply-adds (``fastmath={"contract"}``); their values are within the ulps that
``tests/test_big_softmax.py`` states of the float64 ones, as numpy's float32 formula is.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._vecmath import _bits_float, exp32, wide


@njit(cache=True, error_model="numpy", fastmath={"reassoc"})
def _sum(v):
    s = np.float32(0.0)
    for j in range(v.shape[0]):
        s += v[j]
    return s


@njit(cache=True, error_model="numpy", fastmath={"reassoc"})
def _dot(a, b):
    s = np.float32(0.0)
    for j in range(a.shape[0]):
        s += a[j] * b[j]
    return s


_SIGN = np.int32(31)
_MAGNITUDE = np.int32(0x7fffffff)
_INF = np.int32(0x7f800000)                 # (the integer keys of +inf and -inf; a nan's lies beyond)
_MINUS_INF = np.int32(-0x7f800001)
_LANES = 16


@njit(cache=True, error_model="numpy")
def _max(v, acc):
    """The largest of ``v``'s elements, taken on their bits as integers ordered as the floats are
    (a negative float's magnitude bits flipped: -nan < -inf < ... < -0 < +0 < ... < inf < nan): an
    integer maximum, which vectorizes where a float one does not without fast-math, in 512-bit
    registers (``wide``: a maximum is the same in any order); 0.35 -> 0.295 ms for the forward of
    512x1000.  A row with a nan (all its results nan) takes running maxima in lanes (``_lanes_max``),
    which pass over most of its nans, so that the nans it gives keep their bits (signs)."""
    wide()
    b = v.view(np.int32)
    hi = np.int32(-2147483648)
    lo = np.int32(2147483647)
    for j in range(b.shape[0]):
        k = b[j] ^ ((b[j] >> _SIGN) & _MAGNITUDE)
        hi = k if k > hi else hi
        lo = k if k < lo else lo
    if hi > _INF or lo < _MINUS_INF:
        return _lanes_max(v, acc)
    return _bits_float(hi ^ ((hi >> _SIGN) & _MAGNITUDE))


@njit(cache=True, error_model="numpy")
def _lanes_max(v, acc):
    """The largest of ``v``'s elements but nan, in ``_LANES`` running maxima (``acc``, scratch)."""
    n = v.shape[0]
    m = v[0]
    j = 0
    if n >= _LANES:
        for k in range(_LANES):
            acc[k] = v[k]
        j = _LANES
        while j + _LANES <= n:
            for k in range(_LANES):
                a, b = acc[k], v[j + k]
                acc[k] = b if b > a else a
            j += _LANES
        for k in range(_LANES):
            m = acc[k] if acc[k] > m else m
    while j < n:
        m = v[j] if v[j] > m else m
        j += 1
    return m


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"contract"})
def forward(x, out, lo, hi, log):
    """Rows ``lo:hi`` of ``out``: softmax (or, if ``log``, log-softmax) of ``x``'s rows:
    ``e = exp(x - max)``, then ``e / sum(e)`` or ``(x - max) - log(sum(e))``."""
    wide()
    n = x.shape[1]
    acc = np.empty(_LANES, x.dtype)
    for i in range(lo, hi):
        xi, oi = x[i], out[i]
        mi = _max(xi, acc)
        for j in range(n):
            oi[j] = exp32(xi[j] - mi)
        s = _sum(oi)
        if log:
            ls = np.float32(math.log(s))
            for j in range(n):
                oi[j] = (xi[j] - mi) - ls
        else:
            for j in range(n):
                oi[j] = oi[j] / s


@njit(cache=True, error_model="numpy", inline="always")
def _adjoint_row(yi, gi, di, log, write):
    n = yi.shape[0]
    if log:
        s = _sum(gi)
        if write:
            for j in range(n):
                di[j] = gi[j] - exp32(yi[j]) * s
        else:
            for j in range(n):
                di[j] += gi[j] - exp32(yi[j]) * s
    else:
        s = _dot(gi, yi)
        if write:
            for j in range(n):
                di[j] = yi[j] * (gi[j] - s)
        else:
            for j in range(n):
                di[j] += yi[j] * (gi[j] - s)


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"contract"})
def adjoint(y, g, dst, lo, hi, log, write):
    """Rows ``lo:hi`` of the adjoint ``dst`` (written if ``write``, else added to) of softmax (or
    log-softmax, if ``log``) whose output is ``y``, from the output's adjoint ``g``:
    ``y * (g - sum(g * y))``, or ``g - exp(y) * sum(g)``."""
    wide()
    for i in range(lo, hi):
        _adjoint_row(y[i], g[i], dst[i], log, write)


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"contract"})
def sparse_adjoint(y, positions, val, dst, lo, hi, log, write):
    """``adjoint`` of an output adjoint that is zero but ``val`` at the flat ``positions`` (added in
    the order given: a repeated position sums).  The entries of rows ``lo:hi`` are first listed by
    row, each row's in the order given (a counting sort: a few passes over the positions, where
    numpy's argsort and searchsorted would cost a call each).  Each row's adjoint is made in a row
    of scratch, which stays in cache, so the whole of it is neither zeroed nor read from memory;
    its rows are ``adjoint``'s, to the bit."""
    wide()
    cols = y.shape[1]
    start = np.zeros(hi - lo + 1, np.int64)
    for k in range(positions.shape[0]):
        r = positions[k] // cols
        if lo <= r < hi:
            start[r - lo + 1] += 1
    for i in range(hi - lo):
        start[i + 1] += start[i]
    fill = start[:-1].copy()
    order = np.empty(start[hi - lo], np.int64)
    for k in range(positions.shape[0]):
        r = positions[k] // cols
        if lo <= r < hi:
            order[fill[r - lo]] = k
            fill[r - lo] += 1
    gi = np.empty(cols, y.dtype)
    for i in range(lo, hi):
        gi[:] = 0.0
        base = i * cols
        for q in range(start[i - lo], start[i - lo + 1]):
            k = order[q]
            gi[positions[k] - base] += val[k]
        _adjoint_row(y[i], gi, dst[i], log, write)
