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
import threading
import traceback
import warnings
from bisect import bisect_right
from itertools import islice

import numpy as np

from ._state import state

_mode = [False, True]       # enabled, check_nan (global, as PyTorch's)
_STACKS: dict = {}          # stack (a tuple of (file, line, function), outermost first) -> id
_BY_ID: list = []
# A row recorded while a backward runs a node (the node's backward, or a hook) was induced by that
# node: its stack id is one of its own, for (the stack, the node's name, the node's stack id),
# and ``_PARENTS`` gives the last two, as PyTorch's anomaly metadata keeps the parent node.
_INDUCED: dict = {}
_PARENTS: dict = {}
class _Running(threading.local):
    """(name, stack id) of the node a backward runs now in this thread."""
    node = None     # (a class default: a missing thread-local attribute costs an exception at each op)


_running = _Running()
# The ``running`` contexts entered now, in any thread (list appends and removals are atomic): ``note``
# reads the thread-local only while there are some.
_inside: list = []
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
    for k, (name, value) in enumerate((("enabled", enabled), ("check_nan", check_nan))):
        if type(value) is not bool:
            # (the parser's error: ``ops/_parser.check_types``, which this module is below)
            raise TypeError(f"set_anomaly_enabled(): argument '{name}' (position {k + 1}) must be bool, not "
                            f"{type(value).__name__}")
    was = _mode[0]
    _mode[0] = bool(enabled)
    _mode[1] = bool(check_nan)
    _last[:] = None, (), {}, 0, -1     # (no user frame kept alive outside anomaly mode)
    tape = state.tape
    if enabled and tape is not None:
        tape.soft = min(tape.soft, tape.n)      # the next op on this thread's tape notes its caller
    elif was and tape is not None and tape.prov:
        tape.prov[tape.n] = -1      # (rows recorded from here on, outside anomaly mode, have no stack)


# id of a code object -> whether it is tape's own (left out of tracebacks); keyed by id because a
# code object hashes its contents on every lookup.  The codes are kept, so no id is reused.
_OURS: dict = {}
_CODES: list = []
# The innermost user frame of the last op noted, the stack around it, and its lines' stack ids.
# While that very frame runs (it is held here, so no other frame can be it), the frames around it
# are suspended where they were: a chain of ops noted from one function costs a frame lookup
# and a dict lookup each, not a walk of the whole stack.
_last: list = [None, (), {}, 0, -1]     # (and the generation of the tape and the stack id noted last)
_getframe = sys._getframe


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
    f = _getframe(3)        # (past ``fresh`` and the op code that called it)
    last = _last
    if f is last[0]:
        # The user frame of the op before (an op called from the user's code, not from one of
        # tape's functions): no walk, one lookup of the instruction.
        sid = last[2].get(f.f_lasti)
        if sid is None:
            sid = _frame_sid(f)
    else:
        sid = _walk(f)
    if _inside:
        parent = _running.node
        if parent is not None:
            sid = _induced(sid, parent)
    if last[4] != sid or last[3] != tape.gen or not tape.prov:
        # (else the op before was noted there, with this stack: its entry covers this op's rows)
        tape.prov[tape.n] = sid
        last[3] = tape.gen
        last[4] = sid


def _walk(f) -> int:
    """The stack id of the innermost user frame from ``f`` outwards (remembered in ``_last``)."""
    ours = _OURS
    while f is not None:
        mine = ours.get(id(f.f_code))
        if not (mine or mine is None and _ours(f.f_code)):
            break
        f = f.f_back
    if f is None:
        return _stack_id(())
    if f is not _last[0]:
        outer = []
        g = f.f_back
        while g is not None:
            if not _ours(g.f_code):
                outer.append((g.f_code.co_filename, g.f_lineno, g.f_code.co_name))
            g = g.f_back
        _last[:3] = f, tuple(reversed(outer)), {}
    # (keyed by the instruction: ``f_lineno`` is computed from the line table at each read)
    sid = _last[2].get(f.f_lasti)
    return _frame_sid(f) if sid is None else sid


def _frame_sid(f) -> int:
    """The stack id of user frame ``f`` (``_last[0]``) at its current instruction."""
    sid = _last[2][f.f_lasti] = _stack_id(_last[1] + ((f.f_code.co_filename, f.f_lineno, f.f_code.co_name),))
    return sid


def _induced(sid: int, parent: tuple) -> int:
    """The stack id of a row recorded from stack ``sid`` while a backward runs node ``parent``."""
    key = (sid,) + parent
    induced = _INDUCED.get(key)
    if induced is None:
        induced = _INDUCED[key] = len(_BY_ID)
        _BY_ID.append(_BY_ID[sid])
        _PARENTS[induced] = parent
    return induced


# The ``prov`` dict searched last and its keys, which are rows in increasing order (the order they
# were noted in; a tape rolled back gets a new dict, ``tape/_pyforward.py``): a backward in anomaly
# mode asks for the stack of each Python row it runs, and a search costs a bisection, plus the
# keys noted since the one before.
_keys: list = [None, []]


def stack_of(tape, r: int) -> int:
    """The stack id of the op that recorded row ``r`` (-1 if unknown)."""
    prov = tape.prov
    if not prov:
        return -1
    seen, keys = _keys
    if seen is not prov:
        keys = list(prov)
        _keys[:] = prov, keys
    elif len(keys) < len(prov):
        keys.extend(reversed(list(islice(reversed(prov), len(prov) - len(keys)))))
    i = bisect_right(keys, r)
    return prov[keys[i - 1]] if i else -1


def forward_stack(tape, r: int) -> tuple:
    """The user frames ``(file, line, function)`` of the forward call that recorded row ``r``,
    outermost first (empty if unknown)."""
    sid = stack_of(tape, r)
    return _BY_ID[sid] if sid >= 0 else ()


class running:
    """While a backward runs the node of row ``r`` (named ``name``): rows recorded meanwhile were
    induced by it."""

    def __init__(self, tape, r: int, name: str) -> None:
        self.node = (name, stack_of(tape, r))

    def __enter__(self) -> None:
        self.prev = _running.node
        _running.node = self.node
        _inside.append(self)

    def __exit__(self, *exc) -> None:
        _inside.remove(self)
        _running.node = self.prev


def warn_at(tape, r: int, name: str) -> None:
    """PyTorch's warning before an error in the backward of row ``r`` (node ``name``)."""
    sid = stack_of(tape, r)
    _warn(_stack_text(name, sid, "Error detected in {}. Traceback of forward call that caused the error:\n")
          + (_TRIGGERED.format(122) if sid >= 0 and _BY_ID[sid] else _TRIGGERED.format(100)))
    parent = _PARENTS.get(sid)
    while parent is not None:       # (the nodes whose backward recorded the row, innermost first)
        name, sid = parent
        _warn(_stack_text(name, sid, "\n\nPrevious calculation was induced by {}. Traceback of forward call that "
                                     "induced the previous calculation:\n") + _TRIGGERED.format(129))
        parent = _PARENTS.get(sid)


# (the suffix PyTorch's C++ warnings carry: where in its source they were given)
_TRIGGERED = " (Triggered internally at /__w/pytorch/pytorch/torch/csrc/autograd/python_anomaly_mode.cpp:{}.)"


def _stack_text(name: str, sid: int, head: str) -> str:
    frames = _BY_ID[sid] if sid >= 0 else ()
    if not frames:
        return (f"Error detected in {name}. No forward pass information available. Enable detect anomaly during "
                "forward pass for more information.")
    return head.format(name) + "".join(traceback.format_list([traceback.FrameSummary(*f) for f in frames]))


def _warn(text: str) -> None:
    try:
        warnings.warn(text, UserWarning, stacklevel=4)
    except Warning as w:
        # An error filter made the warning an exception while the backward fails: PyTorch prints
        # it then, and the error it comes with is the one raised.
        print(f"{type(w).__name__}: {w}", file=sys.stderr)


def nan_input(grads: list) -> int:
    """The position of the first gradient (array or None) that holds a nan, or -1."""
    for k, g in enumerate(grads):
        if g is not None and np.isnan(g).any():
            return k
    return -1
