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



# The Tensor methods an uninitialized tensor answers (PyTorch's ``_allowed_methods``): its size, copying into
# it, and conversions of dtype and device.  Properties (dtype, device, requires_grad, grad, ...) are
# answered too, as PyTorch's descriptors are; ``shape`` raises.
_UNINITIALIZED_ALLOWED = frozenset({
    "size", "copy_", "is_complex", "is_floating_point", "half", "float", "double", "char", "short", "int", "long",
    "cuda", "cpu", "to", "get_device", "materialize", "cls_to_become", "share_memory_", "persistent"})

# The operators that would compute with an uninitialized tensor's (absent) values.
_UNINITIALIZED_BLOCKED_DUNDERS = (
    "__abs__", "__add__", "__and__", "__array__", "__bool__", "__eq__", "__float__", "__floordiv__", "__format__",
    "__ge__", "__getitem__", "__gt__", "__iadd__", "__iand__", "__ifloordiv__", "__ilshift__", "__imod__",
    "__imul__", "__index__", "__int__", "__invert__", "__ior__", "__ipow__", "__irshift__", "__isub__", "__iter__",
    "__itruediv__", "__ixor__", "__le__", "__len__", "__lshift__", "__lt__", "__matmul__", "__mod__", "__mul__",
    "__ne__", "__neg__", "__or__", "__pos__", "__pow__", "__radd__", "__rand__", "__rfloordiv__", "__rlshift__",
    "__rmatmul__", "__rmod__", "__rmul__", "__ror__", "__rpow__", "__rrshift__", "__rshift__", "__rsub__",
    "__rtruediv__", "__rxor__", "__setitem__", "__sub__", "__truediv__", "__xor__", "__contains__", "__dir__",
    "__deepcopy__")


# (PyTorch names the method an operator calls)
_OPERATOR_METHODS = {"__add__": "add", "__radd__": "add", "__iadd__": "add_", "__sub__": "sub", "__isub__": "sub_",
                     "__mul__": "mul", "__rmul__": "mul", "__imul__": "mul_", "__truediv__": "div",
                     "__itruediv__": "div_", "__neg__": "neg", "__abs__": "abs", "__pow__": "pow",
                     "__matmul__": "matmul", "__iter__": "dim"}


def _uninitialized_use(cls: type, name: str) -> ValueError:
    name = _OPERATOR_METHODS.get(name, name)
    return ValueError(
        f"Attempted to use an uninitialized parameter in <method '{name}' of 'torch._C.TensorBase' objects>. "
        "This error happens when you are using a `LazyModule` or explicitly manipulating "
        f"`torch.nn.parameter.{cls.__name__}` objects. When using LazyModules Call `forward` with a dummy batch "
        "to initialize the parameters before calling torch functions")


class UninitializedTensorMixin:
    """What ``UninitializedParameter`` and ``UninitializedBuffer`` share: no values and no shape until
    :meth:`materialize`; any other use raises PyTorch's ``ValueError``."""

    __slots__ = ()
    cls_to_become: type

    def __getattribute__(self, name: str) -> Any:
        if name[0] == "_" or name in _UNINITIALIZED_ALLOWED:
            return object.__getattribute__(self, name)
        for klass in type(self).__mro__:
            if name in klass.__dict__:
                if callable(klass.__dict__[name]) and not isinstance(klass.__dict__[name], type):
                    raise _uninitialized_use(type(self), name)
                break
        return object.__getattribute__(self, name)

    def materialize(self, shape: Any, device: Any = None, dtype: Any = None) -> None:
        r"""Create a Parameter or Tensor with the same properties of the uninitialized one: ``shape``, on
        ``device`` and of ``dtype`` (by default the ones it was made with, or converted to)."""
        if device is None:
            device = self.data.device
        if dtype is None:
            dtype = self.data.dtype
        self.data = empty(shape, device=device, dtype=dtype)
        self.__class__ = self.cls_to_become

    @property
    def shape(self) -> Any:
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. This error usually happens in "
            "`load_state_dict` when trying to load an uninitialized parameter into an initialized one. Call "
            "`forward` to initialize the parameters before accessing their attributes.")

    def share_memory_(self) -> None:
        raise RuntimeError("Can't share memory on an uninitialized parameter or buffer. Call `forward` to "
                           "initialize the parameters before calling `module.share_memory()`.")

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__}>"

    __str__ = __repr__

    def __reduce_ex__(self, proto: int) -> tuple:
        return (self.__class__, (self.requires_grad,))


def _blocked_operator(name: str) -> Any:
    def operator(self, *args: Any, **kwargs: Any) -> Any:
        raise _uninitialized_use(type(self), name)
    operator.__name__ = name
    return operator


for _name in _UNINITIALIZED_BLOCKED_DUNDERS:
    setattr(UninitializedTensorMixin, _name, _blocked_operator(_name))
UninitializedTensorMixin.__hash__ = Tensor.__hash__      # (modules keep their tensors in sets and dicts)


def is_lazy(param: Any) -> bool:
    """Returns whether ``param`` is an ``UninitializedParameter`` or ``UninitializedBuffer``."""
    return isinstance(param, UninitializedTensorMixin)


def _mixin_first(cls: type) -> type:
    """``cls`` answering with ``UninitializedTensorMixin``'s attributes before its tensor base's.  (The mixin
    comes after the tensor class among the bases: ``materialize`` sets ``__class__``, which needs the
    tensor class as the layout base; PyTorch lists the mixin first.)"""
    for name, value in UninitializedTensorMixin.__dict__.items():
        if name not in cls.__dict__ and name not in ("__dict__", "__weakref__", "__slots__", "__module__", "__doc__",
                                                     "__qualname__", "__annotations__"):
            setattr(cls, name, value)
    return cls


@_mixin_first
class UninitializedParameter(Parameter, UninitializedTensorMixin):
    r"""A parameter that is not initialized: a :class:`Parameter` whose shape is not known yet (a lazy
    module's, until its first ``forward``).  It holds no data: only changing its dtype, moving it and
    :meth:`materialize` (which makes it a regular :class:`Parameter`) are allowed.  ``device`` and
    ``dtype`` set what it materializes with."""

    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device: Any = None, dtype: Any = None) -> "UninitializedParameter":
        return Tensor._make_subclass(cls, empty(0, device=device, dtype=dtype), requires_grad)

    def __deepcopy__(self, memo: dict) -> "UninitializedParameter":
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.requires_grad, self.data.device, self.data.dtype)
        memo[id(self)] = result
        return result


@_mixin_first
class UninitializedBuffer(Tensor, UninitializedTensorMixin):
    r"""A buffer that is not initialized: a tensor whose shape is not known yet (a lazy module's, until
    its first ``forward``); :meth:`materialize` makes it a regular tensor.  ``device`` and ``dtype`` set
    what it materializes with."""

    cls_to_become = Tensor

    def __new__(cls, requires_grad: bool = False, device: Any = None, dtype: Any = None,
                persistent: bool = True) -> "UninitializedBuffer":
        ret = Tensor._make_subclass(cls, empty(0, device=device, dtype=dtype), requires_grad)
        ret.persistent = persistent
        ret._is_buffer = True
        return ret


def _stays_uninitialized(name: str) -> Any:
    """A conversion of an ``UninitializedBuffer`` that gives one (as PyTorch's, whose results keep the
    subclass of a plain tensor's): ``module.double()`` before the dry run still leaves it to materialize."""
    method = getattr(Tensor, name)

    def convert(self, *args: Any, **kwargs: Any) -> Tensor:
        result = method(self, *args, **kwargs)
        if isinstance(result, UninitializedBuffer):       # (itself, or through another conversion)
            return result
        buffer = Tensor._make_subclass(UninitializedBuffer, result, result.requires_grad)
        buffer.persistent = getattr(self, "persistent", True)
        buffer._is_buffer = True
        return buffer
    convert.__name__ = name
    return convert


for _name in ("half", "float", "double", "char", "short", "int", "long", "cuda", "cpu", "to"):
    setattr(UninitializedBuffer, _name, _stays_uninitialized(_name))


__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer", "UninitializedTensorMixin",
           "is_lazy"]
