"""``tape.nn``: PyTorch's ``torch.nn``: ``Parameter``, ``Module`` and the layers over tape's ops, ``init`` and
the ``functional`` module (see the README's coverage table)."""
from __future__ import annotations

from . import functional, modules
from .modules import Module
from .parameter import Buffer, Parameter

__all__ = ["Buffer", "Module", "Parameter", "functional", "modules"]
