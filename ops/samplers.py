"""Discrete samples PyTorch draws with its CPU samplers (ATen's ``Distributions.h``): ``poisson``
(Hörmann's transformed rejection for rates of 10 or more, products of uniforms below) and
``binomial`` (BTRS, Hörmann's transformed rejection, for a mean of 10 or more, inversion by
geometric waiting times below), each element in memory order from the generator's 53-bit uniforms.
After ``manual_seed`` they give PyTorch's samples: the uniforms are PyTorch's (``uniform_`` of a
float64 tensor), the arithmetic is ATen's in its types (float where the sampler computes in the
count's float32), the C library's ``log``, ``lgamma`` and ``log1pf``.

The draws are taken from the generator in batches no bigger than what the remaining elements need
at least, so the generator ends where PyTorch's does.  ``poisson``'s result sits behind
``PoissonBackward0`` (zero gradient, as PyTorch's), ``binomial``'s behind ``NotImplemented``.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import math
from typing import Any, Callable, Optional

import numpy as np

from .._emit import D, Tensor, emit, plain, state
from ._rule import rule_adjoint
from ._spec import PYTHON, Op, public, public_function, register, tangents
from .counting import N_BINOMIAL, _nodiff

POISSON = PYTHON.start + 229
register(Op(POISSON, "poisson", "PoissonBackward0", 0,
            lambda g, xs, y, r: (plain(np.zeros(g._shape, g._dtype.np), g._dtype),), py_adjoint=rule_adjoint))
tangents({POISSON: lambda ts, xs, y, r: plain(np.zeros(y._shape, y._dtype.np), y._dtype)})

_LIBM = ctypes.CDLL(ctypes.util.find_library("m"))
_LIBM.lgamma.restype, _LIBM.lgamma.argtypes = ctypes.c_double, (ctypes.c_double,)
_LIBM.log1pf.restype, _LIBM.log1pf.argtypes = ctypes.c_float, (ctypes.c_float,)


class _Uniforms:
    """The generator's uniforms on [0, 1), one at a time, fetched in batches of at most ``need()``
    (what the elements not yet sampled take at least), so that none is drawn that PyTorch does not."""

    def __init__(self, generator, need: Callable[[], int]) -> None:
        self.generator, self.need = generator, need
        self.buffer, self.at = [], 0

    def __call__(self) -> float:
        if self.at == len(self.buffer):
            n = max(self.need(), 1)
            t = plain(np.empty(n, np.float64), D.float64).uniform_(generator=self.generator)
            self.buffer, self.at = t._value().tolist(), 0
        self.at += 1
        return self.buffer[self.at - 1]


def _poisson_one(lam: float, uniform: Callable[[], float]) -> float:
    if lam >= 10:
        slam, loglam = math.sqrt(lam), math.log(lam)
        b = 0.931 + 2.53 * slam
        a = -0.059 + 0.02483 * b
        invalpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2)
        while True:
            u = uniform() - 0.5
            v = uniform()
            us = 0.5 - abs(u)
            k = math.floor((2 * a / us + b) * u + lam + 0.43)
            if us >= 0.07 and v <= vr:
                return float(k)
            if k < 0 or (us < 0.013 and v > us):
                continue
            if math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b) <= \
                    -lam + k * loglam - _LIBM.lgamma(k + 1.0):
                return float(k)
    if lam == 0:
        return 0.0
    enlam, x, prod = math.exp(-lam), 0, 1.0
    while True:
        prod *= uniform()
        if prod > enlam:
            x += 1
        else:
            return float(x)


_TAIL = (0.0810614667953272, 0.0413406959554092, 0.0276779256849983, 0.02079067210376509, 0.0166446911898211,
         0.0138761288230707, 0.0118967099458917, 0.0104112652619720, 0.00925546218271273, 0.00833056343336287)


def _stirling_tail(k: float) -> float:
    if k <= 9:
        return _TAIL[int(k)]
    kp1sq = (k + 1) * (k + 1)
    return (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / kp1sq) / kp1sq) / (k + 1)


def _btrs(count, prob, uniform: Callable[[], float], f):
    """ATen's ``btrs``: ``count`` and ``prob`` (and ``k``) in the tensor's type ``f``, the rest in double."""
    one = f(1)
    stddev = float(np.sqrt(f(count * prob) * f(one - prob)))
    b = 1.15 + 2.53 * stddev
    a = -0.0873 + 0.0248 * b + 0.01 * float(prob)
    c = float(f(count * prob)) + 0.5
    v_r = 0.92 - 4.2 / b
    r = float(f(prob / f(one - prob)))
    alpha = (2.83 + 5.1 / b) * stddev
    m = float(np.floor(f(f(count + one) * prob)))
    cnt = float(count)
    while True:
        u = uniform() - 0.5
        v = uniform()
        us = 0.5 - abs(u)
        k = f(math.floor((2 * a / us + b) * u + c))
        if us >= 0.07 and v <= v_r:
            return k
        if k < 0 or k > count:
            continue
        kk = float(k)
        v = math.log(v * alpha / (a / (us * us) + b))
        upper = ((m + 0.5) * math.log((m + 1) / (r * (cnt - m + 1)))
                 + float(f(count + one)) * math.log((cnt - m + 1) / float(f(f(count - k) + one)))
                 + (kk + 0.5) * math.log(r * float(f(f(count - k) + one)) / float(f(k + one)))
                 + _stirling_tail(m) + _stirling_tail(cnt - m) - _stirling_tail(kk) - _stirling_tail(float(f(count - k))))
        if v <= upper:
            return k


def _inversion(count, prob, uniform: Callable[[], float], f):
    """ATen's ``binomial_inversion``: geometric waiting times until their sum passes ``count``."""
    logprob = float(_LIBM.log1pf(-prob)) if f is np.float32 else math.log1p(-float(prob))
    geom_sum, num = 0.0, f(0)
    while True:
        geom_sum += math.ceil(math.log(uniform()) / logprob)
        if geom_sum > count:
            return num
        num = f(num + f(1))


def _binomial_one(count, prob, uniform: Callable[[], float], f):
    if count <= 0 or prob <= 0:
        return f(0)
    if prob >= 1:
        return count
    if prob <= 0.5:
        if f(count * prob) >= 10:
            return _btrs(count, prob, uniform, f)
        return _inversion(count, prob, uniform, f)
    if prob > 0.5:
        q = f(f(1) - prob)
        return f(count - (_btrs(count, q, uniform, f) if f(count * q) >= 10 else _inversion(count, q, uniform, f)))
    return f(math.nan)


def _float_tensor(t: Any, name: str, arg: str, position: int) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be Tensor, not {type(t).__name__}")


@public("poisson", method=False)
def poisson(self, generator: Optional[Any] = None) -> Tensor:
    """A Poisson sample for each element of ``self``, its rate (from ``generator``, or the default
    generator), in ``self``'s dtype."""
    _float_tensor(self, "poisson", "input", 1)
    dt = self._dtype
    if not dt.is_floating_point:
        raise NotImplementedError(f"\"poisson_cpu\" not implemented for '{D.legacy_name(dt).replace('Tensor', '')}'")
    rates = np.asarray(self._value(), np.float64)
    if np.any(rates < 0) or np.any(np.isnan(rates)):
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    order = rates.reshape(-1)       # (row-major: the order of PyTorch's new contiguous result)
    mins = np.cumsum(np.where(order >= 10, 2, np.where(order > 0, 1, 0))[::-1])[::-1].tolist() + [0]
    done = [0]
    uniform = _Uniforms(generator, lambda: mins[done[0]] + 1)
    out = np.empty(order.size, np.float64)
    for i, lam in enumerate(order.tolist()):
        done[0] = i + 1
        out[i] = _poisson_one(lam, uniform)
    y = np.array(out.reshape(rates.shape), dtype=dt.np)
    if self._rg and state.grad:
        return emit(POISSON, y, dt, self)
    return plain(y, dt)


@public_function("binomial")
def binomial(count: Tensor, prob: Tensor, generator: Optional[Any] = None) -> Tensor:
    """A binomial sample for each element: the number of successes in ``count`` trials of
    probability ``prob`` (broadcast to ``count``), from ``generator`` or the default generator."""
    _float_tensor(count, "binomial", "count", 1)
    _float_tensor(prob, "binomial", "prob", 2)
    for t, what in ((count, "count"), (prob, "prob")):
        if not t._dtype.is_floating_point:
            raise ValueError(f"binomial only supports floating-point dtypes for {what}, got: "
                             f"{D.legacy_name(t._dtype).replace('Tensor', '')}")
    dt = count._dtype
    if prob._dtype is not dt:
        raise RuntimeError(f"Found dtype {D.legacy_name(prob._dtype).replace('Tensor', '')} but expected "
                           f"{D.legacy_name(dt).replace('Tensor', '')}")
    f = dt.np.type
    n = np.asarray(count._value(), dt.np)
    p = np.broadcast_to(np.asarray(prob._value(), dt.np), n.shape)
    pairs = list(zip(n.reshape(-1).tolist(), p.reshape(-1).tolist()))
    # (each sampled element takes one uniform at least: none when its count or prob leaves nothing to draw)
    takes = [1 if c > 0 and 0 < q < 1 else 0 for c, q in pairs]
    mins = np.cumsum(takes[::-1])[::-1].tolist() + [0]
    done = [0]
    uniform = _Uniforms(generator, lambda: mins[done[0]] + 1)
    out = np.empty(len(pairs), dt.np)
    for i, (c, q) in enumerate(pairs):
        done[0] = i + 1
        out[i] = _binomial_one(f(c), f(q), uniform, f)
    y = out.reshape(n.shape)
    return _nodiff(y, N_BINOMIAL, count, prob)
