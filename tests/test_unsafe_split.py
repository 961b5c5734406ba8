"""``unsafe_split``, ``unsafe_chunk``, ``unsafe_split_with_sizes``: split's parts, which share the
input's memory but are not views in autograd's sense (no base, a version counter of their own,
changed in place where split's parts raise); PyTorch's nodes and errors."""
import pytest

import tape


def test_parts_share_memory_but_may_change_in_place():
    x = tape.arange(6.0).requires_grad_()
    y = x * 1
    a = tape.unsafe_split(y, 4)
    assert [t.tolist() for t in a] == [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0]]
    assert all(t._base is None for t in a) and type(a[0].grad_fn).__name__ == "UnsafeSplitBackward0"
    a[0].mul_(2)        # (split's parts raise: "Output 0 of Split is a view ...")
    assert type(a[0].grad_fn).__name__ == "MulBackward0"
    assert y.tolist() == [0.0, 2.0, 4.0, 6.0, 4.0, 5.0] and y._version == 0 and a[0]._version == 1
    q = (x * 1).unsafe_split(2)
    q[0].add_(1)
    assert q[0].grad_fn.next_functions[0][0].name() == "UnsafeSplitBackward0"
    q[0].sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    # Without grad: plain tensors over the input's memory, with their own versions.
    z = tape.arange(4.0)
    p = tape.unsafe_split(z, 2)
    p[0].add_(1)
    assert z.tolist() == [1.0, 2.0, 2.0, 3.0] and (p[0]._version, z._version, p[1]._version) == (1, 0, 0)
    assert p[0]._base is None


def test_gradients_and_saved_values():
    x = tape.arange(6.0).requires_grad_()
    y = x * 2
    b = y.unsafe_chunk(3)
    assert [t.tolist() for t in b] == [[0.0, 2.0], [4.0, 6.0], [8.0, 10.0]]
    (b[1] * b[2]).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 16.0, 20.0, 8.0, 12.0]
    node = y.unsafe_chunk(2)[0].grad_fn
    assert (node._saved_split_size, node._saved_dim, node._saved_self_sym_sizes) == (3, 0, (6,))
    c = tape.unsafe_split_with_sizes(y, [2, 4])
    assert c[0].grad_fn.name() == "UnsafeSplitWithSizesBackward0" and c[0].grad_fn._saved_split_sizes == (2, 4)
    # The input changed in place afterwards: the parts' node saved nothing, its gradient holds.
    x.grad = None
    k = x * 1
    m = k.unsafe_split(3)
    k.mul_(2)
    m[0].sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0] and m[0].tolist() == [0.0, 2.0, 4.0]


def test_arguments_as_pytorch_takes_them():
    y = tape.arange(6.0) * 1
    assert [t.tolist() for t in y.unsafe_split(split_size=2, dim=-1)] == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    assert len(tape.unsafe_split(input=y, split_size=4)) == 2
    assert len(tape.unsafe_chunk(input=y, chunks=2)) == len(y.unsafe_chunk(chunks=2, dim=0)) == 2
    assert len(tape.unsafe_split(y, tape.tensor(2))) == 3
    assert [tuple(t.shape) for t in tape.unsafe_chunk(tape.zeros(2, 3), 4, 1)] == [(2, 1)] * 3
    assert [tuple(t.shape) for t in tape.unsafe_chunk(tape.zeros(0, 3), 2)] == [(0, 3)] * 2


@pytest.mark.parametrize("call, kind, error", [
    (lambda y: y.unsafe_split([1, 5]), TypeError, r"unsafe_split\(\): argument 'split_size' \(position 1\) must be "
                                                  "int, not list"),
    (lambda y: tape.unsafe_split(y, 1.5), TypeError, r"unsafe_split\(\): argument 'split_size' \(position 2\) must be "
                                                     "int, not float"),
    (lambda y: tape.unsafe_chunk(y, [2]), TypeError, r"unsafe_chunk\(\): argument 'chunks' \(position 2\) must be int, "
                                                     "not list"),
    (lambda y: tape.unsafe_split_with_sizes(y, 2), TypeError, r"unsafe_split_with_sizes\(\): argument 'split_sizes' "
                                                              r"\(position 2\) must be tuple of ints, not int"),
    (lambda y: tape.unsafe_split([1], 1), TypeError, r"unsafe_split\(\): argument 'input' \(position 1\) must be "
                                                     "Tensor, not list"),
    (lambda y: tape.unsafe_split(tape.tensor(1.0), 1), RuntimeError, "split expects at least a 1-dimensional tensor"),
    (lambda y: tape.unsafe_chunk(tape.tensor(1.0), 1), RuntimeError, "chunk expects at least a 1-dimensional tensor"),
    (lambda y: tape.unsafe_split(y, -1), RuntimeError, "split expects split_size be non-negative, but got "
                                                       "split_size=-1"),
    (lambda y: tape.unsafe_split(y, 0), RuntimeError, "split_size can only be 0 if dimension size is 0, but got "
                                                      "dimension size of 6"),
    (lambda y: tape.unsafe_chunk(y, 0), RuntimeError, "chunk expects `chunks` to be greater than 0, got: 0"),
    (lambda y: tape.unsafe_split(y, 2, dim=1), IndexError, r"Dimension out of range \(expected to be in range of "
                                                           r"\[-1, 0\], but got 1\)"),
    (lambda y: tape.unsafe_split_with_sizes(y, [2, -1, 5]), RuntimeError, "split_with_sizes expects split_sizes have "
                                                                          r"only non-negative entries, but got "
                                                                          r"split_sizes=\[2, -1, 5\]"),
    (lambda y: tape.unsafe_split_with_sizes(y, [2, 2]), RuntimeError, "split_with_sizes expects split_sizes to sum "
                                                                      r"exactly to 6 \(input tensor's size at "
                                                                      r"dimension 0\), but got split_sizes=\[2, 2\]"),
])
def test_errors(call, kind, error):
    y = tape.arange(6.0).requires_grad_() * 2
    with pytest.raises(kind, match=error):
        call(y)


def _program(lib):
    out = []
    x = lib.arange(12.0, requires_grad=True)
    for make in (lambda h: h.unsafe_split(5), lambda h: lib.unsafe_chunk(h.reshape(3, 4), 3, 1),
                 lambda h: h.reshape(2, 6).unsafe_split_with_sizes([1, 1])):
        parts = make(x * 1)
        parts[0].mul_(3)
        loss = sum(((k + 1) * p * p).sum() for k, p in enumerate(parts))
        x.grad = None
        loss.backward()
        out.append(([p.tolist() for p in parts], [type(p.grad_fn).__name__ for p in parts], x.grad.tolist()))
    return out


@pytest.mark.torch
def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    assert _program(tape) == _program(torch)
