"""``tape._C._nn``: the one test op of PyTorch's ``torch._C._nn`` that autograd's tests call."""
from __future__ import annotations

import warnings

from .._tensor import Tensor
from ..autograd.function import Function

__all__ = ["_test_warn_in_autograd"]


class _WarnInBackward(Function):
    _node_name = "TestWarnInAutogradBackward0"
    _vmap_exempt = True
    _codegen_node = True

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        warnings.warn("Warn from backward", UserWarning)
        return grad


def _test_warn_in_autograd(input: Tensor) -> Tensor:
    """A copy of ``input`` whose backward warns ``Warn from backward`` (a UserWarning) and passes
    the gradient through: it checks that warnings raised in a backward reach Python."""
    if not isinstance(input, Tensor):
        raise TypeError(f"_test_warn_in_autograd(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return _WarnInBackward.apply(input)
