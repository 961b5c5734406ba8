"""Errors: PyTorch's exception type and message (``import tape as torch``).

Every message here was checked against PyTorch 2.x; matches use the
distinctive part of the message.
"""
import re

import pytest

import tape as torch


@pytest.fixture(autouse=True)
def _restore_global_state():
    yield
    torch.set_grad_enabled(True)


def raises(exc, text):
    """pytest.raises matching `text` literally (re.escape'd)."""
    return pytest.raises(exc, match=re.escape(text))


SECOND_BACKWARD = "Trying to backward through the graph a second time"
UNUSED = ("appears to not have been used in the graph. "
          "Set allow_unused=True if this is the desired behavior.")


# ---------------------------------------------------------------------------
# broadcasting
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "maximum"])
def test_broadcast_mismatch(op):
    a, b = torch.ones(3), torch.ones(4)
    fns = {
        "add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
        "div": lambda: a / b, "pow": lambda: a.pow(b), "maximum": lambda: torch.maximum(a, b),
    }
    with raises(RuntimeError, "The size of tensor a (3) must match the size of tensor b (4) "
                              "at non-singleton dimension 0"):
        fns[op]()


def test_broadcast_mismatch_2d():
    with raises(RuntimeError, "The size of tensor a (3) must match the size of tensor b (4) "
                              "at non-singleton dimension 1"):
        torch.ones(2, 3) * torch.ones(4)
    with raises(RuntimeError, "The size of tensor a (3) must match the size of tensor b (4) "
                              "at non-singleton dimension 1"):
        torch.ones(2, 3) + torch.ones(2, 4)


def test_broadcast_mismatch_with_requires_grad():
    x = torch.ones(4, requires_grad=True)
    with raises(RuntimeError, "The size of tensor a (3) must match the size of tensor b (4) "
                              "at non-singleton dimension 0"):
        torch.ones(3) + x


# ---------------------------------------------------------------------------
# matmul family
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape,sizes,dim", [((3, 2), (2, 3), 1), ((3, 2), (4, 3), 1), ((2, 3), (4, 2, 5), 2),
                                            ((3, 1, 2), (2, 4, 2), 0)])
def test_expand_mismatch_names_the_last_wrong_dim(shape, sizes, dim):
    # PyTorch checks the sizes from the last dimension back and reports the first mismatch it meets.
    with raises(RuntimeError, f"must match the existing size ({shape[dim - len(sizes) + len(shape)]}) at "
                              f"non-singleton dimension {dim}.  Target sizes: {list(sizes)}.  "
                              f"Tensor sizes: {list(shape)}"):
        torch.ones(*shape).expand(*sizes)


def test_mm_shape_mismatch():
    with raises(RuntimeError, "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"):
        torch.ones(2, 3).mm(torch.ones(4, 5))
    with raises(RuntimeError, "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"):
        torch.ones(2, 3) @ torch.ones(4, 5)
    with raises(RuntimeError, "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"):
        torch.matmul(torch.ones(2, 3), torch.ones(4, 5))


def test_matmul_1d_2d_mismatch():
    with raises(RuntimeError, "mat1 and mat2 shapes cannot be multiplied (1x3 and 4x2)"):
        torch.ones(3) @ torch.ones(4, 2)


def test_mm_requires_matrices():
    with raises(RuntimeError, "self must be a matrix"):
        torch.ones(3).mm(torch.ones(3, 3))
    with raises(RuntimeError, "mat2 must be a matrix"):
        torch.ones(3, 3).mm(torch.ones(3))


def test_mv_shape_mismatch():
    with raises(RuntimeError, "size mismatch, got input (2), mat (2x3), vec (4)"):
        torch.ones(2, 3).mv(torch.ones(4))
    with raises(RuntimeError, "size mismatch, got input (2), mat (2x3), vec (4)"):
        torch.ones(2, 3) @ torch.ones(4)


def test_mv_requires_vector():
    with raises(RuntimeError, "vector + matrix @ vector expected, got 1, 2, 2"):
        torch.ones(2, 3).mv(torch.ones(3, 1))


def test_dot_shape_mismatch():
    with raises(RuntimeError, "inconsistent tensor size, expected tensor [3] and src [4] to have "
                              "the same number of elements, but got 3 and 4 elements respectively"):
        torch.ones(3).dot(torch.ones(4))
    with raises(RuntimeError, "inconsistent tensor size, expected tensor [3] and src [4]"):
        torch.ones(3) @ torch.ones(4)


def test_dot_requires_1d():
    with raises(RuntimeError, "1D tensors expected, but got 2D and 1D tensors"):
        torch.ones(2, 3).dot(torch.ones(3))


def test_dot_dtype_mismatch():
    with raises(RuntimeError, "dot : expected both vectors to have same dtype, but found Float and Double"):
        torch.ones(3).dot(torch.ones(3, dtype=torch.float64))


def test_mm_dtype_mismatch():
    with raises(RuntimeError, "expected m1 and m2 to have the same dtype, but got: float != double"):
        torch.ones(2, 3).mm(torch.ones(3, 2, dtype=torch.float64))


# ---------------------------------------------------------------------------
# numpy / scalar conversion
# ---------------------------------------------------------------------------

def test_numpy_on_requires_grad_tensor():
    x = torch.ones(3, requires_grad=True)
    with raises(RuntimeError, "Can't call numpy() on Tensor that requires grad. "
                              "Use tensor.detach().numpy() instead."):
        x.numpy()
    with raises(RuntimeError, "Can't call numpy() on Tensor that requires grad."):
        (x * 2).numpy()


def test_item_on_multi_element_tensor():
    with raises(RuntimeError, "a Tensor with 3 elements cannot be converted to Scalar"):
        torch.ones(3).item()
    with raises(RuntimeError, "a Tensor with 0 elements cannot be converted to Scalar"):
        torch.ones(0).item()


def test_bool_on_multi_element_tensor():
    with raises(RuntimeError, "Boolean value of Tensor with more than one value is ambiguous"):
        bool(torch.ones(3))
    with raises(RuntimeError, "Boolean value of Tensor with more than one value is ambiguous"):
        if torch.tensor([1.0, 2.0]) > 0:
            pass
    with raises(RuntimeError, "Boolean value of Tensor with no values is ambiguous"):
        bool(torch.ones(0))


def test_float_int_on_multi_element_tensor():
    with raises(ValueError, "only one element tensors can be converted to Python scalars"):
        float(torch.ones(3))
    with raises(ValueError, "only one element tensors can be converted to Python scalars"):
        int(torch.ones(3))


# ---------------------------------------------------------------------------
# backward / autograd.grad
# ---------------------------------------------------------------------------

def test_non_scalar_backward_without_gradient():
    x = torch.ones(3, requires_grad=True)
    with raises(RuntimeError, "grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()
    with raises(RuntimeError, "grad can be implicitly created only for scalar outputs"):
        torch.autograd.grad(x * 2, x)


def test_grad_outputs_count():
    # PyTorch 2.13 pairs outputs with grad_outputs (extra grad_outputs are ignored), checks each pair,
    # then the counts, then whether the outputs require grad.
    x = torch.ones(3, requires_grad=True)
    y = (x * x).sum()
    with raises(RuntimeError, "got 1 tensors and 0 gradients"):
        torch.autograd.grad(y, x, grad_outputs=[])
    with raises(RuntimeError, "got 1 tensors and 0 gradients"):
        torch.autograd.grad(x * 2, x, grad_outputs=())          # not a scalar: the count is checked first
    with raises(RuntimeError, "got 1 tensors and 0 gradients"):
        torch.autograd.backward(y, grad_tensors=[])
    with raises(RuntimeError, "got 2 tensors and 1 gradients"):
        torch.autograd.grad([y, y * 2], x, grad_outputs=[torch.tensor(1.0)])
    with raises(RuntimeError, "got 2 tensors and 1 gradients"):
        torch.autograd.backward([y, torch.ones(2)], grad_tensors=torch.tensor(1.0))
    with raises(RuntimeError, "grad can be implicitly created only for scalar outputs"):
        torch.autograd.grad([x * 2, y], x, grad_outputs=[None])
    with raises(RuntimeError, "Mismatch in shape: grad_output[0] has a shape of"):
        torch.autograd.grad(torch.ones(2), x, grad_outputs=[torch.ones(3)])
    with raises(TypeError, "gradients can be either Tensors or None, but got float"):
        torch.autograd.grad(y, x, grad_outputs=[1.0])
    g, = torch.autograd.grad(y, x, grad_outputs=[torch.tensor(2.0), torch.tensor(5.0)], retain_graph=True)
    assert g.tolist() == [4.0, 4.0, 4.0]
    torch.autograd.backward([y], grad_tensors=[None, None])
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_backward_gradient_wrong_shape():
    x = torch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"^Mismatch in shape: grad_output\[0\] has a shape of ") as ei:
        (x * 2).backward(torch.ones(2))
    msg = str(ei.value)
    if hasattr(torch, "Size"):
        s2, s3 = repr(torch.Size([2])), repr(torch.Size([3]))
        assert msg == ("Mismatch in shape: grad_output[0] has a shape of %s and "
                       "output[0] has a shape of %s." % (s2, s3))
    # grad was not touched
    assert x.grad is None


def test_autograd_grad_outputs_wrong_shape():
    x = torch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"^Mismatch in shape: grad_output\[0\] has a shape of ") as ei:
        torch.autograd.grad(x * 2, x, grad_outputs=torch.ones(2))
    if hasattr(torch, "Size"):
        assert str(ei.value).endswith("output[0] has a shape of %s." % repr(torch.Size([3])))
    with pytest.raises(RuntimeError, match=r"^Mismatch in shape: grad_output\[0\] has a shape of ") as ei:
        torch.autograd.grad((x * 2).sum(), x, grad_outputs=torch.ones(2))
    if hasattr(torch, "Size"):
        assert str(ei.value).endswith("output[0] has a shape of %s." % repr(torch.Size([])))


def test_backward_of_tensor_not_requiring_grad():
    with raises(RuntimeError, "element 0 of tensors does not require grad and does not have a grad_fn"):
        torch.ones(3).sum().backward()
    with raises(RuntimeError, "element 0 of tensors does not require grad and does not have a grad_fn"):
        torch.tensor([1.0, 2.0]).backward(torch.ones(2))
    with raises(RuntimeError, "element 0 of tensors does not require grad and does not have a grad_fn"):
        torch.autograd.backward(torch.ones(3).sum())


def test_backward_under_no_grad_built_graph():
    x = torch.ones(3, requires_grad=True)
    with torch.no_grad():
        y = (x * 2).sum()
    with raises(RuntimeError, "element 0 of tensors does not require grad and does not have a grad_fn"):
        y.backward()


def test_autograd_grad_of_tensor_not_requiring_grad():
    a = torch.tensor(2.0)
    with raises(RuntimeError, "element 0 of tensors does not require grad and does not have a grad_fn"):
        torch.autograd.grad(a * 3, [a])


def test_autograd_grad_unused_input():
    x = torch.ones(3, requires_grad=True)
    z = torch.ones(1, requires_grad=True)
    with raises(RuntimeError, UNUSED):
        torch.autograd.grad((x * 2).sum(), [x, z])
    with raises(RuntimeError, UNUSED):
        torch.autograd.grad((x * 2).sum(), [z])
    with raises(RuntimeError, UNUSED):
        torch.autograd.grad((x * 2).sum(), [z], allow_unused=False)


def test_autograd_grad_input_not_requiring_grad():
    x = torch.ones(3, requires_grad=True)
    with raises(RuntimeError, "One of the differentiated Tensors does not require grad"):
        torch.autograd.grad((x * 2).sum(), [torch.ones(2)])


def test_autograd_grad_non_tensor_outputs_or_inputs():
    x = torch.ones(3, requires_grad=True)
    # PyTorch's text here is Python's own ("'float' object is not iterable"):
    # only the type is part of the contract.
    with pytest.raises(TypeError):
        torch.autograd.grad(3.0, [x])
    with pytest.raises(TypeError):
        torch.autograd.grad((x * 2).sum(), 3.0)
    # a non-tensor inside the inputs list: PyTorch 2.x raises RuntimeError
    with raises(RuntimeError, "all inputs have to be Tensors"):
        torch.autograd.grad((x * 2).sum(), [x, 3.0])


def test_autograd_takes_any_iterable_of_tensors():
    # PyTorch takes ``tuple(inputs)``: ``dict.values()`` of named parameters, generators
    x = torch.ones(3, requires_grad=True)
    w = torch.full((3,), 2.0, requires_grad=True)
    y = (x * w).sum()
    gx, gw = torch.autograd.grad(y, {"x": x, "w": w}.values(), retain_graph=True)
    assert gx.tolist() == [2.0] * 3 and gw.tolist() == [1.0] * 3
    (g,) = torch.autograd.grad((t for t in [y]), iter([x]), retain_graph=True)
    assert g.tolist() == [2.0] * 3
    y.backward(inputs=iter([w]))
    assert x.grad is None and w.grad.tolist() == [1.0] * 3


def test_second_backward_error_message():
    x = torch.ones(3, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=re.escape(SECOND_BACKWARD)) as ei:
        y.backward()
    assert "retain_graph=True" in str(ei.value)


# ---------------------------------------------------------------------------
# shapes, dims
# ---------------------------------------------------------------------------

def test_reshape_invalid():
    with raises(RuntimeError, "shape '[4]' is invalid for input of size 3"):
        torch.ones(3).reshape(4)
    with raises(RuntimeError, "shape '[2, -1]' is invalid for input of size 3"):
        torch.ones(3).reshape(2, -1)
    with raises(RuntimeError, "shape '[-1, 4]' is invalid for input of size 3"):
        torch.ones(3).view(-1, 4)
    with raises(RuntimeError, "shape '[4]' is invalid for input of size 3"):
        torch.ones(3).view(4)
    with raises(RuntimeError, "only one dimension can be inferred"):
        torch.ones(6).reshape(-1, -1)


def test_reduction_dim_out_of_range():
    with raises(IndexError, "Dimension out of range (expected to be in range of [-1, 0], but got 1)"):
        torch.ones(3).sum(1)
    with raises(IndexError, "Dimension out of range (expected to be in range of [-1, 0], but got -2)"):
        torch.ones(3).sum(dim=-2)
    with raises(IndexError, "Dimension out of range (expected to be in range of [-2, 1], but got 2)"):
        torch.ones(2, 3).sum(2)
    with raises(IndexError, "Dimension out of range (expected to be in range of [-2, 1], but got 5)"):
        torch.ones(2, 3).mean(5)
    with raises(IndexError, "Dimension out of range (expected to be in range of [-1, 0], but got 1)"):
        torch.tensor(1.0).sum(1)


def test_reduction_repeated_dim():
    with raises(RuntimeError, "dim 0 appears multiple times in the list of dims"):
        torch.ones(2, 3).sum((0, 0))


def test_unbind_dim_out_of_range():
    with raises(IndexError, "Dimension out of range (expected to be in range of [-1, 0], but got 1)"):
        torch.ones(3).unbind(1)


def test_index_out_of_range():
    with raises(IndexError, "index 3 is out of bounds for dimension 0 with size 3"):
        torch.ones(3)[3]


@pytest.mark.parametrize("code, message", [
    # An index tensor is reported by its position among the index tensors (ints select first).
    ("x = torch.ones(2, 3); x[:, torch.tensor([5])]", "index 5 is out of bounds for dimension 0 with size 3"),
    ("x = torch.ones(2, 3, 4); x[0, :, torch.tensor([9])]", "index 9 is out of bounds for dimension 0 with size 4"),
    ("x = torch.ones(2, 3, 4); x[torch.tensor([0]), :, torch.tensor([9])] = 1.0",
     "index 9 is out of bounds for dimension 1 with size 4"),
    ("x = torch.ones(2, 3, 4); x[torch.tensor([1]), 7]", "index 7 is out of bounds for dimension 1 with size 3"),
    ("x = torch.ones(2, 0); x[:, torch.tensor([0])]", "index is out of bounds for dimension with size 0"),
    ("x = torch.ones(2, 0); x[0, 0]", "index 0 is out of bounds for dimension 1 with size 0"),
])
def test_index_tensor_out_of_range(code, message):
    with raises(IndexError, message):
        exec(code, {"torch": torch})


def test_clamp_without_min_and_max():
    with raises(RuntimeError, "torch.clamp: At least one of 'min' or 'max' must not be None"):
        torch.ones(3).clamp()
    with raises(RuntimeError, "At least one of 'min' or 'max' must not be None"):
        torch.clamp(torch.ones(3))


def test_mean_of_integer_tensor():
    with raises(RuntimeError, "mean(): could not infer output dtype. Input dtype must be either "
                              "a floating point or complex dtype. Got: Long"):
        torch.tensor([1, 2]).mean()


def test_ragged_nested_list():
    with raises(ValueError, "expected sequence of length 2 at dim 1 (got 1)"):
        torch.tensor([[1, 2], [3]])


def test_negative_size():
    with raises(RuntimeError, "Dimension size must be non-negative."):
        torch.zeros(-1)


# Sizes no storage can hold: PyTorch's RuntimeError (its C++ source location left out), before numpy
# tries.  4e15 bytes exceed the address space, so the allocation fails even where memory is overcommitted.
CREATORS = {
    "zeros": torch.zeros, "ones": torch.ones, "empty": torch.empty, "rand": torch.rand, "randn": torch.randn,
    "full": lambda *size: torch.full(size, 2.0), "randint": lambda *size: torch.randint(3, size),
    "Tensor": torch.Tensor,
}


@pytest.mark.parametrize("name", sorted(CREATORS))
def test_size_beyond_memory(name):
    nbytes = 8 * 10**15 if name == "randint" else 4 * 10**15
    with raises(RuntimeError, f"DefaultCPUAllocator: can't allocate memory: you tried to allocate {nbytes} bytes. "
                              "Error code 12 (Cannot allocate memory)"):
        CREATORS[name](10**15)


@pytest.mark.parametrize("name", sorted(CREATORS))
def test_size_beyond_storage(name):
    with raises(RuntimeError, "Storage size calculation overflowed with sizes=[1000000000000, 1000000000000]"):
        CREATORS[name](10**12, 10**12)
    with raises(RuntimeError, "Stride calculation overflowed"):
        CREATORS[name](0, 2**63 - 1, 2)


def test_size_beyond_int64():
    with raises(TypeError, "zeros(): argument 'size' failed to unpack the object at pos 2 with error "
                           "\"Overflow when unpacking long long\""):
        torch.zeros(3, 2**63)
    with raises(TypeError, "full(): argument 'size' failed to unpack the object at pos 1 with error"):
        torch.full((-2**63 - 1,), 1.0)


def test_other_factories_beyond_memory():
    for make, nbytes in ((lambda: torch.eye(10**8), 4 * 10**16), (lambda: torch.arange(10**15), 8 * 10**15),
                         (lambda: torch.linspace(0, 1, 10**15), 4 * 10**15),
                         (lambda: torch.zeros_like(torch.zeros(1).expand(10**15), dtype=torch.float64), 8 * 10**15)):
        with raises(RuntimeError, f"can't allocate memory: you tried to allocate {nbytes} bytes."):
            make()


def test_add_string_type_error():
    with raises(TypeError, "unsupported operand type(s) for +: 'Tensor' and 'str'"):
        torch.ones(3) + "a"


# ---------------------------------------------------------------------------
# in-place and autograd
# ---------------------------------------------------------------------------

def test_in_place_on_leaf_requiring_grad():
    x = torch.ones(3, requires_grad=True)
    with raises(RuntimeError, "a leaf Variable that requires grad is being used in an in-place operation."):
        x.add_(1)
    with raises(RuntimeError, "a leaf Variable that requires grad is being used in an in-place operation."):
        x.zero_()
    # allowed under no_grad
    with torch.no_grad():
        x.add_(1)
    assert x.detach().tolist() == [2.0, 2.0, 2.0]


def test_modified_saved_tensor_detected():
    x = torch.ones(3, requires_grad=True)
    y = x.exp()
    y.add_(1)
    with raises(RuntimeError, "one of the variables needed for gradient computation has been "
                              "modified by an inplace operation"):
        y.sum().backward()


def test_in_place_result_dtype_cannot_be_cast():
    with raises(RuntimeError, "result type Float can't be cast to the desired output type Long"):
        torch.ones(3, dtype=torch.int64).add_(torch.ones(3))


# ---------------------------------------------------------------------------
# still usable after a failure
# ---------------------------------------------------------------------------

def test_library_usable_after_failed_op():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    with pytest.raises(RuntimeError):
        y + torch.ones(4)
    with pytest.raises(RuntimeError):
        y @ torch.ones(2, 2)
    with pytest.raises(IndexError):
        y.sum(3)
    with pytest.raises(RuntimeError):
        y.reshape(5)
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]


def test_library_usable_after_failed_backward():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    with pytest.raises(RuntimeError):
        y.backward()                       # not a scalar
    with pytest.raises(RuntimeError):
        y.backward(torch.ones(2))          # wrong gradient shape
    assert x.grad is None
    y.backward(torch.ones(3))              # the graph is intact
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    # and fresh graphs keep working
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0, 9.0]


def test_library_usable_after_failed_grad_mode_block():
    x = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError):
        with torch.no_grad():
            torch.ones(3) + torch.ones(4)
    assert torch.is_grad_enabled() is True
    assert (x * 2).requires_grad is True


# ---------------------------------------------------------------------------
# the argument parser's type errors: positions as each call form counts them
@pytest.mark.parametrize("call, text", [
    # (a method counts its arguments after the tensor, a function from its input; a keyword has no position)
    (lambda t: t.maximum(2), "maximum(): argument 'other' (position 1) must be Tensor, not int"),
    (lambda t: torch.maximum(t, 2), "maximum(): argument 'other' (position 2) must be Tensor, not int"),
    (lambda t: torch.maximum(t, other=2), "maximum(): argument 'other' must be Tensor, not int"),
    (lambda t: torch.arctan2(t, 2), "arctan2(): argument 'other' (position 2) must be Tensor, not int"),
    (lambda t: t.gcd(2.0), "gcd(): argument 'other' (position 1) must be Tensor, not float"),
    (lambda t: torch.gcd(t, 2.0), "gcd(): argument 'other' (position 2) must be Tensor, not float"),
    (lambda t: t.isclose(1), "isclose(): argument 'other' (position 1) must be Tensor, not int"),
    (lambda t: t.gather(0, [0]), "gather(): argument 'index' (position 2) must be Tensor, not list"),
    (lambda t: torch.gather(t, 0, [0]), "gather(): argument 'index' (position 3) must be Tensor, not list"),
    (lambda t: torch.gather(t, 0, index=[0]), "gather(): argument 'index' must be Tensor, not list"),
    (lambda t: t.take([0]), "take(): argument 'index' (position 1) must be Tensor, not list"),
    (lambda t: t.addcmul(t, 1), "addcmul(): argument 'tensor2' (position 2) must be Tensor, not int"),
    (lambda t: torch.addcmul(t, 1, t), "addcmul(): argument 'tensor1' (position 2) must be Tensor, not int"),
    (lambda t: t.kron(1), "kron(): argument 'other' (position 1) must be Tensor, not int"),
    (lambda t: t.matmul(1), "matmul(): argument 'other' (position 1) must be Tensor, not int"),
    (lambda t: torch.matmul(t, 1), "matmul(): argument 'other' (position 2) must be Tensor, not int"),
    (lambda t: torch.matmul(1, t), "matmul(): argument 'input' (position 1) must be Tensor, not int"),
    (lambda t: torch.igamma(1, t), "igamma(): argument 'input' (position 1) must be Tensor, not int"),
])
def test_argument_type_errors_count_positions_as_the_call_form_does(call, text):
    with raises(TypeError, text):
        call(torch.ones(2))
