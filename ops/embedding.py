"""Embeddings of ``torch.nn.functional``: ``embedding`` (with ``embedding_renorm_``, its ``max_norm``
step), ``embedding_bag`` and ``one_hot``.

An embedding is one row (PyTorch's ``EmbeddingBackward0``) over the weight, holding the flat
positions of the rows it takes (one per output element, in the tape's index table at ``ia``, as
a gather does): its rule scatters the adjoint back, less the ``padding_idx`` row (``fb``; -1:
none) and divided by each index's count with ``scale_grad_by_freq`` (``ib``), a row of its own when
recorded (``EmbeddingDenseBackwardBackward0``, holding the same positions and attributes).
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .._emit import D, Tensor, node_in, plain, recorded, state, write_tape
from ._spec import LISTED, TRANSPOSED, X1, Op, public_function, register, tangents
from .shape import BY_INDEX, _gather_jvp

EMBEDDING, EMBEDDING_GRAD = 1043, 1044
SCALE_BY_FREQ = 1


def _embedding_vjp(g, xs, y, r):
    return (_embedding_backward(g, r.out_index_list.reshape(g._shape), r.in_shapes[0], int(r.fb),
                                bool(r.ib & SCALE_BY_FREQ)),)


def _embedding_backward(g: Tensor, positions: np.ndarray, shape: tuple, padding: int, by_freq: bool) -> Tensor:
    """PyTorch's ``embedding_dense_backward``: ``g`` scattered to the weight's rows (``positions``),
    less the padding row, divided by each index's count ``by_freq``; recorded, a row of its own
    (``EmbeddingDenseBackwardBackward0``) whose derivative is the gather of the adjoint, unscaled, as
    PyTorch's ``embedding_dense_double_backward``: the scaling is the first backward's, not a factor
    of the function (so the gradient differentiated again is the derivative of the computed one)."""
    dt = g._dtype
    rows = positions.reshape(-1) // max(shape[1], 1)
    gv = g._value().reshape(-1)
    if padding >= 0 or by_freq:
        scale = np.ones(rows.shape, dt.np)
        if by_freq:
            counts = np.bincount(rows[::max(shape[1], 1)], minlength=shape[0])
            scale = (scale / counts[rows]).astype(dt.np)
        if padding >= 0:
            scale[rows == padding] = 0
        gv = gv * scale
    out = np.zeros(shape, dt.np)
    np.add.at(out.reshape(-1), positions.reshape(-1), gv)
    if not (g._rg and state.grad):
        return plain(out, dt)
    tape = write_tape()
    node = tape.append_listed(EMBEDDING_GRAD, dt.arena, out, [node_in(tape, g, dt, g._shape)],
                              ia=tape.index_list(np.ascontiguousarray(positions.reshape(-1))),
                              ib=SCALE_BY_FREQ if by_freq else 0, fb=float(padding))
    return recorded(tape, node, out, dt)


def _grad_positions(r) -> np.ndarray:
    """The positions an EMBEDDING_GRAD row holds, shaped as its input (the adjoint it scatters)."""
    shape = r.in_shapes[0]
    return r.tape.ix[r.ia:r.ia + math.prod(shape)].reshape(shape)


def _embedding_grad_vjp(gg, xs, y, r):
    positions = _grad_positions(r)
    d = gg._gather(positions, BY_INDEX)
    padding = int(r.fb)
    if padding >= 0:
        keep = (positions // max(r.out_shape[1], 1)) != padding
        d = d * plain(keep.astype(gg._dtype.np), gg._dtype)
    return (d,)


def _embedding_grad_jvp(ts, xs, y, r):
    return _embedding_backward(ts[0], _grad_positions(r), r.out_shape, int(r.fb),
                               bool(r.ib & SCALE_BY_FREQ))


def _indices_of(positions: np.ndarray, d: int, shape: tuple) -> Tensor:
    """The index tensor an embedding took, from the flat positions of its elements."""
    rows = positions[::d] // d if d else np.zeros(shape, np.int64)
    return plain(np.ascontiguousarray(rows.reshape(shape)), D.int64)


def _indices(r) -> Tensor:
    return _indices_of(r.out_index_list, r.in_shapes[0][1], r.out_shape[:-1])


# (PyTorch's node shows the padding index -1, none, as the unsigned 2**64 - 1)
register(Op(EMBEDDING, "embedding", "EmbeddingBackward0", 0, _embedding_vjp, arity=LISTED, reads_inputs=False,
            node_saved=(("indices", _indices), ("padding_idx", lambda r: int(r.fb) % 2 ** 64),
                        ("scale_grad_by_freq", lambda r: bool(r.ib & SCALE_BY_FREQ)), ("sparse", lambda r: False),
                        ("weight_sym_argsize_0", lambda r: r.in_shapes[0][0]))))
register(Op(EMBEDDING_GRAD, "embedding_dense_backward", "EmbeddingDenseBackwardBackward0", 0, _embedding_grad_vjp,
            arity=LISTED, reads_inputs=False,
            node_saved=(("indices", lambda r: _indices_of(_grad_positions(r).reshape(-1), r.out_shape[1],
                                                              r.in_shapes[0][:-1])),
                        ("padding_idx", lambda r: int(r.fb) % 2 ** 64))))
tangents({EMBEDDING: _gather_jvp, EMBEDDING_GRAD: _embedding_grad_jvp})


def _check_indices(indices: Tensor, fn: str) -> None:
    if indices._dtype not in (D.int64, D.int32):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got torch.{D.legacy_name(indices._dtype)}Tensor instead (while checking "
                           f"arguments for {fn})")


@public_function("embedding")
def embedding(weight: Tensor, indices: Tensor, padding_idx: int = -1, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """The rows of ``weight`` at ``indices`` (a result of shape ``indices.shape + (embedding_dim,)``);
    in backward, the ``padding_idx`` row gets no gradient, and with ``scale_grad_by_freq`` each row's
    gradient is divided by how often ``indices`` takes it."""
    if weight.dim() != 2:
        raise RuntimeError("'weight' must be 2-D")
    _check_indices(indices, "embedding")
    if sparse:
        raise RuntimeError("embedding(): sparse=True needs sparse gradients, which tape does not have; "
                           "use sparse=False")
    idx = indices._value().astype(np.int64, copy=False)
    n, d = weight._shape
    if idx.size and not n:      # (PyTorch's index_select of a weight of no row)
        raise RuntimeError("index_select(): self indexing axis dim should be positive")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError("index out of range in self")
    positions = np.ascontiguousarray((idx[..., None] * d + np.arange(d)).reshape(idx.shape + (d,)))
    dt = weight._dtype
    y = np.array(weight._value().reshape(-1)[positions], order="C")
    if not (weight._rg and state.grad):
        return plain(y, dt)
    tape = write_tape()
    nw = weight._node if weight._tape is tape else tape.import_(weight)
    node = tape.append_listed(EMBEDDING, dt.arena, y, [nw], ia=tape.index_list(positions.reshape(-1)),
                              ib=SCALE_BY_FREQ if scale_grad_by_freq else 0, fb=float(padding_idx))
    return recorded(tape, node, y, dt)


@public_function("embedding_renorm_")
def embedding_renorm_(input: Tensor, indices: Tensor, max_norm: float, norm_type: float) -> Tensor:
    """Rescales in place each row of ``input`` that ``indices`` takes whose ``norm_type``-norm exceeds
    ``max_norm`` to norm ``max_norm`` (divided by ``norm + 1e-7``); returns ``input``."""
    if input.dim() != 2:
        raise RuntimeError("'self' must be 2-D")
    _check_indices(indices, "embedding_renorm_")
    rows = np.unique(indices._value().astype(np.int64, copy=False))
    if rows.size == 0:
        return input
    w = input._value()
    picked = w[rows].astype(np.float64)
    norms = np.linalg.norm(picked, ord=norm_type, axis=1) if norm_type != 2 else np.sqrt((picked * picked).sum(1))
    over = norms > max_norm
    if over.any():
        scaled = picked[over] * (max_norm / (norms[over] + 1e-7))[:, None]
        input.index_copy_(0, plain(rows[over], D.int64), plain(scaled.astype(w.dtype), input._dtype))
    return input


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """A tensor of shape ``tensor.shape + (num_classes,)`` (``-1``: one more than the largest value)
    that is 1 at each element's value along the last dim and 0 elsewhere (int64)."""
    if tensor._dtype is not D.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    v = tensor._value()
    if num_classes == -1:
        if v.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(v.max()) + 1
    if v.size:
        if v.min() < 0:
            raise RuntimeError("Class values must be non-negative.")
        if v.max() >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    elif num_classes < 0:
        raise RuntimeError("Class values must be smaller than num_classes.")
    out = np.zeros(v.shape + (num_classes,), np.int64)
    np.put_along_axis(out, v[..., None], 1, axis=-1)
    return plain(out, D.int64)


# --- embedding bags -----------------------------------------------------------------------------
# An EMBEDDING_BAG row lists the weight and the per-sample weights (a constant of ones when none
# were given: its node shows None); the index table at ``ia`` holds each taken index's weight row,
# then its bag, then for the max mode the flat weight position of each output element's maximum
# (-1 for an empty bag).  ``ib``: the mode (0 sum, 1 mean, 2 max), ``BAG_WEIGHTED`` when per-sample
# weights were given; ``fb``: padding_idx.
EMBEDDING_BAG = 1045
BAG_SUM, BAG_MEAN, BAG_MAX = 0, 1, 2
BAG_WEIGHTED = 8


def _bag_lists(r) -> tuple:
    k = r.in_shapes[1][0]
    lists = r.tape.ix[r.ia:r.ia + 2 * k + (math.prod(r.out_shape) if (r.ib & 3) == BAG_MAX else 0)]
    return lists[:k], lists[k:2 * k], lists[2 * k:]


def _bag_coefficients(idx: np.ndarray, bag: np.ndarray, mode: int, padding: int, bags: int) -> np.ndarray:
    """Each taken row's factor in its bag's sum: 0 at the padding index, ``1 / count`` of its bag for
    the mean."""
    coef = (idx != padding).astype(np.float64)
    if mode == BAG_MEAN:
        counts = np.bincount(bag, weights=coef, minlength=bags)
        coef = coef / np.maximum(counts[bag], 1)
    return coef


def _embedding_bag_vjp(g, xs, y, r):
    w, p = xs
    n, d = w._shape
    idx, bag, maxpos = _bag_lists(r)
    mode, padding = r.ib & 3, int(r.fb)
    cols = np.arange(d)
    if mode == BAG_MAX:
        empty = maxpos < 0
        kept = g * plain((~empty).astype(g._dtype.np).reshape(g._shape), g._dtype) if empty.any() else g
        return kept._scatter(np.where(empty, 0, maxpos).reshape(g._shape), (n, d)), None
    rows = g._gather(bag[:, None] * d + cols, BY_INDEX)
    coef = plain(_bag_coefficients(idx, bag, mode, padding, g._shape[0]).astype(g._dtype.np), g._dtype)
    if r.ib & BAG_WEIGHTED:
        coef = coef * p
    gw = (rows * coef.unsqueeze(1))._scatter(idx[:, None] * d + cols, (n, d))
    gp = None
    if r.ib & BAG_WEIGHTED:
        valid = plain((idx != padding).astype(g._dtype.np), g._dtype)
        gp = (rows * w._gather(idx[:, None] * d + cols, BY_INDEX)).sum(1) * valid
    return gw, gp


register(Op(EMBEDDING_BAG, "_embedding_bag", "EmbeddingBagBackward0", X1, _embedding_bag_vjp, arity=LISTED,
            node_saved=(("mode", lambda r: r.ib & 3), ("padding_idx", lambda r: int(r.fb) % 2 ** 64),
                        ("scale_grad_by_freq", lambda r: False), ("sparse", lambda r: False),
                        ("weight_sym_argsize_0", lambda r: r.in_shapes[0][0]))))
tangents({EMBEDDING_BAG: TRANSPOSED})


_INDEX_SIZE = ("Expected i < index_size to be true, but got false.  (Could this error message be improved?  If so, "
               "please report an enhancement request to PyTorch.)")


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor, mode: int, per_sample_weights: Optional[Tensor],
                  include_last_offset: bool, padding_idx: Optional[int]) -> Tensor:
    """The sums, means or maxima (``mode`` 0, 1, 2) of the rows of ``weight`` that each bag of the 1-D
    ``input`` takes (bag ``b`` from ``offsets[b]``; with ``include_last_offset`` the last offset ends
    the last bag), each row times its per-sample weight if given; an empty bag gives zeros; the
    ``padding_idx`` row is left out of the bags."""
    _check_indices(input, "embedding_bag")
    n, d = weight._shape
    padding = -1        # (none)
    if padding_idx is not None:
        if padding_idx < -n or padding_idx >= n:
            raise RuntimeError(f"padding_idx must be within the number of embeddings, -{n} through {n - 1}, but got "
                               f"{padding_idx}")
        padding = padding_idx + n if padding_idx < 0 else padding_idx
    dt = weight._dtype
    if per_sample_weights is not None and per_sample_weights._dtype is not dt:
        raise RuntimeError(f"Expected tensor for argument #1 'weight' to have the same type as tensor for argument #1 "
                           f"'per_sample_weights'; but type torch.{D.legacy_name(dt)}Tensor does not equal "
                           f"torch.{D.legacy_name(per_sample_weights._dtype)}Tensor (while checking arguments for "
                           f"embedding_bag)")
    idx = input._value().astype(np.int64, copy=False).reshape(-1)
    off = offsets._value().astype(np.int64, copy=False).reshape(-1)
    k = idx.size
    if off.size and off[0] != 0:
        raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
                           f"position 0. However, got {off[0]}\n[ torch.LongTensor{{}} ]")
    if off.size and off[-1] > k:
        raise RuntimeError(f"offsets[-1] can not be greater than input's length {k} but got offsets[-1] of {off[-1]}")
    if (k and (idx.min() < 0 or idx.max() >= n)) or np.any(np.diff(off) < 0):
        raise RuntimeError(_INDEX_SIZE)
    starts = off[:-1] if include_last_offset else off
    bags = starts.size
    end = int(off[-1]) if include_last_offset and off.size else k
    idx = np.ascontiguousarray(idx[:end])
    bag = np.searchsorted(starts, np.arange(end), side="right") - 1
    valid = idx != padding
    rows = weight._value()[idx]
    if per_sample_weights is not None:
        rows = rows * per_sample_weights._value().reshape(-1)[:end, None]
    out = np.zeros((bags, d), dt.np)
    maxpos = np.zeros(0, np.int64)
    if mode == BAG_MAX:
        best = np.full((bags, d), -np.inf, dt.np)
        np.maximum.at(best, bag[valid], rows[valid])
        counts = np.bincount(bag[valid], minlength=bags)
        out = np.where(counts[:, None] > 0, best, 0).astype(dt.np)
        # (the first taken row at each maximum gets its gradient)
        first = np.full((bags, d), end, np.int64)
        ks = np.nonzero(valid)[0]
        hit = rows[valid] == best[bag[valid]]
        np.minimum.at(first, bag[valid], np.where(hit, ks[:, None], end))
        maxpos = np.where(first < end, idx[np.minimum(first, max(end - 1, 0))] * d + np.arange(d), -1) \
            if end else np.full((bags, d), -1, np.int64)
    else:
        coef = _bag_coefficients(idx, bag, mode, padding, bags)
        np.add.at(out, bag, rows * coef[:, None].astype(dt.np))
    out = np.require(out, dt.np, "C")
    weighted = per_sample_weights is not None
    if not (state.grad and (weight._rg or (weighted and per_sample_weights._rg))):
        return plain(out, dt)
    if weighted:
        p = per_sample_weights if per_sample_weights.numel() == end else per_sample_weights[:end]
    else:
        p = plain(np.ones(end, dt.np), dt)
    tape = write_tape()
    nodes = [node_in(tape, t, dt, t._shape) for t in (weight, p)]
    lists = np.concatenate([idx, bag.astype(np.int64), maxpos.reshape(-1)])
    ib = mode | (BAG_WEIGHTED if weighted else 0)
    node = tape.append_listed(EMBEDDING_BAG, dt.arena, out, nodes, ia=tape.index_list(lists), ib=ib, fb=float(padding))
    return recorded(tape, node, out, dt)
