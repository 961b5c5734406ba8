"""``nn.utils.fusion`` and ``nn.utils.memory_format`` against PyTorch: the same fused parameters
from the same layers, the same layouts."""
import numpy as np
import pytest

import tape

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")


def _layers(M, kind):
    M.manual_seed(3)
    if kind == "conv":
        layer, bn = M.nn.Conv2d(3, 4, 2), M.nn.BatchNorm2d(4)
    elif kind == "transpose":
        layer, bn = M.nn.ConvTranspose2d(3, 4, 2, bias=False), M.nn.BatchNorm2d(4)
    else:
        layer, bn = M.nn.Linear(3, 4), M.nn.BatchNorm1d(4)
    bn.running_mean.copy_(M.tensor([0.5, -1.0, 2.0, 0.0]))
    bn.running_var.copy_(M.tensor([1.5, 0.25, 3.0, 1.0]))
    with M.no_grad():
        bn.weight.copy_(M.tensor([1.0, -2.0, 0.5, 3.0]))
        bn.bias.copy_(M.tensor([0.0, 1.0, -1.0, 0.5]))
    return layer.eval(), bn.eval()


@pytest.mark.parametrize("kind", ["conv", "transpose", "linear"])
def test_fused_parameters_match(kind):
    out = []
    for M in (torch, tape):
        layer, bn = _layers(M, kind)
        if kind == "linear":
            fused = M.nn.utils.fuse_linear_bn_eval(layer, bn)
        else:
            fused = M.nn.utils.fuse_conv_bn_eval(layer, bn, transpose=kind == "transpose")
        out.append([(p.detach().numpy(), p.requires_grad, type(p).__name__) for p in (fused.weight, fused.bias)])
    for (a, ra, ta), (b, rb, tb) in zip(*out):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)
        assert (ra, ta) == (rb, tb)


def test_memory_format_layouts_match():
    strides = []
    for M in (torch, tape):
        model = M.nn.Sequential(M.nn.Conv2d(3, 4, 3), M.nn.ConvTranspose3d(2, 3, 2), M.nn.Linear(2, 2))
        M.nn.utils.convert_conv2d_weight_memory_format(model, M.channels_last)
        M.nn.utils.convert_conv3d_weight_memory_format(model, M.channels_last_3d)
        strides.append([tuple(p.stride()) for p in model.parameters()])
    assert strides[0] == strides[1]
