"""PyTorch's CPU random streams: a Mersenne Twister (mt19937) seeded as PyTorch seeds it, and the
transforms PyTorch's CPU kernels apply to its 32- and 64-bit draws, so that ``manual_seed(s)``
followed by ``rand``, ``randn``, ``randint``, ``randperm``, ``normal_``, ``uniform_``,
``random_``, ``bernoulli`` gives PyTorch's values.

The twister itself is numpy's ``MT19937`` bit generator (its state set directly, the way
PyTorch's ``mt19937`` initialises it from a 32-bit seed); its raw outputs are PyTorch's
``random()``, and two of them, high word first, its ``random64()``.
"""
from __future__ import annotations

import ctypes
import math

import numba
import numpy as np

N = 624                         # words of the twister's state
STATE_BYTES = 5056              # PyTorch's CPUGeneratorImplState
_STATE_AT, _NORMAL_AT = 24, 5016


def _key(seed32: int) -> np.ndarray:
    """The twister's state after ``init_genrand(seed32)`` (the reference initialisation)."""
    key = np.empty(N, np.uint32)
    x = seed32
    key[0] = x
    for j in range(1, N):
        x = (1812433253 * (x ^ (x >> 30)) + j) & 0xFFFFFFFF
        key[j] = x
    return key


class Stream:
    """One generator's state: the twister, the seed it was given, and the normal sample that
    PyTorch's Box-Muller transform keeps for the next call."""

    __slots__ = ("seed", "bits", "words", "fresh", "normal_double", "normal_float")

    def __init__(self, seed: int) -> None:
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        self.seed = seed & 0xFFFFFFFFFFFFFFFF
        self._twister(np.random.MT19937())
        self.words[:N] = _key(seed & 0xFFFFFFFF)
        self.words[N] = N
        self.fresh = True           # (PyTorch tells a just-seeded twister from a spent one in its state)
        self.normal_double = None
        self.normal_float = None

    def _twister(self, bits: np.random.MT19937) -> None:
        self.bits = bits
        # numpy's ``mt19937_state`` in place (``ctypes.state_address``): the 624 key words, then the
        # position (a C int).  Its ``state`` property copies them one Python int at a time (~50 us
        # each way): a checkpointed segment reads and sets the state three or four times.
        self.words = np.ctypeslib.as_array(ctypes.cast(bits.ctypes.state_address, ctypes.POINTER(ctypes.c_uint32)),
                                           (N + 1,))

    def __getstate__(self) -> dict:
        # (``words`` views the bit generator's memory: a copy's is made again over the copy's generator)
        return {name: getattr(self, name) for name in ("seed", "bits", "fresh", "normal_double", "normal_float")}

    def __setstate__(self, state: dict) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        self._twister(self.bits)

    # -- raw draws ------------------------------------------------------------------------------
    def random(self, n: int) -> np.ndarray:
        """``n`` 32-bit draws (as uint64)."""
        self.fresh = False
        return self.bits.random_raw(n)

    def random64(self, n: int) -> np.ndarray:
        r = self.random(2 * n)
        return (r[0::2] << np.uint64(32)) | r[1::2]

    # -- PyTorch's transforms -------------------------------------------------------------------
    def uniform(self, n: int, digits: int) -> np.ndarray:
        """``uniform_real_distribution(0, 1)``: the low ``digits`` bits of a draw (53: of a 64-bit
        draw) over 2**digits, float64 for double, float32 (exact) otherwise."""
        if digits == 53:
            return (self.random64(n) & np.uint64((1 << 53) - 1)).astype(np.float64) * 2.0 ** -53
        return (self.random(n) & np.uint64((1 << digits) - 1)).astype(np.float32) * np.float32(2.0 ** -digits)

    def normal_scalar(self, n: int, mean: float, std: float) -> np.ndarray:
        """``normal_distribution<double>``, one value at a time: Box-Muller on two 53-bit uniforms,
        the sine half kept for the next value (also across calls)."""
        out = np.empty(n, np.float64)
        for i in range(n):
            if self.normal_double is not None:
                z, self.normal_double = self.normal_double, None
            else:
                u1, u2 = self.uniform(2, 53)
                r = math.sqrt(-2.0 * math.log1p(-float(u2)))
                theta = 2.0 * math.pi * float(u1)
                self.normal_double = r * math.sin(theta)
                z = r * math.cos(theta)
            out[i] = z
        return out if mean == 0.0 and std == 1.0 else fma64(out, std, mean)     # (fused, as compiled)

    def normal_fill(self, n: int, dtype: np.dtype, mean: float, std: float) -> np.ndarray:
        """PyTorch's ``normal_fill`` (16 or more contiguous values): uniforms for every value, then
        Box-Muller on each block of 16 (the first 8 with the last 8), the last partial block over
        16 new uniforms overlapping the block before it."""
        digits = 53 if dtype == np.float64 else 24
        data = self.uniform(n, digits)
        tail = self.uniform(16, digits) if n % 16 else None
        fill = _fill16_double if digits == 53 else _fill16_float
        body = data[:n - n % 16]
        fill(body.reshape(-1, 16), mean, std)
        if tail is not None:
            block = tail.reshape(1, 16)
            fill(block, mean, std)
            data[n - 16:] = block[0]
        if digits == 53 and (mean != 0.0 or std != 1.0):
            data = fma64(data, std, mean)      # (PyTorch's compiler fused ``z * std + mean``)
        return data

    def uniform_range(self, n: int, dtype: np.dtype, low: float, high: float) -> np.ndarray:
        """``uniform_(low, high)``: ``u * (high - low) + low`` in the dtype (fused, as compiled)."""
        dt = np.dtype(dtype)
        if low == 0.0 and high == 1.0:
            return self.uniform(n, 53 if dt == np.float64 else 11 if dt == np.float16 else 24).astype(dt)
        if dt == np.float64:
            return fma64(self.uniform(n, 53), dt.type(high) - dt.type(low), dt.type(low))
        # (half precision: 11 bits, its arithmetic in float)
        u = self.uniform(n, 11 if dt == np.float16 else 24)
        lo, hi = (np.float32(dt.type(v)) for v in (low, high))
        return _fma(u, hi - lo, lo).astype(dt)

    def normal(self, n: int, dtype: np.dtype, mean: float, std: float, contiguous: bool = True) -> np.ndarray:
        """``normal_kernel``: the vectorized fill for 16 or more contiguous values, else one at a time."""
        if n >= 16 and contiguous:
            return self.normal_fill(n, dtype, mean, std)
        return self.normal_scalar(n, mean, std)

    def from_to(self, n: int, low: int, high: int, wide: bool) -> np.ndarray:
        """``uniform_int_from_to_distribution``: ``draw % (high - low) + low``, from a 64-bit draw when
        the range needs it (and the dtype is int64, float or double: ``wide``)."""
        span = high - low
        r = self.random64(n) if wide and span >= 1 << 32 else self.random(n)
        return ((r % np.uint64(span)).astype(np.int64) + np.int64(low)) if span < 1 << 63 else \
            np.array([int(v) % span + low for v in r], dtype=object)

    def full_range(self, n: int, kind: str, bound: int) -> np.ndarray:
        """``uniform_int_distribution`` (``random_()`` without bounds): ``draw % bound`` (bool: the low
        bit), from a 64-bit draw for int64 and double."""
        r = self.random64(n) if kind == "wide" else self.random(n)
        return r & np.uint64(1) if kind == "bool" else r % np.uint64(bound)

    def permutation(self, n: int) -> np.ndarray:
        """``randperm``: Fisher-Yates swaps ``i <-> i + random() % (n - i)`` (for n below 2**32 / 20)."""
        perm = np.arange(n, dtype=np.int64)
        if n > 1:
            if n >= 0xFFFFFFFF // 20:
                raise RuntimeError(f"randperm of {n} elements: larger than tape's generator supports")
            _swaps(perm, self.random(n - 1))
        return perm

    # -- PyTorch's state layout -------------------------------------------------------------------
    def state_bytes(self) -> bytes:
        words = self.words
        pos = int(words[N])
        nxt, left = (0, 1) if self.fresh else (pos, N + 1 - pos)
        raw = bytearray(STATE_BYTES)
        raw[0:8] = self.seed.to_bytes(8, "little")
        raw[8:12] = left.to_bytes(4, "little")
        raw[12:16] = (1).to_bytes(4, "little")
        raw[16:24] = nxt.to_bytes(8, "little")
        raw[_STATE_AT:_NORMAL_AT] = words[:N].astype("<u8").tobytes()
        if self.normal_double is not None:
            raw[_NORMAL_AT + 8:_NORMAL_AT + 16] = np.float64(self.normal_double).tobytes()
            raw[5040:5044] = (1).to_bytes(4, "little")
        if self.normal_float is not None:
            raw[5048:5052] = np.float32(self.normal_float).tobytes()
            raw[5052] = 1
        return bytes(raw)

    def snapshot(self) -> tuple:
        """The state as ``restore`` puts it back: the twister's words copied, without PyTorch's
        byte layout (``state_bytes`` costs ten times as much; a checkpointed segment takes the
        state once in its forward and twice in its recomputation)."""
        return self.seed, self.words.copy(), self.fresh, self.normal_double, self.normal_float

    def restore(self, snap: tuple) -> None:
        self.seed, words, self.fresh, self.normal_double, self.normal_float = snap
        self.words[:] = words

    def set_state_bytes(self, raw: bytes) -> None:
        if len(raw) != STATE_BYTES:
            raise RuntimeError(f"Expected a CPUGeneratorImplState of size {STATE_BYTES} but found the input RNG "
                               f"state size to be {len(raw)}")
        seed = int.from_bytes(raw[0:8], "little")
        left = int.from_bytes(raw[8:12], "little", signed=True)
        seeded = int.from_bytes(raw[12:16], "little", signed=True)
        nxt = int.from_bytes(raw[16:24], "little")
        if not (seeded and 1 <= left <= N and nxt <= N):
            raise RuntimeError("Invalid mt19937 state")
        self.seed = seed
        self.words[:N] = np.frombuffer(raw, "<u8", N, _STATE_AT)
        self.words[N] = N if left == 1 else nxt
        self.fresh = left == 1 and nxt == 0
        valid = int.from_bytes(raw[5040:5044], "little") != 0
        self.normal_double = float(np.frombuffer(raw[_NORMAL_AT + 8:_NORMAL_AT + 16], np.float64)[0]) \
            if valid else None
        self.normal_float = float(np.frombuffer(raw[5048:5052], np.float32)[0]) if raw[5052] else None

    def copy(self) -> "Stream":
        other = Stream.__new__(Stream)
        other.seed, other.fresh = self.seed, self.fresh
        other._twister(np.random.MT19937())
        other.words[:] = self.words
        other.normal_double, other.normal_float = self.normal_double, self.normal_float
        return other


# -- Box-Muller on blocks of 16 -------------------------------------------------------------------
@numba.njit(cache=True)
def _fill16_double_kernel(blocks):
    # libm's log, cos and sin, as PyTorch's double kernel calls them
    for b in range(blocks.shape[0]):
        for j in range(8):
            u1 = 1.0 - blocks[b, j]
            u2 = blocks[b, j + 8]
            radius = math.sqrt(-2.0 * math.log(u1))
            theta = 2.0 * math.pi * u2
            blocks[b, j] = radius * math.cos(theta)
            blocks[b, j + 8] = radius * math.sin(theta)


def _fill16_double(blocks: np.ndarray, mean: float, std: float) -> None:
    # (standard values: the caller scales them with one fused multiply-add)
    if blocks.size:
        _fill16_double_kernel(blocks)


@numba.njit(cache=True)
def _swaps(perm, draws):
    n = perm.shape[0]
    for i in range(n - 1):
        z = i + np.int64(draws[i] % np.uint64(n - i))
        perm[i], perm[z] = perm[z], perm[i]


_F = np.float32


def _fma(a, b, c) -> np.ndarray:
    # a fused multiply-add in float32: the product is exact in float64, one rounding after the sum
    return (np.asarray(a, np.float64) * np.asarray(b, np.float64) + np.asarray(c, np.float64)).astype(_F)


# The float kernel PyTorch's x86 builds run: Cephes' single-precision log and sincos on 8 lanes, with
# the multiply-adds its compiler fused; reproduced operation for operation so the bits agree.
# (float32 constants: numba keeps float32 arithmetic float32 only between float32 values)
_ONE, _HALF, _MINUS_TWO, _TWO_PI = _F(1), _F(0.5), _F(-2), _F(2.0 * math.pi)
_SQRTHF, _LOG_Q1, _LOG_Q2 = _F(0.707106781186547524), _F(-2.12194440e-4), _F(0.693359375)
_L0, _L1, _L2, _L3, _L4, _L5, _L6, _L7, _L8 = (_F(p) for p in (
    7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1, 1.4249322787E-1, -1.6668057665E-1,
    2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1))
_FOPI, _DP1, _DP2, _DP3 = _F(1.27323954473516), _F(-0.78515625), _F(-2.4187564849853515625e-4), \
    _F(-3.77489497744594108e-8)
_C0, _C1, _C2 = _F(2.443315711809948E-005), _F(-1.388731625493765E-003), _F(4.166664568298827E-002)
_S0, _S1, _S2 = _F(-1.9515295891E-4), _F(8.3321608736E-3), _F(-1.6666654611E-1)


@numba.njit(cache=True)
def _fmaf(a, b, c):
    return np.float32(np.float64(a) * np.float64(b) + np.float64(c))


@numba.njit(cache=True)
def _logf(x):
    # x in (0, 1]: x = m * 2**e with m in [0.5, 1), as the kernel splits its bits
    mant, exp = math.frexp(np.float64(x))
    m, e = np.float32(mant), np.float32(exp)
    if m < _SQRTHF:
        x = (m - _ONE) + m
        e = e - _ONE
    else:
        x = m - _ONE
    z = x * x
    y = _fmaf(_L0, x, _L1)
    y = _fmaf(y, x, _L2)
    y = _fmaf(y, x, _L3)
    y = _fmaf(y, x, _L4)
    y = _fmaf(y, x, _L5)
    y = _fmaf(y, x, _L6)
    y = _fmaf(y, x, _L7)
    y = _fmaf(y, x, _L8)
    y = _fmaf(y * x, z, e * _LOG_Q1)
    y = y - z * _HALF
    return _fmaf(e, _LOG_Q2, x + y)


@numba.njit(cache=True)
def _sincosf(x):
    # x >= 0 (2 pi u)
    j = (np.int32(x * _FOPI) + 1) & ~1                  # the octant (4/pi), made even
    y = np.float32(j)
    flip_sin = (j & 4) != 0
    flip_cos = (~(j - 2) & 4) != 0
    x = _fmaf(y, _DP1, x)                               # x - y pi/4, pi/4 in three parts
    x = _fmaf(y, _DP2, x)
    x = _fmaf(y, _DP3, x)
    z = x * x
    c = _fmaf(_C0, z, _C1)
    c = _fmaf(c, z, _C2)
    c = _fmaf(c * z, z, -(z * _HALF)) + _ONE
    s = _fmaf(_S0, z, _S1)
    s = _fmaf(s, z, _S2)
    s = _fmaf(s * z, x, x)
    if (j & 2) != 0:
        s, c = c, s
    return (-s if flip_sin else s), (-c if flip_cos else c)


@numba.njit(cache=True)
def _fill16_float_kernel(blocks, mean, std):
    for b in range(blocks.shape[0]):
        for j in range(8):
            radius = np.float32(math.sqrt(_MINUS_TWO * _logf(_ONE - blocks[b, j])))
            sin, cos = _sincosf(_TWO_PI * blocks[b, j + 8])
            blocks[b, j] = _fmaf(radius * cos, std, mean)
            blocks[b, j + 8] = _fmaf(radius * sin, std, mean)


def _fill16_float(blocks: np.ndarray, mean: float, std: float) -> None:
    if blocks.size:
        _fill16_float_kernel(blocks, _F(mean), _F(std))


def fma64(a, b, c) -> np.ndarray:
    """a * b + c rounded once, in float64 (Dekker's exact product, Knuth's exact sum): the sum of
    the three exact parts rounds as the fused operation does, but for ties of a tie (never seen)."""
    a, b, c = (np.asarray(v, np.float64) for v in (a, b, c))
    p = a * b
    split = 134217729.0                                              # 2**27 + 1
    ah = a * split - (a * split - a)
    bh = b * split - (b * split - b)
    al, bl = a - ah, b - bh
    err = ((ah * bh - p) + ah * bl + al * bh) + al * bl              # p + err == a * b exactly
    s = p + c
    bv = s - p
    t = (p - (s - bv)) + (c - bv)                                    # s + t == p + c exactly
    with np.errstate(invalid="ignore"):
        out = s + (t + err)
    return np.where(np.isfinite(p), out, p + c)


def libm(fn, x: np.ndarray) -> np.ndarray:
    """``fn`` (a ``math`` function: the C library's, as PyTorch's kernels call it) over ``x``;
    numpy's own vectorized versions differ from it in the last bit now and then."""
    x = np.asarray(x, np.float64)
    return np.fromiter(map(fn, x.ravel().tolist()), np.float64, count=x.size).reshape(x.shape)
