"""The LU decomposition and what is built on it: ``lu_factor``/``lu_factor_ex``, ``lu``,
``lu_solve``, and the ``*_ex`` forms of solve, inv and cholesky (an ``info`` tensor instead of an
error), as PyTorch's ``torch.linalg``.

The factorization is LAPACK's getf2 (partial pivoting, the first largest magnitude in a column)
written over numpy, so that its pivots, and a singular matrix's factors, are LAPACK's.  Each op is a
Python-rule row (``ops/_rule.py``) whose rule is PyTorch's derivative formula in tape ops, so every
order works.  Row attributes: LU_SOLVE ``ia`` bit 1: ``left``, bit 2: ``adjoint``.  An LU_SOLVE row
lists its inputs ``(LU, pivots, B)``; the pivots are a constant (float) input that gets no gradient
and that PyTorch's node does not show.
"""
from __future__ import annotations

import numpy as np

from .._emit import D, Tensor, node_in, plain, recorded, state, write_tape
from ._args import broadcast_pair
from ._rule import return_type, rule_adjoint
from ._spec import LISTED, OUT, OUTPUTS, OUTS, PYTHON, TRANSPOSED, X0, X1, Given, Op, register, tangents
from .decomp import (CHOLESKY, INV, SOLVE, RIGHT, VECTOR, LinAlgError, _batch_prefix, _check_matrix,
                     _check_solve, _many, _one, _outputs, _substitute, solve, solve_triangular)
from .join import cat

LU_FACTOR, LU, LU_SOLVE = PYTHON.start + 62, PYTHON.start + 63, PYTHON.start + 64
LEFT, ADJOINT = 1, 2


# --- values (numpy) -----------------------------------------------------------------------
def _getrf(a: np.ndarray) -> tuple:
    """LAPACK's getf2 over a batch: ``(LU, pivots, info)`` with 1-based pivots (row ``j`` swapped
    with row ``pivots[j] - 1``) and ``info`` the 1-based index of the first zero pivot (0: none)."""
    m, n = a.shape[-2:]
    k = min(m, n)
    batch = a.shape[:-2]
    u = np.array(a, dtype=a.dtype).reshape((int(np.prod(batch)), m, n))
    piv = np.zeros((u.shape[0], k), np.int32)
    info = np.zeros(u.shape[0], np.int32)
    rows = np.arange(u.shape[0])
    with np.errstate(all="ignore"):
        for j in range(k):
            p = j + np.argmax(np.abs(u[:, j:, j]), axis=1)
            piv[:, j] = p + 1
            top = u[rows, j].copy()
            u[rows, j] = u[rows, p]
            u[rows, p] = top
            d = u[:, j, j]
            zero = d == 0
            info[(info == 0) & zero] = j + 1
            # (a zero pivot leaves its column as it is: zeros below it, as getf2)
            col = np.where(zero[:, None], u[:, j + 1:, j], u[:, j + 1:, j] * (1 / np.where(zero, 1, d))[:, None])
            u[:, j + 1:, j] = col
            u[:, j + 1:, j + 1:] -= col[:, :, None] * u[:, j, None, j + 1:]
    return u.reshape(a.shape), piv.reshape(batch + (k,)), info.reshape(batch)


def _perm(piv: np.ndarray, m: int) -> np.ndarray:
    """The rows LAPACK's pivots (a batch of them) bring to the top: row ``i`` of ``P^T A`` is row
    ``perm[i]`` of ``A``."""
    perm = np.broadcast_to(np.arange(m), piv.shape[:-1] + (m,)).copy()
    count = int(np.prod(piv.shape[:-1]))
    flat, fp = perm.reshape(count, m), piv.reshape(count, piv.shape[-1]).astype(np.int64) - 1
    rows = np.arange(count)
    for i in range(fp.shape[1]):
        src = flat[rows, fp[:, i]].copy()
        flat[rows, fp[:, i]] = flat[rows, i]
        flat[rows, i] = src
    return perm


def _permutation(piv: np.ndarray, m: int, dtype) -> np.ndarray:
    """``P`` with ``A = P L U`` from LAPACK's pivots (a batch of them)."""
    p = np.zeros(piv.shape[:-1] + (m, m), dtype)
    np.put_along_axis(p, _perm(piv, m)[..., None, :], 1, axis=-2)
    return p


def _unpack(lu: np.ndarray) -> tuple:
    m, n = lu.shape[-2:]
    k = min(m, n)
    low = np.tril(lu[..., :, :k], -1) + np.eye(m, k, dtype=lu.dtype)
    return low, np.triu(lu[..., :k, :])


def _triangular(a: np.ndarray, b: np.ndarray, upper: bool, unit: bool) -> np.ndarray:
    """``a^-1 b`` for a triangular ``a`` (its ``upper`` or lower triangle, a unit diagonal with
    ``unit``): inf and nan for a zero on the diagonal, as LAPACK's trsm."""
    a = np.triu(a) if upper else np.tril(a)
    if unit:
        idx = np.arange(a.shape[-1])
        a[..., idx, idx] = 1
    with np.errstate(all="ignore"):
        try:
            return np.linalg.solve(a, b)
        except np.linalg.LinAlgError:
            return _substitute(np.broadcast_to(a, np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + a.shape[-2:]),
                               b, upper, True)


def _lu_solve_values(lu: np.ndarray, piv: np.ndarray, b: np.ndarray, left: bool, adjoint: bool) -> np.ndarray:
    """``A^-1 b`` (``b A^-1`` unless ``left``; ``A^T`` in place of ``A`` with ``adjoint``) for
    ``A = P L U`` given as LAPACK's ``(lu, piv)``."""
    if not left:
        # X A = B is A^T X^T = B^T
        return np.swapaxes(_lu_solve_values(lu, piv, np.swapaxes(b, -1, -2), True, not adjoint), -1, -2)
    # (rows permuted by indexing, as LAPACK's laswp: a product with P would spread an inf or nan)
    perm = _perm(piv, lu.shape[-1])[..., None]
    if adjoint:
        # A^T = U^T L^T P^T
        x = _triangular(np.swapaxes(lu, -1, -2), b, False, False)
        x = _triangular(np.swapaxes(lu, -1, -2), x, True, True)
        return np.take_along_axis(x, np.argsort(perm, axis=-2), axis=-2)
    pb = np.take_along_axis(np.broadcast_to(b, perm.shape[:-2] + b.shape[-2:]), perm, axis=-2)
    return _triangular(lu, _triangular(lu, pb, False, True), True, False)


# --- derivative rules (tape ops) ------------------------------------------------------------
def _eye(m: int, k: int, dt: D.dtype) -> Tensor:
    return plain(np.eye(m, k, dtype=dt.np), dt)


def _factors(lu: Tensor) -> tuple:
    """``L`` (unit lower) and ``U`` of a packed LU, as tape ops (PyTorch's lu_unpack)."""
    m, n = lu._shape[-2:]
    k = min(m, n)
    return lu.narrow(-1, 0, k).tril(-1) + _eye(m, k, lu._dtype), lu.narrow(-2, 0, k).triu()


def _lu_backward(gl, gu, p: Tensor, low: Tensor, up: Tensor) -> Tensor:
    """PyTorch's linalg_lu_backward: the gradient of ``A = P L U`` from those of ``L`` and ``U``."""
    m, n = low._shape[-2], up._shape[-1]
    k = min(m, n)
    if m == n:
        ga = None if gl is None else (low.mT @ gl).tril(-1)
        if gu is not None:
            t = (gu @ up.mT).triu()
            ga = t if ga is None else ga + t
        ga = solve_triangular(up.mT, ga, upper=False, left=False)
        ga = solve_triangular(low.mT, ga, upper=True, unitriangular=True)
    elif m < n:
        u1 = up.narrow(-1, 0, k)
        ga = None if gl is None else low.mT @ gl
        if gu is not None:
            t = gu.triu() @ up.mT
            ga = -t if ga is None else ga - t
        ga = solve_triangular(u1.mT, ga.tril(-1), upper=False, left=False)
        if gu is not None:
            ga = cat([ga + gu.narrow(-1, 0, k).triu(), gu.narrow(-1, k, n - k)], -1)
        ga = solve_triangular(low.mT, ga, upper=True, unitriangular=True)
        if gu is None:
            ga = cat([ga, up.new_zeros(up._shape[:-1] + (n - k,))], -1)
    else:
        l1 = low.narrow(-2, 0, k)
        ga = None if gu is None else gu @ up.mT
        if gl is not None:
            gl = gl.tril(-1)
            t = low.mT @ gl
            ga = -t if ga is None else ga - t
        ga = solve_triangular(l1.mT, ga.triu(), upper=True, unitriangular=True)
        if gl is not None:
            ga = cat([ga + gl.narrow(-2, 0, k), gl.narrow(-2, k, m - k)], -2)
        ga = solve_triangular(up.mT, ga, upper=False, left=False)
        if gl is None:
            ga = cat([ga, low.new_zeros(low._shape[:-2] + (m - k, k))], -2)
    return p @ ga


def _lu_factor_vjp(g, xs, y, r):
    # (the row's second input: the pivots, as PyTorch's node saves them, in the factors' dtype)
    piv = xs[1]._value().astype(np.int32)
    m, n = y._shape[-2:]
    k = min(m, n)
    p = plain(_permutation(piv, m, y._dtype.np), y._dtype)
    low, up = _factors(y)
    return (_lu_backward(g.narrow(-1, 0, k), g.narrow(-2, 0, k), p, low, up), None)


def _lu_vjp(g, xs, y, r):
    gl, gu = g
    if gl is None and gu is None:
        return (None, None)
    low, up = _outputs(y, r)
    return (_lu_backward(gl, gu, xs[1], low, up), None)      # (xs[1]: P, saved as PyTorch's node saves it)


def _lu_solve_vjp(g, xs, y, r):
    lu, piv, b = xs
    left, adjoint = bool(r.ia & LEFT), bool(r.ia & ADJOINT)
    rg = r.tape.rg
    nb = r.inputs[2]
    pivots = plain(piv._value().astype(np.int32), D.int32)
    gb = lu_solve(lu, pivots, g, left=left, adjoint=not adjoint) if rg[nb] else None
    glu = None
    if rg[r.inputs[0]]:
        # PyTorch's linalg_lu_solve_LU (a plain backward passes a listed row no output: the tape has it)
        x = y if y is not None else plain(r.tape.value_of(r.r), lu._dtype)
        low, up = _factors(lu)
        if left != adjoint:
            gr = solve_triangular(up.mT, -((g if left else g.mT) @ (x.mT if left else x)), upper=False)
            glu = solve_triangular(low.mT, gr @ up.mT, upper=True, unitriangular=True).tril(-1) + gr.triu()
        else:
            p = plain(_permutation(piv._value().astype(np.int32), lu._shape[-1], lu._dtype.np), lu._dtype)
            gr = -(p.mT @ (x if left else x.mT) @ (g.mT if left else g) @ p)
            gr = solve_triangular(low.mT, gr, upper=True, left=False, unitriangular=True)
            gu = solve_triangular(up.mT, low.mT @ gr, upper=False, left=False).triu()
            glu = gr.tril(-1) + gu
    # (a plain backward does not sum a listed row's gradients over broadcast batch dims)
    if gb is not None and gb._shape != b._shape:
        gb = gb._sum_to(b._shape)
    if glu is not None and glu._shape != lu._shape:
        glu = glu._sum_to(lu._shape)
    return glu, None, gb


# PyTorch's nodes save the factors and the permutation (the pivots, or P), not A: the rows take the
# permutation as a second input without gradient, so an in-place change of it (not of A) fails the backward.
register(Op(LU_FACTOR, "linalg_lu_factor_ex", "LinalgLuFactorExBackward0", X1 | OUT, _lu_factor_vjp,
            py_adjoint=rule_adjoint, arity=2, nondiff=(1,), returned_inputs=(X1,),
            node_saved=(("LU", OUT), ("pivots", X1), ("pivot", lambda r: True))))
register(Op(LU, "linalg_lu", "LinalgLuBackward0", X1 | OUT | OUTS, _lu_vjp, py_adjoint=rule_adjoint, multi=True,
            arity=2, nondiff=(1,),
            node_saved=(("P", X1), ("L", Given(OUTPUTS)), ("U", Given(OUTPUTS + 1)), ("pivot", lambda r: True))))
register(Op(LU_SOLVE, "linalg_lu_solve", "LinalgLuSolveBackward0", X0 | OUT, _lu_solve_vjp, arity=LISTED,
            nondiff=(1,)))
tangents({LU_FACTOR: TRANSPOSED, LU: TRANSPOSED, LU_SOLVE: TRANSPOSED})     # (their adjoint rules, transposed)


# --- front ends ---------------------------------------------------------------------------
LuFactorResult = return_type("linalg_lu_factor", ("LU", "pivots"))
LuFactorExResult = return_type("linalg_lu_factor_ex", ("LU", "pivots", "info"))
LuResult = return_type("linalg_lu", ("P", "L", "U"))
SolveExResult = return_type("linalg_solve_ex", ("result", "info"))
InvExResult = return_type("linalg_inv_ex", ("inverse", "info"))
CholeskyExResult = return_type("linalg_cholesky_ex", ("L", "info"))


def _int32(v: np.ndarray) -> Tensor:
    return plain(np.require(v, np.int32, "C"), D.int32)


def _factor(name: str, A: Tensor, pivot: bool) -> tuple:
    if not isinstance(A, Tensor):
        raise TypeError(f"{name.replace('.', '_')}(): argument 'A' (position 1) must be Tensor, not "
                        f"{type(A).__name__}")
    if A.dim() < 2:
        what = "linalg.lu" if name == "linalg.lu" else "torch.lu_factor"
        raise RuntimeError(f"{what}: Expected tensor with 2 or more dimensions. Got size: {list(A._shape)} instead")
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    if not A._dtype.is_floating_point:
        raise NotImplementedError(f"\"lu_cpu\" not implemented for '{D.legacy_name(A._dtype)}'")
    return _getrf(A._value())


def _zero_u(name: str, info: np.ndarray) -> None:
    """PyTorch's error for a zero on ``U``'s diagonal (``lu_factor``, or ``check_errors``)."""
    bad = np.argwhere(info > 0)
    if len(bad):
        index = tuple(bad[0])
        j = int(info[index])
        prefix = _batch_prefix(info.shape + (0, 0), index)
        raise RuntimeError(f"torch.{name}: {prefix}U[{j},{j}] is zero and using it on lu_solve would result in a "
                           f"division by zero. If you still want to perform the factorization, consider calling "
                           f"linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")


def _factored(code: int, ys: list, A: Tensor, perm: Tensor) -> tuple:
    """The factors ``ys`` of ``A`` as the outputs of one row over ``A`` and the permutation ``perm``."""
    dt = A._dtype
    ys = [np.require(y, dt.np, "C") for y in ys]
    if not (A._rg and state.grad):
        return tuple(plain(y, dt) for y in ys)
    tape = write_tape()
    na = A._node if A._tape is tape else tape.import_(A)
    nb = node_in(tape, perm, dt, perm._shape)
    if len(ys) == 1:
        return (recorded(tape, tape.append(code, dt.arena, ys[0], na, nb), ys[0], dt),)
    row = tape.append(code, dt.arena, np.concatenate([y.reshape(-1) for y in ys]), na, nb)
    return tuple(recorded(tape, node, y, dt) for node, y in zip(tape.append_outputs(row, [y.shape for y in ys]), ys))


def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False) -> tuple:
    """The LU factorization with partial pivoting packed as LAPACK's ``(LU, pivots)``, with ``info``
    (for each matrix, the 1-based index of the first zero on ``U``'s diagonal; 0 if none) instead
    of an error, unless ``check_errors``."""
    lu, piv, info = _factor("linalg.lu_factor_ex", A, pivot)
    if check_errors:
        _zero_u("linalg.lu_factor_ex", info)
    pivots = _int32(piv)
    return LuFactorExResult((_factored(LU_FACTOR, [lu], A, pivots)[0], pivots, _int32(info)))


def lu_factor(A: Tensor, *, pivot: bool = True) -> tuple:
    """The LU factorization with partial pivoting ``A = P L U`` packed as LAPACK's ``(LU, pivots)``:
    ``L`` (unit diagonal, not stored) below the diagonal of ``LU`` and ``U`` on and above it;
    ``pivots`` (int32, 1-based): row ``i`` was swapped with row ``pivots[i]``.  A zero on ``U``'s
    diagonal is an error (``lu_factor_ex`` reports it instead)."""
    lu, piv, info = _factor("linalg.lu_factor", A, pivot)
    _zero_u("linalg.lu_factor", info)
    pivots = _int32(piv)
    return LuFactorResult((_factored(LU_FACTOR, [lu], A, pivots)[0], pivots))


def lu(A: Tensor, *, pivot: bool = True) -> tuple:
    """The LU decomposition with partial pivoting ``A = P L U`` as a named tuple ``(P, L, U)``: a
    permutation matrix, a unit lower triangular (trapezoidal) ``L`` and an upper ``U``."""
    lu_, piv, _ = _factor("linalg.lu", A, pivot)
    low, up = _unpack(lu_)
    p = plain(_permutation(piv, A._shape[-2], A._dtype.np), A._dtype)
    return LuResult((p,) + _factored(LU, [low, up], A, p))


def _check_lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, left: bool) -> None:
    for k, (arg, t) in enumerate((("LU", LU), ("pivots", pivots), ("B", B))):
        if not isinstance(t, Tensor):
            raise TypeError(f"linalg_lu_solve(): argument '{arg}' (position {k + 1}) must be Tensor, not "
                            f"{type(t).__name__}")
    name = "linalg.lu_solve"
    if LU.dim() < 2:
        raise RuntimeError(f"torch.{name}: The input tensor A must have at least 2 dimensions.")
    if B.dim() < 2:
        raise RuntimeError(f"{name}: The input tensor B must have at least 2 dimensions.")
    if LU._dtype is not B._dtype:
        raise RuntimeError(f"{name}: Expected LU and B to have the same dtype, but found LU of type "
                           f"{D.legacy_name(LU._dtype)} and B of type {D.legacy_name(B._dtype)} instead")
    _check_matrix(f"torch.{name}", LU)
    n = LU._shape[-1]
    if (B._shape[-2] if left else B._shape[-1]) != n:
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(f"{name}: Incompatible shapes of A and B for the equation {eq} ({n}x{n} and "
                           f"{B._shape[-2]}x{B._shape[-1]})")
    if pivots._dtype is not D.int32:
        raise RuntimeError(f"{name}: pivots should be a Tensor of scalar type torch.int32")
    if not pivots._shape or pivots._shape[-1] != n:
        raise RuntimeError(f"{name}: Number of pivots per batch should be same as the dimension of the matrix")
    if pivots._shape != LU._shape[:-1]:
        raise RuntimeError(f"{name}: Expected LU.shape[:-1] and pivots.shape to be the same, but got pivots "
                           f"with shape {list(pivots._shape)} instead")


def lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True, adjoint: bool = False) -> Tensor:
    """The solution ``X`` of ``A X = B`` given ``A``'s LU factorization ``(LU, pivots)`` from
    ``lu_factor`` (``X A = B`` with ``left=False``; ``A^T`` in place of ``A`` with ``adjoint``);
    batch dims broadcast."""
    _check_lu_solve(LU, pivots, B, left)
    lu_, b = LU._value(), B._value()
    batch = broadcast_pair(LU._shape[:-2], B._shape[:-2])
    n = LU._shape[-1]
    lu_ = np.broadcast_to(lu_, batch + (n, n))
    piv = np.broadcast_to(pivots._value(), batch + (n,))
    b = np.broadcast_to(b, batch + B._shape[-2:])
    y = _lu_solve_values(lu_, piv, b, left, adjoint)
    dt = LU._dtype
    y = np.require(y, dt.np, "C")
    if state.grad and (LU._rg or B._rg):
        tape = write_tape()
        nodes = [node_in(tape, t, dt, t._shape) for t in (LU, pivots, B)]
        flags = (LEFT if left else 0) | (ADJOINT if adjoint else 0)
        return recorded(tape, tape.append_listed(LU_SOLVE, dt.arena, y, nodes, ia=flags), y, dt)
    return plain(y, dt)


def _potf2(a: np.ndarray) -> tuple:
    """LAPACK's potf2 (lower) on one matrix: ``(L, info)``; where a leading minor is not
    positive-definite it stops as LAPACK does, that diagonal element holding what would have been
    squared and the columns after it left as they were."""
    low = np.tril(a).astype(a.dtype)
    n = a.shape[-1]
    with np.errstate(all="ignore"):
        for j in range(n):
            ajj = low[j, j] - low[j, :j] @ low[j, :j]
            if not ajj > 0:
                low[j, j] = ajj
                return low, j + 1
            ajj = np.sqrt(ajj)
            low[j, j] = ajj
            low[j + 1:, j] = (low[j + 1:, j] - low[j + 1:, :j] @ low[j, :j]) * (1 / ajj)
    return low, 0


def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False) -> tuple:
    """The Cholesky factor as ``linalg.cholesky`` with ``info`` (for each matrix, the order of the
    first leading minor that is not positive-definite; 0 if none) instead of an error, unless
    ``check_errors``; a failed factor is LAPACK's partial one."""
    _check_matrix("linalg.cholesky", A)
    v = A._value()
    low = np.empty(v.shape, v.dtype)
    info = np.zeros(v.shape[:-2], np.int32)
    src = np.swapaxes(v, -1, -2) if upper else v    # (the triangle read: LAPACK's uplo)
    for index in np.ndindex(*v.shape[:-2]):
        low[index], info[index] = _potf2(src[index])
    if check_errors and info.any():
        index = tuple(np.argwhere(info > 0)[0])
        raise LinAlgError(f"linalg.cholesky_ex: {_batch_prefix(v.shape, index)}The factorization could not be "
                          f"completed because the input is not positive-definite (the leading minor of order "
                          f"{info[index]} is not positive-definite).")
    y = np.swapaxes(low, -1, -2) if upper else low
    return CholeskyExResult((_one(CHOLESKY, y, A, ia=1 if upper else 0), _int32(info)))


def inv_ex(A: Tensor, *, check_errors: bool = False) -> tuple:
    """The inverse as ``linalg.inv`` with ``info`` (for each matrix, the 1-based index of the first
    zero on the diagonal of its LU factor ``U``; 0 if none) instead of an error, unless
    ``check_errors``; a singular matrix's inverse holds LAPACK's inf and nan."""
    _check_matrix("linalg.inv", A)
    lu_, piv, info = _getrf(A._value())
    if check_errors and info.any():
        index = tuple(np.argwhere(info > 0)[0])
        raise LinAlgError(f"linalg.inv_ex: {_batch_prefix(A._shape, index)}The diagonal element {info[index]} is "
                          f"zero, the inversion could not be completed because the input matrix is singular.")
    n = A._shape[-1]
    y = _lu_solve_values(lu_, piv, np.broadcast_to(np.eye(n, dtype=lu_.dtype), lu_.shape), True, False)
    return InvExResult((_one(INV, y, A), _int32(info)))


def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False) -> tuple:
    """The solution as ``linalg.solve`` with ``info`` (for each matrix, the 1-based index of the
    first zero on the diagonal of its LU factor ``U``; 0 if none) instead of an error, unless
    ``check_errors``; a singular system's solution holds LAPACK's inf and nan."""
    vector = _check_solve(A, B, left, "solve_ex")
    lu_, piv, info = _getrf(A._value())
    if not info.any():
        return SolveExResult((solve(A, B, left=left), _int32(info)))
    if check_errors:
        raise LinAlgError("torch.linalg.solve_ex: The solver failed because the input matrix is singular.")
    sa = A._shape
    b = B._value()[..., None] if vector else B._value()
    batch = broadcast_pair(sa[:-2], b.shape[:-2])
    lu_ = np.broadcast_to(lu_, batch + sa[-2:])
    piv = np.broadcast_to(piv, batch + sa[-1:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    y = _lu_solve_values(lu_, piv, b, left, False)
    if vector:
        y = y[..., 0]
    return SolveExResult((_one(SOLVE, y, A, B, ia=(VECTOR if vector else 0) | (0 if left else RIGHT)), _int32(info)))
