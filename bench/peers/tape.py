"""tape, the library under test, driven through its PyTorch-compatible API."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import tape
from bench import workloads
from bench.peers import Stepper, _torchlike
from bench.workloads import MlpData, Run, XentData


def info() -> dict[str, Any]:
    """Version and thread count."""
    return _torchlike.info(tape)


def scalar_chain(n_ops: int, variant: str | None = None) -> Run:
    """Eager chain of 0-d float64 tensors, then backward() (variant 'anomaly': in anomaly mode)."""
    return _torchlike.scalar_run(tape, n_ops, variant)


def mlp_step(data: MlpData, variant: str | None = None) -> Stepper:
    """Eager forward + backward per step (variant 'anomaly': in anomaly mode)."""
    return _torchlike.mlp_stepper(tape, data, tape.tanh, variant)


def function_mlp_step(data: MlpData) -> Stepper:
    """mlp_step with tanh as a custom autograd.Function."""
    return _torchlike.mlp_stepper(tape, data, workloads.function_tanh(tape))


def large_mlp_step(data: MlpData) -> Stepper:
    """Eager forward + backward per step."""
    return _torchlike.mlp_stepper(tape, data, tape.relu)


def large_elementwise(x0: np.ndarray) -> Stepper:
    """Eager forward of the 1e6-element function, then backward()."""
    return _torchlike.elementwise_stepper(tape, x0)


def new_ops_1e6(x0: np.ndarray) -> Stepper:
    """Eager forward of erf, log1p, atan and where over 1e6 elements, then backward()."""
    return _torchlike.new_ops_stepper(tape, x0)


def softmax_xent(data: XentData) -> Stepper:
    """Eager log_softmax, gather and mean, then backward()."""
    return _torchlike.xent_stepper(tape, data)


def grad_penalty_step(data: MlpData) -> Stepper:
    """Forward, autograd.grad(create_graph=True), penalty, then backward() through it all."""
    return _torchlike.penalty_stepper(tape, data)


def hessian_rosenbrock(x0: np.ndarray) -> Callable[[], Run]:
    """tape.autograd.functional.hessian of the vector-op Rosenbrock function."""
    return _torchlike.hessian_runner(tape, x0)
