"""Both cores for big elementwise rows: parts of a row on Python threads.

numpy's ufuncs and tape's ``nogil`` kernels release the GIL, so plain Python threads run
them on every core at once.  No numba threading layer is involved: numba's ``workqueue``
layer (the one always present) is not safe when several Python threads launch parallel
kernels at once, and the safe ones (``omp``, ``tbb``) need libraries that are not always
installed.  A pool is shared by all threads (several may hand it parts at once; each waits
for its own) and made again in a child process after a fork.

Only elementwise work is split (or rows reduced by the same calls in any piece): each element
is computed by the same instructions whichever piece it falls in, so results do not depend on
the number of threads.  The pieces are taken in turn (``run``), so a loaded machine, where a
core is another process's for a while, costs no more than one thread would.
"""
from __future__ import annotations

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Callable

# Elements per part, at least: handing a part to another thread costs ~70 us here (waking it),
# and a part of fewer elements gains less than that (measured: a fused multiply-add over 1e6
# float32 elements takes 0.41 ms on one thread, 0.35 ms on two; over 4e6, 1.62 and 0.89 ms).
PART = 1 << 18
# Pieces per core's share (``run``): the threads take them in turn.
PIECES = 4
try:
    CORES = len(os.sched_getaffinity(0))
except AttributeError:      # (not on every platform)
    CORES = os.cpu_count() or 1

_pool = None
_pool_pid = 0
_lock = threading.Lock()


def _workers() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(CORES - 1, thread_name_prefix="tape")
            _pool_pid = os.getpid()
        return _pool


def split(n: int, part: int = 0) -> list:
    """``[(lo, hi), ...]``: ``range(n)`` in as many parts as there are cores, each of at least ``part``
    elements (``PART`` if not given; one part when ``n`` is small or there is one core)."""
    k = max(1, min(CORES, n // (part or PART)))
    return [(n * i // k, n * (i + 1) // k) for i in range(k)]


def run(fn: Callable[[int, int], None], n: int, part: int = 0) -> None:
    """Call ``fn(lo, hi)`` for pieces covering ``range(n)`` (at least ``part`` elements per core:
    fewer for work that costs more per element than a multiply-add), on all cores at once, and
    return when all are done.

    Each core's share comes in ``PIECES`` pieces that the threads take in turn, so that a core
    another process holds does not hold the call up: the threads that run do its pieces (and a
    thread that has not started by the end is not waited for)."""
    k = len(split(n, part))
    if k == 1:
        fn(0, n)
        return
    m = k * PIECES
    bounds = [n * i // m for i in range(m + 1)]
    taken = itertools.count()       # (``next`` on a count is atomic: each piece is taken once)

    def work() -> None:
        for i in taken:
            if i >= m:
                return
            fn(bounds[i], bounds[i + 1])

    pool = _workers()
    pending = [pool.submit(work) for _ in range(k - 1)]
    try:
        work()
    finally:
        # (one not started is dropped: nothing is left for it; a piece still running must not
        # outlive the call, even when one failed)
        pending = [f for f in pending if not f.cancel()]
        wait(pending)
    for f in pending:
        f.result()
