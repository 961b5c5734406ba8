"""``tape._C._autograd``: saved tensors and version counters (PyTorch's ``torch._C._autograd``)."""
from __future__ import annotations

from typing import Sequence

from .._saved import SavedTensor, local as _saved_hooks
from .._tensor import Tensor

__all__ = ["SavedTensor", "_saved_tensors_hooks_is_enabled", "_unsafe_set_version_counter"]


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
