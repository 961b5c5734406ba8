"""Gradient clipping, as PyTorch's ``torch.nn.utils.clip_grad``: the CPU's foreach path (the list ops over
the gradients of each dtype, in the order the dtypes first appear), so the same norms and scaled gradients."""
from __future__ import annotations

import functools
import types
import warnings
from collections.abc import Callable, Iterable
from typing import Optional, Union

from ..._creation import tensor
from ..._foreach import FOREACH
from ..._grad_mode import no_grad
from ..._tensor import Tensor
from ...linalg import vector_norm
from ...ops.join import stack

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_"]

_foreach_norm = FOREACH["_foreach_norm"]
_foreach_mul_ = FOREACH["_foreach_mul_"]
_foreach_clamp_min_ = FOREACH["_foreach_clamp_min_"]
_foreach_clamp_max_ = FOREACH["_foreach_clamp_max_"]

_tensor_or_tensors = Union[Tensor, Iterable[Tensor]]


def _no_grad(func: Callable) -> Callable:
    @functools.wraps(func)
    def _no_grad_wrapper(*args, **kwargs):
        with no_grad():
            return func(*args, **kwargs)
    return _no_grad_wrapper


def _by_dtype(tensors: list) -> list:
    """The tensors grouped by dtype, the groups in the order their dtypes first appear."""
    groups: dict = {}
    for t in tensors:
        groups.setdefault(t.dtype, []).append(t)
    return list(groups.values())


@_no_grad
def _get_total_norm(tensors: _tensor_or_tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach: Optional[bool] = None) -> Tensor:
    r"""Compute the norm of an iterable of tensors: the norm of their norms, as if they were concatenated
    into one vector (``norm_type`` may be ``inf``)."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    norm_type = float(norm_type)
    if len(tensors) == 0:
        return tensor(0.0)
    norms: list = []
    for group in _by_dtype(tensors):
        norms.extend(_foreach_norm(group, norm_type))
    total_norm = vector_norm(stack(norms), norm_type)
    if error_if_nonfinite and (total_norm.isnan() | total_norm.isinf()):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           "it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set `error_if_nonfinite=False`")
    return total_norm


@_no_grad
def _clip_grads_with_norm_(parameters: _tensor_or_tensors, max_norm: float, total_norm: Tensor,
                           foreach: Optional[bool] = None) -> None:
    r"""Scale the gradients of ``parameters`` by ``max_norm / (total_norm + 1e-6)`` where that is below 1
    (``total_norm`` as :func:`get_total_norm` gives it)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    max_norm = float(max_norm)
    if len(grads) == 0:
        return
    clip_coef_clamped = (max_norm / (total_norm + 1e-6)).clamp(max=1.0)
    for group in _by_dtype(grads):
        _foreach_mul_(group, clip_coef_clamped)


@_no_grad
def clip_grad_norm_(parameters: _tensor_or_tensors, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: Optional[bool] = None) -> Tensor:
    r"""Clip the gradient norm of an iterable of parameters: the norm of all gradients together, as if
    concatenated into one vector, is scaled down to ``max_norm`` if above it; gradients are modified in
    place. Returns the total norm of the gradients (viewed as a single vector)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if is_generator and len(parameters) == 0:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=3)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = _get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    _clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters: _tensor_or_tensors, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: Optional[bool] = None) -> Tensor:
    r"""Deprecated form of :func:`clip_grad_norm_`."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of `torch.nn.utils.clip_grad_norm_`.",
                  FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


@_no_grad
def clip_grad_value_(parameters: _tensor_or_tensors, clip_value: float, foreach: Optional[bool] = None) -> None:
    r"""Clip the gradients of an iterable of parameters to ``[-clip_value, clip_value]``, in place."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    clip_value = float(clip_value)
    grads = [p.grad for p in parameters if p.grad is not None]
    for group in _by_dtype(grads):
        _foreach_clamp_min_(group, -clip_value)
        _foreach_clamp_max_(group, clip_value)
