"""Anomaly mode: where each row was recorded from, and the checks a backward makes in this mode.

Recording stays free outside anomaly mode: ops look at the tape's soft limit before each row
(``tape/_tape.py``, ``fresh``), and in anomaly mode the limit is kept at the row count, so that
every op passes through ``fresh``, which notes the caller's stack (user frames only) as a small
integer into a table of stacks, for the rows from there on (``tape.prov``: first row -> stack).
A backward then stops the sweep at every row (the hooks' door, ``tape/_hooks.py``): after each
row it checks the gradients the row gave its inputs for nan, and an error at a row is preceded
by PyTorch's warning with the traceback of the forward call that recorded it.
"""
from __future__ import annotations

import os
import sys
import traceback
import warnings

import numpy as np

from ._state import state

_mode = [False, True]       # enabled, check_nan (global, as PyTorch's)
_STACKS: dict = {}          # stack (a tuple of (file, line, function), outermost first) -> id
_BY_ID: list = []
_HERE = os.path.dirname(os.path.abspath(__file__))
_OPS = os.path.join(os.path.dirname(_HERE), "ops")


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is enabled."""
    return _mode[0]


def is_anomaly_check_nan_enabled() -> bool:
    """Whether anomaly detection checks backward results for nan."""
    return _mode[1]


def modified_hint() -> str:
    """The hint closing PyTorch's error for a saved tensor changed in place."""
    if _mode[0]:
        return ("the backtrace further above shows the operation that failed to compute its gradient. The variable "
                "in question was changed in there or anywhere later. Good luck!")
    return ("enable anomaly detection to find the operation that failed to compute its gradient, with "
            "torch.autograd.set_detect_anomaly(True, check_nan=False).")


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """Enable or disable anomaly detection (and its nan check)."""
    _mode[0] = bool(enabled)
    _mode[1] = bool(check_nan)
    _last[:] = None, (), {}, 0, -1     # (no user frame kept alive outside anomaly mode)
    tape = state.tape
    if enabled and tape is not None:
        tape.soft = min(tape.soft, tape.n)      # the next op on this thread's tape notes its caller


# id of a code object -> whether it is tape's own (left out of tracebacks); keyed by id because a
# code object hashes its contents on every lookup.  The codes are kept, so no id is reused.
_OURS: dict = {}
_CODES: list = []
# The innermost user frame of the last op noted, the stack around it, and its lines' stack ids.
# While that very frame runs (it is held here, so no other frame can be it), the frames around it
# are suspended where they were: a chain of ops noted from one function costs a frame lookup
# and a dict lookup each, not a walk of the whole stack.
_last: list = [None, (), {}, 0, -1]     # (and the id of the tape and the stack id noted last)


def _ours(code) -> bool:
    mine = _OURS.get(id(code))
    if mine is None:
        mine = _OURS[id(code)] = code.co_filename.startswith(_HERE) or code.co_filename.startswith(_OPS)
        _CODES.append(code)
    return mine


def _stack_id(key: tuple) -> int:
    sid = _STACKS.get(key)
    if sid is None:
        sid = _STACKS[key] = len(_BY_ID)
        _BY_ID.append(key)
    return sid


def note(tape) -> None:
    """Note the stack of the op about to record rows on ``tape``; keep the next op coming here."""
    tape.soft = tape.n
    f = sys._getframe(3)        # (past ``fresh`` and the op code that called it)
    ours = _OURS
    while f is not None:
        mine = ours.get(id(f.f_code))
        if not (mine or mine is None and _ours(f.f_code)):
            break
        f = f.f_back
    if f is None:
        sid = _stack_id(())
    else:
        if f is not _last[0]:
            outer = []
            g = f.f_back
            while g is not None:
                if not _ours(g.f_code):
                    outer.append((g.f_code.co_filename, g.f_lineno, g.f_code.co_name))
                g = g.f_back
            _last[:3] = f, tuple(reversed(outer)), {}
        # (keyed by the instruction: ``f_lineno`` is computed from the line table at each read)
        at = f.f_lasti
        sid = _last[2].get(at)
        if sid is None:
            sid = _last[2][at] = _stack_id(_last[1] + ((f.f_code.co_filename, f.f_lineno, f.f_code.co_name),))
    prov = tape.prov
    if not (prov and _last[3] == id(tape) and _last[4] == sid):     # (the op before was noted there, with this stack)
        prov[tape.n] = sid
        _last[3:] = id(tape), sid


def forward_stack(tape, r: int) -> tuple:
    """The user frames ``(file, line, function)`` of the forward call that recorded row ``r``,
    outermost first (empty if unknown)."""
    starts = [k for k in tape.prov if k <= r]
    return _BY_ID[tape.prov[max(starts)]] if starts else ()


def forward_trace(tape, r: int) -> str:
    """The traceback of the forward call that recorded row ``r`` (empty if unknown)."""
    return "".join(traceback.format_list([traceback.FrameSummary(f, n, name) for f, n, name in forward_stack(tape, r)]))


def warn_at(tape, r: int, name: str) -> None:
    """PyTorch's warning before an error in the backward of row ``r`` (node ``name``)."""
    warnings.warn(f"Error detected in {name}. Traceback of forward call that caused the error:\n"
                  f"{forward_trace(tape, r)} (Triggered internally at "
                  "/__w/pytorch/pytorch/torch/csrc/autograd/python_anomaly_mode.cpp:122.)", UserWarning, stacklevel=2)


def nan_input(grads: list) -> int:
    """The position of the first gradient (array or None) that holds a nan, or -1."""
    for k, g in enumerate(grads):
        if g is not None and np.isnan(g).any():
            return k
    return -1
