"""``Tensor.apply_``, ``map_`` and ``map2_``: a Python callable applied element by element, in place.

As PyTorch's, they refuse tensors that require grad, call the callable with Python numbers (float,
int or bool by the tensor's dtype), convert what it returns as PyTorch's argument unpacking does,
and write through ``.data`` (the tensor's memory, views included, without counting a version).
"""
from __future__ import annotations

import operator
from typing import Callable

import numpy as np

from . import _dtype as D
from ._grad_mode import no_grad
from ._tensor import Tensor, _plain
from .ops._spec import public

_INT64 = np.iinfo(np.int64)


def _as_float(r) -> float:
    if isinstance(r, (str, bytes)) or not (hasattr(type(r), "__float__") or hasattr(type(r), "__index__")):
        raise TypeError(f"must be real number, not {type(r).__name__}")
    return float(r)


def _as_int(r) -> int:
    if isinstance(r, (float, np.floating)):
        return int(r)
    n = operator.index(r)
    if not _INT64.min <= n <= _INT64.max:
        raise ValueError("Overflow when unpacking long long")
    return n


def _as_bool(r) -> bool:
    if isinstance(r, (float, np.floating)):
        return bool(r)
    return operator.index(r) != 0


def _converter(dt: D.dtype) -> Callable:
    if dt is D.bool_:
        return _as_bool
    return _as_float if dt.is_floating_point else _as_int


def _type_name(dt: D.dtype) -> str:
    return f"torch.{D.legacy_name(dt)}Tensor"


def _refuse_grad(self: Tensor, name: str) -> None:
    if self.requires_grad:
        raise RuntimeError(f"Can't call {name}() on Variable that requires grad. Use var.detach().{name}() instead.")


def _operand(self: Tensor, other, name: str, param: str, position: int, shown: str) -> list:
    """``other``'s elements broadcast to ``self``'s shape (PyTorch's errors: ``shown`` is how its
    dtype message names the argument)."""
    if not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument '{param}' (position {position}) must be Tensor, not "
                        f"{type(other).__name__}")
    if other.dtype is not self.dtype:
        raise TypeError(f"{name}: expected {_type_name(self.dtype)} for {shown} (got {_type_name(other.dtype)})")
    return other.detach().expand(self.shape).numpy().ravel().tolist()


def _write(self: Tensor, results: list) -> Tensor:
    convert = _converter(self.dtype)
    values = [convert(r) for r in results]
    # (ints wrap into the dtype, as PyTorch's cast of the unpacked int64 does)
    data = np.array(values, np.float64 if self.dtype.is_floating_point else np.int64).astype(self.dtype.np)
    with no_grad():
        self.data.copy_(_plain(data.reshape(self.shape), self.dtype))
    return self


@public("apply_", function=False)
def apply_(self, callable: Callable) -> Tensor:
    """Replaces each element ``x`` with ``callable(x)``, in place (a slow Python loop; the tensor
    must not require grad)."""
    _refuse_grad(self, "apply_")
    return _write(self, [callable(v) for v in self.numpy().ravel().tolist()])


@public("map_", function=False)
def map_(self, tensor: Tensor, callable: Callable) -> Tensor:
    """Replaces each element ``x`` with ``callable(x, y)``, ``y`` the element of ``tensor`` (broadcast
    to this tensor's shape, of its dtype) at the same place, in place."""
    _refuse_grad(self, "map_")
    ys = _operand(self, tensor, "map_", "other", 1, "'other'")
    return _write(self, [callable(x, y) for x, y in zip(self.numpy().ravel().tolist(), ys)])


@public("map2_", function=False)
def map2_(self, x: Tensor, y: Tensor, callable: Callable) -> Tensor:
    """Replaces each element ``s`` with ``callable(s, a, b)``, ``a`` and ``b`` the elements of ``x``
    and ``y`` (broadcast to this tensor's shape, of its dtype) at the same place, in place."""
    _refuse_grad(self, "map2_")
    xs = _operand(self, x, "map2_", "x", 1, "argument 'x'")
    ys = _operand(self, y, "map2_", "y", 2, "argument 'y'")
    return _write(self, [callable(s, a, b) for s, a, b in zip(self.numpy().ravel().tolist(), xs, ys)])
