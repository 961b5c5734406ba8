"""HIPS autograd: tracing reverse mode over numpy, split with make_vjp."""
from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd import hessian, make_vjp, value_and_grad

from bench import workloads
from bench.peers import Stepper, dist_version
from bench.workloads import Check, MlpData, Run, timed_run


def info() -> dict[str, Any]:
    """Version; autograd has no threads of its own."""
    return {"version": dist_version("autograd"), "threads": None}


def scalar_chain(n_ops: int) -> Run:
    """Forward = make_vjp (evaluates and traces); backward = the vjp call."""

    def f(leaves: tuple[float, ...]) -> Any:
        return workloads.scalar_chain(*leaves, sin=anp.sin, exp=anp.exp, n_ops=n_ops)

    t0 = perf_counter()
    vjp, y = make_vjp(f)(tuple(workloads.SCALAR_LEAVES))
    t1 = perf_counter()
    grads = vjp(1.0)
    t2 = perf_counter()
    return timed_run(t1 - t0, t2 - t1, Check(float(y), [float(g) for g in grads]))


def scalar_evals(points: np.ndarray) -> Run:
    """``value_and_grad`` at each point (it traces the function anew at each call)."""
    vg = value_and_grad(lambda x: workloads.scalar_fn(x, anp.sin, anp.exp))
    values, grads = [], []
    t0 = perf_counter()
    for p in points:
        v, g = vg(float(p))
        values.append(float(v))
        grads.append(float(g))
    elapsed = perf_counter() - t0
    return Run(None, elapsed, elapsed, workloads.evals_check(values, grads))


def mlp_step(data: MlpData, act: Callable[[Any], Any] = anp.tanh) -> Stepper:
    """Gradients for the tuple of all six parameters per step."""

    def loss_fn(params: tuple[np.ndarray, ...]) -> Any:
        return workloads.mlp_loss(params, data.x, data.t, act)

    return _vjp_stepper(loss_fn, tuple(data.params))


def large_mlp_step(data: MlpData) -> Stepper:
    """mlp_step with relu (anp.maximum(z, 0))."""
    return mlp_step(data, lambda z: anp.maximum(z, 0))


def large_elementwise(x0: np.ndarray) -> Stepper:
    """Gradient for the one input per step."""
    return _vjp_stepper(lambda xs: workloads.elementwise_loss(xs[0], anp.sin, anp.exp, anp.sqrt), (x0,))


def _vjp_stepper(loss_fn: Callable[[tuple[Any, ...]], Any], params: tuple[Any, ...]) -> Stepper:
    """Steps timing make_vjp (forward) and the vjp call (backward) of ``loss_fn``."""

    def run(steps: int) -> Run:
        fwd = bwd = 0.0
        for _ in range(steps):
            t0 = perf_counter()
            vjp, loss = make_vjp(loss_fn)(params)
            t1 = perf_counter()
            grads = vjp(np.float32(1.0))
            t2 = perf_counter()
            fwd += t1 - t0
            bwd += t2 - t1
        check = Check(float(loss), [float(np.abs(g).sum()) for g in grads])
        return timed_run(fwd / steps, bwd / steps, check)

    return run


def grad_penalty_step(data: MlpData) -> Stepper:
    """Forward = make_vjp of the penalized loss (its inner value_and_grad traced, so nested boxes);
    backward = the vjp call."""

    def mse(params: tuple[Any, ...]) -> Any:
        return workloads.mlp_loss(params, data.x, data.t, anp.tanh)

    def penalized(params: tuple[Any, ...]) -> Any:
        value, grads = value_and_grad(mse)(params)
        return workloads.grad_penalty(value, grads)

    return _vjp_stepper(penalized, tuple(data.params))


def hessian_rosenbrock(x0: np.ndarray) -> Callable[[], Run]:
    """autograd.hessian: the Jacobian of the gradient, one reverse pass per row."""
    hess = hessian(workloads.rosenbrock)

    def run() -> Run:
        t0 = perf_counter()
        h = hess(x0)
        total = perf_counter() - t0
        return Run(None, None, total, workloads.hessian_check(h, x0))

    return run
