"""``tape.backends.cudnn``: not available (no CUDA); the switches PyTorch code sets for
reproducibility (``deterministic``, ``benchmark``) are kept and change nothing."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Optional

__all__ = ["is_available", "version", "flags", "enabled", "benchmark", "deterministic", "allow_tf32"]

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """False: no cuDNN without CUDA."""
    return False


def version() -> Optional[int]:
    """None: cuDNN is not there."""
    return None


@contextmanager
def flags(enabled: bool = False, benchmark: bool = False, deterministic: bool = False,
          allow_tf32: bool = True) -> Iterator[None]:
    """Sets the four switches inside the block and puts the old ones back after it."""
    names = ("enabled", "benchmark", "deterministic", "allow_tf32")
    module = globals()
    old = {n: module[n] for n in names}
    module.update(zip(names, (enabled, benchmark, deterministic, allow_tf32)))
    try:
        yield
    finally:
        module.update(old)
