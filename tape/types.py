"""``tape.types``: the type aliases PyTorch's annotations use (``torch.types``), e.g. ``Number`` in a
``custom_op``'s type hints."""
from __future__ import annotations

import os
from typing import IO, Union

from ._device import device as _device
from ._dtype import dtype as _dtype  # noqa: F401  (torch.types._dtype)
from ._layout import layout as _layout  # noqa: F401  (torch.types._layout)
from ._storage import UntypedStorage as Storage
from ._tensor import Size, Tensor

__all__ = ["Number", "Device", "FileLike", "Storage"]

_int = int
_float = float
_bool = bool
_complex = complex
_str = str
_bytes = bytes
Number = Union[int, float, bool]
_Number = Number
Device = Union[_device, str, int, None]
_size = Union[Size, list[int], tuple[int, ...]]
FileLike = Union[str, os.PathLike, IO[bytes]]
_TensorOrTensors = Union[Tensor, tuple[Tensor, ...], list[Tensor]]

