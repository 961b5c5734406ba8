"""The op catalogue.  Importing it registers every op in ``REGISTRY`` and its public names in ``PUBLIC``."""
from . import (addmm, compare, decomp, einsum, elementwise, extrema, householder, index, join, layout,  # noqa: F401
               ldl, linalg, linalg_extra, lstsq, lu, matrix_exp, reduction, shape, softmax, sorting, split, stats,
               views)  # (registration)
from . import inplace  # noqa: F401,E402  (last: in-place variants of what the families registered)
from ._spec import BINARY, JOIN, LINALG, N_CODES, PUBLIC, PYTHON, REDUCE, REGISTRY, SHAPE, SOURCE, UNARY, Op

__all__ = ["REGISTRY", "PUBLIC", "Op", "SOURCE", "UNARY", "BINARY", "REDUCE", "SHAPE", "LINALG", "JOIN", "PYTHON",
           "N_CODES"]
