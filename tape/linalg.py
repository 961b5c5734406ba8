"""``tape.linalg``: PyTorch's linear-algebra namespace (so far the vector norm; the matrix
functions and norms that need a decomposition are listed as not yet in the README)."""
from __future__ import annotations

from .ops.stats import vector_norm

__all__ = ["vector_norm"]
