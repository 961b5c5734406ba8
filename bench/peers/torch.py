"""PyTorch eager on CPU, the API tape copies."""
from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

import numpy as np
import torch
import torch.utils.checkpoint

from bench import workloads
from bench.peers import Stepper, _torchlike
from bench.workloads import CHAIN_SEGMENT, ChainData, MlpData, Run, XentData

NOTES = {
    "hessian_rosenbrock": "torch.autograd.functional.hessian; 'torch vectorize' passes vectorize=True (vmap)",
}


def info() -> dict[str, Any]:
    """Version and thread count."""
    return _torchlike.info(torch)


def scalar_chain(n_ops: int, variant: str | None = None) -> Run:
    """Eager chain of 0-d float64 tensors, then backward() (variant 'anomaly': in anomaly mode)."""
    return _torchlike.scalar_run(torch, n_ops, variant)


def scalar_evals(points: np.ndarray) -> Run:
    """Eager recording and ``autograd.grad`` at each point."""
    return _torchlike.scalar_evals(torch, points)


def per_sample_grads(w0: np.ndarray, xs: np.ndarray) -> Run:
    """``torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0))`` over the batch."""
    w, X = torch.tensor(w0), torch.tensor(xs)
    grad = torch.func.vmap(torch.func.grad(lambda w, x: workloads.psg_loss(w, x, torch.tanh, torch.sin)),
                           in_dims=(None, 0))
    t0 = perf_counter()
    grads = grad(w, X).numpy()
    elapsed = perf_counter() - t0
    return Run(None, elapsed, elapsed, workloads.psg_check(grads))


def mlp_step(data: MlpData, variant: str | None = None) -> Stepper:
    """Eager forward + backward per step (variant 'anomaly': in anomaly mode)."""
    return _torchlike.mlp_stepper(torch, data, torch.tanh, variant)


def function_mlp_step(data: MlpData) -> Stepper:
    """mlp_step with tanh as a custom autograd.Function."""
    return _torchlike.mlp_stepper(torch, data, workloads.function_tanh(torch))


def large_mlp_step(data: MlpData) -> Stepper:
    """Eager forward + backward per step."""
    return _torchlike.mlp_stepper(torch, data, torch.relu)


def large_elementwise(x0: np.ndarray) -> Stepper:
    """Eager forward of the 1e6-element function, then backward()."""
    return _torchlike.elementwise_stepper(torch, x0)


def new_ops_1e6(x0: np.ndarray) -> Stepper:
    """Eager forward of erf, log1p, atan and where over 1e6 elements, then backward()."""
    return _torchlike.new_ops_stepper(torch, x0)


def softmax_xent(data: XentData) -> Stepper:
    """Eager log_softmax, gather and mean, then backward()."""
    return _torchlike.xent_stepper(torch, data)


def grad_penalty_step(data: MlpData) -> Stepper:
    """Forward, autograd.grad(create_graph=True), penalty, then backward() through it all."""
    return _torchlike.penalty_stepper(torch, data)


def hessian_rosenbrock(x0: np.ndarray, variant: str | None = None) -> Callable[[], Run]:
    """torch.autograd.functional.hessian of the vector-op Rosenbrock function; variant 'vectorize'
    passes vectorize=True."""
    return _torchlike.hessian_runner(torch, x0, vectorize=variant == "vectorize")


def held_bytes(build_loss: Callable[[], Any], excluded: list[Any]) -> int:
    """Bytes of the distinct storages autograd saves during a new forward (seen by a saved-tensor
    pack hook; a checkpoint saves its inputs through it), the ``excluded`` tensors' aside."""
    skip = {t.untyped_storage().data_ptr() for t in excluded}
    saved = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        ptr = t.untyped_storage().data_ptr()
        if ptr not in skip:
            saved[ptr] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        build_loss()
    return sum(saved.values())


def checkpoint_chain(data: ChainData, variant: str | None = None) -> Stepper:
    """The tanh chain; variant 'checkpoint': torch.utils.checkpoint every CHAIN_SEGMENT layers."""
    return _torchlike.chain_stepper(torch, data, CHAIN_SEGMENT if variant == "checkpoint" else None, held_bytes)
