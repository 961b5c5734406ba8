"""tape.optim: the Optimizer base (groups, state, zero_grad, state_dict, hooks) and SGD, as PyTorch's."""
import math
import re

import numpy as np
import pytest

import tape
from tape.optim import SGD, Optimizer
from tape.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook


def _quadratic_steps(opt_factory, steps, dtype=tape.float64):
    """Minimise sum((w - c)^2 * k) from w0; return the iterates of w (as lists)."""
    w = tape.tensor([1.0, -2.0, 0.5], dtype=dtype, requires_grad=True)
    c = tape.tensor([0.25, 0.5, -1.0], dtype=dtype)
    k = tape.tensor([1.0, 2.0, 3.0], dtype=dtype)
    opt = opt_factory([w])
    out = []
    for _ in range(steps):
        opt.zero_grad()
        ((w - c) ** 2 * k).sum().backward()
        opt.step()
        out.append(w.tolist())
    return out


def _reference_sgd(steps, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
    """The SGD update PyTorch documents, in numpy float64."""
    w = np.array([1.0, -2.0, 0.5])
    c = np.array([0.25, 0.5, -1.0])
    k = np.array([1.0, 2.0, 3.0])
    buf = None
    out = []
    for _ in range(steps):
        g = 2 * (w - c) * k
        if maximize:
            g = -g
        if weight_decay:
            g = g + weight_decay * w
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        w = w - lr * g
        out.append(w.tolist())
    return out


@pytest.mark.parametrize("options", [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True},
                                     {"momentum": 0.5, "dampening": 0.2, "weight_decay": 0.1},
                                     {"maximize": True}, {"momentum": 0.3, "foreach": True},
                                     {"momentum": 0.3, "fused": True}])
def test_sgd_follows_pytorchs_update(options):
    ref_options = {k: v for k, v in options.items() if k not in ("foreach", "fused")}
    got = _quadratic_steps(lambda p: SGD(p, lr=0.05, **options), 6)
    np.testing.assert_allclose(got, _reference_sgd(6, 0.05, **ref_options), rtol=1e-13, atol=1e-15)


def test_sgd_keeps_its_momentum_buffer_in_state():
    w = tape.tensor([1.0, 2.0], requires_grad=True)
    opt = SGD([w], lr=0.1, momentum=0.9)
    (w * w).sum().backward()
    opt.step()
    assert opt.state[w]["momentum_buffer"].tolist() == [2.0, 4.0]
    assert not opt.state[w]["momentum_buffer"].requires_grad


def test_step_runs_without_grad_and_returns_the_closures_loss():
    w = tape.tensor([3.0], requires_grad=True)
    opt = SGD([w], lr=0.5)
    seen = []

    def closure():
        opt.zero_grad()
        seen.append(tape.is_grad_enabled())
        loss = (w * w).sum()
        loss.backward()
        return loss

    with tape.no_grad():
        loss = opt.step(closure)
    assert seen == [True] and loss.item() == 9.0 and w.tolist() == [0.0]
    assert w.grad_fn is None and w.is_leaf and w._version == 1


def test_parameters_without_grad_are_skipped():
    a = tape.tensor([1.0], requires_grad=True)
    b = tape.tensor([1.0], requires_grad=True)
    opt = SGD([a, b], lr=1.0, momentum=0.5)
    (a * 2).sum().backward()
    opt.step()
    assert a.tolist() == [-1.0] and b.tolist() == [1.0] and b not in opt.state


@pytest.mark.parametrize("kwargs,message", [
    ({"lr": -0.1}, "Invalid learning rate: -0.1"),
    ({"lr": 0.1, "momentum": -1}, "Invalid momentum value: -1"),
    ({"lr": 0.1, "weight_decay": -2}, "Invalid weight_decay value: -2"),
    ({"lr": 0.1, "nesterov": True}, "Nesterov momentum requires a momentum and zero dampening"),
    ({"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True},
     "Nesterov momentum requires a momentum and zero dampening"),
    ({"lr": tape.tensor([0.1, 0.2])}, "Tensor lr must be 1-element"),
])
def test_sgd_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        SGD([tape.zeros(1, requires_grad=True)], **kwargs)


def test_fused_conflicts():
    p = [tape.zeros(1, requires_grad=True)]
    with pytest.raises(RuntimeError, match="^`fused` does not support `differentiable`$"):
        SGD(p, fused=True, differentiable=True)
    with pytest.raises(RuntimeError, match=r"^`fused` and `foreach` cannot be `True` together\.$"):
        SGD(p, fused=True, foreach=True)


def test_params_errors():
    w = tape.zeros(2, requires_grad=True)
    with pytest.raises(TypeError, match="^params argument given to the optimizer should be an iterable of "
                                        "Tensors or dicts, but got torch.FloatTensor$"):
        SGD(w)
    with pytest.raises(ValueError, match="^optimizer got an empty parameter list$"):
        SGD([])
    with pytest.raises(TypeError, match="^optimizer can only optimize Tensors, but one of the params is int$"):
        SGD([w, 3])
    with pytest.raises(ValueError, match="^can't optimize a non-leaf Tensor$"):
        SGD([w * 2])
    with pytest.raises(TypeError, match="optimizer parameters need to be organized in ordered collections"):
        SGD([{"params": {w}}])
    with pytest.raises(ValueError, match="^some parameters appear in more than one parameter group$"):
        SGD([{"params": [w]}, {"params": w}])
    with pytest.warns(UserWarning, match="duplicate parameters"):
        SGD([w, w])
    opt = SGD([w])
    with pytest.raises(TypeError, match="^param_group must be a dict, but got <class 'list'>$"):
        opt.add_param_group([w])


def test_required_option_must_be_given():
    from tape.optim.optimizer import required

    class Needs(Optimizer):
        def __init__(self, params, lr=required):
            super().__init__(params, {"lr": lr})

    with pytest.raises(ValueError, match="didn't specify a value of required optimization parameter lr"):
        Needs([tape.zeros(1, requires_grad=True)])
    assert Needs([{"params": [tape.zeros(1, requires_grad=True)], "lr": 1.0}]).param_groups[0]["lr"] == 1.0


def test_named_parameters_and_groups():
    a, b = tape.zeros(1, requires_grad=True), tape.zeros(1, requires_grad=True)
    opt = SGD([("a", a), ("b", b)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["a", "b"] and opt.param_groups[0]["params"][0] is a
    with pytest.raises(ValueError, match="cannot add param group without names to the optimizer"):
        opt.add_param_group({"params": [tape.zeros(1, requires_grad=True)]})
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.5, "momentum": 0.1}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5] and opt.param_groups[1]["momentum"] == 0.1


def test_zero_grad_to_none_or_zeros():
    w = tape.tensor([1.0, 2.0], requires_grad=True)
    opt = SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert w.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None
    (w * w).sum().backward(create_graph=True)
    assert w.grad.grad_fn is not None
    opt.zero_grad(set_to_none=False)
    assert w.grad.grad_fn is None and w.grad.tolist() == [0.0, 0.0]


def test_repr_lists_each_group_sorted():
    opt = SGD([tape.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    assert repr(opt) == ("SGD (\nParameter Group 0\n    dampening: 0\n    differentiable: False\n    foreach: None\n"
                         "    fused: None\n    lr: 0.1\n    maximize: False\n    momentum: 0.9\n    nesterov: False\n"
                         "    weight_decay: 0\n)")


def test_state_dict_round_trip():
    w = tape.tensor([1.0, 2.0], requires_grad=True)
    b = tape.tensor([0.5], requires_grad=True)
    opt = SGD([{"params": [w]}, {"params": [b], "lr": 0.01}], lr=0.1, momentum=0.9)
    ((w * w).sum() + (b * 3).sum()).backward()
    opt.step()
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1] and sd["param_groups"][1]["params"] == [1]
    assert sd["param_groups"][1]["lr"] == 0.01
    w2 = tape.tensor([1.0, 2.0], dtype=tape.float64, requires_grad=True)
    b2 = tape.tensor([0.5], dtype=tape.float64, requires_grad=True)
    opt2 = SGD([{"params": [w2]}, {"params": [b2]}], lr=0.5)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[1]["lr"] == 0.01 and opt2.param_groups[0]["momentum"] == 0.9
    assert opt2.param_groups[0]["params"][0] is w2
    assert opt2.state[w2]["momentum_buffer"].dtype == tape.float64    # cast to the parameter's dtype
    assert opt2.state[w2]["momentum_buffer"].tolist() == [2.0, 4.0]
    with pytest.raises(ValueError, match="^loaded state dict has a different number of parameter groups$"):
        SGD([w2], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        SGD([{"params": [w2, b2]}, {"params": [tape.zeros(1, requires_grad=True)]}]).load_state_dict(sd)


def test_step_hooks_in_pytorchs_order():
    w = tape.tensor([1.0], requires_grad=True)
    opt = SGD([w], lr=0.1)
    calls = []
    handles = [register_optimizer_step_pre_hook(lambda o, a, k: calls.append("global pre")),
               opt.register_step_pre_hook(lambda o, a, k: calls.append("pre")),
               opt.register_step_post_hook(lambda o, a, k: calls.append("post")),
               register_optimizer_step_post_hook(lambda o, a, k: calls.append("global post"))]
    try:
        (w * w).sum().backward()
        opt.step()
    finally:
        for h in handles:
            h.remove()
    assert calls == ["global pre", "pre", "post", "global post"]
    opt.step()
    assert len(calls) == 4


def test_step_pre_hook_may_replace_arguments():
    w = tape.tensor([2.0], requires_grad=True)
    opt = SGD([w], lr=1.0)
    marker = []
    opt.register_step_pre_hook(lambda o, a, k: ((o, lambda: marker.append(1) or tape.tensor(5.0)), {}))
    (w * 1).sum().backward()
    assert opt.step().item() == 5.0 and marker == [1]
    opt.register_step_pre_hook(lambda o, a, k: "bad")
    with pytest.raises(RuntimeError, match="must return None or a tuple of \\(new_args, new_kwargs\\), but got bad"):
        opt.step()


def test_state_dict_hooks():
    w = tape.tensor([1.0], requires_grad=True)
    opt = SGD([w], lr=0.1)
    seen = []
    opt.register_state_dict_pre_hook(lambda o: seen.append("pre"))
    opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1})
    opt.register_load_state_dict_pre_hook(lambda o, sd: seen.append("load pre"))
    opt.register_load_state_dict_post_hook(lambda o: seen.append("load post"), prepend=True)
    sd = opt.state_dict()
    assert sd["extra"] == 1
    opt.load_state_dict(sd)
    assert seen == ["pre", "load pre", "load post"]


def test_a_training_loop_converges():
    tape.manual_seed(0)
    x = tape.randn(64, 3)
    true_w = tape.tensor([[1.5], [-2.0], [0.5]])
    y = x @ true_w + 0.25
    w = tape.zeros(3, 1, requires_grad=True)
    b = tape.zeros(1, requires_grad=True)
    opt = SGD([w, b], lr=0.1, momentum=0.9)
    for _ in range(200):
        opt.zero_grad()
        loss = ((x @ w + b - y) ** 2).mean()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-8
    assert np.allclose(w.detach().numpy().ravel(), [1.5, -2.0, 0.5], atol=1e-4)
    assert math.isclose(b.item(), 0.25, abs_tol=1e-4)


@pytest.mark.torch
def test_sgd_matches_torch():
    torch = pytest.importorskip("torch")

    def run(lib, **kw):
        w = lib.tensor(np.linspace(-1, 1, 6).reshape(2, 3).tolist(), requires_grad=True)
        b = lib.tensor([0.5, -0.25], requires_grad=True)
        opt = lib.optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.05}], lr=0.1, **kw)
        x = lib.tensor([[1., 2., 3.], [0.5, -1., 2.]])
        for _ in range(5):
            opt.zero_grad()
            ((x @ w.t() + b) ** 2).mean().backward()
            opt.step()
        return w.tolist(), b.tolist(), repr(opt), opt.state_dict()["param_groups"]

    for kw in [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True},
               {"momentum": 0.5, "dampening": 0.1, "weight_decay": 0.01}, {"maximize": True, "momentum": 0.3}]:
        got, want = run(tape, **kw), run(torch, **kw)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-6, atol=1e-7)
        assert got[2:] == want[2:]


def _reference_adam(steps, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
                    decoupled=False):
    """The Adam/AdamW update PyTorch documents, in numpy float64, on the quadratic of ``_quadratic_steps``."""
    w = np.array([1.0, -2.0, 0.5])
    c = np.array([0.25, 0.5, -1.0])
    k = np.array([1.0, 2.0, 3.0])
    m = np.zeros(3)
    v = np.zeros(3)
    vmax = np.zeros(3)
    out = []
    for t in range(1, steps + 1):
        g = 2 * (w - c) * k
        if maximize:
            g = -g
        if weight_decay:
            if decoupled:
                w = w * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * w
        m = m + (g - m) * (1 - betas[0])
        v = v * betas[1] + (1 - betas[1]) * g * g
        vmax = np.maximum(vmax, v)
        denom = np.sqrt(vmax if amsgrad else v) / math.sqrt(1 - betas[1] ** t) + eps
        w = w - lr / (1 - betas[0] ** t) * m / denom
        out.append(w.tolist())
    return out


@pytest.mark.parametrize("cls", ["Adam", "AdamW"])
@pytest.mark.parametrize("options", [{}, {"amsgrad": True}, {"weight_decay": 0.1}, {"maximize": True},
                                     {"betas": (0.8, 0.99), "eps": 1e-3, "amsgrad": True, "weight_decay": 0.05},
                                     {"fused": True}, {"foreach": True}])
def test_adam_follows_pytorchs_update(cls, options):
    ref = {k: v for k, v in options.items() if k not in ("foreach", "fused")}
    if cls == "AdamW":
        ref.setdefault("weight_decay", 1e-2)
    got = _quadratic_steps(lambda p: getattr(tape.optim, cls)(p, lr=0.05, **options), 6)
    want = _reference_adam(6, 0.05, decoupled=cls == "AdamW", **ref)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_adam_state():
    w = tape.tensor([1.0, 2.0], requires_grad=True)
    opt = tape.optim.Adam([w], amsgrad=True)
    (w * w).sum().backward()
    opt.step()
    opt.step()
    state = opt.state[w]
    assert sorted(state) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]
    assert state["step"].dtype == tape.float32 and state["step"].dim() == 0 and state["step"].item() == 2.0
    tape.set_default_dtype(tape.float64)
    try:
        v = tape.tensor([1.0], requires_grad=True)
        o = tape.optim.Adam([v])
        v.sum().backward()
        o.step()
        assert o.state[v]["step"].dtype == tape.float64
        o = tape.optim.Adam([v], fused=True)
        o.step()
        assert o.state[v]["step"].dtype == tape.float32     # (fused keeps the step in float32)
    finally:
        tape.set_default_dtype(tape.float32)


def test_adam_tensor_hyperparameters():
    def run(**kw):
        w = tape.tensor([1.0, -2.0, 0.5], dtype=tape.float64, requires_grad=True)
        opt = tape.optim.Adam([w], **kw)
        for _ in range(3):
            opt.zero_grad()
            (w * w).sum().backward()
            opt.step()
        return w.tolist()

    f64 = tape.float64
    assert run(lr=tape.tensor(0.1, dtype=f64)) == run(lr=tape.tensor([0.1], dtype=f64)) == run(lr=0.1)
    np.testing.assert_allclose(run(betas=(tape.tensor(0.8, dtype=f64), tape.tensor(0.9, dtype=f64))),
                               run(betas=(0.8, 0.9)), rtol=1e-15)
    # (a float32 learning rate makes the step size a float32 number, as in PyTorch)
    assert run(lr=tape.tensor(0.1)) != run(lr=0.1)


def test_adam_differentiable_step_is_recorded():
    lr = tape.tensor(0.1, requires_grad=True)
    base = tape.tensor([1.0, -2.0, 3.0], dtype=tape.float64, requires_grad=True)
    p = base * 1.0
    p.retain_grad()
    opt = tape.optim.Adam([p], lr=lr, differentiable=True)
    p.grad = tape.tensor([0.5, -1.0, 2.0], dtype=tape.float64)
    opt.step()
    assert p.grad_fn.name() == "AddcdivBackward0"
    g_lr, g_base = tape.autograd.grad(p.sum(), (lr, base))
    # one Adam step moves each element by lr * g / (|g| + eps'): d/dlr of the sum is about -(1 - 1 + 1)
    # (PyTorch 2.13's value, the float32 learning rate's)
    assert math.isclose(g_lr.item(), -0.9999933242797852, rel_tol=1e-6) and g_base.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("kwargs,error,message", [
    ({"lr": -1}, ValueError, "Invalid learning rate: -1"),
    ({"eps": -1}, ValueError, "Invalid epsilon value: -1"),
    ({"betas": (1.0, 0.9)}, ValueError, "Invalid beta parameter at index 0: 1.0"),
    ({"betas": (0.9, -0.1)}, ValueError, "Invalid beta parameter at index 1: -0.1"),
    ({"weight_decay": -1}, ValueError, "Invalid weight_decay value: -1"),
    ({"betas": (0, 0)}, ValueError, "betas must be either both floats or both Tensors"),
    ({"lr": tape.tensor(0.1), "foreach": True}, ValueError,
     r"lr as a Tensor is not supported for capturable=False and foreach=True"),
    ({"fused": True, "differentiable": True}, RuntimeError, "`fused` does not support `differentiable`"),
    ({"fused": True, "foreach": True}, RuntimeError, r"`fused` and `foreach` cannot be `True` together\."),
])
def test_adam_argument_errors(kwargs, error, message):
    with pytest.raises(error, match=f"^{message}$"):
        tape.optim.Adam([tape.zeros(1, requires_grad=True)], **kwargs)


def test_adam_capturable_and_fused_checks_at_step():
    w = tape.zeros(2, requires_grad=True)
    opt = tape.optim.Adam([w], capturable=True)
    w.grad = tape.ones(2)
    with pytest.raises(AssertionError, match=r"If capturable=True, params and state_steps must be on supported "
                                             r"devices: \['cuda', 'xpu', 'hpu', 'privateuseone', 'xla'\]\."):
        opt.step()
    i = tape.zeros(2, dtype=tape.int64)
    opt = tape.optim.Adam([i], fused=True)
    i.grad = tape.ones(2, dtype=tape.int64)
    with pytest.raises(RuntimeError, match="^`fused=True` requires all the params to be floating point Tensors"):
        opt.step()


def test_adamw_is_adam_with_decoupled_weight_decay():
    opt = tape.optim.AdamW([tape.zeros(1, requires_grad=True)])
    assert opt.defaults["weight_decay"] == 1e-2 and opt.param_groups[0]["decoupled_weight_decay"] is True
    assert isinstance(opt, tape.optim.Adam)
    opt.__setstate__({"state": {}, "param_groups": [{**opt.param_groups[0], "decoupled_weight_decay": False}],
                      "defaults": opt.defaults})
    assert opt.param_groups[0]["decoupled_weight_decay"] is True


@pytest.mark.torch
@pytest.mark.parametrize("cls", ["Adam", "AdamW"])
def test_adam_matches_torch(cls):
    torch = pytest.importorskip("torch")

    def run(lib, **kw):
        w = lib.tensor(np.linspace(-1, 1, 6).reshape(2, 3).tolist(), requires_grad=True)
        b = lib.tensor([0.5, -0.25], requires_grad=True)
        opt = getattr(lib.optim, cls)([{"params": [w]}, {"params": [b], "lr": 0.05}], lr=0.1, **kw)
        x = lib.tensor([[1., 2., 3.], [0.5, -1., 2.]])
        for _ in range(6):
            opt.zero_grad()
            ((x @ w.t() + b) ** 2).mean().backward()
            opt.step()
        state = {k: (str(v.dtype), v.tolist()) for k, v in opt.state[w].items()}
        return w.tolist(), b.tolist(), repr(opt), state

    for kw in [{}, {"amsgrad": True}, {"weight_decay": 0.1}, {"maximize": True, "betas": (0.8, 0.99)}]:
        got, want = run(tape, **kw), run(torch, **kw)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-6, atol=2e-7)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-6, atol=2e-7)
        assert got[2] == want[2] and sorted(got[3]) == sorted(want[3])
        for k in want[3]:
            assert got[3][k][0] == want[3][k][0]
            np.testing.assert_allclose(got[3][k][1], want[3][k][1], rtol=1e-5, atol=1e-7)


def _reference_rmsprop(steps, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                       maximize=False):
    w = np.array([1.0, -2.0, 0.5])
    c = np.array([0.25, 0.5, -1.0])
    k = np.array([1.0, 2.0, 3.0])
    sq, gavg, buf = np.zeros(3), np.zeros(3), np.zeros(3)
    out = []
    for _ in range(steps):
        g = 2 * (w - c) * k
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * w
        sq = alpha * sq + (1 - alpha) * g * g
        if centered:
            gavg = gavg + (g - gavg) * (1 - alpha)
            avg = np.sqrt(sq - gavg * gavg) + eps
        else:
            avg = np.sqrt(sq) + eps
        if momentum > 0:
            buf = momentum * buf + g / avg
            w = w - lr * buf
        else:
            w = w - lr * g / avg
        out.append(w.tolist())
    return out


def _reference_adagrad(steps, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                       maximize=False):
    w = np.array([1.0, -2.0, 0.5])
    c = np.array([0.25, 0.5, -1.0])
    k = np.array([1.0, 2.0, 3.0])
    total = np.full(3, initial_accumulator_value)
    out = []
    for step in range(1, steps + 1):
        g = 2 * (w - c) * k
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * w
        clr = lr / (1 + (step - 1) * lr_decay)
        total = total + g * g
        w = w - clr * g / (np.sqrt(total) + eps)
        out.append(w.tolist())
    return out


@pytest.mark.parametrize("options", [{}, {"momentum": 0.9}, {"centered": True},
                                     {"centered": True, "momentum": 0.5, "weight_decay": 0.1, "alpha": 0.9},
                                     {"maximize": True}, {"foreach": True}])
def test_rmsprop_follows_pytorchs_update(options):
    ref = {k: v for k, v in options.items() if k != "foreach"}
    got = _quadratic_steps(lambda p: tape.optim.RMSprop(p, lr=0.01, **options), 6)
    np.testing.assert_allclose(got, _reference_rmsprop(6, 0.01, **ref), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("options", [{}, {"lr_decay": 0.1}, {"weight_decay": 0.1, "initial_accumulator_value": 0.5},
                                     {"maximize": True, "eps": 1e-3}, {"fused": True}])
def test_adagrad_follows_pytorchs_update(options):
    ref = {k: v for k, v in options.items() if k != "fused"}
    got = _quadratic_steps(lambda p: tape.optim.Adagrad(p, lr=0.1, **options), 6)
    np.testing.assert_allclose(got, _reference_adagrad(6, 0.1, **ref), rtol=1e-12, atol=1e-14)


def test_rmsprop_and_adagrad_state():
    w = tape.tensor([1.0, 2.0], requires_grad=True)
    rms = tape.optim.RMSprop([w], momentum=0.5, centered=True)
    assert len(rms.state) == 0      # (made at the first step)
    ada = tape.optim.Adagrad([w], initial_accumulator_value=0.25)
    assert sorted(ada.state[w]) == ["step", "sum"] and ada.state[w]["sum"].tolist() == [0.25, 0.25]
    (w * w).sum().backward()
    rms.step()
    assert sorted(rms.state[w]) == ["grad_avg", "momentum_buffer", "square_avg", "step"]
    assert rms.state[w]["step"].item() == 1.0 and rms.state[w]["step"].dtype == tape.float32


@pytest.mark.parametrize("cls,kwargs,message", [
    ("RMSprop", {"lr": -1}, "Invalid learning rate: -1"),
    ("RMSprop", {"eps": -1}, "Invalid epsilon value: -1"),
    ("RMSprop", {"momentum": -1}, "Invalid momentum value: -1"),
    ("RMSprop", {"weight_decay": -1}, "Invalid weight_decay value: -1"),
    ("RMSprop", {"alpha": -1}, "Invalid alpha value: -1"),
    ("Adagrad", {"lr_decay": -1}, "Invalid lr_decay value: -1"),
    ("Adagrad", {"initial_accumulator_value": -1}, "Invalid initial_accumulator_value value: -1"),
    ("Adagrad", {"eps": -1}, "Invalid epsilon value: -1"),
])
def test_rmsprop_adagrad_argument_errors(cls, kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        getattr(tape.optim, cls)([tape.zeros(1, requires_grad=True)], **kwargs)


@pytest.mark.torch
@pytest.mark.parametrize("cls,options", [("RMSprop", {"momentum": 0.9, "centered": True}), ("RMSprop", {}),
                                         ("Adagrad", {"lr_decay": 0.1, "weight_decay": 0.1}), ("Adagrad", {})])
def test_rmsprop_adagrad_match_torch(cls, options):
    torch = pytest.importorskip("torch")

    def run(lib):
        w = lib.tensor(np.linspace(-1, 1, 6).reshape(2, 3).tolist(), requires_grad=True)
        b = lib.tensor([0.5, -0.25], requires_grad=True)
        opt = getattr(lib.optim, cls)([{"params": [w]}, {"params": [b], "lr": 0.05}], lr=0.1, **options)
        x = lib.tensor([[1., 2., 3.], [0.5, -1., 2.]])
        for _ in range(6):
            opt.zero_grad()
            ((x @ w.t() + b) ** 2).mean().backward()
            opt.step()
        return w.tolist(), b.tolist(), repr(opt), sorted(opt.state[w])

    got, want = run(tape), run(torch)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-6)
    assert got[2:] == want[2:]


def _rosenbrock_closure(opt, x):
    def closure():
        opt.zero_grad()
        loss = (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
        loss.backward()
        return loss
    return closure


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_minimises_rosenbrock(line_search_fn):
    x = tape.tensor([-1.5, 2.0, 0.5], dtype=tape.float64, requires_grad=True)
    opt = tape.optim.LBFGS([x], line_search_fn=line_search_fn, max_iter=100 if line_search_fn else 20)
    closure = _rosenbrock_closure(opt, x)
    first = opt.step(closure)
    assert first.item() == pytest.approx(1238.5)       # (step returns the loss of its first evaluation)
    for _ in range(30):
        opt.step(closure)
    np.testing.assert_allclose(x.detach().numpy(), [1.0, 1.0, 1.0], atol=1e-4)
    state = opt.state[x]
    assert sorted(state) == ["H_diag", "al", "d", "func_evals", "n_iter", "old_dirs", "old_stps", "prev_flat_grad",
                             "prev_loss", "ro", "t"]
    assert state["func_evals"] >= state["n_iter"] > 0


def test_lbfgs_counts_and_history():
    x = tape.tensor([-1.5, 2.0, 0.5], dtype=tape.float64, requires_grad=True)
    opt = tape.optim.LBFGS([x], lr=0.5, history_size=3, max_iter=7)
    calls = []
    closure = _rosenbrock_closure(opt, x)
    opt.step(lambda: calls.append(tape.is_grad_enabled()) or closure())
    # (PyTorch 2.13's counts: one evaluation per iteration, the last iteration's step not evaluated)
    assert calls == [True] * 7 and opt.state[x]["n_iter"] == 7 and len(opt.state[x]["old_dirs"]) == 3
    np.testing.assert_allclose(x.tolist(), [-1.0416244276858826, 1.0417829622810915, 0.9617223726146974], rtol=1e-12)


def test_lbfgs_stops_at_a_minimum_and_checks_its_arguments():
    x = tape.tensor([1.0, 1.0], dtype=tape.float64, requires_grad=True)
    opt = tape.optim.LBFGS([x])
    n = []
    opt.step(lambda: n.append(1) or _rosenbrock_closure(opt, x)())
    assert n == [1] and x.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match=r"^LBFGS doesn't support per-parameter options \(parameter groups\)$"):
        tape.optim.LBFGS([{"params": [tape.zeros(1, requires_grad=True)]}, {"params": [tape.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="^Invalid learning rate: -1$"):
        tape.optim.LBFGS([x], lr=-1)
    w = tape.zeros(2, requires_grad=True)
    o = tape.optim.LBFGS([w], line_search_fn="armijo")
    with pytest.raises(RuntimeError, match="^only 'strong_wolfe' is supported$"):
        o.step(_rosenbrock_closure(o, w))
    assert tape.optim.LBFGS([w]).defaults["max_eval"] == 25


@pytest.mark.torch
@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_matches_torch(line_search_fn):
    torch = pytest.importorskip("torch")

    def run(lib):
        x = lib.tensor([-1.5, 2.0, 0.5], dtype=lib.float64, requires_grad=True)
        opt = lib.optim.LBFGS([x], line_search_fn=line_search_fn, history_size=5)
        closure = _rosenbrock_closure(opt, x)
        # (without a line search the iterates leave the valley chaotically: one step of 20 iterations)
        losses = [float(opt.step(closure).detach()) for _ in range(3 if line_search_fn else 1)]
        return losses, x.tolist(), opt.state[x]["func_evals"], opt.state[x]["n_iter"], repr(opt)

    got, want = run(tape), run(torch)
    # (Rosenbrock's valley amplifies last-bit differences of the sums and dot products)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-7)
    assert got[2:] == want[2:]


def _reference(kind, steps, lr, **o):
    """Adadelta, Adamax, NAdam and RAdam as PyTorch documents them, in numpy float64, on the quadratic of
    ``_quadratic_steps``."""
    w = np.array([1.0, -2.0, 0.5])
    c = np.array([0.25, 0.5, -1.0])
    k = np.array([1.0, 2.0, 3.0])
    b1, b2 = o.get("betas", (0.9, 0.999))
    wd, eps, maximize = o.get("weight_decay", 0.0), o.get("eps"), o.get("maximize", False)
    m, v, acc, mu_product = np.zeros(3), np.zeros(3), np.zeros(3), 1.0
    out = []
    for t in range(1, steps + 1):
        g = 2 * (w - c) * k
        g = -g if maximize else g
        if wd and o.get("decoupled_weight_decay"):
            w = w * (1 - lr * wd)
        elif wd:
            g = g + wd * w
        if kind == "Adadelta":
            rho = o.get("rho", 0.9)
            v = rho * v + (1 - rho) * g * g
            delta = np.sqrt(acc + eps) / np.sqrt(v + eps) * g
            acc = rho * acc + (1 - rho) * delta * delta
            w = w - lr * delta
        elif kind == "Adamax":
            m = m + (g - m) * (1 - b1)
            v = np.maximum(v * b2, np.abs(g) + eps)
            w = w - lr / (1 - b1 ** t) * m / v
        elif kind == "NAdam":
            decay = o.get("momentum_decay", 4e-3)
            mu = b1 * (1 - 0.5 * 0.96 ** (t * decay))
            mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * decay))
            mu_product = float(np.float32(mu_product * np.float32(mu)))     # (a float32 0-d tensor in the state)
            m = m + (g - m) * (1 - b1)
            v = b2 * v + (1 - b2) * g * g
            denom = np.sqrt(v / (1 - b2 ** t)) + eps
            w = w - lr * (1 - mu) / (1 - mu_product) * g / denom - lr * mu_next / (1 - mu_product * mu_next) * m / denom
        else:
            m = m + (g - m) * (1 - b1)
            v = b2 * v + (1 - b2) * g * g
            rho_inf = 2 / (1 - b2) - 1
            rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
            m_hat = m / (1 - b1 ** t)
            if rho_t > 5:
                rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                w = w - m_hat * lr * math.sqrt(1 - b2 ** t) / (np.sqrt(v) + eps) * rect
            else:
                w = w - m_hat * lr
        out.append(w.tolist())
    return out


@pytest.mark.parametrize("kind,options", [
    ("Adadelta", {}), ("Adadelta", {"rho": 0.5, "weight_decay": 0.1, "maximize": True}),
    ("Adamax", {}), ("Adamax", {"betas": (0.8, 0.9), "weight_decay": 0.1}),
    ("NAdam", {}), ("NAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True, "momentum_decay": 0.01}),
    ("RAdam", {}), ("RAdam", {"betas": (0.5, 0.6), "weight_decay": 0.1, "decoupled_weight_decay": True}),
])
def test_more_optimizers_follow_pytorchs_update(kind, options):
    defaults = {"Adadelta": 1e-6, "Adamax": 1e-8, "NAdam": 1e-8, "RAdam": 1e-8}
    got = _quadratic_steps(lambda p: getattr(tape.optim, kind)(p, lr=0.05, **options), 8)
    want = _reference(kind, 8, 0.05, eps=defaults[kind], **options)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_more_optimizers_state_and_errors():
    w = tape.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    states = {"Adadelta": ["acc_delta", "square_avg", "step"], "Adamax": ["exp_avg", "exp_inf", "step"],
              "NAdam": ["exp_avg", "exp_avg_sq", "mu_product", "step"], "RAdam": ["exp_avg", "exp_avg_sq", "step"]}
    for kind, keys in states.items():
        opt = getattr(tape.optim, kind)([w])
        opt.step()
        assert sorted(opt.state[w]) == keys and opt.state[w]["step"].item() == 1.0
        with pytest.raises(ValueError, match="^Invalid learning rate: -1$"):
            getattr(tape.optim, kind)([w], lr=-1)
        opt = getattr(tape.optim, kind)([w], capturable=True)
        with pytest.raises(AssertionError, match="^If capturable=True, "):
            opt.step()
    with pytest.raises(ValueError, match="^Invalid rho value: 2$"):
        tape.optim.Adadelta([w], rho=2)
    with pytest.raises(ValueError, match="^Invalid momentum_decay value: -1$"):
        tape.optim.NAdam([w], momentum_decay=-1)
    with pytest.raises(ValueError, match="^Invalid beta parameter at index 1: 1.0$"):
        tape.optim.RAdam([w], betas=(0.9, 1.0))


@pytest.mark.torch
@pytest.mark.parametrize("cls", ["Adadelta", "Adamax", "NAdam", "RAdam"])
def test_more_optimizers_match_torch(cls):
    torch = pytest.importorskip("torch")

    def run(lib):
        w = lib.tensor(np.linspace(-1, 1, 6).reshape(2, 3).tolist(), requires_grad=True)
        b = lib.tensor([0.5, -0.25], requires_grad=True)
        opt = getattr(lib.optim, cls)([{"params": [w]}, {"params": [b], "lr": 0.05}], lr=0.1, weight_decay=0.1)
        x = lib.tensor([[1., 2., 3.], [0.5, -1., 2.]])
        for _ in range(8):
            opt.zero_grad()
            ((x @ w.t() + b) ** 2).mean().backward()
            opt.step()
        return w.tolist(), b.tolist(), repr(opt), sorted(opt.state[w])

    got, want = run(tape), run(torch)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-6)
    assert got[2:] == want[2:]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cls,options", [
    ("SGD", {}), ("SGD", {"momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("SGD", {"momentum": 0.9, "nesterov": True, "maximize": True}), ("Adam", {}),
    ("Adam", {"amsgrad": True, "weight_decay": 0.1, "maximize": True}), ("AdamW", {"betas": (0.4, 0.9)}),
    ("AdamW", {"amsgrad": True, "betas": (0.6, 0.8)}),
])
def test_array_updates_equal_the_tensor_operations(cls, options, dtype, monkeypatch):
    # SGD's and Adam's steps on plain parameters run on their arrays (``optim/_fast.py``): the same values,
    # bit for bit, and the same versions as the in-place tensor operations they stand for
    import importlib
    fast = importlib.import_module("tape.optim._fast")

    def run(arrays: bool):
        if not arrays:
            monkeypatch.setattr(fast, "plain", lambda *ts: False)
        rng = np.random.default_rng(0)
        dt = getattr(tape, dtype)
        ps = [tape.tensor(rng.standard_normal(s), dtype=dt, requires_grad=True) for s in ((3, 4), (4,))]
        opt = getattr(tape.optim, cls)(ps, lr=0.05, **options)
        for _ in range(4):
            opt.zero_grad()
            (ps[0].sin().sum() + (ps[0] @ ps[1]).pow(2).sum()).backward()
            opt.step()
        monkeypatch.undo()
        state = {k: v.numpy().tobytes() if isinstance(v, tape.Tensor) else v
                 for p in ps for k, v in opt.state[p].items()}
        return [p.detach().numpy().tobytes() for p in ps], [p._version for p in ps], state

    assert run(True) == run(False)


def _reference_adafactor(w, grad_of, steps, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0,
                         maximize=False):
    """Adafactor as PyTorch documents it, in numpy float64: a vector's second moment whole, a matrix's as the
    means of the squares over its rows and columns."""
    eps1 = np.finfo(np.float64).eps if eps[0] is None else eps[0]
    row = np.zeros(w.shape[:-1] + (1,)) if w.ndim > 1 else None
    col = np.zeros(w.shape[:-2] + (1, w.shape[-1])) if w.ndim > 1 else None
    var = np.zeros_like(w)
    out = []
    for t in range(1, steps + 1):
        g = grad_of(w)
        g = -g if maximize else g
        beta = t ** beta2_decay
        alpha = max(eps[1], np.sqrt((w * w).sum()) / np.sqrt(w.size)) * min(lr, 1 / np.sqrt(t))
        w = w * (1 - lr * weight_decay)
        if w.ndim > 1:
            row = row + ((g * g).mean(-1, keepdims=True) - row) * beta
            col = col + ((g * g).mean(-2, keepdims=True) - col) * beta
            est = row @ col / np.maximum(row.mean(-2, keepdims=True), eps1)
        else:
            var = var + (g * g - var) * beta
            est = var
        update = g / np.sqrt(np.maximum(est, eps1 * eps1))
        w = w - alpha / max(1.0, np.sqrt((update * update).sum()) / (np.sqrt(update.size) * d)) * update
        out.append(w.tolist())
    return out


@pytest.mark.parametrize("shape", [(3,), (2, 3)])
@pytest.mark.parametrize("options", [{}, {"lr": 0.05, "weight_decay": 0.1, "maximize": True},
                                     {"eps": (1e-20, 1e-2), "d": 2.0, "beta2_decay": -0.5}])
def test_adafactor_follows_pytorchs_update(shape, options):
    w0 = np.linspace(-1.0, 2.0, int(np.prod(shape))).reshape(shape)
    c = np.linspace(0.5, -0.5, w0.size).reshape(shape)

    def grad_of(w):
        return 2 * (w - c) * np.arange(1, w.size + 1).reshape(shape)

    w = tape.tensor(w0.tolist(), dtype=tape.float64, requires_grad=True)
    opt = tape.optim.Adafactor([w], **options)
    got = []
    for _ in range(6):
        opt.zero_grad()
        ((w - tape.tensor(c.tolist(), dtype=tape.float64)) ** 2
         * tape.arange(1, w0.size + 1, dtype=tape.float64).reshape(shape)).sum().backward()
        opt.step()
        got.append(w.tolist())
    np.testing.assert_allclose(got, _reference_adafactor(w0, grad_of, 6, **options), rtol=1e-12, atol=1e-14)
    keys = ["col_var", "row_var", "step"] if len(shape) > 1 else ["step", "variance"]
    assert sorted(opt.state[w]) == keys and opt.state[w]["step"].item() == 6.0


@pytest.mark.parametrize("kwargs,message", [
    ({"lr": -1}, "Learning rate should be >= 0 but is: -1"), ({"beta2_decay": 0.5}, "beta2_decay should be <= 0 but is: 0.5"),
    ({"eps": (-1, 1e-3)}, "epsilon1 should be >= 0 but is: -1"), ({"eps": (None, -1)}, "epsilon2 should be >= 0 but is: -1"),
    ({"d": 0.5}, "Clipping threshold d should be >= 1 but is: 0.5"),
    ({"weight_decay": -1}, "weight_decay should be >= 0 but is: -1"),
])
def test_adafactor_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        tape.optim.Adafactor([tape.ones(2, requires_grad=True)], **kwargs)


@pytest.mark.torch
def test_adafactor_matches_torch():
    torch = pytest.importorskip("torch")

    def run(lib):
        lib.manual_seed(0)
        m = lib.nn.Sequential(lib.nn.Linear(4, 6), lib.nn.Tanh(), lib.nn.Linear(6, 1))
        opt = lib.optim.Adafactor(m.parameters(), lr=lib.tensor(0.05), weight_decay=0.1)
        x, y = lib.randn(8, 4), lib.randn(8, 1)
        for _ in range(5):
            opt.zero_grad()
            ((m(x) - y) ** 2).mean().backward()
            opt.step()
        return [p.tolist() for p in m.parameters()], repr(opt), sorted(opt.state[m[0].weight])

    got, want = run(tape), run(torch)
    for a, b in zip(got[0], want[0]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert got[1:] == want[1:]


def _reference_asgd(steps, lr, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0):
    w = np.array([1.0, -2.0, 0.5])
    c = np.array([0.25, 0.5, -1.0])
    k = np.array([1.0, 2.0, 3.0])
    eta, mu, ax = float(np.float32(lr)), 1.0, np.zeros(3)      # (eta and mu: float32 0-d tensors in the state)
    out = []
    for t in range(1, steps + 1):
        g = 2 * (w - c) * k + weight_decay * w
        w = w * (1 - lambd * eta) - eta * g
        ax = ax + (w - ax) * mu if mu != 1 else w.copy()
        eta = float(np.float32(lr / ((1 + lambd * lr * t) ** alpha)))
        mu = float(np.float32(1 / max(1, t - t0)))
        out.append(w.tolist() + ax.tolist())
    return out


def _reference_rprop(steps, lr, etas=(0.5, 1.2), step_sizes=(1e-6, 50)):
    w = np.array([1.0, -2.0, 0.5])
    c = np.array([0.25, 0.5, -1.0])
    k = np.array([1.0, 2.0, 3.0])
    prev, size = np.zeros(3), np.full(3, lr)
    out = []
    for _ in range(steps):
        g = 2 * (w - c) * k
        s = np.sign(g * prev)
        factor = np.where(s > 0, etas[1], np.where(s < 0, etas[0], 1.0))
        size = np.clip(size * factor, *step_sizes)
        g = np.where(factor == etas[0], 0.0, g)
        w = w - np.sign(g) * size
        prev = g
        out.append(w.tolist())
    return out


@pytest.mark.parametrize("options", [{}, {"t0": 3, "lambd": 0.01, "alpha": 0.5, "weight_decay": 0.1}])
def test_asgd_follows_pytorchs_update(options):
    w = tape.tensor([1.0, -2.0, 0.5], dtype=tape.float64, requires_grad=True)
    c = tape.tensor([0.25, 0.5, -1.0], dtype=tape.float64)
    k = tape.tensor([1.0, 2.0, 3.0], dtype=tape.float64)
    opt = tape.optim.ASGD([w], lr=0.05, **options)
    got = []
    for _ in range(8):
        opt.zero_grad()
        ((w - c) ** 2 * k).sum().backward()
        opt.step()
        got.append(w.tolist() + opt.state[w]["ax"].tolist())
    np.testing.assert_allclose(got, _reference_asgd(8, 0.05, **options), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("options", [{}, {"etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2)}])
def test_rprop_follows_pytorchs_update(options):
    got = _quadratic_steps(lambda p: tape.optim.Rprop(p, lr=0.1, **options), 10)
    np.testing.assert_allclose(got, _reference_rprop(10, 0.1, **options), rtol=1e-12, atol=1e-14)


def test_asgd_rprop_errors():
    w = tape.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="^Invalid eta values: 1.5, 1.2$"):
        tape.optim.Rprop([w], etas=(1.5, 1.2))
    with pytest.raises(ValueError, match="^Invalid weight_decay value: -1$"):
        tape.optim.ASGD([w], weight_decay=-1)
    w.grad = tape.ones(2)
    with pytest.raises(AssertionError, match="^If capturable=True, params, mus, etas, and state_steps must be on"):
        tape.optim.ASGD([w], capturable=True).step()


@pytest.mark.torch
@pytest.mark.parametrize("cls", ["ASGD", "Rprop"])
def test_asgd_rprop_match_torch(cls):
    torch = pytest.importorskip("torch")

    def run(lib):
        w = lib.tensor(np.linspace(-1, 1, 6).reshape(2, 3).tolist(), requires_grad=True)
        b = lib.tensor([0.5, -0.25], requires_grad=True)
        opt = getattr(lib.optim, cls)([{"params": [w]}, {"params": [b], "lr": 0.05}], lr=0.1)
        x = lib.tensor([[1., 2., 3.], [0.5, -1., 2.]])
        for _ in range(8):
            opt.zero_grad()
            ((x @ w.t() + b) ** 2).mean().backward()
            opt.step()
        return w.tolist(), b.tolist(), repr(opt), sorted(opt.state[w])

    got, want = run(tape), run(torch)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-6)
    assert got[2:] == want[2:]
