"""The autograd kernel ``register_autograd`` installs: a custom ``tape.autograd.Function`` per operator.

As in PyTorch, the operator's call becomes one ``GeneratedBackwardFor_<ns>_<name>_<overload>`` node
when grad mode is on and a tensor argument requires grad: its forward runs the backend kernel
(recording nothing) and the user's ``setup_context``, its backward the user's ``backward``, whose
result tape's Function checks as PyTorch's does.  Lists of tensors (``Tensor[]``) are flattened
into the Function's arguments and outputs and grouped again for the user's functions.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from .._grad_mode import is_grad_enabled
from .._tensor import Tensor
from ..autograd.function import Function
from .dispatcher import Operator, OpOverload

__all__ = ["Info", "make_autograd_impl"]


class _Call:
    """What a call hands its Function as its last argument (``forward`` leaves it on ``ctx``), beside the
    tensors: keyword-only arguments, and how the flat
    arguments and outputs group into lists (``None`` for a lone value, ``n`` for a list of ``n``)."""

    def __init__(self, kwargs: dict, in_spec: list) -> None:
        self.kwargs = kwargs
        self.in_spec = in_spec
        self.out_spec: Optional[list] = None
        self.out_is_tuple = False


def _tensor_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(t, Tensor) for t in v)


def _flatten(values: tuple) -> tuple:
    flat, spec = [], []
    for v in values:
        if _tensor_list(v):
            flat += v
            spec.append(len(v))
        else:
            flat.append(v)
            spec.append(None)
    return flat, spec


def _group(flat: tuple, spec: list) -> list:
    out, i = [], 0
    for n in spec:
        if n is None:
            out.append(flat[i])
            i += 1
        else:
            out.append(list(flat[i:i + n]))
            i += n
    return out


class Info:
    """The user's functions for an operator's autograd (read at each call: registering again replaces them)."""

    def __init__(self, backward_fn: Optional[Callable] = None, setup_context_fn: Optional[Callable] = None) -> None:
        self._backward_fn = backward_fn
        self._setup_context_fn = setup_context_fn


def make_autograd_impl(op: Operator, info: Any) -> Callable:
    """The ``Autograd`` kernel of ``op``, with ``info``'s ``_backward_fn`` and ``_setup_context_fn``."""
    overload = OpOverload(None, op)
    has_kwarg_only = any(a.kwarg_only for a in op.schema.arguments)

    def forward(ctx, *args):
        call = ctx._pt_call = args[-1]
        args = tuple(_group(args[:-1], call.in_spec))
        result = op.backend(args, call.kwargs)
        setup_context_fn = info._setup_context_fn
        if setup_context_fn is not None:
            inputs, kwargs = op.schema.filled(args, call.kwargs)
            if has_kwarg_only:
                setup_context_fn(ctx=ctx, inputs=inputs, keyword_only_inputs=kwargs, output=result)
            else:
                setup_context_fn(ctx=ctx, inputs=inputs, output=result)
        call.out_is_tuple = isinstance(result, tuple)
        flat, call.out_spec = _flatten(result if call.out_is_tuple else (result,))
        return tuple(flat) if len(flat) != 1 or call.out_spec != [None] else flat[0]

    def backward(ctx, *grads):
        backward_fn = info._backward_fn
        if backward_fn is None:
            raise RuntimeError(f"Trying to backward through {overload} but no autograd formula was registered. "
                               f"Please use register_autograd to add one.")
        call = ctx._pt_call
        needs = ctx._needs_input_grad
        try:
            ctx._needs_input_grad = tuple(_group(needs[:-1], call.in_spec))
            result = backward_fn(ctx, *_group(grads, call.out_spec))
        finally:
            ctx._needs_input_grad = needs
        if all(n is None for n in call.in_spec):
            return (*result, None) if isinstance(result, tuple) else (result, None)
        result = result if isinstance(result, tuple) else (result,)
        flat = []
        for g, n in zip(result, call.in_spec):
            if n is None:
                flat.append(g)
            elif isinstance(g, (list, tuple)) and len(g) == n:
                flat += g
            else:
                raise RuntimeError(f"Expected the return from backward to be of the same structure as the inputs. "
                                   f"Got: {type(g).__name__} (return from backward) for a list of {n} tensors "
                                   f"(inputs)")
        return (*flat, None)

    name = f"GeneratedBackwardFor_{overload.namespace}_{overload._opname}_{overload._overloadname}"
    # (under ``vmap`` an operator with no vmap rule runs once per sample, as PyTorch's fallback does)
    generated = type(name, (Function,), {"forward": staticmethod(forward), "backward": staticmethod(backward),
                                         "_vmap_exempt": True})

    def autograd_impl(*args: Any, **kwargs: Any) -> Any:
        if not (is_grad_enabled() and any(_requires_grad(a) for a in args)):
            return op.backend(args, kwargs)
        flat, spec = _flatten(args)
        call = _Call(kwargs, spec)
        out = generated.apply(*flat, call)
        flat_out = out if isinstance(out, tuple) else (out,)
        grouped = _group(flat_out, call.out_spec)
        return tuple(grouped) if call.out_is_tuple else grouped[0]

    return autograd_impl


def _requires_grad(v: Any) -> bool:
    if isinstance(v, Tensor):
        return v.requires_grad
    return isinstance(v, (list, tuple)) and any(isinstance(t, Tensor) and t.requires_grad for t in v)
