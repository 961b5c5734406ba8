"""Keep numba's on-disk cache of tape's kernels consistent with what they were compiled from.

numba drops a cached function when its own file changes, but a jitted function
compiles the jitted functions it calls (inlined or not) and the module-level
constants it reads (numbers, tuples, numpy arrays: numba freezes them into the
machine code) into its own cache entry.  So the sweep in ``tape/_sweep.py``
would keep running an old adjoint kernel from ``ops/``, and the recorder old
derivative programs (tables that ``tape/_programs.py`` builds from the ops'
``vjp`` rules).  ``refresh`` hashes what compiled code depends on, the bytecode
and options of every jitted function and of everything it reads, and drops the
package's cache files when that differs from the stamp left by the last import.
Editing a front end, a message or a docstring outside a kernel keeps the cache.

It must run before any kernel is called (the end of ``tape/__init__.py``): a
kernel loaded from the cache stays in memory whatever happens to the files.
"""
from __future__ import annotations

import glob
import hashlib
import importlib
import importlib.util
import os
import pkgutil
import re
import sys
import types
from typing import Any

import numba
import numpy as np
from numba.core.dispatcher import Dispatcher
from numba.core.extending import _Intrinsic

# numba names its cache files <module>.<function>-<line>.py<major><minor><abiflags>.nbi / .<n>.nbc.
_TAG = "py%d%d%s" % (sys.version_info[0], sys.version_info[1], getattr(sys, "abiflags", ""))
_IMPORTS_NUMBA = re.compile(rb"^\s*(from|import)\s+numba\b", re.MULTILINE)
_CONSTANTS = (bool, int, float, complex, str, bytes, type(None), np.generic)
_MODULE_DEPTH = 2   # follow ``P.TABLE`` and ``a.b.TABLE`` in kernels, no deeper


def _stable(value: Any) -> str:
    """repr with sets sorted, so the stamp does not depend on string hashing."""
    if isinstance(value, (set, frozenset)):
        return "{" + ",".join(sorted(map(_stable, value))) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k!r}:{_stable(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(map(_stable, value)) + ")"
    return repr(value)


class _Stamp:
    """Walks kernels and what they read, hashing each function once."""

    def __init__(self, package: str) -> None:
        self.package = package
        self.digest = hashlib.sha256(f"numba {numba.__version__} boundscheck {numba.config.BOUNDSCHECK} "
                                     f"opt {numba.config.OPT}".encode())
        self.seen: set[int] = set()

    def add(self, text: str) -> None:
        self.digest.update(text.encode())
        self.digest.update(b"\0")

    def function(self, func: types.FunctionType, options: dict | None = None) -> None:
        """A function's code (not its line numbers), options, defaults, closure and the globals it reads."""
        self.add(f"def {func.__module__}.{func.__qualname__}")
        if id(func) in self.seen:
            return
        self.seen.add(id(func))
        self.add(_stable(options))
        names: set[str] = set()
        self.code(func.__code__, names)
        for value in func.__defaults__ or ():
            self.value(value, names, 0)
        for cell in func.__closure__ or ():
            self.value(cell.cell_contents, names, 0)
        for name in sorted(names):
            if name in func.__globals__:
                self.add(f"global {name}")
                self.value(func.__globals__[name], names, 0)

    def code(self, code: types.CodeType, names: set[str]) -> None:
        self.digest.update(code.co_code)
        self.digest.update(getattr(code, "co_exceptiontable", b""))
        self.add(repr((code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars, code.co_argcount,
                       code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags)))
        names.update(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                self.code(const, names)
            else:
                self.add(_stable(const))

    def value(self, value: Any, names: set[str], depth: int) -> None:
        """What compiled code takes from a global: a constant's value, a function's code, a module's
        attributes named in the kernel; anything else (a type, a numpy function) by its name.  A list
        or a dict only by its type: numba cannot compile one in, and some are a process's state that
        differs between processes sharing a cache (``warnings.filters``: pytest's, ``-W error``,
        those ``import torch`` adds), which would have each drop the kernels the other compiled."""
        if isinstance(value, np.ndarray):
            self.add(f"array {value.dtype.str} {value.shape}")
            self.digest.update(np.ascontiguousarray(value).tobytes())
        elif isinstance(value, _CONSTANTS):
            self.add(f"{type(value).__name__} {value!r}")
        elif isinstance(value, tuple):
            self.add(f"tuple {len(value)}")
            for item in value:
                self.value(item, names, depth)
        elif isinstance(value, Dispatcher):
            self.function(value.py_func, value.targetoptions)
        elif isinstance(value, types.FunctionType) and _within(value.__module__, self.package):
            self.function(value)        # register_jitable and the like
        elif isinstance(value, _Intrinsic) and _within(value._defn.__module__, self.package):
            self.function(value._defn)  # its code generator writes into its callers' code
        elif isinstance(value, types.ModuleType):
            self.add(f"module {value.__name__}")
            if depth < _MODULE_DEPTH:
                attributes = vars(value)    # not getattr: a module's __getattr__ may import things
                for name in sorted(names & attributes.keys()):
                    self.add(f"attribute {name}")
                    self.value(attributes[name], names, depth + 1)
        else:
            self.add(f"{type(value).__module__}.{type(value).__qualname__} "
                     f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', getattr(value, '__name__', ''))}")


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _uses_numba(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return _IMPORTS_NUMBA.search(f.read()) is not None
    except OSError:
        return False


def _modules(package: str) -> list[types.ModuleType]:
    """The modules of ``package`` and its subpackages (``tape.ops`` is not in ``tape``'s folder in a
    checkout); one that imports numba is imported if it was not."""
    modules, pending, seen = [], [m for m in list(sys.modules) if _within(m, package)], set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        module = sys.modules.get(name)
        if module is None:
            spec = importlib.util.find_spec(name)
            if spec is None:
                continue
            if spec.origin and _uses_numba(spec.origin):
                module = importlib.import_module(name)
            paths = spec.submodule_search_locations or []
        else:
            paths = getattr(module, "__path__", [])
        if module is not None:
            modules.append(module)
        pending += [info.name for info in pkgutil.iter_modules(paths, name + ".")]
    return modules


def kernels(package: str) -> list[Dispatcher]:
    """The jitted functions defined at module level in ``package``, in a fixed order."""
    found = {}
    for module in _modules(package):
        for value in vars(module).values():
            if isinstance(value, Dispatcher) and value.py_func.__module__ == module.__name__:
                found[(module.__name__, value.py_func.__qualname__)] = value
    return [found[k] for k in sorted(found)]


def stamp(package: str, found: list[Dispatcher]) -> str:
    """A hash of everything the compiled ``found`` kernels of ``package`` depend on."""
    walker = _Stamp(package)
    for kernel in found:
        walker.value(kernel, set(), 0)
    return walker.digest.hexdigest()


def refresh(package: str) -> None:
    """Drop the cached kernels of ``package`` in every cache folder whose stamp is not the current one.

    First, every kernel is set to compile without numba's C-callable wrapper (its ``cfunc`` entry point,
    which tape never calls: kernels are called from Python, from each other, or by address): code
    that numba would generate, optimize and emit for each compiled function, ~0.2-0.6 s of a cold
    first backward.  (Before the stamp, which holds each kernel's options.)"""
    found = kernels(package)
    for kernel in found:
        kernel.targetoptions["no_cfunc_wrapper"] = True
    current = stamp(package, found)
    folders = {getattr(k._cache, "cache_path", None) for k in found} - {None}
    for folder in sorted(folders):
        stamp_path = os.path.join(folder, f"{package}-kernels.{_TAG}.stamp")
        try:
            with open(stamp_path) as f:
                if f.read() == current:
                    continue
        except OSError:
            pass
        try:
            for path in glob.glob(os.path.join(folder, f"*.{_TAG}.nbi")) + glob.glob(
                    os.path.join(folder, f"*.{_TAG}.*.nbc")):
                os.remove(path)
            os.makedirs(folder, exist_ok=True)
            with open(stamp_path, "w") as f:
                f.write(current)
        except OSError:
            pass        # a read-only install: its sources do not change either
