"""The op catalogue.  Importing it registers every op in ``REGISTRY``."""
from . import elementwise, linalg, reduction, shape  # noqa: F401  (registration)
from ._spec import BINARY, LINALG, N_CODES, PYTHON, REDUCE, REGISTRY, SHAPE, SOURCE, UNARY, Op

__all__ = ["REGISTRY", "Op", "SOURCE", "UNARY", "BINARY", "REDUCE", "SHAPE", "LINALG", "PYTHON", "N_CODES"]
