"""Adapter body shared by tape and torch: the same PyTorch API drives both."""
from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable
from time import perf_counter
from types import ModuleType
from typing import Any

import numpy as np

from bench import workloads
from bench.peers import Stepper
from bench.workloads import ChainData, Check, MlpData, Run, XentData, timed_run


def info(lib: ModuleType) -> dict[str, Any]:
    """Version and intra-op thread count (left at the library default)."""
    threads = lib.get_num_threads() if hasattr(lib, "get_num_threads") else None
    return {"version": getattr(lib, "__version__", "unknown"), "threads": threads}


def anomaly(lib: ModuleType, variant: str | None):
    """The context a run is measured in: anomaly detection for variant 'anomaly', else none."""
    if variant is None:
        return contextlib.nullcontext()
    if variant != "anomaly":
        raise ValueError(f"unknown variant {variant!r}")
    return lib.autograd.set_detect_anomaly(True)


def scalar_run(lib: ModuleType, n_ops: int, variant: str | None = None) -> Run:
    """Build the chain eagerly from fresh leaves, then backward()."""
    leaves = [lib.tensor(v, dtype=lib.float64, requires_grad=True) for v in workloads.SCALAR_LEAVES]
    with anomaly(lib, variant):
        t0 = perf_counter()
        y = workloads.scalar_chain(*leaves, sin=lib.sin, exp=lib.exp, n_ops=n_ops)
        t1 = perf_counter()
        y.backward()
        t2 = perf_counter()
    return timed_run(t1 - t0, t2 - t1, Check(y.item(), [leaf.grad.item() for leaf in leaves]))


def scalar_evals(lib: ModuleType, points) -> Run:
    """Each point: a fresh leaf, the function recorded eagerly, ``autograd.grad``."""
    values, grads = [], []
    t0 = perf_counter()
    for p in points:
        x = lib.tensor(float(p), dtype=lib.float64, requires_grad=True)
        y = workloads.scalar_fn(x, lib.sin, lib.exp)
        (g,) = lib.autograd.grad(y, x)
        values.append(y.item())
        grads.append(g.item())
    elapsed = perf_counter() - t0
    return Run(None, elapsed, elapsed, workloads.evals_check(values, grads))


def _mlp_tensors(lib: ModuleType, data: MlpData) -> tuple[list[Any], Any, Any]:
    """Leaf parameters, inputs and targets built from the shared numpy data (via lists: plain PyTorch API)."""
    params = [lib.tensor(p.tolist(), dtype=lib.float32, requires_grad=True) for p in data.params]
    x = lib.tensor(data.x.tolist(), dtype=lib.float32)
    t = lib.tensor(data.t.tolist(), dtype=lib.float32)
    return params, x, t


def _backward_stepper(params: list[Any], build_loss: Callable[[], Any], context=contextlib.nullcontext) -> Stepper:
    """Steps timing ``build_loss()`` (forward) and ``loss.backward()`` (backward), inside ``context()``."""

    def run(steps: int) -> Run:
        with context():
            return steps_run(steps)

    def steps_run(steps: int) -> Run:
        fwd = bwd = 0.0
        for _ in range(steps):
            for p in params:
                p.grad = None
            t0 = perf_counter()
            loss = build_loss()
            t1 = perf_counter()
            loss.backward()
            t2 = perf_counter()
            fwd += t1 - t0
            bwd += t2 - t1
        grads = [p.grad.abs().sum().item() for p in params]
        return timed_run(fwd / steps, bwd / steps, Check(loss.item(), grads))

    return run


def mlp_stepper(lib: ModuleType, data: MlpData, act: Callable[[Any], Any], variant: str | None = None) -> Stepper:
    """Eager forward, then backward(), per step (in anomaly mode for variant 'anomaly')."""
    params, x, t = _mlp_tensors(lib, data)
    return _backward_stepper(params, lambda: workloads.mlp_loss(params, x, t, act), lambda: anomaly(lib, variant))


def elementwise_stepper(lib: ModuleType, x0: np.ndarray) -> Stepper:
    """Eager forward, then backward() to the one leaf, per step."""
    x = lib.tensor(x0.tolist(), dtype=lib.float32, requires_grad=True)
    return _backward_stepper([x], lambda: workloads.elementwise_loss(x, lib.sin, lib.exp, lib.sqrt))


def new_ops_stepper(lib: ModuleType, x0: np.ndarray) -> Stepper:
    """Eager forward of the 1e6-element function of the catalogue's ops, then backward()."""
    x = lib.tensor(x0.tolist(), dtype=lib.float32, requires_grad=True)
    return _backward_stepper([x], lambda: workloads.new_ops_loss(x, lib.erf, lib.log1p, lib.atan, lib.where))


def xent_stepper(lib: ModuleType, data: XentData) -> Stepper:
    """Eager forward (log_softmax, gather, mean), then backward() to the logits, per step."""
    logits = lib.tensor(data.logits.tolist(), dtype=lib.float32, requires_grad=True)
    targets = lib.tensor(data.targets.tolist(), dtype=lib.int64)
    return _backward_stepper([logits], lambda: workloads.xent_loss(logits, targets))


def penalty_stepper(lib: ModuleType, data: MlpData) -> Stepper:
    """fwd = loss, autograd.grad(create_graph=True) and the penalty; bwd = loss.backward() (double backward)."""
    params, x, t = _mlp_tensors(lib, data)

    def build_loss() -> Any:
        mse = workloads.mlp_loss(params, x, t, lib.tanh)
        return workloads.grad_penalty(mse, lib.autograd.grad(mse, params, create_graph=True))

    return _backward_stepper(params, build_loss)


def hessian_runner(lib: ModuleType, x0: np.ndarray, **options: Any) -> Callable[[], Run]:
    """One full Hessian per call through lib.autograd.functional.hessian (imported here, so a
    library without it gives an error row rather than failing the whole adapter)."""
    functional = importlib.import_module(f"{lib.__name__}.autograd.functional")
    x = lib.tensor(x0.tolist(), dtype=lib.float64)

    def run() -> Run:
        t0 = perf_counter()
        h = functional.hessian(workloads.rosenbrock, x, **options)
        total = perf_counter() - t0
        return Run(None, None, total, workloads.hessian_check(np.array(h.tolist()), x0))

    return run


def chain_stepper(lib: ModuleType, data: ChainData, segment: int | None,
                  held_bytes: Callable[[Callable[[], Any], list[Any]], int]) -> Stepper:
    """The tanh chain, plain (``segment`` None) or checkpointed every ``segment`` layers; after the
    timed steps, ``held_bytes(build_loss, excluded)`` measures one more forward."""
    weights = [lib.from_numpy(w.copy()).requires_grad_() for w in data.weights]
    x = lib.from_numpy(data.x.copy())
    layers = len(weights)

    def build_loss() -> Any:
        if segment is None:
            return workloads.tanh_chain(x, weights, 0, layers).sum()
        h = x
        for lo in range(0, layers, segment):
            h = lib.utils.checkpoint.checkpoint(workloads.tanh_chain, h, weights, lo, lo + segment,
                                                use_reentrant=False)
        return h.sum()

    steps = _backward_stepper(weights, build_loss)

    def run(n: int) -> Run:
        result = steps(n)
        result.held_bytes = held_bytes(build_loss, [x, *weights])
        return result

    return run
