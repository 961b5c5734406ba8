"""``tape.autograd.grad_mode``: the grad-mode context managers, under the module name PyTorch uses."""
from __future__ import annotations

from typing import Union

from .._grad_mode import inference_mode, enable_grad, no_grad, set_grad_enabled, set_multithreading_enabled
from .._state import preserved_versions
from .._tensor import Tensor

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "set_multithreading_enabled"]


class _unsafe_preserve_version_counter:
    r"""DO NOT USE THIS UNLESS YOU KNOW EXACTLY WHAT YOU'RE DOING.

    Hide the in-place changes made inside the context to ``tensors`` (a tensor or a tuple of
    them) from autograd: their ``_version`` is what it was at the start when the context exits,
    and a backward does not raise for them.  The recorded rows that saved their values before
    the change go on using the values they saved (PyTorch's use the changed tensors): meant for
    a tensor whose memory is freed and filled again with the same values.
    """

    def __init__(self, tensors: Union[Tensor, tuple]) -> None:
        self.tensors = (tensors,) if isinstance(tensors, Tensor) else tensors
        if not isinstance(self.tensors, tuple):
            raise AssertionError("Expected tensors to be a tuple")
        self.prev_versions = tuple(t._version for t in self.tensors)
        self._counters = [t._shared_version() for t in self.tensors]

    def __enter__(self) -> None:
        preserved_versions.extend(self._counters)

    def __exit__(self, *args) -> None:
        for counter, version in zip(self._counters, self.prev_versions):
            del preserved_versions[next(i for i, c in enumerate(preserved_versions) if c is counter)]
            counter[0] = version
