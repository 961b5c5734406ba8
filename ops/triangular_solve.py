"""The deprecated ``triangular_solve``: the named tuple ``(solution, cloned_coefficient)`` of one row
with two inputs and two outputs, ``TriangularSolveBackward0``, whose derivative is PyTorch's formula
in tape ops (it calls ``triangular_solve``), so every order comes from it.  Row attribute ``ia``:
bits ``UPPER``, ``TRANSPOSE``, ``UNIT``."""
from __future__ import annotations

import warnings

import numpy as np

from .._emit import D, Tensor, node_in, plain, recorded, state, write_tape
from ._args import broadcast_pair
from ._parser import check_types
from ._rule import return_type
from ._spec import OUTPUTS, PYTHON, TRANSPOSED, X0, X1, Given, Op, public, register, tangents
from .decomp import _outputs
from .lu import _triangular

TRIANGULAR_SOLVE = PYTHON.start + 81
UPPER, TRANSPOSE, UNIT = 1, 2, 4

TriangularSolveResult = return_type("triangular_solve", ("solution", "cloned_coefficient"))
_WARNED: list = []      # (PyTorch's TORCH_WARN_ONCE)


def _triangular_solve_vjp(g, xs, y, r):
    # PyTorch's triangular_solve_backward
    gx, gm = g
    b, a = xs
    upper, transpose, unit = bool(r.ia & UPPER), bool(r.ia & TRANSPOSE), bool(r.ia & UNIT)
    gb = ga = None
    if gx is not None:
        # (a plain backward passes a listed row no output: the tape has it)
        x = _outputs(y, r)[0] if y is not None else plain(r.tape.value_of(r.outputs[0]), b._dtype)
        gb = triangular_solve(gx, a, upper, not transpose, unit)[0]
        ga = -(x @ gb.mT) if transpose else -(gb @ x.mT)
        ga = ga.triu(int(unit)) if upper else ga.tril(-int(unit))
    if gm is not None:
        ga = gm if ga is None else ga + gm
    if gb is None:
        gb = b.new_zeros(b._shape)      # (PyTorch's: zeros, not an unused input)
    return gb._sum_to(b._shape), ga._sum_to(a._shape)


register(Op(TRIANGULAR_SOLVE, "triangular_solve", "TriangularSolveBackward0", X0 | X1, _triangular_solve_vjp,
            multi=True, node_saved=(("A", X1), ("self", X0), ("solution", Given(OUTPUTS)),
                                    ("transpose", lambda r: bool(r.ia & TRANSPOSE)),
                                    ("unitriangular", lambda r: bool(r.ia & UNIT)),
                                    ("upper", lambda r: bool(r.ia & UPPER)))))
tangents({TRIANGULAR_SOLVE: TRANSPOSED})     # (linear in the adjoints: transposed)


@public("triangular_solve")
def triangular_solve(self, A: Tensor, upper: bool = True, transpose: bool = False,
                     unitriangular: bool = False) -> tuple:
    """The solution ``X`` of ``A X = self`` for a triangular ``A`` (its ``upper`` or lower triangle;
    ``A^T`` with ``transpose``; a unit diagonal with ``unitriangular``) and a copy of ``A``, as the
    named tuple ``(solution, cloned_coefficient)`` (deprecated: ``tape.linalg.solve_triangular``;
    warns once, as PyTorch)."""
    check_types("triangular_solve", (("A", Tensor), ("upper", "bool"), ("transpose", "bool"), ("unitriangular", "bool")),
                A, upper, transpose, unitriangular)
    if not _WARNED:
        _WARNED.append(True)
        warnings.warn(
            "torch.triangular_solve is deprecated in favor of torch.linalg.solve_triangularand will be removed in a "
            "future PyTorch release.\ntorch.linalg.solve_triangular has its arguments reversed and does not return "
            "a copy of one of the inputs.\nX = torch.triangular_solve(B, A).solution\nshould be replaced with\n"
            "X = torch.linalg.solve_triangular(A, B).", UserWarning, stacklevel=3)
    for what, t in (("b", self), ("A", A)):
        if t.dim() < 2:
            raise RuntimeError(f"torch.triangular_solve: Expected {what} to have at least 2 dimensions, but it has "
                               f"{t.dim()} dimensions instead")
    if self._dtype is not A._dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type "
                           f"{D.legacy_name(self._dtype)} and A of type {D.legacy_name(A._dtype)} instead.")
    m, n = A._shape[-2:]
    if m != n:
        raise RuntimeError(f"A must be batches of square matrices, but they are {m} by {n} matrices")
    if n != self._shape[-2]:
        raise RuntimeError(f"Incompatible matrix sizes for triangular_solve: each A matrix is {n} by {n} but each b "
                           f"matrix is {self._shape[-2]} by {self._shape[-1]}")
    batch = broadcast_pair(self._shape[:-2], A._shape[:-2])
    dt = self._dtype
    if not dt.is_floating_point:
        raise NotImplementedError(f"\"triangular_solve_cpu\" not implemented for '{D.legacy_name(dt)}'")
    b = np.broadcast_to(self._value(), batch + self._shape[-2:])
    a = np.array(np.broadcast_to(A._value(), batch + (n, n)), dt.np)
    if transpose:
        x = _triangular(np.swapaxes(a, -1, -2), b, not upper, unitriangular)
    else:
        x = _triangular(a.copy(), b, upper, unitriangular)
    x = np.require(x, dt.np, "C")
    if state.grad and (self._rg or A._rg):
        tape = write_tape()
        nodes = [node_in(tape, t, dt, t._shape) for t in (self, A)]
        flags = (UPPER if upper else 0) | (TRANSPOSE if transpose else 0) | (UNIT if unitriangular else 0)
        row = tape.append_listed(TRIANGULAR_SOLVE, dt.arena, np.concatenate([x.reshape(-1), a.reshape(-1)]), nodes,
                                 ia=flags)
        outs = tape.append_outputs(row, [x.shape, a.shape])
        return TriangularSolveResult(tuple(recorded(tape, o, v, dt) for o, v in zip(outs, (x, a))))
    return TriangularSolveResult((plain(x, dt), plain(a, dt)))
