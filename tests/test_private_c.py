"""PyTorch's private names that tests and libraries use (``torch._C``, ``autograd._functions``,
gradcheck's deprecated Jacobian helpers), and the details of the graph they show."""
import warnings

import numpy as np
import pytest

import tape
import tape.autograd._functions
from tape.autograd import Function
from tape.autograd.function import once_differentiable
from tape.autograd.gradcheck import get_analytical_jacobian, get_numerical_jacobian


def _desc(fn):
    if fn is None:
        return "None"
    inner = ", ".join(_desc(f) for f, _ in fn.next_functions)
    return f"{type(fn).__name__}({inner})"


def test_grad_mode_and_graph_task_id():
    assert tape._C.is_grad_enabled()
    with tape.no_grad():
        assert not tape._C.is_grad_enabled()
    ids = []
    t = tape.tensor(1.0, requires_grad=True).clone()
    t.register_hook(lambda g: ids.append(tape._C._current_graph_task_id()))
    for _ in range(3):
        t.backward(retain_graph=True)
    assert [i - ids[0] for i in ids] == [0, 1, 2]
    assert tape._C._current_graph_task_id() == -1


def test_current_graph_task_keep_graph():
    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            seen.append(tape._C._autograd._get_current_graph_task_keep_graph())
            return g

    x = tape.rand(3, requires_grad=True)
    out = Probe.apply(x).sum()
    out.backward(retain_graph=True)
    out.backward()
    tape.autograd.grad(Probe.apply(x).sum(), x, create_graph=True)
    tape.autograd.grad(Probe.apply(x).sum(), x)
    assert seen == [True, False, True, False]
    assert tape._C._autograd._get_current_graph_task_keep_graph()      # (outside a backward)


def test_delayed_error_raises_in_backward_only():
    x = tape.rand(2, requires_grad=True)
    y = tape._C._functions.DelayedError("Boom!", 1)(x)
    assert type(y.grad_fn).__name__ == "Error" and y.grad_fn.name() == "torch::autograd::Error"
    assert repr(y.grad_fn).startswith("<Error object at")
    out = (y * 2).sum()
    g, = tape.autograd.grad(out, y, retain_graph=True)      # (the node itself does not run)
    assert np.array_equal(g.numpy(), [2.0, 2.0])
    with pytest.raises(RuntimeError, match="^Boom!$"):
        out.backward()
    a, b = tape._C._functions.DelayedError(b"bytes too", 2)(x, x * 2)
    assert a.grad_fn is b.grad_fn


def _two_outputs(materialize, seen):
    class Two(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(materialize)
            return x.clone(), x * 2

        @staticmethod
        def backward(ctx, ga, gb):
            seen.append((ga, gb))
            return gb * 2 if ga is None else ga + gb * 2
    return Two


def test_undefined_grad_materialized_or_not():
    seen = []
    x = tape.ones(2, requires_grad=True)
    for materialize in (True, False):
        a, b = _two_outputs(materialize, seen).apply(x)
        u = tape._C._functions.UndefinedGrad()(a)
        assert type(u.grad_fn).__name__ == "UndefinedGradBackward"
        assert u.grad_fn.name() == "torch::autograd::UndefinedGradBackward"
        (u.sum() + b.sum()).backward()
        ga, gb = seen[-1]
        assert (ga is None) if not materialize else np.array_equal(ga.numpy(), [0.0, 0.0])
        assert np.array_equal(x.grad.numpy(), [2.0, 2.0])
        x.grad = None
    y = tape._C._functions.UndefinedGrad()(x * 3)
    y.sum().backward()
    assert x.grad is None


def test_will_engine_execute_node():
    class MyFunction(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    def node(t):
        return t.clone().grad_fn.next_functions[0][0] if t.grad_fn is None else t.grad_fn

    a = tape.randn(2, 3, requires_grad=True)
    a2 = tape.randn(2, 3, requires_grad=True)
    b = a * a2
    b2 = b.cos()
    c = MyFunction.apply(b)
    answers = []
    nodes = [node(t) for t in (a, a2, b, b2, c)]

    def hook(_):
        answers.append([tape._C._will_engine_execute_node(n) for n in nodes])

    b.register_hook(hook)
    c.register_hook(hook)
    out = c.sum()
    tape.autograd.backward(out, inputs=(a, b), retain_graph=True)
    assert answers == [[True, False, True, False, True]] * 2
    answers.clear()
    tape.autograd.backward(out, retain_graph=True)
    assert answers == [[True, True, True, False, True]] * 2
    with pytest.raises(RuntimeError, match=r"currently running autograd.grad\(\)"):
        tape.autograd.grad(out, (a,))
    with pytest.raises(RuntimeError, match="should only be called during the backward pass"):
        tape._C._will_engine_execute_node(out.grad_fn)
    with pytest.raises(RuntimeError, match="expects an grad_fn, but got Tensor"):
        tape._C._will_engine_execute_node(out)


def test_unsafe_set_version_counter():
    x = tape.ones(2, requires_grad=True).clone()
    x.add_(1)
    x.add_(2)
    tape._C._autograd._unsafe_set_version_counter((x,), (0,))
    assert x._version == 0
    with pytest.raises(RuntimeError, match="^Cannot set a version_counter to a value below 0: -1$"):
        tape._C._autograd._unsafe_set_version_counter((x,), (-1,))
    with pytest.raises(RuntimeError, match="^tensors_len=2, versions_len=1$"):
        tape._C._autograd._unsafe_set_version_counter((x, x), (1,))
    assert tape._C._autograd.SavedTensor is tape.autograd.SavedTensor


def test_resize():
    x = tape.ones(2, 3, requires_grad=True)
    r = tape.autograd._functions.Resize.apply(x, (3, 2))
    assert r.shape == (3, 2) and type(r.grad_fn).__name__ == "ResizeBackward"
    (r * tape.arange(6.0).view(3, 2)).sum().backward()
    assert np.array_equal(x.grad.numpy(), np.arange(6.0).reshape(2, 3))
    with pytest.raises(RuntimeError, match=r"^requested resize to 4 \(4 elements in total\), but the given tensor "
                                           r"has a size of 2x3 \(6 elements\)"):
        tape.autograd._functions.Resize.apply(x, (4,))


@pytest.mark.torch
def test_tensor_resize_vs_torch():
    torch = pytest.importorskip("torch")

    def facts(lib):
        out = []
        for rg in (False, True):
            x = lib.arange(6.0).reshape(2, 3).requires_grad_(rg)
            with pytest.warns(UserWarning, match="^non-inplace resize is deprecated$"):
                y = x.resize(3, 2)
            out.append((tuple(y.shape), y._base is x, tuple(x.shape), type(y.grad_fn).__name__, y.tolist()))
            if rg:
                (y * lib.arange(6.0).reshape(3, 2)).sum().backward()
                out.append(x.grad.tolist())
            with pytest.raises(RuntimeError) as e, pytest.warns(UserWarning):
                x.resize(4, 2)
            out.append(str(e.value))
        return out

    assert facts(tape) == facts(torch)


def test_node_classes_are_nodes():
    Node = tape.autograd.graph.Node
    assert issubclass(tape._C._functions.AccumulateGrad, Node)
    assert not isinstance(tape._C._functions.AccumulateGrad, Node)
    assert issubclass(tape._C._functions.DelayedError, Node)
    assert issubclass(tape.autograd.function.BackwardCFunction, Node)
    assert issubclass(type(tape.rand(2, requires_grad=True).exp().grad_fn), Node)
    assert issubclass(Node, Node) and not issubclass(int, Node)


def test_node_is_an_abstract_base_class():
    # (as PyTorch's: its methods are abstract, so a class of one's own implements them)
    Node = tape.autograd.graph.Node
    assert sorted(Node.__abstractmethods__) == ["_input_metadata", "_register_hook_dict", "_sequence_nr", "metadata",
                                                "name", "next_functions", "register_hook", "register_prehook"]
    with pytest.raises(TypeError, match="Can't instantiate abstract class Node"):
        Node()
    for name in ("name", "next_functions", "metadata", "register_hook", "register_prehook"):
        assert hasattr(Node, name)

    class Mine(Node):
        pass
    with pytest.raises(TypeError, match="Can't instantiate abstract class Mine"):
        Mine()
    x = tape.rand(2, requires_grad=True)
    assert isinstance((x * 2).grad_fn, Node) and isinstance((x * 2).grad_fn.next_functions[0][0], Node)
    assert not isinstance(x, Node) and not isinstance(Mine, Node)


def test_once_differentiable_graph_and_create_graph_accumulation():
    class MyFunction(Function):
        @staticmethod
        def forward(ctx, t1, k, t2):
            ctx.k = k
            ctx.save_for_backward(t1, t2)
            return t1 + k * t2 + t1 * t2

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            t1, t2 = ctx.saved_tensors
            return g + g * t2, None, g * ctx.k + g * t1

    x = tape.randn(3, requires_grad=True)
    y = tape.randn(3, requires_grad=True)
    MyFunction.apply(x, 2, y).sum().backward(tape.ones((), requires_grad=True), create_graph=True)
    assert _desc(x.grad.grad_fn) == "CopyBackwards(None, Error(AccumulateGrad(), None, AccumulateGrad()))"
    with pytest.raises(RuntimeError, match="differentiate twice a function that was marked with @once_differentiable"):
        x.grad.sum().backward()


@pytest.mark.torch
def test_recorded_grad_accumulation_vs_torch():
    torch = pytest.importorskip("torch")
    for lib in (tape, torch):
        x = lib.randn(3, requires_grad=True)
        y = x * 2
        y.retain_grad()
        (y * y * x).sum().backward(create_graph=True)
        names = [type(x.grad.grad_fn).__name__, type(y.grad.grad_fn).__name__]
        (y * y * x).sum().backward(create_graph=True)
        names.append(type(x.grad.grad_fn).__name__)
        if lib is tape:
            ours = names
    assert ours == names == ["CopyBackwards", "CloneBackward0", "AddBackward0"]


def test_tensor_attribute_deletion_and_data():
    x = tape.randn(2, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="^Deleting tensor data is not allowed. Delete tensor instead!$"):
        del x.data
    with pytest.raises(RuntimeError, match="^requires_grad must be a bool$"):
        del x.requires_grad
    with pytest.raises(TypeError, match="^Variable data has to be a tensor, but got NoneType$"):
        x.data = None
    a = tape.tensor(1.0, requires_grad=True)
    a.data = tape.tensor(2.0)
    with pytest.raises(RuntimeError, match="must be floating point or complex dtype"):
        a.data = tape.tensor(3)
    b = tape.tensor(1.0)
    b.data = tape.tensor(3)
    assert b.dtype is tape.int64


def test_numpy_under_no_grad():
    x = tape.randn(2, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="Can't call numpy"):
        x.numpy()
    with tape.no_grad():
        assert x.numpy().shape == (2, 2)


def test_gradcheck_stride_zero_input():
    x = tape.ones(1, dtype=tape.float64, requires_grad=True).expand(2, 2)
    for fast in (False, True):
        with pytest.raises(RuntimeError, match="^The 0th input has a dimension with stride 0"):
            tape.autograd.gradcheck(lambda x: x, (x,), raise_exception=False, fast_mode=fast)


def test_deprecated_jacobian_helpers():
    a = tape.rand(2, 2, requires_grad=True, dtype=tape.float64)
    b = tape.rand(2, 2, requires_grad=True, dtype=tape.float64)
    eye = np.eye(4)
    with pytest.warns(FutureWarning, match="`get_numerical_jacobian` was part of PyTorch's private API"):
        ja, jb = get_numerical_jacobian(lambda ins: (2 * ins[0] + ins[1], ins[0]), (a, b), eps=1e-6)
    np.testing.assert_allclose(ja.numpy(), 2 * eye, atol=1e-6)
    np.testing.assert_allclose(jb.numpy(), eye, atol=1e-6)
    with pytest.warns(FutureWarning):
        only, = get_numerical_jacobian(lambda ins: 2 * ins[0] + ins[1], (a, b), target=b, eps=1e-6)
    np.testing.assert_allclose(only.numpy(), eye, atol=1e-6)
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="^Expected grad_out to be 1.0"):
        get_numerical_jacobian(lambda ins: ins[0], (a,), grad_out=2.0)
    with pytest.warns(FutureWarning, match="`get_analytical_jacobian` was part of PyTorch's private API"):
        jac, reentrant, sizes_ok, types_ok = get_analytical_jacobian((a, b), 2 * a + b)
    assert np.array_equal(jac[0].numpy(), 2 * eye) and np.array_equal(jac[1].numpy(), eye)
    assert reentrant and sizes_ok and types_ok

    class Jitter(Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            return g * (1 + tape.rand_like(g) * 1e-6)

    with pytest.warns(FutureWarning):
        assert not get_analytical_jacobian((a,), Jitter.apply(a))[1]


def test_saved_undefined_index_is_a_saved_tensor():
    a = tape.ones(2, 2, requires_grad=True)
    raw = a[:, tape.tensor([0, 1])].grad_fn._raw_saved_indices
    assert len(raw) == 2 and all(isinstance(s, tape._C._autograd.SavedTensor) for s in raw)
    raw[1].register_hooks(lambda x: x, lambda x: x)
    with pytest.raises(RuntimeError, match="^Calling register_hooks on a saved tensor with value None is forbidden$"):
        raw[0].register_hooks(lambda x: x, lambda x: x)


@pytest.mark.torch
def test_logit_saved_eps_vs_torch():
    torch = pytest.importorskip("torch")
    for eps in (None, 1.0, 0, 0.25, -1.0):
        got = []
        for lib in (tape, torch):
            x = lib.tensor([0.1, 0.5, 0.95], dtype=lib.float64, requires_grad=True)
            y = lib.logit(x) if eps is None else lib.logit(x, eps)
            g, = lib.autograd.grad(y.sum(), x)
            got.append((y.grad_fn._saved_eps, type(y.grad_fn._saved_eps), g.tolist()))
        assert got[0][:2] == got[1][:2]
        np.testing.assert_allclose(got[0][2], got[1][2], rtol=1e-12)


@pytest.mark.torch
def test_threshold_and_lambd_saved_as_given_vs_torch():
    torch = pytest.importorskip("torch")

    def shown(lib):
        x = lib.zeros(5, requires_grad=True)
        out = []
        for th in (1.0, 1, False, True, 2.5):
            v = lib.threshold(x, th, 0).grad_fn._saved_threshold
            out.append((v, type(v)))
            if not isinstance(th, bool):
                v = lib.nn.functional.hardshrink(x, th) if lib is torch else lib.hardshrink(x, th)
                out.append((v.grad_fn._saved_lambd, type(v.grad_fn._saved_lambd)))
        v = lib.threshold_(x.clone(), 1, 0).grad_fn._saved_threshold
        return out + [(v, type(v))]

    assert shown(tape) == shown(torch)


@pytest.mark.torch
def test_as_strided_node_shows_its_arguments_vs_torch():
    torch = pytest.importorskip("torch")

    def shown(lib):
        a = lib.ones(2, 2, requires_grad=True)
        out = []
        for args in (((3,), (1,), 1), ((3,), (1,)), ([2, 1], [1, 2], 0)):
            y = a.as_strided(*args)
            f = y.grad_fn
            out.append((type(f).__name__, f._saved_size, f._saved_stride, f._saved_storage_offset,
                        sorted(n for n in dir(f) if n.startswith("_saved_"))))
            y.sum().backward()
            out.append((f._saved_size, f._saved_storage_offset))      # (kept after backward: no tensors)
        f = a.clone().as_strided_((3,), (1,), 1).grad_fn
        return out + [(type(f).__name__, f._saved_size, f._saved_stride, f._saved_storage_offset), a.grad.tolist()]

    assert shown(tape) == shown(torch)


def test_current_autograd_node():
    assert tape._C._current_autograd_node() is None
    seen = []

    class Twice(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            seen.append(tape._C._current_autograd_node())
            return g * 2

    x = tape.ones(2, requires_grad=True)
    y = Twice.apply(x)
    y.sum().backward()
    assert seen == [y.grad_fn]
    assert tape._C._current_autograd_node() is None

    def unpack(t):
        seen.append(tape._C._current_autograd_node().name())
        return t

    with tape.autograd.graph.saved_tensors_hooks(lambda t: t, unpack):
        z = (x * x).exp().sum()
    z.backward()
    assert seen[1:] == ["ExpBackward0", "MulBackward0", "MulBackward0"]


def test_post_hook_registered_while_its_node_runs():
    # var_mean's node saves the input only (one pack, one unpack), and a post hook registered
    # from the unpack hook runs after the node, seeing no grad_outputs (PyTorch moved them away).
    a = tape.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 7.0], [0.0, 1.0, 1.0]], requires_grad=True)
    log = []

    def unpack(t):
        node = tape._C._current_autograd_node()

        def hook(grad_inputs, grad_outputs):
            log.append((node.name(), grad_outputs))
            return tuple(g / 2.0 for g in grad_inputs)

        node.register_hook(hook)
        return t

    var, mean = tape.var_mean(a, dim=0)
    (var + mean).sum().backward()
    full = a.grad.clone()
    a.grad = None
    with tape.autograd.graph.saved_tensors_hooks(lambda t: (log.append("pack"), t)[1], unpack):
        var, mean = tape.var_mean(a, dim=0)
    (var + mean).sum().backward()
    assert log == ["pack", ("VarMeanBackward0", ())]
    assert a.grad.tolist() == (full / 2.0).tolist()
    assert sorted(n for n in dir(var.grad_fn) if n.startswith("_saved")) == [
        "_saved_correction", "_saved_dim", "_saved_keepdim", "_saved_self"]


def test_weak_tensor_ref_and_saved_tensors_hooks_is_enabled():
    # (PyTorch's test_retain_grad_cycle and test_disabling_saved_tensor_hooks use these)
    x = tape.ones(2, requires_grad=True)

    def run():
        y = x * 2
        y.retain_grad()
        return y / 2, tape._C._WeakTensorRef(y)

    z, ref = run()
    assert ref.expired()        # (retain_grad makes no cycle)
    z.sum().backward()
    keep = tape._C._WeakTensorRef(z)
    assert not keep.expired()
    assert tape._C._autograd._saved_tensors_hooks_is_enabled()
    with tape.autograd.graph.disable_saved_tensors_hooks("outer"):
        assert not tape._C._autograd._saved_tensors_hooks_is_enabled()
    assert tape._C._autograd._saved_tensors_hooks_is_enabled()


def test_current_graph_task_execution_order():
    # (orders read from PyTorch 2.13)
    seen = []

    def hook(_):
        seen.append([n.name() for n in tape._C._current_graph_task_execution_order()])

    with pytest.raises(RuntimeError, match="should only be called during the backward pass"):
        tape._C._current_graph_task_execution_order()
    a = tape.tensor(1.0, requires_grad=True)
    b = tape.tensor(2.0, requires_grad=True)
    out = b.sin() * a.cos()
    out.register_hook(hook)
    with pytest.raises(RuntimeError, match="expects the current backward to be executed with multithreading disabled"):
        out.backward(retain_graph=True)
    with tape.autograd.set_multithreading_enabled(False):
        out.backward()
    acc = "torch::autograd::AccumulateGrad"
    assert seen[-1] == ["MulBackward0", "CosBackward0", acc, "SinBackward0", acc]
    a = tape.tensor(1.0, requires_grad=True)
    b = a * 2
    o1, o2, o3 = b.sin(), b.cos(), b.cos()
    o3.register_hook(hook)
    with tape.autograd.set_multithreading_enabled(False):
        tape.autograd.grad((o1, o3, o2), inputs=(a,))
    assert seen[-1] == ["CosBackward0", "CosBackward0", "SinBackward0", "MulBackward0", acc]


def test_autograd_names_the_package_as_torch():
    assert tape.autograd.torch is tape


def _use_counts(L) -> list:
    # (PyTorch's test_node_lifecycle: AccumulateGrad holds the leaf while a graph using it lives)
    out = []
    a = L.randn(4, requires_grad=True)
    out.append(a._use_count())
    b = a * 2
    out.append(a._use_count())
    b0, b1 = b.split(2)
    del b
    out.append(a._use_count())
    b0.sum().backward(retain_graph=True)
    out.append(a._use_count())
    del b0
    out.append(a._use_count())
    del b1
    out.append(a._use_count())
    out.append(L.ones(2)._use_count())
    return out


@pytest.mark.torch
def test_use_count_of_a_leaf_follows_its_graph_as_torch():
    torch = pytest.importorskip("torch")
    assert _use_counts(tape) == _use_counts(torch)
