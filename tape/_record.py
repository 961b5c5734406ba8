"""The recorded backward in numba: a reverse sweep that appends its own rows.

With ``create_graph=True`` every gradient must be a recorded tensor, so the
sweep writes the derivative of each row as new rows, on the tape being
recorded to (the destination; often the swept tape itself, above its last
row).  Which rows to write comes from the op's derivative program
(``_programs``): the sweep replays its instructions, computing each new row's
value with the family's forward kernel.  The adjoint of swept node ``i`` is a
destination node, ``gnode[i]``.

The sweep stops and reports (status in ``ctl``) instead of going on when a row
needs Python (a batched product, or an index list kept on another tape), when a
product is big enough for BLAS (Python computes that value, the sweep resumes at
the next instruction), when the destination needs more room (Python grows it
and the sweep resumes at the same row), and when a row was freed or modified in
place (Python raises PyTorch's error).

When the destination is another tape, swept nodes a program reads are copied
onto it as INPUT rows (listed in ``imports`` for Python to link back) and their
shapes entered in its shape table (``smap``).

The families' forward kernels are called by address and compiled on first use
(``_lazy``): rows whose kernel is not compiled yet are left without values
(``C_FWD_LO``, ``C_FWD_HI``), which ``record_sweep`` computes once it has it.

The sweep comes in two tiers (``recorder``).  ``record_rows`` and its helpers take ~15 s to
compile, once per machine (numba keeps them in its on-disk cache); until they are compiled or
cached, the recorded backwards of a process hand each row to Python (``rules_sweep``: the row's
rule run with tensor ops, as rows without a program always are), for at most ``RULES_ROWS`` swept
rows in all.  A first ``create_graph=True`` backward of a small graph then takes a second, not
the compile; a process that records more backward rows than that compiles the sweep.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, typeof
from numba.core.compiler_lock import global_compiler_lock

from . import _programs as P
from ._lazy import Families, call6
from ._stops import (C_FWD_HI, C_FWD_LO, C_NEED_ELEMS, C_NEED_ROWS, C_NEED_SLOTS, C_NEXT, C_RESUME, C_ROW, C_SAME,
                     C_SIZE, C_START, C_STATUS, C_VALUE_ROW, ST_COMPILE, ST_DONE, ST_FREED, ST_GROW, ST_MODIFIED,
                     ST_PYTHON, ST_UNKNOWN, ST_VALUE, T_32, T_64, T_IMPORTS, T_ROWS, T_STAB, check_saved)
from ._sweep import _BINARY_END, _LINALG_END, _SOURCE_END, _UNARY_END, FAMILY, SAVES
from ._sweep import _PYTHON_START
from .ops._spec import CONST, INPUT, LINALG, OUTPUT, R_A, R_B, R_DT, R_FR, R_HID, R_LN, R_NOUT, R_RG, ROLES
from .ops.elementwise import (BINARY_ROWS, UNARY_ROWS, catalogue_binary_forward, catalogue_unary_forward,
                              core_binary_forward, core_unary_forward, special_binary_forward,
                              special_unary_forward)
from .ops.join import join_forward
from .ops.linalg import linalg_forward, product_row
from .ops.reduction import reduce_forward_kernel
from .ops.shape import SHAPED_BY_ATTRIBUTES, attribute_shape, shape_forward, view_forward

__all__ = ["record_sweep", "rules_sweep", "recorder", "RULES_ROWS", "C_SIZE", "C_START", "C_RESUME", "C_STATUS", "C_ROW", "C_SAME", "C_NEED_ROWS",
           "C_NEED_ELEMS", "C_NEED_SLOTS", "C_NEXT", "C_VALUE_ROW", "T_ROWS", "T_64", "T_32", "T_STAB", "T_IMPORTS",
           "ST_DONE", "ST_PYTHON", "ST_FREED", "ST_MODIFIED", "ST_GROW", "ST_VALUE", "ST_UNKNOWN"]
_SPARE_ROWS = 9       # beyond a program's instructions: 3 imports, 2 sum-tos of 2 rows, 2 additions

_G, _X0, _X1, _Y, _NF = P.G, P.X0, P.X1, P.Y, P.N_FIXED
_A_LIT, _A_FA, _A_FB, _A_IA, _A_IB, _A_LOGFA = P.A_LIT, P.A_FA, P.A_FB, P.A_IA, P.A_IB, P.A_LOGFA
_S_X0, _S_X1, _S_Y, _S_KEEP, _S_COLUMN = P.S_X0, P.S_X1, P.S_Y, P.S_KEEP, P.S_COLUMN
_I_SUMTO, _I_CAST = P.I_SUMTO, P.I_CAST
# The rows this recorder writes by itself (``ops/_spec.Roles``): casts, accumulations, sum-tos.
_CAST, _ADD, _SUM, _SUM_IB, _VIEW, _VIEW_IA = ROLES.cast, ROLES.add, ROLES.sum, ROLES.sum_ib, ROLES.view, ROLES.view_ia
_EXPAND = ROLES.expand
_LINALG_START = LINALG.start
_V_NGUARD, _V_START, _V_LEN, _V_OUT0, _V_NEEDS = P.V_NGUARD, P.V_START, P.V_LEN, P.V_OUT0, P.V_NEEDS
# Frozen into the compiled code (numba treats global arrays as constants); the kernel
# cache is dropped whenever a rule or this file changes (``_kernel_cache``).
_VSTART, _VCOUNT, _VARIANT, _GUARD_KIND, _GUARD_VALUE = P.VSTART, P.VCOUNT, P.VARIANT, P.GUARD_KIND, P.GUARD_VALUE
_INS, _INSF, _SAVES = P.INS, P.INSF, SAVES


@njit(cache=True, error_model="numpy")
def find_shape(stab, top, shape):
    """Offset of ``shape`` in the shape table, entered at its end if new (room was checked)."""
    nd = shape.shape[0]
    s = 0
    stop = top[T_STAB]
    while s < stop:
        k = stab[s]
        if k == nd:
            same = True
            for i in range(nd):
                if stab[s + 1 + i] != shape[i]:
                    same = False
                    break
            if same:
                return s
        s += 1 + k
    stab[stop] = nd
    for i in range(nd):     # (loops, not array assignments: see ops.linalg._add_into)
        stab[stop + 1 + i] = shape[i]
    top[T_STAB] = stop + 1 + nd
    return stop


@njit(cache=True, error_model="numpy")
def _broadcast_shape(stab, top, sa, sb):
    """The shape two operands broadcast to (right-aligned)."""
    na = stab[sa]
    nb = stab[sb]
    nd = max(na, nb)
    out = np.ones(nd, np.int64)
    for i in range(nd):
        da = stab[sa + 1 + i - (nd - na)] if i >= nd - na else 1
        db = stab[sb + 1 + i - (nd - nb)] if i >= nd - nb else 1
        out[i] = db if da == 1 else da      # (not max: a size-0 dim broadcasts against 1 to 0)
    return find_shape(stab, top, out)


@njit(cache=True, error_model="numpy")
def _is_suffix(stab, s, out):
    """Whether shape ``s`` broadcasts to shape ``out`` along leading dims only."""
    ns, no = stab[s], stab[out]
    k = 0
    while k < ns and stab[s + 1 + k] == 1:
        k += 1
    if ns - k > no:
        return False
    for i in range(k, ns):
        if stab[s + 1 + i] != stab[out + 1 + no - ns + i]:
            return False
    return True


@njit(cache=True, error_model="numpy")
def _expand_to(R, F, stab, top, a, sid):
    """A hidden EXPAND row of node ``a`` to shape ``sid`` (grad_fn views skip it, as eager's)."""
    out = _append(R, F, stab, top, _EXPAND, R[R_DT, a], sid, a, -1, 0, 0, 0.0, 0.0, R[R_RG, a])
    R[R_HID, out] = 1
    return out


@njit(cache=True, error_model="numpy")
def _numel(stab, s):
    n = 1
    for i in range(stab[s]):
        n *= stab[s + 1 + i]
    return n


@njit(cache=True, error_model="numpy", inline="always")
def _append(R, F, stab, top, code, dt, sid, a, b, ia, ib, fa, fb, rg):
    """Write one row (its value is left to the caller) and return its node."""
    # One compiled _append_row for every call site (a constant argument is a type of its own,
    # for which numba would compile the function again).
    return _append_row(R, F, stab, top, np.int64(code), np.int64(dt), np.int64(sid), np.int64(a), np.int64(b),
                       np.int64(ia), np.int64(ib), np.float64(fa), np.float64(fb), np.int64(rg))


@njit(cache=True, error_model="numpy")
def _append_row(R, F, stab, top, code, dt, sid, a, b, ia, ib, fa, fb, rg):
    r = top[T_ROWS]
    top[T_ROWS] = r + 1
    num = _numel(stab, sid)
    if dt == 0:
        off = top[T_64]
        top[T_64] = off + num
    else:
        off = top[T_32]
        top[T_32] = off + num
    R[0, r] = code
    R[1, r] = dt
    R[2, r] = off
    R[3, r] = num
    R[4, r] = sid
    R[5, r] = a
    R[6, r] = b
    R[7, r] = ia
    R[8, r] = ib
    R[9, r] = rg
    R[10, r] = 0
    R[11, r] = 0
    F[0, r] = fa
    F[1, r] = fb
    return r


# Each family's forward for one row, all with one signature (``_lazy``): the row's arena ``v``.
# False: a code the family has no branch for.  The family's kernel is inlined (as in ``_sweep``).
_inline = njit(error_model="numpy", inline="always")
(_unary, _binary, _reduce, _shape, _linalg, _join, _catalogue_unary, _catalogue_binary, _special_unary,
 _special_binary) = (
    _inline(k.py_func) for k in (core_unary_forward, core_binary_forward, reduce_forward_kernel, shape_forward,
                                 linalg_forward, join_forward, catalogue_unary_forward, catalogue_binary_forward,
                                 special_unary_forward, special_binary_forward))


@njit(cache=True, error_model="numpy")
def _unary_value(R, F, stab, ix, v, r):
    _unary(R[0, r], R[3, r], F[0, r], F[1, r], R[7, r], v, R[2, R[5, r]], R[2, r])
    return True


@njit(cache=True, error_model="numpy")
def _binary_value(R, F, stab, ix, v, r):
    x = R[5, r]
    y = R[6, r]
    _binary(R[0, r], R[3, r], v, R[2, x], R[2, y], R[2, r], R[3, x], R[3, y])
    return True


@njit(cache=True, error_model="numpy")
def _catalogue_unary_value(R, F, stab, ix, v, r):
    _catalogue_unary(R[0, r], R[3, r], F[0, r], F[1, r], R[7, r], v, R[2, R[5, r]], R[2, r])
    return True


@njit(cache=True, error_model="numpy")
def _catalogue_binary_value(R, F, stab, ix, v, r):
    x = R[5, r]
    y = R[6, r]
    _catalogue_binary(R[0, r], R[3, r], v, R[2, x], R[2, y], R[2, r], R[3, x], R[3, y])
    return True


@njit(cache=True, error_model="numpy")
def _special_unary_value(R, F, stab, ix, v, r):
    _special_unary(R[0, r], R[3, r], F[0, r], F[1, r], R[7, r], v, R[2, R[5, r]], R[2, r])
    return True


@njit(cache=True, error_model="numpy")
def _special_binary_value(R, F, stab, ix, v, r):
    x = R[5, r]
    y = R[6, r]
    _special_binary(R[0, r], R[3, r], v, R[2, x], R[2, y], R[2, r], R[3, x], R[3, y])
    return True


@njit(cache=True, error_model="numpy")
def _reduce_value(R, F, stab, ix, v, r):
    x = R[5, r]
    _reduce(R[0, r], v, R[2, x], R[2, r], stab, R[4, x], R[7, r], R[3, x], R[3, r])
    return True


@njit(cache=True, error_model="numpy")
def _shape_value(R, F, stab, ix, v, r):
    x = R[5, r]
    _shape(R[0, r], v, R[2, x], R[2, r], stab, ix, R[4, x], R[4, r], R[7, r], R[8, r], R[3, x], R[3, r])
    return True


@njit(cache=True, error_model="numpy")
def _linalg_value(R, F, stab, ix, v, r):
    return _linalg(R[0, r], R, stab, v, r)


@njit(cache=True, error_model="numpy")
def _join_value(R, F, stab, ix, v, r):
    _join(R[0, r], R, ix, stab, v, r)
    return True


@njit(cache=True, error_model="numpy")
def _view_value(R, F, stab, ix, v, r):
    x = R[5, r]
    view_forward(R[0, r], v, R[2, x], R[2, r], stab, R[4, x], R[4, r], R[3, r])
    return True


# (a value kernel for each family ``FAMILY`` names: the core ops' groups share one)
VALUES = Families(((_unary_value,) * len(UNARY_ROWS) + (_binary_value,) * len(BINARY_ROWS)
                   + (_reduce_value, _shape_value, _linalg_value, _join_value, _catalogue_unary_value,
                      _catalogue_binary_value, _special_unary_value, _special_binary_value, _view_value)))


def row_value(tape, r: int) -> None:
    """Compute row ``r``'s value into its arena slot (its inputs there) with its family's kernel,
    the very compiled function a trace's replay calls for it (the one ``VALUES`` holds the address of)."""
    arena = int(tape.dt[r])
    VALUES.kernels[FAMILY[tape.op[r]]](tape.R, tape.F, tape.stab, tape.ix, tape.v64 if arena == 0 else tape.v32, r)


@njit(cache=True, error_model="numpy")
def _forward(R, F, stab, ix, v64, v32, r, fams):
    """Compute the value of row ``r`` (inputs already on the same tape); False if its family's
    kernel is not compiled for its arena (``fams``: the addresses of ``VALUES``)."""
    code = R[0, r]
    x = R[5, r]
    f64 = R[1, r] == 0
    n = R[3, r]
    if code == _CAST:
        if f64:
            for i in range(n):
                v64[R[2, r] + i] = v32[R[2, x] + i]
        else:
            for i in range(n):
                v32[R[2, r] + i] = v64[R[2, x] + i]
        return True
    if code == _VIEW or (code == _EXPAND and R[3, x] == 1):
        # A view (a copy) or an expand of one element (a fill: the seed of a loss's gradient), with
        # ``view_forward``'s values (-0.0 + t is t), here: a first recorded backward through a loss
        # then compiles no general broadcast (~0.7 s).
        step = 1 if code == _VIEW else 0
        if f64:
            for i in range(n):
                v64[R[2, r] + i] = v64[R[2, x] + i * step]
        else:
            for i in range(n):
                v32[R[2, r] + i] = v32[R[2, x] + i * step]
        return True
    family = FAMILY[code]
    if family < 0:
        _unknown(R, v64, v32, r)
        return True
    address = fams[family, R[1, r]]
    if address == 0:
        return False
    known = call6(address, R, F, stab, ix, v64, r) if f64 else call6(address, R, F, stab, ix, v32, r)
    if not known:
        _unknown(R, v64, v32, r)
    return True


@njit(cache=True, error_model="numpy")
def _unknown(R, v64, v32, r):
    """A code without a forward branch: its value is an error value (nan), never a plausible number."""
    for i in range(R[3, r]):
        if R[1, r] == 0:
            v64[R[2, r] + i] = np.nan
        else:
            v32[R[2, r] + i] = np.nan


@njit(cache=True, error_model="numpy")
def _forward_rows(R, F, stab, ix, v64, v32, lo, hi, fams):
    """Compute the values of the rows appended from ``lo`` to ``hi`` (imports were copied as
    they were made; a BLAS product is left to Python).  One call site for all the forward
    kernels keeps the compiled sweep small.  Returns -1, or the first row whose family kernel
    is not compiled yet (its value and those after it are left)."""
    for r in range(lo, hi):
        code = R[0, r]
        if code >= _SOURCE_END and code < _PYTHON_START:     # (Python computes the others)
            if not _forward(R, F, stab, ix, v64, v32, r, fams):
                return r
    return -1


@njit(cache=True, error_model="numpy")
def _dsid(tstab, dstab, top, smap, s):
    """The destination's shape id for the swept tape's shape ``s``."""
    if top[C_SAME]:
        return s
    d = smap[s]
    if d < 0:
        d = find_shape(dstab, top, tstab[s + 1:s + 1 + tstab[s]].copy())
        smap[s] = d
    return d


@njit(cache=True, error_model="numpy")
def _import(TR, tstab, tv64, tv32, DR, DF, dstab, dv64, dv32, top, ref, smap, imports, node):
    """The destination node standing for swept node ``node`` (copied over on first use)."""
    if top[C_SAME]:
        return node
    d = ref[node]
    if d >= 0:
        return d
    rg = TR[9, node]
    dt = TR[1, node]
    sid = _dsid(tstab, dstab, top, smap, TR[4, node])
    d = _append(DR, DF, dstab, top, INPUT if rg else CONST, dt, sid, -1, -1, 0, 0, 0.0, 0.0, rg)
    o = TR[2, node]
    n = TR[3, node]
    od = DR[2, d]
    for i in range(n):
        if dt == 0:
            dv64[od + i] = tv64[o + i]
        else:
            dv32[od + i] = tv32[o + i]
    if rg:
        k = top[T_IMPORTS]
        imports[k, 0] = d
        imports[k, 1] = node
        top[T_IMPORTS] = k + 1
    ref[node] = d
    return d


@njit(cache=True, error_model="numpy")
def _sum_to(DR, DF, stab, top, a, target):
    """``a._sum_to(shape target)``: a keepdim SUM over the broadcast dims and a VIEW, as the rule's
    Python form records them; nothing when the shapes already agree."""
    sa = DR[4, a]
    if sa == target:
        return a
    nd = stab[sa]
    nt = stab[target]
    lead = nd - nt
    mask = 0
    keep = stab[sa + 1:sa + 1 + nd].copy()
    for d in range(nd):
        if d < lead or (stab[target + 1 + d - lead] == 1 and keep[d] != 1):
            mask |= 1 << d
            keep[d] = 1
    out = a
    if mask:
        sk = find_shape(stab, top, keep)
        out = _append(DR, DF, stab, top, _SUM, DR[1, a], sk, a, -1, mask, _SUM_IB,
                    0.0, 0.0, DR[9, a])
    return _append(DR, DF, stab, top, _VIEW, DR[1, a], target, out, -1, _VIEW_IA, 0, 0.0, 0.0, DR[9, out])


@njit(cache=True, error_model="numpy")
def _variant(code, TR, TF, r):
    """The program variant whose guards hold for row ``r``, or -1."""
    vstart, vcount, variant, gkind, gvalue = _VSTART, _VCOUNT, _VARIANT, _GUARD_KIND, _GUARD_VALUE
    for v in range(vstart[code], vstart[code] + vcount[code]):
        ok = True
        for j in range(variant[v, _V_NGUARD]):
            kind = gkind[v, j, 0]
            if kind == _A_FA:
                val = TF[0, r]
            elif kind == _A_FB:
                val = TF[1, r]
            elif kind == _A_IA:
                val = float(TR[7, r])
            else:
                val = float(TR[8, r])
            if (val == gvalue[v, j]) != (gkind[v, j, 1] == 1):
                ok = False
                break
        if ok:
            return v
    return -1


@njit(cache=True, error_model="numpy")
def _number(kind, m, c, TR, TF, tstab, r):
    if kind == _A_LIT:
        return c
    if kind == _A_FA:
        return m * TF[0, r] + c
    if kind == _A_FB:
        return m * TF[1, r] + c
    if kind == _A_IA:
        return m * TR[7, r] + c
    if kind == _A_IB:
        return m * TR[8, r] + c
    if kind == _A_LOGFA:
        return m * math.log(TF[0, r]) + c
    # A_COUNT: input elements per output element of a reduction.
    x = TR[5, r]
    s = TR[4, x]
    n = 1
    for d in range(tstab[s]):
        if TR[7, r] >> d & 1:
            n *= tstab[s + 1 + d]
    return m * n + c


@njit(cache=True, error_model="numpy")
def _integer(kind, value, TR, r):
    if kind == _A_IA:
        return TR[7, r]
    if kind == _A_IB:
        return TR[8, r]
    return value


@njit(cache=True, error_model="numpy")
def _prepare(TR, TF, tstab, tix, seen, r, DR, dstab, dv64, dv32, top):
    """Checks before row ``r`` writes its derivative: its program variant, or -1 to skip
    the row, or -2 to stop with the status set in ``top``."""
    variant = _VARIANT
    code = TR[0, r]
    if seen[r] & 3 != 1:
        return -1
    if code < _SOURCE_END:
        if code == OUTPUT:
            seen[TR[R_A, r]] |= 1       # its row's rule reads the outputs' adjoints (``_python_rule``)
        return -1
    x = TR[5, r]
    y = TR[6, r]
    top[C_ROW] = r
    status = check_saved(TR, tix, _SAVES[code], r)
    if status != ST_DONE:
        top[C_STATUS] = status
        return -2
    if TR[R_LN, r] != 0 or TR[R_NOUT, r] != 0:
        # Rows with listed inputs or several outputs run their rule in Python.
        top[C_STATUS] = ST_PYTHON
        return -2
    v = _variant(code, TR, TF, r)
    shp = TR[4]
    nd = max(tstab[shp[r]], tstab[shp[x]], tstab[shp[y]] if y >= 0 else 0)
    needs = variant[v, _V_NEEDS] if v >= 0 else 0
    if (v < 0 or variant[v, _V_START] < 0 or (needs & P.NEEDS_MATMUL and nd > 2)
            or (needs & P.NEEDS_INDEX and not top[C_SAME])):
        # No program; or batched products (compiled code does 1-D/2-D); or an index list that
        # lives on the swept tape only: Python runs the rule.
        top[C_STATUS] = ST_PYTHON
        return -2
    # Room for the worst case of this row, so that no write below can run out.
    rows = variant[v, _V_LEN] + _SPARE_ROWS
    for i in range(variant[v, _V_START], variant[v, _V_START] + variant[v, _V_LEN]):
        if _INS[i, P.C_CODE] >= _UNARY_END and _INS[i, P.C_CODE] < _BINARY_END:
            rows += 2       # room for the expansion of both operands
    num = TR[3]
    big = max(num[r], num[x], num[y] if y >= 0 else 0)
    if (top[T_ROWS] + rows > DR.shape[1] or top[T_64] + rows * big > dv64.shape[0]
            or top[T_32] + rows * big > dv32.shape[0] or top[T_STAB] + rows * (nd + 1) > dstab.shape[0]):
        top[C_STATUS] = ST_GROW
        top[C_NEED_ROWS] = rows
        top[C_NEED_ELEMS] = rows * big
        top[C_NEED_SLOTS] = rows * (nd + 1)
        return -2
    seen[r] |= 4
    return v


@njit(cache=True, error_model="numpy")
def _shape_of(spec, TR, tstab, dstab, top, smap, r, sa):
    """The destination shape id an instruction's shape source names."""
    x = TR[5, r]
    if spec == _S_X0:
        return _dsid(tstab, dstab, top, smap, TR[4, x])
    if spec == _S_X1:
        return _dsid(tstab, dstab, top, smap, TR[4, TR[6, r]])
    if spec == _S_Y:
        return _dsid(tstab, dstab, top, smap, TR[4, r])
    if spec == _S_KEEP:
        sx = TR[4, x]
        keep = tstab[sx + 1:sx + 1 + tstab[sx]].copy()
        for d in range(keep.shape[0]):
            if TR[7, r] >> d & 1:
                keep[d] = 1
        return find_shape(dstab, top, keep)
    flat = np.ones(2, np.int64)         # S_COLUMN / S_ROW
    flat[0 if spec == _S_COLUMN else 1] = _numel(dstab, sa)
    return find_shape(dstab, top, flat)


@njit(cache=True, error_model="numpy")
def record_rows(TR, TF, tstab, tix, tv64, tv32, seen, gnode, DR, DF, dstab, dix, dv64, dv32, ref, smap, imports,
                regs, top, fams):
    """Write the derivative rows of rows ``top[C_START]`` down to 0 onto the destination tape.

    ``seen`` bits as in ``sweep``.  On return ``top`` holds the status (ST_*) and
    row; for ST_GROW the room to make; for ST_VALUE the instruction to resume
    at (with ``regs`` kept) and the destination row whose value Python computes
    (a product for BLAS); for ST_COMPILE, row ``C_ROW`` is done but for the values of the
    destination rows ``C_FWD_LO`` to ``C_FWD_HI``, whose family kernel (``fams``) is not compiled
    (these may also be left before an ST_VALUE).  The program tables are compile-time constants.
    """
    variant, ins, insf = _VARIANT, _INS, _INSF
    start = top[C_START]
    resume = top[C_RESUME]
    dt, shp, a, b, rgs = TR[1], TR[4], TR[5], TR[6], TR[9]
    for r in range(start, -1, -1):
        x = a[r]
        y = b[r]
        if r == start and resume >= 0:
            v = _variant(TR[0, r], TR, TF, r)
            k0 = resume
        else:
            v = _prepare(TR, TF, tstab, tix, seen, r, DR, dstab, dv64, dv32, top)
            if v == -1:
                continue
            if v < -1:
                return
            regs[_G] = gnode[r]
            regs[_X0] = -1
            regs[_X1] = -1
            regs[_Y] = -1
            k0 = 0
        need = (1 if rgs[x] != 0 else 0) | (2 if y >= 0 and rgs[y] != 0 else 0)
        new_rows = top[T_ROWS]          # rows appended from here on get their values below
        first = variant[v, _V_START]
        for k in range(k0, variant[v, _V_LEN]):
            i = first + k
            j = _NF + k
            regs[j] = -1
            if not ins[i, P.C_DEPS] & need:
                continue
            c = ins[i, P.C_CODE]
            ra = ins[i, P.C_A]
            rb = ins[i, P.C_B]
            if regs[ra] < 0:
                regs[ra] = _import(TR, tstab, tv64, tv32, DR, DF, dstab, dv64, dv32, top, ref, smap, imports,
                                   x if ra == _X0 else (y if ra == _X1 else r))
            na = regs[ra]
            nb = -1
            if rb >= 0 and c != _I_CAST:
                if regs[rb] < 0:
                    regs[rb] = _import(TR, tstab, tv64, tv32, DR, DF, dstab, dv64, dv32, top, ref, smap, imports,
                                       x if rb == _X0 else (y if rb == _X1 else r))
                nb = regs[rb]
            fa = _number(ins[i, P.C_FA], insf[i, P.F_FAM], insf[i, P.F_FAC], TR, TF, tstab, r)
            fb = _number(ins[i, P.C_FB], insf[i, P.F_FBM], insf[i, P.F_FBC], TR, TF, tstab, r)
            ia = _integer(ins[i, P.C_IA], ins[i, P.C_IAV], TR, r)
            ib = _integer(ins[i, P.C_IB], ins[i, P.C_IBV], TR, r)
            adt = DR[1, na]
            rg = DR[9, na] if nb < 0 else (DR[9, na] | DR[9, nb])
            if ins[i, P.C_CONST]:
                rg = 0
            spec = ins[i, P.C_SHAPE]
            sid = DR[4, na] if spec < 0 else _shape_of(spec, TR, tstab, dstab, top, smap, r, DR[4, na])
            if c == _I_CAST:
                to = dt[x] if rb == _X0 else (dt[y] if rb == _X1 else (dt[r] if rb == _Y else DR[1, regs[rb]]))
                out = na if to == adt else _append(DR, DF, dstab, top, _CAST, to, sid, na, -1, 0, 0,
                                                   0.0, 0.0, DR[9, na])
            elif c == _I_SUMTO:
                out = _sum_to(DR, DF, dstab, top, na, sid)
            elif c >= _LINALG_START and c < _LINALG_END:
                code, ia, shape = product_row(dstab, DR[4, na], DR[4, nb], DR[3, na])
                sid = find_shape(dstab, top, shape)
                out = _append(DR, DF, dstab, top, code, adt, sid, na, nb, ia, 0, 0.0, 0.0, rg)
                if code >= _PYTHON_START:
                    # Too big for compiled loops (BLAS): Python computes this value, the sweep resumes.
                    q = _forward_rows(DR, DF, dstab, dix, dv64, dv32, new_rows, out, fams)
                    if q >= 0:
                        top[C_FWD_LO] = q
                        top[C_FWD_HI] = out
                    regs[j] = out
                    top[C_STATUS] = ST_VALUE
                    top[C_ROW] = r
                    top[C_NEXT] = k + 1
                    top[C_VALUE_ROW] = out
                    return
            else:
                if c >= _UNARY_END and c < _BINARY_END and DR[4, nb] != sid:
                    sid = _broadcast_shape(dstab, top, sid, DR[4, nb])
                    # Binary kernels read an operand modulo its size: one broadcast along other
                    # dims than the leading ones (``g.reshape(-1, 1) * b``) is expanded first,
                    # as eager's ``node_in`` does.
                    if not _is_suffix(dstab, DR[4, na], sid):
                        na = _expand_to(DR, DF, dstab, top, na, sid)
                    if not _is_suffix(dstab, DR[4, nb], sid):
                        nb = _expand_to(DR, DF, dstab, top, nb, sid)
                elif SHAPED_BY_ATTRIBUTES[c]:
                    shape, ia, ib = attribute_shape(c, dstab, DR[4, na], ia, ib)
                    sid = find_shape(dstab, top, shape)
                out = _append(DR, DF, dstab, top, c, adt, sid, na, nb, ia, ib, fa, fb, rg)
            regs[j] = out
        for q in range(2):
            inp = x if q == 0 else y
            ref_q = variant[v, _V_OUT0 + q]
            if not need >> q & 1 or ref_q < 0:
                continue
            if regs[ref_q] < 0:
                regs[ref_q] = _import(TR, tstab, tv64, tv32, DR, DF, dstab, dv64, dv32, top, ref, smap, imports,
                                      x if ref_q == _X0 else (y if ref_q == _X1 else r))
            g = _sum_to(DR, DF, dstab, top, regs[ref_q], _dsid(tstab, dstab, top, smap, shp[inp]))
            prev = gnode[inp]
            if prev >= 0:
                g = _append(DR, DF, dstab, top, _ADD, DR[1, g], DR[4, g], prev, g, 0, 0, 0.0, 0.0,
                            DR[9, prev] | DR[9, g])
            gnode[inp] = g
            seen[inp] |= 1
        q = _forward_rows(DR, DF, dstab, dix, dv64, dv32, new_rows, top[T_ROWS], fams)
        if q >= 0:
            top[C_FWD_LO] = q
            top[C_FWD_HI] = top[T_ROWS]
            top[C_STATUS] = ST_COMPILE
            top[C_ROW] = r
            return
    top[C_STATUS] = ST_DONE


def _finish_values(DR, DF, dstab, dix, dv64, dv32, top) -> None:
    """Compute the values ``record_rows`` left (``C_FWD_LO`` to ``C_FWD_HI``), compiling the
    family kernels they need."""
    lo, hi = int(top[C_FWD_LO]), int(top[C_FWD_HI])
    while 0 <= lo < hi:
        arena = int(DR[1, lo])
        VALUES.compile(int(FAMILY[DR[0, lo]]), arena, (DR, DF, dstab, dix, dv64 if arena == 0 else dv32, lo))
        lo = _forward_rows(DR, DF, dstab, dix, dv64, dv32, lo, hi, VALUES.addresses)
    top[C_FWD_LO] = top[C_FWD_HI] = 0


def record_sweep(TR, TF, tstab, tix, tv64, tv32, seen, gnode, DR, DF, dstab, dix, dv64, dv32, ref, smap, imports,
                 regs, top) -> None:
    """``record_rows`` with the family forward kernels compiled as the rows it writes need them."""
    while True:
        record_rows(TR, TF, tstab, tix, tv64, tv32, seen, gnode, DR, DF, dstab, dix, dv64, dv32, ref, smap, imports,
                    regs, top, VALUES.addresses)
        if not top[C_FWD_HI]:       # (no values left, so no ST_COMPILE either: one check on the way out)
            return
        _finish_values(DR, DF, dstab, dix, dv64, dv32, top)
        if top[C_STATUS] != ST_COMPILE:
            return
        top[C_START] = top[C_ROW] - 1
        top[C_RESUME] = -1
        if top[C_START] < 0:
            top[C_STATUS] = ST_DONE
            return


def rules_sweep(TR, TF, tstab, tix, tv64, tv32, seen, gnode, DR, DF, dstab, dix, dv64, dv32, ref, smap, imports,
                regs, top) -> None:
    """``record_sweep``'s first tier, in Python: stop at each row that needs its derivative
    (``ST_PYTHON``: the driver runs its rule, as for a row without a program), after the compiled
    sweep's own checks (``_prepare``: a freed or changed value stops it with PyTorch's error);
    rows that need nothing are passed over as the compiled sweep passes them.  The check of saved
    values runs (and compiles) only for a row with flags on it or its inputs, listed inputs or
    outputs of its own, as in the plain sweep: on any other it finds nothing."""
    fr, a, b = TR[R_FR], TR[R_A], TR[R_B]
    for r in range(int(top[C_START]), -1, -1):
        if seen[r] & 3 != 1:
            continue
        code = int(TR[0, r])
        if code < _SOURCE_END:
            if code == OUTPUT:
                seen[a[r]] |= 1
            continue
        top[C_ROW] = r
        top[C_STATUS] = ST_PYTHON
        x, y = int(a[r]), int(b[r])
        if _SAVES[code] and (fr[r] or TR[R_LN, r] or TR[R_NOUT, r] or x >= 0 and fr[x] or y >= 0 and fr[y]):
            status = check_saved(TR, tix, _SAVES[code], r)
            if status != ST_DONE:
                top[C_STATUS] = status
        return
    top[C_STATUS] = ST_DONE


# Swept rows the first tier may still take in this process (tests set it to 0: the compiled sweep).
RULES_ROWS = 50_000


class _Tier:
    rows_left = RULES_ROWS
    compiled = False        # ``record_rows`` compiled in this process, or loaded from numba's cache


def recorder(n_rows: int, args: tuple):
    """The recording sweep for a tape of ``n_rows`` rows called with ``args`` (``record_sweep``'s):
    the compiled one once compiled or in numba's on-disk cache, else ``rules_sweep`` while this
    process's budget of rows lasts (``RULES_ROWS``), else the compiled one, compiled now."""
    if _Tier.compiled:
        return record_sweep
    if _cached(record_rows, args + (VALUES.addresses,)) or n_rows > _Tier.rows_left:
        _Tier.compiled = True
        return record_sweep
    _Tier.rows_left -= n_rows
    return rules_sweep


def _cached(kernel, args: tuple) -> bool:
    """Whether ``kernel`` is compiled for ``args`` or could be loaded for them from numba's
    on-disk cache (then it is loaded, as ``Dispatcher.compile`` loads it); True when numba's cache
    cannot be asked (the compiled tier, as before the tiers)."""
    signature = tuple(typeof(a) for a in args)
    if signature in kernel.overloads:
        return True
    load = getattr(getattr(kernel, "_cache", None), "load_overload", None)
    if load is None:
        return True
    with global_compiler_lock:
        cres = load(signature, kernel.targetctx)
        if cres is None:
            return False
        kernel.targetctx.insert_user_function(cres.entry_point, cres.fndesc, [cres.library])
        kernel.add_overload(cres)
    return True
