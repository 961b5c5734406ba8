"""``as_strided``: a view of a tensor's storage with the given sizes, strides and offset.

The storage is the array of the tensor's base (the root of its chain of views).  Recorded, the
view is a gather of the elements' positions in the base (PyTorch's ``AsStridedBackward0``), from
the base's node: its gradient reaches the base's history directly (PyTorch's passes through the
tensor's own node, which leads there too).
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided as np_as_strided

from .._emit import Tensor, aliased, state
from ._spec import public
from .shape import BY_AS_STRIDED
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
    storage = base._storage()
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


@public("as_strided")
def as_strided(self, size: Sequence[int], stride: Sequence[int], storage_offset: Optional[int] = None) -> Tensor:
    """A view of this tensor's storage with the given ``size``, ``stride`` and ``storage_offset``
    (in elements; the tensor's own offset by default)."""
    base, view = _storage_view(self, size, stride, storage_offset)
    if not (self._rg and state.grad):
        return self._view_alias(view)
    out = base._gather(flat_positions(base._storage(), view), BY_AS_STRIDED)
    return aliased(out, self, view)
