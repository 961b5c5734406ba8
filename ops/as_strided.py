"""``as_strided``: a view of a tensor's storage with the given sizes, strides and offset, and
``as_strided_``, which gives the tensor itself that layout.

The storage is the array of the tensor's base (the root of its chain of views; a root that
``as_strided_`` changed keeps its whole storage aside: ``_tensor.STRIDED_ROOTS``).  Recorded, the
view is a gather of the elements' positions in the base's value (PyTorch's ``AsStridedBackward0``;
``AsStridedBackward1`` for ``as_strided_``), from the base's node: its gradient reaches the base's
history directly (PyTorch's passes through the tensor's own node, which leads there too).
"""
from __future__ import annotations

import weakref
from typing import Optional, Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided as np_as_strided

from .._emit import STRIDED_ROOTS, Tensor, aliased, state, storage_of
from ._spec import public
from .inplace_view import _check, _in_place
from .shape import BY_AS_STRIDED, BY_AS_STRIDED_, saves
from .views import flat_positions


def _storage_view(self: Tensor, size: Sequence[int], stride: Sequence[int], storage_offset: Optional[int]):
    """``(base, view)``: the base whose storage ``self`` views, and the numpy view of that storage
    with the given geometry; PyTorch's errors for a geometry it refuses."""
    size, stride = [int(s) for s in size], [int(s) for s in stride]
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"as_strided: Negative strides are not supported at the moment, got strides: {stride}")
    if any(s < 0 for s in size):
        raise RuntimeError(f"as_strided: Negative sizes are not supported, got sizes: {size}")
    offset = self.storage_offset() if storage_offset is None else int(storage_offset)
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    base = self._vb if self._vb is not None else self
    base._storage()         # (a float held as such becomes an array)
    storage = self._strided_storage()
    item = storage.itemsize
    n = storage.size
    need = 0 if 0 in size else offset + 1 + sum((s - 1) * d for s, d in zip(size, stride))
    if need > n:
        raise RuntimeError(f"setStorage: sizes {size}, strides {stride}, storage offset {offset}, and itemsize "
                           f"{item} requiring a storage size of {need * item} are out of bounds for storage of size "
                           f"{n * item}")
    if not _dense(storage):
        raise RuntimeError("tape: as_strided of a tensor whose base's elements are not one run of memory (a numpy "
                           "array with gaps or negative strides given to from_numpy) is not supported")
    flat = np_as_strided(storage, (n,), (item,))     # (the storage from its first element: a base's array starts there)
    view = np_as_strided(flat[offset:] if n else flat, tuple(size), tuple(d * item for d in stride))
    return base, view


def _dense(v: np.ndarray) -> bool:
    """Whether some order of the dims steps through the array's elements one after another, forwards."""
    step = v.itemsize
    for s, n in sorted((s, n) for s, n in zip(v.strides, v.shape) if n > 1):
        if s != step:
            return False
        step *= n
    return True


def _addresses(v: np.ndarray) -> np.ndarray:
    """The address of each element of ``v``."""
    at = np.full(v.shape, v.__array_interface__["data"][0], np.int64)
    for d, s in enumerate(v.strides):
        at += s * np.arange(v.shape[d], dtype=np.int64).reshape((-1,) + (1,) * (v.ndim - 1 - d))
    return at


def _positions(base: Tensor, view: np.ndarray) -> np.ndarray:
    """The row-major positions in ``base``'s value of the elements of ``view``."""
    value = base._storage()
    if value is storage_of(base):
        return flat_positions(value, view)
    at, want = _addresses(value), _addresses(view)
    if not view.size or want.min() >= at.min() and want.max() <= at.max():
        positions = flat_positions(value, view)
        if np.array_equal(at.reshape(-1)[positions], want):
            return positions
    raise RuntimeError("tape: as_strided of a tensor that requires grad, reaching elements of its storage "
                       "outside its base (a tensor as_strided_ made a part of its storage) is not supported")


def _strided(self: Tensor, base: Tensor, view: np.ndarray, kind: int, size, stride, storage_offset) -> Tensor:
    if not (self._rg and state.grad):
        return self._view_alias(view)
    out = base._gather(_positions(base, view), kind)
    # (the node shows the arguments as given: no storage_offset is None)
    saves(out, (("size", tuple(size)), ("storage_offset", storage_offset), ("stride", tuple(stride))))
    return aliased(out, self, view)


@public("as_strided")
def as_strided(self, size: Sequence[int], stride: Sequence[int], storage_offset: Optional[int] = None) -> Tensor:
    """A view of this tensor's storage with the given ``size``, ``stride`` and ``storage_offset``
    (in elements; the tensor's own offset by default)."""
    base, view = _storage_view(self, size, stride, storage_offset)
    return _strided(self, base, view, BY_AS_STRIDED, size, stride, storage_offset)


@public("as_strided_")
def as_strided_(self, size: Sequence[int], stride: Sequence[int], storage_offset: Optional[int] = None) -> Tensor:
    """In-place version of :meth:`as_strided`: the tensor itself, viewing its storage with the
    given ``size``, ``stride`` and ``storage_offset``."""
    _check(self)
    base, view = _storage_view(self, size, stride, storage_offset)
    if self._vb is None:
        if self._rg and any(e[0]() is not None for e in self._views or ()):
            # (its views are re-derived from its value, which would no longer hold them)
            raise RuntimeError("tape: as_strided_ of a tensor that requires grad and that other tensors view is not "
                               "supported")
        STRIDED_ROOTS[id(self)] = (weakref.ref(self, lambda _, k=id(self): STRIDED_ROOTS.pop(k, None)),
                                   storage_of(self))
    return _in_place(self, lambda x: _strided(x, base, view, BY_AS_STRIDED_, size, stride, storage_offset))
