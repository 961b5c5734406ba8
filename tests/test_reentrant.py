"""Reentrant backward: a ``backward()`` run from inside another one (a custom Function's backward,
a tensor hook), recording onto the tape the outer backward is sweeping.

Expected values read from PyTorch 2.13.
"""
from __future__ import annotations

import tape


def test_function_backward_runs_a_backward_of_its_own():
    order = []

    class Reentrant(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            with tape.enable_grad():
                ctx.x = x.detach().requires_grad_() - 1
            return ctx.x.detach()

        @staticmethod
        def backward(ctx, g):
            order.append("Reentrant")
            if ctx.x < 0:
                return g
            with tape.enable_grad():
                Reentrant.apply(ctx.x).backward()
            return g

    class Id(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            order.append("Id")
            return g

    a = Id.apply(tape.tensor(6.0, requires_grad=True))
    b = Reentrant.apply(tape.tensor(3.0, requires_grad=True))
    (a * b).backward()
    assert order == ["Reentrant"] * 4 + ["Id"]


def test_hook_runs_a_backward_on_a_leaf_it_makes():
    param = tape.tensor([1.0, 2.0, 3.0], requires_grad=True)
    seen = []

    def hook(grad):
        with tape.enable_grad():
            g = grad.detach().requires_grad_()
            (g * 2 + 5).sum().backward()
        seen.append(g.grad.tolist())
        return g.grad + grad

    tmp = param * param
    tmp.register_hook(hook)
    tmp.sum().backward()
    assert seen == [[2.0, 2.0, 2.0]]
    assert param.grad.tolist() == [6.0, 12.0, 18.0]


def test_leaf_hook_runs_a_backward():
    param = tape.tensor([1.0, 2.0], requires_grad=True)

    def hook(grad):
        with tape.enable_grad():
            p = param.detach().requires_grad_()
            (p * grad.detach()).sum().backward()
        return grad + p.grad

    param.register_hook(hook)
    (param * param).sum().backward()
    # grad 2p, plus p.grad, which is that gradient again
    assert param.grad.tolist() == [4.0, 8.0]


def test_reentrant_backward_retaining_a_grad():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    inner = []

    def hook(grad):
        with tape.enable_grad():
            y = x.detach().requires_grad_() * 3
            y.retain_grad()
            (y * y).sum().backward()
        inner.append(y.grad.tolist())

    h = x * 2
    h.register_hook(hook)
    h.sum().backward()
    assert inner == [[6.0, 12.0]]
    assert x.grad.tolist() == [2.0, 2.0]


def test_a_chain_of_reentrant_backwards_deeper_than_the_recursion_limit():
    # (PyTorch's test_deep_reentrant: past a depth, the nested backwards go on on new threads'
    # stacks, which carry the thread-local state on: grad mode, the saved-tensor hooks in force)
    seen = []

    class Deep(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            with tape.enable_grad():
                ctx.x = (x.detach().requires_grad_() - 1) * tape.ones(())    # (saves its inputs)
            return ctx.x.detach()

        @staticmethod
        def backward(ctx, g):
            seen.append(tape.is_grad_enabled())
            if ctx.x < 0:
                return g
            with tape.enable_grad():
                Deep.apply(ctx.x).sum().backward()
            return g * 2

    packed = []

    def pack(t):
        packed.append(1)
        return t

    v = tape.tensor(400.0, requires_grad=True)
    with tape.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        Deep.apply(v).sum().backward()
    assert len(seen) == 401 and not any(seen)
    assert len(packed) == 401
    assert v.grad.item() == 2.0
