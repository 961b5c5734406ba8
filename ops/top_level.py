"""Functions PyTorch keeps at top level without a Tensor method, each with a node of its own:
``rsub`` (``RsubBackward0`` for a tensor ``other``, ``RsubBackward1`` for a number), ``fill``
(``FillBackward0``/``FillBackward1``), ``as_strided_scatter`` (``AsStridedScatterBackward0``),
``slice_inverse`` (``SliceInverseBackward0``), and ``nonzero_static`` (no derivative).

Each node is one Python-rule row whose derivative is written in tape ops, as PyTorch's formula,
so every order comes from it.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
from numpy.lib.stride_tricks import as_strided as np_as_strided

from .._emit import D, Number, Tensor, node_in, plain, recorded, state, write_tape
from ._args import broadcast_pair, shown, wrap_dim
from ._parser import Forms, check_types
from ._rule import rule_adjoint
from ._spec import PYTHON, TRANSPOSED, Op, public, register, tangents
from .as_strided import _storage_view
from .elementwise import _check_alpha, _no_bool_sub
from .join import where
from .nodes import slice_scatter
from .shape import BY_INDEX

RSUB, RSUB_NUMBER, FILL, FILL_TENSOR = range(PYTHON.start + 223, PYTHON.start + 227)
AS_STRIDED_SCATTER, SLICE_INVERSE = PYTHON.start + 227, PYTHON.start + 228


def _zeros_like(t: Tensor) -> Tensor:
    return plain(np.zeros(t._shape, t._dtype.np), t._dtype)


# (the row's inputs are of its shape and dtype: ``node_in`` casts and broadcasts them, hidden)
register(Op(RSUB, "rsub", "RsubBackward0", 0, lambda g, xs, y, r: (g * -r.fa, g), py_adjoint=rule_adjoint, arity=2,
            node_saved=(("alpha", lambda r: r.fa),)))
register(Op(RSUB_NUMBER, "rsub", "RsubBackward1", 0, lambda g, xs, y, r: (g * -r.fa,), py_adjoint=rule_adjoint,
            node_saved=(("alpha", lambda r: r.fa),)))
register(Op(FILL, "fill", "FillBackward0", 0, lambda g, xs, y, r: (_zeros_like(g),), py_adjoint=rule_adjoint))
register(Op(FILL_TENSOR, "fill", "FillBackward1", 0, lambda g, xs, y, r: (_zeros_like(g), g.sum()),
            py_adjoint=rule_adjoint, arity=2))


def _rsub_jvp(ts, xs, y, r):
    tx, to = ts
    t = (tx * -r.fa if tx is not None else None) if to is None else to if tx is None else to - tx * r.fa
    if t is None:
        return _zeros_like(y)
    return t if t._shape == y._shape else t.expand(y._shape)     # (an input a kernel reads modulo its size)


tangents({RSUB: _rsub_jvp, RSUB_NUMBER: lambda ts, xs, y, r: _rsub_jvp((ts[0], None), xs, y, r),
          FILL: lambda ts, xs, y, r: _zeros_like(y),
          FILL_TENSOR: lambda ts, xs, y, r: _zeros_like(y) if ts[1] is None else ts[1].expand(y._shape).clone()})


def _row(code: int, y: np.ndarray, dt: D.dtype, inputs: Sequence[Tensor], saved=(), ia: int = 0,
         fa: float = 0.0) -> Tensor:
    """``y`` as a row of ``code`` over ``inputs`` (cast to ``dt``, broadcast to ``y``'s shape)
    when grad mode is on and one of them requires grad and ``dt`` can; else a plain tensor."""
    if not (state.grad and dt.is_floating_point and any(t._rg for t in inputs)):
        return plain(y, dt)
    tape = write_tape()
    nodes = [node_in(tape, t, dt, y.shape) for t in inputs]
    node = tape.append(code, dt.arena, y, *nodes, ia=ia, fa=fa)
    if saved:
        tape.args[node] = saved
    return recorded(tape, node, y, dt)


_RSUB_FORMS = Forms("rsub", "(Tensor input, Tensor other, *, Number alpha = 1)",
                    "(Tensor input, Number other, Number alpha = 1)")


@public("rsub", method=False, error_forms=_RSUB_FORMS)
def rsub(self, other: Union[Tensor, Number], alpha: Number = 1) -> Tensor:
    """``other - alpha * self``: :func:`torch.sub` with its operands swapped."""
    if not isinstance(other, (Tensor, int, float, bool)) or not isinstance(alpha, (int, float, bool)):
        raise TypeError("rsub(): invalid arguments")
    _no_bool_sub(other, self)
    _check_alpha(other, self, alpha, "rsub")
    dt = D.result_type(self, other)
    # (a float32 result from float64 products: one rounding, as PyTorch's fused multiply-add)
    wide = np.dtype(np.float64 if dt in (D.float32, D.float16) else dt.np).type
    o = other._value() if isinstance(other, Tensor) else other
    with np.errstate(all="ignore"):
        y = np.subtract(np.asarray(o, dt.np).astype(wide), self._value().astype(dt.np).astype(wide) * wide(alpha))
    y = np.array(y, dtype=dt.np, order="C")
    saved = (("alpha", alpha),)
    if isinstance(other, Tensor):
        return _row(RSUB, y, dt, (self, other), saved, fa=float(alpha))
    return _row(RSUB_NUMBER, y, dt, (self,), saved, fa=float(alpha))


_FILL_FORMS = Forms("fill", "(Tensor input, Tensor value)", "(Tensor input, Number value)")


@public("fill", method=False, error_forms=_FILL_FORMS)
def fill(self, value: Union[Tensor, Number]) -> Tensor:
    """A tensor of ``self``'s shape and dtype filled with ``value`` (a number or a 0-d tensor)."""
    if isinstance(value, Tensor):
        if value._shape:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.dim()} "
                               "dimensions.")
        y = np.full(self._shape, value._value(), self._dtype.np)
        return _row(FILL_TENSOR, y, self._dtype, (self, value))
    if not isinstance(value, (int, float, bool)):
        raise TypeError("fill(): invalid arguments")
    with np.errstate(all="ignore"):
        y = np.full(self._shape, value, self._dtype.np) if not isinstance(value, float) or \
            self._dtype.is_floating_point else np.full(self._shape, np.trunc(value)).astype(self._dtype.np)
    return _row(FILL, y, self._dtype, (self,))


# --- scatters into a strided view -------------------------------------------------------------
def _positions(r, src: Tensor) -> np.ndarray:
    """The flat positions in the output of the elements of ``src`` (the row's index list)."""
    return r.tape.ix[r.ia:r.ia + src.numel()].reshape(src._shape)


def _as_strided_scatter_vjp(g, xs, y, r):
    at = _positions(r, xs[1])
    covered = np.zeros(g.numel(), bool)
    covered[at.reshape(-1)] = True
    keep = plain(~covered.reshape(g._shape), D.bool_)
    return where(keep, g, 0.0), g._gather(at, BY_INDEX)


def _as_strided_scatter_jvp(ts, xs, y, r):
    tx, tsrc = (t if t is not None else _zeros_like(x) for t, x in zip(ts, xs))
    flat = tx.reshape(-1)
    return flat.index_put((plain(_positions(r, xs[1]).reshape(-1), D.int64),), tsrc.reshape(-1)).reshape(y._shape)


register(Op(AS_STRIDED_SCATTER, "as_strided_scatter", "AsStridedScatterBackward0", 0, _as_strided_scatter_vjp,
            py_adjoint=rule_adjoint, arity=2))
tangents({AS_STRIDED_SCATTER: _as_strided_scatter_jvp})


def _clone_storage(x: Tensor) -> np.ndarray:
    """Which element of ``x`` (its row-major position) each slot of ``x.clone()``'s storage holds:
    the clone keeps ``x``'s strides when its elements are one run of memory without overlap (some
    order of its dims steps through them), else it is contiguous."""
    shape, strides = x._shape, x.stride()
    step = 1
    for s, n in sorted((s, n) for s, n in zip(strides, shape) if n > 1):
        if s != step:
            strides = tuple(int(np.prod(shape[d + 1:])) for d in range(len(shape)))
            break
        step *= n
    slots = np.zeros(shape, np.int64)
    for d, (n, s) in enumerate(zip(shape, strides)):
        slots += (np.arange(n, dtype=np.int64) * s).reshape((-1,) + (1,) * (len(shape) - 1 - d))
    storage = np.zeros(x.numel(), np.int64)
    storage[slots.reshape(-1)] = np.arange(x.numel(), dtype=np.int64)
    return storage


@public("as_strided_scatter")
def as_strided_scatter(self, src: Tensor, size: Sequence[int], stride: Sequence[int],
                       storage_offset: Optional[int] = None) -> Tensor:
    """``self`` with the elements of its view ``as_strided(size, stride, storage_offset)`` (laid
    out as ``self.clone()``'s storage) replaced by ``src`` (out of place)."""
    check_types("as_strided_scatter", (("src", Tensor),), src)
    offset = 0 if storage_offset is None else storage_offset
    # (as_strided's checks and errors, on a storage of the clone's size and itemsize)
    _storage_view(plain(np.empty(self.numel(), self._dtype.np), self._dtype), size, stride, offset)
    size = tuple(int(n) for n in size)
    if size != src._shape:
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = {list(src._shape)}, "
                           f"slice size = {list(size)}")
    slots = np.full(size, offset, np.int64)
    for d, (n, s) in enumerate(zip(size, stride)):
        slots += (np.arange(n, dtype=np.int64) * int(s)).reshape((-1,) + (1,) * (len(size) - 1 - d))
    at = _clone_storage(self)[slots] if slots.size else slots
    y = np.array(self._value(), order="C")
    y.reshape(-1)[at.reshape(-1)] = src._value().astype(self._dtype.np).reshape(-1)
    saved = (("size", tuple(size)), ("storage_offset", storage_offset), ("stride", tuple(stride)))
    if not (state.grad and self._dtype.is_floating_point and (self._rg or src._rg)):
        return plain(y, self._dtype)
    tape = write_tape()
    nodes = [node_in(tape, t, self._dtype, t._shape) for t in (self, src)]
    node = tape.append(AS_STRIDED_SCATTER, self._dtype.arena, y, *nodes, ia=tape.index_list(at))
    tape.args[node] = saved
    return recorded(tape, node, y, self._dtype)


@public("nonzero_static")
def nonzero_static(self, *, size: int, fill_value: int = -1) -> Tensor:
    """The indices of the first ``size`` nonzero elements (:meth:`Tensor.nonzero`'s rows), padded
    with rows of ``fill_value`` to ``size`` rows."""
    if type(size) is not int or type(fill_value) is not int:
        check_types("nonzero_static", (("size", "int"), ("fill_value", "int")), size, fill_value)
    if size < 0:
        raise RuntimeError("nonzero_static: 'size' must be an non-negative integer")
    found = np.argwhere(self._value())[:size]
    y = np.full((size, self.dim()), fill_value, np.int64)
    y[:len(found)] = found
    return plain(y, D.int64)


# --- the inverse of a slice --------------------------------------------------------------------
def _slice_inverse_vjp(g, xs, y, r):
    dim, start, end, step = r.ib, r.ia, int(r.fa), int(r.fb)
    inner = g[(slice(None),) * dim + (slice(start, end, step),)]
    return inner, slice_scatter(g, _zeros_like(inner), dim, start, end, step)


register(Op(SLICE_INVERSE, "slice_inverse", "SliceInverseBackward0", 0, _slice_inverse_vjp, py_adjoint=rule_adjoint,
            arity=2))
tangents({SLICE_INVERSE: TRANSPOSED})


@public("slice_inverse")
def slice_inverse(self, src: Tensor, dim: int = 0, start: Optional[int] = None, end: Optional[int] = None,
                  step: int = 1) -> Tensor:
    """The inverse of ``src.slice(dim, start, end, step)`` (which ``self`` is): ``self``'s storage
    seen with ``src``'s sizes, strides and offset (a tensor of its own here, where PyTorch's is a
    view).  Its gradient reaches ``self`` through the slice and ``src`` elsewhere."""
    check_types("slice_inverse", (("src", Tensor), ("dim", "int"), ("start", "int?"), ("end", "int?"),
                                  ("step", "int")), src, dim, start, end, step)
    d = wrap_dim(dim, len(src._shape))
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    lo, hi, _ = slice(start, end, step).indices(src._shape[d] if src._shape else 1)
    part = (slice(None),) * d + (slice(lo, max(hi, lo), step),)
    try:
        _, view = _storage_view(self, src._shape, src.stride(), src.storage_offset())
        y = np.array(view, order="C")
    except RuntimeError:
        # (``self`` holding the slice without sharing ``src``'s storage, as a dual tensor's slice does
        # here: the storage it stands for is ``src`` with the slice replaced by ``self``)
        if np.empty(src._shape)[part].shape != self._shape:
            raise
        y = np.array(src._value(), dtype=self._dtype.np, order="C")
        y[part] = self._value()
    dt = self._dtype
    if not (state.grad and dt.is_floating_point and (self._rg or src._rg)):
        return plain(y, dt)
    tape = write_tape()
    nodes = [node_in(tape, t, dt, t._shape) for t in (self, src)]
    node = tape.append(SLICE_INVERSE, dt.arena, y, *nodes, ia=lo, ib=d, fa=float(max(hi, lo)),
                       fb=float(step))
    tape.args[node] = (("dim", shown(dim)), ("end", end), ("start", start), ("step", step))
    return recorded(tape, node, y, dt)
