"""``tape.backends.opt_einsum``: tape's ``einsum`` contracts left to right, as PyTorch does when the
opt_einsum package is not installed; the switches are kept and change nothing."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Optional

__all__ = ["is_available", "get_opt_einsum", "enabled", "strategy", "flags"]

enabled = True
strategy: Optional[str] = None


def is_available() -> bool:
    """False: the contraction order is not optimized."""
    return False


def get_opt_einsum() -> None:
    """None: the opt_einsum package is not used."""
    return None


@contextmanager
def flags(enabled: Optional[bool] = None, strategy: Optional[str] = None) -> Iterator[None]:
    """Sets ``enabled`` (and ``strategy``) inside the block, as PyTorch's does."""
    module = globals()
    old = module["enabled"], module["strategy"]
    if enabled is not None:
        module["enabled"] = enabled
    if strategy is not None:
        module["strategy"] = strategy
    try:
        yield
    finally:
        module["enabled"], module["strategy"] = old
