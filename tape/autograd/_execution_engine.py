"""``Variable._execution_engine``: the engine object PyTorch exposes (``queue_callback`` and friends)."""
from __future__ import annotations

from typing import Callable

from .._hooks import at_task_end, current_task
from ._backward import _is_checkpoint_valid, backward, grad


class ExecutionEngine:
    """The autograd engine's Python face, as ``torch._C._EngineBase``."""

    def queue_callback(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` when the backward running now has finished sweeping its graph."""
        if current_task() < 0:
            raise RuntimeError("Final callbacks can only be installed during backward pass.")
        at_task_end(callback)

    def is_checkpoint_valid(self) -> bool:
        return _is_checkpoint_valid()

    def run_backward(self, tensors: tuple, grad_tensors: tuple, keep_graph: bool, create_graph: bool,
                     inputs: tuple, allow_unreachable: bool, accumulate_grad: bool):
        """``backward`` (``accumulate_grad``; returns None) or ``grad`` (returns the gradients)."""
        grads = tuple(grad_tensors) if grad_tensors is not None else None
        if accumulate_grad:
            backward(tuple(tensors), grads, keep_graph, create_graph, inputs=tuple(inputs) or None)
            return None
        return grad(tuple(tensors), tuple(inputs), grads, keep_graph, create_graph, allow_unused=allow_unreachable)
