"""``skip_init``, as PyTorch's ``torch.nn.utils.init``: a module built without initializing its
parameters and buffers."""
from __future__ import annotations

import inspect
from typing import Any

from ..._creation import get_rng_state, set_rng_state
from ..modules.module import Module

__all__ = ["skip_init"]


def skip_init(module_cls: type, *args: Any, **kwargs: Any) -> Module:
    r"""Given a module class object and args / kwargs, instantiate the module without initializing
    parameters / buffers.

    This can be useful if custom initialization will be performed, making the default initialization
    unnecessary. The module must accept a `device` arg in its constructor that is passed to any parameters
    or buffers created during construction, and must not perform any computation on parameters in its
    constructor except initialization (i.e. functions from :mod:`tape.nn.init`). Its parameter / buffer
    values are then uninitialized, as if having been created using :func:`tape.empty`, and the default
    random number generator is left as it was.

    Args:
        module_cls: Class object; should be a subclass of :class:`tape.nn.Module`
        args: args to pass to the module's constructor
        kwargs: kwargs to pass to the module's constructor

    Returns:
        Instantiated module with uninitialized parameters / buffers

    Example::

        >>> m = torch.nn.utils.skip_init(torch.nn.Linear, 5, 1)
        >>> m.weight.shape
        torch.Size([1, 5])
    """
    if not issubclass(module_cls, Module):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    final_device = kwargs.pop("device", "cpu")
    # PyTorch builds on the 'meta' device, which draws no random numbers; tape has no 'meta' device, so
    # it builds on the CPU and rewinds the generator past the initializers' draws.
    state = get_rng_state()
    try:
        module = module_cls(*args, device=final_device, **kwargs)
    finally:
        set_rng_state(state)
    return module.to_empty(device=final_device)
