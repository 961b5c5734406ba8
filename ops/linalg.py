"""Matrix products.

A small product's adjoint is a numba loop inside the sweep (a round trip to
Python would cost more than the arithmetic); a large one is recorded as
MATMUL_BLAS, whose adjoint runs in Python on numpy views of the arenas so that
it uses BLAS: the sweep hands such a row over and resumes after it.

Row attribute ``ia`` is the case, which also fixes PyTorch's node name.
The front ends (``matmul``/``@``, ``mm``, ``mv``, ``dot``) are at the end of the file.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .._emit import D, Tensor, node_in, plain, recorded, state, write_tape
from ._args import broadcast_pair
from ._index import dims
from ._spec import CROSS, LINALG, PYTHON, R_A, R_B, R_OFF, R_SHP, X0, X1, Op, public, public_function, register
from .elementwise import check_operand
from .shape import V_SQUEEZE_DIMS, V_UNSAFE, V_UNSQUEEZE, V_VIEW, viewed

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


@njit(cache=True, error_model="numpy")
def linalg_adjoint(code, v, g, oa, ob, oy, stab, sa, sb, case, rga, rgb):
    """Accumulate the adjoints of one product row swept in numba; False for a code this family
    does not sweep in numba (a BLAS product is a PYTHON-range row)."""
    if code != MATMUL:
        return False
    matmul_adjoint(v, g, oa, ob, oy, stab, sa, sb, case, rga, rgb)
    return True


@njit(cache=True, error_model="numpy")
def linalg_forward(code, R, stab, v, r):
    """Write the value of one 1-D/2-D product row (compiled code's face of its forward);
    False for a code this family does not compute in numba."""
    if code != MATMUL:
        return False
    x = R[R_A, r]
    y = R[R_B, r]
    sa = R[R_SHP, x]
    sb = R[R_SHP, y]
    m = stab[sa + 1] if stab[sa] == 2 else 1
    n = stab[sb + 2] if stab[sb] == 2 else 1
    k = stab[sa + stab[sa]]
    matmul_forward(v, R[R_OFF, x], R[R_OFF, y], R[R_OFF, r], m, k, n)
    return True


@njit(cache=True, error_model="numpy")
def product_row(stab, sa, sb, na):
    """For a 1-D/2-D product written by compiled code (the recorded backward) of operands of
    shapes ``sa``, ``sb`` and ``na`` elements: its row code (numba or BLAS), case and shape."""
    a2 = stab[sa] == 2
    b2 = stab[sb] == 2
    n = stab[sb + 2] if b2 else 1
    case = (MV if not b2 else MM) if a2 else (VM if b2 else DOT)
    shape = np.empty(stab[sa] + stab[sb] - 2, np.int64)
    if a2:
        shape[0] = stab[sa + 1]
    if b2:
        shape[shape.shape[0] - 1] = n
    return (MATMUL if na * n <= SMALL_PRODUCT else MATMUL_BLAS), case, shape


@njit(cache=True, error_model="numpy")
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
            acc = v.dtype.type(0.0)     # (a[0] * 0.0 would be nan for an infinite a[0])
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


# --- front end ------------------------------------------------------------------------
@public_function("matmul")
def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product of two tensors (dot, matrix-vector, matrix-matrix, batched)."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"matmul(): argument 'other' must be Tensor, not "
                        f"{type(b if isinstance(a, Tensor) else a).__name__}")
    sa, sb = a._shape, b._shape
    dt = a._dtype
    if len(sa) == 2 and len(sb) == 2 and sa[1] == sb[0] and dt is b._dtype and dt.arena is not None:
        # The common matrix-matrix product, checked in one line.
        y = np.matmul(a._value(), b._value())
        if not ((a._rg or b._rg) and state.grad):
            return plain(y, dt)
        tape = write_tape()
        na_ = a._node if a._tape is tape else node_in(tape, a, dt, sa)
        nb_ = b._node if b._tape is tape else node_in(tape, b, dt, sb)
        node = tape.append(code_for(MM, sa[0] * sa[1] * sb[1]), dt.arena, y, na_, nb_, ia=MM)
        return recorded(tape, node, y, dt)
    na, nb = len(sa), len(sb)
    if na == 0 or nb == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {na}D and {nb}D")
    case = case_of(na, nb)
    if case == BATCHED and na > 2 and nb <= 2:
        # A batch times a matrix or a vector: PyTorch folds the batch into the rows of one
        # product (its checks and messages then are the product's), and views the batch back.
        folded = matmul(viewed(a, (a.numel() // sa[-1], sa[-1]), V_VIEW), b)
        return viewed(folded, sa[:-1] + sb[1:], V_UNSAFE)
    if case == MV and sa[1] != sb[0]:
        raise RuntimeError(f"size mismatch, got input ({sa[0]}), mat ({sa[0]}x{sa[1]}), vec ({sb[0]})")
    if case in (VM, MM) and sa[-1] != sb[0]:
        ra = "1x" + str(sa[0]) if na == 1 else f"{sa[0]}x{sa[1]}"
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({ra} and {sb[0]}x{sb[1]})")
    if a._dtype is not b._dtype:
        la, lb = D.legacy_name(a._dtype), D.legacy_name(b._dtype)
        if case == DOT:
            raise RuntimeError(f"dot : expected both vectors to have same dtype, but found {la} and {lb}")
        if case == MV:
            raise RuntimeError(f"addmv input tensors must have the same dtype, but got {lb}, {la}, and {lb}")
        if case == BATCHED:
            raise RuntimeError(f"expected scalar type {la.replace('Tensor', '')} but found "
                               f"{lb.replace('Tensor', '')}")
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {la.lower()} != {lb.lower()}")
    if case == DOT and sa[0] != sb[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{sa[0]}] and src [{sb[0]}] to have the "
                           f"same number of elements, but got {sa[0]} and {sb[0]} elements respectively")
    if case == MV and sa[1] != sb[0]:
        raise RuntimeError(f"size mismatch, got input ({sa[0]}), mat ({sa[0]}x{sa[1]}), vec ({sb[0]})")
    if case in (VM, MM) and sa[-1] != sb[0]:
        ra = "1x" + str(sa[0]) if na == 1 else f"{sa[0]}x{sa[1]}"
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({ra} and {sb[0]}x{sb[1]})")
    if case == VM:
        # As PyTorch: the vector becomes a 1-row matrix, and the product row is squeezed.
        return viewed(matmul(viewed(a, (1, sa[0]), V_UNSQUEEZE), b), (sb[1],), V_SQUEEZE_DIMS)
    if case == BATCHED:
        if na == 1:
            # A vector times a batch: as PyTorch, through a view to a one-row matrix.
            return matmul(a.reshape(1, sa[0]), b).reshape(sb[:-2] + sb[-1:])
        if sa[-1] != sb[-2]:
            raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                               f"[{sb[-3] if nb > 2 else 1}, {sa[-1]}] but got: "
                               f"[{sb[-3] if nb > 2 else 1}, {sb[-2]}].")
        broadcast_pair(sa[:-2], sb[:-2])
    dt = a._dtype
    y = np.asarray(np.matmul(a._value(), b._value()), dt.np)
    if (a._rg or b._rg) and state.grad and dt.is_floating_point:
        tape = write_tape()
        na_ = node_in(tape, a, dt, sa)
        nb_ = node_in(tape, b, dt, sb)
        code = code_for(case, a.numel() * (sb[-1] if nb > 1 else 1))
        node = tape.append(code, dt.arena, y, na_, nb_, ia=case)
        return recorded(tape, node, y, dt)
    return plain(y, dt)


@public("matmul", function=False)
def matmul_method(self, other: Tensor) -> Tensor:
    """Matrix product with ``other`` (dot, matrix-vector, matrix-matrix, batched)."""
    return matmul(self, other)


@public("__matmul__")
def _matmul(self, other: Tensor) -> Tensor:
    if not isinstance(other, Tensor):
        raise TypeError(f"unsupported operand type(s) for @: 'Tensor' and '{type(other).__name__}'")
    return matmul(self, other)


@public("__rmatmul__")
def _rmatmul(self, other: Tensor) -> Tensor:
    return matmul(check_operand(other, "@"), self)


@public("mm")
def mm(self, other: Tensor) -> Tensor:
    """Product of two matrices."""
    if self.dim() != 2:
        raise RuntimeError("self must be a matrix")
    if other.dim() != 2:
        raise RuntimeError("mat2 must be a matrix")
    return matmul(self, other)


@public("mv")
def mv(self, vec: Tensor) -> Tensor:
    """Product of a matrix and a vector."""
    if self.dim() != 2 or vec.dim() != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {self.dim()}, {vec.dim()}")
    return matmul(self, vec)


@public("dot")
def dot(self, other: Tensor) -> Tensor:
    """Dot product of two 1-D tensors."""
    if self.dim() != 1 or other.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {self.dim()}D and {other.dim()}D tensors")
    return matmul(self, other)
