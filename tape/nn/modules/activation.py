"""The activation modules over ``tape.nn.functional``'s functions, as PyTorch's
``torch.nn.modules.activation`` (each a ``forward`` calling its function, with its ``extra_repr``)."""
from __future__ import annotations

from typing import Any, Optional

from ..._creation import empty
from ..._tensor import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["Threshold", "ReLU", "Sigmoid", "Tanh", "Softmax", "Softmax2d", "LogSoftmax", "Hardshrink", "PReLU"]

# ``F.softmax``'s warning of an implicit dim points at the module's caller, past ``__call__``, ``forward``,
# ``F.softmax`` and its helper (PyTorch's value, whose own ``__call__`` has a frame more: its warning
# points into module.py)
_SOFTMAX_STACKLEVEL = 5


class Threshold(Module):
    r"""Thresholds each element of the input Tensor: ``x`` if ``x > threshold``, else ``value``."""

    __constants__ = ["threshold", "value", "inplace"]
    threshold: float
    value: float
    inplace: bool

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"threshold={self.threshold}, value={self.value}{inplace_str}"


class ReLU(Module):
    r"""Applies the rectified linear unit function element-wise: :math:`\max(0, x)` (in place with
    ``inplace``)."""

    __constants__ = ["inplace"]
    inplace: bool

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    r"""Applies the Sigmoid function element-wise: :math:`1 / (1 + \exp(-x))`."""

    def forward(self, input: Tensor) -> Tensor:
        return input.sigmoid()


class Tanh(Module):
    r"""Applies the Hyperbolic Tangent (Tanh) function element-wise."""

    def forward(self, input: Tensor) -> Tensor:
        return input.tanh()


class Softmax(Module):
    r"""Applies the Softmax function to an n-dimensional input Tensor along ``dim``: the elements of the
    output along ``dim`` lie in [0, 1] and sum to 1."""

    __constants__ = ["dim"]
    dim: Optional[int]

    def __init__(self, dim: Optional[int] = None) -> None:
        super().__init__()
        self.dim = dim

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        if not hasattr(self, "dim"):
            self.dim = None

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim, _stacklevel=_SOFTMAX_STACKLEVEL)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax2d(Module):
    r"""Applies SoftMax over features to each spatial location: over the channels of a
    :math:`(N, C, H, W)` or :math:`(C, H, W)` input (dim -3)."""

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D instead")
        return F.softmax(input, -3, _stacklevel=_SOFTMAX_STACKLEVEL)


class LogSoftmax(Module):
    r"""Applies the :math:`\log(\text{Softmax}(x))` function to an n-dimensional input Tensor along ``dim``."""

    __constants__ = ["dim"]
    dim: Optional[int]

    def __init__(self, dim: Optional[int] = None) -> None:
        super().__init__()
        self.dim = dim

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        if not hasattr(self, "dim"):
            self.dim = None

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim, _stacklevel=_SOFTMAX_STACKLEVEL)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Hardshrink(Module):
    r"""Applies the Hard Shrinkage function element-wise: ``x`` where :math:`|x| > \lambda`, else 0."""

    __constants__ = ["lambd"]
    lambd: float

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return F.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class PReLU(Module):
    r"""Applies the element-wise PReLU function :math:`\max(0, x) + a \min(0, x)`, :math:`a` a learnable
    weight: one shared (``num_parameters=1``) or one per input channel, each initialised to ``init``."""

    __constants__ = ["num_parameters"]
    num_parameters: int

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None) -> None:
        factory_kwargs = {"device": device, "dtype": dtype}
        self.num_parameters = num_parameters
        super().__init__()
        self.init = init
        self.weight = Parameter(empty(num_parameters, **factory_kwargs))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Set the weight to ``init`` again."""
        init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"
