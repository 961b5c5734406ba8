"""Counting, searching and set functions (``ops/counting.py``) and the creation functions
``range``, ``scalar_tensor``, ``asarray``: values, dtypes, nodes, errors as PyTorch's."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tape
from tests.test_functions import _run


def _facts(torch) -> list:
    out = []

    def r(name, f, *args):
        _run(torch, name, f, out, args)

    def T(v, dtype=None, rg=False):
        t = torch.tensor(v, dtype=dtype)
        return t.requires_grad_(rg) if rg else t

    x = [1., 2., 2., 5., -1., 3.5]
    r("histc", lambda a: torch.histc(a, 4), T(x))
    r("histc_rg", lambda a: torch.histc(a, bins=3, min=0, max=4), T(x, rg=True))
    r("histc_meth", lambda a: a.histc(5, -1, 5), T(x, torch.float64))
    r("histc_edge", lambda a: torch.histc(a, 3, 0, 3), T([0., 1., 2., 3., 3.0001, -0.0001]))
    r("histc_int", lambda a: torch.histc(a, 4), T([1, 2]))
    r("histc_minmax", lambda a: torch.histc(a, 4, min=3, max=1), T(x))
    r("histc_neg", lambda a: torch.histc(a, -1), T(x))
    r("histc_empty", lambda a: torch.histc(a, 3), T([]))
    r("histc_same", lambda a: torch.histc(a, 3), T([2., 2.]))
    r("histc_inf", lambda a: torch.histc(a, 3, min=0, max=float("inf")), T(x))
    r("histc_out", lambda a: torch.histc(a, 3, out=torch.empty(0)), T(x))
    r("histogram", lambda a: torch.histogram(a, 3), T(x, rg=True))
    r("histogram_meth", lambda a: a.histogram(4, range=(0., 4.)), T(x, torch.float64))
    r("histogram_default_bins", lambda a: a.histogram(), T(x))
    r("histogram_w", lambda a, w: torch.histogram(a, torch.tensor([0., 1., 3.]), weight=w, density=True),
      T(x), T([1., 2., 1., 0.5, 1., 2.], rg=True))
    r("histogram_density", lambda a: torch.histogram(a, 3, density=True), T(x))
    r("histogram_same", lambda a: torch.histogram(a, 2), T([[1., 1.], [1., 1.]]))
    r("histogram_int", lambda a: torch.histogram(a, 3), T([1, 2]))
    r("histogram_w_dtype", lambda a: torch.histogram(a, 3, weight=torch.ones(6)), T(x, torch.float64))
    r("histogram_bins_2d", lambda a: torch.histogram(a, torch.ones(2, 2)), T(x))
    r("histogram_bins_neg", lambda a: torch.histogram(a, 0), T(x))
    r("bincount", lambda a: torch.bincount(a), T([1, 3, 1]))
    r("bincount_w", lambda a, w: torch.bincount(a, w, 6), T([1, 3, 1]), T([0.5, 1., 2.], rg=True))
    r("bincount_w64", lambda a, w: a.bincount(w), T([1, 3, 1]), T([0.5, 1., 2.], torch.float64))
    r("bincount_wint", lambda a: torch.bincount(a, torch.tensor([1, 2, 3])), T([1, 3, 1]))
    r("bincount_min", lambda a: torch.bincount(a, minlength=2), T([0, 3]))
    r("bincount_minneg", lambda a: torch.bincount(a, minlength=-1), T([0, 3]))
    r("bincount_neg", lambda a: torch.bincount(a), T([-1, 3]))
    r("bincount_float", lambda a: torch.bincount(a), T([1., 3.]))
    r("bincount_2d", lambda a: torch.bincount(a), T([[1]]))
    r("bincount_wlen", lambda a: torch.bincount(a, torch.ones(3)), T([1, 3]))
    r("bincount_empty", lambda a: torch.bincount(a, minlength=3), T([], torch.int64))

    r("unique", lambda a: torch.unique(a), T(x, rg=True))
    r("unique_all", lambda a: torch.unique(a, sorted=False, return_inverse=True, return_counts=True), T(x, rg=True))
    r("unique_meth", lambda a: a.unique(return_counts=True), T([[3, 1], [1, 2]]))
    r("unique_dim", lambda a: torch.unique(a, dim=0, return_inverse=True, return_counts=True),
      T([[1, 2], [1, 2], [0, 1]]))
    r("unique_dim1", lambda a: torch.unique(a, dim=1), T([[1., 1., 0.], [2., 2., 1.]], rg=True))
    r("unique_dim_bad", lambda a: torch.unique(a, dim=2), T([[1, 2]]))
    r("unique_bool", lambda a: torch.unique(a, return_inverse=True), T([True, False, True]))
    r("unique_empty", lambda a: torch.unique(a, return_counts=True), T([]))
    r("uc", lambda a: torch.unique_consecutive(a, return_inverse=True, return_counts=True), T([1, 1, 2, 2, 3, 1, 1, 2]))
    r("uc_rg", lambda a: torch.unique_consecutive(a), T([1., 1., 2.], rg=True))
    r("uc_dim", lambda a: a.unique_consecutive(dim=0, return_inverse=True, return_counts=True),
      T([[1, 1], [1, 1], [2, 1], [1, 1]]))
    r("uc_dim_rg", lambda a: torch.unique_consecutive(a, dim=1), T([[1., 1.], [2., 2.]], rg=True))
    r("uc_empty", lambda a: torch.unique_consecutive(a, return_inverse=True, return_counts=True), T([]))
    r("uc_2d", lambda a: torch.unique_consecutive(a, return_inverse=True), T([[1, 1], [1, 2]]))

    b = [1, 3, 5, 7]
    r("ss", lambda s, v: torch.searchsorted(s, v), T(b), T([3, 6, 9, 0]))
    r("ss_right", lambda s, v: torch.searchsorted(s, v, right=True, out_int32=True), T(b), T([3, 6, 9]))
    r("ss_side", lambda s: torch.searchsorted(s, 3, side="right"), T(b))
    r("ss_side_bad", lambda s: torch.searchsorted(s, 3, side="up"), T(b))
    r("ss_side_conflict", lambda s: torch.searchsorted(s, 3, side="left", right=True), T(b))
    r("ss_sorter", lambda s, v: torch.searchsorted(s, v, sorter=torch.tensor([3, 1, 2, 0])), T([7, 3, 5, 1]), T([3, 6]))
    r("ss_2d", lambda s, v: torch.searchsorted(s, v), T([[1, 3], [2, 4]]), T([[2, 5], [3, 0]]))
    r("ss_2d_bad", lambda s, v: torch.searchsorted(s, v), T([[1, 3], [2, 4]]), T([2, 3]))
    r("ss_float", lambda s, v: torch.searchsorted(s, v), T([0.5, 1.5, 2.5]), T([[1., 2.5], [3., -1.]]))
    r("ss_out", lambda s, v: torch.searchsorted(s, v, out=torch.empty(0, dtype=torch.int64)), T(b), T([3, 6]))
    r("bucketize", lambda v, s: torch.bucketize(v, s), T([3, 6, 9]), T(b))
    r("bucketize_right", lambda v, s: torch.bucketize(v, s, right=True), T([[3, 6, 9]]), T(b))
    r("bucketize_2d", lambda v, s: torch.bucketize(v, s), T([3]), T([[1, 3]]))
    r("bucketize_number", lambda s: torch.bucketize(3, s), T(b))
    r("bucketize_int32", lambda v, s: torch.bucketize(v, s, out_int32=True), T([0.5, 4.]), T([1., 3.]))
    r("isin", lambda a, t: torch.isin(a, t), T([1, 2, 3]), T([2, 5]))
    r("isin_invert", lambda a: torch.isin(a, 2, invert=True), T([1, 2, 3]))
    r("isin_number", lambda t: torch.isin(2, t), T([1, 2, 3]))
    r("isin_mixed", lambda a, t: torch.isin(a, t), T(x, rg=True), T([2, 5]))
    r("isin_2d", lambda a, t: torch.isin(a, t, assume_unique=True), T([[1, 2], [3, 4]]), T([[4], [1]]))
    r("unravel", lambda i: torch.unravel_index(i, (2, 3)), T([4, 1]))
    r("unravel_0d", lambda i: torch.unravel_index(i, (2, 3)), T(4))
    r("unravel_int_shape", lambda i: torch.unravel_index(i, 5), T([[4, 1]]))
    r("unravel_wrap", lambda i: torch.unravel_index(i, (2, 3)), T([7, -1]))
    r("unravel_int32", lambda i: torch.unravel_index(i, [3]), T([2], torch.int32))
    r("unravel_float", lambda i: torch.unravel_index(i, (2, 3)), T([1.]))
    r("unravel_number", lambda: torch.unravel_index(4, (2, 3)))
    r("unravel_neg_shape", lambda i: torch.unravel_index(i, (2, -3)), T([1]))
    r("unravel_float_shape", lambda i: torch.unravel_index(i, (2, 3.)), T([1]))

    r("scalar_tensor", lambda: torch.scalar_tensor(3))
    r("scalar_tensor_bool", lambda: torch.scalar_tensor(True))
    r("scalar_tensor_dtype", lambda: torch.scalar_tensor(2, dtype=torch.int64))
    r("scalar_tensor_rg", lambda: torch.scalar_tensor(2.5, dtype=torch.float64, requires_grad=True).requires_grad)
    r("scalar_tensor_str", lambda: torch.scalar_tensor("a"))
    r("range", lambda: torch.range(1, 4))
    r("range_step", lambda: torch.range(1, 2, 0.5))
    r("range_f", lambda: torch.range(0, 1, 0.3))
    r("range_neg", lambda: torch.range(3, 0, -1))
    r("range_int", lambda: torch.range(0, 3, dtype=torch.int64))
    r("range_zero", lambda: torch.range(0, 3, 0))
    r("range_sign", lambda: torch.range(0, 3, -1))
    r("range_one", lambda: torch.range(5))
    r("range_rg", lambda: torch.range(0, 2, requires_grad=True).requires_grad)
    r("asarray_list", lambda: torch.asarray([1.5, 2]))
    r("asarray_int", lambda: torch.asarray([1, 2], dtype=torch.float64))
    r("asarray_number", lambda: torch.asarray(3))
    r("asarray_np", lambda: torch.asarray(np.arange(3.)))
    r("asarray_np_copy", lambda: torch.asarray(np.zeros(2), dtype=torch.float32, copy=False))
    r("asarray_tensor_copy", lambda t: torch.asarray(t, dtype=torch.float64, copy=False), T([1., 2.]))
    r("asarray_tensor_dtype", lambda t: torch.asarray(t, dtype=torch.float64), T([1., 2.], rg=True))
    return out


@pytest.mark.torch
def test_matches_torch():
    torch = pytest.importorskip("torch")
    for mine, theirs in zip(_facts(tape), _facts(torch)):
        assert repr(mine) == repr(theirs)       # (repr: nan equals nan)


def test_no_derivative():
    x = tape.tensor([1.0, 2.0, 2.0], requires_grad=True)
    u = tape.unique(x)
    assert u.grad_fn.name() == "Unique2Backward0"
    with pytest.raises(NotImplementedError, match="the derivative for '_unique2' is not implemented."):
        u.sum().backward()
    h = tape.histogram(x, 2).hist
    assert h.grad_fn.name() == "torch::autograd::NotImplemented"
    with pytest.raises(RuntimeError, match="derivative for aten::histogram is not implemented"):
        h.sum().backward()
    from tape._tangent import tangent_sweep
    y = tape.tensor([1.0, 1.0], requires_grad=True)
    c = tape.unique_consecutive(y)
    with pytest.raises(NotImplementedError, match="the derivative for 'unique_consecutive' is not implemented."):
        tangent_sweep(c._tape, {y._in: tape.ones(2)})


def _aten_unique_forms(torch):
    """What ``torch._unique``, ``torch._unique2`` and ``torch._VF.unique_dim`` return (always 2, 3
    and 3 tensors) and their nodes' names and backward errors."""
    out = []
    x = torch.tensor([3.0, 1.0, 3.0, 2.0], requires_grad=True)
    m = torch.tensor([[1, 2], [1, 2], [0, 5]])
    for inv in (False, True):
        out.append(torch._unique(x, sorted=False, return_inverse=inv))
        for cnt in (False, True):
            out.append(torch._unique2(x, return_inverse=inv, return_counts=cnt))
            out.append(torch._unique2(m, sorted=True, return_inverse=inv, return_counts=cnt))
            out.append(torch._VF.unique_dim(m, 0, return_inverse=inv, return_counts=cnt))
    for res in (torch._unique(x), torch._unique2(x), torch._VF.unique_dim(x, 0)):
        try:
            res[0].sum().backward()
        except NotImplementedError as e:
            out.append((res[0].grad_fn.name(), str(e)))
    return out


@pytest.mark.torch
def test_aten_unique_forms_match_torch():
    torch = pytest.importorskip("torch")
    assert repr(_aten_unique_forms(tape)) == repr(_aten_unique_forms(torch))


def test_asarray_shares_memory():
    a = np.zeros(3)
    t = tape.asarray(a)
    t[0] = 2.0
    assert a[0] == 2.0
    x = tape.ones(2)
    assert tape.asarray(x) is x and tape.asarray(x, copy=True) is not x


@pytest.mark.torch
@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-4, 4, width=32), min_size=0, max_size=12), st.integers(1, 6),
       st.lists(st.integers(-3, 3), min_size=1, max_size=6), st.booleans())
def test_generated_match_torch(values, bins, ints, right):
    torch = pytest.importorskip("torch")
    facts = []
    for M in (tape, torch):
        out = []
        x = M.tensor(values, dtype=M.float32)
        b = M.tensor(sorted(ints))
        _run(M, "histc", lambda t: M.histc(t, bins, -2, 3), out, (x,))
        _run(M, "histc_auto", lambda t: M.histc(t, bins), out, (x,))
        _run(M, "histogram", lambda t: M.histogram(t, bins), out, (x,))
        _run(M, "histogram_range", lambda t: M.histogram(t, bins, range=(-1.0, 2.5), density=True), out, (x,))
        _run(M, "bincount", lambda t: M.bincount(t.abs(), minlength=bins), out, (M.tensor(ints),))
        _run(M, "unique", lambda t: M.unique(t, return_inverse=True, return_counts=True), out, (M.tensor(ints),))
        _run(M, "uc", lambda t: M.unique_consecutive(t, return_inverse=True, return_counts=True), out,
             (M.tensor(ints),))
        _run(M, "ss", lambda s, t: M.searchsorted(s, t, right=right), out, (b, M.tensor(ints)))
        _run(M, "bucketize", lambda t, s: M.bucketize(t, s, right=right), out, (x, b.float()))
        _run(M, "isin", lambda t, s: M.isin(t, s, invert=right), out, (M.tensor(ints), b[::2]))
        _run(M, "unravel", lambda t: M.unravel_index(t, (2, 3)), out, (M.tensor(ints),))
        facts.append(out)
    assert repr(facts[0]) == repr(facts[1])
