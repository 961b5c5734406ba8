"""Shape ops: reshape/view, expand (also recorded implicitly for broadcasting),
select (unbind's outputs), its inverse embed, transpose of two dims, and
gather/scatter over a flat index list (indexing and item assignment).

Row attributes: SELECT/EMBED keep ``ia`` = dim and ``ib`` = index; a SELECT
made by ``unbind`` stores the number of outputs in ``fb`` (PyTorch shows all of
them as one ``UnbindBackward0`` node).  TRANSPOSE keeps the two dims in ``ia``
and ``ib``, and ``fa`` = 1 when it was called as ``t()``.  A VIEW's ``ia`` says
which call made it (view/reshape, unsqueeze, squeeze), for its node's name.  GATHER/SCATTER keep
the offset of their flat index list (in the tape's ``ix``) in ``ia``; a
GATHER's ``ib`` is the kind of index, which names its node.

The front ends are at the end of the file (indexing itself, which parses
PyTorch's index forms into these rows, is in ``ops/index.py``).
"""
from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np
from numba import njit

from .._emit import (D, Size, Tensor, aliased, arranged, check_memory_format, contiguous_format, emit, node_in,
                     plain, preserve_format, recorded, state, write_tape)
from ._args import infer_shape, shape_arg, shown, wrap_dim
from ._index import advance, broadcast_accumulate, dims, slab
from ._parser import Forms, check_types
from ._spec import N_CODES, NUMBER, ROLES, SHAPE, X1, Op, public, public_function, register
from ._spec import tangents

VIEW, EXPAND, SELECT, EMBED, TRANSPOSE, GATHER, SCATTER, INDEX = range(SHAPE.start, SHAPE.start + 8)
# The layout ops of ``ops/layout.py``: a gather (its index-saving twin) and a scatter over a flat
# index list, named by ``ib``, and the triangle mask of tril/triu.
LAYOUT, LAYOUT_SAVED, LAYOUT_SCATTER, TRIANGLE = range(308, 312)
BY_INDEX, BY_SLICE, BY_SELECT = range(3)
# The gathers of ``ops/index.py`` (index_select, gather, take, masked_select) are INDEX rows too.
BY_INDEX_SELECT, BY_GATHER, BY_TAKE, BY_MASKED_SELECT, BY_UNSQUEEZE, BY_ALIAS = range(3, 9)
BY_AS_STRIDED = 9       # a view re-derived from its base after an in-place change (``ops/views.py``)
BY_AS_STRIDED_ = 10     # ``as_strided_`` (``ops/as_strided.py``): PyTorch's AsStridedBackward1
ROLES.expand = EXPAND        # a row the engine records by itself (``ops/_spec.Roles``)


# The faces of views and expands on their own as well as in the family's kernels: the sweeps
# call them as a family of their own (``tape/_lazy.py``), since derivatives (of sums, of
# broadcasting) write these rows far more often than other shape rows, whose kernels then
# compile only when a program uses them.
@njit(cache=True, error_model="numpy")
def view_adjoint(code, g, ox, oy, stab, sx, sy, ny):
    """The input adjoint of a VIEW or an EXPAND row."""
    if code == VIEW:
        for i in range(ny):
            g[ox + i] += g[oy + i]
    else:
        broadcast_accumulate(dims(stab, sy), dims(stab, sx), g, oy, g, ox, False, 1.0)


@njit(cache=True, error_model="numpy")
def view_forward(code, v, ox, oy, stab, sx, sy, ny):
    """The output of a VIEW or an EXPAND row (from -0.0, see ``shape_forward``)."""
    v[oy:oy + ny] = -0.0
    if code == VIEW:
        for i in range(ny):
            v[oy + i] += v[ox + i]
    else:
        broadcast_accumulate(dims(stab, sy), dims(stab, sx), v, ox, v, oy, True, 1.0)


@njit(cache=True, error_model="numpy")
def shape_adjoint(code, g, ox, oy, stab, ix, sx, sy, ia, ib, nx, ny):
    """Accumulate the input adjoint of one shape row; False for a code it does not know."""
    if code == GATHER or code == INDEX or code == LAYOUT or code == LAYOUT_SAVED:
        for j in range(ny):
            g[ox + ix[ia + j]] += g[oy + j]
    elif code == SCATTER or code == LAYOUT_SCATTER:
        for j in range(nx):
            g[ox + j] += g[oy + ix[ia + j]]
    elif code == VIEW or code == EXPAND:
        view_adjoint(code, g, ox, oy, stab, sx, sy, ny)
    elif code == TRIANGLE:
        # Row ``i`` of ``m``, column ``j`` of ``n`` is kept where ``j - i <= ia`` (tril, ib = 0)
        # or ``j - i >= ia`` (triu); its own partner, as a view is.
        ys = dims(stab, sy)
        m = ys[ys.shape[0] - 2]
        n = ys[ys.shape[0] - 1]
        for i in range(ny):
            d = i % n - (i // n) % m
            if (d <= ia) if ib == 0 else (d >= ia):
                g[ox + i] += g[oy + i]
    elif code == SELECT or code == EMBED:
        big = sx if code == SELECT else sy
        outer, size, inner = slab(stab, big, ia)
        for o in range(outer):
            for k in range(inner):
                j = o * inner + k
                i = (o * size + ib) * inner + k
                if code == SELECT:
                    g[ox + i] += g[oy + j]
                else:
                    g[ox + j] += g[oy + i]
    elif code == TRANSPOSE:
        xs = dims(stab, sx)
        ys = dims(stab, sy)
        nd = xs.shape[0]
        if ia == ib:
            # A dim swapped with itself (t() of a 0-d or 1-d tensor): a copy (for a 0-d one the
            # strides below would be written past their end).
            for i in range(ny):
                g[ox + i] += g[oy + i]
            return True
        if nd == 2:
            # y[i, j] = x[j, i]: a plain double loop over slices.
            m = ys[0]
            n = ys[1]
            gx = g[ox:ox + nx]
            gy = g[oy:oy + ny]
            for i in range(m):
                for j in range(n):
                    gx[j * m + i] += gy[i * n + j]
            return True
        xstride = np.ones(nd, np.int64)
        for d in range(nd - 2, -1, -1):
            xstride[d] = xstride[d + 1] * xs[d + 1]
        st = xstride.copy()
        st[ia] = xstride[ib]
        st[ib] = xstride[ia]
        idx = np.zeros(nd, np.int64)
        j = 0
        for i in range(ny):
            g[ox + j] += g[oy + i]
            j = advance(idx, ys, st, nd - 1, j)
    else:
        return False
    return True


@njit(cache=True, error_model="numpy")
def shape_forward(code, v, ox, oy, stab, ix, sx, sy, ia, ib, nx, ny):
    """Write the output of one shape row (the compiled face of its forward).

    These ops are linear and come in adjoint pairs, so a forward is its partner's adjoint
    run from x to y: gather and scatter, select and embed; a view and a transpose are their
    own partners.  An expand spreads x over y.  Where each element of y receives one of x,
    y starts at -0.0 (-0.0 + x is x, as a copy, for x = -0.0 too); a scatter's other elements
    are zeros, as are an embed's, whose slab is copied (adding into zeros would turn -0.0 to 0.0).
    """
    if code == EMBED:
        v[oy:oy + ny] = 0.0
        outer, size, inner = slab(stab, sy, ia)
        for o in range(outer):
            for k in range(inner):
                v[oy + (o * size + ib) * inner + k] = v[ox + o * inner + k]
        return
    if code == VIEW or code == EXPAND:
        view_forward(code, v, ox, oy, stab, sx, sy, ny)
        return
    v[oy:oy + ny] = 0.0 if code == SCATTER or code == LAYOUT_SCATTER or code == TRIANGLE else -0.0
    if code == GATHER or code == INDEX or code == LAYOUT or code == LAYOUT_SAVED:
        partner = SCATTER
    elif code == SCATTER or code == LAYOUT_SCATTER:
        partner = GATHER
    elif code == SELECT:
        partner = EMBED
    else:
        partner = code
    shape_adjoint(partner, v, oy, ox, stab, ix, sy, sx, ia, ib, ny, nx)


SHAPED_BY_ATTRIBUTES = np.zeros(N_CODES, np.bool_)
SHAPED_BY_ATTRIBUTES[[TRANSPOSE, SELECT]] = True


@njit(cache=True, error_model="numpy")
def attribute_shape(code, stab, sa, ia, ib):
    """The output shape of a TRANSPOSE or SELECT row written by compiled code (the recorded
    backward) on an input of shape ``sa``, and its dims ``ia``/``ib`` made non-negative."""
    n = stab[sa]
    d0 = max(ia + n if ia < 0 else ia, 0)
    d1 = max(ib + n if ib < 0 else ib, 0)
    cur = stab[sa + 1:sa + 1 + n].copy()
    if code == TRANSPOSE:
        if n:
            cur[d0], cur[d1] = cur[d1], cur[d0]
        return cur, d0, d1
    out = np.empty(n - 1, np.int64)
    for d in range(n - 1):
        out[d] = cur[d] if d < d0 else cur[d + 1]
    return out, d0, ib


def sum_to_dims(shape: tuple, target: tuple) -> tuple:
    """Dims of ``shape`` to sum (keepdim) so it reduces to broadcastable ``target``."""
    lead = len(shape) - len(target)
    return tuple(range(lead)) + tuple(
        lead + d for d, s in enumerate(target) if s == 1 and shape[lead + d] != 1)


VIEW_NAMES = ("ViewBackward0", "UnsqueezeBackward0", "SqueezeBackward0", "SqueezeBackward1",
              "SqueezeBackward4", "SqueezeBackward2", "UnsafeViewBackward0", "ReshapeAliasBackward0",
              "UnsqueezeBackward1", "SqueezeBackward3", "SqueezeBackward5", "Identity")
(V_VIEW, V_UNSQUEEZE, V_SQUEEZE, V_SQUEEZE_DIM, V_SQUEEZE_DIMS, V_SQUEEZE_TUPLE, V_UNSAFE,
 V_RESHAPE_ALIAS, V_UNSQUEEZE_, V_SQUEEZE_, V_SQUEEZE_TUPLE_) = range(11)    # (the last three: in place)
V_IDENTITY = 11     # the primal of a dual tensor (``forward_ad.unpack_dual``): PyTorch's ``Identity`` node
ROLES.view, ROLES.view_ia = VIEW, V_VIEW        # the recorded backward's sum-to (``ops/_spec.Roles``)


def _select_name(r):
    return "UnbindBackward0" if r.fb else "SelectBackward0"


def _transpose_name(r):
    # (``fa``: 1 for ``t``; 2 more for the in-place forms, ``t_`` and ``transpose_``)
    return ("TransposeBackward0", "TBackward0", "TransposeBackward1", "TBackward1")[int(r.fa)]


def _gather_name(r):
    return ("IndexBackward0", "SliceBackward0", "SelectBackward0", "IndexSelectBackward0", "GatherBackward0",
            "TakeBackward0", "MaskedSelectBackward0", "UnsqueezeBackward0", "AliasBackward0",
            "AsStridedBackward0", "AsStridedBackward1")[r.ib]


register(Op(GATHER, "index", "IndexBackward0", 0,
            lambda g, x, y, r: (g._scatter(r.out_index_list, r.in_shapes[0]),),
            float_only=False, grad_fn_of=_gather_name))
# Indexing with index tensors or masks: the same gather, but PyTorch's node
# saves the indices, so a second backward through it needs retain_graph.  The index tensor the
# user gave is the row's hidden second input (a constant, never shown): an in-place change of it
# then makes backward fail, as PyTorch's saved index does.
register(Op(INDEX, "index", "IndexBackward0", NUMBER | X1,
            lambda g, x, y, r: (g._scatter(r.out_index_list, r.in_shapes[0]),),
            float_only=False, grad_fn_of=_gather_name, nondiff=(1,)))
register(Op(SCATTER, "_scatter", "IndexPutBackward0", 0,
            lambda g, x, y, r: (g._gather(r.in_index_list.reshape(r.in_shapes[0]), BY_INDEX),),
            float_only=False))


def _sizes(r) -> tuple:
    return r.in_shapes[0]


def _removed(shape: tuple, out: tuple) -> tuple:
    """The size-1 dims of ``shape`` whose removal leaves ``out`` (the first such, when several do)."""
    def go(d: int, k: int):
        if d == len(shape):
            return () if k == len(out) else None
        if shape[d] == 1 and len(shape) - d > len(out) - k:
            rest = go(d + 1, k)
            if rest is not None:
                return (d, *rest)
        if k < len(out) and shape[d] == out[k]:
            return go(d + 1, k + 1)
        return None
    return go(0, 0) or ()


def _view_saved(r) -> tuple:
    """PyTorch's saved values of a view's node.  The dim of a squeeze or an unsqueeze is found
    from the shapes (the first of equal candidates); a squeeze by several dims shows no dims
    (PyTorch's are as given, squeezed or not, which the row does not keep)."""
    how = r.ia
    if how in (V_UNSQUEEZE, V_UNSQUEEZE_):
        return (("dim", lambda r: _removed(r.out_shape, r.in_shapes[0])[0]),)
    if how in (V_SQUEEZE_DIM, V_SQUEEZE_DIMS):
        return (("dim", lambda r: _removed(r.in_shapes[0], r.out_shape)[0]), ("self_sym_sizes", _sizes))
    return () if how == V_IDENTITY else (("self_sym_sizes", _sizes),)


register(Op(VIEW, "view", "ViewBackward0", 0,
            lambda g, x, y, r: (g.reshape(r.in_shapes[0]),), float_only=False,
            grad_fn_of=lambda r: VIEW_NAMES[r.ia], node_saved=_view_saved))
register(Op(EXPAND, "expand", "ExpandBackward0", 0,
            lambda g, x, y, r: (g._sum_to(r.in_shapes[0]),), float_only=False,
            node_saved=(("self_sym_sizes", _sizes),)))
register(Op(SELECT, "select", "SelectBackward0", 0,
            lambda g, x, y, r: (g._embed(r.ia, r.ib, r.in_shapes[0]),), float_only=False,
            grad_fn_of=_select_name,
            node_saved=lambda r: (("dim", lambda r: r.ia),) if r.fb else (
                ("dim", lambda r: r.ia), ("index", lambda r: r.ib), ("self_sym_sizes", _sizes))))
register(Op(EMBED, "_embed", "SelectBackwardBackward0", 0,
            lambda g, x, y, r: (g.select(r.ia, r.ib),), float_only=False))
register(Op(TRANSPOSE, "transpose", "TransposeBackward0", 0,
            lambda g, x, y, r: (g.transpose(r.ia, r.ib),), float_only=False,
            grad_fn_of=_transpose_name,
            node_saved=lambda r: () if int(r.fa) & 1 else (("dim0", lambda r: r.ia), ("dim1", lambda r: r.ib))))


# Tangent rules: these ops are linear, so each is its own tangent (the op applied to the input's).
def _gather_jvp(ts, xs, y, r):
    return ts[0]._gather(r.out_index_list.reshape(r.out_shape), BY_INDEX)


tangents({GATHER: _gather_jvp, INDEX: _gather_jvp,
          SCATTER: lambda ts, xs, y, r: ts[0]._scatter(r.in_index_list.reshape(r.in_shapes[0]), r.out_shape),
          VIEW: lambda ts, xs, y, r: ts[0].reshape(r.out_shape),
          EXPAND: lambda ts, xs, y, r: ts[0].expand(r.out_shape),
          SELECT: lambda ts, xs, y, r: ts[0].select(r.ia, r.ib),
          EMBED: lambda ts, xs, y, r: ts[0]._embed(r.ia, r.ib, r.out_shape),
          TRANSPOSE: lambda ts, xs, y, r: ts[0].transpose(r.ia, r.ib)})


# --- front end ------------------------------------------------------------------------
Shape = Union[int, tuple]


def saves(out: Tensor, saved) -> Tensor:
    """``out``, just recorded, with ``saved`` as what its node shows saved (``(name, value)``
    pairs of the op's arguments as given, or a function giving them: ``tape/_saved.py``)."""
    out._tape.args[out._node] = saved
    return out


def sliced(x: Tensor, dim: int, start: int, end: int, step: int):
    """What a SliceBackward0 node of ``x`` shows (its arguments as given), for ``saves``."""
    return lambda s=x._shape: (("dim", shown(dim)), ("start", shown(start)), ("end", shown(end)), ("step", step),
                               ("self_sym_sizes", s))


def viewed(x: Tensor, shape: tuple, how: int, saved=(), alias: bool = True) -> Tensor:
    """``x`` viewed as ``shape`` (a VIEW row whose node PyTorch names after ``how``; ``saved``:
    what it shows saved, when not found from the shapes; not ``alias``: ``x`` is an intermediate
    PyTorch reshapes in place, so the result is no view)."""
    v = x._storage().reshape(shape)
    if x._rg and state.grad:
        out = emit(VIEW, v, x._dtype, x, ia=how)
        if saved:
            saves(out, saved)
        return out if how == V_UNSAFE or not alias else aliased(out, x, v)     # (an unsafe view is of a copy)
    return x._view_alias(v) if alias else plain(v, x._dtype)


def _view_kind(x: Tensor, shape: tuple) -> Optional[int]:
    """How ``reshape`` views this layout as ``shape`` (PyTorch's node for it): V_VIEW when
    contiguous, V_RESHAPE_ALIAS when strided but viewable, None when it needs a copy."""
    if x._f is None and not x._v.flags.c_contiguous:
        try:
            np.reshape(x._v, shape, copy=False)
        except ValueError:
            return None
        return V_RESHAPE_ALIAS
    return V_VIEW


@public("reshape")
def reshape(self, *shape: Shape) -> Tensor:
    """The same data with a new shape (one dimension may be -1): a view where the layout
    allows one, else a contiguous copy."""
    shape = infer_shape(shape_arg(shape), self.numel())
    how = _view_kind(self, shape)
    if how is None:
        # As PyTorch: a contiguous clone viewed as the shape (CloneBackward0, then UnsafeViewBackward0).
        return viewed(self.contiguous(), shape, V_UNSAFE)
    return viewed(self, shape, how)


_VIEW = Forms("view", "(torch.dtype dtype)", "(tuple of ints size)")


@public("view", function=False)
def view(self, *size: Shape, **kwargs) -> Tensor:
    """The same data with a new shape (one dimension may be -1), sharing its storage: the
    layout must allow it without a copy (else use ``reshape``).  ``view(dtype)``: the same bytes
    read as ``dtype`` (the last dim scaled by the ratio of element sizes; not differentiable)."""
    if kwargs or not (size and (type(size[0]) is int or len(size) == 1 and isinstance(size[0], (tuple, list)))):
        form, given = _VIEW.parse(size, kwargs)
        if form == 0:
            return _bits_viewed(self, given["dtype"])
        size = (given["size"],)
    shape = infer_shape(shape_arg(size), self.numel())
    if _view_kind(self, shape) is None:
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at least "
                           "one dimension spans across two contiguous subspaces). Use .reshape(...) "
                           "instead.")
    return viewed(self, shape, V_VIEW)


def _bits_viewed(x: Tensor, dtype: D.dtype) -> Tensor:
    """``x.view(dtype)``: its storage's bytes read as ``dtype``, with PyTorch's errors."""
    old, new = x._dtype.itemsize, dtype.itemsize
    v = x._storage()
    if old != new:
        what = f"view {D.legacy_name(x._dtype)} as {D.legacy_name(dtype)} (different element sizes)"
        if not x._shape:
            raise RuntimeError(f"self.dim() cannot be 0 to {what}")
        stride = v.strides[-1] // old
        if stride != 1 and x._shape[-1] != 1:
            raise RuntimeError(f"self.stride(-1) must be 1 to {what}, but got {stride}")
        if new > old and x._shape[-1] % (new // old):
            raise RuntimeError(f"self.size(-1) must be divisible by {new // old} to {what}, but got {x._shape[-1]}")
    return plain(v.view(dtype.np), dtype)


@public("view_as", function=False)
def view_as(self, other: Tensor) -> Tensor:
    """``self.view(other.shape)``."""
    return self.view(other._shape)


@public("reshape_as", function=False)
def reshape_as(self, other: Tensor) -> Tensor:
    """``self.reshape(other.shape)``."""
    return self.reshape(other._shape)


@public("contiguous", function=False)
def contiguous(self, memory_format=contiguous_format) -> Tensor:
    """The tensor itself if laid out as ``memory_format`` says (row-major by default), else a copy
    that is (recorded as a clone)."""
    fmt = check_memory_format(memory_format, "contiguous")
    if self.is_contiguous(memory_format=fmt):
        return self
    if fmt is preserve_format:
        raise RuntimeError("preserve memory format is unsupported by the contiguous operator")
    return self.clone(memory_format=fmt)


@public("unsqueeze")
def unsqueeze(self, dim: int) -> Tensor:
    """Insert a dimension of size one at ``dim``."""
    given, dim = dim, wrap_dim(dim, len(self._shape) + 1)
    return viewed(self, self._shape[:dim] + (1,) + self._shape[dim:], V_UNSQUEEZE, lambda d=given: (("dim", shown(d)),))


@public("squeeze", error_forms=Forms("squeeze", "(Tensor input)", "(Tensor input, int dim)",
                                      "(Tensor input, tuple of ints dim)"),
        method_forms=Forms("squeeze", "()", "(int dim)", "(tuple of ints dim)"))
def squeeze(self, dim: Optional[Shape] = None) -> Tensor:
    """Remove dimensions of size one (all of them, or those in ``dim``)."""
    nd = len(self._shape)
    if dim is None:
        return viewed(self, tuple(s for s in self._shape if s != 1), V_SQUEEZE)
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    wrapped = [wrap_dim(d, nd) for d in dims]
    for k, d in enumerate(wrapped):
        if d in wrapped[:k]:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    saved = lambda d=dim if isinstance(dim, int) else dims, s=self._shape: (("dim", shown(d)), ("self_sym_sizes", s))
    dims = set(wrapped)
    shape = tuple(s for d, s in enumerate(self._shape) if not (d in dims and s == 1))
    return viewed(self, shape, V_SQUEEZE_DIM if isinstance(dim, int) else V_SQUEEZE_TUPLE, saved)


@public("flatten")
def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim`` to ``end_dim`` into one (the tensor itself if that is one dim)."""
    if type(start_dim) is not int or type(end_dim) is not int:
        check_types("flatten", (("start_dim", "int"), ("end_dim", "int")), start_dim, end_dim)
    nd = len(self._shape)
    start, end = wrap_dim(start_dim, nd), wrap_dim(end_dim, nd)
    if nd == 0:
        return self.reshape(1)
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if start == end:
        return self
    return self.reshape(self._shape[:start] + (math.prod(self._shape[start:end + 1]),) + self._shape[end + 1:])


@public("expand", function=False)
def expand(self, *size: Shape, implicit: bool = False) -> Tensor:
    """Broadcast the tensor to a larger size (-1 keeps a dimension; ``implicit`` changes nothing)."""
    sizes = shape_arg(size)
    nd = len(sizes)
    if nd < len(self._shape):
        raise RuntimeError(
            f"expand(torch.{D.legacy_name(self._dtype)}Tensor{{{list(self._shape)}}}, size={list(sizes)}): the "
            f"number of sizes provided ({nd}) must be greater or equal to the number of dimensions in the tensor "
            f"({len(self._shape)})")
    lead = nd - len(self._shape)
    out = [0] * nd
    for i in reversed(range(nd)):      # (as PyTorch: an error names the last dim that is wrong)
        s = sizes[i]
        cur = self._shape[i - lead] if i >= lead else None
        if s == -1:
            if cur is None:
                raise RuntimeError(f"The expanded size of the tensor (-1) isn't allowed in a leading, "
                                   f"non-existing dimension {i}")
            s = cur
        elif cur is not None and cur != 1 and cur != s:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size "
                               f"({cur}) at non-singleton dimension {i}.  Target sizes: {list(sizes)}.  "
                               f"Tensor sizes: {list(self._shape)}")
        out[i] = s
    shape = tuple(out)
    v = np.broadcast_to(self._storage(), shape)
    if self._rg and state.grad:
        return aliased(emit(EXPAND, np.array(v, order="C"), self._dtype, self), self, v)
    return self._view_alias(v)


@public("expand_as", function=False)
def expand_as(self, other: Tensor) -> Tensor:
    """``self.expand(other.shape)``."""
    return self.expand(other._shape)


@public("_sum_to")
def sum_to(self, shape: tuple) -> Tensor:
    """Sum broadcast dims away so the result has ``shape`` (undoes broadcasting)."""
    if self._shape == tuple(shape):
        return self
    dims = sum_to_dims(self._shape, tuple(shape))
    out = self.sum(dims, keepdim=True) if dims else self
    return out.reshape(shape)


@public_function("broadcast_shapes")
def broadcast_shapes(*shapes: Shape) -> Size:
    """Return the shape that tensors of the given shapes broadcast to (ints count as 1-D shapes)."""
    out: list = []
    for i, s in enumerate(shapes):
        s = (s,) if isinstance(s, (int, np.integer)) else tuple(s)
        if any(d < 0 for d in s):
            raise ValueError("Attempting to broadcast a dimension with negative length!")
        if len(s) > len(out):
            out = [1] * (len(s) - len(out)) + out
        for k in range(1, len(s) + 1):
            d = s[-k]
            if out[-k] == 1:
                out[-k] = d
            elif d != 1 and d != out[-k]:
                raise RuntimeError(f"Attempting to broadcast a dimension of length {d} at {-k}! Mismatching "
                                   f"argument at index {i} had {s}; but expected shape should be "
                                   f"broadcastable to {out}")
    return Size(out)


@public("select")
def select(self, dim: int, index: int) -> Tensor:
    """The slice at ``index`` along ``dim`` (that dimension removed)."""
    if not self._shape:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    saved = lambda d=dim, i=index, s=self._shape: (("dim", shown(d)), ("index", shown(i)), ("self_sym_sizes", s))
    dim = wrap_dim(dim, len(self._shape))
    size = self._shape[dim]
    if index < -size or index >= size:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(self._shape)} at dimension {dim}")
    index = index + size if index < 0 else index
    v = self._storage()[(slice(None),) * dim + (index, Ellipsis)]
    if self._rg and state.grad:
        out = saves(emit(SELECT, np.array(v, order="C"), self._dtype, self, ia=dim, ib=index), saved)
        return aliased(out, self, v)
    return self._view_alias(v)


@public("_embed")
def embed(self, dim: int, index: int, shape: tuple) -> Tensor:
    """Zeros of ``shape`` with ``self`` placed at ``index`` along ``dim`` (select's adjoint)."""
    v = np.zeros(shape, self._dtype.np)
    v[(slice(None),) * dim + (index,)] = self._value()
    if self._rg and state.grad:
        return emit(EMBED, v, self._dtype, self, ia=dim, ib=index)
    return plain(v, self._dtype)


def _transpose(x: Tensor, d0: int, d1: int, is_t: float, given: tuple = ()) -> Tensor:
    """``x`` with dims ``d0`` and ``d1`` swapped (``given``: the dims as given, when negative)."""
    v = np.swapaxes(x._storage(), d0, d1) if x._shape else x._storage()
    if x._rg and state.grad:
        out = emit(TRANSPOSE, np.array(v, order="C"), x._dtype, x, ia=d0, ib=d1, fa=is_t)
        if given:
            saves(out, lambda d=given: (("dim0", shown(d[0])), ("dim1", shown(d[1]))))
        return aliased(out, x, v)
    return x._view_alias(v)


@public("transpose")
def transpose(self, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions."""
    nd = len(self._shape)
    d0 = wrap_dim(dim0, nd)
    d1 = wrap_dim(dim1, nd)
    return _transpose(self, d0, d1, 0.0, (dim0, dim1))


@public("t")
def t(self) -> Tensor:
    """Transpose of a tensor with at most 2 dimensions."""
    nd = len(self._shape)
    if nd > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {nd}D")
    return _transpose(self, 0, nd - 1 if nd else 0, 1.0)


# -- indexing rows (``ops/index.py`` parses the index) --
@public("_gather")
def gather(self, positions: np.ndarray, kind: int, held: Optional[Tensor] = None) -> Tensor:
    """The elements at flat ``positions`` (an int array shaped like the result); ``held``: the
    index tensor they came from, which backward checks for in-place changes."""
    y = np.array(self._value().reshape(-1)[positions], order="C")
    if not (self._rg and state.grad):
        return plain(y, self._dtype)
    tape = write_tape()
    nx = self._node if self._tape is tape else tape.import_(self)
    code = GATHER if kind in (BY_SLICE, BY_SELECT, BY_UNSQUEEZE, BY_ALIAS) else INDEX
    nh = node_in(tape, held, self._dtype, held._shape) if held is not None else -1
    node = tape.append(code, self._dtype.arena, y, nx, nh, ia=tape.index_list(positions), ib=kind)
    return recorded(tape, node, y, self._dtype)


@public("_scatter")
def scatter(self, positions: np.ndarray, shape: tuple) -> Tensor:
    """Zeros of ``shape`` with this tensor's elements added at flat ``positions``."""
    y = np.zeros(shape, self._dtype.np)
    np.add.at(y.reshape(-1), positions.reshape(-1), self._value().reshape(-1))
    if not (self._rg and state.grad):
        return plain(y, self._dtype)
    tape = write_tape()
    nx = self._node if self._tape is tape else tape.import_(self)
    node = tape.append(SCATTER, self._dtype.arena, y, nx, ia=tape.index_list(positions))
    return recorded(tape, node, y, self._dtype)


# --- resizing ---------------------------------------------------------------------------
@public("resize_", function=False)
def resize_(self, *size: Shape, memory_format=None) -> Tensor:
    """Give the tensor the shape ``sizes`` in place, keeping its elements in storage order: a
    smaller one takes the first elements of its storage, a bigger one gets new storage whose
    first elements are the old ones (the rest are zeros here; PyTorch leaves them unset).
    Refused for a tensor that requires grad (outside inference mode, where autograd does not
    look), as in PyTorch; resizing to the shape the tensor has changes nothing (not its version)."""
    shape = shape_arg(size)
    fmt = check_memory_format(memory_format, "resize_")
    if self._rg and not state.inference:
        raise RuntimeError("cannot resize variables that require grad")
    if any(s < 0 for s in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(shape)}: {list(shape)}")
    if shape == self._shape and fmt is None:
        return self
    n = math.prod(shape)
    root = self._vb if self._vb is not None else self
    storage = root._storage()
    offset = self.storage_offset() if self._vb is not None else 0
    kept = self.__dict__.get("_resized_from")     # (a storage this tensor shrank within: it keeps its size)
    if self._vb is None and kept is not None and np.shares_memory(kept, storage) and n <= kept.size:
        storage = kept
    if storage.flags.c_contiguous and offset + n <= storage.size:
        flat = storage.reshape(-1)[offset:offset + n]
    elif self._vb is not None or self._views:
        raise RuntimeError("Trying to resize storage that is not resizable")   # (shared: the views would part)
    else:
        flat = np.zeros(n, self._dtype.np)
        old = np.array(storage, order="K").reshape(-1)[:n]
        flat[:old.size] = old
    v = flat.reshape(shape)
    if fmt is not None and fmt is not contiguous_format and fmt is not preserve_format:
        v = arranged(v, fmt)        # (storage order of the format; values are unset in PyTorch)
    if self._vb is None and storage.flags.c_contiguous and storage.size > n:
        self._resized_from = storage.reshape(-1)
    self._f = None
    self._v = v
    self._shape = shape
    self._bump()
    return self


@public("resize_as_", function=False)
def resize_as_(self, the_template: Tensor, *, memory_format=None) -> Tensor:
    """``resize_`` to the shape of ``the_template``."""
    if type(the_template) is not Tensor:
        check_types("resize_as_", (("the_template", Tensor),), the_template)
    return resize_(self, the_template._shape, memory_format=memory_format)
