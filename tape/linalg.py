"""``tape.linalg``: PyTorch's ``torch.linalg`` functions (matrix products, norms, decompositions
and the solvers built on them); the ops themselves are in ``ops/linalg.py``, ``ops/decomp.py``
and ``ops/stats.py``."""
from __future__ import annotations

from .ops.decomp import LinAlgError, cholesky, det, eigh, eigvalsh, inv, pinv, qr, slogdet, solve, solve_triangular, svd, svdvals
from .ops.linalg import cross, matmul, matrix_power, multi_dot, vecdot
from .ops.decomp import linalg_norm as norm
from .ops.decomp import matrix_norm
from .ops.stats import vector_norm

__all__ = ["LinAlgError", "cholesky", "cross", "det", "eigh", "eigvalsh", "inv", "matmul", "matrix_norm", "matrix_power",
           "multi_dot", "norm", "pinv", "qr", "slogdet", "solve", "solve_triangular", "svd", "svdvals", "vecdot", "vector_norm"]
