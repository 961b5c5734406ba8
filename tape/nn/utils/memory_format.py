"""``tape.nn.utils.memory_format``: the weights of a model's convolutions laid out in a memory format
(``channels_last``), in place, as PyTorch's ``torch.nn.utils.memory_format``."""
from __future__ import annotations

from typing import TypeVar

from ..modules.conv import Conv2d, Conv3d, ConvTranspose2d, ConvTranspose3d
from ..modules.module import Module

__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]

_M = TypeVar("_M", bound=Module)


def _convert(module: _M, memory_format, kinds: tuple) -> _M:
    if isinstance(module, kinds):
        data = module.weight.detach().clone(memory_format=memory_format)
        module.weight.data = data.resize_(data.size(), memory_format=memory_format)
    for child in module.children():
        _convert(child, memory_format, kinds)
    return module


def convert_conv2d_weight_memory_format(module: _M, memory_format) -> _M:
    """``module`` with the weight of each ``Conv2d`` and ``ConvTranspose2d`` in it (itself too) laid out
    in ``memory_format`` (``tape.channels_last``, ``tape.contiguous_format``), in place; returns it."""
    return _convert(module, memory_format, (Conv2d, ConvTranspose2d))


def convert_conv3d_weight_memory_format(module: _M, memory_format) -> _M:
    """``module`` with the weight of each ``Conv3d`` and ``ConvTranspose3d`` in it (itself too) laid out
    in ``memory_format`` (``tape.channels_last_3d``, ``tape.contiguous_format``), in place; returns it."""
    return _convert(module, memory_format, (Conv3d, ConvTranspose3d))
