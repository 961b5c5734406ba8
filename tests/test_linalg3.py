"""The addmm family, einsum, tensordot and inner against PyTorch: values, dtypes, ``grad_fn`` names and
the nodes behind them, first and second gradients, in-place variants, integer inputs, and errors (type
and message), on cases the op table does not draw."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tape

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

rng = np.random.default_rng(143)


def _r(*shape):
    return rng.standard_normal(shape)


A23, B34, I4, I24, I21 = _r(2, 3), _r(3, 4), _r(4), _r(2, 4), _r(2, 1)
V3, U2, I2, I23 = _r(3), _r(2), _r(2), _r(2, 3)
B523, B534, I524, I124 = _r(5, 2, 3), _r(5, 3, 4), _r(5, 2, 4), _r(1, 2, 4)


def chain(t, depth: int = 3) -> str:
    """The graph behind ``t`` as node names, to ``depth``."""
    def walk(node, d):
        if node is None:
            return "None"
        name = node.name()
        if name.endswith("AccumulateGrad"):
            return "leaf"
        kids = [walk(n[0], d - 1) for n in node.next_functions] if d > 1 else []
        return name + ("(" + ", ".join(kids) + ")" if kids else "")
    return walk(t.grad_fn, depth)


def run(M, expr: str, arrays: list, dtype: str, grads: bool = True, depth: int = 3):
    """``expr`` over leaves ``a``, ``b``, ``c``, ``d`` made from ``arrays``: the result, its node chain,
    the first gradients (recorded) and the second ones."""
    dt = getattr(M, dtype)
    leaves = [M.tensor(x, dtype=dt, requires_grad=grads) for x in arrays]
    env = dict(zip("abcd", leaves), M=M, math=math)
    y = eval(expr, env)
    if not grads:
        return y, None, None, None
    w = M.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)), dtype=y.dtype)
    g1 = M.autograd.grad((y * w).sum(), leaves, create_graph=True, allow_unused=True)
    s = sum((g * g * 0.5 + g.sin()).sum() for g in g1 if g is not None and g.requires_grad)
    g2 = M.autograd.grad(s, leaves, allow_unused=True) if isinstance(s, M.Tensor) else [None] * len(leaves)
    return y, chain(y, depth), g1, g2


def _np(t):
    return None if t is None else t.detach().numpy()


def assert_same(expr: str, arrays: list, dtype: str = "float64", depth: int = 3) -> None:
    # tape's einsum contracts left to right, as PyTorch does without opt_einsum (which jax installs)
    with torch.backends.opt_einsum.flags(enabled=False):
        ty, tc, tg1, tg2 = run(torch, expr, arrays, dtype, depth=depth)
    y, c, g1, g2 = run(tape, expr, arrays, dtype, depth=depth)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    assert str(y.dtype) == str(ty.dtype) and tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(_np(y), _np(ty), **tol)
    assert c == tc
    for k, (a, b) in enumerate(zip(g1, tg1)):
        assert (a is None) == (b is None), k
        if a is not None:
            np.testing.assert_allclose(_np(a), _np(b), err_msg=f"first gradient {k}", **tol)
    for k, (a, b) in enumerate(zip(g2, tg2)):
        if a is None or b is None:
            assert a is None or not np.any(_np(a)), k       # (zeros where PyTorch's is None)
            continue
        np.testing.assert_allclose(_np(a), _np(b), err_msg=f"second gradient {k}", **tol)


ADDMM_CASES = [
    ("M.addmm(a, b, c)", [I4, A23, B34]), ("M.addmm(a, b, c, beta=0.5, alpha=-2)", [I21, A23, B34]),
    ("a.addmm(b, c, alpha=0.25)", [I24, A23, B34]), ("M.addmm(a, b, c, beta=0)", [I24, A23, B34]),
    ("M.addmm(a, b, c, alpha=0)", [_r(), A23, B34]), ("M.addmm(a, b[:, :0], c[:0])", [I24, A23, B34]),
    ("M.addmm(a[:0], b[:0], c)", [I24, A23, B34]),
    ("M.addmv(a, b, c)", [I2, A23, V3]), ("a.addmv(b, c, beta=2, alpha=3)", [_r(), A23, V3]),
    ("M.addmv(a, b, c, beta=0)", [_r(1), A23, V3]), ("M.addmv(a, b[:, :0], c[:0])", [I2, A23, V3]),
    ("M.addr(a, b, c)", [I23, U2, V3]), ("a.addr(b, c, beta=-1, alpha=0.5)", [V3, U2, V3]),
    ("M.addr(a, b, c * 2)", [_r(), U2, V3]),
    ("M.addbmm(a, b, c)", [I24, B523, B534]), ("a.addbmm(b, c, beta=0.5, alpha=2)", [I4, B523, B534]),
    ("M.addbmm(a, b[:0], c[:0])", [I24, B523, B534]),
    ("M.baddbmm(a, b, c)", [I524, B523, B534]), ("a.baddbmm(b, c, beta=0.5, alpha=2)", [I124, B523, B534]),
    ("M.baddbmm(a, b, c, beta=0)", [I4, B523, B534]),
    ("(a * 1).addmm_(b, c, beta=0.5, alpha=2)", [I24, A23, B34]), ("(a * 1).addmv_(b, c)", [I2, A23, V3]),
    ("(a * 1).addr_(b, c, alpha=3)", [I23, U2, V3]), ("(a * 1).addbmm_(b, c)", [I24, B523, B534]),
    ("(a * 1).baddbmm_(b, c, alpha=-1)", [I524, B523, B534]),
    ("M.addmm(a, b, c)", [_r(40), _r(50, 60), _r(60, 40)]),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("expr,arrays", ADDMM_CASES, ids=[f"{e}-{k}" for k, (e, _) in enumerate(ADDMM_CASES)])
def test_addmm_family_matches_torch(expr, arrays, dtype):
    assert_same(expr, arrays, dtype)


def test_beta_zero_ignores_nan_and_alpha_zero_the_product():
    for M in (torch, tape):
        nan = M.full((2, 4), math.nan)
        inf = M.full((2, 3), math.inf)
        assert not M.addmm(nan, M.ones(2, 3), M.ones(3, 4), beta=0).isnan().any()
        assert (M.addmm(M.ones(2, 4), inf, M.ones(3, 4), alpha=0) == 1).all()
        assert not M.addmv(M.full((2,), math.nan), M.ones(2, 3), M.ones(3), beta=0).isnan().any()
        assert not M.addr(M.full((2, 3), math.inf), M.ones(2), M.ones(3), beta=0).isinf().any()
        assert not M.baddbmm(M.full((5, 2, 4), math.nan), M.ones(5, 2, 3), M.ones(5, 3, 4), beta=0).isnan().any()
        assert not M.addbmm(M.full((2, 4), math.nan), M.ones(5, 2, 3), M.ones(5, 3, 4), beta=0).isnan().any()


def test_empty_matrix_vector_product_keeps_the_input_shape():
    # (PyTorch's kernel returns beta * input unbroadcast; its backward then fails, not compared)
    for i, m, v in [((), (0, 3), (3,)), ((), (2, 0), (0,)), ((1,), (2, 0), (0,)), ((2,), (2, 0), (0,))]:
        y = tape.addmv(tape.ones(i), tape.ones(m), tape.ones(v), beta=2)
        ty = torch.addmv(torch.ones(i), torch.ones(m), torch.ones(v), beta=2)
        assert tuple(y.shape) == tuple(ty.shape) and y.tolist() == ty.tolist()


INT_CASES = [
    "M.addmm(a, b, c, alpha=2)", "M.addmm(a, b, c, alpha=-2.5, beta=2.5)", "M.addmv(a[:, 0], b, c[:, 0], alpha=2.5)",
    "M.addbmm(a, b.expand(2, 2, 3), c.expand(2, 3, 4), alpha=3)", "M.baddbmm(a, b[None], c[None], beta=2)",
    "M.addr(a[:, :3], b[:, 0], c[:, 0], beta=2)", "M.addr(a[:, :3].bool(), b[:, 0].bool(), c[:, 0].bool(), beta=2)",
    "M.addr(a[:, :3].bool(), b[:, 1].bool(), c[:, 1].bool(), alpha=True, beta=False)",
    "M.addr(a[:, :3].float(), b[:, 0], c[:, 0], beta=2.5)", "M.addr(a[:, :3], b[:, 0].double(), c[:, 0], beta=2)",
]


@pytest.mark.parametrize("expr", INT_CASES)
def test_integer_inputs_match_torch(expr):
    arrays = [np.arange(8).reshape(2, 4) - 3, np.arange(6).reshape(2, 3) - 2, np.arange(12).reshape(3, 4) % 5 - 1]
    y = run(tape, expr, arrays, "int64", grads=False)[0]
    ty = run(torch, expr, arrays, "int64", grads=False)[0]
    assert str(y.dtype) == str(ty.dtype)
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    assert not y.requires_grad


ERRORS = [
    ("M.addmm(a, b, c)", [I4, A23, A23]), ("M.addmm(a, b[0], c)", [I4, A23, B34]),
    ("M.addmm(a, b, c[None])", [I4, A23, B34]), ("M.addmm(a, b, c)", [_r(3, 4), A23, B34]),
    ("M.addmm(a, b, c)", [_r(1, 2, 4), A23, B34]), ("M.addmm(a.double(), b, c)", [I4, A23, B34]),
    ("M.addmm(a, b.double(), c)", [I4, A23, B34]), ("M.addmm(a, b, c.double())", [I4, A23, B34]),
    ("M.addmm(a.long(), b, c)", [I4, A23, B34]), ("M.addmm(a.bool(), b.bool(), c.bool())", [I4, A23, B34]),
    ("M.addmm(4.0, b, c)", [I4, A23, B34]),
    ("M.addmv(a, b, c)", [V3, A23, V3]), ("M.addmv(a, b, c)", [I2, A23, U2]), ("M.addmv(a, b, c[None])", [I2, A23, V3]),
    ("M.addmv(a, b[0], c)", [I2, A23, V3]), ("M.addmv(a[None], b, c)", [I2, A23, V3]),
    ("M.addmv(a.double(), b, c)", [I2, A23, V3]), ("M.addmv(a, b, c.double())", [I2, A23, V3]),
    ("M.addr(a, b, c)", [_r(3, 2), U2, V3]), ("M.addr(a, b[None], c)", [I23, U2, V3]),
    ("M.addr(a, b, c[None])", [I23, U2, V3]), ("M.addr(a.long(), b.long(), c.long(), beta=2.5)", [I23, U2, V3]),
    ("M.addr(a.long(), b.long(), c.long(), alpha=0.5)", [I23, U2, V3]),
    ("M.addbmm(a, b, c)", [_r(3, 4), B523, B534]), ("M.addbmm(a, b, c[:4])", [I24, B523, B534]),
    ("M.addbmm(a, b, c[:, :2])", [I24, B523, B534]), ("M.addbmm(a, b[0], c)", [I24, B523, B534]),
    ("M.addbmm(a, b, c[0])", [I24, B523, B534]), ("M.addbmm(a, b[0, 0], c)", [I24, B523, B534]),
    ("M.baddbmm(a, b[0], c)", [I24, B523, B534]), ("M.baddbmm(a, b[None], c)", [I24, B523, B534]),
    ("M.addbmm(a, b.double(), c)", [I24, B523, B534]), ("M.addbmm(a.double(), b.double(), c.double().float())",
                                                          [I24, B523, B534]),
    ("M.baddbmm(a, b, c)", [_r(6, 2, 4), B523, B534]), ("M.baddbmm(a, b, c[:4])", [I524, B523, B534]),
    ("M.baddbmm(a, b, c[:, :2])", [I524, B523, B534]), ("M.baddbmm(a, b, c[0])", [I524, B523, B534]),
    ("M.baddbmm(a, b, c.double())", [I524, B523, B534]), ("M.baddbmm(a.double(), b, c)", [I524, B523, B534]),
    ("M.baddbmm(a.bool(), b.bool(), c.bool())", [I524, B523, B534]),
    ("M.ones(4).addmm_(b, c)", [I4, A23, B34]), ("M.ones(()).addmv_(b, c)", [I2, A23, V3]),
    ("M.ones(3).addr_(b, c)", [I23, U2, V3]), ("M.ones(2, 3, dtype=M.int64).addr_(b, c)", [I23, U2, V3]),
    ("M.ones(2, 4).baddbmm_(b, c)", [I524, B523, B534]), ("a.addmm_(b, c)", [I24, A23, B34]),
]


@pytest.mark.parametrize("expr,arrays", ERRORS, ids=[f"{e}-{k}" for k, (e, _) in enumerate(ERRORS)])
def test_errors_match_torch(expr, arrays):
    with pytest.raises(Exception) as expected:
        run(torch, expr, arrays, "float32")
    with pytest.raises(type(expected.value)) as got:
        run(tape, expr, arrays, "float32")
    assert str(got.value) == str(expected.value)


CONTRACTIONS = [
    ("M.einsum('ij,jk->ik', a, b)", [A23, B34]), ("M.einsum('ij,jk', a, b)", [A23, B34]), ("M.einsum('ii->i', a)", [_r(3, 3)]),
    ("M.einsum('ii', a)", [_r(3, 3)]), ("M.einsum('ij->', a)", [A23]), ("M.einsum('ij->ji', a)", [A23]),
    ("M.einsum('bij,bjk->bik', a, b)", [B523, B534]), ("M.einsum('i,i->', a, b)", [V3, V3]),
    ("M.einsum('i,j->ij', a, b)", [V3, I4]), ("M.einsum('...ij,...jk', a, b)", [B523, B34]),
    ("M.einsum('ij,jk,kl->il', a, b, c)", [A23, B34, _r(4, 5)]), ("M.einsum('iij->j', a)", [_r(2, 2, 3)]),
    ("M.einsum('ij,ij->ij', a, b)", [A23, I23]), ("M.einsum('bn,anm,bm->ba', a, b, c)", [A23, _r(4, 3, 5), _r(2, 5)]),
    ("M.einsum('ab,bc,cd,de->ae', a, b, c, d)", [A23, B34, _r(4, 2), A23]), ("M.einsum('i...->...', a)", [B523]),
    ("M.einsum('...i,...i->...', a, b)", [_r(2, 1, 4), _r(3, 4)]), ("M.einsum(a, [0, 1], b, [1, 2], [0, 2])", [A23, B34]),
    ("M.einsum(a, [0, Ellipsis], [Ellipsis])", [A23]), ("M.einsum('ij,jk->ik', [a, b])", [A23, B34]),
    ("M.einsum('i,i,i->i', a, b, c)", [V3, V3, V3]), ("M.einsum('ij,kj->ik', a, b)", [_r(2, 0), _r(3, 0)]),
    ("M.einsum('iji->j', a)", [_r(2, 3, 2)]), ("M.einsum('Ab,bA->', a, b)", [A23, _r(3, 2)]),
    ("M.einsum('ij,ij->', a, b)", [_r(1, 3), _r(2, 1)]), ("M.einsum(' i j , j k -> i k ', a, b)", [A23, B34]),
    ("M.einsum('bij,bkj,b->ik', a, b, c)", [B523, _r(5, 4, 3), _r(5)]),
    ("M.tensordot(a, b, 2)", [_r(2, 3, 4), _r(3, 4, 5)]), ("M.tensordot(a, b, 1)", [A23, _r(3, 5)]),
    ("M.tensordot(a, b, 0)", [A23, _r(3, 5)]), ("M.tensordot(a, b, ([0], [1]))", [_r(3, 2), _r(5, 3)]),
    ("M.tensordot(a, b, ([1, 0], [0, 1]))", [_r(3, 2), A23]), ("M.tensordot(a, b, 1)", [_r(1, 3), _r(3, 1)]),
    ("M.tensordot(a, b, 1)", [V3, V3]), ("M.tensordot(a, b, 1)", [_r(2, 1), _r(3, 5)]),
    ("M.tensordot(a, b, 1)", [A23, _r(1, 5)]), ("M.tensordot(a, b, 2)", [B34, B34]),
    ("M.tensordot(a, b, dims=M.tensor(1))", [A23, _r(3, 5)]), ("M.tensordot(a, b, dims=M.tensor([[0], [1]]))",
                                                              [_r(3, 2), _r(5, 3)]),
    ("M.tensordot(a, b, dims=[[-1], [0]])", [A23, _r(3, 5)]),
    ("M.inner(a, b)", [_r(1, 3), V3]), ("M.inner(a, b)", [A23, _r(4, 3)]), ("a.inner(b)", [V3, V3]),
    ("M.inner(a, b)", [_r(1, 1), _r(1, 1)]), ("M.inner(a, b)", [A23, _r()]), ("M.inner(a, b)", [_r(2, 0), _r(4, 0)]),
    ("M.inner(a, b)", [B523, _r(2, 3)]),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("expr,arrays", CONTRACTIONS, ids=[f"{e}-{k}" for k, (e, _) in enumerate(CONTRACTIONS)])
def test_contractions_match_torch(expr, arrays, dtype):
    assert_same(expr, arrays, dtype, depth=8)


def test_integer_contractions_match_torch():
    a, b = np.arange(6).reshape(2, 3) - 2, np.arange(12).reshape(3, 4) % 5
    for expr in ("M.einsum('ij,jk->ik', a, b)", "M.einsum('ij->j', a)", "M.tensordot(a, b, 1)", "M.inner(a, a)"):
        y = run(tape, expr, [a, b], "int64", grads=False)[0]
        ty = run(torch, expr, [a, b], "int64", grads=False)[0]
        assert str(y.dtype) == str(ty.dtype)
        np.testing.assert_array_equal(y.numpy(), ty.numpy())


CONTRACTION_ERRORS = [
    ("M.einsum('ij,jk->ik', a)", [A23]), ("M.einsum('ij->ij', a, b)", [A23, A23]), ("M.einsum('i.j', a)", [A23]),
    ("M.einsum('...i...', a)", [A23]), ("M.einsum('ij1', a)", [A23]), ("M.einsum('ij->ii', a)", [A23]),
    ("M.einsum('ij->k', a)", [A23]), ("M.einsum('ijk', a)", [A23]), ("M.einsum('...ijk', a)", [A23]),
    ("M.einsum('ij,jk', a, b)", [A23, A23]), ("M.einsum('ii', a)", [A23]), ("M.einsum('...i,...i', a, b)", [B523, _r(3, 3)]),
    ("M.einsum('i->..', a)", [V3]), ("M.einsum('...->......', a)", [V3]), ("M.einsum('i->i1', a)", [V3]),
    ("M.einsum(a)", [V3]), ("M.einsum(a, [0, 60])", [A23]), ("M.einsum('ij', [])", [A23]),
    ("M.einsum('ij,jk', a, b.double())", [A23, B34]), ("M.einsum('i,i', a, 3)", [V3]),
    ("M.tensordot(a, b, -1)", [A23, B34]), ("M.tensordot(a, b, 3)", [A23, B34]), ("M.tensordot(a, b, ([0], [0, 1]))", [A23, B34]),
    ("M.tensordot(a, b, 1.5)", [A23, B34]), ("M.tensordot(a, b, 2)", [A23, B34]), ("M.tensordot(a, b.double(), 1)", [A23, B34]),
    ("M.tensordot(a, b, ([0, 0], [0, 1]))", [A23, B34]), ("M.tensordot(a, b, ([2], [0]))", [A23, B34]),
    ("M.tensordot(a, b, (1, 0))", [A23, B34]), ("M.tensordot(a, b, dims=M.tensor(-1))", [A23, B34]),
    ("M.inner(a, b)", [A23, B34]), ("M.inner(a, b.double())", [A23, A23]),
]


@pytest.mark.parametrize("expr,arrays", CONTRACTION_ERRORS,
                         ids=[f"{e}-{k}" for k, (e, _) in enumerate(CONTRACTION_ERRORS)])
def test_contraction_errors_match_torch(expr, arrays):
    test_errors_match_torch(expr, arrays)


BATCHED = [((5, 2, 3), (5, 3, 4)), ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((3,), (5, 3, 4)), ((5, 2, 3), (3,)),
           ((2, 1, 2, 3), (5, 3, 4)), ((1, 2, 3), (5, 3, 4)), ((5, 2, 3), (1, 3, 4)), ((6, 5, 2, 3), (6, 5, 3, 4)),
           ((5, 2, 3), (5, 3, 1)), ((5, 0, 3), (5, 3, 4)), ((2, 3, 4), (2, 1, 4, 3)), ((2, 2, 3), (3,)),
           ((2, 5, 2, 3), (5, 3, 4))]


@pytest.mark.parametrize("expr", ["a @ b", "M.matmul(a.transpose(0, -1).transpose(0, -1), b)", "(a * 1) @ b.detach()",
                                  "a.detach() @ b", "M.linalg.matrix_power(a.mT @ a, 3) @ b",
                                  "a.detach() @ b.mT.contiguous().mT", "a.mT.contiguous().mT @ b.detach()"])
@pytest.mark.parametrize("shapes", BATCHED, ids=str)
def test_batched_matmul_nodes_match_torch(shapes, expr):
    """PyTorch's matmul folds a batch into one mm/mv, or expands both batches around a bmm: the same nodes here."""
    if ("matrix_power" in expr or ".mT.contiguous()" in expr) and (len(shapes[0]) < 2 or len(shapes[1]) < 2):
        pytest.skip("matrix operands only")
    assert_same(expr, [_r(*shapes[0]), _r(*shapes[1])], depth=8)


BATCHED_ERRORS = [((5, 2, 3), (4, 4)), ((2, 3), (5, 4, 4)), ((3,), (5, 4, 4)), ((5, 2, 3), (4,)), ((5, 2, 3), (6, 3, 4)),
                  ((5, 2, 3), (5, 4, 4)), ((2, 5, 2, 3), (3, 3, 4)), ((1, 2, 3), (5, 4, 4))]


@pytest.mark.parametrize("grads", [True, False])
@pytest.mark.parametrize("shapes", BATCHED_ERRORS, ids=str)
def test_batched_matmul_errors_match_torch(shapes, grads):
    arrays = [_r(*shapes[0]), _r(*shapes[1])]
    with pytest.raises(Exception) as expected:
        run(torch, "a @ b", arrays, "float32", grads=grads)
    with pytest.raises(type(expected.value)) as got:
        run(tape, "a @ b", arrays, "float32", grads=grads)
    assert str(got.value) == str(expected.value)


SQ, SQB = _r(3, 3) + 3 * np.eye(3), _r(2, 3, 3) + 3 * np.eye(3)
LINALG_EXTRA = [
    ("M.linalg.vecdot(a, b)", [V3, V3]), ("M.linalg.vecdot(a, b, dim=0)", [A23, U2[:, None]]),
    ("M.linalg.diagonal(a)", [SQB]), ("M.linalg.diagonal(a, offset=1, dim1=0, dim2=2)", [SQB]),
    ("M.linalg.vander(a)", [V3]), ("M.linalg.vander(a, N=4)", [A23]), ("M.linalg.vander(a, N=2)", [_r()]),
    ("M.linalg.cond(a)", [SQ]), ("M.linalg.cond(a, 2)", [A23]), ("M.linalg.cond(a, -2)", [SQB]),
    ("M.linalg.cond(a, 'nuc')", [SQ]),
]


@pytest.mark.parametrize("expr,arrays", LINALG_EXTRA, ids=[f"{e}-{k}" for k, (e, _) in enumerate(LINALG_EXTRA)])
def test_linalg_extras_match_torch(expr, arrays):
    assert_same(expr, arrays, depth=6)


@pytest.mark.parametrize("p", ["'fro'", "math.inf", "-math.inf", "1", "-1"])
def test_cond_through_the_inverse_is_not_differentiable_as_in_torch(p):
    """PyTorch fills the inverse of a singular matrix with inf in place, after its node saved it: the
    value and nodes are PyTorch's, and so is the backward's error."""
    chains = []
    for M in (torch, tape):
        x = M.tensor(SQB, requires_grad=True)
        y = M.linalg.cond(x, eval(p))
        np.testing.assert_allclose(y.detach().numpy(), torch.linalg.cond(torch.tensor(SQB), eval(p)).numpy(), rtol=1e-10)
        chains.append(chain(y, 7))
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
    assert chains[0] == chains[1] and "MaskedFillBackward0(LinalgInvExBackward0(leaf))" in chains[1]


@pytest.mark.parametrize("expr", [
    "M.linalg.cond(a, 'fro')", "M.linalg.cond(a, 1)", "M.linalg.cond(a)", "M.linalg.cond(a, 'nuc')",
    "M.linalg.cond(a[:, :0, :0], 1)", "M.linalg.cond(a[:, :0, :], 1)", "M.linalg.cond(a[:, :0, :0], 'nuc')",
    "M.linalg.cond(a[:, :0, :0])", "M.linalg.matrix_rank(a)", "M.linalg.matrix_rank(a, hermitian=True)",
    "M.linalg.matrix_rank(a, atol=0.5)", "M.linalg.matrix_rank(a, rtol=0.3)", "M.linalg.matrix_rank(a, atol=0.0)",
    "M.linalg.matrix_rank(a[0, :2])", "M.linalg.matrix_rank(a.float())", "M.linalg.vander(a[0, 0].long())"])
def test_singular_and_rank_values_match_torch(expr):
    # (a batch of a singular matrix and a regular one: cond is inf where PyTorch's is)
    a = np.stack([np.array([[1.0, 2, 3], [2, 4, 6], [0, 1, 1]]), SQ])
    y = run(tape, expr, [a], "float64", grads=False)[0]
    ty = run(torch, expr, [a], "float64", grads=False)[0]
    assert str(y.dtype) == str(ty.dtype) and tuple(y.shape) == tuple(ty.shape)
    yv, tv = y.numpy(), ty.numpy()
    if expr in ("M.linalg.cond(a)", "M.linalg.cond(a, 'nuc')"):
        # (the singular matrix's is finite in both, over its smallest singular value or its LU's last
        # pivot: rounding noise, which differs between LAPACK builds; only its size is PyTorch's)
        assert 1e15 < yv[0] < np.inf and 1e15 < tv[0] < np.inf
        yv, tv = yv[1:], tv[1:]
    np.testing.assert_allclose(yv, tv, rtol=1e-10)


LINALG_EXTRA_ERRORS = [
    ("M.linalg.vander(a.bool())", [V3]), ("M.linalg.vander(a, N=1)", [V3]), ("M.linalg.cond(a)", [V3]),
    ("M.linalg.cond(a, 'fro')", [A23]), ("M.linalg.cond(a, 3)", [SQ]), ("M.linalg.cond(a, -math.inf)", [A23]),
    ("M.linalg.cond(a, 1)", [A23]), ("M.linalg.matrix_rank(a)", [V3]),
    ("M.linalg.matrix_rank(a.long())", [SQ]), ("M.linalg.vecdot(a, b)", [U2, _r(1)]),
    ("M.linalg.vecdot(a, b.double())", [V3, V3]),
]


@pytest.mark.parametrize("expr,arrays", LINALG_EXTRA_ERRORS,
                         ids=[f"{e}-{k}" for k, (e, _) in enumerate(LINALG_EXTRA_ERRORS)])
def test_linalg_extra_errors_match_torch(expr, arrays):
    test_errors_match_torch(expr, arrays)


def test_an_empty_batched_product_skips_the_dtype_check_as_pytorch():
    # bmm's kernel returns zeros in the second operand's dtype before it compares the dtypes when
    # there is nothing to multiply (an empty result or contraction); matmul's expanded form too.
    cases = [((0, 3), "int64", (2, 3, 4), "float32", False, True, "matmul"),
             ((0, 3), "int64", (2, 3, 4), "float32", False, False, "matmul"),
             ((3, 0), "float64", (2, 0, 4), "float32", False, True, "matmul"),
             ((2, 3, 0), "float64", (2, 0, 4), "float32", True, False, "bmm"),
             ((2, 0, 3), "float32", (2, 3, 4), "int64", False, False, "bmm"),
             ((2, 3), "int64", (2, 3, 4), "float32", False, False, "matmul")]
    for sa, da, sb, db, rga, rgb, fn in cases:
        outcome = []
        for M in (torch, tape):
            a = M.zeros(sa, dtype=getattr(M, da), requires_grad=rga)
            b = M.ones(sb, dtype=getattr(M, db), requires_grad=rgb)
            try:
                y = getattr(M, fn)(a, b)
            except RuntimeError as e:
                outcome.append(str(e))
                continue
            outcome.append((tuple(y.shape), str(y.dtype), y.detach().numpy().tolist(),
                            type(y.grad_fn).__name__ if y.grad_fn else None))
            if rga or rgb:
                xs = [t for t in (a, b) if t.requires_grad]
                outcome.append([(g.numpy().tolist(), str(g.dtype)) for g in M.autograd.grad(y.sum(), xs)])
        assert outcome[:len(outcome) // 2] == outcome[len(outcome) // 2:]
