"""Views alias their base as PyTorch's do: write-through, CopySlices and AsStridedBackward0 nodes,
shared version counters, PyTorch's errors, strides and storage offsets (``ops/views.py``)."""
import re

import numpy as np
import pytest

import tape

# Each view kind: the view of a (3, 4) base, and the base's elements it covers (as a numpy index of
# the base), so that ``v.add_(1)`` must add one exactly there.
VIEWS = {
    "slice": (lambda b: b[1:3], np.s_[1:3]),
    "step_slice": (lambda b: b[:, ::2], np.s_[:, ::2]),
    "int": (lambda b: b[1], np.s_[1]),
    "int_slice": (lambda b: b[2, 1:], np.s_[2, 1:]),
    "none_ellipsis": (lambda b: b[None, ..., 0], np.s_[:, 0]),
    "select": (lambda b: b.select(1, 2), np.s_[:, 2]),
    "narrow": (lambda b: b.narrow(1, 1, 2), np.s_[:, 1:3]),
    "view": (lambda b: b.view(12), np.s_[:]),
    "view_-1": (lambda b: b.view(2, -1), np.s_[:]),
    "reshape": (lambda b: b.reshape(6, 2), np.s_[:]),
    "flatten": (lambda b: b.flatten(), np.s_[:]),
    "unflatten": (lambda b: b.unflatten(1, (2, 2)), np.s_[:]),
    "transpose": (lambda b: b.transpose(0, 1), np.s_[:]),
    "t": (lambda b: b.t(), np.s_[:]),
    "T": (lambda b: b.T, np.s_[:]),
    "mT": (lambda b: b.mT, np.s_[:]),
    "permute": (lambda b: b.permute(1, 0), np.s_[:]),
    "movedim": (lambda b: b.movedim(0, 1), np.s_[:]),
    "swapaxes": (lambda b: b.swapaxes(0, 1), np.s_[:]),
    "unsqueeze": (lambda b: b.unsqueeze(1), np.s_[:]),
    "squeeze": (lambda b: b[1:2].squeeze(0), np.s_[1]),
    "diagonal": (lambda b: b.diagonal(), (np.arange(3), np.arange(3))),
    "diagonal_offset": (lambda b: b.diagonal(1), (np.arange(3), np.arange(1, 4))),
    "view_of_view": (lambda b: b[1:].t()[2], np.s_[1:, 2]),
    "slice_of_transpose": (lambda b: b.t()[1:3], np.s_[:, 1:3]),
}


def _base(requires_grad: bool) -> tuple:
    a = tape.arange(12.0).reshape(3, 4).requires_grad_(requires_grad)
    return a, (a * 1 if requires_grad else a)


@pytest.mark.parametrize("recorded", [False, True], ids=["plain", "recorded"])
@pytest.mark.parametrize("kind", VIEWS)
def test_write_through(kind, recorded):
    make, region = VIEWS[kind]
    a, b = _base(recorded)
    v = make(b)
    expect = np.arange(12.0).reshape(3, 4)
    expect[region] += 1
    v.add_(1)
    assert np.array_equal(b.detach().numpy(), expect)
    assert b._version == v._version == 1
    if recorded:
        assert type(b.grad_fn).__name__ == "CopySlices"
        assert type(v.grad_fn).__name__ == "AsStridedBackward0"
        # d(sum(b * b))/da with b = a + 1 on the region: 2 * b everywhere
        (b * b).sum().backward()
        assert np.array_equal(a.grad.numpy(), 2 * expect)


def test_write_through_gradient_of_the_op():
    # The region's gradient goes through the in-place op (mul by x), the rest straight to the old base.
    a = tape.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    x = tape.tensor([10.0, 20.0], requires_grad=True)
    b = a * 2
    b[1:3].mul_(x)
    assert b.tolist() == [2.0, 40.0, 120.0, 8.0]
    (b * b).sum().backward()
    assert a.grad.tolist() == [8.0, 1600.0, 9600.0, 32.0]      # 2 b * db/da: 2 b * 2 * (1, x, x, 1)
    assert x.grad.tolist() == [320.0, 1440.0]                  # 2 b * 2 a


def test_other_views_are_rederived():
    a = tape.ones(4, requires_grad=True)
    b = a * 2
    v, w, u = b[0:2], b[1:3], b.view(2, 2)
    v.mul_(3)
    assert [type(t.grad_fn).__name__ for t in (b, v, w, u)] == ["CopySlices"] + ["AsStridedBackward0"] * 3
    assert w.tolist() == [6.0, 2.0] and u.tolist() == [[6.0, 6.0], [2.0, 2.0]]
    assert [t._version for t in (b, v, w, u)] == [1, 1, 1, 1]
    (w * w).sum().backward()
    assert a.grad.tolist() == [0.0, 72.0, 8.0, 0.0]
    fn = b.grad_fn.next_functions
    assert [type(f).__name__ for f, _ in fn] == ["MulBackward0", "NoneType"]     # (mul_'s other input: a number)
    assert type(v.grad_fn.next_functions[0][0]).__name__ == "CopySlices"


def test_inplace_on_base_rederives_views():
    a = tape.ones(4, requires_grad=True)
    b = a * 2
    v = b[0:2]
    b.add_(1)
    assert type(v.grad_fn).__name__ == "AsStridedBackward0" and type(b.grad_fn).__name__ == "AddBackward0"
    assert v.tolist() == [3.0, 3.0] and v._version == 1
    v.sum().backward()
    assert a.grad.tolist() == [2.0, 2.0, 0.0, 0.0]


def test_plain_base_takes_history():
    p = tape.zeros(4)
    x = tape.ones(2, requires_grad=True)
    v, w = p[0:2], p[1:3]
    v.add_(x)
    assert type(p.grad_fn).__name__ == "CopySlices" and p.requires_grad and not p.is_leaf
    assert type(w.grad_fn).__name__ == "AsStridedBackward0" and w.requires_grad
    (w * 3).sum().backward()
    assert x.grad.tolist() == [0.0, 3.0]


def test_version_sequences():
    b = tape.zeros(4)
    v = b[1:3]
    w = v[0:1]
    d = b.detach()
    data = b.data
    seq = []
    for t in (b, v, w, d, b, data):
        t.add_(1)
        seq.append((b._version, v._version, w._version, d._version, data._version))
    assert seq == [(1, 1, 1, 1, 0), (2, 2, 2, 2, 0), (3, 3, 3, 3, 0), (4, 4, 4, 4, 0), (5, 5, 5, 5, 0),
                   (5, 5, 5, 5, 1)]
    assert b.tolist() == [4.0, 6.0, 5.0, 4.0]


def test_unbind_split_chunk_write_through_without_grad():
    b = tape.zeros(2, 3)
    b.unbind(0)[1].add_(1)
    b.split(2, dim=1)[1].add_(2)
    b.chunk(3, dim=1)[0].add_(3)
    assert b.tolist() == [[3.0, 0.0, 2.0], [4.0, 1.0, 3.0]]


def test_no_grad_write_through_keeps_history():
    a = tape.ones(3, requires_grad=True)
    b = a * 2
    with tape.no_grad():
        v = b[0:2]
        v.mul_(5)
    assert b.tolist() == [10.0, 10.0, 2.0] and type(b.grad_fn).__name__ == "MulBackward0" and b._version == 1
    b.sum().backward()
    assert a.grad.tolist() == [2.0, 2.0, 2.0]


ERRORS = {
    "leaf_view": (lambda: tape.ones(4, requires_grad=True)[0:2].add_(1),
                  "a view of a leaf Variable that requires grad is being used in an in-place operation."),
    "leaf_view_t": (lambda: tape.ones(2, 2, requires_grad=True).t().mul_(2),
                    "a view of a leaf Variable that requires grad is being used in an in-place operation."),
    "unbind": (lambda: (tape.ones(2, 2, requires_grad=True) * 1).unbind(0)[0].add_(1),
               "Output 0 of Unbind is a view and is being modified inplace. This view is the output of a function "
               "that returns multiple views. Such functions do not allow the output views to be modified inplace. "
               "You should replace the inplace operation by an out-of-place one."),
    "leaf_unbind": (lambda: tape.ones(2, 2, requires_grad=True).unbind(0)[1].add_(1), "Output 1 of Unbind"),
    "split": (lambda: (tape.ones(4, requires_grad=True) * 1).split(2)[0].add_(1), "Output 0 of Split is a view"),
    "chunk": (lambda: (tape.ones(4, requires_grad=True) * 1).chunk(2)[1].add_(1), "Output 1 of Split is a view"),
    "expand": (lambda: (tape.ones(1, requires_grad=True) * 1).expand(3).add_(1),
               "unsupported operation: more than one element of the written-to tensor refers to a single memory "
               "location. Please clone() the tensor before performing the operation."),
    "expand_plain": (lambda: tape.zeros(4).expand(2, 4).add_(1), "unsupported operation: more than one element"),
}


@pytest.mark.parametrize("case", ERRORS)
def test_errors(case):
    f, text = ERRORS[case]
    with pytest.raises(RuntimeError, match="^" + re.escape(text)):
        f()


NO_GRAD_MSG = ("A view was created in no_grad mode and is being modified inplace with grad mode enabled. Given "
               "that this use case is ambiguous and error-prone, it is forbidden. You can clarify your code by "
               "moving both the view and the inplace either both inside the no_grad block (if you don't want the "
               "inplace to be tracked) or both outside (if you want the inplace to be tracked).")
MULTI_MSG = ("A view was created in no_grad mode and is being modified inplace with grad mode enabled. This view "
             "is the output of a function that returns multiple views. Such functions do not allow the output "
             "views to be modified inplace. You should replace the inplace operation by an out-of-place one.")


def test_no_grad_view_modified_with_grad():
    a = tape.ones(4, requires_grad=True)
    b = a * 2
    for base in (a, b):
        with tape.no_grad():
            v = base[0:2]
            u = base.unbind(0)[0]
        for t in (v, u):
            with pytest.raises(RuntimeError, match="^" + re.escape(NO_GRAD_MSG)):
                t.mul_(2)
    p = tape.zeros(4)
    x = tape.ones(2, requires_grad=True)
    with tape.no_grad():
        v = p[0:2]
    with pytest.raises(RuntimeError, match="^" + re.escape(NO_GRAD_MSG)):
        v.add_(x)
    v.add_(1)                   # nothing recorded: allowed
    u = tape.zeros(2, 2).unbind(0)[0]
    with pytest.raises(RuntimeError, match="^" + re.escape(MULTI_MSG)):
        u.add_(x)
    u.add_(1)
    assert p.tolist() == [1.0, 1.0, 0.0, 0.0]


def test_detach_shares_the_counter_data_does_not():
    a = tape.ones(3, requires_grad=True)
    e = a.exp()
    e.detach().add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        e.sum().backward()
    a = tape.ones(3, requires_grad=True)
    e = a.exp()
    d = e.data
    d.add_(1)
    assert (e._version, d._version) == (0, 1)
    e.sum().backward()
    assert np.allclose(a.grad.numpy(), np.e + 1)


def test_saved_view_modified_through_base():
    a = tape.ones(3, requires_grad=True)
    b = a * 1
    y = b[0:2].sin()            # sin saves its input, the view
    b.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_saved_result_of_an_op_through_a_view():
    # exp_ through a view saves its result, which is the base's storage: a later change of the base fails backward.
    a = tape.ones(3, requires_grad=True)
    b = a * 1
    b[0:2].exp_()
    (b * 1).sum().backward(retain_graph=True)     # (fine before the change)
    b[0:2].zero_()
    with pytest.raises(RuntimeError, match=re.escape("which is output 0 of Exp, is at version 2; expected version 1")):
        b.sum().backward()


LAYOUTS = {
    "slice": (lambda b: b[1:3], (4, 1), 4, True),
    "column": (lambda b: b[:, 1], (4,), 1, False),
    "t": (lambda b: b.t(), (1, 4), 0, False),
    "step": (lambda b: b[1:, ::2], (4, 2), 4, False),
    "narrow": (lambda b: b.narrow(1, 1, 2), (4, 1), 1, False),
    "diagonal": (lambda b: b.diagonal(), (5,), 0, False),
    "expand": (lambda b: b.expand(2, 3, 4), (0, 4, 1), 0, False),
    "unsqueeze": (lambda b: b.unsqueeze(1), (4, 4, 1), 0, True),
    "row": (lambda b: b[1], (1,), 4, True),
    "none": (lambda b: b[None, 1:], (12, 4, 1), 4, True),
    "base": (lambda b: b, (4, 1), 0, True),
}


@pytest.mark.parametrize("recorded", [False, True], ids=["plain", "recorded"])
@pytest.mark.parametrize("case", LAYOUTS)
def test_strides_and_offsets(case, recorded):
    make, stride, offset, contiguous = LAYOUTS[case]
    _, b = _base(recorded)
    v = make(b)
    assert v.stride() == stride and v.storage_offset() == offset and v.is_contiguous() == contiguous
    assert v.data_ptr() == b.data_ptr() + offset * 4


def test_data_ptr_identity():
    b = tape.zeros(3)
    assert b.detach().data_ptr() == b.data_ptr() == b.data.data_ptr() == b[0:2].data_ptr()
    assert b.clone().data_ptr() != b.data_ptr()


def _program_views(L):
    """Write-through programs with gradients, run in tape and in PyTorch."""
    out = []
    a = L.arange(12.0, dtype=L.float64).reshape(3, 4).requires_grad_()
    x = L.tensor([2.0, 3.0, 4.0], dtype=L.float64, requires_grad=True)
    b = a.sin()
    b[:, 1].mul_(x)
    b.t()[2].add_(x.exp())
    v = b.diagonal()
    v.div_(x)
    w = b[1:].view(8)
    w[3:5].pow_(2)
    y = (b * b).sum() + (v * 3).sum() + w.cos().sum()
    ga, gx = L.autograd.grad(y, (a, x), create_graph=True)
    gga, ggx = L.autograd.grad((ga * ga).sum() + gx.sum(), (a, x))
    out += [b, v, w, ga, gx, gga, ggx]
    out.append([type(t.grad_fn).__name__ for t in (b, v, w)])
    out.append([t._version for t in (b, v, w)])
    return out


@pytest.mark.torch
def test_programs_match_pytorch():
    torch = pytest.importorskip("torch")
    mine, theirs = _program_views(tape), _program_views(torch)
    for m, t in zip(mine, theirs):
        if isinstance(m, list):
            assert m == t
        else:
            assert m.shape == tuple(t.shape)
            assert np.allclose(m.detach().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("kind", VIEWS)
def test_layouts_match_pytorch(kind):
    torch = pytest.importorskip("torch")
    make = VIEWS[kind][0]
    for L in (tape, torch):
        b = L.zeros(3, 4)
        v = make(b)
        got = (v.stride(), v.storage_offset(), v.is_contiguous(), v.data_ptr() - b.data_ptr())
        if L is tape:
            mine = got
    assert mine == got


def _saved_then_changed(L, case):
    a = L.ones(3, requires_grad=True)
    b = a * 1
    if case == "input_twice":
        y = b.sin()
        b.add_(1)
        b.mul_(2)
    elif case == "through_view":
        v = b[0:2]
        y = v.sin()
        b.add_(1)
    elif case == "base_through_view":
        y = b.sin()
        b[0:2].add_(1)
    elif case == "after_a_change":
        b.add_(1)
        y = b.sin()
        b.mul_(3)
    elif case == "leaf":
        w = L.ones(3)
        y = a * w
        w.add_(1)
        w.add_(1)
    elif case == "output":
        y = b.exp()
        y.add_(1)
        b.sum().backward()
    y.sum().backward()


MODIFIED = {
    "input_twice": "[torch.FloatTensor [3]], which is output 0 of Mul, is at version 2; expected version 0 instead",
    "through_view": "[torch.FloatTensor [2]], which is output 0 of AsStrided, is at version 1; expected version 0 "
                    "instead",
    "base_through_view": "[torch.FloatTensor [3]], which is output 0 of torch::autograd::CopySlices, is at version 1; "
                         "expected version 0 instead",
    "after_a_change": "[torch.FloatTensor [3]], which is output 0 of Mul, is at version 2; expected version 1 instead",
    "leaf": "[torch.FloatTensor [3]] is at version 2; expected version 0 instead",
    "output": "[torch.FloatTensor [3]], which is output 0 of Exp, is at version 1; expected version 0 instead",
}
HINT = (". Hint: enable anomaly detection to find the operation that failed to compute its gradient, with "
        "torch.autograd.set_detect_anomaly(True, check_nan=False).")
ANOMALY_HINT = (". Hint: the backtrace further above shows the operation that failed to compute its gradient. The "
                "variable in question was changed in there or anywhere later. Good luck!")


@pytest.mark.parametrize("case", MODIFIED)
def test_modified_message(case):
    with pytest.raises(RuntimeError) as e:
        _saved_then_changed(tape, case)
    assert str(e.value) == ("one of the variables needed for gradient computation has been modified by an inplace "
                            "operation: " + MODIFIED[case] + HINT)


def test_modified_message_in_anomaly_mode():
    with pytest.warns(UserWarning), tape.autograd.set_detect_anomaly(True):
        with pytest.raises(RuntimeError) as e:
            _saved_then_changed(tape, "output")
    assert str(e.value).endswith(MODIFIED["output"] + ANOMALY_HINT)


@pytest.mark.torch
@pytest.mark.parametrize("case", MODIFIED)
def test_modified_message_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    texts = []
    for L in (tape, torch):
        with pytest.raises(RuntimeError) as e:
            _saved_then_changed(L, case)
        texts.append(str(e.value))
    assert texts[0] == texts[1]


def _assignments(L):
    a = L.ones(4, requires_grad=True)
    x = L.tensor([3.0, 4.0], requires_grad=True)
    b = a * 2
    names = []
    b[0:2] = x
    names.append([type(b.grad_fn).__name__] + [type(f).__name__ for f, _ in b.grad_fn.next_functions])
    b[3] = 5.0
    names.append([type(b.grad_fn).__name__] + [type(f).__name__ for f, _ in b.grad_fn.next_functions])
    p = L.zeros(2, 3)
    p[:, 1] = x
    names.append([type(p.grad_fn).__name__] + [type(f).__name__ for f, _ in p.grad_fn.next_functions])
    (b * b).sum().backward()
    p.sum().backward()
    return names, b.tolist(), p.tolist(), a.grad.tolist(), x.grad.tolist(), b._version, p._version


def test_item_assignment_is_copy_slices():
    names, b, p, ga, gx, vb, vp = _assignments(tape)
    assert names == [["CopySlices", "MulBackward0", "AccumulateGrad"], ["CopySlices", "CopySlices", "NoneType"],
                     ["CopySlices", "NoneType", "AccumulateGrad"]]
    assert b == [3.0, 4.0, 2.0, 5.0] and p == [[0.0, 3.0, 0.0], [0.0, 4.0, 0.0]]
    assert ga == [0.0, 0.0, 8.0, 0.0] and gx == [7.0, 9.0] and (vb, vp) == (2, 1)


@pytest.mark.torch
def test_item_assignment_matches_pytorch():
    torch = pytest.importorskip("torch")
    assert _assignments(tape) == _assignments(torch)


def _edges(L):
    """CopySlices shows the old base's node and the in-place op's other inputs (the op's node is inside it)."""
    def names(t):
        return [type(t.grad_fn).__name__] + [type(f).__name__ for f, _ in t.grad_fn.next_functions]
    a = L.ones(4, requires_grad=True)
    b = a * 2
    y = L.tensor(3.0, dtype=L.float64, requires_grad=True)
    out = []
    b[0:2] = y                  # cast and broadcast inside the copy
    out.append(names(b))
    b[1:3] = y * 2
    out.append(names(b))
    b[0:2].mul_(y)
    out.append(names(b))
    b[0:2].add_(L.ones(2, dtype=L.float64, requires_grad=True))
    out.append(names(b))
    b.t()[1:].sub_(1.5)
    out.append(names(b))
    b[2:].exp_()
    out.append(names(b))
    b.sum().backward()
    return out, a.grad.tolist(), y.grad.tolist()


def test_copy_slices_edges():
    out, ga, gy = _edges(tape)
    assert out == [["CopySlices", "MulBackward0", "AccumulateGrad"], ["CopySlices", "CopySlices", "MulBackward0"],
                   ["CopySlices", "CopySlices", "AccumulateGrad"], ["CopySlices", "CopySlices", "AccumulateGrad"],
                   ["CopySlices", "CopySlices", "NoneType"], ["CopySlices", "CopySlices"]]
    assert ga[:3] == [0.0, 0.0, 0.0] and np.isclose(ga[3], 2 * np.exp(0.5))     # exp(2 a - 1.5)


@pytest.mark.torch
def test_copy_slices_edges_match_pytorch():
    torch = pytest.importorskip("torch")
    mine, theirs = _edges(tape), _edges(torch)
    assert mine[0] == theirs[0]
    assert np.allclose(mine[1], theirs[1]) and np.allclose(mine[2], theirs[2])


def test_base_and_is_view():
    a = tape.ones(3, requires_grad=True)
    b = a * 1
    v = b[0:2]
    assert v._base is b and v[0:1]._base is b and v._is_view() and not b._is_view() and b._base is None
    assert b.detach()._base is None and b.data._base is None and b.split(2)[1]._base is b
    p = tape.ones(3)
    assert p.t()._base is p and not p.detach()._is_view()


def _programs(L):
    """Small programs through views: their results, or their errors, as values."""
    def self_product():
        a = L.ones(4, requires_grad=True)
        v = (a * 2)[0:2]
        v.mul_(v)                   # mul saved its operand, the view it changed
        v._base.sum().backward()

    def zero_d():
        x = L.tensor(2.0, dtype=L.float64, requires_grad=True)
        y = x * 1
        y.view(1).mul_(3)
        y.backward()
        return x.grad, y

    def transposed_row():
        a = L.ones(2, 3, requires_grad=True)
        b = a * 1
        c = b.t()
        c[1].mul_(5)
        d = c.contiguous()
        (b * b).sum().backward()
        return a.grad, d

    def other_view_after():
        a = L.ones(3, requires_grad=True)
        b = a.clone()
        w = b[1:]
        b[0:2].mul_(4)
        (w * w).sum().backward()
        return a.grad, w

    def column_zeroed():
        a = L.arange(6.0, requires_grad=True)
        b = a * 1
        u = b.view(2, 3)
        u[:, 1].zero_()
        b.sum().backward()
        return a.grad, u

    def augmented():
        a = L.ones(3, requires_grad=True)
        b = a * 1
        v = b[:2]
        v += 1
        return b, v

    def rows_assigned_second_order():
        b = L.zeros(2, 3, dtype=L.float64)
        x = L.tensor([1.0, 2.0, 3.0], dtype=L.float64, requires_grad=True)
        b[0] = x
        y = 2 * x.sin()
        b[1] = y                    # (y's own row is not the view's: changing b later leaves it valid)
        b[0].add_(b[1])
        g, = L.autograd.grad((b ** 3).sum(), x, create_graph=True)
        h, = L.autograd.grad(g.sum(), x)
        return g, h

    def diagonal_scaled():
        a = L.ones(2, 2, dtype=L.float64, requires_grad=True)
        s = L.tensor([2.0, 3.0], dtype=L.float64, requires_grad=True)
        b = a.sin()
        b.diagonal().mul_(s)
        g = L.autograd.grad((b * b).sum(), (a, s), create_graph=True)
        return g + L.autograd.grad(g[0].sum() + g[1].sum(), (a, s))

    out = {}
    for f in (self_product, zero_d, transposed_row, other_view_after, column_zeroed, augmented,
              rows_assigned_second_order, diagonal_scaled):
        try:
            r = f()
            # (the version of a gradient is how it was made: not compared)
            out[f.__name__] = [(t.detach().numpy().tolist(), type(t.grad_fn).__name__, t._version if t.grad_fn else 0)
                               for t in r]
        except RuntimeError as e:
            out[f.__name__] = str(e)
    return out


@pytest.mark.torch
def test_small_programs_match_pytorch():
    torch = pytest.importorskip("torch")
    mine, theirs = _programs(tape), _programs(torch)
    for name in mine:
        m, t = mine[name], theirs[name]
        if isinstance(t, str):
            assert m == t, name
            continue
        for (vm, fm, km), (vt, ft, kt) in zip(m, t):
            assert np.allclose(vm, vt, rtol=1e-12) and fm == ft and km == kt, name


def test_assigned_value_stays_valid():
    # The value assigned is a tensor of its own: changing the base again does not make rows that saved it stale.
    x = tape.tensor([1.0, 2.0, 3.0], requires_grad=True)
    s = x.sin()                 # saves x
    b = tape.zeros(2, 3)
    b[0] = x
    b[1] = 2.0
    b[0].mul_(3)
    (s.sum() + b.sum()).backward()
    assert np.allclose(x.grad.numpy(), np.cos([1.0, 2.0, 3.0]) + 3)


# Views of a (4, 6) tensor, each usable on the result of another while it has two dims or more.
CHAIN = [
    lambda t: t[1:],
    lambda t: t[:, ::2],
    lambda t: t.t(),
    lambda t: t.transpose(0, 1),
    lambda t: t.narrow(0, 0, max(t.shape[0] - 1, 1)),
    lambda t: t.unsqueeze(0)[0],
    lambda t: t[None, :, 1:][0],
]


def _chain_program(L, picks, op):
    a = L.arange(24.0, dtype=L.float64).reshape(4, 6).requires_grad_()
    x = L.tensor(1.5, dtype=L.float64, requires_grad=True)
    b = a.sin()
    v = b
    for k in picks:
        v = CHAIN[k](v)
    if op == 0:
        v.mul_(x)
    elif op == 1:
        v.add_(x.exp())
    else:
        v.diagonal().mul_(x)
    y = (b * b).sum() + (v * v).sum()
    ga, gx = L.autograd.grad(y, (a, x))
    return b.detach().numpy(), v.detach().numpy(), ga.numpy(), gx.numpy(), type(b.grad_fn).__name__, b._version


@pytest.mark.torch
def test_chains_of_views_match_pytorch():
    torch = pytest.importorskip("torch")
    from hypothesis import given, strategies as st

    @given(st.lists(st.integers(0, len(CHAIN) - 1), max_size=3), st.integers(0, 2))
    def check(picks, op):
        mine, theirs = _chain_program(tape, picks, op), _chain_program(torch, picks, op)
        for m, t in zip(mine, theirs):
            if isinstance(m, np.ndarray):
                assert m.shape == t.shape and np.allclose(m, t, rtol=1e-12, atol=1e-12)
            else:
                assert m == t
    check()


def test_views_saved_then_changed_without_recording():
    # Unrecorded changes of the base or of another view still bump the views' shared counter.
    for through in ("base", "other view"):
        a = tape.ones(3, requires_grad=True)
        b = a * 1
        w = b[1:]
        y = w.sin()
        v = b[0:2]
        with tape.no_grad():
            (b if through == "base" else v).mul_(2)
        with pytest.raises(RuntimeError, match=r"modified by an inplace operation: \[torch.FloatTensor \[2\]\], "
                                               r"which is output 0 of \w+, is at version 1; expected version 0"):
            y.sum().backward()


def test_no_grad_view_passes_no_gradient():
    # A view made under no_grad of a tensor that requires grad requires grad, but PyTorch gives it no
    # gradient, nor to its base.
    a = tape.tensor([-2.0, 1.0], requires_grad=True)
    for base in (a, a * 3):
        with tape.no_grad():
            v = base[0:1]
        y = (v * 0.5).sum()
        assert v.requires_grad and v.is_leaf and v.grad_fn is None and y.requires_grad
        y.backward()
        assert v.grad is None and a.grad is None


def test_an_unbind_output_of_a_leaf_changed_under_no_grad_keeps_the_multi_output_error():
    # PyTorch refuses an in-place change of an output of a multi-output view op before it looks at
    # the leaf behind it, also once the leaf was changed under no_grad (the views re-derived;
    # found by the random-program fuzzer).
    leaf = tape.ones(3, 3, requires_grad=True)
    parts = leaf.unbind(0)
    with tape.no_grad():
        leaf.add_(-2.0)
    with pytest.raises(RuntimeError, match="^Output 0 of Unbind is a view and is being modified inplace"):
        parts[0].add_(-2.0)


def test_detach_of_a_view_counts_offsets_in_the_view_s_storage():
    # PyTorch's detach() shares the view's storage, offset included: storage_offset and as_strided
    # count in the storage of the tensor the view views.
    a = tape.arange(5.0)
    d = a[1:4].detach()
    assert d.storage_offset() == 1 and len(d.untyped_storage()) == 5 * 4
    assert d.as_strided((2,), (1,)).tolist() == [1.0, 2.0]
    assert d.view_as(d).as_strided((5,), (1,), 0).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    d.as_strided((2,), (1,), 0).mul_(-1)
    assert a.tolist() == [-0.0, -1.0, 2.0, 3.0, 4.0]
