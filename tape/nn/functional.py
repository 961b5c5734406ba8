"""``tape.nn.functional``: the functions of PyTorch's ``torch.nn.functional``.

Each calls the op of ``ops/`` that PyTorch's function calls (``relu`` is ``Tensor.relu``,
``relu(x, inplace=True)`` is ``Tensor.relu_``), so values, nodes and errors are the op's; the
arguments and messages of the function itself are PyTorch's.  Sections: activations, layers
(linear, dropout), distances, losses (the losses are written in ``ops/losses.py``), convolutions
(``ops/conv.py``).
"""
from __future__ import annotations

import warnings
from typing import Optional

from .. import _dtype as D
from .._creation import arange
from .._dtype import dtype as DType
from .._grad_mode import no_grad
from .._out import call_with_out
from .._tensor import Size, Tensor
from ..ops.activations import (elu, elu_, gelu, glu, hardsigmoid, hardswish, hardtanh, hardtanh_, leaky_relu,
                               leaky_relu_, logsigmoid, mish, relu6, silu, softplus, softshrink, softsign,
                               tanhshrink)
from ..ops.activations import celu_ as _celu_
from ..ops.attention import _canonical_mask, multi_head_attention_forward, scaled_dot_product_attention
from ..ops.bilinear import bilinear
from ..ops.activations import selu_ as _selu_
from ..ops.composite import dropout as _dropout
from ..ops.composite import dropout_ as _dropout_
from ..ops.composite import linear
from ..ops.conv import conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d, fold, unfold
from ..ops.distance import pdist
from ..ops.elementwise import celu as _celu
from ..ops.elementwise import selu as _selu
from ..ops.ctc import ctc_loss
from ..ops.functions import cosine_similarity, pairwise_distance
from ..ops.losses import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, gaussian_nll_loss,
                          huber_loss, kl_div, l1_loss, margin_ranking_loss, mse_loss, nll_loss, poisson_nll_loss,
                          smooth_l1_loss, soft_margin_loss)
from ..ops.margin_losses import (cosine_embedding_loss, hinge_embedding_loss, multi_margin_loss,
                                 multilabel_margin_loss, multilabel_soft_margin_loss, triplet_margin_loss,
                                 triplet_margin_with_distance_loss)
from ..ops.nodes import threshold as _threshold
from ..ops.noise import (alpha_dropout, dropout1d, dropout2d, dropout3d, feature_alpha_dropout, gumbel_softmax, rrelu,
                         rrelu_)
from ..ops.nodes import threshold_ as _threshold_
from ..ops.padding import pad
from ..ops.pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d,
                           adaptive_max_pool2d_with_indices, adaptive_max_pool3d_with_indices, avg_pool1d, avg_pool2d,
                           fractional_max_pool2d_with_indices, fractional_max_pool3d_with_indices,
                           avg_pool3d, lp_pool1d, lp_pool2d, lp_pool3d, max_pool1d_with_indices,
                           max_pool2d_with_indices, max_pool3d_with_indices, max_unpool1d, max_unpool2d, max_unpool3d)
from ..ops.pooling import adaptive_max_pool1d as _adaptive_max_pool1d
from ..ops.pooling import max_pool1d as _max_pool1d
from ..ops.pooling import max_pool2d as _max_pool2d
from ..ops.pooling import max_pool3d as _max_pool3d
from ..ops.shuffle import channel_shuffle, pixel_shuffle, pixel_unshuffle
from ..ops.grid_sample import affine_grid, grid_sample
from ..ops.upsampling import interpolate, upsample, upsample_bilinear, upsample_nearest
from ..ops.normalization import layer_norm as _layer_norm
from ..ops.embedding import embedding as _embedding
from ..ops.embedding import embedding_bag as _embedding_bag
from ..ops.embedding import embedding_renorm_ as _embedding_renorm_
from ..ops.embedding import one_hot
from ..ops.normalization import batch_norm as _batch_norm
from ..ops.normalization import group_norm as _group_norm
from ..ops.normalization import instance_norm as _instance_norm
from ..ops.normalization import local_response_norm, rms_norm


def _tensor(input, name: str) -> Tensor:
    """``input``, checked as PyTorch's ``torch.<name>`` checks its first argument."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return input


def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    """The dim PyTorch's deprecated implicit choice takes, with its warning."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. "
                  "Change the call to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


# --- activations ------------------------------------------------------------------------
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """Applies the rectified linear unit function element-wise: ``max(0, x)``."""
    _tensor(input, "relu_" if inplace else "relu")
    return input.relu_() if inplace else input.relu()


def relu_(input: Tensor) -> Tensor:
    """In-place version of :func:`relu`."""
    return _tensor(input, "relu_").relu_()


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """Replaces each element of ``input`` not greater than ``threshold`` by ``value``."""
    _tensor(input, "threshold_" if inplace else "threshold")
    return _threshold_(input, threshold, value) if inplace else _threshold(input, threshold, value)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """In-place version of :func:`threshold`."""
    return _threshold_(_tensor(input, "threshold_"), threshold, value)


def softmax(input: Tensor, dim: Optional[int] = None, _stacklevel: int = 3,
            dtype: Optional[DType] = None) -> Tensor:
    """Applies a softmax function over ``dim`` (computed in ``dtype`` if given)."""
    if dim is None:
        dim = _softmax_dim("softmax", input.dim(), _stacklevel)
    return input.softmax(dim) if dtype is None else input.softmax(dim, dtype=dtype)


def log_softmax(input: Tensor, dim: Optional[int] = None, _stacklevel: int = 3,
                dtype: Optional[DType] = None) -> Tensor:
    """Applies a softmax followed by a logarithm over ``dim`` (computed in ``dtype`` if given)."""
    if dim is None:
        dim = _softmax_dim("log_softmax", input.dim(), _stacklevel)
    return input.log_softmax(dim) if dtype is None else input.log_softmax(dim, dtype=dtype)


def sigmoid(input: Tensor) -> Tensor:
    """Applies the element-wise function ``1 / (1 + exp(-x))``."""
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    """Applies the element-wise hyperbolic tangent."""
    return input.tanh()


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """Applies the hard shrinkage function element-wise: ``x`` where ``|x| > lambd``, else 0."""
    return _tensor(input, "hardshrink").hardshrink(lambd)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """Applies ``max(0, x) + weight * min(0, x)`` element-wise (``weight`` along the channel dim)."""
    return _tensor(input, "prelu").prelu(weight)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """Applies ``scale * (max(0, x) + min(0, alpha * (exp(x) - 1)))`` element-wise, with
    ``alpha = 1.6732632423543772`` and ``scale = 1.0507009873554805``."""
    _tensor(input, "selu_" if inplace else "selu")
    return _selu_(input) if inplace else _selu(input)


def selu_(input: Tensor) -> Tensor:
    """In-place version of :func:`selu`."""
    return _selu_(_tensor(input, "selu_"))


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """Applies ``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))`` element-wise."""
    _tensor(input, "celu_" if inplace else "celu")
    return _celu_(input, alpha) if inplace else _celu(input, alpha)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place version of :func:`celu`."""
    return _celu_(_tensor(input, "celu_"), alpha)


def softmin(input: Tensor, dim: Optional[int] = None, _stacklevel: int = 3,
            dtype: Optional[DType] = None) -> Tensor:
    """Applies a softmin function, ``softmax(-x)``, over ``dim`` (computed in ``dtype`` if given)."""
    if dim is None:
        dim = _softmax_dim("softmin", input.dim(), _stacklevel)
    return (-input).softmax(dim) if dtype is None else (-input).softmax(dim, dtype=dtype)


_ACTIVATIONS = ["relu", "relu_", "threshold", "threshold_", "softmax", "log_softmax", "sigmoid", "tanh",
                "hardshrink", "prelu", "gelu", "silu", "softplus", "elu", "elu_", "leaky_relu", "leaky_relu_",
                "selu", "selu_", "celu", "celu_", "hardtanh", "hardtanh_", "relu6", "logsigmoid", "softsign",
                "tanhshrink", "softshrink", "hardsigmoid", "hardswish", "mish", "softmin", "glu"]


# --- layers -----------------------------------------------------------------------------
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zeroes each element of ``input`` with probability ``p`` (from the default generator) and
    scales the others by ``1 / (1 - p)`` when ``training``."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return _dropout_(input, p, training) if inplace else _dropout(input, p, training)


_LAYERS = ["linear", "dropout", "bilinear"]

# --- normalization ----------------------------------------------------------------------
def layer_norm(input: Tensor, normalized_shape: list[int], weight: Optional[Tensor] = None,
               bias: Optional[Tensor] = None, eps: float = 1e-05) -> Tensor:
    """Applies Layer Normalization over the last ``len(normalized_shape)`` dims: ``(x - E[x]) /
    sqrt(Var[x] + eps) * weight + bias``, with the biased variance."""
    return _layer_norm(input, normalized_shape, weight, bias, eps)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Optional[Tensor] = None) -> Tensor:
    """Performs ``L_p`` normalization of ``input`` over ``dim``: ``x / max(||x||_p, eps)``."""
    if out is None:
        return input / input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    denom = input.norm(p, dim, keepdim=True).clamp_min_(eps).expand_as(input)
    return call_with_out("div", Tensor.div, (input, denom), {"out": out})


def _verify_batch_size(size: Size) -> None:
    size_prods = size[0]
    for i in range(len(size) - 2):
        size_prods *= size[i + 2]
    if size_prods == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {size}")


def batch_norm(input: Tensor, running_mean: Optional[Tensor], running_var: Optional[Tensor],
               weight: Optional[Tensor] = None, bias: Optional[Tensor] = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-05) -> Tensor:
    """Applies Batch Normalization for each channel across a batch of data (in ``training``: the
    batch's statistics, ``running_mean``/``running_var`` updated in place with ``momentum``; else those)."""
    if training:
        _verify_batch_size(input.size())
    return _batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps)


def instance_norm(input: Tensor, running_mean: Optional[Tensor] = None, running_var: Optional[Tensor] = None,
                  weight: Optional[Tensor] = None, bias: Optional[Tensor] = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-05) -> Tensor:
    """Applies Instance Normalization independently for each channel in every data sample within a batch."""
    if use_input_stats:
        size = input.size()
        size_prods = 1
        for i in range(len(size) - 2):
            size_prods *= size[i + 2]
        if size_prods == 1:
            raise ValueError(f"Expected more than 1 spatial element when training, got input size {size}")
    return _instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps)


def group_norm(input: Tensor, num_groups: int, weight: Optional[Tensor] = None, bias: Optional[Tensor] = None,
               eps: float = 1e-05) -> Tensor:
    """Applies Group Normalization for the last certain number of dimensions."""
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.dim()}")
    _verify_batch_size([input.size(0) * input.size(1) // num_groups, num_groups] + list(input.size()[2:]))
    return _group_norm(input, num_groups, weight, bias, eps)


_NORMALIZATION = ["layer_norm", "rms_norm", "normalize", "local_response_norm", "batch_norm", "instance_norm",
                  "group_norm"]

# --- distances --------------------------------------------------------------------------
_DISTANCES = ["cosine_similarity", "pairwise_distance", "pdist"]

# --- losses -----------------------------------------------------------------------------
_LOSSES = ["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss", "soft_margin_loss", "nll_loss", "cross_entropy",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "margin_ranking_loss",
           "poisson_nll_loss", "gaussian_nll_loss"]
_LOSSES3 = ["hinge_embedding_loss", "cosine_embedding_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
            "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss", "ctc_loss"]

# --- attention --------------------------------------------------------------------------
_ATTENTION = ["scaled_dot_product_attention", "multi_head_attention_forward"]

# --- convolutions (ops/conv.py) ---------------------------------------------------------
_CONV = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "unfold", "fold"]

# --- padding, pooling, shuffles, interpolation (``ops/padding.py``, ``ops/pooling.py``) ----------------
def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Applies a 1-d max pool over the last dim of ``input`` (with the indices of the maxima when
    ``return_indices``)."""
    if return_indices:
        return max_pool1d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    return _max_pool1d(input, kernel_size, () if stride is None else stride, padding, dilation, ceil_mode)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Applies a 2-d max pool over the last 2 dims of ``input`` (with the indices of the maxima when
    ``return_indices``)."""
    if return_indices:
        return max_pool2d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    return _max_pool2d(input, kernel_size, () if stride is None else stride, padding, dilation, ceil_mode)


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Applies a 3-d max pool over the last 3 dims of ``input`` (with the indices of the maxima when
    ``return_indices``)."""
    if return_indices:
        return max_pool3d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    return _max_pool3d(input, kernel_size, () if stride is None else stride, padding, dilation, ceil_mode)


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Applies a 1-d adaptive max pool over the last dim of ``input`` (with the indices when ``return_indices``)."""
    out = _adaptive_max_pool1d(input, output_size)
    return out if return_indices else out[0]


def adaptive_max_pool1d_with_indices(input: Tensor, output_size, return_indices: bool = False):
    """The 1-d adaptive max pool and the indices of the maxima."""
    return _adaptive_max_pool1d(input, output_size)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Applies a 2-d adaptive max pool over the last 2 dims of ``input`` (with the indices when ``return_indices``)."""
    out = adaptive_max_pool2d_with_indices(input, output_size)
    return out if return_indices else out[0]


def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):
    """Applies a 3-d adaptive max pool over the last 3 dims of ``input`` (with the indices when ``return_indices``)."""
    out = adaptive_max_pool3d_with_indices(input, output_size)
    return out if return_indices else out[0]


def fractional_max_pool2d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples: Optional[Tensor] = None):
    """Applies a 2-d fractional max pool: windows of ``kernel_size`` at pseudo-random steps (from
    ``_random_samples``, else drawn from the default generator) giving ``output_size`` (or the input's
    size times ``output_ratio``); with the indices of the maxima when ``return_indices``."""
    out = fractional_max_pool2d_with_indices(input, kernel_size, output_size, output_ratio, return_indices,
                                             _random_samples)
    return out if return_indices else out[0]


def fractional_max_pool3d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples: Optional[Tensor] = None):
    """Applies a 3-d fractional max pool (see :func:`fractional_max_pool2d`)."""
    out = fractional_max_pool3d_with_indices(input, kernel_size, output_size, output_ratio, return_indices,
                                             _random_samples)
    return out if return_indices else out[0]


_POOLING = ["pad", "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
            "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
            "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
            "adaptive_max_pool3d", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
            "adaptive_max_pool3d_with_indices", "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_unpool1d", "max_unpool2d",
            "max_unpool3d", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "interpolate", "upsample",
            "upsample_nearest", "upsample_bilinear", "fractional_max_pool2d", "fractional_max_pool3d",
            "fractional_max_pool2d_with_indices", "fractional_max_pool3d_with_indices", "affine_grid", "grid_sample"]

# --- layers that draw from the default generator (ops/noise.py) ---------------------------------
_NOISE = ["rrelu", "rrelu_", "alpha_dropout", "feature_alpha_dropout", "dropout1d", "dropout2d", "dropout3d",
          "gumbel_softmax"]

# --- sparse -----------------------------------------------------------------------------
def embedding(input: Tensor, weight: Tensor, padding_idx: Optional[int] = None, max_norm: Optional[float] = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """The rows of ``weight`` at the indices ``input``: ``padding_idx``'s row gets no gradient; with
    ``max_norm``, each row taken whose ``norm_type``-norm exceeds it is first renormalized in place
    to norm ``max_norm``; with ``scale_grad_by_freq``, gradients are divided by each index's count
    in the mini-batch.  ``sparse=True`` (a sparse gradient) is not supported: tape has no sparse tensors."""
    if padding_idx is not None:
        if padding_idx > 0:
            assert padding_idx < weight.size(0), "Padding_idx must be within num_embeddings"
        elif padding_idx < 0:
            assert padding_idx >= -weight.size(0), "Padding_idx must be within num_embeddings"
            padding_idx = weight.size(0) + padding_idx
    else:
        padding_idx = -1
    if max_norm is not None:
        input = input.contiguous()
        with no_grad():
            _embedding_renorm_(weight, input, max_norm, norm_type)
    return _embedding(weight, input, padding_idx, scale_grad_by_freq, sparse)


def embedding_bag(input: Tensor, weight: Tensor, offsets: Optional[Tensor] = None, max_norm: Optional[float] = None,
                  norm_type: float = 2, scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Optional[Tensor] = None, include_last_offset: bool = False,
                  padding_idx: Optional[int] = None) -> Tensor:
    """The sums, means or maxima of bags of embeddings, without the intermediate embeddings: a 2-D
    ``input`` is one bag per row; a 1-D one is cut into bags at ``offsets``; ``per_sample_weights``
    scales each taken row (mode 'sum' only); ``padding_idx``'s row is left out of the bags.
    ``sparse=True`` (a sparse gradient) and ``scale_grad_by_freq=True`` are not supported."""
    if weight.dtype == D.int64 and input.is_floating_point():
        warnings.warn("Argument order of nn.functional.embedding_bag was changed. Usage `embedding_bag(weight, input, "
                      "...)` is deprecated, and should now be `embedding_bag(input, weight, ...)`.", stacklevel=2)
        weight, input = input, weight
    if per_sample_weights is not None and input.size() != per_sample_weights.size():
        raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is not None, then it must "
                         f"have the same shape as the input ({input.shape})")
    if not weight.dim() == 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.dim()}")
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of fixed "
                             f"length sequences. However, found offsets of type {type(offsets)}")
        offsets = arange(0, input.numel(), input.size(1), dtype=input.dtype)
        include_last_offset = False
        input = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.dim()}")
    if mode == "sum":
        mode_enum = 0
    elif mode == "mean":
        mode_enum = 1
    elif mode == "max":
        mode_enum = 2
        if scale_grad_by_freq:
            raise ValueError("max mode does not support scaling the gradient by the frequency")
        if sparse:
            raise ValueError("max mode does not support sparse weights")
    else:
        raise ValueError("mode has to be one of sum, mean or max")
    if sparse:
        raise RuntimeError("embedding_bag(): sparse=True needs sparse gradients, which tape does not have; "
                           "use sparse=False")
    if scale_grad_by_freq:
        # (PyTorch's CPU kernel scales the rows' gradients by counts that are not their indices')
        raise RuntimeError("embedding_bag(): scale_grad_by_freq=True is not supported by tape")
    if max_norm is not None:
        with no_grad():
            _embedding_renorm_(weight, input, max_norm, norm_type)
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError("embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
                                  "GitHub.")
    return _embedding_bag(input, weight, offsets, mode_enum, per_sample_weights, include_last_offset, padding_idx)


_SPARSE = ["embedding", "embedding_bag", "one_hot"]

__all__ = (_ACTIVATIONS + _LAYERS + _DISTANCES + _LOSSES + _LOSSES3 + _ATTENTION + _CONV + _POOLING + _NOISE + _NORMALIZATION
           + _SPARSE)
