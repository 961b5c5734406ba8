"""Batch replay: ``Trace.map``, ``grad_map`` and ``jvp_map`` give, sample by sample, bitwise what a
loop of single replays (``tr(x_i)``, ``tr.grad(x_i)``, ``tr.jvp``) gives: over random piecewise
programs (samples whose guards fail record again, or raise with ``strict=True``), with numba on
one thread or two, from several Python threads at once, for rows that need Python, tuple and
constant outputs, float32, empty batches; and on a Dask ``LocalCluster`` of two processes (with
dask installed: ``pip install 'tape[dask]'``), bitwise the local results.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tape
from tape import TraceGuardError
from tape.ops import linalg

from .test_trace import KINDS, _piecewise


def _batch(rng, size: int, shape: tuple, dtype=tape.float64, scale: float = 1.5):
    return tape.tensor(rng.uniform(-scale, scale, size=(size,) + shape), dtype=dtype)


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@settings(deadline=None, max_examples=10)
@given(kinds=KINDS, shape=st.sampled_from([(), (3,)]), size=st.integers(1, 12),
       dtype=st.sampled_from(["float64", "float32"]), seed=st.integers(0, 2 ** 16))
def test_map_equals_a_loop_of_single_replays(kinds, shape, size, dtype, seed):
    fn = _piecewise(kinds)
    dt = getattr(tape, dtype)
    rng = np.random.default_rng(seed)
    tr = tape.trace(fn, tape.tensor(rng.uniform(-1, 1, size=shape), dtype=dt))
    X = _batch(rng, size, shape, dt)
    values = tr.map(X)
    grads = tr.grad_map(X)
    for i in range(size):
        assert _same(values[i].numpy(), tr(X[i]).numpy())
        assert _same(grads[i].numpy(), tr.grad(X[i]).numpy())


def _chain(x, w):
    y = x
    for _ in range(6):
        y = (y * w).sin() + y * y * 0.25
    return y.sum()


def test_thread_count_does_not_change_results():
    rng = np.random.default_rng(0)
    tr = tape.trace(_chain, tape.tensor(rng.normal(size=5)), tape.tensor(rng.normal(size=5)))
    X, W = _batch(rng, 97, (5,)), _batch(rng, 97, (5,))
    before = numba.get_num_threads()
    try:
        results = []
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            results.append((tr.map(X, W).numpy(), *(g.numpy() for g in tr.grad_map(X, W, argnums=(0, 1)))))
    finally:
        numba.set_num_threads(before)
    assert all(_same(a, b) for a, b in zip(*results))
    loop = np.stack([tr.grad(X[i], W[i], argnums=1).numpy() for i in range(97)])
    assert _same(results[0][2], loop)


def test_several_python_threads_map_at_once():
    rng = np.random.default_rng(1)
    traces = [tape.trace(_chain, tape.tensor(rng.normal(size=4)), tape.tensor(rng.normal(size=4)))
              for _ in range(4)]
    X, W = _batch(rng, 64, (4,)), _batch(rng, 64, (4,))
    want = [tr.grad_map(X, W).numpy() for tr in traces]
    got, errors = [None] * 4, []

    def work(k):
        try:
            for _ in range(5):
                got[k] = traces[k].grad_map(X, W).numpy()
        except Exception as e:      # (reported below: a thread's exception would be lost)
            errors.append(e)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(_same(a, b) for a, b in zip(got, want))


_THREADS_SCRIPT = """
import threading, numpy as np, tape
rng = np.random.default_rng(0)
f = lambda x, w: ((x * w).sin() + x * x * 0.25).sum()
traces = [tape.trace(f, tape.tensor(rng.normal(size=4)), tape.tensor(rng.normal(size=4))) for _ in range(4)]
X, W = tape.tensor(rng.normal(size=(500, 4))), tape.tensor(rng.normal(size=(500, 4)))
want = [tr.grad_map(X, W).numpy().tobytes() for tr in traces]
bad = []
def work(k):
    for _ in range(20):
        if traces[k].grad_map(X, W).numpy().tobytes() != want[k]:
            bad.append(k)
threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
print(len(bad))
"""


def test_python_threads_are_safe_with_numba_s_workqueue_layer():
    # The workqueue layer aborts the process when two threads launch parallel kernels at once:
    # the launch lock makes them take turns.
    env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue")
    out = subprocess.run([sys.executable, "-c", _THREADS_SCRIPT], capture_output=True, text=True, env=env,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["0"]


def test_scalar_programs_map_in_compiled_code():
    def f(a, b):
        return (a.sin() * b + a * a).exp() - b.cos()
    tr = tape.trace(f, tape.tensor(0.3, dtype=tape.float64), tape.tensor(0.2, dtype=tape.float64))
    assert tr.variants[0].program is not None
    rng = np.random.default_rng(2)
    A, B = _batch(rng, 40, ()), _batch(rng, 40, ())
    ga, gb = tr.grad_map(A, B, argnums=(0, 1))
    values = tr.map(A, B)
    for i in range(40):
        assert _same(values[i].numpy(), tr(A[i], B[i]).numpy())
        want = tr.grad(A[i], B[i], argnums=(0, 1))
        assert _same(ga[i].numpy(), want[0].numpy()) and _same(gb[i].numpy(), want[1].numpy())


def test_rows_that_need_python_run_as_single_replays(monkeypatch):
    # A product over SMALL_PRODUCT is a BLAS row, which Python computes: the samples run as single replays.
    # (The threshold lowered to its value without a callable BLAS, so that a small product is one.)
    monkeypatch.setattr(linalg, "SMALL_PRODUCT", 1 << 16)
    rng = np.random.default_rng(3)
    w = tape.tensor(rng.normal(size=(48, 48)) / 7)

    def f(x):
        return (x @ w).tanh().sum()
    tr = tape.trace(f, tape.tensor(rng.normal(size=(48, 48))))
    var = tr.variants[0]
    assert var.compiled and (var.tape.op[:var.tape.n] >= 900).any()
    X = _batch(rng, 4, (48, 48))
    g = tr.grad_map(X)
    v = tr.map(X)
    for i in range(4):
        assert _same(v[i].numpy(), tr(X[i]).numpy()) and _same(g[i].numpy(), tr.grad(X[i]).numpy())


def test_samples_on_another_branch_record_again_or_raise():
    def f(x):
        if x.sum() > 0:
            return (x.exp() * x).sum()
        return x.cos().sum()
    x0 = tape.tensor([0.5, 0.5], dtype=tape.float64)
    X = tape.tensor(np.random.default_rng(4).normal(size=(30, 2)))
    tr = tape.trace(f, x0)
    v = tr.map(X)
    assert tr.stats()["records"] == 2
    eager = np.array([f(X[i]).item() for i in range(30)])
    assert np.allclose(v.numpy(), eager, rtol=1e-15, atol=0)
    assert all(_same(v[i].numpy(), tr(X[i]).numpy()) for i in range(30))
    strict = tape.trace(f, x0, strict=True)
    with pytest.raises(TraceGuardError, match="if x.sum"):
        strict.map(X)
    with pytest.raises(TraceGuardError):
        strict.grad_map(X)


def test_tuple_and_constant_outputs_float32_and_empty_batches():
    def f(a, b):
        return a * b, (a + b).sum(), tape.tensor(3.0)
    tr = tape.trace(f, tape.ones(3), tape.ones(3))
    A, B = tape.randn(7, 3), tape.randn(7, 3)
    out = tr.map(A, B)
    assert [tuple(o.shape) for o in out] == [(7, 3), (7,), (7,)]
    assert all(o.dtype == tape.float32 and not o.requires_grad for o in out)
    for i in range(7):
        assert all(_same(out[k][i].numpy(), r.numpy()) for k, r in enumerate(tr(A[i], B[i])))
    empty = tr.map(tape.zeros(0, 3), tape.zeros(0, 3))
    assert [tuple(o.shape) for o in empty] == [(0, 3), (0,), (0,)]

    def g(x):
        return (x * x).sum()
    tg = tape.trace(g, tape.ones(2, dtype=tape.float64))
    assert tuple(tg.grad_map(tape.zeros(0, 2, dtype=tape.float64)).shape) == (0, 2)


def test_jvp_map_equals_single_jvps():
    def f(x, y):
        return (x.sin() * y).sum(), x * y.exp()
    tr = tape.trace(f, tape.ones(3, dtype=tape.float64), tape.ones(3, dtype=tape.float64))
    rng = np.random.default_rng(5)
    X, Y, V, U = (_batch(rng, 5, (3,)) for _ in range(4))
    values, tangents = tr.jvp_map((X, Y), (V, U))
    for i in range(5):
        v, t = tr.jvp((X[i], Y[i]), (V[i], U[i]))
        assert all(_same(a[i].numpy(), b.numpy()) for a, b in zip(values + tangents, v + t))


def test_parameters_are_read_at_each_map():
    w = tape.tensor([1.0, 2.0], dtype=tape.float64, requires_grad=True)
    tr = tape.trace(lambda x: (x * w).sum(), tape.ones(2, dtype=tape.float64))
    X = tape.tensor([[1.0, 1.0], [2.0, 0.5]], dtype=tape.float64)
    assert tr.map(X).tolist() == [3.0, 3.0]
    with tape.no_grad():
        w.mul_(2)
    assert tr.map(X).tolist() == [6.0, 6.0]
    assert tr.grad_map(X).tolist() == [[2.0, 4.0], [2.0, 4.0]]


def test_anomaly_mode_checks_each_sample_as_a_single_gradient():
    tr = tape.trace(lambda x: (x * 0.0).sqrt().sum(), tape.ones(2, dtype=tape.float64))
    X = tape.ones(3, 2, dtype=tape.float64)
    assert np.isnan(tr.grad_map(X).numpy()).all()
    with tape.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match="returned nan values"):
            tr.grad(X[0])
        with pytest.raises(RuntimeError, match="returned nan values"):
            tr.grad_map(X)


def test_argument_errors():
    tr = tape.trace(lambda x, y: (x * y).sum(), tape.ones(2, dtype=tape.float64), tape.ones(2, dtype=tape.float64))
    X = tape.ones(4, 2, dtype=tape.float64)
    with pytest.raises(TypeError, match="takes 2 inputs"):
        tr.map(X)
    with pytest.raises(ValueError, match=r"must have shape \[B, 2\]"):
        tr.map(X, tape.ones(4, 3, dtype=tape.float64))
    with pytest.raises(ValueError, match="dtype"):
        tr.map(X, tape.ones(4, 2))
    with pytest.raises(ValueError, match="batch sizes differ"):
        tr.map(X, tape.ones(5, 2, dtype=tape.float64))
    with pytest.raises(TypeError, match="must be a Tensor"):
        tr.map(X, np.ones((4, 2)))
    with pytest.raises(RuntimeError, match="argnums"):
        tr.grad_map(X, X, argnums=2)
    vector = tape.trace(lambda x: x * 2, tape.ones(2, dtype=tape.float64))
    with pytest.raises(RuntimeError, match="Expected f\\(\\*args\\) to return a scalar Tensor"):
        vector.grad_map(X)


def test_client_without_dask_names_the_extra(monkeypatch):
    tr = tape.trace(lambda x: x.sin(), tape.ones(2, dtype=tape.float64))
    monkeypatch.setitem(sys.modules, "distributed", None)       # (as if not installed)
    with pytest.raises(ImportError, match=r"pip install 'tape\[dask\]'"):
        tr.map(tape.ones(3, 2, dtype=tape.float64), client=object())


@pytest.mark.dask
def test_dask_cluster_equals_local():
    distributed = pytest.importorskip("distributed")

    def f(x, w):
        if x.sum() > 0:
            return ((x * w).exp() * x).sum()
        return (x * w).cos().sum()
    rng = np.random.default_rng(6)
    w = tape.tensor(rng.normal(size=3))
    X, V = _batch(rng, 40, (3,)), _batch(rng, 40, (3,))
    W = _batch(rng, 40, (3,))
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        tr = tape.trace(f, tape.tensor([0.5, 0.5, 0.5], dtype=tape.float64), w)
        got = (tr.map(X, W, client=client), tr.grad_map(X, W, argnums=(0, 1), client=client),
               tr.jvp_map((X, W), (V, V), client=client))
    local = tape.trace(f, tape.tensor([0.5, 0.5, 0.5], dtype=tape.float64), w)
    want = (local.map(X, W), local.grad_map(X, W, argnums=(0, 1)), local.jvp_map((X, W), (V, V)))
    assert _same(got[0].numpy(), want[0].numpy())
    assert all(_same(a.numpy(), b.numpy()) for a, b in zip(got[1], want[1]))
    assert all(_same(a.numpy(), b.numpy()) for a, b in zip(got[2], want[2]))
    assert tr.stats()["records"] == 2       # (the other branch's samples came back and recorded here)
