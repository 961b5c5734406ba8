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
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._index import advance, broadcast_accumulate, dims, slab
from ._spec import NUMBER, Op, register

VIEW, EXPAND, SELECT, EMBED, TRANSPOSE, GATHER, SCATTER, INDEX = range(90, 98)
BY_INDEX, BY_SLICE, BY_SELECT = range(3)


@njit(cache=True, error_model="numpy")
def shape_adjoint(code, g, ox, oy, stab, ix, sx, sy, ia, ib, nx, ny):
    """Accumulate the input adjoint of one shape row."""
    if code == GATHER or code == INDEX:
        for j in range(ny):
            g[ox + ix[ia + j]] += g[oy + j]
    elif code == SCATTER:
        for j in range(nx):
            g[ox + j] += g[oy + ix[ia + j]]
    elif code == VIEW:
        for i in range(ny):
            g[ox + i] += g[oy + i]
    elif code == EXPAND:
        broadcast_accumulate(dims(stab, sy), dims(stab, sx), g, oy, g, ox, False, 1.0)
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
            return
        if nd == 2:
            # y[i, j] = x[j, i]: a plain double loop over slices.
            m = ys[0]
            n = ys[1]
            gx = g[ox:ox + nx]
            gy = g[oy:oy + ny]
            for i in range(m):
                for j in range(n):
                    gx[j * m + i] += gy[i * n + j]
            return
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
    v[oy:oy + ny] = 0.0 if code == SCATTER else -0.0
    if code == EXPAND:
        broadcast_accumulate(dims(stab, sy), dims(stab, sx), v, ox, v, oy, True, 1.0)
        return
    if code == GATHER or code == INDEX:
        partner = SCATTER
    elif code == SCATTER:
        partner = GATHER
    elif code == SELECT:
        partner = EMBED
    else:
        partner = code
    shape_adjoint(partner, v, oy, ox, stab, ix, sy, sx, ia, ib, ny, nx)


def sum_to_dims(shape: tuple, target: tuple) -> tuple:
    """Dims of ``shape`` to sum (keepdim) so it reduces to broadcastable ``target``."""
    lead = len(shape) - len(target)
    return tuple(range(lead)) + tuple(
        lead + d for d, s in enumerate(target) if s == 1 and shape[lead + d] != 1)


VIEW_NAMES = ("ViewBackward0", "UnsqueezeBackward0", "SqueezeBackward0", "SqueezeBackward1",
              "SqueezeBackward4", "SqueezeBackward2", "UnsafeViewBackward0", "ReshapeAliasBackward0")
(V_VIEW, V_UNSQUEEZE, V_SQUEEZE, V_SQUEEZE_DIM, V_SQUEEZE_DIMS, V_SQUEEZE_TUPLE, V_UNSAFE,
 V_RESHAPE_ALIAS) = range(8)


def _select_name(r):
    return "UnbindBackward0" if r.fb else "SelectBackward0"


def _transpose_name(r):
    return "TBackward0" if r.fa else "TransposeBackward0"


def _gather_name(r):
    return ("IndexBackward0", "SliceBackward0", "SelectBackward0")[r.ib]


register(Op(GATHER, "index", "IndexBackward0", 0,
            lambda g, x, y, r: (g._scatter(r.out_index_list, r.in_shapes[0]),),
            float_only=False, grad_fn_of=_gather_name))
# Indexing with index tensors or masks: the same gather, but PyTorch's node
# saves the indices, so a second backward through it needs retain_graph.
register(Op(INDEX, "index", "IndexBackward0", NUMBER,
            lambda g, x, y, r: (g._scatter(r.out_index_list, r.in_shapes[0]),),
            float_only=False))
register(Op(SCATTER, "_scatter", "IndexPutBackward0", 0,
            lambda g, x, y, r: (g._gather(r.in_index_list.reshape(r.in_shapes[0]), BY_INDEX),),
            float_only=False))
register(Op(VIEW, "view", "ViewBackward0", 0,
            lambda g, x, y, r: (g.reshape(r.in_shapes[0]),), float_only=False,
            grad_fn_of=lambda r: VIEW_NAMES[r.ia]))
register(Op(EXPAND, "expand", "ExpandBackward0", 0,
            lambda g, x, y, r: (g._sum_to(r.in_shapes[0]),), float_only=False))
register(Op(SELECT, "select", "SelectBackward0", 0,
            lambda g, x, y, r: (g._embed(r.ia, r.ib, r.in_shapes[0]),), float_only=False,
            grad_fn_of=_select_name))
register(Op(EMBED, "_embed", "SelectBackwardBackward0", 0,
            lambda g, x, y, r: (g.select(r.ia, r.ib),), float_only=False))
register(Op(TRANSPOSE, "transpose", "TransposeBackward0", 0,
            lambda g, x, y, r: (g.transpose(r.ia, r.ib),), float_only=False,
            grad_fn_of=_transpose_name))
