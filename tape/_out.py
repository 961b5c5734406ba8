"""The ``out=`` argument of ``tape.<function>`` forms, as PyTorch's.

The function computes its result as usual; the result is then written into ``out`` (a tensor, or
a tuple of tensors for a function with several results), which is returned.  PyTorch's rules: an
``out=`` call records nothing, so it refuses, in grad mode, arguments or outputs that require
grad; the result's dtype must cast to ``out``'s (same kind or wider); an ``out`` of another
shape is resized, with PyTorch's deprecation warning unless it was empty.
"""
from __future__ import annotations

import functools
import inspect
import warnings
from typing import Callable, Optional

from . import _dtype as D
from ._grad_mode import no_grad
from ._state import state
from ._tensor import Tensor


def _tensors(value) -> list:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    return []


def _write(name: str, out: Tensor, result, exact: bool = False) -> None:
    if not isinstance(result, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be a tuple of Tensors")
    if exact and result._dtype is not out._dtype:
        raise RuntimeError(f"Expected out tensor to have dtype {D.cpp_name(result._dtype)}, but got "
                           f"{D.cpp_name(out._dtype)} instead")
    if result._dtype._cat > out._dtype._cat:       # (``can_cast``: no conversion to a lower kind)
        raise RuntimeError(f"result type {D.legacy_name(result._dtype).replace('Tensor', '')} can't be cast to the "
                           f"desired output type {D.legacy_name(out._dtype).replace('Tensor', '')}")
    if out._shape != result._shape:
        if out.numel():
            warnings.warn(f"An output with one or more elements was resized since it had shape {list(out._shape)}, "
                          f"which does not match the required output shape {list(result._shape)}. This behavior is "
                          "deprecated, and in a future PyTorch release outputs will not be resized unless they have "
                          "zero elements. You can explicitly reuse an out tensor t by resizing it, inplace, to zero "
                          "elements with t.resize_(0).", UserWarning, stacklevel=4)
        out._resize_storage(result._shape)
    out.copy_(result)


# PyTorch's functions without ``out=``; its unary ops whose iterator wants ``out`` of the input's dtype
# ("Found dtype ..."); its structured kernels whose ``out`` must have the result's dtype exactly
_NO_OUT = frozenset(("relu", "positive", "isnan", "trace", "einsum", "flip", "cdist"))
_SAME_AS_INPUT = frozenset(("abs", "absolute", "neg", "negative", "sign", "sgn", "ceil", "floor", "round", "trunc",
                            "fix", "frac", "bitwise_not"))
_EXACT = frozenset(("argmax", "argmin", "max", "min", "sort", "topk", "aminmax", "matmul", "mm", "bmm", "addmm",
                    "gather", "diag", "tril", "triu", "msort", "norm"))


def call_with_out(name: str, fn: Callable, args: tuple, kwargs: dict, exact: bool = False):
    """``fn(*args, **kwargs)`` whose ``kwargs`` hold ``out``: the result written into it (of the
    result's dtype exactly, with ``exact``: PyTorch's structured kernels)."""
    if name in _NO_OUT:
        raise TypeError(f"{name}() got an unexpected keyword argument 'out'")
    out = kwargs.pop("out")
    if out is None:
        return fn(*args, **kwargs)
    outs = out if isinstance(out, tuple) else (out,)
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(o).__name__}")
    exact = exact or name in _EXACT
    if name in _SAME_AS_INPUT and args and isinstance(args[0], Tensor) and out._dtype is not args[0]._dtype:
        raise RuntimeError(f"Found dtype {D.legacy_name(out._dtype)} but expected {D.legacy_name(args[0]._dtype)}")
    if state.grad and any(t._rg for t in _tensors(args) + _tensors(list(kwargs.values())) + list(outs)):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic differentiation, "
                           "but one of the arguments requires grad.")
    with no_grad():
        result = fn(*args, **kwargs)
        if isinstance(out, tuple):
            if not isinstance(result, tuple) or len(result) != len(out):
                raise TypeError(f"{name}(): argument 'out' must be Tensor, not tuple")
            for o, r in zip(out, result):
                _write(name, o, r, exact)
            return type(result)(out) if hasattr(result, "_fields") else tuple(out)
        if isinstance(result, tuple):
            raise TypeError(f"{name}(): argument 'out' must be tuple of Tensors, not Tensor")
        _write(name, out, result, exact)
    return out



def _takes_out(fn: Callable) -> bool:
    try:
        return "out" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def out_form(fn: Callable, grad_name: Optional[str], exact: bool = False) -> Callable:
    """``fn`` with PyTorch's ``out=`` (unless it takes one itself): ``grad_name`` is the name PyTorch's
    refusal of an argument that requires grad gives (that of the op it runs); None for a composite,
    whose result is copied into ``out``, recorded (``CopyBackwards``)."""
    if _takes_out(fn):
        return fn

    @functools.wraps(fn)
    def with_out(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        if grad_name is not None:
            return call_with_out(grad_name, fn, args, {"out": out, **kwargs}, exact)
        result = fn(*args, **kwargs)
        with no_grad():
            _write(fn.__name__, out, result.detach(), exact)
        return out.copy_(result) if result._rg and state.grad else out
    return with_out
