"""Loss functions of ``torch.nn.functional``.

The losses PyTorch computes in one op of its own (``MseLossBackward0``, ``SmoothL1LossBackward0``,
``HuberLossBackward0``, ``SoftMarginLossBackward0``) are one Python-rule row each (``ops/_rule.py``), the
reduction kept in the row, their derivative written in tape ops as PyTorch's formula, so every order
comes from it.  The losses PyTorch writes as a composition (``l1_loss``, the weighted forms) are the
same composition here, so their nodes are PyTorch's too.
"""
from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

from .._emit import D, Tensor, emit, node_in, plain, recorded, state, write_tape
from ._rule import rule_adjoint
from ._spec import PYTHON, TRANSPOSED, X0, X1, Op, public, register, tangents
from .layout import broadcast_tensors

POINTWISE = PYTHON.start + 97
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
    dd = d * 2.0 if r.ib == MSE else (d / r.fa).clamp(-1.0, 1.0) if r.ib == SMOOTH_L1 else d.clamp(-r.fa, r.fa)
    dx = dd * g
    return dx, -dx


def _pointwise_saved(r) -> tuple:
    param = (("beta", lambda r: r.fa),) if r.ib == SMOOTH_L1 else (("delta", lambda r: r.fa),) if r.ib == HUBER else ()
    return param + (("reduction", lambda r: r.ia), ("self", X0), ("target", X1))


register(Op(POINTWISE, "mse_loss", "MseLossBackward0", X0 | X1, _pointwise_vjp, py_adjoint=rule_adjoint, arity=2,
            grad_fn_of=lambda r: _POINTWISE_NODES[r.ib], nondiff_of=lambda r: (1,) if r.ib == SOFT_MARGIN else (),
            node_saved=_pointwise_saved))
tangents({POINTWISE: TRANSPOSED})       # (the rule is linear in its adjoint)


@public("_pointwise_loss")
def _pointwise(self, target: Tensor, reduction: int, kind: int, p: float = 0.0) -> Tensor:
    """The row of the pointwise loss ``kind`` over ``self`` and ``target`` of one shape, computed in
    their promoted dtype (the Huber loss: in ``self``'s, as PyTorch's)."""
    dt = self._dtype if kind == HUBER and self._dtype.is_floating_point else D.result_type(self, target)
    if not dt.is_floating_point:
        raise NotImplementedError(f"\"{_POINTWISE_KERNELS[kind]}\" not implemented for '{D.legacy_name(dt)}'")
    if kind == SOFT_MARGIN and target._rg and state.grad:
        raise RuntimeError("The function 'soft_margin_loss' is not differentiable with respect to argument 'target'. "
                           "This input cannot have requires_grad True.")
    with np.errstate(all="ignore"):
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
    return x._pointwise_loss(t, _reduction_enum(reduction), MSE)


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
    return x._pointwise_loss(t, enum, SMOOTH_L1, float(beta))


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
    return x._pointwise_loss(t, reduction, HUBER, float(delta))


def soft_margin_loss(input: Tensor, target: Tensor, size_average: Optional[bool] = None,
                     reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """The two-class logistic loss ``log(1 + exp(-target * input))``, reduced by ``reduction``."""
    reduction = _reduction(size_average, reduce, reduction)
    return input._pointwise_loss(target, _reduction_enum(reduction), SOFT_MARGIN)


__all__ = ["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss", "soft_margin_loss"]
