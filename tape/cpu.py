"""``tape.cpu``: the CPU device module, as PyTorch's (one device, always available; work is done
when a call returns)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

__all__ = ["is_available", "device_count", "current_device", "synchronize", "set_device", "device"]


def is_available() -> bool:
    """True."""
    return True


def device_count() -> int:
    """1."""
    return 1


def current_device() -> str:
    """'cpu'."""
    return "cpu"


def synchronize(device=None) -> None:
    """Returns at once: every op has finished when its call returns."""


def set_device(device) -> None:
    """Nothing to set: there is one CPU device."""


@contextmanager
def device(device) -> Iterator[None]:
    """A block on the CPU device (the only one)."""
    yield
