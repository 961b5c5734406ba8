"""Batch replay: a trace evaluated at every sample of a batch, on all cores (``Trace.map``,
``Trace.grad_map``, ``Trace.jvp_map``), or on the workers of a Dask cluster.

One compiled kernel runs the batch: numba's ``prange`` over chunks of it, each chunk on a
scratch copy of the variant's value arena (and of its adjoint arenas for gradients), in which
each sample's inputs are written and the rows replayed (``replay_rows`` or the scalar program)
and swept back (``sweep_rows`` or ``scalar_backward``): the functions a single replay calls, on
the same values, so each sample's results are bitwise those of ``tr(x_i)`` and
``tr.grad(x_i)``, whatever the number of threads or chunks.

A sample the kernel cannot finish is left to a single replay (``Trace.__call__``,
``Trace.value_and_grad``, ``Trace.jvp``), which handles it as a loop would: a guard that fails
there (the sample takes another branch) records the function again or, with ``strict=True``,
raises ``TraceGuardError``; a row that needs Python (a BLAS product, a guard Python checks, a
big row numpy differentiates) runs there.  A variant holding such rows, or none that replays
in compiled code, runs every sample so.  Tangents (``jvp_map``) are single replays too: the
tangent sweep runs each op's rule in Python.

numba's threading layer is the one numba picks (``numba.threading_layer()``: tbb or omp where
installed, else its own workqueue).  The workqueue layer aborts the process when two threads
launch parallel kernels at once, so the kernel is launched under a lock: Python threads that
map at once take turns, each using every core.
"""
from __future__ import annotations

import threading
from typing import Optional, Sequence, Union

import numba
import numpy as np
from numba import njit, prange

from . import _dtype as D
from ._anomaly import _mode as _anomaly_mode
from ._record import VALUES
from ._replay import C_STOP, PY_GUARD, ST_GUARD, numpy_rows, replay_rows, scalar_backward, scalar_forward
from ._stops import C_FAMILY, C_ROW, C_SIZE, C_START, C_STATUS, ST_COMPILE, ST_DONE
from ._sweep import _PYTHON_START, ADJOINTS, FAMILY, PYTHON_FROM, SAVES, compile_for, mark_unneeded, sweep_rows
from ._tensor import Tensor, _plain
from ._trace import EXTRA, TraceGuardError, _argnums, _value_into

__all__ = ["map_values", "map_grads", "map_jvps"]

on_cluster = [None]     # ``tape/_dask.py``'s ``run_on``, entered when it is imported
ST_SWEEP = 40       # added to a status the reverse sweep stopped with (a sample's ``status``)
_launch = threading.Lock()
CHUNKS_PER_THREAD = 4   # chunks per thread: the threads take them in turn, so a busy core holds up little


@njit(cache=True, parallel=True, error_model="numpy")
def _batch(R, F, stab, ix, base64, base32, n, program, P, Q, which, chunks, X, x_at, Y, y_at,
           grad, unneeded, seed_node, seed_at, G, g_node, g_at, status, rows, fams, vfams, gfams, saves, python_from):
    """Replay samples ``which`` (rows of ``X``: their input elements, written at ``x_at``: arena,
    offset) and read their outputs (``y_at``) into ``Y``; with ``grad``, sweep back from ones at
    ``seed_at`` (the output node ``seed_node``; -1: no gradient) and read the adjoints at ``g_at``
    (of nodes ``g_node``) into ``G``.  Each sample's ``status``: ST_DONE, or why it stopped (a
    guard, a row for Python or to compile, at ``rows``; ``ST_SWEEP +`` a status of the sweep, whose
    family to compile is in ``fams``).  ``saves``, ``python_from``: the sweep's tables, passed in
    (as globals they would be read-only constants here, and the sweep compiled a second time)."""
    m = which.shape[0]
    for c in prange(chunks):
        v64 = base64.copy()
        v32 = base32.copy()
        g64 = np.empty(base64.shape[0])
        g32 = np.empty(base32.shape[0], np.float32)
        seen = np.empty(n, np.uint8)
        reached = np.empty(base64.shape[0], np.uint8)
        ctl = np.zeros(C_SIZE, np.int64)
        for k in range(m * c // chunks, m * (c + 1) // chunks):
            s = which[k]
            for j in range(x_at.shape[1]):
                if x_at[0, j] == 0:
                    v64[x_at[1, j]] = X[s, j]
                else:
                    v32[x_at[1, j]] = np.float32(X[s, j])
            if program:
                failed = scalar_forward(P, Q, v64)
                if failed >= 0:
                    status[s] = ST_GUARD
                    rows[s] = failed
                    continue
            else:
                ctl[C_START] = 0
                ctl[C_STOP] = n
                replay_rows(R, F, stab, ix, v64, v32, ctl, vfams)
                if ctl[C_STATUS] != ST_DONE:
                    status[s] = ctl[C_STATUS]
                    rows[s] = ctl[C_ROW]
                    continue
            for j in range(y_at.shape[1]):
                Y[s, j] = v64[y_at[1, j]] if y_at[0, j] == 0 else np.float64(v32[y_at[1, j]])
            if grad:
                if program:
                    reached[:] = 0
                    for j in range(seed_at.shape[1]):
                        g64[seed_at[1, j]] = 1.0
                        reached[seed_at[1, j]] = 1
                    if seed_node >= 0:
                        scalar_backward(P, Q, v64, g64, reached)
                    for j in range(g_at.shape[1]):
                        o = g_at[1, j]
                        G[s, j] = g64[o] if reached[o] and seed_node >= 0 else 0.0
                else:
                    seen[:] = unneeded
                    if seed_node >= 0:
                        for j in range(seed_at.shape[1]):
                            if seed_at[0, j] == 0:
                                g64[seed_at[1, j]] = 1.0
                            else:
                                g32[seed_at[1, j]] = 1.0
                        seen[seed_node] |= 1
                        ctl[C_START] = n - 1
                        sweep_rows(R, F, stab, ix, saves, python_from, v64, g64, v32, g32, seen, ctl, gfams)
                        if ctl[C_STATUS] != ST_DONE:
                            status[s] = ST_SWEEP + ctl[C_STATUS]
                            rows[s] = ctl[C_ROW]
                            fams[s] = ctl[C_FAMILY]
                            continue
                    for j in range(g_at.shape[1]):
                        o = g_at[1, j]
                        if not seen[g_node[j]] & 1:
                            G[s, j] = 0.0
                        elif g_at[0, j] == 0:
                            G[s, j] = g64[o]
                        else:
                            G[s, j] = np.float64(g32[o])
            status[s] = ST_DONE


# --- the driver ------------------------------------------------------------------------------
def _batched(tr, inputs: tuple, what: str) -> tuple:
    """Check ``inputs`` (the trace's arguments, each with a leading batch axis): the arrays, and
    the batch size."""
    sig = tr.signature
    if len(inputs) != len(sig):
        raise TypeError(f"{what}: the trace takes {len(sig)} inputs ({len(inputs)} given)")
    if not inputs:
        raise TypeError(f"{what}: a trace of no inputs has no batch to map over")
    size = None
    for i, (t, (shape, dtype)) in enumerate(zip(inputs, sig)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{what}: input {i} must be a Tensor, not {type(t).__name__}")
        if t._dtype is not dtype or len(t._shape) != len(shape) + 1 or t._shape[1:] != shape:
            raise ValueError(f"{what}: input {i} must have shape [B, {', '.join(map(str, shape))}] (a batch of "
                             f"the recorded shape {list(shape)}) and dtype {dtype}, got shape {list(t._shape)} "
                             f"and dtype {t._dtype}".replace("[B, ]", "[B]"))
        if size is None:
            size = t._shape[0]
        elif t._shape[0] != size:
            raise ValueError(f"{what}: the inputs' batch sizes differ: {size} and {t._shape[0]} (input {i})")
    return tuple(np.ascontiguousarray(t._value()) for t in inputs), size


def _sample(arrays: tuple, s: int) -> tuple:
    return tuple(_plain(np.array(a[s]), t) for a, t in arrays)


def _variant(tr):
    """The variant the kernel replays (the most recent whose parameters kept their shapes), its
    parameters' current values written in; None when there is none that replays in compiled code."""
    for var in tr.variants:
        if not var.compiled:
            return None
        if any(t._shape != s or t._dtype is not d for (_, t), (s, d) in zip(var.params, var.shapes)):
            continue
        tape = var.tape
        for node, t in var.params:
            _value_into(tape, node, t)
            tape.ib[node] = t._vnum
        return var
    return None


def _python_rows(tape) -> bool:
    """Whether a replay of the tape stops for Python (a BLAS product, a guard Python checks, a row
    numpy replays: ``_replay.numpy_rows``)."""
    op = tape.op[:tape.n]
    return bool(((op >= _PYTHON_START) | (op == PY_GUARD)).any()) or bool(numpy_rows(tape))


def _addresses(tape, nodes: Sequence[int]) -> np.ndarray:
    """(arena, offset) of every element of ``nodes``, in order."""
    out = [np.stack([np.full(int(tape.num[x]), int(tape.dt[x])), int(tape.off[x]) + np.arange(int(tape.num[x]))])
           for x in nodes]
    return np.concatenate(out, axis=1).astype(np.int64) if out else np.zeros((2, 0), np.int64)


def run(tr, arrays: Sequence[np.ndarray], argnums: Optional[tuple]):
    """The kernel over a batch (``arrays``: each input's values, a leading batch axis): outputs
    (``Y``, one column per output element) and gradients (``G``, one column per element of the
    inputs ``argnums``; None for values only), the variant they come from, and the samples it
    could not finish (``todo``: left to single replays)."""
    size = arrays[0].shape[0]
    var = _variant(tr)
    if var is None or _python_rows(var.tape) or var.tape.hooks or (argnums is not None and _anomaly_mode[0]):
        return None, None, None, np.arange(size)        # (anomaly mode: its checks are ``_engine.run``'s)
    tape = var.tape
    n = tape.n
    X = np.concatenate([a.reshape(size, int(np.prod(a.shape[1:], dtype=np.int64))).astype(np.float64) for a in arrays],
                       axis=1)
    x_at = _addresses(tape, var.in_nodes)
    y_at = _addresses(tape, [x for x in var.outs if x >= 0])
    Y = np.zeros((size, y_at.shape[1]))
    grad = argnums is not None
    seed_node, unneeded = -1, np.zeros(n, np.uint8)
    g_nodes = [var.in_nodes[i] for i in argnums] if grad else []
    g_at = _addresses(tape, g_nodes)
    g_node = np.concatenate([np.full(int(tape.num[x]), x) for x in g_nodes]).astype(np.int64) if g_nodes else \
        np.zeros(0, np.int64)
    seed_at = np.zeros((2, 0), np.int64)
    if grad and var.outs[0] >= 0 and tape.rg[var.outs[0]]:
        seed_node = var.outs[0]
        seed_at = _addresses(tape, [seed_node])
        base = var.unneeded.get(argnums)
        if base is None:
            base = np.zeros(n, np.uint8)
            target = np.zeros(n, np.uint8)
            target[g_nodes] = 1
            mark_unneeded(tape.R, tape.ix, n, target, base)
            var.unneeded[argnums] = base
        unneeded = base
    G = np.zeros((size, g_at.shape[1]))
    status = np.full(size, ST_DONE, np.int64)
    rows = np.zeros(size, np.int64)
    fams = np.zeros(size, np.int64)
    program = var.program is not None
    P, Q = var.program if program else (np.zeros((7, 0), np.int64), np.zeros((2, 0)))
    base64, base32 = tape.v64[:tape.t64].copy(), tape.v32[:tape.t32].copy()
    which = np.arange(size)
    while which.size:
        chunks = min(which.size, CHUNKS_PER_THREAD * numba.get_num_threads())
        with _launch:
            _batch(tape.R, tape.F, tape.stab, tape.ix, base64, base32, n, program, P, Q, which, chunks, X, x_at, Y,
                   y_at, grad, unneeded, seed_node, seed_at, G, g_node, g_at, status, rows, fams, VALUES.addresses,
                   ADJOINTS.addresses, SAVES, PYTHON_FROM)
        # A family kernel not compiled yet (``_lazy``): compiled, and its samples run again.
        which = np.flatnonzero((status == ST_COMPILE) | (status == ST_SWEEP + ST_COMPILE))
        for s in which:
            r = int(rows[s])
            if status[s] == ST_COMPILE:
                arena = int(tape.dt[r])
                VALUES.compile(int(FAMILY[tape.op[r]]), arena,
                               (tape.R, tape.F, tape.stab, tape.ix, tape.v64 if arena == 0 else tape.v32, r))
            else:
                ctl = np.zeros(C_SIZE, np.int64)
                ctl[C_ROW], ctl[C_FAMILY] = r, fams[s]
                compile_for(tape.R, tape.F, tape.stab, tape.ix, tape.v64, np.empty(tape.t64), tape.v32,
                            np.empty(tape.t32, np.float32), ctl)
    return Y, G, var, np.flatnonzero(status != ST_DONE)


def _layout(var) -> list:
    """Each output's (shape, dtype), as single replays of the variant give them."""
    tape = var.tape
    return [(var.consts[k]._shape, var.consts[k]._dtype) if node < 0 else
            (tape.shape_of(node), D.ARENA_DTYPES[int(tape.dt[node])]) for k, node in enumerate(var.outs)]


def _scalar_check(tr, arrays: tuple, size: int) -> None:
    """PyTorch's error (``Trace.value_and_grad``'s) unless the function returns one floating-point
    element, raised by a single replay at the first sample."""
    var = tr.variants[0]
    shape, dtype = _layout(var)[0]
    if not var.single or int(np.prod(shape, dtype=np.int64)) != 1 or not dtype.is_floating_point:
        sig = tr.signature
        first = arrays if size else tuple(np.zeros((1,) + s, d.np) for s, d in sig)
        tr.value_and_grad(*_sample(tuple(zip(first, (d for _, d in sig))), 0))


def finish(tr, arrays: tuple, size: int, var, Y, G, todo: np.ndarray, argnums, redo: Optional[list] = None):
    """The batched results: the kernel's columns, and single replays for the samples in ``todo``
    (``redo``: where a guard fails, note the sample in it instead of raising: a Dask worker's
    loaded trace, which cannot record the function again)."""
    sig = tr.signature
    typed = tuple(zip(arrays, (d for _, d in sig)))
    single = (var or tr.variants[0]).single
    if argnums is None:
        layout = _layout(var or tr.variants[0])
        cols = Y
    else:
        layout = [sig[i] for i in _argnums(argnums, len(sig))]
        cols = G
        single = isinstance(argnums, int)
    out, j = [], 0
    for k, (shape, dtype) in enumerate(layout):
        a = np.zeros((size,) + shape, dtype.np)
        if argnums is None and var is not None and var.outs[k] < 0:
            a[...] = var.consts[k]._value()         # (a constant: no column)
        elif cols is not None:
            m = int(np.prod(shape, dtype=np.int64))
            a[...] = cols[:, j:j + m].reshape(a.shape)
            j += m
        out.append(a)
    for s in todo:
        x = _sample(typed, int(s))
        try:
            got = tr(*x) if argnums is None else tr.value_and_grad(*x, argnums=argnums)[1]
        except TraceGuardError:
            if redo is None:
                raise
            redo.append(int(s))
            continue
        got = (got,) if isinstance(got, Tensor) else got
        if len(got) != len(layout) or any(t._shape != shape or t._dtype is not dtype
                                           for t, (shape, dtype) in zip(got, layout)):
            raise RuntimeError(f"Trace.map: at sample {int(s)} the function's results have other shapes or dtypes "
                               f"than at the recorded inputs; they cannot be stacked")
        for a, t in zip(out, got):
            a[s] = t._value()
    ts = tuple(_plain(a, dtype) for a, (_, dtype) in zip(out, layout))
    return ts[0] if single else ts


def map_values(tr, inputs: tuple, client=None):
    """``Trace.map``: ``tr(*x_i)`` for each sample ``i`` of the batch, stacked."""
    arrays, size = _batched(tr, inputs, "Trace.map")
    if client is not None:
        return on_cluster[0](client, tr, arrays, size, None)
    Y, _, var, todo = run(tr, arrays, None)
    return finish(tr, arrays, size, var, Y, None, todo, None)


def map_grads(tr, inputs: tuple, argnums: Union[int, tuple] = 0, client=None):
    """``Trace.grad_map``: ``tr.grad(*x_i, argnums=argnums)`` for each sample ``i``, stacked."""
    arrays, size = _batched(tr, inputs, "Trace.grad_map")
    nums = _argnums(argnums, len(tr.signature))
    _scalar_check(tr, arrays, size)
    if client is not None:
        return on_cluster[0](client, tr, arrays, size, argnums)
    Y, G, var, todo = run(tr, arrays, nums)
    return finish(tr, arrays, size, var, Y, G, todo, argnums)


def map_jvps(tr, inputs: tuple, tangents: tuple, client=None):
    """``Trace.jvp_map``: ``tr.jvp(x_i, v_i)`` for each sample ``i``, stacked: ``(values, J v)``."""
    arrays, size = _batched(tr, inputs, "Trace.jvp_map")
    vs, vsize = _batched(tr, tangents, "Trace.jvp_map (tangents)")
    if vsize != size:
        raise ValueError(f"Trace.jvp_map: the tangents' batch size {vsize} differs from the inputs' {size}")
    if client is not None:
        return on_cluster[0](client, tr, arrays + vs, size, "jvp")
    return jvp_loop(tr, arrays, vs, size)


def jvp_loop(tr, arrays: tuple, vs: tuple, size: int, redo: Optional[list] = None):
    """``tr.jvp`` at each sample (the tangent sweep runs in Python), stacked (``redo`` as for
    ``finish``)."""
    sig = tr.signature
    typed = tuple(zip(arrays, (d for _, d in sig)))
    vtyped = tuple(zip(vs, (d for _, d in sig)))
    single = tr.variants[0].single
    layout = _layout(tr.variants[0]) * 2
    out = [np.zeros((size,) + shape, dtype.np) for shape, dtype in layout]
    for s in range(size):
        try:
            value, tangent = tr.jvp(_sample(typed, s), _sample(vtyped, s))
        except TraceGuardError:
            if redo is None:
                raise
            redo.append(s)
            continue
        got = (value, tangent) if isinstance(value, Tensor) else value + tangent
        if len(got) != len(layout) or any(t._shape != shape or t._dtype is not dtype
                                           for t, (shape, dtype) in zip(got, layout)):
            raise RuntimeError(f"Trace.jvp_map: at sample {s} the function's results have other shapes or dtypes "
                               f"than at the recorded inputs; they cannot be stacked")
        for a, t in zip(out, got):
            a[s] = t._value()
    ts = [_plain(a, dtype) for a, (_, dtype) in zip(out, layout)]
    half = len(ts) // 2
    return (ts[0], ts[1]) if single else (tuple(ts[:half]), tuple(ts[half:]))


EXTRA.update(map=map_values, grad_map=map_grads, jvp_map=map_jvps)
