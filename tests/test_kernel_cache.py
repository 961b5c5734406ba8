"""The kernel cache stamp (``tape/_kernel_cache.py``): what drops numba's cache and what keeps it.

numba itself recompiles a cached function only when its own file changes; a
sweep that inlines a kernel from another file, or reads a table built elsewhere,
needs the stamp.  The stamp must change with every kernel's code and with the
constants kernels read, and must not change with anything else (editing a
front end or a message must not cost a cold compile).
"""
from __future__ import annotations

import ast
import gc
import json
import os
import shutil
import subprocess
import sys
import textwrap
import types
import warnings
import weakref
from pathlib import Path

import numpy as np
from numba.core.dispatcher import Dispatcher
from numba.core.extending import _Intrinsic

import tape
from tape import _kernel_cache as K

ROOT = Path(tape.__file__).resolve().parent
OPS = Path(tape.ops.__file__).resolve().parent


def _run(code: str, cwd: Path, **env: str) -> str:
    full = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    full.update(PYTHONPATH=str(cwd), **env)
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=full, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


# A package shaped like tape: a kernel inlined across files, a constant it reads, a table built
# at import from plain Python rules (as tape/_programs.py builds programs from the ops' vjp rules).
TOY = {
    "__init__.py": """
        import importlib.util
        spec = importlib.util.spec_from_file_location("toy_kernel_cache", {cache!r})
        cache = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(cache)
        from . import front, outer  # noqa: F401
        cache.refresh(__name__)
        """,
    "rules.py": """
        def rule():
            return 3
        """,
    "tables.py": """
        import numpy as np
        from .rules import rule
        TABLE = np.array([rule()], np.int64)
        """,
    "inner.py": """
        from numba import njit
        K = 1.0

        @njit(cache=True, inline="always")
        def inner(x):
            return x + K
        """,
    "outer.py": """
        from numba import njit
        from .inner import inner
        from .tables import TABLE

        @njit(cache=True)
        def outer(x):
            return inner(x) * TABLE[0]
        """,
    "front.py": """
        def check(x):
            if x < 0:
                raise ValueError("x must be nonnegative")
        """,
}
TOY_RUN = "import toy.outer as o; print(o.outer(1.0), sum(o.outer.stats.cache_hits.values()))"


def test_kernels_recompile_when_a_kernel_or_what_it_reads_changes(tmp_path):
    pkg = tmp_path / "toy"
    pkg.mkdir()
    for name, text in TOY.items():
        (pkg / name).write_text(textwrap.dedent(text).format(cache=str(ROOT / "_kernel_cache.py")))

    def edit(name, old, new):
        path = pkg / name
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))
        return _run(TOY_RUN, tmp_path)

    assert _run(TOY_RUN, tmp_path) == "6.0 0"                   # (1 + 1) * 3, compiled
    assert _run(TOY_RUN, tmp_path) == "6.0 1"                   # loaded from the cache
    assert edit("front.py", "nonnegative", "at least 0") == "6.0 1"
    # Lines move and a docstring changes in the kernel's own file: numba recompiles ``inner``
    # (not called here) but ``outer``, which inlines it, is still good.
    assert edit("inner.py", "from numba", '"""Inner kernel."""\n\nfrom numba') == "6.0 1"
    # Each of these would leave ``outer`` returning 6.0 from its stale cache entry.
    assert edit("inner.py", "return x + K", "return x + K + 1.0") == "9.0 0"
    assert edit("inner.py", "K = 1.0", "K = 2.0") == "12.0 0"
    assert edit("rules.py", "return 3", "return 5") == "20.0 0"
    assert _run(TOY_RUN, tmp_path) == "20.0 1"


def _copy_package(dest: Path) -> Path:
    """tape with its ops at tape/ops, as installed, without caches."""
    src = dest / "src"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT, src / "tape", ignore=ignore)
    shutil.copytree(OPS, src / "tape" / "ops", ignore=ignore)
    return src


FOLDERS = ("import json, tape, tape._kernel_cache as K; "
           "print(json.dumps(sorted({k._cache.cache_path for k in K.kernels('tape')})))")


def _seed_cache(folders: list[str]) -> list[Path]:
    """One fake cache entry per folder: the test sees whether refresh drops it."""
    entries = []
    for folder in folders:
        for name in (f"fake.kernel-1.{K._TAG}.nbi", f"fake.kernel-1.{K._TAG}.1.nbc"):
            entries.append(Path(folder) / name)
            entries[-1].write_bytes(b"")
    return entries


def test_edits_outside_kernels_keep_the_cache_and_kernel_edits_drop_it(tmp_path):
    src = _copy_package(tmp_path)
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    folders = json.loads(_run(FOLDERS, src, **env))
    assert folders and all(f.startswith(env["NUMBA_CACHE_DIR"]) for f in folders)
    entries = _seed_cache(folders)
    # Every line of every module moves and every module gains a function with a message.
    for path in src.rglob("*.py"):
        text = path.read_text()
        path.write_text("# edited: every line moves\n" + text
                        + '\n\ndef _edited():\n    raise ValueError("a new message")\n')
    assert json.loads(_run(FOLDERS, src, **env)) == folders
    assert all(e.exists() for e in entries)

    # One statement added to one kernel of ops/, chosen without naming it.
    kernel = next(k for k in K.kernels("tape") if k.py_func.__module__.startswith("tape.ops."))
    rel = Path(kernel.py_func.__code__.co_filename).resolve().relative_to(OPS)
    path = src / "tape" / "ops" / rel
    text = path.read_text()
    node = next(n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef)
                and n.name == kernel.py_func.__name__ and n.lineno >= kernel.py_func.__code__.co_firstlineno)
    lines = text.splitlines(keepends=True)
    lines.insert(node.body[0].lineno - 1, " " * node.body[0].col_offset + "_edited = 1\n")
    path.write_text("".join(lines))
    _run(FOLDERS, src, **env)
    assert not any(e.exists() for e in entries)


def test_the_stamp_covers_every_kernel_and_the_arrays_they_read():
    walker = K._Stamp("tape")
    for kernel in K.kernels("tape"):
        walker.value(kernel, set(), 0)
    # (an earlier test can leave a dead weak proxy among gc's objects: isinstance would raise on it)
    live = [o for o in gc.get_objects() if type(o) not in weakref.ProxyTypes]
    made = [o for o in live if isinstance(o, Dispatcher) and K._within(o.py_func.__module__, "tape")]
    missed = [f"{d.py_func.__module__}.{d.py_func.__qualname__}" for d in made if id(d.py_func) not in walker.seen]
    assert made and not missed, f"jitted functions the stamp does not see: {missed}"
    # Intrinsics (``_lazy.call``) write code into the kernels that call them.
    intrinsics = [o for o in live if isinstance(o, _Intrinsic) and K._within(o._defn.__module__, "tape")]
    assert intrinsics and all(id(i._defn) in walker.seen for i in intrinsics)

    # Every array a kernel reads (a module global, or a module's attribute: ``P.TABLE``), such
    # as the recorder's derivative programs, is in the stamp: changing one element changes it.
    read = {}
    for kernel in K.kernels("tape"):
        code, names = [kernel.py_func.__code__], set()
        while code:
            c = code.pop()
            names.update(c.co_names)
            code += [k for k in c.co_consts if isinstance(k, types.CodeType)]
        for name in names:
            value = kernel.py_func.__globals__.get(name)
            values = [vars(value).get(n) for n in names] if isinstance(value, types.ModuleType) else [value]
            read.update({id(v): v for v in values if isinstance(v, np.ndarray) and v.size})
    assert len(read) >= 5
    before = K.stamp("tape", K.kernels("tape"))
    for array in read.values():
        old = array.flat[0]
        array.flat[0] = old + 1
        try:
            assert K.stamp("tape", K.kernels("tape")) != before
        finally:
            array.flat[0] = old
    assert K.stamp("tape", K.kernels("tape")) == before


def test_the_stamp_does_not_depend_on_the_warning_filters():
    """Processes sharing a cache differ in their warning filters (pytest's, ``-W error``, those
    ``import torch`` adds): each must find the stamp the last one left, not drop its kernels."""
    before = K.stamp("tape", K.kernels("tape"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message="a filter of this test", category=UserWarning)
        assert K.stamp("tape", K.kernels("tape")) == before
    # fresh processes with none of pytest's filters and others of their own (compared with each other: in this
    # process, tests that ran earlier may have left module state that the stamp reads, which its import did not see)
    code = "import tape, tape._kernel_cache as K; print(K.stamp('tape', K.kernels('tape')))"
    assert _run(code, ROOT.parent, PYTHONWARNINGS="ignore::ResourceWarning") == \
        _run(code, ROOT.parent, PYTHONWARNINGS="error::DeprecationWarning,ignore::UserWarning,default::FutureWarning")


def test_no_kernel_runs_before_the_cache_is_checked():
    code = ("import tape, tape._kernel_cache as K; "
            "print(sorted(k.py_func.__qualname__ for k in K.kernels('tape') if k.overloads))")
    assert _run(code, ROOT.parent) == "[]"
