"""The updates of SGD and Adam on the parameters' numpy arrays, for a step that records nothing.

A training loop's step changes each parameter and its state with a handful of in-place tensor
operations; each costs a front end, checks and an in-place copy.  When nothing in the step needs
the tensor path (the step is not differentiable, the hyperparameters are numbers, the tensors are
plain float arrays of one dtype and shape that no view, alias or recorded row involves), the same
numpy expressions run on the arrays themselves: the values are the tensor operations' to the bit,
and each tensor's version counts the changes the operations would have made.
"""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor, _plain


def plain(*ts) -> bool:
    """Whether the step may write these tensors' arrays in place: float arrays of one dtype and shape,
    contiguous and writable, neither views nor recorded, with no views of their own, none of the
    memory of another (an alias, ``.data`` or ``detach()``'s, sees the change as it would)."""
    first = ts[0]
    dt, shape = first._dtype, first._shape
    if not dt.is_floating_point or not shape:
        return False
    for t in ts:
        if t is None:
            continue
        v = t._v
        if t._dtype is not dt or t._shape != shape or t._f is not None or t._vb is not None or t._tape is not None \
                or t._views or t._inf or v is None or not v.flags.c_contiguous \
                or not v.flags.writeable:
            return False
    arrays = [t._v for t in ts if t is not None]
    for i, a in enumerate(arrays):
        for b in arrays[i + 1:]:
            if np.may_share_memory(a, b):
                return False
    return True


def counter(step_t: Tensor) -> bool:
    """Whether a step counter (a 0-d float tensor) may be counted in place."""
    return step_t._tape is None and step_t._vb is None and not step_t._views and not step_t._shape and \
        (step_t._f is not None or step_t._v.flags.writeable) and step_t._dtype.is_floating_point


def changed(t: Tensor, times: int = 1) -> None:
    """Count ``times`` in-place changes of ``t`` (its version, and the rows that saved it)."""
    for _ in range(times):
        t._bump()


def count_step(step_t: Tensor) -> float:
    """``step_t += 1`` (a 0-d tensor: a Python float for float64, else a 0-d array); the new count."""
    if step_t._f is not None:
        step_t._f = step_t._f + 1.0
    else:
        np.add(step_t._v, 1, out=step_t._v)
    changed(step_t)
    return step_t.item()


def sgd_step(param: Tensor, grad: Tensor, buffer, *, lr: float, weight_decay: float, momentum: float,
             dampening: float, nesterov: bool, maximize: bool):
    """One parameter's SGD update; returns its momentum buffer (a new one at the first step)."""
    p = param._v
    g = np.negative(grad._v) if maximize else grad._v
    if weight_decay != 0:
        g = g + p * weight_decay
    if momentum != 0:
        if buffer is None:
            buffer = _plain(np.array(g), param._dtype)
        else:
            b = buffer._v
            np.multiply(b, momentum, out=b)
            np.add(b, g if 1 - dampening == 1 else g * (1 - dampening), out=b)
            changed(buffer, 2)
        g = g + buffer._v * momentum if nesterov else buffer._v
    np.add(p, g * -lr, out=p)
    changed(param)
    return buffer


def adam_step(param: Tensor, grad: Tensor, exp_avg: Tensor, exp_avg_sq: Tensor, max_exp_avg_sq, step_t: Tensor, *,
              amsgrad: bool, beta1: float, beta2: float, lr: float, weight_decay: float, eps: float,
              maximize: bool, decoupled_weight_decay: bool) -> None:
    """One parameter's Adam (or AdamW) update."""
    p, m, v = param._v, exp_avg._v, exp_avg_sq._v
    g = np.negative(grad._v) if maximize else grad._v
    step = count_step(step_t)
    if weight_decay != 0:
        if decoupled_weight_decay:
            np.multiply(p, 1 - lr * weight_decay, out=p)
            changed(param)
        else:
            g = g + p * weight_decay
    w = m.dtype.type(1 - beta1)
    # (``lerp_forward`` with a number weight: one of its two formulas, the one its mask picks everywhere)
    diff = g - m
    if abs(w) < 0.5:
        np.add(m, w * diff, out=m)
    else:
        np.subtract(g, diff * (1 - w), out=m)
    changed(exp_avg)
    np.multiply(v, beta2, out=v)
    np.add(v, v.dtype.type(1 - beta2) * g * g, out=v)
    changed(exp_avg_sq, 2)
    bias_correction1 = 1 - beta1 ** step
    bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
    if amsgrad:
        mx = max_exp_avg_sq._v
        np.maximum(mx, v, out=mx)
        changed(max_exp_avg_sq)
        source = mx
    else:
        source = v
    denom = np.sqrt(source) / bias_correction2_sqrt + eps
    np.add(p, p.dtype.type(-(lr / bias_correction1)) * m / denom, out=p)
    changed(param)
