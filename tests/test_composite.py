"""Ops PyTorch composes from others (``ops/composite.py``) and the comparison aliases: values,
dtypes, grad_fn names and next_functions, gradients and errors as PyTorch's."""
import pytest

import tape


def _facts(torch) -> list:
    out = []

    def r(name, f, grad=True):
        x = torch.tensor([[1., 2., 4.], [3., -1., 0.5]], requires_grad=True)
        v = torch.tensor([1., 5., 2.], requires_grad=True)
        try:
            y = f(x, v)
            if not isinstance(y, torch.Tensor):
                out.append([name, repr(y)])
                return
            s = [name, repr(y.detach().tolist()), str(y.dtype), y.grad_fn.name() if y.grad_fn else None,
                 [n.name() if n else None for n, _ in y.grad_fn.next_functions] if y.grad_fn else None]
            if grad and y.requires_grad:
                (y.float() * torch.arange(y.numel()).reshape(y.shape).float()).sum().backward()
                s.append([None if t.grad is None else t.grad.tolist() for t in (x, v)])
            out.append(s)
        except Exception as e:      # noqa: BLE001 (the error is what is compared)
            out.append([name, type(e).__name__, str(e)])

    r("pos_bool", lambda x,v: torch.positive(torch.tensor([True])))
    r("pos", lambda x,v: torch.positive(x*1))
    r("pos_leaf", lambda x,v: torch.positive(x) is x)
    r("abs", lambda x,v: torch.absolute(x))
    r("abs_m", lambda x,v: (x*1).absolute_())
    r("diff0d", lambda x,v: torch.diff(torch.tensor(1.)))
    r("diffneg", lambda x,v: torch.diff(x, n=-1))
    r("diffn0", lambda x,v: torch.diff(x, n=0))
    r("diffn5", lambda x,v: torch.diff(x, n=5))
    r("diff", lambda x,v: torch.diff(x))
    r("diff2", lambda x,v: x.diff(2))
    r("diffd0", lambda x,v: x.diff(dim=0))
    r("diffbool", lambda x,v: torch.diff(torch.tensor([True,False,True])))
    r("diffint", lambda x,v: torch.diff(torch.tensor([1,5,2])))
    r("diffapp", lambda x,v: torch.diff(x, dim=0, append=torch.ones(1,3)))
    r("diffappbad", lambda x,v: torch.diff(x, dim=0, append=torch.ones(3)))
    r("diffpre", lambda x,v: torch.diff(x, prepend=torch.ones(2,1,dtype=torch.float64)))
    r("diffprev", lambda x,v: torch.diff(v, prepend=v, append=v*2))
    r("diagflat", lambda x,v: torch.diagflat(v))
    r("diagflat2", lambda x,v: torch.diagflat(x, -1))
    r("diagflat0", lambda x,v: torch.diagflat(torch.tensor(2., requires_grad=True)))
    r("sts3", lambda x,v: x.sum_to_size(3))
    r("sts21", lambda x,v: x.sum_to_size(2,1))
    r("sts13", lambda x,v: x.sum_to_size((1,3)))
    r("sts_bad", lambda x,v: x.sum_to_size(4,2,3))
    r("sts_bad2", lambda x,v: x.sum_to_size(3,3))
    r("sts_same", lambda x,v: x.sum_to_size(2,3) is x)
    r("signbit", lambda x,v: torch.signbit(torch.tensor([-0.0, 1., -2.])))
    r("signbit_i", lambda x,v: torch.signbit(torch.tensor([-1, 2])))
    r("signbit_b", lambda x,v: torch.signbit(torch.tensor([True])))
    r("msort", lambda x,v: torch.msort(x))
    r("msortv", lambda x,v: v.msort())
    r("less", lambda x,v: (torch.less(x,2), x.greater(1), torch.not_equal(x,x), x.less_equal(2), torch.greater_equal(v,2)))
    return out


def test_diff_and_sum_to_size():
    x = tape.tensor([1.0, 4.0, 9.0, 16.0], requires_grad=True)
    d = x.diff(n=2)
    assert d.tolist() == [2.0, 2.0] and d.grad_fn.name() == "SubBackward0"
    d.sum().backward()
    assert x.grad.tolist() == [1.0, -1.0, -1.0, 1.0]
    with pytest.raises(RuntimeError, match="order must be non-negative but got -1"):
        x.diff(-1)
    m = tape.ones(2, 3, requires_grad=True)
    assert m.sum_to_size(1, 3).tolist() == [[2.0, 2.0, 2.0]]
    with pytest.raises(RuntimeError, match=r"size \{\[3, 3\]\} is not expandable to size \{\[2, 3\]\}\."):
        m.sum_to_size(3, 3)


def test_aliases():
    x = tape.tensor([1.0, -2.0])
    assert tape.less(x, 0).tolist() == [False, True] and x.greater_equal(1).tolist() == [True, False]
    assert tape.absolute(x).tolist() == [1.0, 2.0] and tape.positive(x) is x
    assert tape.signbit(tape.tensor([-0.0, 0.0])).tolist() == [True, False]
    with pytest.raises(RuntimeError, match="The `\\+` operator, on a bool tensor is not supported."):
        tape.positive(tape.tensor([True]))


@pytest.mark.torch
def test_matches_torch():
    torch = pytest.importorskip("torch")
    assert _facts(tape) == _facts(torch)
