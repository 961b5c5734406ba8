"""tape.nn.functional: PyTorch's function forms over tape's ops (their arguments, nodes and messages)."""
import warnings

import pytest

import tape
import tape.nn.functional as F


def test_nn_exposes_functional():
    assert tape.nn.functional is F
    assert set(F.__all__) <= set(dir(F))


def test_relu_inplace_and_not():
    x = tape.tensor([-1.0, 2.0], requires_grad=True)
    y = F.relu(x)
    assert y.grad_fn.name() == "ReluBackward0" and y.tolist() == [0.0, 2.0]
    z = x * 1
    assert F.relu(z, inplace=True) is z and z.grad_fn.name() == "ReluBackward0" and z._version == 1
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        F.relu(x, inplace=True)


def test_relu_rejects_a_non_tensor_as_torch_relu():
    with pytest.raises(TypeError, match=r"^relu\(\): argument 'input' \(position 1\) must be Tensor, not int$"):
        F.relu(3)
    with pytest.raises(TypeError, match=r"^threshold_\(\): argument 'input' \(position 1\) must be Tensor, not float$"):
        F.threshold(1.5, 0.0, 1.0, inplace=True)


def test_threshold_forms():
    x = tape.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    y = F.threshold(x, 0.6, -3.0)
    assert y.tolist() == [-3.0, -3.0, 2.0] and y.grad_fn.name() == "ThresholdBackward0"
    z = x * 1
    assert F.threshold_(z, 0.0, 7.0) is z and z.tolist() == [7.0, 0.5, 2.0]


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", [((3,), 0), ((2, 3), 1), ((2, 3, 4), 0), ((2, 3, 4, 5), 1)])
def test_softmax_implicit_dim_warns_and_picks_pytorchs(name, shape, dim):
    x = tape.randn(*shape, dtype=tape.float64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = getattr(F, name)(x)
    assert [str(w.message) for w in caught] == [
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument."]
    assert caught[0].filename == __file__
    assert tape.equal(y, getattr(x, name)(dim))


def test_softmax_dtype():
    x = tape.randn(2, 3)
    y = F.softmax(x, 1, dtype=tape.float64)
    assert y.dtype == tape.float64 and tape.allclose(y, x.double().softmax(1))


def test_wrappers_record_the_ops_nodes():
    x = tape.randn(4, 3, dtype=tape.float64, requires_grad=True)
    assert F.sigmoid(x).grad_fn.name() == "SigmoidBackward0"
    assert F.tanh(x).grad_fn.name() == "TanhBackward0"
    assert F.hardshrink(x, 0.1).grad_fn.name() == "HardshrinkBackward0"
    assert F.pdist(x).grad_fn.name() == "PdistBackward0"
    assert F.prelu(x, tape.tensor([0.25], dtype=tape.float64)).grad_fn.name() == "PreluKernelBackward0"
    assert tape.autograd.gradcheck(lambda t: F.log_softmax(t, 0), (x,))
