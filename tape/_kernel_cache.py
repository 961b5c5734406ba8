"""Keep numba's on-disk cache of tape's kernels consistent with their sources.

numba invalidates a cached function when its own file changes, but not when a
jitted function it calls (and inlines) lives in another file that changed: the
sweep in ``tape/_sweep.py`` would keep running old kernels from ``ops/``.  So
the cache files of tape's kernels are dropped whenever any kernel source
differs from the last import's, recorded in a stamp next to them.
"""
from __future__ import annotations

import glob
import hashlib
import os


def _sources(dirs: list) -> list:
    return sorted(p for d in dirs for p in glob.glob(os.path.join(d, "*.py")))


def refresh(tape_dir: str, ops_dir: str) -> None:
    dirs = [tape_dir, ops_dir]
    digest = hashlib.sha256()
    for path in _sources(dirs):
        with open(path, "rb") as f:
            digest.update(f.read())
    stamp = digest.hexdigest()
    stamp_path = os.path.join(tape_dir, "__pycache__", "kernels.stamp")
    try:
        with open(stamp_path) as f:
            if f.read() == stamp:
                return
    except OSError:
        pass
    try:
        for d in dirs:
            for path in glob.glob(os.path.join(d, "__pycache__", "*.nb[ic]")):
                os.remove(path)
        os.makedirs(os.path.dirname(stamp_path), exist_ok=True)
        with open(stamp_path, "w") as f:
            f.write(stamp)
    except OSError:
        pass        # a read-only install: its sources do not change either
