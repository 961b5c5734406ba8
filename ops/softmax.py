"""Softmax, log-softmax and logsumexp: Python-rule rows (``ops/_rule.py``).

Row attributes: SOFTMAX/LOG_SOFTMAX keep the dim in ``ia``; LOGSUMEXP keeps the bit mask of
reduced dims in ``ia`` (as sum's rows do, so ``Row.keep_shape`` applies).
"""
from __future__ import annotations

from typing import Optional, Union

import numpy as np

from .._emit import D, Tensor, emit, plain, state
from ._args import reduced_dims, wrap_dim
from ._rule import rule_adjoint
from ._spec import OUT, PYTHON, X0, Op, public, register

SOFTMAX, LOG_SOFTMAX, LOGSUMEXP = PYTHON.start + 30, PYTHON.start + 31, PYTHON.start + 32


def _softmax_vjp(g, xs, y, r):
    return (y * (g - (g * y).sum(r.ia, keepdim=True)),)


def _log_softmax_vjp(g, xs, y, r):
    return (g - y.exp() * g.sum(r.ia, keepdim=True),)


def _logsumexp_vjp(g, xs, y, r):
    keep, shape = r.keep_shape, r.in_shapes[0]
    return (g.reshape(keep).expand(shape) * (xs[0] - y.reshape(keep).expand(shape)).exp(),)


_SAVED = (("result", OUT), ("dim", lambda r: r.ia))
register(Op(SOFTMAX, "softmax", "SoftmaxBackward0", OUT, _softmax_vjp, py_adjoint=rule_adjoint, node_saved=_SAVED))
register(Op(LOG_SOFTMAX, "log_softmax", "LogSoftmaxBackward0", OUT, _log_softmax_vjp, py_adjoint=rule_adjoint,
            node_saved=_SAVED))
def reduced(r) -> tuple:
    """A reduction row's dims (bit mask ``ia``), as a tuple."""
    return tuple(d for d in range(r.ia.bit_length()) if r.ia >> d & 1)


def kept(r) -> bool:
    """Whether a reduction row kept its reduced dims (as size 1)."""
    return r.ia != 0 and len(r.out_shape) == len(r.in_shapes[0])


register(Op(LOGSUMEXP, "logsumexp", "LogsumexpBackward0", X0 | OUT, _logsumexp_vjp, py_adjoint=rule_adjoint,
            node_saved=(("self", X0), ("dim", reduced), ("keepdim", kept), ("result", OUT))))


def _softmax_np(v: np.ndarray, d: int, log: bool) -> np.ndarray:
    if v.size == 0:
        return np.empty(v.shape, v.dtype)
    w = v.reshape(1) if v.ndim == 0 else v
    shifted = w - w.max(axis=d, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=d, keepdims=True)
    y = shifted - np.log(s) if log else e / s
    return y.reshape(v.shape)


def _softmax(x: Tensor, dim, dtype, code: int, name: str) -> Tensor:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")
    nd = len(x._shape)
    d = wrap_dim(dim, nd)
    if dtype is not None and dtype is not x._dtype:
        x = x.to(dtype)
    dt = x._dtype
    if dt.arena is None:
        where = "_lastdim" if d >= nd - 1 else ""
        raise NotImplementedError(f'"{name}{where}_kernel_impl" not implemented for \'{D.legacy_name(dt)}\'')
    y = _softmax_np(x._value(), d, code == LOG_SOFTMAX)
    if x._rg and state.grad:
        return emit(code, y, dt, x, ia=d)
    return plain(y, dt)


@public("softmax")
def softmax(self, dim: int, dtype: Optional[D.dtype] = None) -> Tensor:
    """Softmax over ``dim``: ``exp(x) / exp(x).sum(dim)``, computed in ``dtype`` if given."""
    return _softmax(self, dim, dtype, SOFTMAX, "softmax")


@public("log_softmax")
def log_softmax(self, dim: int, dtype: Optional[D.dtype] = None) -> Tensor:
    """Logarithm of the softmax over ``dim``, computed in ``dtype`` if given."""
    return _softmax(self, dim, dtype, LOG_SOFTMAX, "log_softmax")


def mask_of(dims: tuple) -> int:
    m = 0
    for d in dims:
        m |= 1 << d
    return m


@public("logsumexp")
def logsumexp(self, dim: Union[int, tuple], keepdim: bool = False) -> Tensor:
    """``log(exp(x).sum(dim))``, computed stably (the largest element taken out first)."""
    nd = len(self._shape)
    given = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    if not given and nd and not keepdim:
        raise RuntimeError(f"output with shape [] doesn't match the broadcast shape {[1] * nd}")
    dims = reduced_dims(dim, nd)
    x = self if self._dtype.is_floating_point else self.to(D.get_default_dtype())
    v = x._value()
    count = 1
    for d in dims:
        count *= v.shape[d]
    if count == 0:
        y = np.full(tuple(1 if d in dims else s for d, s in enumerate(v.shape)), -np.inf, v.dtype)
    else:
        m = v.max(axis=dims, keepdims=True)
        m = np.where(np.isinf(m), v.dtype.type(0), m)
        y = np.log(np.exp(v - m).sum(axis=dims, keepdims=True)) + m
    if not keepdim:
        y = y.reshape(tuple(s for d, s in enumerate(v.shape) if d not in dims))
    y = np.asarray(y, v.dtype)
    if x._rg and state.grad:
        return emit(LOGSUMEXP, y, x._dtype, x, ia=mask_of(dims), ib=int(keepdim))
    return plain(y, x._dtype)
