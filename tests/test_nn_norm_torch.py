"""Normalization layers against PyTorch 2.13: values, gradients to the second order, nodes, running
statistics after several steps, errors, module reprs and state-dict keys."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

import tape  # noqa: E402

_RNG = np.random.default_rng(7)
X, W, B = _RNG.standard_normal((3, 4, 5)), _RNG.standard_normal(4), _RNG.standard_normal(4)
W5, B5 = _RNG.standard_normal(5), _RNG.standard_normal(5)

CASES = {
    "layer_norm": lambda M, x, w, b, w5, b5: M.nn.functional.layer_norm(x, (5,), w5, b5),
    "layer_norm_2d_plain": lambda M, x, w, b, w5, b5: M.nn.functional.layer_norm(x, (4, 5)),
    "rms_norm": lambda M, x, w, b, w5, b5: M.nn.functional.rms_norm(x, (5,), w5),
    "rms_norm_eps": lambda M, x, w, b, w5, b5: M.nn.functional.rms_norm(x, (4, 5), eps=1e-3),
    "normalize": lambda M, x, w, b, w5, b5: M.nn.functional.normalize(x, p=3.0, dim=-1),
    "local_response_norm": lambda M, x, w, b, w5, b5: M.nn.functional.local_response_norm(x, 3, 0.1, 0.5, 2.0),
    "local_response_norm_4d": lambda M, x, w, b, w5, b5: M.nn.functional.local_response_norm(x.reshape(3, 4, 5, 1), 2),
    "batch_norm": lambda M, x, w, b, w5, b5: M.nn.functional.batch_norm(x, None, None, w, b, training=True),
    "batch_norm_eval": lambda M, x, w, b, w5, b5: M.nn.functional.batch_norm(
        x, M.linspace(-1, 1, 4, dtype=x.dtype), M.linspace(0.5, 2, 4, dtype=x.dtype), w, b),
    "group_norm": lambda M, x, w, b, w5, b5: M.nn.functional.group_norm(x, 2, w, b),
    "group_norm_plain": lambda M, x, w, b, w5, b5: M.nn.functional.group_norm(x, 4),
    "instance_norm": lambda M, x, w, b, w5, b5: M.nn.functional.instance_norm(x, weight=w, bias=b),
}


def _run(M, name: str, dtype: str):
    d = getattr(M, dtype)
    ins = [M.tensor(a, dtype=d, requires_grad=True) for a in (X, W, B, W5, B5)]
    y = CASES[name](M, *ins)
    seed = M.tensor(np.cos(np.arange(y.numel())).reshape(y.shape), dtype=d)
    gs = M.autograd.grad((y * seed).sum() + (y * y).sum(), ins, create_graph=True, allow_unused=True)
    s = sum((g * g).sum() for g in gs if g is not None and g.requires_grad)
    hs = M.autograd.grad(s, ins, allow_unused=True)
    return y, gs, hs


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_values_grads_and_nodes(name, dtype):
    y, gs, hs = _run(tape, name, dtype)
    ty, tgs, ths = _run(torch, name, dtype)
    rtol = 2e-5 if dtype == "float32" else 1e-10

    def close(a, b):
        # (float32 second derivatives cancel: tolerances relative to the largest entry)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol,
                                   atol=rtol * float(np.abs(b.detach().numpy()).max(initial=1.0)))
    close(y, ty)
    assert y.grad_fn.name() == ty.grad_fn.name()
    assert [n is None for n, _ in y.grad_fn.next_functions] == [n is None for n, _ in ty.grad_fn.next_functions]
    for order in ((gs, tgs), (hs, ths)):
        for a, b in zip(*order):
            assert (a is None) == (b is None), name
            if a is not None:
                close(a, b)


def _module_run(M, kind: str, cls: str, kwargs: dict, shapes: list):
    M.manual_seed(0)
    m = getattr(M.nn, cls)(**kwargs)
    outs = []
    for k, s in enumerate(shapes):
        x = M.tensor(np.sin(np.arange(np.prod(s)) * (k + 1.3)).reshape(s) * (k + 1), dtype=M.float32)
        outs.append(m(x).detach().numpy())
    m.eval()
    outs.append(m(x).detach().numpy())
    return m, outs


@pytest.mark.parametrize("cls, kwargs, shape", [
    ("BatchNorm1d", dict(num_features=3), (4, 3)),
    ("BatchNorm1d", dict(num_features=3, momentum=None, affine=False), (4, 3, 2)),
    ("BatchNorm2d", dict(num_features=2, track_running_stats=False), (3, 2, 2, 2)),
    ("BatchNorm3d", dict(num_features=2, bias=False), (2, 2, 1, 2, 2)),
    ("InstanceNorm1d", dict(num_features=3, track_running_stats=True, affine=True), (2, 3, 4)),
    ("InstanceNorm2d", dict(num_features=2), (2, 2, 3, 3)),
    ("InstanceNorm3d", dict(num_features=2, track_running_stats=True), (2, 2, 2, 2)),
    ("GroupNorm", dict(num_groups=2, num_channels=4), (2, 4, 3)),
    ("LayerNorm", dict(normalized_shape=(3, 2), bias=False), (2, 3, 2)),
    ("RMSNorm", dict(normalized_shape=3), (2, 3)),
    ("LocalResponseNorm", dict(size=3), (2, 4, 3)),
])
def test_modules_after_several_steps(cls, kwargs, shape):
    m, outs = _module_run(tape, "tape", cls, kwargs, [shape] * 3)
    tm, touts = _module_run(torch, "torch", cls, kwargs, [shape] * 3)
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    for a, b in zip(outs, touts):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(m.state_dict()[k].numpy(), v.numpy(), rtol=1e-6, atol=1e-7, err_msg=k)
        assert str(m.state_dict()[k].dtype) == str(v.dtype)


def _error(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
    except Exception as e:      # noqa: BLE001  (the type and message are the result)
        return type(e).__name__, str(e)
    return None


ERRORS = [
    lambda M, x: M.nn.functional.layer_norm(x, (3,)),
    lambda M, x: M.nn.functional.layer_norm(x, (5,), None, M.ones(4, dtype=x.dtype)),
    lambda M, x: M.nn.functional.layer_norm(x, (1, 3, 4, 5)),
    lambda M, x: M.nn.functional.layer_norm(x.double(), (5,), M.ones(5)),
    lambda M, x: M.nn.functional.rms_norm(x.long(), (5,)),
    lambda M, x: M.nn.functional.batch_norm(x, M.zeros(4), M.ones(4), M.ones(3), training=True),
    lambda M, x: M.nn.functional.batch_norm(x, None, M.ones(4)),
    lambda M, x: M.nn.functional.batch_norm(x.long(), None, None, training=True),
    lambda M, x: M.nn.functional.batch_norm(x[:1, :, :1], None, None, training=True),
    lambda M, x: M.nn.functional.group_norm(x, 3),
    lambda M, x: M.nn.functional.group_norm(x, 2, None, M.ones(3)),
    lambda M, x: M.nn.functional.group_norm(x[0, 0], 1),
    lambda M, x: M.nn.functional.group_norm(x.long(), 2),
    lambda M, x: M.nn.functional.instance_norm(x[:, :, :1]),
    lambda M, x: M.nn.BatchNorm1d(4)(x.reshape(3, 4, 5, 1)),
    lambda M, x: M.nn.InstanceNorm2d(4)(x[0, 0]),
    lambda M, x: M.nn.GroupNorm(3, 4),
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_errors(k):
    got = _error(lambda: ERRORS[k](tape, tape.tensor(X, dtype=tape.float32)))
    want = _error(lambda: ERRORS[k](torch, torch.tensor(X, dtype=torch.float32)))
    assert want is not None and got == want


@pytest.mark.parametrize("kwargs", [{}, dict(padding_idx=1), dict(padding_idx=-2, scale_grad_by_freq=True),
                                    dict(max_norm=1.0), dict(max_norm=0.5, norm_type=1.0)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_embedding(kwargs, dtype):
    idx = np.array([[1, 2], [4, 1]])
    out = []
    for M in (tape, torch):
        w = M.tensor(X.reshape(6, 10)[:5, :3], dtype=getattr(M, dtype), requires_grad=True)
        y = M.nn.functional.embedding(M.tensor(idx), w, **kwargs)
        (g,) = M.autograd.grad((y ** 3).sum(), w, create_graph=True)
        (h,) = M.autograd.grad((g * g).sum(), w)
        out.append((y.detach().numpy(), g.detach().numpy(), h.numpy(), w.detach().numpy(), y.grad_fn.name(),
                    y.grad_fn._saved_padding_idx, g.grad_fn.name(), M.nn.functional.one_hot(M.tensor(idx), 6).numpy()))
    for a, b in zip(*out):
        if isinstance(a, np.ndarray):
            np.testing.assert_allclose(a, b, rtol=1e-5)
        else:
            assert a == b


def test_embedding_module_initial_values():
    for M in (tape, torch):
        M.manual_seed(3)
    e, te = tape.nn.Embedding(4, 3, padding_idx=2, max_norm=2.0), torch.nn.Embedding(4, 3, padding_idx=2, max_norm=2.0)
    assert repr(e) == repr(te)
    np.testing.assert_array_equal(e.weight.detach().numpy(), te.weight.detach().numpy())


def test_saved_values_with_running_statistics():
    out = []
    for M in (tape, torch):
        x = M.tensor(X, requires_grad=True)
        rm, rv = M.zeros(4, dtype=M.float64), M.ones(4, dtype=M.float64)
        node = M.nn.functional.batch_norm(x, rm, rv, training=True, momentum=0.5).grad_fn
        out.append([node._saved_running_mean.numpy(), node._saved_running_var.numpy(), node._saved_result1.numpy(),
                    node._saved_result2.numpy(), node._saved_weight, node._saved_training])
        node = M.nn.functional.layer_norm(x, (4, 5)).grad_fn
        out[-1] += [node._saved_normalized_shape, node._saved_result2.numpy()]
    for a, b in zip(*out):
        if isinstance(a, np.ndarray):
            np.testing.assert_allclose(a, b, rtol=1e-12)
        else:
            assert a == b


@pytest.mark.parametrize("kwargs", [dict(mode="mean"), dict(mode="sum", per_sample_weights=True),
                                    dict(mode="max", padding_idx=1), dict(mode="mean", padding_idx=-5),
                                    dict(mode="sum", include_last_offset=True), dict(mode="mean", max_norm=1.0)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_embedding_bag(kwargs, dtype):
    out = []
    for M in (tape, torch):
        d = getattr(M, dtype)
        w = M.tensor(X.reshape(6, 10)[:, :3], dtype=d, requires_grad=True)
        p = M.tensor(np.linspace(0.5, 1.5, 5), dtype=d, requires_grad=True)
        k = dict(kwargs, per_sample_weights=p) if kwargs.get("per_sample_weights") else kwargs
        y = M.nn.functional.embedding_bag(M.tensor([1, 2, 4, 1, 5]), w, M.tensor([0, 2, 2, 5][:3 + bool(
            kwargs.get("include_last_offset"))]), **k)
        gs = M.autograd.grad((y ** 3).sum(), [w, p] if "per_sample_weights" in k else [w])
        out.append((y.detach().numpy(), *[g.numpy() for g in gs], w.detach().numpy(), y.grad_fn.name(),
                    [n is None for n, _ in y.grad_fn.next_functions]))
    for a, b in zip(*out):
        if isinstance(a, np.ndarray):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        else:
            assert a == b
    assert repr(tape.nn.EmbeddingBag(6, 3, **{k: v for k, v in kwargs.items() if k != "per_sample_weights"})) == \
        repr(torch.nn.EmbeddingBag(6, 3, **{k: v for k, v in kwargs.items() if k != "per_sample_weights"}))
