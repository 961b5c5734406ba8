"""More of ``torch.linalg``, each PyTorch's own composition of existing ops (so its nodes are
PyTorch's, and every order of derivative comes from theirs): ``diagonal``, ``vander``, ``cond``,
``matrix_rank`` (no gradient: an integer count), ``tensorinv`` and ``tensorsolve``."""
from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np

from .._emit import D, Tensor, plain
from .decomp import INV, LinAlgError, _check_matrix, _one, _svd, _zero_pivot, matrix_norm, solve, svdvals
from .join import cat
from .lu import inv_ex
from .shape import V_RESHAPE_ALIAS, viewed


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """The diagonal of each matrix of a batch (``A.diagonal`` with the last two dims by default)."""
    return A.diagonal(offset, dim1, dim2)


def vander(x: Tensor, *, N: Optional[int] = None) -> Tensor:
    """The Vandermonde matrix of ``x``: its powers ``x ** 0 ... x ** (N - 1)`` along a new last dim."""
    if x._dtype is D.bool_ or x._dtype is D.float16:
        raise RuntimeError(f"linalg.vander supports floating point, complex, and integer tensors, but got "
                           f"{D.legacy_name(x._dtype)}")
    x = x.unsqueeze(-1) if x.dim() == 0 else x
    shape = x._shape
    n = shape[-1] if N is None else N
    if n <= 1:
        raise RuntimeError("N must be greater than 1.")
    powers = x.unsqueeze(-1).expand(*shape, n - 1).cumprod(-1)
    return cat([powers.new_ones(shape + (1,)), powers], -1)


def _inverse_or_inf(A: Tensor) -> Tensor:
    """PyTorch's ``linalg_inv_ex`` followed by ``masked_fill_(info > 0, inf)``: the inverse of each
    matrix of a batch, all inf for a singular one."""
    v = A._value()
    y = np.empty(v.shape, v.dtype)
    info = np.zeros(v.shape[:-2], np.int64)
    with np.errstate(all="ignore"):
        for index in np.ndindex(*v.shape[:-2]):
            try:
                y[index] = np.linalg.inv(v[index])
            except np.linalg.LinAlgError:
                info[index] = _zero_pivot(v[index])
                y[index] = np.inf
    inverse = _one(INV, y, A)
    return inverse.masked_fill_(plain(info[..., None, None] > 0, D.bool_), math.inf)


_ORDS = (None, 2, -2, 1, -1, math.inf, -math.inf, "fro", "nuc")


def cond(A: Tensor, p: Union[None, float, str] = None) -> Tensor:
    """The condition number of each matrix of a batch in the norm ``p`` (2 by default: the ratio of
    the largest to the smallest singular value)."""
    if A.dim() < 2:
        raise RuntimeError("linalg.cond: The input tensor must have at least 2 dimensions.")
    if p not in _ORDS or isinstance(p, bool):
        raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")
    name = f"linalg.cond(ord={p if p is None or isinstance(p, str) or math.isinf(p) else int(p)})"
    if isinstance(p, str):
        _check_matrix(name, A)
    if A.numel() == 0:
        # (PyTorch's condition number of empty matrices, as NumPy leaves it undefined)
        return plain(np.zeros(A._shape[:-2], A._dtype.np), A._dtype)
    if p is None or p in (2, -2):
        s = svdvals(A)
        big, small = s.narrow(-1, 0, 1), s.narrow(-1, -1, 1)
        return (small / big if p == -2 else big / small).squeeze(-1)
    _check_matrix(name, A)
    if p == "nuc":
        # (as PyTorch: the nuclear norm's definition, which inf entries do not trouble)
        s = svdvals(A)
        return s.sum(-1) * s.reciprocal().sum(-1)
    y = matrix_norm(A, p) * matrix_norm(_inverse_or_inf(A), p)
    return y.nan_to_num_(math.inf, math.inf, -math.inf)


def matrix_rank(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The number of singular values (eigenvalue magnitudes when ``hermitian``) of each matrix of a batch
    above ``max(atol, rtol * the largest one)`` (``rtol`` defaults to eps times the larger side
    unless ``atol`` is positive)."""
    if A.dim() < 2:
        raise RuntimeError("torch.linalg.matrix_rank: The input tensor input must have at least 2 dimensions.")
    if not A._dtype.is_floating_point:
        raise RuntimeError("This function doesn't handle types other than float and double")
    v = A._value()
    s = np.abs(np.linalg.eigvalsh(v)) if hermitian else _svd("linalg.svd", v, compute_uv=False)
    m = max(A._shape[-2:])
    a = 0.0 if atol is None else np.asarray(atol._value() if isinstance(atol, Tensor) else atol, np.float64)
    if rtol is None:
        default = np.finfo(A._dtype.np).eps * m
        r = default if atol is None else np.where(a > 0, 0.0, default)
    else:
        r = np.asarray(rtol._value() if isinstance(rtol, Tensor) else rtol, np.float64)
    top = s.max(-1, initial=0.0) if s.size else np.zeros(s.shape[:-1])
    tol = np.maximum(a, r * top)
    return plain(np.asarray((s.astype(np.float64) > np.asarray(tol)[..., None]).sum(-1), np.int64), D.int64)


def tensorinv(A: Tensor, ind: int = 2) -> Tensor:
    """The inverse of ``A`` for ``tensordot`` over its first ``ind`` dims: ``A`` as a square matrix
    (its first ``ind`` dims the rows), inverted, and reshaped to ``A.shape[ind:] + A.shape[:ind]``."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    end, start = A._shape[ind:], A._shape[:ind]
    n, rows = math.prod(end), math.prod(start)
    if n != rows:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {n} != {rows}")
    inverse, info = inv_ex(A.reshape(n, n))
    if info.item():
        raise LinAlgError(f"inv: The diagonal element {info.item()} is zero, the inversion could not be completed "
                          f"because the input matrix is singular.")
    # (PyTorch's inverse is LAPACK's column-major matrix: a strided view, ReshapeAliasBackward0)
    return viewed(inverse, end + start, V_RESHAPE_ALIAS) if n > 1 else inverse.reshape(end + start)


def tensorsolve(A: Tensor, B: Tensor, dims: Optional[tuple] = None) -> Tensor:
    """The ``X`` with ``tensordot(A, X, X.ndim) == B``: ``A`` (its ``dims`` moved last) as a square
    matrix whose rows are ``B``'s elements, solved against ``B`` flattened; ``X`` has the shape of
    ``A``'s trailing dims."""
    if dims is not None:
        dims = tuple(dims)
        A = A.movedim(dims, tuple(range(A.dim() - len(dims), A.dim())))
    shape = A._shape[B.dim():]
    n, m = math.prod(shape), math.prod(B._shape)
    if n != m:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                           f"prod(self.shape[:other.ndim]), but got {n} != {m}")
    return solve(A.reshape(n, n), B.flatten()).reshape(shape)
