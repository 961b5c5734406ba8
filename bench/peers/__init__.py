"""One adapter module per peer library, each importing its library at the top.

An adapter exposes info() and, per workload it supports, a function of the same
name: scalar_chain(n_ops) -> Run, and mlp_step(data) -> Stepper, where
stepper(steps) runs that many training steps and returns per-step times.
A module-level NOTES dict may explain what a peer measures for a workload.
"""
from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from bench.workloads import Run

# Report order; tape first since every ratio is taken against it.
PEERS = ("tape", "numpy", "torch", "jax", "autograd", "casadi")

Stepper = Callable[[int], Run]


def dist_version(dist: str) -> str:
    """Installed version of a distribution, or 'unknown'."""
    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"
