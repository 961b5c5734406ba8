"""Start-up cost: wall time of `python -c "import X"` in a fresh interpreter."""
from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path
from time import perf_counter

STARTUP_REPEATS = 3
# Bare interpreter first: it is the floor the imports are compared with.
STARTUP_MODULES = (None, "tape", "torch")


def startup_time(module: str | None, cwd: Path) -> float | None:
    """Median seconds to start python and import `module` (None: nothing); None if it fails."""
    code = "pass" if module is None else f"import {module}"
    times = []
    for _ in range(STARTUP_REPEATS):
        t0 = perf_counter()
        proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True)
        times.append(perf_counter() - t0)
        if proc.returncode:
            return None
    return statistics.median(times)
