"""The recorded printouts of the public tutorial programs are PyTorch 2.13's, and tape's agree with
them (``tests/test_tutorials_public.py`` checks tape's against the recorded ones without torch)."""
import pytest

from ._tutorials_public import PROGRAMS, expected, run

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", PROGRAMS)
def test_pytorch_prints_the_recorded_output(name):
    assert run(name, "torch") == expected(name)
