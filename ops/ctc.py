"""The connectionist temporal classification loss of ``torch.nn.functional`` (``ctc_loss``).

PyTorch's ``_ctc_loss`` (``CtcLossBackward0``) is one Python-rule row here over ``log_probs``
(:math:`(T, N, C)`) and a constant of its shape: the gradient PyTorch's CPU kernel computes per
unit adjoint, ``exp(log_probs) - exp(log_alpha_beta + nll - log_probs)`` (``log_alpha_beta`` the
log of the summed products of the forward and backward variables of the alignments through each
class; zeros past each input's length, and for an infinite loss with ``zero_infinity``), so that the
rule is that times the adjoint.  The forward and backward variables are computed in numpy, a loop
over time vectorised over the batch and the extended target.  PyTorch has no derivative of that
gradient: recorded, it sits behind its ``NotImplemented`` node.  ``ctc_loss`` around it is ATen's
composition (``zero_infinity``'s ``where``, the mean over the loss divided by the target lengths).
"""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np

from .._emit import D, Tensor, emit, plain, state
from ._rule import rule_adjoint
from ._spec import OUT, PYTHON, SAVED_SELF, Given, Op, register, tangents
from .join import where
from .losses import MEAN, SUM, _reduction_enum
from .margin_losses import no_forward_ad
from .no_grad_grad import CTC_BACKWARD, gradient_without_derivative

CTC = PYTHON.start + 177
_WHERE = " (while checking arguments for ctc_loss_allocate_outputs)"
_NEG_INF = -np.inf


def _ctc_vjp(g, xs, y, r):
    x, grad = xs
    d = grad._value() * g._value().reshape(1, -1, 1)
    return gradient_without_derivative(d, g, x, CTC_BACKWARD), None


register(Op(CTC, "_ctc_loss", "CtcLossBackward0", OUT, _ctc_vjp, py_adjoint=rule_adjoint, arity=2, nondiff=(1,)))
tangents({CTC: no_forward_ad("_ctc_loss")})


def _logsumexp3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """PyTorch's kernel's ``log(exp(a - m) + exp(b - m) + exp(c - m)) + m`` (``m`` their maximum, 0
    where that is -inf)."""
    m = np.maximum(np.maximum(a, b), c)
    m = np.where(m == _NEG_INF, 0, m)
    return np.log(np.exp(a - m) + np.exp(b - m) + np.exp(c - m)) + m


def _shifted(v: np.ndarray, k: int, forward: bool) -> np.ndarray:
    """``v`` moved ``k`` places along its last dim (towards higher ``s`` when ``forward``), -inf in."""
    out = np.full(v.shape, _NEG_INF, v.dtype)
    if forward:
        out[..., k:] = v[..., :v.shape[-1] - k]
    else:
        out[..., :v.shape[-1] - k] = v[..., k:]
    return out


def _extended(targets: np.ndarray, tl: np.ndarray, blank: int, smax: int):
    """The extended targets (blanks between and around the labels; ``blank`` past each one's end),
    and where a transition skips a blank (``l'(s) != l'(s - 2)``, at a label)."""
    n = len(tl)
    ext = np.full((n, smax), blank, np.int64)
    for b in range(n):
        ext[b, 1:2 * tl[b] + 1:2] = targets[b][:tl[b]]
    skip = np.zeros((n, smax), bool)
    skip[:, 2:] = (ext[:, 2:] != ext[:, :-2]) & (np.arange(2, smax) % 2 == 1)
    return ext, skip


def _ctc_forward(lp: np.ndarray, ext: np.ndarray, skip: np.ndarray, il: np.ndarray, tl: np.ndarray):
    """The log forward variables (N, T, S) and the negative log likelihoods (N,)."""
    t_max, n, _ = lp.shape
    smax = ext.shape[1]
    rows = np.arange(n)[:, None]
    emit_ = np.stack([lp[t][rows, ext] for t in range(t_max)], 1)         # (N, T, S): log p of l'(s) at t
    valid = np.arange(smax)[None, :] <= 2 * tl[:, None]
    alpha = np.full((n, t_max, smax), _NEG_INF, lp.dtype)
    if t_max:
        first = np.full((n, smax), _NEG_INF, lp.dtype)
        first[:, 0] = emit_[:, 0, 0]
        has = tl > 0
        first[has, 1] = emit_[has, 0, 1]
        alpha[:, 0] = np.where(il[:, None] > 0, first, _NEG_INF)
    for t in range(1, t_max):
        prev = alpha[:, t - 1]
        la3 = np.where(skip, _shifted(prev, 2, True), _NEG_INF)
        new = _logsumexp3(prev, _shifted(prev, 1, True), la3) + emit_[:, t]
        alpha[:, t] = np.where(valid & (t < il)[:, None], new, _NEG_INF)
    last = np.clip(il - 1, 0, None)
    at = alpha[np.arange(n), last]
    l1 = at[np.arange(n), 2 * tl]
    l2 = np.where(tl > 0, at[np.arange(n), np.maximum(2 * tl - 1, 0)], _NEG_INF)
    m = np.maximum(l1, l2)
    m = np.where(m == _NEG_INF, 0, m)
    nll = -(np.log(np.exp(l1 - m) + np.exp(l2 - m)) + m)
    nll = np.where(il > 0, nll, np.where(tl == 0, 0, np.inf))
    return alpha, emit_, valid, nll.astype(lp.dtype)


def _ctc_gradient(lp, ext, skip, il, tl, alpha, emit_, valid, nll, zero_infinity: bool) -> np.ndarray:
    """PyTorch's CPU gradient per unit adjoint, (T, N, C)."""
    t_max, n, c = lp.shape
    smax = ext.shape[1]
    beta = np.full((n, t_max, smax), _NEG_INF, lp.dtype)
    idx = np.arange(n)
    ends = np.full((n, smax), _NEG_INF, lp.dtype)
    last = np.clip(il - 1, 0, None)
    ends[idx, 2 * tl] = emit_[idx, last, 2 * tl]
    has = tl > 0
    ends[has, 2 * tl[has] - 1] = emit_[idx[has], last[has], 2 * tl[has] - 1]
    # a skip from s to s + 2 is allowed where l'(s + 2) != l'(s): the skip mask moved back two places
    skip_back = np.zeros_like(skip)
    skip_back[:, :-2] = skip[:, 2:]
    for t in range(t_max - 1, -1, -1):
        if t + 1 < t_max:
            nxt = beta[:, t + 1]
            lb3 = np.where(skip_back, _shifted(nxt, 2, False), _NEG_INF)
            rec = _logsumexp3(nxt, _shifted(nxt, 1, False), lb3) + emit_[:, t]
        else:
            rec = np.full((n, smax), _NEG_INF, lp.dtype)
        row = np.where((t == il - 1)[:, None], ends, rec)
        beta[:, t] = np.where(valid & (t < il)[:, None], row, _NEG_INF)
    ab = alpha + beta                                                  # (N, T, S)
    m = ab.max(-1, keepdims=True)
    m = np.where(m == _NEG_INF, 0, m)
    summed = np.zeros((n, t_max, c), lp.dtype)
    b_i, t_i, s_i = np.nonzero(valid[:, None, :] & np.ones((1, t_max, 1), bool))
    np.add.at(summed, (b_i, t_i, ext[b_i, s_i]), np.exp(ab[b_i, t_i, s_i] - m[b_i, t_i, 0]))
    lcab = np.log(summed) + m                                          # (N, T, C)
    # (PyTorch's kernel sets the last step's two terms rather than adding them: where the last label
    # is the blank, the second one alone)
    same = has & (il > 0) & (ext[idx, np.maximum(2 * tl - 1, 0)] == ext[idx, 2 * tl])
    b = idx[same]
    lcab[b, last[b], ext[b, 2 * tl[b]]] = ab[b, last[b], 2 * tl[b] - 1]
    lpb = lp.transpose(1, 0, 2)
    grad = np.exp(lpb) - np.exp(lcab + nll[:, None, None] - lpb)
    live = np.arange(t_max)[None, :] < il[:, None]
    if zero_infinity:
        live = live & ~np.isinf(nll)[:, None]
    grad = np.where(live[:, :, None], grad, 0)
    return np.ascontiguousarray(grad.transpose(1, 0, 2)).astype(lp.dtype)


def _lengths(v: Union[Tensor, Sequence[int]], name: str) -> np.ndarray:
    if isinstance(v, Tensor):
        if v._dtype.is_floating_point or v._dtype.np.kind == "c" or v._dtype is D.bool_:
            raise RuntimeError(f"{name} must be integral")
        return v._value().astype(np.int64).reshape(-1)
    return np.asarray(list(v), np.int64).reshape(-1)


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths: Union[Tensor, Sequence[int]],
             target_lengths: Union[Tensor, Sequence[int]], blank: int = 0, reduction: str = "mean",
             zero_infinity: bool = False) -> Tensor:
    """The connectionist temporal classification loss of ``log_probs`` (:math:`(T, N, C)` or
    :math:`(T, C)`, log-probabilities of the classes at each time, ``blank`` among them) for the
    target sequences ``targets`` (:math:`(N, S)` padded, or concatenated), of lengths
    ``input_lengths`` and ``target_lengths``; ``zero_infinity`` zeroes infinite losses (and their
    gradients); ``'mean'`` divides each loss by its target length before the mean."""
    enum = _reduction_enum(reduction)
    il, tl = _lengths(input_lengths, "input_lengths"), _lengths(target_lengths, "target_lengths")
    batched = log_probs.dim() == 3
    x = log_probs if batched else log_probs.unsqueeze(1)
    if x.dim() != 3:
        raise RuntimeError(f"Expected 3-dimensional tensor, but got {x.dim()}-dimensional tensor for argument #1 "
                           "'log_probs'" + _WHERE)
    if not x.numel():
        raise RuntimeError("log_probs tensor must not be empty")
    t_max, n, c = x._shape
    if not 0 <= blank < c:
        raise RuntimeError("blank must be in label range")
    if len(il) != n:
        raise RuntimeError("input_lengths must be of size batch_size")
    if len(tl) != n:
        raise RuntimeError("target_lengths must be of size batch_size")
    tv = targets._value().astype(np.int64)
    if (tl < 0).any():
        raise RuntimeError(f"Expected target_lengths to have value at least 0, but got value {int(tl[tl < 0][0])} "
                           + _WHERE[1:])
    if targets.dim() == 1:
        if tv.shape[0] != tl.sum():
            raise RuntimeError(f"Expected tensor to have size {int(tl.sum())} at dimension 0, but got size "
                               f"{tv.shape[0]} for argument #2 'targets'" + _WHERE)
        offsets = np.concatenate([[0], np.cumsum(tl)[:-1]]).astype(np.int64)
        rows = [tv[o:o + k] for o, k in zip(offsets, tl)]
    else:
        if tv.shape[0] != n:
            raise RuntimeError(f"Expected tensor to have size {n} at dimension 0, but got size {tv.shape[0]} for "
                               "argument #2 'targets'" + _WHERE)
        if n and tv.shape[1] < tl.max():
            raise RuntimeError(f"Expected tensor to have size at least {int(tl.max())} at dimension 1, but got size "
                               f"{tv.shape[1]} for argument #2 'targets'" + _WHERE)
        rows = list(tv)
    if (il < 0).any():
        raise RuntimeError(f"Expected input_lengths to have value at least 0, but got value {int(il[il < 0][0])} "
                           + _WHERE[1:])
    if (il > t_max).any():
        raise RuntimeError(f"Expected input_lengths to have value at most {t_max}, but got value "
                           f"{int(il[il > t_max][0])}" + _WHERE)
    if not x._dtype.is_floating_point:
        raise NotImplementedError(f"\"ctc_loss_cpu\" not implemented for '{D.legacy_name(x._dtype)}'")
    dt = x._dtype
    lp = x._value()
    smax = 2 * (int(tl.max()) if n else 0) + 1
    ext, skip = _extended(rows, tl, blank, smax)
    with np.errstate(all="ignore"):
        alpha, emit_, valid, nll = _ctc_forward(lp, ext, skip, il, tl)
        y = np.require(nll, dt.np, "C")
        if x._rg and state.grad:
            grad = _ctc_gradient(lp, ext, skip, il, tl, alpha, emit_, valid, nll, zero_infinity)
            res = emit(CTC, y, dt, x, plain(grad, dt))
            res._tape.args[res._node] = (
                ("log_probs", SAVED_SELF), ("targets", targets), ("input_lengths", tuple(int(v) for v in il)),
                ("target_lengths", tuple(int(v) for v in tl)), ("blank", blank), ("zero_infinity", zero_infinity),
                ("result0", Given(OUT)), ("result1", plain(np.ascontiguousarray(alpha), dt)))
        else:
            res = plain(y, dt)
    if zero_infinity:
        res = where(res == np.inf, plain(np.zeros((), dt.np), dt), res)
    if enum == MEAN:
        return (res / plain(np.maximum(tl, 1).astype(dt.np), dt)).mean()
    if enum == SUM:
        return res.sum()
    return res if batched else res.squeeze(0)
