"""Comparisons: ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` (and ``eq`` ... ``ge``); logical and
bitwise ops (``&``, ``|``, ``^``, ``~``), closeness, classification (``isnan`` ...), truth
reductions (``all``, ``any``, ``count_nonzero``) and the positions of nonzero elements.

They give boolean or integer tensors (or Python bools), which nothing differentiates, so they
record no row: the operands are promoted and broadcast as for arithmetic, with its errors.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .._emit import D, Tensor, plain
from ._args import broadcast_pair, wrap_dim
from ._spec import public
from ._parser import Forms
from .elementwise import Operand, _is_number, _iterator_layout, _other_forms, check_operand, named_binary


def _compare(a: Tensor, b, fn) -> Tensor:
    if isinstance(b, Tensor):
        dt = D.result_type(a, b)
        broadcast_pair(a._shape, b._shape)
        vb = b._value().astype(dt.np, copy=False)
    else:
        dt = D.result_type(a, b)
        vb = b
    va = a._value().astype(dt.np, copy=False)
    return plain(_laid_out(np.asarray(fn(va, vb)), va, vb), D.bool_)


def _laid_out(y: np.ndarray, va: np.ndarray, vb) -> np.ndarray:
    # (PyTorch's layout of a result of operands in different layouts: ``elementwise._iterator_layout``)
    if y.ndim and type(vb) is np.ndarray and not (va.flags.c_contiguous and vb.flags.c_contiguous):
        return _iterator_layout(y, y.shape, va, vb)
    return y


# PyTorch's overloads of a comparison's method (its function form: ``input`` first, ``out``)
_COMPARE_FORMS = ("(Tensor other)", "(Number other)")
_COMPARE_FUNCTION = Forms("eq", "(Tensor input, Tensor other, *, Tensor out = None)",
                          "(Tensor input, Number other, *, Tensor out = None)")


_PLAIN = (Tensor, float, int)


def _comparison(name: str, symbol: str, fn, doc: str) -> tuple:
    """The method ``name`` of a comparison (the parser's error for an operand that is neither a
    tensor nor a number) and its operator (NotImplemented for such an operand: Python's error, or
    ``==``'s identity)."""
    forms = Forms(name, *_COMPARE_FORMS)

    def method(self, other: Operand) -> Tensor:
        if type(other) not in _PLAIN and not (isinstance(other, (Tensor, np.ndarray)) or _is_number(other)):
            forms.parse((other,), {})
        return _compare(self, check_operand(other, symbol), fn)

    def operator(self, other: Operand) -> Tensor:
        if type(other) not in _PLAIN and not (isinstance(other, (Tensor, np.ndarray)) or _is_number(other)):
            return NotImplemented
        return _compare(self, check_operand(other, symbol), fn)
    method.__doc__ = operator.__doc__ = doc
    return method, operator


for _names, _symbol, _fn in ((("eq",), "==", np.equal), (("ne", "not_equal"), "!=", np.not_equal),
                             (("lt", "less"), "<", np.less), (("le", "less_equal"), "<=", np.less_equal),
                             (("gt", "greater"), ">", np.greater), (("ge", "greater_equal"), ">=", np.greater_equal)):
    for _name in _names:        # (each alias its own method: the parser's error names the one called)
        _method, _operator = _comparison(_name, _symbol, _fn,
                                         f"``self {_symbol} other`` at each element, broadcasting.")
        public(_name, error_forms=_COMPARE_FUNCTION)(_method)
    public(f"__{_names[0]}__")(_operator)


# --- logical and bitwise ops ----------------------------------------------------------
def _bitwise(a: Tensor, b, name: str, fn) -> Tensor:
    """``fn`` of two integer or boolean operands, promoted and broadcast as for arithmetic."""
    dt = D.result_type(a, b)
    if isinstance(b, Tensor):       # (PyTorch's iterator broadcasts before the kernel is chosen)
        broadcast_pair(a._shape, b._shape)
    if dt.is_floating_point:
        raise NotImplementedError(f'"{name}_cpu" not implemented for \'{D.legacy_name(dt)}\'')
    if isinstance(b, Tensor):
        vb = b._value().astype(dt.np, copy=False)
    else:
        vb = np.asarray(b, dt.np)
    va = a._value().astype(dt.np, copy=False)
    return plain(_laid_out(np.asarray(fn(va, vb)), va, vb), dt)


def _bitwise_operand(other, op: str):
    if isinstance(other, Tensor) or (isinstance(other, (int, float, bool, np.number))):
        return other
    if isinstance(other, np.ndarray):
        return plain(np.array(other), D.from_numpy_dtype(other.dtype))
    raise TypeError(f"unsupported operand type(s) for {op}: 'Tensor' and '{type(other).__name__}'")


def _reflected(name: str):
    return lambda t, number: getattr(t, name)(number)


@public("__and__", "__rand__")
def _and(self, other: Operand) -> Tensor:
    """The bitwise AND of integer or boolean tensors (logical AND for booleans)."""
    return _bitwise(self, _bitwise_operand(other, "&"), "bitwise_and", np.bitwise_and)


public("bitwise_and", reflected=_reflected("bitwise_and"),
       error_forms=_other_forms("bitwise_and", reflected=""))(named_binary("bitwise_and", _and))


@public("__or__", "__ror__")
def _or(self, other: Operand) -> Tensor:
    """The bitwise OR of integer or boolean tensors (logical OR for booleans)."""
    return _bitwise(self, _bitwise_operand(other, "|"), "bitwise_or", np.bitwise_or)


public("bitwise_or", reflected=_reflected("bitwise_or"),
       error_forms=_other_forms("bitwise_or", reflected=""))(named_binary("bitwise_or", _or))


@public("__xor__", "__rxor__")
def _xor(self, other: Operand) -> Tensor:
    """The bitwise XOR of integer or boolean tensors (logical XOR for booleans)."""
    return _bitwise(self, _bitwise_operand(other, "^"), "bitwise_xor", np.bitwise_xor)


public("bitwise_xor", reflected=_reflected("bitwise_xor"),
       error_forms=_other_forms("bitwise_xor", reflected=""))(named_binary("bitwise_xor", _xor))


@public("bitwise_not")
def bitwise_not(self) -> Tensor:
    """The bitwise NOT of an integer or boolean tensor (logical NOT for booleans)."""
    if self._dtype.is_floating_point:
        raise NotImplementedError(f'"bitwise_not_cpu" not implemented for \'{D.legacy_name(self._dtype)}\'')
    return plain(np.asarray(np.invert(self._value())), self._dtype)


@public("__invert__")
def _invert(self) -> Tensor:
    if self._dtype.is_floating_point:
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
    return bitwise_not(self)


def _tensor_other(other, name: str, position: int = 1) -> Tensor:
    if not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument 'other' (position {position}) must be Tensor, not "
                        f"{type(other).__name__}")
    return other


def _logical(a: Tensor, b: Tensor, fn) -> Tensor:
    broadcast_pair(a._shape, b._shape)
    va, vb = a._value().astype(bool), b._value().astype(bool)
    return plain(_laid_out(np.asarray(fn(va, vb)), va, vb), D.bool_)


@public("logical_and")
def logical_and(self, other: Tensor) -> Tensor:
    """Elementwise logical AND (nonzero counts as True)."""
    return _logical(self, _tensor_other(other, "logical_and"), np.logical_and)


@public("logical_or")
def logical_or(self, other: Tensor) -> Tensor:
    """Elementwise logical OR (nonzero counts as True)."""
    return _logical(self, _tensor_other(other, "logical_or"), np.logical_or)


@public("logical_xor")
def logical_xor(self, other: Tensor) -> Tensor:
    """Elementwise logical XOR (nonzero counts as True)."""
    return _logical(self, _tensor_other(other, "logical_xor"), np.logical_xor)


@public("logical_not")
def logical_not(self) -> Tensor:
    """Elementwise logical NOT (nonzero counts as True)."""
    return plain(np.asarray(np.logical_not(self._value())), D.bool_)


# --- closeness and classification -----------------------------------------------------
def _close(a: Tensor, b: Tensor, rtol: float, atol: float, equal_nan: bool, name: str) -> np.ndarray:
    b = _tensor_other(b, name)
    if a._dtype is not b._dtype:
        raise RuntimeError(f"{D.legacy_name(a._dtype)} did not match {D.legacy_name(b._dtype)}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol}")
    broadcast_pair(a._shape, b._shape)
    va, vb = a._value(), b._value()
    out = va == vb
    if a._dtype is not D.bool_:
        fa, fb = va.astype(np.float64), vb.astype(np.float64)
        with np.errstate(invalid="ignore"):         # (inf - inf: such pairs are decided above)
            near = np.abs(fa - fb) <= atol + rtol * np.abs(fb)
        out = out | (near & np.isfinite(fa) & np.isfinite(fb))
        if equal_nan:
            out = out | (np.isnan(fa) & np.isnan(fb))
    return np.asarray(out)


@public("isclose")
def isclose(self, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """Whether each element of ``self`` is close to ``other``'s:
    ``|self - other| <= atol + rtol * |other|`` (equal infinities count as close)."""
    return plain(_close(self, other, rtol, atol, equal_nan, "isclose"), D.bool_)


@public("allclose")
def allclose(self, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """Whether all elements of ``self`` and ``other`` are close (see ``isclose``), as a Python bool."""
    return bool(_close(self, other, rtol, atol, equal_nan, "allclose").all())


@public("equal")
def equal(self, other: Tensor) -> bool:
    """True if both tensors have the same size and elements, as a Python bool."""
    other = _tensor_other(other, "equal")
    if self._shape != other._shape:
        return False
    dt = D.promote(self._dtype, other._dtype)
    return bool(np.array_equal(self._value().astype(dt.np), other._value().astype(dt.np)))


def _classify(x: Tensor, fn, other: bool) -> Tensor:
    if not x._dtype.is_floating_point:
        return plain(np.full(x._shape, other), D.bool_)
    return plain(np.asarray(fn(x._value())), D.bool_)


@public("isnan")
def isnan(self) -> Tensor:
    """Whether each element is NaN."""
    return _classify(self, np.isnan, False)


@public("isinf")
def isinf(self) -> Tensor:
    """Whether each element is positive or negative infinity."""
    return _classify(self, np.isinf, False)


@public("isposinf")
def isposinf(self) -> Tensor:
    """Whether each element is positive infinity."""
    return _classify(self, np.isposinf, False)


@public("isneginf")
def isneginf(self) -> Tensor:
    """Whether each element is negative infinity."""
    return _classify(self, np.isneginf, False)


@public("isfinite")
def isfinite(self) -> Tensor:
    """Whether each element is finite (not infinite, not NaN)."""
    return _classify(self, np.isfinite, True)


@public("isreal")
def isreal(self) -> Tensor:
    """Whether each element is real-valued (always, for tape's real dtypes)."""
    return plain(np.ones(self._shape, np.bool_), D.bool_)


# --- truth reductions and nonzero positions ------------------------------------------
def _reduce_dims(x: Tensor, dim, name: str) -> Optional[tuple]:
    """``dim`` (None, an int or a sequence of ints) as a tuple of wrapped dims, or None for all."""
    if dim is None:
        return None
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer, tuple, list)):
        raise TypeError(f"{name}(): argument 'dim' must be tuple of ints, not {type(dim).__name__}")
    many = not isinstance(dim, (int, np.integer))
    dims = [wrap_dim(d, len(x._shape)) for d in (dim if many else (dim,))]
    for k, d in enumerate(dims):
        if d in dims[:k]:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return tuple(dims)


def _truth(x: Tensor, dim, keepdim: bool, name: str, fn) -> Tensor:
    dims = _reduce_dims(x, dim, name)
    v = x._value() != 0
    axes = dims if dims is None else tuple(d for d in dims if d < v.ndim)
    out = np.asarray(fn(v, axis=axes, keepdims=bool(keepdim)))
    dt = D.uint8 if x._dtype is D.uint8 else D.bool_
    return plain(out.astype(dt.np), dt)


# PyTorch's overloads (the method's take the arguments given as positional: it cannot tell)
_TRUTH = Forms("all", "()", "(tuple of ints dim = None, bool keepdim = False)", "(int dim, bool keepdim = False)")
_TRUTH_FUNCTION = Forms("all", "(Tensor input, *, Tensor out = None)",
                        "(Tensor input, tuple of ints dim = None, bool keepdim = False, *, Tensor out = None)",
                        "(Tensor input, int dim, bool keepdim = False, *, Tensor out = None)")
_COUNT = Forms("count_nonzero", "(int dim = None)", "(tuple of ints dim)")


def _dims_given(dim) -> bool:
    return dim is None or isinstance(dim, (int, np.integer, tuple, list)) and not isinstance(dim, bool)


@public("all", error_forms=_TRUTH_FUNCTION)
def all_(self, dim=None, keepdim: bool = False) -> Tensor:
    """Whether all elements (along ``dim``: an int or a tuple of ints) are nonzero."""
    if not _dims_given(dim):
        _TRUTH.named("all").parse((dim, keepdim) if keepdim else (dim,), {})
    return _truth(self, dim, keepdim, "all", np.all)


@public("any", error_forms=_TRUTH_FUNCTION)
def any_(self, dim=None, keepdim: bool = False) -> Tensor:
    """Whether any element (along ``dim``: an int or a tuple of ints) is nonzero."""
    if not _dims_given(dim):
        _TRUTH.named("any").parse((dim, keepdim) if keepdim else (dim,), {})
    return _truth(self, dim, keepdim, "any", np.any)


@public("count_nonzero", error_forms=Forms("count_nonzero", *(f"(Tensor input, {f.text[1:]}" for f in _COUNT.forms)))
def count_nonzero(self, dim=None) -> Tensor:
    """The number of nonzero elements (along ``dim``: an int or a tuple of ints), as int64."""
    if not _dims_given(dim):
        _COUNT.parse((dim,), {})
    dims = _reduce_dims(self, dim, "count_nonzero")
    v = self._value() != 0
    axes = dims if dims is None else tuple(d for d in dims if d < v.ndim)
    return plain(np.asarray(np.count_nonzero(v, axis=axes), np.int64), D.int64)


@public("nonzero")
def nonzero(self, *, as_tuple: bool = False):
    """The indices of the nonzero elements: an ``(n, ndim)`` int64 tensor, or with
    ``as_tuple=True`` one 1-D tensor per dim (one for a 0-d tensor)."""
    v = self._value()
    if as_tuple:
        if v.ndim == 0:
            return (plain(np.zeros(int(v != 0), np.int64), D.int64),)
        return tuple(plain(i.astype(np.int64), D.int64) for i in np.nonzero(v))
    return plain(np.argwhere(v).astype(np.int64), D.int64)


@public("argwhere")
def argwhere(self) -> Tensor:
    """The indices of the nonzero elements, as an ``(n, ndim)`` int64 tensor."""
    return nonzero(self)
