"""The op catalogue.  Importing it registers every op in ``REGISTRY`` and its public names in ``PUBLIC``."""
from . import compare, elementwise, index, join, linalg, reduction, shape, softmax, extrema, stats, sorting  # noqa: F401  (registration)
from ._spec import BINARY, JOIN, LINALG, N_CODES, PUBLIC, PYTHON, REDUCE, REGISTRY, SHAPE, SOURCE, UNARY, Op

__all__ = ["REGISTRY", "PUBLIC", "Op", "SOURCE", "UNARY", "BINARY", "REDUCE", "SHAPE", "LINALG", "JOIN", "PYTHON",
           "N_CODES"]
