"""Item assignment records what PyTorch's ``set_item`` records: ``copy_``/``fill_`` into the tensor
itself when the basic index takes every element (``CopyBackwards``, ``FillBackward3``), into a view
otherwise (``CopySlices``), the value without its leading ones (``ViewBackward0``) and expanded
(``ExpandBackward0``); ``index_put_`` for index tensors, on the view of the basic index around them."""
import numpy as np
import pytest

import tape


def _chain(fn) -> str:
    """The graph below ``fn`` as nested node names."""
    if fn is None:
        return "None"
    below = ", ".join(_chain(f) for f, _ in fn.next_functions)
    return type(fn).__name__ + (f"({below})" if below else "")


def _run(L, case):
    """Run ``case`` with library ``L``: the value, the graph and the leaves' gradients, or the error."""
    a = L.zeros(2, 3, requires_grad=True)
    x = a.clone()
    try:
        value = CASES[case][0](L, x)
    except (RuntimeError, IndexError) as e:
        return type(e).__name__, str(e)
    leaves = [a] + [v for v in (value if isinstance(value, tuple) else (value,)) if isinstance(v, L.Tensor)]
    graph = _chain(x.grad_fn)
    (x * L.arange(1.0, 7.0).view(2, 3)).sum().backward()
    return (x.detach().numpy().tolist(), graph, x._version,
            [None if t.grad is None else t.grad.numpy().tolist() for t in leaves])


def _set(index, make):
    def case(L, x):
        value = make(L)
        x[index(L) if callable(index) else index] = value
        return value
    return case


def _rg(shape, dtype="float32"):
    return lambda L: (L.arange(float(np.prod(shape))) + 1).reshape(shape).to(getattr(L, dtype)).requires_grad_()


CASES = {
    # name: (case, the graph expected)
    "whole_tensor": (_set(slice(None), _rg((2, 3))), "CopyBackwards(CloneBackward0(AccumulateGrad), AccumulateGrad)"),
    "ellipsis_tensor": (_set(Ellipsis, _rg((2, 3))), "CopyBackwards(CloneBackward0(AccumulateGrad), AccumulateGrad)"),
    "whole_broadcast": (_set(slice(None), _rg((3,))),
                        "CopyBackwards(CloneBackward0(AccumulateGrad), ExpandBackward0(ViewBackward0(AccumulateGrad)))"),
    "whole_leading_ones": (_set(slice(None), _rg((1, 2, 3))),
                           "CopyBackwards(CloneBackward0(AccumulateGrad), ViewBackward0(AccumulateGrad))"),
    "whole_ones": (_set(slice(None), _rg((1, 1))),
                   "CopyBackwards(CloneBackward0(AccumulateGrad), ExpandBackward0(ViewBackward0(AccumulateGrad)))"),
    "whole_float64": (_set(slice(None), _rg((2, 3), "float64")),
                      "CopyBackwards(CloneBackward0(AccumulateGrad), AccumulateGrad)"),
    "whole_0d": (_set(slice(None), _rg(())), "FillBackward3(CloneBackward0(AccumulateGrad), AccumulateGrad)"),
    "whole_0d_float64": (_set(Ellipsis, _rg((), "float64")),
                         "FillBackward3(CloneBackward0(AccumulateGrad), AccumulateGrad)"),
    "whole_number": (_set(slice(None), lambda L: 2.5), "FillBackward3(CloneBackward0(AccumulateGrad), None)"),
    "whole_constant": (_set(Ellipsis, lambda L: L.ones(2, 3)), "CopyBackwards(CloneBackward0(AccumulateGrad), None)"),
    "empty_tuple": (_set((), lambda L: 3), "FillBackward3(CloneBackward0(AccumulateGrad), None)"),
    "slices_to_the_end": (_set((slice(0, 5), slice(None, None, 1)), _rg((3,))),
                          "CopyBackwards(CloneBackward0(AccumulateGrad), ExpandBackward0(ViewBackward0(AccumulateGrad)))"),
    "negative_start": (_set(slice(-2, None), _rg((3,))),
                       "CopySlices(CloneBackward0(AccumulateGrad), ExpandBackward0(ViewBackward0(AccumulateGrad)))"),
    "ellipsis_slice": (_set((Ellipsis, slice(1, 3)), _rg((2,))),
                       "CopySlices(CloneBackward0(AccumulateGrad), ExpandBackward0(ViewBackward0(AccumulateGrad)))"),
    "int": (_set(0, _rg((3,))), "CopySlices(CloneBackward0(AccumulateGrad), AccumulateGrad)"),
    "int_0d": (_set(1, _rg(())), "CopySlices(CloneBackward0(AccumulateGrad), AccumulateGrad)"),
    "int_number": (_set(1, lambda L: 2), "CopySlices(CloneBackward0(AccumulateGrad), None)"),
    "int_leading_one": (_set(0, _rg((1, 3))), "CopySlices(CloneBackward0(AccumulateGrad), ViewBackward0(AccumulateGrad))"),
    "column": (_set((slice(None), 1), _rg((2,))), "CopySlices(CloneBackward0(AccumulateGrad), AccumulateGrad)"),
    "none": (_set(None, _rg((3,))),
             "CopySlices(CloneBackward0(AccumulateGrad), ExpandBackward0(ViewBackward0(AccumulateGrad)))"),
    "index": (_set(lambda L: L.tensor([1, 0]), _rg((2, 3))),
              "IndexPutBackward0(CloneBackward0(AccumulateGrad), AccumulateGrad)"),
    "index_leading_one": (_set(lambda L: L.tensor([1, 0]), _rg((1, 3))),
                          "IndexPutBackward0(CloneBackward0(AccumulateGrad), ViewBackward0(AccumulateGrad))"),
    "index_number": (_set(lambda L: L.tensor([1]), lambda L: 2.0),
                     "IndexPutBackward0(CloneBackward0(AccumulateGrad), None)"),
    "index_slice": (_set(lambda L: (L.tensor([1, 0]), slice(1, None)), _rg((1, 2))),
                    "CopySlices(CloneBackward0(AccumulateGrad), ViewBackward0(AccumulateGrad))"),
    "index_whole_slice": (_set(lambda L: (L.tensor([1, 0]), slice(None)), _rg((1, 2, 3))),
                          "IndexPutBackward0(CloneBackward0(AccumulateGrad), ViewBackward0(AccumulateGrad))"),
    "int_mask": (_set(lambda L: (0, L.tensor([True, False, True])), lambda L: 3.0),
                 "CopySlices(CloneBackward0(AccumulateGrad), None)"),
    "int_list": (_set((1, [0, 2]), _rg((2,))), "CopySlices(CloneBackward0(AccumulateGrad), AccumulateGrad)"),
    "ellipsis_list": (_set((Ellipsis, [0, 2]), _rg((2,))),
                      "IndexPutBackward0(CloneBackward0(AccumulateGrad), AccumulateGrad)"),
    "none_index": (_set(lambda L: (None, L.tensor([1])), _rg((3,))),
                   "CopySlices(CloneBackward0(AccumulateGrad), AccumulateGrad)"),
    "index_float64": (_set(lambda L: L.tensor([1]), _rg((3,), "float64")), None),
    "index_int_0d": (_set(lambda L: L.tensor([1]), lambda L: L.tensor(2)), None),
    "index_bad_shape": (_set(lambda L: (L.tensor([1, 0]), slice(1, None)), _rg((3,))), None),
    "whole_bad_shape": (_set(slice(None), _rg((4,))), None),
    "int_bad_rank": (_set(0, _rg((2, 3))), None),
}


@pytest.mark.parametrize("case", CASES)
def test_graph(case):
    expected = CASES[case][1]
    got = _run(tape, case)
    if expected is None:
        assert got[0] in ("RuntimeError", "IndexError")
    else:
        assert got[1] == expected


@pytest.mark.torch
@pytest.mark.parametrize("case", CASES)
def test_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    assert _run(tape, case) == _run(torch, case)


def test_values_and_gradients():
    # x[idx, 1:] = v: index_put_ on the slice view (CopySlices); v broadcast, its gradient summed
    a = tape.zeros(2, 3, requires_grad=True)
    x = a.clone()
    v = tape.tensor([[1.0, 2.0]], requires_grad=True)
    x[tape.tensor([1, 0]), 1:] = v
    assert x.tolist() == [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]
    (x * tape.arange(6.0).view(2, 3)).sum().backward()
    assert v.grad.tolist() == [[5.0, 7.0]]
    assert a.grad.tolist() == [[0.0, 0.0, 0.0], [3.0, 0.0, 0.0]]


def test_index_put_needs_the_same_dtype_unrecorded_too():
    x = tape.zeros(2, 3, dtype=tape.float64)
    with pytest.raises(RuntimeError, match="Index put requires the source and destination dtypes match, got "
                                           "Double for the destination and Long for the source."):
        x[tape.tensor([1])] = tape.tensor(2)
    x[tape.tensor([1])] = 2         # (a number takes the tensor's dtype)
    assert x.tolist() == [[0.0] * 3, [2.0] * 3]


def test_fill_with_a_tensor():
    x = tape.zeros(2, 3, requires_grad=True).clone()
    v = tape.tensor(5.0, dtype=tape.float64, requires_grad=True)
    x.fill_(v)
    assert _chain(x.grad_fn) == "FillBackward3(CloneBackward0(AccumulateGrad), AccumulateGrad)"
    assert x.grad_fn.name() == "FillBackward3"
    x.sum().backward()
    assert v.grad.item() == 6.0 and v.grad.dtype == tape.float64
    y = tape.zeros(2, 3, requires_grad=True).clone()
    y[0].fill_(v)
    assert _chain(y.grad_fn) == "CopySlices(CloneBackward0(AccumulateGrad), AccumulateGrad)"
    with pytest.raises(RuntimeError, match="fill_ only supports 0-dimension value tensor but got tensor with 1 "
                                           "dimensions."):
        tape.zeros(2).fill_(tape.ones(1))


# Unrecorded item assignment: PyTorch's errors for a value that does not fit (the same as recorded).
UNRECORDED = {
    "whole_bad_shape": lambda L: L.zeros(3, 2, 3, dtype=L.float64).__setitem__(Ellipsis, L.tensor([0.25, -0.5],
                                                                                                    dtype=L.float64)),
    "into_0d": lambda L: L.tensor(1.0).__setitem__(Ellipsis, L.tensor([-1.5, -2.0])),
    "into_0d_float64": lambda L: L.tensor(1.0, dtype=L.float64).__setitem__(Ellipsis, L.tensor([1.5, -1.0],
                                                                                               dtype=L.float64)),
    "into_0d_one": lambda L: L.tensor(1.0).__setitem__(Ellipsis, L.tensor([-1.5])),
    "int_bad_rank": lambda L: L.zeros(2).__setitem__(0, L.tensor([-1.5, 2.0])),
    "leading_ones": lambda L: L.zeros(2, 3).__setitem__(0, L.ones(1, 1, 3)),
    "index_bad_shape": lambda L: L.zeros(2, 3).__setitem__((L.tensor([1, 0]), slice(1, None)), L.ones(3)),
}


def _unrecorded(L, case):
    try:
        UNRECORDED[case](L)
    except RuntimeError as e:
        return str(e)
    return None


@pytest.mark.torch
@pytest.mark.parametrize("case", UNRECORDED)
def test_unrecorded_errors_match_pytorch(case):
    torch = pytest.importorskip("torch")
    assert _unrecorded(tape, case) == _unrecorded(torch, case)


def test_unrecorded_error():
    assert _unrecorded(tape, "into_0d_float64") == (
        "expand(torch.DoubleTensor{[2]}, size=[]): the number of sizes provided (0) must be greater or equal to the "
        "number of dimensions in the tensor (1)")
    x = tape.zeros(2, 3)
    x[0] = tape.ones(1, 1, 3)
    assert x.tolist() == [[1.0] * 3, [0.0] * 3]


BAD_INDEX = [(slice(None),) * 3, (Ellipsis, slice(None), slice(None)), (slice(None), 5),
             (slice(None), slice(None), Ellipsis, slice(None))]


def _bad_index(L, index, recorded):
    x = L.zeros(2, 3, requires_grad=True).clone() if recorded else L.zeros(2, 3)
    try:
        x[index] = 1.0
    except IndexError as e:
        return str(e), x._version
    return type(x.grad_fn).__name__, x._version


@pytest.mark.torch
@pytest.mark.parametrize("recorded", [False, True])
@pytest.mark.parametrize("index", BAD_INDEX, ids=str)
def test_index_errors_match_pytorch(index, recorded):
    torch = pytest.importorskip("torch")
    assert _bad_index(tape, index, recorded) == _bad_index(torch, index, recorded)


def test_too_many_indices():
    assert _bad_index(tape, (slice(None),) * 3, True) == ("too many indices for tensor of dimension 2", 0)
    assert _bad_index(tape, (Ellipsis, slice(None), slice(None)), True) == ("FillBackward3", 1)
    assert _bad_index(tape, (slice(None), slice(None), Ellipsis, slice(None)), True)[0].startswith("too many")
