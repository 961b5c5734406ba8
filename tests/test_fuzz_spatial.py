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
