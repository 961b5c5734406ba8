"""``tape.autograd._functions``: PyTorch's legacy Functions kept for old code (``Resize``)."""
from __future__ import annotations

import math
import warnings

from .function import Function

__all__ = ["Resize"]


class Resize(Function):
    """``Resize.apply(tensor, sizes)``: ``tensor`` seen with the shape ``sizes`` (same number of
    elements), its gradient reshaped back."""

    @staticmethod
    def forward(ctx, tensor, sizes):
        ctx.sizes = sizes
        ctx.numel = math.prod(sizes)
        if tensor.numel() != ctx.numel:
            raise RuntimeError(
                "requested resize to {} ({} elements in total), but the given tensor has a size of {} ({} elements). "
                "autograd's resize can only change the shape of a given tensor, while preserving the number of "
                "elements. ".format("x".join(map(str, sizes)), ctx.numel, "x".join(map(str, tensor.size())),
                                    tensor.numel()))
        ctx.input_sizes = tensor.size()
        return tensor.contiguous().view(*sizes)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.contiguous().view(ctx.input_sizes), None


def resize(self, *sizes: int):
    """``Tensor.resize(*sizes)`` (deprecated): ``Resize.apply(self, sizes)``, ``self`` seen with
    the shape ``sizes`` (the same number of elements; ``resize_`` changes it in place)."""
    warnings.warn("non-inplace resize is deprecated", stacklevel=2)
    return Resize.apply(self, sizes)
