"""The op catalogue.  Importing it registers every op in ``REGISTRY``."""
from . import elementwise, linalg, reduction, shape  # noqa: F401  (registration)
from . import join  # noqa: F401,I001  (last: its front ends use tape's recording API, which imports the others)
from ._spec import BINARY, JOIN, LINALG, N_CODES, PYTHON, REDUCE, REGISTRY, SHAPE, SOURCE, UNARY, Op

__all__ = ["REGISTRY", "Op", "SOURCE", "UNARY", "BINARY", "REDUCE", "SHAPE", "LINALG", "JOIN", "PYTHON", "N_CODES"]
