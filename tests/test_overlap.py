"""In-place ops whose operand shares memory with the written tensor: PyTorch refuses a partial overlap
(some elements the same memory, some not) when both layouts have no gaps or repeats, and allows the
same tensor, or the same elements with the same strides (``x.add_(x.detach())``).  Its check comes
after autograd's (a leaf that requires grad) and before shape errors."""
import pytest

import tape

PARTIAL = ("unsupported operation: some elements of the input tensor and the written-to tensor refer to a single "
           "memory location. Please clone() the tensor before performing the operation.")


def _square(L):
    return L.arange(9.0).reshape(3, 3)


def _line(L):
    return L.arange(6.0)


def _ints(L):
    return L.arange(6)


def _idx(L):
    return L.tensor([0, 1])


# name: (make the tensor, the in-place op on it, whether PyTorch refuses: True, False, or RACY: allowed
# though the memory overlaps, when PyTorch's values depend on the order it visits the elements in)
RACY = "racy"
CASES = {
    "mul_transpose": (_square, lambda L, b: b.mul_(b.t()), True),
    "mul_itself": (_square, lambda L, b: b.mul_(b), False),
    "add_row": (_square, lambda L, b: b.add_(b[0]), True),
    "add_column_with_gaps": (_square, lambda L, b: b.add_(b[:, :1]), RACY),
    "copy_transpose": (_square, lambda L, b: b.copy_(b.t()), True),
    "copy_itself": (_square, lambda L, b: b.copy_(b), False),
    "transpose_add": (_square, lambda L, b: b.t().add_(b), True),
    "row_add_column": (_square, lambda L, b: b[0].add_(b[:, 0]), RACY),
    "shifted": (_line, lambda L, x: x[1:].add_(x[:-1]), True),
    "disjoint": (_line, lambda L, x: x[3:].add_(x[:3]), False),
    "same_view_twice": (_line, lambda L, x: x[:2].add_(x[:2]), False),
    "interleaved": (_line, lambda L, x: x[::2].add_(x[1::2]), False),
    "detached": (_line, lambda L, x: x.add_(x.detach()), False),
    "flipped_copy": (_line, lambda L, x: x.add_(x.flip(0)), False),
    "view_other_shape": (_line, lambda L, x: x.add_(x.view(2, 3)), True),      # (before the shape error)
    "views_same_shape": (_line, lambda L, x: x.view(2, 3).add_(x.view(2, 3)), False),
    "unsqueezed": (_line, lambda L, x: x.unsqueeze(0).add_(x), True),
    "shape_and_overlap": (_line, lambda L, x: x[1:].add_(x[:-2]), True),
    "element": (_line, lambda L, x: x.add_(x[0]), True),
    "expand_row": (_line, lambda L, x: x.mul_(x.expand(2, 6)[0]), False),
    "sub_": (_line, lambda L, x: x[1:].sub_(x[:-1], alpha=2), True),
    "div_": (_line, lambda L, x: x[1:].div_(x[:-1]), True),
    "iadd": (_line, lambda L, x: x[1:].__iadd__(x[:-1]), True),
    "isub": (_line, lambda L, x: x[1:].__isub__(x[:-1]), True),
    "imul": (_line, lambda L, x: x[1:].__imul__(x[:-1]), True),
    "itruediv": (_line, lambda L, x: x[1:].__itruediv__(x[:-1]), True),
    "addcmul_": (_line, lambda L, x: x[1:].addcmul_(x[:-1], x[:-1]), True),
    "clamp_min_keyword": (_line, lambda L, x: x[1:].clamp_(min=x[:-1]), True),
    "lerp_weight": (_line, lambda L, x: x[1:].lerp_(L.ones(5), x[:-1]), True),
    "pow_": (_line, lambda L, x: x[1:].pow_(x[:-1]), True),
    "eq_": (_line, lambda L, x: x[1:].eq_(x[:-1]), True),
    "bitwise_and_": (_ints, lambda L, x: x[1:].bitwise_and_(x[:-1]), True),
    "float_power_": (lambda L: L.arange(6.0, dtype=L.float64), lambda L, x: x[1:].float_power_(x[:-1]), True),
    "setitem": (_line, lambda L, x: x.__setitem__(slice(1, None), x[:-1]), True),
    "setitem_same": (_line, lambda L, x: x.__setitem__(slice(0, 2), x[0:2]), False),
    "setitem_whole": (_line, lambda L, x: x.__setitem__(slice(None), x), False),
    "setitem_fill_0d": (_line, lambda L, x: x.__setitem__(Ellipsis, x[0]), False),
    "setitem_index": (_line, lambda L, x: x.__setitem__(_idx(L), x[1:3]), True),
    "scatter_": (_line, lambda L, x: x[1:].scatter_(0, _idx(L), x[:-1]), True),
    "scatter_add_": (_line, lambda L, x: x[1:].scatter_add_(0, _idx(L), x[:-1]), True),
    "scatter_reduce_": (_line, lambda L, x: x[1:].scatter_reduce_(0, _idx(L), x[:-1], "sum"), True),
    "index_add_": (_line, lambda L, x: x[1:].index_add_(0, _idx(L), x[:2]), True),
    "index_copy_": (_line, lambda L, x: x[1:].index_copy_(0, _idx(L), x[:2]), True),
    "index_put_": (_line, lambda L, x: x[1:].index_put_((_idx(L),), x[:2]), True),
    "put_": (_line, lambda L, x: x[1:].put_(_idx(L), x[:2]), True),
    "masked_fill_": (_line, lambda L, x: x.masked_fill_(x > 2, x[0]), False),
    "index_fill_": (_line, lambda L, x: x[1:].index_fill_(0, _idx(L), x[0]), False),
    "masked_scatter_": (_line, lambda L, x: x[1:].masked_scatter_(x[1:] > 2, x[:-1]), RACY),
}


def _run(L, case, grad=False):
    make, op, _ = CASES[case]
    x = make(L)
    if grad:
        x = x.requires_grad_() * 1 if x.dtype.is_floating_point else x
    try:
        op(L, x)
    except RuntimeError as e:
        return str(e)
    return x.tolist()


@pytest.mark.parametrize("case", CASES)
def test_refused_as_pytorch(case):
    got = _run(tape, case)
    assert (got == PARTIAL) == (CASES[case][2] is True)
    assert _run(tape, case, grad=True) == got


@pytest.mark.torch
@pytest.mark.parametrize("case", CASES)
def test_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    for grad in (False, True):
        mine, theirs = _run(tape, case, grad), _run(torch, case, grad)
        assert mine == theirs if CASES[case][2] is not RACY else (mine == PARTIAL) == (theirs == PARTIAL)


def test_leaf_error_comes_first():
    a = tape.arange(4.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        a.add_(a[0])


def test_refused_before_anything_changes():
    x = tape.arange(4.0)
    with pytest.raises(RuntimeError, match="some elements of the input tensor and the written-to tensor"):
        x[1:].add_(x[:-1])
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0] and x._version == 0
