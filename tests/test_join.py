"""Rows with a list of inputs or several outputs: cat, stack, where, unbind.

Values and gradients of these ops are also checked against finite differences
(first and second order) in ``test_grad_ops.py``; here: their PyTorch
semantics (errors, dtypes, graph views, freeing, in-place rules), orders up to
three, graphs across tapes, and the engine's handling of listed inputs and
OUTPUT rows.  PyTorch's values and messages are pinned as literals.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tape
from tape._state import state
from tape._tensor import _recorded
from tape.ops import join as J
from tape.ops._spec import OUTPUT, REDUCE, REGISTRY, UNARY, Op, register

grad = tape.autograd.grad


def _f64(*shape, seed=0, rg=True):
    v = np.random.default_rng(seed).normal(size=shape)
    return tape.tensor(v, dtype=tape.float64, requires_grad=rg)


def _np(t):
    return np.asarray(t.detach().tolist(), np.float64)


# --- values, dtypes, errors ------------------------------------------------------
def test_cat_values_and_dims():
    x, y = _f64(2, 3), _f64(2, 4, seed=1)
    assert np.array_equal(_np(tape.cat([x, y], 1)), np.concatenate([_np(x), _np(y)], 1))
    assert np.array_equal(_np(tape.cat((x, x), dim=-2)), np.concatenate([_np(x), _np(x)], 0))
    assert np.array_equal(_np(tape.concat([x, y], dim=1)), _np(tape.concatenate([x, y], axis=1)))
    assert tape.cat([x, y], 1).shape == (2, 7)


def test_cat_skips_legacy_empty_vectors_and_promotes():
    x = _f64(2, 3)
    c = tape.cat([x, tape.zeros(0), x])
    assert c.shape == (4, 3) and c.dtype is tape.float64
    assert tape.cat([tape.zeros(0), tape.zeros(0)]).shape == (0,)
    assert tape.cat([tape.ones(2, 3), tape.ones(2, 3, dtype=tape.float64)]).dtype is tape.float64
    assert tape.cat([tape.ones(2, 3), tape.ones(2, 3, dtype=tape.int64)]).dtype is tape.float32
    assert tape.cat([tape.ones(2, dtype=tape.int64), tape.ones(2, dtype=tape.bool)]).dtype is tape.int64


@pytest.mark.parametrize("call, error, message", [
    (lambda x: tape.cat(x), TypeError, "cat(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor"),
    (lambda x: tape.cat([]), ValueError, "torch.cat(): expected a non-empty list of Tensors"),
    (lambda x: tape.cat([tape.tensor(1.), tape.tensor(2.)]), RuntimeError,
     "zero-dimensional tensor (at position 0) cannot be concatenated"),
    (lambda x: tape.cat([x, tape.ones(3)]), RuntimeError, "Tensors must have same number of dimensions: got 2 and 1"),
    (lambda x: tape.cat([x, tape.ones(2, 4)]), RuntimeError,
     "Sizes of tensors must match except in dimension 0. Expected size 3 but got size 4 for tensor number 1 in "
     "the list."),
    (lambda x: tape.cat([x, x], 2), IndexError, "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    (lambda x: tape.cat([x, 1.0]), TypeError, "expected Tensor as element 1 in argument 0, but got float"),
    (lambda x: tape.cat([x], dim=1.0), TypeError, "cat(): argument 'dim' must be int, not float"),
    (lambda x: tape.stack([x, tape.ones(2, 4)]), RuntimeError,
     "stack expects each tensor to be equal size, but got [2, 3] at entry 0 and [2, 4] at entry 1"),
    (lambda x: tape.stack([]), RuntimeError, "stack expects a non-empty TensorList"),
    (lambda x: tape.stack([x, x], 3), IndexError,
     "Dimension out of range (expected to be in range of [-3, 2], but got 3)"),
    (lambda x: tape.stack(x), TypeError, "stack(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor"),
    (lambda x: tape.where(x, x, x), RuntimeError,
     "where expected condition to be a boolean tensor, but got a tensor with dtype Float"),
    (lambda x: tape.where(x > 0, x, tape.ones(2, 4)), RuntimeError,
     "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1"),
    (lambda x: tape.unbind(tape.tensor(1.)), IndexError, "Dimension specified as 0 but tensor has no dimensions"),
    (lambda x: x.unbind(2), IndexError, "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    (lambda x: tape.cat([x.requires_grad_(), x], out=tape.empty(4, 3)), RuntimeError,
     "cat(): functions with out=... arguments don't support automatic differentiation, but one of the arguments "
     "requires grad."),
])
def test_errors_as_pytorch(call, error, message):
    with pytest.raises(error) as e:
        call(tape.ones(2, 3))
    assert str(e.value) == message


def test_where_message_for_an_invalid_combination():
    with pytest.raises(TypeError, match=r"where\(\) received an invalid combination of arguments - got \(Tensor, "
                                        r"Tensor\), but expected one of:"):
        tape.where(tape.ones(2) > 0, tape.ones(2))


def test_where_dtypes_scalars_and_nonzero_form():
    x = tape.ones(2, 3)
    assert tape.where(x > 0, x, 0).dtype is tape.float32
    assert tape.where(x > 0, 1, 0).dtype is tape.int64
    assert tape.where(x > 0, 1., 0).dtype is tape.float32
    assert tape.where(tape.tensor(True), tape.tensor(1, dtype=tape.int32), 0.5).dtype is tape.float32
    assert tape.where(x > 0, x.double(), x).dtype is tape.float64
    rows, cols = tape.where(tape.tensor([[0., 1.], [2., 0.]]) > 0)
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0] and rows.dtype is tape.int64
    assert np.array_equal(_np(x.where(x > 1, 2.0)), np.full((2, 3), 2.0))


def test_out_argument_resizes_and_writes():
    out = tape.empty(0)
    r = tape.cat([tape.ones(2, 3), tape.zeros(2, 3)], out=out)
    assert r is out and out.shape == (4, 3) and out.sum().item() == 6.0
    out = tape.zeros(2, 2)
    tape.stack([tape.ones(2), tape.ones(2)], out=out)
    assert out.sum().item() == 4.0 and out._version == 1


# --- graph views -------------------------------------------------------------------
def test_node_names_and_next_functions_as_pytorch():
    x = _f64(3)
    c = tape.cat([x, x.detach()])
    assert type(c.grad_fn).__name__ == "CatBackward0"
    edges = c.grad_fn.next_functions
    assert type(edges[0][0]).__name__ == "AccumulateGrad" and edges[1] == (None, 0)
    s = tape.stack([x, x])
    assert type(s.grad_fn).__name__ == "StackBackward0"
    assert [e[0].variable is x for e in s.grad_fn.next_functions] == [True, True]
    w = tape.where(x > 0, x, 2.0)
    assert type(w.grad_fn).__name__ == "WhereBackward0"
    nf = w.grad_fn.next_functions           # the condition is not shown; the number is a constant
    assert len(nf) == 2 and nf[0][0].variable is x and nf[1] == (None, 0)
    u = (x * 2).unbind()
    assert u[0].grad_fn is u[2].grad_fn and type(u[1].grad_fn).__name__ == "UnbindBackward0"
    assert type(u[1].grad_fn.next_functions[0][0]).__name__ == "MulBackward0"
    e = u[0] * u[2]
    assert [(type(n).__name__, k) for n, k in e.grad_fn.next_functions] == [("UnbindBackward0", 0),
                                                                          ("UnbindBackward0", 2)]


def test_unbind_without_grad_gives_views():
    x = tape.arange(6.).reshape(2, 3)
    a, b = x.unbind()
    b.add_(10)
    assert x[1].tolist() == [13.0, 14.0, 15.0] and a.grad_fn is None


def test_inplace_on_an_output_is_rejected_as_pytorch():
    a, b = _f64(2, 3).unbind(0)
    with pytest.raises(RuntimeError) as e:
        a.mul_(2)
    assert str(e.value) == ("Output 0 of Unbind is a view and is being modified inplace. This view is the output of "
                            "a function that returns multiple views. Such functions do not allow the output views "
                            "to be modified inplace. You should replace the inplace operation by an out-of-place one.")


# --- gradients -----------------------------------------------------------------------
def test_gradients_flow_to_each_listed_input():
    x, y = _f64(2, 3), _f64(1, 3, seed=1)
    w = tape.arange(9., dtype=tape.float64).reshape(3, 3)
    (tape.cat([x, y]) * w).sum().backward()
    assert np.array_equal(_np(x.grad), _np(w)[:2]) and np.array_equal(_np(y.grad), _np(w)[2:])
    x.grad = None
    (tape.stack([x, x * 3.0], 1) * tape.ones(2, 2, 3, dtype=tape.float64)).sum().backward()
    assert np.array_equal(_np(x.grad), np.full((2, 3), 4.0))


def test_where_gradient_is_exactly_zero_on_the_other_side_even_for_nan():
    x = tape.tensor([1., -1.], dtype=tape.float64, requires_grad=True)
    y = tape.tensor([2., 3.], dtype=tape.float64, requires_grad=True)
    tape.where(x > 0, x, y).backward(tape.tensor([float("nan"), 5.], dtype=tape.float64))
    assert np.isnan(x.grad[0].item()) and x.grad[1].item() == 0.0
    assert y.grad[0].item() == 0.0 and y.grad[1].item() == 5.0


def test_where_broadcasts_and_sums_back():
    x = _f64(3)
    y = _f64(2, 1, seed=1)
    c = tape.tensor([[True, False, True], [False, False, True]])
    tape.where(c, x, y).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 2.0] and y.grad.tolist() == [[1.0], [2.0]]


def test_unbind_gradient_with_unused_outputs():
    x = _f64(3, 2)
    a, _, c = x.unbind()
    (a * 2.0 + c).sum().backward()
    assert x.grad.tolist() == [[2.0, 2.0], [0.0, 0.0], [1.0, 1.0]]
    y = _f64(2, 3)
    y.unbind(1)[1].sum().backward()
    assert y.grad.tolist() == [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]


def _program(M, x, y):
    c = M.cat([x * x, y.exp()])
    s = M.stack([c, c.sin()], 2)
    u = s.unbind(2)
    return M.where(x > 0.3, u[0][:2] * x, u[1][1:].cos())


# PyTorch 2.13's gradients of _program (float64) at the inputs below, orders 1-3.
_X = [[1.0, -2.0, 0.5], [0.25, 1.5, -0.75]]
_Y = [[0.1, -0.2, 0.3]]


def test_first_order_through_all_four_ops_matches_finite_differences():
    x = tape.tensor(_X, dtype=tape.float64, requires_grad=True)
    y = tape.tensor(_Y, dtype=tape.float64, requires_grad=True)
    g = grad((_program(tape, x, y) ** 2).sum(), [x, y], create_graph=True)
    _check_fd(lambda a, b: (_program(tape, a, b) ** 2).sum(), g)
    assert all(t.grad_fn is not None for t in g)


def _check_fd(f, grads, eps=1e-6):
    base = [np.array(_X), np.array(_Y)]
    for i, gi in enumerate(grads):
        num = np.zeros_like(base[i])
        for idx in np.ndindex(*base[i].shape):
            vals = []
            for s in (1, -1):
                args = [b.copy() for b in base]
                args[i][idx] += s * eps
                with tape.no_grad():
                    vals.append(f(*(tape.tensor(a, dtype=tape.float64) for a in args)).item())
            num[idx] = (vals[0] - vals[1]) / (2 * eps)
        np.testing.assert_allclose(_np(gi), num, rtol=1e-6, atol=1e-6)


def test_second_and_third_order_match_finite_differences():
    def first(a, b):
        with tape.enable_grad():
            a = a.detach().requires_grad_()
            b = b.detach().requires_grad_()
            g = grad((_program(tape, a, b) ** 2).sum(), [a, b], create_graph=True)
            return g[0].sum() + g[1].sum()

    x = tape.tensor(_X, dtype=tape.float64, requires_grad=True)
    y = tape.tensor(_Y, dtype=tape.float64, requires_grad=True)
    g = grad((_program(tape, x, y) ** 2).sum(), [x, y], create_graph=True)
    h = grad(g[0].sum() + g[1].sum(), [x, y], create_graph=True)
    _check_fd(first, h)

    def second(a, b):
        with tape.enable_grad():
            a = a.detach().requires_grad_()
            b = b.detach().requires_grad_()
            g2 = grad((_program(tape, a, b) ** 2).sum(), [a, b], create_graph=True)
            h2 = grad(g2[0].sum() + g2[1].sum(), [a, b], create_graph=True)
            return (h2[0] ** 2).sum() + h2[1].sum()

    k = grad((h[0] ** 2).sum() + h[1].sum(), [x, y])
    _check_fd(second, k)


def test_graph_across_tapes():
    x = _f64(2, 3)
    a = x * 2.0
    state.tape = None           # what follows records onto a new tape, importing ``a``
    b = tape.stack([a, x]).sum(0)
    u = b.unbind(1)
    tape.cat([u[0], u[2]]).sum().backward()
    assert x.grad.tolist() == [[3.0, 0.0, 3.0], [3.0, 0.0, 3.0]]


# --- freeing and saved values ----------------------------------------------------
def test_where_saves_its_condition_and_frees_it():
    x = _f64(3)
    w = tape.where(x > 0, x * x, x)
    w.sum().backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        w.sum().backward()


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["bool", "uint8"])
def test_where_condition_changed_in_place_makes_backward_fail_as_pytorch(dtype):
    """PyTorch's WhereBackward0 saves the condition tensor itself: changed in place after the call,
    backward fails naming it (its dtype and shape, not the row's broadcast mask)."""
    torch = pytest.importorskip("torch")
    outcome = []
    for M in (torch, tape):
        x = M.arange(6.0).view(2, 3).requires_grad_()
        c = M.tensor([1, 0, 2], dtype=getattr(M, dtype))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # (a uint8 condition is deprecated)
            y = M.where(c, x * 2, 0.0)
            kept = M.where(c, x * 2, 0.0)
        kept.sum().backward()
        c.add_(1) if dtype == "uint8" else c.logical_not_()
        with pytest.raises(RuntimeError, match="modified by an inplace operation") as e:
            y.sum().backward()
        outcome.append((x.grad.tolist(), str(e.value)))
    assert outcome[0] == outcome[1]


def test_cat_saves_nothing_and_can_be_swept_again():
    x = _f64(3)
    c = tape.cat([x, x])
    c.sum().backward()
    c.sum().backward()          # as PyTorch: CatBackward0 keeps only sizes
    assert x.grad.tolist() == [4.0, 4.0, 4.0]


def test_grad_with_respect_to_an_output_row():
    x = _f64(2, 3)
    u = (x * 1.0).unbind()
    g, = grad((u[0] * 3.0).sum(), u[0], retain_graph=True)
    assert g.tolist() == [3.0, 3.0, 3.0]
    g1, = grad((u[0] * 3.0).sum(), u[1], allow_unused=True)
    assert g1 is None


# --- the engine's dispatch: a code without a kernel branch is an error, not a zero ---------
def test_a_code_without_a_kernel_branch_stops_the_sweep_with_an_error():
    code = next(c for c in REDUCE if c not in REGISTRY)
    op = register(Op(code, "_no_kernel", "NoKernelBackward0", 0, lambda g, xs, y, r: (g,)))
    try:
        s = _f64(3) * 1.0
        t = s._tape
        node = t.append(code, 0, np.asarray(s._value().sum()), s._node, ia=1)
        out = _recorded(t, node, t.value_of(node), tape.float64)
        with pytest.raises(RuntimeError, match="no compiled branch for op '_no_kernel'"):
            out.backward()
    finally:
        del REGISTRY[op.code]


def test_an_elementwise_code_without_a_kernel_raises_not_zero():
    code = next(c for c in UNARY if c not in REGISTRY)
    op = register(Op(code, "_no_branch", "NoBranchBackward0", 0, lambda g, xs, y, r: (g,)))
    try:
        x = _f64(4)
        t = (x * 1.0)._tape
        node = t.append(code, 0, np.zeros(4), t.n - 1)
        with pytest.raises(RuntimeError, match="no compiled branch for op '_no_branch'"):
            _recorded(t, node, t.value_of(node), tape.float64).sum().backward()
        assert x.grad is None
    finally:
        del REGISTRY[op.code]


def test_output_rows_alias_their_rows_value():
    x = _f64(2, 3)
    u = (x * 1.0).unbind(1)
    t = u[0]._tape
    r = int(t.a[u[0]._node])
    assert all(int(t.op[o._node]) == OUTPUT and int(t.a[o._node]) == r for o in u)
    assert [int(t.off[o._node]) for o in u] == [int(t.off[r]) + 2 * k for k in range(3)]
    assert int(t.nout[r]) == 3


# --- the compiled faces: join_forward writes each row's value as numpy computed it ------------
@pytest.mark.parametrize("dtype", [tape.float64, tape.float32])
@pytest.mark.parametrize("make", [
    lambda x, y: tape.cat([x, y, x], 1),
    lambda x, y: tape.stack([x, y], -1),
    lambda x, y: tape.where(x > 0, x, y[:, :1]),
    lambda x, y: (x * 1.0).unbind(1)[0],
])
def test_join_forward_kernel_matches_numpy(make, dtype):
    x = tape.tensor(np.random.default_rng(1).normal(size=(2, 3)), dtype=dtype, requires_grad=True)
    y = tape.tensor(np.random.default_rng(2).normal(size=(2, 3)), dtype=dtype, requires_grad=True)
    out = make(x, y)
    t = out._tape
    r = int(t.a[out._node]) if int(t.op[out._node]) == OUTPUT else out._node
    arena = t.v64 if t.dt[r] == 0 else t.v32
    expected = arena.copy()
    arena[t.off[r]:t.off[r] + t.num[r]] = np.nan     # the kernel must write every element
    assert J.join_forward(int(t.op[r]), t.R, t.ix, t.stab, arena, r)
    np.testing.assert_array_equal(arena, expected)
