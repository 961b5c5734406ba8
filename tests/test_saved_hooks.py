"""Saved-tensor hooks: ``autograd.graph.saved_tensors_hooks``, ``save_on_cpu``,
``disable_saved_tensors_hooks`` and ``grad_fn._raw_saved_<name>.register_hooks``.

Fixed expectations first (pack and unpack counts and order, release of packed objects, double
backward, custom Functions, every error); ``test_scenarios_vs_torch`` (marker ``torch``) runs the
same scenarios in PyTorch and compares what the hooks saw and the gradients.
"""
from __future__ import annotations

import contextlib
import gc
import weakref

import numpy as np
import pytest

import tape
from tape.autograd.graph import disable_saved_tensors_hooks, save_on_cpu, saved_tensors_hooks

FREED = "Trying to backward through the graph a second time"


def _logging(log: list, tag: str = ""):
    def pack(t):
        log.append(("pack" + tag, tuple(t.shape)))
        return t

    def unpack(t):
        log.append(("unpack" + tag, tuple(t.shape)))
        return t
    return pack, unpack


def test_pack_once_per_saved_tensor_unpack_at_backward():
    log = []
    x = tape.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = tape.tensor([4.0, 5.0, 6.0], requires_grad=True)
    with saved_tensors_hooks(*_logging(log)):
        y = x * w               # saves other, then self
        z = y.exp().sum()       # exp saves its result; sum saves no tensor
    assert [e[0] for e in log] == ["pack"] * 3
    z.backward()
    assert [e[0] for e in log] == ["pack"] * 3 + ["unpack"] * 3
    np.testing.assert_allclose(x.grad.numpy(), (w * (x * w).exp()).detach().numpy(), rtol=1e-6)


def test_pack_gets_the_saved_tensors_in_pytorchs_order():
    seen = []
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    w = tape.tensor([3.0, 4.0], requires_grad=True)
    with saved_tensors_hooks(lambda t: seen.append(t) or t, lambda t: t):
        x * w
    assert seen[0] is w and seen[1] is x
    c = tape.tensor([3.0, 4.0])
    seen.clear()
    with saved_tensors_hooks(lambda t: seen.append(t) or t, lambda t: t):
        x * c                   # x is not saved: c needs no gradient
    assert len(seen) == 1 and seen[0] is c


def test_hooks_on_the_scalar_fast_path_and_big_products():
    log = []
    a = tape.tensor(2.0, dtype=tape.float64, requires_grad=True)
    with saved_tensors_hooks(*_logging(log)):
        y = (a * a).sin() * a.exp()
    assert len(log) == 6
    y.backward()
    assert len(log) == 12
    expect = (2 * 2.0 * np.cos(4.0) * np.exp(2.0) + np.sin(4.0) * np.exp(2.0))
    assert a.grad.item() == pytest.approx(expect)
    A = tape.randn(300, 300, requires_grad=True)       # a BLAS row
    B = tape.randn(300, 300, requires_grad=True)
    log.clear()
    with saved_tensors_hooks(*_logging(log)):
        C = A @ B
    assert log == [("pack", (300, 300))] * 2
    C.sum().backward()
    assert len(log) == 4


def test_innermost_hooks_apply():
    log = []
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    with saved_tensors_hooks(*_logging(log, "1")):
        with saved_tensors_hooks(*_logging(log, "2")):
            y = x.sin()
        z = y.cos()
    z.sum().backward()
    assert [e[0] for e in log] == ["pack2", "pack1", "unpack1", "unpack2"]


def test_unpacked_value_is_what_backward_uses():
    x = tape.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with saved_tensors_hooks(lambda t: t.detach() * 2, lambda t: t):
        y = (x * x).sum()
    g, = tape.autograd.grad(y, x, create_graph=True)
    assert g.tolist() == [4.0, 8.0, 12.0]
    # The unpacked tensors stand for x in the recorded graph (PyTorch rewraps them with x's grad_fn).
    h, = tape.autograd.grad(g.sum(), x)
    assert h.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("create_graph", [False, True])
def test_saved_tensors_that_enter_their_row_cast_and_broadcast(create_graph):
    def run(ctx):
        x = tape.tensor([[1.0], [2.0]], requires_grad=True)                     # float32, (2, 1)
        w = tape.tensor([0.5, 1.5, 2.5], dtype=tape.float64, requires_grad=True)
        with ctx():
            y = (x * w).sin().sum()
        gx, gw = tape.autograd.grad(y, (x, w), create_graph=create_graph)
        out = [gx, gw]
        if create_graph:
            out += tape.autograd.grad((gx.sum() + gw.sum()), (x, w))
        return out

    for a, b in zip(run(contextlib.nullcontext), run(save_on_cpu)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6)


def test_double_backward_with_hooks():
    log = []
    x = tape.tensor([1.0, 2.0, 3.0], dtype=tape.float64, requires_grad=True)
    with saved_tensors_hooks(*_logging(log)):
        y = (x.sin() * x).sum()
    assert len(log) == 3
    g, = tape.autograd.grad(y, x, create_graph=True)
    assert [e[0] for e in log].count("unpack") == 3
    np.testing.assert_allclose(g.detach().numpy(), np.sin([1.0, 2, 3]) + np.arange(1, 4) * np.cos([1.0, 2, 3]))
    h, = tape.autograd.grad(g.sum(), x)
    xs = np.arange(1.0, 4.0)
    np.testing.assert_allclose(h.numpy(), 2 * np.cos(xs) - xs * np.sin(xs))


class _Box:
    def __init__(self, t):
        self.t = t


def test_packed_objects_are_released_after_backward():
    refs = []

    def pack(t):
        box = _Box(t)
        refs.append(weakref.ref(box))
        return box

    x = tape.tensor(2.0, dtype=tape.float64, requires_grad=True)
    with saved_tensors_hooks(pack, lambda box: box.t):
        y = (x * x).exp()
    y.backward(retain_graph=True)
    gc.collect()
    assert len(refs) == 3 and all(r() is not None for r in refs)
    y.backward()
    gc.collect()
    assert all(r() is None for r in refs)
    with pytest.raises(RuntimeError, match=FREED):
        y.grad_fn._saved_result


def test_unpack_must_return_a_tensor():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    with saved_tensors_hooks(lambda t: t, lambda t: 1):
        y = x.exp()
    msg = "Output of saved tensor unpack_hook expected to be a Tensor but got result of type int"
    with pytest.raises(TypeError, match=msg):
        y.grad_fn._saved_result
    with pytest.raises(TypeError, match=msg):
        y.sum().backward()
    with saved_tensors_hooks(lambda t: t, lambda t: None):
        y = x.exp()
    with pytest.raises(TypeError, match="got result of type NoneType"):
        y.grad_fn._saved_result


def test_hooks_must_be_callables():
    with pytest.raises(TypeError, match="incompatible function arguments"):
        with saved_tensors_hooks(1, 2):
            pass


def test_function_save_for_backward_is_packed():
    class F(tape.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b, None)
            return a * b

        @staticmethod
        def backward(ctx, g):
            a, b, none = ctx.saved_tensors
            assert none is None
            return g * b, g * a

    log = []
    x = tape.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with saved_tensors_hooks(*_logging(log)):
        y = F.apply(x, x.exp())
    assert [e[0] for e in log] == ["pack"] * 3      # exp's result, then the Function's a and b
    y.sum().backward()
    assert [e[0] for e in log] == ["pack"] * 3 + ["unpack"] * 3
    np.testing.assert_allclose(x.grad.numpy(), (x.exp() * (1 + x)).detach().numpy(), rtol=1e-6)


def test_save_on_cpu():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    with save_on_cpu(pin_memory=False):
        y = (x * x.sin()).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), (x.sin() + x * x.cos()).detach().numpy(), rtol=1e-6)


def test_disable_saved_tensors_hooks():
    with disable_saved_tensors_hooks("no hooks here"):
        with pytest.raises(RuntimeError, match="no hooks here"):
            with saved_tensors_hooks(lambda t: t, lambda t: t):
                pass
        with disable_saved_tensors_hooks("inner"):
            with pytest.raises(RuntimeError, match="inner"):
                saved_tensors_hooks(lambda t: t, lambda t: t).__enter__()
        with pytest.raises(RuntimeError, match="no hooks here"):
            saved_tensors_hooks(lambda t: t, lambda t: t).__enter__()
        # Hooks on one saved tensor are not disabled.
        x = tape.tensor([1.0], requires_grad=True)
        y = x.exp()
        y.grad_fn._raw_saved_result.register_hooks(lambda t: t, lambda t: t)
    with saved_tensors_hooks(lambda t: t, lambda t: t):
        with pytest.raises(RuntimeError, match="no hooks"):
            with disable_saved_tensors_hooks("no hooks"):
                pass
    with saved_tensors_hooks(lambda t: t, lambda t: t):      # usable again after the error
        pass


def test_raw_saved_register_hooks():
    log = []
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    w = tape.tensor([3.0, 4.0], requires_grad=True)
    y = x * w
    raw = y.grad_fn._raw_saved_self
    raw.register_hooks(lambda t: (log.append("p"), t * 0)[1], lambda t: (log.append("u"), t)[1])
    assert log == ["p"]
    with pytest.raises(RuntimeError, match="whose hooks have already been set"):
        y.grad_fn._raw_saved_self.register_hooks(lambda t: t, lambda t: t)
    with pytest.raises(TypeError, match="incompatible function arguments"):
        y.grad_fn._raw_saved_other.register_hooks(1, 2)
    assert y.grad_fn._saved_self.tolist() == [0.0, 0.0] and log == ["p", "u"]
    y.sum().backward()
    assert log == ["p", "u", "u"]
    assert w.grad.tolist() == [0.0, 0.0] and x.grad.tolist() == [3.0, 4.0]
    with pytest.raises(RuntimeError, match="after it has been freed"):
        y.grad_fn._raw_saved_other.register_hooks(lambda t: t, lambda t: t)
    y = x * tape.tensor([1.0, 1.0])
    with pytest.raises(RuntimeError, match="with value None is forbidden"):
        y.grad_fn._raw_saved_self.register_hooks(lambda t: t, lambda t: t)


def test_no_hooks_no_python_rows():
    # Without hooks the rows are not marked: the sweep runs them in numba (nothing kept per row).
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    assert not y._tape.hooks
    with saved_tensors_hooks(lambda t: t, lambda t: t):
        z = x.exp()
    assert z._tape.hooks[z._node].saved


def _scenarios(torch):
    hooks = torch.autograd.graph.saved_tensors_hooks
    out = {}
    log = []

    def pack(t):
        log.append(("p", tuple(t.shape)))
        return t

    def unpack(t):
        log.append(("u", tuple(t.shape)))
        return t

    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([0.5, 1.5, 2.0], dtype=torch.float64, requires_grad=True)
    A = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=torch.float64, requires_grad=True)
    with hooks(pack, unpack):
        y = ((x * w).tanh() + x.sigmoid() * 2.0 + (A @ x).sum() + x ** 2 + w.pow(x)).sum() / 3.0
    out["forward"] = list(log)
    g = torch.autograd.grad(y, (x, w, A), create_graph=True)
    out["grad"] = [t.detach().numpy().tolist() for t in g]
    out["log"] = list(log)
    return out


@pytest.mark.torch
def test_scenarios_vs_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _scenarios(tape), _scenarios(torch)
    assert sorted(ours["forward"]) == sorted(theirs["forward"])
    assert sorted(ours["log"]) == sorted(theirs["log"])
    for a, b in zip(ours["grad"], theirs["grad"]):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_custom_function_raw_saved_tensors():
    with pytest.raises(RuntimeError, match="^Trying to create a SavedTensor object from Python is forbidden.$"):
        tape.autograd.SavedTensor()
    seen = []

    class MyFn(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, None, x * 2)
            return x * 3

        @staticmethod
        def backward(ctx, g):
            a, n, b = ctx.saved_tensors
            seen.append((a.tolist(), n, b.tolist()))
            return g * 3

    a = tape.tensor([1.0, 2.0], requires_grad=True)
    y = MyFn.apply(a)
    saved = y.grad_fn._raw_saved_tensors
    assert len(saved) == 3 and all(isinstance(s, tape.autograd.SavedTensor) for s in saved)
    for args in [(lambda x: x,), (1, 1)]:
        with pytest.raises(TypeError, match=r"^register_hooks\(\): incompatible function arguments"):
            saved[0].register_hooks(*args)
    with pytest.raises(RuntimeError, match="^Calling register_hooks on a saved tensor with value None is forbidden$"):
        saved[1].register_hooks(lambda x: x, lambda x: x)
    saved[0].register_hooks(lambda x: x * 10, lambda x: x + 1)
    with pytest.raises(RuntimeError, match="whose hooks have already been set"):
        saved[0].register_hooks(lambda x: x, lambda x: x)
    assert y.grad_fn.saved_tensors[0].tolist() == [11.0, 21.0]
    y.sum().backward()
    assert seen == [([11.0, 21.0], None, [2.0, 4.0])]
    assert a.grad.tolist() == [3.0, 3.0]
    for name in ("_raw_saved_tensors", "saved_tensors"):
        with pytest.raises(RuntimeError, match="^Trying to backward through the graph a second time"):
            getattr(y.grad_fn, name)

    class NoSave(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g

    y = NoSave.apply(a)
    assert y.grad_fn._raw_saved_tensors == () and y.grad_fn.saved_tensors == ()


def test_hooks_entered_or_exited_by_unpack_do_not_outlive_backward():
    # PyTorch's engine runs nodes with the hooks the thread had when the backward began.
    outer = saved_tensors_hooks(lambda t: t, lambda t: t)

    def exiting(t):
        outer.__exit__()
        return t

    inner = saved_tensors_hooks(lambda t: t, exiting)
    with outer:
        inner.__enter__()
        tape.randn(3, requires_grad=True).sin().sum().backward()
        inner.__exit__()        # (the stack still holds both: the exit during backward was undone)
    a = tape.tensor(1.0, requires_grad=True)
    a.exp().grad_fn._raw_saved_result.register_hooks(lambda t: t, lambda t: t)     # no hooks active

    def scope():
        def entering(t):
            weak().__enter__()
            return t

        ctx = saved_tensors_hooks(lambda t: t, entering)
        weak = weakref.ref(ctx)
        with ctx:
            tape.randn(3, requires_grad=True).sin().sum().backward()
        return weakref.ref(entering)

    ref = scope()
    gc.collect()
    assert ref() is None
    b = tape.tensor(1.0, requires_grad=True)
    b.exp().grad_fn._raw_saved_result.register_hooks(lambda t: t, lambda t: t)


def test_saved_tensor_data_and_unpack_hook():
    # (PyTorch's test_get_data_and_hooks_from_raw_saved_variable; values read from PyTorch 2.13)
    def pack_hook(t):
        return t

    def unpack_hook(t):
        return t

    a = tape.tensor(2.0, requires_grad=True)
    with tape.autograd.graph.saved_tensors_hooks(pack_hook, unpack_hook):
        b = a ** 2
    c = b.exp()
    d = c ** 2
    pow_sv = b.grad_fn._raw_saved_self
    exp_sv = c.grad_fn._raw_saved_result
    pow2_sv = d.grad_fn._raw_saved_self
    assert pow_sv.data is a and pow_sv.unpack_hook is unpack_hook      # (the packed object as it is)
    assert exp_sv.data is not c and exp_sv.unpack_hook is None
    assert not exp_sv.data.requires_grad and exp_sv.data.grad_fn is None      # (an output: detached)
    assert exp_sv.data.item() == pytest.approx(c.item())
    assert type(pow2_sv.data.grad_fn).__name__ == "ExpBackward0" and pow2_sv.unpack_hook is None

    class F(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            ctx.save_for_backward(x, y, None)
            return y

        @staticmethod
        def backward(ctx, g):
            return g

    raw = F.apply(a).grad_fn._raw_saved_tensors
    assert raw[0].data is a and raw[1].data.item() == 4.0 and raw[2].data is None
    raw[0].register_hooks(lambda t: "packed", lambda p: a)
    assert raw[0].data == "packed" and raw[0].unpack_hook is not None


def test_pack_hooks_run_in_no_grad_mode_and_may_not_change_their_input():
    # (PyTorch's: a pack hook runs with grad mode off; an in-place change of its input raises)
    seen = []

    def pack(x):
        seen.append(tape.is_grad_enabled())
        return x

    a = tape.randn(5, requires_grad=True)
    y = a * a
    y.grad_fn._raw_saved_self.register_hooks(pack, lambda x: x)
    with tape.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
        (a * 2).sum()
    assert seen and not any(seen)

    def inplace_double(x):
        x *= 2
        return x

    t = a * a
    with pytest.raises(RuntimeError, match="^A saved tensor pack hook is modifying its input in place. Tensors "
                                           "provided as input to pack hook cannot be modified"):
        t.grad_fn._raw_saved_self.register_hooks(inplace_double, lambda x: x / 2)


def test_an_unpacked_saved_tensor_has_the_saved_tensors_history():
    # (PyTorch's saved-variable unpacking: the unpack hook's data with the saved tensor's grad_fn;
    # values read from PyTorch 2.13)
    a = tape.randn(5, requires_grad=True)
    y = tape.exp(a)
    y.grad_fn._raw_saved_result.register_hooks(lambda x: x * 2, lambda x: x)
    u = y.grad_fn._saved_result
    assert u.grad_fn is y.grad_fn and u.requires_grad
    assert np.allclose((u / y).tolist(), 2.0)
    b = 1 + a
    z = b * b
    z.grad_fn._raw_saved_self.register_hooks(lambda x: x.detach() * 3, lambda x: x)
    v = z.grad_fn._saved_self
    assert type(v.grad_fn).__name__ == "AddBackward0" and v.requires_grad
    assert np.allclose((v / b).tolist(), 3.0)


def test_a_pack_hook_raising_when_its_block_ends_leaves_no_hooks_on():
    class PackError(Exception):
        pass

    def pack(x):
        raise PackError("pack")

    a = tape.tensor(1.0, requires_grad=True)
    with pytest.raises(PackError):
        with tape.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
            tape.sin(a)
    out = tape.sin(a) * a           # (no hook packs these)
    out.backward()
    assert a.grad.item() == pytest.approx(float(np.sin(1.0) + np.cos(1.0)))


@pytest.mark.parametrize("saved", ["result", "non-leaf input"])
def test_a_pack_hook_changing_a_recorded_value_in_place_gets_pytorchs_error(saved):
    # (a recorded value reaches the hook as a read-only view of the tape's arena)
    def inc(x):
        x += 1
        return x

    a = tape.randn(5, requires_grad=True)
    b = a * 1
    with pytest.raises(RuntimeError, match="^A saved tensor pack hook is modifying its input in place"):
        with tape.autograd.graph.saved_tensors_hooks(inc, lambda x: x):
            tape.exp(a) if saved == "result" else b * b


def test_pack_hooks_run_before_the_op_returns():
    # (PyTorch packs when the op saves: a count, a warning or an exception shows at the op's call)
    log = []
    x = tape.ones(4, requires_grad=True)
    y = tape.ones(4)
    with saved_tensors_hooks(*_logging(log)):
        out = x * y
        assert log == [("pack", (4,))]
        z = out.sin()
        assert len(log) == 2
        out = x.exp()[1:].sum()      # (a method, a view, a reduction: exp saved its result)
        assert len(log) == 3
        s = tape.sin(tape.tensor(0.5, dtype=tape.float64, requires_grad=True))     # (the 0-d fast path)
        assert len(log) == 4
    assert z.requires_grad and s.requires_grad

    class PackError(Exception):
        pass

    def pack(t):
        raise PackError("pack")

    a = tape.tensor(1.0, requires_grad=True)
    with saved_tensors_hooks(pack, lambda t: t):
        with pytest.raises(PackError):
            tape.sin(a)
        b = a + 1                   # (add saves nothing)
    assert b.requires_grad


def test_hooked_front_ends_are_put_back_when_the_hooks_end():
    # (no cost without hooks: the front ends are the registry's own again)
    before = (tape.Tensor.__mul__, tape.Tensor.sin, tape.sin, tape.linalg.det)
    with saved_tensors_hooks(lambda t: t, lambda t: t):
        assert tape.Tensor.__mul__ is not before[0] and tape.sin is not before[2]
        with saved_tensors_hooks(lambda t: t, lambda t: t):
            pass
        assert tape.Tensor.sin is not before[1]
    assert (tape.Tensor.__mul__, tape.Tensor.sin, tape.sin, tape.linalg.det) == before


def test_a_recorded_backward_packs_what_it_saved_before_it_returns():
    # (values and order read from PyTorch 2.13)
    log = []

    def pack(t):
        log.append(t.tolist())
        return 2 * t

    a = tape.ones(2, requires_grad=True)
    s = (a ** 3).sum()
    with saved_tensors_hooks(pack, lambda t: t):
        g, = tape.autograd.grad(s, a, create_graph=True)
        assert log == [[1.0, 1.0], [1.0, 1.0]]
        g.sum().backward()
    assert a.grad.tolist() == [24.0, 24.0]
    log.clear()
    a = tape.ones(2, requires_grad=True)
    with saved_tensors_hooks(pack, lambda t: t):
        s = (a ** 3).sum()
        g, = tape.autograd.grad(s, a, create_graph=True)
        # (the backward's rows save the unpacked value, which stands for ``a``)
        assert log == [[1.0, 1.0], [2.0, 2.0], [1.0, 1.0]]
        g.sum().backward()
    assert g.tolist() == [12.0, 12.0] and a.grad.tolist() == [48.0, 48.0]


def test_a_functions_unpacked_saved_input_keeps_its_history():
    # (save_on_cpu around a non-reentrant checkpoint: the segment's saved argument comes back
    # through the hooks and still requires grad, so the recomputation records its graph)
    a = tape.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
    (a.pow(2).pow(2).pow(2)).sum().backward()
    want = a.grad.clone()
    a.grad = None
    with save_on_cpu():
        h = a.pow(2)
        h = tape.utils.checkpoint.checkpoint(lambda x: x.pow(2), h, use_reentrant=False)
        c = h.pow(2)
    c.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), want.numpy(), rtol=1e-6)


def test_make_saved_tensor_packs_now_and_unpacks_on_each_read():
    # (PyTorch's torch._C._autograd._make_saved_tensor; messages read from PyTorch 2.13)
    log = []
    a = tape.randn(5, requires_grad=True)
    with saved_tensors_hooks(*_logging(log)):
        saved = tape._C._autograd._make_saved_tensor(a, is_output=False)
        assert log == [("pack", (5,))]
        assert saved.unpack() is a and saved.unpack() is a
        assert [e[0] for e in log] == ["pack", "unpack", "unpack"]
    assert saved.data is a and saved.unpack_hook is not None
    b = a * 2
    plain = tape._C._autograd._make_saved_tensor(b, is_output=False)
    assert plain.unpack() is b and plain.unpack_hook is None
    with pytest.raises(RuntimeError, match="^Trying to use a saved tensor that has been detached in-place"):
        tape._C._autograd._make_saved_tensor(b, is_output=True).unpack()
    with pytest.raises(TypeError, match=r"^_make_saved_tensor\(\): incompatible function arguments"):
        tape._C._autograd._make_saved_tensor(b)
    y = a.exp()
    assert y.grad_fn._raw_saved_result.unpack().grad_fn is y.grad_fn
    c = a * b
    assert c.grad_fn._raw_saved_self.unpack() is a and c.grad_fn._raw_saved_other.unpack() is b
    assert b.grad_fn._raw_saved_self.unpack() is None       # (a product with a number saves no tensor)


class _Square(tape.autograd.Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * a

    @staticmethod
    def backward(ctx, g):
        a, = ctx.saved_tensors
        return 2 * g * a


def _boxing(refs: list):
    """A pack hook boxing each saved tensor, with a weak reference to each box in ``refs``."""
    def pack(t):
        box = _Box(t)
        refs.append(weakref.ref(box))
        return box
    return pack


def test_function_packed_objects_are_released_after_a_plain_backward():
    # (loss.backward() of a tape with custom Functions takes the engine's short path)
    refs = []
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    with saved_tensors_hooks(_boxing(refs), lambda box: box.t):
        y = _Square.apply(x * 1.0)
    loss = y.sum()
    gc.collect()
    assert len(refs) == 1 and refs[0]() is not None
    loss.backward()
    gc.collect()
    assert refs[0]() is None and x.grad.tolist() == [2.0, 4.0]


@pytest.mark.parametrize("how", ("backward", "grad"))
@pytest.mark.parametrize("calls", (3, 40))
def test_packed_objects_of_one_graph_among_many_on_a_tape_are_released_with_it(calls, how):
    """Several graphs recorded on one tape (more rows with packed values than the release looks at one
    by one), then a backward of each: each backward frees what was packed for its own graph only."""
    refs = []
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    w = tape.ones(2, requires_grad=True)
    with saved_tensors_hooks(_boxing(refs), lambda box: box.t):
        losses = [(_Square.apply(x * float(k)) * w).exp().sum() for k in range(calls)]
    per_loss = len(refs) // calls
    assert len(refs) == per_loss * calls and per_loss >= 2
    done = []
    for k in (calls - 1, 0, calls // 2):
        if how == "backward":
            losses[k].backward()
        else:
            tape.autograd.grad(losses[k], [x, w])
        done.append(k)
        gc.collect()
        alive = [refs[i]() is not None for i in range(len(refs))]
        assert alive == [i // per_loss not in done for i in range(len(refs))]
