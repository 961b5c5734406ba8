"""Largest and smallest elements: max/min (whole, or over a dim with their indices), amax/amin,
argmax/argmin; and the two Python-rule rows every selecting reduction records.

PICK: the elements at flat positions of the input (its index list in the tape's ``ix`` at
offset ``ia``, one entry per output element); its adjoint scatters back.  Reductions that pick
one element of each slice (``max(dim)``, and ``sort``, ``topk``, ``median(dim)`` ... in
``ops/sorting.py``) record it with the indices they computed; ``ib`` names the node.
SPREAD: a reduction (bit mask of reduced dims in ``ia``) whose gradient is shared evenly among
the elements equal to the result (ties), as PyTorch's ``amax`` and ``max()``; ``ib`` names it.
"""
from __future__ import annotations

from typing import Optional, Union

import numpy as np

from .._emit import D, Tensor, emit, node_in, plain, recorded, state, write_tape
from ._args import shown, wrap_dim
from ._parser import Forms
from ._rule import return_type, rule_adjoint
from ._spec import NUMBER, OUT, OUTPUTS, OUTS, PYTHON, SAVED_RESULT, SAVED_SELF, X0, X1, Given, Op, public, register
from ._spec import TRANSPOSED, tangents
from .shape import _gather_jvp
from ._args import reduced_dims
from .softmax import kept, mask_of, reduced

PICK, SPREAD, AMINMAX = PYTHON.start + 33, PYTHON.start + 34, PYTHON.start + 44
PICK_NAMES = ["MaxBackward0", "MinBackward0"]
SPREAD_NAMES = ("AmaxBackward0", "AminBackward0", "MaxBackward1", "MinBackward1", "MedianBackward0",
                "NanmedianBackward0")
BY_AMAX, BY_AMIN, BY_MAX, BY_MIN, BY_MEDIAN, BY_NANMEDIAN = range(6)


def pick_name(name: str) -> int:
    """The ``ib`` of PICK rows named ``name`` (families that record PICK rows add their names)."""
    if name not in PICK_NAMES:
        PICK_NAMES.append(name)
    return PICK_NAMES.index(name)


def _spread_hits(x: np.ndarray, y: np.ndarray, keep: tuple, nan_ties: bool) -> tuple:
    """The elements equal to their slice's result (a nan result is matched by nans when
    ``nan_ties``, as PyTorch's ``max()``), and how many each slice has, shaped to broadcast."""
    yk = y.reshape(keep)
    hit = x == yk
    if nan_ties:
        hit |= np.isnan(x) & np.isnan(yk)
    dims = tuple(d for d, s in enumerate(keep) if s == 1 and x.shape[d] != 1) or None
    count = hit.sum(axis=dims, keepdims=True) if dims else hit.astype(np.int64)
    return hit, count


def _shared(g, x: Tensor, y: np.ndarray, keep: tuple, evenly: bool):
    """The adjoint ``g`` shared among the ties, divided by their count as PyTorch divides it:
    ``max()``, ``min()`` and ``median()`` write the shares into zeros (``evenly_distribute_backward``:
    +0.0 elsewhere), ``amax``/``amin``/``aminmax`` multiply them by the mask (``scale_grad_by_count``:
    -0.0 elsewhere where the share is negative)."""
    hit, count = _spread_hits(x._value(), y, keep, evenly)
    share = g.reshape(keep) / plain(count.astype(x._value().dtype), x._dtype)
    if evenly:
        return share.expand(x._shape).masked_fill(plain(~hit, D.bool_), 0.0)
    return share * plain(hit, x._dtype)


def _spread_vjp(g, xs, y, r):
    return (_shared(g, xs[0], y._value(), r.keep_shape, r.ib >= BY_MAX),)


def _aminmax_vjp(g, xs, y, r):
    x = xs[0]
    keep = r.keep_shape
    n = int(np.prod(keep))
    v = y._value().reshape(-1)
    out = None
    for k, gk in enumerate(g):
        if gk is not None:
            d = _shared(gk, x, v[k * n:(k + 1) * n], keep, False)
            out = d if out is None else out + d
    return (out,)


register(Op(AMINMAX, "aminmax", "AminmaxBackward0", X0 | OUT | OUTS, _aminmax_vjp, py_adjoint=rule_adjoint, multi=True))
# (a PICK row's hidden second input is the indices tensor it returned, which PyTorch's node saves:
# changed in place, it makes backward fail)
register(Op(PICK, "_pick", "MaxBackward0", NUMBER | X1,
            lambda g, x, y, r: (g._scatter(r.out_index_list, r.in_shapes[0]),),
            py_adjoint=rule_adjoint, grad_fn_of=lambda r: PICK_NAMES[r.ib], nondiff=(1,)))
register(Op(SPREAD, "amax", "AmaxBackward0", X0 | OUT, _spread_vjp, py_adjoint=rule_adjoint,
            grad_fn_of=lambda r: SPREAD_NAMES[r.ib],
            node_saved=lambda r: (("self", X0), ("dim", _amax_dims), ("keepdim", kept), ("result", OUT))
            if r.ib in (BY_AMAX, BY_AMIN) else ()))
# Tangent rules: a pick is a gather (linear); amax/amin and aminmax spread over ties, their adjoint
# rules transposed.
tangents({PICK: _gather_jvp, SPREAD: TRANSPOSED, AMINMAX: TRANSPOSED})


def _amax_dims(r) -> tuple:
    dims = reduced(r)
    return () if len(dims) == len(r.in_shapes[0]) else dims     # (``amax()``'s default dim is ``()``)


def pick(x: Tensor, positions: np.ndarray, name: int, dim: int, given: int, indices: Tensor,
         keepdim: bool = False) -> Tensor:
    """The elements of ``x`` at flat ``positions`` (an int array shaped like the result), taken
    along ``dim``, recorded as a PICK row named ``PICK_NAMES[name]``, whose node shows the dim as
    ``given``, ``indices`` (the indices along it) and (a reduction's) ``keepdim`` saved."""
    y = np.array(x._value().reshape(-1)[positions], order="C")
    if not (x._rg and state.grad):
        return plain(y, x._dtype)
    tape = write_tape()
    nx = x._node if x._tape is tape else tape.import_(x)
    ni = node_in(tape, indices, x._dtype, indices._shape)
    node = tape.append(PICK, x._dtype.arena, y, nx, ni, ia=tape.index_list(positions), ib=name, fa=float(dim))
    tape.args[node] = lambda s=x._shape: _pick_saved(PICK_NAMES[name], given, indices, keepdim, s)
    return recorded(tape, node, y, x._dtype)


def _pick_saved(title: str, given: int, indices: Tensor, keepdim: bool, shape: tuple) -> tuple:
    """What a PICK row's node shows: the dim as given, the indices along it, and (but for
    cummax/cummin, which show the input) keepdim and the input's sizes."""
    if title.startswith("Cum"):
        return (("self", SAVED_SELF), ("dim", shown(given)), ("indices", indices))
    saved = (("dim", shown(given)), ("indices", indices))
    if not title.startswith(("Sort", "Topk")):
        saved += (("keepdim", bool(keepdim)),)
    return saved + (("self_sym_sizes", shape),)


def positions_along(shape: tuple, d: int, idx: np.ndarray) -> np.ndarray:
    """Flat positions in a tensor of ``shape`` of the indices ``idx`` taken along dim ``d``
    (``idx`` has ``shape``'s number of dims)."""
    flat = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    return np.take_along_axis(flat, idx, axis=d)


def spread(x: Tensor, y: np.ndarray, dims: tuple, keepdim: bool, name: int) -> Tensor:
    """Record a SPREAD row (reduced ``dims``) with value ``y``."""
    if x._rg and state.grad:
        return emit(SPREAD, y, x._dtype, x, ia=mask_of(dims), ib=name)
    return plain(y, x._dtype)


MaxResult = return_type("max", ("values", "indices"))
MinResult = return_type("min", ("values", "indices"))


def _np_arg(v: np.ndarray, d: int, largest: bool) -> np.ndarray:
    """Index of the first largest (smallest) element along ``d``, a nan counting as both."""
    if v.dtype == np.bool_:
        v = v.astype(np.int8)
    return np.argmax(v, axis=d) if largest else np.argmin(v, axis=d)


def _extreme_dim(x: Tensor, dim, keepdim: bool, largest: bool, name: str):
    nd = len(x._shape)
    d = wrap_dim(dim, nd)
    v = x._value()
    if nd == 0:
        v = v.reshape(1)
    if v.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    idx = np.expand_dims(_np_arg(v, d, largest), d) if v.size else np.zeros(
        tuple(1 if k == d else s for k, s in enumerate(v.shape)), np.int64)
    pos = positions_along(v.shape, d, idx)
    out_shape = tuple(s for k, s in enumerate(v.shape) if k != d) if not keepdim else idx.shape
    if nd == 0:
        out_shape = ()
    indices = plain(np.array(idx.reshape(out_shape), np.int64), D.int64)
    name = pick_name("MaxBackward0" if largest else "MinBackward0")
    values = pick(x, pos.reshape(out_shape), name, d, dim, indices, keepdim)
    return (MaxResult if largest else MinResult)((values, indices))


def _empty_check(x: Tensor, name: str, error=RuntimeError, hint: bool = True) -> None:
    if x.numel() == 0:
        tail = " Specify the reduction dim with the 'dim' argument." if hint else ""
        raise error(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.{tail}")


def _extreme(self, dim, keepdim, largest: bool):
    name = "max" if largest else "min"
    if isinstance(dim, Tensor):
        return self.maximum(dim) if largest else self.minimum(dim)
    if dim is None:
        if keepdim:
            raise TypeError(f"{name}() received an invalid combination of arguments - got (keepdim=bool, ), "
                            f"but expected one of:")
        _empty_check(self, name)
        v = self._value()
        y = np.asarray(v.max() if largest else v.min(), v.dtype)
        if not self._dtype.is_floating_point:
            return plain(y, self._dtype)
        return spread(self, y, tuple(range(len(self._shape))), False, BY_MAX if largest else BY_MIN)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        _EXTREME.named(name).parse((dim, keepdim) if keepdim else (dim,), {})
    return _extreme_dim(self, dim, keepdim, largest, name)


# PyTorch's overloads (the method's take the arguments given as positional: it cannot tell)
_EXTREME = Forms("max", "()", "(Tensor other)", "(int dim, bool keepdim = False)")
_EXTREME_FUNCTION = Forms("max", "(Tensor input, *, Tensor out = None)",
                          "(Tensor input, Tensor other, *, Tensor out = None)",
                          "(Tensor input, int dim, bool keepdim = False, *, tuple of Tensors out = None)")


@public("max", error_forms=_EXTREME_FUNCTION)
def tensor_max(self, dim: Union[int, Tensor, None] = None, keepdim: bool = False):
    """The largest element; with ``dim``, a named tuple ``(values, indices)`` of the largest
    element of each slice along ``dim`` and its (first) index; with a tensor, ``maximum``."""
    return _extreme(self, dim, keepdim, True)


@public("min", error_forms=_EXTREME_FUNCTION)
def tensor_min(self, dim: Union[int, Tensor, None] = None, keepdim: bool = False):
    """The smallest element; with ``dim``, a named tuple ``(values, indices)`` of the smallest
    element of each slice along ``dim`` and its (first) index; with a tensor, ``minimum``."""
    return _extreme(self, dim, keepdim, False)


def _amax(x: Tensor, dim, keepdim: bool, largest: bool) -> Tensor:
    name = "amax" if largest else "amin"
    nd = len(x._shape)
    dims = reduced_dims(() if dim is None else dim, nd)
    v = x._value()
    if x.numel() == 0:
        if len(dims) == nd and (dim is None or dim == ()):
            _empty_check(x, name)
        given = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dims if dim is None or dim == () else dim)
        for d in given:
            if v.shape[wrap_dim(d, nd)] == 0:       # (PyTorch names the dim as given)
                raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    if v.size == 0:
        y = np.empty(tuple(1 if k in dims else s for k, s in enumerate(v.shape)) if keepdim else
                     tuple(s for k, s in enumerate(v.shape) if k not in dims), v.dtype)
    else:
        y = np.asarray((v.max if largest else v.min)(axis=dims, keepdims=keepdim), v.dtype)
    if not x._dtype.is_floating_point:
        return plain(y, x._dtype)
    out = spread(x, y, dims, keepdim, BY_AMAX if largest else BY_AMIN)
    if out._tape is not None:       # (its node shows the dims as given)
        given = () if dim is None else (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
        out._tape.args[out._node] = lambda d=given, k=keepdim: (("self", SAVED_SELF), ("dim", shown(d)),
                                                                ("keepdim", bool(k)), ("result", SAVED_RESULT))
    return out


@public("amax")
def amax(self, dim: Union[int, tuple, None] = (), keepdim: bool = False) -> Tensor:
    """The largest element over ``dim`` (all dims if empty); ties share the gradient evenly."""
    return _amax(self, dim, keepdim, True)


@public("amin")
def amin(self, dim: Union[int, tuple, None] = (), keepdim: bool = False) -> Tensor:
    """The smallest element over ``dim`` (all dims if empty); ties share the gradient evenly."""
    return _amax(self, dim, keepdim, False)


def _arg(x: Tensor, dim, keepdim: bool, largest: bool) -> Tensor:
    name = "argmax" if largest else "argmin"
    if x._dtype is D.bool_:
        raise RuntimeError(f"{name}(): does not support bool input")
    v = x._value()
    nd = len(x._shape)
    if dim is None:
        _empty_check(x, name, IndexError, hint=False)
        i = np.asarray(_np_arg(v.reshape(-1), 0, largest), np.int64)
        return plain(i.reshape((1,) * nd) if keepdim else i, D.int64)
    d = wrap_dim(dim, nd)
    w = v.reshape(1) if nd == 0 else v
    if w.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    if w.size == 0:
        i = np.zeros(tuple(s for k, s in enumerate(w.shape) if k != d), np.int64)
    else:
        i = np.asarray(_np_arg(w, d, largest), np.int64)
    if keepdim and nd:
        i = np.expand_dims(i, d)
    return plain(np.array(i.reshape(()) if nd == 0 else i, np.int64), D.int64)


@public("argmax")
def argmax(self, dim: Optional[int] = None, keepdim: bool = False) -> Tensor:
    """Index of the (first) largest element, of the flattened tensor or along ``dim``."""
    return _arg(self, dim, keepdim, True)


@public("argmin")
def argmin(self, dim: Optional[int] = None, keepdim: bool = False) -> Tensor:
    """Index of the (first) smallest element, of the flattened tensor or along ``dim``."""
    return _arg(self, dim, keepdim, False)


AminmaxResult = return_type("aminmax", ("min", "max"))


@public("aminmax")
def aminmax(self, *, dim: Optional[int] = None, keepdim: bool = False):
    """The smallest and largest elements, over ``dim`` (all dims if None), as a named tuple
    ``(min, max)`` (one node; ties share each gradient evenly)."""
    nd = len(self._shape)
    v = self._value()
    if dim is None:
        if v.size == 0:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation "
                               "has no identity.")
        dims = tuple(range(nd))
    else:
        d = wrap_dim(dim, nd)
        if nd and v.shape[d] == 0:
            raise IndexError(f"aminmax: Expected reduction dim {d} to have non-zero size.")
        dims = (d,) if nd else ()
    shape = tuple(1 if k in dims else s for k, s in enumerate(v.shape)) if keepdim else tuple(
        s for k, s in enumerate(v.shape) if k not in dims)
    if v.size:
        lo = np.asarray(v.min(axis=dims, keepdims=keepdim), v.dtype).reshape(shape)
        hi = np.asarray(v.max(axis=dims, keepdims=keepdim), v.dtype).reshape(shape)
    else:
        lo = hi = np.empty(shape, v.dtype)
    dt = self._dtype
    if not (self._rg and state.grad and dt.arena is not None):
        return AminmaxResult((plain(lo, dt), plain(hi, dt)))
    tape = write_tape()
    nx = self._node if self._tape is tape else tape.import_(self)
    row = tape.append(AMINMAX, dt.arena, np.concatenate([lo.reshape(-1), hi.reshape(-1)]), nx,
                      ia=mask_of(dims), ib=int(keepdim))
    nodes = tape.append_outputs(row, [shape, shape])
    tape.args[row] = (("self", SAVED_SELF), ("dim", None if dim is None else shown(dim)), ("keepdim", bool(keepdim)),
                      ("min", Given(OUTPUTS)), ("max", Given(OUTPUTS + 1)))
    return AminmaxResult((recorded(tape, nodes[0], lo, dt), recorded(tape, nodes[1], hi, dt)))
