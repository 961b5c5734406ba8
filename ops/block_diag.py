"""``block_diag``: tensors placed along the diagonal of a matrix of zeros (``BlockDiagBackward0``, one
Python-rule row listing its inputs; its derivative takes each input's block back, a linear rule, so
every order comes from it)."""
from __future__ import annotations

import numpy as np

from .._emit import D, Tensor, node_in, plain, recorded, state, write_tape
from ._spec import LISTED, PYTHON, TRANSPOSED, Op, public_function, register, tangents

BLOCK_DIAG = PYTHON.start + 76


def _as_matrix(shape: tuple) -> tuple:
    return (1, 1) if not shape else (1, shape[0]) if len(shape) == 1 else shape


def _block_diag_vjp(g, xs, y, r):
    out, i, j = [], 0, 0
    for x in xs:
        m, n = _as_matrix(x._shape)
        out.append(g[i:i + m, j:j + n].reshape(x._shape))
        i, j = i + m, j + n
    return tuple(out)


register(Op(BLOCK_DIAG, "block_diag", "BlockDiagBackward0", 0, _block_diag_vjp,
            arity=LISTED))
tangents({BLOCK_DIAG: TRANSPOSED})      # (linear)


@public_function("block_diag")
def block_diag(*tensors: Tensor) -> Tensor:
    """A block diagonal matrix of ``tensors`` (0-d: 1 x 1, 1-D: one row, 2-D: as they are), in their
    promoted dtype."""
    for k, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {k} in argument 0, but got {type(t).__name__}")
        if t.dim() > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {k} has "
                               f"{t.dim()} dimensions")
    if not tensors:
        return plain(np.zeros((1, 0), D.get_default_dtype().np), D.get_default_dtype())
    dt = D.result_type(*tensors)
    shapes = [_as_matrix(t._shape) for t in tensors]
    y = np.zeros((sum(s[0] for s in shapes), sum(s[1] for s in shapes)), dt.np)
    i = j = 0
    for t, (m, n) in zip(tensors, shapes):
        y[i:i + m, j:j + n] = t._value().reshape(m, n)
        i, j = i + m, j + n
    if state.grad and dt.arena is not None and any(t._rg for t in tensors):
        tape = write_tape()
        nodes = [node_in(tape, t, dt, t._shape) for t in tensors]
        return recorded(tape, tape.append_listed(BLOCK_DIAG, dt.arena, y, nodes), y, dt)
    return plain(y, dt)
