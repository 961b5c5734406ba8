"""The compiled recorded backward (``tape/_record.py``) and the numba forward kernels it uses.

With ``create_graph=True`` the backward is written by ``record_sweep``, which
replays derivative programs traced from each op's ``vjp`` rule
(``tape/_programs.py``) and hands rows without a program to Python
(``_engine._python_rule``).  These tests check:

* for every op of ``test_grad_ops.OPS``: first and second derivatives recorded
  by the compiled sweep agree with the same derivatives recorded with every
  program disabled (every row then runs its rule in Python), values and
  graph metadata (``requires_grad``, ``grad_fn``);
* the numba forward kernels (``unary_forward``, ``binary_forward``,
  ``reduce_forward_kernel``, ``shape_forward``) against the numpy forwards,
  in both dtypes and with edge values;
* which op codes compile to programs;
* graphs spanning several tapes to third order (the recorded sweep then
  writes onto another tape than the swept one and imports nodes);
* the growth path (a destination tape that runs out of rows, arena or
  shape-table room mid-sweep) and the shape table learnt afterwards;
* PyTorch's errors raised from the compiled recorder (freed graph, in-place
  modification of a saved value).
"""
from __future__ import annotations

import contextlib
import functools
import importlib.util
import math
import operator
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tape.ops import elementwise as E
from tape.ops import linalg as L
from tape.ops import reduction as R
from tape.ops import shape as S
from tape.ops import softmax as SM
from tape.ops._rule import rule_adjoint
from tape.ops._spec import BINARY as BINARY_RANGE
from tape.ops._spec import REGISTRY
from tape.ops._spec import UNARY as UNARY_RANGE

import tape
import tape._engine as ENG
import tape._programs as P
import tape._record as Rec
from tape._state import state
from tape._tape import Tape

from . import test_grad_ops as G

grad = tape.autograd.grad


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

@contextlib.contextmanager
def recorder(disabled: bool):
    """Run the block with every derivative program disabled (or not); yield the list of
    op codes whose rows were handed to Python (``_python_rule``) meanwhile.

    Disabled, the engine's compiled sweep is replaced by the recorder's first tier
    (``rules_sweep``), which sends every row to Python after the compiled sweep's checks: so the
    comparisons below also test that tier against the compiled one, op by op."""
    codes = []
    orig = ENG._python_rule
    compiled = Rec.record_sweep

    def spy(t, dest, r, gnode, seen):
        codes.append(int(t.op[r]))
        return orig(t, dest, r, gnode, seen)

    def sweep_spy(*args):
        compiled(*args)
        recorder.statuses.append(int(args[-1][Rec.C_STATUS]))

    recorder.statuses = []          # the compiled sweep's reports (ST_*), in order
    assert ENG.Rec is Rec
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ENG, "_python_rule", spy)
        mp.setattr(Rec, "record_sweep", Rec.rules_sweep if disabled else sweep_spy)
        yield codes


def _end_tape():
    """End the current tape (a backward that does not retain its graph does), so that what
    follows records onto another one."""
    z = tape.tensor([1.0, 2.0], dtype=tape.float64, requires_grad=True)
    (z * 3.0).sum().backward()


def _np(t) -> np.ndarray:
    return np.asarray(t.detach().tolist(), dtype=np.float64)


def _meta(t):
    """What must agree between the two recorders besides the values."""
    if t is None:
        return None
    fn = t.grad_fn
    return (t.requires_grad, fn is None, None if fn is None else type(fn).__name__, t.dtype, tuple(t.shape))


def _assert_values(a, b, dtype, what):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    assert a.shape == b.shape, f"{what}: shapes {a.shape} != {b.shape}"
    finite = np.abs(b[np.isfinite(b)])
    scale = max(1.0, float(finite.max()) if finite.size else 1.0)
    rtol, atol = (1e-10, 1e-12 * scale) if dtype == "float64" else (1e-5, 1e-5 * scale)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


# Codes whose rows may legitimately reach Python with the programs enabled: batched products,
# index-list ops when the derivative is written to another tape, rows with listed inputs or
# several outputs (their rules run in Python), Python-rule rows (ops/_rule.py: their rules may read
# values, which no program can), rules the tracer cannot model, rows whose rule has a path without a
# program (as the decompositions' rules do) and rows whose program multiplies matrices (compiled code
# multiplies 1-D/2-D operands only: a batch goes to Python).
NO_PROGRAM = {L.MATMUL, L.MATMUL_BLAS, S.GATHER, S.SCATTER, S.INDEX} | {
    code for code, op in tape.ops.REGISTRY.items() if op.arity not in (1, 2) or op.multi
    or op.py_adjoint in (rule_adjoint, SM.softmax_adjoint)} | {code for code, (compiled, _) in P.compiled_codes().items() if not compiled} | {
    code for code in tape.ops.REGISTRY if any(
        P.VARIANT[k, P.V_START] < 0 or P.VARIANT[k, P.V_NEEDS] & P.NEEDS_MATMUL
        for k in range(P.VSTART[code], P.VSTART[code] + P.VCOUNT[code]))}


# --------------------------------------------------------------------------
# 1. compiled vs Python-recorded derivatives, every op of the table
# --------------------------------------------------------------------------

def _derivatives(op, case, weights, vs):
    # Each example starts on a fresh (reset) tape: a tape left current by create_graph keeps the
    # dead rows of earlier examples, and every backward scans them (see test_loop_of_recorded_
    # backwards_does_not_accumulate_rows).
    _end_tape()
    ts = G.leaves(tape, case)
    wrt = case.wrt
    wrt_ts = [ts[i] for i in wrt]
    loss = G.weighted_loss(tape, G.as_list(op.fn(tape, *ts)), weights, case.dtype)
    gs = grad(loss, wrt_ts, create_graph=True)
    s = functools.reduce(operator.add,
                         [(g * G.to_tensor(tape, vs[i], case.dtype)).sum() for g, i in zip(gs, wrt)])
    hs = [None] * len(wrt_ts)
    if s.requires_grad and op.no_second:
        with op.raises_at_second_order():
            grad(s, wrt_ts, create_graph=True, allow_unused=True)
    elif s.requires_grad:
        hs = list(grad(s, wrt_ts, create_graph=True, allow_unused=True))
    return ([_np(g) for g in gs], [_meta(g) for g in gs],
            [None if h is None else _np(h) for h in hs], [_meta(h) for h in hs])


@pytest.mark.parametrize("name", G.OP_NAMES)
@settings(deadline=None)
@given(data=st.data())
def test_compiled_and_python_recorders_agree(name, data):
    op = G.OPS[name]
    case = G.draw_case(data, op, second=True)
    rng = np.random.default_rng(case.seed)
    weights = G.make_weights(rng, G.output_shapes(op, case), case.dtype)
    vs = G.make_weights(rng, [a.shape for a in case.arrays], case.dtype)

    with recorder(disabled=False) as compiled_py:
        g1, m1, h1, n1 = _derivatives(op, case, weights, vs)
    with recorder(disabled=True) as python_py:
        g2, m2, h2, n2 = _derivatives(op, case, weights, vs)

    # The programs were used where they exist, and disabling them did send rows to Python.
    assert set(compiled_py) <= NO_PROGRAM, f"{name}: rows with a program ran in Python: {compiled_py}"
    assert python_py, f"{name}: no row reached Python with every program disabled"

    for k in range(len(g1)):
        _assert_values(g1[k], g2[k], case.dtype, f"{name}: first gradient {k}")
        assert m1[k] == m2[k], f"{name}: first gradient {k}: compiled {m1[k]} != python {m2[k]}"
        assert (h1[k] is None) == (h2[k] is None), f"{name}: second derivative {k} None-ness"
        if h1[k] is not None:
            _assert_values(h1[k], h2[k], case.dtype, f"{name}: second derivative {k}")
        assert n1[k] == n2[k], f"{name}: second derivative {k}: compiled {n1[k]} != python {n2[k]}"


EXTRA_GRAPHS = {
    # Products large enough for BLAS (MATMUL_BLAS rows), batched products, and graphs mixing
    # rows with and without programs.
    "matmul_blas": (lambda a, b: (a @ b * 0.05).sin(), [(110, 100), (100, 110)]),  # (over SMALL_PRODUCT)
    "matvec_blas": (lambda a, b: (a @ b * 0.01).tanh(), [(1100, 1000), (1000,)]),
    # mv's rule takes the matrix's gradient as a broadcasting multiply (both operands broadcast)
    "matvec": (lambda a, b: (a @ b).tanh(), [(3, 4), (4,)]),
    "outer_broadcast": (lambda a, b: (a.reshape(-1, 1) * b).sin(), [(3,), (4,)]),
    "batched": (lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
    "batched_vec": (lambda a, b: (a @ b).exp(), [(2, 3, 4), (4,)]),
    "pow_mix": (lambda a, b: (a.exp() ** b.sigmoid()) * a, [(3, 4), (4,)]),
    "rpow_mix": (lambda a, b: 2.0 ** (a * b).tanh() + 0.5 ** a, [(3, 4), (3, 1)]),
    "index_mix": (lambda a, b: a[1:, ::2].sin() * b[0], [(3, 4), (2, 2)]),
    "unbind_mix": (lambda a, b: a.unbind(1)[2] * b.t().select(0, 1).cos(), [(3, 4), (3, 5)]),
    # (through float32: the two recorders agree to float32 rounding)
    "cast_mix_f32": (lambda a, b: a.float().sin().double() * b, [(3, 4), (4,)]),
}


@pytest.mark.parametrize("name", sorted(EXTRA_GRAPHS))
def test_compiled_and_python_recorders_agree_extra(name):
    f, shapes = EXTRA_GRAPHS[name]
    rng = np.random.default_rng(7)
    op = G.Op(lambda M, *xs: f(*xs), None)
    case = G.Case(tuple(rng.uniform(0.2, 1.5, s) for s in shapes), "float64", (True,) * len(shapes), 0)
    weights = G.make_weights(rng, G.output_shapes(op, case), "float64")
    vs = G.make_weights(rng, shapes, "float64")
    with recorder(disabled=False) as compiled_py:
        g1, m1, h1, n1 = _derivatives(op, case, weights, vs)
    statuses = recorder.statuses
    with recorder(disabled=True) as python_py:
        g2, m2, h2, n2 = _derivatives(op, case, weights, vs)
    assert set(compiled_py) <= NO_PROGRAM and python_py
    if name.endswith("_blas"):
        # A derivative product big enough for BLAS: numpy computed its value mid-sweep.
        assert Rec.ST_VALUE in statuses and not compiled_py
    tol = "float32" if name.endswith("_f32") else "float64"
    for k in range(len(g1)):
        _assert_values(g1[k], g2[k], tol, f"{name}: first gradient {k}")
        assert m1[k] == m2[k]
        _assert_values(h1[k], h2[k], tol, f"{name}: second derivative {k}")
        assert n1[k] == n2[k]


def test_matrix_vector_gradient_is_an_outer_product_as_pytorch():
    # PyTorch's mv backward takes ``outer``, a broadcasting multiply: the recorded gradient's
    # node is MulBackward0 over a view, and a penalty on it differentiates correctly.
    w = tape.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=tape.float64, requires_grad=True)
    v = tape.tensor([0.5, -1.0], dtype=tape.float64)
    gw, = grad((w @ v).tanh().pow(2).sum(), w, create_graph=True)
    assert gw.grad_fn.name() == "MulBackward0"
    assert [None if f is None else f.name() for f, _ in gw.grad_fn.next_functions] == ["ViewBackward0", None]
    u = np.tanh(np.array([[1.0, 2.0], [3.0, 4.0]]) @ [0.5, -1.0])
    np.testing.assert_allclose(gw.detach().numpy(), np.outer(2 * u * (1 - u * u), [0.5, -1.0]), rtol=1e-12)
    assert tape.autograd.gradcheck(
        lambda m: grad((m @ v).tanh().pow(2).sum(), m, create_graph=True)[0].norm(), (w,))


# --------------------------------------------------------------------------
# 2. numba forward kernels vs the numpy forwards
# --------------------------------------------------------------------------

KDTYPES = (np.float64, np.float32)
EDGES = (0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 2.0, -3.0, 1e-30, -1e-30, 1e30, -1e30, 88.0, -104.0,
         math.inf, -math.inf, math.nan)


def _elements(dtype, finite_only=False):
    w = 64 if dtype == np.float64 else 32
    edges = [e for e in EDGES if not finite_only or math.isfinite(e)]
    return st.one_of(st.floats(-30.0, 30.0, width=w),
                     st.sampled_from([float(dtype(e)) for e in edges]))


def _flat(dtype, min_size=0, max_size=12, finite_only=False):
    return hnp.arrays(dtype, st.integers(min_size, max_size), elements=_elements(dtype, finite_only))


def _arena(dtype, *parts, extra=0):
    """A flat arena holding ``parts`` back to back after a poisoned prefix, then ``extra``
    poisoned slots; returns the arena and the offset of each part and of the extra slots."""
    pad = 3
    total = pad + sum(p.size for p in parts) + extra + pad
    v = np.full(total, 12345.0, dtype)
    offs = []
    o = pad
    for p in parts:
        v[o:o + p.size] = p.reshape(-1)
        offs.append(o)
        o += p.size
    return v, offs, o


def _assert_kernel(actual, expected, dtype, what, scale=None):
    """Elementwise agreement to a few ulps (nan where nan, same infinities)."""
    actual = np.asarray(actual, np.float64).reshape(-1)
    expected = np.asarray(expected, np.float64).reshape(-1)
    assert actual.shape == expected.shape, what
    eps = float(np.finfo(dtype).eps)
    tiny = float(np.finfo(dtype).tiny)
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    assert (nan_a == nan_e).all(), f"{what}: nan mismatch\nkernel {actual}\nnumpy  {expected}"
    inf_e = np.isinf(expected)
    assert (actual[inf_e] == expected[inf_e]).all() and not np.isinf(actual[~inf_e & ~nan_e]).any(), \
        f"{what}: infinity mismatch\nkernel {actual}\nnumpy  {expected}"
    ok = ~nan_e & ~inf_e
    bound = 4 * eps * np.abs(expected[ok]) + 4 * tiny
    if scale is not None:
        bound = bound + np.asarray(scale, np.float64).reshape(-1)[ok]
    err = np.abs(actual[ok] - expected[ok])
    assert (err <= bound).all(), f"{what}: kernel {actual}\nnumpy  {expected}\nerr {err}"


# (code, fa, fb, ia) -> numpy reference of a unary row
def _unary_reference(code, x, fa, fb, ia):
    if code in E.SCALAR_FORWARD:
        return E.SCALAR_FORWARD[code][0](x, fa)
    if code == E.CLAMP:
        return np.minimum(np.maximum(x, fa), fb)        # as Tensor.clamp computes it
    if code == E.MASK:
        return E.mask_forward(x, ia, fa, fb)
    if code in E.ATTR_FORWARD:
        return E.ATTR_FORWARD[code](x, fa, fb, ia)
    return REGISTRY[code].forward(x)


CONSTANTS = (2.5, -0.75, 0.0, 3.0, -1.0, 0.5, -0.5, 1.0, 2.0, -2.5, 0.1, 10.0)
BOUNDS = ((-0.5, 0.7), (-math.inf, 0.3), (0.3, math.inf), (1.0, -1.0), (0.0, 0.0))
MASK_KINDS = (E.M_POS, E.M_SIGN, E.M_INRANGE, E.M_STEP_HALF, E.M_NONZERO, E.M_NEG)
# Every registered one-tensor elementwise code (a new op is checked the moment it is registered),
# but the cast, whose forward is the recorder's own copy loop.
UNARY_CODES = tuple(c for c in sorted(REGISTRY) if c in UNARY_RANGE and c != E.CAST)


def _unary_params(code, dtype=np.float64):
    """The (fa, fb, ia) attributes a unary row of ``code`` is tried with.

    In float32 only constants that float32 holds exactly (``tests/test_faces.py`` tries the
    others: numpy and the kernel round them to float32 first)."""
    if E.ADDC <= code <= E.RPOWC or code == E.FILL:
        return [(k, 0.0, 0) for k in CONSTANTS if float(dtype(k)) == k]
    if code == E.CLAMP:
        return [(lo, hi, 0) for lo, hi in BOUNDS]
    if code == E.MASK:
        return [(lo, hi, kind) for kind in MASK_KINDS for lo, hi in ((-0.5, 0.7), (0.0, 0.0))]
    if code in E.ATTR_PARAMS:
        return E.ATTR_PARAMS[code]
    return [(0.0, 0.0, 0)]


def _unary_kernel(code, x, fa, fb, ia):
    n = x.size
    v, (ox,), oy = _arena(x.dtype.type, x, extra=n)
    before = v.copy()
    E.unary_forward(code, n, fa, fb, ia, v, ox, oy)
    # Nothing else of the arena was written.
    np.testing.assert_array_equal(v[:oy], before[:oy])
    np.testing.assert_array_equal(v[oy + n:], before[oy + n:])
    return v[oy:oy + n].copy()


def _check_unary(code, x, fa, fb, ia):
    out = _unary_kernel(code, x, fa, fb, ia)
    with np.errstate(all="ignore"):
        ref = np.asarray(_unary_reference(code, x, fa, fb, ia), x.dtype)
    _assert_kernel(out, ref, x.dtype.type, f"{REGISTRY[code].name} ({code}) fa={fa} fb={fb} ia={ia} on {x!r}")


def _grid(dtype):
    rng = np.random.default_rng(0)
    return np.concatenate([np.array(EDGES), rng.uniform(-20.0, 20.0, 40), rng.normal(0.0, 1e3, 10)]).astype(dtype)


def test_unary_codes_cover_the_families():
    assert {E.NEG, E.SINH, E.FILL, E.ADDC, E.MASK} <= set(UNARY_CODES)
    assert {p[2] for p in _unary_params(E.MASK)} == set(range(6))


@pytest.mark.parametrize("dtype", KDTYPES, ids=lambda d: np.dtype(d).name)
def test_unary_forward_kernel_grid(dtype):
    """Every unary code with every attribute set, on edge values and a spread of values."""
    x = _grid(dtype)
    for code in UNARY_CODES:
        for fa, fb, ia in _unary_params(code, dtype):
            _check_unary(code, x, fa, fb, ia)


@pytest.mark.parametrize("dtype", KDTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("code", UNARY_CODES, ids=lambda c: f"{REGISTRY[c].name}-{c}")
@settings(deadline=None, max_examples=10)
@given(data=st.data())
def test_unary_forward_kernel(code, dtype, data):
    x = data.draw(_flat(dtype), label="x")
    fa, fb, ia = data.draw(st.sampled_from(_unary_params(code, dtype)), label="fa, fb, ia")
    _check_unary(code, x, fa, fb, ia)


def test_rpowc_kernel_float32_inexact_constant():
    """With a constant float32 cannot hold (0.1), the float32 kernel computes float32(0.1) ** x, as
    numpy and PyTorch do, not 0.1 ** x with the float64 constant (many ulps away at large |x|).
    (RPOWC has no program, so the recorder never writes such a row today.)"""
    x = np.array([-27.1875, -10.0, 3.0, 20.0], np.float32)
    out = _unary_kernel(E.RPOWC, x, 0.1, 0.0, 0)
    ref = np.power(np.float32(0.1), x)
    exact = np.power(0.1, x.astype(np.float64))
    eps = float(np.finfo(np.float32).eps)
    np.testing.assert_allclose(out, ref, rtol=2 * eps)
    assert np.abs(out / exact - 1.0).max() > 2 * eps


@pytest.mark.parametrize("dtype", KDTYPES, ids=lambda d: np.dtype(d).name)
def test_relu_kernel_at_minus_inf(dtype):
    """relu(-inf) is 0 (the kernel once computed 0.0 * x: nan)."""
    x = np.array([-math.inf, -1.0, 2.0], dtype)
    _assert_kernel(_unary_kernel(E.RELU, x, 0.0, 0.0, 0), REGISTRY[E.RELU].forward(x), dtype, "relu")


@pytest.mark.parametrize("dtype", KDTYPES, ids=lambda d: np.dtype(d).name)
def test_powc_half_kernel_at_minus_inf(dtype):
    """x ** 0.5 is sqrt(x), as numpy and PyTorch compute it: nan at -inf (C's pow gives inf)."""
    x = np.array([-math.inf, 4.0], dtype)
    with np.errstate(all="ignore"):
        ref = np.power(x, 0.5)
    _assert_kernel(_unary_kernel(E.POWC, x, 0.5, 0.0, 0), ref, dtype, "x ** 0.5")


@st.composite
def _binary_operands(draw, dtype):
    """Two operands where one broadcasts to the other along leading dims only (or equal shapes)."""
    big = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    keep = draw(st.integers(0, len(big)))
    small = big[len(big) - keep:]
    ones = draw(st.integers(0, len(big) - keep))
    small = (1,) * ones + small
    if draw(st.booleans()):
        small = big
    elements = _elements(dtype)
    a = draw(hnp.arrays(dtype, big, elements=elements))
    b = draw(hnp.arrays(dtype, small, elements=elements))
    return (b, a) if draw(st.booleans()) else (a, b)


BINARY_CODES = tuple(c for c in sorted(REGISTRY) if c in BINARY_RANGE and c != E.MASKED)


@pytest.mark.parametrize("dtype", KDTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("code", BINARY_CODES, ids=lambda c: REGISTRY[c].name)
@settings(deadline=None, max_examples=15)
@given(data=st.data())
def test_binary_forward_kernel(code, dtype, data):
    a, b = data.draw(_binary_operands(dtype), label="operands")
    with np.errstate(all="ignore"):
        ref = np.asarray(REGISTRY[code].forward(a, b), dtype)
    n = ref.size
    v, (oa, ob), oy = _arena(dtype, a, b, extra=n)
    before = v.copy()
    E.binary_forward(code, n, v, oa, ob, oy, a.size, b.size)
    _assert_kernel(v[oy:oy + n], ref, dtype, f"{REGISTRY[code].name} {a.shape} {b.shape}: {a!r}, {b!r}")
    np.testing.assert_array_equal(v[:oy], before[:oy])
    np.testing.assert_array_equal(v[oy + n:], before[oy + n:])


@pytest.mark.parametrize("dtype", KDTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("code", BINARY_CODES, ids=lambda c: REGISTRY[c].name)
def test_binary_forward_kernel_leading_broadcast_examples(code, dtype):
    """The (3, 4) with (4,) case and a scalar operand, on both sides, written out."""
    rng = np.random.default_rng(code)
    big = rng.uniform(0.5, 3.0, (3, 4)).astype(dtype)
    smalls = (rng.uniform(-2.0, 2.0, 4).astype(dtype), np.array(1.5, dtype),
              np.array([[-0.5, 2.0, 0.0, 3.0]], dtype))
    for small in smalls:
        for a, b in ((big, small), (small, big)):
            with np.errstate(all="ignore"):
                ref = np.asarray(REGISTRY[code].forward(a, b), dtype)
            v, (oa, ob), oy = _arena(dtype, a, b, extra=ref.size)
            E.binary_forward(code, ref.size, v, oa, ob, oy, a.size, b.size)
            _assert_kernel(v[oy:oy + ref.size], ref, dtype, f"{REGISTRY[code].name} {a.shape} {b.shape}")


@pytest.mark.parametrize("dtype", KDTYPES, ids=lambda d: np.dtype(d).name)
def test_binary_forward_kernel_grid(dtype):
    """Every binary code on every pair of edge values (and a spread of values)."""
    x = _grid(dtype)
    a = np.repeat(x, x.size)
    b = np.tile(x, x.size)
    for code in BINARY_CODES:
        with np.errstate(all="ignore"):
            ref = np.asarray(REGISTRY[code].forward(a, b), dtype)
        v, (oa, ob), oy = _arena(dtype, a, b, extra=a.size)
        E.binary_forward(code, a.size, v, oa, ob, oy, a.size, b.size)
        _assert_kernel(v[oy:oy + a.size], ref, dtype, f"{REGISTRY[code].name} on the grid")


def test_recorded_powc_derivative_at_minus_inf():
    """The recorded derivative of x ** 1.5 at -inf: nan from both recorders (and in PyTorch)."""
    def first():
        x = tape.tensor([-math.inf, 4.0], dtype=tape.float64, requires_grad=True)
        g, = grad((x ** 1.5).sum(), x, create_graph=True)
        return _np(g)

    with recorder(disabled=False):
        a = first()
    with recorder(disabled=True):
        b = first()
    _assert_values(a, b, "float64", "d/dx x ** 1.5")
    assert np.isnan(a[0]) and a[1] == 3.0
    # The plain backward's adjoint kernel agrees.
    x = tape.tensor([-math.inf, 4.0], dtype=tape.float64, requires_grad=True)
    g, = grad((x ** 1.5).sum(), x)
    _assert_values(_np(g), a, "float64", "plain d/dx x ** 1.5")


def _stab(*shapes):
    t = Tape()
    ids = [t.shape_id(tuple(int(d) for d in s)) for s in shapes]
    return t.stab, ids


@pytest.mark.parametrize("dtype", KDTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("code", (R.SUM, R.MEAN), ids=("sum", "mean"))
@settings(deadline=None, max_examples=25)
@given(data=st.data())
def test_reduce_forward_kernel(code, dtype, data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4), label="shape")
    finite = data.draw(st.booleans(), label="finite")
    x = data.draw(hnp.arrays(dtype, shape, elements=_elements(dtype, finite_only=finite)), label="x")
    mask = data.draw(st.integers(0, (1 << len(shape)) - 1), label="mask")
    axes = tuple(d for d in range(len(shape)) if mask >> d & 1)
    keep = R.keep_shape(shape, mask)
    with np.errstate(all="ignore"):
        ref = np.asarray(R.reduce_forward[code](x, axis=axes, keepdims=True), dtype)
        count = max(1, math.prod(shape[d] for d in axes))
        scale = np.add.reduce(np.abs(x.astype(np.float64)), axis=axes, keepdims=True)
        if code == R.MEAN:
            scale = scale / count
        scale = 2 * count * float(np.finfo(dtype).eps) * np.nan_to_num(scale, posinf=0.0)
    assert ref.shape == keep
    stab, (sx,) = _stab(shape)
    ny = ref.size
    v, (ox,), oy = _arena(dtype, x, extra=ny)
    before = v.copy()
    R.reduce_forward_kernel(code, v, ox, oy, stab, sx, mask, x.size, ny)
    _assert_kernel(v[oy:oy + ny], ref, dtype, f"{REGISTRY[code].name} {shape} dims {axes}: {x!r}", scale)
    np.testing.assert_array_equal(v[:oy], before[:oy])
    np.testing.assert_array_equal(v[oy + ny:], before[oy + ny:])


def _run_shape(code, dtype, x, out_shape, ia=0, ib=0, ix=None):
    stab, (sx, sy) = _stab(x.shape, out_shape)
    ny = math.prod(out_shape)
    v, (ox,), oy = _arena(dtype, x, extra=ny)
    before = v.copy()
    ix = np.zeros(1, np.int64) if ix is None else ix
    S.shape_forward(code, v, ox, oy, stab, ix, sx, sy, ia, ib, x.size, ny)
    np.testing.assert_array_equal(v[:oy], before[:oy])
    np.testing.assert_array_equal(v[oy + ny:], before[oy + ny:])
    return v[oy:oy + ny].copy()


def _shaped(dtype, min_dims=0, max_dims=4, min_side=1):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=4).flatmap(
        lambda s: hnp.arrays(dtype, s, elements=_elements(dtype)))


def _exact(actual, expected, what):
    np.testing.assert_array_equal(np.asarray(actual).reshape(-1), np.asarray(expected).reshape(-1), err_msg=what)


@pytest.mark.parametrize("dtype", KDTYPES, ids=lambda d: np.dtype(d).name)
@settings(deadline=None)
@given(data=st.data())
def test_shape_forward_view(dtype, data):
    x = data.draw(_shaped(dtype, min_side=0), label="x")
    target = data.draw(st.permutations(list(x.shape) + [1]).map(tuple), label="target")
    out = _run_shape(S.VIEW, dtype, x, target, S.V_VIEW)
    _exact(out, x.reshape(target), f"view {x.shape} -> {target}")


@pytest.mark.parametrize("dtype", KDTYPES, ids=lambda d: np.dtype(d).name)
@settings(deadline=None)
@given(data=st.data())
def test_shape_forward_expand(dtype, data):
    big = data.draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4), label="big")
    lead = data.draw(st.integers(0, len(big)), label="dropped leading dims")
    ones = data.draw(st.lists(st.booleans(), min_size=len(big) - lead, max_size=len(big) - lead), label="ones")
    small = tuple(1 if o else s for s, o in zip(big[lead:], ones))
    x = data.draw(hnp.arrays(dtype, small, elements=_elements(dtype)), label="x")
    out = _run_shape(S.EXPAND, dtype, x, big)
    _exact(out, np.broadcast_to(x, big), f"expand {small} -> {big}")


@pytest.mark.parametrize("dtype", KDTYPES, ids=lambda d: np.dtype(d).name)
@settings(deadline=None)
@given(data=st.data())
def test_shape_forward_transpose(dtype, data):
    x = data.draw(_shaped(dtype, min_side=0), label="x")
    nd = x.ndim
    d0 = data.draw(st.integers(0, max(nd - 1, 0)), label="d0")
    d1 = data.draw(st.integers(0, max(nd - 1, 0)), label="d1")
    ref = np.swapaxes(x, d0, d1) if nd else x
    out = _run_shape(S.TRANSPOSE, dtype, x, ref.shape, d0, d1)
    _exact(out, ref, f"transpose {x.shape} ({d0}, {d1})")


@pytest.mark.parametrize("dtype", KDTYPES, ids=lambda d: np.dtype(d).name)
@settings(deadline=None)
@given(data=st.data())
def test_shape_forward_select_and_embed(dtype, data):
    x = data.draw(_shaped(dtype, min_dims=1), label="x")
    dim = data.draw(st.integers(0, x.ndim - 1), label="dim")
    index = data.draw(st.integers(0, x.shape[dim] - 1), label="index")
    sel = np.take(x, index, axis=dim)
    out = _run_shape(S.SELECT, dtype, x, sel.shape, dim, index)
    _exact(out, sel, f"select {x.shape} dim {dim} index {index}")
    # EMBED: the selected slice put back into zeros of the big shape.
    small = data.draw(hnp.arrays(dtype, sel.shape, elements=_elements(dtype)), label="slice")
    ref = np.zeros(x.shape, dtype)
    idx = [slice(None)] * x.ndim
    idx[dim] = index
    ref[tuple(idx)] = small
    out = _run_shape(S.EMBED, dtype, small, x.shape, dim, index)
    _exact(out, ref, f"embed {small.shape} -> {x.shape} dim {dim} index {index}")


# --------------------------------------------------------------------------
# 3. which rules compile to programs
# --------------------------------------------------------------------------

def test_compiled_codes():
    codes = P.compiled_codes()
    compiled = {c for c, (k, _) in codes.items() if k > 0}
    expected = ((set(range(E.NEG, E.CLONE + 1)) | set(range(E.ADDC, E.CAST + 1)) | set(range(E.ADD, E.MINIMUM + 1)))
                - {E.POW, E.RPOWC}) | {R.SUM, R.MEAN, S.VIEW, S.EXPAND, S.TRANSPOSE, S.SELECT, S.EMBED, L.MATMUL}
    missing = expected - compiled
    assert not missing, f"no program for {sorted(REGISTRY[c].name + '/' + str(c) for c in missing)}"
    # A rule that branches on an attribute keeps one program per branch: pow's guard on fa == 0.
    assert codes[E.POWC] == (2, 2)
    assert codes[E.RPOWC][0] == 0 or codes[E.RPOWC][0] == codes[E.RPOWC][1]
    # Every code of the table has an entry; sources have none.
    assert set(codes) == set(REGISTRY) - {0, 1}


def test_matmul_dot_program_and_powc_guard():
    """The variant the recorder picks for a row: matmul's DOT case has a program; POWC's two
    variants are told apart by fa == 0."""
    def chosen(code, fa=0.0, ia=0):
        TR = np.zeros((12, 1), np.int64)
        TR[0, 0] = code
        TR[7, 0] = ia
        TF = np.zeros((2, 1))
        TF[0, 0] = fa
        for v in range(P.VSTART[code], P.VSTART[code] + P.VCOUNT[code]):
            ok = True
            for j in range(P.VARIANT[v, P.V_NGUARD]):
                kind, want = P.GUARD_KIND[v, j]
                val = {P.A_FA: TF[0, 0], P.A_FB: TF[1, 0], P.A_IA: TR[7, 0], P.A_IB: TR[8, 0]}[kind]
                if (val == P.GUARD_VALUE[v, j]) != (want == 1):
                    ok = False
            if ok:
                return v
        return -1

    assert P.VARIANT[chosen(L.MATMUL, ia=L.DOT), P.V_START] >= 0
    # Each matmul case has its own variant (whether or not it compiles).
    picked = [chosen(L.MATMUL, ia=case) for case in (L.DOT, L.MV, L.VM, L.MM)]
    assert min(picked) >= 0 and len(set(picked)) == 4
    v0 = chosen(E.POWC, fa=0.0)
    v3 = chosen(E.POWC, fa=3.0)
    assert v0 != v3 and min(P.VARIANT[v0, P.V_START], P.VARIANT[v3, P.V_START]) >= 0
    # x ** 0: the gradient is g * 0 (one instruction); x ** 3: g * (x ** 2 * 3).
    assert P.VARIANT[v0, P.V_LEN] < P.VARIANT[v3, P.V_LEN]


# --------------------------------------------------------------------------
# 4. graphs spanning several tapes, to third order
# --------------------------------------------------------------------------

def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _tanh_ds(x):
    t = np.tanh(x)
    return [1 - t * t, -2 * t * (1 - t * t), (1 - t * t) * (6 * t * t - 2)]


def _sigmoid_ds(x):
    s = _sig(x)
    return [s * (1 - s), s * (1 - s) * (1 - 2 * s), s * (1 - s) * (1 - 6 * s + 6 * s * s)]


ELEMENTWISE = {
    # name: (f on tape tensors, [f', f'', f'''] on numpy arrays, domain)
    "sin": (lambda x: x.sin(), lambda x: [np.cos(x), -np.sin(x), -np.cos(x)], (-3.0, 3.0)),
    "exp": (lambda x: x.exp(), lambda x: [np.exp(x)] * 3, (-2.0, 2.0)),
    "tanh": (lambda x: x.tanh(), _tanh_ds, (-2.0, 2.0)),
    "sigmoid": (lambda x: x.sigmoid(), _sigmoid_ds, (-3.0, 3.0)),
    "log": (lambda x: x.log(), lambda x: [1 / x, -1 / x ** 2, 2 / x ** 3], (0.3, 3.0)),
    "cube": (lambda x: x ** 3, lambda x: [3 * x ** 2, 6 * x, 6 + 0 * x], (-2.0, 2.0)),
    "cos_div": (lambda x: x.cos() / 2.0, lambda x: [-np.sin(x) / 2, -np.cos(x) / 2, np.sin(x) / 2], (-3.0, 3.0)),
}

W34 = np.array([[0.5, -1.0, 2.0, 1.5], [-0.25, 0.75, 1.0, -2.0], [1.25, 0.5, -1.5, 0.25]])

# name: (shape of x, loss(x) on tape tensors, derivatives 1..3 of the loss on numpy arrays, domain)
STRUCTURED = {
    "sum_dim": ((3, 4), lambda x, c: (x.sin().sum(1) * c(W34[:, 0])).sum(),
                lambda x: [d * W34[:, :1] for d in (np.cos(x), -np.sin(x), -np.cos(x))], (-3.0, 3.0)),
    "mean_keepdim": ((3, 4), lambda x, c: ((x ** 3).mean(0, keepdim=True) * c(W34[:1])).sum(),
                     lambda x: [d * W34[:1] / 3 for d in (3 * x ** 2, 6 * x, 6 + 0 * x)], (-2.0, 2.0)),
    "mean_all": ((3, 4), lambda x, c: (x.exp() * c(W34)).mean(),
                 lambda x: [np.exp(x) * W34 / 12] * 3, (-2.0, 2.0)),
    "expand": ((4,), lambda x, c: (x.exp().expand(3, 4) * c(W34)).sum(),
               lambda x: [np.exp(x) * W34.sum(0)] * 3, (-2.0, 2.0)),
    "broadcast_leading": ((4,), lambda x, c: (x.sigmoid() * c(W34)).sum(),
                          lambda x: [d * W34.sum(0) for d in _sigmoid_ds(x)], (-3.0, 3.0)),
    "broadcast_middle": ((3, 1), lambda x, c: (x.tanh() * c(W34)).sum(),
                         lambda x: [d * W34.sum(1, keepdims=True) for d in _tanh_ds(x)], (-2.0, 2.0)),
    "transpose": ((4, 3), lambda x, c: (x.sin().t() * c(W34)).sum(),
                  lambda x: [d * W34.T for d in (np.cos(x), -np.sin(x), -np.cos(x))], (-3.0, 3.0)),
    "select": ((3, 4), lambda x, c: (x.exp().select(0, 1) * c(W34[1])).sum(),
               lambda x: [np.exp(x) * np.eye(3)[:, 1:2] * W34[1]] * 3, (-2.0, 2.0)),
    "reshape": ((12,), lambda x, c: ((x ** 3).reshape(3, 4) * c(W34)).sum(),
                lambda x: [d * W34.reshape(-1) for d in (3 * x ** 2, 6 * x, 6 + 0 * x)], (-2.0, 2.0)),
}


def _tape_imports(t, older):
    """INPUT rows of tape ``t`` standing for nodes of tape ``older``."""
    return sum(1 for s in t.src.values() if type(s) is tuple and s[0] is older)


def _third_order(x, loss, ds, dtype):
    """g1, g2, g3 = successive gradients of loss(x) (each of the sum of the previous one),
    each recorded on a new tape; checks the recorded sweeps imported nodes across tapes."""
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == tape.float64 else dict(rtol=2e-4, atol=2e-4)
    xv = _np(x)
    y = loss(x)
    t1 = y._tape
    g1, = grad(y, x, create_graph=True)
    _end_tape()
    s1 = g1.sum()
    t2 = s1._tape
    assert t2 is not t1
    before = _tape_imports(t2, t1)
    g2, = grad(s1, x, create_graph=True)
    # Sweeping t1 wrote onto t2: the swept nodes its rules read were imported from t1.
    assert _tape_imports(t2, t1) > before
    _end_tape()
    s2 = g2.sum()
    t3 = s2._tape
    assert t3 is not t2 and t3 is not t1
    g3, = grad(s2, x, create_graph=True)
    assert _tape_imports(t3, t2) > 0
    for k, (g, ref) in enumerate(zip((g1, g2, g3), ds(xv)), 1):
        assert g.dtype == dtype and tuple(g.shape) == tuple(x.shape)
        np.testing.assert_allclose(_np(g), np.broadcast_to(ref, xv.shape), err_msg=f"order {k}", **tol)
    return g1, g2, g3


@pytest.mark.parametrize("dname", G.DTYPES)
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@settings(deadline=None, max_examples=5)
@given(data=st.data())
def test_third_order_across_tapes_elementwise(name, dname, data):
    f, ds, (lo, hi) = ELEMENTWISE[name]
    dtype = getattr(tape, dname)
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3), label="shape")
    xv = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(lo, hi)), label="x")
    xv = G.round_to(xv, dname)
    w = np.random.default_rng(0).uniform(0.5, 2.0, shape)
    x = tape.tensor(xv, dtype=dtype, requires_grad=True)
    wt = tape.tensor(w, dtype=dtype)
    _third_order(x, lambda x: (f(x) * wt).sum(), lambda v: [d * w for d in ds(v)], dtype)


@pytest.mark.parametrize("name", sorted(STRUCTURED))
def test_third_order_across_tapes_structured(name):
    shape, loss, ds, (lo, hi) = STRUCTURED[name]
    xv = np.random.default_rng(1).uniform(lo, hi, shape)
    x = tape.tensor(xv, dtype=tape.float64, requires_grad=True)

    def c(a):
        return tape.tensor(np.asarray(a), dtype=tape.float64)

    _third_order(x, lambda x: loss(x, c), ds, tape.float64)


def test_vjp_with_grad_outputs_that_require_grad():
    """g = v * f'(x) recorded with v requiring grad; derivatives w.r.t. v and x, to third order."""
    rng = np.random.default_rng(2)
    xv, vv, wv, uv = (rng.uniform(-2.0, 2.0, 4) for _ in range(4))
    x = tape.tensor(xv, dtype=tape.float64, requires_grad=True)
    v = tape.tensor(vv, dtype=tape.float64, requires_grad=True)
    w = tape.tensor(wv, dtype=tape.float64)
    u = tape.tensor(uv, dtype=tape.float64)
    y = x.sin()
    g, = grad(y, x, grad_outputs=v, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    np.testing.assert_allclose(_np(g), vv * np.cos(xv), rtol=1e-12)
    _end_tape()                     # the next sweeps write onto another tape than g's
    gv, gx = grad((g * w).sum(), [v, x], create_graph=True)
    np.testing.assert_allclose(_np(gv), wv * np.cos(xv), rtol=1e-12)
    np.testing.assert_allclose(_np(gx), -wv * vv * np.sin(xv), rtol=1e-12)
    hv, hx = grad((gx * u).sum(), [v, x], create_graph=True)
    np.testing.assert_allclose(_np(hv), -wv * uv * np.sin(xv), rtol=1e-12)
    np.testing.assert_allclose(_np(hx), -wv * vv * uv * np.cos(xv), rtol=1e-12)
    k, = grad(gv.sum(), x)
    np.testing.assert_allclose(_np(k), -wv * np.sin(xv), rtol=1e-12)
    # grad_outputs on a non-leaf recorded value (several tapes back)
    v2 = (v * 2.0).exp()
    g2, = grad(x.tanh(), x, grad_outputs=v2, create_graph=True)
    d, = grad(g2.sum(), v)
    t = np.tanh(xv)
    np.testing.assert_allclose(_np(d), 2 * np.exp(2 * vv) * (1 - t * t), rtol=1e-12)


def test_leaf_used_on_two_tapes():
    """x enters tape 1 (through sin) and tape 2 (through exp, next to g1 imported from tape 1);
    its gradient collects from both, at every order."""
    xv = np.array([-1.2, 0.3, 0.9, 2.0])
    x = tape.tensor(xv, dtype=tape.float64, requires_grad=True)
    y1 = x.sin().sum()
    t1 = y1._tape
    g1, = grad(y1, x, create_graph=True)           # cos x, recorded on tape 1
    _end_tape()
    z = (g1 * x.exp()).sum()                         # exp(x) cos(x), on tape 2
    t2 = z._tape
    assert t2 is not t1
    g2, = grad(z, x, create_graph=True)            # exp(x) (cos x - sin x)
    assert _tape_imports(t2, t1) >= 2
    np.testing.assert_allclose(_np(g2), np.exp(xv) * (np.cos(xv) - np.sin(xv)), rtol=1e-12)
    _end_tape()
    g3, = grad(g2.sum(), x, create_graph=True)     # -2 exp(x) sin(x)
    np.testing.assert_allclose(_np(g3), -2 * np.exp(xv) * np.sin(xv), rtol=1e-12)
    _end_tape()
    g4, = grad((g3 * g1).sum(), x)                   # d/dx[-2 e^x sin x cos x] = -e^x (sin 2x + 2 cos 2x)
    np.testing.assert_allclose(_np(g4), -np.exp(xv) * (np.sin(2 * xv) + 2 * np.cos(2 * xv)), rtol=1e-12)


# --------------------------------------------------------------------------
# 5. the growth path: the destination runs out of room mid-sweep
# --------------------------------------------------------------------------

@pytest.fixture
def fresh_tapes(monkeypatch):
    """Start each run on a new, small tape (no reused spare that is already large), and count
    ``Tape.make_room`` calls (the recorder's ST_GROW status)."""
    grows = []
    orig = Tape.make_room

    def make_room(self, rows, elements, shape_slots):
        grows.append((rows, elements, shape_slots))
        return orig(self, rows, elements, shape_slots)

    monkeypatch.setattr(Tape, "make_room", make_room)

    def reset():
        monkeypatch.setattr(state, "tape", None)
        monkeypatch.setattr(state, "spares", [])
        grows.clear()
        return grows

    return reset


def _check_shape_table(t: Tape):
    """What Python knows of the shape table (``shapes``, ``shape_ids``, ``stop``) matches ``stab``,
    and every row's shape id and element count agree with it."""
    for sid, shape in t.shapes.items():
        assert 0 <= sid < t.stop
        assert t.stab[sid] == len(shape), f"shape id {sid}: stab says {t.stab[sid]} dims, Python {shape}"
        assert tuple(int(d) for d in t.stab[sid + 1:sid + 1 + len(shape)]) == shape, f"shape id {sid}"
        assert t.shape_ids[shape] == sid
    walked = {}
    s = 0
    while s < t.stop:
        nd = int(t.stab[s])
        walked[s] = tuple(int(d) for d in t.stab[s + 1:s + 1 + nd])
        s += 1 + nd
    assert s == t.stop and walked == t.shapes
    assert len(t.shape_ids) == len(t.shapes)
    for r in range(t.n):
        sid = int(t.shp[r])
        assert sid in t.shapes, f"row {r}: shape id {sid} unknown to Python"
        assert t.num[r] == math.prod(t.shapes[sid]), f"row {r}: {t.num[r]} elements, shape {t.shapes[sid]}"


def _scalar_chain(x, n_iter):
    h = x
    for _ in range(n_iter):
        h = (h.sin() * 0.9 + x * 0.05).tanh()        # 5 rows per step
    return h


def _vector_chain(x, n_iter):
    h = x
    for _ in range(n_iter):
        m = h.reshape(20, 10).t().sin() * 0.9            # (10, 20)
        s = m.mean(0, keepdim=True)                      # (1, 20)
        h = (m + s * 0.1).t().reshape(200).tanh() + x * 0.05    # 12 rows per step
    return h


def _grow_run(fresh_tapes, disabled, dtype, build, n_iter, across):
    """First derivative recorded (create_graph) then second; returns values, the number of
    growth stops, the destination tape."""
    grows = fresh_tapes()
    xv = np.linspace(-1.0, 1.0, 200) if build is _vector_chain else np.array(0.3)
    x = tape.tensor(xv, dtype=dtype, requires_grad=True)
    with recorder(disabled):
        h = build(x, n_iter)
        swept = h._tape
        loss = h.sum() if h.dim() else h
        if across:
            _end_tape()         # the recorded backward below writes onto a new tape
        n_grows = len(grows)
        g, = grad(loss, x, create_graph=True)
        n_grows = len(grows) - n_grows
        dest = g._tape
        assert (dest is not swept) == across
        w = tape.tensor(np.cos(np.arange(g.numel())).reshape(tuple(g.shape)), dtype=dtype)
        h2, = grad((g * w).sum(), x)
    return _np(g), _np(h2), n_grows, dest, swept


@pytest.mark.parametrize("across", (False, True), ids=("same_tape", "new_tape"))
@pytest.mark.parametrize("kind", ("scalar_float64", "vector_float32", "vector_float64"))
def test_growth_during_recorded_backward(fresh_tapes, kind, across):
    build, n_iter = (_scalar_chain, 600) if kind.startswith("scalar") else (_vector_chain, 250)
    dtype = tape.float32 if kind.endswith("float32") else tape.float64
    g_c, h_c, grows_c, dest, swept = _grow_run(fresh_tapes, False, dtype, build, n_iter, across)
    assert dest.n >= 3000, "the recorded backward is too short to make its destination grow"
    assert grows_c > 0, "the destination never ran out of room"
    _check_shape_table(dest)
    if across:
        _check_shape_table(swept)
        assert _tape_imports(dest, swept) > 0
    g_p, h_p, _, dest_p, _ = _grow_run(fresh_tapes, True, dtype, build, n_iter, across)
    _check_shape_table(dest_p)
    name = "float32" if dtype == tape.float32 else "float64"
    assert np.isfinite(g_c).all() and np.abs(g_c).max() > 1e-3
    _assert_values(g_c, g_p, name, f"{kind}: first derivative")
    _assert_values(h_c, h_p, name, f"{kind}: second derivative")


# --------------------------------------------------------------------------
# 6. PyTorch's errors, raised from the compiled recorder and from its first tier
# --------------------------------------------------------------------------

@contextlib.contextmanager
def first_tier(rows: int = 10 ** 9):
    """The recorder as in a process where the compiled sweep is neither compiled nor in numba's
    cache (``_record.recorder``), with ``rows`` rows left to its first tier; yields the sweeps
    the engine called, by name."""
    used = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Rec._Tier, "compiled", False)
        mp.setattr(Rec._Tier, "rows_left", rows)
        mp.setattr(Rec, "_cached", lambda kernel, args: False)
        for name in ("rules_sweep", "record_sweep"):
            def spy(*args, _sweep=getattr(Rec, name), _name=name):
                used.append(_name)
                return _sweep(*args)
            mp.setattr(Rec, name, spy)
        yield used


@pytest.fixture(params=("compiled", "first_tier"))
def tier(request):
    """Run the test with the compiled recording sweep, then with its first tier."""
    if request.param == "compiled":
        yield
        return
    with first_tier() as used:
        yield
    assert used and set(used) == {"rules_sweep"}

FREED_RE = "Trying to backward through the graph a second time"
INPLACE_RE = "one of the variables needed for gradient computation has been modified by an inplace operation"

# Graphs whose rows save values (sin, mul, pow, exp, matmul ...); with and without a program.
SAVING = {
    "sin": lambda x: x.sin().sum(),
    "mul": lambda x: (x * x).sum(),
    "exp_mean": lambda x: x.exp().mean(),
    "pow_tensor": lambda x: (x ** x).sum(),          # POW: no program, its row goes to Python
    "matmul": lambda x: x @ x,
    "chain": lambda x: ((x.tanh() * 2.0).sigmoid() / 3.0).sum(),
}


@pytest.mark.parametrize("first", ("plain", "create_graph"))
@pytest.mark.parametrize("name", sorted(SAVING))
def test_backward_twice_through_freed_graph(name, first, tier):
    x = tape.tensor([0.5, 1.25, 2.0], dtype=tape.float64, requires_grad=True)
    y = SAVING[name](x)
    # retain_graph defaults to create_graph (as in PyTorch): free the graph explicitly.
    grad(y, x, create_graph=first == "create_graph", retain_graph=False)
    with pytest.raises(RuntimeError, match=FREED_RE):
        grad(y, x, create_graph=True)
    # The failed sweep left the thread in a usable state.
    assert state.pinned == 0
    g, = grad(SAVING[name](x), x, create_graph=True)
    assert g.requires_grad


def test_create_graph_retains_by_default():
    x = tape.tensor([0.5, 1.25, 2.0], dtype=tape.float64, requires_grad=True)
    y = x.sin().sum()
    a, = grad(y, x, create_graph=True)                      # retain_graph defaults to True here
    b, = grad(y, x, create_graph=True, retain_graph=False)
    np.testing.assert_array_equal(_np(a), _np(b))
    with pytest.raises(RuntimeError, match=FREED_RE):
        grad(y, x, create_graph=True)


def test_second_order_through_freed_first_gradient():
    """The first gradient's own rows (recorded by the compiled sweep) are freed by a second
    backward that does not retain them."""
    x = tape.tensor([0.5, 1.25], dtype=tape.float64, requires_grad=True)
    g, = grad(x.sin().sum(), x, create_graph=True)      # cos x: a COS row that saves x
    s = (g * g).sum()
    grad(s, x, create_graph=True, retain_graph=False)
    with pytest.raises(RuntimeError, match=FREED_RE):
        grad(s, x, create_graph=True)


def _inplace_cases():
    def saved_input():
        x = tape.tensor([0.5, 1.25, 2.0], dtype=tape.float64, requires_grad=True)
        a = x * 1.5
        y = a.sin().sum()          # SIN saves a
        a.add_(1.0)
        return y, x

    def saved_output():
        x = tape.tensor([0.5, 1.25, 2.0], dtype=tape.float64, requires_grad=True)
        e = x.exp()                # EXP saves its output
        y = (e * 2.0).sum()
        e.mul_(2.0)
        return y, x

    def saved_leaf():
        x = tape.tensor([0.5, 1.25, 2.0], dtype=tape.float64, requires_grad=True)
        w = tape.tensor([1.0, -1.0, 2.0], dtype=tape.float64)
        y = (x * w).sum()          # MUL saves w (x requires grad)
        w.add_(1.0)
        saved_leaf.keep = w        # kept alive (the dropped case: test_inplace_change_of_dropped_leaf)
        return y, x

    def saved_by_python_row():
        x = tape.tensor([0.5, 1.25, 2.0], dtype=tape.float64, requires_grad=True)
        a = x + 1.0
        y = (a ** x).sum()         # POW saves a; its rule has no program
        a.mul_(3.0)
        return y, x

    def scalar():
        x = tape.tensor(0.7, dtype=tape.float64, requires_grad=True)
        a = x * 2.0
        y = a.tanh()               # TANH saves its output
        y.add_(1.0)
        return y, x

    return {f.__name__: f for f in (saved_input, saved_output, saved_leaf, saved_by_python_row, scalar)}


INPLACE = _inplace_cases()


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_change_of_saved_value(name, tier):
    y, x = INPLACE[name]()
    with pytest.raises(RuntimeError, match=INPLACE_RE):
        grad(y, x, create_graph=True)
    assert state.pinned == 0
    # The plain backward raises the same error.
    y, x = INPLACE[name]()
    with pytest.raises(RuntimeError, match=INPLACE_RE):
        grad(y, x)


@pytest.mark.parametrize("create_graph", (False, True))
def test_inplace_change_of_dropped_leaf(create_graph):
    """A constant modified in place and then dropped still fails the backward (as in PyTorch,
    whose graph keeps the saved tensor and its version)."""
    def build():
        x = tape.tensor([0.5, 1.25, 2.0], dtype=tape.float64, requires_grad=True)
        w = tape.tensor([1.0, -1.0, 2.0], dtype=tape.float64)
        y = (x * w).sum()
        w.add_(1.0)
        return y, x               # w is dropped here; PyTorch's graph keeps it (and its version)

    y, x = build()
    with pytest.raises(RuntimeError, match=INPLACE_RE):
        grad(y, x, create_graph=create_graph)


# --------------------------------------------------------------------------
# 7. a loop of recorded backwards runs in flat memory
# --------------------------------------------------------------------------

@pytest.mark.parametrize("first", ["unary", "binary", "number"])
def test_loop_of_recorded_backwards_does_not_accumulate_rows(first):
    """A tape left current by a create_graph backward is reset once the loop drops its tensors,
    whichever front end records the next step's first op."""
    def step():
        x = tape.tensor(np.arange(3.0), requires_grad=True)
        if first == "unary":
            y = x.sin()
        elif first == "binary":
            y = x * tape.tensor(1.0 + np.arange(3.0))
        else:
            y = x * 3.0
        g, = grad((y * 2.0).sum(), x, create_graph=True)
        h, = grad((g * x).sum(), x, create_graph=True)
        return _np(h)

    want = {"unary": 2.0 * np.cos(np.arange(3.0)) - 2.0 * np.arange(3.0) * np.sin(np.arange(3.0)),
            "binary": 2.0 * (1.0 + np.arange(3.0)), "number": np.full(3, 6.0)}[first]
    _end_tape()
    for _ in range(300):
        np.testing.assert_allclose(step(), want, rtol=1e-12)
    # One iteration records about ten rows; nothing of the earlier ones is alive.
    assert state.tape.n <= 1024, f"{state.tape.n} rows on the current tape"


@pytest.mark.parametrize("dtype", KDTYPES, ids=lambda d: np.dtype(d).name)
def test_shape_forward_gather_and_scatter(dtype):
    """The index-list rows (offset ``ia`` in ``ix``): gather reads, scatter adds (repeats add up)."""
    x = np.arange(6.0).astype(dtype).reshape(2, 3)
    ix = np.array([9, 9, 5, 0, 5, 2], np.int64)          # a list at offset 2
    got = _run_shape(S.GATHER, dtype, x, (4,), ia=2, ix=ix)
    np.testing.assert_array_equal(got, x.reshape(-1)[[5, 0, 5, 2]])
    got = _run_shape(S.INDEX, dtype, x, (2, 2), ia=2, ix=ix)
    np.testing.assert_array_equal(got.reshape(2, 2), x.reshape(-1)[[5, 0, 5, 2]].reshape(2, 2))
    small = np.array([1.0, 2.0, 3.0, 4.0], dtype)
    got = _run_shape(S.SCATTER, dtype, small, (2, 3), ia=2, ix=ix)
    want = np.zeros(6, dtype)
    np.add.at(want, [5, 0, 5, 2], small)
    np.testing.assert_array_equal(got, want)


def test_index_rules_compile_and_run_on_the_same_tape():
    """Gather/scatter derivatives are compiled programs; they reuse the row's index list, so they
    run in compiled code when the derivative goes onto the swept tape, in Python otherwise."""
    for code in (S.GATHER, S.INDEX, S.SCATTER):
        assert P.compiled_codes()[code][0] >= 1
    x = tape.tensor(np.arange(1.0, 7.0), dtype=tape.float64, requires_grad=True)

    def derivatives():
        y = (x[[0, 2, 2]] ** 2).sum() + (x[1:4] * x[2:5]).sum()
        g, = grad(y, x, create_graph=True)
        h, = grad((g * g).sum(), x)
        return _np(g), _np(h)

    with recorder(False) as codes:
        g, h = derivatives()
    assert not {S.GATHER, S.INDEX, S.SCATTER} & set(codes), codes
    xs = np.arange(1.0, 7.0)
    gw = np.zeros(6)
    np.add.at(gw, [0, 2, 2], 2 * xs[[0, 2, 2]])
    gw[1:4] += xs[2:5]
    gw[2:5] += xs[1:4]
    np.testing.assert_allclose(g, gw, rtol=1e-12)
    with recorder(True) as codes:
        g2, h2 = derivatives()
    assert {S.GATHER, S.INDEX} <= set(codes)
    np.testing.assert_allclose(g2, g, rtol=1e-12)
    np.testing.assert_allclose(h2, h, rtol=1e-12)


# --------------------------------------------------------------------------
# 8. The recorder's tiers (``_record.recorder``)
# --------------------------------------------------------------------------

def _cg_pair():
    """A first derivative recorded, and the second through it (a plain backward); the rows of the
    tape the recorded backward swept."""
    _end_tape()
    x = tape.tensor([0.5, -1.0, 2.0], dtype=tape.float64, requires_grad=True)
    y = (x.sin() * x).exp().sum()
    n = y._tape.n
    g, = grad(y, x, create_graph=True)
    h, = grad(g.sum(), x)
    return n, _np(g), _np(h)


def test_first_tier_takes_small_graphs_until_its_rows_are_spent():
    _, g_c, h_c = _cg_pair()
    with first_tier(rows=1000) as used:
        n, _, _ = _cg_pair()
        assert set(used) == {"rules_sweep"}         # a row at a time
        assert Rec._Tier.rows_left == 1000 - n and not Rec._Tier.compiled
        Rec._Tier.rows_left = n - 1
        used.clear()
        _, g, h = _cg_pair()        # more rows than are left: the compiled sweep, from then on
        assert set(used) == {"record_sweep"} and Rec._Tier.compiled
        np.testing.assert_allclose(g, g_c, rtol=1e-13)
        used.clear()
        x = tape.tensor(0.5, dtype=tape.float64, requires_grad=True)
        grad(x.sin(), x, create_graph=True)
        assert used == ["record_sweep"]     # (a sweep that stops nowhere: one call)
    with first_tier() as used:
        _, g, h = _cg_pair()
    assert set(used) == {"rules_sweep"}
    np.testing.assert_allclose(g, g_c, rtol=1e-13)
    np.testing.assert_allclose(h, h_c, rtol=1e-13)


def test_first_tier_runs_hooks_and_anomaly_mode_as_the_compiled_sweep():
    def run():
        seen = []
        x = tape.tensor([0.5, -1.0, 2.0], dtype=tape.float64, requires_grad=True)
        a = x.sin()
        a.register_hook(lambda g: seen.append(_np(g)) or g * 2.0)
        b = a * x
        b.retain_grad()
        g, = grad(b.sum(), x, create_graph=True)
        h, = grad(g.sum(), x)
        z = tape.tensor([0.0, 1.0], dtype=tape.float64, requires_grad=True)
        with tape.autograd.detect_anomaly(), pytest.warns(UserWarning), \
                pytest.raises(RuntimeError, match="returned nan values in its 0th output"):
            grad(z.sqrt().sum() * 0.0, z, create_graph=True)
        return _np(g), _np(h), seen

    g_c, h_c, seen_c = run()
    with first_tier() as used:
        g, h, seen = run()
    assert set(used) == {"rules_sweep"}
    np.testing.assert_allclose(g, g_c, rtol=1e-13)
    np.testing.assert_allclose(h, h_c, rtol=1e-13)
    # (the hook runs in both backwards: the second goes through ``a`` too, as in PyTorch)
    assert len(seen) == len(seen_c) == 2
    for got, want in zip(seen, seen_c):
        np.testing.assert_allclose(got, want, rtol=1e-13)


def test_cached_finds_a_kernel_compiled_here_or_in_numbas_cache(tmp_path, monkeypatch):
    """``_cached``: False for a kernel neither compiled nor cached; True once compiled; and a kernel
    another process left in numba's on-disk cache is loaded, not compiled."""
    from numba import njit
    fresh = njit(lambda v: v + 1.0)
    assert not Rec._cached(fresh, (1.0,))
    fresh(1.0)
    assert Rec._cached(fresh, (1.0,))
    (tmp_path / "kernelmod.py").write_text(
        "from numba import njit\n\n@njit(cache=True)\ndef twice(v):\n    return 2.0 * v\n")
    spec = importlib.util.spec_from_file_location("kernelmod", tmp_path / "kernelmod.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "kernelmod", module)
    spec.loader.exec_module(module)
    assert not Rec._cached(module.twice, (1.0,))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    subprocess.run([sys.executable, "-c", "import kernelmod; kernelmod.twice(1.0)"], env=env, check=True)
    assert Rec._cached(module.twice, (1.0,))
    assert module.twice.signatures and not module.twice.stats.cache_misses
    assert module.twice(4.0) == 8.0
