"""Loss functions of ``torch.nn.functional``.

The losses PyTorch computes in one op of its own (``MseLossBackward0``, ``SmoothL1LossBackward0``,
``HuberLossBackward0``, ``SoftMarginLossBackward0``, ``NllLossBackward0``, ``NllLoss2DBackward0``,
``BinaryCrossEntropyBackward0``, ``BinaryCrossEntropyWithLogitsBackward0``) are one Python-rule row
each (``ops/_rule.py``), the reduction kept in the row, their derivative written in tape ops as
PyTorch's formula, so every order comes from it.  The losses PyTorch writes as a composition
(``l1_loss``, ``cross_entropy``, ``kl_div`` ..., the weighted forms) are the same composition here,
so their nodes are PyTorch's too.  ``tape.nn.functional``'s functions are front ends as
``tape.linalg``'s are: traces replay them and forward mode wraps them as a whole.
"""
from __future__ import annotations

import math
import warnings
from typing import Optional, Union

import numpy as np

from .._emit import D, Size, Tensor, emit, node_in, plain, recorded, state, write_tape
from ._rule import rule_adjoint
from ._spec import LISTED, PYTHON, SAVED_SELF, TRANSPOSED, X0, X1, X2, Given, Op, public_function, register, tangents
from .functions import S_ADD, _div_scalar, _mul_scalar, _scalar_op
from ._args import check_output_shape
from .elementwise import _BOOL_NEG
from .join import where
from .layout import broadcast_tensors

BCE_GRAD, BCE, NLL_GRAD = PYTHON.start + 93, PYTHON.start + 94, PYTHON.start + 96
POINTWISE, NLL = PYTHON.start + 97, PYTHON.start + 98
MSE, SMOOTH_L1, HUBER, SOFT_MARGIN = 0, 1, 2, 3         # (``ib`` of a POINTWISE row)
NONE, MEAN, SUM = 0, 1, 2                               # (``ia``: PyTorch's reduction enum)
_POINTWISE_NODES = ("MseLossBackward0", "SmoothL1LossBackward0", "HuberLossBackward0", "SoftMarginLossBackward0")
_POINTWISE_KERNELS = ("mse_cpu", "smooth_l1_cpu", "huber_cpu", "soft_margin_cpu")


# --- reductions ---------------------------------------------------------------------------
def _legacy_reduction(size_average: Optional[bool], reduce: Optional[bool]) -> str:
    """PyTorch's mapping of the deprecated ``size_average``/``reduce`` to a reduction, with its warning."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    out = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{out}' instead.",
                  stacklevel=4)
    return out


def _reduction_enum(reduction: str) -> int:
    if reduction == "none":
        return NONE
    if reduction == "mean":
        return MEAN
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
                      stacklevel=3)
        return MEAN
    if reduction == "sum":
        return SUM
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _reduction(size_average: Optional[bool], reduce: Optional[bool], reduction: str) -> str:
    return _legacy_reduction(size_average, reduce) if size_average is not None or reduce is not None else reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    """The reduction a weighted loss applies itself (PyTorch's message for any other name)."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum'.")


def _warn_sizes(input: Tensor, target: Tensor) -> None:
    if target.size() != input.size():
        warnings.warn(f"Using a target size ({target.size()}) that is different to the input size ({input.size()}). "
                      "This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", stacklevel=3)


def _check_weight(weight: Tensor, input: Tensor) -> None:
    if weight.size() != input.size():
        raise ValueError("Weights and input must have the same size.")


# --- the pointwise rows -------------------------------------------------------------------
def _pointwise_value(kind: int, x: np.ndarray, t: np.ndarray, p: float) -> np.ndarray:
    if kind == SOFT_MARGIN:
        return np.log1p(np.exp(-x * t))
    d = x - t
    if kind == MSE:
        return d * d
    a = np.abs(d)
    if kind == SMOOTH_L1:
        return np.where(a < p, 0.5 * d * d / p, a - 0.5 * p)
    return np.where(a < p, 0.5 * d * d, p * (a - 0.5 * p))


def _pointwise_vjp(g, xs, y, r):
    x, t = xs
    if r.ia == MEAN:
        g = g / x.numel()
    if r.ib == SOFT_MARGIN:
        z = (-t * x).exp()
        return -t * z / (z + 1.0) * g, None
    d = x - t
    # Smooth L1 and Huber, as PyTorch's kernels: d / beta (d) where |d| < beta, the sign of d (times
    # delta) where |d| >= beta, and nan at nan; their double backward is 1 / beta (1) strictly inside,
    # 0 elsewhere.
    if r.ib == MSE:
        dd = d * 2.0
    elif r.ib == SMOOTH_L1:
        a = d.abs()
        dd = where(a < r.fa, d / r.fa, where(a >= r.fa, d.sign(), d.detach()))
    else:
        a = d.abs()
        dd = where(a < r.fa, d, where(a >= r.fa, d.sign() * r.fa, d.detach()))
    dx = dd * g
    return dx, -dx


def _pointwise_saved(r) -> tuple:
    param = (("beta", lambda r: r.fa),) if r.ib == SMOOTH_L1 else (("delta", lambda r: r.fa),) if r.ib == HUBER else ()
    return param + (("reduction", lambda r: r.ia), ("self", X0), ("target", X1))


register(Op(POINTWISE, "mse_loss", "MseLossBackward0", X0 | X1, _pointwise_vjp, py_adjoint=rule_adjoint, arity=2,
            grad_fn_of=lambda r: _POINTWISE_NODES[r.ib], nondiff_of=lambda r: (1,) if r.ib == SOFT_MARGIN else (),
            node_saved=_pointwise_saved))
tangents({POINTWISE: TRANSPOSED})       # (the rule is linear in its adjoint)


def _pointwise(self: Tensor, target: Tensor, reduction: int, kind: int, p: float = 0.0) -> Tensor:
    """The row of the pointwise loss ``kind`` over ``self`` and ``target`` of one shape, computed in
    their promoted dtype (the Huber loss: in ``self``'s, as PyTorch's)."""
    dt = self._dtype if kind in (HUBER, SOFT_MARGIN) and self._dtype.is_floating_point else \
        D.result_type(self, target)
    if kind == HUBER and dt.is_floating_point and not self._dtype.is_floating_point:
        # (PyTorch's output takes the input's dtype)
        raise RuntimeError(f"result type {D.legacy_name(dt)} can't be cast to the desired output type "
                           f"{D.legacy_name(self._dtype)}")
    if not dt.is_floating_point:
        raise NotImplementedError(f"\"{_POINTWISE_KERNELS[kind]}\" not implemented for '{D.legacy_name(dt)}'")
    with np.errstate(all="ignore"):        # (exp overflow: as PyTorch's kernel, quiet)
        y = _pointwise_value(kind, self._value().astype(dt.np, copy=False), target._value().astype(dt.np, copy=False),
                             p)
    if reduction == MEAN:
        y = np.asarray(y.mean() if y.size else np.nan, dt.np)
    elif reduction == SUM:
        y = np.asarray(y.sum(), dt.np)
    y = np.require(y, dt.np, "C")
    if state.grad and (self._rg or target._rg):
        return _row(POINTWISE, y, dt, self, target, reduction, kind, p)
    return plain(y, dt)


def _row(code: int, y: np.ndarray, dt: D.dtype, x: Tensor, t: Tensor, ia: int, ib: int, fa: float) -> Tensor:
    """A row over ``x`` and ``t``, each cast to ``dt`` inside it (as PyTorch casts inside the op)."""
    if x._dtype is dt and t._dtype is dt:
        return emit(code, y, dt, x, t, ia=ia, ib=ib, fa=fa)
    tape = write_tape()
    node = tape.append(code, dt.arena, y, node_in(tape, x, dt, x._shape), node_in(tape, t, dt, t._shape), ia, ib, fa)
    return recorded(tape, node, y, dt)


# --- the functions ------------------------------------------------------------------------
def l1_loss(input: Tensor, target: Tensor, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
            reduction: str = "mean", weight: Optional[Tensor] = None) -> Tensor:
    """The mean absolute error ``|input - target|``, reduced by ``reduction`` (weighted by ``weight``
    if given)."""
    _warn_sizes(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    x, t = broadcast_tensors(input, target)
    if weight is not None:
        _check_weight(weight, input)
        loss = (x - t).abs() * weight
        if reduction == "mean":
            return loss.sum() / weight.sum()
        return _reduce(loss, reduction)
    return _l1(x, t, _reduction_enum(reduction))


def _l1(x: Tensor, t: Tensor, reduction: int) -> Tensor:
    loss = (x - t).abs()
    return loss.mean() if reduction == MEAN else loss.sum() if reduction == SUM else loss


def mse_loss(input: Tensor, target: Tensor, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
             reduction: str = "mean", weight: Optional[Tensor] = None) -> Tensor:
    """The mean squared error ``(input - target)^2``, reduced by ``reduction`` (weighted by ``weight``
    if given)."""
    _warn_sizes(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    x, t = broadcast_tensors(input, target)
    if weight is not None:
        _check_weight(weight, input)
        loss = (x - t).pow(2) * weight
        if reduction == "mean":
            return loss.sum() / weight.sum()
        return _reduce(loss, reduction)
    return _pointwise(x, t, _reduction_enum(reduction), MSE)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """The squared error halved and divided by ``beta`` where ``|input - target| < beta``, the absolute
    error less ``beta / 2`` elsewhere (the L1 loss for ``beta`` 0), reduced by ``reduction``."""
    _warn_sizes(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    x, t = broadcast_tensors(input, target)
    if beta == 0.0:
        return _l1(x, t, _reduction_enum(reduction))
    enum = _reduction_enum(reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    return _pointwise(x, t, enum, SMOOTH_L1, float(beta))


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Optional[Tensor] = None) -> Tensor:
    """The squared error halved where ``|input - target| < delta``, ``delta`` times the absolute error
    less ``delta / 2`` elsewhere, reduced by ``reduction`` (weighted by ``weight`` if given)."""
    _warn_sizes(input, target)
    x, t = broadcast_tensors(input, target)
    if weight is None:
        return _huber(x, t, _reduction_enum(reduction), delta)
    _check_weight(weight, input)
    return _reduce(_huber(x, t, NONE, delta) * weight, reduction)


def _huber(x: Tensor, t: Tensor, reduction: int, delta: float) -> Tensor:
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    return _pointwise(x, t, reduction, HUBER, float(delta))


def soft_margin_loss(input: Tensor, target: Tensor, size_average: Optional[bool] = None,
                     reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """The two-class logistic loss ``log(1 + exp(-target * input))``, reduced by ``reduction``."""
    enum = _reduction_enum(_reduction(size_average, reduce, reduction))
    _no_grad_target(target)
    # PyTorch computes it in place in an output of ``input``'s shape and dtype: ``neg``, ``mul_(target)``, ``exp_``
    if input._dtype is D.bool_:
        raise RuntimeError(_BOOL_NEG)
    check_output_shape(input._shape, target)
    if not input._dtype.is_floating_point:
        # (the product with a floating target, or else exp_, promotes the integer output)
        dt = target._dtype if target._dtype.is_floating_point else D.get_default_dtype()
        raise RuntimeError(f"result type {D.legacy_name(dt)} can't be cast to the desired output type "
                           f"{D.legacy_name(input._dtype)}")
    if target._shape != input._shape:
        target = target.expand(input._shape)
    return _pointwise(input, target, enum, SOFT_MARGIN)


def _no_grad_target(target: Tensor) -> None:
    # (PyTorch's autograd checks it before the kernel runs)
    if target._rg and state.grad:
        raise RuntimeError("The function 'soft_margin_loss' is not differentiable with respect to argument 'target'. "
                           "This input cannot have requires_grad True.")



# --- the negative log likelihood ------------------------------------------------------------
# A NLL row's second input is the target as weights of ``input``'s shape: ``-weight[c]`` where
# ``c`` is the target class of the row along the class dim (dim 1; 0 for a 1-D input), 0 at the
# other classes and where the target is ``ignore_index``; so the loss is ``weights * input``
# summed over the class dim, and its derivative ``weights`` times the adjoint, linear in both.
# ``ia``: the reduction, ``ib``: 1 for PyTorch's 2-D form (``NllLoss2DBackward0``), ``fa``: the
# total weight a mean divides by, ``fb``: ``ignore_index``.
def _nll_vjp(g, xs, y, r):
    x, w = xs
    if r.ia == MEAN and r.fa != 0:     # (no weight at all: every entry of ``w`` is 0, as PyTorch's gradient)
        g = g / r.fa
    elif r.ia == NONE and x.dim() > 1:
        g = g.unsqueeze(1)
    d = w * g
    if state.grad and x._rg:
        # PyTorch's gradient is a function of the input too (of zero derivative): recorded, it needs a
        # gradient whenever the input does, under ``NllLossBackwardBackward0``
        return emit(NLL_GRAD, np.require(d._value(), d._dtype.np, "C"), d._dtype, d, x, ib=r.ib), None
    return d, None


register(Op(NLL, "nll_loss", "NllLossBackward0", X0, _nll_vjp, py_adjoint=rule_adjoint, arity=2, nondiff=(1,),
            grad_fn_of=lambda r: ("NllLossBackward0", "NllLoss2DBackward0")[r.ib]))
register(Op(NLL_GRAD, "nll_loss_backward", "NllLossBackwardBackward0", 0,
            lambda g, xs, y, r: (g, plain(np.zeros(xs[1]._shape, g._dtype.np), g._dtype)),
            py_adjoint=rule_adjoint, arity=2,
            grad_fn_of=lambda r: ("NllLossBackwardBackward0", "NllLoss2DBackwardBackward0")[r.ib]))
tangents({NLL: TRANSPOSED, NLL_GRAD: TRANSPOSED})     # (linear in their adjoints)


def _check_target_dtype(target: Tensor) -> None:
    # (PyTorch 2.13 checks the target's dtype right after its rank, before any size or weight check)
    if target._dtype not in (D.int64, D.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {D.legacy_name(target._dtype)}")


def _nll_checks(x: Tensor, target: Tensor, weight: Optional[Tensor], spatial: bool) -> None:
    """PyTorch's checks of ``nll_loss`` (``spatial``: of its 2-D form, over a 4-D input) on the
    arguments' shapes and dtypes, in its order."""
    c = x._shape[-1] if x.dim() == 1 else x._shape[1]
    if spatial:
        if target.dim() != 3:
            raise RuntimeError("only batches of spatial targets supported (3D tensors) but got targets of dimension: "
                               f"{target.dim()}")
        _check_target_dtype(target)
        if weight is not None and weight.numel() != c:
            raise RuntimeError("weight tensor should be defined either for all or no classes")
        if x._shape[0] != target._shape[0] or x._shape[2:] != target._shape[1:]:
            raise RuntimeError(f"size mismatch (got input: {list(x._shape)} , target: {list(target._shape)}")
        kernel = "nll_loss2d_forward_out_frame"
    else:
        if target.dim() > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        _check_target_dtype(target)
        if not (x.dim() == 1 and target.dim() == 0) and x._shape[0] != target._shape[0]:
            raise RuntimeError(f"size mismatch (got input: {list(x._shape)}, target: {list(target._shape)})")
        if weight is not None and (weight.dim() != 1 or weight.numel() != c):
            raise RuntimeError(f"weight tensor should be defined either for all {c} classes or no classes but got "
                               f"weight tensor of shape: {list(weight._shape)}")
        kernel = "nll_loss_out_frame"
    if not x._dtype.is_floating_point:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{D.legacy_name(x._dtype)}'")
    if weight is not None and weight._dtype is not x._dtype:
        raise RuntimeError(f"expected scalar type {D.legacy_name(x._dtype)} but found {D.legacy_name(weight._dtype)}")
    if weight is not None and weight._rg and state.grad:
        raise RuntimeError(f"The function '{'nll_loss2d_forward' if spatial else 'nll_loss_forward'}' is not "
                           "differentiable with respect to argument 'weight'. This input cannot have requires_grad True.")


def _nll(self: Tensor, target: Tensor, weight: Optional[Tensor], reduction: int, ignore_index: int) -> Tensor:
    """The row of ``nll_loss`` over a 1-D, 2-D or 4-D ``self`` (PyTorch's ``nll_loss`` and
    ``nll_loss2d``), its arguments checked."""
    spatial = self.dim() == 4
    _nll_checks(self, target, weight, spatial)
    x = self._value()
    dt = self._dtype
    t = target._value().astype(np.int64)
    keep = t != ignore_index
    n_classes = x.shape[0] if x.ndim == 1 else x.shape[1]
    bad = keep & ((t < 0) | (t >= n_classes))
    if bad.any():
        raise IndexError(f"Target {int(t[bad].reshape(-1)[0])} is out of bounds.")
    safe = np.where(keep, t, 0)
    per = (weight._value()[safe] if weight is not None and n_classes else np.ones(t.shape, dt.np)) * keep
    per = per.astype(dt.np, copy=False)
    if x.ndim == 1:
        at = safe                               # (a 0-d target: one class)
    elif x.ndim == 2:
        at = (np.arange(x.shape[0]), safe)
    else:
        at = None
    if not n_classes:       # (no class: every target is ignored, none is read)
        picked = np.zeros(t.shape, dt.np)
    else:
        picked = x[at] if at is not None else np.take_along_axis(x, safe[:, None], 1)[:, 0]
    out = np.where(keep, -per * picked, dt.np.type(0))
    total = float(per.sum()) if reduction == MEAN else 0.0
    if reduction == MEAN:
        out = np.asarray(out.sum() / dt.np.type(total) if total else np.nan, dt.np)     # (0 / 0, as PyTorch's)
    elif reduction == SUM:
        out = np.asarray(out.sum(), dt.np)
    y = np.require(out, dt.np, "C")
    if not (self._rg and state.grad):
        return plain(y, dt)
    weights = np.zeros(x.shape, dt.np)
    negative = dt.np.type(0) - per              # (+0 where ignored)
    if not n_classes:
        pass
    elif at is not None:
        weights[at] = negative
    else:
        np.put_along_axis(weights, safe[:, None], negative[:, None], 1)
    out = emit(NLL, y, dt, self, plain(weights, dt), ia=reduction, ib=int(spatial), fa=total,
               fb=float(ignore_index))
    # (the total weight as PyTorch's kernels leave it: 0 where no reduction over a batch sums it)
    shown = 0.0 if reduction == NONE and x.ndim > 1 else float(per.sum())
    out._tape.args[out._node] = (("self", SAVED_SELF), ("target", target), ("weight", weight), ("reduction", reduction),
                                 ("ignore_index", ignore_index % (1 << 64)),
                                 ("total_weight", plain(np.array(shown, dt.np), dt)))
    return out


def nll_loss(input: Tensor, target: Tensor, weight: Optional[Tensor] = None, size_average: Optional[bool] = None,
             ignore_index: int = -100, reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """The negative log likelihood loss: ``-weight[target] * input[target]`` along the class dim
    (dim 1, or 0 for a 1-D ``input``), targets equal to ``ignore_index`` left out, reduced by
    ``reduction`` (the mean divides by the sum of the weights taken)."""
    reduction = _reduction(size_average, reduce, reduction)
    return _nll_nd(input, target, weight, _reduction_enum(reduction), ignore_index)


def _nll_nd(x: Tensor, target: Tensor, weight: Optional[Tensor], reduction: int, ignore_index: int) -> Tensor:
    """PyTorch's ``nll_loss_nd``: inputs of 3 or more than 4 dims viewed as 4-D ones."""
    if x.dim() < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {x.dim()})")
    if x.dim() == 1 and target.dim() == 1:
        _check_target_dtype(target)
        if target._shape[0] != 1:
            raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: {target._shape[0]}")
        target = target.view(())
    if x.dim() != 1 and x._shape[0] != (target._shape[0] if target._shape else 1):
        raise ValueError(f"Expected input batch_size ({x._shape[0]}) to match target batch_size "
                         f"({target._shape[0] if target._shape else 1}).")
    if x.dim() in (1, 2, 4):
        return _nll(x, target, weight, reduction, ignore_index)
    n, c = x._shape[:2]
    out_size = (n,) + tuple(x._shape[2:])
    if tuple(target._shape[1:]) != tuple(x._shape[2:]):
        raise RuntimeError(f"Expected target size {list(out_size)}, got {list(target._shape)}")
    # (empty ones as PyTorch views them: (n, c, 0, 0) and (n, 0, 0), where -1 would be ambiguous)
    x = x.contiguous().view(n, c, 1, -1) if x.numel() else x.contiguous().view(n, c, 0, 0)
    target = target.contiguous().view(n, 1, -1) if target.numel() else target.contiguous().view(n, 0, 0)
    out = _nll(x, target, weight, reduction, ignore_index)
    return out.view(out_size) if reduction == NONE else out


def cross_entropy(input: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                  size_average: Optional[bool] = None, ignore_index: int = -100, reduce: Optional[bool] = None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """The cross entropy between the log-softmax of ``input`` over the class dim (dim 1, or 0 for a
    1-D ``input``) and ``target``: class indices (as :func:`nll_loss`) or, of ``input``'s shape,
    class probabilities; ``label_smoothing`` mixes the target with the uniform distribution."""
    reduction = _reduction(size_average, reduce, reduction)
    enum = _reduction_enum(reduction)
    class_dim = 0 if input.dim() == 1 else 1      # (a 0-d input: PyTorch's errors for dim 1)
    if tuple(input._shape) == tuple(target._shape):
        if not target._dtype.is_floating_point:
            raise RuntimeError("Expected floating point type for target with class probabilities, got "
                               f"{D.legacy_name(target._dtype)}")
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        return _cross_entropy_probabilities(input, target, weight, enum, label_smoothing, class_dim)
    if label_smoothing > 0.0:
        if label_smoothing > 1.0:
            raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
        return _cross_entropy_smoothed(input, target, weight, enum, ignore_index, label_smoothing, class_dim)
    return _nll_nd(input.log_softmax(class_dim), target, weight, enum, ignore_index)


def _class_view(weight: Tensor, ndim: int, class_dim: int) -> Tensor:
    """``weight`` viewed to broadcast along the class dim of an input of ``ndim`` dims."""
    return weight.view(tuple(weight._shape[0] if k == class_dim else 1 for k in range(ndim)))


def _cross_entropy_probabilities(x: Tensor, target: Tensor, weight: Optional[Tensor], reduction: int,
                                 smoothing: float, class_dim: int) -> Tensor:
    n_classes = x.size(class_dim)
    if weight is not None and (weight.dim() != 1 or weight.numel() != n_classes):
        raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all {n_classes} classes or no "
                           f"classes but got weight tensor of shape: {list(weight._shape)}")
    logp = x.log_softmax(class_dim)
    if smoothing > 0.0:
        if smoothing > 1.0:
            raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {smoothing}")
        target = _scalar_op(_mul_scalar(target, 1 - smoothing), smoothing / n_classes, S_ADD)
    terms = logp * target
    if weight is not None:
        terms = terms * (_class_view(weight, x.dim(), 1) if x.dim() > 1 else weight)
    if reduction == MEAN:
        if not x.numel():
            return -terms.sum().fill_(float("nan"))
        return _div_scalar(-terms.sum(), x.numel() // n_classes)
    if reduction == SUM:
        return -terms.sum()
    return -terms.sum(class_dim)


def _cross_entropy_smoothed(x: Tensor, target: Tensor, weight: Optional[Tensor], reduction: int, ignore_index: int,
                            smoothing: float, class_dim: int) -> Tensor:
    logp = x.log_softmax(class_dim)
    nll = _nll_nd(logp, target, weight, reduction, ignore_index)
    ignored = target == ignore_index
    if weight is not None:
        smooth = -(logp * _class_view(weight, logp.dim(), class_dim)).sum(class_dim)
    else:
        smooth = -logp.sum(class_dim)
    smooth.masked_fill_(ignored, 0.0)
    if reduction == MEAN:
        if weight is not None:
            smooth = smooth.sum() / weight.gather(0, target.masked_select(~ignored).flatten()).sum()
        else:
            smooth = smooth.sum() / (~ignored).sum()
    elif reduction == SUM:
        smooth = smooth.sum()
    n = x._shape[class_dim]     # (no class: PyTorch's C++ division gives inf, and 0 * inf nan)
    return _mul_scalar(nll, 1 - smoothing) + _mul_scalar(smooth, smoothing / n if n else math.inf)


# --- binary cross entropy -------------------------------------------------------------------
# A BCE row lists ``input``, ``target`` and the weights (ones when none is given) broadcast to
# the input's shape, and for the logits form with ``pos_weight`` (``ib`` bit 1) that too: the
# weights are constants (PyTorch's node shows no edge to them).  ``ib`` bit 0: the logits form;
# ``ia``: the reduction.
B_LOGITS, B_POS = 1, 2


def _log_sigmoid(x: Tensor) -> Tensor:
    return -plain(np.zeros((), x._dtype.np), x._dtype).logaddexp(-x)


def _bce_vjp(g, xs, y, r):
    x, t, w = xs[:3]
    if r.ia == MEAN:
        g = g / x.numel()
    g = g * w
    if not r.ib & B_LOGITS:
        return _bce_grad(g, x, t), -x.logit() * g, None
    if r.ib & B_POS:
        pw = xs[3]
        pt = pw * t
        return ((pt + 1.0 - t) * x.sigmoid() - pt) * g, (_log_sigmoid(-x) - _log_sigmoid(x) * pw) * g, None, None
    return (x.sigmoid() - t) * g, -x * g, None


def _bce_grad(g: Tensor, x: Tensor, t: Tensor) -> Tensor:
    """PyTorch's gradient of the binary cross entropy (``g`` the adjoint, weighted): ``g (x - t) /
    max(x (1 - x), 1e-12)``, a row of its own (``BinaryCrossEntropyBackwardBackward0``) whose
    derivatives are PyTorch's formulas, as its second derivatives."""
    dt = g._dtype
    xv, tv = x._value(), t._value()
    y = np.require((xv - tv) / np.maximum((1 - xv) * xv, dt.np.type(1e-12)) * g._value(), dt.np, "C")
    if not (state.grad and (g._rg or x._rg or t._rg)):
        return plain(y, dt)
    tape = write_tape()
    nodes = [node_in(tape, a, dt, a._shape) for a in (g, x, t)]
    return recorded(tape, tape.append_listed(BCE_GRAD, dt.arena, y, nodes), y, dt)


def _bce_grad_vjp(gg, xs, y, r):
    g, x, t = xs
    eps = 1e-12
    inverse = 1.0 / ((1.0 - x) * x).clamp(min=eps)
    d2 = (x * x - 2.0 * x * t + t) / ((x + eps).pow(2) * ((1.0 - x) + eps).pow(2))
    return gg * (x - t) * inverse, gg * g * d2, -gg * g * inverse


register(Op(BCE_GRAD, "binary_cross_entropy_backward", "BinaryCrossEntropyBackwardBackward0", X0 | X1 | X2,
            _bce_grad_vjp, arity=LISTED))
register(Op(BCE, "binary_cross_entropy", "BinaryCrossEntropyBackward0", X0 | X1, _bce_vjp, arity=LISTED,
            grad_fn_of=lambda r: ("BinaryCrossEntropyBackward0", "BinaryCrossEntropyWithLogitsBackward0")[r.ib & 1],
            nondiff_of=lambda r: (2, 3) if r.ib & B_POS else (2,)))
tangents({BCE: TRANSPOSED, BCE_GRAD: TRANSPOSED})     # (linear in their adjoints)


def _bce_row(x: Tensor, t: Tensor, weight: Optional[Tensor], pos_weight: Optional[Tensor], reduction: int,
             logits: bool) -> Tensor:
    # (PyTorch's logits form computes in place on ``1 - target``: the result has the target's dtype)
    dt = t._dtype
    v, tv = x._value().astype(dt.np, copy=False), t._value()
    w = np.broadcast_to(weight._value().astype(dt.np, copy=False) if weight is not None else dt.np.type(1), v.shape)
    # (log(0), exp overflow: PyTorch's kernels are quiet, also where a caller's catch_warnings dropped
    # tape's filter of numpy's warnings)
    with np.errstate(all="ignore"):
        if logits:
            log_sig = np.minimum(v, 0) - np.log1p(np.exp(-np.abs(v)))
            if pos_weight is not None:
                pw = np.broadcast_to(pos_weight._value().astype(dt.np, copy=False), v.shape)
                log_sig = log_sig * ((pw - 1) * tv + 1)
            loss = (1 - tv) * v - log_sig
        else:
            loss = (tv - 1) * np.maximum(np.log1p(-v), -100) - tv * np.maximum(np.log(v), -100)
        loss = loss * w
    if reduction == MEAN:
        loss = loss.mean() if loss.size else np.nan
    elif reduction == SUM:
        loss = loss.sum()
    y = np.require(loss, dt.np, "C")
    if not (state.grad and (x._rg or t._rg)):
        return plain(y, dt)
    consts = [plain(np.array(w), dt)]
    if logits and pos_weight is not None:
        consts.append(plain(np.array(pw), dt))
    tape = write_tape()
    nodes = [node_in(tape, a, dt, a._shape) for a in (x, t, *consts)]
    ib = (B_LOGITS if logits else 0) | (B_POS if logits and pos_weight is not None else 0)
    out = recorded(tape, tape.append_listed(BCE, dt.arena, y, nodes, ia=reduction, ib=ib), y, dt)
    # (the weights as given, None where none was: the row's own are constants of the input's shape)
    weights = (("weight", weight), ("pos_weight", pos_weight)) if logits else (("weight", weight),)
    tape.args[out._node] = (("self", SAVED_SELF), ("target", Given(X1))) + weights + (("reduction", reduction),)
    return out


def _no_grad_weight(name: str, arg: str, w: Optional[Tensor]) -> None:
    if w is not None and w._rg and state.grad:
        raise RuntimeError(f"The function '{name}' is not differentiable with respect to argument '{arg}'. "
                           "This input cannot have requires_grad True.")


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                         size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                         reduction: str = "mean") -> Tensor:
    """The binary cross entropy ``-(target log(input) + (1 - target) log(1 - input))`` of
    probabilities ``input`` (each log at least -100), times ``weight``, reduced by ``reduction``."""
    enum = _reduction_enum(_reduction(size_average, reduce, reduction))
    if target.size() != input.size():
        raise ValueError(f"Using a target size ({target.size()}) that is different to the input size ({input.size()}) "
                         "is deprecated. Please ensure they have the same size.")
    if weight is not None:
        weight = weight.expand(_expand_shape(target._shape, weight._shape))
    # (PyTorch's autograd refuses a weight that requires grad before its kernel checks anything)
    _no_grad_weight("binary_cross_entropy", "weight", weight)
    if target._dtype is not input._dtype:
        raise RuntimeError(f"Found dtype {D.legacy_name(target._dtype)} but expected {D.legacy_name(input._dtype)}")
    if not input._dtype.is_floating_point:
        raise NotImplementedError(f"\"binary_cross_entropy\" not implemented for '{D.legacy_name(input._dtype)}'")
    for t in (input, target):
        v = t._value()
        if not ((v >= 0) & (v <= 1)).all():
            raise RuntimeError(f"all elements of {'input' if t is input else 'target'} should be between 0 and 1")
    if weight is not None:       # (a weight that broadcasts the output: PyTorch's last check)
        _same_as_input(input, _broadcast_shapes(input._shape, weight._shape))
    return _bce_row(input, target, weight, None, enum, False)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                                     size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                                     reduction: str = "mean", pos_weight: Optional[Tensor] = None) -> Tensor:
    """The binary cross entropy of ``sigmoid(input)`` and ``target``, computed from the logits
    without overflow; ``pos_weight`` weighs the positive term (along the last dim), ``weight`` the
    whole; reduced by ``reduction``."""
    enum = _reduction_enum(_reduction(size_average, reduce, reduction))
    if target.size() != input.size():
        raise ValueError(f"Target size ({target.size()}) must be the same as input size ({input.size()})")
    # (PyTorch's autograd refuses weights that require grad before its kernel checks anything)
    _no_grad_weight("binary_cross_entropy_with_logits", "weight", weight)
    _no_grad_weight("binary_cross_entropy_with_logits", "pos_weight", pos_weight)
    if not input._dtype.is_floating_point:
        raise NotImplementedError(f"\"log_sigmoid_cpu\" not implemented for '{D.legacy_name(input._dtype)}'")
    if pos_weight is not None:
        _same_as_input(input, _broadcast_shapes(pos_weight._shape, input._shape))
    if weight is not None:
        _same_as_input(input, _broadcast_shapes(input._shape, weight._shape))
    return _bce_row(input, target, weight, pos_weight, enum, True)


def _expand_shape(shape: tuple, other: tuple) -> Size:
    """``torch.broadcast_shapes(shape, other)``, with its message."""
    n = max(len(shape), len(other))
    out = [1] * (n - len(shape)) + list(shape)
    for k in range(-1, -len(other) - 1, -1):
        if other[k] != 1 and out[k] not in (1, other[k]):
            raise RuntimeError(f"Attempting to broadcast a dimension of length {other[k]} at {k}! Mismatching argument "
                               f"at index 1 had {Size(other)}; but expected shape should be broadcastable to {out}")
        if other[k] != 1:
            out[k] = other[k]
    return Size(out)


def _same_as_input(input: Tensor, shape: Size) -> None:
    """PyTorch's error for a weight that broadcasts beyond the input's shape (an in-place product)."""
    if tuple(shape) != tuple(input._shape):
        raise RuntimeError(f"output with shape {list(input._shape)} doesn't match the broadcast shape {list(shape)}")


def _broadcast_shapes(a: tuple, b: tuple) -> Size:
    """PyTorch's broadcast of two shapes (its error where they do not broadcast)."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for k, (p, q) in enumerate(zip(a, b)):
        if p != q and 1 not in (p, q):
            raise RuntimeError(f"The size of tensor a ({p}) must match the size of tensor b ({q}) at non-singleton "
                               f"dimension {k}")
        out.append(q if p == 1 else p)
    return Size(out)


# --- compositions ---------------------------------------------------------------------------
def _apply_reduction(loss: Tensor, reduction: int) -> Tensor:
    """ATen's ``apply_loss_reduction``."""
    return loss.mean() if reduction == MEAN else loss.sum() if reduction == SUM else loss


def _not_integral(name: str, *tensors: Tensor) -> None:
    if any(not t._dtype.is_floating_point for t in tensors):
        raise RuntimeError(f"{name}: Integral inputs not supported.")


def kl_div(input: Tensor, target: Tensor, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """The Kullback-Leibler divergence ``target (log(target) - input)`` of log-probabilities
    ``input`` from ``target`` (given as log-probabilities too if ``log_target``), reduced by
    ``reduction``: ``'batchmean'`` divides the sum by the batch size."""
    if size_average is not None or reduce is not None:
        enum = _reduction_enum(_legacy_reduction(size_average, reduce))
    else:
        if reduction == "mean":
            warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                          "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                          "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                          stacklevel=2)
        enum = _reduction_enum("sum" if reduction == "batchmean" else reduction)
    _not_integral("kl_div", input, target)
    loss = target.exp() * (target - input) if log_target else _kl_div_terms(input, target)
    out = _apply_reduction(loss, enum)
    if reduction == "batchmean" and input.dim() != 0:
        out = out / input.size()[0]
    return out


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                        reduction: str = "mean") -> Tensor:
    """The ranking loss ``max(0, -target (input1 - input2) + margin)``, reduced by ``reduction``."""
    enum = _reduction_enum(_reduction(size_average, reduce, reduction))
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {input1.size()}, input2: {input2.size()}, target: {target.size()} ")
    loss = _scalar_op(-target * (input1 - input2), margin, S_ADD).clamp_min_(0)
    return _apply_reduction(loss, enum)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average: Optional[bool] = None, eps: float = 1e-8, reduce: Optional[bool] = None,
                     reduction: str = "mean") -> Tensor:
    """The negative log likelihood of ``target`` under a Poisson distribution of rate ``exp(input)``
    (or ``input`` if not ``log_input``, with ``eps`` added under the log), with Stirling's
    approximation of ``log(target!)`` if ``full``; reduced by ``reduction``."""
    reduction = _reduction(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not a valid value for reduction")
    enum = _reduction_enum(reduction)
    if log_input:
        product = target * input        # (first, as PyTorch's build evaluates ATen's difference)
        loss = input.exp() - product
    else:
        loss = input - target * _scalar_op(input, eps, S_ADD).log()
    if full:
        # (an integer target times 2 pi: in the default float dtype, as PyTorch's product with a Scalar)
        real = target if target._dtype.is_floating_point else target.to(D.get_default_dtype())
        stirling = target * target.log() - target + _mul_scalar((_mul_scalar(real, 2 * math.pi)).log(), 0.5)
        loss += stirling.masked_fill(target <= 1, 0)
    return _apply_reduction(loss, enum)


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Union[Tensor, float], full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """The negative log likelihood of ``target`` under normal distributions of mean ``input`` and
    variance ``var`` (clamped to ``eps`` at least, without gradient there; one value per sample
    when ``var`` has one dim fewer or a dim of 1), with the constant term if ``full``; reduced
    by ``reduction``."""
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = var * input.new_ones(input.shape)
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if var.size() != input.size():
        if input.size()[:-1] == var.size():
            var = var.unsqueeze(-1)
        elif not (input.dim() == var.dim() and sum(b for a, b in zip(input.size(), var.size()) if a != b) == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    var = var.clone()
    prev, state.grad = state.grad, False        # (PyTorch's ``torch.no_grad()`` around the clamp)
    try:
        var.clamp_(min=eps)
    finally:
        state.grad = prev
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss += 0.5 * math.log(2 * math.pi)
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


# --- PyTorch's top-level forms (``torch.kl_div`` ...): the reduction as ATen's enum, which its
# parser defaults to 0 (no reduction); any other number than 1 (mean) and 2 (sum) reduces nothing.
def _arguments(name: str, *checks) -> None:
    """PyTorch's parser's TypeError for the first argument (name, position or None, value, kind) of
    the wrong type (kind: Tensor, int, float, bool; a bool is no int nor float for it)."""
    for arg, position, value, kind in checks:
        ok = isinstance(value, Tensor) if kind is Tensor else (
            isinstance(value, bool) if kind is bool else
            isinstance(value, int) and not isinstance(value, bool) if kind is int else
            isinstance(value, (int, float)) and not isinstance(value, bool))
        if not ok:
            where = f" (position {position})" if position else ""
            raise TypeError(f"{name}(): argument '{arg}'{where} must be {kind.__name__}, not {type(value).__name__}")


def _enum(reduction: int) -> int:
    return reduction if reduction in (MEAN, SUM) else NONE


@public_function("kl_div")
def _kl_div(input: Tensor, target: Tensor, reduction: int = 0, *, log_target: bool = False) -> Tensor:
    """The pointwise Kullback-Leibler divergence (:func:`tape.nn.functional.kl_div`), ``reduction``
    ATen's enum (0 none, 1 mean, 2 sum)."""
    _arguments("kl_div", ("input", 1, input, Tensor), ("target", 2, target, Tensor), ("reduction", 3, reduction, int),
               ("log_target", None, log_target, bool))
    _not_integral("kl_div", input, target)
    loss = target.exp() * (target - input) if log_target else _kl_div_terms(input, target)
    return _apply_reduction(loss, _enum(reduction))


def _kl_div_terms(input: Tensor, target: Tensor) -> Tensor:
    """ATen's ``xlogy(target, target) - target * input``, the product recorded first, as PyTorch's
    build evaluates it (the order its nodes were made and its saved tensors packed)."""
    product = target * input
    return target.xlogy(target) - product


@public_function("margin_ranking_loss")
def _margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                         reduction: int = 0) -> Tensor:
    """The ranking loss (:func:`tape.nn.functional.margin_ranking_loss`), ``reduction`` ATen's enum."""
    _arguments("margin_ranking_loss", ("input1", 1, input1, Tensor), ("input2", 2, input2, Tensor),
               ("target", 3, target, Tensor), ("margin", 4, margin, float), ("reduction", 5, reduction, int))
    return _apply_reduction(_scalar_op(-target * (input1 - input2), margin, S_ADD).clamp_min_(0), _enum(reduction))


@public_function("poisson_nll_loss")
def _poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool, full: bool, eps: float,
                      reduction: int) -> Tensor:
    """The Poisson negative log likelihood (:func:`tape.nn.functional.poisson_nll_loss`), every
    argument required, ``reduction`` ATen's enum."""
    _arguments("poisson_nll_loss", ("input", 1, input, Tensor), ("target", 2, target, Tensor),
               ("log_input", 3, log_input, bool), ("full", 4, full, bool), ("eps", 5, eps, float),
               ("reduction", 6, reduction, int))
    return poisson_nll_loss(input, target, log_input, full, eps=eps,
                            reduction=("none", "mean", "sum")[_enum(reduction)])


@public_function("binary_cross_entropy_with_logits")
def _binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                                      pos_weight: Optional[Tensor] = None, reduction: int = 0) -> Tensor:
    """The binary cross entropy of logits (:func:`tape.nn.functional.binary_cross_entropy_with_logits`),
    ``reduction`` ATen's enum; ``input`` broadcast to ``target``'s shape."""
    _arguments("binary_cross_entropy_with_logits", ("input", 1, input, Tensor), ("target", 2, target, Tensor),
               ("reduction", 5, reduction, int))
    if input._shape != target._shape:
        shape = _broadcast_shapes(target._shape, input._shape)
        _same_as_input(target, shape)
        input = input.expand(shape)
    return binary_cross_entropy_with_logits(input, target, weight, pos_weight=pos_weight,
                                            reduction=("none", "mean", "sum")[_enum(reduction)])
