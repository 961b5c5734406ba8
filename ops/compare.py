"""Comparisons: ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` (and ``eq`` ... ``ge``).

They give boolean tensors, which nothing differentiates, so they record no row:
the operands are promoted and broadcast as for arithmetic, with its errors.
"""
from __future__ import annotations

import numpy as np

from .._emit import D, Tensor, plain
from ._args import broadcast_pair
from ._spec import public
from .elementwise import Operand, check_operand


def _compare(a: Tensor, b, fn) -> Tensor:
    if isinstance(b, Tensor):
        dt = D.result_type(a, b)
        broadcast_pair(a._shape, b._shape)
        vb = b._value().astype(dt.np, copy=False)
    else:
        dt = D.result_type(a, b)
        vb = b
    va = a._value().astype(dt.np, copy=False)
    return plain(np.asarray(fn(va, vb)), D.bool_)


@public("eq", "__eq__")
def eq(self, other: Operand) -> Tensor:
    """``self == other`` at each element, broadcasting."""
    return _compare(self, check_operand(other, "=="), np.equal)


@public("ne", "__ne__")
def ne(self, other: Operand) -> Tensor:
    """``self != other`` at each element, broadcasting."""
    return _compare(self, check_operand(other, "!="), np.not_equal)


@public("lt", "__lt__")
def lt(self, other: Operand) -> Tensor:
    """``self < other`` at each element, broadcasting."""
    return _compare(self, check_operand(other, "<"), np.less)


@public("le", "__le__")
def le(self, other: Operand) -> Tensor:
    """``self <= other`` at each element, broadcasting."""
    return _compare(self, check_operand(other, "<="), np.less_equal)


@public("gt", "__gt__")
def gt(self, other: Operand) -> Tensor:
    """``self > other`` at each element, broadcasting."""
    return _compare(self, check_operand(other, ">"), np.greater)


@public("ge", "__ge__")
def ge(self, other: Operand) -> Tensor:
    """``self >= other`` at each element, broadcasting."""
    return _compare(self, check_operand(other, ">="), np.greater_equal)
