"""Smaller PyTorch names autograd code uses: randperm, empty_strided, Tensor.new, the deprecated and
private tensor attributes (volatile, _grad_fn, _backward_hooks), the _foreach_* list ops and
autograd's private helpers."""
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import tape


# --- randperm ----------------------------------------------------------------------------
def test_randperm_is_a_permutation_of_the_dtype_asked():
    p = tape.randperm(10)
    assert p.dtype is tape.int64 and sorted(p.tolist()) == list(range(10))
    f = tape.randperm(5, dtype=tape.float32, requires_grad=True)
    assert f.dtype is tape.float32 and f.requires_grad and f.is_leaf and sorted(f.tolist()) == [0, 1, 2, 3, 4]
    assert tape.randperm(0).shape == (0,) and tape.randperm(256, dtype=tape.uint8).max().item() == 255
    assert tape.randperm(tape.tensor(3)).shape == (3,) and tape.randperm(n=3).shape == (3,)


def test_randperm_seeding_is_reproducible():
    g = tape.Generator().manual_seed(3)
    a = tape.randperm(50, generator=g).tolist()
    g.manual_seed(3)
    assert tape.randperm(50, generator=g).tolist() == a
    tape.manual_seed(7)
    b = tape.randperm(50).tolist()
    tape.manual_seed(7)
    assert tape.randperm(50).tolist() == b and a != list(range(50))


def test_randperm_out():
    out = tape.empty(0, dtype=tape.int32)
    r = tape.randperm(4, out=out)
    assert r is out and out.dtype is tape.int32 and sorted(out.tolist()) == [0, 1, 2, 3]


@pytest.mark.parametrize("call, error, message", [
    (lambda: tape.randperm(3.0), TypeError, "randperm(): argument 'n' (position 1) must be int, not float"),
    (lambda: tape.randperm(True), TypeError, "randperm(): argument 'n' (position 1) must be int, not bool"),
    (lambda: tape.randperm((5,)), TypeError, "randperm(): argument 'n' (position 1) must be int, not tuple"),
    (lambda: tape.randperm(-1), RuntimeError, "Trying to create tensor with negative dimension -1: [-1]"),
    (lambda: tape.randperm(3, dtype=tape.bool), NotImplementedError, "\"randperm\" not implemented for 'Bool'"),
    (lambda: tape.randperm(129, dtype=tape.int8), RuntimeError,
     "value cannot be converted to type int8_t without overflow"),
    (lambda: tape.randperm(257, dtype=tape.uint8), RuntimeError,
     "value cannot be converted to type uint8_t without overflow"),
    (lambda: tape.randperm(2050, dtype=tape.float16), RuntimeError, "n cannot be greater than 2049 for Half type."),
    (lambda: tape.randperm(2 ** 24 + 2, dtype=tape.float32), RuntimeError,
     "n cannot be greater than 2^24+1 for Float type."),
    (lambda: tape.randperm(3, requires_grad=True), RuntimeError,
     "Only Tensors of floating point and complex dtype can require gradients"),
    (lambda: tape.randperm(3, pin_memory=True), RuntimeError, "pin_memory=True requires a CUDA"),
    (lambda: tape.randperm(3, generator=3), TypeError, "expected a torch.Generator"),
])
def test_randperm_errors(call, error, message):
    with pytest.raises(error) as e:
        call()
    assert str(e.value).startswith(message)


# --- empty_strided --------------------------------------------------------------------------
def test_empty_strided_has_the_strides_asked():
    t = tape.empty_strided((2, 3), (1, 2))
    assert t.shape == (2, 3) and t.stride() == (1, 2) and not t.is_contiguous() and t.dtype is tape.float32
    assert t._base is None and t.storage_offset() == 0
    assert tape.empty_strided([2, 3], [3, 1], dtype=tape.int32).dtype is tape.int32
    assert tape.empty_strided((2, 0), (5, 7)).stride() == (5, 7) and tape.empty_strided((), ()).shape == ()
    assert tape.empty_strided(size=(4, 3), stride=(1, 8)).fill_(2).sum().item() == 24


def test_empty_strided_leaf_gets_its_gradient():
    t = tape.empty_strided((2, 3), (1, 2), dtype=tape.float64, requires_grad=True)
    with tape.no_grad():
        t.copy_(tape.arange(6.0).reshape(2, 3))
    (t * t).sum().backward()
    assert t.is_leaf and t.grad.tolist() == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]


def test_empty_strided_repeated_elements_refuse_in_place_writes():
    t = tape.empty_strided((2, 3), (0, 1))
    assert t.stride() == (0, 1)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor refers to a single"):
        t.add_(1)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor refers to a single"):
        t.copy_(tape.ones(2, 3))


@pytest.mark.parametrize("call, error, message", [
    (lambda: tape.empty_strided(2, 1), TypeError,
     "empty_strided(): argument 'size' (position 1) must be tuple of ints, not int"),
    (lambda: tape.empty_strided((2, 3), (True, 1)), TypeError,
     "empty_strided(): argument 'stride' (position 2) must be tuple of ints, but found element of type bool at pos 0"),
    (lambda: tape.empty_strided((2, 3), (3,)), RuntimeError,
     "dimensionality of sizes (2) must match dimensionality of strides (1)"),
    (lambda: tape.empty_strided((2, 3), (3, -1)), RuntimeError,
     "Storage size calculation overflowed with sizes=[2, 3] and strides=[3, -1]"),
    (lambda: tape.empty_strided((2, -3), (3, 1)), RuntimeError,
     "Trying to create tensor with negative dimension -3: [2, -3]"),
    (lambda: tape.empty_strided((2, 3), (3, 1), dtype=tape.int64, requires_grad=True), RuntimeError,
     "Only Tensors of floating point and complex dtype can require gradients"),
    (lambda: tape.empty_strided((2, 3), (3, 1), out=tape.empty(6)), TypeError,
     "empty_strided() got an unexpected keyword argument 'out'"),
    (lambda: tape.empty_strided((2, 3), (3, 1), memory_format=tape.contiguous_format), TypeError,
     "empty_strided() got an unexpected keyword argument 'memory_format'"),
])
def test_empty_strided_errors(call, error, message):
    with pytest.raises(error) as e:
        call()
    assert str(e.value).startswith(message)


# --- Tensor.new ----------------------------------------------------------------------------
def test_new_forms():
    x = tape.tensor([1.0, 2.0], dtype=tape.float64, requires_grad=True)
    assert x.new().shape == (0,) and x.new().dtype is tape.float64
    assert x.new(2, 3).shape == (2, 3) and x.new(tape.Size([2, 3])).shape == (2, 3)
    assert x.new(size=(2, 3)).shape == (2, 3) and x.new(np.int64(3)).shape == (3,)
    assert x.new((2, 3)).tolist() == [2.0, 3.0] and x.new([[1, 2], [3, 4]]).dtype is tape.float64
    assert x.new([True, False]).tolist() == [1.0, 0.0] and x.new(np.array([1.0, 2.0])).tolist() == [1.0, 2.0]
    assert not x.new(2).requires_grad and x.new(2).is_leaf
    assert tape.tensor([1, 2]).new([1.5, 2.5]).tolist() == [1, 2]


def test_new_of_a_tensor_is_an_alias_view():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = x.new(x)
    assert y is not x and y._base is x and y.requires_grad and not y.is_leaf
    assert y.grad_fn.name() == "AliasBackward0" and y.data_ptr() == x.data_ptr()
    (y * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    z = tape.ones(2, dtype=tape.float64)
    assert z.new(z)._base is z and z.new(z).data_ptr() == z.data_ptr()


def test_new_of_a_storage_shares_its_memory():
    x = tape.tensor([1.0, 2.0], dtype=tape.float64)
    y = x.new(x.untyped_storage())
    assert y.tolist() == [1.0, 2.0] and y.data_ptr() == x.data_ptr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert x.new(x.storage()).data_ptr() == x.data_ptr()
        with pytest.raises(RuntimeError, match="Expected a Storage of type Double or an UntypedStorage, but got type "
                                               "Float for argument 1 'storage'"):
            x.new(tape.ones(2).storage())
    assert x.new(tape.ones(3, dtype=tape.uint8).untyped_storage()).shape == (0,)


@pytest.mark.parametrize("call, error, message", [
    (lambda x: x.new(3.5), TypeError, "new(): data must be a sequence (got float)"),
    (lambda x: x.new(True), TypeError, "new(): data must be a sequence (got bool)"),
    (lambda x: x.new(None), TypeError, "new(): data must be a sequence (got NoneType)"),
    (lambda x: x.new("ab"), TypeError, "new(): invalid data type 'str'"),
    (lambda x: x.new(-1), RuntimeError, "Trying to create tensor with negative dimension -1: [-1]"),
    (lambda x: x.new(2, 3.0), TypeError,
     "new(): argument 'size' failed to unpack the object at pos 2 with error \"type must be tuple of ints,but got "
     "float\""),
    (lambda x: x.new(2, dtype=tape.float32), TypeError,
     "new() received an invalid combination of arguments - got (int, dtype=torch.dtype), but expected one of:"),
    (lambda x: x.new(2, requires_grad=True), TypeError,
     "new() received an invalid combination of arguments - got (int, requires_grad=bool), but expected one of:"),
    (lambda x: x.new((2, 3), (4,)), TypeError,
     "new() received an invalid combination of arguments - got (tuple, tuple), but expected one of:"),
    (lambda x: x.new(tape.tensor([1, 2])), TypeError,
     "expected TensorOptions(dtype=double, device=cpu, layout=Strided, requires_grad=false (default), "
     "pinned_memory=false (default), memory_format=(nullopt)) (got TensorOptions(dtype=long int, device=cpu"),
])
def test_new_errors(call, error, message):
    with pytest.raises(error) as e:
        call(tape.tensor([1.0, 2.0], dtype=tape.float64))
    assert str(e.value).startswith(message)


# --- deprecated and private attributes ---------------------------------------------------------
def test_volatile_is_false_with_a_warning():
    x = tape.ones(2, requires_grad=True)
    with pytest.warns(UserWarning, match=r"volatile was removed \(Variable.volatile is always False\)"):
        assert x.volatile is False
    with pytest.warns(UserWarning, match="volatile was removed and now has no effect. Use `with torch.no_grad"):
        x.volatile = True
    with pytest.warns(UserWarning, match="volatile was removed and now has no effect"):
        del x.volatile
    with pytest.warns(UserWarning):
        assert x.volatile is False and x.requires_grad


def test_private_grad_fn():
    x = tape.ones(2, requires_grad=True)
    z = x * 2
    assert z._grad_fn.name() == "MulBackward0" and x._grad_fn is None
    with pytest.raises(RuntimeError, match="_grad_fn can be only set to None"):
        z._grad_fn = 3
    with pytest.raises(RuntimeError, match="Deletion of _grad_fn not allowed. Detach tensor instead!"):
        del z._grad_fn
    with pytest.raises(RuntimeError, match="Can't detach views in-place. Use detach"):
        z.view(2)._grad_fn = None
    z._grad_fn = None
    assert z.grad_fn is None and not z.requires_grad and z.is_leaf
    x._grad_fn = None
    assert not x.requires_grad


def test_detach__of_a_view_is_refused():
    with pytest.raises(RuntimeError, match="Can't detach views in-place. Use detach"):
        tape.ones(2, requires_grad=True)[0].detach_()
    with pytest.raises(RuntimeError, match="Can't detach views in-place"):
        tape.ones(2).view(2).detach_()
    assert tape.ones(2, requires_grad=True).detach().detach_().requires_grad is False


def test_backward_hooks_show_the_registered_hooks():
    x = tape.ones(2, requires_grad=True)
    z = x * 2
    assert z._backward_hooks is None and x._backward_hooks is None
    h = z.register_hook(lambda g: g * 3)
    assert isinstance(z._backward_hooks, OrderedDict) and list(z._backward_hooks.values())[0](1) == 3
    x.register_hook(lambda g: g)
    assert isinstance(x._backward_hooks, OrderedDict) and len(x._backward_hooks) == 1
    z.sum().backward(retain_graph=True)
    assert x.grad.tolist() == [6.0, 6.0]
    h.remove()
    assert z._backward_hooks == OrderedDict()
    z._backward_hooks = None
    assert z._backward_hooks is None
    with pytest.raises(RuntimeError, match="Deletion of _backwards_hooks not allowed!"):
        del z._backward_hooks


def test_backward_hooks_set_on_a_leaf_run_on_a_non_leaf_only_show():
    calls = []
    y = tape.ones(2, requires_grad=True)
    y._backward_hooks = OrderedDict([(7, lambda g: calls.append(1))])
    (y * 2).sum().backward()
    y._backward_hooks = {1: lambda g: calls.append(2)}
    (y * 2).sum().backward()
    z = y * 2
    z._backward_hooks = {1: lambda g: g * 10}      # (PyTorch's node keeps the hooks it has)
    assert list(z._backward_hooks) == [1]
    z.sum().backward()
    y._backward_hooks = None
    (y * 2).sum().backward()
    assert calls == [1, 2, 2] and y.grad.tolist() == [8.0, 8.0] and y._backward_hooks is None


# --- _foreach_* ----------------------------------------------------------------------------------
def _lists():
    xs = [tape.tensor([0.3, -1.2, 2.0], dtype=tape.float64, requires_grad=True),
          tape.tensor([[0.5, 1.5], [-0.7, 0.9]], dtype=tape.float64, requires_grad=True)]
    ys = [tape.tensor([1.1, 0.4, -2.0], dtype=tape.float64, requires_grad=True),
          tape.tensor([[0.2, -1.0], [0.8, 0.6]], dtype=tape.float64, requires_grad=True)]
    return xs, ys


@pytest.mark.parametrize("name, args, single", [
    ("_foreach_add", lambda ys: (ys,), lambda x, y, i: x + y),
    ("_foreach_sub", lambda ys: (2.5,), lambda x, y, i: x - 2.5),
    ("_foreach_mul", lambda ys: ([2, -3],), lambda x, y, i: x * [2, -3][i]),
    ("_foreach_div", lambda ys: (ys,), lambda x, y, i: x / y),
    ("_foreach_maximum", lambda ys: (ys,), lambda x, y, i: x.maximum(y)),
    ("_foreach_minimum", lambda ys: (0.1,), lambda x, y, i: x.clamp_max(0.1)),
    ("_foreach_pow", lambda ys: ([2, 3],), lambda x, y, i: x ** [2, 3][i]),
    ("_foreach_exp", lambda ys: (), lambda x, y, i: x.exp()),
    ("_foreach_addcdiv", lambda ys: (ys, ys, 0.5), lambda x, y, i: x.addcdiv(y, y, value=0.5)),
    ("_foreach_lerp", lambda ys: (ys, ys), lambda x, y, i: x.lerp(y, y)),
    ("_foreach_norm", lambda ys: (), lambda x, y, i: tape.linalg.vector_norm(x)),
])
def test_foreach_is_the_single_op_on_each_tensor(name, args, single):
    xs, ys = _lists()
    out = getattr(tape, name)(xs, *args(ys))
    assert isinstance(out, tuple) and len(out) == 2
    for i, (x, y, o) in enumerate(zip(xs, ys, out)):
        want = single(x, y, i)
        assert o.grad_fn.name() == want.grad_fn.name() and o.tolist() == want.tolist()
        g = tape.autograd.grad(o.sum(), [x, y], allow_unused=True)
        w = tape.autograd.grad(want.sum(), [x, y], allow_unused=True)
        assert [None if a is None else a.tolist() for a in g] == [None if a is None else a.tolist() for a in w]


def test_foreach_in_place_changes_the_tensors_and_returns_the_list():
    xs, ys = _lists()
    base = [x * 1 for x in xs]
    assert tape._foreach_mul_(base, ys) is base
    assert [b.grad_fn.name() for b in base] == ["MulBackward0", "MulBackward0"]
    sum(b.sum() for b in base).backward()
    assert xs[0].grad.tolist() == ys[0].tolist() and ys[1].grad.tolist() == xs[1].tolist()
    ts = (tape.ones(2), tape.ones(3))
    assert tape._foreach_add_(ts, 2) is ts and ts[1].tolist() == [3.0, 3.0, 3.0]
    tape._foreach_zero_(ts)
    tape._foreach_copy_(list(ts), [tape.tensor([1.0, 2.0]), tape.tensor(5.0)])
    assert ts[0].tolist() == [1.0, 2.0] and ts[1].tolist() == [5.0, 5.0, 5.0]
    tape._foreach_addcmul_(list(ts), list(ts), list(ts), tape.tensor([1.0, 2.0]))
    assert ts[0].tolist() == [2.0, 6.0] and ts[1].tolist() == [55.0, 55.0, 55.0]
    tape._foreach_maximum_(list(ts), [tape.full((2,), 4.0), tape.full((3,), 4.0)])
    assert ts[0].tolist() == [4.0, 6.0]
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        tape._foreach_exp_(xs)


def test_foreach_operand_forms():
    a = [tape.ones(2), tape.ones(3) * 2]
    b = [tape.ones(2) * 3, tape.ones(3) * 4]
    assert [t.tolist() for t in tape._foreach_add(a, b, alpha=2)] == [[7.0, 7.0], [10.0, 10.0, 10.0]]
    assert [t.tolist() for t in tape._foreach_add(a, tape.tensor(5.0), alpha=2)] == [[11.0, 11.0], [12.0] * 3]
    assert [t.tolist() for t in tape._foreach_sub(a, tape.tensor(1.0))] == [[0.0, 0.0], [1.0] * 3]
    assert [t.tolist() for t in tape._foreach_add(a, scalars=[1, 2])] == [[2.0, 2.0], [4.0] * 3]
    assert [t.tolist() for t in tape._foreach_add(a, other=b)] == [[4.0, 4.0], [6.0] * 3]
    assert [t.tolist() for t in tape._foreach_pow(2, a)] == [[2.0, 2.0], [4.0] * 3]
    assert [t.tolist() for t in tape._foreach_lerp(a, b, [0.5, 1])] == [[2.0, 2.0], [4.0] * 3]
    assert [t.tolist() for t in tape._foreach_clamp_min(a, [1, 5])] == [[1.0, 1.0], [5.0] * 3]
    assert [t.item() for t in tape._foreach_powsum([tape.tensor([0.0, 2.0, -3.0])], 3)] == [35.0]
    assert [t.item() for t in tape._foreach_max([tape.tensor([1, 2])])] == [2]
    assert tape._foreach_div([tape.tensor([1, 2])], 2)[0].tolist() == [0.5, 1.0]
    assert tape._foreach_mm([tape.ones(2, 3)], [tape.ones(3, 4)])[0].tolist() == [[3.0] * 4] * 2
    assert tape._foreach_norm(b, 2, dtype=tape.float64)[0].dtype is tape.float64


_A = [tape.ones(2), tape.ones(3)]


@pytest.mark.parametrize("call, error, message", [
    (lambda: tape._foreach_add(_A, _A[:1]), RuntimeError, "Tensor lists must have the same number of tensors, got 2 "
                                                          "and 1"),
    (lambda: tape._foreach_add(_A, [1]), RuntimeError, "Tensor list must have same number of elements as scalar list."),
    (lambda: tape._foreach_add([], 1), RuntimeError, "Tensor list must have at least one tensor."),
    (lambda: tape._foreach_exp([]), RuntimeError, "Tensor list must have at least one tensor."),
    (lambda: tape._foreach_add(_A, tape.tensor([5.0])), RuntimeError,
     "scalar tensor expected to be 0 dim but it has 1 dimensions and 1 elements."),
    (lambda: tape._foreach_add(_A, 1, alpha=2), TypeError,
     "_foreach_add() received an invalid combination of arguments - got (list, int, alpha=int), but expected one of:"),
    (lambda: tape._foreach_mul(_A, _A, alpha=2), TypeError,
     "_foreach_mul() received an invalid combination of arguments - got (list, list, alpha=int)"),
    (lambda: tape._foreach_add(_A[0], 1), TypeError,
     "_foreach_add() received an invalid combination of arguments - got (Tensor, int)"),
    (lambda: tape._foreach_sub(_A, tape.tensor([1.0])), TypeError,
     "_foreach_sub() received an invalid combination of arguments - got (list, Tensor)"),
    (lambda: tape._foreach_add(_A, [_A[0], 1.5]), TypeError,
     "expected Tensor as element 1 in argument 1, but got float"),
    (lambda: tape._foreach_exp([_A[0], 1]), TypeError, "expected Tensor as element 1 in argument 0, but got int"),
    (lambda: tape._foreach_exp(_A, 1), TypeError, "_foreach_exp() takes 1 positional argument but 2 were given"),
    (lambda: tape._foreach_add(_A, [tape.ones(3), tape.ones(3)]), RuntimeError,
     "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0"),
    (lambda: tape._foreach_add_([tape.ones(2, dtype=tape.int64)], 1.5), RuntimeError,
     "result type Float can't be cast to the desired output type Long"),
    (lambda: tape._foreach_addcmul(_A, _A, _A, tape.tensor([1.0, 2.0, 3.0])), RuntimeError,
     "Expected length of scalars to match input of length 2 but got 3 instead."),
    (lambda: tape._foreach_addcdiv(_A, _A, _A, tape.tensor(2.0)), RuntimeError,
     "Expected packed scalar Tensor to be of dimension 1. Got 0 instead."),
    (lambda: tape._foreach_addcmul(_A, _A[:1], _A), RuntimeError,
     "Tensor lists must have the same number of tensors, got 2 and 1"),
    (lambda: tape._foreach_lerp(_A, _A, [0.5]), RuntimeError,
     "Tensor list must have same number of elements as scalar list."),
    (lambda: tape._foreach_copy_(list(_A), _A[:1]), RuntimeError,
     "Tensor lists must have the same number of tensors, got 2 and 1"),
    (lambda: tape._foreach_mm([tape.ones(2, 3)], [tape.ones(3, 4)] * 2), RuntimeError,
     "_foreach_mm: self and mat2 must have the same number of tensors"),
    (lambda: tape._foreach_max([tape.ones(0)]), RuntimeError,
     "_foreach_max cannot compute the maximum of an empty tensor; max over zero elements is undefined."),
    (lambda: tape._foreach_norm([tape.tensor([1, 2])]), RuntimeError,
     "linalg.vector_norm: Expected a floating point or complex tensor as input. Got Long"),
    (lambda: tape._foreach_norm(_A, dtype=tape.int64), RuntimeError,
     "linalg.vector_norm: dtype should be floating point or complex, but got Long"),
])
def test_foreach_errors(call, error, message):
    with pytest.raises(error) as e:
        call()
    assert str(e.value).startswith(message)


@pytest.mark.torch
def test_foreach_names_values_and_gradients_as_torch():
    torch = pytest.importorskip("torch")
    assert {n for n in dir(torch) if n.startswith("_foreach")} <= set(dir(tape))

    def run(m, name, make_args, inplace):
        xs = [m.tensor([0.3, -1.2, 2.0], dtype=m.float64, requires_grad=True),
              m.tensor([[0.5, 1.5], [-0.7, 0.9]], dtype=m.float64, requires_grad=True)]
        ys = [m.tensor([1.1, 0.4, -2.0], dtype=m.float64, requires_grad=True),
              m.tensor([[0.2, -1.0], [0.8, 0.6]], dtype=m.float64, requires_grad=True)]
        base = [x * 1 for x in xs] if inplace else xs
        out = getattr(m, name)(base, *make_args(m, ys))
        loss = sum((o * (i + 1.5)).sum() for i, o in enumerate(out))
        gs = m.autograd.grad(loss, xs + ys, allow_unused=True, create_graph=True)
        again = [g for g in gs if g is not None and g.requires_grad]
        g2 = m.autograd.grad(sum(g.sum() for g in again), xs, allow_unused=True) if again else ()
        shown = lambda ts: [None if t is None else t.tolist() for t in ts]      # noqa: E731
        return [shown(out), shown(gs), shown(g2)]

    cases = [
        ("_foreach_add", lambda m, ys: (ys,), False), ("_foreach_add_", lambda m, ys: (ys,), True),
        ("_foreach_sub", lambda m, ys: (ys,), False),
        ("_foreach_mul", lambda m, ys: (m.tensor(1.7, dtype=m.float64),), False),
        ("_foreach_div", lambda m, ys: ([2, 3],), False), ("_foreach_div_", lambda m, ys: (ys,), True),
        ("_foreach_sigmoid", lambda m, ys: (), False), ("_foreach_neg_", lambda m, ys: (), True),
        ("_foreach_maximum", lambda m, ys: (ys,), False), ("_foreach_clamp_max_", lambda m, ys: ([0.4, 0.6],), True),
        ("_foreach_pow", lambda m, ys: (2,), False), ("_foreach_addcmul", lambda m, ys: (ys, ys, 0.5), False),
        ("_foreach_addcdiv_", lambda m, ys: (ys, ys, [0.5, 2]), True),
        ("_foreach_lerp", lambda m, ys: (ys, ys), False),
        ("_foreach_norm", lambda m, ys: (), False), ("_foreach_max", lambda m, ys: (), False),
    ]
    for name, make_args, inplace in cases:
        want, got = run(torch, name, make_args, inplace), run(tape, name, make_args, inplace)
        for w, g in zip(want, got):
            for a, b in zip(w, g):
                assert (a is None) == (b is None), name
                if a is not None:
                    assert np.allclose(a, b, rtol=1e-12, atol=1e-14), name


# --- autograd's private helpers ----------------------------------------------------------------
def test_unsafe_preserve_version_counter_hides_the_changes():
    x = tape.ones(2, requires_grad=True).clone()
    x.add_(1)
    x.add_(2)
    with tape.autograd._unsafe_preserve_version_counter(x):
        x.mul_(2)
        x.mul_(3)
        assert x._version == 4
    assert x._version == 2 and x.tolist() == [24.0, 24.0]
    a = tape.ones(2, requires_grad=True)
    w = tape.full((2,), 3.0)
    y = a * w
    with tape.autograd._unsafe_preserve_version_counter((w,)):
        w.mul_(1)
    y.sum().backward()          # (PyTorch's would raise without the context)
    assert a.grad.tolist() == [3.0, 3.0] and w._version == 0
    y = a * w
    w.mul_(1)           # (outside the context: seen)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    with pytest.raises(AssertionError, match="Expected tensors to be a tuple"):
        tape.autograd._unsafe_preserve_version_counter([w])


def test_calculate_shape():
    x = tape.ones(2, 3, requires_grad=True)
    y = x * 2
    cs = tape.autograd._calculate_shape
    assert cs(y, tape.ones(2, 3), False) == ((2, 3), (2, 3))
    shapes = cs(y, tape.ones(4, 2, 3), True)
    assert shapes == ((2, 3), (2, 3)) and all(type(s) is tape.Size for s in shapes)
    edge = tape.autograd.graph.get_gradient_edge(y)
    assert cs(edge, tape.ones(5), False) == ((2, 3), (5,))
    with pytest.raises(RuntimeError, match="Batched grads are not supported with GradientEdge"):
        cs(edge, tape.ones(5), True)


def test_construct_standard_basis_for():
    basis = tape.autograd.functional._construct_standard_basis_for
    chunks = basis((tape.ones(1), tape.ones(2, dtype=tape.float64), tape.ones(1, dtype=tape.int64)), (1, 2, 1))
    assert [c.tolist() for c in chunks] == [[[1.0], [0.0], [0.0], [0.0]],
                                            [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], [[0], [0], [0], [1]]]
    assert [c.dtype for c in chunks] == [tape.float32, tape.float64, tape.int64]
    with pytest.raises(AssertionError, match="Expected tensors and tensor_numels to have the same length, but got 1 "
                                             "and 2"):
        basis((tape.ones(1),), (1, 2))
    with pytest.raises(AssertionError, match="Expected at least one tensor"):
        basis((), ())


# --- Tensor.set_ ---------------------------------------------------------------------------------
def test_set__shares_the_source_memory():
    src = tape.arange(4.0)
    y = tape.ones(2)
    assert y.set_(src) is y and y.tolist() == [0.0, 1.0, 2.0, 3.0] and y.data_ptr() == src.data_ptr()
    assert y._version == 1 and src._version == 0 and y._base is None
    y.add_(1)
    assert src.tolist() == [1.0, 2.0, 3.0, 4.0]
    src.mul_(2)
    assert y.tolist() == [2.0, 4.0, 6.0, 8.0]
    y.set_()
    assert y.shape == (0,) and y.dtype is tape.float32 and y._version == 3


def test_set__with_offset_size_and_stride():
    s = tape.arange(6.0)
    t = tape.empty(0).set_(s, 2, (2, 2), (1, 2))
    assert t.tolist() == [[2.0, 4.0], [3.0, 5.0]] and t.stride() == (1, 2)
    assert tape.empty(0).set_(s, 0, (2, 3)).stride() == (3, 1)
    assert tape.empty(0).set_(s.untyped_storage(), 1, (2,), (1,)).tolist() == [1.0, 2.0]
    u = tape.ones(2).set_(s.untyped_storage())
    assert u.tolist() == s.tolist() and u.data_ptr() == s.data_ptr()
    assert tape.empty(0).set_(source=tape.arange(3.0)).tolist() == [0.0, 1.0, 2.0]


def test_set__of_a_leaf_that_requires_grad_under_no_grad():
    w = tape.ones(2, requires_grad=True)
    with tape.no_grad():
        w.set_(tape.tensor([1.0, 2.0, 3.0]))
    assert w.requires_grad and w.is_leaf
    (w * w).sum().backward()
    assert w.grad.tolist() == [2.0, 4.0, 6.0]
    c = tape.ones(3)
    with tape.no_grad():
        c.set_(tape.zeros(3, requires_grad=True))
    assert not c.requires_grad


@pytest.mark.parametrize("call, error, message", [
    (lambda: tape.ones(2, requires_grad=True).set_(tape.zeros(3)), RuntimeError,
     "a leaf Variable that requires grad is being used in an in-place operation."),
    (lambda: (tape.ones(2, requires_grad=True) * 1).set_(tape.zeros(3)), RuntimeError,
     "tape: set_ of a tensor with history"),
    (lambda: tape.ones(3).set_(tape.zeros(3, requires_grad=True)), RuntimeError, "tape: set_ of a tensor with history"),
    (lambda: tape.ones(2).set_(tape.zeros(3, dtype=tape.float64)), RuntimeError,
     "Could not set tensor of type double to a tensor of type float"),
    (lambda: tape.ones(2, dtype=tape.float64).set_(tape.ones(2).storage()), RuntimeError,
     "Expected a Storage of type double or an UntypedStorage, but got type Float for argument 1 'storage'"),
    (lambda: tape.ones(2).set_(5), TypeError,
     "set_() received an invalid combination of arguments - got (int), but expected one of:"),
    (lambda: tape.empty(0).set_(tape.arange(6.0), 0), TypeError,
     "set_() received an invalid combination of arguments - got (Tensor, int), but expected one of:"),
    (lambda: tape.empty(0).set_(tape.arange(6.0), -1, (2,), (1,)), RuntimeError, "Tensor: invalid storage offset -1"),
    (lambda: tape.empty(0).set_(tape.arange(6.0), 0, (2,), (-1,)), RuntimeError,
     "Storage size calculation overflowed with sizes=[2] and strides=[-1]"),
    (lambda: tape.empty(0).set_(tape.arange(6.0), 0, (2,), (1, 1)), RuntimeError,
     "unequal size length (1) and stride length (2)"),
    (lambda: tape.empty(0).set_(tape.arange(6.0), 5, (2,), (1,)), RuntimeError, "setStorage: sizes [2], strides [1]"),
])
def test_set__errors(call, error, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error) as e:
            call()
    assert str(e.value).startswith(message)


def test_in_place_into_an_empty_tensor_is_no_overlap():
    e = tape.empty_strided((2, 0), (0, 1))
    assert e.add_(1).shape == (2, 0)
    z = tape.zeros(2, 0, dtype=tape.float64) * 1.0
    m = tape.zeros(0, 0, dtype=tape.float64)
    assert z.addmm_(tape.zeros(2, 0, dtype=tape.float64), m, beta=-1.0).shape == (2, 0)
