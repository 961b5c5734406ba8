"""numpy forward pass only, no differentiation: the floor any AD library pays on top of."""
from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

import numpy as np

from bench import workloads
from bench.peers import Stepper
from bench.workloads import Check, MlpData, Run, timed_run

NOTES = {
    "hessian_rosenbrock": "the analytic (tridiagonal) Hessian written out by hand into a dense matrix",
    "grad_penalty_step": "value only: forward plus hand-written first-order backprop for the penalty, "
    "no gradients of the penalized loss",
}


def info() -> dict[str, Any]:
    """Version; numpy's BLAS threads are not queried."""
    return {"version": np.__version__, "threads": None}


def scalar_chain(n_ops: int) -> Run:
    """The chain on np.float64 scalars."""
    leaves = [np.float64(v) for v in workloads.SCALAR_LEAVES]
    t0 = perf_counter()
    y = workloads.scalar_chain(*leaves, sin=np.sin, exp=np.exp, n_ops=n_ops)
    t1 = perf_counter()
    return timed_run(t1 - t0, None, Check(float(y)))


def mlp_step(data: MlpData) -> Stepper:
    """Forward loss only."""

    def run(steps: int) -> Run:
        fwd = 0.0
        for _ in range(steps):
            t0 = perf_counter()
            loss = workloads.mlp_loss(data.params, data.x, data.t, np.tanh)
            fwd += perf_counter() - t0
        return timed_run(fwd / steps, None, Check(float(loss)))

    return run


def grad_penalty_step(data: MlpData) -> Stepper:
    """The penalized loss: forward, then the parameter gradients of the MSE by hand."""
    x, t = data.x, data.t
    w1, b1, w2, b2, w3, b3 = data.params

    def run(steps: int) -> Run:
        fwd = 0.0
        for _ in range(steps):
            t0 = perf_counter()
            h1 = np.tanh(x @ w1 + b1)
            h2 = np.tanh(h1 @ w2 + b2)
            r = h2 @ w3 + b3 - t
            mse = (r ** 2).mean()
            dy = (2 / r.size) * r
            dz2 = (dy @ w3.T) * (1 - h2 ** 2)
            dz1 = (dz2 @ w2.T) * (1 - h1 ** 2)
            grads = [x.T @ dz1, dz1.sum(0), h1.T @ dz2, dz2.sum(0), h2.T @ dy, dy.sum(0)]
            loss = workloads.grad_penalty(mse, grads)
            fwd += perf_counter() - t0
        return timed_run(fwd / steps, None, Check(float(loss)))

    return run


def hessian_rosenbrock(x0: np.ndarray) -> Callable[[], Run]:
    """The analytic Hessian: the floor no AD library can beat."""

    def run() -> Run:
        t0 = perf_counter()
        h = workloads.rosenbrock_hessian(x0)
        total = perf_counter() - t0
        return Run(None, None, total, workloads.hessian_check(h, x0))

    return run
