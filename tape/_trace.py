"""``tape.trace``: record a function once, then replay its tape on new inputs in compiled code.

Recording runs ``fn`` on stand-in leaves for its arguments, on a tape of its own (made the
thread's tape for the while).  A replay writes new values into the arguments' INPUT rows (and
the current values of the tensors ``fn`` read from outside, its parameters) and runs the rows
again with their families' forward kernels (``tape/_replay.py``); backward is the plain
reverse sweep over the same rows (``_engine.run``), forward mode the tangent sweep.

Python decisions that read a value while recording (``bool(t)``, ``float(t)``, ``.item()``,
``.tolist()``, ``.numpy()``, an op whose result left the tape, such as a comparison, an index
from ``argmax`` or ``nonzero``) are recorded as guard rows, checked as the rows run again; a
replay whose guard fails is never used: the trace records ``fn`` again at those inputs (a
variant, kept in a bounded cache), or raises ``TraceGuardError`` with ``strict=True``.  The
hooks that make guards are installed only while a trace records (or saved-tensor hooks are on:
the same hooked front ends pack what each op saved before it returns, ``tape/_saved.py``).
"""
from __future__ import annotations

import bisect
import collections
import functools
import itertools
import linecache
import operator
import os
import sys
import threading
import types
from typing import Callable, Optional, Sequence, Union

import numpy as np

from . import _blocked, _engine, _optimize, _pyforward, _saved
from . import _dtype as D
from ._grad_mode import no_grad
from ._record import VALUES
from ._replay import (C_STOP, EQ, EXACT, GE, GT, GUARD, LE, LT, NE, PY_GUARD, ST_GUARD, TRUTH, numpy_rows,
                      replay_rows, scalar_backward, scalar_forward, scalar_program)
from ._state import state
from ._anomaly import _mode as _anomaly_mode
from ._stops import C_ROW, C_SIZE, C_START, C_STATUS, MODIFIED, ST_COMPILE, ST_DONE, ST_PYTHON
from ._sweep import _PYTHON_START, ADJOINTS, FAMILY, PYTHON_FROM, SAVES, compile_for, mark_unneeded, sweep_rows
from ._tape import Tape
from ._tangent import tangent_sweep
from ._tensor import Tensor, _plain, _py_scalar
from .ops import PUBLIC
from .ops._spec import CONST, INPUT, REGISTRY, SOURCE

__all__ = ["trace", "Trace", "TraceGuardError"]

_Inputs = Union[Tensor, Sequence[Tensor]]


class TraceGuardError(RuntimeError):
    """A value read while recording a trace (a branch taken, a number used) is different at the
    inputs of a replay, and the trace was made with ``strict=True``."""


# --- the recorder: guards made while ``fn`` runs ------------------------------------------
_local = threading.local()
_HERE = (os.path.dirname(os.path.abspath(__file__)),
         os.path.dirname(os.path.abspath(REGISTRY[next(iter(REGISTRY))].vjp.__code__.co_filename)))


def _user_line() -> str:
    """Where the user's code made the decision: the first frame outside tape."""
    f = sys._getframe(2)
    while f is not None and os.path.dirname(os.path.abspath(f.f_code.co_filename)) in _HERE:
        f = f.f_back
    if f is None:
        return "<unknown>"
    text = linecache.getline(f.f_code.co_filename, f.f_lineno).strip()
    return f"{f.f_code.co_filename}:{f.f_lineno}: {text}"


class _Recorder:
    """The state of one recording: its tape, and what each guard row stands for."""

    def __init__(self, tape: Tape, strict: bool) -> None:
        self.tape = tape
        self.strict = strict
        self.depth = 0              # > 0 inside a hooked call: what it calls makes no guard
        self.where = {}             # guard row -> the user's line
        self.checks = {}            # PY_GUARD row -> (function, arguments, expected result)
        self.segments = {}          # first Python-forward row of a call -> its segment (``_pyforward``)

    def segment(self, seg) -> None:
        if seg is not None:
            tape = self.tape
            first = seg.start + int(np.argmax(tape.op[seg.start:seg.stop] >= _PYTHON_START))
            self.segments[first] = seg
            self.where[first] = _user_line()

    def node_of(self, t: Tensor) -> int:
        """``t``'s node on the tape being recorded, or -1."""
        tape = self.tape
        if t._tape is tape:
            return t._node
        if t._tape is None and t._ig == tape.gen:
            return t._in
        return -1

    def _refuse(self, what: str) -> None:
        if self.strict:
            raise TraceGuardError(f"tape.trace(strict=True): {what} reads a traced tensor's whole value, which "
                                  f"would make a guard on that value ({_user_line()})")

    def read(self, t: Tensor, kind: int) -> None:
        """A value read (``bool``, ``item`` ...): guard on its exact value (or truth)."""
        if not t._dtype.is_floating_point:
            return      # (an integer or boolean tensor: pinned by the guard of the op that made it)
        node = self.node_of(t)
        if node < 0:
            if t._tape is not None:
                return  # a node of another tape: a constant of the trace
            node = self.tape.import_(t)
        if kind == EXACT:
            self._refuse("a value read")
        v = self.tape.value_of(node)
        expected = (v != 0).astype(np.float64) if kind == TRUTH else v.astype(np.float64)
        self._guard(node, kind, 0.0, expected)

    def _guard(self, node: int, kind: int, c: float, expected: np.ndarray) -> None:
        tape = self.tape
        r = tape.append(GUARD, 0, expected, a=node, ia=kind, fa=c)
        tape.rg[r] = 0
        self.where[r] = _user_line()

    def result(self, fn: Callable, name: str, args: tuple, kwargs: dict, out) -> None:
        """An op ran: guard on its result if it left the tape but came from traced values."""
        for a in args:
            if type(a) is Tensor and a._tape is None and not a._shape and not a._rg and a._dtype.is_floating_point:
                # A 0-d tensor that needs no gradient is an op's number operand (its value is in
                # the row): it is read anew at each replay and guarded on.
                self._guard(self.tape.import_(a), EXACT, 0.0, np.array(a._value(), np.float64))
        if type(out) is Tensor and (out._tape is not None or out._rg):
            return
        nodes = [self.node_of(a) if isinstance(a, Tensor) else -1 for a in args]
        if isinstance(out, Tensor) and out._tape is not None:
            return
        traced = any(n >= 0 for n in nodes) or any(
            isinstance(x, Tensor) and self.node_of(x) >= 0 for a in args if isinstance(a, (list, tuple)) for x in a)
        traced = traced or any(isinstance(v, Tensor) and self.node_of(v) >= 0 for v in kwargs.values())
        if not traced or _stays(out):
            return
        t = args[0] if args else None
        c = args[1] if len(args) == 2 else None
        kind = _COMPARE.get(name)
        if (kind is not None and isinstance(t, Tensor) and nodes[0] >= 0 and t._dtype.is_floating_point
                and type(c) in (int, float, bool) and not kwargs):
            # A comparison with a number: a guard compiled code checks, elementwise.
            c = float(np.float32(c)) if t._dtype is D.float32 else float(c)
            self._guard(nodes[0], kind, c, np.asarray(out._value(), np.float64))
            return
        tape = self.tape
        r = tape.append(PY_GUARD, 0, np.zeros(0))
        tape.rg[r] = 0
        self.where[r] = _user_line()
        spec = tuple(_spec(self, a) for a in args)
        kw = {k: _spec(self, v) for k, v in kwargs.items()}
        self.checks[r] = (fn, spec, kw, _snapshot(out))


_COMPARE = {"__eq__": EQ, "eq": EQ, "__ne__": NE, "ne": NE, "__lt__": LT, "lt": LT, "__le__": LE, "le": LE,
            "__gt__": GT, "gt": GT, "__ge__": GE, "ge": GE}


def _stays(out) -> bool:
    """Whether an op's result is all on a tape (nothing to guard)."""
    if out is None:
        return True
    if isinstance(out, Tensor):
        return out._tape is not None
    if isinstance(out, tuple) and out and all(isinstance(o, Tensor) for o in out):
        return all(o._tape is not None for o in out)
    return False


class _Node:
    """An argument of a guarded call that was a traced node: replaced by its replayed value."""
    __slots__ = ("node", "dtype", "requires_grad")

    def __init__(self, node: int, dtype, requires_grad: bool) -> None:
        self.node, self.dtype, self.requires_grad = node, dtype, requires_grad


def _spec(rec: _Recorder, a):
    if isinstance(a, Tensor):
        n = rec.node_of(a)
        return _Node(n, a._dtype, a._rg) if n >= 0 else a
    if isinstance(a, (list, tuple)):
        return type(a)(_spec(rec, x) for x in a) if type(a) in (list, tuple) else a
    return a


def _unspec(tape: Tape, a):
    if isinstance(a, _Node):
        t = _plain(np.array(tape.value_of(a.node)), a.dtype)
        return t
    if type(a) in (list, tuple):
        return type(a)(_unspec(tape, x) for x in a)
    return a


def _snapshot(out):
    """A comparable copy of a guarded call's result (a part of it that is on the tape is
    computed by its rows: not compared)."""
    if isinstance(out, Tensor):
        if out._tape is not None:
            return ("taped",)
        return ("t", out._dtype, np.array(out._value()))
    if isinstance(out, (list, tuple)):
        return (type(out).__name__, tuple(_snapshot(o) for o in out))
    if isinstance(out, np.ndarray):
        return ("a", out.copy())
    return ("v", out)


def _same(a, b) -> bool:
    if b[0] == "taped":
        return True
    if a[0] != b[0]:
        return False
    if a[0] == "t":
        return a[1] is b[1] and a[2].shape == b[2].shape and np.array_equal(a[2], b[2], equal_nan=True)
    if a[0] == "a":
        return a[1].shape == b[1].shape and np.array_equal(a[1], b[1], equal_nan=True)
    if a[0] == "v":
        return type(a[1]) is type(b[1]) and (a[1] == b[1] or (a[1] != a[1] and b[1] != b[1]))
    return len(a[1]) == len(b[1]) and all(_same(x, y) for x, y in zip(a[1], b[1]))


# --- the hooks: installed while some thread records a trace or has saved-tensor hooks ------
# Saved-tensor hooks pack what an op saved before the op returns, as PyTorch's do: the hooked
# front ends call ``_saved.flush`` on the way out (the rows the op recorded are packed; nothing
# pending, nothing done).  Without either, the front ends are the registry's own: no cost.
_flush = _saved.flush


def _hooked_op(name: str, fn: Callable) -> Callable:
    @functools.wraps(fn)
    def op(*args, **kwargs):
        rec = getattr(_local, "rec", None)
        if rec is None or rec.depth:
            out = fn(*args, **kwargs)
            _flush()
            return out
        tape = rec.tape
        start, ix_start = tape.n, tape.tix
        pre = _pyforward.before(tape, name, args, kwargs)
        rec.depth += 1
        try:
            out = fn(*args, **kwargs)
        finally:
            rec.depth -= 1
        if tape.n != start:
            rec.segment(_pyforward.note(tape, fn, args, kwargs, pre, start, ix_start))
        rec.result(fn, name, args, kwargs, out)
        _flush()
        return out
    return op


def _hooked_read(fn: Callable, kind: int) -> Callable:
    @functools.wraps(fn)
    def read(self, *args, **kwargs):
        rec = getattr(_local, "rec", None)
        if rec is None or rec.depth:
            return fn(self, *args, **kwargs)
        rec.depth += 1
        try:
            out = fn(self, *args, **kwargs)
        finally:
            rec.depth -= 1
        rec.read(self, kind)
        return out
    return read


_READS = {"__bool__": TRUTH, "__float__": EXACT, "__int__": EXACT, "__index__": EXACT, "item": EXACT,
          "tolist": EXACT, "numpy": EXACT, "__array__": EXACT, "__repr__": EXACT, "__str__": EXACT,
          "__format__": EXACT}
_DETACHING = ("detach",)
_SUBMODULES = ("linalg", "special", "nn.functional")     # (their functions are hooked as the package's are)
_lock = threading.Lock()
_installed = [0, None, None]    # recordings in progress and threads with saved-tensor hooks on; the
                                # replaced members, to put back; ``_plan()``


class _Owner:
    """The members of one owner (the Tensor class, a module) a recording hooks: their names, the
    members they held at the last recording and their hooked forms (made once, made again for a
    member swapped meanwhile, e.g. a front end a forward-AD level replaced)."""

    def __init__(self, owner, names: list, makes: list) -> None:
        self.owner = owner
        self.module = not isinstance(owner, type)      # (a module's members: one ``dict.update``)
        self.names = tuple(names)
        self.makes = tuple(makes)
        get = operator.itemgetter(*self.names)
        self.get = get if len(self.names) > 1 else lambda members: (get(members),)
        self.members = ()
        self.hooked = ()

    def install(self) -> tuple:
        """Put the hooked forms in place; return the members they replace."""
        members = self.get(self.owner.__dict__)
        if len(members) != len(self.members) or not all(map(operator.is_, members, self.members)):
            old = dict(zip(zip(self.names, self.members), self.hooked))
            self.hooked = tuple(old[k] if k in old else make(k[1])
                                for k, make in zip(zip(self.names, members), self.makes))
            self.members = members
        self._put(self.hooked)
        return members

    def _put(self, values: tuple) -> None:
        if self.module:
            self.owner.__dict__.update(zip(self.names, values))
        else:
            collections.deque(map(setattr, itertools.repeat(self.owner), self.names, values), maxlen=0)


def _owners(plan: list) -> list:
    """The plan's entries grouped by owner (a member named twice is hooked once)."""
    groups: dict = {}
    for owner, name, make in plan:
        names = groups.setdefault(owner, {})
        names.setdefault(name, make)
    return [_Owner(owner, list(names), list(names.values())) for owner, names in groups.items()]


def _plan() -> list:
    """What a recording hooks: (owner, name, how to make the hooked form of its member)."""
    module = sys.modules[__name__.rpartition(".")[0]]      # (the package: its function forms)
    plan = []
    seen = set()
    for entry in PUBLIC:
        for name in entry.methods:
            if name in seen or name in _READS or (name.startswith("_") and not name.startswith("__")):
                continue
            seen.add(name)
            plan.append((Tensor, name, functools.partial(_hooked_op, name)))
        for name in entry.properties:
            plan.append((Tensor, name, lambda prop, name=name: property(_hooked_op(name, prop.fget), doc=prop.__doc__)))
        for name in entry.functions:
            if getattr(module, name, None) is not None and ("f", name) not in seen:
                seen.add(("f", name))
                plan.append((module, name, functools.partial(_hooked_op, name)))
    for sub in _SUBMODULES:
        m = sys.modules.get(f"{module.__name__}.{sub}")
        for name in getattr(m, "__all__", ()):
            f = getattr(m, name)
            if callable(f) and not isinstance(f, type):
                plan.append((m, name, functools.partial(_hooked_op, name)))
    # The same front ends reached through the op family modules that define them (private names,
    # ``tape.ops.stats.norm``): hooked there too, so that such a call is replayed as a public one is.
    public = {}
    for owner, name, make in plan:
        member = owner.__dict__.get(name)
        if isinstance(member, types.FunctionType):
            public.setdefault(member, make)
    for key in [k for k in sys.modules if k.startswith(f"{module.__name__}.ops.")]:
        m = sys.modules[key]
        for name, member in list(vars(m).items()):
            if isinstance(member, types.FunctionType) and member in public and not name.startswith("__"):
                plan.append((m, name, public[member]))
    # A custom Function's call: replayed as a segment (its module is loaded by the package's).
    Function = sys.modules[f"{module.__name__}.autograd.function"].Function
    plan.append((Function, "apply", lambda apply: classmethod(_hooked_op("apply", apply.__func__))))
    for name in _DETACHING:
        plan.append((Tensor, name, functools.partial(_hooked_op, name)))
    plan.append((Tensor, "data", lambda prop: property(_hooked_op("data", prop.fget), prop.fset)))
    for name, kind in _READS.items():
        plan.append((Tensor, name, lambda fn, kind=kind: _hooked_read(fn, kind)))
    return plan


def _install() -> None:
    with _lock:
        _installed[0] += 1
        if _installed[0] > 1:
            return
        if _installed[2] is None:
            _installed[2] = _owners(_plan())
        _installed[1] = [owner.install() for owner in _installed[2]]


def _uninstall() -> None:
    with _lock:
        _installed[0] -= 1
        if _installed[0]:
            return
        for owner, members in zip(reversed(_installed[2]), reversed(_installed[1])):
            owner._put(members)
        _installed[1] = None


_saved.hooked_fronts[:] = (_install, _uninstall)


# --- one recorded program ---------------------------------------------------------------------
class _Variant:
    """One recording of ``fn``: its tape, where its inputs and outputs are, what it read."""

    def __init__(self) -> None:
        self.tape = None
        self.leaves = []            # the stand-ins for the arguments
        self.in_nodes = []          # their INPUT rows
        self.params = []            # (node, tensor): values read from outside, anew at each replay
        self.outs = []              # per output: its node, or -1 with the value in ``consts``
        self.consts = {}
        self.single = True          # ``fn`` returned one tensor (not a tuple)
        self.where = {}
        self.checks = {}
        self.segments = {}          # Python-forward rows: their front ends' calls (``_pyforward``)
        self.compiled = True        # False: a row cannot be replayed, ``fn`` runs at each call
        self.ctl = np.zeros(C_SIZE, np.int64)
        self.failed = -1            # the guard that failed last
        self.unneeded = {}          # argnums -> the sweep's start bits: rows that lead to none of them
        self.program = None         # a tape of one-element float64 rows: its scalar program (``_replay``)
        self.scratch = None         # its reverse sweep's adjoints and marks, made once
        self.slots = None           # its outputs' offsets in the float64 arena and shapes
        self.numpy_at = None        # (rows then, the rows numpy replays: ``_replay.numpy_rows``)
        self.calls = {}             # row -> its numpy forward's call on arena views (``_by_numpy``)
        self.optimized = None       # what ``_optimize`` did (rows before and after ...), if it ran


def _value_into(tape: Tape, node: int, t: Tensor) -> None:
    o = int(tape.off[node])
    if tape.dt[node] == 0:
        if t._f is not None:
            tape.v64[o] = t._f
        else:
            tape.v64[o:o + int(tape.num[node])] = t._v.reshape(-1)
    else:
        tape.v32[o:o + int(tape.num[node])] = t._value().reshape(-1)


def _replayable(tape: Tape, segments: dict) -> bool:
    """Whether compiled code (or a row's numpy forward, or its front end's call) can compute
    every row again."""
    n = tape.n
    codes = tape.op[:n]
    covered = np.zeros(n, bool)
    for seg in segments.values():
        covered[seg.start:seg.stop] = True
    if any(not covered[r] for r in tape.pyrows):
        return False            # (a custom Function called outside ``apply``'s hook: its forward is unknown)
    for code in np.unique(codes[~covered]).tolist():
        if code in SOURCE:
            continue
        op = REGISTRY[code]
        if code >= _PYTHON_START:
            if op.forward is None or op.multi or op.arity not in (1, 2):
                return False
        elif FAMILY[code] < 0:
            return False
    return True


def _by_numpy(var: _Variant, r: int) -> None:
    """Compute row ``r`` with its op's numpy ``forward`` on views of the arenas (a ufunc writes into
    the row's slot), the call made once per arena (a Python-forward call may grow them)."""
    tape = var.tape
    call = var.calls.get(r)
    if call is None or call[0] is not tape.v64 or call[1] is not tape.v32:
        values = (tape.v64, tape.v32)
        forward = REGISTRY[int(tape.op[r])].forward
        call = var.calls[r] = (tape.v64, tape.v32, forward, isinstance(forward, np.ufunc),
                               _engine._arena_view(tape, values, r),
                               tuple(_engine._arena_view(tape, values, x) for x in tape.inputs_of(r)))
    _, _, forward, ufunc, out, ins = call
    if ufunc:
        forward(*ins, out=out)
    else:
        out[...] = forward(*ins)


def _close(before: np.ndarray, after: np.ndarray) -> bool:
    """Every value again within 4 ulps (numpy's ufuncs and BLAS against a numba loop)."""
    if before.size == 0:
        return True
    with np.errstate(invalid="ignore"):
        ok = (before == after) | (np.isnan(before) & np.isnan(after))
        if ok.all():
            return True
        tol = 4 * np.spacing(np.abs(before).astype(before.dtype))
        ok |= np.abs(after - before) <= tol
    return bool(ok.all())


# --- the trace ---------------------------------------------------------------------------------
EXTRA: dict = {}    # what ``Trace.map``, ``grad_map``, ``jvp_map`` and ``save`` call (entered by ``tape/_batch.py``
                    # and ``tape/_trace_io.py``, which import this module)


class Trace:
    """A function recorded once by :func:`tape.trace`, evaluated again on new inputs by replaying
    its tape in compiled code: ``tr(*inputs)``, ``tr.grad``, ``tr.value_and_grad``, ``tr.vjp``,
    ``tr.jvp``, ``tr.jacobian``, ``tr.hessian``, ``tr.hvp``.

    Results are new tensors that do not require grad (detached from eager graphs)."""

    # (for ``tape/_blocked.py``, which replays a variant's gradient program: this module imports it)
    _value_into = staticmethod(_value_into)
    _replayable = staticmethod(_replayable)
    _close = staticmethod(_close)

    def __init__(self, fn: Callable, inputs: tuple, strict: bool, cache_size: int, optimize: bool = True) -> None:
        self.fn = fn
        self.strict = strict
        self.optimize = optimize
        self.cache_size = cache_size
        self.signature = tuple((t._shape, t._dtype) for t in inputs)
        self.records = 0
        self.variants = [self._record(inputs)]

    # -- recording --------------------------------------------------------------------------
    def _record(self, inputs: tuple) -> _Variant:
        var = _Variant()
        leaves = [_plain(np.array(t._value()), t._dtype) for t in inputs]
        for leaf in leaves:
            leaf._rg = True
        tape = Tape()
        rec = _Recorder(tape, self.strict)
        prev_tape, prev_grad, prev_rec = state.tape, state.grad, getattr(_local, "rec", None)
        state.tape = tape
        state.grad = True
        state.pinned += 1
        _local.rec = rec
        _install()
        try:
            var.in_nodes = [tape.import_(leaf) for leaf in leaves]
            out = self.fn(*leaves)
            if state.tape is not tape:
                var.compiled = False        # (``fn`` ran a backward, which retires the tape)
        finally:
            _uninstall()
            _local.rec = prev_rec
            state.pinned -= 1
            state.tape, state.grad = prev_tape, prev_grad
        tape.fill()     # (the replay reads and writes the rows' values in the arenas)
        self.records += 1
        var.tape, var.leaves, var.where, var.checks, var.segments = tape, leaves, rec.where, rec.checks, rec.segments
        var.single = isinstance(out, Tensor)
        outs = (out,) if var.single else out
        if not isinstance(outs, tuple) or not all(isinstance(o, Tensor) for o in outs):
            raise TypeError(f"tape.trace: the function must return a Tensor or a tuple of Tensors, "
                            f"not {type(out).__name__}")
        for k, o in enumerate(outs):
            node = rec.node_of(o)
            var.outs.append(node)
            if node < 0:
                var.consts[k] = _plain(np.array(o._value()), o._dtype)
        return self._link(var)

    def _link(self, var: _Variant) -> _Variant:
        """Detach the tape from eager graphs; list its parameters; check it replays; optimise it."""
        tape = var.tape
        mine = set(var.in_nodes)
        for node, src in list(tape.src.items()):
            if type(src) is tuple:
                # A node of an eager graph: a constant here (results are detached).
                del tape.src[node]
                tape.op[node] = CONST
                tape.rg[node] = 0
            elif node not in mine and src() is not None:
                var.params.append((node, src()))
        for node, src in tape.csrc.items():
            t = src()
            if t is not None and t._dtype.is_floating_point:
                var.params.append((node, t))
        var.shapes = [(t._shape, t._dtype) for _, t in var.params]
        if any(t._vnum != tape.ib[node] for node, t in var.params):
            var.compiled = False        # (``fn`` changed an outside tensor in place: it must run each time)
        if var.compiled and _replayable(tape, var.segments):
            before = (tape.v64[:tape.t64].copy(), tape.v32[:tape.t32].copy())
            ok = self._run(var, check=False)
            var.compiled = ok and _close(before[0], tape.v64[:tape.t64]) and _close(before[1], tape.v32[:tape.t32])
            if not var.compiled:
                tape.v64[:tape.t64], tape.v32[:tape.t32] = before
        else:
            var.compiled = False
        if var.compiled and self.optimize and not tape.hooks:
            var = self._optimized(var)
            tape = var.tape
        n = tape.n
        if var.compiled and not tape.hooks and not (tape.fr[:n] & MODIFIED).any():
            ok, P, Q = scalar_program(tape.R, tape.F, n, np.zeros(n, np.uint8))
            var.program = (P, Q) if ok else None
        return var

    def _optimized(self, var: _Variant) -> _Variant:
        """``var`` on its optimised tape (``_optimize``), if a replay of it at the recorded inputs
        gives the same outputs and guards, bitwise (else ``var``)."""
        tape = var.tape
        opt, stats = _optimize.optimize(var, (_Node, _pyforward._Arg))
        if opt is None:
            var.optimized = stats
            return var
        want = [np.array(tape.value_of(x)) for x in var.outs if x >= 0]
        if not self._run(opt, check=True) or not all(
                np.array_equal(w, opt.tape.value_of(x), equal_nan=True) for w, x in zip(want, (
                    x for x in opt.outs if x >= 0))):
            return var
        for leaf, node in zip(opt.leaves, opt.in_nodes):
            leaf._ig, leaf._in = opt.tape.gen, node
        opt.optimized = stats
        return opt

    # -- replay -------------------------------------------------------------------------------
    def _run(self, var: _Variant, check: bool = True) -> bool:
        """Run the rows again on the values in place; False if a guard fails."""
        tape = var.tape
        if var.program is not None:
            var.failed = scalar_forward(var.program[0], var.program[1], tape.v64)
            return var.failed < 0
        ctl = var.ctl
        ctl[C_START] = 0
        end = tape.n
        if var.numpy_at is None or var.numpy_at[0] != tape.n:
            var.numpy_at = (tape.n, numpy_rows(tape))
        by_numpy = var.numpy_at[1]
        while True:
            k = bisect.bisect_left(by_numpy, ctl[C_START])
            ctl[C_STOP] = by_numpy[k] if k < len(by_numpy) and by_numpy[k] < end else end
            replay_rows(tape.R, tape.F, tape.stab, tape.ix, tape.v64, tape.v32, ctl, VALUES.addresses)
            status = ctl[C_STATUS]
            if status == ST_DONE:
                r = int(ctl[C_STOP])
                if r == end:
                    return True
                _by_numpy(var, r)
                ctl[C_START] = r + 1
                continue
            r = int(ctl[C_ROW])
            if status == ST_GUARD:
                var.failed = r
                if check:
                    return False
                ctl[C_START] = r + 1
                continue
            if status == ST_COMPILE:
                arena = int(tape.dt[r])
                VALUES.compile(int(FAMILY[tape.op[r]]), arena,
                               (tape.R, tape.F, tape.stab, tape.ix, tape.v64 if arena == 0 else tape.v32, r))
                ctl[C_START] = r
                continue
            code = int(tape.op[r])
            seg = var.segments.get(r)
            if seg is not None:
                rec, _local.rec = getattr(_local, "rec", None), None     # (a replay inside a recording)
                try:
                    ok = _pyforward.run(tape, seg)
                finally:
                    _local.rec = rec
                if not ok:
                    var.failed = r
                    return False        # (the rows it made differ: even a check-free run cannot go on)
                ctl[C_START] = seg.stop
                continue
            if code == PY_GUARD:
                fn, spec, kw, expected = var.checks[r]
                with no_grad():
                    got = fn(*(_unspec(tape, a) for a in spec), **{k: _unspec(tape, v) for k, v in kw.items()})
                if not _same(_snapshot(got), expected):
                    var.failed = r
                    if check:
                        return False
            else:
                _by_numpy(var, r)
            ctl[C_START] = r + 1

    def _check_inputs(self, inputs: tuple, what: str = "inputs") -> tuple:
        if len(inputs) != len(self.signature):
            raise TypeError(f"the trace takes {len(self.signature)} inputs ({len(inputs)} given)")
        for i, (t, (shape, dtype)) in enumerate(zip(inputs, self.signature)):
            if not isinstance(t, Tensor):
                raise TypeError(f"the trace's input {i} must be a Tensor, not {type(t).__name__}")
            if t._shape != shape or t._dtype is not dtype:
                raise ValueError(f"the trace's input {i} must have shape {list(shape)} and dtype "
                                 f"{dtype} (recorded), got shape "
                                 f"{list(t._shape)} and dtype {t._dtype}")
        return inputs

    def _at(self, inputs: tuple) -> _Variant:
        """The variant whose guards hold at ``inputs``, its rows run on them (recording a new one
        if none does)."""
        self._check_inputs(inputs)
        first = None
        for i, var in enumerate(self.variants):
            if not var.compiled:
                break
            if var.params and any(t._shape != s or t._dtype is not d
                                  for (_, t), (s, d) in zip(var.params, var.shapes)):
                continue        # a parameter changed shape or dtype: recorded again below
            tape = var.tape
            for node, t, leaf in zip(var.in_nodes, inputs, var.leaves):
                _value_into(tape, node, t)
                leaf._v[...] = t._value()       # (a Python rule may read its input as the leaf)
            for node, t in var.params:
                _value_into(tape, node, t)
                tape.ib[node] = t._vnum      # (read now: not modified for backward)
            if self._run(var):
                if i:
                    self.variants.insert(0, self.variants.pop(i))
                return var
            if first is None:
                first = var
        if first is not None and self.strict:
            r = first.failed
            raise TraceGuardError(f"tape.trace: a value read while recording differs at these inputs "
                                  f"(guard at {first.where.get(r, '<unknown>')}); strict=True does not record "
                                  f"the function again")
        var = self._record(inputs)
        if var.compiled:
            self.variants.insert(0, var)
            del self.variants[self.cache_size:]
        return var

    # -- results --------------------------------------------------------------------------------
    def _outputs(self, var: _Variant) -> tuple:
        tape = var.tape
        if var.program is not None and not var.consts:
            if var.slots is None:
                var.slots = [(int(tape.off[node]), tape.shape_of(node)) for node in var.outs]
            v64 = tape.v64
            return tuple([_number(v64[o], shape) for o, shape in var.slots])
        outs = []
        for k, node in enumerate(var.outs):
            if node < 0:
                c = var.consts[k]
                outs.append(_plain(c._value().copy(), c._dtype))
            else:
                outs.append(_plain(np.array(tape.value_of(node)), D.ARENA_DTYPES[int(tape.dt[node])]))
        return tuple(outs)

    def _pack(self, var: _Variant, outs: tuple):
        return outs[0] if var.single else outs

    def _handle(self, var: _Variant, k: int) -> Optional[Tensor]:
        node = var.outs[k]
        if node < 0:
            return None
        tape = var.tape
        if node in var.in_nodes:
            return var.leaves[var.in_nodes.index(node)]
        if tape.op[node] in (INPUT, CONST):
            return None
        return _engine.T._recorded(tape, node, tape.value_of(node), D.ARENA_DTYPES[int(tape.dt[node])])

    def _sweep(self, var: _Variant, seeds: list, argnums: tuple) -> Optional[list]:
        """The plain reverse sweep over the variant's rows, driven here (no hooks, no Python rows:
        a tape of built-in ops); None when it stops for Python (``_engine.run`` then does it all)."""
        tape = var.tape
        if tape.hooks or _anomaly_mode[0]:
            return None
        if var.program is not None:
            return self._scalar_sweep(var, seeds, argnums)
        n = tape.n
        base = var.unneeded.get(argnums)
        if base is None:
            base = np.zeros(n, np.uint8)
            target = np.zeros(n, np.uint8)
            target[[var.in_nodes[i] for i in argnums]] = 1
            mark_unneeded(tape.R, tape.ix, n, target, base)
            var.unneeded[argnums] = base
        seen = base.copy()
        g64 = np.empty(tape.t64, np.float64)
        g32 = np.empty(tape.t32, np.float32)
        grads = (g64, g32)
        for k, g in enumerate(seeds):
            node = var.outs[k]
            if node < 0 or g is None or not tape.rg[node]:
                continue
            view = grads[tape.dt[node]][tape.off[node]:tape.off[node] + tape.num[node]]
            if seen[node] & 1:
                view += np.asarray(g).reshape(-1)
            else:
                view[:] = np.asarray(g).reshape(-1)
                seen[node] |= 1
        ctl = var.ctl
        ctl[C_START] = n - 1
        while True:
            sweep_rows(tape.R, tape.F, tape.stab, tape.ix, SAVES, PYTHON_FROM, tape.v64, g64, tape.v32, g32, seen,
                       ctl, ADJOINTS.addresses)
            status = ctl[C_STATUS]
            if status == ST_DONE:
                break
            if status == ST_COMPILE:
                compile_for(tape.R, tape.F, tape.stab, tape.ix, tape.v64, g64, tape.v32, g32, ctl)
                ctl[C_START] = ctl[C_ROW]
                continue
            if status == ST_PYTHON:
                r = int(ctl[C_ROW])
                code = int(tape.op[r])
                if code < _PYTHON_START or REGISTRY[code].py_adjoint is None:
                    return None
                # (a BLAS product's adjoint, on numpy views of the arenas)
                _engine._python_row(tape, r, (tape.v64, tape.v32), grads, seen)
                ctl[C_START] = r - 1
                continue
            _engine._stopped(tape, ctl)
        out = []
        for i in argnums:
            node, leaf = var.in_nodes[i], var.leaves[i]
            if seen[node] & 1:
                g = grads[tape.dt[node]][tape.off[node]:tape.off[node] + tape.num[node]].reshape(leaf._shape).copy()
            else:
                g = np.zeros(leaf._shape, leaf._dtype.np)
            out.append(_plain(g, leaf._dtype))
        return out

    def _scalar_sweep(self, var: _Variant, seeds: list, argnums: tuple) -> list:
        tape = var.tape
        if var.scratch is None or len(var.scratch[0]) != tape.t64:
            var.scratch = (np.empty(tape.t64), np.empty(tape.t64, np.uint8))
        g, reached = var.scratch
        reached.fill(0)
        off = tape.off
        for k, s in enumerate(seeds):
            node = var.outs[k]
            if node < 0 or s is None or not tape.rg[node]:
                continue
            o = off[node]
            s = s if type(s) is float else float(np.asarray(s).reshape(-1)[0])
            g[o] = g[o] + s if reached[o] else s
            reached[o] = 1
        P, Q = var.program
        scalar_backward(P, Q, tape.v64, g, reached)
        out = []
        for i in argnums:
            o = off[var.in_nodes[i]]
            out.append(_number(g[o] if reached[o] else 0.0, self.signature[i][0]))
        return out

    def _pullback(self, var: _Variant, seeds: list, argnums: tuple) -> list:
        """Gradients of ``sum(<output k, seeds[k]>)`` w.r.t. the arguments ``argnums``."""
        fast = self._sweep(var, seeds, argnums)
        if fast is not None:
            return fast
        roots, gs = [], []
        for k, g in enumerate(seeds):
            h = self._handle(var, k)
            if h is not None and g is not None:
                roots.append(h)
                gs.append(np.asarray(g, h._dtype.np))
        leaves = [var.leaves[i] for i in argnums]
        grads = {}
        if roots:
            result = _engine.run(roots, gs, True, False, set(), leaf_targets={id(x) for x in leaves})
            grads = {key: entry[1] for key, entry in result.leaves.items()}
        out = []
        for leaf in leaves:
            g = grads.get(id(leaf))
            g = np.zeros(leaf._shape, leaf._dtype.np) if g is None else np.array(g, leaf._dtype.np)
            out.append(_plain(g.reshape(leaf._shape), leaf._dtype))
        return out

    def __call__(self, *inputs: Tensor):
        """``fn(*inputs)``, by replaying the recorded rows."""
        var = self._at(inputs)
        return self._pack(var, self._outputs(var))

    def value_and_grad(self, *inputs: Tensor, argnums: Union[int, tuple] = 0):
        """``(fn(*inputs), gradient)``: ``fn`` must return a one-element tensor; the gradient is
        w.r.t. the input ``argnums`` (a tuple of gradients for a tuple of positions)."""
        nums = _argnums(argnums, len(self.signature))
        var = self._at(inputs)
        outs = self._outputs(var)
        if not var.single or outs[0].numel() != 1:
            what = f"tensor with {outs[0].dim()} dims" if var.single else "a tuple"
            raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got "
                               f"{what}. Maybe you wanted to use the vjp or jacrev APIs instead?")
        if not outs[0]._dtype.is_floating_point:
            raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a floating point Tensor")
        shape = outs[0]._shape
        grads = self._pullback(var, [np.ones(shape) if shape else 1.0], nums)
        return outs[0], (grads[0] if isinstance(argnums, int) else tuple(grads))

    def grad(self, *inputs: Tensor, argnums: Union[int, tuple] = 0):
        """The gradient of ``fn`` (returning a one-element tensor) w.r.t. the inputs ``argnums``."""
        return self.value_and_grad(*inputs, argnums=argnums)[1]

    def vjp(self, inputs: _Inputs, v=None):
        """``(fn(*inputs), v^T J)``, as :func:`tape.autograd.functional.vjp`."""
        single_in = isinstance(inputs, Tensor)
        xs = (inputs,) if single_in else tuple(inputs)
        var = self._at(xs)
        outs = self._outputs(var)
        vs = _as_vectors(v, outs, "v", "outputs")
        grads = self._pullback(var, [x._value() for x in vs], tuple(range(len(xs))))
        return self._pack(var, outs), (grads[0] if single_in else tuple(grads))

    def jvp(self, inputs: _Inputs, v=None):
        """``(fn(*inputs), J v)``, as :func:`tape.autograd.functional.jvp`: the compiled tangent
        sweep over the replayed rows (``tape/_blocked.py``)."""
        single_in = isinstance(inputs, Tensor)
        xs = (inputs,) if single_in else tuple(inputs)
        var = self._at(xs)
        outs = self._outputs(var)
        if v is None:
            if len(xs) != 1 or xs[0].numel() != 1:
                raise RuntimeError("The vector v can only be None if the input to the user-provided function is a "
                                   "single Tensor with a single element.")
            v = (_plain(np.ones(xs[0]._shape, xs[0]._dtype.np), xs[0]._dtype),)
        vs = _as_vectors(v, xs, "v", "inputs")
        out = _blocked.trace_jvp(var, vs, outs)
        if out is None:
            out = self._tangents(var, vs, outs)
        return self._pack(var, outs), self._pack(var, tuple(out))

    def _tangents(self, var: _Variant, vs: tuple, outs: tuple) -> list:
        tape = var.tape
        seeds = {}
        for node, t in zip(var.in_nodes, vs):
            seeds[node] = _plain(np.array(t._value(), D.ARENA_DTYPES[int(tape.dt[node])].np), t._dtype)
        with no_grad():
            tan = tangent_sweep(tape, seeds)
        out = []
        for k, node in enumerate(var.outs):
            t = tan.get(node) if node >= 0 else None
            o = outs[k]
            out.append(_plain(np.zeros(o._shape, o._dtype.np) if t is None else
                              np.array(t._value(), o._dtype.np).reshape(o._shape), o._dtype))
        return out

    def jacobian(self, *inputs: Tensor):
        """The Jacobian of ``fn`` at ``inputs``, as :func:`tape.autograd.functional.jacobian` gives it
        (blocked sweeps over the replayed rows: ``tape/_blocked.py``)."""
        var = self._at(inputs)
        outs = self._outputs(var)
        forward = sum(x.numel() for x in inputs) < sum(o.numel() for o in outs)
        blocked = (_blocked.trace_jacobian_forward if forward else _blocked.trace_jacobian)(var, outs, inputs)
        if blocked is not None:
            return blocked
        nums = tuple(range(len(inputs)))
        blocks = []
        for k, o in enumerate(outs):
            rows = []
            for e in range(o.numel()):
                seeds = [None] * len(outs)
                seed = np.zeros(o.numel(), o._dtype.np)
                seed[e] = 1
                seeds[k] = seed.reshape(o._shape)
                rows.append([g._value() for g in self._pullback(var, seeds, nums)])
            blocks.append(tuple(
                _plain(np.array([r[i] for r in rows], x._dtype.np).reshape(o._shape + x._shape), x._dtype)
                for i, x in enumerate(inputs)))
        return _nested(blocks, var.single, len(inputs) == 1)

    def _recorded_grads(self, var: _Variant) -> list:
        """The gradients of the (one-element) output w.r.t. the arguments, recorded (a backward
        with ``create_graph=True`` over the replayed rows, onto a scratch tape)."""
        h = self._handle(var, 0)
        if h is None:
            return [None] * len(var.leaves)
        prev_tape, prev_grad = state.tape, state.grad
        state.tape, state.grad = Tape(), True
        state.pinned += 1
        try:
            result = _engine.run([h], [_plain(np.ones(h._shape, h._dtype.np), h._dtype)], True, True, set(),
                                 leaf_targets={id(x) for x in var.leaves})
        finally:
            state.pinned -= 1
            state.tape, state.grad = prev_tape, prev_grad
        return [result.leaves[id(x)][1] if id(x) in result.leaves else None for x in var.leaves]

    def _second(self, var: _Variant, grads: list, seeds: list) -> list:
        """``sum_i <grads[i], seeds[i]>`` differentiated w.r.t. each argument."""
        roots = [g for g in grads if g is not None and g._rg]
        ss = [np.asarray(s, g._dtype.np) for g, s in zip(grads, seeds) if g is not None and g._rg]
        found = {}
        if roots:
            result = _engine.run(roots, ss, True, False, set(), leaf_targets={id(x) for x in var.leaves})
            found = {key: entry[1] for key, entry in result.leaves.items()}
        out = []
        for leaf in var.leaves:
            g = found.get(id(leaf))
            out.append(np.zeros(leaf._shape, leaf._dtype.np) if g is None else np.array(g, leaf._dtype.np))
        return out

    def _scalar_output(self, var: _Variant, what: str) -> Tensor:
        outs = self._outputs(var)
        if not var.single or outs[0].numel() != 1:
            raise RuntimeError(f"The Tensor returned by the function given to {what} should contain a single "
                               f"element")
        return outs[0]

    def hessian(self, *inputs: Tensor):
        """The Hessian of ``fn`` (returning a one-element tensor) at ``inputs``, as
        :func:`tape.autograd.functional.hessian` gives it: the Jacobian of the gradient, by blocked
        reverse sweeps over the function's rows and its gradient's (``tape/_blocked.py``)."""
        blocked = _blocked.front_hessian(self, inputs)
        if blocked is not None:
            return blocked
        var = self._at(inputs)
        self._scalar_output(var, "hessian")
        blocked = _blocked.trace_hessian(self, var, inputs)
        if blocked is not None:
            return blocked
        grads = self._recorded_grads(var)
        blocks = []
        for i, x in enumerate(inputs):
            rows = []
            for e in range(x.numel()):
                seeds = [np.zeros(y._shape) for y in inputs]
                seeds[i].reshape(-1)[e] = 1
                rows.append(self._second(var, [grads[i] if k == i else None for k in range(len(inputs))], seeds))
            blocks.append(tuple(
                _plain(np.array([r[j] for r in rows], y._dtype.np).reshape(x._shape + y._shape), y._dtype)
                for j, y in enumerate(inputs)))
        return _nested(blocks, len(inputs) == 1, len(inputs) == 1)

    def hvp(self, inputs: _Inputs, v):
        """``(fn(*inputs), H v)``, as :func:`tape.autograd.functional.hvp`."""
        single_in = isinstance(inputs, Tensor)
        xs = (inputs,) if single_in else tuple(inputs)
        var = self._at(xs)
        value = self._scalar_output(var, "hvp")
        vs = _as_vectors(v, xs, "v", "inputs")
        out = _blocked.trace_hvp(self, var, xs, vs)
        if out is not None:
            return value, (out[0] if single_in else tuple(out))
        out = [_plain(h, x._dtype) for h, x in zip(
            self._second(var, self._recorded_grads(var), [t._value() for t in vs]), xs)]
        return value, (out[0] if single_in else tuple(out))

    # -- batches and files (``tape/_batch.py``, ``tape/_dask.py``, ``tape/_trace_io.py``) -----------
    def map(self, *inputs: Tensor, client=None):
        """``tr(*x_i)`` for every sample ``i`` of a batch, stacked: each input carries a leading
        batch axis (shape ``[B, *recorded shape]``).  The samples run in parallel on all cores
        (numba threads), or on the workers of a ``dask.distributed`` ``client``; each result is
        bitwise that of the single replay."""
        return EXTRA["map"](self, inputs, client)

    def grad_map(self, *inputs: Tensor, argnums: Union[int, tuple] = 0, client=None):
        """``tr.grad(*x_i, argnums=argnums)`` for every sample ``i`` of a batch (per-sample
        gradients), stacked, as :meth:`map` runs it."""
        return EXTRA["grad_map"](self, inputs, argnums, client)

    def jvp_map(self, inputs: _Inputs, v: _Inputs, client=None):
        """``tr.jvp(x_i, v_i)`` for every sample ``i`` of a batch: ``(values, J v)``, stacked
        (``inputs`` and ``v`` as for :meth:`jvp`, with a leading batch axis)."""
        xs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
        vs = (v,) if isinstance(v, Tensor) else tuple(v)
        return EXTRA["jvp_map"](self, xs, vs, client)

    def save(self, path) -> None:
        """Write the trace (its most recent variant: rows, values, guards) to ``path`` (a file
        name or a binary file), for :func:`tape.load_trace`: a ``.npz`` file with no pickled
        object and no code."""
        EXTRA["save"](self, path)

    def stats(self) -> dict:
        """What the trace holds: variants, rows, guards, and whether each replays in compiled code."""
        return {"records": self.records, "variants": [
            {"rows": int(v.tape.n), "guards": len(v.where) - len(v.segments), "python_guards": len(v.checks),
             "python_forward": len(v.segments), "compiled": v.compiled, "parameters": len(v.params),
             "bytes": _optimize._memory(v.tape), "optimized": v.optimized} for v in self.variants]}

    def __repr__(self) -> str:
        return f"<tape.Trace of {getattr(self.fn, '__qualname__', self.fn)!r}: {len(self.variants)} variant(s)>"


def _number(f, shape: tuple) -> Tensor:
    """A float64 tensor of one element ``f`` (a scalar program's value or gradient): 0-d, on the
    float fast path (as the engine returns gradients)."""
    return _py_scalar(float(f)) if not shape else _plain(np.full(shape, f), D.float64)


def _nested(blocks: list, single_out: bool, single_in: bool):
    """Jacobian blocks (per output, per input) shaped as ``autograd.functional.jacobian`` returns them."""
    per_out = [b[0] if single_in else b for b in blocks]
    return per_out[0] if single_out else tuple(per_out)


def _argnums(argnums, n: int) -> tuple:
    if type(argnums) is int and 0 <= argnums < n:
        return (argnums,)
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or not all(isinstance(k, int) for k in nums):
        raise TypeError(f"argnums must be int or Tuple[int, ...], got: {argnums!r}")
    for k in nums:
        if not -n <= k < n:
            raise RuntimeError(f"Got argnums={argnums}, but only {n} positional inputs")
    return tuple(k % n for k in nums)


def _as_vectors(v, outs: tuple, name: str, against: str) -> tuple:
    if v is None:
        if len(outs) != 1 or outs[0].numel() != 1:
            raise RuntimeError(f"The vector {name} can only be None if the user-provided function returns a "
                               f"single Tensor with a single element.")
        return (_plain(np.ones(outs[0]._shape, outs[0]._dtype.np), outs[0]._dtype),)
    vs = (v,) if isinstance(v, Tensor) else tuple(v)
    if len(vs) != len(outs):
        raise RuntimeError(f"The given {name} should contain a single Tensor for each of the {against}; "
                           f"got {len(vs)} for {len(outs)}.")
    for i, (x, o) in enumerate(zip(vs, outs)):
        if tuple(x.shape) != tuple(o.shape):
            raise RuntimeError(f"Mismatch in shape: {name}[{i}] has a shape of {list(x.shape)} and the "
                               f"function's {against}[{i}] has {list(o.shape)}")
    return vs


def trace(fn: Callable, *example_inputs: Tensor, strict: bool = False, cache_size: int = 8,
          optimize: bool = True) -> Trace:
    """Record ``fn(*example_inputs)`` once and return a :class:`Trace` that evaluates it (and its
    derivatives) on new inputs of the same shapes and dtypes by replaying the recorded rows.

    Python decisions on values made while recording become guards: a replay where one differs
    records ``fn`` again at its inputs (up to ``cache_size`` variants are kept), or raises
    :class:`TraceGuardError` with ``strict=True`` (which also refuses value reads).
    ``optimize``: fold constants, merge repeated rows and drop rows that lead to no output or
    guard before replaying (values unchanged, bitwise; gradients may differ in the last bits
    where rows were merged).
    """
    if not callable(fn):
        raise TypeError(f"tape.trace: expected a function to trace, got {type(fn).__name__}")
    if not isinstance(cache_size, int) or cache_size < 1:
        raise ValueError(f"tape.trace: cache_size must be a positive integer, got {cache_size!r}")
    for i, t in enumerate(example_inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"tape.trace: input {i} must be a Tensor, not {type(t).__name__}")
        if not t._dtype.is_floating_point:
            raise TypeError(f"tape.trace: input {i} has dtype {t._dtype}; traced inputs must be floating point")
    if not isinstance(optimize, bool):
        raise TypeError(f"tape.trace: optimize must be a bool, got {type(optimize).__name__}")
    return Trace(fn, example_inputs, strict, cache_size, optimize)


def dispatching(matrix_trace: Callable) -> Callable:
    """``tape.trace``: :func:`trace` for a function, else PyTorch's ``torch.trace`` (the sum of a
    matrix's diagonal), whose name it shares."""
    @functools.wraps(matrix_trace)
    def trace_or_record(input, *args, **kwargs):
        if callable(input) and not isinstance(input, Tensor):
            return trace(input, *args, **kwargs)
        return matrix_trace(input, *args, **kwargs)
    trace_or_record.__doc__ = (matrix_trace.__doc__ or "") + "\n\nWith a function as its first argument: " + \
        (trace.__doc__ or "")
    return trace_or_record
