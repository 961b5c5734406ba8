"""One adapter module per peer library, each importing its library at the top.

An adapter exposes info() and, per workload it supports, a function of the same
name: scalar_chain(n_ops) -> Run, mlp_step(data), large_mlp_step(data),
grad_penalty_step(data) and large_elementwise(x) -> Stepper, where stepper(steps)
runs that many steps and returns per-step times, and hessian_rosenbrock(x0) -> a
callable that computes one Hessian per call and returns its Run.
A module-level NOTES dict may explain what a peer measures for a workload.
A workload function listed in VARIANTS also takes variant=NAME: each variant is
one more row in the report, labelled "LIB NAME", run in its own subprocess.
"""
from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from bench.workloads import Run

# Report order; tape first since every ratio is taken against it.
PEERS = ("tape", "numpy", "torch", "jax", "autograd", "casadi")

Stepper = Callable[[int], Run]

# (library, workload) -> variants measured besides the library's default row.
VARIANTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("torch", "hessian_rosenbrock"): ("vectorize",),
    ("jax", "hessian_rosenbrock"): ("eager",),
    ("jax", "grad_penalty_step"): ("eager",),
    ("tape", "scalar_chain"): ("anomaly",),
    ("tape", "scalar_evals"): ("trace", "trace guarded"),
    ("tape", "per_sample_grads"): ("trace-1-thread", "trace-2-threads"),
    ("tape", "hessian_rosenbrock"): ("trace", "trace record"),
    ("tape", "mlp_step"): ("anomaly",),
    ("torch", "scalar_chain"): ("anomaly",),
    ("torch", "mlp_step"): ("anomaly",),
    ("tape", "checkpoint_chain"): ("checkpoint",),
    ("torch", "checkpoint_chain"): ("checkpoint",),
}


def rows(lib: str, workload: str) -> list[tuple[str, str | None]]:
    """(row label, variant) for every row `lib` gets in `workload`'s table."""
    return [(lib, None)] + [(f"{lib} {v}", v) for v in VARIANTS.get((lib, workload), ())]


def dist_version(dist: str) -> str:
    """Installed version of a distribution, or 'unknown'."""
    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"
