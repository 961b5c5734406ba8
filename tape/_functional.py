"""Function forms of the tensor methods (``tape.exp(x)``, ``tape.mul(x, w)`` ...)."""
from __future__ import annotations

from ._tensor import Tensor, _check_operand, _reversed, matmul
from .ops import elementwise as E


def _first(x, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")
    return x


def _method(name: str):
    unbound = getattr(Tensor, name)

    def fn(input: Tensor, *args, **kwargs):
        if type(input) is Tensor:
            return unbound(input, *args, **kwargs)
        return getattr(_first(input, name), name)(*args, **kwargs)
    fn.__name__ = name
    fn.__doc__ = f"Function form of :meth:`Tensor.{name}`."
    return fn


def _binary(name: str, code: int):
    def fn(input, other, *args, **kwargs):
        if isinstance(input, Tensor):
            return getattr(input, name)(other, *args, **kwargs)
        other = _first(other, name)
        return _reversed(other, _check_operand(input, name), code)
    fn.__name__ = name
    fn.__doc__ = f"Function form of :meth:`Tensor.{name}` (either operand may be a number)."
    return fn


_UNARY = ("neg", "negative", "abs", "exp", "log", "log2", "log10", "sqrt", "sin", "cos", "tan", "tanh",
          "sigmoid", "relu", "reciprocal", "clamp", "clip", "clamp_min", "clamp_max", "sum", "mean",
          "reshape", "select", "transpose", "t", "clone", "detach", "flatten", "mm", "mv", "dot",
          "maximum", "minimum", "squeeze", "unsqueeze", "eq", "ne", "lt", "le", "gt", "ge")
for _name in _UNARY:
    globals()[_name] = _method(_name)

add = _binary("add", E.ADD)
sub = subtract = _binary("sub", E.SUB)
mul = multiply = _binary("mul", E.MUL)
div = divide = true_divide = _binary("div", E.DIV)
pow = _binary("pow", E.POW)

__all__ = list(_UNARY) + ["add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
                          "pow", "matmul"]
del _name
