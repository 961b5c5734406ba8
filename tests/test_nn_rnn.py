"""The recurrent layers without PyTorch: shapes, errors, nodes and gradients (gradcheck and gradgradcheck
on tiny float64 inputs)."""
from __future__ import annotations

import numpy as np
import pytest

import tape
from tape import nn
from tape.autograd import gradcheck, gradgradcheck


def _randn(*shape, rg=True):
    return tape.randn(*shape, dtype=tape.float64, requires_grad=rg)


# --- cells --------------------------------------------------------------------------------------
CELLS = [("rnn_tanh_cell", 1, "TanhBackward0"), ("rnn_relu_cell", 1, "ReluBackward0"),
         ("gru_cell", 3, "AddBackward0"), ("lstm_cell", 4, None)]


@pytest.mark.parametrize("name,gates,node", CELLS)
def test_cell_functions_gradcheck(name, gates, node):
    tape.manual_seed(0)
    x, h, c = _randn(2, 3), _randn(2, 2), _randn(2, 2)
    w = [_randn(gates * 2, 3), _randn(gates * 2, 2), _randn(gates * 2), _randn(gates * 2)]
    fn = getattr(tape, name)

    def f(x, h, c, *w):
        out = fn(x, (h, c) if name == "lstm_cell" else h, *w)
        return out if isinstance(out, tuple) else (out,)

    out = f(x, h, c, *w)
    assert [o.grad_fn.name() for o in out] == (["MulBackward0", "AddBackward0"] if node is None else [node])
    assert gradcheck(f, (x, h, c, *w))
    assert gradgradcheck(f, (x, h, c, *w))
    # without biases
    assert gradcheck(lambda x, h, c, a, b: f(x, h, c, a, b), (x, h, c, *w[:2]))


def test_cell_function_values():
    tape.manual_seed(1)
    x, h, c = _randn(2, 3, rg=False), _randn(2, 2, rg=False), _randn(2, 2, rg=False)
    wi, wh, bi, bh = _randn(8, 3, rg=False), _randn(8, 2, rg=False), _randn(8, rg=False), _randn(8, rg=False)
    gates = (x.numpy() @ wi.numpy().T + bi.numpy() + h.numpy() @ wh.numpy().T + bh.numpy())
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    i, f, g, o = sig(gates[:, :2]), sig(gates[:, 2:4]), np.tanh(gates[:, 4:6]), sig(gates[:, 6:])
    cy = f * c.numpy() + i * g
    hy, cy2 = tape.lstm_cell(x, (h, c), wi, wh, bi, bh)
    np.testing.assert_allclose(cy2.numpy(), cy, rtol=1e-12)
    np.testing.assert_allclose(hy.numpy(), o * np.tanh(cy), rtol=1e-12)
    gi, gh = x.numpy() @ wi[:6].numpy().T + bi[:6].numpy(), h.numpy() @ wh[:6].numpy().T + bh[:6].numpy()
    r, z = sig(gi[:, :2] + gh[:, :2]), sig(gi[:, 2:4] + gh[:, 2:4])
    n = np.tanh(gi[:, 4:] + r * gh[:, 4:])
    out = tape.gru_cell(x, h, wi[:6], wh[:6], bi[:6], bh[:6])
    np.testing.assert_allclose(out.numpy(), (1 - z) * n + z * h.numpy(), rtol=1e-12)


def test_cell_function_errors():
    x, h = _randn(2, 3), _randn(2, 2)
    w_ih, w_hh = _randn(2, 3), _randn(2, 2)
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 4 expected 3"):
        tape.rnn_tanh_cell(_randn(2, 4), h, w_ih, w_hh)
    with pytest.raises(RuntimeError, match="Input batch size 2 doesn't match hidden0 batch size 3"):
        tape.rnn_tanh_cell(x, _randn(3, 2), w_ih, w_hh)
    with pytest.raises(RuntimeError, match="hidden0 has inconsistent hidden_size: got 3, expected 2"):
        tape.rnn_tanh_cell(x, _randn(2, 3), w_ih, w_hh)
    with pytest.raises(RuntimeError, match=r"weight_hh first dim must be 3 \* hidden_size = 6, but got 5"):
        tape.gru_cell(x, h, _randn(6, 3), _randn(5, 2))
    with pytest.raises(RuntimeError, match="lstm_cell expects two hidden states"):
        tape.lstm_cell(x, (h,), _randn(8, 3), _randn(8, 2))
    with pytest.raises(TypeError, match=r"rnn_tanh_cell\(\): argument 'input' \(position 1\) must be Tensor, not int"):
        tape.rnn_tanh_cell(1, h, w_ih, w_hh)
    with pytest.raises(TypeError, match=r"lstm_cell\(\): argument 'hx' \(position 2\) must be tuple of Tensors"):
        tape.lstm_cell(x, h, _randn(8, 3), _randn(8, 2))


@pytest.mark.parametrize("cls,chunks", [(nn.RNNCell, 1), (nn.LSTMCell, 4), (nn.GRUCell, 3)])
def test_cell_modules(cls, chunks):
    tape.manual_seed(0)
    cell = cls(3, 2).double()
    assert [(n, tuple(p.shape)) for n, p in cell.named_parameters()] == [
        ("weight_ih", (chunks * 2, 3)), ("weight_hh", (chunks * 2, 2)), ("bias_ih", (chunks * 2,)),
        ("bias_hh", (chunks * 2,))]
    assert all(float(p.detach().abs().max()) <= 2 ** -0.5 for p in cell.parameters())
    x = _randn(4, 3)
    batched = cell(x)
    one = cell(x[1])
    first = batched[0] if isinstance(batched, tuple) else batched
    single = one[0] if isinstance(one, tuple) else one
    assert tuple(first.shape) == (4, 2) and tuple(single.shape) == (2,)
    np.testing.assert_allclose(single.detach().numpy(), first[1].detach().numpy(), rtol=1e-12)
    assert [n for n, _ in cls(3, 2, bias=False).named_parameters()] == ["weight_ih", "weight_hh"]
    name = cls.__name__
    with pytest.raises(ValueError, match=f"{name}: Expected input to be 1D or 2D, got 3D instead"):
        cell(_randn(1, 4, 3))
    hidden = "hx\\[0\\]" if cls is nn.LSTMCell else "hidden"
    bad = (_randn(1, 4, 2), _randn(4, 2)) if cls is nn.LSTMCell else _randn(1, 4, 2)
    with pytest.raises(ValueError, match=f"{name}: Expected {hidden} to be 1D or 2D, got 3D instead"):
        cell(x, bad)


def test_rnn_cell_nonlinearity_and_repr():
    cell = nn.RNNCell(3, 2, bias=False, nonlinearity="relu")
    assert repr(cell) == "RNNCell(3, 2, bias=False, nonlinearity=relu)"
    assert cell(tape.randn(2, 3)).grad_fn.name() == "ReluBackward0"
    assert repr(nn.GRUCell(3, 2)) == "GRUCell(3, 2)"
    with pytest.raises(RuntimeError, match="Unknown nonlinearity: foo"):
        nn.RNNCell(3, 2, nonlinearity="foo")(tape.randn(2, 3))


# --- multi-layer functions and modules -----------------------------------------------------------
def _weights(gates, input_size, hidden, layers, directions, bias=True, proj=0):
    out = []
    real = proj or hidden
    for layer in range(layers):
        for _ in range(directions):
            inp = input_size if layer == 0 else real * directions
            out += [_randn(gates * hidden, inp), _randn(gates * hidden, real)]
            out += [_randn(gates * hidden), _randn(gates * hidden)] if bias else []
            out += [_randn(proj, hidden)] if proj else []
    return out


@pytest.mark.parametrize("name,gates", [("rnn_tanh", 1), ("gru", 3), ("lstm", 4)])
def test_stacked_functions_gradcheck(name, gates):
    tape.manual_seed(0)
    x = _randn(1, 2, 2)
    bidirectional = name == "rnn_tanh"
    directions = 2 if bidirectional else 1
    w = _weights(gates, 2, 2, 2, directions)
    h = [_randn(2 * directions, 1, 2)] + ([_randn(2, 1, 2)] if name == "lstm" else [])
    fn = getattr(tape, name)

    def f(x, *args):
        hx, params = (tuple(args[:2]), args[2:]) if name == "lstm" else (args[0], args[1:])
        return fn(x, hx, params, True, 2, 0.0, True, bidirectional, True)

    out = f(x, *h, *w)
    assert tuple(out[0].shape) == (1, 2, 2 * directions) and tuple(out[1].shape) == (2 * directions, 1, 2)
    assert [o.grad_fn.name() for o in out] == ["TransposeBackward0" if name == "lstm" else "TransposeBackward1"] + [
        "StackBackward0"] * (len(out) - 1)
    assert gradcheck(f, (x, *h, *w))


def test_lstm_projections_and_packed_gradcheck():
    tape.manual_seed(1)
    data = _randn(4, 2)                   # sequences of lengths 2, 1, 1 packed: batch sizes 3, 1
    sizes = tape.tensor([3, 1])
    w = _weights(4, 2, 2, 1, 2, bias=False, proj=1)
    h0, c0 = _randn(2, 3, 1), _randn(2, 3, 2)

    def f(data, h0, c0, *w):
        return tape.lstm(data, sizes, (h0, c0), w, False, 1, 0.0, True, True)

    out = f(data, h0, c0, *w)
    assert [tuple(o.shape) for o in out] == [(4, 2), (2, 3, 1), (2, 3, 2)]
    assert gradcheck(f, (data, h0, c0, *w))


def test_gru_gradgradcheck():
    tape.manual_seed(2)
    x, h = _randn(2, 1, 2), _randn(1, 1, 2)
    w = _weights(3, 2, 2, 1, 1)
    assert gradgradcheck(lambda x, h, *w: tape.gru(x, h, w, True, 1, 0.0, True, False, False), (x, h, *w))


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_module_shapes_and_names(cls):
    m = cls(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    names = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert m._flat_weights_names[:8] == names + [n + "_reverse" for n in names]
    assert len(m.all_weights) == 4 and m.all_weights[1][0] is m.weight_ih_l0_reverse
    out, hidden = m(tape.randn(5, 6, 3))
    assert tuple(out.shape) == (5, 6, 8)
    for h in hidden if cls is nn.LSTM else (hidden,):
        assert tuple(h.shape) == (4, 5, 4)
    out, hidden = m(tape.randn(6, 3))               # unbatched
    assert tuple(out.shape) == (6, 8)
    assert repr(m) == f"{cls.__name__}(3, 4, num_layers=2, batch_first=True, bidirectional=True)"
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size. Expected 3, got 2"):
        m(tape.randn(5, 6, 2))


def test_pad_sequence_values():
    a, b = tape.ones(2, 3), tape.full((1, 3), 2.0)
    out = nn.utils.rnn.pad_sequence([a, b], batch_first=True, padding_value=-1.0)
    np.testing.assert_array_equal(out.numpy(), [[[1] * 3] * 2, [[2] * 3, [-1] * 3]])
    left = nn.utils.rnn.pad_sequence([a, b], padding_side="left")
    np.testing.assert_array_equal(left[:, 1].numpy(), [[0] * 3, [2] * 3])
    back = nn.utils.rnn.unpad_sequence(left.clone(), tape.tensor([2, 1]))
    np.testing.assert_array_equal(back[0].numpy(), [[1] * 3] * 2)
    np.testing.assert_array_equal(back[1].numpy(), [[0] * 3])     # (it cuts as if padded on the right)


# --- bilinear -----------------------------------------------------------------------------------
def test_bilinear_gradcheck_and_module():
    tape.manual_seed(0)
    x1, x2, w, b = _randn(2, 3), _randn(2, 2), _randn(2, 3, 2), _randn(2)
    assert gradcheck(tape.bilinear, (x1, x2, w, b))
    assert gradgradcheck(tape.bilinear, (x1, x2, w, b))
    assert nn.functional.bilinear(x1, x2, w).grad_fn.name() == "ViewBackward0"
    assert tuple(tape.bilinear(x1[0], x2[0], w, b).shape) == (2,)
    m = nn.Bilinear(3, 2, 4)
    assert [(n, tuple(p.shape)) for n, p in m.named_parameters()] == [("weight", (4, 3, 2)), ("bias", (4,))]
    assert repr(m) == "Bilinear(in1_features=3, in2_features=2, out_features=4, bias=True)"
    assert tuple(m(tape.randn(5, 3), tape.randn(5, 2)).shape) == (5, 4)
    with pytest.raises(RuntimeError, match="bilinear\\(\\): input1 size does not match weight size: got 2 but "
                                           "expected 3"):
        m(tape.randn(5, 2), tape.randn(5, 2))


# --- scaled_dot_product_attention ----------------------------------------------------------------
def test_sdpa_gradcheck_and_masks():
    F = nn.functional
    tape.manual_seed(0)
    q, k, v = _randn(1, 3, 2), _randn(1, 4, 2), _randn(1, 4, 2)
    mask = tape.tensor([[True, False, True, True], [False] * 4, [True] * 4])
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert out.grad_fn.name() == "UnsafeViewBackward0"
    np.testing.assert_array_equal(out[:, 1].detach().numpy(), 0.0)        # a row masked everywhere: zeros
    for kwargs in (dict(attn_mask=mask), dict(is_causal=True, scale=-0.5), dict(attn_mask=_randn(3, 4, rg=False))):
        assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kwargs), (q, k, v))
    assert gradgradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), (q, k, v))
    # grouped query heads: key and value heads repeated
    q4, k4 = _randn(1, 4, 2, 2, rg=False), _randn(1, 2, 3, 2, rg=False)
    grouped = F.scaled_dot_product_attention(q4, k4, k4, enable_gqa=True)
    plain = F.scaled_dot_product_attention(q4, k4.repeat_interleave(2, 1), k4.repeat_interleave(2, 1))
    np.testing.assert_allclose(grouped.numpy(), plain.numpy(), rtol=1e-14)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=True)
    with pytest.raises(RuntimeError, match="Expected attn_mask dtype to be bool or float or to match query dtype"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=tape.zeros(3, 4, dtype=tape.int64))


# --- multi-head attention -----------------------------------------------------------------------
def test_multihead_attention_gradcheck_and_shapes():
    tape.manual_seed(0)
    m = nn.MultiheadAttention(4, 2, add_bias_kv=True, kdim=3, vdim=2).double()
    q, k, v = _randn(2, 1, 4), _randn(3, 1, 3), _randn(3, 1, 2)
    out, weights = m(q, k, v)
    assert tuple(out.shape) == (2, 1, 4) and tuple(weights.shape) == (1, 2, 4)
    np.testing.assert_allclose(weights.detach().sum(-1).numpy(), 1.0, rtol=1e-12)
    assert gradcheck(lambda q, k, v: m(q, k, v, need_weights=False)[0], (q, k, v))
    assert [n for n, _ in m.named_parameters()] == ["q_proj_weight", "k_proj_weight", "v_proj_weight",
                                                     "in_proj_bias", "bias_k", "bias_v", "out_proj.weight",
                                                     "out_proj.bias"]
    x = tape.randn(2, 5, 4)
    out, weights = nn.MultiheadAttention(4, 2, batch_first=True)(x, x, x, average_attn_weights=False)
    assert tuple(out.shape) == (2, 5, 4) and tuple(weights.shape) == (2, 2, 5, 5)
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(5, 2)


# --- packing ------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_padded_sequence_gradients(batch_first):
    U = nn.utils.rnn
    x = _randn(3, 3, 2)
    lengths = [3, 2, 1] if batch_first else [3, 1, 1]
    packed = U.pack_padded_sequence(x, lengths, batch_first=batch_first)
    node = packed.data.grad_fn
    assert node.name() == "PackPaddedSequenceBackward0"
    assert node._saved_batch_first is batch_first and node._saved_input_sym_sizes == (3, 3, 2)
    assert gradcheck(lambda x: U.pack_padded_sequence(x, lengths, batch_first=batch_first).data, (x,),
                     check_forward_ad=True)
    assert gradgradcheck(lambda x: U.pack_padded_sequence(x, lengths, batch_first=batch_first).data, (x,))
    padded, back = U.pad_packed_sequence(packed, batch_first=batch_first)
    assert back.tolist() == lengths
    keep = np.arange(3)[:, None] < np.asarray(lengths)[None, :]       # (T, B): the steps each sequence has
    keep = keep.T if batch_first else keep
    np.testing.assert_array_equal(padded.detach().numpy()[keep], x.detach().numpy()[keep])
    np.testing.assert_array_equal(padded.detach().numpy()[~keep], 0.0)


def test_pack_sequence_round_trip_and_errors():
    U = nn.utils.rnn
    seqs = [tape.randn(2, 1), tape.randn(3, 1), tape.randn(1, 1)]
    packed = U.pack_sequence(seqs, enforce_sorted=False)
    assert packed.batch_sizes.tolist() == [3, 2, 1] and packed.sorted_indices.tolist() == [1, 0, 2]
    for a, b in zip(U.unpack_sequence(packed), seqs):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    out, h = nn.GRU(1, 2)(packed)
    assert tuple(out.data.shape) == (6, 2) and tuple(h.shape) == (1, 3, 2)
    with pytest.raises(RuntimeError, match="`lengths` array must be sorted in decreasing order"):
        U.pack_sequence(seqs)
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        U.pack_padded_sequence(tape.zeros(3, 2, 1), [3, 0])
    with pytest.raises(ValueError, match="Expected total_length to be at least the length of the longest"):
        U.pad_packed_sequence(packed, total_length=2)


def test_packed_sequence_conversions():
    packed = nn.utils.rnn.pack_sequence([tape.ones(2, 1), tape.ones(1, 1)])
    for name, dtype in (("double", tape.float64), ("half", tape.float16), ("long", tape.int64), ("int", tape.int32),
                        ("short", tape.int16), ("char", tape.int8), ("byte", tape.uint8)):
        converted = getattr(packed, name)()
        assert converted.data.dtype == dtype and converted.batch_sizes is packed.batch_sizes
    assert packed.float() is packed and not packed.is_cuda and not packed.is_pinned()


def test_sdpa_flash_row():
    """Where PyTorch takes its fused CPU kernel: one row with its node, derivatives to the second order."""
    F = nn.functional
    tape.manual_seed(3)
    q, k, v = _randn(1, 2, 2, 2), _randn(1, 1, 3, 2), _randn(1, 1, 3, 2)
    mask = tape.tensor([[True, False, True], [False, False, False]])
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    assert out.grad_fn.name() == "ScaledDotProductFlashAttentionForCpuBackward0"
    np.testing.assert_array_equal(out[:, :, 1].detach().numpy(), 0.0)
    plain = F.scaled_dot_product_attention(q[:, :1], k, v, attn_mask=mask.float().log())
    np.testing.assert_allclose(out[:, :1].detach().numpy(), plain.detach().numpy(), rtol=1e-14)
    for kwargs in (dict(attn_mask=mask, enable_gqa=True), dict(is_causal=True, scale=-0.7, enable_gqa=True)):
        assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kwargs), (q, k, v),
                         check_forward_ad=True)
    assert gradgradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                                                        enable_gqa=True), (q, k, v))
