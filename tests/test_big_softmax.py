"""Softmax and log-softmax of big arrays: blocks of rows on all cores (``ops/softmax.py``) give
the same bits whatever the number of threads: in float64 those of the whole array at once (numpy's
formula, the rule's adjoint); in float32 those of the compiled row kernels (``ops/_softmax_kernels.py``),
within the ulps ``ULPS`` states of the float64 values, as numpy's float32 formula is."""
from __future__ import annotations

import numpy as np
import pytest

import tape
from tape import _parallel
from tape.ops import softmax as S
from tape.ops._rule import rule_adjoint

# float32 kernels against float64 values computed from the same inputs, in ulps of each element's
# scale (``_scales``): numpy's float32 formula is within about the same (measured: log-softmax 1.3,
# softmax 8.6, their adjoints 0.6 and 3.6, over rows of 1000).
ULPS = {"log": 4, "softmax": 16, "log adjoint": 4, "softmax adjoint": 16}


@pytest.fixture
def small_blocks(monkeypatch):
    """Arrays of 64 elements and up in blocks of 48 elements, parts of 128 (small arrays take the path)."""
    monkeypatch.setattr(S, "ROWS_FROM", 64)
    monkeypatch.setattr(S, "BLOCK", 48)
    monkeypatch.setattr(S, "PART", 128)
    return monkeypatch


def _whole(v: np.ndarray, log: bool) -> np.ndarray:
    """The unblocked formula, over the last dim."""
    shifted = v - v.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=-1, keepdims=True)
    return shifted - np.log(s) if log else e / s


def _step(v: np.ndarray, dtype, log: bool, twice: bool = False, dim: int = -1):
    x = tape.tensor(v, dtype=dtype, requires_grad=True)
    w = tape.tensor(np.random.default_rng(7).standard_normal(v.shape), dtype=dtype)
    y = x.log_softmax(dim) if log else x.softmax(dim)
    loss = (y * w).sum()
    if twice:       # a second row reaching x's adjoint first: the blocks add to it
        loss = loss + (x * w).sum()
    loss.backward()
    return y.detach().numpy().copy(), x.grad.numpy().copy()


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dtype", [tape.float32, tape.float64])
@pytest.mark.parametrize("shape", [(37, 5), (3, 11, 7), (2, 200)])
def test_blocks_give_the_whole_arrays_bits(small_blocks, shape, dtype, log):
    v = (3.0 * np.random.default_rng(1).standard_normal(shape)).astype(dtype.np)
    v.reshape(-1)[:3] = [np.inf, -np.inf, np.nan] if shape[-1] > 3 else v.reshape(-1)[:3]
    rows = v.reshape(-1, shape[-1])
    rows[1, -1] = np.nan            # (a nan alone: the row maximum passes over it, the sum does not)
    rows[-1] = -np.inf
    got = {}
    for cores in (1, 2, 3):
        small_blocks.setattr(_parallel, "CORES", cores)
        for twice in (False, True):
            got[cores, twice] = _step(v, dtype, log, twice)
    for twice in (False, True):
        for cores in (2, 3):
            for a, b in zip(got[cores, twice], got[1, twice]):
                assert a.tobytes() == b.tobytes()
    with np.errstate(all="ignore"):
        if dtype is tape.float64:
            assert S._softmax_np(v, v.ndim - 1, log).tobytes() == _whole(v, log).tobytes()
    # the rule on the whole array (no blocks: the sizes are below ROWS_FROM again)
    small_blocks.setattr(S, "ROWS_FROM", 1 << 40)
    for twice in (False, True):
        ref = _step(v, dtype, log, twice)
        for a, b in zip(got[1, twice], ref):
            if dtype is tape.float64:
                assert a.tobytes() == b.tobytes()
            else:       # (the kernels' ulps: test_float32_rows_within_their_ulps; here nan, inf and zeros)
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert ref[0].tobytes() == _whole(v, log).astype(dtype.np).tobytes() or np.isnan(v).any()


def _scales(v: np.ndarray, w: np.ndarray, log: bool) -> tuple:
    """The float64 value, gradient (of ``(y * w).sum()``) and the scales of their elements' errors:
    a log-softmax element ``(x - max) - log(sum)`` errs by ulps of ``|x - max| + log(sum) + 1``
    (the sum is at least 1, rounded), a softmax element by ulps of itself; an adjoint element by
    ulps of the sum of its terms' magnitudes."""
    sh = (v - v.max(axis=-1, keepdims=True)).astype(np.float64)    # (float32's x - max, as the kernels')
    lse = np.log(np.exp(sh).sum(axis=-1, keepdims=True))
    w = w.astype(np.float64)
    if log:
        y = sh - lse
        p = np.exp(y)
        g = w - p * w.sum(axis=-1, keepdims=True)
        return y, g, np.abs(sh) + lse + 1, np.abs(w) + p * np.abs(w).sum(axis=-1, keepdims=True)
    y = np.exp(sh - lse)
    g = y * (w - (w * y).sum(axis=-1, keepdims=True))
    return y, g, y, y * (np.abs(w) + (np.abs(w) * y).sum(axis=-1, keepdims=True))


def _ulps(got: np.ndarray, want: np.ndarray, scale: np.ndarray) -> float:
    ulp = np.maximum(np.spacing(scale.astype(np.float32)).astype(np.float64), 2.0 ** -149)
    return float((np.abs(got - want) / ulp).max())


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("spread", [0.01, 1.0, 3.0, 30.0, 300.0])
def test_float32_rows_within_their_ulps(spread, log):
    rng = np.random.default_rng(int(spread * 100) + log)
    v = (spread * rng.standard_normal((40, 1000))).astype(np.float32)       # (above ROWS_FROM: the kernels)
    y, g = _step(v, tape.float32, log)
    y64, g64, ys, gs = _scales(v, np.random.default_rng(7).standard_normal(v.shape).astype(np.float32), log)
    name = "log" if log else "softmax"
    assert _ulps(y, y64, ys) <= ULPS[name]
    assert _ulps(g, g64, gs) <= ULPS[name + " adjoint"]


def test_blocks_are_taken(small_blocks):
    calls = []
    small_blocks.setattr(S, "rule_adjoint", lambda *a: calls.append(a) or rule_adjoint(*a))
    _step(np.ones((20, 10)), tape.float64, True)
    assert not calls
    _step(np.ones((20, 10)), tape.float64, True, dim=0)         # not over the last dim: the rule
    _step(np.ones((2, 10)), tape.float64, True)                 # small: the rule
    assert len(calls) == 2
