"""Blocked sweeps (vector mode): ``k`` seed directions carried through one sweep over a tape.

A Jacobian by one reverse sweep per output element walks the rows, dispatches on their codes and
reads their values once per element; a blocked sweep walks them once for ``k`` directions.  The
adjoints live in ``k`` arenas side by side (a ``k x size`` array per dtype, row ``j`` laid out as
the plain sweep's adjoint arena, so every family's kernel runs on it unchanged); values are
shared.  Each row is visited once and its adjoint rule applied to all ``k`` directions:

- elementwise rows (unary and binary, number operands, broadcast inputs): the partial
  derivatives are computed once per element (``scalar_d`` with a unit adjoint, the sweep's own
  rule for one element) and multiplied into the ``k`` adjoints in straight loops;
- every other row the compiled sweep runs (reductions, shape and view rows, small products,
  joins): its family's kernel, once per direction;
- rows whose adjoint runs in Python (BLAS products, LAPACK, ...): Python runs the row once per
  direction (the plain sweep's ``_python_row``/``_python_vjp``), and the sweep resumes below it.

Each direction's adjoint of a node is kept over the range of its elements a gradient reached
(``LO``/``HI``): a unit seed reaches a few elements of each row of a banded problem (a Hessian's
direction), and the rows run over those ranges only; when every row reached only scales or moves
adjoints, the ranges are packed side by side in one buffer instead (``compact_block``).  The
forward (tangent) sweep carries ``k`` tangents the same way (``tangent_rows``), with whole rows.

Results equal ``k`` separate sweeps up to rounding: an elementwise row's partial times the
adjoint (``g * (1 / y)`` for a division) where the plain sweep may compute ``g / y``; every
other row runs the same arithmetic.  A direction that reaches no row of another direction
sees that row's zero adjoints: ``0 * inf`` there gives ``nan`` where separate sweeps would not
visit the row at all (as PyTorch's ``vectorize=True`` does).
"""
from __future__ import annotations

import threading

import numpy as np
from numba import njit

from . import _dtype as D
from . import _engine, _tangent
from ._anomaly import _mode as _anomaly_mode
from ._grad_mode import no_grad
from ._lazy import call9, call_pair
from ._record import VALUES, _forward
from ._row import Row
from ._stops import (C_FAMILY, C_ROW, C_SIZE, C_START, C_STATUS, ST_COMPILE, ST_DONE, ST_PYTHON, ST_UNKNOWN,
                     check_saved, input_at)
from ._sweep import (_PYTHON_START, _SOURCE_END, _UNARY_END, ADJOINTS, FAMILY, SAVES, SCALAR, SCALAR_FAMILY,
                     compile_for, mark_unneeded)
from ._state import state
from ._tensor import _plain
from .ops._spec import N_CODES, OUTPUT, SHAPE, R_A, R_B, R_DT, R_IA, R_LN, R_NOUT, R_NUM, R_OFF, R_OP, R_RG, REGISTRY
from .ops.elementwise import CAST, ONE_ELEMENT
from .ops.join import CAT, STACK
from .ops.reduction import MEAN, SUM
from .ops.shape import EXPAND, GATHER, INDEX, LAYOUT, LAYOUT_SAVED, LAYOUT_SCATTER, SCATTER, VIEW

__all__ = ["block_size", "block_sweep", "jacobian_block"]

ELEMENTS = 1 << 20      # adjoint elements a block holds at most (8 MB in float64; rows touch their ranges only)
_local = threading.local()


def block_size(directions: int, arena: int) -> int:
    """How many directions one sweep carries: as many as fit in ``ELEMENTS``."""
    return max(1, min(directions, ELEMENTS // max(arena, 1)))


def scratch(k: int, n64: int, n32: int) -> tuple:
    """The thread's adjoint arenas for ``k`` directions (kept: a fresh buffer of megabytes costs
    its page faults at every call, more than the sweep)."""
    bufs = getattr(_local, "bufs", None)
    if bufs is None or bufs[0].shape[0] < k * n64 or bufs[1].shape[0] < k * n32:
        size = (max(k * n64, 0 if bufs is None else bufs[0].shape[0]),
                max(k * n32, 0 if bufs is None else bufs[1].shape[0]))
        bufs = _local.bufs = (np.empty(size[0]), np.empty(size[1], np.float32))
    return bufs[0][:k * n64].reshape(k, n64), bufs[1][:k * n32].reshape(k, n32)


# Each direction's adjoint of a node is nonzero in a range of its elements only (``LO``/``HI``,
# directions x nodes): a unit seed reaches a few elements of each row (a banded Hessian's
# direction, a few per row), and the rows run over those ranges only.  Outside its range an
# adjoint's memory is not read; a range grows (the new part zeroed) as gradients arrive.
@njit(cache=True, error_model="numpy", inline="always")
def _grow(G, LO, HI, seen, j, node, o, a, b):
    """Direction ``j``'s adjoint of ``node`` (at offset ``o``) will be added to in ``[a, b)``."""
    lo = LO[j, node]
    hi = HI[j, node]
    if lo >= hi:
        for i in range(o + a, o + b):
            G[j, i] = 0.0
        LO[j, node] = a
        HI[j, node] = b
    else:
        if a < lo:
            for i in range(o + a, o + lo):
                G[j, i] = 0.0
            LO[j, node] = a
        if b > hi:
            for i in range(o + hi, o + b):
                G[j, i] = 0.0
            HI[j, node] = b
    seen[node] |= 1


@njit(cache=True, error_model="numpy")
def _whole(R, G64, G32, LO, HI, seen, node):
    """Every direction's adjoint of ``node`` over all its elements (zeros outside its range)."""
    n = R[R_NUM, node]
    o = R[R_OFF, node]
    for j in range(LO.shape[0]):
        if R[R_DT, node] == 0:
            _grow(G64, LO, HI, seen, j, node, o, 0, n)
        else:
            _grow(G32, LO, HI, seen, j, node, o, 0, n)


@njit(cache=True, error_model="numpy")
def _reach_all(R, ix, seen, G64, G32, LO, HI, r):
    """Row ``r`` runs through its family's kernel: its inputs that need a gradient and its own
    adjoint (its outputs', for a row with several) over all their elements, in every direction."""
    for k in range(max(R[R_LN, r], 2)):
        x = input_at(R, ix, r, k)
        if x >= 0 and R[R_RG, x] != 0:
            _whole(R, G64, G32, LO, HI, seen, x)
    if R[R_NOUT, r] == 0:
        _whole(R, G64, G32, LO, HI, seen, r)
    for o in range(r + 1, r + 1 + R[R_NOUT, r]):
        _whole(R, G64, G32, LO, HI, seen, o)


@njit(cache=True, error_model="numpy")
def _grow_each(G, LO, HI, seen, node, o, A, B):
    """``_grow`` for every direction ``j`` with ``A[j] < B[j]``, over ``[A[j], B[j])``.  One call
    per row: a call with array arguments costs reference counting, dozens of times a direction's
    few elements, so none is made per direction in the rows' loops."""
    for j in range(LO.shape[0]):
        a = A[j]
        b = B[j]
        if a >= b:
            continue
        lo = LO[j, node]
        hi = HI[j, node]
        if lo >= hi:
            for i in range(o + a, o + b):
                G[j, i] = 0.0
            LO[j, node] = a
            HI[j, node] = b
        else:
            if a < lo:
                for i in range(o + a, o + lo):
                    G[j, i] = 0.0
                LO[j, node] = a
            if b > hi:
                for i in range(o + hi, o + b):
                    G[j, i] = 0.0
                HI[j, node] = b
        seen[node] |= 1


@njit(cache=True, error_model="numpy", inline="always")
def _apply(G, LO, HI, seen, p, r, x, go, gx, n, nx, A, B):
    """``G[j, gx + i % nx] += p[i] * G[j, go + i]`` for every direction ``j``, over the elements
    of its range (a broadcast input's adjoint sums over the output's blocks).  ``A``, ``B``:
    scratch, one element per direction."""
    for j in range(G.shape[0]):
        lo = LO[j, r]
        hi = HI[j, r]
        A[j] = lo if nx == n else 0
        B[j] = hi if nx == n else (nx if lo < hi else 0)
    _grow_each(G, LO, HI, seen, x, gx, A, B)
    for j in range(G.shape[0]):
        lo = LO[j, r]
        hi = HI[j, r]
        if lo >= hi:
            continue
        if nx == n:
            if hi - lo < 16:
                for i in range(lo, hi):     # (a few elements: slices would cost more than the loop)
                    G[j, gx + i] += p[i] * G[j, go + i]
                continue
            # (slices indexed by the loop counter: no negative-index check, the loop vectorizes)
            g = G[j, gx + lo:gx + hi]
            gy = G[j, go + lo:go + hi]
            q = p[lo:hi]
            for i in range(hi - lo):
                g[i] += q[i] * gy[i]
        elif nx == 1:
            s = G[j, gx]
            for i in range(lo, hi):
                s += p[i] * G[j, go + i]
            G[j, gx] = s
        else:
            for i in range(lo, hi):
                G[j, gx + i % nx] += p[i] * G[j, go + i]


@njit(cache=True, error_model="numpy", inline="always")
def _partials(address, code, v, o, ox, oy, n, nx, ny, fa, fb, px, py):
    """The partial derivatives of an elementwise row's output w.r.t. its inputs, per element."""
    if nx == n and ny == n:
        x = v[ox:ox + n]
        y = v[oy:oy + n]
        out = v[o:o + n]
        for i in range(n):
            px[i], py[i] = call_pair(address, code, 1.0, np.float64(x[i]), np.float64(y[i]), np.float64(out[i]),
                                     fa, fb)
    else:
        for i in range(n):
            px[i], py[i] = call_pair(address, code, 1.0, np.float64(v[ox + i % nx]), np.float64(v[oy + i % ny]),
                                     np.float64(v[o + i]), fa, fb)


@njit(cache=True, error_model="numpy", inline="always")
def _first_at_least(ix, ia, n, v):
    """The first ``i < n`` with ``ix[ia + i] >= v`` in a sorted list (``n`` if none): a binary
    search on the list in place (``np.searchsorted`` on a slice costs an array per call)."""
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) >> 1
        if ix[ia + mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, error_model="numpy", inline="always")
def _reached(LO, HI, r, code, ix, ia, nx, ordered, A, B):
    """Per direction ``j``, the elements ``[A[j], B[j])`` of the input's adjoint that row ``r``, one
    that only moves adjoints (``_moves``), adds to from the range ``[LO[j, r], HI[j, r])`` of its own
    that the direction reached."""
    selects = code == GATHER or code == INDEX or code == LAYOUT or code == LAYOUT_SAVED
    scatters = code == SCATTER or code == LAYOUT_SCATTER
    for j in range(LO.shape[0]):
        lo = LO[j, r]
        hi = HI[j, r]
        a = 0
        b = 0
        if lo >= hi:
            pass
        elif selects:
            a = nx
            for i in range(lo, hi):
                m = ix[ia + i]
                a = min(a, m)
                b = max(b, m + 1)
        elif scatters:
            if ordered:
                a = _first_at_least(ix, ia, nx, lo)
                b = _first_at_least(ix, ia, nx, hi)
            else:
                a = nx
                for i in range(nx):
                    m = ix[ia + i]
                    if lo <= m < hi:
                        a = min(a, i)
                        b = i + 1
        elif code == VIEW:
            a = lo
            b = hi
        else:
            b = 1 if code == EXPAND else nx
        A[j] = a
        B[j] = b


@njit(cache=True, error_model="numpy")
def _moves(G, LO, HI, seen, code, r, x, ox, oy, ix, ia, nx, ny, ordered, A, B):
    """The rows that only move adjoints (selections, their scatters, views, a broadcast of one
    element or a sum of all), for all directions over their ranges; False for another row.
    ``ordered``: a scatter's index list is sorted.  ``A``, ``B``: scratch, per direction the
    elements of the input's adjoint it adds to."""
    if not (code == GATHER or code == INDEX or code == LAYOUT or code == LAYOUT_SAVED or code == SCATTER
            or code == LAYOUT_SCATTER or code == VIEW or (code == EXPAND and nx == 1) or (code == SUM and ny == 1)):
        return False
    selects = code == GATHER or code == INDEX or code == LAYOUT or code == LAYOUT_SAVED
    scatters = code == SCATTER or code == LAYOUT_SCATTER
    _reached(LO, HI, r, code, ix, ia, nx, ordered, A, B)
    _grow_each(G, LO, HI, seen, x, ox, A, B)
    for j in range(G.shape[0]):
        lo = LO[j, r]
        hi = HI[j, r]
        if lo >= hi:
            continue
        if selects:
            for i in range(lo, hi):
                G[j, ox + ix[ia + i]] += G[j, oy + i]
        elif scatters:
            for i in range(A[j], B[j]):
                m = ix[ia + i]
                if lo <= m < hi:
                    G[j, ox + i] += G[j, oy + m]
        elif code == VIEW:
            for i in range(lo, hi):
                G[j, ox + i] += G[j, oy + i]
        elif code == EXPAND:
            s = G[j, ox]
            for i in range(lo, hi):
                s += G[j, oy + i]
            G[j, ox] = s
        else:
            g = G[j, ox:ox + nx]
            s = G[j, oy]
            for i in range(nx):
                g[i] += s
    return True


@njit(cache=True, error_model="numpy")
def block_rows(R, F, stab, ix, saves, v64, G64, v32, G32, LO, HI, seen, ctl, fams, PX, PY, done):
    """Propagate the ``k`` adjoints in ``G64``/``G32`` (one row per direction, each valid over
    its range ``LO``/``HI``) from row ``ctl[C_START]`` down to row 0; ``seen`` as for
    ``_sweep.sweep_rows`` (a row is reached when any direction reaches it).  Stops as that sweep
    does (``_stops``).  ``PX``/``PY``: elementwise rows' partial derivatives, at their values'
    offsets (the float32 arena's after the float64 one's), computed on a row's first visit
    (``done``: 1, or 2 for a scatter whose index list is sorted) and kept for the next blocks."""
    op, dt, off, num, a, b, rg = R[R_OP], R[R_DT], R[R_OFF], R[R_NUM], R[R_A], R[R_B], R[R_RG]
    fa, fb = F[0], F[1]
    A = np.empty(LO.shape[0], np.int64)
    B = np.empty(LO.shape[0], np.int64)
    for r in range(ctl[C_START], -1, -1):
        if seen[r] & 3 != 1:
            continue
        code = op[r]
        if code < _SOURCE_END:
            if code == OUTPUT:
                seen[a[r]] |= 1
            continue
        status = check_saved(R, ix, saves[code], r)
        if status != ST_DONE or code >= _PYTHON_START:
            ctl[C_STATUS] = ST_PYTHON if status == ST_DONE else status
            ctl[C_ROW] = r
            return
        elementwise = ONE_ELEMENT[code]
        family = SCALAR_FAMILY[code] if elementwise else FAMILY[code]
        if family < 0:
            ctl[C_STATUS] = ST_UNKNOWN
            ctl[C_ROW] = r
            return
        if fams[family, dt[r]] == 0:
            ctl[C_FAMILY] = family
            ctl[C_STATUS] = ST_COMPILE
            ctl[C_ROW] = r
            return
        seen[r] |= 4
        x = a[r]
        if elementwise:
            unary = code < _UNARY_END
            y = x if unary else b[r]
            n, nx, ny = num[r], num[x], num[y]
            o, ox, oy = off[r], off[x], off[y]
            f64 = dt[r] == 0
            base = o if f64 else o + G64.shape[1]
            px = PX[base:base + n]
            py = PY[base:base + n]
            if not done[r]:
                done[r] = 1
                address = fams[family, dt[r]]
                if f64:
                    _partials(address, code, v64, o, ox, oy, n, nx, ny, fa[r], fb[r], px, py)
                else:
                    _partials(address, code, v32, o, ox, oy, n, nx, ny, fa[r], fb[r], px, py)
            if f64:
                if rg[x] != 0:
                    _apply(G64, LO, HI, seen, px, r, x, o, ox, n, nx, A, B)
                if not unary and rg[y] != 0:
                    _apply(G64, LO, HI, seen, py, r, y, o, oy, n, ny, A, B)
            else:
                if rg[x] != 0:
                    _apply(G32, LO, HI, seen, px, r, x, o, ox, n, nx, A, B)
                if not unary and rg[y] != 0:
                    _apply(G32, LO, HI, seen, py, r, y, o, oy, n, ny, A, B)
            continue
        if dt[r] == dt[x] and b[r] < 0 and R[R_LN, r] == 0 and rg[x] != 0 and R[R_NOUT, r] == 0:
            if not done[r]:
                done[r] = 1
                if code == SCATTER or code == LAYOUT_SCATTER:
                    lst = ix[R[R_IA, r]:R[R_IA, r] + num[x]]
                    done[r] = 2 if lst.shape[0] < 2 or (lst[1:] >= lst[:-1]).all() else 1
            ordered = done[r] == 2
            if dt[r] == 0:
                if _moves(G64, LO, HI, seen, code, r, x, off[x], off[r], ix, R[R_IA, r], num[x], num[r], ordered, A, B):
                    continue
            elif _moves(G32, LO, HI, seen, code, r, x, off[x], off[r], ix, R[R_IA, r], num[x], num[r], ordered, A, B):
                continue
        _reach_all(R, ix, seen, G64, G32, LO, HI, r)
        known = True
        for j in range(G64.shape[0]):
            if dt[r] == 0:
                known &= call9(fams[family, 0], R, F, stab, ix, v64, G64[j], v32, G32[j], r)
            else:
                known &= call9(fams[family, 1], R, F, stab, ix, v32, G32[j], v64, G64[j], r)
        if not known:
            ctl[C_STATUS] = ST_UNKNOWN
            ctl[C_ROW] = r
            return
    ctl[C_STATUS] = ST_DONE


def _python_block(tape, r: int, G64: np.ndarray, G32: np.ndarray, LO: np.ndarray, HI: np.ndarray,
                  seen: np.ndarray) -> None:
    """A row whose adjoint runs in Python: once per direction, each on its own adjoint arenas."""
    _reach_all(tape.R, tape.ix, seen, G64, G32, LO, HI, r)
    run = _engine._python_vjp if REGISTRY[int(tape.op[r])].py_adjoint is None else _engine._python_row
    values = (tape.v64, tape.v32)
    with no_grad():
        for j in range(G64.shape[0]):
            run(tape, r, values, (G64[j], G32[j]), seen)


class Partials:
    """Elementwise rows' partial derivatives, computed by the first block's sweep for the next."""

    def __init__(self, tape) -> None:
        size = tape.t64 + tape.t32
        self.PX, self.PY = np.empty(size), np.empty(size)
        self.done = np.zeros(tape.n, np.uint8)


def block_sweep(tape, G64: np.ndarray, G32: np.ndarray, LO: np.ndarray, HI: np.ndarray, seen: np.ndarray,
                start: int, partials: Partials = None) -> None:
    """Run the blocked reverse sweep from row ``start`` to the end, Python rows included; raises
    PyTorch's error for a freed or modified row.  ``partials``: kept from a sweep of the same
    tape at the same values (by default, none)."""
    R = tape.R
    ctl = np.zeros(C_SIZE, np.int64)
    ctl[C_START] = start
    p = Partials(tape) if partials is None else partials
    while ctl[C_START] >= 0:
        block_rows(R, tape.F, tape.stab, tape.ix, SAVES, tape.v64, G64, tape.v32, G32, LO, HI, seen, ctl,
                   ADJOINTS.addresses, p.PX, p.PY, p.done)
        status = ctl[C_STATUS]
        if status == ST_DONE:
            return
        r = int(ctl[C_ROW])
        if status == ST_COMPILE:
            compile_for(R, tape.F, tape.stab, tape.ix, tape.v64, G64[0], tape.v32, G32[0], ctl)
            ctl[C_START] = r
        elif status == ST_PYTHON:
            _python_block(tape, r, G64, G32, LO, HI, seen)
            ctl[C_START] = r - 1
        else:
            _engine._stopped(tape, ctl)


@njit(cache=True, error_model="numpy")
def _seed(R, G64, G32, LO, HI, seen, first, dirs, nodes, elems, values):
    """Seed the directions ``first ..`` of a block: direction ``dirs[s] - first`` gets ``values[s]``
    at element ``elems[s]`` of node ``nodes[s]``."""
    for s in range(dirs.shape[0]):
        j = dirs[s] - first
        if j < 0 or j >= LO.shape[0]:
            continue
        node = nodes[s]
        o = R[R_OFF, node]
        e = elems[s]
        f64 = R[R_DT, node] == 0
        # (the range grown here, not by ``_grow``: a call per seed would cost more than the seed)
        lo = LO[j, node]
        hi = HI[j, node]
        if lo >= hi:
            lo = hi = e
        for i in range(min(lo, e), max(hi, e + 1)):
            if i < lo or i >= hi:
                if f64:
                    G64[j, o + i] = 0.0
                else:
                    G32[j, o + i] = 0.0
        LO[j, node] = min(lo, e)
        HI[j, node] = max(hi, e + 1)
        seen[node] |= 1
        if f64:
            G64[j, o + e] += values[s]
        else:
            G32[j, o + e] += values[s]


@njit(cache=True, error_model="numpy")
def _extract(G, LO, HI, J, first, col, o, t):
    """Direction ``j``'s adjoint of node ``t`` (at ``o``) into ``J[first + j, col:]``, over its range."""
    for j in range(LO.shape[0]):
        for i in range(LO[j, t], HI[j, t]):
            J[first + j, col + i] = G[j, o + i]


# --- compact adjoints: a sweep of float64 rows that only scale and move adjoints --------------------
# With each direction's adjoints in a full arena row (``G64[j]``), a unit seed that reaches a few
# elements of each row still touches a cache line (and often a page) per row and direction, spread
# over megabytes: with the caches cold (after a garbage collection) most of a Hessian's time went
# to those misses.  When every row a sweep reaches is elementwise or one of ``_moves``' rows, the
# adjoints live instead in one buffer ``C``, each (direction, node) range placed where it is first
# reached (``P[j, node]``: the position of its element 0), so a row's adjoints in all directions
# sit side by side.  The arithmetic per direction is that of ``block_rows``, in the same order.
# finished; a row it does not run (``block_rows`` does); ``C`` full; a row whose kernel is not compiled yet
CP_DONE, CP_OTHER, CP_FULL, CP_COMPILE = 0, 1, 2, 3


@njit(cache=True, error_model="numpy")
def _cgrow_each(C, P, LO, HI, top, seen, node, A, B):
    """For every direction ``j`` with ``A[j] < B[j]``: its adjoint of ``node`` will be added to in
    ``[A[j], B[j])``; its range grown (the new part zeroed) in place when it is the last one placed,
    else moved to the top of ``C``.  False when ``C`` is full.  One call per row (as
    ``_grow_each``: a call with array arguments costs reference counts, more than a few elements)."""
    for j in range(LO.shape[0]):
        a = A[j]
        b = B[j]
        if a >= b:
            continue
        seen[node] |= 1
        lo = LO[j, node]
        hi = HI[j, node]
        if lo < hi and a >= lo and b <= hi:
            continue
        na = a if lo >= hi else min(a, lo)
        nb = b if lo >= hi else max(b, hi)
        p = P[j, node]
        t = top[0]
        if lo < hi and na == lo and p + hi == t:
            if p + nb > C.shape[0]:
                return False
            for i in range(p + hi, p + nb):
                C[i] = 0.0
            HI[j, node] = nb
            top[0] = p + nb
            continue
        if t + nb - na > C.shape[0]:
            return False
        q = t - na
        for i in range(na, nb):
            C[q + i] = C[p + i] if lo <= i < hi else 0.0
        P[j, node] = q
        LO[j, node] = na
        HI[j, node] = nb
        top[0] = t + nb - na
    return True


@njit(cache=True, error_model="numpy", inline="always")
def _capply(C, P, LO, HI, top, seen, p, r, x, n, nx, A, B):
    """``_apply`` on compact adjoints; False when ``C`` is full."""
    for j in range(LO.shape[0]):
        lo = LO[j, r]
        hi = HI[j, r]
        A[j] = 0 if lo >= hi else (lo if nx == n else 0)
        B[j] = 0 if lo >= hi else (hi if nx == n else nx)
    if not _cgrow_each(C, P, LO, HI, top, seen, x, A, B):
        return False
    for j in range(LO.shape[0]):
        lo = LO[j, r]
        hi = HI[j, r]
        if lo >= hi:
            continue
        go = P[j, r]
        gx = P[j, x]
        if nx == n:
            for i in range(lo, hi):
                C[gx + i] += p[i] * C[go + i]
        elif nx == 1:
            s = C[gx]
            for i in range(lo, hi):
                s += p[i] * C[go + i]
            C[gx] = s
        else:
            for i in range(lo, hi):
                C[gx + i % nx] += p[i] * C[go + i]
    return True




@njit(cache=True, error_model="numpy", inline="always")
def _cmoves(C, P, LO, HI, top, seen, code, r, x, ix, ia, nx, ordered, A, B):
    """``_moves`` on compact adjoints (the caller checked the row is one of them); False when
    ``C`` is full."""
    selects = code == GATHER or code == INDEX or code == LAYOUT or code == LAYOUT_SAVED
    scatters = code == SCATTER or code == LAYOUT_SCATTER
    _reached(LO, HI, r, code, ix, ia, nx, ordered, A, B)
    if not _cgrow_each(C, P, LO, HI, top, seen, x, A, B):
        return False
    for j in range(LO.shape[0]):
        lo = LO[j, r]
        hi = HI[j, r]
        a = A[j]
        b = B[j]
        if lo >= hi or a >= b:
            continue
        go = P[j, r]
        gx = P[j, x]
        if selects:
            for i in range(lo, hi):
                C[gx + ix[ia + i]] += C[go + i]
        elif scatters:
            for i in range(a, b):
                m = ix[ia + i]
                if lo <= m < hi:
                    C[gx + i] += C[go + m]
        elif code == VIEW:
            for i in range(lo, hi):
                C[gx + i] += C[go + i]
        elif code == EXPAND:
            s = C[gx]
            for i in range(lo, hi):
                s += C[go + i]
            C[gx] = s
        else:
            s = C[go]
            for i in range(nx):
                C[gx + i] += s
    return True


@njit(cache=True, error_model="numpy")
def compact_block(R, F, ix, saves, v64, C, P, LO, HI, seen, start, fams, PX, PY, done, first, dirs, nodes,
                  elems, values, J, targets, hit):
    """Seed the block of directions ``first ..`` (``_seed``'s arrays), sweep it back from row
    ``start`` on compact adjoints, and write each direction's adjoints of ``targets`` into its row
    of ``J`` (columns in the targets' order; ``hit``: the targets reached).  ``CP_OTHER`` at a row
    this sweep does not run (nothing written to ``J``), ``CP_FULL`` when ``C`` is too small."""
    op, dt, off, num, a, b, rg = R[R_OP], R[R_DT], R[R_OFF], R[R_NUM], R[R_A], R[R_B], R[R_RG]
    fa, fb = F[0], F[1]
    for k in range(targets.shape[0]):
        if dt[targets[k]] != 0:
            return CP_OTHER
    top = np.zeros(1, np.int64)
    A = np.empty(LO.shape[0], np.int64)
    B = np.empty(LO.shape[0], np.int64)
    LO[:, :] = 0
    HI[:, :] = 0
    for s in range(dirs.shape[0]):
        j = dirs[s] - first
        if j < 0 or j >= LO.shape[0]:
            continue
        node = nodes[s]
        if dt[node] != 0:
            return CP_OTHER
        e = elems[s]
        if LO[j, node] >= HI[j, node]:      # (the usual case, placed here: ``_cgrow_each`` loops over all)
            if top[0] >= C.shape[0]:
                return CP_FULL
            seen[node] |= 1
            P[j, node] = top[0] - e
            C[top[0]] = 0.0
            LO[j, node] = e
            HI[j, node] = e + 1
            top[0] += 1
        else:
            A[:] = 0
            B[:] = 0
            A[j] = e
            B[j] = e + 1
            if not _cgrow_each(C, P, LO, HI, top, seen, node, A, B):
                return CP_FULL
        C[P[j, node] + e] += values[s]
    for r in range(start, -1, -1):
        if seen[r] & 3 != 1:
            continue
        code = op[r]
        if code < _SOURCE_END:
            if code == OUTPUT:
                return CP_OTHER     # (its adjoint is part of its row's: the arena layout)
            continue
        if dt[r] != 0 or code >= _PYTHON_START or check_saved(R, ix, saves[code], r) != ST_DONE:
            return CP_OTHER
        x = a[r]
        if ONE_ELEMENT[code]:
            family = SCALAR_FAMILY[code]
            unary = code < _UNARY_END
            y = x if unary else b[r]
            if family < 0 or dt[x] != 0 or dt[y] != 0:
                return CP_OTHER
            if fams[family, 0] == 0:
                return CP_COMPILE
            seen[r] |= 4
            n, nx, ny = num[r], num[x], num[y]
            o = off[r]
            px = PX[o:o + n]
            py = PY[o:o + n]
            if not done[r]:
                done[r] = 1
                _partials(fams[family, 0], code, v64, o, off[x], off[y], n, nx, ny, fa[r], fb[r], px, py)
            if rg[x] != 0 and not _capply(C, P, LO, HI, top, seen, px, r, x, n, nx, A, B):
                return CP_FULL
            if not unary and rg[y] != 0 and not _capply(C, P, LO, HI, top, seen, py, r, y, n, ny, A, B):
                return CP_FULL
            continue
        nx, ny = num[x], num[r]
        if not (dt[x] == 0 and b[r] < 0 and R[R_LN, r] == 0 and rg[x] != 0 and R[R_NOUT, r] == 0 and (
                code == GATHER or code == INDEX or code == LAYOUT or code == LAYOUT_SAVED or code == SCATTER
                or code == LAYOUT_SCATTER or code == VIEW or (code == EXPAND and nx == 1)
                or (code == SUM and ny == 1))):
            return CP_OTHER
        seen[r] |= 4
        if not done[r]:
            done[r] = 1
            if code == SCATTER or code == LAYOUT_SCATTER:
                lst = ix[R[R_IA, r]:R[R_IA, r] + nx]
                done[r] = 2 if lst.shape[0] < 2 or (lst[1:] >= lst[:-1]).all() else 1
        if not _cmoves(C, P, LO, HI, top, seen, code, r, x, ix, R[R_IA, r], nx, done[r] == 2, A, B):
            return CP_FULL
    col = 0
    for k in range(targets.shape[0]):
        t = targets[k]
        if seen[t] & 1:
            hit[k] = True
            for j in range(LO.shape[0]):
                p = P[j, t]
                for i in range(LO[j, t], HI[j, t]):
                    J[first + j, col + i] = C[p + i]
        col += num[t]
    return CP_DONE


# Codes ``compact_block`` runs (besides their dtype and operands, which it checks as it goes).
_COMPACT = ONE_ELEMENT.copy()
_COMPACT[:_SOURCE_END] = True
_COMPACT[OUTPUT] = False
_COMPACT[[GATHER, INDEX, LAYOUT, LAYOUT_SAVED, SCATTER, LAYOUT_SCATTER, VIEW, EXPAND, SUM]] = True
_COMPACT[_PYTHON_START:] = False


def _compactable(tape, start: int, base: np.ndarray) -> bool:
    """Whether every row up to ``start`` that leads to a target is float64 with a code the compact
    sweep runs: a sweep that would stop at another row is not tried (nor its kernel compiled)."""
    live = (base[:start + 1] & 2) == 0
    return bool(_COMPACT[tape.op[:start + 1][live]].all() and (tape.dt[:start + 1][live] == 0).all())


def _compact(size: int) -> np.ndarray:
    """The thread's buffer of compact adjoints, at least ``size`` elements (kept, as ``scratch``)."""
    buf = getattr(_local, "compact", None)
    if buf is None or buf.shape[0] < size:
        buf = _local.compact = np.empty(size)
    return buf[:size]


def unit_seeds(nodes: list, sizes: list) -> tuple:
    """One direction per element of each node: ``seeded``'s seeds for a whole Jacobian."""
    total = sum(sizes)
    return (np.arange(total, dtype=np.int64), np.repeat(np.array(nodes, np.int64), sizes),
            np.concatenate([np.arange(n, dtype=np.int64) for n in sizes]) if sizes else np.zeros(0, np.int64),
            np.ones(total))


def seeded(tape, start: int, seeds: tuple, directions: int, targets: list, unneeded: np.ndarray = None,
           memo: dict = None):
    """The adjoints of nodes ``targets`` in each of ``directions`` directions, by blocked sweeps
    from row ``start``: ``seeds`` are arrays (direction, node, element, value).  Returns a float64
    array (directions x total elements of the targets) and, per target, whether any sweep
    reached it (an unreached target's adjoints are zero).  ``memo``: kept between calls on the
    same rows (whether their compact sweep runs)."""
    total = sum(int(tape.num[t]) for t in targets)
    J = np.zeros((directions, total))
    hit = np.zeros(len(targets), np.bool_)
    if directions == 0:
        return J, hit
    base = np.zeros(tape.n, np.uint8) if unneeded is None else unneeded
    # (kept by the caller's memo, whose rows do not change: a fresh array costs its page faults)
    partials = None if memo is None else memo.get("partials")
    if partials is None:
        partials = Partials(tape)
        if memo is not None:
            memo["partials"] = partials
    else:
        partials.done[:] = 0
    if memo is not None and "compact" not in memo:
        memo["compact"] = _compactable(tape, start, base)
    if memo["compact"] if memo is not None else _compactable(tape, start, base):
        done = _compact_sweeps(tape, start, seeds, directions, targets, base, partials, J, hit, memo)
        if done:
            return J, hit
        if done is False and memo is not None:
            memo["compact"] = False
        J[...] = 0.0
        hit[...] = False
    k = block_size(directions, max(tape.t64, tape.t32))
    k = -(-directions // -(-directions // k))      # (blocks of equal size)
    dirs, nodes, elems, values = seeds
    for first in range(0, directions, k):
        m = min(k, directions - first)
        G64, G32 = scratch(m, tape.t64, tape.t32)
        seen = base.copy()
        LO = np.zeros((m, tape.n), np.int64)
        HI = np.zeros((m, tape.n), np.int64)
        _seed(tape.R, G64, G32, LO, HI, seen, first, dirs, nodes, elems, values)
        block_sweep(tape, G64, G32, LO, HI, seen, start, partials)
        col = 0
        for i, t in enumerate(targets):
            if seen[t] & 1:
                hit[i] = True
                _extract(G64 if tape.dt[t] == 0 else G32, LO, HI, J, first, col, int(tape.off[t]), t)
            col += int(tape.num[t])
    return J, hit


def _compact_sweeps(tape, start: int, seeds: tuple, directions: int, targets: list, base: np.ndarray,
                    partials: Partials, J: np.ndarray, hit: np.ndarray, memo: dict = None):
    """``seeded``'s blocks on compact adjoints (``compact_block``): True when they ran, False when
    the rows need ``block_rows``, None when they may run once the kernels a row needs are
    compiled (``block_rows`` compiles them)."""
    fams = ADJOINTS.addresses
    # (three directions x rows tables of int64 per block, within the scratch's budget)
    k = block_size(directions, 3 * tape.n)
    k = -(-directions // -(-directions // k))
    dirs, nodes, elems, values = seeds
    tab, tg = (None, None) if memo is None else memo.get("tables", (None, None))
    if tab is None or tab.shape[1] != k:
        tab, tg = np.empty((3, k, tape.n), np.int64), np.array(targets, np.int64)
        if memo is not None:
            memo["tables"] = tab, tg
    limit = 2 * ELEMENTS        # (past this, the arena rows: their blocks are sized to ELEMENTS)
    size = min(getattr(_local, "compact_size", 1 << 14), limit)
    for first in range(0, directions, k):
        m = min(k, directions - first)
        P, LO, HI = tab[0, :m], tab[1, :m], tab[2, :m]
        while True:
            C = _compact(size)
            status = compact_block(tape.R, tape.F, tape.ix, SAVES, tape.v64, C, P, LO, HI, base.copy(), start,
                                   fams, partials.PX, partials.PY, partials.done, first, dirs, nodes, elems, values,
                                   J, tg, hit)
            if status != CP_FULL:
                break
            if size >= limit:
                return False
            size = _local.compact_size = min(2 * size, limit)
        if status != CP_DONE:
            return None if status == CP_COMPILE else False
    return True


def unneeded_for(tape, n: int, targets: list) -> np.ndarray:
    """The sweep's start bits for rows ``0..n-1``: rows that lead to none of ``targets``."""
    target = np.zeros(n, np.uint8)
    target[targets] = 1
    seen = np.zeros(n, np.uint8)
    mark_unneeded(tape.R, tape.ix, n, target, seen)
    return seen


def jacobian_block(outputs, inputs):
    """``_engine.jacobian_block`` by blocked sweeps: the Jacobian rows of ``outputs`` w.r.t.
    ``inputs``, which inputs were found, and per output element which of them its block reached;
    or None when the outputs are not all on the inputs' tape, the graph reaches into an older
    tape, or it has hooks or custom Functions (the per-element path runs them)."""
    found = _engine.block_nodes(outputs, inputs)
    if found is None:
        return None
    tape, nodes, start = found
    if any(tape.hooks.values()) or any(t.__dict__.get("_hooks") for t in inputs) or tape.pyrows:
        return None
    for node, src in tape.src.items():
        if node <= start and type(src) is tuple:
            return None
    _engine._mark_modified_leaves(tape)
    sizes = [o.numel() for o in outputs]
    used = [n for n in nodes if n >= 0]
    J, hit = seeded(tape, start, unit_seeds([o._node for o in outputs], sizes), sum(sizes), used,
                    unneeded_for(tape, tape.n, used) if used else None)
    reached = np.repeat(hit[None, :].astype(np.uint8), sum(sizes), axis=0)
    return J, [n >= 0 for n in nodes], reached


# --- on a trace: Jacobians, and Hessians by reverse over the recorded gradient --------------------
def _dims(t) -> int:
    n = 1
    for d in t._shape:
        n *= d
    return n


def _blocks(J: np.ndarray, rows: list, cols: list, single_out: bool, single_in: bool):
    """``J`` (all rows' elements x all columns' elements) cut into ``autograd.functional``'s
    nesting: per row tensor, per column tensor, shaped ``row.shape + col.shape``."""
    out = []
    r0 = 0
    for rt in rows:
        m = _dims(rt)
        c0 = 0
        per = []
        for ct in cols:
            n = _dims(ct)
            whole = m == J.shape[0] and n == J.shape[1]     # (a new array: it becomes the tensor, no copy)
            part = np.asarray(J, ct._dtype.np) if whole else np.array(J[r0:r0 + m, c0:c0 + n], ct._dtype.np)
            per.append(_plain(part.reshape(rt._shape + ct._shape), ct._dtype))
            c0 += n
        out.append(per[0] if single_in else tuple(per))
        r0 += m
    return out[0] if single_out else tuple(out)


def _sweepable(tape) -> bool:
    return not tape.hooks and not tape.pyrows and not _anomaly_mode[0]


def trace_jacobian(var, outs: tuple, inputs: tuple):
    """The Jacobian of a replayed variant by blocked reverse sweeps (one direction per output
    element), or None when its tape has hooks or custom Functions."""
    tape = var.tape
    if not _sweepable(tape):
        return None
    sizes = [_dims(o) for o in outs]
    # (a constant output: its seeds at its own node, which leads nowhere: zero rows)
    seeds = unit_seeds([n if n >= 0 and tape.rg[n] else var.in_nodes[0] for n in var.outs], sizes)
    keep = np.repeat([n >= 0 and bool(tape.rg[n]) for n in var.outs], sizes)
    seeds = tuple(a[keep] for a in seeds)
    starts = [n for n in var.outs if n >= 0 and tape.rg[n]]
    key = ("jacobian",)
    if key not in var.unneeded:
        var.unneeded[key] = unneeded_for(tape, tape.n, var.in_nodes)
    J = np.zeros((sum(sizes), sum(_dims(x) for x in inputs)))
    if starts:
        J, _ = seeded(tape, max(starts), seeds, sum(sizes), var.in_nodes, var.unneeded[key])
    return _blocks(J, outs, inputs, var.single, len(inputs) == 1)


class _Program:
    """A variant's function recorded again with its gradient (``create_graph``) on the same tape:
    replaying the tape gives the gradient's values, a reverse sweep from the gradient's nodes
    Hessian rows."""

    def __init__(self, var, grads: list, start: int) -> None:
        self.var = var
        self.grads = grads          # per input: the gradient's node, or -1 (no second derivative)
        self.start = start
        self.unneeded = unneeded_for(var.tape, var.tape.n, var.in_nodes)
        self.units = None           # a whole Hessian's seeds at the gradient's nodes (made at its first use)
        self.memo = {}              # ``seeded``'s


def _program(trace, var, inputs: tuple):
    """The variant's gradient program (made once, at the first inputs that chose the variant), or
    None when it cannot be replayed in compiled code."""
    prog = getattr(var, "gradient_program", False)
    if prog is not False:
        return prog
    var.gradient_program = None
    hv = trace._record(inputs)
    tape = hv.tape
    h = trace._handle(hv, 0)
    if not hv.compiled or h is None or not _sweepable(tape):
        return None
    prev_tape, prev_grad = state.tape, state.grad
    state.tape, state.grad = tape, True
    state.pinned += 1
    try:
        result = _engine.run([h], [_plain(np.ones(h._shape, h._dtype.np), h._dtype)], True, True, set(),
                             leaf_targets={id(x) for x in hv.leaves})
    finally:
        state.pinned -= 1
        state.tape, state.grad = prev_tape, prev_grad
    grads = []
    for leaf in hv.leaves:
        g = result.leaves[id(leaf)][1] if id(leaf) in result.leaves else None
        if g is not None and g._tape is not tape and g._tape is not None:
            return None
        grads.append(g._node if g is not None and g._tape is tape else -1)
    hv.program = None               # (the scalar program holds the function's rows only)
    if not trace._replayable(tape, hv.segments):
        return None
    before = (tape.v64[:tape.t64].copy(), tape.v32[:tape.t32].copy())
    if not trace._run(hv) or not (trace._close(before[0], tape.v64[:tape.t64])
                                  and trace._close(before[1], tape.v32[:tape.t32])):
        return None
    found = [g for g in grads if g >= 0]
    var.gradient_program = _Program(hv, grads, max(found) if found else -1)
    return var.gradient_program


def _load(trace, prog: _Program, inputs: tuple) -> bool:
    """Replay the gradient program at ``inputs``; False if one of its guards fails."""
    hv = prog.var
    tape = hv.tape
    for node, t in zip(hv.in_nodes, inputs):
        trace._value_into(tape, node, t)
    for node, t in hv.params:
        trace._value_into(tape, node, t)
        tape.ib[node] = t._vnum
    return trace._run(hv)


def _hessian_rows(prog: _Program, inputs: tuple, seeds: tuple, directions: int) -> np.ndarray:
    """The (replayed) gradient program swept back from ``seeds`` (arrays: direction, input,
    element, value; None: one direction per input element, a whole Hessian): per direction, the
    adjoints of all the inputs (one flat row)."""
    if seeds is None:
        if prog.units is None:
            sizes = [_dims(x) for x in inputs]
            prog.units = _at_gradients(prog, unit_seeds(list(range(len(inputs))), sizes))
        seeds = prog.units
    else:
        seeds = _at_gradients(prog, seeds)
    if prog.start < 0 or seeds[0].shape[0] == 0:
        return np.zeros((directions, sum(_dims(x) for x in inputs)))
    J, _ = seeded(prog.var.tape, prog.start, seeds, directions, prog.var.in_nodes, prog.unneeded, prog.memo)
    return J


def _at_gradients(prog: _Program, seeds: tuple) -> tuple:
    """Seeds at inputs moved to their gradients' nodes (dropped for an input without one)."""
    grads = np.array(prog.grads, np.int64)
    dirs, which, elems, values = seeds
    keep = grads[which] >= 0
    return dirs[keep], grads[which][keep], elems[keep], values[keep]


def _hessian(prog: _Program, inputs: tuple):
    J = _hessian_rows(prog, inputs, None, sum(_dims(x) for x in inputs))
    single = len(inputs) == 1
    return _blocks(J, list(inputs), list(inputs), single, single)


def trace_hessian(trace, var, inputs: tuple):
    """The Hessian of a replayed variant (one-element output): blocked reverse sweeps over its
    gradient program, one direction per input element; None to fall back."""
    prog = _program(trace, var, inputs)
    if prog is None or not _load(trace, prog, inputs):
        return None
    return _hessian(prog, inputs)


def front_hessian(trace, inputs: tuple):
    """``trace_hessian`` for the trace's front variant when its gradient program's guards hold at
    ``inputs``, without replaying the variant itself (the program's rows begin with a recording
    of the same function, whose guards, holding, make its values the function's at ``inputs``);
    None otherwise."""
    trace._check_inputs(inputs)
    var = trace.variants[0] if trace.variants else None
    prog = getattr(var, "gradient_program", None)
    if prog is None or not var.compiled or any(
            t._shape != s or t._dtype is not d for (_, t), (s, d) in zip(prog.var.params, prog.var.shapes)):
        return None
    return _hessian(prog, inputs) if _load(trace, prog, inputs) else None


def trace_hvp(trace, var, inputs: tuple, vs: tuple):
    """``H v`` for a replayed variant: one sweep over its gradient program seeded with ``v`` (the
    Hessian is symmetric: ``v^T H``); None to fall back."""
    sizes = [_dims(x) for x in inputs]
    dirs, which, elems, _ = unit_seeds(list(range(len(inputs))), sizes)
    values = np.concatenate([np.asarray(v._value(), np.float64).reshape(-1) for v in vs])
    prog = _program(trace, var, inputs)
    if prog is None or not _load(trace, prog, inputs):
        return None
    J = _hessian_rows(prog, inputs, (np.zeros_like(dirs), which, elems, values), 1)
    out = []
    c0 = 0
    for x in inputs:
        n = _dims(x)
        out.append(_plain(np.array(J[0, c0:c0 + n], x._dtype.np).reshape(x._shape), x._dtype))
        c0 += n
    return out


# --- forward mode: k tangents per value --------------------------------------------------------
# Rows whose tangent is their own forward applied to their inputs' tangents (they only move, add
# or stack elements): the family's forward kernel runs on the tangent arenas.
LINEAR = np.zeros(N_CODES, np.bool_)
LINEAR[[c for c in SHAPE if c in REGISTRY] + [SUM, MEAN, CAT, STACK, CAST]] = True


@njit(cache=True, error_model="numpy", inline="always")
def _spread(T, p, o, ox, n, nx, add):
    """``T[j, o + i] (+)= p[i] * T[j, ox + i % nx]`` for every direction ``j``."""
    p = p[:n]
    for j in range(T.shape[0]):
        t = T[j, o:o + n]
        if nx == n:
            tx = T[j, ox:ox + n]
            if add:
                for i in range(n):
                    t[i] += p[i] * tx[i]
            else:
                for i in range(n):
                    t[i] = p[i] * tx[i]
        else:
            tx = T[j, ox:ox + nx]
            if add:
                for i in range(n):
                    t[i] += p[i] * tx[i % nx]
            else:
                for i in range(n):
                    t[i] = p[i] * tx[i % nx]


@njit(cache=True, error_model="numpy")
def tangent_rows(R, F, stab, ix, v64, T64, v32, T32, has, ctl, fams, values, PX, PY, linear):
    """Propagate the ``k`` tangents in ``T64``/``T32`` (one row per direction, zeros where no
    tangent arrived) from row ``ctl[C_START]`` to the last row: ``has[node]`` is 1 for nodes with
    a tangent.  An elementwise row gets its partial derivatives times its inputs' tangents; a
    LINEAR row its forward kernel (``values``: ``_record.VALUES``' addresses) on the tangents;
    another row stops the sweep (ST_PYTHON) for Python to run its op's ``jvp`` per direction."""
    op, dt, off, num, a, b = R[R_OP], R[R_DT], R[R_OFF], R[R_NUM], R[R_A], R[R_B]
    fa, fb = F[0], F[1]
    n_rows = has.shape[0]
    r = ctl[C_START]
    while r < n_rows:
        code = op[r]
        if code < _SOURCE_END:
            r += 1
            continue
        reached = False
        for k in range(max(R[R_LN, r], 2)):
            x = input_at(R, ix, r, k)
            if x >= 0 and has[x]:
                reached = True
        if not reached:
            r += 1 + R[R_NOUT, r]
            continue
        if code >= _PYTHON_START or not (ONE_ELEMENT[code] or linear[code]):
            ctl[C_STATUS] = ST_PYTHON
            ctl[C_ROW] = r
            return
        if ONE_ELEMENT[code]:
            family = SCALAR_FAMILY[code]
            if fams[family, dt[r]] == 0:
                ctl[C_FAMILY] = family
                ctl[C_STATUS] = ST_COMPILE
                ctl[C_ROW] = r
                return
            x = a[r]
            unary = code < _UNARY_END
            y = x if unary else b[r]
            n, nx, ny = num[r], num[x], num[y]
            o, ox, oy = off[r], off[x], off[y]
            px = PX[:n]
            py = PY[:n]
            address = fams[family, dt[r]]
            if dt[r] == 0:
                _partials(address, code, v64, o, ox, oy, n, nx, ny, fa[r], fb[r], px, py)
            else:
                _partials(address, code, v32, o, ox, oy, n, nx, ny, fa[r], fb[r], px, py)
            wrote = False
            for p, z, nz, oz in ((px, x, nx, ox), (py, y, ny, oy)):
                if has[z] and (z == x or not unary):
                    if dt[r] == 0:
                        _spread(T64, p, o, oz, n, nz, wrote)
                    else:
                        _spread(T32, p, o, oz, n, nz, wrote)
                    wrote = True
        else:
            family = FAMILY[code]
            if code != CAST and values[family, dt[r]] == 0:
                ctl[C_FAMILY] = family
                ctl[C_STATUS] = ST_COMPILE
                ctl[C_ROW] = r
                return
            for j in range(T64.shape[0]):
                _forward(R, F, stab, ix, T64[j], T32[j], r, values)
        has[r] = 1
        r += 1
    ctl[C_STATUS] = ST_DONE


def _python_tangent(tape, r: int, T64: np.ndarray, T32: np.ndarray, has: np.ndarray) -> None:
    """A row without a compiled tangent: its op's ``jvp`` rule, once per direction."""
    op = REGISTRY[int(tape.op[r])]
    nodes = tape.inputs_of(r)
    row = Row(tape, r)
    skip = set(op.nondiff + (op.nondiff_of(row) if op.nondiff_of is not None else ()))
    arenas = [(T64[j], T32[j]) for j in range(T64.shape[0])]
    xs = tuple(_tangent._handle(tape, x) for x in nodes)
    y = _tangent._handle(tape, r)
    outs = list(range(r + 1, r + 1 + int(tape.nout[r]))) if op.multi else [r]
    with no_grad():
        for arena in arenas:
            ts = tuple(None if k in skip or not has[x] else
                       _plain(np.array(_engine._arena_view(tape, arena, x)), D.ARENA_DTYPES[int(tape.dt[x])])
                       for k, x in enumerate(nodes))
            got = _tangent.tangent_of(op, ts, xs, y, row) if any(t is not None for t in ts) else None
            got = got if op.multi else (got,)
            for node, t in zip(outs, got if got is not None else (None,) * len(outs)):
                view = _engine._arena_view(tape, arena, node)
                view[...] = 0 if t is None else np.asarray(t._value(), view.dtype).reshape(view.shape)
    has[outs] = 1
    has[r] = 1


def tangent_sweep(tape, T64: np.ndarray, T32: np.ndarray, has: np.ndarray, start: int) -> None:
    """Run the blocked tangent sweep from row ``start`` to the last row, Python rows included."""
    R = tape.R
    ctl = np.zeros(C_SIZE, np.int64)
    ctl[C_START] = start
    width = int(R[R_NUM, :tape.n].max(initial=1))
    PX, PY = np.empty(width), np.empty(width)
    while True:
        tangent_rows(R, tape.F, tape.stab, tape.ix, tape.v64, T64, tape.v32, T32, has, ctl, ADJOINTS.addresses,
                     VALUES.addresses, PX, PY, LINEAR)
        status = ctl[C_STATUS]
        if status == ST_DONE:
            return
        r = int(ctl[C_ROW])
        if status == ST_COMPILE:
            family = int(ctl[C_FAMILY])
            if family >= SCALAR:
                ADJOINTS.compile(family, int(tape.dt[r]), (tape.op[r], 0.0, 0.0, 0.0, 0.0, 0.0, 0.0))
            else:
                arena = int(tape.dt[r])
                VALUES.compile(int(FAMILY[tape.op[r]]), arena,
                               (R, tape.F, tape.stab, tape.ix, tape.v64 if arena == 0 else tape.v32, r))
            ctl[C_START] = r
        else:
            _python_tangent(tape, r, T64, T32, has)
            ctl[C_START] = r + 1 + int(tape.nout[r])


def tangents(tape, seeds: list, targets: list) -> np.ndarray:
    """The tangents of nodes ``targets`` for each direction: ``seeds`` is a list of
    ``(node, element, value)`` lists (one per direction).  Returns a float64 array (directions x
    total elements of the targets)."""
    J = np.zeros((len(seeds), sum(int(tape.num[t]) for t in targets)))
    nodes = sorted({s[0] for seed in seeds for s in seed})
    if not nodes:
        return J
    k = block_size(len(seeds), max(tape.t64, tape.t32))
    for first in range(0, len(seeds), k):
        block = seeds[first:first + k]
        T64, T32 = np.zeros((len(block), tape.t64)), np.zeros((len(block), tape.t32), np.float32)
        has = np.zeros(tape.n, np.uint8)
        has[nodes] = 1
        for j, seed in enumerate(block):
            for node, e, value in seed:
                (T64 if tape.dt[node] == 0 else T32)[j, int(tape.off[node]) + e] += value
        tangent_sweep(tape, T64, T32, has, nodes[0] + 1)
        col = 0
        for t in targets:
            n, o = int(tape.num[t]), int(tape.off[t])
            if has[t]:
                J[first:first + len(block), col:col + n] = (T64 if tape.dt[t] == 0 else T32)[:, o:o + n]
            col += n
    return J


def trace_jvp(var, vs: tuple, outs: tuple):
    """``J v`` for a replayed variant: one tangent sweep seeded with ``v``; per output its tangent
    (a tensor), or None to fall back (a tape of custom Functions)."""
    tape = var.tape
    if tape.pyrows:
        return None
    seed = [(node, e, value) for node, v in zip(var.in_nodes, vs)
            for e, value in enumerate(np.asarray(v._value(), np.float64).reshape(-1).tolist())]
    nodes = [n if n >= 0 else var.in_nodes[0] for n in var.outs]
    J = tangents(tape, [seed], nodes)
    got = []
    c0 = 0
    for node, o in zip(var.outs, outs):
        n = _dims(o)
        part = J[0, c0:c0 + n] if node >= 0 else np.zeros(n)
        got.append(_plain(np.array(part, o._dtype.np).reshape(o._shape), o._dtype))
        c0 += int(tape.num[node]) if node >= 0 else int(tape.num[nodes[0]])
    return got


def trace_jacobian_forward(var, outs: tuple, inputs: tuple):
    """The Jacobian of a replayed variant by blocked tangent sweeps (one direction per input
    element), or None to fall back."""
    tape = var.tape
    if tape.pyrows:
        return None
    seeds = [[(node, e, 1.0)] for node, x in zip(var.in_nodes, inputs) for e in range(_dims(x))]
    found = [n for n in var.outs if n >= 0]
    T = tangents(tape, seeds, found)
    J = np.zeros((sum(_dims(o) for o in outs), len(seeds)))
    r0 = c0 = 0
    for node, o in zip(var.outs, outs):
        n = _dims(o)
        if node >= 0:
            J[r0:r0 + n] = T[:, c0:c0 + n].T
            c0 += n
        r0 += n
    return _blocks(J, outs, inputs, var.single, len(inputs) == 1)
