"""``tape.utils``: helpers around autograd (``hooks.RemovableHandle``) and data loading (``data``)."""
from . import data, hooks

__all__ = ["data", "hooks"]
