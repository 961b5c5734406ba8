"""``tape.special``: PyTorch's ``torch.special`` functions.  Most are the elementwise ops under their
``special`` names (``expit`` is ``sigmoid``, ``gammaln`` is ``lgamma``, ``psi`` is ``digamma``); the
others are in ``ops/special.py``, ``ops/special_extra.py``, ``ops/softmax.py`` and ``ops/elementwise.py``."""
from __future__ import annotations

from typing import Optional

from ._out import call_with_out, out_form
from ._tensor import Tensor
from .ops.elementwise import XLOGY, _with_wrapped
from .ops.softmax import log_softmax, logsumexp, softmax
from .ops.special import polygamma, xlog1py
from .ops import special_extra as _extra

__all__ = ["airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "chebyshev_polynomial_t",
           "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w", "digamma", "entr", "erf",
           "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammainc", "gammaincc", "gammaln",
           "hermite_polynomial_h", "hermite_polynomial_he", "i0", "i0e", "i1", "i1e", "laguerre_polynomial_l",
           "legendre_polynomial_p", "log1p", "log_ndtr", "log_softmax", "logit", "logsumexp", "modified_bessel_i0",
           "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1", "multigammaln", "ndtr", "ndtri",
           "polygamma", "psi", "round", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
           "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
           "shifted_chebyshev_polynomial_w", "sinc", "softmax", "spherical_bessel_j0", "xlog1py", "xlogy", "zeta"]


def _tensor(x, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"special_{name}(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")
    return x


def _alias(method: str, name: str, doc: str):
    def fn(input: Tensor) -> Tensor:
        return getattr(_tensor(input, name), method)()
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


digamma = _alias("digamma", "digamma", "The logarithmic derivative of the gamma function of each element.")
psi = _alias("digamma", "psi", "Alias of :func:`tape.special.digamma`.")
gammaln = _alias("lgamma", "gammaln", "The log of the absolute value of the gamma function of each element.")
erf = _alias("erf", "erf", "The error function of each element.")
erfc = _alias("erfc", "erfc", "The complementary error function of each element.")
erfinv = _alias("erfinv", "erfinv", "The inverse error function of each element.")
erfcx = _alias("_erfcx", "erfcx", "The scaled complementary error function ``exp(x^2) erfc(x)`` of each element.")
exp2 = _alias("exp2", "exp2", "``2 ** x`` for each element.")
expm1 = _alias("expm1", "expm1", "``exp(x) - 1`` for each element, accurate near 0.")
expit = _alias("sigmoid", "expit", "The logistic sigmoid of each element.")
log1p = _alias("log1p", "log1p", "``log(1 + x)`` for each element, accurate near 0.")
sinc = _alias("sinc", "sinc", "The normalized sinc function of each element.")
i0 = _alias("i0", "i0", "The modified Bessel function of the first kind, order 0, of each element.")
i0e = _alias("_i0e", "i0e", "``exp(-|x|) i0(x)`` for each element.")
i1 = _alias("_i1", "i1", "The modified Bessel function of the first kind, order 1, of each element.")
i1e = _alias("_i1e", "i1e", "``exp(-|x|) i1(x)`` for each element.")
ndtri = _alias("_ndtri", "ndtri", "The inverse of the standard normal distribution function, of each element.")
log_ndtr = _alias("_log_ndtr", "log_ndtr", "The log of the standard normal distribution function, of each element.")
entr = _alias("_entr", "entr", "``-x log x`` for each element (0 at 0, -inf below 0).")


def ndtr(input: Tensor) -> Tensor:
    """The standard normal distribution function of each element, ``(1 + erf(x / sqrt 2)) / 2`` (as
    PyTorch composes it)."""
    return _extra.ndtr(_tensor(input, "ndtr"))


def logit(input: Tensor, eps: Optional[float] = None) -> Tensor:
    """``log(x / (1 - x))`` for each element, x first clamped into ``[eps, 1 - eps]`` if eps is given."""
    return _tensor(input, "logit").logit(eps)


def round(input: Tensor, *, decimals: int = 0) -> Tensor:
    """Each element rounded to ``decimals`` decimal places (half to even)."""
    return _tensor(input, "round").round(decimals=decimals)


def multigammaln(input: Tensor, p: int) -> Tensor:
    """The multivariate log-gamma function of dimension ``p`` of each element."""
    return _tensor(input, "multigammaln").mvlgamma(p)


def xlogy(input, other) -> Tensor:
    """``input * log(other)``, 0 where ``input`` is 0 (unless ``other`` is nan); either may be a number."""
    if isinstance(input, Tensor):
        return input.xlogy(other)
    if not isinstance(other, Tensor):
        raise TypeError(f"special_xlogy() received an invalid combination of arguments - got "
                        f"({type(input).__name__}, {type(other).__name__})")
    return _with_wrapped(input, other, XLOGY, True)


def _with_out(name: str):
    """``ops/special_extra.py``'s function ``name`` with PyTorch's ``out=``."""
    base = getattr(_extra, name)

    def fn(*args, out: Optional[Tensor] = None, **kwargs) -> Tensor:
        if out is not None:
            return call_with_out("special_" + name, base, args, {"out": out, **kwargs})
        return base(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = base.__doc__
    fn.__wrapped__ = base       # (its signature, for ``inspect``)
    return fn


# ``out=`` of the others: the name PyTorch's refusal of an argument that requires grad gives (None: a
# composite, ``tape/_out.py``)
_OUT_FORMS = {"digamma": "digamma", "psi": "digamma", "entr": "special_entr", "erf": "erf", "erfc": "erfc",
              "erfcx": "special_erfcx", "erfinv": "erfinv", "exp2": "exp2", "expit": "sigmoid", "expm1": "expm1",
              "gammaln": "lgamma", "i0": "i0", "i0e": "special_i0e",
              "i1": "special_i1", "i1e": "special_i1e", "log1p": "log1p", "log_ndtr": "special_log_ndtr",
              "logit": "logit", "logsumexp": "logsumexp", "multigammaln": "mvlgamma", "ndtr": None,
              "ndtri": "special_ndtri", "polygamma": "polygamma", "round": "round", "sinc": "sinc",
              "xlog1py": "special_xlog1py", "xlogy": "xlogy"}


airy_ai = _with_out("airy_ai")
bessel_j0 = _with_out("bessel_j0")
bessel_j1 = _with_out("bessel_j1")
bessel_y0 = _with_out("bessel_y0")
bessel_y1 = _with_out("bessel_y1")
modified_bessel_i0 = _with_out("modified_bessel_i0")
modified_bessel_i1 = _with_out("modified_bessel_i1")
modified_bessel_k0 = _with_out("modified_bessel_k0")
modified_bessel_k1 = _with_out("modified_bessel_k1")
scaled_modified_bessel_k0 = _with_out("scaled_modified_bessel_k0")
scaled_modified_bessel_k1 = _with_out("scaled_modified_bessel_k1")
spherical_bessel_j0 = _with_out("spherical_bessel_j0")
chebyshev_polynomial_t = _with_out("chebyshev_polynomial_t")
chebyshev_polynomial_u = _with_out("chebyshev_polynomial_u")
chebyshev_polynomial_v = _with_out("chebyshev_polynomial_v")
chebyshev_polynomial_w = _with_out("chebyshev_polynomial_w")
shifted_chebyshev_polynomial_t = _with_out("shifted_chebyshev_polynomial_t")
shifted_chebyshev_polynomial_u = _with_out("shifted_chebyshev_polynomial_u")
shifted_chebyshev_polynomial_v = _with_out("shifted_chebyshev_polynomial_v")
shifted_chebyshev_polynomial_w = _with_out("shifted_chebyshev_polynomial_w")
hermite_polynomial_h = _with_out("hermite_polynomial_h")
hermite_polynomial_he = _with_out("hermite_polynomial_he")
laguerre_polynomial_l = _with_out("laguerre_polynomial_l")
legendre_polynomial_p = _with_out("legendre_polynomial_p")
gammainc = _with_out("gammainc")
gammaincc = _with_out("gammaincc")
zeta = _with_out("zeta")


for _name, _grad_name in _OUT_FORMS.items():
    globals()[_name] = out_form(globals()[_name], _grad_name)
