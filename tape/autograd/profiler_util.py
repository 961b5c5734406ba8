"""The events a :class:`tape.autograd.profiler.profile` collects, as PyTorch's ``profiler_util`` shows them:
``FunctionEvent`` (one call), ``FunctionEventAvg`` (the calls of one name together) and ``EventList``
(a list of either, with ``table``, ``key_averages``, ``total_average`` and ``export_chrome_trace``).
Times are in microseconds of wall-clock time."""
from __future__ import annotations

import json
from typing import Optional

__all__ = ["EventList", "FunctionEvent", "FunctionEventAvg", "Interval"]


def _format_time(time_us: float) -> str:
    """A time in microseconds as PyTorch's tables print it (``1.234ms``)."""
    if time_us >= 1e6:
        return f"{time_us / 1e6:.3f}s"
    if time_us >= 1e3:
        return f"{time_us / 1e3:.3f}ms"
    return f"{time_us:.3f}us"


def _format_time_share(time_us: float, total_time_us: float) -> str:
    """A time as a percentage of the total (``NaN`` for a total of zero)."""
    if total_time_us == 0:
        return "NaN"
    return f"{time_us * 100.0 / total_time_us:.2f}%"


class Interval:
    """A time range, in microseconds."""

    def __init__(self, start: float, end: float) -> None:
        self.start = start
        self.end = end

    def elapsed_us(self) -> float:
        return self.end - self.start


class _Times:
    """The per-call time and the formatted times both event kinds show."""

    @property
    def cpu_time(self) -> float:
        return self.cpu_time_total / max(self.count, 1)

    # (tape runs on the CPU: no device time)
    device_time_total = self_device_time_total = device_time = 0.0

    cpu_time_str = property(lambda self: _format_time(self.cpu_time))
    cpu_time_total_str = property(lambda self: _format_time(self.cpu_time_total))
    self_cpu_time_total_str = property(lambda self: _format_time(self.self_cpu_time_total))


class FunctionEvent(_Times):
    """One profiled call: an op (``aten::mul``) or a :class:`record_function` range."""

    def __init__(self, id: int, name: str, thread: int, start_us: float, end_us: float,
                 overload_name: Optional[str] = None, fwd_thread: Optional[int] = None,
                 input_shapes: Optional[list] = None, stack: Optional[list] = None, scope: int = 0,
                 use_device: Optional[str] = None, cpu_memory_usage: int = 0, device_memory_usage: int = 0,
                 is_async: bool = False, is_remote: bool = False, sequence_nr: int = -1, node_id: int = -1,
                 device_type: str = "CPU", device_index: int = 0, device_resource_id: Optional[int] = None,
                 is_legacy: bool = False, flops: Optional[int] = None, trace_name: Optional[str] = None,
                 concrete_inputs: Optional[list] = None, kwinputs: Optional[dict] = None,
                 is_user_annotation: bool = False) -> None:
        self.id = id
        self.node_id = node_id
        self.name = name
        self.overload_name = "" if overload_name is None else overload_name
        self.trace_name = trace_name
        self.thread = thread
        self.fwd_thread = fwd_thread
        self.time_range = Interval(start_us, end_us)
        self.input_shapes = input_shapes if input_shapes is not None else []
        self.concrete_inputs = concrete_inputs
        self.kwinputs = kwinputs
        self.is_user_annotation = is_user_annotation
        self.sequence_nr = sequence_nr
        self.cpu_children: list = []
        self.cpu_parent: Optional[FunctionEvent] = None
        self.count = 1
        self.is_async = is_async
        self.is_remote = is_remote
        self.use_device = use_device
        self.device_type = device_type
        self.device_index = device_index
        self.device_resource_id = thread if device_resource_id is None else device_resource_id
        self.is_legacy = is_legacy
        self.stack: list = [] if stack is None else stack
        self.scope = scope
        self.cpu_memory_usage = cpu_memory_usage
        self.device_memory_usage = device_memory_usage
        self.self_cpu_memory_usage = cpu_memory_usage
        self.flops = flops

    def append_cpu_child(self, child: "FunctionEvent") -> None:
        self.cpu_children.append(child)

    def set_cpu_parent(self, parent: "FunctionEvent") -> None:
        self.cpu_parent = parent

    @property
    def key(self) -> str:
        return self.name

    @property
    def cpu_time_total(self) -> float:
        return self.time_range.elapsed_us()

    @property
    def self_cpu_time_total(self) -> float:
        return self.cpu_time_total - sum(child.cpu_time_total for child in self.cpu_children)


    def __repr__(self) -> str:
        return (f"<FunctionEvent id={self.id} name={self.name} cpu_time={self.cpu_time_str} "
                f"start_us={self.time_range.start} end_us={self.time_range.end} "
                f"cpu_children={[child.id for child in self.cpu_children]} input_shapes={self.input_shapes}>")


class FunctionEventAvg(_Times):
    """The calls of one name (and input shapes, when grouped by them) together."""

    def __init__(self) -> None:
        self.key: Optional[str] = None
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.input_shapes: Optional[list] = None
        self.is_user_annotation = False
        self.is_async = False
        self.is_remote = False
        self.node_id = 0
        self.device_type = "CPU"
        self.overload_name = ""
        self.stack: list = []
        self.scope = 0
        self.cpu_memory_usage = 0
        self.self_cpu_memory_usage = 0
        self.flops = None
        self.cpu_children = None
        self.cpu_parent = None

    def add(self, other) -> "FunctionEventAvg":
        if self.key is None:
            self.key = other.key
            self.input_shapes = other.input_shapes
            self.is_user_annotation = other.is_user_annotation
        if other.key != self.key:
            raise AssertionError("Expected keys to match")
        self.count += other.count
        self.cpu_time_total += other.cpu_time_total
        self.self_cpu_time_total += other.self_cpu_time_total
        return self

    __iadd__ = add


    def __repr__(self) -> str:
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total_str} "
                f"cpu_time={self.cpu_time_str} input_shapes={self.input_shapes}>")


class EventList(list):
    """A list of profiled events."""

    _shapes = False

    def __init__(self, *args, **kwargs) -> None:
        kwargs.pop("use_device", None)
        kwargs.pop("profile_memory", None)
        kwargs.pop("with_flops", None)
        super().__init__(*args, **kwargs)

    def _populate_cpu_children(self) -> None:
        """Make each event the child of the innermost event of its thread (and node) whose time
        range holds its own (ranges that only overlap are not nested)."""
        events = sorted((e for e in self if not e.is_async and e.device_type == "CPU"),
                        key=lambda e: (e.thread, e.node_id, e.time_range.start, -e.time_range.end))
        open_ = []
        group = None
        for event in events:
            if (event.thread, event.node_id) != group:
                group, open_ = (event.thread, event.node_id), []
            while open_:
                parent = open_[-1]
                if event.time_range.start < parent.time_range.end and event.time_range.end <= parent.time_range.end:
                    parent.append_cpu_child(event)
                    event.set_cpu_parent(parent)
                    break
                open_.pop()
            open_.append(event)

    @property
    def self_cpu_time_total(self) -> float:
        """The sum of the events' own times (without their children's)."""
        return sum(event.self_cpu_time_total for event in self)

    def key_averages(self, group_by_input_shapes: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> "EventList":
        """The events averaged by name (and input shapes), one :class:`FunctionEventAvg` each, in
        the order each key first occurs."""
        stats: dict = {}
        for event in self:
            key = (event.key, str(event.input_shapes)) if group_by_input_shapes else event.key
            stats.setdefault(key, FunctionEventAvg()).add(event)
        averages = EventList(stats.values())
        averages._shapes = group_by_input_shapes
        return averages

    def total_average(self) -> FunctionEventAvg:
        """All events together, as one :class:`FunctionEventAvg` named ``Total``."""
        total = FunctionEventAvg()
        for event in self:
            total.count += event.count
            total.cpu_time_total += event.cpu_time_total
            total.self_cpu_time_total += event.self_cpu_time_total
        total.key = "Total"
        return total

    def table(self, sort_by: Optional[str] = None, row_limit: int = 100, max_src_column_width: int = 75,
              max_name_column_width: int = 55, max_shapes_column_width: int = 80, header: Optional[str] = None,
              top_level_events_only: bool = False, time_unit: Optional[str] = None) -> str:
        """The events as PyTorch's table: name, self and total CPU time (and shares of the self CPU
        time total), average time and number of calls; sorted by the attribute ``sort_by``
        (descending: ``"self_cpu_time_total"``, ``"cpu_time_total"``, ``"count"`` ...)."""
        events = [e for e in self if not top_level_events_only or e.cpu_parent is None]
        if sort_by is not None:
            events = sorted(events, key=lambda e: getattr(e, sort_by.replace("cuda", "device")), reverse=True)
        events = events[:row_limit] if row_limit > 0 else events
        shapes = self._shapes       # (averages grouped by input shapes show them)
        name_width = max([len(e.key) for e in events] + [4])
        name_width = min(name_width, max_name_column_width) if max_name_column_width else name_width
        columns = ["Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg", "# of Calls"]
        widths = [name_width] + [12] * len(columns)
        if shapes:
            columns.append("Input Shapes")
            widths.append(max_shapes_column_width)
        line = "".join("-" * w + "  " for w in widths)
        total = sum(e.self_cpu_time_total for e in self)
        rows = [line, "".join(text.rjust(w) + "  " for text, w in zip(["Name"] + columns, widths)), line]
        for e in events:
            name = e.key if len(e.key) <= name_width else e.key[:name_width - 3] + "..."
            cells = [name, _format_time_share(e.self_cpu_time_total, total), _format_time(e.self_cpu_time_total),
                     _format_time_share(e.cpu_time_total, total), _format_time(e.cpu_time_total),
                     _format_time(e.cpu_time), str(e.count)]
            if shapes:
                cells.append(str(e.input_shapes)[:max_shapes_column_width])
            rows.append("".join(text.rjust(w) + "  " for text, w in zip(cells, widths)))
        rows += [line, f"Self CPU time total: {_format_time(total)}", ""]
        return "\n".join(([header] if header else []) + rows)

    def export_chrome_trace(self, path: str) -> None:
        """Write the events as a Chrome trace (JSON, ``chrome://tracing`` or Perfetto reads it)."""
        trace = [{"name": e.name, "ph": "X", "ts": e.time_range.start, "dur": e.cpu_time_total, "tid": e.thread,
                  "pid": "CPU functions", "cat": "cpu_op", "args": {}} for e in self if isinstance(e, FunctionEvent)]
        with open(path, "w") as f:
            json.dump({"traceEvents": trace}, f)

    def __str__(self) -> str:
        return self.table()
