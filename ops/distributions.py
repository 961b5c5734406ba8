"""Gamma sampling with its reparameterized gradient: ``_standard_gamma`` (``StandardGammaBackward0``)
and ``_standard_gamma_grad`` (``StandardGammaGradBackward0``), as PyTorch's ATen functions under
``tape.distributions``' ``Gamma``, ``Chi2``, ``StudentT``, ``Beta`` and ``Dirichlet``.

A standard gamma sample ``x`` of concentration ``alpha`` moves with ``alpha`` as the quantile it is:
``dx/dalpha = -(dP(alpha, x)/dalpha) / p(x; alpha)`` (``P`` the regularized lower incomplete gamma
function, ``p`` the density), the implicit reparameterization gradient.  tape computes it from
``P`` itself (a central difference in ``alpha`` of the numba ``igamma`` of ``ops/_besselfun.py``,
in float64), where PyTorch evaluates approximations of the same function (series, saddle-point
and rational ones), so the two agree to about 1e-4 relative (tests/test_distributions_torch.py).
As in PyTorch, that gradient has no derivative of its own: a second-order gradient through a
gamma sample raises PyTorch's error.  Samples are numpy's ``standard_gamma``, seeded from tape's
generator (reproducible after ``manual_seed``; PyTorch's own sampler draws other numbers).

``_sample_dirichlet`` and ``_dirichlet_grad`` record no row: ``Dirichlet.rsample`` differentiates
through PyTorch's custom Function (``_DirichletBackward``), whose backward reads
``_dirichlet_grad``, the same implicit gradient for each coordinate's Beta marginal, from the
regularized incomplete beta function (a continued fraction) differenced in ``alpha``.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
from numba import njit

from .._emit import D, Tensor, emit, in_parts, plain, state
from ._rule import diagonal, rule_adjoint
from ._spec import OUT, PYTHON, REGISTRY, X0, Op, register, tangents
from ._besselfun import igamma
from .special import PART

STANDARD_GAMMA, STANDARD_GAMMA_GRAD = PYTHON.start + 190, PYTHON.start + 191


def _standard_gamma_vjp(g, xs, y, r):
    return (g * _standard_gamma_grad(xs[0], y),)


def _no_derivative(g, xs, y, r):
    raise NotImplementedError("the derivative for '_standard_gamma_grad' is not implemented.")


register(Op(STANDARD_GAMMA, "_standard_gamma", "StandardGammaBackward0", X0 | OUT, _standard_gamma_vjp,
            py_adjoint=rule_adjoint, node_saved=(("self", X0), ("result", OUT))))
register(Op(STANDARD_GAMMA_GRAD, "_standard_gamma_grad", "StandardGammaGradBackward0", 0, _no_derivative,
            py_adjoint=rule_adjoint, arity=2))
tangents({STANDARD_GAMMA: diagonal(REGISTRY[STANDARD_GAMMA].vjp), STANDARD_GAMMA_GRAD: _no_derivative})


@njit(cache=True, error_model="numpy", nogil=True)
def _gamma_grad_loop(a, x, out):
    for i in range(a.shape[0]):
        al, xi = a[i], x[i]
        h = 1e-5 * al if al > 1e-3 else 1e-8          # (a step that keeps alpha - h positive)
        dp = (igamma(al + h, xi, False) - igamma(al - h, xi, False)) / (2.0 * h)
        density = math.exp((al - 1.0) * math.log(xi) - xi - math.lgamma(al))
        r = -dp / density
        out[i] = 0.0 if math.isnan(r) else r        # (PyTorch's too: 0 where the quotient is undefined)


def _float_input(t: Tensor, what: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{what}(): argument 'self' (position 1) must be Tensor, not {type(t).__name__}")
    if not t._dtype.is_floating_point:
        raise NotImplementedError(f"\"gamma_cpu\" not implemented for '{D.legacy_name(t._dtype)}'")


def _seeded_rng() -> np.random.Generator:
    seed = plain(np.empty(4, np.int64), D.int64).random_(0, 2 ** 62)
    return np.random.default_rng(seed._value().tolist())


def _standard_gamma(self: Tensor, generator: Optional[Any] = None) -> Tensor:
    """Samples from the standard gamma distribution (rate 1) of each element's concentration,
    differentiable in the concentration (the implicit reparameterization gradient)."""
    _float_input(self, "_standard_gamma")
    alpha = self._value()
    with np.errstate(all="ignore"):
        y = _seeded_rng().standard_gamma(np.where(alpha > 0, alpha, np.nan).astype(np.float64))
    y = np.require(np.maximum(y, np.finfo(self._dtype.np).tiny), self._dtype.np, "C")
    y[np.isnan(alpha)] = np.nan
    if state.grad and self._rg:
        return emit(STANDARD_GAMMA, y, self._dtype, self)
    return plain(y, self._dtype)


def _standard_gamma_grad(self: Tensor, output: Tensor) -> Tensor:
    """``d output / d self`` for standard gamma samples ``output`` of concentrations ``self``."""
    _float_input(self, "_standard_gamma_grad")
    a, x = np.broadcast_arrays(self._value(), output._value())
    shape = a.shape
    a = np.ascontiguousarray(a, np.float64).reshape(-1)
    x = np.ascontiguousarray(x, np.float64).reshape(-1)
    out = np.empty(a.shape[0])
    in_parts(lambda lo, hi: _gamma_grad_loop(a[lo:hi], x[lo:hi], out[lo:hi]), out.shape[0], PART)
    y = out.astype(self._dtype.np).reshape(shape)
    if state.grad and (self._rg or output._rg):
        return emit(STANDARD_GAMMA_GRAD, y, self._dtype, self, output)
    return plain(y, self._dtype)


# --- Dirichlet sampling (no rows: PyTorch differentiates it through a custom Function) -------------
@njit(cache=True, error_model="numpy", nogil=True)
def _beta_fraction(a, b, x):
    # the continued fraction of the incomplete beta function, by the modified Lentz method
    tiny = 1e-300
    c = 1.0
    d = 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 20000):
        for aa in (m * (b - m) * x / ((a + 2 * m - 1.0) * (a + 2 * m)),
                   -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1.0))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-16:
            break
    return h


@njit(cache=True, error_model="numpy", nogil=True)
def _betainc(a, b, x):
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(a * math.log(x) + b * math.log1p(-x) - math.lgamma(a) - math.lgamma(b) + math.lgamma(a + b))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


@njit(cache=True, error_model="numpy", nogil=True)
def _dirichlet_grad_loop(x, a, total, out):
    for i in range(x.shape[0]):
        xi, al = x[i], a[i]
        b = total[i] - al
        h = 1e-5 * al if al > 1e-3 else 1e-8
        di = (_betainc(al + h, b, xi) - _betainc(al - h, b, xi)) / (2.0 * h)
        density = math.exp((al - 1.0) * math.log(xi) + (b - 1.0) * math.log1p(-xi) - math.lgamma(al)
                           - math.lgamma(b) + math.lgamma(al + b))
        r = -di / density / (1.0 - xi)
        out[i] = 0.0 if math.isnan(r) else r


def _sample_dirichlet(self: Tensor) -> Tensor:
    """Samples from the Dirichlet distribution of concentrations ``self`` (its last dimension):
    standard gamma samples normalized to sum to 1 (no history)."""
    _float_input(self, "_sample_dirichlet")
    alpha = self._value()
    with np.errstate(all="ignore"):
        g = _seeded_rng().standard_gamma(np.where(alpha > 0, alpha, np.nan).astype(np.float64))
        g = np.maximum(g, np.finfo(np.float64).tiny)
        y = g / g.sum(-1, keepdims=True)
    tiny = np.finfo(self._dtype.np).tiny
    return plain(np.require(np.clip(y, tiny, 1 - np.finfo(self._dtype.np).eps / 2), self._dtype.np, "C"), self._dtype)


def _dirichlet_grad(x: Tensor, alpha: Tensor, total: Tensor) -> Tensor:
    """``-(dI_x(alpha, total - alpha)/dalpha) / p(x) / (1 - x)``, the reparameterization gradient of
    a Beta(alpha, total - alpha) sample ``x`` (``beta`` held), scaled as a Dirichlet's backward
    uses it (no history)."""
    xs, a, t = np.broadcast_arrays(x._value(), alpha._value(), total._value())
    shape = xs.shape
    xs, a, t = (np.ascontiguousarray(v, np.float64).reshape(-1) for v in (xs, a, t))
    out = np.empty(xs.shape[0])
    in_parts(lambda lo, hi: _dirichlet_grad_loop(xs[lo:hi], a[lo:hi], t[lo:hi], out[lo:hi]), out.shape[0], PART)
    return plain(out.astype(x._dtype.np).reshape(shape), x._dtype)
