"""``get_worker_info``: what a dataset asks to know whether a DataLoader worker runs it.

tape's DataLoader loads in the main process only (``num_workers=0``), where PyTorch's answer is None.
"""
from __future__ import annotations

__all__ = ["get_worker_info"]


def get_worker_info() -> None:
    """Returns the information about the current DataLoader iterator worker process (its ``id``,
    ``num_workers``, ``seed`` and ``dataset``). When called in the main process, this returns ``None``;
    tape loads data in the main process only, so the answer is always ``None``."""
    return None
