"""The recorded printouts of the public tutorial programs are PyTorch 2.13's, and tape's agree with
them (``tests/test_tutorials_public.py`` checks tape's against the recorded ones without torch)."""
import pytest

from ._tutorials_public import PROGRAMS, ROUNDING, expected, run, same

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", PROGRAMS)
def test_pytorch_prints_the_recorded_output(name):
    # (the programs of long float32 sums print PyTorch's last digits as its BLAS sums them, which
    # changes with the threads MKL chooses on a loaded machine: within rounding, as tape's are held)
    got = run(name, "torch")
    assert same(got, expected(name), name in ROUNDING), f"PyTorch printed:\n{got}"
