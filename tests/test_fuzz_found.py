"""What the differential fuzzer (tests/test_random_programs.py) found once it drew the catalogue's
ops: PyTorch's errors for integer and bool operands, its index errors, ``div``'s rounding modes,
``alpha`` in a function form whose first operand is a number, and a few values and gradients.

Every expectation here was read from PyTorch 2.13 (torch-free: fixed values)."""
import math
import re

import numpy as np
import pytest

import tape as torch

BOOL_SUB = ("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a mask, "
            "use the `~` or `logical_not()` operator instead.")
BOOLS_SUB = ("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` "
             "operator instead.")
BOOL_NEG = ("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use "
            "the `~` or `logical_not()` operator instead.")


def _ns():
    return {"torch": torch, "b": torch.tensor([True, False]), "i": torch.tensor([2, 0]), "f": torch.tensor([1., 2.]),
            "i3": torch.tensor([7, -7])}


ERRORS = [
    ("-b", RuntimeError, BOOL_NEG),
    ("b.neg()", RuntimeError, BOOL_NEG),
    ("b - i", RuntimeError, BOOL_SUB),
    ("i - b", RuntimeError, BOOL_SUB),
    ("b - b", RuntimeError, BOOLS_SUB),
    ("b - 1", RuntimeError, BOOL_SUB),
    ("1 - b", RuntimeError, BOOL_SUB),
    ("b - True", RuntimeError, BOOLS_SUB),
    ("f - True", RuntimeError, BOOL_SUB),
    ("True - f", RuntimeError, BOOL_SUB),
    ("b.sub(i)", RuntimeError, BOOL_SUB),
    ("i.sub_(b)", RuntimeError, BOOL_SUB),
    ("torch.sub(1, b)", RuntimeError, BOOL_SUB),
    ("torch.dist(b, f)", RuntimeError, BOOL_SUB),
    ("torch.dist(i, torch.tensor([1, 2, 3]))", RuntimeError, "The size of tensor a (2) must match the size of tensor b (3)"),
    ("torch.dist(i, i)", RuntimeError, "norm(): input dtype should be either floating point or complex. Got Long"),
    ("b.abs()", NotImplementedError, "\"abs_cpu\" not implemented for 'Bool'"),
    ("b.relu()", RuntimeError, "Boolean inputs not supported for relu"),
    ("torch.fmod(i, i)", RuntimeError, "ZeroDivisionError"),
    ("torch.fmod(i, 0)", RuntimeError, "ZeroDivisionError"),
    ("torch.remainder(i, 0)", RuntimeError, "ZeroDivisionError"),
    ("i % i", RuntimeError, "ZeroDivisionError"),
    ("torch.remainder(2, i)", RuntimeError, "ZeroDivisionError"),
    ("torch.fmod(b, b)", NotImplementedError, "\"fmod_cpu\" not implemented for 'Bool'"),
    ("torch.remainder(b, b)", NotImplementedError, "\"remainder_cpu\" not implemented for 'Bool'"),
    ("torch.pow(b, b)", NotImplementedError, "\"pow\" not implemented for 'Bool'"),
    ("b ** b", NotImplementedError, "\"pow\" not implemented for 'Bool'"),
    ("torch.hypot(i, i)", NotImplementedError, "\"hypot_cpu\" not implemented for 'Long'"),
    ("torch.hypot(b, b)", NotImplementedError, "\"hypot_cpu\" not implemented for 'Bool'"),
    ("torch.logaddexp(i, i)", NotImplementedError, "\"logaddexp_cpu\" not implemented for 'Long'"),
    ("torch.logaddexp2(b, i)", NotImplementedError, "\"logaddexp2_cpu\" not implemented for 'Long'"),
    ("b.topk(1)", RuntimeError, "topk does not support bool dtypes on CPU"),
    ("b.median()", NotImplementedError, "\"median_cpu\" not implemented for 'Bool'"),
    ("b.median(0)", NotImplementedError, "\"median_out\" not implemented for 'Bool'"),
    ("b.nanmedian()", NotImplementedError, "\"median_cpu\" not implemented for 'Bool'"),
    ("b.kthvalue(1)", NotImplementedError, "\"kthvalue_cpu\" not implemented for 'Bool'"),
    ("torch.var_mean(i)", RuntimeError, "var_mean only support floating point and complex dtypes"),
    ("torch.std_mean(i)", RuntimeError, "std_mean only support floating point and complex dtypes"),
    ("torch.var(i)", RuntimeError, "std and var only support floating point and complex dtypes"),
    ("torch.ones(2, 2, dtype=torch.int64).logcumsumexp(2)", IndexError, "Dimension out of range"),
    ("torch.tensor(2.).cummin(-2)", IndexError, "cummin(): Expected reduction dim -1 or 0 for scalar but got -2"),
    ("torch.tensor(2.).cummax(1)", IndexError, "cummax(): Expected reduction dim -1 or 0 for scalar but got 1"),
    ("torch.ones(3, 2).masked_fill(torch.ones(2, 3) > 0, 1)", RuntimeError,
     "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 1"),
    ("torch.ones(2).index_select(0, torch.tensor([-1]))", IndexError, "index out of range in self"),
    ("torch.ones(2, 3).index_select(0, torch.tensor([2]))", IndexError, "index out of range in self"),
    ("torch.ones(2, 3).index_select(1, torch.tensor([-1]))", RuntimeError,
     "INDICES element is out of DATA bounds, id=-1 axis_dim=3"),
    ("torch.ones(2, 3).index_select(-1, torch.tensor([3]))", RuntimeError,
     "INDICES element is out of DATA bounds, id=3 axis_dim=3"),
    ("torch.ones(2, 3, 4).index_select(2, torch.tensor([9]))", IndexError, "index out of range in self"),
    ("torch.take_along_dim(torch.tensor(2.), torch.tensor(0), dim=-1)", IndexError,
     "Dimension specified as 0 but tensor has no dimensions"),
    ("torch.take_along_dim(torch.ones(0, 3), torch.tensor([[1]]), dim=0)", RuntimeError, "ZeroDivisionError"),
    ("torch.div(f, 2, rounding_mode='xx')", RuntimeError,
     "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found 'xx'"),
    ("torch.div(i, 0, rounding_mode='floor')", RuntimeError, "ZeroDivisionError"),
    ("torch.div(i, 0, rounding_mode='trunc')", RuntimeError, "ZeroDivisionError"),
    ("torch.div(b, b, rounding_mode='trunc')", NotImplementedError, "\"div_trunc_cpu\" not implemented for 'Bool'"),
    ("torch.true_divide(i, i, rounding_mode='floor')", TypeError, "rounding_mode"),
    ("torch.ones(2, 3, dtype=torch.bool) @ torch.ones(3, 2, dtype=torch.bool)", NotImplementedError,
     "\"addmm_impl_cpu_\" not implemented for 'Bool'"),
    ("torch.ones(3, dtype=torch.bool) @ torch.ones(3, dtype=torch.bool)", NotImplementedError,
     "\"dot\" not implemented for 'Bool'"),
    ("torch.ones(2, 3, dtype=torch.bool) @ torch.ones(3, dtype=torch.bool)", NotImplementedError,
     "\"addmv_impl_cpu\" not implemented for 'Bool'"),
    ("torch.ones(2, 2, 3, dtype=torch.bool) @ torch.ones(2, 3, 2, dtype=torch.bool)", NotImplementedError,
     "\"bmm\" not implemented for 'Bool'"),
]


@pytest.mark.parametrize("code, exc, text", ERRORS, ids=[c for c, _, _ in ERRORS])
def test_pytorch_error(code, exc, text):
    with pytest.raises(exc, match=re.escape(text)):
        eval(code, _ns())


VALUES = [
    ("torch.add(2, f, alpha=3)", [5.0, 8.0]),
    ("torch.sub(2, f, alpha=3)", [-1.0, -4.0]),
    ("torch.div(i3, 2, rounding_mode='trunc')", [3, -3]),
    ("torch.div(i3, 2, rounding_mode='floor')", [3, -4]),
    ("torch.divide(i3, -2.0, rounding_mode='trunc')", [-3.0, 3.0]),
    ("torch.div(7, torch.tensor([2, -2]), rounding_mode='trunc')", [3, -3]),
    ("torch.div(2, f, rounding_mode='floor')", [2.0, 1.0]),
    ("torch.div(torch.tensor([1., -1., 0.]), 0.0, rounding_mode='floor')", [math.inf, -math.inf, math.nan]),
    ("torch.div(torch.tensor([1., -1., 0.]), 0.0, rounding_mode='trunc')", [math.inf, -math.inf, math.nan]),
    ("i3.div_(2, rounding_mode='floor')", [3, -4]),
    ("b ** 2", [1, 0]),
    ("torch.pow(b, i)", [1, 1]),
    ("torch.fmod(b, 2)", [1, 0]),
    ("torch.dist(i, f)", math.sqrt(5.0)),
    ("torch.hypot(i, f)", [math.hypot(2, 1), 2.0]),
    ("torch.take_along_dim(torch.arange(6.).reshape(2, 3), torch.tensor([[1, -1, -3]]), dim=1)",
     [[1.0, 2.0, 0.0], [4.0, 5.0, 3.0]]),
    ("torch.take_along_dim(torch.arange(6.).reshape(2, 3), torch.tensor([[3, 0, 0]]), dim=1)",
     [[0.0, 0.0, 0.0], [3.0, 3.0, 3.0]]),
    ("torch.gather(torch.ones(2, 3), 0, torch.tensor([], dtype=torch.int64))", []),
    ("torch.zeros(2, 3).scatter(0, torch.tensor([], dtype=torch.int64), 1.0)", [[0.0] * 3] * 2),
    ("torch.tensor(3).topk(0).values", 3),
    ("torch.cummax(torch.tensor([1., 3., 3., 2., math.nan, 5., math.nan, 1.]), 0).indices", [0, 1, 2, 2, 4, 4, 6, 6]),
    ("torch.cummin(torch.tensor([[math.nan, -0.25], [math.nan, math.nan]]), 0).indices", [[0, 0], [1, 1]]),
]


@pytest.mark.parametrize("code, expected", VALUES, ids=[c for c, _ in VALUES])
def test_pytorch_value(code, expected):
    got = eval(code, {**_ns(), "math": math})
    np.testing.assert_allclose(np.asarray(got.tolist(), float), np.asarray(expected, float), rtol=1e-6)


def test_div_rounded_node_and_zero_gradients():
    f = torch.tensor([1., 2.], requires_grad=True)
    w = torch.tensor([0.3, 0.7], requires_grad=True)
    y = torch.div(f, w, rounding_mode="trunc")
    assert y.tolist() == [3.0, 2.0]
    assert y.grad_fn.name() == "DivBackward2" and y.grad_fn._saved_rounding_mode == "trunc"
    y.sum().backward()
    assert f.grad.tolist() == [0.0, 0.0] and w.grad.tolist() == [0.0, 0.0]
    y = torch.div(f, 0.3, rounding_mode="floor")
    assert y.grad_fn.next_functions[1] == (None, 0)


def test_norm_of_order_zero_has_no_gradient():
    x = torch.tensor([1., 0., 2.], requires_grad=True)
    assert torch.autograd.grad(x.norm(0), x, allow_unused=True) == (None,)
    assert torch.autograd.grad(torch.dist(x, torch.zeros(3), 0), x, allow_unused=True) == (None,)
    (x.norm(0) * 2).backward()
    assert x.grad is None


def test_in_place_on_a_zero_dim_output_of_std_mean():
    x = torch.tensor([[[1.0, 2.0]]], requires_grad=True)
    std, mean = torch.std_mean(x, unbiased=False)
    with torch.no_grad():
        std *= 3.0
        mean.mul_(2.0)
    assert (std.item(), mean.item()) == (1.5, 3.0)


def test_in_place_on_a_view_of_a_multi_output_view_names_the_node_as_pytorch():
    v = (torch.ones(2, 3, 2, requires_grad=True) * 1).unbind(-2)[2].squeeze(-1)
    with pytest.raises(RuntimeError, match=re.escape("Output 0 of Squeeze1 is a view and is being modified inplace")):
        v += -1


MODIFIED = "one of the variables needed for gradient computation has been modified by an inplace operation"


@pytest.mark.parametrize("code, modified", [
    # addcmul saves each factor only for the other's gradient; addcdiv its numerator for the divisor's, the
    # divisor always; lerp its input and end for the weight's gradient, the weight always
    ("b = t(True); c = t(); y = torch.addcmul(a, b, c, value=2); c.add_(1)", True),
    ("b = t(True); c = t(); b1 = b * 1; y = torch.addcmul(a, b1, c, value=2); b1.add_(1)", [1.0, 1.0]),
    ("b, c = t(), t(); y = torch.addcmul(a, b, c); b.add_(1); c.add_(1)", [1.0, 1.0]),
    ("b, c = t(), t(); y = torch.addcdiv(a, b, c); b.add_(1)", [1.0, 1.0]),
    ("b, c = t(), t(); y = torch.addcdiv(a, b, c); c.add_(1)", True),
    ("b, w = t(), t(); y = torch.lerp(a, b, w); b.add_(1)", [-2.0, -3.0]),
    ("b, w = t(), t(); y = torch.lerp(a, b, w); w.add_(1)", True),
    ("b, c = t(), t(); y = torch.clamp(a, b, c); c.add_(1)", True),
])
def test_ternary_ops_save_operands_only_for_the_gradients_that_need_them(code, modified):
    ns = {"torch": torch, "a": torch.tensor([1., 2.], requires_grad=True),
          "t": lambda rg=False: torch.tensor([3., 4.], requires_grad=rg)}
    exec(code, ns)
    if modified is True:
        with pytest.raises(RuntimeError, match=MODIFIED):
            ns["y"].sum().backward()
    else:
        ns["y"].sum().backward()
        assert ns["a"].grad.tolist() == modified


def _saved(y):
    g = y.grad_fn
    return {k[7:]: getattr(g, k).tolist() if isinstance(getattr(g, k), torch.Tensor) else getattr(g, k)
            for k in dir(g) if k.startswith("_saved_")}


def test_ternary_ops_saved_values_as_pytorch_names_them():
    a, b, c = (torch.tensor([1., 2.], requires_grad=rg) for rg in (True, False, True))
    assert _saved(torch.addcmul(a, b * 3, c * 2, value=2)) == {"tensor1": [3., 6.], "tensor2": None, "value": 2}
    assert _saved(torch.addcmul(a, b * 3, c * 2, value=True))["value"] is True
    assert _saved(torch.addcdiv(a, c * 3, b * 2, value=-1.5)) == {"tensor1": None, "tensor2": [2., 4.],
                                                                   "value": -1.5}
    assert _saved(torch.addcdiv(a, b, c)) == {"tensor1": [1., 2.], "tensor2": [1., 2.], "value": 1}
    assert _saved(torch.lerp(a, b * 3, 0.5)) == {"weight": 0.5}
    assert _saved(torch.lerp(a, b * 3, c)) == {"end": [3., 6.], "self": [1., 2.], "weight": [1., 2.]}
    assert _saved(torch.lerp(a, b * 3, b)) == {"end": None, "self": None, "weight": [1., 2.]}
    assert _saved(torch.clamp(a, min=b * 3)) == {"max": None, "min": [3., 6.], "self": [1., 2.]}
    assert _saved(torch.clamp(a, max=b * 3)) == {"max": [3., 6.], "min": None, "self": [1., 2.]}
    assert _saved(torch.clamp_min(a, b * 3)) == {"min": [3., 6.], "self": [1., 2.]}
    assert _saved(torch.clamp_max(a, b * 3)) == {"max": [3., 6.], "self": [1., 2.]}
    packed = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: packed.append(t.tolist()) or t, lambda t: t):
        y1 = torch.clamp(a, b * 3, c * 2)
        y2 = torch.lerp(a, b * 3, c * 2)
    assert packed == [[2., 4.], [3., 6.], [1., 2.], [3., 6.], [1., 2.], [2., 4.]] and y1.grad_fn is not y2.grad_fn


def test_pow_of_minus_one_half_is_one_over_the_square_root():
    """PyTorch computes ``x ** -0.5`` as ``rsqrt(x)`` (-inf at -0., nan at -inf), also inside the derivative
    of ``x ** 0.5`` (found by the fuzzer: ``(a * b) ** -0.5`` with a -0. product)."""
    for dt in (torch.float32, torch.float64):
        x = torch.tensor([-0.0, 4.0, float("-inf"), -1.0], dtype=dt)
        y = x ** -0.5
        assert str(y.tolist()) == "[-inf, 0.5, nan, nan]"
        assert str((torch.tensor(-0.0, dtype=dt) ** -0.5).item()) == "-inf"
    big = torch.tensor([-0.0, 4.0, float("-inf"), -1.0] * 5000, requires_grad=True)
    assert str((big ** -0.5)[:4].tolist()) == "[-inf, 0.5, nan, nan]"
    (big ** 0.5).sum().backward()
    assert str(big.grad[:4].tolist()) == "[-inf, 0.25, nan, nan]"
    x = torch.tensor([-0.0, 0.0, 4.0], requires_grad=True)
    (x ** 0.5).sum().backward()
    assert str(x.grad.tolist()) == "[-inf, inf, 0.25]"
    x = torch.tensor(-0.0, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(x ** 0.5, x, create_graph=True)
    assert str(g.item()) == "-inf"


@pytest.mark.parametrize("code, error, message", [
    # take/put into an empty tensor (found by the fuzzer: take of an empty index_select result)
    ("torch.take(torch.ones(0), torch.tensor([0]))", IndexError, "take(): tried to take from an empty tensor"),
    ("torch.take(torch.ones(2, 0), torch.tensor([5]))", IndexError, "take(): tried to take from an empty tensor"),
    ("torch.ones(0).put_(torch.tensor([0]), torch.tensor([1.]))", IndexError,
     "put_(): Tried to put elements into an empty tensor"),
    # integer fmod/remainder check the shapes before dividing by zero (found by the fuzzer)
    ("torch.fmod(torch.tensor([[2, 0]]), torch.tensor([[0, 3, -1]]))", RuntimeError,
     "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 1"),
    ("torch.tensor([[2, 0]]) % torch.tensor([[0, 3, -1]])", RuntimeError,
     "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 1"),
    ("torch.remainder(2, torch.tensor([0]))", RuntimeError, "ZeroDivisionError"),
])
def test_errors_found_by_the_fuzzer(code, error, message):
    with pytest.raises(error, match=re.escape(message)):
        eval(code, {"torch": torch})


def test_take_of_nothing_from_an_empty_tensor():
    assert torch.take(torch.ones(0), torch.tensor([], dtype=torch.int64)).shape == (0,)


@pytest.mark.parametrize("fn", ["var_mean", "std_mean"])
def test_unused_output_of_var_mean_passes_no_nan(fn):
    """Found by the fuzzer: with no degrees of freedom left the variance is nan, and its derivative
    nan/inf; PyTorch's backward through the mean alone leaves it out (an undefined gradient), it
    does not multiply it by a zero."""
    x = torch.tensor([[1.5, 2.0]], requires_grad=True)
    _, m = getattr(torch, fn)(x, dim=0)
    (m * 2).sum().backward()
    assert x.grad.tolist() == [[2.0, 2.0]]
    x = torch.tensor([1.5], requires_grad=True)
    _, m = getattr(torch, fn)(x)
    assert torch.autograd.grad(m, x)[0].tolist() == [1.0]
    x = torch.tensor([[1.5, float("inf")]], requires_grad=True)
    _, m = getattr(torch, fn)(x, dim=1)
    m.sum().backward()
    assert x.grad.tolist() == [[0.5, 0.5]]


NO_GRAD_VIEW = "A view was created in no_grad mode and its base or another view of its base has been modified inplace"


def test_no_grad_view_of_a_tensor_that_starts_requiring_grad_in_place():
    """Found by the fuzzer: a view made under no_grad of a tensor that did not require grad, whose base
    then takes a gradient in place (``b.add_(x)``, ``b[...] = x``), requires grad as PyTorch's, and any
    recorded use of it raises PyTorch's error."""
    x = torch.tensor([3.0], requires_grad=True)
    b = torch.tensor([1.0, 2.0])
    with torch.no_grad():
        v = b[:1]
    b.add_(x)
    assert v.requires_grad
    for use in (lambda: v * 2, lambda: v.sum(), lambda: torch.cat([v, v]), lambda: v[0], lambda: v.clone()):
        with pytest.raises(RuntimeError, match=re.escape(NO_GRAD_VIEW)):
            use()
    with torch.no_grad():
        assert (v * 2).tolist() == [8.0]
    assert v.detach().tolist() == [4.0]


@pytest.mark.parametrize("code", [
    "y = x * w.t(); w.mul_(3)",
    "y = x * w[0]; w[1].mul_(3)",
    "y = x * w.detach(); w.mul_(3)",
    "y = x * w; w.detach().mul_(3)",
    "y = x * w.t(); w.t().mul_(3)",
    "y = w.mT @ x; w.detach().mul_(3)",
    "y = x * x.detach(); x.detach().mul_(3)",
])
def test_saved_constant_changed_through_another_alias(code):
    """Found by the fuzzer (``(v0 @ w) ...; v0.detach().mul_(3)``): a tensor saved through a temporary view or
    ``detach()`` alias, then changed in place through another one, shares its version counter with
    them: backward fails as PyTorch's."""
    ns = {"x": torch.ones(2, 2, requires_grad=True), "w": torch.ones(2, 2)}
    exec(code, ns)
    with pytest.raises(RuntimeError, match=MODIFIED):
        ns["y"].sum().backward()


@pytest.mark.parametrize("code, message", [
    # a batched product checks its shapes before its dtypes (found by the fuzzer once its gate was lifted)
    ("torch.tensor([1, 2, -1]) @ torch.ones(1, 4, 2)",
     "Expected size for first two dimensions of batch2 tensor to be: [1, 3] but got: [1, 4]."),
    ("torch.ones(2, 2, dtype=torch.int64) @ torch.ones(2, 3, 1)",
     "Expected size for first two dimensions of batch2 tensor to be: [2, 2] but got: [2, 3]."),
    ("torch.ones(2, 2, 2) @ torch.ones(3, 2, 1, dtype=torch.float64)",
     "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0"),
    ("torch.ones(2, 2, 2) @ torch.ones(2, 2, 1, dtype=torch.float64)", "expected scalar type Float but found Double"),
    # mm names the dtypes as C types
    ("torch.ones(2, 2, dtype=torch.int64) @ torch.ones(2, 1)",
     "expected m1 and m2 to have the same dtype, but got: long int != float"),
    ("torch.ones(2, 2, 2) @ torch.ones(2, 1, dtype=torch.int64)",
     "expected m1 and m2 to have the same dtype, but got: float != long int"),
])
def test_matmul_errors_in_pytorch_order(code, message):
    with pytest.raises(RuntimeError, match=re.escape(message)):
        eval(code, {"torch": torch})


def test_masked_fill_with_a_mask_bigger_than_the_input():
    """Found by the fuzzer: the result takes the broadcast shape; the input's gradient is summed back to
    its shape (the plain backward raised a numpy broadcast error)."""
    x = torch.tensor([[-0.5, 0.25]], requires_grad=True)
    y = x.masked_fill(torch.tensor([[True, False], [False, False], [True, True]]), 0.0)
    y.sum().backward()
    assert x.grad.tolist() == [[1.0, 2.0]]
    x = torch.tensor(0.5, requires_grad=True)
    y = x.masked_fill(torch.tensor([True, False]), torch.tensor(2.0, requires_grad=True))
    y.sum().backward()
    assert x.grad.item() == 1.0
    x = torch.tensor([-0.5, 0.25] * 20000, requires_grad=True)
    (x.masked_fill(torch.zeros(2, 40000, dtype=torch.bool), 0.0) * 3).sum().backward()
    assert x.grad[:2].tolist() == [6.0, 6.0]


def test_retained_gradient_accumulated_without_create_graph_has_no_graph():
    """Found by the fuzzer (second order): PyTorch's retain_grad hook runs in the backward's grad mode, so a
    retained gradient from a create_graph backward, added to by a plain one, no longer requires grad; the
    first one is a clone (CloneBackward0)."""
    x = torch.tensor(0.25, requires_grad=True)
    v = x.clone()
    v.retain_grad()
    y = v.sin()
    (g,) = torch.autograd.grad(y, [x], create_graph=True)
    assert v.grad.requires_grad and type(v.grad.grad_fn).__name__ == "CloneBackward0"
    g.backward()
    assert not v.grad.requires_grad and v.grad.grad_fn is None
    assert math.isclose(v.grad.item(), 0.7215, abs_tol=1e-4)
    x = torch.tensor(0.25, requires_grad=True)
    y = x.sin()
    y.backward(create_graph=True, retain_graph=True)
    y.backward()
    assert x.grad.requires_grad       # (a leaf's .grad keeps its history, as PyTorch's)


def test_masked_fill_in_place_names_the_tensor_first():
    a = torch.tensor([[-1, -2, -2], [-1, -1, -2]])
    with pytest.raises(RuntimeError, match=re.escape("The size of tensor a (2) must match the size of tensor b (3) "
                                                     "at non-singleton dimension 0")):
        a.masked_fill_(torch.tensor([[0.0], [0.5], [-1.0]]) > 0.2, 1)
    with pytest.raises(RuntimeError, match=re.escape("The size of tensor a (3) must match the size of tensor b (2) "
                                                     "at non-singleton dimension 1")):
        a.masked_fill_(torch.tensor([True, False]), 1)


@pytest.mark.parametrize("dim, sizes, error, message", [
    (1, (1, 1), IndexError, "Dimension out of range (expected to be in range of [-1, 0], but got 1)"),
    (-2, (1,), IndexError, "Dimension out of range (expected to be in range of [-1, 0], but got -2)"),
    (0, (), RuntimeError, "unflatten: sizes must be non-empty"),
    (-1, (1,), RuntimeError,
     "unflatten got an unexpected error:\nDimension specified as 0 but tensor has no dimensions"),
])
def test_unflatten_of_a_zero_dim_tensor_checks_the_dim_first(dim, sizes, error, message):
    """Found by the fuzzer once it drew unflatten."""
    with pytest.raises(error, match=re.escape(message)):
        torch.tensor(2.0).unflatten(dim, sizes)


@pytest.mark.parametrize("code, error, message", [
    ("torch.ones(0).nanmedian(0)", IndexError, "median(): Expected reduction dim 0 to have non-zero size."),
    ("torch.ones(0, 2).nanmedian(0)", IndexError, "median(): Expected reduction dim 0 to have non-zero size."),
    ("torch.ones(0).kthvalue(2, 0)", IndexError, "kthvalue(): Expected reduction dim 0 to have non-zero size."),
    ("torch.ones(0, 2).kthvalue(1, 0)", IndexError, "kthvalue(): Expected reduction dim 0 to have non-zero size."),
    ("torch.ones(2, 0).kthvalue(3, 0)", RuntimeError, "kthvalue(): selected number k out of range for dimension 0"),
])
def test_selections_over_an_empty_dim(code, error, message):
    """Found by the fuzzer (nanmedian of an empty mask selection)."""
    with pytest.raises(error, match=re.escape(message)):
        eval(code, {"torch": torch})


def test_fills_through_an_expanded_tensor():
    """PyTorch refuses an in-place write into elements that share memory, but not a fill (one value), nor a
    write into a part of an expanded tensor whose elements do not share memory; its CopySlices then fails
    at backward, where the gradient is written through the expanded view."""
    y = torch.ones(3)
    y.expand(2, 3).zero_()
    assert y.tolist() == [0.0, 0.0, 0.0]
    y.expand(2, 3).fill_(2)
    y.expand(2, 3)[0] = 5.0
    assert y.tolist() == [5.0, 5.0, 5.0]
    y.expand(2, 3)[1].mul_(2)
    assert y.tolist() == [10.0, 10.0, 10.0]
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        y.expand(2, 3)[...] = 1.0
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        y.expand(2, 3).add_(1)
    x = torch.ones(3, requires_grad=True)
    y = x * 2
    v = y.expand(2, 3)
    v.fill_(3.0)
    assert y.tolist() == [3.0, 3.0, 3.0] and type(y.grad_fn).__name__ == "CopySlices"
    assert type(v.grad_fn).__name__ == "AsStridedBackward0"
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        y.sum().backward()
    x = torch.ones(3, requires_grad=True)
    y = x * 2
    y.expand(2, 3)[0].mul_(3)
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 6.0, 6.0]


def test_vector_matrix_product_is_no_view():
    """Found by the fuzzer (the brief's "in-place under no_grad into a view of a product"): PyTorch computes
    ``vector @ matrix`` as ``unsqueeze(0).mm(m).squeeze_(0)``, so the result is no view: an in-place change
    under no_grad keeps its SqueezeBackward4 node (tape re-derived it as a view, AsStridedBackward0)."""
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    v = torch.matmul(x, torch.ones(2, 1))
    assert v._base is None and type(v.grad_fn).__name__ == "SqueezeBackward4"
    with torch.no_grad():
        v.div_(3)
    assert type(v.grad_fn).__name__ == "SqueezeBackward4"
    v.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
    v = x @ torch.ones(2, 1)
    v.div_(3)
    assert type(v.grad_fn).__name__ == "DivBackward0"
    y = torch.ones(1, requires_grad=True)
    with torch.no_grad():
        v = torch.matmul(torch.tensor([1.0, 2.0]), torch.ones(2, 1))
    v.add_(y)
    assert type(v.grad_fn).__name__ == "AddBackward0" and v._base is None


@pytest.mark.parametrize("code, error, message", [
    # integer operands: the shapes are checked before the dtype's kernel (found by the fuzzer)
    ("torch.logaddexp(torch.tensor([[0, 1, 2]]), torch.tensor([[0, -2, 2, 1]]))", RuntimeError,
     "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1"),
    ("torch.hypot(torch.tensor([[0, 1, 2]]), torch.tensor([[0, -2, 2, 1]]))", RuntimeError,
     "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1"),
    ("torch.logaddexp(torch.tensor([[0, 1, 2]]), torch.tensor([[0, -2, 2]]))", NotImplementedError,
     "\"logaddexp_cpu\" not implemented for 'Long'"),
    # a batched product of a bool tensor: bmm's kernel before the dtypes
    ("torch.tensor([[True], [False]]) @ torch.ones(2, 1, 2)", NotImplementedError, "\"bmm\" not implemented for 'Bool'"),
    ("torch.ones(2, 1) @ torch.ones(2, 1, 2, dtype=torch.bool)", RuntimeError, "expected scalar type Float but found Bool"),
])
def test_kernel_errors_after_shape_errors(code, error, message):
    with pytest.raises(error, match=re.escape(message)):
        eval(code, {"torch": torch})


@pytest.mark.parametrize("code, message", [
    # rows with several outputs that PyTorch saves, each (found by the fuzzer: aminmax)
    ("x = torch.tensor([1.0, 3.0], requires_grad=True); a, b = torch.aminmax(x, dim=0); a.zero_(); b.backward()",
     "[torch.FloatTensor []], which is output 0 of Aminmax, is at version 1; expected version 0 instead"),
    ("x = torch.tensor([1.0, 3.0], requires_grad=True); a, b = torch.aminmax(x, dim=0)\n"
     "with torch.no_grad(): b.mul_(2)\na.backward()",
     "[torch.FloatTensor []], which is output 1 of Aminmax, is at version 1; expected version 0 instead"),
    ("x = torch.tensor([[1.0, 3.0]], requires_grad=True); u, s, vh = torch.linalg.svd(x); u.mul_(2); s.sum().backward()",
     "[torch.FloatTensor [1, 1]], which is output 0 of LinalgSvd, is at version 1; expected version 0 instead"),
    ("x = torch.tensor([[2.0, 1.0], [1.0, 2.0]], requires_grad=True); w, v = torch.linalg.eigh(x); w.mul_(2)\n"
     "v.sum().backward()", "[torch.FloatTensor [2]], which is output 0 of LinalgEigh, is at version 1; expected version 0"),
    ("x = torch.tensor([[1.0, 3.0], [2., 5.]], requires_grad=True); q, r = torch.linalg.qr(x); r.mul_(2)\n"
     "q.sum().backward()", "[torch.FloatTensor [2, 2]], which is output 1 of LinalgQr, is at version 1; expected version 0"),
])
def test_saved_outputs_of_multi_output_rows_changed_in_place(code, message):
    with pytest.raises(RuntimeError, match=re.escape(MODIFIED + ": " + message)):
        exec(code, {"torch": torch})


def test_var_mean_saves_no_output():
    x = torch.tensor([1.0, 3.0], requires_grad=True)
    v, m = torch.var_mean(x)
    v.mul_(2)
    m.backward()
    assert x.grad.tolist() == [0.5, 0.5]


def test_div_and_hypot_save_operands_only_for_the_gradients_that_need_them():
    """Found by the fuzzer: ``v3 / c`` (c needs no gradient) does not save v3, so changing v3 in place
    afterwards does not fail the backward; hypot saves each operand for its own gradient."""
    a, b = torch.tensor([1., 2.], requires_grad=True), torch.tensor([3., 4.])
    assert _saved((a * 1) / (b * 1))["self"] is None
    assert _saved(torch.hypot(a * 1, b * 1))["other"] is None
    assert _saved(torch.hypot(b * 1, a * 1))["self"] is None
    for shape in ((1,), ()):
        x = torch.ones(shape, requires_grad=True)
        v = x * 1
        y = v / torch.full(shape, 2.0)
        v.add_(1)
        y.sum().backward()
        assert x.grad.tolist() == (0.5 if not shape else [0.5])
    x = torch.ones(1, requires_grad=True)
    c = torch.tensor([2.0])
    y = x / c
    c.add_(1)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()


@pytest.mark.parametrize("code, message", [
    # the indices a selecting reduction returns are saved by its node
    ("x = torch.ones(2, 2, requires_grad=True); v, i = x.max(0); i.zero_(); v.sum().backward()",
     "[torch.LongTensor [2]] is at version 1"),
    ("x = torch.ones(2, 2, requires_grad=True); v, i = torch.min(x, 1, keepdim=True); i.zero_(); v.sum().backward()",
     "[torch.LongTensor [2, 1]] is at version 1"),
    ("x = torch.tensor([3., 1., 2.], requires_grad=True); v, i = x.sort(); i.add_(0); v.sum().backward()",
     "[torch.LongTensor [3]] is at version 1"),
    ("x = torch.tensor([3., 1., 2.], requires_grad=True); v, i = x.topk(2); i[0] = 1; v.sum().backward()",
     "[torch.LongTensor [2]] is at version 1"),
    ("x = torch.tensor([3., 1., 2.], requires_grad=True); v, i = x.kthvalue(2); i.zero_(); v.backward()",
     "[torch.LongTensor []] is at version 1"),
    ("x = torch.tensor([[3., 1., 2.]], requires_grad=True); v, i = x.median(1); i.zero_(); v.sum().backward()",
     "[torch.LongTensor [1]] is at version 1"),
    ("x = torch.tensor([[3., 1., 2.]], requires_grad=True); v, i = x.nanmedian(1); i.zero_(); v.sum().backward()",
     "[torch.LongTensor [1]] is at version 1"),
    ("x = torch.tensor([[3., 1., 1.]], requires_grad=True); v, i = x.mode(1); i.zero_(); v.sum().backward()",
     "[torch.LongTensor [1]] is at version 1"),
    ("x = torch.tensor([3., 1., 4.], requires_grad=True); v, i = x.cummax(0); i.zero_(); v.sum().backward()",
     "[torch.LongTensor [3]] is at version 1"),
    # ... even when no gradient reaches the values
    ("x = torch.ones(2, 2, requires_grad=True); v, i = x.max(0); i.zero_(); (v.sum() * 0 + x.sum()).backward()",
     "[torch.LongTensor [2]] is at version 1"),
    # and so are the index tensors given to a gather
    ("x = torch.ones(2, 2, requires_grad=True); i = torch.tensor([1, 0]); v = x.index_select(0, i); i.zero_()\n"
     "v.sum().backward()", "[torch.LongTensor [2]] is at version 1"),
    ("x = torch.ones(2, 2, requires_grad=True); i = torch.tensor([[1, 0]]); v = x.gather(0, i); i.zero_()\n"
     "v.sum().backward()", "[torch.LongTensor [1, 2]] is at version 1"),
    ("x = torch.ones(3, requires_grad=True); i = torch.tensor([1, 0]); v = x.take(i); i.zero_(); v.sum().backward()",
     "[torch.LongTensor [2]] is at version 1"),
    ("x = torch.ones(3, requires_grad=True); i = torch.tensor([1, 0]); v = x[i]; i[0] = 2; v.sum().backward()",
     "[torch.LongTensor [2]] is at version 1"),
    ("x = torch.ones(3, 2, requires_grad=True); i = torch.tensor([1, 0]); v = x[i, 1]; i.zero_(); v.sum().backward()",
     "[torch.LongTensor [2]] is at version 1"),
    ("x = torch.ones(3, requires_grad=True); m = torch.tensor([True, False, True]); v = x[m]; m.zero_()\n"
     "v.sum().backward()", "[CPUBoolType [3]] is at version 1"),
    ("x = torch.ones(3, requires_grad=True); m = torch.tensor([True, False, True]); v = x.masked_select(m)\n"
     "m.zero_(); v.sum().backward()", "[CPUBoolType [3]] is at version 1"),
    # fills by a mask or an index with a number
    ("x = torch.ones(3, requires_grad=True); m = torch.tensor([True, False, True]); v = x.masked_fill(m, 2.)\n"
     "m.zero_(); (v * v).sum().backward()", "[CPUBoolType [3]] is at version 1"),
    ("x = torch.ones(3, requires_grad=True); i = torch.tensor([1, 0]); v = x.index_fill(0, i, 2.); i.zero_()\n"
     "(v * v).sum().backward()", "[torch.LongTensor [2]] is at version 1"),
    ("x = torch.ones(3, requires_grad=True); i = torch.tensor([1, 0]); v = x.scatter(0, i, 5.0); i.zero_()\n"
     "v.sum().backward()", "[torch.LongTensor [2]] is at version 1"),
    # std_mean saves its std (var_mean nothing: test_var_mean_saves_no_output)
    ("x = torch.tensor([1., 2., 4.], requires_grad=True); a, b = torch.std_mean(x); a.mul_(2); b.backward()",
     "[torch.FloatTensor []], which is output 0 of StdMean, is at version 1"),
    ("x = torch.tensor([[1., 2., 4.]], requires_grad=True); a, b = torch.std_mean(x, 1); a.mul_(2)\n"
     "(a + b).sum().backward()", "[torch.FloatTensor [1]], which is output 0 of StdMean, is at version 1"),
])
def test_saved_indices_and_std_changed_in_place(code, message):
    with pytest.raises(RuntimeError, match=re.escape(MODIFIED + ": " + message + "; expected version 0 instead")):
        exec(code, {"torch": torch})


def test_saved_indices_unchanged_or_not_saved():
    x = torch.ones(2, 2, requires_grad=True)
    i = torch.tensor([1, 1])
    v = x[i]
    i2 = i.clone()
    i2.zero_()
    v.sum().backward()
    assert x.grad.tolist() == [[0., 0.], [2., 2.]]
    # (take_along_dim gathers with indices of its own, and std_mean's mean is not saved)
    x = torch.ones(3, requires_grad=True)
    i = torch.tensor([1, 0])
    v = x.take_along_dim(i, 0)
    i.zero_()
    v.sum().backward()
    assert x.grad.tolist() == [1., 1., 0.]
    x = torch.tensor([1., 2., 4.], requires_grad=True)
    a, b = torch.std_mean(x)
    b.mul_(2)
    a.backward()
    assert np.allclose(x.grad.numpy(), [-0.4364358, -0.1091089, 0.5455447])
    # the node shows no input for the indices
    x = torch.ones(3, requires_grad=True)
    v, i = x.max(0)
    assert len(v.grad_fn.next_functions) == 1
    assert len(x[torch.tensor([1, 0])].grad_fn.next_functions) == 1
    y = x.masked_fill(torch.tensor([True, False, True]), 2.)
    assert len(y.grad_fn.next_functions) == 1 and y.grad_fn._saved_mask.tolist() == [True, False, True]
    (y * y).sum().backward()
    assert x.grad.tolist() == [0., 2., 0.]


def test_var_mean_of_infinities_is_a_running_mean():
    inf = math.inf
    a = torch.tensor([[1., inf, 2.], [inf, 2., 3.], [1., 2., inf], [-inf, 1., 1.], [1., 2., 3.]])
    assert str(torch.var_mean(a, 0)[1].tolist()) == "[nan, nan, nan]"
    assert str(torch.var_mean(a, 1)[1].tolist()) == "[nan, nan, inf, nan, 2.0]"
    assert math.isnan(torch.std_mean(a)[1].item())
    assert torch.var_mean(a[2:3])[1].item() == inf
    assert torch.var_mean(a[2:3, None], (0, 2), keepdim=True)[1].tolist() == [[[inf]]]
    with pytest.warns(UserWarning):
        v, m = torch.var_mean(torch.tensor([-inf, -inf]), dim=0, correction=2)
    assert math.isnan(v.item()) and math.isnan(m.item())
    assert torch.mean(torch.tensor([inf, 1.])).item() == inf      # (mean itself sums)


@pytest.mark.parametrize("code", [
    "a().remainder_(b())", "a().fmod_(b())", "a().floor_divide_(b())", "a().div_(b(), rounding_mode='floor')",
    "a().div_(b(), rounding_mode='trunc')", "a().__imod__(b())", "a().__ifloordiv__(b())",
])
def test_in_place_integer_division_shape_error_before_zero_division(code):
    ns = {"a": lambda: torch.tensor([[2, 0]]), "b": lambda: torch.tensor([[1], [0]])}
    with pytest.raises(RuntimeError, match=re.escape("output with shape [1, 2] doesn't match the broadcast shape [2, 2]")):
        eval(code, ns)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        ns["a"]().remainder_(torch.tensor([[0, 1]]))


def test_atan2_gradient_at_the_origin():
    a = torch.tensor([0., 1e-200, 1., 1e-155, 0.], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([0., 0., 0., 1e-170, 0.], dtype=torch.float64, requires_grad=True)
    ga, gb = torch.autograd.grad(torch.atan2(a, b).sum(), (a, b), create_graph=True)
    assert str(ga.tolist()) == "[0.0, 0.0, 0.0, inf, 0.0]" and str(gb.tolist()) == "[-0.0, -0.0, -1.0, -inf, -0.0]"
    assert type(ga.grad_fn.next_functions[1][0]).__name__ == "MaskedFillBackward0"
    h = torch.autograd.grad((ga * 2).sum() + gb.sum(), (a, b))
    assert str(h[0].tolist()) == "[nan, nan, 1.0, nan, nan]" and str(h[1].tolist()) == "[nan, nan, 2.0, inf, nan]"
    ga, gb = torch.autograd.grad(torch.atan2(a, b).sum(), (a, b))
    assert ga.tolist()[:3] == [0., 0., 0.] and gb.tolist()[:3] == [0., 0., -1.]
    x = torch.tensor(0., requires_grad=True)
    torch.atan2(x, torch.tensor(0.)).backward()
    assert x.grad.item() == 0.0


def test_saved_tensor_hooks_pack_what_an_op_whose_result_is_dropped_saved():
    packed = []
    a = torch.ones(2, requires_grad=True)
    c = torch.ones(2, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(lambda t: packed.append(1) or t, lambda t: t):
        torch.mul(a, c * 3)
        torch.mul(a, c * 5)
    assert len(packed) == 4


def test_detached_expanded_tensor_is_written_through():
    v1 = torch.tensor(2)
    v6 = v1.expand((1,)).detach()
    v6[0] = 3
    assert v1.item() == 3 and v6.tolist() == [3]
    v1 = torch.tensor([2.])
    v6 = v1.expand((3,)).detach()
    v6[0] = 3
    assert v1.tolist() == [3.] and v6.tolist() == [3., 3., 3.]
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor refers to a single memory"):
        v6.mul_(2)


@pytest.mark.parametrize("code", ["x.scatter_reduce(0, e, x * 2, 'sum')", "x.scatter_reduce(1, e, x * 2, 'amax', include_self=False)",
                                  "x.scatter_add(0, e, x)", "x.scatter(0, e, x)",
                                  "x.scatter_reduce(0, torch.ones(1, 0, 2, dtype=torch.int64), x * 2, 'prod')"])
def test_scatter_with_an_empty_index_of_another_rank(code):
    x = torch.tensor([[1., 2.], [3., 4.]], requires_grad=True)
    y = eval(code, {"torch": torch, "x": x, "e": torch.tensor([], dtype=torch.int64)})
    assert y.tolist() == [[1., 2.], [3., 4.]]
    y.sum().backward()
    assert x.grad.tolist() == [[1., 1.], [1., 1.]]


NO_GRAD_MULTI = ("A view was created in no_grad mode and is being modified inplace with grad mode enabled. This view "
                 "is the output of a function that returns multiple views.")


@pytest.mark.parametrize("code", ["div_(torch.ones(3, requires_grad=True))", "mul_(torch.ones(3, requires_grad=True))",
                                  "add_(torch.ones(3, requires_grad=True))", "copy_(torch.ones(3, requires_grad=True))",
                                  "clamp_(torch.ones(3, requires_grad=True))",
                                  "div_(torch.ones(2, dtype=torch.float64, requires_grad=True))"])
def test_multi_output_view_refused_before_the_operand_is_checked(code):
    v1 = torch.tensor([[-0.25, -1.5], [-0.25, -1.0], [-2.0, 0.5]])
    with pytest.raises(RuntimeError, match=re.escape(NO_GRAD_MULTI)):
        eval("v1.unbind(0)[0]." + code, {"torch": torch, "v1": v1})
    with pytest.raises(RuntimeError, match=re.escape("The size of tensor a (2) must match the size of tensor b (3)")):
        v1.unbind(0)[0].div_(torch.ones(3))


@pytest.mark.parametrize("code, error, message", [
    ("torch.addmm(torch.ones(2, 2), torch.ones(2, 2), torch.tensor(1))", RuntimeError,
     "self and mat2 must have the same dtype, but got Float and Long"),
    ("torch.addmm(torch.ones(2, 2), torch.tensor(1), torch.ones(2, 2))", RuntimeError,
     "mat1 and mat2 must have the same dtype, but got Long and Float"),
    ("torch.addmm(torch.ones(2, 2, dtype=torch.float64), torch.ones(2, 3), torch.ones(2, 2))", RuntimeError,
     "self and mat2 must have the same dtype, but got Double and Float"),
    ("torch.addmm(torch.ones(2, 2), torch.tensor(1.), torch.ones(2, 2))", RuntimeError, "mat1 must be a matrix, got 0-D tensor"),
    ("torch.trapezoid(torch.tensor(2.), dim=-1)", IndexError, "Dimension specified as -1 but tensor has no dimensions"),
    ("torch.trapezoid(torch.tensor(2.), dim=1)", IndexError, "Dimension specified as 1 but tensor has no dimensions"),
    ("torch.trapezoid(torch.tensor(2.), torch.tensor(1.), dim=-1)", IndexError,
     "Dimension specified as 0 but tensor has no dimensions"),
    ("torch.trapezoid(torch.tensor(2.), torch.tensor(1.), dim=1)", IndexError,
     "Dimension out of range (expected to be in range of [-1, 0], but got 1)"),
    ("torch.trapezoid(torch.tensor(2.), dx=2., dim=0)", IndexError, "Dimension specified as 0 but tensor has no dimensions"),
    ("torch.cumulative_trapezoid(torch.tensor(2.), dim=1)", IndexError, "slice() cannot be applied to a 0-dim tensor."),
    ("torch.cumulative_trapezoid(torch.tensor(2.), x=torch.tensor(1.), dim=-1)", IndexError,
     "slice() cannot be applied to a 0-dim tensor."),
    ("torch.cumulative_trapezoid(torch.tensor(2.), x=torch.tensor(1.), dim=1)", IndexError,
     "Dimension out of range (expected to be in range of [-1, 0], but got 1)"),
    ("torch.linalg.cross(torch.tensor(2.), torch.tensor(2.), dim=-1)", IndexError,
     "Dimension specified as -1 but tensor has no dimensions"),
    ("torch.linalg.cross(torch.tensor(2.), torch.tensor(2.), dim=1)", IndexError,
     "Dimension specified as 1 but tensor has no dimensions"),
])
def test_argument_errors_in_pytorch_order(code, error, message):
    with pytest.raises(error, match=re.escape(message)):
        eval(code, {"torch": torch})


def test_rot90_is_a_copy():
    for k, shape in ((0, (2, 3)), (1, (1, 1)), (-1, (1, 1)), (4, (2, 3)), (2, (1, 1))):
        x = torch.arange(6.)[:math.prod(shape)].reshape(shape)
        y = torch.rot90(x, k, (0, 1))
        before = y.tolist()
        x.add_(1)
        assert y.tolist() == before


def test_cross_does_not_promote():
    with pytest.raises(RuntimeError, match="expected scalar type Double but found Float"):
        torch.linalg.cross(torch.ones(3, dtype=torch.float64), torch.ones(3))
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Long"):
        torch.cross(torch.ones(3), torch.ones(3, dtype=torch.int64), dim=0)
    with pytest.raises(RuntimeError, match="inputs dimension -1 must have length 3. Got 2 and 2"):
        torch.linalg.cross(torch.ones(2), torch.ones(2, dtype=torch.float64))


def test_copysign_second_derivative_goes_through_the_result():
    a = torch.tensor([1.5, 0., -2.], requires_grad=True)
    b = torch.tensor([-1., 2., 0.], requires_grad=True)
    ga, gb = torch.autograd.grad(a.copysign(b).sum(), (a, b), create_graph=True)
    assert ga.tolist() == [-1., 0., -1.] and gb.tolist() == [0., 0., 0.] and gb.grad_fn is None
    h = torch.autograd.grad(ga.sum(), (a, b), allow_unused=True)
    assert str(h[0].tolist()) == "[0.0, nan, 0.0]" and h[1].tolist() == [0., 0., 0.]


@pytest.mark.parametrize("code, raises", [
    ("v3.addcmul_(v3, v4, value=2.0)", "Addcmul"), ("v3.addcmul_(v4, v3)", "Addcmul"), ("v3.addcmul_(v3, c)", None),
    ("v3.addcmul_(c, v3)", None), ("v3.addcdiv_(v3, v4)", "Addcdiv"), ("v3.addcdiv_(v4, v3)", "Addcdiv"),
    ("v3.addcdiv_(c, v3)", "Addcdiv"), ("v3.lerp_(v4, v3)", "Lerp1"), ("v3.lerp_(v3, v4)", "Lerp1"),
    ("v3.lerp_(v4, 0.5)", None),
])
def test_ternary_in_place_op_that_saved_the_changed_tensor(code, raises):
    v0 = torch.tensor([-0.5, 2.], requires_grad=True)
    ns = {"v3": v0 + 1.0, "v4": v0.clamp(-1.5, 2.0), "c": torch.tensor([2., 3.])}
    exec(code, ns)
    if raises is None:
        (ns["v3"] * 0.5).sum().backward()
        return
    with pytest.raises(RuntimeError, match=re.escape(MODIFIED + f": [torch.FloatTensor [2]], which is output 0 of "
                                                              f"{raises}, is at version 1; expected version 0")):
        (ns["v3"] * 0.5).sum().backward()


@pytest.mark.parametrize("code, error, message", [
    ("x.scatter_add(-3, i, s)", IndexError, "Dimension out of range (expected to be in range of [-2, 1], but got -3)"),
    ("x.scatter(-3, i.float(), s)", IndexError, "Dimension out of range (expected to be in range of [-2, 1], but got -3)"),
    ("x.scatter_reduce(-3, i, s, 'sum')", IndexError, "Dimension out of range (expected to be in range of [-2, 1], but got -3)"),
    ("x.gather(-3, i.float())", IndexError, "Dimension out of range (expected to be in range of [-2, 1], but got -3)"),
    ("x.scatter_add(0, i.float(), s)", RuntimeError, "scatter(): Expected dtype int32/int64 for index"),
    ("x.scatter_reduce(0, i.float(), s, 'sum')", RuntimeError, "scatter(): Expected dtype int32/int64 for index"),
    ("x.scatter_reduce(0, i, s, 'sum')", RuntimeError, "scatter(): Expected self.dtype to be equal to src.dtype"),
])
def test_scatter_checks_the_dim_first(code, error, message):
    ns = {"x": torch.tensor([[0], [-1]]), "i": torch.tensor([[0], [0]]), "s": torch.tensor([[-2.0], [-2.0]])}
    with pytest.raises(error, match=re.escape(message)):
        eval(code, ns)


def test_cross_checks_the_length_then_the_broadcast_then_the_dtypes():
    with pytest.raises(RuntimeError, match="inputs dimension 1 must have length 3. Got 3 and 4"):
        torch.linalg.cross(torch.ones(3, 3), torch.ones(3, 4, dtype=torch.float64), dim=1)
    with pytest.raises(RuntimeError, match=re.escape("The size of tensor a (2) must match the size of tensor b (4)")):
        torch.linalg.cross(torch.ones(2, 3), torch.ones(4, 3, dtype=torch.float64), dim=1)
    assert torch.linalg.cross(torch.ones(1, 3), torch.ones(4, 3), dim=-1).shape == (4, 3)


def test_leaf_view_refused_before_repeated_elements():
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad is being used in an in-place"):
        torch.ones(2, 1, requires_grad=True).expand(2, 3).mul_(2)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor refers to a single memory"):
        (torch.ones(2, 1, requires_grad=True) * 1).expand(2, 3).mul_(2)


UNBIND_REBASED = ("Output 0 of Unbind is a view and its base or another view of its base has been modified inplace. "
                  "This view is the output of a function that returns multiple views.")


@pytest.mark.parametrize("grad_mode", [False, True])
def test_saved_output_of_unbind_whose_base_changed_raises_its_view_error(grad_mode):
    # PyTorch reads a saved view's node before its version: the view's error, not the version's.
    x = torch.tensor([[-2.0], [-2.0]], requires_grad=True)
    y = x * 1
    parts = y.unbind(1)
    out = parts[0].clamp(min=-2.0)
    with torch.set_grad_enabled(grad_mode):
        y.zero_()
    with pytest.raises(RuntimeError, match=re.escape(UNBIND_REBASED)):
        out.sum().backward()


def test_function_saving_an_output_of_unbind_whose_base_changed_raises_its_view_error():
    class Twice(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * 2

        @staticmethod
        def backward(ctx, g):
            a, = ctx.saved_tensors
            return g * a

    x = torch.tensor([[-2.0], [-2.0]], requires_grad=True)
    y = x * 1
    parts = y.unbind(1)
    out = Twice.apply(parts[0])
    with torch.no_grad():
        y.zero_()
    with pytest.raises(RuntimeError, match=re.escape(UNBIND_REBASED)):
        torch.autograd.grad(out.sum(), x)


@pytest.mark.parametrize("code, strides, node", [
    ("x.transpose(0, -1) + c", (1, 3, 6), "UnsafeViewBackward0"),      # the first operand's order
    ("c + x.transpose(0, -1)", (2, 1, 2), "ViewBackward0"),            # ties broken by the next operand
    ("torch.maximum(x.transpose(0, -1), c)", (1, 3, 6), "UnsafeViewBackward0"),
    ("x.transpose(0, -1) * c[0]", (1, 3, 6), "UnsafeViewBackward0"),   # a broadcast operand orders nothing
])
def test_elementwise_result_of_operands_in_different_layouts_takes_pytorchs_layout(code, strides, node):
    x = torch.full((1, 2, 3), -2.0, requires_grad=True)
    y = eval(code, {"torch": torch, "x": x, "c": torch.full((3, 2, 1), -2.0)})
    assert y.stride() == strides
    assert type(y.flatten(0, 1).grad_fn).__name__ == node


@pytest.mark.parametrize("code", ["x.t() > c", "x.t() == c", "x.t().bool() & c.bool()", "x.t().long() | c.long()",
                                  "torch.logical_and(x.t(), c)"])
def test_comparison_of_operands_in_different_layouts_takes_pytorchs_layout(code):
    y = eval(code, {"torch": torch, "x": torch.ones(3, 2), "c": torch.ones(2, 3)})
    assert y.stride() == (1, 2)
    with pytest.raises(RuntimeError, match="view size is not compatible with input tensor's size and stride"):
        y.view(-1)


@pytest.mark.parametrize("code", ["x.t() // c", "x.t().long() // c.long()", "torch.div(x.t(), c, rounding_mode='floor')"])
def test_floor_division_of_operands_in_different_layouts_takes_pytorchs_layout(code):
    y = eval(code, {"torch": torch, "x": torch.ones(3, 2, requires_grad=True), "c": torch.ones(2, 3)})
    assert y.stride() == (1, 2)


OVERLAP = ("unsupported operation: some elements of the input tensor and the written-to tensor refer to a single "
           "memory location. Please clone() the tensor before performing the operation.")


@pytest.mark.parametrize("code", [
    "x[torch.tensor([0, 1, 2])] = x", "x[x > 1] = x[1:]", "x[[0, 1, 2]] = x.detach()",
    "x.index_put_((torch.tensor([0, 1, 2]),), x)", "x.index_put_((torch.tensor([0, 1, 2]),), x, accumulate=True)",
    "x.index_copy_(0, torch.tensor([0, 1, 2]), x)", "x.index_add_(0, torch.tensor([0, 1, 2]), x)",
    "x.scatter_(0, torch.tensor([0, 1, 2]), x)", "x.scatter_add_(0, torch.tensor([0, 1, 2]), x)",
    "x.put_(torch.tensor([0, 1, 2]), x)", "t = torch.tensor(2.); t[t > 0] = t", "y = x * 1; y[[0, 1, 2]] = y",
    "i = torch.tensor([0, 1, 2]); i[i] = torch.tensor([5, 6, 7])", "i = torch.tensor([0, 1, 2]); i.index_fill_(0, i, 5)",
    "i = torch.tensor([0, 1, 2]); i.scatter_(0, i, 5)"])
def test_an_indexed_write_refuses_a_source_or_index_sharing_the_target_s_memory(code):
    # PyTorch's index_put_ (item assignment with index tensors), index_copy_, scatter_, put_ ... assert that
    # no source or index overlaps the target at all (an elementwise op allows all of it in place)
    with pytest.raises(RuntimeError, match=re.escape(OVERLAP)):
        exec(code, {"torch": torch, "x": torch.tensor([1.0, 2.0, 3.0], requires_grad="y =" in code)})


@pytest.mark.parametrize("code, values", [
    ("x[torch.tensor([True, False, True])] = x[1]", [2.0, 2.0, 2.0]),
    ("x[torch.tensor([True, False, True])] = x[1:2]", [2.0, 2.0, 2.0]),
    ("x.index_put_((torch.tensor([True, False, True]),), x[1])", [2.0, 2.0, 2.0]),
    ("x[[True, False, True]] = x[0]", [1.0, 2.0, 1.0]), ("x[True] = x", [1.0, 2.0, 3.0]),
    ("x[0, None] = x[2]", [3.0, 2.0, 3.0])])
def test_an_indexed_write_that_runs_as_masked_fill_checks_no_overlap(code, values):
    # (one value and a single boolean mask: PyTorch's masked_fill_, which reads the value as a number)
    x = torch.tensor([1.0, 2.0, 3.0])
    exec(code, {"torch": torch, "x": x})
    assert x.tolist() == values
    y = torch.tensor([1.0, 2.0, 3.0], requires_grad=True) * 1
    y[torch.tensor([True, False, True])] = y[1]
    y.sum().backward()


@pytest.mark.parametrize("code, message", [
    ("torch.add(i, i, alpha=0.5)", "For integral input tensors, argument alpha must not be a floating point number."),
    ("torch.add(i, i, alpha=1.0)", "For integral input tensors, argument alpha must not be a floating point number."),
    ("torch.add(2, i, alpha=0.5)", "For integral input tensors, argument alpha must not be a floating point number."),
    ("i.sub_(i, alpha=0.5)", "For integral input tensors, argument alpha must not be a floating point number."),
    ("torch.sub(i, i, alpha=True)", "Boolean alpha only supported for Boolean results."),
    ("torch.add(f, i, alpha=True)", "Boolean alpha only supported for Boolean results.")])
def test_alpha_of_add_and_sub_must_fit_the_result_type(code, message):
    with pytest.raises(RuntimeError, match=re.escape(message)):
        eval(code, _ns())


def test_a_float_alpha_scales_an_integer_operand_in_the_result_type():
    r = torch.add(torch.tensor(1.5, dtype=torch.float64), torch.tensor([1, 2]), alpha=0.5)
    assert r.dtype == torch.float64 and r.tolist() == [2.0, 2.5]
    assert torch.add(torch.tensor([True]), torch.tensor([True]), alpha=True).tolist() == [True]
    assert torch.add(torch.tensor([1, 2]), 2.5, alpha=0.5).tolist() == [2.25, 3.25]


def test_clamp_of_bools_by_a_bool_tensor():
    b = torch.tensor([True, False, True])
    assert torch.clamp(b, min=torch.tensor([True, False, False])).tolist() == [True, False, True]
    assert torch.clamp(b, max=torch.tensor(False)).tolist() == [False, False, False]
    assert torch.clamp(torch.tensor(False), min=b).tolist() == [True, False, True]


@pytest.mark.parametrize("requires_grad", [False, True])
def test_item_assignment_checks_the_value_s_shape_before_its_dtype(requires_grad):
    x = torch.tensor([1.0, 2.0], requires_grad=requires_grad) * 1
    with pytest.raises(RuntimeError, match=re.escape("shape mismatch: value tensor of shape [2] cannot be broadcast "
                                                     "to indexing result of shape [1]")):
        x[torch.tensor([0])] = torch.tensor([[1, 2]])
    b = torch.tensor(True)
    with pytest.raises(RuntimeError, match=re.escape("shape mismatch: value tensor of shape [2] cannot be broadcast "
                                                     "to indexing result of shape [0]")):
        b[torch.tensor(False)] = torch.tensor([1, 2])
    with pytest.raises(RuntimeError, match=re.escape("shape mismatch: value tensor of shape [2] cannot be broadcast "
                                                     "to indexing result of shape [1]")):
        x.index_put_((torch.tensor([0]),), torch.tensor([1, 2]))
    # (one value under one boolean mask: PyTorch's masked_fill_, which takes a value of another dtype)
    x[x > 1] = torch.tensor([5])
    assert x.tolist() == [1.0, 5.0] and x.dtype == torch.float32


def test_a_zero_dim_integer_index_assigns_as_its_number():
    # (a basic index in PyTorch: the write is a copy, which allows the value to be the target itself)
    x = torch.tensor([[[0.5], [1.5]]])
    x[torch.tensor(-1), ...] = x
    assert x.tolist() == [[[0.5], [1.5]]]
    x[-1] = x       # (the same elements in the same places, whatever the strides of size-1 dims)
    assert x.tolist() == [[[0.5], [1.5]]]


NAN = float("nan")
NON_FINITE_SVD = "The algorithm failed to converge because the input matrix contained non-finite values."


@pytest.mark.parametrize("call", ["torch.linalg.svd(m)", "torch.linalg.svdvals(m)", "torch.linalg.pinv(m)",
                                  "torch.linalg.matrix_rank(m)", "torch.linalg.cond(m)",
                                  "torch.linalg.matrix_norm(m, 2)", "torch.linalg.matrix_norm(m, 'nuc')"])
def test_an_svd_of_a_matrix_holding_a_nan_raises_pytorch_s_linalg_error(call):
    m = torch.tensor([[1.0, 0.0], [NAN, 1.0]])
    with pytest.raises(torch.linalg.LinAlgError, match=re.escape(f"linalg.svd: {NON_FINITE_SVD}")):
        eval(call)
    m = torch.stack([torch.eye(2), m])
    with pytest.raises(torch.linalg.LinAlgError, match=re.escape(f"linalg.svd: (Batch element 1): {NON_FINITE_SVD}")):
        eval(call)
    # (an inf passes LAPACK's check: nan values)
    assert math.isnan(torch.linalg.svdvals(torch.tensor([[math.inf, 0.0], [0.0, 1.0]]))[0].item())


def test_cholesky_stops_at_a_nan_pivot_as_lapack():
    with pytest.raises(torch.linalg.LinAlgError, match=re.escape(
            "linalg.cholesky: The factorization could not be completed because the input is not positive-definite "
            "(the leading minor of order 1 is not positive-definite).")):
        torch.linalg.cholesky(torch.tensor([[NAN, 0.0], [0.0, 1.0]]))
    with pytest.raises(torch.linalg.LinAlgError, match=re.escape("linalg.cholesky: (Batch element 1): The "
                                                                 "factorization could not be completed because the "
                                                                 "input is not positive-definite (the leading minor "
                                                                 "of order 2 is not positive-definite).")):
        torch.linalg.cholesky(torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [NAN, 1.0]]]))
    # (only the triangle read counts: a nan above the diagonal of a lower factor is ignored)
    assert torch.linalg.cholesky(torch.tensor([[1.0, NAN], [0.0, 4.0]])).tolist() == [[1.0, 0.0], [0.0, 2.0]]


def test_slogdet_sign_is_zero_where_a_nan_makes_logabsdet_nan():
    sign, logabs = torch.linalg.slogdet(torch.tensor([[NAN, 0.0], [0.0, 1.0]], dtype=torch.float64))
    assert sign.item() == 0.0 and math.isnan(logabs.item())
    assert torch.linalg.slogdet(torch.tensor([[2.0, 0.0], [0.0, -1.0]])).sign.item() == -1.0


@pytest.mark.parametrize("inplace", [False, True])
def test_scatter_with_reduce_records_a_node_whose_backward_raises(inplace):
    x = torch.tensor([0.5, 1.0], requires_grad=True)
    y = x * 1
    r = y.scatter_(0, torch.tensor([0]), 3.0, reduce="multiply") if inplace else \
        y.scatter(0, torch.tensor([0]), x * 2, reduce="add")
    assert type(r.grad_fn).__name__ == "NotImplemented" and r.requires_grad
    assert r.tolist() == ([1.5, 1.0] if inplace else [1.5, 1.0])
    name = "scatter_" if inplace else "scatter"
    with pytest.raises(RuntimeError, match=re.escape(f"derivative for aten::{name} is not implemented")):
        r.sum().backward()


def test_index_select_of_an_empty_matrix_checks_as_pytorch():
    with pytest.raises(RuntimeError, match=re.escape("index_select(): self indexing axis dim should be positive")):
        torch.zeros(0, 3).index_select(0, torch.tensor([0]))
    with pytest.raises(RuntimeError, match=re.escape("INDICES element is out of DATA bounds, id=5 axis_dim=2")):
        torch.zeros(2, 0).index_select(0, torch.tensor([0, 5]))
    assert torch.zeros(2, 0).index_select(0, torch.tensor([1, 0])).shape == (2, 0)
    assert torch.zeros(0, 3).index_select(0, torch.tensor([], dtype=torch.int64)).shape == (0, 3)


def test_softmax_of_no_element_dispatches_no_kernel():
    # (PyTorch reaches no kernel for an empty tensor: no "not implemented for" error, whatever the dtype)
    r = torch.log_softmax(torch.tensor([], dtype=torch.float64), 0, dtype=torch.bool)
    assert r.dtype == torch.bool and r.shape == (0,)
    assert torch.softmax(torch.zeros(2, 0, dtype=torch.int64), 0).shape == (2, 0)
    with pytest.raises(NotImplementedError, match="log_softmax_lastdim_kernel_impl"):
        torch.log_softmax(torch.tensor([1.0]), 0, dtype=torch.bool)


def test_unique_along_a_dim_of_an_empty_tensor():
    assert torch.unique_consecutive(torch.tensor([]), dim=0).shape == (0,)
    values, inverse, counts = torch.unique(torch.zeros(0, 2), dim=0, return_inverse=True, return_counts=True)
    assert values.shape == (0, 2) and inverse.shape == (0,) and counts.shape == (0,)
    with pytest.raises(RuntimeError, match="There are 0 sized dimensions, and they aren't selected, so unique "
                                           "cannot be applied"):
        torch.unique_consecutive(torch.zeros(2, 0), dim=0)
    with pytest.raises(RuntimeError, match="Number of zero sized dimensions is more than one, so unique cannot be "
                                           "applied"):
        torch.unique(torch.zeros(0, 0), dim=0)


@pytest.mark.parametrize("call", ["torch.isin(torch.tensor([1.0]), torch.tensor([True]))",
                                  "torch.isin(True, torch.tensor([1]))", "torch.isin(torch.tensor([1]), False)"])
def test_isin_refuses_bools(call):
    with pytest.raises(RuntimeError, match=re.escape("Unsupported input type encountered for isin(): Bool")):
        eval(call)


def test_vector_norm_names_a_dtype_that_is_not_floating_first():
    with pytest.raises(RuntimeError, match=re.escape("linalg.vector_norm: dtype should be floating point or "
                                                     "complex, but got Int")):
        torch.linalg.vector_norm(torch.ones(2, dtype=torch.float64), dtype=torch.int32)
    with pytest.raises(RuntimeError, match="should be convertible without narrowing"):
        torch.linalg.vector_norm(torch.ones(2, dtype=torch.float64), dtype=torch.float32)


@pytest.mark.parametrize("call", ["torch.sum(x, dtype=torch.int64)", "torch.sum(x, 0, dtype=torch.int32)",
                                  "x.prod(dtype=torch.bool)", "torch.prod(x, 0, dtype=torch.uint8)",
                                  "torch.cumsum(x, 0, dtype=torch.int64)", "x.cumprod(1, dtype=torch.int32)",
                                  "torch.nansum(x, dtype=torch.int64)"])
def test_an_integral_dtype_of_a_reduction_that_requires_grad_is_refused(call):
    x = torch.tensor([[1.5, -2.0]], requires_grad=True)
    name = {"64": "Long", "32": "Int", "ol": "Bool", "t8": "Byte"}[call.split("dtype=torch.")[1][-3:-1]]
    with pytest.raises(RuntimeError, match=f"Autograd not support dtype: {name}"):
        eval(call)
    with torch.no_grad():
        assert not eval(call).requires_grad


def test_reductions_keep_the_dtype_asked_for():
    i32 = torch.tensor([1, -2], dtype=torch.int32)
    assert torch.nansum(i32, dtype=torch.int32).dtype == torch.int32
    assert torch.nansum(torch.tensor([1.5, -2.0]), dtype=torch.bool).tolist() is True
    assert torch.prod(torch.tensor([True, False]), dtype=torch.bool).dtype == torch.bool
    assert torch.cumsum(i32, 0, dtype=torch.int32).dtype == torch.int32
    assert torch.cumprod(i32, 0).dtype == torch.int64
    for f in ("cumsum", "cumprod"):
        with pytest.raises(NotImplementedError, match=f'"{f}_out_cpu" not implemented for \'Bool\''):
            getattr(torch, f)(torch.tensor([1.5, -2.0], requires_grad=True), 0, dtype=torch.bool)


def test_nanmean_checks_its_input_then_its_dtype():
    with pytest.raises(RuntimeError, match="nanmean\\(\\): expected input to have floating point or complex dtype "
                                           "but got Long"):
        torch.nanmean(torch.tensor([1, 2]), dtype=torch.float32)
    with pytest.raises(RuntimeError, match="nanmean\\(\\): could not infer output dtype. Optional dtype must be "
                                           "either a floating point or complex dtype. Got: Int"):
        torch.nanmean(torch.tensor([1.0, 2.0]), 0, dtype=torch.int32)


@pytest.mark.parametrize("call", ["torch.bitwise_or(f, torch.ones(3))", "f ^ torch.ones(3, dtype=torch.float64)",
                                  "torch.bitwise_and(f, torch.ones(3))", "torch.gcd(f, torch.ones(3))",
                                  "f[0].gcd_(i[:1].float())", "f[0].bitwise_or_(i[:1])", "f[0].igammac_(i[:1])"])
def test_integer_kernels_broadcast_before_refusing_a_dtype(call):
    f, i = torch.tensor([4.0, 6.0]), torch.tensor([4, 6])
    shape_error = "output with shape" if "_(" in call else "The size of tensor a"
    with pytest.raises(RuntimeError, match=shape_error):
        eval(call)


def test_nanquantile_s_errors_name_quantile():
    x = torch.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match=re.escape("quantile() q must be in the range [0, 1] but got 1.5")) as e:
        torch.nanquantile(x, 1.5)
    assert str(e.value).startswith("quantile()")
    with pytest.raises(RuntimeError, match=re.escape("quantile() q values must be in the range [0, 1]")) as e:
        torch.nanquantile(x, torch.tensor([1.5]))
    assert str(e.value).startswith("quantile()")


def test_linalg_and_special_functions_take_out():
    a = torch.tensor([[2.0, 0.5], [0.25, 3.0]])
    o = torch.zeros(0)
    assert torch.linalg.inv(a, out=o) is o and o.shape == (2, 2)
    assert torch.allclose(o @ a, torch.eye(2))
    lu, piv = torch.zeros(0), torch.zeros(0, dtype=torch.int32)
    assert torch.linalg.lu_factor(a, out=(lu, piv))[1] is piv and piv.tolist() == [1, 2]
    with pytest.raises(RuntimeError, match="Expected out tensor to have dtype float, but got long int instead"):
        torch.linalg.det(a, out=torch.zeros(0, dtype=torch.int64))
    with pytest.raises(RuntimeError, match="Expected out tensor to have dtype int, but got float instead"):
        torch.linalg.lu_factor(a, out=(torch.zeros(0), torch.zeros(0)))
    with pytest.raises(RuntimeError, match=re.escape("_linalg_svd(): functions with out=... arguments don't support "
                                                     "automatic differentiation")):
        torch.linalg.svdvals(a.requires_grad_(), out=torch.zeros(0))
    # (a composite: its result copied into out, recorded)
    n = torch.zeros(0)
    torch.linalg.matrix_norm(a, out=n)
    assert type(n.grad_fn).__name__ == "CopyBackwards"
    n.backward()
    assert torch.allclose(a.grad, a.detach() / n.detach())
    e = torch.zeros(0, dtype=torch.float64)
    assert torch.special.expit(torch.tensor([0.0]), out=e) is e and e.tolist() == [0.5]
    with pytest.raises(RuntimeError, match=re.escape("sigmoid(): functions with out=... arguments don't support")):
        torch.special.expit(torch.tensor([0.0], requires_grad=True), out=e)


def test_small_checks_in_pytorch_s_order():
    # (diff of order 0 returns a copy before looking at the dim; vdot's dtype check is dot's;
    # searchsorted's 0-d boundaries)
    assert torch.diff(torch.tensor([4, 5]), n=0, dim=-2).tolist() == [4, 5]
    assert torch.diff(torch.tensor([4, 5]), n=0, prepend=torch.tensor([1])).tolist() == [4, 5]
    with pytest.raises(RuntimeError, match="^dot : expected both vectors to have same dtype, but found Float and Bool"):
        torch.vdot(torch.tensor([1.0]), torch.tensor([True]))
    with pytest.raises(RuntimeError, match="boundaries tensor should have positive dimension, but got 0 dimension"):
        torch.searchsorted(torch.tensor(1.0), torch.tensor([1.0]))
    with pytest.raises(RuntimeError, match=re.escape("input value can be a scalar only when boundaries tensor "
                                                     "dimension is 1, but we got boundaries tensor dim(0)")):
        torch.searchsorted(torch.tensor(1.0), 1.0)


def test_out_dtype_rules_of_pytorch_s_kernels():
    i = torch.tensor([[1, -2], [3, 4]])
    with pytest.raises(RuntimeError, match="^Found dtype Char but expected Long$"):
        torch.neg(i, out=torch.zeros(0, dtype=torch.int8))
    with pytest.raises(RuntimeError, match="^Found dtype Float but expected Long$"):
        torch.abs(i, out=torch.zeros(0))
    with pytest.raises(RuntimeError, match="^Expected out tensor to have dtype float, but got double instead$"):
        torch.matmul(i.float(), i.float(), out=torch.zeros(0, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="^Expected out tensor to have dtype long int, but got float instead$"):
        torch.sort(i.float(), 0, out=(torch.zeros(0), torch.zeros(0)))
    with pytest.raises(TypeError, match=re.escape("relu() got an unexpected keyword argument 'out'")):
        torch.relu(i, out=torch.zeros(0, dtype=torch.int64))
    o = torch.zeros(0, dtype=torch.int8)
    assert torch.add(i, i, out=o) is o and o.tolist() == [[2, -4], [6, 8]]      # (binary ops cast)


def test_clamp_in_place_of_integers_by_float_numbers_names_the_cpp_type():
    x = torch.tensor([1, 2])
    with pytest.raises(RuntimeError, match="^result type Float can't be cast to the desired output type long int$"):
        x.clamp_(-0.5, 0.5)
    with pytest.raises(RuntimeError, match="^result type Float can't be cast to the desired output type int$"):
        x.int().clip_(-0.5)
    with pytest.raises(RuntimeError, match="^result type Float can't be cast to the desired output type Long$"):
        x.clamp_(torch.tensor(0.5))      # (a tensor bound: the legacy name)


def test_igamma_edge_cases_in_pytorch_s_order_and_unravel_index_of_no_index():
    nan, inf = float("nan"), float("inf")
    a = torch.tensor([nan, nan, inf, 0.0, nan], dtype=torch.float64)
    x = torch.tensor([0.0, inf, nan, nan, 1.0], dtype=torch.float64)
    p, q = torch.igamma(a, x).tolist(), torch.igammac(a, x).tolist()
    assert p[:3] == [0.0, 1.0, 0.0] and q[:3] == [1.0, 0.0, 1.0]
    assert all(math.isnan(v) for v in p[3:] + q[3:])
    assert [t.shape for t in torch.unravel_index(torch.tensor([], dtype=torch.int64), (2, 0))] == [(0,), (0,)]
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        torch.unravel_index(torch.tensor([1]), (2, 0))
