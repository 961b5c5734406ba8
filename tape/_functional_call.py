"""``functional_call`` and ``stack_module_state`` of ``tape.func``: a module called as a function of its
parameters and buffers, as PyTorch's ``torch._functorch.functional_call``."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional, Union

from ._tensor import Tensor
from .nn.modules.module import Module
from .nn.utils.stateless import _functional_call
from .ops.join import stack


def functional_call(module: Module, parameter_and_buffer_dicts: Union[dict, Sequence], args: Any = None,
                    kwargs: Optional[dict] = None, *, tie_weights: bool = True, strict: bool = False) -> Any:
    r"""Performs a functional call on the module by replacing the module parameters and buffers with the
    provided ones (a dict by dotted name, or a sequence of dicts with distinct keys); ``args`` a tuple, or
    one argument; with ``tie_weights``, a value given for one of several tied names is used for all;
    with ``strict``, the names must be exactly the module's. The module's own tensors are back after the
    call, even if it raised."""
    if isinstance(parameter_and_buffer_dicts, dict):
        parameters_and_buffers = parameter_and_buffer_dicts
    elif isinstance(parameter_and_buffer_dicts, Sequence):
        if not all(isinstance(d, dict) for d in parameter_and_buffer_dicts):
            raise ValueError("Expected all elements of parameter_and_buffer_dicts to be dictionaries")
        all_keys_counter: dict = {}
        for d in parameter_and_buffer_dicts:
            for k in d:
                all_keys_counter[k] = all_keys_counter.get(k, 0) + 1
        repeated_keys = [key for key, n in all_keys_counter.items() if n > 1]
        if len(repeated_keys) > 0:
            raise ValueError(f"{repeated_keys} appeared in multiple dictionaries; behavior of functional call is "
                             "ambiguous")
        parameters_and_buffers = {k: v for d in parameter_and_buffer_dicts for k, v in d.items()}
    else:
        raise ValueError("Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, but got "
                         f"{type(parameter_and_buffer_dicts)}")
    return _functional_call(module, parameters_and_buffers, args, kwargs, tie_weights=tie_weights, strict=strict)


def _stacked_leaf(tensors: tuple, name: str) -> Tensor:
    all_requires_grad = all(t.requires_grad for t in tensors)
    if not all_requires_grad and any(t.requires_grad for t in tensors):
        raise RuntimeError(f"Expected {name} from each model to have the same .requires_grad")
    result = stack(tensors)
    return result.detach().requires_grad_() if all_requires_grad else result


def stack_module_state(models: Sequence) -> tuple[dict, dict]:
    r"""The parameters and buffers of ``models`` (modules of one class, all in training or all in evaluation
    mode) stacked along a new leading dim, by name: ``(params, buffers)``, the stacked parameters new leaves
    (for ``vmap`` over an ensemble with :func:`functional_call`)."""
    if len(models) == 0:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or all(not m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same training/eval mode.")
    model0_typ = type(models[0])
    if not all(type(m) is model0_typ for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    all_params = [dict(model.named_parameters()) for model in models]
    params = {k: _stacked_leaf(tuple(params[k] for params in all_params), k) for k in all_params[0]}
    all_buffers = [dict(model.named_buffers()) for model in models]
    buffers = {k: _stacked_leaf(tuple(buffers[k] for buffers in all_buffers), k) for k in all_buffers[0]}
    return params, buffers
