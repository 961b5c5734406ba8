"""Matrix products.

A 1-D/2-D product up to SMALL_PRODUCT multiply-adds is swept inside numba (a round trip
to Python would cost more than the arithmetic): its matrix-matrix kernels call the BLAS's
gemm by symbol (``_gemm``), the vector cases are loops.  A larger or batched one is recorded
as MATMUL_BLAS, whose adjoint runs in Python on numpy views of the arenas: the sweep hands
such a row over and resumes after it.

Row attribute ``ia`` is the case, which also fixes PyTorch's node name.
The front ends (``matmul``/``@``, ``mm``, ``mv``, ``dot``) are at the end of the file.
"""
from __future__ import annotations

import warnings
from typing import Optional

import numpy as np
from numba import njit

from .._emit import LEND_FROM, D, Tensor, emit, fresh, node_in, plain, quiet, recorded, state, write_tape
from ._args import broadcast_pair, wrap_dim
from ._gemm import HAVE_BLAS, gemm
from ._index import dims
from ._parser import check_elements, check_types
from ._rule import rule_adjoint
from ._spec import CROSS, LINALG, PYTHON, R_A, R_B, R_OFF, R_SHP, X0, X1, Op, public, public_function, register
from ._spec import TRANSPOSED, tangents
from .decomp import inv
from .elementwise import check_operand
from .join import stack
from .shape import V_SQUEEZE_DIMS, V_UNSAFE, V_UNSQUEEZE, V_VIEW, viewed

MATMUL = LINALG.start
MATMUL_BLAS = PYTHON.start
DOT, MV, VM, MM, BATCHED = range(5)
# Multiply-adds up to which a 1-D/2-D product is a compiled row, whose matrix-matrix kernels call the BLAS
# (``_gemm``); beyond, MATMUL_BLAS rows are swept in Python, where big leaves' adjoints get arrays of their own.
# (Without a BLAS to call, the loops standing in for it beat a trip to numpy on small products only.)
SMALL_PRODUCT = 1 << 20 if HAVE_BLAS else 1 << 16
# A MATMUL row's value: the row's compiled kernel up to this many multiply-adds (faster than numpy's
# call there), else numpy's BLAS call on the operands' arena slots, the row marked BLAS_VALUE in ``ib``.
# A trace's replay computes each row the same way (``Op.numpy_forward``): eager and replay agree bitwise.
KERNEL_VALUE = 1 << 12
BLAS_VALUE = 1
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
    if n != 1:
        # (the BLAS, ``_gemm``: faster than loops here from a 2x3 by 3x4 product up, measured; and n = 0,
        # where the loops below would read and write one column that is not there)
        s = g.itemsize
        if rga:     # ga += gy @ b.T
            gemm(g, False, True, m, k, n, g.ctypes.data + oy * s, n, v.ctypes.data + ob * s, n, 1.0,
                 g.ctypes.data + oa * s, k)
        if rgb:     # gb += a.T @ gy
            gemm(g, True, False, k, n, m, v.ctypes.data + oa * s, k, g.ctypes.data + oy * s, n, 1.0,
                 g.ctypes.data + ob * s, n)
        return
    # One column (as a matrix-vector product): every loop runs along k, which vectorizes.  (A copy
    # keeps loads and stores on distinct arrays.)
    G = g[oy:oy + m].copy()
    b = v[ob:ob + k]
    if rga:
        for i in range(m):
            gi = G[i]
            ga = g[oa + i * k:oa + (i + 1) * k]
            for p in range(k):
                ga[p] += gi * b[p]
    if rgb:
        A = v[oa:oa + m * k].reshape(m, k)
        GB = np.zeros(k, g.dtype)
        for i in range(m):
            gi = G[i]
            a = A[i]
            for p in range(k):
                GB[p] += a[p] * gi
        _add_into(g, ob, GB)


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def matmul_forward(v, oa, ob, oy, m, k, n):
    """Write ``y = a @ b`` for an (m, k) by (k, n) product (vectors as 1-row or 1-column
    matrices: the flat layouts agree), the compiled face of a small MATMUL row."""
    if n != 1:
        s = v.itemsize
        gemm(v, False, False, m, n, k, v.ctypes.data + oa * s, k, v.ctypes.data + ob * s, n, 0.0,
             v.ctypes.data + oy * s, n)
        return
    # One column: a dot product per row, reduced along contiguous memory (vectorizes).
    A = v[oa:oa + m * k].reshape(m, k)
    b = v[ob:ob + k]
    for i in range(m):
        a = A[i]
        acc = v.dtype.type(0.0)     # (a[0] * 0.0 would be nan for an infinite a[0])
        for p in range(k):
            acc += a[p] * b[p]
        v[oy + i] = acc


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
        # PyTorch's mv takes ``outer`` for the matrix, which is a broadcasting multiply (MulBackward0).
        return g.reshape(-1, 1) * b, a.t() @ g
    if case == VM:
        return b @ g, a.reshape(-1, 1) @ g.reshape(1, -1)
    if case == MM:
        return g @ b.t(), a.t() @ g
    return ((g @ b.transpose(-1, -2))._sum_to(r.in_shapes[0]),
            (a.transpose(-1, -2) @ g)._sum_to(r.in_shapes[1]))


def _strides(shape: tuple) -> tuple:
    return tuple(int(s) // 8 for s in np.empty(shape, np.float64).strides) if shape else ()


def _layout(name: str, k: int) -> tuple:
    return ((f"{name}_sym_sizes", lambda r: r.in_shapes[k]), (f"{name}_sym_strides", lambda r: _strides(r.in_shapes[k])))


# What each case's node saves, in PyTorch's names and packing order (an operand's sizes and
# strides are those of the contiguous copy the row holds).
_SAVED = {DOT: (("self", X0), ("tensor", X1)), MV: (("self", X0), ("vec", X1)),
          MM: (("mat2", X1), ("self", X0)) + _layout("mat2", 1) + _layout("self", 0),
          BATCHED: (("mat2", X1), ("self", X0))}


def _node_saved(r) -> tuple:
    return _SAVED.get(r.ia, ())


register(Op(MATMUL, "matmul", "MmBackward0", X0 | X1 | CROSS, _vjp, forward=np.matmul,
            grad_fn_of=lambda r: _NAMES[r.ia], arity=2, node_saved=_node_saved, numpy_forward=BLAS_VALUE))
register(Op(MATMUL_BLAS, "matmul", "MmBackward0", X0 | X1 | CROSS, _vjp, forward=np.matmul,
            grad_fn_of=lambda r: _NAMES[r.ia], py_adjoint=_py_adjoint, arity=2, node_saved=_node_saved))


def _jvp(ts, xs, y, r):
    """The product rule: ``ta @ b + a @ tb``."""
    a, b = xs
    ta, tb = ts
    return ta @ b if tb is None else (a @ tb if ta is None else ta @ b + a @ tb)


tangents({MATMUL: _jvp, MATMUL_BLAS: _jvp})


# --- front end ------------------------------------------------------------------------
@public_function("matmul")
def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product of two tensors (dot, matrix-vector, matrix-matrix, batched)."""
    a, b = input, other
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        arg, k, t = ("other", 2, b) if isinstance(a, Tensor) else ("input", 1, a)
        raise TypeError(f"matmul(): argument '{arg}' (position {k}) must be Tensor, not {type(t).__name__}")
    sa, sb = a._shape, b._shape
    dt = a._dtype
    if len(sa) == 2 and len(sb) == 2 and sa[1] == sb[0] and dt is b._dtype and dt.arena is not None:
        # The common matrix-matrix product, checked in one line.  (Only a 0-d tensor holds a float, ``_f``.)
        if not ((a._rg or b._rg) and state.grad):
            return plain(np.matmul(a._v, b._v), dt)
        tape = state.tape
        if tape is None or tape.n >= tape.soft:
            tape = None
            tape = fresh()
        flops = sa[0] * sa[1] * sb[1]
        # (operands of the row's dtype and shape enter as they are: ``node_in`` would import them; a
        # compiled row reads its operands from the arena, so a big leaf is copied rather than referred to)
        compiled = flops <= SMALL_PRODUCT
        na_ = a._node if a._tape is tape else tape.import_(a, not compiled)
        nb_ = b._node if b._tape is tape else tape.import_(b, not compiled)
        va, vb = a._v, b._v
        if not compiled:
            if sa[0] * sb[1] < LEND_FROM:
                y = np.matmul(va, vb)
                return recorded(tape, tape.push(MATMUL_BLAS, dt.arena, y, na_, nb_, MM), y, dt)
            # (a big product is written by BLAS straight into its arena slot, lent to the result: no copy)
            o, y = tape.slot(dt.arena, (sa[0], sb[1]))
            np.matmul(va, vb, out=y)
            return recorded(tape, tape.append(MATMUL_BLAS, dt.arena, y, na_, nb_, MM, at=o), y, dt)
        if flops <= KERNEL_VALUE:
            return _small_product(tape, dt, (sa[0], sb[1]), a, b, na_, nb_, MM, flops)
        # (``_small_product``'s BLAS value, inlined: the common product of a training step)
        y = np.matmul(va if va.flags.c_contiguous else tape.value_of(na_),
                      vb if vb.flags.c_contiguous else tape.value_of(nb_))
        return recorded(tape, tape.push(MATMUL, dt.arena, y, na_, nb_, MM, BLAS_VALUE), y, dt)
    na, nb = len(sa), len(sb)
    if na == 0 or nb == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {na}D and {nb}D")
    case = case_of(na, nb)
    if case == BATCHED and _should_fold(a, b):
        return _folded(a, b)
    if case == MV and sa[1] != sb[0]:
        raise RuntimeError(f"size mismatch, got input ({sa[0]}), mat ({sa[0]}x{sa[1]}), vec ({sb[0]})")
    if case in (VM, MM) and sa[-1] != sb[0]:
        ra = "1x" + str(sa[0]) if na == 1 else f"{sa[0]}x{sa[1]}"
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({ra} and {sb[0]}x{sb[1]})")
    if case == BATCHED and a._dtype is not b._dtype:
        batch = _batch_shapes(sa, sb)       # (PyTorch checks the batched shapes, then bmm's kernel, before the dtypes)
        if not (int(np.prod(batch, dtype=np.int64)) * (sa[-2] if na > 1 else 1) * (sb[-1] if nb > 1 else 1)
                and sa[-1]):
            return _expanded(a, b, batch)       # (bmm's kernel has nothing to multiply: zeros, no dtype check)
        if a._dtype is D.bool_:
            raise NotImplementedError("\"bmm\" not implemented for 'Bool'")
    if a._dtype is not b._dtype:
        la, lb = D.legacy_name(a._dtype), D.legacy_name(b._dtype)
        if case == DOT:
            raise RuntimeError(f"dot : expected both vectors to have same dtype, but found {la} and {lb}")
        if case == MV:
            raise RuntimeError(f"addmv input tensors must have the same dtype, but got {lb}, {la}, and {lb}")
        if case == BATCHED:
            raise RuntimeError(f"expected scalar type {la.replace('Tensor', '')} but found "
                               f"{lb.replace('Tensor', '')}")
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_C_NAMES[a._dtype.name]} != "
                           f"{_C_NAMES[b._dtype.name]}")
    if case == DOT and sa[0] != sb[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{sa[0]}] and src [{sb[0]}] to have the "
                           f"same number of elements, but got {sa[0]} and {sb[0]} elements respectively")
    if case == MV and sa[1] != sb[0]:
        raise RuntimeError(f"size mismatch, got input ({sa[0]}), mat ({sa[0]}x{sa[1]}), vec ({sb[0]})")
    if case in (VM, MM) and sa[-1] != sb[0]:
        ra = "1x" + str(sa[0]) if na == 1 else f"{sa[0]}x{sa[1]}"
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({ra} and {sb[0]}x{sb[1]})")
    if a._dtype is D.bool_:
        kernel = {DOT: "dot", MV: "addmv_impl_cpu", BATCHED: "bmm"}.get(case, "addmm_impl_cpu_")
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")
    if case == VM:
        # As PyTorch: the vector becomes a 1-row matrix, and the product row is squeezed.
        # (``squeeze_`` on the product, which is then no view, as PyTorch's)
        y = viewed(matmul(viewed(a, (1, sa[0]), V_UNSQUEEZE), b), (sb[1],), V_SQUEEZE_DIMS,
                   (("dim", 0), ("self_sym_sizes", (1, sb[1]))), alias=False)
        y._ver = [1]        # (the change ``squeeze_`` counts)
        return y
    if case == BATCHED:
        if na == 3 and nb == 3 and sa[0] != sb[0]:
            # (PyTorch drops a batch of one that requires grad: the product may then fold)
            if sa[0] == 1 and a._rg:
                return matmul(a.squeeze(0), b)
            if sb[0] == 1 and b._rg:
                return matmul(a, b.squeeze(0))
        batch = _batch_shapes(sa, sb)
        if (a._rg or b._rg) and state.grad and a._dtype.is_floating_point:
            return _expanded(a, b, batch)
    return _product(a, b, case)


def _batch_shapes(sa: tuple, sb: tuple) -> tuple:
    """The batch shape of a batched product, with PyTorch's errors for shapes that do not match."""
    batch = broadcast_pair(sa[:-2], sb[:-2])
    m2 = sb[-2] if len(sb) > 1 else sb[0]
    if sa[-1] != m2:
        size = int(np.prod(batch, dtype=np.int64))
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{size}, {sa[-1]}] "
                           f"but got: [{size}, {m2}].")
    return batch


def _product(a: Tensor, b: Tensor, case: int, dt: Optional[D.dtype] = None) -> Tensor:
    """One product row (a batched one: operands with equal batches, as ``bmm``'s), in ``dt``
    (``a``'s dtype by default)."""
    dt = a._dtype if dt is None else dt
    if (a._rg or b._rg) and state.grad and dt.is_floating_point:
        tape = write_tape()
        sa, sb = a._shape, b._shape
        na_ = node_in(tape, a, dt, sa)
        nb_ = node_in(tape, b, dt, sb)
        flops = a.numel() * (sb[-1] if len(sb) > 1 else 1)
        code = code_for(case, flops)
        if code == MATMUL:
            return _small_product(tape, dt, sa[:-1] + sb[1:], a, b, na_, nb_, case, flops)
        y = np.asarray(np.matmul(a._value().astype(dt.np, copy=False), b._value().astype(dt.np, copy=False)), dt.np)
        node = tape.append(code, dt.arena, y, na_, nb_, ia=case)
        return recorded(tape, node, y, dt)
    return plain(np.asarray(np.matmul(a._value().astype(dt.np, copy=False), b._value().astype(dt.np, copy=False)),
                            dt.np), dt)


def _small_product(tape, dt: D.dtype, shape: tuple, a: Tensor, b: Tensor, na_: int, nb_: int, case: int,
                   flops: int) -> Tensor:
    """Record a 1-D/2-D MATMUL row of ``a @ b`` and compute its value as a trace's replay of the row
    does (``KERNEL_VALUE``), so that the two agree bitwise."""
    if flops > KERNEL_VALUE:
        # (numpy's call on the operands laid out as their arena slots: C-contiguous)
        va, vb = a._value(), b._value()
        va = va if va.flags.c_contiguous else tape.value_of(na_)
        vb = vb if vb.flags.c_contiguous else tape.value_of(nb_)
        y = np.asarray(np.matmul(va, vb), dt.np)
        return recorded(tape, tape.append(MATMUL, dt.arena, y, na_, nb_, ia=case, ib=BLAS_VALUE), y, dt)
    y = np.empty(shape, dt.np)
    node = tape.push(MATMUL, dt.arena, y, na_, nb_, case)
    # (the row's kernel called as ``linalg_forward`` calls it, without the trip through the family's
    # dispatch: a third of a small product's recording)
    sa, sb = a._shape, b._shape
    R = tape.R
    oy = R.item(R_OFF, node)
    v = tape.v64 if dt.arena == 0 else tape.v32
    matmul_forward(v, R.item(R_OFF, na_), R.item(R_OFF, nb_), oy, sa[0] if len(sa) == 2 else 1, sa[-1],
                   sb[1] if len(sb) == 2 else 1)
    y.reshape(-1)[:] = v[oy:oy + y.size]
    return recorded(tape, node, y, dt)


# PyTorch's matmul of operands with a batch, recorded as its nodes: the batch of the bigger operand folded
# into one mm/mv when that needs no copy (or when the other operand requires grad), else both batches
# expanded to the broadcast one, flattened, multiplied by bmm, and viewed back (UnsafeViewBackward0).
def _should_fold(a: Tensor, b: Tensor) -> bool:
    first = a.dim() >= b.dim()
    big, other = (a, b) if first else (b, a)
    if not (big.dim() >= 3 and other.dim() <= 2):
        return False
    if other._rg:
        return True
    if a.dim() == 2:
        return False
    if big.numel() == 0:
        return True
    # (the bigger operand, transposed when it is the second: its batch must flatten without a copy)
    shape, strides = list(big._shape), list(big.stride())
    if not first:
        shape[-2:], strides[-2:] = shape[:-3:-1], strides[:-3:-1]
    return all(strides[i] == strides[i + 1] * shape[i + 1] for i in range(big.dim() - 2))


def _folded(a: Tensor, b: Tensor) -> Tensor:
    transpose = b.dim() > a.dim()
    t1 = b.mT if transpose else a
    t2 = (a.t() if a.dim() == 2 else a) if transpose else b
    s1 = t1._shape
    shape = s1[:-1]
    rows = int(np.prod(shape, dtype=np.int64))
    flat = t1.reshape(rows, s1[-1])
    if t2.dim() == 2:
        y = viewed(mm(flat, t2), shape + (t2._shape[1],), V_UNSAFE)
        return y.mT.contiguous() if transpose else y
    return viewed(mv(flat, t2), shape, V_UNSAFE)


def _expanded(a: Tensor, b: Tensor, batch: tuple) -> Tensor:
    sa, sb = a._shape, b._shape
    na, nb = len(sa), len(sb)
    n = sa[-2] if na > 1 else 1
    m = sa[-1]
    p = sb[-1] if nb > 1 else 1
    size = int(np.prod(batch, dtype=np.int64))
    t1 = a.expand(batch + (n, m)).reshape(size, n, m)
    if nb == 1:
        t2 = b.expand(batch + (m,)).reshape(size, m).unsqueeze(2)
    else:
        t2 = b.expand(batch + (m, p)).reshape(size, m, p)
    shape = batch + ((n,) if na > 1 else ()) + ((p,) if nb > 1 else ())
    y = _product(t1, t2, BATCHED, t2._dtype)       # (bmm's dtype: the second operand's when one is empty)
    return viewed(y.squeeze(-1) if nb == 1 else y, shape, V_UNSAFE)


@public("matmul", function=False)
def matmul_method(self, other: Tensor) -> Tensor:
    """Matrix product with ``other`` (dot, matrix-vector, matrix-matrix, batched)."""
    if not isinstance(other, Tensor):
        raise TypeError(f"matmul(): argument 'other' (position 1) must be Tensor, not {type(other).__name__}")
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
def mm(self, mat2: Tensor) -> Tensor:
    """Product of two matrices."""
    if type(mat2) is not Tensor:
        check_types("mm", (("mat2", Tensor),), mat2)
    if self.dim() != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.dim() != 2:
        raise RuntimeError("mat2 must be a matrix")
    return matmul(self, mat2)


@public("mv")
def mv(self, vec: Tensor) -> Tensor:
    """Product of a matrix and a vector."""
    if type(vec) is not Tensor:
        check_types("mv", (("vec", Tensor),), vec)
    if self.dim() != 2 or vec.dim() != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {self.dim()}, {vec.dim()}")
    return matmul(self, vec)


@public("dot")
def dot(self, tensor: Tensor) -> Tensor:
    """Dot product of two 1-D tensors."""
    if type(tensor) is not Tensor:
        check_types("dot", (("tensor", Tensor),), tensor)
    if self.dim() != 1 or tensor.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {self.dim()}D and {tensor.dim()}D tensors")
    return matmul(self, tensor)


# --- products built on the ones above, and the product rows with a rule of their own ----------
TRACE, VDOT, CROSS_PRODUCT = PYTHON.start + 50, PYTHON.start + 51, PYTHON.start + 52


def _trace_vjp(g, xs, y, r):
    m, n = r.in_shapes[0]
    return (g * plain(np.eye(m, n, dtype=xs[0]._dtype.np), xs[0]._dtype),)


def _cross_vjp(g, xs, y, r):
    a, b = xs
    return _cross_values(b, g, r.ia), _cross_values(g, a, r.ia)


register(Op(TRACE, "trace", "TraceBackward0", 0, _trace_vjp, py_adjoint=rule_adjoint,
            node_saved=(("self_sym_sizes", lambda r: r.in_shapes[0]),)))
register(Op(VDOT, "vdot", "VdotBackward0", X0 | X1 | CROSS, lambda g, x, y, r: (g * x[1], g * x[0]),
            py_adjoint=rule_adjoint, arity=2))
register(Op(CROSS_PRODUCT, "linalg_cross", "LinalgCrossBackward0", X0 | X1 | CROSS, _cross_vjp,
            py_adjoint=rule_adjoint, arity=2))
# Tangent rules: trace is linear (its own tangent); vdot and cross are bilinear, their adjoint rules transposed.
tangents({TRACE: lambda ts, xs, y, r: ts[0].trace(), VDOT: TRANSPOSED, CROSS_PRODUCT: TRANSPOSED})


def _product_dtypes(name: str, a: Tensor, b: Tensor) -> None:
    if a._dtype is not b._dtype:
        raise RuntimeError(f"{name} input tensors must have the same dtype, but got {D.legacy_name(a._dtype)} "
                           f"and {D.legacy_name(b._dtype)}")


def _record_two(code: int, y: np.ndarray, a: Tensor, b: Optional[Tensor], ia: int = 0) -> Tensor:
    dt = a._dtype
    y = np.require(y, dt.np, "C")
    if state.grad and dt.is_floating_point and (a._rg or (b is not None and b._rg)):
        return emit(code, y, dt, a, b, ia=ia)
    return plain(y, dt)


@public("trace")
def trace(self) -> Tensor:
    """The sum of the main diagonal of a matrix."""
    if self.dim() != 2:
        raise RuntimeError("trace: expected a matrix, but got tensor with dim " + str(self.dim()))
    v = self._value()
    y = np.trace(v) if self._dtype.is_floating_point else np.trace(v).astype(np.int64)
    if not self._dtype.is_floating_point:
        return plain(np.asarray(y, np.int64), D.int64)
    return _record_two(TRACE, np.asarray(y), self, None)


@public("vdot")
def vdot(self, other: Tensor) -> Tensor:
    """The dot product of two 1-D tensors (the first conjugated: the same for real tensors)."""
    if type(other) is not Tensor:
        check_types("vdot", (("other", Tensor),), other)
    if self.dim() != 1 or other.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {self.dim()}D and {other.dim()}D tensors")
    if self._dtype is not other._dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "      # (PyTorch's check, shared)
                           f"{D.legacy_name(self._dtype)} and {D.legacy_name(other._dtype)}")
    if self._shape[0] != other._shape[0]:
        n, m = self._shape[0], other._shape[0]
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to have the same number "
                           f"of elements, but got {n} and {m} elements respectively")
    quiet()
    return _record_two(VDOT, np.asarray(np.dot(self._value(), other._value())), self, other)


@public("outer", "ger")
def outer(self, vec2: Tensor) -> Tensor:
    """The outer product of two 1-D tensors (``self[i] * vec2[j]``)."""
    if type(vec2) is not Tensor:
        check_types("outer", (("vec2", Tensor),), vec2)
    if self.dim() != 1 or vec2.dim() != 1:
        raise RuntimeError(f"outer: Expected 1-D argument self, but got {self.dim()}-D"
                           if self.dim() != 1 else f"outer: Expected 1-D argument vec2, but got {vec2.dim()}-D")
    # As PyTorch: a column view of self times vec2 (MulBackward0 over a ViewBackward0).
    return viewed(self, (self._shape[0], 1), V_VIEW) * vec2


def _cross_values(a: Tensor, b: Tensor, d: int) -> Tensor:
    """``a x b`` along dim ``d`` of equal-shaped operands, in tape ops (the rule's own form)."""
    a0, a1, a2 = a.unbind(d)
    b0, b1, b2 = b.unbind(d)
    return stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


def linalg_cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (batch dims broadcast)."""
    if input.dim() != other.dim():
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    if not input._shape:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = wrap_dim(dim, input.dim())
    if input._shape[d] != 3 or other._shape[d] != 3:     # (before the batch dims broadcast, as PyTorch)
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {input._shape[d]} and "
                           f"{other._shape[d]}")
    shape = broadcast_pair(input._shape, other._shape)
    if input._dtype is not other._dtype:     # (no type promotion)
        raise RuntimeError(f"expected scalar type {D.legacy_name(input._dtype)} but found "
                           f"{D.legacy_name(other._dtype)}")
    dt = D.result_type(input, other)
    a = input if input._dtype is dt else input.to(dt)
    b = other if other._dtype is dt else other.to(dt)
    with np.errstate(all="ignore"):      # (numpy's cross is Python: its warnings would be numpy's)
        y = np.cross(np.broadcast_to(a._value(), shape), np.broadcast_to(b._value(), shape), axis=d)
    return _record_two(CROSS_PRODUCT, np.asarray(y, dt.np), a, b, ia=d)


cross = linalg_cross


@public("cross")
def cross_method(self, other: Tensor, dim: Optional[int] = None) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (the first dim of size 3 when not given, with
    PyTorch's deprecation warning)."""
    if type(other) is not Tensor or not (dim is None or type(dim) is int):
        check_types("cross", (("other", Tensor), ("dim", "int?")), other, dim)
    if dim is None:
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\nPlease either pass the dim "
                      "explicitly or simply use torch.linalg.cross.\nThe default value of dim will change to agree "
                      "with that of linalg.cross in a future release.", UserWarning, stacklevel=3)
        shape = broadcast_pair(self._shape, other._shape)
        dim = next((k for k, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    return linalg_cross(self, other, dim=dim)


@public("bmm")
def bmm(self, mat2: Tensor) -> Tensor:
    """Batched product of two 3-D tensors with the same batch size."""
    if type(mat2) is not Tensor:
        check_types("bmm", (("mat2", Tensor),), mat2)
    if self.dim() != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if mat2.dim() != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    (b, n, m), (b2, m2, p) = self._shape, mat2._shape
    if b2 != b or m2 != m:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{b}, {m}] but got: "
                           f"[{b2}, {m2}].")
    if not (b * n * p and m):
        # (PyTorch's kernel returns before its dtype check when there is nothing to multiply: zeros
        # in mat2's dtype)
        return _product(self, mat2, BATCHED, mat2._dtype)
    _product_dtypes_bmm(self, mat2)
    return _product(self, mat2, BATCHED)


def _product_dtypes_bmm(a: Tensor, b: Tensor) -> None:
    if a._dtype is not b._dtype:
        raise RuntimeError(f"expected scalar type {D.legacy_name(a._dtype)} but found {D.legacy_name(b._dtype)}")


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """The dot product of vectors along ``dim`` (batch dims broadcast): ``(x * y).sum(dim)``, or
    ``vdot`` for two vectors, as PyTorch."""
    if x._dtype is not y._dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
                           f"{D.legacy_name(x._dtype)} and y of type {D.legacy_name(y._dtype)} instead")
    if x.dim() == 1 and y.dim() == 1:
        return vdot(x, y)
    return (x * y).sum(dim)


def _chain_order(dims: list) -> list:
    """PyTorch's multi_dot order: ``split[i][j]`` is where the cheapest product of matrices i..j
    splits (the textbook matrix-chain dynamic program)."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j] = c
                    split[i][j] = k
    return split


def _multiply(ms: list, split: list, i: int, j: int) -> Tensor:
    if i == j:
        return ms[i]
    k = split[i][j]
    return matmul(_multiply(ms, split, i, k), _multiply(ms, split, k + 1, j))


_C_NAMES = {"float32": "float", "float64": "double", "int64": "long int", "int32": "int", "int16": "short int",
            "int8": "signed char", "uint8": "unsigned char", "bool": "bool", "float16": "c10::Half"}


def multi_dot(tensors: list) -> Tensor:
    """The product of two or more matrices in the cheapest order (the first and last may be
    vectors)."""
    n = len(tensors)
    if n < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {n}")
    first, last = tensors[0].dim(), tensors[-1].dim()
    if first not in (1, 2):
        raise RuntimeError(f"multi_dot(): the first tensor must be 1D or 2D but got {first}D")
    if last not in (1, 2):
        raise RuntimeError(f"multi_dot(): the last tensor must be 1D or 2D but got {last}D")
    for k in range(1, n - 1):
        if tensors[k].dim() != 2:
            raise RuntimeError(f"multi_dot(): tensor {k} must be 2D but got {tensors[k].dim()}D")
    dt = tensors[0]._dtype
    for k, t in enumerate(tensors[1:], 1):
        if t._dtype is not dt:
            raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but tensor 0 is "
                               f"{_C_NAMES.get(dt.name, dt.name)} and tensor {k} "
                               f"{_C_NAMES.get(t._dtype.name, t._dtype.name)}")
    ms = list(tensors)
    if first == 1:
        ms[0] = ms[0].unsqueeze(0)
    if last == 1:
        ms[-1] = ms[-1].unsqueeze(1)
    for k in range(n - 1):
        if ms[k]._shape[1] != ms[k + 1]._shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {k} and {k + 1} with shapes {list(tensors[k]._shape)} and "
                               f"{list(tensors[k + 1]._shape)} cannot be multiplied")
    if n == 2:
        y = matmul(ms[0], ms[1])
    else:
        y = _multiply(ms, _chain_order([m._shape[0] for m in ms] + [ms[-1]._shape[1]]), 0, n - 1)
    shape = (() if first == 1 else y._shape[:1]) + (() if last == 1 else y._shape[1:])
    return viewed(y, shape, V_VIEW)


@public_function("chain_matmul")
def chain_matmul(*matrices: Tensor) -> Tensor:
    """The product of two or more matrices in the cheapest order (deprecated:
    ``tape.linalg.multi_dot``)."""
    warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
                  "torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather than "
                  "multiple parameters.", UserWarning, stacklevel=2)
    check_elements(matrices, Tensor)
    if len(matrices) == 1:
        return matrices[0].clone()
    for k, m in enumerate(matrices):
        if m.dim() != 2:
            raise RuntimeError(f"chain_matmul(): tensor {k} must be 2D but got {m.dim()}D")
    return multi_dot(list(matrices))


@public("matrix_power")
def matrix_power(self, n: int) -> Tensor:
    """The ``n``-th power of a square matrix (of each matrix of a batch); negative powers of the
    inverse."""
    if type(n) is not int:
        check_types("matrix_power", (("n", "int"),), n)
    if self.dim() < 2:
        raise RuntimeError("linalg.matrix_power: The input tensor A must have at least 2 dimensions.")
    if self._shape[-1] != self._shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but they are "
                           f"{self._shape[-2]} by {self._shape[-1]} matrices")
    a = self
    if n == 0:
        # (PyTorch copies the identity into a clone: no gradient reaches the input)
        return a.clone().copy_(plain(np.eye(self._shape[-1], dtype=self._dtype.np), self._dtype))
    if n == 1:
        return a.clone()
    if n < 0:
        a = inv(a)
        n = -n
        if n == 1:
            return a
    if n == 2:
        return matmul(a, a)
    if n == 3:
        return matmul(matmul(a, a), a)
    z = result = None
    while n > 0:
        bit = n % 2
        n //= 2
        z = a if z is None else matmul(z, z)
        if bit:
            result = z if result is None else matmul(result, z)
    return result


@public("kron")
def kron(self, other: Tensor) -> Tensor:
    """The Kronecker product: every element of ``self`` times the whole of ``other`` (the shorter
    shape padded with leading 1s)."""
    if not isinstance(other, Tensor):
        raise TypeError(f"kron(): argument 'other' (position 1) must be Tensor, not {type(other).__name__}")
    nd = max(self.dim(), other.dim())
    sa = (1,) * (nd - self.dim()) + self._shape
    sb = (1,) * (nd - other.dim()) + other._shape
    # As PyTorch: both interleaved with 1s by an unsafe view, multiplied, and viewed back.
    a = viewed(self.contiguous(), tuple(d for s in sa for d in (s, 1)), V_UNSAFE)
    b = viewed(other.contiguous(), tuple(d for s in sb for d in (1, s)), V_UNSAFE)
    return viewed(a * b, tuple(x * y for x, y in zip(sa, sb)), V_UNSAFE)
