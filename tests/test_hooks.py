"""Tensor hooks: ``register_hook`` (leaves and non-leaves, replacement, removal, order, create_graph)
and ``register_post_accumulate_grad_hook``.

Fixed expectations first; ``test_hook_scenarios_vs_torch`` (marker ``torch``) runs the same code
in PyTorch and compares what the hooks saw and the gradients.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import tape
from tape.utils.hooks import RemovableHandle


def test_hooks_fire_in_order_and_replace():
    log = []
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y * 3
    y.register_hook(lambda g: log.append(("y1", g.tolist())))
    h2 = y.register_hook(lambda g: g * 10)
    y.register_hook(lambda g: log.append(("y3", g.tolist())))
    x.register_hook(lambda g: log.append(("x", g.tolist())))
    x.register_post_accumulate_grad_hook(lambda t: log.append(("post", t.grad.tolist())))
    y.retain_grad()
    z.sum().backward(retain_graph=True)
    assert log == [("y1", [3.0, 3.0]), ("y3", [30.0, 30.0]), ("x", [60.0, 60.0]), ("post", [60.0, 60.0])]
    assert y.grad.tolist() == [30.0, 30.0] and x.grad.tolist() == [60.0, 60.0]
    log.clear()
    assert isinstance(h2, RemovableHandle)
    h2.remove()
    h2.remove()         # (a second remove does nothing)
    z.sum().backward()
    assert log == [("y1", [3.0, 3.0]), ("y3", [3.0, 3.0]), ("x", [6.0, 6.0]), ("post", [66.0, 66.0])]


def test_hook_on_a_tensor_without_grad():
    with pytest.raises(RuntimeError, match="^cannot register a hook on a tensor that doesn't require gradient$"):
        tape.ones(2).register_hook(print)
    x = tape.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="^cannot register a hook on a tensor that doesn't require gradient$"):
        x.detach().register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="^post accumulate grad hooks cannot be registered on non-leaf tensors$"):
        (x * 2).register_post_accumulate_grad_hook(print)


@pytest.mark.parametrize("returns, error, message", [
    (lambda g: tape.ones(3), RuntimeError, "hook '<lambda>' has changed the size of value"),
    (lambda g: g.double(), RuntimeError,
     "hook '<lambda>' has changed the type of value (was torch.FloatTensor got torch.DoubleTensor)"),
    (lambda g: 3, TypeError, "expected Variable, but hook returned 'int'"),
])
def test_bad_replacements(returns, error, message):
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(returns)
    with pytest.raises(error, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        y.sum().backward()
    y = x * 2       # the tape's codes were put back: a later backward works
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_removal_during_backward():
    log = []
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    w = y * 1
    handles = {}

    def first(g):
        log.append("first")
        handles["b"].remove()       # a hook of a tensor not reached yet: it does not fire

    handles["a"] = w.register_hook(first)
    handles["b"] = y.register_hook(lambda g: log.append("second"))
    w.sum().backward()
    assert log == ["first"]
    log.clear()
    y4 = x * 2
    hs = {}
    hs["a"] = y4.register_hook(lambda g: (log.append("a"), hs["b"].remove()) and None)
    hs["b"] = y4.register_hook(lambda g: log.append("b"))       # same tensor: already under way
    y4.sum().backward()
    assert log == ["a", "b"]


def test_a_hook_can_read_the_graph_meanwhile():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y * 3
    names = []
    z.register_hook(lambda g: names.append((type(y.grad_fn).__name__, repr(y))))
    y.register_hook(lambda g: None)     # (its row is reached later in the sweep)
    z.sum().backward()
    assert names == [("MulBackward0", "tensor([2., 4.], grad_fn=<MulBackward0>)")]


def test_handle_as_context_manager():
    log = []
    x = tape.tensor([1.0], requires_grad=True)
    y = x * 2
    with y.register_hook(lambda g: log.append("in")):
        pass
    y.backward()
    assert log == []


def test_hook_registered_after_use_sees_the_whole_gradient():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    w = x * 2
    q = (w * w).sum()
    seen = []
    w.register_hook(lambda g: seen.append(g.tolist()) or g * 0)
    q.backward()
    assert seen == [[4.0, 8.0]] and x.grad.tolist() == [0.0, 0.0]


def test_hooks_on_seed_and_on_outputs_of_several():
    x = tape.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g * 2)
    y.backward(tape.ones(3))
    assert x.grad.tolist() == [4.0, 4.0, 4.0]
    x.grad = None
    a, b, c = (x * 1).unbind()
    b.register_hook(lambda g: g + 100)
    (a * b * c).backward()
    assert x.grad.tolist() == [6.0, 103.0, 2.0]


def test_hook_on_the_fast_scalar_path():
    t = tape.tensor(2.0, dtype=tape.float64, requires_grad=True)
    u = t * t
    u.register_hook(lambda g: g * 3)
    (u.sin() + u).backward()
    assert abs(t.grad.item() - 3 * (np.cos(4.0) + 1) * 4.0) < 1e-12


def test_hooks_under_create_graph_see_recorded_gradients():
    x = tape.tensor([1.0, 2.0], dtype=tape.float64, requires_grad=True)
    y = x ** 3
    y.register_hook(lambda g: g * x)
    g, = tape.autograd.grad(y.sum(), x, create_graph=True)
    h, = tape.autograd.grad(g.sum(), x)
    assert g.tolist() == [3.0, 24.0] and h.tolist() == [9.0, 36.0]
    seen = []
    z = x * 1
    z.register_hook(lambda g: seen.append(g.requires_grad))
    g, = tape.autograd.grad((z * x).sum(), x, create_graph=True)
    assert seen == [True] and g.requires_grad


def test_autograd_grad_of_a_hooked_non_leaf_and_leaf():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = (y * 3).sum()
    y.register_hook(lambda g: g + 1)
    x.register_hook(lambda g: g * 10)
    gy, = tape.autograd.grad(z, y, retain_graph=True)
    gx, = tape.autograd.grad(z, x, retain_graph=True)
    assert gy.tolist() == [4.0, 4.0] and gx.tolist() == [80.0, 80.0]
    g1, g2 = tape.autograd.grad(z, (x, x))
    assert g1.tolist() == g2.tolist() == [80.0, 80.0]


def test_hooks_with_a_custom_function_and_jacobian():
    x = tape.tensor([1.0, 2.0], dtype=tape.float64, requires_grad=True)
    calls = []
    y = _Double.apply(x)
    y.register_hook(lambda g: calls.append(1) or g * 3)
    (y * y).sum().backward()
    assert x.grad.tolist() == [24.0, 48.0] and calls == [1]

    def f(x):
        y = x * x
        y.register_hook(lambda g: calls.append(2) or g * 2)
        return y.sin()

    J = tape.autograd.functional.jacobian(f, x)
    np.testing.assert_allclose(J.numpy(), np.diag(4 * x.detach().numpy() * np.cos(x.detach().numpy() ** 2)))
    assert calls.count(2) == 2      # one backward per output element, each running the hook


def test_leaf_hooks_fire_when_its_gradient_is_complete():
    log = []
    a = tape.tensor(1.0, requires_grad=True)
    b = tape.tensor(2.0, requires_grad=True)
    w = tape.tensor(2.0, requires_grad=True)
    c = a * b
    d = c.exp() + w
    for t, name in ((a, "a"), (b, "b"), (w, "w"), (c, "c")):
        t.register_hook(lambda g, name=name: log.append(name))
    d.backward()
    assert log == ["w", "c", "a", "b"]      # PyTorch's order: w is ready first; a and b together


def test_leaf_over_two_tapes_gets_its_hooks_once_on_the_total():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    (tape.ones(1, requires_grad=True) * 1).sum().backward()     # the thread moves on to another tape
    y = h + x * 3
    assert y._tape is not h._tape
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()) or g * 2)
    y.sum().backward()
    assert seen == [[5.0, 5.0]] and x.grad.tolist() == [10.0, 10.0]


def test_node_hooks_and_prehooks():
    log = []
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    w = tape.tensor([3.0, 4.0])
    y = x * w
    z = y.sin()
    y.register_hook(lambda g: log.append("tensor"))
    y.grad_fn.register_prehook(lambda go: log.append(("pre", len(go))))
    y.grad_fn.register_hook(lambda gi, go: log.append(("post", gi[1] is None, gi[0].tolist(), go[0].tolist())))
    h = y.grad_fn.register_prehook(lambda go: (go[0] * 2,))
    y.grad_fn.register_hook(lambda gi, go: (gi[0] + 1, None))
    y.retain_grad()
    z.sum().backward(retain_graph=True)
    g = np.cos([3.0, 8.0])
    assert log[:2] == ["tensor", ("pre", 1)] and log[2][:2] == ("post", True)
    np.testing.assert_allclose(log[2][2], 2 * g * [3.0, 4.0], rtol=1e-6)      # after the pre-hook's doubling
    np.testing.assert_allclose(log[2][3], 2 * g, rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), 2 * g * [3.0, 4.0] + 1, rtol=1e-6)
    np.testing.assert_allclose(y.grad.numpy(), g, rtol=1e-6)        # retain_grad captures before node pre-hooks
    h.remove()
    x.grad = None
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), g * [3.0, 4.0] + 1, rtol=1e-6)


@pytest.mark.parametrize("hook, error, message", [
    (lambda gi, go: 3, TypeError, "expected tuple, but hook returned 'int'"),
    (lambda gi, go: (gi[0], gi[0]), RuntimeError, "can't replace a None gradient with a non-None value"),
    (lambda gi, go: (gi[0],), RuntimeError, "hook '<lambda>' has returned an incorrect number of values (got 1, but "
                                            "expected 2)"),
    (lambda gi, go: (tape.ones(3), None), RuntimeError, "hook '<lambda>' has changed the size of value"),
])
def test_node_hook_errors(hook, error, message):
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    a.grad_fn.register_hook(hook)
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        a.sum().backward()


def test_node_hooks_under_create_graph_and_on_functions():
    x = tape.tensor([1.0, 2.0], dtype=tape.float64, requires_grad=True)
    y = x ** 3
    y.grad_fn.register_hook(lambda gi, go: (gi[0] * x,))
    g, = tape.autograd.grad(y.sum(), x, create_graph=True)
    h, = tape.autograd.grad(g.sum(), x)
    assert g.tolist() == [3.0, 24.0] and h.tolist() == [9.0, 36.0]

    class Twice(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * 2, None

    seen = []
    y = Twice.apply(x, 2)
    y.grad_fn.register_prehook(lambda go: (go[0] * 10,))
    y.grad_fn.register_hook(lambda gi, go: seen.append(len(gi)))
    y.sum().backward()
    assert x.grad.tolist() == [20.0, 20.0] and seen == [1]


def test_multi_grad_hook_all():
    log = []
    a = tape.rand(2, 3, requires_grad=True)
    b = tape.rand(2, 3, requires_grad=True)
    c = a * b
    d = a * b
    h = tape.autograd.graph.register_multi_grad_hook((a, b, c, d), lambda grads: log.append([g is not None for g in grads]))
    c.sum().backward(retain_graph=True)
    c.sum().backward(inputs=(a,), retain_graph=True)
    (c.sum() + d.sum()).backward(retain_graph=True)
    assert log == [[True, True, True, False], [True, False, True, False], [True, True, True, True]]
    h.remove()
    c.sum().backward()
    assert len(log) == 3


def test_multi_grad_hook_all_fires_at_the_last_gradient():
    log = []
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y * 3
    tape.autograd.graph.register_multi_grad_hook((y, z), lambda grads: log.append(("all", [g.tolist() for g in grads])))
    x.register_hook(lambda g: log.append("x"))
    z.sum().backward()
    assert log == [("all", [[3.0, 3.0], [1.0, 1.0]]), "x"]


def test_multi_grad_hook_any_and_errors():
    log = []
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = x * 3
    tape.autograd.graph.register_multi_grad_hook((y, z, tape.ones(2)), lambda g: log.append(g.tolist()), mode="any")
    (y * z).sum().backward(retain_graph=True)
    (y * z).sum().backward()
    assert log == [[2.0, 4.0], [2.0, 4.0]]
    with pytest.raises(ValueError, match=re.escape("Expects mode to be one of ('all', 'any') but got foo")):
        tape.autograd.graph.register_multi_grad_hook((y,), print, mode="foo")
    with pytest.raises(AssertionError, match="^Expected gradient function to be set$"):
        tape.autograd.graph.register_multi_grad_hook((y, tape.ones(2)), print)


def _scenarios():
    def node_hooks(lib, log):
        a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        c = lib.cat([a, a * 2])
        c.grad_fn.register_hook(lambda gi, go: log.append(("cat", len(gi))) or (gi[0] * 0, gi[1]))
        u, v, w = (a * 1).unbind()
        u.grad_fn.register_prehook(lambda go: log.append([None if g is None else g.tolist() for g in go]))
        ((c * c).sum() + u * 3).backward()
        return [a.grad]

    def order(lib, log):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        z = y * 3
        y.register_hook(lambda g: log.append(("y1", g.tolist())))
        y.register_hook(lambda g: g * 10)
        x.register_hook(lambda g: log.append(("x", g.tolist())))
        x.register_post_accumulate_grad_hook(lambda t: log.append(("post", t.grad.tolist())))
        y.retain_grad()
        z.sum().backward()
        return [x.grad, y.grad]

    def leaves_and_nonleaf(lib, log):
        a = lib.tensor(1.0, dtype=lib.float64, requires_grad=True)
        b = lib.tensor(2.0, dtype=lib.float64, requires_grad=True)
        c = a * b
        d = c.exp() + b
        a.register_hook(lambda g: log.append("a"))
        b.register_hook(lambda g: log.append("b"))
        c.register_hook(lambda g: log.append("c"))
        d.backward()
        return [a.grad, b.grad]

    def leaf_used_last_fires_first(lib, log):
        a = lib.tensor(1.0, requires_grad=True)
        w = lib.tensor(2.0, requires_grad=True)
        c = a * 3
        d = c.exp() + w
        a.register_hook(lambda g: log.append("a"))
        w.register_hook(lambda g: log.append("w"))
        c.register_hook(lambda g: log.append("c"))
        w.register_post_accumulate_grad_hook(lambda t: log.append("w post"))
        d.backward()
        return [w.grad]

    def inputs_only(lib, log):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x.sin()
        z = (y * y).sum()
        y.register_hook(lambda g: log.append("yin") or g * 0)
        z.backward(inputs=[y])
        return [y.grad, x.grad]

    def retained_twice(lib, log):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 3
        y.register_hook(lambda g: log.append("r"))
        s = y.sum()
        s.backward(retain_graph=True)
        s.backward()
        return [x.grad]

    def create_graph(lib, log):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        x.register_hook(lambda g: log.append(g.requires_grad) or g * 2)
        g, = lib.autograd.grad((x ** 2).sum(), x, create_graph=True)
        h, = lib.autograd.grad(g.sum(), x)
        return [g, h]

    def float64_leaf_replaced(lib, log):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        x.register_hook(lambda g: g * 0 + 7)
        (x * 2).sum().backward()
        (x * 2).sum().backward()
        return [x.grad]

    def multi_all(lib, log):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        z = y * 3
        w = x * 5
        lib.autograd.graph.register_multi_grad_hook((y, z, w), lambda gs: log.append([None if g is None else g.tolist() for g in gs]))
        x.register_hook(lambda g: log.append("x"))
        (z.sum() + w.sum()).backward()
        return [x.grad]

    def changed_in_place(lib, log):
        # PyTorch's rules: a recorded in-place op gives the tensor a new node (hooks registered after it
        # see the gradient w.r.t. the new value, earlier ones keep theirs); one under no_grad keeps the node.
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a = x * 1
        a.register_hook(lambda g: log.append(("a before", g.tolist())))
        a.mul_(3)
        a.register_hook(lambda g: log.append(("a after", g.tolist())))
        b = x * 1
        b.register_hook(lambda g: log.append(("b before", g.tolist())))
        with lib.no_grad():
            b.mul_(3)
        b.register_hook(lambda g: log.append(("b after", g.tolist())) or g * 10)
        (a * a).sum().backward()
        (b * b + b).sum().backward()
        return [x.grad]

    return dict(changed_in_place=changed_in_place, multi_all=multi_all, node_hooks=node_hooks, order=order, leaves_and_nonleaf=leaves_and_nonleaf, leaf_used_last_fires_first=leaf_used_last_fires_first, inputs_only=inputs_only,
                retained_twice=retained_twice, create_graph=create_graph, float64_leaf_replaced=float64_leaf_replaced)


def _plain(v, lib):
    if isinstance(v, lib.Tensor):
        return (str(v.dtype).split(".")[1], tuple(v.shape), v.detach().numpy().tolist(), v.requires_grad)
    if isinstance(v, (list, tuple)):
        return [_plain(e, lib) for e in v]
    return v


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(_scenarios()))
def test_hook_scenarios_vs_torch(name):
    torch = pytest.importorskip("torch")
    runs = []
    for lib in (torch, tape):
        log = []
        out = _scenarios()[name](lib, log)
        runs.append((_plain(out, lib), log))
    assert runs[1] == runs[0]


def test_hooked_row_that_saves_nothing_is_swept_twice():
    # (the code a hooked row takes during a sweep once was an op's, which saves values)
    x = tape.ones(3, requires_grad=True)
    y = x + 1
    y.register_hook(lambda g: None)
    y.sum().backward()
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_hook_of_an_output_that_got_no_gradient_sees_none():
    x = tape.tensor([1.0, 2.0, 3.0], requires_grad=True)
    parts = x.unbind()
    seen = []
    parts[0].register_hook(lambda g: seen.append(None if g is None else g.tolist()))
    parts[0].backward()
    parts[2].backward()
    assert seen == [1.0, None]
    assert x.grad.tolist() == [1.0, 0.0, 1.0]


def test_accumulate_grad_node_hooks_run_after_the_tensor_hooks():
    log = []
    a = tape.tensor(1.0, requires_grad=True)
    b = a.clone()
    acc = b.grad_fn.next_functions[0][0]
    acc.register_prehook(lambda gs: (log.append(("pre", gs[0].item())), (gs[0] * 2,))[1])
    a.register_hook(lambda g: (log.append(("tensor", g.item())), g * 3)[1])
    a.register_post_accumulate_grad_hook(lambda t: (log.append(("post", t.grad.item())), t.grad.add_(0.5), None)[2])
    acc.register_hook(lambda gi, go: log.append(("node_post", len(gi), go[0].item())))
    b.backward()
    # the node's post hook gets the .grad the post-accumulate hook changed (PyTorch's first
    # gradient becomes .grad itself)
    assert log == [("tensor", 1.0), ("pre", 3.0), ("post", 6.0), ("node_post", 0, 6.5)]
    assert a.grad.item() == 6.5


def test_function_node_prehook_sees_every_output():
    class F(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k, k, x * 2

        @staticmethod
        def backward(ctx, g1, gk, g2):
            return g1 * 3 + g2 * 2, None

    x = tape.tensor([1.0, 2.0], requires_grad=True)
    c, _, d = F.apply(x, 3)
    got = []

    def prehook(gs):
        got.append([None if g is None else g.tolist() for g in gs])
        return gs[0] * 2, None, gs[2]

    c.grad_fn.register_prehook(prehook)
    (c + d).sum().backward()
    assert got == [[[1.0, 1.0], None, [1.0, 1.0]]]
    assert x.grad.tolist() == [8.0, 8.0]


def test_post_accumulate_grad_hook_must_return_none():
    t = tape.rand(2, requires_grad=True)
    t.register_post_accumulate_grad_hook(lambda t: t.grad)
    with pytest.raises(RuntimeError, match="^Tensor post accumulate grad hooks should return None.$"):
        t.sum().backward()


def test_hook_of_a_tensor_only_an_undefined_gradient_reaches():
    # PyTorch runs the tensor's node with an undefined gradient: its hooks are called with None
    # (once, and only when no gradient reaches it by another path).
    seen = []
    x = tape.ones(2, requires_grad=True)
    y = x.clone()
    y.register_hook(lambda g: seen.append(None if g is None else g.tolist()))
    tape._C._functions.UndefinedGrad()(y).sum().backward()
    assert seen == [None] and x.grad is None
    y = x * 1
    y.register_hook(lambda g: seen.append(None if g is None else g.tolist()))
    (tape._C._functions.UndefinedGrad()(y).sum() + y.sum()).backward()
    assert seen == [None, [1.0, 1.0]] and x.grad.tolist() == [1.0, 1.0]
    y = x * 1
    y.register_hook(lambda g: seen.append(None if g is None else g.tolist()))
    assert tape.autograd.grad(tape._C._functions.UndefinedGrad()(y).sum(), x, create_graph=True,
                              allow_unused=True) == (None,)
    assert seen == [None, [1.0, 1.0], None]


def test_hooks_on_a_view_before_it_is_changed_in_place_do_not_fire():
    # (PyTorch's test_tensor_hooks_inplace_over_view: the change's node sends the gradient to the
    # base's, past the view's old node; a hook registered on the other view once its grad_fn was
    # re-derived fires)
    log = []
    base = tape.tensor([1.0], requires_grad=True).clone()
    view = base[:]
    view2 = base[:]
    view.register_hook(lambda g: log.append(("view", g.tolist())))
    view2.register_hook(lambda g: log.append(("view2 before", g.tolist())))
    view.mul_(2)
    view2.grad_fn
    view2.register_hook(lambda g: log.append(("view2", g.tolist())))
    after = view.register_hook(lambda g: log.append(("view after", g.tolist())))
    (view + view2).sum().backward()
    assert sorted(log) == [("view after", [1.0]), ("view2", [1.0])]
    after.remove()
    # (a tensor that is no view keeps its hooks through an in-place change, as PyTorch's)
    log.clear()
    b = tape.tensor([1.0], requires_grad=True).clone()
    b.register_hook(lambda g: log.append(("b", g.tolist())))
    b.mul_(2)
    b.sum().backward()
    assert log == [("b", [2.0])]


@pytest.mark.parametrize("on_node", [False, True])
def test_a_hook_holding_its_node_goes_with_the_graph_at_a_collection(on_node):
    # (PyTorch's test_hook_closure_cycle: hook -> closure -> grad_fn -> graph -> hook)
    import gc
    import weakref

    class Obj:
        pass

    count = [0]

    def scope():
        a = tape.tensor(1.0, requires_grad=True)
        b = a.clone()
        grad_fn_b = b.grad_fn
        obj = Obj()

        def hook(*args):
            grad_fn_b, obj
            count[0] += 1

        if on_node:
            b.grad_fn.register_hook(hook)
        else:
            b.register_hook(hook)
        return b.clone(), weakref.ref(obj)

    was = gc.isenabled()
    gc.disable()
    try:
        out, ref = scope()
        out.backward(retain_graph=True)
        gc.collect()
        out.backward(retain_graph=True)       # (the graph lives on while a tensor needs it)
        assert count[0] == 2 and ref() is not None
        del out
        gc.collect()
        assert ref() is None
    finally:
        if was:
            gc.enable()


class _Marker:
    pass


class _Double(tape.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


def _hooked(on_node: bool, python_node: bool, backward: bool) -> tuple:
    a = tape.randn(4, requires_grad=True)
    b = _Double.apply(a) if python_node else a * 2
    marker = _Marker()
    grad_fn = b.grad_fn

    def hook(*args):
        marker      # (its closure holds the marker: deleting the caller's name leaves it held)

    (b.grad_fn if on_node else b).register_hook(hook)
    if backward:
        b.sum().backward()
    return a, b, marker, grad_fn


@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize("python_node", [False, True])
@pytest.mark.parametrize("on_node", [False, True])
def test_hooks_go_with_the_tensors_and_nodes_that_hold_them(on_node, python_node, backward):
    # (PyTorch's test_node_lifecycle: freed by reference counting, no collection needed)
    import weakref

    a, b, marker, grad_fn = _hooked(on_node, python_node, backward)
    ref = weakref.ref(marker)
    del a, b, marker, grad_fn
    assert ref() is None


@pytest.mark.parametrize("python_node", [False, True])
@pytest.mark.parametrize("on_node", [False, True])
@pytest.mark.parametrize("run_backward", [False, True])
def test_a_hook_and_what_it_holds_go_with_the_last_tensor_or_node_of_its_graph(python_node, on_node,
                                                                                run_backward):
    # (PyTorch's test_node_lifecycle: freed by reference counting, before any later op resets the tape;
    # the grad_fn view, taken before the hook, is let go of last.  A custom Function's node is its
    # ctx, which the tape keeps without the ctx keeping the tape: not checked there, PyTorch's keeps the
    # hook until the ctx goes)
    import weakref

    def make():
        a = tape.randn(4, requires_grad=True)
        b = _Double.apply(a) if python_node else a * 2
        marker = _Marker()
        grad_fn = b.grad_fn

        def hook(*args):
            return marker and None

        (b.grad_fn if on_node else b).register_hook(hook)
        if run_backward:
            b.sum().backward()
        return a, b, marker, weakref.ref(marker), grad_fn

    a, b, marker, ref, grad_fn = make()
    del a, b, marker
    if not python_node:
        assert ref() is not None
    del grad_fn
    assert ref() is None


@pytest.mark.parametrize("how", ["backward_inputs", "grad"])
def test_a_leaf_asked_for_runs_its_hooks_when_the_sweep_reaches_it(how):
    # (PyTorch runs a leaf's AccumulateGrad, and so its hooks, as soon as its gradient is complete:
    # here before the custom Function below it, which raises; TestMultithreadAutograd's
    # test_multi_grad_any_hooks counts on it)
    order = []

    class Fails(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            order.append("function")
            raise RuntimeError("stop")

    a = tape.rand(2, requires_grad=True)
    b = tape.rand(2, requires_grad=True)
    b.register_hook(lambda g: order.append("leaf"))
    out = (Fails.apply(a) * b).sum()
    with pytest.raises(RuntimeError, match="stop"):
        if how == "grad":
            tape.autograd.grad(out, (a, b))
        else:
            out.backward(inputs=(a, b))
    assert order == ["leaf", "function"]


@pytest.mark.parametrize("how", ["backward", "backward_inputs", "grad", "create_graph"])
def test_a_leaf_imported_before_rows_that_run_later_runs_its_hooks_once_its_gradient_is_complete(how):
    # (``a`` and ``b`` are on the tape before the custom Function because an earlier graph, still
    # alive, used them: ``b``'s gradient is complete after the product, so its hooks run before the
    # Function's backward, and ``a``'s after it, as PyTorch's AccumulateGrad; the sweep used to reach
    # ``b``'s row only after the Function's)
    order = []

    class Traced(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            order.append("function")
            return g

    a = tape.tensor([1.0, 2.0], requires_grad=True)
    b = tape.tensor([3.0, 4.0], requires_grad=True)
    a.register_hook(lambda g: order.append(("a", g.tolist())))
    b.register_hook(lambda g: order.append(("b", g.tolist())))
    earlier = (a * b).sum()
    out = (Traced.apply(a) * b).sum()
    if how in ("grad", "create_graph"):
        tape.autograd.grad(out, (a, b), create_graph=how == "create_graph")
    elif how == "backward":
        out.backward()
    else:
        out.backward(inputs=(a, b))
    assert order == [("b", [1.0, 2.0]), "function", ("a", [3.0, 4.0])]
    assert earlier.grad_fn is not None
