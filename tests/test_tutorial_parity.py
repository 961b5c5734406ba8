"""Behaviour that tutorial code for ``torch.autograd`` prints or relies on, read from PyTorch 2.13
(the expected values are hard-coded; no torch needed)."""
import re
import warnings

import numpy as np
import pytest

import tape as torch


def test_numpy_of_a_tensor_requiring_grad_is_allowed_without_grad_mode():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with torch.no_grad():
        assert x.numpy().tolist() == [1.0, 2.0]
        assert y.numpy().tolist() == [2.0, 4.0]
    with pytest.raises(RuntimeError, match=re.escape("Can't call numpy() on Tensor that requires grad.")):
        y.numpy()


def test_custom_function_forward_may_read_its_input_as_numpy():
    # The forward of a Function runs without grad mode, where PyTorch's numpy() is allowed; a
    # Function that changes its input through it and marks it dirty then fails in backward on
    # the version counter.
    class Inplace(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.numpy()[...] += 1
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output

    a = torch.tensor(1.0, requires_grad=True, dtype=torch.double).clone()
    b = a * a
    out = Inplace.apply(a)
    assert out.item() == 2.0
    with pytest.raises(RuntimeError, match=re.escape(
            "one of the variables needed for gradient computation has been modified by an inplace operation")):
        b.backward()


def test_grad_of_a_non_leaf_warns_with_pytorch_2_13_text():
    x = torch.tensor([1.0], requires_grad=True)
    y = x * 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert y.grad is None
    text = str(caught[0].message)
    assert text.endswith("See github.com/pytorch/pytorch/pull/30531 for more information. (Triggered internally "
                         "at /__w/pytorch/pytorch/build/aten/src/ATen/core/TensorBody.h:493.)")


@pytest.mark.parametrize("requires_grad", [False, True])
def test_power_three_and_minus_two_are_products_as_in_pytorch(requires_grad):
    # PyTorch computes x ** 3 as x * x * x and x ** -2 as 1 / (x * x): two roundings, where a
    # power function rounds once; at these points the last bit differs.
    x32 = torch.tensor([0.14849498867988586], requires_grad=requires_grad)
    assert (x32 ** 3).item() == 0.0032744277268648148
    x64 = torch.tensor(0.18729096989966554, dtype=torch.float64, requires_grad=requires_grad)
    assert (x64 ** 3).item() == 0.006569775300112427
    assert x64.pow(3).item() == 0.006569775300112427
    y64 = torch.tensor([0.11939799331103679], dtype=torch.float64, requires_grad=requires_grad)
    assert (y64 ** -2).item() == 70.14648996853643


def test_power_four_gradient_is_four_cubes():
    # PyTorch's derivative of x ** 4 is 4 * x.pow(3), whose cube is x * x * x.
    x = torch.tensor([0.18729096989966554], dtype=torch.float64, requires_grad=True)
    (x ** 4).sum().backward()
    assert x.grad.item() == 4 * (0.18729096989966554 * 0.18729096989966554 * 0.18729096989966554)
    assert np.isclose(x.grad.item(), 0.026279101200449708, rtol=0, atol=0)


def test_recorded_backward_copies_a_leaf_first_gradient():
    x = torch.tensor(2.0, requires_grad=True)
    (x ** 2).backward(create_graph=True)
    assert type(x.grad.grad_fn).__name__ == "CopyBackwards"
    nexts = x.grad.grad_fn.next_functions
    assert nexts[0] == (None, 0) and type(nexts[1][0]).__name__ == "MulBackward0"
    (x ** 2).backward(create_graph=True)
    assert type(x.grad.grad_fn).__name__ == "AddBackward0"
    assert [type(n).__name__ for n, _ in x.grad.grad_fn.next_functions] == ["CopyBackwards", "MulBackward0"]
    assert x.grad.item() == 8.0
    g = x.grad
    x.grad = None
    g.backward()
    assert x.grad.item() == 4.0


def test_recorded_backward_clones_a_retained_gradient_and_a_leaf_seed():
    y = torch.tensor([1.0, 2.0], requires_grad=True)
    h = y * 3
    h.retain_grad()
    (h * h).sum().backward(create_graph=True)
    assert type(h.grad.grad_fn).__name__ == "CloneBackward0"
    assert type(y.grad.grad_fn).__name__ == "CopyBackwards"
    assert h.grad.tolist() == [6.0, 12.0] and y.grad.tolist() == [18.0, 36.0]
    z = torch.tensor([1.0, 2.0], requires_grad=True)
    z.backward(torch.tensor([1.0, 1.0], requires_grad=True), create_graph=True)
    assert type(z.grad.grad_fn).__name__ == "CopyBackwards"
    v = torch.tensor([1.0, 2.0], requires_grad=True)
    v.backward(torch.tensor([1.0, 1.0]), create_graph=True)
    assert v.grad.grad_fn is None and not v.grad.requires_grad


def test_backward_with_create_graph_warns_once(monkeypatch):
    from tape import _warn
    monkeypatch.setattr(_warn, "_given", set())
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.autograd.grad((x * x).sum(), x, create_graph=True)
        assert not caught
        (x * x).sum().backward(create_graph=True)
        (x * x).sum().backward(create_graph=True)
    assert len(caught) == 1 and caught[0].category is UserWarning
    assert str(caught[0].message).startswith(
        "Using backward() with create_graph=True will create a reference cycle between the parameter and its gradient")


def test_anomaly_traceback_warning_ends_as_pytorch_2_13():
    x = torch.tensor([0.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with torch.autograd.detect_anomaly():
            y = torch.sqrt(x) * 0
            with pytest.raises(RuntimeError, match="Function 'SqrtBackward0' returned nan values in its 0th output."):
                y.backward()
    text = [str(w.message) for w in caught if str(w.message).startswith("Error detected in SqrtBackward0.")][0]
    assert "    y = torch.sqrt(x) * 0\n (Triggered internally at " in text
    assert text.endswith("/__w/pytorch/pytorch/torch/csrc/autograd/python_anomaly_mode.cpp:122.)")


def test_a_leaf_s_accumulate_grad_node_is_one_object():
    # ("The Fundamentals of Autograd" prints next_functions down to the leaf: PyTorch keeps one
    # AccumulateGrad per leaf while the graph refers to it)
    a = torch.ones(3, requires_grad=True)
    b = torch.sin(a)
    acc = b.grad_fn.next_functions[0][0]
    assert type(acc).__name__ == "AccumulateGrad" and acc.variable is a
    assert b.grad_fn.next_functions[0][0] is acc and (2 * a).grad_fn.next_functions[0][0] is acc
    assert torch.autograd.graph.get_gradient_edge(a).node is acc


def test_float_of_a_tensor_requiring_grad_warns_once_per_process():
    # `total += float(loss)`: PyTorch 2.13 warns (once, or each time after set_warn_always), also
    # through complex() and '%f', and before a multi-element tensor's error; int() and item() don't.
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    message = "^Converting a tensor with requires_grad=True to a scalar may lead to unexpected behavior.\nConsider"
    torch.set_warn_always(True)
    try:
        for read in (lambda: float(x.sum()), lambda: complex(x[0]), lambda: "%f" % x[1]):
            with pytest.warns(UserWarning, match=message):
                read()
        with pytest.warns(UserWarning, match=message):
            with pytest.raises(ValueError, match="^only one element tensors can be converted to Python scalars$"):
                float(x)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert (int(x.sum()), x.sum().item(), float(x.detach().sum())) == (3, 3.0, 3.0)
            with torch.no_grad():       # (grad mode off: no warning, as an optimizer's step reads a loss)
                assert float(x.sum()) == 3.0 and "%f" % x[1] == "2.000000"
    finally:
        torch.set_warn_always(False)
    float(x.sum())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert float(x.sum()) == 3.0


@pytest.mark.parametrize("own, given", [((2,), (3,)), ((2, 3), (3, 2)), ((), (1,))])
def test_assigning_a_grad_of_another_size_names_both_sizes(own, given):
    x = torch.ones(own, requires_grad=True)
    with pytest.raises(RuntimeError, match=re.escape(
            f"attempting to assign a gradient of size '{list(given)}' to a tensor of size '{list(own)}'. Please "
            "ensure that the gradient and the tensor are the same size")):
        x.grad = torch.ones(given)


def _signs(t) -> list:
    return np.signbit(t.numpy()).tolist()


def test_a_lone_gradient_of_minus_zero_stays_minus_zero():
    # PyTorch passes a lone gradient on as it is: a row of the Jacobian of x * y has -0.0 where
    # y < 0 (0 * -1), printed -0.0000; a row that adds to only some elements (indexing) leaves +0.0
    # at the others.
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    g, = torch.autograd.grad(x * y, x, torch.tensor([1.0, 0.0, 0.0]))
    assert _signs(g) == [False, True, False]
    assert repr(g) == "tensor([0.5000, -0.0000, 0.0000])"
    (-(x * 0)).sum().backward()
    assert _signs(x.grad) == [True, True, True]
    z = torch.tensor([-1.0, -2.0, -3.0], requires_grad=True)
    z[[0]].sum().backward()
    assert _signs(z.grad) == [False, False, False]
    w = torch.tensor([-1.0, -2.0], requires_grad=True)
    (w * w).backward(torch.tensor([0.0, 1.0]))     # (one node as both inputs)
    assert _signs(w.grad) == [True, True]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_minus_zero_gradients_of_big_rows_as_of_small_ones(dtype):
    # Rows of 2**17 elements run by blocks, away from the compiled sweep: the same signs.
    n = 1 << 17
    x = torch.linspace(-1.0, 1.0, n, dtype=dtype).requires_grad_()
    seed = torch.zeros(n, dtype=dtype)
    (x * x * 3.0).tanh().exp().backward(seed)
    small = torch.linspace(-1.0, 1.0, 8, dtype=dtype).requires_grad_()
    (small * small * 3.0).tanh().exp().backward(torch.zeros(8, dtype=dtype))
    assert np.signbit(x.grad.numpy()).tolist() == (x.detach().numpy() < 0).tolist()
    assert _signs(small.grad) == (small.detach().numpy() < 0).tolist()


@pytest.mark.parametrize("make", [lambda x: x.sum(), lambda x: x.mean(), lambda x: x.view(2, 2),
                                  lambda x: x.view(2, 2).sum(0), lambda x: x.view(2, 2).mean(1, keepdim=True),
                                  lambda x: x.view(2, 2).t()])
def test_a_lone_minus_zero_seed_passes_through_sums_means_and_views(make):
    # PyTorch's sum and mean spread the adjoint (expand), views and transposes pass it on as it is:
    # a -0.0 seed leaves -0.0 on every element.
    x = torch.tensor([-1.0, 0.0, 1.0, 2.0], dtype=torch.float64, requires_grad=True)
    y = make(x)
    y.backward(torch.full_like(y, -0.0))
    assert _signs(x.grad) == [True] * 4


def test_max_min_and_median_of_all_elements_leave_plus_zero_off_the_ties():
    # PyTorch writes the shares of max(), min(), median() into zeros (evenly_distribute_backward) but
    # multiplies amax's, amin's and aminmax's by the mask: -0.0 off the ties for a negative seed.
    for name, signs in [("max", [False, True, True, False]), ("min", [True, False, False, False]),
                        ("median", [False, False, False, True]), ("amax", [True, True, True, True]),
                        ("amin", [True, True, True, True])]:
        x = torch.tensor([0.0, 3.0, 3.0, 1.0], dtype=torch.float64, requires_grad=True)
        getattr(x, name)().backward(torch.tensor(-1.0, dtype=torch.float64))
        assert _signs(x.grad) == signs, name
    x = torch.tensor([[0.0, 3.0], [3.0, 1.0]], requires_grad=True)
    x.max().backward(torch.tensor(-2.0))
    assert repr(x.grad) == "tensor([[ 0., -1.],\n        [-1.,  0.]])"


def test_ties_share_the_gradient_divided_by_their_count():
    # grad / count, as PyTorch computes it (not grad * (1 / count): 2.9 / 3 and 2.9 * (1 / 3) differ
    # in the last bit).
    for name in ("max", "amax", "median"):
        x = torch.tensor([1.0, 3.0, 3.0, 3.0, 0.0], dtype=torch.float64, requires_grad=True)
        getattr(x, name)().backward(torch.tensor(2.9, dtype=torch.float64))
        assert x.grad.tolist() == [0.0, 2.9 / 3, 2.9 / 3, 2.9 / 3, 0.0], name
    x = torch.tensor([[1.0, 3.0, 3.0, 3.0, 0.0]], dtype=torch.float64, requires_grad=True)
    x.aminmax(dim=1)[1].backward(torch.tensor([2.9], dtype=torch.float64))
    assert x.grad.tolist() == [[0.0, 2.9 / 3, 2.9 / 3, 2.9 / 3, 0.0]]


def test_jacobian_with_create_graph_stacks_its_rows_as_pytorch():
    # Each row's -0.0 (0 * -1 off the diagonal of the Jacobian of a * y) is kept, as torch.stack keeps it.
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    J = torch.autograd.functional.jacobian(lambda a: a * y, x, create_graph=True)
    assert repr(J) == ("tensor([[ 0.5000, -0.0000,  0.0000],\n        [ 0.0000, -1.0000,  0.0000],\n"
                       "        [ 0.0000, -0.0000,  2.0000]], grad_fn=<ViewBackward0>)")
    J.sum().backward()
    assert y.grad.tolist() == [1.0, 1.0, 1.0]


def test_a_custom_function_s_node_prints_pytorch_s_module():
    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, g):
            return g

    y = Square.apply(torch.ones(2, requires_grad=True))
    assert repr(y.grad_fn).startswith("<torch.autograd.function.SquareBackward object at 0x")
    assert repr(y) == "tensor([1., 1.], grad_fn=<SquareBackward>)"


def _graph_desc(fn) -> str:
    """PyTorch's test_autograd ``graph_desc``: a node and, recursively, its next functions."""
    if fn is None:
        return "None"
    inner = ", ".join(_graph_desc(f) for f, _ in fn.next_functions)
    return type(fn).__name__ + "(" + inner + ")"


@pytest.mark.parametrize("make, expected", [
    (lambda x: x.sum(), "ExpandBackward0(AccumulateGrad())"),
    (lambda x: x.sum(0, keepdim=True), "ExpandBackward0(AccumulateGrad())"),
    (lambda x: (x + torch.ones(3, dtype=torch.double)).sum(), "ExpandBackward0(AccumulateGrad())"),
    (lambda x: x.exp().sum(), "MulBackward0(ExpandBackward0(AccumulateGrad()), ExpBackward0(AccumulateGrad()))"),
])
def test_a_recorded_gradient_of_a_sum_expands_the_seed_as_it_is(make, expected):
    # (PyTorch's sum backward is ``grad.expand(sizes)``: no view node before the expand, unless
    # dims were reduced away)
    x = torch.randn(2, 3, dtype=torch.double, requires_grad=True)
    out = make(x)
    seed = torch.ones(out.shape, dtype=torch.double, requires_grad=True)
    g, = torch.autograd.grad(out, x, seed, create_graph=True)
    assert _graph_desc(g.grad_fn) == expected


def test_the_double_backward_graph_of_pytorch_s_test_function():
    # (test_autograd.py's test_function: the graph of x.grad and y.grad after backward(create_graph=True))
    class MyFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, tensor1, pyscalar, tensor2):
            ctx.pyscalar = pyscalar
            ctx.save_for_backward(tensor1, tensor2)
            return tensor1 + pyscalar * tensor2 + tensor1 * tensor2

        @staticmethod
        def backward(ctx, grad_output):
            var1, var2 = ctx.saved_tensors
            return grad_output + grad_output * var2, None, grad_output * ctx.pyscalar + grad_output * var1

    x = torch.randn(5, 5, requires_grad=True)
    y = torch.randn(5, 5, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MyFunction.apply(x, 2, y).sum().backward(torch.ones((), requires_grad=True), create_graph=True)
    assert _graph_desc(x.grad.grad_fn) == ("CopyBackwards(None, AddBackward0(ExpandBackward0(AccumulateGrad()), "
                                           "MulBackward0(ExpandBackward0(AccumulateGrad()), AccumulateGrad())))")
    assert _graph_desc(y.grad.grad_fn) == ("CopyBackwards(None, AddBackward0(MulBackward0(ExpandBackward0("
                                           "AccumulateGrad()), None), MulBackward0(ExpandBackward0(AccumulateGrad()), "
                                           "AccumulateGrad())))")
