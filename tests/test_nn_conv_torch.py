"""The convolutions (ops/conv.py, tape/nn/modules/conv.py) against PyTorch's: values, gradients and second
derivatives in float32 and float64, nodes, errors, and the modules' initial values, reprs and outputs."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tape

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

CASES = {
    "conv1d": (lambda M, x, w, b: M.nn.functional.conv1d(x, w, b, stride=3, padding=2), [(2, 2, 9), (3, 2, 4), (3,)]),
    "conv1d_unbatched_same": (lambda M, x, w: M.nn.functional.conv1d(x, w, padding="same", dilation=3),
                              [(2, 9), (3, 2, 2)]),
    "conv2d": (lambda M, x, w, b: M.nn.functional.conv2d(x, w, b), [(2, 4, 6, 5), (6, 4, 3, 3), (6,)]),
    "conv2d_all": (lambda M, x, w, b: M.nn.functional.conv2d(x, w, b, (2, 1), (1, 2), (2, 1), 2),
                   [(2, 4, 7, 6), (6, 2, 3, 2), (6,)]),
    "conv2d_same_even": (lambda M, x, w: M.nn.functional.conv2d(x, w, padding="same", dilation=(1, 2)),
                         [(1, 2, 5, 6), (3, 2, 2, 3)]),
    "conv2d_same_even_height_one": (lambda M, x, w: M.nn.functional.conv2d(x, w, padding="same"),
                                    [(1, 1, 1, 3), (2, 1, 2, 2)]),
    "conv3d": (lambda M, x, w, b: M.conv3d(x, w, b, (1, 2, 1), (0, 1, 1), 1, 3),
               [(1, 3, 4, 5, 4), (6, 1, 2, 3, 2), (6,)]),
    "conv_transpose1d": (lambda M, x, w: M.nn.functional.conv_transpose1d(x, w, stride=3, output_padding=2),
                         [(1, 2, 4), (2, 3, 3)]),
    "conv_transpose2d_all": (lambda M, x, w, b: M.nn.functional.conv_transpose2d(x, w, b, 2, 1, 1, 2, 2),
                             [(2, 4, 4, 3), (4, 3, 3, 2), (6,)]),
    "conv_transpose3d_unbatched": (lambda M, x, w: M.conv_transpose3d(x, w, dilation=(1, 2, 1), padding=(0, 1, 0)),
                                   [(2, 3, 3, 2), (2, 2, 2, 2, 3)]),
    "convolution": (lambda M, x, w, b: M.convolution(x, w, b, [2, 1], [1, 0], [1, 1], True, [1, 0], 1),
                    [(1, 2, 3, 3), (2, 3, 2, 2), (3,)]),
}


def _run(M, fn, arrays):
    xs = [M.tensor(a, requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = fn(M, *xs)
        gy = M.tensor(np.linspace(-1, 1, y.numel()).reshape(tuple(y.shape)).astype(arrays[0].dtype))
        grads = M.autograd.grad(y, xs, gy, create_graph=True)
        s = sum((g * g).sum() for g in grads)
        second = M.autograd.grad(s, xs, allow_unused=True, materialize_grads=True)
    return y, grads, second


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_values_gradients_and_second_derivatives(name, dtype):
    fn, shapes = CASES[name]
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    yt, gt, ht = _run(torch, fn, arrays)
    yp, gp, hp = _run(tape, fn, arrays)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(yp.detach().numpy(), yt.detach().numpy(), **tol)
    for a, b in zip(gp + hp, gt + ht):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **(tol if dtype == np.float32 else
                                                                              dict(rtol=1e-11, atol=1e-11)))
    assert yp.grad_fn.name() == yt.grad_fn.name()
    assert [f is None for f, _ in yp.grad_fn.next_functions] == [f is None for f, _ in yt.grad_fn.next_functions]
    if yt.grad_fn.name() == "ConvolutionBackward0" and "same" not in name:
        # (unbatched: PyTorch differentiates the unsqueeze by a squeeze, tape by a view; an even kernel's
        # 'same': PyTorch pads a copy of the input, tape pads inside the row)
        assert [g.grad_fn.name() for g in gp] == [g.grad_fn.name() for g in gt]
    assert [g.requires_grad for g in gp] == [g.requires_grad for g in gt]


def _errors(M):
    F = M.nn.functional
    x, w = M.ones(1, 2, 5, 5), M.ones(4, 2, 3, 3)
    wt = w.transpose(0, 1)
    return [
        lambda: F.conv2d(x[0, 0], w), lambda: F.conv1d(x, w), lambda: F.conv2d(x, w, stride=2, padding="same"),
        lambda: F.conv2d(x, w, padding="foo"), lambda: F.conv2d(x, w, padding=-1), lambda: F.conv2d(x, w, stride=0),
        lambda: F.conv2d(x, w, dilation=0), lambda: F.conv2d(x, w, dilation=-1), lambda: F.conv2d(x, w, groups=0),
        lambda: F.conv2d(x, w, groups=3), lambda: F.conv2d(x, w, groups=2), lambda: F.conv2d(x, M.ones(4, 3, 3, 3)),
        lambda: F.conv2d(x, M.ones(4, 2, 6, 6)), lambda: F.conv2d(x, w, M.ones(3)),
        lambda: F.conv2d(x, w, M.ones(4, 1)),
        lambda: F.conv2d(x.double(), w), lambda: F.conv2d(x, w.double()), lambda: F.conv2d(x, w, M.ones(4).double()),
        lambda: F.conv2d(x, w, stride=(1, 2, 3)), lambda: F.conv2d(x, w, padding=(1, 2, 3)),
        lambda: F.conv2d(x, w, dilation=(1, 2, 3)), lambda: F.conv2d(x, M.ones(0, 2, 3, 3)),
        lambda: F.conv2d(x, w, stride=1.5), lambda: F.conv2d(x, w, groups=0, stride=(1, 2, 3)),
        lambda: F.conv2d(x.bool(), w.bool()), lambda: F.conv1d(M.ones(1, 2, 5), M.ones(4, 2, 9)),
        lambda: F.conv3d(M.ones(1, 2, 5, 5, 5), M.ones(4, 2, 3, 3, 3), dilation=(0, 1, 1)),
        lambda: F.conv_transpose2d(x, wt, output_padding=1),
        lambda: F.conv_transpose2d(x, wt, output_padding=2, stride=2), lambda: F.conv_transpose2d(x, wt, padding=5),
        lambda: F.conv_transpose1d(M.ones(1, 2, 5), M.ones(2, 4, 3), padding=5),
        lambda: F.conv_transpose2d(x, w), lambda: F.conv_transpose2d(x, wt, groups=3),
        lambda: F.conv_transpose2d(x, wt, M.ones(3)), lambda: F.conv_transpose2d(x, wt, output_padding=-1),
        lambda: F.conv_transpose2d(x, wt, dilation=0), lambda: F.conv_transpose2d(x, wt, stride=0),
        lambda: F.conv_transpose3d(M.ones(1, 2, 5, 5, 5), M.ones(2, 4, 3, 3, 3), stride=2, output_padding=2),
        lambda: F.conv_transpose1d(M.ones(1, 2, 5), M.ones(2, 4, 3), stride=2, output_padding=2),
        lambda: F.conv_transpose2d(x, wt, padding="same"), lambda: M.conv_transpose2d(x, wt, padding="same"),
        lambda: F.conv_transpose2d(x, wt, None, 1, "same"), lambda: F.conv_transpose2d(x, wt, groups=1.5),
        lambda: M.convolution(x, w, None, 1, [0, 0], [1, 1], False, [0, 0], 1),
        lambda: M.convolution(x, w, None, [1, 1], [0, 0], [1, 1], 1, [0, 0], 1),
    ]


def test_errors_are_pytorchs():
    for k, (ft, fp) in enumerate(zip(_errors(torch), _errors(tape))):
        with pytest.raises(Exception) as et:
            ft()
        with pytest.raises(Exception) as ep:
            fp()
        assert type(ep.value) is type(et.value), (k, et.value, ep.value)
        assert str(ep.value) == str(et.value), k


MODULES = [("Conv1d", (2, 4, 3), dict(padding=1, padding_mode="circular")),
           ("Conv2d", (2, 4, 3), dict(padding="same", dilation=2, bias=False)),
           ("Conv2d", (2, 4, 2), dict(padding="same", padding_mode="replicate")),
           ("Conv3d", (2, 4, 2), dict(stride=(1, 2, 1), padding=1, padding_mode="reflect")),
           ("ConvTranspose1d", (2, 3, 3), dict(stride=2, output_padding=1)),
           ("ConvTranspose2d", (2, 4, (3, 2)), dict(stride=2, output_padding=1, groups=2, dilation=2)),
           ("ConvTranspose3d", (1, 2, 2), dict(bias=False))]


@pytest.mark.parametrize("k", range(len(MODULES)))
def test_modules_after_manual_seed(k):
    name, args, kw = MODULES[k]
    torch.manual_seed(3)
    m = getattr(torch.nn, name)(*args, **kw)
    tape.manual_seed(3)
    t = getattr(tape.nn, name)(*args, **kw)
    assert repr(t) == repr(m)
    assert [n for n, _ in t.named_parameters()] == [n for n, _ in m.named_parameters()]
    for p, q in zip(t.parameters(), m.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    x = np.random.default_rng(0).standard_normal((2, args[0]) + (5,) * len(m.kernel_size)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yt, yp = m(torch.tensor(x)), t(tape.tensor(x))
    np.testing.assert_allclose(yp.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    yt.sum().backward()
    yp.sum().backward()
    for p, q in zip(t.parameters(), m.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-4)


def _saved(M, transposed, bias):
    x = M.ones(1, 2, 5, 5, requires_grad=True)
    w = M.ones(2, 3, 3, 3, requires_grad=True) if transposed else M.ones(3, 2, 3, 3, requires_grad=True)
    b = M.ones(3, requires_grad=True) if bias else None
    F = M.nn.functional
    y = F.conv_transpose2d(x, w, b, 2, 1, 1) if transposed else F.conv2d(x, w, b, 2, 1)
    shown = []
    for node in (y.grad_fn,) + tuple(t.grad_fn for t in M.autograd.grad(y.sum(), (x, w), create_graph=True)):
        values = {}
        for a in sorted(a for a in dir(node) if a.startswith("_saved")):
            v = getattr(node, a)
            values[a] = tuple(v.shape) if hasattr(v, "shape") else v
        shown.append((node.name(), values))
    return shown


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_saved_values_of_both_nodes(transposed, bias):
    assert _saved(tape, transposed, bias) == _saved(torch, transposed, bias)


BLOCKS = {
    "unfold": (lambda M, x: M.nn.functional.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)), (2, 3, 5, 6)),
    "unfold_unbatched": (lambda M, x: M.nn.functional.unfold(x, 2), (3, 4, 4)),
    "fold": (lambda M, x: M.nn.functional.fold(x, (5, 6), (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
             (2, 18, 12)),
    "fold_unbatched_module": (lambda M, x: M.nn.Fold((4, 4), 2)(x), (12, 9)),
}


@pytest.mark.parametrize("name", sorted(BLOCKS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unfold_fold_against_pytorch(name, dtype):
    fn, shape = BLOCKS[name]
    a = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    got = []
    for M in (torch, tape):
        x = M.tensor(a, requires_grad=True)
        y = fn(M, x)
        g, = M.autograd.grad((y * y).sum(), x, create_graph=True)
        h, = M.autograd.grad((g * g).sum(), x)
        got.append((y.detach().numpy(), g.detach().numpy(), h.numpy(), y.grad_fn.name(), g.grad_fn.name()))
    for p, q in zip(*got):
        if isinstance(p, str):
            assert p == q
        else:
            np.testing.assert_allclose(q, p, rtol=1e-6, atol=1e-6)


def _block_errors(M):
    F = M.nn.functional
    x, c = M.ones(2, 3, 5, 6), M.ones(2, 12, 20)
    return [lambda: F.unfold(x, 0), lambda: F.unfold(x, 2, stride=0), lambda: F.unfold(x, 2, dilation=0),
            lambda: F.unfold(x, 2, padding=-1), lambda: F.unfold(x, (2, 2, 2)), lambda: F.unfold(x, 7),
            lambda: F.unfold(M.ones(1, 1, 1, 1, 1), 2), lambda: F.unfold(M.ones(2, 0, 5, 6), 2),
            lambda: F.unfold(x[0, 0], 2), lambda: F.unfold(x.int(), 2),
            lambda: F.fold(c, (5, 6), 3), lambda: F.fold(c, (5, 7), 2), lambda: F.fold(c[0, 0], (5, 6), 2),
            lambda: F.fold(M.ones(2, 12, 20, 1), (5, 6), 2), lambda: F.fold(c, (5, 6), 0),
            lambda: F.fold(c, (5, 6), 2, stride=0), lambda: F.fold(c, (5, 6), 2, padding=-1),
            lambda: F.fold(c, (5, 6), 2, dilation=0), lambda: F.fold(c, 5, 2), lambda: F.fold(c, (5, 6, 7), 2),
            lambda: F.fold(M.ones(2, 12, 0), (1, 1), 2)]


def test_unfold_fold_errors_are_pytorchs():
    for k, (ft, fp) in enumerate(zip(_block_errors(torch), _block_errors(tape))):
        with pytest.raises(Exception) as et:
            ft()
        with pytest.raises(Exception) as ep:
            fp()
        assert type(ep.value) is type(et.value), (k, et.value, ep.value)
        assert str(ep.value) == str(et.value), k


def _train(M):
    M.manual_seed(0)
    nn = M.nn
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3, stride=2, groups=2), nn.Tanh(),
                        nn.ConvTranspose2d(8, 2, 2, stride=2), nn.Flatten(), nn.Linear(2 * 6 * 6, 3)).double()
    rng = np.random.default_rng(0)
    x, t = M.tensor(rng.standard_normal((5, 1, 7, 7))), M.tensor(rng.integers(0, 3, 5))
    losses = []
    for _ in range(4):
        net.zero_grad()
        loss = nn.functional.cross_entropy(net(x), t)
        loss.backward()
        with M.no_grad():
            for p in net.parameters():
                p -= 0.1 * p.grad
        losses.append(loss.item())
    return losses


def test_a_small_cnn_trains_as_pytorchs():
    np.testing.assert_allclose(_train(tape), _train(torch), rtol=1e-13, atol=1e-13)
