"""The transformer modules without PyTorch: parameter names, values against a numpy reference, masks and
causality, batch_first/unbatched inputs, the encoder's inference path (zeros at padded positions),
warnings, errors and gradients (gradcheck on a tiny float64 layer)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tape
from tape import nn
from tape.autograd import gradcheck

LAYER_NAMES = ["self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
               "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
               "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"]


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _randomize(module, seed=0):
    """Every parameter drawn anew (LayerNorm's ones/zeros would hide a swapped weight and bias)."""
    rng = np.random.default_rng(seed)
    with tape.no_grad():
        for p in module.parameters():
            p.copy_(tape.tensor(rng.standard_normal(tuple(p.shape)) * 0.5, dtype=p.dtype))


def _layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _attention(q_in, kv_in, p, prefix, nhead, mask):
    """numpy multi-head attention over (L, E) and (S, E) with an additive (L, S) mask."""
    e = q_in.shape[-1]
    w, b = p[prefix + "in_proj_weight"], p[prefix + "in_proj_bias"]
    q, k, v = q_in @ w[:e].T + b[:e], kv_in @ w[e:2 * e].T + b[e:2 * e], kv_in @ w[2 * e:].T + b[2 * e:]
    d = e // nhead
    heads = []
    for h in range(nhead):
        s = q[:, h * d:(h + 1) * d] @ k[:, h * d:(h + 1) * d].T / np.sqrt(d) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        heads.append(s / s.sum(-1, keepdims=True) @ v[:, h * d:(h + 1) * d])
    return np.concatenate(heads, -1) @ p[prefix + "out_proj.weight"].T + p[prefix + "out_proj.bias"]


def _encoder_layer_ref(x, p, nhead, mask, norm_first):
    """One sequence (S, E) through a relu encoder layer in numpy."""
    def ff(y):
        return np.maximum(y @ p["linear1.weight"].T + p["linear1.bias"], 0) @ p["linear2.weight"].T + p["linear2.bias"]

    def n(i, y):
        return _layer_norm(y, p[f"norm{i}.weight"], p[f"norm{i}.bias"])
    if norm_first:
        x = x + _attention(n(1, x), n(1, x), p, "self_attn.", nhead, mask)
        return x + ff(n(2, x))
    x = n(1, x + _attention(x, x, p, "self_attn.", nhead, mask))
    return n(2, x + ff(x))


def test_parameter_names_and_order():
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6)
    assert [n for n, _ in layer.named_parameters()] == LAYER_NAMES
    dec = nn.TransformerDecoderLayer(4, 2, dim_feedforward=6)
    names = [n for n, _ in dec.named_parameters()]
    assert names[:4] == LAYER_NAMES[:4] and names[4:8] == [n.replace("self_attn", "multihead_attn")
                                                           for n in LAYER_NAMES[:4]]
    assert names[8:] == LAYER_NAMES[4:] + ["norm3.weight", "norm3.bias"]
    model = _quiet(nn.Transformer, 4, 2, 2, 1, 6)
    keys = list(model.state_dict())
    assert keys[0] == "encoder.layers.0.self_attn.in_proj_weight"
    assert "encoder.layers.1.norm2.bias" in keys and "encoder.norm.weight" in keys
    assert keys[-1] == "decoder.norm.bias" and not any(k.startswith("decoder.layers.1") for k in keys)
    no_bias = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, bias=False)
    assert [n for n, _ in no_bias.named_parameters()] == [n for n in LAYER_NAMES if not n.endswith("bias")]


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_matches_numpy(norm_first):
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, norm_first=norm_first,
                                       dtype=tape.float64)
    _randomize(layer)
    p = {k: v.detach().numpy() for k, v in layer.state_dict().items()}
    x = np.random.default_rng(1).standard_normal((3, 2, 4))       # (S, N, E)
    padding = np.array([[False, False, True], [False, False, False]])
    causal = np.triu(np.ones((3, 3), bool), 1)
    out = layer(tape.tensor(x), src_mask=tape.tensor(causal), src_key_padding_mask=tape.tensor(padding))
    out = out.detach().numpy()
    for b in range(2):
        mask = np.where(causal | padding[b], -np.inf, 0.0)
        np.testing.assert_allclose(out[:, b], _encoder_layer_ref(x[:, b], p, 2, mask, norm_first), rtol=1e-10,
                                   atol=1e-12)


def test_batch_first_and_unbatched_agree():
    tape.manual_seed(0)
    kw = dict(d_model=4, nhead=2, num_encoder_layers=1, num_decoder_layers=2, dim_feedforward=6, dropout=0.0)
    seq_first = _quiet(nn.Transformer, **kw)
    batch_first = _quiet(nn.Transformer, batch_first=True, **kw)
    batch_first.load_state_dict(seq_first.state_dict())
    src, tgt = tape.randn(5, 2, 4), tape.randn(3, 2, 4)
    out = seq_first(src, tgt)
    assert out.shape == (3, 2, 4)
    np.testing.assert_allclose(batch_first(src.transpose(0, 1), tgt.transpose(0, 1)).transpose(0, 1).detach().numpy(),
                               out.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(seq_first(src[:, 1], tgt[:, 1]).detach().numpy(), out[:, 1].detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_decoder_causal_mask_hides_the_future():
    tape.manual_seed(1)
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(4, 2, dim_feedforward=6, dropout=0.0), 2)
    mem = tape.randn(3, 1, 4)
    tgt = tape.randn(4, 1, 4)
    changed = tgt.clone()
    changed[3] = changed[3] + 5.0
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    a, b = dec(tgt, mem, tgt_mask=mask).detach().numpy(), dec(changed, mem, tgt_mask=mask).detach().numpy()
    np.testing.assert_allclose(a[:3], b[:3], rtol=1e-5, atol=1e-6)
    assert np.abs(a[3] - b[3]).max() > 1e-3
    # the hint alone (tgt_is_causal) is not a mask: PyTorch uses the mask it is given
    np.testing.assert_allclose(dec(tgt, mem, tgt_mask=mask, tgt_is_causal=True).detach().numpy(), a, rtol=1e-6)


def test_generate_square_subsequent_mask():
    m = nn.Transformer.generate_square_subsequent_mask(3)
    assert m.dtype == tape.float32
    np.testing.assert_array_equal(m.detach().numpy(), [[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]])
    assert nn.Transformer.generate_square_subsequent_mask(2, dtype=tape.float64).dtype == tape.float64


def test_causal_mask_detection():
    from tape.nn.modules.transformer import _detect_is_causal_mask
    causal = nn.Transformer.generate_square_subsequent_mask(3)
    assert _detect_is_causal_mask(causal) is True
    assert _detect_is_causal_mask(causal.bool()) is True
    assert _detect_is_causal_mask(causal, size=4) is False
    assert _detect_is_causal_mask(tape.zeros(3, 3)) is False
    assert _detect_is_causal_mask(tape.zeros(3, 3), is_causal=True) is True
    assert _detect_is_causal_mask(None) is False


def test_encoder_inference_path_zeros_padded_positions():
    tape.manual_seed(2)
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, batch_first=True)
    enc = nn.TransformerEncoder(layer, 2).eval()
    src = tape.randn(2, 4, 4)
    padding = tape.tensor([[False, False, True, True], [False, False, False, False]])
    with tape.no_grad():
        fast = enc(src, src_key_padding_mask=padding)
    slow = enc(src, src_key_padding_mask=padding)       # (parameters require grad: the general path)
    np.testing.assert_array_equal(fast[0, 2:].detach().numpy(), np.zeros((2, 4)))
    assert np.abs(slow[0, 2:].detach().numpy()).max() > 0
    np.testing.assert_allclose(fast[0, :2].detach().numpy(), slow[0, :2].detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fast[1].detach().numpy(), slow[1].detach().numpy(), rtol=1e-5, atol=1e-6)
    tape.backends.mha.set_fastpath_enabled(False)
    try:
        with tape.no_grad():
            np.testing.assert_allclose(enc(src, src_key_padding_mask=padding).detach().numpy(), slow.detach().numpy(),
                                       rtol=1e-5, atol=1e-6)
    finally:
        tape.backends.mha.set_fastpath_enabled(True)
    with tape.no_grad():       # not left-aligned: the mask check sends it down the general path
        holes = tape.tensor([[False, True, False, False], [False, False, False, False]])
        assert np.abs(enc(src, src_key_padding_mask=holes)[0, 1].detach().numpy()).max() > 0


def test_nested_tensor_warning():
    with pytest.warns(UserWarning, match=r"enable_nested_tensor is True, but self.use_nested_tensor is False "
                                         r"because encoder_layer.norm_first was True"):
        enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, batch_first=True, norm_first=True), 1)
    assert enc.enable_nested_tensor and not enc.use_nested_tensor
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, batch_first=True), 1)
        nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2), 1, enable_nested_tensor=False)
    assert enc.use_nested_tensor


def test_errors():
    model = _quiet(nn.Transformer, 4, 2, 1, 1, 6)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(tape.zeros(3, 2, 4), tape.zeros(3, 1, 4))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        model(tape.zeros(3, 2, 4), tape.zeros(3, 2, 5))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerDecoderLayer(4, 2, activation="tanh")
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.TransformerEncoderLayer(4, 3)


def test_activation_and_custom_parts():
    assert nn.TransformerEncoderLayer(4, 2).activation_relu_or_gelu == 1
    assert nn.TransformerEncoderLayer(4, 2, activation="gelu").activation_relu_or_gelu == 2
    assert nn.TransformerEncoderLayer(4, 2, activation=nn.GELU()).activation_relu_or_gelu == 2
    layer = nn.TransformerEncoderLayer(4, 2, activation=tape.tanh)
    assert layer.activation_relu_or_gelu == 0 and layer.activation is tape.tanh
    enc = nn.Identity()
    model = _quiet(nn.Transformer, 4, 2, custom_encoder=enc, num_decoder_layers=1, dim_feedforward=6)
    assert model.encoder is enc and isinstance(model.decoder, nn.TransformerDecoder)
    assert [n for n, _ in model.named_children()] == ["encoder", "decoder"]


def test_initial_weights_are_xavier_uniform():
    tape.manual_seed(0)
    model = _quiet(nn.Transformer, 8, 2, 1, 1, 16)
    w = model.encoder.layers[0].linear1.weight.detach().numpy()
    bound = np.sqrt(6.0 / (8 + 16))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.all(model.encoder.norm.weight.detach().numpy() == 1)
    # the clones start equal, as separate parameters
    layers = _quiet(nn.TransformerEncoder, nn.TransformerEncoderLayer(4, 2), 2).layers
    np.testing.assert_array_equal(layers[0].linear1.weight.detach().numpy(), layers[1].linear1.weight.detach().numpy())
    assert layers[0].linear1.weight is not layers[1].linear1.weight


def test_decoder_layer_gradcheck():
    tape.manual_seed(3)
    layer = nn.TransformerDecoderLayer(4, 2, dim_feedforward=3, dropout=0.0, activation="gelu", norm_first=True,
                                       dtype=tape.float64)
    tgt = tape.randn(2, 1, 4, dtype=tape.float64, requires_grad=True)
    mem = tape.randn(3, 1, 4, dtype=tape.float64, requires_grad=True)
    mask = nn.Transformer.generate_square_subsequent_mask(2, dtype=tape.float64)
    padding = tape.tensor([[False, False, True]])
    assert gradcheck(lambda t, m: layer(t, m, tgt_mask=mask, memory_key_padding_mask=padding), (tgt, mem))


def test_dropout_in_training_only():
    tape.manual_seed(4)
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.5)
    x = tape.randn(3, 2, 4)
    assert not np.allclose(layer(x).detach().numpy(), layer(x).detach().numpy())
    layer.eval()
    np.testing.assert_array_equal(layer(x).detach().numpy(), layer(x).detach().numpy())
