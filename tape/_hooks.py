"""Tensor hooks: ``Tensor.register_hook`` and ``Tensor.register_post_accumulate_grad_hook``.

A hook on a recorded tensor is kept by its tape (``tape.hooks``: node -> hooks).  Its gradient
is complete when the sweep reaches the node's row (every row that used it comes later), so a
backward makes the sweep stop there through the one stop protocol (``tape/_stops.py``): for the
duration of the sweep the row's code is swapped for ``HOOKED`` (a code of the PYTHON range, in a
copy of the rows the sweep reads: the tape keeps its codes), at which both sweeps stop; Python
puts the code back, runs the hooks on the row's adjoint (a
replacement is written in its place), and resumes the sweep at the row itself.  In a recorded
backward (``create_graph=True``) the hooks see, and may return, recorded gradients.

A leaf's hooks are kept on the tensor.  When a backward sweeps one tape, the leaf's INPUT rows
are swapped too, so the hooks run as PyTorch runs them when the leaf's AccumulateGrad is ready:
when the sweep reaches the leaf, or stops at a row above it that no longer leads to it (a leaf
imported before rows that run later), once, at the last of its rows that gets a gradient (a leaf
imported twice); otherwise (a graph over several tapes, a recorded backward of a leaf imported
twice) they run on the leaf's total gradient when it is delivered.  Either way they run before
the gradient is accumulated into ``.grad`` (after which the post-accumulate hooks run) or
returned by ``autograd.grad``.
"""
from __future__ import annotations

import gc
import itertools
import sys
import threading
import types
import weakref
from collections import OrderedDict
from typing import Callable

import numpy as np

from . import _dtype as D
from ._state import state
from ._tape import Tape, packing
from ._tensor import Tensor, _plain
from .ops._spec import HOOKED, INPUT, OUTPUT, R_OP, SOURCE
from .utils.hooks import RemovableHandle



class _Evaluating(threading.local):
    """The node whose Python part a backward runs now in this thread: ``(tape, row)`` or None."""
    node = None     # (a class default: a missing thread-local attribute costs an exception)


evaluating = _Evaluating()
_leaf_hooks = [0]      # leaves that ever had hooks: while none did, a backward looks for none
_task = threading.local()      # the backward running in this thread: its id, and what runs at its end
_task_ids = itertools.count(1)


def current_task() -> int:
    """An id of the backward running in this thread (-1 outside one), as PyTorch's graph task id."""
    return getattr(_task, "id", -1)


def at_task_end(fn: Callable) -> None:
    """Call ``fn()`` when the current backward has swept its graph."""
    _task.finish.append(fn)


def task_graph() -> tuple | None:
    """The roots, the inputs asked for and whether it captures them, of the backward running in
    this thread (None outside one)."""
    return getattr(_task, "graph", None)


def accumulating() -> bool:
    """Whether the backward running in this thread accumulates into ``.grad`` (``backward``, not
    ``autograd.grad``): only then do leaves' AccumulateGrad nodes run."""
    return getattr(_task, "accumulates", False)


def keeps_graph() -> bool:
    """Whether the backward running in this thread keeps its graph (``retain_graph``); True outside
    one, as PyTorch's ``_get_current_graph_task_keep_graph``."""
    return getattr(_task, "keep_graph", True)


def begin_task(accumulates: bool = False, graph: tuple = None, keep_graph: bool = True) -> tuple:
    """Start a backward in this thread; ``graph``: its roots (tensors or gradient edges), the inputs
    asked for (None: every leaf) and whether it captures them (``autograd.grad``)."""
    prev = (current_task(), getattr(_task, "finish", None), accumulating(), getattr(_task, "graph", None),
            keeps_graph())
    _task.id = next(_task_ids)
    _task.finish = []
    _task.accumulates = accumulates
    _task.graph = graph
    _task.keep_graph = keep_graph
    return prev


def end_task(prev: tuple, swept: bool) -> None:
    finish = _task.finish
    try:
        if swept:
            k = 0
            while k < len(finish):      # (still in the backward: a callback may queue more, which run too)
                finish[k]()
                k += 1
    finally:
        _task.id, _task.finish, _task.accumulates, _task.graph, _task.keep_graph = prev


class _Hooks(OrderedDict):
    """hook id -> hook, in registration order (a dict that handles can refer to weakly; ordered, as
    PyTorch's ``Tensor._backward_hooks``)."""

    def __repr__(self) -> str:
        return repr(OrderedDict(self))


class RowHooks:
    """The hooks of one row: its tensor's (``register_hook``) and its node's (``grad_fn``'s
    ``register_prehook`` and ``register_hook``); the values saved-tensor hooks packed for it
    (``saved``: slot -> [packed, unpack_hook], ``tape/_saved.py``), which make Python run the row
    too; and its node's ``metadata``."""

    __slots__ = ("tensor", "pre", "post", "saved", "meta")

    def __init__(self) -> None:
        self.tensor = _Hooks()
        self.pre = _Hooks()
        self.post = _Hooks()
        self.saved = {}
        self.meta = None

    def __bool__(self) -> bool:
        return bool(self.tensor or self.pre or self.post or self.saved)

    @property
    def node(self) -> bool:
        return bool(self.pre or self.post or self.saved)


def _row_hooks(tape, r: int) -> RowHooks:
    hooks = tape.hooks.get(r)
    if hooks is None:
        hooks = tape.hooks[r] = RowHooks()
    return hooks


def _add(hooks: _Hooks, hook: Callable) -> RemovableHandle:
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def release_with(owner: Tensor | None, tape) -> None:
    """Reset ``tape`` when ``owner`` goes, if no tensor refers to the tape then (``_reset_if_free``)."""
    if owner is not None and "_meta_guard" not in owner.__dict__:
        # (an attribute, not a weakref callback: it goes after the tensor's own reference to its tape)
        owner._meta_guard = _Release(weakref.ref(tape))


class _Release:
    __slots__ = ("ref",)

    def __init__(self, ref: weakref.ref) -> None:
        self.ref = ref

    def __del__(self) -> None:
        tape = self.ref()
        if state is not None:       # (None: the interpreter is shutting down)
            _reset_if_free(tape)


def _reset_if_free(tape: Tape | None) -> None:
    """Reset ``tape`` (this thread's current tape, or one of its spares) if no tensor refers to it:
    what Python keeps for its rows (hooks and what their closures hold, custom Functions' contexts,
    nodes' metadata) goes with the tensors, as PyTorch frees a graph's nodes, not at the next op."""
    if tape is None or state.pinned or packing[0] is not None:
        return
    segment_tape = getattr(tape, "segment_tape", None)
    if segment_tape is not None:
        # (the rows of a checkpointed segment as ``grad_fn`` shows them: they go with its row's tape)
        outer = segment_tape()
        del segment_tape, tape
        _reset_if_free(outer)
        return
    spare = any(s is tape for s in state.spares)
    if not (spare or state.tape is tape):
        return
    # (the references: the caller's, ``tape``, getrefcount's argument, the thread's current tape,
    # and a spare's list)
    if sys.getrefcount(tape) == 3 + (state.tape is tape) + (state.rec is tape) + spare:
        tape.reset()


def reachable(tape: Tape, lo: int = 0) -> np.ndarray | None:
    """Which rows of ``tape`` from ``lo`` on a tensor or a node still reaches (a bool per row; not all
    of those below ``lo`` are found), from the tensors and nodes that refer to the tape; None when something
    else holds it (a newer tape, a spent one ...), which may reach any row.  (A row's inputs come
    before it: what reaches the rows from ``lo`` on is found among them, however long the tape.)"""
    roots = []
    for ref in gc.get_referrers(tape):
        if isinstance(ref, Tensor):
            if ref._tape is tape:
                roots.append(ref._node)
        elif isinstance(ref, dict) and ref.get("_tape") is tape and isinstance(ref.get("_node"), int):
            roots.append(ref["_node"])      # (a tensor whose attributes moved to its ``__dict__``)
        elif isinstance(getattr(ref, "_row", None), int) and getattr(ref, "_tape", None) is tape:
            roots.append(ref._row)          # (a node: ``grad_fn``, ``next_functions``)
        elif not (isinstance(ref, (types.FrameType, types.CellType, list)) or ref is state.__dict__):
            # (frames and cells: the calls under way, this one's callers)
            return None
    n = tape.n
    reached = np.zeros(n, np.bool_)
    for r in roots:
        if 0 <= r < n:
            reached[r] = True
    for r in range(max(roots, default=-1), lo - 1, -1):
        if reached[r]:
            for x in tape.inputs_of(r):
                reached[x] = True
    return reached


def use_count(self: Tensor) -> int:
    r"""The number of references PyTorch counts to the tensor's data: the tensor's own and, for a
    leaf that requires grad, its ``AccumulateGrad`` node's while a graph that uses the leaf lives
    (tape: while a tensor refers to the tape the leaf was recorded into)."""
    if self._tape is not None or not self._rg:
        return 1
    for tape in (state.tape, *state.spares):
        if tape is not None and tape.gen == self._ig:
            spare = any(s is tape for s in state.spares)
            # (the references: the loop's, its tuple's, getrefcount's argument, the thread's current
            # tape, a spare's list)
            if sys.getrefcount(tape) > 3 + (state.tape is tape) + (state.rec is tape) + spare:
                return 2
    return 1


def node_hook(tape, r: int, hook: Callable, pre: bool) -> RemovableHandle:
    """Register ``hook`` on the node of row ``r``: before it runs (``pre``: ``hook(grad_outputs)``)
    or after (``hook(grad_inputs, grad_outputs)``); a returned tuple replaces the gradients."""
    hooks = _row_hooks(tape, r)
    return _add(hooks.pre if pre else hooks.post, hook)


def register_hook(self: Tensor, hook: Callable) -> RemovableHandle:
    r"""Register a backward hook: ``hook(grad) -> Tensor or None`` runs each time a gradient
    with respect to this tensor is computed; a returned tensor replaces the gradient.

    Returns a handle whose ``remove()`` unregisters the hook.
    """
    if not self._rg:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self._tape is None:
        hooks = self.__dict__.get("_hooks")
        if hooks is None:
            hooks = self._hooks = _Hooks()
            _leaf_hooks[0] += 1
        return _add(hooks, hook)
    tape, node = self._history()
    release_with(self, tape)        # (the hook goes with the tensor, as PyTorch's with its node)
    return _add(_row_hooks(tape, node).tensor, hook)     # (a change under no_grad keeps the node)


def _backward_hooks_get(self: Tensor):
    if self._tape is None:
        return self.__dict__.get("_hooks")
    shown = self.__dict__.get("_shown_hooks")
    if shown is not None:
        return shown[0]
    tape, node = self._history()
    hooks = tape.hooks.get(node)
    return None if hooks is None else hooks.tensor


def _backward_hooks_set(self: Tensor, hooks) -> None:
    """A leaf's hooks become ``hooks``; a non-leaf only shows them (its node keeps the hooks it
    has, as PyTorch's does)."""
    if hooks is not None and not isinstance(hooks, dict):
        raise TypeError(f"_backward_hooks must be a dict of hooks or None, not {type(hooks).__name__}")
    if self._tape is not None:
        self._shown_hooks = (hooks,)
    elif hooks is None:
        self.__dict__.pop("_hooks", None)
    else:
        if self.__dict__.get("_hooks") is None:
            _leaf_hooks[0] += 1
        self._hooks = hooks if isinstance(hooks, _Hooks) else _Hooks(hooks)


def _backward_hooks_del(self: Tensor) -> None:
    raise RuntimeError("Deletion of _backwards_hooks not allowed!")


backward_hooks = property(_backward_hooks_get, _backward_hooks_set, _backward_hooks_del,
                          doc="The tensor's hooks (``register_hook``): hook id -> hook, None before the first.")


def register_post_accumulate_grad_hook(self: Tensor, hook: Callable) -> RemovableHandle:
    r"""Register a hook that runs after the gradient is accumulated into this leaf's ``.grad``:
    ``hook(tensor) -> None``.  Returns a handle whose ``remove()`` unregisters it."""
    if not self._rg:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self._tape is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    hooks = self.__dict__.get("_post_hooks")
    if hooks is None:
        hooks = self._post_hooks = _Hooks()
        _leaf_hooks[0] += 1
    return _add(hooks, hook)


def _in_order(hooks: dict) -> list:
    """``hooks`` in the order they run: by registration, except that a leaf's AccumulateGrad node
    hooks (kept with its tensor hooks, marked with an ``_order``) run after the tensor's own, as
    PyTorch runs a node's pre-hooks after its tensors' hooks."""
    fns = list(hooks.values())
    if any(hasattr(fn, "_order") for fn in fns):
        fns.sort(key=lambda fn: getattr(fn, "_order", 0))
    return fns


def evaluated_as(at, run, *args):
    """``run(*args)`` with ``at`` as the node the backward evaluates now (``(tape, row)``, or a leaf for
    its AccumulateGrad: what ``torch._C._current_autograd_node()`` shows)."""
    prev = evaluating.node
    evaluating.node = at
    try:
        return run(*args)
    finally:
        evaluating.node = prev


def run_hooks(hooks: dict, grad: Tensor, at) -> Tensor:
    """Run ``hooks`` (those registered when they start) on ``grad``; return the last replacement.
    ``at``: the node they run as (PyTorch runs a tensor's hooks as pre-hooks of its grad_fn, a
    leaf's as its AccumulateGrad's: ``row_node``)."""
    return evaluated_as(at, _run_hooks, hooks, grad)


def _run_hooks(hooks: dict, grad: Tensor) -> Tensor:
    for hook in _in_order(hooks):
        new = hook(grad)
        if new is None:
            continue
        _check_replacement(getattr(hook, "__name__", type(hook).__name__), new, grad)
        grad = new
    return grad


def row_node(tape, r: int):
    """What ``evaluating.node`` holds while row ``r``'s tensor hooks run: the row itself, or for an
    INPUT row its leaf (whose AccumulateGrad ``torch._C._current_autograd_node()`` then shows) or
    the older tape's row it was imported from."""
    if tape.op[r] != INPUT:
        return (tape, r)
    src = tape.src.get(r)
    return src if type(src) is tuple else src() if src is not None else None


def _check_replacement(name: str, new, old: Tensor) -> None:
    """PyTorch's errors for a hook's replacement ``new`` of gradient ``old``."""
    if not isinstance(new, Tensor):
        raise TypeError(f"expected Variable, but hook returned '{type(new).__name__}'")
    if new._shape != old._shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value")
    if new._dtype is not old._dtype:
        raise RuntimeError(f"hook '{name}' has changed the type of value (was "
                           f"torch.{D.legacy_name(old._dtype)}Tensor got torch.{D.legacy_name(new._dtype)}Tensor)")


def hook_rows(tape, alone: Callable, every: bool = False, several: bool = False) -> tuple:
    """The rows a sweep of ``tape`` runs over: ``(R, {row: (its code, its hooks, ...)})``, where ``R``
    is ``tape.R``, or, when rows are hooked, a copy in which their code is HOOKED (the tape
    itself keeps its codes, so that anything reading it meanwhile sees the rows as they are).
    When ``alone()`` (the backward sweeps this tape only), the INPUT rows of hooked leaves too,
    so that a leaf's hooks run when the sweep reaches it, in PyTorch's order among the others
    (an INPUT row's entry ends with all the leaf's INPUT rows); ``several``: also a leaf imported
    on several rows (the sweep runs its hooks once, at the last of them it reaches).
    With ``every`` (anomaly mode), every row that computes something, with no hooks (None)."""
    rows = {}
    if not (tape.hooks or every or _leaf_hooks[0]):
        return tape.R, rows
    if every:
        for node in np.flatnonzero(tape.op[:tape.n] >= SOURCE.stop).tolist():
            rows[node] = (int(tape.op[node]), None)
    for node, hooks in tape.hooks.items():
        if hooks and node < tape.n:
            rows[node] = (int(tape.op[node]), hooks)       # (a RowHooks)
    for node, hooks in tape.hooks.items():
        if hooks.tensor and node < tape.n and tape.op[node] == OUTPUT:
            lead = int(tape.a[node])    # (its row stops too: outputs that got no gradient see None)
            if lead not in rows:
                rows[lead] = (int(tape.op[lead]), None)
    if _leaf_hooks[0] and alone():
        seen = {}
        for node, src in tape.src.items():
            leaf = src() if type(src) is not tuple else None
            if leaf is None or not (leaf.__dict__.get("_hooks") or leaf.__dict__.get("_post_hooks")):
                continue
            seen.setdefault(id(leaf), ([], leaf.__dict__.get("_hooks") or {}))[0].append(node)
        for nodes, hooks in seen.values():
            if len(nodes) == 1 or several:      # (else a leaf imported twice gets its hooks at delivery)
                nodes = tuple(sorted(nodes))
                for node in nodes:
                    rows[node] = (INPUT, hooks, nodes)
    if not rows:
        return tape.R, rows
    R = tape.R[:, :tape.n].copy()
    for node in rows:
        R[R_OP, node] = HOOKED
    return R, rows


def unhook(tape, R, rows: dict, r: int, fired: set) -> dict:
    """Put row ``r``'s code back in ``R``; return its tensor's hooks (noting a leaf's as run: ``fired``)."""
    code, hooks = rows.pop(r)[:2]
    R[R_OP, r] = code
    if code == INPUT:
        fired.add(id(tape.src[r]()))
        return hooks
    return hooks.tensor if hooks is not None else None


def node_hooked(tape, r: int) -> bool:
    hooks = tape.hooks.get(r)
    return hooks is not None and hooks.node


def _replacement(hook: Callable, new, old: tuple) -> tuple:
    name = getattr(hook, "__name__", type(hook).__name__)
    if not isinstance(new, tuple):
        raise TypeError(f"expected tuple, but hook returned '{type(new).__name__}'")
    if len(new) != len(old):
        raise RuntimeError(f"hook '{name}' has returned an incorrect number of values (got {len(new)}, but expected "
                           f"{len(old)})")
    for n, o in zip(new, old):
        if n is None:
            continue
        if o is None:
            raise RuntimeError("can't replace a None gradient with a non-None value")
        _check_replacement(name, n, o)
    return new


def run_node_hooks(hooks: RowHooks, grad_outputs: tuple, compute: Callable, kept: bool = True) -> tuple:
    """A hooked node's run: its pre-hooks on ``grad_outputs``, ``compute(grad_outputs)`` (the
    gradients of its inputs), its hooks on both; returns the gradients of its inputs.  Not
    ``kept`` (the node had no hooks when it started), its hooks see none of ``grad_outputs`` (an empty tuple)."""
    for hook in list(hooks.pre.values()):
        new = hook(grad_outputs)
        if new is not None:
            grad_outputs = _replacement(hook, new, grad_outputs)
    grad_inputs = compute(grad_outputs)
    if not kept:
        grad_outputs = ()
    for hook in list(hooks.post.values()):
        new = hook(grad_inputs, grad_outputs)
        if new is not None:
            grad_inputs = _replacement(hook, new, grad_inputs)
    return grad_inputs


def deliver(tape, r: int, g, result) -> None:
    """After a leaf's hooks ran at its INPUT row: hand its gradient to ``result.on_leaf`` (a
    ``backward`` accumulates it into ``.grad`` there and then, and runs the post-accumulate hooks)."""
    if result.on_leaf is not None and tape.op[r] == INPUT:
        leaf = tape.src[r]()
        result.delivered.add(id(leaf))
        result.on_leaf(leaf, g)


def fire_numeric(tape, r: int, hooks: dict, adjoint: np.ndarray) -> None:
    """Run ``hooks`` on row ``r``'s adjoint (a view of the adjoint arena), in place."""
    if hooks:
        dtype = D.ARENA_DTYPES[int(tape.dt[r])]
        adjoint[...] = run_hooks(hooks, _plain(adjoint.copy(), dtype), row_node(tape, r))._value()


def fire_leaf(leaf: Tensor, g):
    """Run a leaf's hooks on its gradient ``g`` (an array, or a recorded tensor); return the result
    in the same form."""
    hooks = leaf.__dict__.get("_hooks")
    if not hooks:
        return g
    if isinstance(g, Tensor):
        return run_hooks(hooks, g, leaf)
    return np.asarray(run_hooks(hooks, _plain(np.array(g, leaf._dtype.np), leaf._dtype), leaf)._value())


def fire_post(leaf: Tensor) -> None:
    hooks = leaf.__dict__.get("_post_hooks")
    if hooks:
        evaluated_as(leaf, _run_post_hooks, hooks, leaf)     # (as the leaf's AccumulateGrad's post hooks)


def _run_post_hooks(hooks: dict, leaf: Tensor) -> None:
    for hook in _in_order(hooks):
        out = hook(leaf)
        # (PyTorch checks the result as a tensor hook's, then lets the tensor itself through)
        if out is None or out is leaf:
            continue
        if not isinstance(out, Tensor):
            raise TypeError(f"expected Variable, but hook returned '{type(out).__name__}'")
        raise RuntimeError("Tensor post accumulate grad hooks should return None.")


def fire_undefined(tape, r: int, seen, waiting: dict) -> None:
    """Row ``r`` (a node with several outputs) runs: the tensor hooks of its outputs that got no
    gradient are called with None, as PyTorch calls every output's hooks when the node runs
    (``waiting``: the hooked rows of the sweep whose hooks have not run yet)."""
    q = r + 1
    n = tape.n
    while q < n and tape.op[q] == OUTPUT and tape.a[q] == r:
        hooks = tape.hooks.get(q)
        if hooks is not None and hooks.tensor and not seen[q] & 1 and q in waiting:
            fire_none(hooks.tensor)
        q += 1


def fire_none(hooks: dict) -> None:
    for hook in list(hooks.values()):
        hook(None)


def sibling_rows(tape, waiting: dict, r: int) -> list:
    """The hooked OUTPUT rows of the node whose output ``r`` the sweep reached first (every output's
    gradient is then complete), ``r`` among them, in the order PyTorch runs its outputs' tensor
    hooks when the node runs: each tensor's from its first registration on."""
    lead = int(tape.a[r])
    rows = []
    q = lead + 1
    n = tape.n
    while q < n and tape.op[q] == OUTPUT and tape.a[q] == lead:
        hooks = tape.hooks.get(q)
        if q in waiting and hooks is not None and hooks.tensor:
            rows.append(q)
        q += 1
    if r not in rows:
        rows.append(r)
    rows.sort(key=lambda q: min(tape.hooks[q].tensor, default=0) if q in tape.hooks else 0)
    return rows


def fire_undefined_only(tape, seen, bit: int) -> None:
    """After a sweep: the tensor hooks of the rows only an undefined gradient reached (``bit`` of
    ``seen``, no gradient: PyTorch's node ran with an undefined one) are called with None, last row
    first."""
    rows = [r for r, hooks in tape.hooks.items() if hooks.tensor and r < len(seen) and seen[r] & (bit | 1) == bit]
    for r in sorted(rows, reverse=True):
        for hook in list(tape.hooks[r].tensor.values()):
            hook(None)
