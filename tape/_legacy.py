"""PyTorch's legacy tensor types and names: ``FloatTensor`` and friends, ``Tensor.type()``,
``autograd.Variable``; and the ``new_*`` factories, ``type_as`` and storage sizes.

``tape.FloatTensor`` is not a subclass of ``Tensor`` (as in PyTorch): it constructs float32
tensors, and ``isinstance(x, tape.FloatTensor)`` asks whether ``x`` is a float32 tensor.
"""
from __future__ import annotations

import warnings
from typing import Optional, Union

import numpy as np

from . import _dtype as D
from ._creation import _checked_shape, _infer, _leaf, full, legacy_tensor
from ._device import check_device
from ._tensor import Size, Tensor, _plain
from .ops._spec import public


class tensortype(type):
    """The metaclass of the legacy types: ``isinstance`` compares dtypes."""

    dtype: D.dtype

    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, Tensor) and obj._dtype is cls.dtype

    def __call__(cls, *args, device=None):
        check_device(device)
        if len(args) == 1 and isinstance(args[0], Tensor):
            t = args[0]
            if t._dtype is not cls.dtype:
                raise TypeError(f"expected {D.legacy_name(cls.dtype)} tensor (got {D.legacy_name(t._dtype)} tensor)")
            return t._alias(t._storage())
        if len(args) == 1 and isinstance(args[0], (int, float)) and not isinstance(args[0], (bool, int)):
            raise TypeError(f"new(): data must be a sequence (got {type(args[0]).__name__})")
        if args and all(isinstance(a, int) and not isinstance(a, bool) for a in args) or \
                len(args) == 1 and isinstance(args[0], Size):
            shape = _checked_shape(args, "new")
            return _plain(np.zeros(shape, cls.dtype.np), cls.dtype)
        if not args:
            return _plain(np.zeros((0,), cls.dtype.np), cls.dtype)
        if len(args) > 1:
            got = ", ".join(type(a).__name__ for a in args)
            raise TypeError(f"new() received an invalid combination of arguments - got ({got})")
        v, _ = _infer(args[0], cls.dtype)
        return _plain(np.array(v, cls.dtype.np, order="C"), cls.dtype)

    def __repr__(cls) -> str:
        return f"<class 'torch.{cls.__name__}'>"


def _legacy_type(dt: D.dtype) -> tensortype:
    name = D.legacy_name(dt) + "Tensor"
    return tensortype(name, (), {"dtype": dt, "__module__": "tape", "__doc__": f"Legacy constructor of {dt!r} tensors."})


LEGACY_TYPES = {dt: _legacy_type(dt) for dt in D.ALL}
_BY_NAME = {f"torch.{cls.__name__}": cls for cls in LEGACY_TYPES.values()}
_BY_NAME.update({f"tape.{cls.__name__}": cls for cls in LEGACY_TYPES.values()})


@public("type", function=False)
def tensor_type(self, dtype: Union[None, str, D.dtype, tensortype] = None, non_blocking: bool = False,
                **kwargs) -> Union[str, Tensor]:
    """The tensor's type name (``'torch.FloatTensor'``), or the tensor converted to ``dtype`` (a
    dtype, a legacy type such as ``tape.DoubleTensor``, or its name)."""
    if "dtype" in kwargs:
        dtype = kwargs.pop("dtype")
    if kwargs:
        raise TypeError(f"type() got an unexpected keyword argument '{next(iter(kwargs))}'")
    if dtype is None:
        return f"torch.{D.legacy_name(self._dtype)}Tensor"
    if isinstance(dtype, str):
        if dtype.startswith(("torch.cuda.", "tape.cuda.")):
            check_device("cuda")
        cls = _BY_NAME.get(dtype)
        if cls is None:
            raise ValueError(f"invalid type: '{dtype}'")
        dtype = cls
    if isinstance(dtype, tensortype):
        dtype = dtype.dtype
    return self.to(dtype)


@public("type_as", function=False)
def type_as(self, other: Tensor) -> Tensor:
    """The tensor converted to the dtype of ``other``."""
    return self.to(other._dtype)


# -- new_* factories: the dtype (unless given) of ``self`` ------------------------------------
def _sized(size) -> tuple:
    return size if len(size) != 1 or isinstance(size[0], int) else tuple(size[0])


@public("new_zeros", function=False)
def new_zeros(self, *size, dtype: Optional[D.dtype] = None, device=None, requires_grad: bool = False,
              layout=None, pin_memory: bool = False) -> Tensor:
    """A tensor of zeros of the given size, of this tensor's dtype unless ``dtype`` is given."""
    return full(_sized(size), 0, dtype=dtype or self._dtype, device=device, requires_grad=requires_grad)


@public("new_ones", function=False)
def new_ones(self, *size, dtype: Optional[D.dtype] = None, device=None, requires_grad: bool = False,
             layout=None, pin_memory: bool = False) -> Tensor:
    """A tensor of ones of the given size, of this tensor's dtype unless ``dtype`` is given."""
    return full(_sized(size), 1, dtype=dtype or self._dtype, device=device, requires_grad=requires_grad)


@public("new_empty", function=False)
def new_empty(self, *size, dtype: Optional[D.dtype] = None, device=None, requires_grad: bool = False,
              layout=None, pin_memory: bool = False) -> Tensor:
    """An uninitialized (here: zero) tensor of the given size, of this tensor's dtype unless given."""
    return full(_sized(size), 0, dtype=dtype or self._dtype, device=device, requires_grad=requires_grad)


@public("new_full", function=False)
def new_full(self, size, fill_value, *, dtype: Optional[D.dtype] = None, device=None,
             requires_grad: bool = False, layout=None, pin_memory: bool = False) -> Tensor:
    """A tensor of the given size filled with ``fill_value``, of this tensor's dtype unless given."""
    return full(size, fill_value, dtype=dtype or self._dtype, device=device, requires_grad=requires_grad)


@public("new_tensor", function=False)
def new_tensor(self, data, *, dtype: Optional[D.dtype] = None, device=None, requires_grad: bool = False,
               layout=None, pin_memory: bool = False) -> Tensor:
    """A new leaf copying ``data``, of this tensor's dtype unless ``dtype`` is given."""
    check_device(device)
    if isinstance(data, Tensor):
        warnings.warn("To copy construct from a tensor, it is recommended to use sourceTensor.clone().detach() "
                      "or sourceTensor.clone().detach().requires_grad_(True), rather than "
                      "tensor.new_tensor(sourceTensor).", UserWarning, stacklevel=2)
    dt = dtype or self._dtype
    v, _ = _infer(data, dt)
    return _leaf(np.array(v, dt.np, order="C"), dt, requires_grad)


# -- storage sizes ---------------------------------------------------------------------------
@public("element_size", function=False)
def element_size(self) -> int:
    """Bytes per element."""
    return self._dtype.itemsize


def _nbytes(self) -> int:
    """Bytes of the tensor's elements (``numel() * element_size()``)."""
    return self.numel() * self._dtype.itemsize


def _itemsize(self) -> int:
    """Bytes per element."""
    return self._dtype.itemsize


public("_nbytes", properties=("nbytes",))(_nbytes)
public("_itemsize", properties=("itemsize",))(_itemsize)


class _VariableMeta(type):
    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """The deprecated wrapper PyTorch keeps: ``Variable(t, requires_grad=False)`` returns a new leaf
    sharing ``t``'s data; every tensor is an instance of ``Variable``."""

    def __new__(cls, data: Optional[Tensor] = None, requires_grad: bool = False,  # type: ignore[misc]
                volatile: bool = False) -> Tensor:
        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` instead.",
                          UserWarning, stacklevel=2)
        if data is None:
            return legacy_tensor()
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        t = data.detach()
        t.requires_grad_(requires_grad)
        return t
