"""What the spatial fuzzer (tests/test_fuzz_spatial_torch.py) found in the convolutions, pools, padding,
embedding, attention, interpolation, fold and scatter-style ops: PyTorch's errors (type, whole message, order
of its checks) and a few values.

Every expectation here was read from PyTorch 2.13 (torch-free: fixed values)."""
import numpy as np
import pytest

import tape as L
import tape.nn.functional as F

ERRORS = [
    # conv: PyTorch's oneDNN kernel (float32, a batch or groups) names the tensor types; its own kernels say
    # "expected scalar type"; conv1d/2d/3d check the bias's dtype before anything else
    ('F.conv1d(L.ones(2, 2, 4), L.ones(2, 2, 3, dtype=L.float64))', RuntimeError,
     'Input type (torch.FloatTensor) and weight type (torch.DoubleTensor) should be the same or input should be a '
     'MKLDNN tensor and weight is a dense tensor'),
    ('F.conv_transpose2d(L.ones(1, 2, 3, 3), L.ones(2, 1, 2, 2), L.ones(2, dtype=L.float64), groups=2)',
     RuntimeError, 'Input type (torch.FloatTensor) and bias type (torch.DoubleTensor) should be the same or input '
     'should be a MKLDNN tensor and bias is a dense tensor'),
    ('F.conv2d(L.ones(1, 2, 3, 3), L.ones(2, 2, 1, 1, dtype=L.float64))', RuntimeError,
     'expected scalar type Float but found Double'),
    ('F.conv3d(L.ones(1, 2, 3, 3, 3, dtype=L.float64), L.ones(2, 2, 1, 1, 1))', RuntimeError,
     'expected scalar type Double but found Float'),
    ('F.conv_transpose3d(L.ones(1, 2, 2, 2, 2), L.ones(2, 2, 1, 1, 1), L.ones(2, dtype=L.float64))', RuntimeError,
     'expected scalar type Float but found Double'),
    ('F.conv1d(L.ones(4), L.ones(2, 2, 3), L.ones(2, dtype=L.float64))', RuntimeError,
     'Input type (float) and bias type (double) should be the same'),
    # a transposed convolution on oneDNN: the dtypes before the output's size
    ('F.conv_transpose2d(L.ones(2, 2, 2, 1), L.ones(2, 1, 1, 1, dtype=L.float64), None, stride=2, padding=(0, 1), '
     'groups=2)', RuntimeError, 'Input type (torch.FloatTensor) and weight type (torch.DoubleTensor) should be the '
     'same or input should be a MKLDNN tensor and weight is a dense tensor'),
    # an empty input of some batch and channel goes through no kernel; one of no batch gives the empty output
    ('F.conv_transpose1d(L.ones(2, 1, 0), L.ones(1, 1, 1))', RuntimeError,
     'Only zero batch or zero channel inputs are supported, but got input shape: [2, 1, 1, 0]'),
    ('F.conv2d(L.ones(1, 3, 1, 0), L.ones(3, 3, 1, 1), padding=1)', RuntimeError,
     'Only zero batch or zero channel inputs are supported, but got input shape: [1, 3, 1, 0]'),
    ('F.conv_transpose2d(L.ones(0, 3, 2, 1), L.ones(3, 1, 1, 1), padding=(1, 2))', RuntimeError,
     'invalid shape dimension -3 at index 3 of shape [0, 1, 0, -3]'),
    # padding='same' with an even kernel: PyTorch checks the padded copy of the input
    ("F.conv2d(L.ones(1, 1, 3, 3), L.ones(4, 1, 3, 2), None, 1, 'same', 1, 2)", RuntimeError,
     'Given groups=2, weight of size [4, 1, 3, 2], expected input[1, 1, 3, 4] to have 2 channels, but got 1 '
     'channels instead'),
    # the weight's dims before groups (also for a padding string), 'same''s own checks before the stride's
    ("F.conv1d(L.ones(1, 2, 3), L.ones(2, 2), None, 1, 'same', 2, 0)", RuntimeError,
     'weight should have at least three dimensions'),
    ('F.conv1d(L.ones(1, 2, 3), L.ones(2, 2), None, 1, 0, 2, 0)', RuntimeError,
     'weight should have at least three dimensions'),
    ("F.conv2d(L.ones(1, 2, 3), L.ones(2, 2, 1), None, 2, 'same', 2, 1)", RuntimeError,
     'Expected 3-dimensional input for 3-dimensional weight[2, 2, 1], but got 4-dimensional input of size '
     '[1, 1, 2, 3] instead'),
    # unfold reads input.size(1) and input.size(2) after the kernel's checks
    ('F.unfold(L.ones(()), 2)', IndexError, 'Dimension specified as 1 but tensor has no dimensions'),
    ('F.unfold(L.ones(2), 1)', IndexError, 'Dimension out of range (expected to be in range of [-1, 0], but got 1)'),
    # fold: the count of blocks before their signs
    ('F.fold(L.ones(1, 4, 1), (1, 1), 2, 2, 0, 1)', RuntimeError,
     'Given output_size=(1, 1), kernel_size=(2, 2), dilation=(2, 2), padding=(0, 0), stride=(1, 1), calculated shape '
     'of the array of sliding blocks as (-1, -1), which is too small (non-positive)'),
    ('F.fold(L.ones(1, 4, 1), (1, 3), 2, (2, 2), 0, 2)', RuntimeError,
     "Given output_size=(1, 3), kernel_size=(2, 2), dilation=(2, 2), padding=(0, 0), stride=(2, 2), expected size of "
     "input's dimension 2 to match the calculated number of sliding blocks 0 * 1 = 0, but got input.size(2)=1."),
    # max_pool1d: no dim but the batch may be empty
    ('F.max_pool1d(L.ones(0, 3), 1)', RuntimeError,
     'max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, but got:[0, 3]'),
    # adaptive pools: PyTorch's Python wrapper reads the input's sizes for a tuple output_size; a list of one is
    # not repeated; the max pool checks the input's dims before the sizes' count
    ('F.adaptive_avg_pool3d(L.ones(2, 2, 2), (None, 1, 2))', ValueError, 'Input dimension should be at least 4'),
    ('F.adaptive_avg_pool2d(L.ones(2, 2), None)', TypeError, "object of type 'NoneType' has no len()"),
    ('F.adaptive_avg_pool2d(L.ones(2, 2), [1])', RuntimeError, 'adaptive_avg_pool2d: output_size must be 2'),
    ('F.adaptive_max_pool2d(L.ones(2, 2), (1,))', RuntimeError,
     'adaptive_max_pool2d(): Expected 3D or 4D tensor, but got: [2, 2]'),
    # ... and their backward to an output of no element
    ('F.adaptive_avg_pool1d(L.ones(2, 3, requires_grad=True), 0).sum().backward()', RuntimeError,
     'adaptive_avg_pool2d_backward(): Expected grad_output to have non-zero size for non-batch dimensions, but '
     'grad_output has sizes [2, 1, 0] with dimension 2 being empty'),
    ('F.adaptive_max_pool3d(L.ones(1, 2, 2, 2, 2, requires_grad=True), (1, 0, 1)).sum().backward()', RuntimeError,
     'adaptive_max_pool3d_backward(): Expected grad_output to have non-zero size for non-batch dimensions, but '
     'grad_output has sizes [1, 2, 1, 0, 1] with dimension 3 being empty'),
    ('F.adaptive_max_pool1d(L.ones(2, 0), 3)', RuntimeError,
     'adaptive_max_pool1d(): Expected input to have non-zero size for non-batch dimensions, but input has sizes '
     '[2, 0] with dimension 1 being empty'),
    # ... and, for an input requiring grad, PyTorch's autograd reads size(-1) and size(-2) before anything
    ('F.unfold(L.ones(3, requires_grad=True), 0)', IndexError,
     'Dimension out of range (expected to be in range of [-1, 0], but got -2)'),
    ('F.unfold(L.ones((), requires_grad=True), 2)', IndexError, 'Dimension specified as -1 but tensor has no dimensions'),
    # avg_pool3d: the input's dims before the divisor; a 0-d input
    ('F.avg_pool3d(L.ones(1, 1, 1), 1, divisor_override=0)', RuntimeError,
     'non-empty 4D or 5D (batch mode) tensor expected for input'),
    ('F.avg_pool2d(L.ones(()), 1)', IndexError, 'Dimension specified as -3 but tensor has no dimensions'),
    # scatter's and scatter_reduce's reduction checked after the shapes, before the bounds
    ("L.ones(3).scatter(0, L.tensor([5]), L.ones(3), reduce='sum')", RuntimeError,
     'reduce argument must be either add or multiply.'),
    ("L.ones(3).scatter(0, L.tensor([[0]]), L.ones(3), reduce='sum')", RuntimeError,
     'Index tensor must have the same number of dimensions as self tensor'),
    ("L.ones(3).scatter_reduce(1, L.tensor([0]), L.ones(3), 'foo')", IndexError,
     'Dimension out of range (expected to be in range of [-1, 0], but got 1)'),
    ("L.ones(3).scatter_reduce(0, L.tensor([9]), L.ones(3), 'foo')", RuntimeError,
     'reduce argument must be either sum, prod, mean, amax or amin, got foo'),
    ("L.ones(3).scatter_reduce(0, L.tensor([-1]), L.ones(3), 'max')", RuntimeError,
     'index -1 is out of bounds for dimension 0 with size 3'),
    # gather/scatter: the bad index PyTorch's kernel meets first (along dim outside the run over the other dims,
    # unless dim is the last)
    ('L.ones(3, 2, 1).gather(1, L.tensor([[[1], [-1], [0]], [[2], [2], [2]], [[-1], [0], [-1]]]))', RuntimeError,
     'index 2 is out of bounds for dimension 1 with size 2'),
    ('L.ones(3, 2).scatter_add(1, L.tensor([[1, -1], [2, 2], [0, 0]]), L.ones(3, 2))', RuntimeError,
     'index -1 is out of bounds for dimension 1 with size 2'),
    # index_add: the count of indices before the shapes (a 0-d source's size(dim) raising); index_copy: its
    # scalar-source and rank checks before the dtypes
    ('L.ones(3, 2).index_add(0, L.tensor([0, 1]), L.ones(3, 3))', RuntimeError,
     'index_add_(): Number of indices (2) should be equal to source.size(dim): (3), for dim: 0'),
    ('L.tensor(2.0).index_add(-1, L.tensor([], dtype=L.int64), L.tensor(1.0))', IndexError,
     'Dimension specified as 0 but tensor has no dimensions'),
    # scatter: the src's sizes read before its rank is compared, the rank before the sizes are refused
    ('L.ones(3, 3).scatter(1, L.tensor([[0, 1, 1, 1]]), L.ones(3))', IndexError,
     'Dimension out of range (expected to be in range of [-1, 0], but got 1)'),
    ('L.ones(3, 3).scatter(1, L.tensor([[0]] * 4), L.ones(3))', RuntimeError,
     'Index tensor must have the same number of dimensions as src tensor'),
    # masked_scatter: out of place, the mask and self broadcast first; in place, the mask expanded to self after
    # the dtypes; the mask's dtype last
    ('L.ones(2, 3).masked_scatter(L.ones(3, 2) > 0, L.ones(2, dtype=L.int64))', RuntimeError,
     'The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 1'),
    ('L.ones(2, 1).masked_scatter_(L.ones(2, 3) > 0, L.ones(9))', RuntimeError,
     'The expanded size of the tensor (1) must match the existing size (3) at non-singleton dimension 1.  Target '
     'sizes: [2, 1].  Tensor sizes: [2, 3]'),
    ('L.ones(2, 3).masked_scatter_(L.ones(3, 2), L.ones(2, dtype=L.int64))', RuntimeError,
     'masked_scatter: expected self and source to have same dtypes but gotFloat and Long'),
    # interpolate: an input of no channel (a batch of none may be empty)
    ("F.interpolate(L.ones(1, 0, 2), scale_factor=2, mode='linear')", RuntimeError,
     'Non-empty 3D data tensor expected but got a tensor with sizes [1, 0, 2]'),
    # embedding: a weight of no row
    ('F.embedding(L.tensor([0]), L.ones(0, 2))', RuntimeError, 'index_select(): self indexing axis dim should be positive'),
    # index_add of a 0-d or 1-D tensor: PyTorch's other kernel's bounds message
    ('L.ones(3).index_add(0, L.tensor([5]), L.ones(1), alpha=2)', IndexError, 'index out of range in self'),
    ('L.ones(3, 2).index_add_(0, L.tensor([-1]), L.ones(1, 2))', RuntimeError,
     'index -1 is out of bounds for dimension 0 with size 3'),
    # index_fill: the index's dtype before the dim
    ('L.ones(3).index_fill(3, L.tensor([0], dtype=L.int32), 2.0)', IndexError,
     'index_fill_(): Expected dtype int64 for index.'),
    ('L.ones(3).index_copy(0, L.tensor([0, 1]).int(), L.tensor(1.0))', IndexError,
     'index_copy_(): When source is scalar, index should have one element (got 2)'),
    ('L.ones(3).index_copy(0, L.tensor([0]).int(), L.ones(2, 1))', IndexError,
     'index_copy_(): When source and destination are not scalars, their dimensionality must match. Source '
     'dimensionality (2), destination dimensionality (1)'),
]


@pytest.mark.parametrize("code, error, message", ERRORS)
def test_error_matches_pytorch(code, error, message):
    with pytest.raises(error) as info:
        eval(code)
    assert str(info.value) == message


# (code, expected value: a float, a list of values, or a plain Python value)
VALUES = [
    # an index of no element may have any dtype: gather and the scatters do nothing with it
    ("L.ones(3).scatter(0, L.tensor([]), L.ones(3)).tolist()", [1.0, 1.0, 1.0]),
    ("L.ones(3).scatter_(0, L.tensor([[]]), 2.0).tolist()", [1.0, 1.0, 1.0]),
    ("L.ones(3).scatter_add(0, L.tensor([]), L.ones(3)).tolist()", [1.0, 1.0, 1.0]),
    ("L.ones(3).scatter_reduce(0, L.tensor([]), L.ones(3), 'amax').tolist()", [1.0, 1.0, 1.0]),
    ("L.ones(3, requires_grad=True).gather(0, L.tensor([])).grad_fn.name()", "GatherBackward0"),
    # adaptive pools to an output of no element
    ("tuple(F.adaptive_avg_pool1d(L.ones(1, 1), 0).shape)", (1, 0)),
    ("tuple(F.adaptive_max_pool2d(L.ones(1, 2, 2), (0, 1), return_indices=True)[1].shape)", (1, 0, 1)),
    ("tuple(F.adaptive_avg_pool3d(L.ones(1, 2, 2, 2), (1, 0, 2)).shape)", (1, 1, 0, 2)),
    ("tuple(F.conv_transpose2d(L.ones(0, 3, 1, 0), L.ones(3, 1, 1, 1)).shape)", (0, 1, 1, 0)),
    # adaptive pools: the first dim may be empty, batched or not
    ("tuple(F.adaptive_max_pool1d(L.ones(0, 2), 2).shape)", (0, 2)),
    ("tuple(F.adaptive_avg_pool2d(L.ones(0, 2, 2), (2, 1)).shape)", (0, 2, 1)),
    ("tuple(F.adaptive_avg_pool2d(L.ones(1, 0, 1, 2), 3).shape)", (1, 0, 3, 3)),
    # cross_entropy/nll_loss over no class (every target ignored): PyTorch's nan and zeros
    ("F.cross_entropy(L.ones(2, 0), L.tensor([1, 1]), ignore_index=1, label_smoothing=0.5, reduction='sum').isnan()"
     ".item()", True),
    ("F.nll_loss(L.ones(2, 0), L.tensor([1, 1]), ignore_index=1, reduction='none').tolist()", [0.0, 0.0]),
    # unfold's result is writable (a view of windows may come out as it is)
    ("F.unfold(L.ones(1, 1, 1, 1, requires_grad=True), 1).mul_(2).tolist()", [[[2.0]]]),
    # scatter_reduce: "max" and "min" are "amax" and "amin"
    ("L.tensor([1.0, 2.0, 3.0]).scatter_reduce(0, L.tensor([0, 0]), L.tensor([5.0, -4.0, 0.0]), 'min').tolist()",
     [-4.0, 2.0, 3.0]),
    ("L.tensor([1.0, 2.0]).scatter_reduce(0, L.tensor([1]), L.tensor([5.0]), 'max', include_self=False).tolist()",
     [1.0, 5.0]),
    # the own kernels of PyTorch (not its oneDNN one) take a bias of another dtype: the result in the input's
    ("F.conv_transpose1d(L.ones(1, 2, 4, dtype=L.float64), L.ones(2, 2, 3, dtype=L.float64), L.ones(2)).dtype",
     L.float64),
    ("F.conv1d(L.ones(1, 2, 4), L.ones(2, 2, 3), L.ones(2, dtype=L.float64), padding='same')[0, 0].tolist()",
     [5.0, 7.0, 7.0, 5.0]),
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
