"""``tape.utils``: helpers around autograd (``hooks.RemovableHandle``)."""
from . import hooks

__all__ = ["hooks"]
