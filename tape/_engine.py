"""Backward: seed the output adjoints, sweep the tapes newest first, deliver gradients.

A graph may span several tapes (a tape is started after each backward and when
one fills up); a tape refers only to older ones, through its INPUT rows, so
tapes are swept in decreasing generation and each passes the adjoints of its
imported nodes on to the tape that owns them.

Two sweeps share this driver: the numeric one (numba, ``create_graph=False``)
and the recording one (numba too, ``_record``), which appends each row's
derivative as new rows so that the gradients are themselves recorded and can
be differentiated again.
"""
from __future__ import annotations

import sys
import threading

import numpy as np

from . import _dtype as D
from . import _anomaly, _graph, _hooks, _parallel, _saved
from . import _programs as P
from . import _record as Rec
from . import _tensor as T
from ._blocks import Owned, begin_backward, big_rows, copied, end_backward, owned, pooled, run_size, spread_call
from ._graph import node_view
from ._row import Row
from ._saved import DETACHED_MSG, FREED_MSG
from ._state import _set, inplace_changes, state
from ._stops import (C_NAN, C_ROW, C_SIZE, C_START, C_STATUS, MODIFIED, ST_COMPILE, ST_DONE, ST_FREED, ST_MODIFIED,
                     ST_NAN, ST_PYTHON, ST_UNKNOWN)
from ._sweep import _PYTHON_START as PYTHON_START
from ._sweep import (ADJOINTS, GATHERS, NEVER, PYTHON_FROM, SAVES, SPARSE_FROM, compile_for, free_rows,
                     mark_unneeded, seeded_sweeps, sweep_rows)
from ._tape import DETACHED, ConstRef, Tape, retire, write_tape
from .ops._spec import (CONST, INPUT, OUT, OUT_FIRST, OUTPUT, OUTS, R_A, R_B, R_DT, R_LN, R_LO, R_NOUT, R_NUM, R_OFF,
                        R_OP, R_RG, R_SHP, REGISTRY, UNARY)
from .ops._spec import ROLES, X_REST, input_saved
from .ops.elementwise import binary_adjoint, unary_adjoint
from .ops.reduction import MEAN, SUM


SHARED_ADJOINTS = 1 << 16     # adjoint buffers up to this many elements are shared by the gradients


def handle(tape: Tape, node: int):
    """A tensor standing for ``node``: the leaf itself for a leaf's INPUT row."""
    code = tape.op[node]
    dtype = D.ARENA_DTYPES[tape.dt[node]]
    if code == INPUT:
        src = tape.src[node]
        if type(src) is tuple:
            return handle(src[0], src[1])
        leaf = src()
        if leaf is not None:
            return leaf
    if code == INPUT or code == CONST:
        return T._plain(np.array(tape.value_of(node)), dtype)
    return T._recorded(tape, node, tape.value_of(node), dtype)


def _arena_view(tape: Tape, arenas, node: int) -> np.ndarray:
    _, dt, o, n, shp = tape.R[:5, node].tolist()
    return arenas[dt][o:o + n].reshape(tape.shapes[shp])


def leaf_grad(g: np.ndarray, like) -> T.Tensor:
    """Gradient array ``g`` as a tensor of ``like``'s dtype (its ``grad_dtype`` when set) and shape
    (a 0-d float64 one holds a float)."""
    dtype = like._gdt or like._dtype
    v = like._v
    if type(v) is np.ndarray and v.ndim > 1 and not v.flags.c_contiguous:
        # (PyTorch's AccumulateGrad: the grad of a leaf laid out densely otherwise, channels_last
        # or transposed, has the leaf's strides; of one with gaps, row-major ones)
        out = np.empty_like(v, dtype.np)
        out[...] = np.asarray(g).reshape(like._shape)
        return T._plain(out, dtype)
    if g.shape == like._shape and g.dtype is dtype.np and like._shape:
        return T._plain(g, dtype)
    g = np.asarray(g, dtype.np).reshape(like._shape)
    return T._py_scalar(float(g)) if g.ndim == 0 and dtype.name == "float64" else T._plain(g, dtype)


class _Result:
    """Gradients collected over all tapes of one backward."""

    def __init__(self, targets, leaf_targets) -> None:
        self.leaves = {}          # id(leaf) -> [leaf, grad]
        self.nodes = {}           # (id(tape), node) -> grad, for non-leaf targets
        self.targets = targets    # set of (id(tape), node) asked for, or None
        self.leaf_targets = leaf_targets    # set of id(leaf) asked for, or None (all)
        self.swept = []           # (tape, per-row sweep bits): rows run are freed at the end unless retained
        self.retained = []        # (tensor, grad) for tensors that called retain_grad()
        self.run_targets = False  # run the requested non-leaf rows too (backward(inputs=...))
        self.fired = set()        # id(leaf) of the leaves whose hooks ran during the sweep
        self.on_leaf = None       # backward's accumulation, called for those leaves there and then
        self.delivered = set()    # id(leaf) of the leaves handed to on_leaf
        self.direct = False       # a leaf whose .grad is None gets its gradient in the sweep (no hooks anywhere)
        self.raw = {}             # (id(tape), node) -> its gradient before its hooks ran, for a target whose node runs

    def add_leaf(self, leaf, g) -> None:
        entry = self.leaves.get(id(leaf))
        if entry is None:
            self.leaves[id(leaf)] = [leaf, g]
        else:
            entry[1] = entry[1] + g


def _by_generation(pending: dict) -> Tape:
    return max(pending, key=lambda t: t.gen)


def run(roots, seeds, retain_graph: bool, create_graph: bool, targets=None, want_retained: bool = True,
        leaf_targets=None, run_targets: bool = False, on_leaf=None, asked=None, deliver=None):
    """Backpropagate ``seeds`` from ``roots``; return the collected ``_Result``.

    With ``targets``/``leaf_targets`` (the inputs asked for), rows that lead to
    none of them are neither run nor freed; with ``run_targets`` the requested
    non-leaf rows themselves are run (as ``backward(inputs=...)`` runs their
    nodes in PyTorch, where ``autograd.grad`` does not).  ``on_leaf(leaf, grad)``: called
    for a hooked leaf as soon as its hooks ran in the sweep (``tape/_hooks.py``).  ``asked``: the
    inputs as the caller gave them (tensors or gradient edges), for ``_will_engine_execute_node``.
    ``deliver(result)``: the caller's accumulation of what the sweep left in ``result``, run after the
    sweep and before the callbacks queued during it (PyTorch runs them after AccumulateGrad).
    """
    if _saved.local.pending is not None:
        _saved.flush()              # (the last op's saved tensors, before the sweep reads them)
    result = _Result(targets, leaf_targets)
    result.run_targets = run_targets
    result.on_leaf = on_leaf
    # ``backward()`` of every leaf, where no leaf ever had hooks: a leaf's first gradient becomes
    # its ``.grad`` as soon as its tape is swept, with nothing to run before (PyTorch's
    # AccumulateGrad also runs as soon as the gradient is complete).
    result.direct = on_leaf is not None and not create_graph and targets is None and leaf_targets is None \
        and not _hooks._leaf_hooks[0]
    pending = {}
    for t, g in zip(roots, seeds):
        if t._tape is None:
            result.add_leaf(t, g)
        else:
            pending.setdefault(t._tape, []).append((t._node, g))
    sweep_tape = _recording_sweep if create_graph else _numeric_sweep
    prev = state.grad
    state.grad = create_graph
    prev_full = state.full_backward
    state.full_backward = targets is None and leaf_targets is None
    task = _hooks.begin_task(on_leaf is not None, (roots, asked, on_leaf is None), retain_graph)
    # (the rows asked for, which a node's post hooks see gradients for though they lead nowhere)
    prev_targets = _asked.rows
    _asked.rows = None if leaf_targets is None else frozenset(targets or ())
    hooks_stack = _saved.local.stack
    hooks_then = tuple(hooks_stack) if hooks_stack else ()
    swept = False
    begin_backward()
    try:
        while pending:
            tape = next(iter(pending)) if len(pending) == 1 else _by_generation(pending)
            sweep_tape(tape, pending.pop(tape), pending, result, want_retained)
        if _hooks._leaf_hooks[0]:
            for entry in result.leaves.values():
                # Hooks of leaves the sweep did not stop at (a graph over several tapes, an input asked for)
                leaf = entry[0]
                if id(leaf) not in result.fired and (leaf_targets is None or id(leaf) in leaf_targets):
                    entry[1] = _hooks.fire_leaf(leaf, entry[1])
        if hooks_then:
            _saved.flush()      # (what a recorded sweep saved is packed before the call returns)
        swept = True
    finally:
        end_backward()
        _asked.rows = prev_targets
        state.grad = prev
        state.full_backward = prev_full
        if hooks_stack or hooks_then:
            _saved.restore(hooks_then)
        try:
            if swept and deliver is not None:
                deliver(result)
        finally:
            _hooks.end_task(task, swept)
    if not retain_graph:
        for tape, seen in result.swept:
            free_rows(tape.fr, seen, tape.op, tape.a)
            if tape.hooks or tape.pyrows:
                _saved.release(tape, seen)
        retire()    # the graph is consumed: later ops go to another tape (a spare, once unreferenced)
    elif state.tape is not None:
        # A retained graph (a gradient penalty, create_graph) is usually used again: its tape
        # stays current, so what follows needs no imports and a later backward sweeps one
        # tape; it is retired once full instead of growing (``fresh``), and the next op checks
        # whether anything still refers to it (a loop that dropped it all resets it).
        cur = state.tape
        cur.soft = min(cur.soft, cur.n)
    return result


def _modified_input(tape: Tape, r: int, saved: int):
    """The node among those row ``r`` saved that was modified in place, if any."""
    return next(_modified_inputs(tape, r, saved), None)


def _modified_inputs(tape: Tape, r: int, saved: int):
    """The nodes among those row ``r`` saved that were modified in place."""
    ins = tape.inputs_of(r) + (-1, -1, -1)
    rg = [1 if x >= 0 and tape.rg[x] else 0 for x in ins[:3]]
    outs = tuple(range(r + 1, r + 1 + (int(tape.nout[r]) if saved & OUTS else 1))) if saved & (OUTS | OUT_FIRST) else ()
    for k, node in enumerate(ins[:3] + (r,) + outs):
        needed = k > 3 or (saved & OUT if k == 3 else node >= 0 and input_saved(saved, k, *rg))
        if needed and tape.fr[node] & MODIFIED and r < tape.fr[node] >> 2:
            yield node
    for node in ins[3:-3] if saved & X_REST else ():
        if tape.fr[node] & MODIFIED and r < tape.fr[node] >> 2:
            yield node


def _stopped(tape: Tape, ctl: np.ndarray) -> None:
    """Raise for a stop that no sweep resumes from: a freed or modified row, or a code that
    a kernel has no branch for (a bug in an op's definition, never a silent zero)."""
    kind, r = int(ctl[C_STATUS]), int(ctl[C_ROW])
    if kind == ST_FREED or kind == ST_MODIFIED:
        _raise_unusable(tape, r, kind == ST_MODIFIED)
    if kind == ST_UNKNOWN:
        raise RuntimeError(f"tape internal error: no compiled branch for op '{REGISTRY[int(tape.op[r])].name}' "
                           f"(code {int(tape.op[r])}) in its family's kernel")


def _type_string(dtype: D.dtype) -> str:
    # (PyTorch names a tensor by its legacy type, which bool tensors lack: their backend's type instead)
    return "CPUBoolType" if dtype is D.bool_ else f"torch.{D.legacy_name(dtype)}Tensor"


def _raise_unusable(tape: Tape, r: int, modified: int) -> None:
    if not modified:
        raise RuntimeError(FREED_MSG)
    node = _saved.first_unpacked(tape, r, list(dict.fromkeys(_modified_inputs(tape, r, int(SAVES[tape.op[r]])))))
    if tape.mods.get(node, (0, 0, 0))[2] == DETACHED:
        raise RuntimeError(DETACHED_MSG)
    while tape.hid[node]:
        node = int(tape.a[node])        # a cast or broadcast made inside the op: name its source
    dtype = D.ARENA_DTYPES[tape.dt[node]]
    code = tape.op[node]
    shape = tape.shape_of(node)
    if code == INPUT or code == CONST:
        src = (tape.src if code == INPUT else tape.csrc).get(node)
        t = src() if src is not None and type(src) is not tuple else None
        if t is not None:
            dtype, shape = t._dtype, t._shape
        elif type(src) is ConstRef:
            dtype = src.dtype       # (a temporary view of the tensor changed: ``x[i[:1]]``)
        now = t._vnum if t is not None else src.ver[0] if type(src) is ConstRef and src.ver is not None \
            else int(tape.ib[node]) + 1
        what = (f"[{_type_string(dtype)} {list(shape)}] is at version {now}; expected version "
                f"{int(tape.ib[node])} instead")
    else:
        # PyTorch names the tensor's node now (the row's own, for a saved output) and its versions.
        ref, counter, then = tape.mods.get(node, (None, None, 0))
        t = ref() if ref is not None else None
        if t is not None and t._rebased is not None:
            # (PyTorch reads a saved view's node before its version: one it gives no node now raises so)
            raise RuntimeError(t._rebased[0])
        output = code == OUTPUT and int(tape.a[node]) == r      # (a saved output of a row with several)
        if node != r and not output and _saved.view_saved_as_strided(t, tape, node):
            name = "AsStrided"
            t = None        # (the view's shape is its row's)
        else:
            if output:
                fn = node_view(tape, r)
            else:
                fn = t.grad_fn if t is not None and t._tape is not None and node != r else node_view(tape, node)
            name = T._node_word(fn.name())      # (PyTorch's: MulBackward0 is Mul, TBackward1 T1)
        if t is not None:
            shape = t._shape        # (an in-place view op changed it since)
        now = counter[0] if counter is not None else then + 1
        nr = int(tape.ia[node]) if output else 0
        what = (f"[{_type_string(dtype)} {list(shape)}], which is output {nr} of {name}, is at version "
                f"{now}; expected version {then} instead")
    raise RuntimeError("one of the variables needed for gradient computation has been modified by an inplace "
                       f"operation: {what}. Hint: {_anomaly.modified_hint()}")


def _mark_modified_leaves(tape: Tape) -> None:
    """Flag INPUT/CONST rows whose tensor was changed in place after it was recorded
    (every row recorded so far read the old value)."""
    if tape.checked == inplace_changes[0]:
        return          # nothing changed in place since the last look
    tape.checked = inplace_changes[0]
    for sources in (tape.src, tape.csrc):
        for node, src in sources.items():
            if type(src) is not tuple:
                t = src()
                if t is not None:
                    if t._vnum != tape.ib[node]:
                        tape.flag_modified(node, tape.n)
                elif type(src) is ConstRef and src.ver is not None and src.ver[0] != tape.ib[node]:
                    tape.flag_modified(node, tape.n)     # (changed through a view or alias of it)


def _new_seen(tape: Tape, result: _Result) -> np.ndarray:
    """Per-row sweep state, with rows that lead to no requested input marked unneeded."""
    seen = np.zeros(tape.n, np.uint8)
    if result.leaf_targets is None:
        return seen
    target = np.zeros(tape.n, np.uint8)
    key = id(tape)
    for k, node in result.targets:
        if k == key:
            target[node] = 1
            if tape.op[node] == OUTPUT:
                # An output of a row with several outputs: PyTorch's target is that row's one node,
                # so the paths to every output of the row count (and are run and freed).
                target[int(tape.a[node])] = 1
    # A node of an older tape may lead to a requested input there (a leaf, or a node of another
    # tape): keep its path.  When every input asked for is a node of this tape, it leads to none,
    # and the rows above it are not run (PyTorch runs no node that leads to no input asked for).
    elsewhere = bool(result.leaf_targets) or any(k != key for k, _ in result.targets)
    asked = []
    for node, src in tape.src.items():
        if type(src) is tuple and elsewhere:
            target[node] = 1
        elif type(src) is not tuple and _graph.leaf_row_wanted(result.leaf_targets, src(), tape, node):
            target[node] = 1
            asked.append(node)
    mark_unneeded(tape.R, tape.ix, tape.n, target, seen)
    # (an input asked for is reached, not passed: its hooks run when the sweep gets there, as
    # PyTorch runs a leaf's AccumulateGrad as soon as it is ready, before the nodes below it)
    seen[asked] &= ~np.uint8(2)
    if result.run_targets:
        for k, node in result.targets:
            if k == key:
                seen[node] &= ~np.uint8(2)
                if tape.op[node] == OUTPUT and getattr(tape.pyrows.get(int(tape.a[node])), "seg", None) is None:
                    # (its row's node runs too; not a checkpointed segment's row, which stands for all
                    # the segment's nodes, of which PyTorch runs the output's only)
                    seen[int(tape.a[node])] &= ~np.uint8(2)
    return seen


def _adjoint_buffers(tape: Tape) -> tuple:
    """The adjoint buffers of one backward, and whether the tape may keep them for the next.

    The sweep zeroes each adjoint when a gradient first reaches it, so the buffers need not
    be zeroed.  Small ones are new for each backward, because their gradients are handed out
    as views of them; big ones (gradients copied out) are kept by the tape and reused: new
    pages cost a page fault each on first touch, which for arrays of a million elements
    costs more than the sweep.
    """
    t64, t32 = tape.t64, tape.t32
    if t64 + t32 <= SHARED_ADJOINTS:
        return np.empty(t64, np.float64), np.empty(t32, np.float32), False
    try:
        kept = tape.adjoints.pop()      # (atomic: a backward of this tape in another thread meanwhile makes its own)
    except IndexError:
        kept = None
    if kept is None or kept[0].shape[0] < t64 or kept[1].shape[0] < t32:
        # As big as the arenas, which the tape fills before it grows them (pages never
        # touched cost nothing).
        kept = np.empty(tape.v64.shape[0], np.float64), np.empty(tape.v32.shape[0], np.float32)
    return kept[0], kept[1], True


def _numeric_sweep(tape: Tape, seeds, pending: dict, result: _Result, want_retained: bool) -> None:
    _mark_modified_leaves(tape)
    if _saved.mutation_spans:
        _saved.check_mutation_spans(tape, [node for node, _ in seeds])
    n = tape.n
    g64, g32, keep = _adjoint_buffers(tape)
    grads = (g64, g32)
    seen = _new_seen(tape, result)
    for node, g in seeds:
        first = not seen[node] & 1          # (the buffer holds no zeros: see _adjoint_buffers)
        if g.ndim == 0:
            if first:
                grads[tape.dt[node]][tape.off[node]] = g
            else:
                grads[tape.dt[node]][tape.off[node]] += g
        elif first:
            _arena_view(tape, grads, node)[...] = g
        else:
            _arena_view(tape, grads, node)[...] += g
        seen[node] |= 1
    values = (tape.v64, tape.v32)
    ctl = np.zeros(C_SIZE, np.int64)
    ctl[C_START] = n - 1
    cv = memoryview(ctl)        # (item reads and writes at a fifth of numpy's: a sweep stops at every custom Function)
    anomaly = _anomaly._mode[0]
    # (anomaly mode: the compiled sweep checks each row's gradients for nan, ``C_NAN``; a row that
    # Python ran is checked when the sweep next stops)
    ctl[C_NAN] = anomaly and _anomaly._mode[1]
    R, hooked = _hooks.hook_rows(tape, lambda: _alone(tape, pending, result), several=True)
    if tape.pend is not None and (hooked or anomaly):
        tape.fill()         # (hooks and anomaly checks read rows' values beyond ``_python_row``)
    # Big leaves' adjoints that only Python rows write get arrays of their own, handed out as the
    # gradients, where the kept buffers' would be copied out (not where hooks or anomaly checks
    # read adjoints in the buffer)
    own = Owned(tape, result) if keep and not hooked and not anomaly else None
    leaf_rows = [q for q, entry in hooked.items() if len(entry) > 2]
    # (a gather's adjoint handed on sparse, ``_sparse_row``: not where hooks or anomaly checks read it)
    python_from = PYTHON_FROM if hooked or anomaly else SPARSE_FROM
    last = -1
    returned = None     # (anomaly mode: the gradients a Python-run row returned, checked as they were given)
    while True:
        sweep_rows(R, tape.F, tape.stab, tape.ix, SAVES, python_from, tape.v64, g64, tape.v32, g32, seen, ctl,
                   ADJOINTS.addresses)
        if last >= 0 and seen[last] & 4:
            _check_nan(tape, last, returned if returned is not None else
                       [_arena_view(tape, grads, x) if x >= 0 and seen[x] & 1 else None
                        for x in _grad_inputs(tape, last)])
            last = -1
            returned = None
        status = cv[C_STATUS]
        if status == ST_DONE:
            break
        r = cv[C_ROW]
        if status == ST_NAN:
            _check_nan(tape, r, [_arena_view(tape, grads, x) if x >= 0 and seen[x] & 1 else None
                                 for x in _grad_inputs(tape, r)], _arena_view(tape, grads, r))
            ctl[C_START] = r - 1
            continue
        if status != ST_PYTHON:
            if status == ST_COMPILE:     # a family kernel compiled on first use (``_lazy``)
                compile_for(R, tape.F, tape.stab, tape.ix, tape.v64, g64, tape.v32, g32, ctl)
                ctl[C_START] = ctl[C_ROW]
                continue
            if anomaly:
                _warn_at(tape, r)
            _stopped(tape, ctl)
        if leaf_rows:
            for q in _leaves_ready(tape, R, hooked, leaf_rows, r, seen, grads):
                hooks = _hooks.unhook(tape, R, hooked, q, result.fired)
                _hooks.fire_numeric(tape, q, hooks, _arena_view(tape, grads, q))
                _hooks.deliver(tape, q, _arena_view(tape, grads, q).copy(), result)
        if anomaly:
            last = r
            returned = None
        if r in hooked:
            # The row's gradient is complete: its hooks run, then the row itself.
            for q in _ready(tape, R, hooked, r, seen):
                if len(hooked[q]) > 2 and not _last_import(tape, R, hooked[q][2], q, seen, grads):
                    R[R_OP, q] = INPUT
                    del hooked[q]
                    continue
                hooks = _hooks.unhook(tape, R, hooked, q, result.fired)
                if not seen[q] & 1:     # (an output of the node that got no gradient)
                    _hooks.fire_none(hooks)
                    continue
                if _captured_raw(tape, q, hooks, result, seen):
                    result.raw[(id(tape), q)] = _arena_view(tape, grads, q).copy()
                _hooks.fire_numeric(tape, q, hooks, _arena_view(tape, grads, q))
                _hooks.deliver(tape, q, _arena_view(tape, grads, q).copy(), result)
            _hooks.fire_undefined(tape, r, seen, hooked)
            if _hooks.node_hooked(tape, r):
                as_node(tape, r, _node_numeric, tape, r, values, grads, seen)  # the row runs here, with its hooks
                ctl[C_START] = r - 1
            else:
                ctl[C_START] = r
            continue
        code = tape.w_op[r]
        if code in GATHERS:
            ctl[C_START] = _sparse_row(tape, r, values, grads, seen, result, own) - 1
            continue
        if code < PYTHON_START and not anomaly:
            ctl[C_START] = big_rows(tape, R, r, values, grads, seen, result, own) - 1
            continue
        if code < PYTHON_START:
            returned = _blamed(anomaly, tape, r, _big_row, tape, r, values, grads, seen)
        elif REGISTRY[code].py_adjoint is None:
            # (``_python_vjp`` called directly outside anomaly mode: a sweep stops here at every
            # custom Function's row)
            returned = _blamed(anomaly, tape, r, _python_vjp, tape, r, values, grads, seen, own) if anomaly else \
                as_node(tape, r, _vjp_row, tape, r, grads, seen, own)
        else:
            returned = _blamed(anomaly, tape, r, _python_row, tape, r, values, grads, seen, own)
        cv[C_START] = r - 1
    if tape.hooks:
        _hooks.fire_undefined_only(tape, seen, UNDEFINED)
    for r, hooks in _hooked_targets(tape, R, hooked, seen, result):
        _hooks.fire_numeric(tape, r, hooks, _arena_view(tape, grads, r))
    # The adjoint buffers are this backward's own: gradients are handed out as views of them,
    # unless the buffers are big (a view would keep the whole of them alive, and the tape
    # reuses them) and the tape does not lend them (``Tape.lends_adjoints``).
    share = not keep or tape.lends_adjoints
    marks = seen.tobytes()
    shapes = tape.shapes
    R = tape.R
    # (the rows' columns from one ``tolist`` of them all when they are few per source: a row's own
    # ``tolist`` costs what about eight rows' columns cost)
    cols = R[1:5, :n].tolist() if n <= 8 * len(tape.src) else None
    direct = result.direct
    for node, src in tape.src.items():
        if node >= n or not marks[node] & 1:
            continue        # (a leaf imported by a reentrant backward run meanwhile is none of this sweep's)
        dt, o, size, shp = R[1:5, node].tolist() if cols is None else \
            (cols[0][node], cols[1][node], cols[2][node], cols[3][node])
        g = own.get(node) if own else None
        if g is not None:
            g = g.reshape(shapes[shp])
        else:
            g = grads[dt][o:o + size].reshape(shapes[shp])
            if not share:
                # (a leaf imported by an earlier forward whose graph was dropped, say: this graph's rows
                # follow its INPUT row, so ``owned`` cannot tell that none of them adds to it)
                g = copied(g)
        if type(src) is tuple:
            pending.setdefault(src[0], []).append((src[1], g))
        else:
            leaf = src()
            if leaf is None:
                continue
            if direct and leaf._grad is None and leaf._rg:
                with leaf_lock:
                    if leaf._grad is None:
                        dtype = leaf._gdt or leaf._dtype
                        # (``leaf_grad``'s common case inline: the adjoint has the leaf's dtype and shape)
                        leaf._grad = T._plain(g, dtype) if g.dtype is dtype.np and g.shape == leaf._shape \
                            and g.shape and leaf._v.flags.c_contiguous else leaf_grad(g, leaf)     # (a later part, from another tape, is added)
                        continue
            entry = result.leaves.get(id(leaf))
            if entry is None:
                result.leaves[id(leaf)] = [leaf, g]
            else:
                entry[1] = entry[1] + g
    # (a node can be both asked for and retaining its grad: each gets its own copy)
    _collect(tape, seen, result, want_retained, lambda node: _arena_view(tape, grads, node).copy())
    if keep and not tape.adjoints:
        tape.adjoints.append(grads)


_new_tensor = object.__new__

# Held while a leaf's ``.grad`` is set or added to (PyTorch's AccumulateGrad takes a mutex): backwards
# running on several threads into one leaf would otherwise lose parts, ``.grad`` set twice from
# ``None`` or numpy's in-place add (which lets go of the GIL on large arrays) interleaved.  Reentrant:
# an accumulation that records (create_graph) may run Python that accumulates.
leaf_lock = threading.RLock()


def plain_backward(out, one: np.ndarray, on_leaf, tasked: bool = False) -> bool:
    """``out.backward()`` of a recorded 0-d output seeded with ``one``, when nothing but the sweep
    and custom Functions' ``backward`` can run during it: one tape (no node of an older one), small
    (its adjoints handed out as views), no hooks, retained grads, saved-tensor hooks or anomaly
    mode.  Then the driver's bookkeeping (pending tapes and collected result) has nothing to do,
    and this does the rest of it: the sweep, each leaf's gradient (``on_leaf(leaf, g)``, called
    with ``leaf_lock`` held, for a leaf whose ``.grad`` is set already), the rows freed, the tape
    retired (with custom Functions' rows, inside ``run``'s task: ``_function_backward``; ``tasked``:
    called from there).  False (nothing done) when any of that does not hold: ``run`` then takes
    the backward."""
    tape = out._tape
    if tape.pyrows and not tasked:
        return _function_backward(out, one, on_leaf)
    if tape.hooks or tape.retained or _anomaly._mode[0] or state.pinned \
            or tape.t64 + tape.t32 > SHARED_ADJOINTS or _saved.mutation_spans and _saved.in_mutation_span(tape) \
            or _saved.local.pending is not None \
            or _saved.local.stack:
        return False
    src = tape.src
    if _hooks._leaf_hooks[0]:
        # (some leaf had hooks once: this tape's own leaves are the ones a backward of it could run)
        for s in src.values():
            if type(s) is tuple:
                return False
            leaf = s()
            if leaf is not None and (leaf.__dict__.get("_hooks") or leaf.__dict__.get("_post_hooks")):
                return False
    else:
        for s in src.values():
            if type(s) is tuple:
                return False
    _mark_modified_leaves(tape)
    n = tape.n
    # (no zeros: the sweep writes an adjoint first reached; a tape of one dtype has no values in the other
    # arena, whose buffer, empty, is shared)
    g64 = np.empty(tape.t64, np.float64) if tape.t64 else _NO_GRADS64
    g32 = np.empty(tape.t32, np.float32) if tape.t32 else _NO_GRADS32
    grads = (g64, g32)
    values = (tape.v64, tape.v32)
    R = tape.R
    node = out._node
    dt, o = R[1:3, node].tolist()       # (not ``w_int``: a spent tape's writers view the rows it handed on)
    grads[dt][o] = one
    seen = np.zeros(n, np.uint8)
    seen[node] = 1
    ctl = np.zeros(C_SIZE, np.int64)
    ctl[C_START] = n - 1
    prev = None
    try:
        while True:
            sweep_rows(R, tape.F, tape.stab, tape.ix, SAVES, PYTHON_FROM, tape.v64, g64, tape.v32, g32, seen, ctl,
                       ADJOINTS.addresses)
            status = ctl.item(C_STATUS)     # (``item``: a Python int, no array scalar to compare)
            if status == ST_DONE:
                break
            if prev is None:
                # (grad mode goes off once the sweep stops for Python, whose rows record nothing; a
                # sweep that never stops, the common one, leaves it as it is; through the
                # thread-local's own setter, as ``__setattr__`` costs a Python call)
                prev = state.grad
                _set(state, "grad", False)
                _set(state, "rec", None)
                seen_w = memoryview(seen)       # (item reads and writes of ``seen`` from Python)
            r = ctl.item(C_ROW)
            code = R.item(R_OP, r)
            if status == ST_PYTHON and code == function_row[0]:
                function_row[1](tape, r, grads, seen_w)     # (a custom Function's row: the common stop)
                ctl[C_START] = r - 1
                continue
            if status == ST_COMPILE:
                compile_for(R, tape.F, tape.stab, tape.ix, tape.v64, g64, tape.v32, g32, ctl)
                ctl[C_START] = r
                continue
            if status != ST_PYTHON:
                _stopped(tape, ctl)
            if code < PYTHON_START:
                ctl[C_START] = big_rows(tape, R, r, values, grads, seen, _Result(None, None)) - 1
                continue
            if REGISTRY[code].py_adjoint is None:
                _python_vjp(tape, r, values, grads, seen)
            else:
                _python_row(tape, r, values, grads, seen)
            ctl[C_START] = r - 1
    finally:
        if prev is not None:
            _set(state, "grad", prev)
            _set(state, "rec", state.tape if prev else None)
    values = None       # (a reference to the arenas left would keep ``retire`` from handing them on)
    marks = seen.tobytes()
    shapes = tape.shapes
    inference = T._inference_on and state.inference
    Tensor = T.Tensor
    cols = R[1:5, :n].tolist() if n <= 8 * len(src) else None
    with leaf_lock:     # (held for ``on_leaf`` too)
        for node, ref in src.items():
            if node >= n or not marks[node] & 1:
                continue
            dt, o, size, shp = R[1:5, node].tolist() if cols is None else \
                (cols[0][node], cols[1][node], cols[2][node], cols[3][node])
            # (the view made by numpy's constructor: a fifth less than a slice reshaped; its dtype and
            # shape are those given, read from there rather than from the view)
            shape = shapes[shp]
            gdt = _ARENA_NP[dt]
            g = _ndarray(shape, gdt, grads[dt], o * _ITEMSIZE[dt])
            leaf = ref()
            if leaf is None or not leaf._rg:
                continue
            if leaf._grad is None:
                dtype = leaf._gdt or leaf._dtype
                # (a leaf laid out otherwise than row-major takes its strides: ``leaf_grad``)
                if gdt is not dtype.np or shape != leaf._shape or not shape or \
                        len(shape) > 1 and not leaf._v.flags.c_contiguous:
                    leaf._grad = leaf_grad(g, leaf)
                elif inference:
                    leaf._grad = T._plain(g, dtype)
                else:
                    t = _new_tensor(Tensor)     # (``_tensor._plain``, inlined)
                    t._v = g
                    t._dtype = dtype
                    t._shape = shape
                    leaf._grad = t
            else:
                on_leaf(leaf, g)
    # (whether every row is now freed or a source: ``retire`` need not look again)
    retire(tape, free_rows(tape.fr, seen, tape.op, tape.a))
    return True


# A custom Function's row in ``plain_backward``'s sweep: its code and what runs it (set by
# ``tape.autograd.function``, which imports this module).
function_row = (-1, None)


def _function_backward(out, one: np.ndarray, on_leaf) -> bool:
    """``plain_backward`` of a tape with custom Functions' rows, in a task of its own as ``run``'s
    (their ``backward`` may ask for it or queue callbacks to its end), with numpy's warnings kept
    silent in the Python they run, as ``run``'s caller does.  A backward inside another one takes
    ``run``, which moves on to a fresh stack when deep.  (Outside any backward ``full_backward``
    is True already: ``run`` sets it only for its own.)"""
    if _hooks.current_task() != -1:
        return False
    T.quiet_numpy_warnings()
    task = _hooks.begin_task(True, ([out], None, False), False)     # (the short path frees the graph)
    done = False
    try:
        done = plain_backward(out, one, on_leaf, True)
    finally:
        _hooks.end_task(task, done)
    if done:
        for ctx in out._tape.pyrows.values():
            if "_packed" in ctx.__dict__:       # (saved-tensor hooks packed for the call)
                _saved.release(out._tape)
                break
    return done


_NO_PEND: dict = {}
_NO_GRADS64 = np.empty(0, np.float64)
_NO_GRADS32 = np.empty(0, np.float32)


class _Sparse:
    """A gather's adjoint handed on as it is (``Op.sparse_from``): ``values`` at the flat
    ``positions`` of ``out``, an adjoint no gradient reached yet (it holds no zeros)."""

    __slots__ = ("positions", "values", "out")

    def __init__(self, positions: np.ndarray, values: np.ndarray, out: np.ndarray) -> None:
        self.positions = positions
        self.values = values
        self.out = out

    def dense(self) -> np.ndarray:
        """The whole adjoint, written in ``out`` (as the gather's kernel adds, in order)."""
        self.out[...] = 0
        np.add.at(self.out.reshape(-1), self.positions, self.values)
        return self.out


def _sparse_row(tape: Tape, r: int, values, grads, seen, result: _Result, own) -> int:
    """Run the gather row ``r`` and its input's row, which takes the gather's adjoint sparse
    (``_sweep._sparse_into``); return the input's row."""
    _, dt, o, n = tape.R[:4, r].tolist()
    x = int(tape.a[r])
    lo = int(tape.ia[r])
    sparse = _Sparse(tape.ix[lo:lo + n], grads[dt][o:o + n], _arena_view(tape, grads, x))
    seen[r] |= 4
    seen[x] |= 1
    # (an adjoint read after the sweep, asked for or retained, is written whole)
    kept = x in tape.retained or (result.targets is not None and (id(tape), x) in result.targets)
    _python_row(tape, x, values, grads, seen, own, sparse.dense() if kept else sparse)
    return x


def _python_row(tape: Tape, r: int, values, grads, seen, own=None, gy=None) -> None:
    """Run a PYTHON-range row through its op's ``py_adjoint``; ``own``: the sweep's ``Owned`` leaf
    adjoints (None: all in the buffer); ``gy``: the row's adjoint where it is not the buffer's
    (``_sparse_row``)."""
    R = tape.R
    if R.item(R_LN, r):
        return _python_listed_row(tape, r, values, grads, seen, own)
    # (Basic slices and tolist: fancy indexing costs ten times as much on a few elements.)
    code, dr, o, n, sr, x, y = R[:7, r].tolist()
    dx, ox, nx, sx = R[1:5, x].tolist()
    dy, oy, ny, sy = R[1:5, y].tolist()    # (y = -1 reads a spare column, unused)
    shapes = tape.shapes
    rg = tape.rg
    ga = grads[dx][ox:ox + nx].reshape(shapes[sx]) if rg[x] else None
    pend = tape.pend or _NO_PEND      # (leaves the row refers to: ``Tape.refer``)
    va = pend.get(x)
    if va is None:
        va = values[dx][ox:ox + nx].reshape(shapes[sx])
    if y >= 0:
        vb = pend.get(y)
        if vb is None:
            vb = values[dy][oy:oy + ny].reshape(shapes[sy])
        gb = grads[dy][oy:oy + ny].reshape(shapes[sy]) if rg[y] else None
    else:
        vb = gb = None
    # An adjoint no row has reached yet holds no zeros: the rule writes it instead of adding.
    fresh = (0 if seen[x] & 1 else 1) | (0 if y < 0 or seen[y] & 1 or y == x else 2)
    if own is not None:
        if fresh & 1 and ga is not None and owned(tape, seen, x, r, own, y if gb is not None else -1):
            ga = own[x].reshape(shapes[sx])
        if fresh & 2 and gb is not None and owned(tape, seen, y, r, own, x if ga is not None else -1):
            gb = own[y].reshape(shapes[sy])
    arrived = []
    for out in range(r + 1, r + 1 + int(tape.nout[r])):
        arrived.append(bool(seen[out] & 1))
        if not arrived[-1]:       # an output no gradient reached: its part of the row's adjoint
            _arena_view(tape, grads, out)[...] = 0
    if gy is None:
        gy = grads[dr][o:o + n].reshape(shapes[sr])
    wrote = REGISTRY[code].py_adjoint(Row(tape, r, tuple(arrived)), va, vb, gy, ga, gb, fresh)
    # (``wrote``: the adjoints the rule gave a gradient, bits 1/2; an input the rule passed None
    # stays unreached, as PyTorch's undefined gradient: a leaf's .grad stays None)
    wrote = 3 if wrote is None else wrote
    seen[r] |= 4
    if ga is not None and wrote & 1:
        seen[x] |= 1
    if gb is not None and wrote & 2:
        seen[y] |= 1
    if own:
        for node in (x, y):
            if node in own and not seen[node] & 1:
                del own[node]       # (unreached: a later row's gradient goes to the buffer)
    if wrote != 3 and tape.pyrows:
        pass_undefined(tape, r, seen)


def _python_listed_row(tape: Tape, r: int, values, grads, seen, own=None) -> list | None:
    """``_python_row`` of a row with listed inputs: its op's ``py_adjoint(row, values, gy, grads,
    fresh)`` on numpy views (one per input, a grad None when not needed; bit k of ``fresh``: no
    gradient reached input k yet).  A row whose inputs repeat or whose leaf adjoints the sweep owns
    takes the rule on plain tensors instead (``_python_vjp``), and so does anomaly mode (which checks
    each gradient as the rule gives it)."""
    R = tape.R
    lo, ln = R.item(R_LO, r), R.item(R_LN, r)
    ins = tape.ix[lo:lo + ln].tolist()
    if own is not None or len(set(ins)) < ln or _anomaly._mode[0]:
        return _python_vjp(tape, r, values, grads, seen, own)
    code, dr, o, n, sr = R[:5, r].tolist()
    shapes = tape.shapes
    rg = tape.rg
    pend = tape.pend or _NO_PEND
    vs, gs = [], []
    fresh = 0
    for k, x in enumerate(ins):
        dx, ox, nx, sx = R[1:5, x].tolist()
        v = pend.get(x)
        vs.append(values[dx][ox:ox + nx].reshape(shapes[sx]) if v is None else v)
        if rg[x]:
            gs.append(grads[dx][ox:ox + nx].reshape(shapes[sx]))
            if not seen[x] & 1:
                fresh |= 1 << k
        else:
            gs.append(None)
    wrote = REGISTRY[code].py_adjoint(Row(tape, r), tuple(vs), grads[dr][o:o + n].reshape(shapes[sr]), tuple(gs),
                                      fresh)
    full = (1 << ln) - 1
    wrote = full if wrote is None else wrote
    seen[r] |= 4
    for k, x in enumerate(ins):
        if gs[k] is not None and wrote >> k & 1:
            seen[x] |= 1
    if wrote != full and tape.pyrows:
        pass_undefined(tape, r, seen)
    return None


def _hooked_targets(tape: Tape, R, hooked: dict, seen, result: _Result) -> list:
    """Hooked rows asked for (``autograd.grad`` of a non-leaf) that the sweep reached but did not
    run: their hooks run before the gradient is captured, as PyTorch's do."""
    rows = []
    if result.targets:
        key = id(tape)
        for r in list(hooked):
            if seen[r] & 1 and (key, r) in result.targets:
                hooks = _hooks.unhook(tape, R, hooked, r, result.fired)
                if hooks:
                    rows.append((r, hooks))
            elif tape.op[r] == OUTPUT and (key, r) in result.targets and _node_reached(tape, r, seen):
                # (an output that got no gradient of a node that got some: PyTorch captures it, an
                # undefined gradient, through its hooks)
                hooks = _hooks.unhook(tape, R, hooked, r, result.fired)
                if hooks:
                    _hooks.fire_none(hooks)
    return rows


def _captured_raw(tape: Tape, r: int, hooks, result: _Result, seen) -> bool:
    """Whether ``autograd.grad`` captures row ``r``'s gradient before its tensor hooks run: an input
    asked for whose node runs too (it leads to another), as PyTorch's engine captures the node's
    input buffer then and runs the hooks with the node."""
    return bool(hooks) and result.on_leaf is None and bool(result.targets) and tape.op[r] != INPUT \
        and not seen[int(tape.a[r]) if tape.op[r] == OUTPUT else r] & 2 and (id(tape), r) in result.targets


def _node_reached(tape: Tape, r: int, seen) -> bool:
    """Whether some output of the row whose output ``r`` is got a gradient."""
    lead = int(tape.a[r])
    q = lead + 1
    while q < tape.n and tape.op[q] == OUTPUT and tape.a[q] == lead:
        if seen[q] & 1:
            return True
        q += 1
    return False


def _ready(tape: Tape, R, hooked: dict, r: int, seen) -> list:
    """The hooked rows whose hooks run now that the sweep stopped at ``r``: ``r`` itself, or, for
    a leaf's INPUT row, the reached leaves of the run of INPUT/CONST rows it ends, first imported
    first (their gradients are complete together, and PyTorch runs them in input order)."""
    if hooked[r][0] == OUTPUT:
        return _hooks.sibling_rows(tape, hooked, r)
    if hooked[r][0] != INPUT:
        return [r]
    # (the run goes on over the hidden casts a mixed-dtype op reads its leaves through: a leaf below
    # one gets its gradient once the cast ran, and the leaves above it wait for it, in import order)
    lo = r
    while lo > 0 and (R[R_OP, lo - 1] in (INPUT, CONST, _hooks.HOOKED) and hooked.get(lo - 1, (INPUT,))[0] == INPUT
                      or _hidden_cast(tape, R, lo - 1)):
        lo -= 1
    hi = r
    while hi + 1 < tape.n and R[R_OP, hi + 1] in (INPUT, CONST) and hooked.get(hi + 1, (INPUT,))[0] == INPUT \
            or hi + 1 < tape.n and _hidden_cast(tape, R, hi + 1):
        hi += 1
    pending = any(_hidden_cast(tape, R, h) and seen[h] & 1 and not seen[h] & 4 for h in range(lo, r))
    if pending and any(q in hooked and hooked[q][0] == INPUT and q < r for q in range(lo, r)):
        R[R_OP, r] = INPUT      # (its hooks run with the leaf below, when that one's gradient is complete)
        return []
    return [q for q in range(lo, hi + 1) if q in hooked and seen[q] & 3 == 1 and hooked[q][0] == INPUT]


def _hidden_cast(tape: Tape, R, h: int) -> bool:
    """Whether row ``h`` is a hidden row reading an INPUT row (a leaf cast for a mixed-dtype op)."""
    return bool(tape.hid[h]) and R[R_OP, h] != _hooks.HOOKED and int(tape.a[h]) >= 0 \
        and tape.op[int(tape.a[h])] == INPUT


def _leaves_ready(tape: Tape, R, hooked: dict, leaf_rows: list, r: int, seen, grads) -> list:
    """The hooked leaves' INPUT rows below the row ``r`` the sweep stopped at whose gradient is
    complete: their hooks run before the row, as PyTorch runs an AccumulateGrad as soon as it is
    ready (a leaf imported before rows that run later would otherwise wait for the sweep)."""
    return [q for q in leaf_rows if q < r and q in hooked and seen[q] & 3 == 1 and not _led_to(tape, R, q, r, seen)
            and _last_import(tape, R, hooked[q][2], q, seen, grads)]


def _led_to(tape: Tape, R, q: int, r: int, seen) -> bool:
    """Whether a row the sweep has still to run, ``r`` or below, leads to row ``q``."""
    target = np.zeros(r + 1, np.uint8)
    target[q] = 1
    marks = np.zeros(r + 1, np.uint8)
    mark_unneeded(R, tape.ix, r + 1, target, marks)
    return bool(((seen[q + 1:r + 1] & 3 == 1) & (marks[q + 1:] & 2 == 0)).any())


def _last_import(tape: Tape, R, rows: tuple, q: int, seen, grads) -> bool:
    """A hooked leaf's INPUT row ``q`` that the sweep reached, ``rows`` all of the leaf's: whether
    none below ``q`` will get a gradient from this sweep (PyTorch's one AccumulateGrad is ready).
    If so, the gradients the rows above got are added into ``q``'s, which the hooks then see whole."""
    lower = [p for p in rows if p < q]
    if lower:
        if any(seen[p] & 1 for p in lower):
            return False
        target = np.zeros(q, np.uint8)
        target[lower] = 1
        marks = np.zeros(q, np.uint8)
        mark_unneeded(R, tape.ix, q, target, marks)
        if ((seen[:q] & 3 == 1) & (marks & 2 == 0)).any():
            return False            # (a row still to run leads to one of them)
    for p in rows:
        if p > q and seen[p] & 1 and R[R_DT, p] == R[R_DT, q] and tape.shapes[R[R_SHP, p]] == tape.shapes[R[R_SHP, q]]:
            _arena_view(tape, grads, q)[...] += _arena_view(tape, grads, p)
            seen[p] &= ~np.uint8(1)
    return True


def _alone(tape: Tape, pending: dict, result: _Result) -> bool:
    """Whether this backward sweeps ``tape`` only (no tape before or after it delivers gradients)."""
    return not pending and not result.leaves and not any(type(s) is tuple for s in tape.src.values())


def _grad_inputs(tape: Tape, r: int) -> list:
    """The inputs of row ``r`` whose gradients its node returns (as PyTorch numbers its outputs)."""
    op = REGISTRY.get(int(tape.op[r]))
    nondiff = op.nondiff if op is not None else ()
    return [x if tape.rg[x] else -1 for k, x in enumerate(tape.inputs_of(r)) if k not in nondiff]


def _check_nan(tape: Tape, r: int, grads: list, adjoint: np.ndarray | None = None) -> None:
    """Anomaly mode, after row ``r`` ran: PyTorch's error if a gradient it gave has a nan
    (``adjoint``: the row's own, given where ``grads`` are the adjoints of its inputs, which it
    added to)."""
    if not _anomaly._mode[1]:
        return
    k = _anomaly.nan_input(grads)
    if k >= 0 and adjoint is not None:
        ins = _grad_inputs(tape, r)
        op = REGISTRY.get(int(tape.op[r]))
        if ins.count(ins[k]) > 1 and op is not None and not op.multi:
            # (one tensor at several inputs: their gradients were added into one adjoint, which
            # cannot tell which the nan came from; the row's rule gives each apart)
            prev = state.grad
            state.grad = False
            try:
                outs = call_node(tape, r, (T._plain(np.array(adjoint), D.ARENA_DTYPES[int(tape.dt[r])]),))
            finally:
                state.grad = prev
            outs = outs if isinstance(outs, tuple) else (outs,)
            k = _anomaly.nan_input([None if g is None else g._value() for g in outs])
    if k >= 0:
        name = type(node_view(tape, r)).__name__
        _anomaly.warn_at(tape, r, name)
        raise RuntimeError(f"Function '{name}' returned nan values in its {k}th output.")


def _warn_at(tape: Tape, r: int) -> None:
    """Anomaly mode: PyTorch's warning, naming row ``r``'s node, before an error at that row."""
    _anomaly.warn_at(tape, r, type(node_view(tape, r)).__name__)


def _blamed(anomaly: bool, tape: Tape, r: int, run, *args):
    """``run(*args)`` (returning what it returns), the Python part of row ``r``; in anomaly mode an
    error there is preceded by PyTorch's warning with the forward call that recorded the row."""
    if not anomaly:
        return run(*args)
    try:
        with _anomaly.running(tape, r, type(node_view(tape, r)).__name__):
            return run(*args)
    except Exception:
        _warn_at(tape, r)
        raise


def as_node(tape: Tape, r: int, run, *args):
    """``run(*args)``, the Python part of row ``r``, with its node as the one the backward evaluates
    now (``torch._C._current_autograd_node()``)."""
    return _hooks.evaluated_as((tape, r), run, *args)


def _python_vjp(tape: Tape, r: int, values, grads, seen, own=None) -> list | None:
    """Run a PYTHON-range row without ``py_adjoint`` (listed inputs, several outputs: a custom
    Function, ``addmm``) through its op's ``vjp`` on plain tensors: copies of its outputs' adjoints
    (None where no gradient arrived; one adjoint, the row's, for a row with one output), the
    gradients it returns added into its inputs' adjoints.  An op whose ``vjp`` reads no input
    values (``Op.reads_inputs``: a custom Function's) gets none.  Its node is the one the backward
    evaluates meanwhile (a custom ``backward`` may ask for it).  ``own``: the sweep's ``Owned``
    leaf adjoints (None: all in the buffer)."""
    return as_node(tape, r, _vjp_row, tape, r, grads, seen, own)


def _vjp_row(tape: Tape, r: int, grads, seen, own=None) -> list | None:
    # (the rows' columns and marks read through memoryviews, ``Tape.w_int``: an item read costs a
    # fifth of numpy's, and a custom Function's row runs here on every call)
    w = tape.w_int
    marks = memoryview(seen)
    op = REGISTRY[w[R_OP][r]]
    listed = w[R_LN][r]
    row = Row(tape, r)
    if listed:
        first = w[R_LO][r]
        ins = tuple(tape.ix[first:first + listed].tolist())
    else:
        ins = tuple(x for x in (w[R_A][r], w[R_B][r]) if x >= 0)
    row._inputs = ins
    shapes = tape.shapes
    lo, hi = (r + 1, r + 1 + w[R_NOUT][r]) if op.multi else (r, r + 1)
    dts, offs, ns, shps = w[R_DT], w[R_OFF], w[R_NUM], w[R_SHP]
    gs = []
    for q in range(lo, hi):
        if marks[q] & 1:
            dt, off = dts[q], offs[q]
            gs.append(T._plain(grads[dt][off:off + ns[q]].reshape(shapes[shps[q]]).copy(), D.ARENA_DTYPES[dt]))
        else:
            gs.append(None)
    xs = tuple(handle(tape, x) for x in ins) if op.reads_inputs else ()
    # (a list, indexed below: ``_adopted`` counts the references to each gradient)
    outs = list(op.vjp(tuple(gs) if op.multi else gs[0], xs, None, row))
    marks[r] |= 4
    undefined = False
    rg = w[R_RG]
    # (the inputs not run yet that are not leaves: another input's row between a leaf and this row)
    waiting = [y for y in ins if not marks[y] & 2 and w[R_OP][y] != INPUT] if own is not None else ()
    for k in range(min(len(ins), len(outs))):
        x = ins[k]
        if outs[k] is None or not rg[x]:
            undefined = undefined or outs[k] is None
            continue
        dt, off, n, shp = dts[x], offs[x], ns[x], shps[x]
        if own and x in own:            # (an input listed twice, whose first gradient made it owned)
            own[x] += outs[k]._value().reshape(-1)
        elif marks[x] & 1:
            grads[dt][off:off + n].reshape(shapes[shp])[...] += outs[k]._value()
        else:
            marks[x] |= 1
            # (another input's row between this leaf and the row, left to run, might add to it: as ``owned``'s ``also``)
            mine = own is not None and not any(x < y < r for y in waiting)
            adopted = _adopted(outs, k, dt, n) if mine else None
            if mine and owned(tape, seen, x, r, own, array=adopted):
                if adopted is None:
                    own[x][...] = outs[k]._value().reshape(-1)
            else:
                grads[dt][off:off + n].reshape(shapes[shp])[...] = outs[k]._value()
    if undefined:
        pass_undefined(tape, r, seen)
    if not _anomaly._mode[0]:
        return None
    # (anomaly mode: each input's gradient as the node gave it, before any sum: an input listed
    # twice gets two, checked for nan in PyTorch's numbering)
    return [gx._value() if gx is not None and tape.rg[x] else None
            for k, (x, gx) in enumerate(zip(ins, outs)) if k not in op.nondiff]


def _adopted(outs: list, k: int, dt: int, n: int) -> np.ndarray | None:
    """The memory of gradient ``outs[k]`` as a leaf's adjoint of ``n`` elements in arena ``dt``
    (flat), when nothing else refers to the tensor or its memory (as PyTorch's AccumulateGrad
    steals a gradient no one else holds): a checkpointed segment's parameter gradients, made by
    its own backward, become ``.grad`` without a copy.  None: the gradient is copied."""
    g = outs[k]
    v = g._v
    # (references: the list's, ``g`` and getrefcount's argument; the array's: ``g._v``, ``v`` and the
    # argument; its base's: the view's, ``base`` and the argument; and the thread's pool's, for an
    # array a backward handed out, ``_blocks.leaf_adjoint``)
    if sys.getrefcount(g) > 3 or type(v) is not np.ndarray or sys.getrefcount(v) > 3 + pooled(v) or \
            v.dtype != _ARENA_NP[dt] or v.size != n or not v.flags.c_contiguous or not v.flags.writeable:
        return None
    base = v.base
    if base is not None:
        # (a view of the whole of an array that nothing else refers to: an ``Owned`` adjoint reshaped)
        if type(base) is not np.ndarray or base.base is not None or sys.getrefcount(base) > 3 + pooled(base) or \
                base.size != n or not base.flags.c_contiguous:
            return None
    return v.reshape(-1)


_ARENA_NP = tuple(d.np for d in D.ARENA_DTYPES)
_ITEMSIZE = tuple(np.dtype(d).itemsize for d in _ARENA_NP)
_ndarray = np.ndarray


UNDEFINED = 8       # a bit of ``seen``: an undefined gradient reached the row (``pass_undefined``)


def pass_undefined(tape: Tape, r: int, seen) -> None:
    """Row ``r`` ran and gave some of its inputs no gradient (PyTorch's undefined one): pass that on
    down the graph, as PyTorch's engine runs every node on the way, built-in ones giving undefined
    gradients in turn, so that the custom Functions below, which no gradient reaches otherwise, run
    (their ``backward`` gets zeros, or None with ``set_materialize_grads(False)``)."""
    pyrows = tape.pyrows
    if not pyrows:
        return
    rg = tape.rg
    op = tape.op
    stack = [x for x in tape.inputs_of(r) if rg[x] and not seen[x] & 3]
    done = set()
    while stack:
        x = stack.pop()
        if x in done:
            continue
        done.add(x)
        hooks = tape.hooks.get(x)
        if hooks is not None and hooks.tensor:
            seen[x] |= UNDEFINED       # (its hooks are called with None if no gradient comes: ``fire_undefined``)
        code = op[x]
        if code == OUTPUT:
            lead = int(tape.a[x])
            if lead in pyrows:
                if not seen[lead] & 2:
                    seen[lead] |= 1     # (its outputs that no gradient reached get None)
                continue
            x = lead
        elif code == INPUT or code == CONST:
            continue
        stack.extend(y for y in tape.inputs_of(x) if rg[y] and not seen[y] & 3)


def _big_row(tape: Tape, r: int, values, grads, seen) -> None:
    """Run a big elementwise row that the sweep left to Python (``_sweep.PYTHON_FROM``) on its own
    (in anomaly mode, which checks each row's gradients; otherwise ``_blocks.big_rows`` runs it
    with the rows of its run): with numpy (``Op.numpy_rows``) or with the family's kernel, in parts
    on all cores (``_parallel``).  An adjoint no gradient reached yet holds no zeros: each part
    writes it, or zeroes it before the kernel adds to it."""
    op = REGISTRY[int(tape.op[r])]
    rg = tape.rg
    # (input position, its node, first to reach its adjoint): the inputs the row writes a gradient to
    writes = []
    for k, x in enumerate(tape.inputs_of(r)):
        if rg[x] and k not in op.nondiff:
            writes.append((k, x, not seen[x] & 1))
            seen[x] |= 1
    seen[r] |= 4
    if op.code == SUM or op.code == MEAN:      # (a loss over a big row: ``_sweep._sum_over_big``)
        n = run_size(tape, r)
        spread_call(tape, r, grads, writes, {}, {}, n)(0, n, None)
        return
    part = _rule_part if op.numpy_rows else _kernel_part
    _parallel.run(lambda lo, hi: part(tape, r, values, grads, writes, lo, hi), int(tape.num[r]))


# The rule runs on blocks of this many elements, so that the arrays its tensor ops make are
# reused from block to block and stay in cache (measured, CPU time of the rules over 1e6 float32
# elements in one block and in blocks of 2^16: sin 2.0 and 1.8 ms, atan 1.9 and 1.3, erf 2.3 and 1.8).
RULE_BLOCK = 1 << 16


def _rule_part(tape: Tape, r: int, values, grads, writes, lo: int, hi: int) -> None:
    """Elements ``lo:hi`` of a row's input adjoints from its op's ``vjp`` rule, by blocks."""
    for start in range(lo, hi, RULE_BLOCK):
        _rule_block(tape, r, values, grads, writes, start, min(start + RULE_BLOCK, hi))


def _rule_block(tape: Tape, r: int, values, grads, writes, lo: int, hi: int) -> None:
    """Elements ``lo:hi`` of a row's input adjoints from its op's ``vjp`` rule, run on plain
    tensors that are (flat) views of the arenas, so each tensor op is one of numpy's SIMD ufuncs."""
    R = tape.R

    def part(arenas, node):
        dt, o = R[1:3, node].tolist()
        return arenas[dt][o + lo:o + hi]

    def plain(arenas, node):
        return T._plain(part(arenas, node), D.ARENA_DTYPES[R[R_DT, node]])

    ins = tape.inputs_of(r)
    outs = REGISTRY[int(R[R_OP, r])].vjp(plain(grads, r), tuple(plain(values, x) for x in ins), plain(values, r),
                                         Row(tape, r))
    for k, x, first in writes:
        gx = part(grads, x)
        d = outs[k]
        if d is None:
            if first:
                gx[:] = 0
        elif first:
            gx[:] = d._value()
        else:
            np.add(gx, d._value(), out=gx)


# A first-reached adjoint is zeroed and added to by blocks of this many elements, so that the
# zeros are still in cache when the kernel adds to them (measured: a product's adjoints over 1e6
# float32 elements 0.95 ms zeroed whole, 0.72 ms by blocks of 2^16, 0.67 ms the kernel alone).
ZERO_BLOCK = 1 << 16


def _kernel_part(tape: Tape, r: int, values, grads, writes, lo: int, hi: int) -> None:
    """Elements ``lo:hi`` of a row's input adjoints from its family's numba kernel."""
    R = tape.R
    code, dr, o, _, _, x, y = R[:7, r].tolist()
    zeroed = []
    for _, node, first in writes:
        if first:
            dx, ox = R[1:3, node].tolist()
            zeroed.append(grads[dx][ox:])
    step = ZERO_BLOCK if zeroed else max(1, hi - lo)
    ox, oy = int(tape.off[x]), int(tape.off[y])
    for start in range(lo, hi, step):
        end = min(start + step, hi)
        for g in zeroed:
            g[start:end] = -0.0     # (as the sweep starts an elementwise row's inputs: -0.0 + g is g)
        m = end - start
        if code < UNARY.stop:
            unary_adjoint(code, m, float(tape.fa[r]), float(tape.fb[r]), int(tape.ia[r]), values[dr], grads[dr],
                          ox + start, o + start, values[1 - dr], grads[1 - dr])
        else:
            binary_adjoint(code, m, values[dr], grads[dr], ox + start, oy + start, o + start, m, m,
                           int(tape.rg[x]), int(tape.rg[y]))


def _collect(tape: Tape, seen, result: _Result, want_retained: bool, grad_of) -> None:
    """Gradients of requested non-leaf nodes and of tensors that retain grad."""
    if result.targets:
        key = id(tape)
        for k, node in result.targets:
            if k == key and seen[node] & 1:
                raw = result.raw.pop((k, node), None)
                result.nodes[(k, node)] = raw if raw is not None else grad_of(node)
    if want_retained and tape.retained:
        for node, ref in tape.retained.items():
            t = ref()
            # (as PyTorch: only where the tensor's own node runs; a gradient that reached a node
            # leading to no requested input is not a retained tensor's gradient)
            if t is None or node >= len(seen):
                continue        # (gone, or retained by a reentrant backward run meanwhile)
            if seen[node] & 1 and (not seen[node] & 2 or (id(tape), node) in (result.targets or ())):
                result.retained.append((t, grad_of(node)))
    result.swept.append((tape, seen))


def _tensor_at(tape: Tape, node: int):
    """The tensor a backward returns for destination node ``node``."""
    code = tape.op[node]
    if code == INPUT or code == CONST:
        return handle(tape, node)
    dtype = D.ARENA_DTYPES[tape.dt[node]]
    if tape.rg[node]:
        # Its own copy: a gradient may be changed in place (``w.grad.zero_()``) like any tensor.
        return T._recorded(tape, node, np.array(tape.value_of(node)), dtype)
    return T._plain(np.array(tape.value_of(node)), dtype)      # computed from constants only


def _node_on(tape: Tape, t) -> int:
    return t._node if t._tape is tape else tape.import_(t)


_NO_MAP = np.zeros(0, np.int64)
_NO_IMPORTS = np.zeros((0, 2), np.int64)


def _recording_sweep(tape: Tape, seeds, pending: dict, result: _Result, want_retained: bool) -> None:
    """The recorded backward of one tape: numba writes the derivative rows (``_record``);
    rows whose rule has no compiled program come back here and run their rule."""
    _mark_modified_leaves(tape)
    if _saved.mutation_spans:
        _saved.check_mutation_spans(tape, [node for node, _ in seeds])
    n = tape.n
    dest = write_tape()
    tape.fill()
    dest.fill()
    seen = _new_seen(tape, result)
    gnode = np.full(n, -1, np.int64)
    grads = {}
    for node, g in seeds:
        grads[node] = grads[node] + g if node in grads else g
    for node, g in grads.items():
        gnode[node] = _node_on(dest, g)
        seen[node] |= 1
    ctl = np.zeros(Rec.C_SIZE, np.int64)
    if dest is tape:
        ctl[Rec.C_SAME] = 1         # swept nodes are used as they are: no imports, one shape table
        ref = smap = _NO_MAP
        imports = _NO_IMPORTS
    else:
        ref = np.full(n, -1, np.int64)
        smap = np.full(tape.stop, -1, np.int64)
        imports = np.empty((n, 2), np.int64)
    regs = np.empty(P.N_FIXED + P.MAX_INS, np.int64)
    ctl[Rec.C_START] = n - 1
    ctl[Rec.C_RESUME] = -1
    linked = 0
    state.pinned += 1           # the destination must not be rotated away mid-sweep
    anomaly = _anomaly._mode[0]
    R, hooked = _hooks.hook_rows(tape, lambda: _alone(tape, pending, result), anomaly)
    leaf_rows = [q for q, entry in hooked.items() if len(entry) > 2]
    last = -1       # anomaly mode: the row run last, whose results are checked when the sweep stops
    sweep = None
    try:
        while ctl[Rec.C_START] >= 0:
            ctl[Rec.T_ROWS:Rec.T_IMPORTS] = dest.n, dest.t64, dest.t32, dest.stop
            args = (R, tape.F, tape.stab, tape.ix, tape.v64, tape.v32, seen, gnode,
                    dest.R, dest.F, dest.stab, dest.ix, dest.v64, dest.v32, ref, smap, imports, regs, ctl)
            if sweep is None:
                sweep = Rec.recorder(n, args)
            sweep(*args)
            dest.n, dest.t64, dest.t32 = int(ctl[Rec.T_ROWS]), int(ctl[Rec.T_64]), int(ctl[Rec.T_32])
            if ctl[Rec.T_STAB] != dest.stop:
                dest.learn_shapes(int(ctl[Rec.T_STAB]))
            if ctl[Rec.T_IMPORTS] != linked:
                for k in range(linked, int(ctl[Rec.T_IMPORTS])):
                    dest.src[int(imports[k, 0])] = (tape, int(imports[k, 1]))
                linked = int(ctl[Rec.T_IMPORTS])
            kind, r = int(ctl[Rec.C_STATUS]), int(ctl[Rec.C_ROW])
            ctl[Rec.C_START] = r
            ctl[Rec.C_RESUME] = -1
            if last >= 0 and (kind == Rec.ST_DONE or kind == Rec.ST_PYTHON) and seen[last] & 4:
                _check_nan(tape, last, [dest.value_of(int(gnode[x])) if x >= 0 and gnode[x] >= 0 else None
                                        for x in _grad_inputs(tape, last)],
                           dest.value_of(int(gnode[last])) if gnode[last] >= 0 else None)
                last = -1
            if kind == Rec.ST_DONE:
                break
            if kind == Rec.ST_FREED or kind == Rec.ST_MODIFIED or kind == Rec.ST_UNKNOWN:
                if anomaly:
                    _warn_at(tape, r)
                _stopped(tape, ctl)
            if kind == Rec.ST_PYTHON and leaf_rows:
                for q in _leaves_ready(tape, R, hooked, leaf_rows, r, seen, None):
                    hooks = _hooks.unhook(tape, R, hooked, q, result.fired)
                    if hooks:
                        gnode[q] = _node_on(dest, _hooks.run_hooks(hooks, _tensor_at(dest, int(gnode[q])),
                                                                   _hooks.row_node(tape, q)))
                    _hooks.deliver(tape, q, _tensor_at(dest, int(gnode[q])), result)
            if kind == Rec.ST_GROW:
                dest.make_room(int(ctl[Rec.C_NEED_ROWS]), int(ctl[Rec.C_NEED_ELEMS]), int(ctl[Rec.C_NEED_SLOTS]))
            elif kind == Rec.ST_VALUE:
                # A row too big for compiled loops (a product, for BLAS): its op's numpy forward
                # computes the value, and the sweep goes on.
                row = int(ctl[Rec.C_VALUE_ROW])
                values = (dest.v64, dest.v32)
                _arena_view(dest, values, row)[...] = REGISTRY[int(dest.op[row])].forward(
                    *(_arena_view(dest, values, node) for node in dest.inputs_of(row)))
                ctl[Rec.C_RESUME] = ctl[Rec.C_NEXT]
            elif r in hooked:
                last = r if anomaly else -1
                for q in _ready(tape, R, hooked, r, seen):
                    hooks = _hooks.unhook(tape, R, hooked, q, result.fired)
                    if not seen[q] & 1:     # (an output of the node that got no gradient)
                        _hooks.fire_none(hooks)
                        continue
                    if _captured_raw(tape, q, hooks, result, seen):
                        result.raw[(id(tape), q)] = _tensor_at(dest, int(gnode[q]))
                    if hooks:
                        gnode[q] = _node_on(dest, _hooks.run_hooks(hooks, _tensor_at(dest, int(gnode[q])),
                                                                   _hooks.row_node(tape, q)))
                    if tape.op[q] == INPUT:     # (a row with several outputs has no gradient of its own)
                        _hooks.deliver(tape, q, _tensor_at(dest, int(gnode[q])), result)
                _hooks.fire_undefined(tape, r, seen, hooked)
                if _hooks.node_hooked(tape, r):
                    as_node(tape, r, _python_rule, tape, dest, r, gnode, seen)
                    ctl[Rec.C_START] = r - 1
            else:
                last = r if anomaly else -1
                _blamed(anomaly, tape, r, as_node, tape, r, _python_rule, tape, dest, r, gnode, seen)
                ctl[Rec.C_START] = r - 1
        if tape.hooks:
            _hooks.fire_undefined_only(tape, seen, UNDEFINED)
        for r, hooks in _hooked_targets(tape, R, hooked, seen, result):
            gnode[r] = _node_on(dest, _hooks.run_hooks(hooks, _tensor_at(dest, int(gnode[r])),
                                                       _hooks.row_node(tape, r)))
    finally:
        state.pinned -= 1
    # (a list: the tape may be the one the sweep records onto, and a gradient handed out can import more)
    for node, src in list(tape.src.items()):
        if node < n and gnode[node] >= 0:      # (rows past n are this sweep's own imports)
            g = _tensor_at(dest, int(gnode[node]))
            if type(src) is tuple:
                pending.setdefault(src[0], []).append((src[1], g))
            else:
                leaf = src()
                if leaf is not None:
                    result.add_leaf(leaf, g)
    _collect(tape, seen, result, want_retained, lambda node: _tensor_at(dest, int(gnode[node])))


def _python_rule(tape: Tape, dest: Tape, r: int, gnode: np.ndarray, seen: np.ndarray) -> None:
    """Run row ``r``'s derivative rule with tensor ops (recorded onto ``dest``)."""
    op = REGISTRY[int(tape.op[r])]
    row = Row(tape, r)
    if op.multi:
        gos = tuple(_tensor_at(dest, int(gnode[o])) if gnode[o] >= 0 else None for o in row.outputs)
    else:
        gos = (_tensor_at(dest, int(gnode[r])),)
    for x, gx in _input_grads(tape, r, op, row, gos, seen):
        if gnode[x] >= 0:
            gx = _tensor_at(dest, int(gnode[x])) + gx
        gnode[x] = _node_on(dest, gx)
        seen[x] |= 1
    seen[r] |= 4
    pass_undefined(tape, r, seen)


class _Asked(threading.local):
    rows = None     # the backward running in this thread: (tape id, row) of the inputs asked for, None: all


_asked = _Asked()


def _unneeded(tape: Tape, r: int, op, row: Row, seen) -> list:
    """The positions among row ``r``'s gradients of the inputs that lead to no input asked for
    (bit 2 of ``seen``): PyTorch's built-in node does not compute those, and its post hooks see None."""
    rows = _asked.rows
    if seen is None or rows is None or r in tape.pyrows:
        return []
    key = id(tape)
    diff = [x for k, x in enumerate(row.inputs) if k not in op.nondiff]
    return [i for i, x in enumerate(diff) if seen[x] & 2 and (key, x) not in rows]


def _input_dtypes(tape: Tape, r: int, op, row: Row) -> list | None:
    """The dtypes of a built-in row's inputs as the user gave them (past the hidden casts a mixed-dtype
    op reads them through), where one differs from the row's own; None otherwise."""
    if r in tape.pyrows:
        return None
    out = []
    differ = False
    for k, x in enumerate(row.inputs):
        if k in op.nondiff:
            continue
        dt = int(tape.dt[x])
        while tape.hid[x] and tape.op[x] != ROLES.clone:
            x = int(tape.a[x])
        differ = differ or int(tape.dt[x]) != dt
        out.append(D.ARENA_DTYPES[int(tape.dt[x])])
    return out if differ else None


def _input_grads(tape: Tape, r: int, op, row: Row, gos: tuple, seen=None) -> list:
    """``[(input node, its gradient)]`` from row ``r``'s rule given its outputs' gradients
    ``gos``; a row whose node has hooks runs them around the rule (``tape/_hooks.py``)."""
    hooks = tape.hooks.get(r)
    # (PyTorch keeps the gradients a node received for its post hooks only if it had some when it
    # started: one registered meanwhile, by an unpack hook or its backward, sees None for them)
    kept = hooks is not None and bool(hooks.post)
    rule = _rule(tape, r, op, row)
    hooks = tape.hooks.get(r)
    if hooks is not None and hooks.node:
        # (PyTorch's node runs its pre hooks before it unpacks what it saved: its errors come after them)
        packed = bool(hooks.saved)
        checked = rule

        def rule(gos: tuple) -> tuple:
            _check_row(tape, r, packed)
            return checked(gos)
        ctx = tape.pyrows.get(r)
        if ctx is not None and op.multi and getattr(ctx, "_out_meta", None) is not None:
            # A custom Function's node: its hooks see a gradient for every output of forward,
            # None for those that are no tensor or not differentiable, as PyTorch's do.
            at = ctx._outputs
            full = [None] * len(ctx._out_meta)
            for pos, g in zip(at, gos):
                full[pos] = g
            grads = _hooks.run_node_hooks(hooks, tuple(full), lambda full: rule(tuple(full[pos] for pos in at)),
                                          kept)
        else:
            unneeded = _unneeded(tape, r, op, row, seen) if hooks.post else []
            dtypes = _input_dtypes(tape, r, op, row) if hooks.post else None
            if unneeded or dtypes:
                computed = rule

                def rule(gos: tuple) -> tuple:
                    # (as PyTorch's node returns them: each of its input's dtype, None where not needed)
                    out = []
                    for i, g in enumerate(computed(gos)):
                        if i in unneeded:
                            g = None
                        elif g is not None and dtypes and i < len(dtypes) and g._dtype is not dtypes[i]:
                            g = g.to(dtypes[i])
                        out.append(g)
                    return tuple(out)
            grads = _hooks.run_node_hooks(hooks, gos, rule, kept)
    else:
        grads = rule(gos)
    diff = [x for k, x in enumerate(row.inputs) if k not in op.nondiff]
    return [(x, gx) for x, gx in zip(diff, grads) if gx is not None and tape.rg[x]]


def _rule(tape: Tape, r: int, op, row: Row):
    """Row ``r``'s rule as its node runs it: the gradients of its inputs (PyTorch's numbering, None
    for those needing none) from its outputs' gradients, given its saved values (unpacked, when
    saved-tensor hooks packed them)."""
    rg = tape.rg
    ins = row.inputs
    xs = tuple(handle(tape, x) for x in ins)
    y = handle(tape, r)
    hooks = tape.hooks.get(r)
    if hooks is not None and hooks.saved:
        xs, y = _saved.unpacked(tape, r, hooks.saved, xs, y)
    custom = r in tape.pyrows      # (a custom Function's node shows what its backward returned)

    def rule(gos: tuple) -> tuple:
        outs = op.vjp(gos if op.multi else gos[0], xs, y, row)
        grads = []
        for k, (x, gx) in enumerate(zip(ins, outs)):
            if k in op.nondiff:
                continue
            if gx is not None and rg[x]:
                shape = tape.shape_of(x)
                if gx._shape != shape:
                    gx = gx._sum_to(shape)      # the input was broadcast along leading dims
            grads.append(gx if rg[x] or custom else None)
        if op.number_input:
            grads.append(None)              # a Python-number operand: PyTorch's node shows it
        return tuple(grads)
    return rule


def call_node(tape: Tape, r: int, grads: tuple):
    """``grad_fn(*grads)``: run row ``r``'s rule on the given gradients of its outputs."""
    op = REGISTRY[int(tape.op[r])]
    row = Row(tape, r)
    n = len(row.outputs) if op.multi else 1
    if len(grads) != n:
        raise TypeError(f"expected {n} arguments, got {len(grads)} instead")
    _check_row(tape, r)
    out = _rule(tape, r, op, row)(grads)
    return out[0] if len(out) == 1 else out


_graph.run_node[0] = call_node


def _check_row(tape: Tape, r: int, packed: bool = False) -> None:
    """PyTorch's error for a row whose saved values were freed or changed in place (as the sweeps
    check before running a row: ``_stops.check_saved``).  ``packed``: saved-tensor hooks packed
    its saved values, and what the unpack hook gives is used as it is, with no version check (as
    PyTorch's ``SavedVariable`` with hooks)."""
    saved = int(SAVES[tape.op[r]])
    if saved and tape.fr[r] & 1:
        raise RuntimeError(FREED_MSG)
    if saved and not packed and _modified_input(tape, r, saved) is not None:
        _raise_unusable(tape, r, True)


def _node_numeric(tape: Tape, r: int, values, grads, seen) -> None:
    """Run row ``r`` (whose node has hooks) with its rule on plain tensors, adding the gradients
    of its inputs into their adjoints."""
    op = REGISTRY[int(tape.op[r])]
    row = Row(tape, r)

    def grad_of(node: int):
        if not seen[node] & 1:
            return None
        return T._plain(np.array(_arena_view(tape, grads, node)), D.ARENA_DTYPES[tape.dt[node]])

    gos = tuple(grad_of(o) for o in row.outputs) if op.multi else (grad_of(r),)
    for x, gx in _input_grads(tape, r, op, row, gos, seen):
        dst = _arena_view(tape, grads, x)
        if seen[x] & 1:
            dst += gx._value()
        else:
            dst[...] = gx._value()
            seen[x] |= 1
    seen[r] |= 4
    pass_undefined(tape, r, seen)


def block_nodes(outputs, inputs):
    """The tape of ``outputs`` (all on one), the node of each input on it (-1: not used there, its
    Jacobian is zero) and the last output's row, its values filled (``Tape.refer``), for a compiled
    Jacobian sweep; None when the outputs are not on one tape or an input is on another."""
    tape = None
    for o in outputs:
        if o._tape is None or (tape is not None and o._tape is not tape):
            return None
        tape = o._tape
    nodes = []
    for t in inputs:
        if t._tape is tape:
            nodes.append(t._node)
        elif t._tape is None and t._ig == tape.gen:
            nodes.append(t._in)
        elif t._tape is None:
            nodes.append(-1)
        else:
            return None
    tape.fill()
    return tape, nodes, max(int(o._node) for o in outputs)


def jacobian_block(outputs, inputs):
    """Jacobian rows of ``outputs`` w.r.t. ``inputs`` in one compiled call, or None.

    Returns a float64 array (total output elements x total elements of the
    inputs found on the tape), which inputs were found, and for each output
    element which of those inputs its sweep reached; or None when the outputs
    are not all on the inputs' tape or a row needs Python, and the caller falls
    back to one backward per output element.
    """
    found = block_nodes(outputs, inputs)
    if found is None:
        return None
    tape, nodes, start = found
    if (tape.op[:start + 1] >= PYTHON_START).any() or any(tape.hooks.values()) or \
            any(t.__dict__.get("_hooks") for t in inputs):
        return None                     # (hooks run in the per-element backward)
    for node, src in tape.src.items():
        if node <= start and type(src) is tuple:
            return None                 # the graph reaches into an older tape
    _mark_modified_leaves(tape)
    seed_dt, seed_off, seed_node = [], [], []
    for o in outputs:
        dt, off = int(tape.dt[o._node]), int(tape.off[o._node])
        for j in range(o.numel()):
            seed_dt.append(dt)
            seed_off.append(off + j)
            seed_node.append(o._node)
    used = [n for n in nodes if n >= 0]
    in_node = np.array(used, np.int64)
    in_dt = np.array([tape.dt[n] for n in used], np.int64)
    in_off = np.array([tape.off[n] for n in used], np.int64)
    in_num = np.array([tape.num[n] for n in used], np.int64)
    J = np.zeros((len(seed_off), int(in_num.sum())))
    reached = np.zeros((len(seed_off), len(used)), np.uint8)
    g64 = np.zeros(tape.t64, np.float64)
    g32 = np.zeros(tape.t32, np.float32)
    seen = np.zeros(tape.n, np.uint8)
    k = seeded_sweeps(tape.R, tape.F, tape.stab, tape.ix, SAVES, NEVER, tape.v64, g64, tape.v32, g32, seen, start,
                      np.array(seed_dt, np.int64), np.array(seed_off, np.int64),
                      np.array(seed_node, np.int64), in_node, in_dt, in_off, in_num, J, reached,
                      np.zeros(C_SIZE, np.int64))
    if k >= 0:
        return None                     # let the per-element path raise the proper error
    return J, [n >= 0 for n in nodes], reached
