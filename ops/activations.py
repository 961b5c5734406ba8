"""The activation functions of ``torch.nn.functional`` whose PyTorch node is their own (``GeluBackward0``,
``SiluBackward0``, ``SoftplusBackward0``, ``EluBackward0/1``, ``LeakyReluBackward0/1``, ``CeluBackward1``,
``HardtanhBackward0``, ``LogSigmoidBackward0``, ``SoftshrinkBackward0``, ``HardsigmoidBackward0``,
``HardswishBackward0``, ``MishBackward0``, ``GluBackward0``).

Two Python-rule rows (``ops/_rule.py``): ``ACT`` saves its input, ``ACT_RESULT`` (the in-place forms
PyTorch differentiates through their result) its output; ``ib`` says which function, ``fa``/``fb`` its
numeric arguments (glu's dim in ``fa``), ``ia`` how they were given (float, int or bool, as the node
shows them: two bits each) and, from bit 4, gelu's ``approximate``.  Each derivative is
PyTorch's formula written in tape ops, so every order comes from it, but hardsigmoid's: its
gradient, PyTorch's ``hardsigmoid_backward``, has no derivative there (``ops/no_grad_grad.py``).
PyTorch has these only in ``torch.nn.functional`` (``torch._C._nn``), but ``selu_`` and ``celu_``,
which are ``torch`` functions.
"""
from __future__ import annotations

import math

import numpy as np

from .._emit import D, Number, Tensor, emit, plain, state
from ._args import wrap_dim
from ._rule import diagonal, rule_adjoint
from ._spec import OUT, PYTHON, SAVED_SELF, TRANSPOSED, X0, Op, public, register, tangents
from .elementwise import ERF, M_POS, M_ZERO, SELU_ALPHA, SELU_SCALE, _elu_vjp, _special
from .join import cat, where
from .no_grad_grad import HARDSIGMOID_BACKWARD, gradient_without_derivative

ACT, ACT_RESULT = PYTHON.start + 57, PYTHON.start + 58
# ``ib`` of an ACT row
(GELU, SILU, SOFTPLUS, ELU, LEAKY_RELU, HARDTANH, LOG_SIGMOID, SOFTSHRINK, HARDSIGMOID, HARDSWISH, MISH,
 GLU) = range(12)
# ``ib`` of an ACT_RESULT row: elu_ and selu_ (alpha ``fa``, scale ``fb``), celu_ (alpha), leaky_relu_
ELU_, CELU_, LEAKY_RELU_ = range(3)

_NAMES = ("GeluBackward0", "SiluBackward0", "SoftplusBackward0", "EluBackward0", "LeakyReluBackward0",
          "HardtanhBackward0", "LogSigmoidBackward0", "SoftshrinkBackward0", "HardsigmoidBackward0",
          "HardswishBackward0", "MishBackward0", "GluBackward0")
_NAMES_RESULT = ("EluBackward1", "CeluBackward1", "LeakyReluBackward1")
_APPROXIMATE = ("none", "tanh")
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_RSQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_CUBIC = 0.044715
_ONE_SIXTH = float(np.float32(1.0) / np.float32(6.0))     # (PyTorch's hardsigmoid_backward: 1 / 6 in float32)


def _kind(v: Number) -> int:
    return 2 if isinstance(v, bool) else 1 if isinstance(v, int) else 0


def _as_given(value: float, kind: int) -> Number:
    return (float, int, bool)[kind](value)


def _fa(r) -> Number:
    return _as_given(r.fa, r.ia & 3)


def _fb(r) -> Number:
    return _as_given(r.fb, r.ia >> 2 & 3)


# --- derivatives -------------------------------------------------------------------------
def _gelu_d(x: Tensor, tanh: bool) -> Tensor:
    if tanh:
        t = ((x + x * x * x * _GELU_CUBIC) * _SQRT_2_OVER_PI).tanh()
        return (t + 1.0) * 0.5 + x * 0.5 * (1.0 - t * t) * ((x * x * (3.0 * _GELU_CUBIC) + 1.0) * _SQRT_2_OVER_PI)
    return ((x * math.sqrt(0.5)).erf() + 1.0) * 0.5 + x * (x * x * -0.5).exp() * _RSQRT_2PI


def _softplus_d(x: Tensor, beta: float, threshold: float) -> Tensor:
    bx = x * beta
    return where(bx > threshold, 1.0, bx.sigmoid())


# The piecewise-constant derivatives depend on x through a zero mask: as in PyTorch, the gradient
# of a gradient is then zeros, where without it the first gradient would need none.
def _zero(x: Tensor) -> Tensor:
    return x._mask(M_ZERO)


def _leaky(g: Tensor, x: Tensor, slope: float) -> Tensor:
    """``g`` where x > 0, ``g * slope`` elsewhere (0 for a slope of 0, even where g is not finite)."""
    pos = x._mask(M_POS)
    return g._masked(pos + (1.0 - pos) * slope)


def _act_vjp(g, xs, y, r):
    # (``int``: a dispatch over twelve functions takes more branches than a compiled program has
    # guards, so these rules run in Python, over whole rows)
    x, k = xs[0], int(r.ib)
    if k == GELU:
        return (g * _gelu_d(x, bool(r.ia >> 4)),)
    if k == SILU:
        s = x.sigmoid()
        return (g * (s * (x * (1.0 - s) + 1.0)),)
    if k == SOFTPLUS:
        return (g * _softplus_d(x, r.fa, r.fb),)
    if k == ELU:
        alpha = r.fa
        return _elu_vjp(g, x, 1.0, alpha, lambda t: t.exp() * alpha)
    if k == LEAKY_RELU:
        return (_leaky(g, x, r.fa),)
    if k == HARDTANH:
        return (where((x <= r.fa) | (x >= r.fb), _zero(x), g),)
    if k == LOG_SIGMOID:
        return (g * (-x).sigmoid(),)
    if k == SOFTSHRINK:
        return (where((x >= -r.fa) & (x <= r.fa), _zero(x), g),)
    if k == HARDSIGMOID:
        return (_hardsigmoid_backward(g, x),)
    if k == HARDSWISH:
        # (PyTorch's: the slope of the middle piece on the open interval only; 0 at -3, 1 at 3)
        return (where(x <= -3.0, _zero(x), where(x < 3.0, g * (x / 3.0 + 0.5), g)),)
    if k == MISH:
        t = _softplus(x, 1.0, 20.0).tanh()
        return (g * (t + x * x.sigmoid() * (1.0 - t * t)),)
    d = wrap_dim(int(r.fa), x.dim())
    h = x._shape[d] // 2
    a, b = x.narrow(d, 0, h), x.narrow(d, h, h)
    s = b.sigmoid()
    return (cat([g * s, g * a * s * (1.0 - s)], d),)


def _hardsigmoid_backward(g: Tensor, x: Tensor) -> Tensor:
    """PyTorch's ``hardsigmoid_backward``: ``g / 6`` (in float32) on the open interval (-3, 3), 0
    elsewhere.  It has no derivative in PyTorch, so recorded it is behind the ``NotImplemented`` node."""
    xv = x._value()
    d = np.where((xv > -3.0) & (xv < 3.0), g._value() * xv.dtype.type(_ONE_SIXTH), xv.dtype.type(0))
    return gradient_without_derivative(d, g, x, HARDSIGMOID_BACKWARD)


_NEGATIVE_SLOPE = ("In-place {} backward calculation is triggered with a negative slope which is not supported. "
                   "This is caused by calling in-place forward function with a negative slope, please call "
                   "out-of-place version instead.")
_LEAKY_ISSUE = (" File an issue at https://github.com/pytorch/pytorch if you do require supporting in-place leakRelu "
                "backward calculation with negative slope")


def _result_vjp(g, xs, y, r):
    k = int(r.ib)
    if r.fa < 0:
        if k == LEAKY_RELU_:
            raise RuntimeError(_NEGATIVE_SLOPE.format("leakyReLu") + _LEAKY_ISSUE)
        raise RuntimeError(_NEGATIVE_SLOPE.format("elu"))
    if k == LEAKY_RELU_:
        return (_leaky(g, y, r.fa),)
    # PyTorch's elu_backward of a result: input_scale * (y + alpha * scale) where y <= 0; its own derivative
    # in y is taken where y < 0 only (elu_double_backward), so y enters through its negative part
    neg = where(y < 0, y, _zero(y))
    if k == CELU_:
        return (where(y <= 0, g * ((neg + r.fa) / r.fa), g),)
    return (where(y <= 0, g * (neg + r.fa * r.fb), g * r.fb),)


def _act_saved(r) -> tuple:
    k = r.ib
    if k == GELU:
        return (("approximate", lambda r: _APPROXIMATE[r.ia >> 4]), ("self", X0))
    if k == SOFTPLUS:
        return (("beta", _fa), ("self", X0), ("threshold", _fb))
    if k == ELU:
        return (("alpha", _fa), ("input_scale", lambda r: 1), ("scale", lambda r: 1), ("self", X0))
    if k == LEAKY_RELU:
        return (("negative_slope", _fa), ("self", X0))
    if k == HARDTANH:
        return (("max_val", _fb), ("min_val", _fa), ("self", X0))
    if k == SOFTSHRINK:
        return (("lambd", _fa), ("self", X0))
    if k == GLU:
        # (PyTorch's node shows a negative dim as the unsigned 64-bit number of its bits)
        return (("dim", lambda r: int(r.fa) % (1 << 64)), ("self", X0))
    return (("self", X0),)


def _result_saved(r) -> tuple:
    if r.ib == ELU_:
        return (("alpha", _fa), ("input_scale", lambda r: 1), ("result", OUT), ("scale", _fb))
    if r.ib == CELU_:
        return (("alpha", _fa), ("result", OUT))
    return (("negative_slope", _fa), ("result", OUT))


register(Op(ACT, "activation", "GeluBackward0", X0, _act_vjp, py_adjoint=rule_adjoint,
            grad_fn_of=lambda r: _NAMES[r.ib], node_saved=_act_saved))
register(Op(ACT_RESULT, "activation_", "EluBackward1", OUT, _result_vjp, py_adjoint=rule_adjoint,
            grad_fn_of=lambda r: _NAMES_RESULT[r.ib], node_saved=_result_saved))
_diagonal_act = diagonal(_act_vjp)


def _act_jvp(ts, xs, y, r):
    # Elementwise ones: the adjoint rule with the tangent as adjoint, as PyTorch's forward formulas
    # call the backward functions (hardsigmoid's tangent is then behind NotImplemented, as there).
    if r.ib != GLU:
        return _diagonal_act(ts, xs, y, r)
    d = wrap_dim(int(r.fa), y.dim())
    h = y._shape[d]
    s = xs[0].narrow(d, h, h).sigmoid()
    t = ts[0]
    ta, tb = t.narrow(d, 0, h), t.narrow(d, h, h)
    return ta * s + y * (tb - s * tb)


tangents({ACT: _act_jvp, ACT_RESULT: TRANSPOSED})     # (ACT_RESULT's rule is linear in the adjoint)


# --- forwards ----------------------------------------------------------------------------
_ERF = _special(ERF)     # (made once: each face made is kept in ``WRITES_OUT``)


def gelu_forward(x: np.ndarray, tanh: bool) -> np.ndarray:
    if tanh:
        return x * 0.5 * (1.0 + np.tanh((x + x * x * x * _GELU_CUBIC) * _SQRT_2_OVER_PI))
    return x * 0.5 * (1.0 + _ERF(x * x.dtype.type(math.sqrt(0.5))))


def softplus_forward(x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
    bx = x * x.dtype.type(beta)
    return np.where(bx > threshold, x, np.log1p(np.exp(bx)) / x.dtype.type(beta))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _act(x: Tensor, ib: int, y: np.ndarray, fa: Number = 0.0, fb: Number = 0.0, extra: int = 0) -> Tensor:
    """Record (or return) ``y``, the function ``ib`` of ``x`` with arguments ``fa``, ``fb``, ``extra``."""
    y = np.require(y, x._dtype.np, "C")
    if x._rg and state.grad:
        return emit(ACT, y, x._dtype, x, ia=_kind(fa) | _kind(fb) << 2 | extra << 4, ib=ib, fa=float(fa),
                    fb=float(fb))
    return plain(y, x._dtype)


def _act_result(x: Tensor, ib: int, y: np.ndarray, fa: Number, fb: Number = 1) -> Tensor:
    """``y`` written into ``x``, recorded as a row differentiated through its result."""
    y = np.require(y, x._dtype.np, "C")
    if x._rg and state.grad:
        y = emit(ACT_RESULT, y, x._dtype, x, ia=_kind(fa) | _kind(fb) << 2, ib=ib, fa=float(fa), fb=float(fb))
    else:
        y = plain(y, x._dtype)
    return x._inplace(y)


def _input(input, name: str, kernel: str = "") -> Tensor:
    """``input``, checked as PyTorch's function ``name`` checks it (and its ``kernel``'s dtypes)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if kernel and not input._dtype.is_floating_point:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{D.legacy_name(input._dtype)}'")
    return input


def _errstate():
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


# --- front ends --------------------------------------------------------------------------
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Applies the Gaussian error linear unit ``x * Phi(x)`` element-wise; ``approximate='tanh'``
    estimates ``Phi`` with ``0.5 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))``."""
    _input(input, "gelu")
    if approximate not in _APPROXIMATE:
        raise RuntimeError("approximate argument must be either none or tanh.")
    _input(input, "gelu", "GeluKernelImpl")
    tanh = approximate == "tanh"
    with _errstate():
        y = gelu_forward(input._value(), tanh)
    return _act(input, GELU, y, extra=int(tanh))


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """Applies the sigmoid linear unit ``x * sigmoid(x)`` element-wise."""
    x = _input(input, "silu_" if inplace else "silu", "silu_cpu")
    if inplace:
        x._check_inplace()
    v = x._value()
    with _errstate():
        y = v * _sigmoid(v)
    return _plain_or_inplace(x, SILU, y, inplace)


def _softplus(x: Tensor, beta: Number, threshold: Number) -> Tensor:
    with _errstate():
        return _act(x, SOFTPLUS, softplus_forward(x._value(), beta, threshold), beta, threshold)


def softplus(input: Tensor, beta: Number = 1, threshold: Number = 20) -> Tensor:
    """Applies ``log(1 + exp(beta * x)) / beta`` element-wise, and ``x`` where ``beta * x > threshold``."""
    return _softplus(_input(input, "softplus", "softplus_cpu"), beta, threshold)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """Applies the exponential linear unit ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)`` element-wise."""
    x = _input(input, "elu_" if inplace else "elu", "elu_cpu")
    if inplace:
        x._check_inplace()
    v = x._value()
    with _errstate():
        y = np.where(v > 0, v, np.expm1(v) * v.dtype.type(alpha))
    return _act_result(x, ELU_, y, alpha) if inplace else _act(x, ELU, y, alpha)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place version of :func:`elu`."""
    return elu(input, alpha, inplace=True)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """Applies ``x`` if ``x > 0`` else ``negative_slope * x`` element-wise."""
    x = _input(input, "leaky_relu_" if inplace else "leaky_relu", "leaky_relu_cpu")
    if inplace:
        x._check_inplace()
    v = x._value()
    y = np.where(v > 0, v, v * v.dtype.type(negative_slope))
    return _act_result(x, LEAKY_RELU_, y, negative_slope) if inplace else _act(x, LEAKY_RELU, y, negative_slope)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place version of :func:`leaky_relu`."""
    return leaky_relu(input, negative_slope, inplace=True)


@public("selu_", method=False)
def selu_(self) -> Tensor:
    """In-place version of :func:`selu`."""
    x = _input(self, "selu_", "elu_cpu")
    x._check_inplace()
    v = x._value()
    with _errstate():
        y = np.where(v > 0, v * v.dtype.type(SELU_SCALE), np.expm1(v) * v.dtype.type(SELU_SCALE * SELU_ALPHA))
    return _act_result(x, ELU_, y, SELU_ALPHA, SELU_SCALE)


@public("celu_", method=False)
def celu_(self, alpha: float = 1.0) -> Tensor:
    """In-place version of :func:`celu`."""
    x = _input(self, "celu_")
    x._check_inplace()      # (PyTorch's autograd refuses a leaf first)
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    _input(x, "celu_", "elu_cpu")
    v = x._value()
    a = v.dtype.type(alpha)
    with _errstate():
        y = np.where(v > 0, v, np.expm1(v / a) * a)
    return _act_result(x, CELU_, y, alpha)


def _plain_or_inplace(x: Tensor, ib: int, y: np.ndarray, inplace: bool, fa: Number = 0.0, fb: Number = 0.0) -> Tensor:
    """The function ``ib`` of ``x``, or (``inplace``) written into ``x``: PyTorch's node is the same,
    saving ``x`` as it was."""
    out = _act(x, ib, y, fa, fb)
    return x._inplace(out) if inplace else out


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """Applies ``min(max(x, min_val), max_val)`` element-wise."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _hardtanh(input, min_val, max_val, inplace, "hardtanh_" if inplace else "hardtanh")


def _hardtanh(input, min_val: Number, max_val: Number, inplace: bool, name: str) -> Tensor:
    x = _input(input, name)
    if x._dtype is D.bool_:
        raise RuntimeError("Bool inputs not supported for hardtanh")
    if inplace:
        x._check_inplace()
    v = x._value()
    lo, hi = v.dtype.type(min_val), v.dtype.type(max_val)
    y = np.where(v < lo, lo, np.where(v > hi, hi, v))     # (PyTorch's clamp: -0. and nan stay)
    if not x._dtype.is_floating_point:
        y = plain(y, x._dtype)
        return x._inplace(y) if inplace else y
    return _plain_or_inplace(x, HARDTANH, y, inplace, min_val, max_val)


def hardtanh_(input: Tensor, min_val: float = -1, max_val: float = 1) -> Tensor:
    """In-place version of :func:`hardtanh`."""
    return _hardtanh(input, min_val, max_val, True, "hardtanh_")


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """Applies ``min(max(0, x), 6)`` element-wise (PyTorch's ``hardtanh(x, 0, 6)``, and its node)."""
    return _hardtanh(input, 0, 6, inplace, "relu6_" if inplace else "relu6")


def logsigmoid(input: Tensor) -> Tensor:
    """Applies ``log(1 / (1 + exp(-x)))`` element-wise."""
    x = _input(input, "log_sigmoid", "log_sigmoid_cpu")
    v = x._value()
    with _errstate():
        buffer = np.exp(-np.abs(v))
        y = _act(x, LOG_SIGMOID, np.minimum(v, 0) - np.log1p(buffer))
    if y._tape is not None:
        # (PyTorch's node keeps exp(-|x|), its forward's buffer)
        y._tape.args[y._node] = lambda b=buffer, dt=x._dtype: (("buffer", plain(b, dt)), ("self", SAVED_SELF))
    return y


def softsign(input: Tensor) -> Tensor:
    """Applies ``x / (1 + |x|)`` element-wise (PyTorch's composition, and its nodes)."""
    return input / (input.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:
    """Applies ``x - tanh(x)`` element-wise (PyTorch's composition, and its nodes)."""
    return input - input.tanh()


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """Applies ``x - lambd`` where ``x > lambd``, ``x + lambd`` where ``x < -lambd``, 0 elsewhere."""
    x = _input(input, "softshrink", "softshrink_check")
    top = float(np.finfo(x._dtype.np).max)
    if not 0 <= lambd <= top:
        raise RuntimeError(f"lambda must be in range [0, {top:g}] for input dtype {D.legacy_name(x._dtype)}, but "
                           f"found {lambd:g}")
    v = x._value()
    lam = v.dtype.type(lambd)
    y = np.where(v > lam, v - lam, np.where(v < -lam, v + lam, v * v.dtype.type(0)))    # (nan stays, as PyTorch's)
    return _act(x, SOFTSHRINK, y, lambd)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """Applies ``min(max(x + 3, 0), 6) / 6`` element-wise."""
    x = _input(input, "hardsigmoid_" if inplace else "hardsigmoid", "hardsigmoid_cpu")
    if inplace:
        x._check_inplace()
    v = x._value()
    y = np.minimum(np.maximum(v + v.dtype.type(3), v.dtype.type(0)), v.dtype.type(6)) / v.dtype.type(6)
    return _plain_or_inplace(x, HARDSIGMOID, y, inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """Applies ``x * min(max(x + 3, 0), 6) / 6`` element-wise."""
    x = _input(input, "hardswish_" if inplace else "hardswish", "hardswish_cpu")
    if inplace:
        x._check_inplace()
    v = x._value()
    y = v * np.minimum(np.maximum(v + v.dtype.type(3), v.dtype.type(0)), v.dtype.type(6)) / v.dtype.type(6)
    return _plain_or_inplace(x, HARDSWISH, y, inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """Applies ``x * tanh(softplus(x))`` element-wise."""
    x = _input(input, "mish_" if inplace else "mish", "mish_cpu")
    if inplace:
        x._check_inplace()
    v = x._value()
    with _errstate():
        y = v * np.tanh(np.log1p(np.exp(v)))
    return _plain_or_inplace(x, MISH, y, inplace)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """The gated linear unit: ``a * sigmoid(b)``, ``a`` and ``b`` the halves of ``input`` along ``dim``."""
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = wrap_dim(dim, input.dim())
    n = input._shape[d]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {n}")
    x = _input(input, "glu", "glu_cpu")
    v = x._value()
    a, b = np.split(v, 2, axis=d)
    with _errstate():
        y = a * _sigmoid(b)
    return _act(x, GLU, y, dim)
