"""``tape.trace`` on Python-forward rows (replayed by calling their front end again, not ``fn``)
and the trace optimiser (constants folded, repeated rows merged, dead rows dropped).

Python-forward rows: numpy reductions, LAPACK factorizations, scatters, in-place writes and custom
Functions are traced once and replayed at other points: values and gradients equal a fresh eager
run, and ``fn`` itself runs only when recording (a custom Function's ``forward`` runs at each
replay, as its rows need).  A call whose rows come out different (a median picking another
element) records again, or raises with ``strict=True``.

Optimisation: replayed values are bitwise those of the unoptimised trace, gradients equal to
rounding (merged rows add their adjoints before pushing them back), on random programs mixing
compiled rows, Python-forward rows and guards.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tape
from tape import TraceGuardError

f64 = tape.float64


def _counted(fn):
    calls = [0]

    def counted(*xs):
        calls[0] += 1
        return fn(*xs)
    return counted, calls


def _eager(fn, xs):
    leaves = [x.detach().clone().requires_grad_() for x in xs]
    out = fn(*leaves)
    return out.detach(), tape.autograd.grad(out, leaves, allow_unused=True)


def _spd(a):
    return a @ a.mT + 3 * tape.eye(a.shape[-1], dtype=a.dtype)


class _Cube(tape.autograd.Function):
    forwards = 0

    @staticmethod
    def forward(ctx, x, w):
        _Cube.forwards += 1
        y = x * x * x * w
        ctx.save_for_backward(x, y)
        ctx.w = w
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * 3 * y / x, None


PROGRAMS = {
    "softmax": lambda x: (x.softmax(1) * x).sum(),
    "log_softmax_dtype": lambda x: x.log_softmax(0, dtype=tape.float32).double().sum(),
    "std_var": lambda x: x.std(0).sum() + x.var(1, correction=0).prod(),
    "logsumexp_amax": lambda x: x.logsumexp(1).sum() * x.amax(0).sum(),
    "norm_prod": lambda x: x.norm() + x.prod(1).sum(),
    "svd_cholesky": lambda x: tape.linalg.svd(x)[1].sum() + tape.linalg.cholesky(_spd(x)).sum(),
    "batched_cholesky": lambda x: tape.linalg.cholesky(_spd(x.expand(2, 3, 3) * tape.tensor([[[1.0]], [[0.5]]],
                                                                                           dtype=f64))).sum(),
    "addmm": lambda x: tape.ones(3, 3, dtype=f64).addmm(x, x, beta=0.5).sum(),
    "solve_det": lambda x: tape.linalg.solve(_spd(x), x).sum() + tape.linalg.det(_spd(x)),
    "scatter_add": lambda x: x.scatter_add(1, tape.tensor([[0, 0, 2], [1, 2, 2], [0, 1, 0]]), x * x).sum(),
    "put_in_place": lambda x: (x * 2).put_(tape.tensor([0, 4]), x[0, :2].exp(), accumulate=True).sum(),
    "copy_into_plain": lambda x: (tape.zeros(3, 3, dtype=f64).copy_(x.sin()) * x).sum(),
    "custom_function": lambda x: _Cube.apply(x.sin() + 1.5, 2.0).sum(),
    "cumprod_vander": lambda x: tape.linalg.vander(x[0], N=3).sum() + x.cumprod(1).sum(),
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_python_forward_rows_replay_without_fn(name):
    fn, calls = _counted(PROGRAMS[name])
    rng = np.random.default_rng(0)
    x0 = tape.tensor(rng.uniform(0.5, 1.5, (3, 3)), dtype=f64)
    tr = tape.trace(fn, x0)
    assert tr.stats()["variants"][0]["compiled"] and tr.stats()["variants"][0]["python_forward"] >= 1
    forwards = _Cube.forwards
    for k in range(4):
        x = x0 * tape.tensor(rng.uniform(0.97, 1.03, (3, 3)), dtype=f64)
        value, grad = tr.value_and_grad(x)
        want, (want_g,) = _eager(PROGRAMS[name], [x])
        assert np.allclose(value.numpy(), want.numpy(), rtol=1e-12, atol=0), (value, want)
        assert np.allclose(grad.numpy(), want_g.numpy(), rtol=1e-10, atol=1e-12), (grad, want_g)
    assert calls[0] == 1 and tr.records == 1        # fn ran once, when recording
    if name == "custom_function":
        assert _Cube.forwards - forwards == 4 * 2   # (each replay's forward, and each eager run's)


def test_index_lists_are_taken_from_the_call_made_again():
    # quantile() sorts: where the order differs, so do the positions its rows pick.
    fn = lambda x: x.quantile(0.3) * x.sum() + x.msort()[0]     # noqa: E731
    tr = tape.trace(fn, tape.tensor([1.0, 2.0, 3.0], dtype=f64))
    for v in ([1.5, 2.5, 3.5], [3.0, 1.0, 2.0], [2.0, 3.0, 1.0], [1.0, 2.2, 3.0]):
        t = tape.tensor(v, dtype=f64)
        value, grad = tr.value_and_grad(t)
        want, (want_g,) = _eager(fn, [t])
        assert value.item() == want.item() and grad.tolist() == want_g.tolist(), v
    assert tr.records == 1


class _Head(tape.autograd.Function):
    """The first one or two elements, by the sign of the sum: a shape that depends on values."""

    @staticmethod
    def forward(ctx, x):
        return x[:1 if x.sum() > 0 else 2] * 1.0

    @staticmethod
    def backward(ctx, g):
        return tape.cat([g, g.new_zeros(3 - g.shape[0])])


def test_calls_whose_rows_differ_record_again():
    fn = lambda x: (_Head.apply(x) * x[0]).sum()     # noqa: E731
    tr = tape.trace(fn, tape.tensor([1.0, 2.0, 3.0], dtype=f64))
    for v in ([1.5, 2.5, 3.5], [-3.0, 1.0, -2.0], [2.0, 3.0, 1.0]):
        t = tape.tensor(v, dtype=f64)
        value, grad = tr.value_and_grad(t)
        want, (want_g,) = _eager(fn, [t])
        assert value.item() == want.item() and grad.tolist() == want_g.tolist(), v
    assert tr.records == 2
    strict = tape.trace(fn, tape.tensor([1.0, 2.0, 3.0], dtype=f64), strict=True)
    with pytest.raises(TraceGuardError, match="_Head"):
        strict(tape.tensor([-3.0, 1.0, -2.0], dtype=f64))


def test_sort_values_replay_and_indices_are_guarded():
    fn = lambda x: (x.sort()[0] * tape.arange(3.0, dtype=f64)).sum() + x.topk(2)[0].sum()  # noqa: E731
    tr = tape.trace(fn, tape.tensor([1.0, 2.0, 3.0], dtype=f64))
    for v in ([1.1, 2.1, 3.3], [3.0, 1.0, 2.0], [0.5, 0.7, 0.9]):
        t = tape.tensor(v, dtype=f64)
        value, grad = tr.value_and_grad(t)
        want, (want_g,) = _eager(fn, [t])
        assert value.item() == want.item() and grad.tolist() == want_g.tolist(), v
    assert tr.records == 2


def test_parameters_of_python_forward_calls_are_read_by_reference():
    w = tape.tensor([[0.5, -1.0], [2.0, 0.25]], dtype=f64, requires_grad=True)
    fn = lambda x: (x @ w).softmax(1).logsumexp(0).sum()     # noqa: E731
    tr = tape.trace(fn, tape.ones(2, 2, dtype=f64))
    x = tape.tensor([[0.3, 0.1], [-0.2, 0.4]], dtype=f64)
    with tape.no_grad():
        w.mul_(1.5)
    value, grad = tr.value_and_grad(x)
    want, (want_g,) = _eager(fn, [x])
    assert value.item() == want.item() and np.allclose(grad.numpy(), want_g.numpy(), rtol=1e-13, atol=0)
    assert tr.records == 1


# --- optimisation ---------------------------------------------------------------------------
def test_optimize_folds_merges_and_drops():
    w = tape.tensor([0.5, 0.25], dtype=f64, requires_grad=True)
    w2 = w * 2                  # (a node of an eager graph: a constant of the trace)

    def fn(x):
        (x * 3).exp()           # dead
        k = w2.exp().sin()      # folded: from constants only
        return (x.sin() * k + x.sin() * k).sum()    # the second x.sin() * k merged into the first
    x = tape.tensor([0.3, 0.4], dtype=f64)
    tr = tape.trace(fn, x)
    plain = tape.trace(fn, x, optimize=False)
    stats = tr.stats()["variants"][0]
    opt = stats["optimized"]
    assert opt["folded"] == 2 and opt["merged"] == 2 and opt["dropped"] >= 2, opt
    assert opt["rows_after"] == stats["rows"] < opt["rows_before"] == plain.stats()["variants"][0]["rows"]
    assert opt["bytes_after"] < opt["bytes_before"] and plain.stats()["variants"][0]["optimized"] is None
    for v in ([0.3, 0.4], [1.0, -2.0]):
        t = tape.tensor(v, dtype=f64)
        assert tr(t).numpy().tobytes() == plain(t).numpy().tobytes() == fn(t).detach().numpy().tobytes()
        assert np.allclose(tr.grad(t).numpy(), plain.grad(t).numpy(), rtol=1e-15, atol=0)
    with pytest.raises(TypeError, match="optimize must be a bool"):
        tape.trace(fn, x, optimize=1)


STEPS = ["sin", "mul_self", "softmax", "std", "sort", "dup", "dead", "branch", "amax", "cumsum", "custom"]


def _program(steps: list):
    def fn(x):
        y = x
        for kind, c in steps:
            if kind == "sin":
                y = (y * c).sin() + y
            elif kind == "mul_self":
                y = y * y.cos() * c
            elif kind == "softmax":
                y = y.softmax(0) * c + y
            elif kind == "std":
                y = y - y.std() * c
            elif kind == "sort":
                y = y.sort()[0] + y * c
            elif kind == "dup":
                y = y.exp() * c + y.exp() - y.tanh() * y.tanh()
            elif kind == "dead":
                (y * c).logsumexp(0)
            elif kind == "branch":
                y = y * 2 if y.sum() > c else y - c
            elif kind == "amax":
                y = y - y.amax() * c
            elif kind == "cumsum":
                y = y.cumsum(0) * c
            else:
                y = _Cube.apply(y.tanh() + 2.0, c)
        return y.sum()
    return fn


@settings(deadline=None, max_examples=max(1, settings.default.max_examples // 2))
@given(steps=st.lists(st.tuples(st.sampled_from(STEPS), st.floats(-1.0, 1.0).filter(lambda c: abs(c) > 1e-3)),
                      min_size=1, max_size=6),
       points=st.lists(st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3), min_size=1, max_size=4))
def test_optimized_replay_equals_unoptimized(steps, points):
    fn = _program(steps)
    x0 = tape.tensor([0.1, -0.4, 0.7], dtype=f64)
    tr = tape.trace(fn, x0)
    plain = tape.trace(fn, x0, optimize=False)
    for p in points:
        t = tape.tensor(p, dtype=f64)
        v1, g1 = tr.value_and_grad(t)
        v2, g2 = plain.value_and_grad(t)
        assert v1.numpy().tobytes() == v2.numpy().tobytes(), (v1, v2)
        assert np.allclose(g1.numpy(), g2.numpy(), rtol=1e-12, atol=1e-12, equal_nan=True), (g1, g2)
        want, (want_g,) = _eager(fn, [t])
        assert np.allclose(v1.numpy(), want.numpy(), rtol=1e-12, atol=1e-12, equal_nan=True)
        assert np.allclose(g1.numpy(), want_g.numpy(), rtol=1e-10, atol=1e-10, equal_nan=True)
