"""Reductions over a set of dims: sum and mean.

Row attributes: ``ia`` is the bit mask of reduced dims, ``ib`` bit 0 is
``keepdim`` and bit 1 records that ``dim`` was given (PyTorch names the node
``SumBackward1`` then, ``SumBackward0`` for a full reduction without ``dim``).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._index import broadcast_accumulate, dims
from ._spec import REDUCE, Op, register

SUM, MEAN = REDUCE.start, REDUCE.start + 1
KEEPDIM, DIM_GIVEN = 1, 2


@njit(cache=True, error_model="numpy")
def _between(code, src, os, dst, od, stab, sx, mask, nx, ny, spread):
    """Move values between a reduction's input (shape ``sx``) and its output (the reduced
    dims, ``mask``, kept as 1): spread the output over the input, or sum the input into
    the output; a mean scales by output over input size."""
    scale = ny / nx if code == MEAN else 1.0
    if ny == 1 and spread:
        # The adjoint of a full reduction (the usual loss): no index arithmetic.
        d = dst[od:od + nx]
        s = src[os] * scale
        for i in range(nx):
            d[i] += s
        return
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
def reduce_forward_kernel(code, v, ox, oy, stab, sx, mask, nx, ny):
    """Write the output of one reduction row (the compiled face of ``reduce_forward``)."""
    if nx == 0:
        v[oy:oy + ny] = np.nan if code == MEAN else 0.0     # an empty mean is 0/0, as in PyTorch
        return
    v[oy:oy + ny] = 0.0
    _between(code, v, ox, v, oy, stab, sx, mask, nx, ny, False)


def keep_shape(shape: tuple, mask: int) -> tuple:
    """``shape`` with the dims in ``mask`` set to 1."""
    return tuple(1 if mask >> d & 1 else s for d, s in enumerate(shape))


def _vjp(mean):
    def vjp(g, x, y, r):
        out = g.reshape(r.keep_shape).expand(r.in_shapes[0])
        return (out / r.count,) if mean else (out,)
    return vjp


def _name(base):
    return lambda r: base + ("1" if r.ib & DIM_GIVEN else "0")


register(Op(SUM, "sum", "SumBackward0", 0, _vjp(False), float_only=False,
            grad_fn_of=_name("SumBackward")))
register(Op(MEAN, "mean", "MeanBackward0", 0, _vjp(True),
            grad_fn_of=_name("MeanBackward")))

def _mean(v, axis, keepdims):
    n = 1
    for d in axis:
        n *= v.shape[d]
    # An empty mean is 0/0 = nan, as in PyTorch.
    return np.add.reduce(v, axis=axis, keepdims=keepdims) / v.dtype.type(n)


reduce_forward = {SUM: np.add.reduce, MEAN: _mean}
