"""Softmax and log-softmax of big arrays: blocks of rows on all cores (``ops/softmax.py``) give
the same bits whatever the number of threads: in float64 those of the whole array at once (numpy's
formula, the rule's adjoint); in float32 those of the compiled row kernels (``ops/_softmax_kernels.py``),
within the ulps ``ULPS`` states of the float64 values, as numpy's float32 formula is."""
from __future__ import annotations

import numpy as np
import pytest

import tape
from tape import _parallel
from tape.ops import _softmax_kernels as K
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
    monkeypatch.setattr(S, "ROWS_PART", 128)
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


def _gathered(v: np.ndarray, dtype, log: bool, dim: int, index: np.ndarray, dense: bool = False,
              between: bool = False, twice: bool = False, retain: bool = False):
    """Gradient of a weighted sum of a gather of the (log-)softmax; ``dense``: a hook on the softmax's
    output, so its adjoint is written whole; ``between``: a row reading it recorded before the
    gather; ``twice``: another row reaches the input's adjoint first."""
    x = tape.tensor(v, dtype=dtype, requires_grad=True)
    y = x.log_softmax(-1) if log else x.softmax(-1)
    if dense:
        y.register_hook(lambda g: g)
    if retain:
        y.retain_grad()
    early = y[1].sum() if between else 0.0
    w = tape.tensor(np.random.default_rng(8).standard_normal(index.shape), dtype=dtype)
    loss = (y.gather(dim, tape.tensor(index)) * w).sum() + early
    if twice:
        loss = loss + (x * x).sum()
    loss.backward()
    return x.grad.numpy().copy(), y.grad.numpy().copy() if retain else None


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dtype", [tape.float32, tape.float64])
def test_a_gathers_adjoint_is_taken_sparse(monkeypatch, dtype, log):
    """A gather of a big softmax hands its adjoint on sparse (float32: each row's in scratch, no
    zeroed array): the bits of the adjoint written whole, for any gather (repeated and unsorted
    positions, along either dim), an input reached first by another row, a reader in between."""
    taken = []
    sparse_rows = S._sparse_rows
    monkeypatch.setattr(S, "_sparse_rows", lambda *a: taken.append(1) or sparse_rows(*a))
    rng = np.random.default_rng(5)
    v = (3.0 * rng.standard_normal((64, 520))).astype(dtype.np)
    cases = [(1, rng.integers(0, 520, (64, 3))), (0, rng.integers(0, 64, (40, 520))), (1, np.zeros((64, 2), np.int64))]
    for dim, index in cases:
        for twice in (False, True):
            for cores in (1, 2):
                monkeypatch.setattr(_parallel, "CORES", cores)
                del taken[:]
                got, _ = _gathered(v, dtype, log, dim, index, twice=twice)
                assert len(taken) == (dtype is tape.float32)
                want, _ = _gathered(v, dtype, log, dim, index, dense=True, twice=twice)
                assert got.tobytes() == want.tobytes()
    del taken[:]
    got, _ = _gathered(v, dtype, log, 1, cases[0][1], between=True)
    assert not taken
    want, _ = _gathered(v, dtype, log, 1, cases[0][1], between=True, dense=True)
    assert got.tobytes() == want.tobytes()


def test_a_sparse_adjoint_asked_for_is_whole():
    """The softmax output's adjoint, retained or asked for, is written whole (not handed on sparse)."""
    rng = np.random.default_rng(6)
    v = rng.standard_normal((64, 520)).astype(np.float32)
    index = rng.integers(0, 520, (64, 3))
    got, yg = _gathered(v, tape.float32, True, 1, index, retain=True)
    want, _ = _gathered(v, tape.float32, True, 1, index, dense=True)
    assert got.tobytes() == want.tobytes()
    w = np.random.default_rng(8).standard_normal(index.shape).astype(np.float32)
    expected = np.zeros(v.shape, np.float32)
    np.add.at(expected, (np.arange(64)[:, None], index), w)
    np.testing.assert_array_equal(yg, expected)
    x = tape.tensor(v, requires_grad=True)
    y = x.log_softmax(1)
    gx, gy = tape.autograd.grad((y.gather(1, tape.tensor(index)) * tape.tensor(w)).sum(), [x, y])
    np.testing.assert_array_equal(gy.numpy(), expected)
    assert gx.numpy().tobytes() == got.tobytes()


def test_a_sparse_adjoint_checks_the_saved_values():
    """The softmax row run with its gather still says that the graph was freed by the first backward,
    or that its saved output was changed in place."""
    x = tape.tensor(np.random.default_rng(7).standard_normal((64, 520)).astype(np.float32), requires_grad=True)
    index = tape.tensor(np.zeros((64, 1), np.int64))
    loss = x.log_softmax(1).gather(1, index).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()
    y = x.log_softmax(1)
    loss = y.gather(1, index).sum()
    y.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_row_maximum_on_the_bits():
    """``_max`` (an integer maximum of the floats' bits) is numpy's maximum of a row without nan:
    negative, infinite, subnormal and signed-zero values, any length; a row with a nan (of either
    sign) gets the lanes' maximum, the one whose nan results were kept."""
    rng = np.random.default_rng(9)
    acc = np.empty(16, np.float32)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, 1e-45, -1e-45, 3e38, -3e38, -1.0, 1.0], np.float32)
    for n in (1, 2, 15, 16, 17, 100, 1000):
        for _ in range(20):
            v = (rng.standard_normal(n) * 10 - rng.integers(0, 2) * 50).astype(np.float32)
            v[rng.integers(0, n, rng.integers(0, n + 1))] = rng.choice(specials)
            assert K._max(v, acc) == v.max()
            v[rng.integers(0, n)] = np.float32(np.nan) * rng.choice([-1, 1])
            assert np.float32(K._max(v, acc)).tobytes() == np.float32(K._lanes_max(v, acc)).tobytes()
    assert K._max(np.full(5, -np.inf, np.float32), acc) == -np.inf
