"""tape.library: custom_op and its CustomOpDef, Library define/impl, the module-level registrations,
infer_schema, the schema checks of a call, and ``tape.ops.<namespace>`` (values pinned by numpy)."""
import gc
import re
import warnings
from typing import Optional, Sequence

import numpy as np
import pytest

import tape
from tape import Tensor
from tape.library import Library, custom_op, infer_schema
from tape.types import Number


def test_custom_op_runs_its_function_and_is_reachable_under_tape_ops():
    @custom_op("tlib::crop", mutates_args=())
    def crop(pic: Tensor, box: Sequence[int]) -> Tensor:
        return pic[..., box[0]:box[1]].clone()

    x = tape.arange(6.0).reshape(2, 3)
    assert repr(crop) == "<CustomOpDef(tlib::crop)>"
    np.testing.assert_array_equal(crop(x, [0, 2]).numpy(), [[0, 1], [3, 4]])
    np.testing.assert_array_equal(tape.ops.tlib.crop(x, (1, 3)).numpy(), [[1, 2], [4, 5]])
    op = tape.ops.tlib.crop.default
    assert op is crop._opoverload and op(x, box=[2, 3]).shape == (2, 1)
    assert str(op) == "tlib.crop.default" and op.name() == "tlib::crop"
    assert repr(op) == "<OpOverload(op='tlib.crop', overload='default')>"
    assert str(op._schema) == "tlib::crop(Tensor pic, SymInt[] box) -> Tensor"
    assert tape.ops.tlib.crop.overloads() == ["default"]
    assert repr(tape.ops.tlib) == "<module 'torch.ops.tlib' from 'torch.ops'>"
    with pytest.raises(AttributeError, match="'_OpNamespace' 'tlib' object has no attribute 'nope'"):
        tape.ops.tlib.nope
    with pytest.raises(AttributeError, match="The underlying op of 'tlib.crop' has no overload name 'nope'"):
        tape.ops.tlib.crop.nope


def test_tape_ops_keeps_its_own_contents():
    assert tape.ops.aten.mm.default.name() == "aten::mm"
    assert "add" in {op.name for op in tape.ops.REGISTRY.values()}
    with pytest.raises(AttributeError):
        tape.ops._not_a_namespace


def test_calls_are_checked_against_the_schema_before_the_kernel_runs():
    ran = []

    @custom_op("tlib::chk", mutates_args=())
    def chk(x: Tensor, n: int, *, scale: float = 1.0) -> Tensor:
        ran.append((n, scale))
        return x * (n * scale)

    x = tape.ones(2)
    decl = "Declaration: tlib::chk(Tensor x, SymInt n, *, float scale=1.) -> Tensor"
    with pytest.raises(RuntimeError, match=re.escape("tlib::chk() is missing value for argument 'n'. " + decl)):
        chk(x)
    with pytest.raises(RuntimeError, match=r"takes 2 positional argument\(s\) but 3 was/were given"):
        chk(x, 1, 2)
    with pytest.raises(RuntimeError, match="Unknown keyword argument 'sc' for operator 'tlib::chk'"):
        chk(x, 1, sc=2)
    with pytest.raises(RuntimeError, match="Expected a value of type 'Tensor' for argument 'x' but instead found "
                                           "type 'int'"):
        chk(1, 1)
    with pytest.raises(RuntimeError, match="Expected a value of type 'int' for argument 'n' but instead found "
                                           "type 'float'"):
        chk(x, 1.5)
    with pytest.raises(RuntimeError, match="Argument 'x' specified both as positional and keyword argument"):
        chk(x, 1, x=x)
    assert ran == []
    np.testing.assert_array_equal(chk(x, 2, scale=3).numpy(), [6, 6])     # (an int for a float: converted)
    assert ran == [(2, 3.0)] and type(ran[0][1]) is float


def test_autograd_through_register_autograd_and_create_graph():
    @custom_op("tlib::numpy_sin", mutates_args=())
    def numpy_sin(x: Tensor) -> Tensor:
        return tape.from_numpy(np.sin(x.numpy()))       # (x requires grad; the kernel records nothing)

    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * x.cos()

    numpy_sin.register_autograd(backward, setup_context=setup_context)
    x = tape.tensor([0.1, 0.7, -1.2], dtype=tape.float64, requires_grad=True)
    y = numpy_sin(x)
    assert y.grad_fn.name() == "GeneratedBackwardFor_tlib_numpy_sin_defaultBackward"
    g, = tape.autograd.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), np.cos(x.detach().numpy()))
    gg, = tape.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), -np.sin(x.detach().numpy()))
    assert tape.autograd.gradcheck(numpy_sin, (x,))
    with tape.no_grad():
        assert not numpy_sin(x).requires_grad
    assert not numpy_sin(x.detach()).requires_grad


def test_no_autograd_registered_raises_at_backward():
    @custom_op("tlib::plain", mutates_args=())
    def plain(x: Tensor) -> Tensor:
        return x.clone()

    y = plain(tape.ones(2, requires_grad=True))
    assert y.requires_grad
    with pytest.raises(RuntimeError, match="Trying to backward through tlib.plain.default but no autograd formula was "
                                           "registered. Please use register_autograd to add one."):
        y.sum().backward()


def test_backward_results_are_checked_as_a_functions_are():
    @custom_op("tlib::scale", mutates_args=())
    def scale(x: Tensor, n: int) -> Tensor:
        return x * n

    x = tape.ones(2, requires_grad=True)
    scale.register_autograd(lambda ctx, g: (g, g))
    with pytest.raises(RuntimeError, match="returned a gradient different than None at position 2, but the "
                                           "corresponding forward input was not a Variable"):
        scale(x, 2).sum().backward()
    scale.register_autograd(lambda ctx, g: g[:1])
    with pytest.raises(RuntimeError, match=r"GeneratedBackwardFor_tlib_scale_defaultBackward returned an incorrect "
                                           r"number of gradients \(expected 3, got 2\)"):
        scale(x, 2).sum().backward()
    scale.register_autograd(lambda ctx, g: (g * 2, None))
    scale(x, 5).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2])


def test_tensor_lists_several_outputs_and_keyword_only_arguments():
    @custom_op("tlib::mix", mutates_args=())
    def mix(xs: list[Tensor], w: Tensor, *, alpha: float = 2.0) -> tuple[Tensor, Tensor]:
        s = xs[0] + xs[1]
        return s * w * alpha, s - w

    seen = {}

    def setup_context(ctx, inputs, keyword_only_inputs, output):
        seen["kw"] = keyword_only_inputs
        ctx.alpha = keyword_only_inputs["alpha"]
        ctx.save_for_backward(*inputs[0], inputs[1])

    def backward(ctx, g1, g2):
        a, b, w = ctx.saved_tensors
        seen["needs"] = ctx.needs_input_grad
        gx = g1 * w * ctx.alpha + g2
        return [gx, gx], g1 * (a + b) * ctx.alpha - g2

    mix.register_autograd(backward, setup_context=setup_context)
    a = tape.tensor([1.0, 2.0], requires_grad=True)
    b = tape.tensor([3.0, 4.0], requires_grad=True)
    w = tape.tensor([0.5, -1.0], requires_grad=True)
    o1, o2 = mix([a, b], w)
    (o1.sum() + 2 * o2.sum()).backward()
    assert seen == {"kw": {"alpha": 2.0}, "needs": ([True, True], True)}
    np.testing.assert_array_equal(o1.detach().numpy(), [4, -12])
    np.testing.assert_array_equal(a.grad.numpy(), [3, 0])
    np.testing.assert_array_equal(b.grad.numpy(), [3, 0])
    np.testing.assert_array_equal(w.grad.numpy(), [6, 10])
    mix.register_autograd(lambda ctx, g1, g2: ([g1], g2), setup_context=setup_context)
    with pytest.raises(RuntimeError, match="Expected the return from backward to be of the same structure as the "
                                           "inputs"):
        mix([a, b], w)[0].sum().backward()


def test_mutated_arguments_get_a_new_version():
    @custom_op("tlib::bump", mutates_args={"x"})
    def bump(x: Tensor) -> None:
        x.numpy()[:] += 1        # (a change tape cannot see)

    z = tape.zeros(2)
    v = z._version
    assert bump(z) is None
    assert z._version == v + 1
    np.testing.assert_array_equal(z.numpy(), [1, 1])
    schema = tape.ops.tlib.bump.default._schema
    assert str(schema) == "tlib::bump(Tensor(a0!) x) -> ()" and schema.is_mutable
    info = schema.arguments[0].alias_info
    assert (info.is_write, info.before_set, info.after_set) == (True, {"a0"}, {"a0"})
    with pytest.raises(RuntimeError, match="Cannot register autograd formula for non-functional operator"):
        bump.register_autograd(lambda ctx, g: g)
    q = tape.tensor([1.0, 2.0], requires_grad=True)
    r = q * 1
    s = r * r               # (saves r)
    bump(r)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        s.sum().backward()


def test_outputs_may_not_alias_inputs():
    @custom_op("tlib::ident", mutates_args=())
    def ident(x: Tensor) -> Tensor:
        return x[:1]

    with pytest.raises(RuntimeError, match=r"ident \(with implementation in .*\): The output of this custom operator "
                                           r"\(1\) must not also be an input"):
        ident(tape.ones(2))


def test_register_kernel_set_kernel_enabled_and_register_fake():
    @custom_op("tlib::k", mutates_args=())
    def k(x: Tensor) -> Tensor:
        return x + 1

    x = tape.zeros(1)
    assert k(x).item() == 1
    k.register_kernel("cpu")(lambda x: x + 5)
    assert k(x).item() == 5
    with k.set_kernel_enabled("cpu", enabled=False):
        assert k(x).item() == 1
    assert k(x).item() == 5
    fake = k.register_fake(lambda x: tape.empty_like(x))
    assert fake is k._abstract_fn and k(x).item() == 5      # (eager calls never run it)
    tape.library.register_kernel("tlib::k", "cpu", lambda x: x + 7)
    assert k(x).item() == 7


def test_redefining_a_custom_op_replaces_it():
    @custom_op("tlib::again", mutates_args=())
    def first(x: Tensor) -> Tensor:
        return x + 1

    @custom_op("tlib::again", mutates_args=())
    def second(x: Tensor, y: int) -> Tensor:
        return x + y

    assert tape.ops.tlib.again(tape.zeros(1), 3).item() == 3


def test_custom_op_arguments():
    def f(x: Tensor) -> Tensor:
        return x.clone()

    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'mutates_args'"):
        custom_op("tlib::f", f)
    with pytest.raises(ValueError):
        custom_op("tlibf", f, mutates_args=())
    op = custom_op("tlib::f", f, mutates_args=(), schema="(Tensor x) -> Tensor")
    assert op(tape.ones(1)).item() == 1
    with pytest.raises(ValueError, match="The schema suggests that the op mutates {'x'}"):
        custom_op("tlib::f2", f, mutates_args=(), schema="(Tensor(a!) x) -> Tensor")

    def g(x: Tensor, *, k: Tensor) -> Tensor:
        return x + k

    with pytest.raises(NotImplementedError, match="custom_op with kwarg-only Tensor args"):
        custom_op("tlib::g", g, mutates_args=())


def test_infer_schema():
    def a(x: Tensor, y: int, z: float = 2.0, *, w: bool = True, d: tape.dtype = tape.float32, s: str = "hi",
          dev: tape.device = tape.device("cpu")) -> tuple[Tensor, Tensor]:
        pass

    assert infer_schema(a, mutates_args=()) == ('(Tensor x, SymInt y, float z=2.0, *, bool w=True, ScalarType '
                                                'd=float32, str s="hi", Device dev="cpu") -> (Tensor, Tensor)')
    assert infer_schema(a, mutates_args=(), op_name="foo").startswith("foo(Tensor x")

    def b(x: Optional[Tensor], y: list[Tensor], z: Sequence[float], q: Optional[Sequence[int]], n: Number,
          o: list[Optional[Tensor]]) -> list[Tensor]:
        pass

    assert infer_schema(b, mutates_args="unknown") == ("(Tensor(a0!)? x, Tensor(a1!)[] y, float[] z, SymInt[]? q, "
                                                       "Scalar n, Tensor(a5!)?[] o) -> Tensor[]")

    def c(x: "Tensor", k: "Optional[int]" = None) -> "Tensor":
        pass

    assert infer_schema(c, mutates_args=()) == "(Tensor x, SymInt? k=None) -> Tensor"


@pytest.mark.parametrize("source, mutates, message", [
    ("def f(x): pass", (), "Parameter x must have a type annotation."),
    ("def f(x: Tensor, *y: Tensor) -> Tensor: pass", (), "We do not support positional-only args, varargs"),
    ("def f(x: Tensor, y: tuple[int, int]) -> Tensor: pass", (), "We do not support Tuple inputs in schema. As a "
     "workaround, please try to use List instead. For example, list[int]."),
    ("def f(x: Tensor, y: dict) -> Tensor: pass", (), "Parameter y has unsupported type <class 'dict'>"),
    ("def f(x: Tensor) -> dict: pass", (), "Return has unsupported type <class 'dict'>"),
    ("def f(x: Tensor): pass", (), "No return type annotation was provided. Please add one."),
    ("def f(x: Tensor, k: int) -> Tensor: pass", ("k",), "Parameter k is in mutable_args but only Tensors"),
    ("def f(x: Tensor, k: int) -> Tensor: pass", ("q",), "{'q'} in mutates_args were not found"),
    ("def f(x: Tensor, k: int = [1]) -> Tensor: pass", (), "unsupported default value type <class 'list'>"),
])
def test_infer_schema_errors(source, mutates, message):
    scope = {"Tensor": Tensor}
    exec(source, scope)
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        infer_schema(scope["f"], mutates_args=mutates)
    assert str(info.value).startswith("infer_schema(func): ")


def test_infer_schema_mutates_args_string():
    def f(x: Tensor) -> Tensor:
        pass

    with pytest.raises(ValueError, match="mutates_args must either be a sequence of the names of the arguments that "
                                         "are mutated or the string 'unknown'."):
        infer_schema(f, mutates_args="bad")


def test_library_define_impl_and_dispatch_keys():
    lib = Library("tlib2", "FRAGMENT")
    assert repr(lib) == "Library(kind=FRAGMENT, ns=tlib2, dispatch_key=)>"
    assert lib.define("sq(Tensor x) -> Tensor") == "sq"
    assert lib.define("sq.pow(Tensor x, int n) -> Tensor") == "sq"
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match="Could not run 'tlib2::sq' with arguments from the 'CPU' backend"):
        tape.ops.tlib2.sq(x)
    lib.impl("sq", lambda x: x * x, "CPU")
    lib.impl("sq.pow", lambda x, n: x ** n, "CompositeImplicitAutograd")
    assert tape.ops.tlib2.sq.overloads() == ["default", "pow"]
    np.testing.assert_array_equal(tape.ops.tlib2.sq(x, 3).detach().numpy(), [1, 8])    # (the overload that fits)
    y = tape.ops.tlib2.sq.pow(x, 3)
    assert y.grad_fn.name() == "PowBackward0"
    # A backend kernel with no autograd kernel: what it does is recorded, and a backward through it warns.
    y = tape.ops.tlib2.sq(x)
    assert y.grad_fn.name() == "MulBackward0"
    with pytest.warns(UserWarning, match="tlib2::sq: an autograd kernel was not registered to the Autograd key"):
        y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2, 4])
    with pytest.raises(RuntimeError, match="Tried to register an operator \\(tlib2::sq\\(Tensor x\\) -> Tensor\\) with "
                                           "the same name and overload name multiple times"):
        lib.define("sq(Tensor x) -> Tensor")
    with pytest.raises(RuntimeError, match="could not parse dispatch key: NotAKey"):
        lib.impl("sq", lambda x: x, "NotAKey")
    with pytest.raises(TypeError, match="Input function is required to be a callable"):
        lib.impl("sq", 3, "CPU")
    with pytest.raises(RuntimeError, match=r"Explicitly provided namespace \(other\) in operator name does not match "
                                           r"namespace of enclosing TORCH_LIBRARY_FRAGMENT block \(tlib2\)"):
        lib.impl("other::sq", lambda x: x, "CPU")
    with pytest.raises(RuntimeError, match="This is not allowed since there's already a kernel registered from python "
                                           "overriding sq's behavior for CPU dispatch key and tlib2 namespace."):
        lib.impl("sq", lambda x: x, "CPU", allow_override=False)
    lib._destroy()
    with pytest.raises(AttributeError):
        tape.ops.tlib2.sq


def test_library_kinds_and_lifetime():
    with pytest.raises(ValueError, match="Unsupported kind: BAD"):
        Library("tlib3", "BAD")
    with pytest.raises(ValueError, match="prim is a reserved namespace"):
        Library("prim", "DEF")
    lib = Library("tlib3", "DEF")
    with pytest.raises(RuntimeError, match="Only a single TORCH_LIBRARY can be used to register the namespace tlib3"):
        Library("tlib3", "DEF")
    with pytest.raises(RuntimeError, match='def\\("f"\\): Cannot define an operator inside of a TORCH_LIBRARY_IMPL'):
        Library("tlib3", "IMPL").define("f(Tensor x) -> Tensor")
    with pytest.raises(RuntimeError, match="expected ident but found '\\(' here"):
        lib.define("(Tensor x) -> Tensor")
    with pytest.raises(RuntimeError, match="unknown type specifier"):
        lib.define("f(Tenser x) -> Tensor")
    lib.define("f(Tensor x) -> Tensor")
    Library("tlib3", "IMPL", "CPU").impl("f", lambda x: x + 1)    # (this library dies at once: so does its kernel)
    gc.collect()
    with pytest.raises(NotImplementedError):
        tape.ops.tlib3.f(tape.ones(1))
    impl_lib = Library("tlib3", "IMPL", "CPU")
    impl_lib.impl("f", lambda x: x + 1)
    assert tape.ops.tlib3.f(tape.ones(1)).item() == 2
    del lib
    gc.collect()
    with pytest.raises(AttributeError):
        tape.ops.tlib3.f
    Library("tlib3", "DEF")._destroy()      # (the namespace is free again)


def test_module_level_define_impl_and_registrations():
    tape.library.define("tlib4::f", "(Tensor x) -> Tensor")
    with pytest.raises(ValueError, match='expected schema to look like e.g. "\\(Tensor x\\) -> Tensor" but got'):
        tape.library.define("tlib4::g", "g(Tensor x) -> Tensor")
    with pytest.raises(ValueError, match='Expected `qualname` to be of the form "namespace::name", but got tlib4f'):
        tape.library.define("tlib4f", "(Tensor x) -> Tensor")
    tape.library.impl("tlib4::f", "cpu", lambda x: x + 1)
    assert tape.ops.tlib4.f(tape.zeros(1)).item() == 1
    tape.library.impl("tlib4::f", "default")(lambda x: x + 4)       # (the CPU kernel comes first)
    assert tape.ops.tlib4.f(tape.zeros(1)).item() == 1
    tape.library.register_autograd("tlib4::f", lambda ctx, g: g * 10)
    x = tape.zeros(2, requires_grad=True)
    y = tape.ops.tlib4.f(x)
    assert y.grad_fn.name() == "GeneratedBackwardFor_tlib4_f_defaultBackward"
    np.testing.assert_array_equal(tape.autograd.grad(y.sum(), x)[0].numpy(), [10, 10])
    fake = tape.library.register_fake("tlib4::f")(lambda x: x)
    assert callable(fake)
    with pytest.warns(FutureWarning, match="`torch.library.impl_abstract` was renamed to "
                                           "`torch.library.register_fake`"):
        tape.library.impl_abstract("tlib4::f", lambda x: x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # (PyTorch's warning, once a session, for an overridden kernel)
        tape.library.register_kernel(tape.ops.tlib4.f.default, "cpu", lambda x: x + 5)
    assert tape.ops.tlib4.f(tape.zeros(1)).item() == 5
    with pytest.raises(ValueError, match="got unexpected type for op"):
        tape.library.register_kernel(3, "cpu", lambda x: x)


def test_define_with_a_library_old_forms():
    lib = Library("tlib5", "FRAGMENT")
    tape.library.define(lib, "double(Tensor x) -> Tensor")(lambda x: x * 2)
    assert tape.ops.tlib5.double(tape.ones(1)).item() == 2
    tape.library.impl(lib, "double", "CPU")(lambda x: x * 3)
    assert tape.ops.tlib5.double(tape.ones(1)).item() == 3
    lib._destroy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AssertionError, match="Library object has been destroyed"):
            lib.define("g(Tensor x) -> Tensor")


def test_under_vmap_a_custom_op_runs_per_sample():
    @custom_op("tlib::twice", mutates_args=())
    def twice(x: Tensor) -> Tensor:
        return tape.from_numpy(x.numpy() * 2)

    twice.register_autograd(lambda ctx, g: g * 2)
    x = tape.arange(6.0).reshape(3, 2).requires_grad_()
    y = tape.vmap(twice)(x)
    np.testing.assert_array_equal(y.detach().numpy(), np.arange(6.0).reshape(3, 2) * 2)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 2), 2.0))


def test_what_tape_cannot_do_says_so():
    with pytest.raises(AttributeError, match="tape.library.opcheck is not supported yet"):
        tape.library.opcheck
    with pytest.raises(AttributeError, match="module 'tape.library' has no attribute 'frobnicate'"):
        tape.library.frobnicate
    op = custom_op("tlib::unvmapped", lambda x: x.clone(), mutates_args=(), schema="(Tensor x) -> Tensor")
    with pytest.raises(AttributeError, match="CustomOpDef.register_vmap is not supported yet"):
        op.register_vmap
    with pytest.raises(RuntimeError, match="tape cannot add operators or kernels to PyTorch's own namespace 'aten'"):
        Library("aten", "IMPL").impl("add.Tensor", lambda x, y: x, "CPU")
    with pytest.raises(RuntimeError, match="tape cannot add operators or kernels to PyTorch's own namespace 'aten'"):
        Library("aten", "FRAGMENT").define("my_op(Tensor x) -> Tensor")


def test_no_meta_kernel_beside_a_composite_one():
    lib = Library("tlib6", "FRAGMENT")
    lib.define("f(Tensor x) -> Tensor")
    lib.impl("f", lambda x: x + 1, "CompositeImplicitAutograd")
    with pytest.raises(RuntimeError, match="We should not register a meta kernel directly to the operator 'f'"):
        lib.impl("f", lambda x: x, "Meta")
    lib._destroy()


def test_custom_ops_in_traces_and_checkpoints():
    @custom_op("tlib::nsin", mutates_args=())
    def nsin(x: Tensor) -> Tensor:
        return tape.from_numpy(np.sin(x.numpy()))

    nsin.register_autograd(lambda ctx, g: g * ctx.x.cos(),
                           setup_context=lambda ctx, inputs, output: setattr(ctx, "x", inputs[0]))

    def f(x):
        return (nsin(x) * x).sum()

    x = np.array([1.0, 2.0, 3.0])
    want = np.sin(x) + x * np.cos(x)
    traced = tape.trace(f, tape.tensor([0.1, 0.2, 0.3], dtype=tape.float64, requires_grad=True))
    np.testing.assert_allclose(traced.grad(tape.tensor(x)).numpy(), want)
    xc = tape.tensor(x, requires_grad=True)
    tape.utils.checkpoint.checkpoint(f, xc, use_reentrant=False).backward()
    np.testing.assert_allclose(xc.grad.numpy(), want)


def test_an_operator_without_tensor_arguments_picks_its_kernel_by_device():
    @custom_op("tlib::make", mutates_args=(), device_types="cpu")
    def make(n: int, device: tape.device) -> Tensor:
        return tape.full((n,), 2.0)

    np.testing.assert_array_equal(make(2, "cpu").numpy(), [2, 2])
    with pytest.raises(RuntimeError, match="make does not have a kernel registered for cuda. Please use "
                                           "register_kernel to do so."):
        make(2, "cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # (PyTorch's warning, once a session, for an overridden kernel)
        make.register_kernel("cuda", lambda n, device: tape.zeros(n))
    np.testing.assert_array_equal(make(2, tape.device("cuda")).numpy(), [0, 0])

    def make_anywhere(n: int) -> Tensor:
        return tape.ones(n)

    with pytest.raises(ValueError, match="Functions without tensor inputs are required to have a `device: "
                                         "torch.device` argument"):
        custom_op("tlib::make_anywhere", make_anywhere, mutates_args=(), device_types="cpu")
    assert custom_op("tlib::make_anywhere", make_anywhere, mutates_args=())(2).tolist() == [1, 1]
