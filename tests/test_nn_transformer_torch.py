"""The transformer modules against PyTorch's: state dicts transferred by name, outputs and parameter
gradients in training (dropout 0) and evaluation, with masks, ``batch_first`` and ``norm_first`` both ways;
PyTorch's inference fast paths (no gradient, evaluation mode); initial values after ``manual_seed``,
warnings, errors and reprs."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tape

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _transfer(theirs, ours):
    ours.load_state_dict({k: tape.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})


def _pair(array):
    return torch.tensor(array), tape.tensor(array)


def _compare(theirs, ours, run, grads=True, atol=2e-5):
    out_t, out_o = run(torch, theirs), run(tape, ours)
    np.testing.assert_allclose(out_o.detach().numpy(), out_t.detach().numpy(), rtol=1e-4, atol=atol)
    if grads:
        out_t.square().sum().backward()
        out_o.square().sum().backward()
        for (name, p_o), (_, p_t) in zip(ours.named_parameters(), theirs.named_parameters()):
            np.testing.assert_allclose(p_o.grad.numpy(), p_t.grad.numpy(), rtol=1e-3, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("batch_first,norm_first", [(False, False), (True, True)])
def test_transformer_with_masks(batch_first, norm_first):
    kw = dict(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=2, dim_feedforward=12, dropout=0.0,
              batch_first=batch_first, norm_first=norm_first)
    torch.manual_seed(0)
    theirs, ours = _quiet(torch.nn.Transformer, **kw), _quiet(tape.nn.Transformer, **kw)
    assert list(theirs.state_dict()) == list(ours.state_dict())
    _transfer(theirs, ours)
    rng = np.random.default_rng(0)
    s, t, n = 5, 4, 3
    src = rng.standard_normal((n, s, 8) if batch_first else (s, n, 8)).astype(np.float32)
    tgt = rng.standard_normal((n, t, 8) if batch_first else (t, n, 8)).astype(np.float32)
    padding = np.zeros((n, s), bool)
    padding[1, 3:] = True
    tgt_padding = np.zeros((n, t), bool)
    tgt_padding[2, 3] = True
    src_mask = rng.standard_normal((s, s)).astype(np.float32)

    def run(lib, model):
        return model(lib.tensor(src), lib.tensor(tgt), src_mask=lib.tensor(src_mask),
                     tgt_mask=lib.nn.Transformer.generate_square_subsequent_mask(t),
                     src_key_padding_mask=lib.tensor(padding).float().masked_fill(lib.tensor(padding), float("-inf")),
                     tgt_key_padding_mask=lib.tensor(tgt_padding), memory_key_padding_mask=lib.tensor(padding))
    _quiet(_compare, theirs, ours, run)             # (training mode, dropout 0)
    theirs.zero_grad(), ours.zero_grad()
    theirs.eval(), ours.eval()
    _quiet(_compare, theirs, ours, run)


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")
@pytest.mark.parametrize("activation,mask_kind", [("relu", "padding"), ("gelu", "causal"), ("gelu", "both")])
def test_encoder_inference_paths(activation, mask_kind):
    """Evaluation without gradients: PyTorch's fused layer and nested-tensor paths."""
    torch.manual_seed(1)
    kw = dict(d_model=8, nhead=2, dim_feedforward=12, batch_first=True, activation=activation)
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(**kw), 2, torch.nn.LayerNorm(8)).eval()
    ours = tape.nn.TransformerEncoder(tape.nn.TransformerEncoderLayer(**kw), 2, tape.nn.LayerNorm(8)).eval()
    _transfer(theirs, ours)
    src = np.random.default_rng(1).standard_normal((3, 5, 8)).astype(np.float32)
    padding = np.array([[0, 0, 0, 0, 0], [0, 0, 0, 1, 1], [0, 1, 1, 1, 1]], bool)
    causal = np.triu(np.ones((5, 5), bool), 1)
    kwargs = dict(padding=dict(src_key_padding_mask=padding), causal=dict(mask=causal),
                  both=dict(mask=causal, src_key_padding_mask=padding))[mask_kind]
    with torch.no_grad(), tape.no_grad():
        out_t = theirs(torch.tensor(src), **{k: torch.tensor(v) for k, v in kwargs.items()})
        out_o = ours(tape.tensor(src), **{k: tape.tensor(v) for k, v in kwargs.items()})
        np.testing.assert_allclose(out_o.numpy(), out_t.numpy(), rtol=1e-4, atol=2e-5)
        layer_t = theirs.layers[0](torch.tensor(src), src_key_padding_mask=torch.tensor(padding))
        layer_o = ours.layers[0](tape.tensor(src), src_key_padding_mask=tape.tensor(padding))
        np.testing.assert_allclose(layer_o.numpy(), layer_t.numpy(), rtol=1e-4, atol=2e-5)


def test_encoder_nested_path_without_mask_check():
    torch.manual_seed(2)
    kw = dict(d_model=8, nhead=2, dim_feedforward=12, batch_first=True)
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(**kw), 1, mask_check=False).eval()
    ours = tape.nn.TransformerEncoder(tape.nn.TransformerEncoderLayer(**kw), 1, mask_check=False).eval()
    _transfer(theirs, ours)
    src = np.random.default_rng(2).standard_normal((2, 4, 8)).astype(np.float32)
    holes = np.array([[0, 1, 0, 0], [0, 0, 0, 1]], bool)
    with torch.no_grad(), tape.no_grad():
        np.testing.assert_allclose(ours(tape.tensor(src), src_key_padding_mask=tape.tensor(holes)).numpy(),
                                   theirs(torch.tensor(src), src_key_padding_mask=torch.tensor(holes)).numpy(),
                                   rtol=1e-4, atol=2e-5)


def test_decoder_stack_options():
    """A callable activation, another eps, no biases, a memory mask and the causal hint."""
    torch.manual_seed(3)
    kw = dict(d_model=8, nhead=4, dim_feedforward=6, dropout=0.0, activation=torch.nn.functional.gelu,
              layer_norm_eps=1e-3, bias=False)
    theirs = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(**kw), 2)
    kw["activation"] = tape.nn.functional.gelu
    ours = tape.nn.TransformerDecoder(tape.nn.TransformerDecoderLayer(**kw), 2)
    _transfer(theirs, ours)
    rng = np.random.default_rng(3)
    tgt, mem = rng.standard_normal((3, 2, 8)).astype(np.float32), rng.standard_normal((4, 2, 8)).astype(np.float32)
    memory_mask = np.zeros((3, 4), bool)
    memory_mask[0, 1] = True

    def run(lib, model):
        return model(lib.tensor(tgt), lib.tensor(mem), memory_mask=lib.tensor(memory_mask),
                     tgt_mask=lib.nn.Transformer.generate_square_subsequent_mask(3), tgt_is_causal=True)
    _compare(theirs, ours, run)


def test_unbatched_encoder_layer():
    torch.manual_seed(4)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, 12, dropout=0.0)
    ours = tape.nn.TransformerEncoderLayer(8, 2, 12, dropout=0.0)
    _transfer(theirs, ours)
    src = np.random.default_rng(4).standard_normal((5, 8)).astype(np.float32)
    _compare(theirs, ours, lambda lib, m: m(lib.tensor(src), src_key_padding_mask=lib.tensor([False] * 4 + [True])))


def test_initial_values_and_repr():
    results = []
    for lib in (torch, tape):
        lib.manual_seed(5)
        model = _quiet(lib.nn.Transformer, 8, 2, 1, 2, 12, activation="gelu")
        results.append((repr(model), {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}))
    assert results[0][0] == results[1][0]
    for key, value in results[0][1].items():
        np.testing.assert_allclose(results[1][1][key], value, rtol=1e-6, atol=1e-7, err_msg=key)


def test_warnings_and_errors():
    layers = [dict(d_model=8, nhead=2), dict(d_model=8, nhead=2, batch_first=True, norm_first=True),
              dict(d_model=9, nhead=3, batch_first=True), dict(d_model=8, nhead=2, batch_first=True, bias=False),
              dict(d_model=8, nhead=2, batch_first=True, activation="tanh_"),
              dict(d_model=8, nhead=2, batch_first=True)]
    for kw in layers:
        messages = []
        for lib in (torch, tape):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(**kw), 1)
                    messages.append([str(w.message) for w in caught])
                except RuntimeError as e:
                    messages.append(str(e))
        assert messages[0] == messages[1]
    for args in [((3, 2, 8), (3, 1, 8)), ((3, 2, 8), (3, 2, 7))]:
        errors = []
        for lib in (torch, tape):
            model = _quiet(lib.nn.Transformer, 8, 2, 1, 1, 12)
            with pytest.raises(RuntimeError) as info:
                model(lib.zeros(*args[0]), lib.zeros(*args[1]))
            errors.append(str(info.value))
        assert errors[0] == errors[1]


def test_square_subsequent_mask():
    for size, dtype in [(4, None), (1, "float64")]:
        theirs = torch.nn.Transformer.generate_square_subsequent_mask(size, dtype=getattr(torch, dtype or "float32"))
        ours = tape.nn.Transformer.generate_square_subsequent_mask(size, dtype=getattr(tape, dtype or "float32"))
        assert str(ours.dtype) == str(theirs.dtype)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
