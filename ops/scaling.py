"""Ops that scale parts of their input: ``prelu`` (``PreluKernelBackward0``: negative elements times a
weight per channel) and ``renorm`` (``RenormBackward0``: each slice along a dim scaled down to a
largest p-norm).  One Python-rule row each (``ops/_rule.py``), the derivative written in tape ops
as PyTorch's formulas, so that every order comes from it.
"""
from __future__ import annotations

import numpy as np

from .._emit import D, Number, Tensor, emit, plain, state
from ._args import shown, wrap_dim
from ._parser import check_types
from ._rule import rule_adjoint
from ._spec import PYTHON, TRANSPOSED, X0, X1, Op, public, register, tangents
from .elementwise import M_POS, M_ZERO
from .join import where
from .stats import vector_norm

PRELU, RENORM = PYTHON.start + 74, PYTHON.start + 75


# --- prelu ------------------------------------------------------------------------------------------
def _prelu_vjp(g, xs, y, r):
    # PyTorch's _prelu_kernel_backward, through masks of x and w: its node takes both, so that both
    # gradients require grad when either input does, as PyTorch's PreluKernelBackwardBackward0's
    x, w = xs
    positive = x._mask(M_POS)
    negative = 1 - positive
    gx = g._masked(positive) + (w * g)._masked(negative)
    return gx, ((x * g)._masked(negative) + w._mask(M_ZERO))._sum_to(w._shape)


register(Op(PRELU, "_prelu_kernel", "PreluKernelBackward0", X0 | X1, _prelu_vjp, py_adjoint=rule_adjoint, arity=2,
            node_saved=(("self", X0), ("weight", X1))))


@public("prelu")
def prelu(self, weight: Tensor) -> Tensor:
    """``max(0, x) + weight * min(0, x)`` elementwise, ``weight`` one number or one per channel (dim 1
    of ``self``)."""
    if type(weight) is not Tensor:
        check_types("prelu", (("weight", Tensor),), weight)
    if self._dtype is not weight._dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got {D.legacy_name(self._dtype)} and "
                           f"{D.legacy_name(weight._dtype)}")
    nd = self.dim()
    if weight.numel() != 1:
        if nd == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        channels = self._shape[1] if nd > 1 else 1
        if channels != weight.numel():
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                               f"{weight.numel()} and channel size = {channels}.")
    if weight.dim() > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.dim()}")
    if not self._dtype.is_floating_point:
        raise NotImplementedError(f"\"prelu_cpu\" not implemented for '{D.legacy_name(self._dtype)}'")
    if nd != weight.dim():
        weight = weight.reshape(tuple(weight.numel() if k == 1 else 1 for k in range(nd)))
    x, w = self._value(), weight._value()
    y = np.require(np.where(x > 0, x, w * x), self._dtype.np, "C")
    if state.grad and (self._rg or weight._rg):
        return emit(PRELU, y, self._dtype, self, weight)
    return plain(y, self._dtype)


# --- renorm -----------------------------------------------------------------------------------------
def _reduced(nd: int, dim: int) -> tuple:
    return tuple(k for k in range(nd) if k != dim)


def _norm_values(x: np.ndarray, p: float, dims: tuple) -> np.ndarray:
    a = np.abs(x)
    if p == 2:
        return np.sqrt((a * a).sum(dims, keepdims=True))
    if p == 1:
        return a.sum(dims, keepdims=True)
    if p == np.inf:
        return a.max(dims, keepdims=True, initial=0)
    return (a ** p).sum(dims, keepdims=True) ** (1 / p)


def _norm_backward(s: Tensor, x: Tensor, p: float, norm: Tensor, dims: tuple) -> Tensor:
    """``s`` times the derivative of the p-norm ``norm`` of ``x`` over ``dims`` (PyTorch's
    norm_backward: 0 where the norm is 0; ties of the largest magnitude share the gradient of inf)."""
    if p == 1:
        return s * x.sign()
    if p == np.inf:
        tie = x.abs() == norm
        return where(tie, s * x.sign(), 0.0) / tie.sum(dims, True)
    zero = norm == 0
    safe = where(zero, 1.0, norm)
    if p == 2:
        return where(zero, 0.0, s / safe) * x
    flat = x == 0
    power = where(flat, 0.0, x.sign() * where(flat, 1.0, x.abs()).pow(p - 1))
    return power * where(zero, 0.0, s / safe.pow(p - 1))


def _renorm_vjp(g, xs, y, r):
    # PyTorch's renorm_backward
    x, p, maxnorm = xs[0], r.fa, r.fb
    dims = _reduced(x.dim(), wrap_dim(r.ia, x.dim()))
    norm = vector_norm(x, p, dims, True)      # (its derivative is 0 where the norm is)
    nb = _norm_backward((x * g).sum(dims, True), x, p, norm, dims)
    invnorm = (norm + 1e-7).reciprocal()
    factor = invnorm * maxnorm
    return (where(norm > maxnorm, g * factor - nb * factor * invnorm, g),)


register(Op(RENORM, "renorm", "RenormBackward0", X0, _renorm_vjp, py_adjoint=rule_adjoint,
            node_saved=(("dim", lambda r: shown(r.ia)), ("maxnorm", lambda r: _number(r.fb)),
                        ("p", lambda r: _number(r.fa)), ("self", X0))))
tangents({PRELU: TRANSPOSED, RENORM: TRANSPOSED})     # (linear in the adjoint: transposed)


def _number(v: float):
    return int(v) if float(v).is_integer() else float(v)


@public("renorm")
def renorm(self, p: Number, dim: int, maxnorm: Number) -> Tensor:
    """``self`` with each slice along ``dim`` whose ``p``-norm exceeds ``maxnorm`` scaled to norm
    ``maxnorm``."""
    p, maxnorm = float(p), float(maxnorm)
    if not p > 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if not maxnorm >= 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm:g}")
    if self.dim() < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {self.dim()} dimensions")
    wrapped = wrap_dim(dim, self.dim())
    if not self._dtype.is_floating_point:
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{D.legacy_name(self._dtype)}")
    x = self._value()
    dt = self._dtype.np
    norm = _norm_values(x, p, _reduced(x.ndim, wrapped))
    factor = np.where(norm > dt.type(maxnorm), dt.type(maxnorm) / (norm + dt.type(1e-7)), dt.type(1))
    y = np.require(x * factor, dt, "C")
    if state.grad and self._rg:
        return emit(RENORM, y, self._dtype, self, ia=dim, fa=p, fb=maxnorm)
    return plain(y, self._dtype)
