"""Sums added up in PyTorch's order, so that a float sum has PyTorch's last bits.

PyTorch's CPU ``sum`` (``cascade_sum`` in ATen's SumKernel.cpp) reduces a contiguous row in vector
lanes: four vector accumulators side by side (instruction-level parallelism), each flushed into a
cascade of four levels every 16 steps, the lanes then added one after the other after the elements
that did not fill a vector.  numpy sums pairwise, in blocks of 8: the two differ in the last bits of
a float32 sum of a few dozen elements already, and tutorials print ``loss.item()`` in full.

PyTorch's CPU build registers this kernel with 32-byte vectors (8 float32 lanes) even where it
could use AVX-512 (``torch.backends.cpu.get_cpu_capability()`` says ``AVX512`` and sums still use 8
lanes), so the lane count here is fixed.  Only reductions that PyTorch runs on one thread are
reproduced: PyTorch splits an input of 32768 elements or more between its threads, whose number
tape does not know.
"""
from __future__ import annotations

import numpy as np
from numba import njit

GRAIN_SIZE = 32768
"""PyTorch's ``at::internal::GRAIN_SIZE``: smaller reductions run on one thread."""


VECTOR_BYTES = 32
"""The width of the vectors PyTorch's sum kernel adds in."""


@njit(cache=True)
def _ceil_log2(x):
    if x <= 2:
        return 1
    v = x - 1
    bits = 0
    while v > 0:
        v >>= 1
        bits += 1
    return bits


@njit(cache=True)
def _multi_row_sum(a, off, row_stride, col_stride, size, nrows, lanes, acc):
    """``nrows`` columns of ``size`` rows summed into ``acc[0]`` through four cascade levels."""
    level_power = max(4, _ceil_log2(size) // 4)
    level_step = 1 << level_power
    level_mask = level_step - 1
    i = 0
    while i + level_step <= size:
        for _ in range(level_step):
            base = off + i * row_stride
            for k in range(nrows):
                for m in range(lanes):
                    acc[0, k, m] += a[base + k * col_stride + m]
            i += 1
        for j in range(1, 4):
            for k in range(nrows):
                for m in range(lanes):
                    acc[j, k, m] += acc[j - 1, k, m]
                    acc[j - 1, k, m] = 0
            if i & (level_mask << (j * level_power)) != 0:
                break
    while i < size:
        base = off + i * row_stride
        for k in range(nrows):
            for m in range(lanes):
                acc[0, k, m] += a[base + k * col_stride + m]
        i += 1
    for j in range(1, 4):
        for k in range(nrows):
            for m in range(lanes):
                acc[0, k, m] += acc[j, k, m]


@njit(cache=True)
def _row_sum(a, off, step, size, lanes, acc):
    """ATen's ``row_sum`` of ``size`` vectors of ``lanes`` elements, ``step`` apart from ``off``:
    into ``acc[0, 0]``."""
    acc[:] = 0
    size_ilp = size // 4
    _multi_row_sum(a, off, 4 * step, step, size_ilp, 4, lanes, acc)
    for i in range(size_ilp * 4, size):
        for m in range(lanes):
            acc[0, 0, m] += a[off + i * step + m]
    for k in range(1, 4):
        for m in range(lanes):
            acc[0, 0, m] += acc[0, k, m]


@njit(cache=True)
def inner_sums(a, rows, n, lanes, out):
    """The sums of the ``rows`` consecutive rows of ``n`` elements of the flat ``a``, as PyTorch's
    contiguous inner reduction adds them up with vectors of ``lanes`` elements."""
    acc = np.zeros((4, 4, lanes), a.dtype)
    one = np.zeros((4, 4, 1), a.dtype)
    for r in range(rows):
        off = r * n
        if n >= lanes:
            vec_size = n // lanes
            _row_sum(a, off, lanes, vec_size, lanes, acc)
            total = a.dtype.type(0)
            for k in range(off + vec_size * lanes, off + n):
                total += a[k]
            for m in range(lanes):
                total += acc[0, 0, m]
            out[r] = total
        else:
            _row_sum(a, off, 1, n, 1, one)
            out[r] = a.dtype.type(0) + one[0, 0, 0]


@njit(cache=True)
def outer_sums(a, outer, rows, cols, lanes, out):
    """The column sums of ``outer`` consecutive C-ordered (``rows``, ``cols``) blocks of the flat
    ``a``, as PyTorch's outer reductions add them up: columns in groups of four vectors (of
    ``lanes``; four columns without vectors) down one cascade, the others by ``row_sum``.  Each
    column's order is its own, so the loops run across columns (they vectorize)."""
    group = 4 * lanes if cols >= lanes else 4
    grouped = cols // group * group
    rest = cols - grouped
    acc = np.zeros((4, max(grouped, 4), 1), a.dtype)
    tail = np.zeros((4, 4, max(rest, 1)), a.dtype)
    zero = a.dtype.type(0)
    for o in range(outer):
        base = o * rows * cols
        if grouped:
            acc[:] = 0
            _multi_row_sum(a, base, cols, 1, rows, grouped, 1, acc)
            for c in range(grouped):
                out[o * cols + c] = zero + acc[0, c, 0]
        if rest:
            _row_sum(a, base + grouped, cols, rows, rest, tail)
            for c in range(rest):
                out[o * cols + grouped + c] = zero + tail[0, 0, c]


@njit(cache=True)
def sums_into(big, small, src, os, dst, od, scale):
    """Add ``scale`` times the sums of the elements of ``src`` (shape ``big``, from ``os``) that
    broadcast from each element of ``dst`` (shape ``small``, aligned right, from ``od``), each sum
    added up as PyTorch's kernel does; False (nothing done) where that order is not reproduced."""
    nd = big.shape[0]
    ns = small.shape[0]
    n = 1
    for d in range(nd):
        n *= big[d]
    if n == 0 or n >= GRAIN_SIZE:
        return False
    # runs of reduced and kept dims, size-1 dims left out: (kept) reduced (kept) is reproduced
    sizes = np.ones(3, np.int64)
    kinds = np.zeros(3, np.int64)      # 0 none, 1 kept, 2 reduced
    nruns = 0
    for d in range(nd):
        if big[d] == 1:
            continue
        k = d - (nd - ns)
        kind = 2 if k < 0 or small[k] == 1 else 1
        if nruns > 0 and kinds[nruns - 1] == kind:
            sizes[nruns - 1] *= big[d]
        else:
            if nruns == 3:
                return False
            kinds[nruns] = kind
            sizes[nruns] = big[d]
            nruns += 1
    if nruns == 0 or (nruns == 3 and kinds[0] == 2) or (nruns == 2 and kinds[0] == kinds[1]):
        return False
    if kinds[0] == 2:
        outer, rows, cols = 1, sizes[0], (sizes[1] if nruns == 2 else 1)
    elif nruns == 2:
        outer, rows, cols = sizes[0], sizes[1], 1
    else:
        outer, rows, cols = sizes[0], sizes[1], sizes[2]
    if rows == 1:
        return False
    out = np.empty(outer * cols, src.dtype)
    flat = src[os:os + n]
    lanes = VECTOR_BYTES // src.itemsize
    if cols == 1:
        inner_sums(flat, outer, rows, lanes, out)
    else:
        outer_sums(flat, outer, rows, cols, lanes, out)
    for i in range(outer * cols):
        dst[od + i] += out[i] * scale
    return True


def _plan(shape: tuple, axis: tuple):
    """(outer, reduced, inner) sizes when the dims left after dropping those of size 1 are kept
    dims, then reduced dims, then kept dims (PyTorch's iterator merges each run into one); else None."""
    runs = []
    for d, size in enumerate(shape):
        if size == 1:
            continue
        kind = d in axis
        if runs and runs[-1][0] == kind:
            runs[-1][1] *= size
        else:
            runs.append([kind, size])
    kinds = [k for k, _ in runs]
    if kinds not in ([True], [False, True], [True, False], [False, True, False]):
        return None
    sizes = [n for _, n in runs]
    if kinds[0]:
        sizes.insert(0, 1)
    if not kinds[-1]:
        return tuple(sizes)
    return (sizes[0], sizes[1], 1)


def torch_sum(v: np.ndarray, axis: tuple, keepdims: bool):
    """``np.add.reduce(v, axis, keepdims)`` with PyTorch's rounding where it is reproduced (a float32
    or float64 array in C order of fewer than ``GRAIN_SIZE`` elements reduced over its last dims);
    numpy's sum elsewhere."""
    nd = v.ndim
    axis = tuple(d % nd for d in axis)
    plan = None
    if v.dtype.kind == "f" and v.itemsize in (4, 8) and 0 < v.size < GRAIN_SIZE and v.flags.c_contiguous:
        plan = _plan(v.shape, axis)
    if plan is None:
        return np.add.reduce(v, axis=axis, keepdims=keepdims)
    outer, rows, cols = plan
    out = np.empty(outer * cols, v.dtype)
    lanes = VECTOR_BYTES // v.itemsize
    if cols == 1:
        inner_sums(v.reshape(-1), outer, rows, lanes, out)
    else:
        outer_sums(v.reshape(-1), outer, rows, cols, lanes, out)
    shape = tuple(1 if d in axis else n for d, n in enumerate(v.shape) if keepdims or d not in axis)
    return out.reshape(shape)
