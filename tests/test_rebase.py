"""A view whose storage changes without recording (under no_grad, through ``detach()``, through another
view) takes PyTorch's re-derived node, ``AsStridedBackward0`` of its base's, and the gradients that
use its new value; a view made in no_grad mode and an output of a multi-output view op refuse
instead, as PyTorch's (their ``grad_fn`` and any recorded use raise).  A change through ``.data``
moves no version: nodes stay, values are the new ones."""
import pytest

import tape


def _chain(fn) -> str:
    if fn is None:
        return "None"
    below = ", ".join(_chain(f) for f, _ in fn.next_functions)
    return type(fn).__name__ + (f"({below})" if below else "")


def _no_grad(L, f):
    def change(b, v):
        with L.no_grad():
            f(b, v)
    return change


# name: (the view of b = a * 1 (a: 2x3 leaf), the change of b or v, as (L) -> change(b, v))
CASES = {
    "base_no_grad": (lambda b: b[0], lambda L: _no_grad(L, lambda b, v: b.mul_(2))),
    "base_no_grad_add": (lambda b: b[0], lambda L: _no_grad(L, lambda b, v: b.add_(1))),
    "base_detached": (lambda b: b[0], lambda L: lambda b, v: b.detach().mul_(2)),
    "base_data": (lambda b: b[0], lambda L: lambda b, v: b.data.mul_(2)),
    "other_view": (lambda b: b[0], lambda L: _no_grad(L, lambda b, v: b[1].mul_(2))),
    "overlapping_view": (lambda b: b[0], lambda L: _no_grad(L, lambda b, v: b[:, 0].mul_(2))),
    "view_itself": (lambda b: b[0], lambda L: _no_grad(L, lambda b, v: v.mul_(2))),
    "view_detached": (lambda b: b[0], lambda L: lambda b, v: v.detach().mul_(2)),
    "view_setitem": (lambda b: b[0], lambda L: _no_grad(L, lambda b, v: b.__setitem__(1, 5.0))),
    "view_fill": (lambda b: b[0], lambda L: _no_grad(L, lambda b, v: b.fill_(3.0))),
    "view_copy": (lambda b: b[0], lambda L: _no_grad(L, lambda b, v: b.copy_(L.ones(2, 3)))),
    "transpose": (lambda b: b.t(), lambda L: _no_grad(L, lambda b, v: b.mul_(2))),
    "view": (lambda b: b.view(6), lambda L: _no_grad(L, lambda b, v: b.mul_(2))),
    "expand": (lambda b: b[0].expand(2, 3), lambda L: _no_grad(L, lambda b, v: b.mul_(2))),
    "diagonal": (lambda b: b.diagonal(), lambda L: _no_grad(L, lambda b, v: b.mul_(2))),
    "view_of_view": (lambda b: b[1:].t()[0], lambda L: _no_grad(L, lambda b, v: b.mul_(2))),
    "unbind": (lambda b: b.unbind(0)[1], lambda L: _no_grad(L, lambda b, v: b.mul_(2))),
    "split": (lambda b: b.split(1)[1], lambda L: _no_grad(L, lambda b, v: b.mul_(2))),
    "unbind_recorded_change": (lambda b: b.unbind(0)[1], lambda L: lambda b, v: b.mul_(2)),
    "then_recorded_on_view": (lambda b: b[0], lambda L: lambda b, v: (_no_grad(L, lambda b, v: b.mul_(2))(b, v),
                                                                      v.mul_(3))),
    "then_recorded_on_base": (lambda b: b[0], lambda L: lambda b, v: (_no_grad(L, lambda b, v: b.mul_(2))(b, v),
                                                                      b.mul_(3))),
    "twice": (lambda b: b[0], lambda L: lambda b, v: (_no_grad(L, lambda b, v: b.mul_(2))(b, v),
                                                      _no_grad(L, lambda b, v: b.add_(2))(b, v))),
}


def _run(L, case, leaf=False):
    make, change = CASES[case]
    a = L.arange(1.0, 7.0).view(2, 3).requires_grad_()
    b = a if leaf else a * 1
    v = make(b)
    try:
        change(L)(b, v)
        out = [_chain(v.grad_fn), v._version]
        (v * v).sum().backward()
        return out + [v.tolist(), None if a.grad is None else a.grad.tolist()]
    except RuntimeError as e:
        return str(e)


@pytest.mark.torch
@pytest.mark.parametrize("case", CASES)
def test_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    assert _run(tape, case) == _run(torch, case)


@pytest.mark.torch
@pytest.mark.parametrize("case", ["base_no_grad", "base_detached", "base_data", "unbind", "view_itself"])
def test_views_of_a_leaf_view_match_pytorch(case):
    # ``a = arange(6).view(2, 3).requires_grad_()`` is a view itself, of a tensor that does not require
    # grad: PyTorch's re-derived node leads nowhere, and ``a`` gets no gradient.
    torch = pytest.importorskip("torch")
    if case in ("base_no_grad", "base_detached", "base_data"):
        assert _run(tape, case, leaf=False) == _run(torch, case, leaf=False)
    assert _run(tape, case, leaf=True) == _run(torch, case, leaf=True)


def test_gradients_use_the_new_value():
    a = tape.arange(1.0, 7.0).view(2, 3).requires_grad_()
    b = a * 1
    v = b[0]
    assert _chain(v.grad_fn) == "SelectBackward0(MulBackward0(AccumulateGrad, None))"
    with tape.no_grad():
        b.mul_(2)
    assert _chain(v.grad_fn) == "AsStridedBackward0(MulBackward0(AccumulateGrad, None))"
    assert _chain(b.grad_fn) == "MulBackward0(AccumulateGrad, None)"
    (v * v).sum().backward()
    assert a.grad.tolist() == [[4.0, 8.0, 12.0], [0.0, 0.0, 0.0]]


def test_data_keeps_the_node_with_the_new_value():
    a = tape.arange(1.0, 7.0).view(2, 3).requires_grad_()
    b = a * 1
    v = b[0]
    b.data.mul_(2)
    assert type(v.grad_fn).__name__ == "SelectBackward0" and v._version == 0
    (v * v).sum().backward()
    assert a.grad.tolist() == [[4.0, 8.0, 12.0], [0.0, 0.0, 0.0]]


def test_leaf_base():
    a = tape.arange(1.0, 7.0).requires_grad_()
    v = a[1:3]
    with tape.no_grad():
        a.mul_(2)
    assert _chain(v.grad_fn) == "AsStridedBackward0(AccumulateGrad)"
    (v * v).sum().backward()
    assert a.grad.tolist() == [0.0, 8.0, 12.0, 0.0, 0.0, 0.0]


def test_multi_output_views_refuse():
    a = tape.arange(1.0, 7.0).view(2, 3).requires_grad_()
    b = a * 1
    u = b.unbind(0)
    with tape.no_grad():
        b.mul_(2)
    text = ("Output 1 of Unbind is a view and its base or another view of its base has been modified inplace. "
            "This view is the output of a function that returns multiple views. Such functions do not allow the "
            "output views to be modified inplace. You should replace the inplace operation by an out-of-place one.")
    for use in (lambda: u[1].grad_fn, lambda: u[1] * 2):
        with pytest.raises(RuntimeError) as e:
            use()
        assert str(e.value) == text
    for use in (lambda: u[1].is_leaf, u[1].retain_grad):
        with pytest.raises(RuntimeError, match="Output 1 of Unbind is a view and its base"):
            use()
    assert repr(u[1]) == "tensor([ 8., 10., 12.], grad_fn=<Invalid>)"
    loss = (b * 1).sum()
    for use in (lambda: tape.autograd.grad(loss, [u[1]], retain_graph=True),
                lambda: loss.backward(inputs=[u[1]], retain_graph=True)):
        with pytest.raises(RuntimeError, match="Output 1 of Unbind is a view and its base"):
            use()
    with tape.no_grad():
        assert (u[1] * 2).tolist() == [16.0, 20.0, 24.0]
    with pytest.raises(RuntimeError, match="Output 1 of Unbind is a view and is being modified inplace. This view"):
        u[1].mul_(2)
    assert u[1].requires_grad and u[1]._version == 1


def test_no_grad_view_refuses():
    a = tape.arange(1.0, 7.0).view(2, 3).requires_grad_()
    b = a * 1
    with tape.no_grad():
        v = b[0]
    assert v.grad_fn is None and v.requires_grad
    with tape.no_grad():
        b.mul_(2)
    for use in (lambda: v.grad_fn, lambda: v * 2):
        with pytest.raises(RuntimeError, match="A view was created in no_grad mode and its base or another view of "
                                               "its base has been modified inplace with grad mode enabled."):
            use()


def _derived(L, case):
    """Views of a view PyTorch refuses to change in place inherit its refusal (named after their own node)."""
    a = L.arange(1.0, 7.0).view(2, 3).requires_grad_()
    b = a * 1
    if case.startswith("multi"):
        w = b.unbind(0)[1][1:]
    else:
        with L.no_grad():
            n = b[0]
        w = n[1:]
    try:
        if case.endswith("inplace"):
            w.mul_(2)
        else:
            b.mul_(2)
            return type(w.grad_fn).__name__
    except RuntimeError as e:
        return str(e)


DERIVED = ("multi_inplace", "multi_rebase", "no_grad_inplace", "no_grad_rebase")


@pytest.mark.torch
@pytest.mark.parametrize("case", DERIVED)
def test_views_of_refusing_views_match_pytorch(case):
    torch = pytest.importorskip("torch")
    assert _derived(tape, case) == _derived(torch, case)


def test_views_of_refusing_views():
    assert _derived(tape, "multi_inplace").startswith("Output 0 of Slice is a view and is being modified inplace. "
                                                      "This view is the output of a function that returns multiple")
    assert _derived(tape, "multi_rebase").startswith("Output 0 of Slice is a view and its base or another view of "
                                                     "its base has been modified inplace. This view is the output")
    assert _derived(tape, "no_grad_inplace").startswith("Output 0 of Slice is a view of a view which was created in "
                                                        "no_grad mode and is being modified inplace with grad mode")
    assert _derived(tape, "no_grad_rebase").startswith("Output 0 of Slice is a view of a view which was created in "
                                                       "no_grad mode and its base or another view of its base has")
