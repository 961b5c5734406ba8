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
