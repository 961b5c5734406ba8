"""Both cores for big elementwise rows: parts of a row on Python threads.

numpy's ufuncs and tape's ``nogil`` kernels release the GIL, so plain Python threads run
them on every core at once.  No numba threading layer is involved: numba's ``workqueue``
layer (the one always present) is not safe when several Python threads launch parallel
kernels at once, and the safe ones (``omp``, ``tbb``) need libraries that are not always
installed.  A pool is shared by all threads (several may hand it parts at once; each waits
for its own) and made again in a child process after a fork.

Only elementwise work is split: each element is computed by the same instructions
whichever part it falls in, so results do not depend on the number of threads.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Callable

# Elements per part, at least: handing a part to another thread costs ~70 us here (waking it),
# and a part of fewer elements gains less than that (measured: a fused multiply-add over 1e6
# float32 elements takes 0.41 ms on one thread, 0.35 ms on two; over 4e6, 1.62 and 0.89 ms).
PART = 1 << 18
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
    """Call ``fn(lo, hi)`` for the parts of ``range(n)`` (each of at least ``part`` elements: fewer
    for work that costs more per element than a multiply-add), at the same time, and return when
    all are done."""
    parts = split(n, part)
    if len(parts) == 1:
        fn(0, n)
        return
    pool = _workers()
    pending = [pool.submit(fn, lo, hi) for lo, hi in parts[1:]]
    try:
        fn(*parts[0])
    finally:
        wait(pending)       # (a part still running must not outlive the call, even when one failed)
    for f in pending:
        f.result()
