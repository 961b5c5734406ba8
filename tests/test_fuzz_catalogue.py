"""What the catalogue fuzzer (tests/test_fuzz_catalogue_torch.py) found in nn.functional, linalg and the
tensor basics: PyTorch's errors (type, whole message, order of its checks) and a few values and gradients.

Every expectation here was read from PyTorch 2.13 (torch-free: fixed values)."""
import numpy as np
import pytest

import tape as L
import tape.nn.functional as F

BOOL_NEG = ("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use "
            "the `~` or `logical_not()` operator instead.")

ERRORS = [
    ('F.batch_norm(L.ones(2, 3, 2), None, None, momentum=None)', TypeError, "batch_norm(): argument 'momentum' (position 7) must be float, not NoneType"),
    ('F.instance_norm(L.ones(2, 3, 2), momentum=None)', TypeError, "instance_norm(): argument 'momentum' (position 7) must be float, not NoneType"),
    ('F.group_norm(L.ones(2, 3, 2), 1, eps=None)', TypeError, "group_norm(): argument 'eps' (position 5) must be float, not NoneType"),
    ('F.layer_norm(L.ones(2, 3, 2), (2,), eps=None)', TypeError, "layer_norm(): argument 'eps' (position 5) must be float, not NoneType"),
    ('L.linalg.eigvalsh(L.ones(2, 1))', RuntimeError, 'linalg.eigh: A must be batches of square matrices, but they are 2 by 1 matrices'),
    ('L.linalg.eigvalsh([1.0])', TypeError, "linalg_eigvalsh(): argument 'input' (position 1) must be Tensor, not list"),
    ('L.linalg.solve(L.eye(1), L.ones(1), left=False)', RuntimeError, 'linalg.solve: Vector broadcasting of the left hand side is not supported for left=False. In this case linalg.solve is equivalent to B / A.squeeze(-1)'),
    ('L.linalg.solve(L.eye(2).expand(3, 2, 2), L.ones(3, 2), left=False)', RuntimeError, 'linalg.solve: Incompatible shapes of A and B for the equation XA = B (2x2 and 2x1)'),
    ('L.linalg.lstsq(L.eye(2), L.ones(3))', RuntimeError, 'torch.linalg.lstsq: input.size(-2) should match other.size(-1)'),
    ('L.linalg.lstsq(L.eye(2).expand(3, 2, 2), L.ones(1, 2))', RuntimeError, 'torch.linalg.lstsq: input.size(-2) should match other.size(-2)'),
    ('F.soft_margin_loss(L.ones(2, 1), L.ones(3))', RuntimeError, "output with shape [2, 1] doesn't match the broadcast shape [2, 3]"),
    ('F.soft_margin_loss(L.ones(2), L.ones(3))', RuntimeError, 'The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0'),
    ('F.soft_margin_loss(L.ones(2, dtype=L.int64), L.ones(2))', RuntimeError, "result type Float can't be cast to the desired output type Long"),
    ('F.soft_margin_loss(L.ones(2, dtype=L.bool), L.ones(2, dtype=L.bool))', RuntimeError, BOOL_NEG),
    ("F.soft_margin_loss(L.ones(2), L.ones(3), reduction='avg')", ValueError, 'avg is not a valid value for reduction'),
    ('F.soft_margin_loss(L.ones(2, dtype=L.int64), L.ones(2, requires_grad=True))', RuntimeError, "The function 'soft_margin_loss' is not differentiable with respect to argument 'target'. This input cannot have requires_grad True."),
    ('L.ones(()).size(0)', IndexError, 'Dimension specified as 0 but tensor has no dimensions'),
    ('L.ones(()).stride(-1)', IndexError, 'Dimension specified as -1 but tensor has no dimensions'),
    ("L.ones(()).size('a')", TypeError, "size(): argument 'dim' (position 1) must be int, not str"),
    ('F.instance_norm(L.ones(()), L.ones(1), L.ones(1), use_input_stats=False)', IndexError, 'Dimension specified as 0 but tensor has no dimensions'),
    ('F.layer_norm(L.ones(2, 2, dtype=L.int64), (2,), L.ones(2), L.ones(2))', RuntimeError, 'mixed dtype (CPU): all inputs must share same datatype.'),
    ('F.layer_norm(L.ones(2, dtype=L.float64), (2,), None, L.ones(2, dtype=L.int64))', RuntimeError, 'mixed dtype (CPU): expect parameter to have scalar type of Float'),
    ('F.layer_norm(L.ones(2), (2,), L.ones(2), L.ones(2, dtype=L.float64))', RuntimeError, 'expected scalar type Float but found Double'),
    ('F.layer_norm(L.ones(2), (), L.ones(2, dtype=L.float64))', RuntimeError, 'mixed dtype (CPU): expect parameter to have scalar type of Float'),
    ('F.group_norm(L.ones(2, 2, 2, dtype=L.int64), 1, L.ones(2))', RuntimeError, 'mixed dtype (CPU): all inputs must share same datatype.'),
    ('F.batch_norm(L.ones(2, 2, 2, dtype=L.int64), None, None, L.ones(2), training=True)', NotImplementedError, '"batch_norm" not implemented for \'Long\''),
    ('F.batch_norm(L.ones(2, 2, 2, dtype=L.float64), L.ones(2), L.ones(2, dtype=L.float64), training=False)', RuntimeError, 'mixed dtype (CPU): expect parameter to have scalar type of Float'),
    ('F.rrelu(L.ones(2, dtype=L.int64))', NotImplementedError, '"leaky_relu_cpu" not implemented for \'Long\''),
    ('F.rrelu(L.ones(2, dtype=L.int64), 0.5, 0.1)', RuntimeError, 'Lower bound should be less than or equal to the upper bound'),
    ('F.huber_loss(L.ones(2, dtype=L.int64), L.ones(2))', RuntimeError, "result type Float can't be cast to the desired output type Long"),
    ('F.cross_entropy(L.ones(()), L.ones(()))', IndexError, 'Dimension specified as 1 but tensor has no dimensions'),
    ('F.cross_entropy(L.ones(()), L.ones(3).softmax(0))', IndexError, 'Dimension out of range (expected to be in range of [-1, 0], but got 1)'),
    ('F.binary_cross_entropy_with_logits(L.ones(2, 3), L.ones(2, 3), pos_weight=L.ones(2, requires_grad=True))', RuntimeError, "The function 'binary_cross_entropy_with_logits' is not differentiable with respect to argument 'pos_weight'. This input cannot have requires_grad True."),
    ('F.binary_cross_entropy(L.ones(2, 3) * 2, L.ones(2, 3) / 2, weight=L.ones(3, requires_grad=True))', RuntimeError, "The function 'binary_cross_entropy' is not differentiable with respect to argument 'weight'. This input cannot have requires_grad True."),
    ('F.binary_cross_entropy(L.tensor(2.0), L.tensor(0.5), weight=L.ones(1))', RuntimeError, 'all elements of input should be between 0 and 1'),
    ('F.cosine_embedding_loss(L.ones(2, 3), L.ones(()), L.tensor([1.0, -1.0]))', RuntimeError, '1D target tensor expects 2D input tensors, but found inputs with sizes [2, 3] and [].'),
    ('F.local_response_norm(L.ones(1, 2, 3, dtype=L.int32), 2)', NotImplementedError, '"avg_pool2d" not implemented for \'Int\''),
    ('F.local_response_norm(L.ones(1, 2, 3, 1, dtype=L.bool), 2)', NotImplementedError, '"avg_pool3d_out_frame" not implemented for \'Bool\''),
    ("L.dist(L.ones(0), L.tensor(0.0), float('inf'))", RuntimeError, 'linalg.vector_norm cannot compute the inf norm on an empty tensor because the operation does not have an identity'),
    ("F.normalize(L.ones(2, 0), float('inf'), -1)", RuntimeError, 'linalg.vector_norm cannot compute the inf norm on the dimension -1because this dimension is empty and the operation does not have an identity'),
    ('L.linalg.vector_norm(L.ones(2, 0), -1, 1)', RuntimeError, 'linalg.vector_norm cannot compute the -1 norm on the dimension 1because this dimension is empty and the operation does not have an identity'),
    ('L.linalg.norm(L.ones(0), -0.5)', RuntimeError, 'linalg.vector_norm cannot compute the -0.5 norm on an empty tensor because the operation does not have an identity'),
    ('F.rms_norm(L.ones(()), (2,))', ValueError, 'Input tensor must have at least 1 dimensions, but got 0'),
    ('F.layer_norm(L.ones(2), [2, 1.5])', TypeError, 'layer_norm(): argument \'normalized_shape\' failed to unpack the object at pos 2 with error "type must be tuple of ints,but got float"'),
    ('F.rms_norm(L.ones(2), [1.5])', TypeError, "rms_norm(): argument 'normalized_shape' (position 2) must be tuple of ints, but found element of type float at pos 0"),
    ('F.hardtanh(L.ones(2, dtype=L.bool))', RuntimeError, 'Bool inputs not supported for hardtanh'),
    ('F.relu6(L.ones(2, dtype=L.bool))', RuntimeError, 'Bool inputs not supported for hardtanh'),
    ('F.multi_margin_loss(L.ones(2, 3, dtype=L.int64), L.tensor([0, 1]), weight=L.ones(3))', NotImplementedError, '"multi_margin_loss_cpu_kernel" not implemented for \'Long\''),
    ('F.multi_margin_loss(L.ones(2, 3), L.tensor([0, 1, 2]), weight=L.ones(3, requires_grad=True))', RuntimeError, "The function 'multi_margin_loss' is not differentiable with respect to argument 'weight'. This input cannot have requires_grad True."),
    ('F.batch_norm(L.ones(0, 3), None, None, L.ones(0))', IndexError, 'select(): index 0 out of range for tensor of size [0] at dimension 0'),
    ('F.celu(L.tensor(-2.0, requires_grad=True), alpha=0.0, inplace=True)', RuntimeError, 'a leaf Variable that requires grad is being used in an in-place operation.'),
    ('L.ones(2, 0).amax(dim=(0, -1))', IndexError, 'amax(): Expected reduction dim -1 to have non-zero size.'),
    ("F.threshold(L.ones(2, dtype=L.bool), 0.5, 1.0)", NotImplementedError,
     '"threshold_cpu" not implemented for \'Bool\''),
    ('F.soft_margin_loss(L.ones(2, dtype=L.int64), L.ones(2, dtype=L.float64))', RuntimeError,
     "result type Double can't be cast to the desired output type Long"),
    ('L.linalg.solve(L.ones(2, 3, dtype=L.int64), L.ones(2, dtype=L.int64))', RuntimeError,
     'linalg.solve: Expected a floating point or complex tensor as input. Got Long'),
    ('L.linalg.solve(L.ones(2, 3), L.ones(2, dtype=L.int64))', RuntimeError,
     'linalg.solve: Expected A and B to have the same dtype, but found A of type Float and B of type Long instead'),
    ('F.nll_loss(L.ones(2, 3, dtype=L.int64), L.tensor([0.0, 1.0]))', RuntimeError,
     'expected target dtype to be Long or Byte, but got Float'),
    # nll_loss checks its target's dtype right after its rank: before the 1-D target size, weight and size checks
    ("F.cross_entropy(L.tensor([1.5]), L.tensor([0.5, 0.5]))", RuntimeError,
     'expected target dtype to be Long or Byte, but got Float'),
    ('F.nll_loss(L.zeros(1), L.tensor([0, 1], dtype=L.int32))', RuntimeError,
     'expected target dtype to be Long or Byte, but got Int'),
    ('F.nll_loss(L.zeros(1), L.tensor([0, 1], dtype=L.uint8))', ValueError,
     'For 1D input, 1D target must have size 1, but got target size: 2'),
    ('F.nll_loss(L.zeros(3), L.tensor(0, dtype=L.int32), L.ones(2))', RuntimeError,
     'expected target dtype to be Long or Byte, but got Int'),
    ('F.nll_loss(L.zeros(2, 3), L.tensor([0, 1], dtype=L.int32), L.ones(2))', RuntimeError,
     'expected target dtype to be Long or Byte, but got Int'),
    ('F.nll_loss(L.zeros(2, 3, 2, 2), L.zeros(2, 2, 3, dtype=L.int32))', RuntimeError,
     'expected target dtype to be Long or Byte, but got Int'),
    ('F.nll_loss(L.zeros(2, 3, 2, 2), L.zeros(2, 2, dtype=L.int32))', RuntimeError,
     'only batches of spatial targets supported (3D tensors) but got targets of dimension: 2'),
    ('F.nll_loss(L.zeros(3), L.tensor([[0, 1]]))', RuntimeError,
     '0D or 1D target tensor expected, multi-target not supported'),
    # nll_loss of more than 2 dims with no element viewed as (n, c, 0, 0), as PyTorch's nll_loss_nd
    ('F.nll_loss(L.zeros(1, 0, 2), L.tensor([[0, 0]]))', RuntimeError,
     'size mismatch (got input: [1, 0, 0, 0] , target: [1, 1, 2]'),
    ("F.cross_entropy(L.zeros(2, 0, 1, 5, 2), L.zeros(2, 1, 5, 2, dtype=L.int64), reduction='none')", RuntimeError,
     'size mismatch (got input: [2, 0, 0, 0] , target: [2, 1, 10]'),
    # an index into a dim of size 0 is refused before index_put's dtype and shape checks
    ('L.zeros(0, dtype=L.float64).index_put((L.tensor([-1, 0]),), L.tensor(-1.5), accumulate=True)', IndexError,
     'index is out of bounds for dimension with size 0'),
    ('L.zeros(2, 0, dtype=L.float64).index_put_((L.tensor([0]), L.tensor([-1, 0])), L.tensor([1.0, 2.0, 3.0]))',
     IndexError, 'index is out of bounds for dimension with size 0'),
    ('L.take_along_dim(L.ones(2, 2, 2), L.tensor([[0]]), dim=3)', RuntimeError,
     'torch.take_along_dim(): input and indices should have the same number of dimensions, but got 3 dimensions '
     'for input, and 2 dimensions for indices'),
]


@pytest.mark.parametrize("code, error, message", ERRORS)
def test_error_matches_pytorch(code, error, message):
    with pytest.raises(error) as info:
        eval(code)
    assert str(info.value) == message


# (code, expected value: a tuple of shape, dtype name, values, or a plain Python value)
VALUES = [
    # soft_margin_loss: in the input's dtype, its target broadcast to the input's shape
    ("F.soft_margin_loss(L.zeros(2), L.ones(2, dtype=L.float64), reduction='none').dtype", L.float32),
    ("F.soft_margin_loss(L.zeros(2, 3), L.tensor([1.0, -2.0, 3.0]), reduction='sum').item()", 6 * np.log(2)),
    # lstsq: a matrix B of one dim less than A broadcasts its leading dims with A's batch
    ("tuple(L.linalg.lstsq(L.eye(3).expand(1, 3, 3), L.ones(3, 1)).solution.shape)", (3, 3, 1)),
    ("L.linalg.lstsq(L.eye(1).expand(2, 1, 1), L.tensor([[-0.5, 1.5]])).solution.tolist()",
     [[[-0.5, 1.5]], [[-0.5, 1.5]]]),
    # poisson_nll_loss's Stirling term of an integer target: 2 pi in the default float dtype
    ("F.poisson_nll_loss(L.ones(2), L.tensor([2, 3]), log_input=False, full=True, reduction='none').tolist()",
     [1.0 - 2 * np.log(1 + 1e-8) + 2 * np.log(2) - 2 + 0.5 * np.log(4 * np.pi),
      1.0 - 3 * np.log(1 + 1e-8) + 3 * np.log(3) - 3 + 0.5 * np.log(6 * np.pi)]),
    # local_response_norm of int64: PyTorch's average pool divides as integers (9 // 2 = 4 -> 3 / (1 + 2) ** 0.75)
    ("F.local_response_norm(L.tensor([[[3], [0]]]), 2, alpha=0.5, k=1.0).tolist()",
     [[[3 / (1 + 0.5 * 4) ** 0.75], [0.0]]]),
    # batch norm of no element: a copy times weight[0] plus bias[0] (no other check)
    ("F.batch_norm(L.ones(0, 3), L.ones(3), L.ones(4), training=False).shape", (0, 3)),
    ("F.batch_norm(L.ones(0, 3, requires_grad=True), None, None, None, L.ones(3), training=True).grad_fn.name()",
     "AddBackward0"),
    # rms_norm of a dense non-contiguous input: a contiguous copy
    ("F.rms_norm(L.ones(2, 2, 2, requires_grad=True).transpose(0, 1), (2,)).grad_fn.name()", "CloneBackward0"),
    ("F.rms_norm(L.ones(2, 2, 2, requires_grad=True).transpose(0, 1), (2,)).is_contiguous()", True),
    ("F.nll_loss(L.zeros(2, 3, 0), L.zeros(2, 0, dtype=L.int64), reduction='none').shape", (2, 0)),
    ("F.cross_entropy(L.zeros(2, 3, 0, 5, 2), L.zeros(2, 0, 5, 2, dtype=L.int64), reduction='none').shape",
     (2, 0, 5, 2)),
    # linalg.norm without dim: vector_norm over every dim
    ("L.linalg.norm(L.tensor([3.0, -4.0]), 1).item()", 7.0),
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


@pytest.mark.parametrize("dtype", [L.float32, L.float64])
def test_hardswish_derivatives_at_the_corners(dtype):
    """PyTorch's slope of the middle piece holds on the open interval only: 0 at -3, 1 at 3; the second
    derivative is 1/3 inside, 0 at the corners."""
    x = L.tensor([-3.0, 3.0, -2.5, 0.0, 4.0, -4.0], dtype=dtype, requires_grad=True)
    g, = L.autograd.grad(F.hardswish(x).sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [0.0, 1.0, -2.5 / 3 + 0.5, 0.5, 1.0, 0.0], rtol=1e-6)
    h, = L.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(h.numpy(), [0.0, 0.0, 1 / 3, 1 / 3, 0.0, 0.0], rtol=1e-6)


def test_norm_parameters_checked_in_pytorch_s_order():
    """Layer norm checks the mixed-dtype form before the shapes; batch norm its kernel's dtype first."""
    with pytest.raises(RuntimeError, match=r"^mixed dtype \(CPU\): expect parameter to have scalar type of Float$"):
        F.layer_norm(L.ones(2), (3,), L.ones(2, dtype=L.float64))
    with pytest.raises(NotImplementedError, match="\"batch_norm\" not implemented for 'Long'"):
        F.batch_norm(L.ones(2, 2, 2, dtype=L.int64), L.ones(2), L.ones(2), L.ones(2, dtype=L.float64), training=False)
