"""``Tensor``: a thin handle onto a value and, once recorded, onto a tape node.

Recording cost decides speed on scalar code, so the 0-d float64 case has a
fast path: such a tensor may keep its value as a Python float (``_f``) and
its ops compute with ``math`` and write a few integers into the tape's
columns.  ``_f`` is dropped as soon as the value could be shared (``.data``,
``detach``, ``numpy()``, views), after which the numpy array ``_v`` is the
storage; exactly one of ``_f``/``_v`` holds the value.

This module holds the handle only: storage, metadata, autograd attributes,
conversions and the in-place machinery.  Every op (``exp``, ``sum``,
``reshape``, ``+``, indexing ...) is defined in its family file in ``ops/`` and
installed as a method by ``tape/_install.py``, which also sets the members
that need modules above this one: ``grad_fn``, ``backward`` and the legacy
constructor ``Tensor(...)``.
"""
from __future__ import annotations

import math
import re
import warnings
import weakref
from typing import Iterator, Optional, Union

import numpy as np

from . import _dtype as D
from ._device import CPU, device
from . import _storage as _storages
from ._storage import TypedStorage, UntypedStorage
from ._format import tensor_repr
from ._layout import check_memory_format, in_format, layout as _Layout, strided
from ._pytorch_names import TENSOR, missing
from ._state import inplace_changes, mutated_rows, mutation_allowed, preserved_versions, state
from ._tape import DETACHED, Tape, unshare, write_tape
from ._warn import warn_once
from .ops._args import wrap_dim
from .ops._spec import INPUT, OUTPUT, PYTHON, REGISTRY, ROLES, input_saved, public

_new = object.__new__
# Like PyTorch, ops give inf/nan silently.  Numpy's floating-point warnings are
# attributed to the calling module, so this filter silences tape's own ops
# only, at the cost of a check of two references per op (np.errstate would cost
# about a microsecond each).
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"tape(\.|$)")
_QUIET = [warnings.filters[0]]


def quiet_numpy_warnings() -> None:
    """Put the filter above back in front when a filter was put before it (``simplefilter("error")``
    after ``import tape``) or the list was replaced (each ``warnings.catch_warnings`` block has its
    own list, as pytest's around each test, ``-W error`` included).  Called where a backward starts
    and on the ops' numpy paths."""
    filters = warnings.filters
    if not filters or filters[0] is not _QUIET[0]:
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"tape(\.|$)")
        _QUIET[0] = warnings.filters[0]


Number = Union[int, float, bool]


# PyTorch warns once per process (each time after ``set_warn_always(True)``) when float(), complex()
# or a numeric format reads a tensor that requires grad, multi-element ones too, before the error.
_SCALAR_WARNING = ("Converting a tensor with requires_grad=True to a scalar may lead to unexpected behavior.\n"
                   "Consider using tensor.detach() first. (Triggered internally at "
                   "/__w/pytorch/pytorch/torch/csrc/autograd/generated/python_variable_methods.cpp:822.)")

# C++'s names of the dtypes, as PyTorch's messages print them
_CPP_NAMES = {"float16": "c10::Half", "float32": "float", "float64": "double", "int8": "signed char",
              "int16": "short int", "int32": "int", "int64": "long int", "uint8": "unsigned char", "bool": "bool"}


class Size(tuple):
    """The shape of a tensor: a tuple of ints, printed as PyTorch prints it (``torch.Size([2, 3])``)."""

    def __repr__(self) -> str:
        return f"torch.Size({list(self)})"

    def numel(self) -> int:
        return math.prod(self)

    # (slices, sums and repeats of a Size are Sizes, as PyTorch's)
    def __getitem__(self, key):
        item = tuple.__getitem__(self, key)
        return Size(item) if type(key) is slice else item

    def __add__(self, other):
        out = tuple.__add__(self, other)
        return out if out is NotImplemented else Size(out)

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self)) if isinstance(other, tuple) else NotImplemented

    def __mul__(self, n):
        out = tuple.__mul__(self, n)
        return out if out is NotImplemented else Size(out)

    __rmul__ = __mul__


# --- handles (``tape._emit`` hands these to op definitions) ---------------------------
_inference_on = False      # some thread is in inference mode (``tape._grad_mode``)


def _plain(v: np.ndarray, dtype: D.dtype) -> "Tensor":
    """A tensor that is not recorded (a leaf)."""
    t = _new(Tensor)
    t._v = v
    t._dtype = dtype
    t._shape = v.shape
    if _inference_on and state.inference:
        t._inf = True
    return t


def _py_scalar(f: float) -> "Tensor":
    t = _new(Tensor)
    if _inference_on and state.inference:
        # An inference tensor keeps an array: the 0-d fast path, which records without
        # looking at its operands, never sees one.
        t._v = np.array(f)
        t._inf = True
    else:
        t._f = f
    return t


def _recorded(tape: Tape, node: int, v: np.ndarray, dtype: D.dtype) -> "Tensor":
    t = _new(Tensor)
    t._v = v
    t._dtype = dtype
    t._shape = v.shape
    t._tape = tape
    t._node = node
    t._rg = True
    return t


def _saved_as_input(tape: Tape, node: int) -> bool:
    """Whether a row after ``node`` saved its value as an input."""
    n = tape.n
    reads = (tape.a[node + 1:n] == node) | (tape.b[node + 1:n] == node) | (tape.ln[node + 1:n] != 0)
    for r in (node + 1 + np.flatnonzero(reads)).tolist():
        op = REGISTRY.get(int(tape.op[r]))
        if op is None or not op.saved:
            continue
        ins = tape.inputs_of(r)[:3]
        rg = [1 if tape.rg[x] else 0 for x in ins] + [0] * (3 - len(ins))
        if any(x == node and input_saved(op.saved, k, *rg) for k, x in enumerate(ins)):
            return True
    return False


def _flag_saved_alias(tape: Tape, r: int) -> None:
    """``x.mul_(x)``: the op saved its operand, which is the tensor it just changed, so
    its own row counts as recorded before the change (PyTorch raises at backward)."""
    if tape.hid[r]:
        r = int(tape.a[r])          # the op ran in a promoted dtype: its row feeds the cast
    if tape.ln[r]:
        # (a listed row, ``x.addcmul_(x, w)``: the inputs after the first that are the changed tensor)
        ins = tape.inputs_of(r)[:3]
        rg = [1 if tape.rg[x] else 0 for x in ins] + [0] * (3 - len(ins))
        saved = REGISTRY[int(tape.op[r])].saved
        for k in range(1, len(ins)):
            if ins[k] == ins[0] and input_saved(saved, k, *rg):
                tape.flag_modified(ins[k], r + 1)
        return
    b = int(tape.b[r])
    if b >= 0 and REGISTRY[int(tape.op[r])].saved & 2:
        tape.flag_modified(b, r + 1)


def _tape_of_gen(gen: int) -> Optional[Tape]:
    """This thread's current or spare tape of generation ``gen``, if it is still one of them."""
    for t in (state.tape, *state.spares):
        if t is not None and t.gen == gen:
            return t
    return None


def _recorded_inside(tape: Tape, row: int) -> bool:
    """Whether ``row`` was recorded inside ``allow_mutation_on_saved_tensors`` (still active)."""
    start = mutation_allowed[0]
    return start is not None and (tape.gen > start[0] or tape.gen == start[0] and row >= start[1])


def _flag(tape: Tape, node: int, cutoff: int, tensor=None) -> None:
    """``tape.flag_modified``, but for the rows recorded inside ``allow_mutation_on_saved_tensors``:
    the tape holds its own copy of every value it recorded, so those rows still use the value
    they saved, as PyTorch's clone of the original (the rows before the context are flagged)."""
    start = mutation_allowed[0]
    if start is not None and tape.gen >= start[0]:
        cutoff = min(cutoff, 0 if tape.gen > start[0] else start[1])
        if cutoff <= node:
            return          # (every row that reads ``node`` was recorded inside)
    tape.flag_modified(node, cutoff, tensor)


def _through_alias(t: "Tensor") -> None:
    """``t`` was changed in place and shares its storage with the tensors it was made from.

    Their recorded values are copies, so they take the new value, as PyTorch's saved tensors see
    the changed storage.  Sharing the version counter too (``detach()``, views), the change is
    visible to autograd: rows recorded before it that saved the value become stale.  A
    ``.data`` alias has a counter of its own: its changes are not seen.
    """
    roots = {}
    own = t._vb if t._vb is not None else t         # (its own views: the change's own path re-derives them)
    for ref, gen, node, ver, storage in t._origins:
        shared = ver is not None and ver is t._ver
        src = ref()
        if src is None:
            # Gone: no later op can read its row, but rows already recorded may have saved it.
            tape = _tape_of_gen(gen) if gen else None
            if tape is not None and not _recorded_inside(tape, node):
                tape.overwrite(node, storage)
                if shared:
                    tape.flag_modified(node, tape.n)
            continue
        if src._v is None or not np.may_share_memory(src._v, t._v):
            continue                # (its storage was replaced since, by ``.data = ...``)
        value = src._v
        rows = [(src._tape, src._node)] if src._tape is not None else []
        if src._ig:
            tape = _tape_of_gen(src._ig)
            if tape is not None:
                rows.append((tape, src._in))
        for tape, r in rows:
            if _recorded_inside(tape, r):
                # (``allow_mutation_on_saved_tensors``: the row keeps the value it saved for the
                # rows that read it; later ops read the new value from a row of its own)
                if tape is src._tape and r == src._node:
                    src._relink()
                else:
                    src._ig = 0
                continue
            tape.overwrite(r, value)
            if shared:
                tape.flag_modified(r, tape.n, src)
        root = src._vb if src._vb is not None else src
        if root._views and root is not own:
            roots[id(root)] = (root, shared)
    for root, shared in roots.values():
        if shared:
            # (their version changed: rows that saved them are stale, and PyTorch re-derives them)
            _flag_views(root, t)
            root._rederive_views()
        else:
            for ref, _, _ in root._views:
                v = ref()
                if v is not None and v._tape is not None and np.may_share_memory(v._v, root._v):
                    v._tape.overwrite(v._node, v._v)


# ``tape._dual``'s ``tangent`` and ``set_tangent``, once forward AD is loaded (it imports this module).
DUAL: list = []

# ``Tensor._vm``: a view made in no_grad mode, one of several outputs, or a recorded view of either
# (PyTorch passes their kind on to views of them); VIEW_INFERENCE, with VIEW_NO_GRAD or
# VIEW_OF_NO_GRAD: the view (or the view it derives from) was made in inference mode.
VIEW_NO_GRAD, VIEW_MULTI, VIEW_OF_NO_GRAD, VIEW_OF_MULTI, VIEW_INFERENCE = 1, 2, 4, 8, 16
# An output of a custom Function that is a view (of an input, or an input returned as it is), and a
# recorded view of one: PyTorch refuses in-place writes to them (they would bypass its backward).
VIEW_IN_FUNCTION, VIEW_OF_FUNCTION = 32, 64
FUNCTION_TAIL = ("This view was created inside a custom Function (or because an input was returned as-is) and the "
                 "autograd logic to handle view+inplace would override the custom backward associated with the "
                 "custom Function, leading to incorrect gradients. This behavior is forbidden. You can fix this by "
                 "cloning the output of the custom Function.")
NO_GRAD_TAIL = ("Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify your code by "
                "moving both the view and the inplace either both inside the no_grad block (if you don't want the "
                "inplace to be tracked) or both outside (if you want the inplace to be tracked).")
INFERENCE_TAIL = NO_GRAD_TAIL.replace("no_grad block", "inference_mode block")
MULTI_TAIL = ("This view is the output of a function that returns multiple views. Such functions do not allow the "
              "output views to be modified inplace. You should replace the inplace operation by an out-of-place one.")


def _multi_output(t: "Tensor") -> bool:
    """Whether ``t`` is recorded as one of the outputs of a built-in view op (``unbind``, ``split``)."""
    tape = t._tape
    return tape is not None and tape.op[t._node] == OUTPUT and tape.op[tape.a[t._node]] < PYTHON.start


def _inference_alias(base: "Tensor", v: np.ndarray) -> "Tensor":
    """A view op's result on an inference tensor: PyTorch tracks no views of those, so it is an
    inference tensor over the same memory, a leaf that requires no grad and is no view."""
    t = _plain(v, base._dtype)
    t._inf = True
    return t


def _link(t: "Tensor", base: "Tensor", v: np.ndarray, multi: bool = False) -> "Tensor":
    """Make ``t`` a view of ``base`` whose elements are ``v`` (a numpy view of ``base``'s storage),
    as PyTorch's views are: it shares the storage and the version counter of the root of the
    chain of views, and the root lists it, so that an in-place change of one re-derives the
    others (``ops/views.py``)."""
    root = base._vb if base._vb is not None else base
    t._v = v
    if t._inf is not base._inf:
        t._inf = base._inf          # a view is an inference tensor if its base is
    t._vb = root
    t._ver = root._shared_version()
    t._origins = base._origin()
    if multi:
        t._vm = VIEW_MULTI
    elif t._tape is not None and base._vm & (VIEW_IN_FUNCTION | VIEW_OF_FUNCTION):
        t._vm = VIEW_OF_FUNCTION
    elif t._tape is not None and (base._vm or _multi_output(base)):
        t._vm = (VIEW_OF_NO_GRAD | base._vm & VIEW_INFERENCE if base._vm & (VIEW_NO_GRAD | VIEW_OF_NO_GRAD)
                 else VIEW_OF_MULTI)
    views = root._views
    if views is None:
        views = root._views = []
    elif len(views) >= 16 and not len(views) & (len(views) - 1):
        views[:] = [e for e in views if e[0]() is not None]       # (at powers of two: amortized)
    tape = t._tape
    views.append((weakref.ref(t), tape.gen if tape is not None else 0, t._node))
    return t


# tape -> (its generation, the rows of views flagged by ``_flag_views``): PyTorch's saved tensor
# of such a row is the view, whose node is re-derived after the change (``AsStridedBackward0``),
# where a row flagged in a tensor's own name is that tensor's.
_VIEW_ROWS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _flag_views(root: "Tensor", changed: "Tensor") -> None:
    """The storage of ``root`` changed (through ``changed``, itself or one of its views): the nodes
    of its other views (those gone too: rows may have saved them) count as changed in place."""
    for ref, gen, node in root._views:
        t = ref()
        if t is changed:
            continue
        tape = t._tape if t is not None else _tape_of_gen(gen) if gen else None
        if tape is not None:
            node = t._node if t is not None else node
            _flag(tape, node, tape.n, t if t is not None else root)
            rows = _VIEW_ROWS.get(tape)
            if rows is None or rows[0] != tape.gen:
                rows = _VIEW_ROWS[tape] = (tape.gen, set())
            rows[1].add(node)


def _flagged_view_row(tape: Tape, node: int) -> bool:
    """Whether ``node`` is the row of a view that a change of its storage flagged (``_flag_views``)."""
    rows = _VIEW_ROWS.get(tape)
    return rows is not None and rows[0] == tape.gen and node in rows[1]


def _check_repeats(v: Optional[np.ndarray]) -> None:
    """PyTorch's refusal of an in-place write into elements that share memory (a 0 stride)."""
    if v is not None and 0 in v.strides and v.size and any(s == 0 and n > 1 for s, n in zip(v.strides, v.shape)):
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a "
                           "single memory location. Please clone() the tensor before performing the operation.")


def _writable(view: np.ndarray, root: np.ndarray) -> np.ndarray:
    """``view`` (of ``root``'s memory), writable: numpy makes a broadcast view read-only, PyTorch
    writes through an expanded tensor (a fill, or a part of it whose elements do not share memory)."""
    if view.flags.writeable or not root.flags.c_contiguous or not root.flags.writeable:
        return view
    k = (view.__array_interface__["data"][0] - root.__array_interface__["data"][0]) // root.itemsize
    return np.lib.stride_tricks.as_strided(root.reshape(-1)[k:], view.shape, view.strides)


def _check_view_inplace(t: "Tensor", fill: bool = False, operands: tuple = ()) -> None:
    """PyTorch's refusals of an in-place change through a view, before anything is computed (a
    ``fill`` writes one value everywhere: elements sharing memory do not matter; ``operands``: what
    the op reads besides ``t``; autograd's refusals come before the kernel's, of repeated elements)."""
    # (a view's base that came to require grad after the view was made makes the view require it)
    if not ((t._rg or t._vb._rg) and state.grad):
        if t._vm and state.grad and any(isinstance(o, Tensor) and o._rg for o in operands):
            _refuse_view(t)     # (an operand that requires grad makes the change recorded: refused first)
    else:
        if t._vm or t._rebased is not None:     # (an output of a multi-output view op, re-derived: its text first)
            _refuse_view(t)
        root = t._vb
        # (a leaf made of a view, ``base.reshape(...).requires_grad_()``, is a view of a leaf to PyTorch)
        if root._tape is None and (t._tape is None or root._rg and t._tape.op[t._node] != OUTPUT):
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
    if not fill:
        _check_repeats(t._v)


# Roots whose own layout ``as_strided_`` changed to a part of their storage: id -> (weak
# reference, the storage), as the tensor's array no longer starts where its storage does.
STRIDED_ROOTS: dict = {}


def storage_of(root: "Tensor") -> Optional[np.ndarray]:
    """The array of the storage that the root of a chain of views ``root`` holds."""
    entry = STRIDED_ROOTS.get(id(root))
    if entry is not None and entry[0]() is root:
        return entry[1]
    return root._v


def _dense(v: np.ndarray) -> bool:
    """PyTorch's ``is_non_overlapping_and_dense``: some order of the dims of size 2 or more steps
    through the elements one after another."""
    dims = sorted((s, n) for s, n in zip(v.strides, v.shape) if n > 1)
    step = v.itemsize
    for s, n in dims:
        if s != step:
            return False
        step *= n
    return True


def _owner(a: np.ndarray):
    """The object holding ``a``'s memory (arrays with different owners do not overlap); numpy's
    ``as_strided`` puts an object of its own with a ``base`` between a view and its array."""
    while True:
        b = getattr(a, "base", None)
        if b is None:
            return a
        a = b


def _check_overlap(out: np.ndarray, v: np.ndarray) -> None:
    """PyTorch's refusal of an in-place write into ``out`` by an op that reads ``v`` when some of
    their elements are the same memory and some are not (``b.mul_(b.t())``, ``x[1:].add_(x[:-1])``).
    It tells only for layouts without gaps or repeats, and allows both at the same place with
    the same strides (``x.add_(x.detach())``)."""
    if not (out.size and v.size and np.may_share_memory(out, v) and _dense(out) and _dense(v)):
        return
    a = out.__array_interface__["data"][0]
    b = v.__array_interface__["data"][0]
    if a == b and out.nbytes == v.nbytes and out.shape == v.shape and all(
            so == sv for so, sv, n in zip(out.strides, v.strides, out.shape) if n > 1):
        return      # (the same elements in the same places: a size-1 dim's stride tells nothing)
    if a < b + v.nbytes and b < a + out.nbytes:
        raise RuntimeError("unsupported operation: some elements of the input tensor and the written-to tensor "
                           "refer to a single memory location. Please clone() the tensor before performing the "
                           "operation.")


def _assert_no_overlap(out: np.ndarray, v: np.ndarray) -> None:
    """PyTorch's ``assert_no_overlap`` in an indexed write (``index_put_``, ``scatter_``, ``put_`` ...):
    its source or index may share no memory with the written-to tensor, not even all of it (as an
    elementwise op may); layouts with gaps or repeats are not checked, as PyTorch's."""
    if not (out.size and v.size and np.may_share_memory(out, v) and _dense(out) and _dense(v)):
        return
    a = out.__array_interface__["data"][0]
    b = v.__array_interface__["data"][0]
    if a < b + v.nbytes and b < a + out.nbytes:
        raise RuntimeError("unsupported operation: some elements of the input tensor and the written-to tensor "
                           "refer to a single memory location. Please clone() the tensor before performing the "
                           "operation.")


def _refuse_view(t: "Tensor") -> None:
    """A view made without recording (in no_grad mode, or one of several outputs), or a view of
    one, is changed in place by a recorded op."""
    if t._rebased is not None and t._rebased[1] is not None:
        raise RuntimeError(t._rebased[1])
    if t._vm & (VIEW_OF_NO_GRAD | VIEW_OF_MULTI | VIEW_OF_FUNCTION) or t._vm & VIEW_IN_FUNCTION and t._tape is not None:
        raise RuntimeError(_derived_texts(t)[1])
    if t._vm & VIEW_INFERENCE:
        raise RuntimeError("A view was created in inference mode and is being modified inplace in normal mode. "
                           + INFERENCE_TAIL)
    text = ("A view was created in no_grad mode and is being modified inplace with grad mode enabled. ")
    tail = FUNCTION_TAIL if t._vm & VIEW_IN_FUNCTION else NO_GRAD_TAIL if t._vm & VIEW_NO_GRAD else MULTI_TAIL
    raise RuntimeError(text + tail)


def _node_word(name: str) -> str:
    """A node's name as PyTorch's view errors write it: ``SqueezeBackward2`` is ``Squeeze2``,
    ``UnbindBackward0`` is ``Unbind``, a custom Function's ``BackwardHookFunctionBackward`` is
    ``BackwardHookFunction`` (the suffix only)."""
    return re.sub(r"Backward(?:0)?(?=\d*$)", "", name, count=1)


def _derived_texts(t: "Tensor") -> tuple:
    """PyTorch's errors for a recorded view of a view made in no_grad mode or of an output of a
    multi-output view op: (its base changed in place, the view itself changed in place)."""
    out = f"Output {t.output_nr} of {_node_word(type(t.grad_fn).__name__)} is a view "
    if t._vm & VIEW_INFERENCE:
        out += "of a view which was created in inference mode and "
        return (out + "its base or another view of its base has been modified inplace in normal mode. "
                + INFERENCE_TAIL, out + "is being modified inplace in normal mode. " + INFERENCE_TAIL)
    if t._vm & (VIEW_IN_FUNCTION | VIEW_OF_FUNCTION):
        out += "and "
        return (out + "its base or another view of its base has been modified inplace. " + FUNCTION_TAIL,
                out + "is being modified inplace. " + FUNCTION_TAIL)
    if t._vm & VIEW_OF_NO_GRAD:
        out += "of a view which was created in no_grad mode and "
        return (out + "its base or another view of its base has been modified inplace with grad mode enabled. "
                + NO_GRAD_TAIL, out + "is being modified inplace with grad mode enabled. " + NO_GRAD_TAIL)
    out += "and "
    return (out + "its base or another view of its base has been modified inplace. " + MULTI_TAIL,
            out + "is being modified inplace. " + MULTI_TAIL)


_NO_GRAD_REBASED = ("A view was created in no_grad mode and its base or another view of its base has been modified "
                    "inplace with grad mode enabled. " + NO_GRAD_TAIL)
_INFERENCE_REBASED = ("A view was created in inference mode and its base or another view of its base has been "
                      "modified inplace in normal mode. " + INFERENCE_TAIL)


def _refuse_rebased(t: "Tensor", root: "Tensor") -> bool:
    """PyTorch gives no node to a view made in no_grad mode (of a tensor that requires grad) or to
    an output of a multi-output view op once their storage changed: their ``grad_fn`` and any
    recorded use raise (``Tensor._rebased``: the texts for that and for an in-place change of the
    view itself, read by ``tape._graph.grad_fn``, ``Tape.import_`` and ``Tensor._check_inplace``)."""
    tape = t._tape
    if t._vm & VIEW_NO_GRAD and root._rg:
        text = _INFERENCE_REBASED if t._vm & VIEW_INFERENCE else _NO_GRAD_REBASED
        if t._vm & VIEW_IN_FUNCTION:
            text = text.replace(NO_GRAD_TAIL, FUNCTION_TAIL)
        texts = (text, None)        # (changed in place itself: ``Tensor._check_inplace``'s text)
        t._rg = True        # (as its base now: a recorded use of it raises, as PyTorch's)
    elif tape is not None and t._vm & (VIEW_OF_NO_GRAD | VIEW_OF_MULTI | VIEW_IN_FUNCTION | VIEW_OF_FUNCTION):
        texts = _derived_texts(t)
    elif _multi_output(t):
        output = f"Output {int(tape.ia[t._node])} of " \
                 f"{_node_word(REGISTRY[int(tape.op[tape.a[t._node]])].grad_fn)} is a view and "
        texts = (output + "its base or another view of its base has been modified inplace. " + MULTI_TAIL,
                 output + "is being modified inplace. " + MULTI_TAIL)
    else:
        return False
    if t._retains and tape is not None:
        tape.retained.pop(t._node, None)
    t._rebased = texts
    t._tape = None
    t._node = -1
    t._ig = 0
    return True


# --- the tensor ---------------------------------------------------------------------
class _NotYet:
    """Tensor's base: for each member of PyTorch's Tensor that tape does not have, a descriptor saying
    so when read (``mark_missing``).  Tensor defines no ``__getattr__``, which would do the same for
    names not found but put every attribute read of every tensor on Python's slow path (Python 3.11
    specializes attribute reads only of types with the generic lookup): a sixth of a 0-d op."""

    __slots__ = ()


class _Missing:
    """A member of PyTorch's Tensor that tape does not have: reading it raises ``NotSupportedYet``
    (an AttributeError).  Not a data descriptor: an instance's own attribute of that name wins."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj, owner=None):
        raise missing("Tensor", self.name, TENSOR, "Tensor")


def mark_missing() -> None:
    """Put a ``_Missing`` in ``_NotYet`` for each member of PyTorch's Tensor that Tensor lacks, once
    its members are installed (dunder names are left out: protocols look them up on the type)."""
    for name in TENSOR:
        if not (name.startswith("__") and name.endswith("__")) and name not in _NotYet.__dict__ \
                and not hasattr(Tensor, name):
            setattr(_NotYet, name, _Missing(name))



def _dim_of_sizes(fn: str, dim: int, shape: tuple) -> int:
    """``dim`` wrapped to index ``size()`` or ``stride()``: a 0-d tensor has no dim to read (unlike the
    reductions, which take dims -1 and 0 of a 0-d tensor)."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{fn}(): argument 'dim' (position 1) must be int, not {type(dim).__name__}")
    if not shape:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return wrap_dim(dim, len(shape))

class Tensor(_NotYet):
    r"""A multi-dimensional array that records the operations done on it.

    ``Tensor(data)`` is the legacy constructor: a list of numbers gives a tensor
    of the default float dtype, integers give an uninitialized tensor of that
    size (``Tensor(2, 3)``).  Prefer :func:`tape.tensor`.
    """

    # Class-level defaults keep handle creation cheap: a new tensor sets only
    # what differs from these.
    _v = None            # numpy storage, or None while ``_f`` holds a 0-d float64 value
    _f = None
    _dtype = D.float64   # (every tensor but those of the 0-d fast path sets dtype and shape)
    _shape = ()
    _tape = None         # the tape and node that produced it (None for leaves)
    _node = -1
    _rg = False
    _grad = None
    _ver = None          # shared version counter [n], created when first needed
    _ig = 0              # import cache: tape generation, version and node
    _iv = 0
    _in = -1
    _retains = False
    _origins = None      # an alias (.data, detach(), a view): what it shares storage with (``_origin``)
    _of_grad = False     # a .grad made by a recorded backward (its fill_/zero_ records apart: ``emit_apart``)
    _inf = False         # an inference tensor (made in inference mode)
    _vb = None           # a view: the tensor it views (the root of a chain of views), whose storage ``_v`` shares
    _vm = 0              # a view: how it was made (VIEW_NO_GRAD, VIEW_MULTI: PyTorch refuses in-place writes then)
    _views = None        # a root with views: ``[(weakref, tape generation, node)]``, one per view (``_link``)
    _rebased = None      # a view PyTorch gives no node after its storage changed: its errors (``ops/views.py``)
    _gdt = None          # ``grad_dtype`` set: the dtype, or False for None (any dtype)
    _cref = None         # the ``ConstRef`` of its last import as a constant (``Tape.import_``)
    __hash__ = object.__hash__

    # -- storage --------------------------------------------------------------
    def _value(self) -> np.ndarray:
        f = self._f
        return np.array(f) if f is not None else self._v

    def _storage(self) -> np.ndarray:
        """The array holding the value, made shareable (drops the float fast path)."""
        if self._f is not None:
            self._v = np.array(self._f)
            self._f = None
        return self._v

    def _shared_version(self) -> list:
        if self._ver is None:
            self._ver = [0]
        return self._ver

    def _alias(self, v: np.ndarray, dtype=None) -> "Tensor":
        t = _plain(v, dtype or self._dtype)
        if t._inf is not self._inf:
            t._inf = self._inf          # a view is an inference tensor if its base is
        t._ver = self._shared_version()
        t._origins = self._origin()
        return t

    def _origin(self) -> tuple:
        """For a new alias of this tensor: ``(weakref, tape generation, node, version counter, storage)``
        of this tensor, its value's row now (its own, or a leaf's last import), then the same of the
        tensors it aliases in turn."""
        tape = self._tape
        here = (weakref.ref(self), tape.gen if tape is not None else self._ig,
                self._node if tape is not None else self._in, self._ver, self._v)
        return (here,) + self._origins if self._origins is not None else (here,)

    def _view_alias(self, v: np.ndarray, multi: bool = False) -> "Tensor":
        """A view made without recording (grad mode off, or a base that does not require grad): like
        PyTorch, it keeps ``requires_grad`` of its base but has no ``grad_fn``."""
        if self._inf:
            return _inference_alias(self, v)
        t = _plain(v, self._dtype)
        t._rg = self._rg and not self._inf       # (a view of an inference tensor never requires grad)
        _link(t, self, v, multi)
        if state.inference:
            t._vm |= VIEW_NO_GRAD | VIEW_INFERENCE
        elif not state.grad:
            t._vm |= VIEW_NO_GRAD
        return t

    # -- metadata ------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self._shape)

    def size(self, dim: Optional[int] = None):
        """Return the size of the tensor, or of dimension ``dim``."""
        if dim is None:
            return Size(self._shape)
        return self._shape[_dim_of_sizes("size", dim, self._shape)]

    @property
    def dtype(self) -> D.dtype:
        return self._dtype

    @property
    def ndim(self) -> int:
        return len(self._shape)

    def dim(self) -> int:
        return len(self._shape)

    def ndimension(self) -> int:
        return len(self._shape)

    def numel(self) -> int:
        return math.prod(self._shape)

    nelement = numel

    @property
    def device(self) -> device:
        return CPU

    is_cuda = False
    is_cpu = True
    is_meta = False
    # PyTorch's other layouts and backends, none of which tape has
    is_sparse = is_sparse_csr = is_quantized = is_mkldnn = is_nested = False
    is_mps = is_xpu = is_xla = is_ipu = is_mtia = is_maia = is_vulkan = False

    def is_pinned(self, device=None) -> bool:
        """False: no memory is pinned without an accelerator."""
        return False

    def pin_memory(self, device=None) -> "Tensor":
        """Raises PyTorch's error of a machine without an accelerator."""
        raise RuntimeError("Cannot access accelerator device when none is available.")

    def sparse_dim(self) -> int:
        """0: a strided tensor has no sparse dims."""
        return 0

    def dense_dim(self) -> int:
        """Every dim of a strided tensor is dense."""
        return len(self._shape)

    def get_device(self) -> int:
        """-1: the tensor is on the CPU."""
        return -1

    def is_floating_point(self) -> bool:
        return self._dtype.is_floating_point

    def is_complex(self) -> bool:
        """False: tape has no complex dtypes."""
        return False

    def is_signed(self) -> bool:
        """Whether the dtype is signed (every dtype but bool and uint8)."""
        return self._dtype.is_signed

    def is_nonzero(self) -> bool:
        """Whether the tensor's one element is not zero."""
        n = self.numel()
        if n != 1:
            raise RuntimeError("Boolean value of Tensor with " + ("no values" if n == 0 else "more than one value")
                               + " is ambiguous")
        return bool(self._value().reshape(()) != 0)

    def is_same_size(self, other: "Tensor") -> bool:
        """Whether ``other`` has this tensor's shape."""
        if not isinstance(other, Tensor):
            raise TypeError(f"is_same_size(): argument 'other' (position 1) must be Tensor, not "
                            f"{type(other).__name__}")
        return self._shape == other._shape

    def __len__(self) -> int:
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    def is_contiguous(self, memory_format=None) -> bool:
        """Whether the elements are laid out in row-major order without gaps (a transpose or an
        expand is not; ``contiguous()`` makes a copy that is), or in ``memory_format``'s order."""
        fmt = check_memory_format(memory_format, "is_contiguous")
        return self._f is not None or in_format(self._v, fmt)

    @property
    def layout(self) -> _Layout:
        """The memory layout: always ``tape.strided``."""
        return strided

    def stride(self, dim: Optional[int] = None):
        """Elements to step in storage to move one index along each dim."""
        strides = () if self._f is not None else tuple(s // self._v.itemsize for s in self._v.strides)
        return strides if dim is None else strides[_dim_of_sizes("stride", dim, self._shape)]

    def storage_offset(self) -> int:
        """Elements between the start of the storage and the tensor's first element (a view's
        place in the tensor it views; 0 for any other)."""
        storage = self._strided_storage()
        if storage is None or not np.may_share_memory(storage, self._v):
            return 0
        return (self._v.__array_interface__["data"][0] - storage.__array_interface__["data"][0]) // self._v.itemsize

    @property
    def _base(self) -> Optional["Tensor"]:
        """The tensor this view views (the root of a chain of views), None for a tensor that is not a view
        (an inference tensor is never one: PyTorch keeps no view relation for them)."""
        return None if self._inf else self._vb

    def _is_view(self) -> bool:
        """Whether this tensor is a view of another one (shares its storage and version counter)."""
        return self._vb is not None and not self._inf

    def data_ptr(self) -> int:
        """The address of the tensor's first element (views share their base's memory)."""
        return self._storage().__array_interface__["data"][0]

    def _strided_storage(self) -> Optional[np.ndarray]:
        """The array that ``storage_offset`` and ``as_strided`` count in: the root's storage, or for
        a tensor that is no view the bigger array it aliases (``detach()`` or ``.data`` of a view
        shares the view's storage in PyTorch, offset included)."""
        if self._vb is not None:
            return self._vb._strided_storage()
        storage = storage_of(self)
        if self._origins and storage is not None:
            wider = self._storage_root()
            if wider.size > storage.size:
                return wider
        return storage

    def _storage_root(self) -> np.ndarray:
        """The array of the storage the elements live in: the root of the chain of views, or the
        biggest of the arrays this tensor aliases (``detach()``, ``.data``) that shares its memory."""
        own = (self._vb if self._vb is not None else self)._storage()
        best = own
        for entry in self._origins or ():
            v = entry[4]
            if v is not None and v.size > best.size and np.may_share_memory(v, own):
                best = v
        return best

    def untyped_storage(self) -> UntypedStorage:
        """The storage holding the tensor's elements, as bytes (one for all views of a tensor)."""
        return _storages.untyped_storage(self._storage_root())

    def storage(self) -> TypedStorage:
        """The storage holding the tensor's elements, typed as the tensor (deprecated, as in
        PyTorch: use ``untyped_storage()``)."""
        return _storages.typed_storage(self._storage_root(), self._dtype)

    # -- autograd attributes ----------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.deleter
    def requires_grad(self) -> None:
        raise RuntimeError("requires_grad must be a bool")

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        flag = bool(flag)
        if self._tape is not None:
            if flag:
                raise RuntimeError("you can only change requires_grad flags of leaf variables.")
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
        if flag and not self._dtype.is_floating_point:
            raise RuntimeError("only Tensors of floating point and complex dtype can require gradients")
        if flag and self._inf and not state.inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside InferenceMode is not allowed.")
        self._rg = flag
        self._ig = 0

    @requires_grad.deleter
    def requires_grad(self) -> None:
        raise RuntimeError("requires_grad must be a bool")

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` in place and return ``self``."""
        if requires_grad and not self._dtype.is_floating_point:
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        if requires_grad and self._tape is not None:
            return self                 # a recorded tensor already requires grad
        self.requires_grad = requires_grad
        return self

    @property
    def output_nr(self) -> int:
        """Which output of its ``grad_fn`` this tensor is (0 for a leaf)."""
        tape = self._tape
        return int(tape.ia[self._node]) if tape is not None and tape.op[self._node] == OUTPUT else 0

    def is_inference(self) -> bool:
        """Whether this is an inference tensor (made in inference mode)."""
        return self._inf

    @property
    def is_leaf(self) -> bool:
        if self._rebased is not None:
            raise RuntimeError(self._rebased[0])
        return self._tape is None

    @property
    def grad(self) -> Optional["Tensor"]:
        if self._tape is not None and not self._retains:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
                "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
                "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
                "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
                "instead. See github.com/pytorch/pytorch/pull/30531 for more information. (Triggered "
                "internally at /__w/pytorch/pytorch/build/aten/src/ATen/core/TensorBody.h:493.)", UserWarning,
                stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, g: Optional["Tensor"]) -> None:
        if g is not None:
            if not isinstance(g, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                f"{type(g).__name__}")
            allowed = self._dtype if self._gdt is None else self._gdt
            if allowed and g._dtype is not allowed:
                raise RuntimeError(f"attempting to assign a gradient with dtype '{_CPP_NAMES[g._dtype.name]}' "
                                   f"to a tensor with grad_dtype '{D.legacy_name(allowed)}'. The gradient must match "
                                   "the tensor's grad_dtype (defaults to the tensor's dtype). You can set the "
                                   "tensor's grad_dtype attribute with a specific dtype, or None to allow any dtype. "
                                   "Set grad_dtype with caution. Diverging the dtypes of a tensor and its gradient "
                                   "may break downstream systems that assume they match.")
            if g._shape != self._shape:
                raise RuntimeError(f"attempting to assign a gradient of size '{list(g._shape)}' to a tensor of size "
                                   f"'{list(self._shape)}'. Please ensure that the gradient and the tensor are the "
                                   "same size")
            if g is self:
                raise RuntimeError("can't assign Variable as its own grad")
        self._grad = g

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    @property
    def grad_dtype(self) -> Optional[D.dtype]:
        """The allowed dtype of :attr:`grad` for this (leaf) tensor: its own dtype by default.  When not
        None, the gradients backward gives the tensor are cast to it; None allows any dtype."""
        if self._tape is not None:
            raise RuntimeError("grad_dtype can only be accessed on leaf tensors.")
        return self._dtype if self._gdt is None else self._gdt or None

    @grad_dtype.setter
    def grad_dtype(self, dtype: Optional[D.dtype]) -> None:
        if self._tape is not None:
            raise RuntimeError("grad_dtype can only be set on leaf tensors.")
        if dtype is not None and not isinstance(dtype, D.dtype):
            raise RuntimeError(f"grad_dtype must be a torch.dtype or None, but got {type(dtype).__name__}")
        g = self._grad
        if dtype is not None and g is not None and g._dtype is not dtype:
            raise RuntimeError(f"Cannot set grad_dtype to '{D.legacy_name(dtype)}' because there is already a gradient "
                               f"with dtype '{_CPP_NAMES[g._dtype.name]}'. Please clear the gradient (.grad = None) "
                               "before changing grad_dtype, or ensure the new grad_dtype matches the existing "
                               "gradient's dtype.")
        self._gdt = False if dtype is None else dtype

    def retain_grad(self) -> None:
        """Make this non-leaf tensor keep its ``.grad`` after backward."""
        if not self._rg:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._rebased is not None:
            raise RuntimeError(self._rebased[0])
        if self._tape is not None and not self._retains:
            self._retains = True
            tape, node = self._history()
            tape.retained[node] = weakref.ref(self)

    def _history(self) -> tuple:
        """The tape and node standing for this non-leaf tensor in a backward: past the rows that
        linked it to its history after changes under no_grad (a hidden copy, or its import onto a
        newer tape), since PyTorch keeps the tensor's node through such changes, and the uses
        from before them count."""
        tape, node = self._tape, self._node
        while True:
            if tape.op[node] == ROLES.clone and tape.hid[node]:
                node = int(tape.a[node])
            elif tape.op[node] == INPUT and type(tape.src.get(node)) is tuple:
                tape, node = tape.src[node]
            else:
                return tape, node

    @property
    def retains_grad(self) -> bool:
        return self._retains

    @property
    def _version(self) -> int:
        if self._inf:
            raise RuntimeError("Inference tensors do not track version counter.")
        return self._ver[0] if self._ver is not None else 0

    @property
    def _vnum(self) -> int:
        """The version counter as tape's own bookkeeping reads it (0 for an inference tensor, whose
        ``_version`` PyTorch refuses)."""
        return self._ver[0] if self._ver is not None else 0

    @property
    def data(self) -> "Tensor":
        # Shares the storage, not the version counter: changes through it are invisible to autograd.
        v = self._storage()
        if not v.flags.writeable and self._vb is not None:
            v = _writable(v, self._vb._storage())     # (an expanded view's alias is written through too, as detach's)
        t = _plain(v, self._dtype)
        t._origins = self._origin()
        return t

    @data.setter
    def data(self, other: "Tensor") -> None:
        if not isinstance(other, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(other).__name__}")
        if self._rg and not other._dtype.is_floating_point:
            raise RuntimeError("data set to a tensor that requires gradients must be floating point or complex dtype")
        self._v = other._storage()
        self._f = None
        self._dtype = other._dtype
        self._shape = other._shape
        self._ig = 0

    @data.deleter
    def data(self) -> None:
        raise RuntimeError("Deleting tensor data is not allowed. Delete tensor instead!")

    @staticmethod
    def _make_subclass(cls: type, data: "Tensor", require_grad: bool = False) -> "Tensor":
        """A ``cls`` (a subclass of Tensor) sharing ``data``'s storage and version counter, detached from
        its graph (a leaf), requiring grad if ``require_grad``: how ``nn.Parameter`` is made."""
        if not (isinstance(cls, type) and issubclass(cls, Tensor)):
            raise TypeError("Creating a Tensor subclass from a class that does not inherit from Tensor is not "
                            "possible. Make sure your class inherits from Tensor.")
        if not isinstance(data, Tensor):
            raise TypeError(f"_make_subclass(): argument 'data' (position 2) must be Tensor, not {type(data).__name__}")
        if require_grad and not data._dtype.is_floating_point:
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        t = data.detach()
        t.__class__ = cls
        if require_grad:
            t.requires_grad = True
        return t

    def detach(self) -> "Tensor":
        """A new tensor sharing storage, detached from the graph (a leaf)."""
        v = self._storage()
        if not v.flags.writeable and self._vb is not None:
            v = _writable(v, self._vb._storage())     # (an expanded view's alias is written through too)
        return self._alias(v)

    def detach_(self) -> "Tensor":
        """Detach this tensor from the graph in place; it becomes a leaf."""
        if self._vb is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead. If you are using "
                               "DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set as "
                               "True, gradients are views of DDP buckets, and hence detach_() cannot be called on "
                               "these gradients. To fix this error, please refer to the Optimizer.zero_grad() "
                               "function in torch/optim/optimizer.py as the solution.")
        if self._tape is not None:
            tape, node = self._tape, self._node
            if _saved_as_input(tape, node):
                # (PyTorch's saved input is the tensor itself, whose history is now gone: the rows
                # that saved it refuse at backward)
                tape.flag_modified(node, tape.n)
                tape.mods[node] = (weakref.ref(self), None, DETACHED)
            self._tape = None
            self._node = -1
        self._rg = False
        self._ig = 0
        if DUAL:
            DUAL[1](self, None)         # (detached for forward AD too, as PyTorch's)
        return self

    # -- conversion ------------------------------------------------------------------
    def item(self) -> Number:
        """The value of a one-element tensor as a Python number."""
        if self._f is not None:
            return self._f
        n = self.numel()
        if n != 1:
            raise RuntimeError(f"a Tensor with {n} elements cannot be converted to Scalar")
        return self._v.reshape(-1)[0].item()

    def tolist(self) -> Union[list, Number]:
        return self._value().tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The value as a numpy array sharing storage with the tensor."""
        # PyTorch refuses only while grad mode is on (a custom Function's forward reads its inputs so).
        if self._rg and state.grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self._storage()

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        v = self._value()
        return v if dtype is None else v.astype(dtype)

    def __float__(self) -> float:
        if self._rg and state.grad:     # (PyTorch warns in grad mode only: an optimizer's step reads losses)
            warn_once(_SCALAR_WARNING)
        return float(self._one())

    def __int__(self) -> int:
        return int(self._one())

    def __index__(self) -> int:
        if self._dtype.is_floating_point or self._dtype is D.bool_:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._one())

    def __bool__(self) -> bool:
        n = self.numel()
        if n != 1:
            if n == 0:
                raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def _one(self):
        if self.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self.item()

    def __repr__(self, *, tensor_contents=None) -> str:
        fn = self.grad_fn if self._rebased is None else None
        tan = DUAL[0](self) if DUAL else None      # (a dual tensor shows its tangent, as PyTorch's)
        name = None if fn is None else type(fn).__name__
        if name == "CppFunction":
            name = fn.name().rsplit("::", 1)[-1]       # (as PyTorch's repr names such a node)
        cls = type(self)
        # (a subclass prints its name, as PyTorch's, but for ``nn.Parameter``, which says so on a line before)
        prefix = "tensor(" if cls is Tensor or cls.__dict__.get("_plain_repr") else cls.__name__ + "("
        return tensor_repr(self._value(), self._dtype, D.get_default_dtype(),
                           "Invalid" if self._rebased is not None else name, self._rg, None if tan is None else f"{tan}",
                           prefix)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        if self.dim() == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __iter__(self) -> Iterator["Tensor"]:
        if not self._shape:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def cpu(self) -> "Tensor":
        return self

    def to_dense(self, dtype: Optional[D.dtype] = None, *, masked_grad: Optional[bool] = None) -> "Tensor":
        """A strided copy of the tensor: tape's tensors are all strided, so the tensor itself (as
        PyTorch returns a strided one), converted to ``dtype`` when that is another dtype."""
        if dtype is not None and not isinstance(dtype, D.dtype):
            raise TypeError(f"to_dense(): argument 'dtype' (position 1) must be torch.dtype, not {type(dtype).__name__}")
        if masked_grad is not None and not isinstance(masked_grad, bool):
            raise TypeError(f"to_dense(): argument 'masked_grad' must be bool, not {type(masked_grad).__name__}")
        return self if dtype is None or dtype is self._dtype else self.to(dtype)

    # -- in-place ----------------------------------------------------------------------
    def _check_inplace(self, *operands, fill: bool = False) -> None:
        """PyTorch's refusals of an in-place change of this tensor (by an op reading ``operands``;
        ``fill``: writing one number everywhere), before anything is computed."""
        if self._inf and not state.inference:
            raise RuntimeError("Inplace update to inference tensor outside InferenceMode is not allowed.You can make "
                               "a clone to get a normal tensor before doing inplace update.See "
                               "https://github.com/pytorch/rfcs/pull/17 for more details.")
        if self._vb is not None:
            _check_view_inplace(self, fill, operands)
        elif not fill:
            _check_repeats(self._v)         # (``empty_strided``'s, ``from_numpy``'s of a broadcast array)
        if self._rg and state.grad:
            tape = self._tape
            if self._rebased is not None and self._rebased[1] is not None:
                raise RuntimeError(self._rebased[1])
            if tape is None:
                raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
            if tape.op[self._node] == OUTPUT and tape.op[tape.a[self._node]] < PYTHON.start:
                # (A built-in op's outputs are views; a custom Function's outputs are its own.)
                node = _node_word(REGISTRY[int(tape.op[tape.a[self._node]])].grad_fn)
                raise RuntimeError(f"Output {int(tape.ia[self._node])} of {node} is a view and is being modified "
                                   "inplace. This view is the output of a function that returns multiple views. "
                                   "Such functions do not allow the output views to be modified inplace. You should "
                                   "replace the inplace operation by an out-of-place one.")
        for t in operands:
            if isinstance(t, Tensor) and t is not self:
                if t._rebased is not None and state.grad:
                    raise RuntimeError(t._rebased[0])       # (autograd reads the operand's node first)
                v, w = self._v, t._v
                if v is not None and w is not None and _owner(v) is _owner(w):
                    _check_overlap(v, w)

    def _inplace(self, result: "Tensor", operand=None, fill: bool = False) -> "Tensor":
        """Make ``self`` hold ``result`` in place (the op was computed out of place from
        ``self`` and ``operand``; ``fill``: one number written everywhere)."""
        self._check_inplace(fill=fill)
        if result._shape != self._shape:
            raise RuntimeError(f"output with shape {list(self._shape)} doesn't match the broadcast shape "
                               f"{list(result._shape)}")
        rd, sd = result._dtype, self._dtype
        if rd is not sd and (rd._cat > sd._cat):
            # PyTorch casts a result into any dtype of the same or a higher category.
            raise RuntimeError(f"result type {D.legacy_name(rd)} can't be cast to the "
                               f"desired output type {D.legacy_name(sd)}")
        if result._tape is not None and rd is not sd:
            # The op ran in the promoted dtype; its result is cast back, inside the op as in PyTorch.
            result = result.to(sd)
            result._tape.hid[result._node] = 1
        if self._vb is not None and result._tape is not None:
            if self._vm:
                _refuse_view(self)
            if self._tape is not None:
                # PyTorch's CopySlices sends the change's gradient to the base's node, past the view's:
                # the hooks registered on the view before (``register_hook``) no longer fire.
                tape, node = self._history()
                hooks = tape.hooks.get(node)
                if hooks is not None:
                    hooks.tensor.clear()
            return self._write_view(result, operand)        # (``ops/views.py``: PyTorch's CopySlices)
        if self._f is not None:
            self._f = float(result._value())
        else:
            unshare(self._v)
            dst = self._v if self._vb is None else _writable(self._v, self._vb._storage())
            np.copyto(dst, result._value(), casting="unsafe")
        if result._tape is not None and self._tape is None and self._ig == result._tape.gen:
            # ``self`` entered the op as an imported constant, which the op's row read before the
            # change: only the rows before it see a changed value (``a.mul_(b)``, ``b`` requiring grad).
            result._tape.flag_modified(self._in, result._tape.n - 1)
            result._tape.csrc.pop(self._in, None)       # (its later changes are its new row's)
            self._ig = 0
        self._bump(result._tape)
        if operand is self and result._tape is not None:
            _flag_saved_alias(result._tape, result._node)
        if result._tape is not None:
            if self._retains:
                # retain_grad() follows the tensor to its new version.
                tape, node = self._history()
                tape.retained.pop(node, None)
                result._tape.retained[result._node] = weakref.ref(self)
            self._tape = result._tape
            self._node = result._node
            self._rg = True
            if self._views is not None:
                self._rederive_views()          # (``ops/views.py``: PyTorch's AsStridedBackward0)
        else:
            self._unrecorded()
        return self

    def _unrecorded(self) -> None:
        """After an in-place change made without recording (``_bump`` counted it): a recorded tensor
        moves to a row holding its new value (``_relink``), and the views of a storage that requires
        grad take nodes re-derived from their base's, as PyTorch's do once their version changed
        (``AsStridedBackward0``; ``ops/views.py``)."""
        root = self._vb if self._vb is not None else self
        if root._views:
            if root._tape is not None:
                root._relink()
            root._rederive_views()
        elif self._tape is not None:
            self._relink()

    def _resize_storage(self, shape: tuple) -> None:
        """Give the tensor new storage of ``shape`` (an ``out=`` argument of another shape); its
        elements are then written by the caller."""
        self._f = None
        self._v = np.zeros(shape, self._dtype.np)
        self._shape = tuple(shape)
        self._vb = None
        self._ig = 0

    def _relink(self) -> None:
        """After an unrecorded in-place change (under no_grad) of a recorded tensor: move
        it to a row that holds the new value and passes gradients straight to the old
        one, as PyTorch keeps the tensor's history.  The row is hidden from grad_fn."""
        tape = write_tape()       # (a retained gradient stays with the tensor's history: ``_history``)
        if self._tape is tape:
            self._node = tape.append(ROLES.clone, self._dtype.arena, self._value(), self._node, hid=1)
        else:
            self._ig = 0
            self._node = tape.import_(self)
            self._tape = tape

    def _bump(self, new_row: Optional[Tape] = None) -> None:
        """Count an in-place change: bump the version, and flag the recorded value as
        changed for the rows recorded before now (not the row of this very change, the last
        one of tape ``new_row``, which read the old value: on the tensor's own tape, or on the
        one it was imported into from an older tape)."""
        if self._ver is None:
            self._ver = [1]
        else:
            self._ver[0] += 1
        inplace_changes[0] += 1
        if preserved_versions and any(v is self._ver for v in preserved_versions):
            self._ig = 0        # (hidden from autograd: the rows keep the values they recorded)
            return
        if mutation_allowed[0] is not None:
            # (``allow_mutation_on_saved_tensors``'s ``cloned``: the values changed while saved)
            for tape, node in ((self._tape, self._node), (_tape_of_gen(self._ig) if self._ig else None, self._in)):
                if tape is not None:
                    mutated_rows[tape.gen, node] = tape.n - 1 if tape is new_row else tape.n
        if self._ig:
            # Flag the tape row that holds this tensor's last import now: the tape holds the
            # tensor only weakly, so a backward after the tensor is dropped could not tell.
            t = _tape_of_gen(self._ig)
            if t is not None:
                if _recorded_inside(t, self._in):
                    t.ib[self._in] = self._ver[0]
                else:
                    t.flag_modified(self._in, t.n - 1 if t is new_row else t.n)
        tape = self._tape
        if tape is not None:
            _flag(tape, self._node, tape.n - 1 if tape is new_row else tape.n, self)
        self._ig = 0
        if self._origins is not None:
            _through_alias(self)
        root = self._vb if self._vb is not None else self
        if root._views:
            _flag_views(root, self)


public("detach", method=False)(Tensor.detach)        # ``tape.detach(x)``: a handle method's function form
