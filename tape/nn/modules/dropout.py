"""The dropout modules, as PyTorch's ``torch.nn.modules.dropout``."""
from __future__ import annotations

from ..._tensor import Tensor
from .. import functional as F
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


class _DropoutNd(Module):
    """The dropout modules' base: ``p`` checked once, at construction."""

    __constants__ = ["p", "inplace"]
    p: float
    inplace: bool

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    r"""During training, randomly zeroes some of the elements of the input tensor with probability ``p``
    (draws from the default generator) and scales the outputs by :math:`\frac{1}{1-p}`; in evaluation mode
    (``eval()``) it computes the identity.

    Args:
        p: probability of an element to be zeroed. Default: 0.5
        inplace: If set to ``True``, will do this operation in-place. Default: ``False``
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    r"""During training, randomly zeroes whole channels (1-D feature maps: dim 1 of an :math:`(N, C, L)`
    input, dim 0 of a :math:`(C, L)` one) with probability ``p`` (draws from the default generator) and
    scales the others by :math:`\frac{1}{1-p}`; the identity in evaluation mode."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    r"""During training, randomly zeroes whole channels (2-D feature maps, dim 1 of an :math:`(N, C, H, W)`
    input; a 3-D input is taken as :math:`(N, C, L)`, with PyTorch's warning) with probability ``p`` and
    scales the others by :math:`\frac{1}{1-p}`; the identity in evaluation mode."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    r"""During training, randomly zeroes whole channels (3-D feature maps: dim 1 of an
    :math:`(N, C, D, H, W)` input, dim 0 of a :math:`(C, D, H, W)` one) with probability ``p`` and scales
    the others by :math:`\frac{1}{1-p}`; the identity in evaluation mode."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    r"""Alpha dropout in training (see :func:`tape.nn.functional.alpha_dropout`): it keeps the
    self-normalizing property of SELU activations; the identity in evaluation mode.  As PyTorch's,
    ``forward`` does not pass ``inplace`` on."""

    def forward(self, input: Tensor) -> Tensor:
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    r"""Alpha dropout of whole channels in training (see
    :func:`tape.nn.functional.feature_alpha_dropout`); the identity in evaluation mode.  As PyTorch's,
    ``forward`` does not pass ``inplace`` on."""

    def forward(self, input: Tensor) -> Tensor:
        return F.feature_alpha_dropout(input, self.p, self.training)
