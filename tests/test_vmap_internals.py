"""``tape._vmap_internals``: PyTorch's legacy prototype vmap (``torch._vmap_internals``), run as a loop
over the samples: its values, checks and messages, compared with PyTorch's."""
from __future__ import annotations

import pytest

import tape

pytestmark = pytest.mark.torch


def _both(fn):
    """``fn(module, vmap_internals)`` for torch and for tape."""
    torch = pytest.importorskip("torch")
    import torch._vmap_internals as tv
    return fn(torch, tv), fn(tape, tape._vmap_internals)


def _same(a, b):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif a is None:
        assert b is None
    else:
        assert tuple(a.shape) == tuple(b.shape) and a.dtype.is_floating_point == b.dtype.is_floating_point
        assert a.detach().numpy().tolist() == b.detach().numpy().tolist()


CASES = {
    "add with an unmapped input": lambda m, v: v._vmap(lambda t, u: t + u, in_dims=(1, None))(
        m.arange(6.0).reshape(2, 3), m.tensor([1.0, 2.0])),
    "two outputs, out_dims": lambda m, v: v._vmap(lambda t: (t.sum(0), t * 2), out_dims=(1, 0))(
        m.arange(24.0).reshape(2, 3, 4)),
    "nested in_dims": lambda m, v: v._vmap(lambda p: p[0] * p[1], in_dims=((0, 1),))(
        (m.arange(6.0).reshape(2, 3), m.arange(6.0).reshape(3, 2))),
    "an output not depending on the input": lambda m, v: v._vmap(lambda t: m.ones(3))(m.ones(2, 3)),
    "None passed through": lambda m, v: v._vmap(lambda t: (t, None), allow_none_pass_through=True)(
        m.arange(4.0).reshape(2, 2)),
}


@pytest.mark.parametrize("case", CASES)
def test_legacy_vmap_values_match_torch(case):
    _same(*_both(CASES[case]))


ERRORS = {
    "random op": lambda m, v: v._vmap(lambda t: m.randn_like(t))(m.ones(2, 3)),
    "negative in_dim": lambda m, v: v._vmap(lambda t: t, in_dims=-1)(m.ones(2, 3)),
    "non-tensor output": lambda m, v: v._vmap(lambda t: (t, None))(m.ones(2, 3)),
    "list output": lambda m, v: v._vmap(lambda t: [t])(m.ones(2, 3)),
    "out_dims per output": lambda m, v: v._vmap(lambda t: t, out_dims=(0, 1))(m.ones(2, 3)),
    "out_dims not ints": lambda m, v: v._vmap(lambda t: t, out_dims="a")(m.ones(2, 3)),
    "in_dims type": lambda m, v: v._vmap(lambda t: t, in_dims=[0])(m.ones(2, 3)),
    "no inputs": lambda m, v: v._vmap(lambda: m.ones(2))(),
    "mapped non-tensor": lambda m, v: v._vmap(lambda t, n: t, in_dims=(0, 0))(m.ones(2, 3), 1),
    "sizes differ": lambda m, v: v._vmap(lambda t, u: t + u)(m.ones(2, 3), m.ones(3, 3)),
    "structure": lambda m, v: v._vmap(lambda t, u: t, in_dims=(0, 0, 0))(m.ones(2, 3), m.ones(2, 3)),
}


@pytest.mark.parametrize("case", ERRORS)
def test_legacy_vmap_errors_match_torch(case):
    def run(m, v):
        with pytest.raises(Exception) as info:
            ERRORS[case](m, v)
        return type(info.value), str(info.value)
    theirs, ours = _both(run)
    assert ours == theirs


def test_legacy_public_vmap_warns_as_torch():
    with pytest.warns(FutureWarning, match=r"Please use `torch.vmap` instead of `torch._vmap_internals.vmap`."):
        f = tape._vmap_internals.vmap(lambda t: t * 2)
    assert f(tape.ones(2, 3)).tolist() == [[2.0] * 3] * 2
