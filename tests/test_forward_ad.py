"""Eager forward-mode AD (``tape.autograd.forward_ad``): levels, dual tensors, tangents through
every op of the op table, views and in-place ops, custom Functions' ``jvp``, forward-mode
Jacobians and ``gradcheck(check_forward_ad=True)``."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tape
import tape.autograd.forward_ad as fwAD
from tape._state import state
from tape._tape import retire
from tape.autograd import Function

from .test_grad_ops import OP_NAMES, OPS, as_list, draw_case, leaves, to_np, to_tensor, tolerances
from .test_tangents import directions, run_tangents


def _f64(values):
    return tape.tensor(values, dtype=tape.float64)


def _close_eigenvalues(case) -> bool:
    for a in case.arrays:
        if a.ndim >= 2 and a.shape[-1] == a.shape[-2] and a.shape[-1] > 1:
            w = np.linalg.eigvalsh((a + np.swapaxes(a, -1, -2)) / 2)
            if (np.diff(w, axis=-1) <= 1e-3 * max(1.0, float(np.abs(w).max()))).any():
                return True
    return False


@pytest.mark.parametrize("name", OP_NAMES)
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_every_op_under_make_dual_gives_the_tangent_sweep_s_tangent(name, data):
    op = OPS[name]
    case = draw_case(data, op)
    if "eigh" in name and "vectors" in name and _close_eigenvalues(case):
        return      # (eigenvectors of a repeated eigenvalue: LAPACK's basis, and so the tangent, is not unique)
    vs = directions(np.random.default_rng(case.seed), case, op.fd_floor)
    _, want = run_tangents(op.fn, leaves(tape, case), vs, case.requires, case.dtype)
    with fwAD.dual_level():
        duals = [fwAD.make_dual(t, to_tensor(tape, v, case.dtype)) if r and t.is_floating_point() else t
                 for t, v, r in zip(leaves(tape, case), vs, case.requires)]
        outs = as_list(op.fn(tape, *duals))
        got = [fwAD.unpack_dual(o).tangent for o in outs]
    rtol, atol = tolerances(case.dtype)
    for o, g, w in zip(outs, got, want):
        g = np.zeros(tuple(o.shape)) if g is None else to_np(g)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol * max(1.0, float(np.max(np.abs(w), initial=0))))


def test_levels_and_their_errors():
    x = _f64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="no level exists, make sure to enter_dual_level"):
        fwAD.make_dual(x, x)
    assert fwAD.unpack_dual(x) == (x, None)
    with fwAD.dual_level() as level:
        assert level == 0
        with pytest.raises(RuntimeError, match="^Nested forward mode AD is not supported at the moment$"):
            fwAD.enter_dual_level()
        with pytest.raises(RuntimeError, match="not the last one that was created"):
            fwAD.exit_dual_level(level=3)
        d = fwAD.make_dual(x, _f64([1.0, 1.0]))
        y = d * d
        assert fwAD.unpack_dual(y).tangent.tolist() == [2.0, 4.0]
    assert fwAD.unpack_dual(y).tangent is None        # tangents leave with their level
    with pytest.raises(RuntimeError, match="^Dual level must be a positive number.$"):
        fwAD.exit_dual_level()
    level = fwAD.enter_dual_level()
    fwAD.exit_dual_level(level=level)


def test_no_cost_outside_a_level():
    before = (tape.Tensor.__dict__["sin"], tape.Tensor.__dict__["__mul__"], tape.sin, tape.linalg.inv,
              tape.autograd.grad)
    with fwAD.dual_level():
        assert tape.Tensor.__dict__["sin"] is not before[0] and tape.sin is not before[2]
        assert tape.autograd.grad is not before[4]
    assert (tape.Tensor.__dict__["sin"], tape.Tensor.__dict__["__mul__"], tape.sin, tape.linalg.inv,
            tape.autograd.grad) == before


def test_make_dual_errors_and_aliasing():
    x = _f64([1.0, 2.0, 3.0])
    v = _f64([1.0, 0.5, 0.25])
    with fwAD.dual_level():
        with pytest.raises(RuntimeError, match=r"Tensor is of size \[3\] while the given forward gradient is of "
                                               r"size \[2\]\."):
            fwAD.make_dual(x, _f64([1.0, 2.0]))
        with pytest.raises(ValueError, match="^Expected primal to be floating point or complex, but got: "
                                             "torch.int64$"):
            fwAD.make_dual(tape.arange(3), tape.arange(3))
        with pytest.raises(ValueError, match="^Expected tangent to be floating point or complex"):
            fwAD.make_dual(x, tape.arange(3))
        with pytest.raises(RuntimeError, match="^Invalid level given to _make_dual$"):
            fwAD.make_dual(x, v, level=5)
        d = fwAD.make_dual(x, v)
        assert d._base is x and fwAD.unpack_dual(d).tangent is v
        with pytest.raises(RuntimeError, match="already has a forward gradient at the same level 0"):
            fwAD.make_dual(d, v)
        with pytest.raises(RuntimeError, match="itself has a forward gradient at the same level0"):
            fwAD.make_dual(x, d)
        with pytest.raises(RuntimeError, match="^Invalid level given to _fw_primal$"):
            fwAD.unpack_dual(d, level=2)
        p, t = fwAD.unpack_dual(d)
        assert isinstance(fwAD.unpack_dual(d), fwAD.UnpackedDualTensor) and p._base is x
        assert fwAD.unpack_dual(p).tangent is None
        m = tape.arange(6, dtype=tape.float64).reshape(2, 3).t()
        tm = fwAD.unpack_dual(fwAD.make_dual(m, tape.ones(3, 2, dtype=tape.float64))).tangent
        assert tm.stride() == (1, 3) and tm.tolist() == [[1.0, 1.0]] * 3   # copied into the primal's layout



def test_make_dual_copies_a_tangent_of_another_storage_size_or_offset():
    # PyTorch's has_same_meta: a tangent is used as it is only with the primal's storage size,
    # storage offset and strides (not counted where the size is 0 or 1; two empty tensors match).
    # Otherwise it is copied into one laid out as the primal in a storage of the primal's size.
    with fwAD.dual_level():
        primal = tape.randn(5, dtype=tape.float64)[:4].detach()
        t = tape.randn(4, dtype=tape.float64)
        u = fwAD.unpack_dual(fwAD.make_dual(primal, t)).tangent
        assert u is not t and len(u.untyped_storage()) == 5 * 8 and u.tolist() == t.tolist()
        u *= 2
        assert u.tolist() != t.tolist()
        p2, t2 = tape.randn(6, dtype=tape.float64)[2:5], tape.randn(6, dtype=tape.float64)[1:4]
        u2 = fwAD.unpack_dual(fwAD.make_dual(p2, t2)).tangent
        assert u2 is not t2 and u2.storage_offset() == 2 and u2.tolist() == t2.tolist()
        a, b = tape.tensor([1.0]).as_strided((1,), (2,), 0), tape.tensor([1.0]).as_strided((1,), (1,), 0)
        assert fwAD.unpack_dual(fwAD.make_dual(a, b)).tangent is b
        a, b = tape.tensor([1.0]).as_strided((0,), (1,), 1), tape.tensor([1.0]).as_strided((0,), (1,), 2)
        assert fwAD.unpack_dual(fwAD.make_dual(a, b)).tangent is b

def test_semantics_no_grad_detach_inplace_views():
    x = _f64([1.0, 2.0, 3.0])
    v = _f64([1.0, 0.5, 0.25])
    with fwAD.dual_level():
        d = fwAD.make_dual(x, v)
        one = fwAD.make_dual(tape.zeros(1, dtype=tape.float64), _f64([2.0]))
        kept, grown = tape.broadcast_tensors(d, one)         # d as it is, with its tangent
        assert kept is d and fwAD.unpack_dual(d).tangent is v and fwAD.unpack_dual(grown).tangent.tolist() == [2.0] * 3
        with tape.no_grad():
            assert fwAD.unpack_dual(d * 2).tangent.tolist() == [2.0, 1.0, 0.5]     # no_grad does not stop it
        assert fwAD.unpack_dual(d.detach()).tangent is None
        assert fwAD.unpack_dual(d.data).tangent is None
        a = tape.zeros(3, dtype=tape.float64)
        a.add_(d)                                       # the other operand's tangent reaches the target
        assert fwAD.unpack_dual(a).tangent.tolist() == [1.0, 0.5, 0.25]
        d2 = fwAD.make_dual(x.clone(), v.clone())
        d2.mul_(d2)
        assert fwAD.unpack_dual(d2).tangent.tolist() == [2.0, 2.0, 1.5]
        assert fwAD.unpack_dual(d[1:]).tangent.tolist() == [0.5, 0.25]
        assert fwAD.unpack_dual(d.long()).tangent is None and fwAD.unpack_dual(d > 0).tangent is None
        r = tape.linalg.inv(d.reshape(3, 1) * d.reshape(1, 3) + tape.eye(3, dtype=tape.float64))
        m = x.reshape(3, 1) * x.reshape(1, 3) + tape.eye(3, dtype=tape.float64)
        dm = v.reshape(3, 1) * x.reshape(1, 3) + x.reshape(3, 1) * v.reshape(1, 3)
        want = -(tape.linalg.inv(m) @ dm @ tape.linalg.inv(m))
        np.testing.assert_allclose(to_np(fwAD.unpack_dual(r).tangent), to_np(want), rtol=1e-12, atol=1e-12)


def test_a_full_tape_does_not_lose_a_tangent():
    a = _f64([1.0]).requires_grad_()
    keep = [a * 1.0]
    while state.tape.n < state.tape.soft - 1:       # the next row fills the thread's tape
        keep.append(a * 1.0)
    with fwAD.dual_level():
        d = fwAD.make_dual(_f64([2.0]), _f64([1.0]))
        assert fwAD.unpack_dual(d * d).tangent.tolist() == [4.0]


def test_views_share_their_tangent_with_their_root():
    x = _f64([1.0, 2.0, 3.0])
    v = _f64([1.0, 0.5, 0.25])
    with fwAD.dual_level():
        d = fwAD.make_dual(x, v)
        assert fwAD.unpack_dual(x).tangent is None
        w = d[1:]
        assert fwAD.unpack_dual(w).tangent._base is v           # the view of the tangent, given as-is
        w.mul_(2)                                               # in place through a view: the root's tangent
        assert v.tolist() == [1.0, 1.0, 0.5] and x.tolist() == [1.0, 4.0, 6.0]
        d.add_(1)
        assert fwAD.unpack_dual(d).tangent is v and v.tolist() == [1.0, 1.0, 0.5]
        e = fwAD.make_dual(x.clone(), v.clone())
        assert fwAD.unpack_dual(e.view(3, 1)).tangent._base is fwAD.unpack_dual(e).tangent
        # a root without a tangent gets a zero one when a view of it is given one in place
        b = tape.zeros(3, dtype=tape.float64)
        bv = b[1:]
        bv.add_(fwAD.make_dual(tape.ones(2, dtype=tape.float64), _f64([5.0, 6.0])))
        tb, tbv = fwAD.unpack_dual(b).tangent, fwAD.unpack_dual(bv).tangent
        assert tb.tolist() == [0.0, 5.0, 6.0] and tbv.tolist() == [5.0, 6.0] and tbv._base is tb
        # a view made before its root had a tangent sees it
        c = tape.zeros(3, dtype=tape.float64)
        c1 = c[:1]
        c.add_(fwAD.make_dual(tape.ones(3, dtype=tape.float64), _f64([5.0, 6.0, 7.0])))
        assert fwAD.unpack_dual(c1).tangent.tolist() == [5.0]
        # a result's tangent is its own, even where the rule passes an argument's on
        u = _f64([1.0, 0.5, 0.25])
        g = fwAD.make_dual(x.clone(), u)
        y = g.clone()
        y.mul_(2)
        z = tape.zeros(3, dtype=tape.float64)
        z.copy_(g)
        z.mul_(3)
        assert u.tolist() == [1.0, 0.5, 0.25] and fwAD.unpack_dual(y).tangent.tolist() == [2.0, 1.0, 0.5]
        assert fwAD.unpack_dual(z).tangent.tolist() == [3.0, 1.5, 0.75]
        # the tangent is changed in place: a leaf that requires grad refuses, as in PyTorch
        f = fwAD.make_dual(x.clone(), _f64([1.0, 0.5, 0.25]).requires_grad_())
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
            f.mul_(2)


def test_random_ops_draw_once():
    mean = _f64([0.0, 1.0])
    tape.manual_seed(0)
    plain = tape.normal(mean, 2.0).tolist()
    after = tape.rand(1).item()
    tape.manual_seed(0)
    with fwAD.dual_level():
        y = tape.normal(fwAD.make_dual(mean, _f64([1.0, 1.0])), 2.0)
        assert y.tolist() == plain and fwAD.unpack_dual(y).tangent.tolist() == [1.0, 1.0]
    assert tape.rand(1).item() == after


def test_tangents_compose_with_reverse_mode():
    x = _f64([0.5, 1.5]).requires_grad_()
    v = _f64([1.0, -2.0]).requires_grad_()
    w = tape.ones(2, 2, dtype=tape.float64, requires_grad=True)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, v)
        y = (d.sin() * x).sum()              # x itself carries no tangent (PyTorch's values)
        p, t = fwAD.unpack_dual(y)
        assert y.requires_grad and t.requires_grad
        gx, gv = tape.autograd.grad(t, (x, v))
        t2 = fwAD.unpack_dual((d.sin() * d).sum()).tangent
        gx2, gv2 = tape.autograd.grad(t2, (x, v))
        t3 = fwAD.unpack_dual((d.sin() * w).sum()).tangent    # a broadcast operand that requires grad
        gx3, gw3 = tape.autograd.grad(t3, (x, w))
    xs, vs = np.array([0.5, 1.5]), np.array([1.0, -2.0])
    # t = sum(v cos(x) x)
    np.testing.assert_allclose(to_np(gv), np.cos(xs) * xs, rtol=1e-12)
    np.testing.assert_allclose(to_np(gx), vs * (-np.sin(xs) * xs + np.cos(xs)), rtol=1e-12)
    # t2 = sum(v (cos(x) x + sin(x)))
    np.testing.assert_allclose(to_np(gv2), np.cos(xs) * xs + np.sin(xs), rtol=1e-12)
    np.testing.assert_allclose(to_np(gx2), vs * (-np.sin(xs) * xs + 2 * np.cos(xs)), rtol=1e-12)
    # t3 = sum_ij v_j cos(x_j) w_ij
    np.testing.assert_allclose(to_np(gx3), -2 * vs * np.sin(xs), rtol=1e-12)
    np.testing.assert_allclose(to_np(gw3), np.broadcast_to(vs * np.cos(xs), (2, 2)), rtol=1e-12)
    with fwAD.dual_level():
        t = fwAD.unpack_dual(fwAD.make_dual(x.detach(), v.detach()).sin()).tangent
        assert not t.requires_grad


class _Mul(Function):
    @staticmethod
    def forward(ctx, x, y, z):
        ctx.save_for_backward(x, y)
        ctx.save_for_forward(x, y)
        ctx.z = z
        return x * y * z

    @staticmethod
    def jvp(ctx, x_t, y_t, _):
        x, y = ctx.saved_tensors
        return ctx.z * (y * x_t + x * y_t)

    @staticmethod
    def vjp(ctx, g):
        x, y = ctx.saved_tensors
        return ctx.z * g * y, ctx.z * g * x, None


class _NoJvp(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


class _WrongJvp(_NoJvp):
    @staticmethod
    def jvp(ctx, t):
        return t * 3


def test_custom_function_jvp():
    a = tape.tensor(1.0, requires_grad=True, dtype=tape.float64)
    b = tape.tensor(2.0, requires_grad=True, dtype=tape.float64)
    with fwAD.dual_level():
        d = _Mul.apply(fwAD.make_dual(a, tape.tensor(1.0, dtype=tape.float64)), b, 4)
        assert fwAD.unpack_dual(d).tangent.item() == 8.0 and d.grad_fn is not None
        with pytest.raises(NotImplementedError, match="^You must implement the jvp function for custom "
                                                      "autograd.Function to use it with forward mode AD.$"):
            _NoJvp.apply(fwAD.make_dual(a, tape.tensor(1.0, dtype=tape.float64)))
    with pytest.raises(AssertionError, match="save_for_forward expects all arguments to be tensors"):
        Function._backward_cls().save_for_forward(1)


_LAZY_SEEN = []


class _LazyJvp(Function):
    """x * y whose jvp takes a missing tangent as None (``set_materialize_grads(False)``) and, wrongly,
    adds 1 then: gradcheck's undefined-tangent check catches it."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.set_materialize_grads(False)
        ctx.save_for_forward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, g):
        return g, g

    @staticmethod
    def jvp(ctx, xt, yt):
        x, y = ctx.saved_tensors
        _LAZY_SEEN.append((xt, yt))
        if xt is None:
            return x * yt + 1
        return xt * y + x * (yt if yt is not None else 0)


def test_custom_function_jvp_unmaterialized_tangents():
    x = tape.tensor([0.5], dtype=tape.float64)
    y = tape.tensor([2.0], dtype=tape.float64)
    _LAZY_SEEN.clear()
    with fwAD.dual_level():
        out = _LazyJvp.apply(x, fwAD.make_dual(y, tape.tensor([1.0], dtype=tape.float64)))
        assert fwAD.unpack_dual(out).tangent.tolist() == [1.5]
    assert _LAZY_SEEN[0][0] is None and _LAZY_SEEN[0][1].tolist() == [1.0]
    xs = (x.requires_grad_(), y.requires_grad_())
    with pytest.raises(tape.autograd.GradcheckError, match="^Mismatch in tangent values for output with index: 0 "):
        tape.autograd.gradcheck(_LazyJvp.apply, xs, check_forward_ad=True, check_backward_ad=False)
    assert tape.autograd.gradcheck(_LazyJvp.apply, xs, check_forward_ad=True, check_backward_ad=False,
                                   check_undefined_grad=False)


_JVP_SEEN = []


class _KeepsNondiff(Function):
    @staticmethod
    def forward(ctx, x, y, mark, give):
        out = y.clone()
        if mark:
            ctx.mark_non_differentiable(out)
        ctx.give = give
        return x.clone(), out

    @staticmethod
    def jvp(ctx, x_t, y_t, _, __):
        _JVP_SEEN.append(y_t)
        return x_t, x_t.clone() if ctx.give else None


def test_custom_function_jvp_non_differentiable_outputs():
    x = tape.tensor(2.0)
    with fwAD.dual_level():
        for y, mark in ((tape.tensor(3), False), (tape.tensor(3), True), (tape.tensor(3.0), True)):
            _, out = _KeepsNondiff.apply(fwAD.make_dual(x, tape.tensor(1.0)), y, mark, False)
            assert fwAD.unpack_dual(out).tangent is None
        # (an integer input's tangent is None, a floating one's zeros)
        assert _JVP_SEEN[0] is None and _JVP_SEEN[1] is None and _JVP_SEEN[2].item() == 0.0
        with pytest.raises(RuntimeError, match="^Function's jvp returned a gradient at position 1, but  the "
                                               "corresponding forward output is not a differentiable Tensor.You "
                                               "should return None at that position instead.$"):
            _KeepsNondiff.apply(fwAD.make_dual(x, tape.tensor(1.0)), tape.tensor(3.0), True, True)


class _InplaceMul(Function):
    calls = 0

    @staticmethod
    def forward(ctx, x, in_place):
        _InplaceMul.calls += 1
        assert fwAD.unpack_dual(x).tangent is None      # (forward runs with forward AD off, as PyTorch's)
        ctx.in_place = in_place
        ctx.mark_dirty(x)
        return x.mul_(2)

    @staticmethod
    def jvp(ctx, x_t, _):
        return x_t.mul_(2) if ctx.in_place else x_t * 2


class _Narrow(Function):
    @staticmethod
    def forward(ctx, x, how):
        ctx.how = how
        return x.narrow(0, 0, 2) if how != "as_is" else x

    @staticmethod
    def jvp(ctx, x_t, _):
        if ctx.how == "view":
            return x_t.narrow(0, 0, 2)
        if ctx.how == "copy":
            return x_t.narrow(0, 0, 2).clone()
        if ctx.how == "view_of_copy":
            return x_t.narrow(0, 0, 2).clone().view(-1)
        return x_t * 1


def test_custom_function_jvp_in_place_and_view_checks():
    t = tape.ones(3, dtype=tape.float64)
    with fwAD.dual_level():
        d = fwAD.make_dual(tape.rand(3, dtype=tape.float64), t)
        out = _InplaceMul.apply(d, True)
        assert out is d and fwAD.unpack_dual(out).tangent is t and t.tolist() == [2.0] * 3
        assert _InplaceMul.calls == 1       # (once: no second run to compute tangents)
        with pytest.raises(RuntimeError, match="^An inplace custom Function is not modifying the forward mode "
                                               "gradients inplace. If the forward"):
            _InplaceMul.apply(fwAD.make_dual(tape.rand(3, dtype=tape.float64), t), False)
        x_t = tape.rand(4, 2, dtype=tape.float64)
        v = _Narrow.apply(fwAD.make_dual(tape.rand(4, 2, dtype=tape.float64), x_t), "view")
        assert fwAD.unpack_dual(v).tangent._base is x_t
        for how, msg in (("copy", "^A custom Function's forward is returning a view \\(or an input as-is\\) but the "
                                  "jvp is not returning a view.$"),
                         ("as_is", "^A custom Function's forward is returning a view \\(or an input as-is\\)"),
                         ("view_of_copy", "^A custom Function is returning a view but the jvp is not returning a "
                                          "view of the given grad input.$")):
            with pytest.raises(RuntimeError, match=msg):
                _Narrow.apply(fwAD.make_dual(tape.rand(4, 2, dtype=tape.float64), x_t), how)
        d = fwAD.make_dual(tape.rand(4, 2, dtype=tape.float64), x_t)
        with pytest.raises(RuntimeError, match="^A custom Function is returning a view but the jvp is not returning "
                                               "a view of the same base as the given grad input.$"):
            _Narrow.apply(d.view_as(d), "view_of_copy")


def test_tangent_of_a_shaped_like_view_is_a_view_of_the_tangent():
    t = tape.rand(4, 4, dtype=tape.float64)
    other = tape.rand(4, 4)
    with fwAD.dual_level():
        d = fwAD.make_dual(tape.rand(4, 4, dtype=tape.float64), t)
        for v in (d.view_as(d), d.view_as(other), d[:1].expand_as(d), d.reshape_as(other)):
            assert fwAD.unpack_dual(v).tangent._base is t


def test_forward_mode_jacobian_and_hessian():
    F = tape.autograd.functional
    x = _f64([[1.0, 2.0], [3.0, 4.0]])
    w = _f64([0.5, -1.0, 2.0])

    def f(a, b):
        return a.sin().sum(0) * b[:2], (a @ a).exp()
    fwd = F.jacobian(f, (x, w), strategy="forward-mode", vectorize=True)
    rev = F.jacobian(f, (x, w))
    for fr, rr in zip(fwd, rev):
        for a, b in zip(fr, rr):
            assert a.shape == b.shape
            np.testing.assert_allclose(to_np(a), to_np(b), rtol=1e-12, atol=1e-12)
    with pytest.raises(NotImplementedError, match="only implemented for `vectorize=True`"):
        F.jacobian(tape.exp, w, strategy="forward-mode")
    with pytest.raises(RuntimeError, match='`strict=True` and `strategy="forward-mode"`'):
        F.jacobian(tape.exp, w, strategy="forward-mode", vectorize=True, strict=True)
    # a function taken before the level began still computes tangents
    np.testing.assert_allclose(to_np(F.jacobian(tape.exp, w, strategy="forward-mode", vectorize=True)),
                               np.diag(np.exp([0.5, -1.0, 2.0])), rtol=1e-14)
    h = F.hessian(lambda a: (a.sin() * a).sum(), w, outer_jacobian_strategy="forward-mode", vectorize=True)
    np.testing.assert_allclose(to_np(h), to_np(F.hessian(lambda a: (a.sin() * a).sum(), w)), rtol=1e-14)


def test_gradcheck_check_forward_ad():
    x = _f64([0.3, 0.7]).requires_grad_()
    gc = tape.autograd.gradcheck
    assert gc(lambda a: (a * a).exp(), (x,), check_forward_ad=True)
    assert gc(tape.sin, (x,), check_forward_ad=True, check_backward_ad=False)
    with pytest.raises(tape.autograd.GradcheckError, match="^Jacobian computed with forward mode mismatch for "
                                                           "output 0 with respect to input 0,\nnumerical:"):
        gc(_WrongJvp.apply, (x,), check_forward_ad=True, check_backward_ad=False)
    assert not gc(_WrongJvp.apply, (x,), check_forward_ad=True, raise_exception=False)


class _Cube(Function):
    """x ** 3, whose ``jvp`` is wrong on purpose (2 x t): forward over reverse uses it."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return 3 * x * x * g

    @staticmethod
    def jvp(ctx, t):
        x, = ctx.saved_tensors
        return 2 * x * t


def test_forward_over_reverse_hessian_vector_product():
    xs, vs = np.array([0.5, 1.5, -0.3]), np.array([1.0, -2.0, 0.5])
    p = _f64(xs).requires_grad_()
    with fwAD.dual_level():
        x = fwAD.make_dual(p, _f64(vs))
        g, = tape.autograd.grad((x.sin() * x.exp()).sum(), x, create_graph=True)
        hv = fwAD.unpack_dual(g).tangent
        # d/dx (cos x e^x + sin x e^x) = 2 cos x e^x
        np.testing.assert_allclose(to_np(g), (np.cos(xs) + np.sin(xs)) * np.exp(xs), rtol=1e-12)
        np.testing.assert_allclose(to_np(hv), 2 * np.cos(xs) * np.exp(xs) * vs, rtol=1e-12)
        # the tangent has history: its gradient is a third derivative
        gp, = tape.autograd.grad(hv.sum(), p)
        np.testing.assert_allclose(to_np(gp), 2 * (np.cos(xs) - np.sin(xs)) * np.exp(xs) * vs, rtol=1e-12)
        # a custom Function's jvp gives the tangents of its outputs that the backward's rows read
        y = _Cube.apply(x)
        g, = tape.autograd.grad((y * x.sin()).sum(), p, create_graph=True)
        t = fwAD.unpack_dual(g).tangent
    # tangent of 3 x^2 sin x + y cos x, with y's tangent 2 x v
    want = (6 * xs * np.sin(xs) + 3 * xs ** 2 * np.cos(xs) + 2 * xs * np.cos(xs) - xs ** 3 * np.sin(xs)) * vs
    np.testing.assert_allclose(to_np(t), want, rtol=1e-12)


def test_forward_over_reverse_through_backward_s_grad():
    xs, vs = np.array([0.5, 1.5]), np.array([1.0, -1.0])
    p = _f64(xs).requires_grad_()
    q = _f64(xs).requires_grad_()
    with fwAD.dual_level():
        x = fwAD.make_dual(p, _f64(vs))
        (x.sin() * x).sum().backward(create_graph=True)
        # d/dx (cos x x + sin x) = 2 cos x - x sin x
        np.testing.assert_allclose(to_np(fwAD.unpack_dual(p.grad).tangent),
                                   (2 * np.cos(xs) - xs * np.sin(xs)) * vs, rtol=1e-12)
        (x.sin() * q).sum().backward()
        assert fwAD.unpack_dual(q.grad).tangent is None       # not recorded: none, as PyTorch's


def test_forward_over_reverse_hessian_and_gradgradcheck():
    F = tape.autograd.functional
    xs = np.array([1.0, -2.0, 0.5])
    h = F.hessian(lambda a: (_Cube.apply(a) * a.sin()).sum(), _f64(xs), outer_jacobian_strategy="forward-mode",
                  vectorize=True)
    # forward over reverse: the Function's (wrong) jvp shows, as in PyTorch
    want = 6 * xs * np.sin(xs) + 3 * xs ** 2 * np.cos(xs) + 2 * xs * np.cos(xs) - xs ** 3 * np.sin(xs)
    np.testing.assert_allclose(to_np(h), np.diag(want), rtol=1e-12, atol=1e-15)
    a, b = _f64([[0.5, 1.5], [0.2, -0.4]]), _f64([1.0, -2.0, 0.5])

    def f(x, y):
        return (x.sin().sum(0) * y[:2]).sum() + (y ** 3).sum() * x[0, 0]
    fwd = F.hessian(f, (a, b), outer_jacobian_strategy="forward-mode", vectorize=True)
    rev = F.hessian(f, (a, b))
    for i in range(2):
        for j in range(2):
            assert fwd[i][j].shape == rev[i][j].shape
            np.testing.assert_allclose(to_np(fwd[i][j]), to_np(rev[i][j]), rtol=1e-12, atol=1e-15)
    x = _f64([0.3, 0.7]).requires_grad_()
    ggc = tape.autograd.gradgradcheck
    assert ggc(lambda t: (t * t).exp().sum() * t, (x,), check_fwd_over_rev=True)
    assert ggc(lambda t: (t * t).exp().sum() * t, (x,), check_fwd_over_rev=True, check_rev_over_rev=False,
               check_undefined_grad=False)
    with pytest.raises(tape.autograd.GradcheckError, match="^Jacobian computed with forward mode mismatch"):
        ggc(lambda t: _Cube.apply(t) * t.sin(), (x,), check_fwd_over_rev=True)


def test_checks_take_front_ends_given_before_the_level():
    # A function given as it is (``tape.exp``, not a lambda looking it up) was taken before the check's
    # dual level began: the checks run the level's form of it, which gives tangents.
    x = _f64([[0.3, -0.7], [1.1, 0.2]]).requires_grad_()
    for f in (tape.exp, tape.tanh, tape.sin, tape.nn.functional.gelu, tape.nn.functional.silu,
              tape.nn.functional.softplus):
        assert tape.autograd.gradgradcheck(f, (x,), check_fwd_over_rev=True)
        assert tape.autograd.gradcheck(f, (x,), check_forward_ad=True, check_batched_forward_grad=True)


def _dual_run(M, op, case, vs, dtype=None):
    """``op`` on dual leaves in module ``M``: [(primal, tangent or None)] (numpy), or the exception raised."""
    fw = M.autograd.forward_ad
    dtype = case.dtype if dtype is None else dtype
    with fw.dual_level():
        duals = [fw.make_dual(t, to_tensor(M, v, dtype)) if r and t.is_floating_point() else t
                 for t, v, r in zip(leaves(M, case, dtype), vs, case.requires)]
        try:
            outs = as_list(op.fn(M, *duals))
        except Exception as e:      # noqa: BLE001 (compared with the other library's)
            return e
        unpacked = [fw.unpack_dual(o) for o in outs]
        return [(to_np(p), None if t is None else to_np(t)) for p, t in unpacked]


def _assert_matches(got, want, ref64, dtype, what):
    got, want, ref64 = (np.asarray(a, np.float64) for a in (got, want, ref64))
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    rtol, atol = tolerances(dtype)
    bound = rtol * np.abs(want) + atol * max(1.0, float(np.max(np.abs(ref64), initial=0.0)))
    if dtype != "float64":
        bound = bound + 4 * np.abs(want - ref64)
    bad = ~((np.abs(got - want) <= bound) | (np.isnan(got) & np.isnan(want)) | (got == want))
    assert not bad.any(), f"{what} ({dtype}): {int(bad.sum())}/{bad.size} differ\ntape:\n{got}\ntorch:\n{want}"


# torch 2.13 gives scatter_reduce "prod" no tangent at all (None, where finite differences are not zero);
# tape's is checked against the tangent sweep above.
_TORCH_GIVES_NONE = {"scatter_reduce_prod", "scatter_reduce_prod_exclude"}
# tape's logcumsumexp tangent is the stable one (weights computed from the running maximum); torch 2.13's
# rounds tiny weights to zero, away from finite differences (the tangent sweep test above checks tape's).
_STABLE_HERE = {"logcumsumexp", "logcumsumexp_dim0_method"}
# torch 2.13's cholesky_inverse tangent is away from finite differences (0.0136 against 0.0129 for a 2 x 2 factor
# 3 I + ones): tape's, the transpose of PyTorch's adjoint rule, is checked against them by the tangent sweep test.
# So is its triangular_solve tangent, which reads the tangent of A's other triangle (0.2667 against 0.2111).
_TORCH_OFF = {"cholesky_inverse", "cholesky_inverse_upper_method", "triangular_solve",
              "triangular_solve_lower_transpose_unit_method"}


@pytest.mark.torch
@pytest.mark.parametrize("name", OP_NAMES)
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_every_op_s_primal_and_tangent_match_torch(name, data):
    torch = pytest.importorskip("torch")
    op = OPS[name]
    case = draw_case(data, op)
    vs = directions(np.random.default_rng(case.seed), case, op.fd_floor)
    want = _dual_run(torch, op, case, vs)
    got = _dual_run(tape, op, case, vs)
    if isinstance(want, Exception):
        if isinstance(want, NotImplementedError) and "forward AD" in str(want):
            # torch has no forward rule for this op; tape has one (checked against the tangent sweep above)
            assert not isinstance(got, Exception) or str(got) == str(want), f"{name}: {got!r}"
            return
        assert type(got) is type(want), f"{name}: tape {got!r}, torch {want!r}"
        return
    assert not isinstance(got, Exception), f"{name}: tape raised {got!r}, torch did not"
    ref = _dual_run(torch, op, case, vs, "float64")
    assert len(got) == len(want)
    for k, ((gp, gt), (wp, wt), (rp, rt)) in enumerate(zip(got, want, ref)):
        _assert_matches(gp, wp, rp, case.dtype, f"{name}: primal {k}")
        if name in _TORCH_GIVES_NONE:
            assert wt is None, f"{name}: torch now gives a tangent"
            continue
        if name in _STABLE_HERE or name in _TORCH_OFF:
            continue
        zero = np.zeros(np.shape(wp))
        _assert_matches(zero if gt is None else gt, zero if wt is None else wt, zero if rt is None else rt,
                        case.dtype, f"{name}: tangent {k}")


def _dual_texts(lib) -> list:
    fw = lib.autograd.forward_ad
    with fw.dual_level():
        a = lib.arange(3.0)
        b = fw.make_dual(a, lib.ones(3))
        texts = [repr(fw.make_dual(lib.tensor(1.0), lib.tensor(2.5))),
                 repr(fw.make_dual(lib.ones(2, 2, dtype=lib.float64), lib.ones(2, 2, dtype=lib.float64) * 3)),
                 repr(fw.make_dual(lib.tensor(1.0), lib.tensor(2.0)) * lib.tensor(3.0)),
                 str(a), str(b[1:]), str(fw.unpack_dual(b).primal)]
    return texts + [str(b)]


@pytest.mark.torch
def test_dual_tensor_text_shows_its_tangent_vs_torch():
    torch = pytest.importorskip("torch")
    ours = _dual_texts(tape)
    assert ours == _dual_texts(torch)
    assert ours[0] == "tensor(1., tangent=2.5)"


def test_forward_ad_can_be_disabled():
    fw = tape.autograd.forward_ad
    assert fw._is_fwd_grad_enabled() and tape._C._is_fwd_grad_enabled()
    with fw.dual_level():
        d = fw.make_dual(tape.ones(2), tape.ones(2))
        with fw._set_fwd_grad_enabled(False):
            assert not fw._is_fwd_grad_enabled()
            e = d * 2
            assert fw.unpack_dual(e).tangent is None and fw.unpack_dual(d).tangent is None
        assert fw.unpack_dual(e).tangent is None
        assert fw.unpack_dual(d).tangent.tolist() == [1.0, 1.0]
        assert fw.unpack_dual(d * 3).tangent.tolist() == [3.0, 3.0]
        try:
            tape._C._set_fwd_grad_enabled(False)
            assert not fw._is_fwd_grad_enabled() and fw.unpack_dual(d).tangent is None
        finally:
            tape._C._set_fwd_grad_enabled(True)


def test_detach_in_place_drops_the_tangent():
    fw = tape.autograd.forward_ad
    with fw.dual_level():
        dual = fw.make_dual(tape.rand(2, requires_grad=True), tape.ones(2))
        copy = dual.clone()
        copy.detach_()
        assert fw.unpack_dual(copy).tangent is None and fw.unpack_dual(copy * 2).tangent is None
        assert fw.unpack_dual(dual).tangent.tolist() == [1.0, 1.0]
        assert fw.unpack_dual(dual.detach()).tangent is None


@pytest.mark.torch
def test_out_functions_refuse_dual_tensors_vs_torch():
    torch = pytest.importorskip("torch")

    def errors(lib):
        fw = lib.autograd.forward_ad
        out = []
        with fw.dual_level():
            foo = fw.make_dual(lib.rand(2), lib.rand(2))
            bar = lib.rand(2)
            for f in (lambda: lib.add(bar, bar, out=foo), lambda: lib.add(foo, bar, out=bar),
                      lambda: lib.sin(foo, out=bar), lambda: lib.mul(bar, 2, out=foo),
                      lambda: lib.add(bar, bar, out=bar)):
                try:
                    f()
                    out.append(None)
                except NotImplementedError as e:
                    out.append(str(e))
        return out

    ours = errors(tape)
    assert ours == errors(torch)
    assert ours[0] == "Trying to use forward AD with add_out that does not support it because it is an out= function"


def test_forward_over_reverse_across_tapes():
    # a recorded backward whose graph spans two tapes (the first filled up: ``retire`` stands for
    # that) still gives its gradient the tangent: the rows on the first tape are swept too
    x = tape.tensor([0.3, 0.5], dtype=tape.float64)
    with fwAD.dual_level():
        s = fwAD.make_dual(x.clone().requires_grad_(), tape.ones(2, dtype=tape.float64))
        u = tape.zeros(2, dtype=tape.float64).requires_grad_()
        g, = tape.autograd.grad(s.sin(), s, u, create_graph=True)
        retire()
        got, = tape.autograd.grad(g, u, tape.ones(2, dtype=tape.float64), create_graph=True)
        np.testing.assert_allclose(fwAD.unpack_dual(got).tangent.tolist(), -np.sin([0.3, 0.5]), rtol=1e-15)


def test_primal_of_unpack_dual_is_an_identity_view_without_tangent():
    # PyTorch's _fw_primal: a view whose node is a CppFunction named Identity, and no tangent at the
    # level (its repr shows none; unpacked again, its tangent is None).
    x = tape.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, tape.tensor([1.0, 0.0, 0.0]))
        p, t = fwAD.unpack_dual((d * d).sum())
        assert repr(p) == "tensor(14., grad_fn=<Identity>)"
        assert repr(t) == "tensor(2., grad_fn=<SumBackward0>)"
        assert fwAD.unpack_dual(p).tangent is None
        q = fwAD.unpack_dual(d).primal
        assert type(q.grad_fn).__name__ == "CppFunction"
        assert q.grad_fn.name() == "torch::autograd::Identity"
        assert q._base is x and q.grad_fn.next_functions[0][0] is d.grad_fn
        assert repr(q.grad_fn).startswith("<CppFunction object at ")
        q.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]


def test_tangent_of_a_sum_or_mean_is_reduced_by_the_same_call():
    # (PyTorch's auto_linear: the tangent's node is the reduction's own, not a view of it)
    x = tape.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    with fwAD.dual_level():
        e = fwAD.make_dual(x, tape.ones(2, 3)) ** 2
        names = [type(fwAD.unpack_dual(y).tangent.grad_fn).__name__
                 for y in (e.sum(), e.sum(0), e.sum(1, keepdim=True), e.mean(), e.mean((0, 1)), e.mean(-1))]
        t = fwAD.unpack_dual(e.sum(1, keepdim=True)).tangent
    assert names == ["SumBackward0", "SumBackward1", "SumBackward1", "MeanBackward0", "MeanBackward1",
                     "MeanBackward1"]
    assert t.tolist() == [[12.0], [30.0]]
