"""Functions PyTorch writes in terms of other ops (CompositeImplicitAutograd), as ATen writes them, so
that their graphs are made of the nodes of the ops they call (``cov`` is a ``SqueezeBackward0`` of a
``DivBackward0`` of an ``MmBackward0`` ..., ``quantile`` a squeeze of a ``LerpBackward1`` of two
gathers of a sort) and every order of derivative comes from those ops: covariance and correlation,
quantiles, the trapezoidal rule, Vandermonde matrices, cartesian products and combinations,
distances and similarities, and the deprecated matrix norms.
"""
from __future__ import annotations

import warnings
from typing import Callable, Optional, Union

import numpy as np

from .._emit import D, Number, Tensor, emit, plain, state
from .addmm import INT_SCALAR, MUL_SCALAR, scalar_of
from ._args import wrap_dim
from ._parser import Forms, check_elements, check_types
from ._rule import rule_adjoint
from ._spec import PYTHON, TRANSPOSED, Op, public, public_function, register, tangents
from .join import _no_grad_out, _write_out, cat, meshgrid, stack
from .decomp import matrix_norm
from .layout import aten_slice, broadcast_tensors
from .shape import V_SQUEEZE_DIMS, V_UNSQUEEZE_, _transpose, viewed
from .stats import aten_norm, vector_norm


# ATen's C++ ops with a Scalar operand, which PyTorch's composites call: their nodes are named
# ``AddBackward1``, ``DivBackward1`` (Python's numbers make ``AddBackward0`` ...), and show no number input.
SCALAR_OP = PYTHON.start + 45
S_ADD, S_DIV = 0, 1         # (``ib``)


def _scalar_op(t: Tensor, c: float, how: int) -> Tensor:
    """``t + c`` or ``t / c`` as ATen's op with a Scalar (a floating number, or a division, makes an
    integer tensor's result floating)."""
    if (how == S_DIV or isinstance(c, float)) and not t._dtype.is_floating_point:
        t = t.to(D.get_default_dtype())
    c_ = t._dtype.np.type(c)
    y = np.require(t._value() + c_ if how == S_ADD else t._value() / c_, t._dtype.np, "C")
    if t._rg and state.grad:
        return emit(SCALAR_OP, y, t._dtype, t, ib=how | (INT_SCALAR if type(c) is int else 0), fa=c)
    return plain(y, t._dtype)


def _div_scalar(t: Tensor, c: float) -> Tensor:
    return _scalar_op(t, c, S_DIV)


register(Op(SCALAR_OP, "add", "AddBackward1", 0,
            lambda g, xs, y, r: (g if r.ib & 1 == S_ADD else _div_scalar(g, scalar_of(r)),), py_adjoint=rule_adjoint,
            grad_fn_of=lambda r: ("AddBackward1", "DivBackward1")[r.ib & 1],
            node_saved=lambda r: (("other", scalar_of),) if r.ib & 1 == S_DIV else ()))
tangents({SCALAR_OP: TRANSPOSED})     # (linear: its adjoint rule, transposed)


def _scalar_tensor_true(t: Tensor) -> bool:
    return bool(t._value())


# --- covariance and correlation --------------------------------------------------------------------
@public("cov")
def cov(self, *, correction: int = 1, fweights: Optional[Tensor] = None,
        aweights: Optional[Tensor] = None) -> Tensor:
    """The covariance matrix of the variables given by the rows of ``self`` (observations in its
    columns; a 1-D tensor is one variable), with ``correction`` degrees of freedom and optional
    integer frequency weights and floating-point observation weights."""
    if self.dim() > 2:
        raise RuntimeError("cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{self.dim()} dimensions")
    if self._dtype is D.bool_:
        raise RuntimeError("cov(): bool dtype is not supported for input")
    x = self.view(1, -1) if self.dim() < 2 else self
    n = x._shape[1]
    w = None
    if fweights is not None:
        w = fweights
        if w.dim() > 1:
            raise RuntimeError("cov(): expected fweights to have one or fewer dimensions but got fweights with "
                               f"{w.dim()} dimensions")
        if w._dtype.is_floating_point or w._dtype is D.bool_:
            raise RuntimeError("cov(): expected fweights to have integral dtype but got fweights with "
                               f"{D.legacy_name(w._dtype)} dtype")
        if w.numel() != n:
            raise RuntimeError("cov(): expected fweights to have the same numel as there are observations in the "
                               f"input but got {w.numel()} != {n}")
        if n and not _scalar_tensor_true(w.min().ge(0)):
            raise RuntimeError("cov(): fweights cannot be negative")
    if aweights is not None:
        aw = aweights
        if aw.dim() > 1:
            raise RuntimeError("cov(): expected aweights to have one or fewer dimensions but got aweights with "
                               f"{aw.dim()} dimensions")
        if not aw._dtype.is_floating_point:
            raise RuntimeError("cov(): expected aweights to have floating point dtype but got aweights with "
                               f"{D.legacy_name(aw._dtype)} dtype")
        if aw.numel() != n:
            raise RuntimeError("cov(): expected aweights to have the same numel as there are observations in the "
                               f"input but got {aw.numel()} != {n}")
        if n and not _scalar_tensor_true(aw.min().ge(0)):
            raise RuntimeError("cov(): aweights cannot be negative")
        w = aw if w is None else w * aw
    w_sum = w.sum() if w is not None else plain(np.array(n, np.int64), D.int64)
    if w is not None and not _scalar_tensor_true(w_sum.ne(0)):
        raise RuntimeError("cov(): weights sum to zero, can't be normalized")
    avg = (x * w if w is not None else x).sum(1) / w_sum
    if w is not None and aweights is not None and correction != 0:
        norm_factor = w_sum - correction * (w * aweights).sum() / w_sum
    else:
        norm_factor = w_sum - correction
    if _scalar_tensor_true(norm_factor.le(0)):
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less than the number of "
                      "observations.", UserWarning, stacklevel=2)
        norm_factor = norm_factor * 0
    x = x - avg.unsqueeze(1)
    c = x.mm((x * w if w is not None else x).t())
    return c.true_divide(norm_factor).squeeze()


@public("corrcoef")
def corrcoef(self) -> Tensor:
    """Pearson's correlation coefficients of the variables given by the rows of ``self``."""
    if self.dim() > 2:
        raise RuntimeError("corrcoef(): expected input to have two or fewer dimensions but got an input with "
                           f"{self.dim()} dimensions")
    c = cov(self)
    if c.dim() == 0:
        return c / c        # (nan where the variance is nan, inf or 0; 1 otherwise)
    stddev = c.diagonal().sqrt()
    c = c / stddev.view(-1, 1)
    c = c / stddev.view(1, -1)
    return c.clip(-1, 1)


# --- quantiles ----------------------------------------------------------------------------------
_MODES = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(self: Tensor, q, dim, keepdim: bool, interpolation: str, ignore_nan: bool,
              out: Optional[Tensor]) -> Tensor:
    fname = "quantile"      # (nanquantile's errors say so too, as PyTorch's shared checks)
    if not isinstance(q, (Tensor, int, float, np.floating)) or isinstance(q, bool):
        _QUANTILE.named("nanquantile" if ignore_nan else "quantile").parse(
            (q,) if dim is None and not keepdim else (q, dim, keepdim), {})
    if isinstance(q, (int, float)) and not isinstance(q, bool):
        if not 0 <= q <= 1:
            raise RuntimeError(f"{fname}() q must be in the range [0, 1] but got {float(q)}")
        q = plain(np.array(q, self._dtype.np if self._dtype.is_floating_point else np.float64),
                  self._dtype if self._dtype.is_floating_point else D.float64)
    if interpolation not in _MODES:
        raise RuntimeError(f"{fname}() interpolation must be one of linear, lower, higher, midpoint or nearest, "
                           f"but got {interpolation}")
    if self.numel() == 0:
        raise RuntimeError(f"{fname}() input tensor must be non-empty")
    if q.dim() > 1:
        raise RuntimeError(f"{fname}() q must be a scalar or 1D tensor")
    if self._dtype not in (D.float32, D.float64):
        raise RuntimeError(f"{fname}() input tensor must be either float or double dtype")
    if q._dtype is not self._dtype:
        raise RuntimeError(f"{fname}() q tensor must be same dtype as the input tensor")
    qv = q._value()
    if qv.size and not ((qv >= 0) & (qv <= 1)).all():
        raise RuntimeError(f"{fname}() q values must be in the range [0, 1]")
    # the output's shape: q's size first, then self's dims (dim reduced; all of them without a dim)
    nd = self.dim()
    if dim is None:
        shape = [1] * nd if keepdim else []
        srt = self.flatten().sort()[0]
    else:
        d = wrap_dim(dim, nd)
        shape = list(self._shape)
        if keepdim and shape:
            shape[d] = 1
        elif shape:
            del shape[d]
        if d == nd - 1 or nd == 0:
            srt = self.sort()[0]
        else:
            srt = self.unsqueeze(-1).transpose(d, -1).sort()[0]
    if q.dim() > 0:
        shape = [q.numel()] + shape
    # sorted viewed as (*, n): the output's dims without q's, then the sorted dim
    srt = srt.view((shape[1:] if q.dim() > 0 else shape) + [srt._shape[-1] if srt._shape else 1])
    last = srt._shape[-1] - 1
    if ignore_nan:
        ranks = q * (srt.isnan().logical_not().sum(-1, True) - 1)
        ranks = ranks.masked_fill(ranks < 0, 0)
    else:
        anynan = srt.isnan().any(-1, True)
        rk, an = (q * last), anynan
        rk, an = broadcast_tensors(rk, an)
        ranks = rk.masked_fill(an, last)
    if interpolation == "lower":
        ranks = ranks.floor()
    elif interpolation == "higher":
        ranks = ranks.ceil()
    elif interpolation == "nearest":
        ranks = ranks.round()
    below = ranks.long()
    values = srt.gather(-1, below)
    if interpolation in ("linear", "midpoint"):
        weights = ranks.new_full(ranks.shape, 0.5) if interpolation == "midpoint" else ranks - below
        above = ranks.ceil().long()
        values = values.lerp(srt.gather(-1, above), weights)
    # (PyTorch's in place: UnsqueezeBackward1, TransposeBackward1, SqueezeBackward4)
    if q.dim() > 0:
        values = viewed(values, (1,) + values._shape, V_UNSQUEEZE_)
        values = _transpose(values, 0, values.dim() - 1, 2.0)
    values = viewed(values, values._shape[:-1], V_SQUEEZE_DIMS)
    if out is None:
        return values
    _write_out(values.detach(), out, "nanquantile" if ignore_nan else "quantile")
    return out.copy_(values) if values._rg and state.grad else out      # (PyTorch's copy: CopyBackwards)


# PyTorch's overloads of the method (the arguments given are taken as positional: the method cannot tell)
_QUANTILE = Forms("quantile", *(f'({q} q, int dim = None, bool keepdim = False, *, str interpolation = "linear")'
                                for q in ("Tensor", "float")))
_QUANTILE_FUNCTION = Forms("quantile", *(f'(Tensor input, {q} q, int dim = None, bool keepdim = False, *, '
                                         f'str interpolation = "linear", Tensor out = None)' for q in ("Tensor", "float")))


@public("quantile", error_forms=_QUANTILE_FUNCTION)
def quantile(self, q: Union[Tensor, float], dim: Optional[int] = None, keepdim: bool = False, *,
             interpolation: str = "linear", out: Optional[Tensor] = None) -> Tensor:
    """The ``q``-th quantiles of ``self`` along ``dim`` (of all its elements if None), interpolated
    between the two nearest ranks as ``interpolation`` says."""
    return _quantile(self, q, dim, keepdim, interpolation, False, out)


@public("nanquantile", error_forms=_QUANTILE_FUNCTION)
def nanquantile(self, q: Union[Tensor, float], dim: Optional[int] = None, keepdim: bool = False, *,
                interpolation: str = "linear", out: Optional[Tensor] = None) -> Tensor:
    """:func:`quantile` ignoring nan values (nan where every value is nan)."""
    return _quantile(self, q, dim, keepdim, interpolation, True, out)


# --- the trapezoidal rule ----------------------------------------------------------------------------
def _spacing(y: Tensor, x: Tensor, dim: int, name: str) -> Tensor:
    """``x``'s differences along ``dim``, viewed so that they broadcast with ``y``'s (NumPy's rule: a
    1-D ``x`` lies along ``dim``, a shorter one takes leading dims of size 1)."""
    if y._dtype is D.bool_ or x._dtype is D.bool_:
        raise RuntimeError(f"{name}: received a bool input for `x` or `y`, but bool is not supported")
    if x.dim() == 1:
        if x._shape[0] != y._shape[dim]:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point")
        sizes = [1] * y.dim()
        sizes[dim] = x._shape[0]
        x = x.view(sizes)
    elif x.dim() < y.dim():
        x = x.view((1,) * (y.dim() - x.dim()) + tuple(x._shape))
    n = x._shape[dim]
    return x.narrow(dim, 1, max(n - 1, 0)) - x.narrow(dim, 0, max(n - 1, 0))


def _mul_scalar(t: Tensor, c: float) -> Tensor:
    """``t * c`` as ATen's product with a Scalar (``MulBackward1``; also for a factor of 1)."""
    y = np.require(t._value() * t._dtype.np.type(c), t._dtype.np, "C")
    if t._rg and state.grad:
        return emit(MUL_SCALAR, y, t._dtype, t, ib=INT_SCALAR if type(c) is int else 0, fa=c)
    return plain(y, t._dtype)


def _zeros_except(y: Tensor, dim: int) -> Tensor:
    shape = list(y._shape)
    del shape[dim]
    return plain(np.zeros(shape, y._dtype.np), y._dtype)


def _dx(dx, name: str) -> float:
    if isinstance(dx, bool) or isinstance(dx, complex):
        raise RuntimeError(f"{name}: Currently, we only support dx as a real number.")
    return 1.0 if dx is None else float(dx)


@public_function("trapezoid")
def trapezoid(y: Tensor, x: Optional[Tensor] = None, *, dx: Optional[Number] = None, dim: int = -1) -> Tensor:
    """The integral of ``y`` along ``dim`` by the trapezoidal rule, at sample points ``x`` or spaced
    ``dx`` apart (1 by default)."""
    return _trapezoid(y, x, dx, dim, "trapezoid")


@public_function("trapz")
def trapz(y: Tensor, x: Optional[Tensor] = None, *, dx: Optional[Number] = None, dim: int = -1) -> Tensor:
    """Alias of :func:`trapezoid`."""
    return _trapezoid(y, x, dx, dim, "trapz")


def _trapezoid(y, x, dx, dim: int, fname: str) -> Tensor:
    _tensor_arg(y, fname, "y")
    if x is not None and dx is not None:
        raise TypeError(f"{fname}() received an invalid combination of arguments: x and dx are both given")
    _bad_x(x, fname)
    if not y._shape:
        # (PyTorch names the dim as given, wrapped only when it read ``x``'s spacing along it)
        raise IndexError(f"Dimension specified as {dim if x is None else wrap_dim(dim, 0)} but tensor has no "
                         "dimensions")
    dim = wrap_dim(dim, y.dim())
    if y._shape[dim] == 0:
        return _zeros_except(y, dim)
    n = y._shape[dim]
    if x is not None:
        d = _spacing(y, x, dim, "trapezoid")
        # (ATen's operand order: the sums of neighbours times the spacing)
        return _div_scalar(((y.narrow(dim, 1, n - 1) + y.narrow(dim, 0, n - 1)) * d).sum(dim), 2.0)
    if y._dtype is D.bool_:
        raise RuntimeError("trapezoid: received a bool input for `y`, but bool is not supported")
    return _mul_scalar(y.sum(dim) - (y.select(dim, 0) + y.select(dim, -1)) * 0.5, _dx(dx, "trapezoid"))


@public_function("cumulative_trapezoid")
def cumulative_trapezoid(y: Tensor, x: Optional[Tensor] = None, *, dx: Optional[Number] = None,
                         dim: int = -1) -> Tensor:
    """The running integral of ``y`` along ``dim`` by the trapezoidal rule (one fewer element than
    ``y`` along ``dim``), at sample points ``x`` or spaced ``dx`` apart (1 by default)."""
    _tensor_arg(y, "cumulative_trapezoid", "y")
    if x is not None and dx is not None:
        raise TypeError("cumulative_trapezoid() received an invalid combination of arguments: x and dx are both "
                        "given")
    _bad_x(x, "cumulative_trapezoid")
    if not y._shape:
        if x is not None:
            wrap_dim(dim, 0)
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    dim = wrap_dim(dim, y.dim())
    n = y._shape[dim]
    pairs = y.narrow(dim, 0, max(n - 1, 0)) + y.narrow(dim, min(n, 1), max(n - 1, 0))
    if x is not None:
        d = _spacing(y, x, dim, "cumulative_trapezoid")
        return _div_scalar((pairs * d).cumsum(dim), 2.0)
    if y._dtype is D.bool_:
        raise RuntimeError("cumulative_trapezoid: received a bool input for `y`, but bool is not supported")
    if not pairs._dtype.is_floating_point:
        pairs = pairs.to(D.get_default_dtype())
    return _mul_scalar(pairs, _dx(dx, "cumulative_trapezoid") / 2.0).cumsum(dim)


def _bad_x(x, fname: str) -> None:
    if x is not None and not isinstance(x, Tensor):
        raise TypeError(f"{fname}() received an invalid combination of arguments - got (Tensor, {type(x).__name__}), "
                        "but expected one of:\n * (Tensor y, Tensor x, *, int dim = -1)\n"
                        " * (Tensor y, *, Number dx = 1, int dim = -1)\n")


def _tensor_arg(t, fname: str, arg: str, pos: int = 1) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{fname}(): argument '{arg}' (position {pos}) must be Tensor, not {type(t).__name__}")


@public_function("vander")
def vander(x: Tensor, N: Optional[int] = None, increasing: bool = False) -> Tensor:
    """The Vandermonde matrix of ``x``: its columns are powers of ``x``, decreasing from ``N - 1``
    (increasing from 0 if ``increasing``)."""
    check_types("vander", (("x", Tensor), ("N", "int?"), ("increasing", "bool")), x, N, increasing)
    if x.dim() != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x._shape[0] if N is None else int(N)
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    dt = D.promote(x._dtype, D.int64)
    result = plain(np.empty((x._shape[0], n), dt.np), dt)
    if n > 0:
        result.fill_(1)
        if n > 1:
            result[:, 1:].copy_(x.unsqueeze(1))
            result[:, 1:].copy_(result[:, 1:].cumprod(1))
    return result if increasing else result.flip(1)


# --- products of sets --------------------------------------------------------------------------------
@public_function("cartesian_prod")
def cartesian_prod(*tensors: Tensor) -> Tensor:
    """The cartesian product of 1-D tensors: one row per combination of their elements."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    check_elements(tensors, Tensor)
    for t in tensors:
        if t.dim() != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t._shape)}")
    if len(tensors) == 1:
        return tensors[0]
    return stack([g.flatten() for g in meshgrid(*tensors, indexing="ij")], 1)


@public_function("combinations")
def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """The length-``r`` combinations of the elements of a 1-D tensor (``itertools.combinations``, or
    ``combinations_with_replacement``), one per row."""
    check_types("combinations", (("input", Tensor), ("r", "int"), ("with_replacement", "bool")), input, r,
                with_replacement)
    if input.dim() != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input._shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return plain(np.empty((0,), input._dtype.np), input._dtype)
    n = input._shape[0]
    grid = np.indices((n,) * r)
    mask = np.ones((n,) * r, bool)
    for a, b in zip(grid[:-1], grid[1:]):
        mask &= (a <= b) if with_replacement else (a < b)
    m = plain(mask, D.bool_)
    return stack([g.masked_select(m) for g in meshgrid(*([input] * r), indexing="ij")], 1)


# --- distances and similarities ---------------------------------------------------------------------
@public_function("cosine_similarity")
def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """The cosine of the angle between ``x1`` and ``x2`` along ``dim`` (broadcast together), each
    norm kept from below ``eps``."""
    _tensor_arg(x1, "cosine_similarity", "x1")
    _tensor_arg(x2, "cosine_similarity", "x2", 2)
    common = D.result_type(x1, x2)
    if not common.is_floating_point:
        raise RuntimeError(f"expected common dtype to be floating point, yet common dtype is "
                           f"{D.legacy_name(common)}")
    x1, x2 = x1.to(common), x2.to(common)
    x1, x2 = broadcast_tensors(x1, x2)
    n1 = vector_norm(x1, 2, dim, True).clone()
    n2 = vector_norm(x2, 2, dim, True).clone()
    # (as PyTorch's: clamped without recording, so the gradient is the unclamped norm's)
    prev, state.grad = state.grad, False
    try:
        n1.clamp_min_(eps)
        n2.clamp_min_(eps)
    finally:
        state.grad = prev
    q2 = x2 / n2        # (first, as PyTorch's build evaluates it: its nodes' order and saved tensors' packing)
    return ((x1 / n1) * q2).sum(dim)


@public_function("pairwise_distance")
def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """The ``p``-norm of ``x1 - x2 + eps`` over the last dim (of the broadcast shape)."""
    _tensor_arg(x1, "pairwise_distance", "x1")
    _tensor_arg(x2, "pairwise_distance", "x2", 2)
    nd = max(x1.dim(), x2.dim())
    return aten_norm(_scalar_op(x1 - x2, eps, S_ADD), p, nd - 1, keepdim)


# --- deprecated norms ---------------------------------------------------------------------------------
@public_function("frobenius_norm")
def frobenius_norm(input: Tensor, dim, keepdim: bool = False, *, out: Optional[Tensor] = None) -> Tensor:
    """The 2-norm of ``input``'s elements over ``dim`` (at most two dims); deprecated."""
    _tensor_arg(input, "frobenius_norm", "input")
    _warn_once("at::frobenius_norm is deprecated and it is just left for JIT compatibility. It will be removed "
                  "in a future PyTorch release. Please use `linalg.vector_norm(A, 2., dim, keepdim)` instead",
                  )
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if len(dims) > 2:
        raise RuntimeError(f"Expected at most 2 dimensions, but got {len(dims)} dimensions instead.")
    if out is not None:
        _no_grad_out([input], out, "frobenius_norm")
    return _write_out(aten_norm(input, 2, dims, keepdim), out, "frobenius_norm")


@public_function("nuclear_norm")
def nuclear_norm(input: Tensor, dim=None, keepdim: bool = False, *, out: Optional[Tensor] = None) -> Tensor:
    """The sum of the singular values of a matrix (over the two dims ``dim``); deprecated."""
    _tensor_arg(input, "nuclear_norm", "input")
    _warn_once("at::nuclear_norm is deprecated and it is just left for JIT compatibility. It will be removed in "
                  "a future PyTorch release. Please use `linalg.matrix_norm(A, 'nuc', dim, keepdim)` instead",
                  )
    if isinstance(dim, bool):
        dim, keepdim = None, dim
    dim = (-2, -1) if dim is None else tuple(dim)
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(str(d) for d in dim)}")
    if out is not None:
        _no_grad_out([input], out, "nuclear_norm")
    return _write_out(matrix_norm(input, "nuc", dim, keepdim), out, "nuclear_norm")


_WARNED: set = set()


def _warn_once(msg: str) -> None:
    """PyTorch's TORCH_WARN_ONCE: the first call in the process warns."""
    if msg not in _WARNED:
        _WARNED.add(msg)
        warnings.warn(msg, UserWarning, stacklevel=3)


@public_function("matrix_rank")
def matrix_rank(*args, **kwargs):
    """Removed from PyTorch: ``tape.linalg.matrix_rank``."""
    raise RuntimeError("This function was deprecated since version 1.9 and is now removed.\nPlease use the "
                       "`torch.linalg.matrix_rank` function instead. The parameter 'symmetric' was renamed in "
                       "`torch.linalg.matrix_rank()` to 'hermitian'.")


_REMOVED = (
    "This function was deprecated since version 1.9 and is now removed. ",
    {"lstsq": "`torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`.\n`torch.linalg.lstsq` has reversed "
              "arguments and does not return the QR decomposition in the returned tuple (although it returns other "
              "information about the problem).\n\nTo get the QR decomposition consider using `torch.linalg.qr`.\n\n"
              "The returned solution in `torch.lstsq` stored the residuals of the solution in the last m - n "
              "columns of the returned value whenever m > n. In torch.linalg.lstsq, the residuals are in the field "
              "'residuals' of the returned named tuple.\n\nThe unpacking of the solution, as in\nX, _ = "
              "torch.lstsq(B, A).solution[:A.size(1)]\nshould be replaced with:\nX = torch.linalg.lstsq(A, B)"
              ".solution",
     "solve": "`torch.solve` is deprecated in favor of `torch.linalg.solve`. `torch.linalg.solve` has its arguments "
              "reversed and does not return the LU factorization.\n\nTo get the LU factorization see `torch.lu`, "
              "which can be used with `torch.lu_solve` or `torch.lu_unpack`.\nX = torch.solve(B, A).solution should "
              "be replaced with:\nX = torch.linalg.solve(A, B)",
     "symeig": "The default behavior has changed from using the upper triangular portion of the matrix by default "
               "to using the lower triangular portion.\n\nL, _ = torch.symeig(A, upper=upper) should be replaced "
               "with:\nL = torch.linalg.eigvalsh(A, UPLO='U' if upper else 'L')\n\nand\n\nL, V = "
               "torch.symeig(A, eigenvectors=True) should be replaced with:\nL, V = torch.linalg.eigh(A, "
               "UPLO='U' if upper else 'L')",
     "eig": "`torch.linalg.eig` returns complex tensors of dtype `cfloat` or `cdouble` rather than real tensors "
            "mimicking complex tensors.\n\nL, _ = torch.eig(A) should be replaced with:\nL_complex = "
            "torch.linalg.eigvals(A)\n\nand\n\nL, V = torch.eig(A, eigenvectors=True) should be replaced "
            "with:\nL_complex, V_complex = torch.linalg.eig(A)"})


def _removed(name: str) -> Callable:
    def removed(*args, **kwargs):
        raise RuntimeError(_REMOVED[0] + _REMOVED[1][name])
    removed.__name__ = removed.__qualname__ = name
    removed.__doc__ = f"Removed from PyTorch (1.9): raises its error naming what replaces ``{name}``."
    return removed


for _name in _REMOVED[1]:
    public(_name)(_removed(_name))


@public("gradient", method=False)
def gradient(input, *, spacing=None, dim=None, edge_order: int = 1) -> tuple:
    """Estimates the derivative of ``input`` along each of ``dim`` (every dim when None) by
    central differences inside and one-sided ones (first or second order, ``edge_order``) at the
    ends; ``spacing`` is a number (the step), one number per dim, or one 1-D tensor of
    coordinates per dim.  Returns a tuple with one tensor per dim."""
    if not isinstance(input, Tensor):
        raise TypeError(f"gradient(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    nd = len(input._shape)
    dims = list(range(nd)) if dim is None else [dim] if isinstance(dim, int) else [int(d) for d in dim]
    steps = _steps(spacing, nd, dim, len(dims))
    if input._dtype is D.uint8:
        raise RuntimeError("torch.gradient does not support uint8 input.")
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    wrapped = [wrap_dim(d, nd) for d in dims]
    for k, d in enumerate(wrapped):
        if d in wrapped[:k]:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    if any(input._shape[d] < edge_order + 1 for d in wrapped):
        raise RuntimeError("torch.gradient expected each dimension size to be at least edge_order+1")
    return tuple(_along(input, d, step, edge_order) for d, step in zip(wrapped, steps))


def _steps(spacing, nd: int, dim, n: int) -> list:
    """One step (a number, or a 1-D tensor of coordinates) per dim of the result."""
    if spacing is None:
        return [1.0] * n
    if isinstance(spacing, (int, float)) and not isinstance(spacing, bool):
        return [spacing] * n
    spacing = list(spacing)
    if dim is None and len(spacing) != nd:
        raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar, or a list of length "
                           f"equal to 'self.dim() = {nd}', since dim argument was not given, but got a list of "
                           f"length {len(spacing)}")
    if dim is not None and len(spacing) != n:
        raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or it's spacing and dim "
                           f"arguments to have the same length, but got a spacing argument of length "
                           f"{len(spacing)} and a dim argument of length {n}.")
    for s in spacing:
        if isinstance(s, Tensor) and len(s._shape) != 1:
            raise RuntimeError(f"torch.gradient expected each element of spacing to have one dimension, but got "
                               f"an element with {len(s._shape)} dimensions!")
    return spacing


def _along(x: Tensor, d: int, step, edge_order: int) -> Tensor:
    """The estimate along dim ``d``: ends and interior joined by one ``cat``, as PyTorch's."""

    def part(start: int, stop: Optional[int] = None) -> Tensor:
        # (the bounds as PyTorch's C++ gives them, negative from the end: its nodes show them)
        return aten_slice(x, d, start, stop)

    if not isinstance(step, Tensor):
        # (ATen's ops with a Scalar, as PyTorch's C++ composite calls them: DivBackward1, MulBackward1)
        inner = _div_scalar(_div_scalar(part(2) - part(0, -2), step), 2)
        if edge_order == 1:
            first = _div_scalar(part(1, 2) - part(0, 1), step)
            last = _div_scalar(part(-1) - part(-2, -1), step)
        else:
            first = _div_scalar(_mul_scalar(part(0, 1), -1.5) + _mul_scalar(part(1, 2), 2)
                                - _mul_scalar(part(2, 3), 0.5), step)
            last = _div_scalar(_mul_scalar(part(-3, -2), 0.5) - _mul_scalar(part(-2, -1), 2)
                               + _mul_scalar(part(-1), 1.5), step)
        return cat([first, inner, last], d)
    # Non-uniform coordinates: the second-order weights of the three neighbours from the two gaps.
    gaps = step.diff(1, 0)
    shape = [1] * len(x._shape)
    shape[d] = -1
    h1, h2 = gaps[:-1], gaps[1:]
    before = (-h2 / (h1 * (h1 + h2))).reshape(shape)
    here = ((h2 - h1) / (h1 * h2)).reshape(shape)
    after = (h1 / (h2 * (h1 + h2))).reshape(shape)
    inner = before * part(0, -2) + here * part(1, -1) + after * part(2)
    g0, gl = gaps[0], gaps[-1]
    if edge_order == 1:
        first = (part(1, 2) - part(0, 1)) / g0
        last = (part(-1) - part(-2, -1)) / gl
    else:
        g1, gm = gaps[1], gaps[-2]
        first = (-(2.0 * g0 + g1) / (g0 * (g0 + g1)) * part(0, 1) + (g0 + g1) / (g0 * g1) * part(1, 2)
                 + -g0 / (g1 * (g0 + g1)) * part(2, 3))
        last = (gl / (gm * (gl + gm)) * part(-3, -2) + -(gl + gm) / (gl * gm) * part(-2, -1)
                + (2 * gl + gm) / (gl * (gl + gm)) * part(-1))
    return cat([first, inner, last], d)
