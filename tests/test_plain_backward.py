"""``loss.backward()``'s short path (``_engine.plain_backward``) against the general driver (``_engine.run``).

The short path takes a plain backward of one small tape when nothing but the sweep can run during
it; it must give the general driver's gradients, errors and buffer reuse, and leave every other
backward to the general driver.
"""
import numpy as np
import pytest

import tape as torch
from tape import _engine
from tape._state import state


@pytest.fixture
def run_calls(monkeypatch):
    """The number of backwards the general driver took."""
    calls = [0]
    general = _engine.run

    def counted(*args, **kwargs):
        calls[0] += 1
        return general(*args, **kwargs)

    monkeypatch.setattr(_engine, "run", counted)
    return calls


def _mlp(dtype, seed=0):
    rng = np.random.default_rng(seed)
    sizes = (16, 64, 64, 1)
    params = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        params.append(torch.tensor(rng.standard_normal((fan_in, fan_out)) / 4, dtype=dtype, requires_grad=True))
        params.append(torch.tensor(rng.standard_normal(fan_out) / 10, dtype=dtype, requires_grad=True))
    x = torch.tensor(rng.standard_normal((32, 16)), dtype=dtype)
    t = torch.tensor(rng.standard_normal((32, 1)), dtype=dtype)

    def loss():
        w1, b1, w2, b2, w3, b3 = params
        h = torch.tanh(x @ w1 + b1)
        h = torch.tanh(h @ w2 + b2)
        return (((h @ w3 + b3) - t) ** 2).mean()

    return params, loss


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_short_path_gives_the_general_gradients(dtype, run_calls):
    params, loss = _mlp(dtype)
    torch.autograd.backward(loss())
    general = [p.grad.numpy().copy() for p in params]
    assert run_calls[0] == 1
    for p in params:
        p.grad = None
    loss().backward()
    assert run_calls[0] == 1        # (the short path)
    for p, g in zip(params, general):
        assert p.grad.dtype == dtype and p.grad.shape == p.shape
        np.testing.assert_array_equal(p.grad.numpy(), g)


def test_short_path_accumulates_into_grad_in_place(run_calls):
    params, loss = _mlp(torch.float32)
    loss().backward()
    first = [p.grad for p in params]
    once = [p.grad.numpy().copy() for p in params]
    loss().backward()
    assert run_calls[0] == 0
    for p, g, g1 in zip(params, first, once):
        assert p.grad is g
        np.testing.assert_allclose(p.grad.numpy(), 2 * g1, rtol=1e-6)


def test_short_path_hands_the_buffers_on():
    # The next step records into the arenas the swept tape used (``Tape.hand_over``), as after
    # the general driver's backward; a reference kept to them would make a new tape each step.
    params, loss = _mlp(torch.float32)
    y = loss()
    arenas = id(y._tape.v32)
    y.backward()
    assert id(state.tape.v32) == arenas


def test_short_path_errors_as_the_general_driver():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = a * 1.0
    y = (b * b).sum()
    b.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_a_row_the_short_path_did_not_run_keeps_its_value(run_calls):
    # (the swept tape hands its buffers on only when every row is freed or a source, as
    # ``_sweep.free_rows`` reports: here a row outside the loss still holds its value)
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    e = w.exp()
    (w * 3.0).sum().backward()
    assert run_calls[0] == 0
    w.grad = None
    e.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.exp([1.0, 2.0]), rtol=1e-6)


def test_a_constant_changed_in_place_at_a_later_step_makes_its_rows_stale():
    # (a constant imported at each step keeps its reference to the tensor, which must follow its
    # version counter, made here after the first step, and its dtype)
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    c = torch.tensor([3.0, 4.0])
    (w * c).sum().backward()
    d = c.detach()          # (shares the counter: a change through it after ``c`` is gone is seen)
    y = (w * c).sum()
    del c
    d.mul_(2)
    with pytest.raises(RuntimeError, match=r"\[torch.FloatTensor \[2\]\] is at version 1; expected version 0"):
        y.backward()
    x = torch.tensor([3.0, 4.0])
    (w * x).sum().backward()
    x.data = torch.tensor([1.0, 1.0], dtype=torch.float64)
    y = (w.double() * x).sum()
    x.mul_(2)
    with pytest.raises(RuntimeError, match=r"\[torch.DoubleTensor \[2\]\] is at version 1; expected version 0"):
        y.backward()


def _hooked():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    h = w * 3
    h.register_hook(lambda g: g * 10)
    return w, (h * h).sum(), 180.0


def _retained():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    h = w * 3
    h.retain_grad()
    return w, (h * h).sum(), 18.0


def _two_tapes():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    h = w * 3
    (w * 1.0).sum().backward()      # (retires the tape h is on: the loss below imports it)
    w.grad = None
    return w, (h * h).sum(), 18.0


def _hooked_leaf():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    w.register_hook(lambda g: g * 10)
    return w, (w * w * 9).sum(), 180.0


def _post_hooked_leaf():
    w = torch.tensor([1.0, 2.0], requires_grad=True)

    def tenfold(t):
        t.grad.mul_(10)
    w.register_post_accumulate_grad_hook(tenfold)
    return w, (w * w * 9).sum(), 180.0


@pytest.mark.parametrize("case", [_hooked, _retained, _two_tapes, _hooked_leaf, _post_hooked_leaf])
def test_other_backwards_take_the_general_driver(case, run_calls):
    w, y, d = case()
    before = run_calls[0]
    y.backward()
    assert run_calls[0] == before + 1
    np.testing.assert_allclose(w.grad.numpy(), [d, 2 * d])


def test_hooks_on_other_leaves_leave_the_short_path_on(run_calls):
    # (a leaf that had hooks once, anywhere, used to turn the short path off for good)
    other = torch.tensor([1.0], requires_grad=True)
    handle = other.register_hook(lambda g: g)
    params, loss = _mlp(torch.float32)
    loss().backward()
    assert run_calls[0] == 0
    handle.remove()
    (other * 2).sum().backward()
    assert run_calls[0] == 0 and other.grad.item() == 2.0


def test_an_ended_mutation_context_leaves_the_short_path_on(run_calls):
    # (an allow_mutation_on_saved_tensors context refuses backwards of the rows recorded inside it;
    # a tape recorded after it ended has none)
    with torch.autograd.graph.allow_mutation_on_saved_tensors():
        a = torch.ones(3, requires_grad=True)
        (a * a).sum().backward()
    calls = run_calls[0]
    params, loss = _mlp(torch.float32)
    loss().backward()
    assert run_calls[0] == calls and all(p.grad is not None for p in params)


def test_a_dense_leaf_laid_out_otherwise_gets_a_grad_with_its_strides():
    # PyTorch's AccumulateGrad: a leaf whose elements are one run of memory in another order
    # (channels_last, transposed) gets a grad with its strides; one with gaps a row-major grad.
    a = torch.rand((2, 3, 4, 5)).to(memory_format=torch.channels_last).requires_grad_()
    b = torch.rand((2, 3, 4, 5))
    a.sum().backward()
    assert a.grad.stride() == a.stride() == (60, 1, 15, 3) and a.grad.tolist() == torch.ones(2, 3, 4, 5).tolist()
    a.grad = None
    (a * b).sum().backward()
    assert a.grad.stride() == a.stride() and a.grad.tolist() == b.tolist()
    t = torch.arange(6.0).reshape(3, 2).t().requires_grad_()
    (t * torch.arange(6.0).reshape(2, 3)).sum().backward()
    assert t.grad.stride() == (1, 2) and t.grad.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    c = torch.empty_strided((2, 2), (4, 2)).copy_(torch.rand((2, 2))).requires_grad_()
    (c * 3).sum().backward()
    assert c.grad.stride() == (2, 1) and c.grad.tolist() == [[3.0, 3.0], [3.0, 3.0]]


def test_custom_functions_take_the_short_path_inside_a_task(run_calls):
    # (their backward sees what it sees under the general driver: grad mode off, its node, a task
    # that callbacks are queued to and that runs them once the leaves have their gradients)
    seen = []

    class Cube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            seen.append((torch.is_grad_enabled(), torch._C._current_graph_task_id() >= 0,
                         type(torch._C._current_autograd_node()).__name__,
                         torch.autograd.Variable._execution_engine.is_checkpoint_valid()))
            torch.autograd.Variable._execution_engine.queue_callback(lambda: seen.append(w.grad.tolist()))
            return g * 3 * x * x

    w = torch.tensor([1.0, 2.0], requires_grad=True)
    (Cube.apply(w * 1.0) * 2).sum().backward()
    assert run_calls[0] == 0
    assert seen == [(False, True, "CubeBackward", True), [6.0, 24.0]]
    assert torch._C._current_graph_task_id() == -1
    (Cube.apply(w * 1.0) * 2).sum().backward()      # (into the .grad there: the callback sees the sum, as PyTorch's)
    assert run_calls[0] == 0 and seen[2:] == [(False, True, "CubeBackward", True), [12.0, 48.0]]


def test_a_backward_inside_a_custom_backward_takes_the_general_driver(run_calls):
    class Inner(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            v = torch.tensor([3.0], requires_grad=True)
            with torch.enable_grad():
                (Twice.apply(v) * 1.0).sum().backward()
            return g * v.grad

    class Twice(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    w = torch.tensor([1.0], requires_grad=True)
    (Inner.apply(w * 1.0) * 1.0).sum().backward()
    assert run_calls[0] == 1        # (the inner backward)
    assert w.grad.tolist() == [2.0]
