"""``torch.linalg.householder_product`` (``torch.orgqr``, ``Tensor.orgqr``): the first ``n`` columns
of ``H_1 ... H_k``, ``H_i = I - tau_i v_i v_i^T`` with ``v_i`` the ``i``-th column of ``A`` below
the diagonal and a 1 on it (LAPACK's orgqr).

One Python-rule row (``ops/_rule.py``) with inputs ``(A, tau)``; the rule is the product rule over
the reflectors in tape ops (each reflector's gradient between the products before and after it),
so every order works.
"""
from __future__ import annotations

import numpy as np

from .._emit import D, Tensor, plain
from ._parser import check_types
from ._rule import rule_adjoint
from ._spec import PYTHON, TRANSPOSED, X0, X1, Op, public, register, tangents
from .decomp import _one
from .join import cat, stack

HOUSEHOLDER = PYTHON.start + 67


def _reflector(a: Tensor, i: int) -> Tensor:
    """``v_i``: zeros above row ``i``, 1 at it, ``A[i+1:, i]`` below (a batch of them)."""
    m = a._shape[-2]
    head = plain(np.eye(1, i + 1, i, dtype=a._dtype.np).reshape(i + 1), a._dtype).expand(*a._shape[:-2], i + 1)
    return cat([head, a[..., i + 1:, i]], -1) if i + 1 < m else head


def _householder_vjp(g, xs, y, r):
    a, tau = xs
    if not a.numel():
        return None, None           # (as PyTorch's: no gradient for an empty batch)
    m, n = a._shape[-2:]
    k = tau._shape[-1]
    vs = [_reflector(a, i) for i in range(k)]
    eye = plain(np.eye(m, dtype=a._dtype.np), a._dtype)
    # Q = H_1 ... H_k E: G_i = (H_1 ... H_{i-1})^T G (H_{i+1} ... H_k E)^T, from both ends
    right = [None] * k
    s = plain(np.eye(m, n, dtype=a._dtype.np), a._dtype)
    for i in reversed(range(k)):
        right[i] = s
        v = vs[i]
        s = s - tau[..., i, None, None] * (v.unsqueeze(-1) @ (v.unsqueeze(-2) @ s))
    left_t = None           # (H_1 ... H_{i-1})^T G
    cols, gtau = [], []
    for i in range(k):
        v = vs[i]
        lg = g if left_t is None else left_t
        gi = lg @ right[i].mT
        gv = -(gi @ v.unsqueeze(-1) + gi.mT @ v.unsqueeze(-1)).squeeze(-1) * tau[..., i, None]
        gtau.append(-(v.unsqueeze(-2) @ gi @ v.unsqueeze(-1)).squeeze(-1).squeeze(-1))
        zeros = plain(np.zeros(i + 1, a._dtype.np), a._dtype).expand(*a._shape[:-2], i + 1)
        cols.append(cat([zeros, gv[..., i + 1:]], -1) if i + 1 < m else zeros)
        h = eye - tau[..., i, None, None] * (v.unsqueeze(-1) @ v.unsqueeze(-2))
        left_t = h.mT @ lg
    rest = [plain(np.zeros(m, a._dtype.np), a._dtype).expand(*a._shape[:-2], m)] * (n - k)
    ga = stack(cols + rest, -1)
    return ga, stack(gtau, -1)


register(Op(HOUSEHOLDER, "linalg_householder_product", "LinalgHouseholderProductBackward0", X0 | X1,
            _householder_vjp, py_adjoint=rule_adjoint, arity=2))
tangents({HOUSEHOLDER: TRANSPOSED})


def _check(A: Tensor, tau: Tensor) -> None:
    for k, (arg, t) in enumerate((("input", A), ("tau", tau))):
        if not isinstance(t, Tensor):
            raise TypeError(f"linalg_householder_product(): argument '{arg}' (position {k + 1}) must be Tensor, "
                            f"not {type(t).__name__}")
    name = "torch.linalg.householder_product"
    if A.dim() < 2:
        raise RuntimeError(f"{name}: input must have at least 2 dimensions.")
    if A._shape[-2] < A._shape[-1]:
        raise RuntimeError(f"{name}: input.shape[-2] must be greater than or equal to input.shape[-1]")
    if tau.dim() and A._shape[-1] < tau._shape[-1]:
        raise RuntimeError(f"{name}: input.shape[-1] must be greater than or equal to tau.shape[-1]")
    if tau.dim() != A.dim() - 1:
        raise RuntimeError(f"{name}: Expected tau to have one dimension less than input, but got tau.ndim equal to "
                           f"{tau.dim()} and input.ndim is equal to {A.dim()}")
    if tau._shape[:-1] != A._shape[:-2]:
        raise RuntimeError(f"{name}: Expected batch dimensions of tau to be equal to input.shape[:-2], but got "
                           f"{list(tau._shape[:-1])}")
    if tau._dtype is not A._dtype:
        raise RuntimeError(f"{name}: tau dtype {D.legacy_name(tau._dtype)} does not match input dtype "
                           f"{D.legacy_name(A._dtype)}")
    if not A._dtype.is_floating_point:
        raise NotImplementedError(f"\"orgqr_cpu\" not implemented for '{D.legacy_name(A._dtype)}'")


def householder_product(A: Tensor, tau: Tensor) -> Tensor:
    """The first ``n`` columns of the product of the Householder reflectors ``I - tau_i v_i v_i^T``
    (``v_i``: column ``i`` of ``A`` below its diagonal, 1 on it), as LAPACK's orgqr forms ``Q``
    from ``geqrf``'s output."""
    _check(A, tau)
    a, t = A._value(), tau._value()
    m, n = a.shape[-2:]
    q = np.broadcast_to(np.eye(m, n, dtype=a.dtype), a.shape).copy()
    for i in reversed(range(t.shape[-1])):
        v = np.concatenate([np.zeros(a.shape[:-2] + (i,), a.dtype), np.ones(a.shape[:-2] + (1,), a.dtype),
                            a[..., i + 1:, i]], -1)
        q -= t[..., i, None, None] * v[..., :, None] * (v[..., None, :] @ q)
    if not t.shape[-1]:
        return plain(q, A._dtype)
    return _one(HOUSEHOLDER, q, A, tau)


@public("orgqr")
def orgqr(self, input2: Tensor) -> Tensor:
    """The product of Householder reflectors: ``tape.linalg.householder_product``."""
    if type(input2) is not Tensor:
        check_types("orgqr", (("input2", Tensor),), input2)
    return householder_product(self, input2)
