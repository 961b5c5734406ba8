"""Shape, layout, joining and splitting ops (``ops/layout.py``, ``ops/split.py``) without PyTorch:
the compiled faces of the SPLIT rows, node names and layouts as fixed expectations (checked against
PyTorch in ``tests/test_shape_vs_torch.py``), and the rows each op records."""
from __future__ import annotations

import numpy as np
import pytest

import tape
from tape.ops import join as J
from tape.ops import shape as S
from tape.ops._spec import OUTPUT


def _f(*shape, dtype=tape.float64):
    return tape.tensor(np.random.default_rng(3).normal(size=shape), dtype=dtype, requires_grad=True)


@pytest.mark.parametrize("dtype", [tape.float64, tape.float32])
@pytest.mark.parametrize("make", [
    lambda x: x.split(2, 1),
    lambda x: x.split([1, 0, 3], -1),
    lambda x: x.chunk(2, 0),
    lambda x: x.mT.split(3, 0),
])
def test_split_forward_kernel_matches_numpy(make, dtype):
    parts = make(_f(2, 4, dtype=dtype) * 1.0)
    t = parts[0]._tape
    r = int(t.a[parts[0]._node])
    assert int(t.op[r]) in (J.SPLIT, J.SPLIT_SIZES) and all(int(t.op[p._node]) == OUTPUT for p in parts)
    arena = t.v64 if t.dt[r] == 0 else t.v32
    expected = arena.copy()
    arena[t.off[r]:t.off[r] + t.num[r]] = np.nan     # the kernel must write every element
    assert J.join_forward(int(t.op[r]), t.R, t.ix, t.stab, arena, r)
    np.testing.assert_array_equal(arena, expected)


def test_split_adjoint_sends_each_part_back_and_zeros_for_unused_parts():
    x = _f(3, 5)
    a, _, c = x.split(2, 1)         # columns 0-1, 2-3 (unused), 4
    (a * 2.0).sum().add((c * 3.0).sum()).backward()
    want = np.zeros((3, 5))
    want[:, :2] = 2.0
    want[:, 4] = 3.0
    np.testing.assert_array_equal(x.grad.numpy(), want)


NAMES = [
    (lambda x: x.permute(2, 0, 1), "PermuteBackward0"),
    (lambda x: x.movedim(0, 2), "PermuteBackward0"),
    (lambda x: x[0].T, "PermuteBackward0"),
    (lambda x: x.mT, "TransposeBackward0"),
    (lambda x: x[0].H, "TransposeBackward0"),
    (lambda x: x.swapaxes(0, 1), "TransposeBackward0"),
    (lambda x: x.flip(0), "FlipBackward0"),
    (lambda x: x.fliplr(), "FlipBackward0"),
    (lambda x: x.roll(1), "RollBackward0"),
    (lambda x: x.narrow(2, 1, 2), "SliceBackward0"),
    (lambda x: x.diagonal(), "DiagonalBackward0"),
    (lambda x: x[0].diag(), "DiagonalBackward0_copy"),
    (lambda x: x[0, 0].diag(), "DiagEmbedBackward0"),
    (lambda x: x.diag_embed(), "DiagEmbedBackward0"),
    (lambda x: x.tril(), "TrilBackward0"),
    (lambda x: x.triu(1), "TriuBackward0"),
    (lambda x: x.repeat(1, 2, 1), "RepeatBackward0"),
    (lambda x: x.tile(2), "RepeatBackward0"),
    (lambda x: x.repeat_interleave(2), "ViewBackward0"),
    (lambda x: x.repeat_interleave(tape.tensor([1, 2]), dim=0), "IndexSelectBackward0"),
    (lambda x: x.unfold(1, 2, 1), "UnfoldBackward0"),
    (lambda x: x.split(2, 2)[1], "SplitBackward0"),
    (lambda x: x.chunk(2, 2)[0], "SplitBackward0"),
    (lambda x: x.split([1, 3], 2)[0], "SplitWithSizesBackward0"),
    (lambda x: x.tensor_split(2, 2)[0], "SliceBackward0"),
    (lambda x: tape.hstack([x, x]), "CatBackward0"),
    (lambda x: x.unflatten(2, (2, 2)), "ViewBackward0"),
    (lambda x: x.broadcast_to(2, 2, 3, 4), "ExpandBackward0"),
]


@pytest.mark.parametrize("case", range(len(NAMES)))
def test_node_names(case):
    make, name = NAMES[case]
    assert type(make(_f(2, 3, 4)).grad_fn).__name__ == name


def test_views_keep_torch_strides_recorded_or_not():
    for rg in (False, True):
        x = tape.ones(2, 3, 4, requires_grad=rg) * 1.0
        assert x.permute(2, 0, 1).stride() == (1, 12, 4)
        assert x.narrow(2, 1, 2).stride() == (12, 4, 1) and not x.narrow(2, 1, 2).is_contiguous()
        assert x.diagonal(0, 1, 2).stride() == (12, 5)
        assert x.unfold(2, 2, 1).stride() == (12, 4, 1, 1)
        assert [p.stride() for p in x.split(3, 2)] == [(12, 4, 1), (12, 4, 1)]
        # an expanded tensor keeps its zero stride through a permute
        assert x[0].expand(2, 3, 4).permute(2, 0, 1).stride() == (1, 0, 4)
        assert x.flip(0).is_contiguous() and x.roll(1).is_contiguous()


def test_one_layout_row_per_op_and_a_scatter_for_its_derivative():
    x = _f(3, 4)
    y = x.permute(1, 0)
    t = y._tape
    assert int(t.op[y._node]) == S.LAYOUT
    g, = tape.autograd.grad((y * y).sum(), x, create_graph=True)
    assert type(g.grad_fn).__name__ in ("IndexPutBackward0", "AddBackward0", "MulBackward0")
    h, = tape.autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(h.numpy(), np.full((3, 4), 2.0))


def test_repeat_interleave_with_a_tensor_saves_it():
    x = _f(3, 2)
    y = x.repeat_interleave(tape.tensor([2, 0, 1]), dim=0).sum()
    y.backward(retain_graph=True)
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[4.0, 4.0], [0.0, 0.0], [2.0, 2.0]])
