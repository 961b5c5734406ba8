"""Softmax and log-softmax of big arrays: blocks of rows on all cores (``ops/softmax.py``) give
the same bits as the whole array at once, whatever the number of threads."""
from __future__ import annotations

import numpy as np
import pytest

import tape
from tape import _parallel
from tape.ops import softmax as S
from tape.ops._rule import rule_adjoint


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
    got = {}
    for cores in (1, 2, 3):
        small_blocks.setattr(_parallel, "CORES", cores)
        for twice in (False, True):
            got[cores, twice] = _step(v, dtype, log, twice)
    with np.errstate(all="ignore"):
        assert S._softmax_np(v, v.ndim - 1, log).tobytes() == _whole(v, log).tobytes()
    # the rule on the whole array (no blocks: the sizes are below ROWS_FROM again)
    small_blocks.setattr(S, "ROWS_FROM", 1 << 40)
    for twice in (False, True):
        ref = _step(v, dtype, log, twice)
        for cores in (1, 2, 3):
            for a, b in zip(got[cores, twice], ref):
                assert a.tobytes() == b.tobytes()
        assert ref[0].tobytes() == _whole(v, log).astype(dtype.np).tobytes() or np.isnan(v).any()


def test_blocks_are_taken(small_blocks):
    calls = []
    small_blocks.setattr(S, "rule_adjoint", lambda *a: calls.append(a) or rule_adjoint(*a))
    _step(np.ones((20, 10)), tape.float64, True)
    assert not calls
    _step(np.ones((20, 10)), tape.float64, True, dim=0)         # not over the last dim: the rule
    _step(np.ones((2, 10)), tape.float64, True)                 # small: the rule
    assert len(calls) == 2
