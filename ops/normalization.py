"""Normalization layers of ``torch.nn.functional``: ``layer_norm``, ``batch_norm``, ``group_norm`` and
the compositions PyTorch writes over them and over other ops (``instance_norm``, ``rms_norm``,
``normalize``, ``local_response_norm``).

``layer_norm``, ``batch_norm`` and ``group_norm`` are one row each, as PyTorch's
``NativeLayerNormBackward0``, ``NativeBatchNormBackward0``, ``NativeGroupNormBackward0``: a
Python-rule row listing ``(input, weight, bias)`` (an absent weight or bias is a constant, which
the node shows as ``None``, as PyTorch's; ``ib`` bit 0: a weight was given, bit 1: a bias), ``fa``
the ``eps``.  Each normalizes ``input`` over groups of its elements: the row's rule views the input
as ``(..., group)`` (``_grouped``), computes the statistics again from the input and writes the
adjoint with tape ops, so every order comes from it.  ``ia``: the number of normalized trailing dims
(layer norm), the number of groups (group norm), 1 in training and 0 in evaluation (batch norm,
whose evaluation row also lists the running mean and variance, as constants).
"""
from __future__ import annotations

import math
import warnings
from typing import Optional, Sequence

import numpy as np

from .._emit import D, Size, Tensor, node_in, plain, recorded, state, write_tape
from .join import cat
from ._parser import parser_type_name
from .as_strided import _dense
from ._spec import LISTED, PYTHON, X0, Op, public_function, register, tangents

LAYER_NORM, BATCH_NORM, GROUP_NORM = 1040, 1041, 1042
CODES = (LAYER_NORM, BATCH_NORM, GROUP_NORM)
HAS_WEIGHT, HAS_BIAS, HAS_RUNNING = 1, 2, 4
assert LAYER_NORM in PYTHON


# --- the rows -------------------------------------------------------------------------------
def _grouped(code: int, shape: tuple, ia: int) -> tuple:
    """The shape the row's input is normalized in and the dims reduced there (keepdim)."""
    if code == LAYER_NORM:
        lead = shape[:len(shape) - ia]
        return (*lead, math.prod(shape[len(shape) - ia:])), (len(lead),)
    if code == GROUP_NORM:
        return (shape[0], ia, math.prod(shape[1:]) // ia), (2,)
    return shape, tuple(d for d in range(len(shape)) if d != 1)


def _channel(code: int, t: Tensor, ndim: int) -> Tensor:
    """A weight or bias broadcast against the input (channels along dim 1 but for layer norm)."""
    return t if code == LAYER_NORM else t.reshape((-1,) + (1,) * (ndim - 2))


def _normalized(xs, r) -> tuple:
    """The row's input normalized (in its grouped shape), ``1 / sqrt(var + eps)``, the grouped
    shape and reduced dims, and whether the statistics are constants (batch norm's evaluation)."""
    x = xs[0]
    gshape, dims = _grouped(r.code, x._shape, r.ia)
    xg = x.reshape(gshape)
    if r.code == BATCH_NORM and r.ia == 0:
        keep = (1,) * len(gshape)
        keep = keep[:1] + (gshape[1],) + keep[2:]
        rstd = (xs[4].reshape(keep) + r.fa).rsqrt()
        return (xg - xs[3].reshape(keep)) * rstd, rstd, gshape, dims, True
    mean = xg.mean(dims, keepdim=True)
    centred = xg - mean
    rstd = ((centred * centred).mean(dims, keepdim=True) + r.fa).rsqrt()
    return centred * rstd, rstd, gshape, dims, False


def _project(t: Tensor, xhat: Tensor, rstd: Tensor, dims: tuple, constant: bool) -> Tensor:
    """The derivative of the normalization applied to ``t`` (grouped): symmetric, so both the
    adjoint and the tangent rule."""
    if constant:
        return t * rstd
    return rstd * (t - t.mean(dims, keepdim=True) - xhat * (t * xhat).mean(dims, keepdim=True))


def _sum(t: Tensor, dims: tuple) -> Tensor:
    return t.sum(dims) if dims else t     # (``sum(())`` would sum every dim)


def _norm_vjp(g, xs, y, r):
    if not state.grad:      # (a plain backward: nothing would be recorded)
        return _norm_vjp_numpy(g, xs, r)
    x, w, b = xs[:3]
    code, ndim = r.code, x.dim()
    xhat, rstd, gshape, dims, constant = _normalized(xs, r)
    xhat_x = xhat.reshape(x._shape)
    lead = tuple(range(ndim - r.ia)) if code == LAYER_NORM else tuple(d for d in range(ndim) if d != 1)
    gw = _sum(g * xhat_x, lead) if r.ib & HAS_WEIGHT else None
    gb = _sum(g, lead) if r.ib & HAS_BIAS else None
    gh = (g * _channel(code, w, ndim) if r.ib & HAS_WEIGHT else g).reshape(gshape)
    gx = _project(gh, xhat, rstd, dims, constant).reshape(x._shape)
    return (gx, gw, gb) + (None,) * (len(xs) - 3)


def _norm_vjp_numpy(g, xs, r) -> tuple:
    """``_norm_vjp`` on arrays (a plain backward: nothing recorded), in fewer passes."""
    x = xs[0]
    code, v, gv, dt = r.code, x._value(), g._value(), x._dtype
    gshape, dims = _grouped(code, v.shape, r.ia)
    eval_mode = code == BATCH_NORM and r.ia == 0
    if eval_mode:
        keep = tuple(gshape[1] if d == 1 else 1 for d in range(len(gshape)))
        rstd = (1.0 / np.sqrt(xs[4]._value().astype(np.float64).reshape(keep) + r.fa)).astype(dt.np)
        xhat = v.reshape(gshape) - xs[3]._value().reshape(keep)
    else:
        _, _, xhat, rstd = _stats(v.reshape(gshape), dims, r.fa)
    xhat *= rstd
    xhat_x = xhat.reshape(v.shape)
    lead = tuple(range(v.ndim - r.ia)) if code == LAYER_NORM else tuple(d for d in range(v.ndim) if d != 1)
    cshape = v.shape[v.ndim - r.ia:] if code == LAYER_NORM else (-1,) + (1,) * (v.ndim - 2)
    gw = plain(np.sum(gv * xhat_x, lead), dt) if r.ib & HAS_WEIGHT else None
    gb = plain(np.sum(gv, lead), dt) if r.ib & HAS_BIAS else None
    gh = (gv * xs[1]._value().reshape(cshape) if r.ib & HAS_WEIGHT else gv).reshape(gshape)
    if eval_mode:
        gx = gh * rstd
    else:
        gx = gh - gh.mean(dims, keepdims=True)
        gx -= xhat * (gh * xhat).mean(dims, keepdims=True)
        gx *= rstd
    return (plain(np.ascontiguousarray(gx.reshape(v.shape), dt.np), dt), gw, gb) + (None,) * (len(xs) - 3)


def _norm_jvp(ts, xs, y, r):
    x, w = xs[:2]
    code, ndim = r.code, x.dim()
    xhat, rstd, gshape, dims, constant = _normalized(xs, r)
    out = None
    if ts[0] is not None:
        out = _project(ts[0].reshape(gshape), xhat, rstd, dims, constant).reshape(x._shape)
        if r.ib & HAS_WEIGHT:
            out = out * _channel(code, w, ndim)
    if ts[1] is not None and r.ib & HAS_WEIGHT:
        d = xhat.reshape(x._shape) * _channel(code, ts[1], ndim)
        out = d if out is None else out + d
    if ts[2] is not None and r.ib & HAS_BIAS:
        d = _channel(code, ts[2], ndim).expand(x._shape)
        out = d if out is None else out + d
    return out


def _param(k: int, bit: int):
    return lambda r: plain(r.tape.value_of(r.inputs[k]), D.ARENA_DTYPES[int(r.tape.dt[r.inputs[k]])]) \
        if r.ib & bit else None


def _results(k: int):
    """PyTorch's saved ``result1`` (k 0: the mean) or ``result2`` (k 1: ``1 / sqrt(var + eps)``), as its
    node shows them: of shape ``(*lead, 1, ...)`` (layer norm), ``(C,)`` in training and empty in
    evaluation (batch norm), ``(N, group)`` (group norm)."""
    def result(r) -> Tensor:
        v = r.tape.value_of(r.inputs[0])
        dt = D.ARENA_DTYPES[int(r.tape.dt[r.inputs[0]])]
        if r.code == BATCH_NORM and r.ia == 0:
            return plain(np.zeros(0, dt.np), dt)
        gshape, dims = _grouped(r.code, v.shape, r.ia)
        mean, var, _, _ = _stats(v.reshape(gshape), dims, r.fa)
        out = mean if k == 0 else 1.0 / np.sqrt(var + r.fa)
        if r.code == LAYER_NORM:
            shape = v.shape[:v.ndim - r.ia] + (1,) * r.ia
        else:
            shape = (v.shape[1],) if r.code == BATCH_NORM else (v.shape[0], r.ia)
        return plain(np.ascontiguousarray(out.reshape(shape), dt.np), dt)
    return result


_SAVED = (("bias", _param(2, HAS_BIAS)), ("eps", lambda r: r.fa), ("input", X0), ("result1", _results(0)),
          ("result2", _results(1)), ("weight", _param(1, HAS_WEIGHT)))
register(Op(LAYER_NORM, "native_layer_norm", "NativeLayerNormBackward0", X0, _norm_vjp, arity=LISTED,
            node_saved=_SAVED[:1] + _SAVED[2:] + (("normalized_shape", lambda r: tuple(r.in_shapes[0][-r.ia:])),)))
register(Op(BATCH_NORM, "native_batch_norm", "NativeBatchNormBackward0", X0, _norm_vjp, arity=LISTED, nondiff=(3, 4),
            node_saved=_SAVED[1:] + (("running_mean", _param(3, HAS_RUNNING)), ("running_var", _param(4, HAS_RUNNING)),
                                     ("training", lambda r: bool(r.ia)))))
register(Op(GROUP_NORM, "native_group_norm", "NativeGroupNormBackward0", X0, _norm_vjp, arity=LISTED,
            node_saved=(("C", lambda r: r.in_shapes[0][1]), ("HxW", lambda r: math.prod(r.in_shapes[0][2:])),
                        ("N", lambda r: r.in_shapes[0][0])) + _SAVED[1:5] + (("group", lambda r: r.ia), _SAVED[5])))
tangents({LAYER_NORM: _norm_jvp, BATCH_NORM: _norm_jvp, GROUP_NORM: _norm_jvp})


def _check_float(input: Tensor, kernel: str) -> None:
    if not input._dtype.is_floating_point:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{D.legacy_name(input._dtype)}'")


def _float_args(fn: str, *args: tuple) -> None:
    """PyTorch's argument parser, first of all: each ``(name, position, value)`` must be a real number."""
    for name, pos, value in args:
        if not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{fn}(): argument '{name}' (position {pos}) must be float, not {parser_type_name(value)}")


def _check_mixed_form(input: Tensor, *params: Optional[Tensor]) -> None:
    """Parameters whose dtype (the first one's) is not the input's are PyTorch's mixed form, for float
    parameters and a reduced-precision input only."""
    given = [p for p in params if p is not None]
    if given and given[0]._dtype is not input._dtype:
        if any(p._dtype is not D.float32 for p in given):
            raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
        raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")


def _check_mixed(input: Tensor, kernel: str, *params: Optional[Tensor]) -> None:
    """PyTorch's dtype checks of the norms' input and parameters, in its order: the mixed form, the kernel's
    dtype, each parameter's."""
    _check_mixed_form(input, *params)
    _check_float(input, kernel)
    for p in (p for p in params if p is not None):
        if p._dtype is not input._dtype:
            raise RuntimeError(f"expected scalar type {D.legacy_name(input._dtype)} but found {D.legacy_name(p._dtype)}")


def _row(code: int, input: Tensor, weight: Optional[Tensor], bias: Optional[Tensor], y: np.ndarray, ia: int,
         eps: float, extra: tuple = ()) -> Tensor:
    """``y`` (the normalized input, computed), recorded as a row of ``code`` when a tensor requires grad."""
    dt = input._dtype
    y = np.require(y, dt.np, "C")
    if not (state.grad and (input._rg or (weight is not None and weight._rg) or (bias is not None and bias._rg))):
        return plain(y, dt)
    absent = plain(np.zeros((), dt.np), dt)
    ins = (input, absent if weight is None else weight, absent if bias is None else bias) + extra
    ib = (HAS_WEIGHT if weight is not None else 0) | (HAS_BIAS if bias is not None else 0) \
        | (HAS_RUNNING if extra else 0)
    tape = write_tape()
    nodes = [node_in(tape, t, dt, t._shape) for t in ins]
    return recorded(tape, tape.append_listed(code, dt.arena, y, nodes, ia=ia, ib=ib, fa=float(eps)), y, dt)


def _stats(v: np.ndarray, axes: tuple, eps: float) -> tuple:
    """Over ``axes`` (keepdims): the mean and biased variance, accumulated in float64, ``v`` less its
    mean and ``1 / sqrt(var + eps)`` (both in ``v``'s dtype)."""
    if v.size == 0:     # (numpy warns of the mean of an empty slice; PyTorch's kernels are quiet)
        keep = tuple(1 if d in axes else n for d, n in enumerate(v.shape))
        nan = np.full(keep, np.nan)
        return nan, nan, v.copy(), nan.astype(v.dtype)
    mean = v.mean(axes, dtype=np.float64, keepdims=True)
    centred = v - mean.astype(v.dtype)
    var = np.mean(np.square(centred), axes, dtype=np.float64, keepdims=True)
    return mean, var, centred, (1.0 / np.sqrt(var + eps)).astype(v.dtype)


def _affine(y: np.ndarray, weight: Optional[Tensor], bias: Optional[Tensor], shape: tuple) -> np.ndarray:
    """``y * weight + bias``, in place of ``y`` (an array of the caller's own)."""
    if weight is not None:
        y *= weight._value().reshape(shape)
    if bias is not None:
        y += bias._value().reshape(shape)
    return y


def _shape_list(s) -> str:
    return "[" + ", ".join(str(d) for d in s) + "]"


# --- layer norm -----------------------------------------------------------------------------
def _normalized_shape(fn: str, normalized_shape) -> tuple:
    if isinstance(normalized_shape, (int, np.integer)) or not isinstance(normalized_shape, (tuple, list, Size)):
        raise TypeError(f"{fn}(): argument 'normalized_shape' (position 2) must be tuple of ints, not "
                        f"{type(normalized_shape).__name__}")
    for i, d in enumerate(normalized_shape):
        if not isinstance(d, (int, np.integer)):
            # (PyTorch's parser tells the first element apart from the others)
            if i:
                raise TypeError(f"{fn}(): argument 'normalized_shape' failed to unpack the object at pos 2 with error "
                                f"\"type must be tuple of ints,but got {type(d).__name__}\"")
            raise TypeError(f"{fn}(): argument 'normalized_shape' (position 2) must be tuple of ints, but found "
                            f"element of type {type(d).__name__} at pos 0")
    return tuple(int(d) for d in normalized_shape)


def _check_normalized(input: Tensor, shape: tuple, weight: Optional[Tensor], bias: Optional[Tensor],
                      star: str = "*, ") -> None:
    if not shape:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one "
                           "element, but got normalized_shape = []")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p._shape != shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                               f"{_shape_list(p._shape)} and normalized_shape = {_shape_list(shape)}")
    if input._shape[len(input._shape) - len(shape):] != shape or input.dim() < len(shape):
        raise RuntimeError(f"Given normalized_shape={_shape_list(shape)}, expected input with shape "
                           f"[{star}{_shape_list(shape)[1:]}, but got input of size{_shape_list(input._shape)}")


@public_function("layer_norm")
def layer_norm(input: Tensor, normalized_shape: Sequence[int], weight: Optional[Tensor] = None,
               bias: Optional[Tensor] = None, eps: float = 1e-05, cudnn_enable: bool = True) -> Tensor:
    """Applies Layer Normalization over the last ``len(normalized_shape)`` dims: ``(x - E[x]) /
    sqrt(Var[x] + eps) * weight + bias``, with the biased variance."""
    _float_args("layer_norm", ("eps", 5, eps))
    shape = _normalized_shape("layer_norm", normalized_shape)
    _check_mixed_form(input, weight, bias)      # (layer norm's comes before its shape checks)
    _check_normalized(input, shape, weight, bias)
    _check_mixed(input, "LayerNormKernelImpl", weight, bias)
    v = input._value()
    k = len(shape)
    axes = tuple(range(v.ndim - k, v.ndim))
    with np.errstate(all="ignore"):
        _, _, centred, rstd = _stats(v, axes, eps)
        centred *= rstd
        y = _affine(centred, weight, bias, shape)
    return _row(LAYER_NORM, input, weight, bias, y.astype(input._dtype.np, copy=False), k, eps)


_C_TYPES = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16"}


@public_function("rms_norm")
def rms_norm(input: Tensor, normalized_shape: Sequence[int], weight: Optional[Tensor] = None,
             eps: Optional[float] = None) -> Tensor:
    """Applies Root Mean Square Layer Normalization over the last ``len(normalized_shape)`` dims:
    ``x / sqrt(mean(x^2) + eps) * weight`` (``eps`` None: the machine epsilon of the input's dtype);
    PyTorch's composition of ``pow``, ``mean``, ``rsqrt`` and ``mul``."""
    shape = _normalized_shape("rms_norm", normalized_shape)
    if shape and not input.dim() and (weight is None or weight._shape == shape):
        raise ValueError("Input tensor must have at least 1 dimensions, but got 0")
    _check_normalized(input, shape, weight, None, star="*")
    _check_float(input, "rms_norm")
    if weight is not None and weight._dtype is not input._dtype:
        warnings.warn(f"Mismatch dtype between input and weight: input dtype = {_C_TYPES[input._dtype.name]}, "
                      f"weight dtype = {_C_TYPES.get(weight._dtype.name, weight._dtype.name)}, Cannot dispatch to "
                      "fused implementation.", stacklevel=3)
    if eps is None:
        eps = float(np.finfo(input._dtype.np).eps)
    dims = tuple(range(input.dim() - 1, input.dim() - 1 - len(shape), -1))
    result = input.mul(input.pow(2).mean(dims, keepdim=True).add_(eps).rsqrt())
    result = result if weight is None else result.mul(weight)
    if not input.is_contiguous() and _dense(input._value()):
        # (PyTorch's products keep a dense input's order of dims; it returns the result made contiguous)
        result = result.contiguous() if not result.is_contiguous() else result.clone()
    return result


def local_response_norm(input: Tensor, size: int, alpha: float = 0.0001, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """Applies local response normalization over the channels (dim 1): each element divided by
    ``(k + alpha / size * sum of the squares of the ``size`` neighbouring channels) ** beta``."""
    dim = input.dim()
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality                          input (got {dim} dimensions)")
    if input.numel() == 0:
        return input
    if not (input._dtype.is_floating_point or input._dtype is D.int64):
        pool = "avg_pool2d" if dim == 3 else "avg_pool3d_out_frame"
        raise NotImplementedError(f"\"{pool}\" not implemented for '{D.legacy_name(input._dtype)}'")
    square = input.mul(input)
    # (PyTorch averages the zero-padded squares with avg_pool over the channels: the same window sums)
    c = input._shape[1]
    zeros = plain(np.zeros((input._shape[0], size - 1) + input._shape[2:], input._dtype.np), input._dtype)
    padded = cat([zeros.narrow(1, 0, size // 2), square, zeros.narrow(1, 0, (size - 1) // 2)], 1)
    window = padded.narrow(1, 0, c)
    for i in range(1, size):
        window = window + padded.narrow(1, i, c)
    # (PyTorch's average pool of an integer tensor divides as integers)
    mean = window / size if input._dtype.is_floating_point else window.div(size, rounding_mode="trunc")
    div = mean.mul(alpha).add(k).pow(beta)
    return input / div


# --- batch, group and instance norm -------------------------------------------------------------
def _check_channels(input: Tensor, **tensors: Optional[Tensor]) -> None:
    c = input._shape[1]
    for name, t in tensors.items():
        if t is not None and t.numel() != c:
            raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")


@public_function("batch_norm")
def batch_norm(input: Tensor, weight: Optional[Tensor], bias: Optional[Tensor], running_mean: Optional[Tensor],
               running_var: Optional[Tensor], training: bool, momentum: float, eps: float,
               cudnn_enabled: bool = True) -> Tensor:
    """Applies Batch Normalization for each channel (dim 1) across the other dims: in ``training``,
    with the batch's mean and biased variance, updating ``running_mean`` and ``running_var`` in place
    (``momentum`` times the batch's mean and unbiased variance plus ``1 - momentum`` times theirs);
    otherwise with ``running_mean`` and ``running_var``."""
    _float_args("batch_norm", ("momentum", 7, momentum), ("eps", 8, eps))
    if input.dim() < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of [-{max(input.dim(), 1)}, "
                         f"{max(input.dim(), 1) - 1}], but got 1)")
    if not input.numel():
        # (PyTorch's path for no element, before its other checks: a copy, times weight[0], plus bias[0])
        out = input.clone()
        out = out if weight is None else out * weight.select(0, 0)
        return out if bias is None else out + bias.select(0, 0)
    _check_channels(input, weight=weight, bias=bias, running_mean=running_mean, running_var=running_var)
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError(f"running_{'mean' if running_mean is None else 'var'} must be defined in evaluation mode")
    _check_float(input, "batch_norm")      # (batch norm's kernel checks its dtype first)
    _check_mixed(input, "batch_norm", weight, bias, running_mean, running_var)
    v = input._value()
    axes = tuple(d for d in range(v.ndim) if d != 1)
    keep = (1, -1) + (1,) * (v.ndim - 2)
    with np.errstate(all="ignore"):
        if training:
            mean, var, centred, rstd = _stats(v, axes, eps)
            n = v.size // max(v.shape[1], 1)
            for stat, value in ((running_mean, mean), (running_var, var * n / (n - 1))):
                if stat is not None and v.size:     # (an empty batch leaves them, as PyTorch's)
                    new = momentum * value.reshape(-1) + (1 - momentum) * stat._value()
                    stat.copy_(plain(np.require(new, stat._dtype.np), stat._dtype))
        else:
            centred = v - running_mean._value().reshape(keep)
            rstd = (1.0 / np.sqrt(running_var._value().astype(np.float64).reshape(keep) + eps)).astype(v.dtype)
        centred *= rstd
        y = _affine(centred, weight, bias, keep)
    # (the running statistics as the node shows them: after the update; evaluation reads them)
    extra = () if running_mean is None or running_var is None else (
        plain(running_mean._value().copy(), input._dtype), plain(running_var._value().copy(), input._dtype))
    return _row(BATCH_NORM, input, weight, bias, y.astype(input._dtype.np, copy=False), int(bool(training)), eps,
                extra)


@public_function("group_norm")
def group_norm(input: Tensor, num_groups: int, weight: Optional[Tensor] = None, bias: Optional[Tensor] = None,
               eps: float = 1e-05, cudnn_enabled: bool = True) -> Tensor:
    """Applies Group Normalization: the channels (dim 1) split into ``num_groups`` groups, each
    normalized over its channels and the other dims but the batch's, then ``* weight + bias`` per channel."""
    _float_args("group_norm", ("eps", 5, eps))
    shape = input._shape
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.dim()}")
    if num_groups == 0:
        raise ZeroDivisionError("integer division or modulo by zero")
    c = shape[1]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {_shape_list(shape)} and num_groups={num_groups}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and (p.dim() != 1 or p.numel() != c):
            # (PyTorch's message for the bias shows the weight's shape, [0] when there is none)
            shown = (0,) if weight is None else weight._shape
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in input, but "
                               f"got {name} of shape {_shape_list(shown)} and input of shape {_shape_list(shape)}")
    _check_mixed(input, "GroupNormKernelImpl", weight, bias)
    v = input._value()
    keep = (1, -1) + (1,) * (v.ndim - 2)
    with np.errstate(all="ignore"):
        grouped = v.reshape(shape[0], num_groups, math.prod(shape[1:]) // num_groups)
        _, _, centred, rstd = _stats(grouped, (2,), eps)
        centred *= rstd
        y = _affine(centred.reshape(shape), weight, bias, keep)
    return _row(GROUP_NORM, input, weight, bias, y.astype(input._dtype.np, copy=False), num_groups, eps)


def _repeat(t: Optional[Tensor], b: int) -> Optional[Tensor]:
    return None if t is None else t.repeat(b)


@public_function("instance_norm")
def instance_norm(input: Tensor, weight: Optional[Tensor], bias: Optional[Tensor], running_mean: Optional[Tensor],
                  running_var: Optional[Tensor], use_input_stats: bool, momentum: float, eps: float,
                  cudnn_enabled: bool = True) -> Tensor:
    """Applies Instance Normalization: each channel of each sample normalized over its other dims
    (PyTorch's composition: a batch norm of the input viewed as one sample of ``N * C`` channels);
    the running statistics, if given, updated with the mean over the samples."""
    _float_args("instance_norm", ("momentum", 7, momentum), ("eps", 8, eps))
    if not (use_input_stats or (running_mean is not None and running_var is not None)):
        raise RuntimeError("Expected running_mean and running_var to be defined when use_input_stats is false")
    b, c = input.size(0), input.size(1)      # (PyTorch's errors for fewer dims)
    mean_, var_ = _repeat(running_mean, b), _repeat(running_var, b)
    out = batch_norm(input.contiguous().view((1, b * c) + input._shape[2:]), _repeat(weight, b), _repeat(bias, b),
                     mean_, var_, use_input_stats, momentum, eps, cudnn_enabled)
    for stat, repeated in ((running_mean, mean_), (running_var, var_)):
        if stat is not None:
            stat.copy_(plain(repeated._value().reshape(b, c).mean(0), stat._dtype))
    return out.view(input._shape)
