"""``tape.autograd``: ``backward`` and ``grad``, with PyTorch's signatures and checks."""
from __future__ import annotations

from .._grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from . import functional
from ._backward import backward, grad
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .._legacy import Variable

__all__ = ["backward", "grad", "functional", "gradcheck", "gradgradcheck", "GradcheckError", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]
__all__.append("Variable")
