"""Big results computed into their arena slot (no copy on recording) and copy-on-write of that slot.

A recorded result of ``LEND_FROM`` elements or more is the tape's value itself (``Tape.slot``):
every write into its storage first gives the row a copy (``tape._tape.unshare``), so that rows
recorded before the write see what they recorded, and PyTorch's version checks stay as they were.
"""
import gc
import threading
import weakref

import numpy as np
import pytest

import tape
from tape._tape import LEND_FROM, Tape, _blank
from tape.utils.checkpoint import checkpoint

N = LEND_FROM
MODIFIED = "one of the variables needed for gradient computation has been modified by an inplace operation"


def _x(dtype=np.float32, seed=0):
    x0 = np.random.default_rng(seed).uniform(-1.0, 1.0, N).astype(dtype)
    return x0, tape.tensor(x0, requires_grad=True)


def _arena(t):
    return t._tape.v32 if t.dtype == tape.float32 else t._tape.v64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_big_results_live_once_in_the_arena(dtype):
    x0, x = _x(dtype)
    for make in (x.sin, x.tanh, lambda: x * x, lambda: x * 2.0, lambda: x + x.exp()):
        y = make()      # (checked at once: an arena that grows later is a copy, the old one the tensor's)
        assert np.shares_memory(y._v, _arena(y))
        assert np.shares_memory(y._v, y._tape.value_of(y._node))
    small = tape.tensor(x0[:10], requires_grad=True).sin()
    assert not np.shares_memory(small._v, _arena(small))     # (small results keep their own storage)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_big_product_lives_once_in_the_arena(dtype):
    # (BLAS writes it into its slot: the row of a product whose adjoint runs in Python)
    rng = np.random.default_rng(2)
    k = N // 64
    a0, w0 = rng.standard_normal((64, k)).astype(dtype), rng.standard_normal((k, k)).astype(dtype) / 16
    a, w = tape.tensor(a0, requires_grad=True), tape.tensor(w0, requires_grad=True)
    y = a @ w
    assert np.shares_memory(y._v, _arena(y))
    np.testing.assert_array_equal(y.detach().numpy(), a0 @ w0)
    h = y.tanh()
    assert np.shares_memory(h._v, _arena(h))
    h.sum().backward()
    g = 1 - np.tanh(a0 @ w0) ** 2
    np.testing.assert_allclose(a.grad.numpy(), g @ w0.T, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(w.grad.numpy(), a0.T @ g, rtol=1e-4, atol=1e-4)
    y = a @ w
    s = (y * y).sum()       # saves the product
    y.mul_(2.0)
    with pytest.raises(RuntimeError, match=MODIFIED):
        s.backward()


def test_big_softmax_lives_once_in_the_arena():
    z0 = np.random.default_rng(1).standard_normal((32, 2048)).astype(np.float32)
    z = tape.tensor(z0, requires_grad=True)
    y = tape.log_softmax(z, 1)
    assert np.shares_memory(y._v, _arena(y))
    want = z0 - np.log(np.exp(z0 - z0.max(1, keepdims=True)).sum(1, keepdims=True)) - z0.max(1, keepdims=True)
    np.testing.assert_allclose(y.detach().numpy(), want, rtol=1e-5, atol=1e-5)
    p = tape.softmax(z, 1)
    assert np.shares_memory(p._v, _arena(p))
    p.mul_(2.0)             # softmax saves its result: PyTorch's error, the row's value kept
    with pytest.raises(RuntimeError, match=MODIFIED):
        p.sum().backward()
    (-y[:, 0].mean()).backward()
    g = np.exp(want) / 32
    g[:, 0] -= 1 / 32
    np.testing.assert_allclose(z.grad.numpy(), g, rtol=1e-4, atol=1e-7)


def test_recorded_inplace_op_reads_the_old_value():
    # sin_'s row differentiates at the value before the change, which the write must not overwrite.
    x0, x = _x()
    y = x * 2.0
    y.sin_()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(2 * x0), rtol=1e-6)
    np.testing.assert_allclose(y.detach().numpy(), np.sin(2 * x0), rtol=1e-6)


def test_recorded_inplace_op_on_a_view_of_a_big_result():
    x0, x = _x()
    y = x * 2.0
    y[: N // 2].sin_()
    y.sum().backward()
    want = np.full(N, 2.0)
    want[: N // 2] = 2 * np.cos(2 * x0[: N // 2])
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6)


def test_saved_result_changed_in_place_raises():
    _, x = _x()
    y = x.exp()         # saves its result
    y.add_(1.0)
    with pytest.raises(RuntimeError, match=MODIFIED + ".*is at version 1; expected version 0 instead"):
        y.sum().backward()


def test_saved_result_changed_through_detach_raises():
    _, x = _x()
    y = x.exp()
    y.detach().add_(1.0)        # shares the version counter
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()


def test_change_through_data_is_seen_by_the_saved_value():
    # PyTorch: ``.data`` shares the storage, not the counter; the saved result is the changed one.
    x0, x = _x()
    y = x.exp()
    y.data.mul_(2.0)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(x0), rtol=1e-6)


def test_unrecorded_writes_keep_rows_that_do_not_save_the_value():
    x0, x = _x()
    y = x * 2.0
    z = y + 1.0                 # saves nothing: the changes below do not matter to it
    with tape.no_grad():
        y.fill_(7.0)
        y.copy_(tape.zeros(N))
        y[:5] = 3.0
    np.testing.assert_allclose(y._tape.value_of(z._tape.a[z._node]), 2 * x0)    # what the row recorded
    w = z * z                   # reads z, not y
    w.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * (2 * x0 + 1), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(y.detach().numpy()[:6], [3, 3, 3, 3, 3, 0])


def test_leaf_changed_in_place_after_recording_raises():
    _, x = _x()
    y = x * x
    with tape.no_grad():
        x.mul_(2.0)
    with pytest.raises(RuntimeError, match=MODIFIED + ".*is at version 1; expected version 0 instead"):
        y.sum().backward()


def test_out_argument_into_a_big_result():
    x0, x = _x()
    y = x * 2.0
    t, old = y._tape, y._node
    with tape.no_grad():
        tape.cat([x.detach()[: N // 2], x.detach()[N // 2:]], out=y)
    np.testing.assert_array_equal(t.value_of(old), 2 * x0)      # the row keeps what it recorded
    np.testing.assert_array_equal(y.detach().numpy(), x0)
    (y * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(N, 6.0, np.float32))


def test_a_view_of_an_arena_value_survives_reset():
    # Nothing refers to the tape any more, but a detached alias views its arena: the tape takes a
    # new arena when it is reset, and the alias keeps its value.
    x0, x = _x()
    kept = []
    for _ in range(3):
        y = x.sin()
        kept += [y.detach(), y.detach().numpy()]
        (y * y).sum().backward()
        x.grad = None
        del y
        for _ in range(4):          # later steps reset the tapes and write into their arenas
            (x.cos() * 5.0).sum().backward()
            x.grad = None
    for k in kept:
        np.testing.assert_array_equal(k.numpy() if isinstance(k, tape.Tensor) else k, np.sin(x0))


def test_second_order_through_big_results():
    x0, x = _x(np.float64)
    y = x.sin() * x
    (g,) = tape.autograd.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), np.cos(x0) * x0 + np.sin(x0), rtol=1e-12)
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(x0) - x0 * np.sin(x0), rtol=1e-12)


def test_threads_lend_from_their_own_tapes():
    import threading

    results = []

    def work(seed):
        x0, x = _x(seed=seed)
        for _ in range(15):
            y = x * 2.0
            y.sin_()
            y.sum().backward()
            results.append(np.allclose(x.grad.numpy(), 2 * np.cos(2 * x0), rtol=1e-4, atol=1e-4))
            x.grad = None

    threads = [threading.Thread(target=work, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 45 and all(results)


@pytest.mark.torch
def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    x0, x = _x(np.float64)
    xt = torch.tensor(x0, requires_grad=True)
    for lib, v in ((tape, x), (torch, xt)):
        y = v * 2.0
        y.sin_()
        z = y.exp()
        z.data.mul_(0.5)
        (z * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/statm"), reason="reads /proc/self/statm")
def test_memory_bounded_over_5000_steps_holding_outputs():
    # After a backward that does not retain its graph, a held loss keeps its rows (PyTorch keeps its
    # nodes: ~4.5 KiB a step here), not its tape's arenas and adjoint buffers (~90 KiB a step).
    rng = np.random.default_rng(0)
    w1 = tape.tensor(rng.standard_normal((16, 64)).astype(np.float32) * 0.1, requires_grad=True)
    w2 = tape.tensor(rng.standard_normal((64, 1)).astype(np.float32) * 0.1, requires_grad=True)
    x = tape.tensor(rng.standard_normal((32, 16)).astype(np.float32))
    losses = []

    def step():
        loss = ((x @ w1).tanh() @ w2).pow(2).mean()
        loss.backward()
        with tape.no_grad():
            w1.sub_(0.01 * w1.grad)
            w2.sub_(0.01 * w2.grad)
        w1.grad = None
        w2.grad = None
        losses.append(loss)

    for _ in range(200):
        step()
    gc.collect()
    before = _rss()
    for _ in range(5000):
        step()
    gc.collect()
    assert (_rss() - before) / 5000 < 16 * 1024
    # The held losses keep their graph: grad_fn and its next functions, and the freed-graph error.
    assert type(losses[-1].grad_fn).__name__ == "MeanBackward0"
    assert losses[-1].grad_fn.next_functions[0][0].name() == "PowBackward0"
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        losses[-1].backward()


def test_held_big_outputs_keep_no_arena():
    from tape._tape import _V32

    x0, x = _x()
    losses = []
    for _ in range(30):
        loss = (x.sin() * x.exp()).sum()
        loss.backward()
        x.grad = None
        losses.append(loss)
    assert all(_V32.__get__(loss._tape).size == 0 and not loss._tape.adjoints for loss in losses)
    # A graph that saved nothing can be swept again (PyTorch too): its freed values read as zeros.
    z = (x + 1.0).sum()
    z.backward()
    assert type(z._tape).__name__ == "_Spent"
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(N, 2.0, np.float32))


# --- leaves referred to, not copied (``Tape.refer``) ---------------------------------------------
PAIR_N = 192


def _pair(seed=3, n=PAIR_N, rg_x=True):
    # (products this big, over SMALL_PRODUCT, go to BLAS, rows whose adjoint runs in Python)
    rng = np.random.default_rng(seed)
    x0, w0 = rng.standard_normal((32, n)), rng.standard_normal((n, n))
    return x0, w0, tape.tensor(x0, requires_grad=rg_x), tape.tensor(w0, requires_grad=True)


def test_a_leaf_only_a_product_reads_is_not_copied_onto_the_tape():
    x0, w0, x, w = _pair()
    y = x @ w
    assert w._in in y._tape.pend and x._in in y._tape.pend
    z = y * w[0]            # (a compiled row reads y, and w through the select: w is filled)
    assert w._in not in (z._tape.pend or {})
    z.sum().backward()
    ones = np.ones((32, PAIR_N))
    np.testing.assert_allclose(x.grad.numpy(), (ones * w0[0]) @ w0.T, rtol=1e-12)
    grad_w = x0.T @ (ones * w0[0])
    grad_w[0] += (x0 @ w0).sum(0)
    np.testing.assert_allclose(w.grad.numpy(), grad_w, rtol=1e-12)


def test_a_leaf_a_compiled_row_reads_is_copied_when_imported(monkeypatch):
    # A small product, an elementwise and a unary row read their operands from the arena, which
    # a referred leaf's slot would be filled for right away: such a leaf is copied when imported
    # (the small MLP's weights); a BLAS product still refers to its big leaf.
    referred = []
    refer = Tape.refer
    monkeypatch.setattr(Tape, "refer", lambda t, code, arena, value, ver: referred.append(value.shape) or
                        refer(t, code, arena, value, ver))
    rng = np.random.default_rng(5)
    x0, w0, u0, v0 = (rng.standard_normal(s) for s in ((16, 32), (32, 64), (16, 64), (16, 64)))
    x, w, u, v = (tape.tensor(a, requires_grad=True) for a in (x0, w0, u0, v0))
    y = (x @ w + u) * v.tanh()          # (16*32*64 multiply-adds: a compiled product)
    assert referred == [] and y._tape.pend is None
    z = tape.tensor(rng.standard_normal((64, 1100)), requires_grad=True)
    (y @ z).sum().backward()            # (16*64*1100: BLAS, whose adjoint reads z itself)
    assert referred == [(64, 1100)]
    gz = np.ones((16, 1100)) @ z.detach().numpy().T
    gs = gz * np.tanh(v0)
    np.testing.assert_allclose(x.grad.numpy(), gs @ w0.T, rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), x0.T @ gs, rtol=1e-12)
    np.testing.assert_allclose(u.grad.numpy(), gs, rtol=1e-12)
    np.testing.assert_allclose(v.grad.numpy(), gz * (x0 @ w0 + u0) * (1 - np.tanh(v0) ** 2), rtol=1e-12)


@pytest.mark.parametrize("lo, hi", [(10, 200), (100, 1000)])
def test_cleared_rows_are_blank_rows(lo, hi):
    # (``clear_rows`` copies blank rows from a template on a small tape, writes them on a big one)
    t = Tape(1024)
    t.R[:] = 7
    t.F[:] = 3.0
    t.clear_rows(lo, hi)
    assert (t.R[:, lo:hi] == _blank(1024)[:, lo:hi]).all() and (t.F[:, lo:hi] == 0).all()
    assert (t.R[:, :lo] == 7).all() and (t.R[:, hi:] == 7).all() and (t.F[:, hi:] == 3).all()


def test_a_leaf_only_a_result_saving_rule_reads_is_not_copied_onto_the_tape(monkeypatch):
    # log_softmax's adjoint reads its own result (value_of): the leaf it was computed from is not
    # copied onto the tape for it
    filled = set()
    fill = Tape.fill

    def spy(t, nodes=None):
        before = set(t.pend or ())
        fill(t, nodes)
        filled.update(before - set(t.pend or ()))
    monkeypatch.setattr(Tape, "fill", spy)
    x0 = np.random.default_rng(0).standard_normal((64, 1000)).astype(np.float32)
    x = tape.tensor(x0, requires_grad=True)
    y = x.log_softmax(1)
    assert x._in in y._tape.pend
    (y * y).sum().backward()
    assert x._in not in filled
    p = np.exp(y.detach().numpy())
    g = 2 * y.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), g - p * g.sum(1, keepdims=True), rtol=1e-4, atol=1e-5)


class _Product(tape.autograd.Function):
    @staticmethod
    def forward(ctx, a, w):
        ctx.save_for_backward(a, w)
        return a @ w

    @staticmethod
    def backward(ctx, g):
        a, w = ctx.saved_tensors
        return g @ w.T, a.T @ g


def test_a_leaf_a_custom_function_reads_is_not_copied_onto_the_tape():
    # The Function's row reads a leaf input as the leaf itself; reading another row's value fills
    # only that row.
    x0, w0, x, w = _pair()
    h = x * 2.0
    y = _Product.apply(h, w)
    assert w._in in y._tape.pend
    y._tape.value_of(h._node)
    assert w._in in y._tape.pend
    y.sum().backward()
    ones = np.ones((32, PAIR_N))
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * ones @ w0.T, rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), (2.0 * x0).T @ ones, rtol=1e-12)


def test_a_referred_leaf_sees_a_change_through_data():
    # PyTorch's saved tensor shares the leaf's storage: a change through .data (no version bump)
    # is what backward reads.
    x0, w0, x, w = _pair()
    y = (x @ w).sum()
    w.data.mul_(2.0)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.ones((32, PAIR_N)) @ (2.0 * w0).T, rtol=1e-12)


def test_a_referred_leaf_changed_in_place_raises():
    x0, w0, x, w = _pair()
    y = (x @ w).sum()
    with tape.no_grad():
        w.add_(1.0)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


def test_a_referred_leaf_replaced_through_data_keeps_the_old_value():
    x0, w0, x, w = _pair()
    y = (x @ w).sum()
    w.data = tape.zeros(PAIR_N, PAIR_N, dtype=tape.float64)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.ones((32, PAIR_N)) @ w0.T, rtol=1e-12)


@pytest.mark.parametrize("how", ["create_graph", "python_rule", "hook", "anomaly", "retain_graph", "trace", "function"])
def test_referred_leaves_in_every_kind_of_backward(how, monkeypatch):
    def run():
        x0, w0, x, w = _pair(rg_x=True)
        f = lambda x, w: ((x @ w).tanh() @ w).sum()
        if how == "create_graph":
            g, = tape.autograd.grad(f(x, w), w, create_graph=True)
            return tape.autograd.grad((g * g).sum(), (x, w))
        if how == "python_rule":
            # (a rule without a compiled program, run while the recorded backward writes rows: a
            # big constant it makes must be on the tape before compiled code reads it)
            c = tape.tensor(x0[0, :12])
            a = tape.tensor(w0[0, :12], requires_grad=True)
            weights = tape.tensor(np.linspace(-1.0, 1.0, 12 ** 3 * 3).reshape(-1, 3))
            y = (tape.cartesian_prod(c, a, c) * weights).sum()
            g, = tape.autograd.grad(y, a, create_graph=True)
            return g, *tape.autograd.grad(y, a)
        if how == "hook":
            h = x @ w
            h.register_hook(lambda g: g * 2.0)
            (h.tanh() @ w).sum().backward()
            return x.grad, w.grad
        if how == "anomaly":
            with tape.autograd.detect_anomaly():
                f(x, w).backward()
            return x.grad, w.grad
        if how == "function":
            y = _Product.apply((x @ w).tanh(), w)
            g, = tape.autograd.grad(y.sum(), w, create_graph=True)
            (y.sum() + (g * g).sum()).backward()
            return x.grad, w.grad
        if how == "retain_graph":
            y = f(x, w)
            y.backward(retain_graph=True)
            y.backward()
            return x.grad, w.grad
        tr = tape.trace(f, x.detach(), w.detach())
        out = tr.grad(x.detach(), w.detach(), argnums=(0, 1))
        with tape.no_grad():
            w.mul_(0.5)
        again = tr.grad(x.detach(), w.detach(), argnums=(0, 1))
        return (*out, *again)

    referred = [np.array(t.detach().numpy()) for t in run()]
    monkeypatch.setattr(tape._tape, "REFER_FROM", 1 << 62)     # every leaf copied, as before
    copied = [np.array(t.detach().numpy()) for t in run()]
    for a, b in zip(referred, copied):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_leaf_only_big_rows_read_is_not_copied_onto_the_tape(dtype, monkeypatch):
    """Rows that the plain sweep leaves to Python (big rows of ``numpy_rows`` ops here) read a
    referred leaf's own array: it is never copied onto the tape, and the gradients are those of the
    copied leaf, to the bit; a leaf that a compiled row reads too (``x * x`` below the threshold)
    is copied."""
    v = np.random.default_rng(9).uniform(-3.0, 3.0, 1 << 15).astype(dtype)

    def run(small: bool = False):
        x = tape.tensor(v, requires_grad=True)
        y = (x.sin() * 2.0 + x.cos()).sum()
        if small:
            y = y + (x[:64] * x[:64]).sum()
        referred = y._tape.pend is not None and x._in in y._tape.pend
        y.backward()
        return referred, x.grad.numpy().copy()

    referred, got = run()
    assert referred
    assert not run(small=True)[0]
    monkeypatch.setattr(tape._tape, "REFER_FROM", 1 << 62)     # every leaf copied, as before
    referred, want = run()
    assert not referred and got.tobytes() == want.tobytes()


# -- big leaves' gradients: their memory reused by the next backward once nothing refers to it --------
def _chain_loss(ws, x, scale=1.0):
    h = x
    for w in ws:
        h = (h @ w).tanh()
    return h.sum() * scale


def _chain_leaves(n=3, seed=0, width=256):
    rng = np.random.default_rng(seed)
    ws = [tape.tensor((rng.standard_normal((width, width)) / 16).astype(np.float32), requires_grad=True)
          for _ in range(n)]
    return ws, tape.tensor(rng.standard_normal((64, width)).astype(np.float32))


def _checkpointed_loss(ws, x, scale=1.0):
    return checkpoint(_chain_loss, ws, x, scale, use_reentrant=False)


@pytest.mark.parametrize("dropped_forward", [False, True])
@pytest.mark.parametrize("loss", [_chain_loss, _checkpointed_loss])
def test_a_dropped_big_grad_is_reused_and_a_held_one_is_never_written(loss, dropped_forward):
    ws, x = _chain_leaves()
    loss(ws, x).backward()
    if dropped_forward:
        # (the next forward records after this one's rows, its leaves' INPUT rows this one's: their
        # gradients are copied out of the adjoint buffer, into the memory of dropped ones too)
        loss(ws, x, 5.0)
    held = ws[0].grad                       # kept by the user
    view = ws[1].grad.numpy()               # only a numpy view of it kept
    kept_held, kept_view = held.numpy().copy(), view.copy()
    dropped = ws[2].grad.data_ptr()
    for w in ws:
        w.grad = None
    loss(ws, x, 3.0).backward()
    np.testing.assert_array_equal(held.numpy(), kept_held)
    np.testing.assert_array_equal(view, kept_view)
    assert not np.shares_memory(ws[0].grad.numpy(), held.numpy())
    assert not np.shares_memory(ws[1].grad.numpy(), view)
    np.testing.assert_allclose(ws[0].grad.numpy(), 3 * kept_held, rtol=1e-4, atol=1e-4)
    # (the memory no one refers to any more is written again, not paged in afresh)
    assert dropped in [w.grad.data_ptr() for w in ws]


def test_dropped_big_grads_are_kept_for_one_backward_only():
    ws, x = _chain_leaves()
    _chain_loss(ws, x).backward()
    memory = weakref.ref(ws[0].grad.numpy().base)
    for w in ws:
        w.grad = None
    others, y = _chain_leaves(seed=1, width=300)
    for _ in range(2):          # (backwards that reach other leaves only, of another size)
        _chain_loss(others, y).backward()
        for w in others:
            w.grad = None
    gc.collect()
    assert memory() is None


def test_threads_reuse_their_own_dropped_grads():
    results, errors = {}, []

    def work(k):
        try:
            ws, x = _chain_leaves(seed=k)
            for step in range(4):
                for w in ws:
                    w.grad = None
                _chain_loss(ws, x, step + 1.0).backward()
                results.setdefault(k, []).append([w.grad.numpy().copy() for w in ws])
        except Exception as e:      # pragma: no cover (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k in range(3):
        first = results[k][0]
        for step, grads in enumerate(results[k]):
            for g, g0 in zip(grads, first):
                np.testing.assert_allclose(g, (step + 1) * g0, rtol=1e-4, atol=1e-4)


def test_a_forward_after_a_dropped_one_starts_the_tape_again():
    ws, x = _chain_leaves()

    def loss_of():
        h = x
        for w in ws:
            h = (h @ w).tanh()
        return h.sum()

    n = loss_of()._tape.n          # (dropped: no backward)
    loss = loss_of()
    # (its rows only: the leaves imported anew, the arena not grown by the dropped graph's values)
    assert loss._tape.n == n
    loss.backward()
    assert all(w.grad is not None for w in ws)
