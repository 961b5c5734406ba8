"""exp for compiled loops that vectorize: range reduction, a polynomial and exponent bits, no calls.

numba here has no SVML, so a loop calling ``math.exp`` runs libm's exp one element at a time (~2 ns
each, against numpy's SIMD exp at ~0.4).  ``exp32`` is arithmetic, comparisons and bit casts only,
so LLVM vectorizes a loop over it.  It is Cephes' ``expf`` in float32 arithmetic, without branches:

* ``x = k ln 2 + r``, ``k`` the nearest integer to ``x / ln 2`` (rounded by adding and subtracting
  1.5 * 2^23), ``|r| <= ln 2 / 2``; ``k ln 2`` subtracted in two parts, the first with 9 significant
  bits so that ``k * C1`` is exact;
* ``exp(r) = 1 + r + r^2 P(r)``, P of degree 5 (Cephes' coefficients);
* times ``2^k`` as two factors ``2^(k >> 1)`` and ``2^(k - (k >> 1))`` made from exponent bits, each a
  normal number, so that a subnormal result is rounded once and an overflow gives inf.

``x`` is clamped to [-110, 89] first (beyond, the result is 0 or inf in float32 either way); nan gives
nan, -inf 0 and inf inf.  Accuracy, in loops compiled with ``fastmath={"contract"}`` (fused
multiply-adds; ``exp32`` is inlined into its caller and takes the caller's flags): within 1 ulp of the
exact value where that is a normal float32, and within one step of the subnormal grid below
(``tests/test_vecmath.py``, over a sample of all float32 bit patterns: numpy's float32 exp is within
2.4 ulps there).

``tanh_f32`` is the float32 tanh PyTorch gives, computed in float64 and rounded once, the same way:
numpy's float32 tanh is an ulp off on about a third of its inputs, where PyTorch's (SLEEF) is almost
always the correctly rounded value, and numpy's float64 tanh, which is, is libm's, one element at a
time (~7 ns each).  With ``a = |x|`` and ``e = expm1(2a)``, ``tanh(a) = e / (e + 2)``, exact in float64 to a
few ulps, and without cancellation: ``2a = k ln 2 + r``, ``|r| <= ln 2 / 2``, ``expm1(r)`` its Taylor
polynomial to degree 14 (the next term is below 2e-18; evaluated in Estrin's scheme), ``expm1(2a) = 2^k expm1(r) + (2^k - 1)`` (2^k an
integer shifted, k <= 27); from ``a = 9.5`` on, the float32 result is 1.  Sign restored last (``-0.0``
stays), nan stays nan.  Compiled without fused multiply-adds, it gives the same bits on every x86-64
CPU; over every float32 from 0 to 9.6 it is numpy's float64 tanh rounded to float32, to the bit
(``tests/test_vecmath.py`` checks a dense sample of them).
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def wide(typingctx):
    """Vectorize the calling compiled function's loops in 512-bit registers where the CPU has them
    (LLVM's ``prefer-vector-width``: its default for AVX-512 CPUs is 256).  Called first in a
    kernel; the loops then take twice the lanes, with the same per-element arithmetic (a loop that
    reassociates a sum adds in another order).  Without AVX-512 the attribute changes nothing."""
    def codegen(context, builder, signature, args):
        # (llvmlite checks attribute names against a list without the string attributes)
        set.add(builder.function.attributes, '"prefer-vector-width"="512"')
        return context.get_dummy_value()
    return types.none(), codegen


@intrinsic
def _float_bits(typingctx, x):
    """The bits of a float32 as an int32."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))
    return types.int32(types.float32), codegen


@intrinsic
def _bits_float(typingctx, i):
    """The float32 whose bits are the int32 ``i``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


_F = np.float32
_LOG2E = _F(1.44269504088896341)
_ROUND = _F(12582912.0)                 # 1.5 * 2^23: x + _ROUND - _ROUND is x rounded to an integer
_ROUND_BITS = int(np.array(_ROUND).view(np.int32))
_C1 = _F(0.693359375)
_C2 = _F(-2.12194440e-4)
_P0, _P1, _P2 = _F(1.9875691500e-4), _F(1.3981999507e-3), _F(8.3334519073e-3)
_P3, _P4, _P5 = _F(4.1665795894e-2), _F(1.6666665459e-1), _F(5.0000001201e-1)
_LO, _HI = _F(-110.0), _F(89.0)
_ONE = _F(1.0)


@njit(cache=True, error_model="numpy", inline="always")
def exp32(x):
    """``exp(x)`` of a float32, as a float32 (see the module's docstring)."""
    c = x if x > _LO else _LO           # (nan and -inf become _LO here; nan is put back at the end)
    c = c if c < _HI else _HI
    t = c * _LOG2E + _ROUND
    k = _float_bits(t) - np.int32(_ROUND_BITS)       # the integer t - _ROUND, exactly
    f = t - _ROUND
    r = c - f * _C1
    r = r - f * _C2
    z = r * r
    p = ((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5
    e = p * z + r + _ONE
    h = k >> np.int32(1)
    e = e * _bits_float((h + np.int32(127)) << np.int32(23))
    e = e * _bits_float((k - h + np.int32(127)) << np.int32(23))
    return e if x == x else x


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"contract"})
def exp32_array(x, out):
    """``out[i] = exp32(x[i])`` over float32 arrays of one dim (for tests and measurement)."""
    for i in range(x.shape[0]):
        out[i] = exp32(x[i])


_LN2_HI = 6.93147180369123816490e-01       # ln 2 in two parts: k * _LN2_HI is exact for k < 2^20
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e+00
_EXPM1 = tuple(1.0 / math.factorial(n) for n in range(2, 15))
_E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10, _E11, _E12, _E13, _E14 = _EXPM1
_TANH_ONE = 9.5         # tanh(a) rounds to 1 in float32 from about 9.01 on


@njit(cache=True, error_model="numpy", nogil=True)
def tanh_f32(x, out):
    """``out[i] = tanh(x[i])`` over float32 arrays of one dim, computed in float64 and rounded (see the
    module's docstring)."""
    for i in range(x.shape[0]):
        v = np.float64(x[i])
        a = abs(v)
        near = a < _TANH_ONE                  # (False for nan)
        b = a if near else 0.0
        y = b + b
        k = np.int32(y * _INV_LN2 + 0.5)
        f = np.float64(k)
        r = (y - f * _LN2_HI) - f * _LN2_LO
        # (Estrin's scheme: the terms in pairs, then pairs of pairs, so that the vector units are not
        # waiting on one long chain of multiply-then-add as in Horner's)
        r2 = r * r
        r4 = r2 * r2
        q = (((1.0 + _E2 * r) + (_E3 + _E4 * r) * r2) + ((_E5 + _E6 * r) + (_E7 + _E8 * r) * r2) * r4) \
            + (((_E9 + _E10 * r) + (_E11 + _E12 * r) * r2) + (_E13 + _E14 * r) * r4) * (r4 * r4)
        p = r * q
        # (2^k as an int32 made float64, a conversion the vector units have; numba's int64 shift is not)
        s = np.float64(np.int32(np.int32(1) << k))
        e = s * p + (s - 1.0)
        t = e / (e + 2.0) if near else 1.0
        t = t if a == a else v
        out[i] = np.float32(math.copysign(t, v))
