"""Lazy modules against PyTorch's: initial values after ``manual_seed`` (drawn at the dry run), outputs,
reprs before and after, state dicts, what an uninitialized tensor allows and the errors it raises."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tape

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

LAZY = [("LazyLinear", (3,), (2, 5)), ("LazyConv1d", (4, 3), (2, 6, 8)), ("LazyConv2d", (4, 3), (1, 2, 5, 5)),
        ("LazyConv3d", (2, 2), (1, 3, 3, 3, 3)), ("LazyConvTranspose1d", (4, 3), (2, 6, 5)),
        ("LazyConvTranspose2d", (3, 2), (1, 2, 3, 3)), ("LazyConvTranspose3d", (2, 2), (1, 2, 2, 2, 2)),
        ("LazyBatchNorm1d", (), (4, 3)), ("LazyBatchNorm2d", (), (2, 3, 2, 2)),
        ("LazyBatchNorm3d", (), (2, 3, 1, 2, 2)),
        ("LazyInstanceNorm1d", (), (2, 3, 4)), ("LazyInstanceNorm2d", (), (2, 3, 2, 2)),
        ("LazyInstanceNorm3d", (), (2, 3, 2, 2, 2))]


@pytest.mark.parametrize("name,args,shape", LAZY)
def test_dry_run_matches(name, args, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    results = []
    for lib in (torch, tape):
        lib.manual_seed(0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m = getattr(lib.nn, name)(*args)
        before = (repr(m), list(m.state_dict()), [repr(v) for v in m.state_dict().values()])
        out = m(lib.tensor(x))
        results.append((before, [str(w.message) for w in caught], repr(m), type(m).__name__,
                        {k: v.detach().numpy().copy() for k, v in m.state_dict().items()}, out.detach().numpy()))
    theirs, ours = results
    assert ours[:4] == theirs[:4]
    assert list(ours[4]) == list(theirs[4])
    for key in theirs[4]:
        np.testing.assert_allclose(ours[4][key], theirs[4][key], rtol=1e-6, atol=1e-7, err_msg=key)
    np.testing.assert_allclose(ours[5], theirs[5], rtol=1e-4, atol=1e-5)


def test_uninitialized_tensor_faces():
    def faces(lib):
        p, b = lib.nn.UninitializedParameter(), lib.nn.UninitializedBuffer()
        rows = []
        for name, use in [("repr", lambda: repr(p)), ("size", lambda: tuple(p.size())), ("dtype", lambda: str(p.dtype)),
                          ("rg", lambda: p.requires_grad), ("buf rg", lambda: b.requires_grad),
                          ("is_leaf", lambda: p.is_leaf), ("ndim", lambda: p.ndim), ("shape", lambda: p.shape),
                          ("mul", lambda: p * 2), ("add", lambda: p.add(1)), ("numel", lambda: p.numel()),
                          ("detach", lambda: p.detach()), ("share", lambda: p.share_memory_()),
                          ("buf neg", lambda: -b), ("to", lambda: str(b.to(lib.float64).dtype) + repr(b.double())),
                          ("is_lazy", lambda: lib.nn.parameter.is_lazy(b)),
                          ("isinstance", lambda: (isinstance(p, lib.nn.Parameter), isinstance(b, lib.nn.Buffer)))]:
            try:
                rows.append((name, "ok", str(use())))
            except Exception as e:     # noqa: BLE001 (the type and message are what is compared)
                rows.append((name, type(e).__name__, str(e)))
        return rows
    assert faces(tape) == faces(torch)


def test_state_dict_round_trips():
    torch.manual_seed(1)
    theirs = torch.nn.Linear(4, 3)
    lazy_t, lazy_o = torch.nn.LazyLinear(3), tape.nn.LazyLinear(3)
    lazy_t.load_state_dict(theirs.state_dict())
    lazy_o.load_state_dict({k: tape.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    assert repr(lazy_o) == repr(lazy_t) and type(lazy_o).__name__ == type(lazy_t).__name__
    x = np.ones((2, 4), np.float32)
    np.testing.assert_allclose(lazy_o(tape.tensor(x)).detach().numpy(), lazy_t(torch.tensor(x)).detach().numpy(),
                               rtol=1e-6)
    assert repr(lazy_o) == repr(lazy_t)
    errors = []
    for lib in (torch, tape):
        with pytest.raises(RuntimeError) as info:
            lib.nn.Linear(4, 3).load_state_dict(lib.nn.LazyLinear(3).state_dict())
        errors.append(str(info.value))
    assert errors[0] == errors[1]


def test_errors():
    cases = [lambda lib: lib.nn.LazyConv2d(4, 3, groups=2)(lib.ones(1, 3, 5, 5)),
             lambda lib: lib.nn.LazyConvTranspose2d(4, 3)(lib.ones(2, 2)),
             lambda lib: lib.nn.LazyInstanceNorm3d()(lib.ones(3, 2, 2, 2)),
             lambda lib: lib.nn.LazyLinear(2).requires_grad_(False),
             lambda lib: lib.nn.modules.lazy.LazyModuleMixin.initialize_parameters(lib.nn.LazyLinear(2))]
    for case in cases:
        found = []
        for lib in (torch, tape):
            with pytest.raises(Exception) as info:
                case(lib)
            found.append((type(info.value), str(info.value)))
        assert found[0][0] is found[1][0] and found[0][1] == found[1][1]
