"""Measure one peer on one workload in this process; print the result as one JSON line.

Usage: python -m bench._run LIB WORKLOAD [--variant NAME] [--quick]
Run by `python -m bench` in a fresh subprocess per (library, workload) and per
variant (bench.peers.VARIANTS: a second way to run the same library, such as jax
without jit), so imports, thread pools and JIT caches of one peer never touch
another, and the first call really is the first.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import json
import statistics
import sys
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from time import perf_counter
from typing import Any

from bench import workloads
from bench.workloads import Run


@dataclass(frozen=True)
class Settings:
    """How hard to measure."""

    warmup: int  # warm runs after the first call, not measured
    repeats: int  # measured runs; the median is reported
    budget_s: float  # cap on measuring time: slow peers get fewer repeats (at least one)
    mlp_steps: int  # training steps per mlp_step run
    penalty_steps: int  # training steps per grad_penalty_step run
    large_steps: int  # steps per large_elementwise, new_ops_1e6, large_mlp_step or softmax_xent run


QUICK = Settings(warmup=1, repeats=7, budget_s=3.0, mlp_steps=50, penalty_steps=5, large_steps=3)
FULL = Settings(warmup=2, repeats=15, budget_s=30.0, mlp_steps=500, penalty_steps=100, large_steps=20)


def measure(first: Callable[[], Run], warm: Callable[[], Run], s: Settings) -> dict[str, Any]:
    """First call timed alone (JIT compiles land here), then warm-up, then median of repeats."""
    t0 = perf_counter()
    first()
    first_call_s = perf_counter() - t0
    t0 = perf_counter()
    for _ in range(s.warmup):
        warm()
    per_run = (perf_counter() - t0) / s.warmup
    repeats = max(1, min(s.repeats, int(s.budget_s / per_run)))
    runs = []
    for _ in range(repeats):
        # Collect the previous run's garbage now so it is not billed to this one;
        # gc stays enabled because collections during graph building are real cost.
        gc.collect()
        runs.append(warm())

    def median(values: list[float | None]) -> float | None:
        return None if None in values else statistics.median(values)

    return {
        "first_call_s": first_call_s,
        "repeats": repeats,
        "fwd_s": median([r.fwd_s for r in runs]),
        "bwd_s": median([r.bwd_s for r in runs]),
        "total_s": statistics.median(r.total_s for r in runs),
        "check": asdict(runs[-1].check),
        "held_bytes": runs[-1].held_bytes,
    }


def run(lib: str, workload: str, s: Settings, variant: str | None = None) -> dict[str, Any]:
    """Import the peer, then measure it; failures become a 'skipped' or 'error' entry."""
    t0 = perf_counter()
    try:
        peer = importlib.import_module(f"bench.peers.{lib}")
    except Exception as exc:  # a broken library is reported, not fatal
        return {"skipped": f"not importable ({type(exc).__name__}: {exc})"}
    result: dict[str, Any] = {"import_s": perf_counter() - t0, **peer.info()}
    if not hasattr(peer, workload):
        return {**result, "skipped": "n/a"}
    if variant is None:  # a variant row shares the note of its library's main row
        result["note"] = getattr(peer, "NOTES", {}).get(workload)
    options = {} if variant is None else {"variant": variant}
    try:
        if workload == "scalar_chain":
            chain = partial(peer.scalar_chain, workloads.SCALAR_N_OPS, **options)
            return {**result, **measure(chain, chain, s)}
        if workload == "scalar_evals":
            evals = partial(peer.scalar_evals, workloads.eval_points(), **options)
            return {**result, **measure(evals, evals, s)}
        if workload == "per_sample_grads":
            psg = partial(peer.per_sample_grads, *workloads.psg_data(), **options)
            return {**result, **measure(psg, psg, s)}
        if workload == "hessian_rosenbrock":
            hessian = peer.hessian_rosenbrock(workloads.rosen_x0(), **options)
            return {**result, **measure(hessian, hessian, s)}
        if workload in ("large_elementwise", "new_ops_1e6"):
            stepper = getattr(peer, workload)(workloads.elementwise_x(), **options)
        elif workload == "softmax_xent":
            stepper = peer.softmax_xent(workloads.xent_data(), **options)
        elif workload == "checkpoint_chain":
            stepper = peer.checkpoint_chain(workloads.chain_data(), **options)
        else:
            data = workloads.large_mlp_data() if workload == "large_mlp_step" else workloads.mlp_data()
            stepper = getattr(peer, workload)(data, **options)
        steps = {"grad_penalty_step": s.penalty_steps, "large_elementwise": s.large_steps, "new_ops_1e6": s.large_steps,
                 "large_mlp_step": s.large_steps, "softmax_xent": s.large_steps,
                 "checkpoint_chain": s.large_steps}.get(workload, s.mlp_steps)
        return {**result, **measure(partial(stepper, 1), partial(stepper, steps), s)}
    except Exception as exc:
        traceback.print_exc()
        return {**result, "error": f"{type(exc).__name__}: {exc}"}


def main(argv: list[str] | None = None) -> None:
    """Parse LIB WORKLOAD [--variant NAME] [--quick] and print the JSON result."""
    parser = argparse.ArgumentParser(prog="python -m bench._run")
    parser.add_argument("lib")
    parser.add_argument("workload", choices=sorted(workloads.WORKLOADS))
    parser.add_argument("--variant", default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.lib, args.workload, QUICK if args.quick else FULL, args.variant)
    # Libraries may print on stdout; the caller reads only the last line.
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
