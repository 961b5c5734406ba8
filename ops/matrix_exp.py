"""The matrix exponential (``torch.linalg.matrix_exp``, ``torch.matrix_exp``, ``Tensor.matrix_exp``).

Its value is the scaling-and-squaring Pade 13 algorithm (Higham 2005) over numpy; its derivative is
PyTorch's: the Frechet derivative read from the exponential of the block matrix ``[[A^T, G], [0,
A^T]]``, so the rule is the op itself on a bigger matrix and every order comes from it.
"""
from __future__ import annotations

import numpy as np

from .._emit import Tensor
from ._rule import rule_adjoint
from ._spec import PYTHON, TRANSPOSED, X0, Op, public, register, tangents
from .decomp import _check_matrix, _one
from .join import cat

MATRIX_EXP = PYTHON.start + 66

# Higham's Pade 13 coefficients and the 1-norm bound below which no scaling is needed
_B = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0, 129060195264000.0,
      10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0, 40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def _expm(a: np.ndarray) -> np.ndarray:
    """``exp(a)`` of one square matrix in float64 (scaled down to a 1-norm at most theta13, squared back)."""
    n = a.shape[-1]
    norm = np.abs(a).sum(0).max() if n else 0.0
    if not np.isfinite(norm):
        return np.full_like(a, np.nan)
    s = max(0, int(np.ceil(np.log2(norm / _THETA13)))) if norm > _THETA13 else 0
    a = a / 2.0 ** s
    eye = np.eye(n)
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (a6 @ (_B[13] * a6 + _B[11] * a4 + _B[9] * a2) + _B[7] * a6 + _B[5] * a4 + _B[3] * a2 + _B[1] * eye)
    v = a6 @ (_B[12] * a6 + _B[10] * a4 + _B[8] * a2) + _B[6] * a6 + _B[4] * a4 + _B[2] * a2 + _B[0] * eye
    r = np.linalg.solve(v - u, v + u)
    for _ in range(s):
        r = r @ r
    return r


def _matrix_exp_vjp(g, xs, y, r):
    a = xs[0]
    n = a._shape[-1]
    at = a.mT
    block = cat([cat([at, g], -1), cat([a.new_zeros(a._shape), at], -1)], -2)
    return (matrix_exp(block).narrow(-2, 0, n).narrow(-1, n, n),)


register(Op(MATRIX_EXP, "linalg_matrix_exp", "LinalgMatrixExpBackward0", X0, _matrix_exp_vjp,
            py_adjoint=rule_adjoint))
tangents({MATRIX_EXP: TRANSPOSED})


def matrix_exp(A: Tensor) -> Tensor:
    """The matrix exponential ``sum_k A^k / k!`` of a square matrix (of each matrix of a batch)."""
    _check_matrix("linalg.matrix_exp", A)
    v = A._value()
    flat = v.reshape((-1,) + v.shape[-2:]) if v.size else v
    with np.errstate(all="ignore"):
        y = np.stack([_expm(m.astype(np.float64)) for m in flat]).reshape(v.shape) if v.size else v.copy()
    return _one(MATRIX_EXP, y, A)


@public("matrix_exp")
def matrix_exp_method(self) -> Tensor:
    """The matrix exponential of a square matrix (of each matrix of a batch): ``tape.linalg.matrix_exp``."""
    return matrix_exp(self)
