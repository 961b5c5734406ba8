"""``tape.nn``'s modules against PyTorch's: reprs, state_dict keys, the values drawn after ``manual_seed``,
the nodes of ``Linear`` and the errors."""
from __future__ import annotations

import warnings
from collections import OrderedDict

import numpy as np
import pytest

import tape

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")


def _model(M):
    nn = M.nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh())
            self.heads = nn.ModuleList([nn.Linear(8, 2) for _ in range(2)] + [nn.Identity()])
            self.table = nn.ModuleDict(OrderedDict([("soft", nn.Softmax(dim=1)), ("log", nn.LogSoftmax(dim=-1))]))
            self.extra = nn.ParameterList([M.ones(2), M.zeros(3, dtype=M.float64)])
            self.named = nn.ParameterDict({"z": M.ones(1), "a": M.ones(2, 2)})
            self.misc = nn.Sequential(nn.Flatten(), nn.Unflatten(1, (2, 2)), nn.Threshold(0.1, 20.0),
                                      nn.Hardshrink(0.3), nn.PReLU(2), nn.Sigmoid(), nn.Softmax2d(), nn.Linear(3, 3, bias=False),
                                      nn.CosineSimilarity(), nn.PairwiseDistance(keepdim=True))
            self.register_buffer("running", M.zeros(3))
            self.register_buffer("scratch", M.zeros(3), persistent=False)

        def forward(self, x):
            h = self.body(x)
            return self.table["soft"](self.heads[0](h)) + self.heads[1](h)

    M.manual_seed(0)
    return Net()


def _np(t):
    return t.detach().numpy()


def test_model_repr_state_dict_and_seeded_values():
    ours, theirs = _model(tape), _model(torch)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    # tape's generator draws PyTorch's numbers: the same seed gives the same initial weights
    for (n, p), (m, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        assert n == m and p.dtype.itemsize == q.dtype.itemsize and np.array_equal(_np(p), _np(q)), n
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(_np(ours(tape.tensor(x))), _np(theirs(torch.tensor(x))), rtol=1e-5, atol=1e-6)
    assert repr(ours.state_dict()._metadata) == repr(theirs.state_dict()._metadata)


def _names(fn):
    """The node names of a graph, breadth first."""
    out, todo = [], [fn]
    while todo:
        f = todo.pop(0)
        if f is None:
            out.append(None)
            continue
        out.append(f.name().rsplit("::", 1)[-1])
        todo.extend(n[0] for n in f.next_functions)
    return out


@pytest.mark.parametrize("shape", [(2, 4), (4,), (5, 2, 4), (1, 1, 2, 4)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("input_grad", [True, False])
def test_linear_nodes_values_and_grads(shape, bias, input_grad):
    x = np.random.default_rng(1).standard_normal(shape)
    results = []
    for M in (tape, torch):
        M.manual_seed(3)
        lin = M.nn.Linear(4, 3, bias=bias, dtype=M.float64)
        xt = M.tensor(x, requires_grad=input_grad)
        y = lin(xt)
        y.sum().backward()
        results.append((_names(y.grad_fn), _np(y), _np(lin.weight.grad),
                        None if xt.grad is None else _np(xt.grad)))
    (na, ya, wa, xa), (nb, yb, wb, xb) = results
    assert na == nb
    np.testing.assert_allclose(ya, yb, rtol=1e-12)
    np.testing.assert_allclose(wa, wb, rtol=1e-12)
    assert (xa is None) == (xb is None) and (xa is None or np.allclose(xa, xb, rtol=1e-12))


def test_linear_non_contiguous_input_nodes_like_torch():
    """A non-contiguous input takes F.linear's matmul and in-place add, as PyTorch's."""
    x = np.random.default_rng(0).standard_normal((4, 2, 5))
    results = []
    for M in (tape, torch):
        M.manual_seed(0)
        lin = M.nn.Linear(4, 3, dtype=M.float64)
        y = lin(M.tensor(x).permute(2, 1, 0))
        y.sum().backward()
        results.append((_names(y.grad_fn), _np(y), _np(lin.weight.grad)))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1:], results[1][1:]):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def _hooked(M, hook, **kw):
    lin = M.nn.Linear(2, 2)
    lin.register_forward_pre_hook(hook, **kw)
    return lin


def _error(fn):
    try:
        fn()
    except Exception as e:
        return type(e), str(e)
    return None


@pytest.mark.parametrize("case", [
    lambda M: M.nn.Linear(4, 3)(M.ones(2, 5)),
    lambda M: M.nn.Linear(4, 3)(M.tensor(1.0)),
    lambda M: M.nn.Module()(M.ones(1)),
    lambda M: M.nn.Linear(2, 2).load_state_dict({"weight": M.ones(2, 3), "bias": M.ones(2), "x": M.ones(1)}),
    lambda M: M.nn.Linear(2, 2).load_state_dict({"weight": M.ones(2, 2)}),
    lambda M: M.nn.Linear(2, 2).load_state_dict({"weight": 3, "bias": M.ones(2)}),
    lambda M: M.nn.Linear(2, 2).load_state_dict([]),
    lambda M: setattr(M.nn.Linear(2, 2), "weight", M.ones(2, 2)),
    lambda M: setattr(M.nn.Sequential(M.nn.ReLU()), "0", 3),
    lambda M: M.nn.Linear(2, 2).register_buffer("weight", M.ones(1)),
    lambda M: M.nn.Linear(2, 2).register_buffer("b", 3),
    lambda M: M.nn.Linear(2, 2).register_parameter("a.b", None),
    lambda M: M.nn.Linear(2, 2).register_parameter("p", M.ones(1)),
    lambda M: M.nn.Linear(2, 2).add_module("", None),
    lambda M: M.nn.Linear(2, 2).get_submodule("a.b"),
    lambda M: M.nn.Linear(2, 2).get_parameter("nope"),
    lambda M: M.nn.Linear(2, 2).get_buffer("weight"),
    lambda M: M.nn.Linear(2, 2).set_submodule("", M.nn.ReLU()),
    lambda M: M.nn.Linear(2, 2).to(M.int32),
    lambda M: M.nn.Linear(2, 2).to("cuda"),
    lambda M: M.nn.Linear(2, 2).cuda(),
    lambda M: M.nn.Module(1),
    lambda M: M.nn.Module(a=1),
    lambda M: _hooked(M, lambda m, a, k: 3, with_kwargs=True)(M.ones(2)),
    lambda M: _hooked(M, lambda m, a, k: ((a[0],), {"x": 1}), with_kwargs=True)(M.ones(2)),
    lambda M: M.nn.Linear(2, 2).train("yes"),
    lambda M: M.nn.Linear(2, 2).nope,
    lambda M: M.nn.Sequential()[0],
    lambda M: M.nn.Sequential(M.nn.ReLU()) + 1,
    lambda M: M.nn.Sequential(M.nn.ReLU()) * -1,
    lambda M: M.nn.Sequential(M.nn.ReLU()) * 1.5,
    lambda M: M.nn.ModuleList().extend(3),
    lambda M: M.nn.ModuleList()[2],
    lambda M: M.nn.ModuleDict().update(3),
    lambda M: M.nn.ModuleDict().update([(1, 2, 3)]),
    lambda M: M.nn.ParameterList([M.ones(1)])(),
    lambda M: M.nn.ParameterDict()[3],
    lambda M: M.nn.ParameterDict().update([3]),
    lambda M: M.nn.Unflatten(1, [2, "a"]),
    lambda M: M.nn.Unflatten(1, 2),
    lambda M: M.nn.Parameter(M.ones(2, dtype=M.int64)),
    lambda M: M.Tensor._make_subclass(int, M.ones(1)),
    lambda M: M.Tensor._make_subclass(M.nn.Parameter, 2),
    lambda M: M.nn.init.calculate_gain("relu6"),
    lambda M: M.nn.init.calculate_gain("leaky_relu", "x"),
    lambda M: M.nn.init.xavier_normal_(M.ones(3)),
    lambda M: M.nn.init.kaiming_uniform_(M.ones(3, 3), mode="both"),
    lambda M: M.nn.init.eye_(M.ones(3, 3, 3)),
    lambda M: M.nn.init.orthogonal_(M.ones(3)),
])
def test_errors_match(case):
    ours, theirs = _error(lambda: case(tape)), _error(lambda: case(torch))
    assert theirs is not None and ours is not None
    assert ours[0] is theirs[0]
    assert ours[1].replace("tape.", "torch.") == theirs[1]


def test_parameter_and_subclass_like_torch():
    for M in (tape, torch):
        x = M.ones(2, 3)
        p = M.nn.Parameter(x)
        assert type(p * 2) is M.Tensor and type(p.detach()) is M.Tensor and type(p.data) is M.Tensor
        x.add_(1)
        assert p._version == 1
    assert repr(tape.nn.Parameter(tape.ones(2, 2))) == repr(torch.nn.Parameter(torch.ones(2, 2)))
    assert repr(tape.nn.Parameter(tape.ones(2), False)) == repr(torch.nn.Parameter(torch.ones(2), False))
    assert repr(tape.nn.Parameter()) == repr(torch.nn.Parameter())

    class Sub(tape.Tensor):
        pass

    class TorchSub(torch.Tensor):
        pass

    Sub.__name__ = TorchSub.__name__ = "Sub"
    assert repr(Sub(tape.ones(2, 3, requires_grad=True))) == repr(TorchSub(torch.ones(2, 3, requires_grad=True)))


def test_hooks_and_modes_like_torch():
    logs = []
    for M in (tape, torch):
        log = []
        M.manual_seed(0)
        m = M.nn.Sequential(M.nn.Linear(2, 2), M.nn.ReLU())
        m[0].register_forward_pre_hook(lambda mod, args: log.append(("pre", type(mod).__name__)))
        m[0].register_forward_hook(lambda mod, args, kw, out: log.append(("post", sorted(kw))), with_kwargs=True)
        m.register_forward_hook(lambda mod, args, out: out * 2, prepend=True)
        y = m(M.ones(1, 2))
        m.eval()
        log.append([mod.training for mod in m.modules()])
        m.zero_grad()
        y.sum().backward()
        m.zero_grad(set_to_none=False)
        log.append([p.grad.abs().sum().item() for p in m.parameters()])
        log.append(y.tolist())
        logs.append(log)
    assert logs[0] == logs[1]


def test_full_backward_hooks_like_torch():
    logs = []
    for M in (tape, torch):
        log = []

        class Scale(M.nn.Module):
            def forward(self, x, k, y):
                return x * k, y * 2, "tag"

        def tidy(gs):
            return [None if g is None else g.tolist() for g in gs]

        m = Scale()
        m.register_full_backward_pre_hook(lambda mod, go: log.append(("pre", tidy(go))))
        m.register_full_backward_hook(lambda mod, gi, go: log.append(("late", tidy(gi), tidy(go))))
        m.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 10, None, None), prepend=True)
        x = M.ones(2, requires_grad=True)
        a, b, _ = m(x, 3.0, M.ones(2))
        log.append((a.grad_fn.name(), b.requires_grad))
        (a * M.tensor([1.0, 2.0])).sum().backward()
        log.append(x.grad.tolist())
        frozen = M.nn.Linear(2, 2)
        frozen.register_full_backward_hook(lambda mod, gi, go: log.append(("frozen", tidy(gi), tidy(go))))
        with pytest.warns(UserWarning, match="Full backward hook is firing"):
            frozen(M.ones(1, 2)).sum().backward()
        logs.append(log)
    assert logs[0] == logs[1]


def test_state_dict_hooks_extra_state_and_buffers_like_torch():
    logs = []
    for M in (tape, torch):
        nn = M.nn
        log = []

        class WithExtra(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.lin = nn.Linear(2, 2)
                self.count = 0

            def get_extra_state(self):
                return {"count": self.count}

            def set_extra_state(self, state):
                self.count = state["count"]

        class OldStyle(nn.Module):
            def register_buffer(self, name, tensor):
                super().register_buffer(name, tensor)

        m = WithExtra()
        m.register_state_dict_pre_hook(lambda mod, prefix, keep_vars: log.append(("sd pre", prefix, keep_vars)))
        m.register_state_dict_post_hook(lambda mod, sd, prefix, meta: log.append(("sd post", list(sd), meta)))
        m.register_load_state_dict_pre_hook(lambda mod, sd, prefix, *rest: log.append(("load pre", sorted(sd))))
        m.register_load_state_dict_post_hook(lambda mod, keys: log.append(("load post", tuple(keys))))
        m.count = 7
        sd = m.state_dict()
        log.append((list(sd), sd["_extra_state"]))
        m.count = 0
        log.append(repr(m.load_state_dict(sd)))
        log.append(m.count)
        del sd["_extra_state"]
        log.append(repr(m.load_state_dict(sd, strict=False)))
        with pytest.warns(FutureWarning, match="Positional args are being deprecated"):
            log.append(list(m.state_dict(None, "p.")))
        old = OldStyle()
        old.b = nn.Buffer(M.ones(1))
        log.append(list(old.state_dict()))
        log.append(_error(lambda: setattr(old, "c", nn.Buffer(M.ones(1), persistent=False))))
        shared = nn.Linear(1, 1)
        seq = nn.Sequential(shared, shared)
        log.append([n for n, _ in seq.named_modules(remove_duplicate=False)])
        log.append([n for n, _ in seq.named_parameters(remove_duplicate=False)])
        log.append(len(list(seq.parameters())))
        logs.append(log)
    assert logs[0] == logs[1]


@pytest.mark.parametrize("norm_type", [2.0, 1, float("inf")])
def test_clip_grad_norm_like_torch(norm_type):
    results = []
    for M in (tape, torch):
        M.manual_seed(0)
        ps = [M.nn.Parameter(M.randn(3, 4)), M.nn.Parameter(M.randn(5, dtype=M.float64)),
              M.nn.Parameter(M.randn(2)), M.nn.Parameter(M.randn(2))]
        for p in ps[:3]:
            p.grad = M.randn(p.shape, dtype=p.dtype) * 3
        total = M.nn.utils.clip_grad_norm_(ps, 1.0, norm_type)
        results.append((total.item(), str(total.dtype), [p.grad.numpy().copy() for p in ps[:3]]))
    (ta, da, ga), (tb, db, gb) = results
    assert ta == tb and da == db and all(np.array_equal(x, y) for x, y in zip(ga, gb))


def _tutorial_runs(M, steps):
    """PyTorch's "Learning PyTorch with Examples" nn and custom-Module programs (MSELoss(reduction='sum') and
    the SGD step written out), from the same seed."""
    nn = M.nn
    M.manual_seed(0)
    x = M.linspace(-3.141592653589793, 3.141592653589793, 2000)
    y = M.sin(x)
    xx = x.unsqueeze(-1).pow(M.tensor([1, 2, 3]))
    model = nn.Sequential(nn.Linear(3, 1), nn.Flatten(0, 1))
    for _ in range(steps):
        loss = ((model(xx) - y) ** 2).sum()
        model.zero_grad()
        loss.backward()
        with M.no_grad():
            for param in model.parameters():
                param -= 1e-6 * param.grad

    class Polynomial3(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Parameter(M.randn(()))
            self.b = nn.Parameter(M.randn(()))
            self.c = nn.Parameter(M.randn(()))
            self.d = nn.Parameter(M.randn(()))

        def forward(self, x):
            return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

    poly = Polynomial3()
    for _ in range(steps):
        loss2 = ((poly(x) - y) ** 2).sum()
        poly.zero_grad()
        loss2.backward()
        with M.no_grad():
            # (the tutorial's optim.SGD(lr=1e-6) step written out: PyTorch's first optimizer step in a
            # process imports its compiler, ~2 s)
            for param in poly.parameters():
                param.add_(param.grad, alpha=-1e-6)
    return ([p.detach().numpy().copy() for p in model.parameters()] + [p.item() for p in poly.parameters()],
            [type(p).__name__ for p in model.parameters()], loss.item(), loss2.item())


def test_pytorch_tutorial_programs_run_alike():
    (ours, our_types, l1, l2), (theirs, their_types, m1, m2) = _tutorial_runs(tape, 20), _tutorial_runs(torch, 20)
    assert our_types == their_types == ["Parameter", "Parameter"]
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-4)
    assert l1 == pytest.approx(m1, rel=1e-4) and l2 == pytest.approx(m2, rel=1e-4)


def test_non_full_backward_hook_like_torch():
    logs = []
    for M in (tape, torch):
        M.manual_seed(0)
        log = []
        lin = M.nn.Linear(2, 3)
        lin.register_backward_hook(lambda m, gi, go: log.append(([None if g is None else g.tolist() for g in gi],
                                                                 [g.tolist() for g in go])))
        seq = M.nn.Sequential(M.nn.Linear(2, 2), M.nn.ReLU())
        seq.register_backward_hook(lambda m, gi, go: log.append([g.shape for g in gi]))
        with pytest.warns(FutureWarning) as record:
            lin(M.ones(1, 2)).sum().backward()
            seq(M.ones(1, 2, requires_grad=True)).sum().backward()
        log.append([str(w.message) for w in record])
        logs.append(log)
    assert logs[0] == logs[1]


def test_functional_call_per_sample_grads_and_ensembles_like_torch():
    results = []
    for M in (tape, torch):
        fn = __import__(f"{M.__name__}.func", fromlist=["func"])
        M.manual_seed(0)
        model = M.nn.Sequential(M.nn.Linear(3, 4), M.nn.Tanh(), M.nn.Linear(4, 1))
        params = {k: v.detach() for k, v in model.named_parameters()}
        x, y = M.randn(5, 3), M.randn(5, 1)

        def loss(p, x, y):
            return ((fn.functional_call(model, p, (x,)) - y) ** 2).mean()

        per_sample = fn.vmap(fn.grad(loss), in_dims=(None, 0, 0))(params, x.unsqueeze(1), y.unsqueeze(1))
        stacked, _ = fn.stack_module_state([M.nn.Linear(3, 2) for _ in range(4)])
        base = M.nn.Linear(3, 2)
        ensemble = fn.vmap(lambda p, x: fn.functional_call(base, p, (x,)), in_dims=(0, None))(stacked, x)
        results.append([v.detach().numpy().copy() for v in per_sample.values()] + [ensemble.detach().numpy()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fill", [
    lambda M, t: M.nn.init.uniform_(t, -2, 3), lambda M, t: M.nn.init.normal_(t, 1, 2),
    lambda M, t: M.nn.init.trunc_normal_(t), lambda M, t: M.nn.init.trunc_normal_(t, a=1.5, b=2.5),
    lambda M, t: M.nn.init.xavier_uniform_(t, gain=2), lambda M, t: M.nn.init.xavier_normal_(t),
    lambda M, t: M.nn.init.kaiming_uniform_(t, a=0.1, mode="fan_out"),
    lambda M, t: M.nn.init.kaiming_normal_(t, nonlinearity="relu"), lambda M, t: M.nn.init.sparse_(t, 0.4),
    lambda M, t: M.nn.init.eye_(t), lambda M, t: M.nn.init.dirac_(t.view(4, 3, 4), 2),
])
def test_init_draws_like_torch(fill):
    values = []
    for M in (tape, torch):
        M.manual_seed(7)
        values.append(fill(M, M.empty(12, 4)).numpy().copy())
    assert np.array_equal(*values)


def test_orthogonal_like_torch():
    values = []
    for M in (tape, torch):
        M.manual_seed(7)
        values.append(M.nn.init.orthogonal_(M.empty(6, 4, dtype=M.float64), gain=2).numpy().copy())
    np.testing.assert_allclose(*values, rtol=1e-12, atol=1e-14)


# --- activation, dropout and loss modules over nn.functional -----------------------------------------
_ACTIVATION_MODULES = [
    ("GELU", (), {}), ("GELU", ("tanh",), {}), ("SiLU", (), {}), ("Mish", (), {}), ("Softplus", (2.0, 1.0), {}),
    ("ELU", (0.5,), {}), ("CELU", (2.0,), {}), ("SELU", (), {}), ("LeakyReLU", (0.2,), {}), ("Hardtanh", (-0.5, 0.7), {}),
    ("ReLU6", (), {}), ("LogSigmoid", (), {}), ("Softsign", (), {}), ("Tanhshrink", (), {}), ("Softshrink", (0.3,), {}),
    ("Hardsigmoid", (), {}), ("Hardswish", (), {}), ("Softmin", (1,), {}), ("GLU", (), {}), ("GLU", (0,), {}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, args, kw", _ACTIVATION_MODULES)
def test_activation_modules_like_torch(name, args, kw, dtype):
    """Each module's repr, values, input grads and nodes, out of place and (where it takes it) in place."""
    x = np.random.default_rng(2).standard_normal((4, 6)) * 4
    inplace_too = "inplace" in getattr(torch.nn, name).__init__.__code__.co_varnames
    for inplace in (False, True) if inplace_too else (False,):
        results = []
        for M in (tape, torch):
            mod = getattr(M.nn, name)(*args, **kw, **({"inplace": True} if inplace else {}))
            leaf = M.tensor(x, dtype=getattr(M, dtype), requires_grad=True)
            y = mod(leaf * 1)
            y.backward(M.ones_like(y))
            results.append((repr(mod), _names(y.grad_fn), _np(y), _np(leaf.grad)))
        (ra, na, ya, ga), (rb, nb, yb, gb) = results
        assert ra == rb and na == nb
        tol = 1e-5 if dtype == "float32" else 1e-12
        np.testing.assert_allclose(ya, yb, rtol=tol, atol=tol)
        np.testing.assert_allclose(ga, gb, rtol=tol, atol=tol)


def test_dropout_module_like_torch():
    """Same seed, same mask; eval mode is the identity (the input itself, as PyTorch's)."""
    x = np.arange(1.0, 25.0).reshape(4, 6)
    results = []
    for M in (tape, torch):
        M.manual_seed(5)
        drop = M.nn.Dropout(0.3)
        leaf = M.tensor(x, requires_grad=True)
        y = drop(leaf)
        y.sum().backward()
        h = leaf.detach().clone()
        z = M.nn.Dropout(0.5, inplace=True)(h)
        drop.eval()
        e = drop(leaf)
        results.append((repr(drop), _names(y.grad_fn), _np(y), _np(leaf.grad), z is h, _np(z), e is leaf))
    for a, b in zip(*results, strict=True):
        assert np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b


def _loss_inputs(M, name, dtype):
    """The leaf, the loss's input made of it, and the target."""
    rng = np.random.default_rng(4)
    x = M.tensor(rng.standard_normal((5, 3)), dtype=dtype, requires_grad=True)
    if name in ("NLLLoss", "CrossEntropyLoss"):
        return x, x, M.tensor([0, 2, 1, 2, 0])
    if name == "BCELoss":
        return x, x.sigmoid(), M.tensor(rng.uniform(size=(5, 3)), dtype=dtype)
    if name == "SoftMarginLoss":
        return x, x, M.tensor(rng.choice([-1.0, 1.0], size=(5, 3)), dtype=dtype)
    return x, x, M.tensor(rng.uniform(size=(5, 3)), dtype=dtype)


_LOSS_MODULES = [
    ("MSELoss", {}), ("MSELoss", {"reduction": "none"}), ("L1Loss", {"reduction": "sum"}),
    ("SmoothL1Loss", {"beta": 0.5}),
    ("HuberLoss", {"delta": 0.5, "reduction": "sum"}), ("SoftMarginLoss", {}), ("NLLLoss", {"ignore_index": 1}),
    ("NLLLoss", {"weight": [1.0, 2.0, 0.5]}), ("CrossEntropyLoss", {"label_smoothing": 0.2}),
    ("CrossEntropyLoss", {"weight": [1.0, 2.0, 0.5], "reduction": "none"}), ("BCELoss", {"weight": [1.0, 2.0, 0.5]}),
    ("BCEWithLogitsLoss", {"pos_weight": [1.0, 3.0, 0.5]}), ("BCEWithLogitsLoss", {"weight": [2.0, 1.0, 1.0]}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, kw", _LOSS_MODULES)
def test_loss_modules_like_torch(name, kw, dtype):
    """Each loss module's repr, state dict (its weight buffers), value, input grad and nodes."""
    results = []
    for M in (tape, torch):
        dt = getattr(M, dtype)
        args = {k: M.tensor(v, dtype=dt) if isinstance(v, list) else v for k, v in kw.items()}
        mod = getattr(M.nn, name)(**args)
        leaf, x, t = _loss_inputs(M, name, dt)
        y = mod(x, t)
        y.backward(M.ones_like(y))
        results.append((repr(mod), list(mod.state_dict()), _names(y.grad_fn), _np(y), _np(leaf.grad)))
    (ra, sa, na, ya, ga), (rb, sb, nb, yb, gb) = results
    assert ra == rb and sa == sb and na == nb
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(ya, yb, rtol=tol, atol=tol)
    np.testing.assert_allclose(ga, gb, rtol=tol, atol=tol)


def _warned(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = fn()
    return out, [(x.category, str(x.message)) for x in w]


@pytest.mark.parametrize("case", [
    lambda M: M.nn.MSELoss(size_average=False).reduction,
    lambda M: M.nn.L1Loss(reduce=False).reduction,
    lambda M: M.nn.NLLLoss(None, True, -100, True).reduction,
    lambda M: M.nn.CrossEntropyLoss(size_average=True, reduce=False).reduction,
    lambda M: M.nn.BCEWithLogitsLoss(reduce=True).reduction,
    lambda M: M.nn.KLDivLoss(size_average=False).reduction,
    lambda M: (M.nn.NLLLoss2d(None, None, 1).ignore_index, repr(M.nn.NLLLoss2d(reduction="sum"))),
    lambda M: type("Sub", (M.nn.NLLLoss2d,), {})().reduction,
    lambda M: M.nn.PoissonNLLLoss(reduce=False).reduction,
    lambda M: M.nn.MarginRankingLoss(0.5, True, False).reduction,
    lambda M: M.nn.Hardtanh(min_value=-2.0, max_value=3.0).extra_repr(),
])
def test_module_deprecations_like_torch(case):
    assert _warned(lambda: case(tape)) == _warned(lambda: case(torch))


@pytest.mark.parametrize("case", [
    lambda M: M.nn.Dropout(1.5),
    lambda M: M.nn.Dropout(-0.1),
    lambda M: M.nn.Hardtanh(1.0, 1.0),
    lambda M: M.nn.ReLU6()(3),
    lambda M: M.nn.GELU("cubic")(M.ones(2)),
    lambda M: M.nn.GLU()(M.ones(3)),
    lambda M: M.nn.HuberLoss(delta="1"),
    lambda M: M.nn.MSELoss(reduction="avg")(M.ones(2), M.ones(2)),
    lambda M: M.nn.NLLLoss()(M.ones(2, 3), M.tensor([0, 3])),
    lambda M: M.nn.CrossEntropyLoss()(M.ones(2, 3), M.ones(3, 3)),
    lambda M: M.nn.BCELoss()(M.ones(2), M.ones(3)),
    lambda M: M.nn.GaussianNLLLoss(False),
    lambda M: M.nn.GaussianNLLLoss()(M.ones(2, 3), M.ones(2, 3), -M.ones(2, 3)),
    lambda M: M.nn.MarginRankingLoss()(M.ones(2), M.ones(3), M.ones(2)),
    lambda M: M.nn.KLDivLoss(reduction="avg")(M.ones(2), M.ones(2)),
])
def test_module_errors_like_torch(case):
    ours, theirs = _error(lambda: case(tape)), _error(lambda: case(torch))
    assert theirs is not None and ours is not None
    assert ours[0] is theirs[0]
    assert ours[1].replace("tape.", "torch.") == theirs[1]


def _more_loss_args(M, name, dtype):
    """The leaf and the loss's inputs made of it (positional, as ``forward`` takes them)."""
    rng = np.random.default_rng(6)
    x = M.tensor(rng.standard_normal((4, 3)), dtype=dtype, requires_grad=True)
    u = M.tensor(rng.uniform(0.1, 2.0, size=(4, 3)), dtype=dtype)
    if name == "KLDivLoss":
        return x, (x.log_softmax(1), u.softmax(1))
    if name == "PoissonNLLLoss":
        return x, (x, M.tensor(rng.integers(0, 5, size=(4, 3)), dtype=dtype))
    if name == "GaussianNLLLoss":
        return x, (x, u, u[:, :1] + 0.5)
    return x, (x, u, M.tensor(rng.choice([-1.0, 1.0], size=(4, 3)), dtype=dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, kw", [
    ("KLDivLoss", {"reduction": "batchmean"}), ("KLDivLoss", {"log_target": True, "reduction": "sum"}),
    ("PoissonNLLLoss", {}), ("PoissonNLLLoss", {"log_input": False, "full": True, "eps": 1e-6}),
    ("GaussianNLLLoss", {}), ("GaussianNLLLoss", {"full": True, "eps": 1e-3, "reduction": "none"}),
    ("MarginRankingLoss", {"margin": 0.3}), ("MarginRankingLoss", {"reduction": "none"}),
])
def test_more_loss_modules_like_torch(name, kw, dtype):
    """The losses whose ``forward`` takes other arguments: repr, value, input grad and nodes."""
    results = []
    for M in (tape, torch):
        mod = getattr(M.nn, name)(**kw)
        leaf, args = _more_loss_args(M, name, getattr(M, dtype))
        y = mod(*args)
        y.backward(M.ones_like(y))
        results.append((repr(mod), _names(y.grad_fn), _np(y), _np(leaf.grad)))
    (ra, na, ya, ga), (rb, nb, yb, gb) = results
    assert ra == rb and na == nb
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(ya, yb, rtol=tol, atol=tol)
    np.testing.assert_allclose(ga, gb, rtol=tol, atol=tol)
