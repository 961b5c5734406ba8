"""The generated in-place variants (``ops/inplace.py``): each equals its op computed out of place,
bumps the version, takes the op's node, refuses a leaf that requires grad, and passes gradients as
the out-of-place op does."""
from __future__ import annotations

import numpy as np
import pytest

import tape
from tape.ops import PUBLIC
from tape.ops.inplace import BASES

# Arguments for bases that take more than the tensor (numbers or tensors of its shape).
ARGS = {
    "clamp": ((), {"min": 0.2, "max": 0.6}), "clip": ((-0.1, 0.5), {}), "clamp_min": ((0.3,), {}),
    "clamp_max": ((0.4,), {}), "pow": ((2,), {}), "divide": ((2.0,), {}), "true_divide": ((2.0,), {}),
    "multiply": ((3.0,), {}), "subtract": ((0.5,), {}), "eq": ((0.5,), {}), "ne": ((0.5,), {}), "lt": ((0.5,), {}),
    "le": ((0.5,), {}), "gt": ((0.5,), {}), "ge": ((0.5,), {}), "greater": ((0.5,), {}), "less": ((0.5,), {}),
    "greater_equal": ((0.5,), {}), "less_equal": ((0.5,), {}), "not_equal": ((0.5,), {}),
    "atan2": ((tape.tensor([0.3, -0.7, 0.2], dtype=tape.float64),), {}),
    "arctan2": ((tape.tensor([0.3, -0.7, 0.2], dtype=tape.float64),), {}),
    "fmod": ((0.3,), {}), "remainder": ((0.3,), {}), "hypot": ((tape.tensor([0.3, 0.7, 0.2], dtype=tape.float64),), {}),
    "copysign": ((-1.0,), {}), "xlogy": ((2.0,), {}), "logit": ((), {}), "mvlgamma": ((1,), {}), "polygamma": ((2,), {}),
    "lerp": ((tape.tensor([1.0, 2.0, 3.0], dtype=tape.float64), 0.25), {}),
    "addcmul": ((tape.tensor([1.0, 2.0, 3.0], dtype=tape.float64), tape.tensor([0.5, 0.5, 2.0], dtype=tape.float64)), {}),
    "addcdiv": ((tape.tensor([1.0, 2.0, 3.0], dtype=tape.float64), tape.tensor([0.5, 0.5, 2.0], dtype=tape.float64)), {}),
    "cumsum": ((0,), {}), "cumprod": ((0,), {}), "tril": ((), {}), "triu": ((), {}), "round": ((), {}),
    "nan_to_num": ((), {}), "logical_and": ((tape.tensor([True, False, True]),), {}),
    "logical_or": ((tape.tensor([False, False, True]),), {}), "logical_xor": ((tape.tensor([True, False, False]),), {}),
    "igamma": ((tape.tensor([0.3, 0.7, 2.0], dtype=tape.float64),), {}),
    "igammac": ((tape.tensor([0.3, 0.7, 2.0], dtype=tape.float64),), {}),
    "nextafter": ((tape.tensor([0.3, 0.7, 2.0], dtype=tape.float64),), {}),
    "renorm": ((2, 0, 0.9), {}),
}
VALUES = [0.25, 0.5, 0.75]
SQUARE = {"tril", "triu", "renorm"}
NOT_FLOAT = {"bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift",
             "gcd", "lcm"}
# PyTorch has no derivative in ``self`` for these (tests/test_special.py checks its error).
NO_SELF_DERIVATIVE = {"igamma", "igammac"}
# In place, PyTorch records a node whose backward raises NotImplementedError for these.
WITHOUT_DERIVATIVE = {"asinh", "arcsinh", "acosh", "arccosh", "atanh", "arctanh"}
GENERATED = sorted(base for base in BASES
                   if any(base + "_" in e.methods and getattr(e.fn, "__name__", "") == base + "_" and
                          e.fn.__doc__ == f"In-place version of :meth:`Tensor.{base}`." for e in PUBLIC))


def _value(base):
    v = np.array([VALUES, VALUES[::-1], VALUES]) if base in SQUARE else np.array(VALUES)
    return tape.tensor(v, dtype=tape.float64)


def test_every_base_that_exists_has_its_variant():
    methods = {n for e in PUBLIC for n in e.methods}
    assert GENERATED and all(b + "_" in methods for b in BASES if b in methods)


@pytest.mark.parametrize("base", [b for b in GENERATED if b not in NOT_FLOAT])
def test_variant_is_the_op_in_place(base):
    args, kwargs = ARGS.get(base, ((), {}))
    x = _value(base)
    expected = getattr(x, base)(*args, **kwargs)
    y = _value(base)
    v0 = y._version
    assert getattr(y, base + "_")(*args, **kwargs) is y
    assert y._version == v0 + 1 and y.dtype is tape.float64
    np.testing.assert_array_equal(y.numpy(), expected.to(tape.float64).numpy())
    leaf = _value(base).requires_grad_()
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        getattr(leaf, base + "_")(*args, **kwargs)
    if not expected.is_floating_point() or base in NO_SELF_DERIVATIVE:
        return
    w = _value(base).requires_grad_()
    out = getattr(w * 1.0, base)(*args, **kwargs)
    g_ref, = tape.autograd.grad(out.sum(), w)
    h = w * 1.0
    getattr(h, base + "_")(*args, **kwargs)
    if base in WITHOUT_DERIVATIVE:
        assert type(h.grad_fn).__name__ == type(out.grad_fn).__name__.replace("Backward0", "Backward1")
        with pytest.raises(NotImplementedError, match=f"the derivative for 'inplace version of "
                                                      f"{type(out.grad_fn).__name__[:5].lower()}' is not"):
            tape.autograd.grad(h.sum(), w)
        return
    assert type(h.grad_fn).__name__ == type(out.grad_fn).__name__
    g, = tape.autograd.grad(h.sum(), w)
    np.testing.assert_array_equal(g.numpy(), g_ref.numpy())


def test_comparison_in_place_passes_no_gradient():
    w = tape.tensor([0.25, 0.5, 0.75], dtype=tape.float64, requires_grad=True)
    h = w * 1.0
    h.eq_(tape.tensor([0.25, 0.0, 0.75], dtype=tape.float64))
    assert type(h.grad_fn).__name__ == "EqBackward1" and h.tolist() == [1.0, 0.0, 1.0]
    h.sum().backward()
    assert w.grad.tolist() == [0.0, 0.0, 0.0]


def test_integer_tensor_refuses_a_float_result():
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        tape.tensor([1, 4]).sqrt_()


@pytest.mark.torch
@pytest.mark.parametrize("base", [b for b in GENERATED if b not in NOT_FLOAT])
def test_variant_matches_pytorch(base):
    torch = pytest.importorskip("torch")

    def conv(a, lib):
        return lib.tensor(a.numpy(), dtype=lib.float64) if isinstance(a, tape.Tensor) else a

    args, kwargs = ARGS.get(base, ((), {}))
    out = []
    for lib in (tape, torch):
        w = lib.tensor(_value(base).numpy(), dtype=lib.float64, requires_grad=True)
        h = w * 1.0
        getattr(h, base + "_")(*(conv(a, lib) for a in args), **kwargs)
        grad = None
        if h.requires_grad:
            try:
                (h * lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)).sum().backward()
                grad = (w.grad + lib.zeros(3, dtype=lib.float64)).numpy()     # (PyTorch's may be a ZeroTensor)
            except NotImplementedError as e:        # (no derivative in place: WITHOUT_DERIVATIVE)
                grad = str(e)
        out.append((h.detach().numpy(), grad, h._version, type(h.grad_fn).__name__ if h.grad_fn else None))
    mine, ref = out
    np.testing.assert_allclose(mine[0], ref[0], rtol=1e-12, atol=1e-15)
    if isinstance(ref[1], str):
        assert mine[1] == ref[1] and base in WITHOUT_DERIVATIVE | NO_SELF_DERIVATIVE
    elif ref[1] is not None:
        np.testing.assert_allclose(mine[1], ref[1], rtol=1e-12, atol=1e-15)
    assert mine[2:] == ref[2:]


def test_augmented_assignments_are_in_place():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    alias = y
    y **= 3
    assert y is alias and y._version == 1 and y.grad_fn.name() == "PowBackward0"
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 12.0]
    y = x * 1
    y %= 1.5
    assert y.tolist() == [1.0, 0.5] and y.grad_fn.name() == "RemainderBackward0"
    i = tape.tensor([5, 6])
    i |= 1
    i ^= 3
    b = tape.tensor([True, False])
    b &= tape.tensor([True, True])
    assert i.tolist() == [6, 4] and b.tolist() == [True, False]
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation."):
        x **= 2
