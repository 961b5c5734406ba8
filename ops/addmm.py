"""Products added to a tensor: ``addmm``, ``addmv``, ``addr``, ``addbmm``, ``baddbmm``
(``beta * input + alpha * product``).

Each is one row with three tensor inputs (input, first factor, second factor: PyTorch's node shows
the three), listed in the tape's index table; ``fa`` is ``beta`` and ``fb`` is ``alpha``.  The
row's rule runs in Python (a ``PYTHON``-range code), on plain tensors in a plain backward, so
that its products are numpy's (BLAS) whatever their size, and on recorded tensors under
``create_graph``, so that every order comes from the same rule.  The in-place variants
(``addmm_`` ...) are at the end (PyTorch's own message for a tensor of the wrong shape).
"""
from __future__ import annotations

from typing import Union

import numpy as np

from .._emit import D, Tensor, emit, node_in, plain, quiet, recorded, state, write_tape
from ._parser import Forms
from ._rule import rule_adjoint
from .linalg import _into, _put, _strides
from .shape import sum_to_dims
from ._spec import LISTED, PYTHON, X1, X2, Op, public, register, saved_when
from ._spec import TRANSPOSED, tangents

CODES = range(PYTHON.start + 20, PYTHON.start + 25)
ADDMM, ADDMV, ADDR, ADDBMM, BADDBMM = CODES
MUL_SCALAR = PYTHON.start + 68
_BOOL_KERNELS = {ADDMM: "addmm_impl_cpu_", ADDMV: "addmv_impl_cpu", ADDBMM: "addmm_impl_cpu_", BADDBMM: "baddbmm"}
_NAMES = {ADDMM: ("addmm", "AddmmBackward0"), ADDMV: ("addmv", "AddmvBackward0"), ADDR: ("addr", "AddrBackward0"),
          ADDBMM: ("addbmm", "AddbmmBackward0"), BADDBMM: ("baddbmm", "BaddbmmBackward0")}


def _scaled(t: Tensor, c: float) -> Tensor:
    """``t * c`` as PyTorch's C++ maybe_multiply: a product with a Scalar (``MulBackward1``, whose
    node shows no number input), none for a factor of 1."""
    if c == 1:
        return t
    y = np.require(t._value() * t._dtype.np.type(c), t._dtype.np, "C")
    if t._rg and state.grad:
        return emit(MUL_SCALAR, y, t._dtype, t, ib=INT_SCALAR if type(c) is int else 0, fa=c)
    return plain(y, t._dtype)


INT_SCALAR = 2      # (a bit of ``ib`` of a row with a Scalar in ``fa``: a Python int, shown as such)


def scalar_of(r) -> Union[int, float]:
    """The Scalar of a row with one in ``fa``, as given."""
    return int(r.fa) if r.ib & INT_SCALAR else r.fa


def _mul_scalar_vjp(g, xs, y, r):
    return (_scaled(g, scalar_of(r)),)


# (a Python-rule row: the families' number products show a number input, MulBackward0)
register(Op(MUL_SCALAR, "mul", "MulBackward1", 0, _mul_scalar_vjp, py_adjoint=rule_adjoint,
            node_saved=(("other", scalar_of),)))
tangents({MUL_SCALAR: TRANSPOSED})     # (linear: its adjoint rule, transposed)


def _product_grads(code: int, g: Tensor, a: Tensor, b: Tensor, need_a: bool, need_b: bool) -> tuple:
    """The gradients of the two factors of the product (before ``alpha``), as PyTorch's formulas."""
    ga = gb = None
    if code == ADDMM:
        ga = g @ b.mT if need_a else None
        gb = a.mT @ g if need_b else None
    elif code == ADDMV:
        ga = g.outer(b) if need_a else None
        gb = a.mT @ g if need_b else None
    elif code == ADDR:
        ga = g @ b if need_a else None
        gb = g.mT @ a if need_b else None
    else:
        if code == ADDBMM:
            g = g.unsqueeze(0).expand(a._shape[0], *g._shape)
        ga = g.bmm(b.transpose(1, 2)) if need_a else None
        gb = a.transpose(1, 2).bmm(g) if need_b else None
    return ga, gb


def _vjp(g, xs, y, r):
    inp, a, b = xs
    rg = r.tape.rg
    ni, na, nb = r.inputs
    gi = None
    if rg[ni]:
        gi = _scaled(g, r.fa)
        if gi._shape != inp._shape:
            gi = gi._sum_to(inp._shape)     # the input was broadcast
    ga, gb = _product_grads(r.code, g, a, b, bool(rg[na]), bool(rg[nb]))
    alpha = r.fb
    return gi, None if ga is None else _scaled(ga, alpha), None if gb is None else _scaled(gb, alpha)


def _addmm_adjoint(r, vs, gy, gs, fresh):
    """``_vjp`` of ``addmm`` in a plain backward, on numpy views of the arenas: the same products and
    sum, written into the input adjoints (no tensor made: ``nn.Linear``'s row in a training step)."""
    inp, a, b = vs
    gi, ga, gb = gs
    dt = gy.dtype.type
    if gi is not None:
        g = gy if r.fa == 1 else gy * dt(r.fa)
        if g.shape != gi.shape:
            g = np.add.reduce(g, axis=sum_to_dims(g.shape, gi.shape), keepdims=True).reshape(gi.shape)
        _put(gi, g, fresh & 1)
    alpha = r.fb
    for k, (dst, x, y) in enumerate(((ga, gy, b.T), (gb, a.T, gy)), 1):
        if dst is not None:
            if alpha == 1:
                _into(dst, x, y, fresh >> k & 1)
            else:
                _put(dst, (x @ y) * dt(alpha), fresh >> k & 1)


# ``ib`` of a row: how ``beta`` (bits 0-1) and ``alpha`` (bits 2-3) were given, so that the node
# shows them as given (PyTorch's Scalars: 1, 1.0 or True)
_KINDS = {bool: 2, int: 1}
_INT_ONES = 1 | 1 << 2


def _kinds(beta, alpha) -> int:
    return _KINDS.get(type(beta), 0) | _KINDS.get(type(alpha), 0) << 2


def _given(value: float, kind: int) -> Union[bool, int, float]:
    return bool(value) if kind == 2 else int(value) if kind == 1 else value


def _alpha_beta() -> tuple:
    return ("alpha", lambda r: _given(r.fb, r.ib >> 2 & 3)), ("beta", lambda r: _given(r.fa, r.ib & 3))


def _layout(name: str, k: int) -> tuple:
    """An operand's sizes, and its strides when it needs a gradient (PyTorch's are empty otherwise):
    those of the contiguous copy the row holds, as ``MmBackward0``'s (``ops/linalg.py``)."""
    def strides(r):
        node = r.inputs[k]
        return _strides(r.in_shapes[k]) if r.tape.rg[node] else ()
    return (f"{name}_sym_sizes", lambda r: r.in_shapes[k]), (f"{name}_sym_strides", strides)


def _argsize(name: str, k: int, dim: int) -> tuple:
    return f"{name}_sym_argsize_{dim}", lambda r: r.in_shapes[k][dim]


# What each node saves, in PyTorch's names and packing order: each factor only for the other one's
# gradient, as PyTorch saves it (``saved_when``), so an in-place change to it is refused only then.
_SAVED = {ADDMM: (("mat1", X1), ("mat2", X2)) + _alpha_beta() + _layout("mat1", 1) + _layout("mat2", 2),
          ADDMV: (("mat", X1), ("vec", X2)) + _alpha_beta(),
          ADDR: (("vec1", X1), ("vec2", X2)) + _alpha_beta(),
          ADDBMM: (("batch1", X1), ("batch2", X2)) + _alpha_beta() + (_argsize("batch1", 1, 0), _argsize("batch1", 1, 1),
                                                                       _argsize("batch2", 2, 2)),
          BADDBMM: (("batch1", X1), ("batch2", X2)) + _alpha_beta()}
for _code, (_name, _grad_fn) in _NAMES.items():
    register(Op(_code, _name, _grad_fn, X1 | X2 | saved_when(1, 2) | saved_when(2, 1), _vjp, arity=LISTED,
                py_adjoint=_addmm_adjoint if _code == ADDMM else None, node_saved=_SAVED[_code]))
tangents({code: TRANSPOSED for code in _NAMES})     # (their adjoint rule, transposed)


# --- front ends ---------------------------------------------------------------------------
def _dims(t: Tensor) -> int:
    return len(t._shape)


def _scalars(dt: D.dtype, beta, alpha, promoting: bool) -> tuple:
    """``beta`` and ``alpha`` as the kernel uses them: integers for an integer result (PyTorch's
    matrix kernels truncate a float; its elementwise ``addr`` refuses one)."""
    if dt.is_floating_point:
        return float(beta), float(alpha)
    if promoting:
        for name, c in (("beta", beta), ("alpha", alpha)):
            if isinstance(c, float):
                raise RuntimeError(f"For integral input tensors, argument {name} must not be a floating point "
                                   "number.")
    return int(beta), int(alpha)


def _combine(inp: np.ndarray, prod: np.ndarray, beta, alpha, dt: D.dtype) -> np.ndarray:
    """``beta * inp + alpha * prod`` in the result's dtype; a zero ``beta`` ignores ``inp`` (nan
    and inf too) and a zero ``alpha`` the product, as PyTorch's kernels do."""
    shape = prod.shape
    if dt is D.bool_:
        out = np.zeros(shape, bool)
        if beta:
            out = out | inp
        if alpha:
            out = out | prod.astype(bool)
        return out
    # (the input first, as the BLAS adds the product to it: a zero's sign as PyTorch's)
    scaled = inp if beta == 1 else dt.np.type(beta) * inp
    if beta and alpha:
        out = scaled + (prod if alpha == 1 else dt.np.type(alpha) * prod)
    elif beta:
        out = np.broadcast_to(scaled, shape)
    elif alpha:
        out = prod if alpha == 1 else dt.np.type(alpha) * prod
    else:
        out = np.zeros(shape, dt.np)
    return np.require(out, dt.np, "C")


def _expandable(s: tuple, shape: tuple) -> None:
    """PyTorch's error when the input does not expand to the product's shape (its check runs from the
    last dim: ``Tensor.expand`` here reports the first mismatch)."""
    if len(s) > len(shape):
        raise RuntimeError(f"expand(torch.FloatTensor{{{list(s)}}}, size={list(shape)}): the number of sizes provided "
                           f"({len(shape)}) must be greater or equal to the number of dimensions in the tensor "
                           f"({len(s)})")
    lead = len(shape) - len(s)
    for i in reversed(range(lead, len(shape))):
        if s[i - lead] not in (1, shape[i]):
            raise RuntimeError(f"The expanded size of the tensor ({shape[i]}) must match the existing size "
                               f"({s[i - lead]}) at non-singleton dimension {i}.  Target sizes: {list(shape)}.  "
                               f"Tensor sizes: {list(s)}")


def _finish(code: int, inp: Tensor, m1: Tensor, m2: Tensor, prod: np.ndarray, beta, alpha, dt: D.dtype,
            promoting: bool = False) -> Tensor:
    """Check that ``inp`` broadcasts to the product's shape (PyTorch's expand errors), compute, record."""
    shape = prod.shape
    _expandable(inp._shape, shape)
    kinds = _kinds(beta, alpha)
    beta, alpha = _scalars(dt, beta, alpha, promoting)
    if dt is D.bool_ and not promoting:
        raise NotImplementedError(f'"{_BOOL_KERNELS[code]}" not implemented for \'Bool\'')
    y = _combine(inp._value().astype(dt.np, copy=False), prod, beta, alpha, dt)
    return _result(code, inp, m1, m2, y, beta, alpha, dt, kinds)


def _result(code: int, inp: Tensor, m1: Tensor, m2: Tensor, y: np.ndarray, beta, alpha, dt: D.dtype,
            kinds: int) -> Tensor:
    """``y`` as the product's result: its row (the three inputs listed) when a float input requires grad."""
    if state.grad and dt.is_floating_point and (inp._rg or m1._rg or m2._rg):
        tape = write_tape()
        nodes = [node_in(tape, t, dt, t._shape) for t in (inp, m1, m2)]
        return recorded(tape, tape.append_listed(code, dt.arena, y, nodes, ib=kinds, fa=beta, fb=alpha), y, dt)
    return plain(y, dt)


def _check_tensors(name: str, *ts) -> None:
    for k, (arg, t) in enumerate(ts):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' (position {k}) must be Tensor, not {type(t).__name__}")


def _same_dtype(first: str, a: Tensor, b: Tensor) -> None:
    if a._dtype is not b._dtype:
        raise RuntimeError(f"{first} and mat2 must have the same dtype, but got {D.legacy_name(a._dtype)} and "
                           f"{D.legacy_name(b._dtype)}")


# the end of PyTorch's overloads of the function forms (``error_forms``: the parser's error of a call)
_BETA = "*, Number beta = 1, Number alpha = 1, Tensor out = None"


@public("addmm", error_forms=Forms("addmm", *(f"(Tensor input, Tensor mat1, Tensor mat2, {d}{_BETA})"
                                              for d in ("", "torch.dtype out_dtype, "))))
def addmm(self, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * self + alpha * (mat1 @ mat2)`` (``self`` broadcast to the product's shape)."""
    if type(beta) is int and type(alpha) is int and beta == 1 and alpha == 1 and isinstance(self, Tensor) \
            and isinstance(mat1, Tensor) and isinstance(mat2, Tensor):
        # (``nn.Linear``'s call: float matrices of one dtype and a bias of the product's width or shape,
        # which pass every check below; computed as ``_combine`` computes it)
        dt, s1, s2, s0 = mat1._dtype, mat1._shape, mat2._shape, self._shape
        if dt.arena is not None and self._dtype is dt and mat2._dtype is dt and len(s1) == 2 and len(s2) == 2 \
                and s1[1] == s2[0] and (s0 == (s2[1],) or s0 == (s1[0], s2[1])):
            y = np.matmul(mat1._value(), mat2._value())
            y += self._value()      # (a fresh C-ordered array; addition commutes to the bit, signed zeros too)
            return _result(ADDMM, self, mat1, mat2, y, 1.0, 1.0, dt, _INT_ONES)
    _check_tensors("addmm", ("input", self), ("mat1", mat1), ("mat2", mat2))
    # (PyTorch's order: the dtypes, then the shapes)
    _same_dtype("self", self, mat2)
    _same_dtype("mat1", mat1, mat2)
    for name, m in (("mat1", mat1), ("mat2", mat2)):
        if _dims(m) != 2:
            raise RuntimeError(f"{name} must be a matrix, got {_dims(m)}-D tensor")
    (n, k), (k2, p) = mat1._shape, mat2._shape
    if k != k2:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({n}x{k} and {k2}x{p})")
    dt = mat1._dtype
    return _finish(ADDMM, self, mat1, mat2, np.matmul(mat1._value(), mat2._value()), beta, alpha, dt)


@public("addmv", error_forms=Forms("addmv", f"(Tensor input, Tensor mat, Tensor vec, {_BETA})", hidden=True))
def addmv(self, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * self + alpha * (mat @ vec)`` (``self`` broadcast to the product's shape)."""
    _check_tensors("addmv", ("input", self), ("mat", mat), ("vec", vec))
    if _dims(mat) != 2 or _dims(vec) != 1 or _dims(self) > 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {_dims(self)}, {_dims(mat)}, {_dims(vec)}")
    (n, k), (k2,) = mat._shape, vec._shape
    if k != k2 or (_dims(self) == 1 and self._shape[0] not in (1, n)):
        size = self._shape[0] if self._shape else 1
        raise RuntimeError(f"size mismatch, got input ({size}), mat ({n}x{k}), vec ({k2})")
    if not (self._dtype is mat._dtype is vec._dtype):
        raise RuntimeError("addmv input tensors must have the same dtype, but got " + ", ".join(
            D.legacy_name(t._dtype) for t in (self, mat)) + f", and {D.legacy_name(vec._dtype)}")
    prod = np.matmul(mat._value(), vec._value())
    if not prod.size or not k:
        # (PyTorch's kernel then returns beta * input in the input's own shape, not broadcast)
        prod = np.zeros(self._shape, prod.dtype)
    return _finish(ADDMV, self, mat, vec, prod, beta, alpha, mat._dtype)


@public("addr", error_forms=Forms("addr", f"(Tensor input, Tensor vec1, Tensor vec2, {_BETA})", hidden=True))
def addr(self, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * self + alpha * outer(vec1, vec2)`` (``self`` broadcast to the product's shape; the
    dtypes promoted, as PyTorch's elementwise kernel does)."""
    _check_tensors("addr", ("input", self), ("vec1", vec1), ("vec2", vec2))
    for name, v in (("vec1", vec1), ("vec2", vec2)):
        if _dims(v) != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {_dims(v)}-D")
    dt = D.result_type(self, vec1, vec2)
    inp, v1, v2 = (t if t._dtype is dt else t.to(dt) for t in (self, vec1, vec2))
    quiet()
    prod = np.multiply.outer(v1._value(), v2._value())
    if dt is D.bool_:
        prod = np.logical_and.outer(v1._value(), v2._value())
    return _finish(ADDR, inp, v1, v2, prod.astype(dt.np, copy=False), beta, alpha, dt, promoting=True)


def _size(t: Tensor, d: int) -> int:
    n = max(_dims(t), 1)
    if d >= _dims(t):
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
    return t._shape[d]


def _batches(inp: Tensor, b1: Tensor, b2: Tensor, batched: bool) -> None:
    # (PyTorch expands the input to the result's size, read off the factors, before it checks their dims)
    _expandable(inp._shape, ((_size(b1, 0),) if batched else ()) + (_size(b1, 1), _size(b2, 2)))
    for name, t in (("batch1", b1), ("batch2", b2)):
        if _dims(t) != 3:
            raise RuntimeError(f"{name} must be a 3D tensor")


@public("addbmm", error_forms=Forms("addbmm", f"(Tensor input, Tensor batch1, Tensor batch2, {_BETA})", hidden=True))
def addbmm(self, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * self + alpha * sum_i (batch1[i] @ batch2[i])`` (``self`` broadcast to the
    product's shape)."""
    _check_tensors("addbmm", ("input", self), ("batch1", batch1), ("batch2", batch2))
    _batches(self, batch1, batch2, False)
    (b, n, k), (b2, k2, p) = batch1._shape, batch2._shape
    if b != b2:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got {b} and {b2}")
    if k != k2:
        raise RuntimeError(f"Incompatible matrix sizes for bmm ({n}x{k} and {k2}x{p})")
    _same_dtype("self", self, batch2)
    _same_dtype("mat1", batch1, batch2)
    prod = np.matmul(batch1._value(), batch2._value()).sum(0) if b else np.zeros((n, p), batch1._dtype.np)
    return _finish(ADDBMM, self, batch1, batch2, np.asarray(prod, batch1._dtype.np), beta, alpha, batch1._dtype)


@public("baddbmm", error_forms=Forms("baddbmm", *(f"(Tensor input, Tensor batch1, Tensor batch2, {d}{_BETA})"
                                                  for d in ("", "torch.dtype out_dtype, "))))
def baddbmm(self, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * self + alpha * (batch1 @ batch2)``, matrix by matrix (``self`` broadcast to the
    product's shape)."""
    _check_tensors("baddbmm", ("input", self), ("batch1", batch1), ("batch2", batch2))
    _batches(self, batch1, batch2, True)
    (b, n, k), (b2, k2, p) = batch1._shape, batch2._shape
    if b2 != b or k2 != k:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{b}, {k}] but got: "
                           f"[{b2}, {k2}].")
    if batch1._dtype is not batch2._dtype:
        raise RuntimeError(f"expected scalar type {D.legacy_name(batch1._dtype)} but found "
                           f"{D.legacy_name(batch2._dtype)}")
    if self._dtype is not batch1._dtype:
        raise RuntimeError(f"Input dtypes must be the same, got: input {_c(self)}, "
                           f"batch1: {_c(batch1)}, batch2: {_c(batch2)}")
    dt = batch1._dtype
    return _finish(BADDBMM, self, batch1, batch2, np.asarray(np.matmul(batch1._value(), batch2._value()), dt.np),
                   beta, alpha, dt)


def _c(t: Tensor) -> str:
    return D.legacy_name(t._dtype).lower()


def _in_place(base):
    outer = base.__name__ == "addr"     # (by name: a recording trace hooks the module's ``addr``)

    def variant(self, *args, **kwargs) -> Tensor:
        self._check_inplace()
        result = base(self, *args, **kwargs)
        if result._shape != self._shape:
            if outer and _dims(self) != 2:
                raise RuntimeError(f"2D tensor expected, got {_dims(self)}D tensor for input")
            if not outer:
                raise RuntimeError(f"Bad in-place call: input tensor size {list(self._shape)} and output tensor size "
                                   f"{list(result._shape)} should match")
        return self._inplace(result)
    variant.__name__ = base.__name__ + "_"
    variant.__doc__ = f"In-place version of :meth:`Tensor.{base.__name__}` (``self`` has the result's shape)."
    return variant


for _base in (addmm, addmv, addr, addbmm, baddbmm):
    public(_base.__name__ + "_", function=False)(_in_place(_base))
