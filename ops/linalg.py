"""Matrix products.

A small product's adjoint is a numba loop inside the sweep (a round trip to
Python would cost more than the arithmetic); a large one is recorded as
MATMUL_BLAS, whose adjoint runs in Python on numpy views of the arenas so that
it uses BLAS: the sweep hands such a row over and resumes after it.

Row attribute ``ia`` is the case, which also fixes PyTorch's node name.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._index import dims
from ._spec import CROSS, LINALG, PYTHON, X0, X1, Op, register

MATMUL = LINALG.start
MATMUL_BLAS = PYTHON.start
DOT, MV, VM, MM, BATCHED = range(5)
SMALL_PRODUCT = 1 << 16     # multiply-adds up to which the numba kernel beats a trip to BLAS (measured)
_NAMES = ("DotBackward0", "MvBackward0", "SqueezeBackward4", "MmBackward0", "BmmBackward0")


def case_of(na: int, nb: int) -> int:
    """The matmul case for operands of ``na`` and ``nb`` dims (both >= 1)."""
    if na == 1 and nb == 1:
        return DOT
    if na == 2 and nb == 1:
        return MV
    if na == 1 and nb == 2:
        return VM
    if na == 2 and nb == 2:
        return MM
    return BATCHED


def code_for(case: int, flops: int) -> int:
    """The row code for a product: numba for small 1-D/2-D ones, BLAS otherwise."""
    return MATMUL if case != BATCHED and flops <= SMALL_PRODUCT else MATMUL_BLAS


@njit(cache=True, error_model="numpy", inline="always")
def _add_into(g, o, x):
    """``g[o:o + len(x)] += x`` as a loop: an array assignment would compile numba's shape
    check and its message formatting (seconds of cold start)."""
    for i in range(x.shape[0]):
        g[o + i] += x[i]


@njit(cache=True, error_model="numpy", fastmath=True)
def matmul_adjoint(v, g, oa, ob, oy, stab, sa, sb, case, rga, rgb):
    """Adjoints of a 1-D/2-D product ``y = a @ b`` (the DOT, MV and MM cases)."""
    da = dims(stab, sa)
    db = dims(stab, sb)
    if case == DOT:
        gy = g[oy]
        for p in range(da[0]):
            if rga:
                g[oa + p] += gy * v[ob + p]
            if rgb:
                g[ob + p] += gy * v[oa + p]
        return
    m = da[0]
    k = da[1]
    n = 1 if case == MV else db[1]
    # Copies keep loads and stores on distinct arrays, so the loops vectorize.
    G = g[oy:oy + m * n].copy().reshape(m, n)
    if n == 1:
        # One column (as a matrix-vector product): every loop runs along k, which vectorizes.
        b = v[ob:ob + k]
        if rga:
            for i in range(m):
                gi = G[i, 0]
                ga = g[oa + i * k:oa + (i + 1) * k]
                for p in range(k):
                    ga[p] += gi * b[p]
        if rgb:
            A = v[oa:oa + m * k].reshape(m, k)
            GB = np.zeros(k, g.dtype)
            for i in range(m):
                gi = G[i, 0]
                a = A[i]
                for p in range(k):
                    GB[p] += a[p] * gi
            _add_into(g, ob, GB)
        return
    if rga:
        B = v[ob:ob + k * n].reshape(k, n)
        GA = np.zeros((m, k), g.dtype)
        for i in range(m):
            for p in range(k):
                acc = G[i, 0] * 0
                for j in range(n):
                    acc += G[i, j] * B[p, j]
                GA[i, p] = acc
        _add_into(g, oa, GA.reshape(-1))
    if rgb:
        A = v[oa:oa + m * k].reshape(m, k)
        GB = np.zeros((k, n), g.dtype)
        for i in range(m):
            for p in range(k):
                aip = A[i, p]
                for j in range(n):
                    GB[p, j] += aip * G[i, j]
        _add_into(g, ob, GB.reshape(-1))


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def matmul_forward(v, oa, ob, oy, m, k, n):
    """Write ``y = a @ b`` for an (m, k) by (k, n) product (vectors as 1-row or 1-column
    matrices: the flat layouts agree), the compiled face of a small MATMUL row."""
    A = v[oa:oa + m * k].reshape(m, k)
    B = v[ob:ob + k * n].reshape(k, n)
    Y = v[oy:oy + m * n].reshape(m, n)
    if n == 1:
        # One column: a dot product per row, reduced along contiguous memory (vectorizes).
        b = v[ob:ob + k]
        for i in range(m):
            a = A[i]
            acc = a[0] * 0.0
            for p in range(k):
                acc += a[p] * b[p]
            Y[i, 0] = acc
        return
    Y[:, :] = 0.0
    for i in range(m):
        for p in range(k):
            aip = A[i, p]
            for j in range(n):
                Y[i, j] += aip * B[p, j]


def _sum_to(x: np.ndarray, shape: tuple) -> np.ndarray:
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + d for d, s in enumerate(shape)
                                      if s == 1 and x.shape[lead + d] != 1)
    return x.sum(axis=axes, keepdims=True).reshape(shape) if axes else x.reshape(shape)


def _into(dst: np.ndarray, a: np.ndarray, b: np.ndarray, fresh: bool) -> None:
    """``dst += a @ b``, written straight into ``dst`` when no gradient reached it yet (no temporary)."""
    if fresh:
        np.matmul(a, b, out=dst)
    else:
        dst += a @ b


def _put(dst: np.ndarray, value: np.ndarray, fresh: bool) -> None:
    """``dst += value``, or ``dst = value`` when no gradient reached ``dst`` yet."""
    if fresh:
        dst[...] = value
    else:
        dst += value


def _py_adjoint(r, va, vb, gy, ga, gb, fresh):
    """Add the products into the input adjoints ``ga``/``gb`` (None when not needed)."""
    case = r.ia
    if ga is not None:
        if case == DOT:
            _put(ga, gy * vb, fresh & 1)
        elif case == MV:
            _put(ga, np.outer(gy, vb), fresh & 1)
        elif case == VM:
            _put(ga, vb @ gy, fresh & 1)
        elif case == MM:
            _into(ga, gy, vb.T, fresh & 1)
        else:
            _put(ga, _sum_to(gy @ np.swapaxes(vb, -1, -2), ga.shape), fresh & 1)
    if gb is not None:
        if case == DOT:
            _put(gb, gy * va, fresh & 2)
        elif case == MV:
            _put(gb, va.T @ gy, fresh & 2)
        elif case == VM:
            _put(gb, np.outer(va, gy), fresh & 2)
        elif case == MM:
            _into(gb, va.T, gy, fresh & 2)
        else:
            _put(gb, _sum_to(np.swapaxes(va, -1, -2) @ gy, gb.shape), fresh & 2)


def _vjp(g, x, y, r):
    a, b = x
    case = r.ia
    if case == DOT:
        return g * b, g * a
    if case == MV:
        return g.reshape(-1, 1) @ b.reshape(1, -1), a.t() @ g
    if case == VM:
        return b @ g, a.reshape(-1, 1) @ g.reshape(1, -1)
    if case == MM:
        return g @ b.t(), a.t() @ g
    return ((g @ b.transpose(-1, -2))._sum_to(r.in_shapes[0]),
            (a.transpose(-1, -2) @ g)._sum_to(r.in_shapes[1]))


register(Op(MATMUL, "matmul", "MmBackward0", X0 | X1 | CROSS, _vjp, forward=np.matmul,
            grad_fn_of=lambda r: _NAMES[r.ia], arity=2))
register(Op(MATMUL_BLAS, "matmul", "MmBackward0", X0 | X1 | CROSS, _vjp, forward=np.matmul,
            grad_fn_of=lambda r: _NAMES[r.ia], py_adjoint=_py_adjoint, arity=2))
