"""Python-forward rows in a trace's replay: the op's front end runs again on the replayed values.

A row in the ``PYTHON`` code range (a reduction computed by numpy, a LAPACK factorization, a
scatter of index lists ...) has no compiled forward kernel: its value comes from its front end,
the public function that recorded it (``x.softmax(1)``, ``tape.linalg.svd(a)``).  While a trace
records, each outermost public call that appends such a row is kept as a *segment*: the call (the
function, its arguments with traced tensors replaced by their nodes, its non-tensor arguments as
given) and the rows it appended.  The replay loop stops at the segment's first Python row through
the stop protocol; ``run`` calls the front end again on the tape itself, on stand-ins for its
tensor arguments holding their replayed values, which appends the same rows at the tape's end;
their values are copied into the segment's rows and the tape is cut back to where it was.  The
loop resumes after the segment.

The rows made again must be the recorded ones (codes, shapes, dtypes, attributes, inputs): a
value that decides more than numbers (a shape, a branch in a custom Function's ``forward``) shows as
a difference there, and the segment fails as a guard does (the trace records ``fn`` again at
those inputs).  Index lists that are data (the positions ``quantile`` or ``median()`` pick) are
taken from the call made again, as values are.  Integer results that leave the tape (the indices
of ``sort``) are guarded by the recorder, as before.
"""
from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
from numpy.lib.array_utils import byte_bounds
from numpy.lib.stride_tricks import as_strided

from ._state import state
from ._tape import Tape
from ._tensor import Tensor, _plain, _recorded
from .ops._spec import (CONST, INPUT, PYTHON, REGISTRY, R_A, R_B, R_DT, R_FR, R_IA, R_IB, R_LN, R_LO, R_NOUT, R_NUM,
                        R_OP, R_RG)

# Integer columns a row made again must repeat exactly (its offsets, shape slot and inputs are
# compared apart: they differ by where the rows were made).
_SAME = (R_OP, R_DT, R_NUM, R_IA, R_IB, R_RG, R_LN, R_NOUT)


class _Arg:
    """A traced tensor argument of a segment's call: replaced by a stand-in for node ``node``,
    laid out in memory as the argument was (``layout``: its strides, where an op reads them)."""
    __slots__ = ("node", "dtype", "shape", "layout")

    def __init__(self, node: int, dtype, shape: tuple, v=None) -> None:
        self.node, self.dtype, self.shape = node, dtype, shape
        self.layout = None
        if v is not None and not v.flags.c_contiguous:
            low, high = byte_bounds(v)
            self.layout = (v.strides, (v.__array_interface__["data"][0] - low) // v.itemsize,
                           (high - low) // v.itemsize)

    def array(self, value: np.ndarray) -> np.ndarray:
        """``value`` in this argument's layout."""
        if self.layout is None:
            return np.array(value, self.dtype.np)
        strides, at, size = self.layout
        buf = np.empty(size, self.dtype.np)
        v = as_strided(buf[at:], value.shape, strides)
        v[...] = value
        return v


class Segment:
    """One outermost public call that recorded Python-forward rows: rows ``start..stop-1``."""
    __slots__ = ("fn", "args", "kwargs", "start", "stop", "ix_start", "ix_stop", "own")

    def __init__(self, fn: Callable, args: tuple, kwargs: dict, start: int, stop: int, ix_start: int,
                 ix_stop: int, own: frozenset) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.start, self.stop = start, stop
        self.ix_start, self.ix_stop = ix_start, ix_stop
        self.own = own          # rows of the segment that import its arguments (made once, not again)


class _Unknown(Exception):
    """A call's argument cannot be given to it again."""


def _node_of(tape: Tape, t: Tensor) -> int:
    if t._tape is tape:
        return t._node
    if t._tape is None and t._ig == tape.gen:
        return t._in
    return -1


class _Raw:
    """A tensor argument not on the tape before the call (a constant): its value, given to the
    call again as a new tensor (so that the call imports it anew, as it did when recorded)."""
    __slots__ = ("tensor", "value", "version", "dtype", "requires_grad")

    def __init__(self, t: Tensor) -> None:
        self.tensor, self.value, self.version = t, None, t._vnum
        self.dtype, self.requires_grad = t._dtype, t._rg


def spec(tape: Tape, a, inplace: bool):
    """A call's argument with its tensors on ``tape`` replaced by their nodes (before the call:
    an in-place op moves its tensor to the new row); ``inplace``: the call may change its
    arguments (their values now are kept)."""
    if isinstance(a, Tensor):
        n = _node_of(tape, a)
        if n >= 0:
            return _Arg(n, a._dtype, a._shape, a._v)
        if a._tape is not None:
            return a
        raw = _Raw(a)
        if inplace:
            raw.value = np.array(a._value())
        return raw
    if type(a) in (list, tuple):
        return type(a)(spec(tape, x, inplace) for x in a)
    return a


def before(tape: Tape, name: str, args: tuple, kwargs: dict):
    """What ``note`` needs to know before a call of the public name ``name``: its arguments'
    specs if it may change them in place (``out=``, ``add_``, ``__iadd__``), else None (they
    are taken after the call, cheaper when it records no Python-forward row)."""
    if "out" in kwargs or (name.endswith("_") and not name.endswith("__")) or name.startswith("__i"):
        return tuple(spec(tape, a, True) for a in args), {k: spec(tape, v, True) for k, v in kwargs.items()}
    return None


def _imported(tape: Tape, before, a, start: int, out: set):
    """``before`` with the tensors of ``a`` first imported by the call (at rows ``start``...)
    replaced by their nodes, which are noted in ``out``."""
    if isinstance(before, _Arg):
        if before.node >= start:
            if tape.op[before.node] not in (INPUT, CONST):
                raise _Unknown      # (a tensor that was not an input of the call)
            if not before.dtype.is_floating_point:
                raw = _Raw(a)       # (an integer constant: given again, imported again)
                raw.value = np.array(a._value())
                raw.tensor = None
                return raw
            out.add(before.node)    # (imported by the call)
        return before
    if isinstance(before, _Raw):
        if a._dtype.is_floating_point:
            # Its import row, found by the weak reference the row keeps (the call may have changed
            # the tensor in place onto a row of its own): a parameter, read anew at each replay.
            for n in range(start, tape.n):
                if tape.op[n] in (INPUT, CONST):
                    ref = tape.src.get(n) or tape.csrc.get(n)
                    if type(ref) is not tuple and ref is not None and ref() is a:
                        out.add(n)
                        return _Arg(n, a._dtype, a._shape)
        if before.value is None:
            if before.version != a._vnum:
                raise _Unknown      # (changed in place by the call, and its value before is gone)
            before.value = np.array(a._value())
        before.tensor = None        # (not kept alive by the trace)
        return before
    if type(a) in (list, tuple) and type(before) is type(a):
        return type(a)(_imported(tape, b, x, start, out) for b, x in zip(before, a))
    return before


def _by_forward(code: int, args: tuple, kwargs: dict) -> bool:
    """Whether a call's one row, of ``code``, is replayed by its op's ``forward`` on its inputs' arena
    slots (a BLAS product) rather than by the call: the call read its tensors in the layout their
    slots hold (C-contiguous), so that ``forward`` gives the bits it gave."""
    op = REGISTRY[code]
    if op.forward is None or op.multi or op.arity not in (1, 2):
        return False
    return all(not isinstance(a, Tensor) or a._v is None or a._v.flags.c_contiguous
               for a in (*args, *kwargs.values()))


def note(tape: Tape, fn: Callable, args: tuple, kwargs: dict, pre, start: int, ix_start: int):
    """The segment of a call that appended rows ``start..tape.n-1`` (``pre``: from ``before``),
    or None if none of them is a Python-forward row (or the call cannot be made again)."""
    stop = tape.n
    if stop == start + 1:
        code = int(tape.op[start])
        if code < PYTHON.start:       # (the common case, a row of a compiled family: no numpy call)
            return None
        if _by_forward(code, args, kwargs):
            return None
    elif not (tape.op[start:stop] >= PYTHON.start).any():
        return None
    if pre is None:
        pre = tuple(spec(tape, a, False) for a in args), {k: spec(tape, v, False) for k, v in kwargs.items()}
    pre_args, pre_kwargs = pre
    own = set()
    try:
        a = tuple(_imported(tape, b, x, start, own) for b, x in zip(pre_args, args))
        kw = {k: _imported(tape, pre_kwargs[k], v, start, own) for k, v in kwargs.items()}
    except _Unknown:
        return None
    return Segment(fn, a, kw, start, stop, ix_start, tape.tix, frozenset(own))


def _stand_in(tape: Tape, a):
    if isinstance(a, _Arg):
        node = a.node
        v = a.array(tape.value_of(node))
        if tape.op[node] in (INPUT, CONST):
            # A leaf or constant: a plain tensor, known to the tape as that node (not imported again).
            t = _plain(v, a.dtype)
            t._rg = bool(tape.rg[node])
            t._ig, t._iv, t._in = tape.gen, 0, node
            return t
        return _recorded(tape, node, v, a.dtype)
    if isinstance(a, _Raw):
        t = _plain(a.value.copy(), a.dtype)
        t._rg = a.requires_grad
        return t
    if type(a) in (list, tuple):
        return type(a)(_stand_in(tape, x) for x in a)
    return a


def run(tape: Tape, seg: Segment) -> bool:
    """Compute the values of the segment's rows by calling its front end again on the replayed
    values; False if the rows it makes are not the recorded ones (values then undefined)."""
    n0, t64, t32, tix = tape.n, tape.t64, tape.t32, tape.tix
    ix_keep = tape.ix[seg.ix_start:tix].copy()
    fr_keep = tape.R[R_FR, :n0].copy()
    mods_keep = dict(tape.mods)
    prev_tape, prev_grad = state.tape, state.grad
    # Index lists made again land where the recorded ones are, so that rows that refer to them
    # by offset (``ia``) compare equal; the lists after them are put back below.
    tape.tix = seg.ix_start
    state.tape, state.grad = tape, True
    state.pinned += 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # (the recording gave them; a replay is silent)
            seg.fn(*(_stand_in(tape, a) for a in seg.args), **{k: _stand_in(tape, v) for k, v in seg.kwargs.items()})
        data = _same_rows(tape, seg, n0, ix_keep[:seg.ix_stop - seg.ix_start]) if state.tape is tape else None
        ok = data is not None
        if ok:
            _copy_values(tape, seg, n0)
            _move_contexts(tape, seg, n0)
            # The rows' index lists that are data (positions, indices: not lists of inputs) are
            # this replay's: kept when the recorded lists are put back.
            span = ix_keep[:seg.ix_stop - seg.ix_start]
            span[data] = tape.ix[seg.ix_start:seg.ix_stop][data]
    except Exception:
        ok = False          # (an input the front end refuses now: the recorded rows do not apply)
    finally:
        state.pinned -= 1
        state.tape, state.grad = prev_tape, prev_grad
        _cut(tape, n0, t64, t32, tix, seg.ix_start, ix_keep, fr_keep, mods_keep)
    return ok


def _rows(seg: Segment) -> list:
    return [r for r in range(seg.start, seg.stop) if r not in seg.own]


def _same_rows(tape: Tape, seg: Segment, n0: int, lists: np.ndarray):
    """Where the segment's index lists are data, if rows ``n0..`` (made again) repeat the segment's
    rows, in order (``lists``: the index lists the segment recorded), else None.  Rows repeat
    when their codes, attributes, shapes, dtypes and inputs are the same: index lists that are
    data (the positions ``median()`` picks) may differ, as values do."""
    old = _rows(seg)
    new = list(range(n0, tape.n))
    if len(old) != len(new) or tape.tix != seg.ix_stop:
        return None
    R, F = tape.R, tape.F
    o, m = np.asarray(old), np.asarray(new)
    if not (R[list(_SAME)][:, o] == R[list(_SAME)][:, m]).all() or not np.array_equal(F[:, o], F[:, m]):
        return None
    where = dict(zip(new, old))         # a row made again -> the recorded row it stands for
    listed = np.zeros(tape.ix.shape[0], bool)
    for r, q in zip(old, new):
        if tape.shape_of(r) != tape.shape_of(q):
            return None
        if R[R_LN, q]:
            lo, ln = int(R[R_LO, q]), int(R[R_LN, q])
            if lo != R[R_LO, r]:
                return None
            listed[lo:lo + ln] = True
            # (the recorded list was where the new one is now: read from the copy)
            ins_new, ins_old = tape.inputs_of(q), tuple(lists[lo - seg.ix_start:lo - seg.ix_start + ln].tolist())
        else:
            ins_new, ins_old = (int(R[R_A, q]), int(R[R_B, q])), (int(R[R_A, r]), int(R[R_B, r]))
        if tuple(where.get(x, x) for x in ins_new) != tuple(ins_old):
            return None
    return ~listed[seg.ix_start:seg.ix_stop]


def _copy_values(tape: Tape, seg: Segment, n0: int) -> None:
    R = tape.R
    for r, q in zip(_rows(seg), range(n0, tape.n)):
        # (an OUTPUT row is a part of its row's value, or, a Function's, a value of its own)
        arena = tape.v64 if R[R_DT, r] == 0 else tape.v32
        o, p, k = int(tape.off[r]), int(tape.off[q]), int(R[R_NUM, r])
        arena[o:o + k] = arena[p:p + k]


def _move_contexts(tape: Tape, seg: Segment, n0: int) -> None:
    """Give the recorded custom Function rows the contexts their ``forward`` just filled (what it
    saved for ``backward``), renamed to the recorded rows."""
    where = dict(zip(range(n0, tape.n), _rows(seg)))
    for q in [q for q in tape.pyrows if q >= n0]:
        ctx = tape.pyrows.pop(q)
        r = where[q]
        ctx._row = r
        saved = ctx.__dict__.get("_saved")
        if saved is not None:
            ctx._saved = tuple(e if e is None or e[0] != "node" else (e[0], where.get(e[1], e[1]), *e[2:])
                               for e in saved)
        tape.pyrows[r] = ctx


def _cut(tape: Tape, n0: int, t64: int, t32: int, tix: int, ix_start: int, ix_keep: np.ndarray,
         fr_keep: np.ndarray, mods_keep: dict) -> None:
    """Put the tape back as it was before the segment's call: rows, arena tops, index lists, the
    in-place marks the call made on older rows, and the side tables' entries of the new rows."""
    n = tape.n
    tape.clear_rows(n0, n)
    tape.n, tape.t64, tape.t32 = n0, t64, t32
    tape.ix[ix_start:tix] = ix_keep
    tape.tix = tix
    tape.R[R_FR, :n0] = fr_keep
    tape.mods = mods_keep
    for table in (tape.src, tape.csrc, tape.args, tape.pyrows, tape.hooks, tape.prov, tape.retained):
        for k in [k for k in table if k >= n0]:
            del table[k]
    tape.prov = dict(tape.prov)     # (a new dict: ``_anomaly.stack_of`` keeps the keys of the one it searched)
    for lent in tape.lent:
        for k in [k for k, r in lent.items() if r >= n0]:
            del lent[k]
    if tape.views is not None:
        for k in [k for k in tape.views if k >= n0]:
            del tape.views[k]
