"""``Parameter`` and ``Buffer``: the tensors that ``nn.Module`` registers when they are assigned to it, as
PyTorch's ``torch.nn.parameter``."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Optional

from .._creation import empty
from .._serialize import SUBCLASSES
from .._tensor import Tensor


class _ParameterMeta(type):
    # ``isinstance(t, Parameter)`` holds too for a tensor of another subclass made a parameter (``_is_param``).
    def __instancecheck__(self, instance: Any) -> bool:
        if self is Parameter and isinstance(instance, Tensor) and getattr(instance, "_is_param", False):
            return True
        return super().__instancecheck__(instance)


def _user_state(t: Tensor) -> dict:
    """The attributes a user set on ``t`` (the handle's own fields all have class-level defaults)."""
    return {k: v for k, v in vars(t).items() if not hasattr(Tensor, k)}


def _rebuild_parameter(data: Tensor, requires_grad: bool, backward_hooks: OrderedDict,
                       state: Optional[dict] = None) -> "Parameter":
    param = Parameter(data, requires_grad)
    if state:
        vars(param).update(state)
    return param


class Parameter(Tensor, metaclass=_ParameterMeta):
    r"""A kind of Tensor that is to be considered a module parameter.

    Parameters are :class:`~tape.Tensor` subclasses, that have a very special property when used with
    :class:`Module` s - when they're assigned as Module attributes they are automatically added to the
    list of its parameters, and will appear e.g. in :meth:`~Module.parameters` iterator. Assigning a
    Tensor doesn't have such effect.

    Args:
        data (Tensor): parameter tensor (its storage is shared, its graph is not).
        requires_grad (bool, optional): if the parameter requires gradient. The ``no_grad()`` context
            does NOT affect it. Default: `True`
    """

    def __new__(cls, data: Optional[Tensor] = None, requires_grad: bool = True) -> "Parameter":
        if data is None:
            data = empty(0)
        if type(data) is Tensor or type(data) is Parameter:
            return Tensor._make_subclass(cls, data, requires_grad)
        t = data.detach().requires_grad_(requires_grad)
        if type(t) is not type(data):
            raise RuntimeError(
                f"Creating a Parameter from an instance of type {type(data).__name__} requires that detach() "
                f"returns an instance of the same type, but return type {type(t).__name__} was found instead. "
                "To use the type as a Parameter, please correct the detach() semantics defined by its "
                "__torch_dispatch__() implementation.")
        t._is_param = True
        return t

    def __deepcopy__(self, memo: dict) -> "Parameter":
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.data.clone(), self.requires_grad)
        memo[id(self)] = result
        return result

    _plain_repr = True      # (its values print as ``tensor(...)``)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, proto: int):
        state = _user_state(self)
        return _rebuild_parameter, (self.data, self.requires_grad, OrderedDict(), *((state,) if state else ()))


SUBCLASSES["Parameter"] = Parameter       # (``tape.save`` / ``tape.load`` keep it a Parameter)


class _BufferMeta(type):
    # ``isinstance(t, Buffer)`` holds for the tensors ``Buffer(...)`` made (plain tensors flagged ``_is_buffer``).
    def __instancecheck__(self, instance: Any) -> bool:
        if self is Buffer and isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False):
            return True
        return super().__instancecheck__(instance)


class Buffer(Tensor, metaclass=_BufferMeta):
    r"""A kind of Tensor that should not be considered a model parameter: a module registers it as a
    buffer when it is assigned as an attribute (part of its state, e.g. a running mean).

    Args:
        data (Tensor): buffer tensor (its storage is shared, its graph is not).
        persistent (bool, optional): whether the buffer is part of the module's :attr:`state_dict`.
            Default: ``True``
    """

    def __new__(cls, data: Optional[Tensor] = None, *, persistent: bool = True) -> Tensor:
        if data is None:
            data = empty(0)
        t = data.detach().requires_grad_(data.requires_grad)
        t.persistent = persistent
        t._is_buffer = True
        return t


__all__ = ["Parameter", "Buffer"]
