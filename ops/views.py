"""Views that alias their base, as PyTorch's do: writing through one changes the base and the other views.

A view (``Tensor._vb``, set by ``tape._tensor._link``) holds a numpy view of its root's storage, so
its elements are the root's.  An in-place op on a view computes its result out of place (its own
row, e.g. ``MulBackward0``), writes it into the shared storage, and then records on the root what
PyTorch records: a ``CopySlices`` node (a PUT row: the root's old node with the view's elements
replaced by the op's result; its gradient is the incoming one with the view's region zeroed for
the old root, and that region for the op), to which the root moves.  Every live view of the root
then takes a node re-derived from the root's new one, PyTorch's ``AsStridedBackward0`` (a gather
of its elements' positions in the root).  An in-place op on the root itself re-derives its views
the same way.  Positions are flat, row-major positions in the root, read off the memory
addresses of the view's elements (a transpose, an expand or a diagonal alike).
"""
from __future__ import annotations

import math
import weakref
from typing import Optional

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .._emit import Tensor, flag_saved_alias, node_in, refuse_rebased, state, unshare, writable, write_tape
from ._spec import public
from .index import P_COPY_SLICES, PUT
from .shape import BY_AS_STRIDED, EXPAND, GATHER, LAYOUT, SELECT, TRANSPOSE, VIEW


def _GONE() -> None:
    """The weak reference of a node that no tensor holds (``_views`` entries)."""
    return None


def _source(tape, node: int) -> int:
    """The row that a row the engine made by itself (a cast or broadcast inside an op) comes from."""
    while tape.hid[node]:
        node = int(tape.a[node])
    return node


def _addr(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def flat_positions(root: np.ndarray, view: np.ndarray) -> np.ndarray:
    """The row-major position in ``root`` of each element of ``view`` (a numpy view of its memory)."""
    if not view.size:
        return np.zeros(view.shape, np.int64)
    it = root.itemsize
    start = _addr(root)
    lo = start + sum((n - 1) * s for n, s in zip(root.shape, root.strides) if s < 0)
    hi = start + sum((n - 1) * s for n, s in zip(root.shape, root.strides) if s > 0)
    # Number every element of the root at its address, then read the numbers at the view's.
    by_address = np.zeros((hi - lo) // it + 1, np.int64)
    as_strided(by_address[(start - lo) // it:], root.shape, tuple(s // it * 8 for s in root.strides))[...] = \
        np.arange(root.size).reshape(root.shape)
    return np.array(as_strided(by_address[(_addr(view) - lo) // it:], view.shape,
                               tuple(s // it * 8 for s in view.strides)), order="C")


def _move(t: Tensor, tape, node: int) -> None:
    """Rebind ``t`` to ``node`` (``retain_grad()`` follows it)."""
    if t._retains:
        if t._tape is not None:
            t._tape.retained.pop(t._node, None)
        tape.retained[node] = weakref.ref(t)
    t._tape = tape
    t._node = node
    t._rg = True
    t._ig = 0


@public("_write_view", function=False)
def write_view(self, result: Tensor, operand: Optional[Tensor] = None) -> Tensor:
    """Write the recorded ``result`` of an in-place op into this view, recording PyTorch's
    ``CopySlices`` on its root (``Tensor._inplace`` calls this for a view; checks are done)."""
    root = self._vb
    tape = result._tape
    # PyTorch's CopySlices holds the op's node, and shows the op's other inputs: when the op's row
    # read the view (not a value assigned to it), its node is folded into the CopySlices node's view.
    inputs = tape.inputs_of(_source(tape, result._node))
    mine = self._node if self._tape is tape else self._in if self._ig == tape.gen else -1
    fold = mine >= 0 and bool(inputs) and _source(tape, inputs[0]) == mine
    if self._tape is None and self._ig == tape.gen:
        # The view entered the op as an imported constant, which the op's row read before the change.
        tape.flag_modified(self._in, result._node)
        tape.csrc.pop(self._in, None)
        self._ig = 0
    positions = flat_positions(root._storage(), self._v)
    unshare(self._v)
    np.copyto(writable(self._v, root._storage()), result._value(), casting="unsafe")
    self._bump(result._tape)
    if operand is self:
        flag_saved_alias(tape, result._node)
    dt = root._dtype
    old = node_in(tape, root, dt, root._shape)
    flat = positions.reshape(-1)
    n = flat.size
    lists = np.concatenate((np.array([n, n], np.int64), flat, flat, np.arange(n, dtype=np.int64)))
    value = np.array(root._v, order="C")
    node = tape.append(PUT, dt.arena, value, old, result._node, ia=tape.index_list(lists), ib=P_COPY_SLICES,
                       fa=1.0, fb=float(fold))
    _move(root, tape, node)
    rederive_views(root)
    if fold:
        # The op's row holds the view's elements as they are now (``exp_`` saves its result): a later
        # change of the root's storage makes it stale as it does the views' nodes.  (A value assigned
        # to the view is a tensor of its own.)
        root._views.append((_GONE, tape.gen, result._node))
    return self


def _view_positions(tape, r: int, shape: tuple) -> Optional[np.ndarray]:
    """The flat positions in its input (of ``shape``) of the elements view row ``r`` takes, or None
    for a row that is not one of the view kinds."""
    code = int(tape.op[r])
    out = tape.shape_of(r)
    numbered = np.arange(math.prod(shape), dtype=np.int64).reshape(shape)
    if code == VIEW:
        return numbered.reshape(out)
    if code == EXPAND:
        return np.broadcast_to(numbered, out)
    if code == SELECT and not tape.fb[r]:
        return np.take(numbered, int(tape.ib[r]), axis=int(tape.ia[r]))
    if code == TRANSPOSE:
        return np.swapaxes(numbered, int(tape.ia[r]), int(tape.ib[r]))
    if code == GATHER or code == LAYOUT:
        lo = int(tape.ia[r])
        return tape.ix[lo:lo + int(tape.num[r])].reshape(out)
    return None


def _replayed(t: Tensor, tape, root: int, root_value: np.ndarray, positions: np.ndarray, done: dict) -> int:
    """View replay (``autograd._force_original_view_tracking(True)``): the view's chain of view ops
    applied again (copies of their rows) from the root's new node ``root``, or from the new node of
    a view replayed before it (``done``: old node -> (new node, positions in the root)), when its
    rows are on ``tape`` and take the root's elements at ``positions``; -1 otherwise (the view
    then takes PyTorch's as_strided node)."""
    if t._tape is not tape:
        return -1
    chain = []
    x = t._node
    while x not in done:
        single = not tape.ln[x] and tape.b[x] < 0
        picked = _view_positions(tape, x, tape.shape_of(int(tape.a[x]))) if single else None
        if picked is None:
            break
        chain.append((x, picked))
        x = int(tape.a[x])
    if not chain:
        return -1
    if x in done:
        source, base = done[x]
    elif tape.shape_of(x) == root_value.shape:
        source, base = root, np.arange(root_value.size, dtype=np.int64).reshape(root_value.shape)
    else:
        return -1
    plan = []
    for x, picked in reversed(chain):
        base = base.reshape(-1)[picked]
        plan.append((x, base))
    if base.shape != positions.shape or not np.array_equal(base, positions):
        return -1
    flat = root_value.reshape(-1)
    for x, at in plan:
        source = tape.append(int(tape.op[x]), t._dtype.arena, np.ascontiguousarray(flat[at]), source,
                             ia=int(tape.ia[x]), ib=int(tape.ib[x]), fa=float(tape.fa[x]), fb=float(tape.fb[x]))
        done[x] = (source, at)
    return source


@public("_rederive_views", function=False)
def rederive_views(self) -> None:
    """After an in-place change of this root or one of its views (whose old nodes ``_bump`` flagged
    as changed), each live view takes a node re-derived from the root's new one (its import for a
    leaf changed under no_grad)."""
    tape = self._tape
    node = self._node
    kept = []
    done = {}
    for entry in self._views:
        t = entry[0]()
        if t is None or t._v is None or t._v.size and not np.may_share_memory(t._v, self._v):
            continue            # gone, or no longer a view (``.data = ...`` replaced a storage)
        if t._tape is None and not self._rg:
            kept.append(entry)  # (no node, and none to take: PyTorch's grad_fn stays None)
            continue
        if refuse_rebased(t, self):
            continue
        if node < 0:
            tape = write_tape()
            node = tape.import_(self)       # (a leaf changed under no_grad, or one that does not require grad)
        positions = flat_positions(self._v, t._v)
        value = np.array(t._v, order="C")
        new = _replayed(t, tape, node, self._v, positions, done) if state.view_replay else -1
        if new < 0:
            new = tape.append(GATHER, self._dtype.arena, value, node, ia=tape.index_list(positions),
                              ib=BY_AS_STRIDED)
        _move(t, tape, new)
        kept.append((entry[0], tape.gen, new))
    self._views[:] = kept

