"""Big arrays: which path differentiates a row, and the adjoint buffers a backward reuses.

Ops whose adjoint loop in the numba kernel does not vectorize (``Op.numpy_rows``: their
derivative calls sin, cos, pow ..., or they have no loop of their own) are differentiated by
numpy from ``NUMPY_ROWS`` elements on: the sweep stops at such a row and Python runs the op's
``vjp`` rule on views of the arenas.  Both paths must agree, below and above the threshold.
"""
from __future__ import annotations

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import tape
import tape.special
from tape import _blocks, _emit, _engine, _parallel, _sweep
from tape.ops import _erf
from tape.ops import join as J
from tape.ops import elementwise as E
from tape.ops import linalg
from tape.ops import _specfun as SF
from tape.ops._spec import NUMPY_ROWS, REGISTRY

# One front end per op with ``numpy_rows`` (a variant per branch of its rule), and the largest
# difference in ulps between the numba and numpy paths, (float32, float64).  The paths compute
# the same expression; they differ where numpy's SIMD functions round differently from libm's
# (sin, cos, pow: within 2 ulps of each other, pow within 3 after the rule's products), and, in
# float32, where the numba kernel evaluates the derivative in float64 and rounds once while the
# rule rounds after each float32 step (within 1-2 ulps).
CASES = {
    "sin": (E.SIN, lambda x: x.sin(), (2, 0)),
    "cos": (E.COS, lambda x: x.cos(), (2, 0)),
    "tan": (E.TAN, lambda x: x.tan(), (1, 0)),
    "log2": (E.LOG2, lambda x: x.log2(), (1, 0)),
    "log10": (E.LOG10, lambda x: x.log10(), (2, 0)),
    "sinh": (E.SINH, lambda x: x.sinh(), (4, 2)),
    "cosh": (E.COSH, lambda x: x.cosh(), (4, 2)),
    "expm1": (E.EXPM1, lambda x: x.expm1(), (2, 2)),
    "pow_3.5": (E.POWC, lambda x: x ** 3.5, (3, 3)),
    "pow_-1.5": (E.POWC, lambda x: x ** -1.5, (3, 3)),
    "pow_0.5": (E.POWC, lambda x: x ** 0.5, (2, 2)),
    "pow_2": (E.POWC, lambda x: x ** 2, (0, 0)),
    "pow_0": (E.POWC, lambda x: x ** 0, (0, 0)),
    "rpow_2.5": (E.RPOWC, lambda x: 2.5 ** x, (2, 0)),
    "rpow_0": (E.RPOWC, lambda x: 0.0 ** x, (0, 0)),
    # ---- elem (issue 14)
    "rsqrt": (E.RSQRT, lambda x: x.rsqrt(), (0, 0)),
    "log1p": (E.LOG1P, lambda x: x.log1p(), (0, 0)),
    "asin": (E.ASIN, lambda x: x.asin(), (0, 0)),
    "acos": (E.ACOS, lambda x: x.acos(), (0, 0)),
    "atan": (E.ATAN, lambda x: x.atan(), (0, 0)),
    "asinh": (E.ASINH, lambda x: x.asinh(), (0, 0)),
    "acosh": (E.ACOSH, lambda x: x.acosh(), (0, 0)),
    "atanh": (E.ATANH, lambda x: x.atanh(), (0, 0)),
    "erf": (E.ERF, lambda x: x.erf(), (4, 4)),
    "erfc": (E.ERFC, lambda x: x.erfc(), (4, 4)),
    "erfinv": (E.ERFINV, lambda x: (x * 0.1).erfinv(), (4, 4)),
    "exp2": (E.EXP2, lambda x: x.exp2(), (0, 0)),
    "deg2rad": (E.DEG2RAD, lambda x: x.deg2rad(), (0, 0)),
    "rad2deg": (E.RAD2DEG, lambda x: x.rad2deg(), (0, 0)),
    "logit": (E.LOGIT, lambda x: (x * 0.1).logit(), (0, 0)),
    "logit_eps": (E.LOGIT, lambda x: (x * 0.1).logit(eps=0.05), (0, 0)),
    "selu": (E.SELU, lambda x: tape.selu(x), (3, 2)),
    "celu": (E.CELU, lambda x: tape.celu(x, 1.5), (2, 2)),
    "atan2": (E.ATAN2, lambda x: tape.atan2(x, x * 0.5 + 1.0), (0, 0)),
    "fmod": (E.FMOD, lambda x: tape.fmod(x, x * 0.3 + 1.0), (0, 0)),
    "remainder": (E.REMAINDER, lambda x: x % 1.5, (0, 0)),
    "hypot": (E.HYPOT, lambda x: tape.hypot(x, x * 0.5 + 1.0), (0, 0)),
    "logaddexp": (E.LOGADDEXP, lambda x: tape.logaddexp(x, x * 0.5 + 1.0), (2, 2)),
    "logaddexp2": (E.LOGADDEXP2, lambda x: tape.logaddexp2(x, x * 0.5 + 1.0), (2, 2)),
    "xlogy": (E.XLOGY, lambda x: tape.xlogy(x, x * 0.5 + 1.0), (2, 2)),
    "copysign": (E.COPYSIGN, lambda x: tape.copysign(x, x - 1.0), (0, 0)),
    # ---- special (ops/special.py): the kernels call libm's exp, log, log1p, sin and cos where the rule
    # calls numpy's; where the derivative cancels (sinc's t cos t - sin t, entr's log x + 1 near 1/e,
    # xlog1py's two adjoints of one x: at x = -1.05 the terms 0.39 and -0.35 give 0.036, each within an ulp
    # of its own size, 16 of the sum's) ulps of the result count those of the terms
    "lgamma": (SF.LGAMMA, lambda x: x.lgamma(), (0, 0)),
    "digamma": (SF.DIGAMMA, lambda x: x.digamma(), (0, 0)),
    "polygamma": (SF.POLYGAMMA, lambda x: x.polygamma(2), (0, 0)),
    "mvlgamma": (SF.MVLGAMMA, lambda x: x.mvlgamma(3), (0, 0)),
    "sinc": (SF.SINC, lambda x: x.sinc(), (1024, 2)),
    "i0": (SF.I0, lambda x: x.i0(), (0, 0)),
    "i0e": (SF.I0E, lambda x: tape.special.i0e(x), (0, 0)),
    "i1": (SF.I1, lambda x: tape.special.i1(x), (0, 0)),
    "i1e": (SF.I1E, lambda x: tape.special.i1e(x), (0, 0)),
    "erfcx": (SF.ERFCX, lambda x: tape.special.erfcx(x), (0, 0)),
    "ndtri": (SF.NDTRI, lambda x: tape.special.ndtri(x * 0.05 + 0.5), (4, 4)),
    "log_ndtr": (SF.LOG_NDTR, lambda x: tape.special.log_ndtr(x), (4, 4)),
    "entr": (SF.ENTR, lambda x: tape.special.entr(x), (1024, 16)),
    "xlog1py": (SF.XLOG1PY, lambda x: tape.special.xlog1py(x, x * 0.5 + 1.0), (16, 32)),
}
DTYPES = {"float32": (tape.float32, np.float32, 0), "float64": (tape.float64, np.float64, 1)}
EDGES = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan]


def test_every_numpy_rows_op_has_a_case():
    assert {code for code, op in REGISTRY.items() if op.numpy_rows} == {c[0] for c in CASES.values()}


@pytest.fixture
def thresholds():
    """``_sweep.PYTHON_FROM`` (the array the engine passes to the sweep), restored afterwards."""
    saved = _sweep.PYTHON_FROM.copy()
    yield _sweep.PYTHON_FROM
    _sweep.PYTHON_FROM[:] = saved


def _inputs(n: int, npdt) -> tuple:
    rng = np.random.default_rng(n)
    k = n - len(EDGES)
    x = np.concatenate([rng.uniform(-10, 10, k // 3), rng.uniform(0, 3, k // 3),
                        np.exp(rng.uniform(-8, 8, k - 2 * (k // 3))), EDGES]).astype(npdt)
    return x, rng.standard_normal(n).astype(npdt)


def _grad(f, x, w, dtype) -> np.ndarray:
    t = tape.tensor(x, dtype=dtype, requires_grad=True)
    (f(t) * tape.tensor(w, dtype=dtype)).sum().backward()
    return t.grad.numpy()


def _ulps(a: np.ndarray, b: np.ndarray) -> float:
    assert np.array_equal(np.isnan(a), np.isnan(b))
    inf = np.isinf(a) | np.isinf(b)
    assert np.array_equal(a[inf], b[inf])
    fin = np.isfinite(a)
    big = np.maximum(np.abs(a[fin]), np.abs(b[fin]))
    return float((np.abs(a[fin].astype(np.float64) - b[fin]) / np.spacing(big).astype(np.float64)).max())


@pytest.mark.parametrize("size", ["below", "above"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_numpy_and_numba_paths_agree(case, dtype, size, thresholds):
    code, f, ulps = CASES[case]
    tdt, npdt, k = DTYPES[dtype]
    rows = NUMPY_ROWS[tdt.arena]
    n = rows // 2 if size == "below" else rows + 5
    x, w = _inputs(n, npdt)
    with np.errstate(all="ignore"):
        thresholds[:, code] = _sweep.NEVER[0, 0]
        by_numba = _grad(f, x, w, tdt)
        thresholds[:, code] = 1
        by_numpy = _grad(f, x, w, tdt)
    assert _ulps(by_numba, by_numpy) <= ulps[k]


@pytest.mark.parametrize("dtype", DTYPES)
def test_big_rows_take_the_numpy_path(dtype, monkeypatch):
    tdt, npdt, _ = DTYPES[dtype]
    rows = NUMPY_ROWS[tdt.arena]
    ran = []
    run = _blocks._rule_call

    def counted(tp, r, *args):
        ran.append(REGISTRY[int(tp.op[r])].name)
        return run(tp, r, *args)

    monkeypatch.setattr(_blocks, "_rule_call", counted)
    for n, expect in ((rows - 1, []), (rows, ["pow", "sin"])):
        v = np.linspace(0.5, 2.0, n).astype(npdt).astype(np.float64)
        x = tape.tensor(v, dtype=tdt, requires_grad=True)
        ((x.sin() * 2.0) ** 3.5 + x.exp()).sum().backward()
        assert sorted(ran) == expect
        expected = 3.5 * (2.0 * np.sin(v)) ** 2.5 * 2.0 * np.cos(v) + np.exp(v)
        np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-5, atol=1e-5)
        ran.clear()


def test_numpy_path_adds_to_an_adjoint_already_reached(thresholds):
    """x reaches the sin row's input after another row wrote its adjoint: the numpy path adds."""
    thresholds[:, E.SIN] = 1
    x = tape.tensor(np.linspace(-1.0, 1.0, 64), dtype=tape.float64, requires_grad=True)
    (x.sin() + x * 3.0).sum().backward()
    v = np.linspace(-1.0, 1.0, 64)
    np.testing.assert_allclose(x.grad.numpy(), np.cos(v) + 3.0, rtol=1e-15)
    y = tape.tensor(v, dtype=tape.float64, requires_grad=True)
    (y * 3.0 + y.sin()).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), np.cos(v) + 3.0, rtol=1e-15)


def test_python_path_for_a_square(thresholds):
    """s * s with s's adjoint not reached yet, by the kernel outside the sweep: zeroed once, both
    products added."""
    thresholds[:, E.SIN] = 1
    thresholds[:, E.MUL] = 1
    v = np.linspace(-1.0, 1.0, 64)
    x = tape.tensor(v, dtype=tape.float64, requires_grad=True)
    s = x.sin()
    (s * s).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.sin(v) * np.cos(v), rtol=1e-14)


def test_broadcast_rows_stay_in_the_sweep(thresholds, monkeypatch):
    """A row with an input broadcast along leading dims is not split into parts: the sweep runs it."""
    thresholds[:, :] = 1
    handed = []
    monkeypatch.setattr(_engine, "_big_row", lambda tp, r, *args: handed.append(int(tp.op[r])))
    a = tape.tensor(np.linspace(0.5, 2.0, 12).reshape(4, 3), dtype=tape.float64, requires_grad=True)
    b = tape.tensor([1.5, 2.0, 0.5], dtype=tape.float64, requires_grad=True)
    (a * b).sum().backward()
    assert handed == []
    np.testing.assert_allclose(b.grad.numpy(), a.detach().numpy().sum(0), rtol=1e-15)


# --- adjoint buffers ----------------------------------------------------------------------
BIG = _engine.SHARED_ADJOINTS     # elements past which the tape keeps its adjoint buffers


def test_reused_buffer_holds_no_stale_adjoints():
    """The second backward reuses the first one's buffer; an output of unbind that no gradient
    reaches must contribute zeros, not what the first backward left there."""
    x = tape.tensor(np.ones((2, BIG)), dtype=tape.float32, requires_grad=True)
    a, b = (x * 1.0).unbind(0)
    first = (a * 2.0).sum() + (b * 5.0).sum()
    second = (a * 3.0).sum()
    first.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), np.stack([np.full(BIG, 2.0), np.full(BIG, 5.0)]))
    before = x.grad.numpy().copy()
    second.backward()
    np.testing.assert_array_equal(x.grad.numpy(), before + np.stack([np.full(BIG, 3.0), np.zeros(BIG)]))


@pytest.mark.parametrize("n", [4, BIG])
def test_gradients_handed_out_are_not_overwritten(n):
    """A later backward of the same tape (small buffers: gradients are views of them; big
    buffers: the tape reuses them) leaves gradients handed out earlier as they were."""
    x = tape.tensor(np.ones(n), dtype=tape.float32, requires_grad=True)
    y = x * 2.0
    g1, = tape.autograd.grad(y.sum(), x, retain_graph=True)
    kept = g1.numpy().copy()
    g2, = tape.autograd.grad((y * 7.0).sum(), x)
    np.testing.assert_array_equal(g1.numpy(), kept)
    np.testing.assert_array_equal(g2.numpy(), np.full(n, 14.0))


# --- parts on several threads --------------------------------------------------------------
def _workload(v: np.ndarray, dtype):
    """The benchmark's function, plus a broadcast operand and a cast: rows of every kind."""
    x = tape.tensor(v, dtype=dtype, requires_grad=True)
    b = tape.tensor(v[:8], dtype=dtype, requires_grad=True)
    y = x.sin() * (-x * x).exp() + (x * x + 1).sqrt() + (x.reshape(-1, 8) * b).reshape(-1) / 3.0
    (y.double().tanh() * 2.0 + y.relu()).sum().backward()
    return x.grad.numpy(), b.grad.numpy()


@pytest.fixture
def small_parts(monkeypatch, thresholds):
    """Rows of 256 elements and up run in parts of 64 (so that small arrays take that path),
    first-reached adjoints are zeroed by blocks of 48, rules run on blocks of 40 and runs of rows
    on blocks of 56."""
    monkeypatch.setattr(_parallel, "PART", 64)
    monkeypatch.setattr(_engine, "ZERO_BLOCK", 48)
    monkeypatch.setattr(_engine, "RULE_BLOCK", 40)
    monkeypatch.setattr(_blocks, "RUN_BLOCK", 56)
    for code in range(E.UNARY.start, E.BINARY.stop):
        if code in REGISTRY:
            thresholds[:, code] = min(int(thresholds[0, code]), 256)
    return monkeypatch


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_results_do_not_depend_on_the_number_of_threads(dtype, small_parts):
    v = np.random.default_rng(3).uniform(-2.0, 2.0, 4096)
    tdt = DTYPES[dtype][0]
    results = []
    for cores in (1, 2, 3, 8):
        small_parts.setattr(_parallel, "CORES", cores)
        results.append(_workload(v, tdt))
    small_parts.setattr(_engine, "RULE_BLOCK", 1 << 40)     # (and the rules on whole parts)
    results.append(_workload(v, tdt))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert a.tobytes() == b.tobytes()
    # and the same as the sweep's own loops (only rows for numpy left to Python)
    for code, op in REGISTRY.items():
        if not op.numpy_rows:
            _sweep.PYTHON_FROM[:, code] = _sweep.NEVER[:, code]
    swept = _workload(v, tdt)
    for a, b in zip(swept, results[0]):
        assert a.tobytes() == b.tobytes()


def test_concurrent_backwards_on_several_threads(small_parts):
    """Several Python threads sweeping big rows at once share the pool; each gets its own result."""
    small_parts.setattr(_parallel, "CORES", 2)
    inputs = [np.random.default_rng(k).uniform(-2.0, 2.0, 2048) for k in range(6)]
    alone = [_workload(v, tape.float32) for v in inputs]
    got = [None] * len(inputs)
    errors = []

    def work(k):
        try:
            for _ in range(5):
                got[k] = _workload(inputs[k], tape.float32)
        except BaseException as e:      # (reported below: an assert in a thread would be lost)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for a, b in zip(alone, got):
        for u, w in zip(a, b):
            assert u.tobytes() == w.tobytes()


def test_parts_cover_the_row():
    for cores in (1, 2, 3, 5):
        for n in (0, 1, _parallel.PART, 2 * _parallel.PART - 1, 2 * _parallel.PART, 10 * _parallel.PART + 3):
            old = _parallel.CORES
            _parallel.CORES = cores
            try:
                parts = _parallel.split(n)
            finally:
                _parallel.CORES = old
            assert parts[0][0] == 0 and parts[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
            assert len(parts) == max(1, min(cores, n // _parallel.PART))


@pytest.mark.parametrize("n", [5, 1000])
def test_square_and_sum_loops(n):
    """x * x adds both products to x's one adjoint; a + b passes the gradient to both (loops of
    their own in the binary kernel)."""
    v = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    w = np.random.default_rng(n + 1).standard_normal(n).astype(np.float32)
    x = tape.tensor(v, requires_grad=True)
    ((x * x) * tape.tensor(w)).sum().backward()
    assert x.grad.numpy().tobytes() == ((w * v) + (w * v)).tobytes()
    a = tape.tensor(v, requires_grad=True)
    b = tape.tensor(w, requires_grad=True)
    ((a + b) * tape.tensor(w) + (a - b) * tape.tensor(v)).sum().backward()
    assert a.grad.numpy().tobytes() == (w + v).tobytes()
    assert b.grad.numpy().tobytes() == (w - v).tobytes()


@pytest.mark.parametrize("complement", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_erf_of_big_arrays_does_not_depend_on_the_number_of_threads(dtype, complement, monkeypatch):
    """erf/erfc of big arrays run in parts on all cores (``ops/_erf.py``): the same bits in any part."""
    x = np.random.default_rng(5).uniform(-9.0, 9.0, 1001).astype(dtype)
    x[:len(EDGES)] = EDGES
    monkeypatch.setattr(_erf, "PART", 50)
    results = []
    for cores in (1, 2, 3):
        monkeypatch.setattr(_parallel, "CORES", cores)
        results.append(_erf.erf_vectorized(x.reshape(7, 143), complement))
    assert all(r.shape == (7, 143) and r.dtype == dtype for r in results)
    assert results[0].tobytes() == results[1].tobytes() == results[2].tobytes()
    monkeypatch.setattr(_parallel, "CORES", 1)
    monkeypatch.setattr(_erf, "PART", 1 << 40)
    assert _erf.erf_vectorized(x, complement).tobytes() == results[0].tobytes()


@pytest.mark.parametrize("cores", [1, 2, 3])
def test_run_covers_the_range_once(cores, monkeypatch):
    monkeypatch.setattr(_parallel, "CORES", cores)
    for n in (0, 5, 1000, 4096 + 7):
        pieces = []
        _parallel.run(lambda lo, hi: pieces.append((lo, hi)), n, 64)
        pieces.sort()
        assert [p for p in pieces if p[0] < p[1]] == pieces or n == 0
        assert sum(hi - lo for lo, hi in pieces) == n
        assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:]))


def test_run_does_not_wait_for_a_thread_that_cannot_start(monkeypatch):
    """When the other cores are busy, the calling thread does every piece and returns."""
    busy = ThreadPoolExecutor(1)
    release = threading.Event()
    busy.submit(release.wait)           # the pool's one thread is held
    monkeypatch.setattr(_parallel, "CORES", 2)
    monkeypatch.setattr(_parallel, "_workers", lambda: busy)
    done = []
    caller = threading.Thread(target=_parallel.run, args=(lambda lo, hi: done.append(threading.get_ident()), 1000, 10))
    caller.start()
    caller.join(30)
    returned = not caller.is_alive()
    release.set()
    busy.shutdown()
    caller.join()
    assert returned
    assert len(done) == 2 * _parallel.PIECES and set(done) == {caller.ident}


# --- forward in parts -----------------------------------------------------------------------
UFUNCS = sorted({f for f in [op.forward for op in REGISTRY.values()] + [f for f, _ in E.SCALAR_FORWARD.values()]
                 if type(f) is np.ufunc and f is not np.matmul}, key=lambda f: f.__name__)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")       # (np.errstate does not reach the pool's threads)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_parts_give_the_bits_of_one_call(dtype, monkeypatch):
    """``_emit.into`` computes a big ufunc's result in parts on all cores: every op's ufunc gives
    each element the same bits in whichever part it falls (numpy's SIMD loops), with a number
    as the second operand too."""
    rng = np.random.default_rng(11)
    n = 4096 + 37
    a = np.concatenate([rng.uniform(-10, 10, n // 2), np.exp(rng.uniform(-80, 80, n - n // 2 - len(EDGES))),
                        EDGES]).astype(dtype)
    rng.shuffle(a)
    b = rng.uniform(-3, 3, n).astype(dtype)
    monkeypatch.setattr(_emit, "PART", 64)
    monkeypatch.setattr(_parallel, "PART", 61)      # (parts that start anywhere, not on a vector's edge)
    for f in UFUNCS:
        for args in ([(a,)] if f.nin == 1 else [(a, b), (a, dtype(0.7)), (a, 2.5)]):
            with np.errstate(all="ignore"):
                whole = f(*args)
                for cores in (2, 3):
                    monkeypatch.setattr(_parallel, "CORES", cores)
                    y = np.empty_like(a)
                    _emit.into(f, args, y)
                    assert y.tobytes() == whole.tobytes(), (f.__name__, cores)


def test_big_results_are_computed_in_parts(monkeypatch):
    """The front ends of a big result go through ``_emit.into`` (and its parts give numpy's bits)."""
    calls = []
    into = _emit.into

    def counted(fwd, operands, y):
        calls.append(fwd.__name__)
        into(fwd, operands, y)

    monkeypatch.setattr(_emit, "into", counted)
    monkeypatch.setattr(_emit, "PART", 1000)
    monkeypatch.setattr(_parallel, "PART", 1000)
    monkeypatch.setattr(_parallel, "CORES", 2)
    v = np.random.default_rng(2).uniform(0.5, 2.0, 1 << 15).astype(np.float32)
    x = tape.tensor(v, requires_grad=True)
    y = (x.sin() * x + 1.0).sqrt()
    assert calls == ["sin", "multiply", "add", "sqrt"]
    assert y.detach().numpy().tobytes() == np.sqrt(np.sin(v) * v + np.float32(1.0)).tobytes()
    # (erf, erfc, erfinv: compiled forwards, which write into the slot given; their bits are the
    # same as when they make their own array)
    for f in (tape.erf, tape.erfc, tape.erfinv):
        calls.clear()
        w = tape.tensor(v - 1.0, requires_grad=True)
        assert f(w).detach().numpy().tobytes() == f(w.detach()).numpy().tobytes()
        assert calls == ["forward"]


# --- runs of big rows, block by block -------------------------------------------------------
def _runs_of(monkeypatch) -> list:
    runs = []
    find = _blocks._run

    def recorded(tp, R, r, seen):
        rows = find(tp, R, r, seen)
        runs.append([REGISTRY[int(tp.op[q])].name for q, _ in rows])
        return rows

    monkeypatch.setattr(_blocks, "_run", recorded)
    return runs


def _rows_to_the_sweep() -> None:
    """Every big row but those for numpy (whose rule rounds differently from the kernel) stays in the sweep."""
    for code, op in REGISTRY.items():
        if not op.numpy_rows:
            _sweep.PYTHON_FROM[:, code] = _sweep.NEVER[:, code]


def test_a_run_takes_the_rows_below_it(small_parts):
    """The sweep stops at the first big row; the rows under it over as many elements run with it,
    block by block, and give the bits of the sweep's own loops."""
    runs = _runs_of(small_parts)
    small_parts.setattr(_parallel, "CORES", 2)
    v = np.random.default_rng(4).uniform(-2.0, 2.0, 4096)
    x = tape.tensor(v, dtype=tape.float32, requires_grad=True)
    (x.sin() * (-x * x).exp() + (x * x + 1).sqrt()).sum().backward()
    # (the loss's sum heads the run: its input's adjoint, one number, is written block by block)
    assert runs == [["sum", "add", "sqrt", "add", "mul", "mul", "exp", "mul", "neg", "sin"]]
    by_runs = x.grad.numpy()
    _rows_to_the_sweep()
    x.grad = None
    (x.sin() * (-x * x).exp() + (x * x + 1).sqrt()).sum().backward()
    assert by_runs.tobytes() == x.grad.numpy().tobytes()


def test_a_run_ends_where_the_sweep_has_work(small_parts):
    """A row of another size and a hooked row end a run (the sweep runs the one and stops at the
    other); the results, a retained gradient and the hook's are those of the sweep."""
    v = np.random.default_rng(5).uniform(-2.0, 2.0, 4096)

    def grads():
        x = tape.tensor(v, requires_grad=True)
        a = x.sin() * 3.0
        seen = []
        a.register_hook(lambda g: seen.append(g.numpy().copy()))
        b = (a * a).exp()
        b.retain_grad()
        c = (b.reshape(64, 64) * x[:64]).sum(0)          # a broadcast row: the sweep's
        (c.tanh() * 2.0).sum().backward()
        return x.grad.numpy(), b.grad.numpy(), seen[0]

    runs = _runs_of(small_parts)
    by_runs = grads()
    assert runs == [["exp", "mul"], ["mul", "sin"]]      # (the hooked row a ends the first)
    _rows_to_the_sweep()
    for a, b in zip(by_runs, grads()):
        assert a.tobytes() == b.tobytes()


def test_adjoints_within_a_run_stay_in_scratch(small_parts):
    """The adjoints that only the run's rows pass between them live in the thread's block-sized
    scratch (a slot given back once its row ran), not in the tape's adjoint buffer."""
    plans = []
    plan = _blocks._plan

    def recorded(tp, rows, kept):
        slots, counts = plan(tp, rows, kept)
        plans.append(({REGISTRY[int(tp.op[node])].name for node in slots}, len(slots), counts))
        return slots, counts

    small_parts.setattr(_blocks, "_plan", recorded)
    x = tape.tensor(np.linspace(-2.0, 2.0, 4096), dtype=tape.float32, requires_grad=True)
    (x.sin() * (-x * x).exp() + (x * x + 1).sqrt()).sum().backward()
    # (the adjoints of sin, exp, neg, the products, the sums and sqrt: 9 nodes in 3 slots)
    assert plans == [({"sin", "exp", "neg", "mul", "add", "sqrt"}, 9, [0, 3])]


def test_gradients_read_after_the_sweep_are_not_in_scratch(small_parts):
    """A retained gradient and one asked for, of rows inside a run, are the sweep's."""
    v = np.random.default_rng(6).uniform(-2.0, 2.0, 4096)

    def grads():
        x = tape.tensor(v, requires_grad=True)
        a = x.sin()
        b = a * x
        b.retain_grad()
        c = (b.exp() + a).sqrt()
        ga, gx = tape.autograd.grad((c * 3.0).sum(), (a, x), retain_graph=True)
        (c * 3.0).sum().backward()
        return ga.numpy(), gx.numpy(), b.grad.numpy(), x.grad.numpy()

    by_runs = grads()
    _rows_to_the_sweep()
    for a, b in zip(by_runs, grads()):
        assert a.tobytes() == b.tobytes()


def test_where_rows_join_a_run(small_parts):
    """A where row with no input broadcast is swept in the run's blocks too (its adjoints blends),
    with the sweep's bits, a side that needs no gradient or both sides one tensor included."""
    runs = _runs_of(small_parts)
    v = np.random.default_rng(7).uniform(-2.0, 2.0, 4096)

    def grads():
        x = tape.tensor(v, dtype=tape.float32, requires_grad=True)
        k = tape.tensor(v * 3.0, dtype=tape.float32)
        y = x.erf() * (x * x).log1p() + tape.where(x > 0, x.atan(), x * 0.5)
        z = tape.where(x < 1, y, k) * tape.where(x > -1, x, x) + 1.0
        (z * 2.0).sum().backward()
        return x.grad.numpy()

    by_runs = grads()
    assert runs == [["sum", "mul", "add", "mul", "where", "where", "add", "where", "mul", "atan", "mul", "log1p",
                     "mul", "erf"]]
    _rows_to_the_sweep()
    assert by_runs.tobytes() == grads().tobytes()


@pytest.fixture
def owned_spy(small_parts):
    """Adjoint buffers kept by the tape whatever their size (so that leaves' adjoints may get arrays
    of their own, ``_blocks.Owned``); the leaves that got one, by row."""
    small_parts.setattr(_engine, "SHARED_ADJOINTS", 0)
    got = []
    own = _blocks.owned

    def spy(tp, seen, x, below, owned, *also):
        ok = own(tp, seen, x, below, owned, *also)
        got.append((x, ok))
        return ok

    small_parts.setattr(_blocks, "owned", spy)
    small_parts.setattr(_engine, "owned", spy)
    return got


def test_a_leaf_adjoint_of_its_own_only_when_python_rows_write_it_all(owned_spy):
    """A leaf whose adjoint only a run writes gets an array of its own, handed out as its
    gradient; one that a row below the run adds to (here ``x[:10] * 3``) stays in the buffer."""
    v = np.random.default_rng(7).uniform(-2.0, 2.0, 4096).astype(np.float32)
    x = tape.tensor(v, requires_grad=True)
    (x.sin() * x).sum().backward()
    assert owned_spy == [(0, True)]
    first = x.grad
    assert np.allclose(first.numpy(), np.cos(v) * v + np.sin(v), rtol=1e-6, atol=1e-6)
    x.grad = None
    (x.sin() * x).sum().backward()      # (the tape's reused buffers)
    assert x.grad.numpy().tobytes() == first.numpy().tobytes()
    assert not np.shares_memory(x.grad.numpy(), first.numpy())
    owned_spy.clear()
    x.grad = None
    ((x[:10] * 3.0).sum() + (x.sin() * x).sum()).backward()
    assert owned_spy == [(0, False)]
    want = np.cos(v) * v + np.sin(v)
    want[:10] += 3.0
    assert np.allclose(x.grad.numpy(), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("between", [0, 30])
def test_a_leaf_adjoint_stays_in_the_buffer_however_many_rows_between_add_to_it(owned_spy, between):
    """The rows between a leaf and the run that writes its adjoint are looked at however many they
    are (a few read as a list, many by numpy: ``_blocks._reached``): one a gradient reached, left to
    run, keeps the adjoint in the buffer."""
    v = np.random.default_rng(12).uniform(-2.0, 2.0, 4096).astype(np.float32)
    x = tape.tensor(v, requires_grad=True)
    y = x[:10] * 3.0
    for _ in range(between):
        y = y + 0.5
    (y.sum() + (x.sin() * x).sum()).backward()
    assert owned_spy == [(0, False)]
    want = np.cos(v) * v + np.sin(v)
    want[:10] += 3.0
    assert np.allclose(x.grad.numpy(), want, rtol=1e-6, atol=1e-6)


def test_a_leaf_adjoint_of_its_own_not_when_the_row_also_reaches_a_row_above_it(owned_spy, monkeypatch):
    """``(W * 2) @ W``: the product's rule reaches ``W`` and ``W * 2``, whose row (run later) adds to
    ``W``'s adjoint too, so it stays in the buffer; ``x @ W`` for a constant ``x`` gives ``W`` one.
    (Products over SMALL_PRODUCT, BLAS rows swept in Python: the threshold lowered to its value
    without a callable BLAS.)"""
    monkeypatch.setattr(linalg, "SMALL_PRODUCT", 1 << 16)
    w = np.random.default_rng(8).standard_normal((64, 64)).astype(np.float32)
    c = np.random.default_rng(9).standard_normal((64, 64)).astype(np.float32)
    W = tape.tensor(w, requires_grad=True)
    ((W * 2.0) @ W).sum().backward()
    assert owned_spy == [(1, False), (0, False)]
    ones = np.ones((64, 64), np.float32)
    want = 2.0 * ones @ w.T + (2.0 * w).T @ ones
    assert np.allclose(W.grad.numpy(), want, rtol=1e-5, atol=1e-4)
    owned_spy.clear()
    W.grad = None
    (tape.tensor(c) @ W).sum().backward()
    assert owned_spy == [(1, True)]
    assert np.allclose(W.grad.numpy(), c.T @ ones, rtol=1e-5, atol=1e-4)


def test_a_loss_sum_or_mean_heads_the_run_below_it(small_parts):
    """A sum or mean of all of a big row that no gradient reached yet heads that row's run (its
    input's adjoint, one number, written block by block); one whose input already has a gradient
    is the sweep's.  The bits are the sweep's, in anomaly mode too (where each row runs alone)."""
    runs = _runs_of(small_parts)
    v = np.random.default_rng(10).uniform(-2.0, 2.0, 4096)

    def grads(dtype):
        out = []
        x = tape.tensor(v, dtype=dtype, requires_grad=True)
        y = (x * 3.0).tanh()
        (y.mean() + (y * y).sum()).backward()
        out.append(x.grad.numpy())
        x.grad = None
        (x * 3.0).tanh().mean().backward()
        out.append(x.grad.numpy())
        x.grad = None
        with tape.autograd.detect_anomaly():
            (x * 3.0).tanh().mean().backward()
        out.append(x.grad.numpy())
        return out

    by_runs = grads(tape.float32) + grads(tape.float64)
    assert runs == [["sum", "mul"], ["tanh", "mul"], ["mean", "tanh", "mul"]] * 2
    _rows_to_the_sweep()
    by_sweep = grads(tape.float32) + grads(tape.float64)
    for a, b in zip(by_runs, by_sweep):
        assert a.tobytes() == b.tobytes()
    assert by_runs[1].tobytes() == by_runs[2].tobytes()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_first_reached_adjoints_written_by_a_run_have_the_sweeps_bits(dtype, small_parts):
    """A run writes an adjoint no gradient reached yet instead of starting it at -0.0 and adding to
    it, with the same bits: a lone derivative -0.0 (``u * 0.0`` under a negation) stays -0.0, as in PyTorch."""
    runs = _runs_of(small_parts)
    v = np.random.default_rng(11).uniform(-2.0, 2.0, 4096)

    def grads():
        x = tape.tensor(v, dtype=getattr(tape, dtype), requires_grad=True)
        w = tape.tensor(v * 0.5, dtype=getattr(tape, dtype), requires_grad=True)
        u = tape.tensor(v, dtype=getattr(tape, dtype), requires_grad=True)
        (-(u * 0.0) + (x * w).tanh() + (x + w).exp() * (x - w).sqrt().sigmoid() + w / x).sum().backward()
        return x.grad.numpy(), w.grad.numpy(), u.grad.numpy()

    by_runs = grads()
    assert runs and runs[0][0] == "sum"
    assert np.signbit(by_runs[2]).all() and not by_runs[2].any()
    _rows_to_the_sweep()
    for a, b in zip(by_runs, grads()):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("cond_dtype", [np.bool_, np.uint8])
def test_a_big_where_writes_its_value_and_mask_into_the_tape(cond_dtype, monkeypatch):
    """A big recorded where computes its value and its 0/1 mask in one pass, in parts, into their
    arena slots (``ops/join._where_into``): the bits of the one-call path, any number of parts."""
    rng = np.random.default_rng(5)
    n = 3000 + 7
    a = rng.uniform(-2.0, 2.0, n).astype(np.float32)
    b = rng.uniform(-2.0, 2.0, n).astype(np.float32)
    c = rng.uniform(size=n) < 0.4
    w = rng.uniform(-1.0, 1.0, n).astype(np.float32)
    taken = []
    into = J._where_into
    monkeypatch.setattr(J, "_where_into", lambda *args: taken.append(1) or into(*args))

    def run():
        x = tape.tensor(a, requires_grad=True)
        y = tape.tensor(b, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)        # (a uint8 condition is deprecated)
            z = tape.where(tape.tensor(c.astype(cond_dtype)), x, y * 2.0)
        (z * tape.tensor(w)).sum().backward()
        return z.detach().numpy().tobytes(), x.grad.numpy().tobytes(), y.grad.numpy().tobytes()

    monkeypatch.setattr(J, "LEND_FROM", n + 1)
    whole = run()
    assert not taken
    assert whole[0] == np.where(c, a, b * np.float32(2.0)).tobytes()
    monkeypatch.setattr(J, "LEND_FROM", 64)
    monkeypatch.setattr(_parallel, "PART", 61)
    for cores in (1, 2, 3):
        monkeypatch.setattr(_parallel, "CORES", cores)
        assert run() == whole, cores
    assert len(taken) == 3
