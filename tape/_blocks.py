"""Runs of big elementwise rows, swept block by block.

The numeric sweep stops at a big elementwise row (``_sweep.PYTHON_FROM``).  The rows under it
that it would stop at too, over as many elements, form a run (``_run``): within a run each
element's adjoint depends on that element's values and adjoints only, so the run is swept block
by block (``RUN_BLOCK`` elements), every row of the run on one block before the next, in parts on
all cores (``_parallel``).  An adjoint that only the run's rows write and read (the adjoint of
a row of the run, below its first) never goes to the tape's adjoint buffer: it lives in a
block-sized scratch array of the thread, reused by the next such adjoint once its row ran
(``_plan``), so it stays in cache and costs no memory traffic.  Each row's block runs its op's
numpy rule (``Op.numpy_rows``) or its family's loops (``unary_block``/``binary_block``/``where_block``,
the loops of the sweep's kernels), so the bits are those of the row run alone.
"""
from __future__ import annotations

import sys
import threading

import numpy as np

from . import _dtype as D
from . import _parallel
from . import _tensor as T
from ._row import Row
from ._stops import ST_DONE, check_saved
from ._sweep import _PYTHON_START as PYTHON_START
from ._sweep import PYTHON_FROM, SAVES
from .ops._spec import CONST, INPUT, R_OP, REGISTRY, SOURCE, UNARY
from .ops.elementwise import CAST, binary_block, unary_adjoint, unary_block
from .ops.join import WHERE, where_block
from .ops.reduction import MEAN, SUM

# Elements per block: the arrays a row's block reads and writes (up to six) stay in a core's L2.
RUN_BLOCK = 1 << 15
_SOURCE_END = SOURCE.stop
_NONE: dict = {}
_local = threading.local()


class Owned(dict):
    """``{node: array}``: the leaves' adjoints of one plain backward that live in arrays of their
    own, handed out as the leaves' gradients (no copy out of the tape's adjoint buffer, which
    the tape keeps for its next backward).  ``kept``: the nodes whose adjoints are read from the
    buffer after the sweep (asked for, retained)."""

    __slots__ = ("kept",)

    def __init__(self, tape, result) -> None:
        super().__init__()
        key = id(tape)
        self.kept = set(tape.retained)
        if result.targets:
            self.kept.update(node for k, node in result.targets if k == key)


def owned(tape, seen, x: int, below: int, own, also: int = -1, array: np.ndarray | None = None) -> bool:
    """Whether the adjoint of ``x``, first reached by Python rows from ``below`` up, gets an array of
    its own (``Owned``): ``x`` is an imported leaf (an INPUT row, not hooked: ``own`` is None for a
    sweep with hooks), not read after the sweep, and no row between it and ``below`` that a gradient
    reached (or ``also``, which the same row reaches) is left to run (those would add to it in the
    buffer; gradients only flow down, so rows no gradient reached by now never run).  The array
    (``array``, flat, already holding the adjoint, or a new one) is kept in ``own``."""
    if own is None or x in own.kept or tape.op[x] != INPUT or x not in tape.src or \
            _reached(seen, x + 1, below) or (x < also < below and not seen[also] & 2):
        return False
    if array is None:
        array = leaf_adjoint(np.float64 if tape.dt[x] == 0 else np.float32, int(tape.num[x]))
    elif array.base is None and array.size >= POOLED:
        # (an adopted gradient: a view's memory is its base's, which the pool holds if it is one of its
        # own; only an array owning its memory may be reused, once nothing refers to it)
        _pool.handed[id(array)] = array
    own[x] = array
    return True


def _reached(seen, lo: int, hi: int) -> bool:
    """Whether a gradient reached a row of ``lo:hi`` that is left to run (``seen & 3 == 1``)."""
    if hi - lo <= 16:
        # (no row or a few, most often: a list of them costs a fraction of numpy's four calls on a
        # small array, which run cold between a backward's BLAS products, ~10 us each)
        return 1 in [m & 3 for m in seen[lo:hi].tolist()]
    return bool(((seen[lo:hi] & 3) == 1).any())


# Leaf adjoints of at least this many elements are reused by later backwards of the thread (``leaf_adjoint``).
POOLED = 1 << 14


class _Pool(threading.local):
    """The thread's big leaf adjoints (``Owned``): those its current backward handed out
    (``handed``, by id), and, by dtype and size, those its previous one did (``free``), whose
    memory the current one reuses once nothing else refers to them (the gradients a training loop
    drops, ``p.grad = None``, or adds into the ``.grad`` it keeps).  Fresh arrays of a million
    elements cost a page fault for each page on first touch (malloc hands big blocks back to the
    system when they are freed), which costs more than the sweep that writes them; holding the
    previous backward's arrays until the next one starts bounds what is kept to one backward's
    gradients."""

    def __init__(self) -> None:
        self.depth = 0      # backwards running on the thread (a checkpointed segment's runs inside another)
        self.handed = {}
        self.free = {}


_pool = _Pool()


def begin_backward() -> None:
    """A backward starts on this thread: an outermost one takes the arrays the previous one
    handed out as its reusable ones (``_Pool``)."""
    pool = _pool
    if not pool.depth:
        free = {}
        for a in pool.handed.values():
            free.setdefault((a.dtype.type, a.shape[0]), []).append(a)
        pool.free = free
        pool.handed = {}
    pool.depth += 1


def end_backward() -> None:
    _pool.depth -= 1


def leaf_adjoint(dtype: type, n: int) -> np.ndarray:
    """A flat array of ``n`` elements, its values undefined, for a leaf's adjoint handed out as its
    gradient: for a big one, the memory of one the previous backward handed out that nothing
    refers to any more, if there is one (``_Pool``)."""
    if n < POOLED:
        return np.empty(n, dtype)
    pool = _pool
    free = pool.free.get((dtype, n))
    while free:
        a = free.pop()
        if sys.getrefcount(a) == 2:     # (``a`` and getrefcount's argument)
            break
    else:
        a = np.empty(n, dtype)
    pool.handed[id(a)] = a
    return a


def copied(g: np.ndarray) -> np.ndarray:
    """A copy of the contiguous adjoint ``g`` handed out as a gradient, in the memory of one the
    previous backward handed out if it is big (``leaf_adjoint``)."""
    if g.size < POOLED:
        return g.copy()
    out = leaf_adjoint(g.dtype.type, g.size).reshape(g.shape)
    np.copyto(out, g)
    return out


def pooled(a: np.ndarray) -> int:
    """1 if the thread's current backward handed out ``a`` (``_Pool.handed`` refers to it), else 0."""
    return 1 if _pool.handed.get(id(a)) is a else 0


def big_rows(tape, R, r: int, values, grads, seen, result, own=None) -> int:
    """Run the big elementwise row ``r`` the sweep stopped at and the rows of its run (``_run``)
    block by block on all cores; return the lowest row run.  ``result``: the backward's
    (``_engine._Result``), whose gradients asked for, as those retained, are read after the sweep;
    ``own``: the sweep's ``Owned`` leaf adjoints (None: all in the buffer)."""
    n = run_size(tape, r)
    rows = _run(tape, R, r, seen)
    key = id(tape)
    kept = set(tape.retained)
    if result.targets:
        kept.update(node for k, node in result.targets if k == key)
    slots, counts = _plan(tape, rows, kept)
    if own is not None:
        below = rows[-1][0]
        real = _cast_touched(tape, rows)
        for _, writes in rows:
            for _, x, first in writes:
                if first and x not in slots and x not in real:
                    owned(tape, seen, x, below, own)
    adj = own or _NONE
    calls = [spread_call(tape, q, grads, writes, slots, adj, n) if tape.op[q] == SUM or tape.op[q] == MEAN else
             _rule_call(tape, q, values, grads, writes, slots, adj) if REGISTRY[int(tape.op[q])].numpy_rows else
             _kernel_call(tape, q, values, grads, writes, slots, adj) for q, writes in rows]

    def blocks(lo: int, hi: int) -> None:
        scratch = _scratch(counts)
        for start in range(lo, hi, RUN_BLOCK):
            end = min(start + RUN_BLOCK, hi)
            for call in calls:
                call(start, end, scratch)

    _parallel.run(blocks, n)
    return rows[-1][0]


def run_size(tape, r: int) -> int:
    """The elements of the run that row ``r`` heads: its own, or its input's for a sum or mean of
    all of a big row (``_sweep._sum_over_big``)."""
    if tape.op[r] == SUM or tape.op[r] == MEAN:
        return int(tape.num[tape.a[r]])
    return int(tape.num[r])


def _run(tape, R, r: int, seen) -> list:
    """``[(row, writes)]``: row ``r`` and the rows under it that the sweep would leave to Python as
    it, or ``where`` rows (whose adjoints are blends), over as many elements with no input
    broadcast, down to the first row that is not one (rows the sweep passes by, not reached or not
    needed, and sources, are passed by).  ``writes``: (input
    position, node, first to reach its adjoint) for the inputs the row gives a gradient, marked in
    ``seen`` as the sweep would mark them, row after row."""
    n = run_size(tape, r)
    num, dt, rg = tape.num, tape.dt, tape.rg
    ix = tape.ix
    rows = []
    for q in range(r, -1, -1):
        code = int(R[R_OP, q])
        if seen[q] & 3 != 1 or code == INPUT or code == CONST:
            continue
        ins = tape.inputs_of(q)
        if q != r and (code >= PYTHON_START or code < _SOURCE_END or num[q] != n or
                       any(num[x] != n for x in ins) or (code != WHERE and n < PYTHON_FROM[dt[q], code]) or
                       check_saved(R, ix, int(SAVES[code]), q) != ST_DONE):
            break
        op = REGISTRY[code]
        writes = []
        for k, x in enumerate(ins):
            if rg[x] and k not in op.nondiff:
                writes.append((k, x, not seen[x] & 1))
                seen[x] |= 1
        seen[q] |= 4
        rows.append((q, writes))
    return rows


def _plan(tape, rows: list, kept: set) -> tuple:
    """``({node: (arena, slot)}, [slots of float64, of float32])``: the adjoints kept in scratch.
    A node's adjoint is, when its row is in the run below its first, the run reached it first,
    nothing reads it afterwards (not in ``kept``), and no cast touches it (its loop is not on a
    block's arrays); a slot is taken when the adjoint is first written and given back once its
    row ran."""
    run = {q for q, _ in rows[1:]}
    real = _cast_touched(tape, rows)
    free = ([], [])
    counts = [0, 0]
    slots = {}
    for q, writes in rows:
        for _, x, first in writes:
            if first and x in run and x not in real and x not in slots and x not in kept:
                arena = int(tape.dt[x])
                if free[arena]:
                    slot = free[arena].pop()
                else:
                    slot = counts[arena]
                    counts[arena] += 1
                slots[x] = (arena, slot)
        if q in slots:
            arena, slot = slots[q]
            free[arena].append(slot)
    return slots, counts


def _cast_touched(tape, rows: list) -> set:
    """The casts' nodes of ``rows`` and their inputs: a cast's loop reaches their adjoints in the
    tape's buffer by offset."""
    real = set()
    for q, writes in rows:
        if tape.op[q] == CAST:
            real.add(q)
            real.update(x for _, x, _ in writes)
    return real


def _scratch(counts: list) -> tuple:
    """This thread's scratch arrays (at least ``counts`` of a block each, per arena)."""
    have = getattr(_local, "scratch", None)
    if have is None or len(have[0]) < counts[0] or len(have[1]) < counts[1] or \
            (have[0] and have[0][0].shape[0] < RUN_BLOCK) or (have[1] and have[1][0].shape[0] < RUN_BLOCK):
        have = tuple([np.empty(RUN_BLOCK, dtype) for _ in range(k)] for dtype, k in zip((np.float64, np.float32), counts))
        _local.scratch = have
    return have


def _adjoint(tape, grads, slots, own, node: int):
    """``at(lo, hi, scratch)``: the array of ``node``'s adjoint over elements ``lo:hi`` (``own``: the
    leaf adjoints in arrays of their own, ``Owned``)."""
    where = slots.get(node)
    if where is not None:
        arena, slot = where
        return lambda lo, hi, scratch: scratch[arena][slot][:hi - lo]
    g = own.get(node)
    if g is None:
        g = grads[int(tape.dt[node])][int(tape.off[node]):]
    return lambda lo, hi, scratch: g[lo:hi]


def _value(tape, values, node: int) -> np.ndarray:
    """The flat value of ``node`` from its first element on: a referred leaf's own array
    (``Tape.refer``: not copied onto the tape for the rows a run reads it in), else the arena's."""
    pend = tape.pend
    v = pend.get(node) if pend is not None else None
    arena = values[int(tape.dt[node])]
    if v is None:
        return arena[int(tape.off[node]):]
    if v.dtype != arena.dtype or not v.flags.c_contiguous or not v.flags.writeable:
        tape.fill((node,))      # (the kernels are compiled for writable arrays of the arena's dtype)
        return arena[int(tape.off[node]):]
    return v.reshape(-1)


def _rule_call(tape, r: int, values, grads, writes, slots, own):
    """``call(lo, hi, scratch)``: elements ``lo:hi`` of the row's input adjoints from its op's
    ``vjp`` rule, run on plain tensors over the block's arrays (numpy's SIMD ufuncs)."""
    R = tape.R
    op = REGISTRY[int(R[R_OP, r])]
    row = Row(tape, r)
    ins = tape.inputs_of(r)

    def value(node):
        return _value(tape, values, node), D.ARENA_DTYPES[int(tape.dt[node])]

    vals = [value(x) for x in ins]
    out, dtype = value(r)
    gy = _adjoint(tape, grads, slots, own, r)
    gxs = [(k, _adjoint(tape, grads, slots, own, x), first) for k, x, first in writes]
    plain = T._plain

    def call(lo: int, hi: int, scratch) -> None:
        outs = op.vjp(plain(gy(lo, hi, scratch), dtype), tuple(plain(v[lo:hi], d) for v, d in vals),
                      plain(out[lo:hi], dtype), row)
        for k, gx, first in gxs:
            g = gx(lo, hi, scratch)
            d = outs[k]
            if d is None:
                if first:
                    g[:] = 0
            elif first:
                g[:] = d._value()
            else:
                np.add(g, d._value(), out=g)
    return call


def spread(g: np.ndarray, c: float, first: bool) -> None:
    """Write (``first``) or add ``c``, the adjoint of a full sum or mean scaled, to every element of
    ``g``, rounded as the reduction family's kernel rounds (added in float64)."""
    if first:
        g[:] = c
    else:
        np.add(g, c, out=g, dtype=np.float64)


def spread_call(tape, r: int, grads, writes, slots, own, n: int):
    """``call(lo, hi, scratch)``: elements ``lo:hi`` of the input adjoint of a sum or mean of all of
    its ``n`` elements, each the output's adjoint (over ``n`` for a mean)."""
    c = float(grads[int(tape.dt[r])][int(tape.off[r])]) * (1 / n if tape.op[r] == MEAN else 1.0)
    if not writes:
        return lambda lo, hi, scratch: None
    _, x, first = writes[0]
    gx = _adjoint(tape, grads, slots, own, x)
    return lambda lo, hi, scratch: spread(gx(lo, hi, scratch), c, first)


def _kernel_call(tape, r: int, values, grads, writes, slots, own):
    """``call(lo, hi, scratch)``: elements ``lo:hi`` of the row's input adjoints from its family's
    loops (the arguments read from the tape once, not per block), a first-reached one written by
    them (unary and binary rows) or zeroed first, in cache (where, cast)."""
    R = tape.R
    code, dr, o, _, _, x, y = R[:7, r].tolist()
    zeroed = [_adjoint(tape, grads, slots, own, node) for _, node, first in writes if first]
    if code == WHERE:
        c, x, y = tape.inputs_of(r)
        mask = values[dr][int(tape.off[c]):]
        gy, gx, gz = (_adjoint(tape, grads, slots, own, node) for node in (r, x, y))
        rgx, rgy = int(tape.rg[x]), int(tape.rg[y])

        def call(lo: int, hi: int, scratch) -> None:
            for z in zeroed:
                z(lo, hi, scratch)[:] = 0
            where_block(mask[lo:hi], gy(lo, hi, scratch), gx(lo, hi, scratch), gz(lo, hi, scratch), rgx, rgy)
        return call
    v, g = values[dr], grads[dr]
    ox = int(tape.off[x])
    if code == CAST:
        fa, fb, ia = float(tape.fa[r]), float(tape.fb[r]), int(tape.ia[r])
        tape.fill((x,))     # (the kernel reads the input in its arena)
        vo, go = values[1 - dr], grads[1 - dr]

        def call(lo: int, hi: int, scratch) -> None:
            for z in zeroed:
                z(lo, hi, scratch)[:] = -0.0      # (as the sweep starts a cast's input)
            unary_adjoint(code, hi - lo, fa, fb, ia, v, g, ox + lo, o + lo, vo, go)
        return call
    gy = _adjoint(tape, grads, slots, own, r)
    # (a first-reached adjoint is written by the loops themselves: a pass less than zeroing it)
    first = [False, False]
    for k, _, f in writes:
        first[k] = first[k] or f
    if code < UNARY.stop:
        fa, fb = float(tape.fa[r]), float(tape.fb[r])
        gx = _adjoint(tape, grads, slots, own, x)
        vx, vy = _value(tape, values, x), v[o:]
        write = first[0]
        return lambda lo, hi, scratch: unary_block(code, fa, fb, vx[lo:hi], vy[lo:hi], gx(lo, hi, scratch),
                                                   gy(lo, hi, scratch), write)
    rgx, rgy = int(tape.rg[x]), int(tape.rg[y])
    ga = _adjoint(tape, grads, slots, own, x)
    gb = _adjoint(tape, grads, slots, own, y)
    va, vb, vy = _value(tape, values, x), _value(tape, values, y), v[o:]
    same = x == y
    wa, wb = first
    return lambda lo, hi, scratch: binary_block(code, va[lo:hi], vb[lo:hi], vy[lo:hi], ga(lo, hi, scratch),
                                                gb(lo, hi, scratch), gy(lo, hi, scratch), rgx, rgy, same, wa, wb)
