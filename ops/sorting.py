"""Orderings and running reductions: sort, argsort, topk, kthvalue, median, nanmedian, cummax,
cummin (PICK rows over the indices they compute, ``ops/extrema.py``), cumsum and cumprod
(Python-rule rows whose dim is ``ia``).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from numba import njit

from .._emit import D, Tensor, emit, plain, quiet, state
from ._args import shown, wrap_dim
from .reduction import integral_result
from ._parser import Forms
from ._rule import return_type, rule_adjoint
from ._spec import OUT, PYTHON, SAVED_RESULT, SAVED_SELF, X0, Op, public, register
from ._spec import TRANSPOSED, tangents
from .extrema import BY_MEDIAN, BY_NANMEDIAN, pick, pick_name, positions_along, spread
from .shape import BY_INDEX

CUMSUM, CUMPROD = PYTHON.start + 42, PYTHON.start + 43
_SORT, _SORT_STABLE, _TOPK, _KTH, _MEDIAN, _NANMEDIAN, _CUMMAX, _CUMMIN = (pick_name(n) for n in (
    "SortBackward0", "SortBackward1", "TopkBackward0", "KthvalueBackward0", "MedianBackward1",
    "NanmedianBackward1", "CummaxBackward0", "CumminBackward0"))


def _flip(t: Tensor, d: int) -> Tensor:
    """``t`` reversed along ``d`` (a gather, so every order of derivative follows)."""
    shape = t._shape
    flat = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    return t._gather(np.ascontiguousarray(np.flip(flat, axis=d)), BY_INDEX)


def _reversed_cumsum(t: Tensor, d: int) -> Tensor:
    return _flip(_flip(t, d).cumsum(d), d)


def _cumsum_vjp(g, xs, y, r):
    if not r.in_shapes[0]:
        return (g,)
    return (_reversed_cumsum(g, r.ia),)


def _cumprod_vjp(g, xs, y, r):
    x = xs[0]
    shape = r.in_shapes[0]
    d = r.ia
    if not shape or shape[d] <= 1:
        return (g,)
    if not (x._value() == 0).any():
        return (_reversed_cumsum(g * y, d) / x,)
    # With zeros, exactly (to every order): d y_j / d x_k = prod_{i <= j, i != k} x_i for j >= k, the
    # running product of x with x_k replaced by 1 (row k of an n x n spread along a new dim).
    n = shape[d]
    big = shape[:d] + (n,) + shape[d:]
    tail = (1,) * (len(shape) - d - 1)
    eye = np.eye(n, dtype=x._dtype.np).reshape((n, n) + tail)
    upper = np.triu(np.ones((n, n), x._dtype.np)).reshape((n, n) + tail)
    rows = x.unsqueeze(d).expand(big) * plain(1 - eye, x._dtype) + plain(eye, x._dtype)
    return ((g.unsqueeze(d).expand(big) * rows.cumprod(d + 1) * plain(upper, x._dtype)).sum(d + 1),)


register(Op(CUMSUM, "cumsum", "CumsumBackward0", 0, _cumsum_vjp, py_adjoint=rule_adjoint,
            node_saved=(("dim", lambda r: r.ia),)))
register(Op(CUMPROD, "cumprod", "CumprodBackward0", X0 | OUT, _cumprod_vjp, py_adjoint=rule_adjoint,
            node_saved=(("self", X0), ("result", OUT), ("dim", lambda r: r.ia))))
# Tangent rules: cumsum is linear (its own tangent); cumprod's adjoint rule transposed.
tangents({CUMSUM: lambda ts, xs, y, r: ts[0].cumsum(r.ia), CUMPROD: TRANSPOSED})


def _cumulative(x: Tensor, dim: int, dtype, code: int) -> Tensor:
    d = wrap_dim(dim, len(x._shape))
    if dtype is not None:
        if dtype is D.bool_:
            raise NotImplementedError(f"\"{'cumsum' if code == CUMSUM else 'cumprod'}_out_cpu\" not implemented for "
                                      f"'Bool'")
        integral_result(x, dtype)
        if dtype is not x._dtype:
            x = x.to(dtype)
    elif not x._dtype.is_floating_point:
        x = x.to(D.int64)
    v = x._value()
    quiet()
    # (the ufuncs' own methods, not np.cumsum: a warning from numpy's wrapper would be numpy's, not tape's)
    y = v.copy() if v.ndim == 0 else (np.add if code == CUMSUM else np.multiply).accumulate(v, axis=d)
    y = np.asarray(y, v.dtype)
    if x._rg and state.grad and x._dtype.arena is not None:
        out = emit(code, y, x._dtype, x, ia=d)
        # (its node shows the dim as given)
        out._tape.args[out._node] = (lambda d=dim: (("dim", shown(d)),)) if code == CUMSUM else (
            lambda d=dim: (("self", SAVED_SELF), ("result", SAVED_RESULT), ("dim", shown(d))))
        return out
    return plain(y, x._dtype)


@public("cumsum")
def cumsum(self, dim: int, *, dtype: Optional[D.dtype] = None) -> Tensor:
    """Running sums along ``dim``."""
    return _cumulative(self, dim, dtype, CUMSUM)


@public("cumprod")
def cumprod(self, dim: int, *, dtype: Optional[D.dtype] = None) -> Tensor:
    """Running products along ``dim`` (the gradient is exact where the input has zeros)."""
    return _cumulative(self, dim, dtype, CUMPROD)


# --- selections -------------------------------------------------------------------------
SortResult = return_type("sort", ("values", "indices"))
TopkResult = return_type("topk", ("values", "indices"))
KthResult = return_type("kthvalue", ("values", "indices"))
MedianResult = return_type("median", ("values", "indices"))
NanmedianResult = return_type("nanmedian", ("values", "indices"))
CummaxResult = return_type("cummax", ("values", "indices"))
CumminResult = return_type("cummin", ("values", "indices"))


def _order(v: np.ndarray, d: int, descending: bool) -> np.ndarray:
    """Stable ascending (descending) order along ``d``, nan counted largest as PyTorch."""
    if v.dtype == np.bool_:
        v = v.astype(np.int8)
    if not descending:
        return np.argsort(v, axis=d, kind="stable")
    n = v.shape[d]
    return n - 1 - np.flip(np.argsort(np.flip(v, axis=d), axis=d, kind="stable"), axis=d)


def _selected(x: Tensor, d: int, idx: np.ndarray, name: int, cls, out_shape: Optional[tuple], given: int,
              keepdim: bool = False):
    """The named tuple ``(values, indices)`` of the elements at indices ``idx`` along ``d`` (the
    dim as ``given``)."""
    v = x._value()
    shape = v.shape or (1,)
    pos = positions_along(shape, d, idx.reshape(idx.shape or (1,))) if v.size else np.zeros(idx.shape, np.int64)
    out_shape = idx.shape if out_shape is None else out_shape
    indices = plain(np.array(idx.reshape(out_shape), np.int64), D.int64)
    return cls((pick(x, pos.reshape(out_shape), name, d, given, indices, keepdim), indices))


def _dim_of(x: Tensor, dim: int) -> int:
    return wrap_dim(dim, len(x._shape))


def _work(x: Tensor) -> np.ndarray:
    v = x._value()
    return v.reshape(1) if v.ndim == 0 else v


# PyTorch's overloads: ``stable`` is keyword-only, and given, it takes ``dim`` and ``descending``
# by keyword only too (``sort(x, 1, stable=True)`` is a TypeError)
_STABLE = "bool stable, int dim = -1, bool descending = False"
_SORT_FORMS = Forms("sort", f"(*, {_STABLE})", "(int dim = -1, bool descending = False)")
_ARGSORT_FORMS = Forms("argsort", f"(*, {_STABLE})", "(int dim = -1, bool descending = False)")


@public("sort", function_forms=Forms("sort", f"(Tensor input, *, {_STABLE}, tuple of Tensors out = None)",
                                     "(Tensor input, int dim = -1, bool descending = False, *, tuple of Tensors out "
                                     "= None)"))
def sort(self, *args, **kwargs):
    """sort(dim=-1, descending=False) or sort(*, stable, dim=-1, descending=False): the elements
    sorted along ``dim`` and their original indices, as a named tuple ``(values, indices)``; equal
    elements keep their order."""
    _, given = _SORT_FORMS.parse(args, kwargs)
    dim = given.get("dim", -1)
    d = _dim_of(self, dim)
    idx = _order(_work(self), d, given.get("descending", False))
    return _selected(self, d, idx, _SORT if given.get("stable") is None else _SORT_STABLE, SortResult, self._shape,
                     dim)


@public("argsort", function_forms=Forms("argsort", f"(Tensor input, *, {_STABLE}, Tensor out = None)",
                                        "(Tensor input, int dim = -1, bool descending = False)"))
def argsort(self, *args, **kwargs) -> Tensor:
    """argsort(dim=-1, descending=False) or argsort(*, stable, dim=-1, descending=False): the
    indices that sort ``self`` along ``dim``."""
    _, given = _ARGSORT_FORMS.parse(args, kwargs)
    d = _dim_of(self, given.get("dim", -1))
    return plain(np.array(_order(_work(self), d, given.get("descending", False)).reshape(self._shape), np.int64),
                 D.int64)


@public("topk")
def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """The ``k`` largest (smallest) elements along ``dim`` and their indices, as a named tuple."""
    d = _dim_of(self, dim)
    v = _work(self)
    if k < 0 or k > v.shape[d]:
        raise RuntimeError("selected index k out of range")
    if self._dtype is D.bool_:
        raise RuntimeError("topk does not support bool dtypes on CPU")
    # (a 0-d input gives its element back for k = 0 as for k = 1, as PyTorch's)
    k = k if self._shape else 1
    rows = np.moveaxis(v, d, -1)
    at = _top(_compared(rows).reshape(-1, v.shape[d]), k, bool(largest), bool(sorted))
    idx = np.moveaxis(at.reshape(rows.shape[:-1] + (k,)), -1, d)
    return _selected(self, d, idx, _TOPK, TopkResult, None if self._shape else (), dim)


def _compared(rows: np.ndarray) -> np.ndarray:
    """``rows`` as the selection kernels compare them: float64 where that holds every value exactly
    (floats and integers of up to 32 bits: the same order, the same ties, nan still nan), so that
    one compiled kernel serves them all; a compile costs seconds per dtype (int64 stays itself)."""
    if rows.dtype.kind == "f" or rows.dtype.kind in "iu" and rows.dtype.itemsize <= 4:
        return np.ascontiguousarray(rows, np.float64)
    return np.ascontiguousarray(rows)


# PyTorch's topk (SortingUtils.h, topk_impl_loop) runs libstdc++'s std::partial_sort (k * 64 <= n) or
# std::nth_element then std::sort of the first k - 1, whose order among equal elements is its answer:
# those algorithms as GCC writes them (stl_algo.h, stl_heap.h), on a row's values and indices.
@njit(cache=True, inline="always")
def _before(a, b, largest: bool) -> bool:
    return _gt(a, b) if largest else _gt(b, a)


@njit(cache=True)
def _push_heap(v, ix, first, hole, top, value, at, largest) -> None:
    parent = (hole - 1) // 2
    while hole > top and _before(v[first + parent], value, largest):
        v[first + hole] = v[first + parent]
        ix[first + hole] = ix[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    v[first + hole] = value
    ix[first + hole] = at


@njit(cache=True)
def _adjust_heap(v, ix, first, hole, n, value, at, largest) -> None:
    top = hole
    child = hole
    while child < (n - 1) // 2:
        child = 2 * (child + 1)
        if _before(v[first + child], v[first + child - 1], largest):
            child -= 1
        v[first + hole] = v[first + child]
        ix[first + hole] = ix[first + child]
        hole = child
    if n & 1 == 0 and child == (n - 2) // 2:
        child = 2 * (child + 1)
        v[first + hole] = v[first + child - 1]
        ix[first + hole] = ix[first + child - 1]
        hole = child - 1
    _push_heap(v, ix, first, hole, top, value, at, largest)


@njit(cache=True)
def _pop_heap(v, ix, first, last, result, largest) -> None:
    value, at = v[result], ix[result]
    v[result] = v[first]
    ix[result] = ix[first]
    _adjust_heap(v, ix, first, 0, last - first, value, at, largest)


@njit(cache=True)
def _heap_select(v, ix, first, middle, last, largest) -> None:
    n = middle - first
    if n >= 2:
        parent = (n - 2) // 2
        while True:
            _adjust_heap(v, ix, first, parent, n, v[first + parent], ix[first + parent], largest)
            if parent == 0:
                break
            parent -= 1
    for i in range(middle, last):
        if _before(v[i], v[first], largest):
            _pop_heap(v, ix, first, middle, i, largest)


@njit(cache=True)
def _partial_sort(v, ix, first, middle, last, largest) -> None:
    _heap_select(v, ix, first, middle, last, largest)
    while middle - first > 1:
        middle -= 1
        _pop_heap(v, ix, first, middle, middle, largest)


@njit(cache=True)
def _linear_insert(v, ix, last, largest) -> None:
    value, at = v[last], ix[last]
    nxt = last - 1
    while _before(value, v[nxt], largest):
        v[last] = v[nxt]
        ix[last] = ix[nxt]
        last = nxt
        nxt -= 1
    v[last] = value
    ix[last] = at


@njit(cache=True)
def _insertion_sort(v, ix, first, last, largest) -> None:
    for i in range(first + 1, last):
        if _before(v[i], v[first], largest):
            value, at = v[i], ix[i]
            for j in range(i, first, -1):
                v[j] = v[j - 1]
                ix[j] = ix[j - 1]
            v[first] = value
            ix[first] = at
        else:
            _linear_insert(v, ix, i, largest)


@njit(cache=True)
def _partition_pivot(v, ix, first, last, largest) -> int:
    # (the median of the second, middle and last elements moved to the front, then Hoare's partition)
    a, b, c = first + 1, first + (last - first) // 2, last - 1
    if _before(v[a], v[b], largest):
        m = b if _before(v[b], v[c], largest) else c if _before(v[a], v[c], largest) else a
    else:
        m = a if _before(v[a], v[c], largest) else c if _before(v[b], v[c], largest) else b
    _swap(v, ix, first, m)
    lo, hi = first + 1, last
    while True:
        while _before(v[lo], v[first], largest):
            lo += 1
        hi -= 1
        while _before(v[first], v[hi], largest):
            hi -= 1
        if not lo < hi:
            return lo
        _swap(v, ix, lo, hi)
        lo += 1


@njit(cache=True)
def _log2(n: int) -> int:
    k = 0
    while n > 1:
        n >>= 1
        k += 1
    return k


@njit(cache=True)
def _nth_element(v, ix, nth, largest) -> None:
    first, last = 0, v.size
    depth = 2 * _log2(last)
    while last - first > 3:
        if depth == 0:
            _heap_select(v, ix, first, nth + 1, last, largest)
            _swap(v, ix, first, nth)
            return
        depth -= 1
        cut = _partition_pivot(v, ix, first, last, largest)
        if cut <= nth:
            first = cut
        else:
            last = cut
    _insertion_sort(v, ix, first, last, largest)


@njit(cache=True)
def _sort(v, ix, last, largest) -> None:
    if last == 0:
        return
    # (introsort: the ranges it leaves to finish are disjoint, so a stack takes them in any order)
    stack = [(0, last, 2 * _log2(last))]
    while len(stack):
        first, end, depth = stack.pop()
        while end - first > 16:
            if depth == 0:
                _partial_sort(v, ix, first, end, end, largest)
                break
            depth -= 1
            cut = _partition_pivot(v, ix, first, end, largest)
            stack.append((cut, end, depth))
            end = cut
    if last > 16:
        _insertion_sort(v, ix, 0, 16, largest)
        for i in range(16, last):
            _linear_insert(v, ix, i, largest)
    else:
        _insertion_sort(v, ix, 0, last, largest)


@njit(cache=True)
def _top(rows: np.ndarray, k: int, largest: bool, ordered: bool) -> np.ndarray:
    """The indices of each row's ``k`` largest (smallest) elements in PyTorch's order."""
    m, n = rows.shape
    out = np.empty((m, k), np.int64)
    for row in range(m):
        if k == 0:
            continue
        v = rows[row].copy()
        ix = np.arange(n)
        if k * 64 <= n:
            _partial_sort(v, ix, 0, k, n, largest)
        else:
            _nth_element(v, ix, k - 1, largest)
            if ordered:
                _sort(v[:k - 1], ix[:k - 1], k - 1, largest)
        out[row] = ix[:k]
    return out


@njit(cache=True, inline="always")
def _gt(a, b) -> bool:
    return (a != a and b == b) or a > b       # (nan largest)


@njit(cache=True, inline="always")
def _swap(arr, idx, i, j) -> None:
    arr[i], arr[j] = arr[j], arr[i]
    idx[i], idx[j] = idx[j], idx[i]


@njit(cache=True)
def _quick_select(rows: np.ndarray, k: int) -> np.ndarray:
    """The index of each row's ``k``-th smallest element (from 0) as PyTorch's kthvalue finds it:
    ATen's quick_select_template (Sedgewick's partition about a median of three), whose choice
    among equal elements is its answer."""
    m, n = rows.shape
    out = np.empty(m, np.int64)
    arr = np.empty(n, rows.dtype)
    idx = np.empty(n, np.int64)
    for row in range(m):
        for t in range(n):
            arr[t] = rows[row, t]
            idx[t] = t
        lo, hi = 0, n - 1
        while hi > lo:
            if hi == lo + 1:
                if _gt(arr[lo], arr[hi]):
                    _swap(arr, idx, lo, hi)
                break
            _swap(arr, idx, (lo + hi) >> 1, lo + 1)
            if _gt(arr[lo + 1], arr[hi]):
                _swap(arr, idx, lo + 1, hi)
            if _gt(arr[lo], arr[hi]):
                _swap(arr, idx, lo, hi)
            if _gt(arr[lo + 1], arr[lo]):
                _swap(arr, idx, lo + 1, lo)
            i, j = lo + 1, hi
            pivot = arr[lo]
            while True:
                i += 1
                while _gt(pivot, arr[i]):
                    i += 1
                j -= 1
                while _gt(arr[j], pivot):
                    j -= 1
                if j < i:
                    break
                _swap(arr, idx, i, j)
            _swap(arr, idx, lo, j)
            if j <= k:
                lo = i
            if j >= k:
                hi = j - 1
        out[row] = idx[k]
    return out


def _kth(x: Tensor, d: int, k: int, keepdim: bool, name: int, cls, given: int):
    v = _work(x)
    rows = np.moveaxis(v, d, -1)
    at = _quick_select(_compared(rows).reshape(-1, v.shape[d]), k)
    idx = np.expand_dims(at.reshape(rows.shape[:-1]), d)
    shape = idx.shape if keepdim else tuple(s for i, s in enumerate(idx.shape) if i != d)
    return _selected(x, d, idx, name, cls, shape if x._shape else (), given, keepdim)


@public("kthvalue")
def kthvalue(self, k: int, dim: int = -1, keepdim: bool = False):
    """The ``k``-th smallest element along ``dim`` (k from 1) and its index, as a named tuple."""
    d = _dim_of(self, dim)
    if _work(self).shape[d] == 0:
        raise IndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size.")
    if k < 1 or k > _work(self).shape[d]:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    if self._dtype is D.bool_:
        raise NotImplementedError("\"kthvalue_cpu\" not implemented for 'Bool'")
    return _kth(self, d, k - 1, keepdim, _KTH, KthResult, dim)


def _median_index(v: np.ndarray, d: int, ignore_nan: bool) -> np.ndarray:
    """Index along ``d`` of each slice's lower median: a nan if the slice has one (the first), or
    with ``ignore_nan`` the lower median of the other elements (the first nan if all are nan)."""
    order = _order(v, d, False)
    nans = np.isnan(v).sum(axis=d, keepdims=True) if v.dtype.kind == "f" else np.zeros_like(
        np.take(v, [0], axis=d), np.int64)
    n = v.shape[d]
    if ignore_nan:
        live = n - nans
        k = np.where(live > 0, (live - 1) // 2, live)
        # (all nan: the nan std::nth_element leaves first, PyTorch's answer)
        return np.where(live > 0, np.take_along_axis(order, k, axis=d), _first_of_equal(n))
    k = np.where(nans > 0, n - nans, np.full_like(nans, (n - 1) // 2))
    return np.take_along_axis(order, k, axis=d)


def _first_of_equal(n: int) -> int:
    """The index libstdc++'s std::nth_element puts first among ``n`` equal elements (PyTorch's
    nanmedian of an all-nan slice): each round of its introselect swaps the middle element to the
    front and its partition reverses the rest, until at most 3 are left."""
    a = np.arange(n)
    last = n
    while last > 3:
        a[0], a[last // 2] = a[last // 2], a[0]
        a[1:last] = a[1:last][::-1].copy()
        last = 1 + (last - 1) // 2
    return int(a[0]) if n else 0


def _median(x: Tensor, dim, keepdim: bool, ignore_nan: bool):
    name = "nanmedian" if ignore_nan else "median"
    if x._dtype is D.bool_:
        raise NotImplementedError(f"\"{'median_cpu' if dim is None else 'median_out'}\" not implemented for 'Bool'")
    if dim is None:
        v = x._value().reshape(-1)
        y = np.asarray(v[_median_index(v, 0, ignore_nan)[0]] if v.size else np.nan, v.dtype)
        if not x._dtype.is_floating_point:
            return plain(y, x._dtype)
        return spread(x, y, tuple(range(len(x._shape))), False, BY_NANMEDIAN if ignore_nan else BY_MEDIAN)
    d = _dim_of(x, dim)
    v = _work(x)
    if v.shape[d] == 0:       # (nanmedian's message names median, as PyTorch's)
        raise IndexError(f"{name.replace('nan', '')}(): Expected reduction dim {d} to have non-zero size.")
    if v.size == 0:
        idx = np.zeros(tuple(1 if i == d else s for i, s in enumerate(v.shape)), np.int64)
    else:
        idx = _median_index(v, d, ignore_nan)
    shape = idx.shape if keepdim else tuple(s for i, s in enumerate(idx.shape) if i != d)
    return _selected(x, d, idx, _NANMEDIAN if ignore_nan else _MEDIAN,
                     NanmedianResult if ignore_nan else MedianResult, shape if x._shape else (), dim, keepdim)


@public("median")
def median(self, dim: Optional[int] = None, keepdim: bool = False):
    """The lower median of all elements (ties share the gradient), or along ``dim`` as a named
    tuple ``(values, indices)``; a slice with a nan has median nan."""
    return _median(self, dim, keepdim, False)


@public("nanmedian")
def nanmedian(self, dim: Optional[int] = None, keepdim: bool = False):
    """``median`` of the elements that are not nan."""
    return _median(self, dim, keepdim, True)


def _running(x: Tensor, dim: int, largest: bool):
    if not x._shape and dim not in (-1, 0):
        raise IndexError(f"{'cummax' if largest else 'cummin'}(): Expected reduction dim -1 or 0 for scalar but got "
                         f"{dim}")
    d = _dim_of(x, dim)
    v = _work(x)
    idx = np.zeros(v.shape, np.int64)
    if v.size:
        best = np.take(v, [0], axis=d)
        at = np.zeros_like(best, np.int64)
        for j in range(v.shape[d]):
            cur = np.take(v, [j], axis=d)
            # a later equal element takes over, and so does every later nan (PyTorch's order)
            better = cur >= best if largest else cur <= best
            if v.dtype.kind == "f":
                better = np.isnan(cur) | better & ~np.isnan(best)
            best = np.where(better, cur, best)
            at = np.where(better, j, at)
            idx[(slice(None),) * d + (slice(j, j + 1),)] = at
    return _selected(x, d, idx, _CUMMAX if largest else _CUMMIN, CummaxResult if largest else CumminResult,
                     x._shape, dim)


@public("cummax")
def cummax(self, dim: int):
    """Running maxima along ``dim`` and their indices, as a named tuple ``(values, indices)``."""
    return _running(self, dim, True)


@public("cummin")
def cummin(self, dim: int):
    """Running minima along ``dim`` and their indices, as a named tuple ``(values, indices)``."""
    return _running(self, dim, False)
