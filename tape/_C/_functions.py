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
from ..autograd.function import Function

__all__ = ["AccumulateGrad", "DelayedError", "UndefinedGrad"]


class _Error(Function):
    _node_name = "Error"
    _builtin_node = True

    @staticmethod
    def forward(ctx, msg: str, *xs: Tensor):
        ctx.msg = msg
        ctx._defined = tuple(x is not None for x in xs)
        # (the values themselves, sharing their storage but not their history)
        return tuple(x if x is None else x.detach() for x in xs)

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(ctx.msg)


class _UndefinedGrad(Function):
    _node_name = "UndefinedGradBackward"
    _builtin_node = True

    @staticmethod
    def forward(ctx, *xs: Tensor):
        ctx.set_materialize_grads(False)
        ctx._defined = tuple(x is not None for x in xs)
        return tuple(x if x is None else x.clone() for x in xs)

    @staticmethod
    def backward(ctx, *grads):
        return (None,) * len(grads)


def _single(outs: tuple) -> Union[Tensor, tuple]:
    return outs[0] if len(outs) == 1 else outs


class DelayedError:
    """``DelayedError(msg, num_inputs)(*tensors)``: the tensors' values, whose gradient raises
    ``RuntimeError(msg)`` when a backward reaches them."""

    def __init__(self, msg: Union[str, bytes], num_inputs: int) -> None:
        self.msg = msg.decode() if isinstance(msg, bytes) else str(msg)
        self.num_inputs = int(num_inputs)

    def __call__(self, *inputs: Tensor) -> Union[Tensor, tuple]:
        return _single(_Error.apply(self.msg, *inputs))


class UndefinedGrad:
    """``UndefinedGrad()(*tensors)``: copies of the tensors, whose gradient is undefined (None)
    whatever the gradient of the copies."""

    def __call__(self, *inputs: Tensor) -> Union[Tensor, tuple]:
        return _single(_UndefinedGrad.apply(*inputs))
