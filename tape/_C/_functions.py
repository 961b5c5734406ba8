"""``tape._C._functions``: PyTorch's engine-made node classes reachable from Python.

``AccumulateGrad`` is the node of a leaf; ``DelayedError`` and ``UndefinedGrad`` are nodes one
builds by calling them on tensors: each returns its inputs' values with itself as their
``grad_fn``, and in backward raises its message (``DelayedError``, the node PyTorch names
``Error``) or gives its inputs an undefined (None) gradient (``UndefinedGrad``).
"""
from __future__ import annotations

from typing import Union

from .._graph import AccumulateGrad
from .._tensor import Tensor
from ..autograd.function import DelayedError, Function

__all__ = ["AccumulateGrad", "DelayedError", "UndefinedGrad"]


class _UndefinedGrad(Function):
    _node_name = "UndefinedGradBackward"
    _builtin_node = True
    _vmap_exempt = True

    @staticmethod
    def forward(ctx, *xs: Tensor):
        ctx.set_materialize_grads(False)
        ctx._defined = tuple(x is not None for x in xs)
        return tuple(x if x is None else x.clone() for x in xs)

    @staticmethod
    def backward(ctx, *grads):
        return (None,) * len(grads)


class UndefinedGrad:
    """``UndefinedGrad()(*tensors)``: copies of the tensors, whose gradient is undefined (None)
    whatever the gradient of the copies."""

    def __call__(self, *inputs: Tensor) -> Union[Tensor, tuple]:
        outs = _UndefinedGrad.apply(*inputs)
        return outs[0] if len(outs) == 1 else outs
