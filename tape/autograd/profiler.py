"""``tape.autograd.profiler``: the time each op call and each :class:`record_function` range takes.

While a :class:`profile` is active, the Tensor methods and ``tape`` functions (every op's front
end) are swapped for timing wrappers (put back when the last profile ends: no cost otherwise).
Each call is one :class:`~tape.autograd.profiler_util.FunctionEvent` named as PyTorch's dispatcher
names the op (``aten::mul`` for ``x * y``), with the calls it made inside as its children.  A
backward's compiled sweep runs no front ends: it shows no events (the ops a custom Function's
``backward`` calls do).
"""
from __future__ import annotations

import contextlib
import itertools
import sys
import threading
import time
import types
from typing import Any, Callable, Optional

from .._tensor import Tensor
from ..ops import PUBLIC
from .profiler_util import EventList, FunctionEvent

__all__ = ["profile", "record_function", "emit_nvtx", "EventList", "FunctionEvent"]

_local = threading.local()      # ``stack``: this thread's open events
_lock = threading.Lock()
_profiles: list = []            # the active profiles (any thread): each event goes to each of them
_originals: dict = {}           # (owner, name) -> the member its wrapper replaced, while a profile is active
_ids = itertools.count(1)
_clock = time.perf_counter_ns

# PyTorch's dispatcher names of the Python operators (``__rmul__`` is aten::mul, ``__imul__`` aten::mul_)
_OPERATORS = {"truediv": "div", "floordiv": "floor_divide", "mod": "remainder", "and": "bitwise_and",
              "or": "bitwise_or", "xor": "bitwise_xor", "invert": "bitwise_not", "lshift": "bitwise_left_shift",
              "rshift": "bitwise_right_shift", "getitem": "index", "setitem": "index_put_", "pos": "positive"}


def _aten_name(name: str) -> str:
    if name.startswith("__") and name.endswith("__"):
        base = name[2:-2]
        inplace = base.startswith("i") and base[1:] in _BINARY
        if inplace or base.startswith("r") and base[1:] in _BINARY:
            base = base[1:]
        base = _OPERATORS.get(base, base)
        return "aten::" + base + ("_" if inplace else "")
    return "aten::" + name.lstrip("_")


_FACTORIES = ("tape._creation", "tape._random")      # (modules of ``tape.ones``, ``tape.randn`` ...)
_BINARY = {"add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor", "lshift",
           "rshift"}


def _stack() -> list:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def _open(name: str, shapes: Optional[list], user: bool = False) -> FunctionEvent:
    event = FunctionEvent(next(_ids), name, threading.get_ident(), 0.0, 0.0, input_shapes=shapes,
                          is_user_annotation=user)
    stack = _stack()
    if stack:
        event.set_cpu_parent(stack[-1])
        stack[-1].append_cpu_child(event)
    stack.append(event)
    event.time_range.start = _clock() / 1e3
    return event


def _close(event: FunctionEvent) -> None:
    event.time_range.end = _clock() / 1e3
    stack = _stack()
    if stack and stack[-1] is event:
        stack.pop()
    for prof in list(_profiles):
        prof._events.append(event)


def _timed(fn: Callable, name: str) -> Callable:
    def call(*args, **kwargs):
        if not _profiles:
            return fn(*args, **kwargs)
        shapes = ([list(a._shape) if isinstance(a, Tensor) else [] for a in args]
                  if any(p.record_shapes for p in _profiles) else None)
        event = _open(name, shapes)
        try:
            return fn(*args, **kwargs)
        finally:
            _close(event)
    call.__name__, call.__qualname__, call.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    call.__wrapped__ = fn
    call._timed = True
    return call


def _begin(prof: "profile") -> None:
    with _lock:
        if not _profiles:
            package = sys.modules[__name__.split(".")[0]]       # (``tape``: its functions)
            members = [(owner, name) for entry in PUBLIC
                       for owner, names in ((Tensor, entry.methods), (package, entry.functions)) for name in names]
            members += [(package, name) for name, member in vars(package).items()
                        if isinstance(member, types.FunctionType) and member.__module__ in _FACTORIES]
            for owner, name in members:
                member = vars(owner).get(name)
                if callable(member) and (owner, name) not in _originals:
                    _originals[owner, name] = member
                    setattr(owner, name, _timed(member, _aten_name(name)))
        _profiles.append(prof)


def _end(prof: "profile") -> None:
    with _lock:
        _profiles.remove(prof)
        if not _profiles:
            for (owner, name), member in _originals.items():
                now = vars(owner).get(name)
                if getattr(now, "_timed", False) and now.__wrapped__ is member:     # (not replaced meanwhile)
                    setattr(owner, name, member)
            _originals.clear()


class profile:
    r"""Context manager that records the time of each op call (and of each :class:`record_function`
    range) while it is active::

        with tape.autograd.profiler.profile() as prof:
            y = (x * 2).sum()
        print(prof.key_averages().table(sort_by="self_cpu_time_total"))

    The events are in ``prof.function_events`` once it has exited.  Only CPU times are measured
    (``use_cuda``, ``profile_memory``, ``with_flops``, ``with_stack`` and ``with_modules`` are
    accepted and record nothing more); ``record_shapes=True`` keeps each call's input shapes.
    """

    def __init__(self, enabled: bool = True, *, use_cuda: bool = False, use_device: Optional[str] = None,
                 record_shapes: bool = False, with_flops: bool = False, profile_memory: bool = False,
                 with_stack: bool = False, with_modules: bool = False, use_kineto: bool = False,
                 use_cpu: bool = True, experimental_config: Any = None, acc_events: bool = False,
                 custom_trace_id_callback: Optional[Callable] = None) -> None:
        if use_cuda or use_device not in (None, "cpu"):
            raise AssertionError("Torch not compiled with CUDA enabled")
        self.enabled = enabled
        self.record_shapes = record_shapes
        self.use_cpu = use_cpu
        self.entered = False
        self.function_events: Optional[EventList] = None
        self._events: list = []

    def __enter__(self) -> "profile":
        if not self.enabled:
            return self
        if self.entered:
            raise RuntimeError("Profiler context manager is not reentrant")
        self.entered = True
        self._events = []
        _begin(self)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb) -> bool:
        if not self.enabled:
            return False
        _end(self)
        self.function_events = EventList(sorted(self._events, key=lambda e: (e.time_range.start, e.id)))
        return False

    def _check_finish(self) -> None:
        if self.function_events is None:
            raise RuntimeError("Profiler didn't finish running")

    def events(self) -> EventList:
        self._check_finish()
        return self.function_events

    def table(self, sort_by: Optional[str] = None, row_limit: int = 100, max_src_column_width: int = 75,
              max_name_column_width: int = 55, max_shapes_column_width: int = 80, header: Optional[str] = None,
              top_level_events_only: bool = False) -> str:
        """The events as a table (:meth:`EventList.table`)."""
        self._check_finish()
        return self.function_events.table(sort_by, row_limit, max_src_column_width, max_name_column_width,
                                          max_shapes_column_width, header, top_level_events_only)

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> EventList:
        """The events averaged by name (and input shapes: ``group_by_input_shape``, which needs
        ``record_shapes=True``)."""
        self._check_finish()
        return self.function_events.key_averages(group_by_input_shape, group_by_stack_n, group_by_overload_name)

    def total_average(self):
        self._check_finish()
        return self.function_events.total_average()

    @property
    def self_cpu_time_total(self) -> float:
        """The total time of all events, each counted without its children's (microseconds)."""
        self._check_finish()
        return self.function_events.self_cpu_time_total

    def export_chrome_trace(self, path: str) -> None:
        """Write the events as a Chrome trace (JSON)."""
        self._check_finish()
        self.function_events.export_chrome_trace(path)

    def __str__(self) -> str:
        self._check_finish()
        return str(self.function_events)


class record_function(contextlib.ContextDecorator):
    r"""Context manager (or decorator) naming a range of code: while a :class:`profile` is active,
    the range is an event of its own named ``name``, whose children are the ops called inside."""

    def __init__(self, name: str, args: Optional[str] = None) -> None:
        self.name = name
        self.args = args
        self._event: Optional[FunctionEvent] = None

    def __enter__(self) -> "record_function":
        if _profiles:
            self._event = _open(self.name, None, user=True)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb) -> bool:
        if self._event is not None:
            _close(self._event)
            self._event = None
        return False


class emit_nvtx:
    """Context manager that makes every op emit an NVTX range, for NVIDIA's profilers: tape runs on
    the CPU only, so entering it raises PyTorch's error of a build without CUDA."""

    def __init__(self, enabled: bool = True, record_shapes: bool = False) -> None:
        self.enabled = enabled
        self.record_shapes = record_shapes

    def __enter__(self) -> "emit_nvtx":
        if self.enabled:
            raise AssertionError("Torch not compiled with CUDA enabled")
        return self

    def __exit__(self, exc_type, exc_val, exc_tb) -> bool:
        return False


def _profiler_enabled() -> bool:
    """Whether a profile is active."""
    return bool(_profiles)


def kineto_available() -> bool:
    """Whether PyTorch's Kineto profiler is there: never in tape (its profile is its own)."""
    return False

