"""Tests over the op registry: every registered op is differentiated, to second order, by some test.

``test_grad_ops.py`` holds the main op table; the ops below are the ones only
reached through other calls (casts, views, indexing, engine-made rows).  The
coverage test runs everything and fails for a registered op code that no
gradient test records, so an op cannot be added without its tests.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

import tape
import tape.nn.functional as F
from tape._sweep import ADJOINTS
from tape._sweep import sweep_rows as sweep
from tape.ops import PYTHON, REGISTRY
from tape.ops import linalg as L
from tape.ops._spec import LISTED
from tape.ops.inplace import NO_DERIVATIVE
from tape.ops.counting import NODIFF
from tape.ops.distributions import STANDARD_GAMMA, STANDARD_GAMMA_GRAD
from tape.ops.samplers import POISSON
from tape.ops.integer import NO_DERIVATIVE2
from tape.ops.ldl import LDL_FACTOR, LDL_SOLVE
from tape.ops import margin_losses as ML
from tape.ops.no_grad_grad import NO_GRAD_GRAD
from tape.ops.ctc import CTC
from tape.ops.noise import RRELU_
from tape.ops.ternary import ADDCDIV_INT

from . import test_grad_ops as G


def _weighted(out, seed=0):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    rng = np.random.default_rng(seed)
    total = 0
    for o in outs:
        w = tape.tensor(rng.uniform(0.5, 2.0, size=tuple(o.shape)), dtype=o.dtype)
        total = total + (o * w).sum()
    return total


# Float32 casts are linear up to rounding: a wide step keeps finite differences accurate.
WIDE_STEP = {"double", "to_float_mixed"}

EXTRA = {
    "clone": (lambda x: x.clone(), [(3, 2)]),
    "double": (lambda x: x.float().double() * 2.0, [(4,)]),
    "to_float_mixed": (lambda x, y: x.float() * y, [(3,), (3,)]),
    "squeeze_unsqueeze": (lambda x: x.unsqueeze(0).squeeze(0).unsqueeze(-1).squeeze(), [(2, 3)]),
    "expand": (lambda x: x.expand(4, 3, 2), [(3, 1)]),
    "broadcast_middle": (lambda x, y: x * y, [(3, 1), (1, 4)]),
    "transpose": (lambda x: x.transpose(0, 2), [(2, 3, 4)]),
    "t": (lambda x: x.t(), [(2, 3)]),
    "select": (lambda x: x.select(1, 2), [(2, 3, 2)]),
    "select_product": (lambda x: x.select(0, 1) * x.select(0, 0).sin(), [(2, 3)]),
    "unbind_product": (lambda x: x.unbind()[0] * x.unbind()[2], [(3,)]),
    "getitem_int": (lambda x: x[1], [(3, 2)]),
    "getitem_slice": (lambda x: x[1:, ::2], [(3, 5)]),
    "getitem_mask": (lambda x: x[x > 0.1], [(6,)]),
    "getitem_list": (lambda x: x[[0, 2, 2]], [(4, 2)]),
    "setitem": (lambda x, y: _setitem(x, y), [(5,), (2,)]),
    "reciprocal": (lambda x: (x * x + 1.0).reciprocal(), [(3,)]),
    "batched_matmul": (lambda x, y: x @ y, [(2, 3, 4), (4, 5)]),
    "batched_matvec": (lambda x, y: x @ y, [(2, 3, 4), (4,)]),
    # Over SMALL_PRODUCT multiply-adds: a MATMUL_BLAS row, from few elements (k = 1).
    "matmul_blas": (lambda x, y: _blas_product(x, y).tanh(), [(4, 3), (3, 5)]),
    "sum_keep_mask": (lambda x: (x.relu() + x.abs()).sum(1), [(3, 4)]),
    "masked": (lambda x, y: x._masked(y._mask(0) * 0.5), [(3, 4), (4,)]),       # mask kind 0: y > 0
    "fill": (lambda x: (x * 1.0).fill_(2.0) * x + (x * 1.0).zero_(), [(3,)]),
    "custom_function": (lambda x, y: _Product.apply(x.sin(), y) * x, [(3,), (3,)]),
    # (the nn layers' rows, ops/padding.py: a gather, its scatter in the recorded backward, a constant pad)
    "pads": (lambda x: (F.pad(x, (2, 1), mode="reflect").sin().sum() + F.pad(x, (1, 0, 0, 1), mode="replicate")
                        .cos().sum() + (F.pad(x, (1, -1), value=0.5) ** 2).sum()), [(2, 3, 4)]),
    # (ops/pooling.py: a linear map and its transpose, a max pool's gather, an unpool)
    "pools": (lambda x: ((F.avg_pool2d(x, 2, 1) ** 2).sum() + F.max_pool2d(x, 2).sin().sum()
                         + (F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2) ** 2).sum()), [(1, 2, 4, 4)]),
    # (an upsampling's backward: a LIN_T row; an average pool's holds the pool's input too, LIN_TX)
    "upsample": (lambda x: (F.interpolate(x, scale_factor=2, mode="linear") ** 2).sum(), [(1, 2, 3)]),
    "shuffles": (lambda x: (F.pixel_shuffle(x, 2) ** 2).sum() + F.channel_shuffle(x, 2).sin().sum(), [(1, 4, 2, 1)]),
    "fractional_max_pool": (lambda x: F.fractional_max_pool2d(x, 2, output_size=2, _random_samples=tape.full(
        (1, 2, 2), 0.4, dtype=x.dtype)).sin().sum(), [(1, 2, 4, 4)]),
}


class _Product(tape.autograd.Function):
    """A custom Function written with tape ops, so that its backward is differentiable."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y, g * x


def _blas_product(x, y):
    """``x @ y`` recorded as a MATMUL_BLAS row however small (finite differences over a product
    big enough for BLAS take a minute)."""
    small = L.SMALL_PRODUCT
    L.SMALL_PRODUCT = 0
    try:
        return x @ y
    finally:
        L.SMALL_PRODUCT = small


def _setitem(x, y):
    z = x * 1.0
    z[1:3] = y
    return z


def _eval(fn, arrays, requires=True):
    ts = [tape.tensor(a, dtype=tape.float64, requires_grad=requires) for a in arrays]
    return ts, fn(*ts)


def _fd_grad(fn, arrays, i, eps):
    ref = np.zeros_like(arrays[i])
    for idx in np.ndindex(arrays[i].shape):
        vals = []
        for s in (1, -1):
            arrs = [a.copy() for a in arrays]
            arrs[i][idx] += s * eps
            with tape.no_grad():
                _, out = _eval(fn, arrs, requires=False)
                vals.append(_weighted(out).item())
        ref[idx] = (vals[0] - vals[1]) / (2 * eps)
    return ref


def _arrays(shapes, seed):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.5, 1.5, size=s) for s in shapes]


@pytest.mark.parametrize("name", sorted(EXTRA))
@settings(deadline=None, max_examples=5)
@given(seed=st.integers(0, 2**16))
def test_extra_op_gradients(name, seed):
    fn, shapes = EXTRA[name]
    arrays = _arrays(shapes, seed)
    ts, out = _eval(fn, arrays)
    loss = _weighted(out)
    plain = tape.autograd.grad(loss, ts, retain_graph=True)
    recorded = tape.autograd.grad(loss, ts, create_graph=True)
    wide = name in WIDE_STEP
    for i, (p, r) in enumerate(zip(plain, recorded)):
        ref = _fd_grad(fn, arrays, i, 1e-2 if wide else 1e-6)
        np.testing.assert_allclose(p.numpy(), ref, rtol=1e-4 if wide else 1e-5, atol=1e-6,
                                   err_msg=f"{name} input {i}")
        np.testing.assert_allclose(r.detach().numpy(), p.numpy(), rtol=1e-12, atol=1e-12)
    # second order: d/dx of (grad . v) against finite differences of the first gradient
    v = _arrays(shapes, seed + 1)
    s = sum((r * tape.tensor(vi)).sum() for r, vi in zip(recorded, v) if r.requires_grad)
    if isinstance(s, tape.Tensor) and s.requires_grad:
        second = tape.autograd.grad(s, ts, allow_unused=True)
        for i, h in enumerate(second):
            eps = 1e-2 if wide else 1e-5
            ref = np.zeros_like(arrays[i])
            for idx in np.ndindex(arrays[i].shape):
                acc = []
                for sgn in (1, -1):
                    arrs = [a.copy() for a in arrays]
                    arrs[i][idx] += sgn * eps
                    t2, o2 = _eval(fn, arrs)
                    g2 = tape.autograd.grad(_weighted(o2), t2, allow_unused=True)
                    acc.append(sum(float((gg.numpy() * vi).sum()) for gg, vi in zip(g2, v) if gg is not None))
                ref[idx] = (acc[0] - acc[1]) / (2 * eps)
            got = np.zeros_like(ref) if h is None else h.numpy()
            np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5, err_msg=f"{name} 2nd, input {i}")


def _codes_recorded(fn, arrays) -> set:
    ts, out = _eval(fn, arrays)
    loss = _weighted(out)
    gs = tape.autograd.grad(loss, ts, create_graph=True, allow_unused=True)
    codes = set()
    for t in [loss, *(g for g in gs if g is not None and g._tape is not None)]:
        codes.update(int(c) for c in t._tape.op[:t._tape.n])
    return codes


def _example(strategy, draw_seed: int):
    """A random example of ``strategy``, the same on every run: ``strategy.example()`` generates ten
    (a tenth of this test's time), and hypothesis's first example is the simplest (0-d inputs)."""
    drawn = []

    @seed(draw_seed)
    @settings(database=None, max_examples=2, phases=[Phase.generate], deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(example):
        drawn.append(example)

    draw()
    return drawn[-1]


def test_every_registered_op_is_gradient_tested():
    seen = set()
    for name, (fn, shapes) in EXTRA.items():
        seen |= _codes_recorded(fn, _arrays(shapes, 0))
    seen.add(NO_DERIVATIVE)     # (PyTorch's in-place asinh_ ...: a node whose backward raises, test_inplace_variants)
    seen.update((LDL_FACTOR, LDL_SOLVE))    # (no derivative in PyTorch either: tests/test_linalg4.py)
    seen.add(NODIFF)        # (histogram, unique ...: PyTorch's nodes without a derivative, tests/test_counting.py)
    seen.add(NO_DERIVATIVE2)        # (floor_divide, heaviside: PyTorch's NotImplemented node, tests/test_special.py)
    # (multi_margin_loss, multilabel_margin_loss: first order only, their gradients behind PyTorch's NotImplemented
    # node; gradcheck in tests/test_nn_loss3.py)
    seen.update((ML.MULTI_MARGIN, ML.MULTILABEL_MARGIN, NO_GRAD_GRAD, CTC))     # (and ctc_loss: test_nn_loss3*)
    seen.add(RRELU_)        # (rrelu_: gradcheck in tests/test_nn_noise.py, against PyTorch in test_nn_noise_torch.py)
    seen.add(ADDCDIV_INT)       # (addcdiv by an integer divisor: PyTorch's backward fails, tests/test_elementwise3.py)
    seen.update((STANDARD_GAMMA, STANDARD_GAMMA_GRAD))     # (random, first order only as PyTorch's: tests/test_distributions.py)
    seen.add(POISSON)       # (random, its gradient zeros as PyTorch's: tests/test_misc_ops.py)
    # (a random example may miss its op's row, e.g. an empty batch: draw again while a code is missing)
    for attempt in range(5):
        for name, op in G.OPS.items():
            case = _example(op.inputs, zlib.crc32(name.encode()) + attempt)
            seen |= _codes_recorded(lambda *xs: op.fn(tape, *xs), [np.asarray(a, np.float64) for a in case])
        if all(c in seen for c in REGISTRY):
            break
    missing = {REGISTRY[c].name + f" ({c})" for c in REGISTRY if c not in seen}
    assert not missing, f"registered ops without a gradient test: {sorted(missing)}"


def test_every_op_has_derivative_rule_and_name():
    for code, op in REGISTRY.items():
        assert callable(op.vjp), op.name
        assert op.grad_fn.endswith(("Backward0", "Backward1", "Backward2", "Backward4", "CopyBackwards", "Backward0_copy")) or \
            code in (LDL_FACTOR, LDL_SOLVE, NODIFF, NO_DERIVATIVE2, NO_GRAD_GRAD), op.name     # (PyTorch's node without a derivative: NotImplemented)
        in_range = code < PYTHON.start
        listed = op.arity == LISTED or op.multi      # (its vjp runs in Python on plain tensors)
        assert in_range or listed or op.py_adjoint is not None, f"{op.name}: a PYTHON-range op needs py_adjoint"


def test_one_compiled_sweep_whatever_the_shapes_and_dtypes():
    for dtype in (tape.float32, tape.float64):
        for shape in [(), (3,), (2, 3), (2, 1, 4)]:
            x = tape.ones(shape, dtype=dtype, requires_grad=True)
            y = ((x * 2.0).sin() + x.double().sum() - x.float().mean()).sum()
            y.backward()
    assert len(sweep.signatures) == 1, sweep.signatures
    # Each family kernel is called by address with the one signature of its arena (``_lazy``).
    for kernel in ADJOINTS.kernels:
        assert len(kernel.signatures) <= 2, kernel.signatures


# (the last: a compiled row whose kernels call the BLAS, ``ops/_gemm.py``)
@pytest.mark.parametrize("shapes", [((5,), (5,)), ((3, 5), (5,)), ((5,), (5, 4)), ((3, 5), (5, 4)),
                                    ((20, 30), (30, 40))])
def test_matmul_numba_and_blas_adjoints_agree(shapes, monkeypatch):
    from tape.ops import linalg
    arrays = _arrays(shapes, 7)
    grads = {}
    for name, threshold in (("numba", 1 << 30), ("blas", 0)):
        monkeypatch.setattr(linalg, "SMALL_PRODUCT", threshold)
        for dtype in (tape.float32, tape.float64):
            ts = [tape.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
            out = ts[0] @ ts[1]
            grads[name, dtype] = [g.numpy() for g in tape.autograd.grad(_weighted(out), ts)]
    for dtype, tol in ((tape.float32, 1e-5), (tape.float64, 1e-12)):
        for gn, gb in zip(grads["numba", dtype], grads["blas", dtype]):
            np.testing.assert_allclose(gn, gb, rtol=tol, atol=tol)
