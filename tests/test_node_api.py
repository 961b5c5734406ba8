"""The Node API: ``grad_fn._saved_<name>`` (the ops' ``node_saved`` tables), calling a node,
``metadata``, ``GradientEdge`` / ``get_gradient_edge`` / ``output_nr``, and hooks on
``AccumulateGrad`` nodes.  ``test_saved_values_vs_torch`` (marker ``torch``) compares the saved
values of the common ops with PyTorch's."""
from __future__ import annotations

import numpy as np
import pytest

import tape
from tape.autograd.graph import GradientEdge, Node, get_gradient_edge

FREED = "Trying to backward through the graph a second time"


def _saved(fn) -> dict:
    out = {}
    for name in dir(fn):
        if name.startswith("_saved_"):
            v = getattr(fn, name)
            if type(v) is tuple:        # (IndexBackward0's ``indices``: tensors and None)
                v = tuple(e.tolist() if hasattr(e, "tolist") else e for e in v)
            out[name] = v.tolist() if hasattr(v, "tolist") else v
    return out


def test_saved_values_of_common_ops():
    x = tape.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = tape.tensor([4.0, 5.0, 6.0], requires_grad=True)
    y = x * w
    assert y.grad_fn._saved_self is x and y.grad_fn._saved_other is w
    assert (x * tape.ones(3)).grad_fn._saved_self is None          # not saved: ones needs no grad
    e = x.exp()
    assert e.grad_fn._saved_result.tolist() == e.tolist()
    assert e.grad_fn._saved_result.grad_fn.name() == "ExpBackward0"
    assert x.sin().grad_fn._saved_self is x and x.log().grad_fn._saved_self is x
    assert _saved((x ** 2).grad_fn) == {"_saved_exponent": 2.0, "_saved_self": [1.0, 2.0, 3.0]}
    A = tape.ones(2, 3, requires_grad=True)
    assert _saved(A.sum(1, keepdim=True).grad_fn) == {"_saved_dim": (1,), "_saved_keepdim": True,
                                                       "_saved_self_sym_sizes": (2, 3)}
    assert _saved(A.sum().grad_fn) == {"_saved_self_sym_sizes": (2, 3)}
    mm = (A @ tape.ones(3, 4, requires_grad=True)).grad_fn
    assert mm._saved_self_sym_sizes == (2, 3) and mm._saved_mat2_sym_strides == (4, 1)
    assert mm._saved_self is A
    with pytest.raises(AttributeError, match="'MulBackward0' object has no attribute '_saved_foo'"):
        y.grad_fn._saved_foo
    with pytest.raises(AttributeError):
        x.exp().grad_fn._raw_saved_self


def test_saved_values_after_free():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    s = y.sum()
    s.backward()
    with pytest.raises(RuntimeError, match=FREED):
        y.grad_fn._saved_result
    assert s.grad_fn._saved_self_sym_sizes == (2,)         # not a tensor: kept


def test_call_node():
    x = tape.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = tape.tensor([4.0, 5.0, 6.0], requires_grad=True)
    y = x * w
    gx, gw = y.grad_fn(tape.ones(3))
    assert gx.tolist() == [4.0, 5.0, 6.0] and gw.tolist() == [1.0, 2.0, 3.0]
    assert gx.grad_fn is not None                   # recorded: grad mode is on
    g = x.exp().grad_fn(tape.ones(3))
    assert isinstance(g, tape.Tensor)
    assert x.sum().grad_fn(tape.tensor(2.0)).tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(TypeError, match="expected 1 arguments, got 2 instead"):
        y.grad_fn(tape.ones(3), tape.ones(3))
    z = (x * w).sum()
    z.backward()
    with pytest.raises(RuntimeError, match=FREED):
        z.grad_fn.next_functions[0][0](tape.ones(3))


def test_metadata_is_kept():
    x = tape.tensor([1.0], requires_grad=True)
    y = x * 2
    y.grad_fn.metadata["k"] = 1
    assert y.grad_fn.metadata == {"k": 1}
    acc = y.grad_fn.next_functions[0][0]
    acc.metadata["a"] = 2
    assert y.grad_fn.next_functions[0][0].metadata == {"a": 2}


def test_gradient_edges():
    x = tape.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = tape.tensor([4.0, 5.0, 6.0], requires_grad=True)
    y = x * w
    z = y.exp().sum()
    e = get_gradient_edge(y)
    assert isinstance(e, GradientEdge) and e.node == y.grad_fn and e.output_nr == 0
    assert e == (y.grad_fn, 0, None)
    leaf = get_gradient_edge(x)
    assert leaf.node.variable is x and leaf.node.name() == "torch::autograd::AccumulateGrad"
    with pytest.raises(RuntimeError, match="not possible to get the gradient edge"):
        get_gradient_edge(tape.ones(1))
    gy, = tape.autograd.grad(z, e, retain_graph=True)
    np.testing.assert_allclose(gy.numpy(), y.exp().detach().numpy())
    gx, gw = tape.autograd.grad(z, (leaf, w), retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), (w * y.exp()).detach().numpy(), rtol=1e-6)
    g, = tape.autograd.grad(e, x, grad_outputs=tape.ones(3))
    assert g.tolist() == [4.0, 5.0, 6.0]
    a, b = tape.ones(4, requires_grad=True).split(2)
    assert (a.output_nr, b.output_nr, x.output_nr, y.output_nr) == (0, 1, 0, 0)
    gb, = tape.autograd.grad((a * 2 + b * 3).sum(), get_gradient_edge(b))
    assert gb.tolist() == [3.0, 3.0]
    assert isinstance(y.grad_fn, Node) and isinstance(leaf.node, Node) and not isinstance(x, Node)


def test_accumulate_grad_hooks():
    log = []
    x = tape.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = tape.tensor([4.0, 5.0, 6.0], requires_grad=True)
    acc = (x * w).grad_fn.next_functions[0][0]
    h1 = acc.register_prehook(lambda go: log.append(("pre", [g.tolist() for g in go])))
    h2 = acc.register_hook(lambda gi, go: log.append(("post", gi, [g.tolist() for g in go], x.grad.tolist())))
    (x * w).sum().backward()
    assert log == [("pre", [[4.0, 5.0, 6.0]]), ("post", (), [[4.0, 5.0, 6.0]], [4.0, 5.0, 6.0])]
    h1.remove()
    h2.remove()
    x.grad = None
    h = acc.register_prehook(lambda go: (go[0] * 10,))
    (x * w).sum().backward()
    assert x.grad.tolist() == [40.0, 50.0, 60.0]
    g, = tape.autograd.grad((x * w).sum(), x)       # autograd.grad runs no AccumulateGrad node
    assert g.tolist() == [4.0, 5.0, 6.0]
    h.remove()
    x.grad = None
    acc.register_hook(lambda gi, go: (go[0],))
    with pytest.raises(RuntimeError, match=r"has returned an incorrect number of values \(got 1, but expected 0\)"):
        (x * w).sum().backward()
    assert x.grad.tolist() == [4.0, 5.0, 6.0]


def _saved_table(torch) -> list:
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([4.0, 5.0, 6.0], dtype=torch.float64, requires_grad=True)
    A = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=torch.float64, requires_grad=True)
    B = torch.ones(3, 4, dtype=torch.float64, requires_grad=True)
    out = []
    for f in (lambda: x * w, lambda: x * 2.0, lambda: x ** w, lambda: x.sum(), lambda: A.sum(1, keepdim=True),
              lambda: A.mean(0), lambda: A.mean(), lambda: A @ B, lambda: x @ w, lambda: A @ x, lambda: x / w,
              lambda: x.clamp(0, 1), lambda: x.exp(), lambda: x.tanh(), lambda: x.sigmoid(), lambda: x.sin(),
              lambda: x.cos(), lambda: x.log(), lambda: x.sqrt(), lambda: x.relu(), lambda: x.abs(),
              lambda: x.softmax(0), lambda: A.log_softmax(1), lambda: A.cumsum(1), lambda: x.cumprod(0),
              lambda: torch.cat([x, w]), lambda: torch.stack([x, w], 1), lambda: torch.where(x > 1, x, w),
              lambda: x + w, lambda: x - w, lambda: x + 2, lambda: 2 - x):
        fn = f().grad_fn
        out.append((type(fn).__name__, _saved(fn)))
    return out


@pytest.mark.torch
def test_saved_values_vs_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _saved_table(tape), _saved_table(torch)
    assert [(name, sorted(d)) for name, d in ours] == [(name, sorted(d)) for name, d in theirs]
    for (name, a), (_, b) in zip(ours, theirs):
        for key in a:
            if isinstance(a[key], list):
                np.testing.assert_allclose(a[key], b[key], rtol=1e-15, err_msg=f"{name}.{key}")
            else:
                assert a[key] == b[key], (name, key)


def _number_operands(torch, recorded: bool = False) -> list:
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    if recorded:
        x = x * 1.0         # (an operand on the tape: the front ends' array path)
    shown = []
    for y, name in ((x * 2, "_saved_other"), (x * 2.5, "_saved_other"), (2 * x, "_saved_other"),
                    (x / 3, "_saved_other"), (x * True, "_saved_other"), (x ** 2, "_saved_exponent"),
                    (x ** 0.5, "_saved_exponent"), (2 ** x, "_saved_self"), (2.5 ** x, "_saved_self")):
        v = getattr(y.grad_fn, name)
        shown.append((name, str(v.dtype), v.item()) if hasattr(v, "dtype") else (name, type(v).__name__, v))
    return shown


@pytest.mark.parametrize("recorded", [False, True])
def test_number_operands_keep_their_type(recorded):
    # A Python int (bool) operand is shown as an int (bool), as PyTorch keeps it; a float as a float.
    assert _number_operands(tape, recorded) == [
        ("_saved_other", "torch.int64", 2), ("_saved_other", "torch.float64", 2.5), ("_saved_other", "torch.int64", 2),
        ("_saved_other", "torch.int64", 3), ("_saved_other", "torch.bool", True), ("_saved_exponent", "int", 2),
        ("_saved_exponent", "float", 0.5), ("_saved_self", "int", 2), ("_saved_self", "float", 2.5)]


@pytest.mark.torch
def test_number_operands_vs_torch():
    torch = pytest.importorskip("torch")
    assert _number_operands(tape) == _number_operands(torch)


def test_saved_attributes_of_shape_ops_and_reductions():
    X = tape.arange(24.0, dtype=tape.float64).reshape(2, 3, 4).requires_grad_()
    assert _saved(X[:, :1].squeeze(1).grad_fn) == {"_saved_dim": 1, "_saved_self_sym_sizes": (2, 1, 4)}
    assert _saved(X.unsqueeze(3).grad_fn) == {"_saved_dim": 3}
    assert _saved(X.view(6, 4).grad_fn) == {"_saved_self_sym_sizes": (2, 3, 4)}
    assert _saved(X[:, :1].expand(2, 5, 4).grad_fn) == {"_saved_self_sym_sizes": (2, 1, 4)}
    assert _saved(X.transpose(0, 2).grad_fn) == {"_saved_dim0": 0, "_saved_dim1": 2}
    assert _saved(X.select(1, 2).grad_fn) == {"_saved_dim": 1, "_saved_index": 2, "_saved_self_sym_sizes": (2, 3, 4)}
    m = X.max(1, keepdim=True)
    assert _saved(m.values.grad_fn) == {"_saved_dim": 1, "_saved_indices": m.indices.tolist(), "_saved_keepdim": True,
                                        "_saved_self_sym_sizes": (2, 3, 4)}
    assert m.values.grad_fn._saved_indices.dtype is tape.int64
    s = X.sort(2, descending=True)
    assert _saved(s.values.grad_fn) == {"_saved_dim": 2, "_saved_indices": s.indices.tolist(),
                                        "_saved_self_sym_sizes": (2, 3, 4)}
    lse = X.logsumexp((0, 2), keepdim=True).grad_fn
    assert (lse._saved_dim, lse._saved_keepdim, lse._saved_self is X) == ((0, 2), True, True)
    assert (X.amax().grad_fn._saved_dim, X.amin(1).grad_fn._saved_dim) == ((), (1,))
    v = X.var(1, correction=0).grad_fn
    assert (v._saved_dim, v._saved_correction, v._saved_keepdim) == ((1,), 0, False)
    assert (X.std().grad_fn._saved_dim, X.std().grad_fn._saved_correction) == (None, None)
    assert not hasattr(v, "_saved_result")
    p = X.prod(2, keepdim=True).grad_fn
    assert (p._saved_dim, p._saved_keepdim) == (2, True)
    n = X.norm(p=1, dim=(0, 1)).grad_fn
    assert (n._saved_ord, n._saved_dim, n._saved_keepdim) == (1, (0, 1), False)
    assert (X.nansum().grad_fn._saved_dim, X.dist(X.detach(), 3).grad_fn._saved_p) == (None, 3)
    assert _saved(X.split([1, 2], 1)[0].grad_fn) == {"_saved_dim": 1, "_saved_self_sym_sizes": (2, 3, 4),
                                                     "_saved_split_sizes": (1, 2)}
    assert (X.unbind(2)[0].grad_fn._saved_dim, X.tril(-1).grad_fn._saved_diagonal) == (2, 2 ** 64 - 1)


def _saved_table2(torch) -> list:
    X = torch.arange(24.0, dtype=torch.float64).reshape(2, 3, 4).requires_grad_()
    out = []
    for f in (lambda: X[:, :1].squeeze(1), lambda: X[:, :1].squeeze(), lambda: X.unsqueeze(1),
              lambda: X[:, :1].expand(2, 5, 4), lambda: X.transpose(0, 2), lambda: X[0].t(), lambda: X.select(1, 2),
              lambda: X.view(6, 4), lambda: X.transpose(0, 1).reshape(12, 2), lambda: X.flatten(),
              lambda: X.max(1)[0], lambda: X.min(2, keepdim=True)[0], lambda: X.median(1)[0],
              lambda: X.kthvalue(2, 1)[0], lambda: X.sort(1)[0], lambda: X.topk(2, 2)[0], lambda: X.cummax(1)[0],
              lambda: X.amax(1), lambda: X.amin((0, 2), keepdim=True), lambda: X.amax(), lambda: X.logsumexp(1),
              lambda: X.var(1), lambda: X.var(), lambda: X.std(1, keepdim=True), lambda: X.var((0, 2), correction=0),
              lambda: X.prod(1), lambda: X.prod(), lambda: X.norm(dim=1), lambda: X.norm(), lambda: X.nansum(1),
              lambda: X.nansum(), lambda: X.dist(X.detach() + 1), lambda: X.dist(X.detach(), 1),
              lambda: X.split(2, 2)[1], lambda: X.chunk(2, 1)[0], lambda: X.split([1, 2], 1)[1],
              lambda: X.unbind(1)[0], lambda: X.tril(-1), lambda: X.triu(1)):
        fn = f().grad_fn
        out.append((type(fn).__name__, _saved(fn)))
    return out


@pytest.mark.torch
def test_saved_attributes_vs_torch():
    torch = pytest.importorskip("torch")
    assert _saved_table2(tape) == _saved_table2(torch)


def _metadata_table(torch) -> list:
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=torch.float64, requires_grad=True)

    class Two(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2, a.sum()

        @staticmethod
        def backward(ctx, g, h):
            return g

    nodes = [(x * 2).sum(0).grad_fn, x.float().grad_fn, x.split(2, 1)[0].grad_fn, x.max(1).values.grad_fn,
             Two.apply(x)[0].grad_fn]
    return [[(m.shape, str(m.dtype), str(m.device), m.is_nested_tensor) for m in n._input_metadata] for n in nodes]


def test_input_metadata():
    assert _metadata_table(tape) == [[([3], "torch.float64", "cpu", False)], [([2, 3], "torch.float32", "cpu", False)],
                                     [([2, 2], "torch.float64", "cpu", False), ([2, 1], "torch.float64", "cpu", False)],
                                     [([2], "torch.float64", "cpu", False)],
                                     [([2, 3], "torch.float64", "cpu", False), ([], "torch.float64", "cpu", False)]]


@pytest.mark.torch
def test_input_metadata_vs_torch():
    torch = pytest.importorskip("torch")
    assert _metadata_table(tape) == _metadata_table(torch)


U = 1 << 64         # (PyTorch shows a negative int argument as the unsigned 64-bit integer of its bits)


def _chain(t) -> list:
    """``(name, saved values)`` of each node along the first edges from ``t.grad_fn``."""
    out, fn = [], t.grad_fn
    while fn is not None and fn.name() != "torch::autograd::AccumulateGrad":
        out.append((type(fn).__name__, _saved(fn)))
        fn = fn.next_functions[0][0] if fn.next_functions else None
    return out


def test_saved_arguments_of_layouts_and_gathers():
    X = tape.arange(24.0, dtype=tape.float64).reshape(2, 3, 4).requires_grad_()
    sizes = {"_saved_self_sym_sizes": (2, 3, 4)}
    assert _saved(X.permute(-1, 0, 1).grad_fn) == {"_saved_dims": (U - 1, 0, 1)}
    assert _saved(X.flip(-1, 0).grad_fn) == {"_saved_dims": (U - 1, 0)}
    assert _saved(X.roll((1, -1), (0, 2)).grad_fn) == {"_saved_dims": (0, 2), "_saved_shifts": (1, U - 1)}
    assert _saved(X.roll(1).grad_fn) == {"_saved_dims": (), "_saved_shifts": (1,)}
    assert _saved(X.narrow(-1, 1, 2).grad_fn) == {"_saved_dim": U - 1, "_saved_start": 1, "_saved_end": 3,
                                                  "_saved_step": 1, **sizes}
    assert _saved(X.diagonal(1, -1, 0).grad_fn) == {"_saved_offset": 1, "_saved_dim1": U - 1, "_saved_dim2": 0,
                                                    **sizes}
    assert _saved(X.tile((2,)).grad_fn) == {"_saved_repeats": (1, 1, 2), **sizes}
    assert _saved(X.unfold(-1, 2, 1).grad_fn) == {"_saved_dimension": U - 1, "_saved_size": 2, "_saved_step": 1,
                                                  **sizes}
    assert _saved(X.transpose(-1, 0).grad_fn) == {"_saved_dim0": U - 1, "_saved_dim1": 0}
    assert _saved(X.mT.grad_fn) == {"_saved_dim0": U - 2, "_saved_dim1": U - 1}
    assert _saved(X.unsqueeze(-1).grad_fn) == {"_saved_dim": U - 1}
    assert _saved(X[:, :1].squeeze((0, -2)).grad_fn) == {"_saved_dim": (0, U - 2), "_saved_self_sym_sizes": (2, 1, 4)}
    assert _saved(X.sum(-1).grad_fn) == {"_saved_dim": (U - 1,), "_saved_keepdim": False, **sizes}
    assert _saved(X.cumsum(-2).grad_fn) == {"_saved_dim": U - 2}
    assert _saved(tape.cat([X, X], -1).grad_fn) == {"_saved_dim": U - 1}
    assert _saved(X.chunk(2, -1)[0].grad_fn) == {"_saved_dim": U - 1, "_saved_split_size": 2, **sizes}
    assert _saved(X.split(5, 0)[0].grad_fn) == {"_saved_dim": 0, "_saved_split_size": 5, **sizes}
    idx = tape.zeros(2, 3, 1, dtype=tape.int64)
    g = X.gather(-1, idx).grad_fn
    assert (g._saved_dim, g._saved_index is idx, g._saved_self is X, g._saved_sparse_grad) == (U - 1, True, True,
                                                                                                False)
    assert sorted(a for a in dir(g) if a.startswith("_raw_saved")) == ["_raw_saved_index", "_raw_saved_self"]
    i = tape.tensor([1, 5])
    assert X.take(i).grad_fn._saved_index is i and X.take(i).grad_fn._saved_self is X
    s = X.index_select(-2, i[:1]).grad_fn
    assert (s._saved_dim, s._saved_index.tolist(), s._saved_self_sym_sizes) == (U - 2, [1], (2, 3, 4))
    mask = X > 3
    assert X.masked_fill(mask, 0.5).grad_fn._saved_mask is mask
    assert X.masked_select(mask).grad_fn._saved_mask is mask
    c = X.cummax(-1).values.grad_fn
    assert (c._saved_dim, c._saved_self is X, c._saved_indices.dtype) == (U - 1, True, tape.int64)
    lo, hi = X.aminmax(dim=1)
    a = lo.grad_fn
    assert (a._saved_dim, a._saved_keepdim, a._saved_self is X) == (1, False, True)
    assert a._saved_min.tolist() == lo.tolist() and a._saved_max.tolist() == hi.tolist()
    assert a._saved_max.grad_fn.name() == "AminmaxBackward0"


def test_basic_indexing_records_a_chain_of_views():
    X = tape.arange(24.0, dtype=tape.float64).reshape(2, 3, 4).requires_grad_()
    sizes = {"_saved_self_sym_sizes": (2, 3, 4)}
    big = (1 << 63) - 1         # (an open end, as PyTorch shows it)
    assert _chain(X[:, 1:3, ::2]) == [
        ("SliceBackward0", {"_saved_dim": 2, "_saved_start": 0, "_saved_end": big, "_saved_step": 2,
                            "_saved_self_sym_sizes": (2, 2, 4)}),
        ("SliceBackward0", {"_saved_dim": 1, "_saved_start": 1, "_saved_end": 3, "_saved_step": 1, **sizes})]
    assert _chain(X[0, -2:]) == [
        ("SliceBackward0", {"_saved_dim": 0, "_saved_start": U - 2, "_saved_end": big, "_saved_step": 1,
                            "_saved_self_sym_sizes": (3, 4)}),
        ("SelectBackward0", {"_saved_dim": 0, "_saved_index": 0, **sizes})]
    assert _chain(X[None, ..., -1]) == [
        ("SelectBackward0", {"_saved_dim": 3, "_saved_index": U - 1, "_saved_self_sym_sizes": (1, 2, 3, 4)}),
        ("UnsqueezeBackward0", {"_saved_dim": 0})]
    assert [n for n, _ in _chain(X[1, 2, 3])] == ["SelectBackward0"] * 3
    assert _chain(X[:, :3]) == [("AliasBackward0", {})]        # (slices taking a whole dim record nothing)
    assert [n for n, _ in _chain(X[:])] == ["SliceBackward0"]
    assert _chain(X[:, [0, 2]]) == [("IndexBackward0", {"_saved_indices": (None, [0, 2]), **sizes})]
    L = tape.zeros(2, 3, 4, dtype=tape.float64, requires_grad=True)
    y = L[0, None, 1:]
    assert y.stride() == (12, 4, 1) and y._base is L
    y.sum().backward()
    assert L.grad[0, 1:].tolist() == [[1.0] * 4] * 2 and L.grad.sum().item() == 8.0


def test_saved_indices_are_packed_by_saved_tensor_hooks():
    X = tape.arange(12.0, dtype=tape.float64).reshape(3, 4).requires_grad_()
    packed = []

    def pack(t):
        packed.append((tuple(t.shape), str(t.dtype)))
        return t

    with tape.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        g = X.gather(1, tape.tensor([[0], [1], [3]]))
        m = X.max(1).values
        Y = X[:, [0, 2]]
    assert packed == [((3, 1), "torch.int64"), ((3, 4), "torch.float64"), ((3,), "torch.int64"),
                      ((2,), "torch.int64")]
    (g.sum() + m.sum() + Y.sum()).backward()
    assert X.grad.tolist() == [[2.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 1.0, 2.0]]
    with pytest.raises(RuntimeError, match=FREED):
        g.grad_fn._saved_index
    with pytest.raises(RuntimeError, match=FREED):
        Y.grad_fn._saved_indices
    assert g.grad_fn._saved_dim == 1


def test_saved_arguments_inside_a_checkpointed_segment():
    from tape.utils.checkpoint import checkpoint
    X = tape.ones(2, 3, dtype=tape.float64, requires_grad=True)
    y = checkpoint(lambda a: (a * 2).permute(-1, 0).sum(-1), X, use_reentrant=False)
    assert y.grad_fn._saved_dim == (U - 1,) and y.grad_fn.next_functions[0][0]._saved_dims == (U - 1, 0)


def test_grad_of_a_node_output_runs_nothing_above_it():
    # x is a node of a tape newer than its input's: grad(out, x) must not run var_mean's node
    # (it leads to no input asked for), which the gradient edge of x then needs.
    w = tape.tensor([0.5, 2.0], requires_grad=True).clone()
    w.sum().backward()          # (later ops go onto a new tape, which imports w)
    x = tape.var_mean(w)[1]
    out = x.clone()
    assert tape.autograd.grad(out.sum(), x)[0].item() == 1.0
    edge = tape.autograd.graph.get_gradient_edge(x)
    assert tape.autograd.grad(out.sum(), edge)[0].item() == 1.0
    assert tape.autograd.grad(out.sum(), w)[0].tolist() == [0.5, 0.5]


def test_div_with_rounding_mode_none_given():
    # PyTorch's overload with a rounding mode: DivBackward2, showing it (None); the same quotient.
    a = tape.tensor([3.0], requires_grad=True)
    b = tape.tensor([2.0], requires_grad=True)
    for out in (tape.div(a, 2.0, rounding_mode=None), tape.div(a, b, rounding_mode=None),
                a.divide(b, rounding_mode=None), a.clone().div_(b, rounding_mode=None),
                tape.div(a.double().sum(), 2.0, rounding_mode=None)):
        assert out.grad_fn.name() == "DivBackward2"
        assert out.grad_fn._saved_rounding_mode is None
        assert sorted(n for n in dir(out.grad_fn) if n.startswith("_saved")) == [
            "_saved_other", "_saved_rounding_mode", "_saved_self"]
    assert tape.div(a, 2.0, rounding_mode=None).grad_fn._saved_other.dtype == tape.float64
    for out in (a / b, tape.div(a, b), a.clone().div_(2.0), tape.div(a, 2)):
        assert out.grad_fn.name() == "DivBackward0"
        assert not hasattr(out.grad_fn, "_saved_rounding_mode")
    out = tape.div(a, b, rounding_mode=None)
    out.backward()
    assert a.grad.tolist() == [0.5] and b.grad.tolist() == [-0.75]


def test_a_saved_input_is_the_tensor_itself_and_a_saved_output_shares_its_version():
    # (PyTorch's SavedVariable: the input object; an output as a new tensor on its storage)
    a = tape.randn(5, requires_grad=True)
    b = a * a
    c = a * b
    d = tape.exp(a)
    assert c.grad_fn._saved_self is a and c.grad_fn._saved_other is b
    assert c.grad_fn._raw_saved_other.data is b
    r = d.grad_fn._saved_result
    assert r is not d and r.grad_fn is not None and r.grad_fn.name() == "ExpBackward0"
    assert r.tolist() == d.tolist() and r._version == d._version
    with tape.no_grad():
        d += 1
    assert r.tolist() == d.tolist() and r._version == d._version
    e = tape.exp(b)
    assert e.grad_fn._saved_result is not e and e.grad_fn._saved_result.tolist() == e.tolist()


def test_detaching_a_saved_non_leaf_in_place_refuses_its_backward():
    msg = ("Trying to use a saved tensor that has been detached in-place, i.e. with .detach_().This is not "
           "supported, please use out-of-place `.detach()` instead")
    a = tape.tensor(1.0, requires_grad=True).clone()
    b = a.sin()                     # (saves a)
    a.detach_()
    with pytest.raises(RuntimeError) as info:
        b.backward()
    assert str(info.value) == msg
    a = tape.tensor(1.0, requires_grad=True).clone()
    b = a.exp()                     # (saves its result only)
    a.detach_()
    b.backward()
    x = tape.tensor(1.0, requires_grad=True)
    b = x.exp()
    c = b * b                       # (saves b)
    b.detach_()
    with pytest.raises(RuntimeError, match="detached in-place"):
        c.backward()
