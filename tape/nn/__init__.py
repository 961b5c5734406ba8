"""``tape.nn``: PyTorch's ``torch.nn``, so far its ``functional`` module (see the README's "Not yet")."""
from __future__ import annotations

from . import functional

__all__ = ["functional"]
