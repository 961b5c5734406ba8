"""Batch replay on the workers of a ``dask.distributed`` cluster (``Trace.map(..., client=)``).

The trace goes to the workers as the bytes of its saved file (``tape/_trace_io.py``: no
pickled object, no code; each worker loads it once and keeps it), the batch in one partition
per worker thread.  Each worker runs its partition as ``Trace.map`` does on one machine (the
compiled batch kernel, single replays for the samples it leaves), so each result is bitwise the
local one.  A sample whose guard fails there (another branch: the loaded trace cannot record
the function again) comes back and runs here, where the trace records it as a loop would.

Needs the optional extra: ``pip install 'tape[dask]'``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import threading

import numpy as np

from . import _batch
from ._batch import _layout, _sample, finish, jvp_loop, run
from ._tensor import _plain
from ._trace import _argnums
from ._trace_io import load_trace, to_bytes

__all__ = ["run_on"]

_loaded: dict = {}      # on a worker: file hash -> the loaded trace (the last few)
_lock = threading.Lock()
KEEP = 4


def _trace_of(data: bytes, key: str):
    with _lock:
        tr = _loaded.get(key)
        if tr is None:
            tr = _loaded[key] = load_trace(data)
            while len(_loaded) > KEEP:
                del _loaded[next(iter(_loaded))]
        return tr


def _part(data: bytes, key: str, kind, arrays: tuple, argnums):
    """On a worker: one partition's results (numpy arrays) and the samples to run again at the
    client (a guard failed)."""
    tr = _trace_of(data, key)
    size = arrays[0].shape[0]
    redo: list = []
    with _lock:     # (a trace's arenas are not for two threads at once)
        if kind == "jvp":
            k = len(arrays) // 2
            values, tangents = jvp_loop(tr, arrays[:k], arrays[k:], size, redo)
            got = (values, tangents) if not isinstance(values, tuple) else values + tangents
        else:
            nums = None if kind is None else _argnums(argnums, len(tr.signature))
            Y, G, var, todo = run(tr, arrays, nums)
            got = finish(tr, arrays, size, var, Y, G, todo, argnums, redo)
    got = (got,) if not isinstance(got, tuple) else got
    return [t.numpy() for t in got], redo


def run_on(client, tr, arrays: tuple, size: int, kind):
    """``kind``: None (values), an argnums (gradients) or ``"jvp"`` (``arrays``: inputs, then
    tangents)."""
    if importlib.util.find_spec("distributed") is None:
        raise ImportError("Trace.map(..., client=...) runs the batch on a dask.distributed cluster, and dask is not "
                          "installed: pip install 'tape[dask]'")
    var = tr.variants[0]
    data = to_bytes(tr)
    key = hashlib.sha256(data).hexdigest()
    threads = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()) or 1
    parts = max(1, min(size, threads))
    bounds = [size * i // parts for i in range(parts + 1)]
    blob = client.scatter(data, broadcast=True)
    jobs = [client.submit(_part, blob, key, kind if kind in (None, "jvp") else "grad",
                          tuple(a[lo:hi] for a in arrays), kind if kind not in (None, "jvp") else None, pure=False)
            for lo, hi in zip(bounds[:-1], bounds[1:])]
    results = client.gather(jobs)
    outs = [np.concatenate(col) for col in zip(*(r[0] for r in results))]
    redo = [lo + s for (lo, r) in zip(bounds, results) for s in r[1]]
    sig = tr.signature
    if kind is None:
        layout = _layout(var)
        single = var.single
    elif kind == "jvp":
        layout = _layout(var) * 2
        single = var.single
    else:
        layout = [sig[i] for i in _argnums(kind, len(sig))]
        single = isinstance(kind, int)
    k = len(sig)
    typed = tuple(zip(arrays[:k], (d for _, d in sig)))
    for s in redo:
        x = _sample(typed, s)
        if kind is None:
            got = tr(*x)
        elif kind == "jvp":
            value, tangent = tr.jvp(x, _sample(tuple(zip(arrays[k:], (d for _, d in sig))), s))
            got = (value, tangent) if single else value + tangent
        else:
            got = tr.value_and_grad(*x, argnums=kind)[1]
        got = (got,) if not isinstance(got, tuple) else got
        for a, t in zip(outs, got):
            a[s] = t._value()
    ts = [_plain(a, d) for a, (_, d) in zip(outs, layout)]
    if kind == "jvp":
        half = len(ts) // 2
        return (ts[0], ts[1]) if single else (tuple(ts[:half]), tuple(ts[half:]))
    return ts[0] if single else tuple(ts)


_batch.on_cluster[0] = run_on
