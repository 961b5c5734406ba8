"""The op record: what the engine needs to know about one primitive.

An op is data.  The engine never names an op; it reads these records (grad_fn
names, which ops save tensors, which family's adjoint kernel to call) and
dispatches on the integer code.  Codes are grouped in ranges, one range per
family, so the numba sweep can pick the family's kernel with two comparisons.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

# Code ranges, one per family.  The sweep dispatches on these bounds only.
SOURCE = range(0, 10)        # rows that bring a value onto a tape
UNARY = range(10, 60)        # one tensor input, optional float constants
BINARY = range(60, 80)       # two tensor inputs of equal shape
REDUCE = range(80, 90)       # reductions over a set of dims
SHAPE = range(90, 110)       # views, broadcasting, selection
LINALG = range(110, 130)     # small matrix products (large ones go to PYTHON, for BLAS)
PYTHON = range(200, 256)     # rows whose adjoint runs in Python (BLAS, custom code)
N_CODES = 256

INPUT = 0   # a value from outside the tape that gradients flow back to (leaf, older tape)
CONST = 1   # a value from outside the tape that needs no gradient


@dataclass(frozen=True)
class Op:
    """One primitive: its code, PyTorch-facing names and derivative rule.

    ``saved`` says which values PyTorch's node saves (bits X0, X1, OUT: an
    in-place change to one of them makes backward fail; NUMBER: only a Python
    number, which still counts as saved when freeing the graph; CROSS: each
    input is saved only when the other one needs a gradient, as for products).

    ``vjp(g, xs, y, row)`` returns one gradient per tensor input, written with
    tape's own tensor operations so that recording it (``create_graph=True``)
    yields a differentiable graph; ``row`` carries the row's attributes.
    ``arity`` is the number of tensor inputs (1 or 2).
    Ops in the ``PYTHON`` code range give ``py_adjoint(row, va, vb, gy, ga, gb, fresh)``
    (numpy views; ``ga``/``gb`` None when not needed; bit 1/2 of ``fresh``: ``ga``/``gb``
    still hold zeros and may be overwritten) instead of a numba kernel: the sweep
    stops at their rows and resumes after them.
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

    @property
    def saves(self) -> bool:
        """Whether backward needs saved values (freed after a backward without retain_graph)."""
        return self.saved != 0

    def node_name(self, row) -> str:
        """The PyTorch ``grad_fn`` class name for a recorded row of this op."""
        return self.grad_fn_of(row) if self.grad_fn_of is not None else self.grad_fn


X0, X1, OUT, NUMBER, CROSS = 1, 2, 4, 8, 16

REGISTRY: dict[int, Op] = {}


def register(op: Op) -> Op:
    if op.code in REGISTRY:
        raise ValueError(f"op code {op.code} registered twice ({REGISTRY[op.code].name}, {op.name})")
    REGISTRY[op.code] = op
    return op
