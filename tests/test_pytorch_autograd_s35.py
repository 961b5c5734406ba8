"""Behaviours that PyTorch's own autograd tests (test/test_autograd.py) exercise and that tape got
wrong until session 35: each test names the PyTorch test it comes from.  Pinned from PyTorch 2.13;
no torch needed."""
from __future__ import annotations

import gc
import weakref

import pytest

import tape


class _Handle:
    def __init__(self, name: str) -> None:
        self.name = name


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


# --- TestAutogradMultipleDispatch: PyTorch's test-only ops with per-dispatch-key derivatives -----
def test_multiple_dispatch_test_op_gradient_is_the_cpu_formula():
    t = tape.randn(3, 3, requires_grad=True)
    out = tape._test_autograd_multiple_dispatch(t)
    assert out.grad_fn.name() == "TestAutogradMultipleDispatchBackward0" and not out._is_view()
    assert repr(out.grad_fn).startswith("<TestAutogradMultipleDispatchBackward0 object at ")
    assert tape.equal(out, t)
    grad = tape.randn(3, 3)
    out.backward(grad)
    assert tape.allclose(t.grad, grad + 1)
    # (the ``ntonly`` overload, a plain clone on the CPU)
    t.grad = None
    out = tape._test_autograd_multiple_dispatch(t, True)
    assert out.grad_fn.name() == "CloneBackward0"
    out.backward(grad)
    assert tape.equal(t.grad, grad)


def test_multiple_dispatch_test_op_forward_ad_and_argument_errors():
    import tape.autograd.forward_ad as fwAD
    with fwAD.dual_level():
        dual = fwAD.make_dual(tape.ones(3), tape.full((3,), 2.0))
        assert fwAD.unpack_dual(tape._test_autograd_multiple_dispatch(dual)).tangent.tolist() == [2.0] * 3
        for name in ("_test_autograd_multiple_dispatch_view", "_test_autograd_multiple_dispatch_view_copy"):
            with pytest.raises(NotImplementedError, match=f"Trying to use forward AD with {name} that does not "
                                                          "support it because it has not been implemented yet"):
                getattr(tape, name)(dual)
    t = tape.randn(2)
    with pytest.raises(TypeError, match=r"_test_autograd_multiple_dispatch\(\): argument 'b' \(position 2\) must "
                                        r"be bool, not int"):
        tape._test_autograd_multiple_dispatch(t, 1)
    with pytest.raises(TypeError, match=r"received an invalid combination of arguments - got \(Tensor, bool, int\), "
                                        r"but expected one of:\n \* \(Tensor input\)\n \* \(Tensor input, bool b\)"):
        tape._test_autograd_multiple_dispatch(t, True, 1)
    with pytest.raises(TypeError, match=r"_test_autograd_multiple_dispatch_view\(\) takes 1 positional argument "
                                        "but 2 were given"):
        tape._test_autograd_multiple_dispatch_view(t, 1)
    with pytest.raises(TypeError, match=r"_test_autograd_multiple_dispatch_view_copy\(\): argument 'input' "
                                        r"\(position 1\) must be Tensor, not str"):
        tape._test_autograd_multiple_dispatch_view_copy("x")


def test_multiple_dispatch_test_view_op_and_its_copy():
    t = tape.randn(2, 2, requires_grad=True)
    ref = t.detach().clone().requires_grad_()
    view = tape._test_autograd_multiple_dispatch_view(ref)
    copy = tape._test_autograd_multiple_dispatch_view_copy(t)
    assert view._is_view() and view._base is ref and not copy._is_view()
    assert view.grad_fn.name() == "TestAutogradMultipleDispatchViewBackward0"
    assert copy.grad_fn.name() == "TestAutogradMultipleDispatchViewBackward0_copy"
    grad = tape.randn(4)
    copy.backward(grad)
    view.backward(grad.clone())
    assert tape.equal(copy, view) and tape.equal(t.grad, ref.grad) and tape.equal(t.grad, grad.reshape(2, 2))
    # (an ordinary view: changed in place, it is replayed as a strided view of its base)
    base = tape.ones(3, 3, requires_grad=True).clone()
    view = tape._test_autograd_multiple_dispatch_view(base)
    view.mul_(2)
    assert view.grad_fn.name() == "AsStridedBackward0" and base.grad_fn.name() == "torch::autograd::CopySlices"


# --- test_autograd_simple_views_python: a "pure view" custom Function's output is an ordinary view --
def test_pure_view_custom_function_output_may_be_changed_in_place():
    class Narrow(tape.autograd.Function):
        @staticmethod
        def forward(ctx, a, pure):
            ctx._is_pure_view = pure
            return a.narrow(0, 0, 2)

        @staticmethod
        def backward(ctx, g):
            return tape.cat([g, g.new_zeros(1)]), None

    x = tape.ones(3, requires_grad=True)
    out = Narrow.apply(x.clone(), True)
    out += 3
    assert out.grad_fn.name() == "AsStridedBackward0"
    (out * out).sum().backward()
    assert x.grad.tolist() == [8.0, 8.0, 0.0]
    with pytest.raises(RuntimeError, match="Output 0 of Narrow is a view and is being modified inplace. This "
                                           "view was created inside a custom Function"):
        Narrow.apply(x.clone(), False).add_(3)

    class Two(tape.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx._is_pure_view = True
            return a.narrow(0, 0, 2), a + b

        @staticmethod
        def backward(ctx, ga, gab):
            return gab, gab

    with pytest.raises(RuntimeError, match="Pure view custom Function can only have one input Tensor and one output "
                                           "Tensor. Open an issue if you need to support more."):
        Two.apply(x.clone(), x.clone())

    class Copy(tape.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx._is_pure_view = True
            return a.clone()

        @staticmethod
        def backward(ctx, g):
            return g, None

    # (checked whatever the outputs are, with grad or without)
    assert Copy.apply(x, 3).tolist() == [1.0, 1.0, 1.0]
    for a in (x, x.detach()):
        with pytest.raises(RuntimeError, match="Pure view custom Function can only have one input Tensor"):
            Copy.apply(a, a)
    with tape.no_grad(), pytest.raises(RuntimeError, match="Pure view custom Function can only have one input"):
        Copy.apply(x, x)


# --- test_metadata_check_checks_storage_numel: as_strided of a dual tensor whose primal views a
# bigger storage reaches the rest of that storage, and so does its tangent ---------------------
def test_as_strided_of_a_dual_tensor_reaches_the_whole_storage():
    import tape.autograd.forward_ad as fwAD
    primal = tape.arange(5.0)[:4].detach()
    assert len(primal.untyped_storage()) == 20
    tangent = tape.arange(4.0) + 10
    with fwAD.dual_level():
        dual = fwAD.make_dual(primal, tangent)
        _, unpacked = fwAD.unpack_dual(dual)
        before = tangent.clone()
        unpacked *= 2                   # (a copy laid out as the primal: the given tangent is unchanged)
        assert tape.equal(tangent, before)
        p, t = fwAD.unpack_dual(dual.as_strided((5,), (1,), 0))
        assert p.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
        assert t.tolist() == [20.0, 22.0, 24.0, 26.0, 0.0]
        base = fwAD.make_dual(tape.arange(6.0), tape.arange(6.0) * 10)
        p, t = fwAD.unpack_dual(base[1:3].as_strided((3,), (1,), 2))
        assert p.tolist() == [2.0, 3.0, 4.0] and t.tolist() == [20.0, 30.0, 40.0]


# --- TestAllowMutationOnSaved: what the context shows of the saved tensors it would clone ----------
@pytest.fixture
def small_heap():
    """``ctx.cloned`` and ``ctx.tid_to_weakhandle`` scan the heap for what refers to a tape (as many
    objects as the whole suite has made): frozen, those made before the test are left out of it."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


def _counts(ctx):
    return len(list(ctx.tid_to_weakhandle.items())), len(list(ctx.cloned.items()))


def test_allow_mutation_context_counts_live_saved_and_cloned_tensors(small_heap):
    allow = tape.autograd.graph.allow_mutation_on_saved_tensors
    with allow() as ctx:
        a = tape.randn(2, 3, requires_grad=True).clone()
        out = (a ** 2).sum()
        assert _counts(ctx) == (1, 0)
        out.backward()                  # (frees what it saved)
        assert _counts(ctx) == (0, 0)
        a.sin_()
        assert _counts(ctx)[1] == 0
        out = (a ** 2).sum()
        a.sin_()
        assert _counts(ctx)[1] == 1
        del out                         # (the graph goes, and with it the clone)
        assert _counts(ctx)[1] == 0
    with allow() as ctx:
        a = tape.randn(2, 3, requires_grad=True).clone()
        b = a ** 2
        c = a ** 2                      # (the same tensor at the same version: one entry)
        a.sin_()
        assert _counts(ctx)[1] == 1
        del b, c
        assert _counts(ctx)[1] == 0
    with allow() as ctx:
        a = tape.randn(2, 3, requires_grad=True).clone()
        b = a ** 2
        a.sin_()
        c = a ** 2                      # (another version: another entry)
        a.sin_()
        assert _counts(ctx)[1] == 2
        del b
        assert _counts(ctx)[1] == 1
        (value,) = ctx.cloned.values()
        del c
        assert _counts(ctx)[1] == 0
    assert value.shape == (2, 3) and not value.requires_grad
    assert _counts(ctx) == (0, 0)       # (emptied on exit)


def test_allow_mutation_context_counts_an_out_argument_and_only_what_mul_saves(small_heap):
    with tape.autograd.graph.allow_mutation_on_saved_tensors() as ctx:
        a = tape.tensor([1.0], requires_grad=True)
        b = tape.tensor([1.0])
        c = tape.tensor([2.0])
        out = a * b                     # (saves b only: a needs no other factor)
        assert _counts(ctx) == (1, 0)
        tape.sin(c, out=b)
        assert _counts(ctx)[1] == 1
        out.backward()
        assert _counts(ctx)[1] == 0
    assert a.grad.tolist() == [1.0]


def test_a_held_custom_function_node_keeps_what_it_reaches():
    class Double(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2

    keep = tape.randn(2, requires_grad=True).exp()
    a = tape.ones(2, requires_grad=True)
    inner = Double.apply(a)
    inner_node = inner.grad_fn
    h = _Handle("inner")
    ref = weakref.ref(h)
    inner_node.metadata["k"] = h
    out = Double.apply(inner)
    node = out.grad_fn
    node.metadata["k"] = 1
    del h, inner, inner_node, out
    # (the held node reaches the inner call's node: its metadata and context stay)
    assert ref() is not None
    (nxt, _), = node.next_functions
    assert nxt.metadata["k"] is ref() and nxt.saved_tensors[0].tolist() == [1.0, 1.0]
    del nxt, node
    assert keep.grad_fn is not None
