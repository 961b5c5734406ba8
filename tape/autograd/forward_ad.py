"""``tape.autograd.forward_ad``: PyTorch's eager forward-mode AD (dual tensors).

Within a ``dual_level``, ``make_dual(x, v)`` gives a tensor that carries the tangent ``v``; every op
computes its result's tangent (``J v``, from the op's ``jvp`` rule) along with its value, and
``unpack_dual`` reads it back.  Outside a level nothing of this costs anything (``tape/_dual.py``).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Optional

from .. import _dual
from .._state import state as _state
from .._tensor import Tensor

__all__ = ["UnpackedDualTensor", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual", "dual_level"]

_current_level = -1


def enter_dual_level() -> int:
    r"""Enter a new forward grad level.

    This level can be used to make and unpack dual Tensors to compute forward gradients.  This
    function also updates the current level that is used by default by the other functions in
    this API.  Only one level can be active at a time.
    """
    global _current_level
    if _current_level >= 0:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _dual.swap_in()
    _current_level = 0
    return _current_level


def exit_dual_level(*, level: Optional[int] = None) -> None:
    r"""Exit a forward grad level.

    This function deletes all the gradients associated with this level.  Only deleting the latest
    entered level is allowed.
    """
    global _current_level
    if level is None:
        level = _current_level
    if level != _current_level:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that was created. This is "
                           "not supported.")
    if level < 0:
        raise RuntimeError("Dual level must be a positive number.")
    _dual.swap_out()
    _current_level = level - 1


def make_dual(tensor: Tensor, tangent: Tensor, *, level: Optional[int] = None) -> Tensor:
    r"""Associate a tensor value with its tangent to create a "dual tensor" for forward AD gradient
    computation.

    The result is a new tensor aliased to :attr:`tensor` (a view of it) with :attr:`tangent`
    embedded as an attribute as-is if it has the same storage layout or copied otherwise.  The
    tangent attribute can be recovered with :func:`unpack_dual`.  This function is backward
    differentiable.

    Given a function `f` whose jacobian is `J`, it allows one to compute the Jacobian-vector
    product (`jvp`) between `J` and a given vector `v` as follows::

        >>> with dual_level():
        ...     inp = make_dual(x, v)
        ...     out = f(inp)
        ...     y, jvp = unpack_dual(out)
    """
    if level is None:
        level = _current_level
    if level < 0:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, make sure to "
                           "enter_dual_level() first.")
    if not tensor.is_floating_point():
        raise ValueError(f"Expected primal to be floating point or complex, but got: {tensor.dtype}")
    if not tangent.is_floating_point():
        raise ValueError(f"Expected tangent to be floating point or complex, but got: {tangent.dtype}")
    if level != _current_level:
        raise RuntimeError("Invalid level given to _make_dual")
    if _dual.tangent(tensor) is not None:
        raise RuntimeError(f"Making a dual Tensor based on a Tensor that already has a forward gradient at the same "
                           f"level {level} is not supported.")
    if _dual.tangent(tangent) is not None:
        raise RuntimeError(f"Setting a forward grad that itself has a forward gradient at the same level{level} is "
                           f"not supported.")
    if tangent._shape != tensor._shape:
        raise RuntimeError(f"Trying to set a forward gradient that has a different size than that of the original "
                           f"Tensor, this is not supported. Tensor is of size {list(tensor._shape)} while the given "
                           f"forward gradient is of size {list(tangent._shape)}.")
    dual = _dual.unwrapped(tensor.view_as)(tensor)
    if not _same_meta(tensor, tangent):
        # (PyTorch copies a tangent of another layout into one laid out as the primal in a storage
        # of the primal's size, differentiably, so that any view of the primal has a tangent view)
        tangent = _dual.unwrapped(lambda: tensor.new_zeros(_storage_numel(tensor)).as_strided(
            tensor.size(), tensor.stride(), tensor.storage_offset()).copy_(tangent))()
    _dual.set_tangent(dual, tangent)
    return dual


def _storage_numel(t: Tensor) -> int:
    return t.untyped_storage().nbytes() // t.element_size()


def _same_meta(base: Tensor, other: Tensor) -> bool:
    """PyTorch's ``has_same_meta``: the same storage size, offset, sizes and strides (a stride
    where the size is 0 or 1 does not count; two empty tensors always match)."""
    if base.numel() == 0 and other.numel() == 0:
        return True
    if _storage_numel(base) != _storage_numel(other) or base.storage_offset() != other.storage_offset():
        return False
    return all(b == o or n <= 1 for n, b, o in zip(base._shape, base.stride(), other.stride()))


class UnpackedDualTensor(NamedTuple):
    r"""Namedtuple returned by :func:`unpack_dual` containing the primal and tangent components of
    the dual tensor."""

    primal: Tensor
    tangent: Optional[Tensor]


def unpack_dual(tensor: Tensor, *, level: Optional[int] = None) -> UnpackedDualTensor:
    r"""Unpack a "dual tensor" to get both its Tensor value and its forward AD gradient.

    The result is a namedtuple ``(primal, tangent)`` where ``primal`` is a view of :attr:`tensor`'s
    primal and ``tangent`` is :attr:`tensor`'s tangent as-is (None when it has none).  Neither of
    these tensors is a dual tensor of level :attr:`level`.  This function is backward
    differentiable.
    """
    if level is None:
        level = _current_level
    if level < 0:
        return UnpackedDualTensor(tensor, None)
    if level != _current_level:
        raise RuntimeError("Invalid level given to _fw_primal")
    return UnpackedDualTensor(_dual.primal(tensor), _dual.tangent(tensor))


class dual_level:
    r"""Context-manager for forward AD, where all forward AD computation must occur within the
    ``dual_level`` context.

    It enters a level on entry and exits it on exit; the tangents of the level are deleted then.
    Nested ``dual_level`` contexts are not supported (only a single forward AD level is), as in
    PyTorch::

        >>> x = tape.tensor([1.])
        >>> x_t = tape.tensor([1.])
        >>> with dual_level():
        ...     inp = make_dual(x, x_t)
        ...     out = inp * 2
        ...     _, grad = unpack_dual(out)
        >>> grad is None
        False
        >>> _, grad_after = unpack_dual(out)
        >>> grad_after is None
        True
    """

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def within_level(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return within_level

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        exit_dual_level()


def _is_fwd_grad_enabled() -> bool:
    """Whether forward AD computes tangents in this thread."""
    return _state.fwd_grad


class _set_fwd_grad_enabled:
    r"""Enable or disable forward AD (from its construction, as PyTorch's) until the context
    exits."""

    def __init__(self, mode: bool) -> None:
        self.mode = mode
        self.prev = _state.fwd_grad
        _state.fwd_grad = bool(mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *args: Any) -> None:
        _state.fwd_grad = self.prev
