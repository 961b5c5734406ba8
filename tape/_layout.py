"""Layouts and memory formats: ``tape.strided``, ``tape.contiguous_format``, ``tape.channels_last`` ...

Every tape tensor is strided (no sparse layouts).  A memory format says in which order a new
tensor's elements are laid out in its storage (``stride()``): row-major, channels last (NHWC for a
4-d tensor, NDHWC for a 5-d one), or, for ``preserve_format``, as the tensor it is made from when
that one is dense (numpy's ``order="K"``, which sorts strides as PyTorch does otherwise).
"""
from __future__ import annotations

from typing import Optional

import numpy as np


class _Named:
    """A constant that prints, and pickles, as the ``torch.<name>`` it stands for."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"torch.{self._name}"

    def __reduce__(self) -> str:
        return self._name


class layout(_Named):
    """The memory layout of a tensor (``Tensor.layout``): only ``tape.strided``."""

    __slots__ = ()


class memory_format(_Named):
    """The order of a tensor's elements in its storage (``memory_format=`` arguments)."""

    __slots__ = ()


strided = layout("strided")
contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")

# The dims from innermost to outermost in storage, per format and rank.
_ORDER = {"channels_last": (4, (1, 3, 2, 0)), "channels_last_3d": (5, (1, 4, 3, 2, 0))}


def check_layout(value, fn: str) -> None:
    if value is not None and not isinstance(value, layout):
        raise TypeError(f"{fn}(): argument 'layout' must be torch.layout, not {type(value).__name__}")


def check_memory_format(value, fn: str) -> Optional[memory_format]:
    if value is not None and not isinstance(value, memory_format):
        raise TypeError(f"{fn}(): argument 'memory_format' must be torch.memory_format, not {type(value).__name__}")
    return value


def _rank_check(v: np.ndarray, fmt: memory_format) -> tuple:
    rank, order = _ORDER[fmt._name]
    if v.ndim != rank:
        raise RuntimeError(f"required rank {rank} tensor to use {fmt._name} format")
    return order


def arranged(v: np.ndarray, fmt: Optional[memory_format]) -> np.ndarray:
    """A copy of ``v`` laid out in storage as ``fmt`` says (None: as ``preserve_format``)."""
    if fmt is None or fmt is preserve_format:
        return np.array(v, order="K")
    if fmt is contiguous_format:
        return np.array(v, order="C")
    order = _rank_check(v, fmt)
    outer_first = order[::-1]
    back = tuple(int(i) for i in np.argsort(outer_first))
    return np.ascontiguousarray(v.transpose(outer_first)).transpose(back)


def in_format(v: np.ndarray, fmt: Optional[memory_format]) -> bool:
    """Whether ``v``'s strides are those of ``fmt`` (size-1 dims may have any stride, as PyTorch)."""
    if fmt is None or fmt is contiguous_format or fmt is preserve_format:
        return v.flags.c_contiguous
    rank, order = _ORDER[fmt._name]
    if v.ndim != rank:
        return False
    expected = v.itemsize
    for d in order:
        if v.shape[d] != 1:
            if v.strides[d] != expected:
                return False
            expected *= v.shape[d]
    return True
