"""The cached-tensor registry of ``torch._C`` (``_set_cached_tensors_enabled``, ``_add_cached_tensor``,
``_remove_cached_tensor``, ``_is_cached_tensor``): PyTorch's CUDA-graph trees mark the tensors
whose memory they own.  tape has no such memory to manage: the registry is kept (per tensor
object, not its views, held weakly) so that code marking tensors runs and reads its marks back."""
from __future__ import annotations

import threading
import weakref

from .._tensor import Tensor

_lock = threading.Lock()
_enabled = False
_cached: dict = {}      # id(tensor) -> weakref to it


def _checked(fn: str, t: object) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}(): incompatible function arguments. The following argument types are supported:\n"
                        f"    1. (arg0: torch.Tensor) -> {'bool' if fn == '_is_cached_tensor' else 'None'}\n\n"
                        f"Invoked with: {t!r}")
    return t


def _assert_enabled(what: str) -> None:
    if not _enabled:
        raise RuntimeError(f"{what} INTERNAL ASSERT FAILED at \"aten/src/ATen/CachedTensorUtils.cpp\", please report "
                           "a bug to PyTorch. ")


def _set_cached_tensors_enabled(enabled: bool) -> None:
    """Turn the registry on or off (its marks stay while it is off)."""
    global _enabled
    _enabled = bool(enabled)


def _add_cached_tensor(t: Tensor) -> None:
    """Mark ``t`` as cached (the registry must be on)."""
    _checked("_add_cached_tensor", t)
    _assert_enabled("cached_tensorimpls_enabled.load(std::memory_order_acquire)")
    key = id(t)
    with _lock:
        _cached[key] = weakref.ref(t, lambda _, key=key: _cached.pop(key, None))


def _remove_cached_tensor(t: Tensor) -> None:
    """Remove ``t``'s mark (the registry must be on)."""
    _checked("_remove_cached_tensor", t)
    _assert_enabled("cached_tensorimpls_enabled")
    with _lock:
        _cached.pop(id(t), None)


def _is_cached_tensor(t: Tensor) -> bool:
    """Whether ``t`` itself is marked (False while the registry is off)."""
    _checked("_is_cached_tensor", t)
    if not _enabled:
        return False
    ref = _cached.get(id(t))
    return ref is not None and ref() is t
