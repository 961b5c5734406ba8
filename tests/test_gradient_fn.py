"""tape.gradient: the estimate of a derivative from samples (numpy's rule, PyTorch's nodes and errors)."""
import numpy as np
import pytest

import tape

X = [[1.0, 2.0, 4.0, 8.0], [10.0, 20.0, 40.0, 80.0]]


def _x():
    return tape.tensor(X, requires_grad=True)


@pytest.mark.parametrize("kwargs", [{}, {"dim": 1, "edge_order": 2}, {"spacing": 2.0}, {"spacing": (2.0, 3.0)},
                                    {"spacing": [2.0], "dim": 1}, {"dim": [1, 0], "spacing": [1.0, 2.0]}])
def test_uniform_spacing_matches_numpy(kwargs):
    dims = kwargs.get("dim", [0, 1])
    dims = [dims] if isinstance(dims, int) else dims
    spacing = kwargs.get("spacing", 1.0)
    steps = [spacing] * len(dims) if isinstance(spacing, float) else list(spacing)
    got = tape.gradient(_x(), **kwargs)
    assert isinstance(got, tuple) and len(got) == len(dims)
    for g, d, h in zip(got, dims, steps):
        want = np.gradient(np.array(X), h, axis=d, edge_order=kwargs.get("edge_order", 1))
        np.testing.assert_allclose(g.detach().numpy(), want, rtol=1e-6)
        assert type(g.grad_fn).__name__ == "CatBackward0"
        assert [type(f).__name__ for f, _ in g.grad_fn.next_functions] == ["DivBackward1"] * 3


@pytest.mark.parametrize("edge_order", [1, 2])
def test_coordinates_match_numpy(edge_order):
    coords = [0.0, 1.0, 3.0, 7.0]
    (g,) = tape.gradient(_x(), spacing=[tape.tensor(coords)], dim=1, edge_order=edge_order)
    want = np.gradient(np.array(X), np.array(coords), axis=1, edge_order=edge_order)
    np.testing.assert_allclose(g.detach().numpy(), want, rtol=1e-6)
    assert [type(f).__name__ for f, _ in g.grad_fn.next_functions] == (
        ["DivBackward0", "AddBackward0", "DivBackward0"] if edge_order == 1 else ["AddBackward0"] * 3)


def test_gradient_flows_to_the_samples():
    x = _x()
    (g,) = tape.gradient(x, dim=1)
    (g * tape.arange(8.0).reshape(2, 4)).sum().backward()
    assert x.grad.tolist() == [[-0.5, -1.0, -2.5, 4.0], [-6.5, 1.0, -4.5, 10.0]]     # (PyTorch 2.13)


def test_integer_samples_give_floats_and_0d_gives_nothing():
    (g,) = tape.gradient(tape.tensor([1, 2, 4]))
    assert g.dtype is tape.float32 and g.tolist() == [1.0, 1.5, 2.0]
    assert tape.gradient(tape.tensor(1.0)) == ()


@pytest.mark.parametrize("call, error, message", [
    (lambda: tape.gradient(tape.tensor([1.0])), RuntimeError,
     "torch.gradient expected each dimension size to be at least edge_order+1"),
    (lambda: tape.gradient(tape.tensor([1.0, 2.0]), edge_order=2), RuntimeError,
     "torch.gradient expected each dimension size to be at least edge_order+1"),
    (lambda: tape.gradient(_x(), edge_order=3), RuntimeError,
     "torch.gradient only supports edge_order=1 and edge_order=2."),
    (lambda: tape.gradient(_x(), dim=2), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    (lambda: tape.gradient(_x(), spacing=[1.0, 2.0, 3.0]), RuntimeError,
     "torch.gradient expected spacing to be unspecified, a scalar, or a list of length equal to 'self.dim() = 2', "
     "since dim argument was not given, but got a list of length 3"),
    (lambda: tape.gradient(_x(), spacing=[1.0, 2.0, 3.0], dim=1), RuntimeError,
     "torch.gradient expected spacing to be unspecified, a scalar or it's spacing and dim arguments to have the "
     "same length, but got a spacing argument of length 3 and a dim argument of length 1."),
    (lambda: tape.gradient(tape.tensor([1, 2, 4], dtype=tape.uint8)), RuntimeError,
     "torch.gradient does not support uint8 input."),
    (lambda: tape.gradient(_x(), dim=(0, 0)), RuntimeError, "dim 0 appears multiple times in the list of dims"),
    (lambda: tape.gradient(_x(), spacing=[tape.tensor([[0.0, 1.0, 2.0, 3.0]])], dim=1), RuntimeError,
     "torch.gradient expected each element of spacing to have one dimension, but got an element with 2 dimensions!"),
])
def test_errors_are_pytorchs(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message
