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
from ._creation import _allocated, _checked_shape, _infer, _leaf, full, legacy_tensor
from ._device import check_device
from ._graph import grad_fn, new_accumulator
from ._storage import TypedStorage, UntypedStorage
from ._tensor import _CPP_NAMES, Size, Tensor, _plain
from ._state import state
from .ops._parser import Forms
from .ops._spec import public
from .ops.as_strided import _storage_view
from .ops.layout import K_ALIAS, layout


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


_NEW_FULL = Forms("new_full", "(tuple of ints size, Number fill_value, *, torch.dtype dtype = None, "
                  "torch.layout layout = None, torch.device device = None, bool pin_memory = False, "
                  "bool requires_grad = False)")


@public("new_full", function=False)
def new_full(self, *args, **kwargs) -> Tensor:
    """new_full(size, fill_value, *, dtype=None, layout=None, device=None, pin_memory=False,
    requires_grad=False): a tensor of the given size filled with ``fill_value``, of this tensor's
    dtype unless ``dtype`` is given."""
    _, given = _NEW_FULL.parse(args, kwargs)
    return full(given["size"], given["fill_value"], dtype=given.get("dtype") or self._dtype,
                device=given.get("device"), requires_grad=given.get("requires_grad", False))


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


# -- Tensor.new: the legacy constructor of this tensor's dtype ----------------------------------
_NEW_FORMS = ("new() received an invalid combination of arguments - got ({}), but expected one of:\n"
              " * (*, torch.device device = None)\n * (torch.Storage storage)\n * (Tensor other)\n"
              " * (tuple of ints size, *, torch.device device = None)\n"
              " * (object data, *, torch.device device = None)\n")


def _shown_type(v) -> str:
    return "torch.dtype" if isinstance(v, D.dtype) else type(v).__name__


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _options_text(dt: D.dtype) -> str:
    return (f"TensorOptions(dtype={_CPP_NAMES[dt.name]}, device=cpu, layout=Strided, requires_grad=false (default), "
            "pinned_memory=false (default), memory_format=(nullopt))")


def _from_storage(self: Tensor, storage) -> Tensor:
    """A tensor of this dtype over the memory of ``storage`` (an untyped one's bytes, or a typed
    one's elements of the same dtype)."""
    dt = self._dtype
    if isinstance(storage, TypedStorage):
        if storage.dtype is not dt:
            raise RuntimeError(f"Expected a Storage of type {D.legacy_name(dt)} or an UntypedStorage, but got type "
                               f"{D.legacy_name(storage.dtype)} for argument 1 'storage'")
        return _plain(storage._elements.reshape(-1), dt)
    raw = storage._elements.reshape(-1).view(np.uint8)
    return _plain(raw[:raw.size // dt.itemsize * dt.itemsize].view(dt.np), dt)


@public("new", function=False)
def tensor_new_method(self, *args, **kwargs) -> Tensor:
    """The legacy constructor, with this tensor's dtype: ``new()`` (empty), ``new(*sizes)`` or
    ``new(torch.Size)`` (uninitialized), ``new(data)`` (a copy of a sequence), ``new(tensor)``
    (a view of a tensor of the same dtype) or ``new(storage)`` (a tensor over its memory).
    Prefer ``new_empty``, ``new_tensor`` ..."""
    check_device(kwargs.pop("device", None))
    if "size" in kwargs and not args:
        args = (kwargs.pop("size"),)
        if not isinstance(args[0], Size):
            args = (Size(args[0]),) if isinstance(args[0], (tuple, list)) and all(map(_is_int, args[0])) else args
    if kwargs:
        got = ", ".join([_shown_type(a) for a in args] + [f"{k}={_shown_type(v)}" for k, v in kwargs.items()])
        raise TypeError(_NEW_FORMS.format(got + (", " if not args else "")))
    dt = self._dtype
    if len(args) == 1 and not _is_int(args[0]) and not isinstance(args[0], Size):
        data = args[0]
        if isinstance(data, Tensor):
            if data._dtype is not dt:
                raise TypeError(f"expected {_options_text(dt)} (got {_options_text(data._dtype)})")
            return layout(data, lambda a: a.view(), K_ALIAS, view=True)
        if isinstance(data, (UntypedStorage, TypedStorage)):
            return _from_storage(self, data)
        if isinstance(data, str):
            raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
        if not isinstance(data, (list, tuple, np.ndarray)):
            raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
        v, _ = _infer(data, dt)
        return _plain(np.array(v, dt.np, order="C"), dt)
    if args and _is_int(args[0]):
        for i, a in enumerate(args):
            if not _is_int(a):
                raise TypeError(f"new(): argument 'size' failed to unpack the object at pos {i + 1} with error "
                                f"\"type must be tuple of ints,but got {type(a).__name__}\"")
    elif len(args) > 1:
        raise TypeError(_NEW_FORMS.format(", ".join(map(_shown_type, args))))
    shape = _checked_shape(args, "new") if args else (0,)
    return _plain(_allocated(lambda: np.zeros(shape, dt.np), shape, dt), dt)


# -- Tensor.set_: the tensor made to view another's memory ------------------------------------------
_SET_FORMS = ("set_() received an invalid combination of arguments - got ({}), but expected one of:\n * ()\n"
              " * (torch.Storage source)\n * (torch.Storage source, int storage_offset, tuple of ints size, "
              "tuple of ints stride = None)\n * (Tensor source)\n * (Tensor source, int storage_offset, tuple of ints "
              "size, tuple of ints stride = ())\n")


def _ints_arg(v) -> bool:
    return isinstance(v, (tuple, list)) and all(map(_is_int, v))


@public("set_", function=False)
def set_(self, *args, **kwargs) -> Tensor:
    """Make the tensor hold the elements of ``source`` (a tensor of the same dtype or a storage)
    in place, sharing its memory: all of it (``set_(source)``), or the elements at
    ``storage_offset`` with the given ``size`` and ``stride`` (contiguous by default); ``set_()``
    gives it an empty storage of its own.  The memory must hold those elements (PyTorch grows a
    storage; tape refuses).  A tensor with history, or a source that requires grad, is refused
    while grad mode is on (PyTorch's result would have a node whose backward raises).  A leaf that
    requires grad gets a new ``AccumulateGrad`` node: graphs recorded before reach it through the
    old one, which still accumulates into its ``.grad``."""
    names = ("source", "storage_offset", "size", "stride")
    given = dict(zip(names, args))
    given.update(kwargs)
    if len(args) > 4 or set(given) - set(names) or len(given) == 2 or any(n in kwargs for n in names[:len(args)]):
        raise TypeError(_SET_FORMS.format(", ".join([_shown_type(a) for a in args]
                                                    + [f"{k}={_shown_type(v)}" for k, v in kwargs.items()])))
    source, offset = given.get("source"), given.get("storage_offset")
    size, stride = given.get("size"), given.get("stride", ())
    if (source is None and given) or (source is not None and not isinstance(
            source, (Tensor, UntypedStorage, TypedStorage))) or (offset is not None and not (
            _is_int(offset) and _ints_arg(size) and _ints_arg(stride))):
        raise TypeError(_SET_FORMS.format(", ".join(_shown_type(a) for a in (*args, *kwargs.values()))))
    self._check_inplace()
    dt = self._dtype
    if isinstance(source, TypedStorage) and source.dtype is not dt:
        raise RuntimeError(f"Expected a Storage of type {_CPP_NAMES[dt.name]} or an UntypedStorage, but got type "
                           f"{D.legacy_name(source.dtype)} for argument 1 'storage'")
    src_dt = source._dtype if isinstance(source, Tensor) else dt
    if src_dt is not dt:
        raise RuntimeError(f"Could not set tensor of type {_CPP_NAMES[src_dt.name]} to a tensor of type "
                           f"{_CPP_NAMES[dt.name]}")
    if state.grad and (self._tape is not None or isinstance(source, Tensor) and source._rg):
        raise RuntimeError("tape: set_ of a tensor with history, or from a source that requires grad, is not "
                           "supported while grad mode is on (PyTorch's result has a node whose backward raises); "
                           "call it under tape.no_grad()")
    if source is None:
        v = np.zeros((0,), dt.np)
    elif offset is None and isinstance(source, Tensor):
        v = source._storage()
    else:
        base = source if isinstance(source, Tensor) else _from_storage(self, source)
        if offset is None:
            v = base._storage()
        else:
            size, stride = [int(n) for n in size], [int(d) for d in stride]
            if offset < 0:
                raise RuntimeError(f"Tensor: invalid storage offset {offset}")
            if stride and len(stride) != len(size):
                raise RuntimeError(f"unequal size length ({len(size)}) and stride length ({len(stride)})")
            if any(d < 0 for d in stride):
                raise RuntimeError(f"Storage size calculation overflowed with sizes={size} and strides={stride}")
            stride = stride or [int(np.prod(size[k + 1:])) for k in range(len(size))]
            v = _storage_view(base, size, stride, offset)[1]
    self._f = None
    self._v = v
    self._shape = tuple(v.shape)
    self._vb = None
    if isinstance(source, Tensor):
        self._origins = source._origin()       # (a change through either is the other's too)
    self._bump()
    if self._tape is None and self._rg:
        new_accumulator(self)
    return self


# -- deprecated and private attributes ---------------------------------------------------------
def _volatile_get(self) -> bool:
    warnings.warn("volatile was removed (Variable.volatile is always False)", UserWarning, stacklevel=2)
    return False


def _volatile_set(self, value) -> None:
    warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` instead.",
                  UserWarning, stacklevel=2)


def _volatile_del(self) -> None:
    _volatile_set(self, None)


volatile = property(_volatile_get, _volatile_set, _volatile_del,
                    doc="Removed (always False, with a warning): use ``tape.no_grad()``.")


def _grad_fn_set(self, value) -> None:
    if value is not None:
        raise RuntimeError("_grad_fn can be only set to None")
    self.detach_()


def _grad_fn_del(self) -> None:
    raise RuntimeError("Deletion of _grad_fn not allowed. Detach tensor instead!")


private_grad_fn = property(grad_fn, _grad_fn_set, _grad_fn_del,
                           doc="``grad_fn``; setting it to None detaches the tensor in place (``detach_()``).")


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
