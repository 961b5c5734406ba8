"""Differential tests: tape against PyTorch on the op table of test_grad_ops.py.

For every op in ``test_grad_ops.OPS`` hypothesis draws inputs, a dtype
(float64 / float32) and which inputs require grad (possibly none); the same
computation is built in tape and in torch and the test compares

* forward values, shapes and dtypes of every output,
* ``requires_grad`` / ``is_leaf`` / ``type(grad_fn).__name__`` of inputs,
  outputs and the weighted loss, also under ``no_grad()``,
* ``.grad`` of every input after ``loss.backward()`` (None-ness, dtype,
  shape, values, flags).

A few error cases (broadcast mismatch, matmul mismatch, invalid view, dim out
of range, backward misuse) compare exception type and message; tape may say
"tape" where torch says "torch".
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

import tape  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _left_to_right_einsum():
    # (tape's einsum contracts left to right, as PyTorch does without opt_einsum, which jax installs)
    with torch.backends.opt_einsum.flags(enabled=False):
        yield


def _load_table():
    """The op table module, whichever way pytest imported the test files."""
    mod = sys.modules.get("test_grad_ops")
    if mod is not None and getattr(mod, "__file__", None) and Path(mod.__file__).resolve() == (
        Path(__file__).resolve().with_name("test_grad_ops.py")
    ):
        return mod
    name = "_tape_test_grad_ops_table"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).resolve().with_name("test_grad_ops.py")
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


G = _load_table()
OPS = G.OPS
OP_NAMES = G.OP_NAMES


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def fn_name(t):
    return None if t.grad_fn is None else type(t.grad_fn).__name__


def dtype_name(dt) -> str:
    return str(dt).rsplit(".", 1)[-1]


def next_structure(t):
    """One level of the graph: names of grad_fn.next_functions and indices."""
    if t.grad_fn is None:
        return None
    return tuple(
        (None if f is None else type(f).__name__, i) for f, i in t.grad_fn.next_functions
    )


def flags(t):
    return {
        "requires_grad": t.requires_grad,
        "is_leaf": t.is_leaf,
        "grad_fn": fn_name(t),
        "next_functions": next_structure(t),
        "dtype": dtype_name(t.dtype),
        "shape": tuple(t.shape),
    }


def assert_same_flags(tt, ct, what):
    ft, fc = flags(tt), flags(ct)
    assert ft == fc, f"{what}: tape {ft} != torch {fc}"


def assert_values(tv, cv, ref64, dtype, scaled, what):
    """tape value ``tv`` vs torch value ``cv`` (same dtype); ``ref64`` is the
    torch float64 result on the same (rounded) inputs."""
    tv, cv, ref64 = (np.asarray(a, dtype=np.float64) for a in (tv, cv, ref64))
    assert tv.shape == cv.shape, f"{what}: shape {tv.shape} != {cv.shape}"
    scale = max(1.0, float(np.max(np.abs(ref64), initial=0.0))) if scaled else 1.0
    if dtype == "float64":
        bound = 1e-10 * np.abs(cv) + 1e-12 * scale
    else:
        bound = 1e-4 * np.abs(ref64) + 1e-5 * scale + 4 * np.abs(cv - ref64)
    err = np.abs(tv - cv)
    same_nonfinite = (~np.isfinite(cv)) & (
        (tv == cv) | (np.isnan(tv) & np.isnan(cv))
    )
    bad = ~((err <= bound) | same_nonfinite)
    if bad.any():
        idx = tuple(int(k) for k in np.argwhere(bad)[0])
        raise AssertionError(
            f"{what} ({dtype}): {int(bad.sum())}/{bad.size} entries differ; first at {idx}: "
            f"tape {tv[idx]!r}, torch {cv[idx]!r}\ntape:\n{tv}\ntorch:\n{cv}"
        )


def weighted_loss(M, outs, weights, dtype):
    return G.weighted_loss(M, outs, weights, dtype)


# --------------------------------------------------------------------------
# op table differential test
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", OP_NAMES)
@settings(deadline=None)
@given(data=st.data())
def test_op_matches_torch(name, data):
    op = OPS[name]
    case = G.draw_case(data, op, allow_no_grad=True)
    dtype = case.dtype
    any_grad = any(case.requires)

    tt = G.leaves(tape, case)
    ct = G.leaves(torch, case)
    for i, (a, b) in enumerate(zip(tt, ct)):
        assert_same_flags(a, b, f"{name}: input {i}")
        np.testing.assert_array_equal(G.to_np(a), case.arrays[i], err_msg=f"{name}: input {i}")

    t_raw = op.fn(tape, *tt)
    c_raw = op.fn(torch, *ct)
    assert isinstance(t_raw, (tuple, list)) == isinstance(c_raw, (tuple, list)), (
        f"{name}: tape returned {type(t_raw).__name__}, torch {type(c_raw).__name__}"
    )
    t_outs, c_outs = G.as_list(t_raw), G.as_list(c_raw)
    assert len(t_outs) == len(c_outs), f"{name}: {len(t_outs)} outputs != {len(c_outs)}"

    with torch.no_grad():
        ref_outs = G.as_list(op.fn(torch, *G.leaves(torch, case, "float64")))
    for k, (to, co, ro) in enumerate(zip(t_outs, c_outs, ref_outs)):
        assert_same_flags(to, co, f"{name}: output {k}")
        assert_values(G.to_np(to), G.to_np(co), G.to_np(ro), dtype, op.mixing, f"{name}: output {k}")

    # no_grad: same values, no graph
    with tape.no_grad():
        t_ng = G.as_list(op.fn(tape, *tt))
    with torch.no_grad():
        c_ng = G.as_list(op.fn(torch, *ct))
    for k, (to, co) in enumerate(zip(t_ng, c_ng)):
        assert_same_flags(to, co, f"{name}: no_grad output {k}")
        assert_values(G.to_np(to), G.to_np(co), G.to_np(co), dtype, op.mixing, f"{name}: no_grad output {k}")

    if not any_grad:
        return

    rng = np.random.default_rng(case.seed)
    weights = G.make_weights(rng, [tuple(o.shape) for o in c_outs], dtype)
    t_loss = weighted_loss(tape, t_outs, weights, dtype)
    c_loss = weighted_loss(torch, c_outs, weights, dtype)
    assert_same_flags(t_loss, c_loss, f"{name}: loss")
    t_loss.backward()
    c_loss.backward()

    # float64 reference gradients
    r_in = G.leaves(torch, case, "float64")
    r_loss = weighted_loss(torch, G.as_list(op.fn(torch, *r_in)), weights, "float64")
    r_loss.backward()

    for i, (a, b, r) in enumerate(zip(tt, ct, r_in)):
        assert_same_flags(a, b, f"{name}: input {i} after backward")
        if b.grad is None:
            assert a.grad is None, f"{name}: input {i}: tape has .grad, torch has None"
            continue
        assert a.grad is not None, f"{name}: input {i}: tape .grad is None"
        assert_same_flags(a.grad, b.grad, f"{name}: input {i} .grad")
        assert_values(
            G.to_np(a.grad), G.to_np(b.grad), G.to_np(r.grad), dtype, op.mixing,
            f"{name}: input {i} .grad",
        )


def _double_backward(M, op, case, weights, vs):
    """First grads (create_graph) and the Hessian-vector product, in module M."""
    ts = G.leaves(M, case)
    wrt_ts = [ts[i] for i in case.wrt]
    loss = weighted_loss(M, G.as_list(op.fn(M, *ts)), weights, case.dtype)
    gs = M.autograd.grad(loss, wrt_ts, create_graph=True)
    terms = [(g * G.to_tensor(M, vs[i], case.dtype)).sum() for g, i in zip(gs, case.wrt)]
    s = terms[0]
    for t in terms[1:]:
        s = s + t
    if s.requires_grad:
        hv = M.autograd.grad(s, wrt_ts, allow_unused=True)
    else:
        hv = [None] * len(wrt_ts)
    hv = [np.zeros(tuple(t.shape)) if h is None else G.to_np(h) for h, t in zip(hv, wrt_ts)]
    return gs, s, hv


# Ops whose PyTorch nodes have a first derivative only (CdistBackward0, PdistBackward0, HardsigmoidBackward0,
# ScaledDotProductFlashAttentionForCpuBackward0): PyTorch's double backward raises; tape's raises PyTorch's
# error too for those marked ``no_second`` in the op table, and is checked against finite differences in
# test_grad_ops.py for the others.
FIRST_ORDER_IN_TORCH = {name for name in OP_NAMES
                        if name.startswith(("cdist", "pdist", "hardsigmoid", "sdpa_flash")) and "_mm" not in name}


@pytest.mark.parametrize("name", OP_NAMES)
@settings(deadline=None)
@given(data=st.data())
def test_double_backward_matches_torch(name, data):
    """create_graph gradients: values and requires_grad (whether a second
    backward is possible) as in torch; Hessian-vector products agree."""
    op = OPS[name]
    case = G.draw_case(data, op, second=True)
    rng = np.random.default_rng(case.seed)
    with torch.no_grad():
        out_shapes = [tuple(o.shape) for o in G.as_list(op.fn(torch, *G.leaves(torch, case)))]
    weights = G.make_weights(rng, out_shapes, case.dtype)
    vs = G.make_weights(rng, [a.shape for a in case.arrays], case.dtype)
    if name in FIRST_ORDER_IN_TORCH:
        with pytest.raises((NotImplementedError, RuntimeError), match="is not implemented"):
            _double_backward(torch, op, case, weights, vs)
        if op.no_second:
            with op.raises_at_second_order():
                _double_backward(tape, op, case, weights, vs)
            with op.raises_at_second_order():
                _double_backward(torch, op, case, weights, vs)
        return

    t_gs, t_s, t_hv = _double_backward(tape, op, case, weights, vs)
    c_gs, c_s, c_hv = _double_backward(torch, op, case, weights, vs)
    r_case = G.Case(case.arrays, "float64", case.requires, case.seed)
    _, _, r_hv = _double_backward(torch, op, r_case, weights, vs)
    for k, (tg, cg) in enumerate(zip(t_gs, c_gs)):
        i = case.wrt[k]
        assert tg.requires_grad == cg.requires_grad, (
            f"{name}: create_graph grad of input {i}: requires_grad {tg.requires_grad}, "
            f"torch {cg.requires_grad}"
        )
        assert dtype_name(tg.dtype) == dtype_name(cg.dtype)
        assert_values(G.to_np(tg), G.to_np(cg), G.to_np(cg), case.dtype, op.mixing,
                      f"{name}: create_graph grad of input {i}")
    assert t_s.requires_grad == c_s.requires_grad
    for k, (th, ch, rh) in enumerate(zip(t_hv, c_hv, r_hv)):
        assert_values(th, ch, rh, case.dtype, True, f"{name}: d(grad.v)/d input {case.wrt[k]}")


@settings(deadline=None)
@given(
    data=st.data(),
    dtype=st.sampled_from(G.DTYPES + (None,)),
    requires_grad=st.booleans(),
)
def test_tensor_from_python_floats_matches_torch(data, dtype, requires_grad):
    """tensor(list of Python floats, dtype=...) rounds straight to dtype."""
    shape = data.draw(G.shapes(), label="shape")
    values = data.draw(G.array(shape, G.REAL), label="values").tolist()
    kw = {} if dtype is None else {"dtype": getattr(tape, dtype)}
    t = tape.tensor(values, requires_grad=requires_grad, **kw)
    kw = {} if dtype is None else {"dtype": getattr(torch, dtype)}
    c = torch.tensor(values, requires_grad=requires_grad, **kw)
    assert_same_flags(t, c, "tensor(...)")
    np.testing.assert_array_equal(G.to_np(t), G.to_np(c))


# --------------------------------------------------------------------------
# error cases
# --------------------------------------------------------------------------


def outcome(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the exception is what we compare
        return e
    return None


def assert_same_error(t_fn, c_fn, what):
    ce = outcome(c_fn)
    assert ce is not None, f"{what}: torch did not raise (test is wrong)"
    te = outcome(t_fn)
    assert te is not None, f"{what}: tape did not raise; torch raised {type(ce).__name__}: {ce}"
    assert type(te).__name__ == type(ce).__name__, (
        f"{what}: tape raised {type(te).__name__}: {te}; torch raised {type(ce).__name__}: {ce}"
    )
    if type(ce).__module__ == "builtins":  # e.g. RuntimeError, IndexError
        assert isinstance(te, type(ce)), f"{what}: tape's {type(te)!r} is not a {type(ce)!r}"
    tm, cm = str(te), str(ce)
    assert tm in (cm, cm.replace("torch", "tape")), (
        f"{what}: messages differ\n tape:  {tm!r}\n torch: {cm!r}"
    )


def zeros(M, shape, dtype="float64", requires_grad=False):
    return G.to_tensor(M, np.zeros(shape), dtype, requires_grad)


BROADCAST_OPS = {
    "add": lambda M, x, y: x + y,
    "sub": lambda M, x, y: x - y,
    "mul": lambda M, x, y: x * y,
    "div": lambda M, x, y: x / y,
    "pow": lambda M, x, y: x**y,
    "maximum": lambda M, x, y: M.maximum(x, y),
    "minimum": lambda M, x, y: M.minimum(x, y),
    "add_fn": lambda M, x, y: M.add(x, y),
}


@st.composite
def non_broadcastable(draw):
    ndim = draw(st.integers(1, 3))
    base = draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim))
    k = draw(st.integers(0, ndim - 1))
    p, q = draw(st.lists(st.integers(2, 5), min_size=2, max_size=2, unique=True))
    a, b = list(base), list(base)
    a[k], b[k] = p, q
    # drop some leading dims of one side (alignment is from the right)
    j = draw(st.integers(0, k))
    b = b[j:]
    if draw(st.booleans()):
        a, b = b, a
    return tuple(a), tuple(b)


@pytest.mark.parametrize("opname", sorted(BROADCAST_OPS))
@settings(deadline=None)
@given(shapes=non_broadcastable(), requires=st.booleans())
def test_broadcast_mismatch_error_matches_torch(opname, shapes, requires):
    f = BROADCAST_OPS[opname]
    sa, sb = shapes
    assert_same_error(
        lambda: f(tape, zeros(tape, sa, requires_grad=requires), zeros(tape, sb) + 1),
        lambda: f(torch, zeros(torch, sa, requires_grad=requires), zeros(torch, sb) + 1),
        f"{opname} {sa} vs {sb}",
    )


@st.composite
def matmul_mismatch(draw):
    kind = draw(st.sampled_from(["dot", "mm", "mv", "vm"]))
    n, n2 = draw(st.lists(st.integers(1, 5), min_size=2, max_size=2, unique=True))
    m, p = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return {
        "dot": ((n,), (n2,)),
        "mm": ((m, n), (n2, p)),
        "mv": ((m, n), (n2,)),
        "vm": ((n,), (n2, p)),
    }[kind]


@pytest.mark.parametrize("form", ["operator", "function"])
@settings(deadline=None)
@given(shapes=matmul_mismatch(), dtype=st.sampled_from(G.DTYPES))
def test_matmul_mismatch_error_matches_torch(form, shapes, dtype):
    sa, sb = shapes

    def run(M):
        x, y = zeros(M, sa, dtype, True), zeros(M, sb, dtype)
        return x @ y if form == "operator" else M.matmul(x, y)

    assert_same_error(lambda: run(tape), lambda: run(torch), f"matmul {sa} @ {sb}")


def test_matmul_0d_error_matches_torch():
    for sa, sb in [((3,), ()), ((), (3,)), ((), ())]:
        assert_same_error(
            lambda: zeros(tape, sa) @ zeros(tape, sb),
            lambda: zeros(torch, sa) @ zeros(torch, sb),
            f"matmul {sa} @ {sb}",
        )


@settings(deadline=None)
@given(
    shape=G.shapes(min_dims=1),
    new=st.lists(st.integers(1, 7), min_size=1, max_size=3),
    infer=st.booleans(),
    method=st.sampled_from(["view", "reshape"]),
)
def test_invalid_view_reshape_error_matches_torch(shape, new, infer, method):
    numel = int(np.prod(shape))
    target = list(new)
    if infer:
        target[0] = -1
        known = int(np.prod(target[1:])) if len(target) > 1 else 1
        if numel % known == 0:
            target.append(numel + 1)  # make it invalid
    elif int(np.prod(target)) == numel:
        target.append(2)
    target = tuple(target)
    assert_same_error(
        lambda: getattr(zeros(tape, shape, requires_grad=True), method)(target),
        lambda: getattr(zeros(torch, shape, requires_grad=True), method)(target),
        f"{method} {shape} -> {target}",
    )


@settings(deadline=None)
@given(
    shape=G.shapes(),
    offset=st.integers(0, 2),
    negative=st.booleans(),
    fn=st.sampled_from(["sum", "mean", "unbind"]),
)
def test_dim_out_of_range_error_matches_torch(shape, offset, negative, fn):
    nd = max(len(shape), 1)
    dim = -(nd + 1 + offset) if negative else nd + offset
    assert_same_error(
        lambda: getattr(zeros(tape, shape, requires_grad=True), fn)(dim),
        lambda: getattr(zeros(torch, shape, requires_grad=True), fn)(dim),
        f"{fn}(dim={dim}) on {shape}",
    )


def test_repeated_dim_error_matches_torch():
    for fn in ("sum", "mean"):
        assert_same_error(
            lambda: getattr(zeros(tape, (2, 3)), fn)((0, -2)),
            lambda: getattr(zeros(torch, (2, 3)), fn)((0, -2)),
            f"{fn}((0, -2))",
        )


@pytest.mark.parametrize("case", ["nonscalar_backward", "no_grad_backward", "grad_no_grad", "second_backward", "unused",
                                  "no_grad_outputs", "fewer_grad_outputs", "number_grad_output", "shape_before_grad"])
def test_autograd_misuse_error_matches_torch(case):
    def run(M):
        x = zeros(M, (2, 3), requires_grad=True) + 1.5
        x = x.detach().requires_grad_()
        if case == "nonscalar_backward":
            M.exp(x).backward()
        elif case == "no_grad_backward":
            zeros(M, (2,)).sum().backward()
        elif case == "grad_no_grad":
            y = zeros(M, (2,))
            M.autograd.grad(y.sum(), y)
        elif case == "second_backward":
            loss = M.exp(x).sum()
            loss.backward()
            loss.backward()
        elif case == "unused":
            y = zeros(M, (2,), requires_grad=True)
            M.autograd.grad((x * x).sum(), [x, y])
        elif case == "no_grad_outputs":
            M.autograd.grad(x * x, x, grad_outputs=[])
        elif case == "fewer_grad_outputs":
            M.autograd.backward([(x * x).sum(), x.sum()], [zeros(M, ())])
        elif case == "number_grad_output":
            M.autograd.grad((x * x).sum(), x, grad_outputs=[1.0])
        elif case == "shape_before_grad":
            M.autograd.grad(zeros(M, (2,)), x, grad_outputs=[zeros(M, (3,))])

    assert_same_error(lambda: run(tape), lambda: run(torch), case)



LAYOUTS = {
    "t": lambda m, x: x.t(),
    "transpose_3d": lambda m, x: x.reshape(2, 3, 4).transpose(0, 2),
    "expand": lambda m, x: x.reshape(24, 1)[:2].expand(2, 5),
    "unsqueeze_of_t": lambda m, x: x.reshape(4, 6).t().unsqueeze(0),
    "contiguous_of_t": lambda m, x: x.reshape(4, 6).t().contiguous(),
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
@pytest.mark.parametrize("requires_grad", [False, True])
def test_layouts_match_torch(name, requires_grad):
    """Strides, contiguity and whether view(-1) is allowed, as in PyTorch."""
    def run(m):
        x = m.arange(24.0).reshape(24 if name != "t" else 4, -1 if name != "t" else 6)
        x.requires_grad_(requires_grad)
        y = LAYOUTS[name](m, x)
        try:
            viewed = tuple(y.view(-1).shape)
        except RuntimeError as e:
            viewed = str(e)
        return y.stride(), y.is_contiguous(), viewed, np.asarray(y.detach().tolist()).tolist()
    assert run(tape) == run(torch)


FACTORIES = {
    "zeros": lambda m, s: m.zeros(*s), "ones": lambda m, s: m.ones(*s), "empty": lambda m, s: m.empty(*s),
    "full": lambda m, s: m.full(s, 2.0), "rand": lambda m, s: m.rand(*s), "randn": lambda m, s: m.randn(*s),
    "randint": lambda m, s: m.randint(3, s), "Tensor": lambda m, s: m.Tensor(*s),
    "zeros_float16": lambda m, s: m.zeros(*s, dtype=m.float16), "ones_bool": lambda m, s: m.ones(*s, dtype=m.bool),
}


@pytest.mark.parametrize("size", [(10**15,), (10**12, 10**12), (2**61,), (2**61 - 1,), (0, 2**63 - 1, 2), (3, 2**63),
                                  (-1,), (2, -3)])
@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_size_errors_match_torch(name, size):
    """Sizes no storage can hold: PyTorch's type and message, without its C++ source location or traceback."""
    ce = outcome(lambda: FACTORIES[name](torch, size))
    te = outcome(lambda: FACTORIES[name](tape, size))
    assert ce is not None and te is not None, (te, ce)
    assert type(te) is type(ce), (te, ce)
    cm = str(ce).replace("[enforce fail at alloc_cpu.cpp:127] err == 0. ", "")
    if "\n" in cm:
        cm = cm.split("\n")[0] + '"'       # the C++ traceback inside the quoted error
    assert str(te) == cm


def _data_mul(M):
    x = M.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    x.data.mul_(2)
    y.backward()
    return x.grad, x._version


def _data_sgd(M):
    w = M.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(3):
        (w * w.exp()).sum().backward()
        w.data -= 0.1 * w.grad
    return w.detach(), w._version, w.grad


def _data_non_leaf(M):
    x = M.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    z = (y * y).sum() + (y * x).sum()
    y.data.add_(1)
    w = (y * x).sum()
    (z + w).backward()
    return x.grad, y._version, z, w


def _detach_exp(M):
    x = M.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.detach().add_(1)
    y.sum().backward()


def _detach_then_used(M):
    x = M.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.detach().add_(1)
    z = (y * x).sum() + (y * y).sum()
    z.backward()
    return x.grad, z, y._version


def _detach_base_dropped(M):
    x = M.tensor([1.0, 2.0], dtype=M.float64, requires_grad=True)
    y = x.sin()
    d = y.detach()
    z = (y * y).sum()
    del y
    d.zero_()
    z.backward()


def _no_grad_view(M):
    x = M.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 1
    with M.no_grad():
        y.t()[0].mul_(3)
    z = (y * x).sum()
    z.backward()
    return x.grad, z


def _create_graph_grad_zeroed(M):
    w = M.tensor([1.0, 2.0], requires_grad=True)
    out = []
    for step in range(3):
        (w ** 3).sum().backward(create_graph=True)
        if step:            # (the first: CopyBackwards in PyTorch, the gradient's own node here)
            out.append(type(w.grad.grad_fn).__name__)
        (w.grad * w.grad).sum().backward(retain_graph=True)
        w.grad.zero_()
        out.append(type(w.grad.grad_fn).__name__)
    return w.grad, w.grad.requires_grad, out


def _grads_changed_in_place(M):
    a = M.tensor([1.0, 2.0], requires_grad=True)
    b = M.tensor([3.0, 4.0], requires_grad=True)
    c = a * b
    c.retain_grad()
    (c.exp().sum() + (a * a).sum()).backward()
    a.grad.zero_()
    b.grad += 1
    c.grad.mul_(2)
    (a * b).sum().backward()
    return a.grad, b.grad, c.grad


ALIASES = {f.__name__[1:]: f for f in (_data_mul, _data_sgd, _data_non_leaf, _detach_exp, _detach_then_used,
                                       _detach_base_dropped, _no_grad_view, _create_graph_grad_zeroed,
                                       _grads_changed_in_place)}


@pytest.mark.parametrize("name", sorted(ALIASES))
def test_aliases_and_changed_gradients_match_torch(name):
    """Changes through .data (unseen by autograd), detach() and no_grad views (seen), and to
    gradients: the same values, or the same error (its first sentence), as PyTorch."""
    def run(M):
        try:
            return ALIASES[name](M)
        except RuntimeError as e:
            return type(e), str(e).split(":")[0]

    got, want = run(tape), run(torch)
    assert type(got) is type(want) and len(got) == len(want), (got, want)
    for g, w in zip(got, want):
        if isinstance(w, torch.Tensor):
            np.testing.assert_allclose(G.to_np(g), G.to_np(w), rtol=1e-5, err_msg=name)
        else:
            assert g == w, (name, got, want)


# --------------------------------------------------------------------------
# storage shared by views and detach() aliases, changed in place (recorded or not)
# --------------------------------------------------------------------------

# A new tensor sharing storage with ``t`` (a (3, 4) tensor or one made from it by these).
_SHARING = [
    lambda t: t[1:],
    lambda t: t[0],
    lambda t: t.t() if t.dim() == 2 else t[:2],
    lambda t: t.view(-1) if t.is_contiguous() else t.unsqueeze(0),
    lambda t: t.diagonal() if t.dim() == 2 else t[1:],
    lambda t: t.unbind(0)[-1],
    lambda t: t.detach(),
]
# An in-place change of ``t``; ``o`` is another tensor of the pool, ``x`` a 0-d float64 leaf.
_CHANGES = [
    lambda t, o, x: t.mul_(x),
    lambda t, o, x: t.add_(1.5),
    lambda t, o, x: t.copy_(o),
    lambda t, o, x: t.__setitem__(0, x) if t.dim() else t.fill_(x),
    lambda t, o, x: t.__setitem__(Ellipsis, o),
    lambda t, o, x: t.zero_(),
    lambda t, o, x: t.add_(o),
]


_READS_OTHER = (2, 4, 6)


def _node_name(t):
    try:
        return type(t.grad_fn).__name__
    except RuntimeError as e:
        return str(e)


def _sharing_program(M, steps):
    a = M.arange(12.0, dtype=M.float64).reshape(3, 4).requires_grad_()
    x = M.tensor(1.5, dtype=M.float64, requires_grad=True)
    pool = [a.sin()]
    out = []
    for kind, i, j, k, no_grad in steps:
        t, o = pool[i % len(pool)], pool[j % len(pool)]
        try:
            if kind == "share" and not t.dim():
                # (a view op refused on a 0-d view PyTorch gives no node: which error comes first is
                # the op's own order, not generated)
                continue
            if kind == "share":
                pool.append(_SHARING[k % len(_SHARING)](t))
            elif no_grad:
                with M.no_grad():
                    _CHANGES[k % len(_CHANGES)](t, o, x)
            else:
                _CHANGES[k % len(_CHANGES)](t, o, x)
            if kind == "change" and k % len(_CHANGES) in _READS_OTHER and t is not o and np.shares_memory(
                    t.detach().numpy(), o.detach().numpy()):
                out.append("racy")      # (an overlap PyTorch allows: its values depend on its order of elements)
                return out
            out.append("ok")
        except (RuntimeError, IndexError) as e:
            out.append(str(e))
        out.append([_node_name(t) for t in pool])  # (PyTorch re-derives a view's node when asked: ask always)
    for t in pool:
        out.append((t.detach().numpy().tolist(), _node_name(t), t._version, t.requires_grad))
    try:
        sum(((t * (n + 1.0)).sum() for n, t in enumerate(pool) if t.requires_grad), x * 0).backward()
        out.append([None if g is None else g.numpy().tolist() for g in (a.grad, x.grad)])
    except RuntimeError as e:
        out.append(str(e))
    return out


@settings(deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["share", "share", "change"]), st.integers(0, 9), st.integers(0, 9),
                          st.integers(0, 9), st.booleans()), max_size=6))
def test_changes_through_shared_storage_match_torch(steps):
    """Views and detach() aliases changed in place, with grad mode on or off: the same values,
    grad_fn names (or errors), versions and gradients (or backward's error) as PyTorch."""
    got, want = _sharing_program(tape, steps), _sharing_program(torch, steps)
    assert len(got) == len(want), (got, want)
    for g, w in zip(got, want):
        if isinstance(w, tuple):
            assert g[1:] == w[1:] and np.allclose(g[0], w[0], rtol=1e-12, equal_nan=True), (steps, g, w)
        elif isinstance(w, list) and len(w) == 2 and not isinstance(w[0], str):
            assert all((p is None) == (q is None) and (p is None or np.allclose(p, q, rtol=1e-12, equal_nan=True))
                       for p, q in zip(g, w)), (steps, g, w)
        else:
            assert g == w, (steps, g, w)
