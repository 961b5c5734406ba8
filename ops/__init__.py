"""The op catalogue.  Importing it registers every op in ``REGISTRY``."""
from . import elementwise, linalg, reduction, shape  # noqa: F401  (registration)
from ._spec import BINARY, N_CODES, PYTHON, REDUCE, REGISTRY, SHAPE, SOURCE, UNARY, Op

__all__ = ["REGISTRY", "Op", "SOURCE", "UNARY", "BINARY", "REDUCE", "SHAPE", "PYTHON", "N_CODES"]
