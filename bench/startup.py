"""Start-up cost: wall time of `python -c "import X"` in a fresh interpreter, and tape's first calls."""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter

STARTUP_REPEATS = 3
# Bare interpreter first: it is the floor the imports are compared with.
STARTUP_MODULES = (None, "tape", "torch")
FIRST_CALLS_TIMEOUT_S = 600.0

# Prints the wall times, then the CPU times (which other load on the machine does not inflate), of
# `import tape`, the first backward() (compiles the sweep and the adjoint kernels of the op families
# its rows use), the first grad(create_graph=True) (with nothing compiled or cached, the recording
# sweep's first tier: each row's rule in Python) and the same once that tier's rows are spent
# (compiles the recording sweep and the forward kernels of the families of the rows it writes).
FIRST_CALLS = """
from time import perf_counter, process_time
t = [(perf_counter(), process_time())]
import tape
from tape import _record
t.append((perf_counter(), process_time()))
x = tape.tensor([0.5, -1.0, 2.0], requires_grad=True)
(x.sin() * x).sum().backward()
t.append((perf_counter(), process_time()))
g, = tape.autograd.grad((x.sin() * x).sum(), x, create_graph=True)
t.append((perf_counter(), process_time()))
_record._Tier.rows_left = 0
g, = tape.autograd.grad((x.sin() * x).sum(), x, create_graph=True)
t.append((perf_counter(), process_time()))
print(*[b[k] - a[k] for k in (0, 1) for a, b in zip(t, t[1:])])
"""
FIRST_CALLS_STEPS = ("import tape", "first backward()", "first create_graph=True backward",
                     "compiled recording sweep")


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


def _first_calls_once(cwd: Path, env: dict[str, str]) -> list[float] | None:
    try:
        proc = subprocess.run([sys.executable, "-c", FIRST_CALLS], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=FIRST_CALLS_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode:
        return None
    return [float(t) for t in proc.stdout.split()[-2 * len(FIRST_CALLS_STEPS):]]


def first_calls(root: Path, cold: bool) -> list[float] | None:
    """Wall seconds for each of FIRST_CALLS_STEPS in a fresh process, then CPU seconds; None if it fails.

    Warm: the checkout as it is (median of STARTUP_REPEATS runs, so a stale cache
    recompiled by the first run does not count).  Cold: a copy of tape/ and ops/
    without __pycache__ and an empty NUMBA_CACHE_DIR, so the kernels the calls use
    compile, as on the first run after installing.
    """
    if not cold:
        runs = [_first_calls_once(root, dict(os.environ)) for _ in range(STARTUP_REPEATS)]
        if None in runs:
            return None
        return [statistics.median(step) for step in zip(*runs, strict=True)]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(root / "tape", src / "tape", ignore=ignore)
        # ops/ is installed as tape.ops; inside the copy's tape/ an editable install cannot redirect it.
        shutil.copytree(root / "ops", src / "tape" / "ops", ignore=ignore)
        env = {**os.environ, "PYTHONPATH": str(src), "NUMBA_CACHE_DIR": str(Path(tmp) / "numba-cache")}
        return _first_calls_once(Path(tmp), env)
