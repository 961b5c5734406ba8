"""The ``*_copy`` functions, ``rsub``, ``fill``, ``as_strided_scatter``, ``slice_inverse`` and
``nonzero_static`` against PyTorch: values, nodes and what they show saved, gradients of the first
and second order, errors."""
from __future__ import annotations

import numpy as np
import pytest

import tape

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

X = np.random.RandomState(0).randn(3, 4)
Y = np.random.RandomState(1).randn(4)

CALLS = {
    "alias_copy": lambda M, x, y: M.alias_copy(x),
    "as_strided_copy": lambda M, x, y: M.as_strided_copy(x, (2, 2), (1, 2), 1),
    "diagonal_copy": lambda M, x, y: M.diagonal_copy(x, 1, -1, 0),
    "expand_copy": lambda M, x, y: M.expand_copy(x, (2, -1, 4)),
    "narrow_copy": lambda M, x, y: M.narrow_copy(x, -1, 1, 2),
    "permute_copy": lambda M, x, y: M.permute_copy(x, (1, -2)),
    "select_copy": lambda M, x, y: M.select_copy(x, -1, -1),
    "slice_copy": lambda M, x, y: M.slice_copy(x, 1, None, None, 2),
    "slice_copy_clamped": lambda M, x, y: M.slice_copy(x, -1, -3, 100),
    "split_copy": lambda M, x, y: M.split_copy(x, 3, 1),
    "split_with_sizes_copy": lambda M, x, y: M.split_with_sizes_copy(x, [1, 3], -1),
    "squeeze_copy": lambda M, x, y: M.squeeze_copy(x[None]),
    "squeeze_copy_dim": lambda M, x, y: M.squeeze_copy(x[None], 0),
    "squeeze_copy_dims": lambda M, x, y: M.squeeze_copy(x[None], (0, -1)),
    "t_copy": lambda M, x, y: M.t_copy(x),
    "transpose_copy": lambda M, x, y: M.transpose_copy(x, 0, -1),
    "unbind_copy": lambda M, x, y: M.unbind_copy(x, 1),
    "unfold_copy": lambda M, x, y: M.unfold_copy(x, 1, 2, 1),
    "unsqueeze_copy": lambda M, x, y: M.unsqueeze_copy(x, -1),
    "view_copy": lambda M, x, y: M.view_copy(x.t(), (2, -1)),
    "rsub": lambda M, x, y: M.rsub(x, y, alpha=2),
    "rsub_number": lambda M, x, y: M.rsub(x, 2.5, alpha=3),
    "rsub_plain": lambda M, x, y: M.rsub(x, 2.5),
    "fill": lambda M, x, y: M.fill(x, 2) * x,
    "fill_tensor": lambda M, x, y: M.fill(x, y[1]) * x,
    "as_strided_scatter_src": lambda M, x, y: M.as_strided_scatter(x.detach(), y[:4].reshape(2, 2), (2, 2), (1, 2)),
    "as_strided_scatter_overlap": lambda M, x, y: M.as_strided_scatter(x.detach(), y.reshape(2, 2), (2, 2), (1, 1)),
    "slice_inverse": lambda M, x, y: M.slice_inverse(x[:, 1:3], x, 1, 1, 3),
}


def _saved(node) -> dict:
    """What ``node`` shows saved (a tensor as its shape)."""
    shown = {a: getattr(node, a) for a in dir(node) if a.startswith("_saved_")}
    return {a: tuple(v.shape) if hasattr(v, "grad_fn") else v for a, v in shown.items()}


def _run(M, call, dtype):
    x = M.tensor(X, dtype=dtype, requires_grad=True)
    y = M.tensor(Y, dtype=dtype, requires_grad=True)
    out = call(M, x, y)
    outs = list(out) if isinstance(out, tuple) else [out]
    loss = sum((o * M.arange(o.numel(), dtype=dtype).reshape(o.shape).sin()).sum() for o in outs)
    grads = M.autograd.grad(loss, (x, y), create_graph=True, allow_unused=True)
    second = sum((g * g).sum() for g in grads if g is not None and g.requires_grad)
    grads2 = M.autograd.grad(second, (x, y), allow_unused=True) if isinstance(second, M.Tensor) else (None, None)
    return (type(out).__name__, [o.detach().numpy() for o in outs], [type(o.grad_fn).__name__ for o in outs],
            _saved(outs[0].grad_fn), [o.is_contiguous() for o in outs],
            [None if g is None else g.detach().numpy() for g in grads],
            [None if g is None else g.numpy() for g in grads2])


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_against_pytorch(name, dtype):
    mine = _run(tape, CALLS[name], getattr(tape, dtype))
    theirs = _run(torch, CALLS[name], getattr(torch, dtype))
    assert mine[0] == theirs[0] and mine[2:5] == theirs[2:5]
    tol = dict(rtol=1e-12, atol=0) if dtype == "float64" else dict(rtol=1e-6, atol=1e-6)
    for a, b in zip(mine[1], theirs[1]):
        np.testing.assert_allclose(a, b, **tol)
    for ours, ref in zip(mine[5] + mine[6], theirs[5] + theirs[6]):
        assert (ours is None) == (ref is None)
        if ref is not None:
            np.testing.assert_allclose(ours, ref, **tol)


ERRORS = [
    lambda M: M.t_copy(M.ones(2, 2, 2)),
    lambda M: M.select_copy(M.ones(3, 4), 1, 7),
    lambda M: M.narrow_copy(M.ones(3, 4), 1, 3, 2),
    lambda M: M.rsub(M.ones(2, dtype=M.bool), M.ones(2, dtype=M.bool)),
    lambda M: M.rsub(M.ones(2, dtype=M.long), 3, alpha=1.5),
    lambda M: M.fill(M.ones(3), M.ones(1)),
    lambda M: M.as_strided_scatter(M.ones(3, 4), M.ones(3, 2), (2, 2), (1, 2)),
    lambda M: M.as_strided_scatter(M.ones(3, 4), M.ones(2, 2), (2, 2), (10, 2)),
    lambda M: M.slice_inverse(M.ones(3, 3), M.ones(3, 4), 1, 0, 2),
    lambda M: M.nonzero_static(M.ones(2), size=-1),
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_errors_against_pytorch(k):
    with pytest.raises(Exception) as theirs:
        ERRORS[k](torch)
    with pytest.raises(type(theirs.value)) as mine:
        ERRORS[k](tape)
    assert str(mine.value) == str(theirs.value)


def test_fill_of_an_integer_tensor_and_nonzero_static_values():
    for M in (tape, torch):
        assert M.fill(M.arange(3), 2.7).tolist() == [2, 2, 2]
    a = torch.tensor([[0, 2, 0], [5, 0, 1]])
    for size, fill in ((2, -1), (5, 9), (0, 3)):
        np.testing.assert_array_equal(tape.nonzero_static(tape.tensor(a.numpy()), size=size, fill_value=fill).numpy(),
                                      torch.nonzero_static(a, size=size, fill_value=fill).numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_poisson_and_binomial_draw_pytorch_s_samples(dtype):
    rng = np.random.RandomState(3)
    rates = np.concatenate([rng.uniform(0, 30, 150), [0.0, 10.0, 9.99, 1e4]])
    count = np.concatenate([rng.randint(0, 200, 150).astype(float), [0.0, 5.0, 1e6, 3.0]])
    prob = np.concatenate([rng.uniform(0, 1, 150), [0.5, 0.0, 0.999, 1.0]])
    for draw in (lambda M: M.poisson(M.tensor(rates, dtype=getattr(M, dtype))),
                 lambda M: M.binomial(M.tensor(count, dtype=getattr(M, dtype)), M.tensor(prob, dtype=getattr(M, dtype)))):
        seen = []
        for M in (tape, torch):
            M.manual_seed(7)
            seen.append((draw(M).numpy().tolist(), M.rand(2).numpy().tolist()))   # (and the generator after)
        assert seen[0] == seen[1]


NATIVE = {
    "native_layer_norm": lambda M, x, w: M.native_layer_norm(x, (5,), w[:5], w[:5] * 2, 1e-5),
    "native_batch_norm": lambda M, x, w: M.native_batch_norm(x, w, w, M.zeros(6, dtype=x.dtype),
                                                             M.ones(6, dtype=x.dtype), True, 0.1, 1e-5),
    "native_batch_norm_eval": lambda M, x, w: M.native_batch_norm(x, w, None, M.zeros(6, dtype=x.dtype) + 0.5,
                                                                  M.ones(6, dtype=x.dtype) * 2, False, 0.1, 1e-5),
    "native_group_norm": lambda M, x, w: M.native_group_norm(x, w, w, 2, 6, 5, 3, 1e-5),
    "native_dropout": lambda M, x, w: M.native_dropout(x, 0.3, True),
    "native_dropout_none": lambda M, x, w: M.native_dropout(x, 0.6, None),
    "native_dropout_eval": lambda M, x, w: M.native_dropout(x, 0.3, False),
    "norm_except_dim_0": lambda M, x, w: M.norm_except_dim(x, 2, 0),
    "norm_except_dim_1": lambda M, x, w: M.norm_except_dim(x, 3, 1),
    "norm_except_dim_all": lambda M, x, w: M.norm_except_dim(x, 2, -1),
}


@pytest.mark.parametrize("name", sorted(NATIVE))
def test_native_forms_against_pytorch(name):
    x0, w0 = np.random.RandomState(4).randn(2, 6, 5), np.random.RandomState(5).randn(6)
    seen = []
    for M in (tape, torch):
        M.manual_seed(3)
        x, w = (M.tensor(a, requires_grad=True) for a in (x0, w0))
        r = NATIVE[name](M, x, w)
        outs = list(r) if isinstance(r, tuple) else [r]
        loss = (outs[0] * M.arange(outs[0].numel(), dtype=M.float64).reshape(outs[0].shape).sin()).sum()
        grads = M.autograd.grad(loss, (x, w), allow_unused=True)
        seen.append(([o.detach().numpy() for o in outs], [None if g is None else g.numpy() for g in grads],
                     type(outs[0].grad_fn).__name__, [o.dtype for o in outs]))
    (ours, our_grads, our_node, our_dtypes), (theirs, their_grads, their_node, their_dtypes) = seen
    assert our_node == their_node and str(our_dtypes) == str(their_dtypes)
    for a, b in zip(ours + our_grads, theirs + their_grads):
        assert (a is None) == (b is None)
        if b is not None:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
