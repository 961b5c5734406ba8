"""The tape: one row per recorded op, held as flat integer-coded numpy arrays.

A row is also the node it produces: row ``r`` writes node ``r``.  Columns:

  op   op code (see ``ops``)            dt   arena of the output (0 float64, 1 float32)
  off  offset of the value in arena     num  number of elements
  shp  offset of the shape in ``stab``  a, b input nodes (-1: none)
  ia, ib, fa, fb   integer/float attributes (exponent, dims, clamp bounds, offset
                   of an index list in ``ix`` ...)
  rg   1 when the node needs a gradient
  fr   bit 1 once backward freed the row, bit 2 once its value was modified in place
  hid  1 for rows the engine adds on its own (implicit broadcast and dtype
       casts): PyTorch does these inside an op, so grad_fn views skip them.
  lo, ln  a row with more than two inputs lists them in ``ix`` (ln of them from lo)
  nout number of OUTPUT rows that follow a row with several outputs

The column numbers are ``R_*`` in ``ops._spec`` (numba code reads columns by number).

Values live in two arenas (float64 and float32), numpy buffers that numba
indexes directly; a node's adjoint lives at the same offset of an adjoint
arena built for each backward.  Shapes live in ``stab`` as ``[ndim, d0, ...]``.

A result of ``LEND_FROM`` elements or more is computed straight into its arena slot
(``slot``) and the slot is lent to its tensor as its storage, so the value exists once; a
write into that storage first gives the row a copy of its own (``unshare``), so that what
the rows recorded stays as it was (copy-on-write).

Values from outside the tape (leaves, nodes of older tapes, constants) enter
through INPUT/CONST rows, holding a copy of the value, so that everything a
row needs to be replayed is on the tape.  A tape never refers to a newer tape,
and holds leaves only weakly, so tensors, gradients and tapes form no cycles:
a tape is freed when the last tensor recorded on it (or a newer tape that
imported one of its nodes) is gone.
"""
from __future__ import annotations

import itertools
import operator
import sys
import weakref

import numpy as np
from numba import njit
from numpy.lib.array_utils import byte_bounds

from ._anomaly import _mode as _anomaly_mode
from ._anomaly import note
from ._state import inplace_changes, state
from .ops._spec import (CONST, INPUT, N_INT_COLS, OUTPUT, REGISTRY, ROLES, R_A, R_B, R_DT, R_HID, R_IA, R_IB, R_LN,
                        R_LO, R_NOUT, R_NUM, R_OFF, R_OP, R_RG, R_SHP, PYTHON, X_REST, input_saved)

_INT_COLS = ("op", "dt", "off", "num", "shp", "a", "b", "ia", "ib", "rg", "fr", "hid", "lo", "ln", "nout")
_DEFAULTS = np.array([0, 0, 0, 1, 0, -1, -1, 0, 0, 1, 0, 0, 0, 0, 0], np.int64)[:, None]
assert len(_INT_COLS) == N_INT_COLS
ROWS0 = 256
ARENA0 = 1024
MAX_ROWS = 1 << 16    # the largest tape started when a full one is still referenced
SHAPES_KEPT = 1 << 12  # shape-table entries kept across resets
SPARES = 4            # retired tapes kept per thread for reuse once nothing refers to them
LEND_FROM = 1 << 14   # results this large are computed into their arena slot and lent to their tensor
REFER_FROM = 1 << 10  # leaves this large are referred to by their INPUT/CONST row until a compiled row reads them
_NOTHING = np.empty(0)
PY_ROWS: set = set()  # codes of the rows whose adjoint is Python's ``py_adjoint`` (made on first use)

_gens = itertools.count(1)
DETACHED = -1          # ``Tape.mods``: the node's tensor was detached in place
packing = [None]      # while saved-tensor hooks are on, what ``fresh`` calls at each op (``tape/_saved.py``)
_lenders: dict = {}   # id(arena) -> weakref to the tape that lent slots of it to tensors (``unshare``)


def left_to_python(code: int, arena: int, n: int) -> bool:
    """Whether the plain sweep leaves an elementwise row of ``code`` over ``n`` elements (its inputs
    as many) to Python (``_sweep.PYTHON_FROM``), whose run reads a referred leaf's own array
    (``_blocks``): such a row needs no copy of the leaf on the tape (not a cast, whose kernel
    reads the arena)."""
    if n < REFER_FROM:
        return False
    # (``_sweep`` imports the op catalogue, which imports this module: read once everything is imported)
    return n >= sys.modules[__package__ + "._sweep"].PYTHON_FROM[arena, code] and code != ROLES.cast


class ConstRef(weakref.ref):
    """A CONST row's weak reference to its tensor, holding the version counter the tensor shares
    with its views and ``detach()`` aliases: a change through one of them after the tensor itself
    is gone (a temporary view, ``x * w.t()``) still makes the rows that read it stale; and its dtype,
    which the error then names."""

    __slots__ = ("ver", "dtype")

    def __new__(cls, t):
        self = _ref_new(cls, t)     # (not ``super()``: this runs for every constant a step imports)
        self.ver = t._ver
        self.dtype = t._dtype
        return self


_ref_new = weakref.ref.__new__


class Tape:
    """A growable struct of arrays holding recorded rows, their values and shapes."""

    __slots__ = _INT_COLS + ("R", "F", "fa", "fb", "n", "cap", "gen", "v64", "v32", "t64", "t32",
                             "stab", "stop", "ix", "tix", "shape_ids", "shapes", "src", "csrc", "retained", "views",
                             "soft", "checked", "mods", "w_int", "w_op", "w_off", "w_a", "w_b", "w_fa", "w64", "e64",
                             "adjoints", "pyrows", "hooks", "prov", "inf", "lent", "me", "args", "pend", "__weakref__")
    # Gradients of leaves are handed out as views of the adjoint buffers even when the tape keeps
    # them for its next backward: only for a tape whose gradients are consumed before that
    # (a checkpoint's scratch tape).
    lends_adjoints = False
    # How many of ``state.pinned``'s pins are this tape's own (a checkpoint's scratch tape, pinned
    # so that it never rotates): its imports still refer to leaves (``refer``), as no recording
    # sweep or trace that reads imported rows without ``append`` is running beyond them.
    pins = 0

    def __init__(self, cap: int = ROWS0) -> None:
        self.cap = cap
        self.lent = ({}, {})
        self._columns(_blank(cap), np.zeros((2, cap)))
        self._arena64(np.empty(ARENA0, np.float64))
        self.v32 = np.empty(ARENA0, np.float32)
        self.stab = np.zeros(64, np.int64)      # offset 0 holds the 0-d shape: [0]
        self.ix = np.zeros(64, np.int64)        # index lists of gather/scatter rows
        self.stop = 0
        self.adjoints = []      # adjoint buffers kept for the next backward (see _engine._adjoint_buffers)
        self.me = weakref.ref(self, _forget)
        self._clear()

    def _clear(self) -> None:
        self.gen = next(_gens)
        self.soft = self.cap    # at this row count the next op checks whether the tape can be reset
        self.n = 0
        self.t64 = 0
        self.t32 = 0
        self.tix = 0
        if self.stop == 0 or self.stop > SHAPES_KEPT:
            # The shape table survives a reset (a loop records the same shapes again); one grown too big
            # is replaced, as spent tapes may share it (``hand_over``).
            if self.stop:
                self.stab = np.zeros(64, np.int64)
            self.stop = 1
            self.shape_ids = {(): 0}
            self.shapes = {0: ()}
        self.src = {}           # INPUT row -> weakref to a leaf, or (older tape, node)
        self.csrc = {}          # CONST row -> weakref to its tensor (to notice in-place changes)
        self.retained = {}      # node -> weakref to a tensor that called retain_grad()
        self.views = None       # row -> its grad_fn view while one exists (made on first use)
        self.pyrows = {}        # row -> the Python object its rule runs (a custom Function's ctx)
        self.hooks = {}         # row -> the hooks registered on its tensor (``tape/_hooks.py``)
        self.prov = {}          # anomaly mode: first row of an op -> where it was called from (``_anomaly``)
        self.inf = None         # INPUT/CONST rows of inference tensors (made on the first), which no row may save
        self.lent = ({}, {})    # per arena, offset -> row whose slot is a tensor's storage (``slot``)
        self.args = {}          # row -> what its node shows as saved, from the op's arguments (``tape/_saved.py``)
        # INPUT/CONST row -> the leaf's array, whose slot is not filled yet (``refer``); None if none
        self.pend = None
        # node changed in place -> (weakref to its tensor, version counter, its version); DETACHED for
        # the version: its tensor was detached in place (``Tensor.detach_``) after rows saved it
        self.mods = {}
        # ``inplace_changes`` when the leaves' versions were last compared: no change made
        # before a row was recorded can make it stale, so a new tape starts checked.
        self.checked = inplace_changes[0]

    def reset(self) -> None:
        """Empty the tape for reuse, keeping its buffers (nothing may refer to it)."""
        # Nothing refers to the tape, but an alias of a lent slot (``detach()``, ``numpy()``) may
        # still view its arena: that arena stays theirs, the tape takes a new one.
        if sys.getrefcount(self.v64) > 3:       # (the attribute, the memoryview, the argument)
            self._arena64(np.empty(self.e64, np.float64))
        if sys.getrefcount(self.v32) > 2:
            self._returned(1)
            self.v32 = np.empty(self.v32.shape[0], np.float32)
        self.clear_rows(0, self.n)
        self._clear()

    def clear_rows(self, lo: int, hi: int) -> None:
        """Put rows ``lo:hi`` back as rows not recorded yet (``_blank``)."""
        if hi <= ROWS0:
            # (a small tape's: one copy of blank rows costs half of the defaults and offsets written apart)
            self.R[:, lo:hi] = _BLANK[:, lo:hi]
        else:
            self.R[:, lo:hi] = _DEFAULTS
            self.R[R_OFF, lo:hi] = np.arange(lo, hi)
        self.F[:, lo:hi] = 0.0

    # -- growth ---------------------------------------------------------------
    def _columns(self, R: np.ndarray, F: np.ndarray) -> None:
        # The columns are rows of two 2-D arrays, so the sweep takes two
        # arguments instead of fourteen (each costs unboxing on every call).
        self.R = R
        self.F = F
        for i, c in enumerate(_INT_COLS):
            setattr(self, c, R[i])
        self.fa = F[0]
        self.fb = F[1]
        # Writers for the scalar fast path: an item write through a memoryview costs a
        # fifth of numpy's (no conversion to an array scalar).
        self.w_int = [memoryview(R[i]) for i in range(N_INT_COLS)]
        self.w_op = self.w_int[R_OP]
        self.w_off = self.w_int[R_OFF]
        self.w_a = self.w_int[R_A]
        self.w_b = self.w_int[R_B]
        self.w_fa = memoryview(self.fa)

    def _arena64(self, v64: np.ndarray) -> None:
        if self.lent[0]:
            self._returned(0)
        self.v64 = v64
        self.w64 = memoryview(v64)     # (the scalar fast path's writer)
        self.e64 = v64.shape[0]

    def _returned(self, arena: int) -> None:
        """The arena is being replaced (grown, or kept by its views at a reset): the tensors keep the
        old buffer as their own storage, the rows' values are in the new one."""
        old = self.v64 if arena == 0 else self.v32
        _lenders.pop(id(old), None)
        self.lent[arena].clear()

    def grow_rows(self) -> None:
        cap = self.cap * 2
        R = _blank(cap)
        R[:, :self.cap] = self.R
        F = np.zeros((2, cap))
        F[:, :self.cap] = self.F
        self._columns(R, F)
        self.cap = cap
        self.soft = min(self.soft, self.n + 1)

    def reserve(self, arena: int, n: int) -> int:
        """Reserve ``n`` slots in an arena; return their offset."""
        if arena == 0:
            o = self.t64
            if o + n > self.e64:
                self._arena64(_grown(self.v64, o + n))
                self.soft = min(self.soft, self.n + 1)
            self.t64 = o + n
        else:
            o = self.t32
            if o + n > self.v32.shape[0]:
                if self.lent[1]:
                    self._returned(1)
                self.v32 = _grown(self.v32, o + n)
                self.soft = min(self.soft, self.n + 1)
            self.t32 = o + n
        return o

    def slot(self, arena: int, shape: tuple) -> tuple:
        """Reserve an arena slot for a result of ``shape``: ``(offset, view)``.  The op computes its
        result into the view, which becomes its tensor's storage; ``append(..., at=offset)`` records
        the row there without a copy, and lends the slot (``unshare``)."""
        n = 1
        for d in shape:
            n *= d
        o = self.reserve(arena, n)
        return o, (self.v64 if arena == 0 else self.v32)[o:o + n].reshape(shape)

    def unshare(self, owner: np.ndarray, v: np.ndarray) -> None:
        """Before a write into ``v``, a view of arena ``owner``: the rows whose lent slot the write
        reaches take a copy of their value in a new slot (copy-on-write), and the tensors keep
        the old slot as their own storage."""
        arena = 0 if owner is self.v64 else 1 if owner is self.v32 else -1
        if arena < 0 or not self.lent[arena]:
            return
        lent = self.lent[arena]
        lo, hi = byte_bounds(v)
        base = owner.__array_interface__["data"][0]
        size = owner.itemsize
        first, last = (lo - base) // size, (hi - base + size - 1) // size
        for o, r in list(lent.items()):
            n = int(self.num[r])
            if o < last and first < o + n:
                del lent[o]
                new = self.reserve(arena, n)
                buf = self.v64 if arena == 0 else self.v32
                if buf is not owner:
                    return      # grown: every row's value was copied to the new arena
                buf[new:new + n] = buf[o:o + n]
                self.off[r] = new

    def shape_id(self, shape: tuple) -> int:
        sid = self.shape_ids.get(shape)
        if sid is None:
            sid = self.stop
            need = sid + 1 + len(shape)
            if need > self.stab.shape[0]:
                self.stab = _grown(self.stab, need)
            self.stab[sid] = len(shape)
            self.stab[sid + 1:need] = shape
            self.stop = need
            self.shape_ids[shape] = sid
            self.shapes[sid] = shape
        return sid

    def learn_shapes(self, stop: int) -> None:
        """Enter shapes that compiled code appended to ``stab`` (up to ``stop``) in the lookup dicts."""
        s = self.stop
        while s < stop:
            nd = int(self.stab[s])
            shape = tuple(int(d) for d in self.stab[s + 1:s + 1 + nd])
            self.shape_ids[shape] = s
            self.shapes[s] = shape
            s += 1 + nd
        self.stop = stop

    def make_room(self, rows: int, elements: int, shape_slots: int) -> None:
        """Grow so that ``rows`` more rows, ``elements`` more values in each arena and
        ``shape_slots`` more shape-table entries fit without moving anything recorded."""
        while self.n + rows > self.cap:
            self.grow_rows()
        if self.t64 + elements > self.e64:
            self._arena64(_grown(self.v64, self.t64 + elements))
        if self.t32 + elements > self.v32.shape[0]:
            if self.lent[1]:
                self._returned(1)
            self.v32 = _grown(self.v32, self.t32 + elements)
        if self.stop + shape_slots > self.stab.shape[0]:
            self.stab = _grown(self.stab, self.stop + shape_slots)
        self.soft = min(self.soft, self.n + 1)

    def index_list(self, flat: np.ndarray) -> int:
        """Store a flat index list for a gather/scatter row; return its offset."""
        o = self.tix
        n = flat.size
        if o + n > self.ix.shape[0]:
            self.ix = _grown(self.ix, o + n)
        self.ix[o:o + n] = flat.reshape(-1)
        self.tix = o + n
        return o

    # -- recording ------------------------------------------------------------
    def append(self, code: int, arena: int, value: np.ndarray, a: int = -1, b: int = -1,
               ia: int = 0, ib: int = 0, fa: float = 0.0, fb: float = 0.0, hid: int = 0, at: int = -1) -> int:
        """Record one row whose output is ``value``; return its node id.  ``at``: ``value`` is
        the arena slot at that offset (``slot``), lent to the result's tensor."""
        r = self.source(code, arena, value, ib, at)
        w = self.w_int
        if a != -1:
            w[R_A][r] = a
        if b != -1:
            w[R_B][r] = b
        if ia:
            w[R_IA][r] = ia
        if hid:
            w[R_HID][r] = hid
        if fa:
            self.F[0, r] = fa
        if fb:
            self.F[1, r] = fb
        if self.inf is not None and (a in self.inf or b in self.inf):
            self.check_inference(r)
        pend = self.pend
        if pend is not None and (a in pend or b in pend) and code not in PY_ROWS and not self.python_row(r):
            self.fill((a, b))
        return r

    def push(self, code: int, arena: int, value: np.ndarray, a: int, b: int = -1, ia: int = 0, ib: int = 0) -> int:
        """``append(code, arena, value, a, b, ia, ib)``: the row of a front end's common case (an array
        value, one or two inputs), written in one function.  ``append``'s tests of its other arguments
        and the call of ``source`` cost about a third of a small op's recording."""
        if self.inf is not None or self.pend is not None:
            return self.append(code, arena, value, a, b, ia, ib)
        r = self.n
        if r == self.cap:
            self.grow_rows()
        n = value.size
        if arena:
            o = self.t32
            if o + n > self.v32.shape[0]:
                self.reserve(1, n)
            else:
                self.t32 = o + n
            self.v32[o:o + n] = value.ravel()
        else:
            o = self.t64
            if o + n > self.e64:
                self.reserve(0, n)
            else:
                self.t64 = o + n
            self.v64[o:o + n] = value.ravel()
        self.n = r + 1
        w = self.w_int
        w[R_OP][r] = code
        w[R_DT][r] = arena
        w[R_OFF][r] = o
        w[R_NUM][r] = n
        shape = value.shape
        sid = self.shape_ids.get(shape)
        w[R_SHP][r] = sid if sid is not None else self.shape_id(shape)
        w[R_A][r] = a
        if b != -1:
            w[R_B][r] = b
        if ia:
            w[R_IA][r] = ia
        if ib:
            w[R_IB][r] = ib
        return r

    def source(self, code: int, arena: int, value: np.ndarray, ib: int = 0, at: int = -1) -> int:
        """A row of ``value`` with its code and ``ib`` and no inputs: a leaf's INPUT/CONST row
        (``import_``; a step's leaves each take one, so ``append``'s checks for inputs and
        attributes are not made), and the start of every ``append``."""
        r = self.n
        if r == self.cap:
            self.grow_rows()
        n = value.size
        shape = value.shape
        if at >= 0:
            o = at
            self.lent[arena][o] = r
            _lenders[id(self.v64 if arena == 0 else self.v32)] = self.me
        else:
            if arena:
                o = self.t32
                if o + n > self.v32.shape[0]:
                    self.reserve(1, n)
                else:
                    self.t32 = o + n
                v = self.v32
            else:
                o = self.t64
                if o + n > self.e64:
                    self.reserve(0, n)
                else:
                    self.t64 = o + n
                v = self.v64
            if shape:
                if n:       # (a custom Function's row holds no value of its own)
                    v[o:o + n] = value.ravel()
            else:
                v[o] = value            # an item assignment costs a fifth of a slice's
        self.n = r + 1
        w = self.w_int
        w[R_OP][r] = code
        if arena:
            w[R_DT][r] = arena
        w[R_OFF][r] = o
        w[R_NUM][r] = n
        if shape:
            sid = self.shape_ids.get(shape)
            w[R_SHP][r] = sid if sid is not None else self.shape_id(shape)
        if ib:
            w[R_IB][r] = ib
        return r

    def python_row(self, r: int) -> bool:
        """Whether the plain sweep leaves row ``r`` to Python (``left_to_python``; no input broadcast)."""
        code, dt, _, n = self.R[:4, r].tolist()
        a, b = int(self.a[r]), int(self.b[r])
        return left_to_python(code, dt, n) and self.num[a] == n and (b < 0 or self.num[b] == n)

    def list_nodes(self, inputs: list) -> int:
        """Store the nodes ``inputs`` of a row in the index table; return their offset.  (A list of a
        few nodes, without the array ``index_list`` would make of it: a third of the cost.)"""
        lo = self.tix
        n = len(inputs)
        if lo + n > self.ix.shape[0]:
            self.ix = _grown(self.ix, lo + n)
        if n == 1:
            self.ix[lo] = inputs[0]     # (a custom Function's one input: an item write costs a sixth)
        else:
            self.ix[lo:lo + n] = inputs
        self.tix = lo + n
        return lo

    def append_listed(self, code: int, arena: int, value: np.ndarray, inputs: list, ia: int = 0, ib: int = 0,
                      fa: float = 0.0, fb: float = 0.0, fill: bool = True, at: int = -1) -> int:
        """Record a row whose inputs (any number of nodes) are listed in the index table.  ``fill``:
        the referred leaves among them are copied onto the tape (``refer``), as the row's adjoint
        reads them from the arena; ``at``: as ``append``'s."""
        lo = self.list_nodes(inputs)
        n = len(inputs)
        r = self.append(code, arena, value, ia=ia, ib=ib, fa=fa, fb=fb, at=at)
        w = self.w_int
        w[R_LO][r] = lo
        w[R_LN][r] = n
        if self.pend is not None and fill:
            self.fill(inputs)
        if self.inf is not None and any(x in self.inf for x in inputs):
            self.check_inference(r)
        return r

    def const_inference(self, node: int) -> None:
        """Note that INPUT/CONST row ``node`` holds an inference tensor (``check_inference``)."""
        if self.inf is None:
            self.inf = set()
        self.inf.add(node)

    def check_inference(self, r: int) -> None:
        """PyTorch's error when row ``r`` saves an inference tensor for backward (its first three
        inputs, by its op's saved bits: a product saves each input only when the other one
        needs a gradient; the rest with X_REST).  The row stays unreferenced on the tape."""
        saved = REGISTRY[int(self.op[r])].saved
        ins = self.inputs_of(r)
        rg = [1 if self.rg[x] else 0 for x in ins[:3]] + [0] * (3 - len(ins[:3]))
        for k, x in enumerate(ins):
            if x in self.inf and (input_saved(saved, k, *rg) if k < 3 else saved & X_REST):
                raise RuntimeError("Inference tensors cannot be saved for backward. Please do not use Tensors created "
                                   "in inference mode in computation tracked by autograd. To work around this, you can "
                                   "make a clone to get a normal tensor and use it in autograd, or use "
                                   "`torch.no_grad()` instead of `torch.inference_mode()`.")

    def append_outputs(self, row: int, shapes: list) -> list:
        """Record the OUTPUT rows of a row with several outputs: output ``k`` is the part of
        the row's value after the parts of the outputs before it, shaped ``shapes[k]``.
        They take no value of their own (values and adjoints are the row's)."""
        while self.n + len(shapes) > self.cap:
            self.grow_rows()
        R = self.R
        o = int(R[R_OFF, row])
        rg = self.rg[row]
        nodes = []
        for k, shape in enumerate(shapes):
            r = self.n
            self.n = r + 1
            n = 1
            for d in shape:
                n *= d
            R[R_OP, r] = OUTPUT
            R[R_DT, r] = R[R_DT, row]
            R[R_OFF, r] = o
            R[R_NUM, r] = n
            R[R_SHP, r] = self.shape_id(tuple(shape))
            R[R_A, r] = row
            R[R_IA, r] = k
            self.rg[r] = rg
            o += n
            nodes.append(r)
        R[R_NOUT, row] = len(shapes)
        return nodes

    def append_call(self, code: int, inputs: list, outputs: list) -> int:
        """Record a custom Function's call: a row of ``code`` holding no value, whose inputs
        (nodes) are listed in the index table, then for each ``(arena, value, k)`` of ``outputs``
        an OUTPUT row holding ``value``, the call's output ``k``; return the call's row.  (Its
        rule reads no input's value and saves nothing: ``append_listed``'s checks find nothing.)"""
        lo = self.list_nodes(inputs)
        n = len(inputs)
        r = self.source(code, 0, _NOTHING)
        w = self.w_int
        w[R_LO][r] = lo
        w[R_LN][r] = n
        w[R_NOUT][r] = len(outputs)
        for arena, value, k in outputs:
            q = self.source(OUTPUT, arena, value)
            w = self.w_int      # (the row columns may have grown)
            w[R_A][q] = r
            if k:
                w[R_IA][q] = k
        return r

    def inputs_of(self, r: int) -> tuple:
        """The input nodes of row ``r`` (its columns ``a``/``b``, or its list)."""
        ln = int(self.ln[r])
        if ln:
            lo = int(self.lo[r])
            return tuple(self.ix[lo:lo + ln].tolist())
        return tuple(int(x) for x in (self.a[r], self.b[r]) if x >= 0)

    def import_(self, t, refer: bool = True) -> int:
        """The node standing for tensor ``t`` on this tape, recording it if needed.  ``refer=False``:
        a compiled row is about to read it, so a big leaf is copied at once rather than referred to
        (``refer``), which would fill its slot right away."""
        ver = t._ver[0] if t._ver is not None else 0
        if t._ig == self.gen and t._iv == ver:
            return t._in
        arena = t._dtype.arena
        value = t._v if t._f is None else np.array(t._f)
        if t._tape is not None:
            node = self.append(INPUT, arena, value)
            self.src[node] = (t._tape, t._node)
        elif t._rebased is not None:
            raise RuntimeError(t._rebased[0])       # (a view PyTorch gives no node: ``ops/views.py``)
        elif t._rg and not t._vm & 1:
            # (``_vm & 1``: a view made under no_grad of a tensor that requires grad, which PyTorch
            # passes no gradient: a constant here)
            node = self.refer(INPUT, arena, value, ver) if refer and value.size >= REFER_FROM and \
                state.pinned <= self.pins else self.source(INPUT, arena, value, ver)
            self.src[node] = weakref.ref(t)
            if t._inf:
                self.const_inference(node)      # (a leaf made in inference mode may get a gradient, not be saved)
        else:
            node = self.refer(CONST, arena, value, ver) if refer and value.size >= REFER_FROM and \
                state.pinned <= self.pins else self.source(CONST, arena, value, ver)
            self.w_int[R_RG][node] = 0
            c = t._cref
            if c is None or c.ver is not t._ver or c.dtype is not t._dtype or c() is not t:
                # (a constant imported at each step, the batch of a training loop, keeps its reference)
                c = t._cref = ConstRef(t)
            self.csrc[node] = c
            if t._inf:
                self.const_inference(node)
        t._ig = self.gen
        t._iv = ver
        t._in = node
        return node

    def refer(self, code: int, arena: int, value: np.ndarray, ver: int) -> int:
        """Record a leaf's INPUT/CONST row without copying its value: its slot is reserved and
        filled (``fill``) only when something reads the arena there (never while a recorded backward
        or a trace writes onto the tape, ``state.pinned``: compiled code then reads the rows it
        imports without ``append``).  Rows whose adjoint runs in
        Python (``PY_ROWS``: BLAS products ...) read the leaf's array itself, so a parameter that
        only such rows use is never copied onto the tape.  (A change of the leaf in place bumps
        its version, which the rows that saved it check; a change through ``.data`` is seen,
        as PyTorch's saved tensor, which shares the storage, sees it.)"""
        if not PY_ROWS:
            PY_ROWS.update(c for c, op in REGISTRY.items() if c >= PYTHON.start and op.py_adjoint is not None)
        n = value.size
        o = self.reserve(arena, n)
        r = self.append(code, arena, _NOTHING, ib=ver)
        w = self.w_int
        w[R_OFF][r] = o
        w[R_NUM][r] = n
        shape = value.shape
        sid = self.shape_ids.get(shape)
        w[R_SHP][r] = sid if sid is not None else self.shape_id(shape)
        if self.pend is None:
            self.pend = {}
        self.pend[r] = value
        return r

    def fill(self, nodes=None) -> None:
        """Copy the referred leaves' values (``refer``) into their slots: those of ``nodes``, or all.
        Whatever reads or writes the arenas other than the plain sweep's Python rows calls this
        first (``value_of``, the recording sweep, ``tape.trace`` ...)."""
        pend = self.pend
        if pend is None:
            return
        for node in (list(pend) if nodes is None else nodes):
            value = pend.pop(node, None)
            if value is not None:
                o = int(self.off[node])
                (self.v64 if self.dt[node] == 0 else self.v32)[o:o + value.size] = value.reshape(-1)
        if not pend:
            self.pend = None

    def flag_modified(self, node: int, cutoff: int, tensor=None) -> None:
        """Mark ``node``'s value as changed in place for the rows recorded before ``cutoff``,
        and the hidden cast/broadcast rows made from it (PyTorch saves the tensor itself).
        ``tensor``: the tensor changed, just counted (backward's error names its version)."""
        if tensor is not None and node not in self.mods:
            self.mods[node] = (weakref.ref(tensor), tensor._ver, tensor._ver[0] - 1)
        fr = self.fr
        fr[node] = (fr[node] & 1) | 2 | (cutoff << 2)
        n = self.n
        for h in np.flatnonzero((self.hid[node + 1:n] != 0) & (self.a[node + 1:n] == node)).tolist():
            self.flag_modified(node + 1 + h, cutoff)

    def overwrite(self, node: int, value: np.ndarray) -> None:
        """Replace ``node``'s recorded value (its tensor's storage was changed through an alias,
        ``.data`` or ``detach()``), and that of the hidden cast/broadcast rows made from it."""
        self.fill()
        o = int(self.off[node])
        n = int(self.num[node])
        arena = self.v64 if self.dt[node] == 0 else self.v32
        arena[o:o + n] = np.broadcast_to(value, self.shape_of(node)).reshape(-1)
        last = self.n
        for h in np.flatnonzero((self.hid[node + 1:last] != 0) & (self.a[node + 1:last] == node)).tolist():
            # (casts, broadcasts and identities hold the same value; a hidden view row of an in-place view op made
            # under no_grad holds other elements, and saved nothing that the change makes stale)
            if self.op[node + 1 + h] in (ROLES.cast, ROLES.expand, ROLES.clone):
                self.overwrite(node + 1 + h, value)

    def hand_over(self) -> "Tape":
        """A new tape with the buffers of this spent one (``spent``): its arenas, adjoint buffers
        and row columns, hot in cache, go on to the next step's graph, and this tape keeps a copy
        of its rows only (for the ``grad_fn`` of the outputs still held: ``_Spent``)."""
        n = self.n
        t = _new(Tape)
        # The columns, their writers and the arenas: the same buffers.  (Slot stores written out
        # cost a tenth of a loop of setattr calls.)
        (t.op, t.dt, t.off, t.num, t.shp, t.a, t.b, t.ia, t.ib, t.rg, t.fr, t.hid, t.lo, t.ln, t.nout, t.R, t.F, t.fa,
         t.fb, t.w_int, t.w_op, t.w_off, t.w_a, t.w_b, t.w_fa, t.v64, t.w64, t.e64, t.v32) = _moved(self)
        t.cap = self.cap
        R, F = self.R, self.F
        Rn = R[:, :n].copy()
        Fn = F[:, :n].copy()
        t.clear_rows(0, n)
        # (it records nothing more: its columns are read through ``R`` and ``F``, ``_Spent``'s
        # properties, and its writers, left over the buffers handed on, are never used)
        self.R = Rn
        self.F = Fn
        self.w64 = None
        self.cap = n
        # The shape table is shared: entries are only ever added to it (a table grown past SHAPES_KEPT
        # is replaced, not cleared: ``_clear``), so the spent tape's shapes stay as they were.
        t.stab = self.stab
        t.stop = self.stop
        t.shape_ids = self.shape_ids
        t.shapes = self.shapes
        t.ix = self.ix
        self.ix = self.ix[:self.tix].copy() if self.tix else _EMPTY_IX
        t.adjoints = self.adjoints
        self.adjoints = []
        t.me = weakref.ref(t, _forget)
        t._clear()
        self.lent = ({}, {})
        self.pend = None
        self.v64 = _EMPTY64
        self.v32 = _EMPTY32
        self.e64 = 0
        self.__class__ = _Spent
        return t

    def spent(self, freed: bool | None = None) -> bool:
        """Whether a backward freed every row but the sources (INPUT/CONST rows, which nothing reads
        once the rows reading them are freed) and the outputs of freed rows (a custom Function's,
        whose context the spent tape keeps for the ``grad_fn`` of its outputs still held), and no
        tensor views its arenas (``slot``).  ``freed``: whether the rows are freed or sources, when
        the backward that freed them told."""
        n = self.n
        if not n or self.hooks or sys.getrefcount(self.v64) > 3 or sys.getrefcount(self.v32) > 2:
            return False
        return _all_freed(self.op, self.fr, self.a, n) if freed is None else freed

    # -- reading --------------------------------------------------------------
    def shape_of(self, node: int) -> tuple:
        return self.shapes[int(self.shp[node])]

    def value_of(self, node: int) -> np.ndarray:
        """A read-only view of a node's value."""
        if self.pend is not None and node in self.pend:
            self.fill((node,))      # (the others stay referred: a leaf no rule reads is not copied)
        # (One ``tolist`` of the column, and ``setflags``: each costs half of what it replaces.)
        dt, o, n, shp = self.R[1:5, node].tolist()
        v = (self.v64 if dt == 0 else self.v32)[o:o + n].reshape(self.shapes[shp])
        v.setflags(write=False)
        return v


@njit(cache=True)
def _all_freed(op, fr, a, n):
    """Whether each of the first ``n`` rows is freed, a source or an output of a freed row (``Tape.spent``)."""
    for r in range(n):
        if not fr[r] & 1 and op[r] != INPUT and op[r] != CONST and not (op[r] == OUTPUT and fr[a[r]] & 1):
            return False
    return True


def unshare(v: np.ndarray) -> None:
    """Call before writing into the array ``v`` (a tensor's storage or a view of it): a row whose
    value is in the memory written (a result computed into its lent arena slot) keeps its value."""
    if not _lenders:
        return
    owner = v
    while getattr(owner, "base", None) is not None:
        owner = owner.base
    ref = _lenders.get(id(owner))
    tape = ref() if ref is not None else None
    if tape is not None:
        tape.unshare(owner, v)


def _forget(ref, lenders: dict = _lenders) -> None:
    """A tape is gone: so are its lendings (its arenas may live on as tensors' storage)."""
    if not lenders:
        return          # (the common case: nothing lent, no list to make at each step's spent tape)
    for key in [k for k, r in list(lenders.items()) if r is ref]:
        lenders.pop(key, None)


_V64 = Tape.v64
_V32 = Tape.v32
_new = object.__new__
# What a spent tape hands on as it is (``hand_over``): the row columns and their writers, the arenas
_moved = operator.attrgetter(*_INT_COLS, "R", "F", "fa", "fb", "w_int", "w_op", "w_off", "w_a", "w_b", "w_fa", "v64",
                             "w64", "e64", "v32")
_EMPTY64 = np.empty(0, np.float64)
_EMPTY32 = np.empty(0, np.float32)
_EMPTY_IX = np.empty(0, np.int64)     # (a spent tape's index lists when it had none: it records nothing more)


class _Spent(Tape):
    """A tape that handed its buffers on (``Tape.hand_over``), kept while its outputs are held.

    Its values were freed by a backward.  A later sweep through it (rows that saved nothing run
    again, as in PyTorch, and read no value) is given arenas of zeros, made on first use."""

    __slots__ = ()

    @property
    def v64(self) -> np.ndarray:
        if _V64.__get__(self).shape[0] < self.t64:
            self._arena64(np.zeros(self.t64, np.float64))
        return _V64.__get__(self)

    @v64.setter
    def v64(self, v: np.ndarray) -> None:
        _V64.__set__(self, v)

    @property
    def v32(self) -> np.ndarray:
        if _V32.__get__(self).shape[0] < self.t32:
            _V32.__set__(self, np.zeros(self.t32, np.float32))
        return _V32.__get__(self)

    @v32.setter
    def v32(self, v: np.ndarray) -> None:
        _V32.__set__(self, v)


def _column(i: int, table: str) -> property:
    return property(lambda tape: getattr(tape, table)[i])


# (a spent tape's columns are its copies' rows: its slots of the same names still view the rows
# of the buffers it handed on, which it never reads; so do its writers, which a sweep through it
# reads its rows by, as any tape's: views of the copies, made on use)
for _i, _name in enumerate(_INT_COLS):
    setattr(_Spent, _name, _column(_i, "R"))
_Spent.fa = _column(0, "F")
_Spent.fb = _column(1, "F")
_Spent.w_int = property(lambda tape: [memoryview(row) for row in tape.R])
for _i, _name in ((R_OP, "w_op"), (R_OFF, "w_off"), (R_A, "w_a"), (R_B, "w_b")):
    setattr(_Spent, _name, property(lambda tape, i=_i: memoryview(tape.R[i])))
_Spent.w_fa = property(lambda tape: memoryview(tape.F[0]))


def _blank(cap: int) -> np.ndarray:
    """Integer columns of ``cap`` rows not recorded yet: the defaults, and each row's ``off`` its own
    number.  The 0-d fast path (``_emit``) leaves ``off`` as it is when its value's offset is the
    row's number, as it is on a tape that holds only 0-d float64 rows: one write fewer per op."""
    R = np.repeat(_DEFAULTS, cap, axis=1)
    R[R_OFF] = np.arange(cap)
    return R


_BLANK = _blank(ROWS0)     # the blank rows ``clear_rows`` copies onto a small tape


def _grown(a: np.ndarray, need: int) -> np.ndarray:
    new = np.empty(max(need, 2 * a.shape[0]), a.dtype)
    new[:a.shape[0]] = a
    return new


def retire(swept: Tape | None = None, freed: bool = False) -> None:
    """End this thread's current tape: later ops record onto another one.

    Called after each backward (the graph was consumed, and a loop then reuses
    a tape whose tensors are gone instead of growing one forever) and when a
    tape is full.  A spare whose tensors are all gone is reset and reused.
    ``swept``, ``freed``: a tape the backward just freed rows of, and whether each
    of its rows is now freed or a source (``_sweep.free_rows``).
    """
    if state.pinned:
        return      # (a pinned tape stays the thread's: a checkpointed function's run goes on recording there)
    spares = state.spares
    cur = state.tape
    if cur is not None and cur.spent(freed if cur is swept else None):
        # The graph was consumed: its buffers go on to the next one (one set of buffers for a
        # training loop, hot in cache), and a held output keeps the rows only.
        state.tape = cur.hand_over()
        return
    state.tape = None
    for i in range(len(spares)):
        # Referenced only by the list (and getrefcount's argument): no tensor needs it.
        if sys.getrefcount(spares[i]) == 2:
            t = spares.pop(i)
            t.reset()
            state.tape = t
            break
    if cur is not None and cur.n:
        spares.append(cur)
        if len(spares) > SPARES:
            del spares[0]
    elif cur is not None and state.tape is None:
        state.tape = cur


def fresh() -> Tape:
    """The tape to record onto, checked each time it has grown.

    A tape that no tensor refers to any more (a forward pass whose results
    were dropped) is reset in place instead of growing; a full one is retired.
    Callers drop their own reference first, so that the count is exact.
    """
    t = state.tape
    if t is None:
        t = state.tape = Tape()
    elif sys.getrefcount(t) == (4 if state.rec is t else 3):   # state.tape (and .rec), ``t``, the argument
        # (with saved-tensor hooks on, the last op's saved tensors are packed before its rows go;
        # what the hooks packed may hold the tape)
        if packing[0] is None or not packing[0](None) or sys.getrefcount(t) == (4 if state.rec is t else 3):
            t.reset()
    elif t.n >= t.cap and not state.pinned:
        # Full and still referenced.  Doubling it would keep every later graph alive for as long
        # as one tensor of this one lives (and a forward-only loop is referenced between any two
        # of its ops, so it would never be reset): later ops go to a spare nothing refers to,
        # or to a new tape twice as large, so that one long graph spans few tapes.
        cap = min(2 * t.cap, MAX_ROWS)
        t = None
        retire()
        t = state.tape or Tape(cap)
        state.tape = t
    else:
        t.soft = t.cap
    if _anomaly_mode[0]:
        note(t)             # (and keeps the soft limit at the row count: the next op comes here too)
    if packing[0] is not None:
        packing[0](t)       # saved-tensor hooks are on: the last op's saved tensors are packed (``_saved``)
    return t


def write_tape() -> Tape:
    """The thread's tape to append a row to (``fresh`` once it has grown past its soft limit)."""
    t = state.tape
    if t is None or t.n >= t.soft:
        t = None        # (dropped first: ``fresh`` counts the references to the current tape)
        t = fresh()
    return t


def format_rows(t: Tape, last: int | None = None) -> str:
    """The tape's rows as a table (for reading and debugging, not used by the engine)."""
    names = {INPUT: "INPUT", CONST: "CONST", OUTPUT: "OUTPUT"}
    lines = ["  row  op            in      attrs              shape    value"]
    start = 0 if last is None else max(0, t.n - last)
    for r in range(start, t.n):
        code = int(t.op[r])
        name = names.get(code) or REGISTRY[code].name.upper()
        ins = ",".join(str(x) for x in t.inputs_of(r)) or "-"
        attrs = []
        if t.fa[r] or t.fb[r]:
            attrs.append(f"c={float(t.fa[r]):g}" + (f",{float(t.fb[r]):g}" if t.fb[r] else ""))
        if t.ia[r] or t.ib[r]:
            attrs.append(f"i={int(t.ia[r])},{int(t.ib[r])}")
        if t.hid[r]:
            attrs.append("hidden")
        v = t.value_of(r)
        text = np.array2string(v.reshape(-1)[:3], precision=4, separator=",")
        lines.append(f"  {r:3d}  {name:12s}  {ins:6s}  {' '.join(attrs):17s}  "
                     f"{str(tuple(v.shape)):7s}  {text}{'...' if v.size > 3 else ''}")
    return "\n".join(lines)
