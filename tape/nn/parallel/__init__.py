"""``tape.nn.parallel``: PyTorch's ``torch.nn.parallel`` on a machine without accelerators.

``DataParallel`` replicates a module over GPUs; without any (always, for tape) PyTorch keeps the
module as it is and its forward calls the module, which is what this one does.  The functional
``data_parallel`` needs a device type and raises PyTorch's error without one.  The GPU helpers
(``replicate``, ``scatter``, ``gather``, ``parallel_apply``) and ``DistributedDataParallel``
are not provided.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Union

from ..._device import device as _device
from ...autograd.profiler import record_function
from ..modules.module import Module

__all__ = ["DataParallel", "data_parallel"]


class DataParallel(Module):
    r"""Implements data parallelism at the module level: splits the input across the given GPUs,
    runs a replica of ``module`` on each, and gathers the outputs on ``output_device``.

    With no GPU available (tape runs on the CPU only), the module is kept as it is,
    ``device_ids`` is empty and ``forward`` calls ``module`` with the inputs unchanged.

    Args:
        module (Module): module to be parallelized
        device_ids (list of int or torch.device): CUDA devices (default: all devices)
        output_device (int or torch.device): device location of output (default: device_ids[0])
        dim (int): the dimension the inputs are split along (default: 0)
    """

    def __init__(self, module: Module, device_ids: Optional[Sequence[Union[int, _device]]] = None,
                 output_device: Optional[Union[int, _device]] = None, dim: int = 0) -> None:
        super().__init__()
        self.module = module
        self.device_ids: list = []

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        with record_function("DataParallel.forward"):
            return self.module(*inputs, **kwargs)


def data_parallel(module: Module, inputs: Any, device_ids: Optional[Sequence[Union[int, _device]]] = None,
                  output_device: Optional[Union[int, _device]] = None, dim: int = 0,
                  module_kwargs: Optional[Any] = None) -> Any:
    r"""Evaluate ``module(input)`` in parallel across the GPUs given in ``device_ids``: the
    functional version of :class:`DataParallel`.  It needs a device type (an accelerator): without
    one it raises PyTorch's error."""
    raise RuntimeError("device type could not be determined")
