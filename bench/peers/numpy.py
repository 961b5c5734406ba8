"""numpy forward pass only, no differentiation: the floor any AD library pays on top of."""
from __future__ import annotations

from time import perf_counter
from typing import Any

import numpy as np

from bench import workloads
from bench.peers import Stepper
from bench.workloads import Check, MlpData, Run, timed_run


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
