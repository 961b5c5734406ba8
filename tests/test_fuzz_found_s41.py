"""What the differential fuzzers (tests/test_fuzz_*_torch.py) found in session 41: programs whose outcome
(an error's type and whole message, values, gradients) differed from PyTorch's.

Every expectation here was read from PyTorch 2.13 (torch-free: fixed values)."""
import pytest

import tape as torch

MODIFIED = ("one of the variables needed for gradient computation has been modified by an inplace operation: "
            "[torch.FloatTensor {shape}], which is output 0 of AsStrided, is at version 1; expected version 0 "
            "instead. Hint: enable anomaly detection to find the operation that failed to compute its gradient, "
            "with torch.autograd.set_detect_anomaly(True, check_nan=False).")


@pytest.mark.parametrize("leaf", [True, False])
@pytest.mark.parametrize("view, shape", [(lambda a: a.mT, "[2, 2]"), (lambda a: a[0], "[2]")])
def test_saved_view_changed_through_a_detached_alias_of_its_base(leaf, view, shape):
    # The alias shares the base's version counter: the view saved by the product is stale.
    a = torch.tensor([[1.5, -1.5], [-0.5, 1.5]], requires_grad=True)
    if not leaf:
        a = a * 1
    b = view(a)
    c = b * b
    a.detach().mul_(2)
    assert b._version == 1 and b.grad_fn.name() == "AsStridedBackward0"
    with pytest.raises(RuntimeError) as info:
        c.sum().backward()
    assert str(info.value) == MODIFIED.format(shape=shape)


def test_unsaved_view_changed_through_a_detached_alias_of_its_base():
    a = torch.tensor([[1.5, -1.5], [-0.5, 1.5]], requires_grad=True)
    c = a[0] * 2
    a.detach().mul_(2)
    c.sum().backward()
    assert a.grad.tolist() == [[2.0, 2.0], [0.0, 0.0]]


MODIFIED_CONST = ("one of the variables needed for gradient computation has been modified by an inplace operation: "
                  "[torch.{kind} [{size}]] is at version 1; expected version 0 instead. Hint: enable anomaly detection "
                  "to find the operation that failed to compute its gradient, with "
                  "torch.autograd.set_detect_anomaly(True, check_nan=False).")


def test_lu_saves_its_permutation_not_its_input():
    # LinalgLuBackward0 saves P, L and U: A may change, P may not
    a = torch.tensor([[1., 2.], [3., 4.]], requires_grad=True)
    b = a * 1
    p, low, up = torch.linalg.lu(b)
    b.mul_(2)
    up.sum().backward()
    assert a.grad.reshape(-1).tolist() == pytest.approx([-4 / 3, 1.0, 13 / 9, 2 / 3])
    p, low, up = torch.linalg.lu(a * 1)
    assert up.grad_fn._saved_P is p and up.grad_fn._saved_pivot is True
    assert sorted(k for k in dir(up.grad_fn) if k.startswith("_saved")) == ["_saved_L", "_saved_P", "_saved_U",
                                                                             "_saved_pivot"]
    p.mul_(2)
    with pytest.raises(RuntimeError) as info:
        up.sum().backward()
    assert str(info.value) == MODIFIED_CONST.format(kind="FloatTensor", size="2, 2")


def test_lu_factor_saves_its_pivots_not_its_input():
    a = torch.tensor([[1., 2.], [3., 4.]], requires_grad=True)
    b = a * 1
    lu, piv = torch.linalg.lu_factor(b)
    b.mul_(2)
    lu.sum().backward()
    assert a.grad.reshape(-1).tolist() == pytest.approx([-1.0, 1.0, 4 / 3, 2 / 3])
    lu, piv = torch.linalg.lu_factor(a)
    assert lu.grad_fn._saved_pivots is piv and lu.grad_fn._saved_pivot is True
    assert sorted(k for k in dir(lu.grad_fn) if k.startswith("_saved")) == ["_saved_LU", "_saved_pivot",
                                                                             "_saved_pivots"]
    piv.mul_(2)
    with pytest.raises(RuntimeError) as info:
        lu.sum().backward()
    assert str(info.value) == MODIFIED_CONST.format(kind="IntTensor", size="2")


def test_lu_factor_s_saved_pivots_outlive_the_tensor():
    lu, _ = torch.linalg.lu_factor(torch.tensor([[1., 2.], [3., 4.]], requires_grad=True))
    saved = lu.grad_fn._saved_pivots
    assert saved.dtype == torch.int32 and saved.tolist() == [2, 2]


def test_lu_packs_p_l_u_and_lu_factor_lu_pivots():
    packed = []

    def pack(t):
        packed.append((tuple(t.shape), t.dtype))
        return t

    a = torch.tensor([[1., 2.], [3., 4.]], requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        torch.linalg.lu(a)
        torch.linalg.lu_factor(a)
    assert packed == [((2, 2), torch.float32)] * 4 + [((2,), torch.int32)]


@pytest.mark.parametrize("name, first", [("selu_", 1.7580993408473766), ("elu_", 1.0), ("celu_", 1.0)])
def test_second_derivative_of_an_in_place_elu_at_zero(name, first):
    # EluBackward1's derivative in its result is taken where the result is negative only
    x = torch.tensor([0.0, -1.0, 1.0], dtype=torch.float64, requires_grad=True)
    y = getattr(torch.nn.functional, name)(x * 1)
    g, = torch.autograd.grad(y.sum(), x, create_graph=True)
    h, = torch.autograd.grad(g.sum(), x)
    assert g[0].item() == pytest.approx(first)
    assert h[0].item() == 0.0 and h[2].item() == 0.0
    assert h[1].item() == pytest.approx(g[1].item())


@pytest.mark.parametrize("code, message", [
    ("torch.zeros(0)[..., 0]", "index 0 is out of bounds for dimension 1 with size 0"),
    ("torch.zeros(3)[..., 5]", "index 5 is out of bounds for dimension 1 with size 3"),
    ("torch.zeros(3, 4)[..., 5, 1]", "index 5 is out of bounds for dimension 1 with size 3"),
    ("torch.zeros(3, 4)[None, ..., 5]", "index 5 is out of bounds for dimension 2 with size 4"),
    ("torch.zeros(2, 3, 4)[1, ..., 5, 1]", "index 5 is out of bounds for dimension 2 with size 3"),
    ("torch.zeros(3)[None, 5]", "index 5 is out of bounds for dimension 1 with size 3"),
])
def test_an_integer_index_out_of_bounds_names_its_place_in_the_index(code, message):
    with pytest.raises(IndexError) as info:
        eval(code)
    assert str(info.value) == message


@pytest.mark.parametrize("make", [lambda x: 2.0 % x, lambda x: torch.remainder(2.0, x)])
def test_remainder_of_a_number_by_a_tensor_has_no_derivative(make):
    x = torch.tensor([-0.25, 1.5], requires_grad=True)
    y = make(x)
    assert y.tolist() == [-0.0, 0.5] and y.grad_fn.name() == "torch::autograd::NotImplemented"
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    assert str(info.value) == "derivative for aten::remainder is not implemented"
    assert torch.remainder(torch.tensor(2.0), x).grad_fn.name() == "RemainderBackward1"
