"""PyTorch's legacy modules without PyTorch: ``Container`` (deprecated) and ``CrossMapLRN2d`` (Lua Torch's
cross-map normalization: its forward's window and its hand-written backward, pinned in numpy)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tape
from tape import nn

DEPRECATED = r"`nn.Container` is deprecated. All of its functionality is now implemented in `nn.Module`."


def test_container_warns_and_registers():
    with pytest.warns(FutureWarning, match=DEPRECATED):
        c = nn.Container(a=nn.ReLU(), b=nn.Linear(2, 1))
    assert [n for n, _ in c.named_children()] == ["a", "b"] and isinstance(c, nn.Module)
    assert repr(c).startswith("Container(\n  (a): ReLU()\n")
    with pytest.warns(FutureWarning, match=DEPRECATED):
        class Mine(nn.Container):
            pass
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Mine(x=nn.ReLU())        # (a subclass warned once, when it was made)
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        _quiet_container(a=1)


def _quiet_container(**kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nn.Container(**kwargs)


def _reference(x, g, size, alpha, beta, k):
    """PyTorch's legacy loops, transcribed in numpy: the forward's running sums and the backward's
    padded window."""
    n, c = x.shape[:2]
    sq = x * x
    pre_pad = int((size - 1) / 2 + 1)
    scale = np.zeros_like(x)
    scale[:, 0] = sq[:, :min(pre_pad, c)].sum(1)
    for ch in range(1, c):
        scale[:, ch] = scale[:, ch - 1]
        if ch < c - pre_pad + 1:
            scale[:, ch] += sq[:, ch + pre_pad - 1]
        if ch > pre_pad:
            scale[:, ch] -= sq[:, ch - pre_pad]
    scale = scale * alpha / size + k
    out = scale ** -beta * x
    grad = scale ** -beta * g
    inverse_pre_pad = int(size - (size - 1) / 2)
    for b in range(n):
        padded = np.zeros((c + size - 1,) + x.shape[2:])
        padded[inverse_pre_pad:inverse_pre_pad + c] = g[b] * out[b] / scale[b]
        accum = padded[:size - 1].sum(0)
        for ch in range(c):
            accum = accum + padded[ch + size - 1]
            grad[b, ch] -= 2 * alpha * beta / size * x[b, ch] * accum
            accum = accum - padded[ch]
    return out, grad


@pytest.mark.parametrize("size,channels", [(2, 3), (3, 1), (3, 6), (4, 5), (5, 3)])
def test_cross_map_lrn2d_matches_the_legacy_loops(size, channels):
    rng = np.random.default_rng(size * 10 + channels)
    x, g = rng.standard_normal((2, channels, 3, 2)), rng.standard_normal((2, channels, 3, 2))
    m = nn.CrossMapLRN2d(size, alpha=0.5, beta=0.75, k=2.0)
    xt = tape.tensor(x, requires_grad=True)
    out = m(xt)
    assert out.grad_fn.name() == "CrossMapLRN2dBackward"
    out.backward(tape.tensor(g))
    want_out, want_grad = _reference(x, g, size, 0.5, 0.75, 2.0)
    np.testing.assert_allclose(out.detach().numpy(), want_out, rtol=1e-12)
    np.testing.assert_allclose(xt.grad.numpy(), want_grad, rtol=1e-10, atol=1e-12)


def test_cross_map_lrn2d_errors_and_repr():
    assert repr(nn.CrossMapLRN2d(3)) == "CrossMapLRN2d(3, alpha=0.0001, beta=0.75, k=1)"
    with pytest.raises(ValueError, match="CrossMapLRN2d: Expected input to be 4D, got 3D instead."):
        nn.CrossMapLRN2d(3)(tape.ones(2, 3, 4))
    out = nn.CrossMapLRN2d(1)(tape.ones(1, 2, 1, 1, requires_grad=True))
    with pytest.raises(RuntimeError, match=r"start \(1\) \+ length \(2\) exceeds dimension size \(2\)."):
        out.sum().backward()      # (PyTorch's backward fails for size 1 too)
