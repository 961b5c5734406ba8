"""Solving with a Cholesky factor: ``cholesky_solve`` (``CholeskySolveBackward0``) and
``cholesky_inverse`` (``CholeskyInverseBackward0``), one Python-rule row each whose derivative is
PyTorch's formula in tape ops (``cholesky_solve``'s calls ``cholesky_solve``), so every order comes
from it.  Row attribute ``ia``: 1 for an upper factor."""
from __future__ import annotations

import numpy as np

from .._emit import D, Tensor, emit, plain, state
from ._args import broadcast_pair
from ._parser import check_types
from ._rule import rule_adjoint
from ._spec import OUT, PYTHON, TRANSPOSED, X0, X1, Op, public, register, tangents
from .decomp import LinAlgError, _batch_prefix
from .lu import _triangular

CHOLESKY_INVERSE, CHOLESKY_SOLVE = PYTHON.start + 78, PYTHON.start + 79


def _solve_values(b: np.ndarray, f: np.ndarray, upper: bool) -> np.ndarray:
    """``(L L^T)^-1 b`` for a lower factor ``L`` (``(U^T U)^-1 b`` for an upper one)."""
    ft = np.swapaxes(f, -1, -2)
    if upper:
        return _triangular(f, _triangular(ft, b, False, False), True, False)
    return _triangular(ft, _triangular(f, b, False, False), True, False)


def _factor_term(f: Tensor, common: Tensor, upper: bool) -> Tensor:
    return -(f @ common) if upper else -(common @ f)


def _cholesky_inverse_vjp(g, xs, y, r):
    # PyTorch's cholesky_inverse_backward
    common = y @ ((g + g.mT) @ y)
    return (_factor_term(xs[0], common, bool(r.ia)),)


def _cholesky_solve_vjp(g, xs, y, r):
    # PyTorch's cholesky_solve_backward
    b, f = xs
    upper = bool(r.ia)
    gb = cholesky_solve(g, f, upper)
    common = gb @ y.mT
    gf = _factor_term(f, common + common.mT, upper)
    return gb._sum_to(b._shape), gf._sum_to(f._shape)


register(Op(CHOLESKY_INVERSE, "cholesky_inverse", "CholeskyInverseBackward0", X0 | OUT, _cholesky_inverse_vjp,
            py_adjoint=rule_adjoint, node_saved=(("result", OUT), ("self", X0), ("upper", lambda r: bool(r.ia)))))
register(Op(CHOLESKY_SOLVE, "cholesky_solve", "CholeskySolveBackward0", X0 | X1 | OUT, _cholesky_solve_vjp,
            py_adjoint=rule_adjoint, arity=2,
            node_saved=(("input2", X1), ("result", OUT), ("self", X0), ("upper", lambda r: bool(r.ia)))))
tangents({CHOLESKY_INVERSE: TRANSPOSED, CHOLESKY_SOLVE: TRANSPOSED})     # (linear in the adjoint: transposed)


@public("cholesky_solve")
def cholesky_solve(self, input2: Tensor, upper: bool = False) -> Tensor:
    """The solution ``X`` of ``A X = self`` given the Cholesky factor ``input2`` of ``A`` (lower
    ``L`` with ``A = L L^T``, or with ``upper`` ``U`` with ``A = U^T U``); batch dims broadcast."""
    check_types("cholesky_solve", (("input2", Tensor), ("upper", "bool")), input2, upper)
    if self.dim() < 2:
        raise RuntimeError(f"b should have at least 2 dimensions, but has {self.dim()} dimensions instead")
    if input2.dim() < 2:
        raise RuntimeError(f"u should have at least 2 dimensions, but has {input2.dim()} dimensions instead")
    if self._dtype is not input2._dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type "
                           f"{D.legacy_name(self._dtype)} and A of type {D.legacy_name(input2._dtype)} instead.")
    m, n = input2._shape[-2:]
    if m != n:
        raise RuntimeError(f"A must be batches of square matrices, but they are {m} by {n} matrices")
    if n != self._shape[-2]:
        raise RuntimeError(f"Incompatible matrix sizes for cholesky_solve: each A matrix is {n} by {n} but each b "
                           f"matrix is {self._shape[-2]} by {self._shape[-1]}")
    batch = broadcast_pair(self._shape[:-2], input2._shape[:-2])
    if not self._dtype.is_floating_point:
        raise NotImplementedError(f"\"cholesky_solve_cpu\" not implemented for '{D.legacy_name(self._dtype)}'")
    b = np.broadcast_to(self._value(), batch + self._shape[-2:])
    f = np.broadcast_to(input2._value(), batch + (n, n))
    y = np.require(_solve_values(b, f, upper), self._dtype.np, "C")
    if state.grad and (self._rg or input2._rg):
        return emit(CHOLESKY_SOLVE, y, self._dtype, self, input2, ia=int(bool(upper)))
    return plain(y, self._dtype)


@public("cholesky_inverse")
def cholesky_inverse(self, upper: bool = False) -> Tensor:
    """The inverse of ``A`` given its Cholesky factor ``self`` (lower ``L`` with ``A = L L^T``, or
    with ``upper`` ``U`` with ``A = U^T U``)."""
    check_types("cholesky_inverse", (("upper", "bool"),), upper)
    if self.dim() < 2:
        raise RuntimeError("cholesky_inverse: The input tensor A must have at least 2 dimensions.")
    m, n = self._shape[-2:]
    if m != n:
        raise RuntimeError(f"cholesky_inverse: A must be batches of square matrices, but they are {m} by {n} "
                           "matrices")
    if not self._dtype.is_floating_point:
        raise NotImplementedError(f"\"cholesky_inverse_out_cpu\" not implemented for '{D.legacy_name(self._dtype)}'")
    f = self._value()
    diag = np.diagonal(f, 0, -2, -1)
    bad = np.argwhere(diag == 0)
    if len(bad):
        index = tuple(int(i) for i in bad[0])
        raise LinAlgError(f"cholesky_inverse: {_batch_prefix(f.shape, index[:-1])}The diagonal element "
                          f"{index[-1] + 1} is zero, the inversion could not be completed because the input matrix "
                          "is singular.")
    eye = np.broadcast_to(np.eye(n, dtype=f.dtype), f.shape)
    y = np.require(_solve_values(eye, f, upper), self._dtype.np, "C")
    if state.grad and self._rg:
        return emit(CHOLESKY_INVERSE, y, self._dtype, self, ia=int(bool(upper)))
    return plain(y, self._dtype)
