"""Blocked sweeps (``tape/_blocked.py``): k directions per sweep, forward and reverse.

For entries of the op table (``tests/test_grad_ops.py``'s ``OPS``) the Jacobian of the op's
eager graph by blocked reverse sweeps equals the one by one sweep per output element, and the
blocked tangent sweep (forward mode, k directions) gives its transpose.  On traces, ``jacobian``
(either mode), ``hessian``, ``hvp`` and ``jvp`` agree with finite differences and with
``autograd.functional``; ``autograd.functional``'s arguments all keep working, with PyTorch's
results and errors (``torch``-marked tests).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tape
from tape import _blocked, _engine
from tape.autograd import functional as F

from .test_grad_ops import OP_NAMES, OPS, as_list, draw_case, to_tensor


def _flat(jac, outs: list, ins: list) -> np.ndarray:
    """A nested ``functional.jacobian`` result as one (output elements x input elements) array."""
    rows = jac if isinstance(jac, tuple) and len(outs) > 1 else (jac,)
    blocks = []
    for o, row in zip(outs, rows):
        row = row if isinstance(row, tuple) and len(ins) > 1 else (row,)
        blocks.append(np.concatenate([np.asarray(b.numpy(), np.float64).reshape(o.numel(), x.numel())
                                      for b, x in zip(row, ins)], 1))
    return np.concatenate(blocks, 0)


# --- blocked == per-direction over the op table ---------------------------------------------------
# (ops drawn from the table: 45 draws under the ci profile, 1,200 under thorough)
@settings(deadline=None, max_examples=3 * settings.default.max_examples)
@given(data=st.data())
def test_blocked_equals_per_direction(data):
    name = data.draw(st.sampled_from(OP_NAMES), label="op")
    op = OPS[name]
    case = draw_case(data, op)
    xs = [to_tensor(tape, a, case.dtype, requires_grad=r) for a, r in zip(case.arrays, case.requires)]
    outs = [o for o in as_list(op.fn(tape, *xs)) if isinstance(o, tape.Tensor) and o.requires_grad]
    if not outs:
        return
    ins = [x for x in xs if x.requires_grad]
    per = _engine.jacobian_block(outs, ins)
    blocked = _blocked.jacobian_block(outs, ins)
    eps = np.finfo(case.dtype).eps
    if per is not None:
        assert blocked is not None
        J, Jb = per[0], blocked[0]
        scale = np.maximum(np.nanmax(np.abs(J), initial=0.0), 1.0)
        assert J.shape == Jb.shape
        assert np.allclose(Jb, J, rtol=1e2 * eps, atol=1e2 * eps * scale, equal_nan=True), name
    elif blocked is None:
        return
    J = blocked[0]
    # Forward mode, one direction per input element: the same Jacobian, transposed.
    tp = outs[0]._tape
    if any(o._tape is not tp for o in outs) or any(x._ig != tp.gen for x in ins):
        return
    nodes = [x._in for x in ins]
    seeds = [[(node, e, 1.0)] for node, x in zip(nodes, ins) for e in range(x.numel())]
    T = _blocked.tangents(tp, seeds, [o._node for o in outs])
    scale = np.maximum(np.nanmax(np.abs(J), initial=0.0), 1.0)
    # (tangents and adjoints run different arithmetic: products of partials in another order)
    assert np.allclose(T.T, J, rtol=1e3 * eps, atol=1e3 * eps * scale, equal_nan=True), name


def test_blocks_split_and_python_rows(monkeypatch):
    """Blocks smaller than the directions give the same Jacobian; a BLAS product (a row Python
    runs, once per direction) too."""
    rng = np.random.default_rng(0)
    A = tape.tensor(rng.normal(size=(70, 70)))
    x = tape.tensor(rng.normal(size=70), requires_grad=True)

    def f(x):
        return ((A @ x).sin() * x + x[:5].sum()).exp() / 3

    want = F.jacobian(f, x, strict=True).numpy()      # (one backward per output element)
    got = F.jacobian(f, x).numpy()
    assert np.allclose(got, want, rtol=1e-13, atol=1e-13)
    monkeypatch.setattr(_blocked, "ELEMENTS", 1000)
    assert np.allclose(F.jacobian(f, x).numpy(), want, rtol=1e-13, atol=1e-13)
    tr = tape.trace(f, x)
    assert np.allclose(tr.jacobian(x).numpy(), want, rtol=1e-13, atol=1e-13)


# --- traces: against finite differences --------------------------------------------------------
def _fd_jacobian(fn, xs: list, h: float = 1e-6) -> np.ndarray:
    """Central differences, float64: (output elements x input elements)."""
    def flat(arrays):
        outs = as_list(fn(*[tape.tensor(a) for a in arrays]))
        return np.concatenate([np.asarray(o.numpy(), np.float64).reshape(-1) for o in outs])
    base = [np.array(x.numpy(), np.float64) for x in xs]
    cols = []
    for i, a in enumerate(base):
        for e in range(a.size):
            hi = [b.copy() for b in base]
            lo = [b.copy() for b in base]
            hi[i].reshape(-1)[e] += h
            lo[i].reshape(-1)[e] -= h
            cols.append((flat(hi) - flat(lo)) / (2 * h))
    return np.stack(cols, 1)


def _wide(a, b):
    return (a.sin()[:, None] * b.exp() + (a ** 2).sum(), b.tanh().cumsum(0), (a[:2] * b[-2:]).prod())


def _scalar(a, b):
    return ((a[:, None] * b).sin().sum() + (a ** 3).mean() * b.sum() + (a[1:] - a[:-1] ** 2).pow(2).sum())


@settings(deadline=None, max_examples=max(2, settings.default.max_examples // 5))
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 4))
def test_trace_derivatives_vs_finite_differences(seed, n):
    rng = np.random.default_rng(seed)
    a0, b0, a, b = (tape.tensor(rng.uniform(-1, 1, size=n)) for _ in range(4))
    # (outputs outnumber inputs: forward mode; one output element: reverse mode)
    tr = tape.trace(_wide, a0, b0)
    got = _flat(tr.jacobian(a, b), list(_wide(a, b)), [a, b])
    assert np.allclose(got, _fd_jacobian(_wide, [a, b]), rtol=1e-6, atol=1e-7)
    va, vb = tape.tensor(rng.normal(size=n)), tape.tensor(rng.normal(size=n))
    _, t = tr.jvp((a, b), (va, vb))
    Jv = got @ np.concatenate([va.numpy(), vb.numpy()])
    assert np.allclose(np.concatenate([x.numpy().reshape(-1) for x in t]), Jv, rtol=1e-12, atol=1e-12)
    ts = tape.trace(_scalar, a0, b0)
    g = _flat(ts.jacobian(a, b), [_scalar(a, b)], [a, b])
    assert np.allclose(g, _fd_jacobian(_scalar, [a, b]), rtol=1e-6, atol=1e-7)
    H = ts.hessian(a, b)
    Hf = np.block([[H[i][j].numpy() for j in range(2)] for i in range(2)])
    want = _fd_jacobian(lambda x, y: ts.grad(x, y, argnums=(0, 1)), [a, b])
    assert np.allclose(Hf, want, rtol=1e-6, atol=1e-6)
    assert np.allclose(Hf, Hf.T, rtol=1e-12, atol=1e-12)
    _, hv = ts.hvp((a, b), (va, vb))
    assert np.allclose(np.concatenate([h.numpy() for h in hv]), Hf @ np.concatenate([va.numpy(), vb.numpy()]),
                       rtol=1e-12, atol=1e-12)


def test_trace_float32_and_constant_outputs():
    x = tape.tensor([0.5, -1.0, 2.0], dtype=tape.float32)

    def f(x):
        return (x.exp() * 2).double(), tape.ones(2)

    tr = tape.trace(f, x)
    J = tr.jacobian(x)
    assert J[0].dtype == tape.float32 and J[1].dtype == tape.float32
    assert np.allclose(J[0].numpy(), np.diag(2 * np.exp(x.numpy())), rtol=1e-6)
    assert (J[1].numpy() == 0).all() and J[1].shape == (2, 3)
    _, t = tr.jvp(x, tape.ones(3, dtype=tape.float32))
    assert np.allclose(t[0].numpy(), 2 * np.exp(x.numpy()), rtol=1e-6) and (t[1].numpy() == 0).all()
    lin = tape.trace(lambda x: (x * 3).sum(), x)
    assert (lin.hessian(x).numpy() == 0).all()
    assert (lin.hvp(x, tape.ones(3, dtype=tape.float32))[1].numpy() == 0).all()


# --- autograd.functional: every argument -----------------------------------------------------------
def _f2(x, y):
    return (x.sin() * y[:1], (x[:, None] * y).exp())


def _s2(x, y):
    return (x.exp() * y.sin().sum()).sum() + (x ** 2 * y[0]).sum()


def test_functional_arguments():
    rng = np.random.default_rng(1)
    x, y = tape.tensor(rng.normal(size=3)), tape.tensor(rng.normal(size=2))
    fd = _fd_jacobian(_f2, [x, y])
    for kw in ({}, {"vectorize": True}, {"strict": True}, {"strategy": "forward-mode", "vectorize": True}):
        assert np.allclose(_flat(F.jacobian(_f2, (x, y), **kw), list(_f2(x, y)), [x, y]), fd,
                           rtol=1e-6, atol=1e-7), kw
    J = F.jacobian(_f2, (x, y), create_graph=True)
    assert J[0][0].requires_grad
    H = F.hessian(_s2, (x, y))
    Hf = np.block([[H[i][j].numpy() for j in range(2)] for i in range(2)])

    def grad(a, b):
        return tuple(tape.autograd.grad(_s2(a, b), (a, b)))

    def numeric(a, b):
        a, b = a.detach().requires_grad_(), b.detach().requires_grad_()
        return grad(a, b)
    assert np.allclose(Hf, _fd_jacobian(numeric, [x, y]), rtol=1e-6, atol=1e-6)
    for kw in ({"vectorize": True}, {"strict": True}, {"create_graph": True},
               {"outer_jacobian_strategy": "forward-mode", "vectorize": True}):
        H2 = F.hessian(_s2, (x, y), **kw)
        assert np.allclose(np.block([[H2[i][j].detach().numpy() for j in range(2)] for i in range(2)]), Hf,
                           rtol=1e-12, atol=1e-12), kw
    with pytest.raises(RuntimeError, match="`strict=True` and `vectorized=True` are not supported together"):
        F.jacobian(_f2, (x, y), strict=True, vectorize=True)
    with pytest.raises(RuntimeError, match="is independent of input 1"):
        F.jacobian(lambda a, b: a * 2, (x, y), strict=True)
    independent = F.jacobian(lambda a, b: a * 2, (x, y))
    assert (independent[1].numpy() == 0).all() and independent[1].shape == (3, 2)


# --- against PyTorch ---------------------------------------------------------------------------------
@pytest.mark.torch
@pytest.mark.parametrize("kw", [{}, {"vectorize": True}, {"strict": True}, {"create_graph": True},
                                {"strategy": "forward-mode", "vectorize": True}])
def test_jacobian_vs_torch(kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=3), rng.normal(size=2)
    got = F.jacobian(_f2, (tape.tensor(a), tape.tensor(b)), **kw)
    want = torch.autograd.functional.jacobian(_f2, (torch.tensor(a), torch.tensor(b)), **kw)
    for gr, wr in zip(got, want):
        for g, w in zip(gr, wr):
            assert g.shape == tuple(w.shape) and g.requires_grad == w.requires_grad
            assert np.allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-13, atol=1e-14)


@pytest.mark.torch
@pytest.mark.parametrize("kw", [{}, {"vectorize": True}, {"strict": True}, {"create_graph": True},
                                {"outer_jacobian_strategy": "forward-mode", "vectorize": True}])
def test_hessian_and_products_vs_torch(kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    a, b, u, v = rng.normal(size=3), rng.normal(size=2), rng.normal(size=3), rng.normal(size=2)
    T = (tape.tensor(a), tape.tensor(b))
    P = (torch.tensor(a), torch.tensor(b))
    got, want = F.hessian(_s2, T, **kw), torch.autograd.functional.hessian(_s2, P, **kw)
    for gr, wr in zip(got, want):
        for g, w in zip(gr, wr):
            assert g.shape == tuple(w.shape) and g.requires_grad == w.requires_grad
            assert np.allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-13, atol=1e-13)
    rosen = lambda x: (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()    # noqa: E731
    x0 = rng.normal(size=20)
    got = F.hessian(rosen, tape.tensor(x0), **kw)
    want = torch.autograd.functional.hessian(rosen, torch.tensor(x0), **kw)
    assert np.allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-13, atol=1e-12)
    if kw.get("vectorize") or kw.get("outer_jacobian_strategy"):
        return
    for name in ("hvp", "vhp", "vjp", "jvp"):
        f = _s2 if name in ("hvp", "vhp", "vjp") else _f2
        vecs = (tape.tensor(u), tape.tensor(v))
        tvecs = (torch.tensor(u), torch.tensor(v))
        if name == "vjp":
            vecs, tvecs = tape.tensor(1.5, dtype=tape.float64), torch.tensor(1.5, dtype=torch.float64)
        g = getattr(F, name)(f, T, vecs, **kw)
        w = getattr(torch.autograd.functional, name)(f, P, tvecs, **kw)
        for gs, ws in zip(g, w):
            gs, ws = (gs, ws) if isinstance(gs, tuple) else ((gs,), (ws,))
            for gg, ww in zip(gs, ws):
                assert gg.requires_grad == ww.requires_grad, name
                assert np.allclose(gg.detach().numpy(), ww.detach().numpy(), rtol=1e-13, atol=1e-13), name


@pytest.mark.torch
def test_trace_hessian_vs_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x0 = rng.normal(size=50)
    rosen = lambda x: (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()    # noqa: E731
    tr = tape.trace(rosen, tape.tensor(rng.normal(size=50)))
    want = torch.autograd.functional.hessian(rosen, torch.tensor(x0), vectorize=True).numpy()
    assert np.allclose(tr.hessian(tape.tensor(x0)).numpy(), want, rtol=1e-13, atol=1e-12)


def test_trace_hessian_follows_branches_and_parameters():
    # (a Hessian replays the front variant's gradient program alone: a branch its guards do not
    # hold, or a parameter of another shape, goes through the variants and records again)
    w = tape.tensor([1.0, -2.0, 0.5], dtype=tape.float64)

    def f(x):
        if x.sum() > 0:
            return (w * x ** 3).sum() + (x[1:] * x[:-1]).sum()
        return (w * x.sin()).sum() * x.sum()
    x = tape.tensor([0.3, 0.4, 0.2], dtype=tape.float64)
    tr = tape.trace(f, x)
    points = ([0.5, 0.1, 0.7], [-0.5, 0.1, -0.7], [0.2, 0.9, -0.3], [-1.5, 0.3, 0.2])
    for v in points + points:
        y = tape.tensor(v, dtype=tape.float64)
        np.testing.assert_allclose(tr.hessian(y).numpy(), F.hessian(f, y).numpy(), rtol=1e-13, atol=1e-13)
    assert tr.stats()["records"] == 4           # (two variants, each with its gradient program)
    with tape.no_grad():
        w.mul_(3.0)
    np.testing.assert_allclose(tr.hessian(y).numpy(), F.hessian(f, y).numpy(), rtol=1e-13, atol=1e-13)
    w.data = tape.tensor([[2.0, 1.0, -1.0], [0.5, 0.5, 0.5]], dtype=tape.float64)
    for v in points[:2]:
        y = tape.tensor(v, dtype=tape.float64)
        np.testing.assert_allclose(tr.hessian(y).numpy(), F.hessian(f, y).numpy(), rtol=1e-13, atol=1e-13)


def test_trace_derivatives_through_rows_python_computes():
    # (``amax`` and ``prod`` are rows whose forward Python computes, replayed by calling them
    # again: the trace's Hessian program records them too)
    def f(x):
        return x.amax() * (x.sin() * x).sum() + (x * x).prod()
    x = tape.tensor([0.3, -1.2, 0.8, 1.9], dtype=tape.float64)
    tr = tape.trace(f, x)
    for y in (tape.tensor([0.5, 0.1, -0.7, 1.1], dtype=tape.float64), x * 1.5):
        np.testing.assert_allclose(tr.hessian(y).numpy(), F.hessian(f, y).numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(tr.jacobian(y).numpy(), F.jacobian(f, y).numpy(), rtol=1e-12, atol=1e-12)
        v = tape.tensor([1.0, -2.0, 0.5, 0.25], dtype=tape.float64)
        np.testing.assert_allclose(tr.hvp(y, v)[1].numpy(), F.hvp(f, y, v)[1].numpy(), rtol=1e-12, atol=1e-12)


def test_eager_jacobian_with_leaves_the_tape_refers_to():
    # (a 64x64 constant is big enough to be referred to by its row, not copied: ``Tape.refer``;
    # the Jacobian sweeps read the arenas, so its slot must be filled first)
    rng = np.random.default_rng(5)
    w = tape.tensor(rng.standard_normal((64, 64)))
    x = tape.tensor(rng.standard_normal((32, 64)))

    def f(x):
        return (x @ w).tanh().sum(1)
    blocked = F.jacobian(f, x).numpy().reshape(32, -1)
    np.testing.assert_array_equal(blocked, F.jacobian(f, x, strict=True).numpy().reshape(32, -1))
    x0, eps = x.numpy().reshape(-1), 1e-6
    for k in range(0, x0.size, 97):
        up, down = x0.copy(), x0.copy()
        up[k] += eps
        down[k] -= eps
        fd = (f(tape.tensor(up.reshape(32, 64))) - f(tape.tensor(down.reshape(32, 64)))).numpy() / (2 * eps)
        np.testing.assert_allclose(blocked[:, k], fd, rtol=1e-6, atol=1e-8)


# --- compact adjoints (``compact_block``): the arena layout's results, bitwise ---------------------
def _banded(x):
    y = x[1:] - x[:-1] ** 2
    return (100 * y ** 2 + (1 - x[:-1]) ** 2).sum() + (x * 0.5).sin().sum() * x[:1] + x[::2].exp().sum()


def _sweep_both(f, x):
    """The Hessian of ``f`` on a trace, by ``seeded`` on compact adjoints and on arena rows."""
    tr = tape.trace(f, x)
    tr.hessian(x)
    prog = tr.variants[0].gradient_program
    tp, n = prog.var.tape, x.numel()
    args = (tp, prog.start, prog.units, n, prog.var.in_nodes, prog.unneeded)
    J = np.zeros((n, n))
    hit = np.zeros(1, np.bool_)
    ran = _blocked._compact_sweeps(*args, _blocked.Partials(tp), J, hit)
    arena = {"compact": False}
    want, _ = _blocked.seeded(*args, arena)
    got, _ = _blocked.seeded(*args, {})
    return ran, J, got, want, tr


@settings(deadline=None, max_examples=max(2, settings.default.max_examples // 5))
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 40))
def test_compact_sweep_equals_arena_rows(seed, n):
    x = tape.tensor(np.random.default_rng(seed).uniform(-1.5, 1.5, size=n))
    ran, J, got, want, tr = _sweep_both(_banded, x)
    assert ran is True
    assert np.array_equal(J, want) and np.array_equal(got, want)
    assert np.allclose(want, _fd_jacobian(lambda x: tr.grad(x), [x]), rtol=1e-6, atol=1e-5)


def test_compact_sweep_grows_its_buffer_and_falls_back(monkeypatch):
    """A buffer too small is doubled and the block run again; at a row the compact sweep does not
    run (a select's backward, through its family's kernel) the arena rows give the result."""
    x = tape.tensor(np.linspace(-1.0, 1.0, 30))
    monkeypatch.setattr(_blocked._local, "compact", np.empty(8), raising=False)
    monkeypatch.setattr(_blocked._local, "compact_size", 8, raising=False)
    ran, J, got, want, _ = _sweep_both(_banded, x)
    assert ran is True and _blocked._local.compact_size > 8
    assert np.array_equal(J, want) and np.array_equal(got, want)
    ran, _, got, want, tr = _sweep_both(lambda x: (x.sin() * x[0] * x).sum(), x)
    assert ran is False
    assert np.array_equal(got, want)
    assert np.allclose(want, _fd_jacobian(lambda x: tr.grad(x), [x]), rtol=1e-6, atol=1e-5)
    assert tr.variants[0].gradient_program.memo["compact"] is False     # (the arena rows from then on)


def test_compact_sweep_not_tried_where_it_cannot_run(monkeypatch):
    """A graph with a row the compact sweep does not run (a BLAS product) goes straight to the
    arena rows: the compact kernel is neither called nor compiled for it."""
    def refuse(*args):
        raise AssertionError("compact_block called")

    A = tape.tensor(np.random.default_rng(2).normal(size=(6, 6)))
    x = tape.tensor(np.linspace(-1.0, 1.0, 6), requires_grad=True)
    want = F.jacobian(lambda x: (A @ x).sin() * x, x, strict=True).numpy()
    monkeypatch.setattr(_blocked, "compact_block", refuse)
    assert np.allclose(F.jacobian(lambda x: (A @ x).sin() * x, x).numpy(), want, rtol=1e-14, atol=1e-14)
    with pytest.raises(AssertionError, match="compact_block called"):
        F.jacobian(lambda x: x.sin() * x[:1], x)


def test_compact_sweep_bounded(monkeypatch):
    """A direction that reaches whole rows (a dense Jacobian) outgrows the compact buffer's bound
    (twice ``ELEMENTS``): the arena rows take over, with the same result."""
    monkeypatch.setattr(_blocked, "ELEMENTS", 20)
    monkeypatch.setattr(_blocked._local, "compact_size", 1 << 14, raising=False)
    x = tape.tensor(np.linspace(-1.0, 1.0, 50), requires_grad=True)
    want = F.jacobian(lambda x: (x.sum() * x).sin(), x, strict=True).numpy()
    J = np.zeros((50, 50))
    y = (x.sum() * x).sin()
    ran = _blocked._compact_sweeps(y._tape, y._node, _blocked.unit_seeds([y._node], [50]), 50, [x._in],
                                   np.zeros(y._tape.n, np.uint8), _blocked.Partials(y._tape), J,
                                   np.zeros(1, np.bool_))
    assert ran is False
    assert np.allclose(F.jacobian(lambda x: (x.sum() * x).sin(), x).numpy(), want, rtol=1e-14, atol=1e-14)
