"""PyTorch's top-level functions of ``ops/view_copies.py`` and ``ops/top_level.py``: the ``*_copy``
functions, ``rsub``, ``fill``, ``as_strided_scatter``, ``slice_inverse``, ``nonzero_static``
(values pinned by numpy, gradients by gradcheck and by reasoning)."""
from __future__ import annotations

import numpy as np
import pytest

import tape


def _x(requires_grad: bool = True) -> tape.Tensor:
    return tape.arange(12.0, dtype=tape.float64).reshape(3, 4).requires_grad_(requires_grad)


@pytest.mark.parametrize("call, view, node", [
    (lambda x: tape.t_copy(x), lambda a: a.T, "TBackward0_copy"),
    (lambda x: tape.transpose_copy(x, 0, -1), lambda a: a.T, "TransposeBackward0_copy"),
    (lambda x: tape.permute_copy(x, (1, 0)), lambda a: a.T, "PermuteBackward0_copy"),
    (lambda x: tape.select_copy(x, 1, -1), lambda a: a[:, -1], "SelectBackward0_copy"),
    (lambda x: tape.slice_copy(x, 1, 1, None, 2), lambda a: a[:, 1::2], "SliceBackward0_copy"),
    (lambda x: tape.diagonal_copy(x, 1), lambda a: np.diagonal(a, 1), "DiagonalBackward0_copy"),
    (lambda x: tape.expand_copy(x, (2, -1, 4)), lambda a: np.broadcast_to(a, (2, 3, 4)), "ExpandBackward0_copy"),
    (lambda x: x.narrow_copy(1, 1, 2), lambda a: a[:, 1:3], "NarrowCopyBackward0"),
    (lambda x: tape.squeeze_copy(x[None]), lambda a: a, "SqueezeBackward0_copy"),
    (lambda x: tape.squeeze_copy(x[None], 0), lambda a: a, "SqueezeBackward1_copy"),
    (lambda x: tape.squeeze_copy(x[None], (0, 1)), lambda a: a, "SqueezeBackward2_copy"),
    (lambda x: tape.unsqueeze_copy(x, -1), lambda a: a[..., None], "UnsqueezeBackward0_copy"),
    (lambda x: tape.view_copy(x.t(), (2, -1)), lambda a: a.T.reshape(2, 6), "ViewBackward0_copy"),
    (lambda x: tape.unfold_copy(x, 1, 2, 2), lambda a: a.reshape(3, 2, 2), "UnfoldBackward0_copy"),
    (lambda x: tape.alias_copy(x), lambda a: a, "AliasBackward0_copy"),
    (lambda x: tape.as_strided_copy(x, (2, 2), (1, 4), 1), lambda a: a.reshape(-1)[[[1, 5], [2, 6]]],
     "AsStridedBackward0_copy"),
])
def test_copy_functions_give_the_view_s_value_as_a_tensor_of_their_own(call, view, node):
    x = _x()
    y = call(x)
    expected = view(x.detach().numpy())
    np.testing.assert_array_equal(y.detach().numpy(), expected)
    assert type(y.grad_fn).__name__ == node and y.is_contiguous() and y._base is None
    # the gradient scatters back: each input element gets its weight summed over the places it went to
    w = np.arange(1.0, y.numel() + 1).reshape(y.shape)
    (y * tape.tensor(w)).sum().backward()
    ref = np.zeros(12)
    np.add.at(ref, view(np.arange(12).reshape(3, 4)).reshape(-1), w.reshape(-1))
    np.testing.assert_array_equal(x.grad.numpy(), ref.reshape(3, 4))
    with tape.no_grad():
        plain = call(x)
    assert plain.grad_fn is None
    plain.add_(1)       # (a copy: the input is unchanged)
    np.testing.assert_array_equal(x.detach().numpy(), np.arange(12.0).reshape(3, 4))


def test_copies_keep_the_view_s_errors_and_show_its_saved_arguments():
    x = _x()
    with pytest.raises(RuntimeError, match=r"t\(\) expects a tensor with <= 2 dimensions, but self is 3D"):
        tape.t_copy(tape.ones(2, 2, 2))
    with pytest.raises(IndexError, match="index 7 out of range"):
        tape.select_copy(x, 1, 7)
    with pytest.raises(RuntimeError, match="slice step must be positive"):
        tape.slice_copy(x, 0, None, None, 0)
    node = tape.transpose_copy(x, 0, -1).grad_fn
    assert (node._saved_dim0, node._saved_dim1) == (0, 2**64 - 1)
    assert tape.narrow_copy(x, 1, 1, 2).grad_fn._saved_self_sym_sizes == (3, 4)


def test_split_and_unbind_copies_are_one_node_for_all_parts():
    x = _x()
    parts = tape.split_copy(x, 3, 1)
    assert isinstance(parts, tuple) and [tuple(p.shape) for p in parts] == [(3, 3), (3, 1)]
    assert {type(p.grad_fn).__name__ for p in parts} == {"SplitBackward0_copy"}
    assert parts[0].grad_fn._saved_split_size == 3
    sizes = tape.split_with_sizes_copy(x, [1, 2], 0)
    assert type(sizes[1].grad_fn).__name__ == "SplitWithSizesBackward0_copy" and sizes[1].is_contiguous()
    rows = tape.unbind_copy(x, 1)
    assert len(rows) == 4 and type(rows[2].grad_fn).__name__ == "UnbindBackward0_copy"
    # a part left out gets no gradient (zeros where it was)
    (rows[2] * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.tile([0.0, 0.0, 2.0, 0.0], (3, 1)))
    g, = tape.autograd.grad((parts[1] ** 2).sum(), x, create_graph=True)
    gg, = tape.autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(gg.numpy(), np.tile([0.0, 0.0, 0.0, 2.0], (3, 1)))


def test_detach_copy_and_view_copy_of_a_dtype_have_no_derivative():
    x = _x()
    y = tape.detach_copy(x)
    assert y.requires_grad and type(y.grad_fn).__name__ == "NotImplemented"
    with pytest.raises(RuntimeError, match="derivative for aten::detach_copy is not implemented"):
        y.sum().backward()
    v = tape.view_copy(x, tape.int64)
    assert v.dtype == tape.int64 and not v.requires_grad
    np.testing.assert_array_equal(v.numpy(), np.arange(12.0).reshape(3, 4).view(np.int64))


def test_rsub_swaps_sub_s_operands():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = tape.tensor([[10.0], [20.0]], requires_grad=True)
    r = tape.rsub(x, y, alpha=2)
    np.testing.assert_array_equal(r.detach().numpy(), [[8.0, 6.0], [18.0, 16.0]])
    assert type(r.grad_fn).__name__ == "RsubBackward0" and r.grad_fn._saved_alpha == 2
    r.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-4.0, -4.0])
    np.testing.assert_array_equal(y.grad.numpy(), [[2.0], [2.0]])
    n = tape.rsub(x, 5, 3)
    np.testing.assert_array_equal(n.detach().numpy(), [2.0, -1.0])
    assert type(n.grad_fn).__name__ == "RsubBackward1" and n.grad_fn._saved_alpha == 3
    assert tape.rsub(tape.tensor([1, 2]), 3.5).dtype == tape.float32
    with pytest.raises(RuntimeError, match="with two bool tensors is not supported"):
        tape.rsub(tape.ones(2, dtype=tape.bool), tape.ones(2, dtype=tape.bool))
    with pytest.raises(RuntimeError, match="argument alpha must not be a floating point number"):
        tape.rsub(tape.tensor([1, 2]), 3, alpha=1.5)
    with pytest.raises(TypeError, match="rsub"):
        tape.rsub(2, x)
    assert tape.autograd.gradcheck(lambda a, b: tape.rsub(a, b, alpha=-1.5), (x.double(), y.double()))
    assert tape.autograd.gradgradcheck(lambda a, b: tape.rsub(a * a, b, alpha=0.5), (x.double(), y.double()))


def test_fill_with_a_number_or_a_0d_tensor():
    x = _x()
    v = tape.tensor(2.5, dtype=tape.float64, requires_grad=True)
    f = tape.fill(x, v)
    np.testing.assert_array_equal(f.detach().numpy(), np.full((3, 4), 2.5))
    assert type(f.grad_fn).__name__ == "FillBackward1"
    (f * tape.arange(12.0, dtype=tape.float64).reshape(3, 4)).sum().backward()
    assert v.grad.item() == 66.0
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 4)))     # (zeros, not None, as PyTorch)
    n = tape.fill(x, 3)
    assert type(n.grad_fn).__name__ == "FillBackward0" and n.dtype == tape.float64
    np.testing.assert_array_equal(tape.fill(tape.arange(3), 2.7).numpy(), [2, 2, 2])
    with pytest.raises(RuntimeError, match="fill_ only supports 0-dimension value tensor but got tensor with 1 "):
        tape.fill(x, tape.ones(1))
    with pytest.raises(TypeError, match="fill"):
        tape.fill(x, "a")


def test_as_strided_scatter_writes_into_the_clone_s_storage():
    x = tape.zeros(3, 4, dtype=tape.float64)
    src = tape.arange(4.0, dtype=tape.float64).reshape(2, 2)
    np.testing.assert_array_equal(tape.as_strided_scatter(x, src, (2, 2), (1, 2)).numpy(),
                                  [[0.0, 2.0, 1.0, 3.0], [0.0] * 4, [0.0] * 4])
    # a transposed self keeps its strides in the clone: storage slot 1 is element (1, 0)
    np.testing.assert_array_equal(tape.as_strided_scatter(x.t(), src, (2, 2), (1, 2)).numpy()[:, 0], [0, 2, 1, 3])
    with pytest.raises(RuntimeError, match=r"expected src to have a size equal to the slice of self. src size = "
                                           r"\[3, 2\], slice size = \[2, 2\]"):
        tape.as_strided_scatter(x, tape.ones(3, 2), (2, 2), (1, 2))
    with pytest.raises(RuntimeError, match="out of bounds for storage of size"):
        tape.as_strided_scatter(x, src, (2, 2), (10, 2))
    a = tape.rand(3, 4, dtype=tape.float64, requires_grad=True)
    b = tape.rand(2, 2, dtype=tape.float64, requires_grad=True)
    y = tape.as_strided_scatter(a, b, (2, 2), (1, 2), 2)
    assert type(y.grad_fn).__name__ == "AsStridedScatterBackward0" and y.grad_fn._saved_storage_offset == 2
    assert tape.autograd.gradcheck(lambda p, q: tape.as_strided_scatter(p, q, (2, 2), (1, 2), 2), (a, b))
    assert tape.autograd.gradgradcheck(lambda p, q: tape.as_strided_scatter(p * p, q * q, (2, 2), (1, 1)), (a, b))


def test_slice_inverse_views_self_s_storage_with_src_s_layout():
    x = tape.arange(12.0, dtype=tape.float64).reshape(3, 4).requires_grad_()
    s = x[:, 1:3]
    y = tape.slice_inverse(s, x, 1, 1, 3)
    np.testing.assert_array_equal(y.detach().numpy(), x.detach().numpy())
    assert type(y.grad_fn).__name__ == "SliceInverseBackward0" and y.grad_fn._saved_start == 1
    g = tape.arange(12.0, dtype=tape.float64).reshape(3, 4) * 10
    gs, gx = tape.autograd.grad(y, (s, x), g)
    np.testing.assert_array_equal(gs.numpy(), g.numpy()[:, 1:3])
    np.testing.assert_array_equal(gx.numpy(), g.numpy())     # (through src, and the rest through the slice)
    with pytest.raises(RuntimeError, match="out of bounds for storage"):
        tape.slice_inverse(tape.ones(3, 3), tape.ones(3, 4), 1, 0, 2)


def test_nonzero_static_pads_or_truncates():
    t = tape.tensor([[1, 0], [0, 3]])
    np.testing.assert_array_equal(tape.nonzero_static(t, size=4, fill_value=7).numpy(),
                                  [[0, 0], [1, 1], [7, 7], [7, 7]])
    np.testing.assert_array_equal(t.nonzero_static(size=1).numpy(), [[0, 0]])
    assert tape.nonzero_static(tape.tensor(5.0), size=2).shape == (2, 0)
    with pytest.raises(RuntimeError, match="'size' must be an non-negative integer"):
        tape.nonzero_static(t, size=-1)
    with pytest.raises(TypeError):
        tape.nonzero_static(t, 2)


def test_poisson_samples_are_reproducible_and_have_the_rates_moments():
    rates = tape.tensor([0.0, 0.5, 4.0, 12.0, 300.0], dtype=tape.float64).repeat(400)
    tape.manual_seed(5)
    a = tape.poisson(rates)
    after = tape.rand(1).item()
    tape.manual_seed(5)
    assert tape.equal(tape.poisson(rates), a) and tape.rand(1).item() == after
    s = a.reshape(400, 5).numpy()
    assert (s[:, 0] == 0).all() and (s == np.round(s)).all() and (s >= 0).all()
    lam = np.array([0.5, 4.0, 12.0, 300.0])
    # (the mean of 400 samples is within 5 standard errors of the rate)
    assert (np.abs(s[:, 1:].mean(0) - lam) < 5 * np.sqrt(lam / 400)).all()
    assert (np.abs(s[:, 1:].var(0) / lam - 1) < 0.4).all()
    g = tape.Generator().manual_seed(3)
    h = tape.Generator().manual_seed(3)
    assert tape.equal(tape.poisson(rates[:20], g), tape.poisson(rates[:20], generator=h))
    r = tape.tensor([2.0, 30.0], requires_grad=True)
    y = tape.poisson(r)
    assert type(y.grad_fn).__name__ == "PoissonBackward0" and y.dtype == tape.float32
    y.sum().backward()
    np.testing.assert_array_equal(r.grad.numpy(), [0.0, 0.0])
    with pytest.raises(RuntimeError, match="invalid Poisson rate, expected rate to be non-negative"):
        tape.poisson(tape.tensor([-1.0]))
    with pytest.raises(NotImplementedError, match="\"poisson_cpu\" not implemented for 'Long'"):
        tape.poisson(tape.tensor([1]))


def test_binomial_samples_are_reproducible_and_have_the_moments():
    n = tape.tensor([0.0, 5.0, 100.0, 40.0, 7.0, 3.0], dtype=tape.float64).repeat(400)
    p = tape.tensor([0.3, 0.3, 0.3, 0.9, 1.0, 0.0], dtype=tape.float64).repeat(400)
    tape.manual_seed(11)
    a = tape.binomial(n, p)
    tape.manual_seed(11)
    assert tape.equal(tape.binomial(n, p), a)
    s = a.reshape(400, 6).numpy()
    assert (s[:, 0] == 0).all() and (s[:, 4] == 7).all() and (s[:, 5] == 0).all()
    assert (s[:, 1] <= 5).all() and (s[:, 3] <= 40).all()
    mean = np.array([1.5, 30.0, 36.0])
    sd = np.sqrt([5 * 0.3 * 0.7, 100 * 0.3 * 0.7, 40 * 0.9 * 0.1])
    assert (np.abs(s[:, 1:4].mean(0) - mean) < 5 * sd / 20).all()
    c = tape.tensor([10.0, 20.0], requires_grad=True)
    y = tape.binomial(c, tape.tensor([0.5, 0.5]))
    assert type(y.grad_fn).__name__ == "NotImplemented"
    with pytest.raises(RuntimeError, match="derivative for aten::binomial is not implemented"):
        y.sum().backward()
    with pytest.raises(ValueError, match="binomial only supports floating-point dtypes for count, got: Long"):
        tape.binomial(tape.tensor([1, 2]), tape.tensor([0.5, 0.5]))
    with pytest.raises(RuntimeError, match="Found dtype Double but expected Float"):
        tape.binomial(tape.tensor([1.0]), tape.tensor([0.5], dtype=tape.float64))


def test_native_normalizations_give_the_layer_s_output_and_its_statistics():
    x = tape.tensor(np.arange(24.0).reshape(2, 3, 4) ** 1.5, requires_grad=True)
    out, mean, rstd = tape.native_layer_norm(x, (4,), None, None, 1e-5)
    v = x.detach().numpy()
    np.testing.assert_allclose(mean.numpy(), v.mean(-1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(rstd.numpy(), 1 / np.sqrt(v.var(-1, keepdims=True) + 1e-5), rtol=1e-6)
    np.testing.assert_allclose(out.detach().numpy(), (v - mean.numpy()) * rstd.numpy(), rtol=1e-5, atol=1e-6)
    assert type(out.grad_fn).__name__ == "NativeLayerNormBackward0" and mean.grad_fn is None
    rm, rv = tape.zeros(3, dtype=tape.float64), tape.ones(3, dtype=tape.float64)
    out, m, s = tape.native_batch_norm(x, None, None, rm, rv, True, 0.5, 1e-5)
    np.testing.assert_allclose(m.numpy(), v.mean((0, 2)), rtol=1e-6)
    np.testing.assert_allclose(rm.numpy(), 0.5 * v.mean((0, 2)), rtol=1e-6)       # (updated in place)
    _, m, s = tape.native_batch_norm(x, None, None, rm, rv, False, 0.5, 1e-5)
    assert m.shape == (0,) and s.shape == (0,)
    out, m, s = tape.native_group_norm(x, None, None, 2, 3, 4, 3, 1e-5)
    assert m.shape == (2, 3) and type(out.grad_fn).__name__ == "NativeGroupNormBackward0"
    np.testing.assert_allclose(m.numpy(), v.mean(-1), rtol=1e-6)


def test_native_dropout_and_its_mask():
    x = tape.ones(100, dtype=tape.float64, requires_grad=True)
    tape.manual_seed(1)
    y, mask = tape.native_dropout(x, 0.25, True)
    assert mask.dtype == tape.bool and type(y.grad_fn).__name__ == "NativeDropoutBackward0"
    np.testing.assert_array_equal(y.detach().numpy(), np.where(mask.numpy(), 1 / 0.75, 0.0))
    tape.manual_seed(1)
    assert tape.equal(tape.dropout(x, 0.25, True), y)       # (the same draws as dropout's)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())
    x.grad = None
    tape.manual_seed(1)
    y, _ = tape.native_dropout(x, 0.25, None)       # (PyTorch's derivative then forgets the scale)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), mask.numpy().astype(float))
    e, keep = tape.native_dropout(x, 0.25, False)
    assert tape.equal(e, x) and bool(keep.all())


def test_norm_except_dim_channel_shuffle_and_ctc_loss_forms():
    v = tape.arange(1.0, 25.0, dtype=tape.float64).reshape(2, 3, 4)
    a = v.numpy()
    np.testing.assert_allclose(tape.norm_except_dim(v, 2, 1).numpy(), np.sqrt((a ** 2).sum((0, 2), keepdims=True)))
    np.testing.assert_allclose(tape.norm_except_dim(v, 2, -1).numpy(), np.sqrt((a ** 2).sum()))
    assert type(tape.norm_except_dim(v.requires_grad_(), 2, -1).grad_fn).__name__ == "NormBackward0"
    s = tape.native_channel_shuffle(v, 3)
    assert tape.equal(s, tape.channel_shuffle(v.detach(), 3)) and type(s.grad_fn).__name__ == "NotImplemented"
    lp = tape.randn(5, 2, 4, dtype=tape.float64).log_softmax(2)
    t = tape.tensor([[1, 2], [3, 3]])
    F = tape.nn.functional
    for enum, name in ((0, "none"), (1, "mean"), (2, "sum"), (7, "none")):
        assert tape.allclose(tape.ctc_loss(lp, t, [5, 5], [2, 2], 0, enum), F.ctc_loss(lp, t, [5, 5], [2, 2],
                                                                                      reduction=name))


def test_frombuffer_shares_the_buffer_s_memory():
    b = bytearray(np.array([1.0, 2.0, 3.0, 4.0], np.float32).tobytes())
    t = tape.frombuffer(b, dtype=tape.float32, count=2, offset=4)
    assert t.tolist() == [2.0, 3.0]
    t[0] = 7.0
    assert np.frombuffer(b, np.float32)[1] == 7.0
    assert tape.frombuffer(b, dtype=tape.float32, count=-5).shape == (4,)
    with pytest.raises(ValueError, match=r"requested buffer length \(3 \* 8 bytes\) after offset \(0 bytes\)"):
        tape.frombuffer(b, dtype=tape.float64, count=3)
    with pytest.raises(ValueError, match=r"must be a multiple of element size \(2\)"):
        tape.frombuffer(bytearray(b"abc"), dtype=tape.int16)
    with pytest.raises(ValueError, match=r"offset \(20 bytes\) must be non-negative"):
        tape.frombuffer(b, dtype=tape.float32, offset=20)
    with pytest.warns(UserWarning, match="The given buffer is not writable") if not \
            tape._buffers._READONLY_WARNED else _nothing():
        assert tape.frombuffer(b"abc", dtype=tape.uint8).tolist() == [97, 98, 99]


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_dlpack_exchange_shares_memory():
    a = np.arange(6.0).reshape(2, 3)[:, ::2]
    t = tape.from_dlpack(a)
    a[0, 0] = 9.0
    assert t.tolist() == [[9.0, 2.0], [3.0, 5.0]] and t.stride() == (3, 2)
    capsule = tape.to_dlpack(tape.arange(4))
    assert tape.utils.dlpack.from_dlpack(capsule).tolist() == [0, 1, 2, 3]
    with pytest.raises(RuntimeError, match="DLTensor capsules can be consumed only once"):
        tape.from_dlpack(capsule)
    x = tape.arange(3.0)
    y = tape.from_dlpack(tape.utils.dlpack.to_dlpack(x))
    x[1] = 5.0
    assert y.tolist() == [0.0, 5.0, 2.0]


def test_empty_permuted_stores_the_dims_in_the_order_given():
    t = tape.empty_permuted((2, 3, 4), (2, 0, 1), dtype=tape.float64)
    assert t.shape == (2, 3, 4) and t.stride() == (3, 1, 6) and t.dtype == tape.float64
    assert tape.empty_permuted((2, 3), (1, 0), requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="Duplicate dim not allowed"):
        tape.empty_permuted((2, 3), (0, 0))
    with pytest.raises(RuntimeError, match=r"expected to be between 0 and 1, but got 2 at index 1"):
        tape.empty_permuted((2, 3), (0, 2))


def test_a_poisson_sample_has_a_zero_tangent():
    fwAD = tape.autograd.forward_ad
    with fwAD.dual_level():
        rates = fwAD.make_dual(tape.tensor([3.0, 20.0]), tape.tensor([1.0, 1.0]))
        tangent = fwAD.unpack_dual(tape.poisson(rates)).tangent
    np.testing.assert_array_equal(tangent.numpy(), [0.0, 0.0])
