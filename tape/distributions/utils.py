"""Helpers shared by the distributions (``tape.distributions.utils``), as PyTorch's."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import update_wrapper
from typing import Any

import numpy as np

from .._creation import arange, empty, randint, tensor
from .._dtype import get_default_dtype
from .._grad_mode import enable_grad
from .._info import finfo
from .._tensor import Tensor
from ..ops.layout import broadcast_tensors

__all__ = ["broadcast_all", "logits_to_probs", "clamp_probs", "probs_to_logits", "lazy_property",
           "tril_matrix_to_vec", "vec_to_tril_matrix"]

euler_constant = 0.57721566490153286060      # Euler-Mascheroni constant
_NUMBER = (int, float, bool)


def broadcast_all(*values: Any) -> tuple:
    r"""Given a list of values (possibly containing numbers), returns a list where each value is
    broadcasted based on the following rules:
      - `tape.Tensor` instances are broadcasted as per :ref:`_broadcasting-semantics`.
      - Number instances (scalars) are upcast to tensors having the same size and type as the
        first tensor passed to `values`. If all the values are scalars, then they are upcasted to
        scalar Tensors.

    Args:
        values (list of `Number` or `tape.Tensor`)

    Raises:
        ValueError: if any of the values is not a `Number` instance or a `tape.Tensor` instance
    """
    if not all(isinstance(v, (Tensor,) + _NUMBER) for v in values):
        raise ValueError("Input arguments must all be instances of Number, torch.Tensor or objects implementing "
                         "__torch_function__.")
    if not all(isinstance(v, Tensor) for v in values):
        first = next((v for v in values if isinstance(v, Tensor)), None)
        dtype = get_default_dtype() if first is None else first.dtype
        values = tuple(v if isinstance(v, Tensor) else tensor(v, dtype=dtype) for v in values)
    return tuple(broadcast_tensors(*values))


def _standard_normal(shape: Sequence[int], dtype: Any, device: Any) -> Tensor:
    return empty(tuple(shape), dtype=dtype, device=device).normal_()


def _numpy_rng() -> np.random.Generator:
    """A numpy generator seeded from tape's default generator: the samplers PyTorch writes in C++
    (Poisson, binomial) draw from it, so ``manual_seed`` makes them reproducible (their streams are
    not PyTorch's)."""
    return np.random.default_rng(randint(0, 2 ** 62, (4,)).tolist())


def _sum_rightmost(value: Tensor, dim: int) -> Tensor:
    """Sum out ``dim`` many rightmost dimensions of a given tensor."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:value.dim() - dim]) + (-1,)).sum(-1)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    r"""Converts a tensor of logits into probabilities. Note that for the binary case, each value
    denotes log odds, whereas for the multi-dimensional case, the values along the last dimension
    denote the log probabilities (possibly unnormalized) of the events."""
    return logits.sigmoid() if is_binary else logits.softmax(dim=-1)


def clamp_probs(probs: Tensor) -> Tensor:
    """Clamps the probabilities to be in the open interval `(0, 1)`, to at least the dtype's
    machine epsilon from either end."""
    eps = finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    r"""Converts a tensor of probabilities into logits. For the binary case, this denotes the
    probability of occurrence of the event indexed by `1`. For the multi-dimensional case, the
    values along the last dimension denote the probabilities of occurrence of each of the events."""
    clamped = clamp_probs(probs)
    return clamped.log() - (-clamped).log1p() if is_binary else clamped.log()


class lazy_property:
    r"""Used as a decorator for lazy loading of class attributes. This uses a non-data descriptor
    that calls the wrapped method to compute the property on first call; thereafter replacing the
    wrapped method into an instance attribute (computed with gradients enabled)."""

    def __init__(self, wrapped: Callable) -> None:
        self.wrapped = wrapped
        update_wrapper(self, wrapped)       # type: ignore[arg-type]

    def __get__(self, instance: Any, obj_type: Any = None) -> Any:
        if instance is None:
            return _lazy_property_and_property(self.wrapped)
        with enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


class _lazy_property_and_property(lazy_property, property):
    """What the class shows for a lazy property: both, so that documentation tools see a property."""

    def __init__(self, wrapped: Callable) -> None:
        property.__init__(self, wrapped)


def _tril_mask(n: int, diag: int) -> Tensor:
    idx = arange(n)
    return idx < idx.view(-1, 1) + (diag + 1)


def tril_matrix_to_vec(mat: Tensor, diag: int = 0) -> Tensor:
    r"""Convert a `D x D` matrix or a batch of matrices into a (batched) vector which comprises of
    lower triangular elements from the matrix in row order."""
    n = mat.shape[-1]
    if diag < -n or diag >= n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    return mat[..., _tril_mask(n, diag)]


def vec_to_tril_matrix(vec: Tensor, diag: int = 0) -> Tensor:
    r"""Convert a vector or a batch of vectors into a batched `D x D` lower triangular matrix
    containing elements from the vector in row order."""
    k = 1 + 2 * diag
    n = (-k + (k ** 2 + 8 * vec.shape[-1] + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    if round(n) - n > finfo(vec.dtype).eps:
        raise ValueError(f"The size of last dimension is {vec.shape[-1]} which cannot be expressed as "
                         "the lower triangular part of a square D x D matrix.")
    n = round(n)
    mat = vec.new_zeros(tuple(vec.shape[:-1]) + (n, n))
    mat[..., _tril_mask(n, diag)] = vec
    return mat
