"""``igamma``/``igammac`` (``tape.special.gammainc``/``gammaincc``), ``tape.special.zeta`` (Hurwitz),
and the functions of ``torch.special`` that PyTorch does not differentiate: the Bessel functions,
Airy's Ai and the orthogonal polynomials (their results never require grad, as PyTorch's).

igamma, igammac and zeta are Python-rule rows: PyTorch differentiates them in their second argument
only (its rule, written here in tape ops, so every order works) and raises for the first.  The
values are the numba functions of ``ops/_besselfun.py`` and ``ops/_specfun.py``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .._emit import D, Tensor, emit, in_parts, plain, state
from ._args import broadcast_pair
from ._rule import diagonal, rule_adjoint
from ._spec import PYTHON, REGISTRY, X0, X1, Op, public, register, tangents
from . import _besselfun as B
from ._specfun import SQRT1_2
from ._specfun import zeta as _zeta_scalar
from .special import PART

IGAMMA, IGAMMAC, ZETA, SCALAR_OP = range(PYTHON.start + 16, PYTHON.start + 20)


def _first_requires(r) -> bool:
    return bool(r.tape.rg[r.inputs[0]])


def _igamma_vjp(upper: bool):
    name = "igammac" if upper else "igamma"

    def vjp(g, xs, y, r):
        """PyTorch's: none in ``self`` (an error), ``+-g exp((a - 1) log x - x - lgamma(a))`` in ``other``."""
        if _first_requires(r):
            raise NotImplementedError(f"the derivative for '{name}: input' is not implemented.")
        a, x = xs
        d = g * ((a - 1.0) * x.log() - x - a.lgamma()).exp()
        return None, -d if upper else d
    return vjp


def _zeta_vjp(g, xs, y, r):
    """PyTorch's: none in ``self`` (an error), ``-g self zeta(self + 1, other)`` in ``other``."""
    if _first_requires(r):
        raise NotImplementedError("the derivative for 'zeta' is not implemented.")
    s, q = xs
    return None, -(g * s * zeta(s + 1.0, q))


def _jvp(vjp, name: str):
    """The tangent in the second argument (PyTorch's forward AD has none: it raises for both); PyTorch's
    forward-AD error for a tangent of the first."""
    def jvp(ts, xs, y, r):
        if ts[0] is not None:
            raise NotImplementedError(
                f"Trying to use forward AD with {name} that does not support it because it has not been implemented "
                "yet.\nPlease file an issue to PyTorch at https://github.com/pytorch/pytorch/issues/new?template="
                "feature-request.yml so that we can prioritize its implementation or submit a PR adding the "
                "implementation to derivatives.yaml")
        t = ts[1] if ts[1]._shape == y._shape else ts[1].expand(y._shape)
        return vjp(t, xs, y, r)[1]
    return jvp


_ZETA_NAMES = ("SpecialZetaBackward0", "SpecialZetaBackward1", "SpecialZetaBackward2")
_BOTH = (("other", X1), ("self", X0))
register(Op(IGAMMA, "igamma", "IgammaBackward0", X0 | X1, _igamma_vjp(False), py_adjoint=rule_adjoint, arity=2,
            node_saved=_BOTH))
register(Op(IGAMMAC, "igammac", "IgammacBackward0", X0 | X1, _igamma_vjp(True), py_adjoint=rule_adjoint, arity=2,
            node_saved=_BOTH))
# ``ib``: which operand was a Python number, 1 for self, 2 for other, as PyTorch numbers the nodes; its
# node shows a number ``self`` as a number, and saves nothing when ``other`` is one.
_ZETA_SAVED = (_BOTH, (("other", X1), ("self", lambda r: float(r.tape.value_of(r.inputs[0])))), ())
register(Op(ZETA, "special_zeta", "SpecialZetaBackward0", X0 | X1, _zeta_vjp, py_adjoint=rule_adjoint, arity=2,
            grad_fn_of=lambda r: _ZETA_NAMES[r.ib], nondiff_of=lambda r: {0: (), 1: (0,), 2: (1,)}[r.ib],
            node_saved=lambda r: _ZETA_SAVED[r.ib]))
tangents({code: _jvp(REGISTRY[code].vjp, name) for code, name in ((IGAMMA, "igamma"), (IGAMMAC, "igammac"),
                                                                    (ZETA, "special_zeta"))})


# ``x * c`` and ``x + c`` for a number c as PyTorch's C++ compositions record them (``ndtr``'s): through the
# Scalar overloads, whose nodes are MulBackward1 (showing c) and AddBackward1 (``ib`` 0 and 1).
_SCALAR_NAMES = ("MulBackward1", "AddBackward1")
register(Op(SCALAR_OP, "mul", "MulBackward1", 0, lambda g, x, y, r: (g * r.fa if r.ib == 0 else g,),
            py_adjoint=rule_adjoint, grad_fn_of=lambda r: _SCALAR_NAMES[r.ib],
            node_saved=lambda r: (("other", lambda r: r.fa),) if r.ib == 0 else ()))
tangents({SCALAR_OP: diagonal(REGISTRY[SCALAR_OP].vjp)})


def scalar_op(x: Tensor, c: float, add: bool) -> Tensor:
    """``x + c`` (``add``) or ``x * c`` behind PyTorch's Scalar-overload node (floating ``x``)."""
    v = x._value()
    y = np.asarray(v + c if add else v * c, x._dtype.np)
    if state.grad and x._rg:
        return emit(SCALAR_OP, y, x._dtype, x, ib=int(add), fa=float(c))
    return plain(y, x._dtype)


def ndtr(x: Tensor) -> Tensor:
    """The standard normal distribution function, ``(1 + erf(x / sqrt 2)) * 0.5`` as PyTorch composes it."""
    x = x if x._dtype.is_floating_point else x.to(D.get_default_dtype())
    return scalar_op(scalar_op(scalar_op(x, SQRT1_2, False).erf(), 1.0, True), 0.5, False)


@njit(cache=True, error_model="numpy", nogil=True)
def _zeta_loop(s, q, out):
    for i in range(s.shape[0]):
        out[i] = _zeta_scalar(s[i], q[i])


def _pairwise(loop, va: np.ndarray, vb: np.ndarray, dt: D.dtype) -> np.ndarray:
    """``loop(a, b, out)`` over the broadcast operands, in float64 for float32 (one rounding), in parts."""
    a, b = np.broadcast_arrays(va, vb)
    shape = a.shape
    a = np.ascontiguousarray(a, np.float64).reshape(-1)
    b = np.ascontiguousarray(b, np.float64).reshape(-1)
    out = np.empty(a.shape[0])
    in_parts(lambda lo, hi: loop(a[lo:hi], b[lo:hi], out[lo:hi]), out.shape[0], PART)
    return out.astype(dt.np).reshape(shape)


# --- igamma, igammac ---------------------------------------------------------------------------
def _igamma(a: Tensor, x, upper: bool) -> Tensor:
    name = "igammac" if upper else "igamma"
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'other' (position 1) must be Tensor, not {type(x).__name__}")
    dt = D.result_type(a, x)
    if not dt.is_floating_point:
        raise NotImplementedError(f'"{name}_cpu" not implemented for \'{D.legacy_name(dt)}\'')
    broadcast_pair(a._shape, x._shape)
    y = _pairwise(lambda p, q, o: B.igamma_loop(upper, p, q, o), a._value(), x._value(), dt)
    if state.grad and (a._rg or x._rg):
        return emit(IGAMMAC if upper else IGAMMA, y, dt, a.to(dt), x.to(dt))
    return plain(y, dt)


@public("igamma")
def igamma(self, other: Tensor) -> Tensor:
    """The regularized lower incomplete gamma function P(self, other) of each pair of elements."""
    return _igamma(self, other, False)


@public("igammac")
def igammac(self, other: Tensor) -> Tensor:
    """The regularized upper incomplete gamma function Q(self, other) = 1 - P(self, other)."""
    return _igamma(self, other, True)


def gammainc(input: Tensor, other: Tensor) -> Tensor:
    """The regularized lower incomplete gamma function (``tape.igamma``)."""
    return _igamma(_input(input, "gammainc"), other, False)


def gammaincc(input: Tensor, other: Tensor) -> Tensor:
    """The regularized upper incomplete gamma function (``tape.igammac``)."""
    return _igamma(_input(input, "gammaincc"), other, True)


# --- zeta ----------------------------------------------------------------------------------------
def _two(name: str, a, b):
    """Two operands of which one may be a Python number: ``(dtype, a, b, ib)`` with the number made a
    0-d tensor of the result's dtype (the default float dtype for integers); ``ib`` as PyTorch's nodes."""
    if not (isinstance(a, Tensor) or isinstance(b, Tensor)) or not all(isinstance(v, (Tensor, int, float)) for v in (a, b)):
        raise TypeError(f"special_{name}() received an invalid combination of arguments - got "
                        f"({type(a).__name__}, {type(b).__name__})")
    dt = D.result_type(a, b)
    if not dt.is_floating_point:
        dt = D.get_default_dtype()
    ib = 1 if not isinstance(a, Tensor) else (2 if not isinstance(b, Tensor) else 0)
    a = a.to(dt) if isinstance(a, Tensor) else plain(np.asarray(a, dt.np), dt)
    b = b.to(dt) if isinstance(b, Tensor) else plain(np.asarray(b, dt.np), dt)
    broadcast_pair(a._shape, b._shape)
    return dt, a, b, ib


def zeta(input, other) -> Tensor:
    """The Hurwitz zeta function ``sum_k (other + k) ** -input`` of each pair of elements (either may
    be a number)."""
    dt, s, q, ib = _two("zeta", input, other)
    y = _pairwise(_zeta_loop, s._value(), q._value(), dt)
    if state.grad and (s._rg or q._rg):
        return emit(ZETA, y, dt, s, q, ib=ib)
    return plain(y, dt)


# --- the functions without a derivative ----------------------------------------------------------
def _input(x, name: str, arg: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"special_{name}(): argument '{arg}' (position 1) must be Tensor, not {type(x).__name__}")
    return x


def _unary(name: str, code: int, doc: str, method: str = "", arg: str = "input"):
    """A function of one tensor (its parameter named ``arg``, as PyTorch names it) computed by
    ``unary_loop``'s ``code`` (or by the Tensor ``method`` of the same value), without a derivative."""
    def compute(x) -> Tensor:
        x = _input(x, name, arg)
        dt = x._dtype if x._dtype.is_floating_point else D.get_default_dtype()
        if method:
            return plain(getattr(x.detach().to(dt), method)()._value(), dt)
        v = np.ascontiguousarray(x._value(), np.float64).reshape(-1)
        y = np.empty(v.shape[0])
        in_parts(lambda lo, hi: B.unary_loop(code, v[lo:hi], y[lo:hi]), v.shape[0], PART)
        return plain(y.astype(dt.np).reshape(x._shape), dt)

    if arg == "x":
        def fn(x: Tensor) -> Tensor:
            return compute(x)
    else:
        def fn(input: Tensor) -> Tensor:
            return compute(input)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


bessel_j0 = _unary("bessel_j0", B.J0, "The Bessel function of the first kind of order 0 of each element.")
bessel_j1 = _unary("bessel_j1", B.J1, "The Bessel function of the first kind of order 1 of each element.")
bessel_y0 = _unary("bessel_y0", B.Y0, "The Bessel function of the second kind of order 0 of each element.")
bessel_y1 = _unary("bessel_y1", B.Y1, "The Bessel function of the second kind of order 1 of each element.")
modified_bessel_i0 = _unary("modified_bessel_i0", -1,
                            "The modified Bessel function of the first kind of order 0 of each element.", "i0")
modified_bessel_i1 = _unary("modified_bessel_i1", -1,
                            "The modified Bessel function of the first kind of order 1 of each element.", "_i1")
modified_bessel_k0 = _unary("modified_bessel_k0", B.MOD_K0,
                            "The modified Bessel function of the second kind of order 0 of each element.")
modified_bessel_k1 = _unary("modified_bessel_k1", B.MOD_K1,
                            "The modified Bessel function of the second kind of order 1 of each element.")
scaled_modified_bessel_k0 = _unary("scaled_modified_bessel_k0", B.SCALED_K0,
                                   "``exp(x) K0(x)`` for each element.")
scaled_modified_bessel_k1 = _unary("scaled_modified_bessel_k1", B.SCALED_K1,
                                   "``exp(x) K1(x)`` for each element.")
spherical_bessel_j0 = _unary("spherical_bessel_j0", B.SPHERICAL_J0,
                             "The spherical Bessel function of the first kind of order 0, ``sin(x) / x``, of each element.",
                             arg="x")
airy_ai = _unary("airy_ai", B.AIRY_AI, "Airy's function Ai of each element.", arg="x")


def _polynomial(name: str, kind: int, doc: str):
    def fn(x, n) -> Tensor:
        dt, x, k, _ = _two(name, x, n)
        vx, vn = np.broadcast_arrays(x._value(), k._value())
        shape = vx.shape
        vx = np.ascontiguousarray(vx).reshape(-1)
        vn = np.ascontiguousarray(vn).reshape(-1)
        y = np.empty(vx.shape[0], dt.np)
        in_parts(lambda lo, hi: B.polynomial_loop(kind, vx[lo:hi], vn[lo:hi], y[lo:hi]), y.shape[0], PART)
        return plain(y.reshape(shape), dt)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc + " (``n`` truncated to an integer; 0 for a negative ``n``)."
    return fn


chebyshev_polynomial_t = _polynomial("chebyshev_polynomial_t", B.CHEB_T,
                                     "The Chebyshev polynomial of the first kind T_n at each element")
chebyshev_polynomial_u = _polynomial("chebyshev_polynomial_u", B.CHEB_U,
                                     "The Chebyshev polynomial of the second kind U_n at each element")
chebyshev_polynomial_v = _polynomial("chebyshev_polynomial_v", B.CHEB_V,
                                     "The Chebyshev polynomial of the third kind V_n at each element")
chebyshev_polynomial_w = _polynomial("chebyshev_polynomial_w", B.CHEB_W,
                                     "The Chebyshev polynomial of the fourth kind W_n at each element")
shifted_chebyshev_polynomial_t = _polynomial("shifted_chebyshev_polynomial_t", B.SCHEB_T,
                                             "The shifted Chebyshev polynomial T*_n(x) = T_n(2x - 1) at each element")
shifted_chebyshev_polynomial_u = _polynomial("shifted_chebyshev_polynomial_u", B.SCHEB_U,
                                             "The shifted Chebyshev polynomial U*_n(x) = U_n(2x - 1) at each element")
shifted_chebyshev_polynomial_v = _polynomial("shifted_chebyshev_polynomial_v", B.SCHEB_V,
                                             "The shifted Chebyshev polynomial V*_n(x) = V_n(2x - 1) at each element")
shifted_chebyshev_polynomial_w = _polynomial("shifted_chebyshev_polynomial_w", B.SCHEB_W,
                                             "The shifted Chebyshev polynomial W*_n(x) = W_n(2x - 1) at each element")
hermite_polynomial_h = _polynomial("hermite_polynomial_h", B.HERMITE_H,
                                   "The physicists' Hermite polynomial H_n at each element")
hermite_polynomial_he = _polynomial("hermite_polynomial_he", B.HERMITE_HE,
                                    "The probabilists' Hermite polynomial He_n at each element")
laguerre_polynomial_l = _polynomial("laguerre_polynomial_l", B.LAGUERRE_L, "The Laguerre polynomial L_n at each element")
legendre_polynomial_p = _polynomial("legendre_polynomial_p", B.LEGENDRE_P, "The Legendre polynomial P_n at each element")
