"""Elementwise ops: one tensor input (with optional float constants), or two of equal shape.

Binary kernels broadcast an operand only along leading dims (a scalar, or a
bias row); other broadcasting is recorded as an implicit expand row first.
So every kernel here is a flat loop over ``n`` elements at arena offsets.  A
value and its adjoint share an offset (``v[o]``, ``g[o]``).

Each op has these faces, kept next to each other:
  * ``forward`` (numpy) and ``scalar`` (Python float, the 0-d float64 fast path),
    and a branch of the numba ``*_forward`` kernel (for rows that compiled code
    writes: the recorded backward);
  * ``vjp``, the derivative written with tape's tensor ops: traced into the
    program the recorded backward replays, so every order comes from this rule;
  * a branch of the numba ``*_adjoint`` kernel, the fused numeric form of the
    same rule, used by a plain backward.  Tests check the faces agree for every op.

At the end of the file, the front ends: the Tensor methods, operators and
``tape.<function>`` forms (registered under their PyTorch names with ``public``),
which check arguments with PyTorch's errors, promote and broadcast, and record
their rows through ``tape._emit``.
"""
from __future__ import annotations

import functools
import math
import operator
import sys
from typing import Callable, Optional, Union

import numpy as np
from numba import njit

from .._emit import (PART, D, LEND_FROM, Number, Tensor, arranged, check_device, check_memory_format, device, emit,
                     emit_apart, emit_into, fresh, in_parts, is_suffix, left_to_python, lends, node_in, plain,
                     preserve_format, py_scalar, quiet, recorded, scalar_binary, scalar_row, scalar_unary, state,
                     unshare, writable, write_tape)
from ._args import broadcast_pair, check_output_shape, laid_out_like
from ._erf import erf_vectorized
from ._vecmath import tanh_f32
from . import _specfun as SF
from ._parser import Forms, check_types, parsed_number
from ._rule import diagonal, rule_adjoint
from ._spec import (BINARY, CROSS, N_CODES, NUMBER, NUMPY_ROWS, OUT, R_A, R_B, R_NUM, R_OFF, R_OP, R_RG, REGISTRY,
                    ROLES, UNARY, X0, X1, Op, public, register, saved_when, tangents)
from .ternary import clamp_tensors, combination

# --- codes (UNARY and BINARY ranges) -------------------------------------------
_UNARY_END = UNARY.stop
_U, _B = UNARY.start, BINARY.start
NEG, ABS, EXP, LOG, LOG2, LOG10, SQRT, SIN, COS, TAN, TANH, SIGMOID, RELU, RECIPROCAL, CLONE, FILL = range(_U, _U + 16)
ADDC, SUBC, RSUBC, MULC, DIVC, POWC, RPOWC, CLAMP, MASK, CAST = range(_U + 20, _U + 30)
SINH, COSH, EXPM1 = range(_U + 30, _U + 33)
(RSQRT, LOG1P, ASIN, ACOS, ATAN, ASINH, ACOSH, ATANH, ERF, ERFC, ERFINV, EXP2, FRAC, DEG2RAD, RAD2DEG,
 SIGN, SGN, FLOOR, CEIL, ROUND, TRUNC, LOGIT, SELU, CELU, NAN_TO_NUM) = range(50, 75)
ADD, SUB, MUL, DIV, POW, MAXIMUM, MINIMUM, MASKED = range(_B, _B + 8)
ATAN2, FMOD, REMAINDER, HYPOT, LOGADDEXP, LOGADDEXP2, XLOGY, COPYSIGN = range(170, 178)
ROLES.cast, ROLES.clone, ROLES.add = CAST, CLONE, ADD    # rows the engine records by itself (``ops/_spec.Roles``)
# The catalogue's codes (from these on in each range) have row kernels of their own in the sweeps'
# families (``catalogue_*_adjoint``, ``catalogue_*_forward``), apart from the core ops' kernels that
# nearly every program compiles: a program of core ops never compiles the special functions' code
# (a fifth to a quarter of a cold first backward and a cold recorded one, measured), and a
# catalogue op adds its branch to kernels that only programs using the catalogue compile.
CATALOGUE_UNARY, CATALOGUE_BINARY = RSQRT, ATAN2

# Kinds of MASK: a piecewise-constant function of x, whose derivative is zero.
# Where PyTorch's derivative keeps x in the graph (relu, abs), the rule records
# the mask as a MASK row; where it does not (clamp, maximum), the mask is a
# constant, so that what requires grad matches PyTorch.
M_POS, M_SIGN, M_INRANGE, M_STEP_HALF, M_NONZERO, M_NEG, M_ZERO, M_FINITE, M_NONPOS, M_NOT_OUTSIDE = range(10)

LN2 = math.log(2.0)
LN10 = math.log(10.0)


# --- numeric adjoint kernels --------------------------------------------------
@njit(cache=True, error_model="numpy", inline="always")
def _mask(kind, x, lo, hi):
    # One compiled _mask64 for every caller: numba compiles a function again for each new tuple
    # of argument types, and a constant kind or bound is a type of its own (the comparisons are
    # exact in float64, and the result is float64 either way).
    return _mask64(np.int64(kind), np.float64(x), np.float64(lo), np.float64(hi))


@njit(cache=True, error_model="numpy")
def _mask64(kind, x, lo, hi):
    if kind == M_POS:
        return 1.0 if x > 0 else 0.0
    if kind == M_SIGN:
        return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)     # sgn(nan) = 0, as PyTorch
    if kind == M_INRANGE:
        return 1.0 if (x >= lo and x <= hi) else 0.0
    if kind == M_STEP_HALF:
        # As PyTorch's maximum/minimum: a NaN difference passes the gradient to both sides.
        return 0.0 if x < 0 else (0.5 if x == 0 else 1.0)
    if kind == M_NONZERO:
        return 1.0 if x != 0 else 0.0
    if kind == M_ZERO:
        return 0.0
    if kind == M_NEG:
        return 1.0 if x < 0 else 0.0
    if kind == M_FINITE:
        return 1.0 if (x == x and x != math.inf and x != -math.inf) else 0.0
    if kind == M_NONPOS:
        return 1.0 if x <= 0 else 0.0
    if kind == M_NOT_OUTSIDE:
        return 0.0 if (x < lo or x > hi) else 1.0     # (1 for nan, unlike M_INRANGE)
    return math.nan     # a kind without a branch here: an error value


@njit(cache=True, error_model="numpy")
def _pow(x, e):
    """``x ** e`` with numpy's (and PyTorch's) x ** 0.5 == sqrt(x): nan, not inf, at -inf, and
    PyTorch's x ** -0.5 == 1 / sqrt(x): -inf at -0; the exponents PyTorch's kernel writes out as
    products are computed as it does (the last bit differs from a correctly rounded power)."""
    if e == 0.5:
        return math.sqrt(x) if x >= 0 else type(x)(math.nan)
    if e == 3.0:
        return x * x * x
    if e == -2.0:
        return type(x)(1.0) / (x * x)
    if e == -0.5:
        return type(x)(1.0) / math.sqrt(x) if x >= 0 else type(x)(math.nan)
    return x ** e


@njit(cache=True, error_model="numpy")
def _where(m, g):
    """``g * m`` where the mask ``m`` is nonzero, else 0 even for a nan or inf ``g`` (PyTorch's
    where/masked_fill in the derivatives of relu, clamp, maximum ...)."""
    return g * m if m != 0 else 0.0 * m


# The derivative of each unary op at one element: ``(gy, x, y, fa, fb) -> dx``.  ``_core_d``
# dispatches on the code for single elements and for the shared loop; an op whose derivative is
# arithmetic also gets a loop of its own in ``unary_adjoint``, which vectorizes.  (These small
# functions are inlined by numba; the larger helpers above and the dispatchers are compiled once
# and inlined by LLVM: numba's own inlining copies a function's IR into every caller, which
# costs more compile time than their loops.)
@njit(cache=True, error_model="numpy", inline="always")
def _d_neg(gy, x, y, fa, fb):
    return -gy


@njit(cache=True, error_model="numpy", inline="always")
def _d_same(gy, x, y, fa, fb):
    return gy


@njit(cache=True, error_model="numpy", inline="always")
def _d_mulc(gy, x, y, fa, fb):
    return gy * type(gy)(fa)


@njit(cache=True, error_model="numpy", inline="always")
def _d_divc(gy, x, y, fa, fb):
    return gy / type(gy)(fa)


@njit(cache=True, error_model="numpy", inline="always")
def _d_abs(gy, x, y, fa, fb):
    return gy * _mask(M_SIGN, x, 0.0, 0.0)


@njit(cache=True, error_model="numpy", inline="always")
def _d_exp(gy, x, y, fa, fb):
    return gy * y


@njit(cache=True, error_model="numpy", inline="always")
def _d_log(gy, x, y, fa, fb):
    return gy / x


@njit(cache=True, error_model="numpy", inline="always")
def _d_log2(gy, x, y, fa, fb):
    return gy / (x * type(x)(LN2))


@njit(cache=True, error_model="numpy", inline="always")
def _d_log10(gy, x, y, fa, fb):
    return gy / (x * type(x)(LN10))


@njit(cache=True, error_model="numpy", inline="always")
def _d_sqrt(gy, x, y, fa, fb):
    # (in y's type: a float32 quotient is the float64 one rounded, and vectorizes twice as wide)
    return gy / (y * type(y)(2.0))


@njit(cache=True, error_model="numpy", inline="always")
def _d_sin(gy, x, y, fa, fb):
    return gy * math.cos(x)


@njit(cache=True, error_model="numpy", inline="always")
def _d_cos(gy, x, y, fa, fb):
    return -(gy * math.sin(x))


@njit(cache=True, error_model="numpy", inline="always")
def _d_tan(gy, x, y, fa, fb):
    return gy * (y * y + 1.0)


@njit(cache=True, error_model="numpy", inline="always")
def _d_tanh(gy, x, y, fa, fb):
    return gy * (1.0 - y * y)


@njit(cache=True, error_model="numpy", inline="always")
def _d_sigmoid(gy, x, y, fa, fb):
    return gy * (y * (1.0 - y))


@njit(cache=True, error_model="numpy", inline="always")
def _d_relu(gy, x, y, fa, fb):
    # PyTorch's threshold_backward: the gradient passes unless the result is <= 0 (so it passes at nan)
    return _where(1.0 - _mask(M_NONPOS, y, 0.0, 0.0), gy)


@njit(cache=True, error_model="numpy", inline="always")
def _d_reciprocal(gy, x, y, fa, fb):
    return -(gy * (y * y))


@njit(cache=True, error_model="numpy", inline="always")
def _d_powc(gy, x, y, fa, fb):
    if fa == 0.0:
        return type(gy)(0.0)    # PyTorch: zeros_like(x) for an exponent of 0, even for a nan gradient
    # x ** 1 and x ** 0 written out: pow() on every element costs ~10x (squares are common).
    p = x if fa == 2.0 else (type(x)(1.0) if fa == 1.0 else _pow(x, type(x)(fa - 1.0)))
    return gy * (p * type(x)(fa))


@njit(cache=True, error_model="numpy", inline="always")
def _d_rpowc(gy, x, y, fa, fb):
    if fa == 0.0:   # 0 ** x: PyTorch's where(x >= 0, 0, y * log 0), with no 0 * -inf
        return gy * _where(_mask(M_NEG, x, 0.0, 0.0), y * type(y)(math.log(fa)))
    return gy * (y * type(y)(math.log(fa)))


@njit(cache=True, error_model="numpy", inline="always")
def _d_clamp(gy, x, y, fa, fb):
    return _where(_mask(M_INRANGE, x, type(x)(fa), type(x)(fb)), gy)


# The catalogue's unary ops (issue 14): their derivatives and forwards share one branch each here,
# reached from the dispatchers below; their big rows go to numpy (``numpy_rows``), so they need no
# loops of their own (which would cost compile time, not speed).
SQRT_PI = math.sqrt(math.pi)
TWO_OVER_SQRT_PI = 2.0 / SQRT_PI
DEG = math.pi / 180.0
RAD = 180.0 / math.pi
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@njit(cache=True, error_model="numpy")
def _rsqrt(t):
    """``1 / sqrt(t)`` in ``t``'s dtype (nan below 0, inf at 0)."""
    return type(t)(1.0) / math.sqrt(t) if t >= 0 else type(t)(math.nan)


@njit(cache=True, error_model="numpy")
def _erfinv(y):
    """The inverse error function in float64: Giles' single-precision approximation ("Approximating
    the erfinv function", 2010), then Newton steps on erf, or for |y| > 0.5 on log erfc (where
    1 - |y| is exact), which bring it to within a few float64 ulps (``tests/test_elementwise.py``)."""
    y = float(y)
    if not (y >= -1.0 and y <= 1.0):
        return math.nan
    if y == 1.0 or y == -1.0:
        return math.copysign(math.inf, y)
    w = -math.log((1.0 - y) * (1.0 + y))
    if w < 5.0:
        w -= 2.5
        p = 2.81022636e-08
        p = 3.43273939e-07 + p * w
        p = -3.5233877e-06 + p * w
        p = -4.39150654e-06 + p * w
        p = 0.00021858087 + p * w
        p = -0.00125372503 + p * w
        p = -0.00417768164 + p * w
        p = 0.246640727 + p * w
        p = 1.50140941 + p * w
    else:
        w = math.sqrt(w) - 3.0
        p = -0.000200214257
        p = 0.000100950558 + p * w
        p = 0.00134934322 + p * w
        p = -0.00367342844 + p * w
        p = 0.00573950773 + p * w
        p = -0.0076224613 + p * w
        p = 0.00943887047 + p * w
        p = 1.00167406 + p * w
        p = 2.83297682 + p * w
    x = p * y
    a = abs(y)
    if a <= 0.5:
        for _ in range(2):
            x -= (math.erf(x) - y) / (TWO_OVER_SQRT_PI * math.exp(-x * x))
        return x
    # The tail: Newton on log erfc(|x|) = log(1 - |y|) (1 - |y| is exact here), which converges
    # from the approximation's few digits where it is used beyond its range (1 - |y| < 2 ** -24).
    t = abs(x)
    target = math.log(1.0 - a)
    for _ in range(8):
        c = math.erfc(t)
        step = (math.log(c) - target) * c / (TWO_OVER_SQRT_PI * math.exp(-t * t))
        t += step
        if abs(step) <= 1e-17 * t:
            break
    return math.copysign(t, y)


@njit(cache=True, error_model="numpy")
def _elem_d(code, gy, x, y, fa, fb):
    """The input adjoint of one element of the catalogue's unary ops (see ``_unary_d``)."""
    one = type(x)(1.0)
    if code == RSQRT:
        return (gy * type(y)(-0.5)) * (y * y * y)
    if code == LOG1P:
        return gy / (x + one)
    if code == ASIN:
        return gy * _rsqrt(one - x * x)
    if code == ACOS:
        return -(gy * _rsqrt(one - x * x))
    if code == ATAN:
        return gy / (x * x + one)
    if code == ASINH:
        return gy * _rsqrt(x * x + one)
    if code == ACOSH:
        return gy * _rsqrt(x * x - one)
    if code == ATANH:
        return gy / (one - x * x)
    if code == ERF:
        return gy * (math.exp(-(x * x)) * type(x)(TWO_OVER_SQRT_PI))
    if code == ERFC:
        return gy * (math.exp(-(x * x)) * type(x)(-TWO_OVER_SQRT_PI))
    if code == ERFINV:
        return gy * (math.exp(y * y) * type(y)(0.5 * SQRT_PI))
    if code == EXP2:
        return (gy * y) * type(y)(LN2)
    if code == FRAC:
        return gy
    if code == DEG2RAD:
        return gy * type(gy)(DEG)
    if code == RAD2DEG:
        return gy * type(gy)(RAD)
    if code >= SIGN and code <= TRUNC:
        return 0.0          # piecewise constant: PyTorch's zeros_like(grad), even for a nan gradient
    if code == LOGIT:
        if fb == 1.0:       # with eps: zero outside [eps, 1 - eps]
            lo = type(x)(fa)
            return type(gy)(0.0) if (x < lo or x > one - lo) else gy / (x * (one - x))
        return gy / (x * (one - x)) if (x >= 0 and x <= 1) else type(x)(math.nan)
    if code == SELU:
        return gy * (math.exp(x) * type(x)(SELU_SCALE * SELU_ALPHA) if x <= 0 else type(x)(SELU_SCALE))
    if code == CELU:
        return gy * (math.exp(x / type(x)(fa)) if x <= 0 else one)
    if code == NAN_TO_NUM:
        return gy * type(gy)(_mask(M_FINITE, x, 0.0, 0.0))
    return math.nan


# The special functions (``ops/_specfun``: lgamma, the Bessel functions ...) have row kernels of
# their own in the sweeps' families, apart from the catalogue's other ops (erf, log1p ...): a
# program using these compiles none of the special functions' code (a third of the catalogue's).
@njit(cache=True, error_model="numpy")
def _is_special(code):
    return (code >= SF.FIRST and code <= SF.LAST) or (code >= SF.FIRST_BINARY and code <= SF.LAST_BINARY)


@njit(cache=True, error_model="numpy")
def _catalogue_d(code, gy, x, y, fa, fb):
    """``_elem_d`` or the special functions' ``special_d``."""
    if _is_special(code):
        return SF.special_d(code, gy, x, y, fa, fb)
    return _elem_d(code, gy, x, y, fa, fb)


@njit(cache=True, error_model="numpy")
def _unary_d(code, gy, x, y, fa, fb):
    """The input adjoint contributed by one element of a unary row (``_core_d``, ``_catalogue_d``)."""
    if code >= CATALOGUE_UNARY:
        return _catalogue_d(code, gy, x, y, fa, fb)
    return _core_d(code, gy, x, y, fa, fb)


@njit(cache=True, error_model="numpy")
def _core_d(code, gy, x, y, fa, fb):
    """The input adjoint contributed by one element of a row of a core unary op.

    Numbers are taken in the element's dtype (``type(x)(c)``): a float32 row then computes in
    float32 as numpy and PyTorch do (a float64 constant would promote it, so that, say,
    ``x * ln 10`` would not overflow where theirs does, or a clamp bound of 0.7 would not be
    float32's 0.7)."""
    if code == NEG or code == RSUBC:
        return _d_neg(gy, x, y, fa, fb)
    if code == ADDC or code == SUBC or code == CLONE:
        return _d_same(gy, x, y, fa, fb)
    if code == MULC:
        return _d_mulc(gy, x, y, fa, fb)
    if code == DIVC:
        return _d_divc(gy, x, y, fa, fb)
    if code == ABS:
        return _d_abs(gy, x, y, fa, fb)
    if code == EXP:
        return _d_exp(gy, x, y, fa, fb)
    if code == LOG:
        return _d_log(gy, x, y, fa, fb)
    if code == SQRT:
        return _d_sqrt(gy, x, y, fa, fb)
    if code == TANH:
        return _d_tanh(gy, x, y, fa, fb)
    if code == SIGMOID:
        return _d_sigmoid(gy, x, y, fa, fb)
    if code == RELU:
        return _d_relu(gy, x, y, fa, fb)
    if code == RECIPROCAL:
        return _d_reciprocal(gy, x, y, fa, fb)
    if code == CLAMP:
        return _d_clamp(gy, x, y, fa, fb)
    if code == FILL:
        return 0.0          # the value does not depend on x (PyTorch: zeros, even for a nan gradient)
    if code == MASK:
        return 0.0 * gy     # zero derivative
    return _shared_d(code, gy, x, y, fa, fb)


@njit(cache=True, error_model="numpy")
def _shared_d(code, gy, x, y, fa, fb):
    """``_core_d`` for the ops of ``SHARED_LOOP``."""
    if code == SIN:
        return _d_sin(gy, x, y, fa, fb)
    if code == COS:
        return _d_cos(gy, x, y, fa, fb)
    if code == TAN:
        return _d_tan(gy, x, y, fa, fb)
    if code == LOG2:
        return _d_log2(gy, x, y, fa, fb)
    if code == LOG10:
        return _d_log10(gy, x, y, fa, fb)
    if code == SINH:
        return gy * math.cosh(x)
    if code == COSH:
        return gy * math.sinh(x)
    if code == EXPM1:
        return gy * (y + 1.0)
    if code == POWC:
        return _d_powc(gy, x, y, fa, fb)
    if code == RPOWC:
        return _d_rpowc(gy, x, y, fa, fb)
    return math.nan         # a code without a branch here: an error value, never a silent zero


@njit(cache=True, error_model="numpy", nogil=True)   # (run on parts of a row by several threads)
def unary_adjoint(code, n, fa, fb, ia, v, g, ox, oy, vo, go):
    """Accumulate the input adjoint of one unary row (x at ox, y at oy)."""
    if _is_special(code):
        special_unary_adjoint(code, n, fa, fb, ia, v, g, ox, oy, vo, go)
    elif code >= CATALOGUE_UNARY:
        catalogue_unary_adjoint(code, n, fa, fb, ia, v, g, ox, oy, vo, go)
    else:
        core_unary_adjoint(code, n, fa, fb, ia, v, g, ox, oy, vo, go)


@njit(cache=True, error_model="numpy")
def catalogue_unary_adjoint(code, n, fa, fb, ia, v, g, ox, oy, vo, go):
    """``unary_adjoint`` for a catalogue op's row: one shared loop."""
    x = v[ox:ox + n]
    y = v[oy:oy + n]
    gx = g[ox:ox + n]
    gy = g[oy:oy + n]
    for i in range(n):
        gx[i] += _elem_d(code, gy[i], x[i], y[i], fa, fb)


@njit(cache=True, error_model="numpy")
def special_unary_adjoint(code, n, fa, fb, ia, v, g, ox, oy, vo, go):
    """``unary_adjoint`` for a special function's row."""
    x = v[ox:ox + n]
    y = v[oy:oy + n]
    gx = g[ox:ox + n]
    gy = g[oy:oy + n]
    for i in range(n):
        gx[i] += SF.special_d(code, gy[i], x[i], y[i], fa, fb)


@njit(cache=True, error_model="numpy")
def core_unary_adjoint(code, n, fa, fb, ia, v, g, ox, oy, vo, go):
    """``unary_adjoint`` for a core op's row."""
    if code == MASK:
        return
    if code == CAST:
        _cast_adjoint(n, g, oy, go, ox)
        return
    # Slices first: indexing them with the loop counter needs no negative-index
    # check, which lets the loop vectorize (about 4x on arrays).
    _unary_loops(code, n, fa, fb, v[ox:ox + n], v[oy:oy + n], g[ox:ox + n], g[oy:oy + n])


# The core unary ops in groups, each with a row kernel of its own in the sweeps' families
# (``tape/_sweep``): a sweep compiles the loops of the groups its rows use, not every core op's
# (those were half of a cold first backward's compile time, measured).  A group's row kernel has
# the families' signature (the row's arena, then the other one) and returns False for a code it has
# no branch for; ``core_unary_adjoint`` runs them all, for rows run in parts on several threads.
AFFINE = (NEG, RSUBC, ADDC, SUBC, MULC, DIVC, CLONE, CAST, MASK, FILL)
ACTIVATIONS = (TANH, SIGMOID, RELU, CLAMP, ABS)
EXP_LOG = (EXP, LOG, SQRT, RECIPROCAL)
SHARED_LOOP = (SIN, COS, TAN, LOG2, LOG10, SINH, COSH, EXPM1, POWC, RPOWC)
_IN_SHARED_LOOP = np.zeros(N_CODES, np.bool_)
_IN_SHARED_LOOP[list(SHARED_LOOP)] = True


@njit(cache=True, error_model="numpy", inline="always")
def _unary_at(R, F, v, g, r):
    """Unary row ``r``'s numbers, and the slices of its input (x, gx) and output (y, gy)."""
    n = R[R_NUM, r]
    ox = R[R_OFF, R[R_A, r]]
    oy = R[R_OFF, r]
    return F[0, r], F[1, r], v[ox:ox + n], v[oy:oy + n], g[ox:ox + n], g[oy:oy + n]


@njit(cache=True, error_model="numpy", inline="always")
def _cast_adjoint(n, g, oy, go, ox):
    for i in range(n):
        go[ox + i] += g[oy + i]


@njit(cache=True, error_model="numpy")
def affine_row(R, F, stab, ix, v, g, vo, go, r):
    """The input adjoint of a row of an ``AFFINE`` op (a cast's input is in the other arena)."""
    code = R[R_OP, r]
    if code == MASK:
        return True
    if code == CAST:
        _cast_adjoint(R[R_NUM, r], g, R[R_OFF, r], go, R[R_OFF, R[R_A, r]])
        return True
    fa, fb, x, y, gx, gy = _unary_at(R, F, v, g, r)
    return _affine_loops(code, gx.shape[0], fa, fb, x, y, gx, gy)


@njit(cache=True, error_model="numpy")
def activation_row(R, F, stab, ix, v, g, vo, go, r):
    """The input adjoint of a row of an ``ACTIVATIONS`` op."""
    fa, fb, x, y, gx, gy = _unary_at(R, F, v, g, r)
    return _activation_loops(R[R_OP, r], gx.shape[0], fa, fb, x, y, gx, gy)


@njit(cache=True, error_model="numpy")
def exp_log_row(R, F, stab, ix, v, g, vo, go, r):
    """The input adjoint of a row of an ``EXP_LOG`` op."""
    fa, fb, x, y, gx, gy = _unary_at(R, F, v, g, r)
    return _exp_log_loops(R[R_OP, r], gx.shape[0], fa, fb, x, y, gx, gy)


@njit(cache=True, error_model="numpy")
def shared_loop_row(R, F, stab, ix, v, g, vo, go, r):
    """The input adjoint of a row of a ``SHARED_LOOP`` op."""
    fa, fb, x, y, gx, gy = _unary_at(R, F, v, g, r)
    return _shared_loop(R[R_OP, r], gx.shape[0], fa, fb, x, y, gx, gy)


UNARY_ROWS = (affine_row, activation_row, exp_log_row, shared_loop_row)
UNARY_GROUPS = (AFFINE, ACTIVATIONS, EXP_LOG, SHARED_LOOP)


@njit(cache=True, error_model="numpy", nogil=True)   # (run on blocks of a row by several threads)
def unary_block(code, fa, fb, x, y, gx, gy, write):
    """Accumulate ``gx``, the input adjoint of a block of a unary row (not a cast), from its values
    ``x``, ``y`` and output adjoint ``gy``: ``unary_adjoint``'s loops on arrays given apart.  With
    ``write`` (an adjoint no gradient reached yet, which holds no zeros) it is written, with the
    bits of starting it at -0.0, as the sweep does (``z +``: -0.0 + d is d)."""
    if write:
        if _unary_write(code, fa, fb, x, y, gx, gy):
            return
        gx[:] = -0.0
    if code >= CATALOGUE_UNARY:
        for i in range(gx.shape[0]):
            gx[i] += _catalogue_d(code, gy[i], x[i], y[i], fa, fb)
    elif code != MASK:
        _unary_loops(code, gx.shape[0], fa, fb, x, y, gx, gy)


@njit(cache=True, error_model="numpy", inline="always")
def _unary_write(code, fa, fb, x, y, gx, gy):
    """``unary_block``'s written loops of the common ops; False for another op."""
    z = -np.zeros(1, gx.dtype)[0]
    n = gx.shape[0]
    if code == NEG or code == RSUBC:
        for i in range(n):
            gx[i] = z + _d_neg(gy[i], x[i], y[i], fa, fb)
    elif code == ADDC or code == SUBC or code == CLONE:
        for i in range(n):
            gx[i] = z + _d_same(gy[i], x[i], y[i], fa, fb)
    elif code == MULC:
        for i in range(n):
            gx[i] = z + _d_mulc(gy[i], x[i], y[i], fa, fb)
    elif code == EXP:
        for i in range(n):
            gx[i] = z + _d_exp(gy[i], x[i], y[i], fa, fb)
    elif code == SQRT:
        for i in range(n):
            gx[i] = z + _d_sqrt(gy[i], x[i], y[i], fa, fb)
    elif code == TANH:
        for i in range(n):
            gx[i] = z + _d_tanh(gy[i], x[i], y[i], fa, fb)
    elif code == SIGMOID:
        for i in range(n):
            gx[i] = z + _d_sigmoid(gy[i], x[i], y[i], fa, fb)
    else:
        return False
    return True


@njit(cache=True, error_model="numpy", inline="always")
def _unary_loops(code, n, fa, fb, x, y, gx, gy):
    return (_affine_loops(code, n, fa, fb, x, y, gx, gy) or _activation_loops(code, n, fa, fb, x, y, gx, gy)
            or _exp_log_loops(code, n, fa, fb, x, y, gx, gy) or _shared_loop(code, n, fa, fb, x, y, gx, gy))


@njit(cache=True, error_model="numpy", inline="always")
def _affine_loops(code, n, fa, fb, x, y, gx, gy):
    if code == NEG or code == RSUBC:
        for i in range(n):
            gx[i] += _d_neg(gy[i], x[i], y[i], fa, fb)
    elif code == ADDC or code == SUBC or code == CLONE:
        for i in range(n):
            gx[i] += _d_same(gy[i], x[i], y[i], fa, fb)
    elif code == MULC:
        for i in range(n):
            gx[i] += _d_mulc(gy[i], x[i], y[i], fa, fb)
    elif code == DIVC:
        for i in range(n):
            gx[i] += _d_divc(gy[i], x[i], y[i], fa, fb)
    elif code == FILL:
        for i in range(n):
            gx[i] += 0.0        # (PyTorch's zeros, added: a -0.0 adjoint becomes 0.0)
    else:
        return False
    return True


@njit(cache=True, error_model="numpy", inline="always")
def _activation_loops(code, n, fa, fb, x, y, gx, gy):
    if code == TANH:
        for i in range(n):
            gx[i] += _d_tanh(gy[i], x[i], y[i], fa, fb)
    elif code == SIGMOID:
        for i in range(n):
            gx[i] += _d_sigmoid(gy[i], x[i], y[i], fa, fb)
    elif code == RELU:
        for i in range(n):
            gx[i] += _d_relu(gy[i], x[i], y[i], fa, fb)
    elif code == CLAMP:
        for i in range(n):
            gx[i] += _d_clamp(gy[i], x[i], y[i], fa, fb)
    elif code == ABS:
        for i in range(n):
            gx[i] += _d_abs(gy[i], x[i], y[i], fa, fb)
    else:
        return False
    return True


@njit(cache=True, error_model="numpy", inline="always")
def _exp_log_loops(code, n, fa, fb, x, y, gx, gy):
    if code == EXP:
        for i in range(n):
            gx[i] += _d_exp(gy[i], x[i], y[i], fa, fb)
    elif code == LOG:
        for i in range(n):
            gx[i] += _d_log(gy[i], x[i], y[i], fa, fb)
    elif code == SQRT:
        for i in range(n):
            gx[i] += _d_sqrt(gy[i], x[i], y[i], fa, fb)
    elif code == RECIPROCAL:
        for i in range(n):
            gx[i] += _d_reciprocal(gy[i], x[i], y[i], fa, fb)
    else:
        return False
    return True


@njit(cache=True, error_model="numpy", inline="always")
def _shared_loop(code, n, fa, fb, x, y, gx, gy):
    # Ops whose derivative calls a transcendental function (sin, cos, pow: numba has no
    # vectorized ones here) share one loop; their big rows go to numpy (``Op.numpy_rows``).
    if not _IN_SHARED_LOOP[code]:
        return False
    for i in range(n):
        gx[i] += _shared_d(code, gy[i], x[i], y[i], fa, fb)
    return True


# The derivatives of each binary op at one element: ``(gy, a, b, y, s) -> (da, db)``, with
# ``s`` = -1 for sub and minimum; as for unary ops, the arithmetic ones get loops of their own.
@njit(cache=True, error_model="numpy", inline="always")
def _d_add(gy, a, b, y, s):
    return gy, s * gy


@njit(cache=True, error_model="numpy", inline="always")
def _d_mul(gy, a, b, y, s):
    return gy * b, gy * a


@njit(cache=True, error_model="numpy", inline="always")
def _d_div(gy, a, b, y, s):
    return gy / b, -gy * ((a / b) / b)        # (PyTorch's order of operations: its bits, and no overflow of b * b)


@njit(cache=True, error_model="numpy", inline="always")
def _d_pow(gy, a, b, y, s):
    # As PyTorch: 0 for any gy at an exponent of 0 (where() outside the product), gy * 0 at a
    # base of 0 with an exponent >= 0, not a nan one (where() inside); the exponent - 1 in the
    # row's dtype, as numpy rounds it.
    da = gy * (b * a ** type(b)(b - 1.0)) if b != 0 else 0.0
    db = gy * (y * math.log(a)) if (a != 0 or not b >= 0) else 0.0 * gy
    return da, db


@njit(cache=True, error_model="numpy", inline="always")
def _d_masked(gy, a, b, y, s):
    return _where(b, gy), 0.0       # the mask is piecewise constant


@njit(cache=True, error_model="numpy", inline="always")
def _d_extremum(gy, a, b, y, s):
    # (a tie is a == b, as PyTorch's rule: equal infinities share the gradient too)
    d = 0.0 if a == b else (a - b) * s
    return _where(_mask(M_STEP_HALF, d, 0.0, 0.0), gy), _where(_mask(M_STEP_HALF, -d, 0.0, 0.0), gy)


@njit(cache=True, error_model="numpy")
def _log(t):
    """``log(t)`` as numpy's: -inf at 0, nan below."""
    return math.log(t) if t > 0 else (-math.inf if t == 0 else math.nan)


@njit(cache=True, error_model="numpy")
def _elem_bd(code, gy, a, b, y):
    """The two input adjoints of one element of the catalogue's binary ops (PyTorch's formulas)."""
    one = type(a)(1.0)
    if code == ATAN2:
        d = a * a + b * b
        r = one / d if d != 0 else type(a)(0.0)     # (PyTorch's: no gradient where the sum of squares is 0)
        return (gy * b) * r, (gy * -a) * r
    if code == FMOD:
        return gy, -gy * np.trunc(a / b)
    if code == REMAINDER:
        return gy, -gy * np.floor(a / b)
    if code == HYPOT:
        return (gy * a) / y, (gy * b) / y
    if code == LOGADDEXP:
        return gy / (one + math.exp(b - a)), gy / (one + math.exp(a - b))
    if code == LOGADDEXP2:
        two = type(a)(2.0)
        return gy / (one + two ** (b - a)), gy / (one + two ** (a - b))
    if code == XLOGY:
        # xlogy(g, b), 0 where a == 0 and b <= 0; g a / b
        da = type(gy)(0.0) if (gy == 0 and b == b) else gy * _log(b)
        return (type(gy)(0.0) if (a == 0 and b <= 0) else da), (gy * a) / b
    if code == COPYSIGN:
        return gy * (type(a)(_mask(M_SIGN, a, 0.0, 0.0) * _mask(M_SIGN, y, 0.0, 0.0)) + (a - a)), type(gy)(0.0)
    return math.nan, math.nan


@njit(cache=True, error_model="numpy")
def _catalogue_bd(code, gy, a, b, y):
    """``_elem_bd`` or the special functions' ``special_bd``."""
    if _is_special(code):
        return SF.special_bd(code, gy, a, b, y)
    return _elem_bd(code, gy, a, b, y)


@njit(cache=True, error_model="numpy")
def _binary_d(code, s, gy, a, b, y):
    """The two input adjoints contributed by one element of a binary row (``_core_bd``, ``_catalogue_bd``)."""
    if code >= CATALOGUE_BINARY:
        return _catalogue_bd(code, gy, a, b, y)
    return _core_bd(code, s, gy, a, b, y)


@njit(cache=True, error_model="numpy")
def _core_bd(code, s, gy, a, b, y):
    """The two input adjoints contributed by one element of a row of a core binary op."""
    if code == ADD or code == SUB:
        return _d_add(gy, a, b, y, s)
    if code == MUL:
        return _d_mul(gy, a, b, y, s)
    if code == DIV:
        return _d_div(gy, a, b, y, s)
    return _other_bd(code, s, gy, a, b, y)


@njit(cache=True, error_model="numpy")
def _other_bd(code, s, gy, a, b, y):
    """``_core_bd`` for the ops of ``OTHER_BINARY``."""
    if code == POW:
        return _d_pow(gy, a, b, y, s)
    if code == MASKED:
        return _d_masked(gy, a, b, y, s)
    if code == MAXIMUM or code == MINIMUM:
        return _d_extremum(gy, a, b, y, s)
    return math.nan, math.nan       # a code without a branch here: an error value


@njit(cache=True, error_model="numpy", nogil=True)   # (run on parts of a row by several threads)
def binary_adjoint(code, n, v, g, oa, ob, oy, na, nb, rga, rgb):
    """Accumulate the adjoints of both inputs of one binary row.

    An input with fewer elements (``na`` or ``nb`` < ``n``) is broadcast along
    leading dims: element ``i`` of the output reads element ``i % na``; its
    adjoint is the sum of the blocks of a full-size one (``_fold``).
    """
    if _is_special(code):
        special_binary_adjoint(code, n, v, g, oa, ob, oy, na, nb, rga, rgb)
    elif code >= CATALOGUE_BINARY:
        catalogue_binary_adjoint(code, n, v, g, oa, ob, oy, na, nb, rga, rgb)
    else:
        core_binary_adjoint(code, n, v, g, oa, ob, oy, na, nb, rga, rgb)


@njit(cache=True, error_model="numpy")
def catalogue_binary_adjoint(code, n, v, g, oa, ob, oy, na, nb, rga, rgb):
    """``binary_adjoint`` for a catalogue op's row: one shared loop."""
    a, b, y, ga, gb = _broadcast_in(n, v, g, oa, ob, oy, na, nb)
    gy = g[oy:oy + n]
    for i in range(n):
        da, db = _elem_bd(code, gy[i], a[i], b[i], y[i])
        if rga:
            ga[i] += da
        if rgb:
            gb[i] += db
    _fold_out(n, g, oa, ob, na, nb, rga, rgb, ga, gb)


@njit(cache=True, error_model="numpy")
def special_binary_adjoint(code, n, v, g, oa, ob, oy, na, nb, rga, rgb):
    """``binary_adjoint`` for a special function's row."""
    a, b, y, ga, gb = _broadcast_in(n, v, g, oa, ob, oy, na, nb)
    gy = g[oy:oy + n]
    for i in range(n):
        da, db = SF.special_bd(code, gy[i], a[i], b[i], y[i])
        if rga:
            ga[i] += da
        if rgb:
            gb[i] += db
    _fold_out(n, g, oa, ob, na, nb, rga, rgb, ga, gb)


@njit(cache=True, error_model="numpy", inline="always")
def _broadcast_in(n, v, g, oa, ob, oy, na, nb):
    """A binary row's inputs repeated to ``n`` elements, its output, and the arrays its input
    adjoints are added to (a broadcast input's: zeros, for ``_fold_out``)."""
    a = v[oa:oa + na] if na == n else _repeat(v[oa:oa + na], n)
    b = v[ob:ob + nb] if nb == n else _repeat(v[ob:ob + nb], n)
    ga = g[oa:oa + na] if na == n else np.zeros(n, g.dtype)
    gb = g[ob:ob + nb] if nb == n else np.zeros(n, g.dtype)
    return a, b, v[oy:oy + n], ga, gb


@njit(cache=True, error_model="numpy", inline="always")
def _fold_out(n, g, oa, ob, na, nb, rga, rgb, ga, gb):
    if rga and na < n:
        _fold(ga, 1.0, g[oa:oa + na])
    if rgb and nb < n:
        _fold(gb, 1.0, g[ob:ob + nb])


@njit(cache=True, error_model="numpy")
def core_binary_adjoint(code, n, v, g, oa, ob, oy, na, nb, rga, rgb):
    """``binary_adjoint`` for a core op's row."""
    if code == ADD or code == SUB:
        _sum_adjoint(code, n, v, g, oa, ob, oy, na, nb, rga, rgb)
    elif na == n and nb == n:
        _binary_loops(code, n, _s_of(code), v[oa:oa + n], v[ob:ob + n], v[oy:oy + n], g[oa:oa + n], g[ob:ob + n],
                      g[oy:oy + n], rga, rgb, oa == ob)
    else:
        _broadcast_adjoint(code, n, v, g, oa, ob, oy, na, nb, rga, rgb)


# The core binary ops in groups, as the unary ones (``UNARY_GROUPS``); the rows of products and
# of ``OTHER_BINARY`` with a broadcast input have a kernel of their own (``broadcast_row``, which
# the sweep picks for them): its loops cost as much compile time as those of all the groups.
SUMS = (ADD, SUB)
PRODUCTS = (MUL, DIV)
OTHER_BINARY = (POW, MAXIMUM, MINIMUM, MASKED)
_IN_OTHER_BINARY = np.zeros(N_CODES, np.bool_)
_IN_OTHER_BINARY[list(OTHER_BINARY)] = True


@njit(cache=True, error_model="numpy", inline="always")
def _binary_at(R, r):
    """Binary row ``r``'s size, offsets of its inputs and output, their sizes (an input with fewer
    elements is broadcast along leading dims), and whether each input requires grad."""
    x = R[R_A, r]
    y = R[R_B, r]
    return R[R_NUM, r], R[R_OFF, x], R[R_OFF, y], R[R_OFF, r], R[R_NUM, x], R[R_NUM, y], R[R_RG, x], R[R_RG, y]


@njit(cache=True, error_model="numpy")
def sum_row(R, F, stab, ix, v, g, vo, go, r):
    """The input adjoints of a row of a ``SUMS`` op."""
    n, oa, ob, oy, na, nb, rga, rgb = _binary_at(R, r)
    return _sum_adjoint(R[R_OP, r], n, v, g, oa, ob, oy, na, nb, rga, rgb)


@njit(cache=True, error_model="numpy")
def product_row(R, F, stab, ix, v, g, vo, go, r):
    """The input adjoints of a row of a ``PRODUCTS`` op, its inputs not broadcast (False for one that is:
    ``broadcast_row``'s)."""
    n, oa, ob, oy, na, nb, rga, rgb = _binary_at(R, r)
    return na == n and nb == n and _product_loops(R[R_OP, r], n, 1.0, v[oa:oa + n], v[ob:ob + n], v[oy:oy + n], g[oa:oa + n],
                          g[ob:ob + n], g[oy:oy + n], rga, rgb, oa == ob)


@njit(cache=True, error_model="numpy")
def other_binary_row(R, F, stab, ix, v, g, vo, go, r):
    """The input adjoints of a row of an ``OTHER_BINARY`` op, its inputs not broadcast (False for one that
    is: ``broadcast_row``'s)."""
    code = R[R_OP, r]
    n, oa, ob, oy, na, nb, rga, rgb = _binary_at(R, r)
    return na == n and nb == n and _other_binary_loops(code, n, _s_of(code), v[oa:oa + n], v[ob:ob + n], v[oy:oy + n], g[oa:oa + n],
                               g[ob:ob + n], g[oy:oy + n], rga, rgb, oa == ob)


@njit(cache=True, error_model="numpy")
def broadcast_row(R, F, stab, ix, v, g, vo, go, r):
    """The input adjoints of a row of a ``PRODUCTS`` or ``OTHER_BINARY`` op with a broadcast input."""
    n, oa, ob, oy, na, nb, rga, rgb = _binary_at(R, r)
    return _broadcast_adjoint(R[R_OP, r], n, v, g, oa, ob, oy, na, nb, rga, rgb)


BINARY_ROWS = (sum_row, product_row, other_binary_row)
BINARY_GROUPS = (SUMS, PRODUCTS, OTHER_BINARY)


@njit(cache=True, error_model="numpy", inline="always")
def _sum_adjoint(code, n, v, g, oa, ob, oy, na, nb, rga, rgb):
    if code != ADD and code != SUB:
        return False
    gy = g[oy:oy + n]
    if na == n and nb == n:
        return _sum_loops(code, n, _s_of(code), v[oa:oa + n], v[ob:ob + n], v[oy:oy + n], g[oa:oa + n],
                          g[ob:ob + n], gy, rga, rgb, oa == ob)
    if rga:
        _fold(gy, 1.0, g[oa:oa + na])
    if rgb:
        _fold(gy, _s_of(code), g[ob:ob + nb])
    return True


@njit(cache=True, error_model="numpy", inline="always")
def _broadcast_adjoint(code, n, v, g, oa, ob, oy, na, nb, rga, rgb):
    gy = g[oy:oy + n]
    if code == MUL:
        if rga:
            _fold(_times(gy, v[ob:ob + nb] if nb == n else _repeat(v[ob:ob + nb], n)), 1.0, g[oa:oa + na])
        if rgb:
            _fold(_times(gy, v[oa:oa + na] if na == n else _repeat(v[oa:oa + na], n)), 1.0, g[ob:ob + nb])
        return True
    if code != DIV and not _IN_OTHER_BINARY[code]:
        return False
    s = _s_of(code)
    a, b, y, ga, gb = _broadcast_in(n, v, g, oa, ob, oy, na, nb)
    for i in range(n):
        da, db = _core_bd(code, s, gy[i], a[i], b[i], y[i])
        if rga:
            ga[i] += da
        if rgb:
            gb[i] += db
    _fold_out(n, g, oa, ob, na, nb, rga, rgb, ga, gb)
    return True


@njit(cache=True, error_model="numpy", inline="always")
def _s_of(code):
    """The ``s`` of the binary derivatives: -1 for sub and minimum."""
    return -1.0 if code == SUB or code == MINIMUM else 1.0


@njit(cache=True, error_model="numpy", nogil=True)   # (run on blocks of a row by several threads)
def binary_block(code, a, b, y, ga, gb, gy, rga, rgb, same, wa, wb):
    """Accumulate ``ga``, ``gb``, the input adjoints of a block of a binary row whose inputs are not
    broadcast, from its values ``a``, ``b``, ``y`` and output adjoint ``gy`` (``same``: ``a`` and
    ``b`` are one node, ``ga`` and ``gb`` one array): ``binary_adjoint``'s loops on arrays given apart.
    ``wa``, ``wb``: that adjoint is one no gradient reached yet, which holds no zeros: written, with
    the bits of starting it at -0.0, as the sweep does (``z +``: -0.0 + d is d)."""
    if wa or wb:
        z = -np.zeros(1, gy.dtype)[0]
        n = gy.shape[0]
        wa = wa and rga
        wb = wb and rgb
        if (code == ADD or code == SUB) and not same:
            s = -1.0 if code == SUB else 1.0
            for i in range(n):
                if rga:
                    ga[i] = (z if wa else ga[i]) + gy[i]
                if rgb:
                    gb[i] = (z if wb else gb[i]) + gy[i] * s
            return
        if code == MUL and same:
            for i in range(n):
                d = gy[i] * a[i]
                ga[i] = (z + d) + d
            return
        if code == MUL:
            for i in range(n):
                da, db = _d_mul(gy[i], a[i], b[i], y[i], 1.0)
                if rga:
                    ga[i] = (z if wa else ga[i]) + da
                if rgb:
                    gb[i] = (z if wb else gb[i]) + db
            return
        if code == DIV:
            for i in range(n):
                da, db = _d_div(gy[i], a[i], b[i], y[i], 1.0)
                if rga:
                    ga[i] = (z if wa else ga[i]) + da
                if rgb:
                    gb[i] = (z if wb else gb[i]) + db
            return
        if wa:
            ga[:] = -0.0
        if wb:
            gb[:] = -0.0
    if code >= CATALOGUE_BINARY:
        for i in range(gy.shape[0]):
            da, db = _catalogue_bd(code, gy[i], a[i], b[i], y[i])
            if rga:
                ga[i] += da
            if rgb:
                gb[i] += db
        return
    _binary_loops(code, gy.shape[0], _s_of(code), a, b, y, ga, gb, gy, rga, rgb, same)


@njit(cache=True, error_model="numpy", inline="always")
def _binary_loops(code, n, s, a, b, y, ga, gb, gy, rga, rgb, same):
    # As for unary rows, sums and products get loops of their own.
    return (_sum_loops(code, n, s, a, b, y, ga, gb, gy, rga, rgb, same)
            or _product_loops(code, n, s, a, b, y, ga, gb, gy, rga, rgb, same)
            or _other_binary_loops(code, n, s, a, b, y, ga, gb, gy, rga, rgb, same))


@njit(cache=True, error_model="numpy", inline="always")
def _sum_loops(code, n, s, a, b, y, ga, gb, gy, rga, rgb, same):
    if code != ADD and code != SUB:
        return False
    if rga and rgb and not same:
        for i in range(n):      # (one pass over gy for both)
            ga[i] += gy[i]
            gb[i] += gy[i] * s
        return True
    if rga:
        _fold(gy, 1.0, ga)
    if rgb:
        _fold(gy, s, gb)
    return True


@njit(cache=True, error_model="numpy", inline="always")
def _product_loops(code, n, s, a, b, y, ga, gb, gy, rga, rgb, same):
    if code == MUL and same:
        for i in range(n):      # x * x: one adjoint added to twice (apart, it would not vectorize)
            d = gy[i] * a[i]
            ga[i] = (ga[i] + d) + d
    elif code == MUL:
        for i in range(n):
            da, db = _d_mul(gy[i], a[i], b[i], y[i], s)
            if rga:
                ga[i] += da
            if rgb:
                gb[i] += db
    elif code == DIV:
        for i in range(n):
            da, db = _d_div(gy[i], a[i], b[i], y[i], s)
            if rga:
                ga[i] += da
            if rgb:
                gb[i] += db
    else:
        return False
    return True


@njit(cache=True, error_model="numpy", inline="always")
def _other_binary_loops(code, n, s, a, b, y, ga, gb, gy, rga, rgb, same):
    if code == MAXIMUM or code == MINIMUM:
        for i in range(n):
            da, db = _d_extremum(gy[i], a[i], b[i], y[i], s)
            if rga:
                ga[i] += da
            if rgb:
                gb[i] += db
        return True
    if not _IN_OTHER_BINARY[code]:
        return False
    for i in range(n):
        da, db = _other_bd(code, s, gy[i], a[i], b[i], y[i])
        if rga:
            ga[i] += da
        if rgb:
            gb[i] += db
    return True


@njit(cache=True, error_model="numpy")
def _times(x, y):
    """``x * y`` elementwise (a loop: no array-expression machinery to compile)."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = x[i] * y[i]
    return out


@njit(cache=True, error_model="numpy")
def _repeat(x, n):
    """``x`` repeated to ``n`` elements (its size divides n)."""
    out = np.empty(n, x.dtype)
    m = x.shape[0]
    for i in range(n):
        out[i] = x[i % m]
    return out


@njit(cache=True, error_model="numpy")
def _fold(full, scale, small):
    """Add ``scale`` times the blocks of ``full`` (a multiple of ``small``'s size) into ``small``;
    blocks are sliced so that the loops vectorize."""
    m = small.shape[0]
    if m == full.shape[0]:
        for j in range(m):
            small[j] += full[j] * scale
        return
    acc = np.zeros(m, small.dtype)
    for start in range(0, full.shape[0], m):
        block = full[start:start + m]
        for j in range(m):
            acc[j] += block[j]
    for j in range(m):
        small[j] += acc[j] * scale


@njit(cache=True, error_model="numpy", inline="always")
def scalar_d(code, gy, x, y, out, fa, fb):
    """The input adjoints ``(dx, dy)`` of a one-element unary or binary row (not CAST or MASK).

    The sweep loads and stores the elements itself: for one element, passing
    arrays to a kernel costs several times the derivative (two atomic reference
    counts per array, even when inlined); a call on scalars costs a few ns.  The three
    functions are inlined into their callers: a pair returned through calls that are not
    costs ~7 ns a row (a scalar program's backward, ``tape/_replay.py``: 13 -> 6 us for
    1,000 rows); the sweep calls the two halves by address, compiled on their own.
    """
    if _is_special(code):
        return special_scalar_d(code, gy, x, y, out, fa, fb)
    if code >= CATALOGUE_BINARY or (code >= CATALOGUE_UNARY and code < _UNARY_END):
        return catalogue_scalar_d(code, gy, x, y, out, fa, fb)
    return core_scalar_d(code, gy, x, y, out, fa, fb)


@njit(cache=True, error_model="numpy", inline="always")
def core_scalar_d(code, gy, x, y, out, fa, fb):
    """``scalar_d`` for a core op's row."""
    if code < _UNARY_END:
        return _core_d(code, gy, x, out, fa, fb), 0.0
    return _core_bd(code, _s_of(code), gy, x, y, out)


@njit(cache=True, error_model="numpy", inline="always")
def catalogue_scalar_d(code, gy, x, y, out, fa, fb):
    """``scalar_d`` for a catalogue op's row."""
    if code < _UNARY_END:
        return _elem_d(code, gy, x, out, fa, fb), 0.0
    return _elem_bd(code, gy, x, y, out)


@njit(cache=True, error_model="numpy", inline="always")
def special_scalar_d(code, gy, x, y, out, fa, fb):
    """``scalar_d`` for a special function's row."""
    if code < _UNARY_END:
        return SF.special_d(code, gy, x, out, fa, fb), 0.0
    return SF.special_bd(code, gy, x, y, out)


# --- numeric forward kernels ----------------------------------------------------
# The compiled face of each op's forward, for rows written by compiled code (the
# recorded backward appends rows and must compute their values).  Values match
# the numpy ``forward`` to rounding; a test checks every code against it.
@njit(cache=True, error_model="numpy")
def _bits_float(i):
    """The float64 whose bits are the integer ``i`` (nan_to_num keeps its third number in ``ia``)."""
    return np.array([i], np.int64).view(np.float64)[0]


@njit(cache=True, error_model="numpy")
def _elem_f(code, x, fa, fb, ia):
    """One element of the catalogue's unary ops (``fa``/``fb`` in the row's dtype)."""
    one = type(x)(1.0)
    if code == RSQRT:
        return _rsqrt(x)
    if code == LOG1P:
        return math.log1p(x) if x > -1 else (-math.inf if x == -1 else math.nan)
    if code == ASIN:
        return math.asin(x) if abs(x) <= 1 else math.nan
    if code == ACOS:
        return math.acos(x) if abs(x) <= 1 else math.nan
    if code == ATAN:
        return math.atan(x)
    if code == ASINH:
        return math.asinh(x)
    if code == ACOSH:
        return math.acosh(x) if x >= 1 else math.nan
    if code == ATANH:
        return math.atanh(x) if abs(x) < 1 else (math.copysign(math.inf, x) if abs(x) == 1 else math.nan)
    if code == ERF:
        return math.erf(x)
    if code == ERFC:
        return math.erfc(x)
    if code == ERFINV:
        return _erfinv(x)
    if code == EXP2:
        return type(x)(2.0) ** x
    if code == FRAC:
        return x - np.trunc(x)
    if code == DEG2RAD:
        return x * type(x)(DEG)
    if code == RAD2DEG:
        return x * type(x)(RAD)
    if code == SIGN or code == SGN:
        return one if x > 0 else (-one if x < 0 else type(x)(0.0))
    if code == FLOOR:
        return np.floor(x)
    if code == CEIL:
        return np.ceil(x)
    if code == TRUNC:
        return np.trunc(x)
    if code == ROUND:
        if ia > 0:
            p = type(x)(10.0 ** ia)
            return np.rint(x * p) / p
        if ia < 0:
            p = type(x)(10.0 ** -ia)
            return np.rint(x / p) * p
        return np.rint(x)
    if code == LOGIT:
        if fb == 1:
            x = fa if x < fa else (one - fa if x > one - fa else x)
        t = x / (one - x)
        return math.log(t) if t > 0 else (-math.inf if t == 0 else math.nan)
    if code == SELU:
        return x * type(x)(SELU_SCALE) if x > 0 else math.expm1(x) * type(x)(SELU_SCALE * SELU_ALPHA)
    if code == CELU:
        return x if x > 0 else math.expm1(x / fa) * fa
    if code == NAN_TO_NUM:
        if x != x:
            return fa
        if x == math.inf:
            return fb
        if x == -math.inf:
            return type(x)(_bits_float(ia))
        return x
    return math.nan


@njit(cache=True, error_model="numpy")
def _unary_f(code, x, fa, fb, ia):
    """One element of a unary row (``_core_f``, ``_elem_f``, the special functions' ``special_f``)."""
    if _is_special(code):
        return SF.special_f(code, x, fa, fb, ia)
    if code >= CATALOGUE_UNARY:
        return _elem_f(code, x, fa, fb, ia)
    return _core_f(code, x, fa, fb, ia)


@njit(cache=True, error_model="numpy")
def _core_f(code, x, fa, fb, ia):
    if code == NEG:
        return -x
    if code == ABS:
        return abs(x)
    if code == EXP:
        return math.exp(x)
    if code == LOG:
        return math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)
    if code == LOG2:
        return math.log2(x) if x > 0 else (-math.inf if x == 0 else math.nan)
    if code == LOG10:
        return math.log10(x) if x > 0 else (-math.inf if x == 0 else math.nan)
    if code == SQRT:
        return math.sqrt(x) if x >= 0 else math.nan
    if code == SIN:
        return math.sin(x)
    if code == COS:
        return math.cos(x)
    if code == TAN:
        return math.tan(x)
    if code == TANH:
        return math.tanh(x)
    if code == SIGMOID:
        return 1.0 / (1.0 + math.exp(-x))
    if code == RELU:
        return 0.0 if x <= 0 else x
    if code == RECIPROCAL:
        return 1.0 / x
    if code == SINH:
        return math.sinh(x)     # (libm's, in compiled code: inf on overflow, as numpy)
    if code == COSH:
        return math.cosh(x)
    if code == EXPM1:
        return math.expm1(x)
    if code == ADDC:
        return x + fa
    if code == SUBC:
        return x - fa
    if code == RSUBC:
        return fa - x
    if code == MULC:
        return x * fa
    if code == DIVC:
        return x / fa
    if code == POWC:
        return _pow(x, fa)
    if code == RPOWC:
        return fa ** x
    if code == CLAMP:
        return x if x != x else min(max(x, fa), fb)
    if code == MASK:
        return _mask(ia, x, fa, fb)
    if code == FILL:
        return fa
    if code == CLONE:
        return x
    return math.nan     # a code without a branch here: an error value


@njit(cache=True, error_model="numpy")
def unary_forward(code, n, fa, fb, ia, v, ox, oy):
    """Write the output of one unary row (x at ``ox``, y at ``oy``, same arena)."""
    if _is_special(code):
        special_unary_forward(code, n, fa, fb, ia, v, ox, oy)
    elif code >= CATALOGUE_UNARY:
        catalogue_unary_forward(code, n, fa, fb, ia, v, ox, oy)
    else:
        core_unary_forward(code, n, fa, fb, ia, v, ox, oy)


@njit(cache=True, error_model="numpy")
def core_unary_forward(code, n, fa, fb, ia, v, ox, oy):
    """``unary_forward`` for a core op's row."""
    x = v[ox:ox + n]
    y = v[oy:oy + n]
    # The row's numbers as its dtype holds them: numpy and PyTorch round them so (0.1 or a clamp
    # bound of 0.7 are no float32 values), which a float32 row's arithmetic and comparisons see.
    a = v.dtype.type(fa)
    b = v.dtype.type(fb)
    for i in range(n):
        y[i] = _core_f(code, x[i], a, b, ia)


@njit(cache=True, error_model="numpy")
def catalogue_unary_forward(code, n, fa, fb, ia, v, ox, oy):
    """``unary_forward`` for a catalogue op's row."""
    x = v[ox:ox + n]
    y = v[oy:oy + n]
    a = v.dtype.type(fa)
    b = v.dtype.type(fb)
    for i in range(n):
        y[i] = _elem_f(code, x[i], a, b, ia)


@njit(cache=True, error_model="numpy")
def special_unary_forward(code, n, fa, fb, ia, v, ox, oy):
    """``unary_forward`` for a special function's row."""
    x = v[ox:ox + n]
    y = v[oy:oy + n]
    a = v.dtype.type(fa)
    b = v.dtype.type(fb)
    for i in range(n):
        y[i] = SF.special_f(code, x[i], a, b, ia)


@njit(cache=True, error_model="numpy")
def _elem_bf(code, a, b):
    """One element of the catalogue's binary ops."""
    if code == ATAN2:
        return math.atan2(a, b)
    if code == FMOD:
        return np.fmod(a, b)
    if code == REMAINDER:       # (PyTorch's: fmod, moved into b's sign)
        m = np.fmod(a, b)
        return m + b if (m != 0 and (b < 0) != (m < 0)) else m
    if code == HYPOT:
        return math.hypot(a, b)
    if code == LOGADDEXP:
        if a != a or b != b:
            return type(a)(math.nan)
        if a == b and a - a != 0:
            return a                    # (inf and inf, -inf and -inf)
        return max(a, b) + math.log1p(math.exp(-abs(a - b)))
    if code == LOGADDEXP2:
        if a != a or b != b:
            return type(a)(math.nan)
        if a == b and a - a != 0:
            return a
        return max(a, b) + math.log1p(type(a)(2.0) ** (-abs(a - b))) / type(a)(LN2)
    if code == XLOGY:
        if b != b:
            return b
        return type(a)(0.0) if a == 0 else a * _log(b)
    if code == COPYSIGN:
        return math.copysign(a, b)
    return math.nan


@njit(cache=True, error_model="numpy")
def _binary_f(code, a, b):
    """One element of a binary row (``_core_bf``, ``_elem_bf``, the special functions' ``special_bf``)."""
    if _is_special(code):
        return SF.special_bf(code, a, b)
    if code >= CATALOGUE_BINARY:
        return _elem_bf(code, a, b)
    return _core_bf(code, a, b)


@njit(cache=True, error_model="numpy")
def _core_bf(code, a, b):
    if code == ADD:
        return a + b
    if code == SUB:
        return a - b
    if code == MUL:
        return a * b
    if code == DIV:
        return a / b
    if code == POW:
        return a ** b
    if code == MAXIMUM:
        return a if (a >= b or a != a) else b
    if code == MASKED:
        return a * b if b != 0 else 0.0 * b
    if code == MINIMUM:
        return a if (a <= b or a != a) else b
    return math.nan     # a code without a branch here: an error value


@njit(cache=True, error_model="numpy")
def binary_forward(code, n, v, oa, ob, oy, na, nb):
    """Write the output of one binary row; an input of fewer elements repeats (leading-dim broadcast)."""
    if _is_special(code):
        special_binary_forward(code, n, v, oa, ob, oy, na, nb)
    elif code >= CATALOGUE_BINARY:
        catalogue_binary_forward(code, n, v, oa, ob, oy, na, nb)
    else:
        core_binary_forward(code, n, v, oa, ob, oy, na, nb)


@njit(cache=True, error_model="numpy")
def core_binary_forward(code, n, v, oa, ob, oy, na, nb):
    """``binary_forward`` for a core op's row."""
    y = v[oy:oy + n]
    a = v[oa:oa + na]
    b = v[ob:ob + nb]
    if na == n and nb == n:
        for i in range(n):
            y[i] = _core_bf(code, a[i], b[i])
        return
    for i in range(n):
        y[i] = _core_bf(code, a[i % na], b[i % nb])


@njit(cache=True, error_model="numpy")
def catalogue_binary_forward(code, n, v, oa, ob, oy, na, nb):
    """``binary_forward`` for a catalogue op's row."""
    y = v[oy:oy + n]
    a = v[oa:oa + na]
    b = v[ob:ob + nb]
    if na == n and nb == n:
        for i in range(n):
            y[i] = _elem_bf(code, a[i], b[i])
        return
    for i in range(n):
        y[i] = _elem_bf(code, a[i % na], b[i % nb])


@njit(cache=True, error_model="numpy")
def special_binary_forward(code, n, v, oa, ob, oy, na, nb):
    """``binary_forward`` for a special function's row."""
    y = v[oy:oy + n]
    a = v[oa:oa + na]
    b = v[ob:ob + nb]
    for i in range(n):
        y[i] = SF.special_bf(code, a[i % na], b[i % nb])


# --- forward helpers ------------------------------------------------------------
def int_power(base, exponent):
    """Integer ``base ** exponent`` as PyTorch computes it: a negative exponent gives 1 for base 1,
    +-1 for base -1 and 0 otherwise (numpy refuses negative integer exponents)."""
    base, exponent = np.broadcast_arrays(base, exponent)
    negative = exponent < 0
    if not negative.any():
        return np.power(base, exponent)
    out = np.power(base, np.where(negative, 0, exponent))
    odd = np.where(exponent % 2 == 0, 1, -1)
    small = np.where(base == 1, 1, np.where(base == -1, odd, 0)).astype(out.dtype)
    return np.where(negative, small, out)


# PyTorch's formula, ``1 / (1 + exp(-x))``: its values (0 where exp(-x) overflows, where the
# quotient form would give a subnormal) in four passes over the data.
def _sigmoid(x):
    e = np.negative(x)
    if type(e) is not np.ndarray:
        return 1.0 / (1.0 + np.exp(e))      # (a numpy scalar: its dtype kept)
    np.exp(e, out=e)
    e += 1.0
    return np.reciprocal(e, out=e)


def _tanh(x, out=None):
    # numpy's float32 tanh is off by an ulp on about a third of its inputs, where PyTorch's (SLEEF) is
    # almost always the correctly rounded value: the float64 one rounded to float32 is that value (and
    # what the scalar path, ``math.tanh``, gives), which ``tanh_f32`` computes, in less time than numpy's
    # float32 loop here (3.2-3.7 against 4.3-5.6 ns an element from 8K to 1M elements, side by side),
    # big rows on every core (each element's bits whichever part it falls in).
    if x.dtype == np.float32:
        y = np.empty(x.shape, np.float32) if out is None else out
        xs, ys = np.ascontiguousarray(x).reshape(-1), y.reshape(-1)
        n = xs.shape[0]
        if n < 2 * PART:
            tanh_f32(xs, ys)
        else:
            in_parts(lambda lo, hi: tanh_f32(xs[lo:hi], ys[lo:hi]), n)
        # (an ``out`` given is an arena slot, row-major as the arena is)
        return y if out is not None else laid_out_like(x, y)
    return np.tanh(x, out=out)


_tanh.transcendental = True     # (a replay computes its big rows with it, as eager did: tape/_replay.py)


def _sigmoid_scalar(f: float) -> float:
    return 1.0 / (1.0 + math.exp(-f))       # (OverflowError below -709.78: numpy's face gives 0)


def _relu_scalar(f: float) -> float:
    return 0.0 if f <= 0 else f


def _maximum_scalar(a: float, b: float) -> float:
    return a if (a >= b or a != a) else b


def _minimum_scalar(a: float, b: float) -> float:
    return a if (a <= b or a != a) else b


def _power(a, b):
    """``a ** b`` for two tensors, as C's pow (and PyTorch): numpy computes an exponent of 0.5 as a
    square root, whose results at -inf and -0 differ (nan and -0 where pow gives inf and 0)."""
    y = np.power(a, b)
    if y.dtype.kind == "f":
        half = b == 0.5
        if np.any(half):
            y = np.where(half & ((a == -np.inf) | (a == 0)), np.abs(a), y).astype(y.dtype, copy=False)
    return y


def clamp_forward(x, lo, hi):
    """``min(max(x, lo), hi)`` keeping x on a tie, as PyTorch (clamp(-0., 0., 1.) is -0.) and the
    kernel do: numpy's maximum breaks a tie of signed zeros by the CPU's instruction, so a zero
    bound takes comparisons instead.  nan stays nan; with lo > hi every element is hi."""
    if lo == 0 or hi == 0:
        y = np.where(x < lo, lo, x)
        return np.where(y > hi, hi, y).astype(x.dtype, copy=False)
    return np.minimum(np.maximum(x, lo), hi)


def _mask_np(x, kind, lo, hi):
    if kind == M_POS:
        m = x > 0
    elif kind == M_SIGN:
        return np.nan_to_num(np.sign(x), nan=0.0)
    elif kind == M_INRANGE:
        m = (x >= lo) & (x <= hi)
    elif kind == M_STEP_HALF:
        return np.where(x < 0, 0.0, np.where(x == 0, 0.5, 1.0)).astype(x.dtype)
    elif kind == M_NONZERO:
        m = x != 0
    elif kind == M_ZERO:
        return np.zeros_like(x)
    elif kind == M_FINITE:
        m = np.isfinite(x)
    elif kind == M_NONPOS:
        m = x <= 0
    elif kind == M_NOT_OUTSIDE:
        m = ~((x < lo) | (x > hi))
    else:
        m = x < 0
    return m.astype(x.dtype)


# --- the table ------------------------------------------------------------------
# How far the faces of an op may disagree (``Op.ulps``): not at all where they compute the same
# expression; where libm meets numpy's vectorized functions, 2 ulps in float64, and 4 where
# numba's float32 libm calls meet numpy's own float32 functions.  ``numpy_rows=True``: the op has
# no loop of its own in the adjoint kernel, or its derivative calls a transcendental function:
# its big rows are differentiated by numpy (``Op.numpy_rows``).
EXACT = (0, (0, 0), (0, 0))
TRANSCENDENTAL = (2, (2, 4))


def _u(code, name, grad_fn, saved, forward, scalar, vjp, float_only=True, number_input=False, ulps=(),
       numpy_rows=False, node_saved=(), grad_fn_of=None):
    return register(Op(code, name, grad_fn, saved, vjp, forward, scalar, float_only, number_input=number_input,
                       ulps=ulps, numpy_rows=numpy_rows, node_saved=node_saved, jvp=diagonal(vjp),
                       grad_fn_of=grad_fn_of))


def _number(r):
    """A Python-number operand as PyTorch's node shows it: a wrapped 0-d tensor (int64 for an int)."""
    kind = r.ib
    return plain(np.array(r.fa), D.float64) if not kind else plain(np.array(_shown(r)), D.int64 if kind == 1 else D.bool_)


def _shown(r):
    """A Python-number operand as PyTorch's node shows it among its scalars: an int or bool stays one."""
    kind = r.ib
    return r.fa if not kind else int(r.fa) if kind == 1 else bool(r.fa)


def _bound_shown(value):
    return None if math.isinf(value) else value


_u(NEG, "neg", "NegBackward0", 0, np.negative, lambda f: -f,
   lambda g, x, y, r: (-g,), float_only=False, ulps=EXACT)
_u(ABS, "abs", "AbsBackward0", X0, np.abs, abs,
   lambda g, x, y, r: (g * x[0]._mask(M_SIGN),), float_only=False, ulps=EXACT)
_u(EXP, "exp", "ExpBackward0", OUT, np.exp, math.exp, lambda g, x, y, r: (g * y,), ulps=(*TRANSCENDENTAL, (0, 0)))
_u(LOG, "log", "LogBackward0", X0, np.log, math.log, lambda g, x, y, r: (g / x[0],), ulps=(*TRANSCENDENTAL, (0, 0)))
_u(LOG2, "log2", "Log2Backward0", X0, np.log2, math.log2,
   lambda g, x, y, r: (g / (x[0] * LN2),), ulps=(*TRANSCENDENTAL, (0, 0)), numpy_rows=True)
_u(LOG10, "log10", "Log10Backward0", X0, np.log10, math.log10,
   lambda g, x, y, r: (g / (x[0] * LN10),), ulps=(*TRANSCENDENTAL, (0, 0)), numpy_rows=True)
_u(SQRT, "sqrt", "SqrtBackward0", OUT, np.sqrt, math.sqrt, lambda g, x, y, r: (g / (y * 2.0),), ulps=EXACT)
_u(SIN, "sin", "SinBackward0", X0, np.sin, math.sin, lambda g, x, y, r: (g * x[0].cos(),),
   ulps=(*TRANSCENDENTAL, (2, 4)), numpy_rows=True)
_u(COS, "cos", "CosBackward0", X0, np.cos, math.cos, lambda g, x, y, r: (-(g * x[0].sin()),),
   ulps=(*TRANSCENDENTAL, (2, 4)), numpy_rows=True)
_u(TAN, "tan", "TanBackward0", OUT, np.tan, math.tan, lambda g, x, y, r: (g * (y * y + 1.0),),
   ulps=(*TRANSCENDENTAL, (0, 2)), numpy_rows=True)
_u(SINH, "sinh", "SinhBackward0", X0, np.sinh, math.sinh, lambda g, x, y, r: (g * x[0].cosh(),),
   ulps=(*TRANSCENDENTAL, (2, 4)), numpy_rows=True)
_u(COSH, "cosh", "CoshBackward0", X0, np.cosh, math.cosh, lambda g, x, y, r: (g * x[0].sinh(),),
   ulps=(*TRANSCENDENTAL, (2, 4)), numpy_rows=True)
_u(EXPM1, "expm1", "Expm1Backward0", OUT, np.expm1, math.expm1, lambda g, x, y, r: (g * (y + 1.0),),
   ulps=(*TRANSCENDENTAL, (0, 2)), numpy_rows=True)
_u(TANH, "tanh", "TanhBackward0", OUT, _tanh, math.tanh,
   lambda g, x, y, r: (g * (1.0 - y * y),), ulps=(*TRANSCENDENTAL, (0, 2)))
_u(SIGMOID, "sigmoid", "SigmoidBackward0", OUT, _sigmoid, _sigmoid_scalar,
   lambda g, x, y, r: (g * (y * (1.0 - y)),), ulps=(*TRANSCENDENTAL, (0, 2)))
_u(RELU, "relu", "ReluBackward0", OUT, lambda x: np.maximum(x, 0).astype(x.dtype, copy=False),
   _relu_scalar, lambda g, x, y, r: (g._masked(1.0 - y._mask(M_NONPOS)),), float_only=False, ulps=EXACT)
_u(RECIPROCAL, "reciprocal", "ReciprocalBackward0", OUT, lambda x: 1.0 / x, lambda f: 1.0 / f,
   lambda g, x, y, r: (-(g * (y * y)),), ulps=EXACT)
_u(CLONE, "clone", "CloneBackward0", 0, np.copy, lambda f: f, lambda g, x, y, r: (g,),
   float_only=False, ulps=EXACT)
# A piecewise-constant value: zeros with no graph, as PyTorch's derivative of sign or of a
# threshold (no nan from an infinite g, which the kernel does not see either).
_u(MASK, "_mask", "MaskBackward0", 0, None, None, lambda g, x, y, r: (g._mask(M_ZERO, constant=True),))
# fill_/zero_ on a recorded tensor: the constant ``fa``; ``ib`` = 1 for zero_ (its node's name).
# The derivative is zeros_like(grad) with no graph, as in PyTorch (nothing reaches the filled input).
# ``ib`` says what filled the tensor: a value, zeros, or one of the random fills (``FILLS``).
FILLS = ("FillBackward2", "ZeroBackward0", "UniformBackward0", "NormalBackward0", "RandomBackward2",
         "RandomBackward1", "RandomBackward0", "BernoulliBackward2", "BernoulliBackward1", "ExponentialBackward0",
         "GeometricBackward0", "LogNormalBackward0", "CauchyBackward0", *(f"{c}Backward{k}" for c in (
             "Eq", "Ne", "Lt", "Le", "Gt", "Ge") for k in (0, 1)))
register(Op(FILL, "fill_", "FillBackward2", 0, lambda g, x, y, r: (g._mask(M_ZERO, constant=True),), float_only=False,
            grad_fn_of=lambda r: FILLS[r.ib]))
_u(CAST, "_to_copy", "ToCopyBackward0", 0, None, None,
   lambda g, x, y, r: (g.to(x[0].dtype),))

# Ops with a Python-number operand: the number is the row's float attribute ``fa``.
_ALPHA = (("alpha", lambda r: 1),)     # (``add(x, y, alpha=a)`` is recorded as ``x + y * a``)
_u(ADDC, "add", "AddBackward0", 0, None, None, lambda g, x, y, r: (g,), number_input=True, ulps=EXACT,
   node_saved=_ALPHA)
_u(SUBC, "sub", "SubBackward0", 0, None, None, lambda g, x, y, r: (g,), number_input=True, ulps=EXACT,
   node_saved=_ALPHA)
_u(RSUBC, "rsub", "RsubBackward1", 0, None, None, lambda g, x, y, r: (-g,), ulps=EXACT,
   node_saved=_ALPHA)
_NUMBER_OTHER = (("other", _number), ("self", X0))
_MODE_NONE = (("rounding_mode", lambda r: None),)     # (``div`` with ``rounding_mode=None`` given: ``fb`` 1)


def _div_name(r) -> str:
    return "DivBackward2" if r.fb else "DivBackward0"

     # (the tensor is saved only when the number needs a grad: never)
_u(MULC, "mul", "MulBackward0", NUMBER, None, None, lambda g, x, y, r: (g * r.fa,), number_input=True, ulps=EXACT,
   node_saved=_NUMBER_OTHER)
_u(DIVC, "div", "DivBackward0", NUMBER, None, None, lambda g, x, y, r: (g / r.fa,), number_input=True, ulps=EXACT,
   node_saved=lambda r: _NUMBER_OTHER + _MODE_NONE if r.fb else _NUMBER_OTHER, grad_fn_of=_div_name)
_u(POWC, "pow", "PowBackward0", X0, None, None,
   lambda g, x, y, r: ((g._mask(M_ZERO, constant=True),) if r.fa == 0.0     # zeros, as PyTorch's zeros_like
                       else (g * (x[0] ** (r.fa - 1.0) * r.fa),)),
   ulps=(*TRANSCENDENTAL, (2, 4)), numpy_rows=True, node_saved=(("self", X0), ("exponent", _shown)))
_u(RPOWC, "pow", "PowBackward2", X0 | OUT, None, None,
   lambda g, x, y, r: (g * (y * r.log_fa)._masked(x[0]._mask(M_NEG)),) if r.fa == 0.0
   else (g * (y * r.log_fa),), ulps=(*TRANSCENDENTAL, (2, 2)), numpy_rows=True,
   node_saved=(("exponent", X0), ("result", OUT), ("self", _shown)))
# ``ib`` says which front end recorded the row (its node's name): clamp, clamp_min, clamp_max.
register(Op(CLAMP, "clamp", "ClampBackward1", X0,
            lambda g, x, y, r: (g._masked(x[0]._mask(M_INRANGE, r.fa, r.fb, constant=True)),),
            grad_fn_of=lambda r: ("ClampBackward1", "ClampMinBackward0", "ClampMaxBackward0")[r.ib],
            node_saved=(("self", X0), ("min", lambda r: _bound_shown(r.fa)), ("max", lambda r: _bound_shown(r.fb)))))

# --- the catalogue's unary ops (issue 14) ----------------------------------------
def _special(code):
    """The numpy face of an op numpy has no function for (erf, erfc, erfinv): a compiled loop of
    libm's function; erf and erfc of big arrays (``NUMPY_ROWS``) are vectorized (``ops/_erf.py``:
    within 2 and 5 ulps of libm's in float64, correctly rounded in float32 but near ties)."""
    def forward(x, out=None):
        x = np.asarray(x)
        if code != ERFINV and x.dtype.kind == "f" and x.size >= NUMPY_ROWS[x.dtype != np.float64]:
            y = erf_vectorized(x, code == ERFC, out)
        else:
            y = np.empty(x.shape, x.dtype) if out is None else out
            _special_loop(code, np.ascontiguousarray(x).reshape(-1), y.reshape(-1))
        # (an ``out`` given is an arena slot, row-major as the arena is)
        return y if out is not None else laid_out_like(x, y)
    WRITES_OUT.add(forward)
    return forward


# Forward faces that are not ufuncs but write a result of their input's shape and dtype into a
# C-contiguous ``out`` given: a big recorded result is computed straight into its arena slot.
WRITES_OUT: set = {_tanh}


@njit(cache=True, error_model="numpy", nogil=True)
def _special_loop(code, x, out):
    for i in range(x.shape[0]):
        out[i] = _elem_f(code, x[i], x[i], x[i], 0)


def _sign(x):
    if x.dtype == np.bool_:
        return x.copy()
    return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)


def _sign_scalar(f: float) -> float:
    return 1.0 if f > 0 else (-1.0 if f < 0 else 0.0)


def _integral(np_f, py_f):
    """The numpy and float faces of floor, ceil, trunc and round: integers are copied; a zero
    result keeps the sign of x (ceil(-0.5) is -0.), which Python's int-valued functions lose."""
    def forward(x):
        return np_f(x) if x.dtype.kind == "f" else x.copy()

    def scalar(f: float) -> float:
        r = float(py_f(f))
        return math.copysign(r, f) if r == 0 else r
    return forward, scalar


def _frac_scalar(f: float) -> float:
    return f - math.copysign(math.trunc(f), f)     # (trunc(-0.) is -0., so frac(-0.) is 0.)


def _rsqrt_scalar(f: float) -> float:
    return 1.0 / math.sqrt(f)


def round_forward(x, decimals: int):
    """``round(x * 10 ** decimals) / 10 ** decimals`` (half to even), as PyTorch and the kernel."""
    if decimals == 0:
        return np.rint(x)
    if decimals > 0:
        p = x.dtype.type(10.0 ** decimals)
        return np.rint(x * p) / p
    p = x.dtype.type(10.0 ** -decimals)
    return np.rint(x / p) * p


def logit_forward(x, eps: Optional[float]):
    """``log(x / (1 - x))``, x first clamped into ``[eps, 1 - eps]`` when eps is given."""
    if eps is not None:
        lo = x.dtype.type(eps)
        hi = x.dtype.type(1.0) - lo
        x = np.where(x < lo, lo, np.where(x > hi, hi, x))     # (lo, not np.clip's hi, when lo > hi)
    return np.log(x / (1.0 - x))


def _selu(x):
    return np.where(x > 0, x * SELU_SCALE, np.expm1(x) * (SELU_SCALE * SELU_ALPHA)).astype(x.dtype, copy=False)


def celu_forward(x, alpha: float):
    a = x.dtype.type(alpha)
    return np.where(x > 0, x, np.expm1(x / a) * a).astype(x.dtype, copy=False)


def nan_to_num_forward(x, nan: float, posinf: Optional[float], neginf: Optional[float]):
    return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


def _float_bits(f: float) -> int:
    return int(np.array([f], np.float64).view(np.int64)[0])


# The forwards of the ops whose row attributes are parameters, as functions of them (the front
# ends and ``tests/test_faces.py``), and the attributes the faces are compared with.
ATTR_FORWARD = {
    ROUND: lambda x, fa, fb, ia: round_forward(x, ia),
    LOGIT: lambda x, fa, fb, ia: logit_forward(x, fa if fb == 1.0 else None),
    CELU: lambda x, fa, fb, ia: celu_forward(x, fa),
    NAN_TO_NUM: lambda x, fa, fb, ia: nan_to_num_forward(x, fa, fb, float(_bits_float(ia))),
}
ATTR_PARAMS = {
    ROUND: [(0.0, 0.0, 0), (0.0, 1.0, 0), (0.0, 1.0, 2), (0.0, 1.0, -1), (0.0, 1.0, 5)],
    LOGIT: [(0.0, 0.0, 0), (0.2, 1.0, 0), (0.0, 1.0, 0), (1e-6, 1.0, 0), (0.7, 1.0, 0)],
    CELU: [(1.0, 0.0, 0), (2.0, 0.0, 0), (0.3, 0.0, 0), (-1.5, 0.0, 0)],
    NAN_TO_NUM: [(0.0, 0.0, 0), (1.5, 1e300, _float_bits(-3.0)), (-2.0, math.inf, _float_bits(-math.inf))],
}


def _zero_grad(g, x, y, r):
    return (g._mask(M_ZERO, constant=True),)


def _logit_vjp(g, x, y, r):
    """PyTorch's (its plain backward's): 0 where x < eps or x > 1 - eps (not at nan), else
    g / (x (1 - x)); without eps, nan outside [0, 1]."""
    d = g / (x[0] * (1.0 - x[0]))
    if r.fb == 1.0:
        return (d._masked(x[0]._mask(M_NOT_OUTSIDE, r.fa, 1.0 - r.fa, constant=True)),)
    inside = x[0]._mask(M_INRANGE, 0.0, 1.0, constant=True)
    return (d._masked(inside) + (-(1.0 - inside)).sqrt(),)    # + nan outside, + -0. inside


def _elu_vjp(g, x, positive, at_zero, negative):
    """``g`` times selu's or celu's derivative: ``negative(x)`` where x < 0, its value ``at_zero`` at
    0 (PyTorch's x <= 0 branch, whose own derivative there is 0, as in PyTorch's double backward),
    the number ``positive`` elsewhere.  ``negative`` sees x only where x < 0 (0 elsewhere), so no
    exp(inf) or nan reaches the other branches' second derivatives."""
    nonpos = x._mask(M_NONPOS, constant=True)
    neg = x._mask(M_NEG, constant=True)
    d = negative(x._masked(neg))._masked(neg) + (nonpos - neg) * at_zero + (1.0 - nonpos) * positive
    return (g * d,)


def _selu_scalar(f: float) -> float:
    return f * SELU_SCALE if f > 0 else math.expm1(f) * (SELU_SCALE * SELU_ALPHA)


SMOOTH = (*TRANSCENDENTAL, (0, 0))          # a transcendental forward, an arithmetic derivative
EXP_D = (*TRANSCENDENTAL, (4, 4))           # a derivative through exp (libm's against numpy's)

_u(RSQRT, "rsqrt", "RsqrtBackward0", OUT, lambda x: 1.0 / np.sqrt(x), _rsqrt_scalar,
   lambda g, x, y, r: ((g * -0.5) * (y * y * y),), ulps=(0, (0, 0), (0, 0)), numpy_rows=True)
_u(LOG1P, "log1p", "Log1PBackward0", X0, np.log1p, math.log1p,
   lambda g, x, y, r: (g / (x[0] + 1.0),), ulps=SMOOTH, numpy_rows=True)
_u(ASIN, "asin", "AsinBackward0", X0, np.arcsin, math.asin,
   lambda g, x, y, r: (g * (1.0 - x[0] * x[0]).rsqrt(),), ulps=SMOOTH, numpy_rows=True)
_u(ACOS, "acos", "AcosBackward0", X0, np.arccos, math.acos,
   lambda g, x, y, r: (-(g * (1.0 - x[0] * x[0]).rsqrt()),), ulps=SMOOTH, numpy_rows=True)
_u(ATAN, "atan", "AtanBackward0", X0, np.arctan, math.atan,
   lambda g, x, y, r: (g / (x[0] * x[0] + 1.0),), ulps=SMOOTH, numpy_rows=True)
_u(ASINH, "asinh", "AsinhBackward0", X0, np.arcsinh, math.asinh,
   lambda g, x, y, r: (g * (x[0] * x[0] + 1.0).rsqrt(),), ulps=SMOOTH, numpy_rows=True)
_u(ACOSH, "acosh", "AcoshBackward0", X0, np.arccosh, math.acosh,
   lambda g, x, y, r: (g * (x[0] * x[0] - 1.0).rsqrt(),), ulps=SMOOTH, numpy_rows=True)
_u(ATANH, "atanh", "AtanhBackward0", X0, np.arctanh, math.atanh,
   lambda g, x, y, r: (g / (1.0 - x[0] * x[0]),), ulps=SMOOTH, numpy_rows=True)
_u(ERF, "erf", "ErfBackward0", X0, _special(ERF), math.erf,
   lambda g, x, y, r: (g * ((-(x[0] * x[0])).exp() * TWO_OVER_SQRT_PI),), ulps=(0, (0, 0), EXP_D[2]), numpy_rows=True)
_u(ERFC, "erfc", "ErfcBackward0", X0, _special(ERFC), math.erfc,
   lambda g, x, y, r: (g * ((-(x[0] * x[0])).exp() * -TWO_OVER_SQRT_PI),), ulps=(0, (0, 0), EXP_D[2]),
   numpy_rows=True)
_u(ERFINV, "erfinv", "ErfinvBackward0", X0, _special(ERFINV), _erfinv,
   lambda g, x, y, r: (g * ((y * y).exp() * (0.5 * SQRT_PI)),), ulps=(0, (0, 0), EXP_D[2]), numpy_rows=True)
_u(EXP2, "exp2", "Exp2Backward0", OUT, np.exp2, lambda f: 2.0 ** f,
   lambda g, x, y, r: (g * y * LN2,), ulps=SMOOTH, numpy_rows=True)
_u(FRAC, "frac", "FracBackward0", 0, lambda x: x - np.trunc(x), _frac_scalar, lambda g, x, y, r: (g,), ulps=EXACT)
_u(DEG2RAD, "deg2rad", "Deg2RadBackward0", 0, lambda x: x * DEG, lambda f: f * DEG,
   lambda g, x, y, r: (g * DEG,), ulps=EXACT, numpy_rows=True)
_u(RAD2DEG, "rad2deg", "Rad2DegBackward0", 0, lambda x: x * RAD, lambda f: f * RAD,
   lambda g, x, y, r: (g * RAD,), ulps=EXACT, numpy_rows=True)
# Piecewise constant: PyTorch's derivative is zeros_like(grad), with no graph.
_u(SIGN, "sign", "SignBackward0", 0, _sign, _sign_scalar, _zero_grad, float_only=False, ulps=EXACT)
_u(SGN, "sgn", "SgnBackward0", 0, _sign, _sign_scalar, _zero_grad, float_only=False, ulps=EXACT)
_u(FLOOR, "floor", "FloorBackward0", 0, *_integral(np.floor, math.floor), _zero_grad, float_only=False, ulps=EXACT)
_u(CEIL, "ceil", "CeilBackward0", 0, *_integral(np.ceil, math.ceil), _zero_grad, float_only=False, ulps=EXACT)
_u(TRUNC, "trunc", "TruncBackward0", 0, *_integral(np.trunc, math.trunc), _zero_grad, float_only=False, ulps=EXACT)
# round(decimals=...) is RoundBackward1 (``fb`` = 1, decimals in ``ia``), round() RoundBackward0.
register(Op(ROUND, "round", "RoundBackward0", 0, _zero_grad, *_integral(np.rint, round), float_only=False,
            grad_fn_of=lambda r: "RoundBackward1" if r.fb else "RoundBackward0", ulps=EXACT))
# logit: eps in ``fa`` when ``fb`` = 1; ``fb`` = 2: a negative eps, which is no eps, as in PyTorch.
_u(LOGIT, "logit", "LogitBackward0", X0, None, None, _logit_vjp, numpy_rows=True,
   node_saved=(("self", X0), ("eps", lambda r: r.fa if r.fb else None)))
_u(SELU, "selu", "EluBackward0", X0, _selu, _selu_scalar,
   lambda g, x, y, r: _elu_vjp(g, x[0], SELU_SCALE, SELU_SCALE * SELU_ALPHA, lambda t: t.exp() * (SELU_SCALE * SELU_ALPHA)),
   ulps=EXP_D, numpy_rows=True, node_saved=(("alpha", lambda r: SELU_ALPHA), ("input_scale", lambda r: 1),
                                             ("scale", lambda r: SELU_SCALE), ("self", X0)))
_u(CELU, "celu", "CeluBackward0", X0, None, None,
   lambda g, x, y, r: _elu_vjp(g, x[0], 1.0, 1.0, lambda t: (t / r.fa).exp()), numpy_rows=True,
   node_saved=(("alpha", lambda r: int(r.fa) if r.ia else r.fa), ("self", X0)))     # (``ia`` 1: an int alpha)
# nan_to_num: nan's value in ``fa``, posinf's in ``fb``, neginf's float64 bits in ``ia``.
_u(NAN_TO_NUM, "nan_to_num", "NanToNumBackward0", X0, None, None,
   lambda g, x, y, r: (g * x[0]._mask(M_FINITE, constant=True),), float_only=False)


def _powc_array(x, c):
    """``x ** c`` as PyTorch's kernel computes it: products for the exponents 2, 3 and -2, a
    reciprocal square root for -0.5 (numpy's power rounds these once, PyTorch's products twice)."""
    if c == 2:
        return np.square(x)
    if c == 3:
        return x * x * x
    if c == -2 and x.dtype.kind == "f":
        return 1.0 / (x * x)
    if c == -0.5 and x.dtype.kind == "f":
        return 1.0 / np.sqrt(x)
    return np.power(x, c)


def _powc_float(f: float, c: float) -> float:
    if c == 0.5:
        return math.sqrt(f)
    if c == 3.0:
        return f * f * f
    if c == -2.0:
        return 1.0 / (f * f)
    if c == -0.5:
        return 1.0 / math.sqrt(f)
    return math.pow(f, c)


# (the Python-number faces are ``operator``'s functions where one fits: the 0-d fast path calls
# them on every op, and a lambda's frame costs more than its arithmetic)
SCALAR_FORWARD = {
    ADDC: (np.add, operator.add),
    SUBC: (np.subtract, operator.sub),
    RSUBC: (lambda x, c: np.subtract(c, x), lambda f, c: c - f),
    MULC: (np.multiply, operator.mul),
    DIVC: (np.true_divide, operator.truediv),
    # x ** 0.5 is sqrt(x) (nan at -inf, -0 at -0), as in PyTorch; square: 2.5x faster than power
    POWC: (_powc_array, _powc_float),
    RPOWC: (lambda x, c: np.power(c, x), lambda f, c: math.pow(c, f)),
    FILL: (lambda x, c: np.full_like(x, c), lambda f, c: c),
}
"""Forward of the ops whose second operand is the Python number ``c``."""


def _exponent_mask(base, exponent):
    """0 where base == 0 and exponent >= 0 (there PyTorch's exponent gradient is 0), else 1 (for a
    nan exponent too), written with constant masks so the rule compiles."""
    zero = 1.0 - base._mask(M_NONZERO, constant=True)
    nonnegative = exponent._mask(M_POS, constant=True) + (1.0 - exponent._mask(M_NONZERO, constant=True))
    return 1.0 - zero * nonnegative


def _base_grad(g, x):
    """g * e * base ** (e - 1), zero where e == 0: PyTorch's ``where(e == 0, 0, ...)``, whose own
    derivative there is 0 * base ** (e - 2), nan at base 0 as in PyTorch (its second derivative
    of x ** 0 at 0)."""
    return (g * (x[1] * x[0] ** (x[1] - 1.0)))._masked(x[1]._mask(M_NONZERO))


def _exponent_grad(g, x, y):
    """g * where(base == 0 and exponent >= 0, 0, y * log(base)), as PyTorch (whose derivatives
    there are nan too: 0 * log's 1 / 0)."""
    return g * (y * x[0].log())._masked(_exponent_mask(x[0], x[1]))


def _b(code, name, grad_fn, saved, forward, scalar, vjp, ulps=(), node_saved=(), grad_fn_of=None):
    return register(Op(code, name, grad_fn, saved, vjp, forward, scalar, False, arity=2, ulps=ulps,
                       node_saved=node_saved, jvp=diagonal(vjp), grad_fn_of=grad_fn_of))


# (scalar faces from ``operator``, as SCALAR_FORWARD's)
_b(ADD, "add", "AddBackward0", 0, np.add, operator.add, lambda g, x, y, r: (g, g), ulps=EXACT,
   node_saved=_ALPHA)
_b(SUB, "sub", "SubBackward0", 0, np.subtract, operator.sub, lambda g, x, y, r: (g, -g), ulps=EXACT,
   node_saved=_ALPHA)
_b(MUL, "mul", "MulBackward0", X0 | X1 | CROSS, np.multiply, operator.mul,
   lambda g, x, y, r: (g * x[1], g * x[0]), ulps=EXACT, node_saved=(("other", X1), ("self", X0)))
_b(DIV, "div", "DivBackward0", X0 | X1 | saved_when(0, 1), np.true_divide, operator.truediv,
   lambda g, x, y, r: (g / x[1], -g * ((x[0] / x[1]) / x[1])), ulps=EXACT,
   node_saved=lambda r: (("other", X1), ("rounding_mode", lambda r: None), ("self", X0)) if r.fb else (),
   grad_fn_of=_div_name)
_b(POW, "pow", "PowBackward1", X0 | X1 | OUT, _power, math.pow,
   lambda g, x, y, r: (_base_grad(g, x), _exponent_grad(g, x, y)), ulps=(*TRANSCENDENTAL, (2, 4)),
   node_saved=(("exponent", X1), ("self", X0), ("result", OUT)))


def _extremum_vjp(sign: float) -> Callable:
    """maximum's (``sign`` 1) or minimum's (-1) rule: the gradient to the larger (smaller) input,
    half to each on a tie, whole to both where either is nan, as PyTorch's."""
    def vjp(g, x, y, r):
        d = x[0] - x[1] if sign > 0 else x[1] - x[0]
        # (equal infinities are a tie, as PyTorch's a == b: their difference is nan where their sum is
        # not, unlike a nan input's; the difference made 0 there)
        tie = d._mask(M_NOT_OUTSIDE, math.inf, -math.inf, constant=True) * \
            (x[0] + x[1])._mask(M_INRANGE, -math.inf, math.inf, constant=True)
        d = d._masked(1.0 - tie)
        return g._masked(d._mask(M_STEP_HALF, constant=True)), g._masked((-d)._mask(M_STEP_HALF, constant=True))
    return vjp


_b(MAXIMUM, "maximum", "MaximumBackward0", X0 | X1, np.maximum, _maximum_scalar, _extremum_vjp(1.0))
_b(MINIMUM, "minimum", "MinimumBackward0", X0 | X1, np.minimum, _minimum_scalar, _extremum_vjp(-1.0))

# --- the catalogue's binary ops (issue 14) ----------------------------------------
def _xlogy(a, b):
    """``a * log(b)``, 0 where a == 0 (unless b is nan), as PyTorch."""
    y = np.where(a == 0, 0.0, a * np.log(b)).astype(np.result_type(a, b), copy=False)
    return np.where(np.isnan(b), b, y)


def _remainder(a, b):
    """PyTorch's remainder: fmod moved into b's sign (a zero keeps a's sign, unlike numpy's)."""
    m = np.fmod(a, b)
    return np.where((m != 0) & ((b < 0) != (m < 0)), m + b, m).astype(m.dtype, copy=False)


def _remainder_scalar(a: float, b: float) -> float:
    m = math.fmod(a, b)
    return m + b if (m != 0 and (b < 0) != (m < 0)) else m


def _xlogy_scalar(a: float, b: float) -> float:
    if b != b:
        return b
    return 0.0 if a == 0 else a * math.log(b)


def _logaddexp_scalar(a: float, b: float) -> float:
    if a != a or b != b:
        return math.nan
    if a == b and a - a != 0:
        return a
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


def _logaddexp2_scalar(a: float, b: float) -> float:
    if a != a or b != b:
        return math.nan
    if a == b and a - a != 0:
        return a
    return max(a, b) + math.log1p(2.0 ** (-abs(a - b))) / LN2


def _xlogy_vjp(g, x, y, r):
    """PyTorch's: xlogy(g, b) masked to 0 where a == 0 and b <= 0, and g a / b; xlogy(g, b) is 0
    where g == 0 (unless b is nan), written with constant masks."""
    a, b = x
    not_xlogy = (1.0 - g._mask(M_NONZERO, constant=True)) * b._mask(M_INRANGE, -math.inf, math.inf, constant=True)
    filled = a._mask(M_ZERO, constant=True) + (1.0 - a._mask(M_NONZERO, constant=True)) * b._mask(M_NONPOS, constant=True)
    return (g * b.log())._masked((1.0 - not_xlogy) * (1.0 - filled)), g * a / b


def _copysign_vjp(g, x, y, r):
    """PyTorch's g * (y / x).masked_fill(x == 0, 0) (nan where x is not finite), and zeros for the
    sign's tensor: recorded through the result, so that a second derivative reaches the sign's
    tensor (zeros) and is nan at x == 0, as PyTorch's."""
    ratio = (y / x[0]).masked_fill(x[0] == 0, 0.0)
    return g * ratio, x[1]._mask(M_ZERO, constant=True)


def _atan2_vjp(g, x, y, r):
    d = x[0] * x[0] + x[1] * x[1]
    recip = d.reciprocal().masked_fill(d == 0, 0.0)     # (PyTorch's: no gradient at the origin)
    return g * x[1] * recip, g * -x[0] * recip


def _b2(code, name, grad_fn, saved, forward, scalar, vjp, ulps, numpy_rows=True, number_name=None, rnumber_name=None):
    """A binary op; ``number_name`` (``rnumber_name``): its node's name when the second (first)
    operand was a Python number, recorded as a 0-d constant with ``ib`` = 1 (2)."""
    names = {0: grad_fn, 1: number_name, 2: rnumber_name}
    of = None if number_name is None else (lambda r: names[r.ib])
    return register(Op(code, name, grad_fn, saved, vjp, forward, scalar, False, grad_fn_of=of, arity=2, ulps=ulps,
                       numpy_rows=numpy_rows, nondiff_of=lambda r: _NUMBER_SIDE[r.ib], jvp=diagonal(vjp)))


_NUMBER_SIDE = {0: (), 1: (1,), 2: (0,)}     # the input a Python-number operand became (``ib``)


_b2(ATAN2, "atan2", "Atan2Backward0", X0 | X1, np.arctan2, math.atan2, _atan2_vjp, (*TRANSCENDENTAL, (0, 0)))
_b2(FMOD, "fmod", "FmodBackward1", X0 | X1, np.fmod, math.fmod,
    lambda g, x, y, r: (g, -g * (x[0] / x[1]).trunc()), (0, (0, 0), (0, 0)), number_name="FmodBackward0")
_b2(REMAINDER, "remainder", "RemainderBackward1", X0 | X1, _remainder, _remainder_scalar,
    lambda g, x, y, r: (g, -g * (x[0] / x[1]).floor()), (0, (0, 0), (0, 0)), number_name="RemainderBackward0",
    rnumber_name="RemainderBackward1")
_b2(HYPOT, "hypot", "HypotBackward0", X0 | X1 | OUT | saved_when(0, 0) | saved_when(1, 1), np.hypot, math.hypot,
    lambda g, x, y, r: (g * x[0] / y, g * x[1] / y), (*TRANSCENDENTAL, (0, 0)))
_b2(LOGADDEXP, "logaddexp", "LogaddexpBackward0", X0 | X1, np.logaddexp, _logaddexp_scalar,
    lambda g, x, y, r: (g / ((x[1] - x[0]).exp() + 1.0), g / ((x[0] - x[1]).exp() + 1.0)), (*TRANSCENDENTAL, (4, 4)))
_b2(LOGADDEXP2, "logaddexp2", "Logaddexp2Backward0", X0 | X1, np.logaddexp2, _logaddexp2_scalar,
    lambda g, x, y, r: (g / ((x[1] - x[0]).exp2() + 1.0), g / ((x[0] - x[1]).exp2() + 1.0)), (4, (4, 4), (4, 4)))
_b2(XLOGY, "xlogy", "XlogyBackward0", X0 | X1, _xlogy, _xlogy_scalar, _xlogy_vjp, (*TRANSCENDENTAL, (2, 4)),
    number_name="XlogyBackward2", rnumber_name="XlogyBackward1")
_b2(COPYSIGN, "copysign", "CopysignBackward0", X0 | OUT, np.copysign, math.copysign,
    _copysign_vjp, (0, (0, 0), (0, 0)), number_name="CopysignBackward1")

# g where the mask is nonzero, times it (0 elsewhere, whatever g is): the masked derivatives.
_b(MASKED, "_masked", "WhereBackward0", X1, lambda g, m: np.where(m != 0, g * m, 0 * m).astype(g.dtype, copy=False),
   lambda g, m: g * m if m != 0 else 0.0 * m,
   lambda g, x, y, r: (g._masked(x[1]), x[1]._mask(M_ZERO, constant=True)), ulps=EXACT)

# Tangent rules (forward mode) of the ops registered without the helpers above: elementwise, so
# their adjoint rule serves (``diagonal``), but for the cast, whose tangent takes the output's dtype.
tangents({FILL: diagonal(REGISTRY[FILL].vjp), CLAMP: diagonal(REGISTRY[CLAMP].vjp),
          ROUND: diagonal(REGISTRY[ROUND].vjp), CAST: lambda ts, xs, y, r: ts[0].to(y.dtype)})

# The codes whose one-element rows the sweep differentiates on scalars (``scalar_d``): all of
# this family's but the cast, whose input lives in the other arena, and the mask, whose zero
# derivative adds nothing (not even a nan).
ONE_ELEMENT = np.zeros(N_CODES, np.bool_)
for _code in REGISTRY:
    ONE_ELEMENT[_code] = (_code in UNARY or _code in BINARY) and _code != CAST and _code != MASK

mask_forward = _mask_np


# --- front end: the ops as PyTorch shows them -----------------------------------------
_SCALAR_ERRORS = (ValueError, OverflowError, ZeroDivisionError)
Operand = Union[Tensor, Number]


def _as_array(v, dtype: D.dtype) -> np.ndarray:
    return np.asarray(v, dtype.np)


def _is_number(x) -> bool:
    return isinstance(x, (int, float, bool, np.number)) and not isinstance(x, np.ndarray)


def check_operand(other, op: str):
    """``other`` as the second operand of ``op`` (a tensor or a number; an array becomes a tensor)."""
    if isinstance(other, Tensor) or _is_number(other):
        return other
    if isinstance(other, np.ndarray):
        return plain(np.array(other), D.from_numpy_dtype(other.dtype))
    raise TypeError(f"unsupported operand type(s) for {op}: 'Tensor' and '{type(other).__name__}'")


def _tensor_arg(x, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'other' (position 1) must be Tensor, not {type(x).__name__}")
    return x


def _inline_scalar(code: int):
    """Decorate a unary front end so that a recorded 0-d float64 operand takes the inlined
    path (``_emit.scalar_unary``), the op's Python-float face computing its value."""
    def inline(general):
        op = REGISTRY[code]
        return functools.wraps(general)(scalar_unary(code, op.scalar, general, op.forward))
    return inline


def _unary(x: Tensor, code: int) -> Tensor:
    op = REGISTRY[code]
    f = x._f
    if f is not None:
        try:
            y = op.scalar(f)
        except _SCALAR_ERRORS:
            quiet()
            y = float(op.forward(np.float64(f)))
        if x._rg and state.grad:
            return scalar_row(code, y, x, None, 0.0)
        return py_scalar(y)
    quiet()
    dt = x._dtype
    v = x._v
    if dt.arena is None and op.float_only:
        dt = D.get_default_dtype()
        v = v.astype(dt.np)
    lend = v.size >= LEND_FROM and x._rg and state.grad and (type(op.forward) is np.ufunc or op.forward in WRITES_OUT) \
        and lends(x._shape, dt, v)
    y = None if lend else op.forward(v)
    if not x._shape:
        y = _as_array(y, dt)
    if x._rg and state.grad:
        tape = state.tape
        if tape is None or tape.n >= tape.soft:
            tape = None
            tape = fresh()
        # (a compiled row reads its input from the arena: a leaf is copied, not referred to, unless
        # the sweep leaves the row to Python)
        nx = x._node if x._tape is tape else tape.import_(x, left_to_python(code, dt.arena, v.size))
        if lend:
            return emit_into(tape, code, dt, x._shape, op.forward, (v,), nx)
        node = tape.append(code, dt.arena, y, nx)
        return recorded(tape, node, y, dt)
    return plain(y, dt)


def _with_number(x: Tensor, c: Number, code: int) -> Tensor:
    """``x (op) c`` for a Python number ``c`` (``code`` is the ADDC/... variant)."""
    np_fwd, py_fwd = SCALAR_FORWARD[code]
    f = x._f
    if f is not None and type(c) is not bool:
        c = float(c)
        try:
            y = py_fwd(f, c)
        except _SCALAR_ERRORS:
            quiet()
            y = float(np_fwd(np.float64(f), c))
        if x._rg and state.grad:
            return scalar_row(code, y, x, None, c)
        return py_scalar(y)
    quiet()
    dt = x._dtype
    if not (dt.is_floating_point and (type(c) is float or type(c) is int)):
        dt = D.result_type(x, c)
        if code == DIVC and not dt.is_floating_point:
            dt = D.get_default_dtype()
    v = x._v if f is None else np.array(f)
    if v.dtype is not dt.np:
        v = v.astype(dt.np)
    if not dt.is_floating_point:
        if code == POWC and c < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        c = dt.np.type(c)
        if code == RPOWC:
            np_fwd = _int_rpow
    if v.size >= LEND_FROM and x._rg and state.grad and type(np_fwd) is np.ufunc and lends(x._shape, dt, v):
        tape = write_tape()
        return emit_into(tape, code, dt, x._shape, np_fwd, (v, c), x._node if x._tape is tape else tape.import_(x),
                         fa=float(c))
    y = np_fwd(v, c)
    if not x._shape:
        y = np.asarray(y, dt.np)
    if x._rg and state.grad:
        # (``ib``: the number was an int (1) or a bool (2), which the node shows as such, as PyTorch's)
        return emit(code, y, dt, x, ib=_KIND_SHOWN.get(type(c), 0) if code in _INT_SHOWN else 0, fa=float(c))
    return plain(y, dt)


_INT_SHOWN = (ADDC, SUBC, RSUBC, MULC, DIVC, POWC, RPOWC)
_KIND_SHOWN = {int: 1, bool: 2}


def _int_rpow(x: np.ndarray, c) -> np.ndarray:
    return int_power(np.asarray(c, x.dtype), x)


_RIGHT_CONST = {ADD: ADDC, SUB: SUBC, MUL: MULC, DIV: DIVC}


# (shape of a, shape of b) -> (their broadcast shape, whether b enters a row of that shape as it is:
# ``is_suffix``): one lookup for the two, the bias of a layer's ``x @ w + b`` at each step
_PAIRS: dict = {}


def _pair(sa: tuple, sb: tuple) -> tuple:
    shape = broadcast_pair(sa, sb)
    known = (shape, sb == shape or is_suffix(sb, shape))
    if len(_PAIRS) > 4096:
        _PAIRS.clear()
    _PAIRS[(sa, sb)] = known
    return known


def _iterator_layout(y: np.ndarray, shape: tuple, *operands: np.ndarray) -> np.ndarray:
    """``y`` laid out as PyTorch's TensorIterator lays out the result of ``operands`` when one of
    them is not contiguous: in the stride order of the first operand that orders two dims (a
    broadcast dim orders none; equal strides put the smaller dim inside), where numpy's ufunc falls
    back to row-major when its operands disagree (``(x.t() + c).view(-1)`` raises in PyTorch)."""
    nd = len(shape)
    strides = []
    for v in operands:
        lead = nd - v.ndim
        strides.append([0 if i < lead or v.shape[i - lead] == 1 and shape[i] != 1 else v.strides[i - lead]
                        for i in range(nd)])
    perm = list(range(nd - 1, -1, -1))        # innermost dim first, as TensorIteratorBase::reorder_dimensions

    def should_swap(d0: int, d1: int) -> int:
        for st in strides:
            s0, s1 = st[d0], st[d1]
            if s0 == 0 or s1 == 0:
                continue
            if s0 != s1:
                return -1 if s0 < s1 else 1
            if shape[d0] > shape[d1]:
                return 1
        return 0

    for i in range(1, nd):
        d1 = i
        for d0 in range(i - 1, -1, -1):
            c = should_swap(perm[d0], perm[d1])
            if c > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif c < 0:
                break
    want = [0] * nd
    step = y.itemsize
    for d in perm:
        want[d] = step
        step *= shape[d]
    if tuple(want) == y.strides:
        return y
    out = np.lib.stride_tricks.as_strided(np.empty(y.size, y.dtype), shape, want)
    out[...] = y
    return out


def _binary(a: Tensor, b, code: int) -> Tensor:
    """``a (op) b`` for two tensors, broadcasting and promoting as PyTorch does."""
    if not isinstance(b, Tensor):
        return _with_number(a, b, _RIGHT_CONST.get(code, code)) if code != POW else _with_number(a, b, POWC)
    fa, fb = a._f, b._f
    op = REGISTRY[code]
    if fa is not None and fb is not None:
        try:
            y = op.scalar(fa, fb)
        except _SCALAR_ERRORS:
            quiet()
            y = float(op.forward(np.float64(fa), np.float64(fb)))
        if (a._rg or b._rg) and state.grad:
            return scalar_row(code, y, a, b, 0.0)
        return py_scalar(y)
    quiet()
    da = a._dtype
    if da is b._dtype and da.arena is not None:
        dt = da                                       # the common case: no promotion
    else:
        dt = D.result_type(a, b)
        if code == DIV and not dt.is_floating_point:
            dt = D.get_default_dtype()
    sa, sb = a._shape, b._shape
    if sa == sb:
        shape = sa
        fits = True
    else:
        known = _PAIRS.get((sa, sb))
        shape, fits = known if known is not None else _pair(sa, sb)
    va = a._v if fa is None else np.array(fa)
    vb = b._v if fb is None else np.array(fb)
    if va.dtype is not dt.np:
        va = va.astype(dt.np)
    if vb.dtype is not dt.np:
        vb = vb.astype(dt.np)
    # (an output as big as a slot that is lent has an operand as big, or both are broadcast)
    lend = (va.size >= LEND_FROM or vb.size >= LEND_FROM or shape != sa and shape != sb) and (a._rg or b._rg) \
        and state.grad and sb != () and type(op.forward) is np.ufunc and lends(shape, dt, va, vb)
    y = None if lend else int_power(va, vb) if code == POW and not dt.is_floating_point else op.forward(va, vb)
    if not shape:
        y = _as_array(y, dt)
    elif y is not None and not (va.flags.c_contiguous and vb.flags.c_contiguous):
        y = _iterator_layout(y, shape, va, vb)
    if not ((a._rg or b._rg) and state.grad):
        return plain(y, dt)
    # A 0-d operand that needs no gradient is recorded as the row's constant where the op saves
    # nothing (add, sub); a product or quotient saves it, and must notice in-place changes to it.
    if not b._rg and not sb and (code == ADD or code == SUB) and sa == shape and a._dtype is dt:
        return emit(_RIGHT_CONST[code], y, dt, a, fa=float(vb))
    tape = state.tape
    if tape is None or tape.n >= tape.soft:
        tape = None
        tape = fresh()
    if a._tape is tape and sa == shape and a._dtype is dt:
        na = a._node
    else:
        na = node_in(tape, a, dt, shape)
    if b._dtype is dt and (b._tape is tape or b._rg) and fits:
        # (a leaf, or a node of an older tape; a compiled row reads it from the arena: copied, not
        # referred to, unless the sweep leaves the row to Python)
        nb = b._node if b._tape is tape else tape.import_(b, sb == shape and left_to_python(code, dt.arena, vb.size))
    else:
        nb = node_in(tape, b, dt, shape)
    if lend:
        return emit_into(tape, code, dt, shape, op.forward, (va, vb), na, nb)
    node = tape.append(code, dt.arena, y, na, nb)
    return recorded(tape, node, y, dt)


def _reversed(x: Tensor, c, code: int) -> Tensor:
    """``c (op) x`` for a Python number ``c``."""
    c = check_operand(c, "op")
    if isinstance(c, Tensor):
        return _binary(c, x, code)
    if code == ADD:
        return _with_number(x, c, ADDC)
    if code == MUL:
        return _with_number(x, c, MULC)
    if code == SUB:
        return _with_number(x, c, RSUBC)
    if code == POW:
        return _with_number(x, c, RPOWC)
    # c / x is recorded as reciprocal(x) * c, as in PyTorch.
    if not x._dtype.is_floating_point:
        x = x.to(D.get_default_dtype())
    return _with_number(_unary(x, RECIPROCAL), c, MULC)


def _reflect(name: str, code: int):
    """The function form's case ``tape.<name>(number, tensor)``: the number is the left operand."""
    return lambda x, c: _reversed(x, check_operand(c, name), code)


def _check_alpha(a, b, alpha, name: str):
    """PyTorch's ``alpha_check`` of add and sub on their result type: a float ``alpha`` needs a floating
    result, a bool one a bool result (an int one fits every type).  Returns ``b``, in the result type
    when it is an integer tensor that a float ``alpha`` scales (``b * alpha`` alone would take the
    default float type: ``add(float64 0-d, int tensor, alpha=0.5)`` is float64)."""
    if type(alpha) is int:
        return b
    if isinstance(alpha, Tensor) and not parsed_number(alpha):
        raise TypeError(f"{name}(): argument 'alpha' must be Number, not Tensor")
    dt = D.result_type(a, b)
    if isinstance(alpha, bool) and dt is not D.bool_:
        raise RuntimeError("Boolean alpha only supported for Boolean results.")
    if isinstance(alpha, float) and not dt.is_floating_point:
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")
    if isinstance(alpha, float) and isinstance(b, Tensor) and not b._dtype.is_floating_point:
        return b.to(dt)
    return b


def _reflect_alpha(name: str, code: int):
    """``_reflect`` for add and sub, whose ``alpha`` scales the tensor (the second operand)."""
    def reflected(x, c, *, alpha: Number = 1):
        if name == "sub":
            _no_bool_sub(c, x)
        x = _check_alpha(c, x, alpha, name)
        return _reversed(x * alpha if alpha != 1 else x, check_operand(c, name), code)
    return reflected


_BOOL_SUB = ("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a "
             "mask, use the `~` or `logical_not()` operator instead.")
_BOOLS_SUB = ("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
              "`logical_xor()` operator instead.")
_BOOL_NEG = ("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, "
             "use the `~` or `logical_not()` operator instead.")


def _is_bool(x) -> bool:
    return type(x) is bool or isinstance(x, Tensor) and x._dtype is D.bool_


def _no_bool_sub(a, b) -> None:
    """PyTorch's errors for a subtraction with a bool operand (a Python bool counts as one)."""
    a_bool, b_bool = _is_bool(a), _is_bool(b)
    if a_bool or b_bool:
        raise RuntimeError(_BOOLS_SUB if a_bool and b_bool else _BOOL_SUB)


def _inline_pair(code: Optional[int], number_code: int):
    """Decorate a binary front end so that recorded 0-d float64 operands take the inlined path
    (``_emit.scalar_binary``): a tensor operand as row ``code`` (None: a reflected operator,
    whose tensor case never comes first), a Python number as row ``number_code``."""
    def inline(general):
        op = REGISTRY[code] if code is not None else None
        number_array, number_scalar = SCALAR_FORWARD[number_code]
        return functools.wraps(general)(scalar_binary(-1 if op is None else code, op and op.scalar, general,
                                                      number_code, number_scalar, op and op.forward, number_array))
    return inline


# Names that are Python builtins get a ``tensor_`` prefix here (kernels above call ``abs``).
@public("__add__")
@_inline_pair(ADD, ADDC)
def _add(self, other: Operand) -> Tensor:
    if type(other) is not Tensor:
        other = check_operand(other, "+")
    return _binary(self, other, ADD)


@public("__radd__")
@_inline_pair(None, ADDC)
def _radd(self, other: Operand) -> Tensor:
    return _reversed(self, other, ADD)


@public("add", reflected=_reflect_alpha("add", ADD))
def add(self, other: Operand, *, alpha: Number = 1) -> Tensor:
    """``self + alpha * other``."""
    other = _check_alpha(self, other, alpha, "add")
    return self + (other * alpha if alpha != 1 else other)


@public("__sub__")
@_inline_pair(SUB, SUBC)
def _sub(self, other: Operand) -> Tensor:
    if type(other) is not Tensor:
        other = check_operand(other, "-")
        _no_bool_sub(self, other)
    elif self._dtype is D.bool_ or other._dtype is D.bool_:
        _no_bool_sub(self, other)       # (two tensors, the common case, are checked for bools inline first)
    return _binary(self, other, SUB)


@public("__rsub__")
@_inline_pair(None, RSUBC)
def _rsub(self, other: Operand) -> Tensor:
    _no_bool_sub(other, self)
    return _reversed(self, other, SUB)


@public("sub", "subtract", reflected=_reflect_alpha("sub", SUB))
def sub(self, other: Operand, *, alpha: Number = 1) -> Tensor:
    """``self - alpha * other``."""
    _no_bool_sub(self, other)
    other = _check_alpha(self, other, alpha, "sub")
    return self - (other * alpha if alpha != 1 else other)


@public("mul", "multiply", "__mul__", reflected=_reflect("mul", MUL))
@_inline_pair(MUL, MULC)
def mul(self, other: Operand) -> Tensor:
    """``self * other``, broadcasting."""
    if type(other) is not Tensor:
        other = check_operand(other, "*")
    return _binary(self, other, MUL)


@public("__rmul__")
@_inline_pair(None, MULC)
def _rmul(self, other: Operand) -> Tensor:
    return _reversed(self, other, MUL)


@public("true_divide", "__truediv__", reflected=_reflect("div", DIV))
@_inline_pair(DIV, DIVC)
def true_divide(self, other: Operand) -> Tensor:
    """``self / other``, broadcasting (true division: integers give the default float dtype)."""
    if type(other) is not Tensor:
        other = check_operand(other, "/")
    return _binary(self, other, DIV)


@public("__rtruediv__")
def _rtruediv(self, other: Operand) -> Tensor:
    return _reversed(self, other, DIV)


@public("pow", reflected=_reflect("pow", POW))
def tensor_pow(self, exponent: Operand) -> Tensor:
    """``self ** exponent``, broadcasting."""
    te = type(exponent)
    if te is int or te is float:
        return _with_number(self, exponent, POWC)     # (``_binary``'s own first step for a number)
    if te is not Tensor:
        exponent = check_operand(exponent, "**")
    if self._dtype is D.bool_ and isinstance(exponent, Tensor) and exponent._dtype is D.bool_:
        raise NotImplementedError("\"pow\" not implemented for 'Bool'")
    return _binary(self, exponent, POW)


@public("__pow__")
@_inline_pair(None, POWC)
def _pow_operator(self, exponent: Operand) -> Tensor:
    return tensor_pow(self, exponent)


@public("__rpow__")
def _rpow(self, other: Operand) -> Tensor:
    return _reversed(self, other, POW)


@public("__pos__")
def _pos(self) -> Tensor:
    return self


@public("neg", "negative", "__neg__")
@_inline_scalar(NEG)
def neg(self) -> Tensor:
    """``-self``."""
    if self._dtype is D.bool_:
        raise RuntimeError(_BOOL_NEG)
    return _unary(self, NEG)


@public("abs", "__abs__")
@_inline_scalar(ABS)
def tensor_abs(self) -> Tensor:
    """The absolute value of each element."""
    if self._dtype is D.bool_:
        raise NotImplementedError("\"abs_cpu\" not implemented for 'Bool'")
    return _unary(self, ABS)


@public("exp")
@_inline_scalar(EXP)
def exp(self) -> Tensor:
    """The exponential of each element."""
    return _unary(self, EXP)


@public("log")
@_inline_scalar(LOG)
def log(self) -> Tensor:
    """The natural logarithm of each element."""
    return _unary(self, LOG)


@public("log2")
@_inline_scalar(LOG2)
def log2(self) -> Tensor:
    """The base-2 logarithm of each element."""
    return _unary(self, LOG2)


@public("log10")
@_inline_scalar(LOG10)
def log10(self) -> Tensor:
    """The base-10 logarithm of each element."""
    return _unary(self, LOG10)


@public("sqrt")
@_inline_scalar(SQRT)
def sqrt(self) -> Tensor:
    """The square root of each element."""
    return _unary(self, SQRT)


@public("sin")
@_inline_scalar(SIN)
def sin(self) -> Tensor:
    """The sine of each element."""
    return _unary(self, SIN)


@public("cos")
@_inline_scalar(COS)
def cos(self) -> Tensor:
    """The cosine of each element."""
    return _unary(self, COS)


@public("tan")
@_inline_scalar(TAN)
def tan(self) -> Tensor:
    """The tangent of each element."""
    return _unary(self, TAN)


@public("tanh")
@_inline_scalar(TANH)
def tanh(self) -> Tensor:
    """The hyperbolic tangent of each element."""
    return _unary(self, TANH)


@public("sinh")
@_inline_scalar(SINH)
def sinh(self) -> Tensor:
    """The hyperbolic sine of each element."""
    return _unary(self, SINH)


@public("cosh")
@_inline_scalar(COSH)
def cosh(self) -> Tensor:
    """The hyperbolic cosine of each element."""
    return _unary(self, COSH)


@public("expm1")
@_inline_scalar(EXPM1)
def expm1(self) -> Tensor:
    """``exp(x) - 1`` for each element, accurate for small ``x``."""
    return _unary(self, EXPM1)


# -- the catalogue's unary ops (issue 14) --
def _not_for(x: Tensor, kernel: str, integers: bool = True) -> None:
    """PyTorch's error for a dtype its kernel is not built for (bool, and integers if ``integers``)."""
    dt = x._dtype
    if dt is D.bool_ or (integers and not dt.is_floating_point):
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{D.legacy_name(dt)}'")


@public("square")
def square(self) -> Tensor:
    """The square of each element (``self ** 2``; bool gives int64)."""
    return (self.to(D.int64) if self._dtype is D.bool_ else self) ** 2


@public("rsqrt")
@_inline_scalar(RSQRT)
def rsqrt(self) -> Tensor:
    """The reciprocal of the square root of each element."""
    return _unary(self, RSQRT)


@public("log1p")
@_inline_scalar(LOG1P)
def log1p(self) -> Tensor:
    """``log(1 + x)`` for each element, accurate for small ``x``."""
    return _unary(self, LOG1P)


@public("asin", "arcsin")
@_inline_scalar(ASIN)
def asin(self) -> Tensor:
    """The arcsine of each element."""
    return _unary(self, ASIN)


@public("acos", "arccos")
@_inline_scalar(ACOS)
def acos(self) -> Tensor:
    """The arccosine of each element."""
    return _unary(self, ACOS)


@public("atan", "arctan")
@_inline_scalar(ATAN)
def atan(self) -> Tensor:
    """The arctangent of each element."""
    return _unary(self, ATAN)


@public("asinh", "arcsinh")
@_inline_scalar(ASINH)
def asinh(self) -> Tensor:
    """The inverse hyperbolic sine of each element."""
    return _unary(self, ASINH)


@public("acosh", "arccosh")
@_inline_scalar(ACOSH)
def acosh(self) -> Tensor:
    """The inverse hyperbolic cosine of each element."""
    return _unary(self, ACOSH)


@public("atanh", "arctanh")
@_inline_scalar(ATANH)
def atanh(self) -> Tensor:
    """The inverse hyperbolic tangent of each element."""
    return _unary(self, ATANH)


@public("erf")
@_inline_scalar(ERF)
def erf(self) -> Tensor:
    """The error function of each element (of a big array, within 2 ulps of libm's in float64 and
    correctly rounded in float32 but within a few float64 ulps of a tie: ``ops/_erf.py``)."""
    return _unary(self, ERF)


@public("erfc")
@_inline_scalar(ERFC)
def erfc(self) -> Tensor:
    """The complementary error function ``1 - erf(x)`` of each element (of a big array, within 5 ulps
    of libm's in float64 and correctly rounded in float32 but near ties: ``ops/_erf.py``)."""
    return _unary(self, ERFC)


@public("erfinv")
@_inline_scalar(ERFINV)
def erfinv(self) -> Tensor:
    """The inverse error function of each element (nan outside [-1, 1])."""
    return _unary(self, ERFINV)


@public("exp2")
@_inline_scalar(EXP2)
def exp2(self) -> Tensor:
    """``2 ** x`` for each element."""
    return _unary(self, EXP2)


@public("frac")
@_inline_scalar(FRAC)
def frac(self) -> Tensor:
    """The fractional part ``x - trunc(x)`` of each element."""
    _not_for(self, "frac_cpu")
    return _unary(self, FRAC)


@public("deg2rad")
@_inline_scalar(DEG2RAD)
def deg2rad(self) -> Tensor:
    """Each element converted from degrees to radians."""
    return _unary(self, DEG2RAD)


@public("rad2deg")
@_inline_scalar(RAD2DEG)
def rad2deg(self) -> Tensor:
    """Each element converted from radians to degrees."""
    return _unary(self, RAD2DEG)


@public("sign")
@_inline_scalar(SIGN)
def sign(self) -> Tensor:
    """The sign (-1, 0 or 1) of each element; 0 for nan."""
    return _unary(self, SIGN)


@public("sgn")
@_inline_scalar(SGN)
def sgn(self) -> Tensor:
    """The sign of each element (as ``sign`` for real tensors)."""
    return _unary(self, SGN)


@public("floor")
@_inline_scalar(FLOOR)
def floor(self) -> Tensor:
    """The largest integer not above each element (integers are copied)."""
    _not_for(self, "floor_vml_cpu", integers=False)
    return _unary(self, FLOOR)


@public("ceil")
@_inline_scalar(CEIL)
def ceil(self) -> Tensor:
    """The smallest integer not below each element (integers are copied)."""
    _not_for(self, "ceil_vml_cpu", integers=False)
    return _unary(self, CEIL)


@public("trunc", "fix")
@_inline_scalar(TRUNC)
def trunc(self) -> Tensor:
    """Each element rounded toward zero (integers are copied)."""
    _not_for(self, "trunc_vml_cpu", integers=False)
    return _unary(self, TRUNC)


@public("round")
def tensor_round(self, *, decimals: Optional[int] = None) -> Tensor:
    """Each element rounded to the nearest integer (halves to even), or to ``decimals`` decimal
    places (a negative number rounds to tens, hundreds ...)."""
    if decimals is None:
        _not_for(self, "round_vml_cpu", integers=False)
        return _unary(self, ROUND)
    if decimals == 0:
        _not_for(self, "round_vml_cpu")    # (PyTorch's round(decimals=0) refuses integers too)
    if type(decimals) is not int:
        raise TypeError(f"round(): argument 'decimals' must be int, not {type(decimals).__name__}")
    _not_for(self, "round_cpu")
    quiet()
    return _with_attrs(self, ROUND, round_forward(self._value(), decimals), fb=1.0, ia=decimals)


def _with_attrs(x: Tensor, code: int, y, fa: float = 0.0, fb: float = 0.0, ia: int = 0) -> Tensor:
    """Record (or return) an elementwise result ``y`` of ``x`` whose row keeps attributes."""
    y = np.asarray(y, x._dtype.np)
    if x._rg and state.grad:
        return emit(code, y, x._dtype, x, ia=ia, fa=fa, fb=fb)
    return plain(y, x._dtype)


def _floating(x: Tensor) -> Tensor:
    """``x`` as the default float dtype if it is not floating point (PyTorch's integer-to-float ops)."""
    return x if x._dtype.is_floating_point else x.to(D.get_default_dtype())


@public("logit")
def logit(self, eps: Optional[float] = None) -> Tensor:
    """``log(x / (1 - x))`` for each element; with ``eps``, x is first clamped into ``[eps, 1 - eps]``
    (a negative eps clamps nothing)."""
    if eps is not None and type(eps) is not float:
        check_types("logit", (("eps", "float"),), eps)
    x = _floating(self)
    # (a negative eps is kept, as the node shows it, with ``fb`` = 2: no clamping)
    fb = 0.0 if eps is None else 1.0 if eps >= 0 else 2.0
    quiet()
    y = logit_forward(x._value(), eps if fb == 1.0 else None)
    return _with_attrs(x, LOGIT, y, fa=0.0 if eps is None else float(eps), fb=fb)


@public("selu", method=False)
@_inline_scalar(SELU)
def selu(self) -> Tensor:
    """``scale * (max(0, x) + min(0, alpha * (exp(x) - 1)))`` with SELU's constants."""
    _not_for(self, "elu_cpu")
    return _unary(self, SELU)


@public("celu", method=False)
def celu(self, alpha: Number = 1.0) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))`` for each element."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    _not_for(self, "elu_cpu")
    x = self
    quiet()
    return _with_attrs(x, CELU, celu_forward(x._value(), float(alpha)), fa=float(alpha),
                       ia=int(isinstance(alpha, int) and not isinstance(alpha, bool)))


@public("nan_to_num")
def nan_to_num(self, nan: float = 0.0, posinf: Optional[float] = None, neginf: Optional[float] = None) -> Tensor:
    """Each element with nan, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf``
    (by default 0 and the dtype's largest and smallest finite values)."""
    if type(nan) is not float or posinf is not None or neginf is not None:
        check_types("nan_to_num", (("nan", "float"), ("posinf", "float?"), ("neginf", "float?")), nan, posinf, neginf)
    v = self._value()
    y = nan_to_num_forward(v, nan, posinf, neginf)
    if not self._dtype.is_floating_point:
        return plain(np.asarray(y), self._dtype)
    info = np.finfo(v.dtype)
    hi = float(info.max) if posinf is None else float(posinf)
    lo = float(info.min) if neginf is None else float(neginf)
    return _with_attrs(self, NAN_TO_NUM, y, fa=float(nan), fb=hi, ia=_float_bits(lo))


@public("sigmoid")
@_inline_scalar(SIGMOID)
def sigmoid(self) -> Tensor:
    """The logistic sigmoid ``1 / (1 + exp(-x))`` of each element."""
    return _unary(self, SIGMOID)


@public("relu")
@_inline_scalar(RELU)
def relu(self) -> Tensor:
    """``max(x, 0)`` for each element."""
    if self._dtype is D.bool_:
        raise RuntimeError("Boolean inputs not supported for relu")
    return _unary(self, RELU)


@public("reciprocal")
@_inline_scalar(RECIPROCAL)
def reciprocal(self) -> Tensor:
    """``1 / x`` for each element (integers give the default float dtype)."""
    if not self._dtype.is_floating_point:
        return _unary(self.to(D.get_default_dtype()), RECIPROCAL)
    return _unary(self, RECIPROCAL)


_CLAMP_SIGNATURES = (" * (Tensor input, Tensor min = None, Tensor max = None, *, Tensor out = None)\n"
                     " * (Tensor input, Number min = None, Number max = None, *, Tensor out = None)")
_FLOAT_INT = (float, int)
# PyTorch's overloads of the method (the bounds given are taken as positional: the method cannot tell)
_CLAMP = Forms("clamp", "(Tensor min = None, Tensor max = None)", "(Number min = None, Number max = None)")


@public("clamp", "clip", error_forms=Forms(
    "clamp", "(Tensor input, Tensor min = None, Tensor max = None, *, Tensor out = None)",
    "(Tensor input, Number min = None, Number max = None, *, Tensor out = None)"))
def clamp(self, min: Optional[Union[Number, Tensor]] = None, max: Optional[Union[Number, Tensor]] = None) -> Tensor:
    """Clamp every element into ``[min, max]``: bounds are numbers, or tensors broadcast with the input."""
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        if not all(b is None or isinstance(b, Tensor) for b in (min, max)):
            _CLAMP.parse((min,) if max is None else (min, max), {})
            raise combination("clamp", (self, min, max), _CLAMP_SIGNATURES)     # (a 0-d tensor with a number)
        return clamp_tensors(self, min, max, 0)
    if not (min is None or type(min) in _FLOAT_INT or _is_number(min)) or \
            not (max is None or type(max) in _FLOAT_INT or _is_number(max)):
        _CLAMP.parse((min,) if max is None else (min, max), {})
    return _clamp_numbers(self, min, max, 0)


def _clamp_numbers(self: Tensor, min: Optional[Number], max: Optional[Number], form: int) -> Tensor:
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    lo = -math.inf if min is None else min
    hi = math.inf if max is None else max
    dt = D.result_type(self, *(c for c in (min, max) if c is not None))
    v = self._value().astype(dt.np, copy=False)
    y = clamp_forward(v, lo, hi) if dt.is_floating_point else np.clip(v, min, max)
    y = _as_array(y, dt)
    if self._rg and state.grad:
        return emit(CLAMP, y, dt, self, ib=form, fa=float(lo), fb=float(hi))
    return plain(y, dt)


def _bound(self: Tensor, bound, name: str) -> None:
    if not (isinstance(bound, Tensor) or _is_number(bound)):
        Forms(name, f"(Tensor {name[6:]})", f"(Number {name[6:]})").parse((bound,), {})


def _bound_function(name: str) -> Forms:
    """PyTorch's overloads of the function form of ``clamp_min``/``clamp_max``."""
    return Forms(name, *(f"(Tensor input, {kind} {name[6:]}, *, Tensor out = None)" for kind in ("Tensor", "Number")))


@public("clamp_min", error_forms=_bound_function("clamp_min"))
def clamp_min(self, min: Union[Number, Tensor]) -> Tensor:
    """Clamp every element to at least ``min`` (a number, or a tensor broadcast with the input)."""
    _bound(self, min, "clamp_min")
    return clamp_tensors(self, min, None, 1) if isinstance(min, Tensor) else _clamp_numbers(self, min, None, 1)


@public("clamp_max", error_forms=_bound_function("clamp_max"))
def clamp_max(self, max: Union[Number, Tensor]) -> Tensor:
    """Clamp every element to at most ``max`` (a number, or a tensor broadcast with the input)."""
    _bound(self, max, "clamp_max")
    return clamp_tensors(self, None, max, 2) if isinstance(max, Tensor) else _clamp_numbers(self, None, max, 2)


@public("maximum")
def maximum(self, other: Tensor) -> Tensor:
    """The larger of ``self`` and ``other`` at each element (nan if either is nan), broadcasting."""
    return _binary(self, _tensor_arg(other, "maximum"), MAXIMUM)


@public("minimum")
def minimum(self, other: Tensor) -> Tensor:
    """The smaller of ``self`` and ``other`` at each element (nan if either is nan), broadcasting."""
    return _binary(self, _tensor_arg(other, "minimum"), MINIMUM)


# -- the catalogue's binary ops (issue 14) --
def _with_wrapped(a, b, code: int, floating: bool) -> Tensor:
    """``a (op) b`` where one of them is a Python number: the number becomes a 0-d constant of the
    row's dtype (promoted as PyTorch promotes a number), and the row notes which side it was."""
    x, c, side = (a, b, 1) if isinstance(a, Tensor) else (b, a, 2)
    dt = D.result_type(x, c)
    if floating and not dt.is_floating_point:
        dt = D.get_default_dtype()
    if x._dtype is not dt:
        x = x.to(dt)
    k = plain(np.asarray(c, dt.np), dt)
    va, vb = (x._value(), k._v) if side == 1 else (k._v, x._value())
    y = np.asarray(REGISTRY[code].forward(va, vb), dt.np)
    if x._rg and state.grad:
        return emit(code, y, dt, x, k, ib=1) if side == 1 else emit(code, y, dt, k, x, ib=2)
    return plain(y, dt)


# The ops whose kernels PyTorch has for floating types only (integer operands are not promoted)
_FLOAT_KERNELS = {HYPOT: "hypot_cpu", LOGADDEXP: "logaddexp_cpu", LOGADDEXP2: "logaddexp2_cpu"}
# ... and those that refuse two bools, and an integer division by zero
_INT_DIVISIONS = {FMOD: "fmod_cpu", REMAINDER: "remainder_cpu"}


def _integer_checks(a, b, code: int) -> None:
    """PyTorch's errors for integer operands its kernel has no case for, or that divide by 0."""
    dt = D.result_type(a, b)
    if dt.is_floating_point:
        return
    if isinstance(a, Tensor) and isinstance(b, Tensor) and (code in _FLOAT_KERNELS or code in _INT_DIVISIONS):
        broadcast_pair(a._shape, b._shape)      # (PyTorch checks the shapes before the dtype's kernel)
    kernel = _FLOAT_KERNELS.get(code)
    if kernel is not None:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{D.legacy_name(dt)}'")
    kernel = _INT_DIVISIONS.get(code)
    if kernel is not None:
        if dt is D.bool_:
            raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")
        divisor = b._value() if isinstance(b, Tensor) else b
        if np.any(np.asarray(divisor) == 0):
            raise RuntimeError("ZeroDivisionError")


def _catalogue_binary(a: Tensor, b, code: int, floating: bool = True, numbers: bool = False) -> Tensor:
    """A binary op of the catalogue: tensors broadcast and promote as ``_binary``'s (integers to the
    default float dtype if ``floating``); a Python number where PyTorch takes one (``numbers``)."""
    quiet()
    if not isinstance(b, Tensor):
        if not (numbers and _is_number(b)):
            if numbers:     # (PyTorch's two overloads of the method: a tensor or a number)
                Forms(REGISTRY[code].name, "(Tensor other)", "(Number other)").parse((b,), {})
            _tensor_arg(b, REGISTRY[code].name)
        _integer_checks(a, b, code)
        return _with_wrapped(a, b, code, floating)
    _integer_checks(a, b, code)
    if floating and not (a._dtype.is_floating_point or b._dtype.is_floating_point):
        a, b = a.to(D.get_default_dtype()), b.to(D.get_default_dtype())
    return _binary(a, b, code)


@public("atan2", "arctan2")
def atan2(self, other: Tensor) -> Tensor:
    """The angle of the point ``(other, self)`` (the arctangent of ``self / other`` in its quadrant)."""
    return _catalogue_binary(self, other, ATAN2)


def _other_forms(name: str, other: str = "other", reflected: Optional[str] = None) -> Forms:
    """PyTorch's overloads of the function form of a binary op that takes a number for its second
    operand (``reflected``: the end of the overload taking a number first, where it has one)."""
    return Forms(name, f"(Tensor input, Tensor {other}, *, Tensor out = None)",
                 *(() if reflected is None else (f"(Number self, Tensor {other}{reflected})",)),
                 f"(Tensor input, Number {other}, *, Tensor out = None)")


def named_binary(name: str, operator: Callable) -> Callable:
    """The method ``name`` of a binary op whose operator form is ``operator`` (``bitwise_and`` of
    ``&``): the parser's overloads for an operand neither tensor, array nor number, where the
    operator gives Python's "unsupported operand type(s)"."""
    forms = Forms(name, "(Tensor other)", "(Number other)")

    def method(self, other: Operand) -> Tensor:
        if not (isinstance(other, (Tensor, np.ndarray)) or _is_number(other)):
            forms.parse((other,), {})
        return operator(self, other)
    method.__doc__ = operator.__doc__
    return method


@public("fmod", error_forms=_other_forms("fmod"))
def fmod(self, other: Operand) -> Tensor:
    """The remainder of ``self / other`` with the sign of ``self`` (C's fmod)."""
    return _catalogue_binary(self, other, FMOD, floating=False, numbers=True)


@public("remainder", reflected=lambda x, c: _rremainder(x, c), error_forms=_other_forms("remainder", reflected=""))
def remainder(self, other: Operand) -> Tensor:
    """The remainder of ``self / other`` with the sign of ``other`` (Python's %)."""
    return _catalogue_binary(self, other, REMAINDER, floating=False, numbers=True)


@public("__mod__")
def _mod(self, other: Operand) -> Tensor:
    """``self % other``: :meth:`remainder` (NotImplemented for an operand neither tensor, array nor
    number: Python's error then, as PyTorch's)."""
    if not (isinstance(other, (Tensor, np.ndarray)) or _is_number(other)):
        return NotImplemented
    return remainder(self, other)


@public("__rmod__")
def _rmod(self, other: Number) -> Tensor:
    if not _is_number(other):
        raise TypeError(f"unsupported operand type(s) for %: '{type(other).__name__}' and 'Tensor'")
    return _rremainder(self, other)


def _rremainder(x: Tensor, c: Number) -> Tensor:
    """``c % x`` for a Python number ``c``."""
    _integer_checks(c, x, REMAINDER)
    if x._rg and state.grad and D.result_type(x, c) is x._dtype:
        # PyTorch's remainder of a number by a tensor (remainder.Scalar_Tensor) has no derivative: its
        # result sits behind a NotImplemented node whose backward raises (``counting`` imports this module
        # through ``decomp``: read once everything is imported)
        counting = sys.modules[__package__ + ".counting"]
        dt = x._dtype
        return counting._nodiff(np.asarray(REGISTRY[REMAINDER].forward(np.asarray(c, dt.np), x._value()), dt.np),
                                counting.N_REMAINDER, x)
    return _with_wrapped(c, x, REMAINDER, False)


@public("hypot")
def hypot(self, other: Tensor) -> Tensor:
    """``sqrt(self ** 2 + other ** 2)``, without overflow in between."""
    return _catalogue_binary(self, other, HYPOT)


@public("logaddexp")
def logaddexp(self, other: Tensor) -> Tensor:
    """``log(exp(self) + exp(other))``, without overflow in between."""
    return _catalogue_binary(self, other, LOGADDEXP)


@public("logaddexp2")
def logaddexp2(self, other: Tensor) -> Tensor:
    """``log2(2 ** self + 2 ** other)``, without overflow in between."""
    return _catalogue_binary(self, other, LOGADDEXP2)


@public("xlogy", reflected=lambda x, c: _with_wrapped(c, x, XLOGY, True),
        error_forms=_other_forms("xlogy", reflected=", *, Tensor out = None"))
def xlogy(self, other: Operand) -> Tensor:
    """``self * log(other)``, 0 where ``self`` is 0 (unless ``other`` is nan)."""
    return _catalogue_binary(self, other, XLOGY, numbers=True)


@public("copysign", error_forms=_other_forms("copysign"))
def copysign(self, other: Operand) -> Tensor:
    """``self``'s magnitude with ``other``'s sign (of zeros too)."""
    return _catalogue_binary(self, other, COPYSIGN, numbers=True)


@public("float_power", reflected=lambda x, c: float(c) ** x.to(D.float64),
        error_forms=_other_forms("float_power", "exponent", ", *, Tensor out = None"))
def float_power(self, exponent: Operand) -> Tensor:
    """``self ** exponent`` computed in float64 (the result is float64)."""
    if isinstance(exponent, Tensor):
        return self.to(D.float64) ** exponent.to(D.float64)
    if not _is_number(exponent):
        Forms("float_power", "(Tensor exponent)", "(Number exponent)").parse((exponent,), {})
    return self.to(D.float64) ** float(exponent)


@public("_masked")
def masked(self, mask: Tensor) -> Tensor:
    """``self * mask`` where ``mask`` is nonzero and 0 elsewhere, even where ``self`` is nan."""
    return _binary(self, mask, MASKED)


@public("_mask")
def mask(self, kind: int, lo: float = 0.0, hi: float = 0.0, constant: bool = False) -> Tensor:
    """A piecewise-constant function of ``self`` with zero derivative, kept in the graph
    unless ``constant``."""
    y = mask_forward(self._value(), kind, lo, hi).astype(self._dtype.np, copy=False)
    if self._rg and state.grad and not constant:
        return emit(MASK, np.asarray(y), self._dtype, self, ia=kind, fa=lo, fb=hi)
    return plain(np.asarray(y), self._dtype)


# -- copies and casts --
@public("clone")
def clone(self, *, memory_format=None) -> Tensor:
    """A copy of the tensor, laid out in storage as ``memory_format`` says (as the tensor is, by
    default: ``preserve_format``); gradients flow back to the original."""
    v = arranged(self._value(), check_memory_format(memory_format, "clone"))
    if self._rg and state.grad:
        return emit(CLONE, v, self._dtype, self)
    t = plain(v, self._dtype)
    return t


@public("to", function=False)
def to(self, *args, non_blocking: bool = False, copy: bool = False, memory_format=None, **kwargs) -> Tensor:
    """The tensor with the given dtype (``to(dtype)``, ``to(other)``, ``to('cpu', dtype)``), itself if
    nothing changes and ``copy`` is False."""
    dt = kwargs.pop("dtype", None)
    dev = kwargs.pop("device", None)
    if kwargs:
        raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
    flags = []
    for a in args:
        if isinstance(a, D.dtype) and dt is None and not flags:
            dt = a
        elif isinstance(a, Tensor) and dt is None and dev is None and not flags:
            dt = a._dtype
        elif isinstance(a, (str, device)) and dev is None and dt is None and not flags:
            dev = a
        elif isinstance(a, bool) and len(flags) < 2:
            flags.append(a)
        else:
            got = ", ".join(type(x).__name__ for x in args)
            raise TypeError(f"to() received an invalid combination of arguments - got ({got})")
    check_device(dev)
    if len(flags) == 2:
        copy = flags[1]
    if dt is None:
        dt = self._dtype
    fmt = check_memory_format(memory_format, "to")
    if dt is self._dtype and not copy and (fmt is None or self.is_contiguous(memory_format=fmt)
                                           or fmt is preserve_format):
        return self
    quiet()
    v = arranged(self._value(), fmt).astype(dt.np, copy=False)
    if self._rg and state.grad and dt.is_floating_point:
        return emit(CAST, v, dt, self)
    return plain(v, dt)


@public("cuda", function=False)
def cuda(self, device=None, non_blocking: bool = False, memory_format=None) -> Tensor:
    """Raises: tape computes on the CPU (PyTorch's CPU build raises the same error)."""
    check_device("cuda")


@public("float", function=False)
def tensor_float(self) -> Tensor:
    """``self.to(tape.float32)``."""
    return self.to(D.float32)


@public("double", function=False)
def double(self) -> Tensor:
    """``self.to(tape.float64)``."""
    return self.to(D.float64)


@public("long", function=False)
def long(self) -> Tensor:
    """``self.to(tape.int64)``."""
    return self.to(D.int64)


@public("int", function=False)
def tensor_int(self) -> Tensor:
    """``self.to(tape.int32)``."""
    return self.to(D.int32)


@public("bool", function=False)
def tensor_bool(self) -> Tensor:
    """``self.to(tape.bool)``."""
    return self.to(D.bool_)


@public("byte", function=False)
def byte(self) -> Tensor:
    """``self.to(tape.uint8)``."""
    return self.to(D.uint8)


@public("char", function=False)
def char(self) -> Tensor:
    """``self.to(tape.int8)``."""
    return self.to(D.int8)


@public("short", function=False)
def short(self) -> Tensor:
    """``self.to(tape.int16)``."""
    return self.to(D.int16)


@public("half", function=False)
def half(self) -> Tensor:
    """``self.to(tape.float16)``."""
    return self.to(D.float16)


# -- in place: computed out of place, then moved into the tensor (``Tensor._inplace``) --
@public("zero_", function=False)
def zero_(self) -> Tensor:
    """Fill the tensor with zeros in place."""
    return _fill(self, 0, "ZeroBackward0")


@public("fill_", function=False)
def fill_(self, value: Union[Number, Tensor]) -> Tensor:
    """Fill the tensor with ``value`` in place."""
    if not (isinstance(value, Tensor) or _is_number(value)):
        Forms("fill_", "(Tensor value)", "(Number value)").parse((value,), {})
    return _fill(self, value, "FillBackward2")


def _fill(self: Tensor, value, kind: str) -> Tensor:
    if isinstance(value, Tensor):
        if value._shape:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{len(value._shape)} dimensions.")
        if state.grad and (self._rg or value._rg) and self._dtype.is_floating_point:
            return _copy(self, value, FILL_TENSOR)      # PyTorch's fill_(Tensor): FillBackward3, an edge to value
        value = value.item()
    return fill_with(self, value, kind)


def fill_with(self: Tensor, values, kind: str) -> Tensor:
    """Write ``values`` (a number, random draws, a comparison's result) into the tensor in place; the
    node is named ``kind`` (one of ``FILLS``), as PyTorch's for that write, and passes no gradient."""
    number = not isinstance(values, np.ndarray)
    self._check_inplace(fill=number)
    if self._tape is not None and state.grad:
        filled = SCALAR_FORWARD[FILL][0](self._value(), values) if number else values.astype(self._dtype.np)
        record = emit_apart if self._of_grad else emit      # (a create_graph .grad: no history kept)
        return self._inplace(record(FILL, filled, self._dtype, self, ib=FILLS.index(kind),
                                    fa=float(values) if number else 0.0), fill=number)
    if self._f is not None:
        self._f = float(values)
    else:
        unshare(self._v)
        (self._storage() if self._vb is None else writable(self._v, self._vb._storage()))[...] = values
    self._bump()
    self._unrecorded()
    return self


# copy_: the row's inputs are the tensor before the copy and the source (cast to the tensor's dtype,
# broadcast to its shape, inside the op as in PyTorch); nothing reaches the tensor's old value.
# ``ib`` = FILL_TENSOR: fill_ with a 0-d tensor, the same row under PyTorch's name for it.
COPY = 911
FILL_TENSOR = 1
register(Op(COPY, "copy_", "CopyBackwards", 0, lambda g, x, y, r: (g._mask(M_ZERO, constant=True), g), arity=2,
            py_adjoint=rule_adjoint, grad_fn_of=lambda r: "FillBackward3" if r.ib == FILL_TENSOR else "CopyBackwards"))
tangents({COPY: diagonal(REGISTRY[COPY].vjp)})


@public("copy_", function=False)
def copy_(self, src: Union[Tensor, Number], non_blocking: bool = False) -> Tensor:
    """Copy the elements of ``src`` into this tensor (broadcast to its shape, converted to its
    dtype) and return it; gradients reach ``src``, summed to its shape, and not the old value."""
    if not isinstance(src, Tensor):
        if not _is_number(src):
            raise TypeError(f"copy_(): argument 'src' (position 1) must be Tensor, not {type(src).__name__}")
        src = plain(np.asarray(src, self._dtype.np), self._dtype)
    self._check_inplace(src)
    shape = broadcast_pair(self._shape, src._shape)
    if shape != self._shape:
        raise RuntimeError(f"output with shape {list(self._shape)} doesn't match the broadcast shape {list(shape)}")
    if state.grad and (self._rg or src._rg) and self._dtype.is_floating_point:
        return _copy(self, src)
    value = np.array(np.broadcast_to(src._value(), shape), self._dtype.np)
    if self._f is not None:
        self._f = float(value)
    else:
        unshare(self._v)
        self._storage()[...] = value
    self._bump()
    self._unrecorded()
    return self


def _copy(self: Tensor, src: Tensor, kind: int = 0) -> Tensor:
    """Record the copy of ``src`` (broadcast to the tensor's shape) into the tensor (a COPY row of ``kind``)."""
    dt, shape = self._dtype, self._shape
    value = np.array(np.broadcast_to(src._value(), shape), dt.np)
    tape = write_tape()
    node = tape.append(COPY, dt.arena, value, node_in(tape, self, dt, shape), node_in(tape, src, dt, shape), ib=kind)
    return self._inplace(recorded(tape, node, value, dt), src)


@public("__iadd__")
def _iadd(self, other: Operand) -> Tensor:
    self._check_inplace(other)
    return self._inplace(self + other)


@public("__isub__")
def _isub(self, other: Operand) -> Tensor:
    self._check_inplace(other)
    return self._inplace(self - other)


@public("__imul__")
def _imul(self, other: Operand) -> Tensor:
    self._check_inplace(other)
    return self._inplace(self * other, other)


@public("__itruediv__")
def _itruediv(self, other: Operand) -> Tensor:
    self._check_inplace(other)
    return self._inplace(self / other, other)


@public("add_", function=False)
def add_(self, other: Operand, *, alpha: Number = 1) -> Tensor:
    """``self += alpha * other``, in place."""
    self._check_inplace(other)
    return self._inplace(self.add(other, alpha=alpha))


@public("sub_", function=False)
def sub_(self, other: Operand, *, alpha: Number = 1) -> Tensor:
    """``self -= alpha * other``, in place."""
    self._check_inplace(other)
    return self._inplace(self.sub(other, alpha=alpha))


@public("mul_", function=False)
def mul_(self, other: Operand) -> Tensor:
    """``self *= other``, in place."""
    self._check_inplace(other)
    return self._inplace(self * other, other)


class _NoMode:
    """The default of ``div``'s ``rounding_mode``: not given, PyTorch's overload without one
    (``DivBackward0``); ``rounding_mode=None`` given picks the one with a mode (``DivBackward2``,
    showing ``_saved_rounding_mode`` None), the same quotient."""

    def __repr__(self) -> str:
        return "None"


NO_MODE = _NoMode()


def mode_none(out: Tensor) -> Tensor:
    """``out``, a true quotient, recorded as ``div`` with ``rounding_mode=None`` given (``fb`` 1)."""
    tape = out._tape
    if tape is not None and tape.op[out._node] in (DIV, DIVC):
        tape.fb[out._node] = 1.0
    return out


@public("div_", function=False)
def div_(self, other: Operand, *, rounding_mode: Optional[str] = NO_MODE) -> Tensor:
    """``self /= other``, in place (``rounding_mode`` as for :meth:`Tensor.div`)."""
    self._check_inplace(other)
    if rounding_mode is NO_MODE:
        return self._inplace(self / other, other)
    if rounding_mode is None:
        return self._inplace(mode_none(self / other), other)
    check_output_shape(self._shape, other)      # (before the kernel's division by zero)
    return self._inplace(self.div(other, rounding_mode=rounding_mode), other)
