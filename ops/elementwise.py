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
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._spec import BINARY, CROSS, NUMBER, OUT, UNARY, X0, X1, Op, register

# --- codes (UNARY and BINARY ranges) -------------------------------------------
_UNARY_END = UNARY.stop
_U, _B = UNARY.start, BINARY.start
NEG, ABS, EXP, LOG, LOG2, LOG10, SQRT, SIN, COS, TAN, TANH, SIGMOID, RELU, RECIPROCAL, CLONE, FILL = range(_U, _U + 16)
ADDC, SUBC, RSUBC, MULC, DIVC, POWC, RPOWC, CLAMP, MASK, CAST = range(_U + 20, _U + 30)
ADD, SUB, MUL, DIV, POW, MAXIMUM, MINIMUM, MASKED = range(_B, _B + 8)

# Kinds of MASK: a piecewise-constant function of x, whose derivative is zero.
# Where PyTorch's derivative keeps x in the graph (relu, abs), the rule records
# the mask as a MASK row; where it does not (clamp, maximum), the mask is a
# constant, so that what requires grad matches PyTorch.
M_POS, M_SIGN, M_INRANGE, M_STEP_HALF, M_NONZERO, M_NEG, M_ZERO = range(7)

LN2 = math.log(2.0)
LN10 = math.log(10.0)


# --- numeric adjoint kernels --------------------------------------------------
@njit(cache=True, error_model="numpy")
def _mask(kind, x, lo, hi):
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
    return math.nan     # a kind without a branch here: an error value


@njit(cache=True, error_model="numpy")
def _pow(x, e):
    """``x ** e`` with numpy's (and PyTorch's) x ** 0.5 == sqrt(x): nan, not inf, at -inf."""
    if e == 0.5:
        return math.sqrt(x) if x >= 0 else math.nan
    return x ** e


@njit(cache=True, error_model="numpy")
def _where(m, g):
    """``g * m`` where the mask ``m`` is nonzero, else 0 even for a nan or inf ``g`` (PyTorch's
    where/masked_fill in the derivatives of relu, clamp, maximum ...)."""
    return g * m if m != 0 else 0.0 * m


# The derivative of each unary op at one element: ``(gy, x, y, fa, fb) -> dx``.  ``_unary_d``
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
    return gy * fa


@njit(cache=True, error_model="numpy", inline="always")
def _d_divc(gy, x, y, fa, fb):
    return gy / fa


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
    return gy / (x * LN2)


@njit(cache=True, error_model="numpy", inline="always")
def _d_log10(gy, x, y, fa, fb):
    return gy / (x * LN10)


@njit(cache=True, error_model="numpy", inline="always")
def _d_sqrt(gy, x, y, fa, fb):
    return gy / (y * 2.0)


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
    return _where(_mask(M_POS, y, 0.0, 0.0), gy)


@njit(cache=True, error_model="numpy", inline="always")
def _d_reciprocal(gy, x, y, fa, fb):
    return -(gy * (y * y))


@njit(cache=True, error_model="numpy", inline="always")
def _d_powc(gy, x, y, fa, fb):
    if fa == 0.0:
        return 0.0 * gy
    # x ** 1 and x ** 0 written out: pow() on every element costs ~10x (squares are common).
    p = x if fa == 2.0 else (1.0 if fa == 1.0 else _pow(x, fa - 1.0))
    return gy * (p * fa)


@njit(cache=True, error_model="numpy", inline="always")
def _d_rpowc(gy, x, y, fa, fb):
    if fa == 0.0:   # 0 ** x: PyTorch's where(x >= 0, 0, y * log 0), with no 0 * -inf
        return gy * _where(_mask(M_NEG, x, 0.0, 0.0), y * math.log(fa))
    return gy * (y * math.log(fa))


@njit(cache=True, error_model="numpy", inline="always")
def _d_clamp(gy, x, y, fa, fb):
    return _where(_mask(M_INRANGE, x, fa, fb), gy)


@njit(cache=True, error_model="numpy")
def _unary_d(code, gy, x, y, fa, fb):
    """The input adjoint contributed by one element of a unary row."""
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
    if code == LOG2:
        return _d_log2(gy, x, y, fa, fb)
    if code == LOG10:
        return _d_log10(gy, x, y, fa, fb)
    if code == SQRT:
        return _d_sqrt(gy, x, y, fa, fb)
    if code == SIN:
        return _d_sin(gy, x, y, fa, fb)
    if code == COS:
        return _d_cos(gy, x, y, fa, fb)
    if code == TAN:
        return _d_tan(gy, x, y, fa, fb)
    if code == TANH:
        return _d_tanh(gy, x, y, fa, fb)
    if code == SIGMOID:
        return _d_sigmoid(gy, x, y, fa, fb)
    if code == RELU:
        return _d_relu(gy, x, y, fa, fb)
    if code == RECIPROCAL:
        return _d_reciprocal(gy, x, y, fa, fb)
    if code == POWC:
        return _d_powc(gy, x, y, fa, fb)
    if code == RPOWC:
        return _d_rpowc(gy, x, y, fa, fb)
    if code == CLAMP:
        return _d_clamp(gy, x, y, fa, fb)
    if code == FILL:
        return 0.0          # the value does not depend on x (PyTorch: zeros, even for a nan gradient)
    if code == MASK:
        return 0.0 * gy     # zero derivative
    return math.nan         # a code without a branch here: an error value, never a silent zero


@njit(cache=True, error_model="numpy", nogil=True)   # (run on parts of a row by several threads)
def unary_adjoint(code, n, fa, fb, ia, v, g, ox, oy, vo, go):
    """Accumulate the input adjoint of one unary row (x at ox, y at oy)."""
    if code == MASK:
        return
    if code == CAST:
        for i in range(n):
            go[ox + i] += g[oy + i]
        return
    # Slices first: indexing them with the loop counter needs no negative-index
    # check, which lets the loop vectorize (about 4x on arrays).
    gx = g[ox:ox + n]
    gy = g[oy:oy + n]
    x = v[ox:ox + n]
    y = v[oy:oy + n]
    # Ops whose derivative calls a transcendental function (sin, cos, pow: numba has no
    # vectorized ones here) stay in the shared loop; their big rows go to numpy (``Op.numpy_rows``).
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
    elif code == ABS:
        for i in range(n):
            gx[i] += _d_abs(gy[i], x[i], y[i], fa, fb)
    elif code == EXP:
        for i in range(n):
            gx[i] += _d_exp(gy[i], x[i], y[i], fa, fb)
    elif code == LOG:
        for i in range(n):
            gx[i] += _d_log(gy[i], x[i], y[i], fa, fb)
    elif code == SQRT:
        for i in range(n):
            gx[i] += _d_sqrt(gy[i], x[i], y[i], fa, fb)
    elif code == TANH:
        for i in range(n):
            gx[i] += _d_tanh(gy[i], x[i], y[i], fa, fb)
    elif code == SIGMOID:
        for i in range(n):
            gx[i] += _d_sigmoid(gy[i], x[i], y[i], fa, fb)
    elif code == RELU:
        for i in range(n):
            gx[i] += _d_relu(gy[i], x[i], y[i], fa, fb)
    elif code == RECIPROCAL:
        for i in range(n):
            gx[i] += _d_reciprocal(gy[i], x[i], y[i], fa, fb)
    elif code == CLAMP:
        for i in range(n):
            gx[i] += _d_clamp(gy[i], x[i], y[i], fa, fb)
    else:
        for i in range(n):
            gx[i] += _unary_d(code, gy[i], x[i], y[i], fa, fb)


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
    return gy / b, -(gy * a) / (b * b)


@njit(cache=True, error_model="numpy", inline="always")
def _d_pow(gy, a, b, y, s):
    da = gy * (b * a ** (b - 1.0)) if b != 0 else 0.0      # 0 for any gy, as PyTorch's where()
    db = gy * (y * math.log(a)) if (a != 0 or b < 0) else 0.0 * gy
    return da, db


@njit(cache=True, error_model="numpy", inline="always")
def _d_masked(gy, a, b, y, s):
    return _where(b, gy), 0.0       # the mask is piecewise constant


@njit(cache=True, error_model="numpy", inline="always")
def _d_extremum(gy, a, b, y, s):
    d = (a - b) * s
    return _where(_mask(M_STEP_HALF, d, 0.0, 0.0), gy), _where(_mask(M_STEP_HALF, -d, 0.0, 0.0), gy)


@njit(cache=True, error_model="numpy")
def _binary_d(code, s, gy, a, b, y):
    """The two input adjoints contributed by one element of a binary row."""
    if code == ADD or code == SUB:
        return _d_add(gy, a, b, y, s)
    if code == MUL:
        return _d_mul(gy, a, b, y, s)
    if code == DIV:
        return _d_div(gy, a, b, y, s)
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
    s = -1.0 if code == SUB or code == MINIMUM else 1.0
    gy = g[oy:oy + n]
    # As for unary rows, sums and products get loops of their own.
    if code == ADD or code == SUB:
        if rga and rgb and na == n and nb == n and oa != ob:
            ga = g[oa:oa + n]
            gb = g[ob:ob + n]
            for i in range(n):      # (one pass over gy for both)
                ga[i] += gy[i]
                gb[i] += gy[i] * s
            return
        if rga:
            _fold(gy, 1.0, g[oa:oa + na])
        if rgb:
            _fold(gy, s, g[ob:ob + nb])
        return
    if na == n and nb == n:
        a = v[oa:oa + n]
        b = v[ob:ob + n]
        y = v[oy:oy + n]
        ga = g[oa:oa + n]
        gb = g[ob:ob + n]
        if code == MUL and oa == ob:
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
        elif code == MAXIMUM or code == MINIMUM:
            for i in range(n):
                da, db = _d_extremum(gy[i], a[i], b[i], y[i], s)
                if rga:
                    ga[i] += da
                if rgb:
                    gb[i] += db
        else:
            for i in range(n):
                da, db = _binary_d(code, s, gy[i], a[i], b[i], y[i])
                if rga:
                    ga[i] += da
                if rgb:
                    gb[i] += db
        return
    a = v[oa:oa + na] if na == n else _repeat(v[oa:oa + na], n)
    b = v[ob:ob + nb] if nb == n else _repeat(v[ob:ob + nb], n)
    if code == MUL:
        if rga:
            _fold(_times(gy, b), 1.0, g[oa:oa + na])
        if rgb:
            _fold(_times(gy, a), 1.0, g[ob:ob + nb])
        return
    y = v[oy:oy + n]
    ga = g[oa:oa + na] if na == n else np.zeros(n, g.dtype)
    gb = g[ob:ob + nb] if nb == n else np.zeros(n, g.dtype)
    for i in range(n):
        da, db = _binary_d(code, s, gy[i], a[i], b[i], y[i])
        if rga:
            ga[i] += da
        if rgb:
            gb[i] += db
    if rga and na < n:
        _fold(ga, 1.0, g[oa:oa + na])
    if rgb and nb < n:
        _fold(gb, 1.0, g[ob:ob + nb])


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


@njit(cache=True, error_model="numpy")
def scalar_d(code, gy, x, y, out, fa, fb):
    """The input adjoints ``(dx, dy)`` of a one-element unary or binary row (not CAST or MASK).

    The sweep loads and stores the elements itself: for one element, passing
    arrays to a kernel costs several times the derivative (two atomic reference
    counts per array, even when inlined); a call on scalars costs a few ns.
    """
    if code < _UNARY_END:
        return _unary_d(code, gy, x, out, fa, fb), 0.0
    return _binary_d(code, -1.0 if code == SUB or code == MINIMUM else 1.0, gy, x, y, out)


# --- numeric forward kernels ----------------------------------------------------
# The compiled face of each op's forward, for rows written by compiled code (the
# recorded backward appends rows and must compute their values).  Values match
# the numpy ``forward`` to rounding; a test checks every code against it.
@njit(cache=True, error_model="numpy")
def _unary_f(code, x, fa, fb, ia):
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
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)
    if code == RELU:
        return 0.0 if x <= 0 else x
    if code == RECIPROCAL:
        return 1.0 / x
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
    x = v[ox:ox + n]
    y = v[oy:oy + n]
    for i in range(n):
        y[i] = _unary_f(code, x[i], fa, fb, ia)


@njit(cache=True, error_model="numpy")
def _binary_f(code, a, b):
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
    y = v[oy:oy + n]
    a = v[oa:oa + na]
    b = v[ob:ob + nb]
    if na == n and nb == n:
        for i in range(n):
            y[i] = _binary_f(code, a[i], b[i])
        return
    for i in range(n):
        y[i] = _binary_f(code, a[i % na], b[i % nb])


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


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def _sigmoid_scalar(f: float) -> float:
    if f >= 0:
        return 1.0 / (1.0 + math.exp(-f))
    e = math.exp(f)
    return e / (1.0 + e)


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
    else:
        m = x < 0
    return m.astype(x.dtype)


# --- the table ------------------------------------------------------------------
# ``numpy_rows=True``: the op has no loop of its own in the adjoint kernel, or its derivative
# calls a transcendental function: its big rows are differentiated by numpy (``Op.numpy_rows``).
def _u(code, name, grad_fn, saved, forward, scalar, vjp, float_only=True, numpy_rows=False):
    return register(Op(code, name, grad_fn, saved, vjp, forward, scalar, float_only, numpy_rows=numpy_rows))


_u(NEG, "neg", "NegBackward0", 0, np.negative, lambda f: -f,
   lambda g, x, y, r: (-g,), float_only=False)
_u(ABS, "abs", "AbsBackward0", X0, np.abs, abs,
   lambda g, x, y, r: (g * x[0]._mask(M_SIGN),), float_only=False)
_u(EXP, "exp", "ExpBackward0", OUT, np.exp, math.exp, lambda g, x, y, r: (g * y,))
_u(LOG, "log", "LogBackward0", X0, np.log, math.log, lambda g, x, y, r: (g / x[0],))
_u(LOG2, "log2", "Log2Backward0", X0, np.log2, math.log2,
   lambda g, x, y, r: (g / (x[0] * LN2),), numpy_rows=True)
_u(LOG10, "log10", "Log10Backward0", X0, np.log10, math.log10,
   lambda g, x, y, r: (g / (x[0] * LN10),), numpy_rows=True)
_u(SQRT, "sqrt", "SqrtBackward0", OUT, np.sqrt, math.sqrt, lambda g, x, y, r: (g / (y * 2.0),))
_u(SIN, "sin", "SinBackward0", X0, np.sin, math.sin, lambda g, x, y, r: (g * x[0].cos(),),
   numpy_rows=True)
_u(COS, "cos", "CosBackward0", X0, np.cos, math.cos, lambda g, x, y, r: (-(g * x[0].sin()),),
   numpy_rows=True)
_u(TAN, "tan", "TanBackward0", OUT, np.tan, math.tan, lambda g, x, y, r: (g * (y * y + 1.0),),
   numpy_rows=True)
_u(TANH, "tanh", "TanhBackward0", OUT, np.tanh, math.tanh,
   lambda g, x, y, r: (g * (1.0 - y * y),))
_u(SIGMOID, "sigmoid", "SigmoidBackward0", OUT, _sigmoid, _sigmoid_scalar,
   lambda g, x, y, r: (g * (y * (1.0 - y)),))
_u(RELU, "relu", "ReluBackward0", OUT, lambda x: np.maximum(x, 0).astype(x.dtype, copy=False),
   _relu_scalar, lambda g, x, y, r: (g._masked(y._mask(M_POS)),), float_only=False)
_u(RECIPROCAL, "reciprocal", "ReciprocalBackward0", OUT, lambda x: 1.0 / x, lambda f: 1.0 / f,
   lambda g, x, y, r: (-(g * (y * y)),))
_u(CLONE, "clone", "CloneBackward0", 0, np.copy, lambda f: f, lambda g, x, y, r: (g,),
   float_only=False)
_u(MASK, "_mask", "MaskBackward0", 0, None, None, lambda g, x, y, r: (g * 0.0,))
# fill_/zero_ on a recorded tensor: the constant ``fa``; ``ib`` = 1 for zero_ (its node's name).
# The derivative is zeros_like(grad) with no graph, as in PyTorch (nothing reaches the filled input).
register(Op(FILL, "fill_", "FillBackward2", 0, lambda g, x, y, r: (g._mask(M_ZERO, constant=True),), float_only=False,
            grad_fn_of=lambda r: "ZeroBackward0" if r.ib else "FillBackward2"))
_u(CAST, "_to_copy", "ToCopyBackward0", 0, None, None,
   lambda g, x, y, r: (g.to(x[0].dtype),))

# Ops with a Python-number operand: the number is the row's float attribute ``fa``.
_u(ADDC, "add", "AddBackward0", 0, None, None, lambda g, x, y, r: (g,))
_u(SUBC, "sub", "SubBackward0", 0, None, None, lambda g, x, y, r: (g,))
_u(RSUBC, "rsub", "RsubBackward1", 0, None, None, lambda g, x, y, r: (-g,))
_u(MULC, "mul", "MulBackward0", NUMBER, None, None, lambda g, x, y, r: (g * r.fa,))
_u(DIVC, "div", "DivBackward0", NUMBER, None, None, lambda g, x, y, r: (g / r.fa,))
_u(POWC, "pow", "PowBackward0", X0, None, None,
   lambda g, x, y, r: (g * 0.0,) if r.fa == 0.0 else (g * (x[0] ** (r.fa - 1.0) * r.fa),), numpy_rows=True)
_u(RPOWC, "pow", "PowBackward2", X0 | OUT, None, None,
   lambda g, x, y, r: (g * (y * r.log_fa)._masked(x[0]._mask(M_NEG)),) if r.fa == 0.0
   else (g * (y * r.log_fa),), numpy_rows=True)
_u(CLAMP, "clamp", "ClampBackward1", X0, None, None,
   lambda g, x, y, r: (g._masked(x[0]._mask(M_INRANGE, r.fa, r.fb, constant=True)),))

SCALAR_FORWARD = {
    ADDC: (np.add, lambda f, c: f + c),
    SUBC: (np.subtract, lambda f, c: f - c),
    RSUBC: (lambda x, c: np.subtract(c, x), lambda f, c: c - f),
    MULC: (np.multiply, lambda f, c: f * c),
    DIVC: (np.true_divide, lambda f, c: f / c),
    # x ** 0.5 is sqrt(x) (nan at -inf, -0 at -0), as in PyTorch; square: 2.5x faster than power
    POWC: (lambda x, c: np.square(x) if c == 2 else np.power(x, c), lambda f, c: math.sqrt(f) if c == 0.5 else math.pow(f, c)),
    RPOWC: (lambda x, c: np.power(c, x), lambda f, c: math.pow(c, f)),
    FILL: (lambda x, c: np.full_like(x, c), lambda f, c: c),
}
"""Forward of the ops whose second operand is the Python number ``c``."""


def _exponent_mask(base, exponent):
    """1 except where base == 0 and exponent >= 0 (there PyTorch's exponent gradient is 0):
    nonzero(base) or negative(exponent), written with constant masks so the rule compiles."""
    nonzero = base._mask(M_NONZERO, constant=True)
    negative = exponent._mask(M_NEG, constant=True)
    return nonzero + negative - nonzero * negative


def _base_grad(g, x):
    """g * e * base ** (e - 1), zero where e == 0 (as PyTorch): the power is taken with exponent
    0 there, so no 0 * inf makes a nan."""
    nonzero = x[1]._mask(M_NONZERO)
    return (g * (x[1] * x[0] ** (x[1] - 1.0 + (1.0 - x[1]._mask(M_NONZERO, constant=True)))))._masked(nonzero)


def _exponent_grad(g, x, y):
    """g * y * log(base), zero where base == 0 and exponent >= 0 (as PyTorch's masked_fill):
    the log is taken of 1 there, so no 0 * -inf makes a nan."""
    keep = _exponent_mask(x[0], x[1])
    return g * (y * (x[0] + (1.0 - keep)).log()) * keep


def _b(code, name, grad_fn, saved, forward, scalar, vjp):
    return register(Op(code, name, grad_fn, saved, vjp, forward, scalar, False, arity=2))


_b(ADD, "add", "AddBackward0", 0, np.add, lambda a, b: a + b, lambda g, x, y, r: (g, g))
_b(SUB, "sub", "SubBackward0", 0, np.subtract, lambda a, b: a - b, lambda g, x, y, r: (g, -g))
_b(MUL, "mul", "MulBackward0", X0 | X1 | CROSS, np.multiply, lambda a, b: a * b,
   lambda g, x, y, r: (g * x[1], g * x[0]))
_b(DIV, "div", "DivBackward0", X0 | X1, np.true_divide, lambda a, b: a / b,
   lambda g, x, y, r: (g / x[1], -(g * x[0]) / (x[1] * x[1])))
_b(POW, "pow", "PowBackward1", X0 | X1 | OUT, _power, math.pow,
   lambda g, x, y, r: (_base_grad(g, x), _exponent_grad(g, x, y)))
_b(MAXIMUM, "maximum", "MaximumBackward0", X0 | X1, np.maximum, _maximum_scalar,
   lambda g, x, y, r: (g._masked((x[0] - x[1])._mask(M_STEP_HALF, constant=True)),
                       g._masked((x[1] - x[0])._mask(M_STEP_HALF, constant=True))))
_b(MINIMUM, "minimum", "MinimumBackward0", X0 | X1, np.minimum, _minimum_scalar,
   lambda g, x, y, r: (g._masked((x[1] - x[0])._mask(M_STEP_HALF, constant=True)),
                       g._masked((x[0] - x[1])._mask(M_STEP_HALF, constant=True))))

# g where the mask is nonzero, times it (0 elsewhere, whatever g is): the masked derivatives.
_b(MASKED, "_masked", "WhereBackward0", X1, lambda g, m: np.where(m != 0, g * m, 0 * m).astype(g.dtype, copy=False),
   lambda g, m: g * m if m != 0 else 0.0, lambda g, x, y, r: (g._masked(x[1]), x[1] * 0.0))

mask_forward = _mask_np
