"""Counting, searching and set functions: ``histc``, ``histogram``, ``bincount``, ``unique``,
``unique_consecutive``, ``searchsorted``, ``bucketize``, ``isin``, ``unravel_index``.

None has a derivative in PyTorch (nor has ``scatter`` with ``reduce=``, whose node is here too).  Where PyTorch's result still requires grad (``histogram``, a
``bincount`` with weights that do, ``unique``'s values), it sits behind a node whose backward
raises (``NotImplemented``, ``Unique2Backward0`` ...), and so does tape's: one Python-rule code,
``NODIFF``, whose ``ib`` says which of PyTorch's nodes and errors it is.
"""
from __future__ import annotations

import operator
from itertools import accumulate
from typing import Optional, Sequence, Union

import numpy as np

from .._emit import D, Number, Tensor, linspace_values, plain
from ._args import wrap_dim
from ._parser import Forms, check_types
from ._rule import return_type, rule_adjoint
from ._spec import PYTHON, REGISTRY, Op, public, public_function, register, tangents
from .decomp import _one
from .join import _write_out

NODIFF = PYTHON.start + 46
# (``ib`` of a NODIFF row: PyTorch's node name, and the error its backward raises)
_NODES = (("NotImplemented", RuntimeError, "derivative for aten::histogram is not implemented"),
          ("NotImplemented", RuntimeError, "derivative for aten::bincount is not implemented"),
          ("Unique2Backward0", NotImplementedError, "the derivative for '_unique2' is not implemented."),
          ("UniqueDimBackward0", NotImplementedError, "the derivative for 'unique_dim' is not implemented."),
          ("UniqueConsecutiveBackward0", NotImplementedError,
           "the derivative for 'unique_consecutive' is not implemented."),
          ("UniqueBackward0", NotImplementedError, "the derivative for '_unique' is not implemented."),
          # (the gradient of a prod scatter's source where two of its zeros meet: ``ops/index.py``)
          ("Error", RuntimeError, "scatter_reduce(): Double backward is unsupported for src when >1 zeros in src "
                                  "are scattered to the same position in self"),
          ("Error", RuntimeError, "index_reduce(): Double backward is unsupported for source when >1 zeros in "
                                  "source are scattered to the same position in self"),
          ("NotImplemented", RuntimeError, "derivative for aten::scatter is not implemented"),
          ("NotImplemented", RuntimeError, "derivative for aten::scatter_ is not implemented"),
          ("NotImplemented", RuntimeError, "derivative for aten::detach_copy is not implemented"),
          ("NotImplemented", RuntimeError, "derivative for aten::binomial is not implemented"),
          ("NotImplemented", RuntimeError, "derivative for aten::native_channel_shuffle is not implemented"),
          ("NotImplemented", RuntimeError, "derivative for aten::remainder is not implemented"))
(N_HISTOGRAM, N_BINCOUNT, N_UNIQUE, N_UNIQUE_DIM, N_UNIQUE_CONSECUTIVE, N_UNIQUE_LEGACY, N_SCATTER_PROD_ZEROS,
 N_INDEX_PROD_ZEROS, N_SCATTER, N_SCATTER_, N_DETACH_COPY, N_BINOMIAL, N_CHANNEL_SHUFFLE, N_REMAINDER) = range(14)


def _raise(g, xs, y, r):
    _, kind, msg = _NODES[r.ib]
    raise kind(msg)


register(Op(NODIFF, "histogram", "NotImplemented", 0, _raise, py_adjoint=rule_adjoint, arity=2,
            grad_fn_of=lambda r: _NODES[r.ib][0]))
tangents({NODIFF: REGISTRY[NODIFF].vjp})        # (nor a tangent)


def _nodiff(y: np.ndarray, how: int, x: Tensor, other: Optional[Tensor] = None) -> Tensor:
    """``y`` behind PyTorch's node without a derivative when ``x`` or ``other`` requires grad."""
    return _one(NODIFF, y, x, other, ib=how)


def _cpp(v: float) -> str:
    """A double as C++'s ostream prints it (PyTorch's messages)."""
    if np.isnan(v):
        return "-nan" if np.signbit(v) else "nan"
    return format(float(v), "g")


def _edges(lo: float, hi: float, bins: int, dt: D.dtype) -> np.ndarray:
    """``bins + 1`` edges from ``lo`` to ``hi``, PyTorch's ``linspace`` values in the dtype."""
    return linspace_values(lo, hi, bins + 1, dt.np)


def _float_only(t: Tensor, kernel: str) -> None:
    if not t._dtype.is_floating_point:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{D.legacy_name(t._dtype)}'")


# --- histograms ---------------------------------------------------------------------------
def _counts(v: np.ndarray, edges: np.ndarray, w: Optional[np.ndarray], dt: np.dtype, search: bool) -> np.ndarray:
    """Each value's bin among ``edges`` (the last bin closed), values outside left out, as
    PyTorch's kernel places them: by linear interpolation between the outer edges (in the dtype),
    then (for ``histogram``, ``search``) moved one bin where that lands on the wrong side of an edge."""
    n = len(edges) - 1
    lo, hi = edges[0], edges[-1]
    v = v.reshape(-1)
    keep = (v >= lo) & (v <= hi)
    w = None if w is None else w.reshape(-1)[keep]
    v = v[keep]
    with np.errstate(all="ignore"):
        pos = ((v - lo) * dt.type(n) / (hi - lo)).astype(np.int64)
    pos = np.clip(pos, 0, n - 1)
    if search:
        pos = pos - (v < edges[pos]) + ((pos + 1 < n) & (v >= edges[np.minimum(pos + 1, n)]))
        pos = np.clip(pos, 0, n - 1)
    if w is None:
        return np.bincount(pos, minlength=n)[:n].astype(dt)
    out = np.zeros(n, dt)
    np.add.at(out, pos, w.astype(dt))       # (in the dtype, in order, as PyTorch's loop adds them)
    return out


@public("histc")
def histc(self, bins: int = 100, min: Number = 0, max: Number = 0, *, out: Optional[Tensor] = None) -> Tensor:
    """The histogram of ``self``'s values in ``bins`` equal bins between ``min`` and ``max`` (the
    smallest and largest value when both are equal); values outside are left out."""
    if type(bins) is not int:
        check_types("histc", (("bins", "int"), ("min", "Number"), ("max", "Number")), bins, min, max)
    _float_only(self, "histogram_cpu")
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    v = self._value()
    lo, hi = float(min), float(max)         # (the outer edges: doubles, then the linspace's dtype)
    if lo == hi and v.size:
        lo, hi = float(v.min()), float(v.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{_cpp(lo)}, {_cpp(hi)}] is not finite")
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    counts = _counts(v, _edges(lo, hi, bins, self._dtype), None, self._dtype.np, False)
    return _write_out(plain(counts, self._dtype), out, "histc")


_Histogram = return_type("histogram", ("hist", "bin_edges"))


@public("histogram")
def histogram(self, bins: Union[int, Tensor] = 100, *, range: Optional[Sequence[float]] = None,
              weight: Optional[Tensor] = None, density: bool = False, out=None):
    """The histogram of ``self``'s values: ``bins`` equal bins over ``range`` (the values' range
    by default), or the bins between consecutive edges of a 1-D tensor ``bins``; each value counts
    ``weight`` (1 by default); with ``density``, normalized to integrate to 1.  Returns
    ``(hist, bin_edges)``."""
    _float_only(self, "histogramdd")
    dt = self._dtype
    if weight is not None and weight._dtype is not dt:
        raise RuntimeError("torch.histogramdd: if weight tensor is provided, input tensor and weight tensor should "
                           f"have the same dtype, but got input({_ctype(dt)}), and weight({_ctype(weight._dtype)})")
    if weight is not None and weight._shape != self._shape:
        raise RuntimeError("torch.histogramdd: if weight tensor is provided it should have the same shape as the "
                           f"input tensor excluding its innermost dimension, but got input with shape "
                           f"{list(self._shape) + [1]} and weight with shape {list(weight._shape)}")
    v = self._value()
    if isinstance(bins, Tensor):
        if bins.dim() != 1:
            raise RuntimeError(f"torch.histogramdd: bins tensor should have one dimension, but got {bins.dim()} "
                               "dimensions in the bins tensor for dimension 0")
        if bins._dtype is not dt:
            raise RuntimeError("torch.histogramdd: input tensor and bins tensors should have the same dtype, but got "
                               f"input {_ctype(dt)} and bins {_ctype(bins._dtype)}")
        if bins.numel() < 1:
            raise RuntimeError("torch.histogramdd: bins tensor should have at least 1 element, but got 0 elements "
                               "in the bins tensor for dimension 0")
        edges = bins._value().copy()
    else:
        if bins <= 0:
            raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
        if range is not None:
            lo, hi = float(range[0]), float(range[1])
        elif v.size:
            lo, hi = float(v.min()), float(v.max())
        else:
            lo, hi = 0.0, 1.0
        if lo > hi:
            raise RuntimeError(f"torch.histogramdd: expected upper bin edge to be greater than or equal to lower bin "
                               f"edge for dimension 0, but got lower {_cpp(lo)} and upper {_cpp(hi)}")
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise RuntimeError(f"torch.histogramdd: dimension 0's range [{_cpp(lo)}, {_cpp(hi)}] is not finite")
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = _edges(lo, hi, bins, dt)
    w = None if weight is None else weight._value()
    hist = _counts(v, edges, w, dt.np, True) if len(edges) > 1 else np.zeros(0, dt.np)
    if density:
        with np.errstate(all="ignore"):
            # (as PyTorch: divided by the total, then by each bin's width)
            hist = (hist / hist.sum(dtype=dt.np) / np.diff(edges)).astype(dt.np)
    result = _Histogram((_nodiff(hist, N_HISTOGRAM, self, weight), _nodiff(edges, N_HISTOGRAM, self, weight)))
    if out is not None:
        for r, o in zip(result, out):
            _write_out(r.detach(), o, "histogram")
        return _Histogram(tuple(out))
    return result


def _ctype(dt: D.dtype) -> str:
    """A dtype as C++'s ScalarType prints it in lower case (``float``, ``double``)."""
    return {"float32": "float", "float64": "double"}.get(dt.name, dt.name)


@public("bincount")
def bincount(self, weights: Optional[Tensor] = None, minlength: int = 0) -> Tensor:
    """How often each value occurs in a 1-D tensor of non-negative integers (the sum of their
    ``weights``, if given), for each value up to the largest (at least ``minlength`` counts)."""
    check_types("bincount", (("weights", (Tensor, type(None))), ("minlength", "int")), weights, minlength)
    if self._dtype.is_floating_point or self._dtype is D.bool_:
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for '{D.legacy_name(self._dtype)}'")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    v = self._value()
    if self.dim() != 1 or (v.size and v.min() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is not None and (weights.dim() != 1 or weights._shape[0] != v.shape[0]):
        raise RuntimeError("weights should be 1-d and have the same length as input")
    if weights is None:
        return plain(np.bincount(v, minlength=minlength).astype(np.int64), D.int64)
    dt = weights._dtype if weights._dtype in (D.float32, D.float64) else D.float64
    y = np.bincount(v, weights=weights._value().astype(np.float64), minlength=minlength).astype(dt.np)
    if dt is not weights._dtype or weights._dtype.arena is None:
        return plain(y, dt)
    return _nodiff(y, N_BINCOUNT, weights)


# --- unique values ---------------------------------------------------------------------------
def _unique_result(self: Tensor, values: np.ndarray, inverse: np.ndarray, counts: np.ndarray, how: int,
                   return_inverse: bool, return_counts: bool):
    out = _nodiff(values, how, self) if self._dtype.arena is not None else plain(values, self._dtype)
    if not (return_inverse or return_counts):
        return out
    res = [out]
    if return_inverse:
        res.append(plain(inverse.astype(np.int64), D.int64))
    if return_counts:
        res.append(plain(counts.astype(np.int64), D.int64))
    return tuple(res)


def _slices_unique(v: np.ndarray, dim: int, consecutive: bool) -> tuple:
    """The distinct slices of ``v`` along ``dim`` (sorted lexicographically, or runs of equal
    neighbours), the position of each slice's among them, and how often each occurs."""
    zeros = v.shape.count(0)
    if v.shape[dim] == 0:
        if zeros > 1:
            raise RuntimeError("Number of zero sized dimensions is more than one, so unique cannot be applied ")
        return v.copy(), np.zeros(0, np.int64), np.zeros(0, np.int64)
    if zeros:
        raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so unique cannot be applied")
    moved = np.moveaxis(v, dim, 0)
    n = moved.shape[0]
    flat = moved.reshape(n, -1)
    if consecutive:
        starts = [0] + [i for i in range(1, n) if not np.array_equal(flat[i], flat[i - 1])] if n else []
        inverse = np.repeat(np.arange(len(starts)), np.diff(starts + [n]))
        counts = np.diff(starts + [n])
        picked = moved[starts] if n else moved
    else:
        order = sorted(range(n), key=lambda i: tuple(flat[i].tolist()))
        groups, inverse = [], np.zeros(n, np.int64)
        for i in order:
            if not groups or not np.array_equal(flat[groups[-1][0]], flat[i]):
                groups.append([i])
            else:
                groups[-1].append(i)
            inverse[i] = len(groups) - 1
        keys = [g[0] for g in groups]
        counts = np.array([len(g) for g in groups], np.int64)
        picked = moved[keys] if n else moved
    return np.ascontiguousarray(np.moveaxis(picked, 0, dim)), inverse, counts


_UNIQUE_FLAGS = (("sorted", "bool"), ("return_inverse", "bool"), ("return_counts", "bool"))


@public("unique")
def unique(self, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,
           dim: Optional[int] = None):
    """The distinct values of ``self`` in ascending order (with ``dim``: its distinct slices along
    ``dim``), with, as asked, where each element went among them and how often each occurs."""
    # (PyTorch's Python function passes the flags on by keyword: no positions)
    if dim is not None:
        check_types("unique_dim", (("dim", "int"),), dim, first=2)
    check_types("_unique2" if dim is None else "unique_dim", _UNIQUE_FLAGS, sorted, return_inverse, return_counts,
                first=None)
    v = self._value()
    if dim is None:
        values, inverse, counts = np.unique(v.reshape(-1), return_inverse=True, return_counts=True)
        return _unique_result(self, values, inverse.reshape(v.shape), counts, N_UNIQUE, return_inverse,
                              return_counts)
    values, inverse, counts = _slices_unique(v, wrap_dim(dim, self.dim()), False)
    return _unique_result(self, values, inverse, counts, N_UNIQUE_DIM, return_inverse, return_counts)


def _empty_index() -> Tensor:
    return plain(np.zeros(0, np.int64), D.int64)


def _unique(input: Tensor, sorted: bool = True, return_inverse: bool = False) -> tuple:
    """``torch._unique``, ``unique``'s older ATen form: always ``(values, inverse)``, ``inverse`` empty unless asked."""
    v = input._value()
    values, inverse = np.unique(v.reshape(-1), return_inverse=True)
    values = _unique_result(input, values, None, None, N_UNIQUE_LEGACY, False, False)
    return values, plain(inverse.reshape(v.shape).astype(np.int64), D.int64) if return_inverse else _empty_index()


def _unique2(input: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False) -> tuple:
    """``torch._unique2``, ``unique``'s ATen form: always ``(values, inverse, counts)``, the last two empty unless asked."""
    values, inverse, counts = unique(input, sorted, True, True)
    return values, inverse if return_inverse else _empty_index(), counts if return_counts else _empty_index()


def unique_dim(input: Tensor, dim: int, sorted: bool = True, return_inverse: bool = False,
               return_counts: bool = False) -> tuple:
    """``unique`` along ``dim`` as ATen has it (``torch._VF.unique_dim``): always
    ``(values, inverse, counts)``."""
    return unique(input, sorted, True, True, dim)


@public("unique_consecutive")
def unique_consecutive(self, return_inverse: bool = False, return_counts: bool = False, dim: Optional[int] = None):
    """``self`` with each run of equal consecutive elements (slices along ``dim``) kept once, with,
    as asked, the run each element belongs to and the runs' lengths."""
    check_types("unique_consecutive", _UNIQUE_FLAGS[1:] + (("dim", "int?"),), return_inverse, return_counts, dim,
                first=None)
    v = self._value()
    if dim is None:
        flat = v.reshape(-1)
        if flat.size:
            starts = np.flatnonzero(np.concatenate([[True], flat[1:] != flat[:-1]]))
            counts = np.diff(np.append(starts, flat.size))
            inverse = np.repeat(np.arange(len(starts)), counts).reshape(v.shape)
            values = flat[starts]
        else:
            values, inverse, counts = flat.copy(), np.zeros(v.shape, np.int64), np.zeros(0, np.int64)
        return _unique_result(self, values, inverse, counts, N_UNIQUE_CONSECUTIVE, return_inverse, return_counts)
    values, inverse, counts = _slices_unique(v, wrap_dim(dim, self.dim()), True)
    return _unique_result(self, values, inverse, counts, N_UNIQUE_CONSECUTIVE, return_inverse, return_counts)


# --- searching -----------------------------------------------------------------------------
def _as_tensor(x, like: Tensor) -> Tensor:
    if isinstance(x, Tensor):
        return x
    return plain(np.array(x, D.result_type(like, x).np), D.result_type(like, x))


_SEARCH_OPTIONS = ("*, bool out_int32 = False, bool right = False, str side = None, Tensor sorter = None, "
                   "Tensor out = None")
_SEARCHSORTED = Forms("searchsorted", f"(Tensor sorted_sequence, Tensor input, {_SEARCH_OPTIONS})",
                      f"(Tensor sorted_sequence, Number self, {_SEARCH_OPTIONS})")


def _number(x) -> bool:
    return isinstance(x, (int, float, complex, np.number)) and not isinstance(x, np.bool_)


@public_function("searchsorted")
def searchsorted(sorted_sequence: Tensor, input: Union[Tensor, Number], *, out_int32: bool = False,
                 right: bool = False, side: Optional[str] = None, sorter: Optional[Tensor] = None,
                 out: Optional[Tensor] = None) -> Tensor:
    """For each value of ``input``, the index in ``sorted_sequence`` (along its last dim) before
    which it would be inserted to keep the order: the first such (the last with ``right``)."""
    if not isinstance(sorted_sequence, Tensor) or not (isinstance(input, Tensor) or _number(input)):
        _SEARCHSORTED.parse((sorted_sequence, input), {})
    scalar = not isinstance(input, Tensor)
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left "
                               "while right was True")
        right = side == "right"
    b = sorted_sequence._value()
    vals = _as_tensor(input, sorted_sequence)
    v = vals._value()
    if scalar and b.ndim != 1:
        raise RuntimeError(f"torch.searchsorted(): input value can be a scalar only when boundaries tensor dimension is "
                           f"1, but we got boundaries tensor dim({b.ndim}) and input value's dim(0) numel(1)")
    if b.ndim == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should have positive dimension, but got 0 "
                           "dimension")
    if not scalar and b.ndim != 1 and (b.shape[:-1] != v.shape[:-1] or v.ndim != b.ndim):
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions "
                           "of boundaries tensor and input value tensor must match, but we got boundaries tensor "
                           f"{list(b.shape)} and input value tensor {list(v.shape)}")
    if sorter is not None:
        if sorter._dtype is not D.int64:
            raise RuntimeError("torch.searchsorted(): sorter must be a tensor of long dtype but got "
                               f"{D.legacy_name(sorter._dtype)}")
        if sorter._shape != sorted_sequence._shape:
            raise RuntimeError("torch.searchsorted(): boundary and sorter must have the same size, but got boundary "
                               f"tensor {list(b.shape)}and got sorter tensor {list(sorter._shape)}")
        s = sorter._value()
        if s.size and (s.min() < 0 or s.max() >= b.shape[-1]):
            raise RuntimeError("torch.searchsorted(): sorter index out of range")
        b = np.take_along_axis(b, s, -1)
    how = "right" if right else "left"
    dt = D.int32 if out_int32 else D.int64
    if b.ndim == 1:
        y = np.searchsorted(b, v, side=how)
    else:
        bb = b.reshape(-1, b.shape[-1])
        vv = v.reshape(-1, v.shape[-1] if v.ndim else 1)
        y = np.stack([np.searchsorted(bb[i], vv[i], side=how) for i in range(len(bb))]).reshape(v.shape) \
            if len(bb) else np.zeros(v.shape, np.int64)
    return _write_out(plain(np.asarray(y, dt.np), dt), out, "searchsorted")


@public_function("bucketize")
def bucketize(input: Union[Tensor, Number], boundaries: Tensor, *, out_int32: bool = False, right: bool = False,
              out: Optional[Tensor] = None) -> Tensor:
    """For each value of ``input``, the index of its bucket among the 1-D sorted ``boundaries``
    (``boundaries[i - 1] < x <= boundaries[i]``; ``<=`` and ``<`` swapped with ``right``)."""
    if not isinstance(boundaries, Tensor):
        raise TypeError(f"bucketize(): argument 'boundaries' (position 2) must be Tensor, not "
                        f"{type(boundaries).__name__}")
    if boundaries.dim() != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.dim()})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)


_ISIN_OPTIONS = "*, bool assume_unique = False, bool invert = False, Tensor out = None"
_ISIN = Forms("isin", f"(Tensor elements, Tensor test_elements, {_ISIN_OPTIONS})",
              f"(Number element, Tensor test_elements, {_ISIN_OPTIONS})",
              f"(Tensor elements, Number test_element, {_ISIN_OPTIONS})")


@public_function("isin")
def isin(elements: Union[Tensor, Number], test_elements: Union[Tensor, Number], *, assume_unique: bool = False,
         invert: bool = False) -> Tensor:
    """Whether each of ``elements`` is among ``test_elements`` (is not, with ``invert``)."""
    if not (isinstance(elements, Tensor) or isinstance(test_elements, Tensor)) or \
            not all(isinstance(x, Tensor) or _number(x) for x in (elements, test_elements)):
        _ISIN.parse((elements, test_elements), {})
        raise TypeError(_ISIN.invalid((elements, test_elements), {}))     # (two numbers: no form takes them)
    e = elements._value() if isinstance(elements, Tensor) else np.array(elements)
    t = test_elements._value() if isinstance(test_elements, Tensor) else np.array(test_elements)
    if e.dtype == np.bool_ or t.dtype == np.bool_:      # (PyTorch's kernel is dispatched for numbers only)
        raise RuntimeError("Unsupported input type encountered for isin(): Bool")
    return plain(np.isin(e, t, invert=invert), D.bool_)


@public_function("unravel_index")
def unravel_index(indices: Tensor, shape) -> tuple:
    """The coordinates in a tensor of ``shape`` of each flat index in ``indices`` (one tensor per
    dim; indices wrap around, as PyTorch's floor division and remainder give them)."""
    if not isinstance(indices, Tensor):
        raise AttributeError(f"'{type(indices).__name__}' object has no attribute 'is_complex'")
    if indices._dtype.is_floating_point or indices._dtype is D.bool_:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices._dtype}")
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    elif isinstance(shape, Sequence):
        for d in shape:
            if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
                raise TypeError(f"expected 'shape' sequence to only contain ints, but got {type(d)}")
        shape = tuple(int(d) for d in shape)
    else:
        raise TypeError(f"expected 'shape' to be int or sequence of ints, but got {type(shape)}")
    if any(d < 0 for d in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {tuple(shape)}")
    coefs = list(reversed(list(accumulate(reversed(shape[1:] + (1,)), func=operator.mul))))
    v = indices._value().astype(np.int64)[..., None]
    with np.errstate(all="ignore"):
        if v.size and (any(c == 0 for c in coefs) or any(d == 0 for d in shape)):     # (no index: no division)
            raise RuntimeError("ZeroDivisionError")
        res = np.floor_divide(v, np.array(coefs, np.int64)) % np.array(shape, np.int64)
    return plain(res, D.int64).unbind(-1)
