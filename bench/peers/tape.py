"""tape, the library under test, driven through its PyTorch-compatible API."""
from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

import numba
import numpy as np

import tape
from bench import workloads
from bench.peers import Stepper, _torchlike
from bench.workloads import CHAIN_SEGMENT, ChainData, MlpData, Run, XentData, timed_run
from tape import _record
from tape.ops._spec import CONST, INPUT, OUTPUT

# The workloads time the steady state: recorded backwards run the compiled sweep from the first step
# (a process with nothing compiled or cached first runs rows through Python, ``_record.recorder``,
# for a while: the startup table measures that).
_record._Tier.rows_left = 0


def info() -> dict[str, Any]:
    """Version and thread count."""
    return _torchlike.info(tape)


def scalar_chain(n_ops: int, variant: str | None = None) -> Run:
    """Eager chain of 0-d float64 tensors, then backward() (variant 'anomaly': in anomaly mode)."""
    return _torchlike.scalar_run(tape, n_ops, variant)


def scalar_evals(points: np.ndarray, variant: str | None = None) -> Run:
    """Eager recording and ``autograd.grad`` at each point; variant 'trace': ``tape.trace`` records the
    function once (fwd), then ``value_and_grad`` replays it at each point (bwd); variant 'trace guarded':
    the same with a branch on the value after every ten ops, so each replay also checks 100 guards."""
    if variant is None:
        return _torchlike.scalar_evals(tape, points)
    xs = [tape.tensor(float(p), dtype=tape.float64) for p in points]
    fn = workloads.scalar_fn_guarded if variant == "trace guarded" else workloads.scalar_fn
    t0 = perf_counter()
    tr = tape.trace(lambda x: fn(x, tape.sin, tape.exp), xs[0])
    t1 = perf_counter()
    values, grads = [], []
    for x in xs:
        y, g = tr.value_and_grad(x)
        values.append(y.item())
        grads.append(g.item())
    return timed_run(t1 - t0, perf_counter() - t1, workloads.evals_check(values, grads))


def per_sample_grads(w0: np.ndarray, xs: np.ndarray, variant: str | None = None) -> Run:
    """Eager: record the loss and ``autograd.grad`` per sample; variants 'trace-N-thread(s)':
    ``tape.trace`` records it once (fwd), then ``grad_map`` runs the batch on N numba threads (bwd)."""
    if variant is None:
        w = tape.tensor(w0, requires_grad=True)
        t0 = perf_counter()
        grads = [tape.autograd.grad(workloads.psg_loss(w, tape.tensor(x), tape.tanh, tape.sin), w)[0].numpy()
                 for x in xs]
        elapsed = perf_counter() - t0
        return Run(None, elapsed, elapsed, workloads.psg_check(np.stack(grads)))
    threads = {"trace-1-thread": 1, "trace-2-threads": 2}[variant]
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    t0 = perf_counter()
    tr = tape.trace(lambda w, x: workloads.psg_loss(w, x, tape.tanh, tape.sin), tape.tensor(w0), tape.tensor(xs[0]))
    W, X = tape.tensor(np.broadcast_to(w0, xs.shape).copy()), tape.tensor(xs)
    t1 = perf_counter()
    grads = tr.grad_map(W, X).numpy()
    return timed_run(t1 - t0, perf_counter() - t1, workloads.psg_check(grads))


def mlp_step(data: MlpData, variant: str | None = None) -> Stepper:
    """Eager forward + backward per step (variant 'anomaly': in anomaly mode)."""
    return _torchlike.mlp_stepper(tape, data, tape.tanh, variant)


def function_mlp_step(data: MlpData) -> Stepper:
    """mlp_step with tanh as a custom autograd.Function."""
    return _torchlike.mlp_stepper(tape, data, workloads.function_tanh(tape))


def large_mlp_step(data: MlpData) -> Stepper:
    """Eager forward + backward per step."""
    return _torchlike.mlp_stepper(tape, data, tape.relu)


def large_elementwise(x0: np.ndarray) -> Stepper:
    """Eager forward of the 1e6-element function, then backward()."""
    return _torchlike.elementwise_stepper(tape, x0)


def new_ops_1e6(x0: np.ndarray) -> Stepper:
    """Eager forward of erf, log1p, atan and where over 1e6 elements, then backward()."""
    return _torchlike.new_ops_stepper(tape, x0)


def softmax_xent(data: XentData) -> Stepper:
    """Eager log_softmax, gather and mean, then backward()."""
    return _torchlike.xent_stepper(tape, data)


def grad_penalty_step(data: MlpData) -> Stepper:
    """Forward, autograd.grad(create_graph=True), penalty, then backward() through it all."""
    return _torchlike.penalty_stepper(tape, data)


def hessian_rosenbrock(x0: np.ndarray, variant: str | None = None) -> Callable[[], Run]:
    """tape.autograd.functional.hessian of the vector-op Rosenbrock function; variant 'trace':
    ``Trace.hessian`` of a trace recorded before the timed calls (steady state); variant
    'trace record': ``tape.trace`` recorded and its Hessian taken at each call."""
    if variant is None:
        return _torchlike.hessian_runner(tape, x0)
    x = tape.tensor(x0.tolist(), dtype=tape.float64)
    tr = tape.trace(workloads.rosenbrock, x) if variant == "trace" else None

    def run() -> Run:
        t0 = perf_counter()
        h = (tr or tape.trace(workloads.rosenbrock, x)).hessian(x)
        total = perf_counter() - t0
        return Run(None, None, total, workloads.hessian_check(h.numpy(), x0))

    return run


def held_bytes(build_loss: Callable[[], Any], excluded: list[Any]) -> int:
    """Bytes of the values on the tapes a new forward's loss refers to: every row's value except
    INPUT and CONST rows (the parameters, inputs and constants, ``excluded``, which the caller
    holds anyway) and OUTPUT rows that are parts of their row's value."""
    loss = build_loss()
    todo, seen, total = [loss._tape], set(), 0
    while todo:
        t = todo.pop()
        if t is None or id(t) in seen:
            continue
        seen.add(id(t))
        n = t.n
        op, num = t.op[:n], t.num[:n]
        part = (op == OUTPUT) & (num[np.maximum(t.a[:n], 0)] > 0)
        keep = (op != INPUT) & (op != CONST) & ~part
        total += int((num * np.where(t.dt[:n] == 0, 8, 4))[keep].sum())
        todo += [src[0] for src in t.src.values() if type(src) is tuple]
    return total


def checkpoint_chain(data: ChainData, variant: str | None = None) -> Stepper:
    """The tanh chain; variant 'checkpoint': tape.utils.checkpoint every CHAIN_SEGMENT layers."""
    return _torchlike.chain_stepper(tape, data, CHAIN_SEGMENT if variant == "checkpoint" else None, held_bytes)
