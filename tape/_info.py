"""What PyTorch tells about dtypes and tensors without computing on them: ``finfo``/``iinfo``,
``promote_types``, ``result_type``, ``can_cast``, the ``is_*`` predicates, and its constants."""
from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np

from . import _dtype as D
from ._tensor import Tensor

pi = math.pi
e = math.e
inf = math.inf
nan = math.nan
newaxis = None


def _short(x: float) -> str:
    return f"{x:.6g}"


class finfo:
    """Machine limits of a floating point dtype (the default dtype when none is given):
    ``bits``, ``eps``, ``max``, ``min``, ``tiny`` (= ``smallest_normal``), ``resolution``, ``dtype``."""

    def __init__(self, type: Optional[D.dtype] = None) -> None:
        if type is None:
            type = D.get_default_dtype()
        if not isinstance(type, D.dtype):
            raise TypeError(f"finfo(): argument 'type' (position 1) must be torch.dtype, not "
                            f"{_type_name(type)}")
        if not type.is_floating_point:
            raise TypeError("torch.finfo() requires a floating point input type. Use torch.iinfo to handle "
                            "'torch.finfo'")
        info = np.finfo(type.np)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)
        self.dtype = type.name

    def __repr__(self) -> str:
        return (f"finfo(resolution={_short(self.resolution)}, min={_short(self.min)}, max={_short(self.max)}, "
                f"eps={_short(self.eps)}, smallest_normal={_short(self.smallest_normal)}, "
                f"tiny={_short(self.tiny)}, dtype={self.dtype})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, finfo) and other.dtype == self.dtype

    __hash__ = None


class iinfo:
    """Machine limits of an integer dtype: ``bits``, ``max``, ``min``, ``dtype``."""

    def __init__(self, type: D.dtype) -> None:
        if not isinstance(type, D.dtype):
            raise TypeError(f"iinfo(): argument 'type' (position 1) must be torch.dtype, not {_type_name(type)}")
        if type is D.bool_:
            raise TypeError("torch.bool is not supported by torch.iinfo")
        if type.is_floating_point:
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to handle 'torch.iinfo'")
        info = np.iinfo(type.np)
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = type.name

    def __repr__(self) -> str:
        return f"iinfo(min={_short(self.min)}, max={_short(self.max)}, dtype={self.dtype})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, iinfo) and other.dtype == self.dtype

    __hash__ = None


def _type_name(x: object) -> str:
    return type(x).__name__


def _dtype_arg(fn: str, name: str, position: int, x: object) -> D.dtype:
    if not isinstance(x, D.dtype):
        raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be torch.dtype, not "
                        f"{_type_name(x)}")
    return x


def promote_types(type1: D.dtype, type2: D.dtype) -> D.dtype:
    """The smallest dtype to which both ``type1`` and ``type2`` convert without losing their kind
    (bool < integer < floating) or range."""
    return D.promote(_dtype_arg("promote_types", "type1", 1, type1), _dtype_arg("promote_types", "type2", 2, type2))


_Operand = Union[Tensor, int, float, bool]
_NUMBERS = (int, float, bool)


def result_type(tensor: _Operand, other: _Operand) -> D.dtype:
    """The dtype an arithmetic op on ``tensor`` and ``other`` gives (each a tensor or a number)."""
    ok = all(isinstance(x, Tensor) or (type(x) in _NUMBERS) for x in (tensor, other))
    if not ok:
        got = ", ".join(_type_name(x) for x in (tensor, other))
        bad = ", ".join(f"!{_type_name(x)}!" for x in (tensor, other))
        raise TypeError(f"result_type() received an invalid combination of arguments - got ({got}), but expected "
                        "one of:\n * (Tensor tensor, Tensor other)\n      didn't match because some of the arguments "
                        f"have invalid types: ({bad})\n * (Number scalar, Tensor tensor)\n      didn't match because "
                        f"some of the arguments have invalid types: ({bad})\n * (Tensor tensor, Number other)\n      "
                        f"didn't match because some of the arguments have invalid types: ({bad})\n * (Number scalar1, "
                        f"Number scalar2)\n      didn't match because some of the arguments have invalid types: ({bad})\n")
    return D.result_type(tensor, other)


def can_cast(from_: D.dtype, to: D.dtype) -> bool:
    """Whether PyTorch's type promotion allows a value of dtype ``from_`` to be written to ``to``
    (no conversion to a lower kind: floating to integer, or anything but bool to bool)."""
    from_ = _dtype_arg("can_cast", "from_", 1, from_)
    to = _dtype_arg("can_cast", "to", 2, to)
    return from_._cat <= to._cat


def _tensor_arg(fn: str, name: str, position: int, x: object) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be Tensor, not {_type_name(x)}")
    return x


def is_complex(input: Tensor) -> bool:
    """False: tape has no complex dtypes."""
    return _tensor_arg("is_complex", "input", 1, input).is_complex()


def is_nonzero(input: Tensor) -> bool:
    """Whether the one element of ``input`` is not zero."""
    return _tensor_arg("is_nonzero", "input", 1, input).is_nonzero()


def is_same_size(input: Tensor, other: Tensor) -> bool:
    """Whether ``input`` and ``other`` have the same shape."""
    _tensor_arg("is_same_size", "other", 2, other)
    return _tensor_arg("is_same_size", "input", 1, input).is_same_size(other)


def is_signed(input: Tensor) -> bool:
    """Whether ``input``'s dtype is signed (every dtype but bool and uint8)."""
    return _tensor_arg("is_signed", "input", 1, input).is_signed()


__all__ = ["can_cast", "e", "finfo", "iinfo", "inf", "is_complex", "is_nonzero", "is_same_size", "is_signed",
           "nan", "newaxis", "pi", "promote_types", "result_type"]
