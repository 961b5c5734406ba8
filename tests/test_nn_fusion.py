"""``nn.utils.fusion`` (a batch norm folded into the convolution or linear layer before it) and
``nn.utils.memory_format`` (convolution weights to channels-last): the fused layer computes what the
pair computes, with PyTorch's Parameters, flags and errors."""
import numpy as np
import pytest

import tape
from tape import nn


def _eval_pair(layer, bn):
    bn.running_mean.copy_(tape.linspace(-1.0, 1.0, bn.num_features))
    bn.running_var.copy_(tape.linspace(0.5, 2.0, bn.num_features))
    with tape.no_grad():
        bn.weight.mul_(1.5)
        bn.bias.add_(0.25)
    return layer.eval(), bn.eval()


@pytest.mark.parametrize("make", [
    lambda: (nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), (2, 3, 5, 5), False),
    lambda: (nn.Conv1d(2, 3, 2), nn.BatchNorm1d(3), (2, 2, 6), False),
    lambda: (nn.Conv3d(2, 2, 2), nn.BatchNorm3d(2), (1, 2, 3, 3, 3), False),
    lambda: (nn.ConvTranspose2d(3, 4, 3), nn.BatchNorm2d(4), (2, 3, 4, 4), True),
])
def test_fuse_conv_bn(make):
    tape.manual_seed(0)
    conv, bn, shape, transpose = make()
    conv, bn = _eval_pair(conv.double(), bn.double())
    fused = nn.utils.fuse_conv_bn_eval(conv, bn, transpose=transpose)
    assert fused is not conv and type(fused) is type(conv)
    x = tape.randn(*shape, dtype=tape.float64)
    np.testing.assert_allclose(fused(x).detach().numpy(), bn(conv(x)).detach().numpy(), rtol=1e-12, atol=1e-12)
    assert isinstance(fused.weight, nn.Parameter) and isinstance(fused.bias, nn.Parameter)
    assert fused.weight.requires_grad
    # (a missing conv bias comes in as zeros, which require no grad: PyTorch's flag)
    assert fused.bias.requires_grad == (conv.bias is not None)


def test_fuse_weights_defaults_and_dtypes():
    w = tape.ones(2, 1, 1, 1)
    rm, rv = tape.tensor([1.0, 2.0]), tape.tensor([3.0, 0.0])
    fw, fb = nn.utils.fusion.fuse_conv_bn_weights(w, None, rm, rv, 1.0, None, None)
    assert fw.flatten().tolist() == [0.5, 1.0] and fb.tolist() == [-0.5, -2.0]
    lw, lb = nn.utils.fuse_linear_bn_weights(tape.ones(2, 3, dtype=tape.float64), None, rm, rv, 1.0,
                                             tape.tensor([2.0, 1.0]), tape.tensor([0.5, 0.5]))
    assert lw.dtype == tape.float64 and lw[:, 0].tolist() == [1.0, 1.0] and lb.tolist() == [-0.5, -1.5]
    assert lb.dtype == tape.float64 and not lb.requires_grad


def test_fuse_linear_bn():
    tape.manual_seed(1)
    lin, bn = _eval_pair(nn.Linear(3, 4), nn.BatchNorm1d(4))
    fused = nn.utils.fusion.fuse_linear_bn_eval(lin, bn)
    x = tape.randn(5, 3)
    np.testing.assert_allclose(fused(x).detach().numpy(), bn(lin(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    one = nn.BatchNorm1d(1).eval()
    assert nn.utils.fuse_linear_bn_eval(lin, one).weight.shape == (4, 3)


def test_fusion_errors():
    conv, bn = nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2)
    with pytest.raises(AssertionError, match="^Fusion only for eval!$"):
        nn.utils.fuse_conv_bn_eval(conv, bn.eval())
    with pytest.raises(AssertionError, match="^Fusion only for eval!$"):
        nn.utils.fuse_linear_bn_eval(nn.Linear(2, 2).eval(), bn.train())
    with pytest.raises(AssertionError, match="bn.running_mean and bn.running_var must not be None"):
        nn.utils.fuse_conv_bn_eval(conv.eval(), nn.BatchNorm2d(2, track_running_stats=False).eval())
    with pytest.raises(AssertionError) as info:
        nn.utils.fuse_linear_bn_eval(nn.Linear(2, 3).eval(), nn.BatchNorm1d(2).eval())
    assert str(info.value) == ("To fuse, linear.out_features == bn.num_features or bn.num_features == 1, got "
                               "linear.out_features=3 and bn.num_features=2")


def test_convert_weight_memory_format():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sequential(nn.ConvTranspose2d(4, 2, 3), nn.Conv3d(1, 1, 2)))
    out = nn.utils.convert_conv2d_weight_memory_format(model, tape.channels_last)
    assert out is model
    assert model[0].weight.is_contiguous(memory_format=tape.channels_last)
    assert model[0].weight.stride() == (27, 1, 9, 3)
    assert model[1][0].weight.stride() == (18, 1, 6, 2)
    assert model[1][1].weight.is_contiguous()          # (a 3-d convolution: left alone)
    nn.utils.convert_conv3d_weight_memory_format(model, tape.channels_last_3d)
    assert model[1][1].weight.is_contiguous(memory_format=tape.channels_last_3d)
    assert isinstance(model[0].weight, nn.Parameter) and model[0].weight.requires_grad
    nn.utils.convert_conv2d_weight_memory_format(model, tape.contiguous_format)
    assert model[0].weight.is_contiguous()
