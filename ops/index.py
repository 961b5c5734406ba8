"""Indexing: ``x[i]``, ``x[1:, ::2]``, ``x[mask]``, ``x[[0, 2]]`` and item assignment ``x[i] = v``.

An index is parsed into numpy's form (PyTorch's errors for what it refuses);
recorded indexing is a GATHER or INDEX row over the flat positions it takes
(their rows and derivative rules are in ``ops/shape.py``), named after the
view PyTorch would apply last.  Item assignment on a recorded tensor is
out-of-place arithmetic (keep the other elements, scatter the new ones) moved
into the tensor.
"""
from __future__ import annotations

from typing import Union

import numpy as np

from .._emit import D, Number, Tensor, plain, state
from ._args import wrap_dim
from ._spec import public
from .extrema import pick, pick_name
from .shape import BY_INDEX, BY_SELECT, BY_SLICE

_GATHER = pick_name("GatherBackward0")


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
    idx, kind = _np_index(index)
    if not self._shape and any(isinstance(i, slice) for i in idx):
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    if self._rg and state.grad:
        positions = _index_values(np.arange(self.numel()).reshape(self._shape), idx)
        return self._gather(positions, kind if kind == BY_INDEX else _last_view(idx, self._shape))
    if kind == BY_INDEX:
        return plain(np.array(_index_values(self._value(), idx)), self._dtype)
    if Ellipsis not in idx:
        idx = idx + (Ellipsis,)             # a 0-d view, not a numpy scalar
    return self._view_alias(_index_values(self._storage(), idx))


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
        self._check_inplace()
        target = self._storage()
        _index_values(target, idx)          # raises PyTorch's errors for bad indices
        target[idx] = value._value() if isinstance(value, Tensor) else value
        self._bump()
        if self._tape is not None:
            self._relink()
        return
    # Recorded as out-of-place arithmetic: keep the other elements, scatter the new ones.
    positions = _index_values(np.arange(self.numel()).reshape(self._shape), idx)
    keep = np.ones(self.numel(), self._dtype.np)
    keep[positions.reshape(-1)] = 0
    if not isinstance(value, Tensor):
        value = plain(np.asarray(value, self._dtype.np), self._dtype)
    elif value._dtype is not self._dtype:
        value = value.to(self._dtype)
    put = value.expand(positions.shape) if value._shape != positions.shape else value
    new = self * plain(keep.reshape(self._shape), self._dtype) + put._scatter(positions, self._shape)
    self._inplace(new)


def _last_view(idx: tuple, shape: tuple) -> int:
    """The view PyTorch applies last for a basic index, which names its node: a select for an
    int, a slice for a slice that is not the whole dim (PyTorch skips those)."""
    consuming = sum(1 for it in idx if it is not None and it is not Ellipsis)
    kind = BY_SLICE
    d = 0
    for it in idx:
        if it is None:
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


def _np_index(index) -> tuple:
    """The numpy form of an index, and which PyTorch node kind it records."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    kind = BY_SLICE
    for it in items:
        if isinstance(it, Tensor):
            if it._dtype.is_floating_point:
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            it = it._value()
            if it.ndim == 0 and it.dtype != np.bool_:
                it = int(it)
                kind = max(kind, BY_SELECT) if kind != BY_INDEX else kind
                out.append(it)
                continue
            kind = BY_INDEX
        elif isinstance(it, (list, np.ndarray)):
            it = np.asarray(it)
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
            raise ValueError("step must be greater than zero")
        out.append(it)
    return tuple(out), kind


def _index_values(arr: np.ndarray, idx: tuple):
    """``arr[idx]`` with numpy's index errors reworded as PyTorch's."""
    try:
        return arr[idx]
    except IndexError as e:
        msg = str(e)
        if "out of bounds" in msg:
            raise IndexError(_out_of_bounds_message(msg, arr.ndim, idx)) from None
        if "too many indices" in msg:
            raise IndexError(f"too many indices for tensor of dimension {arr.ndim}") from None
        if "boolean index did not match" in msg:
            for k, it in enumerate(idx):
                if isinstance(it, np.ndarray) and it.dtype == np.bool_:
                    raise IndexError(f"The shape of the mask {list(it.shape)} at index {k} does not match the "
                                     f"shape of the indexed tensor {list(arr.shape)[k:k + it.ndim]} at index "
                                     f"{k}") from None
            raise IndexError(msg) from None
        raise IndexError(msg) from None


def _out_of_bounds_message(msg: str, ndim: int, idx: tuple) -> str:
    """PyTorch's wording of numpy's "index i is out of bounds for axis k with size n".

    An integer selects its dim first in PyTorch, which names that dim; an index tensor is
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
    for it in idx:
        if it is None:
            continue
        if it is Ellipsis:
            d += ndim - taken
            continue
        width = it.ndim if isinstance(it, np.ndarray) and it.dtype == np.bool_ else 1
        if isinstance(it, np.ndarray) and d <= axis < d + width:
            if size == "0":
                return "index is out of bounds for dimension with size 0"
            return f"{head} for dimension {tensors + axis - d} with size {size}"
        if isinstance(it, np.ndarray):
            tensors += width
        d += width
    return f"{head} for dimension {axis} with size {size}"


@public("gather")
def gather(self, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """The elements along ``dim`` at ``index``: ``out[i][j] = self[index[i][j]][j]`` for dim 0
    (``index`` has as many dims as ``self``, and no dim other than ``dim`` larger)."""
    nd = len(self._shape)
    d = wrap_dim(dim, nd)
    if not isinstance(index, Tensor) or index._dtype not in (D.int64, D.int32):
        raise RuntimeError("gather(): Expected dtype int32/int64 for index")
    idx = index._value().astype(np.int64)
    shape = self._shape or (1,)
    ishape = idx.shape or (1,)
    if len(ishape) != len(shape):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    if idx.size:
        for k, (a, b) in enumerate(zip(ishape, shape)):
            if k != d and a > b:
                raise RuntimeError(f"Size does not match at dimension {k} expected index {list(index._shape)} to "
                                   f"be no larger than self {list(self._shape)} apart from dimension {d}")
        bad = (idx < 0) | (idx >= shape[d])
        if bad.any():
            raise RuntimeError(f"index {int(idx[bad].reshape(-1)[0])} is out of bounds for dimension {d} with "
                               f"size {shape[d]}")
    grid = list(np.indices(ishape, sparse=True))
    grid[d] = idx.reshape(ishape)
    positions = np.ravel_multi_index(grid, shape) if idx.size else np.zeros(ishape, np.int64)
    return pick(self, positions.reshape(idx.shape).astype(np.int64), _GATHER)
