"""Scalar special functions in numba: the gamma family, modified Bessel functions, the normal
distribution's functions.

numpy has no ufunc for any of these and scipy is no run-time dependency, so each is written here
from its textbook expansions (no tables copied from elsewhere; the Bernoulli numbers are computed
at import).  Each takes and returns float64; a float32 row computes in float64 and rounds once.
Accuracy (``tests/test_special.py`` measures it against ``math.lgamma``, mpmath-free identities and
PyTorch): see the README's "Special functions".

* ``digamma``: the recurrence ``psi(x) = psi(x + 1) - 1/x`` up to x >= 10, then the asymptotic
  series ``log x - 1/(2x) - sum B_2k / (2k x^2k)``; reflection ``psi(1 - x) - pi / tan(pi x)`` below 0.
* ``zeta(s, q)`` (Hurwitz): a direct sum up to ``q + N >= 10``, then Euler-Maclaurin with the
  Bernoulli numbers to B_24; ``polygamma(n, x) = (-1)^(n+1) n! zeta(n + 1, x)`` for n >= 2; trigamma
  (n = 1) as PyTorch's, a short recurrence and asymptotic series (about 1e-9 relative).
* ``i0``, ``i1`` (and the scaled ``i0e``, ``i1e``): their power series (positive terms, so no
  cancellation) up to |x| = 30, the asymptotic series ``e^x / sqrt(2 pi x) sum (-1)^k a_k(nu) / x^k``
  beyond.
* ``erfcx``: ``exp(x*x) erfc(x)`` with ``x*x`` split exactly into two floats (so the exponential
  keeps its accuracy), the asymptotic series from |x| = 26; ``log_ndtr`` through it in the lower tail;
  ``ndtri`` by Newton steps on ``log ndtr`` from a rational first guess.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from numba import njit


def _bernoulli(n: int) -> list:
    """B_0 .. B_n (B_1 = -1/2), by the recurrence sum_k C(m + 1, k) B_k = 0."""
    b = [Fraction(1)]
    for m in range(1, n + 1):
        b.append(-sum(Fraction(math.comb(m + 1, k)) * b[k] for k in range(m)) / (m + 1))
    return b


_B = _bernoulli(24)
# B_2k / (2k)!, k = 1 .. 12: the Euler-Maclaurin coefficients of zeta.
EM = np.array([float(_B[2 * k] / math.factorial(2 * k)) for k in range(1, 13)])
# B_2k / (2k), k = 1 .. 7: digamma's asymptotic series.
PSI = np.array([float(_B[2 * k] / (2 * k)) for k in range(1, 8)])
LOG_PI = math.log(math.pi)
SQRT_2PI = math.sqrt(2.0 * math.pi)
LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
SQRT1_2 = math.sqrt(0.5)
RSQRT_PI = 1.0 / math.sqrt(math.pi)
EPS = 2.0 ** -53
# psi(10) = H_9 - Euler's gamma: the recurrence lands on 10 exactly from every integer below it.
PSI_10 = float(sum(Fraction(1, k) for k in range(1, 10)) - Fraction("0.57721566490153286060651209008240243104"))


@njit(cache=True, error_model="numpy")
def _digamma_pos(x):
    result = 0.0
    while x < 10.0:
        result -= 1.0 / x
        x += 1.0
    if x == 10.0:
        return result + PSI_10
    z = 1.0 / (x * x)
    s = 0.0
    for k in range(6, -1, -1):
        s = s * z + PSI[k]
    return result + math.log(x) - 0.5 / x - s * z


@njit(cache=True, error_model="numpy")
def digamma(x):
    """psi(x): +-inf at +-0 (the sign of -x, as PyTorch and C++'s conventions), nan at negative integers."""
    x = float(x)
    if x == 0.0:
        return math.copysign(math.inf, -x)
    if x != x or x == math.inf:
        return x
    if x < 0.0:
        if x == math.floor(x):
            return math.nan
        r = x - math.trunc(x)       # (tan of pi r is more accurate than of pi x)
        return _digamma_pos(1.0 - x) - math.pi / math.tan(math.pi * r)
    return _digamma_pos(x)


@njit(cache=True, error_model="numpy")
def zeta(s, q):
    """The Hurwitz zeta function sum_k (q + k)^-s, for s > 1 (inf at s == 1, nan below); at q <= 0,
    inf at the poles (integer q) and nan for a non-integer s, as PyTorch."""
    s = float(s)
    q = float(q)
    if s != s or q != q or s == math.inf or q == math.inf:
        return math.nan     # (PyTorch's, whose sum meets 0 * inf there)
    if s == 1.0:
        return math.inf
    if s < 1.0:
        return math.nan
    if q <= 0.0:
        if q == math.floor(q):
            return math.inf
        if s != math.floor(s):
            return math.nan
    total = 0.0
    a = q
    k = 0
    while k < 9 or a < 10.0:
        b = a ** -s
        total += b
        if k >= 9 and abs(b) < EPS * abs(total):
            return total
        a += 1.0
        k += 1
    # Euler-Maclaurin from a: the integral, half the first term, then the Bernoulli terms.
    b = a ** -s
    total += a ** (1.0 - s) / (s - 1.0) + 0.5 * b
    factor = s                      # s (s + 1) ... (s + 2j - 2)
    power = b / a                   # a^(-s - 2j + 1)
    for j in range(12):
        t = EM[j] * factor * power
        total += t
        if abs(t) < EPS * abs(total):
            break
        factor *= (s + 2 * j + 1.0) * (s + 2 * j + 2.0)
        power /= a * a
    return total


@njit(cache=True, error_model="numpy")
def trigamma(x):
    """psi'(x) as PyTorch computes it (so that digamma's derivative is PyTorch's, which is within
    about 1e-9 of the true value): reflected below 1/2, six steps of psi'(x) = psi'(x + 1) + 1/x^2,
    then the asymptotic series to 1/(42 x^7).  The reflection's term is computed in ``x``'s type, as
    PyTorch's kernel computes it in the tensor's dtype: at the poles (the negative integers) its
    value is the rounding error of pi x, finite and dtype-dependent."""
    sign = 1.0
    result = 0.0
    if x < 0.5:     # psi'(x) = pi^2 / sin^2(pi x) - psi'(1 - x)
        sign = -1.0
        pi = type(x)(math.pi)
        sp = math.sin(pi * x)
        result -= np.float64((pi * pi) / (sp * sp))
    x = np.float64(x)       # (the rest in float64: numba's float() keeps a float32)
    if sign < 0:
        x = 1.0 - x
    for _ in range(6):
        result += 1.0 / (x * x)
        x += 1.0
    ixx = 1.0 / (x * x)
    result += (1.0 + 1.0 / (2.0 * x) + ixx * (1.0 / 6.0 - ixx * (1.0 / 30.0 - ixx * (1.0 / 42.0)))) / x
    return sign * result


@njit(cache=True, error_model="numpy")
def polygamma(n, x):
    """The n-th derivative of digamma."""
    if n == 1:
        return trigamma(x)      # (in x's type: PyTorch's value at its poles)
    v = np.float64(x)       # (numba's float() keeps a float32 one)
    if n == 0:
        return digamma(v)
    sign = 1.0 if n % 2 == 1 else -1.0
    return sign * math.exp(math.lgamma(n + 1.0)) * zeta(n + 1.0, v)


@njit(cache=True, error_model="numpy")
def lgamma(x):
    return math.lgamma(float(x))


@njit(cache=True, error_model="numpy")
def mvlgamma(x, p):
    """The multivariate log-gamma function of dimension p: sum_j lgamma(x - j/2) + p(p-1)/4 log pi
    (summed from j = p - 1 down, as PyTorch)."""
    x = float(x)
    total = 0.0
    for j in range(p - 1, -1, -1):
        total += math.lgamma(x - 0.5 * j)
    return total + p * (p - 1) * LOG_PI / 4.0


@njit(cache=True, error_model="numpy")
def _bessel_series(x, nu):
    """I_nu(x) for nu = 0, 1 by its power series sum (x/2)^(2k+nu) / (k! (k+nu)!) (x >= 0)."""
    h = 0.5 * x
    q = h * h
    term = 1.0 if nu == 0 else h
    total = term
    k = 1
    while True:
        term *= q / (k * (k + nu))
        total += term
        if term <= EPS * total:
            return total
        k += 1


@njit(cache=True, error_model="numpy")
def _bessel_asymptotic(x, nu):
    """sum_k (-1)^k a_k(nu) / x^k, a_k = prod_{j<=k} (4 nu^2 - (2j - 1)^2) / (k! 8^k): I_nu(x) e^-x sqrt(2 pi x)."""
    m = 4.0 * nu * nu
    term = 1.0
    total = 1.0
    for k in range(1, 60):
        new = -term * (m - (2 * k - 1.0) ** 2) / (8.0 * k * x)
        if abs(new) >= abs(term):
            break       # (the series diverges from here)
        term = new
        total += term
        if abs(term) <= EPS * abs(total):
            break
    return total


@njit(cache=True, error_model="numpy")
def bessel_i(x, nu, scaled):
    """I_nu(x) (nu = 0, 1), times e^-|x| if ``scaled``."""
    x = float(x)
    if x != x:
        return x
    a = abs(x)
    sign = -1.0 if (nu == 1 and x < 0) else 1.0
    if a <= 30.0:
        v = _bessel_series(a, nu)
        return sign * (v * math.exp(-a) if scaled else v)
    if a == math.inf:
        return sign * 0.0 if scaled else math.nan       # (PyTorch's: inf / inf in its expansion)
    s = _bessel_asymptotic(a, nu)
    if scaled:
        return sign * s / math.sqrt(2.0 * math.pi * a)
    e = math.exp(0.5 * a)          # (exp(a/2) twice: a/2 is exact, a - log(2 pi a)/2 would be rounded)
    return sign * (e * (e * (s / math.sqrt(2.0 * math.pi * a))))


@njit(cache=True, error_model="numpy")
def _split_square(x):
    """(hi, lo) with hi + lo == x * x exactly (Dekker's product)."""
    c = 134217729.0 * x
    xh = c - (c - x)
    xl = x - xh
    hi = x * x
    lo = ((xh * xh - hi) + 2.0 * xh * xl) + xl * xl
    return hi, lo


@njit(cache=True, error_model="numpy")
def erfcx(x):
    """exp(x^2) erfc(x) without overflow or loss in exp(x^2)."""
    x = float(x)
    if x != x:
        return x
    if x >= 26.0:
        if x == math.inf:
            return 0.0
        v = 1.0 / (x * x)
        term = 1.0
        total = 1.0
        for k in range(1, 20):
            term *= -(2 * k - 1.0) * 0.5 * v
            total += term
            if abs(term) < EPS:
                break
        return total * RSQRT_PI / x
    if x < -26.7:
        return math.inf
    hi, lo = _split_square(x)
    return math.exp(hi) * (1.0 + lo) * math.erfc(x)


@njit(cache=True, error_model="numpy")
def ndtr(x):
    """The standard normal distribution function."""
    x = float(x)
    z = x * SQRT1_2
    if abs(z) < SQRT1_2:
        return 0.5 + 0.5 * math.erf(z)
    y = 0.5 * math.erfc(abs(z))
    return 1.0 - y if z > 0 else y


@njit(cache=True, error_model="numpy")
def log_ndtr(x):
    """log ndtr(x), accurate in both tails (through erfcx below -1)."""
    x = float(x)
    if x != x:
        return x
    if x < -1.0:
        if x == -math.inf:
            return -math.inf
        return math.log(0.5 * erfcx(-x * SQRT1_2)) - 0.5 * x * x
    if x > 40.0:
        return -0.0     # (-exp(-x^2/2) / (x sqrt(2 pi)) underflows)
    if x > 1.0:
        # erfc(x / sqrt 2) = erfcx(x / sqrt 2) exp(-x^2 / 2), x^2 split exactly: erfc of the rounded
        # x / sqrt 2 would lose x^2 ulps.
        hi, lo = _split_square(x)
        return math.log1p(-0.5 * erfcx(x * SQRT1_2) * (math.exp(-0.5 * hi) * (1.0 - 0.5 * lo)))
    return math.log1p(-0.5 * math.erfc(x * SQRT1_2))


@njit(cache=True, error_model="numpy")
def _ndtri_lower(p):
    """x with ndtr(x) = p, for 0 < p <= 1/2: a rational first guess (Hastings'), then Newton on log ndtr."""
    t = math.sqrt(-2.0 * math.log(p))
    x = -(t - (2.515517 + t * (0.802853 + t * 0.010328)) / (1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308))))
    target = math.log(p)
    for _ in range(12):
        lx = log_ndtr(x)
        # d log ndtr / dx = phi(x) / ndtr(x) = exp(-x^2/2 - log ndtr(x)) / sqrt(2 pi)
        step = (lx - target) / math.exp(-0.5 * x * x - lx - LOG_SQRT_2PI)
        x -= step
        if abs(step) <= 4.0 * EPS * abs(x):
            break
    return x


@njit(cache=True, error_model="numpy")
def ndtri(p):
    """The inverse of ndtr: -inf at 0, inf at 1, nan outside [0, 1]."""
    p = float(p)
    if not (p >= 0.0 and p <= 1.0):
        return math.nan
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    if p == 0.5:
        return 0.0
    if p >= 0.25 and p <= 0.75:
        # erf(x / sqrt 2) = 2p - 1 (exact here), by Newton steps on erf, which keeps x's relative
        # accuracy near 0 (log ndtr's steps would not).
        y = 2.0 * p - 1.0
        t = y * (0.886226925452758 + y * y * 0.2320136665346544)
        for _ in range(8):
            step = (math.erf(t) - y) / (2.0 * RSQRT_PI * math.exp(-t * t))
            t -= step
            if abs(step) <= EPS * abs(t):
                break
        return t / SQRT1_2
    if p > 0.5:
        return -_ndtri_lower(1.0 - p)       # (1 - p is exact here)
    return _ndtri_lower(p)


@njit(cache=True, error_model="numpy")
def entr(x):
    """-x log x: 0 at 0, -inf below 0."""
    x = float(x)
    if x != x:
        return x
    if x > 0.0:
        return -x * math.log(x)
    return 0.0 if x == 0.0 else -math.inf


@njit(cache=True, error_model="numpy")
def xlog1py(a, b):
    """a * log1p(b), 0 where a == 0 (unless b is nan)."""
    a = float(a)
    b = float(b)
    if b != b:
        return b
    if a == 0.0:
        return 0.0
    return a * (math.log1p(b) if b > -1.0 else (-math.inf if b == -1.0 else math.nan))


# --- the elementwise rows of these functions (codes in the UNARY range; ``ops/special.py``) ---------
LGAMMA, DIGAMMA, POLYGAMMA, MVLGAMMA, SINC, I0, I0E, I1, I1E, ERFCX, NDTRI, LOG_NDTR, ENTR = range(75, 88)
FIRST, LAST = LGAMMA, ENTR
XLOG1PY, FMAX, FMIN = range(178, 181)       # (BINARY range)
FIRST_BINARY, LAST_BINARY = XLOG1PY, FMIN


@njit(cache=True, error_model="numpy")
def special_f(code, x, fa, fb, ia):
    """One element of a row of these functions (``ia``: polygamma's n, mvlgamma's p), computed in float64."""
    v = np.float64(x)
    if code == LGAMMA:
        return lgamma(v)
    if code == DIGAMMA:
        return digamma(v)
    if code == POLYGAMMA:
        return polygamma(ia, x)
    if code == MVLGAMMA:
        return mvlgamma(v, ia)
    if code == SINC:
        if x == 0:
            return type(x)(1.0)
        t = type(x)(math.pi) * x        # (in the row's dtype, as PyTorch)
        return math.sin(t) / t
    if code == I0:
        return bessel_i(v, 0, False)
    if code == I0E:
        return bessel_i(v, 0, True)
    if code == I1:
        return bessel_i(v, 1, False)
    if code == I1E:
        return bessel_i(v, 1, True)
    if code == ERFCX:
        return erfcx(v)
    if code == NDTRI:
        return ndtri(v)
    if code == LOG_NDTR:
        return log_ndtr(v)
    if code == ENTR:
        return entr(v)
    return math.nan


@njit(cache=True, error_model="numpy")
def special_d(code, gy, x, y, fa, fb):
    """The input adjoint of one element (PyTorch's formulas; ``fa``: polygamma's n, mvlgamma's p).
    Each function value is rounded to the row's dtype (``f``) before it is combined, as the rule's
    tensor ops round it, so that a float32 kernel meets the rule."""
    f = type(x)
    v = np.float64(x)
    if code == LGAMMA:
        return gy * f(digamma(v))
    if code == DIGAMMA:
        return gy * f(trigamma(x))
    if code == POLYGAMMA:
        return gy * f(polygamma(int(fa) + 1, x))
    if code == MVLGAMMA:
        s = f(0.0)
        for j in range(int(fa)):
            s = s + f(digamma(np.float64(x - f(0.5 * j))))
        return gy * s
    if code == SINC:
        t = f(math.pi) * x
        d = t * x
        return gy * ((t * math.cos(t) - math.sin(t)) / d) if d != 0 else gy * f(0.0)
    sg = f(1.0) if x > 0 else (f(-1.0) if x < 0 else f(0.0))
    if code == I0:
        return gy * f(bessel_i(v, 1, False))
    if code == I0E:
        return gy * (f(bessel_i(v, 1, True)) - sg * y)
    # i1 and i1e: 0.5 where |x| <= fa (the dtype's epsilon, as PyTorch's)
    if code == I1:
        return gy * (f(bessel_i(v, 0, False)) - y / x if abs(x) > fa else f(0.5))
    if code == I1E:
        return gy * (f(bessel_i(v, 0, True)) - y * (sg + f(1.0) / x) if abs(x) > fa else f(0.5))
    if code == ERFCX:
        return gy * ((x * y) * f(2.0) - f(2.0 * RSQRT_PI))
    if code == NDTRI:
        return gy * (f(math.exp(y * y * f(0.5))) * f(SQRT_2PI))
    if code == LOG_NDTR:
        return gy * (f(math.exp(-(y + x * x * f(0.5)))) / f(SQRT_2PI))
    if code == ENTR:
        return gy * -(f(math.log(v) if x > 0 else (-math.inf if x == 0 else math.nan)) + f(1.0))
    return math.nan


@njit(cache=True, error_model="numpy")
def special_bf(code, a, b):
    if code == XLOG1PY:
        return xlog1py(np.float64(a), np.float64(b))
    # fmax, fmin: a nan operand gives the other (a if both are nan); a tie gives a
    if code == FMAX:
        return a if (a >= b or b != b) else b
    if code == FMIN:
        return a if (a <= b or b != b) else b
    return a - a + math.nan
    return math.nan


@njit(cache=True, error_model="numpy")
def special_bd(code, gy, a, b, y):
    if code == XLOG1PY:
        # PyTorch's: xlog1py(g, b), 0 where a == 0 and b <= -1; g a / (b + 1)
        da = 0.0 if (gy == 0 and b == b) else gy * type(b)(xlog1py(1.0, np.float64(b)))
        return (0.0 if (a == 0 and b <= -1) else da), (gy * a) / (b + type(b)(1.0))
    # fmax, fmin: the gradient goes where the value came from (all of it to a on a tie, equal
    # infinities too, as PyTorch's masked_fill: 0, not 0 * gy, elsewhere)
    if code == FMAX or code == FMIN:
        zero = type(gy)(0.0)
        return (gy, zero) if ((a >= b if code == FMAX else a <= b) or b != b) else (zero, gy)
    return math.nan, math.nan
