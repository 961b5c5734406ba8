"""Integer and floating-point bit functions: ``gcd``, ``lcm``, ``bitwise_left_shift``/``<<``,
``bitwise_right_shift``/``>>``, ``floor_divide``/``//``, ``heaviside``, ``ldexp``, ``frexp``,
``nextafter``.

The integer ones record nothing (their results never require grad).  ``floor_divide`` and
``heaviside`` of tensors that require grad sit behind PyTorch's ``NotImplemented`` node, whose
backward raises; ``ldexp``, ``frexp`` and ``nextafter`` have PyTorch's derivatives, as Python-rule
rows (``PYTHON`` range) whose rules are written in tape ops.
"""
from __future__ import annotations

import math

import numpy as np

from .._emit import D, Number, Tensor, emit, node_in, plain, recorded, state, write_tape
from ._args import broadcast_pair, check_output_shape
from ._parser import check_types
from ._rule import diagonal, return_type, rule_adjoint
from ._spec import CROSS, OUT, PYTHON, REGISTRY, X0, X1, Op, public, register, tangents
from .elementwise import (NO_MODE, Operand, _is_number, _iterator_layout, _other_forms, mode_none, named_binary,
                          true_divide)

NO_DERIVATIVE2, LDEXP, FREXP, NEXTAFTER = range(PYTHON.start + 12, PYTHON.start + 16)
DIV_ROUNDED = PYTHON.start + 95     # div with a rounding_mode (``ib``: 0 trunc, 1 floor)
LN2 = math.log(2.0)
_NAMES = ("floor_divide", "heaviside", "floor_divide_", "heaviside_")     # (``ib`` of a NO_DERIVATIVE2 row)
N_FLOOR_DIVIDE, N_HEAVISIDE, N_INPLACE = 0, 1, 2


def _raise(g, xs, y, r):
    raise RuntimeError(f"derivative for aten::{_NAMES[r.ib]} is not implemented")


def _no_tangent(ts, xs, y, r):
    raise NotImplementedError(f"Trying to use forward AD with aten::{_NAMES[r.ib]} that does not support it.")


register(Op(NO_DERIVATIVE2, "_no_derivative", "NotImplemented", 0, _raise, py_adjoint=rule_adjoint, arity=2))
tangents({NO_DERIVATIVE2: _no_tangent})


def _frexp_vjp(g, xs, y, r):
    """PyTorch's: grad / 2^exponent (the exponent of the input, a constant)."""
    e = np.frexp(xs[0]._value())[1]
    return (g / plain(np.exp2(e).astype(xs[0]._dtype.np), xs[0]._dtype),)


def _nextafter_vjp(g, xs, y, r):
    """PyTorch's: the gradient to ``self`` where it differs from ``other`` (0 where they are equal), zeros
    to ``other``."""
    a, b = xs
    differ = np.not_equal(a._value(), b._value()).astype(g._dtype.np)
    return g._masked(plain(np.broadcast_to(differ, g._shape).copy(), g._dtype)), \
        plain(np.zeros(b._shape, b._dtype.np), b._dtype)


def _exponent(r) -> Tensor:
    return plain(np.frexp(r.tape.value_of(r.inputs[0]))[1].astype(np.int32), D.int32)


register(Op(LDEXP, "ldexp", "LdexpBackward0", X1 | OUT, lambda g, x, y, r: (g * x[1].exp2(), g * y * LN2),
            py_adjoint=rule_adjoint, arity=2, node_saved=(("other", X1), ("result", OUT))))
# (PyTorch saves the exponent; the rule recomputes it from the input, which is therefore saved too)
register(Op(FREXP, "frexp", "FrexpBackward0", X0, _frexp_vjp, py_adjoint=rule_adjoint,
            node_saved=(("exponent", _exponent),)))
register(Op(NEXTAFTER, "nextafter", "NextafterBackward0", X0 | X1, _nextafter_vjp, py_adjoint=rule_adjoint, arity=2,
            node_saved=(("other", X1), ("self", X0))))
tangents({LDEXP: diagonal(REGISTRY[LDEXP].vjp), FREXP: diagonal(_frexp_vjp), NEXTAFTER: diagonal(_nextafter_vjp)})

_MODES = ("trunc", "floor")


def _zero_grads(g, xs, y, r):
    """PyTorch's: a rounded quotient is piecewise constant, so both gradients are zeros."""
    return tuple(plain(np.zeros(x._shape, g._dtype.np), g._dtype) for x in xs)


register(Op(DIV_ROUNDED, "div", "DivBackward2", X0 | X1 | CROSS, _zero_grads, py_adjoint=rule_adjoint, arity=2,
            node_saved=(("other", X1), ("rounding_mode", lambda r: _MODES[r.ib]), ("self", X0))))
tangents({DIV_ROUNDED: lambda ts, xs, y, r: None})


# --- operands ------------------------------------------------------------------------------------
def _operands(a, b, kernel: str, floating_ok: bool = True, bool_ok: bool = True):
    """``(dtype, va, vb)``: two operands (tensors or numbers) promoted and broadcast as for arithmetic;
    PyTorch's NotImplementedError for a dtype its kernel has no case for."""
    dt = D.result_type(a, b)
    if isinstance(a, Tensor) and isinstance(b, Tensor):     # (PyTorch's iterator broadcasts before the kernel)
        broadcast_pair(a._shape, b._shape)
    if (dt.is_floating_point and not floating_ok) or (dt is D.bool_ and not bool_ok):
        raise NotImplementedError(f'"{kernel}" not implemented for \'{D.legacy_name(dt)}\'')
    va = a._value().astype(dt.np, copy=False) if isinstance(a, Tensor) else np.asarray(a, dt.np)
    vb = b._value().astype(dt.np, copy=False) if isinstance(b, Tensor) else np.asarray(b, dt.np)
    return dt, va, vb


def _tensor_other(other, fn: str, name: str = "other", position: int = 1) -> Tensor:
    if not isinstance(other, Tensor):
        raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be Tensor, not {type(other).__name__}")
    return other


def _operand(other, op: str):
    if isinstance(other, Tensor) or _is_number(other):
        return other
    raise TypeError(f"unsupported operand type(s) for {op}: 'Tensor' and '{type(other).__name__}'")


# --- gcd, lcm ------------------------------------------------------------------------------------
@public("gcd")
def gcd(self, other: Tensor) -> Tensor:
    """The greatest common divisor of each pair of elements (non-negative; 0 for two zeros)."""
    dt, a, b = _operands(self, _tensor_other(other, "gcd"), "gcd_cpu", floating_ok=False, bool_ok=False)
    return plain(np.asarray(np.gcd(a, b), dt.np), dt)


@public("lcm")
def lcm(self, other: Tensor) -> Tensor:
    """The least common multiple of each pair of elements (non-negative; 0 if either is 0)."""
    dt, a, b = _operands(self, _tensor_other(other, "lcm"), "lcm_cpu", floating_ok=False, bool_ok=False)
    return plain(np.asarray(np.lcm(a, b), dt.np), dt)


# --- shifts --------------------------------------------------------------------------------------
def _shift(a, b, left: bool) -> Tensor:
    """PyTorch's shifts: a shift by a negative amount or by the width of the type or more gives 0
    (left) or the sign (right, as an arithmetic shift by width - 1 would)."""
    dt, va, vb = _operands(a, b, "lshift_cpu" if left else "rshift_cpu", floating_ok=False, bool_ok=False)
    bits = np.dtype(dt.np).itemsize * 8
    ok = (vb >= 0) & (vb < bits)
    amount = np.where(ok, vb, 0).astype(dt.np)
    if left:
        y = np.where(ok, np.left_shift(va, amount), 0)
    else:
        fill = np.right_shift(va, bits - 1) if np.issubdtype(dt.np, np.signedinteger) else np.zeros_like(va)
        y = np.where(ok, np.right_shift(va, amount), fill)
    return plain(np.asarray(y, dt.np), dt)


@public("__lshift__")
def _lshift(self, other: Operand) -> Tensor:
    """``self`` shifted left by ``other`` bits (integers; 0 for a negative shift or one past the width)."""
    return _shift(self, _operand(other, "<<"), True)


public("bitwise_left_shift", reflected=lambda x, c: _shift(c, x, True),
       error_forms=_other_forms("bitwise_left_shift", reflected=""))(named_binary("bitwise_left_shift", _lshift))


@public("__rlshift__")
def _rlshift(self, other: Number) -> Tensor:
    return _shift(_operand(other, "<<"), self, True)


@public("__rshift__")
def _rshift(self, other: Operand) -> Tensor:
    """``self`` shifted right by ``other`` bits, arithmetically (integers)."""
    return _shift(self, _operand(other, ">>"), False)


public("bitwise_right_shift", reflected=lambda x, c: _shift(c, x, False),
       error_forms=_other_forms("bitwise_right_shift", reflected=""))(named_binary("bitwise_right_shift", _rshift))


@public("__rrshift__")
def _rrshift(self, other: Number) -> Tensor:
    return _shift(_operand(other, ">>"), self, False)


# --- floor_divide, heaviside: no derivative ---------------------------------------------------------
def _without_derivative(y: np.ndarray, dt: D.dtype, a, b, how: int) -> Tensor:
    """``y`` behind PyTorch's ``NotImplemented`` node when a tensor operand requires grad."""
    ts = [t for t in (a, b) if isinstance(t, Tensor)]
    if state.grad and any(t._rg for t in ts):
        x, other = (t if isinstance(t, Tensor) else plain(np.asarray(t, dt.np), dt) for t in (a, b))
        return emit(NO_DERIVATIVE2, y, dt, x.to(dt), other.to(dt), ib=how)
    return plain(y, dt)


def _div_floor(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """PyTorch's div_floor for floats (Python's //): a / b at b == 0, else (a - fmod(a, b)) / b moved
    down one where the remainder's sign is not b's, rounded to the nearest integer, with a's sign at 0."""
    with np.errstate(all="ignore"):
        mod = np.fmod(a, b)
        div = (a - mod) / b
        div = np.where((mod != 0) & ((b < 0) != (mod < 0)), div - 1, div)
        fl = np.floor(div)
        fl = np.where(div - fl > 0.5, fl + 1, fl)
        out = np.where(div != 0, fl, np.copysign(np.zeros_like(div), a / b))
        return np.where(b == 0, a / b, out)


def _floor_divide(a, b, inplace: int = 0) -> Tensor:
    dt, va, vb = _operands(a, b, "div_floor_cpu", bool_ok=False)
    if dt.is_floating_point:
        y = _div_floor(va, vb)
    else:
        if np.any(vb == 0):
            raise RuntimeError("ZeroDivisionError")
        y = np.floor_divide(va, vb)
    return _without_derivative(_laid_out(np.asarray(y, dt.np), va, vb), dt, a, b, N_FLOOR_DIVIDE + inplace)


def _laid_out(y: np.ndarray, va: np.ndarray, vb: np.ndarray) -> np.ndarray:
    # (PyTorch's layout of a result of operands in different layouts: ``elementwise._iterator_layout``)
    if y.ndim and not (va.flags.c_contiguous and vb.flags.c_contiguous):
        return _iterator_layout(y, y.shape, va, vb)
    return y


def _div_rounded(a, b, mode: str) -> Tensor:
    """``a / b`` rounded toward zero ('trunc') or down ('floor'), as PyTorch's ``div(rounding_mode=)``."""
    if mode not in _MODES:
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{mode}'")
    floor = mode == "floor"
    dt, va, vb = _operands(a, b, "div_floor_cpu" if floor else "div_trunc_cpu", bool_ok=False)
    if dt.is_floating_point:
        with np.errstate(all="ignore"):
            y = _div_floor(va, vb) if floor else np.trunc(va / vb)
    else:
        if np.any(vb == 0):
            raise RuntimeError("ZeroDivisionError")
        y = np.floor_divide(va, vb)
        if not floor:       # (toward zero: one up where the floor of a negative quotient was inexact)
            y = np.where((y < 0) & (y * vb != va), y + 1, y)
    y = _laid_out(np.asarray(y, dt.np), va, vb)
    if state.grad and any(isinstance(t, Tensor) and t._rg for t in (a, b)):
        x, other = (t.to(dt) if isinstance(t, Tensor) else plain(np.asarray(t, dt.np), dt) for t in (a, b))
        return emit(DIV_ROUNDED, y, dt, x, other, ib=_MODES.index(mode))
    return plain(y, dt)


def _div_reflected(x: Tensor, c: Number, *, rounding_mode: str | None = NO_MODE) -> Tensor:
    """``tape.div(number, tensor)``."""
    if rounding_mode is NO_MODE or rounding_mode is None:
        return x.__rtruediv__(c)
    return _div_rounded(_operand(c, "/"), x, rounding_mode)


@public("div", "divide", reflected=_div_reflected)
def div(self, other: Operand, *, rounding_mode: str | None = NO_MODE) -> Tensor:
    """``self / other``, broadcasting (true division: integers give the default float dtype); with
    ``rounding_mode`` 'trunc' or 'floor', the quotient rounded toward zero or down, in the operands'
    promoted dtype (integer division by zero raises), whose gradients are zeros."""
    if rounding_mode is NO_MODE:
        return true_divide(self, other)
    if rounding_mode is None:
        return mode_none(true_divide(self, other))
    return _div_rounded(self, _operand(other, "/"), rounding_mode)


@public("floor_divide", "__floordiv__", reflected=lambda x, c: _floor_divide(c, x))
def floor_divide(self, other: Operand) -> Tensor:
    """``self / other`` rounded down to an integer (Python's ``//``); integer division by 0 raises."""
    return _floor_divide(self, _operand(other, "//"))


@public("__rfloordiv__")
def _rfloordiv(self, other: Number) -> Tensor:
    return _floor_divide(_operand(other, "//"), self)


@public("floor_divide_", function=False)
def floor_divide_(self, other: Operand) -> Tensor:
    """In-place version of :meth:`Tensor.floor_divide` (its node's error names ``floor_divide_``)."""
    self._check_inplace(other)
    check_output_shape(self._shape, other)      # (before the kernel's division by zero)
    return self._inplace(_floor_divide(self, _operand(other, "//"), N_INPLACE), other if isinstance(other, Tensor) else None)


def _heaviside(self, values, inplace: int = 0) -> Tensor:
    values = _tensor_other(values, "heaviside", "values")
    if self._dtype is not values._dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    dt, a, b = _operands(self, values, "heaviside_cpu")
    y = np.where(a == 0, b, (a > 0).astype(dt.np))
    return _without_derivative(np.asarray(y, dt.np), dt, self, values, N_HEAVISIDE + inplace)


@public("heaviside")
def heaviside(self, values: Tensor) -> Tensor:
    """The Heaviside step function of each element: 0 below 0 (and at nan), 1 above, ``values`` at 0."""
    return _heaviside(self, values)


@public("heaviside_", function=False)
def heaviside_(self, values: Tensor) -> Tensor:
    """In-place version of :meth:`Tensor.heaviside` (its node's error names ``heaviside_``)."""
    self._check_inplace(values)
    return self._inplace(_heaviside(self, values, N_INPLACE), values)


# The augmented assignments (``x //= y`` is ``x.floor_divide_(y)``): in place, as PyTorch.
def _augmented(method: str):
    def augmented(self, other) -> Tensor:
        return getattr(self, method)(other)
    augmented.__doc__ = f"``{method}(other)``: the in-place form of the operator."
    return augmented


for _dunder, _method in (("__ifloordiv__", "floor_divide_"), ("__ilshift__", "bitwise_left_shift_"),
                         ("__irshift__", "bitwise_right_shift_")):
    public(_dunder)(_augmented(_method))


# --- ldexp, frexp, nextafter -----------------------------------------------------------------------
@public("ldexp")
def ldexp(self, other: Tensor) -> Tensor:
    """``self * 2 ** other`` (the result is floating point, the default dtype for integers)."""
    other = _tensor_other(other, "ldexp")
    dt = D.result_type(self, other)
    if not dt.is_floating_point:
        dt = D.get_default_dtype()
    broadcast_pair(self._shape, other._shape)
    a, b = self.to(dt), other.to(dt)
    with np.errstate(all="ignore"):
        y = np.asarray(a._value() * np.exp2(b._value()), dt.np)
    if state.grad and (a._rg or b._rg):
        # (an operand broadcast other than along leading dims enters through a hidden expand row, as
        # in ``_binary``: the recorded backward reads a smaller operand modulo its size)
        tape = write_tape()
        node = tape.append(LDEXP, dt.arena, y, node_in(tape, a, dt, y.shape), node_in(tape, b, dt, y.shape))
        return recorded(tape, node, y, dt)
    return plain(y, dt)


@public("ldexp_", function=False)
def ldexp_(self, other: Tensor) -> Tensor:
    """In-place version of :meth:`Tensor.ldexp` (the tensor must be floating point, as the result is)."""
    if type(other) is not Tensor:
        check_types("ldexp_", (("other", Tensor),), other)
    if not self._dtype.is_floating_point:
        raise RuntimeError(f"ldexp can't be cast to the desired output type {D.legacy_name(self._dtype)}")
    self._check_inplace(other)
    return self._inplace(self.ldexp(other), other)


FrexpResult = return_type("frexp", ("mantissa", "exponent"))


@public("frexp")
def frexp(self) -> tuple:
    """``(mantissa, exponent)`` with ``self = mantissa * 2 ** exponent`` and ``0.5 <= |mantissa| < 1``
    (0, inf and nan give themselves and exponent 0); the exponent is int32."""
    if not self._dtype.is_floating_point:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    v = self._value()
    with np.errstate(all="ignore"):
        m, e = np.frexp(v)
    m = np.asarray(m, self._dtype.np)
    exponent = plain(np.asarray(e, np.int32), D.int32)
    if state.grad and self._rg:
        return FrexpResult((emit(FREXP, m, self._dtype, self), exponent))
    return FrexpResult((plain(m, self._dtype), exponent))


@public("nextafter")
def nextafter(self, other: Tensor) -> Tensor:
    """The next floating-point value after ``self`` towards ``other``, at each element."""
    other = _tensor_other(other, "nextafter")
    dt, a, b = _operands(self, other, "nextafter_cpu")
    if not dt.is_floating_point:
        raise NotImplementedError(f'"nextafter_cpu" not implemented for \'{D.legacy_name(dt)}\'')
    y = np.asarray(np.nextafter(a, b), dt.np)
    if state.grad and (self._rg or other._rg):
        return emit(NEXTAFTER, y, dt, self.to(dt), other.to(dt))
    return plain(y, dt)
