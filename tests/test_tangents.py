"""Tangent (jvp) rules: every registered op has one, and it is right.

For every entry of the op table (``tests/test_grad_ops.py``'s ``OPS``) hypothesis draws inputs
as the gradient tests do; the op runs recorded, and the tangent sweep (``tape/_tangent.py``)
pushes input tangents ``v`` (random signs and sizes, scaled like the inputs) through every row
it recorded (hidden casts and broadcasts included).  The output tangents ``J v`` must agree with

* central finite differences of the forward along ``v`` (a five-point stencil decides when the
  three-point one disagrees), and
* the adjoint: ``<W, J v> == <J^T W, v>``, with ``J^T W`` from ``backward`` of ``sum(out * W)``.

``test_table_reaches_every_op`` checks that the table (plus the few cases written out here)
records a row of every registered op, so that no rule goes untested.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tape
from tape._tangent import tangent_sweep
from tape._tape import retire
from tape.ops import distributions as DI
from tape.ops import margin_losses as ML
from tape.ops.no_grad_grad import NO_GRAD_GRAD
from tape.ops._spec import REGISTRY, SOURCE
from tape.ops.ctc import CTC
from tape.ops.samplers import POISSON

from .test_grad_ops import OP_NAMES, OPS, as_list, draw_case, forward_values, leaves, make_weights, to_np, \
    to_tensor, tolerances


REACHED: dict = {}      # op-table name -> codes of the rows its tangent tests recorded


def _seeds(tp, ts, vs, requires) -> dict:
    """The INPUT rows of ``tp`` standing for the leaves that get a tangent, each seeded with it."""
    seeds = {}
    for node, src in tp.src.items():
        if isinstance(src, tuple):
            continue
        for t, v, r in zip(ts, vs, requires):
            if r and src() is t:
                seeds[node] = v
    return seeds


def run_tangents(fn, ts, vs, requires, dtype="float64"):
    """The op's recorded outputs and their tangents (numpy; zeros where the sweep gave none)."""
    # (on a tape of its own: an op recorded across a full tape and the next one would leave the
    # sweep of the last one only part of the graph, and zero tangents)
    retire()
    outs = as_list(fn(tape, *ts))
    tapes = {id(o._tape) for o in outs if o._tape is not None}
    assert len(tapes) <= 1, "outputs on several tapes"
    tp = next((o._tape for o in outs if o._tape is not None), None)
    tan = {} if tp is None else tangent_sweep(tp, _seeds(tp, ts, [to_tensor(tape, v, dtype) for v in vs], requires))
    got = []
    for o in outs:
        same = [v for t, v, r in zip(ts, vs, requires) if t is o and r]     # (an op that returns its input)
        if same:
            got.append(np.array(same[0]))
            continue
        t = tan.get(o._node) if o._tape is not None else None
        if t is not None:
            assert t.dtype == o.dtype, f"tangent dtype {t.dtype} != output dtype {o.dtype}"
            assert tuple(t.shape) == tuple(o.shape), f"tangent shape {tuple(t.shape)} != {tuple(o.shape)}"
            got.append(to_np(t))
        else:
            got.append(np.zeros(tuple(o.shape)))
    return outs, got


def directions(rng, case, floors):
    """Tangents: random signs and sizes in [0.5, 2], scaled by max(|x|, floor) (zero for inputs
    without one), rounded to the case's dtype."""
    vs = []
    for a, r, floor in zip(case.arrays, case.requires, floors):
        w = rng.uniform(0.5, 2.0, size=a.shape) * rng.choice([-1.0, 1.0], size=a.shape)
        v = w * np.maximum(np.abs(a), floor) if r else np.zeros(a.shape)
        vs.append(np.asarray(v, np.dtype(case.dtype)).astype(np.float64))
    return vs


def fd_along(op, arrays, vs, order):
    """Central differences of the forward (float64) along ``vs``."""
    if order == 2:
        h, stencil, denom = 2.0 ** -20, [(1.0, 1)], 2.0
    else:
        h, stencil, denom = 2.0 ** -13, [(8.0, 1), (-1.0, 2)], 12.0
    acc = None
    for c, k in stencil:
        plus = forward_values(op, [a + k * h * v for a, v in zip(arrays, vs)])
        minus = forward_values(op, [a - k * h * v for a, v in zip(arrays, vs)])
        d = [c * (p - m) for p, m in zip(plus, minus)]
        acc = d if acc is None else [x + y for x, y in zip(acc, d)]
    return [x / (denom * h) for x in acc]


def _bad(actual, ref, dtype):
    rtol, atol = tolerances(dtype)
    scale = max(1.0, float(np.max(np.abs(ref), initial=0.0)))
    return ~(np.abs(actual - ref) <= rtol * np.abs(ref) + atol * scale)


@pytest.mark.parametrize("name", OP_NAMES)
@settings(max_examples=10)
@given(data=st.data())
def test_tangents_match_finite_differences_and_adjoints(name, data):
    op = OPS[name]
    case = draw_case(data, op)
    rng = np.random.default_rng(case.seed)
    vs = directions(rng, case, op.fd_floor)
    ts = leaves(tape, case)
    outs, got = run_tangents(op.fn, ts, vs, case.requires, case.dtype)
    REACHED.setdefault(name, set()).update(*(_codes(o._tape) for o in outs))

    # finite differences along v
    ref = fd_along(op, case.arrays, vs, 2)
    if any(_bad(g, r, case.dtype).any() for g, r in zip(got, ref)):
        ref = fd_along(op, case.arrays, vs, 4)
        for k, (g, r) in enumerate(zip(got, ref)):
            bad = _bad(g, r, case.dtype)
            assert not bad.any(), (f"{name}: tangent of output {k} ({case.dtype}) differs from finite differences "
                                   f"in {int(bad.sum())}/{bad.size} entries\ngot:\n{g}\nexpected:\n{r}")

    # the adjoint: <W, J v> == <J^T W, v>
    weights = make_weights(rng, [tuple(o.shape) for o in outs], case.dtype)
    loss = sum((o * to_tensor(tape, w, case.dtype)).sum() for o, w in zip(outs, weights))
    wrt = [t for t, r in zip(ts, case.requires) if r]
    grads = tape.autograd.grad(loss, wrt, allow_unused=True)
    vw = [v for v, r in zip(vs, case.requires) if r]
    forward = sum(float(np.sum(w * g)) for w, g in zip(weights, got))
    reverse = sum(0.0 if g is None else float(np.sum(to_np(g) * v)) for g, v in zip(grads, vw))
    size = sum(float(np.sum(np.abs(w * g))) for w, g in zip(weights, got)) + sum(
        0.0 if g is None else float(np.sum(np.abs(to_np(g) * v))) for g, v in zip(grads, vw))
    rtol = 1e-9 if case.dtype == "float64" else 1e-4
    assert abs(forward - reverse) <= rtol * (size + 1.0), f"{name}: <W, J v> = {forward}, <J^T W, v> = {reverse}"


def test_every_op_has_a_tangent_rule():
    missing = sorted(op.name for code, op in REGISTRY.items() if code not in SOURCE and op.jvp is None)
    assert not missing, f"ops without a tangent rule: {missing}"


class _Product(tape.autograd.Function):
    """A custom Function with a tangent rule of its own (two outputs)."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        ctx.save_for_forward(x, y)      # (what jvp reads as ctx.saved_tensors, as PyTorch's)
        return x * y, x + y

    @staticmethod
    def backward(ctx, ga, gb):
        x, y = ctx.saved_tensors
        return ga * y + gb, ga * x + gb

    @staticmethod
    def jvp(ctx, tx, ty):
        x, y = ctx.saved_tensors
        return tx * y + x * ty, tx + ty


class _NoTangent(tape.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


# Ops no table entry records: a function, its inputs, which require grad, their dtypes.
_F64 = ("float64", "float64")


def _bce_grad(M, x, t):
    """The recorded gradient of a binary cross entropy (its ``BinaryCrossEntropyBackwardBackward0``
    row), also where ``x`` and ``t`` need none (finite differences)."""
    with M.enable_grad():
        y = x if x.requires_grad else x.detach().requires_grad_()
        loss = M.nn.functional.binary_cross_entropy(y, t, reduction="sum")
        return M.autograd.grad(loss, y, create_graph=True)[0]


def _nll_grad(M, x):
    """The recorded gradient of a NLL loss (its ``NllLossBackwardBackward0`` row), also where ``x``
    needs none (finite differences)."""
    with M.enable_grad():
        y = x if x.requires_grad else x.detach().requires_grad_()
        loss = M.nn.functional.nll_loss((y * y).view(1, 2), M.tensor([1]), reduction="sum")
        return M.autograd.grad(loss, y, create_graph=True)[0]


def _rrelu_grad(M, x):
    """rrelu's recorded gradient (its RreluWithNoiseBackwardBackward0 row) as a function of x."""
    with M.enable_grad():
        y = x if x.requires_grad else x.detach().requires_grad_()
        loss = (M.nn.functional.rrelu(y, 0.1, 0.3) * y).sum()
        return M.autograd.grad(loss, y, create_graph=True)[0]


def _embedding_grad(M, x):
    """The recorded gradient of an embedding (its ``EmbeddingDenseBackwardBackward0`` row), scaled by
    frequency, also where ``x`` needs none (finite differences)."""
    with M.enable_grad():
        w = M.stack([x * 1.0, x * x]).detach().requires_grad_()
        y = M.nn.functional.embedding(M.tensor([1, 0, 1]), w, scale_grad_by_freq=True)
        return M.autograd.grad((y * x).sum(), w, create_graph=True)[0]


def _recorded_grad(f):
    """The recorded gradient of ``(f(x) ** 2).sum()`` (the backward rows of ``f``'s op) as a function of x."""
    def grad(M, x):
        with M.enable_grad():
            y = x if x.requires_grad else x.detach().requires_grad_()
            return M.autograd.grad((f(M, y) ** 2).sum(), y, create_graph=True)[0]
    return grad


def _reflect(M, x):
    return M.nn.functional.pad(x.view(1, 1, 2), (1, 1), mode="reflect")


def _avg_pool(M, x):
    return M.nn.functional.avg_pool1d(M.cat([x, x * x]).view(1, 1, 4), 2, 1)


def _upsample(M, x):
    return M.nn.functional.interpolate(M.cat([x, x * x]).view(1, 1, 4), scale_factor=2, mode="linear")


EXTRA = {
    "reflection_pad": (_reflect, ([1.0, -2.0],), (True,), _F64),
    "reflection_pad_backward": (_recorded_grad(_reflect), ([1.0, -2.0],), (True,), _F64),
    "constant_pad_nd": (lambda M, x: M.nn.functional.pad(x, (1, 2), value=0.5) * x.sum(), ([1.0, -2.0],), (True,),
                        _F64),
    "avg_pool": (_avg_pool, ([1.0, -2.0],), (True,), _F64),
    "avg_pool_backward": (_recorded_grad(_avg_pool), ([1.0, -2.0],), (True,), _F64),
    "upsample_backward": (_recorded_grad(_upsample), ([1.0, -2.0],), (True,), _F64),
    "max_unpool": (lambda M, x: M.nn.functional.max_unpool1d(*M.nn.functional.max_pool1d(
        x.view(1, 1, 2), 2, return_indices=True), 2), ([1.0, -2.0],), (True,), _F64),
    "pixel_shuffle": (lambda M, x: M.nn.functional.pixel_shuffle(M.cat([x, x * x]).view(1, 4, 1, 1), 2),
                      ([1.0, -2.0],), (True,), _F64),
    "rrelu_": (lambda M, x: M.nn.functional.rrelu(x * 1.0, 0.1, 0.3, inplace=True), ([1.0, -2.0],), (True,), _F64),
    "rrelu_with_noise_backward": (_rrelu_grad, ([1.0, -2.0],), (True,), _F64),
    "fill_": (lambda M, x: (x * 1).fill_(2.0) + x, ([1.0, -2.0],), (True,), _F64),
    "copy_": (lambda M, x, y: (x * 1).copy_(y) * x, ([1.0, -2.0], [0.5, 3.0]), (True, True), _F64),
    "function": (lambda M, x, y: _Product.apply(x, y), ([1.0, -2.0], [0.5, 3.0]), (True, False), _F64),
    "_to_copy": (lambda M, x, y: x * y, ([1.0, -2.0], [0.5, 3.0]), (True, True), ("float32", "float64")),
    "_mask": (lambda M, x: x._mask(1) * x, ([1.0, -2.0],), (True,), _F64),
    "_masked": (lambda M, x, y: x._masked(y), ([1.0, -2.0], [0.5, 0.0]), (True, False), _F64),     # (a mask: constant)
    "_embed": (lambda M, x: x._embed(0, 1, (3, 2)) * 2, ([1.0, -2.0],), (True,), _F64),
    "_scatter": (lambda M, x: x._scatter(np.array([3, 0]), (2, 2)), ([1.0, -2.0],), (True,), _F64),
    "nll_loss_backward": (_nll_grad, ([1.0, -2.0],), (True,), _F64),
    "binary_cross_entropy_backward": (_bce_grad, ([0.25, 0.5], [0.5, 0.125]), (True, True), _F64),
    "embedding_dense_backward": (_embedding_grad, ([1.0, -2.0],), (True,), _F64),
}


def _extra_case(name):
    fn, arrays, requires, dtypes = EXTRA[name]
    ts = [to_tensor(tape, np.array(a), d, requires_grad=r) for a, r, d in zip(arrays, requires, dtypes)]
    vs = [np.array([0.25, -1.5]) if r else np.zeros(2) for r in requires]
    return fn, arrays, ts, vs, requires


@pytest.mark.parametrize("name", sorted(EXTRA))
def test_extra_ops_tangents(name):
    fn, arrays, ts, vs, requires = _extra_case(name)
    _, got = run_tangents(fn, ts, vs, requires, str(ts[0].dtype).split(".")[1])
    h = 2.0 ** -20
    with tape.no_grad():
        plus = as_list(fn(tape, *[tape.tensor(np.add(a, h * v), dtype=tape.float64) for a, v in zip(arrays, vs)]))
        minus = as_list(fn(tape, *[tape.tensor(np.subtract(a, h * v), dtype=tape.float64) for a, v in zip(arrays, vs)]))
    for g, p, m in zip(got, plus, minus):
        np.testing.assert_allclose(g, (to_np(p) - to_np(m)) / (2 * h), rtol=1e-6, atol=1e-8)


def test_function_without_jvp_raises_pytorchs_error():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = _NoTangent.apply(x)
    with pytest.raises(NotImplementedError, match="You must implement the jvp function for custom "
                                                  "autograd.Function to use it with forward mode AD."):
        tangent_sweep(y._tape, {x._in: tape.ones(2)})


def test_inplace_without_derivative_has_no_tangent():
    x = tape.tensor([0.5, 0.25], requires_grad=True)
    y = x * 1
    y.asinh_()
    with pytest.raises(NotImplementedError, match="inplace version of asinh"):
        tangent_sweep(y._tape, {x._in: tape.ones(2)})


def test_ldl_has_no_tangent():
    a = tape.tensor([[4.0, 1.0], [1.0, 3.0]], requires_grad=True)
    ld, piv = tape.linalg.ldl_factor(a)
    with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_factor_ex is not implemented"):
        tangent_sweep(ld._tape, {a._in: tape.ones(2, 2)})
    b = tape.tensor([[1.0], [2.0]], requires_grad=True)
    x = tape.linalg.ldl_solve(ld.detach(), piv, b)
    with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_solve is not implemented"):
        tangent_sweep(x._tape, {b._in: tape.ones(2, 1)})


def _codes(tp) -> set:
    return set() if tp is None else {int(c) for c in tp.op[:tp.n]}


def test_table_reaches_every_op():
    """(Runs after the table's tangent tests, from the rows they recorded.)"""
    assert len(REACHED) == len(OP_NAMES), "run the op table's tangent tests first (the whole file)"
    seen = set().union(*REACHED.values())
    for name in EXTRA:
        fn, _, ts, _, _ = _extra_case(name)
        outs = as_list(fn(tape, *ts))
        seen |= _codes(outs[0]._tape)
    seen.add(910)       # (asinh_ and co.: test_inplace_without_derivative_has_no_tangent)
    seen.update((969, 970))     # (ldl_factor_ex, ldl_solve: test_ldl_has_no_tangent)
    seen.add(946)       # (histogram, unique ...: tests/test_counting.py test_no_derivative)
    seen.add(912)       # (floor_divide, heaviside: tests/test_special.py test_no_derivative_nodes)
    seen.add(986)       # (addcdiv by an integer divisor: PyTorch's backward fails, as its tangent here)
    seen.add(961)       # (scatter_reduce's plain row: only inside its prod rule; the front ends hold the index, 985)
    # (multi_margin_loss, multilabel_margin_loss, ctc_loss and their recorded gradients, hardsigmoid's too: no
    # forward AD in PyTorch, its error: tests/test_nn_loss3_torch.py, tests/test_pytorch_autograd_s41.py)
    seen.update((ML.MULTI_MARGIN, ML.MULTILABEL_MARGIN, NO_GRAD_GRAD, CTC))
    # (a gamma sample and its gradient: random draws, which finite differences cannot follow; the sample's
    # gradient is checked against PyTorch's in tests/test_distributions_torch.py, and the gradient has no tangent)
    seen.update((DI.STANDARD_GAMMA, DI.STANDARD_GAMMA_GRAD))
    seen.add(POISSON)       # (a Poisson sample, random as a gamma's: its zero tangent in tests/test_misc_ops.py)
    missing = sorted(f"{REGISTRY[c].name} ({c})" for c in REGISTRY if c not in SOURCE and c not in seen)
    assert not missing, f"registered ops that no tangent test records: {missing}"
