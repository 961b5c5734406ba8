"""``tape.random`` (``torch.random``): the default generator's seed and state, and ``fork_rng``.

The functions are the objects ``tape.manual_seed``, ``tape.seed`` ... are: one default generator,
PyTorch's CPU stream (``tape/_mt.py``), so a seed set here draws PyTorch's numbers everywhere.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Optional

from . import cpu, cuda
from ._creation import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from ._creation import default_generator  # noqa: F401  (torch.random.default_generator)
from ._device import device as _device

__all__ = ["set_rng_state", "get_rng_state", "manual_seed", "seed", "initial_seed", "fork_rng",
           "thread_safe_generator"]

# (the modules ``torch.get_device_module`` finds for the device types a CPU build can name)
_DEVICE_MODULES = {"cuda": cuda, "cpu": cpu}


@contextlib.contextmanager
def fork_rng(devices: Optional[Iterable[int]] = None, enabled: bool = True, _caller: str = "fork_rng",
             _devices_kw: str = "devices", device_type: Optional[str] = None) -> Iterator[None]:
    """Forks the RNG, so that when you return, the RNG is reset to the state that it was
    previously in.

    Args:
        devices (iterable of Device IDs): devices for which to fork the RNG. The CPU RNG state
            is always forked. Without an accelerator no device is, by default.
        enabled (bool): if ``False``, the RNG is not forked.
        device_type (str): device type str, default is ``cuda`` (no accelerator is available).
    """
    if device_type == "meta":
        yield
        return
    device_type = device_type or "cuda"
    _device(device_type)        # (PyTorch's error for a string naming no device type)
    device_mod = _DEVICE_MODULES.get(device_type)
    if device_mod is None:
        raise RuntimeError(f"torch has no module of `{device_type}`, you should register a module by "
                           "`torch._register_device_module`.")
    if not enabled:
        yield
        return
    devices = list(range(device_mod.device_count())) if devices is None else list(devices)
    cpu_rng_state = get_rng_state()
    # (asked for a device's state, a module without devices raises PyTorch's error here)
    device_rng_states = [device_mod.get_rng_state(d) for d in devices]
    try:
        yield
    finally:
        set_rng_state(cpu_rng_state)
        for d, state in zip(devices, device_rng_states):
            device_mod.set_rng_state(state, d)


def thread_safe_generator() -> Optional[Generator]:
    """The generator of the current DataLoader worker thread, or None outside one: tape's
    DataLoader workers are processes (seeded as PyTorch's), never threads, so None."""
    return None
