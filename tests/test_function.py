"""Custom ``tape.autograd.Function``: one row per call, whose backward runs the user's Python.

The first part has fixed expectations (no torch needed); ``test_*_vs_torch`` run the same
Functions in tape and in PyTorch (marker ``torch``) and compare values, gradients, node names
and error messages.
"""
from __future__ import annotations

import re
import warnings
import weakref

import numpy as np
import pytest

import tape
from tape._state import state
from tape.autograd import Function
from tape.autograd.function import once_differentiable


def _functions(lib):
    """The same Functions written against ``lib`` (tape or torch)."""

    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * x ** 2 * g

    class Split(lib.autograd.Function):
        """Two inputs, a Python number, two outputs."""

        @staticmethod
        def forward(ctx, x, w, k):
            ctx.save_for_backward(x, w)
            ctx.k = k
            return x * w, (x + w) * k

        @staticmethod
        def backward(ctx, ga, gb):
            x, w = ctx.saved_tensors
            return ga * w + gb * ctx.k, ga * x + gb * ctx.k, None

    class Mixed(lib.autograd.Function):
        """Non-tensor and integer outputs, a non-differentiable one; reports what backward got."""

        seen = []

        @staticmethod
        def forward(ctx, x, n, y):
            a = x * n
            ctx.mark_non_differentiable(a)
            return x * n, 3, (x + y).long(), x + y, a

        @staticmethod
        def backward(ctx, a, b, c, d, e):
            Mixed.seen.append([None if t is None else (t.tolist(), str(t.dtype).split(".")[1]) for t in (a, b, c, d, e)])
            return a * 2 + d, None, d

    class Lazy(lib.autograd.Function):
        """set_materialize_grads(False): unused outputs give None."""

        seen = []

        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            Lazy.seen.append((g1 is None, g2 is None))
            return (g1 * 2 if g1 is not None else 0) + (g2 * 3 if g2 is not None else 0)

    class Scale(lib.autograd.Function):
        """The setup_context style, with a default argument."""

        @staticmethod
        def forward(x, k=2.0):
            return x * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.k = inputs[1]
            ctx.save_for_backward(output)

        @staticmethod
        def vjp(ctx, g):
            out, = ctx.saved_tensors
            return g * ctx.k + out * 0, None

    class Double(lib.autograd.Function):
        """In place, with mark_dirty."""

        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class Needs(lib.autograd.Function):
        seen = []

        @staticmethod
        def forward(ctx, x, y, z):
            Needs.seen.append(ctx.needs_input_grad)
            return x + y * z

        @staticmethod
        def backward(ctx, g):
            Needs.seen.append(ctx.needs_input_grad)
            return g, None, None

    return dict(Cube=Cube, Split=Split, Mixed=Mixed, Lazy=Lazy, Scale=Scale, Double=Double, Needs=Needs)


F = _functions(tape)


def _bad(returns):
    """A Function whose backward returns ``returns(g)``."""
    class Bad(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return returns(g)
    return Bad


# --- the tutorial, node, values ----------------------------------------------------------
def test_myrelu_as_in_the_tutorial():
    class MyReLU(tape.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return input.clamp(min=0)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            grad_input = grad_output.clone()
            grad_input[input < 0] = 0
            return grad_input

    x = tape.tensor([-1.0, 1.0, 2.0], requires_grad=True)
    y = MyReLU.apply(x)
    y.backward(tape.tensor([1.0, 1.0, 1.0]))
    assert x.grad.tolist() == [0.0, 1.0, 1.0]
    assert str(y) == "tensor([0., 1., 2.], grad_fn=<MyReLUBackward>)"
    assert y.grad_fn.name() == "MyReLUBackward" and y.grad_fn.next_functions[0][0].variable is x


def test_one_row_between_compiled_rows():
    x = tape.tensor([0.5, -1.5, 2.0], dtype=tape.float64, requires_grad=True)
    y = (F["Cube"].apply(x.sin()) * x).sum()
    codes = [int(c) for c in y._tape.op[:y._tape.n]]
    assert codes.count(tape.autograd.function.FUNCTION) == 1
    y.backward()
    s = np.sin(x.detach().numpy())
    c = np.cos(x.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), 3 * s ** 2 * c * x.detach().numpy() + s ** 3, rtol=1e-14)


def test_grad_fn_is_the_ctx_with_its_attributes():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    a, b = F["Split"].apply(x, tape.ones(2), 2.0)
    node = a.grad_fn
    assert node is b.grad_fn and type(node).__name__ == "SplitBackward"
    assert node.k == 2.0 and node.needs_input_grad == (True, False, False)
    assert [type(f).__name__ if f is not None else None for f, _ in node.next_functions] == ["AccumulateGrad", None]
    assert node.metadata == {} and node.metadata is node.metadata
    assert re.fullmatch(r"<torch\.autograd\.function\.SplitBackward object at 0x[0-9a-f]+>", repr(node))
    assert a.requires_grad and not a.is_leaf


def test_jvp_and_vmap_defaults():
    assert hasattr(Function, "jvp") and Function.generate_vmap_rule is False
    with pytest.raises(NotImplementedError, match="To use autograd.Function with vmap, you must either override the "
                                                  "vmap staticmethod or set generate_vmap_rule=True."):
        Function.vmap(None, (0,), tape.ones(2))
    assert Function.vjp is Function.backward


def test_several_inputs_and_outputs():
    x = tape.tensor([0.5, -1.0, 2.0], dtype=tape.float64, requires_grad=True)
    w = tape.tensor([1.0, 2.0, 3.0], dtype=tape.float64, requires_grad=True)
    a, b = F["Split"].apply(x.exp(), w, 2.0)
    (a.tanh() + b * b).sum().backward()
    e, wn = np.exp(x.detach().numpy()), w.detach().numpy()
    ga, gb = 1 - np.tanh(e * wn) ** 2, 2 * (e + wn) * 2
    np.testing.assert_allclose(x.grad.numpy(), (ga * wn + gb * 2) * e, rtol=1e-14)
    np.testing.assert_allclose(w.grad.numpy(), ga * e + gb * 2, rtol=1e-14)


def test_only_one_output_used_gets_zeros_for_the_other():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    a, b = F["Split"].apply(x, tape.tensor([3.0, 4.0]), 5.0)
    b.sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]


def test_non_tensor_and_non_differentiable_outputs():
    F["Mixed"].seen.clear()
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = tape.tensor([1.0, 2.0])
    out = F["Mixed"].apply(x, 2, y)
    assert out[1] == 3
    assert [o.requires_grad for o in (out[0], out[2], out[3], out[4])] == [True, False, True, False]
    assert out[2].grad_fn is None and out[4].grad_fn is None
    out[0].sum().backward()
    assert F["Mixed"].seen == [[([1.0, 1.0], "float32"), None, ([0, 0], "int64"), ([0.0, 0.0], "float32"),
                                ([0.0, 0.0], "float32")]]
    assert x.grad.tolist() == [2.0, 2.0]


def test_set_materialize_grads_false_gives_none():
    F["Lazy"].seen.clear()
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    F["Lazy"].apply(x)[1].sum().backward()
    assert F["Lazy"].seen == [(True, False)] and x.grad.tolist() == [3.0, 3.0]


def test_setup_context_style_and_vjp():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = F["Scale"].apply(x)
    assert type(y.grad_fn).__name__ == "ScaleBackward" and y.tolist() == [2.0, 4.0]
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    x.grad = None
    F["Scale"].apply(x, k=5.0).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]


def test_needs_input_grad():
    F["Needs"].seen.clear()
    x = tape.tensor([1.0], requires_grad=True)
    F["Needs"].apply(x, tape.tensor([2.0]), 3).sum().backward()
    assert F["Needs"].seen == [(True, False, False)] * 2


def test_mark_dirty_moves_the_input_to_the_node():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    c = x * 1
    r = F["Double"].apply(c)
    assert r is c and type(c.grad_fn).__name__ == "DoubleBackward" and c._version == 2
    assert c.tolist() == [2.0, 4.0]
    (c * c).sum().backward()
    assert x.grad.tolist() == [8.0, 16.0]


def test_mark_dirty_errors():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="^a leaf Variable that requires grad has been used in an in-place "
                                           "operation.$"):
        F["Double"].apply(x)

    class NotReturned(Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match="^Some elements marked as dirty during the forward method were not "
                                           "returned as output. The inputs that are modified inplace must all be "
                                           "outputs of the Function.$"):
        NotReturned.apply(x * 1)


def test_input_returned_as_is_gets_a_new_handle():
    class Identity(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = tape.tensor([1.0, 2.0], requires_grad=True)
    c = x * 1
    r = Identity.apply(c)
    assert r is not c and type(r.grad_fn).__name__ == "IdentityBackward" and c._version == 0
    r.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_under_no_grad_nothing_is_recorded():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    with tape.no_grad():
        y = F["Cube"].apply(x)
    assert not y.requires_grad and y.grad_fn is None and y.tolist() == [1.0, 8.0]
    y = F["Cube"].apply(tape.tensor([1.0, 2.0]))
    assert not y.requires_grad and y.grad_fn is None


def test_integer_input_that_needs_no_gradient():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = F["Needs"].apply(x, tape.tensor([2, 3]), 2)
    assert y.tolist() == [5.0, 8.0]
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_mixed_dtype_outputs():
    class Both(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x.double() * 3

        @staticmethod
        def backward(ctx, a, b):
            assert a.dtype == tape.float32 and b.dtype == tape.float64
            return a * 2 + b.float() * 3

    x = tape.tensor([1.0, 2.0], requires_grad=True)
    a, b = Both.apply(x)
    assert a.dtype == tape.float32 and b.dtype == tape.float64
    (a.sum() + b.sum()).backward()
    assert x.grad.tolist() == [5.0, 5.0] and x.grad.dtype == tape.float32


def test_gradients_are_shaped_and_cast_to_the_input():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    Wide = _bad(lambda g: (tape.ones(3, 2, dtype=tape.float64), None, None))
    Wide.apply(x, tape.ones(2)).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0] and x.grad.dtype == tape.float32


@pytest.mark.parametrize("returns, message", [
    (lambda g: g, "function BadBackward returned an incorrect number of gradients (expected 2, got 1)"),
    (lambda g: (g, g, g), "function BadBackward returned an incorrect number of gradients (expected 2, got 3)"),
    (lambda g: (tape.ones(3), None),
     "Function BadBackward returned an invalid gradient at index 0 - got [3] but expected shape compatible with [2]"),
    (lambda g: (3.0, None), "expected Variable or None (got float)"),
])
def test_wrong_gradients_raise_pytorch_errors(returns, message):
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=f"^{re.escape(message)}$"):
        _bad(returns).apply(x, tape.ones(2)).sum().backward()


def test_legacy_and_missing_methods():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        inst = F["Cube"]()
    assert w[0].category is DeprecationWarning and "should not be instantiated" in str(w[0].message)
    with pytest.raises(RuntimeError, match="^Legacy autograd function with non-static forward method is deprecated"):
        inst(tape.ones(2))
    with pytest.raises(NotImplementedError, match="^You must implement the forward function for custom "
                                                  "autograd.Function.$"):
        Function.apply(tape.ones(2, requires_grad=True))

    class NoBackward(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    with pytest.raises(NotImplementedError, match="^You must implement either the backward or vjp method"):
        NoBackward.apply(tape.ones(2, requires_grad=True)).sum().backward()

    class Both(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g

        @staticmethod
        def vjp(ctx, g):
            return g

    with pytest.raises(RuntimeError, match="^Implementing both 'backward' and 'vjp' for a custom Function is not "
                                           "allowed. You should only implement one of them.$"):
        Both.apply(tape.ones(2, requires_grad=True)).sum().backward()


def test_saved_tensors_are_freed_after_backward():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = F["Cube"].apply(x * 1)
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 24.0]
    with pytest.raises(RuntimeError, match="^Trying to backward through the graph a second time"):
        y.sum().backward()
    # A Function that saved nothing can be swept again, as in PyTorch.
    z = F["Double"].apply(x + 1)
    z.sum().backward()
    z.sum().backward()
    assert x.grad.tolist() == [10.0, 28.0]


def test_saved_input_modified_in_place():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    b = x * 1
    y = F["Cube"].apply(b)
    b.add_(1)
    with pytest.raises(RuntimeError, match=re.escape(
            "one of the variables needed for gradient computation has been modified by an inplace operation: "
            "[torch.FloatTensor [2]], which is output 0 of Add, is at version 1; expected version 0 instead.")):
        y.sum().backward()
    leaf = tape.tensor([1.0, 2.0])
    w = tape.tensor([1.0, 1.0], requires_grad=True)
    y = F["Split"].apply(w, leaf, 1.0)[0]
    leaf.mul_(2)
    with pytest.raises(RuntimeError, match=re.escape("[torch.FloatTensor [2]] is at version 1; expected version 0")):
        y.sum().backward()


def test_saved_output_modified_in_place():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = F["Scale"].apply(x)
    y.add_(1)
    with pytest.raises(RuntimeError, match=re.escape(
            "[torch.FloatTensor [2]], which is output 0 of Scale, is at version 1; expected version 0 instead.")):
        y.sum().backward()


def test_double_backward_through_a_function():
    x = tape.tensor([0.5, -1.5, 2.0], dtype=tape.float64, requires_grad=True)
    z = (F["Cube"].apply(x.sin()) * x).sum()
    g, = tape.autograd.grad(z, x, create_graph=True)
    h, = tape.autograd.grad(g.sum(), x)
    xv = x.detach().numpy()
    s, c = np.sin(xv), np.cos(xv)
    np.testing.assert_allclose(g.detach().numpy(), 3 * s ** 2 * c * xv + s ** 3, rtol=1e-13)
    # d/dx of 3 s^2 c x + s^3
    want = 6 * s * c * c * xv - 3 * s ** 3 * xv + 3 * s ** 2 * c + 3 * s ** 2 * c
    np.testing.assert_allclose(h.numpy(), want, rtol=1e-13)


def test_gradcheck_and_gradgradcheck_on_functions():
    x = tape.tensor([0.5, -1.5, 2.0], dtype=tape.float64, requires_grad=True)
    w = tape.tensor([1.0, 2.0, 3.0], dtype=tape.float64, requires_grad=True)
    assert tape.autograd.gradcheck(F["Cube"].apply, (x,))
    assert tape.autograd.gradgradcheck(F["Cube"].apply, (x,))
    fn = lambda x, w: F["Split"].apply(x, w, 3.0)     # noqa: E731
    assert tape.autograd.gradcheck(fn, (x, w)) and tape.autograd.gradgradcheck(fn, (x, w))


def test_gradcheck_catches_a_wrong_backward():
    wrong = _bad(lambda g: (g * 2, None))
    x = tape.tensor([0.5, -1.5], dtype=tape.float64, requires_grad=True)
    with pytest.raises(tape.autograd.GradcheckError):
        tape.autograd.gradcheck(lambda x: wrong.apply(x, tape.ones(2, dtype=tape.float64)), (x,))


def test_once_differentiable():
    class Twice(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            assert not tape.is_grad_enabled()
            return g * 2

    x = tape.tensor([1.0, 2.0], requires_grad=True)
    g, = tape.autograd.grad(Twice.apply(x).sum(), x, create_graph=True)
    assert g.tolist() == [2.0, 2.0] and not g.requires_grad     # the seed needs no gradient
    y = Twice.apply(x)
    g, = tape.autograd.grad(y, x, grad_outputs=tape.ones(2, requires_grad=True), create_graph=True)
    assert type(g.grad_fn).__name__ == "Error"     # (PyTorch's name of the node DelayedError makes)
    with pytest.raises(RuntimeError, match="^trying to differentiate twice a function that was marked with "
                                           "@once_differentiable$"):
        g.sum().backward()


def test_function_inputs_from_an_older_tape():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    (x * 1).sum().backward()        # the thread moves on to another tape
    x.grad = None
    y = F["Cube"].apply(h)
    y.sum().backward()
    assert x.grad.tolist() == [81.0, 324.0]


def test_autograd_grad_of_one_output_and_unused_input():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    w = tape.tensor([3.0, 4.0], requires_grad=True)
    u = tape.tensor([1.0, 1.0], requires_grad=True)
    a, b = F["Split"].apply(x, w, 2.0)
    gx, gu = tape.autograd.grad(a.sum(), (x, u), allow_unused=True)
    assert gx.tolist() == [3.0, 4.0] and gu is None


# --- against PyTorch ----------------------------------------------------------------------
def _torch():
    return pytest.importorskip("torch")


def _scenarios():
    def several(lib, F):
        x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        a, b = F["Split"].apply(x.exp(), w, 2.0)
        loss = (a.tanh() + b * b).sum()
        gx, gw = lib.autograd.grad(loss, (x, w), create_graph=True)
        hx, hw = lib.autograd.grad((gx * gw).sum(), (x, w))
        return [a, b, gx, gw, hx, hw, type(a.grad_fn).__name__, type(gx.grad_fn).__name__]

    def mixed(lib, F):
        F["Mixed"].seen.clear()
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        out = F["Mixed"].apply(x, 2, lib.tensor([1.0, 2.0]))
        (out[0] * out[3]).sum().backward()
        return [out[0], out[1], out[2], out[3], out[4], [o.requires_grad for o in (out[0], out[2], out[3], out[4])],
                x.grad, F["Mixed"].seen]

    def lazy(lib, F):
        F["Lazy"].seen.clear()
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a, b = F["Lazy"].apply(x)
        a.sum().backward()
        return [x.grad, F["Lazy"].seen]

    def dirty(lib, F):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        c = x * 1
        r = F["Double"].apply(c)
        (r * r).sum().backward()
        return [r is c, c._version, type(c.grad_fn).__name__, x.grad]

    def needs(lib, F):
        F["Needs"].seen.clear()
        x = lib.tensor([1.0], requires_grad=True)
        F["Needs"].apply(x, lib.tensor([2.0], requires_grad=True), 3).sum().backward()
        F["Needs"].apply(lib.tensor([1.0]), lib.tensor([2.0], requires_grad=True), 3).sum().backward()
        return [F["Needs"].seen, x.grad]

    def setup(lib, F):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = F["Scale"].apply(x, 3.0)
        g, = lib.autograd.grad(y.sum(), x)
        return [y, g, type(y.grad_fn).__name__]

    def freed(lib, F):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = F["Cube"].apply(x * 1)
        y.sum().backward()
        y.sum().backward()

    def modified_output(lib, F):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = F["Scale"].apply(x)
        y.mul_(2)
        y.sum().backward()

    def wrong_count(lib, F):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        F["Needs"].apply(x, x, x).sum().backward()
        Bad = type("Bad", (lib.autograd.Function,), {
            "forward": staticmethod(lambda ctx, x: x * 2),
            "backward": staticmethod(lambda ctx, g: (g, g))})
        Bad.apply(x).sum().backward()

    def wrong_shape(lib, F):
        Bad = type("Bad", (lib.autograd.Function,), {
            "forward": staticmethod(lambda ctx, x: x * 2),
            "backward": staticmethod(lambda ctx, g: lib.ones(2, 3))})
        Bad.apply(lib.ones(2, requires_grad=True)).sum().backward()

    def broadcast_and_cast(lib, F):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        Bad = type("Bad", (lib.autograd.Function,), {
            "forward": staticmethod(lambda ctx, x: x * 2),
            "backward": staticmethod(lambda ctx, g: lib.ones(4, 2, dtype=lib.float64))})
        Bad.apply(x).sum().backward()
        return [x.grad]

    return dict(several=several, mixed=mixed, lazy=lazy, dirty=dirty, needs=needs, setup=setup, freed=freed,
                modified_output=modified_output, wrong_count=wrong_count, wrong_shape=wrong_shape,
                broadcast_and_cast=broadcast_and_cast)


def _plain(v, lib):
    if isinstance(v, lib.Tensor):
        return ("tensor", str(v.dtype).split(".")[1], tuple(v.shape), v.detach().numpy().tolist(), v.requires_grad)
    if isinstance(v, (list, tuple)):
        return [_plain(e, lib) for e in v]
    return v


def _run(name, lib):
    try:
        return ("ok", _plain(_scenarios()[name](lib, _functions(lib)), lib))
    except Exception as e:      # compare the exception as a value
        text = str(e).replace("torch.", "tape.")
        return ("error", type(e).__name__, text.split(" Hint:")[0])


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(_scenarios()))
def test_scenarios_vs_torch(name):
    torch = _torch()
    want = _run(name, torch)
    got = _run(name, tape)
    if want[0] == "ok":
        assert got[0] == "ok", got
        _close(got[1], want[1])
    else:
        assert got == want


def _close(got, want):
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), (got, want)
        for g, w in zip(got, want):
            _close(g, w)
    elif isinstance(want, tuple) and want and want[0] == "tensor":
        assert got[:3] == want[:3] and got[4] == want[4], (got, want)
        np.testing.assert_allclose(np.asarray(got[3], float), np.asarray(want[3], float), rtol=1e-12)
    else:
        assert got == want, (got, want)


def test_returning_a_tensor_twice_gives_one_output():
    class Twice(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            o = x * 2
            return o, o

        @staticmethod
        def backward(ctx, g1, g2):
            return g1 * 2 + g2 * 2

    x = tape.tensor([1.0, 2.0, 3.0], requires_grad=True)
    p, q = Twice.apply(x)
    assert p is q and p.output_nr == 1
    (p + q).sum().backward()
    assert x.grad.tolist() == [4.0, 4.0, 4.0]


def _dirty_fn(two_outputs=False, not_input=False, view=False):
    class Dirty(tape.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            if not_input:
                a = a.clone().view_as(a) if view else a * 3
            a.add_(1)
            ctx.mark_dirty(a)
            return (a, a + 1) if two_outputs else a

        @staticmethod
        def backward(ctx, *gs):
            return gs[0]

    return Dirty.apply


def test_mark_dirty_checks_in_pytorch_order():
    leaf = tape.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="^a leaf Variable that requires grad has been used in an in-place"):
        _dirty_fn()(leaf)
    with pytest.raises(RuntimeError, match="^a view of a leaf Variable that requires grad is being used in an "
                                           "in-place operation.$"):
        _dirty_fn()(leaf.view_as(leaf))
    with pytest.raises(RuntimeError, match="^If your Function modifies inplace an input that is a view of another "
                                           "Tensor, your Function cannot return more than one Tensor."):
        _dirty_fn(two_outputs=True)(leaf.view_as(leaf))
    with pytest.raises(RuntimeError, match=r"^Output 0 of SplitWithSizes is a view and is being modified inplace. "
                                           "This view is the output of a function that returns multiple views."):
        _dirty_fn()(leaf.split_with_sizes([1, 1])[0])
    text = ("ctx.mark_dirty() received a tensor that was not an input. Only input Tensors that have been mutated "
            "should be passed to ctx.mark_dirty().")
    with pytest.raises(RuntimeError, match=re.escape(text)):
        _dirty_fn(not_input=True, view=True)(leaf.clone())
    fresh = tape.tensor([1.0, 2.0], requires_grad=True)     # (the forwards above changed ``leaf``)
    with pytest.warns(UserWarning, match=re.escape(text)):
        out = _dirty_fn(not_input=True)(fresh.clone())
    assert out.tolist() == [4.0, 7.0] and out.grad_fn is not None


FUNCTION_VIEW_TAIL = ("This view was created inside a custom Function (or because an input was returned as-is) and "
                      "the autograd logic to handle view+inplace would override the custom backward associated with "
                      "the custom Function, leading to incorrect gradients. This behavior is forbidden. You can fix "
                      "this by cloning the output of the custom Function.")


class _Head(tape.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x[:2]

    @staticmethod
    def backward(ctx, g):
        return tape.cat([g, g.new_zeros(1)])


class _Same(tape.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, g):
        return g


def test_function_outputs_that_are_views_refuse_in_place_changes():
    a = tape.rand(3, requires_grad=True).clone()
    v = _Head.apply(a)
    assert v._is_view() and v._base is a and type(v.grad_fn).__name__ == "_HeadBackward"
    with pytest.raises(RuntimeError, match=re.escape("Output 0 of _Head is a view and is being modified inplace. "
                                                     + FUNCTION_VIEW_TAIL)):
        v.mul_(2)
    with pytest.raises(RuntimeError, match=re.escape("Output 0 of View is a view and is being modified inplace. "
                                                     + FUNCTION_VIEW_TAIL)):
        v.view(2).mul_(2)
    a.add_(1)
    with pytest.raises(RuntimeError, match=re.escape("Output 0 of _Head is a view and its base or another view of "
                                                     "its base has been modified inplace. " + FUNCTION_VIEW_TAIL)):
        v.grad_fn
    a = tape.rand(3, requires_grad=True).clone()
    s = _Same.apply(a)
    assert s is not a and s._is_view() and s._base is a
    with pytest.raises(RuntimeError, match=re.escape("Output 0 of _Same is a view and is being modified inplace. "
                                                     + FUNCTION_VIEW_TAIL)):
        s.mul_(2)
    s.sum().backward()          # (the view's gradient goes through the Function)


def test_unrecorded_function_outputs_are_views_made_inside_a_function():
    b = tape.rand(3)
    s = _Same.apply(b)
    assert s is not b and s._is_view() and not s.requires_grad
    s.mul_(2)           # (nothing requires grad: allowed)
    v = _Head.apply(b)
    with pytest.raises(RuntimeError, match=re.escape("A view was created in no_grad mode and is being modified "
                                                     "inplace with grad mode enabled. " + FUNCTION_VIEW_TAIL)):
        v.mul_(tape.rand(2, requires_grad=True))


def test_recorded_call_keeps_no_marked_tensors():
    # PyTorch's node takes over what forward marked: its attributes are None afterwards, and a
    # tensor changed in place and saved is not kept alive by the node.
    class Dirty(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            ctx.save_for_backward(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    class Split(Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            ctx.mark_non_differentiable(y)
            return x.clone(), y

        @staticmethod
        def backward(ctx, g, h):
            return g

    x = tape.tensor(1.0, requires_grad=True).clone()
    y = Dirty.apply(x)
    a, _ = Split.apply(x)
    for node in (y.grad_fn, a.grad_fn):
        assert node.dirty_tensors is None and node.non_differentiable is None and node.to_save is None
        assert node.saved_for_forward is None

    def scope():
        v = tape.tensor(1.0, requires_grad=True).clone().view_as(tape.ones(()))
        Dirty.apply(v)
        return weakref.ref(v)

    assert scope()() is None


def _logged(log: list, materialize: bool):
    class Logged(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(materialize)
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            log.append(None if g is None else g.tolist())
            return None if g is None else g + 1
    return Logged


class _Drop(Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return None


@pytest.mark.parametrize("materialize", [True, False])
def test_function_reached_by_an_undefined_gradient_runs(materialize):
    # PyTorch runs every node between the roots and the leaves: a custom Function whose outputs
    # get an undefined gradient only (another Function returned None above it, built-in nodes
    # between) runs with zeros, or None without materialized gradients.
    log = []
    Logged = _logged(log, materialize)
    x = tape.ones(2, requires_grad=True)
    zero = [0.0, 0.0] if materialize else None
    _Drop.apply((Logged.apply(x) * 3).sin()).sum().backward()
    assert log == [zero]
    assert (x.grad.tolist() if x.grad is not None else None) == ([1.0, 1.0] if materialize else None)
    x.grad = None
    tape._C._functions.UndefinedGrad()(Logged.apply(x) * 2).sum().backward()
    assert log == [zero, zero]
    g, = tape.autograd.grad(_Drop.apply(Logged.apply(x).exp()).sum(), x, create_graph=True, allow_unused=True)
    assert log == [zero] * 3
    assert (g.tolist() if g is not None else None) == ([1.0, 1.0] if materialize else None)
    x.grad = None
    y = Logged.apply(x)
    (_Drop.apply(y.exp()) + y).sum().backward()         # (a gradient reaches it too: that one only)
    assert log == [zero] * 3 + [[1.0, 1.0]]
    assert x.grad.tolist() == [2.0, 2.0]


def test_clear_saved_tensors_on_access_gives_them_once():
    errors = []

    class Once(tape.autograd.Function):
        clear_saved_tensors_on_access = True

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            try:
                ctx.saved_tensors
            except RuntimeError as e:
                errors.append(str(e))
            return g * 2 + x * 0

    x = tape.randn(3, requires_grad=True)
    y = Once.apply(x)
    y.sum().backward(retain_graph=True)
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    assert errors == ["saved_tensors can only be accessed once when clear_saved_tensors_on_access=True is set on "
                      "the autograd.Function. Either access saved_tensors only once, or set "
                      "clear_saved_tensors_on_access=False."]
    with pytest.raises(RuntimeError, match="can only be accessed once"):
        y.sum().backward()
    # (grad_fn.saved_tensors is the same access)
    y = Once.apply(x)
    assert y.grad_fn.saved_tensors[0] is x
    with pytest.raises(RuntimeError, match="can only be accessed once"):
        y.sum().backward()


def _big_grad_functions(lib, kept: list):
    """Functions whose backward returns a new tensor for a big leaf, or one it also keeps."""

    class Fresh(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            out = g * 3
            ctx.ptr = out.data_ptr()
            return out

    class Kept(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            out = g * 3
            kept.append(out)
            return out

    return Fresh, Kept


@pytest.mark.parametrize("lib_name", ["tape", pytest.param("torch", marks=pytest.mark.torch)])
def test_big_leaf_gradient_is_taken_over_only_when_nothing_else_holds_it(lib_name):
    # As PyTorch's AccumulateGrad, which steals a gradient no one else refers to: the leaf's .grad
    # is the memory the backward returned (no copy; checkpointed segments' parameters rely on it),
    # unless the backward kept that tensor, which then stays apart from .grad.
    lib = pytest.importorskip(lib_name)
    kept = []
    Fresh, Kept = _big_grad_functions(lib, kept)
    x = lib.ones(300, 300, requires_grad=True)        # (big enough for the adjoint buffers kept by the tape)
    y = Fresh.apply(x)
    y.sum().backward()
    assert x.grad.data_ptr() == y.grad_fn.ptr
    assert x.grad[0, 0].item() == 3.0
    x.grad = None
    Kept.apply(x).sum().backward()
    assert x.grad.data_ptr() != kept[0].data_ptr()
    x.grad.zero_()
    assert kept[0][0, 0].item() == 3.0 and x.grad[0, 0].item() == 0.0


def test_backward_changing_its_gradient_in_place_changes_nothing_else():
    # (a plain backward hands ``backward`` its gradient as a view of the sweep's own buffer)
    class Twice(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            kept.append(g)
            return g.mul_(2)

    kept = []
    w = tape.tensor([1.0, 2.0], requires_grad=True)
    z = w * 1.0
    ((Twice.apply(z) * 3).sum() + (z * 2).sum() + (Twice.apply(w) * 5).sum()).backward()
    assert w.grad.tolist() == [18.0, 18.0]
    assert [g.tolist() for g in kept] == [[10.0, 10.0], [6.0, 6.0]]


@pytest.mark.torch
def test_an_output_forward_made_is_the_output_itself_vs_torch():
    torch = pytest.importorskip("torch")
    for lib in (tape, torch):
        kept = {}

        class Tanh(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x.tanh()
                kept["y"] = y
                ctx.save_for_backward(y)
                return y, x.detach() * 1.0

            @staticmethod
            def backward(ctx, g, h):
                y, = ctx.saved_tensors
                return g * (1 - y * y)

        x = lib.tensor([0.5, 1.0], requires_grad=True)
        out, other = Tanh.apply(x * 1.0)
        y = kept["y"]
        assert out is y and y.requires_grad and not y.is_leaf and type(y.grad_fn).__name__ == "TanhBackward"
        assert other.requires_grad and other.grad_fn is y.grad_fn
        y.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), 1 - np.tanh([0.5, 1.0]) ** 2, rtol=1e-6)


@pytest.mark.parametrize("outputs", [1, 2])
def test_a_tape_with_a_function_row_hands_its_buffers_on_after_its_backward(outputs):
    # (a tape with a custom Function's row was never spent: each backward parked it and the next
    # step took another tape's buffers; now the next step records into the swept tape's arena,
    # and the spent tape keeps the row's context for the held outputs' nodes)
    Cube, Split = F["Cube"], F["Split"]
    x = tape.tensor(np.linspace(-1.0, 1.0, 64), requires_grad=True)
    w = tape.tensor(np.linspace(0.5, 1.5, 64), requires_grad=True)
    for step in range(2):
        x.grad = w.grad = None
        if outputs == 1:
            loss = (Cube.apply(x.sin()) * w).sum()
        else:
            a, b = Split.apply(x.sin(), w, 2.0)
            loss = (a * b).sum()
        arena = weakref.ref(loss._tape.v64)
        loss.backward()
        assert state.tape is not None and state.tape.v64 is arena()
        node = loss.grad_fn.next_functions[0][0]
        names = [type(n).__name__ for n, _ in node.next_functions if n is not None]
        assert ("CubeBackward" if outputs == 1 else "SplitBackward") in names + [type(node).__name__]
        with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
            loss.backward()
    s = np.sin(np.linspace(-1.0, 1.0, 64))
    wv = np.linspace(0.5, 1.5, 64)
    if outputs == 1:
        np.testing.assert_allclose(x.grad.numpy(), 3 * s ** 2 * np.cos(np.linspace(-1.0, 1.0, 64)) * wv, rtol=1e-12)
        np.testing.assert_allclose(w.grad.numpy(), s ** 3, rtol=1e-12)


def test_mark_dirty_on_a_view_sends_the_base_through_the_function():
    # (PyTorch's CopySlices on the base; the view is derived from it again: AsStridedBackward0)
    class PyAdd(Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.mark_dirty(x)
            x.add_(y)
            return x

        @staticmethod
        def backward(ctx, grad):
            return grad, 2 * grad

    a = tape.ones(4, 4, dtype=tape.float64, requires_grad=True)
    b = tape.ones(2, 2, dtype=tape.float64, requires_grad=True)
    w = tape.arange(16.0, dtype=tape.float64).reshape(4, 4)
    x = a.clone()
    out = PyAdd.apply(x.narrow(1, 2, 2).narrow(0, 1, 2), b)
    assert type(x.grad_fn).__name__ == "CopySlices"
    assert out.grad_fn.name() == "AsStridedBackward0"
    np.testing.assert_array_equal(x.detach().numpy()[1:3, 2:4], 2.0)
    (x * w).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), w.numpy())
    np.testing.assert_array_equal(b.grad.numpy(), 2 * w.numpy()[1:3, 2:4])
