"""PyTorch's ``_foreach_*`` list ops: one op applied to each tensor of a list, the second operand a
number, a list of numbers, a list of tensors or (``add``, ``mul``, ``div``) one 0-d tensor.

Each element is the single op on that tensor (``_foreach_mul(xs, ys)[i]`` is ``xs[i].mul(ys[i])``),
so its value, its gradient (to any order) and its node are the single op's; PyTorch records one
node for the whole list (``ForeachMulBackward0List``) that gives the same gradients.  The
in-place forms change the tensors in place, each as the single in-place op, and return the list
given.  Arguments are checked, with PyTorch's errors, before any tensor is computed or changed.
"""
from __future__ import annotations

from numbers import Number
from typing import Callable, Optional

from . import _dtype as D
from .linalg import vector_norm
from ._tensor import Tensor

_SELF = "tuple of Tensors self"
_SCALAR, _SCALARS = f"({_SELF}, Number scalar)", f"({_SELF}, tuple of Scalars scalars)"


def _is_number(v) -> bool:
    return isinstance(v, Number) and not isinstance(v, Tensor)


def _shown(v) -> str:
    return "torch.dtype" if isinstance(v, D.dtype) else type(v).__name__


def _invalid(name: str, args: tuple, kwargs: dict, forms: tuple) -> TypeError:
    got = ", ".join([_shown(a) for a in args] + [f"{k}={_shown(v)}" for k, v in kwargs.items()])
    return TypeError(f"{name}() received an invalid combination of arguments - got ({got}), but expected one of:\n"
                     + "".join(f" * {f}\n" for f in forms))


def _tensors(xs, name: str, arg: int, call: tuple, forms: tuple) -> list:
    """The tensor list of argument ``arg``, with PyTorch's errors for anything else."""
    if not isinstance(xs, (list, tuple)):
        raise _invalid(name, *call, forms)
    for i, t in enumerate(xs):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument {arg}, but got {type(t).__name__}")
    if arg == 0 and not xs:
        raise RuntimeError("Tensor list must have at least one tensor.")
    return list(xs)


def _same_length(xs: list, ys: list) -> None:
    if len(xs) != len(ys):
        raise RuntimeError(f"Tensor lists must have the same number of tensors, got {len(xs)} and {len(ys)}")


def _operands(other, n: int, name: str, call: tuple, forms: tuple, tensor_form: bool) -> tuple:
    """``(kind, [operand of each tensor])``: kind "scalar", "scalars", "tensor" or "list"."""
    if isinstance(other, (list, tuple)):
        if all(_is_number(o) for o in other):
            if len(other) != n:
                raise RuntimeError("Tensor list must have same number of elements as scalar list.")
            return "scalars", list(other)
        ys = _tensors(other, name, 1, call, forms)
        if len(ys) != n:
            raise RuntimeError(f"Tensor lists must have the same number of tensors, got {n} and {len(ys)}")
        return "list", ys
    if _is_number(other):
        return "scalar", [other] * n
    if isinstance(other, Tensor):
        if tensor_form:
            if other.dim() != 0:
                raise RuntimeError(f"scalar tensor expected to be 0 dim but it has {other.dim()} dimensions and "
                                   f"{other.numel()} elements.")
            return "tensor", [other] * n
        if other.dim() == 0:
            return "scalar", [other.item()] * n      # (PyTorch reads a 0-d tensor as a number here)
    raise _invalid(name, *call, forms)


def _returned(self, results: list, inplace: bool):
    return self if inplace else tuple(results)


# --- binary: a number, numbers, tensors or a 0-d tensor -------------------------------------------
def _binary(name: str, forms: tuple, list_op: str, scalar_op: str, inplace: bool, alpha: bool,
            tensor_form: bool, keywords: tuple = ("scalar", "scalars", "other")) -> Callable:
    def foreach(self, *rest, **kwargs):
        call = ((self, *rest), dict(kwargs))
        given = [kwargs.pop(k) for k in keywords if k in kwargs]
        a = kwargs.pop("alpha", None)
        if kwargs or len(rest) + len(given) != 1 or (a is not None and not alpha):
            raise _invalid(name, *call, forms)
        other = (rest or given)[0]
        if name.startswith("_foreach_pow") and not inplace and _is_number(self):
            xs = _tensors(other, name, 1, call, forms)       # (``pow(number, tensors)``)
            if not xs:
                raise RuntimeError("Tensor list must have at least one tensor.")
            return tuple(x.__rpow__(self) for x in xs)
        xs = _tensors(self, name, 0, call, forms)
        kind, ys = _operands(other, len(xs), name, call, forms, tensor_form)
        if a is not None and kind in ("scalar", "scalars"):
            raise _invalid(name, *call, forms)
        op = (list_op if kind in ("list", "tensor") else scalar_op) + ("_" if inplace else "")
        kw = {} if a is None else {"alpha": a}
        return _returned(self, [getattr(x, op)(y, **kw) for x, y in zip(xs, ys)], inplace)
    return foreach


_ALPHA_LIST = f"({_SELF}, tuple of Tensors other, *, Number alpha = 1)"
_ALPHA_TENSOR = f"({_SELF}, Tensor other, *, Number alpha = 1)"
_LIST = f"({_SELF}, tuple of Tensors other)"
_TENSOR = f"({_SELF}, Tensor other)"
# name: (PyTorch's overloads, op with tensors, op with numbers, alpha, a 0-d tensor operand of its own)
_BINARY = {
    "add": ((_SCALAR, _SCALARS, _ALPHA_TENSOR, _ALPHA_LIST), "add", "add", True, True),
    "sub": ((_SCALAR, _SCALARS, _ALPHA_LIST), "sub", "sub", True, False),
    "mul": ((_SCALARS, _TENSOR, _LIST, _SCALAR), "mul", "mul", False, True),
    "div": ((_SCALARS, _TENSOR, _LIST, _SCALAR), "div", "div", False, True),
    "maximum": ((_SCALAR, _SCALARS, _LIST), "maximum", "clamp_min", False, False),
    "minimum": ((_SCALAR, _SCALARS, _LIST), "minimum", "clamp_max", False, False),
    "clamp_min": ((_SCALAR, _SCALARS, _LIST), "clamp_min", "clamp_min", False, False),
    "clamp_max": ((_SCALAR, _SCALARS, _LIST), "clamp_max", "clamp_max", False, False),
}
# (``maximum``/``minimum`` have no in-place method: in place, a tensor bound clamps, the same values)
_INPLACE_LIST_OP = {"maximum": "clamp_min", "minimum": "clamp_max"}
_POW = (f"(Number self, tuple of Tensors exponent)", f"({_SELF}, Number exponent)",
        f"({_SELF}, tuple of Scalars exponent)", f"({_SELF}, tuple of Tensors exponent)")

FOREACH: dict = {}
for _name, (_forms, _list_op, _scalar_op, _alpha, _tensor_form) in _BINARY.items():
    FOREACH[f"_foreach_{_name}"] = _binary(f"_foreach_{_name}", _forms, _list_op, _scalar_op, False, _alpha,
                                           _tensor_form)
    FOREACH[f"_foreach_{_name}_"] = _binary(f"_foreach_{_name}_", _forms, _INPLACE_LIST_OP.get(_name, _list_op),
                                            _scalar_op, True, _alpha, _tensor_form)
FOREACH["_foreach_pow"] = _binary("_foreach_pow", _POW, "pow", "pow", False, False, False, ("exponent",))
FOREACH["_foreach_pow_"] = _binary("_foreach_pow_", _POW[1:], "pow", "pow", True, False, False, ("exponent",))


# --- unary -------------------------------------------------------------------------------------
_UNARY = ("abs", "acos", "asin", "atan", "ceil", "cos", "cosh", "erf", "erfc", "exp", "expm1", "floor", "frac",
          "lgamma", "log", "log10", "log1p", "log2", "neg", "reciprocal", "round", "rsqrt", "sigmoid", "sign", "sin",
          "sinh", "sqrt", "tan", "tanh", "trunc")


def _unary(name: str, op: str, inplace: bool) -> Callable:
    def foreach(self):
        xs = _tensors(self, name, 0, ((self,), {}), (f"({_SELF})",))
        return _returned(self, [getattr(x, op)() for x in xs], inplace)
    return foreach


for _name in _UNARY:
    FOREACH[f"_foreach_{_name}"] = _unary(f"_foreach_{_name}", _name, False)
    FOREACH[f"_foreach_{_name}_"] = _unary(f"_foreach_{_name}_", _name + "_", True)
FOREACH["_foreach_zero_"] = _unary("_foreach_zero_", "zero_", True)
FOREACH["_foreach_clone"] = _unary("_foreach_clone", "clone", False)


# --- with two tensor lists ------------------------------------------------------------------------
_POINTWISE = (f"({_SELF}, tuple of Tensors tensor1, tuple of Tensors tensor2, tuple of Scalars scalars)",
              f"({_SELF}, tuple of Tensors tensor1, tuple of Tensors tensor2, Tensor scalars)",
              f"({_SELF}, tuple of Tensors tensor1, tuple of Tensors tensor2, Number value = 1)")


def _pointwise(name: str, op: str, inplace: bool) -> Callable:
    """``addcmul``/``addcdiv``: ``self + value * tensor1 (*, /) tensor2``, a value for all, a list of
    numbers or a 1-D tensor of them."""
    def foreach(self, tensor1, tensor2, *rest, **kwargs):
        call = ((self, tensor1, tensor2, *rest), dict(kwargs))
        given = [kwargs.pop(k) for k in ("value", "scalars") if k in kwargs]
        if kwargs or len(rest) + len(given) > 1:
            raise _invalid(name, *call, _POINTWISE)
        value = (*rest, *given, 1)[0]
        xs = _tensors(self, name, 0, call, _POINTWISE)
        t1, t2 = _tensors(tensor1, name, 1, call, _POINTWISE), _tensors(tensor2, name, 2, call, _POINTWISE)
        _same_length(xs, t1)
        _same_length(xs, t2)
        if isinstance(value, Tensor):
            if value.dim() != 1:
                raise RuntimeError(f"Expected packed scalar Tensor to be of dimension 1. Got {value.dim()} instead.")
            if value.numel() != len(xs):
                raise RuntimeError(f"Expected length of scalars to match input of length {len(xs)} but got "
                                   f"{value.numel()} instead.")
            values = value.tolist()
        elif isinstance(value, (list, tuple)) and all(_is_number(v) for v in value):
            if len(value) != len(xs):
                raise RuntimeError("Tensor list must have same number of elements as scalar list.")
            values = list(value)
        elif _is_number(value):
            values = [value] * len(xs)
        else:
            raise _invalid(name, *call, _POINTWISE)
        method = op + ("_" if inplace else "")
        return _returned(self, [getattr(x, method)(a, b, value=v) for x, a, b, v in zip(xs, t1, t2, values)],
                         inplace)
    return foreach


_LERP = (f"({_SELF}, tuple of Tensors tensors1, Number weight)",
         f"({_SELF}, tuple of Tensors tensors1, tuple of Scalars weight)",
         f"({_SELF}, tuple of Tensors tensors1, tuple of Tensors weights)")


def _lerp(name: str, inplace: bool) -> Callable:
    def foreach(self, tensors1, *rest, **kwargs):
        call = ((self, tensors1, *rest), dict(kwargs))
        given = [kwargs.pop(k) for k in ("weight", "weights") if k in kwargs]
        if kwargs or len(rest) + len(given) != 1:
            raise _invalid(name, *call, _LERP)
        xs = _tensors(self, name, 0, call, _LERP)
        ends = _tensors(tensors1, name, 1, call, _LERP)
        _same_length(xs, ends)
        _, weights = _operands((rest or given)[0], len(xs), name, call, _LERP, False)
        method = "lerp_" if inplace else "lerp"
        return _returned(self, [getattr(x, method)(e, w) for x, e, w in zip(xs, ends, weights)], inplace)
    return foreach


for _name, _op in (("addcmul", "addcmul"), ("addcdiv", "addcdiv")):
    FOREACH[f"_foreach_{_name}"] = _pointwise(f"_foreach_{_name}", _op, False)
    FOREACH[f"_foreach_{_name}_"] = _pointwise(f"_foreach_{_name}_", _op, True)
FOREACH["_foreach_lerp"] = _lerp("_foreach_lerp", False)
FOREACH["_foreach_lerp_"] = _lerp("_foreach_lerp_", True)


def _foreach_copy_(self, src, non_blocking: bool = False):
    """Copy each tensor of ``src`` into the tensor of ``self`` at its place (broadcast, converted)."""
    forms = (f"({_SELF}, tuple of Tensors src, bool non_blocking = False)",)
    xs = _tensors(self, "_foreach_copy_", 0, ((self, src), {}), forms)
    ys = _tensors(src, "_foreach_copy_", 1, ((self, src), {}), forms)
    _same_length(xs, ys)
    for x, y in zip(xs, ys):
        x.copy_(y)
    return self


def _foreach_mm(self, mat2) -> tuple:
    """The matrix product of each matrix of ``self`` with the matrix of ``mat2`` at its place."""
    forms = (f"({_SELF}, tuple of Tensors mat2)",)
    xs = _tensors(self, "_foreach_mm", 0, ((self, mat2), {}), forms)
    ms = _tensors(mat2, "_foreach_mm", 1, ((self, mat2), {}), forms)
    if len(xs) != len(ms):
        raise RuntimeError("_foreach_mm: self and mat2 must have the same number of tensors")
    return tuple(x.mm(m) for x, m in zip(xs, ms))


# --- reductions: one 0-d tensor per tensor ---------------------------------------------------------
def _foreach_norm(self, ord=2, dtype: Optional[D.dtype] = None) -> tuple:
    """The vector norm of each tensor (all its elements), of order ``ord``."""
    xs = _tensors(self, "_foreach_norm", 0, ((self,), {}), (f"({_SELF}, Number ord = 2, ScalarType? dtype = None)",))
    if dtype is not None and not dtype.is_floating_point:
        raise RuntimeError(f"linalg.vector_norm: dtype should be floating point or complex, but got "
                           f"{D.legacy_name(dtype)}")
    return tuple(vector_norm(x, ord, dtype=dtype) for x in xs)


def _foreach_powsum(self, ord=2, dtype: Optional[D.dtype] = None) -> tuple:
    """The sum of ``abs(x) ** ord`` over each tensor's elements (the norm before its root)."""
    xs = _tensors(self, "_foreach_powsum", 0, ((self,), {}), (f"({_SELF}, Number ord = 2, ScalarType? dtype = None)",))
    return tuple((x if dtype is None else x.to(dtype)).abs().pow(ord).sum() for x in xs)


def _foreach_max(self) -> tuple:
    """The largest element of each tensor."""
    xs = _tensors(self, "_foreach_max", 0, ((self,), {}), (f"({_SELF})",))
    for x in xs:
        if x.numel() == 0:
            raise RuntimeError("_foreach_max cannot compute the maximum of an empty tensor; max over zero elements "
                               "is undefined.")
    return tuple(x.max() for x in xs)


for _fn in (_foreach_copy_, _foreach_mm, _foreach_norm, _foreach_powsum, _foreach_max):
    FOREACH[_fn.__name__] = _fn
for _name, _fn in FOREACH.items():
    _fn.__name__ = _fn.__qualname__ = _name
    _fn.__module__ = "tape"
    if _fn.__doc__ is None:
        _op = _name.removeprefix("_foreach_").rstrip("_")
        _fn.__doc__ = (f"Apply ``{_op}`` to each tensor of the list" + (", in place." if _name.endswith("_") else
                                                                        " (a tuple of the results)."))
