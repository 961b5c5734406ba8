"""The recurrent layers against PyTorch's: initial values after ``manual_seed``, outputs, final states,
gradients, nodes, errors and reprs."""
from __future__ import annotations

import numpy as np
import pytest

import tape

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")


def _np(t):
    return t.detach().numpy()


def _pair(shapes, seed=0):
    """The same float64 values as PyTorch and tape leaves requiring grad."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    return ([torch.tensor(a, requires_grad=True) for a in arrays],
            [tape.tensor(a, requires_grad=True) for a in arrays])


def _tuple(out):
    return out if isinstance(out, tuple) else (out,)


def _close_grads(theirs, ours, rtol=1e-10, atol=1e-12):
    for a, b in zip(theirs, ours):
        assert (a.grad is None) == (b.grad is None)
        if a.grad is not None:
            np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=rtol, atol=atol)


def _errors(fn_theirs, fn_ours):
    with pytest.raises(Exception) as theirs:
        fn_theirs()
    with pytest.raises(type(theirs.value)) as ours:
        fn_ours()
    assert str(ours.value) == str(theirs.value)


# --- cells --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,gates", [("rnn_tanh_cell", 1), ("rnn_relu_cell", 1), ("gru_cell", 3),
                                        ("lstm_cell", 4)])
def test_cell_functions(name, gates):
    theirs, ours = _pair([(2, 4), (2, 3), (2, 3), (gates * 3, 4), (gates * 3, 3), (gates * 3,), (gates * 3,)])

    def run(M, ts):
        x, h, c, *w = ts
        out = _tuple(getattr(M, name)(x, (h, c) if name == "lstm_cell" else h, *w))
        sum((o * o).sum() for o in out).backward()
        return out

    a, b = run(torch, theirs), run(tape, ours)
    assert [o.grad_fn.name() for o in b] == [o.grad_fn.name() for o in a]
    for o, p in zip(a, b):
        np.testing.assert_allclose(_np(p), _np(o), rtol=1e-12)
    _close_grads(theirs, ours)


@pytest.mark.parametrize("cls,hidden", [("RNNCell", None), ("LSTMCell", "pair"), ("GRUCell", None)])
def test_cell_modules(cls, hidden):
    torch.manual_seed(5)
    tape.manual_seed(5)
    a, b = getattr(torch.nn, cls)(4, 3), getattr(tape.nn, cls)(4, 3)
    assert repr(b) == repr(a)
    assert list(b.state_dict()) == list(a.state_dict())
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(_np(q), _np(p))
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    for inp in (x, x[0]):       # batched and unbatched, hidden state zeros
        out_a, out_b = _tuple(a(torch.tensor(inp))), _tuple(b(tape.tensor(inp)))
        assert [o.grad_fn.name() for o in out_b] == [o.grad_fn.name() for o in out_a]
        for o, p in zip(out_a, out_b):
            assert tuple(p.shape) == tuple(o.shape)
            np.testing.assert_allclose(_np(p), _np(o), rtol=1e-5, atol=1e-6)
    h = np.ones((2, 3), np.float32) / 3
    state_a = (torch.tensor(h), torch.tensor(-h)) if hidden else torch.tensor(h)
    state_b = (tape.tensor(h), tape.tensor(-h)) if hidden else tape.tensor(h)
    for o, p in zip(_tuple(a(torch.tensor(x), state_a)), _tuple(b(tape.tensor(x), state_b))):
        np.testing.assert_allclose(_np(p), _np(o), rtol=1e-5, atol=1e-6)


def test_cell_errors():
    for M in (torch, tape):
        M.manual_seed(0)
    cells = [(torch.nn.RNNCell(4, 3), tape.nn.RNNCell(4, 3)), (torch.nn.GRUCell(4, 3), tape.nn.GRUCell(4, 3)),
             (torch.nn.LSTMCell(4, 3), tape.nn.LSTMCell(4, 3))]
    for a, b in cells:
        _errors(lambda: a(torch.zeros(2, 5)), lambda: b(tape.zeros(2, 5)))
        _errors(lambda: a(torch.zeros(2, 2, 4)), lambda: b(tape.zeros(2, 2, 4)))
        if isinstance(a, torch.nn.LSTMCell):
            _errors(lambda: a(torch.zeros(2, 4), (torch.zeros(3, 3), torch.zeros(2, 3))),
                    lambda: b(tape.zeros(2, 4), (tape.zeros(3, 3), tape.zeros(2, 3))))
            _errors(lambda: a(torch.zeros(2, 4), (torch.zeros(2, 3), torch.zeros(2, 2))),
                    lambda: b(tape.zeros(2, 4), (tape.zeros(2, 3), tape.zeros(2, 2))))
        else:
            _errors(lambda: a(torch.zeros(2, 4), torch.zeros(3, 3)), lambda: b(tape.zeros(2, 4), tape.zeros(3, 3)))
            _errors(lambda: a(torch.zeros(2, 4), torch.zeros(2, 3, 1)),
                    lambda: b(tape.zeros(2, 4), tape.zeros(2, 3, 1)))
    h, w = torch.zeros(2, 3), torch.zeros(3, 4)
    th, tw = tape.zeros(2, 3), tape.zeros(3, 4)
    _errors(lambda: torch.rnn_tanh_cell(torch.zeros(2, 4), h, w, torch.zeros(3, 2)),
            lambda: tape.rnn_tanh_cell(tape.zeros(2, 4), th, tw, tape.zeros(3, 2)))
    _errors(lambda: torch.gru_cell(torch.zeros(2, 4), h, torch.zeros(9, 4), torch.zeros(8, 3)),
            lambda: tape.gru_cell(tape.zeros(2, 4), th, tape.zeros(9, 4), tape.zeros(8, 3)))
    _errors(lambda: torch.lstm_cell(torch.zeros(2, 4), (h,), torch.zeros(12, 4), torch.zeros(12, 3)),
            lambda: tape.lstm_cell(tape.zeros(2, 4), (th,), tape.zeros(12, 4), tape.zeros(12, 3)))
    _errors(lambda: torch.rnn_tanh_cell(torch.zeros(2, 4), h, w, torch.zeros(3, 3), 1),
            lambda: tape.rnn_tanh_cell(tape.zeros(2, 4), th, tw, tape.zeros(3, 3), 1))
    _errors(lambda: torch.lstm_cell(torch.zeros(2, 4), h, torch.zeros(12, 4), torch.zeros(12, 3)),
            lambda: tape.lstm_cell(tape.zeros(2, 4), th, tape.zeros(12, 4), tape.zeros(12, 3)))
    _errors(lambda: torch.nn.RNNCell(4, 3, nonlinearity="foo")(torch.zeros(2, 4)),
            lambda: tape.nn.RNNCell(4, 3, nonlinearity="foo")(tape.zeros(2, 4)))


def test_cell_reprs():
    for args, kwargs in (((4, 3), {}), ((4, 3), {"bias": False}), ((4, 3), {"nonlinearity": "relu"})):
        assert repr(tape.nn.RNNCell(*args, **kwargs)) == repr(torch.nn.RNNCell(*args, **kwargs))
    assert repr(tape.nn.LSTMCell(4, 3, bias=False)) == repr(torch.nn.LSTMCell(4, 3, bias=False))
