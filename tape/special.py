"""``tape.special``: the functions PyTorch keeps in ``torch.special`` that tape has, the same
functions as ``tape.softmax``, ``tape.log_softmax`` and ``tape.logsumexp``."""
from __future__ import annotations

from .ops.softmax import log_softmax, logsumexp, softmax

__all__ = ["softmax", "log_softmax", "logsumexp"]
