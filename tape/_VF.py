"""``tape._VF``: the ATen function forms PyTorch keeps out of its top-level namespace
(``torch._VF.unique_dim``)."""
from __future__ import annotations

from .ops.counting import unique_dim

__all__ = ["unique_dim"]
