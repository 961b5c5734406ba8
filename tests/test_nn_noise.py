"""The layers of tape.nn.functional that draw from the default generator (ops/noise.py): rrelu, the dropout
variants, gumbel_softmax, and their modules: values, nodes, errors, warnings, gradients."""
import warnings

import numpy as np
import pytest

import tape
import tape.nn as nn
import tape.nn.functional as F

X = np.linspace(-2.0, 2.0, 24).reshape(2, 3, 4)


def _x(dtype=tape.float64):
    return tape.tensor(X, dtype=dtype, requires_grad=True)


def test_rrelu_eval_is_the_mean_slope():
    x = _x()
    y = F.rrelu(x, 0.1, 0.3)
    assert np.allclose(y.detach().numpy(), np.where(X > 0, X, 0.2 * X))
    g = y.grad_fn
    assert g.name() == "RreluWithNoiseBackward0" and g._saved_self is x and g._saved_training is False
    assert (g._saved_lower, g._saved_upper) == (0.1, 0.3)
    assert tape.autograd.gradcheck(lambda x: F.rrelu(x, 0.1, 0.3), (x,))
    assert tape.autograd.gradgradcheck(lambda x: F.rrelu(x, 0.1, 0.3), (x,))


def test_rrelu_training_draws_a_slope_per_non_positive_element():
    x = _x()
    tape.manual_seed(0)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    after = tape.rand(1).item()
    noise = y.grad_fn._saved_noise.numpy()
    assert np.all(noise[X > 0] == 1) and np.all((noise[X <= 0] >= 0.1) & (noise[X <= 0] < 0.3))
    assert np.allclose(y.detach().numpy(), X * noise)
    # (one double, two 32-bit draws, per non-positive element, as PyTorch's kernel)
    tape.manual_seed(0)
    tape.empty(int((X <= 0).sum()), dtype=tape.float64).uniform_()
    assert tape.rand(1).item() == after
    g, = tape.autograd.grad(y.sum(), x, create_graph=True)
    assert np.array_equal(g.detach().numpy(), noise)

    def seeded(x):
        tape.manual_seed(0)
        return F.rrelu(x, 0.1, 0.3, training=True)
    assert tape.autograd.gradcheck(seeded, (x,))
    assert tape.autograd.gradgradcheck(seeded, (x,))


def test_rrelu_in_place_and_errors():
    x = _x().clone()
    y = F.rrelu_(x, training=True)
    assert y is x and y.grad_fn.name() == "RreluWithNoiseBackward1"
    assert tape.autograd.gradcheck(lambda x: F.rrelu(x * 1.0, 0.1, 0.3, inplace=True), (_x(),))
    assert tape.autograd.gradgradcheck(lambda x: F.rrelu(x * 1.0, 0.1, 0.3, inplace=True), (_x(),))
    with pytest.raises(RuntimeError, match="Lower bound should be less than or equal to the upper bound"):
        F.rrelu(_x(), 0.5, 0.1)
    # (in evaluation PyTorch runs leaky_relu's kernel, with the mean slope)
    with pytest.raises(NotImplementedError, match="\"leaky_relu_cpu\" not implemented for 'Long'"):
        F.rrelu(tape.ones(3, dtype=tape.int64))
    with pytest.raises(NotImplementedError, match="\"rrelu_with_noise_out_cpu\" not implemented for 'Long'"):
        F.rrelu(tape.ones(3, dtype=tape.int64), training=True)
    m = nn.RReLU(0.1, 0.3, inplace=True)
    assert repr(m) == "RReLU(lower=0.1, upper=0.3, inplace=True)" and repr(nn.RReLU()).startswith("RReLU(lower=0.125")


def test_feature_dropout_zeroes_whole_channels():
    x = _x()
    for f, inp in ((F.dropout1d, x), (F.dropout1d, x[0]), (F.dropout3d, x[None, None]), (F.dropout3d, x[None]),
                   (F.dropout2d, x[None])):
        y = f(inp, 0.5, True).detach().numpy()
        batched = inp.dim() in (3, 5) or f is F.dropout2d
        per_channel = (y.reshape(y.shape[0], y.shape[1], -1) if batched else y.reshape(1, y.shape[0], -1)) != 0
        assert np.all(per_channel.all(-1) | ~per_channel.any(-1))      # (a channel is kept or dropped whole)
        assert np.allclose(y[y != 0], 2 * inp.detach().numpy()[y != 0])
    assert F.dropout2d(x[None], 0.5, False) is not x and F.dropout1d(x, 0.5, False) is x
    assert F.dropout1d(x[0], 1.0, True).grad_fn.name() == "SqueezeBackward1"
    y = F.dropout1d(x[0].clone(), 0.5, True, inplace=True)
    assert y.grad_fn.name() == "SqueezeBackward4" and y.shape == (3, 4)


def test_dropout_dims_errors_and_warnings():
    x = _x()
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input, but received a 4D input"):
        F.dropout1d(x[None])
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout2d(x, 1.5)
    with pytest.warns(UserWarning, match="dropout2d: Received a 3D input to dropout2d and assuming"):
        F.dropout2d(x)
    with pytest.warns(UserWarning, match="dropout3d: Received a 3-D input to dropout3d, which is deprecated"):
        F.dropout3d(x)
    with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions in the input"):
        F.feature_alpha_dropout(x[0, 0], 0.5, True)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got -1"):
        nn.AlphaDropout(-1)


def test_alpha_dropout_values():
    x = _x()
    assert F.alpha_dropout(x, 0.3) is x and F.feature_alpha_dropout(x, 0.3) is x
    p, alpha = 0.3, 1.7580993408473766
    a = 1 / np.sqrt((alpha * alpha * p + 1) * (1 - p))
    y = F.alpha_dropout(x, p, True)
    assert y.grad_fn.name() == "AddBackward0"
    v = y.detach().numpy()
    kept = np.isclose(v, X * a + alpha * a * p)
    assert np.all(kept | np.isclose(v, -alpha * a + alpha * a * p)) and kept.any() and not kept.all()
    g, = tape.autograd.grad(y.sum(), x)
    assert np.allclose(g.numpy(), np.where(kept, a, 0.0))
    y = F.feature_alpha_dropout(x, p, True).detach().numpy()
    kept = np.isclose(y, X * a + alpha * a * p).reshape(2, 3, -1)
    assert np.all(kept.all(-1) | ~kept.any(-1))
    assert np.all(F.alpha_dropout(x, 1.0, True).detach().numpy() == 0)
    m = nn.AlphaDropout(0.2, inplace=True)
    assert repr(m) == "AlphaDropout(p=0.2, inplace=True)"
    m.train()
    assert m(x).grad_fn.name() == "AddBackward0"       # (as PyTorch's, its forward does not pass inplace on)


def test_gumbel_softmax():
    x = _x()
    tape.manual_seed(1)
    y = F.gumbel_softmax(x, tau=0.5)
    assert y.grad_fn.name() == "SoftmaxBackward0" and np.allclose(y.detach().numpy().sum(-1), 1)
    tape.manual_seed(1)
    noise = -tape.empty(2, 3, 4, dtype=tape.float64).exponential_().log()
    assert np.allclose(y.detach().numpy(), ((x + noise) / 0.5).softmax(-1).detach().numpy())
    tape.manual_seed(1)
    h = F.gumbel_softmax(x, tau=0.5, hard=True, dim=1)
    v = h.detach().numpy()
    assert h.grad_fn.name() == "AddBackward0" and np.all(v.sum(1) == 1) and np.all((v == 0) | (v == 1))
    with pytest.warns(UserWarning, match="`eps` parameter is deprecated and has no effect."):
        F.gumbel_softmax(x, eps=1e-3)

    def seeded(x):
        tape.manual_seed(1)
        return F.gumbel_softmax(x, tau=0.5)
    assert tape.autograd.gradcheck(seeded, (x,))
    # (hard: the soft sample's gradient, straight through)
    tape.manual_seed(1)
    g, = tape.autograd.grad((F.gumbel_softmax(x, tau=0.5, hard=True) * x.detach()).sum(), x)
    tape.manual_seed(1)
    assert np.allclose(g.numpy(), tape.autograd.grad((seeded(x) * x.detach()).sum(), x)[0].numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.gumbel_softmax(x)


def test_modules_and_reprs():
    for cls in (nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.FeatureAlphaDropout):
        assert repr(cls(0.25)) == f"{cls.__name__}(p=0.25, inplace=False)"
    m = nn.Dropout1d(0.5)
    x = _x()
    assert m(x).grad_fn.name() == "MulBackward0"
    m.eval()
    assert m(x) is x
    assert nn.Identity()(x) is x
