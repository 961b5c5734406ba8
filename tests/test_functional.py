"""``tape.autograd.functional`` and higher-order derivatives.

First part: tape alone, against closed forms and finite differences (Jacobians of
``A @ sin(x)``, the extended Rosenbrock Hessian, jvp/vjp/hvp/vhp identities,
``strict`` errors, ``create_graph``, float32 and 0-d inputs, third and fourth
derivatives through repeated ``autograd.grad(create_graph=True)``, mixed partials).

Second part (each test calls ``pytest.importorskip("torch")``, so the file runs
without PyTorch): the same calls in tape and in ``torch.autograd.functional``
must give the same nesting of tuples, shapes, dtypes, ``requires_grad`` flags,
values and error messages (tape may say "tape" where torch says "torch").
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import tape
from tape.autograd.functional import hessian, hvp, jacobian, jvp, vhp, vjp

F64 = tape.float64
X3 = np.array([0.3, -0.7, 1.1])
Y2 = np.array([0.5, 1.7])
A = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.5]])


def t64(a, requires_grad=False):
    return tape.tensor(np.asarray(a, dtype=np.float64).tolist(), dtype=F64, requires_grad=requires_grad)


def arr(t):
    return np.asarray(t.detach().tolist(), dtype=np.float64)


def close(t, expected, tol=1e-12):
    got = arr(t)
    expected = np.asarray(expected, dtype=np.float64)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def rosenbrock(x):
    """Extended Rosenbrock function written with vector ops."""
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def rosenbrock_hessian(x):
    """Analytic Hessian: tridiagonal."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    h = np.zeros((n, n))
    d = np.zeros(n)
    d[:-1] += 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    d[1:] += 200
    h[np.arange(n), np.arange(n)] = d
    off = -400 * x[:-1]
    h[np.arange(n - 1), np.arange(1, n)] = off
    h[np.arange(1, n), np.arange(n - 1)] = off
    return h


def rosen_point(n):
    return 1.2 + 0.1 * np.sin(np.arange(n))


# ---------------------------------------------------------------------------
# jacobian
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("vectorize", [False, True])
def test_jacobian_of_matrix_times_sin_matches_closed_form(vectorize):
    a = t64(A)
    J = jacobian(lambda x: a @ x.sin(), t64(X3), vectorize=vectorize)
    assert isinstance(J, tape.Tensor)
    assert J.shape == (2, 3) and J.dtype == F64
    assert not J.requires_grad
    close(J, A * np.cos(X3))


def test_jacobian_larger_matrix_times_sin():
    rng = np.random.default_rng(3)
    a_np, x_np = rng.standard_normal((7, 11)), rng.standard_normal(11)
    a = t64(a_np)
    J = jacobian(lambda x: a @ x.sin(), t64(x_np))
    assert J.shape == (7, 11)
    close(J, a_np * np.cos(x_np))


def test_jacobian_tuple_inputs_and_outputs_nesting():
    x, y = t64(X3), t64(Y2)

    def f(a, b):
        return a.sin() * b.sum(), (b ** 2).sum() * a[0]

    J = jacobian(f, (x, y))
    assert isinstance(J, tuple) and len(J) == 2
    assert all(isinstance(row, tuple) and len(row) == 2 for row in J)
    (j00, j01), (j10, j11) = J
    assert j00.shape == (3, 3) and j01.shape == (3, 2)
    assert j10.shape == (3,) and j11.shape == (2,)
    s = Y2.sum()
    close(j00, np.diag(np.cos(X3)) * s)
    close(j01, np.outer(np.sin(X3), np.ones(2)))
    close(j10, [(Y2 ** 2).sum(), 0.0, 0.0])
    close(j11, 2 * Y2 * X3[0])


def test_jacobian_single_input_in_a_tuple_gives_a_tuple():
    J = jacobian(lambda x: x.exp(), (t64(X3),))
    assert isinstance(J, tuple) and len(J) == 1
    close(J[0], np.diag(np.exp(X3)))


def test_jacobian_multiple_outputs_single_input():
    J = jacobian(lambda x: (x.exp(), (x ** 2).sum()), t64(X3))
    assert isinstance(J, tuple) and len(J) == 2
    assert isinstance(J[0], tape.Tensor) and isinstance(J[1], tape.Tensor)
    close(J[0], np.diag(np.exp(X3)))
    close(J[1], 2 * X3)


def test_jacobian_of_output_independent_of_an_input_is_zero():
    J = jacobian(lambda a, b: a * 2, (t64(X3), t64(Y2)))
    close(J[0], 2 * np.eye(3))
    close(J[1], np.zeros((3, 2)))


def test_jacobian_float32():
    x = tape.tensor(X3.tolist(), dtype=tape.float32)
    J = jacobian(lambda v: v.tanh(), x)
    assert J.dtype == tape.float32 and J.shape == (3, 3)
    close(J, np.diag(1 - np.tanh(X3) ** 2), tol=1e-6)


def test_jacobian_0d_input_and_output():
    x = tape.tensor(0.5, dtype=F64)
    J = jacobian(lambda v: v.sin() * v, x)
    assert J.shape == ()
    assert J.item() == pytest.approx(math.sin(0.5) + 0.5 * math.cos(0.5), rel=1e-14)
    J = jacobian(lambda v: v * t64(X3), x)  # 0-d in, 1-d out
    assert J.shape == (3,)
    close(J, X3)
    J = jacobian(lambda v: (v ** 3).sum(), t64(X3))  # 1-d in, 0-d out
    assert J.shape == (3,)
    close(J, 3 * X3 ** 2)


def test_jacobian_create_graph_is_differentiable():
    x = t64(X3, requires_grad=True)
    J = jacobian(lambda v: v.sin() * v, x, create_graph=True)
    assert J.requires_grad
    # J = diag(sin x + x cos x); d/dx of its diagonal sum = 2 cos x - x sin x
    g, = tape.autograd.grad(J.sum(), x)
    close(g, 2 * np.cos(X3) - X3 * np.sin(X3))


# ---------------------------------------------------------------------------
# hessian
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [5, 50])
def test_hessian_of_extended_rosenbrock_is_exact(n):
    x0 = rosen_point(n)
    H = hessian(rosenbrock, t64(x0))
    assert isinstance(H, tape.Tensor) and H.shape == (n, n) and H.dtype == F64
    assert not H.requires_grad
    err = np.abs(arr(H) - rosenbrock_hessian(x0)).max()
    assert err < 1e-10, err


def test_hessian_vectorize_gives_the_same():
    x0 = rosen_point(6)
    H = hessian(rosenbrock, t64(x0), vectorize=True)
    assert np.abs(arr(H) - rosenbrock_hessian(x0)).max() < 1e-10


def test_hessian_tuple_inputs_blocks():
    x, y = t64(X3), t64(Y2)

    def f(a, b):
        return (a ** 2).sum() * (b ** 3).sum()

    H = hessian(f, (x, y))
    assert isinstance(H, tuple) and len(H) == 2 and all(len(r) == 2 for r in H)
    (hxx, hxy), (hyx, hyy) = H
    assert hxx.shape == (3, 3) and hxy.shape == (3, 2) and hyx.shape == (2, 3) and hyy.shape == (2, 2)
    sx, sy = (X3 ** 2).sum(), (Y2 ** 3).sum()
    close(hxx, 2 * sy * np.eye(3))
    close(hxy, np.outer(2 * X3, 3 * Y2 ** 2))
    close(hyx, np.outer(3 * Y2 ** 2, 2 * X3))
    close(hyy, sx * np.diag(6 * Y2))


def test_hessian_single_input_in_a_tuple():
    H = hessian(lambda v: (v ** 3).sum(), (t64(X3),))
    assert isinstance(H, tuple) and len(H) == 1 and isinstance(H[0], tuple) and len(H[0]) == 1
    close(H[0][0], np.diag(6 * X3))


def test_hessian_0d_input():
    H = hessian(lambda v: v.exp() * v, tape.tensor(0.3, dtype=F64))
    assert H.shape == ()
    assert H.item() == pytest.approx(math.exp(0.3) * (2 + 0.3), rel=1e-14)


def test_hessian_float32():
    x0 = rosen_point(5)
    H = hessian(rosenbrock, tape.tensor(x0.tolist(), dtype=tape.float32))
    assert H.dtype == tape.float32
    h = rosenbrock_hessian(np.float32(x0).astype(np.float64))
    np.testing.assert_allclose(arr(H), h, rtol=1e-5, atol=1e-3)


def test_hessian_entry_is_differentiable_with_create_graph():
    x = t64(X3, requires_grad=True)
    H = hessian(lambda v: (v ** 4).sum() + (v[0] * v[1]).sin(), x, create_graph=True)
    assert H.requires_grad
    g, = tape.autograd.grad(H[1, 1], x)
    # d/dx of 12 x1^2 - x0^2 sin(x0 x1)
    x0, x1 = X3[0], X3[1]
    expected = [-2 * x0 * math.sin(x0 * x1) - x0 ** 2 * x1 * math.cos(x0 * x1),
                24 * x1 - x0 ** 3 * math.cos(x0 * x1), 0.0]
    close(g, expected)


def test_hessian_create_graph_backward_accumulates_into_leaf():
    x = t64(X3, requires_grad=True)
    H = hessian(lambda v: (v.sin() * v).sum(), x, create_graph=True)
    H.sum().backward()
    # diagonal 2 cos x - x sin x; derivative -3 sin x - x cos x
    close(x.grad, -3 * np.sin(X3) - X3 * np.cos(X3))


# ---------------------------------------------------------------------------
# vjp / jvp / hvp / vhp
# ---------------------------------------------------------------------------


def test_vjp_closed_form():
    a = t64(A)
    v = np.array([0.7, -1.3])
    out, g = vjp(lambda x: a @ x.sin(), t64(X3), t64(v))
    assert isinstance(out, tape.Tensor) and isinstance(g, tape.Tensor)
    close(out, A @ np.sin(X3))
    close(g, (v @ A) * np.cos(X3))
    assert not out.requires_grad and not g.requires_grad


def test_vjp_v_none_for_scalar_output():
    out, g = vjp(lambda x: (x ** 3).sum(), t64(X3))
    assert out.shape == ()
    close(g, 3 * X3 ** 2)


def test_vjp_tuple_inputs_and_outputs():
    out, g = vjp(lambda a, b: (a * b.sum(), (b ** 2).sum()), (t64(X3), t64(Y2)),
                 (t64([1.0, 2.0, 3.0]), t64(0.5)))
    assert isinstance(out, tuple) and len(out) == 2 and isinstance(g, tuple) and len(g) == 2
    close(g[0], Y2.sum() * np.array([1.0, 2.0, 3.0]))
    close(g[1], np.full(2, X3 @ [1.0, 2.0, 3.0]) + 0.5 * 2 * Y2)


def test_vjp_v_required_for_non_scalar_output():
    with pytest.raises(RuntimeError, match="The vector v can only be None if the user-provided function "
                                           "returns a single Tensor with a single element."):
        vjp(lambda x: x.sin(), t64(X3))


def test_jvp_closed_form():
    a = t64(A)
    v = np.array([0.2, -0.4, 1.5])
    out, g = jvp(lambda x: a @ x.sin(), t64(X3), t64(v))
    close(out, A @ np.sin(X3))
    close(g, A @ (np.cos(X3) * v))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jvp_matches_finite_differences(seed):
    rng = np.random.default_rng(seed)
    x0, y0 = rng.standard_normal(4), rng.standard_normal(3)
    vx, vy = rng.standard_normal(4), rng.standard_normal(3)

    def f_np(a, b):
        return np.concatenate([np.tanh(a) * (b ** 2).sum(), np.exp(b) * a[:3] ** 2])

    def f(a, b):
        return (a.tanh() * (b ** 2).sum(), b.exp() * a[:3] ** 2)

    out, (g1, g2) = jvp(f, (t64(x0), t64(y0)), (t64(vx), t64(vy)))
    eps = 1e-6
    fd = (f_np(x0 + eps * vx, y0 + eps * vy) - f_np(x0 - eps * vx, y0 - eps * vy)) / (2 * eps)
    np.testing.assert_allclose(np.concatenate([arr(g1), arr(g2)]), fd, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(np.concatenate([arr(out[0]), arr(out[1])]), f_np(x0, y0), rtol=1e-14)


def test_jvp_v_none_only_for_single_element_input():
    _, g = jvp(lambda x: x * t64(X3), t64([2.0]))
    close(g, X3)
    _, g = jvp(lambda x: x.sin(), tape.tensor(0.4, dtype=F64))
    assert g.item() == pytest.approx(math.cos(0.4), rel=1e-14)
    with pytest.raises(RuntimeError, match="The vector v can only be None if the input to the user-provided "
                                           "function is a single Tensor with a single element."):
        jvp(lambda x: x.sin(), t64(X3))


@pytest.mark.parametrize("n", [5, 30])
def test_hvp_rosenbrock_closed_form_and_vhp_agrees(n):
    x0 = rosen_point(n)
    v = np.cos(np.arange(n) * 0.7)
    val, hv = hvp(rosenbrock, t64(x0), t64(v))
    val2, vh = vhp(rosenbrock, t64(x0), t64(v))
    h = rosenbrock_hessian(x0)
    assert val.shape == () and hv.shape == (n,)
    assert abs(val.item() - val2.item()) == 0
    np.testing.assert_allclose(arr(hv), h @ v, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(arr(vh), v @ h, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(arr(hv), arr(vh), rtol=1e-12, atol=1e-10)


def test_hvp_vhp_tuple_inputs_match_hessian_blocks():
    x, y = t64(X3), t64(Y2)

    def f(a, b):
        return (a.sin() * a).sum() * (b ** 2).sum() + (a[:2] * b).exp().sum()

    (hxx, hxy), (hyx, hyy) = hessian(f, (x, y))
    vx, vy = np.array([0.3, 1.0, -2.0]), np.array([1.5, -0.5])
    _, (hv_x, hv_y) = hvp(f, (x, y), (t64(vx), t64(vy)))
    _, (vh_x, vh_y) = vhp(f, (x, y), (t64(vx), t64(vy)))
    close(hv_x, arr(hxx) @ vx + arr(hxy) @ vy, tol=1e-11)
    close(hv_y, arr(hyx) @ vx + arr(hyy) @ vy, tol=1e-11)
    close(vh_x, vx @ arr(hxx) + vy @ arr(hyx), tol=1e-11)
    close(vh_y, vx @ arr(hxy) + vy @ arr(hyy), tol=1e-11)
    close(hv_x, arr(vh_x), tol=1e-11)
    close(hv_y, arr(vh_y), tol=1e-11)


def test_hvp_v_none_for_0d_input():
    _, hv = hvp(lambda v: v.sin() * v, tape.tensor(0.6, dtype=F64))
    assert hv.item() == pytest.approx(2 * math.cos(0.6) - 0.6 * math.sin(0.6), rel=1e-14)
    _, vh = vhp(lambda v: v.sin() * v, tape.tensor(0.6, dtype=F64))
    assert vh.item() == pytest.approx(hv.item(), rel=1e-15)


def test_hvp_requires_scalar_output():
    with pytest.raises(RuntimeError, match="The Tensor returned by the function given to hvp should contain "
                                           "a single element"):
        hvp(lambda v: v ** 2, t64(X3), t64(X3))


def test_vjp_jvp_hvp_create_graph_are_differentiable():
    x = t64(X3, requires_grad=True)
    v = t64([1.0, -2.0, 0.5])
    _, g = vjp(lambda a: a.sin() * a, x, v, create_graph=True)
    assert g.requires_grad
    d, = tape.autograd.grad(g.sum(), x)
    close(d, arr(v) * (2 * np.cos(X3) - X3 * np.sin(X3)))
    _, g = jvp(lambda a: a.sin() * a, x, v, create_graph=True)
    d, = tape.autograd.grad(g.sum(), x)
    close(d, arr(v) * (2 * np.cos(X3) - X3 * np.sin(X3)))
    _, g = hvp(lambda a: (a ** 4).sum(), x, v, create_graph=True)
    d, = tape.autograd.grad(g.sum(), x)
    close(d, 24 * X3 * arr(v))
    _, g = vhp(lambda a: (a ** 4).sum(), x, v, create_graph=True)
    d, = tape.autograd.grad(g.sum(), x)
    close(d, 24 * X3 * arr(v))


def test_float32_vjp_jvp_hvp_keep_dtype():
    x = tape.tensor(X3.tolist(), dtype=tape.float32)
    v = tape.tensor([1.0, 2.0, 3.0], dtype=tape.float32)
    for fn in (vjp, jvp):
        out, g = fn(lambda a: a.exp(), x, v)
        assert out.dtype == tape.float32 and g.dtype == tape.float32
        close(g, np.exp(X3) * [1.0, 2.0, 3.0], tol=1e-5)
    for fn in (hvp, vhp):
        out, g = fn(lambda a: a.exp().sum(), x, v)
        assert out.dtype == tape.float32 and g.dtype == tape.float32
        close(g, np.exp(X3) * [1.0, 2.0, 3.0], tol=1e-5)


@pytest.mark.parametrize("api", ["jacobian", "hessian", "hessian-create-graph", "vjp", "jvp", "hvp", "vhp"])
def test_func_called_once_and_input_grad_untouched(api):
    calls = []

    def f(a):
        calls.append(1)
        return (a ** 3).sum()

    x = t64(X3, requires_grad=True)
    if api == "jacobian":
        jacobian(f, x)
    elif api.startswith("hessian"):
        hessian(f, x, create_graph=api.endswith("graph"))
    else:
        {"vjp": vjp, "jvp": jvp, "hvp": hvp, "vhp": vhp}[api](f, x, None if api == "vjp" else t64(X3))
    assert len(calls) == 1
    assert x.grad is None


# ---------------------------------------------------------------------------
# strict
# ---------------------------------------------------------------------------


def test_strict_jacobian_independent_input_raises():
    with pytest.raises(RuntimeError) as ei:
        jacobian(lambda a, b: a * 2, (t64(X3), t64(Y2)), strict=True)
    assert str(ei.value) == ("Output 0 of the user-provided function is independent of input 1. "
                             "This is not allowed in strict mode.")


def test_strict_jacobian_constant_output_raises():
    with pytest.raises(RuntimeError) as ei:
        jacobian(lambda a: t64(Y2), t64(X3), strict=True)
    assert str(ei.value) == ("Output 0 of the user-provided function does not require gradients. The outputs "
                             "must be computed in a differentiable manner from the input when running in "
                             "strict mode.")


def test_strict_vjp_and_jvp_independent_input_raise():
    msg = "The output of the user-provided function is independent of input 1. This is not allowed in strict mode."
    x, y = t64(X3), t64(Y2)
    with pytest.raises(RuntimeError) as ei:
        vjp(lambda a, b: a * 2, (x, y), t64(X3), strict=True)
    assert str(ei.value) == msg
    with pytest.raises(RuntimeError) as ei:
        jvp(lambda a, b: a * 2, (x, y), (t64(X3), t64(Y2)), strict=True)
    assert str(ei.value) == msg


@pytest.mark.parametrize("api", ["hessian", "hvp", "vhp"])
def test_strict_second_order_of_linear_function_raises(api):
    fn = {"hessian": hessian, "hvp": hvp, "vhp": vhp}[api]
    args = () if api == "hessian" else (t64(X3),)
    with pytest.raises(RuntimeError) as ei:
        fn(lambda a: (a * 3).sum(), t64(X3), *args, strict=True)
    assert str(ei.value) == (
        "While computing the hessian, found that the jacobian of the user-provided function with respect to "
        "input 0 is independent of the input. This is not allowed in strict mode. You should ensure that your "
        "function is twice differentiable and that the jacobian depends on the inputs (this would be violated "
        "by a linear function for example).")


def test_strict_passes_when_every_input_is_used():
    J = jacobian(lambda a, b: a * b.sum(), (t64(X3), t64(Y2)), strict=True)
    close(J[1], np.outer(X3, np.ones(2)))
    H = hessian(rosenbrock, t64(rosen_point(4)), strict=True)
    assert np.abs(arr(H) - rosenbrock_hessian(rosen_point(4))).max() < 1e-10


def test_non_strict_gives_zeros_for_independent_inputs():
    _, g = vjp(lambda a, b: a * 2, (t64(X3), t64(Y2)), t64(X3))
    close(g[1], np.zeros(2))
    _, g = jvp(lambda a, b: a * 2, (t64(X3), t64(Y2)), (t64(X3), t64(Y2)))
    close(g, 2 * X3)
    _, g = hvp(lambda a: a.sum(), t64(X3), t64(X3))
    close(g, np.zeros(3))


# ---------------------------------------------------------------------------
# higher derivatives through repeated autograd.grad(create_graph=True)
# ---------------------------------------------------------------------------


def _tanh_derivs(x):
    t = math.tanh(x)
    d1 = 1 - t * t
    return [t, d1, -2 * t * d1, (6 * t * t - 2) * d1, d1 * (16 * t - 24 * t ** 3)]


SCALAR_FUNCS = {
    "sin": (lambda x: x.sin(), lambda x: [math.sin(x), math.cos(x), -math.sin(x), -math.cos(x), math.sin(x)]),
    "exp": (lambda x: x.exp(), lambda x: [math.exp(x)] * 5),
    "pow5": (lambda x: x ** 5, lambda x: [x ** 5, 5 * x ** 4, 20 * x ** 3, 60 * x ** 2, 120 * x]),
    "tanh": (lambda x: x.tanh(), _tanh_derivs),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", ["0d", "1d"])
@pytest.mark.parametrize("name", sorted(SCALAR_FUNCS))
def test_third_and_fourth_derivatives(name, shape, dtype):
    f, derivs = SCALAR_FUNCS[name]
    points = [0.3, -0.8, 1.3]
    dt = getattr(tape, dtype)
    tol = 1e-12 if dtype == "float64" else 2e-4
    if shape == "0d":
        cases = [(tape.tensor(p, dtype=dt, requires_grad=True), [p]) for p in points]
    else:
        cases = [(tape.tensor(points, dtype=dt, requires_grad=True), points)]
    for x, ps in cases:
        y = f(x)
        expected = np.array([derivs(p) for p in ps])  # (len(ps), 5)
        close(y.reshape(-1), expected[:, 0], tol=tol)
        for order in range(1, 5):
            y, = tape.autograd.grad(y.sum(), x, create_graph=True)
            assert y.shape == x.shape and y.dtype == dt
            assert y.requires_grad
            close(y.reshape(-1), expected[:, order], tol=tol * 10 ** (order - 1) if dtype == "float32" else tol)


def test_fourth_derivative_via_backward_into_grad():
    x = tape.tensor(0.7, dtype=F64, requires_grad=True)
    y = x.sin() * x.exp()
    g1, = tape.autograd.grad(y, x, create_graph=True)
    g2, = tape.autograd.grad(g1, x, create_graph=True)
    g3, = tape.autograd.grad(g2, x, create_graph=True)
    g3.backward()
    # (sin x e^x)^(n) = 2^(n/2) e^x sin(x + n pi/4)
    for n, g in [(1, g1), (2, g2), (3, g3), (4, x.grad)]:
        expected = 2 ** (n / 2) * math.exp(0.7) * math.sin(0.7 + n * math.pi / 4)
        assert g.item() == pytest.approx(expected, rel=1e-13)


def _f_xy(x, y):
    return (x * y).sin() + x ** 2 * y ** 3


def _f_xy_np(x, y):
    return math.sin(x * y) + x ** 2 * y ** 3


def _partials(x0, y0):
    """f_x, f_y, f_xx, f_xy, f_yx, f_yy, f_xxy, f_xyy from tape."""
    x = tape.tensor(x0, dtype=F64, requires_grad=True)
    y = tape.tensor(y0, dtype=F64, requires_grad=True)
    fx, fy = tape.autograd.grad(_f_xy(x, y), (x, y), create_graph=True)
    fxx, fxy = tape.autograd.grad(fx, (x, y), create_graph=True)
    fyx, fyy = tape.autograd.grad(fy, (x, y), create_graph=True)
    fxxy, = tape.autograd.grad(fxx, y, retain_graph=True)
    fxyy, = tape.autograd.grad(fxy, y)
    return [t.item() for t in (fx, fy, fxx, fxy, fyx, fyy, fxxy, fxyy)]


@pytest.mark.parametrize("x0, y0", [(0.4, 1.1), (-1.3, 0.6), (2.0, -0.7)])
def test_mixed_partials_of_sin_xy_plus_x2y3(x0, y0):
    fx, fy, fxx, fxy, fyx, fyy, fxxy, fxyy = _partials(x0, y0)
    c, s, p = math.cos(x0 * y0), math.sin(x0 * y0), x0 * y0
    assert fx == pytest.approx(y0 * c + 2 * x0 * y0 ** 3, rel=1e-13)
    assert fy == pytest.approx(x0 * c + 3 * x0 ** 2 * y0 ** 2, rel=1e-13)
    assert fxy == pytest.approx(c - p * s + 6 * x0 * y0 ** 2, rel=1e-13)
    assert fyx == pytest.approx(fxy, rel=1e-14)
    assert fxx == pytest.approx(-y0 ** 2 * s + 2 * y0 ** 3, rel=1e-13)
    assert fyy == pytest.approx(-x0 ** 2 * s + 6 * x0 ** 2 * y0, rel=1e-13)
    # first partials vs central differences of f
    h = 1e-5
    assert fx == pytest.approx((_f_xy_np(x0 + h, y0) - _f_xy_np(x0 - h, y0)) / (2 * h), rel=1e-8)
    assert fy == pytest.approx((_f_xy_np(x0, y0 + h) - _f_xy_np(x0, y0 - h)) / (2 * h), rel=1e-8)
    # third-order mixed partials vs central differences of tape's second derivatives in y
    up, down = _partials(x0, y0 + h), _partials(x0, y0 - h)
    assert fxxy == pytest.approx((up[2] - down[2]) / (2 * h), rel=1e-7, abs=1e-7)
    assert fxyy == pytest.approx((up[3] - down[3]) / (2 * h), rel=1e-7, abs=1e-7)
    # and f_xy vs central differences of tape's f_x in y
    assert fxy == pytest.approx((up[0] - down[0]) / (2 * h), rel=1e-8, abs=1e-8)


# ---------------------------------------------------------------------------
# against torch.autograd.functional
# ---------------------------------------------------------------------------

# Each case: api, function of the library module, inputs, v, kwargs. Inputs and v are
# numpy arrays (one tensor), tuples of arrays (a tuple of tensors) or None; a float
# means a 0-d tensor. "f32" in kwargs means float32 tensors.
_M = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])

TORCH_CASES = {
    "jac-single": ("jacobian", lambda L: lambda a: a.sin() * a, X3, None, {}),
    "jac-single-f32": ("jacobian", lambda L: lambda a: a.tanh() * 2, X3, None, {"f32": True}),
    "jac-tuple1": ("jacobian", lambda L: lambda a: a.exp(), (X3,), None, {}),
    "jac-tuple2": ("jacobian", lambda L: lambda a, b: a * b.sum(), (X3, Y2), None, {}),
    "jac-multi-out": ("jacobian", lambda L: lambda a: (a.sin(), (a ** 2).sum()), X3, None, {}),
    "jac-tuple-multi-out": ("jacobian", lambda L: lambda a, b: (a * 2, b.sum() * a[1]), (X3, Y2), None, {}),
    "jac-tuple1-out": ("jacobian", lambda L: lambda a: (a.cos(),), X3, None, {}),
    "jac-0d": ("jacobian", lambda L: lambda a: a.sin() * a, 0.4, None, {}),
    "jac-0d-in-1d-out": ("jacobian", lambda L: lambda a: a * L.tensor(X3.tolist(), dtype=L.float64), 0.4, None, {}),
    "jac-2d-in": ("jacobian", lambda L: lambda a: a.sin() @ L.tensor(X3.tolist(), dtype=L.float64), _M, None, {}),
    "jac-matrix-sin": ("jacobian", lambda L: lambda a: L.tensor(_M.tolist(), dtype=L.float64) @ a.sin(),
                       X3, None, {}),
    "jac-indep": ("jacobian", lambda L: lambda a, b: a * 2, (X3, Y2), None, {}),
    "jac-const-out": ("jacobian", lambda L: lambda a: L.ones(2, dtype=L.float64), X3, None, {}),
    "jac-create": ("jacobian", lambda L: lambda a: a.sin() * a, X3, None, {"create_graph": True}),
    "jac-vectorize": ("jacobian", lambda L: lambda a, b: (a * b.sum(), b.exp()), (X3, Y2), None,
                      {"vectorize": True}),
    "jac-strict-ok": ("jacobian", lambda L: lambda a, b: a * b.sum(), (X3, Y2), None, {"strict": True}),
    "hess-single": ("hessian", lambda L: lambda a: (a ** 3).sum() * a[0], X3, None, {}),
    "hess-single-f32": ("hessian", lambda L: lambda a: (a.sin() * a).sum(), X3, None, {"f32": True}),
    "hess-tuple1": ("hessian", lambda L: lambda a: (a ** 3).sum(), (X3,), None, {}),
    "hess-tuple2": ("hessian", lambda L: lambda a, b: (a ** 2).sum() * (b ** 3).sum(), (X3, Y2), None, {}),
    "hess-0d": ("hessian", lambda L: lambda a: a.exp() * a, 0.3, None, {}),
    "hess-2d": ("hessian", lambda L: lambda a: (a.sin() ** 2).sum(), _M, None, {}),
    "hess-create": ("hessian", lambda L: lambda a: (a ** 4).sum(), X3, None, {"create_graph": True}),
    "hess-vectorize": ("hessian", lambda L: lambda a, b: (a ** 2).sum() * b.exp().sum(), (X3, Y2), None,
                       {"vectorize": True}),
    "hess-indep": ("hessian", lambda L: lambda a, b: (a ** 2).sum() + b.sum(), (X3, Y2), None, {}),
    "vjp-single": ("vjp", lambda L: lambda a: a.sin(), X3, np.array([1.0, -2.0, 0.5]), {}),
    "vjp-none": ("vjp", lambda L: lambda a: (a ** 3).sum(), X3, None, {}),
    "vjp-tuple": ("vjp", lambda L: lambda a, b: a * b.sum(), (X3, Y2), np.array([1.0, 2.0, 3.0]), {}),
    "vjp-multi-out": ("vjp", lambda L: lambda a: (a.sin(), a.sum()), X3, (np.ones(3), 2.0), {}),
    "vjp-create": ("vjp", lambda L: lambda a: a.sin() * a, X3, np.ones(3), {"create_graph": True}),
    "vjp-f32": ("vjp", lambda L: lambda a: a.exp(), X3, np.ones(3), {"f32": True}),
    "vjp-indep": ("vjp", lambda L: lambda a, b: a * 2, (X3, Y2), X3, {}),
    "jvp-single": ("jvp", lambda L: lambda a: a.sin(), X3, np.array([1.0, -2.0, 0.5]), {}),
    "jvp-none-1elem": ("jvp", lambda L: lambda a: a * 3, np.array([2.0]), None, {}),
    "jvp-none-0d": ("jvp", lambda L: lambda a: a.sin(), 0.2, None, {}),
    "jvp-tuple": ("jvp", lambda L: lambda a, b: a * b.sum(), (X3, Y2), (np.ones(3), np.ones(2)), {}),
    "jvp-multi-out": ("jvp", lambda L: lambda a: (a.sin(), a.sum()), X3, np.ones(3), {}),
    "jvp-create": ("jvp", lambda L: lambda a: a.sin() * a, X3, np.ones(3), {"create_graph": True}),
    "hvp-single": ("hvp", lambda L: lambda a: (a ** 3).sum(), X3, np.array([1.0, -2.0, 0.5]), {}),
    "hvp-none-0d": ("hvp", lambda L: lambda a: a.sin() * a, 0.6, None, {}),
    "hvp-tuple": ("hvp", lambda L: lambda a, b: (a ** 3).sum() * b.sum(), (X3, Y2), (np.ones(3), Y2), {}),
    "hvp-create": ("hvp", lambda L: lambda a: (a ** 4).sum(), X3, np.ones(3), {"create_graph": True}),
    "hvp-indep": ("hvp", lambda L: lambda a: a.sum(), X3, X3, {}),
    "vhp-single": ("vhp", lambda L: lambda a: (a.sin() * a).sum(), X3, np.array([1.0, -2.0, 0.5]), {}),
    "vhp-tuple": ("vhp", lambda L: lambda a, b: (a ** 3).sum() * b.sum(), (X3, Y2), (np.ones(3), Y2), {}),
    "vhp-f32": ("vhp", lambda L: lambda a: (a ** 3).sum(), X3, np.ones(3), {"f32": True}),
    "jac-identity": ("jacobian", lambda L: lambda a, b: (a, b * 1), (X3, Y2), None, {}),
    "jac-outer-broadcast": ("jacobian", lambda L: lambda a, b: a.unsqueeze(1) * b.unsqueeze(0).exp(), (X3, Y2),
                            None, {}),
    "jac-mixed-dtypes": ("jacobian", lambda L: lambda a, b: a.sin() * b.sum(), (X3, Y2), None,
                         {"dtypes": ("float32", "float64")}),
    "hess-mixed-dtypes": ("hessian", lambda L: lambda a, b: (a.sin() * b.sum() ** 2).sum(), (X3, Y2), None,
                          {"dtypes": ("float64", "float32")}),
    "jac-batched-matmul": ("jacobian", lambda L: lambda a: (a.reshape(2, 1, 3) @ a.reshape(2, 3, 1)).tanh(),
                           np.arange(6) * 0.1 - 0.2, None, {}),
    "hess-matmul": ("hessian", lambda L: lambda a: ((L.tensor(_M.tolist(), dtype=L.float64) @ a).tanh() ** 2)
                    .sum(), X3, None, {}),
    "hess-create-tuple": ("hessian", lambda L: lambda a, b: (a ** 2).sum() * b.exp().sum(), (X3, Y2), None,
                          {"create_graph": True}),
    "jvp-create-tuple": ("jvp", lambda L: lambda a, b: (a * b.sum(), b.sin()), (X3, Y2), (X3, Y2),
                         {"create_graph": True}),
    "vjp-create-tuple": ("vjp", lambda L: lambda a, b: (a * b.sum(), b.sin()), (X3, Y2), (X3, Y2),
                         {"create_graph": True}),
    "jac-detach-inside": ("jacobian", lambda L: lambda a: a * a.detach() + a.sin(), X3, None, {}),
    "jac-inplace-inside": ("jacobian", lambda L: lambda a: a.clone().mul_(2).exp(), X3, None, {}),
    "jac-same-output-twice": ("jacobian", lambda L: lambda a: (a.sin(), a.sin(), a.sum()), X3, None, {}),
    "jac-const-inside": ("jacobian", lambda L: lambda a: a * L.ones(3, dtype=L.float64) + L.zeros(3, dtype=L.float64),
                         X3, None, {}),
    "jac-scalar-chain-0d": ("jacobian", lambda L: lambda a, b: ((a * b).sin() * 2.0 + a / b).exp(), (0.3, 0.8),
                            None, {}),
    "hess-scalar-chain-0d": ("hessian", lambda L: lambda a, b: ((a * b).sin() * 2.0 + a / b).exp(), (0.3, 0.8),
                             None, {}),
    "hess-0d-create": ("hessian", lambda L: lambda a: (a * a.sin()).exp(), 0.7, None, {"create_graph": True}),
    "jac-f32-matmul": ("jacobian", lambda L: lambda a: (L.tensor(_M.tolist()) @ a).tanh(), X3, None, {"f32": True}),
    "hess-f32-matmul": ("hessian", lambda L: lambda a: (L.tensor(_M.tolist()) @ a).tanh().sum(), X3, None,
                        {"f32": True}),
    "jac-clamp-relu": ("jacobian", lambda L: lambda a: a.clamp(-0.5, 0.5) + a.relu() * 3, X3, None, {}),
    "hess-abs-max": ("hessian", lambda L: lambda a: (a.abs() ** 3).sum() + L.maximum(a, a * 0.5).exp().sum(), X3,
                     None, {}),
    "jvp-mixed-out-dtypes": ("jvp", lambda L: lambda a, b: (a * 2, b.sum() * a), (X3, Y2), (X3, Y2),
                             {"dtypes": ("float32", "float64")}),
    "vhp-create-tuple": ("vhp", lambda L: lambda a, b: (a ** 3).sum() * b.sum(), (X3, Y2), (X3, Y2),
                         {"create_graph": True}),
}


def _to_lib(L, x, dtype):
    if x is None:
        return None
    if isinstance(x, tuple):
        return tuple(_to_lib(L, e, dtype) for e in x)
    if isinstance(x, float):
        return L.tensor(x, dtype=dtype)
    return L.tensor(np.asarray(x).tolist(), dtype=dtype)


def _call(L, case, requires_grad=False):
    api, make_f, inputs, v, kwargs = case
    kwargs = dict(kwargs)
    dtype = L.float32 if kwargs.pop("f32", False) else L.float64
    dtypes = kwargs.pop("dtypes", None)
    if dtypes:
        ins = tuple(_to_lib(L, x, getattr(L, d)) for x, d in zip(inputs, dtypes, strict=True))
    else:
        ins = _to_lib(L, inputs, dtype)
    if requires_grad:
        for t in ins if isinstance(ins, tuple) else (ins,):
            t.requires_grad_()
    args = (ins,) if api in ("jacobian", "hessian") else (ins, _to_lib(L, v, dtype))
    return getattr(L.autograd.functional, api)(make_f(L), *args, **kwargs)


def _structure(r):
    """Nesting, shapes, dtypes and requires_grad, library-independent."""
    if isinstance(r, tuple):
        return tuple(_structure(e) for e in r)
    assert not isinstance(r, list)
    return ("T", tuple(r.shape), str(r.dtype).rsplit(".", 1)[-1], r.requires_grad)


def _leaves(r):
    if isinstance(r, tuple):
        return [x for e in r for x in _leaves(e)]
    return [np.asarray(r.detach().tolist(), dtype=np.float64)]


@pytest.mark.torch
@pytest.mark.parametrize("requires_grad", [False, True], ids=["plain", "input-requires-grad"])
@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_matches_torch_functional(name, requires_grad):
    torch = pytest.importorskip("torch")
    case = TORCH_CASES[name]
    expected = _call(torch, case, requires_grad)
    got = _call(tape, case, requires_grad)
    assert _structure(got) == _structure(expected)
    tol = 1e-5 if case[4].get("f32") or "float32" in case[4].get("dtypes", ()) else 1e-12
    for g, e in zip(_leaves(got), _leaves(expected), strict=True):
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol)


def _torch_hessian_entry_grad(L, x0):
    x = L.tensor(x0.tolist(), dtype=L.float64, requires_grad=True)
    H = L.autograd.functional.hessian(lambda a: (a ** 4).sum() + (a[0] * a[2]).sin() * a[1], x,
                                      create_graph=True)
    H[0, 2].backward()
    return np.asarray(x.grad.tolist())


@pytest.mark.torch
def test_grad_of_hessian_entry_matches_torch():
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(_torch_hessian_entry_grad(tape, X3), _torch_hessian_entry_grad(torch, X3),
                               rtol=1e-12, atol=1e-12)


def _nonleaf_inputs_run(L):
    """Inputs with history: create_graph=True lets gradients flow back to the leaf."""
    import importlib

    F = importlib.import_module(L.__name__ + ".autograd.functional")
    leaf = L.tensor(X3.tolist(), dtype=L.float64, requires_grad=True)
    x = leaf * 2
    out = []
    J = F.jacobian(lambda a: a.sin() * a, x, create_graph=True)
    H = F.hessian(lambda a: (a ** 3).sum() * a[0], x, create_graph=True)
    _, hv = F.hvp(lambda a: (a.exp() * a).sum(), x, x, create_graph=True)
    for r in (J, H, hv):
        g, = L.autograd.grad(r.sum(), leaf, retain_graph=True)
        out.append(np.asarray(g.tolist()))
    # without create_graph the results are cut from the inputs' history
    J = F.jacobian(lambda a: a.sin() * a, x)
    out.append(np.array([float(J.requires_grad), float(x.grad_fn is not None)]))
    return out


@pytest.mark.torch
def test_nonleaf_inputs_match_torch():
    torch = pytest.importorskip("torch")
    for g, e in zip(_nonleaf_inputs_run(tape), _nonleaf_inputs_run(torch), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


def _under_no_grad(L):
    import importlib

    F = importlib.import_module(L.__name__ + ".autograd.functional")
    x = L.tensor(X3.tolist(), dtype=L.float64)
    with L.no_grad():
        J = F.jacobian(lambda a: a.sin() * a, x)
        H = F.hessian(lambda a: (a ** 3).sum(), x)
        o, hv = F.hvp(lambda a: (a ** 3).sum(), x, x)
        o2, jv = F.jvp(lambda a: a.sin(), x, x)
        o3, vj = F.vjp(lambda a: a.sin(), x, x)
    return [J, H, o, hv, o2, jv, o3, vj]


@pytest.mark.torch
def test_functional_under_no_grad_matches_torch():
    torch = pytest.importorskip("torch")
    got, expected = _under_no_grad(tape), _under_no_grad(torch)
    assert [_structure(t) for t in got] == [_structure(t) for t in expected]
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(arr(g), e.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.torch
def test_rosenbrock_hessian_matches_torch():
    torch = pytest.importorskip("torch")
    x0 = rosen_point(50)
    got = hessian(rosenbrock, t64(x0))
    expected = torch.autograd.functional.hessian(rosenbrock, torch.tensor(x0, dtype=torch.float64))
    np.testing.assert_allclose(arr(got), expected.numpy(), rtol=1e-13, atol=1e-12)


# Calls that must fail the same way in both libraries.
ERROR_CASES = {
    "vjp-v-none-nonscalar": lambda L, F, x, y: F.vjp(lambda a: a.sin(), x),
    "jvp-v-none-nonscalar": lambda L, F, x, y: F.jvp(lambda a: a.sin(), x),
    "hvp-v-none-nonscalar-input": lambda L, F, x, y: F.hvp(lambda a: (a ** 2).sum(), x),
    "vhp-v-none-nonscalar-input": lambda L, F, x, y: F.vhp(lambda a: (a ** 2).sum(), x),
    "hvp-nonscalar-output": lambda L, F, x, y: F.hvp(lambda a: a ** 2, x, x),
    "vhp-nonscalar-output": lambda L, F, x, y: F.vhp(lambda a: a ** 2, x, x),
    "hessian-nonscalar-output": lambda L, F, x, y: F.hessian(lambda a: a ** 2, x),
    "strict-jacobian": lambda L, F, x, y: F.jacobian(lambda a, b: a * 2, (x, y), strict=True),
    "strict-jacobian-second-output": lambda L, F, x, y: F.jacobian(lambda a, b: (a * b.sum(), a * 2), (x, y),
                                                                   strict=True),
    "strict-jacobian-const-output": lambda L, F, x, y: F.jacobian(lambda a: L.ones(2), x, strict=True),
    "strict-jacobian-create-graph": lambda L, F, x, y: F.jacobian(lambda a: a * 2, x, strict=True,
                                                                  create_graph=True),
    "strict-vjp": lambda L, F, x, y: F.vjp(lambda a, b: a * 2, (x, y), x, strict=True),
    "strict-jvp": lambda L, F, x, y: F.jvp(lambda a, b: a * 2, (x, y), (x, y), strict=True),
    "strict-hessian-input-1": lambda L, F, x, y: F.hessian(lambda a, b: (a ** 2).sum() + b.sum(), (x, y),
                                                           strict=True),
    "strict-hessian-linear": lambda L, F, x, y: F.hessian(lambda a: a.sum(), x, strict=True),
    "strict-hessian-unreached-output": lambda L, F, x, y: F.hessian(
        lambda a: a.long().float().requires_grad_().clone().sum(), x, strict=True),
    "strict-hessian-vectorize": lambda L, F, x, y: F.hessian(lambda a: (a ** 3).sum(), x, strict=True,
                                                             vectorize=True),
    "strict-hvp-linear": lambda L, F, x, y: F.hvp(lambda a: a.sum(), x, x, strict=True),
    "strict-vhp-linear": lambda L, F, x, y: F.vhp(lambda a: a.sum(), x, x, strict=True),
    "strict-vectorize": lambda L, F, x, y: F.jacobian(lambda a: a * 2, x, strict=True, vectorize=True),
    "strict-vectorize-output-first": lambda L, F, x, y: F.jacobian(lambda a: a.detach(), x, strict=True,
                                                                   vectorize=True),
    "strict-vectorize-hessian": lambda L, F, x, y: F.hessian(lambda a: (a ** 3).sum(), x, strict=True,
                                                             vectorize=True),
    "strict-vectorize-hessian-linear": lambda L, F, x, y: F.hessian(lambda a: (3 * a).sum(), x, strict=True,
                                                                    vectorize=True),
    "strict-hessian-detached-grad": lambda L, F, x, y: F.hessian(
        lambda a: a.long().double().requires_grad_().clone().sum(), x, strict=True),
    "v-wrong-shape": lambda L, F, x, y: F.vjp(lambda a: a.sin(), x, y),
    "v-wrong-count": lambda L, F, x, y: F.jvp(lambda a, b: a * b.sum(), (x, y), (x,)),
    "v-not-tensor": lambda L, F, x, y: F.vjp(lambda a: a.sin(), x, 1.0),
    "output-not-tensor": lambda L, F, x, y: F.jacobian(lambda a: 3.0, x),
    "output-list": lambda L, F, x, y: F.jacobian(lambda a: [a, a], x),
    "inputs-not-tensor": lambda L, F, x, y: F.jacobian(lambda a: a, 3.0),
    "inputs-list": lambda L, F, x, y: F.jacobian(lambda a, b: a, [x, y]),
    "forward-mode-without-vectorize": lambda L, F, x, y: F.jacobian(lambda a: a * 2, x, strategy="forward-mode"),
}


def _error_of(L, case):
    import importlib

    F = importlib.import_module(L.__name__ + ".autograd.functional")
    x = L.tensor(X3.tolist(), dtype=L.float64)
    y = L.tensor(Y2.tolist(), dtype=L.float64)
    try:
        case(L, F, x, y)
    except Exception as exc:  # noqa: BLE001 - the exception itself is what is compared
        return type(exc).__name__, str(exc)
    return None


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(ERROR_CASES))
def test_errors_match_torch(name):
    torch = pytest.importorskip("torch")
    expected = _error_of(torch, ERROR_CASES[name])
    assert expected is not None, "torch accepted the call"
    got = _error_of(tape, ERROR_CASES[name])
    assert got is not None, f"tape accepted the call; torch raises {expected}"
    assert got[0] == expected[0]
    assert got[1] == expected[1], (got, expected)


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(SCALAR_FUNCS))
def test_fourth_derivatives_match_torch(name):
    torch = pytest.importorskip("torch")

    def derivs(L):
        x = L.tensor([0.3, -0.8, 1.3], dtype=L.float64, requires_grad=True)
        y, out = SCALAR_FUNCS[name][0](x), []
        for _ in range(4):
            y, = L.autograd.grad(y.sum(), x, create_graph=True)
            out.append(y.detach().tolist())
        return np.array(out)

    np.testing.assert_allclose(derivs(tape), derivs(torch), rtol=1e-13, atol=1e-13)


def _grad_penalty_grads(L, dtype):
    """Double backward through a tanh MLP: mse + 0.1 * sum |d mse / d p|^2, then backward()."""
    rng = np.random.default_rng(7)
    shapes = [(4, 6), (6,), (6, 5), (5,), (5, 1), (1,)]
    params = [L.tensor(rng.standard_normal(s).tolist(), dtype=dtype, requires_grad=True) for s in shapes]
    x = L.tensor(rng.standard_normal((8, 4)).tolist(), dtype=dtype)
    t = L.tensor(rng.standard_normal((8, 1)).tolist(), dtype=dtype)
    w1, b1, w2, b2, w3, b3 = params
    y = ((x @ w1 + b1).tanh() @ w2 + b2).tanh() @ w3 + b3
    mse = ((y - t) ** 2).mean()
    grads = L.autograd.grad(mse, params, create_graph=True)
    loss = mse + 0.1 * sum((g ** 2).sum() for g in grads)
    loss.backward()
    return [np.asarray(loss.item())] + [np.asarray(p.grad.tolist()) for p in params]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_grad_penalty_double_backward_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    tol = 1e-12 if dtype == "float64" else 1e-4
    got = _grad_penalty_grads(tape, getattr(tape, dtype))
    expected = _grad_penalty_grads(torch, getattr(torch, dtype))
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol)


def test_jvp_of_several_outputs_that_alias_the_input():
    # (the double-backward trick records onto the tape it sweeps: handing out a leaf's gradient
    # imported rows while the sweep read the tape's sources)
    x = tape.ones(1, 1, dtype=tape.float64)
    v = tape.ones(1, 1, dtype=tape.float64)
    outs, tangents = tape.autograd.functional.jvp(lambda x: tuple(tape.atleast_2d(x, x * 2.0)), (x,), (v,))
    assert [t.tolist() for t in outs] == [[[1.0]], [[2.0]]]
    assert [t.tolist() for t in tangents] == [[[1.0]], [[2.0]]]
