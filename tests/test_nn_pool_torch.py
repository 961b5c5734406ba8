"""Padding, pooling, shuffles and interpolation against PyTorch 2.13: values (float32 and float64),
gradients to second order, ``grad_fn`` names and error messages."""
from __future__ import annotations

import numpy as np
import pytest

import tape

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")


def _input(shape, seed=0):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return rng.permutation(n).reshape(shape) * 0.25 + rng.uniform(-0.05, 0.05, shape)


def _run(M, f, a, w, dtype):
    x = M.tensor(a, dtype=dtype, requires_grad=True)
    y = f(M, x)
    y = y[0] if isinstance(y, tuple) else y
    (g,) = M.autograd.grad((y * M.tensor(w, dtype=dtype)).sum(), x, create_graph=True)
    (gg,) = M.autograd.grad((g * g).sum() + (y * y).sum(), x)
    return y, g, gg


def same(f, shape, dtype="float64", seed=0, name=True):
    """``f(M, x)`` for tape and torch: values, gradient and a second-order gradient agree, and the nodes."""
    a = _input(shape, seed)
    out = f(torch, torch.tensor(a, dtype=getattr(torch, dtype)))
    w = np.random.default_rng(seed + 1).standard_normal(tuple((out[0] if isinstance(out, tuple) else out).shape))
    yt, gt, ggt = _run(torch, f, a, w, getattr(torch, dtype))
    ya, ga, gga = _run(tape, f, a, w, getattr(tape, dtype))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    assert tuple(ya.shape) == tuple(yt.shape)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), **tol)
    np.testing.assert_allclose(ga.detach().numpy(), gt.detach().numpy(), **tol)
    np.testing.assert_allclose(gga.numpy(), ggt.numpy(), **tol)
    if name:
        assert ya.grad_fn.name() == yt.grad_fn.name()
    return ya, yt


def raises_same(f):
    """``f(M)`` raises the same exception type and message in tape and torch."""
    with pytest.raises(Exception) as et:
        f(torch)
    with pytest.raises(Exception) as ea:
        f(tape)
    assert type(ea.value) is type(et.value) and str(ea.value) == str(et.value), (str(ea.value), str(et.value))


# --- padding -------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", [((2, 3, 5), (1, 2)), ((2, 3, 4), (2, 1, -1, 2)), ((3, 5), (-1, 3)),
                                       ((1, 2, 3, 3, 4), (1, 1, 2, 1, 0, 2))])
def test_pad_as_pytorch(mode, shape, pad):
    same(lambda M, x: M.nn.functional.pad(x, pad, mode=mode), shape)


def test_pad_float32_and_value():
    same(lambda M, x: M.nn.functional.pad(x, (1, 2, 0, 1), value=-2.5), (2, 3, 3), "float32")
    same(lambda M, x: M.nn.functional.pad(x, (3, 2, 1, 1), mode="reflect"), (2, 4, 4), "float32")
    same(lambda M, x: M.constant_pad_nd(x, (1, -1, 2, 0), 1.5), (2, 3, 3))
    same(lambda M, x: M.nn.functional.pad(x, (-4, 0, 1, 0)), (3, 4))


@pytest.mark.parametrize("args", [((1, 3, 4), (1, 1, 1), "foo", None), ((1, 3, 4), (1, 1, 1), "reflect", 2.0),
                                  ((1, 3, 4), (1,) * 8, "constant", None), ((1, 3, 4), (1, 1), "reflect", 1.0),
                                  ((1, 3, 4), (1,) * 6, "reflect", None), ((3, 4), (1, 1, 1, 1), "circular", None),
                                  ((1, 3, 4), (4, 1), "reflect", None), ((1, 3, 3, 4), (0, 0, 3, 1), "reflect", None),
                                  ((1, 3, 3, 4), (4, 0, 0, 0), "reflect", None),
                                  ((1, 3, 4), (-5, 0), "replicate", None), ((1, 3, 4), (-4, 0), "reflect", None),
                                  ((1, 3, 0), (1, 1), "replicate", None), ((1, 3, 0, 4), (1, 1, 1, 1), "reflect", None),
                                  ((1, 3, 4), (5, 1), "circular", None), ((1, 3, 4), (-2, -3), "circular", None),
                                  ((1, 3, 4), (-5, 2), "constant", None), ((3, 4), (-3, -2), "constant", None)])
def test_pad_errors_as_pytorch(args):
    shape, pad, mode, value = args
    raises_same(lambda M: M.nn.functional.pad(M.ones(shape), pad, mode=mode, value=value))


def test_pad_argument_errors_as_pytorch():
    raises_same(lambda M: M.nn.functional.pad(M.ones(1, 3, 4), (1.5, 1)))
    raises_same(lambda M: M.nn.functional.pad(M.ones(1, 3, 4), (True, 1)))
    raises_same(lambda M: M.nn.functional.pad(M.ones(1, 3, 4), 3))
    raises_same(lambda M: M.nn.functional.pad([1.0], (1, 1)))
    raises_same(lambda M: M.nn.functional.pad(M.ones(1, 3, 4), (1, 1), "constant", "x"))
    raises_same(lambda M: M.nn.functional.pad(M.ones(1, 3, 4), (1, 1), "constant", M.ones(2)))


def test_pad_module_reprs_as_pytorch():
    for name, args in [("ZeroPad1d", (1,)), ("ZeroPad2d", ((1, 0, 2, 1),)), ("ZeroPad3d", (1,)),
                       ("ConstantPad1d", (2, 1.5)), ("ConstantPad2d", (1, 0)), ("ConstantPad3d", ((1, 2, 0, 0, 1, 1), 3)),
                       ("ReflectionPad1d", (2,)), ("ReflectionPad2d", (1,)), ("ReflectionPad3d", (1,)),
                       ("ReplicationPad1d", ((1, 2),)), ("ReplicationPad2d", (1,)), ("ReplicationPad3d", (1,)),
                       ("CircularPad1d", (1,)), ("CircularPad2d", (1,)), ("CircularPad3d", (1,))]:
        assert repr(getattr(tape.nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))


# --- pooling -------------------------------------------------------------------------------
POOLS = [
    ("max_pool2d", lambda M, x: M.nn.functional.max_pool2d(x, 2), (2, 3, 6, 6)),
    ("max_pool2d_ceil_pad", lambda M, x: M.nn.functional.max_pool2d(x, 3, 2, 1, ceil_mode=True), (2, 3, 7, 7)),
    ("max_pool2d_dilation", lambda M, x: M.nn.functional.max_pool2d(x, (2, 3), (1, 2), (1, 1), (2, 1)), (1, 2, 7, 8)),
    ("max_pool2d_indices_unbatched", lambda M, x: M.nn.functional.max_pool2d(x, 2, return_indices=True), (3, 6, 5)),
    ("max_pool3d", lambda M, x: M.nn.functional.max_pool3d(x, 2, 1, 1), (1, 2, 3, 4, 4)),
    ("max_pool1d", lambda M, x: M.nn.functional.max_pool1d(x, 3, 2, 1, ceil_mode=True), (2, 3, 8)),
    ("tape_max_pool1d_with_indices", lambda M, x: M.max_pool1d_with_indices(x, 2, 1), (3, 5)),
    ("avg_pool2d", lambda M, x: M.nn.functional.avg_pool2d(x, 3, 2, 1), (2, 3, 7, 7)),
    ("avg_pool2d_ceil_no_pad_count", lambda M, x: M.nn.functional.avg_pool2d(x, 3, 2, 1, ceil_mode=True,
                                                                              count_include_pad=False), (2, 3, 8, 8)),
    ("avg_pool2d_divisor", lambda M, x: M.nn.functional.avg_pool2d(x, 2, divisor_override=3), (2, 3, 4, 4)),
    ("avg_pool3d", lambda M, x: M.nn.functional.avg_pool3d(x, 2, 1, 1), (1, 2, 3, 4, 4)),
    ("avg_pool1d", lambda M, x: M.nn.functional.avg_pool1d(x, 3, 2, 1, ceil_mode=True), (2, 3, 8)),
    ("tape_avg_pool1d", lambda M, x: M.avg_pool1d(x, 2), (3, 5)),
    ("adaptive_avg_pool2d", lambda M, x: M.nn.functional.adaptive_avg_pool2d(x, (3, 2)), (2, 3, 7, 5)),
    ("adaptive_avg_pool2d_mean", lambda M, x: M.nn.functional.adaptive_avg_pool2d(x, 1), (2, 3, 7, 5)),
    ("adaptive_avg_pool3d_none", lambda M, x: M.nn.functional.adaptive_avg_pool3d(x, (2, None, 3)), (1, 2, 3, 4, 5)),
    ("adaptive_avg_pool1d", lambda M, x: M.nn.functional.adaptive_avg_pool1d(x, 3), (2, 7)),
    ("adaptive_max_pool2d", lambda M, x: M.nn.functional.adaptive_max_pool2d(x, (3, 2)), (2, 3, 7, 5)),
    ("adaptive_max_pool3d", lambda M, x: M.nn.functional.adaptive_max_pool3d(x, 2, return_indices=True), (1, 2, 3, 4, 5)),
    ("adaptive_max_pool1d", lambda M, x: M.nn.functional.adaptive_max_pool1d(x, 3), (2, 2, 7)),
    ("lp_pool2d", lambda M, x: M.nn.functional.lp_pool2d(x.abs() + 0.5, 2, 3, 2), (2, 3, 7, 7)),
    ("lp_pool1d", lambda M, x: M.nn.functional.lp_pool1d(x.abs() + 0.5, 3, 2), (2, 3, 7)),
    ("lp_pool3d_inf", lambda M, x: M.nn.functional.lp_pool3d(x, float("inf"), 2), (1, 2, 4, 4, 4)),
]


@pytest.mark.parametrize("name,f,shape", POOLS, ids=[p[0] for p in POOLS])
def test_pool_as_pytorch(name, f, shape):
    same(f, shape)


@pytest.mark.parametrize("name,f,shape", POOLS[::3], ids=[p[0] for p in POOLS[::3]])
def test_pool_float32_as_pytorch(name, f, shape):
    same(f, shape, "float32")


def _indices(M, f, shape):
    return f(M, M.tensor(_input(shape)))[1].tolist()


def test_pool_indices_and_unpool_as_pytorch():
    for f, shape in [(lambda M, x: M.nn.functional.max_pool2d(x, 3, 2, 1, return_indices=True), (2, 3, 6, 6)),
                     (lambda M, x: M.nn.functional.max_pool3d(x, 2, return_indices=True), (1, 2, 4, 4, 4)),
                     (lambda M, x: M.nn.functional.max_pool1d(x, 3, 2, return_indices=True), (3, 7)),
                     (lambda M, x: M.nn.functional.adaptive_max_pool2d(x, (3, 4), return_indices=True), (2, 5, 7)),
                     (lambda M, x: M.adaptive_max_pool1d(x, 4), (2, 3, 6))]:
        assert _indices(tape, f, shape) == _indices(torch, f, shape)
    same(lambda M, x: M.nn.functional.max_unpool2d(*M.nn.functional.max_pool2d(x, 3, 2, 1, return_indices=True), 3, 2, 1,
                                                   output_size=(6, 6)), (2, 3, 6, 6))
    same(lambda M, x: M.nn.functional.max_unpool1d(*M.nn.functional.max_pool1d(x, 2, return_indices=True), 2), (3, 6))
    same(lambda M, x: M.nn.functional.max_unpool3d(*M.nn.functional.max_pool3d(x, 2, return_indices=True), 2),
         (1, 2, 4, 4, 4))


def test_integer_pools_as_pytorch():
    for f in (lambda M, x: M.nn.functional.max_pool2d(x, 2), lambda M, x: M.nn.functional.avg_pool2d(x, 3, 1, 1),
              lambda M, x: M.nn.functional.avg_pool2d(-x, 2, divisor_override=3)):
        assert f(tape, tape.arange(32).reshape(1, 2, 4, 4)).tolist() == f(torch, torch.arange(32).reshape(1, 2, 4, 4)).tolist()


def test_max_pool_nan_and_infinite_windows_as_pytorch():
    a = np.array([[[[np.nan, 1, 2, np.nan], [0, -np.inf, 5, 1], [-np.inf, -np.inf, 3, 3], [-np.inf, -np.inf, 3, np.nan]]]])
    for p in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1)):
        got = [M.nn.functional.max_pool2d(M.tensor(a), return_indices=True, **p) for M in (tape, torch)]
        assert got[0][1].tolist() == got[1][1].tolist()
        np.testing.assert_array_equal(got[0][0].numpy(), got[1][0].numpy())


def test_pool_ties_take_the_first_max_as_pytorch():
    a = np.array([[[[1.0, 1.0, 2.0, 2.0], [1.0, 0.0, 2.0, 2.0], [3.0, 3.0, 0.0, 0.0], [3.0, 3.0, 0.0, 0.0]]]])
    for p in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1)):
        got = [M.nn.functional.max_pool2d(M.tensor(a), return_indices=True, **p)[1].tolist() for M in (tape, torch)]
        assert got[0] == got[1]


_X4 = (1, 2, 5, 5)
POOL_ERRORS = [
    lambda M: M.nn.functional.max_pool2d(M.ones(_X4), (2, 2, 2)),
    lambda M: M.nn.functional.max_pool2d(M.ones(_X4), 2, (2, 2, 2)),
    lambda M: M.nn.functional.max_pool2d(M.ones(_X4), 2, 2, (1, 1, 1)),
    lambda M: M.nn.functional.max_pool2d(M.ones(_X4), 2, 2, 0, (1, 1, 1)),
    lambda M: M.nn.functional.max_pool2d(M.ones(_X4), (0, 2)),
    lambda M: M.nn.functional.max_pool2d(M.ones(_X4), (0, 2), 1),
    lambda M: M.nn.functional.max_pool2d(M.ones(_X4), 2, 0),
    lambda M: M.nn.functional.max_pool2d(M.ones(_X4), 2, 2, 0, 0),
    lambda M: M.nn.functional.max_pool2d(M.ones(_X4), 2, 2, 2),
    lambda M: M.nn.functional.max_pool2d(M.ones(_X4), 2, 2, -1),
    lambda M: M.nn.functional.max_pool2d(M.ones(5, 5), 2),
    lambda M: M.nn.functional.max_pool2d(M.ones(1, 2, 1, 1), 2),
    lambda M: M.nn.functional.max_pool2d(M.ones(1, 0, 4, 4), 2),
    lambda M: M.nn.functional.max_pool2d(M.ones(_X4), 2.5),
    lambda M: M.nn.functional.max_pool3d(M.ones(1, 1, 4, 4, 4), (2, 2)),
    lambda M: M.nn.functional.max_pool3d(M.ones(4, 4), 2),
    lambda M: M.nn.functional.max_pool3d(M.ones(1, 1, 1, 4, 4), 2),
    lambda M: M.nn.functional.max_pool1d(M.ones(5), 2),
    lambda M: M.nn.functional.max_pool1d(M.ones(1, 5), (2, 2)),
    lambda M: M.nn.functional.max_pool1d(M.ones(1, 5), 0),
    lambda M: M.nn.functional.max_pool1d(M.ones(1, 5), 2, 0),
    lambda M: M.nn.functional.max_pool1d(M.ones(1, 5), 2, 2, 2),
    lambda M: M.nn.functional.max_pool1d(M.ones(1, 1), 2),
    lambda M: M.nn.functional.max_pool1d(M.ones(1, 5), 2, 2, 0, 0),
    lambda M: M.nn.functional.max_pool1d(M.ones(1, 1), 2, return_indices=True),
    lambda M: M.nn.functional.avg_pool2d(M.ones(_X4), (2, 2, 2)),
    lambda M: M.nn.functional.avg_pool2d(M.ones(_X4), 2, (2, 2, 2)),
    lambda M: M.nn.functional.avg_pool2d(M.ones(_X4), (0, 2)),
    lambda M: M.nn.functional.avg_pool2d(M.ones(_X4), 2, 2, 2),
    lambda M: M.nn.functional.avg_pool2d(M.ones(_X4), 2, divisor_override=0),
    lambda M: M.nn.functional.avg_pool2d(M.ones(5, 5), 2),
    lambda M: M.nn.functional.avg_pool2d(M.ones(1, 2, 1, 1), 2),
    lambda M: M.nn.functional.avg_pool3d(M.ones(1, 1, 4, 4, 4), (2, 2)),
    lambda M: M.nn.functional.avg_pool3d(M.ones(4, 4, 4), 2),
    lambda M: M.nn.functional.avg_pool3d(M.ones(1, 1, 1, 4, 4), 2),
    lambda M: M.nn.functional.avg_pool3d(M.ones(1, 1, 4, 4, 4), 2, 2, 2),
    lambda M: M.nn.functional.avg_pool1d(M.ones(5), 2),
    lambda M: M.nn.functional.avg_pool1d(M.ones(1, 1), 2),
    lambda M: M.nn.functional.avg_pool1d(M.ones(1, 5), (2, 2)),
    lambda M: M.nn.functional.adaptive_avg_pool2d(M.ones(5), 2),
    lambda M: M.nn.functional.adaptive_avg_pool2d(M.ones(_X4), (2, 2, 2)),
    lambda M: M.nn.functional.adaptive_avg_pool2d(M.ones(_X4), (-1, 2)),
    lambda M: M.nn.functional.adaptive_avg_pool2d(M.ones(1, 2, 0, 4), 2),
    lambda M: M.nn.functional.adaptive_avg_pool3d(M.ones(1, 2, 4), 2),
    lambda M: M.nn.functional.adaptive_max_pool2d(M.ones(5), 2),
    lambda M: M.nn.functional.adaptive_max_pool2d(M.ones(_X4), (2, 2, 2)),
    lambda M: M.nn.functional.adaptive_max_pool2d(M.ones(1, 2, 0, 4), 2),
    lambda M: M.nn.functional.adaptive_avg_pool1d(M.ones(5), 2),
    lambda M: M.nn.functional.adaptive_avg_pool1d(M.ones(2, 5), (2, 2)),
    lambda M: M.nn.functional.adaptive_max_pool1d(M.ones(5), 2),
    lambda M: M.nn.functional.adaptive_max_pool1d(M.ones(2, 5), (2, 2)),
    lambda M: M.nn.functional.max_unpool2d(M.ones(1, 1, 2, 2), M.zeros(1, 1, 2, 2, dtype=M.int64), 2, output_size=(9, 9)),
    lambda M: M.nn.functional.max_unpool2d(M.ones(1, 1, 2, 2), M.zeros(1, 1, 2, 2, dtype=M.int64), 2, output_size=(4,)),
    lambda M: M.nn.functional.max_unpool2d(M.ones(1, 1, 2, 2), M.full((1, 1, 2, 2), 16, dtype=M.int64), 2),
    lambda M: M.nn.functional.max_unpool2d(M.ones(1, 1, 2, 2), M.zeros(1, 1, 2, 2), 2),
    lambda M: M.nn.functional.max_unpool2d(M.ones(1, 1, 2, 2), M.zeros(1, 1, 2, 1, dtype=M.int64), 2),
    # (max_pool1d checks its arguments itself, then takes the path with indices when a gradient is needed)
    lambda M: M.nn.functional.max_pool1d(M.ones(5, requires_grad=True), 2),
    lambda M: M.nn.functional.max_pool1d(M.ones(1, 5, requires_grad=True), (2, 2)),
    lambda M: M.nn.functional.max_pool1d(M.ones(1, 5, requires_grad=True), 0),
    lambda M: M.nn.functional.max_pool1d(M.ones(1, 5, requires_grad=True), 2, 2, 2),
    lambda M: M.nn.functional.max_pool1d(M.ones(1, 1, requires_grad=True), 2),
    lambda M: M.nn.functional.max_pool1d(M.ones(1, 5), 2, 2, -1),
    lambda M: M.nn.functional.avg_pool2d(M.ones(1, 1, 4, 4), 2, 2, (1, 1, 1)),
    lambda M: M.nn.functional.avg_pool3d(M.ones(1, 1, 4, 4, 4), 2, (2, 2)),
    lambda M: M.nn.functional.avg_pool3d(M.ones(1, 1, 4, 4, 4), 2, 2, (1, 1)),
    lambda M: M.nn.functional.avg_pool3d(M.ones(1, 0, 4, 4, 4), 2),
    lambda M: M.nn.functional.max_pool3d(M.ones(1, 1, 4, 4, 4), 2, (2, 2)),
    lambda M: M.nn.functional.max_pool3d(M.ones(1, 0, 4, 4, 4), 2),
    lambda M: M.nn.functional.max_pool3d(M.ones(1, 1, 4, 4, 4), 2, 2, 0, 0),
    lambda M: M.nn.functional.max_pool3d(M.ones(1, 1, 1, 1, 1), 2),
    lambda M: M.nn.functional.max_pool2d(M.ones(1, 1, 4, 4), 1, 1, 1),
    lambda M: M.nn.functional.max_pool2d(M.ones(1, 1, 4, 4, dtype=M.bool), 2),
    lambda M: M.nn.functional.avg_pool2d(M.ones(1, 1, 4, 4, dtype=M.bool), 2),
    lambda M: M.nn.functional.adaptive_max_pool2d(M.ones(1, 1, 4, 4), (-1, 2)),
    lambda M: M.nn.functional.adaptive_avg_pool3d(M.ones(1, 1, 4, 4, 4), (-1, 2, 2)),
    lambda M: M.nn.functional.adaptive_avg_pool3d(M.ones(1, 1, 4, 4, 4), (2, 2)),
    lambda M: M.nn.functional.adaptive_max_pool3d(M.ones(1, 1, 4, 4, 4), (2, 2)),
    lambda M: M.nn.functional.adaptive_max_pool3d(M.ones(1, 4, 4), 2),
    lambda M: M.nn.functional.adaptive_avg_pool2d(M.ones(1, 2, 4, 4, dtype=M.int64), 3),
    lambda M: M.nn.functional.adaptive_avg_pool3d(M.ones(1, 1, 4, 4, 4, dtype=M.int64), 2),
    lambda M: M.nn.functional.adaptive_max_pool2d(M.ones(1, 1, 4, 4, dtype=M.int64), 2),
    lambda M: M.nn.functional.lp_pool2d(M.ones(1, 4, 4), 2, (2, 2, 2)),
]


@pytest.mark.parametrize("k", range(len(POOL_ERRORS)))
def test_pool_errors_as_pytorch(k):
    raises_same(POOL_ERRORS[k])


def test_pool_module_reprs_as_pytorch():
    for name, args in [("MaxPool1d", (2, 1, 1, 1, True, True)), ("MaxPool2d", (3,)), ("MaxPool3d", ((1, 2, 2),)),
                       ("AvgPool1d", (3,)), ("AvgPool2d", (3, 2, 1)), ("AvgPool3d", (2,)), ("LPPool1d", (1.5, 2, 1)),
                       ("LPPool2d", (2, 3)), ("LPPool3d", (1, 2)), ("AdaptiveAvgPool1d", (3,)),
                       ("AdaptiveAvgPool2d", ((3, None),)), ("AdaptiveAvgPool3d", (2,)), ("AdaptiveMaxPool1d", (3, True)),
                       ("AdaptiveMaxPool2d", (2,)), ("AdaptiveMaxPool3d", ((1, 2, 3),)), ("MaxUnpool1d", (2,)),
                       ("MaxUnpool2d", (2,)), ("MaxUnpool3d", (2, 1))]:
        assert repr(getattr(tape.nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))


# --- shuffles ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_shuffles_as_pytorch(dtype):
    same(lambda M, x: M.nn.functional.pixel_shuffle(x, 2), (2, 8, 3, 3), dtype)
    same(lambda M, x: M.nn.functional.pixel_unshuffle(x, 2), (2, 2, 4, 6), dtype)
    same(lambda M, x: M.nn.functional.channel_shuffle(x, 2), (2, 8, 3, 3), dtype)
    same(lambda M, x: M.pixel_shuffle(x, 2), (1, 2, 8, 3, 2), dtype)
    same(lambda M, x: M.channel_shuffle(x, 3), (2, 6, 2), dtype)
    names = []
    for M in (tape, torch):
        x = M.ones(2, 8, 4, 4, dtype=M.float64, requires_grad=True)
        for f in (M.nn.functional.pixel_shuffle, M.nn.functional.pixel_unshuffle, M.nn.functional.channel_shuffle):
            (g,) = M.autograd.grad(f(x, 2).pow(2).sum(), x, create_graph=True)
            names.append(g.grad_fn.name())
    assert names[:3] == names[3:]


SHUFFLE_ERRORS = [
    lambda M: M.nn.functional.pixel_shuffle(M.ones(2, 8, 3, 3), 3),
    lambda M: M.nn.functional.pixel_shuffle(M.ones(4, 4), 2),
    lambda M: M.nn.functional.pixel_shuffle(M.ones(2, 8, 3, 3), 0),
    lambda M: M.nn.functional.pixel_shuffle(M.ones(2, 8, 3, 3), 2.0),
    lambda M: M.nn.functional.pixel_unshuffle(M.ones(2, 8, 3, 3), 2),
    lambda M: M.nn.functional.pixel_unshuffle(M.ones(2, 8, 4, 3), 2),
    lambda M: M.nn.functional.pixel_unshuffle(M.ones(4, 4), 2),
    lambda M: M.nn.functional.pixel_unshuffle(M.ones(2, 8, 3, 3), 0),
    lambda M: M.nn.functional.channel_shuffle(M.ones(2, 8, 3, 3), 3),
    lambda M: M.nn.functional.channel_shuffle(M.ones(2, 8, 3, 3), 0),
    lambda M: M.nn.functional.channel_shuffle(M.ones(2, 4), 2),
]


@pytest.mark.parametrize("k", range(len(SHUFFLE_ERRORS)))
def test_shuffle_errors_as_pytorch(k):
    raises_same(SHUFFLE_ERRORS[k])


def test_shuffle_module_reprs_as_pytorch():
    for name, args in [("PixelShuffle", (2,)), ("PixelUnshuffle", (3,)), ("ChannelShuffle", (2,))]:
        assert repr(getattr(tape.nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))


# --- interpolation -------------------------------------------------------------------------
INTERPOLATIONS = [
    (dict(scale_factor=2), (1, 2, 5)), (dict(size=7), (1, 2, 5)), (dict(size=3), (1, 2, 7)),
    (dict(scale_factor=1.7), (1, 2, 5)), (dict(size=(3, 5)), (1, 2, 4, 4)), (dict(scale_factor=(2, 3)), (1, 2, 3, 3)),
    (dict(size=(2, 3, 5)), (1, 1, 3, 4, 4)), (dict(size=7, mode="nearest-exact"), (1, 2, 5)),
    (dict(size=(3, 7), mode="nearest-exact"), (1, 2, 5, 4)), (dict(scale_factor=0.6, mode="nearest-exact"), (1, 1, 4, 5, 6)),
    (dict(size=7, mode="linear"), (1, 2, 5)), (dict(size=7, mode="linear", align_corners=True), (1, 2, 5)),
    (dict(scale_factor=1.5, mode="linear"), (2, 1, 5)), (dict(size=3, mode="linear"), (1, 2, 7)),
    (dict(size=(3, 7), mode="bilinear"), (1, 2, 5, 4)), (dict(scale_factor=2, mode="bilinear", align_corners=True),
                                                          (1, 2, 3, 4)),
    (dict(scale_factor=1.3, mode="bilinear", recompute_scale_factor=True), (1, 2, 5, 4)),
    (dict(size=(3, 7), mode="bicubic"), (1, 2, 5, 4)), (dict(scale_factor=2, mode="bicubic", align_corners=True),
                                                         (1, 2, 3, 4)),
    (dict(scale_factor=(0.7, 1.6), mode="bicubic"), (1, 2, 5, 4)), (dict(size=(3, 4, 5), mode="trilinear"), (1, 1, 4, 3, 3)),
    (dict(scale_factor=2, mode="trilinear", align_corners=True), (1, 1, 2, 3, 2)),
    (dict(size=(3, 4), mode="area"), (1, 2, 7, 5)), (dict(scale_factor=0.5, mode="area"), (1, 2, 7, 5)),
    (dict(size=3, mode="area"), (1, 2, 7)),
    (dict(size=(4, 5), mode="bilinear", antialias=True), (1, 2, 9, 11)),
    (dict(size=(13, 4), mode="bilinear", antialias=True, align_corners=True), (1, 1, 9, 11)),
    (dict(scale_factor=(0.4, 1.3), mode="bicubic", antialias=True), (1, 2, 9, 11)),
    (dict(size=(3, 20), mode="bicubic", antialias=True, align_corners=True), (1, 1, 9, 11)),
    (dict(size=(4, 13), mode="lanczos", antialias=True), (1, 2, 9, 11)),
]


@pytest.mark.parametrize("kw,shape", INTERPOLATIONS, ids=[f"{k}-{v}" for k, v in INTERPOLATIONS])
def test_interpolate_as_pytorch(kw, shape):
    same(lambda M, x: M.nn.functional.interpolate(x, **kw), shape)


@pytest.mark.parametrize("kw,shape", INTERPOLATIONS[::4], ids=[f"{k}-{v}" for k, v in INTERPOLATIONS[::4]])
def test_interpolate_float32_as_pytorch(kw, shape):
    same(lambda M, x: M.nn.functional.interpolate(x, **kw), shape, "float32")


INTERPOLATE_ERRORS = [
    dict(shape=(1, 2, 4), size=3, scale_factor=2), dict(shape=(1, 2, 4)), dict(shape=(1, 2, 4), size=(3, 3)),
    dict(shape=(1, 2, 4), size=(3.0,)), dict(shape=(1, 2, 4), scale_factor=(2, 2)),
    dict(shape=(1, 2, 4), size=3, align_corners=True), dict(shape=(1, 2, 4), size=3, recompute_scale_factor=True),
    dict(shape=(1, 2, 4), size=3, mode="bilinear"), dict(shape=(1, 2, 4, 4), size=3, mode="linear"),
    dict(shape=(1, 2, 4, 4), size=3, mode="trilinear"), dict(shape=(1, 2, 4, 4, 4), size=3, mode="bicubic"),
    dict(shape=(1, 2, 4, 4), size=3, mode="foo"), dict(shape=(2, 4), size=3), dict(shape=(1, 2, 4), size=0),
    dict(shape=(1, 2, 4, 4), size=(0, 2), mode="bilinear"), dict(shape=(1, 1, 4, 4, 4), size=(0, 1, 1)),
    dict(shape=(1, 2, 4), scale_factor=0.1), dict(shape=(1, 2, 4), size=3, antialias=True),
    dict(shape=(1, 2, 4, 4), size=3, mode="lanczos"), dict(shape=(1, 2, 0, 4), size=3, mode="bilinear"),
    dict(shape=(1, 2, 4, 4), size=3, mode="lanczos", antialias=True, align_corners=True),
    dict(shape=(1, 2, 4, 4), size=3, mode="nearest", antialias=True),
    dict(shape=(1, 2, 4, 4), size=3, mode="bicubic", antialias=True, dtype="int64"),
] + [dict(shape=s, scale_factor=2, mode=m, dtype="int64") for m, s in [
    ("nearest", (1, 1, 4)), ("nearest", (1, 1, 4, 4)), ("nearest-exact", (1, 1, 4, 4, 4)), ("linear", (1, 1, 4)),
    ("bilinear", (1, 1, 4, 4)), ("bicubic", (1, 1, 4, 4)), ("trilinear", (1, 1, 4, 4, 4))]]


@pytest.mark.parametrize("k", range(len(INTERPOLATE_ERRORS)))
def test_interpolate_errors_as_pytorch(k):
    kw = dict(INTERPOLATE_ERRORS[k])
    shape, dtype = kw.pop("shape"), kw.pop("dtype", "float32")
    raises_same(lambda M: M.nn.functional.interpolate(M.ones(shape, dtype=getattr(M, dtype)), **kw))


def test_antialiased_interpolation_nodes_as_pytorch():
    names = []
    for M in (tape, torch):
        x = M.ones(1, 1, 6, 6, dtype=M.float64, requires_grad=True)
        for mode in ("bilinear", "bicubic", "lanczos"):
            y = M.nn.functional.interpolate(x * x, size=(3, 4), mode=mode, antialias=True)
            (g,) = M.autograd.grad(y.pow(2).sum(), x, create_graph=True)
            names += [y.grad_fn.name(), g.grad_fn.next_functions[0][0].name()]
    assert names[:6] == names[6:]


def test_upsample_modules_as_pytorch():
    for name, args, kw in [("Upsample", (), dict(scale_factor=2)), ("Upsample", ((3, 4),), dict(mode="bilinear")),
                           ("UpsamplingNearest2d", (), dict(scale_factor=(2, 3))), ("UpsamplingBilinear2d", (5,), {})]:
        assert repr(getattr(tape.nn, name)(*args, **kw)) == repr(getattr(torch.nn, name)(*args, **kw))
    same(lambda M, x: M.nn.UpsamplingBilinear2d(scale_factor=2)(x), (1, 2, 3, 3))
    same(lambda M, x: M.nn.Upsample(scale_factor=1.5, mode="bicubic")(x), (1, 2, 3, 3))


def test_nodes_show_what_pytorch_s_save():
    def saved(M, f):
        x = M.ones(1, 2, 6, 6, requires_grad=True)
        fn = f(M, x).grad_fn
        return {a: (tuple(getattr(fn, a).shape) if isinstance(getattr(fn, a), M.Tensor) else getattr(fn, a))
                for a in dir(fn) if a.startswith("_saved_")}
    for f in [lambda M, x: M.nn.functional.max_pool2d(x, 3, 2, 1), lambda M, x: M.nn.functional.max_pool2d(x, 3),
              lambda M, x: M.nn.functional.avg_pool2d(x, 3, 2, 1), lambda M, x: M.nn.functional.avg_pool2d(x, 2),
              lambda M, x: M.nn.functional.adaptive_avg_pool2d(x, 3), lambda M, x: M.nn.functional.adaptive_max_pool2d(x, 3),
              lambda M, x: M.nn.functional.pixel_shuffle(x.reshape(1, 8, 3, 3), 2),
              lambda M, x: M.nn.functional.channel_shuffle(x, 2), lambda M, x: M.nn.functional.pad(x, (1, 2, 0, 1)),
              lambda M, x: M.nn.functional.pad(x, (1, 2, 0, 1), mode="reflect"),
              lambda M, x: M.nn.functional.interpolate(x, scale_factor=2, mode="bilinear"),
              lambda M, x: M.nn.functional.interpolate(x, size=3), lambda M, x: M.nn.functional.max_pool3d(x.unsqueeze(0), 2),
              lambda M, x: M.nn.functional.max_unpool2d(*M.nn.functional.max_pool2d(x, 2, return_indices=True), 2)]:
        assert saved(tape, f) == saved(torch, f)


# --- fractional max pooling ----------------------------------------------------------------
_U2 = np.random.default_rng(0).uniform(size=(2, 3, 2))
_U3 = np.random.default_rng(1).uniform(size=(1, 2, 3))
FRACTIONAL = [
    (lambda M, x: M.nn.functional.fractional_max_pool2d(x, 2, output_size=4, _random_samples=M.tensor(_U2, dtype=x.dtype)),
     (2, 3, 7, 7)),
    (lambda M, x: M.nn.functional.fractional_max_pool2d(x, (2, 3), output_size=(5, 3), return_indices=True,
                                                        _random_samples=M.tensor(_U2, dtype=x.dtype)), (2, 3, 7, 8)),
    (lambda M, x: M.nn.functional.fractional_max_pool2d(x, 3, output_ratio=(0.5, 0.5),
                                                        _random_samples=M.tensor(_U2[:1], dtype=x.dtype)), (3, 9, 8)),
    (lambda M, x: M.nn.functional.fractional_max_pool3d(x, 2, output_size=(2, 3, 3),
                                                        _random_samples=M.tensor(_U3, dtype=x.dtype)), (1, 2, 4, 5, 6)),
]


@pytest.mark.parametrize("k", range(len(FRACTIONAL)))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fractional_max_pool_as_pytorch(k, dtype):
    f, shape = FRACTIONAL[k]
    same(f, shape, dtype)
    a = _input(shape)
    out = [f(M, M.tensor(a)) for M in (tape, torch)]
    if isinstance(out[0], tuple):
        assert out[0][1].tolist() == out[1][1].tolist()


def test_fractional_max_pool_draws_as_pytorch():
    got = []
    for M in (tape, torch):
        M.manual_seed(5)
        x = M.tensor(_input((2, 3, 7, 7)), requires_grad=True)
        y, i = M.nn.functional.fractional_max_pool2d(x, 2, output_ratio=(0.5, 0.5), return_indices=True)
        m = M.nn.FractionalMaxPool3d(2, output_size=(1, 2, 2), return_indices=True)
        got.append((i.tolist(), y.grad_fn.name(), m(x.unsqueeze(0))[1].tolist(), repr(m)))
    assert got[0] == got[1]


FRACTIONAL_ERRORS = [
    lambda M: M.nn.functional.fractional_max_pool2d(M.ones(2, 3, 7, 7), 2),
    lambda M: M.nn.functional.fractional_max_pool2d(M.ones(2, 3, 7, 7), 2, output_ratio=0.5),
    lambda M: M.nn.functional.fractional_max_pool2d(M.ones(2, 3, 7, 7), 5, output_size=4),
    lambda M: M.nn.functional.fractional_max_pool2d(M.ones(2, 3, 7, 7), (2, 2, 2), output_size=4),
    lambda M: M.nn.functional.fractional_max_pool2d(M.ones(2, 3, 7, 7), 2, output_size=(4, 4, 4)),
    lambda M: M.nn.functional.fractional_max_pool2d(M.ones(2, 3, 7, 7), 2, output_size=4, _random_samples=M.rand(2, 3, 3)),
    lambda M: M.nn.functional.fractional_max_pool2d(M.ones(2, 3, 7, 7), 2, output_size=4, _random_samples=M.rand(1, 3, 2)),
    lambda M: M.nn.functional.fractional_max_pool2d(M.ones(2, 3, 7, 7), 2, output_size=8),
    lambda M: M.nn.functional.fractional_max_pool3d(M.ones(1, 2, 3, 7, 7), 2, output_size=3),
    lambda M: M.nn.functional.fractional_max_pool3d(M.ones(1, 2, 3, 7, 7), 2, output_size=(2, 2, 2)),
    lambda M: M.nn.functional.fractional_max_pool2d(M.ones(1, 2, 7, 7), 2, output_size=7),
    lambda M: M.nn.functional.fractional_max_pool3d(M.ones(1, 2, 3, 7, 7), (2, 2), output_size=3),
    lambda M: M.nn.FractionalMaxPool2d(2),
    lambda M: M.nn.FractionalMaxPool2d(2, output_ratio=1.5),
]


@pytest.mark.parametrize("k", range(len(FRACTIONAL_ERRORS)))
def test_fractional_max_pool_errors_as_pytorch(k):
    raises_same(FRACTIONAL_ERRORS[k])
