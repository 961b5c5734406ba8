"""``tape.linalg``: PyTorch's ``torch.linalg`` functions (matrix products, norms, decompositions
and the solvers built on them); the ops themselves are in ``ops/linalg.py``, ``ops/decomp.py``,
``ops/lu.py``, ``ops/ldl.py``, ``ops/lstsq.py``, ``ops/matrix_exp.py``, ``ops/householder.py``,
``ops/linalg_extra.py`` and ``ops/stats.py``."""
from __future__ import annotations

from ._out import out_form
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

# ``out=`` (``tape/_out.py``) of each function that takes it: the name PyTorch's refusal of an argument
# that requires grad gives (that of the op it runs; None for a composite, whose result is copied into
# ``out``, recorded), and whether ``out`` must have the result's dtype exactly (a structured kernel) or
# one it casts to.
_OUT_FORMS = {"cholesky": ("linalg_cholesky_ex", True), "cholesky_ex": ("linalg_cholesky_ex", True),
              "cond": (None, False), "cross": ("linalg_cross", True), "det": ("_linalg_det", True),
              "eigh": ("_linalg_eigh", True), "eigvalsh": ("_linalg_eigh", True),
              "householder_product": ("linalg_householder_product", False), "inv": ("linalg_inv_ex", True),
              "inv_ex": ("linalg_inv_ex", True), "ldl_factor": ("linalg_ldl_factor_ex", True),
              "ldl_factor_ex": ("linalg_ldl_factor_ex", True), "ldl_solve": ("linalg_ldl_solve", True),
              "lstsq": ("linalg_lstsq", False), "lu": ("linalg_lu", True), "lu_factor": ("linalg_lu_factor_ex", True),
              "lu_factor_ex": ("linalg_lu_factor_ex", True), "lu_solve": ("linalg_lu_solve", True),
              "matrix_norm": (None, False), "matrix_power": ("matmul", False),
              "matrix_rank": (None, False), "multi_dot": ("mm", False), "norm": (None, False),
              "pinv": ("linalg_pinv", False), "qr": ("linalg_qr", True), "slogdet": ("_linalg_slogdet", True),
              "solve": ("_linalg_solve_ex", True), "solve_ex": ("_linalg_solve_ex", True),
              "solve_triangular": ("linalg_solve_triangular", False), "svd": ("_linalg_svd", True),
              "svdvals": ("_linalg_svd", True), "tensorinv": (None, False),
              "tensorsolve": (None, False), "vecdot": ("sum", False),
              "vector_norm": ("linalg_vector_norm", True)}


for _name, (_grad_name, _exact) in _OUT_FORMS.items():
    globals()[_name] = out_form(globals()[_name], _grad_name, _exact)

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
