"""``parameters_to_vector`` and ``vector_to_parameters``, as PyTorch's ``torch.nn.utils.convert_parameters``."""
from __future__ import annotations

from collections.abc import Iterable

from ..._runtime import typename
from ..._tensor import Tensor
from ...ops.join import cat

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    r"""Flatten an iterable of parameters into a single vector (recorded: gradients flow back to them)."""
    return cat([param.view(-1) for param in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    r"""Copy slices of a vector into an iterable of parameters (each parameter's ``data`` becomes a view of
    its slice of ``vec``)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {typename(vec)}")
    pointer = 0
    for param in parameters:
        num_param = param.numel()
        param.data = vec[pointer:pointer + num_param].view_as(param).data
        pointer += num_param
