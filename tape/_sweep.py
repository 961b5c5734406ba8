"""The numba reverse sweep over a tape's rows.

It walks rows from last to first, skipping rows no gradient reached, and calls
the adjoint kernel of the row's op family (``FAMILY``, by code: a group of core
elementwise ops, a code range; the families dispatch on the code themselves) by
address, compiled on first use (``_lazy``).  It stops as every sweep does (``_stops``):
at a row of the PYTHON range, or a big elementwise row (``PYTHON_FROM``), it
reports the row, Python runs that row's adjoint (numpy or BLAS, or the kernel
on several threads), and the sweep resumes below it.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._lazy import Families, call4_int, call9, call_pair
from ._parallel import CORES, PART
from ._stops import (C_FAMILY, C_NAN, C_ROW, C_START, C_STATUS, FREED, MODIFIED, ST_COMPILE, ST_DONE, ST_NAN,
                     ST_PYTHON, ST_UNKNOWN, check_saved, input_at)
from .ops._spec import (BINARY, CONST, INPUT, JOIN, LINALG, N_CODES, NUMPY_ROWS, OUTPUT, PYTHON, R_A, R_B, R_DT,
                        R_FR, R_IA, R_IB, R_LN, R_LO, R_NOUT, R_NUM, R_OFF, R_OP, R_RG, R_SHP, REDUCE, REGISTRY, SHAPE,
                        SOURCE, UNARY)
from .ops.elementwise import (BINARY_GROUPS, BINARY_ROWS, CATALOGUE_BINARY, CATALOGUE_UNARY, ONE_ELEMENT, OTHER_BINARY,
                              PRODUCTS, UNARY_GROUPS, UNARY_ROWS, broadcast_row, catalogue_binary_adjoint,
                              catalogue_scalar_d, catalogue_unary_adjoint, core_scalar_d, special_binary_adjoint,
                              special_scalar_d, special_unary_adjoint)
from .ops import _specfun as SF
from .ops.join import join_adjoint
from .ops.linalg import linalg_adjoint
from .ops.reduction import MEAN, SUM, one_adjoint, reduce_adjoint
from .ops.shape import EXPAND, GATHER, INDEX, TRANSPOSE, VIEW, shape_adjoint, view_adjoint

_UNARY_END = UNARY.stop
_BINARY_END = BINARY.stop
_REDUCE_END = REDUCE.stop
_SHAPE_END = SHAPE.stop
_LINALG_END = LINALG.stop
_JOIN_END = JOIN.stop
_SOURCE_END = SOURCE.stop
_PYTHON_START = PYTHON.start
_SUM, _MEAN = SUM, MEAN
_VIEW, _TRANSPOSE = VIEW, TRANSPOSE
_GATHER, _INDEX = GATHER, INDEX

SAVES = np.zeros(N_CODES, np.int64)     # each op's ``saved`` bits
# Per arena and code, the row size from which the sweep leaves a row (with no broadcast input)
# to Python: ops with ``numpy_rows`` are differentiated by numpy there, other elementwise ops by
# their kernel in parts on several threads (``_parallel``; not with one core).
NEVER = np.full((2, N_CODES), np.iinfo(np.int64).max)
# ``SPARSE_FROM``: ``PYTHON_FROM`` (its first two rows, a view) and a third row: per code, the size
# of its output from which a gather of it hands its adjoint to the op's ``py_adjoint`` sparse
# (``Op.sparse_from``, ``_sparse_into``).  Only the plain backward passes the three rows; a sweep
# given ``PYTHON_FROM`` never stops for that.
SPARSE_FROM = np.full((3, N_CODES), np.iinfo(np.int64).max)
PYTHON_FROM = SPARSE_FROM[:2]
for _code, _op in REGISTRY.items():
    SAVES[_code] = _op.saved
    if _op.numpy_rows:
        PYTHON_FROM[:, _code] = NUMPY_ROWS
    elif (_code in UNARY or _code in BINARY) and CORES > 1:
        PYTHON_FROM[:, _code] = 2 * PART
    if _op.sparse_from:
        SPARSE_FROM[2, _code] = _op.sparse_from
GATHERS = (GATHER, INDEX)
__all__ = ["FREED", "MODIFIED", "NEVER", "PYTHON_FROM", "SPARSE_FROM", "GATHERS", "SAVES", "ADJOINTS", "FAMILY",
           "SCALAR", "SCALAR_FAMILY", "sweep_rows", "compile_for", "seeded_sweeps", "mark_unneeded", "free_rows"]


# Each family's adjoint for one row, all with one signature (``_lazy``): the row's own arena
# (``v``, ``g``), then the other one (casts write to it).  False: a code the family has no branch for.
# The family's kernel is written into its row kernel (numba inlines these aliases; the kernels
# themselves stay callable on their own), so that a row costs one call: each call between compiled
# functions costs reference counting on its array arguments, more than a small row's loop.
_inline = njit(error_model="numpy", inline="always")
_reduce, _shape, _linalg, _join, _catalogue_unary, _catalogue_binary, _special_unary, _special_binary = (
    _inline(k.py_func) for k in (reduce_adjoint, shape_adjoint, linalg_adjoint, join_adjoint,
                                 catalogue_unary_adjoint, catalogue_binary_adjoint, special_unary_adjoint,
                                 special_binary_adjoint))


@njit(cache=True, error_model="numpy")
def _catalogue_unary_row(R, F, stab, ix, v, g, vo, go, r):
    _catalogue_unary(R[R_OP, r], R[R_NUM, r], F[0, r], F[1, r], R[R_IA, r], v, g, R[R_OFF, R[R_A, r]],
                     R[R_OFF, r], vo, go)
    return True


@njit(cache=True, error_model="numpy")
def _catalogue_binary_row(R, F, stab, ix, v, g, vo, go, r):
    x = R[R_A, r]
    y = R[R_B, r]
    _catalogue_binary(R[R_OP, r], R[R_NUM, r], v, g, R[R_OFF, x], R[R_OFF, y], R[R_OFF, r], R[R_NUM, x],
                      R[R_NUM, y], R[R_RG, x], R[R_RG, y])
    return True


@njit(cache=True, error_model="numpy")
def _special_unary_row(R, F, stab, ix, v, g, vo, go, r):
    _special_unary(R[R_OP, r], R[R_NUM, r], F[0, r], F[1, r], R[R_IA, r], v, g, R[R_OFF, R[R_A, r]],
                   R[R_OFF, r], vo, go)
    return True


@njit(cache=True, error_model="numpy")
def _special_binary_row(R, F, stab, ix, v, g, vo, go, r):
    x = R[R_A, r]
    y = R[R_B, r]
    _special_binary(R[R_OP, r], R[R_NUM, r], v, g, R[R_OFF, x], R[R_OFF, y], R[R_OFF, r], R[R_NUM, x],
                    R[R_NUM, y], R[R_RG, x], R[R_RG, y])
    return True


@njit(cache=True, error_model="numpy")
def _reduce_row(R, F, stab, ix, v, g, vo, go, r):
    x = R[R_A, r]
    return _reduce(R[R_OP, r], v, g, R[R_OFF, x], R[R_OFF, r], stab, R[R_SHP, x], R[R_IA, r], R[R_NUM, x],
                   R[R_NUM, r])


@njit(cache=True, error_model="numpy")
def _one_reduce_row(R, F, stab, ix, v, g, vo, go, r):
    x = R[R_A, r]
    return one_adjoint(R[R_OP, r], g, R[R_OFF, x], R[R_OFF, r], R[R_NUM, x])


@njit(cache=True, error_model="numpy")
def _shape_row(R, F, stab, ix, v, g, vo, go, r):
    x = R[R_A, r]
    return _shape(R[R_OP, r], g, R[R_OFF, x], R[R_OFF, r], stab, ix, R[R_SHP, x], R[R_SHP, r], R[R_IA, r],
                  R[R_IB, r], R[R_NUM, x], R[R_NUM, r])


@njit(cache=True, error_model="numpy")
def _view_row(R, F, stab, ix, v, g, vo, go, r):
    x = R[R_A, r]
    view_adjoint(R[R_OP, r], g, R[R_OFF, x], R[R_OFF, r], stab, R[R_SHP, x], R[R_SHP, r], R[R_NUM, r])
    return True


@njit(cache=True, error_model="numpy")
def _linalg_row(R, F, stab, ix, v, g, vo, go, r):
    x = R[R_A, r]
    y = R[R_B, r]
    return _linalg(R[R_OP, r], v, g, R[R_OFF, x], R[R_OFF, y], R[R_OFF, r], stab, R[R_SHP, x], R[R_SHP, y],
                   R[R_IA, r], R[R_RG, x], R[R_RG, y])


@njit(cache=True, error_model="numpy")
def _join_row(R, F, stab, ix, v, g, vo, go, r):
    return _join(R[R_OP, r], R, ix, stab, v, g, r)


# The core elementwise ops' groups come first (``ops.elementwise.UNARY_GROUPS``); view and expand
# rows, the shape rows derivatives write most, have a kernel of their own, and so do the catalogue's
# elementwise ops (``CATALOGUE_UNARY``), the special functions among them (``ops/_specfun``),
# reductions to one element (a loss) and binary rows with a broadcast input (``broadcast_row``).
# The next three (``scalar_d``'s core, catalogue and special thirds) take one-element float64
# elementwise rows.  The last is no family: the check of a row's saved values
# (``check_saved``, ~1.4 s to compile), which only rows with flags on them or their inputs, listed
# inputs or outputs of their own need (a first backward through a loss usually has none), compiled
# when a sweep first needs it, at ``CHECK_SAVED``'s arena-0 address.
ADJOINTS = Families((*UNARY_ROWS, *BINARY_ROWS, _reduce_row, _shape_row, _linalg_row, _join_row,
                     _catalogue_unary_row, _catalogue_binary_row, _special_unary_row, _special_binary_row,
                     _view_row, _one_reduce_row, broadcast_row, core_scalar_d, catalogue_scalar_d, special_scalar_d,
                     check_saved))
SCALAR = ADJOINTS.kernels.index(core_scalar_d)
CHECK_SAVED = ADJOINTS.kernels.index(check_saved)
# Each elementwise code's family in ADJOINTS for a one-element row.
SCALAR_FAMILY = np.full(N_CODES, SCALAR, np.int64)
SCALAR_FAMILY[CATALOGUE_UNARY:UNARY.stop] = SCALAR_FAMILY[CATALOGUE_BINARY:BINARY.stop] = SCALAR + 1
SCALAR_FAMILY[SF.FIRST:SF.LAST + 1] = SCALAR_FAMILY[SF.FIRST_BINARY:SF.LAST_BINARY + 1] = SCALAR + 2
# Each code's family in ADJOINTS (the same in ``_record.VALUES``), -1 for none (sources, Python rows).
FAMILY = np.full(N_CODES, -1, np.int64)
for _family, _codes in enumerate((*UNARY_GROUPS, *BINARY_GROUPS)):
    FAMILY[list(_codes)] = _family
for _kernel, _codes in ((_reduce_row, REDUCE), (_shape_row, SHAPE), (_linalg_row, LINALG), (_join_row, JOIN)):
    FAMILY[_codes.start:_codes.stop] = ADJOINTS.kernels.index(_kernel)
FAMILY[[VIEW, EXPAND]] = ADJOINTS.kernels.index(_view_row)
FAMILY[CATALOGUE_UNARY:_UNARY_END] = ADJOINTS.kernels.index(_catalogue_unary_row)
FAMILY[CATALOGUE_BINARY:_BINARY_END] = ADJOINTS.kernels.index(_catalogue_binary_row)
FAMILY[SF.FIRST:SF.LAST + 1] = ADJOINTS.kernels.index(_special_unary_row)
FAMILY[SF.FIRST_BINARY:SF.LAST_BINARY + 1] = ADJOINTS.kernels.index(_special_binary_row)
# Each code's family for a row with one element: the scalar kernels (SCALAR and on) for elementwise
# ops, ``_one_reduce_row`` for sum and mean.
ONE_FAMILY = np.where(ONE_ELEMENT, SCALAR_FAMILY, FAMILY)
ONE_FAMILY[[SUM, MEAN]] = ADJOINTS.kernels.index(_one_reduce_row)
# Each code's family for a row with a broadcast input, -1 where it is FAMILY's.
BROADCAST_FAMILY = np.full(N_CODES, -1, np.int64)
BROADCAST_FAMILY[list(PRODUCTS + OTHER_BINARY)] = ADJOINTS.kernels.index(broadcast_row)


@njit(cache=True, error_model="numpy", inline="always")
def _stop(ctl, status, r):
    ctl[C_STATUS] = status
    ctl[C_ROW] = r


@njit(cache=True, error_model="numpy")
def _reach(R, seen, g64, g32, node):
    """Mark that a gradient reached ``node`` (one that needs one); the first time, zero its
    adjoint, which the kernels then add to.  Zeroing each adjoint when it is first reached, not
    the whole buffer up front, lets a backward reuse a buffer, touches only the adjoints it
    needs, and leaves each in cache for the kernel that adds to it."""
    if node >= 0 and R[R_RG, node] != 0 and not seen[node] & 1:
        seen[node] |= 1
        _zero(R, g64, g32, node)


@njit(cache=True, error_model="numpy")
def _zero(R, g64, g32, node):
    o = R[R_OFF, node]
    if R[R_DT, node] == 0:
        for i in range(o, o + R[R_NUM, node]):
            g64[i] = 0.0
    else:
        for i in range(o, o + R[R_NUM, node]):
            g32[i] = 0.0


@njit(cache=True, error_model="numpy")
def _sum_over_big(R, python_from, seen, r):
    """Whether row ``r``, a sum or mean of all of its input (a loss), is left to Python with the
    rows below it (``_blocks.big_rows``): its input is a big elementwise row that the sweep would
    leave to Python, which no gradient reached yet, so that the input's adjoint, a constant,
    is written block by block with them and never spread over the tape's buffer first."""
    x = R[R_A, r]
    if x < 0 or R[R_DT, x] != R[R_DT, r] or seen[x] & 3 != 0 or R[R_RG, x] == 0 or R[R_LN, x] != 0:
        return False
    n = R[R_NUM, x]
    xa = R[R_A, x]
    xb = R[R_B, x]
    return (n >= python_from[R[R_DT, x], R[R_OP, x]] and xa >= 0 and R[R_NUM, xa] == n
            and (xb < 0 or R[R_NUM, xb] == n))


@njit(cache=True, error_model="numpy")
def _sparse_into(R, python_from, seen, r):
    """Whether gather row ``r`` (GATHER/INDEX) is left to Python with its input's row, which then
    takes the gather's adjoint sparse (``SPARSE_FROM``): the input is a big row of such an op, with
    one output, needed and reached by no gradient yet, no flags on it or its input (freed, changed in
    place: the sweep's ``check_saved`` at its row then reports them), and no row between
    it and ``r`` reached by a gradient (one may add to its adjoint later; gradients only flow down,
    so rows between that no gradient reached by now never run)."""
    x = R[R_A, r]
    if python_from.shape[0] < 3 or x < 0 or R[R_LN, r] != 0 or seen[x] & 3 != 0 or R[R_NOUT, x] != 0:
        return False
    xa = R[R_A, x]
    if R[R_NUM, x] < python_from[2, R[R_OP, x]] or R[R_FR, x] != 0 or R[R_LN, x] != 0 or \
            (xa >= 0 and R[R_FR, xa] != 0):
        return False
    for q in range(x + 1, r):
        if seen[q] & 3 == 1:
            return False
    return True


@njit(cache=True, error_model="numpy")
def sweep_rows(R, F, stab, ix, saves, python_from, v64, g64, v32, g32, seen, ctl, fams):
    """Propagate adjoints from row ``ctl[C_START]`` down to row 0.

    ``seen`` holds bits per row: 1 reached by a gradient, 2 not needed (no input
    leads to a requested input: skipped, as PyTorch skips it), 4 executed.
    Reports in ``ctl`` (``_stops``): ST_DONE, or the row and why the sweep stopped
    there (a row for Python, a freed or modified row, a code no kernel knows, and in
    anomaly mode (``ctl[C_NAN]``) a row that gave an input a nan gradient).
    ``R`` and ``F`` hold the tape's integer and float columns; rows of code ``c`` in arena
    ``d`` with at least ``python_from[d, c]`` elements, whose inputs have as many (none
    broadcast), are left to Python too, as is a sum or mean of all of such a row (``_sum_over_big``),
    and, given ``SPARSE_FROM``'s third row, a gather whose input's row takes its adjoint sparse.
    ``fams``: the addresses of the family kernels
    (``ADJOINTS``); a row whose kernel is not compiled stops the sweep with ST_COMPILE.
    """
    op, dt, off, num, shp, a, b, ia, ib, rg = (R[R_OP], R[R_DT], R[R_OFF], R[R_NUM], R[R_SHP], R[R_A], R[R_B],
                                               R[R_IA], R[R_IB], R[R_RG])
    ln = R[R_LN]
    fr = R[R_FR]
    nout = R[R_NOUT]
    fa, fb = F[0], F[1]
    for r in range(ctl[C_START], -1, -1):
        if seen[r] & 3 != 1:
            continue
        code = op[r]
        if code < _SOURCE_END:
            if code == OUTPUT:
                seen[a[r]] |= 1         # its adjoint is a part of its row's: pass the mark on
            continue
        # check_saved only for a row with flags on it or its inputs, or with outputs of its own (else
        # it finds nothing): inlined, its array arguments cost atomic reference counts, several times
        # a one-element row
        if saves[code] != 0 and (fr[r] != 0 or ln[r] != 0 or nout[r] != 0 or (a[r] >= 0 and fr[a[r]] != 0)
                                 or (b[r] >= 0 and fr[b[r]] != 0)):
            if fams[CHECK_SAVED, 0] == 0:
                ctl[C_FAMILY] = CHECK_SAVED
                _stop(ctl, ST_COMPILE, r)
                return
            status = call4_int(fams[CHECK_SAVED, 0], R, ix, saves[code], r)
            if status != ST_DONE:
                _stop(ctl, status, r)
                return
        if code >= _PYTHON_START or (num[r] >= python_from[dt[r], code] and num[a[r]] == num[r]
                                     and (b[r] < 0 or num[b[r]] == num[r])) or \
                ((code == _SUM or code == _MEAN) and num[r] == 1 and _sum_over_big(R, python_from, seen, r)) or \
                ((code == _GATHER or code == _INDEX) and _sparse_into(R, python_from, seen, r)):
            _stop(ctl, ST_PYTHON, r)
            return
        # (a one-element float32 elementwise row takes its group's kernel, in float32 as PyTorch computes
        # it: the scalar kernels' float64 derivative differs where the float32 formula cancels)
        family = ONE_FAMILY[code] if num[r] == 1 and (dt[r] == 0 or ONE_FAMILY[code] < SCALAR) else FAMILY[code]
        if BROADCAST_FAMILY[code] >= 0 and (num[a[r]] != num[r] or num[b[r]] != num[r]):
            family = BROADCAST_FAMILY[code]
        scalar = family >= SCALAR
        if family < 0:
            _stop(ctl, ST_UNKNOWN, r)
            return
        if fams[family, dt[r]] == 0:
            ctl[C_FAMILY] = family
            _stop(ctl, ST_COMPILE, r)
            return
        seen[r] |= 4
        if ln[r]:
            for k in range(ln[r]):
                _reach(R, seen, g64, g32, input_at(R, ix, r, k))
        else:
            # _reach written out: its array arguments cost reference counting on every row.  A row that
            # adds one term to each element of an input (elementwise of its size, a sum or mean spreading
            # its adjoint, a view, a transpose) starts that adjoint at -0.0 (-0.0 + g is g bitwise): a
            # lone gradient of -0.0 stays -0.0, as PyTorch passes it on; the others start at +0.0, as
            # PyTorch's zeros that they add into.
            for xk in (a[r], b[r]):
                if xk >= 0 and rg[xk] != 0 and not seen[xk] & 1:
                    seen[xk] |= 1
                    lo = off[xk]
                    start = -0.0 if (code < _BINARY_END and num[xk] == num[r]) or code == _SUM or \
                        code == _MEAN or code == _VIEW or code == _TRANSPOSE else 0.0
                    if dt[xk] == 0:
                        for i in range(lo, lo + num[xk]):
                            g64[i] = start
                    else:
                        for i in range(lo, lo + num[xk]):
                            g32[i] = start
        for o in range(r + 1, r + 1 + nout[r]):
            if not seen[o] & 1:
                _zero(R, g64, g32, o)     # an output no gradient reached: its part of the row's adjoint
        # Each family is called with the row's own arena first.
        x = a[r]
        y = b[r]
        f64 = dt[r] == 0
        known = True
        if scalar:
            # One float64 element: derivatives on scalars (see scalar_d).
            unary = code < _UNARY_END
            ox = off[x]
            oy = off[x] if unary else off[y]
            o = off[r]
            dx, dy = call_pair(fams[family, 0], code, g64[o], v64[ox], v64[oy], v64[o], fa[r], fb[r])
            if rg[x] != 0:
                g64[ox] += dx
            if not unary and rg[y] != 0:
                g64[oy] += dy
        elif f64:
            known = call9(fams[family, 0], R, F, stab, ix, v64, g64, v32, g32, r)
        else:
            known = call9(fams[family, 1], R, F, stab, ix, v32, g32, v64, g64, r)
        if not known:
            _stop(ctl, ST_UNKNOWN, r)
            return
        if ctl[C_NAN] != 0:
            for k in range(max(ln[r], 2)):
                xk = input_at(R, ix, r, k)
                if xk < 0 or rg[xk] == 0 or not seen[xk] & 1:
                    continue
                lo = off[xk]
                bad = False
                if dt[xk] == 0:
                    for i in range(lo, lo + num[xk]):
                        bad |= g64[i] != g64[i]
                else:
                    for i in range(lo, lo + num[xk]):
                        bad |= g32[i] != g32[i]
                if bad:
                    _stop(ctl, ST_NAN, r)
                    return
    ctl[C_STATUS] = ST_DONE


@njit(cache=True, error_model="numpy")
def _seeded_sweeps(R, F, stab, ix, saves, never, v64, g64, v32, g32, seen, start, seed_dt, seed_off, seed_node,
                   in_node, in_dt, in_off, in_num, J, reached, ctl, fams):
    """One reverse sweep per seed, all in compiled code: row ``k`` of ``J`` gets the
    adjoints of the inputs (``in_*``: node, arena, offset, size) for a unit adjoint
    at output element ``k`` (``seed_*``), and ``reached[k, j]`` whether the sweep
    got to input ``j``.  Returns -1, or the seed whose sweep met a row that numba
    cannot run (a row for Python, or a freed/modified one; the report is in ``ctl``).
    ``never`` (``NEVER``): no row goes to Python for its size.
    """
    top64 = 0
    top32 = 0
    for r in range(start + 1):
        end = R[R_OFF, r] + R[R_NUM, r]
        if R[R_DT, r] == 0:
            top64 = max(top64, end)
        else:
            top32 = max(top32, end)
    for k in range(seed_off.shape[0]):
        g64[:top64] = 0.0
        g32[:top32] = 0.0
        for r in range(start + 1):
            seen[r] = seen[r] & 2
        if seed_dt[k] == 0:
            g64[seed_off[k]] = 1.0
        else:
            g32[seed_off[k]] = 1.0
        seen[seed_node[k]] |= 1
        ctl[C_START] = start
        sweep_rows(R, F, stab, ix, saves, never, v64, g64, v32, g32, seen, ctl, fams)
        if ctl[C_STATUS] != ST_DONE:
            return k
        col = 0
        for j in range(in_off.shape[0]):
            reached[k, j] = seen[in_node[j]] & 1
            for t in range(in_num[j]):
                J[k, col] = g64[in_off[j] + t] if in_dt[j] == 0 else g32[in_off[j] + t]
                col += 1
    return -1


def compile_for(R, F, stab, ix, v64, g64, v32, g32, ctl) -> None:
    """Compile the family kernel the sweep stopped for (ST_COMPILE), for its row's arena."""
    r = int(ctl[C_ROW])
    family = int(ctl[C_FAMILY])
    arena = int(R[R_DT, r])
    if family == CHECK_SAVED:
        ADJOINTS.compile(family, 0, (R, ix, SAVES[R[R_OP, r]], r))
        return
    if family >= SCALAR:
        args = (R[R_OP, r], 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)   # (code, gy, x, y, out, fa, fb)
    else:
        args = (R, F, stab, ix, *((v64, g64, v32, g32) if arena == 0 else (v32, g32, v64, g64)), r)
    ADJOINTS.compile(family, arena, args)


def seeded_sweeps(R, F, stab, ix, saves, never, v64, g64, v32, g32, seen, start, seed_dt, seed_off, seed_node,
                  in_node, in_dt, in_off, in_num, J, reached, ctl) -> int:
    """``_seeded_sweeps`` with the family kernels compiled as its rows need them (each time one
    was missing, the sweeps start again from the first seed)."""
    while True:
        k = _seeded_sweeps(R, F, stab, ix, saves, never, v64, g64, v32, g32, seen, start, seed_dt, seed_off,
                           seed_node, in_node, in_dt, in_off, in_num, J, reached, ctl, ADJOINTS.addresses)
        if k < 0 or ctl[C_STATUS] != ST_COMPILE:
            return k
        compile_for(R, F, stab, ix, v64, g64, v32, g32, ctl)


@njit(cache=True, error_model="numpy")
def mark_unneeded(R, ix, n, target, seen):
    """Set bit 2 of ``seen`` for rows none of whose inputs leads to a ``target`` row."""
    reach = np.zeros(n, np.uint8)
    for r in range(n):
        lead = False
        for k in range(max(R[R_LN, r], 2)):
            x = input_at(R, ix, r, k)
            if x >= 0 and reach[x] != 0:
                lead = True
        if not lead:
            seen[r] |= 2
        reach[r] = 1 if lead or target[r] != 0 else 0


@njit(cache=True, error_model="numpy")
def free_rows(fr, seen, op, a):
    """Set the FREED bit of every row a sweep ran (bit 4 of ``seen``); return whether each of the
    rows ``seen`` covers is now freed, a source or an output of a freed row (``Tape.spent``'s test,
    made in the same loop)."""
    whole = True
    for r in range(seen.shape[0]):
        if seen[r] & 4:
            fr[r] |= FREED
        elif not fr[r] & FREED and op[r] != INPUT and op[r] != CONST and not (op[r] == OUTPUT and fr[a[r]] & FREED):
            whole = False
    return whole

