"""Plain-text tables for the benchmark results."""
from __future__ import annotations

import os
import platform
import sys
from typing import Any

from bench._run import Settings
from bench.peers import PEERS
from bench.startup import FIRST_CALLS_STEPS
from bench.workloads import WORKLOADS, Workload

Cell = dict[str, Any]  # one JSON result of bench._run
Results = dict[str, dict[str, Cell]]  # workload -> library -> cell

# Peers whose gradients serve as the reference, most trusted first.
GRAD_REFERENCES = ("torch", "autograd", "jax", "casadi", "tape")
# 1-min load average before the run above which other processes compete for the cores.
BUSY_LOAD = 1.0


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """First column left-aligned, the rest right-aligned; a two-cell row is a label + message."""
    full = [header] + [r for r in rows if len(r) == len(header)]
    widths = [max(len(r[i]) for r in full) for i in range(len(header))]
    lines = []
    for row in [header] + rows:
        if len(row) != len(header):
            lines.append(f"  {row[0]:<{widths[0]}}  {row[1]}")
            continue
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def num(x: float | None) -> str:
    """About three significant digits, thousands separated; '-' for a missing value."""
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def ratio(a: float | None, b: float | None) -> str:
    """a/b as '4.1x'."""
    if a is None or not b:
        return "-"
    r = a / b
    return f"{r:.0f}x" if r >= 10 else f"{r:.1f}x" if r >= 1 else f"{r:.2g}x"


def status(cell: Cell) -> str | None:
    """Why a cell has no numbers, or None when it has them."""
    if "error" in cell:
        return f"error: {cell['error']}"
    return f"skipped: {cell['skipped']}" if "skipped" in cell else None


def header(quick: bool, s: Settings, results: Results, load_start: float, rounds: int = 1) -> list[str]:
    """Mode, machine, load, thread policy and library versions."""
    versions, threads = {}, {}
    for lib in PEERS:
        mine = [c for by_lib in results.values() for name, c in by_lib.items() if name == lib]
        known = [c for c in mine if "version" in c]
        if known:
            versions[lib] = known[0]["version"]
            if known[0].get("threads") is not None:
                threads[lib] = known[0]["threads"]
        elif mine:
            versions[lib] = "not importable"
    env = ", ".join(f"{k}={os.environ.get(k, 'unset')}" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"))
    used = ", ".join(f"{lib} {n}" for lib, n in threads.items()) or "none reported"
    load_end = os.getloadavg()[0]
    lines = [
        f"tape benchmarks, {'quick' if quick else 'full'} mode: first call timed alone, "
        f"{s.warmup} warm-up run(s), then the median of up to {s.repeats} runs "
        f"(at most ~{s.budget_s:g} s of measuring per cell)"
        + (f"; {rounds} rounds, the libraries taking turns: the median of the rounds' medians, 'runs' counts all"
           if rounds > 1 else ""),
        f"python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs; every (library, workload) runs in its own fresh subprocess",
        f"1-min load average {load_start:.2f} at start, {load_end:.2f} at end",
        f"threads: library defaults, nothing set ({env}); intra-op threads: {used}",
    ]
    if load_start > BUSY_LOAD:
        # Other processes steal cores; multi-threaded peers (torch's OpenMP pool) suffer most.
        # Only the start counts: by the end the benchmark's own processes raise the average.
        lines.append("WARNING: the machine was busy, so timings are unreliable; rerun when idle")
    if versions:
        lines.append("versions: " + " | ".join(f"{lib} {v}" for lib, v in versions.items()))
    return lines


def workload_table(w: Workload, by_lib: dict[str, Cell]) -> list[str]:
    """One row per library: fwd, bwd, total, and total relative to tape and to numpy."""
    tape = by_lib.get("tape", {}).get("total_s")
    floor = by_lib.get("numpy", {}).get("total_s")
    rows = []
    for lib, cell in by_lib.items():
        why = status(cell)
        if why:
            rows.append([lib, why])
            continue
        scaled = [None if cell[k] is None else cell[k] * w.per_run for k in ("fwd_s", "bwd_s", "total_s")]
        rows.append([lib, *map(num, scaled), ratio(cell["total_s"], tape),
                     ratio(cell["total_s"], floor), str(cell["repeats"])])
    head = ["library", f"fwd {w.unit}", f"bwd {w.unit}", f"total {w.unit}",
            "lib/tape", "lib/numpy", "runs"]
    notes = [f"  note {lib}: {c['note']}" for lib, c in by_lib.items() if c.get("note")]
    exact = [exact_line(w, by_lib)] if w.exact else []
    held = [held_line(by_lib)] if any(c.get("held_bytes") is not None for c in by_lib.values()) else []
    return [f"{w.name}: {w.title}", *table(head, rows), *notes, *held, check_line(w, by_lib), *exact]


def held_line(by_lib: dict[str, Cell]) -> str:
    """What each row's forward leaves for backward (values saved, parameters excluded), and its
    share of the first row's."""
    held = {lib: c["held_bytes"] for lib, c in by_lib.items() if c.get("held_bytes") is not None}
    first = next(iter(held.values()))
    listed = ", ".join(f"{lib} {b / 2**20:.2f} MiB ({ratio(b, first)})" for lib, b in held.items())
    return f"  held for backward after the forward (values saved, parameters excluded): {listed}"


def exact_line(w: Workload, by_lib: dict[str, Cell]) -> str:
    """Each peer's distance from the exact answer; tape's must stay below w.exact_tol."""
    errs = {lib: c["check"].get("max_err") for lib, c in by_lib.items() if "check" in c}
    errs = {lib: e for lib, e in errs.items() if e is not None}
    if not errs:
        return f"  exact: nobody measured ({w.exact})"
    listed = ", ".join(f"{lib} {e:.1e}" for lib, e in errs.items())
    tape = errs.get("tape")
    if tape is None:
        verdict = "tape not measured"
    elif tape < w.exact_tol:
        verdict = f"tape below {w.exact_tol:g}: ok"
    else:
        verdict = f"FAIL: tape not below {w.exact_tol:g}"
    return f"  exact: {w.exact}: {listed} ({verdict})"


def check_line(w: Workload, by_lib: dict[str, Cell]) -> str:
    """Cross-check values against numpy's and gradients against a trusted AD peer."""
    checks = {lib: c["check"] for lib, c in by_lib.items() if "check" in c}
    if len(checks) < 2:
        return "  check: fewer than two peers measured, nothing to compare"
    value_ref = "numpy" if "numpy" in checks else next(iter(checks))
    grad_ref = next((lib for lib in GRAD_REFERENCES if checks.get(lib, {}).get("grads")), None)
    bad = []
    for lib, check in checks.items():
        pairs = [("value", check["value"], checks[value_ref]["value"], value_ref)]
        # (no reference when the trusted peers were skipped, a cold first call over its budget say:
        # a variant's gradients, ``tape anomaly``'s, then have nothing to be compared with)
        ref = checks[grad_ref]["grads"] if grad_ref else None
        if ref is None:
            pass
        elif check["grads"] and len(check["grads"]) != len(ref):
            bad.append(f"{lib} has {len(check['grads'])} gradients, {grad_ref} {len(ref)}")
        elif check["grads"]:
            grads = enumerate(zip(check["grads"], ref, strict=True))
            pairs += [(f"grad[{i}]", g, r, grad_ref) for i, (g, r) in grads]
        for what, got, want, ref_lib in pairs:
            if not abs(got - want) <= w.rtol * max(abs(got), abs(want), 1e-3):
                bad.append(f"{lib} {what} {got:.9g} vs {ref_lib} {want:.9g}")
    if bad:
        return "  check: MISMATCH " + "; ".join(bad)
    graded = any(check["grads"] for check in checks.values())
    refs = value_ref + (f", gradients vs {grad_ref}" if grad_ref else ", gradients: no reference peer measured"
                        if graded else "")
    return f"  check: all agree within rtol {w.rtol:g} (values vs {refs})"


def first_call_table(results: Results) -> list[str]:
    """Import time and the first call of each workload: JIT compiles show up here."""
    libs = list(dict.fromkeys(lib for by_lib in results.values() for lib in by_lib))
    rows = []
    for lib in libs:
        cells = [results[w].get(lib, {}) for w in results]
        imports = [c["import_s"] for c in cells if "import_s" in c]
        if not imports:
            rows.append([lib, status(cells[0]) or "-"])
            continue
        firsts = [f"{c['first_call_s']:.3f}" if "first_call_s" in c else "-" for c in cells]
        rows.append([lib, f"{min(imports):.3f}", *firsts])
    return ["first call (s): import, then the first run of each workload in a fresh process",
            *table(["library", "import", *results], rows)]


def startup_table(times: dict[str, float | None]) -> list[str]:
    """Median wall time of `python -c "import X"`."""
    rows = [[name, "not importable" if t is None else f"{t:.3f}"] for name, t in times.items()]
    return ['startup (s): median wall time of `python -c "import X"`',
            *table(["import", "seconds"], rows)]


def first_calls_table(firsts: dict[str, list[float] | None], quick: bool) -> list[str]:
    """tape's import and first backward()s in a fresh process, with a cold and a warm numba cache."""
    n = len(FIRST_CALLS_STEPS)
    rows = [[cache, "failed"] if t is None else [cache, *(f"{w:.2f} ({c:.2f})" for w, c in zip(t[:n], t[n:]))]
            for cache, t in firsts.items()]
    lines = ["tape first calls in a fresh process, wall s (CPU s): warm = cached kernels; cold = a copy of "
             "tape with an empty numba cache (the kernels these calls use compiled)",
             *table(["cache", *FIRST_CALLS_STEPS], rows)]
    if quick:
        lines.append("  cold: measured without --quick (compiles the kernels these calls use, ~30 s)")
    return lines


def ratios(results: Results, lib: str, base: str) -> str:
    """'scalar_chain 4.1x, mlp_step 2.0x': lib's total over base's, per workload."""
    out = []
    for name, by_lib in results.items():
        a, b = by_lib.get(lib, {}).get("total_s"), by_lib.get(base, {}).get("total_s")
        if a is not None and b is not None:
            out.append(f"{name} {ratio(a, b)}")
    return ", ".join(out)


def summary(results: Results, startup: dict[str, float | None] | None,
            firsts: dict[str, list[float] | None] | None = None) -> str:
    """The key ratios on one line: every AD peer's rows (variants too) over tape, per workload."""
    labels = dict.fromkeys(label for by_lib in results.values() for label in by_lib)
    order = {lib: i for i, lib in enumerate(PEERS)}
    ad_peers = sorted((label for label in labels if label not in ("tape", "numpy")),
                      key=lambda label: order.get(label.split()[0], len(order)))
    parts = [f"{lib}/tape {r}" for lib in ad_peers if (r := ratios(results, lib, "tape"))]
    if floor := ratios(results, "tape", "numpy"):
        parts.append(f"tape/numpy floor {floor}")
    if startup and startup.get("tape") is not None and startup.get("torch") is not None:
        parts.append(f"startup tape {startup['tape']:.2f} s, torch {startup['torch']:.2f} s")
    if firsts and firsts.get("cold"):
        _, backward, create_graph, compiled, _, backward_cpu, create_graph_cpu, compiled_cpu = firsts["cold"]
        parts.append(f"tape cold start: first backward {backward:.1f} s ({backward_cpu:.1f} s CPU), "
                     f"first create_graph {create_graph:.1f} s ({create_graph_cpu:.1f} s CPU), "
                     f"compiled recording sweep {compiled:.1f} s ({compiled_cpu:.1f} s CPU)")
    if not parts:
        return "summary: tape was not measured"
    return "summary: " + " | ".join(parts)


def render(quick: bool, s: Settings, results: Results, startup: dict[str, float | None] | None,
           load_start: float, firsts: dict[str, list[float] | None] | None = None, rounds: int = 1) -> str:
    """The whole report."""
    blocks = [header(quick, s, results, load_start, rounds)]
    blocks += [workload_table(WORKLOADS[name], by_lib) for name, by_lib in results.items()]
    if results:
        blocks.append(first_call_table(results))
    if startup is not None:
        blocks.append(startup_table(startup))
    if firsts is not None:
        blocks.append(first_calls_table(firsts, quick))
    blocks.append([summary(results, startup, firsts)])
    return "\n\n".join("\n".join(b) for b in blocks)


def progress(message: str) -> None:
    """Status on stderr so stdout stays the report."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)
