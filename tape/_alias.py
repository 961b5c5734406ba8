"""PyTorch code run on tape by aliasing the module (``sys.modules["torch"] = tape``) also imports
torch's submodules by name: ``import torch.autograd.forward_ad as fwAD``, ``from torch.utils.checkpoint
import checkpoint``.  Python would load those files a second time under the alias, as new modules
with their own state (grad mode, hooks, the registry); this finder hands out tape's own modules instead.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType

from ._pytorch_names import TORCH


class _Existing(importlib.abc.Loader):
    """Loads a name as a module that is already imported."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self.module

    def exec_module(self, module: ModuleType) -> None:
        pass


class AliasFinder(importlib.abc.MetaPathFinder):
    """``alias.sub`` -> ``tape.sub`` for any top-level name bound to the tape module in sys.modules."""

    def find_spec(self, fullname: str, path=None, target=None):
        root, dot, rest = fullname.partition(".")
        tape = sys.modules.get("tape")
        if not dot or root == "tape" or tape is None or sys.modules.get(root) is not tape:
            return None
        name = "tape." + rest
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            if "." not in rest and rest in TORCH:
                raise ModuleNotFoundError(f"No module named '{fullname}': tape does not implement PyTorch's "
                                          f"torch.{rest} yet (README.md, 'Not yet', lists what is missing)",
                                          name=fullname)
            return None
        return importlib.util.spec_from_loader(fullname, _Existing(importlib.import_module(name)))


def install() -> None:
    """First on the meta path: before the path finder would find tape's files under the alias."""
    if not any(isinstance(f, AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, AliasFinder())
