"""``tape.testing.assert_close`` and ``make_tensor``: PyTorch's behaviour and messages (compared with
torch where it is installed, and fixed expectations otherwise)."""
import math

import pytest

import tape


def _assert_close_cases(lib) -> list:
    out = []
    check = lib.testing.assert_close

    def r(f):
        try:
            f()
            out.append("ok")
        except Exception as e:      # noqa: BLE001 (the error is what is compared)
            out.append((type(e).__name__, str(e)))

    t = lib.tensor
    r(lambda: check(t([1.0, 2.0, 3.0]), t([1.0, 2.5, 3.0])))
    r(lambda: check(t([1.0, 2.0]), t([1.0, 2.0, 3.0])))
    r(lambda: check(t([1.0, 2.0]), t([1.0, 2.0], dtype=lib.float64)))
    r(lambda: check(1.0, 1.1))
    r(lambda: check([t(1.0)], [t(2.0)]))
    r(lambda: check({"a": t(1.0)}, {"a": t(2.0)}))
    r(lambda: check(t([1, 2]), t([1, 3])))
    r(lambda: check(t([math.nan]), t([math.nan])))
    r(lambda: check(t([math.nan]), t([math.nan]), equal_nan=True))
    r(lambda: check(t([1.0, 2.0]), t([1.0, 2.1]), rtol=0.1, atol=0))
    r(lambda: check(t([1.0, 2.0]), t([1.0, 2.1]), rtol=0.1))
    r(lambda: check(t([1.0, 2.0]), t([1.0, 3.0]), msg="custom"))
    r(lambda: check(t([[1.0, 2.0], [3, 4]]), t([[1.0, 2.0], [3, 5]])))
    r(lambda: check(t(1.0), t(1.1)))
    r(lambda: check([1, 2], (1, 2)))
    r(lambda: check(t([True]), t([False])))
    r(lambda: check(lib.ones(2, requires_grad=True), lib.ones(2)))
    r(lambda: check(1, 2))
    r(lambda: check([1, 2], [1, 2, 3]))
    r(lambda: check({"a": 1}, {"b": 1}))
    r(lambda: check(t([1.0, 2.0]), t([1.0, 3.0]), msg=lambda m: "X" + m[:10]))
    r(lambda: check(t([1.0, 2.0]), t([1.0, 3.0], dtype=lib.float64), check_dtype=False))
    r(lambda: check(t(math.inf), t(math.inf)))
    r(lambda: check(1.0, 1))
    r(lambda: check(True, False))
    r(lambda: check(lib.zeros(0), lib.zeros(0)))
    r(lambda: check(lib.ones(2, 3), lib.ones(3, 2).t(), check_stride=True))
    r(lambda: check([t([1.0]), [t([2.0]), t([3.0])]], [t([1.0]), [t([2.0]), t([3.5])]]))
    return out


def test_assert_close_fixed():
    cases = _assert_close_cases(tape)
    assert cases[0] == ("AssertionError", "Tensor-likes are not close!\n\nMismatched elements: 1 / 3 (33.3%)\n"
                        "Greatest absolute difference: 0.5 at index (1,) (up to 1e-05 allowed)\n"
                        "Greatest relative difference: 0.20000000298023224 at index (1,) (up to 1.3e-06 allowed)")
    assert cases[1] == ("AssertionError", "The values for attribute 'shape' do not match: torch.Size([2]) != "
                                          "torch.Size([3]).")
    assert cases[8] == cases[9] == cases[14] == cases[16] == cases[22] == cases[25] == "ok"
    assert cases[10] == ("ValueError", "Both 'rtol' and 'atol' must be either specified or omitted, but got no atol.")
    assert cases[11] == ("AssertionError", "custom")
    assert cases[-1][1].endswith("The failure occurred for item [1][1]")


@pytest.mark.torch
def test_assert_close_matches_torch():
    torch = pytest.importorskip("torch")
    assert _assert_close_cases(tape) == _assert_close_cases(torch)


def _make_tensor_facts(lib) -> list:
    out = []

    def r(f):
        try:
            out.append(f())
        except Exception as e:      # noqa: BLE001 (the error is what is compared)
            out.append((type(e).__name__, str(e)))

    make = lib.testing.make_tensor
    r(lambda: (tuple(make(2, 3, dtype=lib.float32, device="cpu").shape), str(make((4,), dtype=lib.int64,
                                                                                device="cpu").dtype)))
    r(lambda: make(50, dtype=lib.float64, device="cpu", low=-1, high=1).abs().max().item() < 1)
    r(lambda: bool(((make(200, dtype=lib.int64, device="cpu") >= -9) & (make(200, dtype=lib.int64, device="cpu")
                                                                      < 10)).all()))
    r(lambda: make(3, 4, dtype=lib.float32, device="cpu", noncontiguous=True).is_contiguous())
    r(lambda: make(2, 3, 4, 5, dtype=lib.float32, device="cpu", memory_format=lib.channels_last).stride())
    r(lambda: make(100, dtype=lib.float32, device="cpu", low=0, high=1e-30, exclude_zero=True).eq(0).any().item())
    r(lambda: make(2, dtype=lib.float32, device="cpu", requires_grad=True).requires_grad)
    r(lambda: make(2, dtype=lib.int64, device="cpu", requires_grad=True))
    r(lambda: make(2, dtype=lib.float32, device="cpu", low=2, high=1))
    r(lambda: make(2, dtype=lib.float32, device="cpu", noncontiguous=True, memory_format=lib.channels_last))
    r(lambda: make(2, dtype=lib.uint8, device="cpu", low=-5, high=-1))
    r(lambda: bool(make(100, dtype=lib.bool, device="cpu").dtype == lib.bool))
    return out


def test_make_tensor():
    facts = _make_tensor_facts(tape)
    assert facts[0] == ((2, 3), "torch.int64")
    assert facts[1] is True and facts[2] is True and facts[3] is False
    assert facts[4] == (60, 1, 15, 3)
    assert facts[5] is False and facts[6] is True
    assert facts[7][0] == "ValueError" and facts[8][0] == "ValueError"


@pytest.mark.torch
def test_make_tensor_matches_torch():
    torch = pytest.importorskip("torch")
    assert _make_tensor_facts(tape) == _make_tensor_facts(torch)
