"""``tape.optim``: PyTorch's ``torch.optim`` optimizers over tape tensors (see the README's coverage table)."""
from __future__ import annotations

from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from . import lr_scheduler
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Adagrad", "Adam", "AdamW", "LBFGS", "Optimizer", "RMSprop", "SGD", "lr_scheduler"]
