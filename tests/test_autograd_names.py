"""Smaller names of PyTorch's autograd API: Tensor.grad_dtype, Node._sequence_nr()."""
import pytest

import tape


class Tanh(tape.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.tanh()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * (1 - y * y)


def test_grad_dtype_defaults_to_the_dtype_and_casts_gradients():
    x = tape.ones(2, requires_grad=True)
    assert x.grad_dtype is tape.float32 and tape.ones(2).grad_dtype is tape.float32
    x.grad_dtype = tape.float64
    assert x.grad_dtype is tape.float64
    (x * 2).sum().backward()
    assert x.grad.dtype is tape.float64 and x.grad.tolist() == [2.0, 2.0]
    (x * 3).sum().backward()
    assert x.grad.dtype is tape.float64 and x.grad.tolist() == [5.0, 5.0]
    w = tape.ones(2, requires_grad=True)
    w.grad_dtype = tape.float64
    assert tape.autograd.grad((w * 2).sum(), w)[0].dtype is tape.float64


def test_grad_dtype_none_allows_any_dtype():
    x = tape.ones(2, requires_grad=True)
    x.grad = tape.ones(2)
    x.grad_dtype = tape.float32         # (the gradient's own dtype, or None: allowed with a gradient there)
    x.grad_dtype = None
    x.grad = None
    assert x.grad_dtype is None
    x.grad = tape.ones(2, dtype=tape.float16)
    assert x.grad.dtype is tape.float16
    x.grad = None
    (x * 2).sum().backward()
    assert x.grad.dtype is tape.float32


def test_grad_dtype_under_create_graph_casts_outside_the_graph():
    v = tape.ones(2, dtype=tape.float64, requires_grad=True)
    v.grad_dtype = tape.float32
    g, = tape.autograd.grad((v * 2).sum(), v, create_graph=True)
    assert g.dtype is tape.float32 and g.grad_fn is None       # (as PyTorch 2.13)


@pytest.mark.parametrize("action, message", [
    (lambda t: (t * 1).grad_dtype, "grad_dtype can only be accessed on leaf tensors."),
    (lambda t: setattr(t * 1, "grad_dtype", tape.float64), "grad_dtype can only be set on leaf tensors."),
    (lambda t: setattr(t, "grad_dtype", 3), "grad_dtype must be a torch.dtype or None, but got int"),
    (lambda t: setattr(t, "grad", tape.ones(2, dtype=tape.float64)),
     "attempting to assign a gradient with dtype 'double' to a tensor with grad_dtype 'Float'. The gradient must "
     "match the tensor's grad_dtype"),
    (lambda t: setattr(t, "grad", tape.ones(2, dtype=tape.int64)),
     "attempting to assign a gradient with dtype 'long int' to a tensor with grad_dtype 'Float'."),
    (lambda t: (setattr(t, "grad", tape.ones(2)), setattr(t, "grad_dtype", tape.float16)),
     r"^Cannot set grad_dtype to 'Half' because there is already a gradient with dtype 'float'\. Please clear the "
     r"gradient \(\.grad = None\) before changing grad_dtype, or ensure the new grad_dtype matches the existing "
     r"gradient's dtype\.$"),
])
def test_grad_dtype_errors(action, message):
    with pytest.raises(RuntimeError, match=message):
        action(tape.ones(2, requires_grad=True))


def test_assigned_grad_must_match_a_set_grad_dtype():
    x = tape.ones(2, requires_grad=True)
    x.grad_dtype = tape.float64
    with pytest.raises(RuntimeError, match="dtype 'float' to a tensor with grad_dtype 'Double'"):
        x.grad = tape.ones(2)
    x.grad = tape.ones(2, dtype=tape.float64)
    assert x.grad.dtype is tape.float64


def test_sequence_nr_follows_the_order_nodes_were_made():
    x = tape.ones(2, requires_grad=True)
    a = x * 2
    b = a + 1
    c = Tanh.apply(b)
    d = c.sum()
    numbers = [t.grad_fn._sequence_nr() for t in (a, b, c, d)]
    assert numbers == sorted(set(numbers))
    assert a.grad_fn.next_functions[0][0]._sequence_nr() == 2 ** 64 - 1      # AccumulateGrad, as PyTorch's


@pytest.mark.torch
def test_grad_dtype_matches_pytorch():
    torch = pytest.importorskip("torch")

    def run(lib):
        out = []
        w = lib.ones(2, requires_grad=True)
        w.grad_dtype = lib.float16
        (w * 2).sum().backward()
        out.append((w.grad.tolist(), str(w.grad.dtype).split(".")[1]))
        w.grad_dtype = None
        out.append(w.grad_dtype)
        return out

    assert run(tape) == run(torch)


def _with_index_output(flag):
    seen = []

    class F(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            if flag is not None:
                ctx._materialize_non_diff_grads = flag
            i = x.detach() * 3
            ctx.mark_non_differentiable(i)
            return x * 2, i

        @staticmethod
        def backward(ctx, g, gi):
            seen.append(None if gi is None else gi.tolist())
            return g * 2

    x = tape.ones(2, requires_grad=True)
    F.apply(x)[0].sum().backward()
    return seen


def test_materialize_non_diff_grads():
    assert _with_index_output(None) == [[0.0, 0.0]]
    assert _with_index_output(True) == [[0.0, 0.0]]
    assert _with_index_output(False) == [None]


def test_saved_variables_is_a_deprecated_alias():
    class F(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_variables
            return g * x

    x = tape.tensor([1.0, 3.0], requires_grad=True)
    with pytest.warns(DeprecationWarning, match="'saved_variables' is deprecated; use 'saved_tensors'"):
        F.apply(x).sum().backward()
    assert x.grad.tolist() == [1.0, 3.0]


def test_saved_tensor_class():
    y = tape.ones(2, requires_grad=True).exp()
    assert isinstance(y.grad_fn._raw_saved_result, tape.autograd.SavedTensor)
