"""``torch.linalg``'s LU family, the ``*_ex`` forms, lstsq, matrix_exp and the rest of issue 14's list
against PyTorch: values (singular inputs included: ``info``, LAPACK's inf and nan), named tuples, nodes,
gradients to the third order, plain backward, and errors (type and message)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tape

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

rng = np.random.default_rng(44)
X = rng.standard_normal((3, 3))
XB = rng.standard_normal((2, 3, 3))
W = rng.standard_normal((3, 5))
T = rng.standard_normal((5, 3))
R = rng.standard_normal((3, 2))
RB = rng.standard_normal((2, 1, 3, 2))
V = rng.standard_normal(3)
SINGULAR = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
INDEFINITE = np.array([[4.0, 2.0, 1.0], [2.0, 1.0, 3.0], [1.0, 3.0, 5.0]])


def spd(M, x):
    return x @ x.mT + 3 * M.eye(x.shape[-1], dtype=x.dtype)


def chain(t, depth: int = 3) -> str:
    """The graph behind ``t`` as node names (PyTorch's ``next_functions``), to ``depth``."""
    def walk(node, d):
        if node is None:
            return "None"
        name = node.name()
        if name.endswith("AccumulateGrad"):
            return "leaf"
        kids = [walk(n[0], d - 1) for n in node.next_functions] if d > 1 else []
        return name + ("(" + ", ".join(kids) + ")" if kids else "")
    return walk(t.grad_fn, depth)


def _np(t) -> np.ndarray:
    t = t.detach()
    try:
        return t.numpy()
    except RuntimeError:        # PyTorch's ZeroTensor (a derivative that is zero)
        return t.clone().numpy()


CASES = [
    ("M.linalg.lu_factor(a)", [X]), ("M.linalg.lu_factor(a)", [XB]), ("M.linalg.lu_factor(a)", [W]),
    ("M.linalg.lu_factor(a)", [T]), ("M.linalg.lu_factor_ex(a)", [XB]), ("M.linalg.lu_factor_ex(a).LU", [T]),
    ("M.linalg.lu(a)", [X]), ("M.linalg.lu(a)", [XB]), ("M.linalg.lu(a)", [W]), ("M.linalg.lu(a)", [T]),
    ("M.linalg.lu(a).L", [T]), ("M.linalg.lu(a).U", [W]), ("M.linalg.lu(a)[1]", [X]),
    ("M.linalg.lu_solve(*M.linalg.lu_factor(a), b)", [X, R]),
    ("M.linalg.lu_solve(*M.linalg.lu_factor(a), b)", [XB, RB]),
    ("M.linalg.lu_solve(*M.linalg.lu_factor(a), b, adjoint=True)", [XB, R]),
    ("M.linalg.lu_solve(*M.linalg.lu_factor(a), b, left=False)", [X, R.T.copy()]),
    ("M.linalg.lu_solve(*M.linalg.lu_factor(a), b, left=False, adjoint=True)", [XB, R.T.copy()]),
    ("M.linalg.lu_solve(*M.linalg.lu_factor(a.detach()), b)", [X, R]),
    ("M.linalg.lu_solve(*M.linalg.lu_factor(a), b.detach())", [X, R]),
    ("M.linalg.solve_ex(a, b)", [X, R]), ("M.linalg.solve_ex(a, b)", [XB, V]),
    ("M.linalg.solve_ex(a, b, left=False)", [X, R.T.copy()]), ("M.linalg.solve_ex(a, b).result", [X, RB]),
    ("M.linalg.inv_ex(a)", [X]), ("M.linalg.inv_ex(a).inverse", [XB]),
    ("M.linalg.cholesky_ex(spd(M, a))", [X]), ("M.linalg.cholesky_ex(spd(M, a), upper=True)", [XB]),
    ("M.linalg.lstsq(a, b)", [T, T[:, :2].copy()]), ("M.linalg.lstsq(a, b, driver='gels')", [T, T[:, :2].copy()]),
    ("M.linalg.lstsq(a, b, driver='gelsd')", [W, R]), ("M.linalg.lstsq(a, b, 0.1, driver='gelss')", [T, T[:, 0].copy()]),
    ("M.linalg.lstsq(a, b, driver='gelsd')", [XB, RB[0]]), ("M.linalg.lstsq(a, b, driver='gels').residuals", [T, T]),
    ("M.linalg.lstsq(a, b.detach(), driver='gelsd')", [T, T]), ("M.linalg.lstsq(a.detach(), b).solution", [T, T]),
    ("M.linalg.matrix_exp(a)", [X]), ("M.matrix_exp(a * 4)", [XB]), ("a.matrix_exp()", [X[:1, :1].copy()]),
    ("M.linalg.matrix_exp(a)", [np.zeros((2, 0, 0))]),
    ("M.linalg.tensorinv(a)", [rng.standard_normal((4, 6, 8, 3))]), ("M.linalg.tensorinv(a, 1)", [X]),
    ("M.linalg.tensorinv(a, ind=1)", [rng.standard_normal((4, 2, 2))]), ("M.linalg.tensorinv(a)", [np.ones((1, 1, 1))]),
    ("M.linalg.tensorsolve(a, b)", [rng.standard_normal((2, 3, 6)), rng.standard_normal((2, 3))]),
    ("M.linalg.tensorsolve(a, b, dims=(0,))", [rng.standard_normal((6, 2, 3)), rng.standard_normal((2, 3))]),
    ("M.linalg.tensorsolve(a.mT, b, dims=[0, 2])", [rng.standard_normal((2, 3, 6)), rng.standard_normal(6)]),
    ("M.linalg.tensorsolve(a, b)", [X, V]),
    ("M.linalg.householder_product(a, b)", [T, V[:2].copy()]), ("M.orgqr(a, b)", [X, V]),
    ("a.orgqr(b)", [rng.standard_normal((2, 4, 2)), rng.standard_normal((2, 2))]),
    ("M.linalg.householder_product(a, b.detach())", [T, V]), ("M.linalg.householder_product(a.detach(), b)", [T, V]),
    ("M.qr(a)", [T]), ("a.qr(some=False)", [XB]), ("M.qr(a, False)", [W]),
]


def _run(M, expr, arrays, grad=True):
    ts = [M.tensor(a, requires_grad=grad) for a in arrays]
    env = {"M": M, "spd": spd, "a": ts[0], "b": ts[-1]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ts, eval(expr, env)


def _loss(M, outs):
    return sum((o * M.tensor(np.linspace(0.5, 1.5, o.numel()).reshape(tuple(o.shape)))).sum()
               for o in outs if o.requires_grad)


@pytest.mark.parametrize("expr,arrays", CASES, ids=[f"{c[0]}-{np.shape(c[1][0])}" for c in CASES])
def test_values_nodes_and_gradients_as_pytorch(expr, arrays):
    (tt, yt), (ta, ya) = _run(torch, expr, arrays), _run(tape, expr, arrays)
    outs_t = list(yt) if isinstance(yt, tuple) else [yt]
    outs_a = list(ya) if isinstance(ya, tuple) else [ya]
    if isinstance(yt, tuple):
        assert type(ya).__name__ == type(yt).__name__ and len(ya) == len(yt)
        assert all(tuple(getattr(ya, f).shape) == tuple(getattr(yt, f).shape) for f in ya._fields)
    for o_t, o_a in zip(outs_t, outs_a):
        assert tuple(o_a.shape) == tuple(o_t.shape) and str(o_a.dtype) == str(o_t.dtype)
        np.testing.assert_allclose(o_a.detach().numpy(), o_t.detach().numpy(), rtol=1e-9, atol=1e-10)
        assert o_a.requires_grad == o_t.requires_grad
        assert chain(o_a) == chain(o_t)
    # gradients of the first three orders, each of the next taken through the last (create_graph)
    results = []
    for M, ts, outs in ((torch, tt, outs_t), (tape, ta, outs_a)):
        orders, s = [], _loss(M, outs)
        for k in range(3):
            g = M.autograd.grad(s, ts, create_graph=k < 2, allow_unused=True)
            orders.append(g)
            v = [M.tensor(np.cos(np.arange(t.numel()) + k).reshape(tuple(t.shape))) for t in ts]
            s = sum((gi * vi).sum() for gi, vi in zip(g, v) if gi is not None and gi.requires_grad)
            if not isinstance(s, M.Tensor):
                break
        results.append(orders)
    assert len(results[0]) == len(results[1])
    for gt, ga in zip(*results):
        for a, b in zip(ga, gt):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_allclose(_np(a), _np(b), rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("expr,arrays", CASES[:20:3], ids=[c[0] for c in CASES[:20:3]])
def test_plain_backward_as_pytorch(expr, arrays):
    got = []
    for M in (torch, tape):
        ts, y = _run(M, expr, arrays)
        _loss(M, list(y) if isinstance(y, tuple) else [y]).backward()
        got.append([t.grad for t in ts])
    for a, b in zip(got[1], got[0]):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-10)


SINGULAR_CASES = [
    "M.linalg.lu_factor_ex(M.tensor(S))", "M.linalg.lu_factor_ex(M.zeros(2, 2, dtype=M.float64))",
    "M.linalg.lu_factor_ex(M.stack([M.tensor(S), M.eye(3, dtype=M.float64)]))",
    "M.linalg.lu(M.tensor(S))", "M.linalg.lu(M.ones(3, 2, dtype=M.float64))",
    "M.linalg.lu_factor(M.tensor([[0., 1.], [1., 0.]]))",
    "M.linalg.solve_ex(M.tensor(S), M.ones(3, 2, dtype=M.float64))",
    "M.linalg.solve_ex(M.tensor(S), M.ones(3, dtype=M.float64))",
    "M.linalg.solve_ex(M.tensor(S), M.ones(2, 3, dtype=M.float64), left=False)",
    "M.linalg.inv_ex(M.tensor(S))", "M.linalg.inv_ex(M.zeros(2, 2, dtype=M.float64))",
    "M.linalg.inv_ex(M.stack([M.tensor(S), M.eye(3, dtype=M.float64)]))",
    "M.linalg.cholesky_ex(M.tensor(P))", "M.linalg.cholesky_ex(M.tensor(P), upper=True)",
    "M.linalg.cholesky_ex(M.tensor([[-1., 0.], [0., 1.]]))",
    "M.linalg.cholesky_ex(M.tensor([[2., 5.], [1., 2.]], dtype=M.float64), upper=True)",
    "M.linalg.cholesky(M.tensor([[2., 1.], [5., 2.]], dtype=M.float64), upper=True)",
    "M.linalg.lu_factor(M.zeros(2, 0, 0))", "M.linalg.lu(M.zeros(0, 3, 2))",
    "M.linalg.lstsq(M.ones(5, 3, dtype=M.float64), M.tensor(S[:, :2]).repeat(2, 1)[:5], driver='gelsd')",
    "M.linalg.lstsq(M.zeros(0, 3, dtype=M.float64), M.zeros(0, 2, dtype=M.float64), driver='gelsd')",
    "M.linalg.lstsq(M.zeros(3, 0, dtype=M.float64), M.zeros(3, 2, dtype=M.float64), driver='gelsd')",
    "M.linalg.lstsq(M.zeros(2, 3, 0, dtype=M.float64), M.zeros(2, 3, 2, dtype=M.float64), driver='gels')",
    "M.linalg.lstsq(M.zeros(0, 4, 2, dtype=M.float64), M.zeros(0, 4, 2, dtype=M.float64), driver='gelss')",
    "M.linalg.matrix_exp(M.tensor([[0., 1e3], [-1e3, 0.]], dtype=M.float64))",
    "M.linalg.householder_product(M.ones(4, 3, dtype=M.float64), M.ones(0, dtype=M.float64))",
    "M.linalg.matrix_exp(M.tensor([[float('inf'), 0.], [0., 1.]], dtype=M.float64))",
]


@pytest.mark.parametrize("expr", SINGULAR_CASES)
def test_singular_and_failed_factorizations_as_pytorch(expr):
    # ``info`` and LAPACK's own partial factors, inf and nan where PyTorch's *_ex return them
    env = {"S": SINGULAR, "P": INDEFINITE}
    want = eval(expr, {"M": torch, **env})
    got = eval(expr, {"M": tape, **env})
    want, got = (want, got) if isinstance(want, tuple) else ((want,), (got,))
    assert type(got).__name__ == type(want).__name__
    for a, b in zip(got, want):
        assert str(a.dtype) == str(b.dtype) and tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)


def test_cholesky_upper_reads_the_upper_triangle():
    # (LAPACK's uplo: [[2, 5], [1, 2]] is positive-definite in its lower triangle only)
    a = tape.tensor([[2.0, 5.0], [1.0, 2.0]], dtype=tape.float64)
    with pytest.raises(tape.linalg.LinAlgError, match="leading minor of order 2"):
        tape.linalg.cholesky(a, upper=True)
    np.testing.assert_allclose(tape.linalg.cholesky(a.mT, upper=True).numpy(),
                               np.linalg.cholesky(a.numpy()).T)


ERRORS = [
    "M.linalg.lu_factor(M.tensor(S))", "M.linalg.lu_factor_ex(M.tensor(S), check_errors=True)",
    "M.linalg.lu_factor(M.stack([M.eye(3, dtype=M.float64), M.tensor(S)]))",
    "M.linalg.lu_factor(M.eye(3), pivot=False)", "M.linalg.lu(M.eye(3), pivot=False)",
    "M.linalg.lu(M.ones(2))", "M.linalg.lu_factor(M.ones(2))", "M.linalg.lu_factor_ex(M.ones(2))",
    "M.linalg.lu_factor(M.ones(2, 2, dtype=M.int64))", "M.linalg.lu(M.ones(2, 2, dtype=M.int64))",
    "M.linalg.lu_factor('x')", "M.linalg.lu('x')",
    "M.linalg.lu_solve(M.ones(3), M.tensor([1, 2, 3], dtype=M.int32), M.eye(3))",
    "M.linalg.lu_solve(M.ones(1, 3), M.tensor([1], dtype=M.int32), M.ones(3, 1))",
    "M.linalg.lu_solve(M.ones(3, 3, dtype=M.int64), M.tensor([1, 2, 3], dtype=M.int32), M.ones(3, 3, dtype=M.int64))",
    "M.linalg.lu_solve(M.eye(3), M.tensor([1, 2, 3]), M.eye(3))",
    "M.linalg.lu_solve(M.eye(3), M.tensor([1, 2], dtype=M.int32), M.eye(3))",
    "M.linalg.lu_solve(M.eye(3), M.tensor([[1, 2, 3]], dtype=M.int32), M.eye(3))",
    "M.linalg.lu_solve(M.eye(3), M.tensor([1, 2, 3], dtype=M.int32), M.ones(1, 2))",
    "M.linalg.lu_solve(M.eye(3), M.tensor([1, 2, 3], dtype=M.int32), M.ones(1, 2), left=False)",
    "M.linalg.lu_solve(M.eye(3), M.tensor([1, 2, 3], dtype=M.int32), M.ones(3))",
    "M.linalg.lu_solve(M.eye(3), M.tensor([1, 2, 3], dtype=M.int32), M.ones(3, 1, dtype=M.float64))",
    "M.linalg.lu_solve(M.eye(3), M.tensor([1, 2, 3], dtype=M.int32), 'x')",
    "M.linalg.lu_solve(M.eye(3), [1, 2, 3], M.eye(3))",
    "M.linalg.solve_ex(M.tensor(S), M.ones(3, dtype=M.float64), check_errors=True)",
    "M.linalg.solve_ex(M.ones(3), M.eye(3))", "M.linalg.solve_ex(M.eye(3), M.ones(2))",
    "M.linalg.solve_ex(M.eye(3), 3)",
    "M.linalg.inv_ex(M.tensor(S), check_errors=True)",
    "M.linalg.inv_ex(M.stack([M.eye(3, dtype=M.float64), M.tensor(S)]), check_errors=True)",
    "M.linalg.inv_ex(M.ones(3, 2))", "M.linalg.inv_ex(M.ones(3, 3, dtype=M.int64))",
    "M.linalg.cholesky_ex(M.tensor(P), check_errors=True)",
    "M.linalg.cholesky_ex(M.stack([M.eye(3, dtype=M.float64), M.tensor(P)]), check_errors=True)",
    "M.linalg.cholesky_ex(M.ones(3, 2))", "M.linalg.cholesky_ex(M.ones(3, 3, dtype=M.int64))",
    "M.linalg.lstsq(M.ones(2, 5, 3), M.ones(5, 1), driver='gels')", "M.linalg.lstsq(M.ones(2, 5, 3), M.ones(3, 2, 5, 1))",
    "M.linalg.lstsq(M.ones(5, 3), M.ones(4, 1))", "M.linalg.lstsq(M.ones(5, 3), M.ones(5, 1, dtype=M.float64))",
    "M.linalg.lstsq(M.ones(5, 3), M.ones(5, 1), driver='x')", "M.linalg.lstsq(M.ones(5), M.ones(5, 1))",
    "M.linalg.lstsq(M.ones(5, 3), M.tensor(1.))", "M.linalg.lstsq(M.ones(5, 3, dtype=M.int64), M.ones(5, 1, dtype=M.int64))",
    "M.linalg.lstsq(M.ones(5, 3), 'x')", "M.linalg.lstsq('x', M.ones(5, 3))",
    "M.linalg.tensorinv(M.ones(6, 4, 24), ind=0)", "M.linalg.tensorinv(M.ones(6, 4, 23))",
    "M.linalg.tensorinv(M.zeros(2, 2, 2, 2, 2, 2), 3)", "M.linalg.tensorinv(M.ones(2, 2, 4, dtype=M.int64))",
    "M.linalg.tensorinv(M.ones(4), 1)", "M.linalg.tensorsolve(M.ones(2, 3, 5), M.ones(2, 3))",
    "M.linalg.tensorsolve(M.zeros(2, 3, 6), M.ones(2, 3))", "M.linalg.tensorsolve(M.ones(2, 3, 6), M.ones(2, 3, dtype=M.float64))",
    "M.linalg.tensorsolve(M.ones(2, 3, 6), M.ones(2, 3), dims=(5,))",
    "M.linalg.tensorsolve(M.ones(6, 2, 3), M.ones(6), dims=(0,))",
    "M.linalg.householder_product(M.ones(3), M.ones(1))", "M.linalg.householder_product(M.ones(3, 4), M.ones(1))",
    "M.linalg.householder_product(M.ones(4, 3), M.ones(4))", "M.linalg.householder_product(M.ones(4, 3), M.ones(2, 2))",
    "M.linalg.householder_product(M.ones(2, 4, 3), M.ones(3, 2))",
    "M.linalg.householder_product(M.ones(4, 3, dtype=M.float64), M.ones(2))",
    "M.linalg.householder_product(M.ones(4, 3, dtype=M.int64), M.ones(2, dtype=M.int64))",
    "M.linalg.householder_product(M.ones(4, 3), 'x')",
    "M.qr(M.ones(3))", "M.qr(M.ones(2, 2, dtype=M.int64))", "M.qr('x')",
    "M.linalg.matrix_exp(M.ones(2, 3))", "M.matrix_exp(M.ones(3))", "M.ones(2, 2, dtype=M.int64).matrix_exp()",
]


@pytest.mark.parametrize("expr", ERRORS)
def test_errors_as_pytorch(expr):
    env = {"S": SINGULAR, "P": INDEFINITE}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as expected:
            eval(expr, {"M": torch, **env})
        with pytest.raises(Exception) as got:
            eval(expr, {"M": tape, **env})
    assert type(got.value).__name__ == type(expected.value).__name__
    assert isinstance(got.value, RuntimeError) == isinstance(expected.value, RuntimeError)
    assert str(got.value).split("\n")[0] == str(expected.value).split("\n")[0]


@pytest.mark.parametrize("create_graph", [False, True])
def test_a_rule_passing_none_leaves_no_gradient(create_graph):
    # (as PyTorch's: householder_product of an empty batch; a plain backward used to write zeros for a
    # None from a Python rule)
    got = []
    for M in (torch, tape):
        e = M.zeros(0, 2, 1, dtype=M.float64, requires_grad=True)
        t = M.zeros(0, 1, dtype=M.float64, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # (PyTorch's warning on backward with create_graph)
            M.linalg.householder_product(e, t).sum().backward(create_graph=create_graph)
        got += [e.grad, t.grad]
    assert all(g is None for g in got)


def test_empty_residuals_pass_no_gradient():
    # (as PyTorch's: no residuals for a square system, so a loss of them leaves no gradient; the
    # recorded backward shows it -- a plain one gives the rule zeros for the solution's gradient)
    got = []
    for M in (torch, tape):
        a = M.tensor(X, requires_grad=True)
        b = M.tensor(R, requires_grad=True)
        out = M.linalg.lstsq(a, b, driver="gelsd")
        assert tuple(out.residuals.shape) == (0,) and out.residuals.requires_grad
        got += M.autograd.grad(out.residuals.sum(), [a, b], allow_unused=True, create_graph=True)
    assert all(g is None for g in got)


SCALED = ["M.addmm(i, a, b, beta=0.5, alpha=2.0)", "i.addmv(a, b.sum(1), beta=-1.0, alpha=3)",
          "M.addr(i, a.sum(1), b.sum(0), alpha=0.25, beta=2)", "M.addbmm(i, a, b, beta=0.5)",
          "M.baddbmm(i, a, b, alpha=-2.0)", "M.addmm(i, a, b)"]


@pytest.mark.parametrize("expr", SCALED)
def test_gradients_scaled_by_alpha_and_beta_are_products_with_a_scalar(expr):
    # (PyTorch's C++ maybe_multiply: MulBackward1, no number input in its node, the factor saved)
    names = []
    for M in (torch, tape):
        i = M.tensor(rng.standard_normal((2, 2)), requires_grad=True)
        batch = (1,) if "bmm" in expr else ()
        a = M.tensor(rng.standard_normal(batch + (2, 3)), requires_grad=True)
        b = M.tensor(rng.standard_normal(batch + (3, 2)), requires_grad=True)
        if "addmv" in expr:
            i = M.tensor(rng.standard_normal(2), requires_grad=True)
        y = eval(expr, {"M": M, "i": i, "a": a, "b": b})
        g = M.autograd.grad((y * y).sum(), [i, a, b], create_graph=True)
        h = M.autograd.grad((g[0] * g[0]).sum(), [i], create_graph=True)
        names.append([(t.grad_fn.name(), len(t.grad_fn.next_functions)) for t in g + h] +
                     [float(t.grad_fn._saved_other) for t in g + h if t.grad_fn.name() == "MulBackward1"])
    assert names[1] == names[0]


def test_deprecated_qr_warns_once_as_pytorch():
    tape.ops.decomp._QR_WARNED.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tape.qr(tape.eye(2))
        tape.eye(2).qr()
    assert len(caught) == 1 and caught[0].category is UserWarning
    assert str(caught[0].message).startswith("torch.qr is deprecated in favor of torch.linalg.qr")
    assert str(caught[0].message).endswith("Q, R = torch.linalg.qr(A, 'reduced' if some else 'complete')")


def test_ldl_factor_and_solve_as_lapack():
    # (Bunch-Kaufman with 1 x 1 and 2 x 2 pivots, zero diagonals, a zero column: LAPACK's sytf2/sytrs)
    draw = np.random.default_rng(7)
    for trial in range(60):
        n = int(draw.integers(1, 6))
        a = draw.standard_normal((n, n))
        a = a + a.T
        if trial % 3 == 0:
            a[np.diag_indices(n)] = 0.0
        if trial % 7 == 0:
            a[0] = a[:, 0] = 0.0
        b = draw.standard_normal((n, 2))
        want = torch.linalg.ldl_factor_ex(torch.tensor(a))
        got = tape.linalg.ldl_factor_ex(tape.tensor(a))
        assert type(got).__name__ == type(want).__name__
        for x, y in zip(got, want):
            assert str(x.dtype) == str(y.dtype)
            np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-10, atol=1e-12)
        if not want.info.item():
            np.testing.assert_allclose(tape.linalg.ldl_solve(got.LD, got.pivots, tape.tensor(b)).numpy(),
                                       torch.linalg.ldl_solve(want.LD, want.pivots, torch.tensor(b)).numpy(),
                                       rtol=1e-8, atol=1e-10)


def test_ldl_has_no_derivative_as_pytorch():
    s = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 3.0], [2.0, 3.0, 0.0]])
    for M in (torch, tape):
        a = M.tensor(s, requires_grad=True)
        out = M.linalg.ldl_factor(a)
        assert type(out).__name__ == "linalg_ldl_factor" and out.LD.requires_grad and not out.pivots.requires_grad
        assert out.LD.grad_fn.name() == "torch::autograd::NotImplemented"
        with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_factor_ex is not implemented"):
            out.LD.sum().backward()
        b = M.ones(3, 2, dtype=M.float64, requires_grad=True)
        x = M.linalg.ldl_solve(*M.linalg.ldl_factor(M.tensor(s)), b)
        with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_solve is not implemented"):
            x.sum().backward()


@pytest.mark.parametrize("expr", [
    "M.linalg.ldl_factor(M.ones(2, 3))", "M.linalg.ldl_factor(M.ones(3))", "M.linalg.ldl_factor('x')",
    "M.linalg.ldl_factor_ex(M.ones(2, 2, dtype=M.int64))",
    "M.linalg.ldl_solve(*M.linalg.ldl_factor(M.eye(3)), M.ones(3))",
    "M.linalg.ldl_solve(*M.linalg.ldl_factor(M.eye(3)), M.ones(2, 2))",
    "M.linalg.ldl_solve(*M.linalg.ldl_factor(M.eye(3)), M.ones(3, 2, dtype=M.float64))",
    "M.linalg.ldl_solve(M.eye(3), M.tensor([[1, 2, 3]], dtype=M.int32), M.ones(3, 2))"])
def test_ldl_errors_as_pytorch(expr):
    test_errors_as_pytorch(expr)


def test_ldl_of_a_singular_matrix_raises():
    # (PyTorch 2.13 fails an internal assert there, "Unknown error code: 1": a RuntimeError, ours with its tail)
    for M in (torch, tape):
        with pytest.raises(RuntimeError, match="ldl_factor: Unknown error code: 1."):
            M.linalg.ldl_factor(M.zeros(2, 2, dtype=M.float64))
        with pytest.raises(RuntimeError, match="ldl_factor_ex: Unknown error code: 1."):
            M.linalg.ldl_factor_ex(M.zeros(2, 2, dtype=M.float64), check_errors=True)
