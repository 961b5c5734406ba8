"""Distances between collections of row vectors: ``cdist`` (``CdistBackward0``, or for p = 2 over
more than 25 rows PyTorch's matrix-product form, ``EuclideanDistBackward0``) and ``pdist``
(``PdistBackward0``).  One Python-rule row each (``ops/_rule.py``), the derivative written in tape
ops from PyTorch's formulas, so that every order comes from it (PyTorch's own ``CdistBackward0``
and ``PdistBackward0`` have a first derivative only).
"""
from __future__ import annotations

import numpy as np

from .._emit import D, Tensor, emit, plain, quiet, state
from ._args import broadcast_pair
from ._parser import check_types
from ._rule import rule_adjoint
from ._spec import PYTHON, X0, X1, OUT, Op, public_function, register, tangents
from .join import where

CDIST, EUCLIDEAN_DIST, PDIST = PYTHON.start + 71, PYTHON.start + 72, PYTHON.start + 73

_MODES = {"use_mm_for_euclid_dist_if_necessary": 0, "use_mm_for_euclid_dist": 1,
          "donot_use_mm_for_euclid_dist": 2}


# --- values ----------------------------------------------------------------------------------------
def _norms(diff: np.ndarray, p: float) -> np.ndarray:
    """The p-norms of ``diff`` over its last dim."""
    a = np.abs(diff)
    if p == 0:
        return np.count_nonzero(a, axis=-1).astype(diff.dtype)
    if p == 1:
        return a.sum(-1)
    if p == 2:
        return np.sqrt((a * a).sum(-1))
    if p == np.inf:
        return a.max(-1, initial=0)
    return (a ** p).sum(-1) ** (1 / p)


def _euclidean_values(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    # PyTorch's product form: |a|^2 - 2 a.b + |b|^2 in one matrix product, clamped at 0
    n1 = (x1 * x1).sum(-1, keepdims=True)
    n2 = (x2 * x2).sum(-1, keepdims=True)
    a = np.concatenate([x1 * -2, n1, np.ones_like(n1)], -1)
    b = np.concatenate([x2, np.ones_like(n2), n2], -1)
    return np.sqrt(np.maximum(a @ np.swapaxes(b, -1, -2), 0))


# --- derivatives -----------------------------------------------------------------------------------
def _safe(t: Tensor, zero: Tensor) -> Tensor:
    """``t`` with 1 where ``zero``: a denominator whose quotient ``where`` discards, kept finite so
    that the discarded branch passes no nan to the next order."""
    return where(zero, 1.0, t)


def _pair_terms(diff: Tensor, dist: Tensor, g: Tensor, p: float) -> Tensor:
    """d(g * dist)/d(diff), diff's last dim being the one the p-norm ``dist`` runs over (PyTorch's
    formulas: 0 where the distance is 0, and for p < 1 where a difference is 0)."""
    dist, g = dist.unsqueeze(-1), g.unsqueeze(-1)
    if p == 1:
        return g * diff.sign()
    if p == np.inf:
        return where(diff.abs() == dist, g * diff.sign(), 0.0)
    zero = dist == 0
    if p == 2:
        return where(zero, 0.0, g / _safe(dist, zero)) * diff
    flat = diff == 0
    power = where(flat, 0.0, diff.sign() * _safe(diff.abs(), flat).pow(p - 1))
    return power * where(zero, 0.0, g / _safe(dist, zero).pow(p - 1))


def _cdist_vjp(g, xs, y, r):
    x1, x2 = xs
    if r.fa == 0:
        return x1.new_zeros(x1._shape), x2.new_zeros(x2._shape)
    t = _pair_terms(x1.unsqueeze(-2) - x2.unsqueeze(-3), y, g, r.fa)
    return t.sum(-2)._sum_to(x1._shape), (-t.sum(-3))._sum_to(x2._shape)


def _euclidean_vjp(g, xs, y, r):
    # PyTorch's _euclidean_dist_backward
    x1, x2 = xs
    zero = y == 0
    ratio = where(zero, 0.0, g / _safe(y, zero))
    g1 = x1 * ratio.sum(-1, True) - ratio.matmul(x2)
    g2 = x2 * ratio.sum(-2).unsqueeze(-1) - ratio.mT.matmul(x1)
    return g1._sum_to(x1._shape), g2._sum_to(x2._shape)


def _pairs(n: int) -> tuple:
    i, j = np.triu_indices(n, 1)
    return plain(i.astype(np.int64), D.int64), plain(j.astype(np.int64), D.int64)


def _pdist_vjp(g, xs, y, r):
    x = xs[0]
    if r.fa == 0 or not y.numel():
        return (x.new_zeros(x._shape),)
    i, j = _pairs(x._shape[0])
    t = _pair_terms(x.index_select(0, i) - x.index_select(0, j), y, g, r.fa)
    return (x.new_zeros(x._shape).index_add(0, i, t).index_add(0, j, -t),)


def _cdist_jvp(ts, xs, y, r):
    # the directional derivative of each distance: the pair terms with a unit adjoint, dotted with the
    # difference of the tangents
    x1, x2 = xs
    t1 = ts[0] if ts[0] is not None else x1.new_zeros(x1._shape)
    t2 = ts[1] if ts[1] is not None else x2.new_zeros(x2._shape)
    d = t1.unsqueeze(-2) - t2.unsqueeze(-3)
    if r.code == CDIST and r.fa == 0:
        return y.new_zeros(y._shape)
    if r.code == EUCLIDEAN_DIST:
        zero = y == 0
        return where(zero, 0.0, ((x1.unsqueeze(-2) - x2.unsqueeze(-3)) * d).sum(-1) / _safe(y, zero))
    return (_pair_terms(x1.unsqueeze(-2) - x2.unsqueeze(-3), y, y.new_ones(y._shape), r.fa) * d).sum(-1)


def _pdist_jvp(ts, xs, y, r):
    x = xs[0]
    if r.fa == 0 or not y.numel():
        return y.new_zeros(y._shape)
    i, j = _pairs(x._shape[0])
    t = ts[0] if ts[0] is not None else x.new_zeros(x._shape)
    d = t.index_select(0, i) - t.index_select(0, j)
    return (_pair_terms(x.index_select(0, i) - x.index_select(0, j), y, y.new_ones(y._shape), r.fa) * d).sum(-1)


def _p_saved(r):
    return float(r.fa)


register(Op(CDIST, "_cdist_forward", "CdistBackward0", X0 | X1 | OUT, _cdist_vjp, py_adjoint=rule_adjoint, arity=2,
            node_saved=(("p", _p_saved), ("result", OUT), ("x1", X0), ("x2", X1))))
register(Op(EUCLIDEAN_DIST, "_euclidean_dist", "EuclideanDistBackward0", X0 | X1 | OUT, _euclidean_vjp,
            py_adjoint=rule_adjoint, arity=2, node_saved=(("result", OUT), ("x1", X0), ("x2", X1))))
register(Op(PDIST, "_pdist_forward", "PdistBackward0", X0 | OUT, _pdist_vjp, py_adjoint=rule_adjoint,
            node_saved=(("p", _p_saved), ("result", OUT), ("self", X0))))
tangents({CDIST: _cdist_jvp, EUCLIDEAN_DIST: _cdist_jvp, PDIST: _pdist_jvp})


# --- front ends ------------------------------------------------------------------------------------
def _floating(t: Tensor, what: str) -> None:
    if not t._dtype.is_floating_point:
        raise RuntimeError(f"cdist only supports floating-point dtypes, {what} got: {D.legacy_name(t._dtype)}")


@public_function("cdist")
def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """The p-norm distance between each pair of the two collections of row vectors ``x1``
    (``B x P x M``) and ``x2`` (``B x R x M``), a ``B x P x R`` tensor; ``compute_mode`` chooses
    for p = 2 between the direct sums and a matrix product (faster, less exact), by default the
    product when either has more than 25 rows."""
    if not isinstance(compute_mode, str) or compute_mode not in _MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    mode = _MODES[compute_mode]
    # (PyTorch's Python function checks the mode, then calls the op with every argument by position)
    check_types("cdist", (("x1", Tensor), ("x2", Tensor), ("p", "float")), x1, x2, p)
    for t, what in ((x1, "X1"), (x2, "X2")):
        if t.dim() < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {what} got: {t.dim()}D")
    if x1._shape[-1] != x2._shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1._shape[-1]} "
                           f"X2: {x2._shape[-1]}")
    _floating(x1, "X1")
    _floating(x2, "X2")
    p = float(p)
    if not p >= 0:
        raise RuntimeError("cdist only supports non-negative p values")
    r1, r2 = x1._shape[-2], x2._shape[-2]
    batch = broadcast_pair(x1._shape[:-2], x2._shape[:-2])
    mm = p == 2 and (mode == 1 or (mode == 0 and (r1 > 25 or r2 > 25))) and x1.numel() and x2.numel()
    if mm:
        if x1._dtype is not x2._dtype:
            raise RuntimeError("expected m1 and m2 to have the same dtype, but got: "
                               f"{D.legacy_name(x1._dtype).lower()} != {D.legacy_name(x2._dtype).lower()}")
        n = int(np.prod(batch))
        if n != 1:
            x1 = x1.expand(batch + x1._shape[-2:]).reshape(n, r1, x1._shape[-1])
            x2 = x2.expand(batch + x2._shape[-2:]).reshape(n, r2, x2._shape[-1])
        y = _euclidean_values(x1._value(), x2._value())
        d = emit(EUCLIDEAN_DIST, y, x1._dtype, x1, x2) if state.grad and (x1._rg or x2._rg) \
            else plain(y, x1._dtype)
        return d.view(batch + (r1, r2))
    if x1._dtype is not x2._dtype:
        raise RuntimeError(f"expected scalar type {D.legacy_name(x1._dtype)} but found "
                           f"{D.legacy_name(x2._dtype)}")
    a, b = x1._value(), x2._value()
    quiet()
    y = np.ascontiguousarray(_norms(a[..., :, None, :] - b[..., None, :, :], p), x1._dtype.np)
    if state.grad and (x1._rg or x2._rg):
        return emit(CDIST, y, x1._dtype, x1, x2, fa=p)
    return plain(y, x1._dtype)


@public_function("pdist")
def pdist(input: Tensor, p: float = 2) -> Tensor:
    """The p-norm distance between every pair of row vectors of the ``N x M`` ``input``: the upper
    triangle of ``cdist(input, input)`` without its diagonal, row by row, ``N (N - 1) / 2`` values."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pdist(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if not input._dtype.is_floating_point:
        raise RuntimeError("pdist only supports floating-point dtypes")
    p = float(p)
    if not p >= 0:
        raise RuntimeError("pdist only supports non-negative p values")
    v = input._value()
    i, j = np.triu_indices(v.shape[0], 1)
    quiet()
    y = np.ascontiguousarray(_norms(v[i] - v[j], p), input._dtype.np)
    if state.grad and input._rg:
        return emit(PDIST, y, input._dtype, input, fa=p)
    return plain(y, input._dtype)
