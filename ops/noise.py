"""The layers of ``torch.nn.functional`` that draw from the default generator: ``rrelu``, the
dropout variants (``alpha_dropout``, ``feature_alpha_dropout``, ``dropout1d/2d/3d``) and
``gumbel_softmax``.

``rrelu`` is one op in PyTorch (``RreluWithNoiseBackward0``; ``RreluWithNoiseBackward1`` in place):
here a Python-rule row over the input and its noise, the slope of each element (1 where the input
is positive; in training a uniform draw from ``[lower, upper)``, one per non-positive element in
memory order, as PyTorch's kernel draws them; else ``(lower + upper) / 2``), whose gradient is the
adjoint times the noise.  The dropout variants are ATen's ``_dropout_impl``: a Bernoulli mask of the
input's shape (feature dropout: one per channel, of shape ``(N, C, 1, ...)``), scaled, times the
input (alpha dropout: plus an offset), so their nodes are PyTorch's ``MulBackward0`` and
``AddBackward0``.
"""
from __future__ import annotations

import math
import warnings
from typing import Optional

import numpy as np

from .._emit import D, Number, Tensor, emit, plain, state
from ._rule import rule_adjoint
from ._spec import OUT, PYTHON, TRANSPOSED, X0, X1, Op, public, register, tangents

RRELU, RRELU_, RRELU_GRAD = PYTHON.start + 174, PYTHON.start + 175, PYTHON.start + 176
_ALPHA = 1.7580993408473766         # (ATen's: SELU's scale times its alpha)


# --- rrelu -------------------------------------------------------------------------------------
def _rrelu_vjp(g, xs, y, r):
    x, noise = xs
    d = g * noise
    if state.grad and x._rg:
        # PyTorch's gradient is a function of the input too (of zero derivative): recorded, it needs a
        # gradient whenever the input does, under ``RreluWithNoiseBackwardBackward0``
        return emit(RRELU_GRAD, np.require(d._value(), d._dtype.np, "C"), d._dtype, d, x), None
    return d, None


def _rrelu_saved(result: bool):
    return (("lower", lambda r: r.fa), ("noise", X1), ("result", OUT) if result else ("self", X0),
            ("training", lambda r: bool(r.ib)), ("upper", lambda r: r.fb))


register(Op(RRELU, "rrelu_with_noise", "RreluWithNoiseBackward0", X0 | X1, _rrelu_vjp, py_adjoint=rule_adjoint,
            arity=2, nondiff=(1,), node_saved=_rrelu_saved(False)))
register(Op(RRELU_, "rrelu_with_noise_", "RreluWithNoiseBackward1", OUT | X1, _rrelu_vjp, py_adjoint=rule_adjoint,
            arity=2, nondiff=(1,), node_saved=_rrelu_saved(True)))
register(Op(RRELU_GRAD, "rrelu_with_noise_backward", "RreluWithNoiseBackwardBackward0", 0,
            lambda g, xs, y, r: (g, plain(np.zeros(xs[1]._shape, g._dtype.np), g._dtype)), py_adjoint=rule_adjoint,
            arity=2))
tangents({RRELU: TRANSPOSED, RRELU_: TRANSPOSED, RRELU_GRAD: TRANSPOSED})      # (linear in their adjoints)


def _input(input, name: str) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return input


def _rrelu_noise(x: Tensor, lower: float, upper: float, training: bool, generator=None) -> np.ndarray:
    """Each element's slope: PyTorch's draws (``uniform_real_distribution<double>`` over the bounds
    in the input's precision, the result rounded to it) or the mean slope."""
    v = x._value()
    dt = x._dtype.np
    positive = v > 0
    if not training:
        return np.where(positive, dt.type(1), dt.type((lower + upper) / 2))
    noise = np.ones(v.shape, dt)
    at = ~positive
    lo, hi = (float(dt.type(b)) for b in (lower, upper))
    u = plain(np.empty(int(at.sum()), np.float64), D.float64).uniform_(generator=generator)._value()
    noise[at] = (u * (hi - lo) + lo).astype(dt)
    return noise


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """Applies the randomized leaky rectified linear unit element-wise: ``x`` where ``x > 0``, else
    ``a * x`` with ``a`` drawn uniformly from ``[lower, upper)`` when ``training`` (from the default
    generator), ``(lower + upper) / 2`` otherwise."""
    return _rrelu(input, lower, upper, training, inplace, None)


def _rrelu(input: Tensor, lower: float, upper: float, training: bool, inplace: bool, generator) -> Tensor:
    name = "rrelu_" if inplace else "rrelu"
    x = _input(input, name)
    if upper < lower:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if not x._dtype.is_floating_point:
        # (in evaluation PyTorch's kernel is leaky_relu's, with the mean slope)
        kernel = "rrelu_with_noise_out_cpu" if training else "leaky_relu_cpu"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{D.legacy_name(x._dtype)}'")
    if inplace:
        x._check_inplace()
    noise = _rrelu_noise(x, lower, upper, training, generator)
    v = x._value()
    y = np.require(np.where(v > 0, v, v * noise), x._dtype.np, "C")
    recorded = x._rg and state.grad
    if inplace:
        out = emit(RRELU_, y, x._dtype, x, plain(noise, x._dtype), ib=int(training), fa=float(lower),
                   fb=float(upper)) if recorded else plain(y, x._dtype)
        return x._inplace(out)
    if recorded:
        return emit(RRELU, y, x._dtype, x, plain(noise, x._dtype), ib=int(training), fa=float(lower), fb=float(upper))
    return plain(y, x._dtype)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False) -> Tensor:
    """In-place version of :func:`rrelu`."""
    return rrelu(input, lower, upper, training, inplace=True)


@public("rrelu", method=False)
def _rrelu_function(input: Tensor, lower: Number = 1.0 / 8, upper: Number = 1.0 / 3, training: bool = False,
                    generator: Optional[object] = None) -> Tensor:
    """:func:`tape.nn.functional.rrelu` as PyTorch's ``torch.rrelu`` (draws from ``generator`` if given)."""
    return _rrelu(input, lower, upper, training, False, generator)


@public("rrelu_", method=False)
def _rrelu_function_(input: Tensor, lower: Number = 1.0 / 8, upper: Number = 1.0 / 3, training: bool = False,
                     generator: Optional[object] = None) -> Tensor:
    """In-place version of :func:`tape.rrelu`."""
    return _rrelu(input, lower, upper, training, True, generator)


# --- dropout variants ----------------------------------------------------------------------------
def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout_impl(input: Tensor, p: float, train: bool, feature: bool, alpha: bool, inplace: bool) -> Tensor:
    """ATen's ``_dropout_impl``."""
    if p == 0 or not train or input.numel() == 0:
        return input
    dt = input._dtype
    if p == 1:
        zero = plain(np.zeros((), dt.np), dt)
        return input.mul_(zero) if inplace else input * zero
    if feature:
        if input.dim() < 2:
            raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
        shape = tuple(input._shape[:2]) + (1,) * (input.dim() - 2)
    else:
        shape = tuple(input._shape)
    noise = plain(np.empty(shape, dt.np), dt).bernoulli_(1 - p)._value()
    if alpha:
        a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
        b = plain(np.require((noise + dt.np.type(-1)) * dt.np.type(_ALPHA * a) + dt.np.type(_ALPHA * a * p), dt.np,
                             "C"), dt)
        scaled = plain(np.require(noise * dt.np.type(a), dt.np, "C"), dt)
        return (input.mul_(scaled) if inplace else input * scaled).add_(b)
    scaled = plain(np.require(noise / dt.np.type(1 - p), dt.np, "C"), dt)
    return input.mul_(scaled) if inplace else input * scaled


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Applies alpha dropout, which keeps the mean and variance of a SELU network's activations: each
    element replaced by SELU's negative saturation value with probability ``p`` (from the default
    generator), then scaled and shifted, when ``training``."""
    _check_p(p)
    return _dropout_impl(_input(input, "alpha_dropout_" if inplace else "alpha_dropout"), p, training, False, True,
                         inplace)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Applies alpha dropout to whole channels (dim 1) of ``input`` at once (see :func:`alpha_dropout`)."""
    _check_p(p)
    name = "feature_alpha_dropout_" if inplace else "feature_alpha_dropout"
    return _dropout_impl(_input(input, name), p, training, True, True, inplace)


def _feature_dropout(input: Tensor, p: float, training: bool, inplace: bool, name: str) -> Tensor:
    return _dropout_impl(_input(input, name + ("_" if inplace else "")), p, training, True, False, inplace)


def _unbatched(input: Tensor, p: float, training: bool, inplace: bool) -> Tensor:
    """Feature dropout of an input without a batch dim: over it unsqueezed, squeezed back."""
    x = input.unsqueeze_(0) if inplace else input.unsqueeze(0)
    out = _feature_dropout(x, p, training, inplace, "feature_dropout")
    return out.squeeze_(0) if inplace else out.squeeze(0)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zeroes whole channels (1-D feature maps, dim 1 of an ``(N, C, L)`` input or dim 0 of a
    ``(C, L)`` one) with probability ``p`` (from the default generator) and scales the others by
    ``1 / (1 - p)`` when ``training``."""
    _check_p(p)
    nd = input.dim()
    if nd not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {nd}D input. Note that dropout1d "
                           "exists to provide channel-wise dropout on inputs with 1 spatial dimension, a channel "
                           "dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    if nd == 3:
        return _feature_dropout(input, p, training, inplace, "feature_dropout")
    return _unbatched(input, p, training, inplace)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zeroes whole channels (2-D feature maps, dim 1) with probability ``p`` (from the default
    generator) and scales the others by ``1 / (1 - p)`` when ``training``; a 3-D input is taken as
    ``(N, C, L)``, with PyTorch's warning."""
    _check_p(p)
    nd = input.dim()
    if nd not in (3, 4):
        warnings.warn(f"dropout2d: Received a {nd}-D input to dropout2d, which is deprecated and will result in an "
                      "error in a future release. To retain the behavior and silence this warning, please use dropout "
                      "instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 spatial "
                      "dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
                      stacklevel=2)
    if nd == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior "
                      "is desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior "
                      "will change in a future release to interpret the input as one without a batch dimension, i.e. "
                      "shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using "
                      "dropout1d instead.", stacklevel=2)
    return _feature_dropout(input, p, training, inplace, "feature_dropout")


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zeroes whole channels (3-D feature maps, dim 1 of an ``(N, C, D, H, W)`` input or dim 0 of a
    ``(C, D, H, W)`` one) with probability ``p`` (from the default generator) and scales the others
    by ``1 / (1 - p)`` when ``training``."""
    _check_p(p)
    nd = input.dim()
    if nd not in (4, 5):
        warnings.warn(f"dropout3d: Received a {nd}-D input to dropout3d, which is deprecated and will result in an "
                      "error in a future release. To retain the behavior and silence this warning, please use dropout "
                      "instead. Note that dropout3d exists to provide channel-wise dropout on inputs with 3 spatial "
                      "dimensions, a channel dimension, and an optional batch dimension (i.e. 4D or 5D inputs).",
                      stacklevel=2)
    if nd == 5:
        return _feature_dropout(input, p, training, inplace, "feature_dropout")
    return _unbatched(input, p, training, inplace)


# PyTorch's top-level forms (``torch.alpha_dropout`` ...): every argument required, ``p`` checked by ATen
def _top(input: Tensor, p: float, train: bool, feature: bool, alpha: bool, inplace: bool) -> Tensor:
    if not 0 <= p <= 1:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p:g}")
    return _dropout_impl(input, p, train, feature, alpha, inplace)


@public("alpha_dropout", method=False)
def _alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """:func:`tape.nn.functional.alpha_dropout` as PyTorch's ``torch.alpha_dropout``."""
    return _top(input, p, train, False, True, False)


@public("alpha_dropout_", method=False)
def _alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """In-place version of :func:`tape.alpha_dropout`."""
    return _top(input, p, train, False, True, True)


@public("feature_alpha_dropout", method=False)
def _feature_alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """:func:`tape.nn.functional.feature_alpha_dropout` as PyTorch's ``torch.feature_alpha_dropout``."""
    return _top(input, p, train, True, True, False)


@public("feature_alpha_dropout_", method=False)
def _feature_alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """In-place version of :func:`tape.feature_alpha_dropout`."""
    return _top(input, p, train, True, True, True)


@public("feature_dropout", method=False)
def _feature_dropout_function(input: Tensor, p: float, train: bool) -> Tensor:
    """Dropout of whole channels (dim 1) as PyTorch's ``torch.feature_dropout`` (what
    :func:`tape.nn.functional.dropout2d` calls)."""
    return _top(input, p, train, True, False, False)


@public("feature_dropout_", method=False)
def _feature_dropout_function_(input: Tensor, p: float, train: bool) -> Tensor:
    """In-place version of :func:`tape.feature_dropout`."""
    return _top(input, p, train, True, False, True)


# --- gumbel softmax ------------------------------------------------------------------------------
def gumbel_softmax(logits: Tensor, tau: float = 1, hard: bool = False, eps: float = 1e-10, dim: int = -1) -> Tensor:
    """Samples from the Gumbel-Softmax distribution of ``logits`` at temperature ``tau`` (Gumbel noise
    from the default generator): the softmax over ``dim`` of ``(logits + noise) / tau``; ``hard``: the
    one-hot of its maximum, differentiated as the soft sample (straight through)."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    gumbels = -plain(np.empty(logits._shape, logits._dtype.np), logits._dtype).exponential_().log()
    y_soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = plain(np.zeros(logits._shape, logits._dtype.np), logits._dtype).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft
