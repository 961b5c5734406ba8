"""Reading a recorded row: its attributes as derivative rules and grad_fn views see them."""
from __future__ import annotations

import numpy as np

from ._tape import Tape
from .ops.reduction import keep_shape


class Row:
    """Attributes of one recorded row, as derivative rules and grad_fn views read them."""

    __slots__ = ("tape", "r", "arrived", "_inputs")

    def __init__(self, tape: Tape, r: int, arrived: tuple = ()) -> None:
        self.tape = tape
        self.r = r
        self.arrived = arrived      # (a plain sweep's row of several outputs: which a gradient reached)
        self._inputs = None

    code = property(lambda self: int(self.tape.op[self.r]))
    fa = property(lambda self: float(self.tape.fa[self.r]))
    fb = property(lambda self: float(self.tape.fb[self.r]))
    ia = property(lambda self: int(self.tape.ia[self.r]))
    ib = property(lambda self: int(self.tape.ib[self.r]))

    @property
    def inputs(self) -> tuple:
        # (read once: a Python-run row's sweep and its rule both ask, and a listed row's costs a ``tolist``)
        ins = self._inputs
        if ins is None:
            ins = self._inputs = self.tape.inputs_of(self.r)
        return ins

    @property
    def in_shapes(self) -> list:
        return [self.tape.shape_of(n) for n in self.inputs]

    @property
    def out_shape(self) -> tuple:
        return self.tape.shape_of(self.r)

    @property
    def outputs(self) -> tuple:
        """The OUTPUT rows of a row with several outputs."""
        return tuple(range(self.r + 1, self.r + 1 + int(self.tape.nout[self.r])))

    @property
    def out_shapes(self) -> list:
        return [self.tape.shape_of(n) for n in self.outputs]

    @property
    def keep_shape(self) -> tuple:
        """A reduction's input shape with its reduced dims (bit mask ``ia``) set to 1."""
        return keep_shape(self.tape.shape_of(int(self.tape.a[self.r])), self.ia)

    @property
    def out_index_list(self) -> np.ndarray:
        """The flat index list (offset ``ia`` in the tape's ``ix``) with one entry per output element."""
        return self.tape.ix[self.ia:self.ia + int(self.tape.num[self.r])]

    @property
    def in_index_list(self) -> np.ndarray:
        """The flat index list with one entry per element of the first input."""
        return self.tape.ix[self.ia:self.ia + int(self.tape.num[self.tape.a[self.r]])]

    @property
    def log_fa(self) -> float:
        """log of the float attribute (the base of a number raised to a tensor)."""
        return float(np.log(self.fa))

    @property
    def count(self) -> float:
        """How many input elements a reduction combines into each output element."""
        n = 1
        for d, s in enumerate(self.tape.shape_of(int(self.tape.a[self.r]))):
            if self.ia >> d & 1:
                n *= s
        return float(n)
