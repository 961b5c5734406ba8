"""``tape.nn``: ``Parameter``, ``Module`` and its machinery, the containers, layers and ``nn.init``
(torch-free; ``tests/test_nn_module_torch.py`` compares with PyTorch)."""
from __future__ import annotations

import copy
import pickle

import pytest

import tape
from tape import nn


# --- Tensor subclasses and Parameter -------------------------------------------------------------
class Sub(tape.Tensor):
    pass


def test_subclass_constructor_and_make_subclass():
    x = tape.ones(2, requires_grad=True)
    a = Sub(x)
    assert type(a) is Sub and a.grad_fn.name() == "AliasBackward0" and a.data_ptr() == x.data_ptr()
    assert type(Sub([1, 2])) is Sub and Sub([1, 2]).tolist() == [1.0, 2.0] and Sub(2, 3).shape == (2, 3)
    assert Sub().shape == (0,)
    m = tape.Tensor._make_subclass(Sub, x * 2, True)
    assert type(m) is Sub and m.is_leaf and m.requires_grad and m.tolist() == [2.0, 2.0]
    assert type(m * 2) is tape.Tensor
    with pytest.raises(TypeError, match="does not inherit from Tensor"):
        tape.Tensor._make_subclass(int, x)
    with pytest.raises(TypeError, match=r"argument 'data' \(position 2\) must be Tensor, not int"):
        tape.Tensor._make_subclass(Sub, 3)
    with pytest.raises(RuntimeError, match="Only Tensors of floating point and complex dtype"):
        tape.Tensor._make_subclass(Sub, tape.ones(2, dtype=tape.long), True)


def test_parameter_shares_storage_and_version():
    x = tape.ones(2, 3)
    p = nn.Parameter(x)
    assert isinstance(p, tape.Tensor) and type(p) is nn.Parameter
    assert p.is_leaf and p.requires_grad and p.grad_fn is None and p.data_ptr() == x.data_ptr()
    x.add_(1)
    assert p._version == 1 and p.tolist() == [[2.0] * 3] * 2
    for y in (p * 2, p.data, p.detach(), p.clone(), p[0], tape.exp(p), p.t(), p + x):
        assert type(y) is tape.Tensor
    (p * p).sum().backward()
    assert p.grad.tolist() == [[4.0] * 3] * 2 and type(p.grad) is tape.Tensor
    q = nn.Parameter(tape.ones(2, requires_grad=True) * 2)
    assert q.is_leaf and q.grad_fn is None
    assert nn.Parameter().shape == (0,) and nn.Parameter().requires_grad
    assert not nn.Parameter(x, requires_grad=False).requires_grad
    with pytest.raises(RuntimeError, match="Only Tensors of floating point"):
        nn.Parameter(tape.ones(2, dtype=tape.long))
    assert nn.Parameter(tape.ones(2, dtype=tape.long), requires_grad=False).dtype is tape.long
    s = nn.Parameter(tape.tensor(2.0))
    assert (s * s).item() == 4.0 and (tape.tensor(1.0) + s).item() == 3.0


def test_parameter_repr_copy_pickle():
    p = nn.Parameter(tape.ones(2, 2))
    assert repr(p) == "Parameter containing:\ntensor([[1., 1.],\n        [1., 1.]], requires_grad=True)"
    assert str(nn.Parameter(tape.ones(2), False)) == "Parameter containing:\ntensor([1., 1.])"
    d = copy.deepcopy(p)
    assert type(d) is nn.Parameter and d.requires_grad and d.data_ptr() != p.data_ptr() and d.tolist() == p.tolist()
    p.tag = "w"
    back = pickle.loads(pickle.dumps(p))
    assert type(back) is nn.Parameter and back.requires_grad and back.tolist() == p.tolist() and back.tag == "w"
    frozen = pickle.loads(pickle.dumps(nn.Parameter(tape.ones(1), requires_grad=False)))
    assert type(frozen) is nn.Parameter and not frozen.requires_grad


def test_parameter_of_another_subclass_and_buffer():
    with pytest.raises(RuntimeError, match="Creating a Parameter from an instance of type Sub requires that detach"):
        nn.Parameter(Sub([1.0]))
    x = tape.ones(2)
    b = nn.Buffer(x, persistent=False)
    assert type(b) is tape.Tensor and isinstance(b, nn.Buffer) and not isinstance(x, nn.Buffer)
    assert b.persistent is False and b.data_ptr() == x.data_ptr() and nn.Buffer().shape == (0,)
    assert not isinstance(x, nn.Parameter)
