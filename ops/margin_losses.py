"""The margin and embedding losses of ``torch.nn.functional``.

``multi_margin_loss`` and ``multilabel_margin_loss`` are one op each in PyTorch
(``MultiMarginLossBackward0``, ``MultilabelMarginLossBackward0``): here one Python-rule row each,
numpy forward, whose gradient is computed in numpy as PyTorch's kernels compute it.  PyTorch has no
derivative of those gradients: recorded (``create_graph=True``) they sit behind its
``NotImplemented`` node, whose backward raises (``ops/no_grad_grad.py``).  The other losses are PyTorch's compositions
(ATen's ``hinge_embedding_loss``, ``cosine_embedding_loss``, ``triplet_margin_loss``; Python's
``multilabel_soft_margin_loss``, ``triplet_margin_with_distance_loss``), so their nodes are
PyTorch's too.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from .._emit import D, Tensor, emit, node_in, plain, recorded, state, write_tape
from ._rule import rule_adjoint
from ._spec import LISTED, PYTHON, SAVED_SELF, TRANSPOSED, Given, Op, X0, X1, public_function, register, tangents
from .activations import logsigmoid
from .functions import S_ADD, _scalar_op, pairwise_distance
from .join import where
from .losses import MEAN, NONE, SUM, _apply_reduction, _arguments, _enum, _reduction, _reduction_enum
from .no_grad_grad import MULTI_MARGIN_BACKWARD, MULTILABEL_MARGIN_BACKWARD, gradient_without_derivative

MULTI_MARGIN, MULTILABEL_MARGIN, SUB_SCALAR = PYTHON.start + 170, PYTHON.start + 172, PYTHON.start + 173
# ATen's ``EPSILON`` of the cosine embedding loss: a float constant
_EPSILON = float(np.float32(1e-12))


# --- rows ------------------------------------------------------------------------------------
def no_forward_ad(name: str):
    """The tangent rule of an op PyTorch's forward AD lacks: its error."""
    def jvp(ts, xs, y, r):
        raise NotImplementedError(
            f"Trying to use forward AD with {name} that does not support it because it has not been implemented "
            "yet.\nPlease file an issue to PyTorch at https://github.com/pytorch/pytorch/issues/new?template="
            "feature-request.yml so that we can prioritize its implementation or submit a PR adding the "
            "implementation to derivatives.yaml")
    return jvp


def _times_adjoint(d: np.ndarray, g: Tensor, reduction: int) -> np.ndarray:
    """``d`` (rows of the 2-D view of the input) times the adjoint: one per row when unreduced."""
    gv = g._value()
    if reduction == NONE and gv.ndim > 0:
        return d * gv.reshape(-1, 1)
    return d * gv.reshape(())


def _frames(x: np.ndarray) -> np.ndarray:
    return x.reshape(1, max(x.size, 1)) if x.ndim <= 1 else x


def _multi_margin_vjp(g, xs, y, r):
    x, onehot, wy = xs
    xv, oh, w = _frames(x._value()), _frames(onehot._value()) != 0, _frames(wy._value())
    nframe, dim = xv.shape
    dt = xv.dtype.type
    z = r.fa - xv[oh].reshape(-1, 1) + xv
    scale = dt(1.0 / max(nframe * dim, 1)) if r.ia == MEAN else dt(1.0 / dim)
    h = np.where((z > 0) & ~oh, scale if r.ib == 1 else 2 * scale * z, dt(0)) * w
    h[oh] = -h.sum(1)
    return gradient_without_derivative(_times_adjoint(h, g, r.ia).reshape(x._shape), g, x,
                                      MULTI_MARGIN_BACKWARD), None, None


def _multilabel_margin_vjp(g, xs, y, r):
    x, is_target, counts = xs
    xv, t, c = _frames(x._value()), _frames(is_target._value()), _frames(counts._value())
    nframe, dim = xv.shape
    dt = xv.dtype.type
    scale = dt(1.0 / max(nframe * dim, 1)) if r.ia == MEAN else dt(1.0 / dim)
    pairs = _pairs(xv, t, c) * scale
    d = pairs.sum(1) - pairs.sum(2)
    return gradient_without_derivative(_times_adjoint(d, g, r.ia).reshape(x._shape), g, x,
                                      MULTILABEL_MARGIN_BACKWARD), None, None


# (``self`` saved, as PyTorch's nodes save it: a change of it in place before the backward raises)
register(Op(MULTI_MARGIN, "multi_margin_loss", "MultiMarginLossBackward0", X0, _multi_margin_vjp, arity=LISTED,
            nondiff=(1, 2)))
register(Op(MULTILABEL_MARGIN, "multilabel_margin_loss", "MultilabelMarginLossBackward0", X0 | X1,
            _multilabel_margin_vjp, arity=LISTED, nondiff=(1, 2)))
register(Op(SUB_SCALAR, "sub", "SubBackward1", 0, lambda g, xs, y, r: (g,), py_adjoint=rule_adjoint))
tangents({MULTI_MARGIN: no_forward_ad("multi_margin_loss"),
          MULTILABEL_MARGIN: no_forward_ad("multilabel_margin_loss_forward"), SUB_SCALAR: TRANSPOSED})


def _sub_scalar(t: Tensor, c: float) -> Tensor:
    """``t - c`` as ATen's difference with a Scalar (``SubBackward1``)."""
    y = np.require(t._value() - t._dtype.np.type(c), t._dtype.np, "C")
    if t._rg and state.grad:
        return emit(SUB_SCALAR, y, t._dtype, t)
    return plain(y, t._dtype)


def _listed(code: int, y: np.ndarray, dt: D.dtype, x: Tensor, consts: tuple, ia: int, ib: int, fa: float) -> Tensor:
    """A row over ``x`` and constants of its shape (what its rule reads)."""
    tape = write_tape()
    nodes = [node_in(tape, x, dt, x._shape)] + [node_in(tape, plain(np.require(c, dt.np, "C"), dt), dt, x._shape)
                                                 for c in consts]
    return recorded(tape, tape.append_listed(code, dt.arena, y, nodes, ia=ia, ib=ib, fa=fa), y, dt)


def _reduced(per_frame: np.ndarray, reduction: int, dt, scalar: bool) -> np.ndarray:
    if reduction == MEAN:
        out = per_frame.sum() / dt.type(per_frame.size) if per_frame.size else np.nan
    elif reduction == SUM:
        out = per_frame.sum()
    else:
        out = per_frame.reshape(()) if scalar else per_frame
    return np.require(np.asarray(out, dt), dt, "C")


# --- the multi-class margin losses -------------------------------------------------------------
def _frame_shape(x: Tensor) -> tuple:
    """PyTorch's ``nframe`` and ``dim`` of a margin loss's input, after its check of the input's shape."""
    nd = x.dim()
    if not ((nd == 2 and x._shape[1] != 0) or (nd == 1 and x._shape[0] != 0) or nd == 0):
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
                           f"{list(x._shape)}")
    return (1 if nd <= 1 else x._shape[0]), (1 if nd == 0 else x._shape[-1])


def _long_target(target: Tensor) -> None:
    if target._dtype is not D.int64:
        raise RuntimeError(f"expected scalar type Long but found {D.legacy_name(target._dtype)}")


def _floating(x: Tensor, kernel: str) -> None:
    if not x._dtype.is_floating_point:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{D.legacy_name(x._dtype)}'")


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0, weight: Optional[Tensor] = None,
                      size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                      reduction: str = "mean") -> Tensor:
    """The multi-class hinge loss of scores ``input`` (:math:`(N, C)` or :math:`(C)`) at the class
    indices ``target``: :math:`\\sum_{i \\ne y} \\max(0, \\text{margin} - x[y] + x[i])^p / C`, times
    ``weight[y]`` if given, reduced by ``reduction``."""
    enum = _reduction_enum(_reduction(size_average, reduce, reduction))
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError("weight must be one-dimensional")
    if weight is not None and weight._rg and state.grad:      # (PyTorch's autograd: before the kernel's checks)
        raise RuntimeError("The function 'multi_margin_loss' is not differentiable with respect to argument 'weight'. "
                           "This input cannot have requires_grad True.")
    nframe, dim = _frame_shape(input)
    if target.dim() > 1 or target.numel() != nframe:
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to the number of input "
                           f"samples (batch size). Expected target size [{nframe}], but got {list(target._shape)}. "
                           f"Input has shape {list(input._shape)}.")
    if weight is not None and weight.numel() != dim:
        raise RuntimeError(f"inconsistent weight size, expected {dim} but got {list(weight._shape)}")
    _floating(input, "multi_margin_loss_cpu_kernel")
    if input.numel():       # (PyTorch's kernel returns before it reads an empty input's target)
        _long_target(target)
    if weight is not None and weight._dtype is not input._dtype:
        raise RuntimeError(f"expected scalar type {D.legacy_name(input._dtype)} but found "
                           f"{D.legacy_name(weight._dtype)}")
    dt = input._dtype
    xv = _frames(input._value())
    t = target._value().reshape(-1).astype(np.int64, copy=False)
    if ((t < 0) | (t >= dim)).any():
        raise RuntimeError("target out of range")
    rows = np.arange(nframe)
    onehot = np.zeros(xv.shape, bool)
    onehot[rows, t] = True
    wy = (weight._value()[t] if weight is not None else np.ones(nframe, dt.np)).astype(dt.np).reshape(-1, 1)
    with np.errstate(all="ignore"):
        z = dt.np.type(margin) - xv[rows, t].reshape(-1, 1) + xv
        h = np.where((z > 0) & ~onehot, z if p == 1 else z * z, dt.np.type(0)) * wy
        y = _reduced(h.sum(1) / dt.np.type(dim), enum, dt.np, target.dim() == 0)
    if not (input._rg and state.grad):
        return plain(y, dt)
    out = _listed(MULTI_MARGIN, y, dt, input, (onehot.reshape(input._shape), np.broadcast_to(wy, xv.shape)
                                               .reshape(input._shape)), enum, p, float(margin))
    out._tape.args[out._node] = (("self", SAVED_SELF), ("target", target), ("p", p), ("margin", margin),
                                 ("weight", weight), ("reduction", enum))
    return out


def _pairs(x: np.ndarray, is_target: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The (frame, target class, other class) triples of positive margin, each counted as often as
    the target class is listed."""
    z = 1 - x[:, :, None] + x[:, None, :]
    return np.where(z > 0, counts[:, :, None] * (1 - is_target)[:, None, :], 0)


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average: Optional[bool] = None,
                           reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """The multi-class multi-label hinge loss of scores ``input`` (:math:`(N, C)` or :math:`(C)`) and
    ``target`` (its shape: class indices, the first -1 ending them): :math:`\\sum_{j, i}
    \\max(0, 1 - (x[y_j] - x[i])) / C` over the target classes :math:`y_j` and the other classes
    :math:`i`, reduced by ``reduction``."""
    enum = _reduction_enum(_reduction(size_average, reduce, reduction))
    nframe, dim = _frame_shape(input)
    if input.dim() <= 1:
        if target.dim() > 1 or target.numel() != dim:
            raise RuntimeError(f"inconsistent target size: {list(target._shape)} for input of size: "
                               f"{list(input._shape)}")
    elif target.dim() != 2 or tuple(target._shape) != (nframe, dim):
        raise RuntimeError(f"inconsistent target size: {list(target._shape)} for input of size: {list(input._shape)}")
    if input.numel():       # (PyTorch's kernel returns before it reads an empty input's target)
        _long_target(target)
    t = target._value().reshape(nframe, dim).astype(np.int64, copy=False)
    if t.size and (t.min() < -1 or t.max() >= dim):
        raise RuntimeError("argument #2 'target' is out of range")
    _floating(input, "multilabel_margin_loss_forward_out_frame")
    dt = input._dtype
    xv = _frames(input._value())
    # the target classes listed before each frame's first -1, and how often each is listed
    listed = np.cumprod(t >= 0, axis=1).astype(bool)
    counts = np.zeros(xv.shape, dt.np)
    np.add.at(counts, (np.nonzero(listed)[0], t[listed]), 1)
    is_target = (counts > 0).astype(dt.np)
    with np.errstate(all="ignore"):
        pairs = _pairs(xv, is_target, counts)
        loss = ((1 - xv[:, :, None] + xv[:, None, :]) * pairs).sum((1, 2)) / dt.np.type(dim)
    y = _reduced(loss.astype(dt.np), enum, dt.np, input.dim() <= 1)
    if not (input._rg and state.grad):
        return plain(y, dt)
    out = _listed(MULTILABEL_MARGIN, y, dt, input, (is_target.reshape(input._shape), counts.reshape(input._shape)),
                  enum, 0, 0.0)
    out._tape.args[out._node] = (("self", SAVED_SELF), ("target", target), ("reduction", enum),
                                 ("is_target", Given(X1)))
    return out


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                                size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                                reduction: str = "mean") -> Tensor:
    """The multi-label one-versus-all loss: the binary cross entropy of ``sigmoid(input)`` and
    ``target`` (0 or 1 per class), times ``weight``, averaged over the classes (the last dim),
    reduced by ``reduction``."""
    if size_average is not None or reduce is not None:
        reduction = _reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.dim() - 1
    loss = loss.sum(dim=class_dim) / input.size(class_dim)
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(reduction + " is not valid")


# --- embedding losses (ATen's compositions) ------------------------------------------------------
def _scalar_minus(c: float, t: Tensor) -> Tensor:
    """``c - t`` as ATen's C++ operator: ``empty_like(t).fill_(c).sub_(t)`` (``SubBackward0``)."""
    return plain(np.full(t._shape, c, t._dtype.np), t._dtype).sub_(t)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average: Optional[bool] = None,
                         reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """The hinge embedding loss: ``input`` where ``target`` is 1, ``max(0, margin - input)`` where
    it is -1, reduced by ``reduction``."""
    return _hinge(input, target, margin, _reduction_enum(_reduction(size_average, reduce, reduction)))


def _hinge(input: Tensor, target: Tensor, margin: float, enum: int) -> Tensor:
    zeros = plain(np.zeros(input._shape, input._dtype.np), input._dtype)
    margin_clamp = _scalar_minus(margin, input).clamp_min_(0)
    output = where(target != 1, margin_clamp, zeros) + where(target != -1, input, zeros)
    return _apply_reduction(output, enum)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                          reduction: str = "mean") -> Tensor:
    """The cosine embedding loss of pairs ``input1``, ``input2`` (rows of 2-D inputs, or two 1-D
    inputs): ``1 - cos`` where ``target`` is 1, ``max(0, cos - margin)`` where it is -1, reduced
    by ``reduction``."""
    return _cosine(input1, input2, target, margin, _reduction_enum(_reduction(size_average, reduce, reduction)))


def _cosine(input1: Tensor, input2: Tensor, target: Tensor, margin: float, enum: int) -> Tensor:
    nd = target.dim()
    if nd not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    want = 2 if nd == 1 else 1
    if input1.dim() != want or input2.dim() != want:
        raise RuntimeError(f"{nd}D target tensor expects {want}D input tensors, but found inputs with sizes "
                           f"{list(input1._shape)} and {list(input2._shape)}.")
    prod_sum = (input1 * input2).sum(nd)
    mag_square1 = _scalar_op((input1 * input1).sum(nd), _EPSILON, S_ADD)
    mag_square2 = _scalar_op((input2 * input2).sum(nd), _EPSILON, S_ADD)
    cos = prod_sum / (mag_square1 * mag_square2).sqrt_()
    zeros = plain(np.zeros(cos._shape, cos._dtype.np), cos._dtype)
    pos = _scalar_minus(1, cos)
    neg = _sub_scalar(cos, margin).clamp_min_(0)
    output = where(target == 1, pos, zeros) + where(target == -1, neg, zeros)
    return _apply_reduction(output, enum)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average: Optional[bool] = None,
                        reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """The triplet loss ``max(d(anchor, positive) - d(anchor, negative) + margin, 0)`` of the
    ``p``-norm distances (:func:`pairwise_distance`, ``eps`` added); ``swap``: the negative distance
    is the smaller of the anchor's and the positive's; reduced by ``reduction``."""
    enum = _reduction_enum(_reduction(size_average, reduce, reduction))
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    return _triplet(anchor, positive, negative, margin, p, eps, swap, enum)


def _triplet(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float, p: float, eps: float, swap: bool,
             enum: int) -> Tensor:
    a_dim, p_dim, n_dim = anchor.dim(), positive.dim(), negative.dim()
    if not (a_dim == p_dim and p_dim == n_dim):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {a_dim}D, positive {p_dim}D, and negative {n_dim}D inputs")
    dist_pos = pairwise_distance(anchor, positive, p, eps)
    dist_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        dist_neg = dist_neg.minimum(pairwise_distance(positive, negative, p, eps))
    return _apply_reduction((_scalar_op(dist_pos, margin, S_ADD) - dist_neg).clamp_min(0), enum)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function: Optional[Callable[[Tensor, Tensor], Tensor]] = None,
                                      margin: float = 1.0, swap: bool = False, reduction: str = "mean") -> Tensor:
    """The triplet loss ``max(d(anchor, positive) - d(anchor, negative) + margin, 0)`` of the
    distance ``distance_function`` (default :func:`pairwise_distance`); ``swap``: the negative
    distance is the smaller of the anchor's and the positive's; reduced by ``reduction``."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    a_dim, p_dim, n_dim = anchor.ndim, positive.ndim, negative.ndim
    if not (a_dim == p_dim and p_dim == n_dim):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {a_dim}D, positive {p_dim}D, and negative {n_dim}D inputs")
    if distance_function is None:
        distance_function = pairwise_distance
    dist_pos = distance_function(anchor, positive)
    dist_neg = distance_function(anchor, negative)
    if swap:
        dist_neg = dist_neg.minimum(distance_function(positive, negative))
    loss = (margin + dist_pos - dist_neg).clamp_min(0)
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    return loss


# --- PyTorch's top-level forms (``torch.hinge_embedding_loss`` ...): the reduction as ATen's enum, which
# their parser defaults to 0 (none); any other number than 1 (mean) and 2 (sum) reduces nothing.
@public_function("hinge_embedding_loss")
def _hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, reduction: int = 0) -> Tensor:
    """The hinge embedding loss (:func:`tape.nn.functional.hinge_embedding_loss`), ``reduction``
    ATen's enum (0 none, 1 mean, 2 sum)."""
    _arguments("hinge_embedding_loss", ("input", 1, input, Tensor), ("target", 2, target, Tensor),
               ("margin", 3, margin, float), ("reduction", None, reduction, int))
    return _hinge(input, target, margin, _enum(reduction))


@public_function("cosine_embedding_loss")
def _cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                           reduction: int = 0) -> Tensor:
    """The cosine embedding loss (:func:`tape.nn.functional.cosine_embedding_loss`), ``reduction``
    ATen's enum."""
    _arguments("cosine_embedding_loss", ("input1", 1, input1, Tensor), ("input2", 2, input2, Tensor),
               ("target", 3, target, Tensor), ("margin", 4, margin, float), ("reduction", None, reduction, int))
    return _cosine(input1, input2, target, margin, _enum(reduction))


@public_function("triplet_margin_loss")
def _triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2,
                         eps: float = 1e-6, swap: bool = False, reduction: int = 0) -> Tensor:
    """The triplet loss (:func:`tape.nn.functional.triplet_margin_loss`, any margin), ``reduction``
    ATen's enum."""
    _arguments("triplet_margin_loss", ("anchor", 1, anchor, Tensor), ("positive", 2, positive, Tensor),
               ("negative", 3, negative, Tensor), ("margin", 4, margin, float), ("p", 5, p, float),
               ("eps", 6, eps, float), ("swap", None, swap, bool), ("reduction", None, reduction, int))
    return _triplet(anchor, positive, negative, margin, p, eps, swap, _enum(reduction))
