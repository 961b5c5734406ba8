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


# --- multi-layer modules ----------------------------------------------------------------------
CONFIGS = [("RNN", dict()), ("RNN", dict(num_layers=2, bidirectional=True, batch_first=True, bias=False,
                                          nonlinearity="relu")),
           ("LSTM", dict()), ("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True)),
           ("LSTM", dict(num_layers=2, proj_size=2, bias=False)),
           ("GRU", dict()), ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True))]


def _flat(out):
    return [out[0]] + (list(out[1]) if isinstance(out[1], tuple) else [out[1]])


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("cls,kwargs", CONFIGS)
def test_modules(cls, kwargs):
    torch.manual_seed(1)
    tape.manual_seed(1)
    a, b = getattr(torch.nn, cls)(4, 3, **kwargs), getattr(tape.nn, cls)(4, 3, **kwargs)
    assert repr(b) == repr(a)
    assert b._flat_weights_names == a._flat_weights_names
    assert [[tuple(p.shape) for p in ps] for ps in b.all_weights] == [
        [tuple(p.shape) for p in ps] for ps in a.all_weights]
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(_np(q), _np(p))
    x32 = np.random.default_rng(0).standard_normal((3, 2, 4)).astype(np.float32)
    for p, q in zip(_flat(a(torch.tensor(x32))), _flat(b(tape.tensor(x32)))):      # float32: a few ulps
        np.testing.assert_allclose(_np(q), _np(p), rtol=1e-5, atol=1e-6)
    a.double()
    b.double()
    (ta,), (tb,) = _pair([(3, 2, 4)])
    for hidden in (False, True):
        ins_a, ins_b = [ta] + list(a.parameters()), [tb] + list(b.parameters())
        args_a, args_b = (ta,), (tb,)
        if hidden:      # given initial states, their gradients too
            d, n = (2 if kwargs.get("bidirectional") else 1) * kwargs.get("num_layers", 1), 2 if not kwargs.get(
                "batch_first") else 3
            shapes = [(d, n, kwargs.get("proj_size") or 3)] + ([(d, n, 3)] if cls == "LSTM" else [])
            sa, sb = _pair(shapes, seed=3)
            args_a += (tuple(sa) if cls == "LSTM" else sa[0],)
            args_b += (tuple(sb) if cls == "LSTM" else sb[0],)
            ins_a, ins_b = ins_a + sa, ins_b + sb
        for t in ins_a + ins_b:
            t.grad = None
        out_a, out_b = _flat(a(*args_a)), _flat(b(*args_b))
        assert [o.grad_fn.name() for o in out_b] == [o.grad_fn.name() for o in out_a]
        for p, q in zip(out_a, out_b):
            np.testing.assert_allclose(_np(q), _np(p), rtol=1e-12, atol=1e-14)
        sum((o * o).sum() for o in out_a).backward()
        sum((o * o).sum() for o in out_b).backward()
        _close_grads(ins_a, ins_b)
    # unbatched: the batch dim added and taken away again
    one = ta[:, 0].detach() if not kwargs.get("batch_first") else ta[0].detach()
    for p, q in zip(_flat(a(one)), _flat(b(tape.tensor(one.numpy())))):
        assert tuple(q.shape) == tuple(p.shape)
        np.testing.assert_allclose(_np(q), _np(p), rtol=1e-12, atol=1e-14)


def test_dropout_between_layers():
    outs = []
    for M in (torch, tape):
        M.manual_seed(2)
        m = M.nn.GRU(4, 3, num_layers=3, dropout=0.5).double()
        x = M.tensor(np.ones((3, 2, 4)))
        outs.append([_np(t) for t in m(x)])
        m.eval()
        outs[-1] += [_np(m(x)[0])]
    for p, q in zip(*outs):
        np.testing.assert_allclose(q, p, rtol=1e-12)


def test_packed_input():
    """A PackedSequence through the modules: PyTorch's packed layers (narrowed states, the
    reversed direction starting from the shortest sequences)."""
    batch_sizes = [3, 2, 2, 1]
    data = np.random.default_rng(4).standard_normal((sum(batch_sizes), 4))
    for cls, kwargs in (("GRU", dict(bidirectional=True, num_layers=2)), ("LSTM", dict(bidirectional=True)),
                        ("RNN", dict())):
        torch.manual_seed(0)
        tape.manual_seed(0)
        a, b = getattr(torch.nn, cls)(4, 3, **kwargs).double(), getattr(tape.nn, cls)(4, 3, **kwargs).double()
        da, db = torch.tensor(data, requires_grad=True), tape.tensor(data, requires_grad=True)
        sorted_a = torch.tensor([2, 0, 1])
        pa = torch.nn.utils.rnn.PackedSequence(da, torch.tensor(batch_sizes), sorted_a)
        pb = tape.nn.utils.rnn.PackedSequence(db, tape.tensor(batch_sizes), tape.tensor([2, 0, 1]))
        np.testing.assert_array_equal(pb.unsorted_indices.numpy(), pa.unsorted_indices.numpy())
        out_a, out_b = a(pa), b(pb)
        assert isinstance(out_b[0], tape.nn.utils.rnn.PackedSequence)
        flat_a = [out_a[0].data] + list(out_a[1] if cls == "LSTM" else [out_a[1]])
        flat_b = [out_b[0].data] + list(out_b[1] if cls == "LSTM" else [out_b[1]])
        assert [o.grad_fn.name() for o in flat_b] == [o.grad_fn.name() for o in flat_a]
        for p, q in zip(flat_a, flat_b):
            np.testing.assert_allclose(_np(q), _np(p), rtol=1e-12, atol=1e-14)
        sum((o * o).sum() for o in flat_a).backward()
        sum((o * o).sum() for o in flat_b).backward()
        _close_grads([da] + list(a.parameters()), [db] + list(b.parameters()))


def test_module_errors_and_warnings():
    cases = [lambda M: M.nn.RNN(4, 3)(M.zeros(3, 2, 5)),
             lambda M: M.nn.RNN(4, 3)(M.zeros(3, 2, 4), M.zeros(1, 3, 3)),
             lambda M: M.nn.RNN(4, 3)(M.zeros(3, 2, 4).double()),
             lambda M: M.nn.RNN(4, 3)(M.zeros(4)),
             lambda M: M.nn.RNN(4, 3)(M.zeros(3, 4), M.zeros(1, 1, 3)),
             lambda M: M.nn.GRU(4, 3)(M.zeros(3, 2, 4), M.zeros(1, 3)),
             lambda M: M.nn.LSTM(4, 3)(M.zeros(3, 2, 4), (M.zeros(1, 2, 3), M.zeros(1, 3))),
             lambda M: M.nn.LSTM(4, 3)(M.zeros(3, 4), (M.zeros(1, 2, 3), M.zeros(1, 3))),
             lambda M: M.nn.LSTM(4, 3)(M.zeros(3, 2, 4), (M.zeros(1, 2, 3), M.zeros(1, 3, 3))),
             lambda M: M.nn.LSTM(4, 3, proj_size=2)(M.zeros(3, 2, 4), (M.zeros(1, 2, 3), M.zeros(1, 2, 3))),
             lambda M: M.nn.GRU(4, 3)(M.zeros(0, 2, 4)),
             lambda M: M.nn.GRU(4, 3, proj_size=1), lambda M: M.nn.RNN(4, 3, nonlinearity="x"),
             lambda M: M.nn.RNN(4, 3, dropout=2), lambda M: M.nn.RNN(4, 3, dropout=True),
             lambda M: M.nn.RNN(4, 0), lambda M: M.nn.RNN(4.0, 3), lambda M: M.nn.RNN(4, 3, bias=1),
             lambda M: M.nn.LSTM(4, 3, proj_size=-1), lambda M: M.nn.LSTM(4, 3, proj_size=3),
             lambda M: M.nn.RNN(4, 3, num_layers=0), lambda M: M.nn.RNNBase("FOO", 4, 3),
             lambda M: M.rnn_tanh(M.zeros(3, 2, 4), M.zeros(2, 2, 3), [M.zeros(3, 4), M.zeros(3, 3)], False, 1, 0.0,
                                  False, True, False),
             lambda M: M.rnn_tanh(M.zeros(3, 2, 4), M.zeros(1, 2, 3), [M.zeros(3, 4)] * 3, False, 1, 0.0, False,
                                  False, False),
             lambda M: M.rnn_tanh(M.zeros(3, 2, 4), M.zeros(1, 2, 3), [M.zeros(3, 4), M.zeros(3, 3)], False, 2, 0.0,
                                  False, False, False),
             lambda M: M.lstm(M.zeros(3, 2, 4), [M.zeros(1, 2, 3)], [M.zeros(12, 4), M.zeros(12, 3)], False, 1, 0.0,
                              False, False, False),
             lambda M: M.gru(1)]
    for case in cases:
        _errors(lambda: case(torch), lambda: case(tape))
    for M in (torch, tape):
        with pytest.warns(UserWarning, match="dropout option adds dropout after all but last recurrent layer, so "
                                             "non-zero dropout expects num_layers greater than 1, but got "
                                             "dropout=0.2 and num_layers=1"):
            M.nn.RNN(4, 3, dropout=0.2)


def test_flat_weights_follow_assignment_and_copies():
    import copy
    import pickle
    m = tape.nn.LSTM(4, 3, num_layers=2, proj_size=2)
    m.weight_ih_l0 = tape.nn.Parameter(tape.zeros(12, 4))
    assert m._flat_weights[0] is m.weight_ih_l0
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert clone._flat_weights[0] is clone.weight_ih_l0
        assert clone._flat_weights_names == m._flat_weights_names
    m.double()
    assert m._flat_weights[1].dtype == tape.float64 and m._flat_weights[1] is m.weight_hh_l0
    assert m.flatten_parameters() is None


# --- nn.utils.rnn -------------------------------------------------------------------------------
def test_pad_sequence():
    arrays = [np.arange(k * 2, dtype=np.float64).reshape(k, 2) + k for k in (2, 4, 1)]
    for batch_first in (False, True):
        for side in ("right", "left"):
            sa = [torch.tensor(a, requires_grad=True) for a in arrays]
            sb = [tape.tensor(a, requires_grad=True) for a in arrays]
            pa = torch.nn.utils.rnn.pad_sequence(sa, batch_first, -1.0, side)
            pb = tape.nn.utils.rnn.pad_sequence(sb, batch_first, -1.0, side)
            assert pb.grad_fn.name() == pa.grad_fn.name()
            np.testing.assert_array_equal(_np(pb), _np(pa))
            w = np.arange(pa.numel(), dtype=np.float64).reshape(pa.shape)
            (pa * torch.tensor(w)).sum().backward()
            (pb * tape.tensor(w)).sum().backward()
            _close_grads(sa, sb)
    lengths = [2, 4, 1]
    padded = np.random.default_rng(0).standard_normal((4, 3, 2))
    ua = torch.nn.utils.rnn.unpad_sequence(torch.tensor(padded), torch.tensor(lengths))
    ub = tape.nn.utils.rnn.unpad_sequence(tape.tensor(padded), tape.tensor(lengths))
    for p, q in zip(ua, ub):
        np.testing.assert_array_equal(_np(q), _np(p))
    _errors(lambda: torch.nn.utils.rnn.pad_sequence([]), lambda: tape.nn.utils.rnn.pad_sequence([]))
    _errors(lambda: torch.nn.utils.rnn.pad_sequence(3), lambda: tape.nn.utils.rnn.pad_sequence(3))
    _errors(lambda: torch.nn.utils.rnn.pad_sequence([torch.zeros(2)], padding_side="up"),
            lambda: tape.nn.utils.rnn.pad_sequence([tape.zeros(2)], padding_side="up"))


# --- bilinear -----------------------------------------------------------------------------------
def test_bilinear():
    for shapes, bias in ((((2, 4), (2, 3)), True), (((4,), (3,)), False), (((2, 2, 4), (2, 2, 3)), True)):
        theirs, ours = _pair(list(shapes) + [(5, 4, 3), (5,)])
        a = torch.nn.functional.bilinear(*(theirs if bias else theirs[:3]))
        b = tape.nn.functional.bilinear(*(ours if bias else ours[:3]))
        assert b.grad_fn.name() == a.grad_fn.name()
        np.testing.assert_allclose(_np(b), _np(a), rtol=1e-12)
        (a * a).sum().backward()
        (b * b).sum().backward()
        _close_grads(theirs, ours)
    torch.manual_seed(0)
    tape.manual_seed(0)
    ma, mb = torch.nn.Bilinear(4, 3, 5), tape.nn.Bilinear(4, 3, 5)
    assert repr(mb) == repr(ma)
    for p, q in zip(ma.parameters(), mb.parameters()):
        np.testing.assert_array_equal(_np(q), _np(p))
    W = (torch.zeros(5, 4, 3), tape.zeros(5, 4, 3))
    cases = [lambda M, W: M.bilinear(M.zeros(2, 4), M.zeros(2, 2, 3), W),
             lambda M, W: M.bilinear(M.zeros(2, 4), M.zeros(3, 3), W),
             lambda M, W: M.bilinear(M.zeros(2, 5), M.zeros(2, 3), W),
             lambda M, W: M.bilinear(M.zeros(2, 4), M.zeros(2, 2), W),
             lambda M, W: M.bilinear(M.zeros(2, 4), M.zeros(2, 3), W, M.zeros(4)),
             lambda M, W: M.bilinear(M.zeros(2, 4), M.zeros(2, 3), W, M.zeros(5).double()),
             lambda M, W: M.nn.functional.bilinear(1, M.zeros(2, 3), W)]
    for case in cases:
        _errors(lambda: case(torch, W[0]), lambda: case(tape, W[1]))


# --- scaled_dot_product_attention ----------------------------------------------------------------
SDPA_CASES = [(((2, 3, 4), (2, 5, 4), (2, 5, 6)), {}), (((3, 4), (5, 4), (5, 6)), dict(scale=-0.7)),
              (((2, 3, 4), (2, 5, 4), (2, 5, 6)), dict(is_causal=True)),
              (((2, 3, 4), (2, 5, 4), (2, 5, 6)), dict(attn_mask="bool")),
              (((2, 3, 4), (2, 5, 4), (2, 5, 6)), dict(attn_mask="float")),
              (((1, 4, 3, 4), (1, 2, 5, 4), (1, 2, 5, 6)), dict(enable_gqa=True, is_causal=True)),
              (((2, 1, 3, 4), (1, 2, 5, 4), (1, 2, 5, 6)), dict(dropout_p=0.4)),
              # PyTorch's flash kernel: 4-D, no dropout, one head size (its node, both masks applied)
              (((2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 4)), dict(attn_mask="bool")),
              (((2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 4)), dict(attn_mask="float", is_causal=True, scale=0.3))]


@pytest.mark.parametrize("shapes,kwargs", SDPA_CASES)
def test_scaled_dot_product_attention(shapes, kwargs):
    theirs, ours = _pair(shapes)
    ka, kb = dict(kwargs), dict(kwargs)
    if "attn_mask" in kwargs:
        rng = np.random.default_rng(2)
        mask = rng.standard_normal((3, 5)) if kwargs["attn_mask"] == "float" else rng.random((3, 5)) > 0.3
        if kwargs["attn_mask"] == "bool":
            mask[1] = False
        ka["attn_mask"], kb["attn_mask"] = torch.tensor(mask), tape.tensor(mask)
    torch.manual_seed(0)
    tape.manual_seed(0)
    a = torch.nn.functional.scaled_dot_product_attention(*theirs, **ka)
    b = tape.nn.functional.scaled_dot_product_attention(*ours, **kb)
    assert b.grad_fn.name() == a.grad_fn.name()
    np.testing.assert_allclose(_np(b), _np(a), rtol=1e-12, atol=1e-14)
    w = np.random.default_rng(1).standard_normal(a.shape)
    (a * torch.tensor(w)).sum().backward()
    (b * tape.tensor(w)).sum().backward()
    _close_grads(theirs, ours)


def test_scaled_dot_product_attention_errors():
    F = (torch.nn.functional, tape.nn.functional)
    cases = [lambda M, F: F.scaled_dot_product_attention(M.zeros(2, 3), M.zeros(2, 3).double(), M.zeros(2, 3)),
             lambda M, F: F.scaled_dot_product_attention(M.zeros(3), M.zeros(3), M.zeros(3)),
             lambda M, F: F.scaled_dot_product_attention(M.zeros(2, 3), M.zeros(2, 3), M.zeros(2, 3),
                                                         attn_mask=M.zeros(2, 2, dtype=M.int64)),
             lambda M, F: F.scaled_dot_product_attention(M.zeros(2, 2, 3, 4), M.zeros(2, 3, 5, 4),
                                                         M.zeros(2, 3, 5, 4), enable_gqa=True),
             lambda M, F: F.scaled_dot_product_attention(M.zeros(2, 3), M.zeros(2, 3), M.zeros(2, 3), dropout_p=1.5),
             lambda M, F: F.scaled_dot_product_attention(M.zeros(2, 3), 1, M.zeros(2, 3))]
    for case in cases:
        _errors(lambda: case(torch, F[0]), lambda: case(tape, F[1]))


# --- multi-head attention -----------------------------------------------------------------------
_KPM = np.array([[False, False, False, True], [False] * 4])
_CAUSAL = np.triu(np.ones((3, 4), bool), 1)
MHA_CASES = [(dict(), dict(), {}), (dict(), dict(), dict(same=True)),
             (dict(batch_first=True, bias=False), dict(need_weights=False), {}),
             (dict(add_bias_kv=True, add_zero_attn=True), dict(average_attn_weights=False), {}),
             (dict(kdim=3, vdim=5), dict(key_padding_mask=_KPM), {}),
             (dict(), dict(key_padding_mask=_KPM, need_weights=False), {}),
             (dict(), dict(attn_mask=_CAUSAL), {}),
             (dict(), dict(attn_mask=np.where(_CAUSAL, -np.inf, 0.0), need_weights=False, is_causal=True), {}),
             (dict(dropout=0.3), dict(), {}), (dict(dropout=0.3), dict(need_weights=False), {}),
             (dict(), dict(), dict(unbatched=True)),
             (dict(add_bias_kv=True), dict(key_padding_mask=_KPM, attn_mask=_CAUSAL, need_weights=False), {})]


@pytest.mark.parametrize("kwargs,call,how", MHA_CASES)
def test_multihead_attention(kwargs, call, how):
    torch.manual_seed(0)
    tape.manual_seed(0)
    a = torch.nn.MultiheadAttention(4, 2, **kwargs).double()
    b = tape.nn.MultiheadAttention(4, 2, **kwargs).double()
    assert repr(b) == repr(a)
    assert [n for n, _ in b.named_parameters()] == [n for n, _ in a.named_parameters()]
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(_np(q), _np(p), rtol=1e-6)      # (drawn in float32, then made float64)
    n, bf = 2, kwargs.get("batch_first", False)

    def shape(T, d):
        return (T, d) if how.get("unbatched") else (n, T, d) if bf else (T, n, d)
    theirs, ours = _pair([shape(3, 4), shape(4, kwargs.get("kdim", 4)), shape(4, kwargs.get("vdim", 4))])
    if how.get("same"):
        theirs, ours = [theirs[0]] * 3, [ours[0]] * 3
    ca, cb = dict(call), dict(call)
    for k in ("key_padding_mask", "attn_mask"):
        if k in call:
            ca[k], cb[k] = torch.tensor(call[k]), tape.tensor(call[k])
    torch.manual_seed(1)
    tape.manual_seed(1)
    out_a = [o for o in a(*theirs, **ca) if o is not None]
    out_b = [o for o in b(*ours, **cb) if o is not None]
    assert [o.grad_fn.name() for o in out_b] == [o.grad_fn.name() for o in out_a]
    for p, q in zip(out_a, out_b):
        np.testing.assert_allclose(_np(q), _np(p), rtol=1e-12, atol=1e-14)
    sum((o * o).sum() for o in out_a).backward()
    sum((o * o).sum() for o in out_b).backward()
    _close_grads(list(a.parameters()) + theirs, list(b.parameters()) + ours)


def test_multihead_attention_errors():
    cases = [lambda M: M.nn.MultiheadAttention(4, 0), lambda M: M.nn.MultiheadAttention(5, 2),
             lambda M: M.nn.MultiheadAttention(4, 2)(M.zeros(3, 2, 4), M.zeros(4, 2), M.zeros(4, 2)),
             lambda M: M.nn.MultiheadAttention(4, 2)(M.zeros(3, 2, 5), M.zeros(4, 2, 5), M.zeros(4, 2, 5)),
             lambda M: M.nn.MultiheadAttention(4, 2)(M.zeros(3, 2, 4), M.zeros(4, 2, 4), M.zeros(4, 2, 4),
                                                    attn_mask=M.zeros(3, 3)),
             lambda M: M.nn.MultiheadAttention(4, 2)(M.zeros(3, 2, 4), M.zeros(4, 2, 4), M.zeros(4, 2, 4),
                                                    attn_mask=M.zeros(3, 4, dtype=M.int64)),
             lambda M: M.nn.MultiheadAttention(4, 2)(M.zeros(3, 2, 4), M.zeros(4, 2, 4), M.zeros(4, 2, 4),
                                                    key_padding_mask=M.zeros(2, 3, dtype=M.bool)),
             lambda M: M.nn.MultiheadAttention(4, 2)(M.zeros(3, 2, 4), M.zeros(4, 2, 4), M.zeros(4, 2, 4),
                                                    is_causal=True),
             lambda M: M.nn.MultiheadAttention(4, 2)(M.zeros(2, 3, 2, 4), M.zeros(4, 2, 4), M.zeros(4, 2, 4))]
    for case in cases:
        _errors(lambda: case(torch), lambda: case(tape))
    for M in (torch, tape):
        with pytest.warns(UserWarning, match="Support for mismatched key_padding_mask and attn_mask is deprecated"):
            M.nn.MultiheadAttention(4, 2)(M.zeros(3, 2, 4), M.zeros(4, 2, 4), M.zeros(4, 2, 4),
                                          key_padding_mask=M.zeros(2, 4, dtype=M.bool), attn_mask=M.zeros(3, 4))


# --- packing ------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_first,lengths,enforce_sorted", [(False, [3, 1, 1], True), (True, [1, 3, 2], False)])
def test_pack_and_pad(batch_first, lengths, enforce_sorted):
    U = (torch.nn.utils.rnn, tape.nn.utils.rnn)
    (a,), (b,) = _pair([(3, 3, 2)])
    pa = U[0].pack_padded_sequence(a, lengths, batch_first, enforce_sorted)
    pb = U[1].pack_padded_sequence(b, lengths, batch_first, enforce_sorted)
    assert pb.data.grad_fn.name() == pa.data.grad_fn.name()
    np.testing.assert_array_equal(_np(pb.data), _np(pa.data))
    for name in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        ta, tb = getattr(pa, name), getattr(pb, name)
        assert (tb is None) == (ta is None) and (ta is None or tb.tolist() == ta.tolist())
    oa, la = U[0].pad_packed_sequence(pa, batch_first, -1.0, 4)
    ob, lb = U[1].pad_packed_sequence(pb, batch_first, -1.0, 4)
    assert ob.grad_fn.name() == oa.grad_fn.name() and lb.tolist() == la.tolist()
    np.testing.assert_array_equal(_np(ob), _np(oa))
    w = np.random.default_rng(0).standard_normal(oa.shape)
    (oa * torch.tensor(w)).sum().backward()
    (ob * tape.tensor(w)).sum().backward()
    _close_grads([a], [b])
    # through a module, and back
    torch.manual_seed(0)
    tape.manual_seed(0)
    ma, mb = torch.nn.LSTM(2, 3).double(), tape.nn.LSTM(2, 3).double()
    ya, yb = ma(pa)[0], mb(pb)[0]
    np.testing.assert_allclose(_np(U[1].pad_packed_sequence(yb)[0]), _np(U[0].pad_packed_sequence(ya)[0]),
                               rtol=1e-12, atol=1e-14)


def test_pack_errors():
    U = (torch.nn.utils.rnn, tape.nn.utils.rnn)
    cases = [lambda M, U: U.pack_padded_sequence(M.zeros(3, 2, 1), [1, 3]),
             lambda M, U: U.pack_padded_sequence(M.zeros(3, 2, 1), [3, 0]),
             lambda M, U: U.pack_padded_sequence(M.zeros(3, 2, 1), [3, 1, 1]),
             lambda M, U: U.pack_padded_sequence(M.zeros(0, 2, 1), [3, 1]),
             lambda M, U: M._pack_padded_sequence(M.zeros(3, 2, 1), M.tensor([3.0, 1.0]), False),
             lambda M, U: U.pad_packed_sequence(U.pack_padded_sequence(M.zeros(3, 2, 1), [3, 1]), total_length=2)]
    for case in cases:
        _errors(lambda: case(torch, U[0]), lambda: case(tape, U[1]))


def test_weights_from_torch_state_dict_and_vf():
    torch.manual_seed(0)
    a = torch.nn.LSTM(4, 3, num_layers=2, bidirectional=True)
    b = tape.nn.LSTM(4, 3, num_layers=2, bidirectional=True)
    b.load_state_dict({k: tape.tensor(v.numpy()) for k, v in a.state_dict().items()})
    assert all(w is getattr(b, n) for w, n in zip(b._flat_weights, b._flat_weights_names))
    x = np.random.default_rng(0).standard_normal((5, 2, 4)).astype(np.float32)
    for p, q in zip(_flat(a(torch.tensor(x))), _flat(b(tape.tensor(x)))):
        np.testing.assert_allclose(_np(q), _np(p), rtol=1e-5, atol=1e-6)
    # the modules' calls through _VF, as PyTorch's
    out = tape._VF.lstm(tape.tensor(x), (tape.zeros(4, 2, 3), tape.zeros(4, 2, 3)), b._flat_weights, True, 2, 0.0,
                        False, True, False)
    np.testing.assert_array_equal(_np(out[0]), _np(b(tape.tensor(x))[0]))


def test_flash_node_saved_values():
    nodes = []
    for M in (torch, tape):
        M.manual_seed(0)
        q = M.randn(1, 1, 3, 4, dtype=M.float64, requires_grad=True)
        k = M.randn(1, 1, 3, 4, dtype=M.float64, requires_grad=True)
        mask = M.ones(3, 3, dtype=M.bool)
        mask[1] = False
        out = M.nn.functional.scaled_dot_product_attention(q, k, q * 1, attn_mask=mask, scale=0.5)
        node = out.grad_fn
        assert node._saved_query is q and node._saved_key is k
        nodes.append((node, out))
    (a, out_a), (b, out_b) = nodes
    assert b.name() == a.name() == "ScaledDotProductFlashAttentionForCpuBackward0"
    for name in ("dropout_p", "is_causal", "scale"):
        assert getattr(b, "_saved_" + name) == getattr(a, "_saved_" + name)
    for name in ("logsumexp", "attn_mask", "value", "output"):
        np.testing.assert_allclose(_np(getattr(b, "_saved_" + name)), _np(getattr(a, "_saved_" + name)), rtol=1e-12)
