"""Normalization layers (ops/normalization.py, tape/nn/modules/{normalization,batchnorm,instancenorm}.py):
shapes, errors, running statistics, gradients to the second order (gradcheck/gradgradcheck, float64)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tape
import tape.nn as nn
import tape.nn.functional as F
from tape.autograd import gradcheck, gradgradcheck


def _x(*shape, seed=0, requires_grad=True):
    rng = np.random.default_rng(seed)
    return tape.tensor(rng.standard_normal(shape), dtype=tape.float64, requires_grad=requires_grad)


def _stats(v: np.ndarray, axes: tuple, eps: float = 1e-5) -> np.ndarray:
    return (v - v.mean(axes, keepdims=True)) / np.sqrt(v.var(axes, keepdims=True) + eps)


def test_layer_norm_values_and_node():
    x, w, b = _x(2, 3, 4), _x(3, 4, seed=1), _x(3, 4, seed=2)
    y = F.layer_norm(x, (3, 4), w, b)
    ref = _stats(x.detach().numpy(), (1, 2)) * w.detach().numpy() + b.detach().numpy()
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-12, atol=1e-12)
    assert y.grad_fn.name() == "NativeLayerNormBackward0"
    assert [n is None for n, _ in F.layer_norm(x, (4,)).grad_fn.next_functions] == [False, True, True]
    assert tape.layer_norm(x, [4]).shape == (2, 3, 4)


@pytest.mark.parametrize("case", ["layer", "layer_affine", "batch_train", "batch_eval", "group", "instance"])
def test_gradcheck_and_gradgradcheck(case):
    x, w, b = _x(3, 4, 2), _x(4, seed=1), _x(4, seed=2)
    fns = {"layer": lambda x, w, b: F.layer_norm(x, (2,)),
           "layer_affine": lambda x, w, b: F.layer_norm(x.transpose(1, 2), (4,), w, b),
           "batch_train": lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
           "batch_eval": lambda x, w, b: F.batch_norm(x, tape.zeros(4, dtype=x.dtype), tape.full((4,), 2.0,
                                                      dtype=x.dtype), w, b),
           "group": lambda x, w, b: F.group_norm(x, 2, w, b),
           "instance": lambda x, w, b: F.instance_norm(x, weight=w, bias=b)}
    fn = fns[case]
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


def test_third_order_layer_norm():
    x = _x(2, 3)
    assert gradgradcheck(lambda x: tape.autograd.grad((F.layer_norm(x, (3,)) ** 3).sum(), x, create_graph=True)[0],
                         (x,))


def test_layer_norm_errors():
    x = _x(2, 3, 4)
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[3\], expected input with shape \[\*, 3\], "
                                           r"but got input of size\[2, 3, 4\]"):
        F.layer_norm(x, (3,))
    with pytest.raises(RuntimeError, match=r"Expected weight to be of same shape as normalized_shape, but got weight "
                                           r"of shape \[5\] and normalized_shape = \[4\]"):
        F.layer_norm(x, (4,), _x(5))
    with pytest.raises(TypeError, match=r"argument 'normalized_shape' \(position 2\) must be tuple of ints, not int"):
        F.layer_norm(x, 4)
    with pytest.raises(RuntimeError, match="at least 1-dimensional"):
        F.layer_norm(x, [])
    with pytest.raises(NotImplementedError, match="\"LayerNormKernelImpl\" not implemented for 'Long'"):
        F.layer_norm(tape.ones(2, 3, dtype=tape.int64), (3,))
    with pytest.raises(RuntimeError, match="mixed dtype"):
        F.layer_norm(x.float(), (4,), tape.ones(4, dtype=tape.float64))
    with pytest.raises(RuntimeError, match=r"expected input with shape \[\*3\]"):
        F.rms_norm(x, (3,))


def test_batch_norm_running_stats_and_errors():
    x = _x(5, 3, 2, requires_grad=False)
    v = x.numpy()
    rm, rv = tape.zeros(3, dtype=tape.float64), tape.ones(3, dtype=tape.float64)
    version = rm._version
    F.batch_norm(x, rm, rv, training=True, momentum=0.25)
    mean, var = v.mean((0, 2)), v.var((0, 2), ddof=1)
    np.testing.assert_allclose(rm.numpy(), 0.25 * mean, rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), 0.75 + 0.25 * var, rtol=1e-12)
    assert rm._version > version
    y = F.batch_norm(x, rm, rv)         # evaluation: the running statistics
    ref = (v - rm.numpy()[:, None]) / np.sqrt(rv.numpy()[:, None] + 1e-5)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-12)
    with pytest.raises(RuntimeError, match="running_mean must be defined in evaluation mode"):
        F.batch_norm(x, None, None)
    with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 2"):
        F.batch_norm(x, tape.zeros(2), tape.ones(2), training=True)
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, got input size "
                                         r"torch.Size\(\[1, 3\]\)"):
        F.batch_norm(x[:1, :, 0], None, None, training=True)


def test_group_and_instance_norm_errors():
    x = _x(2, 4, 3)
    with pytest.raises(RuntimeError, match="divisible by num_groups, but got input of shape \\[2, 4, 3\\] and "
                                           "num_groups=3"):
        F.group_norm(x, 3)
    with pytest.raises(RuntimeError, match="Expected weight to be a vector of size equal to the number of channels"):
        F.group_norm(x, 2, _x(3))
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        F.instance_norm(x[:, :, :1])
    with pytest.raises(RuntimeError, match="Expected running_mean and running_var to be defined"):
        F.instance_norm(x, use_input_stats=False)
    np.testing.assert_allclose(F.group_norm(x, 2).detach().numpy(),
                               _stats(x.detach().numpy().reshape(2, 2, 6), (2,)).reshape(2, 4, 3), rtol=1e-12)


def test_batchnorm_module():
    m = nn.BatchNorm1d(3, momentum=None)
    assert list(m.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    batches = [_x(4, 3, seed=s, requires_grad=False).float() for s in range(3)]
    for b in batches:
        m(b)
    assert int(m.num_batches_tracked) == 3
    # momentum None: the cumulative average of the batches' statistics
    np.testing.assert_allclose(m.running_mean.numpy(), np.mean([b.numpy().mean(0) for b in batches], 0), rtol=1e-6)
    m.eval()
    y = m(batches[0])
    np.testing.assert_allclose(y.detach().numpy(), (batches[0].numpy() - m.running_mean.numpy())
                               / np.sqrt(m.running_var.numpy() + 1e-5), rtol=1e-5)
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        m(tape.ones(2, 3, 2, 2))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(tape.ones(2, 3, 2))
    assert repr(nn.BatchNorm3d(2, affine=False)) == ("BatchNorm3d(2, eps=1e-05, momentum=0.1, affine=False, "
                                                    "bias=False, track_running_stats=True)")
    assert list(nn.BatchNorm2d(2, track_running_stats=False).state_dict()) == ["weight", "bias"]


def test_instancenorm_and_norm_modules():
    x = _x(2, 3, 5)
    m = nn.InstanceNorm1d(3, affine=True, track_running_stats=True, dtype=tape.float64)
    y = m(x)
    np.testing.assert_allclose(y.detach().numpy(), _stats(x.detach().numpy(), (2,)), rtol=1e-9, atol=1e-12)
    assert y.grad_fn.name() == "ViewBackward0"
    assert m(x[0]).shape == (3, 5)      # (unbatched)
    with pytest.raises(ValueError, match=r"expected input's size at dim=1 to match num_features \(3\), but got: 4."):
        m(_x(2, 4, 5))
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm1d(3)(_x(2, 4, 5).float())
    assert repr(nn.LayerNorm(4, bias=False)) == "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=False)"
    assert repr(nn.RMSNorm([3, 4])) == "RMSNorm((3, 4), eps=None, elementwise_affine=True)"
    assert repr(nn.GroupNorm(2, 4)) == "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"
    assert repr(nn.LocalResponseNorm(2)) == "LocalResponseNorm(2, alpha=0.0001, beta=0.75, k=1.0)"
    with pytest.raises(ValueError, match=r"num_channels \(4\) must be divisible by num_groups \(3\)"):
        nn.GroupNorm(3, 4)
    ln = nn.LayerNorm(5)
    assert ln.weight.detach().numpy().tolist() == [1.0] * 5 and ln.bias.detach().numpy().tolist() == [0.0] * 5


def test_compositions():
    x = _x(2, 3, 4)
    y = F.rms_norm(x, (4,))
    v = x.detach().numpy()
    np.testing.assert_allclose(y.detach().numpy(), v / np.sqrt((v * v).mean(-1, keepdims=True)
                                                             + np.finfo(np.float64).eps), rtol=1e-12)
    assert y.grad_fn.name() == "MulBackward0"
    np.testing.assert_allclose(F.normalize(x, dim=-1).detach().numpy(), v / np.linalg.norm(v, axis=-1, keepdims=True),
                               rtol=1e-12)
    lrn = F.local_response_norm(x, 3, alpha=0.5)
    sq = np.pad(v * v, ((0, 0), (1, 1), (0, 0)))
    div = (1.0 + 0.5 * (sq[:, :-2] + sq[:, 1:-1] + sq[:, 2:]) / 3) ** 0.75
    np.testing.assert_allclose(lrn.detach().numpy(), v / div, rtol=1e-12)
    with pytest.raises(ValueError, match="Expected 3D or higher dimensionality"):
        F.local_response_norm(_x(3), 2)
    assert gradgradcheck(lambda x: F.local_response_norm(x, 2), (x,))
    assert gradgradcheck(lambda x: F.rms_norm(x, (4,), x[0, 0] + 2), (x,))


def test_update_bn():
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3, momentum=0.3))
    data = [_x(4, 3, seed=s, requires_grad=False).float() for s in range(2)]
    model.eval()
    tape.optim.swa_utils.update_bn(data, model)
    bn = model[1]
    assert not model.training and bn.momentum == 0.3 and int(bn.num_batches_tracked) == 2
    with tape.no_grad():
        outs = [model[0](d).numpy() for d in data]
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([o.mean(0) for o in outs], 0), rtol=1e-5)


# --- embedding ------------------------------------------------------------------------------
def test_embedding_values_gradients_and_node():
    w = _x(5, 3)
    idx = tape.tensor([[1, 2], [4, 1]])
    y = F.embedding(idx, w, padding_idx=1)
    np.testing.assert_array_equal(y.detach().numpy(), w.detach().numpy()[idx.numpy()])
    assert y.grad_fn.name() == "EmbeddingBackward0" and len(y.grad_fn.next_functions) == 1
    (g,) = tape.autograd.grad(y.sum(), w)
    np.testing.assert_array_equal(g.numpy()[:, 0], [0, 0, 1, 0, 1])     # (the padding row: none)
    (g,) = tape.autograd.grad(F.embedding(idx, w, scale_grad_by_freq=True).sum(), w)
    np.testing.assert_array_equal(g.numpy()[:, 0], [0, 1, 1, 0, 1])     # (row 1 taken twice, scaled by 1/2)
    # (the padding row's gradient is no Jacobian's, but the derivative of the gradient computed is)
    assert gradgradcheck(lambda w: F.embedding(idx, w, padding_idx=1) ** 2, (w,))
    assert gradcheck(lambda w: F.embedding(idx, w) ** 3, (w,))
    (g,) = tape.autograd.grad((F.embedding(idx, w, scale_grad_by_freq=True) ** 2).sum(), w, create_graph=True)
    assert g.grad_fn.name() == "EmbeddingDenseBackwardBackward0"
    assert F.embedding(tape.tensor([0, 1], dtype=tape.int32), w).shape == (2, 3)


def test_embedding_max_norm_and_errors():
    w = tape.tensor([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]], requires_grad=True)
    version = w._version
    y = F.embedding(tape.tensor([0, 1, 0]), w, max_norm=1.0)
    np.testing.assert_allclose(w.detach().numpy(), [[0.6, 0.8], [0.3, 0.4], [6.0, 8.0]], rtol=1e-6)
    assert w._version > version and y.requires_grad     # (the row not taken keeps its norm)
    with pytest.raises(RuntimeError, match="'indices' to have one of the following scalar types: Long, Int; but got "
                                           "torch.FloatTensor instead"):
        F.embedding(tape.tensor([1.0]), w)
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(tape.tensor([3]), w)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        F.embedding(tape.tensor([0]), w, padding_idx=-4)
    with pytest.raises(RuntimeError, match="sparse=True"):
        F.embedding(tape.tensor([0]), w, sparse=True)
    with pytest.raises(RuntimeError, match="'weight' must be 2-D"):
        F.embedding(tape.tensor([0]), w[0])


def test_one_hot():
    y = F.one_hot(tape.tensor([[0, 2], [1, 0]]))
    assert y.dtype == tape.int64 and y.shape == (2, 2, 3)
    np.testing.assert_array_equal(y.numpy()[0], [[1, 0, 0], [0, 0, 1]])
    assert F.one_hot(tape.tensor([], dtype=tape.int64), 4).shape == (0, 4)
    for args, message in (((tape.tensor([1, 2]), 2), "smaller than num_classes"),
                          ((tape.tensor([1, -2]), 3), "non-negative"),
                          ((tape.tensor([1.0]),), "only applicable to index tensor of type LongTensor"),
                          ((tape.tensor([], dtype=tape.int64),), "Can not infer total number of classes")):
        with pytest.raises(RuntimeError, match=message):
            F.one_hot(*args)


def test_embedding_module():
    tape.manual_seed(0)
    e = nn.Embedding(4, 2, padding_idx=-1)
    assert e.padding_idx == 3 and e.weight.detach().numpy()[3].tolist() == [0.0, 0.0]
    assert repr(e) == "Embedding(4, 2, padding_idx=3)"
    frozen = nn.Embedding.from_pretrained(tape.ones(3, 2))
    assert not frozen.weight.requires_grad and list(frozen.state_dict()) == ["weight"]
    with pytest.raises(AssertionError, match="Shape of weight does not match"):
        nn.Embedding(5, 3, _weight=tape.ones(2, 3))
    assert e(tape.tensor([[0, 3]])).shape == (1, 2, 2)


def test_empty_inputs_and_argument_types():
    rm, rv = tape.zeros(4), tape.ones(4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert F.batch_norm(tape.zeros(0, 4), rm, rv, training=True).shape == (0, 4)
        assert F.group_norm(tape.zeros(0, 4, requires_grad=True), 2).shape == (0, 4)
        assert F.layer_norm(tape.zeros(2, 0), (0,)).shape == (2, 0)
    assert rm.numpy().tolist() == [0.0] * 4 and rv.numpy().tolist() == [1.0] * 4      # (an empty batch: unchanged)
    with pytest.raises(TypeError, match=r"batch_norm\(\): argument 'momentum' \(position 7\) must be float, not "
                                        r"NoneType"):
        F.batch_norm(tape.ones(2, 4), rm, rv, training=True, momentum=None)


def test_embedding_bag():
    w = _x(5, 3)
    v = w.detach().numpy()
    idx, off = tape.tensor([1, 2, 4, 1, 0]), tape.tensor([0, 2, 2])
    y = F.embedding_bag(idx, w, off, mode="sum")
    np.testing.assert_allclose(y.detach().numpy(), [v[1] + v[2], np.zeros(3), v[4] + v[1] + v[0]], rtol=1e-12)
    assert y.grad_fn.name() == "EmbeddingBagBackward0"
    mean = F.embedding_bag(idx, w, off, padding_idx=0)     # (the padding row left out of the last bag's mean)
    np.testing.assert_allclose(mean.detach().numpy()[2], (v[4] + v[1]) / 2, rtol=1e-12)
    last = F.embedding_bag(idx, w, off, mode="sum", padding_idx=-1)       # (-1: the last row, 4)
    np.testing.assert_allclose(last.detach().numpy()[2], v[1] + v[0], rtol=1e-12)
    big = F.embedding_bag(tape.tensor([[1, 2], [4, 1]]), w, mode="max")
    np.testing.assert_allclose(big.detach().numpy(), [np.maximum(v[1], v[2]), np.maximum(v[4], v[1])], rtol=1e-12)
    p = _x(5, seed=3)
    assert gradcheck(lambda w, p: F.embedding_bag(idx, w, off, mode="sum", per_sample_weights=p), (w, p))
    assert gradgradcheck(lambda w, p: F.embedding_bag(idx, w, off, mode="sum", per_sample_weights=p) ** 2, (w, p))
    assert gradgradcheck(lambda w: F.embedding_bag(idx, w, off) ** 2, (w,))
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        F.embedding_bag(idx, w)
    with pytest.raises(ValueError, match="mode has to be one of sum, mean or max"):
        F.embedding_bag(idx, w, off, mode="min")
    with pytest.raises(NotImplementedError, match="per_sample_weights is only supported for mode='sum'"):
        F.embedding_bag(idx, w, off, per_sample_weights=p)
    with pytest.raises(RuntimeError, match="offsets\\[0\\] has to be 0"):
        F.embedding_bag(idx, w, tape.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="scale_grad_by_freq=True is not supported"):
        F.embedding_bag(idx, w, off, scale_grad_by_freq=True)
    e = nn.EmbeddingBag(5, 3, mode="sum", padding_idx=-1)
    assert repr(e) == "EmbeddingBag(5, 3, mode='sum', padding_idx=4)" and e(idx, off).shape == (3, 3)
