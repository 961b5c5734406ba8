"""``finfo``/``iinfo``, ``promote_types``, ``can_cast``, ``result_type``, the ``is_*`` predicates and
the constants, as PyTorch's (compared with torch where it is installed)."""
import math

import pytest

import tape

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def _facts(lib) -> list:
    out = []

    def r(f):
        try:
            out.append(repr(f()))
        except Exception as e:      # noqa: BLE001 (the error is what is compared)
            out.append(type(e).__name__ + ": " + str(e))

    for d in ["float32", "float64", "float16"]:
        dt = getattr(lib, d)
        r(lambda: lib.finfo(dt))
        r(lambda: (lib.finfo(dt).eps, lib.finfo(dt).tiny, lib.finfo(dt).max, lib.finfo(dt).bits, lib.finfo(dt).dtype))
    r(lambda: lib.finfo())
    for d in ["int64", "int32", "int16", "int8", "uint8"]:
        dt = getattr(lib, d)
        r(lambda: (lib.iinfo(dt), lib.iinfo(dt).max, lib.iinfo(dt).min, lib.iinfo(dt).bits))
    r(lambda: lib.finfo(lib.int32))
    r(lambda: lib.finfo("x"))
    r(lambda: lib.iinfo(lib.float32))
    r(lambda: lib.iinfo(lib.bool))
    r(lambda: lib.finfo(lib.float32) == lib.finfo(lib.float32))
    for a in DTYPES:
        for b in DTYPES:
            r(lambda: (lib.promote_types(getattr(lib, a), getattr(lib, b)),
                       lib.can_cast(getattr(lib, a), getattr(lib, b))))
    x, f = lib.tensor([1, 2]), lib.tensor(1.0)
    for a, b in [(x, 1.0), (x, 1), (2, 3.0), (f, x), (True, x), (1, 2), (x, True), (f, 2),
                 (lib.tensor([1], dtype=lib.uint8), -1)]:
        r(lambda: lib.result_type(a, b))
    r(lambda: lib.result_type(1, "a"))
    r(lambda: (lib.is_complex(x), x.is_complex(), lib.is_nonzero(lib.tensor([1.0])), lib.is_same_size(x, x),
               x.is_signed(), lib.tensor([1], dtype=lib.uint8).is_signed(), lib.is_signed(x)))
    r(lambda: lib.is_nonzero(lib.tensor([1.0, 2.0])))
    r(lambda: lib.is_nonzero(lib.tensor([])))
    r(lambda: lib.is_nonzero(lib.tensor([[0.0]])))
    r(lambda: lib.is_same_size(x, 3))
    r(lambda: (lib.pi, lib.e, lib.inf, lib.newaxis))
    return out


def test_finfo_iinfo():
    assert tape.finfo(tape.float32).eps == 2.0 ** -23 and tape.finfo().dtype == "float32"
    assert tape.finfo(tape.float16).resolution == 0.001
    assert tape.iinfo(tape.int8).min == -128 and tape.iinfo(tape.uint8).max == 255
    with pytest.raises(TypeError, match="requires a floating point input type"):
        tape.finfo(tape.int64)
    with pytest.raises(TypeError, match="torch.bool is not supported by torch.iinfo"):
        tape.iinfo(tape.bool)


def test_promotion_and_casts():
    assert tape.promote_types(tape.int8, tape.uint8) is tape.int16
    assert tape.result_type(tape.tensor([1, 2]), 1.0) is tape.float32
    assert tape.can_cast(tape.int32, tape.float32) and not tape.can_cast(tape.float32, tape.int32)


def test_predicates_and_constants():
    assert tape.is_nonzero(tape.tensor([2.0])) and not tape.tensor([1], dtype=tape.uint8).is_signed()
    with pytest.raises(RuntimeError, match="more than one value is ambiguous"):
        tape.is_nonzero(tape.ones(2))
    assert tape.pi == math.pi and math.isnan(tape.nan) and tape.newaxis is None


@pytest.mark.torch
def test_matches_torch():
    torch = pytest.importorskip("torch")
    assert _facts(tape) == _facts(torch)
