"""``ops/_vecmath.exp32``, the exp compiled loops vectorize: its accuracy against float64 exp,
its edge values, and that a loop over it vectorizes (as fast as a few times numpy's exp, not libm's);
``wide``, which asks for 512-bit vectors: the same bits as the default width; ``tanh_f32``: float64's
tanh rounded to float32, to the bit; the compiled faces' results laid out as numpy's ufuncs lay theirs."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest
from numba import njit

import tape  # noqa: F401  (tape.ops is installed by importing tape)
from tape.ops._vecmath import exp32, exp32_array, tanh_f32, wide

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

_TINY = float(np.finfo(np.float32).tiny)
_MAX = float(np.finfo(np.float32).max)
# Every STEP-th float32 bit pattern (a prime step: every exponent and many mantissas); thorough: finer.
STEP = 4099 if os.environ.get("TAPE_HYPOTHESIS_PROFILE", "ci") == "ci" else 257


def _exp32(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    exp32_array(x, out)
    return out


def _sample() -> np.ndarray:
    x = np.arange(0, 1 << 32, STEP, dtype=np.uint64).astype(np.uint32).view(np.float32)
    return x[(x > -110) & (x < 89)]


def test_within_an_ulp_of_the_exact_value():
    x = _sample()
    got = _exp32(x)
    ref = np.exp(x.astype(np.float64))
    normal = (ref >= _TINY) & (ref <= _MAX)
    ulp = np.spacing(ref[normal].astype(np.float32)).astype(np.float64)
    assert (np.abs(got[normal] - ref[normal]) <= ulp).all()
    small = ref < _TINY         # subnormal results: within one step of the subnormal grid
    assert small.any() and (np.abs(got[small] - ref[small]) <= 2.0 ** -149).all()
    assert np.isinf(got[ref > _MAX]).all()


def test_edge_values_are_numpys():
    top = np.float32(88.72283)          # the largest x whose exp is finite in float32
    x = np.array([-np.inf, np.inf, np.nan, 0.0, -0.0, -1e30, 1e30, -1000.0, 1000.0, top, np.nextafter(top, np.inf),
                  -87.33655, -103.27893, -103.97208, -104.0, -110.0, -150.0, 89.0, -np.float32(_TINY), 1e-30],
                 np.float32)
    np.testing.assert_array_equal(_exp32(x), np.exp(x))
    nan = np.array([np.nan, -np.nan, np.float32(np.nan) * -1], np.float32)
    assert np.isnan(_exp32(nan)).all()


def test_a_loop_over_it_vectorizes():
    x = np.random.default_rng(0).standard_normal(1 << 18).astype(np.float32)
    out = np.empty_like(x)
    exp32_array(x, out)

    def best(f) -> float:
        t = []
        for _ in range(15):
            t0 = time.process_time()
            for _ in range(4):
                f()
            t.append(time.process_time() - t0)
        return min(t)
    # libm's exp, element by element, is about 5 times numpy's SIMD exp here; exp32 about as fast as it
    assert best(lambda: exp32_array(x, out)) < 2.5 * best(lambda: np.exp(x, out=out))


@njit(error_model="numpy", fastmath={"contract"})
def _narrow(x, y, out):
    for i in range(x.shape[0]):
        out[i] = exp32(x[i] - y[i]) * y[i] + x[i]


@njit(error_model="numpy", fastmath={"contract"})
def _wide(x, y, out):
    wide()
    for i in range(x.shape[0]):
        out[i] = exp32(x[i] - y[i]) * y[i] + x[i]


def test_wide_loops_give_the_default_widths_bits():
    """A kernel that calls ``wide`` computes each element as the same loop without it does (here
    on an odd length, so that the vector loops' remainders are taken too)."""
    x = _sample()[:20_011]
    y = np.random.default_rng(3).uniform(-3.0, 3.0, x.size).astype(np.float32)
    a, b = np.empty_like(x), np.empty_like(x)
    _narrow(x, y, a)
    _wide(x, y, b)
    assert a.tobytes() == b.tobytes()


def _tanh_f32(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    tanh_f32(x, out)
    return out


def test_tanh_is_float64s_rounded_over_a_sample_of_every_float32():
    x = np.arange(0, 1 << 32, STEP, dtype=np.uint64).astype(np.uint32).view(np.float32)
    got, want = _tanh_f32(x), np.tanh(x.astype(np.float64)).astype(np.float32)
    nan = np.isnan(x)       # (nan's bits aside: numpy's is its default nan)
    assert np.isnan(got[nan]).all() and got[~nan].tobytes() == want[~nan].tobytes()


def test_tanh_is_float64s_rounded_densely_where_it_is_not_one():
    # (every float32 from 0 to 9.6 is checked this way when the kernel changes: 1.09e9 of them, no
    # difference; here every 97th, odd steps through each binade, and their negatives)
    top = int(np.float32(9.6).view(np.int32))
    x = np.arange(0, top, 97 if STEP > 257 else 7, dtype=np.int32).view(np.float32)
    x = np.concatenate([x, -x])
    assert _tanh_f32(x).tobytes() == np.tanh(x.astype(np.float64)).astype(np.float32).tobytes()


def test_tanh_edge_values():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, _TINY, 9.0, 9.01, 9.5, -9.5, 1e38, 0.55],
                 np.float32)
    got = _tanh_f32(x)
    np.testing.assert_array_equal(got, np.tanh(x.astype(np.float64)).astype(np.float32))
    assert np.signbit(got[1]) and not np.signbit(got[0])


def test_tanh_of_a_small_float32_tensor_is_the_rounded_float64_one():
    x = np.random.default_rng(5).standard_normal((32, 64)).astype(np.float32)[:, ::2]     # (not contiguous)
    y = tape.tanh(tape.tensor(x))
    assert y.numpy().tobytes() == np.tanh(x.astype(np.float64)).astype(np.float32).tobytes()


@pytest.mark.parametrize("requires_grad", [False, True])
def test_tanh_of_a_big_float32_tensor_is_the_rounded_float64_one(requires_grad):
    # (computed in parts on every core; recorded, into its arena slot)
    x = (np.random.default_rng(6).standard_normal(1 << 20) * 4).astype(np.float32)
    y = tape.tanh(tape.tensor(x, requires_grad=requires_grad))
    assert y.detach().numpy().tobytes() == np.tanh(x.astype(np.float64)).astype(np.float32).tobytes()


def test_tanh_of_a_float32_tensor_keeps_its_layout():
    # (PyTorch's elementwise results take a dense input's strides: a transposed input's too)
    x = tape.ones(3, 4, dtype=tape.float32).t()
    assert x.tanh().stride() == (1, 4) and not x.tanh().is_contiguous()
    assert tape.ones(4, 6, dtype=tape.float32)[:, ::2].tanh().stride() == (3, 1)
    y = tape.tensor(np.linspace(-3, 3, 24, dtype=np.float32).reshape(2, 3, 4)).permute(2, 0, 1)
    assert y.tanh().stride() == y.exp().stride()
    assert y.tanh().numpy().tobytes() == np.tanh(y.numpy().astype(np.float64)).astype(np.float32).tobytes()


@pytest.mark.parametrize("name", ["erf", "erfc", "erfinv", "lgamma", "digamma", "i0", "special.erfcx", "special.i1e"])
@pytest.mark.parametrize("rows", [10, 100])     # (100 x 200: erf and erfc's vectorized loops)
def test_compiled_faces_keep_a_transposed_inputs_strides(name, rows):
    # PyTorch's elementwise result of a dense input takes its strides, as numpy's ufuncs do
    f = tape
    for part in name.split("."):
        f = getattr(f, part)
    x = (tape.rand(rows, 2 * rows, dtype=tape.float32) * 0.5 + 0.25).t()
    y = f(x)
    assert y.stride() == (1, 2 * rows) and not y.is_contiguous()
    assert np.array_equal(y.numpy(), f(x.contiguous()).numpy())
