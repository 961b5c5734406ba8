"""Convolutions of ``torch.nn.functional``: ``conv1d/2d/3d``, ``conv_transpose1d/2d/3d`` and
``convolution``, one N-d implementation.

A convolution, its input gradient (a transposed convolution) and its weight gradient are the three
partial derivatives of one trilinear form ``<conv(x, w), g>``, so each one's derivative is written
with the other two: one Python-rule row (``CONV``), its kind in ``ib``, listing its two tensors
(and a bias, added along dim 1, for PyTorch's ``ConvolutionBackward0``) and its geometry in the
index table (``ia``: dims, groups, stride, dilation and the padding before each dim; the padding
after it follows from the row's output shape, which is how ``output_padding`` and PyTorch's
asymmetric ``'same'`` padding need nothing more).  Every order of derivative comes from that.

numpy does the work: the windows of a zero-padded copy of the input as a strided view (im2col), one
matrix product per call batched over the groups, and the transposed convolution's columns added back
by a loop over the kernel offsets (col2im), each a strided slice.
"""
from __future__ import annotations

import functools
import math
import warnings
from typing import Callable, Optional, Union

import numba
import numpy as np
from numpy.lib.stride_tricks import as_strided

from .._emit import D, Tensor, node_in, plain, recorded, state, write_tape
from ._parser import Forms, check_types, parser_type_name
from ._rule import rule_adjoint
from ._spec import LISTED, PYTHON, SAVED_SELF, TRANSPOSED, X0, X1, X2, Given, Op, public_function, register, tangents

CONV = PYTHON.start + 100
FORWARD, INPUT_GRAD, WEIGHT_GRAD, BIAS_GRAD = 0, 1, 2, 3      # (``ib & 3``: the row's kind)
# ``ib`` bits beyond the kind: a row a derivative rule recorded; what its node shows: no bias given,
# a transposed convolution (the one differentiated, for a rule's row), and for a rule's row the
# positions of the output's gradient and of the input among its three tensors (the weight's the third)
BACKWARD, NO_BIAS, SHOWN_TRANSPOSED = 4, 8, 16
_GO, _IN = 5, 7


# --- the numpy kernels ----------------------------------------------------------------------
# ``geo``: (groups, stride, dilation, pad) with one entry per spatial dim in the last three;
# arrays are batched: (N, C, *spatial).  Element ``l`` of an output window row reads the input at
# ``l * stride + j * dilation - pad`` for kernel offset ``j`` (zero outside the input).
def _windows(x: np.ndarray, geo: tuple, out: tuple, k: tuple) -> np.ndarray:
    """The view ``(N, C, *out, *k)`` of the windows of ``x`` zero-padded (im2col, no copy of its own)."""
    _, stride, dilation, pad = geo
    need = tuple((o - 1) * s + (kk - 1) * d + 1 for o, kk, s, d in zip(out, k, stride, dilation))
    xp = np.zeros(x.shape[:2] + need, x.dtype)
    dst, src = [], []
    for n, p, length in zip(need, pad, x.shape[2:]):
        hi = max(0, min(length, n - p))
        dst.append(slice(p, p + hi))
        src.append(slice(0, hi))
    xp[(Ellipsis, *dst)] = x[(Ellipsis, *src)]
    st = xp.strides
    strides = st[:2] + tuple(a * s for a, s in zip(st[2:], stride)) + tuple(a * d for a, d in zip(st[2:], dilation))
    return as_strided(xp, x.shape[:2] + out + k, strides, writeable=False)


def _columns(x: np.ndarray, geo: tuple, out: tuple, k: tuple) -> np.ndarray:
    """The windows of ``x`` as one matrix per group, ``(G, C / G * prod(k), N * prod(out))``: the output
    positions last, so that the copy reads the padded input along its rows."""
    g = geo[0]
    n, c = x.shape[:2]
    nd = len(out)
    v = _windows(x, geo, out, k).reshape((n, g, c // g) + out + k)
    perm = (1, 2) + tuple(range(3 + nd, 3 + 2 * nd)) + (0,) + tuple(range(3, 3 + nd))
    return np.ascontiguousarray(v.transpose(perm)).reshape(g, (c // g) * math.prod(k), n * math.prod(out))


def _by_group(gy: np.ndarray, g: int) -> np.ndarray:
    """An output (or its gradient) ``(N, O, *out)`` as one matrix per group, ``(G, O / G, N * prod(out))``."""
    n, o = gy.shape[:2]
    return np.ascontiguousarray(gy.reshape(n, g, o // g, -1).transpose(1, 2, 0, 3)).reshape(g, o // g, -1)


def _conv(x: np.ndarray, w: np.ndarray, geo: tuple, out: tuple) -> np.ndarray:
    """The convolution of ``x`` by ``w`` (``(O, C / G, *k)``), of spatial shape ``out``."""
    g = geo[0]
    n = x.shape[0]
    o = w.shape[0]
    shape = (n, o) + out
    dt = np.result_type(x, w)
    if math.prod(shape) == 0 or x.shape[1] == 0:
        return np.zeros(shape, dt)
    prod = np.matmul(w.reshape(g, o // g, -1), _columns(x, geo, out, w.shape[2:]))     # (G, O / G, N * P)
    return np.ascontiguousarray(prod.reshape(o, n, -1).transpose(1, 0, 2)).reshape(shape)


def _conv_input_grad(gy: np.ndarray, w: np.ndarray, geo: tuple, size: tuple) -> np.ndarray:
    """The transposed convolution of ``gy`` (``(N, O, *out)``) by ``w``: the gradient of the input
    (spatial shape ``size``) of the convolution by ``w`` whose output's gradient is ``gy``."""
    g, stride, dilation, pad = geo
    n, o = gy.shape[:2]
    out = gy.shape[2:]
    k = w.shape[2:]
    cg = w.shape[1]
    dt = np.result_type(gy, w)
    if gy.size == 0 or w.size == 0:
        return np.zeros((n, g * cg) + tuple(size), dt)
    cols = np.matmul(w.reshape(g, o // g, -1).transpose(0, 2, 1), _by_group(gy, g))     # (G, C / G * K, N * P)
    cols = cols.reshape((g, cg) + k + (n,) + out)
    x = _col2im(cols, 2, geo, size)         # (G, C / G, N, *size)
    return np.ascontiguousarray(x.reshape((g * cg, n) + tuple(size)).swapaxes(0, 1))


def _col2im(cols: np.ndarray, lead: int, geo: tuple, size: tuple) -> np.ndarray:
    """The columns ``cols`` (``lead`` dims, the kernel's dims, then the ones after them and the
    output positions ``out``) added back onto the image they were taken from (spatial ``size``): a
    loop over the kernel offsets, each adding one strided slice.  Returns ``cols``'s dims but the
    kernel's, the output's replaced by ``size``."""
    _, stride, dilation, pad = geo
    nd = len(size)
    k = cols.shape[lead:lead + nd]
    rest = cols.shape[lead + nd:cols.ndim - nd]
    out = cols.shape[cols.ndim - nd:]
    need = tuple(max((oo - 1) * s + (kk - 1) * d + 1, p + length)
                 for oo, kk, s, d, p, length in zip(out, k, stride, dilation, pad, size))
    xp = np.zeros(cols.shape[:lead] + rest + need, cols.dtype)
    for j in np.ndindex(*k):
        at = tuple(slice(jj * d, jj * d + (oo - 1) * s + 1, s) for jj, d, oo, s in zip(j, dilation, out, stride))
        xp[(Ellipsis, *at)] += cols[(slice(None),) * lead + j]
    return xp[(Ellipsis, *(slice(p, p + length) for p, length in zip(pad, size)))]


def _conv_weight_grad(x: np.ndarray, gy: np.ndarray, geo: tuple, k: tuple) -> np.ndarray:
    """The gradient of the weight (kernel ``k``) of the convolution of ``x`` whose output's gradient
    is ``gy``."""
    g = geo[0]
    c = x.shape[1]
    o = gy.shape[1]
    dt = np.result_type(x, gy)
    if gy.size == 0 or c == 0:
        return np.zeros((o, c // g) + tuple(k), dt)
    cols = _columns(x, geo, gy.shape[2:], tuple(k))
    return np.ascontiguousarray(np.matmul(_by_group(gy, g), cols.transpose(0, 2, 1)).reshape((o, c // g) + tuple(k)))


def _conv_bias_grad(gy: np.ndarray, x: np.ndarray, geo: tuple, size: tuple) -> np.ndarray:
    """The gradient of the bias: ``gy`` summed over all dims but the channels'."""
    return gy.sum((0,) + tuple(range(2, gy.ndim)))


_KERNELS = (_conv, _conv_input_grad, _conv_weight_grad, _conv_bias_grad)


# --- the row ---------------------------------------------------------------------------------
def _geometry(r) -> tuple:
    ix = r.tape.ix
    at = r.ia
    nd = int(ix[at])
    v = [int(i) for i in ix[at + 1:at + 2 + 3 * nd]]
    return v[0], tuple(v[1:1 + nd]), tuple(v[1 + nd:1 + 2 * nd]), tuple(v[1 + 2 * nd:])


def _row(kind: int, a: Tensor, b: Tensor, third: Optional[Tensor], geo: tuple, size: tuple, flags: int) -> Tensor:
    """The convolution ``kind`` of batched ``a`` and ``b`` (spatial shape ``size``: the output's, the
    input's, the kernel's); one row when an input needs a gradient.  ``third``: the bias added along
    dim 1, or, for a row a derivative rule records (``flags & BACKWARD``), the form's third tensor,
    held as an input of zero derivative (PyTorch's ``ConvolutionBackwardBackward0`` takes the
    output's gradient, the input and the weight, and its results need a gradient when one does)."""
    dt = a._dtype
    y = _KERNELS[kind](a._value(), b._value(), geo, tuple(size))
    if third is not None and not flags & BACKWARD:
        y += third._value().reshape((-1,) + (1,) * (y.ndim - 2))
    y = np.require(y, dt.np, "C")
    if third is None:
        # (PyTorch's node shows a missing bias as an input without gradient)
        third = plain(np.zeros(y.shape[1], dt.np), dt)
        flags |= NO_BIAS
    ins = (a, b, third)
    if not (state.grad and any(t._rg for t in ins)):
        return plain(y, dt)
    tape = write_tape()
    nodes = [node_in(tape, t, dt, t._shape) for t in ins]
    g, stride, dilation, pad = geo
    at = tape.index_list(np.array((len(stride), g) + stride + dilation + pad, np.int64))
    node = tape.append_listed(CONV, dt.arena, y, nodes, ia=at, ib=kind | flags)
    return recorded(tape, node, y, dt)


def _conv_vjp(g, xs, y, r):
    geo = _geometry(r)
    kind = r.ib & 3
    a, b = xs[0], xs[1]
    need = [bool(r.tape.rg[n]) for n in r.inputs]
    if r.ib & BACKWARD:
        go, at = r.ib >> _GO & 3, r.ib >> _IN & 3
        p_in, p_w = xs[at], xs[3 - go - at]
    else:
        p_in, p_w = a, b

    def rule_row(kind: int, t0: Tensor, t1: Tensor, t2: Tensor, size: tuple) -> Tensor:
        ins = (t0, t1, t2)
        go = next(k for k, t in enumerate(ins) if t is g)
        at = next((k for k, t in enumerate(ins) if t is p_in and k != go),
                  next(k for k, t in enumerate(ins) if k != go and t is not p_w))
        return _row(kind, t0, t1, t2, geo, size, BACKWARD | (r.ib & SHOWN_TRANSPOSED) | go << _GO | at << _IN)

    da = db = None
    if kind == FORWARD:           # y = conv(x, w)
        if need[0]:
            da = rule_row(INPUT_GRAD, g, b, a, a._shape[2:])
        if need[1]:
            db = rule_row(WEIGHT_GRAD, a, g, b, b._shape[2:])
    elif kind == INPUT_GRAD:      # y = conv_input_grad(gy, w)
        if need[0]:
            da = rule_row(FORWARD, g, b, a, a._shape[2:])
        if need[1]:
            db = rule_row(WEIGHT_GRAD, g, a, b, b._shape[2:])
    elif kind == WEIGHT_GRAD:     # y = conv_weight_grad(x, gy)
        if need[0]:
            da = rule_row(INPUT_GRAD, b, g, a, a._shape[2:])
        if need[1]:
            db = rule_row(FORWARD, a, g, b, b._shape[2:])
    elif need[0]:                 # y = conv_bias_grad(gy): gy summed but along dim 1
        da = g.reshape((1, -1) + (1,) * (a.dim() - 2)).expand(a._shape)
    if r.ib & BACKWARD or not need[2]:
        return da, db, None
    return da, db, rule_row(BIAS_GRAD, g, a, b, ())


_SLOTS = (Given(X0), Given(X1), Given(X2))


def _saved(r) -> tuple:
    """What the node shows saved: PyTorch's ``ConvolutionBackward0``'s or ``ConvolutionBackwardBackward0``'s."""
    groups, stride, dilation, pad = _geometry(r)
    shapes = r.in_shapes
    if r.ib & BACKWARD:
        go, at = r.ib >> _GO & 3, r.ib >> _IN & 3
        slots = (go, at, 3 - go - at)
        head = (("grad_output", _SLOTS[go]), ("input", _SLOTS[at]), ("weight", _SLOTS[3 - go - at]))
        out = shapes[go]
    else:
        slots = (None, 0, 1)
        head = (("input", SAVED_SELF), ("weight", Given(X1)),
                ("bias_sym_sizes_opt", (0,) if r.ib & NO_BIAS else tuple(shapes[2])))
        out = r.out_shape
    transposed = bool(r.ib & SHOWN_TRANSPOSED)
    x, w = shapes[slots[1]], shapes[slots[2]]
    if transposed:
        output_padding = tuple(o - ((i - 1) * s - 2 * p + d * (k - 1) + 1)
                               for o, i, s, p, d, k in zip(out[2:], x[2:], stride, pad, dilation, w[2:]))
    else:
        output_padding = (0,) * len(stride)
    return tuple((name, v if type(v) is Given else _shown(v)) for name, v in head + (
        ("stride", stride), ("padding", pad), ("dilation", dilation), ("transposed", transposed),
        ("output_padding", output_padding), ("groups", groups)))


def _shown(value):
    return lambda row: value


register(Op(CONV, "convolution", "ConvolutionBackward0", X0 | X1, _conv_vjp, arity=LISTED, node_saved=_saved,
            grad_fn_of=lambda r: "ConvolutionBackwardBackward0" if r.ib & BACKWARD else "ConvolutionBackward0"))
tangents({CONV: TRANSPOSED})     # (linear in its adjoint)


# --- the checks, as PyTorch's ------------------------------------------------------------------
def _int_list(fn: str, name: str, v, nd: Optional[int], position: int) -> list:
    """An int or a sequence of ints argument as the parser gives it (an int repeated ``nd`` times;
    ``nd`` None: a list of no fixed size, which takes no int)."""
    if nd is not None and isinstance(v, int) and not isinstance(v, bool):
        return [int(v)] * nd
    if isinstance(v, (tuple, list)) and all(isinstance(e, int) and not isinstance(e, bool) for e in v):
        return [int(e) for e in v]
    raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be tuple of ints, not "
                    f"{parser_type_name(v)}")


def _expand(name: str, v: list, dim: int) -> list:
    if len(v) == 1:
        return v * dim
    if len(v) != dim:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {dim} values to match the "
                           f"convolution dimensions, but got {name}={v}")
    return v


def _sizes(v) -> str:
    return " x ".join(str(int(s)) for s in v)


_AXES = {1: ("height", "width"), 2: ("height", "width"), 3: ("depth", "height", "width")}


def _named(name: str, v: list, sep: str) -> str:
    """``name_height: 1 name_width: 2`` (a 1-d convolution shown as PyTorch's 2-d kernel sees it)."""
    v = [1 if name != "output_padding" else 0] + list(v) if len(v) == 1 else list(v)
    return sep.join(f"{name}_{axis}: {e}" for axis, e in zip(_AXES[len(v)], v))


def _checks(fn: str, x: Tensor, w: Tensor, bias: Optional[Tensor], stride: list, padding: list, dilation: list,
            transposed: bool, output_padding: list, groups: int, after: tuple = ()) -> tuple:
    """PyTorch's checks of a convolution of batched ``x`` (``_convolution``, ``check_shape_forward``)
    in its order (``after``: padding added after each dim, 'same' with an even kernel); returns the
    parameters expanded to the weight's spatial dims."""
    dim = w.dim() - 2
    if dim <= 0:
        raise RuntimeError("weight should have at least three dimensions")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    stride = _expand("stride", stride, dim)
    padding = _expand("padding", padding, dim)
    dilation = _expand("dilation", dilation, dim)
    output_padding = _expand("output_padding", output_padding, dim) if transposed else [0] * dim
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if any(p < 0 for p in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d < 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    ws = list(w._shape)
    if x.dim() != w.dim():
        raise RuntimeError(f"Expected {w.dim()}-dimensional input for {w.dim()}-dimensional weight {ws}, but got "
                           f"{x.dim()}-dimensional input of size {list(x._shape)} instead")
    if not transposed:
        if ws[0] < groups:
            raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at dimension 0, but "
                               f"got weight of size {ws} instead")
        if ws[0] % groups:
            raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                               f"but got weight of size [{ws}] instead")
        if x._shape[1] != ws[1] * groups:
            # ('same' with an even kernel: PyTorch checks the padded copy of the input)
            shown_x = list(x._shape[:2]) + [s + e for s, e in zip(x._shape[2:], after or (0,) * dim)]
            raise RuntimeError(f"Given groups={groups}, weight of size {ws}, expected input{shown_x} to have "
                               f"{ws[1] * groups} channels, but got {x._shape[1]} channels instead")
        if bias is not None and (bias.dim() != 1 or bias._shape[0] != ws[0]):
            raise RuntimeError(f"Given weight of size {ws}, expected bias to be 1-dimensional with {ws[0]} elements, "
                               f"but got bias of size {list(bias._shape)} instead")
        padded = [s + 2 * p + e for s, p, e in zip(x._shape[2:], padding, after or (0,) * dim)]
        kernel = [d * (k - 1) + 1 for d, k in zip(dilation, ws[2:])]
        if any(p < k for p, k in zip(padded, kernel)):
            raise RuntimeError(f"Calculated padded input size per channel: ({_sizes(padded)}). Kernel size: "
                               f"({_sizes(kernel)}). Kernel size can't be greater than actual input size")
    else:
        if ws[0] < groups:
            raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at dimension 0, but "
                               f"got weight of size {ws} instead")
        if ws[0] % groups:
            raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                               f"but got weight of size [{ws}] instead")
        if x._shape[1] != ws[0]:
            raise RuntimeError(f"Given transposed=1, weight of size {ws}, expected input{list(x._shape)} to have "
                               f"{ws[0]} channels, but got {x._shape[1]} channels instead")
        if bias is not None and (bias.dim() != 1 or bias._shape[0] != ws[1] * groups):
            raise RuntimeError(f"Given transposed=1, weight of size {ws}, expected bias to be 1-dimensional with "
                               f"{ws[1] * groups} elements, but got bias of size {list(bias._shape)} instead")
    if any(d == 0 for d in dilation):
        if transposed:
            raise RuntimeError("dilation should be greater than zero, but got "
                               + _named("dilation", dilation, ", "))
        raise RuntimeError(f"dilation should be greater than zero, but got {([1] if dim == 1 else []) + dilation}")
    if x.numel() == 0 and x._shape[0] and x._shape[1]:
        # (PyTorch sends an empty input through no kernel: one of no batch or no channel gives an empty output)
        shown_x = list(x._shape[:2]) + [1] * (dim == 1) + list(x._shape[2:])
        raise RuntimeError(f"Only zero batch or zero channel inputs are supported, but got input shape: {shown_x}")
    if transposed and _oneDNN(x, w, stride, dilation, transposed, output_padding, groups) and \
            (w._dtype is not x._dtype or (bias is not None and bias._dtype is not x._dtype)):
        # (PyTorch's oneDNN kernel checks the dtypes before any size of the output)
        _dtype_checks(x, w, bias, stride, dilation, transposed, output_padding, groups)
    if transposed:
        if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
            raise RuntimeError("output padding must be smaller than either stride or dilation, but got "
                               + " ".join((_named("output_padding", output_padding, " "), _named("stride", stride, " "),
                                           _named("dilation", dilation, " "))))
        out = [(s - 1) * st - 2 * p + d * (k - 1) + 1 + op
               for s, st, p, d, k, op in zip(x._shape[2:], stride, padding, dilation, ws[2:], output_padding)]
        if x.numel() == 0:     # (no batch or no channel: PyTorch makes the empty output of any size not negative)
            full = [x._shape[0], ws[1] * groups] + [1] * (dim == 1) + out
            if min(full) < 0:      # (PyTorch names the most negative)
                i = full.index(min(full))
                raise RuntimeError(f"invalid shape dimension {full[i]} at index {i} of shape {full}")
        elif any(o < 1 for o in out):
            shown_in = ([1] if dim == 1 else []) + list(x._shape[2:])
            raise RuntimeError(f"Given input size per channel: ({_sizes(shown_in)}). Calculated output size per "
                               f"channel: ({_sizes(([1] if dim == 1 else []) + out)}). Output size is too small")
    if w._dtype is not x._dtype or (bias is not None and bias._dtype is not x._dtype):
        _dtype_checks(x, w, bias, stride, dilation, transposed, output_padding, groups)
    if x._dtype is D.bool_:
        raise NotImplementedError(f"\"slow_conv{dim if dim > 1 else 2}d_cpu\" not implemented for 'Bool'")
    return stride, padding, dilation, output_padding


def _oneDNN(x: Tensor, w: Tensor, stride: list, dilation: list, transposed: bool, output_padding: list,
            groups: int) -> bool:
    """Whether PyTorch's CPU dispatch takes its oneDNN kernel (``ConvParams::use_mkldnn``, a 1-d convolution
    seen as a 2-d one of height 1): its dtype errors differ from those of its own kernels."""
    if x._dtype is not D.float32 or (transposed and any(op >= s for op, s in zip(output_padding, stride))):
        return False
    kh, kw = ((1,) + tuple(w._shape[2:]))[-2:]
    n = x._shape[0]
    first4 = math.prod(((x._shape[:2] + (1,) + x._shape[2:]) if w.dim() == 3 else x._shape)[:4])
    return ((any(s != 1 for s in stride) or any(d != 1 for d in dilation) or n >= 16 or kw != 1 or kh != 1
             or numba.get_num_threads() > 1)
            and (groups > 1 or (kw > 3 and kh > 3) or n > 1 or first4 > 20480))


def _dtype_checks(x: Tensor, w: Tensor, bias: Optional[Tensor], stride: list, dilation: list, transposed: bool,
                  output_padding: list, groups: int) -> None:
    """PyTorch's errors for a weight or bias of another dtype than the input: its oneDNN kernel's, or its own
    kernels' (which accept a bias of another dtype, but for the 3-d transposed one)."""
    xt = D.legacy_name(x._dtype)
    if _oneDNN(x, w, stride, dilation, transposed, output_padding, groups):
        for name, t in (("weight", w), ("bias", bias)):
            if t is not None and t._dtype is not x._dtype:
                raise RuntimeError(f"Input type (torch.{xt}Tensor) and {name} type (torch.{D.legacy_name(t._dtype)}"
                                   f"Tensor) should be the same or input should be a MKLDNN tensor and {name} is a "
                                   f"dense tensor")
    if w._dtype is not x._dtype:
        raise RuntimeError(f"expected scalar type {xt} but found {D.legacy_name(w._dtype)}")
    if transposed and w.dim() == 5 and bias is not None and bias._dtype is not x._dtype:
        raise RuntimeError(f"expected scalar type {xt} but found {D.legacy_name(bias._dtype)}")


def _bias_as(x: Tensor, bias: Optional[Tensor]) -> Optional[Tensor]:
    """A bias in the input's dtype (PyTorch's own kernels accept one of another)."""
    return bias.to(x._dtype) if bias is not None and bias._dtype is not x._dtype else bias


def _convolution(fn: str, x: Tensor, w: Tensor, bias: Optional[Tensor], stride: list, padding: list,
                 dilation: list, transposed: bool, output_padding: list, groups: int) -> Tensor:
    """The convolution of batched ``x``, checked (the padding symmetric)."""
    stride, padding, dilation, output_padding = _checks(fn, x, w, bias, stride, padding, dilation, transposed,
                                                        output_padding, groups)
    bias = _bias_as(x, bias)
    geo = (groups, tuple(stride), tuple(dilation), tuple(padding))
    if not transposed:
        out = tuple((s + 2 * p - d * (k - 1) - 1) // st + 1
                    for s, p, d, k, st in zip(x._shape[2:], padding, dilation, w._shape[2:], stride))
        return _row(FORWARD, x, w, bias, geo, out, 0)
    size = tuple((s - 1) * st - 2 * p + d * (k - 1) + 1 + op
                 for s, st, p, d, k, op in zip(x._shape[2:], stride, padding, dilation, w._shape[2:], output_padding))
    return _row(INPUT_GRAD, x, w, bias, geo, size, SHOWN_TRANSPOSED)


def _batched(fn: str, nd: int, x: Tensor) -> bool:
    """Whether ``x`` is a batch, with PyTorch's error for a wrong number of dims."""
    if x.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {fn}, but got input of "
                           f"size: {list(x._shape)}")
    return x.dim() == nd + 2


def _same(x: Tensor, w: Tensor, bias: Optional[Tensor], stride: list, dilation: list, groups: int) -> Tensor:
    """PyTorch's ``padding='same'``: the total ``dilation * (kernel - 1)`` in each dim, the odd one
    after (a zero-padded copy of the input in PyTorch, the padding before each dim here)."""
    dim = w.dim() - 2
    total = [d * (k - 1) for d, k in zip(_expand("dilation", dilation, dim), w._shape[2:])]
    if all(t % 2 == 0 for t in total):
        return _convolution("", x, w, bias, stride, [t // 2 for t in total], dilation, False, [0], groups)
    warnings.warn("Using padding='same' with even kernel lengths and odd dilation may require a zero-padded copy of "
                  "the input be created", stacklevel=5)
    stride, padding, dilation, _ = _checks("", x, w, bias, stride, [t // 2 for t in total], dilation, False, [0],
                                           groups, tuple(t % 2 for t in total))
    bias = _bias_as(x, bias)
    geo = (groups, tuple(stride), tuple(dilation), tuple(padding))
    return _row(FORWARD, x, w, bias, geo, tuple(x._shape[2:]), 0)


def _conv_nd(fn: str, nd: int, input: Tensor, weight: Tensor, bias: Optional[Tensor], stride, padding, dilation,
             groups: int) -> Tensor:
    check_types(fn, (("input", Tensor), ("weight", Tensor), ("bias", (Tensor, type(None)))), input, weight, bias)
    stride = _int_list(fn, "stride", stride, nd, 4)
    mode = padding if isinstance(padding, str) else None
    if mode is None:
        padding = _int_list(fn, "padding", padding, nd, 5)
    dilation = _int_list(fn, "dilation", dilation, nd, 6)
    if type(groups) is not int:
        check_types(fn, (("groups", "int"),), groups, first=7)
    if mode is None and bias is not None and bias._dtype is not input._dtype:
        # (PyTorch's conv1d/2d/3d check this first; not their forms with a padding string)
        raise RuntimeError(f"Input type ({D.legacy_name(input._dtype).lower()}) and bias type "
                           f"({D.legacy_name(bias._dtype).lower()}) should be the same")
    batched = _batched(fn, nd, input)
    x = input if batched else input.unsqueeze(0)
    if mode is None:
        y = _convolution(fn, x, weight, bias, stride, padding, dilation, False, [0], groups)
    else:
        if mode == "valid":
            y = _convolution(fn, x, weight, bias, stride, [0], dilation, False, [0], groups)
        elif mode == "same":
            # (PyTorch's convolution_same: these checks in this order, before any other)
            if weight.dim() <= 2:
                raise RuntimeError("weight should have at least three dimensions")
            if groups <= 0:
                raise RuntimeError("non-positive groups is not supported")
            if x.dim() != weight.dim():
                raise RuntimeError(f"Expected {weight.dim()}-dimensional input for {weight.dim()}-dimensional weight"
                                   f"{list(weight._shape)}, but got {x.dim()}-dimensional input of size "
                                   f"{list(x._shape)} instead")
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            y = _same(x, weight, bias, stride, dilation, groups)
        else:
            raise RuntimeError(f"Invalid padding string: '{mode}'")
    return y if batched else y.squeeze(0)


def _forms(fn: str) -> Callable:
    """The function ``fn`` raising the parser's TypeError of PyTorch's two overloads (a padding as
    ints or as a string) for a call that matches neither (``F.conv2d`` is ``torch.conv2d``)."""
    head = "(Tensor input, Tensor weight, Tensor bias = None, tuple of ints stride = 1, "
    tail = ", tuple of ints dilation = 1, int groups = 1)"
    forms = Forms(fn, head + "tuple of ints padding = 0" + tail, head + 'str padding = "valid"' + tail)

    def parsed(front: Callable) -> Callable:
        @functools.wraps(front)
        def call(*args, **kwargs):
            try:
                return front(*args, **kwargs)
            except TypeError as e:
                forms.reword(e, args, kwargs)
                raise
        return call
    return parsed


def _keywords(front: Callable) -> Callable:
    """``front`` raising the parser's TypeError without the argument's position when the argument
    was given by keyword (its ``F.`` form is the function itself)."""
    @functools.wraps(front)
    def call(*args, **kwargs):
        try:
            return front(*args, **kwargs)
        except TypeError as e:
            text = str(e)
            name = text.split("'")[1] if text.count("'") >= 2 else None
            if name in kwargs and " (position " in text:
                head, rest = text.split(" (position ", 1)
                e.args = (head + rest[rest.index(")") + 1:],)
            raise
    return call


@public_function("conv1d")
@_forms("conv1d")
def conv1d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: Union[int, tuple] = 1,
           padding: Union[int, tuple, str] = 0, dilation: Union[int, tuple] = 1, groups: int = 1) -> Tensor:
    """Applies a 1D convolution over an input signal composed of several input planes: ``input``
    ``(N, C_in, L)`` or ``(C_in, L)``, ``weight`` ``(C_out, C_in / groups, kL)``, ``bias``
    ``(C_out)``; ``padding`` an int, a tuple, ``'valid'`` or ``'same'``."""
    return _conv_nd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


@public_function("conv2d")
@_forms("conv2d")
def conv2d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: Union[int, tuple] = 1,
           padding: Union[int, tuple, str] = 0, dilation: Union[int, tuple] = 1, groups: int = 1) -> Tensor:
    """Applies a 2D convolution over an input image composed of several input planes: ``input``
    ``(N, C_in, H, W)`` or ``(C_in, H, W)``, ``weight`` ``(C_out, C_in / groups, kH, kW)``, ``bias``
    ``(C_out)``; ``padding`` an int, a tuple, ``'valid'`` or ``'same'``."""
    return _conv_nd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


@public_function("conv3d")
@_forms("conv3d")
def conv3d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: Union[int, tuple] = 1,
           padding: Union[int, tuple, str] = 0, dilation: Union[int, tuple] = 1, groups: int = 1) -> Tensor:
    """Applies a 3D convolution over an input image composed of several input planes: ``input``
    ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)``, ``weight`` ``(C_out, C_in / groups, kD, kH, kW)``,
    ``bias`` ``(C_out)``; ``padding`` an int, a tuple, ``'valid'`` or ``'same'``."""
    return _conv_nd("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose_nd(fn: str, nd: int, input: Tensor, weight: Tensor, bias: Optional[Tensor], stride, padding,
                       output_padding, groups: int, dilation) -> Tensor:
    check_types(fn, (("input", Tensor), ("weight", Tensor), ("bias", (Tensor, type(None)))), input, weight, bias)
    stride = _int_list(fn, "stride", stride, nd, 4)
    padding = _int_list(fn, "padding", padding, nd, 5)
    output_padding = _int_list(fn, "output_padding", output_padding, nd, 6)
    if type(groups) is not int:
        check_types(fn, (("groups", "int"),), groups, first=7)
    dilation = _int_list(fn, "dilation", dilation, nd, 8)
    batched = _batched(fn, nd, input)
    x = input if batched else input.unsqueeze(0)
    y = _convolution(fn, x, weight, bias, stride, padding, dilation, True, output_padding, groups)
    return y if batched else y.squeeze(0)


@public_function("conv_transpose1d")
@_keywords
def conv_transpose1d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: Union[int, tuple] = 1,
                     padding: Union[int, tuple] = 0, output_padding: Union[int, tuple] = 0, groups: int = 1,
                     dilation: Union[int, tuple] = 1) -> Tensor:
    """Applies a 1D transposed convolution operator over an input signal composed of several input
    planes, sometimes also called "deconvolution": ``weight`` ``(C_in, C_out / groups, kL)``."""
    return _conv_transpose_nd("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                              dilation)


@public_function("conv_transpose2d")
@_keywords
def conv_transpose2d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: Union[int, tuple] = 1,
                     padding: Union[int, tuple] = 0, output_padding: Union[int, tuple] = 0, groups: int = 1,
                     dilation: Union[int, tuple] = 1) -> Tensor:
    """Applies a 2D transposed convolution operator over an input image composed of several input
    planes, sometimes also called "deconvolution": ``weight`` ``(C_in, C_out / groups, kH, kW)``."""
    return _conv_transpose_nd("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                              dilation)


@public_function("conv_transpose3d")
@_keywords
def conv_transpose3d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: Union[int, tuple] = 1,
                     padding: Union[int, tuple] = 0, output_padding: Union[int, tuple] = 0, groups: int = 1,
                     dilation: Union[int, tuple] = 1) -> Tensor:
    """Applies a 3D transposed convolution operator over an input image composed of several input
    planes, sometimes also called "deconvolution": ``weight`` ``(C_in, C_out / groups, kD, kH, kW)``."""
    return _conv_transpose_nd("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups,
                              dilation)


@public_function("convolution")
@_keywords
def convolution(input: Tensor, weight: Tensor, bias: Optional[Tensor], stride: tuple, padding: tuple,
                dilation: tuple, transposed: bool, output_padding: tuple, groups: int) -> Tensor:
    """The convolution (or, ``transposed``, the transposed convolution) of the batched ``input`` by
    ``weight``, plus ``bias``: every parameter given, one entry per spatial dim."""
    fn = "convolution"
    check_types(fn, (("input", Tensor), ("weight", Tensor), ("bias", (Tensor, type(None)))), input, weight, bias)
    check_types(fn, (("transposed", "bool"),), transposed, first=7)
    check_types(fn, (("groups", "int"),), groups, first=9)
    # (no int for a list here: the parser knows no size to repeat it to)
    args = [_int_list(fn, name, v, None, position)
            for name, v, position in (("stride", stride, 4), ("padding", padding, 5), ("dilation", dilation, 6),
                                      ("output_padding", output_padding, 8))]
    return _convolution(fn, input, weight, bias, args[0], args[1], args[2], bool(transposed), args[3], int(groups))


# --- unfold and fold (im2col, col2im) ------------------------------------------------------------
# One input each; the geometry in the index table as a convolution's, the kernel's size after it.
IM2COL, COL2IM = PYTHON.start + 101, PYTHON.start + 102


def _blocks(r) -> tuple:
    geo = _geometry(r)
    at = r.ia + 2 + 3 * len(geo[1])
    return geo, tuple(int(k) for k in r.tape.ix[at:at + len(geo[1])])


def _unfold_value(x: np.ndarray, geo: tuple, k: tuple) -> np.ndarray:
    """``x`` (``(N, C, H, W)``) as its sliding blocks, ``(N, C * kH * kW, L)``."""
    _, stride, dilation, pad = geo
    out = _sliding(x.shape[2:], k, dilation, pad, stride)
    n, c = x.shape[:2]
    if n == 0:
        return np.zeros((0, c * math.prod(k), math.prod(out)), x.dtype)
    v = _windows(x, geo, out, k)                                       # (N, C, *out, *k)
    v = v.transpose((0, 1, 4, 5, 2, 3))
    return np.ascontiguousarray(v).reshape(n, c * math.prod(k), math.prod(out))


def _fold_value(cols: np.ndarray, geo: tuple, k: tuple, size: tuple) -> np.ndarray:
    """The sliding blocks ``cols`` (``(N, C * kH * kW, L)``) summed back into ``(N, C, *size)``."""
    _, stride, dilation, pad = geo
    out = _sliding(size, k, dilation, pad, stride)
    n = cols.shape[0]
    c = cols.shape[1] // math.prod(k)
    if n == 0:
        return np.zeros((0, c) + tuple(size), cols.dtype)
    return np.ascontiguousarray(_col2im(cols.reshape((n, c) + k + out), 2, geo, size))


def _blocks_row(code: int, x: Tensor, geo: tuple, k: tuple, size: tuple) -> Tensor:
    """The row of ``unfold`` (``IM2COL``) or ``fold`` (``COL2IM``, into spatial ``size``) of ``x``,
    batched or not."""
    dt = x._dtype
    v = x._value()
    batched = v.ndim == (4 if code == IM2COL else 3)
    v = v if batched else v[None]
    y = _unfold_value(v, geo, k) if code == IM2COL else _fold_value(v, geo, k, size)
    y = np.require(y if batched else y[0], dt.np, "CW")        # (writable: a window view may be returned as is)
    if not (state.grad and x._rg):
        return plain(y, dt)
    g, stride, dilation, pad = geo
    tape = write_tape()
    at = tape.index_list(np.array((2, g) + stride + dilation + pad + k, np.int64))
    return recorded(tape, tape.append(code, dt.arena, y, node_in(tape, x, dt, x._shape), ia=at), y, dt)


def _im2col_vjp(g, xs, y, r):
    geo, k = _blocks(r)
    return (_blocks_row(COL2IM, g, geo, k, xs[0]._shape[-2:]),)


def _col2im_vjp(g, xs, y, r):
    geo, k = _blocks(r)
    return (_blocks_row(IM2COL, g, geo, k, ()),)


def _blocks_saved(r) -> tuple:
    geo, k = _blocks(r)
    shown = (("kernel_size", k), ("dilation", geo[2]), ("padding", geo[3]), ("stride", geo[1]))
    if r.code == IM2COL:
        h, w = r.in_shapes[0][-2:]
        shown += (("self_sym_argsize_minus_2", h), ("self_sym_argsize_minus_1", w))
    return tuple((name, _shown(v)) for name, v in shown)


register(Op(IM2COL, "im2col", "Im2ColBackward0", 0, _im2col_vjp, py_adjoint=rule_adjoint, node_saved=_blocks_saved))
register(Op(COL2IM, "col2im", "Col2ImBackward0", 0, _col2im_vjp, py_adjoint=rule_adjoint, node_saved=_blocks_saved))
tangents({IM2COL: TRANSPOSED, COL2IM: TRANSPOSED})     # (linear)


def _pair(fn: str, name: str, v) -> tuple:
    """A pair argument of ``unfold``/``fold`` (an int for both), with ATen's check of its length."""
    v = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(v) != 2:
        raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(v)}")
    return tuple(int(e) for e in v)


def _block_checks(kernel: tuple, dilation: tuple, padding: tuple, stride: tuple) -> None:
    if min(kernel) <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kernel_height: {kernel[0]} "
                           f"kernel_width: {kernel[1]}")
    if min(stride) <= 0:
        raise RuntimeError(f"stride should be greater than zero, but got stride_height: {stride[0]} "
                           f"stride_width: {stride[1]}")
    if min(dilation) <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilation_height: {dilation[0]} "
                           f"dilation_width: {dilation[1]}")
    if min(padding) < 0:
        raise RuntimeError(f"padding should be non-negative, but got pad_height: {padding[0]} pad_width: {padding[1]}")


def _sliding(size: tuple, kernel: tuple, dilation: tuple, padding: tuple, stride: tuple) -> tuple:
    return tuple((s + 2 * p - d * (k - 1) - 1) // st + 1 for s, p, d, k, st in zip(size, padding, dilation, kernel,
                                                                                      stride))


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Extracts sliding local blocks from a batched input tensor ``(N, C, H, W)`` (or ``(C, H, W)``):
    ``(N, C * prod(kernel_size), L)``, ``L`` the number of blocks (PyTorch's ``im2col``)."""
    check_types("im2col", (("input", Tensor),), input)
    kernel, dilation, padding, stride = (_pair("unfold", name, v) for name, v in (
        ("kernel_size", kernel_size), ("dilation", dilation), ("padding", padding), ("stride", stride)))
    if input.dim() < 2 and input._rg and state.grad:
        # (PyTorch's autograd reads input.size(-1) and input.size(-2), to save them, before the op runs)
        if not input.dim():
            raise IndexError("Dimension specified as -1 but tensor has no dimensions")
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got -2)")
    _block_checks(kernel, dilation, padding, stride)
    if input.dim() < 3:     # (PyTorch's check of the input reads input.size(1) and input.size(2) first)
        if not input.dim():
            raise IndexError("Dimension specified as 1 but tensor has no dimensions")
        raise IndexError(f"Dimension out of range (expected to be in range of [{-input.dim()}, "
                         f"{input.dim() - 1}], but got {input.dim()})")
    shape = input._shape
    if input.dim() not in (3, 4) or 0 in shape[-3:]:
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero "
                           f"dimensions for input, but got: {list(shape)}")
    blocks = _sliding(shape[-2:], kernel, dilation, padding, stride)
    if min(blocks) < 1:
        raise RuntimeError(f"Given input with spatial size {tuple(shape[-2:])}, kernel_size={kernel}, "
                           f"dilation={dilation}, padding={padding}, calculated shape of the array of sliding blocks "
                           f"as {blocks}, but its components must be at least one.")
    if not input._dtype.is_floating_point:
        raise NotImplementedError(f"\"im2col_out_cpu\" not implemented for '{D.legacy_name(input._dtype)}'")
    return _blocks_row(IM2COL, input, (1, stride, dilation, padding), kernel, ())


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Combines an array of sliding local blocks ``(N, C * prod(kernel_size), L)`` (or without ``N``)
    into a tensor ``(N, C, *output_size)``, summing where blocks overlap (PyTorch's ``col2im``)."""
    check_types("col2im", (("input", Tensor),), input)
    size, kernel, dilation, padding, stride = (_pair("fold", name, v) for name, v in (
        ("output_size", output_size), ("kernel_size", kernel_size), ("dilation", dilation), ("padding", padding),
        ("stride", stride)))
    _block_checks(kernel, dilation, padding, stride)
    shape = input._shape
    if input.dim() not in (2, 3) or 0 in shape[-2:]:
        raise RuntimeError("Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero "
                           f"dimensions for input, but got: {list(shape)}")
    k = kernel[0] * kernel[1]
    if shape[-2] % k:
        raise RuntimeError("Expected size of input's dimension 1 to be divisible by the product of kernel_size, but "
                           f"got input.size(1)={shape[-2]} and kernel_size={kernel}.")
    blocks = _sliding(size, kernel, dilation, padding, stride)
    head = f"Given output_size={size}, kernel_size={kernel}, dilation={dilation}, padding={padding}, stride={stride}, "
    if shape[-1] != blocks[0] * blocks[1]:
        raise RuntimeError(head + "expected size of input's dimension 2 to match the calculated number of sliding "
                           f"blocks {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, but got "
                           f"input.size(2)={shape[-1]}.")
    if min(blocks) < 1:     # (PyTorch's col2im checks this after the count: two negative counts pass that)
        raise RuntimeError(head + f"calculated shape of the array of sliding blocks as {blocks}, which is too small "
                           "(non-positive)")
    if not input._dtype.is_floating_point:
        raise NotImplementedError(f"\"col2im_out_cpu\" not implemented for '{D.legacy_name(input._dtype)}'")
    return _blocks_row(COL2IM, input, (1, stride, dilation, padding), kernel, size)
