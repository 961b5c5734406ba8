"""Behaviours that PyTorch's own autograd tests (test/test_autograd.py) exercise and that tape got
wrong until session 35: each test names the PyTorch test it comes from.  Pinned from PyTorch 2.13;
no torch needed."""
from __future__ import annotations

import collections
import weakref

import pytest

import tape
from tape.utils.checkpoint import checkpoint


def _nodes(root):
    seen, queue = {root}, collections.deque([root])
    while queue:
        node = queue.popleft()
        yield node
        for nxt, _ in node.next_functions:
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)


class _Handle:
    def __init__(self, name: str) -> None:
        self.name = name


def _alive_after_scope(fn):
    """The names of the nodes whose ``metadata`` still holds its entry once the graph's output is
    gone (TestNestedCheckpoint.check_graph_dies)."""
    def scope():
        a = tape.randn((), requires_grad=True)
        out = fn(a)
        refs = []
        for node in _nodes(out.grad_fn):
            handle = _Handle(node.name())
            refs.append(weakref.ref(handle))
            node.metadata["blah"] = handle
        return refs
    return [r().name for r in scope() if r() is not None]


def _grad(fn):
    def wrapper(x):
        with tape.enable_grad():
            (g,) = tape.autograd.grad(fn(x), x, create_graph=True)
        return g
    return wrapper


def _ckpt(fn):
    return lambda x: checkpoint(fn, x, use_reentrant=False)


def _f(x):
    return x.sin().exp().sin()


# --- test_nested_checkpoint*: a graph's nodes (their metadata, what they saved) go with the graph,
# even while another graph recorded alongside it lives on --------------------------------------
@pytest.mark.parametrize("fn", [_f, _ckpt(_f), _ckpt(_ckpt(_f)), _grad(_ckpt(_f)), _grad(_ckpt(_grad(_f)))],
                         ids=["plain", "checkpoint", "nested", "grad_of_checkpoint", "grad_checkpoint_grad"])
def test_graph_dies_while_another_graph_lives(fn):
    x = tape.randn((), requires_grad=True)
    other = fn(x)                      # (a graph recorded on the same tape, still referred to)
    assert _alive_after_scope(fn) == []
    assert other.grad_fn is not None
    (g,) = tape.autograd.grad(other, x)    # (what it needs was kept)
    assert g.shape == ()


def test_a_custom_function_context_goes_with_its_graph_but_not_while_held():
    saved_refs = []

    class Id(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            ctx.save_for_backward(y)
            saved_refs.append(weakref.ref(y))
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    keep = tape.randn(2, requires_grad=True).exp()
    a = tape.ones(2, requires_grad=True)
    out = Id.apply(a)
    node = out.grad_fn
    node.metadata["k"] = 1
    del out
    # (the user holds the node: it can still run)
    assert node.saved_tensors[0].tolist() == [2.0, 2.0]
    assert node.apply(tape.ones(2)).tolist() == [2.0, 2.0]
    del node
    out = Id.apply(a)
    h = _Handle("x")
    ref = weakref.ref(h)
    out.grad_fn.metadata["k"] = h
    del h, out
    assert ref() is None
    assert keep.grad_fn is not None


def test_a_custom_function_node_applies_its_backward_and_jvp():
    # (BackwardCFunction.apply / apply_jvp, as the nodes PyTorch makes for a custom Function)
    class Id(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            return g * 3

        @staticmethod
        def jvp(ctx, t):
            return t * 5

    node = Id.apply(tape.ones(2, requires_grad=True)).grad_fn
    assert node.apply(tape.ones(2)).tolist() == [3.0, 3.0]
    assert node.apply_jvp(tape.ones(2)).tolist() == [5.0, 5.0]

    class Both(Id):
        @staticmethod
        def vjp(ctx, g):
            return g

    with pytest.raises(RuntimeError, match="Implementing both 'backward' and 'vjp' for a custom Function is not "
                                           "allowed. You should only implement one of them."):
        Both.apply(tape.ones(2, requires_grad=True)).grad_fn.apply(tape.ones(2))
