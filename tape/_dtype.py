"""Dtypes and PyTorch's type promotion."""
from __future__ import annotations

import numpy as np


class dtype:
    """A tensor element type, printed as PyTorch prints it (``torch.float32``), so that output
    compares equal to PyTorch's."""

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "arena", "_rank", "_cat")

    def __init__(self, name: str, np_dtype, rank: int, cat: int, arena: int | None):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = cat == 2
        self.is_signed = name != "bool" and name != "uint8"
        self.itemsize = self.np.itemsize
        self.arena = arena          # which value arena holds it on a tape (floats only)
        self._rank = rank           # order within a category, for promotion
        self._cat = cat             # 0 bool, 1 integer, 2 floating

    def __repr__(self) -> str:
        return "torch." + self.name

    def __reduce__(self):
        return self.name

    def to_real(self) -> "dtype":
        return self


bool_ = dtype("bool", np.bool_, 0, 0, None)
uint8 = dtype("uint8", np.uint8, 1, 1, None)
int8 = dtype("int8", np.int8, 1, 1, None)
int16 = dtype("int16", np.int16, 2, 1, None)
int32 = dtype("int32", np.int32, 3, 1, None)
int64 = dtype("int64", np.int64, 4, 1, None)
float16 = dtype("float16", np.float16, 1, 2, None)
float32 = dtype("float32", np.float32, 2, 2, 1)
float64 = dtype("float64", np.float64, 3, 2, 0)

ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64)
_BY_NP = {d.np: d for d in ALL}
ARENA_DTYPES = (float64, float32)   # index = dtype.arena


def from_numpy_dtype(npd) -> dtype:
    d = _BY_NP.get(np.dtype(npd))
    if d is None:
        raise TypeError(f"can't convert np.ndarray of type {np.dtype(npd)}. The only supported types are: "
                        "float64, float32, float16, int64, int32, int16, int8, uint8, and bool.")
    return d


def promote(a: dtype, b: dtype) -> dtype:
    """The smallest dtype that holds both (PyTorch's promoteTypes)."""
    if a is b:
        return a
    if a._cat != b._cat:
        return a if a._cat > b._cat else b
    if a is uint8 or b is uint8:
        # uint8 with a signed integer of the same or smaller size widens to int16.
        other = b if a is uint8 else a
        return int16 if other is int8 else other
    return a if a._rank >= b._rank else b


class _Default:
    value = float32


_default = _Default()


def get_default_dtype() -> dtype:
    """Return the current default floating point dtype (``tape.float32`` at start)."""
    return _default.value


def set_default_dtype(d: dtype) -> None:
    """Set the default floating point dtype: ``tape.float32`` or ``tape.float64``."""
    if not isinstance(d, dtype) or d not in (float32, float64, float16):
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default.value = d


def _category_combine(higher, lower):
    # PyTorch's combine_categories: a lower-priority operand only changes the
    # result when it is of a higher category (e.g. a float scalar with an int tensor).
    if higher is None:
        return lower
    if lower is None or higher.is_floating_point:
        return higher
    if higher is bool_ or lower.is_floating_point:
        return promote(higher, lower)
    return higher


def result_type(*operands) -> dtype:
    """PyTorch's result_type over tensors and Python numbers.

    Dimensioned tensors take priority over 0-d tensors, which take priority over
    Python numbers, except across categories (bool < integer < floating).
    """
    if len(operands) == 2:
        a, b = operands
        if type(a) is type(b) and type(a) not in (int, float, bool) and a._dtype is b._dtype:
            return a._dtype
    dim = zero = wrapped = None
    for x in operands:
        t = type(x)
        if t is float or t is int or t is bool:
            d = get_default_dtype() if t is float else (int64 if t is int else bool_)
            wrapped = d if wrapped is None else promote(wrapped, d)
        else:
            d = x.dtype
            if x._shape:
                dim = d if dim is None else promote(dim, d)
            else:
                zero = d if zero is None else promote(zero, d)
    return _category_combine(dim, _category_combine(zero, wrapped))


_LEGACY = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
           "float32": "Float", "float64": "Double", "float16": "Half"}


def legacy_name(dt: dtype) -> str:
    """The dtype's name in PyTorch's messages (``Float`` for float32, as in ``FloatTensor``)."""
    return _LEGACY[dt.name]


_CPP = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
        "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
        "bool": "bool"}


def cpp_name(dt: dtype) -> str:
    """The dtype as C++ prints its element type (``long int`` for int64): PyTorch's messages that
    print a TypeMeta."""
    return _CPP[dt.name]
