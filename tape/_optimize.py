"""A trace's tape made smaller before it is replayed: constants folded, common subexpressions
merged, dead rows dropped (``tape.trace(..., optimize=True)``, the default).

The result is a tape of the same format (rows renumbered; values, index lists and shapes at the
offsets they had), so every replay and sweep runs it as it would the recorded one:

- **folding**: a row whose inputs are all constants (CONST rows that are not parameters, read
  anew at each replay, or rows folded before it) becomes a CONST row holding its value;
- **merging**: a row that repeats an earlier one (same code, inputs, attributes, shape and
  dtype) is replaced by it in the rows that read it;
- **dropping**: a row that leads to no output, guard or Python-forward call is dropped.

Rows of a Python-forward call (``_pyforward``) are kept together and never folded or merged (the
call makes them all again), and neither are rows with several outputs or the trace's inputs.
Replayed values are those of the unoptimised tape, bitwise (the same kernels on the same
values; a folded row keeps the value the replay computed).  Gradients may differ in the last
bits where rows were merged: the merged row's adjoint is the sum of the copies', pushed back once.
"""
from __future__ import annotations

import copy

import numpy as np
from numba import njit

from ._replay import GUARD, PY_GUARD
from ._tape import _DEFAULTS, Tape
from .ops._spec import (CONST, OUTPUT, PYTHON, R_A, R_B, R_DT, R_FR, R_HID, R_IA, R_IB, R_LN, R_LO, R_NOUT, R_NUM,
                        R_OP, R_RG, R_SHP, SOURCE)


def _walk(a, fn):
    """``a`` (a call's argument spec) with each node object passed through ``fn``."""
    if type(a) in (list, tuple):
        return type(a)(_walk(x, fn) for x in a)
    return fn(a)


def optimize(var, node_kinds: tuple) -> tuple:
    """The variant ``var`` (``tape/_trace.py``'s ``_Variant``) on a smaller tape (a copy: ``var``
    is left as it is; None if nothing changes), and what was done.  ``node_kinds``: the classes of the argument specs that
    hold a ``node``."""
    tape = var.tape
    n = tape.n
    R, F = tape.R[:, :n].copy(), tape.F[:, :n].copy()
    op = R[R_OP]
    seg_of = np.full(n, -1, np.int64)
    segs = list(var.segments.values())
    for k, seg in enumerate(segs):
        seg_of[seg.start:seg.stop] = k
    params = {node for node, _ in var.params}
    multi = np.zeros(n, bool)
    for r in np.flatnonzero(R[R_NOUT] > 0).tolist():
        multi[r:r + 1 + int(R[R_NOUT, r])] = True

    # Folding, then merging, in one pass in order: ``rep[r]`` is the row that stands for ``r``.
    const = (op == CONST) & ~np.isin(np.arange(n), list(params))
    fixed = (op < SOURCE.stop) | (seg_of >= 0) | multi | (op >= PYTHON.start) | (R[R_FR] != 0)
    folded = _fold(R, F, tape.ix, n, fixed, const)
    rep, merged = _merge(R, F, n, ~fixed & (op != CONST) & (R[R_LN] == 0))

    # Dropping: what the outputs, guards and Python-forward calls need, back to the inputs.
    live = np.zeros(n, bool)
    for node in var.outs:
        if node >= 0:
            live[rep[node]] = True
    live[var.in_nodes] = True
    live[(op == GUARD) | (op == PY_GUARD)] = True

    def nodes_of(args, out: list) -> list:
        for a in args:
            _walk(a, lambda x: out.append(x.node) if isinstance(x, node_kinds) else None)
        return out

    for _, spec, kw, _ in var.checks.values():
        live[rep[nodes_of((*spec, *kw.values()), [])]] = True
    roots = [nodes_of((*seg.args, *seg.kwargs.values()), []) for seg in segs]
    ptr = np.cumsum([0] + [len(x) for x in roots]).astype(np.int64)
    _mark_live(R, tape.ix, n, rep, live, np.array([seg.start for seg in segs], np.int64),
               np.array([seg.stop for seg in segs], np.int64), seg_of, ptr,
               np.array([x for xs in roots for x in xs], np.int64))
    keep = np.flatnonzero(live & (rep == np.arange(n)))
    if keep.size == n and not folded:
        return None, _stats(tape, tape, 0, 0)          # (nothing to do: the tape as it is)
    new = np.full(n, -1, np.int64)
    new[keep] = np.arange(keep.size)
    new = new[rep]                      # (a merged row: its representative's)

    # The new tape: rows renumbered, everything else where it was.
    m = keep.size
    t = Tape(max(m, 1))
    Rn = np.repeat(_DEFAULTS, max(m, 1), axis=1)
    Rn[:, :m] = R[:, keep]
    for c in (R_A, R_B):
        col = Rn[c, :m]
        col[col >= 0] = new[col[col >= 0]]
    fr = Rn[R_FR, :m]
    cut = fr >> 2
    fr[:] = np.where(cut > 0, (fr & 3) | (np.searchsorted(keep, cut) << 2), fr)
    Fn = np.zeros((2, max(m, 1)))
    Fn[:, :m] = F[:, keep]
    t._columns(Rn, Fn)
    t._arena64(tape.v64[:max(tape.t64, 1)].copy())
    t.v32 = tape.v32[:max(tape.t32, 1)].copy()
    t.stab, t.stop = tape.stab.copy(), tape.stop
    t.shape_ids, t.shapes = dict(tape.shape_ids), dict(tape.shapes)
    t.ix, t.tix = tape.ix.copy(), tape.tix
    for r in np.flatnonzero(Rn[R_LN, :m]).tolist():
        lo, ln = int(Rn[R_LO, r]), int(Rn[R_LN, r])
        t.ix[lo:lo + ln] = new[t.ix[lo:lo + ln]]
    t.n, t.t64, t.t32 = m, tape.t64, tape.t32
    t.src = {int(new[k]): v for k, v in tape.src.items() if live[k] and rep[k] == k}
    t.csrc = {int(new[k]): v for k, v in tape.csrc.items() if live[k] and rep[k] == k}

    # The variant, renumbered.
    def renode(x):
        if isinstance(x, node_kinds):
            x = copy.copy(x)
            x.node = int(new[x.node])
        return x

    out = copy.copy(var)
    out.in_nodes = [int(new[x]) for x in var.in_nodes]
    out.outs = [int(new[x]) if x >= 0 else x for x in var.outs]
    out.params = [(int(new[node]), p) for node, p in var.params if live[node]]
    out.shapes = [(p._shape, p._dtype) for _, p in out.params]
    out.where = {int(new[r]): w for r, w in var.where.items() if live[r]}
    out.checks = {int(new[r]): (fn, tuple(_walk(a, renode) for a in spec), {k: _walk(v, renode)
                                                                            for k, v in kw.items()}, want)
                  for r, (fn, spec, kw, want) in var.checks.items()}
    out.segments = {}
    for first, seg in var.segments.items():
        if not live[first]:
            continue
        seg = copy.copy(seg)
        seg.args = tuple(_walk(a, renode) for a in seg.args)
        seg.kwargs = {k: _walk(v, renode) for k, v in seg.kwargs.items()}
        seg.own = frozenset(int(new[r]) for r in seg.own)
        seg.start, seg.stop = int(new[seg.start]), int(new[seg.stop - 1]) + 1
        out.segments[int(new[first])] = seg
    out.unneeded = {}
    out.ctl = var.ctl.copy()
    out.tape = t
    return out, _stats(tape, t, folded, merged)


def _stats(before: Tape, after: Tape, folded: int, merged: int) -> dict:
    return {"rows_before": before.n, "rows_after": after.n, "folded": folded, "merged": merged,
            "dropped": before.n - after.n - merged, "bytes_before": _memory(before), "bytes_after": _memory(after)}


def _memory(tape: Tape) -> int:
    """Bytes of the rows' values (OUTPUT rows share their row's)."""
    n = tape.n
    own = tape.op[:n] != OUTPUT
    nums = tape.num[:n][own]
    dts = tape.dt[:n][own]
    return int((nums * np.where(dts == 0, 8, 4)).sum())


@njit(cache=True, error_model="numpy")
def _fold(R, F, ix, n, fixed, const):
    """Make each row whose inputs are all constants (``const``, which grows) a CONST row holding its
    value; rows ``fixed`` (of calls, with several outputs, in the PYTHON range, changed in place)
    stay as they are.  Returns how many were folded."""
    folded = 0
    for r in range(n):
        if fixed[r] or R[R_OP, r] == CONST:
            continue
        ln = R[R_LN, r]
        count = 0
        constant = True
        if ln:
            for k in range(ln):
                count += 1
                constant = constant and const[ix[R[R_LO, r] + k]]
        else:
            for x in (R[R_A, r], R[R_B, r]):
                if x >= 0:
                    count += 1
                    constant = constant and const[x]
        if count and constant:
            R[R_OP, r] = CONST
            R[R_A, r] = -1
            R[R_B, r] = -1
            R[R_IA, r] = 0
            R[R_IB, r] = 0
            R[R_LN, r] = 0
            R[R_LO, r] = 0
            R[R_HID, r] = 0
            R[R_RG, r] = 0
            F[0, r] = 0.0
            F[1, r] = 0.0
            const[r] = True
            folded += 1
    return folded


_MIX = np.random.default_rng(16).integers(1, 2**63, 12, dtype=np.uint64) | np.uint64(1)    # (odd multipliers)


def _merge(R: np.ndarray, F: np.ndarray, n: int, eligible: np.ndarray) -> tuple:
    """``rep``: for each row, the first row with its code, attributes, shape, dtype and inputs (their
    ``rep``s), found in rounds until none changes (a merged row can make its readers repeats); and
    how many rows were merged.  Only the ``eligible`` rows (one or two inputs) take part."""
    rep = np.arange(n)
    rows = np.flatnonzero(eligible)
    if rows.size < 2:
        return rep, 0
    cols = [R[c, rows] for c in (R_OP, R_DT, R_NUM, R_SHP, R_IA, R_IB, R_HID, R_RG)]
    bits = F.view(np.int64)
    base = np.stack(cols + [bits[0, rows], bits[1, rows]], axis=1)
    a, b = R[R_A, rows], R[R_B, rows]
    while True:
        keys = np.concatenate([base, np.where(a >= 0, rep[np.maximum(a, 0)], a)[:, None],
                               np.where(b >= 0, rep[np.maximum(b, 0)], b)[:, None]], axis=1)
        # (a hash first: when no two rows share one, which is the common case, nothing repeats)
        h = (keys.astype(np.uint64) * _MIX[:keys.shape[1]]).sum(axis=1)
        if np.unique(h).size == h.size:
            return rep, int((rep != np.arange(n)).sum())
        _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        now = rows[first[inverse.reshape(-1)]]
        if np.array_equal(now, rep[rows]):
            return rep, int((rep != np.arange(n)).sum())
        rep[rows] = now


@njit(cache=True, error_model="numpy", inline="always")
def _mark_inputs(R, ix, rep, live, r):
    ln = R[R_LN, r]
    if ln:
        for k in range(ln):
            live[rep[ix[R[R_LO, r] + k]]] = True
    else:
        if R[R_A, r] >= 0:
            live[rep[R[R_A, r]]] = True
        if R[R_B, r] >= 0:
            live[rep[R[R_B, r]]] = True


@njit(cache=True, error_model="numpy")
def _mark_live(R, ix, n, rep, live, seg_start, seg_stop, seg_of, ptr, roots):
    """Mark live, back from the rows already marked, every row they read; a call's rows all
    together, with its arguments' rows (``roots[ptr[k]:ptr[k + 1]]`` for call ``k``)."""
    done = np.zeros(seg_start.shape[0], np.bool_)
    for r in range(n - 1, -1, -1):
        if not live[r] or rep[r] != r:
            continue
        k = seg_of[r]
        if k >= 0 and not done[k]:
            done[k] = True
            for q in range(seg_start[k], seg_stop[k]):
                live[q] = True
            for q in range(r + 1, seg_stop[k]):      # (passed over before the call was known to be live)
                _mark_inputs(R, ix, rep, live, q)
            for j in range(ptr[k], ptr[k + 1]):
                live[rep[roots[j]]] = True
        if R[R_NOUT, r]:
            for q in range(r + 1, r + 1 + R[R_NOUT, r]):
                live[q] = True
        _mark_inputs(R, ix, rep, live, r)
