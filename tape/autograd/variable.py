"""``tape.autograd.variable``: where old code imports ``Variable`` from (``from torch.autograd.variable
import Variable``).  The package's attribute of that name is the deprecated function, as PyTorch's."""
from __future__ import annotations

from .._legacy import Variable, _VariableMeta as VariableMeta

__all__ = ["VariableMeta", "Variable"]
