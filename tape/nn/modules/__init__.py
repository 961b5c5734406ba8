"""``tape.nn.modules``: the module classes of ``tape.nn``, one file per family as PyTorch's ``torch.nn.modules``."""
from __future__ import annotations

from .module import Module

__all__ = ["Module"]
