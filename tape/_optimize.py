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
    is left as it is), and what was done.  ``node_kinds``: the classes of the argument specs that
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

    def inputs(r: int) -> list:
        ln = int(R[R_LN, r])
        if ln:
            lo = int(R[R_LO, r])
            return tape.ix[lo:lo + ln].tolist()
        return [int(x) for x in (R[R_A, r], R[R_B, r]) if x >= 0]

    # Folding, then merging, in one pass in order: ``rep[r]`` is the row that stands for ``r``.
    const = (op == CONST) & ~np.isin(np.arange(n), list(params))
    rep = np.arange(n)
    seen = {}
    folded = merged = 0
    for r in range(n):
        code = int(op[r])
        if code in SOURCE or seg_of[r] >= 0 or multi[r] or code >= PYTHON.start or R[R_FR, r]:
            continue
        ins = [int(rep[x]) for x in inputs(r)]
        if ins and all(const[x] for x in ins):
            R[R_OP, r] = CONST
            R[R_A, r] = R[R_B, r] = -1
            R[R_IA, r] = R[R_IB, r] = R[R_LN, r] = R[R_LO, r] = R[R_HID, r] = R[R_RG, r] = 0
            F[:, r] = 0.0
            const[r] = True
            folded += 1
            continue
        key = (code, int(R[R_DT, r]), int(R[R_NUM, r]), int(R[R_SHP, r]), int(R[R_IA, r]), int(R[R_IB, r]),
               int(R[R_HID, r]), int(R[R_RG, r]), F[0, r].tobytes(), F[1, r].tobytes(), bool(R[R_LN, r]), tuple(ins))
        first = seen.get(key)
        if first is None:
            seen[key] = r
        else:
            rep[r] = first
            merged += 1

    # Dropping: what the outputs, guards and Python-forward calls need, back to the inputs.
    live = np.zeros(n, bool)
    for node in var.outs:
        if node >= 0:
            live[rep[node]] = True
    live[var.in_nodes] = True
    live[(op == GUARD) | (op == PY_GUARD)] = True
    for _, spec, kw, _ in var.checks.values():
        for a in (*spec, *kw.values()):
            _walk(a, lambda x: live.__setitem__(rep[x.node], True) if isinstance(x, node_kinds) else None)
    done = set()
    for r in range(n - 1, -1, -1):
        if not live[r] or rep[r] != r:
            continue
        k = seg_of[r]
        if k >= 0 and k not in done:
            done.add(k)
            seg = segs[k]
            live[seg.start:seg.stop] = True
            for q in range(r + 1, seg.stop):       # (passed over before the call was known to be live)
                for x in inputs(q):
                    live[rep[x]] = True
            for a in (*seg.args, *seg.kwargs.values()):
                _walk(a, lambda x: live.__setitem__(rep[x.node], True) if isinstance(x, node_kinds) else None)
        if op[r] == OUTPUT:
            live[int(R[R_A, r])] = True
        elif R[R_NOUT, r]:
            live[r + 1:r + 1 + int(R[R_NOUT, r])] = True
        for x in inputs(r):
            live[rep[x]] = True
    keep = np.flatnonzero(live & (rep == np.arange(n)))
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
    return out, {"rows_before": n, "rows_after": m, "folded": folded, "merged": merged,
                 "dropped": n - m - merged, "bytes_before": _memory(tape), "bytes_after": _memory(t)}


def _memory(tape: Tape) -> int:
    """Bytes of the rows' values (OUTPUT rows share their row's)."""
    n = tape.n
    own = tape.op[:n] != OUTPUT
    nums = tape.num[:n][own]
    dts = tape.dt[:n][own]
    return int((nums * np.where(dts == 0, 8, 4)).sum())
