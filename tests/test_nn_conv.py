"""The convolutions of tape.nn.functional (ops/conv.py): shapes, nodes, errors and derivatives to the
third order on small float64 inputs, against a direct sum over the kernel (no torch here)."""
import pickle
import warnings

import numpy as np
import pytest

import tape
import tape.nn.functional as F

RNG = np.random.default_rng(7)


def _t(*shape, grad=True, dtype=tape.float64):
    return tape.tensor(RNG.uniform(-1, 1, shape), dtype=dtype, requires_grad=grad)


def _direct(x, w, b, stride, pad, dilation, groups):
    """The 2-d convolution as its definition: a sum over the kernel's offsets."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((n, o, oh, ow))
    og = o // groups
    for f in range(o):
        grp = f // og
        for i in range(kh):
            for j in range(kw):
                rows = slice(i * dilation[0], i * dilation[0] + (oh - 1) * stride[0] + 1, stride[0])
                patch = xp[:, grp * cg:(grp + 1) * cg, rows,
                           j * dilation[1]:j * dilation[1] + (ow - 1) * stride[1] + 1:stride[1]]
                y[:, f] += np.einsum("nchw,c->nhw", patch, w[f, :, i, j])
        if b is not None:
            y[:, f] += b[f]
    return y


@pytest.mark.parametrize("stride,pad,dilation,groups", [((1, 1), (0, 0), (1, 1), 1), ((2, 1), (1, 2), (2, 1), 2)])
def test_conv2d_values_against_the_definition(stride, pad, dilation, groups):
    x, w, b = _t(2, 4, 7, 6), _t(6, 4 // groups, 3, 2), _t(6)
    y = F.conv2d(x, w, b, stride, pad, dilation, groups)
    ref = _direct(x.detach().numpy(), w.detach().numpy(), b.detach().numpy(), stride, pad, dilation, groups)
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-12, atol=1e-12)
    assert y.grad_fn.name() == "ConvolutionBackward0"
    assert len(y.grad_fn.next_functions) == 3


def test_transposed_convolution_is_the_adjoint_of_the_convolution():
    # <conv(x, w), g> == <x, conv_transpose(g, w)> for every stride, padding, dilation, groups
    x, w = _t(2, 4, 7, 6, grad=False), _t(6, 2, 3, 2, grad=False)
    y = F.conv2d(x, w, None, 2, (1, 2), (2, 1), 2)
    g = _t(*y.shape, grad=False)
    op = [(7 + 2 * 1 - 2 * 2 - 1) % 2, (6 + 2 * 2 - 1 * 1 - 1) % 2]
    xt = F.conv_transpose2d(g, w, None, 2, (1, 2), op, 2, (2, 1))
    assert xt.shape == x.shape
    np.testing.assert_allclose(float((y * g).sum()), float((x * xt).sum()), rtol=1e-12)


def test_shapes_unbatched_valid_same_and_nodes():
    w = _t(3, 2, 4)
    y = F.conv1d(_t(2, 9), w, stride=2)
    assert y.shape == (3, 3) and y.grad_fn.name() == "SqueezeBackward1"
    assert F.conv1d(_t(1, 2, 9), w, padding="valid").shape == (1, 3, 6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = F.conv1d(_t(1, 2, 9), w, padding="same", dilation=1)
    assert s.shape == (1, 3, 9) and "even kernel lengths" in str(caught[0].message)
    assert F.conv3d(_t(1, 2, 3, 4, 5), _t(4, 1, 1, 2, 3), groups=2).shape == (1, 4, 3, 3, 3)
    t = F.conv_transpose3d(_t(1, 2, 2, 3, 2), _t(2, 3, 2, 2, 2), stride=(1, 2, 3), output_padding=(0, 1, 2))
    assert t.shape == (1, 3, 3, 7, 7) and t.grad_fn.name() == "ConvolutionBackward0"
    assert tape.convolution(_t(1, 2, 5), w, None, [1], [1], [1], False, [0], 1).shape == (1, 3, 4)
    x, w2 = _t(1, 2, 4, 4), _t(3, 2, 2, 2)
    gx, gw = tape.autograd.grad(F.conv2d(x, w2).sum(), (x, w2), create_graph=True)
    assert gx.grad_fn.name() == gw.grad_fn.name() == "ConvolutionBackwardBackward0"


def _checks(fn, *inputs):
    assert tape.autograd.gradcheck(fn, inputs)
    assert tape.autograd.gradgradcheck(fn, inputs)


CASES = [
    ("conv2d_groups_stride_dilation", lambda x, w, b: F.conv2d(x, w, b, 2, 1, 2, 2),
     [(1, 2, 5, 5), (2, 1, 3, 3), (2,)]),
    ("conv2d_same", lambda x, w: F.conv2d(x, w, padding="same"), [(1, 2, 5, 5), (2, 2, 3, 3)]),
    ("conv1d_unbatched", lambda x, w: F.conv1d(x, w, stride=2, padding=1), [(2, 6), (3, 2, 3)]),
    ("conv3d", lambda x, w: F.conv3d(x, w, padding=(0, 1, 0)), [(1, 1, 3, 2, 3), (2, 1, 2, 2, 2)]),
    ("conv_transpose2d", lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1, 1, 2, 1),
     [(1, 2, 3, 3), (2, 1, 3, 2), (2,)]),
    ("conv_transpose1d_dilated", lambda x, w: F.conv_transpose1d(x, w, dilation=2, output_padding=1),
     [(1, 2, 3), (2, 1, 2)]),
]


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_gradcheck_and_gradgradcheck(name):
    _, fn, shapes = next(c for c in CASES if c[0] == name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _checks(fn, *[_t(*s) for s in shapes])


def test_third_order():
    x, w = _t(1, 2, 4, 4), _t(2, 1, 2, 2)

    def first(x, w):
        return tape.autograd.grad((F.conv2d(x, w, groups=2) ** 2).sum(), x, create_graph=True)[0]
    assert tape.autograd.gradgradcheck(first, (x, w))


def test_float32_and_no_grad():
    x, w = _t(1, 2, 5, 5, dtype=tape.float32), _t(3, 2, 3, 3, dtype=tape.float32)
    y = F.conv2d(x, w)
    assert y.dtype == tape.float32
    ref = _direct(x.detach().double().numpy(), w.detach().double().numpy(), None, (1, 1), (0, 0), (1, 1), 1)
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-5, atol=1e-5)
    with tape.no_grad():
        assert F.conv2d(x, w).grad_fn is None


def _raises(kind, text, fn):
    with pytest.raises(kind) as info:
        fn()
    assert text in str(info.value), str(info.value)


def test_errors():
    x, w = _t(1, 2, 5, 5), _t(4, 2, 3, 3)
    _raises(RuntimeError, "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [5, 5]",
            lambda: F.conv2d(x[0, 0], w))
    _raises(RuntimeError, "padding='same' is not supported for strided convolutions",
            lambda: F.conv2d(x, w, stride=2, padding="same"))
    _raises(RuntimeError, "Invalid padding string: 'foo'", lambda: F.conv2d(x, w, padding="foo"))
    _raises(RuntimeError, "negative padding is not supported", lambda: F.conv2d(x, w, padding=-1))
    _raises(RuntimeError, "non-positive stride is not supported", lambda: F.conv2d(x, w, stride=0))
    _raises(RuntimeError, "non-positive groups is not supported", lambda: F.conv2d(x, w, groups=0))
    _raises(RuntimeError, "expected weight to be divisible by 3 at dimension 0", lambda: F.conv2d(x, w, groups=3))
    _raises(RuntimeError, "expected input[1, 2, 5, 5] to have 4 channels, but got 2 channels instead",
            lambda: F.conv2d(x, w, groups=2))
    _raises(RuntimeError, "Kernel size can't be greater than actual input size", lambda: F.conv2d(x, _t(4, 2, 6, 6)))
    _raises(RuntimeError, "expected bias to be 1-dimensional with 4 elements", lambda: F.conv2d(x, w, _t(3)))
    _raises(RuntimeError, "expected stride to be a single integer value or a list of 2 values",
            lambda: F.conv2d(x, w, stride=(1, 2, 3)))
    _raises(RuntimeError, "expected scalar type Double but found Float", lambda: F.conv2d(x, w.float()))
    _raises(TypeError, "conv2d() received an invalid combination of arguments", lambda: F.conv2d(x, w, stride=1.5))
    wt = w.transpose(0, 1)
    _raises(RuntimeError, "output padding must be smaller than either stride or dilation",
            lambda: F.conv_transpose2d(x, wt, output_padding=1))
    _raises(RuntimeError, "Output size is too small", lambda: F.conv_transpose2d(x, wt, padding=5))
    _raises(RuntimeError, "Given transposed=1, weight of size [4, 2, 3, 3], expected input[1, 2, 5, 5] to have 4 "
            "channels", lambda: F.conv_transpose2d(x, w))


# --- modules ---------------------------------------------------------------------------------
def test_modules_parameters_repr_and_forward():
    m = tape.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, bias=False)
    assert m.weight.shape == (6, 2, 3, 3) and m.bias is None
    assert repr(m) == "Conv2d(4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), groups=2, bias=False)"
    assert m(tape.randn(1, 4, 7, 7)).shape == (1, 6, 4, 4)
    t = tape.nn.ConvTranspose1d(2, 4, 3, stride=2, output_padding=1, dilation=2)
    assert t.weight.shape == (2, 4, 3) and t.bias.shape == (4,)
    assert repr(t) == "ConvTranspose1d(2, 4, kernel_size=(3,), stride=(2,), dilation=(2,), output_padding=(1,))"
    assert t(tape.randn(2, 5)).shape == (4, 14)
    assert t(tape.randn(1, 2, 5), output_size=[13]).shape == (1, 4, 13)
    c3 = tape.nn.Conv3d(1, 2, (1, 2, 3), padding="same")
    assert repr(c3) == "Conv3d(1, 2, kernel_size=(1, 2, 3), stride=(1, 1, 1), padding=same)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert c3(tape.randn(1, 1, 2, 3, 4)).shape == (1, 2, 2, 3, 4)
    # (the bound of the initial values: 1 / sqrt(fan_in), fan_in = in_channels / groups * prod(kernel))
    w = tape.nn.Conv1d(3, 5, 4).weight.detach().numpy()
    assert np.abs(w).max() <= 1 / np.sqrt(12)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_modes_are_numpys(mode):
    x = _t(1, 2, 4, 5)
    m = tape.nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode, dtype=tape.float64)
    numpy_mode = {"replicate": "edge", "circular": "wrap"}.get(mode, mode)
    padded = np.pad(x.detach().numpy(), ((0, 0), (0, 0), (1, 1), (2, 2)), mode=numpy_mode)
    ref = _direct(padded, m.weight.detach().numpy(), m.bias.detach().numpy(), (1, 1), (0, 0), (1, 1), 1)
    np.testing.assert_allclose(m(x).detach().numpy(), ref, rtol=1e-6, atol=1e-6)
    assert tape.autograd.gradcheck(lambda x: m(x), (x,))


def test_module_errors():
    _raises(ValueError, "groups must be a positive integer", lambda: tape.nn.Conv2d(2, 2, 3, groups=0))
    _raises(ValueError, "in_channels must be divisible by groups", lambda: tape.nn.Conv2d(3, 2, 3, groups=2))
    _raises(ValueError, "out_channels must be divisible by groups", lambda: tape.nn.Conv2d(2, 3, 3, groups=2))
    _raises(ValueError, "Invalid padding string 'full'", lambda: tape.nn.Conv2d(2, 2, 3, padding="full"))
    _raises(ValueError, "padding='same' is not supported for strided convolutions",
            lambda: tape.nn.Conv1d(2, 2, 3, stride=2, padding="same"))
    _raises(ValueError, "padding_mode must be one of", lambda: tape.nn.Conv2d(2, 2, 3, padding_mode="mirror"))
    _raises(ValueError, 'Only "zeros" padding mode is supported for ConvTranspose2d',
            lambda: tape.nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect"))
    t = tape.nn.ConvTranspose2d(2, 4, 3, stride=2)
    _raises(ValueError, "requested an output size of [12, 10], but valid sizes range from [9, 9] to [10, 10] (for an "
            "input of torch.Size([4, 4]))", lambda: t(tape.randn(1, 2, 4, 4), output_size=[12, 10]))
    _raises(ValueError, "ConvTranspose2D: for 4D input, output_size must have 2 or 4 elements (got 3)",
            lambda: t(tape.randn(1, 2, 4, 4), output_size=[1, 4, 10]))
    _raises(RuntimeError, "Argument #4: Padding size should be less than the corresponding input dimension, but got: "
            "padding (3, 3) at dimension 3 of input [1, 1, 3, 3]",
            lambda: tape.nn.Conv2d(1, 1, 3, padding=3, padding_mode="reflect")(tape.randn(1, 1, 3, 3)))
    _raises(RuntimeError, "Padding value causes wrapping around more than once.",
            lambda: tape.nn.Conv1d(1, 1, 3, padding=4, padding_mode="circular")(tape.randn(1, 1, 3)))


# --- unfold and fold ---------------------------------------------------------------------------
def test_fold_is_the_adjoint_of_unfold_and_nodes():
    x = _t(2, 3, 5, 6)
    c = F.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1))
    assert c.shape == (2, 18, 12) and c.grad_fn.name() == "Im2ColBackward0"
    r = _t(*c.shape, grad=False)
    back = F.fold(r, (5, 6), (2, 3), dilation=(1, 2), padding=1, stride=(2, 1))
    assert back.shape == x.shape
    np.testing.assert_allclose(float((c * r).sum().detach()), float((x * back).sum().detach()), rtol=1e-12)
    # (each element of the blocks is one of x's, or a padding zero)
    assert set(np.round(c.detach().numpy().ravel(), 12)) <= set(np.round(x.detach().numpy().ravel(), 12)) | {0.0}
    assert F.fold(_t(12, 9), (4, 4), 2).grad_fn.name() == "Col2ImBackward0"
    assert F.unfold(_t(3, 4, 4), 2).shape == (12, 9)
    m = tape.nn.Unfold((2, 3), padding=1)
    assert repr(m) == "Unfold(kernel_size=(2, 3), dilation=1, padding=1, stride=1)" and m(x).shape == (2, 18, 36)
    f = tape.nn.Fold((5, 6), (2, 3), padding=1)
    assert repr(f) == "Fold(output_size=(5, 6), kernel_size=(2, 3), dilation=1, padding=1, stride=1)"
    assert f(m(x)).shape == x.shape


def test_unfold_fold_derivatives():
    def fn(x):
        c = F.unfold(x, 2, padding=1, stride=(1, 2))
        return F.fold(c * c, (3, 4), 2, padding=1, stride=(1, 2))
    _checks(fn, _t(1, 2, 3, 4))


def test_unfold_fold_errors():
    x = _t(2, 3, 5, 6)
    _raises(RuntimeError, "kernel size should be greater than zero, but got kernel_height: 0 kernel_width: 0",
            lambda: F.unfold(x, 0))
    _raises(RuntimeError, "It is expected kernel_size equals to 2, but got size 3", lambda: F.unfold(x, (2, 2, 2)))
    _raises(RuntimeError, "calculated shape of the array of sliding blocks as (-1, 0), but its components must be at "
            "least one.", lambda: F.unfold(x, 7))
    _raises(RuntimeError, "Expected 3D or 4D (batch mode) tensor", lambda: F.unfold(_t(1, 1, 1, 1, 1), 1))
    c = _t(2, 12, 20)
    _raises(RuntimeError, "Expected size of input's dimension 1 to be divisible by the product of kernel_size, but got "
            "input.size(1)=12 and kernel_size=(3, 3).", lambda: F.fold(c, (5, 6), 3))
    _raises(RuntimeError, "expected size of input's dimension 2 to match the calculated number of sliding blocks "
            "4 * 6 = 24, but got input.size(2)=20.", lambda: F.fold(c, (5, 7), 2))
    _raises(RuntimeError, "padding should be non-negative", lambda: F.fold(c, (5, 6), 2, padding=-1))


def test_module_pickles_and_an_old_state_gets_padding_mode():
    m = tape.nn.Conv2d(2, 3, 3, padding_mode="reflect")
    copy = pickle.loads(pickle.dumps(m))
    assert repr(copy) == repr(m)
    np.testing.assert_array_equal(copy.weight.detach().numpy(), m.weight.detach().numpy())
    state = dict(m.__dict__)
    del state["padding_mode"]
    old = tape.nn.Conv2d.__new__(tape.nn.Conv2d)
    old.__setstate__(state)
    assert old.padding_mode == "zeros"
