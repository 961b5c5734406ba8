"""Elementwise ops of three tensors: ``lerp``, ``addcmul``, ``addcdiv``, and ``clamp`` with tensor bounds.

Each is one row with listed inputs (``JOIN`` range, as ``where``), so that its node is PyTorch's
one node (``LerpBackward1``, ``AddcmulBackward0``, ``ClampBackward0`` ...) with PyTorch's edges.
The inputs are ``(a, b, c)`` broadcast together; an input broadcast along leading dims only is kept
as it is and read modulo its size, as binary rows do.  A Python-number operand (lerp's weight,
addcmul's and addcdiv's ``value``) is the row's ``fa`` and also a 0-d constant input in the row's
dtype (so the kernels, which see no float attributes, read it as PyTorch does, rounded to the
dtype); it gets no gradient and PyTorch's node does not show it (``nondiff``).  ``clamp`` gives an
absent bound as a constant -inf or +inf (its value is then the one-sided clamp's; ``ia`` says which
bounds were given, bit 0 min and bit 1 max, for PyTorch's one-sided derivative, which differs at an
infinite bound); its ``ib`` says which form recorded it (0: ``clamp``, 1: ``clamp_min``, 2: ``clamp_max``).

The plain backward runs the fused loops of ``ternary_adjoint`` (``join_adjoint`` dispatches here);
rows with listed inputs run their ``vjp`` rule, written with tape's ops, in the recorded backward.
"""
from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np
from numba import njit

from .._emit import D, Number, Tensor, node_in, plain, quiet, recorded, state, write_tape
from ._args import broadcast_pair
from ._parser import Forms, parsed_number
from ._spec import JOIN, LISTED, NUMBER, PYTHON, R_IA, R_LO, R_NUM, R_OFF, R_RG, X0, X1, X2, Op, public, register
from ._spec import saved_when, tangents
from ._rule import diagonal

LERP, LERP_T, ADDCMUL, ADDCDIV, CLAMP_T = range(384, 389)
TERNARY = range(384, 396)       # this family's share of the JOIN range
# addcdiv of a numerator that requires grad by an integer divisor: PyTorch's node divides ``value`` by
# the divisor into a tensor of the divisor's dtype, so its backward fails (``ib``: the divisor's dtype)
ADDCDIV_INT = PYTHON.start + 86
_INTEGER_DTYPES = (D.bool_, D.uint8, D.int8, D.int16, D.int32, D.int64)
assert TERNARY.start >= JOIN.start and TERNARY.stop <= JOIN.stop


# --- numeric kernels ------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def ternary_adjoint(code, R, ix, v, g, r):
    """Accumulate the input adjoints of one row of this family."""
    lo = R[R_LO, r]
    a, b, c = ix[lo], ix[lo + 1], ix[lo + 2]
    o, n = R[R_OFF, r], R[R_NUM, r]
    oa, ob, oc = R[R_OFF, a], R[R_OFF, b], R[R_OFF, c]
    na, nb, nc = R[R_NUM, a], R[R_NUM, b], R[R_NUM, c]
    ga, gb, gc = R[R_RG, a] != 0, R[R_RG, b] != 0, R[R_RG, c] != 0 and code != LERP
    if n == 0:
        return
    one = type(v[o])(1.0)       # (in the arena's dtype: float32 rows compute in float32, as PyTorch)
    zero = type(v[o])(0.0)
    bounds = R[R_IA, r]
    for i in range(n):
        gy = g[o + i]
        x = v[oa + i % na]
        y = v[ob + i % nb]
        z = v[oc + i % nc]
        if code == LERP or code == LERP_T:      # (input, end, weight)
            da, db, dc = gy * (one - z), gy * z, gy * (y - x)
        elif code == ADDCMUL:                   # (input, tensor1, tensor2), value in the 4th input
            s = v[R[R_OFF, ix[lo + 3]]]
            da, db, dc = gy, gy * (z * s), gy * (y * s)
        elif code == ADDCDIV:
            s = v[R[R_OFF, ix[lo + 3]]]
            da, db, dc = gy, gy * (s / z), -gy * (s * y / (z * z))
        elif bounds == 3:                       # CLAMP_T: (input, min, max), PyTorch's masks
            da = gy if (x >= y and x <= z) else zero
            db = gy if (x < y and y < z) else zero
            dc = gy if (x > z or z < y) else zero
        elif bounds == 1:                       # (min only: PyTorch's masks differ where min is inf)
            da = gy if x >= y else zero
            db = gy if x < y else zero
            dc = zero
        else:
            da = gy if x <= z else zero
            db = zero
            dc = gy if x > z else zero
        if ga:
            g[oa + i % na] += da
        if gb:
            g[ob + i % nb] += db
        if gc:
            g[oc + i % nc] += dc


@njit(cache=True, error_model="numpy")
def ternary_forward(code, R, ix, v, r):
    """Write the value of one row of this family (its compiled forward face)."""
    lo = R[R_LO, r]
    a, b, c = ix[lo], ix[lo + 1], ix[lo + 2]
    o = R[R_OFF, r]
    oa, ob, oc = R[R_OFF, a], R[R_OFF, b], R[R_OFF, c]
    na, nb, nc = R[R_NUM, a], R[R_NUM, b], R[R_NUM, c]
    if R[R_NUM, r] == 0:
        return
    one = type(v[o])(1.0)
    for i in range(R[R_NUM, r]):
        x = v[oa + i % na]
        y = v[ob + i % nb]
        z = v[oc + i % nc]
        if code == LERP or code == LERP_T:
            v[o + i] = x + z * (y - x) if abs(z) < 0.5 else y - (y - x) * (one - z)
        elif code == ADDCMUL:
            v[o + i] = x + v[R[R_OFF, ix[lo + 3]]] * y * z
        elif code == ADDCDIV:
            v[o + i] = x + v[R[R_OFF, ix[lo + 3]]] * y / z
        else:
            t = y if x < y else x               # (comparisons keep x on a tie: -0. at a bound of 0.)
            t = z if t > z else t
            v[o + i] = t if (y == y and z == z) else math.nan


# --- numpy faces ----------------------------------------------------------------------
def lerp_forward(x: np.ndarray, end: np.ndarray, w) -> np.ndarray:
    """PyTorch's two-sided formula: exact at both ends (weight 0 gives input, 1 gives end)."""
    diff = end - x
    small = np.abs(w) < 0.5
    return np.where(small, x + w * diff, end - diff * (1 - w)).astype(x.dtype, copy=False)


def clamp_forward(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``min(max(x, lo), hi)``, nan if any of the three is nan; x itself where it is in range
    (so that -0. stays -0. at a bound of 0., as PyTorch)."""
    y = np.where(x < lo, lo, x)
    y = np.where(y > hi, hi, y)
    return np.where(np.isnan(lo) | np.isnan(hi), np.nan, y).astype(x.dtype, copy=False)


# --- derivative rules (tape ops, so every order works) ----------------------------
def _lerp_vjp(g, xs, y, r):
    return g * (1.0 - r.fa), g * r.fa, None


def _lerp_t_vjp(g, xs, y, r):
    x, end, w = xs
    return g * (1.0 - w), g * w, g * (end - x)


def _addcmul_vjp(g, xs, y, r):
    _, t1, t2, _ = xs
    return g, g * (t2 * r.fa), g * (t1 * r.fa), None


def _addcdiv_vjp(g, xs, y, r):
    _, t1, t2, _ = xs
    return g, g * (r.fa / t2), -g * (r.fa * t1 / (t2 * t2)), None


def _addcdiv_int_vjp(g, xs, y, r):
    raise RuntimeError(f"result type {D.legacy_name(D.get_default_dtype())} can't be cast to the desired output "
                       f"type {D.legacy_name(_INTEGER_DTYPES[r.ib])}")


def _clamp_vjp(g, xs, y, r):
    x, lo, hi = xs
    dt = g.dtype
    if r.ia == 1:
        return g._masked((x >= lo).to(dt)), g._masked((x < lo).to(dt)), None
    if r.ia == 2:
        return g._masked((x <= hi).to(dt)), None, g._masked((x > hi).to(dt))
    return (g._masked(((x >= lo) & (x <= hi)).to(dt)), g._masked(((x < lo) & (lo < hi)).to(dt)),
            g._masked(((x > hi) | (hi < lo)).to(dt)))


_CLAMP_NAMES = ("ClampBackward0", "ClampMinBackward1", "ClampMaxBackward1")
_CLAMP_HIDDEN = ((), (2,), (1,))       # the bound a clamp_min / clamp_max row holds as a constant
_CLAMP_SAVED = ((("max", X2), ("min", X1), ("self", X0)), (("min", X1), ("self", X0)), (("max", X2), ("self", X0)))


def _clamp_saved(r) -> tuple:
    """PyTorch's ``ClampBackward0`` shows an absent bound as None."""
    table = _CLAMP_SAVED[r.ib]
    if r.ib == 0 and r.ia != 3:
        absent = X2 if r.ia == 1 else X1
        table = tuple((name, _none) if bit == absent else (name, bit) for name, bit in table)
    return table


def _none(r) -> None:
    return None


def _scalar(r):
    """The Python number a row took (``ia``: 0 float, 1 int, 2 bool), as PyTorch's node shows it."""
    return (float, int, bool)[r.ia](r.fa)


_VALUE_SAVED = (("tensor1", X1), ("tensor2", X2), ("value", _scalar))

# PyTorch saves an operand only for the derivatives that need it (``saved_when``): lerp's input
# and end for the weight's, addcmul's factors each for the other's, addcdiv's numerator for the
# divisor's (the divisor always).
register(Op(LERP, "lerp", "LerpBackward0", NUMBER, _lerp_vjp, arity=LISTED, nondiff=(2,),
            node_saved=(("weight", _scalar),)))
register(Op(LERP_T, "lerp", "LerpBackward1", X0 | X1 | X2 | saved_when(0, 2) | saved_when(1, 2), _lerp_t_vjp,
            arity=LISTED, node_saved=(("end", X1), ("self", X0), ("weight", X2))))
register(Op(ADDCMUL, "addcmul", "AddcmulBackward0", X1 | X2 | saved_when(1, 2) | saved_when(2, 1), _addcmul_vjp,
            float_only=False, arity=LISTED, nondiff=(3,), node_saved=_VALUE_SAVED))
register(Op(ADDCDIV, "addcdiv", "AddcdivBackward0", X1 | X2 | saved_when(1, 2), _addcdiv_vjp, arity=LISTED,
            nondiff=(3,), node_saved=_VALUE_SAVED))
register(Op(ADDCDIV_INT, "addcdiv", "AddcdivBackward0", X1 | X2 | saved_when(1, 2), _addcdiv_int_vjp,
            arity=LISTED, nondiff=(3,), node_saved=_VALUE_SAVED))
register(Op(CLAMP_T, "clamp", "ClampBackward0", X0 | X1 | X2, _clamp_vjp, float_only=False, arity=LISTED,
            grad_fn_of=lambda r: _CLAMP_NAMES[r.ib], nondiff_of=lambda r: _CLAMP_HIDDEN[r.ib], node_saved=_clamp_saved))
# Tangent rules: elementwise, so the adjoint rules serve (``diagonal``).
tangents({code: diagonal(vjp) for code, vjp in ((LERP, _lerp_vjp), (LERP_T, _lerp_t_vjp), (ADDCMUL, _addcmul_vjp),
                                                 (ADDCDIV, _addcdiv_vjp), (ADDCDIV_INT, _addcdiv_vjp),
                                                 (CLAMP_T, _clamp_vjp))})


# --- front ends -----------------------------------------------------------------------
def _record(code: int, y: np.ndarray, dt: D.dtype, tensors: list, ia: int = 0, ib: int = 0, fa: float = 0.0) -> Tensor:
    tape = write_tape()
    shape = y.shape
    nodes = [node_in(tape, t, dt, shape) for t in tensors]
    return recorded(tape, tape.append_listed(code, dt.arena, y, nodes, ia=ia, ib=ib, fa=fa), y, dt)


def _is_number(x) -> bool:
    return isinstance(x, (int, float, bool, np.number)) and not isinstance(x, np.ndarray)


def _number_kind(x) -> int:
    """0 float, 1 int, 2 bool: the type the node shows the number in (``_scalar``)."""
    return 2 if isinstance(x, (bool, np.bool_)) else 1 if isinstance(x, (int, np.integer)) else 0


def _constant(c, dt: D.dtype) -> Tensor:
    return plain(np.asarray(c, dt.np), dt)


def _value(t: Tensor, dt: D.dtype) -> np.ndarray:
    return t._value().astype(dt.np, copy=False)


def _full(y, shape: tuple, dt: D.dtype) -> np.ndarray:
    """``y`` as a C-contiguous array of ``shape`` in ``dt`` (the row's value)."""
    y = np.asarray(y, dt.np)
    return y if y.shape == shape and y.flags.c_contiguous else np.array(np.broadcast_to(y, shape))


def _shape3(a: Tensor, b: Tensor, c: Tensor) -> tuple:
    return broadcast_pair(broadcast_pair(a._shape, b._shape), c._shape)


_C_NAMES = {"float32": "float", "float64": "double", "int64": "long int", "int32": "int", "int16": "short int",
            "int8": "signed char", "uint8": "unsigned char", "bool": "bool", "float16": "c10::Half"}


def combination(name: str, args: tuple, signatures: str) -> TypeError:
    got = ", ".join(type(a).__name__ for a in args)
    return TypeError(f"{name}() received an invalid combination of arguments - got ({got}), but expected one of:\n"
                     f"{signatures}\n")


@public("lerp", error_forms=Forms("lerp", *(f"(Tensor input, Tensor end, {w} weight, *, Tensor out = None)"
                                            for w in ("Tensor", "Number"))))
def lerp(self, end: Tensor, weight: Union[Tensor, Number]) -> Tensor:
    """``input + weight * (end - input)`` elementwise, with ``weight`` a number or a tensor
    (broadcast together); exact at both ends, as PyTorch's formula."""
    if not isinstance(end, Tensor) or not (isinstance(weight, Tensor) or _is_number(weight)):
        raise combination("lerp", (self, end, weight),
                           " * (Tensor input, Tensor end, Tensor weight, *, Tensor out = None)\n"
                           " * (Tensor input, Tensor end, Number weight, *, Tensor out = None)")
    dt = self._dtype
    tensor = isinstance(weight, Tensor)
    if end._dtype is not dt:
        raise RuntimeError(f"expected dtype {_C_NAMES[dt.name]} for `end` but got dtype {_C_NAMES[end._dtype.name]}")
    if tensor and weight._shape and weight._dtype is not dt:
        raise RuntimeError(f"expected dtype {_C_NAMES[dt.name]} for `weight` but got dtype "
                           f"{_C_NAMES[weight._dtype.name]}")
    if tensor:
        dt = D.result_type(self, end, weight)       # (a 0-d weight promotes: lerp of integers by a float)
    if not dt.is_floating_point:
        kernel = "lerp_kernel_tensor" if tensor else "lerp_kernel_scalar"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{D.legacy_name(dt)}'")
    w = weight if tensor else _constant(weight, dt)
    shape = _shape3(self, end, w)
    quiet()
    y = _full(lerp_forward(_value(self, dt), _value(end, dt), _value(w, dt)), shape, dt)
    if state.grad and (self._rg or end._rg or (tensor and weight._rg)):
        return _record(LERP_T if tensor else LERP, y, dt, [self, end, w], fa=0.0 if tensor else float(weight),
                       ia=0 if tensor else _number_kind(weight))
    return plain(y, dt)


def _pointwise3(name: str, self: Tensor, tensor1, tensor2, value: Number, divide: bool) -> Tensor:
    for k, t in ((1, tensor1), (2, tensor2)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): argument 'tensor{k}' (position {k}) must be Tensor, not {type(t).__name__}")
    if divide and not tensor1._dtype.is_floating_point and not tensor2._dtype.is_floating_point:
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future  release addcdiv will perform a "
            "true division of tensor1 and tensor2. The historic addcdiv behavior can be implemented as (input + value "
            "* torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer inputs and as (input + value * tensor1 / "
            "tensor2) for float inputs. The future addcdiv behavior is just the latter implementation: (input + value "
            "* tensor1 / tensor2), for all dtypes.")
    dt = D.result_type(self, tensor1, tensor2)
    if dt is D.bool_:
        raise NotImplementedError(f"\"{name}_cpu_out\" not implemented for 'Bool'")
    if not _is_number(value):
        if not (isinstance(value, Tensor) and parsed_number(value)):
            raise TypeError(f"{name}(): argument 'value' must be Number, not {type(value).__name__}")
        value = value.item()        # (a 0-d tensor that needs no gradient, as PyTorch's parser takes it)
    shape = _shape3(self, tensor1, tensor2)
    c = dt.np.type(value if dt.is_floating_point else int(value))
    t1, t2 = _value(tensor1, dt), _value(tensor2, dt)
    quiet()
    y = _full(_value(self, dt) + (c * t1 / t2 if divide else c * t1 * t2), shape, dt)
    if state.grad and dt.is_floating_point and (self._rg or tensor1._rg or tensor2._rg):
        code, ib = ADDCDIV if divide else ADDCMUL, 0
        if divide and tensor1._rg and tensor2._dtype in _INTEGER_DTYPES:
            code, ib = ADDCDIV_INT, _INTEGER_DTYPES.index(tensor2._dtype)
        return _record(code, y, dt, [self, tensor1, tensor2, _constant(c, dt)], fa=float(c), ia=_number_kind(value),
                       ib=ib)
    return plain(y, dt)


_VALUE = "*, Number value = 1, Tensor out = None"     # (the end of the function forms' overloads)


@public("addcmul", error_forms=Forms("addcmul", f"(Tensor input, Tensor tensor1, Tensor tensor2, {_VALUE})",
                                     hidden=True))
def addcmul(self, tensor1: Tensor, tensor2: Tensor, *, value: Number = 1) -> Tensor:
    """``input + value * tensor1 * tensor2`` elementwise (broadcast together)."""
    return _pointwise3("addcmul", self, tensor1, tensor2, value, False)


@public("addcdiv", error_forms=Forms("addcdiv", f"(Tensor input, Tensor tensor1, Tensor tensor2, {_VALUE})",
                                     hidden=True))
def addcdiv(self, tensor1: Tensor, tensor2: Tensor, *, value: Number = 1) -> Tensor:
    """``input + value * tensor1 / tensor2`` elementwise (broadcast together); ``tensor1`` and
    ``tensor2`` may not both be integer tensors."""
    return _pointwise3("addcdiv", self, tensor1, tensor2, value, True)


def clamp_tensors(self: Tensor, lo: Optional[Tensor], hi: Optional[Tensor], form: int) -> Tensor:
    """``clamp`` with tensor bounds (``form``: 0 clamp, 1 clamp_min, 2 clamp_max, for the node's
    name); an absent bound is -inf or +inf."""
    dt = D.result_type(*(t for t in (self, lo, hi) if t is not None))
    bounds = (lo is not None) | (hi is not None) << 1
    if lo is None or hi is None:
        edge = math.inf if lo is not None else -math.inf
        if dt.is_floating_point:
            far = edge
        elif dt is D.bool_:
            far = edge > 0      # (bools clamp as 0 and 1)
        else:
            far = np.iinfo(dt.np).max if edge > 0 else np.iinfo(dt.np).min
        bound = plain(np.asarray(far, dt.np), dt)
        lo, hi = (lo, bound) if hi is None else (bound, hi)
    shape = _shape3(self, lo, hi)
    vx, vlo, vhi = _value(self, dt), _value(lo, dt), _value(hi, dt)
    y = _full(clamp_forward(vx, vlo, vhi) if dt.is_floating_point else np.minimum(np.maximum(vx, vlo), vhi), shape,
              dt)
    if state.grad and dt.is_floating_point and (self._rg or lo._rg or hi._rg):
        return _record(CLAMP_T, y, dt, [self, lo, hi], ia=bounds, ib=form)
    return plain(y, dt)
