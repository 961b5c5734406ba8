"""``nn.functional.scaled_dot_product_attention``: PyTorch's math path
(``_scaled_dot_product_attention_math`` in ``aten/src/ATen/native/transformers/attention.cpp``),
the same composition: the scale split as its square root between the query and the transposed key,
``matmul``, the mask added in place (a boolean mask first made ``0``/``-inf``; ``is_causal`` a
lower-triangular one), ``_safe_softmax`` (a row masked everywhere gives zeros, not nans), dropout
from the default generator, ``matmul`` with the value (``UnsafeViewBackward0`` on top, as
PyTorch's).  Where PyTorch's CPU dispatcher sends the call to its fused flash kernel instead (4-D inputs
without dropout, one head size, one batch size, ...: ``_flash_applies``), the attention is one
Python-rule row (``FLASH``) with its node ``ScaledDotProductFlashAttentionForCpuBackward0``, its
value computed by numpy and its rule the attention's derivative written in tape ops (PyTorch's node
has a first derivative only; tape's rule differentiates again).
``multi_head_attention_forward`` is PyTorch's Python function, ported as it is.
"""
from __future__ import annotations

import math
import warnings
from typing import Optional

import numpy as np

from .._emit import D, Tensor, node_in, plain, recorded, state, write_tape
from .bilinear import _type_meta as _meta
from .composite import dropout as _dropout
from .composite import linear
from .join import cat
from ._spec import LISTED, PYTHON, SAVED_RESULT, SAVED_SELF, TRANSPOSED, X0, X1, X2, Given, Op, register, tangents


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


# --- PyTorch's fused CPU kernel (``_scaled_dot_product_flash_attention_for_cpu``) ------------------------
FLASH = PYTHON.start + 161


def _flash_applies(query: Tensor, key: Tensor, value: Tensor, mask: Optional[Tensor], dropout_p: float,
                   enable_gqa: bool) -> bool:
    """Whether PyTorch's CPU dispatch (``use_flash_attention_cpp``) takes its flash kernel."""
    if query.dim() != 4 or key.dim() != 4 or value.dim() != 4 or dropout_p > 0.0:
        return False
    if query.dtype not in (D.float32, D.float64):
        return False
    batch, heads, length, size = query.shape
    if not (key.size(0) == value.size(0) == batch and key.size(-1) == value.size(-1) == size):
        return False
    if not (key.size(1) == value.size(1) == heads or (enable_gqa and key.size(1) == value.size(1)
                                                       and heads % key.size(1) == 0)):
        return False
    if length == 0 or key.size(2) == 0 or any(t.stride(-1) != 1 for t in (query, key, value)):
        return False
    if mask is None:
        return True
    if mask.requires_grad or mask.size(-2) not in (length, 1) or mask.size(-1) not in (key.size(2), 1):
        return False
    return mask.dim() == 2 or (mask.dim() == 4 and mask.size(0) in (1, batch) and mask.size(1) in (1, heads))


def _causal_bias(length: int, source: int, dtype: np.dtype) -> np.ndarray:
    """0 on and below the diagonal, -inf above: what ``is_causal`` adds to the scores."""
    return np.where(np.tril(np.ones((length, source), bool)), 0.0, -np.inf).astype(dtype)


def _repeat_heads(query, key, value):
    """Key and value heads repeated to the query's (grouped-query attention)."""
    heads = query.shape[1]
    if key.shape[1] == heads:
        return key, value
    return key.repeat_interleave(heads // key.shape[1], 1), value.repeat_interleave(heads // value.shape[1], 1)


def _flash_value(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask, scale: float, causal: bool) -> tuple:
    """The attention and the log-sum-exp of each row's scores (0 for a row masked everywhere), as the
    kernel gives them."""
    rep = q.shape[1] // k.shape[1]
    k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
    s = (q @ k.swapaxes(-1, -2)) * scale
    if causal:
        s = s + _causal_bias(q.shape[-2], k.shape[-2], s.dtype)
    if mask is not None:
        s = s + mask
    top = s.max(-1, keepdims=True)
    masked = np.isneginf(top)       # (a row masked everywhere: zeros, as PyTorch's kernel gives)
    with np.errstate(invalid="ignore"):
        e = np.exp(s - np.where(masked, 0.0, top))
    total = np.where(masked, 1.0, e.sum(-1, keepdims=True))
    lse = np.where(masked, 0.0, top + np.log(total))[..., 0].astype(q.dtype)
    return np.ascontiguousarray((e / total) @ v, dtype=q.dtype), lse


def _flash_vjp(g, xs, y, r):
    q, k, v = xs[:3]
    mask = xs[3] if len(xs) > 3 else None
    kk, vv = _repeat_heads(q, k, v)
    s = q.matmul(kk.transpose(-2, -1)) * r.fa
    if r.ia:
        s = s + plain(_causal_bias(q.shape[-2], kk.shape[-2], q._dtype.np), q._dtype)
    if mask is not None:
        s = s + mask
    p = _safe_softmax(s)
    dp = g.matmul(vv.transpose(-2, -1))
    ds = p * (dp - (dp * p).sum(-1, keepdim=True))
    dq = ds.matmul(kk) * r.fa
    dk = ds.transpose(-2, -1).matmul(q) * r.fa
    dv = p.transpose(-2, -1).matmul(g)
    if k.shape[1] != q.shape[1]:
        # (each key and value head served a group of query heads: their gradients summed)
        shape = (k.shape[0], k.shape[1], q.shape[1] // k.shape[1]) + tuple(k.shape[2:])
        dk, dv = dk.reshape(shape).sum(2), dv.reshape(shape[:3] + tuple(v.shape[2:])).sum(2)
    return (dq, dk, dv) + ((None,) if mask is not None else ())


register(Op(FLASH, "_scaled_dot_product_flash_attention_for_cpu", "ScaledDotProductFlashAttentionForCpuBackward0",
            X0 | X1 | X2, _flash_vjp, arity=LISTED, nondiff=(3,)))
tangents({FLASH: TRANSPOSED})       # (its rule is linear in the adjoint)


def _flash(query: Tensor, key: Tensor, value: Tensor, attn_mask: Optional[Tensor], is_causal: bool,
           scale: Optional[float]) -> Tensor:
    """The attention as PyTorch's flash kernel computes it: both masks applied (it takes ``is_causal``
    with an ``attn_mask``), a row masked everywhere zeros."""
    dt = query._dtype
    factor = scale if scale is not None else 1.0 / math.sqrt(query.size(-1))
    mask = None if attn_mask is None else _boolean_mask(attn_mask, dt).detach()
    y, lse = _flash_value(query._value(), key._value(), value._value(), None if mask is None else mask._value(),
                          factor, is_causal)
    if not (state.grad and (query._rg or key._rg or value._rg)):
        return plain(y, dt)
    tape = write_tape()
    nodes = [node_in(tape, t, dt, t._shape) for t in (query, key, value)]
    if mask is not None:
        nodes.append(node_in(tape, mask, dt, mask._shape))
    out = recorded(tape, tape.append_listed(FLASH, dt.arena, y, nodes, ia=int(is_causal), fa=factor), y, dt)
    tape.args[out._node] = (("query", SAVED_SELF), ("key", Given(X1)), ("value", Given(X2)), ("dropout_p", 0.0),
                            ("is_causal", bool(is_causal)), ("attn_mask", mask), ("scale", scale),
                            ("output", SAVED_RESULT), ("logsumexp", plain(lse, dt)))
    return out


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Optional[Tensor] = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: Optional[float] = None,
                                 enable_gqa: bool = False) -> Tensor:
    """Computes ``softmax(query @ key^T * scale + mask) @ value`` (``scale`` ``1 / sqrt(E)`` by default),
    with dropout of probability ``dropout_p`` on the attention weights; ``attn_mask`` boolean (``True``:
    takes part) or added to the scores; ``is_causal``: a lower-triangular mask; ``enable_gqa``: key and
    value heads (dim -3) shared by groups of query heads."""
    _check(query, key, value, attn_mask, dropout_p)
    if _flash_applies(query, key, value, attn_mask, dropout_p, enable_gqa):
        return _flash(query, key, value, attn_mask, is_causal, scale)
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


# --- multi-head attention: PyTorch's ``nn.functional.multi_head_attention_forward``, line for line ---------
def _in_projection_packed(q: Tensor, k: Tensor, v: Tensor, w: Tensor, b: Optional[Tensor] = None) -> tuple:
    """The query, key and value projected by the packed ``w`` (one product when they are one tensor)."""
    E = q.size(-1)
    if k is v:
        if q is k:
            proj = linear(q, w, b).unflatten(-1, (3, E)).unsqueeze(0).transpose(0, -2).squeeze(-2).contiguous()
            return proj[0], proj[1], proj[2]
        w_q, w_kv = w.split([E, E * 2])
        b_q, b_kv = (None, None) if b is None else b.split([E, E * 2])
        kv_proj = linear(k, w_kv, b_kv).unflatten(-1, (2, E)).unsqueeze(0).transpose(0, -2).squeeze(-2).contiguous()
        return linear(q, w_q, b_q), kv_proj[0], kv_proj[1]
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _in_projection(q: Tensor, k: Tensor, v: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor,
                   b_q: Optional[Tensor] = None, b_k: Optional[Tensor] = None, b_v: Optional[Tensor] = None) -> tuple:
    Eq, Ek, Ev = q.size(-1), k.size(-1), v.size(-1)
    for name, w, shape in (("query weights", w_q, (Eq, Eq)), ("key weights", w_k, (Eq, Ek)),
                           ("value weights", w_v, (Eq, Ev)), ("query bias", b_q, (Eq,)), ("key bias", b_k, (Eq,)),
                           ("value bias", b_v, (Eq,))):
        if w is not None and w.shape != shape:
            raise AssertionError(f"expecting {name} shape of {shape}, but got {w.shape}")
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _mha_shape_check(query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Optional[Tensor],
                     attn_mask: Optional[Tensor], num_heads: int) -> bool:
    if query.dim() == 3:
        if key.dim() != 3 or value.dim() != 3:
            raise AssertionError("For batched (3-D) `query`, expected `key` and `value` to be 3-D but found "
                                 f"{key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 2:
            raise AssertionError("For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D but "
                                 f"found {key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError("For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D but "
                                 f"found {attn_mask.dim()}-D tensor instead")
        return True
    if query.dim() == 2:
        if key.dim() != 2 or value.dim() != 2:
            raise AssertionError("For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found "
                                 f"{key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 1:
            raise AssertionError("For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D but "
                                 f"found {key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None:
            if attn_mask.dim() not in (2, 3):
                raise AssertionError("For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D "
                                     f"but found {attn_mask.dim()}-D tensor instead")
            if attn_mask.dim() == 3:
                expected_shape = (num_heads, query.shape[0], key.shape[0])
                if attn_mask.shape != expected_shape:
                    raise AssertionError(f"Expected `attn_mask` shape to be {expected_shape} but got "
                                         f"{attn_mask.shape}")
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D query "
                         "tensor")


def _canonical_mask(mask: Optional[Tensor], mask_name: str, other_type, other_name: str, target_type: D.dtype,
                    check_other: bool = True) -> Optional[Tensor]:
    """A boolean mask as ``0``/``-inf`` of ``target_type`` (``True``: masked out), a float one as it is."""
    if mask is None:
        return None
    is_float = mask.is_floating_point()
    if mask.dtype is not D.bool_ and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use same type for both "
                      "instead.", stacklevel=3)
    if not is_float:
        mask = mask.new_zeros(mask.shape, dtype=target_type).masked_fill_(mask, -math.inf)
    return mask


def _pad_one(mask: Tensor) -> Tensor:
    """``F.pad(mask, (0, 1))``: a zero column appended."""
    return cat([mask, mask.new_zeros(tuple(mask.shape[:-1]) + (1,))], -1)


def multi_head_attention_forward(query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int,
                                 num_heads: int, in_proj_weight: Optional[Tensor], in_proj_bias: Optional[Tensor],
                                 bias_k: Optional[Tensor], bias_v: Optional[Tensor], add_zero_attn: bool,
                                 dropout_p: float, out_proj_weight: Tensor, out_proj_bias: Optional[Tensor],
                                 training: bool = True, key_padding_mask: Optional[Tensor] = None,
                                 need_weights: bool = True, attn_mask: Optional[Tensor] = None,
                                 use_separate_proj_weight: bool = False, q_proj_weight: Optional[Tensor] = None,
                                 k_proj_weight: Optional[Tensor] = None, v_proj_weight: Optional[Tensor] = None,
                                 static_k: Optional[Tensor] = None, static_v: Optional[Tensor] = None,
                                 average_attn_weights: bool = True, is_causal: bool = False) -> tuple:
    """Multi-head attention of ``query`` ``(L, N, E)`` over ``key``/``value`` ``(S, N, E_k)``/``(S, N, E_v)``
    (unbatched: without ``N``): the projected query, key and value split into ``num_heads`` heads,
    scaled dot-product attention in each, the heads joined and projected by ``out_proj_weight``.
    Returns the output ``(L, N, E)`` and, if ``need_weights``, the attention weights ``(N, L, S)``
    (averaged over the heads if ``average_attn_weights``, else ``(N, num_heads, L, S)``)."""
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                       None if attn_mask is None else attn_mask.dtype, "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        # (the mask given is taken for the causal one, which scaled_dot_product_attention makes itself)
        attn_mask = None
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, check_other=False)
        if key_padding_mask is not None:
            is_causal = False
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if key.shape[:2] != value.shape[:2]:
            raise AssertionError(f"key's sequence and batch dims {key.shape[:2]} do not match value's "
                                 f"{value.shape[:2]}")
    elif key.shape != value.shape:
        raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")
    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        q, k, v = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)
    else:
        for name, w in (("q_proj_weight", q_proj_weight), ("k_proj_weight", k_proj_weight),
                        ("v_proj_weight", v_proj_weight)):
            if w is None:
                raise AssertionError(f"use_separate_proj_weight is True but {name} is None")
        b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        q, k, v = _in_projection(query, key, value, q_proj_weight, k_proj_weight, v_proj_weight, b_q, b_k, b_v)
    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if attn_mask.shape != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                                   f"{(tgt_len, src_len)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if attn_mask.shape != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                                   f"{(bsz * num_heads, tgt_len, src_len)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")
    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        k = cat([k, bias_k.repeat(1, bsz, 1)])
        v = cat([v, bias_v.repeat(1, bsz, 1)])
        if attn_mask is not None:
            attn_mask = _pad_one(attn_mask)
        if key_padding_mask is not None:
            key_padding_mask = _pad_one(key_padding_mask)
    elif bias_k is not None:
        raise AssertionError("bias_k is set but bias_v is None")
    elif bias_v is not None:
        raise AssertionError("bias_v is set but bias_k is None")
    q = q.view(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = _heads(k, static_k, "static_k", bsz * num_heads, head_dim)
    v = _heads(v, static_v, "static_v", bsz * num_heads, head_dim)
    if add_zero_attn:
        zero_attn_shape = (bsz * num_heads, 1, head_dim)
        k = cat([k, k.new_zeros(zero_attn_shape)], dim=1)
        v = cat([v, v.new_zeros(zero_attn_shape)], dim=1)
        if attn_mask is not None:
            attn_mask = _pad_one(attn_mask)
        if key_padding_mask is not None:
            key_padding_mask = _pad_one(key_padding_mask)
    src_len = k.size(1)
    if key_padding_mask is not None:
        if key_padding_mask.shape[0] != bsz:
            raise AssertionError(f"Expected key_padded_mask.shape[0] to be {bsz}, but got "
                                 f"{key_padding_mask.shape[0]}")
        if key_padding_mask.shape[1] != src_len:
            raise AssertionError(f"Expected key_padded_mask.shape[1] to be {src_len}, but got "
                                 f"{key_padding_mask.shape[1]}")
        key_padding_mask = (key_padding_mask.view(bsz, 1, 1, src_len).expand(-1, num_heads, -1, -1)
                            .reshape(bsz * num_heads, 1, src_len))
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
    if not training:
        dropout_p = 0.0
    if need_weights:
        E = q.shape[2]
        q_scaled = q * math.sqrt(1.0 / float(E))
        if is_causal and attn_mask is None:
            raise AssertionError("FIXME: is_causal not implemented for need_weights")
        if attn_mask is not None:
            weights = attn_mask.baddbmm(q_scaled, k.transpose(-2, -1))
        else:
            weights = q_scaled.bmm(k.transpose(-2, -1))
        weights = weights.softmax(-1)
        if dropout_p > 0.0:
            weights = _dropout(weights, dropout_p, True)
        attn_output = weights.bmm(v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        attn_output = linear(attn_output, out_proj_weight, out_proj_bias)
        attn_output = attn_output.view(tgt_len, bsz, attn_output.size(1))
        weights = weights.view(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not is_batched:
            attn_output, weights = attn_output.squeeze(1), weights.squeeze(0)
        return attn_output, weights
    if attn_mask is not None:
        if attn_mask.size(0) == 1 and attn_mask.dim() == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.view(bsz, num_heads, -1, src_len)
    q = q.view(bsz, num_heads, tgt_len, head_dim)
    k = k.view(bsz, num_heads, src_len, head_dim)
    v = v.view(bsz, num_heads, src_len, head_dim)
    attn_output = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    attn_output = attn_output.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    attn_output = linear(attn_output, out_proj_weight, out_proj_bias)
    attn_output = attn_output.view(tgt_len, bsz, attn_output.size(1))
    if not is_batched:
        attn_output = attn_output.squeeze(1)
    return attn_output, None


def _heads(t: Tensor, static: Optional[Tensor], name: str, heads: int, head_dim: int) -> Tensor:
    """Key or value split into heads ``(N * num_heads, S, head_dim)``, or the ``static`` one given."""
    if static is None:
        return t.view(t.shape[0], heads, head_dim).transpose(0, 1)
    if static.size(0) != heads:
        raise AssertionError(f"expecting {name}.size(0) of {heads}, but got {static.size(0)}")
    if static.size(2) != head_dim:
        raise AssertionError(f"expecting {name}.size(2) of {head_dim}, but got {static.size(2)}")
    return static
