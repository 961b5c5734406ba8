"""erf and erfc of big arrays: numpy's SIMD exp, then compiled loops of polynomials (which vectorize).

numba here has no SVML, so a loop calling libm's erf runs one element at a time (~30 ns each); numpy has
no erf.  The only transcendental function here is ``exp(-h*h)``, left to numpy's SIMD exp; the rest is
polynomial arithmetic, evaluated in float64 for both dtypes (float32 results are then rounded once):

* ``|x| < 1``: ``erf(x) = x * T(x*x)``, T the Taylor series of erf(x) / x to degree 18 in x*x (the next
  term is below 3e-19);
* ``0.5 <= |x| < 8``: ``erfc(|x|) = exp(-x*x) * erfcx(|x|)``, erfcx by one of 15 polynomials of degree 13
  on pieces of width 0.5 (``_ERFCX``: each the interpolant at 14 Chebyshev nodes of erfcx computed with
  mpmath at 50 digits, coefficients in the piece's variable ``s = (|x| - centre) / 0.25`` rounded to
  float64);
* ``|x| >= 8``: erfcx by its asymptotic series to 16 terms (below 4e-17 from there on).

``exp(-x*x)`` loses digits when ``x*x`` is rounded (25 ulps at x = 5): the loop squares ``h``, |x|
rounded to float32 (24 bits, so ``h*h`` is exact), and multiplies by ``exp(-(|x| - h)(|x| + h))``, a short
series.  Accuracy (``tests/test_elementwise3.py`` measures it over a dense grid against math.erf and
math.erfc, themselves within 1 ulp): in float64 erf within 2 ulps and erfc within 5 (3 against mpmath on a
sample); in float32 both within half an ulp of libm's float64 value (correctly rounded but where that
value falls within a few float64 ulps of a tie).  Three loops rather than one: a loop with every case in
it does not vectorize, and each element's case would be a jump the CPU mispredicts half the time.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .._emit import in_parts
from ._vecmath import wide

# erf(x) / x = 2/sqrt(pi) * sum_n (-1)^n t^n / (n! (2n + 1)), t = x*x
_TAYLOR = np.array([2.0 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(19)])
# x * erfcx(x) * sqrt(pi) ~ sum_n (-1)^n (2n - 1)!! / 2^n * v^n, v = 1 / x^2
_ASYMPTOTIC = np.array([(-1) ** n * math.prod(range(1, 2 * n, 2)) / 2.0 ** n for n in range(16)])
_RSQRT_PI = 1.0 / math.sqrt(math.pi)
_BELOW_8 = float(np.nextafter(8.0, 0.0))
_ERFCX = np.array([     # pieces [0.5, 1), [1, 1.5) ... [7.5, 8); columns: powers of s
    [0.5069376502931449, -0.09199317291394885, 0.014434883221955935, -0.002028688468670001, 0.00026090055675162256,
     -3.114966996088564e-05, 3.4885738732198706e-06, -3.693562177597921e-07, 3.719545089633589e-08,
     -3.5801438250789833e-09, 3.306043556501409e-10, -2.940348914756972e-11, 2.585599367357183e-12,
     -2.1463289279578493e-13],
    [0.3678229164523611, -0.052205468991152464, 0.006674723218537403, -0.0007846605374360542, 8.598189160525874e-05,
     -8.86877698531246e-06, 8.674584703816643e-07, -8.091936811748378e-08, 7.2322189424948945e-09,
     -6.216435284092416e-10, 5.1541247449058564e-11, -4.134526075119391e-12, 3.2792698382308406e-13,
     -2.4751971707679498e-14],
    [0.2849722347374364, -0.0327440863786213, 0.0034852268804429517, -0.00034781242564669245, 3.2829371903672606e-05,
     -2.950170558035268e-06, 2.537120413469028e-07, -2.096761188871753e-08, 1.670918856329355e-09,
     -1.2876651117526543e-10, 9.618300132850773e-12, -6.98001921004777e-13, 5.0106344274055084e-14,
     -3.4468073314145138e-15],
    [0.23108725873039188, -0.02212162570218729, 0.001999539213169141, -0.0001719071993193757, 1.4136700602967932e-05,
     -1.116922347318516e-06, 8.50916557327825e-08, -6.269597236192441e-09, 4.478951242604127e-10,
     -3.109087010843463e-11, 2.1007977934821924e-12, -1.384236754687318e-13, 9.028565100004485e-15,
     -5.676447983477238e-16],
    [0.1936620962790687, -0.01580940939015871, 0.001234912061707679, -9.272402964059338e-05, 6.717116739412168e-06,
     -4.7089363767687664e-07, 3.202680676308224e-08, -2.1178350568482745e-09, 1.364159754351791e-10,
     -8.57305040538627e-12, 5.263756920935611e-13, -3.161873147170681e-14, 1.8816092271791067e-15,
     -1.0847655660329031e-16],
    [0.16633534842682188, -0.011799850580292594, 0.0008085806801886348, -5.367923907668084e-05, 3.460955380993485e-06,
     -2.1717047809422727e-07, 1.3286232618759893e-08, -7.93740250497401e-10, 4.6368900337520466e-11,
     -2.6520085237328398e-12, 1.4865392573332567e-13, -8.175039305748376e-15, 4.457648310707091e-16,
     -2.3647193114602224e-17],
    [0.14558972127503855, -0.009114064383180883, 0.0005549222204578311, -3.292629484639235e-05,
     1.9071186800608639e-06, -1.0798786613700727e-07, 5.9854309997986076e-09, -3.251143059706388e-10,
     1.7323694828089317e-11, -9.063736174375509e-13, 4.6599785350317236e-14, -2.3562615397644294e-15,
     1.1822811391010087e-16, -5.791975523734219e-18],
    [0.12934527478598792, -0.007236082853653833, 0.00039574164211704684, -2.1186455736001536e-05,
     1.1116217064069109e-06, -5.722216817710758e-08, 2.892600987337383e-09, -1.4371341769277275e-10,
     7.023014083941347e-12, -3.3780809631697506e-13, 1.6003116101420737e-14, -7.471367522606014e-16,
     3.464057794827773e-17, -1.572855915960239e-18],
    [0.11630270721024731, -0.005875862149540788, 0.00029133289806077125, -1.4189045266088914e-05,
     6.794074376588124e-07, -3.2007598764288934e-08, 1.4846471070051045e-09, -6.784470947703108e-11,
     3.056212985108357e-12, -1.35787002342481e-13, 5.953155165577668e-15, -2.576696132348382e-16,
     1.1083358204341322e-17, -4.680656053198246e-19],
    [0.1056127354688918, -0.004861361168037162, 0.0002202594337569623, -9.829710797539739e-06, 4.323595940196198e-07,
     -1.8753983078193703e-08, 8.026239453588963e-10, -3.3908575455358766e-11, 1.4147478442928538e-12,
     -5.831765534909897e-14, 2.3759351424942052e-15, -9.570824155898267e-17, 3.833789536699201e-18,
     -1.5110350537465862e-19],
    [0.09669877816971392, -0.004085804535950621, 0.00017032961517810219, -7.009307785594623e-06,
     2.848605034195586e-07, -1.1437905173619582e-08, 4.5393092554588553e-10, -1.7812390821590837e-11,
     6.913427664408314e-13, -2.6548713258425354e-14, 1.0090202844901735e-15, -3.79659659064509e-17,
     1.4213315274561339e-18, -5.2452197211357137e-20],
    [0.08915663178727438, -0.003480317438645675, 0.00013429348882078198, -5.1241757552552214e-06,
     1.9340921685629573e-07, -7.223633346195784e-09, 2.670496500284229e-10, -9.774858847581666e-12,
     3.5434654654966455e-13, -1.2724933944477036e-14, 4.527867588570204e-16, -1.5967897506942102e-17,
     5.605606755856234e-19, -1.9428900813955505e-20],
    [0.08269505677505307, -0.0029989751580740674, 0.0001076704691908272, -3.828020413405556e-06,
     1.3480993840241245e-07, -4.703801913510522e-09, 1.626518070336397e-10, -5.575055778465622e-12,
     1.8945782917179506e-13, -6.384644647290499e-15, 2.1340410612137988e-16, -7.076116992720512e-18,
     2.336670805556043e-19, -7.628460099938478e-21],
    [0.0770991803512599, -0.002610263000561, 8.759708343693146e-05, -2.91448253708282e-06, 9.615905817280236e-08,
     -3.1467462517888026e-09, 1.0215451814420338e-10, -3.2904504572052797e-12, 1.051789828993412e-13,
     -3.336943930809723e-15, 1.0509464591608335e-16, -3.2861870633819825e-18, 1.0237204616153054e-19,
     -3.1565464298958544e-21],
    [0.07220717081466976, -0.0022920048670328217, 7.218874604076837e-05, -2.256405823708424e-06,
     7.000517205647579e-08, -2.156137248941872e-09, 6.593577790157396e-11, -2.0022881069926978e-12,
     6.038822801794099e-14, -1.8090700381906434e-15, 5.383801911016504e-17, -1.5918753573289336e-18,
     4.6908758939155375e-20, -1.3695482921204863e-21],
])


@njit(cache=True, error_model="numpy", nogil=True)
def _squares(x, out):
    """``-h*h`` with h = |x| rounded to float32 (exact in float64): numpy's exp takes it next."""
    wide()
    for i in range(x.shape[0]):
        h = np.float64(np.float32(abs(x[i])))
        out[i] = -(h * h)


@njit(cache=True, error_model="numpy", nogil=True)
def _small(x, out, complement):
    """``erf(x)`` (``1 - erf(x)``) by the Taylor series, for every element: a loop the CPU's vector
    units take (a loop with every case in it does not vectorize)."""
    wide()
    for i in range(x.shape[0]):
        xi = np.float64(x[i])
        t = xi * xi
        y = _TAYLOR[18]
        for j in range(17, -1, -1):
            y = y * t + _TAYLOR[j]
        out[i] = 1.0 - xi * y if complement else xi * y


@njit(cache=True, error_model="numpy", inline="always")
def _exp_minus_square(a, e):
    """``exp(-a*a)`` from ``e = exp(-h*h)``: times ``exp(-d)``, ``d = a*a - h*h`` (|d| < 6e-5)."""
    h = np.float64(np.float32(a))
    d = (a - h) * (a + h)
    d = d if d == d else 0.0                                             # (|x| = inf)
    return e * (1.0 - d * (1.0 - d * (0.5 - d * (1.0 / 6.0))))


@njit(cache=True, error_model="numpy", nogil=True)
def _large(x, e, out, complement):
    """Overwrite the elements from ``|x| = 1`` (erf) or ``0.5`` (erfc) up to 8 by the pieces of erfcx."""
    wide()
    for i in range(x.shape[0]):
        xi = np.float64(x[i])
        a = abs(xi)
        c = min(a, _BELOW_8) if a > 0.5 else 0.5                         # (a piece's own range, or nan)
        k = int((c - 0.5) * 2.0)
        s = (c - (0.75 + 0.5 * k)) * 4.0
        y = _ERFCX[k, 13]
        for j in range(12, -1, -1):
            y = y * s + _ERFCX[k, j]
        big = _exp_minus_square(a, e[i]) * y
        # (a blend, not a jump: the loop stays vectorized)
        if complement:
            r = 2.0 - big if xi < 0 else big
            out[i] = r if (a >= 0.5 and a < 8.0) else out[i]
        else:
            r = math.copysign(1.0 - big if a < 6.0 else 1.0, xi)
            out[i] = out[i] if a < 1.0 else (r if a == a else xi)


@njit(cache=True, error_model="numpy", nogil=True)
def _tail(x, e, out):
    """erfc from ``|x| = 8`` (and of nan) by the asymptotic series of erfcx."""
    wide()
    for i in range(x.shape[0]):
        xi = np.float64(x[i])
        a = abs(xi)
        v = 1.0 / (a * a)
        z = _ASYMPTOTIC[15]
        for j in range(14, -1, -1):
            z = z * v + _ASYMPTOTIC[j]
        big = _exp_minus_square(a, e[i]) * (z * _RSQRT_PI / a)
        r = 2.0 - big if xi < 0 else big
        out[i] = out[i] if a < 8.0 else (r if a == a else xi)


@njit(cache=True, error_model="numpy", nogil=True)
def _pick(x, bound, idx, picked):
    """The elements from ``|x| = bound`` on (and nans), which the pieces of erfcx overwrite: their
    positions into ``idx``, themselves into ``picked``; returns how many."""
    m = 0
    for i in range(x.shape[0]):
        # (written whatever the test, and kept by counting it: a jump here would be mispredicted
        # for a third of normal data, which costs more than the rest of erf)
        idx[m] = i
        picked[m] = x[i]
        m += not abs(x[i]) < bound
    return m


@njit(cache=True, error_model="numpy", nogil=True)
def _put(values, idx, out):
    for j in range(values.shape[0]):
        out[idx[j]] = values[j]


# Elements per part on another core, at least: ~8 ns an element, so a part of 2^15 costs well
# over the ~70 us of handing it over.
PART = 1 << 15


def erf_vectorized(x: np.ndarray, complement: bool = False, out: np.ndarray | None = None) -> np.ndarray:
    """``erf(x)`` (``erfc(x)`` with ``complement``) of a float32 or float64 array, into ``out`` if given
    (C-contiguous, of ``x``'s shape and dtype), in parts on all cores (each element by the same
    instructions in any part).  The Taylor series runs over every
    element; the pieces of erfcx (and numpy's exp before them) only over the elements they give
    (from ``|x| = 1``, erfc's from 0.5), gathered first: a third of normal data."""
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty(flat.shape, x.dtype) if out is None else out.reshape(-1)

    def part(lo: int, hi: int) -> None:
        xs, outs = flat[lo:hi], out[lo:hi]
        _small(xs, outs, complement)
        idx = np.empty(hi - lo, np.int64)
        picked = np.empty(hi - lo, x.dtype)
        m = _pick(xs, 0.5 if complement else 1.0, idx, picked)
        xs, idx = picked[:m], idx[:m]
        e = np.empty(m, np.float64)
        _squares(xs, e)
        np.exp(e, out=e)
        values = np.empty(m, x.dtype)
        _large(xs, e, values, complement)
        if complement:
            _tail(xs, e, values)
        _put(values, idx, outs)

    in_parts(part, flat.shape[0], PART)
    return out.reshape(x.shape)
