"""PyTorch eager on CPU, the API tape copies."""
from __future__ import annotations

from typing import Any

import torch

from bench.peers import Stepper, _torchlike
from bench.workloads import MlpData, Run


def info() -> dict[str, Any]:
    """Version and thread count."""
    return _torchlike.info(torch)


def scalar_chain(n_ops: int) -> Run:
    """Eager chain of 0-d float64 tensors, then backward()."""
    return _torchlike.scalar_run(torch, n_ops)


def mlp_step(data: MlpData) -> Stepper:
    """Eager forward + backward per step."""
    return _torchlike.mlp_stepper(torch, data)
