"""``grid_sample`` / ``grid_sampler*`` and ``affine_grid`` / ``affine_grid_generator``
(``ops/grid_sample.py``): values pinned by reasoning (identity grids, midpoints, padding maps,
nearest's rounding half to even), gradients by gradcheck and gradgradcheck (float64) for every mode,
padding and alignment in 2-D and 3-D, and PyTorch's errors.
"""
import itertools
import warnings

import numpy as np
import pytest

import tape
import tape.nn.functional as F
from tape.autograd import gradcheck, gradgradcheck


def _t(a, rg=False):
    return tape.tensor(np.asarray(a, np.float64), requires_grad=rg)


def _identity(size, align):
    theta = _t(np.tile(np.eye(len(size) - 2, len(size) - 1), (size[0], 1, 1)))
    return F.affine_grid(theta, size, align_corners=align)


def _points(rng, n, out, nd, in_sp, align, spread=1.4):
    """Grid points whose pixel positions keep 0.1 from integers and half-integers (the kinks of
    floor, clipping and reflection), some outside the plane."""
    sizes = in_sp[::-1]
    g = np.empty((n,) + out + (nd,))
    for d in range(nd):
        s = sizes[d]
        cell = rng.integers(-2, s + 1, (n,) + out)
        frac = rng.choice([0.15, 0.3, 0.35, 0.65, 0.7, 0.85], (n,) + out)
        pos = np.clip(cell + frac, -1.5 * spread, s + spread)
        g[..., d] = 2 * pos / (s - 1) - 1 if align else (2 * pos + 1) / s - 1
    return g


def test_identity_grid_reproduces_input():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5))
    for align in (False, True):
        grid = _identity((2, 3, 4, 5), align)
        for mode in ("bilinear", "nearest", "bicubic"):
            y = F.grid_sample(_t(x), grid, mode=mode, align_corners=align)
            np.testing.assert_allclose(y.numpy(), x, atol=1e-12)
    x3 = rng.standard_normal((1, 2, 3, 4, 2))
    for mode in ("bilinear", "nearest"):
        y = F.grid_sample(_t(x3), _identity((1, 2, 3, 4, 2), True), mode=mode, align_corners=True)
        np.testing.assert_allclose(y.numpy(), x3, atol=1e-12)


def test_midpoints_and_padding_maps():
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    # align_corners=True: x = -1 .. 1 over pixel centres 0 .. 3, y over 0 .. 2
    def at(px, py, **kw):
        g = _t([[[[2 * px / 3 - 1, 2 * py / 2 - 1]]]])
        return float(F.grid_sample(_t(x), g, align_corners=True, **kw).item())
    assert at(0.5, 0.5) == pytest.approx((0 + 1 + 4 + 5) / 4)
    assert at(1.25, 1.0) == pytest.approx(0.75 * 5 + 0.25 * 6)
    assert at(-3, 1) == 0.0                                      # zeros: all four taps outside
    assert at(-0.5, 1) == pytest.approx(0.5 * 4)                 # half a tap inside
    assert at(-3, 1, padding_mode="border") == pytest.approx(4)  # clipped to the left column
    assert at(7, 5, padding_mode="border") == pytest.approx(11)
    assert at(-1, 0, padding_mode="reflection") == pytest.approx(1)     # mirrored about pixel 0
    assert at(4, 0, padding_mode="reflection") == pytest.approx(2)      # and about pixel 3
    assert at(8, 0, padding_mode="reflection") == pytest.approx(2)      # twice
    # nearest rounds half to even: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2
    assert [at(p, 0, mode="nearest") for p in (0.5, 1.5, 2.5)] == [0, 2, 2]


def test_bicubic_reads_sixteen_taps_with_the_cubic_weights():
    x = np.zeros((1, 1, 6, 6))
    x[0, 0, 2, 3] = 1.0
    px, py = 2.25, 2.5          # taps x 1..4, y 1..4; the pixel (y 2, x 3) is tap (1, 2)
    g = _t([[[[2 * px / 5 - 1, 2 * py / 5 - 1]]]])
    y = float(F.grid_sample(_t(x), g, mode="bicubic", align_corners=True).item())

    def w(t):       # the cubic convolution kernel, A = -0.75
        a, t = -0.75, abs(t)
        return ((a + 2) * t - (a + 3)) * t * t + 1 if t <= 1 else ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    assert y == pytest.approx(w(3 - px) * w(2 - py))


CASES = [(nd, mode, pad, align) for nd in (2, 3) for mode in ("bilinear", "nearest", "bicubic")
         for pad in ("zeros", "border", "reflection") for align in (False, True) if not (nd == 3 and mode == "bicubic")]


@pytest.mark.parametrize("nd,mode,pad,align", CASES)
def test_gradcheck_and_gradgradcheck(nd, mode, pad, align):
    rng = np.random.default_rng(len(mode) + 7 * len(pad) + align + 100 * nd)
    in_sp = (3, 4) if nd == 2 else (2, 3, 2)
    out = (1, 3) if nd == 2 else (1, 1, 3)
    x = _t(rng.standard_normal((1, 2) + in_sp), True)
    g = _t(_points(rng, 1, out, nd, in_sp, align), True)

    def f(a, b):
        return F.grid_sample(a, b, mode=mode, padding_mode=pad, align_corners=align)
    assert gradcheck(f, (x, g))
    # (second order: reflection's signs here; the op table's rows take zeros, border and 3-D)
    if pad == "reflection" and not align:
        assert gradgradcheck(f, (x, g))


def test_nearest_gives_the_grid_a_zero_gradient_and_node_names():
    x = _t(np.ones((1, 1, 2, 2)), True)
    g = _t([[[[0.1, 0.2]]]], True)
    y = F.grid_sample(x, g, mode="nearest", align_corners=False)
    y.sum().backward()
    assert g.grad.tolist() == [[[[0.0, 0.0]]]]
    assert type(y.grad_fn).__name__ == "GridSampler2DBackward0"
    y3 = F.grid_sample(_t(np.ones((1, 1, 2, 2, 2)), True), _t(np.zeros((1, 1, 1, 1, 3))), align_corners=True)
    assert type(y3.grad_fn).__name__ == "GridSampler3DBackward0"
    assert y.grad_fn._saved_padding_mode == 0 and y.grad_fn._saved_interpolation_mode == 1
    assert y.grad_fn._saved_align_corners is False


def test_integer_codes_and_empty_shapes():
    rng = np.random.default_rng(3)
    x = _t(rng.standard_normal((1, 2, 3, 3)))
    g = _t(rng.uniform(-1, 1, (1, 2, 2, 2)))
    for code, name in enumerate(("bilinear", "nearest", "bicubic")):
        a = tape.grid_sampler(x, g, code, 2, True)
        b = tape.grid_sampler_2d(x, g, code, 2, True)
        c = F.grid_sample(x, g, name, "reflection", True)
        assert np.array_equal(a.numpy(), b.numpy()) and np.array_equal(a.numpy(), c.numpy())
    empty = F.grid_sample(_t(np.ones((0, 2, 3, 3))), _t(np.ones((0, 2, 2, 2))), align_corners=False)
    assert empty.shape == (0, 2, 2, 2)
    assert F.grid_sample(_t(np.ones((1, 0, 3, 3))), g, align_corners=False).shape == (1, 0, 2, 2)
    assert F.grid_sample(x, _t(np.ones((1, 0, 2, 2))), align_corners=False).shape == (1, 2, 0, 2)
    x32 = tape.tensor(rng.standard_normal((1, 1, 3, 3)), dtype=tape.float32)
    assert F.grid_sample(x32, g.float(), align_corners=False).dtype == tape.float32


def _raises(exc, message, fn):
    with pytest.raises(exc) as info:
        fn()
    assert str(info.value) == message


def test_errors():
    x = tape.zeros(2, 3, 4, 5)
    g = tape.zeros(2, 3, 4, 2)
    _raises(RuntimeError, "grid_sampler(): expected grid and input to have same batch size, but got input with "
            "sizes [2, 3, 4, 5] and grid with sizes [1, 3, 4, 2]", lambda: F.grid_sample(x, g[:1], align_corners=False))
    _raises(RuntimeError, "grid_sampler(): expected grid to have size 2 in last dimension, but got grid with sizes "
            "[2, 3, 4, 1]", lambda: F.grid_sample(x, g[..., :1], align_corners=False))
    _raises(RuntimeError, "grid_sampler(): expected input to have non-empty spatial dimensions, but input has sizes "
            "[2, 3, 0, 5] with dimension 2 being empty", lambda: F.grid_sample(tape.zeros(2, 3, 0, 5), g,
                                                                             align_corners=False))
    _raises(RuntimeError, "grid_sampler(): expected 4D input and grid with same number of dimensions, but got input "
            "with sizes [2, 3, 4, 5] and grid with sizes [2, 4, 2]",
            lambda: F.grid_sample(x, tape.zeros(2, 4, 2), align_corners=False))
    _raises(RuntimeError, "grid_sampler(): expected 5D input and grid with same number of dimensions, but got input "
            "with sizes [2, 3, 4, 5] and grid with sizes [2, 3, 4, 2]", lambda: tape.grid_sampler_3d(x, g, 0, 0, False))
    _raises(RuntimeError, "grid_sampler(): bicubic interpolation only supports 4D input",
            lambda: F.grid_sample(tape.zeros(1, 1, 2, 2, 2), tape.zeros(1, 1, 1, 1, 3), mode="bicubic",
                                                                 align_corners=False))
    _raises(RuntimeError, "expected scalar type Float but found Double",
            lambda: F.grid_sample(x, g.double(), align_corners=False))
    _raises(NotImplementedError, "\"grid_sampler_2d_cpu_kernel_impl\" not implemented for 'Long'",
            lambda: F.grid_sample(x.long(), g.long(), align_corners=False))
    _raises(ValueError, "nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', but "
            "got: 'area'", lambda: F.grid_sample(x, g, mode="area"))
    _raises(ValueError, "nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
            "'reflection', but got: 'const'", lambda: F.grid_sample(x, g, padding_mode="const"))
    _raises(TypeError, "grid_sampler(): argument 'interpolation_mode' (position 3) must be int, not float",
            lambda: tape.grid_sampler(x, g, 1.0, 0, False))
    _raises(TypeError, "grid_sampler(): argument 'align_corners' (position 5) must be bool, not int",
            lambda: tape.grid_sampler(x, g, 0, 0, 1))


def test_align_corners_warning():
    x, g = tape.zeros(1, 1, 2, 2), tape.zeros(1, 1, 1, 2)
    with pytest.warns(UserWarning, match="Default grid_sample and affine_grid behavior has changed"):
        F.grid_sample(x, g)
    with pytest.warns(UserWarning, match="Default grid_sample and affine_grid behavior has changed"):
        F.affine_grid(tape.zeros(1, 2, 3), (1, 1, 2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.grid_sample(x, g, align_corners=False)


def test_affine_grid_values():
    theta = np.array([[[0.5, -0.25, 0.1], [0.2, 1.5, -0.3]]])
    for align in (False, True):
        grid = F.affine_grid(_t(theta), (1, 7, 3, 4), align_corners=align).numpy()
        xs = np.linspace(-1, 1, 4) * (1 if align else 3 / 4)
        ys = np.linspace(-1, 1, 3) * (1 if align else 2 / 3)
        for i, j in itertools.product(range(3), range(4)):
            np.testing.assert_allclose(grid[0, i, j], theta[0] @ [xs[j], ys[i], 1], rtol=1e-14, atol=1e-15)
    theta3 = np.random.default_rng(1).standard_normal((2, 3, 4))
    grid = F.affine_grid(_t(theta3), (2, 1, 2, 3, 4), align_corners=True).numpy()
    assert grid.shape == (2, 2, 3, 4, 3)
    np.testing.assert_allclose(grid[1, 1, 2, 0], theta3[1] @ [-1, 1, 1, 1], rtol=1e-14)
    # a unit dim sits at 0
    assert F.affine_grid(_t(np.eye(2, 3)[None]), (1, 1, 1, 3), align_corners=False).numpy()[0, 0, :, 1].tolist() \
        == [0.0, 0.0, 0.0]


def test_affine_grid_gradients_and_node():
    theta = _t(np.random.default_rng(2).standard_normal((2, 2, 3)), True)
    assert gradcheck(lambda t: F.affine_grid(t, (2, 1, 3, 2), align_corners=False), (theta,))
    t3 = _t(np.random.default_rng(3).standard_normal((1, 3, 4)), True)
    assert gradcheck(lambda t: F.affine_grid(t, (1, 1, 2, 2, 3), align_corners=True), (t3,))
    y = F.affine_grid(theta, (2, 1, 3, 2), align_corners=True)
    assert type(y.grad_fn).__name__ == "AffineGridGeneratorBackward0"
    assert y.grad_fn._saved_size == (2, 1, 3, 2) and y.grad_fn._saved_align_corners is True
    # a spatial transformer: the sample's gradient reaches theta
    x = _t(np.random.default_rng(4).standard_normal((2, 1, 3, 2)))
    assert gradgradcheck(lambda t: F.grid_sample(x, F.affine_grid(t, (2, 1, 2, 2), align_corners=False),
                                                 align_corners=False), (theta,))


def test_affine_grid_errors():
    theta = tape.zeros(2, 2, 3)
    _raises(ValueError, "Expected a batch of 3D affine matrices of shape Nx3x4 for size [2, 3, 4, 5, 6]. Got "
            "torch.Size([2, 2, 3]).", lambda: F.affine_grid(theta, [2, 3, 4, 5, 6], align_corners=False))
    _raises(ValueError, "Expected a batch of 2D affine matrices of shape Nx2x3 for size [2, 3, 4, 5]. Got "
            "torch.Size([2, 3, 4]).", lambda: F.affine_grid(tape.zeros(2, 3, 4), [2, 3, 4, 5], align_corners=False))
    _raises(NotImplementedError, "affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
            "respectively. Got size [2, 3, 4].", lambda: F.affine_grid(theta, [2, 3, 4], align_corners=False))
    _raises(ValueError, "Expected theta to have floating point type, but got torch.int64",
            lambda: F.affine_grid(theta.long(), [2, 3, 4, 5], align_corners=False))
    _raises(ValueError, "Expected non-zero, positive output size. Got [2, 3, 0, 5]",
            lambda: F.affine_grid(theta, [2, 3, 0, 5], align_corners=False))
    _raises(RuntimeError, "Expected size for first two dimensions of batch2 tensor to be: [3, 3] but got: [2, 3].",
            lambda: F.affine_grid(theta, [3, 3, 4, 5], align_corners=False))
    _raises(RuntimeError, "AffineGridGenerator needs 4d (spatial) or 5d (volumetric) inputs.",
            lambda: tape.affine_grid_generator(theta, [2, 3, 4], False))
    _raises(RuntimeError, "shape '[2, 4, 5, 2]' is invalid for input of size 120",
            lambda: tape.affine_grid_generator(tape.zeros(2, 3, 3), [2, 3, 4, 5], False))
    with pytest.warns(UserWarning, match="unit-size grids when align_corners=True"):
        F.affine_grid(theta, [2, 3, 1, 5], align_corners=True)
