"""Training loops over nn layers keep no memory per step.

The loops in ``test_semantics.py`` bound a whole run's growth by megabytes; a leak of a few hundred
bytes a step passes them (GELU's forward once kept a new function object per call, 200 bytes).
Here the growth over a window of steps after a warm-up is bounded by what numpy's and Python's
own caches and free lists hold (under 10 KiB, reached early), well below such a leak's.
"""
import gc
import tracemalloc

import pytest

import tape as torch
from tape import nn


def _growth(step, warm: int = 30, window: int = 150) -> int:
    for _ in range(warm):
        step()
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(warm):
            step()
        gc.collect()
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(window):
            step()
        gc.collect()
        end = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return end - start


def _mlp(act: nn.Module) -> nn.Module:
    return nn.Sequential(nn.Linear(6, 16), act, nn.LayerNorm(16), nn.Dropout(0.2), nn.Linear(16, 1))


@pytest.mark.parametrize("act", [nn.GELU()], ids=repr)
def test_an_nn_training_loop_keeps_nothing_per_step(act):
    torch.manual_seed(0)
    model = _mlp(act)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, t = torch.randn(8, 6), torch.randn(8, 1)

    def step():
        opt.zero_grad()
        loss = ((model(x) - t) ** 2).mean()
        loss.backward()
        opt.step()

    assert _growth(step) < 20 * 1024


def test_erf_faces_are_made_once():
    from tape.ops import elementwise

    before = len(elementwise.WRITES_OUT)
    x = torch.randn(5)
    for _ in range(3):
        nn.functional.gelu(x)
        torch.erf(x)
    assert len(elementwise.WRITES_OUT) == before
