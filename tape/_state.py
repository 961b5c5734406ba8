"""Per-thread state: grad mode and the tape that ops record onto."""
from __future__ import annotations

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
