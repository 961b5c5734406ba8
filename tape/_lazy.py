"""Family kernels compiled on first use, called from the sweeps by address.

A jitted function compiles every function it calls, for every argument types it
calls them with, before it first runs: a sweep calling each family's kernel for
each arena would compile all of them (and their dtype twins) on the first
backward, though a program uses a few.  So the sweeps call a family's kernel
through ``call6``/``call9``/``call_pair``, with the address of its compiled code read from a table
(``Families.addresses``, a run-time argument, not a compile-time constant).  An
address still 0 stops the sweep with ``ST_COMPILE``; Python compiles that
family's kernel for that arena (or loads it from numba's cache), enters its
address, and the sweep resumes at the same row.  The first backward compiles the
sweep and the kernels its rows need; a kernel each later family costs once.

A table's kernels are compiled for one signature per arena each (the row kernels
of all families share one), so a sweep's compiled code does not depend on which
of them are compiled.
"""
from __future__ import annotations

import threading
from typing import Sequence

import numpy as np
from numba import typeof, types
from numba.core import cgutils
from numba.core.dispatcher import Dispatcher
from numba.extending import intrinsic

__all__ = ["call4_int", "call6", "call9", "call_pair", "Families"]


def _codegen(restype, argtypes: tuple):
    def codegen(context, builder, signature, llargs):
        fnty = context.call_conv.get_function_type(restype, argtypes)
        pointer = builder.inttoptr(llargs[0], fnty.as_pointer())
        status, result = context.call_conv.call_function(builder, pointer, restype, argtypes, llargs[1:])
        with cgutils.if_unlikely(builder, status.is_error):
            context.call_conv.return_status_propagate(builder, status)
        return result
    return codegen


# ``callN(address, *args)``: ``kernel(*args)`` for the jitted kernel compiled at ``address`` for
# exactly ``args``' types, returning a boolean; an exception it raises propagates to the caller.
# The arguments are passed as they are, not packed in a tuple: a tuple of arrays would cost
# reference counting on each array at every call, more than a small row's kernel.
@intrinsic
def call6(typingctx, address, a0, a1, a2, a3, a4, a5):
    argtypes = (a0, a1, a2, a3, a4, a5)
    return types.boolean(address, *argtypes), _codegen(types.boolean, argtypes)


@intrinsic
def call9(typingctx, address, a0, a1, a2, a3, a4, a5, a6, a7, a8):
    argtypes = (a0, a1, a2, a3, a4, a5, a6, a7, a8)
    return types.boolean(address, *argtypes), _codegen(types.boolean, argtypes)


@intrinsic
def call4_int(typingctx, address, a0, a1, a2, a3):
    """``call4`` for a kernel returning an int64 (``_stops.check_saved``)."""
    argtypes = (a0, a1, a2, a3)
    return types.int64(address, *argtypes), _codegen(types.int64, argtypes)


_PAIR = types.UniTuple(types.float64, 2)


@intrinsic
def call_pair(typingctx, address, a0, a1, a2, a3, a4, a5, a6):
    """``call7`` for a kernel returning two float64 (``ops.elementwise.scalar_d``)."""
    argtypes = (a0, a1, a2, a3, a4, a5, a6)
    return _PAIR(address, *argtypes), _codegen(_PAIR, argtypes)


class Families:
    """The addresses of ``kernels`` (one per family) compiled per arena (0: float64, 1: float32)."""

    def __init__(self, kernels: Sequence[Dispatcher]) -> None:
        self.kernels = tuple(kernels)
        self.addresses = np.zeros((len(self.kernels), 2), np.int64)
        self._lock = threading.Lock()

    def compile(self, family: int, arena: int, args: tuple) -> None:
        """Compile family ``family``'s kernel for ``args`` (the ones the sweep passes for a row of
        arena ``arena``) and enter its address."""
        kernel = self.kernels[family]
        signature = tuple(typeof(a) for a in args)
        with self._lock:
            kernel.compile(signature)
            compiled = kernel.overloads[signature]
            self.addresses[family, arena] = compiled.library.get_pointer_to_function(
                compiled.fndesc.llvm_func_name)
