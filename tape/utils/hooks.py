"""``RemovableHandle``: what registering a hook returns; the marks PyTorch's serialization reads."""
from __future__ import annotations

import itertools
import warnings
import weakref
from typing import Any, Callable

__all__ = ["RemovableHandle", "unserializable_hook", "warn_if_has_hooks"]

_ids = itertools.count()


class RemovableHandle:
    r"""A handle which provides the capability to remove a hook.

    ``handle.remove()`` unregisters the hook; used as a context manager, the hook is removed
    when the ``with`` block exits.
    """

    def __init__(self, hooks_dict: Any, *, extra_dict: Any = None) -> None:
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = next(_ids)
        # (the dicts of the hook's flags, ``with_kwargs`` ..., keyed by the same id: emptied with it)
        extras = extra_dict if isinstance(extra_dict, list) else [] if extra_dict is None else [extra_dict]
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extras)

    def remove(self) -> None:
        for ref in (self.hooks_dict_ref, *self.extra_dict_ref):
            hooks_dict = ref()
            if hooks_dict is not None and self.id in hooks_dict:
                del hooks_dict[self.id]

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, type: Any, value: Any, tb: Any) -> None:
        self.remove()


def unserializable_hook(f: Callable) -> Callable:
    """Mark a function as an unserializable hook with this decorator.

    This suppresses the warning ``warn_if_has_hooks`` gives for a tensor that has the hook.
    """
    f.__torch_unserializable__ = True
    return f


def warn_if_has_hooks(tensor: Any) -> None:
    """Warn for each backward hook of ``tensor`` not marked ``unserializable_hook`` (a saved
    tensor does not keep its hooks)."""
    if tensor._backward_hooks:
        for hook in tensor._backward_hooks.values():
            if not hasattr(hook, "__torch_unserializable__"):
                warnings.warn(f"backward hook {hook!r} on tensor will not be serialized.  If this is expected, you "
                              "can decorate the function with @torch.utils.hooks.unserializable_hook to suppress "
                              "this warning", stacklevel=2)
