"""CasADi: symbolic SX graphs; scalar_chain only (an MLP step is not its use case)."""
from __future__ import annotations

from time import perf_counter
from typing import Any

import casadi
import numpy as np

from bench import workloads
from bench.workloads import Check, Run, timed_run

NOTES = {
    "scalar_chain": "fwd = build SX graph + Function + numeric eval; "
    "bwd = casadi.gradient (symbolic reverse mode) + Function + numeric eval",
}


def info() -> dict[str, Any]:
    """Version; evaluation is single-threaded."""
    return {"version": casadi.__version__, "threads": None}


def scalar_chain(n_ops: int) -> Run:
    """CasADi has no eager mode: building the graph and its gradient graph is the AD work.

    So both phases include graph construction and wrapping in a Function, not just
    evaluation; timing only the compiled evaluation would hide most of the cost.
    """
    t0 = perf_counter()
    syms = [casadi.SX.sym(name) for name in "xabc"]
    y = workloads.scalar_chain(*syms, sin=casadi.sin, exp=casadi.exp, n_ops=n_ops)
    value = float(casadi.Function("f", syms, [y])(*workloads.SCALAR_LEAVES))
    t1 = perf_counter()
    grad = casadi.gradient(y, casadi.vertcat(*syms))
    grads = casadi.Function("g", syms, [grad])(*workloads.SCALAR_LEAVES)
    t2 = perf_counter()
    return timed_run(t1 - t0, t2 - t1, Check(value, np.asarray(grads).ravel().tolist()))
