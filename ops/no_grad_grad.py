"""Gradients that PyTorch computes with a backward op of its own that has no derivative
(``multi_margin_loss_backward``, ``multilabel_margin_loss_backward``, ``_ctc_loss_backward``,
``hardsigmoid_backward``).

Recorded (``create_graph=True``), such a gradient sits behind PyTorch's ``NotImplemented`` node: it
requires grad, and a backward that reaches it raises ``derivative for aten::<op> is not
implemented``; a tangent through it (forward over reverse) raises when it is computed.  One
Python-rule row serves them all, its ``ib`` naming the backward op; the value is computed by the
op's own first-order rule.
"""
from __future__ import annotations

import numpy as np

from .._emit import D, Tensor, emit, plain, state
from ._rule import rule_adjoint
from ._spec import PYTHON, Op, register, tangents

NO_GRAD_GRAD = PYTHON.start + 171
# (``ib`` of a NO_GRAD_GRAD row)
_BACKWARDS = ("multi_margin_loss_backward", "multilabel_margin_loss_backward", "_ctc_loss_backward",
              "hardsigmoid_backward")
MULTI_MARGIN_BACKWARD, MULTILABEL_MARGIN_BACKWARD, CTC_BACKWARD, HARDSIGMOID_BACKWARD = range(4)


def _raise(g, xs, y, r):
    raise RuntimeError(f"derivative for aten::{_BACKWARDS[r.ib]} is not implemented")


def _no_tangent(ts, xs, y, r):
    raise NotImplementedError(f"Trying to use forward AD with aten::{_BACKWARDS[r.ib]} that does not support it.")


register(Op(NO_GRAD_GRAD, "_backward_without_derivative", "NotImplemented", 0, _raise, py_adjoint=rule_adjoint,
            arity=2))
tangents({NO_GRAD_GRAD: _no_tangent})


def gradient_without_derivative(d: np.ndarray, g: Tensor, x: Tensor, kind: int) -> Tensor:
    """The gradient ``d`` that the backward op ``kind`` computed from the adjoint ``g`` and the
    saved ``x``: recorded (grad mode on and either requires grad), behind PyTorch's
    ``NotImplemented`` node over ``g`` and ``x``."""
    dt = x._dtype
    d = np.require(d, dt.np, "C")
    if state.grad and (g._rg or x._rg):
        return emit(NO_GRAD_GRAD, d, dt, _as(g, dt), _as(x, dt), ib=kind)
    return plain(d, dt)


def _as(t: Tensor, dt: D.dtype) -> Tensor:
    return t if t._dtype is dt else t.to(dt)
