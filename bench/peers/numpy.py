"""numpy, no differentiation: the floor any AD library pays on top of.

The forward pass only, except for the large workloads, where the gradient is
written out by hand as well: there the floor is numpy's time for the same
arithmetic an AD library has to do.
"""
from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

import numpy as np

from bench import workloads
from bench.peers import Stepper
from bench.workloads import Check, MlpData, Run, XentData, timed_run

NOTES = {
    "hessian_rosenbrock": "the analytic (tridiagonal) Hessian written out by hand into a dense matrix",
    "grad_penalty_step": "value only: forward plus hand-written first-order backprop for the penalty, "
    "no gradients of the penalized loss",
    "large_elementwise": "forward, then the analytic gradient written by hand",
    "large_mlp_step": "forward, then backprop written by hand",
    "softmax_xent": "forward, then the gradient (softmax - onehot) / batch written by hand",
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


def large_mlp_step(data: MlpData) -> Stepper:
    """Forward (relu MLP, MSE), then the six parameter gradients by backprop."""
    x, t = data.x, data.t
    w1, b1, w2, b2, w3, b3 = data.params

    def run(steps: int) -> Run:
        fwd = bwd = 0.0
        for _ in range(steps):
            t0 = perf_counter()
            z1 = x @ w1 + b1
            h1 = np.maximum(z1, 0)
            z2 = h1 @ w2 + b2
            h2 = np.maximum(z2, 0)
            r = h2 @ w3 + b3 - t
            loss = (r ** 2).mean()
            t1 = perf_counter()
            dy = (2 / r.size) * r
            dz2 = (dy @ w3.T) * (z2 > 0)
            dz1 = (dz2 @ w2.T) * (z1 > 0)
            grads = [x.T @ dz1, dz1.sum(0), h1.T @ dz2, dz2.sum(0), h2.T @ dy, dy.sum(0)]
            t2 = perf_counter()
            fwd += t1 - t0
            bwd += t2 - t1
        check = Check(float(loss), [float(np.abs(g).sum()) for g in grads])
        return timed_run(fwd / steps, bwd / steps, check)

    return run


def large_elementwise(x: np.ndarray) -> Stepper:
    """Forward keeping what the gradient needs, then cos(x) e - 2x sin(x) e + x / sqrt(x*x + 1)."""

    def run(steps: int) -> Run:
        fwd = bwd = 0.0
        for _ in range(steps):
            t0 = perf_counter()
            s, e, r = np.sin(x), np.exp(-x * x), np.sqrt(x * x + 1)
            loss = (s * e + r).sum()
            t1 = perf_counter()
            grad = (np.cos(x) - 2 * x * s) * e + x / r
            t2 = perf_counter()
            fwd += t1 - t0
            bwd += t2 - t1
        return timed_run(fwd / steps, bwd / steps, Check(float(loss), [float(np.abs(grad).sum())]))

    return run


def softmax_xent(data: XentData) -> Stepper:
    """Forward (a stable log_softmax, the targets' entries, their mean), then the gradient by hand:
    (softmax(z) - onehot(t)) / batch."""
    z, t = data.logits, data.targets
    rows = np.arange(z.shape[0])[:, None]

    def run(steps: int) -> Run:
        fwd = bwd = 0.0
        for _ in range(steps):
            t0 = perf_counter()
            shifted = z - z.max(1, keepdims=True)
            e = np.exp(shifted)
            s = e.sum(1, keepdims=True)
            logp = shifted - np.log(s)
            loss = -logp[rows, t].mean()
            t1 = perf_counter()
            grad = e / s
            grad[rows, t] -= 1
            grad /= z.shape[0]
            t2 = perf_counter()
            fwd += t1 - t0
            bwd += t2 - t1
        return timed_run(fwd / steps, bwd / steps, Check(float(loss), [float(np.abs(grad).sum())]))

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
