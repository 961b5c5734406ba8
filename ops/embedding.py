"""Embeddings of ``torch.nn.functional``: ``embedding`` (with ``embedding_renorm_``, its ``max_norm``
step) and ``one_hot``.

An embedding is one row (PyTorch's ``EmbeddingBackward0``) over the weight, holding the flat
positions of the rows it takes (one per output element, in the tape's index table at ``ia``, as
a gather does): its rule scatters the adjoint back, less the ``padding_idx`` row (``fb``; -1:
none) and divided by each index's count with ``scale_grad_by_freq`` (``ib``), a row of its own when
recorded (``EmbeddingDenseBackwardBackward0``, holding the same positions and attributes).
"""
from __future__ import annotations

import math

import numpy as np

from .._emit import D, Tensor, node_in, plain, recorded, state, write_tape
from ._spec import LISTED, Op, public_function, register, tangents
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
