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
