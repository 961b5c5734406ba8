"""``set_warn_always``: whether warnings PyTorch gives once per process are given every time."""
from __future__ import annotations

import warnings

_always = [False]
_given: set = set()


def set_warn_always(b: bool) -> None:
    r"""When ``b`` is True, warnings given once per process (such as the one of
    ``backward(create_graph=True)``) are given each time."""
    _always[0] = bool(b)


def is_warn_always_enabled() -> bool:
    r"""Return True if warnings given once per process are given each time (:func:`set_warn_always`)."""
    return _always[0]


def warn_once(text: str, stacklevel: int = 2) -> None:
    """A UserWarning given the first time only, unless ``set_warn_always(True)``."""
    if _always[0] or text not in _given:
        _given.add(text)
        warnings.warn(text, UserWarning, stacklevel=stacklevel + 1)
