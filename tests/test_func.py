"""tape.func (torch.func): grad, vjp, jvp, linearize, jacrev, jacfwd, hessian, vmap.

Torch-free tests pin values with closed forms; the tests marked ``torch`` run the same calls on
PyTorch and compare values, history and errors (types and messages)."""
import math
import threading

import numpy as np
import pytest

import tape
from tape.func import grad, grad_and_value, hessian, jacfwd, jacrev, jvp, linearize, vjp, vmap


def _np(t):
    return np.asarray(t.detach().tolist())


# -- torch-free: closed forms -------------------------------------------------------------------
def test_grad_and_higher_orders_closed_forms():
    x = tape.tensor(0.7, dtype=tape.float64)
    assert math.isclose(grad(tape.sin)(x).item(), math.cos(0.7))
    assert math.isclose(grad(grad(tape.sin))(x).item(), -math.sin(0.7))
    assert math.isclose(grad(grad(grad(lambda t: t ** 4)))(x).item(), 24 * 0.7)
    v = tape.tensor([1., 2.], dtype=tape.float64)
    g, value = grad_and_value(lambda t: (t ** 3).sum())(v)
    assert _np(g).tolist() == [3., 12.] and value.item() == 9.
    assert not g.requires_grad and g.grad_fn is None and value.grad_fn is None


def test_perturbation_confusion():
    # d/dx [x * d/dy (x + y)] = 1 (Siskind & Pearlmutter): the inner level differentiates
    # with respect to its own stand-in only
    x = tape.tensor(3.)
    assert grad(lambda a: a * grad(lambda b: a + b)(a))(x).item() == 1.
    # d/dx [d/dy (x * y)] at y = x: the inner result x depends on the outer input
    assert grad(lambda a: grad(lambda b: a * b)(a))(x).item() == 1.
    # the same tensor closed over and passed in
    assert grad(lambda a: grad(lambda b: (a * b) ** 2)(a))(x).item() == 6 * 3. ** 2   # d/da 2a^2 b at b = a


def test_jacobians_hessian_and_forward_mode():
    x = tape.tensor([0.5, -1.0], dtype=tape.float64)
    want = np.diag(np.cos([0.5, -1.0]))
    np.testing.assert_allclose(_np(jacrev(tape.sin)(x)), want)
    np.testing.assert_allclose(_np(jacfwd(tape.sin)(x)), want)
    np.testing.assert_allclose(_np(jacrev(jacrev(lambda t: (t ** 3).sum()))(x)), np.diag([3., -6.]))
    np.testing.assert_allclose(_np(hessian(lambda t: (t ** 3).sum())(x)), np.diag([3., -6.]))
    np.testing.assert_allclose(_np(jacrev(jacfwd(lambda t: (t ** 3).sum()))(x)), np.diag([3., -6.]))
    out, tan = jvp(tape.exp, (x,), (tape.ones(2, dtype=tape.float64),))
    np.testing.assert_allclose(_np(tan), np.exp([0.5, -1.0]))
    out, fn = linearize(tape.exp, x)
    np.testing.assert_allclose(_np(fn(tape.tensor([2., 0.], dtype=tape.float64))), [2 * math.exp(0.5), 0.])
    out, fn = vjp(lambda a, b: a * b, x, x * 2)
    ga, gb = fn(tape.ones(2, dtype=tape.float64))
    assert _np(ga).tolist() == [1.0, -2.0] and _np(gb).tolist() == [0.5, -1.0]


def test_jacrev_blocked_from_many_rows():
    # from BLOCKED_ROWS rows on the blocked sweeps: the same values as one backward per row
    n = tape.func.BLOCKED_ROWS + 6
    x = tape.linspace(-2, 2, n, dtype=tape.float64)
    f = lambda t: t.sin() * t.roll(1)   # noqa: E731
    got = _np(jacrev(f)(x))
    rows = _np(jacrev(lambda t: f(t)[:32])(x)), _np(jacrev(lambda t: f(t)[32:])(x))
    np.testing.assert_allclose(got, np.concatenate(rows), rtol=1e-15, atol=0)
    want = np.diag(np.cos(_np(x)) * np.roll(_np(x), 1)) + np.diag(np.sin(_np(x))[1:], -1)
    want[0, -1] = math.sin(-2.)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)


def test_vmap_loops_and_stacks():
    x = tape.arange(6.).reshape(3, 2)
    assert _np(vmap(lambda a: (a ** 2).sum())(x)).tolist() == [1., 13., 41.]
    assert _np(vmap(lambda a: a.sum(), in_dims=1)(x)).tolist() == [6., 9.]
    assert vmap(lambda a: a * 2, out_dims=1)(x).shape == (2, 3)
    assert _np(vmap(lambda a, b: a * b, in_dims=(0, None))(x, tape.tensor([1., -1.]))).tolist() == \
        [[0., -1.], [2., -3.], [4., -5.]]
    got = vmap(lambda d: {"s": d["a"].sum(), "l": [d["b"]]}, in_dims=({"a": 0, "b": None},))(
        {"a": x, "b": tape.ones(2)})
    assert _np(got["s"]).tolist() == [1., 5., 9.] and got["l"][0].shape == (3, 2)
    assert _np(vmap(vmap(lambda a: a * 2))(x)).tolist() == (np.arange(6.).reshape(3, 2) * 2).tolist()
    assert _np(vmap(grad(lambda a: (a ** 2).sum()))(x)).tolist() == (np.arange(6.).reshape(3, 2) * 2).tolist()
    # grad through a function that uses vmap
    w = tape.tensor([1., 2.])
    assert _np(grad(lambda v: vmap(lambda r: (r * v).sum())(x).sum())(w)).tolist() == [6., 9.]


def test_vmap_randomness():
    x = tape.ones(3, 2)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        vmap(lambda a: a * tape.rand(2))(x)
    tape.manual_seed(0)
    same = vmap(lambda a: a * tape.rand(2), randomness="same")(x)
    assert (same == same[0]).all()
    tape.manual_seed(0)
    diff = vmap(lambda a: a * tape.rand(2), randomness="different")(x)
    tape.manual_seed(0)
    assert (diff == tape.rand(3, 2)).all()
    tape.rand(1)        # (the guard is gone after vmap)


def test_results_carry_history_only_when_inputs_require_grad():
    x = tape.tensor([1., 2.], requires_grad=True)
    g = grad(lambda a: (a ** 3).sum())(x)
    assert g.requires_grad
    g.sum().backward()
    assert _np(x.grad).tolist() == [6., 12.]
    w = tape.tensor([3., 4.], requires_grad=True)
    assert grad(lambda a: (w * a ** 2).sum())(tape.tensor([1., 2.])).requires_grad
    assert not grad(lambda a: (w + a).sum())(tape.tensor([1., 2.])).requires_grad
    with tape.no_grad():
        assert not grad(lambda a: (a ** 3).sum())(x).requires_grad


def test_public_names():
    assert tape.vmap is tape.func.vmap
    assert {"grad", "grad_and_value", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "hessian", "vmap"} <= \
        set(tape.func.__all__)
    with pytest.raises(tape._pytorch_names.NotSupportedYet, match="torch.func.functionalize"):
        tape.func.functionalize
    with pytest.raises(AttributeError, match="module 'tape.func' has no attribute 'nope'"):
        tape.func.nope


# -- against PyTorch ------------------------------------------------------------------------------
def _x(m):
    return m.tensor([0.5, -1.25, 2.0], dtype=m.float64)


def _x2(m):
    return m.arange(6., dtype=m.float64).reshape(3, 2) / 3 - 0.4


CASES = {
    "grad": lambda m, F: F.grad(lambda t: (t.sin() * t).sum())(_x(m)),
    "grad grad": lambda m, F: F.grad(F.grad(lambda t: t.sin() * t ** 2))(_x(m)[0]),
    "grad argnums": lambda m, F: F.grad(lambda a, b: (a * b.exp()).sum(), argnums=(0, 1))(_x(m), _x(m) * 2),
    "grad argnums -1": lambda m, F: F.grad(lambda a, b: (a * b.exp()).sum(), argnums=-1)(_x(m), _x(m) * 2),
    "grad has_aux": lambda m, F: F.grad(lambda a: ((a ** 2).sum(), a.mean()), has_aux=True)(_x(m)),
    "grad pytree": lambda m, F: F.grad(lambda d: (d["u"] * d["v"][0]).sum())({"u": _x(m), "v": [_x(m) + 1]}),
    "grad unused": lambda m, F: F.grad(lambda a, b: a.sum(), argnums=1)(_x(m), _x(m)),
    "grad_and_value": lambda m, F: F.grad_and_value(lambda t: (t ** 2).sum())(_x(m)),
    "grad_and_value aux": lambda m, F: F.grad_and_value(lambda t: ((t ** 2).sum(), t * 2), has_aux=True)(_x(m)),
    "confusion": lambda m, F: F.grad(lambda a: a * F.grad(lambda b: (a + b) * b)(a))(_x(m)[1]),
    "vjp": lambda m, F: (lambda o, fn: (o, fn(m.ones(3, dtype=m.float64))))(*F.vjp(m.sin, _x(m))),
    "vjp tuple out": lambda m, F: (lambda o, fn: (o, fn((m.ones(3, dtype=m.float64), m.tensor(2., dtype=m.float64)))))(
        *F.vjp(lambda a: (a.exp(), a.sum()), _x(m))),
    "vjp aux": lambda m, F: (lambda o, fn, aux: (o, fn(m.ones(3, dtype=m.float64)), aux))(
        *F.vjp(lambda a: (a.cos(), a.sum()), _x(m), has_aux=True)),
    "jvp": lambda m, F: F.jvp(lambda a, b: a * b.sin(), (_x(m), _x(m) + 1), (m.ones(3, dtype=m.float64), _x(m))),
    "jvp aux": lambda m, F: F.jvp(lambda a: (a.exp(), a.sum()), (_x(m),), (_x(m),), has_aux=True),
    "jvp strict": lambda m, F: F.jvp(m.exp, (_x(m),), (_x(m),), strict=True),
    "jvp independent": lambda m, F: F.jvp(lambda a: m.ones(2, dtype=m.float64), (_x(m),), (_x(m),)),
    "custom Function": lambda m, F: (lambda Sq: (F.grad(lambda a: Sq.apply(a).sum())(_x(m)), F.vmap(Sq.apply)(_x2(m)),
                                                F.jacfwd(Sq.apply)(_x(m))))(_square(m)),
    "custom Function with its own vmap": lambda m, F: F.vmap(_square(m, rule=False, own_vmap=True).apply)(_x2(m)),
    "linearize": lambda m, F: (lambda o, fn: (o, fn(_x(m)), fn(m.ones(3, dtype=m.float64))))(*F.linearize(m.tanh, _x(m))),
    "jacrev": lambda m, F: F.jacrev(lambda t: t.sin() * t.sum())(_x(m)),
    "jacrev 2d": lambda m, F: F.jacrev(lambda t: t @ t.T)(_x2(m)),
    "jacrev argnums": lambda m, F: F.jacrev(lambda a, b: a * b, argnums=(0, 1))(_x(m), _x(m) * 3),
    "jacrev dict out": lambda m, F: F.jacrev(lambda t: {"s": t.sin(), "c": t.cos().sum()})(_x(m)),
    "jacrev aux": lambda m, F: F.jacrev(lambda t: (t.exp(), t.sum()), has_aux=True)(_x(m)),
    "jacrev chunk": lambda m, F: F.jacrev(m.sin, chunk_size=1)(_x(m)),
    "jacfwd": lambda m, F: F.jacfwd(lambda t: t.sin() * t.sum())(_x(m)),
    "jacfwd argnums": lambda m, F: F.jacfwd(lambda a, b: a * b.exp(), argnums=(0, 1))(_x(m), _x(m) * 3),
    "jacfwd aux": lambda m, F: F.jacfwd(lambda t: (t.exp(), t.sum()), has_aux=True)(_x(m)),
    "hessian": lambda m, F: F.hessian(lambda t: (t.sin() * t ** 2).sum())(_x(m)),
    "hessian argnums": lambda m, F: F.hessian(lambda a, b: (a ** 2 * b ** 3).sum(), argnums=1)(_x(m), _x(m)),
    "jacrev jacrev": lambda m, F: F.jacrev(F.jacrev(lambda t: (t.exp() * t).sum()))(_x(m)),
    "jacrev jacfwd": lambda m, F: F.jacrev(F.jacfwd(lambda t: t.sin() * t.sum()))(_x(m)),
    "jacfwd jacfwd": lambda m, F: F.jacfwd(F.jacfwd(lambda t: (t.sin() * t.sum()).sum()))(_x(m)),
    "jvp jvp": lambda m, F: F.jvp(lambda a: F.jvp(m.sin, (a,), (a * 2,))[1], (_x(m),), (m.ones(3, dtype=m.float64),)),
    "jvp grad": lambda m, F: F.jvp(F.grad(lambda a: (a.sin() * a).sum()), (_x(m),), (_x(m),)),
    "grad jvp": lambda m, F: F.grad(lambda a: F.jvp(m.exp, (a,), (a,))[1].sum())(_x(m)),
    "jacfwd hessian": lambda m, F: F.jacfwd(F.hessian(lambda a: (a ** 4 * a.sum()).sum()))(_x(m)[:2]),
    "grad vmap": lambda m, F: F.grad(lambda w: F.vmap(lambda r: (r * w).sin().sum())(_x2(m)).sum())(_x(m)[:2]),
    "vmap grad": lambda m, F: F.vmap(F.grad(lambda r: (r ** 3).sum()))(_x2(m)),
    "vmap jacrev": lambda m, F: F.vmap(F.jacrev(lambda r: r.sin() * r.sum()))(_x2(m)),
    "vmap": lambda m, F: F.vmap(lambda r: r.sin() @ r)(_x2(m)),
    "vmap in_dims": lambda m, F: F.vmap(lambda a, b: a * b, in_dims=(1, None))(_x2(m), _x(m)),
    "vmap out_dims": lambda m, F: F.vmap(lambda a: (a, a.sum()), out_dims=(1, 0))(_x2(m)),
    "vmap out_dims None": lambda m, F: F.vmap(lambda a, c: (a * 2, c), in_dims=(0, None), out_dims=(0, None))(
        _x2(m), _x(m)),
    "vmap pytree": lambda m, F: F.vmap(lambda d: {"s": d["a"] + d["b"], "l": [d["a"].sum()]},
                                       in_dims=({"a": 0, "b": None},))({"a": _x2(m), "b": _x(m)[:2]}),
    "vmap nested": lambda m, F: F.vmap(F.vmap(lambda a: a.exp()))(_x2(m)),
    "vmap kwargs": lambda m, F: F.vmap(lambda a, s=1: a * s)(_x2(m), s=_x(m)[:2]),
    "vmap negative dim": lambda m, F: F.vmap(lambda a: a.sum(), in_dims=-1)(_x2(m)),
    "vmap chunk": lambda m, F: F.vmap(lambda a: a * 2, chunk_size=2)(_x2(m)),
}


def _square(m, setup=True, rule=True, own_vmap=False):
    """A custom Function ``x * x``: with ``setup_context`` (else ``forward`` takes ``ctx``), with
    ``generate_vmap_rule = True`` (``rule``) and with a ``vmap`` staticmethod of its own (``own_vmap``)."""
    class Square(m.autograd.Function):
        generate_vmap_rule = rule

        @staticmethod
        def backward(ctx, g):
            return 2 * ctx.saved_tensors[0] * g

        @staticmethod
        def jvp(ctx, t):
            return 2 * ctx.saved_tensors[0] * t

    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])

    def forward_with_ctx(ctx, x):
        setup_context(ctx, (x,), None)
        return x * x

    if setup:
        Square.forward = staticmethod(lambda x: x * x)
        Square.setup_context = staticmethod(setup_context)
    else:
        Square.forward = staticmethod(forward_with_ctx)
    if own_vmap:
        Square.vmap = staticmethod(lambda info, in_dims, x: (x * x, in_dims[0]))
    return Square


def _same(ours, theirs, torch, path="result"):
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, tape.Tensor), path
        assert tuple(ours.shape) == tuple(theirs.shape) and str(ours.dtype) == str(theirs.dtype), path
        np.testing.assert_allclose(_np(ours), theirs.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=path)
        assert ours.requires_grad == theirs.requires_grad, path
    elif isinstance(theirs, (tuple, list)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), path
        for k, (a, b) in enumerate(zip(ours, theirs)):
            _same(a, b, torch, f"{path}[{k}]")
    elif isinstance(theirs, dict):
        assert type(ours) is dict and list(ours) == list(theirs), path
        for k in theirs:
            _same(ours[k], theirs[k], torch, f"{path}[{k!r}]")
    else:
        assert ours == theirs, path


@pytest.mark.torch
@pytest.mark.parametrize("name", list(CASES))
def test_values_as_torch(name):
    torch = pytest.importorskip("torch")
    import torch.func
    _same(CASES[name](tape, tape.func), CASES[name](torch, torch.func), torch)


@pytest.mark.torch
def test_small_jacobians_print_as_torch():
    torch = pytest.importorskip("torch")
    import torch.func
    for m, F in ((tape, tape.func), (torch, torch.func)):
        x = m.tensor([1., 2.])
        got = [F.jacrev(m.sin)(x), F.jacfwd(m.sin)(x), F.jacrev(lambda t: t.cos() * t.sum())(x)]
        if m is tape:
            ours = [repr(t) for t in got]
    assert ours == [repr(t) for t in got]        # (signed zeros included: -0.0000)


@pytest.mark.torch
def test_history_as_torch():
    torch = pytest.importorskip("torch")
    import torch.func
    for m, F in ((tape, tape.func), (torch, torch.func)):
        x = m.tensor([1., 2.], requires_grad=True)
        g = F.grad(lambda a: (a ** 3).sum())(x)
        g.sum().backward()
        w = m.tensor([3., 4.], requires_grad=True)
        h = F.grad(lambda a: (w * a ** 2).sum())(x.detach())
        o, fn = F.vjp(lambda a: a * w, x.detach())
        yield_ = (g.requires_grad, x.grad.tolist(), h.requires_grad, o.requires_grad,
                  fn(m.ones(2))[0].requires_grad, F.grad(lambda a: (a ** 3).sum())(x.detach()).requires_grad,
                  F.hessian(lambda a: (a ** 3).sum())(x.detach()).requires_grad,
                  F.hessian(lambda a: (a ** 3).sum())(x).requires_grad,
                  F.jacrev(lambda a: a.sin() * w)(x.detach()).requires_grad,
                  F.jacrev(lambda a: a.sin())(x).requires_grad, F.jacfwd(lambda a: a.sin())(x).requires_grad)
        if m is tape:
            ours = yield_
    assert ours == yield_


def _err(f):
    try:
        f()
    except Exception as e:      # noqa: BLE001  (the type and message are what is compared)
        return type(e).__name__, str(e)
    return None


ERRORS = {
    "grad nonscalar": lambda m, F: F.grad(lambda a: a)(_x(m)),
    "grad argnums oob": lambda m, F: F.grad(lambda a: a.sum(), argnums=2)(_x(m)),
    "grad argnums type": lambda m, F: F.grad(lambda a: a.sum(), argnums=[0])(_x(m)),
    "grad argnums empty": lambda m, F: F.grad(lambda a: a.sum(), argnums=())(_x(m)),
    "grad argnums float": lambda m, F: F.grad(lambda a, b: a.sum(), argnums=(0, 1.0))(_x(m), _x(m)),
    "grad argnums repeated": lambda m, F: F.grad(lambda a, b: a.sum(), argnums=(0, 0))(_x(m), _x(m)),
    "grad aux not pair": lambda m, F: F.grad(lambda a: a.sum(), has_aux=True)(_x(m)),
    "grad aux not tensor": lambda m, F: F.grad(lambda a: (a.sum(), 1), has_aux=True)(_x(m)),
    "grad output not tensor": lambda m, F: F.grad(lambda a: 1.0)(_x(m)),
    "grad int input": lambda m, F: F.grad(lambda a: a.sum())(m.tensor([1, 2])),
    "grad float input": lambda m, F: F.grad(lambda a: a)(1.0),
    "vjp output not tensor": lambda m, F: F.vjp(lambda a: 1.0, _x(m)),
    "vjp cotangent structure": lambda m, F: F.vjp(m.sin, _x(m))[1]((m.ones(3),)),
    "vjp aux not pair": lambda m, F: F.vjp(m.sin, _x(m), has_aux=True),
    "jvp primals not tuple": lambda m, F: F.jvp(m.sin, _x(m), (_x(m),)),
    "jvp structure": lambda m, F: F.jvp(m.sin, (_x(m),), (_x(m), _x(m))),
    "jvp empty": lambda m, F: F.jvp(m.sin, (), ()),
    "jvp not tensors": lambda m, F: F.jvp(m.sin, (1.0,), (1.0,)),
    "jvp output not tensor": lambda m, F: F.jvp(lambda a: 1.0, (_x(m),), (_x(m),)),
    "jvp aux": lambda m, F: F.jvp(m.sin, (_x(m),), (_x(m),), has_aux=True),
    "jvp strict": lambda m, F: F.jvp(lambda a: m.ones(2), (_x(m),), (_x(m),), strict=True),
    "linearize shape": lambda m, F: F.linearize(m.sin, _x(m))[1](m.ones(2, dtype=m.float64)),
    "linearize dtype": lambda m, F: F.linearize(m.sin, _x(m))[1](m.ones(3)),
    "linearize structure": lambda m, F: F.linearize(m.sin, _x(m))[1](_x(m), _x(m)),
    "jacrev chunk_size": lambda m, F: F.jacrev(m.sin, chunk_size=0)(_x(m)),
    "jacfwd randomness": lambda m, F: F.jacfwd(m.sin, randomness="bad")(_x(m)),
    "jacfwd random op": lambda m, F: F.jacfwd(lambda a: a * m.rand(3, dtype=m.float64))(_x(m)),
    "hessian random op": lambda m, F: F.hessian(lambda a: (a * m.rand(3, dtype=m.float64)).sum())(_x(m)),
    "vmap in_dims type": lambda m, F: F.vmap(lambda a: a, in_dims=[0])(_x2(m)),
    "vmap in_dims structure": lambda m, F: F.vmap(lambda a, b: a, in_dims=(0,))(_x2(m), _x2(m)),
    "vmap in_dims nested structure": lambda m, F: F.vmap(lambda l: l[0], in_dims=([0],))([_x2(m), _x(m)]),
    "vmap sizes": lambda m, F: F.vmap(lambda a, b: a)(_x2(m), m.ones(4, 2)),
    "vmap dim": lambda m, F: F.vmap(lambda a: a, in_dims=2)(_x2(m)),
    "vmap 0-d": lambda m, F: F.vmap(lambda a: a)(m.tensor(1.)),
    "vmap non-tensor": lambda m, F: F.vmap(lambda a: a)(1.0),
    "vmap no inputs": lambda m, F: F.vmap(lambda: 1.0)(),
    "vmap nothing mapped": lambda m, F: F.vmap(lambda a: a, in_dims=(None,))(_x2(m)),
    "vmap returns float": lambda m, F: F.vmap(lambda a: 1.0)(_x2(m)),
    "vmap out_dims structure": lambda m, F: F.vmap(lambda a: (a, a), out_dims=(1,))(_x2(m)),
    "vmap out_dims type": lambda m, F: F.vmap(lambda a: a, out_dims="a")(_x2(m)),
    "vmap out_dims None batched": lambda m, F: F.vmap(lambda a: a, out_dims=None)(_x2(m)),
    "vmap randomness": lambda m, F: F.vmap(lambda a: a, randomness="x")(_x2(m)),
    "vmap random op": lambda m, F: F.vmap(lambda a: m.randn_like(a))(_x2(m)),
    "vmap chunk_size": lambda m, F: F.vmap(lambda a: a, chunk_size=0)(_x2(m)),
    "vmap Function without setup_context": lambda m, F: F.vmap(_square(m, setup=False).apply)(_x2(m)),
    "vmap Function without vmap rule": lambda m, F: F.vmap(_square(m, rule=False).apply)(_x2(m)),
    "vmap Function with two vmap rules": lambda m, F: F.vmap(_square(m, own_vmap=True).apply)(_x2(m)),
    "vmap Function inside grad": lambda m, F: F.vmap(F.grad(lambda a: _square(m, rule=False).apply(a).sum()))(_x2(m)),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_as_torch(name):
    torch = pytest.importorskip("torch")
    import torch.func
    theirs = _err(lambda: ERRORS[name](torch, torch.func))
    assert theirs is not None
    assert _err(lambda: ERRORS[name](tape, tape.func)) == theirs


def _beside_a_vmap(fn) -> list:
    """The RuntimeErrors ``fn()`` raises in this thread while a vmap runs in another one."""
    inside, done, errors = threading.Event(), threading.Event(), []

    def mapped(a):
        inside.set()
        done.wait(10)
        return a * 2

    runner = threading.Thread(target=lambda: tape.func.vmap(mapped)(_x2(tape)))
    runner.start()
    try:
        inside.wait(10)
        try:
            fn()
        except RuntimeError as e:
            errors.append(e)
    finally:
        done.set()
        runner.join()
    return errors


def test_a_vmap_in_one_thread_leaves_functions_in_other_threads_alone():
    # (a Function without setup_context or vmap rule is refused inside vmap only, not in a thread
    # that runs beside a vmap)
    assert not _beside_a_vmap(lambda: _square(tape, setup=False, rule=False).apply(_x(tape)))
    with pytest.raises(RuntimeError, match="it must override the setup_context staticmethod"):
        tape.func.vmap(_square(tape, setup=False, rule=False).apply)(_x2(tape))


def test_a_vmap_in_one_thread_leaves_random_draws_in_other_threads_alone():
    # (randomness='error' refuses random ops inside the vmap only, not in a thread beside it)
    assert not _beside_a_vmap(lambda: (tape.randn(3), tape.rand_like(_x(tape))))
    with pytest.raises(RuntimeError, match="vmap: called random operation while in randomness error mode"):
        tape.func.vmap(lambda a: tape.randn_like(a))(_x2(tape))
