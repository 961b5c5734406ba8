"""In-place view ops (t_, transpose_, swapaxes_, swapdims_, squeeze_, unsqueeze_): the tensor itself
takes the view's shape, strides and node; its version moves; PyTorch's errors."""
import numpy as np
import pytest

import tape

OPS = [
    ("t_", lambda t: t.t_(), (3, 2), (1, 3), "TBackward1"),
    ("transpose_", lambda t: t.transpose_(0, 1), (3, 2), (1, 3), "TransposeBackward1"),
    ("swapaxes_", lambda t: t.swapaxes_(1, 0), (3, 2), (1, 3), "TransposeBackward1"),
    ("swapdims_", lambda t: t.swapdims_(-1, 0), (3, 2), (1, 3), "TransposeBackward1"),
    ("unsqueeze_", lambda t: t.unsqueeze_(1), (2, 1, 3), (3, 3, 1), "UnsqueezeBackward1"),
    ("unsqueeze_ -1", lambda t: t.unsqueeze_(-1), (2, 3, 1), (3, 1, 1), "UnsqueezeBackward1"),
]


@pytest.mark.parametrize("name, op, shape, stride, node", OPS, ids=[o[0] for o in OPS])
def test_the_tensor_itself_becomes_the_view(name, op, shape, stride, node):
    x = tape.tensor(np.arange(6.).reshape(2, 3), requires_grad=True)
    h = x * 1
    assert op(h) is h
    assert tuple(h.shape) == shape and h.stride() == stride and h._version == 1
    assert type(h.grad_fn).__name__ == node
    assert type(h.grad_fn.next_functions[0][0]).__name__ == "MulBackward0"
    weights = tape.arange(6, dtype=tape.float64).reshape(shape)
    (h * weights).sum().backward()
    # Each element of x gets the weight at its place in the view.
    expected = np.arange(6.).reshape(shape)
    expected = expected.squeeze(-1) if name == "unsqueeze_ -1" else expected.squeeze(1) if len(shape) == 3 else expected.T
    np.testing.assert_array_equal(x.grad.numpy(), expected)


@pytest.mark.parametrize("dim, node", [(None, "SqueezeBackward3"), (0, "SqueezeBackward4"),
                                       ((0, 2), "SqueezeBackward5")])
def test_squeeze_(dim, node):
    x = tape.ones(2, 3, requires_grad=True)
    h = (x * 1).unsqueeze(0)
    assert (h.squeeze_() if dim is None else h.squeeze_(dim)) is h
    assert tuple(h.shape) == (2, 3) and type(h.grad_fn).__name__ == node
    h.sum().backward()
    assert x.grad.tolist() == [[1.0] * 3] * 2


def test_plain_tensors_change_their_layout_and_version():
    z = tape.arange(6.).reshape(2, 3)
    assert z.t_() is z
    assert tuple(z.shape) == (3, 2) and z.stride() == (1, 3) and not z.is_contiguous() and z._version == 1
    assert z.grad_fn is None and not z.requires_grad
    assert z.tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    s = tape.tensor(2.0)
    s.unsqueeze_(0)
    assert tuple(s.shape) == (1,) and s.tolist() == [2.0]


def test_a_leaf_under_no_grad_stays_a_leaf():
    leaf = tape.ones(2, 3, requires_grad=True)
    with tape.no_grad():
        leaf.t_()
    assert tuple(leaf.shape) == (3, 2) and leaf.is_leaf and leaf.grad_fn is None and leaf._version == 1
    (leaf * 2).sum().backward()
    assert tuple(leaf.grad.shape) == (3, 2)


def test_a_row_that_saved_the_tensor_before_raises():
    x = tape.ones(2, 3, requires_grad=True)
    h = x * 1
    y = h * h
    h.t_()
    with pytest.raises(RuntimeError, match=r"\[torch.FloatTensor \[3, 2\]\], which is output 0 of T1, is at version 1; "
                                           r"expected version 0 instead"):
        y.sum().backward()


def test_views_of_the_base_are_rederived():
    x = tape.tensor(np.arange(6.).reshape(2, 3), requires_grad=True)
    h = x * 1
    v = h[0]
    h.t_()
    assert type(v.grad_fn).__name__ == "AsStridedBackward0" and type(h.grad_fn).__name__ == "TBackward1"
    (v * 2).sum().backward()
    assert x.grad.tolist() == [[2.0] * 3, [0.0] * 3]


def test_a_view_changed_in_place_keeps_its_own_node_and_its_siblings_are_rederived():
    x = tape.tensor(np.arange(6.).reshape(2, 3), requires_grad=True)
    h = x * 1
    v, w = h[0:1], h[1]
    v.t_()
    assert type(v.grad_fn).__name__ == "TBackward1" and type(w.grad_fn).__name__ == "AsStridedBackward0"
    assert type(v.grad_fn.next_functions[0][0]).__name__ == "SliceBackward0"
    assert h._version == 1 and tuple(v.shape) == (3, 1) and v.stride() == (1, 3)
    h.mul_(3)       # (the base changed: the view, transposed, sees it)
    assert type(v.grad_fn).__name__ == "AsStridedBackward0" and v.tolist() == [[0.0], [3.0], [6.0]]
    v.sum().backward()
    assert x.grad.tolist() == [[3.0] * 3, [0.0] * 3]


@pytest.mark.parametrize("make, message", [
    (lambda: tape.ones(2, 3, requires_grad=True).t_(), "a leaf Variable that requires grad is being used in an "
                                                       "in-place operation."),
    (lambda: tape.ones(2, 3, requires_grad=True)[0:1].t_(), "a view of a leaf Variable that requires grad is being "
                                                            "used in an in-place operation."),
    (lambda: (tape.ones(2, 3, requires_grad=True) * 1).unbind(0)[0].unsqueeze_(0),
     "Output 0 of Unbind is a view and is being modified inplace. This view is the output of a function that "
     "returns multiple views."),
    (lambda: tape.ones(2, 3, 4).t_(), "t_\\(\\) expects a tensor with <= 2 dimensions, but self is 3D"),
    (lambda: tape.ones(1, 3).squeeze_((0, 0)), "dim 0 appears multiple times in the list of dims"),
])
def test_errors(make, message):
    with pytest.raises(RuntimeError, match=message):
        make()


def test_dim_out_of_range():
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 5\)"):
        tape.ones(2, 3).squeeze_(5)


def test_a_view_made_in_no_grad_mode():
    h = tape.ones(2, 3, requires_grad=True) * 1
    with tape.no_grad():
        w = h[0]
    with pytest.raises(RuntimeError, match="A view was created in no_grad mode and is being modified inplace with "
                                           "grad mode enabled."):
        w.unsqueeze_(0)


def test_inference_tensor_outside_inference_mode():
    with tape.inference_mode():
        i = tape.zeros(2, 3)
    with pytest.raises(RuntimeError, match="Inplace update to inference tensor outside InferenceMode"):
        i.t_()


def _program(lib):
    """What each in-place view op leaves, as plain data (compared with PyTorch's)."""
    out = []
    x = lib.tensor(np.arange(6.).reshape(2, 3), requires_grad=True)
    ops = [lambda t: t.t_(), lambda t: t.transpose_(0, 1), lambda t: t.swapaxes_(1, 0), lambda t: t.swapdims_(-1, 0),
           lambda t: t.unsqueeze_(1), lambda t: t.unsqueeze_(-1), lambda t: t.unsqueeze(0).squeeze_(),
           lambda t: t.unsqueeze(0).squeeze_(0), lambda t: t.unsqueeze(0).squeeze_((0, 1)),
           lambda t: t[0:1].t_(), lambda t: t.t_().unsqueeze_(0).transpose_(0, 2)]
    for op in ops:
        h = op(x * 1)
        out.append((tuple(h.shape), h.stride(), h._version, type(h.grad_fn).__name__, h.is_contiguous(),
                    [type(n[0]).__name__ for n in h.grad_fn.next_functions]))
        x.grad = None
        (h * lib.arange(h.numel(), dtype=h.dtype).reshape(h.shape)).sum().backward()
        out.append(x.grad.tolist())
    return out


@pytest.mark.torch
def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    assert _program(tape) == _program(torch)


def test_as_strided_views_the_storage():
    x = tape.arange(6.0, requires_grad=True)
    h = x * 1
    a = h.as_strided((2, 2), (1, 2), 1)
    assert a.tolist() == [[1.0, 3.0], [2.0, 4.0]] and a._base is h and a.stride() == (1, 2)
    assert a.storage_offset() == 1 and type(a.grad_fn).__name__ == "AsStridedBackward0"
    (a * tape.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 3.0, 2.0, 4.0, 0.0]
    v = tape.arange(6.0)[2:]
    assert v.as_strided((2,), (1,)).tolist() == [2.0, 3.0]          # (the view's own offset by default)
    assert tape.as_strided(v, (2,), (1,), 0).tolist() == [0.0, 1.0]
    b = tape.zeros(6)
    b.as_strided((2,), (3,)).add_(1)
    assert b.tolist() == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0] and b._version == 1


@pytest.mark.parametrize("args, error", [
    (((2,), (-1,)), "as_strided: Negative strides are not supported at the moment, got strides: \\[-1\\]"),
    (((2, 2), (1,)), "mismatch in length of strides and shape"),
    (((4, 4), (1, 1)), "setStorage: sizes \\[4, 4\\], strides \\[1, 1\\], storage offset 0, and itemsize 4 requiring "
                       "a storage size of 28 are out of bounds for storage of size 24"),
])
def test_as_strided_errors(args, error):
    with pytest.raises(RuntimeError, match=error):
        tape.arange(6.0).as_strided(*args)


def _as_strided_program(lib):
    out = []
    x = lib.arange(6.0, requires_grad=True)
    for make in (lambda: (x * 1).as_strided((3,), (2,)), lambda: (x * 1)[1:].as_strided((2, 2), (1, 1)),
                 lambda: (x * 1).reshape(2, 3).t().as_strided((3,), (2,)), lambda: x.as_strided((2, 3), (0, 1), 2)):
        a = make()
        out.append((a.tolist(), a.stride(), a.storage_offset(), a.is_contiguous(), type(a.grad_fn).__name__))
        x.grad = None
        (a * lib.arange(1.0, a.numel() + 1).reshape(a.shape)).sum().backward()
        out.append(x.grad.tolist())
    return out


@pytest.mark.torch
def test_as_strided_matches_pytorch():
    torch = pytest.importorskip("torch")
    assert _as_strided_program(tape) == _as_strided_program(torch)


# -- as_strided_ (values, nodes and errors as PyTorch 2.13's) ----------------------------------
def test_as_strided__gives_the_tensor_itself_a_layout_of_its_storage():
    x = tape.arange(6.0).requires_grad_()
    y = x * 1
    assert y.as_strided_((2, 2), (1, 2), 1) is y
    assert y.tolist() == [[1.0, 3.0], [2.0, 4.0]] and y.stride() == (1, 2) and y.storage_offset() == 1
    assert y._version == 1 and y._base is None and type(y.grad_fn).__name__ == "AsStridedBackward1"
    assert type(y.grad_fn.next_functions[0][0]).__name__ == "MulBackward0"
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    # Twice: the second layout is of the storage, its offset counted from the storage's start.
    x.grad = None
    y = x * 3
    y.as_strided_((4,), (1,), 1).as_strided_((2,), (2,), 2)
    assert y.tolist() == [6.0, 12.0] and y.storage_offset() == 2
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 3.0, 0.0, 3.0, 0.0]


def test_as_strided__of_a_plain_tensor_and_of_a_view():
    z = tape.arange(6.0)
    assert tape.as_strided_(z, (3,), (2,)) is z and z.tolist() == [0.0, 2.0, 4.0] and z.storage_offset() == 0
    assert z.as_strided((2,), (1,), 0).tolist() == [0.0, 1.0]
    q = tape.arange(6.0)
    q.as_strided_((2,), (1,), 3)
    assert q.tolist() == [3.0, 4.0] and q.storage_offset() == 3 and q[1:].storage_offset() == 4
    assert q.as_strided((6,), (1,), 0).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    u = tape.arange(6.0)
    v = u[1:]
    v.as_strided_((2,), (2,))       # (the view's own offset by default)
    assert v.tolist() == [1.0, 3.0] and v.storage_offset() == 1 and v._base is u
    x = tape.arange(6.0).requires_grad_()
    w = (x * 1)[2:]
    w.as_strided_((2,), (1,))
    assert w.tolist() == [2.0, 3.0] and w.storage_offset() == 2 and type(w.grad_fn).__name__ == "AsStridedBackward1"
    (w * tape.tensor([1.0, 10.0])).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0, 10.0, 0.0, 0.0]


@pytest.mark.parametrize("make, args, error", [
    (lambda x: x, ((2,), (1,)), "a leaf Variable that requires grad is being used in an in-place operation."),
    (lambda x: x, ((2,), (-1,)), "a leaf Variable that requires grad is being used in an in-place operation."),
    (lambda x: x[1:], ((2,), (1,)), "a view of a leaf Variable that requires grad is being used in an in-place"),
    (lambda x: (x * 1).unbind()[0], ((1,), (1,)), "Output 0 of Unbind is a view and is being modified inplace"),
    (lambda x: (x * 1)[1:], ((2,), (-1,)), "as_strided: Negative strides are not supported at the moment, got "
                                           "strides: \\[-1\\]"),
    (lambda x: x.detach(), ((20,), (1,)), "setStorage: sizes \\[20\\], strides \\[1\\], storage offset 0, and itemsize 4 "
                                          "requiring a storage size of 80 are out of bounds for storage of size 24"),
    (lambda x: x.detach(), ((2,), (1, 2)), "mismatch in length of strides and shape"),
    (lambda x: x.detach(), ((2,), (1,), -1), "Tensor: invalid storage offset -1"),
    # (tape: a gradient only reaches elements in the tensor's value, which no longer holds the storage)
    (lambda x: (x * 1).as_strided_((2,), (1,), 3), ((6,), (1,), 0), "tape: as_strided of a tensor that requires grad"),
])
def test_as_strided__errors(make, args, error):
    x = tape.arange(6.0).requires_grad_()
    with pytest.raises(RuntimeError, match=error):
        make(x).as_strided_(*args)


def test_as_strided__bumps_the_version_rows_saved():
    x = tape.arange(6.0).requires_grad_()
    w = x * 1
    a = w.sin()
    w.as_strided_((3,), (1,))
    with pytest.raises(RuntimeError, match=r"\[torch.FloatTensor \[3\]\], which is output 0 of AsStrided1, is at "
                                           "version 1; expected version 0"):
        a.backward(tape.ones(6))
    with tape.inference_mode():
        i = tape.arange(4.0)
    with pytest.raises(RuntimeError, match="Inplace update to inference tensor outside InferenceMode"):
        i.as_strided_((2,), (1,))


@pytest.mark.parametrize("change", [lambda x: x.add_(1), lambda x: x.t_(), lambda x: x.squeeze_(),
                                    lambda x: x.index_reduce_(0, tape.tensor([0]), tape.ones(1, 3), "prod")])
def test_a_leaf_made_of_a_view_is_a_view_of_a_leaf(change):
    # (PyTorch's check asks whether the tensor is a view first: a leaf made by requires_grad_() on
    # a view of a plain tensor gets the view's message)
    x = tape.arange(6.).reshape(2, 3).requires_grad_()
    with pytest.raises(RuntimeError, match="^a view of a leaf Variable that requires grad is being used in an "
                                           "in-place operation.$"):
        change(x)
    with tape.no_grad():
        change(x)


def test_in_place_view_op_under_no_grad_changing_the_size():
    # The hidden view row the op records is no copy of its source: an alias's change of the
    # source's storage leaves it alone (it raised a numpy ValueError).
    base = tape.rand(2, 3, requires_grad=True).clone()
    view = base.view_as(base)
    with tape.no_grad():
        view.as_strided_((1, 0), (2, 2))
    assert tuple(view.shape) == (1, 0)
    view.add_(1)
    assert tuple(view.shape) == (1, 0) and view.grad_fn is not None
    base.sum().backward()


@pytest.mark.parametrize("name, op, shape, stride, node", OPS, ids=[o[0] for o in OPS])
def test_an_output_of_unbind_changed_by_one_under_no_grad_stays_a_multi_output_view(name, op, shape, stride, node):
    # (PyTorch's test_autograd_inplace_views_creation_meta: its creation meta is kept)
    base = tape.rand(2, 3, 2, requires_grad=True).clone()
    view = base.unbind()[0]
    with tape.no_grad():
        op(view)
    with pytest.raises(RuntimeError, match="^Output 0 of Unbind is a view and is being modified inplace. This view is "
                                           "the output of a function that returns multiple views"):
        view.add_(1)
    # (a plain view stays one that may be changed)
    base = tape.rand(2, 3, requires_grad=True).clone()
    view = base.view_as(base)
    with tape.no_grad():
        op(view)
    view.add_(1)
