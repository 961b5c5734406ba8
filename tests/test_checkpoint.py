"""``tape.utils.checkpoint``: gradients as the plain computation's, recomputation counts, memory,
the random number generator, PyTorch's errors and warnings, and ``checkpoint_loop``'s schedule.

The last part (marker ``torch``) runs the same scenarios in tape and in PyTorch and compares."""
import contextlib
import functools
import gc
import tracemalloc
import warnings
import weakref

import numpy as np
import pytest

import tape
from tape import _record
from tape._state import state
from tape.ops import linalg
from tape.utils import checkpoint as C

from .test_saved_hooks import _Square

VARIANTS = [False, True]        # use_reentrant


def _leaf(values, dtype=tape.float64):
    return tape.tensor(values, dtype=dtype, requires_grad=True)


class Counted:
    """A function that counts its calls."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fn(*args, **kwargs)


def _close(a, b):
    assert a is not None and b is not None
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14)


# -- gradients as the plain computation's ------------------------------------------------------
@pytest.mark.parametrize("reentrant", VARIANTS)
def test_gradients_of_inputs_and_closure_parameters(reentrant):
    x = _leaf([0.5, -1.0, 2.0])
    w = _leaf([1.5, 0.25, -0.75])

    def f(a):
        return (a * w).sin() * a + w.exp()

    y = C.checkpoint(f, x, use_reentrant=reentrant)
    (y * y).sum().backward()
    gx, gw = x.grad, w.grad
    x.grad = w.grad = None
    z = f(x)
    (z * z).sum().backward()
    _close(gx, x.grad)
    _close(gw, w.grad)
    _close(y, z)


@pytest.mark.parametrize("reentrant", VARIANTS)
def test_several_inputs_and_outputs_with_non_tensor_arguments(reentrant):
    a, b = _leaf([[1.0, 2.0], [3.0, 4.0]]), _leaf([0.5, -0.5])

    def f(p, k, q, scale=None):
        return p.tanh() * q * k, "tag", (p @ q).exp(), 7

    out = C.checkpoint(f, a, 3.0, b, use_reentrant=reentrant)
    assert out[1] == "tag" and out[3] == 7
    (out[0].sum() + out[2].sum()).backward()
    ga, gb = a.grad, b.grad
    a.grad = b.grad = None
    ref = f(a, 3.0, b)
    (ref[0].sum() + ref[2].sum()).backward()
    _close(ga, a.grad)
    _close(gb, b.grad)


def test_keyword_arguments_and_nested_outputs():
    x = _leaf([1.0, 2.0, 3.0])
    w = _leaf(2.0)
    out = C.checkpoint(lambda a, *, k: {"u": a * k, "v": [a.exp(), (a.sum(), "s")]}, x, k=w, use_reentrant=False)
    assert isinstance(out, dict) and isinstance(out["v"], list) and out["v"][1][1] == "s"
    (out["u"].sum() + out["v"][0].sum() + out["v"][1][0]).backward()
    gx, gw = x.grad, w.grad
    x.grad = w.grad = None
    (x * w).sum().add(x.exp().sum()).add(x.sum()).backward()
    _close(gx, x.grad)
    _close(gw, w.grad)


def test_autograd_grad_and_inputs_that_do_not_require_grad():
    x = tape.tensor([0.3, 0.6, 0.9], dtype=tape.float64)
    w = _leaf([[0.5, -1.0, 0.25], [1.0, 0.5, -0.5], [0.1, 0.2, 0.3]])
    b = _leaf([0.1, 0.0, -0.1])

    def f(a):
        return (a @ w + b).tanh()

    y = C.checkpoint(f, x, use_reentrant=False)
    assert y.requires_grad
    gw, gb = tape.autograd.grad(y.pow(2).sum(), (w, b))
    rw, rb = tape.autograd.grad(f(x).pow(2).sum(), (w, b))
    _close(gw, rw)
    _close(gb, rb)
    assert x.grad is None and w.grad is None


def test_create_graph_gives_a_differentiable_gradient_to_the_third_order():
    x = _leaf([0.5, 1.5, -0.5])
    w = _leaf([1.0, -2.0, 0.5])
    f = Counted(lambda a: (a * w).sin() * a)
    y = C.checkpoint(f, x, use_reentrant=False)
    g, = tape.autograd.grad(y.sum(), x, create_graph=True)
    h, = tape.autograd.grad((g * g).sum(), (x,), create_graph=True)
    k, = tape.autograd.grad(h.sum(), w)
    r = (x * w).sin() * x
    rg, = tape.autograd.grad(r.sum(), x, create_graph=True)
    rh, = tape.autograd.grad((rg * rg).sum(), (x,), create_graph=True)
    rk, = tape.autograd.grad(rh.sum(), w)
    _close(g, rg)
    _close(h, rh)
    _close(k, rk)
    # (backward with create_graph: the .grad is recorded too)
    x.grad = None
    C.checkpoint(lambda a: a.pow(3), x, use_reentrant=False).sum().backward(create_graph=True)
    gg, = tape.autograd.grad(x.grad.sum(), x)
    _close(gg, 6 * x)


def test_gradcheck_and_gradgradcheck():
    x = _leaf([0.3, -0.7, 1.1])
    w = _leaf([0.5, 1.5, -0.25])
    seg = functools.partial(C.checkpoint, lambda u, v: (u * v).sin() * u.exp(), use_reentrant=False)
    assert tape.autograd.gradcheck(seg, (x, w)) and tape.autograd.gradgradcheck(seg, (x, w))
    loop = functools.partial(C.checkpoint_loop, lambda h: (h * w).tanh() + h, n=5, snapshots=2)
    assert tape.autograd.gradcheck(loop, (x,)) and tape.autograd.gradgradcheck(loop, (x,))


def test_checkpoint_inside_checkpoint():
    x = _leaf([0.2, 0.4])
    inner = Counted(lambda a: a.exp() * a)
    outer = Counted(lambda a: C.checkpoint(inner, a.sin(), use_reentrant=False).sum())
    y = C.checkpoint(outer, x, use_reentrant=False)
    y.backward()
    gx = x.grad
    x.grad = None
    inner.fn(x.sin()).sum().backward()
    _close(gx, x.grad)
    assert outer.calls == 2 and inner.calls == 3      # forward, recomputation; the inner once more
    # a reentrant checkpoint inside runs in a full backward (not in autograd.grad, as in PyTorch)
    reentrant = (lambda a: C.checkpoint(inner, a.sin(), use_reentrant=True).sum())
    x.grad = None
    C.checkpoint(reentrant, x, use_reentrant=False).backward()
    _close(gx, x.grad)
    with pytest.raises(RuntimeError, match="When use_reentrant=True, torch.utils.checkpoint is incompatible"):
        tape.autograd.grad(C.checkpoint(reentrant, x, use_reentrant=False), x)


@pytest.mark.parametrize("how", ["reentrant", "non-reentrant", "loop"])
def test_big_segments(how):
    # Scratch tapes this big keep their adjoint buffers for the next backward: the gradients they
    # give must not stay views of them (a closure parameter's .grad, a loop's running sums).
    rng = np.random.default_rng(1)
    ws = [tape.tensor(rng.standard_normal((300, 300)) / 20, requires_grad=True) for _ in range(3)]
    x = tape.tensor(rng.standard_normal((4, 300)), requires_grad=True)
    if how == "loop":
        y = C.checkpoint_loop(lambda h: (h @ ws[0]).tanh(), x, 3, snapshots=1)
    else:
        y = x
        for w in ws:
            y = C.checkpoint(lambda a, w=w: (a @ w).tanh(), y, use_reentrant=how == "reentrant")
    y.sum().backward()
    got = [t.grad.clone() for t in (x, *ws) if t.grad is not None]
    for t in (x, *ws):
        t.grad = None
    h = x
    for w in (ws[:1] * 3 if how == "loop" else ws):
        h = (h @ w).tanh()
    h.sum().backward()
    want = [t.grad for t in (x, *ws) if t.grad is not None]
    assert len(got) == len(want)
    for a, b in zip(got, want):
        _close(a, b)


def test_segment_runs_refer_to_big_leaves_without_copying_them(monkeypatch):
    # (the product a BLAS row, over SMALL_PRODUCT: the threshold lowered to its value without a callable BLAS)
    monkeypatch.setattr(linalg, "SMALL_PRODUCT", 1 << 16)
    # A run of a segment refers to a big tensor from outside by its row (``Tape.refer``) as the
    # main tape does; rows that read it from the arena (an elementwise product, a backward with
    # create_graph inside the segment, which records onto the scratch tape) fill it first.
    rng = np.random.default_rng(2)
    w = tape.tensor(rng.standard_normal((40, 40)) / 10, requires_grad=True)
    x = tape.tensor(rng.standard_normal((50, 40)), requires_grad=True)     # (a product BLAS runs)
    referred = []

    def f(a):
        u = a * 1.5
        h = (u @ w).tanh()
        referred.append(any(np.shares_memory(v, w.detach().numpy()) for v in (state.tape.pend or {}).values()))
        (g,) = tape.autograd.grad(h.sum(), u, create_graph=True)
        return h * (w * 2).sum() + g

    y = C.checkpoint(f, x, use_reentrant=False)
    (y * y).sum().backward()
    got = x.grad, w.grad
    x.grad = w.grad = None
    z = f(x)
    (z * z).sum().backward()
    _close(y, z)
    _close(got[0], x.grad)
    _close(got[1], w.grad)
    assert referred[:2] == [True, True]     # (the forward run and the recomputation)


# -- how often the function runs --------------------------------------------------------------
@pytest.mark.parametrize("reentrant", VARIANTS)
def test_recomputes_once_per_segment_per_backward(reentrant):
    x = _leaf([1.0, 2.0])
    segments = [Counted(lambda a: a.sin() * 2) for _ in range(3)]
    h = x
    for f in segments:
        h = C.checkpoint(f, h, use_reentrant=reentrant)
    assert [f.calls for f in segments] == [1, 1, 1]
    y = h.sum()
    y.backward(retain_graph=True)
    assert [f.calls for f in segments] == [2, 2, 2]
    g1 = x.grad.clone()
    y.backward()
    assert [f.calls for f in segments] == [3, 3, 3]
    _close(x.grad, 2 * g1)
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


def test_early_stop_ends_the_recomputation_after_the_last_op_needed():
    x = _leaf([1.0, 2.0])
    seen = []

    def f(a):
        z = a.sin() * 2
        seen.append("output")
        (z.sum() * 3).exp()         # (not needed by the output)
        seen.append("end")
        return z, 7

    for early_stop, runs in ((True, ["output", "end", "output"]), (False, ["output", "end"] * 2)):
        seen.clear()
        z, k = C.checkpoint(f, x, use_reentrant=False, early_stop=early_stop)
        assert k == 7
        z.sum().backward()
        assert seen == runs
        _close(x.grad, 2 * x.cos())
        x.grad = None
    seen.clear()
    with C.set_checkpoint_early_stop(False):
        z, _ = C.checkpoint(f, x, use_reentrant=False)
    g, = tape.autograd.grad(z.sum(), x, create_graph=True)     # (a recorded backward stops early too)
    assert seen == ["output", "end"] * 2
    _close(g, 2 * x.cos())
    seen.clear()
    z, _ = C.checkpoint(f, x, use_reentrant=False)
    with tape.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
        g, = tape.autograd.grad(z.sum(), x, create_graph=True)
    (g * x).sum().backward()
    assert seen == ["output", "end", "output", "output"]
    _close(x.grad, 2 * x.cos() - 2 * x * x.sin())


def test_checkpoint_sequential_segments():
    fns = [Counted(lambda a: a.tanh() * 1.5) for _ in range(6)]
    x = _leaf([0.1, 0.2, 0.3])
    y = C.checkpoint_sequential(fns, 3, x, use_reentrant=False)
    y.sum().backward()
    assert [f.calls for f in fns] == [2, 2, 2, 2, 1, 1]     # the last segment is not checkpointed
    gx = x.grad
    x.grad = None
    h = x
    for f in fns:
        h = f.fn(h)
    h.sum().backward()
    _close(gx, x.grad)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: foo"):
        C.checkpoint_sequential(fns, 3, x, use_reentrant=False, foo=1)


def test_no_grad_runs_the_function_plainly():
    x = _leaf([1.0])
    with tape.no_grad():
        y = C.checkpoint(lambda a: a * 2, x, use_reentrant=False)
    assert not y.requires_grad and y.grad_fn is None


# -- hooks and node names ----------------------------------------------------------------------
def test_hooks_on_inputs_and_outputs():
    x = _leaf([0.5, 1.0])
    seen = []
    h = x * 1
    h.register_hook(lambda g: seen.append(("in", g.tolist())))
    y = C.checkpoint(lambda a: a.exp(), h, use_reentrant=False)
    y.register_hook(lambda g: seen.append(("out", g.tolist())) or g * 2)
    y.sum().backward()
    assert seen == [("out", [1.0, 1.0]), ("in", (2 * x.exp()).tolist())]
    _close(x.grad, 2 * x.exp())


def test_node_names():
    x = _leaf([1.0])
    assert type(C.checkpoint(lambda a: a * 2, x, use_reentrant=True).grad_fn).__name__ == \
        "CheckpointFunctionBackward"
    # (the non-reentrant variant shows the segment's own nodes, as PyTorch's)
    assert type(C.checkpoint(lambda a: a * 2, x, use_reentrant=False).grad_fn).__name__ == "MulBackward0"


def _graph(node):
    """A node's name and, recursively, its ``next_functions``."""
    if node is None:
        return None
    return (node.name(), tuple((_graph(f), i) for f, i in node.next_functions))


def test_segment_shows_its_own_nodes():
    x = _leaf([0.5, -1.0, 2.0])
    w = _leaf([1.5, 0.25, -0.75])
    h = x * 3
    body = Counted(lambda a, k: ((a * w).sin() + k, a.max(0)))
    (y, (v, i)) = C.checkpoint(body, h, 2, use_reentrant=False)
    acc = "torch::autograd::AccumulateGrad"
    assert _graph(y.grad_fn) == ("AddBackward0", ((("SinBackward0", ((("MulBackward0", (
        (("MulBackward0", (((acc, ()), 0), (None, 0))), 0), ((acc, ()), 0))), 0),)), 0), (None, 0)))
    assert type(v.grad_fn).__name__ == "MaxBackward0"
    # The edges out of the segment are the outside tensors' own.
    mul = y.grad_fn.next_functions[0][0].next_functions[0][0]
    assert mul.next_functions[0][0] is h.grad_fn
    assert mul.next_functions[1][0].variable is w
    assert y.grad_fn is y.grad_fn and mul is y.grad_fn.next_functions[0][0].next_functions[0][0]
    assert body.calls == 1


def test_segment_nodes_shown_after_later_segments_ran_on_its_scratch_tape():
    # (a segment's nodes are made on first use, from a copy of its run's rows: later segments, of
    # other ops and shapes, ran on the same scratch tape in between)
    x = _leaf([0.5, -1.0, 2.0])
    w = _leaf([1.5, 0.25, -0.75])
    y = C.checkpoint(lambda a: (a * w).sin(), x, use_reentrant=False)
    z = C.checkpoint(lambda a: (a.sum() * a.reshape(3, 1)).exp(), y, use_reentrant=False)
    z2 = C.checkpoint(lambda a: a.cos() - 1, z, use_reentrant=False)
    acc = "torch::autograd::AccumulateGrad"
    assert _graph(y.grad_fn) == ("SinBackward0", ((("MulBackward0", (((acc, ()), 0), ((acc, ()), 0))), 0),))
    assert y.grad_fn.next_functions[0][0].next_functions[1][0].variable is w
    assert z.grad_fn.name() == "ExpBackward0" and z.grad_fn.next_functions[0][0].name() == "MulBackward0"
    assert z2.grad_fn.name() == "SubBackward0"
    _close(y.grad_fn._saved_self, x * w)
    z2.sum().backward()
    assert x.grad is not None and w.grad is not None


def test_saved_values_of_segment_nodes_are_recomputed():
    x = _leaf([0.5, -1.0, 2.0])
    body = Counted(lambda a: a.sin().exp())
    y = C.checkpoint(body, x, use_reentrant=False)
    sin = y.grad_fn.next_functions[0][0]
    _close(y.grad_fn._saved_result, x.sin().exp())
    assert body.calls == 2          # (each access outside backward runs the segment again, as PyTorch's)
    saved = sin._saved_self
    _close(saved, x)
    assert saved.requires_grad and saved is not x
    assert body.calls == 3
    y.sum().backward(retain_graph=True)
    assert body.calls == 4
    _close(sin._saved_self, x)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        sin._saved_self


def test_gradient_edges_and_raw_saved_values_of_segment_nodes():
    x = _leaf([1.0, 2.0])
    y = C.checkpoint(lambda a: a.sin().exp(), x, use_reentrant=False)
    with pytest.raises(RuntimeError, match="register_hooks on a saved tensor whose hooks have already been set"):
        y.grad_fn._raw_saved_result.register_hooks(lambda t: t, lambda t: t)
    edge = tape.autograd.graph.get_gradient_edge(y)
    assert edge.node.name() == "ExpBackward0"
    g, = tape.autograd.grad(y.sum(), edge)
    assert g.tolist() == [1.0, 1.0]
    inner = tape.autograd.graph.GradientEdge(y.grad_fn.next_functions[0][0], 0)
    with pytest.raises(RuntimeError, match="a gradient edge inside a checkpointed segment"):
        tape.autograd.grad(y.sum(), inner)


def test_custom_function_inside_a_segment():
    x = _leaf([1.0, 2.0])
    y = C.checkpoint(lambda a: _Square.apply(a.sin()), x, use_reentrant=False)
    assert type(y.grad_fn).__name__ == "_SquareBackward"
    assert y.grad_fn.next_functions[0][0].name() == "SinBackward0"
    saved, = y.grad_fn.saved_tensors        # (run again for its value, as PyTorch unpacks it)
    _close(saved, x.sin())
    y.sum().backward()
    _close(x.grad, 2 * x.sin() * x.cos())


def test_hooks_on_segment_nodes_run_in_backward():
    x = _leaf([0.5, -1.0, 2.0])
    y = C.checkpoint(lambda a: (a * 2).exp(), x, use_reentrant=False)
    mul = y.grad_fn.next_functions[0][0]
    mul.metadata["tag"] = 1
    seen = []
    mul.register_prehook(lambda go: seen.append(("pre", go[0].tolist())))
    handle = mul.register_hook(lambda gi, go: seen.append("post") or (gi[0] * 10, None))
    y.sum().backward(retain_graph=True)
    assert seen == [("pre", (2 * x).exp().tolist()), "post"]
    _close(x.grad, 20 * (2 * x).exp())
    handle.remove()
    x.grad = None
    y.sum().backward()
    _close(x.grad, 2 * (2 * x).exp())
    assert y.grad_fn.next_functions[0][0].metadata == {"tag": 1}


# -- the random number generator ----------------------------------------------------------------
def _dropout(a):
    return a * (tape.rand_like(a) > 0.5) * 2.0


@pytest.mark.parametrize("reentrant", VARIANTS)
def test_random_ops_recompute_identically(reentrant):
    x = _leaf(np.linspace(0.1, 2.0, 64))
    tape.manual_seed(7)
    y = C.checkpoint(lambda a: _dropout(a).sin(), x, use_reentrant=reentrant)
    after_forward = tape.get_rng_state()
    y.sum().backward()
    # The forward's mask, and the generator left where the forward left it.
    assert tape.equal(tape.get_rng_state(), after_forward)
    gx = x.grad
    x.grad = None
    tape.manual_seed(7)
    _dropout(x).sin().sum().backward()
    _close(gx, x.grad)


@pytest.mark.parametrize("reentrant", VARIANTS)
def test_recomputation_draws_as_the_forward_after_the_generator_was_reseeded(reentrant):
    # (an odd count of float64 normals leaves Box-Muller's second sample cached in the state)
    def noisy(a):
        return a * tape.randn(a.shape, dtype=tape.float64) + tape.randn(3, dtype=tape.float64).sum()

    x = _leaf(np.linspace(0.1, 2.0, 5))
    tape.manual_seed(3)
    tape.randn(1, dtype=tape.float64)
    y = C.checkpoint(noisy, x, use_reentrant=reentrant)
    tape.manual_seed(11)        # (a new twister under the default generator, with no normal cached)
    before = tape.get_rng_state()
    y.sum().backward()
    assert tape.equal(tape.get_rng_state(), before)
    gx = x.grad
    x.grad = None
    tape.manual_seed(3)
    tape.randn(1, dtype=tape.float64)
    noisy(x).sum().backward()
    assert tape.equal(gx, x.grad)


def test_without_preserving_the_rng_state_the_recomputation_draws_anew():
    x = _leaf(np.linspace(0.1, 2.0, 64))
    tape.manual_seed(7)
    y = C.checkpoint(_dropout, x, use_reentrant=False, preserve_rng_state=False, determinism_check="none")
    y.sum().backward()
    mask = (y != 0).double() * 2
    assert not tape.equal(x.grad, mask)


def test_rng_state_round_trip_and_errors():
    s = tape.get_rng_state()
    assert s.dtype is tape.uint8 and s.dim() == 1
    a = tape.rand(5)
    tape.set_rng_state(s)
    assert tape.equal(tape.rand(5), a)
    g = tape.Generator().manual_seed(3)
    state = g.get_state()
    b = tape.rand(3, generator=g)
    g.set_state(state)
    assert tape.equal(tape.rand(3, generator=g), b)
    with pytest.raises(TypeError, match="expected a torch.ByteTensor, but got list"):
        tape.set_rng_state([1])
    with pytest.raises(TypeError, match="RNG state must be a torch.ByteTensor"):
        tape.set_rng_state(tape.zeros(3))
    with pytest.raises(RuntimeError, match="Expected a CPUGeneratorImplState of size 5056 but found the input RNG "
                                           "state size to be 3"):
        tape.set_rng_state(tape.zeros(3, dtype=tape.uint8))


# -- memory --------------------------------------------------------------------------------------
def _chain(x, ws, lo, hi):
    for j in range(lo, hi):
        x = (x @ ws[j]).tanh()
    return x


def _memory(run):
    """(bytes held after the forward, peak bytes during forward and backward), from tracemalloc,
    starting with no tape to reuse (so that every buffer the run fills is allocated during it).
    The held bytes leave out the scratch tapes kept for reuse (a cache of one segment's buffers,
    which the peak includes)."""
    state.tape = None
    state.spares.clear()
    C._pool.spares.clear()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        y = run()
        cached = sum(t.v64.nbytes + t.v32.nbytes + sum(a.nbytes for pair in t.adjoints for a in pair)
                     for t in C._pool.__dict__.get("spares", ()))
        held = tracemalloc.get_traced_memory()[0] - base - cached
        y.backward()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return held, peak


def test_peak_memory_is_lower():
    layers, width, k = 40, 64, 10
    rng = np.random.default_rng(0)
    ws = [tape.tensor(rng.standard_normal((width, width)) / 8, requires_grad=True) for _ in range(layers)]
    x = tape.tensor(rng.standard_normal((256, width)))

    def plain():
        return _chain(x, ws, 0, layers).sum()

    def checkpointed():
        h = x
        for lo in range(0, layers, k):
            h = C.checkpoint(functools.partial(_chain, ws=ws, lo=lo, hi=lo + k), h, use_reentrant=False)
        return h.sum()

    for run in (plain, checkpointed):       # warm up: kernels, the tapes' and scratch tapes' buffers
        run().backward()
    held_plain, peak_plain = _memory(plain)
    held_ckpt, peak_ckpt = _memory(checkpointed)
    activations = layers * 2 * 256 * width * 8
    assert held_plain > activations / 2
    assert held_ckpt < held_plain / 4, (held_ckpt, held_plain)
    assert peak_ckpt < peak_plain / 2, (peak_ckpt, peak_plain)


# -- errors and warnings ----------------------------------------------------------------------------
def test_use_reentrant_not_passed_warns_and_is_reentrant():
    x = _leaf([1.0])
    with pytest.warns(UserWarning, match="the use_reentrant parameter should be passed explicitly"):
        y = C.checkpoint(lambda a: a * 2, x)
    assert type(y.grad_fn).__name__ == "CheckpointFunctionBackward"
    with pytest.warns(UserWarning, match="checkpoint_sequential: the use_reentrant parameter should be passed"):
        C.checkpoint_sequential([lambda a: a * 2] * 2, 2, x)


def test_reentrant_restrictions():
    x = _leaf([1.0, 2.0])
    with pytest.raises(ValueError, match="^Unexpected keyword arguments: b,c$"):
        C.checkpoint(lambda a, b, c: a, x, use_reentrant=True, b=1, c=2)
    with pytest.raises(ValueError, match="Passing `context_fn` or `debug` is only supported when use_reentrant=False"):
        C.checkpoint(lambda a: a, x, use_reentrant=True, debug=True)
    msg = "When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad()"
    y = C.checkpoint(lambda a: a.exp(), x, use_reentrant=True)
    with pytest.raises(RuntimeError, match=msg):
        tape.autograd.grad(y.sum(), x)
    y = C.checkpoint(lambda a: a.exp(), x, use_reentrant=True)
    with pytest.raises(RuntimeError, match=msg):
        y.sum().backward(inputs=[x])
    # (a backward without inputs, inside which the reentrant backward runs, is fine)
    assert tape.autograd._is_checkpoint_valid()


def test_reentrant_without_inputs_requiring_grad_warns_and_gives_no_gradient():
    w = _leaf([2.0])
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True. Gradients will be None"):
        y = C.checkpoint(lambda a: a * w, tape.tensor([1.0], dtype=tape.float64), use_reentrant=True)
    assert not y.requires_grad


def test_reentrant_output_that_needs_no_grad_on_recomputation():
    x = _leaf([1.0, 2.0])
    calls = Counted(lambda a: a.detach() * 2 if calls.calls > 1 else a * 2)
    y = C.checkpoint(calls, x, use_reentrant=True)
    with pytest.raises(RuntimeError, match="none of output has requires_grad=True, this checkpoint\\(\\) is not "
                                           "necessary"):
        y.sum().backward()


def test_non_reentrant_argument_errors():
    x = _leaf([1.0])
    with pytest.raises(ValueError, match=r"determinism_check should be one of \['default', 'none'\], but got x"):
        C.checkpoint(lambda a: a, x, use_reentrant=False, determinism_check="x")
    with pytest.raises(ValueError, match="debug=True is incompatible with non-default context_fn"):
        C.checkpoint(lambda a: a, x, use_reentrant=False, debug=True, context_fn=C.noop_context_fn.__call__)


def _changing(first_len):
    state = {"runs": 0}

    def f(a):
        state["runs"] += 1
        n = first_len if state["runs"] == 1 else first_len - 1
        return (a[:n] * a[:n]).sum()
    return f


def test_determinism_check_errors():
    x = _leaf([1.0, 2.0, 3.0])
    y = C.checkpoint(_changing(3), x, use_reentrant=False)
    with pytest.raises(C.CheckpointError, match="Recomputed values for the following tensors have different "
                                                "metadata than during the forward pass") as e:
        y.backward()
    assert "saved metadata: {'shape': torch.Size([3]), 'dtype': torch.float64, 'device': device(type='cpu')}" \
        in str(e.value)
    assert "recomputed metadata: {'shape': torch.Size([2])" in str(e.value)
    assert "pass `debug=True`" in str(e.value)

    def changing(first, then):
        runs = []

        def f(a):
            runs.append(1)
            return first(a) if len(runs) == 1 else then(a)
        return f

    def two(a):
        return a.sin().exp()

    def three(a):
        return a.sin().exp().sin()

    # (the recomputation stops once it recorded what the forward did, as PyTorch's early stop)
    y = C.checkpoint(changing(two, three), x, use_reentrant=False)
    y.sum().backward()
    assert np.allclose(x.grad.tolist(), (np.cos([1.0, 2.0, 3.0]) * np.exp(np.sin([1.0, 2.0, 3.0]))).tolist())
    x.grad = None
    y = C.checkpoint(changing(two, three), x, use_reentrant=False, early_stop=False)
    with pytest.raises(C.CheckpointError, match="^torch.utils.checkpoint: trying to save more tensors during "
                                                "recomputation than during the original forward pass.\n\nTip: "):
        y.sum().backward()
    y = C.checkpoint(changing(three, two), x, use_reentrant=False)
    with pytest.raises(C.CheckpointError, match="^torch.utils.checkpoint: A different number of tensors was saved "
                                                "during the original forward and recomputation.\n") as e:
        y.sum().backward()
    assert "enable checkpoint\u2011debug mode globally.\n\nIf this error occurs under torch.compile" in str(e.value)
    # with the check off, a recomputation of other shapes reaches autograd's own error
    y = C.checkpoint(_changing(3), x, use_reentrant=False, determinism_check="none")
    y.backward()
    assert x.grad.tolist() == [2.0, 4.0, 0.0]


def test_debug_lists_the_ops_of_both_runs():
    x = _leaf([1.0, 2.0, 3.0])
    y = C.checkpoint(_changing(3), x, use_reentrant=False, debug=True)
    with pytest.raises(C.CheckpointError) as e:
        y.backward()
    text = str(e.value)
    # PyTorch's dump: each op as its dispatcher names it, and the user's lines it was called from
    assert text.startswith(" An error happened while unpacking tensors; dumping logs of latest computation")
    assert "Operations executed during the original forward:\n\n$1: f64[3] = torch._ops.aten.slice.Tensor($0)" in text
    assert "Operations executed during recomputation:" in text
    assert "ERROR: Detected non-determinism while running activation checkpointing" in text
    line = test_debug_lists_the_ops_of_both_runs.__code__.co_firstlineno
    assert f"{__file__}:{_changing.__code__.co_firstlineno + 6}:f\n{__file__}:{line + 2}:" in text      # (forward)
    assert f"{__file__}:{_changing.__code__.co_firstlineno + 6}:f\n{__file__}:{line + 4}:" in text      # (backward)
    with C.set_checkpoint_debug_enabled(True):
        y = C.checkpoint(_changing(3), x, use_reentrant=False)
    with pytest.raises(C.CheckpointError, match="Operations executed during recomputation"):
        y.backward()
    with C.set_checkpoint_debug_enabled(False):
        y = C.checkpoint(_changing(3), x, use_reentrant=False, debug=True)
    with pytest.raises(C.CheckpointError, match="Tip: To see a more detailed error message"):
        y.backward()


def test_context_fn_wraps_the_forward_and_the_recomputation():
    log = []

    @contextlib.contextmanager
    def ctx(name):
        log.append(name + " in")
        yield
        log.append(name + " out")

    x = _leaf([1.0, 2.0])
    y = C.checkpoint(lambda a: a.sin(), x, use_reentrant=False, context_fn=lambda: (ctx("fwd"), ctx("rec")))
    assert log == ["fwd in", "fwd out"]
    y.sum().backward()
    assert log == ["fwd in", "fwd out", "rec in", "rec out"]
    with C.set_checkpoint_early_stop(False):        # accepted; nothing to stop early
        C.checkpoint(lambda a: a.sin(), x, use_reentrant=False, early_stop=False).sum().backward()


def test_arguments_changed_in_place():
    x = _leaf([1.0, 2.0])
    h = x * 1
    y = C.checkpoint(lambda a: a.exp(), h, use_reentrant=False)
    h.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_detach_variable_and_check_backward_validity():
    x = _leaf([1.0])
    d = C.detach_variable((x, 3, tape.tensor([2.0])))
    assert d[0].requires_grad and d[0].grad_fn is None and d[1] == 3 and not d[2].requires_grad
    with pytest.raises(RuntimeError, match="Only tuple of tensors is supported. Got Unsupported input type: list"):
        C.detach_variable([x])
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        C.check_backward_validity([tape.tensor([1.0]), 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        C.check_backward_validity([x])


# -- checkpoint_loop ----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _optimum(n, s):
    """The fewest calls of ``step`` that reverse ``n`` steps from their stored input with ``s`` more
    states stored at once (a step's gradient takes one call at its input state): advance ``m`` steps,
    store that state, reverse the ``n - m`` after it with one snapshot fewer, then the first ``m``."""
    if n == 1:
        return 1
    if s == 0:
        return n * (n + 1) // 2
    return min(m + _optimum(n - m, s - 1) + _optimum(m, s) for m in range(1, n))


@pytest.mark.parametrize("n,s", [(1, 0), (1, 3), (2, 1), (7, 0), (10, 1), (10, 2), (25, 2), (30, 3), (40, 5),
                                 (17, 16), (64, 3)])
def test_checkpoint_loop_calls_the_optimal_number_of_steps(n, s):
    w = _leaf([[0.5, -0.3], [0.2, 0.9]])
    step = Counted(lambda h: (h @ w).tanh())
    x = _leaf([[1.0, 2.0]])
    y = C.checkpoint_loop(step, x, n, snapshots=s)
    assert step.calls == n
    step.calls = 0
    y.sum().backward()
    assert step.calls == _optimum(n, s)
    gx, gw = x.grad, w.grad
    x.grad = w.grad = None
    h = x
    for _ in range(n):
        h = step.fn(h)
    h.sum().backward()
    _close(gx, x.grad)
    _close(gw, w.grad)
    _close(y, h)


def test_checkpoint_loop_forms():
    w = _leaf([0.7, -0.4])
    x = tape.tensor([1.0, 2.0], dtype=tape.float64)
    y = C.checkpoint_loop(lambda h: (h * w).sin() + h, x, 6, snapshots=2)
    g, = tape.autograd.grad(y.sum(), w, create_graph=True)
    h2, = tape.autograd.grad(g.sum(), w)
    r = x
    for _ in range(6):
        r = (r * w).sin() + r
    rg, = tape.autograd.grad(r.sum(), w, create_graph=True)
    rh, = tape.autograd.grad(rg.sum(), w)
    _close(g, rg)
    _close(h2, rh)
    assert C.checkpoint_loop(lambda h: h * 2, x, 0, snapshots=1) is x
    with pytest.raises(ValueError, match="snapshots >= 0"):
        C.checkpoint_loop(lambda h: h, x, 3, snapshots=-1)
    with pytest.raises(ValueError, match="number of steps n >= 0"):
        C.checkpoint_loop(lambda h: h, x, -1, snapshots=1)


@pytest.mark.parametrize("snapshots", [0, 2])
def test_checkpoint_loop_restores_the_generator_per_step(snapshots):
    w = _leaf([0.7, -0.4, 1.1])
    x = tape.tensor([1.0, 2.0, -1.0], dtype=tape.float64)

    def step(h):
        return (h * w).sin() + tape.rand(3, dtype=tape.float64)

    tape.manual_seed(3)
    y = C.checkpoint_loop(step, x, 5, snapshots=snapshots)
    after = tape.get_rng_state()
    y.sum().backward()
    assert tape.get_rng_state().tolist() == after.tolist()     # (backward leaves the generator as it was)
    tape.manual_seed(3)
    h = x
    for _ in range(5):
        h = step(h)
    gw = w.grad
    w.grad = None
    h.sum().backward()
    _close(y, h)
    _close(gw, w.grad)


def test_device_states():
    x = tape.ones(2)
    assert C.get_device_states(x, 3, [x]) == ([], [])
    assert C.set_device_states([], []) is None
    assert C.DefaultDeviceType.get_device_type() == "cpu"
    C.DefaultDeviceType.set_device_type("cuda")
    try:
        assert C.DefaultDeviceType.get_device_type() == "cuda"
    finally:
        C.DefaultDeviceType.set_device_type(None)
    assert C.DefaultDeviceType.get_device_type() == "cpu"


# -- selective checkpointing --------------------------------------------------------------------
def test_selective_checkpointing_asks_the_policy_about_each_op():
    x = _leaf([[0.5, -1.0], [2.0, 0.25]])
    W = _leaf([[1.5, 0.25], [-0.75, 0.5]])
    asked = []

    def policy(ctx, op, *args, **kwargs):
        asked.append((ctx.is_recompute, op, len(args), tuple(ctx.op_output.shape)))
        return C.CheckpointPolicy.MUST_SAVE if op == tape.ops.aten.mm.default else C.CheckpointPolicy.PREFER_RECOMPUTE

    def f(h):
        return ((h @ W).tanh() * 2).sum(1)

    ctx = functools.partial(C.create_selective_checkpoint_contexts, policy)
    y = C.checkpoint(f, x, use_reentrant=False, context_fn=ctx)
    aten = tape.ops.aten
    assert asked == [(False, aten.mm.default, 2, (2, 2)), (False, aten.tanh.default, 1, (2, 2)),
                     (False, aten.mul.Tensor, 2, (2, 2)), (False, aten.sum.dim_IntList, 1, (2,))]
    y.sum().backward(retain_graph=True)
    assert len(asked) == 4          # (asked in the forward only, as PyTorch's)
    gx, gW = x.grad, W.grad
    x.grad = W.grad = None
    f(x).sum().backward()
    _close(gx, x.grad)
    _close(gW, W.grad)
    with pytest.raises(RuntimeError, match="Trying to backward an extra time. You are only allowed to backward once"):
        y.sum().backward()
    # Saving nothing, a segment may be run backward again; a list of ops is a policy saving those.
    y = C.checkpoint(f, x, use_reentrant=False,
                     context_fn=functools.partial(C.create_selective_checkpoint_contexts, lambda *a: False))
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    y = C.checkpoint(f, x, use_reentrant=False,
                     context_fn=functools.partial(C.create_selective_checkpoint_contexts, [aten.tanh.default]))
    y.sum().backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="Trying to backward an extra time"):
        y.sum().backward()


@pytest.mark.torch
def test_selective_checkpointing_names_ops_as_torch():
    torch = pytest.importorskip("torch")

    def asked(lib):
        seen = []

        def policy(ctx, op, *args, **kwargs):
            seen.append(str(op))
            return lib.utils.checkpoint.CheckpointPolicy.PREFER_RECOMPUTE

        def f(x):
            a, b = lib.var_mean(x)
            c, d = lib.std_mean(x, 0, unbiased=False)
            return a * b + (c * d).sum() + x.var(1).sum() + x.std().sum()
        lib.utils.checkpoint.checkpoint(f, lib.ones(3, 3, requires_grad=True), use_reentrant=False, context_fn=(
            functools.partial(lib.utils.checkpoint.create_selective_checkpoint_contexts, policy)))
        return [s for s in seen if "var" in s or "std" in s]

    assert asked(tape) == asked(torch)


def test_selective_checkpointing_refuses_a_saved_output_changed_in_place():
    def policy(ctx, op, *args, **kwargs):
        return C.CheckpointPolicy.MUST_SAVE if op == tape.ops.aten.sin.default else C.CheckpointPolicy.PREFER_RECOMPUTE

    def f(x):
        return x.sin().mul_(2).cos().exp()

    x = _leaf([0.5, -1.0, 2.0])
    out = C.checkpoint(f, x, use_reentrant=False,
                       context_fn=functools.partial(C.create_selective_checkpoint_contexts, policy))
    with pytest.raises(RuntimeError, match="^Tensor cached during selective activation checkpoint has been mutated$"):
        out.sum().backward()
    out = C.checkpoint(f, x, use_reentrant=False, context_fn=functools.partial(
        C.create_selective_checkpoint_contexts, policy, allow_cache_entry_mutation=True))
    out.sum().backward()
    x2 = _leaf([0.5, -1.0, 2.0])
    f(x2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy(), rtol=1e-12)


def test_selective_checkpointing_does_not_run_saved_ops_again(monkeypatch):
    # A product the policy saves is not computed again in the recomputation (its value is the
    # forward's), one it does not save is; the gradients are those of the plain computation.
    # (products big enough for numpy's BLAS call, which the test counts: smaller ones run compiled code)
    x = tape.tensor(np.linspace(-1, 1, 400).reshape(20, 20), requires_grad=True)
    Ws = [tape.tensor(np.linspace(-0.5, 0.7, 400).reshape(20, 20) * (k + 1) / 5, requires_grad=True) for k in range(3)]
    aten = tape.ops.aten

    def f(h):
        for w in Ws:
            h = (h @ w).tanh() * 2
        return h

    plain = tape.autograd.grad(f(x).sum(), [x, *Ws])
    products = []
    matmul = np.matmul
    monkeypatch.setattr(np, "matmul", lambda *a, **k: products.append(1) or matmul(*a, **k))
    for policy, runs in ((C.noop_context_fn, 3), (functools.partial(C.create_selective_checkpoint_contexts,
                                                                     [aten.mm.default]), 0),
                         (functools.partial(C.create_selective_checkpoint_contexts, [aten.tanh.default]), 3),
                         (functools.partial(C.create_selective_checkpoint_contexts,
                                            lambda ctx, op, *a: op is aten.mm.default and a[1] is not Ws[1]), 1)):
        y = C.checkpoint(f, x, use_reentrant=False, context_fn=policy).sum()
        products.clear()
        got = tape.autograd.grad(y, [x, *Ws])
        assert len(products) == runs
        for a, b in zip(got, plain):
            _close(a, b)
    # In a recorded backward too (whose backward runs the segment again: an extra time, as in PyTorch),
    # by the compiled recording sweep (its first tier computes the backward's own products with numpy,
    # which this would count).
    monkeypatch.setattr(_record._Tier, "rows_left", 0)
    policy = functools.partial(C.create_selective_checkpoint_contexts, [aten.mm.default])
    y = C.checkpoint(f, x, use_reentrant=False, context_fn=policy).sum()
    products.clear()
    gx, = tape.autograd.grad(y, x, create_graph=True)
    assert not products
    _close(gx, plain[0])
    with pytest.raises(RuntimeError, match="Trying to backward an extra time"):
        (gx ** 2).sum().backward()


def _saved_value_kept(lib):
    """A saved op's value is the forward's even if its input changed since (PyTorch's cached output)."""
    cp = lib.utils.checkpoint
    x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
    k = [lib.tensor(2.0, dtype=lib.float64)]
    out = []
    for ops in ([lib.ops.aten.exp.default], []):
        policy = functools.partial(cp.create_selective_checkpoint_contexts, ops)
        k[0] = lib.tensor(2.0, dtype=lib.float64)
        y = cp.checkpoint(lambda a: (a * k[0]).exp(), x, use_reentrant=False, context_fn=policy)
        k[0] = lib.tensor(3.0, dtype=lib.float64)       # (another tensor: the recomputation reads 3)
        x.grad = None
        y.sum().backward()
        out.append(x.grad.tolist())
    return out


def test_selective_checkpointing_keeps_the_saved_value():
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(_saved_value_kept(tape), [np.exp(x * 2.0) * 3.0, np.exp(x * 3.0) * 3.0], rtol=1e-15)


@pytest.mark.torch
def test_selective_checkpointing_keeps_the_saved_value_vs_torch():
    torch = pytest.importorskip("torch")
    import torch.utils.checkpoint  # noqa: F401  (the submodule)
    np.testing.assert_allclose(_saved_value_kept(tape), _saved_value_kept(torch), rtol=1e-15)


def _policy_arguments(lib):
    cp = lib.utils.checkpoint
    seen = []

    def policy(ctx, op, *args, **kwargs):
        seen.append((str(op), [str(a.dtype) if isinstance(a, lib.Tensor) else (type(a).__name__, a) for a in args]))
        return False

    def f(h):
        h = 2 - (((h * 2) / 3 + 1.5) - 1)
        return (2 ** (h ** 2) * True * 2.5).pow(3)

    x = lib.ones(3, 4, dtype=lib.float64, requires_grad=True)
    cp.checkpoint(f, x, use_reentrant=False, context_fn=functools.partial(cp.create_selective_checkpoint_contexts,
                                                                           policy))
    return seen


def test_selective_checkpointing_policy_sees_number_operands():
    f64 = "torch.float64"
    assert _policy_arguments(tape) == [
        ("aten.mul.Tensor", [f64, ("int", 2)]), ("aten.div.Tensor", [f64, ("int", 3)]),
        ("aten.add.Tensor", [f64, ("float", 1.5)]), ("aten.sub.Tensor", [f64, ("int", 1)]),
        ("aten.rsub.Scalar", [f64, ("int", 2)]), ("aten.pow.Tensor_Scalar", [f64, ("int", 2)]),
        ("aten.pow.Scalar", [("int", 2), f64]), ("aten.mul.Tensor", [f64, ("bool", True)]),
        ("aten.mul.Tensor", [f64, ("float", 2.5)]), ("aten.pow.Tensor_Scalar", [f64, ("int", 3)])]


@pytest.mark.torch
def test_selective_checkpointing_policy_sees_number_operands_vs_torch():
    torch = pytest.importorskip("torch")
    import torch.utils.checkpoint  # noqa: F401  (the submodule)
    assert _policy_arguments(tape) == _policy_arguments(torch)


def test_selective_checkpointing_errors():
    with pytest.raises(ValueError, match="Please update the OpOverloadPacket to a specific OpOverload"):
        C.create_selective_checkpoint_contexts([tape.ops.aten.mm])
    with pytest.raises(TypeError, match="policy_fn_or_list must be either a function or a list of ops."):
        C.create_selective_checkpoint_contexts(3)
    x = _leaf([1.0, 2.0])
    flip = [True]

    def f(a):       # (a different op in the recomputation than in the forward)
        return a.exp() if flip[0] else a.sin()

    y = C.checkpoint(f, x, use_reentrant=False, determinism_check="none",
                     context_fn=functools.partial(C.create_selective_checkpoint_contexts, lambda *a: True))
    flip[0] = False
    with pytest.raises(RuntimeError, match="aten.sin.default encountered during backward but not found in storage"):
        y.sum().backward()
    assert tape.ops.aten.mm.default is tape.ops.aten.mm.default and str(tape.ops.aten.mm.default) == "aten.mm.default"


# -- the same scenarios in PyTorch ------------------------------------------------------------------
def _scenario(lib, name):
    cp = lib.utils.checkpoint
    x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
    w = lib.tensor([1.5, 0.25, -0.75], dtype=lib.float64, requires_grad=True)
    out = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if name == "closure":
                for reentrant in VARIANTS:
                    y = cp.checkpoint(lambda a: (a * w).sin() * a, x, use_reentrant=reentrant)
                    out[reentrant] = (y.tolist(), type(y.grad_fn).__name__ if reentrant else None)
                    y.pow(2).sum().backward()
                out["grads"] = (x.grad.tolist(), w.grad.tolist())
            elif name == "no_input_grad":
                for reentrant in VARIANTS:
                    y = cp.checkpoint(lambda a: a * w, x.detach(), use_reentrant=reentrant)
                    out[reentrant] = y.requires_grad
            elif name == "grad":
                y = cp.checkpoint(lambda a: a.exp() * w, x, use_reentrant=False)
                out["grad"] = [g.tolist() for g in lib.autograd.grad(y.sum(), (x, w))]
                y = cp.checkpoint(lambda a: a.exp() * w, x, use_reentrant=True)
                lib.autograd.grad(y.sum(), (x, w))
            elif name == "double":
                y = cp.checkpoint(lambda a: a.pow(3) * w, x, use_reentrant=False)
                g, = lib.autograd.grad(y.sum(), x, create_graph=True)
                out["double"] = lib.autograd.grad(g.sum(), (x, w))[1].tolist()
            elif name == "default":
                y = cp.checkpoint(lambda a: a * 2, x)
                out["name"] = type(y.grad_fn).__name__
            elif name == "kwargs":
                cp.checkpoint(lambda a, b: a, x, use_reentrant=True, b=1)
            elif name == "determinism":
                cp.checkpoint(lambda a: a, x, use_reentrant=False, determinism_check="strict")
            elif name == "graph":
                h = x * 3
                y, (v, i) = cp.checkpoint(lambda a, k: ((a * w).sin() + k, a.max(0)), h, 2, use_reentrant=False)
                z = cp.checkpoint(lambda a: cp.checkpoint(lambda b: b.exp() * w, a, use_reentrant=False).sum(0),
                                  y, use_reentrant=False)
                out["graph"] = [_graph(t.grad_fn) for t in (y, v, z)]
                sin = y.grad_fn.next_functions[0][0]
                out["saved"] = (sin._saved_self.tolist(), sin.next_functions[0][0]._saved_other.tolist(),
                                sin.next_functions[0][0]._saved_other.requires_grad)
                sin.register_hook(lambda gi, go: (gi[0] * 2,))
                y.sum().backward()
                out["grads"] = (x.grad.tolist(), w.grad.tolist())
                try:
                    sin._saved_self
                except RuntimeError as e:
                    out["freed"] = str(e)
            elif name == "selective":
                asked = []

                def policy(ctx, op, *args, **kwargs):
                    asked.append((ctx.is_recompute, str(op), tuple(ctx.op_output.shape)))
                    return op in (lib.ops.aten.mm.default, lib.ops.aten.exp.default)

                W = lib.stack([w, w.flip(0), w * 2])
                y = cp.checkpoint(lambda a: ((a[None] @ W).tanh() * 2 + a.sum()).exp().view(3).t().max(),
                                  x, use_reentrant=False,
                                  context_fn=functools.partial(cp.create_selective_checkpoint_contexts, policy))
                y.backward(retain_graph=True)
                out["asked"] = asked
                out["grads"] = (x.grad.tolist(), w.grad.tolist())
                y.backward()
            elif name == "sequential":
                y = cp.checkpoint_sequential([lambda a: a.sin(), lambda a: a * w, lambda a: a.exp()], 2, x,
                                             use_reentrant=False)
                y.sum().backward()
                out["grads"] = (x.grad.tolist(), w.grad.tolist())
        except (RuntimeError, ValueError, TypeError) as e:
            out["error"] = (type(e).__name__, str(e))
    out["warnings"] = [str(m.message) for m in caught]
    return out


SCENARIOS = ["closure", "no_input_grad", "grad", "double", "default", "kwargs", "determinism", "sequential", "graph",
             "selective"]


@pytest.mark.torch
@pytest.mark.parametrize("name", SCENARIOS)
def test_scenarios_vs_torch(name):
    torch = pytest.importorskip("torch")
    import torch.utils.checkpoint  # noqa: F401  (the submodule)
    want = _scenario(torch, name)
    got = _scenario(tape, name)
    assert got.keys() == want.keys()
    for key in want:
        assert _leaves(got[key], float) == pytest.approx(_leaves(want[key], float), rel=1e-12), key
        assert _leaves(got[key], object) == _leaves(want[key], object), key


def _leaves(x, kind):
    """The leaves of nested lists and tuples: the floats (``kind=float``), or all the others."""
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _leaves(item, kind)]
    return [x] if isinstance(x, float) == (kind is float) else []


def test_early_stop_compares_what_the_forward_saved_when_an_op_goes_past_it():
    runs = []

    def f(a):
        runs.append(1)
        # (the recomputation's product records a constant and its row: it goes past the forward's rows)
        return a.sin().exp() if len(runs) == 1 else a.sin() * tape.tensor([1.0, 2.0])

    x = _leaf([0.5])
    y = C.checkpoint(f, x, use_reentrant=False)
    with pytest.raises(C.CheckpointError, match="^torch.utils.checkpoint: Recomputed values for the following "
                                                "tensors have different metadata than during the forward pass.\n"):
        y.backward()


def test_a_function_in_a_segment_gives_its_saved_tensors_once_per_backward():
    # (as PyTorch: a recomputed tensor is freed when unpacked, so a second ctx.saved_tensors raises)
    errors = []

    class Mul(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            try:
                ctx.saved_tensors
            except C.CheckpointError as e:
                errors.append(str(e))
            return g * y, g * x

    x = _leaf([1.0, 2.0])
    out = C.checkpoint(lambda a: Mul.apply(a * 2, a + 1), x, use_reentrant=False)
    out.sum().backward()
    assert x.grad.tolist() == [2 * 2.0 + 2 * 1.0, 2 * 3.0 + 2 * 2.0]
    assert len(errors) == 1 and errors[0].startswith(
        "torch.utils.checkpoint: Unpack is being triggered for a tensor that was already unpacked once.")
    # (outside a checkpoint, as often as wanted)
    errors.clear()
    x.grad = None
    Mul.apply(x * 2, x + 1).sum().backward()
    assert errors == [] and x.grad.tolist() == [6.0, 10.0]


def test_a_second_order_gradient_through_checkpoints_nested_in_a_checkpoint():
    # (each backward unpacks a recomputed segment's saved tensors once: the double backward
    # through the inner segments' backward is another graph task, which unpacks them again)
    def c(fn):
        return lambda x: C.checkpoint(fn, x, use_reentrant=False)

    def f(x):
        return x.sin().exp().sin()

    def g(x):
        return x.cos().sin().exp()

    def second(h):
        x = _leaf([0.3, -0.7, 1.1])
        (gx,) = tape.autograd.grad(h(x).sum(), x, create_graph=True)
        (ggx,) = tape.autograd.grad(gx.sum(), x)
        return ggx.numpy()

    expected = second(lambda x: g(f(x)))
    np.testing.assert_allclose(second(c(lambda x: c(g)(c(f)(x)))), expected, rtol=1e-12)


@pytest.mark.parametrize("depth", [1, 2])
def test_a_checkpointed_graph_goes_with_its_tensors_without_a_collection(depth):
    # (TestNestedCheckpoint's check_graph_dies: what the nodes of a (nested) checkpointed segment
    # keep, their metadata here, went only at a gc collection, or at the scratch tape's next use)
    class Held:
        pass

    def fn(x):
        return x.sin().exp().sin()

    for _ in range(depth):
        fn = functools.partial(C.checkpoint, fn, use_reentrant=False)

    def scope():
        a = tape.randn((), requires_grad=True)
        out = fn(a)
        refs, seen, todo = [], set(), [out.grad_fn]
        while todo:
            node = todo.pop()
            if node is None or node in seen:
                continue
            seen.add(node)
            held = Held()
            node.metadata["held"] = held
            refs.append(weakref.ref(held))
            todo.extend(m for m, _ in node.next_functions)
        return refs

    enabled = gc.isenabled()
    gc.disable()
    try:
        refs = scope()
        assert len(refs) == 4 and [r for r in refs if r() is not None] == []
    finally:
        if enabled:
            gc.enable()


@pytest.mark.parametrize("nested", [False, True])
def test_a_checkpointed_function_may_take_gradients_with_respect_to_its_inputs(nested):
    # (the run's tape stays the thread's after a backward inside it, and ``grad`` with respect to a
    # tensor from outside reads its stand-in: "appears to not have been used in the graph" before)
    def fn(x):
        (ga,) = tape.autograd.grad(x.sin().exp().sum(), x)
        (gb,) = tape.autograd.grad((x * 2).cos().sum(), x, create_graph=True)
        return x.sin() * ga + gb * x

    def run(f):
        x = _leaf([0.3, 0.7])
        y = f(x)
        (gx,) = tape.autograd.grad(y.sum(), x, create_graph=True)
        (ggx,) = tape.autograd.grad(gx.sum(), x)
        return y.detach().numpy(), gx.detach().numpy(), ggx.numpy()

    checkpointed = functools.partial(C.checkpoint, fn, use_reentrant=False)
    if nested:
        checkpointed = functools.partial(C.checkpoint, checkpointed, use_reentrant=False)
    for got, want in zip(run(checkpointed), run(fn)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_a_tensor_passed_twice_and_read_from_the_closure_gets_every_gradient():
    # (the segment's row names an outside tensor by its first argument slot, and its run takes one
    # stand-in per tensor read: each path's gradient reaches the tensor)
    x = _leaf([0.3, -0.8])
    w = _leaf([1.5, 0.5])

    def fn(a, b, *, c):
        return a.sin() * b + c * w.exp() + w

    def grads(f):
        x.grad = w.grad = None
        f(x, x, c=w).pow(2).sum().backward()
        return x.grad.numpy().copy(), w.grad.numpy().copy()

    want = grads(fn)
    got = grads(lambda a, b, c: C.checkpoint(fn, a, b, c=c, use_reentrant=False))
    for g, v in zip(got, want):
        np.testing.assert_allclose(g, v, rtol=1e-12)


def test_a_collection_between_steps_keeps_the_threads_tape_and_its_buffers():
    # (the bench's flow: checkpointed steps, then a forward whose loss is dropped, then a full gc
    # collection.  The tapes holding a segment's row (a custom Function's) were let go at the
    # collection when nothing referred to them, and the next step started a new tape whose arena
    # grew again from the smallest: they are reset and kept instead, as the next op would reset them)
    rng = np.random.default_rng(0)
    ws = [tape.tensor(rng.standard_normal((32, 32)) / 6, requires_grad=True) for _ in range(4)]
    x = tape.tensor(rng.standard_normal((8, 32)))

    def loss():
        h = x
        for lo in (0, 2):
            h = C.checkpoint(_chain, h, ws, lo, lo + 2, use_reentrant=False)
        return h.sum()

    for _ in range(2):
        loss().backward()
    dropped = loss()
    arenas = [weakref.ref(t.v64) for t in (state.tape, *state.spares) if t is not None]
    del dropped
    gc.collect()
    for w in ws:
        w.grad = None
    y = loss()
    assert any(a() is y._tape.v64 for a in arenas)
    y.backward()
    expected = [w.grad.detach().numpy().copy() for w in ws]
    for w in ws:
        w.grad = None
    h = x
    for w in ws:
        h = (h @ w).tanh()
    h.sum().backward()
    for w, g in zip(ws, expected):
        np.testing.assert_allclose(w.grad.numpy(), g, rtol=1e-12)
