r"""``tape.testing``: PyTorch's ``assert_close`` and ``make_tensor``, and hypothesis strategies.

``assert_close`` and ``make_tensor`` need nothing beyond tape.  The property-based helpers
(:func:`shapes`, :func:`broadcastable_shapes`, :func:`tensors`, :func:`check_grads`, see
``tape/testing/_strategies.py``) need `hypothesis <https://hypothesis.readthedocs.io>`_, a
test-time dependency only: they are loaded on first use, so ``import tape`` imports no hypothesis.
"""
from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional, Union

import numpy as np

from .. import _dtype as D
from .._creation import empty, randint, tensor
from .._info import finfo, iinfo
from .._layout import memory_format as _MemoryFormat
from .._tensor import Tensor
from ..autograd.gradcheck import GradcheckError

__all__ = ["GradcheckError", "assert_allclose", "assert_close", "broadcastable_shapes", "check_grads", "make_tensor", "shapes",
           "tensors"]

_STRATEGIES = ("broadcastable_shapes", "check_grads", "shapes", "tensors")


def __getattr__(name: str) -> Any:
    if name in _STRATEGIES:
        return getattr(importlib.import_module("tape.testing._strategies"), name)
    raise AttributeError(f"module 'tape.testing' has no attribute '{name}'")


# --- assert_close -------------------------------------------------------------------------------
# Default (rtol, atol) by dtype, as PyTorch's.
_TOLERANCES = {"float16": (1e-3, 1e-5), "float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7)}


def _tolerances(*dtypes: D.dtype) -> tuple:
    pairs = [_TOLERANCES.get(d.name, (0.0, 0.0)) for d in dtypes]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _number(x) -> str:
    return repr(x.item() if isinstance(x, np.generic) else x)


def _where(path: list) -> str:
    return f"\n\nThe failure occurred for item {''.join(f'[{k!r}]' for k in path)}" if path else ""


class _Mismatch(AssertionError):
    """A failed comparison; ``path`` is where in nested sequences and mappings it happened."""

    def __init__(self, message: str, path: list) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def _closeness(a: np.ndarray, e: np.ndarray, rtol: float, atol: float, equal_nan: bool) -> tuple:
    """Which elements are close, the absolute and the relative differences (in their dtype)."""
    if a.dtype.kind in "biu":
        exact = a == e
        abs_diff = np.abs(a.astype(np.int64) - e.astype(np.int64))
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = (abs_diff / np.abs(e.astype(np.int64))).astype(D.get_default_dtype().np)
        return exact, abs_diff, rel
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        abs_diff = np.abs(a - e)
        close = (a == e) | (abs_diff <= atol + rtol * np.abs(e))
        if equal_nan:
            close |= np.isnan(a) & np.isnan(e)
        rel = abs_diff / np.abs(e)
    return close, abs_diff, rel


def _scalar_rel(abs_diff, expected) -> float:
    """A 0-d comparison's relative difference, in Python floats (as PyTorch reports it)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(abs_diff) / abs(np.float64(expected)))


def _compare_tensors(actual: Tensor, expected: Tensor, rtol, atol, equal_nan: bool, check_dtype: bool,
                     check_stride: bool, path: list) -> None:
    if actual._shape != expected._shape:
        raise _Mismatch(f"The values for attribute 'shape' do not match: {actual.shape} != {expected.shape}.", path)
    if check_dtype and actual._dtype is not expected._dtype:
        raise _Mismatch(f"The values for attribute 'dtype' do not match: {actual.dtype} != {expected.dtype}.", path)
    if check_stride and actual.stride() != expected.stride():
        raise _Mismatch(f"The values for attribute 'stride()' do not match: {actual.stride()} != "
                        f"{expected.stride()}.", path)
    if rtol is None:
        rtol, atol = _tolerances(actual._dtype, expected._dtype)
    common = np.result_type(actual._value().dtype, expected._value().dtype)
    a = np.asarray(actual._value(), common)
    e = np.asarray(expected._value(), common)
    close, abs_diff, rel = _closeness(a, e, rtol, atol, equal_nan)
    if close.all():
        return
    exact = rtol == 0 and atol == 0
    if not actual._shape:
        allowed_abs = "" if exact else f" (up to {atol} allowed)"
        allowed_rel = "" if exact else f" (up to {rtol} allowed)"
        raise _Mismatch(f"Scalars are not {'equal' if exact else 'close'}!\n\n"
                        f"Expected {_number(e.item())} but got {_number(a.item())}.\n"
                        f"Absolute difference: {_number(abs_diff[()])}{allowed_abs}\n"
                        f"Relative difference: {_number(_scalar_rel(abs_diff[()], e[()]))}{allowed_rel}", path)
    bad = ~close
    n_bad, n = int(bad.sum()), close.size
    masked_abs = np.where(bad, abs_diff, 0)
    masked_rel = np.where(bad, rel, 0)
    i_abs = np.unravel_index(int(np.argmax(np.where(np.isnan(masked_abs), np.inf, masked_abs))), close.shape)
    i_rel = np.unravel_index(int(np.argmax(np.where(np.isnan(masked_rel), np.inf, masked_rel))), close.shape)
    raise _Mismatch(f"Tensor-likes are not {'equal' if exact else 'close'}!\n\n"
                    f"Mismatched elements: {n_bad} / {n} ({100 * n_bad / n:.1f}%)\n"
                    f"Greatest absolute difference: {_number(abs_diff[i_abs])} at index {tuple(int(i) for i in i_abs)}"
                    f"{'' if exact else f' (up to {atol} allowed)'}\n"
                    f"Greatest relative difference: {_number(rel[i_rel])} at index {tuple(int(i) for i in i_rel)}"
                    f"{'' if exact else f' (up to {rtol} allowed)'}", path)


def _compare_numbers(actual, expected, rtol, atol, equal_nan: bool, check_dtype: bool, path: list) -> None:
    if isinstance(actual, bool) or isinstance(expected, bool):
        if actual is not expected and actual != expected:
            raise _Mismatch(f"Booleans mismatch: {actual} is not {expected}", path)
        return
    if check_dtype and type(actual) is not type(expected):
        raise _Mismatch(f"The (d)types do not match: {type(actual)} != {type(expected)}.", path)
    integral = isinstance(actual, int) and isinstance(expected, int)
    if rtol is None:
        rtol, atol = (0.0, 0.0) if integral else _TOLERANCES["float64"]
    a, e = float(actual), float(expected)
    if a == e or (equal_nan and math.isnan(a) and math.isnan(e)):
        return
    abs_diff = abs(actual - expected) if integral else abs(a - e)
    if abs_diff <= atol + rtol * abs(e):
        return
    rel = abs_diff / abs(e) if e != 0 else math.inf
    exact = rtol == 0 and atol == 0
    raise _Mismatch(f"Scalars are not {'equal' if exact else 'close'}!\n\nExpected {expected!r} but got {actual!r}.\n"
                    f"Absolute difference: {abs_diff!r}{'' if exact else f' (up to {atol} allowed)'}\n"
                    f"Relative difference: {rel!r}{'' if exact else f' (up to {rtol} allowed)'}", path)


def _compare(actual, expected, options: dict, path: list) -> None:
    if isinstance(actual, Tensor) and isinstance(expected, Tensor):
        return _compare_tensors(actual, expected, path=path, **options)
    numbers = (int, float, bool)
    if isinstance(actual, numbers) and isinstance(expected, numbers):
        return _compare_numbers(actual, expected, options["rtol"], options["atol"], options["equal_nan"],
                                options["check_dtype"], path)
    sequences = isinstance(actual, Sequence) and isinstance(expected, Sequence) and \
        not isinstance(actual, str) and not isinstance(expected, str)
    if sequences:
        if len(actual) != len(expected):
            raise _Mismatch(f"The length of the sequences mismatch: {len(actual)} != {len(expected)}", path)
        for k, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, options, path + [k])
        return
    if isinstance(actual, Mapping) and isinstance(expected, Mapping):
        missing = sorted(set(expected) - set(actual), key=repr)
        extra = sorted(set(actual) - set(expected), key=repr)
        if missing or extra:
            raise _Mismatch(f"The keys of the mappings do not match:\nMissing keys in the actual mapping: {missing}\n"
                            f"Additional keys in the actual mapping: {extra}", path)
        for key in expected:
            _compare(actual[key], expected[key], options, path + [key])
        return
    raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and {type(expected)}.")


def assert_close(actual: Any, expected: Any, *, allow_subclasses: bool = True, rtol: Optional[float] = None,
                 atol: Optional[float] = None, equal_nan: bool = False, check_device: bool = True,
                 check_dtype: bool = True, check_layout: bool = True, check_stride: bool = False,
                 msg: Optional[Union[str, Callable[[str], str]]] = None) -> None:
    r"""Assert that ``actual`` and ``expected`` are close.

    Tensors are close when they have the same shape (and, with ``check_dtype``, dtype; with
    ``check_stride``, strides) and ``|actual - expected| <= atol + rtol * |expected|`` holds
    elementwise (infinities must be equal; NaNs count as equal with ``equal_nan``).  Without
    ``rtol``/``atol`` the tolerances are PyTorch's defaults for the dtype (exact for integers and
    bools).  Python numbers are compared as 0-d values; sequences and mappings are compared item
    by item.  Raises ``AssertionError`` with PyTorch's message (``msg`` replaces it, or, when
    callable, makes it from the generated one).
    """
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no "
                         f"{'rtol' if rtol is None else 'atol'}.")
    options = dict(rtol=rtol, atol=atol, equal_nan=equal_nan, check_dtype=check_dtype)
    tensor_options = dict(options, check_stride=check_stride)
    try:
        if isinstance(actual, Tensor) and isinstance(expected, Tensor):
            _compare_tensors(actual, expected, path=[], **tensor_options)
        else:
            _compare(actual, expected, tensor_options, [])
    except _Mismatch as failure:
        text = failure.message + _where(failure.path)
        if msg is not None:
            text = msg(text) if callable(msg) else msg
        raise AssertionError(text) from None


# Default (rtol, atol) of the deprecated ``assert_allclose``, by dtype, as PyTorch's.
_ALLCLOSE_TOLERANCES = {"float16": (1e-3, 1e-3), "float32": (1e-4, 1e-5), "float64": (1e-5, 1e-8)}


def assert_allclose(actual: Any, expected: Any, rtol: Optional[float] = None, atol: Optional[float] = None,
                    equal_nan: bool = True, msg: str = "") -> None:
    """Deprecated since PyTorch 1.12 (a ``FutureWarning``): use :func:`assert_close`.

    ``assert_close`` without the dtype and stride checks, NaNs equal by default, and its own default
    tolerances; a non-tensor ``expected`` is made a tensor of ``actual``'s dtype.
    """
    warnings.warn("`torch.testing.assert_allclose()` is deprecated since 1.12 and will be removed in a future "
                  "release. Please use `torch.testing.assert_close()` instead. You can find detailed upgrade "
                  "instructions in https://github.com/pytorch/pytorch/issues/61844.", FutureWarning, stacklevel=2)
    if not isinstance(actual, Tensor):
        actual = tensor(actual)
    if not isinstance(expected, Tensor):
        expected = tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        pairs = [_ALLCLOSE_TOLERANCES.get(t.dtype.name, (0.0, 0.0)) for t in (actual, expected)]
        rtol, atol = max(p[0] for p in pairs), max(p[1] for p in pairs)
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=True, check_dtype=False,
                 check_stride=False, msg=msg or None)


# --- make_tensor --------------------------------------------------------------------------------
def _bounds(dtype: D.dtype, low, high, lowest: float, highest: float, default: tuple) -> tuple:
    low = default[0] if low is None else low
    high = default[1] if high is None else high
    if any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    if low == high and dtype.is_floating_point:
        warnings.warn("Passing `low==high` to `torch.testing.make_tensor` for floating or complex types is deprecated "
                      "since 2.1 and will be removed in 2.3. Use `torch.full(...)` instead.", FutureWarning,
                      stacklevel=3)
    elif low >= high:
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    if high < lowest or low >= highest:
        raise ValueError(f"The value interval specified by `low` and `high` is [{low}, {high}), but {dtype} only "
                         f"supports [{lowest}, {highest})")
    low, high = min(max(low, lowest), highest), min(max(high, lowest), highest)
    if not dtype.is_floating_point:
        return math.ceil(low), math.ceil(high)
    return low, high


def make_tensor(*shape: Union[int, Sequence[int]], dtype: D.dtype, device: Any, low: Optional[float] = None,
                high: Optional[float] = None, requires_grad: bool = False, noncontiguous: bool = False,
                exclude_zero: bool = False, memory_format: Optional[_MemoryFormat] = None) -> Tensor:
    r"""A tensor of ``shape`` and ``dtype`` filled with values drawn uniformly from ``[low, high)``.

    The default interval is ``[-9, 9)`` for floating dtypes, ``[-9, 10)`` for signed integers,
    ``[0, 10)`` for ``uint8`` and ``[0, 2)`` for bool; given bounds are clamped to what the dtype
    can hold.  ``noncontiguous`` makes a tensor whose last dim steps over every other element of
    its storage; ``memory_format`` lays it out in that format; ``exclude_zero`` replaces zeros
    with the dtype's smallest positive normal number (one for integers and bools).  Draws come
    from ``tape.default_generator`` (not PyTorch's stream).
    """
    if len(shape) == 1 and isinstance(shape[0], Sequence):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    if noncontiguous and memory_format is not None:
        raise ValueError(f"The parameters `noncontiguous` and `memory_format` are mutually exclusive, but got "
                         f"noncontiguous={noncontiguous} and memory_format={memory_format}")
    if requires_grad and not dtype.is_floating_point:
        raise ValueError(f"`requires_grad=True` is not supported for boolean and integral dtypes, but got "
                         f"dtype={dtype}")
    noncontiguous = noncontiguous and math.prod(shape) > 1
    drawn = (*shape[:-1], 2 * shape[-1]) if noncontiguous else shape
    if dtype is D.bool_:
        low, high = _bounds(dtype, low, high, 0, 2, (0, 2))
        result = randint(low, high, drawn, dtype=dtype)
    elif not dtype.is_floating_point:
        info = iinfo(dtype)
        low, high = _bounds(dtype, low, high, info.min, info.max + (1 if dtype is not D.int64 else 0), (-9, 10))
        result = randint(low, high, drawn, dtype=dtype)
    else:
        info = finfo(dtype)
        low, high = _bounds(dtype, low, high, info.min, info.max, (-9, 9))
        result = empty(drawn, dtype=dtype).uniform_(low, high) if low != high else empty(drawn, dtype=dtype).fill_(low)
    if noncontiguous:
        result = result[..., 1::2]
    elif memory_format is not None:
        result = result.clone(memory_format=memory_format)
    if exclude_zero:
        result[result == 0] = 1 if not dtype.is_floating_point else finfo(dtype).tiny
    if requires_grad:
        result.requires_grad_(True)
    return result

