"""Logical, bitwise and closeness ops, classification, truth reductions and nonzero positions.

These record nothing (their results are bool or integer tensors, or Python bools); each case
is run in tape and, for the tests marked ``torch``, in PyTorch, and compared: value, dtype,
shape, ``requires_grad``, or the exception's type and message.
"""
from __future__ import annotations

import numpy as np
import pytest

import tape

NAN, INF = float("nan"), float("inf")


def _f(M):
    return M.tensor([1.0, NAN, INF, -INF, 0.0])


def _i(M):
    return M.tensor([1, 0, 3, -2, 0])


def _b(M):
    return M.tensor([True, False, True, False, True])


def _u(M):
    return M.tensor([1, 2, 0, 255, 3], dtype=M.uint8)


TENSORS = {"f": _f, "i": _i, "b": _b, "u": _u}
OTHERS = {**TENSORS, "int": lambda M: 3, "bool": lambda M: True, "float": lambda M: 1.5,
          "int0d": lambda M: M.tensor(6), "bool0d": lambda M: M.tensor(True)}


def _cases() -> dict:
    cases = {}
    ops = {"and": lambda a, b: a & b, "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b}
    for nm, op in ops.items():
        for an, a in TENSORS.items():
            for bn, b in OTHERS.items():
                cases[f"{nm}_{an}_{bn}"] = lambda M, a=a, b=b, op=op: op(a(M), b(M))
                cases[f"r{nm}_{an}_{bn}"] = lambda M, a=a, b=b, op=op: op(b(M), a(M))
    for fn in ("bitwise_and", "bitwise_or", "bitwise_xor", "logical_and", "logical_or", "logical_xor"):
        for an, a in TENSORS.items():
            cases[f"{fn}_{an}"] = lambda M, a=a, fn=fn: getattr(M, fn)(a(M), _i(M))
            cases[f"{fn}_{an}_method"] = lambda M, a=a, fn=fn: getattr(a(M), fn)(_b(M))
            cases[f"{fn}_{an}_number"] = lambda M, a=a, fn=fn: getattr(M, fn)(a(M), 3)
            cases[f"{fn}_{an}_reflected"] = lambda M, a=a, fn=fn: getattr(M, fn)(3, a(M))
        cases[f"{fn}_broadcast"] = lambda M, fn=fn: getattr(M, fn)(M.tensor([1, 2]), M.tensor([[1], [3], [0]]))
        cases[f"{fn}_mismatch"] = lambda M, fn=fn: getattr(M, fn)(M.tensor([1, 2]), M.tensor([1, 2, 3]))
    for an, a in TENSORS.items():
        cases[f"invert_{an}"] = lambda M, a=a: ~a(M)
        cases[f"bitwise_not_{an}"] = lambda M, a=a: M.bitwise_not(a(M))
        cases[f"logical_not_{an}"] = lambda M, a=a: a(M).logical_not()
        for f in ("isnan", "isinf", "isposinf", "isneginf", "isfinite", "isreal"):
            cases[f"{f}_{an}"] = lambda M, a=a, f=f: getattr(M, f)(a(M))
            cases[f"{f}_{an}_method"] = lambda M, a=a, f=f: getattr(a(M).reshape(5, 1), f)()
        for f in ("all", "any", "count_nonzero"):
            cases[f"{f}_{an}"] = lambda M, a=a, f=f: getattr(M, f)(a(M))
            cases[f"{f}_{an}_dim"] = lambda M, a=a, f=f: getattr(a(M).reshape(1, 5), f)(dim=-1)
            cases[f"{f}_{an}_dims"] = lambda M, a=a, f=f: getattr(a(M).reshape(1, 5, 1), f)(dim=(0, 2))
            cases[f"{f}_{an}_repeated"] = lambda M, a=a, f=f: getattr(a(M).reshape(1, 5, 1), f)(dim=(0, -3))
            cases[f"{f}_{an}_out_of_range"] = lambda M, a=a, f=f: getattr(a(M).reshape(1, 5, 1), f)(3)
        for f in ("all", "any"):
            cases[f"{f}_{an}_keepdim"] = lambda M, a=a, f=f: getattr(a(M).reshape(1, 5), f)(1, keepdim=True)
            cases[f"{f}_{an}_dims_keepdim"] = lambda M, a=a, f=f: getattr(M, f)(a(M).reshape(1, 5), dim=(0,),
                                                                                 keepdim=True)
            cases[f"{f}_{an}_0d"] = lambda M, a=a, f=f: getattr(a(M)[0], f)(0)
            cases[f"{f}_{an}_no_dims"] = lambda M, a=a, f=f: getattr(a(M), f)(dim=())
        cases[f"nonzero_{an}"] = lambda M, a=a: a(M).reshape(5, 1).nonzero()
        cases[f"nonzero_{an}_tuple"] = lambda M, a=a: a(M).reshape(5, 1).nonzero(as_tuple=True)
        cases[f"nonzero_{an}_fn"] = lambda M, a=a: M.nonzero(a(M))
        cases[f"argwhere_{an}"] = lambda M, a=a: M.argwhere(a(M).reshape(1, 5))
        cases[f"nonzero_{an}_0d"] = lambda M, a=a: a(M)[0].nonzero()
        cases[f"nonzero_{an}_0d_tuple"] = lambda M, a=a: a(M)[1].nonzero(as_tuple=True)
    for eq in (False, True):
        cases[f"isclose_{eq}"] = lambda M, eq=eq: M.isclose(_f(M), M.tensor([1.00001, NAN, INF, INF, 1e-9]),
                                                            equal_nan=eq)
        cases[f"allclose_{eq}"] = lambda M, eq=eq: M.allclose(_f(M), _f(M), equal_nan=eq)
    cases.update({
        "empty_all": lambda M: M.ones(0).all(),
        "empty_any_dim": lambda M: M.ones(0, 3).any(1),
        "empty_nonzero": lambda M: M.ones(0, 3).nonzero(),
        "isclose_tolerances": lambda M: M.tensor([1.0, 2.0]).isclose(M.tensor([1.1, 2.5]), rtol=0.1, atol=0.05),
        "isclose_int": lambda M: M.isclose(_i(M), _i(M) + 1, atol=1),
        "isclose_dtypes": lambda M: M.isclose(_f(M), _f(M).double()),
        "isclose_number": lambda M: M.isclose(_f(M), 1.0),
        "isclose_rtol": lambda M: M.isclose(_f(M), _f(M), rtol=-1),
        "isclose_atol": lambda M: M.isclose(_f(M), _f(M), atol=-1.5),
        "isclose_shapes": lambda M: M.isclose(M.ones(2), M.ones(3)),
        "isclose_broadcast": lambda M: M.isclose(M.ones(2, 1), M.ones(3)),
        "allclose_shapes": lambda M: M.allclose(M.ones(2), M.ones(3)),
        "allclose_method": lambda M: M.ones(2).allclose(M.ones(2) + 1e-9),
        "equal": lambda M: M.equal(_f(M), _f(M)),
        "equal_int": lambda M: M.equal(_i(M), _i(M)),
        "equal_dtypes": lambda M: M.equal(_i(M), _i(M).double()),
        "equal_shapes": lambda M: M.ones(2).equal(M.ones(1, 2)),
        "equal_number": lambda M: M.equal(M.ones(2), 1),
        "isnan_requires_grad": lambda M: M.ones(2, requires_grad=True).isnan(),
        "and_requires_grad": lambda M: M.ones(2, requires_grad=True) & M.ones(2, dtype=M.bool),
        "isnan_number": lambda M: M.isnan(1.0),
    })
    return cases


CASES = _cases()


def outcome(M, fn):
    """What ``fn(M)`` gives, in a form both libraries share: tensors as (dtype, shape, values,
    requires_grad), or the exception's type and message."""
    try:
        r = fn(M)
    except Exception as e:      # noqa: BLE001 (the exception is the outcome compared)
        return ("error", type(e).__name__, str(e).replace("tape", "torch"))

    def conv(r):
        if isinstance(r, (tuple, list)):
            return tuple(conv(x) for x in r)
        if isinstance(r, M.Tensor):
            return (str(r.dtype).split(".")[-1], tuple(r.shape), np.asarray(r.detach().tolist()).tolist(),
                    r.requires_grad)
        return r
    return conv(r)


def test_values_without_torch():
    assert (_i(tape) & 6).tolist() == [0, 0, 2, 6, 0]
    assert (~_b(tape)).tolist() == [False, True, False, True, False]
    assert tape.isclose(_f(tape), _f(tape), equal_nan=True).all().item()
    assert tape.allclose(_f(tape), _f(tape)) is False
    assert _f(tape).reshape(5, 1).nonzero().tolist() == [[0, 0], [1, 0], [2, 0], [3, 0]]
    assert _i(tape).count_nonzero().item() == 3
    with pytest.raises(TypeError, match=r"~ \(operator.invert\) is only implemented"):
        ~_f(tape)


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    torch = pytest.importorskip("torch")
    assert outcome(tape, CASES[name]) == outcome(torch, CASES[name])
