"""``tape.optim``: PyTorch's ``torch.optim`` optimizers over tape tensors (see the README's coverage table)."""
from __future__ import annotations

from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD"]
