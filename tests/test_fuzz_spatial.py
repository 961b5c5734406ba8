"""What the spatial fuzzer (tests/test_fuzz_spatial_torch.py) found in the convolutions, pools, padding,
embedding, attention, interpolation, fold and scatter-style ops: PyTorch's errors (type, whole message, order
of its checks) and a few values.

Every expectation here was read from PyTorch 2.13 (torch-free: fixed values)."""
import numpy as np
import pytest

import tape as L
import tape.nn.functional as F

ERRORS = [
]


@pytest.mark.parametrize("code, error, message", ERRORS)
def test_error_matches_pytorch(code, error, message):
    with pytest.raises(error) as info:
        eval(code)
    assert str(info.value) == message


# (code, expected value: a float, a list of values, or a plain Python value)
VALUES = [
    # an index of no element may have any dtype: gather and the scatters do nothing with it
    ("L.ones(3).scatter(0, L.tensor([]), L.ones(3)).tolist()", [1.0, 1.0, 1.0]),
    ("L.ones(3).scatter_(0, L.tensor([[]]), 2.0).tolist()", [1.0, 1.0, 1.0]),
    ("L.ones(3).scatter_add(0, L.tensor([]), L.ones(3)).tolist()", [1.0, 1.0, 1.0]),
    ("L.ones(3).scatter_reduce(0, L.tensor([]), L.ones(3), 'amax').tolist()", [1.0, 1.0, 1.0]),
    ("L.ones(3, requires_grad=True).gather(0, L.tensor([])).grad_fn.name()", "GatherBackward0"),
    # adaptive pools to an output of no element
    ("tuple(F.adaptive_avg_pool1d(L.ones(1, 1), 0).shape)", (1, 0)),
    ("tuple(F.adaptive_max_pool2d(L.ones(1, 2, 2), (0, 1), return_indices=True)[1].shape)", (1, 0, 1)),
    ("tuple(F.adaptive_avg_pool3d(L.ones(1, 2, 2, 2), (1, 0, 2)).shape)", (1, 1, 0, 2)),
]


@pytest.mark.parametrize("code, expected", VALUES)
def test_value_matches_pytorch(code, expected):
    got = eval(code)
    if isinstance(expected, float):
        assert got == pytest.approx(expected, rel=1e-6)
    elif isinstance(expected, list):
        np.testing.assert_allclose(np.array(got), np.array(expected), rtol=1e-6)
    else:
        assert got == expected
