"""Padding, pooling, shuffles and interpolation of ``tape.nn`` (torch-free): shapes, values on small
cases worked by hand, errors, and gradients to second order by finite differences (float64)."""
from __future__ import annotations

import numpy as np
import pytest

import tape
import tape.nn as nn
import tape.nn.functional as F
from tape.autograd import gradcheck, gradgradcheck


def _x(*shape, seed=0):
    """A float64 input requiring grad whose entries are far apart (no ties in a max)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    v = rng.permutation(n).reshape(shape) * 0.25 + rng.uniform(-0.05, 0.05, shape)
    return tape.tensor(v, dtype=tape.float64, requires_grad=True)


def _checked(f, *xs):
    assert gradcheck(f, xs)
    assert gradgradcheck(f, xs)


# --- padding -------------------------------------------------------------------------------
def test_pad_values_by_mode():
    x = tape.tensor([[[0.0, 1.0, 2.0]]])
    assert F.pad(x, (2, 1)).tolist() == [[[0.0, 0.0, 0.0, 1.0, 2.0, 0.0]]]
    assert F.pad(x, (2, 1), value=-1.5).tolist() == [[[-1.5, -1.5, 0.0, 1.0, 2.0, -1.5]]]
    assert F.pad(x, (2, 1), mode="reflect").tolist() == [[[2.0, 1.0, 0.0, 1.0, 2.0, 1.0]]]
    assert F.pad(x, (2, 1), mode="replicate").tolist() == [[[0.0, 0.0, 0.0, 1.0, 2.0, 2.0]]]
    assert F.pad(x, (2, 1), mode="circular").tolist() == [[[1.0, 2.0, 0.0, 1.0, 2.0, 0.0]]]
    assert F.pad(x, (-1, 1)).tolist() == [[[1.0, 2.0, 0.0]]]
    assert F.pad(x, (-1, 1), mode="reflect").tolist() == [[[1.0, 2.0, 1.0]]]
    assert tape.constant_pad_nd(x[0, 0], [1, -2], 5.0).tolist() == [5.0, 0.0]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_nodes_and_gradients(mode):
    names = {"constant": "ConstantPadNdBackward0", "reflect": "ReflectionPad2DBackward0",
             "replicate": "ReplicationPad2DBackward0", "circular": "CopySlices"}
    x = _x(1, 2, 3, 3)
    y = F.pad(x, (1, 2, 2, 0), mode=mode)
    assert y.shape == (1, 2, 5, 6) and y.grad_fn.name().endswith(names[mode])
    _checked(lambda x: F.pad(x, (1, 2, 2, -1), mode=mode).sin(), x)
    _checked(lambda x: F.pad(x, (2, 1), mode=mode) ** 2, _x(2, 3))
    _checked(lambda x: F.pad(x, (1, 0, 0, 1, 1, 1), mode=mode) ** 2, _x(1, 2, 2, 3))


def test_pad_errors_as_pytorch():
    x = tape.ones(1, 3, 4)
    cases = [((1, 1), "foo", None, NotImplementedError, "Unrecognised padding mode foo"),
             ((1, 1, 1), "reflect", 2.0, RuntimeError, "Padding length must be divisible by 2"),
             ((1,) * 8, "constant", None, RuntimeError, "Padding length should be less than or equal to two times "
              "the input dimension but got padding length 8 and input of dimension 3"),
             ((1, 1), "reflect", 1.0, RuntimeError, "Padding mode \"reflect\" doesn't take in value argument"),
             ((1,) * 6, "reflect", None, NotImplementedError, "Padding size 6 is not supported for 3D input tensor."),
             ((4, 1), "reflect", None, RuntimeError, "Argument #4: Padding size should be less than the corresponding "
              "input dimension, but got: padding (4, 1) at dimension 2 of input [1, 3, 4]"),
             ((-5, 0), "replicate", None, RuntimeError, "input (W: 4) is too small. Calculated output W: -1"),
             ((5, 1), "circular", None, RuntimeError, "Padding value causes wrapping around more than once."),
             ((-2, -3), "circular", None, RuntimeError, "Negative padding value is resulting in an empty dimension"),
             ((-5, 2), "constant", None, RuntimeError, "narrow(): length must be non-negative.")]
    for p, mode, value, kind, message in cases:
        with pytest.raises(kind) as e:
            F.pad(x, p, mode=mode, value=value)
        assert str(e.value).startswith(message), (p, mode, str(e.value))
    with pytest.raises(RuntimeError, match=r"^Expected 2D or 3D \(batch mode\) tensor with possibly 0 batch size "):
        F.pad(tape.ones(1, 3, 0), (1, 1), mode="reflect")
    with pytest.raises(TypeError, match=r"^pad\(\): argument 'pad' \(position 2\) must be tuple of ints, but found "
                                        r"element of type float at pos 0$"):
        F.pad(x, (1.5, 1))
    with pytest.raises(TypeError, match=r"^pad\(\): argument 'input' \(position 1\) must be Tensor, not list$"):
        F.pad([1.0], (1, 1))
    with pytest.raises(TypeError, match=r"^pad\(\): argument 'value' \(position 4\) must be float, not str$"):
        F.pad(x, (1, 1), "constant", "x")


def test_pad_modules_and_reprs():
    x = tape.arange(6.0).reshape(1, 2, 3)
    assert repr(nn.ZeroPad2d(1)) == "ZeroPad2d((1, 1, 1, 1))"
    assert repr(nn.ConstantPad1d((1, 2), 3.5)) == "ConstantPad1d(padding=(1, 2), value=3.5)"
    assert repr(nn.ReflectionPad3d(2)) == "ReflectionPad3d((2, 2, 2, 2, 2, 2))"
    assert repr(nn.CircularPad2d((1, 0, 1, 0))) == "CircularPad2d((1, 0, 1, 0))"
    assert nn.ReplicationPad1d(1)(x).tolist() == [[[0.0, 0.0, 1.0, 2.0, 2.0], [3.0, 3.0, 4.0, 5.0, 5.0]]]
    assert nn.ZeroPad1d((0, 1))(x).shape == (1, 2, 4) and nn.ConstantPad3d(1, 1.0)(x).shape == (3, 4, 5)
    assert nn.CircularPad1d(1)(x).tolist()[0][0] == [2.0, 0.0, 1.0, 2.0, 0.0]
    with pytest.raises(ValueError, match=r"^expected 3D or 4D input \(got 2D input\)$"):
        nn.CircularPad2d(1)(x[0])


# --- pooling -------------------------------------------------------------------------------
def test_max_pool_values_indices_and_node():
    x = tape.tensor([[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 7.0, 6.0], [0.0, 1.0, 2.0, 3.0], [9.0, 8.0, 4.0, 5.0]]]],
                    requires_grad=True)
    y, i = F.max_pool2d(x, 2, return_indices=True)
    assert y.tolist() == [[[[5.0, 7.0], [9.0, 5.0]]]] and i.tolist() == [[[[1, 6], [12, 15]]]]
    assert y.grad_fn.name() == "MaxPool2DWithIndicesBackward0" and i.dtype == tape.int64
    y.sum().backward()
    assert x.grad.reshape(-1).tolist() == [0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1]
    assert F.max_pool2d(x, 3, 1, 1).shape == (1, 1, 4, 4) and F.max_pool2d(x, 3, 2, ceil_mode=True).shape == (1, 1, 2, 2)
    assert F.max_pool1d(x[0, 0], 2).tolist() == [[5.0, 2.0], [4.0, 7.0], [1.0, 3.0], [9.0, 5.0]]
    assert F.max_unpool2d(y, i, 2).reshape(-1).tolist() == [0, 5, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 9, 0, 0, 5]


def test_avg_pool_values_and_divisors():
    x = tape.arange(16.0).reshape(1, 1, 4, 4)
    assert F.avg_pool2d(x, 2).tolist() == [[[[2.5, 4.5], [10.5, 12.5]]]]
    assert F.avg_pool2d(x, 2, divisor_override=1).tolist() == [[[[10.0, 18.0], [42.0, 50.0]]]]
    # the corner window of a padded pool: 1 element, divided by 4 (padding counted) or by 1
    assert F.avg_pool2d(x, 2, 2, 1)[0, 0, 0, 0].item() == 0.0
    assert F.avg_pool2d(x + 1, 2, 2, 1)[0, 0, 0, 0].item() == 0.25
    assert F.avg_pool2d(x + 1, 2, 2, 1, count_include_pad=False)[0, 0, 0, 0].item() == 1.0
    assert F.adaptive_avg_pool2d(x, (1, 2)).tolist() == [[[[6.5, 8.5]]]]
    assert F.adaptive_avg_pool1d(tape.arange(5.0).reshape(1, 5), 2).tolist() == [[1.0, 3.0]]
    assert F.avg_pool1d(tape.arange(5.0).reshape(1, 5), 2).tolist() == [[0.5, 2.5]]
    assert F.avg_pool2d(tape.arange(16).reshape(1, 4, 4), 2).tolist() == [[[2, 4], [10, 12]]]
    assert F.adaptive_avg_pool2d(x.requires_grad_(), 1).grad_fn.name() == "MeanBackward1"


POOL_CASES = [
    ("max_pool2d", lambda x: F.max_pool2d(x, (2, 3), (1, 2), (1, 1), (2, 1), ceil_mode=True), (1, 2, 5, 6)),
    ("max_pool3d", lambda x: F.max_pool3d(x, 2, 1, 1), (1, 1, 2, 3, 3)),
    ("max_pool1d", lambda x: F.max_pool1d(x, 3, 2, 1), (2, 6)),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), (1, 2, 5, 5)),
    ("avg_pool3d", lambda x: F.avg_pool3d(x, 2, 1, 1, divisor_override=3), (1, 1, 2, 3, 3)),
    ("avg_pool1d", lambda x: F.avg_pool1d(x, 2, 1, 1), (2, 5)),
    ("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, (2, 3)), (1, 2, 5, 4)),
    ("adaptive_avg_pool3d", lambda x: F.adaptive_avg_pool3d(x, 2), (1, 1, 3, 3, 3)),
    ("adaptive_max_pool2d", lambda x: F.adaptive_max_pool2d(x, (2, 3)), (1, 2, 5, 4)),
    ("adaptive_max_pool1d", lambda x: F.adaptive_max_pool1d(x, 3), (2, 7)),
    ("lp_pool2d", lambda x: F.lp_pool2d(x.abs() + 0.5, 2, 2), (1, 2, 4, 4)),
    ("max_unpool2d", lambda x: F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2), (1, 2, 4, 4)),
]


@pytest.mark.parametrize("name,f,shape", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_pool_gradients_to_second_order(name, f, shape):
    _checked(lambda x: f(x) ** 2, _x(*shape))


def test_pool_modules_and_reprs():
    x = _x(1, 2, 4, 4)
    assert repr(nn.MaxPool2d(3, 2, 1)) == "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)"
    assert repr(nn.AvgPool1d(3)) == "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"
    assert repr(nn.AdaptiveAvgPool2d((3, None))) == "AdaptiveAvgPool2d(output_size=(3, None))"
    assert repr(nn.LPPool2d(2, 3)) == "LPPool2d(norm_type=2, kernel_size=3, stride=None, ceil_mode=False)"
    assert repr(nn.MaxUnpool2d(2)) == "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    y, i = nn.MaxPool2d(2, return_indices=True)(x)
    assert nn.MaxUnpool2d(2)(y, i).shape == (1, 2, 4, 4)
    assert nn.AvgPool3d(2)(x.unsqueeze(0)).shape == (1, 1, 1, 2, 2)
    assert nn.AdaptiveMaxPool1d(2, return_indices=True)(x[0])[1].shape == (2, 4, 2)
    assert nn.LPPool1d(1, 2)(x[0].abs()).shape == (2, 4, 2)


def test_pool_errors():
    x = tape.ones(1, 2, 5, 5)
    with pytest.raises(RuntimeError, match=r"^max_pool2d: kernel_size must either be a single int, or a tuple of two"):
        F.max_pool2d(x, (2, 2, 2))
    with pytest.raises(RuntimeError, match=r"^pad should be at most half of effective kernel size, but got pad=2, "):
        F.avg_pool2d(x, 2, 2, 2)
    with pytest.raises(RuntimeError, match=r"^Given input size: \(2x1x1\)\. Calculated output size: \(2x0x0\)\. "):
        F.max_pool2d(tape.ones(1, 2, 1, 1), 2)
    with pytest.raises(RuntimeError, match=r"^divisor must be not zero$"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(TypeError, match=r"^max_pool2d\(\): argument 'kernel_size' \(position 2\) must be tuple of "):
        F.max_pool2d(x, 2.5)
    with pytest.raises(RuntimeError, match=r"^Found an invalid max index: 16 \(output volumes are of size 4x4\)$"):
        F.max_unpool2d(tape.ones(1, 1, 2, 2), tape.full((1, 1, 2, 2), 16, dtype=tape.int64), 2)


# --- shuffles ------------------------------------------------------------------------------
def test_pixel_and_channel_shuffles():
    x = tape.arange(8.0).reshape(1, 4, 1, 2)
    y = F.pixel_shuffle(x, 2)
    assert y.tolist() == [[[[0.0, 2.0, 1.0, 3.0], [4.0, 6.0, 5.0, 7.0]]]]
    assert F.pixel_unshuffle(y, 2).tolist() == x.tolist()
    assert F.channel_shuffle(tape.arange(6.0).reshape(1, 6, 1), 2).reshape(-1).tolist() == [0, 3, 1, 4, 2, 5]
    assert repr(nn.PixelShuffle(2)) == "PixelShuffle(upscale_factor=2)" and repr(nn.ChannelShuffle(3)) == \
        "ChannelShuffle(groups=3)" and repr(nn.PixelUnshuffle(3)) == "PixelUnshuffle(downscale_factor=3)"
    for f, shape in [(lambda x: nn.PixelShuffle(2)(x), (1, 8, 2, 1)), (lambda x: nn.PixelUnshuffle(2)(x), (2, 1, 2, 4)),
                     (lambda x: nn.ChannelShuffle(2)(x), (1, 4, 3))]:
        _checked(lambda x: f(x) ** 2, _x(*shape))
    z = _x(1, 8, 2, 1)
    (g,) = tape.autograd.grad((F.pixel_shuffle(z, 2) ** 2).sum(), z, create_graph=True)
    assert F.pixel_shuffle(z, 2).grad_fn.name() == "PixelShuffleBackward0"
    assert g.grad_fn.name() == "PixelUnshuffleBackward0"
    with pytest.raises(RuntimeError, match=r"^pixel_shuffle expects a positive upscale_factor, but got 0$"):
        F.pixel_shuffle(z, 0)
    with pytest.raises(RuntimeError, match=r"^Number of channels must be divisible by groups\. Got 8 channels and 3 "):
        F.channel_shuffle(z, 3)


# --- interpolation -------------------------------------------------------------------------
def test_interpolate_values():
    x = tape.tensor([[[0.0, 1.0, 2.0]]])
    assert F.interpolate(x, scale_factor=2).tolist() == [[[0.0, 0.0, 1.0, 1.0, 2.0, 2.0]]]
    assert F.interpolate(x, size=5, mode="linear", align_corners=True).tolist() == [[[0.0, 0.5, 1.0, 1.5, 2.0]]]
    assert F.interpolate(x, size=2, mode="nearest-exact").tolist() == [[[0.0, 2.0]]]
    assert F.interpolate(x, size=1, mode="area").tolist() == [[[1.0]]]
    y = F.interpolate(tape.ones(1, 1, 2, 2), scale_factor=2, mode="bicubic")
    assert np.allclose(y.numpy(), 1.0) and y.shape == (1, 1, 4, 4)
    assert F.interpolate(tape.ones(1, 1, 2, 2, 2, requires_grad=True), size=(3, 3, 1),
                         mode="trilinear").grad_fn.name() == "UpsampleTrilinear3DBackward0"
    with pytest.warns(UserWarning, match="`nn.functional.upsample_bilinear` is deprecated"):
        assert F.upsample_bilinear(tape.ones(1, 1, 2, 2), scale_factor=2).shape == (1, 1, 4, 4)
    with pytest.warns(UserWarning, match="`nn.functional.upsample` is deprecated"):
        assert F.upsample(x, 4).shape == (1, 1, 4)
    with pytest.warns(UserWarning, match="`nn.functional.upsample_nearest` is deprecated"):
        assert F.upsample_nearest(x, 4).shape == (1, 1, 4)


INTERPOLATIONS = [
    ("nearest", dict(size=(3, 5)), (1, 2, 2, 3)),
    ("nearest_exact", dict(scale_factor=1.5, mode="nearest-exact"), (1, 1, 2, 3)),
    ("linear", dict(size=5, mode="linear"), (1, 2, 3)),
    ("bilinear_corners", dict(scale_factor=2, mode="bilinear", align_corners=True), (1, 1, 2, 3)),
    ("bicubic", dict(size=(3, 4), mode="bicubic"), (1, 1, 3, 2)),
    ("trilinear", dict(size=(2, 3, 3), mode="trilinear"), (1, 1, 2, 2, 2)),
    ("area", dict(size=(2, 2), mode="area"), (1, 1, 3, 4)),
    ("bilinear_antialias", dict(size=(2, 3), mode="bilinear", antialias=True), (1, 1, 4, 5)),
    ("lanczos", dict(size=(2, 2), mode="lanczos", antialias=True), (1, 1, 3, 4)),
]


@pytest.mark.parametrize("name,kw,shape", INTERPOLATIONS, ids=[c[0] for c in INTERPOLATIONS])
def test_interpolate_gradients_to_second_order(name, kw, shape):
    _checked(lambda x: F.interpolate(x, **kw) ** 2, _x(*shape))


def test_upsample_modules_and_errors():
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    assert repr(nn.UpsamplingBilinear2d(5)) == "UpsamplingBilinear2d(size=5, mode='bilinear')"
    assert repr(nn.UpsamplingNearest2d(scale_factor=(2, 3))) == "UpsamplingNearest2d(scale_factor=(2.0, 3.0), mode='nearest')"
    assert nn.Upsample(size=(3, 5), mode="bilinear")(tape.ones(1, 1, 2, 2)).shape == (1, 1, 3, 5)
    with pytest.raises(ValueError, match="^only one of size or scale_factor should be defined$"):
        F.interpolate(tape.ones(1, 2, 4), size=3, scale_factor=2)
    with pytest.raises(NotImplementedError, match="^Got 3D input, but bilinear mode needs 4D input$"):
        F.interpolate(tape.ones(1, 2, 4), size=3, mode="bilinear")
    with pytest.raises(RuntimeError, match=r"^Input and output sizes should be greater than 0, but got input \(W: 4\)"):
        F.interpolate(tape.ones(1, 2, 4), size=0)


def test_fractional_max_pool():
    u = tape.tensor([[[0.3, 0.7], [0.1, 0.9]]], dtype=tape.float64)
    y, i = F.fractional_max_pool2d(_x(1, 2, 6, 7), 2, output_size=(3, 4), return_indices=True, _random_samples=u)
    assert y.shape == (1, 2, 3, 4) and i.dtype == tape.int64 and y.grad_fn.name() == "FractionalMaxPool2DBackward0"
    _checked(lambda x: F.fractional_max_pool2d(x, 2, output_size=(3, 4), _random_samples=u) ** 2, _x(1, 2, 6, 7))
    v = tape.tensor([[[0.3, 0.7, 0.5]]], dtype=tape.float64)
    _checked(lambda x: F.fractional_max_pool3d(x, 2, output_size=2, _random_samples=v) ** 2, _x(1, 1, 4, 4, 4))
    assert repr(nn.FractionalMaxPool2d(2, output_ratio=0.5)) == "FractionalMaxPool2d()"
    with pytest.raises(ValueError, match="^fractional_max_pool2d requires specifying either an output_size or an "):
        F.fractional_max_pool2d(_x(1, 2, 6, 7), 2)
