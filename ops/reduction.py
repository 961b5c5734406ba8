"""Reductions over a set of dims: sum and mean.

Row attributes: ``ia`` is the bit mask of reduced dims, ``ib`` bit 0 is
``keepdim`` and bit 1 records that ``dim`` was given (PyTorch names the node
``SumBackward1`` then, ``SumBackward0`` for a full reduction without ``dim``).
The front ends (``sum``, ``mean``) are at the end of the file.
"""
from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np
from numba import njit

from .._emit import D, Tensor, emit, plain, quiet, state
from ._args import reduced_dims, shown
from ._index import broadcast_accumulate, dims
from ._spec import REDUCE, ROLES, Op, public, register
from ._spec import tangents

SUM, MEAN = REDUCE.start, REDUCE.start + 1
KEEPDIM, DIM_GIVEN = 1, 2
ROLES.sum, ROLES.sum_ib = SUM, KEEPDIM | DIM_GIVEN     # the recorded backward's sum-to (``ops/_spec.Roles``)


@njit(cache=True, error_model="numpy", inline="always")
def _spread_one(code, src, os, dst, od, nx):
    # The adjoint of a reduction to one element (the usual loss): no index arithmetic.
    d = dst[od:od + nx]
    s = src[os] * (1 / nx if code == MEAN else 1.0)
    for i in range(nx):
        d[i] += s


@njit(cache=True, error_model="numpy")
def _between(code, src, os, dst, od, stab, sx, mask, nx, ny, spread):
    """Move values between a reduction's input (shape ``sx``) and its output (the reduced
    dims, ``mask``, kept as 1): spread the output over the input, or sum the input into
    the output; a mean scales by output over input size."""
    if ny == 1 and spread:
        _spread_one(code, src, os, dst, od, nx)
        return
    scale = ny / nx if code == MEAN else 1.0
    big = dims(stab, sx)
    keep = big.copy()
    for d in range(keep.shape[0]):
        if mask >> d & 1:
            keep[d] = 1
    broadcast_accumulate(big, keep, src, os, dst, od, spread, scale)


@njit(cache=True, error_model="numpy")
def reduce_adjoint(code, v, g, ox, oy, stab, sx, mask, nx, ny):
    """Spread the output adjoint back over the reduced dims (``mask``); False for a code
    this family does not know."""
    if code != SUM and code != MEAN:
        return False
    if nx != 0:
        _between(code, g, oy, g, ox, stab, sx, mask, nx, ny, True)
    return True


@njit(cache=True, error_model="numpy")
def one_adjoint(code, g, ox, oy, nx):
    """``reduce_adjoint`` for a row with one output element (a sum or mean of all of its input,
    or of dims that hold all of it): the sweep's kernel for such rows, which compiles in a
    fraction of ``reduce_adjoint``'s time (no shape arithmetic), so that a first backward
    through a loss compiles the rest only if the program reduces along dims."""
    if nx != 0:
        _spread_one(code, g, oy, g, ox, nx)
    return True


@njit(cache=True, error_model="numpy")
def _pairwise(v, o, n):
    """The sum of ``v[o:o + n]`` in numpy's order (its ``pairwise_sum``): runs of up to 128
    elements summed in eight interleaved accumulators, longer ones split in two halves."""
    if n < 8:
        res = v.dtype.type(0.0)
        for i in range(n):
            res += v[o + i]
        return res
    if n <= 128:
        r0, r1, r2, r3 = v[o], v[o + 1], v[o + 2], v[o + 3]
        r4, r5, r6, r7 = v[o + 4], v[o + 5], v[o + 6], v[o + 7]
        i = 8
        while i < n - n % 8:
            r0 += v[o + i]
            r1 += v[o + i + 1]
            r2 += v[o + i + 2]
            r3 += v[o + i + 3]
            r4 += v[o + i + 4]
            r5 += v[o + i + 5]
            r6 += v[o + i + 6]
            r7 += v[o + i + 7]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res += v[o + i]
            i += 1
        return res
    half = n // 2
    half -= half % 8
    return _pairwise(v, o, half) + _pairwise(v, o + half, n - half)


@njit(cache=True, error_model="numpy")
def reduce_forward_kernel(code, v, ox, oy, stab, sx, mask, nx, ny):
    """Write the output of one reduction row (the compiled face of ``reduce_forward``), with
    numpy's sums (``np.add.reduce`` on a C-contiguous array), bitwise: the reduced trailing dims
    summed pairwise per block, then the blocks (or, when the last dim is kept, the elements)
    added one after the other into their output element, in memory order."""
    if nx == 0:
        v[oy:oy + ny] = np.nan if code == MEAN else 0.0     # an empty mean is 0/0, as in PyTorch
        return
    v[oy:oy + ny] = 0.0
    d = stab[sx]
    block = 1
    while d > 0 and mask >> (d - 1) & 1:
        d -= 1
        block *= stab[sx + 1 + d]
    if block == 1:
        _between(SUM, v, ox, v, oy, stab, sx, mask, nx, ny, False)
    elif block == nx:
        v[oy] += _pairwise(v, ox, nx)
    else:
        parts = np.empty(nx // block, v.dtype)
        for b in range(parts.shape[0]):
            parts[b] = _pairwise(v, ox + b * block, block)
        big = dims(stab, sx)[:d].copy()
        keep = big.copy()
        for k in range(d):
            if mask >> k & 1:
                keep[k] = 1
        broadcast_accumulate(big, keep, parts, 0, v, oy, False, 1.0)
    if code == MEAN:
        # (the sum, then one division, as numpy's mean: scaling each term rounds each, and
        # terms that cancel leave those roundings several ulps wide)
        count = nx // ny
        for i in range(oy, oy + ny):
            v[i] /= count


def keep_shape(shape: tuple, mask: int) -> tuple:
    """``shape`` with the dims in ``mask`` set to 1."""
    return tuple(1 if mask >> d & 1 else s for d, s in enumerate(shape))


def _vjp(mean):
    def vjp(g, x, y, r):
        # (the gradient of a sum of all elements, or with keepdim, expands as it is: PyTorch's graph
        # has no view there)
        if r.ib == DIM_GIVEN:       # (dims given, not kept; ``==``: a test the traced program can make)
            g = g.reshape(r.keep_shape)
        out = g.expand(r.in_shapes[0])
        return (out / r.count,) if mean else (out,)
    return vjp


def _name(base):
    return lambda r: base + ("1" if r.ib & DIM_GIVEN else "0")


def _saved(mean):
    """What PyTorch's node shows: the dims and keepdim given, the input's sizes (and element count)."""
    def table(r):
        shape = r.in_shapes[0]
        sizes = (("self_sym_sizes", lambda r: shape),)
        if mean:
            sizes += (("self_sym_numel", lambda r: math.prod(shape)),)
        if not r.ib & DIM_GIVEN:
            return sizes
        return (("dim", lambda r: tuple(d for d in range(len(shape)) if r.ia >> d & 1)),
                ("keepdim", lambda r: bool(r.ib & KEEPDIM))) + sizes
    return table


register(Op(SUM, "sum", "SumBackward0", 0, _vjp(False), float_only=False,
            grad_fn_of=_name("SumBackward"), node_saved=_saved(False)))
register(Op(MEAN, "mean", "MeanBackward0", 0, _vjp(True),
            grad_fn_of=_name("MeanBackward"), node_saved=_saved(True)))


def _jvp(mean):
    """Sums and means are linear: the tangent is the input's, reduced the same way (by the same
    call, as PyTorch's ``auto_linear``, so that its node is a SumBackward or MeanBackward too)."""
    def jvp(ts, xs, y, r):
        reduce = ts[0].mean if mean else ts[0].sum
        if not r.ib & DIM_GIVEN:
            return reduce()
        dims = tuple(d for d in range(len(r.in_shapes[0])) if r.ia >> d & 1)
        return reduce(dims, keepdim=bool(r.ib & KEEPDIM))
    return jvp


tangents({SUM: _jvp(False), MEAN: _jvp(True)})

def _mean(v, axis, keepdims):
    n = 1
    for d in axis:
        n *= v.shape[d]
    # An empty mean is 0/0 = nan, as in PyTorch.
    return np.add.reduce(v, axis=axis, keepdims=keepdims) / v.dtype.type(n)


reduce_forward = {SUM: np.add.reduce, MEAN: _mean}


# --- front end ------------------------------------------------------------------------
_ALL_DIMS = tuple(tuple(range(n)) for n in range(9))
Dims = Union[int, tuple]


def integral_result(x: Tensor, dt: D.dtype) -> None:
    """PyTorch's check as it records a differentiable op's result: a sum, product or running one of
    an input that requires grad may not be asked for an integral ``dtype``."""
    if x._rg and state.grad and not dt.is_floating_point:
        raise RuntimeError(f"Autograd not support dtype: {D.legacy_name(dt)}")


def _reduce(x: Tensor, code: int, dim, keepdim: bool, dtype) -> Tensor:
    quiet()
    nd = len(x._shape)
    dt = x._dtype
    if code == MEAN and not (dtype or dt).is_floating_point:
        which = "Optional" if dtype is not None else "Input"
        raise RuntimeError(f"mean(): could not infer output dtype. {which} dtype must be either a "
                           f"floating point or complex dtype. Got: {D.legacy_name(dtype or dt)}")
    if dim is None and dtype is None and not keepdim and dt.arena is not None:
        # The common full reduction of a float tensor, without the argument checks.
        dims = _ALL_DIMS[nd] if nd < len(_ALL_DIMS) else tuple(range(nd))
        y = np.asarray(reduce_forward[code](x._value(), axis=dims, keepdims=False), dt.np)
        if x._rg and state.grad:
            return emit(code, y, dt, x, ia=(1 << nd) - 1)
        return plain(y, dt)
    if dim is None:
        dims = tuple(range(nd))
        flags = 0
    else:
        dims = reduced_dims(dim, nd)
        flags = DIM_GIVEN
    if keepdim:
        flags |= KEEPDIM
    dt = x._dtype
    if dtype is not None:
        dt = dtype
    elif code == SUM and not dt.is_floating_point:
        dt = D.int64
    if code == MEAN and not dt.is_floating_point:
        which = "Optional" if dtype is not None else "Input"
        raise RuntimeError(f"mean(): could not infer output dtype. {which} dtype must be either a "
                           f"floating point or complex dtype. Got: {D.legacy_name(dt)}")
    src = x if dt is x._dtype else x.to(dt)
    v = src._value()
    if v.dtype == np.bool_:
        v = v.astype(np.int64)
    y = np.asarray(reduce_forward[code](v, axis=dims, keepdims=keepdim), dt.np)
    integral_result(x, dt)
    mask = 0
    for d in dims:
        mask |= 1 << d
    if src._rg and state.grad:
        out = emit(code, y, dt, src, ia=mask, ib=flags)
        if dim is not None:     # (its node shows the dims as given)
            out._tape.args[out._node] = lambda d=dim, k=keepdim, s=src._shape, mean=code == MEAN: (
                ("dim", shown((d,) if isinstance(d, (int, np.integer)) else tuple(d))), ("keepdim", bool(k)),
                ("self_sym_sizes", s)) + ((("self_sym_numel", math.prod(s)),) if mean else ())
        return out
    return plain(y, dt)


@public("sum")
def tensor_sum(self, dim: Optional[Dims] = None, keepdim: bool = False, *, dtype: Optional[D.dtype] = None) -> Tensor:
    """Sum of all elements, or over ``dim`` (an int or a tuple of ints)."""
    return _reduce(self, SUM, dim, keepdim, dtype)


@public("mean")
def mean(self, dim: Optional[Dims] = None, keepdim: bool = False, *, dtype: Optional[D.dtype] = None) -> Tensor:
    """Mean of all elements, or over ``dim`` (an int or a tuple of ints)."""
    return _reduce(self, MEAN, dim, keepdim, dtype)
