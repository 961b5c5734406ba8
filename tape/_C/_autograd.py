"""``tape._C._autograd``: saved tensors and version counters (PyTorch's ``torch._C._autograd``)."""
from __future__ import annotations

from typing import Sequence

from .._hooks import keeps_graph as _get_current_graph_task_keep_graph
from .._saved import SavedTensor, local as _saved_hooks, make_saved
from .._tensor import Tensor

__all__ = ["SavedTensor", "_get_current_graph_task_keep_graph", "_make_saved_tensor", "_saved_tensors_hooks_is_enabled", "_unsafe_set_version_counter"]


def _make_saved_tensor(*args, **kwargs) -> SavedTensor:
    """``_make_saved_tensor(tensor, is_output, is_inplace_on_view=False)``: a SavedTensor of
    ``tensor`` made from Python, packed by the saved-tensor hooks on now (``unpack()`` reads it)."""
    names = ("tensor", "is_output", "is_inplace_on_view")
    given = dict(zip(names, args))
    given.update(kwargs)
    if len(args) > 3 or set(given) - set(names) or any(n in kwargs for n in names[:len(args)]) or \
            "tensor" not in given or "is_output" not in given or not isinstance(given["tensor"], Tensor) or \
            not isinstance(given["is_output"], bool) or not isinstance(given.get("is_inplace_on_view", False), bool):
        shown = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
        raise TypeError("_make_saved_tensor(): incompatible function arguments. The following argument types are "
                        "supported:\n    1. (tensor: torch.Tensor, is_output: bool, is_inplace_on_view: bool = False) "
                        f"-> torch._C._autograd.SavedTensor\n\nInvoked with: {shown}")
    return make_saved(given["tensor"], given["is_output"])


def _saved_tensors_hooks_is_enabled() -> bool:
    """False inside ``autograd.graph.disable_saved_tensors_hooks`` (in this thread)."""
    return _saved_hooks.disabled is None


def _unsafe_set_version_counter(tensors: Sequence[Tensor], versions: Sequence[int]) -> None:
    """Set the version counter of each tensor (and of every tensor sharing it) to the given value,
    hiding the in-place changes made since from autograd's checks."""
    tensors, versions = tuple(tensors), tuple(versions)
    if len(tensors) != len(versions):
        raise RuntimeError(f"tensors_len={len(tensors)}, versions_len={len(versions)}")
    for t, v in zip(tensors, versions):
        if v < 0:
            raise RuntimeError(f"Cannot set a version_counter to a value below 0: {v}")
        t._shared_version()[0] = int(v)
