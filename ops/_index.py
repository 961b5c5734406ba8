"""Index arithmetic shared by kernels that move values between two shapes."""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def broadcast_accumulate(big, small, src, os, dst, od, spread, scale):
    """Add values between a big shape and a small one that broadcasts to it.

    The small shape is aligned to the right and its missing or size-1 dims are
    broadcast.  With ``spread`` each big element
    receives its small element (``dst`` is big); otherwise each small element
    receives the sum of its big elements (``dst`` is small).
    """
    nd = big.shape[0]
    ns = small.shape[0]
    stride = np.zeros(max(nd, 1), np.int64)
    acc = 1
    for d in range(nd - 1, -1, -1):
        k = d - (nd - ns)
        size = small[k] if k >= 0 else 1
        stride[d] = acc if size != 1 else 0
        acc *= size
    idx = np.zeros(max(nd, 1), np.int64)
    nbig = 1
    for d in range(nd):
        nbig *= big[d]
    j = 0
    for i in range(nbig):
        if spread:
            dst[od + i] += src[os + j] * scale
        else:
            dst[od + j] += src[os + i] * scale
        d = nd - 1
        while d >= 0:
            idx[d] += 1
            j += stride[d]
            if idx[d] < big[d]:
                break
            j -= stride[d] * idx[d]
            idx[d] = 0
            d -= 1


@njit(cache=True, inline="always")
def dims(stab, s):
    """The shape stored at offset ``s`` of the shape table (``[ndim, d0, ...]``)."""
    return stab[s + 1:s + 1 + stab[s]]


@njit(cache=True)
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
