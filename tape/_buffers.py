"""Tensors over memory that exists already, or laid out as asked: ``frombuffer`` (an object of
Python's buffer protocol), ``from_dlpack``/``to_dlpack`` (DLPack, through numpy's), and
``empty_permuted`` (the dims stored in a given order).  A tensor made from memory shares it, as
PyTorch's does: writing one writes the other."""
from __future__ import annotations

import warnings
from typing import Any, Optional, Sequence

import numpy as np

from . import _dtype as D
from ._random import empty_strided
from ._tensor import Tensor, _plain

_READONLY_WARNED: list = []


def frombuffer(buffer: Any, *, dtype: D.dtype, count: int = -1, offset: int = 0,
               requires_grad: bool = False) -> Tensor:
    """A 1-D tensor over the memory of ``buffer``: ``count`` elements of ``dtype`` (all, for a
    negative ``count``) from byte ``offset`` on.  A read-only buffer is copied here (PyTorch writes
    into it anyway, with a warning, which this gives too)."""
    view = memoryview(buffer).cast("B")
    n, size = view.nbytes, dtype.itemsize
    if n <= 0 or count == 0:
        raise ValueError(f"both buffer length ({n}) and count ({count}) must not be 0")
    if offset < 0 or offset >= n:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than buffer length ({n} bytes) "
                         "minus 1")
    if count < 0:
        if (n - offset) % size:
            raise ValueError(f"buffer length ({n - offset} bytes) after offset ({offset} bytes) must be a multiple of "
                             f"element size ({size})")
        count = (n - offset) // size
    elif offset + count * size > n:
        raise ValueError(f"requested buffer length ({count} * {size} bytes) after offset ({offset} bytes) must not be "
                         f"greater than actual buffer length ({n} bytes)")
    a = np.frombuffer(view, dtype.np, count, offset)
    if view.readonly:
        if not _READONLY_WARNED:
            _READONLY_WARNED.append(True)
            warnings.warn("The given buffer is not writable, and PyTorch does not support non-writable tensors. This "
                          "means you can write to the underlying (supposedly non-writable) buffer using the tensor. "
                          "You may want to copy the buffer to protect its data or make it writable before converting "
                          "it to a tensor. This type of warning will be suppressed for the rest of this program.",
                          UserWarning, stacklevel=2)
        a = a.copy()
    t = _plain(a, dtype)
    return t.requires_grad_() if requires_grad else t


class _Capsule:
    """A DLPack capsule as numpy's ``from_dlpack`` takes it (an object with ``__dlpack__``)."""

    def __init__(self, capsule: Any) -> None:
        self.capsule = capsule

    def __dlpack__(self, stream: Optional[Any] = None) -> Any:
        return self.capsule

    def __dlpack_device__(self) -> tuple:
        return (1, 0)       # (kDLCPU)


def from_dlpack(ext_tensor: Any) -> Tensor:
    """A tensor sharing the memory of ``ext_tensor``: an object with ``__dlpack__`` (a numpy array
    ...) or a DLPack capsule (which can be consumed once)."""
    source = ext_tensor if hasattr(ext_tensor, "__dlpack__") else _Capsule(ext_tensor)
    try:
        a = np.from_dlpack(source)
    except (TypeError, ValueError, BufferError, RuntimeError):
        if source is ext_tensor:
            raise
        raise RuntimeError("from_dlpack received an invalid capsule. Note that DLTensor capsules can be consumed "
                           "only once, so you might have already constructed a tensor from it once.") from None
    return _plain(a, D.from_numpy_dtype(a.dtype))


def to_dlpack(tensor: Tensor) -> Any:
    """A DLPack capsule of ``tensor``'s memory (shared, as the tensor's ``numpy()``), for
    another library's ``from_dlpack``."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dlpack(): argument 'data' (position 1) must be Tensor, not {type(tensor).__name__}")
    return tensor.detach().numpy().__dlpack__()


def empty_permuted(size: Sequence[int], physical_layout: Sequence[int], *, dtype: Optional[D.dtype] = None,
                   layout=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """An uninitialized (here: zero) tensor of ``size`` whose dims are stored in the order
    ``physical_layout`` (outermost first): ``empty_permuted((2, 3), (1, 0))`` is column-major."""
    size, order = tuple(size), tuple(physical_layout)
    if len(size) != len(order):
        raise RuntimeError(f"Number of dimensions in size does not match the length of the physical_layout; i.e. "
                           f"len(size) = {len(size)} is not equal to len(physical_layout) = {len(order)}")
    seen = set()
    for k, d in enumerate(order):
        if not 0 <= d < len(size):
            raise RuntimeError(f"Dimension out of range (expected to be between 0 and {len(size) - 1}, but got {d} at "
                               f"index {k}).  NB: negative dims not currently supported; file an issue if you want "
                               "it.")
        if d in seen:
            raise RuntimeError("Duplicate dim not allowed")
        seen.add(d)
    stride = [0] * len(size)
    step = 1
    for d in reversed(order):
        stride[d] = step
        step *= max(size[d], 1)
    return empty_strided(size, stride, dtype=dtype, layout=layout, device=device, requires_grad=requires_grad,
                         pin_memory=pin_memory)
