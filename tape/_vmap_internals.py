"""``tape._vmap_internals``: PyTorch's legacy prototype vmap (``torch._vmap_internals``), the one
``gradcheck`` runs its batched forward-mode check with.

PyTorch's wraps the inputs in batched tensors and calls the function once; tape calls it once per
index of the mapped dimension and stacks the results, as :func:`tape.func.vmap` does: the same
values, with this API's own checks and messages (inputs and ``in_dims`` as pytrees, non-negative
mapped dimensions, outputs a tensor or a tuple of tensors, a random op inside refused).
"""
from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, Union

from . import _creation
from ._pytree import _broadcast, tree_flatten, tree_unflatten
from ._tensor import Tensor
from .ops.join import stack

in_dims_t = Union[int, tuple]
out_dims_t = Union[int, tuple]

_RANDOM_ERROR = ("vmap: We do not yet support calling random operations inside of vmap. Please perform random "
                 "operations outside of vmap as a workaround")


def _get_name(func: Callable) -> str:
    return func.__name__ if hasattr(func, "__name__") else repr(func)


def _check_out_dims_is_int_or_int_tuple(out_dims: out_dims_t, func: Callable) -> None:
    if isinstance(out_dims, int):
        return
    if not isinstance(out_dims, tuple) or not all(isinstance(d, int) for d in out_dims):
        raise ValueError(f"vmap({_get_name(func)}, ..., out_dims={out_dims}): `out_dims` must be an int or a tuple "
                         "of int representing where in the outputs the vmapped dimension should appear.")


def flat_inputs(name: str, in_dims: Any, args: tuple, negative: bool) -> tuple:
    """``(flat_args, flat_in_dims, args_spec)`` of a vmap's inputs after PyTorch's checks, in its
    order (``name``: the function's, as the messages show it).  ``negative``: ``torch.func.vmap``'s
    in_dims may count from the end (and come back counted from the front); the legacy vmap's may not."""
    if not isinstance(in_dims, (int, tuple)):
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` to be int or a "
                         f"(potentially nested) tuple matching the structure of inputs, got: {type(in_dims)}.")
    if not args:
        raise ValueError(f"vmap({name})(<inputs>): got no inputs. Maybe you forgot to add inputs, or you are trying "
                         "to vmap over a function with no inputs. The latter is unsupported.")
    flat_args, args_spec = tree_flatten(args)
    flat_in_dims = _broadcast(in_dims, args_spec)
    if flat_in_dims is None:
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with the "
                         f"structure of `inputs`. in_dims has structure {tree_flatten(in_dims)[1]} but inputs has "
                         f"structure {args_spec}.")
    for i, (arg, in_dim) in enumerate(zip(flat_args, flat_in_dims)):
        if not isinstance(in_dim, int) and in_dim is not None:
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={in_dim} for an input but "
                             "in_dim must be either an integer dimension or None.")
        if isinstance(in_dim, int) and not isinstance(arg, Tensor):
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={in_dim} for an input but "
                             f"the input is of type {type(arg)}. We cannot vmap over non-Tensor arguments, please use "
                             "None as the respective in_dim")
        if in_dim is None:
            continue
        n = arg.dim()
        if not (-n if negative else 0) <= in_dim < n:
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={in_dim} for some input, "
                             f"but that input is a Tensor of dimensionality {n} so expected in_dim to satisfy "
                             f"{f'-{n}' if negative else '0'} <= in_dim < {n}.")
        flat_in_dims[i] = in_dim % n
    return flat_args, flat_in_dims, args_spec


def _mapped_inputs(in_dims: in_dims_t, args: tuple, func: Callable) -> tuple:
    """``(flat_args, flat_in_dims, args_spec, batch_size)`` after PyTorch's checks of the inputs."""
    flat_args, flat_in_dims, args_spec = flat_inputs(_get_name(func), in_dims, args, False)
    sizes = [arg.size(d) for d, arg in zip(flat_in_dims, flat_args) if d is not None]
    if sizes and any(s != sizes[0] for s in sizes):
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
                         f"{sizes} for the mapped dimension")
    return flat_args, flat_in_dims, args_spec, sizes[0]


def _validate_outputs(outputs: Any, func: Callable) -> None:
    if isinstance(outputs, Tensor):
        return
    name = _get_name(func)
    if not isinstance(outputs, tuple):
        raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(outputs)} as the "
                         "return.")
    for idx, output in enumerate(outputs):
        if not isinstance(output, Tensor):
            raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(output)} for "
                             f"return {idx}.")


def _stacked(outs: list, out_dims: out_dims_t, func: Callable) -> Any:
    """The per-sample results stacked along their ``out_dims`` entries (None passes through)."""
    first = outs[0]
    n = len(first) if isinstance(first, tuple) else 1
    if not isinstance(out_dims, tuple):
        dims = (out_dims,) * n
    elif len(out_dims) == n:
        dims = out_dims
    else:
        raise ValueError(f"vmap({_get_name(func)}, ..., out_dims={out_dims}): `out_dims` must have one dim per "
                         f"output (got {n} outputs) of {_get_name(func)}.")
    if isinstance(first, Tensor):
        return stack(outs, dims[0])
    return tuple(None if first[i] is None else stack([o[i] for o in outs], dims[i]) for i in range(n))


def _vmap(func: Callable, in_dims: in_dims_t = 0, out_dims: out_dims_t = 0,
          allow_none_pass_through: bool = False) -> Callable:
    """The legacy vmap without its deprecation warning: ``func`` mapped over dimension ``in_dims``
    of its inputs (an int, or a pytree of ints and None matching the inputs), its outputs (a
    tensor or a tuple of tensors; with ``allow_none_pass_through``, None entries too) stacked along
    ``out_dims``."""

    @functools.wraps(func)
    def wrapped(*args):
        _check_out_dims_is_int_or_int_tuple(out_dims, func)
        flat_args, flat_in_dims, args_spec, batch_size = _mapped_inputs(in_dims, args, func)
        outs = []
        _creation.enter_random_guard(_RANDOM_ERROR)
        try:
            for b in range(batch_size):
                sample = [a if d is None else a.select(d, b) for a, d in zip(flat_args, flat_in_dims)]
                out = func(*tree_unflatten(sample, args_spec))
                if not allow_none_pass_through:
                    _validate_outputs(out, func)
                outs.append(out)
        finally:
            _creation.exit_random_guard()
        if not outs:
            raise ValueError(f"vmap({_get_name(func)}, ...): tape's vmap runs `{_get_name(func)}` once per sample "
                             "and cannot tell the shape of its outputs for an empty mapped dimension")
        return _stacked(outs, out_dims, func)
    return wrapped


def vmap(func: Callable, in_dims: in_dims_t = 0, out_dims: out_dims_t = 0) -> Callable:
    """Please use tape.vmap instead of this API."""
    warnings.warn("Please use `torch.vmap` instead of `torch._vmap_internals.vmap`.", FutureWarning, stacklevel=2)
    return _vmap(func, in_dims, out_dims)
