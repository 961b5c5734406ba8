"""``tape.cuda``: what PyTorch's CPU-only build answers (no CUDA device is available)."""
from __future__ import annotations


def is_available() -> bool:
    """False: tape computes on the CPU."""
    return False


def device_count() -> int:
    return 0


def is_initialized() -> bool:
    return False


def manual_seed(seed: int) -> None:
    """Ignored without a CUDA device, as in PyTorch."""


def manual_seed_all(seed: int) -> None:
    """Ignored without a CUDA device, as in PyTorch."""


def empty_cache() -> None:
    """Nothing is cached without a CUDA device."""


def _not_compiled(*args, **kwargs):
    raise AssertionError("Torch not compiled with CUDA enabled")


current_device = synchronize = get_device_name = get_device_properties = set_device = _not_compiled
get_rng_state = set_rng_state = _not_compiled
