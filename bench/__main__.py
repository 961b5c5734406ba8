"""Benchmark tape against numpy, torch, jax, HIPS autograd and CasADi.

python -m bench [--quick] [--only NAME[,NAME...]] [--rounds N]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from time import perf_counter
from typing import Any

from bench import report
from bench._run import FULL, QUICK
from bench.peers import PEERS, rows
from bench.startup import STARTUP_MODULES, first_calls, startup_time
from bench.workloads import WORKLOADS

ROOT = Path(__file__).resolve().parent.parent  # holds bench/ and tape/, so both import
# A cell slower than this is cut off and reported as skipped (slow eager jax, mostly).
TIMEOUT_S = {True: 30.0, False: 300.0}


def run_cell(lib: str, workload: str, quick: bool, variant: str | None = None) -> dict[str, Any]:
    """Run one (library, workload[, variant]) in a fresh interpreter and parse its JSON line."""
    cmd = [sys.executable, "-m", "bench._run", lib, workload] + (["--quick"] if quick else [])
    if variant is not None:
        cmd += ["--variant", variant]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S[quick])
    except subprocess.TimeoutExpired:
        return {"skipped": f"took over {TIMEOUT_S[quick]:g} s"}
    lines = proc.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        err = proc.stderr.strip().splitlines()
        return {"error": f"runner crashed (exit {proc.returncode}): {err[-1] if err else 'no output'}"}


# The timings a cell reports; the other entries (versions, checks, held bytes) are the same each round.
TIMES = ("first_call_s", "fwd_s", "bwd_s", "total_s")


def combined(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """One cell from its rounds: the median of each timing (the runs of all rounds counted), or
    the first round that failed."""
    failed = [c for c in cells if "skipped" in c or "error" in c]
    if failed:
        return failed[0]
    cell = {**cells[-1], "repeats": sum(c["repeats"] for c in cells), "rounds": len(cells)}
    for key in TIMES:
        values = [c.get(key) for c in cells]
        cell[key] = None if None in values else statistics.median(values)
    return cell


def select(only: list[str], parser: argparse.ArgumentParser) -> tuple[list[str], list[str], bool]:
    """Split --only names into workloads, libraries and whether to time startup."""
    names = [n for arg in only for n in arg.split(",") if n]
    known = {*WORKLOADS, *PEERS, "startup"}
    if unknown := [n for n in names if n not in known]:
        parser.error(f"unknown name(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}")
    workloads = [w for w in WORKLOADS if w in names]
    libs = [lib for lib in PEERS if lib in names] or list(PEERS)
    startup = "startup" in names or not workloads
    if not workloads and "startup" not in names:
        workloads = list(WORKLOADS)
    return workloads, libs, startup


def main(argv: list[str] | None = None) -> None:
    """Run the selected cells one after another (the machine has 2 cores), then print."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats, and tape's first calls with a warm cache only; about two minutes")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help=f"workload ({', '.join(WORKLOADS)}, startup) or library "
                        f"({', '.join(PEERS)}); repeatable or comma-separated")
    parser.add_argument("--rounds", type=int, default=1, metavar="N",
                        help="measure each workload's cells N times, the libraries taking turns, and report the "
                        "median of the rounds: ratios then hold over the machine's slow drifts (default 1)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    workloads, libs, with_startup = select(args.only, parser)
    load_start = os.getloadavg()[0]
    results: report.Results = {}
    for workload in workloads:
        cells: dict[str, list[dict[str, Any]]] = {}
        for k in range(args.rounds):
            for lib in libs:
                for label, variant in rows(lib, workload):
                    t0 = perf_counter()
                    cells.setdefault(label, []).append(run_cell(lib, workload, args.quick, variant))
                    where = f" (round {k + 1} of {args.rounds})" if args.rounds > 1 else ""
                    report.progress(f"{label} {workload}{where}: {perf_counter() - t0:.1f} s")
        results[workload] = {label: combined(runs) for label, runs in cells.items()}
    startup = firsts = None
    if with_startup:
        modules = [m for m in STARTUP_MODULES if m is None or m in libs]
        startup = {m or "(bare python)": startup_time(m, ROOT) for m in modules}
        report.progress("startup done")
        if "tape" in libs:
            # Cold costs a compile of every kernel (~30 s): full mode only.
            firsts = {} if args.quick else {"cold": first_calls(ROOT, cold=True)}
            firsts["warm"] = first_calls(ROOT, cold=False)
            report.progress("tape first calls done")
    print(report.render(args.quick, QUICK if args.quick else FULL, results, startup, load_start, firsts,
                        args.rounds))


if __name__ == "__main__":
    main()
