"""CasADi: symbolic SX graphs; scalar chains and the Rosenbrock Hessian (an MLP step is not its use case)."""
from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

import casadi
import numpy as np

from bench import workloads
from bench.workloads import Check, Run, timed_run

NOTES = {
    "scalar_chain": "fwd = build SX graph + Function + numeric eval; "
    "bwd = casadi.gradient (symbolic reverse mode) + Function + numeric eval",
    "scalar_evals": "fwd = build the SX graph, casadi.gradient and one Function of both; bwd = its 200 calls",
    "hessian_rosenbrock": "casadi.hessian of an SX graph, built once into a Function (not timed); each call "
    "evaluates it (dense output)",
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


def scalar_evals(points: np.ndarray) -> Run:
    """The graph and its gradient built once (fwd), then one Function call per point (bwd)."""
    t0 = perf_counter()
    x = casadi.SX.sym("x")
    y = workloads.scalar_fn(x, casadi.sin, casadi.exp)
    f = casadi.Function("f", [x], [y, casadi.gradient(y, x)])
    t1 = perf_counter()
    values, grads = [], []
    for p in points:
        v, g = f(float(p))
        values.append(float(v))
        grads.append(float(g))
    return timed_run(t1 - t0, perf_counter() - t1, workloads.evals_check(values, grads))


def hessian_rosenbrock(x0: np.ndarray) -> Callable[[], Run]:
    """The Hessian's SX graph and Function built once; each call evaluates it (steady state)."""
    x = casadi.SX.sym("x", len(x0))
    y = casadi.sum1(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    hess = casadi.Function("h", [x], [casadi.densify(casadi.hessian(y, x)[0])])

    def run() -> Run:
        t0 = perf_counter()
        h = np.asarray(hess(x0))
        total = perf_counter() - t0
        return Run(None, None, total, workloads.hessian_check(h, x0))

    return run
