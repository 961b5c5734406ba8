"""``tape.autograd.grad_mode``: the grad-mode context managers, under the module name PyTorch uses."""
from __future__ import annotations

from .._grad_mode import inference_mode, enable_grad, no_grad, set_grad_enabled, set_multithreading_enabled

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "set_multithreading_enabled"]
