"""Tests for ``tape.autograd.gradcheck`` / ``gradgradcheck`` and the ``tape.testing`` strategies.

* gradcheck and gradgradcheck (slow and fast mode) return True on a range of
  tape functions: elementwise, broadcasting, reductions, matrix products, shape
  ops, several inputs and outputs, 0-d tensors, non-tensor arguments, inputs
  that do not require grad, integer outputs.
* They catch wrong derivatives, which are built by mixing ops with
  ``.detach()``: ``x.detach() * x`` has the value ``x**2`` but the gradient
  ``x``; the "straight-through" ``sin`` (value ``sin x``, gradient
  ``cos(x).detach()``) has a correct first derivative and a zero second one.
* PyTorch's messages and warnings: the float32 warning, "Jacobian mismatch for
  output i with respect to input j", "numerical:" and "analytical:".
* ``tape.testing``: the strategies draw valid shapes and tensors, and
  ``check_grads`` is used in property tests.
"""
from __future__ import annotations

import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tape
from tape.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from tape.testing import broadcastable_shapes, check_grads, shapes, tensors

D = tape.float64
# Property tests that run gradgradcheck are the slow ones: half of the profile's examples.
FEWER = settings(max_examples=max(1, settings.default.max_examples // 2))


def leaf(*shape, low=-2.0, high=2.0, seed=0):
    rng = np.random.default_rng(seed)
    return tape.tensor(rng.uniform(low, high, shape), dtype=D, requires_grad=True)


def straight_through_sin(x):
    """Value sin(x), gradient cos(x) (right), but the gradient is detached: second derivative 0 (wrong)."""
    return x.sin().detach() + (x - x.detach()) * x.cos().detach()


# --- gradcheck and gradgradcheck pass -------------------------------------------------------------
X3 = leaf(3, seed=1)
POS3 = leaf(3, low=0.5, high=2.0, seed=2)
A23 = leaf(2, 3, seed=3)
B34 = leaf(3, 4, seed=4)
C2x3x4 = leaf(2, 3, 4, seed=5)
S = tape.tensor(0.7, dtype=D, requires_grad=True)
CONST = tape.tensor([1.5, -0.5, 2.0], dtype=D)            # does not require grad

CASES = {
    "sin*x": (lambda x: x.sin() * x, (X3,)),
    "exp_tanh_sigmoid": (lambda x: (x.exp(), x.tanh(), x.sigmoid()), (X3,)),
    "log_sqrt_reciprocal": (lambda x: x.log() + x.sqrt() * x.reciprocal(), (POS3,)),
    "pow": (lambda x, y: x ** y + x ** 3 + 2 ** y, (POS3, X3)),
    "div_sub": (lambda x, y: (x - y) / (y * y + 1), (X3, POS3)),
    "broadcast_row": (lambda a, x: a * x + x, (A23, X3)),
    "broadcast_col": (lambda a, c: a / (c.exp() + 1), (A23, leaf(2, 1, seed=6))),
    "broadcast_0d": (lambda s, a: (s * a).tanh() - s, (S, A23)),
    "reductions": (lambda a: (a.sum(), a.sum(0), a.mean(dim=1, keepdim=True), a.sum(dim=(0, 2))), (C2x3x4,)),
    "matmul_2d": (lambda a, b: a @ b, (A23, B34)),
    "mm_mv_dot": (lambda a, x, y: (a.mm(a.t()), a.mv(x), x.dot(y)), (A23, X3, POS3)),
    "batched_matmul": (lambda c, b: tape.matmul(c, b.t()), (C2x3x4, leaf(5, 4, seed=7))),
    "shape_ops": (lambda c: (c.reshape(4, 6).t(), c.transpose(0, 2).unsqueeze(1), c.select(1, 2),
                             c[:, 1:, ::2]), (C2x3x4,)),
    "expand_squeeze": (lambda c: c.expand(2, 3, 4) * 2 + c.squeeze(1).sum(), (leaf(1, 1, 4, seed=8),)),
    "unbind_outputs": (lambda a: a.unbind(0), (A23,)),
    "clamp_max_min": (lambda x, y: (x.clamp(-1.5, 1.5), tape.maximum(x, y), tape.minimum(x, y)),
                      (tape.tensor([-1.0, 0.3, 1.0], dtype=D, requires_grad=True),
                       tape.tensor([0.5, -0.2, 1.7], dtype=D, requires_grad=True))),
    "0d": (lambda s: s * s.sin() + s.exp(), (S,)),
    "non_tensor_args": (lambda x, k, name, c: x * k + c if name == "affine" else x, (X3, 3.0, "affine", CONST)),
    "input_without_grad": (lambda c, x: c * x.sin(), (CONST, X3)),
    "unused_input": (lambda x, y: x * 2, (X3, POS3)),
    "integer_and_bool_outputs": (lambda x: (x * x, (x > 0).long(), x > 0), (X3,)),
    "same_tensor_twice": (lambda a, b: a * b.sin(), (X3, X3)),
    "list_inputs": (lambda x, y: x * y, [X3, POS3]),
    "single_tensor_input": (lambda x: x.sin(), X3),
    "non_leaf_input": (lambda x: x.sin() * x, (X3 * 2,)),       # its history must survive the checks
    "identity": (lambda x: x, (X3,)),
    "empty_input": (lambda x, y: (x * 2, y.sum() + x.sum()), (leaf(0), X3)),
    "list_output_and_number": (lambda x: [x.exp(), 3.0], (X3,)),
    "in_place_ops": (lambda x: x.clone().mul_(2).add_(x.sin()), (X3,)),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
def test_gradcheck_passes(name, fast_mode):
    fn, inputs = CASES[name]
    assert gradcheck(fn, inputs, fast_mode=fast_mode) is True
    assert gradgradcheck(fn, inputs, fast_mode=fast_mode) is True


def test_gradgradcheck_with_given_grad_outputs():
    go = tape.tensor([[0.5, -1.0, 2.0, 0.1], [1.0, 0.0, -0.3, 0.7]], dtype=D, requires_grad=True)
    assert gradgradcheck(lambda a, b: a @ b, (A23, B34), go)
    assert gradgradcheck(lambda a, b: a @ b, (A23, B34), (go,))
    # A grad_output that does not require grad is not checked (only passed through).
    assert gradgradcheck(lambda a, b: a @ b, (A23, B34), go.detach())


def test_float32_with_loose_tolerances():
    x = tape.tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = tape.tensor([1.5, 0.25, -0.75], dtype=D, requires_grad=True)
    with pytest.warns(UserWarning, match="Input #0 requires gradient"):
        assert gradcheck(lambda a, b: a.sin() * b, (x, y), eps=1e-3, atol=1e-2, rtol=1e-2)
    with pytest.warns(UserWarning, match="Input #0 requires gradient"):
        assert gradgradcheck(lambda a, b: a.sin() * b, (x, y), eps=1e-3, atol=1e-2, rtol=1e-2)


def test_non_leaf_input_keeps_its_history():
    x = leaf(3, seed=13)
    y = x.exp()
    assert gradcheck(lambda t: t * t, (y,)) and gradgradcheck(lambda t: t * t, (y,))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp(x.detach().numpy()))


def test_inputs_and_grads_left_alone():
    x = leaf(4, seed=9)
    before = x.detach().numpy().copy()
    assert gradcheck(lambda t: (t * t).sum(), (x,))
    assert gradgradcheck(lambda t: (t * t).sum(), (x,))
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x.grad is None


def test_fast_mode_leaves_the_random_state_alone():
    tape.manual_seed(123)
    expected = tape.randn(5).tolist()
    tape.manual_seed(123)
    assert gradcheck(lambda t: t.exp(), (leaf(3),), fast_mode=True)
    assert tape.randn(5).tolist() == expected


def test_jacobian_layout_is_inputs_by_outputs():
    from tape.autograd.gradcheck import _analytical_jacobian, _numerical_jacobians
    x = leaf(2, seed=10)
    w = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    fn = lambda t: t @ tape.tensor(w, dtype=D)
    (num,) = _numerical_jacobians(fn, (x,), (fn(x),), 1e-6)
    (ana,) = _analytical_jacobian([x], fn(x))
    assert num[0].shape == ana.shape == (2, 3)
    np.testing.assert_allclose(num[0], w, rtol=1e-8)
    np.testing.assert_array_equal(ana, w)


# --- gradcheck fails ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
def test_wrong_derivative_is_caught(fast_mode):
    wrong = lambda x: x.detach() * x
    with pytest.raises(GradcheckError, match="Jacobian mismatch for output 0 with respect to input 0"):
        gradcheck(wrong, (X3,), fast_mode=fast_mode)
    assert gradcheck(wrong, (X3,), raise_exception=False, fast_mode=fast_mode) is False
    assert issubclass(GradcheckError, RuntimeError)


@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
def test_tolerances_are_absolute_plus_relative(fast_mode):
    # Central differences of x**3 with eps = 0.02 are off by eps**2 = 4e-4 (of x**4's gradient, by
    # 4 * eps**2 * x): beyond atol = 1e-5 where the derivative is 0, within rtol = 1e-3 of it at x = 10.
    # PyTorch 2.13 gives these verdicts.
    def verdict(fn, x0, check=gradcheck, **tolerances):
        x = tape.tensor([x0], dtype=D, requires_grad=True)
        return check(fn, (x,), eps=0.02, raise_exception=False, fast_mode=fast_mode, **tolerances)

    cube = lambda x: x ** 3  # noqa: E731
    assert verdict(cube, 0.0) is False
    assert verdict(cube, 0.0, atol=1e-3) is True
    assert verdict(cube, 0.0, atol=1e-5, rtol=1.0) is True
    assert verdict(cube, 10.0) is True
    assert verdict(cube, 10.0, rtol=1e-7) is False
    quartic = lambda x: x ** 4  # noqa: E731
    assert verdict(quartic, 0.0, gradgradcheck) is False
    assert verdict(quartic, 0.0, gradgradcheck, atol=1e-2) is True
    assert verdict(quartic, 10.0, gradgradcheck) is True
    assert verdict(quartic, 10.0, gradgradcheck, rtol=1e-7) is False


def test_error_message_names_indices_and_shows_jacobians():
    x = tape.tensor([1.0, 2.0], dtype=D, requires_grad=True)
    y = tape.tensor([3.0, -1.0], dtype=D, requires_grad=True)

    def f(c, x, y):                      # output 1 is wrong with respect to y, the input #1 requiring grad
        return x * c, y.detach() * y + x

    with pytest.raises(GradcheckError) as info:
        gradcheck(f, (CONST[:2], x, y))
    msg = str(info.value)
    assert msg.startswith("Jacobian mismatch for output 1 with respect to input 1,\nnumerical:tensor(")
    num, ana = re.fullmatch(r".*\nnumerical:(.*)\nanalytical:(.*)\n", msg, re.DOTALL).groups()
    # d(y^2)/dy = 2y numerically, y analytically: diag(6, -2) against diag(3, -1).
    assert "6." in num and "-2." in num and "dtype=torch.float64" in num
    assert "3." in ana and "-1." in ana and "dtype=torch.float64" in ana


@pytest.mark.torch
def test_error_message_matches_pytorch():
    torch = pytest.importorskip("torch")
    messages = []
    for lib, check in ((tape, gradcheck), (torch, torch.autograd.gradcheck)):
        x = lib.tensor([0.5, -1.25, 2.0], dtype=lib.float64, requires_grad=True)
        with pytest.raises(RuntimeError) as info:
            check(lambda t: (t * 2, t.detach() * t), (x,))
        messages.append(str(info.value).replace("-0.0000", " 0.0000"))
    assert messages[0] == messages[1]
    assert messages[0].startswith("Jacobian mismatch for output 1 with respect to input 0,\nnumerical:")


def test_wrong_second_derivative_is_caught():
    x = leaf(3, seed=11)
    assert gradcheck(straight_through_sin, (x,))                # the first derivative is right
    with pytest.raises(GradcheckError, match="Jacobian mismatch for output 0 with respect to input 0") as info:
        gradgradcheck(straight_through_sin, (x,))
    assert "analytical:tensor([[0., 0., 0.]," in str(info.value)
    assert gradgradcheck(straight_through_sin, (x,), raise_exception=False) is False
    assert gradgradcheck(straight_through_sin, (x,), raise_exception=False, fast_mode=True) is False


def test_non_differentiable_outputs():
    x = leaf(3)
    # No output requires grad: the numerical Jacobian must then be zero.
    with pytest.raises(GradcheckError, match="Numerical gradient for function expected to be zero"):
        gradcheck(lambda t: t.detach() * 2, (x,))
    assert gradcheck(lambda t: (t > 0).double(), (x,))


def test_float32_input_warns():
    x = tape.tensor([0.5, 1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match=re.escape(
            "Input #0 requires gradient and is not a double precision floating point or complex. This check "
            "will likely fail if all the inputs are not of double precision floating point or complex. ")):
        gradcheck(lambda t: t * 2, (x,), eps=1e-3, atol=1e-3, rtol=1e-2)
    c = tape.tensor([1.0, 2.0], dtype=D)
    with pytest.warns(UserWarning, match=r"^Input #1 requires gradient"):
        gradcheck(lambda c, t: t * 2, (c, tape.tensor([1.0], requires_grad=True)), raise_exception=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                 # no warning for float64 inputs
        assert gradcheck(lambda t: t * 2, (leaf(2),))


def test_argument_errors():
    with pytest.raises(ValueError, match="gradcheck expects at least one input tensor to require gradient"):
        gradcheck(lambda t: t * 2, (CONST,))
    assert gradcheck(lambda t: t * 2, (X3,), check_forward_ad=True)      # (forward mode: test_forward_ad.py)
    with pytest.raises(AssertionError, match="^Expected at least one of check_forward_ad or check_backward_ad"):
        gradcheck(lambda t: t * 2, (X3,), check_backward_ad=False)


# --- tape.testing -----------------------------------------------------------------------------------------
def test_tape_does_not_import_the_strategies_or_hypothesis():
    code = ("import sys, tape; assert 'tape.testing._strategies' not in sys.modules; "
            "assert 'hypothesis' not in sys.modules; tape.testing.assert_close(tape.ones(2), tape.ones(2))")
    subprocess.run([sys.executable, "-c", code], check=True)


@given(shapes())
def test_shapes_default_bounds(shape):
    assert isinstance(shape, tuple) and 0 <= len(shape) <= 3 and all(1 <= s <= 4 for s in shape)


@given(shapes(min_dims=2, max_dims=2, min_side=3, max_side=5))
def test_shapes_bounds(shape):
    assert len(shape) == 2 and all(3 <= s <= 5 for s in shape)


@given(st.data(), shapes())
def test_broadcastable_shapes_broadcast(data, shape):
    other = data.draw(broadcastable_shapes(shape))
    out = tuple(tape.broadcast_shapes(shape, other))
    assert out == np.broadcast_shapes(shape, other)
    for a, b in zip(reversed(shape), reversed(other)):
        assert a == b or 1 in (a, b)
    assert tuple((tape.zeros(shape) + tape.zeros(other)).shape) == out


@given(tensors())
def test_tensors_defaults(x):
    assert isinstance(x, tape.Tensor) and x.dtype is tape.float64
    assert x.requires_grad and x.is_leaf and x.grad_fn is None
    assert len(x.shape) <= 3 and all(1 <= s <= 4 for s in x.shape)
    v = x.detach().numpy()
    assert np.all(np.isfinite(v)) and np.all(np.abs(v) <= 10)
    assert not np.any((v != 0) & (np.abs(v) < np.finfo(np.float64).tiny))     # no subnormals


@given(tensors((2, 3), dtype=tape.float32), tensors(shapes(min_dims=1, max_dims=1), requires_grad=False),
       tensors((), dtype=tape.int64, requires_grad=False),
       tensors((4,), elements=st.floats(0.5, 1.0)))
def test_tensors_arguments(a, b, i, p):
    assert a.dtype is tape.float32 and tuple(a.shape) == (2, 3) and a.requires_grad
    assert b.dim() == 1 and not b.requires_grad
    assert i.dtype is tape.int64 and i.dim() == 0 and -10 <= i.item() <= 10
    assert np.all((p.detach().numpy() >= 0.5) & (p.detach().numpy() <= 1.0))


def test_tensors_rejects_integer_requires_grad():
    with pytest.raises(ValueError, match="floating point"):
        tensors((2,), dtype=tape.int64)


@FEWER
@given(st.data())
def test_check_grads_broadcasting_arithmetic(data):
    x = data.draw(tensors(), label="x")
    y = data.draw(tensors(broadcastable_shapes(tuple(x.shape))), label="y")
    assert check_grads(lambda a, b: a * b - b / (a * a + 1), x, y)


@FEWER
@given(tensors())
def test_check_grads_smooth_unary(x):
    assert check_grads(lambda t: (t.sin() * t.tanh(), t.sigmoid().sum()), x)


@FEWER
@given(st.data(), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))
def test_check_grads_matmul(data, n, k, m):
    a = data.draw(tensors((n, k)), label="a")
    b = data.draw(tensors((k, m)), label="b")
    assert check_grads(lambda a, b: (a @ b).mean(dim=0), a, b)


@FEWER
@given(tensors(shapes(min_dims=1), elements=st.floats(0.1, 5.0)), st.floats(-2.0, 2.0))
def test_check_grads_with_number_argument(x, p):
    assert check_grads(lambda t, p: t.log() * p + t ** p, x, p)


def test_check_grads_orders():
    x = leaf(3, seed=12)
    assert check_grads(lambda t: (t * t.sin()).sum(), x, order=3)
    assert check_grads(straight_through_sin, x, order=1)
    with pytest.raises(GradcheckError):
        check_grads(straight_through_sin, x)
    with pytest.raises(ValueError, match="order"):
        check_grads(straight_through_sin, x, order=0)


def test_gradcheck_refuses_an_input_with_a_stride_0_dimension():
    x = tape.ones(1, dtype=tape.float64, requires_grad=True).expand((2, 2))
    for fast_mode in (False, True):
        with pytest.raises(RuntimeError, match=r"^The 0th input has a dimension with stride 0. gradcheck only "
                                               "supports inputs that are non-overlapping"):
            tape.autograd.gradcheck(lambda x: x, (x,), raise_exception=False, fast_mode=fast_mode)
    y = tape.ones(1, 3, dtype=tape.float64, requires_grad=True).expand((1, 3))    # (size 1: any stride)
    assert tape.autograd.gradcheck(lambda y: y * 2, (y,))


def test_undefined_output_gradient_check():
    # PyTorch's check runs backward with the outputs' gradients undefined: a hook that fails on
    # None fails gradcheck, with its warning about the check being new.
    def fn(x):
        y = x.clone()

        def hook(g):
            if g is None:
                raise RuntimeError("undefined")
        y.register_hook(hook)
        return y, x * 2

    x = tape.ones(2, dtype=tape.float64, requires_grad=True)
    with pytest.warns(UserWarning, match="^Backwards compatibility: New undefined gradient support checking"):
        with pytest.raises(RuntimeError, match="^Expected backward function to handle undefined output grads. "
                                               "Please look at \"Notes about undefined output gradients\""):
            tape.autograd.gradcheck(fn, (x,))
    assert tape.autograd.gradcheck(fn, (x,), check_undefined_grad=False)


def test_gradcheck_perturbs_the_inputs_themselves():
    # (as PyTorch's: a function reading an input it captured sees the perturbation; PyTorch's
    # test_functional.test_vjp_create_graph passes ``lambda inp, v: vjp(reducer, inputs, v)``)
    x = tape.rand(2, 2, dtype=tape.float64, requires_grad=True)
    before = x.detach().clone()
    assert tape.autograd.gradcheck(lambda inp: (x * x).sum(1), (x,))
    assert tape.autograd.gradgradcheck(lambda inp: (x ** 3).sum(1), (x,))
    assert tape.equal(x.detach(), before) and x._version == 0
    y = tape.ones(1, 3, dtype=tape.float64, requires_grad=True).expand((1, 3))
    y.data.copy_(tape.full((1, 3), 2.0, dtype=tape.float64))      # (an expanded view's .data is written through)
    assert y.tolist() == [[2.0, 2.0, 2.0]]


def test_gradcheck_perturbs_the_inputs_themselves_in_place():
    # PyTorch's test_vjp_create_graph checks a lambda that ignores its argument and reads the captured input
    x = tape.tensor([[0.3, -0.2], [1.1, 0.7]], dtype=tape.float64, requires_grad=True)
    before, version = x.detach().clone(), x._version
    for fast_mode in (False, True):
        assert tape.autograd.gradcheck(lambda _: (x * x).sum(dim=1), (x,), fast_mode=fast_mode)
        assert tape.autograd.gradgradcheck(lambda _: (x * x).sum(dim=1), (x,), fast_mode=fast_mode)
    assert tape.equal(x.detach(), before) and x._version == version


class _RandomJvp(tape.autograd.Function):
    """Doubles its input; its jvp draws random numbers (which a vmap refuses)."""

    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def vjp(ctx, g):
        return g * 2

    @staticmethod
    def jvp(ctx, t):
        tape.randn_like(t)
        return t * 2


def test_batched_forward_grad_check_maps_the_tangents_with_vmap():
    x = leaf(2)
    assert gradcheck(lambda a, b: (a.clone(), a + b), (x, 1), check_forward_ad=True, check_backward_ad=False,
                     check_undefined_grad=False, check_batched_forward_grad=True)
    assert gradcheck(lambda a, c: a.clone(), (x, x.clone()), check_forward_ad=True, check_backward_ad=False,
                     check_undefined_grad=False, check_batched_forward_grad=True)
    assert gradcheck(_RandomJvp.apply, (x,), check_forward_ad=True)
    msg = "While computing batched gradients, got: vmap: We do not yet support calling random operations inside of vmap"
    with pytest.raises(GradcheckError, match=msg):
        gradcheck(_RandomJvp.apply, (x,), check_forward_ad=True, check_batched_forward_grad=True)
    assert not gradcheck(_RandomJvp.apply, (x,), check_forward_ad=True, check_batched_forward_grad=True,
                         raise_exception=False)
