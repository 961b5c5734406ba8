"""``tape._C``: the private names of PyTorch's ``torch._C`` that tests and libraries reach for.

PyTorch keeps its engine's entry points here; tape keeps only those with a meaning for a tape:
the grad mode, and the backward running in this thread (its graph task, the nodes it runs).
"""
from __future__ import annotations

import weakref

from .._grad_mode import is_grad_enabled, is_inference_mode_enabled
from .._hooks import current_task as _current_graph_task_id
from .._graph import execution_order as _current_graph_task_execution_order
from .._graph import accumulator as _accumulator
from .._graph import node_view, will_execute as _will_engine_execute_node
from .._hooks import evaluating as _evaluating
from .._state import state as _state
from . import _autograd, _functions, _nn
from ._cached import (_add_cached_tensor, _is_cached_tensor, _remove_cached_tensor,
                      _set_cached_tensors_enabled)


class _WeakTensorRef:
    """A weak reference to a tensor (PyTorch's ``torch._C._WeakTensorRef``)."""

    __slots__ = ("_ref",)

    def __init__(self, tensor) -> None:
        self._ref = weakref.ref(tensor)

    def expired(self) -> bool:
        """Whether the tensor is gone."""
        return self._ref() is None


def _current_autograd_node():
    """The node the backward running in this thread evaluates now (its backward, hooks or saved
    tensors' unpack hooks run), or None outside one."""
    at = _evaluating.node
    if at is None:
        return None
    return node_view(*at) if type(at) is tuple else _accumulator(at)    # (a leaf: its AccumulateGrad)


def _is_fwd_grad_enabled() -> bool:
    """Whether forward AD computes tangents in this thread."""
    return _state.fwd_grad


def _set_fwd_grad_enabled(enabled: bool) -> None:
    """Enable or disable forward AD in this thread: disabled, ops compute no tangents and dual
    tensors show none."""
    _state.fwd_grad = bool(enabled)


__all__ = ["is_grad_enabled", "is_inference_mode_enabled", "_current_graph_task_id", "_current_autograd_node", "_WeakTensorRef",
           "_will_engine_execute_node", "_current_graph_task_execution_order", "_is_fwd_grad_enabled",
           "_set_fwd_grad_enabled", "_autograd", "_functions", "_nn", "_set_cached_tensors_enabled",
           "_add_cached_tensor", "_remove_cached_tensor", "_is_cached_tensor"]
