"""How a compiled sweep stops, says why, and resumes: one protocol for every sweep.

A sweep reads where to start from a small int64 control array ``ctl`` and,
when it returns, has written a status (``ST_*``) and the row it concerns.
``ST_DONE`` ends the sweep; for every other status Python acts (runs the row,
grows the destination, computes a value with BLAS, raises PyTorch's error) and
calls the sweep again from the row, or from ``C_RESUME``'s instruction for the
recording sweep, whose registers are kept.  Hooks, anomaly mode and custom
Functions stop a sweep through the same door: a status and a row.

The check every sweep makes before running a row (were its saved values freed
or changed in place?) is here too, so that both sweeps raise the same errors.
"""
from __future__ import annotations

from numba import njit

from .ops._spec import (OUT, OUT_FIRST, OUTS, R_A, R_B, R_FR, R_LN, R_LO, R_NOUT, R_OP, R_RG, X2, X_REST,
                        input_saved)

# Statuses.  ST_UNKNOWN: a kernel's dispatch met a code it has no branch for
# (a registered op missing from its family's kernel): an error, never a zero.
# ST_NAN: anomaly mode, the row just run gave one of its inputs a gradient holding a nan.
# ST_COMPILE: the row's family kernel is not compiled yet for its arena (``_lazy``): Python
# compiles it and the sweep resumes at the row (the recording sweep's wrapper does it itself).
ST_DONE, ST_PYTHON, ST_FREED, ST_MODIFIED, ST_GROW, ST_VALUE, ST_UNKNOWN, ST_NAN, ST_COMPILE = range(9)

# ``ctl`` slots: where to start (row, and instruction when resuming), the recording
# destination's row count, arena tops, shape-table top and number of imports; then the
# report: status, row, room to make (rows, arena elements, shape-table slots), and for
# ST_VALUE the instruction to resume at and the row whose value Python computes.
# ``C_SAME``: the recording destination is the swept tape itself.  ``C_NAN``: check each row's
# input gradients for nan after running it (anomaly mode), stopping with ST_NAN.  ``C_FWD_LO``,
# ``C_FWD_HI``: destination rows the recording sweep left without values (a forward kernel not
# compiled yet), which its wrapper computes before anything else.  ``C_FAMILY``: for ST_COMPILE
# in the plain sweep, the family kernel to compile.
(C_START, C_RESUME, T_ROWS, T_64, T_32, T_STAB, T_IMPORTS, C_STATUS, C_ROW, C_NEED_ROWS, C_NEED_ELEMS,
 C_NEED_SLOTS, C_NEXT, C_VALUE_ROW, C_SAME, C_NAN, C_FWD_LO, C_FWD_HI, C_FAMILY, C_SIZE) = range(20)

FREED, MODIFIED = 1, 2      # bits of the ``fr`` column; above them, the row count when the
                            # value was last changed in place


@njit(cache=True, error_model="numpy", inline="always")
def input_at(R, ix, r, k):
    """Input ``k`` of row ``r`` (from its columns, or its list in ``ix``), or -1."""
    ln = R[R_LN, r]
    if ln:
        return ix[R[R_LO, r] + k] if k < ln else -1
    if k == 0:
        return R[R_A, r]
    return R[R_B, r] if k == 1 else -1


_input_saved = njit(cache=True, inline="always")(input_saved)


@njit(cache=True, error_model="numpy", inline="always")
def _stale(R, node, r):
    # A value counts as modified for the rows recorded before its change (fr >> 2).
    return node >= 0 and R[R_FR, node] & MODIFIED and r < R[R_FR, node] >> 2


@njit(cache=True, error_model="numpy")
def check_saved(R, ix, saved, r):
    """ST_DONE if row ``r``, whose op saves ``saved`` (its ``Op.saved`` bits), can run; ST_FREED
    if an earlier backward freed what it saved; ST_MODIFIED if a value it saved was changed in
    place since it was recorded.

    Reads ``R`` by element (a view of one of ``R``'s rows costs reference counting).  Not
    inlined: the sweeps call it only for rows with flags (a call costs reference counts on its
    array arguments), and one compiled copy serves them all (inlined, each sweep's first compile
    paid for it again: ~0.5 s each).  The plain sweep calls it by address (``_sweep.CHECK_SAVED``),
    compiled when a row first needs it: a first backward through a loss seldom does."""
    if saved == 0:
        return ST_DONE
    if R[R_FR, r] & FREED:
        return ST_FREED
    x = input_at(R, ix, r, 0)
    y = input_at(R, ix, r, 1)
    z = input_at(R, ix, r, 2) if saved & X2 else -1
    gx = 1 if x >= 0 and R[R_RG, x] != 0 else 0
    gy = 1 if y >= 0 and R[R_RG, y] != 0 else 0
    gz = 1 if z >= 0 and R[R_RG, z] != 0 else 0
    # (an input is saved only for the derivatives that need it: ``saved_when``)
    if (_input_saved(saved, 0, gx, gy, gz) and _stale(R, x, r)) or (
            _input_saved(saved, 1, gx, gy, gz) and _stale(R, y, r)) or (saved & OUT and _stale(R, r, r)):
        return ST_MODIFIED
    if _input_saved(saved, 2, gx, gy, gz) and _stale(R, z, r):
        return ST_MODIFIED
    if saved & X_REST:
        for k in range(3, R[R_LN, r]):
            if _stale(R, ix[R[R_LO, r] + k], r):
                return ST_MODIFIED
    if saved & (OUTS | OUT_FIRST):
        for k in range(R[R_NOUT, r] if saved & OUTS else 1):
            if _stale(R, r + 1 + k, r):
                return ST_MODIFIED
    return ST_DONE

