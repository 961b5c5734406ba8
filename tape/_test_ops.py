"""PyTorch's ``torch._test_autograd_multiple_dispatch*``: ops that exist for autograd's own tests
(test_autograd.py's TestAutogradMultipleDispatch).  PyTorch registers a derivative per dispatch
key for them; on the CPU they are a copy whose gradient is off by one, a composite copy, a
flattening view and its copy."""
from __future__ import annotations

from typing import Any

from .ops._parser import Forms
from ._tensor import Tensor
from .autograd.function import Function

__all__ = ["_test_autograd_multiple_dispatch", "_test_autograd_multiple_dispatch_view",
           "_test_autograd_multiple_dispatch_view_copy"]

_FORMS = Forms("_test_autograd_multiple_dispatch", "(Tensor input)", "(Tensor input, bool b)")


def _no_forward_ad(name: str) -> NotImplementedError:
    return NotImplementedError(
        f"Trying to use forward AD with {name} that does not support it because it has not been implemented "
        "yet.\nPlease file an issue to PyTorch at https://github.com/pytorch/pytorch/issues/new?template="
        "feature-request.yml so that we can prioritize its implementation or submit a PR adding the "
        "implementation to derivatives.yaml")


class _FullCoverage(Function):
    # (derivatives.yaml's Default formula for the ``fullcoverage`` overload: ``grad + 1``, linear forward)
    _node_name = "TestAutogradMultipleDispatchBackward0"
    _vmap_exempt = True
    _codegen_node = True

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        ctx.shape = x.shape
        return x.clone()

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        return grad.expand(ctx.shape) + 1

    @staticmethod
    def jvp(ctx, t: Tensor) -> Tensor:
        return t.clone()


class _View(Function):
    _node_name = "TestAutogradMultipleDispatchViewBackward0"
    _vmap_exempt = True
    _codegen_node = True

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        ctx.shape = x.shape
        # (a view of its one input: changed in place, it is rebased as PyTorch's views are)
        ctx._is_pure_view = True
        return x.view(-1)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        return grad.reshape(ctx.shape)

    @staticmethod
    def jvp(ctx, t: Tensor) -> Tensor:
        raise _no_forward_ad("_test_autograd_multiple_dispatch_view")


class _ViewCopy(_View):
    _node_name = "TestAutogradMultipleDispatchViewBackward0_copy"
    _codegen_node = True

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        ctx.shape = x.shape
        return x.reshape(-1).clone()

    @staticmethod
    def jvp(ctx, t: Tensor) -> Tensor:
        raise _no_forward_ad("_test_autograd_multiple_dispatch_view_copy")


def _test_autograd_multiple_dispatch(*args: Any, **kwargs: Any) -> Tensor:
    """A copy of ``input``.  Without ``b``, its gradient is the incoming one plus 1 (the formula
    PyTorch registers for the CPU); with ``b``, it is a plain ``clone``."""
    form, got = _FORMS.parse(args, kwargs)
    if form == 0:
        return _FullCoverage.apply(got["input"])
    return got["input"].clone()


def _check_input(name: str, args: tuple, kwargs: dict) -> Tensor:
    if len(args) + len(kwargs) != 1 or (kwargs and "input" not in kwargs):
        raise TypeError(f"{name}() takes 1 positional argument but {len(args) + len(kwargs)} were given")
    x = args[0] if args else kwargs["input"]
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")
    return x


def _test_autograd_multiple_dispatch_view(*args: Any, **kwargs: Any) -> Tensor:
    """``input`` flattened, a view of it."""
    return _View.apply(_check_input("_test_autograd_multiple_dispatch_view", args, kwargs))


def _test_autograd_multiple_dispatch_view_copy(*args: Any, **kwargs: Any) -> Tensor:
    """``input`` flattened, a copy."""
    return _ViewCopy.apply(_check_input("_test_autograd_multiple_dispatch_view_copy", args, kwargs))
