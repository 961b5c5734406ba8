"""Index arithmetic shared by kernels that move values between two shapes."""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy", inline="always")
def broadcast_accumulate(big, small, src, os, dst, od, spread, scale):
    """Add values between a big shape and a small one that broadcasts to it.

    The small shape is aligned to the right and its missing or size-1 dims are
    broadcast.  With ``spread`` each big element receives its small element
    (``dst`` is big); otherwise each small element receives the sum of its big
    elements (``dst`` is small).  The innermost dim is a plain loop over slices
    (it vectorizes); the outer dims advance a counter.
    """
    # (a constant ``spread`` would be a type of its own, compiled again: one signature per arena)
    _broadcast_accumulate(big, small, src, os, dst, od, spread != 0, np.float64(scale))


@njit(cache=True, error_model="numpy", fastmath=True)
def _broadcast_accumulate(big, small, src, os, dst, od, spread, scale):
    nd = big.shape[0]
    ns = small.shape[0]
    if nd == 0:
        dst[od] += src[os] * scale
        return
    stride = np.zeros(nd, np.int64)
    acc = 1
    for d in range(nd - 1, -1, -1):
        k = d - (nd - ns)
        size = small[k] if k >= 0 else 1
        stride[d] = acc if size != 1 else 0
        acc *= size
    inner = big[nd - 1]
    step = stride[nd - 1]
    nbig = 1
    for d in range(nd):
        nbig *= big[d]
    if inner == 0 or nbig == 0:
        return
    idx = np.zeros(nd, np.int64)
    j = 0
    for o in range(nbig // inner):
        base = o * inner
        if spread:
            out = dst[od + base:od + base + inner]
            if step == 0:
                val = src[os + j] * scale
                for k in range(inner):
                    out[k] += val
            else:
                part = src[os + j:os + j + inner]
                for k in range(inner):
                    out[k] += part[k] * scale
        else:
            part = src[os + base:os + base + inner]
            if step == 0:
                total = part[0] * 0.0
                for k in range(inner):
                    total += part[k]
                dst[od + j] += total * scale
            else:
                out = dst[od + j:od + j + inner]
                for k in range(inner):
                    out[k] += part[k] * scale
        j = advance(idx, big, stride, nd - 2, j)


@njit(cache=True, error_model="numpy", inline="always")
def advance(idx, shape, stride, d, j):
    """Step the multi-index ``idx`` over ``shape`` from dim ``d`` down, keeping the
    flat position ``j`` of a second layout with strides ``stride`` in step; return it."""
    while d >= 0:
        idx[d] += 1
        j += stride[d]
        if idx[d] < shape[d]:
            break
        j -= stride[d] * idx[d]
        idx[d] = 0
        d -= 1
    return j


@njit(cache=True, error_model="numpy")
def dims(stab, s):
    """The shape stored at offset ``s`` of the shape table (``[ndim, d0, ...]``)."""
    return stab[s + 1:s + 1 + stab[s]]


@njit(cache=True, error_model="numpy")
def slab(stab, s, dim):
    """(outer, size, inner) element counts around ``dim`` of shape ``s``."""
    nd = stab[s]
    outer = 1
    inner = 1
    for d in range(dim):
        outer *= stab[s + 1 + d]
    for d in range(dim + 1, nd):
        inner *= stab[s + 1 + d]
    return outer, stab[s + 1 + dim], inner


@njit(cache=True, error_model="numpy")
def positions_along(index, shapes, dim):
    """Flat positions in a row-major array of shape ``shapes[nd:]`` of the elements that the
    index values ``index`` (those of an array of shape ``shapes[:nd]``, in row-major order) pick
    along ``dim``, the other coordinates being their own (gather's rule); and -1, or the place of
    the first value out of ``range(shapes[nd + dim])`` (the positions then unfinished)."""
    nd = shapes.shape[0] // 2
    out = np.empty(index.shape[0], np.int64)
    if index.shape[0] == 0:
        return out, -1
    stride = np.zeros(nd, np.int64)
    step = 1
    acc = 1
    for d in range(nd - 1, -1, -1):
        if d == dim:
            step = acc
        else:
            stride[d] = acc
        acc *= shapes[nd + d]
    size = shapes[nd + dim]
    inner = shapes[nd - 1]
    across = stride[nd - 1]
    at = np.zeros(nd, np.int64)
    j = 0
    for k in range(0, index.shape[0], inner):      # (the last dim in a loop of its own)
        for q in range(k, k + inner):
            v = index[q]
            if v < 0 or v >= size:
                return out, q
            out[q] = j + v * step
            j += across
        # (the outer dims' counter stepped here: ``advance`` called per row costs ten times the loop)
        j -= across * inner
        d = nd - 2
        while d >= 0:
            at[d] += 1
            j += stride[d]
            if at[d] < shapes[d]:
                break
            j -= stride[d] * at[d]
            at[d] = 0
            d -= 1
    return out, -1
