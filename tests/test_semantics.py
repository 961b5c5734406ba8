"""PyTorch's autograd semantics, one test per rule (``import tape as torch``).

Every expectation here was checked against PyTorch 2.x.
"""
import gc
import os
import threading
import tracemalloc
import warnings

import numpy as np
import pytest

import tape as torch
from tape._state import state


SECOND_BACKWARD = "Trying to backward through the graph a second time"
NONLEAF_GRAD_WARNING = (
    r"The \.grad attribute of a Tensor that is not a leaf Tensor is being accessed"
)


@pytest.fixture(autouse=True)
def _restore_global_state():
    yield
    torch.set_grad_enabled(True)
    torch.set_default_dtype(torch.float32)


def fn_name(node):
    return None if node is None else type(node).__name__


def next_structure(node):
    return tuple((fn_name(f), i) for f, i in node.next_functions)


def vals(t):
    return t.detach().tolist()


# ---------------------------------------------------------------------------
# .grad accumulation
# ---------------------------------------------------------------------------

def test_grad_accumulates_into_leaf_across_backward_calls():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert x.grad is None
    (x * x).sum().backward()
    assert vals(x.grad) == [2.0, 4.0, 6.0]
    (x * x).sum().backward()
    assert vals(x.grad) == [4.0, 8.0, 12.0]
    (3 * x).sum().backward()
    assert vals(x.grad) == [7.0, 11.0, 15.0]


def test_grad_tensor_is_updated_in_place():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    g = x.grad
    (x * x).sum().backward()
    assert g is x.grad
    assert vals(g) == [4.0, 8.0]


def test_grad_accumulates_on_0d_float64():
    # The 0-d float64 fast path keeps .grad as a Python float: it must add, and in place (PyTorch: 8,
    # the same tensor object).
    x = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    (x * x).backward()
    g = x.grad
    (x * x).backward()
    assert x.grad is g
    assert x.grad.item() == 8.0
    (x * 3.0).backward()
    assert x.grad.item() == 11.0


def test_grad_zero_then_accumulate_same_object():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    g = x.grad
    r = x.grad.zero_()
    assert r is g
    assert vals(x.grad) == [0.0, 0.0]
    (x * x).sum().backward()
    assert x.grad is g
    assert vals(x.grad) == [2.0, 4.0]


def test_grad_is_plain_tensor_without_history():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.requires_grad is False
    assert x.grad.grad_fn is None
    assert x.grad.dtype == x.dtype
    assert tuple(x.grad.shape) == tuple(x.shape)


def test_grad_setter():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x.grad = torch.ones(3)
    assert vals(x.grad) == [1.0, 1.0, 1.0]
    (2 * x).sum().backward()
    assert vals(x.grad) == [3.0, 3.0, 3.0]
    x.grad = None
    assert x.grad is None
    (2 * x).sum().backward()
    assert vals(x.grad) == [2.0, 2.0, 2.0]


def test_grad_dtype_follows_leaf():
    x = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.dtype == torch.float64


def test_broadcast_gradient_is_reduced_to_leaf_shape():
    b = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    s = torch.tensor(2.0, requires_grad=True)
    m = torch.ones(2, 3)
    ((m + b) * s).sum().backward()
    assert tuple(b.grad.shape) == (3,)
    assert vals(b.grad) == [4.0, 4.0, 4.0]
    assert tuple(s.grad.shape) == ()
    assert s.grad.item() == 18.0  # sum(m + b)


# ---------------------------------------------------------------------------
# non-leaf .grad, retain_grad
# ---------------------------------------------------------------------------

def test_nonleaf_grad_is_none_and_warns():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y.sum()
    z.backward()
    with pytest.warns(UserWarning, match=NONLEAF_GRAD_WARNING):
        assert y.grad is None
    with pytest.warns(UserWarning, match=NONLEAF_GRAD_WARNING):
        assert z.grad is None


def test_leaf_grad_access_does_not_warn():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    p = torch.ones(2)
    with torch.no_grad():
        q = x * 2  # a leaf: made without grad
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert x.grad is None
        assert p.grad is None
        assert q.grad is None


def test_retain_grad():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    assert y.retains_grad is False
    y.retain_grad()
    assert y.retains_grad is True
    assert x.retains_grad is False
    (y * y).sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning for a retained non-leaf
        assert vals(y.grad) == [6.0, 12.0]
    assert vals(x.grad) == [18.0, 36.0]
    # retain_grad on a leaf is a no-op
    x.retain_grad()
    assert x.retains_grad is False


def test_retain_grad_accumulates():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    z = y.sum()
    z.backward(retain_graph=True)
    z.backward()
    assert vals(y.grad) == [2.0, 2.0]
    assert vals(x.grad) == [6.0, 6.0]


# ---------------------------------------------------------------------------
# retain_graph
# ---------------------------------------------------------------------------

SAVING_OPS = {
    "mul": lambda x: (x * x).sum(),
    "exp": lambda x: x.exp().sum(),
    "pow": lambda x: (x ** 2).sum(),
    "sin": lambda x: x.sin().sum(),
}

NON_SAVING_OPS = {
    "add_const": (lambda x: (x + 1).sum(), [1.0, 1.0, 1.0]),
    "sum": (lambda x: x.sum(), [1.0, 1.0, 1.0]),
    "sub_const": (lambda x: (x - 3).sum(), [1.0, 1.0, 1.0]),
    "rsub": (lambda x: (1 - x).sum(), [-1.0, -1.0, -1.0]),
    "neg": (lambda x: (-x).sum(), [-1.0, -1.0, -1.0]),
    "add_self": (lambda x: (x + x).sum(), [2.0, 2.0, 2.0]),
    "reshape": (lambda x: x.reshape(3, 1).sum(), [1.0, 1.0, 1.0]),
    "mean": (lambda x: x.mean(), [1 / 3, 1 / 3, 1 / 3]),
}


@pytest.mark.parametrize("name", sorted(SAVING_OPS))
def test_second_backward_through_saving_op_raises(name):
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = SAVING_OPS[name](x)
    y.backward()
    g1 = vals(x.grad)
    with pytest.raises(RuntimeError, match=SECOND_BACKWARD):
        y.backward()
    assert vals(x.grad) == g1


@pytest.mark.parametrize("name", ["mul_by_python_scalar", "div_by_python_scalar"])
def test_second_backward_through_scalar_mul_div_raises(name):
    # PyTorch's mul/div by a Python number save the (wrapped) number.
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * 2).sum() if name.startswith("mul") else (x / 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=SECOND_BACKWARD):
        y.backward()


@pytest.mark.parametrize("name", sorted(NON_SAVING_OPS))
def test_second_backward_through_non_saving_ops_accumulates(name):
    fn, g = NON_SAVING_OPS[name]
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = fn(x)
    y.backward()
    y.backward()  # nothing saved: works in PyTorch
    assert np.allclose(vals(x.grad), [2 * v for v in g])


def test_retain_graph_allows_second_backward():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)
    y.backward()
    assert vals(x.grad) == [6.0, 12.0, 18.0]
    with pytest.raises(RuntimeError, match=SECOND_BACKWARD):
        y.backward()


def test_autograd_grad_frees_graph_too():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    torch.autograd.grad(y, x)
    with pytest.raises(RuntimeError, match=SECOND_BACKWARD):
        torch.autograd.grad(y, x)


def test_freed_graph_shared_subgraph():
    # a new output built on a freed intermediate cannot backprop through it
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    h.sum().backward()
    out = (h * 2).sum()
    with pytest.raises(RuntimeError, match=SECOND_BACKWARD):
        out.backward()


def test_retained_shared_subgraph_reused():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    h.sum().backward(retain_graph=True)
    (h * 3).sum().backward()
    assert vals(x.grad) == [8.0, 16.0]


# ---------------------------------------------------------------------------
# is_leaf, requires_grad propagation
# ---------------------------------------------------------------------------

def test_is_leaf_rules():
    a = torch.ones(2)
    b = torch.ones(2, requires_grad=True)
    assert a.is_leaf is True
    assert b.is_leaf is True
    assert (a * 2).is_leaf is True          # no grad required: a leaf
    assert (b * 2).is_leaf is False
    assert b.sum().is_leaf is False
    assert b.detach().is_leaf is True
    with torch.no_grad():
        c = b * 2
    assert c.is_leaf is True and c.requires_grad is False


def test_requires_grad_propagation():
    a = torch.ones(2)
    b = torch.ones(2, requires_grad=True)
    assert a.requires_grad is False
    assert (a + a).requires_grad is False
    assert (a + b).requires_grad is True
    assert (b + a).requires_grad is True
    assert (a * b).sum().requires_grad is True
    assert (a + b).detach().requires_grad is False
    assert (b * 0).requires_grad is True
    assert (a + b).grad_fn is not None
    assert (a + a).grad_fn is None


def test_created_under_no_grad_then_requires_grad_is_leaf():
    with torch.no_grad():
        z = torch.ones(2) * 3
    z.requires_grad = True
    assert z.is_leaf is True
    assert z.grad_fn is None
    (z * z).sum().backward()
    assert vals(z.grad) == [6.0, 6.0]


def test_requires_grad_setter_on_leaf():
    x = torch.tensor([1.0, 2.0])
    x.requires_grad = True
    assert x.requires_grad is True
    x.requires_grad = False
    assert x.requires_grad is False


def test_requires_grad_underscore():
    x = torch.tensor([1.0, 2.0])
    r = x.requires_grad_()
    assert r is x
    assert x.requires_grad is True
    r = x.requires_grad_(False)
    assert r is x
    assert x.requires_grad is False
    x.requires_grad_(True)
    (x * x).sum().backward()
    assert vals(x.grad) == [2.0, 4.0]


def test_setting_requires_grad_on_non_leaf_errors():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=(
            r"you can only change requires_grad flags of leaf variables\. "
            r"If you want to use a computed variable in a subgraph that doesn't "
            r"require differentiation use var_no_grad = var\.detach\(\)\.")):
        y.requires_grad = False
    with pytest.raises(RuntimeError, match=(
            r"you can only change requires_grad flags of leaf variables\. If you want")):
        y.requires_grad_(False)
    with pytest.raises(RuntimeError,
                       match=r"^you can only change requires_grad flags of leaf variables\.$"):
        y.requires_grad = True
    assert y.requires_grad is True


def test_requires_grad_on_integer_tensor_errors():
    with pytest.raises(RuntimeError,
                       match="Only Tensors of floating point and complex dtype can require gradients"):
        torch.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError,
                       match="only Tensors of floating point dtype can require gradients"):
        torch.tensor([1, 2]).requires_grad_()
    a = torch.tensor([1, 2])
    with pytest.raises(RuntimeError,
                       match="only Tensors of floating point and complex dtype can require gradients"):
        a.requires_grad = True
    assert a.requires_grad is False
    # bool too
    with pytest.raises(RuntimeError, match="can require gradients"):
        torch.tensor([True]).requires_grad_()


# ---------------------------------------------------------------------------
# grad mode
# ---------------------------------------------------------------------------

def test_no_grad_context_manager():
    x = torch.ones(2, requires_grad=True)
    assert torch.is_grad_enabled() is True
    with torch.no_grad():
        assert torch.is_grad_enabled() is False
        y = x * 2
    assert torch.is_grad_enabled() is True
    assert y.requires_grad is False and y.grad_fn is None


def test_no_grad_restores_on_exception():
    with pytest.raises(ValueError):
        with torch.no_grad():
            raise ValueError("boom")
    assert torch.is_grad_enabled() is True


def test_no_grad_decorator_with_and_without_call():
    x = torch.ones(2, requires_grad=True)

    @torch.no_grad()
    def f(t):
        assert torch.is_grad_enabled() is False
        return t * 2

    @torch.no_grad
    def g(t):
        return t * 2

    assert f(x).requires_grad is False
    assert g(x).requires_grad is False
    assert torch.is_grad_enabled() is True
    assert f.__name__ == "f"


@pytest.mark.parametrize("decorator", ["no_grad()", "no_grad", "set_grad_enabled(False)", "enable_grad()",
                                       "set_grad_enabled(True)"])
@pytest.mark.parametrize("outer", [True, False])
def test_grad_mode_decorator_restores_on_exception(decorator, outer):
    @eval("torch." + decorator)
    def fails():
        raise ValueError("boom")

    torch.set_grad_enabled(outer)
    with pytest.raises(ValueError, match="boom"):
        fails()
    assert torch.is_grad_enabled() is outer


def test_enable_grad_inside_no_grad():
    x = torch.ones(2, requires_grad=True)
    with torch.no_grad():
        with torch.enable_grad():
            assert torch.is_grad_enabled() is True
            y = x * 2
        assert torch.is_grad_enabled() is False
        z = x * 2

        @torch.enable_grad()
        def f(t):
            return t * 3

        w = f(x)
    assert y.requires_grad is True and fn_name(y.grad_fn) == "MulBackward0"
    assert z.requires_grad is False
    assert w.requires_grad is True


def test_set_grad_enabled_as_function():
    try:
        torch.set_grad_enabled(False)
        assert torch.is_grad_enabled() is False
        x = torch.ones(2, requires_grad=True)
        assert (x * 2).requires_grad is False
        torch.set_grad_enabled(True)
        assert torch.is_grad_enabled() is True
        assert (x * 2).requires_grad is True
    finally:
        torch.set_grad_enabled(True)


def test_set_grad_enabled_as_context_manager():
    x = torch.ones(2, requires_grad=True)
    with torch.set_grad_enabled(False):
        assert torch.is_grad_enabled() is False
        y = x * 2
        with torch.set_grad_enabled(True):
            assert torch.is_grad_enabled() is True
            z = x * 2
        assert torch.is_grad_enabled() is False
    assert torch.is_grad_enabled() is True
    assert y.requires_grad is False
    assert z.requires_grad is True


def test_set_grad_enabled_as_decorator():
    @torch.set_grad_enabled(False)
    def f():
        return torch.is_grad_enabled()

    assert f() is False
    assert torch.is_grad_enabled() is True


def test_grad_mode_is_thread_local():
    seen = {}

    def worker(key):
        seen[key] = torch.is_grad_enabled()
        x = torch.ones(2, requires_grad=True)
        seen[key + "_rg"] = (x * 2).requires_grad

    with torch.no_grad():
        th = threading.Thread(target=worker, args=("inside_no_grad",))
        th.start()
        th.join()
        assert torch.is_grad_enabled() is False
    assert seen == {"inside_no_grad": True, "inside_no_grad_rg": True}

    def disabler():
        torch.set_grad_enabled(False)
        seen["thread_after_disable"] = torch.is_grad_enabled()

    th = threading.Thread(target=disabler)
    th.start()
    th.join()
    assert seen["thread_after_disable"] is False
    assert torch.is_grad_enabled() is True


def test_leaf_requires_grad_creation_under_no_grad():
    with torch.no_grad():
        w = torch.ones(2, requires_grad=True)
    assert w.requires_grad is True and w.is_leaf is True


# ---------------------------------------------------------------------------
# detach, .data
# ---------------------------------------------------------------------------

def test_detach_shares_storage():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert d is not x
    assert d.requires_grad is False and d.is_leaf is True and d.grad_fn is None
    d.mul_(10)
    assert vals(x) == [10.0, 20.0]
    # both see the version bump of the shared storage
    assert d._version == 1 and x._version == 1
    np.testing.assert_array_equal(x.detach().numpy(), d.numpy())


def test_setitem_through_detach():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    d[0] = 10.0
    assert vals(x) == [10.0, 2.0]
    assert d._version == 1 and x._version == 1


def test_detach_of_non_leaf():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d.requires_grad is False and d.is_leaf is True
    assert vals(d) == [2.0, 4.0]
    assert y.requires_grad is True and y.grad_fn is not None


def test_detach_in_place():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    r = y.detach_()
    assert r is y
    assert y.is_leaf is True
    assert y.requires_grad is False
    assert y.grad_fn is None
    assert vals(y) == [2.0, 4.0]


def test_data_get():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    d = x.data
    assert d.requires_grad is False and d.is_leaf is True and d.grad_fn is None
    d.add_(1)
    assert vals(x) == [2.0, 3.0]
    assert x.requires_grad is True


def test_data_set_replaces_values_and_shape():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    x.data = torch.tensor([7.0, 8.0, 9.0])
    assert vals(x) == [7.0, 8.0, 9.0]
    assert tuple(x.shape) == (3,)
    assert x.requires_grad is True and x.is_leaf is True
    (x * x).sum().backward()
    assert vals(x.grad) == [14.0, 16.0, 18.0]


def test_data_in_place_update_not_recorded():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    x.data *= 100
    assert vals(x) == [100.0, 200.0]
    assert x.grad_fn is None and x.is_leaf is True
    (x * 1.0).sum().backward()
    assert vals(x.grad) == [1.0, 1.0]


MODIFIED = "one of the variables needed for gradient computation has been modified by an inplace operation"


def test_data_shares_storage_but_not_the_version():
    # Changes through .data are invisible to autograd, and backward uses the changed values, as
    # PyTorch's saved tensors share the storage (values from PyTorch 2.13).
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    x.data.mul_(2)
    assert x._version == 0
    y.backward()
    assert vals(x.grad) == [4.0, 8.0]
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    w.data -= 0.1 * w.grad
    assert w._version == 0
    np.testing.assert_allclose(vals(w), [0.8, 1.6], rtol=1e-6)
    s = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    t = s * s
    s.data.mul_(2)
    t.backward()
    assert s.grad.item() == 8.0 and s._version == 0


def test_data_of_a_non_leaf():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    z = (y * y).sum()
    d = y.data
    d.add_(1)
    assert y._version == 0 and d._version == 1
    z.backward()                                    # exp and mul both read the changed y
    np.testing.assert_allclose(vals(x.grad), [27.6512, 140.7525], rtol=1e-5)
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.data.add_(1)
    z = (y * x).sum()
    z.backward()
    np.testing.assert_allclose(vals(x.grad), [7.4366, 25.1672], rtol=1e-5)
    np.testing.assert_allclose(z.item(), 20.4964, rtol=1e-5)
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    x.data.mul_(2)
    ((x * x).sum() + y).backward()                  # both products read the changed x
    assert vals(x.grad) == [8.0, 16.0]
    x = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([1.0, 1.0], requires_grad=True)
    y = (x * w).sum()                               # w is cast to float64 inside the product
    w.data.mul_(3)
    y.backward()
    assert vals(x.grad) == [3.0, 3.0] and vals(w.grad) == [1.0, 2.0]


@pytest.mark.parametrize("how", ["detach", "detach of detach", "view under no_grad", "base dropped"])
def test_change_through_detach_is_seen_by_backward(how):
    # detach() (and a view made under no_grad) share the version counter: a value saved before the
    # change makes backward fail (PyTorch: "...which is output 0 of Exp, is at version 1...").
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    z = y.sum() if how != "base dropped" else (y * y).sum()
    if how == "detach":
        d = y.detach()
    elif how == "detach of detach":
        d = y.detach().detach()
    else:
        with torch.no_grad():
            d = y.view(2)
    if how == "base dropped":
        d = y.detach()
        del y
    with torch.set_grad_enabled(how != "view under no_grad"):
        d.add_(1)
    if how != "base dropped":
        assert y._version == 1 and d._version == 1
        np.testing.assert_allclose(vals(y), np.exp([1.0, 2.0]) + 1, rtol=1e-6)
    with pytest.raises(RuntimeError, match=MODIFIED) as e:
        z.backward()
    assert "[torch.FloatTensor [2]], which is output 0 of Exp, is at version 1; expected version 0 instead. Hint: " \
        "enable anomaly detection" in str(e.value)
    s = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    t = s.exp()
    t.detach().add_(1)
    with pytest.raises(RuntimeError, match=MODIFIED):
        t.backward()


def test_change_through_detach_then_used():
    # Later ops read the changed value; a row that saved nothing still backpropagates (PyTorch 2.13).
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.detach().add_(1)
    z = (y * x).sum()
    z.backward()
    assert vals(x.grad) == [5.0, 9.0] and z.item() == 13.0
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    d.add_(1)
    z = (y * y).sum()
    z.backward()
    assert vals(x.grad) == [12.0, 20.0] and z.item() == 34.0
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with torch.no_grad():
        y[0:1].add_(1)
    z = (y * x).sum()
    z.backward()
    assert vals(x.grad) == [5.0, 8.0] and z.item() == 11.0
    s = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    t = s * 3
    t.detach().add_(1)
    u = t * t
    u.backward()
    assert s.grad.item() == 42.0 and u.item() == 49.0
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = (y * y).sum()
    y.detach().add_(1)
    with pytest.raises(RuntimeError, match=MODIFIED):
        z.backward()


# ---------------------------------------------------------------------------
# grad_fn names and structure
# ---------------------------------------------------------------------------

def _vec():
    return torch.tensor([1.0, 2.0, 3.0], requires_grad=True)


def _vec2():
    return torch.tensor([2.0, 3.0, 4.0], requires_grad=True)


def _mat(r, c):
    return torch.ones(r, c, requires_grad=True)


A = "AccumulateGrad"
GRAD_FN_CASES = [
    # id, builder, grad_fn name, next_functions structure
    ("x+y", lambda: _vec() + _vec2(), "AddBackward0", ((A, 0), (A, 0))),
    ("x+1", lambda: _vec() + 1, "AddBackward0", ((A, 0), (None, 0))),
    ("1+x", lambda: 1 + _vec(), "AddBackward0", ((A, 0), (None, 0))),
    ("x+const_tensor", lambda: _vec() + torch.ones(3), "AddBackward0", ((A, 0), (None, 0))),
    ("const_tensor+x", lambda: torch.ones(3) + _vec(), "AddBackward0", ((None, 0), (A, 0))),
    ("x-y", lambda: _vec() - _vec2(), "SubBackward0", ((A, 0), (A, 0))),
    ("x-1", lambda: _vec() - 1, "SubBackward0", ((A, 0), (None, 0))),
    ("1-x", lambda: 1 - _vec(), "RsubBackward1", ((A, 0),)),
    ("x*y", lambda: _vec() * _vec2(), "MulBackward0", ((A, 0), (A, 0))),
    ("x*2", lambda: _vec() * 2, "MulBackward0", ((A, 0), (None, 0))),
    ("2*x", lambda: 2 * _vec(), "MulBackward0", ((A, 0), (None, 0))),
    ("x/y", lambda: _vec() / _vec2(), "DivBackward0", ((A, 0), (A, 0))),
    ("x/2", lambda: _vec() / 2, "DivBackward0", ((A, 0), (None, 0))),
    ("-x", lambda: -_vec(), "NegBackward0", ((A, 0),)),
    ("x**2", lambda: _vec() ** 2, "PowBackward0", ((A, 0),)),
    ("x**0.5", lambda: _vec() ** 0.5, "PowBackward0", ((A, 0),)),
    ("x.pow(3)", lambda: _vec().pow(3), "PowBackward0", ((A, 0),)),
    ("x**y", lambda: _vec() ** _vec2(), "PowBackward1", ((A, 0), (A, 0))),
    ("2**x", lambda: 2 ** _vec(), "PowBackward2", ((A, 0),)),
    ("exp", lambda: _vec().exp(), "ExpBackward0", ((A, 0),)),
    ("log", lambda: _vec().log(), "LogBackward0", ((A, 0),)),
    ("log2", lambda: _vec().log2(), "Log2Backward0", ((A, 0),)),
    ("log10", lambda: _vec().log10(), "Log10Backward0", ((A, 0),)),
    ("sqrt", lambda: _vec().sqrt(), "SqrtBackward0", ((A, 0),)),
    ("sin", lambda: _vec().sin(), "SinBackward0", ((A, 0),)),
    ("cos", lambda: _vec().cos(), "CosBackward0", ((A, 0),)),
    ("tan", lambda: _vec().tan(), "TanBackward0", ((A, 0),)),
    ("tanh", lambda: _vec().tanh(), "TanhBackward0", ((A, 0),)),
    ("sigmoid", lambda: _vec().sigmoid(), "SigmoidBackward0", ((A, 0),)),
    ("torch.sigmoid", lambda: torch.sigmoid(_vec()), "SigmoidBackward0", ((A, 0),)),
    ("relu", lambda: _vec().relu(), "ReluBackward0", ((A, 0),)),
    ("torch.relu", lambda: torch.relu(_vec()), "ReluBackward0", ((A, 0),)),
    ("abs", lambda: _vec().abs(), "AbsBackward0", ((A, 0),)),
    ("clamp(min=0)", lambda: _vec().clamp(min=0), "ClampBackward1", ((A, 0),)),
    ("clamp(max=1)", lambda: _vec().clamp(max=1), "ClampBackward1", ((A, 0),)),
    ("clamp(0,1)", lambda: _vec().clamp(0, 1), "ClampBackward1", ((A, 0),)),
    ("maximum", lambda: torch.maximum(_vec(), _vec2()), "MaximumBackward0", ((A, 0), (A, 0))),
    ("minimum", lambda: torch.minimum(_vec(), _vec2()), "MinimumBackward0", ((A, 0), (A, 0))),
    ("sum", lambda: _vec().sum(), "SumBackward0", ((A, 0),)),
    ("sum(0)", lambda: _vec().sum(0), "SumBackward1", ((A, 0),)),
    ("sum(dim=1,keepdim)", lambda: _mat(2, 3).sum(dim=1, keepdim=True), "SumBackward1", ((A, 0),)),
    ("mean", lambda: _vec().mean(), "MeanBackward0", ((A, 0),)),
    ("mean(0)", lambda: _mat(2, 3).mean(0), "MeanBackward1", ((A, 0),)),
    ("reshape", lambda: _mat(2, 3).reshape(3, 2), "ViewBackward0", ((A, 0),)),
    ("reshape(-1)", lambda: _mat(2, 3).reshape(-1), "ViewBackward0", ((A, 0),)),
    ("view", lambda: _mat(2, 3).view(6), "ViewBackward0", ((A, 0),)),
    ("unbind", lambda: _vec().unbind()[1], "UnbindBackward0", ((A, 0),)),
    ("dot", lambda: _vec().dot(_vec2()), "DotBackward0", ((A, 0), (A, 0))),
    ("matmul 1d@1d", lambda: _vec() @ _vec2(), "DotBackward0", ((A, 0), (A, 0))),
    ("mv", lambda: _mat(2, 3).mv(_vec()), "MvBackward0", ((A, 0), (A, 0))),
    ("matmul 2d@1d", lambda: _mat(2, 3) @ _vec(), "MvBackward0", ((A, 0), (A, 0))),
    ("mm", lambda: _mat(2, 3).mm(_mat(3, 4)), "MmBackward0", ((A, 0), (A, 0))),
    ("matmul 2d@2d", lambda: _mat(2, 3) @ _mat(3, 4), "MmBackward0", ((A, 0), (A, 0))),
    ("torch.matmul 2d@2d", lambda: torch.matmul(_mat(2, 3), _mat(3, 4)), "MmBackward0", ((A, 0), (A, 0))),
    ("matmul 1d@2d", lambda: _vec() @ _mat(3, 4), "SqueezeBackward4", (("MmBackward0", 0),)),
    ("double", lambda: _vec().double(), "ToCopyBackward0", ((A, 0),)),
    ("to(float64)", lambda: _vec().to(torch.float64), "ToCopyBackward0", ((A, 0),)),
    ("double().float()", lambda: _vec().double().float(), "ToCopyBackward0", (("ToCopyBackward0", 0),)),
    ("torch.exp", lambda: torch.exp(_vec()), "ExpBackward0", ((A, 0),)),
    ("torch.mul", lambda: torch.mul(_vec(), _vec2()), "MulBackward0", ((A, 0), (A, 0))),
    ("torch.add", lambda: torch.add(_vec(), _vec2()), "AddBackward0", ((A, 0), (A, 0))),
    ("torch.sub", lambda: torch.sub(_vec(), _vec2()), "SubBackward0", ((A, 0), (A, 0))),
    ("torch.div", lambda: torch.div(_vec(), _vec2()), "DivBackward0", ((A, 0), (A, 0))),
    ("torch.neg", lambda: torch.neg(_vec()), "NegBackward0", ((A, 0),)),
]


@pytest.mark.parametrize("case", GRAD_FN_CASES, ids=[c[0] for c in GRAD_FN_CASES])
def test_grad_fn_name_and_next_functions(case):
    _, build, name, structure = case
    y = build()
    assert y.requires_grad is True
    assert y.is_leaf is False
    assert type(y.grad_fn).__name__ == name
    assert y.grad_fn.name() == name
    assert repr(y.grad_fn).startswith("<%s object at 0x" % name)
    assert next_structure(y.grad_fn) == structure


def test_next_functions_accumulate_grad_variable():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    c = torch.tensor([3.0, 4.0])
    y = x * c
    (acc, i0), (none, i1) = y.grad_fn.next_functions
    assert type(acc).__name__ == "AccumulateGrad"
    assert acc.variable is x
    assert none is None and i0 == 0 and i1 == 0
    assert acc.next_functions == ()
    # the same leaf shows an equal AccumulateGrad node in different graphs
    z = x * 2
    assert z.grad_fn.next_functions[0][0].variable is x


def test_next_functions_link_to_producer_grad_fn():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y + 1
    w = z.exp()
    assert w.grad_fn.next_functions[0][0] == z.grad_fn
    assert z.grad_fn.next_functions[0][0] == y.grad_fn
    assert not (z.grad_fn == y.grad_fn)
    assert next_structure(w.grad_fn) == (("AddBackward0", 0),)


def test_unbind_outputs_share_one_grad_fn():
    a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b, c, d = a.unbind()
    assert b.grad_fn == c.grad_fn == d.grad_fn
    e = b * c * d
    assert next_structure(e.grad_fn) == (("MulBackward0", 0), ("UnbindBackward0", 2))
    assert next_structure(e.grad_fn.next_functions[0][0]) == (
        ("UnbindBackward0", 0), ("UnbindBackward0", 1))
    g, = torch.autograd.grad(e, a)
    assert vals(g) == [6.0, 3.0, 2.0]


def test_grad_fn_of_leaf_and_no_grad_result_is_none():
    x = torch.tensor([1.0], requires_grad=True)
    assert x.grad_fn is None
    assert (torch.ones(2) * 2).grad_fn is None


# ---------------------------------------------------------------------------
# backward(inputs=...), autograd.grad
# ---------------------------------------------------------------------------

def test_backward_inputs_only_accumulates_named():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    (x * w).sum().backward(inputs=[x])
    assert vals(x.grad) == [3.0, 4.0]
    assert w.grad is None
    (x * w).sum().backward(inputs=x)
    assert vals(x.grad) == [6.0, 8.0]
    assert w.grad is None
    (x * w).sum().backward(inputs=[w])
    assert vals(w.grad) == [1.0, 2.0]
    assert vals(x.grad) == [6.0, 8.0]


def test_backward_inputs_non_leaf_with_retain():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    (y * y).sum().backward(inputs=[y])
    assert x.grad is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert vals(y.grad) == [6.0, 12.0]


@pytest.mark.parametrize("shape", [(), (2,)])
@pytest.mark.parametrize("create_graph", [False, True])
def test_autograd_grad_leaves_rows_it_does_not_need(shape, create_graph):
    # grad() w.r.t. a runs (and frees) only what leads to a: e = exp(b) keeps its saved output, so a
    # later backward through e works, as in PyTorch (b.grad = exp(b)).
    dt = torch.float64
    a = torch.tensor(np.full(shape, 2.0), dtype=dt, requires_grad=True)
    b = torch.tensor(np.full(shape, 0.5), dtype=dt, requires_grad=True)
    e = b.exp()
    g, = torch.autograd.grad((a * e).sum(), a, create_graph=create_graph, retain_graph=False)
    assert np.allclose(g.detach().numpy(), np.exp(0.5))
    e.sum().backward()
    assert np.allclose(b.grad.numpy(), np.exp(0.5))
    assert a.grad is None


def test_autograd_grad_does_not_touch_dot_grad():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    g = torch.autograd.grad((x * w).sum(), [x, w])
    assert isinstance(g, tuple) and len(g) == 2
    assert vals(g[0]) == [3.0, 4.0] and vals(g[1]) == [1.0, 2.0]
    assert x.grad is None and w.grad is None
    x.grad = torch.ones(2)
    torch.autograd.grad((x * w).sum(), [x])
    assert vals(x.grad) == [1.0, 1.0]


def test_autograd_grad_single_tensor_input_returns_tuple():
    x = torch.tensor(3.0, requires_grad=True)
    g = torch.autograd.grad(x * x, x)
    assert isinstance(g, tuple) and len(g) == 1
    assert g[0].item() == 6.0
    assert g[0].requires_grad is False


def test_autograd_grad_allow_unused():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    z = torch.tensor([1.0], requires_grad=True)
    g = torch.autograd.grad((x * w).sum(), [x, z], allow_unused=True)
    assert vals(g[0]) == [3.0, 4.0]
    assert g[1] is None


def test_autograd_grad_grad_outputs():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    y = x * w
    g, = torch.autograd.grad(y, x, grad_outputs=torch.tensor([1.0, 10.0]))
    assert vals(g) == [3.0, 40.0]
    y = x * w
    g, = torch.autograd.grad([y], [x], grad_outputs=[torch.tensor([1.0, 10.0])])
    assert vals(g) == [3.0, 40.0]


def test_backward_with_gradient_argument():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    y.backward(torch.tensor([1.0, 0.5]))
    assert vals(x.grad) == [2.0, 2.0]


def test_autograd_grad_multiple_outputs_sum():
    x = torch.tensor(2.0, requires_grad=True)
    g, = torch.autograd.grad([x * x, x * 3], [x])
    assert g.item() == 7.0


def test_autograd_backward_function():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    torch.autograd.backward((x * x).sum())
    assert vals(x.grad) == [2.0, 4.0]
    torch.autograd.backward([x * 3], [torch.ones(2)])
    assert vals(x.grad) == [5.0, 7.0]


# ---------------------------------------------------------------------------
# higher order: create_graph
# ---------------------------------------------------------------------------

def test_second_derivative_of_cube():
    x = torch.tensor([1.0, 2.0, -3.0], requires_grad=True)
    y = (x ** 3).sum()
    g, = torch.autograd.grad(y, x, create_graph=True)
    assert g.requires_grad is True
    assert np.allclose(vals(g), [3.0, 12.0, 27.0])
    g2, = torch.autograd.grad(g.sum(), x)
    assert np.allclose(vals(g2), [6.0, 12.0, -18.0])  # 6x
    assert g2.requires_grad is False


def test_second_derivative_of_sin():
    x = torch.tensor([0.5, 1.0, 2.0], requires_grad=True)
    g, = torch.autograd.grad(x.sin().sum(), x, create_graph=True)
    assert np.allclose(vals(g), np.cos([0.5, 1.0, 2.0]), atol=1e-6)
    g2, = torch.autograd.grad(g.sum(), x)
    assert np.allclose(vals(g2), -np.sin([0.5, 1.0, 2.0]), atol=1e-6)


def test_third_derivative_scalar():
    x = torch.tensor(2.0, requires_grad=True)
    y = x ** 3
    g, = torch.autograd.grad(y, x, create_graph=True)
    g2, = torch.autograd.grad(g, x, create_graph=True)
    g3, = torch.autograd.grad(g2, x)
    assert g.item() == 12.0
    assert g2.item() == 12.0
    assert g3.item() == 6.0


def test_create_graph_grad_has_history_and_backward_works():
    x = torch.tensor(1.5, requires_grad=True)
    y = x.exp() * x
    g, = torch.autograd.grad(y, x, create_graph=True)
    assert g.grad_fn is not None
    g.backward()
    # d2/dx2 (x e^x) = (x + 2) e^x
    assert np.isclose(x.grad.item(), (1.5 + 2) * np.exp(1.5), rtol=1e-6)


def test_backward_create_graph_populates_differentiable_grad():
    x = torch.tensor(3.0, requires_grad=True)
    y = x ** 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch warns about a reference cycle
        y.backward(create_graph=True)
    assert x.grad.item() == 27.0
    assert x.grad.requires_grad is True
    g2, = torch.autograd.grad(x.grad, x)
    assert g2.item() == 18.0


def test_create_graph_grad_changed_in_place():
    # The gradient made by create_graph=True is a recorded tensor like any other: zero_() records
    # ZeroBackward0 and the next create_graph backward adds to it (values from PyTorch 2.13).
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    (w ** 3).sum().backward(create_graph=True)
    g = w.grad
    assert w.grad.zero_() is g
    assert vals(w.grad) == [0.0, 0.0]
    assert fn_name(w.grad.grad_fn) == "ZeroBackward0" and w.grad.requires_grad and not w.grad.is_leaf
    (w ** 3).sum().backward(create_graph=True)
    assert vals(w.grad) == [3.0, 12.0] and fn_name(w.grad.grad_fn) == "AddBackward0"
    w.grad.add_(1)
    w.grad.mul_(2)
    assert vals(w.grad) == [8.0, 26.0] and fn_name(w.grad.grad_fn) == "MulBackward0"
    (w.grad * w.grad).sum().backward()
    assert vals(w.grad) == [200.0, 1274.0]
    s = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    (s ** 3).backward(create_graph=True)
    s.grad.zero_()
    assert s.grad.item() == 0.0 and fn_name(s.grad.grad_fn) == "ZeroBackward0"
    (s ** 3).backward(create_graph=True)
    assert s.grad.item() == 12.0 and fn_name(s.grad.grad_fn) == "AddBackward0"
    s.grad.detach_()
    s.grad.add_(1)
    assert s.grad.item() == 13.0 and s.grad.grad_fn is None and s.grad.requires_grad is False
    h, = torch.autograd.grad((w ** 3).sum(), w, create_graph=True)
    h.add_(1)
    assert vals(h) == [4.0, 13.0] and fn_name(h.grad_fn) == "AddBackward0"


def test_gradients_changed_in_place_leave_the_others_alone():
    # A backward hands out the leaves' gradients as views of one adjoint buffer: changing one in
    # place changes nothing else (values from PyTorch 2.13).
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, 4.0], requires_grad=True)
    e = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    c = a * b
    c.retain_grad()
    d = c.exp()
    d.retain_grad()
    (d.sum() * 2 + (a * e).sum()).backward()
    a.grad.zero_()
    b.grad.add_(1)
    c.grad += 1
    d.grad.mul_(0)
    e.grad.add_(3)
    assert vals(a.grad) == [0.0, 0.0] and vals(d.grad) == [0.0, 0.0] and e.grad.item() == 6.0
    np.testing.assert_allclose(vals(b.grad), [41.1711, 11924.8320], rtol=1e-5)
    np.testing.assert_allclose(vals(c.grad), [41.1711, 5962.9160], rtol=1e-5)
    ga = a.grad
    a.grad += 10
    (a * b).sum().backward()
    assert a.grad is ga and vals(a.grad) == [13.0, 14.0]
    np.testing.assert_allclose(vals(b.grad), [42.1711, 11926.8320], rtol=1e-5)


@pytest.mark.parametrize("create_graph", [False, True])
def test_gradient_argument_is_not_the_leaf_grad(create_graph):
    # backward(gradient) from a leaf: .grad is a copy, changing it leaves the argument alone.
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    v = torch.tensor([5.0, 6.0])
    x.backward(v, create_graph=create_graph)
    assert x.grad is not v
    x.grad.zero_()
    assert vals(v) == [5.0, 6.0]
    y = torch.tensor([1.0, 2.0], requires_grad=True)
    u = torch.tensor([5.0, 6.0], requires_grad=True)
    (y + 0).backward(u, create_graph=True)
    assert y.grad is not u and y.grad.requires_grad and y.grad.grad_fn is not None


def test_retain_graph_defaults_to_create_graph():
    x = torch.tensor(2.0, requires_grad=True)
    y = x ** 3
    torch.autograd.grad(y, x, create_graph=True)
    g, = torch.autograd.grad(y, x)   # graph was retained
    assert g.item() == 12.0
    with pytest.raises(RuntimeError, match=SECOND_BACKWARD):
        torch.autograd.grad(y, x)    # now it is freed


def test_grad_penalty_style_mixed_partials():
    x = torch.tensor(1.0, requires_grad=True)
    y = torch.tensor(2.0, requires_grad=True)
    f = x * x * y
    gx, = torch.autograd.grad(f, x, create_graph=True)   # 2xy
    gxy, = torch.autograd.grad(gx, y)                     # 2x
    assert gx.item() == 4.0 and gxy.item() == 2.0


# ---------------------------------------------------------------------------
# versions
# ---------------------------------------------------------------------------

def test_version_of_a_vector_matrix_product_counts_its_squeeze():
    # PyTorch multiplies a 1-row matrix and squeezes the product in place: version 1 (a matrix-vector
    # product, and a vector-matrix product's operands, stay at 0)
    a, m = torch.ones(3), torch.ones(3, 3)
    assert (a @ m)._version == 1 and torch.nn.functional.linear(a, m)._version == 1
    assert (m @ a)._version == 0 and a._version == 0 and m._version == 0


def test_version_bumped_by_in_place_ops():
    a = torch.ones(3)
    assert a._version == 0
    a.zero_()
    assert a._version == 1
    a.add_(1)
    assert a._version == 2
    a.mul_(2)
    assert a._version == 3
    assert vals(a) == [2.0, 2.0, 2.0]


def test_fill_gradient_is_zero_without_graph():
    # PyTorch's FillBackward/ZeroBackward give zeros_like(grad): zero even for an infinite
    # fill value, and a recorded derivative that does not reach the filled tensor's inputs.
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.fill_(float("inf"))
    (y * y).sum().backward()
    assert vals(x.grad) == [0.0, 0.0]
    v0 = torch.tensor(-2.0, requires_grad=True)
    v1 = torch.ones(2, 3, requires_grad=True)
    v5 = v0 * v1
    v5.zero_()
    g, = torch.autograd.grad((v0 * 0.5).sum() + (v5 * 0.5).sum(), [v0], create_graph=True)
    (0.5 * g).sum().backward()
    assert v0.grad is None
    assert vals(v1.grad.sum()) == 0.0


@pytest.mark.parametrize("op", ["mul_", "div_", "*=", "/="])
@pytest.mark.parametrize("dtype", ["float32", "float64", "0-d float64", "promoted"])
@pytest.mark.parametrize("across", [False, True])
def test_in_place_op_may_read_the_value_it_replaces(op, dtype, across):
    # y.mul_(w) saves y's old value for w's gradient: the op's own row read it before the change, so
    # backward runs (PyTorch: x.grad = w, w.grad = x for mul_; 1/w and -x/w**2 for div_).  ``across``:
    # y is on an older tape (a full one), imported into the one the change records onto.
    shape = () if dtype == "0-d float64" else (2,)
    dt = torch.float32 if dtype == "float32" else torch.float64
    x = torch.tensor(np.full(shape, 2.0), dtype=dt, requires_grad=True)
    w = torch.tensor(np.full(shape, 4.0), dtype=torch.float32 if dtype == "promoted" else dt, requires_grad=True)
    y = x * 1.0
    if across:
        state.tape = None
    if op == "mul_":
        y.mul_(w)
    elif op == "div_":
        y.div_(w)
    elif op == "*=":
        y *= w
    else:
        y /= w
    y.sum().backward()
    mul = op in ("mul_", "*=")
    assert np.all(x.grad.numpy() == (4.0 if mul else 0.25))
    assert np.all(w.grad.numpy() == (2.0 if mul else -0.125))


def test_setitem_bumps_version():
    a = torch.ones(3)
    a[0] = 3.0
    assert a._version == 1
    a[1:] = torch.tensor([4.0, 5.0])
    assert a._version == 2
    assert vals(a) == [3.0, 4.0, 5.0]


def test_grad_zero_bumps_version():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    v = x.grad._version
    x.grad.zero_()
    assert x.grad._version == v + 1


def test_out_of_place_ops_do_not_bump_version():
    a = torch.ones(3)
    b = a * 2 + 1
    assert a._version == 0 and b._version == 0


# ---------------------------------------------------------------------------
# type promotion, default dtype
# ---------------------------------------------------------------------------

PROMOTION_CASES = [
    ("int*2.5", lambda: torch.tensor([1, 2, 3]) * 2.5, "float32"),
    ("float32*float64", lambda: torch.ones(3) * torch.ones(3, dtype=torch.float64), "float64"),
    ("float32(3,)+0d float64", lambda: torch.ones(3) + torch.tensor(1.0, dtype=torch.float64), "float32"),
    ("int(3,)+0d float64", lambda: torch.tensor([1, 2, 3]) + torch.tensor(1.0, dtype=torch.float64), "float64"),
    ("int/int", lambda: torch.tensor([1, 2]) / torch.tensor([2, 2]), "float32"),
    ("int/2", lambda: torch.tensor([1, 2]) / 2, "float32"),
    ("int*2", lambda: torch.tensor([1, 2]) * 2, "int64"),
    ("float32+int", lambda: torch.ones(3) + torch.tensor([1, 2, 3]), "float32"),
    ("float64*2.5", lambda: torch.ones(3, dtype=torch.float64) * 2.5, "float64"),
    ("0d int+2.5", lambda: torch.tensor(1) + 2.5, "float32"),
    ("bool+bool", lambda: torch.tensor([True]) + torch.tensor([True]), "bool"),
    ("int**2", lambda: torch.tensor([1, 2]) ** 2, "int64"),
    ("int**2.0", lambda: torch.tensor([1, 2]) ** 2.0, "float32"),
    ("int32+int64", lambda: torch.ones(2, dtype=torch.int32) + torch.ones(2, dtype=torch.int64), "int64"),
    ("float64 0d + float32 0d", lambda: torch.tensor(1.0, dtype=torch.float64) + torch.tensor(1.0), "float64"),
]


@pytest.mark.parametrize("case", PROMOTION_CASES, ids=[c[0] for c in PROMOTION_CASES])
def test_type_promotion(case):
    _, build, dtype = case
    assert build().dtype == getattr(torch, dtype)


def test_type_promotion_values():
    r = torch.tensor([1, 2, 3]) * 2.5
    assert vals(r) == [2.5, 5.0, 7.5]
    r = torch.tensor([1, 2]) / torch.tensor([2, 2])
    assert vals(r) == [0.5, 1.0]


def test_gradient_through_promotion():
    x = torch.tensor([1.0, 2.0], requires_grad=True)            # float32
    w = torch.tensor([3.0, 4.0], dtype=torch.float64, requires_grad=True)
    y = (x * w).sum()
    assert y.dtype == torch.float64
    y.backward()
    assert x.grad.dtype == torch.float32 and vals(x.grad) == [3.0, 4.0]
    assert w.grad.dtype == torch.float64 and vals(w.grad) == [1.0, 2.0]


def test_default_dtype():
    assert torch.get_default_dtype() == torch.float32
    try:
        torch.set_default_dtype(torch.float64)
        assert torch.get_default_dtype() == torch.float64
        assert torch.tensor([1.0]).dtype == torch.float64
        assert torch.ones(2).dtype == torch.float64
        assert torch.zeros(2).dtype == torch.float64
        assert torch.Tensor([1]).dtype == torch.float64
        assert torch.tensor([1, 2]).dtype == torch.int64
        assert (torch.tensor([1, 2]) * 2.5).dtype == torch.float64
        assert torch.arange(3.0).dtype == torch.float64
    finally:
        torch.set_default_dtype(torch.float32)
    assert torch.get_default_dtype() == torch.float32
    assert torch.tensor([1.0]).dtype == torch.float32


def test_set_default_dtype_rejects_integer():
    with pytest.raises(TypeError, match="only floating-point types are supported as the default type"):
        torch.set_default_dtype(torch.int64)
    assert torch.get_default_dtype() == torch.float32


# ---------------------------------------------------------------------------
# bounded memory
# ---------------------------------------------------------------------------

def _rss_bytes():
    try:
        with open("/proc/self/statm") as f:
            import os
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # pragma: no cover
        return 0


# The loops run a sixth of their steps in the ``ci`` profile (under tracemalloc each step costs
# several times its plain time); ``test_memory_loops.py`` bounds a small leak per step.
_LOOP_SCALE = 1.0 if os.environ.get("TAPE_HYPOTHESIS_PROFILE") == "thorough" else 0.16


def _run_memory_loop(step, n_steps, checkpoint_at):
    n_steps, checkpoint_at = int(n_steps * _LOOP_SCALE), int(checkpoint_at * _LOOP_SCALE)
    gc.collect()
    tracemalloc.start()
    try:
        marks = {}
        for i in range(1, n_steps + 1):
            step()
            if i in (checkpoint_at, n_steps):
                gc.collect()
                current, _ = tracemalloc.get_traced_memory()
                marks[i] = (current, _rss_bytes())
                if i == checkpoint_at:
                    tracemalloc.reset_peak()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (cur0, rss0), (cur1, rss1) = marks[checkpoint_at], marks[n_steps]
    return cur1 - cur0, peak - cur0, rss1 - rss0


def test_training_loop_memory_is_bounded():
    w = torch.tensor([0.5, -0.3], requires_grad=True)
    b = torch.tensor(0.1, requires_grad=True)
    xs = torch.tensor([[1.0, 2.0], [0.5, -1.0], [-1.5, 0.3]])
    ts = torch.tensor([1.0, 0.0, -1.0])
    lr = 0.01

    def step():
        pred = (xs @ w + b).tanh()
        loss = ((pred - ts) ** 2).mean()
        loss.backward()
        w.data = w.data - lr * w.grad
        b.data = b.data - lr * b.grad
        w.grad.zero_()
        b.grad = None

    growth, peak_over, rss_growth = _run_memory_loop(step, 10_000, 1_000)
    assert growth < 2 * 1024 * 1024, growth
    assert peak_over < 2 * 1024 * 1024, peak_over
    assert rss_growth < 32 * 1024 * 1024, rss_growth
    assert np.all(np.isfinite(vals(w)))


def test_grad_penalty_loop_memory_is_bounded():
    w = torch.tensor([0.5, -0.3], requires_grad=True)
    xs = torch.tensor([[1.0, 2.0], [0.5, -1.0], [-1.5, 0.3]])
    ts = torch.tensor([1.0, 0.0, -1.0])
    lr = 0.01

    def step():
        loss = ((xs @ w).sin() - ts).pow(2).mean()
        g, = torch.autograd.grad(loss, w, create_graph=True)
        total = loss + (g * g).sum()
        total.backward()
        with torch.no_grad():
            w.data = w.data - lr * w.grad
        w.grad = None

    growth, peak_over, rss_growth = _run_memory_loop(step, 5_000, 500)
    assert growth < 2 * 1024 * 1024, growth
    assert peak_over < 2 * 1024 * 1024, peak_over
    assert rss_growth < 32 * 1024 * 1024, rss_growth
    assert np.all(np.isfinite(vals(w)))


@pytest.mark.parametrize("reset", ["zero_", "None", "detach_"])
def test_create_graph_grad_loop_memory_is_bounded(reset):
    # loss.backward(create_graph=True) and then w.grad.zero_(): PyTorch's memory grows here (the
    # zeroed gradient keeps every step's graph); the other two ways of resetting are PyTorch's advice.
    w = torch.tensor([0.5, -0.3], requires_grad=True)
    xs = torch.tensor([[1.0, 2.0], [0.5, -1.0], [-1.5, 0.3]])
    ts = torch.tensor([1.0, 0.0, -1.0])

    def step():
        loss = ((xs @ w).sin() - ts).pow(2).mean()
        loss.backward(create_graph=True)
        with torch.no_grad():
            w.data = w.data - 0.01 * w.grad
        if reset == "zero_":
            w.grad.zero_()
        elif reset == "None":
            w.grad = None
        else:
            w.grad.detach_()

    for _ in range(300):
        step()
    # PyTorch 2.13's parameters after 300 steps
    expected = [0.6844, -0.3498] if reset == "detach_" else [0.7943, 0.3331]
    np.testing.assert_allclose(vals(w), expected, atol=1e-4)
    growth, peak_over, rss_growth = _run_memory_loop(step, 3_000, 300)
    assert growth < 2 * 1024 * 1024, growth
    assert peak_over < 2 * 1024 * 1024, peak_over
    assert rss_growth < 32 * 1024 * 1024, rss_growth


def test_dropped_graph_is_released():
    # build and drop many graphs without calling backward
    x = torch.ones(100, requires_grad=True)

    def step():
        y = (x * 2).exp().sum()
        del y

    growth, _, _ = _run_memory_loop(step, 5_000, 500)
    assert growth < 2 * 1024 * 1024, growth


def test_zero_exponent_gives_zero_gradient_even_for_nan_or_inf():
    # PyTorch's pow backward: zeros_like(x) when the exponent is 0, whatever the gradient or x.
    for n in (1, 3, 100_000):
        x = torch.full((n,), float("inf"), dtype=torch.float64, requires_grad=True)
        ((x ** 0) * float("nan")).sum().backward()
        assert x.grad.abs().sum().item() == 0.0
    x = torch.tensor([1.0, float("inf")], dtype=torch.float64, requires_grad=True)
    g, = torch.autograd.grad((x ** 0).sum(), x, create_graph=True)
    assert g.tolist() == [0.0, 0.0] and not g.requires_grad


def test_double_backward_through_a_product_broadcast_over_a_size_zero_dim():
    # The recorded backward once gave the product's gradient the shape (1, 1, 1, 2) (a size-0 dim
    # broadcast against 1 taken as 1), and the second backward failed inside numba.
    x = torch.zeros(1, 0, 1, 1, dtype=torch.float64, requires_grad=True)
    c = torch.ones(1, 1, 1, 2, dtype=torch.float64, requires_grad=True)
    y = x.expand(1, 0, 1, 2) * c
    g = torch.autograd.grad((y * y).sum(), [x, c], create_graph=True)
    assert g[0].shape == (1, 0, 1, 1) and g[1].tolist() == [[[[0.0, 0.0]]]]
    h = torch.autograd.grad((g[0] * g[0]).sum() + (g[1] * g[1]).sum(), [x, c])
    assert h[0].shape == (1, 0, 1, 1) and h[1].tolist() == [[[[0.0, 0.0]]]]


def test_node_names_of_the_nodes_that_are_not_derivative_formulas():
    # As PyTorch's name(): C++ nodes print their qualified names, derivative formulas their own.
    a = torch.ones(2, requires_grad=True)
    x = a * 1
    x.copy_(a * 2)
    assert type(x.grad_fn).__name__ == "CopyBackwards" and x.grad_fn.name() == "torch::autograd::CopyBackwards"
    b = a * 1
    b[0:1].add_(1)
    assert b.grad_fn.name() == "torch::autograd::CopySlices"
    assert x.grad_fn.next_functions[1][0].name() == "MulBackward0"
    assert (a * 1).grad_fn.next_functions[0][0].name() == "torch::autograd::AccumulateGrad"


def test_grad_materialized_zeros_require_grad_under_create_graph():
    x = torch.tensor(0.5, requires_grad=True)
    a = torch.tensor(1.0, requires_grad=True)
    (dydx,) = torch.autograd.grad(x * a, x, create_graph=True)
    (d2,) = torch.autograd.grad(dydx, x, create_graph=True, allow_unused=True, materialize_grads=True)
    assert d2.item() == 0.0 and d2.requires_grad and d2.grad_fn is None
    (d3,) = torch.autograd.grad(d2, x, materialize_grads=True)
    assert d3.item() == 0.0 and not d3.requires_grad
    (d2,) = torch.autograd.grad(dydx, x, allow_unused=True, materialize_grads=True)
    assert not d2.requires_grad


def test_grad_inputs_empty_or_a_dict():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = torch.tensor(3.0, requires_grad=True)
    for empty in ((), []):
        with pytest.raises(RuntimeError, match=r"^`inputs` argument to `grad\(\)` cannot be empty.$"):
            torch.autograd.grad((x * y).sum(), empty)
    got = torch.autograd.grad((x * y).sum(), {"x": x, "y": y})
    assert list(got) == ["x", "y"]
    assert got["x"].tolist() == [3.0, 3.0] and got["y"].item() == 3.0
    import types
    with pytest.raises(TypeError, match=r"must be a dict, not mappingproxy"):
        torch.autograd.grad((x * y).sum(), types.MappingProxyType({"x": x}))


def test_grad_materialize_grads_refuses_a_gradient_edge_input():
    x = torch.rand(2, requires_grad=True).clone()
    y = torch.rand(2, requires_grad=True).clone()
    edge_y = torch.autograd.graph.get_gradient_edge(y)
    out = x.clone().sum()
    gx, gy = torch.autograd.grad(out, (x, edge_y), allow_unused=True, retain_graph=True)
    assert gx.tolist() == [1.0, 1.0] and gy is None
    with pytest.raises(RuntimeError, match="^materialize_grads cannot be used when the given input is a GradientEdge$"):
        torch.autograd.grad(out, (x, edge_y), allow_unused=True, materialize_grads=True)


CYCLE_WARNING = r"^Using backward\(\) with create_graph=True will create a reference cycle"


def test_backward_with_create_graph_warns_once_unless_warn_always():
    b = torch.tensor([1.0, 2.0], requires_grad=True)
    torch.set_warn_always(True)
    try:
        assert torch.is_warn_always_enabled()
        for _ in range(2):
            with pytest.warns(UserWarning, match=CYCLE_WARNING):
                (b * b).sum().backward(create_graph=True)
        b.grad = None
        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter("always")
            torch.autograd.grad((b * b).sum(), b, create_graph=True)     # (grad gives no .grad: no cycle)
            (b * b).sum().backward()
        assert not ws
    finally:
        torch.set_warn_always(False)
    assert not torch.is_warn_always_enabled()
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        (b * b).sum().backward(create_graph=True)       # (given once already)
    assert not ws


def test_tensor_attribute_errors_as_pytorch():
    x = torch.randn(2, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="^Deleting tensor data is not allowed. Delete tensor instead!$"):
        del x.data
    with pytest.raises(TypeError, match="^Variable data has to be a tensor, but got NoneType$"):
        x.data = None
    with pytest.raises(RuntimeError, match="^requires_grad must be a bool$"):
        del x.requires_grad
    with pytest.raises(RuntimeError, match="^data set to a tensor that requires gradients must be floating point or "
                                           "complex dtype$"):
        x.data = torch.tensor(3, dtype=torch.int64)
    with pytest.raises(RuntimeError, match=r"^Can't call numpy\(\) on Tensor that requires grad"):
        x.numpy()
    with torch.no_grad():
        assert x.numpy().shape == (2, 2)        # (allowed in no_grad mode)


def test_view_of_a_tensor_that_came_to_require_grad_refuses_in_place():
    a = torch.randn(2, 3)
    b = a[:]
    a.requires_grad = True
    with pytest.raises(RuntimeError, match="^a view of a leaf Variable that requires grad is being used in an "
                                           "in-place operation.$"):
        b.add_(5)
