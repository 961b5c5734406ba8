"""``tape.linalg``: PyTorch's ``torch.linalg`` functions (matrix products, norms, decompositions
and the solvers built on them); the ops themselves are in ``ops/linalg.py``, ``ops/decomp.py``,
``ops/lu.py``, ``ops/ldl.py``, ``ops/lstsq.py``, ``ops/matrix_exp.py``, ``ops/householder.py``,
``ops/linalg_extra.py`` and ``ops/stats.py``."""
from __future__ import annotations

from ._pytorch_names import missing
from .ops.decomp import (LinAlgError, cholesky, det, eigh, eigvalsh, inv, matrix_norm, pinv, qr, slogdet, solve,
                         solve_triangular, svd, svdvals)
from .ops.decomp import linalg_norm as norm
from .ops.householder import householder_product
from .ops.ldl import ldl_factor, ldl_factor_ex, ldl_solve
from .ops.linalg import cross, matmul, matrix_power, multi_dot, vecdot
from .ops.linalg_extra import cond, diagonal, matrix_rank, tensorinv, tensorsolve, vander
from .ops.lstsq import lstsq
from .ops.lu import cholesky_ex, inv_ex, lu, lu_factor, lu_factor_ex, lu_solve, solve_ex
from .ops.matrix_exp import matrix_exp
from .ops.stats import vector_norm

__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal", "eigh", "eigvalsh",
           "householder_product", "inv", "inv_ex", "ldl_factor", "ldl_factor_ex", "ldl_solve", "lstsq", "lu",
           "lu_factor", "lu_factor_ex", "lu_solve", "matmul", "matrix_exp", "matrix_norm", "matrix_power",
           "matrix_rank", "multi_dot", "norm", "pinv", "qr", "slogdet", "solve", "solve_ex", "solve_triangular", "svd",
           "svdvals", "tensorinv", "tensorsolve", "vander", "vecdot", "vector_norm"]

# torch.linalg's names that tape does not have yet: using one says so (not a bare AttributeError).
_TORCH_LINALG = frozenset(("eig", "eigvals"))     # (PyTorch's results are complex: tape has no complex dtypes)


def __getattr__(name: str):
    if name in _TORCH_LINALG:
        raise missing("tape.linalg", name, _TORCH_LINALG, "torch.linalg")
    raise AttributeError(f"module 'tape.linalg' has no attribute '{name}'")
