"""JAX: eager jax.vjp for the scalar chain, jit(...) for the rest (plus eager variants)."""
from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

import jax
import numpy as np

# The chain is float64; JAX silently downcasts to float32 unless told before arrays exist.
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402 - must follow the x64 switch
import jax.scipy.special as jsp  # noqa: E402

from bench import workloads  # noqa: E402
from bench.peers import Stepper  # noqa: E402
from bench.workloads import Check, MlpData, Run, timed_run  # noqa: E402

NOTES = {
    "scalar_chain": "jax.vjp without jit: compiling a 10k-op unrolled loop costs far more than it saves",
    "mlp_step": "jit(value_and_grad), so fwd and bwd are not separable; compile is in 'first call'",
    "scalar_evals": "fwd = tracing and compiling jit(value_and_grad) of a new function (each run), bwd = 200 calls",
    "hessian_rosenbrock": "jit(jax.hessian) (forward-over-reverse); 'jax eager' is jax.hessian without jit",
    "grad_penalty_step": "jit(value_and_grad) of the penalized loss (inner jax.value_and_grad); "
    "'jax eager' without jit",
    "large_elementwise": "jit(value_and_grad), so fwd and bwd are not separable",
    "new_ops_1e6": "jit(value_and_grad), so fwd and bwd are not separable",
    "large_mlp_step": "jit(value_and_grad), so fwd and bwd are not separable",
    "per_sample_grads": "fwd = tracing and compiling jit(vmap(grad)), bwd = the batch",
}


def info() -> dict[str, Any]:
    """Version; XLA picks its own threads."""
    return {"version": jax.__version__, "threads": None}


def scalar_chain(n_ops: int) -> Run:
    """Forward = jax.vjp (runs the ops, records the linearization); backward = the vjp call."""
    leaves = [jnp.asarray(v, dtype=jnp.float64) for v in workloads.SCALAR_LEAVES]

    def f(*xs: Any) -> Any:
        return workloads.scalar_chain(*xs, sin=jnp.sin, exp=jnp.exp, n_ops=n_ops)

    t0 = perf_counter()
    y, vjp = jax.vjp(f, *leaves)
    y.block_until_ready()
    t1 = perf_counter()
    grads = jax.block_until_ready(vjp(jnp.ones_like(y)))
    t2 = perf_counter()
    return timed_run(t1 - t0, t2 - t1, Check(float(y), [float(g) for g in grads]))


def scalar_evals(points: np.ndarray) -> Run:
    """``jax.jit(jax.value_and_grad(f))`` of a new function, compiled for the first point (fwd), then
    called at each point (bwd)."""
    xs = [jnp.asarray(p, dtype=jnp.float64) for p in points]
    t0 = perf_counter()
    compiled = jax.jit(jax.value_and_grad(lambda x: workloads.scalar_fn(x, jnp.sin, jnp.exp))).lower(xs[0]).compile()
    t1 = perf_counter()
    values, grads = [], []
    for x in xs:
        v, g = compiled(x)
        values.append(float(v))
        grads.append(float(g))
    return timed_run(t1 - t0, perf_counter() - t1, workloads.evals_check(values, grads))


def per_sample_grads(w0: np.ndarray, xs: np.ndarray) -> Run:
    """``jax.jit(jax.vmap(jax.grad(loss), in_axes=(None, 0)))``, compiled (fwd), then run on the batch (bwd)."""
    w, X = jnp.asarray(w0), jnp.asarray(xs)
    t0 = perf_counter()
    compiled = jax.jit(jax.vmap(jax.grad(lambda w, x: workloads.psg_loss(w, x, jnp.tanh, jnp.sin)),
                                in_axes=(None, 0))).lower(w, X).compile()
    t1 = perf_counter()
    grads = np.asarray(jax.block_until_ready(compiled(w, X)))
    return timed_run(t1 - t0, perf_counter() - t1, workloads.psg_check(grads))


def _value_and_grad_stepper(step: Callable[[Any], Any], params: list[Any]) -> Stepper:
    """Steps of one (value, grads) call each, blocking each step as a training loop would."""

    def run(steps: int) -> Run:
        t0 = perf_counter()
        for _ in range(steps):
            loss, grads = jax.block_until_ready(step(params))
        total = (perf_counter() - t0) / steps
        check = Check(float(loss), [float(jnp.abs(g).sum()) for g in grads])
        return Run(None, None, total, check)

    return run


def mlp_step(data: MlpData, act: Callable[[Any], Any] = jnp.tanh) -> Stepper:
    """One jitted call per step; blocking each step as a training loop would."""
    params = [jnp.asarray(p) for p in data.params]
    x, t = jnp.asarray(data.x), jnp.asarray(data.t)
    step = jax.jit(jax.value_and_grad(lambda ps: workloads.mlp_loss(ps, x, t, act)))

    return _value_and_grad_stepper(step, params)


def large_mlp_step(data: MlpData) -> Stepper:
    """mlp_step with relu."""
    return mlp_step(data, jax.nn.relu)


def large_elementwise(x0: np.ndarray) -> Stepper:
    """One jitted value_and_grad call per step."""
    step = jax.jit(jax.value_and_grad(lambda ps: workloads.elementwise_loss(ps[0], jnp.sin, jnp.exp, jnp.sqrt)))
    return _value_and_grad_stepper(step, [jnp.asarray(x0)])


def new_ops_1e6(x0: np.ndarray) -> Stepper:
    """One jitted value_and_grad call per step."""
    step = jax.jit(jax.value_and_grad(lambda ps: workloads.new_ops_loss(ps[0], jsp.erf, jnp.log1p, jnp.arctan,
                                                                        jnp.where)))
    return _value_and_grad_stepper(step, [jnp.asarray(x0)])


def grad_penalty_step(data: MlpData, variant: str | None = None) -> Stepper:
    """value_and_grad of mse + penalty(jax.grad of mse); jitted unless variant is 'eager'."""
    params = [jnp.asarray(p) for p in data.params]
    x, t = jnp.asarray(data.x), jnp.asarray(data.t)
    mse_and_grad = jax.value_and_grad(lambda ps: workloads.mlp_loss(ps, x, t, jnp.tanh))

    def penalized(ps: list[Any]) -> Any:
        return workloads.grad_penalty(*mse_and_grad(ps))

    step = jax.value_and_grad(penalized)
    if variant != "eager":
        step = jax.jit(step)

    return _value_and_grad_stepper(step, params)


def hessian_rosenbrock(x0: np.ndarray, variant: str | None = None) -> Callable[[], Run]:
    """jax.hessian (jacfwd of jacrev), jitted unless variant is 'eager'."""
    x = jnp.asarray(x0, dtype=jnp.float64)
    hess = jax.hessian(workloads.rosenbrock)
    if variant != "eager":
        hess = jax.jit(hess)

    def run() -> Run:
        t0 = perf_counter()
        h = jax.block_until_ready(hess(x))
        total = perf_counter() - t0
        return Run(None, None, total, workloads.hessian_check(np.asarray(h), x0))

    return run
