"""The recording API: the one door through which op definitions (``ops/``) write rows and
make result handles.

An op's front end checks its arguments (PyTorch's errors, before anything is
recorded), computes its value with numpy, and records one row when an operand
requires grad and grad mode is on; otherwise its result is a plain handle::

    def exp(self):
        y = np.exp(self._value())
        if self._rg and state.grad:
            return emit(EXP, y, self._dtype, self)      # one row: code, value, dtype, inputs, attributes
        return plain(y, self._dtype)

What is here:

- handles: ``plain(v, dtype)`` (not recorded), ``py_scalar(f)`` (a 0-d float64 kept as a
  Python float), ``recorded(tape, node, v, dtype)`` (the handle of a row appended with
  ``tape.append``); ``Tensor`` and ``Size`` for checks and results; ``aliased(t, base, view)``
  makes a recorded result a view of ``base`` (sharing its storage, with PyTorch's layout);
- rows: ``emit(code, value, dtype, x, y=None, ia, ib, fa, fb)`` appends a row whose inputs
  already have its dtype and shape (``emit_apart``: on a tape of its own, over ``x``'s value as
  a constant, keeping no history); ``node_in(tape, t, dtype, shape)`` is ``t``'s node as an
  input of another dtype or shape (recording the cast or broadcast inside the op, as hidden
  rows); ``scalar_row(code, y, a, b, c)`` is the 0-d float64 fast path (``y`` a Python float);
- the tape: ``write_tape()`` returns the tape to append to; fast paths inline it as
  ``tape = state.tape`` and, when ``tape is None or tape.n >= tape.soft``, ``tape = None;
  tape = fresh()``; ``state.grad`` is grad mode (``state.rec``: the tape while it is on, else
  None, one read for both); ``is_suffix(s, shape)`` says whether an
  input of shape ``s`` may enter a row of shape ``shape`` as it is (kernels read an operand
  broadcast along leading dims modulo its size);
- ``row_value(tape, node)``: a row appended with a placeholder value computes it with its family's
  compiled kernel, the one a trace's replay runs (eager and replay then agree bitwise);
- results without a copy: when ``lends(shape, dtype, *operands)``, ``emit_into(tape, code, dtype,
  shape, fwd, operands, a, b, ia, fa)`` computes ``fwd(*operands, out=...)`` straight into the
  row's arena slot, which becomes the result's storage; code that writes into a tensor's storage
  calls ``unshare(array)`` first (``tape._tape``: the rows keep what they recorded); a big ufunc's
  result is computed in parts on all cores (``into``);
- ``in_parts(fn, n, part)``: big arrays on all cores, ``fn(lo, hi)`` called at once for parts of
  ``range(n)`` of at least ``part`` elements (``tape/_parallel.py``); for work whose every element
  is computed by the same instructions whichever part it falls in, so that results do not depend
  on the number of threads;
- ``D``: dtypes and PyTorch's promotion (``tape._dtype``); ``device`` and ``check_device`` (PyTorch's
  error for a ``device=`` argument naming anything but the CPU).

A row's code, name, saved values and derivative rule come from its ``Op`` record
(``ops/_spec.py``), registered in the same family file as the front end.
"""
from __future__ import annotations

import sys
import warnings
from typing import Optional

import numpy as np

from . import _dtype as D
from ._device import check_device, device
from ._layout import arranged, check_memory_format, contiguous_format, preserve_format
from ._parallel import PART
from ._parallel import run as in_parts
from ._spacing import linspace_values
from ._state import state
from ._tape import LEND_FROM, ConstRef, Tape, fresh, left_to_python, unshare, write_tape
from ._tensor import STRIDED_ROOTS, Number, Size, Tensor, storage_of
from ._tensor import _plain as plain
from ._tensor import _py_scalar as py_scalar
from ._tensor import _check_overlap as check_overlap
from ._tensor import _assert_no_overlap as assert_no_overlap
from ._tensor import _check_repeats as check_repeats
from ._tensor import _writable as writable
from ._tensor import _flag_saved_alias as flag_saved_alias
from ._tensor import _inference_alias as inference_alias
from ._tensor import _link as link
from ._tensor import _multi_output as multi_output
from ._tensor import quiet_numpy_warnings as quiet
from ._tensor import _QUIET as QUIET
from ._tensor import VIEW_OF_MULTI
from ._tensor import _recorded as recorded
from ._tensor import _refuse_rebased as refuse_rebased
from .ops._spec import CONST, ROLES

__all__ = ["D", "LEND_FROM", "ConstRef", "Number", "Size", "Tensor", "aliased", "arranged", "check_device",
           "check_memory_format", "contiguous_format", "preserve_format", "check_overlap", "assert_no_overlap", "check_repeats", "device",
           "emit", "emit_apart", "emit_into",
           "flag_saved_alias", "fresh", "in_parts", "into", "is_suffix", "left_to_python", "lends", "node_in", "plain",
           "py_scalar", "quiet", "recorded", "refuse_rebased", "row_value", "scalar_binary", "scalar_row", "scalar_unary", "state",
           "unshare", "write_tape",
           "STRIDED_ROOTS", "VIEW_OF_MULTI", "multi_output", "storage_of", "writable"]

_new = object.__new__


def scalar_row(code: int, y: float, a: Tensor, b: Optional[Tensor], c: float) -> Tensor:
    """Record a 0-d float64 row and return its tensor (the fast path)."""
    tape = state.tape
    if tape is None or tape.n >= tape.soft:
        tape = None
        tape = fresh()
    na = a._node if a._tape is tape else tape.import_(a)
    if b is not None:
        nb = b._node if b._tape is tape else tape.import_(b)
    r = tape.n
    if r == tape.cap:
        tape.grow_rows()
    if b is not None:
        tape.w_b[r] = nb
    o = tape.t64
    if o == tape.e64:
        tape.reserve(0, 1)
    else:
        tape.t64 = o + 1
    tape.w64[o] = y
    tape.n = r + 1
    tape.w_op[r] = code
    if o != r:
        tape.w_off[r] = o       # (else left as it is: ``_tape._blank``)
    tape.w_a[r] = na
    if c:
        tape.w_fa[r] = c
    t = _new(Tensor)
    t._f = y
    t._tape = tape
    t._node = r
    t._rg = True
    return t


_ARITH_ERRORS = (ValueError, OverflowError, ZeroDivisionError)


def scalar_unary(code: int, scalar, general, array=None):
    """The front end ``general(x)`` of a unary op, with the scalar chain's case inlined: ``x`` a
    0-d float64 held as a Python float, recorded, its value ``scalar(x)`` (``math``'s function).

    Every Python call and attribute access here costs a few percent of a 0-d op, so the row is
    written as ``scalar_row`` writes it, without calling it; anything else (and a ``scalar``
    that raises: numpy's value then, nan or inf) goes to ``general``.  The front's
    ``function_form(other)`` is the same front as ``tape.<name>(input)``, calling ``other(input)``
    for what is not a tensor.

    ``array(v)``: the op's numpy face, when ``general`` computes it so for a float array: an array
    operand recorded on the thread's tape is then recorded here, as ``general`` would, without
    its checks (below the size from which results are lent).
    """
    if scalar is None:
        return general

    def make(other):
        def front(input, *, out=None):
            if out is not None:
                return other(input, out=out)     # (the function form's ``out=``)
            try:
                f = input._f
            except AttributeError:
                return other(input)
            if f is not None and input._rg:
                try:
                    y = scalar(f)
                except _ARITH_ERRORS:
                    y = None        # (numpy's value: nan or inf; called outside the handler)
                if y is None:
                    return general(input)
                tape = state.rec    # (the tape if grad mode is on: one thread-local read)
                if tape is None or tape.n >= tape.soft:
                    if not state.grad:
                        return general(input)
                    tape = None
                    tape = fresh()
                    if tape.n == tape.cap:
                        tape.grow_rows()    # (below the soft limit, which is at most the capacity, there is room)
                if input._tape is tape:
                    na = input._node
                elif input._ig == tape.gen and input._ver is None:
                    na = input._in           # (a leaf already imported, never changed: import_'s cache)
                else:
                    na = tape.import_(input)
                    if tape.n == tape.cap:
                        tape.grow_rows()    # (the import took the last row)
                r = tape.n
                o = tape.t64
                if o == tape.e64:
                    tape.reserve(0, 1)
                else:
                    tape.t64 = o + 1
                tape.w64[o] = y
                tape.n = r + 1
                tape.w_op[r] = code
                if o != r:
                    tape.w_off[r] = o       # (else left as it is: ``_tape._blank``)
                tape.w_a[r] = na
                t = _new(Tensor)
                t._f = y
                t._tape = tape
                t._node = r
                t._rg = True
                return t
            if f is None and array is not None:
                # (an array of a float dtype: ``general``'s common cases, their checks made in a few lines)
                filters = warnings.filters
                if not filters or filters[0] is not QUIET[0]:
                    quiet()         # (``quiet``'s test, inlined)
                tape = state.rec
                dt = input._dtype
                if dt.arena is not None and input._shape:
                    # (``state.rec`` is None in grad mode too until the thread's first tape: ``general``'s)
                    if not input._rg or tape is None and not state.grad:
                        return plain(array(input._v), dt)
                    v = input._v
                    if tape is not None and input._tape is tape and tape.n < tape.soft and v.size < LEND_FROM:
                        y = array(v)
                        return recorded(tape, tape.push(code, dt.arena, y, input._node), y, dt)
                tape = None     # (dropped: ``general``'s ``fresh`` counts the references to the tape)
            return general(input)
        return front
    front = make(general)
    front.function_form = make
    return front


def scalar_binary(code: int, scalar, general, number_code: int, scalar_number, array=None, number_array=None):
    """The front end ``general(x, other)`` of a binary op, with the scalar chain's cases inlined
    (as ``scalar_unary``): both operands 0-d float64 Python floats (``scalar(x, other)``, row
    ``code``; -1: that case is ``general``'s), or ``other`` a Python float or int
    (``scalar_number(x, other)``, row ``number_code`` with ``other`` its constant), one of them
    recorded.  ``array(a, b)`` and ``number_array(v, c)``: the numpy faces of the two rows, as
    ``scalar_unary``'s ``array``."""
    def front(self, other):
        fa = self._f
        if fa is not None:
            to = type(other)
            if to is Tensor and code >= 0:
                fb = other._f
                if fb is None or not (self._rg or other._rg):
                    return general(self, other)
                try:
                    y = scalar(fa, fb)
                except _ARITH_ERRORS:
                    y = None
                if y is None:
                    return general(self, other)
                row = code
                c = 0.0
            elif (to is float or to is int) and self._rg:
                try:
                    c = other if to is float else float(other)      # (a call saved)
                    y = scalar_number(fa, c)
                except _ARITH_ERRORS:
                    y = None
                if y is None:
                    return general(self, other)
                row = number_code
            else:
                return general(self, other)
            tape = state.rec        # (the tape if grad mode is on: one thread-local read)
            if tape is None or tape.n >= tape.soft:
                if not state.grad:
                    return general(self, other)
                tape = None
                tape = fresh()
                if tape.n == tape.cap:
                    tape.grow_rows()
            if self._tape is tape:
                na = self._node
            elif self._ig == tape.gen and self._ver is None:
                na = self._in           # (a leaf already imported, never changed: import_'s cache)
            else:
                na = tape.import_(self)
                if tape.n == tape.cap:
                    tape.grow_rows()    # (the import took the last row)
            if row == code:
                if other._tape is tape:
                    nb = other._node
                elif other._ig == tape.gen and other._ver is None:
                    nb = other._in
                else:
                    nb = tape.import_(other)
                    if tape.n == tape.cap:
                        tape.grow_rows()
            r = tape.n
            o = tape.t64
            if o == tape.e64:
                tape.reserve(0, 1)
            else:
                tape.t64 = o + 1
            tape.w64[o] = y
            tape.n = r + 1
            tape.w_op[r] = row
            if o != r:
                tape.w_off[r] = o       # (else left as it is: ``_tape._blank``)
            tape.w_a[r] = na
            if row == code:
                tape.w_b[r] = nb
            elif c:
                tape.w_fa[r] = c
            t = _new(Tensor)
            t._f = y
            t._tape = tape
            t._node = r
            t._rg = True
            return t
        if number_array is not None:
            # (arrays of one float dtype, or an array and a Python number: ``general``'s common cases,
            # unrecorded or recorded as it would record them, with its checks made in a few lines)
            filters = warnings.filters
            if not filters or filters[0] is not QUIET[0]:
                quiet()             # (``quiet``'s test, inlined)
            tape = state.rec
            to = type(other)
            dt = self._dtype
            if to is Tensor:
                sa = self._shape
                sb = other._shape
                if array is not None and other._dtype is dt and dt.arena is not None and sb and len(sb) <= len(sa) \
                        and (sa == sb or is_suffix(sb, sa)):
                    va = self._v
                    vb = other._v
                    if va.flags.c_contiguous and vb.flags.c_contiguous:
                        # (``state.rec`` is None in grad mode too until the thread's first tape: ``general``'s)
                        if not (self._rg or other._rg) or tape is None and not state.grad:
                            return plain(array(va, vb), dt)
                        if tape is not None and va.size < LEND_FROM and tape.n < tape.soft:
                            y = array(va, vb)
                            na = self._node if self._tape is tape else tape.import_(self)
                            if other._tape is tape:
                                nb = other._node
                            elif other._rg:
                                nb = tape.import_(other, sb == sa and left_to_python(code, dt.arena, vb.size))
                            else:
                                nb = tape.import_(other)
                            return recorded(tape, tape.push(code, dt.arena, y, na, nb), y, dt)
            elif (to is float or to is int) and dt.arena is not None and self._shape:
                if not self._rg or tape is None and not state.grad:
                    return plain(number_array(self._v, other), dt)
                v = self._v
                if tape is not None and self._tape is tape and tape.n < tape.soft and v.size < LEND_FROM:
                    y = number_array(v, other)
                    # (``ib``: the number was an int, which the node shows as such)
                    node = tape.append(number_code, dt.arena, y, self._node, ib=1 if to is int else 0, fa=float(other))
                    return recorded(tape, node, y, dt)
            tape = None     # (dropped: ``general``'s ``fresh`` counts the references to the tape)
        return general(self, other)
    return front


_SUFFIX: dict = {}


def is_suffix(s: tuple, shape: tuple) -> bool:
    """Whether ``s`` broadcasts to ``shape`` along leading dims only (a kernel handles that)."""
    key = (s, shape)
    known = _SUFFIX.get(key)
    if known is None:
        k = 0
        while k < len(s) and s[k] == 1:
            k += 1
        n = len(s) - k
        known = n <= len(shape) and shape[len(shape) - n:] == s[k:]
        if len(_SUFFIX) > 4096:
            _SUFFIX.clear()
        _SUFFIX[key] = known
    return known


def node_in(tape: Tape, t: Tensor, dtype: D.dtype, shape: tuple) -> int:
    """Node of ``t`` on ``tape`` as an input of dtype ``dtype`` to a row of shape ``shape``.

    Casting and broadcasting happen inside an op in PyTorch; here they become
    rows of their own, marked hidden so that grad_fn views skip them.  An input
    that broadcasts along leading dims only is left as it is: kernels read it
    modulo its size.
    """
    suffix = t._shape == shape or is_suffix(t._shape, shape)
    if t._dtype.arena is None or not t._rg and (t._dtype is not dtype or not suffix):
        v = t._value().astype(dtype.np, copy=False)
        node = tape.append(CONST, dtype.arena, v if suffix else np.broadcast_to(v, shape), ib=t._vnum)
        tape.rg[node] = 0
        tape.csrc[node] = ConstRef(t)    # a later in-place change of ``t`` makes the row stale
        if t._inf:
            tape.const_inference(node)
        return node
    node = t._node if t._tape is tape else tape.import_(t)
    if t._dtype is not dtype:
        node = tape.append(ROLES.cast, dtype.arena, tape.value_of(node).astype(dtype.np), node, hid=1)
    if not suffix:
        node = tape.append(ROLES.expand, dtype.arena, np.broadcast_to(tape.value_of(node), shape), node, hid=1)
    return node


def emit(code: int, value: np.ndarray, dtype: D.dtype, x: Tensor, y: Optional[Tensor] = None,
         ia: int = 0, ib: int = 0, fa: float = 0.0, fb: float = 0.0) -> Tensor:
    """Record a row with input(s) already of the row's dtype and shape."""
    tape = write_tape()
    na = x._node if x._tape is tape else tape.import_(x)
    nb = -1 if y is None else (y._node if y._tape is tape else tape.import_(y))
    node = tape.append(code, dtype.arena, value, na, nb, ia, ib, fa, fb)
    if not value.ndim and x._shape:
        # A 0-d result of a bigger input, a loss: the next op checks whether anything still refers to
        # the tape (``fresh``), so that a forward after one whose loss was dropped without a backward
        # starts the tape again, as a backward would have (its leaves' rows its own, its arena not grown).
        tape.soft = min(tape.soft, tape.n)
    return recorded(tape, node, value, dtype)




def row_value(tape: Tape, node: int) -> np.ndarray:
    """Compute row ``node``'s value in its arena slot (its inputs there) with its family's compiled
    kernel, the one a trace's replay runs for the row (so that the two agree bitwise); a view of it."""
    # (``_record`` imports the op families, which import this module: read once everything is imported)
    sys.modules[__package__ + "._record"].row_value(tape, node)
    _, dt, o, n, shp = tape.R[:5, node].tolist()
    return (tape.v64 if dt == 0 else tape.v32)[o:o + n].reshape(tape.shapes[shp])


def emit_apart(code: int, value: np.ndarray, dtype: D.dtype, x: Tensor, ia: int = 0, ib: int = 0,
               fa: float = 0.0, fb: float = 0.0) -> Tensor:
    """Record a one-input row on a tape of its own, over ``x``'s value as a constant: the result
    has the row's ``grad_fn`` but no history, and keeps no other tape alive (``zero_()`` of a
    ``.grad`` made by ``create_graph=True``: PyTorch keeps the history, through which only zeros
    flow, and its memory grows with every step of such a loop)."""
    tape = Tape()
    old = tape.append(CONST, dtype.arena, x._value())
    tape.rg[old] = 0
    node = tape.append(code, dtype.arena, value, old, ia=ia, ib=ib, fa=fa, fb=fb)
    return recorded(tape, node, value, dtype)


def aliased(t: Tensor, base: Tensor, view: np.ndarray) -> Tensor:
    """Make the recorded ``t`` a view of ``base`` as PyTorch's views are: its value is ``view``, a
    numpy view of ``base``'s storage with PyTorch's layout (strides, contiguity), and it shares
    ``base``'s version counter; an in-place change of one reaches the other (``ops/views.py``).
    Its row holds a contiguous copy."""
    if base._inf:
        return inference_alias(base, view)      # (the row stays unreferenced on the tape)
    return link(t, base, view)


def lends(shape: tuple, dtype: D.dtype, *operands: np.ndarray) -> bool:
    """Whether a recorded result of ``shape`` over ``operands`` is computed straight into its arena
    slot (``emit_into``): a big one, over operands of its dtype laid out in row-major order (so that
    the result is too, as numpy's own would be)."""
    if not shape or dtype.arena is None:
        return False
    n = 1
    for d in shape:
        n *= d
    if n < LEND_FROM:
        return False
    for v in operands:
        if v.dtype is not dtype.np or not v.flags.c_contiguous:
            return False
    return True


def emit_into(tape: Tape, code: int, dtype: D.dtype, shape: tuple, fwd, operands: tuple, a: int, b: int = -1,
              ia: int = 0, fa: float = 0.0) -> Tensor:
    """Record a row whose value ``fwd(*operands, out=slot)`` (a numpy ufunc, or a forward that writes
    its result into ``out``) is computed into its arena slot, lent to the result as its storage (no
    copy: ``Tape.slot``); ``a``, ``b``: its input nodes on ``tape``."""
    o, y = tape.slot(dtype.arena, shape)
    into(fwd, operands, y)
    return recorded(tape, tape.append(code, dtype.arena, y, a, b, ia=ia, fa=fa, at=o), y, dtype)


def into(fwd, operands: tuple, y: np.ndarray) -> None:
    """``fwd(*operands, out=y)``; for a big ``y`` and a numpy ufunc over arrays of ``y``'s shape (and
    numbers), in parts on all cores (``in_parts``).  A ufunc gives every element the same bits in
    whichever slice it falls (its SIMD loops load a slice's ragged end masked, not by a scalar
    loop: ``tests/test_big_rows.py`` checks each op's), so the result is that of one call."""
    n = y.size
    if n < 2 * PART or type(fwd) is not np.ufunc:
        fwd(*operands, out=y)
        return
    flat = []
    for v in operands:
        if type(v) is np.ndarray:
            if v.shape != y.shape:
                fwd(*operands, out=y)       # (an operand broadcast: one call)
                return
            v = v.reshape(-1)
        flat.append(v)
    out = y.reshape(-1)
    in_parts(lambda lo, hi: fwd(*[v[lo:hi] if type(v) is np.ndarray else v for v in flat], out=out[lo:hi]), n)
