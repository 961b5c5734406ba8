"""lerp, addcmul, addcdiv, clamp with tensor bounds and in-place copies against PyTorch.

The op table (``tests/test_grad_ops.py``) checks their gradients of every order on smooth domains;
here they meet edge values (infinities, nan, ties with the bounds, weights at 0, 0.5 and 1),
broadcasting of every operand, float32, integer inputs, each form (function, method, in place),
with PyTorch's values, first, second and third derivatives, node names and edges, and errors.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import tape

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

EDGES = [-math.inf, -3.0, -1.0, -0.0, 0.0, 0.25, 0.5, 1.0, 2.0, math.inf, math.nan]


def _np(t):
    return None if t is None else t.detach().numpy()


def _names(t):
    fn = t.grad_fn
    return None if fn is None else (type(fn).__name__, [None if f is None else type(f).__name__
                                                        for f, _ in fn.next_functions])


def _run(M, fn, arrays, dtype, grads, order=2):
    """The op's value, node, and (for ``order`` >= 1) derivatives of each order with respect to
    the inputs that require grad, each from the previous one's weighted sum."""
    ts = [M.tensor(a, dtype=getattr(M, dtype), requires_grad=g) for a, g in zip(arrays, grads)]
    out = fn(M, *ts)
    res = [_np(out), _names(out), str(out.dtype)]
    wanted = [t for t in ts if t.requires_grad]
    if not out.requires_grad or order == 0:
        return res
    rng = np.random.default_rng(0)
    y = out
    for k in range(order):
        w = M.tensor(rng.uniform(0.5, 2.0, size=tuple(y.shape)), dtype=y.dtype)
        gs = M.autograd.grad((y * w).sum(), wanted, create_graph=k + 1 < order, allow_unused=True)
        res.append([_np(g) for g in gs])
        live = [g for g in gs if g is not None and g.requires_grad]
        if not live:
            break
        y = sum((g * g).sum() * 0.5 for g in live) if len(live) > 1 else live[0]
    return res


def _same(mine, ref, dtype, what):
    rtol = 1e-12 if dtype == "float64" else 2e-6
    assert mine[1:3] == ref[1:3], what
    assert len(mine) == len(ref), what
    # (PyTorch's float32 loops contract a * b + c into one rounding, numpy rounds twice)
    np.testing.assert_allclose(mine[0], ref[0], rtol=rtol, atol=1e-300 if dtype == "float64" else 1e-6, err_msg=what)
    for k, (a, b) in enumerate(zip(mine[3:], ref[3:])):
        assert [x is None for x in a] == [x is None for x in b], (what, k)
        for x, y in zip(a, b):
            if x is not None:
                assert x.shape == y.shape, (what, k)
                np.testing.assert_allclose(x, y, rtol=rtol * 100, atol=1e-12 if dtype == "float64" else 1e-5,
                                           err_msg=f"{what}, derivative {k + 1}")


def _grid(*columns):
    """All combinations of the given value lists, as 1-D arrays (one per operand)."""
    mesh = np.meshgrid(*columns, indexing="ij")
    return [m.reshape(-1) for m in mesh]


TERNARY = {
    "lerp_tensor": lambda M, x, y, w: M.lerp(x, y, w),
    "lerp_method": lambda M, x, y, w: x.lerp(y, w),
    "addcmul": lambda M, x, a, b: M.addcmul(x, a, b),
    "addcmul_value": lambda M, x, a, b: x.addcmul(a, b, value=-0.5),
    "addcdiv": lambda M, x, a, b: M.addcdiv(x, a, b),
    "addcdiv_value": lambda M, x, a, b: x.addcdiv(a, b, value=3),
    "clamp": lambda M, x, lo, hi: M.clamp(x, lo, hi),
    "clip": lambda M, x, lo, hi: x.clip(lo, hi),
}
BINARY_FORMS = {
    "lerp_0.25": lambda M, x, y: M.lerp(x, y, 0.25),
    "lerp_0.5": lambda M, x, y: x.lerp(y, 0.5),
    "lerp_1": lambda M, x, y: M.lerp(x, y, 1),
    "lerp_-2": lambda M, x, y: x.lerp(y, -2.0),
    "clamp_min": lambda M, x, lo: M.clamp(x, min=lo),
    "clamp_max": lambda M, x, hi: x.clamp(max=hi),
    "clamp_min_fn": lambda M, x, lo: M.clamp_min(x, lo),
    "clamp_max_method": lambda M, x, hi: x.clamp_max(hi),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(TERNARY))
def test_ternary_on_edges_matches_torch(name, dtype):
    arrays = _grid(EDGES, [-1.0, 0.0, 2.0, math.inf, math.nan], [0.0, 0.5, 1.0, 3.0, -math.inf, math.nan])
    for grads in ((True, True, True), (False, True, False), (True, False, True)):
        mine, ref = (_run(M, TERNARY[name], arrays, dtype, grads, order=1) for M in (tape, torch))
        _same(mine, ref, dtype, f"{name} {grads}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(BINARY_FORMS))
def test_number_and_one_bound_forms_on_edges_match_torch(name, dtype):
    arrays = _grid(EDGES, [-1.0, -0.0, 0.0, 0.5, 2.0, math.inf, math.nan])
    for grads in ((True, True), (False, True), (True, False)):
        mine, ref = (_run(M, BINARY_FORMS[name], arrays, dtype, grads, order=1) for M in (tape, torch))
        _same(mine, ref, dtype, f"{name} {grads}")


# Smooth values, broadcast operands of every kind: derivatives to third order (PyTorch's clamp
# does not reduce its input's gradient to the input's shape, so the input has the full shape there).
SHAPES = [((2, 3), (3,), (2, 1)), ((1, 3), (2, 1), ()), ((), (2, 3), (3,)), ((2, 1, 3), (4, 1), (3,))]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(TERNARY))
def test_broadcast_derivatives_to_third_order_match_torch(name, dtype):
    rng = np.random.default_rng(1)
    for shapes in SHAPES:
        if name in ("clamp", "clip"):
            full = np.broadcast_shapes(*shapes)
            shapes = (full,) + shapes[1:]
            arrays = [rng.uniform(-3, 3, full), rng.uniform(-2, -0.5, shapes[1]), rng.uniform(0.5, 2, shapes[2])]
        else:
            arrays = [rng.uniform(0.5, 2.0, s) * rng.choice([-1, 1], s) for s in shapes]
        mine, ref = (_run(M, TERNARY[name], arrays, dtype, (True, True, True), order=3) for M in (tape, torch))
        _same(mine, ref, dtype, f"{name} {shapes}")


def test_node_names_and_edges_match_torch():
    cases = {
        "lerp_number": lambda M, x, y, z: M.lerp(x, y, 0.3),
        "lerp_tensor": lambda M, x, y, z: M.lerp(x, y, z),
        "lerp_0d_weight": lambda M, x, y, z: M.lerp(x, y, z.sum()),
        "addcmul": lambda M, x, y, z: M.addcmul(x, y, z),
        "addcdiv": lambda M, x, y, z: M.addcdiv(x, y, z, value=2.0),
        "clamp_number": lambda M, x, y, z: M.clamp(x, 0.2, 0.5),
        "clamp_min_number": lambda M, x, y, z: M.clamp_min(x, 0.2),
        "clamp_max_number": lambda M, x, y, z: x.clamp_max(0.2),
        "clip_number_min": lambda M, x, y, z: x.clip(min=0.2),
        "clamp_tensors": lambda M, x, y, z: M.clamp(x, y, z),
        "clamp_tensor_min": lambda M, x, y, z: M.clamp(x, min=y),
        "clamp_tensor_max": lambda M, x, y, z: M.clamp(x, max=z),
        "clamp_min_tensor": lambda M, x, y, z: M.clamp_min(x, y),
        "clamp_max_tensor": lambda M, x, y, z: x.clamp_max(z),
    }
    arrays = [np.array([0.1, 0.4, 0.9]), np.array([0.3, 0.3, 0.3]), np.array([0.5, 0.6, 0.7])]
    for name, fn in cases.items():
        for grads in ((True, True, True), (True, False, True), (False, True, False)):
            mine, ref = (_run(M, fn, arrays, "float64", grads, order=1) for M in (tape, torch))
            _same(mine, ref, "float64", f"{name} {grads}")


def test_dtypes_and_integer_inputs_match_torch():
    cases = [
        lambda M: M.addcmul(M.tensor([1, 2]), M.tensor([1, 2]), M.tensor([3, 4]), value=2),
        lambda M: M.addcmul(M.tensor([1, 2]), M.tensor([1, 2]), M.tensor([3, 4]), value=2.5),
        lambda M: M.addcmul(M.tensor([1, 2]), M.tensor([1.5, 2]), M.tensor([3, 4])),
        lambda M: M.addcmul(M.tensor([1.0, 2]), M.tensor([1.5, 2], dtype=M.float64), M.tensor(3)),
        lambda M: M.addcdiv(M.tensor([1.0, 2]), M.tensor([1, 2]), M.tensor(2.0)),
        lambda M: M.addcdiv(M.tensor([1, 2]), M.tensor([1.0, 3]), M.tensor([2, 4])),
        lambda M: M.lerp(M.tensor([1.0, 2]), M.tensor([3.0, 5]), M.tensor(0.5, dtype=M.float64)),
        lambda M: M.lerp(M.tensor([1.0, 2]), M.tensor([3.0, 5]), M.tensor(1)),
        lambda M: M.lerp(M.tensor([1.0, 2], dtype=M.float64), M.tensor([3.0, 5], dtype=M.float64), 0.75),
        lambda M: M.lerp(M.tensor([1, 2]), M.tensor([1, 5]), M.tensor(0.5)),
        lambda M: M.lerp(M.tensor(1.0), M.tensor([1.0, 5]), 0.25),
        lambda M: M.clamp(M.tensor([1, 5, 9]), M.tensor([2, 2, 2]), M.tensor([3.5, 4, 4])),
        lambda M: M.clamp(M.tensor([1.0, 5, 9]), M.tensor([2, 2, 2]), M.tensor([6, 6, 6])),
        lambda M: M.clamp(M.tensor([1.0, 5, 9]), M.tensor([2.0, 2, 2], dtype=M.float64)),
        lambda M: M.clamp(M.tensor([1.0, 5, 9]), M.tensor(2.5, dtype=M.float64)),
        lambda M: M.clamp(M.tensor([1, 5, 9]), M.tensor(2.5)),
        lambda M: M.clamp_min(M.tensor([1, 5, 9]), M.tensor([2, 6, 7])),
        lambda M: M.clamp_max(M.tensor([1, 5, 9]), M.tensor(4)),
        lambda M: M.clamp(M.tensor([1.0, 5, 9]), M.tensor([6.0, 6, 6]), M.tensor([2.0, 2, 2])),
        lambda M: M.clamp(M.tensor([-0.0, 0.0, 2.0]), M.tensor([0.0, -0.0, 0.0]), M.tensor(1.0)),
    ]
    for k, fn in enumerate(cases):
        mine, ref = fn(tape), fn(torch)
        assert str(mine.dtype) == str(ref.dtype) and tuple(mine.shape) == tuple(ref.shape), k
        np.testing.assert_array_equal(mine.numpy(), ref.numpy(), err_msg=str(k))
        np.testing.assert_array_equal(np.signbit(mine.numpy()), np.signbit(ref.numpy()), err_msg=str(k))


def _error(fn):
    try:
        fn()
    except Exception as e:      # noqa: BLE001 (the error is what is compared)
        return type(e), str(e)
    return None


def test_errors_match_torch():
    cases = [
        lambda M: M.addcdiv(M.tensor([1, 2]), M.tensor([1, 2]), M.tensor([1, 2])),
        lambda M: M.addcdiv(M.tensor([1.0, 2]), M.tensor([1, 2]), M.tensor([1, 2])),
        lambda M: M.addcmul(M.tensor([True]), M.tensor([True]), M.tensor([True])),
        lambda M: M.addcmul(M.zeros(3), M.ones(3), 2.0),
        lambda M: M.addcmul(M.zeros(3), M.ones(2), M.ones(3)),
        lambda M: M.zeros(2, dtype=M.int64).addcmul_(M.tensor([1.5, 2]), M.tensor([1, 2])),
        lambda M: M.lerp(M.tensor([1, 2]), M.tensor([1, 2]), 0.5),
        lambda M: M.lerp(M.tensor([1, 2]), M.tensor([1, 2]), M.tensor(1)),
        lambda M: M.lerp(M.tensor([1, 2]), M.tensor([1.0, 2]), M.tensor(0.5)),
        lambda M: M.lerp(M.tensor(1.0, dtype=M.float64), M.tensor([1.0, 5]), 0.5),
        lambda M: M.lerp(M.zeros(3), M.zeros(3, dtype=M.float64), 0.5),
        lambda M: M.lerp(M.zeros(3), M.ones(3), M.tensor([1, 2, 3])),
        lambda M: M.lerp(M.zeros(3), M.ones(3), M.ones(3, dtype=M.float64)),
        lambda M: M.lerp(M.zeros(3), M.ones(2), 0.5),
        lambda M: M.lerp(M.zeros(3), 1.0, 0.5),
        lambda M: M.zeros(3).lerp_(M.ones(2, 3), 0.5),
        lambda M: M.ones(3, requires_grad=True).lerp_(M.ones(3), 0.5),
        lambda M: M.ones(3, requires_grad=True).addcdiv_(M.ones(3), M.ones(3)),
        lambda M: M.clamp(M.ones(3), M.ones(3), 2.0),
        lambda M: M.clamp(M.ones(3), 0.0, M.ones(3)),
        lambda M: M.clamp(M.ones(3), M.ones(2)),
        lambda M: M.clamp_min(M.ones(3), None),
        lambda M: M.clamp_max(M.ones(3), "a"),
        lambda M: M.zeros(3).clamp_(M.zeros(2, 3)),
        lambda M: M.ones(3, requires_grad=True).clamp_(M.zeros(3)),
    ]
    for k, fn in enumerate(cases):
        mine, ref = _error(lambda: fn(tape)), _error(lambda: fn(torch))
        assert ref is not None, k
        assert mine == ref, (k, mine, ref)


def test_in_place_forms_match_torch():
    cases = {
        "lerp_": lambda M, h, a, b: h.lerp_(a, b),
        "lerp_number_": lambda M, h, a, b: h.lerp_(a, 0.75),
        "addcmul_": lambda M, h, a, b: h.addcmul_(a, b, value=2),
        "addcdiv_": lambda M, h, a, b: h.addcdiv_(a, b + 3.0),
        "clamp_": lambda M, h, a, b: h.clamp_(a - 1.0, b + 1.0),
        "clip_": lambda M, h, a, b: h.clip_(max=b),
        "clamp_min_": lambda M, h, a, b: h.clamp_min_(a),
        "clamp_max_": lambda M, h, a, b: h.clamp_max_(b[0]),
    }
    values = [np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]), np.array([0.3, -0.2, 1.0]), np.array([[0.6], [-1.2]])]
    for name, fn in cases.items():
        out = []
        for M in (tape, torch):
            ts = [M.tensor(v, dtype=M.float64, requires_grad=True) for v in values]
            h = ts[0] * 1.0
            r = fn(M, h, ts[1], ts[2])
            assert r is h
            gs = M.autograd.grad((h * h).sum(), ts, allow_unused=True)
            out.append((_np(h), h._version, _names(h), [None if g is None else _np(g) for g in gs]))
        (hm, vm, nm, gm), (hr, vr, nr, gr) = out
        assert (vm, nm) == (vr, nr), name
        np.testing.assert_allclose(hm, hr, rtol=1e-14, err_msg=name)
        for a, b in zip(gm, gr):
            assert (a is None) == (b is None), name
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15, err_msg=name)


def test_saved_inputs_modified_in_place_raise_as_torch():
    """LerpBackward1 and ClampBackward0 save all three inputs, addcmul and addcdiv their tensor1 and
    tensor2 (not their input), LerpBackward0 none: the third one's changes are checked too."""
    cases = {
        "lerp_tensor": (lambda M, x, a, b: M.lerp(x, a, b), (0, 1, 2)),
        "lerp_number": (lambda M, x, a, b: M.lerp(x, a, 0.5) + b, ()),
        "addcmul": (lambda M, x, a, b: M.addcmul(x, a, b), (1, 2)),
        "addcdiv": (lambda M, x, a, b: M.addcdiv(x, a, b), (1, 2)),
        "clamp": (lambda M, x, a, b: M.clamp(x, a, b), (0, 1, 2)),
    }
    for name, (fn, saved) in cases.items():
        for k in range(3):
            results = []
            for M in (tape, torch):
                leaves = [M.tensor([0.5, 1.5], dtype=M.float64, requires_grad=True) for _ in range(3)]
                ins = [t * 1.0 for t in leaves]
                ins[1] = ins[1] - 1.0
                ins[2] = ins[2] + 1.0
                y = fn(M, *ins)
                ins[k].mul_(2.0)
                results.append(_error(lambda: y.sum().backward()))
            mine, ref = results
            assert (ref is not None) == (k in saved), (name, k, ref)
            # (tape's message names the row that failed where PyTorch's gives the versions)
            same = "which is output 0 of "
            assert (mine is None or (mine[0], mine[1].split(same)[0]) == (ref[0], ref[1].split(same)[0])), (name, k)
            assert (mine is None) == (ref is None), (name, k)


# --- the compiled faces: ternary_forward writes each row's value as numpy computed it, and the
# plain backward's fused loops give the rule's (recorded backward's) gradients, on edge values too
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(TERNARY) + sorted(BINARY_FORMS))
def test_compiled_faces_match_numpy_and_the_rule(name, dtype):
    from tape.ops import join as J

    fn = TERNARY.get(name) or BINARY_FORMS[name]
    columns = [EDGES, [-1.0, 0.0, 2.0, math.inf, math.nan], [0.0, 0.5, 1.0, 3.0, -math.inf, math.nan]]
    arrays = _grid(*columns[:2 if name in BINARY_FORMS else 3])
    ts = [tape.tensor(a, dtype=getattr(tape, dtype), requires_grad=True) for a in arrays]
    out = fn(tape, *ts)
    t, r = out._tape, out._node
    arena = t.v64 if t.dt[r] == 0 else t.v32
    expected = arena.copy()
    arena[t.off[r]:t.off[r] + t.num[r]] = 0.125     # the kernel must write every element
    if int(t.op[r]) in range(384, 396):
        assert J.join_forward(int(t.op[r]), t.R, t.ix, t.stab, arena, r)
        np.testing.assert_array_equal(arena, expected)
    w = tape.tensor(np.random.default_rng(3).uniform(0.5, 2.0, len(arrays[0])), dtype=out.dtype)
    plain = tape.autograd.grad((out * w).sum(), ts, retain_graph=True)
    recorded = tape.autograd.grad((out * w).sum(), ts, create_graph=True)
    for p, q in zip(plain, recorded):
        np.testing.assert_array_equal(p.numpy(), q.detach().numpy(), err_msg=name)


COPIES = {
    "same": lambda M, x, s: (x * 2.0).copy_(s),
    "broadcast": lambda M, x, s: (x * 2.0).copy_(s[:1]),
    "from_float64": lambda M, x, s: (x * 2.0).copy_(s.double()),
    "from_float32": lambda M, x, s: (x.double() * 2.0).copy_(s),
    "into_plain": lambda M, x, s: M.zeros(3).copy_(s) * x,
    "from_plain": lambda M, x, s: (x * 2.0).copy_(s.detach() + 1.0),
    "from_integers": lambda M, x, s: (x * 2.0).copy_(M.tensor([1, 2, 3])),
    "from_number": lambda M, x, s: (x * 2.0).copy_(2.5),
    "0d": lambda M, x, s: (x.sum() * 1.0).copy_(s[1]),
    "matrix_power_0": lambda M, x, s: M.linalg.matrix_power(M.outer(x, s), 0),
    "matrix_power_0_batch": lambda M, x, s: M.stack([M.outer(x, s)] * 2).matrix_power(0) * x,
}


@pytest.mark.parametrize("name", sorted(COPIES))
def test_copy_matches_torch(name):
    """copy_: CopyBackwards with the tensor's old value and the source as edges; the gradient to the
    old value is zero, to the source summed to its shape and cast to its dtype (every order)."""
    arrays = [np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.25, -0.75])]
    for grads in ((True, True), (True, False), (False, True)):
        mine, ref = (_run(M, COPIES[name], arrays, "float32", grads, order=3) for M in (tape, torch))
        _same(mine, ref, "float32", f"{name} {grads}")
        for M, res in ((tape, mine), (torch, ref)):
            x = M.tensor(arrays[0], requires_grad=grads[0])
            s = M.tensor(arrays[1], requires_grad=grads[1])
            res.append(COPIES[name](M, x, s)._version if name in ("same", "broadcast", "0d") else None)
        assert mine[-1] == ref[-1], name


def test_copy_dtypes_errors_and_no_grad_match_torch():
    cases = [
        lambda M: M.ones(3, dtype=M.int64).copy_(M.tensor([1.7, 2.2, -3.9])),
        lambda M: M.ones(2, 3).copy_(M.tensor([1.7, 2.2, -3.9])),
        lambda M: M.ones(3).copy_(M.tensor([1, 2, 3]), non_blocking=True),
        lambda M: M.ones(3, dtype=M.bool).copy_(M.tensor([0.0, 2.0, -1.0])),
        lambda M: M.zeros(3, dtype=M.int64).copy_(M.tensor([1.5, 2, 3], requires_grad=True)),
    ]
    for k, fn in enumerate(cases):
        mine, ref = fn(tape), fn(torch)
        assert (str(mine.dtype), mine.requires_grad, mine.tolist()) == (str(ref.dtype), ref.requires_grad, ref.tolist()), k
    errors = [
        lambda M: M.ones(3, requires_grad=True).copy_(M.zeros(3)),
        lambda M: M.ones(3).copy_(M.zeros(2)),
        lambda M: M.ones(3).copy_(M.ones(2, 3)),
    ]
    for k, fn in enumerate(errors):
        mine, ref = _error(lambda: fn(tape)), _error(lambda: fn(torch))
        assert ref is not None and mine == ref, (k, mine, ref)
    for M in (tape, torch):
        x = M.ones(3, requires_grad=True)
        h = x * 2.0
        with M.no_grad():
            h.copy_(M.zeros(3))
        assert type(h.grad_fn).__name__ == "MulBackward0" and h.tolist() == [0.0, 0.0, 0.0]
        h.sum().backward()
        assert x.grad.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("complement", [False, True])
def test_vectorized_erf_is_accurate(complement):
    """ops/_erf.py against libm's erf and erfc (within 1 ulp themselves) over a dense grid: float64
    within 2 ulps (erf) and 5 (erfc), float32 within half an ulp of libm's float64 value (so
    correctly rounded but where the float64 value is within a few ulps of a tie)."""
    from tape.ops._erf import erf_vectorized

    f = math.erfc if complement else math.erf
    grid = np.concatenate([np.linspace(-30, 30, 200_001), np.linspace(-1.5, 1.5, 100_001),
                           np.logspace(-300, 1.5, 20_000), -np.logspace(-40, 1.5, 2_000)])
    for dtype, bound in ((np.float64, 5.0 if complement else 2.0), (np.float32, 0.5)):
        x = grid.astype(dtype)
        ref = np.array([f(float(v)) for v in x])
        got = erf_vectorized(x, complement).astype(np.float64)
        ulps = np.abs(got - ref) / np.spacing(np.abs(ref).astype(dtype)).astype(np.float64)
        assert ulps.max() <= bound, (dtype, ulps.max(), x[ulps.argmax()])
    edges = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 30.0, -30.0])
    expected = [f(v) for v in edges]
    for dtype in (np.float64, np.float32):
        got = erf_vectorized(edges.astype(dtype), complement)
        np.testing.assert_array_equal(got, np.array(expected, dtype))
        np.testing.assert_array_equal(np.signbit(got), np.signbit(np.array(expected)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_big_erf_rows_match_torch(dtype):
    """erf and erfc of arrays past ``NUMPY_ROWS`` take ops/_erf.py: values and gradients as PyTorch's."""
    x = np.random.default_rng(5).standard_normal(40_000) * 3
    for name in ("erf", "erfc"):
        out = []
        for M in (tape, torch):
            t = M.tensor(x, dtype=getattr(M, dtype), requires_grad=True)
            y = getattr(t, name)()
            y.backward(M.ones_like(y))
            out.append((y.detach().numpy(), t.grad.numpy()))
        rtol = 1e-14 if dtype == "float64" else 3e-7
        np.testing.assert_allclose(out[0][0], out[1][0], rtol=rtol, atol=1e-300, err_msg=name)
        np.testing.assert_allclose(out[0][1], out[1][1], rtol=rtol * 10, atol=1e-300, err_msg=name)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_big_where_matches_torch(dtype):
    """where's compiled blend (from ``_SELECT_FROM`` elements) and its adjoint without broadcasting:
    values (nan, -0.) and gradients as PyTorch's, the nan gradient kept to its side."""
    from tape.ops.join import _SELECT_FROM

    rng = np.random.default_rng(6)
    x = rng.standard_normal(_SELECT_FROM + 3)
    x[:4] = [np.nan, -0.0, np.inf, 0.0]
    y = rng.standard_normal(x.size)
    out = []
    for M in (tape, torch):
        a = M.tensor(x, dtype=getattr(M, dtype), requires_grad=True)
        b = M.tensor(y, dtype=getattr(M, dtype), requires_grad=True)
        z = M.where(a > b, a * 2.0, b)
        (z * M.tensor(1.0 / x, dtype=getattr(M, dtype))).sum().backward()
        out.append([t.detach().numpy() for t in (z, a.grad, b.grad)])
    for m, r in zip(*out):
        np.testing.assert_array_equal(m, r)
        np.testing.assert_array_equal(np.signbit(m), np.signbit(r))


@pytest.mark.parametrize("divisor", ["bool", "uint8", "int32", "int64"])
def test_addcdiv_by_an_integer_divisor_fails_in_backward_as_pytorch(divisor):
    # PyTorch's AddcdivBackward0 divides ``value`` by the divisor into a tensor of the divisor's dtype
    # for the numerator's gradient: that backward fails (the forward, and the input's gradient alone, work).
    outcome = []
    for M in (torch, tape):
        x = M.ones(3, requires_grad=True)
        t1 = M.ones(3, dtype=M.float64, requires_grad=True)
        t2 = M.tensor([1, 2, 3]).to(getattr(M, divisor))
        y = M.addcdiv(x, t1, t2, value=2)
        got = [y.tolist(), type(y.grad_fn).__name__]
        for create_graph in (False, True):
            try:
                M.autograd.grad(y.sum(), (x, t1), retain_graph=True, create_graph=create_graph)
            except RuntimeError as e:
                got.append(str(e))
        x.grad = None
        M.addcdiv(x, t1.detach(), t2).sum().backward()
        got.append(x.grad.tolist())
        outcome.append(got)
    assert outcome[0] == outcome[1]
