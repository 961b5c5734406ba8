"""``Fold`` and ``Unfold``, as PyTorch's ``torch.nn.modules.fold``."""
from __future__ import annotations

from typing import Union

from ..._tensor import Tensor
from .. import functional as F
from .module import Module

__all__ = ["Fold", "Unfold"]


class Fold(Module):
    r"""Combines an array of sliding local blocks into a large containing tensor (summing where blocks
    overlap): input :math:`(N, C \times \prod(\text{kernel\_size}), L)` or without :math:`N`."""

    __constants__ = ["output_size", "kernel_size", "dilation", "padding", "stride"]

    def __init__(self, output_size: Union[int, tuple], kernel_size: Union[int, tuple], dilation: Union[int, tuple] = 1,
                 padding: Union[int, tuple] = 0, stride: Union[int, tuple] = 1) -> None:
        super().__init__()
        self.output_size = output_size
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return ("output_size={output_size}, kernel_size={kernel_size}, dilation={dilation}, padding={padding}, "
                "stride={stride}".format(**self.__dict__))


class Unfold(Module):
    r"""Extracts sliding local blocks from a batched input tensor :math:`(N, C, H, W)` (or without
    :math:`N`): output :math:`(N, C \times \prod(\text{kernel\_size}), L)`."""

    __constants__ = ["kernel_size", "dilation", "padding", "stride"]

    def __init__(self, kernel_size: Union[int, tuple], dilation: Union[int, tuple] = 1, padding: Union[int, tuple] = 0,
                 stride: Union[int, tuple] = 1) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return "kernel_size={kernel_size}, dilation={dilation}, padding={padding}, stride={stride}".format(
            **self.__dict__)
