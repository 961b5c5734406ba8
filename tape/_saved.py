"""What a node saved: ``grad_fn._saved_<name>``, ``_raw_saved_<name>`` and saved-tensor hooks.

Which values a node saves, under PyTorch's names and in the order PyTorch packs them, is the op's
``node_saved`` table (``ops/_spec.Op``): a tensor entry names an input (X0, X1) or the result
(OUT) of the row, saved unless a CROSS op's other input needs no gradient; any other entry is a
function of the row (a dim, a size, a Python-number operand).  Ops whose arguments the row does
not keep (the gathers and layouts, dims as given) have their front end write the table instead,
in ``Tape.args`` (row -> ``(name, value)`` pairs, or a function giving them, which the cheap ops
write to spend nothing on a table until it is read: ``Given`` marks the row's input, result or
output, a tensor (or a tuple of them) is one saved beside the tape, such as an index; any other
value is shown as it is).

Saved-tensor hooks (``autograd.graph.saved_tensors_hooks``) cost nothing while none is active.
While one is, ``tape._tape.fresh`` runs ``_pack_since`` at every op (the soft limit is kept at
the row count, as anomaly mode does), which notes where the op's rows start, and the public front
ends are hooked (``tape._trace``'s hooks, which a trace's recording installs too): on the way out
each packs the saved tensors of the rows its op recorded (``flush``), so a pack hook runs inside
the op, as PyTorch's; a backward with ``create_graph`` packs what its rows saved before it
returns.  What ``pack_hook`` returned is kept in the row's ``RowHooks.saved`` (slot -> [packed,
unpack_hook]).  A row with packed values counts as a hooked node (``tape/_hooks.py``): both
sweeps stop at it and Python runs its rule with the unpacked tensors in place of the saved ones
(``tape._engine._input_grads``).  A backward that frees the row drops the packed objects.
"""
from __future__ import annotations

import sys
import threading
import weakref
from typing import Any, Callable, Optional, Union

import numpy as np

from . import _dtype as D
from . import _tape as _T
from ._hooks import _row_hooks, reachable
from ._row import Row
from ._state import state
from ._stops import FREED
from ._tensor import Tensor, _plain, _recorded, _flagged_view_row
from .ops._spec import CONST, INPUT, OUT, OUTPUT, OUTPUTS, REGISTRY, ROLES, X0, X1, X2, Given, input_saved

FREED_MSG = ("Trying to backward through the graph a second time (or directly access saved tensors after they "
             "have already been freed). Saved intermediate values of the graph are freed when you call "
             ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
             "graph a second time or if you need to access saved tensors after calling backward.")
_DEFAULT_NAMES = (("other", X1), ("self", X0), ("result", OUT))
DETACHED_MSG = ("Trying to use a saved tensor that has been detached in-place, i.e. with .detach_().This is not "
                "supported, please use out-of-place `.detach()` instead")


def entries(tape, r: int) -> tuple:
    """``(name, what)`` for each value row ``r``'s node saves, in PyTorch's packing order: ``what``
    is X0, X1 or OUT for a value of the tape, a tensor for one saved beside it, else a function
    of the row."""
    given = tape.args.get(r)
    if given is not None:
        if callable(given):     # (written as a function of the arguments, called on first use)
            given = tape.args[r] = given()
        return tuple((name, v if type(v) is Given or _held(v) else _shown(v)) for name, v in given)
    op = REGISTRY.get(int(tape.op[r]))
    if op is None:
        return ()
    table = op.node_saved
    if callable(table):
        table = table(Row(tape, r))
    if not table:
        table = tuple(e for e in _DEFAULT_NAMES if op.saved & e[1])
    return table


def _shown(value) -> Callable:
    return lambda row: value


def _held(what) -> bool:
    """Whether a table entry is a tensor saved beside the tape, or a tuple of them (and None)."""
    return isinstance(what, Tensor) or (type(what) is tuple and any(isinstance(t, Tensor) for t in what))


def tensor_node(tape, r: int, what: int) -> int:
    """The node whose value row ``r`` saved as entry ``what`` (X0, X1, X2, OUT), or -1 when the op
    did not save it (a product saves each input only when the other one needs a gradient)."""
    if type(what) is Given:     # (its front end listed what it saves)
        if what >= OUTPUTS:
            return r + 1 + what - OUTPUTS
        saved = X0 | X1 | X2 | OUT
    else:
        saved = REGISTRY[int(tape.op[r])].saved
    if not saved & what:
        return -1
    if what == OUT:
        return r
    ins = tape.inputs_of(r)
    k = 0 if what == X0 else 1 if what == X1 else 2
    if k >= len(ins):
        return -1
    if type(what) is not Given:
        rg = [1 if tape.rg[x] else 0 for x in ins[:3]] + [0] * (3 - min(len(ins), 3))
        if not input_saved(saved, k, *rg):
            return -1
    return ins[k]


def tensor_at(tape, node: int) -> Tensor:
    """The tensor a node stands for: the leaf itself for a leaf's INPUT row, a constant's own
    tensor while it lives, otherwise a handle onto the recorded value."""
    while tape.hid[node] and tape.op[node] != ROLES.clone:
        # (past the casts and broadcasts an input entered its row by; a hidden identity holds a
        # value of its own: an unpacked saved tensor's, a tensor's changed under no_grad)
        node = int(tape.a[node])
    code = tape.op[node]
    dtype = D.ARENA_DTYPES[int(tape.dt[node])]
    if code == INPUT:
        src = tape.src[node]
        if type(src) is tuple:
            return tensor_at(*src)
        leaf = src()
        if leaf is not None:
            return leaf
    if code == CONST:
        ref = tape.csrc.get(node)
        t = ref() if ref is not None else None
        if t is None and type(ref) is _T.ConstRef and ref.dtype is not dtype:
            # (gone: a constant entered a row of another dtype, the pivots of an LU; shown in its own)
            return _plain(np.array(tape.value_of(node)).astype(ref.dtype.np), ref.dtype)
        return t if t is not None else _plain(np.array(tape.value_of(node)), dtype)
    return _recorded(tape, node, tape.value_of(node), dtype)


_CALLER_FRAMES = 6


def saved_value(tape, r: int, node: int) -> Tensor:
    """The tensor ``grad_fn._saved_<name>`` gives for the value of ``node`` saved by row ``r``, as
    PyTorch's SavedVariable unpacks it: a saved input is the tensor object itself (``c.grad_fn.
    _saved_other is b``), a saved output a new tensor with the node as its grad_fn that shares the
    output's storage and version counter.  Tape keeps no Python object per row: the tensor is
    looked for among the local variables of the calling frames (a few, on this inspection path
    only); not found, a handle onto the recorded value stands for it."""
    own = node == r or tape.op[node] == OUTPUT and tape.a[node] == r
    held = _held_by_caller(tape, node)
    if held is None:
        return tensor_at(tape, node)
    if not own:
        return held
    t = held.detach()
    t._tape, t._node, t._rg = tape, node, True
    return t


def _held_by_caller(tape, node: int) -> Optional[Tensor]:
    while tape.hid[node] and tape.op[node] != ROLES.clone:
        node = int(tape.a[node])
    while tape.op[node] == INPUT and type(tape.src[node]) is tuple:
        tape, node = tape.src[node]
    frame = sys._getframe(2)
    for _ in range(_CALLER_FRAMES):
        if frame is None:
            break
        for v in frame.f_locals.values():
            if isinstance(v, Tensor) and v._tape is tape and v._node == node:
                return v
        frame = frame.f_back
    return None


_PACK_MODIFIED = ("A saved tensor pack hook is modifying its input in place. Tensors provided as input to pack hook "
                  "cannot be modified by in-place operations as this can lead to unexpected side-effects. Please open "
                  "an issue if you need to perform in-place operations on the input to a pack hook.")


def _pack(pack: Callable, t: Tensor) -> Any:
    """``pack(t)`` as PyTorch runs a pack hook: in no_grad mode, and an in-place change of ``t`` raises."""
    version = t._vnum
    was = state.grad
    state.grad = False
    try:
        packed = pack(t)
    except ValueError as e:
        # A recorded value reaches the hook as a read-only view of the tape's arena: an in-place
        # change of it fails in numpy before the version check below could name it.
        if t._v is not None and not t._v.flags.writeable and "read-only" in str(e):
            raise RuntimeError(_PACK_MODIFIED) from None
        raise
    finally:
        state.grad = was
    if t._vnum != version:
        raise RuntimeError(_PACK_MODIFIED)
    return packed


def check_unpacked(value: Any) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"Output of saved tensor unpack_hook expected to be a Tensor but got result of type "
                        f"{type(value).__name__}")
    return value


# --- saved-tensor hooks ------------------------------------------------------------------
class _Local(threading.local):
    def __init__(self) -> None:
        self.stack = []             # (pack_hook, unpack_hook), innermost last
        self.disabled = None        # the message of an active disable_saved_tensors_hooks
        self.pending = None         # (tape weakref, generation, first row not packed yet)


local = _Local()
_active = [0]       # threads with hooks on: while any, ``fresh`` calls ``_pack_since``
# While any thread has hooks on, the public front ends are hooked (``tape._trace``, which sets
# these: install, uninstall): each calls ``flush`` before it returns, so that an op's saved
# tensors are packed during the op, as PyTorch packs them.
hooked_fronts = [None, None]


def _on() -> None:
    _active[0] += 1
    _T.packing[0] = _pack_since
    hooked_fronts[0]()


def _off() -> None:
    _active[0] -= 1
    if not _active[0]:
        _T.packing[0] = None
    hooked_fronts[1]()


def packing_order(tape, r: int, table: tuple) -> list:
    """The slots of row ``r``'s saved ``table`` (``entries``) in the order PyTorch's node packs and
    unpacks them: the inputs (the table's order: PyTorch's, by name), then the outputs, which are
    saved once the op has run (with the inputs the op returns, ``Op.returned_inputs``)."""
    op = REGISTRY.get(int(tape.op[r]))
    returned = op.returned_inputs if op is not None else ()
    return sorted(range(len(table)), key=lambda slot: _is_output(table[slot][1]) or (
        type(table[slot][1]) in (int, Given) and table[slot][1] in returned))


def _is_output(what) -> bool:
    return (type(what) is int or type(what) is Given) and (what == OUT or what >= OUTPUTS)


def _pack_rows(tape, lo: int, hi: int, hooks: tuple) -> None:
    pack, unpack = hooks
    for r in range(lo, hi):
        if r in tape.pyrows or tape.hid[r]:
            continue        # (a custom Function packs what it saved itself; hidden rows save nothing)
        slots = None
        table = entries(tape, r)
        for slot in packing_order(tape, r, table):
            what = table[slot][1]
            if _held(what):
                values = {slot: what} if isinstance(what, Tensor) else {
                    (slot, k): t for k, t in enumerate(what) if t is not None}
            elif callable(what):
                continue
            else:
                node = tensor_node(tape, r, what)
                if node < 0:
                    continue
                values = {slot: tensor_at(tape, node)}
            if slots is None:
                slots = _row_hooks(tape, r).saved
            for key, value in values.items():
                slots[key] = [_pack(pack, value), unpack]


def flush() -> bool:
    """Pack the saved tensors of the rows recorded since the last op, with the innermost hooks;
    whether there were any."""
    pending = local.pending
    if pending is None or not local.stack:
        return False
    ref, gen, lo = pending
    tape = ref()
    local.pending = None
    if tape is not None and tape.gen == gen and tape.n > lo:
        local.pending = (ref, gen, tape.n)
        _pack_rows(tape, lo, tape.n, local.stack[-1])
        return True
    return False


def _pack_since(tape) -> bool:
    """``fresh``'s slot while hooks are on: pack what the previous op saved; watch this one
    (``tape``; None: only pack, and say whether anything was)."""
    if not local.stack:
        return False
    if tape is None:
        return flush()
    flush()
    local.pending = (weakref.ref(tape), tape.gen, tape.n)
    tape.soft = tape.n


def _watch() -> None:
    tape = state.tape
    if tape is not None and local.stack:
        local.pending = (weakref.ref(tape), tape.gen, tape.n)
        tape.soft = tape.n


def push(pack_hook: Callable, unpack_hook: Callable) -> None:
    if local.disabled is not None:
        raise RuntimeError(local.disabled)
    flush()
    local.stack.append((pack_hook, unpack_hook))
    if len(local.stack) == 1:
        _on()
    _watch()


def pop() -> None:
    try:
        flush()     # (a pack hook raising here: the hooks still end with their block)
    finally:
        local.stack.pop()
        local.pending = None
        if not local.stack:
            _off()
        _watch()


def restore(stack: tuple) -> None:
    """Put back the hooks ``stack`` (a copy of ``local.stack`` taken when a backward began), as
    PyTorch's engine runs each node with the hooks of the thread when the backward began: a hook
    entered or exited during the backward (by an unpack hook) does not outlive it."""
    now = local.stack
    if len(now) == len(stack) and all(a is b for a, b in zip(now, stack)):
        return
    flush()
    if not now and stack:
        _on()
    elif now and not stack:
        _off()
    local.stack[:] = stack
    local.pending = None
    _watch()


def pack_for_function(tensors: list) -> Optional[list]:
    """A custom Function's saved tensors, packed with the innermost hooks (None when none is on)."""
    if not local.stack:
        return None
    flush()
    pack, unpack = local.stack[-1]
    return [None if t is None else [_pack(pack, t), unpack] for t in tensors]


def release(tape, seen: np.ndarray | None = None) -> None:
    """Drop what was packed for the rows a backward freed (PyTorch frees the packed objects):
    those it ran (bit 4 of its ``seen``; None: every freed row), found among the rows it ran or
    among the rows with something packed, whichever are fewer (many graphs recorded on one tape
    and a backward of each would otherwise look at every call of the tape at each backward)."""
    ran = None
    for rows in (tape.hooks, tape.pyrows):
        if seen is not None and len(rows) > 16:
            if ran is None:
                ran = np.flatnonzero(seen & 4).tolist()
            found = [r for r in ran if r in rows] if len(ran) < len(rows) else \
                [r for r in rows if r < len(seen) and seen[r] & 4]
        else:
            found = [r for r in rows if tape.fr[r] & FREED]
        for r in found:
            if rows is tape.hooks:
                if rows[r].saved:
                    rows[r].saved = {}
            else:
                rows[r].__dict__.pop("_packed", None)


def unpacked(tape, r: int, slots: dict, xs: tuple, y: Tensor) -> tuple:
    """``(xs, y)`` for row ``r``'s rule, with its packed values unpacked in place of the saved ones.
    Under a recorded backward an unpacked tensor stands for the saved one in the graph, as
    PyTorch rewraps it with the saved tensor's ``grad_fn``: a hidden identity row links it."""
    xs = list(xs)
    table = entries(tape, r)
    for slot, (packed, unpack) in slots.items():
        what = table[slot if type(slot) is int else slot[0]][1]
        new = check_unpacked(unpack(packed))
        if _held(what) or what >= OUTPUTS:
            continue        # (an index, or an output the rule reads from the row's value)
        if what == OUT:
            y = _linked(new, y)
        else:
            k = 0 if what == X0 else 1 if what == X1 else 2
            xs[k] = _linked(new, xs[k])
    return tuple(xs), y


def _linked(new: Tensor, orig: Tensor) -> Tensor:
    if new is orig or not (state.grad and orig._rg) or (new._tape is not None and new._tape is orig._tape
                                                       and new._node == orig._node):
        return new
    dest = _T.write_tape()
    node = orig._node if orig._tape is dest else dest.import_(orig)
    # (the saved tensor may enter its row cast or broadcast, by hidden rows the link starts from)
    value = np.array(np.broadcast_to(new._value(), orig._shape), orig._dtype.np)
    return _recorded(dest, dest.append(ROLES.clone, orig._dtype.arena, value, node, hid=1), value, orig._dtype)


# --- the Node API's view of them ------------------------------------------------------
_HOOKS_SET = ("Calling register_hooks on a saved tensor whose hooks have already been set. Hint: only one pair of "
              "hooks is allowed at a time.")


class SavedTensor:
    """A value saved by a node (``grad_fn._raw_saved_<name>``), PyTorch's ``torch._C._autograd.SavedTensor``."""

    __slots__ = ("_tape", "_row", "_slot", "_node", "_ctx")

    def __init__(self, *args, **kwargs) -> None:
        raise RuntimeError("Trying to create a SavedTensor object from Python is forbidden.")

    @classmethod
    def _of(cls, tape, row: int, slot, node: Union[int, Tensor], ctx=None) -> "SavedTensor":
        """Saved value ``slot`` of row ``row`` (a node, -1 for None, or a tensor kept beside the
        tape); ``ctx``: the custom Function whose ``save_for_backward`` it was given to."""
        self = object.__new__(cls)
        self._tape = tape
        self._row = row
        self._slot = slot
        self._node = node
        self._ctx = ctx
        return self

    def register_hooks(self, *hooks: Callable) -> None:
        """``register_hooks(pack_hook, unpack_hook)``: pack the saved tensor with ``pack_hook`` now,
        and have backward (and ``_saved_<name>``) read ``unpack_hook(packed)`` instead of it."""
        if len(hooks) != 2 or not all(callable(h) for h in hooks):
            raise TypeError("register_hooks(): incompatible function arguments. The following argument types are "
                            "supported:\n    1. (self: torch._C._autograd.SavedTensor, arg0: "
                            "collections.abc.Callable, arg1: collections.abc.Callable) -> None")
        pack_hook, unpack_hook = hooks
        tape, r = self._tape, self._row
        if tape is None:        # (one made by ``_make_saved_tensor``)
            if self._slot is not None:
                raise RuntimeError(_HOOKS_SET)
            self._slot = [_pack(pack_hook, self._node), unpack_hook]
            return
        if not isinstance(self._node, Tensor) and self._node < 0:
            raise RuntimeError("Calling register_hooks on a saved tensor with value None is forbidden")
        if tape.fr[r] & FREED:
            raise RuntimeError("Calling register_hooks on a saved tensor after it has been freed. Saved intermediate "
                               "values of the graph are freed when you call .backward() or autograd.grad(). Specify "
                               "retain_graph=True if you need to backward through the graph a second time or if you "
                               "need to access saved variables after calling backward.")
        held = self._node if isinstance(self._node, Tensor) else None
        if self._ctx is not None:
            # (a custom Function's: its ``saved_tensors`` unpacks what is packed, slot by slot)
            packed = self._ctx.__dict__.get("_packed")
            if packed is None:
                packed = self._ctx._packed = [None] * len(self._ctx._saved)
            if packed[self._slot] is not None:
                raise RuntimeError(_HOOKS_SET)
            held = held if held is not None else tensor_at(valued(tape), self._node)
            packed[self._slot] = [_pack(pack_hook, held), unpack_hook]
            return
        hooks = _row_hooks(tape, r)
        # (a checkpointed segment's saved tensors have the checkpoint's hooks, as in PyTorch)
        if self._slot in hooks.saved or getattr(tape, "recomputed", None) is not None:
            raise RuntimeError(_HOOKS_SET)
        held = held if held is not None else tensor_at(tape, self._node)
        hooks.saved[self._slot] = [_pack(pack_hook, held), unpack_hook]

    def _packed(self) -> list | None:
        """``[packed, unpack_hook]`` when hooks packed the value, else None."""
        if self._tape is None:
            return self._slot
        if self._ctx is not None:
            packed = self._ctx.__dict__.get("_packed")
            return packed[self._slot] if packed is not None else None
        hooks = self._tape.hooks.get(self._row)
        return hooks.saved.get(self._slot) if hooks is not None else None

    @property
    def data(self) -> Any:
        """What is kept: the object the pack hook returned, when hooks packed the value; else the
        saved tensor, detached when it is the node's own output (None for a saved None)."""
        packed = self._packed()
        if packed is not None:
            return packed[0]
        node = self._node
        if isinstance(node, Tensor):
            return node
        if node < 0:
            return None
        tape = valued(self._tape)
        t = saved_value(tape, self._row, node)
        own = tape.op[node] == OUTPUT and tape.a[node] == self._row or node == self._row
        return t.detach() if own and t._tape is not None else t

    def unpack(self) -> Optional[Tensor]:
        """The saved tensor, through its unpack hook when hooks packed it (None for a saved None)."""
        if self._tape is None:
            if self._row and self._node._tape is not None:
                # (a saved output keeps no history of its own: its node is the one that saved it)
                raise RuntimeError(DETACHED_MSG)
            packed = self._slot
            return self._node if packed is None else check_unpacked(packed[1](packed[0]))
        if self._ctx is not None:
            return self._ctx.saved_tensors[self._slot]
        node = self._node
        if not isinstance(node, Tensor) and node < 0:
            return None
        return _unpacked(self._tape, self._row, self._slot, node)

    @property
    def unpack_hook(self) -> Callable | None:
        """The unpack hook registered for the value (None without hooks)."""
        packed = self._packed()
        return packed[1] if packed is not None else None

    def __repr__(self) -> str:
        return f"<torch._C._autograd.SavedTensor object at {id(self):#x}>"


def make_saved(tensor: Tensor, is_output: bool) -> SavedTensor:
    """``torch._C._autograd._make_saved_tensor``: ``tensor`` saved as a node would save it, packed
    by the innermost saved-tensor hooks if any are on."""
    saved = SavedTensor._of(None, bool(is_output), None, tensor)
    if local.stack:
        pack, unpack = local.stack[-1]
        saved._slot = [_pack(pack, tensor), unpack]
    return saved


def _unpacked(tape, r: int, slot, node: Union[int, Tensor]) -> Tensor:
    """Saved value ``slot`` of row ``r`` (``node``, or the tensor saved beside the tape), unpacked
    when hooks packed it; FREED_MSG after a backward freed it."""
    if tape.fr[r] & FREED:
        raise RuntimeError(FREED_MSG)
    tape = valued(tape)
    hooks = tape.hooks.get(r)
    if hooks is not None and slot in hooks.saved:
        packed, unpack = hooks.saved[slot]
        value = check_unpacked(unpack(packed))
        return with_history(value, tape, node) if isinstance(node, int) and node >= 0 else value
    return node if isinstance(node, Tensor) else saved_value(tape, r, node)


def with_history(value: Tensor, tape, node: int) -> Tensor:
    """What an unpack hook returned for the value of ``node``: PyTorch gives the unpacked data the
    saved tensor's history back (its grad_fn), unless it is a leaf's (a leaf is saved as it is)."""
    if value._tape is not None or value._rg:
        return value
    while tape.hid[node]:
        node = int(tape.a[node])
    code = tape.op[node]
    dtype = D.ARENA_DTYPES[int(tape.dt[node])]
    if code != INPUT and code != CONST and value._dtype is dtype and value._shape == tape.shape_of(node):
        return _recorded(tape, node, value._value(), dtype)
    return value


def saved_names(tape, r: int) -> list:
    """The ``_saved_<name>`` and ``_raw_saved_<name>`` attributes of row ``r``'s node."""
    names = []
    for name, what in entries(tape, r):
        names.append("_saved_" + name)
        if not callable(what):
            names.append("_raw_saved_" + name)
    return names


def valued(tape):
    """The tape holding the values of ``tape``'s rows: itself, or for the rows of a checkpointed
    segment (which keep none) a run of the segment again (``tape.utils.checkpoint._Ghost``)."""
    again = getattr(tape, "recomputed", None)
    return tape if again is None else again()


def node_attribute(tape, r: int, name: str, node_name: str):
    """``grad_fn._saved_<x>`` / ``_raw_saved_<x>`` of row ``r``'s node (named ``node_name``);
    AttributeError if it has none."""
    raw = name.startswith("_raw_saved_")
    key = name[len("_raw_saved_"):] if raw else name[len("_saved_"):]
    for slot, (entry, what) in enumerate(entries(tape, r)):
        if entry != key or (raw and callable(what)):
            continue
        if callable(what):
            return what(Row(tape, r))
        flush()
        if type(what) is tuple:     # (a tuple of tensors, as IndexBackward0's ``indices``)
            if raw:
                # (as PyTorch, an undefined entry is a SavedTensor too, whose hooks cannot be set)
                return tuple(SavedTensor._of(tape, r, (slot, k), -1 if t is None else t) for k, t in enumerate(what))
            return tuple(None if t is None else _unpacked(tape, r, (slot, k), t) for k, t in enumerate(what))
        held = isinstance(what, Tensor)
        node = what if held else tensor_node(tape, r, what)
        if raw:
            return SavedTensor._of(tape, r, slot, node)
        if not held and node < 0:
            return None
        return _unpacked(tape, r, slot, node)
    raise AttributeError(f"'{node_name}' object has no attribute '{name}'")


# --- allow_mutation_on_saved_tensors -----------------------------------------------------
# What each context recorded, as tape generations and rows: (first generation, its first row, last
# generation, its end row); the rows of the tapes in between are all inside.  Inside a context, an
# in-place change of a saved tensor flags none of the rows recorded inside it (``Tensor._bump``):
# the tape holds its own copy of every recorded value, so a backward inside the context uses the
# value as it was when saved, PyTorch's clone of the original.  After it, those rows refuse.
mutation_spans: list = []
_SPANS_KEPT = 16
OUTSIDE_MSG = ("Trying to backward outside of the 'allow_mutation_on_saved_tensors' context"
               "in which the graph was originally recorded.")
_TENSOR_BITS = X0 | X1 | X2 | OUT


def saved_inside(tape, lo: int, mutated: Optional[dict]) -> dict:
    """The values that rows ``lo:`` of ``tape`` saved (their inputs or outputs, as their ops save
    them), for the rows a tensor or node still reaches and whose backward has not freed them: by
    (generation, row of the value) -> the value as saved.  ``mutated`` ((generation, row) -> the
    row count when it was changed in place): only the values changed after the row saved them."""
    reached = reachable(tape, lo)
    out = {}
    for r in range(lo, tape.n):
        if reached is not None and not reached[r] or tape.fr[r] & FREED:
            continue
        op = REGISTRY.get(int(tape.op[r]))
        if op is None or not op.saved & (X0 | X1 | OUT) or int(tape.ln[r]):
            continue
        ins = tape.inputs_of(r)
        rg = [1 if tape.rg[x] else 0 for x in ins[:3]] + [0] * (3 - min(len(ins), 3))
        saved = [x for k, x in enumerate(ins[:2]) if input_saved(op.saved, k, *rg)]
        for node in saved + ([r] if op.saved & OUT else []):
            key = (tape.gen, node)
            if key in out or mutated is not None and mutated.get(key, -1) <= r:
                continue
            out[key] = _plain(np.array(tape.value_of(node)), D.ARENA_DTYPES[int(tape.dt[node])]) \
                if mutated is not None else None
    return out


def end_mutation_span(start: tuple, end) -> None:
    mutation_spans.append((start[0], start[1], end.gen, end.n))
    del mutation_spans[:-_SPANS_KEPT]


def in_mutation_span(tape) -> bool:
    """Whether rows of ``tape`` (its current generation) were recorded inside such a context."""
    gen = tape.gen
    return any((lo0 if gen == g0 else 0) < (hi1 if gen == g1 else tape.n)
               for g0, lo0, g1, hi1 in mutation_spans if g0 <= gen <= g1)


def check_mutation_spans(tape, roots) -> None:
    """Refuse a backward outside ``allow_mutation_on_saved_tensors`` that reaches, from the rows
    ``roots``, a row recorded inside it that saved a tensor (as PyTorch's unpack hook refuses).
    Inside another such context too: ``mutation_spans`` holds the contexts that ended."""
    spans = [(lo0 if tape.gen == g0 else 0, hi1 if tape.gen == g1 else tape.n)
             for g0, lo0, g1, hi1 in mutation_spans if g0 <= tape.gen <= g1]
    if not spans:
        return
    reached = np.zeros(tape.n, np.bool_)
    reached[list(roots)] = True
    for r in range(max(roots), -1, -1):
        if not reached[r]:
            continue
        op = REGISTRY.get(int(tape.op[r]))
        if op is not None and op.saved & _TENSOR_BITS and not tape.fr[r] & FREED and \
                any(lo <= r < hi for lo, hi in spans):
            raise AssertionError(OUTSIDE_MSG)
        for x in tape.inputs_of(r):
            reached[x] = True


def first_unpacked(tape, r: int, nodes: list) -> int:
    """Of ``nodes`` (values row ``r`` saved), the one PyTorch's node unpacks first: its saved
    tensors are unpacked in their packing order (``entries``), so a backward that finds several
    of them changed in place names the first (a product's ``mat2``, a quotient's ``other``)."""
    order = []
    table = entries(tape, r)
    for what in (table[slot][1] for slot in packing_order(tape, r, table)):
        if type(what) is int or type(what) is Given:
            node = tensor_node(tape, r, what)
            if node >= 0:
                order.append(node)
    return min(nodes, key=lambda node: order.index(node) if node in order else len(order))


def view_saved_as_strided(t, tape, node: int) -> bool:
    """Whether the tensor saved as ``node`` shows as PyTorch's ``AsStridedBackward0`` in the error
    for its change: ``node`` is the row of a view whose storage changed, and no live view stands for
    it (``t``, the tensor the change was counted in, is its root or gone).  PyTorch's saved tensor is
    the view itself, whose node is re-derived after the change; a live view's own node here is
    re-derived the same way (``ops/views.py``)."""
    return (t is None or t._vb is None) and _flagged_view_row(tape, node)
