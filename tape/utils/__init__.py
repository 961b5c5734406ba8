"""``tape.utils``: helpers around autograd (``hooks.RemovableHandle``), DLPack exchange (``dlpack``)."""
from . import dlpack, hooks

__all__ = ["dlpack", "hooks"]
