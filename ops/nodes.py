"""Functions whose PyTorch node is their own (``Rot90Backward0``, ``LogcumsumexpBackward0``,
``SelectScatterBackward0``, ``SliceScatterBackward0``, ``DiagonalScatterBackward0``,
``HardshrinkBackward0``, ``ThresholdBackward0``, ``threshold_``'s ``ThresholdBackward1``): one
Python-rule row each (``ops/_rule.py``), its derivative written in tape ops as PyTorch's formula, so
every order comes from it.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .._emit import D, Number, Tensor, emit, plain, state
from ._args import wrap_dim
from ._parser import check_types
from ._rule import rule_adjoint
from ._spec import PYTHON, TRANSPOSED, X0, OUT, Op, public, register, tangents
from .elementwise import M_INRANGE
from .join import _no_grad_out, _write_out, where

ROT90, LOGCUMSUMEXP, SHRINK = PYTHON.start + 47, PYTHON.start + 48, PYTHON.start + 49
SELECT_SCATTER, SLICE_SCATTER, DIAGONAL_SCATTER = PYTHON.start + 54, PYTHON.start + 55, PYTHON.start + 56
S_HARDSHRINK, S_THRESHOLD, S_THRESHOLD_ = 0, 1, 2       # (``ib`` of a SHRINK row)


def _rot90_vjp(g, xs, y, r):
    return (rot90(g, -r.ia, (r.ib >> 8, r.ib & 255)),)


def _logcumsumexp_vjp(g, xs, y, r):
    # PyTorch's formula (after TensorFlow's): the positive and negative parts of the gradient,
    # each summed from the right in log space
    x, dim = xs[0], r.ia
    if not g._shape or not g.numel():
        return (g,)
    lowest = float(np.finfo(g._dtype.np).min)
    log_abs = g.abs().log()
    pos = where(g > 0, log_abs, lowest)
    neg = where(g < 0, log_abs, lowest)

    def from_right(t):
        return logcumsumexp(t.flip(dim), dim).flip(dim)
    return ((from_right(pos - y) + x).exp() - (from_right(neg - y) + x).exp(),)


def _shrink_vjp(g, xs, y, r):
    # PyTorch's threshold_backward / hardshrink_backward: zero where x is in [-lambd, lambd] (at or
    # below the threshold), the gradient elsewhere (nan included), and differentiable in x with a zero
    # derivative: a recorded gradient requires grad, and differentiates to zeros.
    lo = -r.fa if r.ib == S_HARDSHRINK else -math.inf
    return (g._masked(1.0 - xs[0]._mask(M_INRANGE, lo, r.fa)),)


register(Op(ROT90, "rot90", "Rot90Backward0", 0, _rot90_vjp, py_adjoint=rule_adjoint,
            node_saved=(("dims", lambda r: (r.ib >> 8, r.ib & 255)), ("k", lambda r: r.ia))))
register(Op(LOGCUMSUMEXP, "logcumsumexp", "LogcumsumexpBackward0", X0 | OUT, _logcumsumexp_vjp,
            py_adjoint=rule_adjoint, node_saved=(("dim", lambda r: r.ia), ("result", OUT), ("self", X0))))
register(Op(SHRINK, "hardshrink", "HardshrinkBackward0", X0, _shrink_vjp, py_adjoint=rule_adjoint,
            grad_fn_of=lambda r: ("HardshrinkBackward0", "ThresholdBackward0", "ThresholdBackward1")[r.ib],
            node_saved=lambda r: (("lambd", _number), ("self", X0)) if r.ib == S_HARDSHRINK
            else (("self", X0), ("threshold", _number))))     # (threshold_'s too: its input before the change)


# The scatters into a view: ``input`` with the view (a select, a slice or a diagonal) replaced by
# ``src``; the gradient of ``input`` is the adjoint with the view zeroed (the same op, with zeros),
# that of ``src`` the adjoint's view.  Rows keep the view's arguments: select (dim ``ia``, index
# ``ib``), slice (dim ``ia``, start ``ib``, end ``fa``, step ``fb``), diagonal (offset ``ia``, dims
# ``ib`` packed as ``dim1 << 8 | dim2``).
def _view_of(t: Tensor, r) -> Tensor:
    if r.code == SELECT_SCATTER:
        return t.select(r.ia, r.ib)
    if r.code == SLICE_SCATTER:
        return t[(slice(None),) * r.ia + (slice(r.ib, int(r.fa), int(r.fb)),)]
    return t.diagonal(r.ia, r.ib >> 8, r.ib & 255)


def _scatter_vjp(g, xs, y, r):
    src = xs[1]
    zeros = plain(np.zeros(src._shape, g._dtype.np), g._dtype)
    return _scatter_row(r.code, g, zeros, r.ia, r.ib, r.fa, r.fb), _view_of(g, r)


def _scatter_jvp(ts, xs, y, r):
    x, src = xs
    tx = ts[0] if ts[0] is not None else plain(np.zeros(x._shape, x._dtype.np), x._dtype)
    tsrc = ts[1] if ts[1] is not None else plain(np.zeros(src._shape, src._dtype.np), src._dtype)
    return _scatter_row(r.code, tx, tsrc, r.ia, r.ib, r.fa, r.fb)


def _scatter_saved(r) -> tuple:
    if r.code == SELECT_SCATTER:
        return (("dim", lambda r: r.ia), ("index", lambda r: r.ib))
    if r.code == SLICE_SCATTER:
        return (("dim", lambda r: r.ia), ("end", lambda r: int(r.fa)), ("start", lambda r: r.ib),
                ("step", lambda r: int(r.fb)))
    return (("dim1", lambda r: r.ib >> 8), ("dim2", lambda r: r.ib & 255), ("offset", lambda r: r.ia))


for _code, _name in ((SELECT_SCATTER, "select_scatter"), (SLICE_SCATTER, "slice_scatter"),
                     (DIAGONAL_SCATTER, "diagonal_scatter")):
    register(Op(_code, _name, "".join(w.capitalize() for w in _name.split("_")) + "Backward0", 0, _scatter_vjp,
                py_adjoint=rule_adjoint, arity=2, node_saved=_scatter_saved))
    tangents({_code: _scatter_jvp})       # (linear in both inputs: the op on their tangents)


def _logcumsumexp_jvp(ts, xs, y, r):
    # dy_j = sum_{i <= j} exp(x_i - y_j) t_i, the positive and negative parts of the tangent summed
    # in log space as the adjoint rule does (PyTorch's exp(x - max) weights give 0 where they underflow)
    x, t, dim = xs[0], ts[0], r.ia
    if t is None or not x._shape or not x.numel():
        return t
    lowest = float(np.finfo(t._dtype.np).min)
    log_abs = t.abs().log()
    pos = where(t > 0, log_abs, lowest)
    neg = where(t < 0, log_abs, lowest)
    return (logcumsumexp(x + pos, dim) - y).exp() - (logcumsumexp(x + neg, dim) - y).exp()


tangents({ROT90: TRANSPOSED, LOGCUMSUMEXP: _logcumsumexp_jvp, SHRINK: TRANSPOSED})     # (linear, or masks: transposed)


def _number(r):
    """The threshold (or lambd) of a SHRINK row as it was given: ``ia`` says a float (0), an int (1)
    or a bool (2), as PyTorch's node shows it."""
    return (float, int, bool)[r.ia](r.fa)


def _kind(v: Number) -> int:
    return 2 if isinstance(v, bool) else 1 if isinstance(v, int) else 0


def _row(code: int, y: np.ndarray, x: Tensor, ia: int = 0, ib: int = 0, fa: float = 0.0) -> Tensor:
    y = np.require(y, x._dtype.np, "C")
    if x._rg and state.grad and x._dtype.arena is not None:
        return emit(code, y, x._dtype, x, ia=ia, ib=ib, fa=fa)
    return plain(y, x._dtype)


@public("rot90")
def rot90(self, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:
    """``self`` rotated by ``k`` quarter turns in the plane of ``dims``, from the first dim towards
    the second."""
    if type(k) is not int:
        check_types("rot90", (("k", "int"),), k)
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    nd = self.dim()
    if nd < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {nd}")
    d0, d1 = wrap_dim(dims[0], nd), wrap_dim(dims[1], nd)
    if dims[0] == dims[1] or abs(dims[0] - dims[1]) == nd:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {dims[0]} and dim1 = {dims[1]}")
    y = np.array(np.rot90(self._value(), int(k) % 4, (d0, d1)), order="C")     # (a copy, never a view)
    return _row(ROT90, y, self, ia=int(k), ib=d0 << 8 | d1)      # (k as given: the node shows it)


@public("logcumsumexp")
def logcumsumexp(self, dim: int, *, out=None) -> Tensor:
    """``log(cumsum(exp(self), dim))``, computed without overflow."""
    d = wrap_dim(dim, self.dim())
    if not self._dtype.is_floating_point:
        raise NotImplementedError(f"\"logcumsumexp_out_cpu\" not implemented for '{D.legacy_name(self._dtype)}'")
    v = self._value()
    with np.errstate(all="ignore"):
        y = np.logaddexp.accumulate(v, axis=d) if v.ndim else v.copy()
    if out is not None:
        _no_grad_out([self], out, "logcumsumexp")
        return _write_out(plain(np.require(y, self._dtype.np, "C"), self._dtype), out, "logcumsumexp")
    return _row(LOGCUMSUMEXP, y, self, ia=d)


@public("hardshrink")
def hardshrink(self, lambd: Number = 0.5) -> Tensor:
    """``self`` where ``|self| > lambd``, 0 elsewhere."""
    if type(lambd) is not float:
        check_types("hardshrink", (("lambd", "Number"),), lambd)
    if not self._dtype.is_floating_point:
        raise NotImplementedError(f"\"hardshrink_cpu\" not implemented for '{D.legacy_name(self._dtype)}'")
    v = self._value()
    lam = v.dtype.type(lambd)
    y = np.where((v >= -lam) & (v <= lam), v.dtype.type(0), v)
    return _row(SHRINK, y, self, ia=_kind(lambd), ib=S_HARDSHRINK, fa=float(lambd))


@public("threshold", method=False)
def threshold(self, threshold: Number, value: Number) -> Tensor:
    """``self`` where it is greater than ``threshold``, ``value`` elsewhere."""
    _no_bool_threshold(self)
    v = self._value()
    t = v.dtype.type(threshold)
    y = np.where(v <= t, v.dtype.type(value), v)
    return _row(SHRINK, y, self, ia=_kind(threshold), ib=S_THRESHOLD, fa=float(threshold))


def _no_bool_threshold(x: Tensor) -> None:
    if x._dtype is D.bool_:
        raise NotImplementedError("\"threshold_cpu\" not implemented for 'Bool'")


@public("threshold_", method=False)
def threshold_(self, threshold: Number, value: Number) -> Tensor:
    """:func:`threshold` written into ``self``."""
    self._check_inplace()
    _no_bool_threshold(self)
    v = self._value()
    y = np.where(v <= v.dtype.type(threshold), v.dtype.type(value), v)
    return self._inplace(_row(SHRINK, y, self, ia=_kind(threshold), ib=S_THRESHOLD_, fa=float(threshold)))


def _scatter_row(code: int, x: Tensor, src: Tensor, ia: int, ib: int, fa: float, fb: float) -> Tensor:
    """``x`` with the view the row's arguments name replaced by ``src`` (cast to ``x``'s dtype)."""
    if src._dtype is not x._dtype:
        src = src.to(x._dtype)
    y = np.array(x._value(), order="C")
    if code == SELECT_SCATTER:
        y[(slice(None),) * ia + (ib,)] = src._value()
    elif code == SLICE_SCATTER:
        y[(slice(None),) * ia + (slice(ib, int(fa), int(fb)),)] = src._value()
    else:
        moved = np.moveaxis(y, (ib >> 8, ib & 255), (-2, -1))       # (a view: the diagonal is its last dim)
        k = np.arange(src._shape[-1]) if src._shape else np.arange(0)
        moved[..., k + max(-ia, 0), k + max(ia, 0)] = src._value()
    if state.grad and (x._rg or src._rg) and x._dtype.arena is not None:
        return emit(code, y, x._dtype, x, src, ia=ia, ib=ib, fa=fa, fb=fb)
    return plain(y, x._dtype)


def _check_src(src: Tensor, view_shape: tuple) -> None:
    if tuple(src._shape) != tuple(view_shape):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = {list(src._shape)}, "
                           f"slice size = {list(view_shape)}")


@public("select_scatter")
def select_scatter(self, src: Tensor, dim: int, index: int) -> Tensor:
    """``self`` with ``self.select(dim, index)`` replaced by ``src`` (out of place)."""
    view = self._value().shape
    d = wrap_dim(dim, self.dim())
    n = view[d] if view else 1
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(view)} at dimension {d}")
    i = index % n
    _check_src(src, view[:d] + view[d + 1:])
    return _scatter_row(SELECT_SCATTER, self, src, d, i, 0.0, 0.0)


@public("slice_scatter")
def slice_scatter(self, src: Tensor, dim: int = 0, start=None, end=None, step: int = 1) -> Tensor:
    """``self`` with the slice ``start:end:step`` along ``dim`` replaced by ``src`` (out of place)."""
    check_types("slice_scatter", (("src", Tensor), ("dim", "int"), ("start", "int?"), ("end", "int?"), ("step", "int")),
                src, dim, start, end, step)
    d = wrap_dim(dim, self.dim())
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    size = self._shape[d] if self._shape else 1
    lo, hi, _ = slice(start, end, step).indices(size)
    hi = max(hi, lo)
    shape = list(self._shape)
    shape[d] = len(range(lo, hi, step))
    _check_src(src, tuple(shape))
    return _scatter_row(SLICE_SCATTER, self, src, d, lo, float(hi), float(step))


@public("diagonal_scatter")
def diagonal_scatter(self, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """``self`` with the diagonal ``self.diagonal(offset, dim1, dim2)`` replaced by ``src`` (out of
    place)."""
    check_types("diagonal_scatter", (("src", Tensor), ("offset", "int"), ("dim1", "int"), ("dim2", "int")), src, offset,
                dim1, dim2)
    nd = self.dim()
    d1, d2 = wrap_dim(dim1, nd), wrap_dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    view = np.diagonal(self._value(), offset, d1, d2).shape
    _check_src(src, view)
    return _scatter_row(DIAGONAL_SCATTER, self, src, offset, d1 << 8 | d2, 0.0, 0.0)
