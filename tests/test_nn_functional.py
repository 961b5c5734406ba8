"""tape.nn.functional: PyTorch's function forms over tape's ops (their arguments, nodes and messages)."""
import math
import warnings

import numpy as np
import pytest

import tape
import tape.nn.functional as F


def test_nn_exposes_functional():
    assert tape.nn.functional is F
    assert set(F.__all__) <= set(dir(F))


def test_relu_inplace_and_not():
    x = tape.tensor([-1.0, 2.0], requires_grad=True)
    y = F.relu(x)
    assert y.grad_fn.name() == "ReluBackward0" and y.tolist() == [0.0, 2.0]
    z = x * 1
    assert F.relu(z, inplace=True) is z and z.grad_fn.name() == "ReluBackward0" and z._version == 1
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        F.relu(x, inplace=True)


def test_relu_rejects_a_non_tensor_as_torch_relu():
    with pytest.raises(TypeError, match=r"^relu\(\): argument 'input' \(position 1\) must be Tensor, not int$"):
        F.relu(3)
    with pytest.raises(TypeError, match=r"^threshold_\(\): argument 'input' \(position 1\) must be Tensor, not float$"):
        F.threshold(1.5, 0.0, 1.0, inplace=True)


def test_threshold_forms():
    x = tape.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    y = F.threshold(x, 0.6, -3.0)
    assert y.tolist() == [-3.0, -3.0, 2.0] and y.grad_fn.name() == "ThresholdBackward0"
    z = x * 1
    assert F.threshold_(z, 0.0, 7.0) is z and z.tolist() == [7.0, 0.5, 2.0]


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", [((3,), 0), ((2, 3), 1), ((2, 3, 4), 0), ((2, 3, 4, 5), 1)])
def test_softmax_implicit_dim_warns_and_picks_pytorchs(name, shape, dim):
    x = tape.randn(*shape, dtype=tape.float64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = getattr(F, name)(x)
    assert [str(w.message) for w in caught] == [
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument."]
    assert caught[0].filename == __file__
    assert tape.equal(y, getattr(x, name)(dim))


def test_softmax_dtype():
    x = tape.randn(2, 3)
    y = F.softmax(x, 1, dtype=tape.float64)
    assert y.dtype == tape.float64 and tape.allclose(y, x.double().softmax(1))


def test_wrappers_record_the_ops_nodes():
    x = tape.randn(4, 3, dtype=tape.float64, requires_grad=True)
    assert F.sigmoid(x).grad_fn.name() == "SigmoidBackward0"
    assert F.tanh(x).grad_fn.name() == "TanhBackward0"
    assert F.hardshrink(x, 0.1).grad_fn.name() == "HardshrinkBackward0"
    assert F.pdist(x).grad_fn.name() == "PdistBackward0"
    assert F.prelu(x, tape.tensor([0.25], dtype=tape.float64)).grad_fn.name() == "PreluKernelBackward0"
    assert tape.autograd.gradcheck(lambda t: F.log_softmax(t, 0), (x,))


# --- the activations with nodes of their own: against PyTorch --------------------------------
# (x * 1: the in-place forms need a non-leaf; the points keep 1e-1 away from every kink)
ACTIVATIONS = {
    "gelu": lambda F, x: F.gelu(x),
    "gelu_tanh": lambda F, x: F.gelu(x, approximate="tanh"),
    "silu": lambda F, x: F.silu(x),
    "silu_": lambda F, x: F.silu(x * 1, inplace=True),
    "softplus": lambda F, x: F.softplus(x),
    "softplus_beta": lambda F, x: F.softplus(x, 2, 3.0),
    "elu": lambda F, x: F.elu(x, 0.5),
    "elu_": lambda F, x: F.elu(x * 1, alpha=1.5, inplace=True),
    "elu__fn": lambda F, x: F.elu_(x * 1, 2),
    "leaky_relu": lambda F, x: F.leaky_relu(x),
    "leaky_relu_int": lambda F, x: F.leaky_relu(x, 1),
    "leaky_relu_": lambda F, x: F.leaky_relu(x * 1, 0.2, True),
    "leaky_relu__fn": lambda F, x: F.leaky_relu_(x * 1),
    "selu": lambda F, x: F.selu(x),
    "selu_": lambda F, x: F.selu(x * 1, inplace=True),
    "selu__fn": lambda F, x: F.selu_(x * 1),
    "celu": lambda F, x: F.celu(x, 2.0),
    "celu_": lambda F, x: F.celu(x * 1, 0.5, inplace=True),
    "celu__fn": lambda F, x: F.celu_(x * 1, 2),
    "hardtanh": lambda F, x: F.hardtanh(x),
    "hardtanh_ints": lambda F, x: F.hardtanh(x, -2, 3),
    "hardtanh_": lambda F, x: F.hardtanh(x * 1, -0.5, 2.0, True),
    "hardtanh__fn": lambda F, x: F.hardtanh_(x * 1),
    "relu6": lambda F, x: F.relu6(x),
    "relu6_": lambda F, x: F.relu6(x * 1, inplace=True),
    "logsigmoid": lambda F, x: F.logsigmoid(x),
    "softsign": lambda F, x: F.softsign(x),
    "tanhshrink": lambda F, x: F.tanhshrink(x),
    "softshrink": lambda F, x: F.softshrink(x),
    "softshrink_int": lambda F, x: F.softshrink(x, 1),
    "hardsigmoid": lambda F, x: F.hardsigmoid(x),
    "hardsigmoid_": lambda F, x: F.hardsigmoid(x * 1, True),
    "hardswish": lambda F, x: F.hardswish(x),
    "hardswish_": lambda F, x: F.hardswish(x * 1, inplace=True),
    "mish": lambda F, x: F.mish(x),
    "mish_": lambda F, x: F.mish(x * 1, inplace=True),
    "softmin": lambda F, x: F.softmin(x.reshape(2, 4), 1),
    "softmin_dtype": lambda F, x: F.softmin(x.reshape(2, 4), 0, dtype=x.dtype),
    "glu": lambda F, x: F.glu(x),
    "glu_dim0": lambda F, x: F.glu(x.reshape(2, 4), 0),
}
POINTS = [-3.7, -1.3, -0.35, 0.45, 1.2, 2.6, 4.1, 30.0]


def _nth_grads(M, fn, x, n):
    """The gradients of orders 1 .. n of ``(fn(x) * w).sum()`` (each weighted anew), up to the
    first that needs no gradient (a piecewise-constant derivative's) or that PyTorch does not have
    (then the last entry is None)."""
    y = fn(M.nn.functional, x)
    out = (y * M.linspace(0.5, 2.0, y.numel(), dtype=x.dtype).reshape(y.shape)).sum()
    grads = []
    for k in range(n):
        try:
            (out,) = M.autograd.grad(out, x, create_graph=True)
        except RuntimeError as e:
            assert str(e).startswith("derivative for aten::") and str(e).endswith(" is not implemented")
            return grads + [None]
        grads.append(out)
        if not out.requires_grad:
            break
        out = (out * M.linspace(1.5, -1.0, x.numel(), dtype=x.dtype)).sum()
    return grads


def _shown(v):
    return (type(v).__name__, np.round(v.detach().numpy(), 4).tolist() if hasattr(v, "detach") else v)


def _saved(fn) -> dict:
    return {a: _shown(getattr(fn, a)) for a in dir(fn)
            if a.startswith("_saved_") and not a.endswith(("self", "result"))}


@pytest.mark.torch
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_matches_torch(name):
    torch = pytest.importorskip("torch")
    fn = ACTIVATIONS[name]
    for td, dt, tol in ((torch.float64, tape.float64, 1e-12), (torch.float32, tape.float32, 1e-5)):
        tx = torch.tensor(POINTS, dtype=td, requires_grad=True)
        x = tape.tensor(POINTS, dtype=dt, requires_grad=True)
        ty, y = fn(torch.nn.functional, tx), fn(F, x)
        assert y.dtype == dt and y.grad_fn.name() == ty.grad_fn.name()
        assert _saved(y.grad_fn) == _saved(ty.grad_fn)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
        grads, tgrads = _nth_grads(tape, fn, x, 3), _nth_grads(torch, fn, tx, 3)
        if tgrads[-1] is None:     # (beyond PyTorch's derivatives: tape's continue)
            tgrads = tgrads[:-1]
            grads = grads[:len(tgrads)]
        assert len(grads) == len(tgrads)
        for k, (g, tg) in enumerate(zip(grads, tgrads)):
            g, tg = g.detach().numpy(), tg.detach().numpy()
            if k == 2:
                # (PyTorch's third derivative of gelu's tanh form is nan at 30, tape's 0)
                g, tg = g[np.isfinite(tg)], tg[np.isfinite(tg)]
            np.testing.assert_allclose(g, tg, rtol=tol * 10, atol=tol * 10)
        with tape.no_grad():
            assert fn(F, x).grad_fn is None


_LEAKY_NEGATIVE = ("In-place leakyReLu backward calculation is triggered with a negative slope which is not supported. "
                   "This is caused by calling in-place forward function with a negative slope, please call "
                   "out-of-place version instead. File an issue at https://github.com/pytorch/pytorch if you do "
                   "require supporting in-place leakRelu backward calculation with negative slope")
_ELU_NEGATIVE = ("In-place elu backward calculation is triggered with a negative slope which is not supported. This "
                 "is caused by calling in-place forward function with a negative slope, please call out-of-place "
                 "version instead.")
# PyTorch's errors: (call, exception type, message)
ERRORS = [
    (lambda x, i: F.gelu(3.0), TypeError, "gelu(): argument 'input' (position 1) must be Tensor, not float"),
    (lambda x, i: F.gelu(x, approximate="foo"), RuntimeError, "approximate argument must be either none or tanh."),
    (lambda x, i: F.gelu(i), NotImplementedError, "\"GeluKernelImpl\" not implemented for 'Long'"),
    (lambda x, i: F.silu(i), NotImplementedError, "\"silu_cpu\" not implemented for 'Long'"),
    (lambda x, i: F.silu(x, inplace=True), RuntimeError,
     "a leaf Variable that requires grad is being used in an in-place operation."),
    (lambda x, i: F.softplus(i), NotImplementedError, "\"softplus_cpu\" not implemented for 'Long'"),
    (lambda x, i: F.elu(i), NotImplementedError, "\"elu_cpu\" not implemented for 'Long'"),
    (lambda x, i: F.elu_(2), TypeError, "elu_(): argument 'input' (position 1) must be Tensor, not int"),
    (lambda x, i: F.leaky_relu(i), NotImplementedError, "\"leaky_relu_cpu\" not implemented for 'Long'"),
    (lambda x, i: F.selu(i), NotImplementedError, "\"elu_cpu\" not implemented for 'Long'"),
    (lambda x, i: F.selu_(i), NotImplementedError, "\"elu_cpu\" not implemented for 'Long'"),
    (lambda x, i: F.celu(x * 1, 0.0, inplace=True), RuntimeError, "ZeroDivisionError: alpha cannot be 0 for CELU"),
    (lambda x, i: F.leaky_relu(x * 1, -0.5, inplace=True).sum().backward(), RuntimeError, _LEAKY_NEGATIVE),
    (lambda x, i: F.elu(x * 1, -1.0, inplace=True).sum().backward(), RuntimeError, _ELU_NEGATIVE),
    (lambda x, i: tape.celu_(x * 1, -1.0).sum().backward(), RuntimeError, _ELU_NEGATIVE),
    (lambda x, i: F.hardtanh(x, 2.0, 1.0), ValueError, "min_val cannot be greater than max_val"),
    (lambda x, i: F.hardtanh("x"), TypeError, "hardtanh(): argument 'input' (position 1) must be Tensor, not str"),
    (lambda x, i: F.relu6(1.0, inplace=True), TypeError,
     "relu6_(): argument 'input' (position 1) must be Tensor, not float"),
    (lambda x, i: F.logsigmoid(i), NotImplementedError, "\"log_sigmoid_cpu\" not implemented for 'Long'"),
    (lambda x, i: F.logsigmoid(1), TypeError, "log_sigmoid(): argument 'input' (position 1) must be Tensor, not int"),
    (lambda x, i: F.softshrink(i), NotImplementedError, "\"softshrink_check\" not implemented for 'Long'"),
    (lambda x, i: F.softshrink(x, -1.0), RuntimeError,
     "lambda must be in range [0, 3.40282e+38] for input dtype Float, but found -1"),
    (lambda x, i: F.softshrink(x.double(), -1e-5), RuntimeError,
     "lambda must be in range [0, 1.79769e+308] for input dtype Double, but found -1e-05"),
    (lambda x, i: F.hardsigmoid(i), NotImplementedError, "\"hardsigmoid_cpu\" not implemented for 'Long'"),
    (lambda x, i: F.hardswish(i), NotImplementedError, "\"hardswish_cpu\" not implemented for 'Long'"),
    (lambda x, i: F.mish(i), NotImplementedError, "\"mish_cpu\" not implemented for 'Long'"),
    (lambda x, i: F.mish(x, inplace=True), RuntimeError,
     "a leaf Variable that requires grad is being used in an in-place operation."),
    (lambda x, i: F.glu(x[0]), RuntimeError, "glu does not support scalars because halving size must be even"),
    (lambda x, i: F.glu(x.expand(3, 2), 0), RuntimeError, "Halving dimension must be even, but dimension 0 is size 3"),
    (lambda x, i: F.glu(x, 1), IndexError, "Dimension out of range (expected to be in range of [-1, 0], but got 1)"),
    (lambda x, i: F.glu(i), NotImplementedError, "\"glu_cpu\" not implemented for 'Long'"),
    (lambda x, i: F.softmin(i, 0), NotImplementedError, "\"softmax_lastdim_kernel_impl\" not implemented for 'Long'"),
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_activation_errors_are_pytorchs(k):
    call, kind, message = ERRORS[k]
    x = tape.tensor([1.0, -2.0], requires_grad=True)
    with pytest.raises(kind) as caught:
        call(x, tape.tensor([1, -2]))
    assert str(caught.value) == message


@pytest.mark.torch
@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_activation_errors_match_torch(k):
    torch = pytest.importorskip("torch")
    call, kind, message = ERRORS[k]
    source = call.__code__
    # the same call on torch's tensors and functions
    namespace = {"F": torch.nn.functional, "tape": torch}
    twin = type(call)(source, namespace)
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    with pytest.raises(kind) as caught:
        twin(x, torch.tensor([1, -2]))
    assert str(caught.value) == message


def test_inplace_activations_write_the_tensor():
    x = tape.tensor([-1.0, 2.0], requires_grad=True)
    for f, name in ((lambda t: F.elu(t, inplace=True), "EluBackward1"),
                    (lambda t: F.silu(t, inplace=True), "SiluBackward0"), (F.leaky_relu_, "LeakyReluBackward1"),
                    (F.selu_, "EluBackward1"), (F.celu_, "CeluBackward1")):
        z = x * 1
        assert f(z) is z and z._version == 1 and z.grad_fn.name() == name
    v = tape.tensor([-1.0, 2.0])
    assert F.elu_(v) is v and v.grad_fn is None and v.tolist() == pytest.approx([math.expm1(-1.0), 2.0])


@pytest.mark.parametrize("fn", [F.gelu, F.silu, lambda t: F.softplus(t, 2), lambda t: F.elu(t * 1, inplace=True),
                                lambda t: F.leaky_relu(t * 1, 0.1, True), lambda t: F.relu(t * 1, True),
                                lambda t: F.celu(t * 1, 2.0, True), lambda t: F.hardtanh(t * 1, -1.0, 2.0, True),
                                lambda t: F.mish(t * 1, True), lambda t: F.glu(t[:4]), F.logsigmoid])
def test_activations_forward_mode(fn):
    # (the function forms are front ends of their own, ``inplace`` deciding whether they change their input)
    x = tape.tensor([-1.5, -0.2, 0.3, 0.7, 3.0], dtype=tape.float64, requires_grad=True)
    assert tape.autograd.gradcheck(fn, (x,), check_forward_ad=True)


def _chain(fn) -> list:
    """The node names of a graph, depth first from ``fn``."""
    names, todo = [], [fn]
    while todo:
        f = todo.pop()
        if f is not None:
            names.append(f.name().replace("torch::autograd::", ""))
            todo.extend(e[0] for e in f.next_functions)
    return names


# (input shape, weight shape, bias shape or None, input transposed)
LINEAR = [((4,), (3, 4), None, False), ((4,), (3, 4), (3,), False), ((2, 4), (3, 4), None, False),
          ((2, 4), (3, 4), (3,), False), ((2, 4), (3, 4), (), False), ((5, 2, 4), (3, 4), None, False),
          ((5, 2, 4), (3, 4), (3,), False), ((5, 2, 4), (3, 4), (), False), ((2, 5, 2, 4), (3, 4), (2, 3), False),
          ((2, 5, 2, 4), (3, 4), (3,), False), ((4, 2, 5), (3, 4), (3,), True), ((0, 4), (3, 4), (3,), False),
          ((2, 4), (4,), None, False)]


@pytest.mark.torch
@pytest.mark.parametrize("case", range(len(LINEAR)))
def test_linear_matches_torch(case):
    torch = pytest.importorskip("torch")
    xs, ws, bs, transposed = LINEAR[case]
    rng = np.random.default_rng(case)
    arrays = [rng.standard_normal(s) for s in (xs, ws) + ((bs,) if bs is not None else ())]
    results = []
    for M, F_ in ((tape, F), (torch, torch.nn.functional)):
        ts = [M.tensor(a, requires_grad=True) for a in arrays]
        x = ts[0].transpose(0, -1) if transposed else ts[0]
        y = F_.linear(x, *ts[1:])
        y.sum().backward()
        results.append((_chain(y.grad_fn), y._version, y.detach().numpy(), [t.grad.numpy() for t in ts]))
    (chain, version, value, grads), (t_chain, t_version, t_value, t_grads) = results
    # (tape's matmul of a 1-D input squeezes out of place: version 0, PyTorch's 1)
    assert chain == t_chain and (version == t_version or len(xs) == 1)
    np.testing.assert_allclose(value, t_value, rtol=1e-12, atol=1e-12)
    for g, tg in zip(grads, t_grads):
        np.testing.assert_allclose(g, tg, rtol=1e-12, atol=1e-12)


def test_linear_errors():
    w = tape.randn(3, 4)
    with pytest.raises(TypeError, match=r"^linear\(\): argument 'weight' \(position 2\) must be Tensor, not int$"):
        F.linear(w, 3)
    with pytest.raises(TypeError, match=r"^linear\(\): argument 'bias' \(position 3\) must be Tensor, not float$"):
        F.linear(w, w, 1.0)
    with pytest.raises(RuntimeError,
                       match=r"^both arguments to linear need to be at least 1D, but they are 0D and 2D$"):
        F.linear(tape.tensor(1.0), w)
    with pytest.raises(RuntimeError, match=r"^mat1 and mat2 shapes cannot be multiplied \(2x5 and 4x3\)$"):
        F.linear(tape.randn(2, 5), w, tape.randn(3))
    assert tape.autograd.gradgradcheck(F.linear, (tape.randn(2, 3, 4, dtype=tape.float64, requires_grad=True),
                                                  w.double().requires_grad_(),
                                                  tape.randn(3, dtype=tape.float64, requires_grad=True)))


def test_dropout():
    x = tape.randn(400, 50, requires_grad=True)
    tape.manual_seed(3)
    y = F.dropout(x, 0.2)
    tape.manual_seed(3)
    assert tape.equal(F.dropout(x, 0.2), y) and y.grad_fn.name() == "MulBackward0"
    kept = y != 0
    assert 0.77 < kept.float().mean().item() < 0.83
    assert tape.allclose(y[kept], x[kept] / 0.8)
    y.sum().backward()
    assert tape.allclose(x.grad, kept.float() / 0.8)
    assert F.dropout(x, training=False) is x and F.dropout(x, 0.0) is x and tape.dropout(x, 0.3, False) is x
    assert F.dropout(x, 1.0).abs().sum().item() == 0
    z = x * 1
    assert F.dropout(z, 0.5, inplace=True) is z and z._version == 1 and z.grad_fn.name() == "MulBackward0"
    with pytest.raises(ValueError, match=r"^dropout probability has to be between 0 and 1, but got 1.5$"):
        F.dropout(x, 1.5)
    with pytest.raises(RuntimeError, match=r"^dropout probability has to be between 0 and 1, but got -1$"):
        tape.dropout_(z, -1, True)
    with pytest.raises(TypeError, match=r"^dropout_\(\): argument 'input' \(position 1\) must be Tensor, not int$"):
        F.dropout(3, inplace=True)
    with pytest.raises(RuntimeError, match=r"^result type Float can't be cast to the desired output type Long$"):
        F.dropout(tape.tensor([1, 2]))


@pytest.mark.torch
@pytest.mark.parametrize("inplace", [False, True])
def test_dropout_draws_torchs_mask(inplace):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).standard_normal((40, 30))
    tape.manual_seed(5)
    y = F.dropout(tape.tensor(a, dtype=tape.float32) * 1, 0.3, inplace=inplace)
    torch.manual_seed(5)
    t = torch.nn.functional.dropout(torch.tensor(a, dtype=torch.float32) * 1, 0.3, inplace=inplace)
    assert np.array_equal(y.numpy(), t.numpy())


def test_clamping_activations_keep_what_pytorchs_clamp_keeps():
    y = F.hardtanh(tape.tensor([-3, 0, 5]))
    assert y.dtype == tape.int64 and y.tolist() == [-1, 0, 1]
    y = F.relu6(tape.tensor([-0.0, math.nan, 7.0]))
    assert math.copysign(1.0, y[0].item()) == -1.0 and math.isnan(y[1].item()) and y[2].item() == 6.0
    assert math.isnan(F.softshrink(tape.tensor([math.nan]))[0].item())


@pytest.mark.torch
@pytest.mark.parametrize("name", ["gelu", "softplus", "elu", "mish", "glu", "logsigmoid", "hardswish"])
def test_activation_forward_over_reverse_matches_torch(name):
    torch = pytest.importorskip("torch")
    got = []
    for M in (tape, torch):
        fw = M.autograd.forward_ad
        x = M.tensor([-1.5, 0.7, 2.0, -0.2], dtype=M.float64, requires_grad=True)
        with fw.dual_level():
            xd = fw.make_dual(x, M.tensor([1.0, 2.0, -1.0, 0.5], dtype=M.float64))
            y = getattr(M.nn.functional, name)(xd)
            (g,) = M.autograd.grad((y * M.arange(1.0, y.numel() + 1, dtype=M.float64)).sum(), xd, create_graph=True)
            got.append(fw.unpack_dual(g).tangent.detach().numpy())
    np.testing.assert_allclose(got[0], got[1], rtol=1e-12, atol=1e-12)
