"""Special functions (``ops/special.py``, ``ops/_specfun.py``, ``tape.special``): accuracy against
references (``math.lgamma``, mpmath where installed) and identities, edge values, errors, and values,
gradients, node names and errors against PyTorch where it is installed.

Accuracy stated in the README ("Special functions") is what these tests pin."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tape
import tape.special
from tape.ops import _specfun as SF

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

RNG = np.random.default_rng(7)
GRID = np.concatenate([RNG.uniform(-20, 20, 400), RNG.uniform(0, 3, 200), 10.0 ** RNG.uniform(-5, 5, 200)])


def _ulps(a, b) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d = np.abs(a - b) / np.maximum(np.spacing(np.abs(b)), 5e-324)
    d[(a == b) | (np.isnan(a) & np.isnan(b))] = 0.0
    return d


def _each(f, xs):
    return np.array([f(float(v)) for v in xs])


# --- accuracy against references ---------------------------------------------------------------
def test_lgamma_against_math():
    xs = GRID[GRID > 0]
    np.testing.assert_allclose(tape.lgamma(tape.tensor(xs, dtype=tape.float64)).numpy(),
                               [math.lgamma(v) for v in xs], rtol=1e-14, atol=1e-14)


def test_digamma_identities():
    """psi(x + 1) = psi(x) + 1/x, psi(1) = -Euler's gamma, and the reflection formula."""
    xs = GRID[(GRID > 0.5) & (GRID < 1e4)]
    d = _each(SF.digamma, xs)
    np.testing.assert_allclose(_each(SF.digamma, xs + 1.0), d + 1.0 / xs, rtol=1e-13, atol=1e-13)
    assert abs(SF.digamma(1.0) + 0.5772156649015329) < 2e-16
    assert abs(SF.digamma(2.0) - 0.42278433509846713) < 3e-16     # (2 ulps, as PyTorch's)
    xs = RNG.uniform(0.05, 0.95, 50)
    np.testing.assert_allclose(_each(SF.digamma, 1.0 - xs) - _each(SF.digamma, xs), math.pi / np.tan(math.pi * xs),
                               rtol=1e-12)


def test_zeta_and_polygamma_known_values():
    assert abs(SF.zeta(2.0, 1.0) - math.pi ** 2 / 6) < 4e-16
    assert abs(SF.zeta(4.0, 1.0) - math.pi ** 4 / 90) < 5e-16
    assert abs(SF.polygamma(1, 0.5) - math.pi ** 2 / 2) < 1e-9 * math.pi ** 2 / 2    # (PyTorch's trigamma)
    assert abs(SF.polygamma(2, 1.0) + 2 * 1.2020569031595942) < 1e-15
    # psi'(x) = psi'(x + 1) + 1 / x^2, psi''(x) = psi''(x + 1) - 2 / x^3 (zeta's)
    xs = RNG.uniform(0.1, 50, 100)
    np.testing.assert_allclose(_each(SF.trigamma, xs), _each(SF.trigamma, xs + 1) + 1 / xs ** 2, rtol=1e-9)
    np.testing.assert_allclose(_each(lambda v: SF.polygamma(2, v), xs) + 2 / xs ** 3,
                               _each(lambda v: SF.polygamma(2, v + 1), xs), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(_each(lambda v: SF.zeta(2.0, v), xs), _each(SF.trigamma, xs), rtol=1e-9)


def test_bessel_against_mpmath():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    xs = np.concatenate([RNG.uniform(-40, 40, 300), [0.0, 1e-8, 29.99, 30.01, 700.0]])
    for nu, scaled in ((0, False), (1, False), (0, True), (1, True)):
        ref = [float(mpmath.besseli(nu, v) * (mpmath.exp(-abs(v)) if scaled else 1)) for v in xs]
        got = _each(lambda v: SF.bessel_i(v, nu, scaled), xs)
        assert _ulps(got, ref).max() <= 16, (nu, scaled)


def test_normal_functions_against_mpmath():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    xs = np.concatenate([RNG.uniform(-30, 30, 300), [-26.5, 26.5, 0.0, -1.0, 5.0]])
    ref = [float(mpmath.exp(mpmath.mpf(v) ** 2) * mpmath.erfc(v)) for v in xs]
    assert _ulps(_each(SF.erfcx, xs), ref).max() <= 8
    ref = [float(mpmath.log(mpmath.ncdf(v)) if v < 0 else mpmath.log1p(-mpmath.ncdf(-v))) for v in xs]
    assert _ulps(_each(SF.log_ndtr, xs), ref).max() <= 8
    mpmath.mp.dps = 80      # (1 - 2p keeps p's digits)
    ps = np.concatenate([RNG.uniform(0, 1, 300), 10.0 ** RNG.uniform(-30, -1, 100)])
    ref = [float(-mpmath.sqrt(2) * mpmath.erfinv(1 - 2 * mpmath.mpf(p))) for p in ps]
    assert _ulps(_each(SF.ndtri, ps), ref).max() <= 8
    # deep in the tail: the round trip through log ndtr
    ps = 10.0 ** RNG.uniform(-300, -30, 100)
    np.testing.assert_allclose(_each(lambda p: SF.log_ndtr(SF.ndtri(p)), ps), np.log(ps), rtol=4e-16)


def test_edges():
    inf, nan = math.inf, math.nan
    x = tape.tensor([0.0, -0.0, -1.0, inf, -inf, nan], dtype=tape.float64)
    np.testing.assert_array_equal(x.digamma().numpy(), [-inf, inf, nan, inf, nan, nan])
    np.testing.assert_array_equal(x.lgamma().numpy(), [inf, inf, inf, inf, inf, nan])
    np.testing.assert_array_equal(x.i0().numpy(), [1.0, 1.0, SF.bessel_i(-1.0, 0, False), nan, nan, nan])
    np.testing.assert_array_equal(tape.special.ndtri(tape.tensor([0.0, 1.0, -0.5, 0.5])).numpy(),
                                  [-inf, inf, nan, 0.0])
    np.testing.assert_array_equal(tape.special.entr(tape.tensor([0.0, -1.0, 1.0])).numpy(), [0.0, -inf, -0.0])
    assert tape.sinc(tape.tensor(0.0)).item() == 1.0


def test_dtypes_and_forms():
    i = tape.tensor([1, 2, 3])
    assert i.lgamma().dtype == tape.float32 and tape.polygamma(1, i).dtype == tape.float32
    assert tape.mvlgamma(i + 3, 2).dtype == tape.float32
    x = tape.tensor([0.5, 2.0], dtype=tape.float64)
    y = x.clone()
    assert y.polygamma_(1) is y and np.allclose(y.numpy(), tape.polygamma(1, x).numpy())
    assert tape.sinc_(x.clone()).dtype == tape.float64
    np.testing.assert_array_equal(tape.special.psi(x).numpy(), x.digamma().numpy())
    np.testing.assert_array_equal(tape.special.multigammaln(x + 2, 2).numpy(), (x + 2).mvlgamma(p=2).numpy())


def test_errors():
    x = tape.tensor([1.0])
    with pytest.raises(RuntimeError, match=r"^polygamma\(n, x\) does not support negative n\.$"):
        tape.polygamma(-1, x)
    with pytest.raises(TypeError, match=r"argument 'n' \(position 1\) must be int, not float"):
        tape.polygamma(1.0, x)
    with pytest.raises(RuntimeError, match="^p has to be greater than or equal to 1$"):
        x.mvlgamma(0)
    with pytest.raises(AttributeError, match="^module 'tape.special' has no attribute 'zeta2'$"):
        tape.special.zeta2


def test_big_rows_in_parts_match_one_block():
    """The numpy face runs in parts on all cores: the same bits as one call of the kernel."""
    from tape.ops import REGISTRY
    from tape.ops.special import _loop
    x = np.linspace(-30, 30, 300_001)
    out = np.empty_like(x)
    for code in (SF.LGAMMA, SF.DIGAMMA, SF.I0, SF.ERFCX):
        _loop(code, 0, x, out)
        np.testing.assert_array_equal(REGISTRY[code].forward(x), out)


# --- against PyTorch ------------------------------------------------------------------------------
UNARY = {
    "lgamma": (lambda M, x: M.lgamma(x), (-4.0, 12.0)),
    "digamma": (lambda M, x: M.digamma(x), (-4.0, 12.0)),
    "polygamma1": (lambda M, x: M.polygamma(1, x), (0.1, 12.0)),
    "polygamma2": (lambda M, x: M.polygamma(2, x), (-3.5, 12.0)),
    "mvlgamma": (lambda M, x: M.mvlgamma(x, 3), (1.1, 12.0)),
    "sinc": (lambda M, x: M.sinc(x), (-5.0, 5.0)),
    "i0": (lambda M, x: M.i0(x), (-40.0, 40.0)),
    "i0e": (lambda M, x: M.special.i0e(x), (-40.0, 40.0)),
    "i1": (lambda M, x: M.special.i1(x), (-40.0, 40.0)),
    "i1e": (lambda M, x: M.special.i1e(x), (-40.0, 40.0)),
    "erfcx": (lambda M, x: M.special.erfcx(x), (-5.0, 40.0)),
    "ndtri": (lambda M, x: M.special.ndtri(x), (0.001, 0.999)),
    "log_ndtr": (lambda M, x: M.special.log_ndtr(x), (-12.0, 10.0)),
    "ndtr": (lambda M, x: M.special.ndtr(x), (-10.0, 10.0)),
    "entr": (lambda M, x: M.special.entr(x), (-1.0, 10.0)),
    "expit": (lambda M, x: M.special.expit(x), (-10.0, 10.0)),
    "gammaln": (lambda M, x: M.special.gammaln(x), (0.1, 10.0)),
    "xlog1py": (lambda M, x: M.special.xlog1py(x, x * 0.5), (-1.5, 10.0)),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(UNARY))
@settings(deadline=None, max_examples=20)
@given(data=st.data())
def test_values_grads_against_torch(name, data):
    torch = pytest.importorskip("torch")
    fn, (lo, hi) = UNARY[name]
    # (tiny values are zeros, and the gamma family's arguments stay 0.05 from its poles, where PyTorch's
    # float32 functions lose their digits; tape's compute in float64)
    values = [0.0 if abs(v) < 1e-30 else v if v > 0 or abs(v - round(v)) > 0.05 else v - 0.1
              for v in data.draw(st.lists(st.floats(lo, hi), min_size=1, max_size=6))]
    dtype = data.draw(st.sampled_from(["float64", "float32"]))
    xt = torch.tensor(values, dtype=getattr(torch, dtype), requires_grad=True)
    xa = tape.tensor(values, dtype=getattr(tape, dtype), requires_grad=True)
    yt, ya = fn(torch, xt), fn(tape, xa)
    assert type(ya.grad_fn).__name__ == type(yt.grad_fn).__name__ or name == "ndtr"
    rtol = 1e-9 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=rtol, atol=rtol)
    (gt,) = torch.autograd.grad(yt.sum(), xt, create_graph=True)
    (ga,) = tape.autograd.grad(ya.sum(), xa, create_graph=True)
    np.testing.assert_allclose(ga.detach().numpy(), gt.detach().numpy(), rtol=rtol * 10, atol=rtol * 10)
    if name == "sinc" and min(abs(v) for v in values) < 1e-4:
        return      # (sinc's second derivative by its formula near 0: 0 here, nan or 0 in PyTorch by rounding)
    (ggt,) = torch.autograd.grad(gt.sum(), xt)
    (gga,) = tape.autograd.grad(ga.sum(), xa)
    # (float32 second derivatives: log_ndtr's and erfcx's cancel by construction in both libraries)
    tol = rtol * 100 if dtype == "float64" else 1e-2
    np.testing.assert_allclose(gga.numpy(), ggt.numpy(), rtol=tol, atol=tol)


@pytest.mark.torch
def test_edges_against_torch():
    torch = pytest.importorskip("torch")
    e = [0.0, -0.0, -1.0, -2.0, -2.5, 1e300, -1e300, math.inf, -math.inf, math.nan, 1e-320, 0.5, 3.0]
    for name, (fn, _) in UNARY.items():
        if name in ("ndtr", "xlog1py"):
            continue
        got = fn(tape, tape.tensor(e, dtype=tape.float64)).numpy()
        want = fn(torch, torch.tensor(e, dtype=torch.float64)).numpy()
        finite = np.isfinite(want) & (np.abs(want) < 1e290)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=name)
        np.testing.assert_array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)], err_msg=name)


@pytest.mark.torch
def test_fmax_fmin_against_torch():
    """nan operands, ties (the whole gradient to the first operand), integers."""
    torch = pytest.importorskip("torch")
    nan = math.nan
    a = [1.0, nan, 3.0, nan, 2.0, -0.0, math.inf]
    b = [2.0, 1.0, nan, nan, 2.0, 0.0, -math.inf]
    g = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    for name in ("fmax", "fmin"):
        out = []
        for M in (tape, torch):
            x, y = M.tensor(a, requires_grad=True), M.tensor(b, requires_grad=True)
            r = getattr(M, name)(x, y)
            r.backward(M.tensor(g))
            out.append((r.detach().numpy(), x.grad.numpy(), y.grad.numpy(), type(r.grad_fn).__name__,
                        getattr(M, name)(M.tensor([1, 5]), M.tensor([3, 2])).numpy()))
        for mine, theirs in zip(*out):
            np.testing.assert_array_equal(mine, theirs, err_msg=name)


# --- ops14: integer functions, igamma, zeta, Bessel, Airy, orthogonal polynomials ---------------------
def test_modified_bessel_k_of_huge_arguments_ends_with_the_asymptotic_value():
    # (the quadrature's step was 0 above x = 1e17: the sum never ended)
    S = tape.special
    x = tape.tensor([1e17, 1e20, 1e100, 1e300, 1.7e308], dtype=tape.float64)
    expect = np.sqrt(np.pi / 2) / np.sqrt(x.numpy())
    for f in (S.scaled_modified_bessel_k0, S.scaled_modified_bessel_k1):
        np.testing.assert_allclose(f(x).numpy(), expect, rtol=1e-14, err_msg=f.__name__)
    for f in (S.modified_bessel_k0, S.modified_bessel_k1):
        assert (f(x).numpy() == 0).all()


def test_new_special_known_values():
    S = tape.special
    x1 = tape.tensor([1.0], dtype=tape.float64)
    known = [(S.bessel_j0, 0.7651976865579666), (S.bessel_j1, 0.44005058574493355), (S.bessel_y0, 0.08825696421567697),
             (S.bessel_y1, -0.7812128213002887), (S.modified_bessel_k0, 0.42102443824070834),
             (S.modified_bessel_k1, 0.6019072301972346), (S.scaled_modified_bessel_k0, 1.1444630798068949),
             (S.modified_bessel_i0, 1.2660658777520082), (S.spherical_bessel_j0, math.sin(1.0)),
             (S.airy_ai, 0.13529241631288141)]
    for f, v in known:
        np.testing.assert_allclose(f(x1).numpy(), [v], rtol=1e-14, err_msg=f.__name__)
    np.testing.assert_allclose(S.airy_ai(tape.tensor([-5.0, -30.0, 0.0], dtype=tape.float64)).numpy(),
                               [0.35076100902411433, -0.08796818845684216, 0.3550280538878172], rtol=1e-13)
    np.testing.assert_allclose(S.zeta(2.0, x1).numpy(), [math.pi ** 2 / 6], rtol=1e-15)
    x = tape.tensor(np.linspace(-2, 2, 41), dtype=tape.float64)
    v = x.numpy()
    np.testing.assert_allclose(tape.igamma(tape.ones_like(x), x.abs()).numpy(), -np.expm1(-np.abs(v)), rtol=1e-14)
    for f, ref in ((S.chebyshev_polynomial_t, 4 * v ** 3 - 3 * v), (S.hermite_polynomial_h, 8 * v ** 3 - 12 * v),
                   (S.hermite_polynomial_he, v ** 3 - 3 * v), (S.legendre_polynomial_p, (5 * v ** 3 - 3 * v) / 2),
                   (S.laguerre_polynomial_l, (-v ** 3 + 9 * v ** 2 - 18 * v + 6) / 6),
                   (S.shifted_chebyshev_polynomial_t, 4 * (2 * v - 1) ** 3 - 3 * (2 * v - 1))):
        np.testing.assert_allclose(f(x, 3).numpy(), ref, rtol=1e-12, atol=1e-12, err_msg=f.__name__)


def test_integer_functions():
    i, j = tape.tensor([12, -7, 5]), tape.tensor([8, 3, 0])
    assert tape.gcd(i, j).tolist() == [4, 1, 5] and i.lcm(j).tolist() == [24, 21, 0]
    assert (i << 2).tolist() == [48, -28, 20] and (1024 >> j).tolist() == [4, 128, 1024]
    assert tape.bitwise_right_shift(i, tape.tensor([64, 65, -1])).tolist() == [0, -1, 0]
    assert (i // tape.tensor([5, 2, 3])).tolist() == [2, -4, 1]
    y = tape.tensor([7.0, -7.0, 1.0, -1.0, 0.0, 5.0, -5.0]) // tape.tensor([2.0, 2.0, 0.0, 0.0, 0.0, math.inf, math.inf])
    np.testing.assert_array_equal(y.numpy(), [3.0, -4.0, math.inf, -math.inf, math.nan, 0.0, -1.0])
    k = i.clone()
    k //= 2
    k <<= 1
    assert k.tolist() == [12, -8, 4] and k._version == 2
    m, e = tape.frexp(tape.tensor([0.0, 3.0, -0.1, 1e-310], dtype=tape.float64))
    assert e.dtype == tape.int32 and e.tolist() == [0, 2, -3, -1029]
    np.testing.assert_array_equal(tape.ldexp(m, e).numpy(), [0.0, 3.0, -0.1, 1e-310])
    assert tape.heaviside(tape.tensor([-1.0, 0.0, 2.0, math.nan]), tape.tensor([0.5])).tolist() == [0, 0.5, 1, 0]
    assert tape.nextafter(tape.tensor([0.0]), tape.tensor([1.0])).item() == np.nextafter(np.float32(0), np.float32(1))
    x = tape.tensor([1.0, 2.0, 3.0], requires_grad=True)
    tape.nextafter(x, tape.tensor([1.0, 0.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]        # (PyTorch's: nothing where self == other)


def test_integer_function_errors():
    i, x = tape.tensor([1, 2]), tape.tensor([1.0, 2.0])
    for fn, msg in ((lambda: tape.gcd(x, x), "\"gcd_cpu\" not implemented for 'Float'"),
                    (lambda: x << 1, "\"lshift_cpu\" not implemented for 'Float'"),
                    (lambda: (i > 0) // (i > 0), "\"div_floor_cpu\" not implemented for 'Bool'"),
                    (lambda: tape.nextafter(i, i), "\"nextafter_cpu\" not implemented for 'Long'"),
                    (lambda: tape.igamma(i, i), "\"igamma_cpu\" not implemented for 'Long'")):
        with pytest.raises(NotImplementedError, match=msg):
            fn()
    with pytest.raises(RuntimeError, match="^ZeroDivisionError$"):
        i // tape.tensor([1, 0])
    with pytest.raises(RuntimeError, match="^heaviside is not yet implemented for tensors with different dtypes.$"):
        tape.heaviside(x, x.double())
    with pytest.raises(RuntimeError, match=r"^torch.frexp\(\) only supports floating-point dtypes$"):
        tape.frexp(i)
    with pytest.raises(TypeError, match=r"^gcd\(\): argument 'other' \(position 2\) must be Tensor, not int$"):
        tape.gcd(i, 4)
    with pytest.raises(TypeError, match=r"special_bessel_j0\(\): argument 'input' \(position 1\) must be Tensor"):
        tape.special.bessel_j0(1.0)
    with pytest.raises(TypeError, match=r"special_zeta\(\) received an invalid combination of arguments"):
        tape.special.zeta(2.0, 1.0)


def test_no_derivative_nodes():
    x = tape.tensor([1.5, -2.0], requires_grad=True)
    for y in (x // 2, 3.0 // x, tape.floor_divide(x, x), tape.heaviside(x, x)):
        assert y.requires_grad and type(y.grad_fn).__name__ == "NotImplemented"
        with pytest.raises(RuntimeError, match="^derivative for aten::(floor_divide|heaviside) is not implemented$"):
            y.sum().backward()
    for inplace in (lambda y: y.floor_divide_(2.0), lambda y: y.heaviside_(y.detach())):
        y = inplace(x * 1.0)
        with pytest.raises(RuntimeError, match="^derivative for aten::(floor_divide|heaviside)_ is not implemented$"):
            y.sum().backward()
    with pytest.raises(RuntimeError, match="ldexp can't be cast to the desired output type Long"):
        tape.tensor([1, 2]).ldexp_(tape.tensor([1, 2]))
    import tape.autograd.forward_ad as fwAD
    with fwAD.dual_level():
        dual = fwAD.make_dual(tape.tensor([1.5]), tape.tensor([1.0]))
        for fn, name in ((lambda d: d // 2, "floor_divide"), (lambda d: (d * 1.0).heaviside_(d.detach()), "heaviside_")):
            with pytest.raises(NotImplementedError, match=f"^Trying to use forward AD with aten::{name} that does not "
                                                          "support it.$"):
                fwAD.unpack_dual(fn(dual))
    s = tape.tensor([2.0, 3.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match=r"^the derivative for 'zeta' is not implemented\.$"):
        tape.special.zeta(s, x.detach().abs()).sum().backward()
    with pytest.raises(NotImplementedError, match=r"^the derivative for 'igammac: input' is not implemented\.$"):
        s.igammac(x.abs()).sum().backward()
    for y in (tape.special.bessel_j0(x), tape.special.chebyshev_polynomial_t(x, 2)):
        assert not y.requires_grad
    with fwAD.dual_level():
        dual = fwAD.make_dual(tape.tensor([2.0, 3.0]), tape.tensor([1.0, 1.0]))
        for fn, name in ((lambda d: tape.special.zeta(d, 1.5), "special_zeta"), (lambda d: d.igamma(d), "igamma")):
            with pytest.raises(NotImplementedError, match=f"^Trying to use forward AD with {name} that does not "
                                                          "support it because it has not been implemented yet"):
                fwAD.unpack_dual(fn(dual))
        t = fwAD.unpack_dual(tape.special.zeta(2.0, dual)).tangent       # (tape's, in the second argument)
        np.testing.assert_allclose(t.numpy(), (-2.0 * tape.special.zeta(3.0, tape.tensor([2.0, 3.0]))).numpy(),
                                   rtol=1e-6)


@pytest.mark.torch
def test_new_special_against_torch():
    torch = pytest.importorskip("torch")
    xs = np.concatenate([np.linspace(-40, 40, 1001), np.geomspace(1e-6, 700, 200), -np.geomspace(1e-6, 100, 100),
                         [0.0, -0.0, math.inf, -math.inf, math.nan]])
    # (bound: |tape - torch| <= atol + rtol |torch|; torch's own Cephes J/Y/Ai lose up to ~4e-7 near 5.5)
    bounds = {"bessel_j0": (1e-6, 1e-12), "bessel_j1": (1e-6, 1e-12), "bessel_y0": (1e-6, 1e-12),
              "bessel_y1": (1e-6, 1e-12), "modified_bessel_i0": (0, 1e-14), "modified_bessel_i1": (0, 1e-14),
              "modified_bessel_k0": (0, 1e-14), "modified_bessel_k1": (0, 1e-14), "scaled_modified_bessel_k0": (0, 1e-14),
              "scaled_modified_bessel_k1": (0, 1e-14), "spherical_bessel_j0": (1e-16, 1e-15), "airy_ai": (1e-5, 1e-12)}
    for name, (atol, rtol) in bounds.items():
        for dt in ("float64", "float32"):
            got = getattr(tape.special, name)(tape.tensor(xs.astype(dt)))
            ref = getattr(torch.special, name)(torch.tensor(xs.astype(dt)))
            assert str(got.dtype) == str(ref.dtype)
            tol = (atol, rtol) if dt == "float64" else (max(atol, 1e-6), 2e-6)
            g, r = got.numpy(), ref.numpy()
            if dt == "float32":     # (PyTorch's float32 kernels overflow to inf a little earlier)
                g, r = g[~(np.abs(r) > 1e37)], r[~(np.abs(r) > 1e37)]
            np.testing.assert_allclose(g, r, atol=tol[0], rtol=tol[1], err_msg=f"{name} {dt}")
    # the polynomials: PyTorch's recurrences to the bit (but at a nan x, where PyTorch reads uninitialized memory)
    xv = np.concatenate([np.linspace(-1.5, 1.5, 61), [3.0, -7.5, math.inf]])
    nv = np.array([-2, -1, 0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 15, 30, 2.5, math.nan, math.inf, 200])
    X, N = np.meshgrid(xv, nv)
    for name in ("chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
                 "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
                 "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
                 "laguerre_polynomial_l", "legendre_polynomial_p"):
        for dt in ("float64", "float32"):
            got = getattr(tape.special, name)(tape.tensor(X.astype(dt)), tape.tensor(N.astype(dt))).numpy()
            ref = getattr(torch.special, name)(torch.tensor(X.astype(dt)), torch.tensor(N.astype(dt))).numpy()
            np.testing.assert_array_equal(got, ref, err_msg=f"{name} {dt}")
    a, x = np.meshgrid(np.geomspace(1e-3, 1e3, 30), np.geomspace(1e-4, 2e3, 30))
    for name in ("igamma", "igammac"):
        got = getattr(tape, name)(tape.tensor(a), tape.tensor(x)).numpy()
        ref = getattr(torch, name)(torch.tensor(a), torch.tensor(x)).numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-300)     # (PyTorch's: ~1e-10 at a = 1000)
    s, q = np.meshgrid([1.0, 1.5, 2.0, 3.0, 7.5, -1.0], [-3.0, -2.5, 0.0, 0.3, 1.0, 10.0, 1e3])
    np.testing.assert_allclose(tape.special.zeta(tape.tensor(s), tape.tensor(q)).numpy(),
                               torch.special.zeta(torch.tensor(s), torch.tensor(q)).numpy(), rtol=1e-13)
    i, j = np.array([12, -7, 5, 0, -64]), np.array([8, 3, 1, 0, 70])
    for name in ("gcd", "lcm", "bitwise_left_shift", "bitwise_right_shift"):
        for dt in ("int64", "int8", "uint8"):
            got = getattr(tape, name)(tape.tensor(i.astype(dt)), tape.tensor(j))
            ref = getattr(torch, name)(torch.tensor(i.astype(dt)), torch.tensor(j))
            assert got.tolist() == ref.tolist() and str(got.dtype) == str(ref.dtype), (name, dt)
    f = np.array([7.0, -7.0, 0.5, -3.25, 1e300, -0.0])
    g = np.array([2.0, 0.3, -0.1, 1.5, 1e-10, 3.0])
    for fn in (lambda M, a, b: M.floor_divide(a, b), lambda M, a, b: a // 2.5, lambda M, a, b: 7 // b,
               lambda M, a, b: M.ldexp(a, b), lambda M, a, b: M.nextafter(a, b),
               lambda M, a, b: M.heaviside(a, b), lambda M, a, b: M.frexp(a).mantissa):
        for dt in ("float64", "float32"):
            got = fn(tape, tape.tensor(f.astype(dt)), tape.tensor(g.astype(dt)))
            ref = fn(torch, torch.tensor(f.astype(dt)), torch.tensor(g.astype(dt)))
            np.testing.assert_array_equal(got.numpy(), ref.numpy())
            assert str(got.dtype) == str(ref.dtype)


def test_new_special_out():
    x = tape.tensor([0.5, 2.0], dtype=tape.float64)
    out = tape.empty(2, dtype=tape.float64)
    assert tape.special.bessel_y1(x, out=out) is out
    np.testing.assert_array_equal(out.numpy(), tape.special.bessel_y1(x).numpy())
    tape.special.chebyshev_polynomial_t(x, 3, out=out)
    np.testing.assert_allclose(out.numpy(), [-1.0, 26.0])
    with pytest.raises(RuntimeError, match="result type Double can't be cast to the desired output type Long"):
        tape.special.zeta(x, 1.0, out=tape.empty(2, dtype=tape.int64))
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        tape.special.zeta(2.0, x.requires_grad_(), out=out)


def test_ndtr_nodes_are_pytorchs():
    x = tape.tensor([0.5, -1.0], requires_grad=True)
    y = tape.special.ndtr(x)
    chain = []
    fn = y.grad_fn
    while fn is not None and fn.next_functions:
        chain.append((fn.name(), len(fn.next_functions), getattr(fn, "_saved_other", None)))
        fn = fn.next_functions[0][0]
    assert chain == [("MulBackward1", 1, 0.5), ("AddBackward1", 1, None), ("ErfBackward0", 1, None),
                     ("MulBackward1", 1, SF.SQRT1_2)]
    np.testing.assert_allclose(y.detach().numpy(), [0.6914624612740131, 0.15865525393145707], rtol=1e-7)
    assert tape.special.ndtr(tape.tensor([0, 1])).dtype == tape.float32


def test_new_special_keyword_names():
    """PyTorch's parameter names: ``input`` for most, ``x`` for airy_ai, spherical_bessel_j0 and the polynomials."""
    x = tape.tensor([0.5, 2.0], dtype=tape.float64)
    for fn, kwargs in ((tape.special.bessel_j0, {"input": x}), (tape.special.airy_ai, {"x": x}),
                       (tape.special.spherical_bessel_j0, {"x": x}), (tape.special.legendre_polynomial_p, {"x": x, "n": 2}),
                       (tape.special.zeta, {"input": x + 1, "other": x}), (tape.special.gammaincc, {"input": x, "other": x})):
        np.testing.assert_array_equal(fn(**kwargs).numpy(), fn(*kwargs.values()).numpy())
    with pytest.raises(TypeError, match=r"^special_airy_ai\(\): argument 'x' \(position 1\) must be Tensor, not float$"):
        tape.special.airy_ai(1.0)


def test_bessel_airy_igamma_against_mpmath():
    """The README's bounds: J0, J1, Y0, Y1 and Ai to 2e-15 absolute (the values are O(1): an absolute bound near
    their zeros; Ai below -10 also 4e-16 of its phase), K0 and K1 to 1e-14 relative, igamma and igammac to 1e-13
    relative."""
    mpmath = pytest.importorskip("mpmath")
    S = tape.special
    xs = np.concatenate([np.linspace(0.05, 40.0, 97), [1.9, 2.1, 24.9, 25.1, 100.0, 1e3]])
    t = tape.tensor(xs, dtype=tape.float64)
    for fn, ref in ((S.bessel_j0, lambda v: mpmath.besselj(0, v)), (S.bessel_j1, lambda v: mpmath.besselj(1, v)),
                    (S.bessel_y0, lambda v: mpmath.bessely(0, v)), (S.bessel_y1, lambda v: mpmath.bessely(1, v))):
        np.testing.assert_allclose(fn(t).numpy(), [float(ref(v)) for v in xs], rtol=0, atol=2e-15, err_msg=fn.__name__)
    for fn, ref in ((S.modified_bessel_k0, lambda v: mpmath.besselk(0, v)),
                    (S.modified_bessel_k1, lambda v: mpmath.besselk(1, v))):
        np.testing.assert_allclose(fn(t).numpy(), [float(ref(v)) for v in xs], rtol=1e-14, err_msg=fn.__name__)
    # Ai below -10: its phase 2/3 |x|^3/2 is rounded (to about 4e-16 of itself), and so is the value
    ax = np.concatenate([np.linspace(-30.0, 5.0, 141), [-2.0, -2.01, 1.0, 1.01, -9.99, -10.01]])
    phase = np.where(ax < -10.0, 2.0 / 3.0 * np.abs(ax) ** 1.5, 0.0)
    err = np.abs(S.airy_ai(tape.tensor(ax, dtype=tape.float64)).numpy() - [float(mpmath.airyai(v)) for v in ax])
    assert (err <= 2e-15 + 4e-16 * phase).all(), ax[np.argmax(err / (2e-15 + 4e-16 * phase))]
    a, x = np.meshgrid([0.1, 0.5, 1.0, 3.5, 9.9, 10.1, 50.0, 500.0], [0.01, 0.5, 2.0, 9.0, 11.0, 60.0, 480.0, 530.0])
    a, x = a.ravel(), x.ravel()
    p = tape.igamma(tape.tensor(a), tape.tensor(x)).numpy()
    q = tape.igammac(tape.tensor(a), tape.tensor(x)).numpy()
    p_ref = np.array([float(mpmath.gammainc(u, 0, v, regularized=True)) for u, v in zip(a, x)])
    q_ref = np.array([float(mpmath.gammainc(u, v, mpmath.inf, regularized=True)) for u, v in zip(a, x)])
    keep = p_ref > 1e-300
    np.testing.assert_allclose(p[keep], p_ref[keep], rtol=1e-13)
    keep = q_ref > 1e-300
    np.testing.assert_allclose(q[keep], q_ref[keep], rtol=1e-13)


def test_fmax_fmin_give_a_tie_of_infinities_to_the_first_operand():
    # PyTorch's rule: the gradient to self where self >= other (fmin: <=) or other is nan, so
    # equal infinities are a tie like any other.
    inf = math.inf
    a = [-inf, inf, -inf, 1.0, math.nan, 2.0]
    b = [-inf, inf, inf, math.nan, 1.0, 2.0]
    for fn, to_a in ((tape.fmax, [1, 1, 0, 1, 0, 1]), (tape.fmin, [1, 1, 1, 1, 0, 1])):
        x = tape.tensor(a, dtype=tape.float64, requires_grad=True)
        y = tape.tensor(b, dtype=tape.float64, requires_grad=True)
        fn(x, y).sum().backward()
        assert x.grad.tolist() == to_a and y.grad.tolist() == [1 - k for k in to_a]
        gx, gy = tape.autograd.grad(fn(x, y).sum(), (x, y), create_graph=True)
        assert gx.tolist() == to_a and gy.tolist() == [1 - k for k in to_a]


@pytest.mark.torch
def test_trigamma_at_its_poles_in_float32_as_pytorch():
    # PyTorch computes the reflection's pi^2 / sin^2(pi x) in the tensor's dtype: at a negative
    # integer it is the float32 rounding error of pi x, a finite value far from float64's.
    torch = pytest.importorskip("torch")
    poles = [-1.0, -2.0, -3.0, -10.0, -1e6]
    for dtype in ("float32", "float64"):
        got, want = [], []
        for M, out in ((tape, got), (torch, want)):
            x = M.tensor(poles, dtype=getattr(M, dtype), requires_grad=True)
            out.append(M.polygamma(1, x).tolist())
            out.append(M.autograd.grad(M.digamma(x).sum(), x)[0].tolist())
            g, = M.autograd.grad(M.polygamma(0, x).sum(), x, create_graph=True)
            out.append(g.tolist())
        assert got == want
