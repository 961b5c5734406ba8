"""``mode``: the most frequent value of each slice along a dim and its index, as a named tuple; a
selection recorded as the sorting family's (a PICK row, here named ``ModeBackward0``)."""
from __future__ import annotations

import numpy as np

from ._rule import return_type
from ._spec import public
from .extrema import pick_name
from .sorting import _dim_of, _selected, _work

_MODE = pick_name("ModeBackward0")
ModeResult = return_type("mode", ("values", "indices"))


def _mode_index(row: np.ndarray) -> int:
    """Index in ``row`` of its most frequent value (the smallest among equally frequent ones): its
    last occurrence, as PyTorch's scan of the sorted row (a nan counts once, as it equals nothing)."""
    order = np.argsort(row, kind="stable")
    s = row[order]
    same = s[1:] == s[:-1]
    ends = np.flatnonzero(np.append(~same, True))
    counts = np.diff(np.append(-1, ends))
    return int(order[ends[int(np.argmax(counts))]])


@public("mode")
def mode(self, dim: int = -1, keepdim: bool = False):
    """The most frequent value along ``dim`` (the smallest of equally frequent ones) and the index
    of its last occurrence, as a named tuple ``(values, indices)``."""
    d = _dim_of(self, dim)
    v = _work(self)
    if v.shape[d] == 0:
        raise IndexError(f"mode(): Expected reduction dim {d} to have non-zero size.")
    moved = np.moveaxis(v, d, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    idx = np.array([_mode_index(r) for r in rows], np.int64).reshape(moved.shape[:-1] + (1,))
    idx = np.moveaxis(idx, -1, d)
    shape = idx.shape if keepdim else tuple(s for i, s in enumerate(idx.shape) if i != d)
    return _selected(self, d, idx, _MODE, ModeResult, shape if self._shape else (), dim, keepdim)
