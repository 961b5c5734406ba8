"""``torch.linalg.ldl_factor``/``ldl_factor_ex``/``ldl_solve``: the Bunch-Kaufman factorization
``A = P L D L^T P^T`` of a symmetric matrix, LAPACK's sytf2/sytrs (lower) written over numpy so that
the packed factor and its pivots are LAPACK's.

PyTorch has no derivative for either: their results require grad behind a ``NotImplemented`` node
whose backward raises, and so do these rows (their rule is that error).
"""
from __future__ import annotations

import math

import numpy as np

from .._emit import D, Tensor
from ._rule import return_type, rule_adjoint
from ._spec import PYTHON, REGISTRY, Op, register, tangents
from .decomp import _check_matrix, _one
from .lu import _int32

LDL_FACTOR, LDL_SOLVE = PYTHON.start + 69, PYTHON.start + 70
_ALPHA = (1 + math.sqrt(17.0)) / 8


def _not_implemented(name: str):
    def vjp(g, xs, y, r):
        raise RuntimeError(f"derivative for aten::{name} is not implemented")
    return vjp


register(Op(LDL_FACTOR, "linalg_ldl_factor_ex", "NotImplemented", 0, _not_implemented("linalg_ldl_factor_ex"),
            py_adjoint=rule_adjoint))
register(Op(LDL_SOLVE, "linalg_ldl_solve", "NotImplemented", 0, _not_implemented("linalg_ldl_solve"),
            py_adjoint=rule_adjoint, arity=2))
tangents({LDL_FACTOR: REGISTRY[LDL_FACTOR].vjp, LDL_SOLVE: REGISTRY[LDL_SOLVE].vjp})     # (nor a tangent)


def _sytf2(a: np.ndarray) -> tuple:
    """LAPACK's sytf2 (lower) on one symmetric matrix: ``(LD, pivots, info)``."""
    a = np.tril(a).astype(a.dtype)
    n = a.shape[-1]
    ipiv = np.zeros(n, np.int32)
    info = 0
    k = 0
    with np.errstate(all="ignore"):
        while k < n:
            kstep = 1
            absakk = abs(a[k, k])
            imax, colmax = k, 0.0
            if k < n - 1:
                imax = k + 1 + int(np.argmax(np.abs(a[k + 1:, k])))
                colmax = abs(a[imax, k])
            if max(absakk, colmax) == 0 or np.isnan(absakk):
                info = info or k + 1
                kp = k
            else:
                if absakk >= _ALPHA * colmax:
                    kp = k
                else:
                    jmax = k + int(np.argmax(np.abs(a[imax, k:imax])))
                    rowmax = abs(a[imax, jmax])
                    if imax < n - 1:
                        rowmax = max(rowmax, np.abs(a[imax + 1:, imax]).max())
                    if absakk >= _ALPHA * colmax * (colmax / rowmax):
                        kp = k
                    elif abs(a[imax, imax]) >= _ALPHA * rowmax:
                        kp = imax
                    else:
                        kp, kstep = imax, 2
                kk = k + kstep - 1
                if kp != kk:
                    # interchange rows and columns kk and kp of the trailing (lower) submatrix
                    a[kp + 1:, [kk, kp]] = a[kp + 1:, [kp, kk]]
                    seg = a[kk + 1:kp, kk].copy()
                    a[kk + 1:kp, kk] = a[kp, kk + 1:kp]
                    a[kp, kk + 1:kp] = seg
                    a[kk, kk], a[kp, kp] = a[kp, kp], a[kk, kk]
                    if kstep == 2:
                        a[k + 1, k], a[kp, k] = a[kp, k], a[k + 1, k]
                if kstep == 1:
                    if k < n - 1:
                        d11 = 1 / a[k, k]
                        x = a[k + 1:, k].copy()
                        a[k + 1:, k + 1:] -= np.tril(d11 * np.outer(x, x))
                        a[k + 1:, k] = x * d11
                elif k < n - 2:
                    d21 = a[k + 1, k]
                    d11 = a[k + 1, k + 1] / d21
                    d22 = a[k, k] / d21
                    t = 1 / (d11 * d22 - 1)
                    d21 = t / d21
                    for j in range(k + 2, n):
                        wk = d21 * (d11 * a[j, k] - a[j, k + 1])
                        wkp1 = d21 * (d22 * a[j, k + 1] - a[j, k])
                        a[j:, j] -= a[j:, k] * wk + a[j:, k + 1] * wkp1
                        a[j, k] = wk
                        a[j, k + 1] = wkp1
            if kstep == 1:
                ipiv[k] = kp + 1
            else:
                ipiv[k] = ipiv[k + 1] = -(kp + 1)
            k += kstep
    return a, ipiv, info


def _sytrs(a: np.ndarray, ipiv: np.ndarray, b: np.ndarray) -> np.ndarray:
    """LAPACK's sytrs (lower) on one system: ``A^-1 b`` from sytf2's ``(a, ipiv)``."""
    b = np.array(b, dtype=np.result_type(a, b))
    n = a.shape[-1]
    with np.errstate(all="ignore"):
        k = 0
        while k < n:
            if ipiv[k] > 0:
                kp = ipiv[k] - 1
                b[[k, kp]] = b[[kp, k]]
                b[k + 1:] -= np.outer(a[k + 1:, k], b[k])
                b[k] /= a[k, k]
                k += 1
            else:
                kp = -ipiv[k] - 1
                b[[k + 1, kp]] = b[[kp, k + 1]]
                b[k + 2:] -= np.outer(a[k + 2:, k], b[k]) + np.outer(a[k + 2:, k + 1], b[k + 1])
                akm1k = a[k + 1, k]
                akm1, ak = a[k, k] / akm1k, a[k + 1, k + 1] / akm1k
                denom = akm1 * ak - 1
                bkm1, bk = b[k] / akm1k, b[k + 1] / akm1k
                b[k], b[k + 1] = (ak * bkm1 - bk) / denom, (akm1 * bk - bkm1) / denom
                k += 2
        k = n - 1
        while k >= 0:
            if ipiv[k] > 0:
                b[k] -= a[k + 1:, k] @ b[k + 1:]
                kp = ipiv[k] - 1
                b[[k, kp]] = b[[kp, k]]
                k -= 1
            else:
                b[k] -= a[k + 1:, k] @ b[k + 1:]
                b[k - 1] -= a[k + 1:, k - 1] @ b[k + 1:]
                kp = -ipiv[k] - 1
                b[[k, kp]] = b[[kp, k]]
                k -= 2
    return b


LdlFactorResult = return_type("linalg_ldl_factor", ("LD", "pivots"))
LdlFactorExResult = return_type("linalg_ldl_factor_ex", ("LD", "pivots", "info"))


def _factor(A: Tensor) -> tuple:
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_ldl_factor(): argument 'input' (position 1) must be Tensor, not {type(A).__name__}")
    _check_matrix("torch.linalg.ldl_factor_ex", A)
    v = A._value()
    ld = np.zeros(v.shape, v.dtype)
    piv = np.zeros(v.shape[:-1], np.int32)
    info = np.zeros(v.shape[:-2], np.int32)
    for index in np.ndindex(*v.shape[:-2]):
        ld[index], piv[index], info[index] = _sytf2(v[index])
    return ld, piv, info


def _singular(name: str, info: np.ndarray) -> None:
    # (PyTorch 2.13 fails an internal assert here, "Unknown error code": its message's meaningful part)
    if info.any():
        raise RuntimeError(f"torch.linalg.{name}: Unknown error code: {info[tuple(np.argwhere(info > 0)[0])]}.")


def ldl_factor_ex(A: Tensor, *, hermitian: bool = False, check_errors: bool = False) -> tuple:
    """``ldl_factor`` with ``info`` (for each matrix, the 1-based index of the first zero pivot; 0
    if none) instead of an error, unless ``check_errors``."""
    ld, piv, info = _factor(A)
    if check_errors:
        _singular("ldl_factor_ex", info)
    return LdlFactorExResult((_one(LDL_FACTOR, ld, A), _int32(piv), _int32(info)))


def ldl_factor(A: Tensor, *, hermitian: bool = False) -> tuple:
    """The compact Bunch-Kaufman factorization ``A = P L D L^T P^T`` of a symmetric matrix (only its
    lower triangle is read) as LAPACK's sytrf gives it: ``LD`` holds ``L`` below the diagonal and the
    1 x 1 and 2 x 2 blocks of ``D``; ``pivots`` (int32, 1-based) its interchanges, negative for a
    2 x 2 block.  No derivative (PyTorch has none)."""
    ld, piv, info = _factor(A)
    _singular("ldl_factor", info)
    return LdlFactorResult((_one(LDL_FACTOR, ld, A), _int32(piv)))


def ldl_solve(LD: Tensor, pivots: Tensor, B: Tensor, *, hermitian: bool = False) -> Tensor:
    """The solution ``X`` of ``A X = B`` from ``A``'s ``ldl_factor`` (batch dims broadcast).  No
    derivative (PyTorch has none)."""
    for k, (arg, t) in enumerate((("LD", LD), ("pivots", pivots), ("B", B))):
        if not isinstance(t, Tensor):
            raise TypeError(f"linalg_ldl_solve(): argument '{arg}' (position {k + 1}) must be Tensor, not "
                            f"{type(t).__name__}")
    name = "torch.linalg.ldl_solve"
    _check_matrix(name, LD)
    if B.dim() < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-B.dim()}, {B.dim() - 1}], but got "
                         f"-2)")
    if not pivots._dtype in (D.int32, D.int64, D.int16, D.int8, D.uint8):
        raise RuntimeError(f"{name}: Expected pivots to be integers. Got {D.legacy_name(pivots._dtype)}")
    if LD._dtype is not B._dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type {D.legacy_name(B._dtype)} "
                           f"and A of type {D.legacy_name(LD._dtype)} instead.")
    n = LD._shape[-1]
    if B._shape[-2] != n:
        raise RuntimeError(f"Incompatible matrix sizes for {name}: each A matrix is {n} by {n} but each b matrix is "
                           f"{B._shape[-2]} by {B._shape[-1]}")
    if pivots._shape != LD._shape[:-1]:
        raise RuntimeError(f"{name}: Expected LD.shape[:-1] and pivots.shape to be the same, but got pivots "
                           f"with shape {list(pivots._shape)} instead")
    batch = np.broadcast_shapes(LD._shape[:-2], B._shape[:-2])
    ld = np.broadcast_to(LD._value(), batch + (n, n))
    piv = np.broadcast_to(pivots._value(), batch + (n,))
    b = np.broadcast_to(B._value(), batch + B._shape[-2:])
    y = np.zeros(b.shape, LD._dtype.np)
    for index in np.ndindex(*batch):
        y[index] = _sytrs(ld[index], piv[index], b[index])
    return _one(LDL_SOLVE, y, LD, B)
