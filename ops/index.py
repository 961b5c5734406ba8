"""Indexing: ``x[i]``, ``x[1:, ::2]``, ``x[mask]``, ``x[[0, 2]]`` and item assignment ``x[i] = v``.

An index is parsed into numpy's form (PyTorch's errors for what it refuses);
recorded indexing is a GATHER or INDEX row over the flat positions it takes
(their rows and derivative rules are in ``ops/shape.py``), named after the
view PyTorch would apply last.  Recorded item assignment is PyTorch's: the
basic index as a view, then ``copy_``/``fill_`` into it, or ``index_put_`` on it
for the index tensors (``CopySlices`` on the base when there is a view).
"""
from __future__ import annotations

import math
import warnings
from typing import Callable, Optional, Union

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .._emit import (D, Number, Tensor, aliased, assert_no_overlap, check_overlap, check_repeats, emit, node_in, plain, recorded, state,
                     unshare, writable, write_tape)
from ._args import broadcast_pair, shown, wrap_dim
from ._index import positions_along
from ._parser import Forms
from ._rule import rule_adjoint
from ._spec import (LISTED, NUMBER, OUT, PYTHON, SAVED_RESULT, SAVED_SELF, X0, X1, X2, X_REST, Given, Op, public,
                    register)
from ._spec import TRANSPOSED, tangents
from .counting import N_INDEX_PROD_ZEROS, N_SCATTER, N_SCATTER_, N_SCATTER_PROD_ZEROS, _nodiff
from .shape import (BY_ALIAS, BY_GATHER, BY_INDEX, BY_INDEX_SELECT, BY_MASKED_SELECT, BY_SELECT, BY_SLICE, BY_TAKE,
                    BY_UNSQUEEZE, V_UNSQUEEZE, VIEW, _gather_jvp, saves, sliced)

PUT = PYTHON.start + 60         # a fill or scatter of index lists (see ``_put_row``)
PUT_HELD = PYTHON.start + 83    # a fill by a mask or index tensor, which is its hidden second input
PUT_SRC_HELD = PYTHON.start + 84    # a scatter holding its index or mask tensor: its hidden third input
REDUCED = PYTHON.start + 61     # scatter_reduce (see ``_reduced_row``)
REDUCED_HELD = PYTHON.start + 85    # the same, holding its index tensor: its hidden third input
INDEX_HELD = PYTHON.start + 87      # ``x[i, j]``: a gather holding its index tensors, hidden inputs from the second on
# (the input positions of hidden index tensors from the second or third on: at most one per dim of 64)
_HELD_FROM_1, _HELD_FROM_2 = tuple(range(1, 66)), tuple(range(2, 67))


@public("__getitem__")
def getitem(self, index) -> Tensor:
    """``self[index]``: an int, a slice, ``None``, ``...``, a boolean mask or an index list or
    tensor (or a tuple of these), as PyTorch indexes."""
    if type(index) is int:
        if not self._shape:
            if index != 0:
                raise IndexError(f"index {index} is out of bounds for dimension 0 with size 0")
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                             "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
        size = self._shape[0]
        if index < -size or index >= size:
            raise IndexError(f"index {index} is out of bounds for dimension 0 with size {size}")
        return self.select(0, index)
    if self._rebased is not None and state.grad:
        raise RuntimeError(self._rebased[0])    # (PyTorch looks at a view's node first: ``ops/views.py``)
    idx, kind = _np_index(index)
    if not self._shape and any(isinstance(i, slice) for i in idx):
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    if self._rg and state.grad:
        if kind == BY_INDEX:
            basic, advanced = _split(idx, len(self._shape))
            if advanced is not None and _last_view(basic, basic, self._shape) != BY_ALIAS:
                # PyTorch's views first (a node of their own, which the index node follows)
                _index_values(np.empty(self._shape, np.bool_), idx)     # (all errors before recording)
                self, idx = self[basic], advanced
        elif _last_view(index, idx, self._shape) != BY_ALIAS:
            _index_values(np.empty(self._shape, np.bool_), idx)         # (all errors before recording)
            return _views(self, idx, isinstance(index, slice))
        positions = _index_values(np.arange(self.numel()).reshape(self._shape), idx)
        if kind == BY_INDEX:
            # (the index tensors given are checked for in-place changes at backward)
            return saves(_indexed(self, positions, _tensors_in(index)),
                         (("indices", _index_tensors(idx, len(self._shape))), ("self_sym_sizes", self._shape)))
        out = self._gather(positions, _last_view(index, idx, self._shape))
        # (a basic index: numpy's view is PyTorch's)
        return aliased(out, self, _unsqueezed(self._storage(), idx if Ellipsis in idx else idx + (Ellipsis,)))
    if kind == BY_INDEX:
        return plain(np.array(_index_values(self._value(), idx)), self._dtype)
    if Ellipsis not in idx:
        idx = idx + (Ellipsis,)             # a 0-d view, not a numpy scalar
    return self._view_alias(_unsqueezed(self._storage(), idx))


def _tensors_in(index) -> tuple:
    return tuple(it for it in (index if type(index) is tuple else (index,)) if isinstance(it, Tensor))


def _no_overlap(self: Tensor, *others) -> None:
    """PyTorch's check before an indexed write into ``self`` (``assert_no_overlap``): none of the
    source and index tensors ``others`` (None, numbers skipped) shares memory with it."""
    out = self._storage()
    for t in others:
        if isinstance(t, Tensor) and t._v is not None:
            assert_no_overlap(out, t._v)


def _is_mask(it) -> bool:
    if isinstance(it, Tensor):
        return it._dtype in (D.bool_, D.uint8) and bool(it._shape)    # (a 0-d one becomes a long index)
    return isinstance(it, list) and bool(it) and np.asarray(it).dtype == np.bool_


def _checks_overlap(index, value, accumulate: bool = False) -> bool:
    """Whether PyTorch's ``index_put_`` with this key refuses a value or index sharing memory with the
    target: the key has index tensors (or lists), and it does not run as ``masked_fill_``
    (``canDispatchToMaskedFill``: one value and a single advanced index that is a boolean mask)."""
    items = index if type(index) is tuple else (index,)
    # (a 0-d integer tensor indexes as its number does)
    advanced = [it for it in items if isinstance(it, (list, np.ndarray)) or isinstance(it, Tensor) and
                (it._shape or it._dtype is D.bool_)]
    if not advanced:
        return False
    if accumulate or (value.numel() if isinstance(value, Tensor) else 1) != 1:
        return True
    return not (len(advanced) == 1 and _is_mask(advanced[0]))


def _indexed(x: Tensor, positions: np.ndarray, held: tuple) -> Tensor:
    """The elements of ``x`` (which requires grad) at flat ``positions``, taken by the index tensors
    ``held``, which its row holds (INDEX, or INDEX_HELD for several) to check them at backward."""
    if len(held) < 2:
        return x._gather(positions, BY_INDEX, held[0] if held else None)
    dt = x._dtype
    y = np.array(x._value().reshape(-1)[positions], order="C")
    tape = write_tape()
    nx = x._node if x._tape is tape else tape.import_(x)
    node = tape.append_listed(INDEX_HELD, dt.arena, y, [nx] + [node_in(tape, h, dt, h._shape) for h in held],
                              ia=tape.index_list(np.array(positions, np.int64, order="C")), ib=BY_INDEX, fill=False)
    return recorded(tape, node, y, dt)


register(Op(INDEX_HELD, "index", "IndexBackward0", NUMBER | X1 | X2 | X_REST,
            lambda g, x, y, r: (g._scatter(r.out_index_list, r.in_shapes[0]),), arity=LISTED, nondiff=_HELD_FROM_1,
            reads_inputs=False))
tangents({INDEX_HELD: _gather_jvp})


def _views(x: Tensor, idx: tuple, single: bool) -> Tensor:
    """``x[idx]`` for a basic index, as PyTorch's chain of views: a select for each int, a slice for
    each slice but those taking a whole dim (all taken for a ``single`` slice), an unsqueeze for
    each None; one row each, whose node shows the index as given."""
    d = 0
    for it in idx:
        if it is Ellipsis:      # (the dims the items after it do not take)
            d = len(x._shape) - sum(1 for i in idx[idx.index(Ellipsis) + 1:] if i is not None)
        elif it is None:
            x = _unsqueeze_view(x, d)
            d += 1
        elif isinstance(it, slice):
            size = x._shape[d]
            if single or it.indices(size) != (0, size, 1) or (it.start or 0) != 0:
                x = _slice_view(x, d, it)
            d += 1
        else:
            x = x.select(d, int(it))
    return x


def _slice_view(x: Tensor, d: int, it: slice) -> Tensor:
    index = (slice(None),) * d + (it,)
    out = x._gather(np.ascontiguousarray(np.arange(x.numel()).reshape(x._shape)[index]), BY_SLICE)
    start, end, step = (0 if it.start is None else it.start, (1 << 63) - 1 if it.stop is None else it.stop,
                        1 if it.step is None else it.step)
    saves(out, sliced(x, d, start, end, step))
    return aliased(out, x, x._storage()[index])


def _unsqueeze_view(x: Tensor, d: int) -> Tensor:
    src = x._storage()
    # (PyTorch's stride for the new dim: the span of the dim it goes before)
    stride = src.shape[d] * src.strides[d] if d < src.ndim else src.itemsize
    v = as_strided(src, src.shape[:d] + (1,) + src.shape[d:], src.strides[:d] + (stride,) + src.strides[d:])
    out = saves(emit(VIEW, np.array(v, order="C"), x._dtype, x, ia=V_UNSQUEEZE), (("dim", d),))
    return aliased(out, x, v)


def _index_tensors(idx: tuple, ndim: int) -> tuple:
    """IndexBackward0's ``indices``: a tensor for each index array, None for each dim taken whole
    between them (none after the last)."""
    _, advanced = _split(idx, ndim)
    out = []
    for it in advanced:
        if isinstance(it, slice):
            out.append(None)
        else:
            mask = np.asarray(it).dtype == np.bool_
            out.append(plain(np.array(it, np.bool_ if mask else np.int64), D.bool_ if mask else D.int64))
    while out and out[-1] is None:
        out.pop()
    return tuple(out)


def _unsqueezed(src: np.ndarray, idx: tuple) -> np.ndarray:
    """``src[idx]`` for a basic index, with PyTorch's strides for the dims a ``None`` inserts (numpy
    gives them 0; PyTorch unsqueezes in turn: the span of the dim that follows, not yet indexed)."""
    v = _numpy_index(src, idx)
    if None not in idx:
        return v
    strides = list(v.strides)
    k = d = 0
    for it in idx:
        if it is None:
            strides[d] = src.shape[k] * src.strides[k] if k < src.ndim else src.itemsize
            d += 1
        elif it is Ellipsis:
            span = src.ndim - sum(1 for i in idx if i is not None and i is not Ellipsis)
            k += span
            d += span
        else:
            k += 1
            d += not isinstance(it, (int, np.integer))
    return as_strided(v, v.shape, tuple(strides))


@public("__setitem__")
def setitem(self, index, value: Union[Tensor, Number]) -> None:
    """``self[index] = value``, in place (``value`` broadcast to the indexed elements)."""
    idx, _ = _np_index(index)
    if isinstance(value, np.ndarray):
        value = plain(np.array(value), D.from_numpy_dtype(value.dtype))
    elif not isinstance(value, (Tensor, int, float, bool, np.number)):
        raise TypeError(f"can't assign a {type(value).__name__} to a {self.type()}")
    tracked = state.grad and (self._rg or (isinstance(value, Tensor) and value._rg))
    if not tracked:
        self._check_inplace(fill=True)      # (elements sharing memory: refused where written, below)
        shape = _index_values(np.empty(self._shape, np.bool_), idx).shape      # PyTorch's errors for bad indices
        basic, advanced = _split(idx, len(self._shape))
        dst = _unsqueezed(self._storage(), basic if Ellipsis in basic else basic + (Ellipsis,))
        check_repeats(dst)
        unshare(dst)
        if isinstance(value, Tensor):
            if advanced is not None:
                if _tensors_in(index) or type(index) is list:     # (not for a Python bool key)
                    _put_shape(value, shape)
                if _checks_overlap(index, value):
                    _same_put_dtype(self, value)
            if advanced is None and value._shape and value._shape != dst.shape:
                value = value.view(value._shape[_leading_ones(value._shape):]).expand(dst.shape)   # (its errors)
            if advanced is not None and _checks_overlap(index, value):
                for t in (value,) + _tensors_in(index):
                    if t._v is not None:
                        assert_no_overlap(dst, t._v)
            elif advanced is None and value._v is not None and (value._shape or not dst.ndim):
                check_overlap(dst, value._v)        # (PyTorch fills with a 0-d value: no check then)
        v = value._value() if isinstance(value, Tensor) else value
        if advanced is None:
            (dst if self._vb is None else writable(dst, self._vb._storage()))[...] = v
        else:
            try:
                dst[advanced] = v       # (a view of the storage: this writes through)
            except ValueError:
                raise RuntimeError(f"shape mismatch: value tensor of shape {list(np.shape(v))} cannot be broadcast "
                                   f"to indexing result of shape {list(dst[advanced].shape)}") from None
        self._bump()
        self._unrecorded()
        return
    if not isinstance(value, Tensor):
        value = plain(np.asarray(value, self._dtype.np), self._dtype)       # (a number: a 0-d tensor)
    basic, advanced = _split(idx, len(self._shape))
    if advanced is not None:
        shape = _index_values(np.empty(self._shape, np.bool_), idx).shape     # (all errors before the view)
        if _tensors_in(index) or type(index) is list:     # (not for a Python bool key)
            _put_shape(value, shape)
        if _checks_overlap(index, value):
            _same_put_dtype(self, value)
        elif value._dtype is not self._dtype:
            value = value.to(self._dtype)       # (PyTorch's masked_fill_ reads the value as a number)
    # PyTorch's set_item: the basic index as a view (none when it takes every element), then a copy into
    # it, or ``index_put_`` on it for the index tensors.
    sliced = self if _whole(basic, self._shape) else self[basic]
    if advanced is None:
        _copy_to(sliced, value)
        return
    ones = _leading_ones(value._shape)
    if ones:
        value = value.view(value._shape[ones:])
    if _checks_overlap(index, value):
        sliced._check_inplace(value)
        _no_overlap(sliced, value, *_tensors_in(index))
    else:
        sliced._check_inplace()     # (as masked_fill_, which PyTorch gives the value as a number)
    sliced._inplace(_put_at(sliced, advanced, value, held=_tensors_in(index)))


def _whole(basic: tuple, shape: tuple) -> bool:
    """Whether PyTorch's slicing with the basic index ``basic`` gives the tensor itself: slices from 0
    (as written: ``-n:`` is a slice) to at least the end with step 1, and ``...``."""
    items = list(basic)
    if not all(it is Ellipsis or isinstance(it, slice) for it in items):
        return False
    if len(items) - (Ellipsis in items) > len(shape):
        return False            # (too many indices: the view raises PyTorch's error)
    dims = list(range(len(items)))
    if Ellipsis in items:
        k = items.index(Ellipsis)
        del items[k]
        dims = list(range(k)) + list(range(len(shape) - (len(items) - k), len(shape)))
    return all(it.start in (None, 0) and it.step in (None, 1) and (it.stop is None or it.stop >= shape[d])
               for it, d in zip(items, dims))


def _leading_ones(shape: tuple) -> int:
    """How many leading dims of size 1 PyTorch drops from an assigned value (``slicePrefix1sDims``)."""
    k = 0
    while k < len(shape) and shape[k] == 1:
        k += 1
    return k


def _copy_to(dst: Tensor, value: Tensor) -> None:
    """PyTorch's ``copy_to`` of item assignment: ``copy_`` of a value of the same shape, ``fill_``
    of a 0-d one, else of the value without its leading ones, expanded."""
    if dst._shape == value._shape:
        dst.copy_(value)
    elif not value._shape:
        dst.fill_(value)
    else:
        value = value.view(value._shape[_leading_ones(value._shape):])
        dst.copy_(value if value._shape == dst._shape else value.expand(dst._shape))


def _last_view(index, idx: tuple, shape: tuple) -> int:
    """The view PyTorch applies last for a basic index, which names its node: a select for an
    int, an unsqueeze for None, a slice for a slice that is not the whole dim (PyTorch skips
    those, unless the index is one slice), an alias when there is none."""
    if isinstance(index, slice):
        return BY_SLICE
    consuming = sum(1 for it in idx if it is not None and it is not Ellipsis)
    kind = BY_ALIAS
    d = 0
    for it in idx:
        if it is None:
            kind = BY_UNSQUEEZE
            continue
        if it is Ellipsis:
            d += len(shape) - consuming
            continue
        if isinstance(it, slice):
            size = shape[d] if d < len(shape) else 1
            if it.indices(size) != (0, size, 1):
                kind = BY_SLICE
        else:
            kind = BY_SELECT
        d += 1
    return kind


def _as_tuple(index) -> tuple:
    """The index as a tuple: a list holding sequences, slices, None, ``...`` or tensors is read as
    a tuple of indices, as PyTorch still does (with a deprecation warning)."""
    if isinstance(index, tuple):
        return index
    if isinstance(index, list) and any(isinstance(it, (list, tuple, range, slice, Tensor, np.ndarray))
                                       or it is None or it is Ellipsis for it in index):
        warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated and will be changed "
                      "in pytorch 2.9; use x[tuple(seq)] instead of x[seq]. In pytorch 2.9 this will be interpreted "
                      "as tensor index, x[torch.tensor(seq)], which will result either in an error or a different "
                      "result", UserWarning, stacklevel=3)
        return tuple(index)
    return (index,)


def _np_index(index) -> tuple:
    """The numpy form of an index, and which PyTorch node kind it records."""
    out = []
    kind = BY_SLICE
    for it in _as_tuple(index):
        if isinstance(it, Tensor):
            if it._dtype.is_floating_point:
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            it = it._value()
            if it.dtype == np.uint8:
                it = it.astype(np.bool_)        # a byte tensor is a mask (deprecated in PyTorch)
            if it.ndim == 0 and it.dtype != np.bool_:
                it = int(it)
                kind = max(kind, BY_SELECT) if kind != BY_INDEX else kind
                out.append(it)
                continue
            kind = BY_INDEX
        elif isinstance(it, (list, range, np.ndarray)):
            it = np.asarray(it)
            if it.size == 0 and it.dtype.kind == "f":
                it = it.astype(np.int64)        # ``x[[]]``: an empty index list
            if it.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            kind = BY_INDEX
        elif isinstance(it, (bool, np.bool_)):
            kind = BY_INDEX
        elif isinstance(it, (int, np.integer)):
            if kind != BY_INDEX:
                kind = BY_SELECT
        elif not (it is None or it is Ellipsis or isinstance(it, slice)):
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                             "Variables are valid indices (got " + type(it).__name__ + ")")
        elif isinstance(it, slice) and it.step is not None and it.step <= 0:
            raise ValueError("slice step cannot be zero" if it.step == 0 else "step must be greater than zero")
        out.append(it)
    return tuple(out), kind


def _split(idx: tuple, ndim: int) -> tuple:
    """PyTorch's order of indexing: integers, slices and None first (a basic index, a view), then
    the index arrays on the result, where numpy's placement rule (adjacent arrays stay in place,
    separated ones go first) is PyTorch's.  Returns (basic, advanced or None)."""
    if not any(isinstance(it, (np.ndarray, bool, np.bool_)) for it in idx):
        return idx, None
    width = [it.ndim if isinstance(it, np.ndarray) and it.dtype == np.bool_ else
             0 if it is None or it is Ellipsis or isinstance(it, (bool, np.bool_)) else 1 for it in idx]
    basic, advanced = [], []
    for it, w in zip(idx, width):
        if it is Ellipsis:
            fill = ndim - sum(width)
            basic.append(Ellipsis)
            advanced.extend([slice(None)] * fill)
        elif isinstance(it, (np.ndarray, bool, np.bool_)):
            if isinstance(it, np.ndarray) and it.dtype != np.bool_:
                basic.append(slice(None))
                advanced.append(it)
            elif isinstance(it, np.ndarray):
                basic.extend([slice(None)] * w)
                advanced.append(it)
            else:
                basic.append(None)          # a bool scalar: a new dim of size 1, masked
                advanced.append(np.array([bool(it)]))
        elif it is None or isinstance(it, slice):
            basic.append(it)
            advanced.append(slice(None))
        else:
            basic.append(it)                # an int: its dim is gone
    if Ellipsis not in basic:
        advanced.extend([slice(None)] * (ndim - sum(width)))
    return tuple(basic), tuple(advanced)


def _index_values(arr: np.ndarray, idx: tuple):
    """``arr[idx]`` in PyTorch's order (``_split``), with numpy's index errors reworded as PyTorch's."""
    basic, advanced = _split(idx, arr.ndim)
    out = _numpy_index(arr, basic)
    if advanced is None:
        return out
    d = tensors = 0
    for it in advanced:
        if isinstance(it, np.ndarray) and it.dtype == np.bool_:
            if d + it.ndim > out.ndim:
                break
            if it.shape != out.shape[d:d + it.ndim]:
                raise IndexError(f"The shape of the mask {list(it.shape)} at index {tensors} does not match the "
                                 f"shape of the indexed tensor {list(out.shape)} at index {d}")
        if isinstance(it, np.ndarray):
            tensors += 1
            d += it.ndim if it.dtype == np.bool_ else 1
        else:
            d += 1
    return _numpy_index(out, advanced)


def _numpy_index(arr: np.ndarray, idx: tuple):
    try:
        return arr[idx]
    except IndexError as e:
        msg = str(e)
        if "out of bounds" in msg:
            raise IndexError(_out_of_bounds_message(msg, arr.ndim, idx)) from None
        if "too many indices" in msg:
            raise IndexError(f"too many indices for tensor of dimension {arr.ndim}") from None
        raise IndexError(msg) from None


def _out_of_bounds_message(msg: str, ndim: int, idx: tuple) -> str:
    """PyTorch's wording of numpy's "index i is out of bounds for axis k with size n".

    An integer selects its dim first in PyTorch, which names its place in the index; an index tensor is
    reported by its position among the index tensors instead, and not at all for an empty dim.
    """
    head, _, tail = msg.partition(" for axis ")
    axis_text, _, size = tail.partition(" with size ")
    if not axis_text.isdigit():
        return msg.replace("axis", "dimension")
    axis = int(axis_text)
    taken = sum(1 if not isinstance(it, np.ndarray) or it.dtype != np.bool_ else it.ndim
                for it in idx if it is not None and it is not Ellipsis)
    d = tensors = 0
    for k, it in enumerate(idx):
        if it is None:
            continue
        if it is Ellipsis:
            d += ndim - taken
            continue
        width = it.ndim if isinstance(it, np.ndarray) and it.dtype == np.bool_ else 1
        if d == axis and isinstance(it, (int, np.integer)):
            # (PyTorch names an integer's place in the index, None and Ellipsis counted: ``x[..., 5]``)
            return f"{head} for dimension {k} with size {size}"
        if isinstance(it, np.ndarray) and d <= axis < d + width:
            if size == "0":
                return "index is out of bounds for dimension with size 0"
            return f"{head} for dimension {tensors + axis - d} with size {size}"
        if isinstance(it, np.ndarray):
            tensors += width
        d += width
    return f"{head} for dimension {axis} with size {size}"


# --- gathers: index_select, gather, take, take_along_dim, masked_select -------------------
def _index_arg(index, name: str, arg: str = "index", position: int = 2) -> Tensor:
    if not isinstance(index, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be Tensor, not "
                        f"{type(index).__name__}")
    return index


def _grid(shape: tuple) -> np.ndarray:
    """The flat position of each element of a tensor of ``shape``, shaped like it."""
    return np.arange(math.prod(shape), dtype=np.int64).reshape(shape)


def _positions_along(shape: tuple, dim: int, index: np.ndarray) -> np.ndarray:
    """Flat positions in a tensor of ``shape`` of the elements that ``index`` (of the same number
    of dims) picks along ``dim``, the other coordinates being the index's own (gather's rule)."""
    if not shape or not index.size:
        return np.zeros(index.shape, np.int64)
    if not index.ndim:      # (a 0-d index counts as 1-d, as a 0-d tensor does in PyTorch's checks)
        return _positions_along(shape, dim, index.reshape((1,) * len(shape))).reshape(())
    coords = list(np.indices(index.shape, sparse=True))
    coords[dim] = index
    return np.ravel_multi_index(tuple(coords), shape).astype(np.int64, copy=False)


@public("index_select")
def index_select(self, dim: int, index: Tensor) -> Tensor:
    """The entries of ``self`` along ``dim`` at the positions in ``index`` (a 1-D or 0-d int64 or
    int32 tensor), in that order; the result has ``len(index)`` entries along ``dim``."""
    index = _index_arg(index, "index_select")
    if index._dtype not in (D.int64, D.int32):
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    if len(index._shape) > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    nd = len(self._shape)
    saved = (("dim", shown(dim)), ("index", index), ("self_sym_sizes", self._shape))
    dim = wrap_dim(dim, nd)
    idx = index._value().reshape(-1).astype(np.int64)
    if not nd:
        if idx.size != 1:
            raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got {idx.size} value(s)")
        if idx[0] != 0:
            raise IndexError("index out of range in self")
        return _take_positions(self, np.zeros((), np.int64), BY_INDEX_SELECT, saved, index)
    size = self._shape[dim]
    bad = (idx < 0) | (idx >= size)
    if nd > 1 and idx.size and not math.prod(self._shape):    # (PyTorch's own checks of an empty self)
        if not size:
            raise RuntimeError("index_select(): self indexing axis dim should be positive")
        if bad.any():
            raise RuntimeError(f"INDICES element is out of DATA bounds, id={idx[bad][0]} axis_dim={size}")
    if bad.any():
        # (PyTorch's CPU kernel checks dim 1 of a matrix or more in a loop of its own, with its own message)
        if dim == 1 and nd > 1:
            raise RuntimeError(f"INDICES element is out of DATA bounds, id={idx[bad][0]} axis_dim={size}")
        raise IndexError("index out of range in self")
    return _take_positions(self, np.take(_grid(self._shape), idx, axis=dim), BY_INDEX_SELECT, saved, index)


def _gather_checks(x: Tensor, dim: int, index: Tensor, name: str, src=None) -> tuple:
    """Wrapped ``dim`` and the index values of gather or a scatter, with PyTorch's errors."""
    dim = _gather_shapes(x, dim, index, name, src)
    return dim, _along_values(x, dim, index)


def _gather_shapes(x: Tensor, dim: int, index: Tensor, name: str, src=None) -> int:
    """Wrapped ``dim`` of gather or a scatter, with PyTorch's errors for the shapes."""
    nd = max(len(x._shape), 1)
    dim = wrap_dim(dim, len(x._shape))
    # (an empty index is not checked: PyTorch's gather and scatters do nothing with it)
    if max(len(index._shape), 1) != nd and index.numel():
        raise RuntimeError(f"Index tensor must have the same number of dimensions as "
                           f"{'input' if name == 'gather' else 'self'} tensor")
    ishape = index._shape or (1,)
    xshape = x._shape or (1,)
    if index.numel():
        if src is None:
            for d in range(nd):
                if d != dim and ishape[d] > xshape[d]:
                    raise RuntimeError(f"Size does not match at dimension {d} expected index {list(index._shape)} "
                                       f"to be no larger than self {list(x._shape)} apart from dimension {dim}")
        else:
            sshape = src._shape or (1,) * nd
            wrong = any(d != dim and ishape[d] > xshape[d] for d in range(nd))
            for d in range(nd if not wrong else 0):
                if d >= len(sshape):    # (PyTorch reads src.size(d) of a src of fewer dims)
                    raise IndexError(f"Dimension out of range (expected to be in range of [{-len(sshape)}, "
                                     f"{len(sshape) - 1}], but got {d})")
                if ishape[d] > sshape[d]:
                    wrong = True
                    break
            if max(len(src._shape), 1) != nd:
                raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
            if wrong:
                raise RuntimeError(f"Expected index {list(index._shape)} to be no larger than self "
                                   f"{list(x._shape)} apart from dimension {dim} and to be no larger size than "
                                   f"src {list(src._shape)}")
    return dim


def _along_values(x: Tensor, dim: int, index: Tensor) -> np.ndarray:
    """The index values of gather or a scatter along ``dim`` of ``x`` as int64, with PyTorch's error
    for one out of bounds."""
    idx = index._value().astype(np.int64)
    size = (x._shape or (1,))[dim]
    bad = (idx < 0) | (idx >= size)
    if bad.any():
        raise RuntimeError(f"index {_first_bad(idx, bad, dim)} is out of bounds for dimension {dim} with size {size}")
    return idx


def _first_bad(idx: np.ndarray, bad: np.ndarray, dim: int) -> int:
    """The bad index PyTorch's gather/scatter kernel meets first: unless ``dim`` is the last dim, its loop runs
    along ``dim`` outside its run over the innermost (coalesced) other dims of size > 1, the dims after ``dim``
    or, without any, those before it."""
    nd = idx.ndim
    if nd <= 1 or dim == nd - 1:
        return int(idx[bad][0])
    after = [d for d in range(dim + 1, nd) if idx.shape[d] > 1]
    before = [d for d in range(dim) if idx.shape[d] > 1]
    inner, outer = (after, before) if after else (before, [])
    perm = outer + [dim] + inner
    perm += [d for d in range(nd) if d not in perm]
    return int(np.transpose(idx, perm)[np.transpose(bad, perm)][0])


@public("gather")
def gather(self, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """``out[i][j][k] = self[index[i][j][k]][j][k]`` (for ``dim`` 0): the entries along ``dim`` at
    the positions in ``index`` (an int64 tensor with as many dims as ``self``)."""
    index = _index_arg(index, "gather")
    wrap_dim(dim, len(self._shape))     # (PyTorch's order: the dim, then the index's dtype)
    if index._dtype not in (D.int64, D.int32) and index.numel():     # (PyTorch's: an empty index of any dtype)
        raise RuntimeError("gather(): Expected dtype int32/int64 for index")
    saved = (("dim", shown(dim)), ("index", index), ("self", SAVED_SELF), ("sparse_grad", bool(sparse_grad)))
    dim = _gather_shapes(self, dim, index, "gather")
    v = index._value()
    if v.dtype == np.int64 and v.ndim == len(self._shape) > 0 and v.flags.c_contiguous:
        # (one compiled call where the checks and positions take some ten numpy calls; a value
        # out of bounds is left to those, for the error)
        positions, bad = positions_along(v.reshape(-1), np.array(v.shape + self._shape, np.int64), dim)
        if bad < 0:
            return _take_positions(self, positions.reshape(v.shape), BY_GATHER, saved, index)
    idx = _along_values(self, dim, index)
    return _take_positions(self, _positions_along(self._shape, dim, idx), BY_GATHER, saved, index)


@public("take")
def take(self, index: Tensor) -> Tensor:
    """The elements of ``self`` at flat positions ``index`` (as if ``self`` were 1-D), shaped
    like ``index``; negative positions count from the end."""
    index = _index_arg(index, "take", position=1)
    if index._dtype is not D.int64:
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {D.legacy_name(index._dtype)}")
    return _take_positions(self, _flat_positions(self, index), BY_TAKE, (("index", index), ("self", SAVED_SELF)),
                           index)


def _flat_positions(x: Tensor, index: Tensor, empty: str = "take(): tried to take from an empty tensor") -> np.ndarray:
    """``index`` as flat positions into ``x`` (negative ones from the end), with take's errors (``empty``:
    PyTorch's for any position into an empty tensor)."""
    n = x.numel()
    idx = index._value().astype(np.int64)
    if n == 0 and idx.size:
        raise IndexError(empty)
    bad = (idx < -n) | (idx >= n)
    if bad.any():
        raise IndexError(f"out of range: tried to access index {idx[bad][0]} on a tensor of {n} elements.")
    return np.where(idx < 0, idx + n, idx)


@public("take_along_dim")
def take_along_dim(self, indices: Tensor, dim: Optional[int] = None) -> Tensor:
    """The entries of ``self`` at ``indices`` along ``dim`` (``self`` and ``indices`` broadcast
    against each other apart from ``dim``), or at flat positions when ``dim`` is None."""
    indices = _index_arg(indices, "take_along_dim", "indices", 1)
    if indices._dtype is not D.int64:
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{D.legacy_name(indices._dtype)}")
    if dim is None:
        return self.reshape(-1).gather(0, indices.reshape(-1))
    nd = len(self._shape)
    if nd != len(indices._shape):       # (before the dim's range)
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of dimensions, "
                           f"but got {nd} dimensions for input, and {len(indices._shape)} dimensions for indices")
    dim = wrap_dim(dim, nd)
    if not nd:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    size = self._shape[dim]
    if not size:
        raise RuntimeError("ZeroDivisionError")
    # (PyTorch's take_along_dim takes indices modulo the size along dim: -1 is the last, size the first)
    indices = plain(np.mod(indices._value(), size), D.int64)
    sizes = list(self._shape)
    sizes[dim] = indices._shape[dim]
    shape = broadcast_pair(tuple(sizes), indices._shape)
    wide = list(shape)
    wide[dim] = self._shape[dim]
    return self.expand(*wide).gather(dim, indices.expand(*shape))


def _mask_arg(mask, name: str) -> Tensor:
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name}(): argument 'mask' (position 1) must be Tensor, not {type(mask).__name__}")
    return mask


@public("masked_select")
def masked_select(self, mask: Tensor) -> Tensor:
    """The elements of ``self`` where the boolean ``mask`` is True (both broadcast), as a 1-D tensor."""
    mask = _mask_arg(mask, "masked_select")
    if mask._dtype is not D.bool_:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    shape = broadcast_pair(mask._shape, self._shape)
    where = np.broadcast_to(mask._value(), shape)
    return _take_positions(self, np.broadcast_to(_grid(self._shape), shape)[where], BY_MASKED_SELECT,
                           (("mask", mask), ("self", SAVED_SELF)), mask)


def _take_positions(x: Tensor, positions: np.ndarray, kind: int, saved: tuple, held: Tensor) -> Tensor:
    """The elements of ``x`` at flat ``positions`` (shaped like the result), recorded as an
    INDEX row whose node is named after ``kind`` and shows ``saved``; ``held``: the index
    tensor PyTorch's node saves."""
    out = x._gather(np.array(positions, np.int64, order="C"), kind, held)
    return saves(out, saved) if x._rg and state.grad else out


# --- fills and scatters: one PUT row ---------------------------------------------------------
# y = x, with the elements at ``drop`` set to the number ``fb`` (masked_fill, index_fill) or, for
# each pair k, z[src[k]] * fa written (or added, ``accumulate``) at y[dst[k]] (scatter, index_copy,
# index_put, masked_scatter, put, scatter_add, index_add).  Its gradients are index lists again:
# dx is dy with zeros at ``drop``, dz sums dy[dst] * fa into z's elements at ``src``, so its rule
# is a PUT row and an INDEX/SCATTER pair, and every order follows.
(P_MASKED_FILL, P_MASKED_FILL_TENSOR, P_INDEX_FILL, P_INDEX_FILL_TENSOR, P_SCATTER, P_SCATTER_VALUE,
 P_SCATTER_ADD, P_INDEX_ADD, P_INDEX_COPY, P_INDEX_PUT, P_MASKED_SCATTER, P_PUT, P_COPY_SLICES) = range(13)
PUT_NAMES = ("MaskedFillBackward0", "MaskedFillBackward1", "IndexFillBackward0", "IndexFillBackward1",
             "ScatterBackward0", "ScatterBackward1", "ScatterAddBackward0", "IndexAddBackward0",
             "IndexCopyBackward0", "IndexPutBackward0", "MaskedScatterBackward0", "PutBackward0",
             "CopySlices")     # (an in-place change through a view: ``ops/views.py``)


def _lists(r) -> tuple:
    """A PUT row's index lists (``drop``, ``dst``, ``src``), stored at offset ``ia`` of ``ix``."""
    ix = r.tape.ix
    o = r.ia
    nd, npair = int(ix[o]), int(ix[o + 1])
    o += 2
    return ix[o:o + nd], ix[o + nd:o + nd + npair], ix[o + nd + npair:o + nd + 2 * npair]


def _add_into(dst: np.ndarray, value: np.ndarray, fresh: bool) -> None:
    if fresh:
        dst[...] = value
    else:
        dst += value


def _put_adjoint(r, va, vb, gy, ga, gb, fresh):
    """Add a PUT row's gradients into ``ga`` (dy, zeros at ``drop``) and ``gb`` (dy at ``dst``,
    times ``fa``, summed into ``src``)."""
    drop, dst, src = _lists(r)
    if r.ib == P_COPY_SLICES:
        _check_distinct(drop)
    if ga is not None:
        g = gy.copy()
        g.reshape(-1)[drop] = 0
        if g.size != ga.size:       # (the input was broadcast along leading dims: a mask bigger than it)
            g = g.reshape(-1, ga.size).sum(axis=0)
        _add_into(ga, g.reshape(ga.shape), fresh & 1)
    if gb is not None:
        acc = np.zeros(gb.size, gb.dtype)
        np.add.at(acc, src, gy.reshape(-1)[dst])
        if r.fa != 1.0:
            acc *= gb.dtype.type(r.fa)
        _add_into(gb, acc.reshape(gb.shape), fresh & 2)


def _check_distinct(positions: np.ndarray) -> None:
    """PyTorch's CopySlices refuses to run for a view whose elements share memory (an expanded
    tensor filled in place): its backward writes the gradient through that view."""
    if positions.size > 1 and np.unique(positions).size != positions.size:
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a "
                           "single memory location. Please clone() the tensor before performing the operation.")


def _put_vjp(g, xs, y, r):
    drop, dst, src = _lists(r)
    if r.ib == P_COPY_SLICES:
        _check_distinct(drop)
    gx = _zeroed(g, drop) if len(drop) else g
    if len(xs) == 1 or r.code == PUT_HELD:
        return (gx,)
    if r.code == PUT_SRC_HELD and gx._shape != r.in_shapes[0]:
        gx = gx._sum_to(r.in_shapes[0])     # (the input broadcast along leading dims: a listed row's own sum)
    shape = r.in_shapes[1]
    gz = g._gather(dst, BY_INDEX)
    if r.fa != 1.0:
        gz = gz * r.fa
    if len(src) == math.prod(shape) and (src == np.arange(len(src))).all():
        gz = gz.reshape(shape)
    else:
        gz = gz._scatter(src, shape)
    return (gx, gz) if r.code == PUT else (gx, gz, None)


register(Op(PUT, "_put", "MaskedFillBackward0", NUMBER, _put_vjp, grad_fn_of=lambda r: PUT_NAMES[r.ib],
            py_adjoint=_put_adjoint, arity=2, folded_of=lambda r: 1 if r.ib == P_COPY_SLICES and r.fb else -1))
# A fill with no source tensor holds the mask or index tensor PyTorch's node saves as its second input
# (never shown, no gradient): changed in place, it makes backward fail.
register(Op(PUT_HELD, "_put", "MaskedFillBackward0", NUMBER | X1, _put_vjp, grad_fn_of=lambda r: PUT_NAMES[r.ib],
            py_adjoint=_put_adjoint, arity=2, nondiff=(1,)))
# A scatter from a source tensor holds the index or mask tensor PyTorch's node saves as a third input
# (listed: its vjp runs on plain tensors in a plain backward too).
register(Op(PUT_SRC_HELD, "_put", "ScatterBackward0", NUMBER | X2 | X_REST, _put_vjp,
            grad_fn_of=lambda r: PUT_NAMES[r.ib], arity=LISTED, nondiff=_HELD_FROM_2))
tangents({PUT: TRANSPOSED, PUT_HELD: TRANSPOSED, PUT_SRC_HELD: TRANSPOSED})     # (their adjoint rule, transposed)


def _zeroed(g: Tensor, drop: np.ndarray) -> Tensor:
    """``g`` with zeros at flat positions ``drop`` (the gradient of a fill or an overwrite)."""
    y = g._value().copy()
    y.reshape(-1)[drop] = 0
    return _put_row(g, y, g._dtype, drop, None, P_MASKED_FILL)


def _put_row(x: Tensor, value: np.ndarray, dt, drop: np.ndarray, z: Optional[Tensor], kind: int,
             dst: Optional[np.ndarray] = None, src: Optional[np.ndarray] = None, alpha: float = 1.0,
             fill: float = 0.0, held: Union[Tensor, tuple, None] = None) -> Tensor:
    """The result ``value`` (computed by the caller) of a fill or scatter of ``x``, recorded as a
    PUT row when ``x`` or the source ``z`` requires grad and grad mode is on; ``held``: the mask or
    index tensor PyTorch's node saves (a PUT_HELD row's second input, a PUT_SRC_HELD row's third), or
    with a source, a tuple of index tensors (a PUT_SRC_HELD row's inputs from the third on)."""
    if not (state.grad and (x._rg or (z is not None and z._rg))) or dt.arena is None:
        return plain(value, dt)
    empty = np.zeros(0, np.int64)
    dst = empty if dst is None else dst.reshape(-1)
    src = empty if src is None else src.reshape(-1)
    drop = drop.reshape(-1)
    tape = write_tape()
    nx = node_in(tape, x, dt, value.shape)
    code = PUT if held is None else PUT_HELD if z is None else PUT_SRC_HELD
    nz = node_in(tape, z, dt, z._shape) if z is not None else node_in(tape, held, dt, held._shape) \
        if code == PUT_HELD else -1
    lists = np.concatenate((np.array([drop.size, dst.size], np.int64), drop, dst, src)).astype(np.int64)
    if code == PUT_SRC_HELD:
        held = held if isinstance(held, tuple) else (held,)
        node = tape.append_listed(code, dt.arena, value, [nx, nz] + [node_in(tape, h, dt, h._shape) for h in held],
                                  ia=tape.index_list(lists), ib=kind, fa=alpha, fb=fill)
    else:
        node = tape.append(code, dt.arena, value, nx, nz, ia=tape.index_list(lists), ib=kind, fa=alpha, fb=fill)
    return recorded(tape, node, value, dt)


_C_NAMES = {"uint8": "unsigned char", "int8": "signed char", "int16": "short int", "int32": "int",
            "int64": "long int", "float16": "c10::Half", "float32": "float", "float64": "double"}


def _fill_value(value, name: str) -> tuple:
    """A fill value: (number or None, 0-d tensor or None), with PyTorch's errors."""
    if isinstance(value, Tensor):
        if value._shape:
            raise RuntimeError(f"{name} only supports a 0-dimensional value tensor, but got tensor with "
                               f"{len(value._shape)} dimension(s).")
        return None, value
    if isinstance(value, (bool, int, float, np.number)):
        return value, None
    raise TypeError(f"{name.rstrip('_')}(): argument 'value' must be Number or Tensor, not {type(value).__name__}")


def _fill(x: Tensor, shape: tuple, where: np.ndarray, value, name: str, kinds: tuple, held: Tensor) -> Tensor:
    """``x`` broadcast to ``shape`` with ``value`` (a number or a 0-d tensor) at flat positions
    ``where`` (given by the mask or index tensor ``held``)."""
    number, tensor = _fill_value(value, name)
    dt = x._dtype
    y = np.array(np.broadcast_to(x._value(), shape), dt.np, order="C")
    if tensor is None:
        y.reshape(-1)[where] = number
        return _put_row(x, y, dt, where, None, kinds[0], fill=float(number), held=held)
    y.reshape(-1)[where] = tensor._value()
    return _put_row(x, y, dt, where, tensor, kinds[1], dst=where, src=np.zeros(where.size, np.int64), held=held)


@public("masked_fill", error_forms=Forms("masked_fill", "(Tensor input, Tensor mask, Tensor value)",
                                         "(Tensor input, Tensor mask, Number value)"))
def masked_fill(self, mask: Tensor, value: Union[Number, Tensor]) -> Tensor:
    """``self`` with ``value`` (a number or a 0-d tensor) where the boolean ``mask`` is True
    (broadcast against ``self``)."""
    mask = _mask_arg(mask, "masked_fill")
    if mask._dtype is not D.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{_C_NAMES[mask._dtype.name]}")
    shape = broadcast_pair(mask._shape, self._shape)       # (PyTorch's message names the mask first)
    where = np.flatnonzero(np.broadcast_to(mask._value(), shape)).astype(np.int64)
    return _shows(_fill(self, shape, where, value, "masked_fill_", (P_MASKED_FILL, P_MASKED_FILL_TENSOR), mask),
                  (("mask", mask),))


@public("masked_fill_", function=False)
def masked_fill_(self, mask: Tensor, value: Union[Number, Tensor]) -> Tensor:
    """``masked_fill`` in place."""
    self._check_inplace()
    if isinstance(mask, Tensor):
        broadcast_pair(self._shape, mask._shape)        # (in place, PyTorch's message names the tensor first)
    return self._inplace(self.masked_fill(mask, value))


_SHOWING = (PUT, PUT_HELD, PUT_SRC_HELD, REDUCED, REDUCED_HELD)


def _shows(out: Tensor, saved: tuple) -> Tensor:
    """``out``, with ``saved`` as what its node shows when it is the fill or scatter row just
    recorded (``tape/_saved.py``)."""
    tape = out._tape
    if tape is not None and out._node == tape.n - 1 and tape.op[out._node] in _SHOWING:
        tape.args[out._node] = saved
    return out


_SOURCE = Given(X1)     # (the source of a scatter: its row's second input)


def _same_dtype(x: Tensor, z: Tensor, message: str) -> None:
    if x._dtype is not z._dtype:
        raise RuntimeError(message.format(a=D.legacy_name(x._dtype), b=D.legacy_name(z._dtype)))


def _written(x: Tensor, z: Tensor, dst: np.ndarray, src: np.ndarray, kind: int, accumulate: bool,
             alpha: Number = 1, shape: Optional[tuple] = None,
             held: Union[Tensor, tuple, None] = None) -> Tensor:
    """``x`` (broadcast to ``shape``) with ``z``'s elements at flat positions ``src`` written (or,
    ``accumulate``, added times ``alpha``) at flat positions ``dst``: the scatters, as one PUT row
    (``held``: the index or mask tensor PyTorch's node saves, or a tuple of index tensors)."""
    dt = x._dtype
    dst = dst.reshape(-1)
    src = src.reshape(-1)
    y = np.array(np.broadcast_to(x._value(), x._shape if shape is None else shape), dt.np, order="C")
    vals = z._value().reshape(-1)[src]
    if alpha != 1:
        vals = (vals * alpha).astype(dt.np)
    if accumulate:
        np.add.at(y.reshape(-1), dst, vals)
    else:
        y.reshape(-1)[dst] = vals
    drop = np.zeros(0, np.int64) if accumulate else dst
    return _put_row(x, y, dt, drop, z, kind, dst=dst, src=src, alpha=float(alpha), held=held)


def _scatter_positions(x: Tensor, dim: int, idx: np.ndarray, src: Optional[Tensor]) -> tuple:
    """(positions in ``x``, positions in ``src``) of the elements a scatter along ``dim`` moves."""
    dst = _positions_along(x._shape, dim, idx.reshape(idx.shape or (1,)))
    if src is None:
        return dst, None
    if not idx.size:
        return dst, np.zeros(idx.shape, np.int64)       # (an empty index of any rank moves nothing)
    sshape = src._shape or (1,)
    coords = np.indices(idx.shape or (1,), sparse=True)
    return dst, np.ravel_multi_index(tuple(coords), sshape).astype(np.int64)


def _scatter_index(x: Tensor, dim: int, index, src, name: str, reduce_check: Optional[Callable] = None) -> tuple:
    """Wrapped ``dim`` and the index values of a scatter, with PyTorch's errors in its order (``reduce_check``:
    the reduction's, after the shapes' and before the bounds')."""
    index = _index_arg(index, name)
    wrap_dim(dim, len(x._shape))        # (PyTorch's order: the dim, then the dtypes; all scatters say "scatter()")
    if index._dtype not in (D.int64, D.int32) and index.numel():     # (PyTorch's: an empty index of any dtype)
        raise RuntimeError("scatter(): Expected dtype int32/int64 for index")
    if isinstance(src, Tensor):
        _same_dtype(x, src, "scatter(): Expected self.dtype to be equal to src.dtype")
    dim = _gather_shapes(x, dim, index, name, src if isinstance(src, Tensor) else None)
    if reduce_check is not None:
        reduce_check()
    return dim, _along_values(x, dim, index)


_SCATTER_REDUCE = {"add": np.add, "multiply": np.multiply}


@public("scatter", error_forms=Forms("scatter", *(f"(Tensor input, int dim, Tensor index, {v}, *, {r}Tensor out = None)"
                                          for v in ("Tensor src", "Number value") for r in ("", "str reduce, "))),
        method_forms=Forms("scatter", *(f"(int dim, Tensor index, {v}{r})" for v in ("Tensor src", "Number value")
                                        for r in ("", ", *, str reduce"))))
def scatter(self, dim: int, index: Tensor, src: Union[Tensor, Number, None] = None, *,
            value: Optional[Number] = None, reduce: Optional[str] = None) -> Tensor:
    """``self`` with the elements of ``src`` (or the number ``value``) written along ``dim`` at the
    positions in ``index``: ``out[index[i][j]][j] = src[i][j]`` for ``dim`` 0.  ``reduce`` ("add"
    or "multiply") combines them with ``self``'s elements instead (no gradient, as in PyTorch)."""
    return _scatter(self, dim, index, src, value, reduce, N_SCATTER)


def _scatter(self, dim, index, src, value, reduce, node: int) -> Tensor:
    if src is None:
        src = value
    def reduce_check():
        if reduce is not None and reduce not in _SCATTER_REDUCE:
            raise RuntimeError("reduce argument must be either add or multiply.")
    saved = (("dim", shown(dim)), ("index", index))
    dim, idx = _scatter_index(self, dim, index, src, "scatter", reduce_check)
    dst, spos = _scatter_positions(self, dim, idx, src if isinstance(src, Tensor) else None)
    if reduce is not None:
        y = np.array(self._value(), self._dtype.np, order="C")
        vals = src._value().reshape(-1)[spos.reshape(-1)] if isinstance(src, Tensor) else np.full(dst.size, src)
        _SCATTER_REDUCE[reduce].at(y.reshape(-1), dst.reshape(-1), vals.astype(y.dtype))
        # (PyTorch's node without a derivative: its backward raises)
        return _nodiff(y, node, self, src if isinstance(src, Tensor) else None)
    if isinstance(src, Tensor):
        return _shows(_written(self, src, dst, spos, P_SCATTER, False, held=index), saved)
    if not isinstance(src, (bool, int, float, np.number)):
        raise TypeError(f"scatter(): argument 'value' must be Number, not {type(src).__name__}")
    y = np.array(self._value(), self._dtype.np, order="C")
    y.reshape(-1)[dst.reshape(-1)] = src
    return _shows(_put_row(self, y, self._dtype, dst, None, P_SCATTER_VALUE, fill=float(src), held=index), saved)


@public("scatter_", function=False)
def scatter_(self, dim: int, index: Tensor, src: Union[Tensor, Number, None] = None, *,
             value: Optional[Number] = None, reduce: Optional[str] = None) -> Tensor:
    """``scatter`` in place."""
    self._check_inplace(src)
    _no_overlap(self, src, index)
    return self._inplace(_scatter(self, dim, index, src, value, reduce, N_SCATTER_))


@public("scatter_add")
def scatter_add(self, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """``self`` with the elements of ``src`` added along ``dim`` at the positions in ``index``
    (repeated positions add up)."""
    src = _index_arg(src, "scatter_add", "src", 3)
    saved = (("dim", shown(dim)), ("index", index))
    dim, idx = _scatter_index(self, dim, index, src, "scatter_add")
    dst, spos = _scatter_positions(self, dim, idx, src)
    # (PyTorch saves the index for the source's gradient only)
    return _shows(_written(self, src, dst, spos, P_SCATTER_ADD, True, held=index if src._rg else None), saved)


@public("scatter_add_", function=False)
def scatter_add_(self, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """``scatter_add`` in place."""
    self._check_inplace(src)
    _no_overlap(self, src, index)
    return self._inplace(self.scatter_add(dim, index, src))


def _vector_index(x: Tensor, dim: int, index, name: str, dtypes: tuple) -> tuple:
    """Wrapped ``dim`` and the values of a 1-D (or 0-d) index along it, before the bounds check."""
    index = _index_arg(index, name)
    if name != "index_fill":    # (index_fill checks the index's dtype first)
        wrap_dim(dim, len(x._shape))
    if index._dtype not in dtypes:
        if name in ("index_add", "index_reduce"):
            raise RuntimeError(f"{name}_(): Expected dtype int32/int64 for index but got: "
                               f"{D.legacy_name(index._dtype)}")
        if name == "index_fill":
            raise IndexError("index_fill_(): Expected dtype int64 for index.")
        raise RuntimeError(f"{name}_(): Expected a long tensor for index, but got {D.legacy_name(index._dtype)}")
    wrap_dim(dim, len(x._shape))
    if len(index._shape) > 1:
        if name in ("index_add", "index_reduce"):
            raise IndexError(f"{name}_(): Index is supposed to be a vector, but got dim: {len(index._shape)} "
                             f"with type: {D.legacy_name(index._dtype)} and size: {list(index._shape)}")
        if name == "index_fill":
            raise RuntimeError("Index has to be a vector/scalar")
        raise IndexError(f"index_copy_(): Index should have dimension 1 or 0 (got {len(index._shape)})")
    return wrap_dim(dim, len(x._shape)), index._value().reshape(-1).astype(np.int64)


def _index_source(x: Tensor, dim: int, idx: np.ndarray, source, name: str) -> np.ndarray:
    """Flat positions in ``x`` of the elements of ``source`` that index_add/index_copy move."""
    source = _index_arg(source, name, "source", 3)
    xs, ss = x._shape, source._shape
    if name in ("index_add", "index_reduce"):
        _same_dtype(x, source, name + "_(): self ({a}) and source ({b}) must have the same scalar type")
        n = ss[dim] if ss else 1
        if idx.size != n:
            if not ss:      # (PyTorch's message reads source.size(dim) of a 0-d source)
                raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
            raise RuntimeError(f"{name}_(): Number of indices ({idx.size}) should be equal to "
                               f"source.size(dim): ({n}), for dim: {dim}")
        if len(ss) != len(xs) or any(a != b for d, (a, b) in enumerate(zip(xs, ss)) if d != dim):
            if xs or ss:
                raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the specified "
                                   f"dimension. Got self.shape = {list(xs)} source.shape = {list(ss)}")
    else:
        _same_dtype(x, source, "index_copy_(): self and source expected to have the same dtype, but got "
                               "(self) {a} and (source) {b}")
        if xs and ss and len(ss) != len(xs):
            raise IndexError(f"index_copy_(): When source and destination are not scalars, their dimensionality "
                             f"must match. Source dimensionality ({len(ss)}), destination dimensionality ({len(xs)})")
        if xs and ss:
            for d in range(len(xs)):
                if d != dim and xs[d] != ss[d]:
                    raise RuntimeError(
                        f"index_copy_(): Source/destination tensor must have same slice shapes. Destination slice "
                        f"shape: {' '.join(str(s) for k, s in enumerate(xs) if k != dim)} at dimension {dim} and "
                        f"source slice shape: {' '.join(str(s) for k, s in enumerate(ss) if k != dim)} at "
                        f"dimension 0.")
        n = ss[dim] if ss else 1
        if idx.size != n:
            raise IndexError(f"index_copy_(): Number of indices ({idx.size}) should be equal to source.size(dim) "
                             f"({n})")
    size = xs[dim] if xs else 1
    bad = (idx < 0) | (idx >= size)
    if bad.any():
        if name == "index_reduce" or (name == "index_add" and len(xs) <= 1):
            # (PyTorch's index_add of a 0-d or 1-D tensor takes its index_reduce-like kernel's bounds check)
            raise IndexError("index out of range in self")
        prefix = "index_copy_(): " if name == "index_copy" else ""
        error = IndexError if name == "index_copy" else RuntimeError
        raise error(f"{prefix}index {idx[bad][0]} is out of bounds for dimension {dim} with size {size}")
    if not xs:
        return np.zeros(idx.size, np.int64)
    return np.take(_grid(xs), idx, axis=dim)


@public("index_add")
def index_add(self, dim: int, index: Tensor, source: Tensor, *, alpha: Number = 1) -> Tensor:
    """``self`` with ``alpha * source`` added along ``dim`` at the positions in ``index`` (the
    entry ``i`` of ``source`` along ``dim`` goes to ``index[i]``; repeated positions add up)."""
    saved = (("alpha", alpha), ("dim", shown(dim)), ("index", index), ("source", _SOURCE),
             ("source_dim", len(getattr(source, "_shape", ()))))
    dim, idx = _vector_index(self, dim, index, "index_add", (D.int64, D.int32))
    dst = _index_source(self, dim, idx, source, "index_add")
    # (PyTorch saves the index for the source's gradient only)
    return _shows(_written(self, source, dst, np.arange(dst.size, dtype=np.int64), P_INDEX_ADD, True, alpha,
                           held=index if source._rg else None), saved)


@public("index_add_", function=False)
def index_add_(self, dim: int, index: Tensor, source: Tensor, *, alpha: Number = 1) -> Tensor:
    """``index_add`` in place."""
    self._check_inplace(source)
    _no_overlap(self, source, index)
    return self._inplace(self.index_add(dim, index, source, alpha=alpha))


@public("index_copy")
def index_copy(self, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """``self`` with the entries of ``source`` along ``dim`` written at the positions in ``index``."""
    saved = (("dim", shown(dim)), ("index", index), ("source", _SOURCE),
             ("source_dim", len(getattr(source, "_shape", ()))))
    _index_copy_shapes(self, dim, index, source)
    dim, idx = _vector_index(self, dim, index, "index_copy", (D.int64,))
    dst = _index_source(self, dim, idx, source, "index_copy")
    return _shows(_written(self, source, dst, np.arange(dst.size, dtype=np.int64), P_INDEX_COPY, False,
                           held=index), saved)


def _index_copy_shapes(x: Tensor, dim: int, index, source) -> None:
    """index_copy's first checks, in PyTorch's order: before the dtypes, the index's rank and the source's."""
    index = _index_arg(index, "index_copy")
    source = _index_arg(source, "index_copy", "source", 3)
    wrap_dim(dim, len(x._shape))
    if len(index._shape) > 1:
        raise IndexError(f"index_copy_(): Index should have dimension 1 or 0 (got {len(index._shape)})")
    if not source._shape and index.numel() != 1:
        raise IndexError(f"index_copy_(): When source is scalar, index should have one element (got {index.numel()})")
    if x._shape and source._shape and len(source._shape) != len(x._shape):
        raise IndexError(f"index_copy_(): When source and destination are not scalars, their dimensionality "
                         f"must match. Source dimensionality ({len(source._shape)}), destination dimensionality "
                         f"({len(x._shape)})")


@public("index_copy_", function=False)
def index_copy_(self, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """``index_copy`` in place."""
    self._check_inplace(source)
    _no_overlap(self, source, index)
    return self._inplace(self.index_copy(dim, index, source))


@public("index_fill", error_forms=Forms("index_fill", "(Tensor input, int dim, Tensor index, Tensor value)",
                                            "(Tensor input, int dim, Tensor index, Number value)"),
        method_forms=Forms("index_fill", "(int dim, Tensor index, Tensor value)", "(int dim, Tensor index, Number value)"))
def index_fill(self, dim: int, index: Tensor, value: Union[Number, Tensor]) -> Tensor:
    """``self`` with ``value`` (a number or a 0-d tensor) at the positions in ``index`` along ``dim``
    (negative positions count from the end)."""
    saved = (("dim", shown(dim)), ("index", index))
    dim, idx = _vector_index(self, dim, index, "index_fill", (D.int64,))
    size = self._shape[dim] if self._shape else 1
    bad = (idx < -size) | (idx >= size)
    if bad.any():
        raise IndexError(f"index {idx[bad][0]} is out of bounds for dimension {dim} with size {size}")
    idx = np.where(idx < 0, idx + size, idx)
    where = np.take(_grid(self._shape), idx, axis=dim).reshape(-1) if self._shape else idx * 0
    return _shows(_fill(self, self._shape, where, value, "index_fill_", (P_INDEX_FILL, P_INDEX_FILL_TENSOR), index),
                  saved)


@public("index_fill_", function=False)
def index_fill_(self, dim: int, index: Tensor, value: Union[Number, Tensor]) -> Tensor:
    """``index_fill`` in place."""
    self._check_inplace()
    _no_overlap(self, index)
    return self._inplace(self.index_fill(dim, index, value))


@public("index_put")
def index_put(self, indices, values: Tensor, accumulate: bool = False) -> Tensor:
    """``self`` with ``values`` (broadcast) written, or added with ``accumulate``, at
    ``self[indices]`` (``indices`` a tuple of index tensors, as in advanced indexing)."""
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put(): argument 'indices' (position 1) must be tuple of Tensors, not "
                        f"{type(indices).__name__}")
    for k, it in enumerate(indices):
        if not isinstance(it, Tensor):
            raise TypeError(f"expected Tensor as element {k} in argument 0, but got {type(it).__name__}")
    values = _index_arg(values, "index_put", "values")
    idx, _ = _np_index(tuple(indices))      # (PyTorch's errors for the indices come before the dtypes')
    got = sum(it.ndim if isinstance(it, np.ndarray) and it.dtype == np.bool_ else 1 for it in idx)
    if got > len(self._shape):
        raise IndexError(f"too many indices for tensor of dimension {len(self._shape)} (got {got})")
    try:
        shape = _index_values(np.empty(self._shape, np.bool_), idx).shape
    except IndexError as e:
        # (PyTorch's kernel names a bad index later, after the dtypes; but an index into a dim of size 0 is
        # refused as the indexing is set up, before them)
        if str(e) == "index is out of bounds for dimension with size 0":
            raise
        shape = None
    if shape is not None:
        _put_shape(values, shape)
    _same_put_dtype(self, values)
    return _put_at(self, idx, values, accumulate, tuple(indices))


def _put_shape(value: Tensor, shape: tuple) -> None:
    """PyTorch's check, before the dtypes', that an assigned value broadcasts to the indexing result
    (its leading dims of size 1 dropped)."""
    vs = value._shape[_leading_ones(value._shape):]
    try:
        fits = np.broadcast_shapes(vs, shape) == tuple(shape)
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(vs)} cannot be broadcast to indexing result "
                           f"of shape {list(shape)}")


def _same_put_dtype(self: Tensor, values: Tensor) -> None:
    if values._dtype is not self._dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{D.legacy_name(self._dtype)} for the destination and {D.legacy_name(values._dtype)} "
                           f"for the source.")


def _put_at(self: Tensor, idx: tuple, values: Tensor, accumulate: bool = False, held: tuple = ()) -> Tensor:
    """``index_put`` at the numpy index ``idx`` (``held``: the index tensors, checked for in-place
    changes at backward)."""
    positions = np.asarray(_index_values(_grid(self._shape), idx))
    try:
        src = np.broadcast_to(_grid(values._shape), positions.shape)
    except ValueError:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(values._shape)} cannot be broadcast to "
                           f"indexing result of shape {list(positions.shape)}") from None
    out = _written(self, values, positions, src, P_INDEX_PUT, bool(accumulate), held=held or None)
    return _shows(out, (("accumulate", bool(accumulate)), ("indices", _index_tensors(idx, len(self._shape)))))


@public("index_put_", function=False)
def index_put_(self, indices, values: Tensor, accumulate: bool = False) -> Tensor:
    """``index_put`` in place."""
    if _checks_overlap(tuple(indices), values, accumulate):
        self._check_inplace(values)
        _no_overlap(self, values, *indices)
    else:
        self._check_inplace()       # (as masked_fill_, which PyTorch gives the value as a number)
    return self._inplace(self.index_put(indices, values, accumulate))


@public("put")
def put(self, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """``self`` with the elements of ``source`` written (or added, ``accumulate``) at flat
    positions ``index`` (as if ``self`` were 1-D; negative positions count from the end)."""
    index = _index_arg(index, "put", position=1)
    source = _index_arg(source, "put", "source")
    if index._dtype is not D.int64:
        raise RuntimeError(f"put_(): Expected a long tensor for index, but got {D.legacy_name(index._dtype)}")
    _same_dtype(self, source, "put_(): self and source expected to have the same dtype, but got self.dtype = {a} "
                              "and source.dtype = {b}")
    if source.numel() != index.numel():
        raise IndexError(f"put_(): Expected source and index to have the same number of elements, but got "
                         f"source.numel() = {source.numel()}, index.numel() = {index.numel()}")
    dst = _flat_positions(self, index, "put_(): Tried to put elements into an empty tensor")
    out = _written(self, source, dst, np.arange(dst.size, dtype=np.int64), P_PUT, bool(accumulate), held=index)
    return _shows(out, (("accumulate", bool(accumulate)), ("index", index), ("source", _SOURCE)))


@public("put_", function=False)
def put_(self, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """``put`` in place."""
    self._check_inplace(source)
    _no_overlap(self, source, index)
    return self._inplace(self.put(index, source, accumulate))


@public("masked_scatter")
def masked_scatter(self, mask: Tensor, source: Tensor) -> Tensor:
    """``self`` with the elements of ``source``, in order, written where the boolean ``mask`` is True
    (``mask`` and ``self`` broadcast)."""
    return _masked_scatter(self, mask, source, False)


def _masked_scatter(self, mask, source, inplace: bool) -> Tensor:
    """masked_scatter's checks in PyTorch's order: out of place, the mask and ``self`` broadcast first; in
    place, the mask expanded to ``self`` after the dtypes; the mask's dtype last."""
    mask = _mask_arg(mask, "masked_scatter")
    source = _index_arg(source, "masked_scatter", "source")
    if not inplace:
        shape = broadcast_pair(mask._shape, self._shape)
    _same_dtype(self, source, "masked_scatter: expected self and source to have same dtypes but got{a} and {b}")
    if inplace:
        mask.detach().expand(self._shape)       # (PyTorch's error for a mask that does not expand to self)
        shape = self._shape
    if mask._dtype is not D.bool_:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype "
                           f"{D.legacy_name(mask._dtype)}")
    dst = np.flatnonzero(np.broadcast_to(mask._value(), shape)).astype(np.int64)
    if source.numel() < dst.size:
        raise RuntimeError("Number of elements of source < number of ones in mask")
    out = _written(self, source, dst, np.arange(dst.size, dtype=np.int64), P_MASKED_SCATTER, False, shape=shape,
                   held=mask)
    return _shows(out, (("mask", mask), ("source_sym_sizes", source._shape)))


@public("masked_scatter_", function=False)
def masked_scatter_(self, mask: Tensor, source: Tensor) -> Tensor:
    """``masked_scatter`` in place."""
    self._check_inplace()
    return self._inplace(_masked_scatter(self, mask, source, True))


# --- scatter_reduce: one REDUCED row ----------------------------------------------------------
# y = x (or, without include_self, the identity of the reduction where a pair lands) combined with
# z[src[k]] at y[dst[k]] for each pair k by sum, prod, mean, amax or amin.  ``ib`` is the
# reduction (index in ``REDUCTIONS``) times 2 plus include_self; the pairs are in ``ix`` at ``ia``.
# Its rule is PyTorch's (scatter_reduce_backward) in flat form, written with tape ops (a prod's
# rule records REDUCED rows again), so every order follows; its plain adjoint runs the same rule
# on plain tensors (``ops/_rule.py``).
REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")
R_SUM, R_PROD, R_MEAN, R_AMAX, R_AMIN = range(5)


def _pairs(r) -> tuple:
    ix = r.tape.ix
    o = r.ia
    n = int(ix[o])
    return ix[o + 1:o + 1 + n], ix[o + 1 + n:o + 1 + 2 * n]


def _reduced_value(x: np.ndarray, zp: np.ndarray, dst: np.ndarray, how: int, include_self: bool) -> np.ndarray:
    """``x`` with the pair values ``zp`` reduced into flat positions ``dst``."""
    y = np.array(x, order="C")
    flat = y.reshape(-1)
    hit = np.unique(dst)
    if how == R_SUM or how == R_MEAN:
        if not include_self:
            flat[hit] = 0
        np.add.at(flat, dst, zp)
        if how == R_MEAN:
            count = np.full(flat.size, 1 if include_self else 0, np.int64)
            np.add.at(count, dst, 1)
            count[count == 0] = 1
            flat[...] = flat / count if y.dtype.kind == "f" else flat // count
    elif how == R_PROD:
        if not include_self:
            flat[hit] = 1
        np.multiply.at(flat, dst, zp)
    else:
        big = np.inf if y.dtype.kind == "f" else np.iinfo(y.dtype).max
        if not include_self:
            flat[hit] = -big if how == R_AMAX else big
        (np.maximum if how == R_AMAX else np.minimum).at(flat, dst, zp)
    return y


_INDEX_REDUCE = 16      # (a bit of a REDUCED row's ``ib``: recorded by index_reduce, which names its node so)


def _reduced_row(x: Tensor, z: Tensor, dst: np.ndarray, src: np.ndarray, how: int, include_self: bool,
                 by_index: bool = False, held: Optional[Tensor] = None) -> Tensor:
    """``held``: the index tensor PyTorch's node saves (the third input of a REDUCED_HELD row)."""
    dt = x._dtype
    y = _reduced_value(x._value(), z._value().reshape(-1)[src], dst, how, include_self)
    if not (state.grad and (x._rg or z._rg)) or dt.arena is None:
        return plain(y, dt)
    tape = write_tape()
    nx = node_in(tape, x, dt, x._shape)
    nz = node_in(tape, z, dt, z._shape)
    lists = np.concatenate((np.array([dst.size], np.int64), dst, src)).astype(np.int64)
    ib = how * 2 + int(include_self) + (_INDEX_REDUCE if by_index else 0)
    if held is None:
        node = tape.append(REDUCED, dt.arena, y, nx, nz, ia=tape.index_list(lists), ib=ib)
    else:
        node = tape.append_listed(REDUCED_HELD, dt.arena, y, [nx, nz, node_in(tape, held, dt, held._shape)],
                                  ia=tape.index_list(lists), ib=ib)
    return recorded(tape, node, y, dt)


def _reduced_vjp(g, xs, y, r):
    x, z = xs[:2]
    if y is None:       # (a listed row's plain backward passes no result)
        y = plain(np.array(r.tape.value_of(r.r)), g._dtype)
    dst, src = _pairs(r)
    how, include_self = divmod(r.ib & ~_INDEX_REDUCE, 2)
    xshape, zshape = x._shape, z._shape
    dt = g._dtype
    zp = z._gather(src, BY_INDEX)
    if how == R_SUM:
        gx, gp = g, g._gather(dst, BY_INDEX)
    elif how == R_MEAN:
        count = np.full(math.prod(xshape), 1 if include_self else 0, dt.np)
        np.add.at(count, dst, 1)
        count[count == 0] = 1
        gx = g / plain(count.reshape(xshape), dt)
        gp = gx._gather(dst, BY_INDEX)
    elif how == R_PROD:
        masked_self = x.masked_fill(plain(x._value() == 0, D.bool_), 1)
        kept = _reduced_row(masked_self, z, dst, src, R_PROD, bool(include_self))
        # Without include_self the ratio is zeroed where pairs land (below) and is 1 elsewhere:
        # written so that it is exactly 1 there to every order (kept / masked_self is not, in float32).
        gx = g * (kept / masked_self if include_self else (kept - masked_self) / masked_self + 1)
        zero = zp._value() == 0
        zeros_at = np.zeros(math.prod(xshape), np.int64)
        np.add.at(zeros_at, dst, zero)
        single = plain(zero & (zeros_at[dst] == 1), D.bool_)
        masked_src = _reduced_row(x, zp.masked_fill(single, 1), dst, np.arange(dst.size, dtype=np.int64), R_PROD,
                                  bool(include_self))
        gp = (g * masked_src)._gather(dst, BY_INDEX).where(
            single, (g * y)._gather(dst, BY_INDEX) / zp.masked_fill(plain(zero, D.bool_), 1))
    else:
        yv = y._value().reshape(-1)
        self_is = (x._value().reshape(-1) == yv).astype(dt.np)
        src_is = (zp._value() == yv[dst]).astype(dt.np)
        # (PyTorch counts a tie with self even without include_self, whose gradient is then zeroed)
        count = self_is.copy()
        np.add.at(count, dst, src_is)
        count[count == 0] = 1
        spread = g / plain(count.reshape(xshape), dt)
        gx = spread * plain(self_is.reshape(xshape), dt)
        gp = spread._gather(dst, BY_INDEX) * plain(src_is, dt)
    if not include_self:
        gx = _zeroed(gx, dst)
    gz = gp._scatter(src, zshape)
    if how == R_PROD and gz._rg and state.grad and (zeros_at > 1).any():
        # PyTorch's rule has no derivative of its own there: the gradient sits behind an Error node.
        gz = _nodiff(gz._value(), N_INDEX_PROD_ZEROS if r.ib & _INDEX_REDUCE else N_SCATTER_PROD_ZEROS, gz)
    return (gx, gz) + ((None,) if r.code == REDUCED_HELD else ())


register(Op(REDUCED, "scatter_reduce", "ScatterReduceBackward0", X0 | X1 | OUT, _reduced_vjp,
            py_adjoint=rule_adjoint, arity=2,
            grad_fn_of=lambda r: "IndexReduceBackward0" if r.ib & _INDEX_REDUCE else "ScatterReduceBackward0"))
register(Op(REDUCED_HELD, "scatter_reduce", "ScatterReduceBackward0", X0 | X1 | X2 | OUT, _reduced_vjp,
            arity=LISTED, nondiff=(2,),
            grad_fn_of=lambda r: "IndexReduceBackward0" if r.ib & _INDEX_REDUCE else "ScatterReduceBackward0"))
tangents({REDUCED: TRANSPOSED, REDUCED_HELD: TRANSPOSED})


@public("scatter_reduce")
def scatter_reduce(self, dim: int, index: Tensor, src: Tensor, reduce: str, *, include_self: bool = True) -> Tensor:
    """``self`` with the elements of ``src`` reduced along ``dim`` into the positions in ``index``
    by ``reduce`` ("sum", "prod", "mean", "amax" or "amin"), starting from ``self``'s elements
    (or, with ``include_self=False``, from the reduction's identity where anything lands)."""
    src = _index_arg(src, "scatter_reduce", "src", 3)

    def reduce_check():
        # ("max" and "min": PyTorch's kernel takes them for "amax" and "amin", its message names neither)
        if reduce not in REDUCTIONS and reduce not in ("max", "min"):
            raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    saved = (("dim", shown(dim)), ("include_self", bool(include_self)), ("index", index), ("reduce", reduce),
             ("self", SAVED_SELF), ("src", _SOURCE), ("result", SAVED_RESULT))
    dim, idx = _scatter_index(self, dim, index, src, "scatter_reduce", reduce_check)
    dst, spos = _scatter_positions(self, dim, idx, src)
    code = REDUCTIONS.index({"max": "amax", "min": "amin"}.get(reduce, reduce))
    out = _reduced_row(self, src, dst.reshape(-1), spos.reshape(-1), code, bool(include_self), held=index)
    return _shows(out, saved)


@public("scatter_reduce_", function=False)
def scatter_reduce_(self, dim: int, index: Tensor, src: Tensor, reduce: str, *, include_self: bool = True) -> Tensor:
    """``scatter_reduce`` in place."""
    self._check_inplace(src)
    _no_overlap(self, src, index)
    return self._inplace(self.scatter_reduce(dim, index, src, reduce, include_self=include_self))


_INDEX_REDUCTIONS = ("prod", "mean", "amax", "amin")


@public("index_reduce")
def index_reduce(self, dim: int, index: Tensor, source: Tensor, reduce: str, *, include_self: bool = True) -> Tensor:
    """``self`` with the entries of ``source`` along ``dim`` reduced into the positions in ``index``
    by ``reduce`` ("prod", "mean", "amax" or "amin"), starting from ``self``'s entries (or, with
    ``include_self=False``, from those of ``source`` alone where any land)."""
    source = _index_arg(source, "index_reduce", "source", 3)
    _beta_warning()
    saved = (("dim", shown(dim)), ("include_self", bool(include_self)), ("index", index), ("reduce", reduce),
             ("self", SAVED_SELF), ("source", _SOURCE), ("result", SAVED_RESULT))
    if reduce not in _INDEX_REDUCTIONS:
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    dim, idx = _vector_index(self, dim, index, "index_reduce", (D.int64, D.int32))
    dst = _index_source(self, dim, idx, source, "index_reduce")
    out = _reduced_row(self, source, dst.reshape(-1), np.arange(dst.size, dtype=np.int64),
                       REDUCTIONS.index(reduce), bool(include_self), by_index=True, held=index)
    return _shows(out, saved)


@public("index_reduce_", function=False)
def index_reduce_(self, dim: int, index: Tensor, source: Tensor, reduce: str, *, include_self: bool = True) -> Tensor:
    """``index_reduce`` in place."""
    self._check_inplace(source)
    _no_overlap(self, source, index)
    return self._inplace(self.index_reduce(dim, index, source, reduce, include_self=include_self))


_warned: list = []


def _beta_warning() -> None:
    """PyTorch's warning, once a process, that index_reduce is in beta."""
    if not _warned:
        _warned.append(True)
        warnings.warn("index_reduce() is in beta and the API may change at any time.", UserWarning, stacklevel=3)
