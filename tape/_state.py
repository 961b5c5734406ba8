"""Per-thread state: grad mode and the tape that ops record onto."""
from __future__ import annotations

import threading


class _ThreadState(threading.local):
    def __init__(self) -> None:
        self.grad = True      # grad mode: record ops whose inputs require grad
        self.tape = None      # the tape new rows go to; created on first use
        self.spares = []      # retired tapes, reused once no tensor refers to them
        self.pinned = 0       # > 0 while a recorded backward writes to the current tape
        self.full_backward = True   # False inside autograd.grad / backward(inputs=...) (reentrant checkpoints refuse)
        self.inference = False  # inference mode (``tape.inference_mode``)
        self.fwd_grad = True    # forward AD computes tangents (``torch._C._set_fwd_grad_enabled``)
        self.view_replay = False    # views re-derived by replaying their own op (``autograd._force_original_view_tracking``)


state = _ThreadState()


inplace_changes = [0]   # bumped by every in-place change (any thread): lets backward skip version checks
# The version counters (lists) of the tensors inside ``autograd._unsafe_preserve_version_counter``:
# their in-place changes flag no recorded row.
preserved_versions: list = []
# Inside ``autograd.graph.allow_mutation_on_saved_tensors`` (process-wide, as PyTorch's): the tape
# generation and row count at its start, (gen, row); else None.
mutation_allowed = [None]
