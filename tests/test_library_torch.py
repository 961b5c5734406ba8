"""tape.library against torch.library: the same programs run under both (values, gradients, schemas,
error types and messages, warnings)."""
import re
import warnings
from typing import Optional, Sequence

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tape

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

LIBS = {"torch": torch, "tape": tape}


def both(program):
    """``program(lib)`` under torch and under tape."""
    return program(torch), program(tape)


def _np(t):
    return None if t is None else t.detach().numpy()


def _errors(lib, calls):
    out = []
    for call in calls:
        try:
            call(lib)
        except Exception as e:      # (the point: which exception, with which message)
            out.append((type(e).__name__, str(e)))
        else:
            out.append(None)
    return out


def test_custom_python_operators_tutorial_crop_and_paste():
    # (PyTorch's "Custom Python Operators" tutorial, with numpy in place of PIL)
    def program(lib):
        Tensor = lib.Tensor

        @lib.library.custom_op("tut::crop", mutates_args=())
        def crop(pic: Tensor, box: Sequence[int]) -> Tensor:
            x0, y0, x1, y1 = box
            return lib.from_numpy(pic.numpy()[:, y0:y1, x0:x1].copy())

        @crop.register_fake
        def _(pic, box):
            x0, y0, x1, y1 = box
            return pic.new_empty(pic.shape[0], y1 - y0, x1 - x0)

        @lib.library.custom_op("tut::paste", mutates_args=())
        def paste(im1: Tensor, im2: Tensor, coord: Sequence[int]) -> Tensor:
            out = im1.numpy().copy()
            x, y = coord
            out[:, y:y + im2.shape[1], x:x + im2.shape[2]] = im2.numpy()
            return lib.from_numpy(out)

        def crop_setup(ctx, inputs, output):
            pic, box = inputs
            ctx.box = box
            ctx.shape = pic.shape

        def crop_backward(ctx, grad):
            return lib.ops.tut.paste.default(grad.new_zeros(ctx.shape), grad, ctx.box[:2]), None

        crop.register_autograd(crop_backward, setup_context=crop_setup)

        def paste_setup(ctx, inputs, output):
            _, im2, coord = inputs
            ctx.coord = coord
            ctx.im2_size = im2.shape

        def paste_backward(ctx, grad):
            x, y = ctx.coord
            h, w = ctx.im2_size[1:]
            grad_im1 = lib.ops.tut.paste.default(grad, grad.new_zeros(ctx.im2_size), ctx.coord)
            grad_im2 = lib.ops.tut.crop.default(grad, [x, y, x + w, y + h])
            return grad_im1, grad_im2, None

        paste.register_autograd(paste_backward, setup_context=paste_setup)
        img = lib.tensor(np.arange(3 * 5 * 6, dtype=np.float32).reshape(3, 5, 6) / 90, requires_grad=True)
        cropped = crop(img, (1, 2, 4, 5))
        weight = lib.tensor(np.linspace(-1, 1, cropped.numel(), dtype=np.float32).reshape(cropped.shape))
        (cropped * weight).sum().backward()
        other = lib.ones(3, 2, 2, requires_grad=True)
        pasted = lib.ops.tut.paste(img, other, [3, 1])
        g_img, g_other = lib.autograd.grad((pasted * pasted).sum(), (img, other))
        return (_np(cropped), _np(img.grad), _np(pasted), _np(g_img), _np(g_other), cropped.grad_fn.name(),
                str(lib.ops.tut.crop.default._schema), str(lib.ops.tut.paste.default._schema))

    want, got = both(program)
    for w, g in zip(want, got):
        if isinstance(w, np.ndarray):
            np.testing.assert_allclose(g, w, rtol=1e-6)
        else:
            assert g == w


def test_gradients_of_every_order_and_gradcheck():
    def program(lib):
        @lib.library.custom_op("tt::numpy_sin", mutates_args=())
        def numpy_sin(x: lib.Tensor) -> lib.Tensor:
            return lib.from_numpy(np.sin(x.cpu().numpy())).to(device=x.device)

        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return grad * x.cos()

        numpy_sin.register_autograd(backward, setup_context=setup_context)
        x = lib.tensor([0.3, -1.1, 2.0], dtype=lib.float64, requires_grad=True)
        y = numpy_sin(x)
        g, = lib.autograd.grad(y, x, lib.ones_like(y), create_graph=True)
        gg, = lib.autograd.grad(g.sum(), x)
        with lib.no_grad():
            rg = numpy_sin(x).requires_grad
        return _np(y), _np(g), _np(gg), rg, y.grad_fn.name(), lib.autograd.gradcheck(numpy_sin, (x,))

    want, got = both(program)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w) if isinstance(w, np.ndarray) else None
        assert isinstance(w, np.ndarray) or g == w


def test_tensor_lists_keyword_only_arguments_and_needs_input_grad():
    def program(lib):
        Tensor = lib.Tensor

        @lib.library.custom_op("tt::mix", mutates_args=())
        def mix(xs: list[Tensor], w: Tensor, *, alpha: float = 2.0) -> tuple[Tensor, Tensor]:
            s = xs[0] + xs[1]
            return s * w * alpha, s - w

        seen = []

        def setup_context(ctx, inputs, keyword_only_inputs, output):
            seen.append((type(inputs[0]).__name__, dict(keyword_only_inputs), len(output)))
            ctx.alpha = keyword_only_inputs["alpha"]
            ctx.save_for_backward(*inputs[0], inputs[1])

        def backward(ctx, g1, g2):
            a, b, w = ctx.saved_tensors
            seen.append(ctx.needs_input_grad)
            gx = g1 * w * ctx.alpha + g2
            return [gx, gx * 2], g1 * (a + b) * ctx.alpha - g2

        mix.register_autograd(backward, setup_context=setup_context)
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0])
        w = lib.tensor([0.5, -1.0], requires_grad=True)
        o1, o2 = lib.ops.tt.mix([a, b], w, alpha=3.0)
        (o1.sum() + 2 * o2.sum()).backward()
        return _np(o1), _np(o2), _np(a.grad), _np(w.grad), seen, str(lib.ops.tt.mix.default._schema)

    want, got = both(program)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w) if isinstance(w, np.ndarray) else None
        assert isinstance(w, np.ndarray) or g == w


def test_errors_are_pytorchs():
    def setup(lib):
        Tensor = lib.Tensor

        @lib.library.custom_op("te::crop", mutates_args=())
        def crop(pic: Tensor, box: Sequence[int]) -> Tensor:
            return pic[..., box[0]:box[1]].clone()

        @lib.library.custom_op("te::scale", mutates_args=())
        def scale(x: Tensor, n: int, *, k: float = 1.0) -> Tensor:
            return x * n * k

        @lib.library.custom_op("te::ident", mutates_args=())
        def ident(x: Tensor) -> Tensor:
            return x

        @lib.library.custom_op("te::inplace", mutates_args={"x"})
        def inplace(x: Tensor) -> None:
            pass

        return crop, scale, ident, inplace

    def calls(ops):
        crop, scale, ident, inplace = ops
        x = lambda lib: lib.ones(2, 3, requires_grad=True)      # noqa: E731
        return [
            lambda lib: crop(x(lib), 1),
            lambda lib: crop(x(lib)),
            lambda lib: crop(x(lib), [0, 1], 3),
            lambda lib: crop(x(lib), bix=[0, 1]),
            lambda lib: crop(1, [0, 1]),
            lambda lib: scale(x(lib), 1, 2),
            lambda lib: scale(x(lib), 1.5),
            lambda lib: scale(x(lib), 1, k="a"),
            lambda lib: scale(x(lib), n=1, x=x(lib)),
            lambda lib: crop(x(lib), [0, 2]).sum().backward(),
            lambda lib: lib.ops.te.nope,
            lambda lib: lib.ops.te.crop.nope,
            lambda lib: inplace.register_autograd(lambda ctx, g: g),
            lambda lib: lib.library.custom_op("te::kw", mutates_args=())(_kw_tensor(lib)),
            lambda lib: lib.library.custom_op("te::sch", _plain(lib), mutates_args=(),
                                              schema="(Tensor(a!) x) -> Tensor"),
            lambda lib: lib.library.custom_op("te::nohint", lambda x: x, mutates_args=()),
            lambda lib: lib.library.custom_op("te::nomut", _plain(lib)),
        ]

    results = {}
    for name, lib in LIBS.items():
        ops = setup(lib)
        results[name] = _errors(lib, calls(ops))
        results[name].append(_errors(lib, [lambda lib: ops[2](lib.ones(2))])[0][0])     # (the message names a module)
        ops[1].register_autograd(lambda ctx, g: (g, g))
        results[name] += _errors(lib, [lambda lib: ops[1](lib.ones(1, requires_grad=True), 2).sum().backward()])
        ops[1].register_autograd(lambda ctx, g: g[:1])
        results[name] += _errors(lib, [lambda lib: ops[1](lib.ones(1, requires_grad=True), 2).sum().backward()])
    tape_types = re.compile(r"tape\._tensor\.Tensor")
    for w, g in zip(results["torch"], results["tape"]):
        if isinstance(g, tuple):
            g = (g[0], tape_types.sub("torch.Tensor", g[1]))
        assert g == w


def _kw_tensor(lib):
    def kw(x: lib.Tensor, *, k: lib.Tensor) -> lib.Tensor:
        return x + k
    return kw


def _plain(lib):
    def f(x: lib.Tensor) -> lib.Tensor:
        return x.clone()
    return f


def test_infer_schema_is_pytorchs():
    def program(lib):
        T = lib.Tensor

        def a(x: T, y: int, z: float = 2.0, *, w: bool = True, d: lib.dtype = lib.float64, s: str = "hi",
              dev: lib.device = lib.device("cpu")) -> tuple[T, T]:
            pass

        def b(x: Optional[T], y: list[T], z: Sequence[float], q: Optional[Sequence[int]], n: lib.types.Number,
              o: list[Optional[T]]) -> list[T]:
            pass

        def c(x: T, k: Optional[int] = None, m: Sequence[bool] = ()) -> int:
            pass

        def c2(x: T, m: Optional[Sequence[int]] = None) -> tuple[T, int, float, bool]:
            pass

        return ([lib.library.infer_schema(f, mutates_args=()) for f in (a, c2)]
                + [lib.library.infer_schema(b, mutates_args="unknown"),
                   lib.library.infer_schema(a, mutates_args=("x",), op_name="opname")]
                + _errors(lib, [lambda lib: lib.library.infer_schema(c, mutates_args=())]))

    want, got = both(program)
    got[-1] = (got[-1][0], got[-1][1].replace("tape._tensor.Tensor", "torch.Tensor"))
    assert got == want


def test_library_define_impl_fallback_warning_and_registrations():
    def program(lib):
        L = lib.library
        out = []
        frag = L.Library("tl", "FRAGMENT")
        frag.define("sq(Tensor x) -> Tensor")
        frag.define("sq.pow(Tensor x, int n, float scale=1.0) -> Tensor")
        frag.impl("sq", lambda x: x * x, "CPU")
        frag.impl("sq.pow", lambda x, n, scale=1.0: scale * x ** n, "CompositeImplicitAutograd")
        x = lib.tensor([1.0, -2.0], requires_grad=True)
        y = lib.ops.tl.sq(x)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y.sum().backward()
        out += [_np(y), y.grad_fn.name(), _np(x.grad), [(w.category.__name__, str(w.message)) for w in caught]]
        z = lib.ops.tl.sq(x, 3, scale=2.0)
        out += [_np(z), z.grad_fn.name(), lib.ops.tl.sq.overloads(), str(lib.ops.tl.sq.pow._schema)]
        L.define("tl::f", "(Tensor x, *, float alpha=0.5) -> Tensor", lib=frag)
        L.impl("tl::f", "cpu", lambda x, alpha=0.5: x * alpha, lib=frag)
        L.register_autograd("tl::f", lambda ctx, g: g * ctx.alpha,
                            setup_context=lambda ctx, inputs, keyword_only_inputs, output:
                            setattr(ctx, "alpha", keyword_only_inputs["alpha"]), lib=frag)
        y = lib.ops.tl.f(x, alpha=3.0)
        out += [_np(y), y.grad_fn.name(), _np(lib.autograd.grad(y.sum(), x)[0])]
        out += _errors(lib, [lambda lib: frag.define("sq(Tensor x) -> Tensor"),
                             lambda lib: frag.define("bad(Tensor x -> Tensor"),
                             lambda lib: frag.define("bad(Tenser x) -> Tensor"),
                             lambda lib: frag.impl("sq", lambda x: x, "NotAKey"),
                             lambda lib: frag.impl("sq", 3),
                             lambda lib: L.Library("tl", "BAD"),
                             lambda lib: L.define("tlf", "(Tensor x) -> Tensor"),
                             lambda lib: L.define("tl::g", "g(Tensor x) -> Tensor"),
                             lambda lib: lib.ops.tl.sq(x, "a")])
        frag._destroy()
        out += _errors(lib, [lambda lib: lib.ops.tl.sq])
        return out

    want, got = both(program)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w) if isinstance(w, np.ndarray) else None
        assert isinstance(w, np.ndarray) or g == w


def test_mutation_bumps_versions_and_kernels_per_device():
    def program(lib):
        @lib.library.custom_op("tm::add_one_", mutates_args={"x"})
        def add_one_(x: lib.Tensor) -> None:
            x.numpy()[:] += 1

        z = lib.zeros(2)
        v = z._version
        add_one_(z)
        out = [_np(z), z._version - v, str(lib.ops.tm.add_one_.default._schema)]
        q = lib.tensor([1.0, 2.0], requires_grad=True)
        r = q * 1
        s = r * r
        add_one_(r)
        out += [e[0] for e in _errors(lib, [lambda lib: s.sum().backward()])]

        @lib.library.custom_op("tm::k", mutates_args=(), device_types="cpu")
        def k(x: lib.Tensor) -> lib.Tensor:
            return x + 1

        k.register_kernel("cpu", lambda x: x + 5)
        x = lib.zeros(1)
        out.append(k(x).item())
        with k.set_kernel_enabled("cpu", False):
            out.append(k(x).item())
        out.append(k(x).item())
        return out

    want, got = both(program)
    np.testing.assert_array_equal(got[0], want[0])
    assert got[1:] == want[1:]


def test_schema_objects_read_as_pytorchs():
    schema_text = ("f(Tensor a, Tensor? b, Tensor[] c, Tensor?[] d, SymInt e, SymInt[] f, int[2] g, int? h, float i, "
                   "bool j, str k, Scalar l, ScalarType m, Device n, Tensor(a!) o, float[]? r, Scalar? s, *, "
                   "float t=1.5, int[] u=[1, 2], str v=\"x\") -> (Tensor, Tensor[])")

    def program(lib):
        frag = lib.library.Library("tsch", "FRAGMENT")
        frag.define(schema_text)
        s = lib.ops.tsch.f.default._schema
        out = [str(s), s.name, s.overload_name, s.is_mutable, [str(r.type) for r in s.returns]]
        for a in s.arguments:
            info = a.alias_info
            out.append((a.name, str(a.type), a.default_value, a.kwarg_only, a.has_default_value(),
                        None if info is None else (info.is_write, info.before_set, info.after_set)))
        frag._destroy()
        return out

    want, got = both(program)
    assert got == want


_TYPES = ["Tensor", "Tensor?", "Tensor[]", "Tensor?[]", "Tensor(a!)", "SymInt", "SymInt[]", "int", "int[]", "int[2]",
          "int?", "int[]?", "float", "float[]", "float?", "bool", "bool[]", "str", "Scalar", "Scalar?", "ScalarType",
          "ScalarType?", "Device", "Device?", "Tensor(b)", "Tensor(c!)[]", "Layout?", "MemoryFormat?", "Generator?",
          "SymInt[]?", "Tensor?(d!)"]
_DEFAULTS = {"int": ["0", "-3"], "SymInt": ["7"], "float": ["1.5", "-0.25", "2.0", "1e-05"], "bool": ["True", "False"],
             "str": ['"mean"'], "int[]": ["[1, 2]", "[]"], "float[]": ["[0.5]"], "ScalarType": ["float64"],
             "MemoryFormat?": ["contiguous_format", "None"]}


@given(st.lists(st.tuples(st.sampled_from(_TYPES), st.booleans(), st.integers(0, 3)), min_size=0, max_size=6),
       st.integers(0, 6),
       st.lists(st.sampled_from(["Tensor", "Tensor[]", "float", "SymInt", "bool", "Tensor(a!)", "Scalar"]), max_size=3))
def test_schemas_print_as_pytorchs(args, kw_from, returns):
    parts = []
    for i, (typ, with_default, pick) in enumerate(args):
        if i == kw_from:
            parts.append("*")
        text = f"{typ} a{i}"
        choices = _DEFAULTS.get(typ) or (["None"] if typ.endswith("?") else [])
        if with_default and choices:
            text += "=" + choices[pick % len(choices)]
        parts.append(text)
    ret = returns[0] if len(returns) == 1 else f"({', '.join(returns)})"
    schema = f"f({', '.join(parts)}) -> {ret}"

    def program(lib):
        frag = lib.library.Library("thyp", "FRAGMENT")
        try:
            frag.define(schema)
        except RuntimeError as e:
            return "error", str(e).split(" here:")[0].strip().split("\n")[0]
        finally:
            printed = str(lib.ops.thyp.f.default._schema) if hasattr(lib.ops.thyp, "f") else None
            frag._destroy()
        return printed

    want, got = both(program)
    assert got == want


_BIND_SCHEMA = ("f(Tensor a, SymInt b, float c, bool d, str e, Scalar f, ScalarType g, Device h, float[] i, "
                "Tensor? j, Tensor[] k, int? l, SymInt[] m) -> ()")
_VALUES = ["tensor", "int_tensor", 3, -1, 2.5, True, "cpu", "x", None, [1, 2], (3,), [1.5], ["a"], "tensors",
           "float64", "device"]


def _value(lib, key):
    return {"tensor": lambda: lib.ones(2), "int_tensor": lambda: lib.tensor(4), "tensors": lambda: [lib.ones(1)],
            "float64": lambda: lib.float64, "device": lambda: lib.device("cpu")}.get(key, lambda: key)() \
        if isinstance(key, str) else key


def _received(v):
    if isinstance(v, (list, tuple)):
        return type(v).__name__, [_received(x) for x in v]
    if hasattr(v, "shape") and hasattr(v, "dtype") and not isinstance(v, (int, float)):
        return "Tensor", tuple(v.shape), str(v.dtype)
    return type(v).__name__, str(v)


@given(st.lists(st.sampled_from(_VALUES), min_size=13, max_size=13))
def test_calls_bind_as_pytorchs(values):
    def program(lib):
        frag = lib.library.Library("tbind", "FRAGMENT")
        frag.define(_BIND_SCHEMA)
        got = []
        frag.impl("f", lambda *args: got.append([_received(a) for a in args]), "CPU")
        try:
            lib.ops.tbind.f(*[_value(lib, v) for v in values])
        except RuntimeError as e:
            first = str(e).split("\n")[0]
            return "error", first.replace("'dtype'", "'torch.dtype'")
        finally:
            frag._destroy()
        return got

    want, got = both(program)
    assert got == want
