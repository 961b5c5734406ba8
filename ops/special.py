"""Pointwise special functions: the gamma family (lgamma, digamma, polygamma, mvlgamma), sinc, the
modified Bessel functions i0, i0e, i1, i1e, and the functions of ``torch.special`` (erfcx, ndtri,
log_ndtr, ndtr, entr, xlog1py).

Elementwise rows of the UNARY and BINARY families: their values and derivatives at one element are
the numba functions of ``ops/_specfun.py``, which the family kernels of ``ops/elementwise.py`` call
for these codes; the numpy face is a compiled loop of the same function, run in parts on all cores
for big arrays.  The derivative rules are PyTorch's, written with tape ops (so every order works);
the private methods ``_i1``, ``_i0e``, ``_i1e`` are the Bessel functions the rules need that PyTorch
keeps out of the Tensor methods.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .._emit import Tensor, emit, in_parts, plain, state
from . import _specfun as SF
from ._args import laid_out_like
from ._specfun import (DIGAMMA, ENTR, ERFCX, FMAX, FMIN, I0, I0E, I1, I1E, LGAMMA, LOG_NDTR, MVLGAMMA, NDTRI,
                       POLYGAMMA, SINC, XLOG1PY)
from ._rule import diagonal
from ._spec import OUT, REGISTRY, X0, X1, public, public_function, tangents
from .elementwise import (ATTR_FORWARD, ATTR_PARAMS, M_INRANGE, M_NONPOS, M_NONZERO, M_NOT_OUTSIDE, M_ZERO, ONE_ELEMENT, _b2,
                          _catalogue_binary, _floating, _u, _unary, _with_wrapped)

PART = 1 << 14      # (elements per core at least: these cost tens of ns each)


@njit(cache=True, error_model="numpy", nogil=True)
def _loop(code, ia, x, out):
    for i in range(x.shape[0]):
        out[i] = SF.special_f(code, x[i], x[i], x[i], ia)


@njit(cache=True, error_model="numpy", nogil=True)
def _loop2(code, a, b, out):
    for i in range(a.shape[0]):
        out[i] = SF.special_bf(code, a[i], b[i])


def _forward(code: int, ia: int = 0) -> np.ndarray:
    """The numpy face: the compiled function over the array, in parts on all cores when big."""
    def forward(x):
        x = np.asarray(x)
        out = np.empty(x.shape, x.dtype)
        flat, o = np.ascontiguousarray(x).reshape(-1), out.reshape(-1)
        in_parts(lambda lo, hi: _loop(code, ia, flat[lo:hi], o[lo:hi]), flat.shape[0], PART)
        return laid_out_like(x, out)
    return forward


def _scalar(code: int):
    return lambda f: float(SF.special_f(code, float(f), 0.0, 0.0, 0))


def _forward2(code: int):
    """The numpy face of a binary row: the compiled function over the broadcast operands, in parts."""
    def forward(a, b):
        a, b = np.broadcast_arrays(a, b)
        dt = np.result_type(a, b)
        out = np.empty(a.shape, dt)
        fa, fb = np.ascontiguousarray(a, dt).reshape(-1), np.ascontiguousarray(b, dt).reshape(-1)
        o = out.reshape(-1)
        in_parts(lambda lo, hi: _loop2(code, fa[lo:hi], fb[lo:hi], o[lo:hi]), o.shape[0], PART)
        return out
    return forward


def _nonzero(x):
    return x._mask(M_NONZERO, constant=True)     # (a constant: no graph, as PyTorch's masks)


def _tiny(x, r):
    """(1 where |x| <= eps, x there replaced by eps): PyTorch's i1 and i1e derivatives take 0.5 for
    the tiny x, and compute the formula (whose terms reach higher orders) at eps, the row's ``fa``."""
    tiny = x._mask(M_NOT_OUTSIDE, -r.fa, r.fa, constant=True)     # (nan too: not |x| > eps)
    return tiny, x._masked(1.0 - tiny) + tiny * r.fa


def _i1_vjp(g, x, y, r):
    """where(|x| > eps, i0(x) - y / x, 0.5)."""
    tiny, safe = _tiny(x[0], r)
    return (g * ((safe.i0() - y / safe)._masked(1.0 - tiny) + tiny * 0.5),)


def _i1e_vjp(g, x, y, r):
    """where(|x| > eps, i0e(x) - y (sgn(x) + 1 / x), 0.5)."""
    tiny, safe = _tiny(x[0], r)
    return (g * ((safe._i0e() - y * (safe.sgn() + safe.reciprocal()))._masked(1.0 - tiny) + tiny * 0.5),)


def _sinc_vjp(g, x, y, r):
    """(pi x cos(pi x) - sin(pi x)) / (pi x^2), 0 at x == 0 (PyTorch's masked_fill) and where pi x^2
    underflows (PyTorch's 0 / 0 there is nan)."""
    t = x[0] * math.pi
    d = t * x[0]
    nz = _nonzero(d)
    return (g * ((t * t.cos() - t.sin()) / (d + (1.0 - nz)))._masked(nz),)


def _mvlgamma_vjp(g, x, y, r):
    d = x[0].digamma()
    for j in range(1, r.ia):
        d = d + (x[0] - 0.5 * j).digamma()
    return (g * d,)


# Bounds between faces (``Op.ulps``): the numpy face is the kernel's own function, so values agree
# exactly; adjoints round each function value to the row's dtype as the rule does, and differ where
# libm's float32 cos and sin meet numpy's (sinc).
SAME = (0, (0, 0), (0, 0))
_u(LGAMMA, "lgamma", "LgammaBackward0", X0, _forward(LGAMMA), _scalar(LGAMMA),
   lambda g, x, y, r: (g * x[0].digamma(),), ulps=SAME, numpy_rows=True)
_u(DIGAMMA, "digamma", "DigammaBackward0", X0, _forward(DIGAMMA), _scalar(DIGAMMA),
   lambda g, x, y, r: (g * x[0].polygamma(1),), ulps=SAME, numpy_rows=True)
# polygamma: n in ``ia`` (and ``fa``, which the adjoint kernel sees); mvlgamma: p likewise.
_u(POLYGAMMA, "polygamma", "PolygammaBackward0", X0, None, None,
   lambda g, x, y, r: (g * x[0].polygamma(r.ia + 1),), numpy_rows=True,
   node_saved=(("n", lambda r: r.ia), ("self", X0)))
_u(MVLGAMMA, "mvlgamma", "MvlgammaBackward0", X0, None, None, _mvlgamma_vjp, numpy_rows=True,
   node_saved=(("p", lambda r: r.ia), ("self", X0)))
_u(SINC, "sinc", "SincBackward0", X0, _forward(SINC), _scalar(SINC), _sinc_vjp, ulps=(0, (0, 0), (0, 64)),
   numpy_rows=True)
_u(I0, "i0", "I0Backward0", X0, _forward(I0), _scalar(I0), lambda g, x, y, r: (g * x[0]._i1(),), ulps=SAME,
   numpy_rows=True)
_u(I0E, "_i0e", "SpecialI0EBackward0", X0 | OUT, _forward(I0E), _scalar(I0E),
   lambda g, x, y, r: (g * (x[0]._i1e() - x[0].sgn() * y),), ulps=SAME, numpy_rows=True)
_u(I1, "_i1", "SpecialI1Backward0", X0 | OUT, _forward(I1), _scalar(I1), _i1_vjp, ulps=SAME, numpy_rows=True)
_u(I1E, "_i1e", "SpecialI1EBackward0", X0 | OUT, _forward(I1E), _scalar(I1E), _i1e_vjp, ulps=SAME,
   numpy_rows=True)
_u(ERFCX, "_erfcx", "SpecialErfcxBackward0", X0 | OUT, _forward(ERFCX), _scalar(ERFCX),
   lambda g, x, y, r: (g * ((x[0] * y) * 2.0 - 2.0 * SF.RSQRT_PI),), ulps=SAME, numpy_rows=True)
_u(NDTRI, "_ndtri", "SpecialNdtriBackward0", OUT, _forward(NDTRI), _scalar(NDTRI),
   lambda g, x, y, r: (g * ((y * y * 0.5).exp() * SF.SQRT_2PI),), ulps=(0, (0, 0), (2, 4)), numpy_rows=True)
_u(LOG_NDTR, "_log_ndtr", "SpecialLogNdtrBackward0", X0 | OUT, _forward(LOG_NDTR), _scalar(LOG_NDTR),
   lambda g, x, y, r: (g * ((-(y + x[0] * x[0] * 0.5)).exp() / SF.SQRT_2PI),), ulps=(0, (0, 0), (2, 4)),
   numpy_rows=True)
_u(ENTR, "_entr", "SpecialEntrBackward0", X0, _forward(ENTR), _scalar(ENTR),
   lambda g, x, y, r: (g * -(x[0].log() + 1.0),), ulps=(0, (0, 0), (2, 4)), numpy_rows=True)
_b2(XLOG1PY, "xlog1py", "SpecialXlog1PyBackward0", X0 | X1, _forward2(XLOG1PY),
    lambda a, b: float(SF.xlog1py(a, b)),
    lambda g, x, y, r: _xlog1py_vjp(g, x), (0, (0, 0), (2, 4)), number_name="SpecialXlog1PyBackward2",
    rnumber_name="SpecialXlog1PyBackward1")


def _xlog1py_vjp(g, x):
    """PyTorch's: xlog1py(g, b) masked to 0 where a == 0 and b <= -1 (g's zeros give 0 unless b is nan),
    and g a / (b + 1)."""
    a, b = x
    not_taken = (1.0 - g._mask(M_NONZERO, constant=True)) * b._mask(M_INRANGE, -math.inf, math.inf, constant=True)
    filled = a._mask(M_ZERO, constant=True) + (1.0 - a._mask(M_NONZERO, constant=True)) * (b + 1.0)._mask(
        M_NONPOS, constant=True)
    return (g * b.log1p())._masked((1.0 - not_taken) * (1.0 - filled)), g * a / (b + 1.0)


def _first_vjp(code: int):
    """fmax's and fmin's: all of g to the operand the value came from, a on a tie or when b is nan."""
    def vjp(g, x, y, r):
        a, b = x[0]._value(), x[1]._value()
        taken = (a >= b if code == FMAX else a <= b) | np.isnan(b)
        first = plain(np.broadcast_to(taken, g._shape).astype(g._dtype.np), g._dtype)
        return g._masked(first), g._masked(1.0 - first)
    return vjp


for _code, _name in ((FMAX, "fmax"), (FMIN, "fmin")):
    _b2(_code, _name, _name.capitalize() + "Backward0", X0 | X1, _forward2(_code),
        (lambda c: lambda a, b: float(SF.special_bf(c, float(a), float(b))))(_code), _first_vjp(_code),
        (0, (0, 0), (0, 0)), numpy_rows=False)

ATTR_FORWARD[POLYGAMMA] = lambda x, fa, fb, ia: _forward(POLYGAMMA, ia)(x)
ATTR_FORWARD[MVLGAMMA] = lambda x, fa, fb, ia: _forward(MVLGAMMA, ia)(x)
ATTR_PARAMS[POLYGAMMA] = [(float(n), 0.0, n) for n in (0, 1, 2, 3, 6)]
ATTR_PARAMS[MVLGAMMA] = [(float(p), 0.0, p) for p in (1, 2, 5)]
for _code in (LGAMMA, DIGAMMA, POLYGAMMA, MVLGAMMA, SINC, I0, I0E, I1, I1E, ERFCX, NDTRI, LOG_NDTR, ENTR, XLOG1PY, FMAX,
              FMIN):
    ONE_ELEMENT[_code] = True
tangents({XLOG1PY: diagonal(lambda g, x, y, r: _xlog1py_vjp(g, x))})


# --- front ends -------------------------------------------------------------------------------------
@public("lgamma")
def lgamma(self) -> Tensor:
    """The natural logarithm of the absolute value of the gamma function of each element."""
    return _unary(self, LGAMMA)


@public("digamma")
def digamma(self) -> Tensor:
    """The logarithmic derivative of the gamma function of each element (-inf at 0, nan at the
    negative integers)."""
    return _unary(self, DIGAMMA)


def _with_int(x: Tensor, code: int, k: int, ib: int = 0) -> Tensor:
    x = _floating(x)
    y = np.asarray(_forward(code, k)(x._value()), x._dtype.np)
    if x._rg and state.grad:
        return emit(code, y, x._dtype, x, ia=k, ib=ib, fa=float(k))
    return plain(y, x._dtype)


def _int_arg(value, fn: str, name: str, position: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be int, not {type(value).__name__}")
    return int(value)


@public("polygamma", function=False)
def polygamma_method(self, n: int) -> Tensor:
    """The ``n``-th derivative of digamma at each element."""
    n = _int_arg(n, "polygamma", "n", 1)
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return _with_int(self, POLYGAMMA, n)


@public("polygamma_", function=False)
def polygamma_(self, n: int) -> Tensor:
    """In-place version of :meth:`Tensor.polygamma` (its node is PyTorch's ``PolygammaBackward1``)."""
    n = _int_arg(n, "polygamma_", "n", 1)
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    self._check_inplace()
    return self._inplace(_with_int(self, POLYGAMMA, n, ib=1))


# polygamma_ records its row with ``ib`` = 1: PyTorch names the in-place node PolygammaBackward1.
object.__setattr__(REGISTRY[POLYGAMMA], "grad_fn_of", lambda r: "PolygammaBackward1" if r.ib else "PolygammaBackward0")


@public_function("polygamma")
def polygamma(n: int, input: Tensor) -> Tensor:
    """``tape.polygamma(n, input)``: the ``n``-th derivative of digamma at each element."""
    n = _int_arg(n, "polygamma", "n", 1)
    if not isinstance(input, Tensor):
        raise TypeError(f"polygamma(): argument 'input' (position 2) must be Tensor, not {type(input).__name__}")
    return input.polygamma(n)


@public("mvlgamma")
def mvlgamma(self, p: int) -> Tensor:
    """The multivariate log-gamma function of dimension ``p`` of each element."""
    p = _int_arg(p, "mvlgamma", "p", 1)
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    return _with_int(self, MVLGAMMA, p)


@public("sinc")
def sinc(self) -> Tensor:
    """The normalized sinc function ``sin(pi x) / (pi x)`` of each element (1 at 0)."""
    return _unary(self, SINC)


@public("i0")
def i0(self) -> Tensor:
    """The modified Bessel function of the first kind, order 0, of each element."""
    return _unary(self, I0)


def _private(code: int):
    def method(self) -> Tensor:
        return _unary(self, code)
    return method


def _with_eps(code: int):
    """i1 and i1e: the row keeps the dtype's epsilon (``fa``) for the derivative."""
    def method(self) -> Tensor:
        x = _floating(self)
        y = np.asarray(REGISTRY[code].forward(x._value()), x._dtype.np)
        if x._rg and state.grad:
            return emit(code, y, x._dtype, x, fa=float(np.finfo(x._dtype.np).eps))
        return plain(y, x._dtype)
    return method


for _name, _code in (("_i0e", I0E), ("_erfcx", ERFCX), ("_ndtri", NDTRI), ("_log_ndtr", LOG_NDTR), ("_entr", ENTR)):
    public(_name)(_private(_code))
public("_i1")(_with_eps(I1))
public("_i1e")(_with_eps(I1E))


@public("fmax")
def fmax(self, other: Tensor) -> Tensor:
    """The larger of ``self`` and ``other`` at each element, ignoring a nan (nan only where both are)."""
    return _catalogue_binary(self, other, FMAX, floating=False)


@public("fmin")
def fmin(self, other: Tensor) -> Tensor:
    """The smaller of ``self`` and ``other`` at each element, ignoring a nan (nan only where both are)."""
    return _catalogue_binary(self, other, FMIN, floating=False)


def xlog1py(input, other) -> Tensor:
    """``input * log1p(other)``, 0 where ``input`` is 0 (unless ``other`` is nan); either may be a number."""
    if isinstance(input, Tensor):
        return _catalogue_binary(input, other, XLOG1PY, numbers=True)
    if not isinstance(other, Tensor):
        raise TypeError(f"special_xlog1py() received an invalid combination of arguments - got "
                        f"({type(input).__name__}, {type(other).__name__})")
    return _with_wrapped(input, other, XLOG1PY, True)
