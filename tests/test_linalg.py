"""Linear algebra against PyTorch: values, which outputs require grad, ``grad_fn`` names and the
nodes behind them, first and second gradients, warnings and errors (type and message), on cases
the op table's strategies do not draw (batches, singular and indefinite matrices, repeated
eigenvalues, vectors on the right, integer inputs)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tape

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

rng = np.random.default_rng(14)
X = rng.standard_normal((3, 3))
Y = rng.standard_normal((3, 3))
XB = rng.standard_normal((2, 3, 3))
R = rng.standard_normal((3, 2))
V = rng.standard_normal(3)


def spd(M, x):
    return x @ x.mT + 3 * M.eye(x.shape[-1], dtype=x.dtype)


def sym(M, x):
    return x + x.mT


def squares(M, out):
    """Sign-free functions of eigen/singular vectors (their signs are LAPACK's choice)."""
    return tuple(t * t for t in out)


def chain(t, depth: int = 2) -> str:
    """The graph behind ``t`` as node names, as PyTorch's ``next_functions`` show it, to ``depth``
    (the inputs here are built with batched products, whose nodes are matmul's own)."""
    def walk(node, d):
        if node is None:
            return "None"
        name = node.name()
        if name.endswith("AccumulateGrad"):
            return "leaf"
        kids = [walk(n[0], d - 1) for n in node.next_functions] if d > 1 else []
        return name + ("(" + ", ".join(kids) + ")" if kids else "")
    return walk(t.grad_fn, depth)


CASES = [
    ("M.linalg.inv(spd(M, a))", [X]), ("spd(M, a).inverse()", [XB]), ("M.inverse(spd(M, a))", [X]),
    ("M.linalg.det(a)", [X]), ("a.det()", [XB]), ("M.det(a)", [X]),
    ("M.linalg.slogdet(a)", [X]), ("M.linalg.slogdet(a).logabsdet", [XB]), ("a.slogdet()[1]", [X]),
    ("M.logdet(spd(M, a))", [X]), ("M.logdet(a)", [X]), ("a.logdet()", [XB]),
    ("M.linalg.solve(spd(M, a), b)", [X, Y]), ("M.linalg.solve(spd(M, a), b)", [X, V]),
    ("M.linalg.solve(spd(M, a), b, left=False)", [X, Y]), ("M.linalg.solve(a + 3 * M.eye(3), b, left=False)", [X, Y]),
    ("M.linalg.solve(spd(M, a), b)", [XB, Y]),
    ("M.linalg.solve(spd(M, a), b)", [X, XB]), ("M.linalg.solve(spd(M, a), b)", [XB, XB[:, 0]]),
    ("M.linalg.solve(spd(M, a), b)", [X, R]),
    ("M.linalg.solve_triangular(spd(M, a), b, upper=True)", [X, Y]),
    ("M.linalg.solve_triangular(spd(M, a), b, upper=False, left=False)", [XB, Y]),
    ("M.linalg.solve_triangular(a, b, upper=False, unitriangular=True)", [X, R]),
    ("M.linalg.cholesky(spd(M, a))", [X]), ("M.linalg.cholesky(spd(M, a), upper=True)", [XB]),
    ("M.cholesky(spd(M, a))", [X]), ("spd(M, a).cholesky(upper=True)", [X]),
    ("M.linalg.eigvalsh(sym(M, a))", [X]), ("squares(M, M.linalg.eigh(sym(M, a)))", [XB]),
    ("M.linalg.eigh(sym(M, a), UPLO='U').eigenvalues", [X]), ("M.linalg.eigh(a)[0]", [X]),
    ("M.linalg.svdvals(a)", [XB]), ("squares(M, M.linalg.svd(a, full_matrices=False))", [XB]),
    ("squares(M, M.linalg.svd(a, full_matrices=False))", [R]),
    ("squares(M, M.linalg.svd(a.mT, full_matrices=False))", [R]),
    ("M.linalg.svd(a).S", [R]), ("squares(M, a.svd())", [X]), ("squares(M, M.svd(a, some=False))", [X]),
    ("M.svd(a, compute_uv=False)", [R]),
    ("M.linalg.qr(a)", [R]), ("M.linalg.qr(a.mT)", [R]), ("M.linalg.qr(a, mode='complete')", [XB]),
    ("M.linalg.qr(a.mT, mode='complete')", [R]),
    ("M.linalg.pinv(a)", [R]), ("M.linalg.pinv(a.mT)", [XB]), ("M.linalg.pinv(sym(M, a), hermitian=True)", [X]),
    ("M.linalg.pinv(a, atol=0.5)", [R]), ("M.linalg.pinv(a, rtol=0.5)", [XB]), ("M.linalg.pinv(a, 0.5)", [R]),
    ("a.pinverse()", [R]), ("M.pinverse(a, rcond=0.4)", [X]),
    ("M.kron(a, b)", [X, R]), ("a.kron(b)", [V, R]), ("M.kron(a, b)", [XB, V]), ("M.kron(a, b)", [V, V[:0].copy()]),
    ("M.linalg.matrix_norm(a, 'nuc')", [R]), ("M.linalg.matrix_norm(a, 2)", [XB]),
    ("M.linalg.matrix_norm(a, -2, keepdim=True)", [XB]), ("M.linalg.matrix_norm(a)", [XB]),
    ("M.linalg.matrix_norm(a, 1)", [R]), ("M.linalg.matrix_norm(a, float('inf'), dim=(0, 1))", [R]),
    ("M.linalg.norm(a)", [XB]), ("M.linalg.norm(a, 2)", [R]), ("M.linalg.norm(a, 'fro', dim=(0, 2))", [XB]),
    ("M.linalg.norm(a, 3)", [V]), ("M.linalg.norm(a, 1, dim=1)", [X]),
    ("a.trace()", [X]), ("M.trace(a)", [R]), ("M.vdot(a, b)", [V, V * 2]), ("a.vdot(b)", [V, V[::-1].copy()]),
    ("M.outer(a, b)", [V, R[:, 0]]), ("a.ger(b)", [V, V]), ("M.ger(a, b)", [V, V]),
    ("M.linalg.cross(a, b)", [X, Y]), ("M.linalg.cross(a, b, dim=0)", [R[:, :1], XB[0, :, :2]]),
    ("M.cross(a, b, dim=1)", [X, Y]), ("a.cross(b)", [R, R[::-1].copy()]),
    ("M.bmm(a, b)", [XB, XB[::-1].copy()]), ("a.bmm(b)", [XB, XB]),
    ("M.linalg.vecdot(a, b)", [X, Y]), ("M.linalg.vecdot(a, b, dim=0)", [XB, Y]),
    ("M.linalg.multi_dot([a, b, a])", [X, Y]), ("M.linalg.multi_dot([a[0], b, a[:, :2]])", [X, Y]),
    ("M.linalg.multi_dot([a, b])", [X, R]), ("M.linalg.multi_dot([a, b, a, b, a])", [X, Y]),
    ("M.linalg.multi_dot([a[:1], b, R_, a[:2, :1]])", [X, Y]),
    ("M.chain_matmul(a, b, a)", [X, Y]), ("M.linalg.matmul(a, b)", [X, Y]),
    ("M.linalg.matrix_power(spd(M, a), -2)", [X]), ("M.linalg.matrix_power(spd(M, a), -1)", [X]),
    ("a.matrix_power(5)", [X]), ("M.matrix_power(a, 3)", [X]), ("a.matrix_power(2)", [X]),
    ("a.matrix_power(1)", [X]), ("a.matrix_power(6)", [X]),
]


def _run(M, expr, arrays, grad=True):
    ts = [M.tensor(a, requires_grad=grad) for a in arrays]
    env = {"M": M, "spd": spd, "sym": sym, "squares": squares, "a": ts[0], "b": ts[-1], "R_": M.tensor(R)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = eval(expr, env)
    # (deprecation warnings are given once per process, as PyTorch's)
    return ts, out, [str(w.message).split("\n")[0] for w in caught if "deprecated" not in str(w.message)]


def _values(out):
    return [t.detach().numpy() for t in (out if isinstance(out, tuple) else (out,))]


def _np(t) -> np.ndarray:
    t = t.detach()
    try:
        return t.numpy()
    except RuntimeError:        # PyTorch's ZeroTensor (a second derivative that is zero)
        return t.clone().numpy()


@pytest.mark.parametrize("expr,arrays", CASES, ids=[c[0] for c in CASES])
def test_values_nodes_and_gradients_as_pytorch(expr, arrays):
    (tt, yt, wt), (ta, ya, wa) = (_run(torch, expr, arrays), _run(tape, expr, arrays))
    assert wa == wt
    outs_t = list(yt) if isinstance(yt, tuple) else [yt]
    outs_a = list(ya) if isinstance(ya, tuple) else [ya]
    if isinstance(yt, tuple):
        assert type(ya).__name__ == type(yt).__name__
    for o_t, o_a in zip(outs_t, outs_a):
        assert tuple(o_a.shape) == tuple(o_t.shape)
        assert str(o_a.dtype) == str(o_t.dtype)
        np.testing.assert_allclose(o_a.detach().numpy(), o_t.detach().numpy(), rtol=1e-9, atol=1e-10)
        assert o_a.requires_grad == o_t.requires_grad
        assert chain(o_a) == chain(o_t)
    grads = []
    for M, ts, outs in ((torch, tt, outs_t), (tape, ta, outs_a)):
        loss = sum((o * M.tensor(np.linspace(0.5, 1.5, o.numel()).reshape(tuple(o.shape)))).sum()
                   for o in outs if o.requires_grad)
        g = M.autograd.grad(loss, ts, create_graph=True, allow_unused=True)
        v = [M.tensor(np.cos(np.arange(t.numel())).reshape(tuple(t.shape))) for t in ts]
        s = sum((gi * vi).sum() for gi, vi in zip(g, v) if gi is not None and gi.requires_grad)
        h = M.autograd.grad(s, ts, allow_unused=True) if isinstance(s, M.Tensor) else [None] * len(ts)
        grads.append((g, h))
    (gt, ht), (ga, ha) = grads
    for a, b in list(zip(ga, gt)) + list(zip(ha, ht)):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(_np(a), _np(b), rtol=1e-7, atol=1e-8)


ERRORS = [
    "M.linalg.inv(M.tensor([[1., 2.], [2., 4.]]))",
    "M.linalg.inv(M.tensor([[[1., 0.], [0., 1.]], [[1., 2.], [2., 4.]]]))",
    "M.linalg.inv(M.zeros(2, 2))", "M.linalg.inv(M.ones(2, 3))", "M.linalg.inv(M.ones(3))",
    "M.linalg.inv(M.ones(2, 2, dtype=M.int64))", "M.linalg.det(M.ones(2, 2, dtype=M.int64))",
    "M.linalg.det(M.ones(2, 3))", "M.linalg.slogdet(M.ones(2, 3))", "M.logdet(M.ones(2, 3))",
    "M.linalg.solve(M.ones(2, 2), M.ones(3, 2))", "M.linalg.solve(M.ones(2, 2), M.ones(2, 3), left=False)",
    "M.linalg.solve(M.ones(2, 2), M.ones(2, 2, dtype=M.float64))", "M.linalg.solve(M.ones(2, 2), M.ones(2))",
    "M.linalg.solve(M.ones(2, 2), M.ones(3))",
    "M.linalg.solve_triangular(M.ones(2, 2), M.ones(3, 2), upper=True)",
    "M.linalg.solve_triangular(M.ones(2, 2), M.ones(2), upper=True)",
    "M.linalg.cholesky(M.tensor([[1., 2.], [2., 1.]]))",
    "M.linalg.cholesky(M.tensor([[[1., 0.], [0., 1.]], [[1., 2.], [2., 1.]]]))",
    "M.cholesky(M.tensor([[1., 2.], [2., 1.]]))", "M.linalg.cholesky(M.ones(2, 3))",
    "M.linalg.eigh(M.ones(2, 3))", "M.linalg.eigh(M.ones(2, 2), UPLO='X')",
    "M.linalg.eigvalsh(M.ones(2, 2, dtype=M.int64))", "M.linalg.svd(M.ones(3))",
    "M.linalg.svd(M.ones(2, 2, dtype=M.int64))", "M.linalg.svdvals(M.ones(3))", "M.trace(M.ones(3))",
    "M.vdot(M.ones(3), M.ones(2))", "M.vdot(M.ones(3, 1), M.ones(2))", "M.outer(M.ones(3, 1), M.ones(2))",
    "M.outer(M.ones(3), M.ones(2, 1))", "M.linalg.cross(M.ones(3, 2), M.ones(3, 2))",
    "M.linalg.cross(M.ones(3), M.ones(2, 3))", "M.cross(M.ones(2, 2), M.ones(2, 2))",
    "M.bmm(M.ones(2, 2), M.ones(2, 2, 2))", "M.bmm(M.ones(2, 2, 2), M.ones(3, 2, 2))",
    "M.bmm(M.ones(2, 2, 2), M.ones(2, 3, 2))", "M.linalg.multi_dot([M.ones(2, 2)])",
    "M.linalg.multi_dot([M.ones(2, 2, 2), M.ones(2, 2)])",
    "M.linalg.multi_dot([M.ones(2, 2), M.ones(2), M.ones(2, 2)])",
    "M.linalg.multi_dot([M.ones(2, 3), M.ones(2, 2)])",
    "M.linalg.multi_dot([M.ones(2, 2), M.ones(2, 2, dtype=M.float64)])",
    "M.linalg.matrix_power(M.ones(2, 3), 2)", "M.linalg.matrix_power(M.ones(3), 2)",
    "M.linalg.matrix_power(M.ones(2, 2, dtype=M.int64), -1)", "M.linalg.matrix_norm(M.ones(3))",
    "M.linalg.matrix_norm(M.ones(3, 3), 'abc')", "M.linalg.norm(M.ones(3, 3, 3), 2)",
    "M.linalg.vecdot(M.ones(3), M.ones(3, dtype=M.float64))",
    "M.linalg.pinv(M.ones(3))", "M.linalg.pinv(M.ones(3, 3, dtype=M.int64))",
    "M.linalg.pinv(M.ones(3, 2), hermitian=True)", "M.linalg.qr(M.ones(3))", "M.linalg.qr(M.ones(3, 3, dtype=M.int64))",
    "M.linalg.qr(M.ones(2, 2), mode='x')",
    "M.linalg.qr(M.ones(3, 2, requires_grad=True), mode='r').R.sum().backward()",
    "M.linalg.qr(M.ones(3, 2, requires_grad=True), mode='r').Q.sum().backward()",
    "M.linalg.qr(M.eye(3, 2, requires_grad=True), mode='complete').R.sum().backward()",
]


@pytest.mark.parametrize("expr", ERRORS)
def test_errors_as_pytorch(expr):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as expected:
            eval(expr, {"M": torch})
        with pytest.raises(Exception) as got:
            eval(expr, {"M": tape})
    assert type(got.value).__name__ == type(expected.value).__name__
    assert isinstance(got.value, RuntimeError) == isinstance(expected.value, RuntimeError)
    assert str(got.value).split("\n")[0] == str(expected.value).split("\n")[0]


@pytest.mark.parametrize("expr", ["M.linalg.matrix_power(M.ones(2, 2, dtype=M.int64), 3)",
                                  "M.trace(M.ones(2, 3, dtype=M.int64))",
                                  "M.linalg.matrix_power(M.ones(2, 2, dtype=M.int64), 0)",
                                  "M.vdot(M.arange(3), M.arange(3))", "M.outer(M.arange(3), M.arange(2))",
                                  "M.linalg.det(M.zeros(0, 2, 2))", "M.linalg.inv(M.zeros(0, 2, 2))",
                                  "M.linalg.eigvalsh(M.zeros(2, 0, 0))", "M.linalg.svdvals(M.zeros(2, 0, 3))",
                                  "M.linalg.pinv(M.zeros(0, 2))", "M.kron(M.arange(3), M.arange(2))",
                                  "M.linalg.pinv(M.zeros(2, 3, 0))"])
def test_integer_and_empty_inputs_as_pytorch(expr):
    want = eval(expr, {"M": torch})
    got = eval(expr, {"M": tape})
    assert str(got.dtype) == str(want.dtype) and tuple(got.shape) == tuple(want.shape)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_linalg_error_is_a_runtime_error():
    assert issubclass(tape.linalg.LinAlgError, RuntimeError)
    with pytest.raises(tape.linalg.LinAlgError):
        tape.linalg.cholesky(-tape.eye(2))


def test_repeated_eigenvalues_give_pytorch_non_finite_gradient():
    # PyTorch's eigh/svd gradients divide by eigenvalue gaps: not defined where they repeat.
    for M in (torch, tape):
        a = M.eye(3, dtype=M.float64).requires_grad_()
        vals, vecs = M.linalg.eigh(a * 2.0)
        (vecs * M.arange(9.0, dtype=M.float64).reshape(3, 3)).sum().backward()
        g = a.grad.numpy()
        if M is torch:
            want = g
    np.testing.assert_array_equal(np.isfinite(g), np.isfinite(want))
    assert not np.isfinite(g).all()


def test_named_tuples_as_pytorch():
    a = tape.tensor(X @ X.T + 3 * np.eye(3))
    out = tape.linalg.slogdet(a)
    assert out.sign is out[0] and out.logabsdet is out[1]
    assert out.sign.item() == 1.0 and out.logabsdet.item() == pytest.approx(np.log(np.linalg.det(a.numpy())))
    assert repr(out).startswith("torch.return_types.linalg_slogdet(")
    assert repr(a.slogdet()).startswith("torch.return_types.slogdet(")
    assert tape.linalg.eigh(a)._fields == ("eigenvalues", "eigenvectors")
    assert tape.linalg.svd(a)._fields == ("U", "S", "Vh")
    assert tape.svd(a)._fields == ("U", "S", "V")


def test_det_of_a_singular_matrix_differentiates_as_pytorch():
    # No inverse: PyTorch's cofactors from an SVD, to the second order.
    got = []
    for M in (torch, tape):
        a = M.tensor([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [1.0, 1.0, 1.0]], dtype=M.float64, requires_grad=True)
        g, = M.autograd.grad(M.linalg.det(a), a, create_graph=True)
        h, = M.autograd.grad((g * M.arange(9.0, dtype=M.float64).reshape(3, 3)).sum(), a)
        got.append((g.detach().numpy(), h.numpy()))
    np.testing.assert_allclose(got[1][0], got[0][0], atol=1e-12)
    np.testing.assert_allclose(got[1][1], got[0][1], atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_an_output_no_gradient_reached_passes_zeros(dtype):
    # The adjoint of eigh's unused eigenvectors is part of the row's: a retained graph's second
    # backward reuses the buffer that the first one filled.
    dt = getattr(tape, dtype)
    x = tape.tensor(X, dtype=dt, requires_grad=True)
    vals, vecs = tape.linalg.eigh(sym(tape, x) + tape.tensor(np.diag([10.0, 20.0, 30.0]), dtype=dt))
    (vecs * tape.tensor(Y, dtype=dt)).sum().backward(retain_graph=True)
    x.grad = None
    vals.sum().backward(retain_graph=True)
    # d(sum of eigenvalues)/dA = I, symmetrized by A = x + x^T: 2 I
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.eye(3), atol=1e-5)


def test_a_missing_linalg_name_says_it_is_not_supported_yet():
    with pytest.raises(AttributeError, match="tape.linalg.eig is not supported yet"):
        tape.linalg.eig
    with pytest.raises(AttributeError, match="module 'tape.linalg' has no attribute 'lux'"):
        tape.linalg.lux
