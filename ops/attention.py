"""``nn.functional.scaled_dot_product_attention``: PyTorch's math path
(``_scaled_dot_product_attention_math`` in ``aten/src/ATen/native/transformers/attention.cpp``),
the same composition: the scale split as its square root between the query and the transposed key,
``matmul``, the mask added in place (a boolean mask first made ``0``/``-inf``; ``is_causal`` a
lower-triangular one), ``_safe_softmax`` (a row masked everywhere gives zeros, not nans), dropout
from the default generator, ``matmul`` with the value (``UnsafeViewBackward0`` on top, as
PyTorch's).  PyTorch's CPU dispatcher sends 4-D inputs without dropout, whose query, key and
value share their last size, to its fused flash kernel instead (node
``ScaledDotProductFlashAttentionForCpuBackward0``); the values are the same to rounding.
"""
from __future__ import annotations

import math
from typing import Optional

from .._emit import D, Tensor
from .bilinear import _type_meta as _meta
from .composite import dropout as _dropout


def _check(query, key, value, attn_mask, dropout_p) -> None:
    for k, (name, t) in enumerate((("query", query), ("key", key), ("value", value), ("attn_mask", attn_mask))):
        if not isinstance(t, Tensor) and (t is not None or k < 3):
            raise TypeError(f"scaled_dot_product_attention(): argument '{name}' (position {k + 1}) must be Tensor, "
                            f"not {type(t).__name__}")
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{_meta(query)} key.dtype: {_meta(key)} and value.dtype: {_meta(value)} instead.")
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError(f"Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: "
                           f"{query.dim()} key.dim: {key.dim()} and value.dim: {value.dim()} instead.")
    if attn_mask is not None and attn_mask.dtype not in (D.bool_, D.float32, query.dtype):
        raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                           f"attn_mask.dtype: {_meta(attn_mask)} and  query.dtype: {_meta(query)} instead.")


def _boolean_mask(mask: Tensor, dtype: D.dtype) -> Tensor:
    """PyTorch's ``convert_boolean_attn_mask``: ``True`` takes part (0), ``False`` does not (-inf)."""
    if mask.dtype is not D.bool_:
        return mask
    return mask.new_zeros(mask.shape, dtype=dtype).masked_fill_(mask.logical_not(), -math.inf)


def _safe_softmax(attn: Tensor) -> Tensor:
    """Softmax over the last dim; a row that is ``-inf`` everywhere gives zeros (PyTorch's ``_safe_softmax``)."""
    masked_rows = (attn == -math.inf).all(-1, keepdim=True)
    if not bool(masked_rows.any()):
        return attn.softmax(-1)
    # (the masked rows zeroed before the softmax as well, so that no nan reaches the gradient)
    return attn.masked_fill(masked_rows, 0.0).softmax(-1).masked_fill(masked_rows, 0.0)


def _group_query(query: Tensor, key: Tensor, value: Tensor, enable_gqa: bool) -> tuple:
    """PyTorch's ``pre_process_group_query_attention_input``: key and value heads repeated to the query's."""
    if not enable_gqa:
        return key, value
    q_heads, k_heads, v_heads = query.size(-3), key.size(-3), value.size(-3)
    all_equal = q_heads == k_heads == v_heads
    if not (all_equal or (q_heads % k_heads == 0 and q_heads % v_heads == 0)):
        raise RuntimeError("Number of heads in key and value must divide the number of heads in ")
    if all_equal:
        return key, value
    return key.repeat_interleave(q_heads // k_heads, -3), value.repeat_interleave(q_heads // v_heads, -3)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Optional[Tensor] = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: Optional[float] = None,
                                 enable_gqa: bool = False) -> Tensor:
    """Computes ``softmax(query @ key^T * scale + mask) @ value`` (``scale`` ``1 / sqrt(E)`` by default),
    with dropout of probability ``dropout_p`` on the attention weights; ``attn_mask`` boolean (``True``:
    takes part) or added to the scores; ``is_causal``: a lower-triangular mask; ``enable_gqa``: key and
    value heads (dim -3) shared by groups of query heads."""
    _check(query, key, value, attn_mask, dropout_p)
    mask = _boolean_mask(attn_mask, query.dtype) if attn_mask is not None else None
    negative = scale is not None and scale < 0.0
    softmax_scale = abs(scale) if negative else scale if scale is not None else 1.0 / math.sqrt(query.size(-1))
    factor = math.sqrt(softmax_scale)
    q = query * (0.0 - factor if negative else factor)
    if is_causal:
        if mask is not None:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when "
                               "is_causal=True")
        ones = query.new_ones((q.size(-2), key.size(-2)), dtype=D.bool_)
        mask = _boolean_mask(ones.tril(), q.dtype)
    key, value = _group_query(q, key, value, enable_gqa)
    attn = q.matmul(key.transpose(-2, -1) * factor)
    if mask is not None:
        attn.add_(mask)
    attn = _safe_softmax(attn)
    if dropout_p > 0.0:
        attn = _dropout(attn, dropout_p, True)
    return attn.matmul(value)
