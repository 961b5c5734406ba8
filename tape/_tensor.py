"""``Tensor``: a thin handle onto a value and, once recorded, onto a tape node.

Recording cost decides speed on scalar code, so the 0-d float64 case has a
fast path: such a tensor may keep its value as a Python float (``_f``) and
its ops compute with ``math`` and write a few integers into the tape's
columns.  ``_f`` is dropped as soon as the value could be shared (``.data``,
``detach``, ``numpy()``, views), after which the numpy array ``_v`` is the
storage; exactly one of ``_f``/``_v`` holds the value.
"""
from __future__ import annotations

import math
import warnings
import weakref
from typing import Optional, Union

import numpy as np

from . import _dtype as D
from ._format import tensor_repr
from ._state import inplace_changes, state
from ._tape import Tape, fresh
from .ops import elementwise as E
from .ops import linalg as L
from .ops import reduction as R
from .ops import shape as S
from .ops._spec import CONST, REGISTRY

_new = object.__new__
_F64 = D.float64
_REG = REGISTRY
_SCALAR_ERRORS = (ValueError, OverflowError, ZeroDivisionError)
# Like PyTorch, ops give inf/nan silently.  Numpy's floating-point warnings are
# attributed to the calling module, so this filter silences tape's own ops
# only, at no cost per op (np.errstate would cost about a microsecond each).
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"tape(\.|$)")
Number = Union[int, float, bool]


class Size(tuple):
    """The shape of a tensor: a tuple of ints, printed as ``tape.Size([2, 3])``."""

    def __repr__(self) -> str:
        return f"tape.Size({list(self)})"

    def numel(self) -> int:
        return math.prod(self)


# --- recording helpers ---------------------------------------------------------
def _write_tape() -> Tape:
    t = state.tape
    if t is None or t.n >= t.soft:
        t = None
        t = fresh()
    return t


def _scalar_row(code: int, y: float, a: "Tensor", b: Optional["Tensor"], c: float) -> "Tensor":
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
        tape.b[r] = nb
    o = tape.t64
    if o == tape.v64.shape[0]:
        tape.reserve(0, 1)
    else:
        tape.t64 = o + 1
    tape.v64[o] = y
    tape.n = r + 1
    tape.op[r] = code
    tape.off[r] = o
    tape.a[r] = na
    if c:
        tape.fa[r] = c
    t = _new(Tensor)
    t._f = y
    t._dtype = _F64
    t._shape = ()
    t._tape = tape
    t._node = r
    t._rg = True
    return t


def _plain(v: np.ndarray, dtype: D.dtype) -> "Tensor":
    """A tensor that is not recorded (a leaf)."""
    t = _new(Tensor)
    t._v = v
    t._dtype = dtype
    t._shape = v.shape
    return t


def _py_scalar(f: float) -> "Tensor":
    t = _new(Tensor)
    t._f = f
    t._dtype = _F64
    t._shape = ()
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


_SUFFIX: dict = {}


def _is_suffix(s: tuple, shape: tuple) -> bool:
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


def _node_in(tape: Tape, t: "Tensor", dtype: D.dtype, shape: tuple) -> int:
    """Node of ``t`` on ``tape`` as an input of dtype ``dtype`` to a row of shape ``shape``.

    Casting and broadcasting happen inside an op in PyTorch; here they become
    rows of their own, marked hidden so that grad_fn views skip them.  An input
    that broadcasts along leading dims only is left as it is: kernels read it
    modulo its size.
    """
    suffix = t._shape == shape or _is_suffix(t._shape, shape)
    if t._dtype.arena is None or not t._rg and (t._dtype is not dtype or not suffix):
        v = t._value().astype(dtype.np, copy=False)
        node = tape.append(CONST, dtype.arena, v if suffix else np.broadcast_to(v, shape), ib=t._version)
        tape.rg[node] = 0
        tape.csrc[node] = weakref.ref(t)    # a later in-place change of ``t`` makes the row stale
        return node
    node = t._node if t._tape is tape else tape.import_(t)
    if t._dtype is not dtype:
        node = tape.append(E.CAST, dtype.arena, tape.value_of(node).astype(dtype.np), node, hid=1)
    if not suffix:
        node = tape.append(S.EXPAND, dtype.arena, np.broadcast_to(tape.value_of(node), shape), node, hid=1)
    return node


def _emit(code: int, value: np.ndarray, dtype: D.dtype, x: "Tensor", y: Optional["Tensor"] = None,
          ia: int = 0, ib: int = 0, fa: float = 0.0, fb: float = 0.0) -> "Tensor":
    """Record a row with input(s) already of the row's dtype and shape."""
    tape = _write_tape()
    na = x._node if x._tape is tape else tape.import_(x)
    nb = -1 if y is None else (y._node if y._tape is tape else tape.import_(y))
    node = tape.append(code, dtype.arena, value, na, nb, ia, ib, fa, fb)
    return _recorded(tape, node, value, dtype)


def _flag_saved_alias(tape: Tape, r: int) -> None:
    """``x.mul_(x)``: the op saved its operand, which is the tensor it just changed, so
    its own row counts as recorded before the change (PyTorch raises at backward)."""
    if tape.hid[r]:
        r = int(tape.a[r])          # the op ran in a promoted dtype: its row feeds the cast
    b = int(tape.b[r])
    if b >= 0 and REGISTRY[int(tape.op[r])].saved & 2:
        tape.flag_modified(b, r + 1)


def _strided(t: "Tensor", view: np.ndarray) -> "Tensor":
    """A recorded view keeps PyTorch's layout (strides, contiguity) in its value, built over a
    private copy of its base (``view``), so that an in-place change of one does not reach the
    other: views do not alias here (README).  Its row holds a contiguous copy."""
    t._v = view
    return t


def _as_array(v, dtype: D.dtype) -> np.ndarray:
    return np.asarray(v, dtype.np)


def broadcast_shapes(*shapes) -> Size:
    """Return the shape that tensors of the given shapes broadcast to (ints count as 1-D shapes)."""
    out: list = []
    for i, s in enumerate(shapes):
        s = (s,) if isinstance(s, (int, np.integer)) else tuple(s)
        if any(d < 0 for d in s):
            raise ValueError("Attempting to broadcast a dimension with negative length!")
        if len(s) > len(out):
            out = [1] * (len(s) - len(out)) + out
        for k in range(1, len(s) + 1):
            d = s[-k]
            if out[-k] == 1:
                out[-k] = d
            elif d != 1 and d != out[-k]:
                raise RuntimeError(f"Attempting to broadcast a dimension of length {d} at {-k}! Mismatching "
                                   f"argument at index {i} had {s}; but expected shape should be "
                                   f"broadcastable to {out}")
    return Size(out)


_BROADCAST: dict = {}


def broadcast_pair(sa: tuple, sb: tuple) -> tuple:
    """The broadcast shape of ``sa`` and ``sb``, with PyTorch's error for an op's operands."""
    if sa == sb:
        return sa
    out = _BROADCAST.get((sa, sb))
    if out is None:
        out = _broadcast(sa, sb)
        if len(_BROADCAST) > 4096:
            _BROADCAST.clear()
        _BROADCAST[(sa, sb)] = out
    return out


def _broadcast(sa: tuple, sb: tuple) -> tuple:
    la, lb = len(sa), len(sb)
    nd = max(la, lb)
    out = [0] * nd
    for i in range(nd - 1, -1, -1):
        off = nd - 1 - i
        da = sa[len(sa) - 1 - off] if off < len(sa) else 1
        db = sb[len(sb) - 1 - off] if off < len(sb) else 1
        if da != db and da != 1 and db != 1:
            raise RuntimeError(f"The size of tensor a ({da}) must match the size of tensor b ({db}) "
                               f"at non-singleton dimension {i}")
        out[i] = db if da == 1 else da
    return tuple(out)


def _wrap_dim(dim: int, ndim: int) -> int:
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    if dim < lo or dim > hi:
        raise IndexError(f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")
    return dim + max(ndim, 1) if dim < 0 else dim


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, Size)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _infer_shape(shape: tuple, numel: int) -> tuple:
    known = 1
    infer = None
    for i, s in enumerate(shape):
        if s == -1:
            if infer is not None:
                raise RuntimeError("only one dimension can be inferred")
            infer = i
        elif s < 0:
            raise RuntimeError(f"invalid shape dimension {s}")
        else:
            known *= s
    if infer is not None:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = shape[:infer] + (numel // known,) + shape[infer + 1:]
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def _is_number(x) -> bool:
    return isinstance(x, (int, float, bool, np.number)) and not isinstance(x, np.ndarray)


def _check_operand(other, op: str):
    if isinstance(other, Tensor) or _is_number(other):
        return other
    if isinstance(other, np.ndarray):
        return _plain(np.array(other), D.from_numpy_dtype(other.dtype))
    raise TypeError(f"unsupported operand type(s) for {op}: 'Tensor' and '{type(other).__name__}'")


# --- op application ----------------------------------------------------------------
def _unary(x: "Tensor", code: int) -> "Tensor":
    op = _REG[code]
    f = x._f
    if f is not None:
        try:
            y = op.scalar(f)
        except _SCALAR_ERRORS:
            y = float(op.forward(np.float64(f)))
        if x._rg and state.grad:
            return _scalar_row(code, y, x, None, 0.0)
        return _py_scalar(y)
    dt = x._dtype
    v = x._v
    if dt.arena is None and op.float_only:
        dt = D.get_default_dtype()
        v = v.astype(dt.np)
    y = op.forward(v)
    if not x._shape:
        y = _as_array(y, dt)
    if x._rg and state.grad:
        tape = state.tape
        if tape is None or tape.n >= tape.soft:
            tape = None
            tape = fresh()
        node = tape.append(code, dt.arena, y, x._node if x._tape is tape else tape.import_(x))
        return _recorded(tape, node, y, dt)
    return _plain(y, dt)


def _with_number(x: "Tensor", c: Number, code: int) -> "Tensor":
    """``x (op) c`` for a Python number ``c`` (``code`` is the ADDC/... variant)."""
    np_fwd, py_fwd = E.SCALAR_FORWARD[code]
    f = x._f
    if f is not None and type(c) is not bool:
        c = float(c)
        try:
            y = py_fwd(f, c)
        except _SCALAR_ERRORS:
            y = float(np_fwd(np.float64(f), c))
        if x._rg and state.grad:
            return _scalar_row(code, y, x, None, c)
        return _py_scalar(y)
    dt = x._dtype
    if not (dt.is_floating_point and (type(c) is float or type(c) is int)):
        dt = D.result_type(x, c)
        if code == E.DIVC and not dt.is_floating_point:
            dt = D.get_default_dtype()
    v = x._v if f is None else np.array(f)
    if v.dtype is not dt.np:
        v = v.astype(dt.np)
    if not dt.is_floating_point:
        if code == E.POWC and c < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        c = dt.np.type(c)
        if code == E.RPOWC:
            np_fwd = _int_rpow
    y = np_fwd(v, c)
    if not x._shape:
        y = np.asarray(y, dt.np)
    if x._rg and state.grad:
        return _emit(code, y, dt, x, fa=float(c))
    return _plain(y, dt)


def _int_rpow(x: np.ndarray, c) -> np.ndarray:
    return E.int_power(np.asarray(c, x.dtype), x)


_ALL_DIMS = tuple(tuple(range(n)) for n in range(9))
_RIGHT_CONST = {E.ADD: E.ADDC, E.SUB: E.SUBC, E.MUL: E.MULC, E.DIV: E.DIVC}


def _binary(a: "Tensor", b, code: int) -> "Tensor":
    """``a (op) b`` for two tensors, broadcasting and promoting as PyTorch does."""
    if not isinstance(b, Tensor):
        return _with_number(a, b, _RIGHT_CONST.get(code, code)) if code != E.POW else _with_number(a, b, E.POWC)
    fa, fb = a._f, b._f
    op = _REG[code]
    if fa is not None and fb is not None:
        try:
            y = op.scalar(fa, fb)
        except _SCALAR_ERRORS:
            y = float(op.forward(np.float64(fa), np.float64(fb)))
        if (a._rg or b._rg) and state.grad:
            return _scalar_row(code, y, a, b, 0.0)
        return _py_scalar(y)
    da = a._dtype
    if da is b._dtype and da.arena is not None:
        dt = da                                       # the common case: no promotion
    else:
        dt = D.result_type(a, b)
        if code == E.DIV and not dt.is_floating_point:
            dt = D.get_default_dtype()
    sa, sb = a._shape, b._shape
    shape = sa if sa == sb else broadcast_pair(sa, sb)
    va = a._v if fa is None else np.array(fa)
    vb = b._v if fb is None else np.array(fb)
    if va.dtype is not dt.np:
        va = va.astype(dt.np)
    if vb.dtype is not dt.np:
        vb = vb.astype(dt.np)
    y = E.int_power(va, vb) if code == E.POW and not dt.is_floating_point else op.forward(va, vb)
    if not shape:
        y = _as_array(y, dt)
    if not ((a._rg or b._rg) and state.grad):
        return _plain(y, dt)
    # A 0-d operand that needs no gradient is recorded as the row's constant where the op saves
    # nothing (add, sub); a product or quotient saves it, and must notice in-place changes to it.
    if not b._rg and not sb and (code == E.ADD or code == E.SUB) and sa == shape and a._dtype is dt:
        return _emit(_RIGHT_CONST[code], y, dt, a, fa=float(vb))
    tape = state.tape
    if tape is None or tape.n >= tape.soft:
        tape = None
        tape = fresh()
    if a._tape is tape and sa == shape and a._dtype is dt:
        na = a._node
    else:
        na = _node_in(tape, a, dt, shape)
    if b._dtype is dt and (b._tape is tape or b._rg) and (sb == shape or _is_suffix(sb, shape)):
        nb = b._node if b._tape is tape else tape.import_(b)      # (a leaf, or a node of an older tape)
    else:
        nb = _node_in(tape, b, dt, shape)
    node = tape.append(code, dt.arena, y, na, nb)
    return _recorded(tape, node, y, dt)


def _reversed(x: "Tensor", c, code: int) -> "Tensor":
    """``c (op) x`` for a Python number ``c``."""
    c = _check_operand(c, "op")
    if isinstance(c, Tensor):
        return _binary(c, x, code)
    if code == E.ADD:
        return _with_number(x, c, E.ADDC)
    if code == E.MUL:
        return _with_number(x, c, E.MULC)
    if code == E.SUB:
        return _with_number(x, c, E.RSUBC)
    if code == E.POW:
        return _with_number(x, c, E.RPOWC)
    # c / x is recorded as reciprocal(x) * c, as in PyTorch.
    if not x._dtype.is_floating_point:
        x = x.to(D.get_default_dtype())
    return _with_number(_unary(x, E.RECIPROCAL), c, E.MULC)


def _compare(a: "Tensor", b, fn) -> "Tensor":
    if isinstance(b, Tensor):
        dt = D.result_type(a, b)
        broadcast_pair(a._shape, b._shape)
        vb = b._value().astype(dt.np, copy=False)
    else:
        dt = D.result_type(a, b)
        vb = b
    va = a._value().astype(dt.np, copy=False)
    return _plain(np.asarray(fn(va, vb)), D.bool_)


# --- the tensor ---------------------------------------------------------------------
class Tensor:
    r"""A multi-dimensional array that records the operations done on it.

    ``Tensor(data)`` is the legacy constructor: a list of numbers gives a tensor
    of the default float dtype, integers give an uninitialized tensor of that
    size (``Tensor(2, 3)``).  Prefer :func:`tape.tensor`.
    """

    # Class-level defaults keep handle creation cheap: a new tensor sets only
    # what differs from these.
    _v = None            # numpy storage, or None while ``_f`` holds a 0-d float64 value
    _f = None
    _tape = None         # the tape and node that produced it (None for leaves)
    _node = -1
    _rg = False
    _grad = None
    _ver = None          # shared version counter [n], created when first needed
    _ig = 0              # import cache: tape generation, version and node
    _iv = 0
    _in = -1
    _retains = False
    __hash__ = object.__hash__

    def __new__(cls, *args, **kwargs):
        if cls is not Tensor:
            return super().__new__(cls)
        from ._creation import legacy_tensor
        return legacy_tensor(*args, **kwargs)

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
        t._ver = self._shared_version()
        return t

    def _view_alias(self, v: np.ndarray) -> "Tensor":
        """A view made without recording (grad mode off): like PyTorch, it keeps
        ``requires_grad`` of its base but has no ``grad_fn``."""
        t = self._alias(v)
        t._rg = self._rg
        return t

    # -- metadata ------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self._shape)

    def size(self, dim: Optional[int] = None):
        """Return the size of the tensor, or of dimension ``dim``."""
        if dim is None:
            return Size(self._shape)
        return self._shape[_wrap_dim(dim, len(self._shape))]

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
    def device(self) -> str:
        return "cpu"

    is_cuda = False

    def is_floating_point(self) -> bool:
        return self._dtype.is_floating_point

    def __len__(self) -> int:
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    # -- autograd attributes ----------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._rg

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
        self._rg = flag
        self._ig = 0

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` in place and return ``self``."""
        if requires_grad and not self._dtype.is_floating_point:
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        if requires_grad and self._tape is not None:
            return self                 # a recorded tensor already requires grad
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self._tape is None

    @property
    def grad_fn(self):
        if self._tape is None:
            return None
        from ._graph import tensor_grad_fn
        return tensor_grad_fn(self._tape, self._node)

    @property
    def grad(self) -> Optional["Tensor"]:
        if self._tape is not None and not self._retains:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
                "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
                "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
                "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
                "instead. See github.com/pytorch/pytorch/pull/30531 for more informations. (Triggered "
                "internally at aten/src/ATen/core/TensorBody.h:489.)", UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, g: Optional["Tensor"]) -> None:
        if g is not None:
            if not isinstance(g, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                f"{type(g).__name__}")
            if g._dtype is not self._dtype:
                raise RuntimeError("assigned grad has data of a different type")
            if g._shape != self._shape:
                raise RuntimeError("assigned grad has data of a different size")
        self._grad = g

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    def retain_grad(self) -> None:
        """Make this non-leaf tensor keep its ``.grad`` after backward."""
        if not self._rg:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._tape is not None and not self._retains:
            self._retains = True
            self._tape.retained[self._node] = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        return self._retains

    @property
    def _version(self) -> int:
        return self._ver[0] if self._ver is not None else 0

    @property
    def data(self) -> "Tensor":
        return self._alias(self._storage())

    @data.setter
    def data(self, other: "Tensor") -> None:
        if not isinstance(other, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(other).__name__}")
        self._v = other._storage()
        self._f = None
        self._dtype = other._dtype
        self._shape = other._shape
        self._ig = 0

    def detach(self) -> "Tensor":
        """A new tensor sharing storage, detached from the graph (a leaf)."""
        return self._alias(self._storage())

    def detach_(self) -> "Tensor":
        """Detach this tensor from the graph in place; it becomes a leaf."""
        if self._tape is not None:
            self._tape = None
            self._node = -1
        self._rg = False
        self._ig = 0
        return self

    def backward(self, gradient: Optional["Tensor"] = None, retain_graph: Optional[bool] = None,
                 create_graph: bool = False, inputs=None) -> None:
        """Compute the gradient of this tensor with respect to the graph leaves.

        Gradients are accumulated into the leaves' ``.grad``.  A non-scalar
        tensor needs ``gradient`` (the vector in the vector-Jacobian product).
        The graph is freed unless ``retain_graph`` (default: ``create_graph``).
        """
        from .autograd import backward
        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    # -- conversion ------------------------------------------------------------------
    def item(self) -> Number:
        """The value of a one-element tensor as a Python number."""
        if self._f is not None:
            return self._f
        n = self.numel()
        if n != 1:
            raise RuntimeError(f"a Tensor with {n} elements cannot be converted to Scalar")
        return self._v.reshape(-1)[0].item()

    def tolist(self):
        return self._value().tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The value as a numpy array sharing storage with the tensor."""
        if self._rg and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self._storage()

    def __array__(self, dtype=None, copy=None):
        v = self._value()
        return v if dtype is None else v.astype(dtype)

    def __float__(self) -> float:
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
        fn = self.grad_fn
        return tensor_repr(self._value(), self._dtype, D.get_default_dtype(),
                           type(fn).__name__ if fn is not None else None, self._rg)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        if self.dim() == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __iter__(self):
        if not self._shape:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __getitem__(self, index) -> "Tensor":
        if type(index) is int:
            if not self._shape:
                if index != 0:
                    raise IndexError(f"index {index} is out of bounds for dimension 0 with size 0")
                raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                                 "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
            size = self._shape[0]
            if index < -size or index >= size:
                raise IndexError(f"index {index} is out of bounds for dimension 0 with size {size}")
            return self.select(0, index)
        idx, kind = _np_index(index)
        if not self._shape and any(isinstance(i, slice) for i in idx):
            raise IndexError("slice() cannot be applied to a 0-dim tensor.")
        if self._rg and state.grad:
            positions = _index_values(np.arange(self.numel()).reshape(self._shape), idx)
            return self._gather(positions, kind if kind == S.BY_INDEX else _last_view(idx, self._shape))
        if kind == S.BY_INDEX:
            return _plain(np.array(_index_values(self._value(), idx)), self._dtype)
        if Ellipsis not in idx:
            idx = idx + (Ellipsis,)             # a 0-d view, not a numpy scalar
        return self._view_alias(_index_values(self._storage(), idx))

    def __setitem__(self, index, value) -> None:
        idx, _ = _np_index(index)
        if isinstance(value, np.ndarray):
            value = _plain(np.array(value), D.from_numpy_dtype(value.dtype))
        elif not isinstance(value, (Tensor, int, float, bool, np.number)):
            raise TypeError(f"can't assign a {type(value).__name__} to a {self.type()}")
        tracked = state.grad and (self._rg or (isinstance(value, Tensor) and value._rg))
        if not tracked:
            self._check_inplace()
            target = self._storage()
            _index_values(target, idx)          # raises PyTorch's errors for bad indices
            target[idx] = value._value() if isinstance(value, Tensor) else value
            self._bump()
            if self._tape is not None:
                self._relink()
            return
        # Recorded as out-of-place arithmetic: keep the other elements, scatter the new ones.
        positions = _index_values(np.arange(self.numel()).reshape(self._shape), idx)
        keep = np.ones(self.numel(), self._dtype.np)
        keep[positions.reshape(-1)] = 0
        if not isinstance(value, Tensor):
            value = _plain(np.asarray(value, self._dtype.np), self._dtype)
        elif value._dtype is not self._dtype:
            value = value.to(self._dtype)
        put = value.expand(positions.shape) if value._shape != positions.shape else value
        new = self * _plain(keep.reshape(self._shape), self._dtype) + put._scatter(positions, self._shape)
        self._inplace(new)

    def _gather(self, positions: np.ndarray, kind: int) -> "Tensor":
        """The elements at flat ``positions`` (an int array shaped like the result)."""
        y = np.array(self._value().reshape(-1)[positions], order="C")
        if not (self._rg and state.grad):
            return _plain(y, self._dtype)
        tape = _write_tape()
        nx = self._node if self._tape is tape else tape.import_(self)
        code = S.INDEX if kind == S.BY_INDEX else S.GATHER
        node = tape.append(code, self._dtype.arena, y, nx, ia=tape.index_list(positions), ib=kind)
        return _recorded(tape, node, y, self._dtype)

    def _scatter(self, positions: np.ndarray, shape: tuple) -> "Tensor":
        """Zeros of ``shape`` with this tensor's elements added at flat ``positions``."""
        y = np.zeros(shape, self._dtype.np)
        np.add.at(y.reshape(-1), positions.reshape(-1), self._value().reshape(-1))
        if not (self._rg and state.grad):
            return _plain(y, self._dtype)
        tape = _write_tape()
        nx = self._node if self._tape is tape else tape.import_(self)
        node = tape.append(S.SCATTER, self._dtype.arena, y, nx, ia=tape.index_list(positions))
        return _recorded(tape, node, y, self._dtype)

    # -- dtype conversion --------------------------------------------------------------
    def to(self, *args, **kwargs) -> "Tensor":
        """Return the tensor converted to a dtype (``to(dtype)``, ``to(other)``, ``to('cpu')``)."""
        dt = kwargs.get("dtype")
        for a in args:
            if isinstance(a, D.dtype):
                dt = a
            elif isinstance(a, Tensor):
                dt = a._dtype
            elif not (isinstance(a, str) and a.startswith("cpu")):
                raise TypeError(f"to() received an invalid combination of arguments: {a!r}")
        if dt is None or dt is self._dtype:
            return self
        v = self._value().astype(dt.np)
        if self._rg and state.grad and dt.is_floating_point:
            return _emit(E.CAST, v, dt, self)
        return _plain(v, dt)

    def type(self, dtype=None):
        if dtype is None:
            return {"float32": "tape.FloatTensor", "float64": "tape.DoubleTensor",
                    "int64": "tape.LongTensor", "int32": "tape.IntTensor",
                    "bool": "tape.BoolTensor"}.get(self._dtype.name, "tape.Tensor")
        return self.to(dtype)

    def float(self) -> "Tensor":
        return self.to(D.float32)

    def double(self) -> "Tensor":
        return self.to(D.float64)

    def long(self) -> "Tensor":
        return self.to(D.int64)

    def int(self) -> "Tensor":
        return self.to(D.int32)

    def bool(self) -> "Tensor":
        return self.to(D.bool_)

    def cpu(self) -> "Tensor":
        return self

    def clone(self) -> "Tensor":
        """A copy of the tensor; gradients flow back to the original."""
        v = np.array(self._value())
        if self._rg and state.grad:
            return _emit(E.CLONE, v, self._dtype, self)
        t = _plain(v, self._dtype)
        return t

    # -- in-place ----------------------------------------------------------------------
    def _check_inplace(self) -> None:
        if not (self._rg and state.grad):
            return
        tape = self._tape
        if tape is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        if tape.op[self._node] == S.SELECT and tape.fb[self._node]:
            raise RuntimeError(f"Output {int(tape.ib[self._node])} of Unbind is a view and is being modified "
                               "inplace. This view is the output of a function that returns multiple views. "
                               "Such functions do not allow the output views to be modified inplace. You should "
                               "replace the inplace operation by an out-of-place one.")

    def _inplace(self, result: "Tensor", operand=None) -> "Tensor":
        """Make ``self`` hold ``result`` in place (the op was computed out of place from
        ``self`` and ``operand``)."""
        self._check_inplace()
        if result._shape != self._shape:
            raise RuntimeError(f"output with shape {list(self._shape)} doesn't match the broadcast shape "
                               f"{list(result._shape)}")
        rd, sd = result._dtype, self._dtype
        if rd is not sd and (rd._cat > sd._cat):
            # PyTorch casts a result into any dtype of the same or a higher category.
            raise RuntimeError(f"result type {_legacy_name(rd)} can't be cast to the "
                               f"desired output type {_legacy_name(sd)}")
        if result._tape is not None and rd is not sd:
            # The op ran in the promoted dtype; its result is cast back, inside the op as in PyTorch.
            result = result.to(sd)
            result._tape.hid[result._node] = 1
        if self._f is not None:
            self._f = float(result._value())
        else:
            np.copyto(self._v, result._value(), casting="unsafe")
        self._bump(result._tape is not None and result._tape is self._tape)
        if operand is self and result._tape is not None:
            _flag_saved_alias(result._tape, result._node)
        if result._tape is not None:
            if self._retains:
                # retain_grad() follows the tensor to its new version.
                self._tape.retained.pop(self._node, None)
                result._tape.retained[result._node] = weakref.ref(self)
            self._tape = result._tape
            self._node = result._node
            self._rg = True
        elif self._tape is not None:
            self._relink()
        return self

    def _relink(self) -> None:
        """After an unrecorded in-place change (under no_grad) of a recorded tensor: move
        it to a row that holds the new value and passes gradients straight to the old
        one, as PyTorch keeps the tensor's history.  The row is hidden from grad_fn."""
        tape = _write_tape()
        old, old_node = self._tape, self._node
        if old is tape:
            self._node = tape.append(E.CLONE, self._dtype.arena, self._value(), self._node, hid=1)
        else:
            self._ig = 0
            self._node = tape.import_(self)
            self._tape = tape
        if self._retains:
            old.retained.pop(old_node, None)
            tape.retained[self._node] = weakref.ref(self)

    def _bump(self, new_row: bool = False) -> None:
        """Count an in-place change: bump the version, and flag the recorded value as
        changed for the rows recorded before now (not the row of this very change,
        ``new_row``, which read the old value)."""
        if self._ver is None:
            self._ver = [1]
        else:
            self._ver[0] += 1
        inplace_changes[0] += 1
        if self._ig:
            # Flag the tape row that holds this tensor's last import now: the tape holds the
            # tensor only weakly, so a backward after the tensor is dropped could not tell.
            for t in (state.tape, *state.spares):
                if t is not None and t.gen == self._ig:
                    t.flag_modified(self._in, t.n)
                    break
        self._ig = 0
        tape = self._tape
        if tape is not None:
            cutoff = tape.n - 1 if new_row else tape.n
            tape.flag_modified(self._node, cutoff)

    def zero_(self) -> "Tensor":
        """Fill the tensor with zeros in place."""
        return self.fill_(0, _zero=True)

    def fill_(self, value, _zero: bool = False) -> "Tensor":
        """Fill the tensor with ``value`` in place."""
        self._check_inplace()
        value = value.item() if isinstance(value, Tensor) else value
        if self._tape is not None and state.grad:
            filled = E.SCALAR_FORWARD[E.FILL][0](self._value(), value)
            return self._inplace(_emit(E.FILL, filled, self._dtype, self, ib=int(_zero), fa=float(value)))
        if self._f is not None:
            self._f = float(value)
        else:
            self._v[...] = value
        self._bump()
        if self._tape is not None:
            self._relink()
        return self

    def __iadd__(self, other):
        self._check_inplace()
        return self._inplace(self + other)

    def __isub__(self, other):
        self._check_inplace()
        return self._inplace(self - other)

    def __imul__(self, other):
        self._check_inplace()
        return self._inplace(self * other, other)

    def __itruediv__(self, other):
        self._check_inplace()
        return self._inplace(self / other, other)

    def add_(self, other, *, alpha: Number = 1):
        self._check_inplace()
        return self._inplace(self.add(other, alpha=alpha))

    def sub_(self, other, *, alpha: Number = 1):
        self._check_inplace()
        return self._inplace(self.sub(other, alpha=alpha))

    def mul_(self, other):
        self._check_inplace()
        return self._inplace(self * other, other)

    def div_(self, other):
        self._check_inplace()
        return self._inplace(self / other, other)

    # -- arithmetic -------------------------------------------------------------------
    def __add__(self, other):
        if type(other) is not Tensor:
            other = _check_operand(other, "+")
        return _binary(self, other, E.ADD)

    def __radd__(self, other):
        return _reversed(self, other, E.ADD)

    def __sub__(self, other):
        if type(other) is not Tensor:
            other = _check_operand(other, "-")
        return _binary(self, other, E.SUB)

    def __rsub__(self, other):
        return _reversed(self, other, E.SUB)

    def __mul__(self, other):
        if type(other) is not Tensor:
            other = _check_operand(other, "*")
        return _binary(self, other, E.MUL)

    def __rmul__(self, other):
        return _reversed(self, other, E.MUL)

    def __truediv__(self, other):
        if type(other) is not Tensor:
            other = _check_operand(other, "/")
        return _binary(self, other, E.DIV)

    def __rtruediv__(self, other):
        return _reversed(self, other, E.DIV)

    def __pow__(self, other):
        if type(other) is not Tensor:
            other = _check_operand(other, "**")
        return _binary(self, other, E.POW)

    def __rpow__(self, other):
        return _reversed(self, other, E.POW)

    def __matmul__(self, other):
        if not isinstance(other, Tensor):
            raise TypeError(f"unsupported operand type(s) for @: 'Tensor' and '{type(other).__name__}'")
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(_check_operand(other, "@"), self)

    def __neg__(self):
        return _unary(self, E.NEG)

    def __pos__(self):
        return self

    def __abs__(self):
        return _unary(self, E.ABS)

    def __eq__(self, other):
        return _compare(self, _check_operand(other, "=="), np.equal)

    def __ne__(self, other):
        return _compare(self, _check_operand(other, "!="), np.not_equal)

    def __lt__(self, other):
        return _compare(self, _check_operand(other, "<"), np.less)

    def __le__(self, other):
        return _compare(self, _check_operand(other, "<="), np.less_equal)

    def __gt__(self, other):
        return _compare(self, _check_operand(other, ">"), np.greater)

    def __ge__(self, other):
        return _compare(self, _check_operand(other, ">="), np.greater_equal)

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    def add(self, other, *, alpha: Number = 1):
        """``self + alpha * other``."""
        return self + (other * alpha if alpha != 1 else other)

    def sub(self, other, *, alpha: Number = 1):
        """``self - alpha * other``."""
        return self - (other * alpha if alpha != 1 else other)

    def mul(self, other):
        return self * other

    multiply = mul

    def div(self, other):
        return self / other

    divide = true_divide = div

    def pow(self, exponent):
        return self ** exponent

    def neg(self):
        return _unary(self, E.NEG)

    negative = neg

    def abs(self):
        return _unary(self, E.ABS)

    def exp(self):
        return _unary(self, E.EXP)

    def log(self):
        return _unary(self, E.LOG)

    def log2(self):
        return _unary(self, E.LOG2)

    def log10(self):
        return _unary(self, E.LOG10)

    def sqrt(self):
        return _unary(self, E.SQRT)

    def sin(self):
        return _unary(self, E.SIN)

    def cos(self):
        return _unary(self, E.COS)

    def tan(self):
        return _unary(self, E.TAN)

    def tanh(self):
        return _unary(self, E.TANH)

    def sigmoid(self):
        return _unary(self, E.SIGMOID)

    def relu(self):
        return _unary(self, E.RELU)

    def reciprocal(self):
        if not self._dtype.is_floating_point:
            return _unary(self.to(D.get_default_dtype()), E.RECIPROCAL)
        return _unary(self, E.RECIPROCAL)

    def clamp(self, min: Optional[Number] = None, max: Optional[Number] = None) -> "Tensor":
        """Clamp every element into ``[min, max]``."""
        if isinstance(min, Tensor):
            min = min.item()
        if isinstance(max, Tensor):
            max = max.item()
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        lo = -math.inf if min is None else min
        hi = math.inf if max is None else max
        dt = D.result_type(self, *(c for c in (min, max) if c is not None))
        v = self._value().astype(dt.np, copy=False)
        y = E.clamp_forward(v, lo, hi) if dt.is_floating_point else np.clip(v, min, max)
        y = _as_array(y, dt)
        if self._rg and state.grad:
            return _emit(E.CLAMP, y, dt, self, fa=float(lo), fb=float(hi))
        return _plain(y, dt)

    clip = clamp

    def clamp_min(self, min: Number) -> "Tensor":
        return self.clamp(min=min)

    def clamp_max(self, max: Number) -> "Tensor":
        return self.clamp(max=max)

    def maximum(self, other: "Tensor") -> "Tensor":
        return _binary(self, _tensor_arg(other, "maximum"), E.MAXIMUM)

    def minimum(self, other: "Tensor") -> "Tensor":
        return _binary(self, _tensor_arg(other, "minimum"), E.MINIMUM)

    def _masked(self, mask: "Tensor") -> "Tensor":
        """``self * mask`` where ``mask`` is nonzero and 0 elsewhere, even where ``self`` is nan."""
        return _binary(self, mask, E.MASKED)

    def _mask(self, kind: int, lo: float = 0.0, hi: float = 0.0, constant: bool = False) -> "Tensor":
        """A piecewise-constant function of ``self`` with zero derivative, kept in the graph
        unless ``constant``."""
        y = E.mask_forward(self._value(), kind, lo, hi).astype(self._dtype.np, copy=False)
        if self._rg and state.grad and not constant:
            return _emit(E.MASK, np.asarray(y), self._dtype, self, ia=kind, fa=lo, fb=hi)
        return _plain(np.asarray(y), self._dtype)

    # -- reductions -------------------------------------------------------------------
    def _reduce(self, code: int, dim, keepdim: bool, dtype) -> "Tensor":
        nd = len(self._shape)
        dt = self._dtype
        if code == R.MEAN and not (dtype or dt).is_floating_point:
            which = "Optional" if dtype is not None else "Input"
            raise RuntimeError(f"mean(): could not infer output dtype. {which} dtype must be either a "
                               f"floating point or complex dtype. Got: {_legacy_name(dtype or dt)}")
        if dim is None and dtype is None and not keepdim and dt.arena is not None:
            # The common full reduction of a float tensor, without the argument checks.
            dims = _ALL_DIMS[nd] if nd < len(_ALL_DIMS) else tuple(range(nd))
            y = np.asarray(R.reduce_forward[code](self._value(), axis=dims, keepdims=False), dt.np)
            if self._rg and state.grad:
                return _emit(code, y, dt, self, ia=(1 << nd) - 1)
            return _plain(y, dt)
        if dim is None:
            dims = tuple(range(nd))
            flags = 0
        else:
            dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
            dims = tuple(_wrap_dim(d, nd) for d in dims)
            seen = set()
            for d in dims:
                if d in seen:
                    raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
                seen.add(d)
            if not dims or nd == 0:
                dims = tuple(range(nd))
            flags = R.DIM_GIVEN
        if keepdim:
            flags |= R.KEEPDIM
        dt = self._dtype
        if dtype is not None:
            dt = dtype
        elif code == R.SUM and not dt.is_floating_point:
            dt = D.int64
        if code == R.MEAN and not dt.is_floating_point:
            which = "Optional" if dtype is not None else "Input"
            raise RuntimeError(f"mean(): could not infer output dtype. {which} dtype must be either a "
                               f"floating point or complex dtype. Got: {_legacy_name(dt)}")
        src = self if dt is self._dtype else self.to(dt)
        v = src._value()
        if v.dtype == np.bool_:
            v = v.astype(np.int64)
        y = np.asarray(R.reduce_forward[code](v, axis=dims, keepdims=keepdim), dt.np)
        mask = 0
        for d in dims:
            mask |= 1 << d
        if src._rg and state.grad:
            return _emit(code, y, dt, src, ia=mask, ib=flags)
        return _plain(y, dt)

    def sum(self, dim=None, keepdim: bool = False, *, dtype=None) -> "Tensor":
        """Sum of all elements, or over ``dim`` (an int or a tuple of ints)."""
        return self._reduce(R.SUM, dim, keepdim, dtype)

    def mean(self, dim=None, keepdim: bool = False, *, dtype=None) -> "Tensor":
        """Mean of all elements, or over ``dim`` (an int or a tuple of ints)."""
        return self._reduce(R.MEAN, dim, keepdim, dtype)

    # -- shape ---------------------------------------------------------------------------
    def reshape(self, *shape) -> "Tensor":
        """The same data with a new shape (one dimension may be -1): a view where the layout
        allows one, else a contiguous copy."""
        shape = _infer_shape(_shape_arg(shape), self.numel())
        how = self._view_kind(shape)
        if how is None:
            # As PyTorch: a contiguous clone viewed as the shape (CloneBackward0, then UnsafeViewBackward0).
            return self.contiguous()._view(shape, S.V_UNSAFE)
        return self._view(shape, how)

    def view(self, *shape) -> "Tensor":
        """The same data with a new shape (one dimension may be -1), sharing its storage: the
        layout must allow it without a copy (else use ``reshape``)."""
        shape = _infer_shape(_shape_arg(shape), self.numel())
        if self._view_kind(shape) is None:
            raise RuntimeError("view size is not compatible with input tensor's size and stride (at least "
                               "one dimension spans across two contiguous subspaces). Use .reshape(...) "
                               "instead.")
        return self._view(shape, S.V_VIEW)

    def _view_kind(self, shape: tuple) -> Optional[int]:
        """How ``reshape`` views this layout as ``shape`` (PyTorch's node for it): V_VIEW when
        contiguous, V_RESHAPE_ALIAS when strided but viewable, None when it needs a copy."""
        if self._f is None and not self._v.flags.c_contiguous:
            try:
                np.reshape(self._v, shape, copy=False)
            except ValueError:
                return None
            return S.V_RESHAPE_ALIAS
        return S.V_VIEW

    def is_contiguous(self, memory_format=None) -> bool:
        """Whether the elements are laid out in row-major order without gaps (a transpose or an
        expand is not; ``contiguous()`` makes a copy that is)."""
        return self._f is not None or self._v.flags.c_contiguous

    def contiguous(self, memory_format=None) -> "Tensor":
        """The tensor itself if contiguous, else a contiguous copy (recorded as a clone)."""
        if self.is_contiguous():
            return self
        out = self.clone()          # (a clone keeps the layout, as PyTorch's preserve_format)
        out._v = np.ascontiguousarray(out._v)
        return out

    def stride(self, dim: Optional[int] = None):
        """Elements to step in storage to move one index along each dim."""
        strides = () if self._f is not None else tuple(s // self._v.itemsize for s in self._v.strides)
        return strides if dim is None else strides[_wrap_dim(dim, len(self._shape))]

    def _view(self, shape: tuple, how: int) -> "Tensor":
        v = self._storage().reshape(shape)
        if self._rg and state.grad:
            return _emit(S.VIEW, v, self._dtype, self, ia=how)
        return self._view_alias(v)

    def unsqueeze(self, dim: int) -> "Tensor":
        """Insert a dimension of size one at ``dim``."""
        dim = _wrap_dim(dim, len(self._shape) + 1)
        return self._view(self._shape[:dim] + (1,) + self._shape[dim:], S.V_UNSQUEEZE)

    def squeeze(self, dim=None) -> "Tensor":
        """Remove dimensions of size one (all of them, or those in ``dim``)."""
        nd = len(self._shape)
        if dim is None:
            return self._view(tuple(s for s in self._shape if s != 1), S.V_SQUEEZE)
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        wrapped = [_wrap_dim(d, nd) for d in dims]
        for k, d in enumerate(wrapped):
            if d in wrapped[:k]:
                raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        dims = set(wrapped)
        shape = tuple(s for d, s in enumerate(self._shape) if not (d in dims and s == 1))
        return self._view(shape, S.V_SQUEEZE_DIM if isinstance(dim, int) else S.V_SQUEEZE_TUPLE)

    def view_as(self, other: "Tensor") -> "Tensor":
        return self.view(other._shape)

    def reshape_as(self, other: "Tensor") -> "Tensor":
        return self.reshape(other._shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        """Merge dims ``start_dim`` to ``end_dim`` into one (the tensor itself if that is one dim)."""
        nd = len(self._shape)
        if nd == 0:
            return self.reshape(1)
        start, end = _wrap_dim(start_dim, nd), _wrap_dim(end_dim, nd)
        if start > end:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        if start == end:
            return self
        return self.reshape(self._shape[:start] + (math.prod(self._shape[start:end + 1]),) + self._shape[end + 1:])

    def expand(self, *sizes) -> "Tensor":
        """Broadcast the tensor to a larger size (-1 keeps a dimension)."""
        sizes = _shape_arg(sizes)
        nd = len(sizes)
        if nd < len(self._shape):
            raise RuntimeError(
                f"expand(torch.FloatTensor{{{list(self._shape)}}}, size={list(sizes)}): the number of sizes "
                f"provided ({nd}) must be greater or equal to the number of dimensions in the tensor "
                f"({len(self._shape)})")
        lead = nd - len(self._shape)
        out = []
        for i, s in enumerate(sizes):
            cur = self._shape[i - lead] if i >= lead else None
            if s == -1:
                if cur is None:
                    raise RuntimeError(f"The expanded size of the tensor (-1) isn't allowed in a leading, "
                                       f"non-existing dimension {i}")
                s = cur
            elif cur is not None and cur != 1 and cur != s:
                raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size "
                                   f"({cur}) at non-singleton dimension {i}.  Target sizes: {list(sizes)}.  "
                                   f"Tensor sizes: {list(self._shape)}")
            out.append(s)
        shape = tuple(out)
        v = np.broadcast_to(self._storage(), shape)
        if self._rg and state.grad:
            return _strided(_emit(S.EXPAND, np.array(v, order="C"), self._dtype, self),
                            np.broadcast_to(self._storage().copy(order="K"), shape))
        return self._view_alias(v)

    def expand_as(self, other: "Tensor") -> "Tensor":
        return self.expand(other._shape)

    def _sum_to(self, shape: tuple) -> "Tensor":
        """Sum broadcast dims away so the result has ``shape`` (undoes broadcasting)."""
        if self._shape == tuple(shape):
            return self
        dims = S.sum_to_dims(self._shape, tuple(shape))
        out = self.sum(dims, keepdim=True) if dims else self
        return out.reshape(shape)

    def select(self, dim: int, index: int) -> "Tensor":
        """The slice at ``index`` along ``dim`` (that dimension removed)."""
        if not self._shape:
            raise IndexError("select() cannot be applied to a 0-dim tensor.")
        dim = _wrap_dim(dim, len(self._shape))
        size = self._shape[dim]
        if index < -size or index >= size:
            raise IndexError(f"select(): index {index} out of range for tensor of size "
                             f"{list(self._shape)} at dimension {dim}")
        index = index + size if index < 0 else index
        return self._select(dim, index, 0)

    def _select(self, dim: int, index: int, group: int) -> "Tensor":
        v = self._storage()[(slice(None),) * dim + (index, Ellipsis)]
        if self._rg and state.grad:
            return _emit(S.SELECT, np.array(v, order="C"), self._dtype, self, ia=dim, ib=index, fb=float(group))
        return self._view_alias(v)

    def unbind(self, dim: int = 0) -> tuple:
        """Remove a dimension; return the tuple of slices along it."""
        dim = _wrap_dim(dim, len(self._shape))
        if not self._shape:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        n = self._shape[dim]
        return tuple(self._select(dim, i, n) for i in range(n))

    def _embed(self, dim: int, index: int, shape: tuple) -> "Tensor":
        """Zeros of ``shape`` with ``self`` placed at ``index`` along ``dim`` (select's adjoint)."""
        v = np.zeros(shape, self._dtype.np)
        v[(slice(None),) * dim + (index,)] = self._value()
        if self._rg and state.grad:
            return _emit(S.EMBED, v, self._dtype, self, ia=dim, ib=index)
        return _plain(v, self._dtype)

    def transpose(self, dim0: int, dim1: int) -> "Tensor":
        """Swap two dimensions."""
        nd = len(self._shape)
        d0 = _wrap_dim(dim0, nd)
        d1 = _wrap_dim(dim1, nd)
        return self._transpose(d0, d1, 0.0)

    def _transpose(self, d0: int, d1: int, is_t: float) -> "Tensor":
        v = np.swapaxes(self._storage(), d0, d1) if self._shape else self._storage()
        if self._rg and state.grad:
            out = _emit(S.TRANSPOSE, np.array(v, order="C"), self._dtype, self, ia=d0, ib=d1, fa=is_t)
            return _strided(out, np.swapaxes(self._storage().copy(order="K"), d0, d1) if self._shape else out._v)
        return self._view_alias(v)

    def t(self) -> "Tensor":
        """Transpose of a tensor with at most 2 dimensions."""
        nd = len(self._shape)
        if nd > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {nd}D")
        return self._transpose(0, nd - 1 if nd else 0, 1.0)

    @property
    def T(self) -> "Tensor":
        return self.t()

    # -- linear algebra --------------------------------------------------------------------
    def matmul(self, other: "Tensor") -> "Tensor":
        return matmul(self, other)

    def mm(self, other: "Tensor") -> "Tensor":
        if self.dim() != 2:
            raise RuntimeError("self must be a matrix")
        if other.dim() != 2:
            raise RuntimeError("mat2 must be a matrix")
        return matmul(self, other)

    def mv(self, vec: "Tensor") -> "Tensor":
        if self.dim() != 2 or vec.dim() != 1:
            raise RuntimeError(f"vector + matrix @ vector expected, got 1, {self.dim()}, {vec.dim()}")
        return matmul(self, vec)

    def dot(self, other: "Tensor") -> "Tensor":
        if self.dim() != 1 or other.dim() != 1:
            raise RuntimeError(f"1D tensors expected, but got {self.dim()}D and {other.dim()}D tensors")
        return matmul(self, other)


def _last_view(idx: tuple, shape: tuple) -> int:
    """The view PyTorch applies last for a basic index, which names its node: a select for an
    int, a slice for a slice that is not the whole dim (PyTorch skips those)."""
    consuming = sum(1 for it in idx if it is not None and it is not Ellipsis)
    kind = S.BY_SLICE
    d = 0
    for it in idx:
        if it is None:
            continue
        if it is Ellipsis:
            d += len(shape) - consuming
            continue
        if isinstance(it, slice):
            size = shape[d] if d < len(shape) else 1
            if it.indices(size) != (0, size, 1):
                kind = S.BY_SLICE
        else:
            kind = S.BY_SELECT
        d += 1
    return kind


def _np_index(index) -> tuple:
    """The numpy form of an index, and which PyTorch node kind it records."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    kind = S.BY_SLICE
    for it in items:
        if isinstance(it, Tensor):
            if it._dtype.is_floating_point:
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            it = it._value()
            if it.ndim == 0 and it.dtype != np.bool_:
                it = int(it)
                kind = max(kind, S.BY_SELECT) if kind != S.BY_INDEX else kind
                out.append(it)
                continue
            kind = S.BY_INDEX
        elif isinstance(it, (list, np.ndarray)):
            it = np.asarray(it)
            if it.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            kind = S.BY_INDEX
        elif isinstance(it, (bool, np.bool_)):
            kind = S.BY_INDEX
        elif isinstance(it, (int, np.integer)):
            if kind != S.BY_INDEX:
                kind = S.BY_SELECT
        elif not (it is None or it is Ellipsis or isinstance(it, slice)):
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                             "Variables are valid indices (got " + type(it).__name__ + ")")
        elif isinstance(it, slice) and it.step is not None and it.step <= 0:
            raise ValueError("step must be greater than zero")
        out.append(it)
    return tuple(out), kind


def _index_values(arr: np.ndarray, idx: tuple):
    """``arr[idx]`` with numpy's index errors reworded as PyTorch's."""
    try:
        return arr[idx]
    except IndexError as e:
        msg = str(e)
        if "out of bounds" in msg:
            raise IndexError(_out_of_bounds_message(msg, arr.ndim, idx)) from None
        if "too many indices" in msg:
            raise IndexError(f"too many indices for tensor of dimension {arr.ndim}") from None
        if "boolean index did not match" in msg:
            for k, it in enumerate(idx):
                if isinstance(it, np.ndarray) and it.dtype == np.bool_:
                    raise IndexError(f"The shape of the mask {list(it.shape)} at index {k} does not match the "
                                     f"shape of the indexed tensor {list(arr.shape)[k:k + it.ndim]} at index "
                                     f"{k}") from None
            raise IndexError(msg) from None
        raise IndexError(msg) from None


def _out_of_bounds_message(msg: str, ndim: int, idx: tuple) -> str:
    """PyTorch's wording of numpy's "index i is out of bounds for axis k with size n".

    An integer selects its dim first in PyTorch, which names that dim; an index tensor is
    reported by its position among the index tensors instead, and not at all for an empty dim.
    """
    head, _, tail = msg.partition(" for axis ")
    axis_text, _, size = tail.partition(" with size ")
    if not axis_text.isdigit():
        return msg.replace("axis", "dimension")
    axis = int(axis_text)
    taken = sum(1 if not isinstance(it, np.ndarray) or it.dtype != np.bool_ else it.ndim
                for it in idx if it is not None and it is not Ellipsis)
    d = tensors = 0
    for it in idx:
        if it is None:
            continue
        if it is Ellipsis:
            d += ndim - taken
            continue
        width = it.ndim if isinstance(it, np.ndarray) and it.dtype == np.bool_ else 1
        if isinstance(it, np.ndarray) and d <= axis < d + width:
            if size == "0":
                return "index is out of bounds for dimension with size 0"
            return f"{head} for dimension {tensors + axis - d} with size {size}"
        if isinstance(it, np.ndarray):
            tensors += width
        d += width
    return f"{head} for dimension {axis} with size {size}"


def _tensor_arg(x, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'other' (position 1) must be Tensor, not {type(x).__name__}")
    return x


def _legacy_name(dt: D.dtype) -> str:
    return {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool", "float32": "Float", "float64": "Double", "float16": "Half"}[dt.name]


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product of two tensors (dot, matrix-vector, matrix-matrix, batched)."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"matmul(): argument 'other' must be Tensor, not "
                        f"{type(b if isinstance(a, Tensor) else a).__name__}")
    sa, sb = a._shape, b._shape
    dt = a._dtype
    if len(sa) == 2 and len(sb) == 2 and sa[1] == sb[0] and dt is b._dtype and dt.arena is not None:
        # The common matrix-matrix product, checked in one line.
        y = np.matmul(a._value(), b._value())
        if not ((a._rg or b._rg) and state.grad):
            return _plain(y, dt)
        tape = _write_tape()
        na_ = a._node if a._tape is tape else _node_in(tape, a, dt, sa)
        nb_ = b._node if b._tape is tape else _node_in(tape, b, dt, sb)
        node = tape.append(L.code_for(L.MM, sa[0] * sa[1] * sb[1]), dt.arena, y, na_, nb_, ia=L.MM)
        return _recorded(tape, node, y, dt)
    na, nb = len(sa), len(sb)
    if na == 0 or nb == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {na}D and {nb}D")
    case = L.case_of(na, nb)
    if case == L.BATCHED and na > 2 and nb <= 2:
        # A batch times a matrix or a vector: PyTorch folds the batch into the rows of one
        # product (its checks and messages then are the product's), and views the batch back.
        folded = matmul(a._view((a.numel() // sa[-1], sa[-1]), S.V_VIEW), b)
        return folded._view(sa[:-1] + sb[1:], S.V_UNSAFE)
    if case == L.MV and sa[1] != sb[0]:
        raise RuntimeError(f"size mismatch, got input ({sa[0]}), mat ({sa[0]}x{sa[1]}), vec ({sb[0]})")
    if case in (L.VM, L.MM) and sa[-1] != sb[0]:
        ra = "1x" + str(sa[0]) if na == 1 else f"{sa[0]}x{sa[1]}"
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({ra} and {sb[0]}x{sb[1]})")
    if a._dtype is not b._dtype:
        la, lb = _legacy_name(a._dtype), _legacy_name(b._dtype)
        if case == L.DOT:
            raise RuntimeError(f"dot : expected both vectors to have same dtype, but found {la} and {lb}")
        if case == L.MV:
            raise RuntimeError(f"addmv input tensors must have the same dtype, but got {lb}, {la}, and {lb}")
        if case == L.BATCHED:
            raise RuntimeError(f"expected scalar type {la.replace('Tensor', '')} but found "
                               f"{lb.replace('Tensor', '')}")
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {la.lower()} != {lb.lower()}")
    if case == L.DOT and sa[0] != sb[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{sa[0]}] and src [{sb[0]}] to have the "
                           f"same number of elements, but got {sa[0]} and {sb[0]} elements respectively")
    if case == L.MV and sa[1] != sb[0]:
        raise RuntimeError(f"size mismatch, got input ({sa[0]}), mat ({sa[0]}x{sa[1]}), vec ({sb[0]})")
    if case in (L.VM, L.MM) and sa[-1] != sb[0]:
        ra = "1x" + str(sa[0]) if na == 1 else f"{sa[0]}x{sa[1]}"
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({ra} and {sb[0]}x{sb[1]})")
    if case == L.VM:
        # As PyTorch: the vector becomes a 1-row matrix, and the product row is squeezed.
        return matmul(a._view((1, sa[0]), S.V_UNSQUEEZE), b)._view((sb[1],), S.V_SQUEEZE_DIMS)
    if case == L.BATCHED:
        if na == 1:
            # A vector times a batch: as PyTorch, through a view to a one-row matrix.
            return matmul(a.reshape(1, sa[0]), b).reshape(sb[:-2] + sb[-1:])
        if sa[-1] != sb[-2]:
            raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                               f"[{sb[-3] if nb > 2 else 1}, {sa[-1]}] but got: "
                               f"[{sb[-3] if nb > 2 else 1}, {sb[-2]}].")
        broadcast_pair(sa[:-2], sb[:-2])
    dt = a._dtype
    y = np.asarray(np.matmul(a._value(), b._value()), dt.np)
    if (a._rg or b._rg) and state.grad and dt.is_floating_point:
        tape = _write_tape()
        na_ = _node_in(tape, a, dt, sa)
        nb_ = _node_in(tape, b, dt, sb)
        code = L.code_for(case, a.numel() * (sb[-1] if nb > 1 else 1))
        node = tape.append(code, dt.arena, y, na_, nb_, ia=case)
        return _recorded(tape, node, y, dt)
    return _plain(y, dt)
