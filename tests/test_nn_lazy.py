"""Lazy modules without PyTorch: uninitialized parameters and buffers (what they allow, what raises),
materialization on the first forward and the class swap, state dicts, dtype conversion before the dry run,
and each lazy layer's inferred shapes."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import tape
from tape import nn
from tape.nn.modules.lazy import LazyModuleMixin
from tape.nn.parameter import UninitializedTensorMixin, is_lazy

USE_ERROR = "Attempted to use an uninitialized parameter in"


def test_uninitialized_parameter_allows_little():
    p = nn.UninitializedParameter()
    assert isinstance(p, nn.Parameter) and isinstance(p, UninitializedTensorMixin) and is_lazy(p)
    assert repr(p) == str(p) == "<UninitializedParameter>"
    assert p.requires_grad and p.dtype == tape.float32 and p.grad is None and p.size() == (0,)
    assert not nn.UninitializedParameter(requires_grad=False).requires_grad
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter or buffer"):
        p.shape
    for use in (lambda: p + 1, lambda: 2 * p, lambda: p.sum(), lambda: p.detach(), lambda: len(p), lambda: p[0],
                lambda: p.numel(), lambda: tape.add(tape.ones(1), p), lambda: nn.functional.linear(tape.ones(1, 2), p),
                lambda: p.requires_grad_(False), lambda: p == p, lambda: np.asarray(p)):
        with pytest.raises(ValueError, match=USE_ERROR):
            use()
    with pytest.raises(ValueError, match=r"in <method 'mul' of 'torch._C.TensorBase' objects>.*"
                                         r"`torch.nn.parameter.UninitializedParameter` objects"):
        p * 2
    with pytest.raises(RuntimeError, match="Can't share memory on an uninitialized parameter or buffer"):
        p.share_memory_()
    assert hash(p) == hash(p) and p in {p}


def test_materialize():
    p = nn.UninitializedParameter(dtype=tape.float64)
    p.materialize((2, 3))
    assert type(p) is nn.Parameter and p.shape == (2, 3) and p.dtype == tape.float64 and p.requires_grad
    q = nn.UninitializedParameter()
    q.materialize(4, dtype=tape.float64)
    assert q.shape == (4,) and q.dtype == tape.float64
    b = nn.UninitializedBuffer(persistent=False)
    assert isinstance(b, nn.Buffer) and not isinstance(b, nn.Parameter) and not b.requires_grad
    assert repr(b) == "<UninitializedBuffer>" and b.persistent is False
    b.materialize((3,))
    assert type(b) is tape.Tensor and b.shape == (3,)


def test_copies_and_pickles():
    p = nn.UninitializedParameter(requires_grad=False)
    c = copy.deepcopy(p)
    assert type(c) is nn.UninitializedParameter and c is not p and not c.requires_grad
    assert type(pickle.loads(pickle.dumps(p))) is nn.UninitializedParameter
    assert type(pickle.loads(pickle.dumps(nn.UninitializedBuffer()))) is nn.UninitializedBuffer
    with pytest.raises(ValueError, match=USE_ERROR):
        copy.deepcopy(nn.UninitializedBuffer())       # (PyTorch's: only parameters define a deep copy)
    m = copy.deepcopy(nn.LazyLinear(2))
    assert isinstance(m.weight, nn.UninitializedParameter)


def test_lazy_linear_first_call():
    tape.manual_seed(0)
    m = nn.LazyLinear(3)
    assert repr(m) == "LazyLinear(in_features=0, out_features=3, bias=True)"
    assert m.has_uninitialized_params() and isinstance(m, LazyModuleMixin)
    x = tape.randn(2, 5)
    y = m(x)
    assert type(m) is nn.Linear and not hasattr(m, "_initialize_hook") and not m._forward_pre_hooks
    assert repr(m) == "Linear(in_features=5, out_features=3, bias=True)" and y.shape == (2, 3)
    assert type(m.weight) is nn.Parameter and m.weight.shape == (3, 5) and m.bias.shape == (3,)
    bound = 1 / np.sqrt(5)
    assert np.abs(m.weight.detach().numpy()).max() <= bound and np.abs(m.bias.detach().numpy()).max() <= bound
    np.testing.assert_allclose(y.detach().numpy(), x.numpy() @ m.weight.detach().numpy().T
                               + m.bias.detach().numpy(), rtol=1e-5, atol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(m.bias.grad.numpy(), [2, 2, 2])
    assert nn.LazyLinear(2, bias=False).bias is None


def test_lazy_module_dtype_before_the_dry_run():
    m = nn.LazyLinear(2).double()
    assert isinstance(m.weight, nn.UninitializedParameter) and m.weight.dtype == tape.float64
    m(tape.ones(1, 3, dtype=tape.float64))
    assert m.weight.dtype == tape.float64
    bn = nn.LazyBatchNorm1d().double()
    assert isinstance(bn.running_mean, nn.UninitializedBuffer) and bn.running_mean.dtype == tape.float64
    bn(tape.ones(2, 4, dtype=tape.float64))
    assert bn.running_mean.dtype == tape.float64 and bn.num_batches_tracked.dtype == tape.int64


def test_state_dicts():
    lazy = nn.LazyLinear(3)
    sd = lazy.state_dict()
    assert list(sd) == ["weight", "bias"] and all(isinstance(v, nn.UninitializedParameter) for v in sd.values())
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter"):
        nn.Linear(4, 3).load_state_dict(sd)
    nn.LazyLinear(3).load_state_dict(sd)          # (uninitialized into uninitialized: nothing to do)
    full = nn.Linear(4, 3)
    lazy.load_state_dict(full.state_dict())
    assert type(lazy) is nn.LazyLinear and not lazy.has_uninitialized_params() and lazy.in_features == 0
    np.testing.assert_array_equal(lazy.weight.detach().numpy(), full.weight.detach().numpy())
    lazy(tape.ones(1, 4))                         # (the loaded values stay)
    assert type(lazy) is nn.Linear and lazy.in_features == 4
    np.testing.assert_array_equal(lazy.weight.detach().numpy(), full.weight.detach().numpy())
    other = nn.LazyLinear(3)
    other.load_state_dict(full.state_dict())
    with pytest.raises(AssertionError, match="The in_features inferred from input: 5 is not equal to in_features "
                                             "from self.weight: 4"):
        other(tape.ones(1, 5))


@pytest.mark.parametrize("cls,kwargs,shape,weight", [
    (nn.LazyConv1d, dict(out_channels=4, kernel_size=3), (2, 6, 8), (4, 6, 3)),
    (nn.LazyConv2d, dict(out_channels=4, kernel_size=3, groups=2), (1, 6, 5, 5), (4, 3, 3, 3)),
    (nn.LazyConv3d, dict(out_channels=2, kernel_size=(1, 2, 1)), (3, 4, 4, 4), (2, 3, 1, 2, 1)),
    (nn.LazyConvTranspose1d, dict(out_channels=4, kernel_size=3, groups=2), (2, 6, 5), (6, 2, 3)),
    (nn.LazyConvTranspose2d, dict(out_channels=3, kernel_size=2, stride=2), (1, 2, 3, 3), (2, 3, 2, 2)),
    (nn.LazyConvTranspose3d, dict(out_channels=1, kernel_size=1, bias=False), (1, 2, 2, 2, 2), (2, 1, 1, 1, 1)),
])
def test_lazy_convolutions(cls, kwargs, shape, weight):
    m = cls(**kwargs)
    assert m.in_channels == 0 and repr(m).startswith(f"{cls.__name__}(0, ")
    m(tape.randn(*shape))
    assert type(m) is cls.cls_to_become and m.weight.shape == weight
    assert m.in_channels == (shape[1] if len(shape) == len(weight) else shape[0])
    assert (m.bias is None) == (kwargs.get("bias") is False)


def test_lazy_convolution_errors():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.LazyConv2d(4, 3, groups=2)(tape.ones(1, 3, 5, 5))
    with pytest.raises(RuntimeError, match=r"Expected 2D \(unbatched\) or 3D \(batched\) input to LazyConv1d, but "
                                           r"got input of size: torch.Size\(\[2\]\)"):
        nn.LazyConv1d(2, 3)(tape.ones(2))


@pytest.mark.parametrize("cls,shape", [(nn.LazyBatchNorm1d, (4, 3)), (nn.LazyBatchNorm2d, (2, 3, 2, 2)),
                                       (nn.LazyBatchNorm3d, (2, 3, 1, 2, 2)), (nn.LazyInstanceNorm1d, (2, 3, 4)),
                                       (nn.LazyInstanceNorm2d, (2, 3, 2, 2)), (nn.LazyInstanceNorm3d, (2, 3, 2, 2, 2))])
def test_lazy_norms(cls, shape):
    m = cls()
    assert isinstance(m.running_mean, nn.UninitializedBuffer) and m.num_batches_tracked.item() == 0
    assert list(m.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    x = tape.randn(*shape)
    out = m(x)
    assert type(m) is cls.cls_to_become and m.num_features == 3 == m.weight.shape[0]
    assert m.running_var.shape == (3,) and out.shape == x.shape
    np.testing.assert_array_equal(m.weight.detach().numpy(), np.ones(3))
    assert m.affine and m.track_running_stats      # (PyTorch's lazy defaults, the instance norms' too)


def test_lazy_norm_options():
    m = nn.LazyBatchNorm2d(affine=False, track_running_stats=False)
    assert m.weight is None and m.running_mean is None and not m.has_uninitialized_params()
    assert list(m.state_dict()) == []
    m(tape.randn(2, 3, 2, 2))
    assert type(m) is nn.BatchNorm2d and m.num_features == 0    # (nothing to infer: PyTorch's too)
    m = nn.LazyBatchNorm1d(bias=False, momentum=None, eps=1e-3)
    m(tape.randn(4, 2))
    assert m.bias is None and m.weight.shape == (2,) and m.eps == 1e-3 and m.momentum is None


def test_mixin_contract():
    class Incomplete(LazyModuleMixin, nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.UninitializedParameter()

        def initialize_parameters(self, x):
            pass

        def forward(self, x):
            return x

    with pytest.raises(RuntimeError, match="module Incomplete has not been fully initialized"):
        Incomplete()(tape.ones(1))
    with pytest.raises(NotImplementedError, match="initialize_parameters is not implemented for LazyLinear"):
        LazyModuleMixin.initialize_parameters(nn.LazyLinear(2))

    class Scale(LazyModuleMixin, nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.UninitializedParameter()

        def initialize_parameters(self, x, *, offset=0.0):
            self.w.materialize(x.shape[-1:])
            with tape.no_grad():
                self.w.fill_(2.0 + offset)

        def forward(self, x, *, offset=0.0):
            return x * self.w

    s = Scale()
    np.testing.assert_array_equal(s(tape.ones(2), offset=1.0).detach().numpy(), [3.0, 3.0])
    assert type(s) is Scale and not s.has_uninitialized_params()
    with pytest.raises(RuntimeError, match="Modules with uninitialized parameters can't be used with `DataParallel`"):
        nn.LazyLinear(2)._replicate_for_data_parallel()
