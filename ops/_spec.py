"""The op record: what the engine needs to know about one primitive.

An op is data.  The engine never names an op; it reads these records (grad_fn
names, which ops save tensors, which family's adjoint kernel to call) and
dispatches on the integer code.  Codes are grouped in ranges, one range per
family, so the numba sweep can pick the family's kernel with two comparisons.
"""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Callable, Optional

from ._parser import annotated_error, parser_error, parser_type_name

# Code ranges, one per family.  The sweep dispatches on these bounds only; each
# range leaves room for the catalogue to grow.
SOURCE = range(0, 10)        # rows the engine writes itself: values brought in, outputs of a row
UNARY = range(10, 160)       # one tensor input, optional float constants
BINARY = range(160, 260)     # two tensor inputs of equal shape
REDUCE = range(260, 300)     # reductions over a set of dims
SHAPE = range(300, 360)      # views, broadcasting, selection
LINALG = range(360, 380)     # small matrix products (large ones go to PYTHON, for BLAS)
JOIN = range(380, 420)       # rows with a list of inputs or several outputs (cat, stack, where, unbind)
PYTHON = range(900, 1200)    # rows whose adjoint runs in Python (BLAS, custom code, the nn layers)
N_CODES = PYTHON.stop

INPUT = 0   # a value from outside the tape that gradients flow back to (leaf, older tape)
CONST = 1   # a value from outside the tape that needs no gradient
OUTPUT = 2  # output k (``ia``) of the row ``a`` above it: a view of part of that row's value

# The row format: the integer columns of a tape (rows of its ``R`` array) and the
# float ones (rows of ``F``), named for numba code, which reads them by number.
(R_OP, R_DT, R_OFF, R_NUM, R_SHP, R_A, R_B, R_IA, R_IB, R_RG, R_FR, R_HID, R_LO, R_LN, R_NOUT) = range(15)
N_INT_COLS = 15
F_FA, F_FB = 0, 1
# A row with more than two inputs lists them in the tape's index table ``ix``
# (``R_LN`` of them from offset ``R_LO``; its ``a``/``b`` are -1).  A row with
# several outputs is followed by ``R_NOUT`` OUTPUT rows, one per output, whose
# values (and adjoints) are consecutive parts of the row's own.


@dataclass(frozen=True)
class Op:
    """One primitive: its code, PyTorch-facing names and derivative rule.

    ``saved`` says which values PyTorch's node saves (bits X0, X1, OUT: an
    in-place change to one of them makes backward fail; NUMBER: only a Python
    number, which still counts as saved when freeing the graph; OUTS: every output of a row
    with several outputs; OUT_FIRST: the first of them only; CROSS: each
    input is saved only when the other one needs a gradient, as for products;
    ``saved_when(k, *inputs)``: input ``k`` is saved only when one of ``inputs`` needs a
    gradient, as PyTorch saves a value only for the derivatives it will compute).

    ``vjp(g, xs, y, row)`` returns one gradient per tensor input, written with
    tape's own tensor operations so that recording it (``create_graph=True``)
    yields a differentiable graph; ``row`` carries the row's attributes.
    ``arity`` is the number of tensor inputs: 1 or 2 (columns ``a``/``b``), or ``LISTED`` (any
    number, listed in the index table); ``multi`` marks an op with several outputs,
    whose rule receives a tuple of output gradients (None where none arrived).
    ``nondiff`` lists input positions that never get a gradient and that PyTorch's
    node does not show (``where``'s condition).  ``number_input``: the row's float attribute
    is a Python-number operand, which PyTorch's node shows as a second input without gradient.
    ``nondiff_of(row)``: ``nondiff`` per row (an operand that was a Python number, kept as a constant).
    ``folded_of(row)``: the position of an input whose node PyTorch's node holds inside it (CopySlices
    holds the in-place op's), so that its edges but the first (the view) show in its place; -1 for none.
    ``ulps`` states how far an elementwise op's faces may disagree (``tests/test_faces.py``):
    ``(float face vs numpy in float64, (forward kernel vs numpy in float64, float32), (adjoint
    kernel vs the rule in float64, float32))``; 0 where both compute the same expression.
    For a listed row, X0, X1 and X2 in ``saved`` mean its first, second and third inputs, X_REST
    every input from its fourth on.
    ``numpy_rows``: big rows of this op (from ``NUMPY_ROWS`` elements) are differentiated by
    numpy, which runs ``vjp`` on views of the arenas with its SIMD ufuncs, instead of by the
    family's numba kernel; the sweep stops there as for PYTHON rows.  Set it for an elementwise
    op whose kernel loop does not vectorize: its derivative calls a transcendental function
    (sin, cos, pow: numba here has no SVML) or it has no loop of its own in the kernel.
    Ops in the ``PYTHON`` code range give ``py_adjoint(row, va, vb, gy, ga, gb, fresh)``
    (numpy views; ``ga``/``gb`` None when not needed; bit 1/2 of ``fresh``: no gradient
    reached ``ga``/``gb`` yet, so they hold no zeros and must be written, not added to)
    instead of a numba kernel: the sweep stops at their rows and resumes after them.  One with
    listed inputs may give ``py_adjoint(row, vs, gy, gs, fresh)`` (a tuple of input values, of
    input adjoints, None when not needed; bit k of ``fresh`` for input k).  A PYTHON-range op with
    several outputs (a custom Function), or a listed one without it, gives none: Python
    runs its ``vjp`` on plain tensors, copies of its outputs' adjoints; ``reads_inputs`` False: that
    ``vjp`` reads no input values (a custom Function's: the user's ``backward`` reads what ``forward``
    saved), and a plain backward gives it ``xs`` empty.
    ``sparse_from``: a PYTHON-range op whose ``py_adjoint`` takes a sparse ``gy`` (0: none): from this
    many elements, where a gather (a GATHER or INDEX row) of its output is the only row that gives
    that output a gradient, the sweep hands the gather's adjoint on as it is: ``gy`` is then no array
    but has ``positions`` (flat, int64), ``values`` (at those positions, summed where repeated) and
    ``dense()`` (the adjoint as an array of the output's shape), so the rest is never zeroed.
    ``node_saved``: what its node shows as ``_saved_<name>`` (and packs, under saved-tensor hooks),
    in PyTorch's names and packing order: ``(name, X0 | X1 | OUT)`` for a saved input or result (a
    CROSS op's input only when it is saved), ``(name, fn(row))`` for any other value; or a
    function of the row giving such a table.  Empty: ``self``, ``other``, ``result`` from ``saved``.
    ``jvp(ts, xs, y, row)``: the tangent rule (forward mode), written with tape's tensor operations as
    ``vjp`` is: ``ts`` holds one tangent per tensor input (None: zero), and it returns the output's
    tangent (None: zero; for a ``multi`` op one per output), so ``J @ t``; or ``TRANSPOSE``: the
    transpose of ``vjp``, which is linear in its adjoint (``tape/_tangent.py`` runs reverse mode
    over the rule).  Set next to the op's registration with ``tangents``.
    ``numpy_forward``: a bit of ``ib``; a row with it set had its value computed by ``forward``
    (numpy, a BLAS call) on its inputs' arena slots rather than by its family's kernel, and a trace
    replays it by ``forward`` too (``tape/_replay.py``), so that both give the same bits.
    """

    code: int
    name: str
    grad_fn: str
    saved: int
    vjp: Callable
    forward: Optional[Callable] = None
    scalar: Optional[Callable] = None
    float_only: bool = True
    grad_fn_of: Optional[Callable] = None
    py_adjoint: Optional[Callable] = None
    arity: int = 1
    multi: bool = False
    nondiff: tuple = ()
    number_input: bool = False
    nondiff_of: Optional[Callable] = None
    ulps: tuple = ()
    numpy_rows: bool = False
    node_saved: tuple | Callable = ()
    # inputs of the row that PyTorch's op returns (lu_factor's pivots): its node saves them with the
    # results, once the op ran, so they pack after the inputs (``tape/_saved.packing_order``)
    returned_inputs: tuple = ()
    folded_of: Optional[Callable] = None
    jvp: Optional[Callable] = None
    reads_inputs: bool = True
    sparse_from: int = 0
    numpy_forward: int = 0

    @property
    def saves(self) -> bool:
        """Whether backward needs saved values (freed after a backward without retain_graph)."""
        return self.saved != 0

    def node_name(self, row) -> str:
        """The PyTorch ``grad_fn`` class name for a recorded row of this op."""
        return self.grad_fn_of(row) if self.grad_fn_of is not None else self.grad_fn


X0, X1, OUT, NUMBER = 1, 2, 4, 8
OUTS = 16   # (a row with several outputs: each of them saved, as its own result)
X2 = 32     # (listed rows only)
OUT_FIRST = 128     # (a row with several outputs: the first of them saved, as ``std_mean``'s std)
X_REST = 1 << 17    # (listed rows only: the inputs from the fourth on, as an indexing's index tensors)
_WHEN = 8   # from this bit on, three bits per saved input (X0, X1, X2): the inputs whose need of a
#             gradient makes it saved (none: saved whenever the row is recorded)


def saved_when(k: int, *inputs: int) -> int:
    """``saved`` bits: input ``k`` (0, 1, 2 for X0, X1, X2) is saved only when one of ``inputs``
    needs a gradient (PyTorch saves a value only for the derivatives that will run)."""
    return sum(1 << (_WHEN + 3 * k + i) for i in inputs)


CROSS = saved_when(0, 1) | saved_when(1, 0)


def input_saved(saved, k, rg0, rg1, rg2):
    """Whether a row with ``saved`` bits saves its input ``k`` (0, 1, 2), given which of its
    first three inputs need a gradient (``rg0``..``rg2``: 0 or 1).  Plain integer arithmetic, so
    that numba code can inline it as it is."""
    slot = X0 if k == 0 else X1 if k == 1 else X2
    if not saved & slot:
        return False
    need = (saved >> (_WHEN + 3 * k)) & 7
    return need == 0 or (need & (rg0 | rg1 << 1 | rg2 << 2)) != 0


class Given(int):
    """A row's input, result or output (X0, X1, OUT, ``OUTPUTS + k``) saved, in a ``node_saved`` table
    (saved whatever the op's ``saved`` bits say) or in one its front end wrote (``Tape.args``),
    where any other value is shown as it is."""


OUTPUTS = 64        # ``Given(OUTPUTS + k)``: output ``k`` of a row with several
SAVED_SELF, SAVED_RESULT = Given(X0), Given(OUT)
# Rows of ``numpy_rows`` ops from this many elements (float64, float32) go to numpy: where it
# wins, measured for sin, cos, tan, log2, pow with a number (numba's scalar libm calls against
# numpy's SIMD loops plus the stop, about 20 us).
NUMPY_ROWS = (1 << 15, 1 << 12)
LISTED = -1     # ``arity`` of an op whose inputs are listed (any number)

REGISTRY: dict[int, Op] = {}

# The code a hooked row has in the copy of the rows a sweep reads (``tape/_hooks.py``): kept
# from every op, so that the sweeps' per-code tables (what a row saved) say nothing of it.
HOOKED = PYTHON.stop - 1


def register(op: Op) -> Op:
    if op.code == HOOKED:
        raise ValueError(f"op code {op.code} ({op.name}) is the engine's code for hooked rows")
    if op.code in REGISTRY:
        raise ValueError(f"op code {op.code} registered twice ({REGISTRY[op.code].name}, {op.name})")
    REGISTRY[op.code] = op
    return op


TRANSPOSED = "transpose of vjp"    # ``Op.jvp`` of an op whose tangent is its adjoint rule transposed


def tangents(rules: dict) -> None:
    """Give each registered op in ``rules`` (code -> ``jvp``) its tangent rule."""
    for code, rule in rules.items():
        object.__setattr__(REGISTRY[code], "jvp", rule)     # (records are frozen once registered)


# --- the engine's own rows ---------------------------------------------------------
class Roles:
    """Codes of the rows the engine records by itself, as PyTorch does inside an op: a cast of an
    operand to the op's dtype, a broadcast to its shape, and the identity row that links a
    tensor changed in place without recording (under no_grad) to its history; and, for the
    recorded backward, the rows that accumulate two adjoints (``add``) and sum an adjoint
    down to a broadcast input's shape (a ``sum`` with attributes ``sum_ib`` keeping the
    reduced dims, then a ``view`` with attribute ``view_ia``).

    Each is set by the family file that defines the op (``ROLES.cast = CAST``), so that the
    engine, the recording API and the tensor handle name no op and import no family for it.
    """

    cast = expand = clone = add = sum = view = -1
    sum_ib = view_ia = 0


ROLES = Roles()


# --- public names ---------------------------------------------------------------------
@dataclass(frozen=True)
class Public:
    """The PyTorch-facing names of one front end ``fn`` (written as a Tensor method).

    ``methods``: Tensor attributes bound to ``fn`` (operators included); ``properties``:
    read-only Tensor properties computed by ``fn``; ``functions``: ``tape.<name>`` forms,
    which take the tensor as ``input`` (PyTorch's TypeError for anything else), unless
    ``reflected`` is given: then ``tape.<name>(number, tensor)`` is ``reflected(tensor,
    number)`` (``tape.add(2, x)``).  ``plain``: ``fn`` is the function form itself (its first
    argument need not be a tensor) and no method is made.  ``function_forms``: PyTorch's
    overloads of the function form (``ops._parser.Forms``), for a method that parses its own
    (the function form's errors name ``input`` and ``out``).  ``error_forms``: the same, parsed
    only when the method raised a TypeError, for the parser's message of the function form.
    """

    fn: Callable
    methods: tuple = ()
    functions: tuple = ()
    properties: tuple = ()
    reflected: Optional[Callable] = None
    plain: bool = False
    function_forms: Optional[object] = None
    error_forms: Optional[object] = None

    @property
    def name(self) -> str:
        """The first name given: the one PyTorch's messages use for every alias."""
        return (self.functions or self.methods or self.properties)[0]


PUBLIC: list[Public] = []


# Keyword names PyTorch's parser takes for a parameter of another name: numpy's, and ``from``,
# which Python cannot name a parameter (``x.uniform_(**{"from": 0, "to": 1})``).
_ALIASES = (("dim", "axis"), ("keepdim", "keepdims"), ("from_", "from"))
# PyTorch's names of size-like ``*args`` (``view(*size)``, ``permute(*dims)``): its parser takes them
# as one sequence by keyword too (``x.view(size=(2, 3))``), and requires them.
_SEQUENCES = ("size", "shape", "repeats", "dims")


def sequence_param(fn: Callable) -> Optional[str]:
    """The name of a method's size-like ``*args`` (``_SEQUENCES``), if it has some (and parses
    no ``**kwargs`` of its own)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    if len(params) > 1 and params[1].kind is params[1].VAR_POSITIONAL and params[1].name in _SEQUENCES:
        return params[1].name
    return None


def sequence_value(fn: str, name: str, value, position: str = ""):
    """``value`` given for the size-like argument ``name`` of ``fn`` as one object: PyTorch's
    TypeError unless it is a tuple or a list (``position``: `` (position 2)`` when positional)."""
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{fn}(): argument '{name}'{position} must be tuple of ints, not {parser_type_name(value)}")
    return value


def torch_keywords(fn: Callable, offset: int = 0, method_forms=None) -> Callable:
    """``fn`` also taking the keyword forms of PyTorch's argument parser (``_ALIASES``): numpy's
    names ``axis`` for ``dim`` and ``keepdims`` for ``keepdim`` (``x.sum(axis=0)``), ``from`` for
    ``from_``; and a size-like ``*args`` as one sequence by its name (``x.view(size=(2, 3))``,
    ``sequence_param``), which is then required, with PyTorch's errors.  On an error, the parser's
    TypeError for an argument not of its annotated kind, which it would have raised first
    (``annotated_error``; ``offset``: 0 for a method, 1 for a function), or, on a TypeError, for a
    call that matches none of the method's overloads ``method_forms`` (``ops._parser.Forms``)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return fn
    renames = tuple((alias, name) for name, alias in _ALIASES if name in params and alias not in params)
    seq = sequence_param(fn)
    if not renames and seq is None and method_forms is None:
        return fn

    def keywords(args: tuple, kwargs: dict) -> tuple:
        for alias, name in renames:
            if alias in kwargs:
                if name in kwargs:
                    raise TypeError(f"{front.__name__}() got an unexpected keyword argument '{alias}'")
                kwargs[name] = kwargs.pop(alias)
        if seq is not None:
            if seq in kwargs:
                value = kwargs.pop(seq)
                if len(args) > 1:
                    raise TypeError(f"{front.__name__}() got multiple values for argument '{seq}'")
                args = (*args, sequence_value(front.__name__, seq, value))
            elif len(args) < 2:
                raise TypeError(f'{front.__name__}() missing 1 required positional arguments: "{seq}"')
        return args

    @functools.wraps(fn)
    def front(*args, **kwargs):
        if kwargs or (seq is not None and len(args) < 2):
            args = keywords(args, kwargs)
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            error = None
            if method_forms is not None and isinstance(e, TypeError):
                error = method_forms.named(front.__name__).error(args[1 - offset:], kwargs)
            if error is None and not parser_error(e):
                error = annotated_error(fn, front.__name__, args, kwargs, offset)
            if error is None:
                raise
        raise error
    return front


def public(*names: str, method: bool = True, function: bool = True, properties: tuple = (),
           reflected: Optional[Callable] = None, function_forms=None, error_forms=None,
           method_forms=None) -> Callable:
    """Register the decorated front end under its PyTorch names; returns it (taking numpy's
    keyword forms too, ``torch_keywords``).

    ``names`` become both a Tensor method and a ``tape.<name>`` function (``public("clamp",
    "clip")``), unless ``method=False`` or ``function=False``; operators (``"__add__"``) and
    private names (``"_masked"``, which derivative rules call) are methods only.  ``properties``
    are Tensor properties (``public("t", properties=("T",))``).  ``tape/_install.py`` makes the
    members and functions at import, and ``python -m tape._stubs`` writes their type stubs.
    ``error_forms``, ``method_forms``: PyTorch's overloads of the function form and of the method
    (``ops._parser.Forms``), parsed only when a call raised, for the parser's message.
    """
    def register_public(fn: Callable) -> Callable:
        fn = torch_keywords(fn, 0, method_forms)
        methods = tuple(n for n in names if method or n.startswith("_"))
        functions = tuple(n for n in names if function and not n.startswith("_"))
        PUBLIC.append(Public(fn, methods, functions, tuple(properties), reflected, function_forms=function_forms,
                             error_forms=error_forms))
        return fn
    return register_public


def public_function(*names: str, error_forms=None) -> Callable:
    """Register the decorated function as ``tape.<name>`` for each of ``names`` (taking numpy's
    keyword forms too, ``torch_keywords``); ``error_forms``: PyTorch's overloads, parsed when a
    call raised a TypeError, for the parser's message (unless the function takes ``out=``)."""
    def register_function(fn: Callable) -> Callable:
        fn = torch_keywords(fn, 1)
        PUBLIC.append(Public(fn, functions=names, plain=True, error_forms=error_forms))
        return fn
    return register_function
