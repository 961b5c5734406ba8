"""``tape.trace``: record once, replay on new inputs.

For every entry of the op table (``tests/test_grad_ops.py``'s ``OPS``) hypothesis draws inputs as
the gradient tests do; the op is traced there and replayed at a second point (each input scaled
elementwise by a factor near 1, so that it stays in the op's domain): the replayed values equal an
eager run at that point within 4 ulps (bitwise where the same kernels run), and so do the
gradients of a weighted sum of the outputs (``vjp``) and the tangents (``jvp``), to the precision
of the arithmetic that led to them.

Guards: random piecewise programs (abs, max, clamp, if/else on values, loops whose count depends
on values) are traced at one point and replayed at many: every value and gradient equals a fresh
eager evaluation, whether the trace re-recorded or not; with ``strict=True`` a flipped branch
raises ``TraceGuardError`` naming its line.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tape
from tape import TraceGuardError

from .test_grad_ops import OP_NAMES, OPS, as_list, draw_case, make_weights, to_tensor


def _ulps(a: np.ndarray, b: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """|a - b| in units of the last place of ``scale`` (elementwise); 0 where both are nan."""
    unit = np.spacing(np.abs(np.asarray(scale))).astype(np.float64)     # (in the values' own dtype)
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    both = np.isnan(a) & np.isnan(b) | (a == b)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.abs(a - b) / unit
    return np.where(both, 0.0, d)


def _second_point(arrays, dtype: str, seed: int) -> list:
    rng = np.random.default_rng(seed)
    return [np.asarray(a * rng.uniform(0.97, 1.03, size=np.shape(a)), dtype) for a in arrays]


def _eager(fn, arrays, dtype: str, weights):
    xs = [to_tensor(tape, a, dtype, requires_grad=True) for a in arrays]
    outs = as_list(fn(*xs))
    loss = sum((o * to_tensor(tape, w, dtype)).sum() for o, w in zip(outs, weights))
    gs = tape.autograd.grad(loss, xs, allow_unused=True)
    return ([o.detach().numpy().copy() for o in outs],
            [np.zeros(a.shape) if g is None else g.numpy() for a, g in zip(arrays, gs)])


# Ops whose traces may still run ``fn`` at every call, and why: their observations hold ``x.cos()``,
# which below 256 elements is numba's loop in the replay and numpy's ufunc eagerly (an ulp apart in
# float32), and the covariance's sums of products can take that past 4 ulps of the values, so the
# check that a replay at the recorded inputs gives the recorded values refuses the trace.
RERUN = {"cov", "cov_weights_method", "corrcoef"}
# Ops whose values go through more roundings than one product's: their bound in ulps of the terms.
ULPS = {"chain_matmul": 8}      # (x @ y @ z @ z.mT: z twice)


@pytest.mark.parametrize("name", OP_NAMES)
@settings(deadline=None, max_examples=max(1, settings.default.max_examples // 5))
@given(data=st.data())
def test_replay_equals_eager(name, data):
    op = OPS[name]
    case = draw_case(data, op)
    dtype = case.dtype
    fn = lambda *ts: tuple(as_list(op.fn(tape, *ts)))     # noqa: E731
    xs = [to_tensor(tape, a, dtype) for a in case.arrays]
    tr = tape.trace(fn, *xs)
    # Every op replays compiled (Python-forward rows by their front end's call): ``fn`` is not run again
    # (sums over any dims and products included: their kernels are eager's).
    assert tr.variants[0].compiled or name in RERUN, f"{name}: the trace runs fn at every call"
    second = _second_point(case.arrays, dtype, case.seed)
    with tape.no_grad():
        shapes = [tuple(o.shape) for o in fn(*[to_tensor(tape, a, dtype) for a in second])]
    weights = make_weights(np.random.default_rng(case.seed), shapes, dtype)
    want, want_g = _eager(fn, second, dtype, weights)
    x2 = [to_tensor(tape, a, dtype) for a in second]
    got, got_g = tr.vjp(tuple(x2), tuple(to_tensor(tape, w, dtype) for w in weights))
    eps = np.finfo(dtype).eps
    # Each row is within 4 ulps of eager's on the same inputs (bitwise where the same kernels run);
    # through a difference of close values (``x.sin() - x``) or a sum of products (``mixing`` ops:
    # reductions, matmul) that is 4 ulps of the largest term.
    sizes = [np.nanmax(np.abs(a), initial=0.0) for a in second]
    terms = max(np.prod(sizes) if op.mixing else 0.0, max(sizes, default=0.0))
    for g, w in zip(got, want):
        g = g.numpy()
        assert g.shape == w.shape and g.dtype == w.dtype
        scale = np.maximum(np.abs(w), np.asarray(terms, w.dtype))
        assert (_ulps(g, w, scale) <= ULPS.get(name, 4)).all(), f"values: replay {g}, eager {w}"
    for g, w, a in zip(got_g, want_g, second):
        g = g.numpy()
        assert g.shape == w.shape
        # Inputs that differ by ulps move the gradient by that much times the curvature: compare
        # to the scale of the gradient.
        scale = np.maximum(np.nanmax(np.abs(w), initial=0.0), 1.0)
        assert np.allclose(g, w, rtol=1e3 * eps, atol=1e3 * eps * scale, equal_nan=True), \
            f"gradients: replay {g}, eager {w}"
    # Tangents: the tangent sweep over the replayed rows (each op's ``jvp`` rule) against eager
    # reverse mode, by the adjoint identity <W, J v> == <J^T W, v>.
    rng = np.random.default_rng(case.seed + 1)
    vs = [rng.uniform(-1, 1, size=np.shape(a)).astype(dtype) for a in second]
    _, tangents = tr.jvp(tuple(x2), tuple(to_tensor(tape, v, dtype) for v in vs))
    left = [np.asarray(t.numpy(), np.float64) * w for t, w in zip(tangents, weights)]
    right = [np.asarray(g, np.float64) * v for g, v in zip(want_g, vs)]
    total = sum(x.sum() for x in left) - sum(x.sum() for x in right)
    size = sum(np.abs(x).sum() for x in left + right)
    assert np.isnan(total) and np.isnan(size) or abs(total) <= 1e3 * eps * max(size, 1.0), \
        f"tangents: <W, Jv> - <J^T W, v> = {total} (terms {size})"


# --- guards -------------------------------------------------------------------------------------
def _piecewise(kinds: list):
    def fn(x):
        y = x
        for kind, c in kinds:
            if kind == "abs":
                y = (y - c).abs()
            elif kind == "max":
                y = tape.maximum(y, y * c)
            elif kind == "clamp":
                y = y.clamp(-abs(c), abs(c) + 0.5)
            elif kind == "if":
                y = y.sin() * 2 if y.sum() > c else y * y - c
            elif kind == "while":
                n = 0
                while float(y.abs().sum()) < 4 * abs(c) + 1 and n < 6:
                    y = y * 1.7 + 0.1
                    n += 1
            elif kind == "where":
                y = tape.where(y > c, y.exp(), -y)
            else:
                y = y.tanh() + c * y
        return y.sum()
    return fn


KINDS = st.lists(st.tuples(st.sampled_from(["abs", "max", "clamp", "if", "while", "where", "smooth"]),
                           st.floats(-1.5, 1.5)), min_size=1, max_size=6)


@settings(deadline=None)
@given(kinds=KINDS, shape=st.sampled_from([(), (3,)]), points=st.lists(
    st.floats(-2.0, 2.0), min_size=2, max_size=12), dtype=st.sampled_from(["float64", "float32"]))
def test_guards_piecewise_equal_eager(kinds, shape, points, dtype):
    fn = _piecewise(kinds)
    rng = np.random.default_rng(len(points))
    spread = rng.uniform(0.5, 1.5, size=shape)
    tr = tape.trace(fn, to_tensor(tape, np.asarray(points[0] * spread), dtype))
    for p in points:
        a = np.asarray(p * spread, dtype)
        want, want_g = _eager(fn, [a], dtype, [np.ones(())])
        v, g = tr.value_and_grad(to_tensor(tape, a, dtype))
        assert v.numpy().tobytes() == want[0].tobytes() or (_ulps(v.numpy(), want[0], want[0]) <= 4).all()
        assert np.allclose(g.numpy(), want_g[0], rtol=1e-12 if dtype == "float64" else 1e-5, atol=0, equal_nan=True), \
            (g, want_g)


def test_flipped_branch_records_again_or_raises():
    def f(x):
        if x > 0:
            return x.exp()
        return -x.sin()
    tr = tape.trace(f, tape.tensor(0.5, dtype=tape.float64))
    assert float(tr(tape.tensor(-0.5, dtype=tape.float64))) == float(-tape.tensor(-0.5, dtype=tape.float64).sin())
    assert tr.stats()["records"] == 2
    assert float(tr(tape.tensor(2.0, dtype=tape.float64))) == float(tape.tensor(2.0, dtype=tape.float64).exp())
    assert tr.stats()["records"] == 2            # both variants are cached
    strict = tape.trace(f, tape.tensor(0.5, dtype=tape.float64), strict=True)
    assert float(strict(tape.tensor(0.7, dtype=tape.float64))) == float(tape.tensor(0.7, dtype=tape.float64).exp())
    with pytest.raises(TraceGuardError, match="if x > 0"):
        strict(tape.tensor(-0.5, dtype=tape.float64))


def test_strict_refuses_value_reads():
    with pytest.raises(TraceGuardError, match=r"x\.item\(\)"):
        tape.trace(lambda x: x * x.item(), tape.tensor(0.5), strict=True)


def test_value_reads_guard_on_the_exact_value():
    def f(x):
        return x * float(x.sum()) + tape.tensor(x.tolist()).sum()
    x = tape.tensor([1.0, 2.0], dtype=tape.float64)
    tr = tape.trace(f, x)
    for v in ([1.0, 2.0], [3.0, -1.0], [1.0, 2.0]):
        assert tr(tape.tensor(v, dtype=tape.float64)).tolist() == f(tape.tensor(v, dtype=tape.float64)).tolist()
    assert tr.stats()["records"] == 2


def test_data_dependent_shapes_and_indices_are_guarded():
    def f(x):
        return x[x > 0].sum() + x[x.argmax()] * 2 + x.nonzero().shape[0]
    x = tape.tensor([1.0, -2.0, 3.0], dtype=tape.float64)
    tr = tape.trace(f, x)
    for v in ([1.0, -2.0, 3.0], [-1.0, 2.0, 0.5], [0.0, 5.0, -1.0], [2.0, -2.0, 3.5]):
        t = tape.tensor(v, dtype=tape.float64)
        assert float(tr(t)) == float(f(t)), v
        assert tr.grad(t).tolist() == tape.autograd.grad(f(t.requires_grad_()), t)[0].tolist()


def test_cache_is_bounded():
    tr = tape.trace(lambda x: x * float(x), tape.tensor(1.0, dtype=tape.float64), cache_size=3)
    for k in range(6):
        assert float(tr(tape.tensor(float(k), dtype=tape.float64))) == float(k) * float(k)
    assert len(tr.variants) == 3


# --- parameters, shapes, arguments -------------------------------------------------------------------
def test_parameters_are_read_by_reference():
    w = tape.tensor([1.0, -2.0], dtype=tape.float64, requires_grad=True)
    b = tape.tensor([0.5], dtype=tape.float64)
    tr = tape.trace(lambda x: ((x * w).sin() + b).sum(), tape.tensor([0.1, 0.2], dtype=tape.float64))
    x = tape.tensor([0.3, 0.4], dtype=tape.float64)
    for _ in range(3):
        with tape.no_grad():
            w.sub_(0.25)
            b.add_(1.0)
        want = ((x * w).sin() + b).sum()
        assert float(tr(x)) == float(want)
        xg = x.clone().requires_grad_()
        assert tr.grad(x).tolist() == tape.autograd.grad(((xg * w).sin() + b).sum(), xg)[0].tolist()
    assert tr.stats()["records"] == 1
    assert w.grad is None               # the trace's gradients are the inputs' only
    # A 0-d tensor without grad is an op's number operand, in the row: a change records again.
    c = tape.tensor(2.0, dtype=tape.float64)
    tr = tape.trace(lambda x: x * c, tape.tensor(1.0, dtype=tape.float64))
    c.add_(1.0)
    assert float(tr(tape.tensor(1.0, dtype=tape.float64))) == 3.0


def test_parameter_shape_change_records_again():
    w = tape.tensor([1.0, 2.0], dtype=tape.float64)
    tr = tape.trace(lambda x: (x * w).sum(), tape.tensor(1.0, dtype=tape.float64))
    w.data = tape.tensor([1.0, 2.0, 3.0], dtype=tape.float64)
    assert float(tr(tape.tensor(2.0, dtype=tape.float64))) == 12.0
    assert tr.stats()["records"] == 2


def test_results_are_detached():
    x = tape.tensor([0.5, 1.0], requires_grad=True)
    tr = tape.trace(lambda t: t.exp(), x)
    y = tr(x)
    assert not y.requires_grad and y.grad_fn is None and x.grad is None


def test_argument_errors():
    tr = tape.trace(lambda x, y: (x * y).sum(), tape.ones(2), tape.ones(2))
    with pytest.raises(TypeError, match="takes 2 inputs"):
        tr(tape.ones(2))
    with pytest.raises(ValueError, match="shape"):
        tr(tape.ones(3), tape.ones(2))
    with pytest.raises(ValueError, match="dtype"):
        tr(tape.ones(2, dtype=tape.float64), tape.ones(2))
    with pytest.raises(TypeError, match="must be a Tensor"):
        tr(tape.ones(2), [1.0, 2.0])
    with pytest.raises(TypeError, match="floating point"):
        tape.trace(lambda x: x, tape.ones(2, dtype=tape.int64))
    with pytest.raises(TypeError, match="must be Tensor, not int"):
        tape.trace(3, tape.ones(2))         # (torch.trace's own error: not a function, not a matrix)
    with pytest.raises(RuntimeError, match="scalar Tensor"):
        tape.trace(lambda x: x * 2, tape.ones(2)).grad(tape.ones(2))
    with pytest.raises(RuntimeError, match="argnums"):
        tr.grad(tape.ones(2), tape.ones(2), argnums=2)
    with pytest.raises(TypeError, match="Tensor or a tuple"):
        tape.trace(lambda x: 3.0, tape.ones(2))


def test_matrix_trace_keeps_its_name():
    m = tape.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert float(tape.trace(m)) == 5.0 and float(m.trace()) == 5.0


def test_grad_argnums_and_tuple_outputs():
    def f(x, y):
        return (x * y.exp()).sum(), x - y
    x, y = tape.tensor([1.0, 2.0], dtype=tape.float64), tape.tensor([0.5, -0.5], dtype=tape.float64)
    tr = tape.trace(f, x, y)
    out, (gx, gy) = tr.vjp((x, y), (tape.tensor(1.0, dtype=tape.float64), tape.tensor([1.0, 2.0], dtype=tape.float64)))
    assert gx.tolist() == [1 + np.exp(0.5), 2 + np.exp(-0.5)]
    tr1 = tape.trace(lambda x, y: (x * y.exp()).sum(), x, y)
    gx, gy = tr1.grad(x, y, argnums=(0, 1))
    assert gy.tolist() == (x * y.exp()).tolist()
    assert tr1.grad(x, y, argnums=1).tolist() == gy.tolist()


# --- the scalar program ----------------------------------------------------------------------
SCALAR_STEPS = st.lists(st.sampled_from(["sin", "exp", "tanh", "mul", "add", "div", "sub", "pow", "max", "rsub",
                                         "sqrt", "square", "abs"]), min_size=1, max_size=30)


def _scalar_chain(steps):
    def fn(x, c):
        y = x
        for s in steps:
            if s in ("sin", "exp", "tanh", "abs"):
                y = getattr(y, s)() * 0.5
            elif s == "sqrt":
                y = (y * y + 1).sqrt()
            elif s == "mul":
                y = y * c
            elif s == "add":
                y = y + c * 0.3
            elif s == "div":
                y = y / (c * c + 1.5)
            elif s == "sub":
                y = 0.7 - y
            elif s == "pow":
                y = (y * y + 0.5) ** 1.5
            elif s == "max":
                y = tape.maximum(y, c)
            else:
                y = y * y - y
        return y
    return fn


@settings(deadline=None)
def _fast_and_slow(tr, x, c) -> tuple:
    """``value_and_grad`` of a two-input trace by its scalar program and by the row-by-row replay."""
    var = tr.variants[0]
    fast = tr.value_and_grad(x, c, argnums=(0, 1))
    program, var.program = var.program, None
    try:
        slow = tr.value_and_grad(x, c, argnums=(0, 1))
    finally:
        var.program = program
    return fast, slow


@given(steps=SCALAR_STEPS, points=st.lists(st.tuples(st.floats(-1.5, 1.5), st.floats(-1.5, 1.5)), min_size=1,
                                           max_size=5))
def test_scalar_program_equals_the_sweeps(steps, points):
    """A tape of one-element float64 rows runs as one compiled program (``_replay.scalar_program``):
    bitwise the values and gradients of the row-by-row replay and the plain sweep."""
    fn = _scalar_chain(steps)
    f64 = tape.float64
    tr = tape.trace(fn, tape.tensor(0.1, dtype=f64), tape.tensor(0.2, dtype=f64))
    var = tr.variants[0]
    assert var.program is not None
    for a, b in points:
        x, c = tape.tensor(a, dtype=f64), tape.tensor(b, dtype=f64)
        fast, slow = _fast_and_slow(tr, x, c)
        assert np.array_equal(fast[0].numpy(), slow[0].numpy(), equal_nan=True)
        for g, h in zip(fast[1], slow[1]):
            assert np.array_equal(g.numpy(), h.numpy(), equal_nan=True)


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_scalar_program_results(shape):
    """The scalar program's results (0-d ones on the float fast path): shapes, dtypes, values and
    gradients as the row-by-row replay gives them, new tensors at each call."""
    f64 = tape.float64
    tr = tape.trace(lambda x, c: ((x * c).sin() * x).exp(), tape.full(shape, 0.3, dtype=f64),
                    tape.full(shape, 0.2, dtype=f64))
    pair = tape.trace(lambda x: (x.sin(), tape.ones(shape, dtype=f64)), tape.full(shape, 0.3, dtype=f64))
    var = tr.variants[0]
    assert var.program is not None and pair.variants[0].program is not None
    x, c = tape.full(shape, 0.7, dtype=f64), tape.full(shape, -0.4, dtype=f64)
    fast, slow = _fast_and_slow(tr, x, c)
    for got, want in zip((fast[0],) + fast[1], (slow[0],) + slow[1]):
        assert got.shape == want.shape == shape and got.dtype == want.dtype == f64 and not got.requires_grad
        assert got.numpy().tobytes() == want.numpy().tobytes()
    fast[0].add_(1.0)
    fast[1][0].mul_(2.0)
    again = tr.value_and_grad(x, c, argnums=(0, 1))
    assert again[0].item() == slow[0].item() and again[1][0].item() == slow[1][0].item()
    s, one = pair(x)
    assert s.shape == one.shape == shape and s.item() == x.sin().item() and one.item() == 1.0


# --- jvp, jacobian, hessian, hvp --------------------------------------------------------------
def _rosenbrock(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


@settings(deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 7))
def test_derivatives_equal_the_functional_api(seed, n):
    from tape.autograd import functional as F
    rng = np.random.default_rng(seed)
    x0, x, v = (tape.tensor(rng.normal(size=n), dtype=tape.float64) for _ in range(3))
    tr = tape.trace(_rosenbrock, x0)
    assert np.allclose(tr.hessian(x).numpy(), F.hessian(_rosenbrock, x).numpy(), rtol=1e-12, atol=1e-9)
    value, hv = tr.hvp(x, v)
    want = F.hvp(_rosenbrock, x, v)
    assert np.isclose(float(value), float(want[0]), rtol=1e-14)
    assert np.allclose(hv.numpy(), want[1].numpy(), rtol=1e-12, atol=1e-9)

    def f(a, b):
        return a.sin() * b, (a.exp() * b).sum()
    a, b = tape.tensor(rng.normal(size=n), dtype=tape.float64), tape.tensor(rng.normal(size=n), dtype=tape.float64)
    tr2 = tape.trace(f, a * 0.5, b * 2)
    J, Je = tr2.jacobian(a, b), F.jacobian(f, (a, b))
    for i in range(2):
        for j in range(2):
            assert J[i][j].shape == Je[i][j].shape and np.allclose(J[i][j].numpy(), Je[i][j].numpy(), rtol=1e-13)
    out, t = tr2.jvp((a, b), (b, a))
    oute, te = F.jvp(f, (a, b), (b, a))
    for k in range(2):
        assert np.allclose(out[k].numpy(), oute[k].numpy(), rtol=1e-14)
        assert np.allclose(t[k].numpy(), te[k].numpy(), rtol=1e-13)
    assert tr.jacobian(x).tolist() == tr.grad(x).tolist()



@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["tanh", "exp", "sin", "log1p"])
def test_big_transcendental_rows_replay_as_eager_bitwise(name, dtype):
    # numba here has no SVML: such a row from 256 elements is replayed by the numpy ufunc eager
    # called, faster than the scalar loop and bitwise eager's (numba's tanhf differs by up to 3 ulps)
    rng = np.random.default_rng(1)
    x0, x1 = (tape.tensor(rng.uniform(0.1, 2.0, 2048).astype(dtype)) for _ in range(2))

    def f(x):
        return getattr(tape, name)(x * 1.5) * 2.0

    tr = tape.trace(f, x0)
    got = tr(x1)
    assert got.numpy().tobytes() == f(x1).numpy().tobytes()
    assert tr.stats()["records"] == 1
    batch = tr.map(tape.stack([x0, x1]))
    assert batch.numpy().tobytes() == tape.stack([f(x0), f(x1)]).numpy().tobytes()


# --- replay bitwise eager: products and sums -------------------------------------------------------
def _bitwise_replay(f, inputs, again, argnums):
    """Trace ``f`` at ``inputs``; at ``again`` the replay's value and gradient are eager's, bit for
    bit, and ``f`` is not run again (the trace replays in compiled code)."""
    tr = tape.trace(f, *inputs)
    assert tr.variants[0].compiled
    xs = [x.clone().requires_grad_() for x in again]
    want = f(*xs)
    want_g = tape.autograd.grad(want, [xs[i] for i in argnums])
    got, got_g = tr.value_and_grad(*again, argnums=argnums)
    assert got.numpy().tobytes() == want.detach().numpy().tobytes()
    for g, w in zip(got_g, want_g):
        assert g.numpy().tobytes() == w.numpy().tobytes()
    assert tr.stats()["records"] == 1
    return tr


@pytest.mark.parametrize("dtype", [tape.float32, tape.float64])
@pytest.mark.parametrize("sa,sb", [((7,), (7,)), ((5, 7), (7,)), ((7,), (7, 4)), ((4, 6), (6, 5)),
                                   ((32, 64), (64, 1)), ((32, 16), (16, 64)), ((64, 64), (64, 24))])
def test_products_replay_as_eager_bitwise(sa, sb, dtype):
    # Small products by the row's kernel, others by numpy's BLAS call, in eager and replay alike (a
    # numba loop against BLAS differed by ulps, and the trace ran ``fn`` at each call).
    rng = np.random.default_rng(2)
    a0, b0, a1, b1 = (tape.tensor(rng.standard_normal(s), dtype=dtype) for s in (sa, sb, sa, sb))

    def f(a, b):
        y = a @ b
        return (y * y * 1.5).sum()

    _bitwise_replay(f, (a0, b0), (a1, b1), (0, 1))


@pytest.mark.parametrize("op", ["sum", "mean"])
@pytest.mark.parametrize("shape,dims", [((37,), (0,)), ((3, 5, 200), (0, 2)), ((2, 3, 4, 50), (0, 1, 3)),
                                        ((1000, 3), (0, 1)), ((6, 7, 8), (1, 2)), ((9, 300), (0,))])
def test_sums_replay_as_eager_bitwise(shape, dims, op):
    # The reduction kernel sums in numpy's order (pairwise over the reduced trailing dims).
    rng = np.random.default_rng(3)
    x0, x1 = (tape.tensor(rng.standard_normal(shape) * 3, dtype=tape.float32) for _ in range(2))

    def f(x):
        return (getattr(x, op)(dims) ** 2).sum()

    _bitwise_replay(f, (x0,), (x1,), (0,))


def test_small_mlp_loss_replays_compiled_and_bitwise():
    # The benchmark's small MLP loss (float32): its products and mean replay as eager computed them.
    rng = np.random.default_rng(4)
    sizes = (16, 64, 64, 1)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params += [tape.tensor(rng.standard_normal((fan_in, fan_out)) / fan_in ** 0.5, dtype=tape.float32),
                   tape.tensor(rng.standard_normal(fan_out) * 0.1, dtype=tape.float32)]
    x = tape.tensor(rng.standard_normal((32, 16)), dtype=tape.float32)
    t = tape.tensor(rng.standard_normal((32, 1)), dtype=tape.float32)

    def loss(w1, b1, w2, b2, w3, b3):
        h = (x @ w1 + b1).tanh()
        h = (h @ w2 + b2).tanh()
        return ((h @ w3 + b3 - t) ** 2).mean()

    again = [p * 1.01 for p in params]
    tr = _bitwise_replay(loss, params, again, tuple(range(6)))
    # (the BLAS product is replayed by numpy's call on the arena, not by its front end's)
    assert tr.stats()["variants"][0]["python_forward"] == 0


def test_hooks_are_put_back_and_follow_swapped_members(monkeypatch):
    # A recording hooks the front ends in bulk and puts the members back; a member swapped since the
    # last recording (a forward-AD level swaps front ends) is hooked as it is now.
    members = dict(vars(tape.Tensor))
    functions = {k: v for k, v in vars(tape).items() if callable(v)}
    x = tape.tensor([0.5, -1.0])
    tape.trace(lambda x: (x.sin() > 0).float() * x.exp(), x)
    assert all(vars(tape.Tensor)[k] is v for k, v in members.items())
    assert all(vars(tape)[k] is v for k, v in functions.items())
    original = tape.sin

    def sin(t):
        return original(t) * 1.0

    monkeypatch.setattr(tape, "sin", sin)
    seen = []

    def f(x):
        seen.append(tape.sin.__wrapped__)     # (the hooked form, made from the member in place now)
        return tape.sin(x) * 2

    tr = tape.trace(f, x)
    assert seen == [sin] and tape.sin is sin
    assert np.allclose(tr(x).numpy(), (sin(x) * 2).numpy(), rtol=1e-6)     # (numba's sinf: ulps from numpy's)


def test_front_end_through_its_family_module_is_replayed():
    # A Python-forward op reached through a private name (the family module that defines it) is a
    # segment as its public name is: the trace does not run ``fn`` at each call.
    from tape.ops import stats
    x0, x1 = (tape.tensor(np.random.default_rng(k).standard_normal((5, 3))) for k in (5, 6))

    def f(x):
        return stats.norm(x * 2.0) * 3

    tr = tape.trace(f, x0)
    assert tr.variants[0].compiled and tr.stats()["variants"][0]["python_forward"] == 1
    assert tr(x1).numpy().tobytes() == f(x1).numpy().tobytes()
