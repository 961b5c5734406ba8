"""``tape.utils.checkpoint``: activation checkpointing (trade compute for memory), as PyTorch's.

Both variants rest on one mechanism: a segment of the user's code runs on a scratch tape of
its own (``_Scratch``, made the thread's tape for the while), and is run again there, with
the random number generator's state of the first run, when backward needs its gradient.

- ``use_reentrant=False``: the first run records onto the scratch tape, whose ``import_``
  puts a stand-in leaf in place of every tensor the segment reads from outside that requires
  grad (arguments and closure tensors alike); the scratch tape is then dropped and ONE row
  (``_SegmentFn``, a custom Function) is recorded on the thread's tape, its inputs those
  outside tensors, its outputs the segment's.  ``grad_fn`` shows the segment's own nodes, as
  PyTorch's: a copy of the scratch tape's rows without their values (``_Ghost``), whose saved
  values are read from a run again and whose nodes' hooks run in the recomputation's backward.
  Its backward runs the segment again on a new
  scratch tape and takes ``autograd.grad`` of its outputs with respect to the stand-ins: nothing
  inside the segment stays on the tape between forward and backward, and the segment runs once
  per backward.  In a recorded backward (``create_graph=True``) the gradient is itself computed
  by a checkpointed segment (the segment's run followed by its ``grad`` with ``create_graph``), so
  it is one more row, differentiable again, to any order.
- ``use_reentrant=True``: ``CheckpointFunction``, as PyTorch's: forward runs the segment without
  grad; backward runs it again with grad on detached inputs and calls ``tape.autograd.backward``
  on its outputs, so closure parameters get their ``.grad`` from that inner backward.

Selective checkpointing (``create_selective_checkpoint_contexts``) asks its policy about each op a
segment's forward recorded (named as PyTorch's dispatcher names it, ``tape.ops.aten``) once the
forward ran, and checks the recomputation against the answers; the recomputation does not call
again the front ends of the ops whose values the policy saved (it records their rows with the
forward's values), when a call recorded just that op's row.

``checkpoint_loop`` (not PyTorch's) reverses ``x = step(x)`` repeated ``n`` times with at most
``s`` snapshots, on Griewank's binomial (revolve) schedule.
"""
from __future__ import annotations

import contextlib
import enum
import functools
import sys
import threading
import warnings
import weakref
from math import comb
from typing import Any, Callable, ContextManager, Iterable, Iterator, Tuple

import numpy as np

from .. import _tape as _T
from .._anomaly import forward_stack, is_anomaly_check_nan_enabled, is_anomaly_enabled, set_anomaly_enabled
from .._creation import get_rng_state, rng_restore, rng_snapshot
from .._device import device
from .._dtype import ARENA_DTYPES
from .._graph import _edge
from .._row import Row
from .. import _saved
from .._saved import FREED_MSG, tensor_at
from .._state import state
from .._tape import Tape
from .._tensor import Size, Tensor, _plain, _py_scalar, _recorded
from ..autograd._backward import _is_checkpoint_valid, backward, grad
from ..autograd.function import Function, _raise_modified
from ..ops import PUBLIC, aten
from ..ops._spec import CONST, INPUT, OUTPUT, R_DT, R_HID, R_SHP, REGISTRY

__all__ = [
    "checkpoint", "checkpoint_sequential", "checkpoint_loop", "CheckpointError", "CheckpointFunction",
    "check_backward_validity", "detach_variable", "noop_context_fn", "set_checkpoint_early_stop",
    "set_checkpoint_debug_enabled", "DefaultDeviceType", "get_device_states", "set_device_states",
    "CheckpointPolicy", "SelectiveCheckpointContext", "create_selective_checkpoint_contexts", "SAC_IGNORED_OPS",
]

_DEFAULT_DETERMINISM_MODE = "default"
_checkpoint_debug_enabled: bool | None = None
_enable_checkpoint_early_stop: bool | None = None

# (PyTorch 2.13's text, with its non-breaking hyphen in "checkpoint\u2011debug")
_DEBUG_TIP = """
Tip: To see a more detailed error message, either pass `debug=True` to
`torch.utils.checkpoint.checkpoint(...)` or wrap the code block
with `with torch.utils.checkpoint.set_checkpoint_debug_enabled(True):` to
enable checkpoint\u2011debug mode globally.

If this error occurs under torch.compile with automatic_dynamic_shapes enabled,
it may be because the recomputation selected a different compiled graph than the
forward pass (e.g., a dynamic graph instead of the original static graph).
To fix this, either:
  - Use torch._dynamo.mark_dynamic() to explicitly mark varying dimensions as
    dynamic upfront, avoiding the static-to-dynamic transition.
  - Call torch._C._dynamo.eval_frame._set_lru_cache(False) to disable LRU cache
    reordering, which can change which graph is checked first between forward
    and recompute.
See https://github.com/pytorch/pytorch/issues/166926 for more details and
workaround examples.
"""


UNPACKED_TWICE = ("torch.utils.checkpoint: Unpack is being triggered for a tensor that was already unpacked once. "
                  "If you are calling ctx.saved_tensors in backward, make sure to do so only once. Otherwise please "
                  "open an issue with details on your use case.")


class CheckpointError(RuntimeError):
    """Raised when the recomputation of a checkpointed segment does not match its forward."""


def noop_context_fn() -> Tuple[ContextManager, ContextManager]:
    """The default ``context_fn``: no context around the forward or the recomputation."""
    return contextlib.nullcontext(), contextlib.nullcontext()


@contextlib.contextmanager
def set_checkpoint_debug_enabled(enabled: bool | None) -> Iterator[None]:
    """Context manager that sets whether checkpoint should print additional debug information
    when running (overrides the ``debug`` flag of each ``checkpoint`` call; None: use it)."""
    global _checkpoint_debug_enabled
    prev = _checkpoint_debug_enabled
    _checkpoint_debug_enabled = enabled
    try:
        yield
    finally:
        _checkpoint_debug_enabled = prev


@contextlib.contextmanager
def set_checkpoint_early_stop(enable: bool) -> Iterator[None]:
    """Context manager that sets whether checkpoint should stop recomputation early (overrides
    the ``early_stop`` of each ``checkpoint`` call): after the last op the segment's outputs need."""
    global _enable_checkpoint_early_stop
    prev = _enable_checkpoint_early_stop
    _enable_checkpoint_early_stop = enable
    try:
        yield
    finally:
        _enable_checkpoint_early_stop = prev


def detach_variable(inputs: Tuple[Any, ...]) -> Tuple[Any, ...]:
    """Detach each tensor of the tuple ``inputs``, keeping its ``requires_grad``."""
    if not isinstance(inputs, tuple):
        raise RuntimeError(f"Only tuple of tensors is supported. Got Unsupported input type: {type(inputs).__name__}")
    out = []
    for inp in inputs:
        if not isinstance(inp, Tensor):
            out.append(inp)
            continue
        x = inp.detach()
        x.requires_grad = inp.requires_grad
        out.append(x)
    return tuple(out)


def check_backward_validity(inputs: Iterable[Any]) -> None:
    """Warn when none of the tensors in ``inputs`` requires grad."""
    if not any(inp.requires_grad for inp in inputs if isinstance(inp, Tensor)):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)


# -- device states (tape computes on the CPU: there are none to save) ------------------------------
class DefaultDeviceType:
    r"""The default device type for checkpointing: whose random number generators' states are saved
    and restored when no argument is on a device other than the CPU (``"cpu"`` here: no
    accelerator)."""

    _default_device_type: str | None = None

    @staticmethod
    def set_device_type(device: str = "cuda") -> None:
        """Set the default device type for checkpointing."""
        DefaultDeviceType._default_device_type = device

    @staticmethod
    def get_device_type() -> str:
        """The current default device type for checkpointing."""
        if not DefaultDeviceType._default_device_type:
            DefaultDeviceType._default_device_type = "cpu"
        return DefaultDeviceType._default_device_type


def get_device_states(*args: Any) -> Tuple[list, list]:
    """The ids of the non-CPU devices the tensors among ``args`` (nested) are on, and their random
    number generators' states: ``([], [])`` for CPU tensors."""
    leaves = []
    _flatten(args, leaves)
    ids = [t.get_device() for t in leaves if isinstance(t, Tensor) and t.device.type not in ("cpu", "meta")]
    return ids, [_device_module(DefaultDeviceType.get_device_type()).get_rng_state() for _ in ids]


def set_device_states(devices: list, states: list, *, device_type: str | None = None) -> None:
    """Set the random number generators' states of the given devices (of ``device_type``, by
    default ``DefaultDeviceType.get_device_type()``)."""
    if device_type is None:
        device_type = DefaultDeviceType.get_device_type()
    if device_type == "meta":
        return
    for dev, st in zip(devices, states):
        module = _device_module(device_type)
        with module.device(dev):
            module.set_rng_state(st)


def _device_module(device_type: str):
    """``tape.cuda`` ...: the module named after a device type."""
    return getattr(sys.modules[__name__.split(".")[0]], device_type)


# -- selective checkpointing --------------------------------------------------------------------
class CheckpointPolicy(enum.Enum):
    """What selective checkpointing does with an op's output: ``{MUST,PREFER}_SAVE`` keep it from
    the forward, ``{MUST,PREFER}_RECOMPUTE`` compute it again in backward (``*_CPU_OFFLOAD``: as
    recompute here, there being no device to offload from)."""

    MUST_SAVE = 0
    PREFER_SAVE = 1
    MUST_RECOMPUTE = 2
    PREFER_RECOMPUTE = 3
    MUST_CPU_OFFLOAD = 4
    PREFER_CPU_OFFLOAD = 5


class SelectiveCheckpointContext:
    """What a policy function is given besides the op: ``is_recompute`` (False: the policy is
    called in the forward only) and ``op_output``, the op's output."""

    def __init__(self, *, is_recompute: bool, op_output: Any = None) -> None:
        self.is_recompute = is_recompute
        self.op_output = op_output


# The ops that only read metadata, which no policy is asked about (tape records no such rows).
SAC_IGNORED_OPS = {aten.size.default, aten.sym_size.default, aten.stride.default, aten.sym_stride.default,
                   aten.storage_offset.default, aten.sym_storage_offset.default, aten.numel.default,
                   aten.sym_numel.default, aten.dim.default, aten.detach.default, aten.is_contiguous.default,
                   aten.is_contiguous.memory_format, aten.is_strides_like_format.default,
                   aten.is_non_overlapping_and_dense.default}
_SAVED, _RECOMPUTE, _CONSUMED = "saved", "recompute", "consumed"
_SAC_MISMATCH_MSG = ("This can happen if the operations in the checkpointed region are nondeterministic or depend "
                     "on global state that changed between forward and backward.")


def _ops_run(tape: Tape, start: int) -> Iterator[tuple]:
    """``(row, op)`` for each op a run recorded on ``tape`` from row ``start`` (engine-made rows,
    the outputs of a row with several, and custom Functions' rows aside)."""
    for r in range(start, tape.n):
        code = int(tape.op[r])
        if tape.hid[r] or code in (INPUT, CONST, OUTPUT) or r in tape.pyrows:
            continue
        yield r, aten.of_node(REGISTRY[code].node_name(Row(tape, r)))


def _number_operand(tape: Tape, r: int) -> tuple | None:
    """``(position, value)`` of the Python number row ``r``'s op took (``x * 2``, ``2 ** x``), as
    PyTorch's dispatcher passes it (an int or bool as one: the row's ``ib``); None for another op."""
    op = REGISTRY[int(tape.op[r])]
    if not (op.number_input or op.name in ("rsub", "pow")) or len(tape.inputs_of(r)) != 1:
        return None
    fa, kind = float(tape.fa[r]), int(tape.ib[r])
    value = fa if not kind else int(fa) if kind == 1 else bool(fa)
    return (0 if op.grad_fn == "PowBackward2" else 1), value


class _Caching:
    """The forward's context of selective checkpointing: once the segment ran, the policy is asked
    about each op it recorded, in order, and its answer kept for the recomputation."""

    def __init__(self, policy_fn: Callable, storage: dict) -> None:
        self.policy_fn, self.storage = policy_fn, storage

    def __enter__(self) -> "_Caching":
        self.start = state.tape.n if state.tape is not None else 0
        self.log = _calls_begin(state.tape)
        return self

    def __exit__(self, kind, value, tb) -> None:
        _calls_end(self.log)
        tape = state.tape
        if kind is not None or tape is None:
            return
        outside = {id(s): t for t, s in getattr(tape, "outside", ())}
        counter = {}
        policies = {}
        for r, op in _ops_run(tape, self.start):
            args = []
            for node in tape.inputs_of(r):
                t = tensor_at(tape, node)
                args.append(outside.get(id(t), t))
            number = _number_operand(tape, r)
            if number is not None:
                args.insert(number[0], number[1])
            out = _recorded(tape, r, tape.value_of(r), ARENA_DTYPES[int(tape.dt[r])]) if not tape.nout[r] else tuple(
                _recorded(tape, k, tape.value_of(k), ARENA_DTYPES[int(tape.dt[k])]) for k in Row(tape, r).outputs)
            policy = self.policy_fn(SelectiveCheckpointContext(is_recompute=False, op_output=out), op, *args)
            if isinstance(policy, bool):
                policy = CheckpointPolicy.MUST_SAVE if policy else CheckpointPolicy.PREFER_RECOMPUTE
            idx = counter[op] = counter.get(op, -1) + 1
            saved = policy in (CheckpointPolicy.MUST_SAVE, CheckpointPolicy.PREFER_SAVE)
            self.storage.setdefault(op, {})[idx] = _SAVED if saved else _RECOMPUTE
            policies[r] = saved
        # The calls whose op's value is kept, so that the recomputation does not run them again.
        calls = self.log.calls if self.log is not None else []
        self.storage[_REPLAY] = (self.start, {k: entry for k, call in enumerate(calls)
                                              if (entry := _replay_entry(tape, call, policies)) is not None
                                              or (entry := _mutated_entry(call, policies)) is not None})
        self.log = None         # (its calls hold the run's tensors)


class _Cached:
    """The recomputation's context of selective checkpointing: each op the run recorded is checked
    against what the forward's recorded (an op saved there may be reached once per forward)."""

    def __init__(self, storage: dict, allow_cache_entry_mutation: bool) -> None:
        self.storage = storage
        self.allow_cache_entry_mutation = allow_cache_entry_mutation

    def __enter__(self) -> "_Cached":
        self.start = state.tape.n if state.tape is not None else 0
        start, entries = self.storage.get(_REPLAY, (0, {}))
        self.log = _calls_begin(state.tape, entries, self.start - start)
        if self.log is not None:
            self.log.allow_mutation = self.allow_cache_entry_mutation
        return self

    def __exit__(self, kind, value, tb) -> None:
        _calls_end(self.log)
        tape = state.tape
        if kind is not None and kind is not _StopRecomputation or tape is None:
            return
        counter = {}
        for r, op in _ops_run(tape, self.start):
            idx = counter[op] = counter.get(op, -1) + 1
            entries = self.storage.get(op)
            if entries is None:
                raise RuntimeError(f"{op} encountered during backward but not found in storage. {_SAC_MISMATCH_MSG}")
            entry = entries.get(idx)
            if entry is None:
                raise RuntimeError(f"{op} invocation index {idx} encountered during backward but not found in "
                                   f"storage. {_SAC_MISMATCH_MSG}")
            if entry is _CONSUMED:
                raise RuntimeError("Trying to backward an extra time. You are only allowed to backward once on any "
                                   "region computed under selective activation checkpoint.")
            if entry is _SAVED:
                entries[idx] = _CONSUMED


# -- selective checkpointing: calls of saved ops are not run again -------------------------------
# tape's ops compute their values in their Python front ends, before their rows are recorded, so
# a value is kept from running again by not calling its front end: while a selective context is
# active, the Tensor methods and ``tape`` functions are wrapped, and each outermost call of the
# segment is logged (the rows it recorded).  A call that recorded the imports of its tensor
# arguments and then one row, which the policy saved, is replayed in the recomputation: the same
# imports, then its row again with the value kept from the forward, PyTorch's cached output.
_REPLAY = object()          # (the storage key of the replayable calls: never an op)
_local = threading.local()  # ``log``: this thread's active ``_CallLog``; ``depth``: inside a logged call
_wrapping = threading.Lock()
_originals: dict = {}       # (owner, name) -> the member the wrapper replaced, while any log is active
_active = [0]               # the logs active in all threads


class _CallLog:
    """The outermost op calls of a segment's run on ``tape``: in the forward ``calls`` holds
    ``(function, args, kwargs, first row, end row, output, index and shape table ends before and
    after)`` per call; in the recomputation ``replay`` maps a call's number to what replays it (rows
    shifted by ``shift``)."""

    __slots__ = ("tape", "calls", "replay", "shift", "k", "prev", "depth", "allow_mutation")

    def __init__(self, tape: Tape, replay: dict | None, shift: int) -> None:
        self.tape, self.replay, self.shift = tape, replay, shift
        self.allow_mutation = False
        self.calls = []
        self.k = 0
        self.prev = None


def _calls_begin(tape: Tape, replay: dict | None = None, shift: int = 0) -> _CallLog | None:
    """Start logging (forward) or replaying (``replay``) the calls of a run on ``tape``."""
    if tape is None or replay is not None and not replay:
        return None
    log = _CallLog(tape, replay, shift)
    log.prev, log.depth = getattr(_local, "log", None), getattr(_local, "depth", 0)
    _local.log = log
    _local.depth = 0
    with _wrapping:
        if not _active[0]:
            _wrap_members()
        _active[0] += 1
    return log


def _calls_end(log: _CallLog | None) -> None:
    if log is None:
        return
    _local.log, _local.depth = log.prev, log.depth
    with _wrapping:
        _active[0] -= 1
        if not _active[0]:
            for (owner, name), member in _originals.items():
                setattr(owner, name, member)
            _originals.clear()


_wrappers: dict = {}        # (owner, name) -> (member, its wrapper), made once


def _wrap_members() -> None:
    if not _wrappers:
        package = sys.modules[__name__.split(".")[0]]       # (``tape``: its functions)
        for entry in PUBLIC:
            for owner, names in ((Tensor, entry.methods), (package, entry.functions)):
                for name in names:
                    member = vars(owner).get(name)
                    if getattr(member, "_timed", False):
                        member = member.__wrapped__         # (a profile's timing wrapper, while one is active)
                    if callable(member) and (owner, name) not in _wrappers:
                        _wrappers[owner, name] = member, _logged(member)
    for (owner, name), (member, wrapper) in _wrappers.items():
        now = vars(owner).get(name)
        # (not replaced by the user meanwhile; an active profile's timing wrapper gives way while the log is)
        if now is member or getattr(now, "_timed", False) and now.__wrapped__ is member:
            _originals[owner, name] = now
            setattr(owner, name, wrapper)


def _logged(fn: Callable) -> Callable:
    def call(*args, **kwargs):
        log = getattr(_local, "log", None)
        if log is None or _local.depth or state.tape is not log.tape:
            return fn(*args, **kwargs)
        if log.replay is not None:
            k = log.k
            log.k = k + 1
            entry = log.replay.get(k)
            if entry is not None and entry[0] is fn and _same(entry[1], _signature(args, kwargs)):
                if entry[2] is _MUTATED:
                    if not log.allow_mutation:
                        raise RuntimeError("Tensor cached during selective activation checkpoint has been mutated")
                else:
                    out = _replayed(log, entry[2:], args)
                    if out is not None:
                        return out
        tape = log.tape
        lo, ix, stop = tape.n, tape.tix, tape.stop
        _local.depth = 1
        try:
            out = fn(*args, **kwargs)
        finally:
            _local.depth = 0
        if log.replay is None:
            log.calls.append((fn, args, kwargs, lo, tape.n, out, ix, tape.tix, stop, tape.stop,
                              out._vnum if isinstance(out, Tensor) else None))
        return out
    call.__name__, call.__qualname__, call.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    call.__wrapped__ = fn
    return call


def _replay_entry(tape: Tape, call: tuple, saved: dict) -> tuple | None:
    """What replays a call of the forward: ``(function, signature, first row, [(row, argument
    position)] of its imports, its row's columns, requires grad, dtype, value)``; None if the call
    is not one saved row after imports of its arguments (a view, an in-place change, a listed row ...)."""
    fn, args, kwargs, lo, hi, out, ix0, ix1, stop0, stop1, _ = call
    r = hi - 1
    if (hi <= lo or not saved.get(r) or ix0 != ix1 or not isinstance(out, Tensor) or out._tape is not tape
            or out._node != r or out._f is not None or out._vb is not None or out._origins is not None
            or tape.hid[r] or tape.ln[r] or tape.nout[r] or r in tape.hooks or any(out is a for a in args)
            or out._v.dtype != tape.value_of(r).dtype):
        return None
    imports = []
    for q in range(lo, r):
        pos = next((p for p, a in enumerate(args) if isinstance(a, Tensor) and a._ig == tape.gen and a._in == q), -1)
        if pos < 0 or int(tape.op[q]) not in (INPUT, CONST):
            return None
        imports.append((q, pos))
    shapes = {tape.shape_of(q) for q in range(lo, hi)}
    s = stop0
    while s < stop1:        # (the shapes the call entered are its rows': a replay enters the same)
        nd = int(tape.stab[s])
        if tuple(int(d) for d in tape.stab[s + 1:s + 1 + nd]) not in shapes:
            return None
        s += 1 + nd
    a, b = int(tape.a[r]), int(tape.b[r])
    columns = (int(tape.op[r]), int(tape.dt[r]), a, b, int(tape.ia[r]), int(tape.ib[r]), float(tape.fa[r]),
               float(tape.fb[r]))
    return fn, _signature(args, kwargs), lo, imports, columns, int(tape.rg[r]), out._dtype, np.array(tape.value_of(r))


_MUTATED = object()         # (a replay entry's third item for a saved output changed in place since)


def _mutated_entry(call: tuple, saved: dict) -> tuple | None:
    """``(function, signature, _MUTATED)`` for a call whose saved output the forward changed in
    place after it (PyTorch's cached tensor, whose version its recomputation checks); else None."""
    fn, args, kwargs, lo, hi, out, *_, version = call
    if hi <= lo or not saved.get(hi - 1) or version is None or out._vnum == version:
        return None
    return fn, _signature(args, kwargs), _MUTATED


def _signature(args: tuple, kwargs: dict) -> tuple:
    """A call's arguments as far as its op depends on them: tensors by shape and dtype, the others as they are
    (a recomputed call of the same function with the same signature records the same row)."""
    return _shown(args), _shown(kwargs)


def _same(a: tuple, b: tuple) -> bool:
    try:
        return bool(a == b)
    except (ValueError, TypeError, RuntimeError):      # (arguments that do not compare: arrays ...)
        return False


def _shown(x: Any) -> Any:
    if isinstance(x, Tensor):
        return Tensor, x._shape, x._dtype
    if isinstance(x, (tuple, list)):
        return type(x), tuple(_shown(v) for v in x)
    if isinstance(x, dict):
        return dict, tuple((k, _shown(v)) for k, v in x.items())
    return x


def _replayed(log: _CallLog, entry: tuple, args: tuple) -> Tensor | None:
    """The output of a saved call recorded again without running it (None: the call differs from
    the forward's, which then runs as it is)."""
    lo, imports, (code, arena, a, b, ia, ib, fa, fb), rg, dtype, value = entry
    tape, shift = log.tape, log.shift
    if tape.n != lo + shift:
        return None
    for q, pos in imports:
        t = args[pos] if pos < len(args) else None
        if not isinstance(t, Tensor) or t._ig == tape.gen and t._iv == (t._ver[0] if t._ver is not None else 0):
            return None
    if _T.write_tape() is not tape:     # (the op's own step: saved-tensor hooks, early stop)
        return None
    for q, pos in imports:
        if tape.import_(args[pos]) != q + shift:
            raise CheckpointError("torch.utils.checkpoint: the recomputation read its inputs in another order than "
                                  f"the forward. {_SAC_MISMATCH_MSG}")
    node = tape.append(code, arena, value, a + shift if a >= 0 else a, b + shift if b >= 0 else b, ia, ib, fa, fb)
    tape.rg[node] = rg
    return _recorded(tape, node, value.copy(), dtype)


def create_selective_checkpoint_contexts(policy_fn_or_list: Callable | list,
                                         allow_cache_entry_mutation: bool = False) -> Tuple[Any, Any]:
    r"""The two contexts (``context_fn``'s result) of selective activation checkpointing.

    ``policy_fn_or_list`` is a policy ``policy_fn(ctx, op, *args, **kwargs) -> CheckpointPolicy``
    (``ctx`` a ``SelectiveCheckpointContext``, ``op`` a ``tape.ops.aten`` overload such as
    ``tape.ops.aten.mm.default``, ``args`` the op's tensor inputs), asked about each op of the
    segment's forward; or a list of ops, meaning ``MUST_SAVE`` for those and ``PREFER_RECOMPUTE``
    for the others.  Use with ``checkpoint(fn, *args, use_reentrant=False,
    context_fn=functools.partial(create_selective_checkpoint_contexts, policy))``.

    An op whose output the policy saves is not run again in the recomputation: its value is the
    forward's (kept until then), and it may be reached by one backward only per forward (a second
    raises PyTorch's error).  Tape keeps it so when the call (a Tensor method, operator or
    ``tape`` function, called with the same arguments as in the forward) recorded that op's row
    alone, after importing its tensor arguments; a call that also recorded a cast, a broadcast or
    another op, or made a view or changed a tensor in place, runs again.
    """
    if isinstance(policy_fn_or_list, list):
        for op in policy_fn_or_list:
            if not isinstance(op, aten.OpOverload):
                extra = ("Please update the OpOverloadPacket to a specific OpOverload.For example, if you have "
                         "`torch.ops.aten.mm`, change it to `torch.ops.aten.mm.default`."
                         if isinstance(op, aten.OpOverloadPacket) else "")
                raise ValueError(f"Expected op in `op_list` to be an OpOverload but got: {op} of type {type(op)}. "
                                 f"{extra}")
        ops = list(policy_fn_or_list)

        def policy_fn(ctx, op, *args, **kwargs):
            return CheckpointPolicy.MUST_SAVE if op in ops else CheckpointPolicy.PREFER_RECOMPUTE
    elif callable(policy_fn_or_list):
        policy_fn = policy_fn_or_list
    else:
        raise TypeError("policy_fn_or_list must be either a function or a list of ops.")
    storage = {}
    return _Caching(policy_fn, storage), _Cached(storage, allow_cache_entry_mutation)


# -- the one mechanism: a segment run on a scratch tape ---------------------------------------
class _Scratch(Tape):
    """A tape for one run of a segment.  With ``stand_ins``, a tensor from outside that requires
    grad enters it as a leaf of its own (``outside``: [(tensor, stand-in)], in reading order), so
    the segment's graph ends there and gradients are taken with respect to the stand-ins."""

    __slots__ = ("stand_ins", "outside", "caches", "pins", "recompute")

    def __init__(self, stand_ins: bool) -> None:
        super().__init__()
        self.stand_ins = stand_ins
        self.pins = 0
        # A run for a backward: as PyTorch frees each recomputed tensor at its unpack, a custom
        # Function recorded here gives its ``saved_tensors`` once (``Function.saved_tensors``).
        self.recompute = False
        self.outside = []
        self.caches = []        # (tensor, its import cache before): restored when the run ends

    def import_(self, t: Tensor, refer: bool = True) -> int:
        ver = t._ver[0] if t._ver is not None else 0
        if t._ig == self.gen and t._iv == ver:
            return t._in
        self.caches.append((t, t._ig, t._iv, t._in))
        if not (self.stand_ins and t._rg):
            return Tape.import_(self, t, refer)
        s = _py_scalar(t._f) if t._f is not None else _plain(t._v, t._dtype)
        s._rg = True
        node = Tape.import_(self, s, refer)
        self.outside.append((t, s))
        t._ig, t._iv, t._in = self.gen, ver, node
        return node

    @property
    def lends_adjoints(self) -> bool:
        # With stand-ins, the gradients a backward of this tape gives are added into the segment's
        # inputs before its next backward: views of its buffers do (a reentrant run's go to .grad).
        return self.stand_ins

    def stand_in(self, t: Tensor) -> Tensor | None:
        """The stand-in of ``t`` on this run (``autograd.grad`` inside a segment reads it)."""
        for u, s in self.outside:
            if u is t:
                return s
        return None


_pool = threading.local()
SPARES = 4          # scratch tapes kept per thread, reused once nothing refers to them


def _new_scratch(stand_ins: bool) -> _Scratch:
    """A scratch tape: a spare that no tensor refers to any more, reset (its buffers, and the
    adjoint buffers it keeps, are already grown and their pages touched), or a new one."""
    spares = _pool.__dict__.setdefault("spares", [])
    for tape in spares:
        if sys.getrefcount(tape) == 3:      # the list, ``tape`` and getrefcount's argument
            tape.reset()
            tape.stand_ins, tape.outside, tape.caches, tape.recompute = stand_ins, [], [], False
            return tape
    tape = _Scratch(stand_ins)
    if len(spares) < SPARES:
        spares.append(tape)
    return tape


class _scratch:
    """Make a scratch tape the thread's tape for the block (pinned: it grows, never rotates).
    (A class rather than a generator: every segment enters one twice, forward and recomputation.)"""

    __slots__ = ("tape", "prev_tape", "prev_grad")

    def __init__(self, stand_ins: bool) -> None:
        self.tape = _new_scratch(stand_ins)

    def __enter__(self) -> _Scratch:
        tape = self.tape
        self.prev_tape = prev_tape = state.tape
        self.prev_grad = state.grad
        state.tape = tape
        state.grad = True
        # (the pins below are scratch runs' only, unless a recording sweep or a trace is running)
        outer = prev_tape.pins if isinstance(prev_tape, _Scratch) else 0
        state.pinned += 1
        tape.pins = state.pinned if state.pinned == outer + 1 else 0
        return tape

    def __exit__(self, kind, value, tb) -> None:
        tape = self.tape
        state.pinned -= 1
        state.tape, state.grad = self.prev_tape, self.prev_grad
        for t, ig, iv, node in reversed(tape.caches):
            t._ig, t._iv, t._in = ig, iv, node
        tape.outside, tape.caches = [], []      # (a spare refers to no tensor of the run)
        self.tape = self.prev_tape = None


class _Link:
    """A stand-in's row as ``grad_fn`` views show it: the edge of the ``k``-th tensor the segment
    read from outside (an input of the segment's row, found through its context, held weakly)."""

    __slots__ = ("ghost", "k")

    def __init__(self, ghost: "_Ghost", k: int) -> None:
        self.ghost = weakref.ref(ghost)
        self.k = k

    def edge(self) -> tuple:
        ghost = self.ghost()
        ctx = ghost.ctx() if ghost is not None and ghost.ctx is not None else None
        tape = ctx._tape_ref() if ctx is not None else None
        if tape is None:
            return (None, 0)
        return _edge(tape, tape.inputs_of(ctx._row)[self.k])


class _Rows:
    """The rows a segment's forward recorded, copied off its scratch tape (which the next run
    reuses): its ``_Ghost`` is made of them on first use (a ``grad_fn`` view inside the segment, a
    hook on one of its nodes), as most segments never show theirs; at once when a custom Function
    ran in the segment (its context goes on to the ghost before the scratch tape is reset)."""

    __slots__ = ("R", "F", "stab", "ix", "stop", "tix", "shapes", "pyrows", "args", "stand_ins", "outs", "_ctx",
                 "ghost")

    def __init__(self, run: _Scratch, flat: list) -> None:
        n = run.n
        self.R = run.R[:, :n].copy()
        self.F = run.F[:, :n].copy()
        self.stab = run.stab[:run.stop].copy()
        self.ix = run.ix[:run.tix].copy()
        self.stop, self.tix = run.stop, run.tix
        # (a reset keeps the shape table, whose entries are only ever added, or replaces it: ``Tape._clear``)
        self.shapes = run.shapes
        self.pyrows = dict(run.pyrows)
        self.args = dict(run.args)
        self.stand_ins = [s._in for _, s in run.outside]
        self.outs = [o._node if isinstance(o, Tensor) and o._tape is run else -1 for o in flat]
        self._ctx = None        # the segment row's context, once recorded (weakly)
        self.ghost = _Ghost(self) if self.pyrows else None

    @property
    def ctx(self) -> weakref.ref | None:
        return self._ctx

    @ctx.setter
    def ctx(self, ref: weakref.ref) -> None:
        self._ctx = ref
        if self.ghost is not None:
            self.ghost.ctx = ref

    def made(self) -> "_Ghost":
        if self.ghost is None:
            self.ghost = _Ghost(self)
        return self.ghost

    def edge(self, i: int) -> tuple:
        """The edge of the segment's ``i``-th output (``_Ghost.edge``)."""
        return self.made().edge(i)

    @property
    def hooks(self) -> dict:
        """The hooks registered on the segment's nodes (none before its ghost is made)."""
        return self.ghost.hooks if self.ghost is not None else {}


class _Ghost(Tape):
    """The rows a segment's forward recorded, without their values: the nodes ``grad_fn`` shows
    of a checkpointed segment, as PyTorch keeps the segment's nodes with their saved tensors
    replaced by recomputation.  What a node saved is read from a run of the segment again
    (``recomputed``); hooks registered on its nodes run in the recomputation backward runs."""

    __slots__ = ("ctx", "outs")

    def __init__(self, rows: _Rows) -> None:
        n = rows.R.shape[1]
        self.cap = n
        self._columns(rows.R, rows.F)
        self.v64 = np.empty(0, np.float64)
        self.v32 = np.empty(0, np.float32)
        self.w64 = memoryview(self.v64)
        self.stab = rows.stab
        self.ix = rows.ix
        self.adjoints = []
        self.stop = 0
        self._clear()
        self.n, self.stop, self.tix = n, rows.stop, rows.tix
        self.soft = 0
        self.shape_ids = {}
        self.shapes = {sid: rows.shapes[sid] for sid in set(self.shp.tolist())}
        self.pyrows = rows.pyrows
        self.args = rows.args
        for ctx in self.pyrows.values():
            ctx._tape_ref = weakref.ref(self)       # (the scratch tape is reused)
        for k, node in enumerate(rows.stand_ins):
            self.src[node] = _Link(self, k)
        self.ctx = rows.ctx
        self.outs = rows.outs

    def edge(self, i: int) -> tuple:
        """The edge of the segment's ``i``-th output: its last op's node."""
        r = self.outs[i]
        if r < 0:
            return (self.ctx(), i)
        return _edge(self, r)

    def segment_tape(self) -> Tape | None:
        """The tape of the segment's row (None once that row is gone): these rows go with it."""
        ctx = self.ctx() if self.ctx is not None else None
        return ctx._tape_ref() if ctx is not None else None

    def outside_node(self, r: int) -> tuple:
        """``(tape, node)`` of the segment's output that row ``r`` made, on the tape of the segment's row."""
        ctx = self.ctx() if self.ctx is not None else None
        tape = ctx._tape_ref() if ctx is not None else None
        i = self.outs.index(r) if r in self.outs else -1
        if tape is None or i not in ctx._outputs:
            raise RuntimeError("tape: a gradient edge inside a checkpointed segment (but for the segment's "
                               "outputs) cannot be differentiated with respect to: backward runs the segment as one "
                               "node")
        return tape, ctx._row + 1 + ctx._outputs.index(i)

    def recomputed(self) -> Tape:
        """A tape with the values of these rows: the segment run again (PyTorch's unpack hook)."""
        ctx = self.ctx() if self.ctx is not None else None
        if ctx is None:
            raise RuntimeError(FREED_MSG)
        seg = ctx.seg
        args, kwargs, _ = seg.bind(ctx.saved_tensors)   # (raises once the row is freed)
        with _scratch(True) as tape:
            seg.call(args, kwargs, True)
        return tape


@contextlib.contextmanager
def _rng_as(rng_state: tuple | None) -> Iterator[None]:
    """Run the block with the default generator in ``rng_state`` (``rng_snapshot``; None: as it
    is), then put back the state it had (PyTorch's ``fork_rng``)."""
    if rng_state is None:
        yield
        return
    now = rng_snapshot()
    rng_restore(rng_state)
    try:
        yield
    finally:
        rng_restore(now)


def _flatten(x: Any, out: list) -> Callable[[Iterator], Any]:
    """Append the leaves of ``x`` (nested tuples, lists, dicts) to ``out``; return the function
    that builds the same structure from an iterator over new leaves."""
    if isinstance(x, (tuple, list)) and not isinstance(x, Tensor):
        parts = [_flatten(v, out) for v in x]
        kind = type(x)
        if kind is tuple or kind is list:
            return lambda it: kind(p(it) for p in parts)
        if hasattr(kind, "_make"):
            return lambda it: kind._make(p(it) for p in parts)     # a named tuple
        return lambda it: kind([p(it) for p in parts])      # ``torch.return_types`` (values, indices) ...
    if isinstance(x, dict):
        keys = list(x)
        parts = [_flatten(x[k], out) for k in keys]
        return lambda it: type(x)((k, p(it)) for k, p in zip(keys, parts))
    out.append(x)
    return lambda it: next(it)


class _Segment:
    """``fn(*args, **kwargs)`` checkpointed without reentrant autograd.

    Once its row is recorded, the segment keeps no tensor of ``args``/``kwargs``: the row's
    context saves them (``save_for_backward``: PyTorch's checks, and no reference cycle from the
    tape through the row to tensors recorded on it) and ``bind`` puts them back for a run."""

    def __init__(self, fn: Callable, args: tuple, kwargs: dict, preserve_rng_state: bool,
                 recompute_context: ContextManager, check: bool, debug: bool, early_stop: bool = False) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.early_stop = early_stop
        self.stop = 0           # early stop: the rows a recomputation records (0: all the function's)
        self.flat = ()          # early stop: the rows of the outputs (flat), or ``_Kept`` values
        self.rebuild = None
        self.rng = rng_snapshot() if preserve_rng_state else None
        self.recompute_context = recompute_context
        self.check, self.debug = check, debug
        self.outside = []       # the tensors read from outside that require grad (an int: the slot of an argument)
        self.ops = []           # debug: the ops of the forward run, with where each was called from
        self.ghost = None       # the forward run's rows, as grad_fn shows them
        self.versions = []      # the versions of the tensor arguments before the forward run

    def call(self, args: tuple, kwargs: dict, recompute: bool) -> Any:
        """Run the segment on the thread's (scratch) tape."""
        if not recompute:
            return self.fn(*args, **kwargs)
        tape = state.tape
        tape.recompute = True
        start = tape.n
        # (``_rng_as(self.rng)``, then the recomputation's context, then ``_traced`` and ``_stopping``
        # when they do something: each segment's backward enters these)
        now = None
        if self.rng is not None:
            now = rng_snapshot()
            rng_restore(self.rng)
        try:
            try:
                with self.recompute_context:
                    if self.stop or self.debug:
                        with _traced(self.debug), _stopping(tape, start, self.stop):
                            out = self.fn(*args, **kwargs)
                    else:
                        out = self.fn(*args, **kwargs)
            finally:
                if now is not None:
                    rng_restore(now)
        except _StopRecomputation:
            # (the rows backward needs are there: the outputs, from their rows)
            out = self.rebuild(iter([_recorded(tape, start + k, tape.value_of(start + k), ARENA_DTYPES[int(tape.dt[
                start + k])]) if isinstance(k, int) else k.value for k in self.flat]))
        if self.check:
            self._check(tape, start)
        if self.ghost is not None:
            # Hooks registered on the segment's nodes run in this run's backward (its rows are the forward's).
            for r, hooks in self.ghost.hooks.items():
                if hooks.node:
                    tape.hooks[start + r] = hooks
        return out

    def first(self, context: ContextManager) -> tuple:
        """The forward: outputs (flat), the rebuilding function, the tensors read from outside, and
        the scratch tape it ran on (None: several)."""
        with _scratch(True) as tape, context:
            if self.debug:
                with _traced(True):
                    out = self.fn(*self.args, **self.kwargs)
            else:
                out = self.fn(*self.args, **self.kwargs)
            outside = [t for t, _ in tape.outside]
            flat = []
            rebuild = _flatten(out, flat)
            if self.early_stop:
                self._stop_after(tape, flat, rebuild)
            if self.debug:
                self.ops = _op_log(tape, 0)
            self.ghost = _Rows(tape, flat)
        return flat, rebuild, outside, tape

    def _stop_after(self, tape: Tape, flat: list, rebuild: Callable) -> None:
        """Where a recomputation may stop: after the last row an output needs (when every tensor
        output was recorded by the segment, rows follow it, and nothing was changed in place, which
        may change an output after its row)."""
        if tape.mods or (tape.fr[:tape.n] & 2).any():
            return
        rows = [o._node if isinstance(o, Tensor) and o._tape is tape else None if isinstance(o, Tensor) else _Kept(o)
                for o in flat]
        if None in rows:
            return
        stop = max((r for r in rows if isinstance(r, int)), default=-1) + 1
        # (a recomputation that would record more than the forward stops there too, as PyTorch's
        # stops once it saved as many tensors)
        if 0 < stop <= tape.n:
            self.stop, self.flat, self.rebuild = stop, rows, rebuild

    def slots(self) -> list:
        """The tensors among the arguments, in order (positional, then keyword)."""
        return [a for a in (*self.args, *self.kwargs.values()) if isinstance(a, Tensor)]

    def forget(self, outside: list) -> None:
        """Let go of the tensor arguments (the row saved them); name the outside tensors that are
        arguments by their slot."""
        slots = {}
        for k, a in enumerate(self.slots()):
            slots.setdefault(id(a), k)
        self.outside = [slots.get(id(t), t) for t in outside]
        self.tensor_args = tuple(isinstance(a, Tensor) for a in self.args)
        self.tensor_kwargs = tuple(isinstance(v, Tensor) for v in self.kwargs.values())
        self.args = tuple(None if isinstance(a, Tensor) else a for a in self.args)
        self.kwargs = {k: None if isinstance(v, Tensor) else v for k, v in self.kwargs.items()}

    def bind(self, saved: tuple) -> tuple:
        """``(args, kwargs, outside tensors)`` with the saved tensor arguments put back."""
        it = iter(saved)
        args = tuple(next(it) if t else a for a, t in zip(self.args, self.tensor_args))
        kwargs = {k: next(it) if t else v for (k, v), t in zip(self.kwargs.items(), self.tensor_kwargs)}
        return args, kwargs, [saved[t] if isinstance(t, int) else t for t in self.outside]

    def _check(self, tape: Tape, start: int) -> None:
        """PyTorch's errors when the recomputation did not record what the forward did: the rows
        (each a value saved on the scratch tape) with their ops, shapes and dtypes; in debug mode
        PyTorch's dump of the ops of both runs and where each was called from instead."""
        ghost = self.ghost
        n = self.stop or ghost.R.shape[1]
        got = tape.n - start
        if ghost.shapes is tape.shapes and (got >= n if self.stop else got == n) and \
                ghost.R[_META, :n].tobytes() == tape.R[_META, start:start + n].tobytes():
            return      # (the forward's rows, their shapes read from the same table: the same metadata)
        saved = _metadata_of(ghost.R[:, :n], ghost.shapes)
        rows = _rows(tape, start)
        if self.stop and len(rows) > len(saved):
            # (early stop: the recomputation stops at the op that goes past the forward's rows, and
            # an op may record several; PyTorch's stops once it saved as many tensors)
            rows = rows[:len(saved)]
        if self.debug and rows != saved:
            raise CheckpointError(_debug_dump(self.ops, _op_log(tape, start)))
        if len(rows) > len(saved):
            raise CheckpointError("torch.utils.checkpoint: trying to save more tensors during recomputation than "
                                  "during the original forward pass.\n" + _DEBUG_TIP)
        if len(rows) != len(saved):
            raise CheckpointError("torch.utils.checkpoint: A different number of tensors was saved during the "
                                  "original forward and recomputation.\nNumber of tensors saved during forward: "
                                  f"{len(saved)}\nNumber of tensors saved during recomputation: {len(rows)}.\n"
                                  + _DEBUG_TIP)
        wrong = "".join(f"tensor at position {i}:\nsaved metadata: {_metadata(a)}\nrecomputed metadata: "
                        f"{_metadata(b)}\n" for i, (a, b) in enumerate(zip(saved, rows)) if a != b)
        if wrong:
            raise CheckpointError("torch.utils.checkpoint: Recomputed values for the following tensors have "
                                  f"different metadata than during the forward pass.\n{wrong}.\n" + _DEBUG_TIP)

    def vjp(self, saved: tuple, grads: tuple) -> list:
        """The gradients of the outside tensors (None where none arrives), numerically."""
        args, kwargs, outside = self.bind(saved)
        with _scratch(True) as tape:
            out = self.call(args, kwargs, True)
            return _grads_of(out, grads, outside, tape)


def _grads_of(out: Any, grads: tuple, outside: list, tape: _Scratch, create_graph: bool = False) -> list:
    """``autograd.grad`` of the outputs ``out`` of a run on ``tape``, weighted by ``grads``, with
    respect to the stand-ins of the ``outside`` tensors; an output that is an outside tensor
    itself passes its gradient on as it is."""
    flat = []
    _flatten(out, flat)
    outs, gos = [], []
    direct = {}
    for o, g in zip(flat, grads):
        if g is None or not isinstance(o, Tensor):
            continue
        k = next((k for k, t in enumerate(outside) if t is o), -1)
        if k >= 0:
            direct[k] = direct[k] + g if k in direct else g
        elif o._rg:
            outs.append(o)
            gos.append(g)
    ins = {id(u): s for u, s in reversed(tape.outside)}     # (a tensor's first stand-in, if it took several)
    stand = [ins.get(id(t)) for t in outside]
    wanted = [s for s in stand if s is not None]
    if not outs or not wanted:
        got = iter([None] * len(wanted))
    elif create_graph or not _is_checkpoint_valid():
        got = iter(grad(outs, wanted, gos, retain_graph=True, create_graph=create_graph, allow_unused=True))
    else:
        # Inside a full backward, a full backward into the stand-ins' .grad: PyTorch runs the segment's
        # nodes in the outer backward, so a reentrant checkpoint inside the segment may run.
        backward(outs, gos, retain_graph=True)
        got = iter([s.grad for s in wanted])
    result = [next(got) if s is not None else None for s in stand]
    for k, g in direct.items():
        result[k] = g if result[k] is None else result[k] + g
    return result


def _rows(tape: Tape, start: int) -> list:
    """(shape, arena) of the values rows ``start:`` of a run saved (hidden casts and broadcasts aside)."""
    return _metadata_of(tape.R[:, start:tape.n], tape.shapes)


def _metadata_of(R: np.ndarray, shapes: dict) -> list:
    """``_rows`` of the rows whose integer columns are ``R``, their shapes in ``shapes``."""
    return [(shapes[sid], dt) for sid, dt, hid in zip(*R[_META].tolist()) if not hid]


_META = [R_SHP, R_DT, R_HID]        # the columns of what a row saved: shape, arena, hidden


def _metadata(row: tuple) -> dict:
    return {"shape": Size(row[0]), "dtype": ARENA_DTYPES[row[1]], "device": device("cpu")}


class _StopRecomputation(Exception):
    """Raised at the first op a recomputation does not need (``early_stop``)."""


class _Kept:
    """An output of a segment that is no tensor, kept as it is for a recomputation that stops early."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


@contextlib.contextmanager
def _stopping(tape: Tape, start: int, stop: int) -> Iterator[None]:
    """Raise ``_StopRecomputation`` when an op is about to record row ``start + stop`` on ``tape``
    (none when ``stop`` is 0).  Every op that reaches a tape's soft limit passes through
    ``tape._tape.fresh``, which calls ``packing[0]`` (the slot saved-tensor hooks use, chained)."""
    if not stop:
        yield
        return
    end = start + stop
    prev = _T.packing[0]

    def at_op(t: Tape) -> None:
        if prev is not None:
            prev(t)
        if t is tape:
            if t.n >= end:
                raise _StopRecomputation
            t.soft = min(t.soft, end)

    _T.packing[0] = at_op
    tape.soft = min(tape.soft, end)
    try:
        yield
    finally:
        _T.packing[0] = prev


@contextlib.contextmanager
def _traced(on: bool) -> Iterator[None]:
    """Note where each op of the block is called from (anomaly mode's record of the stack, on the
    rows), for ``debug=True``."""
    if not on or is_anomaly_enabled():
        yield
        return
    check_nan = is_anomaly_check_nan_enabled()
    set_anomaly_enabled(True, check_nan)
    try:
        yield
    finally:
        set_anomaly_enabled(False, check_nan)


_SHORT = {"torch.float64": "f64", "torch.float32": "f32"}


def _op_log(tape: Tape, start: int) -> list:
    """``(line, stack)`` for each op a run recorded: PyTorch's debug log line (``$1: f32[3] =
    torch._ops.aten.sin.default($0)``, tensors numbered in order of appearance, the ops' other
    arguments left out) and the stack it was called from (innermost first, ``file:line:function``)."""
    numbers = {}
    log = []

    def number(node: int) -> str:
        while tape.hid[node]:
            node = int(tape.a[node])
        if node not in numbers:
            numbers[node] = len(numbers)
        return f"${numbers[node]}"

    for r, op in _ops_run(tape, start):
        ins = ", ".join(number(node) for node in tape.inputs_of(r))
        outs = Row(tape, r).outputs if tape.nout[r] else (r,)
        shapes = ", ".join(f"{_SHORT[str(ARENA_DTYPES[int(tape.dt[k])])]}[{', '.join(map(str, tape.shape_of(k)))}]"
                           for k in outs)
        names = ", ".join(number(k) for k in outs)
        line = f"{names}: {shapes} = torch._ops.{op}({ins})"
        log.append((line, "".join(f"{f}:{n}:{name}\n" for f, n, name in reversed(forward_stack(tape, r)))))
    return log


def _debug_dump(forward: list, recompute: list) -> str:
    """PyTorch's message for a recomputation that differs from the forward under ``debug=True``."""
    def traces(log: list, label: str) -> str:
        return "".join(f"{line}   ({i + 1} of {len(log)} in {label})\n\n{stack}\n\n"
                       for i, (line, stack) in enumerate(log))
    return _CHECKPOINT_ERROR_TEMPLATE.format(
        forward_traces=traces(forward, "original"), recompute_traces=traces(recompute, "recompute"),
        forward_ops="\n".join(line for line, _ in forward), recompute_ops="\n".join(line for line, _ in recompute))


# (PyTorch's text)
_CHECKPOINT_ERROR_TEMPLATE = (
    " An error happened while unpacking tensors; dumping logs of latest computation\n"
    "because you passed `debug=True` to `torch.utils.checkpoint.checkpoint()`.\n"
    "Scroll all the way down for guidance on how to navigate these logs.\n"
    "\n"
    "+~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~+\n"
    "|        1. Stack traces of the operators that ran in the original forward     |\n"
    "+------------------------------------------------------------------------------+\n"
    "\n"
    "{forward_traces}\n"
    "+~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~+\n"
    "|        2. Stack traces of the operators that ran during recomputation        |\n"
    "+------------------------------------------------------------------------------+\n"
    "\n"
    "{recompute_traces}\n"
    "+~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~+\n"
    "|       3. Log of operators in the original forward and recomputation          |\n"
    "+------------------------------------------------------------------------------+\n"
    "(Scroll up to correlate stack traces with each operation listed below. This\n"
    " helps identify their source in the code.)\n"
    "\n"
    "IMPORTANT: Differences in \"detach\" calls between the original forward and the\n"
    "           recomputation are expected. They are introduced by the checkpointing\n"
    "           mechanism and can be ignored.\n"
    "\n"
    "Operations executed during the original forward:\n"
    "\n"
    "{forward_ops}\n"
    "\n"
    "Operations executed during recomputation:\n"
    "\n"
    "{recompute_ops}\n"
    "\n"
    "+------------------------------------------------------------------------------+\n"
    " ERROR: Detected non-determinism while running activation checkpointing\n"
    "\n"
    " You are seeing this error because you passed `debug=True` to checkpoint and\n"
    " tensors to be saved during the original forward and differ between those saved\n"
    " during recomputation. This can happen if different operators were ran in the\n"
    " original forward and in the recomputation.\n"
    "\n"
    " To identify where the mismatch may be coming from, you can do the following:\n"
    "\n"
    " 1) Compare the operators ran during original forward and recomputation to\n"
    "    see where they differ. These operators are printed above in the order they\n"
    "    were executed.\n"
    "\n"
    " 2) Review the stack trace for each operator to locate its invocation source.\n"
    "    Each operator's stack trace is printed in their execution order.\n"
    "\n"
    " Note that the logs can be quite long. Here's how they are structured:\n"
    " (Tip: you can Ctrl-f for these headers)\n"
    "\n"
    " 1. Stack traces of the operators that ran in the original forward\n"
    " 2. Stack traces of the operators that ran during recomputation\n"
    " 3. Log of operators in the original forward and recomputation\n"
    " 4. Error message                                             <--- You are here\n"
    "--------------------------------------------------------------------------------\n")


class _Derived(_Segment):
    """The gradient of a segment given its outputs' gradients, itself checkpointed: how a recorded
    backward (``create_graph=True``) differentiates a segment without keeping its inside.  Its
    arguments are the segment's saved tensors, then the gradients."""

    def __init__(self, seg: _Segment, saved: tuple, grads: tuple) -> None:
        # (its function holds the segment, not itself: no reference cycle, which would keep the
        # graph of the gradient until a gc collection)
        super().__init__(functools.partial(_Derived._gradient, seg, len(saved)), (*saved, *grads), {}, False,
                         contextlib.nullcontext(), False, False)

    @staticmethod
    def _gradient(seg: _Segment, n_saved: int, *tensors: Tensor | None) -> tuple:
        args, kwargs, outside = seg.bind(tensors[:n_saved])
        out = seg.call(args, kwargs, True)
        # (on the scratch tape of this run: ``grad`` reads the gradients through its stand-ins too)
        return tuple(_grads_of(out, tensors[n_saved:], outside, state.tape, create_graph=True))


class _SegmentFn(Function):
    """The row of a checkpointed segment: its inputs are the tensors it read from outside."""

    _node_name = "CheckpointBackward"
    _vmap_exempt = True

    @staticmethod
    def forward(ctx, seg: _Segment, flat: list, outside: list, *inputs: Tensor) -> tuple:
        ctx.seg = seg
        if seg.ghost is not None:
            seg.ghost.ctx = weakref.ref(ctx)
            ctx._shown_edge = seg.ghost.edge
        ctx.set_materialize_grads(False)
        slots = seg.slots()
        ctx.save_for_backward(*slots)
        # (PyTorch saves the arguments before the function runs: one it changed in place is at a later
        # version than the one saved, which its backward refuses)
        ctx.changed = next(((t, v) for t, v in zip(slots, seg.versions) if t._vnum != v), None)
        seg.forget(outside)
        out = [_plain(o._value(), o._dtype) if isinstance(o, Tensor) else o for o in flat]
        ctx.mark_non_differentiable(*(p for p, o in zip(out, flat) if isinstance(o, Tensor) and not o._rg))
        return tuple(out)

    @staticmethod
    def backward(ctx, *grads: Tensor | None) -> tuple:
        saved = ctx.saved_tensors       # (PyTorch's errors for a freed graph and arguments changed in place)
        if ctx.changed is not None:
            t, version = ctx.changed
            _raise_modified(None, -1, t, version, t._vnum)
        seg = ctx.seg
        if state.grad:
            got = _record(_Derived(seg, saved, grads), contextlib.nullcontext())
        else:
            with _own_hooks():
                got = seg.vjp(saved, grads)
        return (None, None, None, *got)


@contextlib.contextmanager
def _own_hooks() -> Iterator[None]:
    """No saved-tensor hooks from outside for a run of a segment: PyTorch's checkpoint packs what
    the function saves with hooks of its own, the innermost (the tensor arguments saved for the
    recomputation go through the hooks outside: ``_SegmentFn``'s ``save_for_backward``)."""
    then = tuple(_saved.local.stack)
    if not then:
        yield
        return
    _saved.restore(())
    try:
        yield
    finally:
        _saved.restore(then)


def _record(seg: _Segment, context: ContextManager) -> Any:
    """Run ``seg`` forward and record its row; return its outputs as ``fn`` structured them."""
    seg.versions = [t._vnum for t in seg.slots()]
    with _own_hooks():
        flat, rebuild, outside, run = seg.first(context)
    if not outside or not any(isinstance(o, Tensor) and o._rg for o in flat):
        return rebuild(iter(flat))     # nothing to differentiate (PyTorch's outputs then need no grad)
    out = rebuild(iter(_SegmentFn.apply(seg, flat, outside, *outside)))
    del flat
    # The run's tape is a spare, reset when next used: if what Python keeps for its rows (custom
    # Functions' contexts, a nested segment's row) is kept by the segment's row now, it is let go
    # here, so that it goes with that row, as PyTorch's nodes go with the graph.
    if run is not None and run.pyrows and sys.getrefcount(run) == 2 + any(s is run for s in _pool.__dict__.get("spares", ())):
        run.reset()
    return out


# -- the reentrant variant ------------------------------------------------------------------
class CheckpointFunction(Function):
    """The reentrant checkpoint: forward without grad, backward runs the function again and
    calls ``backward`` on its outputs."""

    @staticmethod
    def forward(ctx, run_function: Callable, preserve_rng_state: bool, *args: Any) -> Any:
        check_backward_validity(args)
        ctx.run_function = run_function
        ctx.preserve_rng_state = preserve_rng_state
        if preserve_rng_state:
            ctx.fwd_cpu_state = get_rng_state()     # (PyTorch's attribute; the backward restores ``_rng``)
            ctx._rng = rng_snapshot()
        ctx.inputs = [None if isinstance(a, Tensor) else a for a in args]
        ctx.tensor_indices = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.save_for_backward(*(a for a in args if isinstance(a, Tensor)))
        return run_function(*args)

    @staticmethod
    def backward(ctx, *args: Any) -> tuple:
        if not _is_checkpoint_valid():
            raise RuntimeError("When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad() or "
                               "passing an `inputs` parameter to .backward(). To resolve this error, you can either "
                               "set use_reentrant=False, or call .backward() without passing the `inputs` argument.")
        inputs = list(ctx.inputs)
        for i, t in zip(ctx.tensor_indices, ctx.saved_tensors):
            inputs[i] = t
        with _scratch(False), _rng_as(ctx._rng if ctx.preserve_rng_state else None):
            detached = detach_variable(tuple(inputs))
            outputs = ctx.run_function(*detached)
            if isinstance(outputs, Tensor):
                outputs = (outputs,)
            with_grad = [(o, g) for o, g in zip(outputs, args) if isinstance(o, Tensor) and o.requires_grad]
            if not with_grad:
                raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
            backward([o for o, _ in with_grad], [g for _, g in with_grad], retain_graph=True)
        return (None, None) + tuple(d.grad if isinstance(d, Tensor) else None for d in detached)


# -- the public functions -------------------------------------------------------------------
def checkpoint(function: Callable, *args: Any, use_reentrant: bool | None = None,
               context_fn: Callable[[], Tuple[ContextManager, ContextManager]] = noop_context_fn,
               determinism_check: str = _DEFAULT_DETERMINISM_MODE, debug: bool = False, early_stop: bool = True,
               preserve_rng_state: bool = True, **kwargs: Any) -> Any:
    r"""Checkpoint a model or part of the model.

    ``function(*args, **kwargs)`` runs without keeping the values computed inside it for
    backward; backward runs it again (with the random number generator's state of the forward
    unless ``preserve_rng_state=False``) to compute its gradient.

    ``use_reentrant`` should be passed: without it, a warning, and the reentrant variant as in
    PyTorch 2.13.  ``use_reentrant=False`` (recommended) works with ``autograd.grad``,
    ``create_graph=True``, hooks, keyword arguments and inputs that do not require grad;
    ``use_reentrant=True`` runs ``backward`` inside the backward, and refuses ``autograd.grad`` and
    ``backward(inputs=...)``.  ``determinism_check="default"`` compares the shapes, dtypes and
    devices of the recomputed outputs with the forward's (``"none"``: no check); ``debug=True``
    adds the ops of both runs to that error.  ``context_fn`` returns two context managers, for the
    forward and for the recomputation.  ``early_stop`` (or ``set_checkpoint_early_stop``) stops
    the recomputation after the last op the segment's outputs need: the ops after it, and the
    Python code after it, do not run again.

    Returns:
        Output of running ``function`` on ``*args``
    """
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. Starting in "
                      "PyTorch 2.9, calling checkpoint without use_reentrant will raise an exception. "
                      "use_reentrant=False is recommended, but if you need to preserve the current default behavior, "
                      "you can pass use_reentrant=True. Refer to docs for more details on the differences between "
                      "the two variants.", stacklevel=2)
        use_reentrant = True
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if use_reentrant:
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
        return CheckpointFunction.apply(function, preserve_rng_state, *args)
    debug = _checkpoint_debug_enabled if _checkpoint_debug_enabled is not None else debug
    if debug and context_fn is not noop_context_fn:
        raise ValueError("debug=True is incompatible with non-default context_fn")
    if determinism_check not in (_DEFAULT_DETERMINISM_MODE, "none"):
        raise ValueError(f"determinism_check should be one of {[_DEFAULT_DETERMINISM_MODE, 'none']}, but got "
                         f"{determinism_check}")
    forward_context, recompute_context = context_fn()
    if not state.grad:
        return function(*args, **kwargs)
    if _enable_checkpoint_early_stop is not None:
        early_stop = _enable_checkpoint_early_stop
    seg = _Segment(function, args, kwargs, preserve_rng_state, recompute_context,
                   determinism_check == _DEFAULT_DETERMINISM_MODE, bool(debug), bool(early_stop))
    return _record(seg, forward_context)


def checkpoint_sequential(functions, segments: int, input: Tensor, use_reentrant: bool | None = None,
                          **kwargs: Any) -> Tensor:
    r"""Checkpoint a sequential model to save memory.

    ``functions`` (a list of functions or modules) runs in order on ``input``, in ``segments``
    chunks; each chunk but the last is checkpointed (only its input is kept for backward).
    ``preserve_rng_state`` may be passed as a keyword; ``use_reentrant`` as for ``checkpoint``.

    Returns:
        Output of running ``functions`` sequentially on ``input``
    """
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be passed "
                      "explicitly. In version 2.9 we will raise an exception if use_reentrant is not passed. "
                      "use_reentrant=False is recommended, but if you need to preserve the current default behavior, "
                      "you can pass use_reentrant=True. Refer to docs for more details on the differences between "
                      "the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))

    def run_function(start: int, end: int, functions) -> Callable:
        def forward(input):
            for j in range(start, end + 1):
                input = functions[j](input)
            return input
        return forward

    functions = list(functions)
    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end, functions), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1, functions)(input)


# -- a loop reversed on the binomial schedule --------------------------------------------------
class _Loop(_Segment):
    """``x = step(x)`` ``n`` times, checkpointed as one segment whose numeric backward follows
    revolve's schedule with ``snapshots`` stored states."""

    def __init__(self, step: Callable[[Tensor], Tensor], x: Tensor, n: int, snapshots: int,
                 preserve_rng_state: bool) -> None:
        super().__init__(step, (x,), {}, False, contextlib.nullcontext(), False, False)
        self.n, self.snapshots = n, snapshots
        self.preserve = preserve_rng_state
        self.states = []        # the generator's state before each step of the forward

    def call(self, args: tuple, kwargs: dict, recompute: bool) -> Tensor:
        x = args[0]
        for i in range(self.n):
            with self._rng(i if recompute else -1):
                x = self.fn(x)
        return x

    def _rng(self, i: int) -> ContextManager:
        """The generator in the state it had before step ``i`` of the forward (``i < 0``: as it is)."""
        return _rng_as(self.states[i] if i >= 0 and self.states else None)

    def first(self, context: ContextManager) -> tuple:
        # Each step on a scratch tape of its own (so the forward holds one step's values at a
        # time), from the value the previous step left; the tensors it reads from outside are
        # the union over the steps.
        outside = []
        x = self.args[0]
        with context:
            for _ in range(self.n):
                if self.preserve:
                    self.states.append(rng_snapshot())
                with _scratch(True) as tape:
                    y = self.fn(x)
                    outside += [t for t, _ in tape.outside if not any(t is u for u in outside)]
                x = _plain(y._value(), y._dtype)
        x._rg = bool(outside)
        return [x], lambda it: next(it), outside, None

    def vjp(self, saved: tuple, grads: tuple) -> list:
        (x0,), _, outside = self.bind(saved)
        acc = [None] * len(outside)
        step = self.fn

        def back(x: Tensor, i: int, g: Tensor | None) -> Tensor | None:
            """Step ``i`` recorded at state ``x``: the gradient of ``x``; those of the outside tensors
            are added up in ``acc``."""
            with _scratch(True) as tape, self._rng(i):
                xin = _plain(x._value(), x._dtype)
                xin._rg = True
                got = _grads_of(step(xin), (g,), [xin] + outside, tape)
            for k, d in enumerate(got[1:]):
                if d is not None:       # (a view of the scratch tape's buffers: copied or added up now)
                    acc[k] = d.clone() if acc[k] is None else acc[k] + d
            return got[0]

        def advance(x: Tensor, i: int, m: int) -> Tensor:
            """The state after steps ``i`` to ``i + m - 1`` from state ``x``, without recording."""
            prev = state.grad
            state.grad = False
            try:
                for k in range(i, i + m):
                    with self._rng(k):
                        x = step(x)
            finally:
                state.grad = prev
            return x

        def reverse(x: Tensor, i: int, n: int, s: int, g: Tensor | None) -> Tensor | None:
            """Reverse the ``n`` steps from state ``x`` (before step ``i``) holding at most ``s`` more
            states at once."""
            if n == 1:
                return back(x, i, g)
            if s == 0:
                for k in range(n - 1, -1, -1):
                    g = back(advance(x, i, k), i + k, g)
                return g
            m = _split(n, s)
            g = reverse(advance(x, i, m), i + m, n - m, s - 1, g)
            return reverse(x, i, m, s, g)

        gx = reverse(_plain(x0._value(), x0._dtype), 0, self.n, self.snapshots, grads[0])
        return [(gx if a is None else a + gx) if t is x0 and gx is not None else a for t, a in zip(outside, acc)]


def _repetitions(n: int, stored: int) -> int:
    """Revolve's ``t``: the fewest runs of a step with which ``n`` steps can be reversed from
    ``stored`` states held at once, the least ``t`` with ``C(stored + t, t) >= n``."""
    t = 0
    while comb(stored + t, t) < n:
        t += 1
    return t


def _split(n: int, s: int) -> int:
    """Where revolve stores the next state when reversing ``n`` steps with ``s`` free snapshots:
    after ``m`` steps, such that the last ``n - m`` steps can be reversed in ``t`` runs with one
    snapshot fewer and the first ``m`` in ``t - 1`` runs with as many."""
    stored = s + 1
    t = _repetitions(n, stored)
    low = n - comb(stored + t - 1, stored - 1)
    return min(max(low, comb(stored + t - 2, stored) if t >= 2 else 1), n - 1)


def checkpoint_loop(step: Callable[[Tensor], Tensor], x: Tensor, n: int, *, snapshots: int,
                    preserve_rng_state: bool = True) -> Tensor:
    r"""Apply ``x = step(x)`` ``n`` times, differentiably, keeping at most ``snapshots`` states.

    Not in PyTorch.  The forward keeps only ``x`` and the result; backward reverses the steps on
    Griewank's binomial ("revolve") schedule: with ``S = snapshots + 1`` states held at once
    (the input and the snapshots) and ``t`` the least integer with ``C(S + t, t) >= n``, it calls
    ``step`` exactly

        ``(t + 1) * n - C(S + t, t - 1)``  times (``n`` when ``n == 1``),

    the fewest any schedule can (each step's gradient takes one call of ``step`` at its input
    state, on a scratch tape; the other calls recompute states, without recording).  With
    ``snapshots=0`` that is ``n (n + 1) / 2``; with ``snapshots >= n - 1``, ``2 n - 1``.

    ``step`` takes and returns one tensor, and may read tensors that require grad from its
    closure (parameters get their gradients).  The random number generator's state before each
    step is kept (40 bytes a step) and restored when the step runs again, so random ops recompute
    identically (``preserve_rng_state=False``: they draw anew).  A recorded backward
    (``create_graph=True``) runs the ``n`` steps once, recorded, instead (its memory grows with ``n``).
    """
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"checkpoint_loop expects a number of steps n >= 0, but got {n}")
    if not isinstance(snapshots, int) or snapshots < 0:
        raise ValueError(f"checkpoint_loop expects snapshots >= 0, but got {snapshots}")
    loop = _Loop(step, x, n, snapshots, preserve_rng_state)
    if n == 0 or not state.grad:
        return loop.call(loop.args, {}, False)
    return _record(loop, contextlib.nullcontext())
