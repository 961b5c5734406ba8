"""tape.autograd.profiler: profile (events, key_averages, table), record_function, emit_nvtx."""
import json

import numpy as np
import pytest

import tape
from tape.autograd import profiler
from tape.autograd.profiler_util import EventList, FunctionEvent, FunctionEventAvg, _format_time
from tests.test_checkpoint import _saved_value_kept


def _program(lib, x, w):
    with lib.autograd.profiler.record_function("block"):
        y = (x * 2).sum()
        z = lib.exp(x @ w) + 1
    return y, z


def test_events_of_ops_and_ranges():
    x = tape.ones(2, 3, requires_grad=True)
    w = tape.ones(3, 4)
    original = tape.Tensor.__mul__
    assert not tape.autograd._profiler_enabled()
    with profiler.profile() as prof:
        assert tape.autograd._profiler_enabled()
        y, z = _program(tape, x, w)
        (y + z.sum()).backward()
    assert not tape.autograd._profiler_enabled() and tape.Tensor.__mul__ is original     # (no cost after)
    events = prof.function_events
    assert isinstance(events, EventList)
    top = [e.name for e in events if e.cpu_parent is None]
    assert top == ["block", "aten::sum", "aten::add"]
    block = events[0]
    assert block.is_user_annotation and [c.name for c in block.cpu_children] == [
        "aten::mul", "aten::sum", "aten::matmul", "aten::exp", "aten::add"]
    assert all(c.cpu_parent is block for c in block.cpu_children)
    assert block.cpu_time_total >= sum(c.cpu_time_total for c in block.cpu_children)
    assert block.self_cpu_time_total == pytest.approx(
        block.cpu_time_total - sum(c.cpu_time_total for c in block.cpu_children))
    starts = [e.time_range.start for e in events]
    assert starts == sorted(starts)


def test_key_averages_and_table():
    x = tape.ones(2, 3, requires_grad=True)
    with profiler.profile(record_shapes=True) as prof:
        for _ in range(3):
            (x * 2).sum()
    averages = prof.key_averages()
    assert all(isinstance(a, FunctionEventAvg) for a in averages)
    counts = {a.key: a.count for a in averages}
    assert counts == {"aten::mul": 3, "aten::sum": 3}
    mul = next(a for a in averages if a.key == "aten::mul")
    assert mul.cpu_time == pytest.approx(mul.cpu_time_total / 3)
    table = averages.table(sort_by="self_cpu_time_total", row_limit=5)
    assert "aten::mul" in table and "# of Calls" in table and "Self CPU time total: " in table
    assert "Input Shapes" not in table
    by_shape = prof.key_averages(group_by_input_shape=True)
    assert [a.input_shapes for a in by_shape] == [[[2, 3], []], [[2, 3]]]
    assert "Input Shapes" in by_shape.table() and "[[2, 3], []]" in by_shape.table()
    assert prof.total_average().count == 6
    assert prof.self_cpu_time_total == pytest.approx(sum(e.self_cpu_time_total for e in prof.function_events))


def test_results_not_ready_inside():
    with profiler.profile() as prof:
        with pytest.raises(RuntimeError, match="Profiler didn't finish running"):
            prof.key_averages()


def test_record_function_as_decorator_and_outside_a_profile():
    @profiler.record_function("step")
    def step(x):
        return x.exp()

    x = tape.ones(2)
    assert step(x).tolist() == pytest.approx([2.718281828] * 2)         # (no profile: no events, no error)
    with profiler.profile() as prof:
        step(x)
    assert [(e.name, [c.name for c in e.cpu_children]) for e in prof.function_events if e.cpu_parent is None] == [
        ("step", ["aten::exp"])]


def test_disabled_profile_records_nothing():
    with profiler.profile(enabled=False) as prof:
        tape.ones(2).exp()
        assert not tape.autograd._profiler_enabled()
    assert prof.function_events is None


def test_chrome_trace(tmp_path):
    with profiler.profile() as prof:
        tape.ones(2).exp()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    assert [e["name"] for e in json.loads(path.read_text())["traceEvents"]] == ["aten::ones", "aten::exp"]


def test_cuda_only_parts_raise_as_a_cpu_build():
    with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
        with profiler.emit_nvtx():
            pass
    with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
        profiler.profile(use_cuda=True)
    assert not tape.autograd.kineto_available()


def test_format_time():
    assert [_format_time(t) for t in (12, 1234, 1234567)] == ["12.000us", "1.234ms", "1.235s"]


@pytest.mark.torch
def test_op_names_match_pytorch():
    torch = pytest.importorskip("torch")

    def names(lib):
        x = lib.ones(2, 3, requires_grad=True)
        w = lib.ones(3, 4)
        with lib.autograd.profiler.profile() as prof:
            _program(lib, x, w)
        return [c.name for c in prof.function_events[0].cpu_children]

    assert names(tape) == names(torch)


def test_selective_checkpointing_inside_and_around_a_profile():
    # Its logging wrappers and the profile's timing ones take turns: the saved value is kept either way.
    x = np.array([0.5, -1.0, 2.0])
    expected = [np.exp(x * 2.0) * 3.0, np.exp(x * 3.0) * 3.0]
    with profiler.profile() as prof:
        np.testing.assert_allclose(_saved_value_kept(tape), expected, rtol=1e-15)
        assert tape.Tensor.exp._timed           # (the profile's wrapper is back after each segment)
    assert "aten::exp" in [e.name for e in prof.function_events]
    assert not getattr(tape.Tensor.exp, "_timed", False)
    np.testing.assert_allclose(_saved_value_kept(tape), expected, rtol=1e-15)
    policy = lambda: tape.utils.checkpoint.create_selective_checkpoint_contexts([tape.ops.aten.exp.default])

    def segment(a):
        with profiler.profile() as inner:       # (a profile inside a segment: around the logging wrappers)
            y = (a * 2).exp()
        assert "aten::exp" in [e.name for e in inner.function_events]
        return y

    v = tape.tensor([0.5, 1.0], dtype=tape.float64, requires_grad=True)
    tape.utils.checkpoint.checkpoint(segment, v, use_reentrant=False, context_fn=policy).sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), 2 * np.exp(2 * np.array([0.5, 1.0])), rtol=1e-15)
    assert not getattr(tape.Tensor.exp, "_timed", False)


def test_function_events_built_by_hand_nest_and_average_as_in_pytorch():
    # (PyTorch's keyword arguments; ``_populate_cpu_children`` nests a range inside the innermost
    # range of its thread that holds it, and no device time on the CPU)
    events = EventList()
    for i, (thread, start, end) in enumerate([(1, 0, 1), (1, 1, 2), (0, 0, 2), (0, 1, 2), (0, 1, 3)], 1):
        events.append(FunctionEvent(id=i, node_id=0, name="", thread=thread, start_us=start, end_us=end))
    events._populate_cpu_children()
    assert [[c.id for c in e.cpu_children] for e in events] == [[], [], [], [], [4]]
    assert events[3].cpu_parent is events[4]
    avg = FunctionEventAvg()
    avg.add(FunctionEvent(id=0, node_id=0, name="foo", thread=0, start_us=10, end_us=15))
    avg.add(FunctionEvent(id=1, node_id=0, name="foo", thread=0, start_us=20, end_us=30))
    avg.add(avg)
    assert (avg.key, avg.count, avg.cpu_time_total, avg.cpu_time, avg.device_time_total) == ("foo", 4, 30, 7.5, 0)
