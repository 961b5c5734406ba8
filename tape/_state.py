"""Per-thread state: grad mode and the tape that ops record onto."""
from __future__ import annotations

import sys
import threading

_set = threading.local.__setattr__


class _ThreadState(threading.local):
    def __init__(self) -> None:
        _set(self, "rec", None)  # ``tape`` while grad mode is on, else None (kept by ``__setattr__``)
        _set(self, "grad", True)  # grad mode: record ops whose inputs require grad
        _set(self, "tape", None)  # the tape new rows go to; created on first use
        self.spares = []      # retired tapes, reused once no tensor refers to them
        self.pinned = 0       # > 0 while a recorded backward writes to the current tape
        self.full_backward = True   # False inside autograd.grad / backward(inputs=...) (reentrant checkpoints refuse)
        self.inference = False  # inference mode (``tape.inference_mode``)
        self.fwd_grad = True    # forward AD computes tangents (``torch._C._set_fwd_grad_enabled``)
        self.view_replay = False    # views re-derived by replaying their own op (``autograd._force_original_view_tracking``)

    def __setattr__(self, name: str, value) -> None:
        # ``rec`` follows ``grad`` and ``tape`` wherever they are set: the 0-d fast path (``_emit``)
        # reads it alone, as each read of a thread-local costs as much as a row's write.
        _set(self, name, value)
        if name == "grad" or name == "tape":
            _set(self, "rec", self.tape if self.grad else None)


state = _ThreadState()


inplace_changes = [0]   # bumped by every in-place change (any thread): lets backward skip version checks
# The version counters (lists) of the tensors inside ``autograd._unsafe_preserve_version_counter``:
# their in-place changes flag no recorded row.
preserved_versions: list = []
# Inside ``autograd.graph.allow_mutation_on_saved_tensors`` (process-wide, as PyTorch's): the tape
# generation and row count at its start, (gen, row); else None.
mutation_allowed = [None]
# Inside it: (tape generation, row) of each recorded value changed in place since it began -> the
# tape's row count then (the rows before it saw the value as it was).
mutated_rows: dict = {}


# A thread's stack for backwards run from inside a backward (a custom Function's or a hook's):
# PyTorch hands a deep chain of them to new threads, and so does ``on_fresh_stack``.
DEEP_STACK = 64 << 20


def deep_stack() -> bool:
    """Whether this thread's Python stack is a third of the way to the recursion limit."""
    try:
        sys._getframe(sys.getrecursionlimit() // 3)
    except ValueError:
        return False
    return True


def _thread_locals() -> list:
    # (found afresh each time: rare, and modules imported lazily may hold some)
    found = {}
    for name, module in list(sys.modules.items()):
        if module is not None and (name == "tape" or name.startswith("tape.")):
            for value in list(vars(module).values()):
                if isinstance(value, threading.local):
                    found[id(value)] = value
    return list(found.values())


def on_fresh_stack(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` run by a new thread that carries on as this one: it starts with this
    thread's thread-local state (grad mode, tape, the backward running, hooks...) and hands its
    own back, while this thread waits.  One logical thread on two stacks: a chain of reentrant
    backwards as deep as PyTorch's tests make them does not reach Python's recursion limit."""
    locals_ = _thread_locals()
    mine = [dict(vars(loc)) for loc in locals_]
    out: list = [None, None]

    def run() -> None:
        for loc, values in zip(locals_, mine):
            vars(loc).update(values)
        try:
            out[0] = fn(*args, **kwargs)
        except BaseException as e:     # (re-raised in the waiting thread)
            out[1] = e
        for k, loc in enumerate(locals_):
            mine[k] = dict(vars(loc))

    old = threading.stack_size()
    threading.stack_size(DEEP_STACK)
    try:
        worker = threading.Thread(target=run, name="tape-reentrant-backward")
    finally:
        threading.stack_size(old)
    worker.start()
    worker.join()
    for loc, values in zip(locals_, mine):
        d = vars(loc)
        d.clear()
        d.update(values)
    if out[1] is not None:
        raise out[1]
    return out[0]
