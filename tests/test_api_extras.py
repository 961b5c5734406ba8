"""Layouts and memory formats, creation keywords (``layout``, ``pin_memory``, ``generator``,
``memory_format``), ``is_inference``, ``set_multithreading_enabled``, ``autograd.grad_mode``,
``graph.increment_version``, ``InplaceFunction`` and ``Variable._execution_engine``: as PyTorch's
(fixed expectations, and compared with torch where it is installed)."""
import pickle

import pytest

import tape


def _facts(lib) -> list:
    """Strides, node names, contiguity and errors of the memory-format operations."""
    out = []

    def r(f):
        try:
            y = f()
            out.append((y.stride(), type(y.grad_fn).__name__, y.is_contiguous(),
                        y.is_contiguous(memory_format=lib.channels_last)) if isinstance(y, lib.Tensor) else repr(y))
        except Exception as e:      # noqa: BLE001 (the error is what is compared)
            out.append((type(e).__name__, str(e)))

    x = lib.ones(2, 3, 4, 5, requires_grad=True)
    cl = lib.channels_last
    r(lambda: x.to(memory_format=cl))
    r(lambda: x.contiguous(memory_format=cl))
    r(lambda: x.clone(memory_format=cl))
    r(lambda: x.clone(memory_format=lib.contiguous_format))
    r(lambda: x.contiguous(memory_format=cl).contiguous())
    r(lambda: x.contiguous(memory_format=cl).contiguous(memory_format=cl) is not None)
    r(lambda: x.contiguous(memory_format=cl) * 2)
    r(lambda: lib.zeros_like(x.contiguous(memory_format=cl)))
    r(lambda: lib.ones_like(x.contiguous(memory_format=cl), memory_format=lib.contiguous_format))
    r(lambda: lib.full_like(x.transpose(0, 1), 2.0))
    r(lambda: lib.empty_like(x, memory_format=cl))
    r(lambda: lib.empty_like(x, memory_format=lib.channels_last_3d))
    r(lambda: lib.rand_like(x.contiguous(memory_format=cl)))
    r(lambda: x.to(lib.float64, memory_format=cl))
    r(lambda: x.transpose(0, 1).clone())
    r(lambda: x.transpose(0, 1).contiguous(memory_format=lib.preserve_format))
    r(lambda: x.contiguous(memory_format=lib.preserve_format))
    r(lambda: x.clone(memory_format=3))
    r(lambda: x.is_contiguous(memory_format=3))
    r(lambda: lib.ones(2, 3).contiguous(memory_format=cl))
    r(lambda: lib.ones(2, 1, 1, 1).is_contiguous(memory_format=cl))
    r(lambda: lib.ones(2, 3, 4, 5, 6).contiguous(memory_format=lib.channels_last_3d))
    r(lambda: lib.empty(2, 3, 4, 5, memory_format=cl))
    r(lambda: lib.empty(2, 3, memory_format=lib.preserve_format))
    r(lambda: lib.empty(2, 3, layout=3))
    r(lambda: lib.zeros(2, layout=lib.strided))
    r(lambda: lib.zeros(2, layout=None))
    r(lambda: lib.rand(2, pin_memory=True))
    r(lambda: lib.tensor([1.0], pin_memory=True))
    r(lambda: (x.layout, lib.strided, lib.contiguous_format, lib.preserve_format, lib.channels_last,
               lib.channels_last_3d, lib.strided == lib.strided))
    r(lambda: lib.is_inference(x))
    r(lambda: lib.is_inference(3))
    return out


def test_memory_formats_fixed():
    facts = _facts(tape)
    assert facts[0] == ((60, 1, 15, 3), "ToCopyBackward0", False, True)
    assert facts[1] == ((60, 1, 15, 3), "CloneBackward0", False, True)
    assert facts[4] == ((60, 20, 5, 1), "CloneBackward0", True, False)
    assert facts[7] == ((60, 1, 15, 3), "NoneType", False, True)
    assert facts[9][0] == (20, 60, 5, 1)
    assert facts[15] == ("RuntimeError", "preserve memory format is unsupported by the contiguous operator")
    assert facts[16][0] == (60, 20, 5, 1)       # already contiguous: itself
    assert facts[19] == ("RuntimeError", "required rank 4 tensor to use channels_last format")
    assert facts[20] == "True"
    assert facts[23] == ("RuntimeError", "unsupported memory format Preserve")
    assert facts[24] == ("TypeError", "empty(): argument 'layout' must be torch.layout, not int")
    assert facts[-3] == ("(torch.strided, torch.strided, torch.contiguous_format, torch.preserve_format, "
                         "torch.channels_last, torch.channels_last_3d, True)")


@pytest.mark.torch
def test_memory_formats_match_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _facts(tape), _facts(torch)
    # (the argument-type errors differ in wording: PyTorch's parser lists every signature)
    assert [o for o in ours if "must be torch.memory_format" not in str(o)] == \
        [t for t in theirs if "must be torch.memory_format" not in str(t) and "invalid combination" not in str(t)]


def test_layout_objects_pickle():
    assert pickle.loads(pickle.dumps(tape.strided)) is tape.strided
    assert pickle.loads(pickle.dumps(tape.channels_last)) is tape.channels_last


def test_generator_keyword_draws_from_that_generator():
    g1, g2 = tape.Generator().manual_seed(7), tape.Generator().manual_seed(7)
    for make in (lambda g: tape.rand(3, generator=g), lambda g: tape.randn(2, 2, generator=g),
                 lambda g: tape.randint(0, 9, (4,), generator=g),
                 lambda g: tape.rand_like(tape.ones(3), generator=g)):
        a, b = make(g1), make(g2)
        assert a.tolist() == b.tolist()
    tape.manual_seed(0)
    first = tape.rand(3).tolist()
    tape.manual_seed(0)
    tape.rand(3, generator=tape.Generator().manual_seed(1))      # does not draw from the default one
    assert tape.rand(3).tolist() == first


def test_multithreading_setting():
    assert tape.autograd.is_multithreading_enabled()
    with tape.autograd.set_multithreading_enabled(False):
        assert not tape.autograd.is_multithreading_enabled()
        x = tape.ones(2, requires_grad=True)
        (x * 2).sum().backward()        # the backward runs (on the calling thread, as always)
        assert x.grad.tolist() == [2.0, 2.0]
    assert tape.autograd.is_multithreading_enabled()
    setting = tape.autograd.set_multithreading_enabled(False)    # as a function: at once
    assert not tape.autograd.is_multithreading_enabled()
    setting.__exit__(None, None, None)
    assert tape.autograd.is_multithreading_enabled()

    @tape.autograd.grad_mode.set_multithreading_enabled(True)
    def inside() -> bool:
        return tape.autograd.is_multithreading_enabled()
    assert inside()
    assert tape.autograd.grad_mode.no_grad is tape.no_grad
    assert tape.autograd.grad_mode.inference_mode is tape.inference_mode


def test_increment_version_makes_backward_refuse():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    tape.autograd.graph.increment_version(y)
    assert y._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    tape.autograd.graph.increment_version([x])
    assert x._version == 1
    with pytest.raises(RuntimeError, match="increment_version expect a Iterable"):
        tape.autograd.graph.increment_version(3)
    with pytest.raises(RuntimeError, match="each element of the iterable to be a tensor"):
        tape.autograd.graph.increment_version([x, 3])
    with tape.inference_mode():
        w = tape.ones(2)
    tape.autograd.graph.increment_version(w)     # no version counter: left alone
    assert tape.is_inference(w)


def test_inplace_function():
    class Double(tape.autograd.function.InplaceFunction):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = tape.ones(2, requires_grad=True)
    Double.apply(x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    assert Double(inplace=True).inplace and not Double().inplace


def test_a_queued_callback_sees_the_leaf_gradients_accumulated():
    # (PyTorch runs the final callbacks after AccumulateGrad, into a .grad there already too)
    engine = tape.autograd.Variable._execution_engine
    w = tape.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    for backward in (lambda y: y.backward(), lambda y: tape.autograd.backward(y, inputs=[w])):
        y = w * 3
        y.register_hook(lambda g: engine.queue_callback(lambda: seen.append(w.grad.tolist())) or g)
        backward((y * w).sum())
    assert seen == [[6.0, 12.0], [12.0, 24.0]]


def test_execution_engine():
    engine = tape.autograd.Variable._execution_engine
    with pytest.raises(RuntimeError, match="Final callbacks can only be installed during backward pass."):
        engine.queue_callback(lambda: None)
    order = []

    def hook(g):
        engine.queue_callback(lambda: order.append("callback"))
        order.append("hook")
        return g

    x = tape.ones(2, requires_grad=True)
    y = x * 2
    y.register_hook(hook)
    y.sum().backward()
    assert order == ["hook", "callback"]
    order.clear()

    def adds_one():
        order.append("first")
        engine.queue_callback(lambda: order.append("queued by a callback"))

    y = x * 2
    y.register_hook(lambda g: engine.queue_callback(adds_one))
    y.sum().backward()
    assert order == ["first", "queued by a callback"]
    y = (x * 3).sum()
    assert engine.run_backward((y,), (tape.tensor(1.0),), False, False, (), True, True) is None
    assert x.grad.tolist() == [7.0, 7.0]
    y = (x * 3).sum()
    (g,) = engine.run_backward((y,), (tape.tensor(1.0),), False, False, (x,), True, False)
    assert g.tolist() == [3.0, 3.0] and x.grad.tolist() == [7.0, 7.0]
    assert engine.is_checkpoint_valid()


def _mutation_cases(lib) -> list:
    """``allow_mutation_on_saved_tensors``: gradients and errors."""
    graph = lib.autograd.graph
    out = []

    def r(f):
        try:
            out.append(f())
        except Exception as e:      # noqa: BLE001 (the error is what is compared)
            out.append((type(e).__name__, str(e)[:120]))

    def changed_after_saved():
        with graph.allow_mutation_on_saved_tensors() as ctx:
            a = lib.ones(2, 3, requires_grad=True)
            b = a.clone()
            o = (b ** 2).sum()
            b.sin_()
            o.backward()
            return a.grad.tolist(), len(ctx.cloned) >= 0

    def through_a_view():
        with graph.allow_mutation_on_saved_tensors():
            a = lib.ones(2, 3, requires_grad=True)
            b = a.clone()
            c = b.view_as(b)
            o = (b ** 2).sum()
            c.sin_()
            return lib.autograd.grad(o, a)[0].tolist()

    def second_order():
        with graph.allow_mutation_on_saved_tensors():
            a = lib.ones(2, 3, requires_grad=True)
            b = a.clone()
            o = (b ** 2).sum()
            b.sin_()
            (da,) = lib.autograd.grad(o, a, create_graph=True)
            return lib.autograd.grad(da.sum(), a)[0].tolist()

    def through_detach_then_used_again():
        with graph.allow_mutation_on_saved_tensors():
            a = lib.ones(2, dtype=lib.float64, requires_grad=True)
            b = a.clone() * 1.5
            d = b.detach()
            o1 = (b ** 2).sum()
            d.sin_()
            o2 = (b * b).sum()
            return (lib.autograd.grad(o1, a, retain_graph=True)[0].tolist(),
                    [round(v, 12) for v in lib.autograd.grad(o2, a)[0].tolist()])

    def backward_after_the_context():
        with graph.allow_mutation_on_saved_tensors():
            a = lib.ones(2, 3, requires_grad=True)
            o = (a ** 2).sum()
        o.backward()

    def saving_nothing_after_the_context():
        with graph.allow_mutation_on_saved_tensors():
            a = lib.ones(2, 3, requires_grad=True)
            o = (a * 2).sum()
        o.backward()
        return a.grad.tolist()

    def nested():
        with graph.allow_mutation_on_saved_tensors():
            with graph.allow_mutation_on_saved_tensors():
                pass

    def recorded_before_the_context():
        a = lib.ones(2, 3, requires_grad=True)
        b = a.clone()
        o = (b ** 2).sum()
        with graph.allow_mutation_on_saved_tensors():
            b.sin_()
            o.backward()

    def backward_in_another_context():
        with graph.allow_mutation_on_saved_tensors():
            a = lib.ones(2, 3, requires_grad=True)
            o = (a ** 2).sum()
        with graph.allow_mutation_on_saved_tensors():
            o.backward()

    for f in (changed_after_saved, through_a_view, second_order, through_detach_then_used_again,
              backward_after_the_context, saving_nothing_after_the_context, nested, recorded_before_the_context,
              backward_in_another_context):
        r(f)
    return out


def test_allow_mutation_on_saved_tensors():
    cases = _mutation_cases(tape)
    twos = [[2.0] * 3] * 2
    assert cases[0] == (twos, True)
    assert cases[1] == twos and cases[2] == twos
    assert cases[3] == ([4.5, 4.5], [round(2 * 1.5 * __import__("math").sin(1.5), 12)] * 2)
    assert cases[4] == ("AssertionError", "Trying to backward outside of the 'allow_mutation_on_saved_tensors' "
                                          "contextin which the graph was originally recorded.")
    assert cases[5] == twos
    assert cases[6] == ("RuntimeError", "allow_mutation_on_saved_tensors contexts cannot be nested")
    assert cases[7][0] == "RuntimeError" and "modified by an inplace operation" in cases[7][1]
    assert cases[8] == cases[4]
    assert tape._state.mutation_allowed[0] is None


@pytest.mark.torch
def test_allow_mutation_on_saved_tensors_matches_torch():
    torch = pytest.importorskip("torch")
    assert _mutation_cases(tape) == _mutation_cases(torch)


def _out_cases(lib) -> list:
    """``out=`` of function forms: values, identity of the result, versions, warnings and errors."""
    import warnings
    out = []

    def r(f):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                value = f()
                values = [value] if isinstance(value, lib.Tensor) else list(value)
                rounded = [lib.round(v.double(), decimals=6).tolist() for v in values]
                out.append((rounded[0] if isinstance(value, lib.Tensor) else rounded,
                            [str(w.message)[:60] for w in caught]))
            except Exception as e:      # noqa: BLE001 (the error is what is compared)
                out.append((type(e).__name__, str(e)))

    a = lib.ones(2)

    def same_object():
        o = lib.zeros(2)
        res = lib.sin(a, out=o)
        return lib.tensor([float(res is o), float(o._version > 0)])

    r(same_object)
    r(lambda: lib.sin(a, out=lib.zeros(3)))
    r(lambda: lib.sin(a, out=lib.zeros(0)))
    r(lambda: lib.sin(a, out=lib.zeros(2, dtype=lib.int64)))
    r(lambda: lib.sin(lib.ones(2, requires_grad=True), out=lib.zeros(2)))
    r(lambda: lib.sin(a, out=lib.zeros(2, requires_grad=True)))
    r(lambda: lib.sin(a, out=3))
    r(lambda: lib.add(a, a, out=lib.zeros(2, dtype=lib.float64)))
    r(lambda: lib.add(lib.tensor([1, 2]), 1, out=lib.zeros(2)))
    r(lambda: lib.mul(a, 3.0, out=lib.zeros(2)))
    r(lambda: lib.matmul(lib.ones(2, 2), lib.ones(2, 2), out=lib.zeros(2, 2)))
    r(lambda: lib.cat([a, a], out=lib.zeros(4)))
    r(lambda: lib.max(lib.tensor([[1.0, 3.0]]), 1, out=(lib.zeros(1), lib.zeros(1, dtype=lib.int64))))
    r(lambda: lib.exp(lib.tensor(0.5, dtype=lib.float64), out=lib.zeros((), dtype=lib.float64)))

    def in_no_grad():
        with lib.no_grad():
            return lib.sin(lib.ones(2, requires_grad=True), out=lib.zeros(2))
    r(in_no_grad)
    return out


def test_out_argument():
    cases = _out_cases(tape)
    assert cases[0] == ([1.0, 1.0], [])
    assert cases[1][1] and cases[1][1][0].startswith("An output with one or more elements was resized")
    assert cases[2][1] == []
    assert cases[3] == ("RuntimeError", "result type Float can't be cast to the desired output type Long")
    assert cases[4] == cases[5] == ("RuntimeError", "sin(): functions with out=... arguments don't support "
                                    "automatic differentiation, but one of the arguments requires grad.")
    assert cases[6] == ("TypeError", "sin(): argument 'out' must be Tensor, not int")
    assert cases[12] == ([[3.0], [1]], [])


@pytest.mark.torch
def test_out_argument_matches_torch():
    torch = pytest.importorskip("torch")
    assert _out_cases(tape) == _out_cases(torch)


def _storage_facts(lib) -> list:
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = lib.arange(6.0).reshape(2, 3)[:, 1:]
        s, u = x.storage(), x.untyped_storage()
        y = lib.ones(2, 3).t()
        return [s.data_ptr() == x.data_ptr() - x.storage_offset() * 4, s.size(), len(s), str(s.dtype), str(s.device),
                s.element_size(), s.nbytes(), s[0], s.tolist(), u.nbytes(), u.size(), len(u), u.element_size(), u[4],
                x[0].storage().data_ptr() == s.data_ptr(), x.detach().untyped_storage().data_ptr() == u.data_ptr(),
                x.data.untyped_storage().data_ptr() == u.data_ptr(), x.clone().untyped_storage().data_ptr() == u.data_ptr(),
                y.untyped_storage().data_ptr() == y.data_ptr(), y.storage().tolist(),
                isinstance(u, lib.UntypedStorage), isinstance(s, lib.TypedStorage), s.untyped().nbytes()]


def test_storages():
    facts = _storage_facts(tape)
    assert facts[:3] == [True, 6, 6] and facts[8] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert facts[14:18] == [True, True, True, False]
    with pytest.warns(UserWarning, match="TypedStorage is deprecated"):
        tape.ones(2).storage()


@pytest.mark.torch
def test_storages_match_torch():
    torch = pytest.importorskip("torch")
    assert _storage_facts(tape) == _storage_facts(torch)


def _replay_facts(lib) -> list:
    out = []
    for mode in (False, True):
        with lib.autograd._force_original_view_tracking(mode):
            leaf = lib.arange(12.0).reshape(3, 4).requires_grad_()
            a = leaf.clone()
            views = (a[1], a.t(), a[:, 1:3], a.view(12), a.unsqueeze(0), a.diagonal(), a.permute(1, 0), a[1][2:],
                     a.expand(2, 3, 4), a.select(1, 2).unsqueeze(1))
            a.mul_(2)
            names = [type(v.grad_fn).__name__ for v in views]
            y = a.select(0, 0)
            y.add_(1)
            total = sum(((k + 1) * v * v).sum() for k, v in enumerate(views))
            total.backward()
            out.append((mode, names, type(a.grad_fn).__name__, type(y.grad_fn).__name__,
                        lib.autograd.is_view_replay_enabled(), leaf.grad.tolist()))
        out.append(lib.autograd.is_view_replay_enabled())
    setting = lib.autograd._force_original_view_tracking(True)
    out.append(lib.autograd.is_view_replay_enabled())
    setting.__exit__(None, None, None)
    out.append(lib.autograd.is_view_replay_enabled())
    return out


def test_view_replay():
    facts = _replay_facts(tape)
    assert facts[0][1] == ["AsStridedBackward0"] * 10
    assert facts[2][1] == ["SelectBackward0", "TBackward0", "SliceBackward0", "ViewBackward0", "UnsqueezeBackward0",
                           "DiagonalBackward0", "PermuteBackward0", "SliceBackward0", "ExpandBackward0",
                           "UnsqueezeBackward0"]
    assert facts[0][5] == facts[2][5]       # the same gradients either way
    assert facts[1] is False and facts[3] is False and facts[4] is True and facts[5] is False


@pytest.mark.torch
def test_view_replay_matches_torch():
    torch = pytest.importorskip("torch")
    assert _replay_facts(tape) == _replay_facts(torch)


def _resize_facts(lib) -> list:
    out = []

    def r(f):
        try:
            out.append(f())
        except Exception as e:      # noqa: BLE001 (the error is what is compared)
            out.append((type(e).__name__, str(e)))

    def shrink_then_grow():
        x = lib.arange(6.0)
        x.resize_(2)
        first = x.tolist()
        x.resize_(2, 3)
        return first, x.tolist(), x._version, tuple(x.shape)

    def grow():
        x = lib.arange(6.0)
        y = x.resize_(8)
        return y is x, tuple(x.shape), x[:6].tolist()

    def leaf_requiring_grad():
        lib.arange(6.0, requires_grad=True).resize_(2, 3)

    def under_no_grad():
        x = lib.ones(2, requires_grad=True)
        with lib.no_grad():
            x.resize_(3)

    def as_template():
        return tuple(lib.arange(6.0).resize_as_(lib.zeros(2, 3)).shape)

    def channels_last():
        return lib.arange(6.0).resize_(1, 2, 3, 1, memory_format=lib.channels_last).stride()

    def view_within_storage():
        x = lib.arange(6.0)
        v = x[:3]
        v.resize_(6)
        return v.tolist()

    for f in (shrink_then_grow, grow, leaf_requiring_grad, under_no_grad, as_template, channels_last,
              view_within_storage):
        r(f)
    return out


def test_resize():
    facts = _resize_facts(tape)
    assert facts[0] == ([0.0, 1.0], [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], 2, (2, 3))
    assert facts[1] == (True, (8,), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    assert facts[2] == facts[3] == ("RuntimeError", "cannot resize variables that require grad")
    assert facts[6] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


@pytest.mark.torch
def test_resize_matches_torch():
    torch = pytest.importorskip("torch")
    assert _resize_facts(tape) == _resize_facts(torch)


def test_legacy_variable_module_and_function():
    from tape.autograd.variable import Variable, VariableMeta
    assert Variable is tape.autograd.Variable and isinstance(Variable, VariableMeta)
    assert isinstance(tape.ones(2), Variable)
    with pytest.raises(RuntimeError, match=r"^torch.autograd.variable\(...\) is deprecated, use torch.tensor\(...\)"):
        tape.autograd.variable(tape.ones(2))


def test_deprecated_assert_allclose():
    import warnings
    x = tape.tensor([1.0, 2.0])
    with pytest.warns(FutureWarning, match="assert_allclose\\(\\)` is deprecated since 1.12"):
        tape.testing.assert_allclose(x, [1.0, 2.00015])      # (float32: rtol 1e-4 and atol 1e-5, PyTorch's)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with pytest.raises(AssertionError, match="Tensor-likes are not close!"):
            tape.testing.assert_allclose(x, [1.0, 2.0003])
        tape.testing.assert_allclose(tape.tensor([float("nan")]), [float("nan")])     # (NaNs equal by default)
        tape.testing.assert_allclose(x, tape.tensor([1, 2]))      # (dtypes not compared)
        with pytest.raises(AssertionError, match="^boom$"):
            tape.testing.assert_allclose(x, [1.0, 3.0], msg="boom")
        with pytest.raises(ValueError, match="Both 'rtol' and 'atol' must be either specified or omitted"):
            tape.testing.assert_allclose(x, [1.0, 2.0], rtol=0.1)


def test_unserializable_hooks():
    import warnings
    x = tape.ones(2, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tape.utils.hooks.warn_if_has_hooks(x)       # (no hooks: no warning)
        x.register_hook(tape.utils.hooks.unserializable_hook(lambda g: g))
        tape.utils.hooks.warn_if_has_hooks(x)
    x.register_hook(lambda g: g)
    with pytest.warns(UserWarning, match="on tensor will not be serialized.  If this is expected"):
        tape.utils.hooks.warn_if_has_hooks(x)
