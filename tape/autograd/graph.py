"""``tape.autograd.graph``: hooks over several tensors (``register_multi_grad_hook``)."""
from __future__ import annotations

import functools
from typing import Callable, Sequence

from .._hooks import at_task_end, current_task
from .._tensor import Tensor
from ..utils.hooks import RemovableHandle

__all__ = ["register_multi_grad_hook"]


class _MultiHandle(RemovableHandle):
    """The handle of a hook registered on several tensors: ``remove()`` removes it from all."""

    def __init__(self, handles: tuple) -> None:
        self.handles = handles

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def register_multi_grad_hook(tensors: Sequence[Tensor], fn: Callable, *, mode: str = "all") -> RemovableHandle:
    r"""Register a hook over the gradients of several tensors.

    ``mode="all"``: ``fn(grads)`` runs once per backward, with the gradient of each tensor (None
    for those the backward did not reach), once the last of them is computed; when some are
    not reached, at the end of that backward.  ``mode="any"``: ``fn(grad)`` runs once per
    backward, on the first of the tensors' gradients to be computed.  Returns a handle whose
    ``remove()`` unregisters the hook from every tensor.
    """
    supported_modes = ("all", "any")
    if mode not in supported_modes:
        raise ValueError(f"Expects mode to be one of {supported_modes} but got {mode}")
    if mode == "all":
        for t in tensors:
            if t._tape is None and not t._rg:
                raise AssertionError("Expected gradient function to be set")
        buffers: dict = {}
        n = len(tensors)

        def finish(task: int) -> None:
            # Some of the tensors were not reached: fn gets None for them, now that the backward ends.
            grads = buffers.pop(task, None)
            if grads is not None:
                grads.pop()
                fn(grads)

        def inner(idx: int) -> Callable:
            def inner_hook(grad: Tensor) -> None:
                task = current_task()
                if task not in buffers:
                    buffers[task] = [None] * n
                    buffers[task].append(0)         # (the count, taken off before fn sees the list)
                    at_task_end(lambda: finish(task))
                grads = buffers[task]
                grads[idx] = grad
                grads[-1] += 1
                if grads[-1] == n:
                    del buffers[task]
                    grads.pop()
                    fn(grads)
            return inner_hook

        handles = tuple(t.register_hook(inner(i)) for i, t in enumerate(tensors))
    else:
        ran: set = set()

        @functools.wraps(fn)
        def wrapped_fn(grad: Tensor) -> None:
            task = current_task()
            if task in ran:
                return
            ran.add(task)
            at_task_end(lambda: ran.discard(task))
            fn(grad)

        handles = tuple(t.register_hook(wrapped_fn) for t in tensors if t.requires_grad)
    return _MultiHandle(handles)
