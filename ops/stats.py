"""Products, spreads and norms: prod, var/std (and with the mean), nansum, nanmean, dist, norm and
vector_norm, as Python-rule rows (``ops/_rule.py``).

Row attributes: ``ia`` is the bit mask of reduced dims (``Row.keep_shape`` applies); ``ib`` bit 1
records that ``dim`` was given (PROD: ``ProdBackward1``; VAR/STD: the rule when no degree of
freedom is left); VAR/STD keep the correction in ``fa``;
VAR_MEAN (two outputs, variance then mean) and STD_MEAN (std then mean) have ``fb`` = 1 for
``std_mean``; NORM and DIST keep
the order ``p`` in ``fa``.
"""
from __future__ import annotations

import math
import warnings
from typing import Optional, Union

import numpy as np

from .._emit import D, Tensor, emit, plain, quiet, recorded, state, write_tape
from ._args import broadcast_pair, shown, wrap_dim
from ._parser import Forms, check_types
from ._rule import rule_adjoint
from ._spec import OUT, OUT_FIRST, OUTPUTS, PYTHON, SAVED_RESULT, SAVED_SELF, X0, X1, Given, Op, public
from ._spec import register
from ._spec import TRANSPOSED, tangents
from .elementwise import M_SIGN, _no_bool_sub
from .join import where
from .reduction import integral_result
from ._args import reduced_dims
from .softmax import kept, mask_of, reduced

PROD, VAR, STD, VAR_MEAN, NANSUM, NORM, DIST = range(PYTHON.start + 35, PYTHON.start + 42)
STD_MEAN = PYTHON.start + 82
DIM_GIVEN = 2
ATEN_NORM = 4       # (``ib`` of a NORM row made by ``aten_norm``)
ATEN_NORM_ALL = 8   # (with ATEN_NORM: ``at::norm(x, p)`` of the whole tensor, PyTorch's NormBackward0)


def _recording(*ts) -> bool:
    return state.grad and any(t is not None and t._rg for t in ts)


def _dims(mask: int) -> tuple:
    return tuple(d for d in range(mask.bit_length()) if mask >> d & 1)


def _others(x: Tensor, d: int) -> Tensor:
    """The product of the other elements of each slice along ``d``, exact with zeros: from
    exclusive running products (numpy) when not recording; when recording, the product of ``x``
    with each element in turn replaced by 1, so that every order of derivative is exact."""
    n = x._shape[d]
    if not _recording(x):
        v = x._value()
        ones = np.ones_like(np.take(v, [0], axis=d))
        before = np.multiply.accumulate(np.concatenate([ones, np.take(v, range(n - 1), axis=d)], axis=d), axis=d)
        rev = np.flip(v, axis=d)
        after = np.flip(np.multiply.accumulate(np.concatenate([ones, np.take(rev, range(n - 1), axis=d)], axis=d),
                                               axis=d), axis=d)
        return plain(before * after, x._dtype)
    shape = x._shape[:d + 1] + (n,) + x._shape[d + 1:]
    eye = np.eye(n, dtype=x._dtype.np).reshape((n, n) + (1,) * (len(x._shape) - d - 1))
    rows = x.unsqueeze(d).expand(shape)
    return (rows * plain(1 - eye, x._dtype) + plain(eye, x._dtype)).prod(d + 1)


def _prod_vjp(g, xs, y, r):
    x = xs[0]
    shape = r.in_shapes[0]
    if not shape:
        return (g,)
    keep = r.keep_shape
    gk = g.reshape(keep).expand(shape)
    zeros = int(np.count_nonzero(x._value() == 0))
    if not zeros:
        return (gk * y.reshape(keep).expand(shape) / x,)
    d = _dims(r.ia)[0] if r.ib & DIM_GIVEN else None
    if (x.numel() if d is None else shape[d]) == 1:
        return (gk,)                # one factor: its gradient does not depend on it (as PyTorch)
    if d is None:
        return (gk * _others(x.reshape(-1), 0).reshape(shape),)
    return (gk * _others(x, d),)


def _centered(x: Tensor, r) -> Tensor:
    dims = _dims(r.ia)
    return x - x.mean(dims, keepdim=True).expand(x._shape)


def _spread(x: Tensor, r) -> Tensor:
    """d var / d x without the adjoint: 2 (x - mean) / (N - correction); with no degrees of
    freedom left over all dims, PyTorch's nan (x at the mean) or inf (elsewhere)."""
    dof = r.count - r.fa
    if dof <= 0 and not (r.ib & DIM_GIVEN and x._shape):
        v = x._value()
        return plain(np.where(v == v.mean(), np.nan, np.inf).astype(v.dtype), x._dtype)
    return _centered(x, r) * (2.0 / dof if dof else math.inf)


def _var_vjp(g, xs, y, r):
    shape = r.in_shapes[0]
    return (g.reshape(r.keep_shape).expand(shape) * _spread(xs[0], r),)


def _std_factor(g, y, r, dtype) -> Tensor:
    """g / (2 std), 0 where std is 0 (PyTorch's masked_fill), reshaped to broadcast."""
    zero = y._value() == 0
    keep = r.keep_shape
    return (g * plain(~zero, dtype) / ((y + plain(zero, dtype)) * 2.0)).reshape(keep)


def _std_vjp(g, xs, y, r):
    shape = r.in_shapes[0]
    return (_std_factor(g, y, r, xs[0]._dtype).expand(shape) * _spread(xs[0], r),)


def _var_mean_vjp(g, xs, y, r):
    x = xs[0]
    shape = r.in_shapes[0]
    keep = r.keep_shape
    gv, gm = g
    out = None
    if gv is not None:
        if r.fb:
            std = plain(y._value().reshape(-1)[:gv.numel()].reshape(gv._shape), x._dtype)
            if _recording(x):
                std = x.std(_dims(r.ia), correction=r.fa, keepdim=True).reshape(gv._shape)
            f = _std_factor(gv, std, r, x._dtype)
        else:
            f = gv.reshape(keep)
        out = f.expand(shape) * _spread(x, r)
    if gm is not None:
        m = gm.reshape(keep).expand(shape) / r.count
        out = m if out is None else out + m
    return (out,)


def _nansum_vjp(g, xs, y, r):
    x = xs[0]
    return (g.reshape(r.keep_shape).expand(r.in_shapes[0]) * plain(~np.isnan(x._value()), x._dtype),)


def norm_grad(g, x: Tensor, y: Tensor, keep: tuple, p: float) -> Tensor:
    """The gradient of a p-norm ``y`` of ``x`` (reduced to ``keep``), as PyTorch's norm_backward:
    0 for p = 0, the subgradient 0 where the norm is 0, ties of an infinite norm share evenly."""
    shape = x._shape
    dt = x._dtype
    v = x._value()
    gk = g.reshape(keep).expand(shape)
    if p == 0.0:
        return plain(np.zeros(shape, dt.np), dt)
    sign = x._mask(M_SIGN)          # sgn(x), kept in the graph with derivative 0 (as PyTorch's)
    if p == 1.0:
        return gk * sign
    yv = y._value().reshape(keep)
    if math.isinf(p):
        a = np.abs(v)
        hit = (a == yv) | np.isnan(a)
        dims = tuple(d for d, s in enumerate(keep) if s == 1 and shape[d] != 1)
        count = hit.sum(axis=dims, keepdims=True) if dims else hit.astype(np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = (hit / count).astype(dt.np)
        return gk * sign * plain(w, dt)
    # PyTorch masks the scale where the norm is 0 (and |x|^(p-1) where x is 0 for p < 1) with
    # masked_fill, whose derivative is 0 there: a second derivative through the mask is nan.
    dead = plain(np.broadcast_to(yv == 0, shape), D.bool_)
    yk = y.reshape(keep).expand(shape)
    if p == 2.0:
        return gk * where(dead, 0.0, x / yk)
    if p < 1.0:
        a = where(plain(v == 0, D.bool_), 0.0, x.abs().pow(p - 1))
        return sign * a * gk * yk.pow(1 - p)
    scaled = sign * x.abs().pow(p - 1) if p < 2.0 else x * x.abs().pow(p - 2)
    return scaled * where(dead, 0.0, gk / yk.pow(p - 1))


def _norm_vjp(g, xs, y, r):
    # (the count of nonzeros, p = 0, is piecewise constant: PyTorch's gradient is undefined, not zeros)
    return (None,) if r.fa == 0 else (norm_grad(g, xs[0], y, r.keep_shape, r.fa),)


def _dist_vjp(g, xs, y, r):
    if r.fa == 0:
        if r.tape.rg[r.inputs[1]]:      # (PyTorch negates the undefined gradient for ``other``)
            raise RuntimeError("Expected a proper Tensor but got None (or an undefined Tensor in C++) for argument "
                               "#0 'self'")
        return None, None
    x, other = xs
    d = norm_grad(g, x - other, y, (1,) * len(broadcast_pair(x._shape, other._shape)), r.fa)
    return (d, -d)


def _number(v: float):
    """A number argument as PyTorch shows it: an int when it is one."""
    return int(v) if float(v).is_integer() else v


def _dims_given(r):
    """The reduced dims, None when all were (PyTorch shows the ``dim`` given: None when none was)."""
    dims = reduced(r)
    return None if len(dims) == len(r.in_shapes[0]) else dims


def _var_saved(r) -> tuple:
    # (``correction``: None for the default when no dim was given, as ``var()`` shows it)
    given = r.ib & DIM_GIVEN
    table = (("self", X0), ("dim", lambda r: reduced(r) if given else None),
             ("correction", lambda r: _number(r.fa) if given or r.fa != 1 else None), ("keepdim", kept))
    return table + (("result", OUT),) if r.code == STD else table


def _var_mean_saved(r) -> tuple:
    # (the same as var's and std's, the standard deviation being ``std_mean``'s first output)
    table = (("self", X0), ("dim", lambda r: reduced(r) if r.ib & DIM_GIVEN else None),
             ("correction", lambda r: _number(r.fa) if r.ib & DIM_GIVEN or r.fa != 1 else None),
             ("keepdim", lambda r: r.ia != 0 and len(r.tape.shape_of(r.r + 1)) == len(r.in_shapes[0])))
    return table + (("result0", Given(OUTPUTS)),) if r.fb else table


register(Op(PROD, "prod", "ProdBackward0", X0 | OUT, _prod_vjp, float_only=False, py_adjoint=rule_adjoint,
            grad_fn_of=lambda r: "ProdBackward1" if r.ib & DIM_GIVEN else "ProdBackward0",
            node_saved=lambda r: (("self", X0), ("dim", lambda r: reduced(r)[0] if reduced(r) else 0),
                                  ("keepdim", kept), ("result", OUT)) if r.ib & DIM_GIVEN else ()))
register(Op(VAR, "var", "VarBackward0", X0, _var_vjp, py_adjoint=rule_adjoint, node_saved=_var_saved))
register(Op(STD, "std", "StdBackward0", X0 | OUT, _std_vjp, py_adjoint=rule_adjoint, node_saved=_var_saved))
register(Op(VAR_MEAN, "var_mean", "VarMeanBackward0", X0 | OUT, _var_mean_vjp, py_adjoint=rule_adjoint,
            multi=True, node_saved=lambda r: _var_mean_saved(r)))
# (std_mean's row, apart from var_mean's as PyTorch's node saves its std: changed in place, it makes
# backward fail)
register(Op(STD_MEAN, "std_mean", "StdMeanBackward0", X0 | OUT | OUT_FIRST, _var_mean_vjp, py_adjoint=rule_adjoint,
            multi=True, node_saved=lambda r: _var_mean_saved(r)))
register(Op(NANSUM, "nansum", "NansumBackward0", X0, _nansum_vjp, py_adjoint=rule_adjoint,
            node_saved=(("self", X0), ("dim", _dims_given), ("keepdim", kept))))
register(Op(NORM, "norm", "LinalgVectorNormBackward0", X0 | OUT, _norm_vjp, py_adjoint=rule_adjoint,
            grad_fn_of=lambda r: ("NormBackward0" if r.ib & ATEN_NORM_ALL else "NormBackward1") if r.ib & ATEN_NORM
            else "LinalgVectorNormBackward0",
            node_saved=(("self", X0), ("ord", lambda r: _number(r.fa)), ("dim", _dims_given), ("keepdim", kept),
                        ("result", OUT))))
register(Op(DIST, "dist", "DistBackward0", X0 | X1 | OUT, _dist_vjp, py_adjoint=rule_adjoint, arity=2,
            node_saved=(("other", X1), ("p", lambda r: _number(r.fa)), ("self", X0), ("result", OUT))))
tangents({code: TRANSPOSED for code in (PROD, VAR, STD, VAR_MEAN, STD_MEAN, NANSUM, NORM, DIST)})


# --- front ends -----------------------------------------------------------------------
Dims = Union[int, tuple, None]


def _shape_after(shape: tuple, dims: tuple, keepdim: bool) -> tuple:
    if keepdim:
        return tuple(1 if d in dims else s for d, s in enumerate(shape))
    return tuple(s for d, s in enumerate(shape) if d not in dims)


def _dims_shown(dim) -> Optional[tuple]:
    """A ``dim`` argument as a node shows it: a tuple as given (None when none was)."""
    return None if dim is None else shown((dim,) if isinstance(dim, (int, np.integer)) else tuple(dim))


def _record(code: int, y: np.ndarray, x: Tensor, dims: tuple, ib: int = 0, fa: float = 0.0,
            saved: tuple = ()) -> Tensor:
    """A reduction row over ``dims`` (its node shows ``saved`` when given: the dims as given)."""
    y = np.asarray(y, x._dtype.np)
    if x._rg and state.grad and x._dtype.arena is not None:
        out = emit(code, y, x._dtype, x, ia=mask_of(dims), ib=ib, fa=fa)
        if saved:
            out._tape.args[out._node] = saved
        return out
    return plain(y, x._dtype)


# PyTorch's overloads (the method's take the arguments given as positional: it cannot tell)
_PROD = Forms("prod", "(*, torch.dtype dtype = None)", "(int dim, bool keepdim = False, *, torch.dtype dtype = None)")


@public("prod", error_forms=Forms("prod", "(Tensor input, *, torch.dtype dtype = None)",
                                  "(Tensor input, int dim, bool keepdim = False, *, torch.dtype dtype = None, "
                                  "Tensor out = None)"))
def prod(self, dim: Optional[int] = None, keepdim: bool = False, *, dtype: Optional[D.dtype] = None) -> Tensor:
    """The product of all elements, or of each slice along ``dim``."""
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, (int, np.integer))):
        _PROD.parse((dim, keepdim) if keepdim else (dim,), {} if dtype is None else {"dtype": dtype})
    x = self
    if dtype is not None:
        integral_result(x, dtype)
        if dtype is not x._dtype:
            x = x.to(dtype)
    elif not x._dtype.is_floating_point:
        x = x.to(D.int64)
    nd = len(x._shape)
    v = x._value()
    quiet()
    if dim is None:
        dims = tuple(range(nd))
        y = np.multiply.reduce(v, axis=None)
        flags = 0
    else:
        d = wrap_dim(dim, nd)
        dims = (d,) if nd else ()
        y = np.multiply.reduce(v, axis=d, keepdims=keepdim) if nd else v.copy()
        return _record(PROD, y, x, dims, ib=DIM_GIVEN, saved=(("self", SAVED_SELF), ("dim", shown(dim)),
                                                              ("keepdim", bool(keepdim)), ("result", SAVED_RESULT)))
    return _record(PROD, y, x, dims, ib=flags)


# PyTorch's overloads of var/std (the method's take the arguments given as positional: it cannot tell)
_VARIANCE = ("(tuple of ints dim, bool unbiased = True, bool keepdim = False{})",
             "(tuple of ints dim = None, *, Number correction = None, bool keepdim = False{})", "(bool unbiased = True)")


def _variance_forms(name: str, out: bool) -> Forms:
    """The overloads of the function form of ``name`` (var, std, var_mean, std_mean)."""
    ends = (", *, Tensor out = None", ", Tensor out = None") if out else ("", "")
    return Forms(name, *(f"(Tensor input, {f[1:].format(end)}" for f, end in zip(_VARIANCE, ends + ("",))))


def _correction(name: str, dim, unbiased, correction, keepdim, extra: str = ""):
    """(dim, correction) from var/std's two signatures."""
    if not (dim is None or isinstance(dim, (bool, int, np.integer, tuple, list))):
        given = (dim,) + (() if unbiased is None else (unbiased,)) + ((keepdim,) if keepdim else ())
        Forms(name, *(f.format("") for f in _VARIANCE)).parse(given, {})
    if isinstance(dim, bool):               # var(unbiased)
        if unbiased is not None:
            raise TypeError(f"{name}() received an invalid combination of arguments - got (bool, bool), but "
                            f"expected one of:")
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}() received an invalid combination of arguments - got (correction="
                        f"{type(correction).__name__}, unbiased=bool, ), but expected one of:")
    if correction is None:
        correction = 0.0 if unbiased is False else 1.0
    return dim, float(correction)


def _var_value(x: Tensor, name: str, dim, correction: float, keepdim: bool):
    if not x._dtype.is_floating_point:
        what = name if name in ("var_mean", "std_mean") else "std and var"
        raise RuntimeError(f"{what} only support floating point and complex dtypes")
    nd = len(x._shape)
    dims = tuple(range(nd)) if dim is None else reduced_dims(dim, nd)
    v = x._value()
    n = 1
    for d in dims:
        n *= v.shape[d]
    if n - correction <= 0:
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly less than the "
                      f"reduction factor (input numel divided by output numel).", UserWarning, stacklevel=3)
    # (in float64, rounded by the caller after any square root: PyTorch accumulates a float32
    # tensor's moments in double; its var and std of one result take the mean in the tensor's dtype)
    dt = v.dtype
    v = v.astype(np.float64, copy=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = v.mean(axis=dims, keepdims=True) if n else np.full(_shape_after(v.shape, dims, True), np.nan)
        if name in ("var", "std") and mean.size == 1:
            mean = mean.astype(dt).astype(np.float64)
        ss = np.square(v - mean).sum(axis=dims, keepdims=keepdim)
        var = np.asarray(ss / max(0.0, n - correction))
    return dims, var, mean if keepdim else mean.reshape(_shape_after(v.shape, dims, False))


def _var(x: Tensor, dim, unbiased, keepdim, correction, std: bool) -> Tensor:
    name = "std" if std else "var"
    dim, c = _correction(name, dim, unbiased, correction, keepdim)
    dims, var, _ = _var_value(x, name, dim, c, keepdim)
    saved = ()
    if dim is not None:     # (its node shows the dims as given)
        saved = (("self", SAVED_SELF), ("dim", _dims_shown(dim)), ("correction", _number(c)),
                 ("keepdim", bool(keepdim)))
        saved += (("result", SAVED_RESULT),) if std else ()
    value = np.asarray(np.sqrt(var) if std else var, x._dtype.np)
    return _record(STD if std else VAR, value, x, dims, ib=0 if dim is None else DIM_GIVEN, fa=c, saved=saved)


@public("var", error_forms=_variance_forms("var", True))
def var(self, dim: Dims = None, unbiased: Optional[bool] = None, keepdim: bool = False, *,
        correction: Optional[float] = None) -> Tensor:
    """The variance over ``dim`` (all dims if None), divided by N - ``correction`` (1 by default;
    ``unbiased=False`` is correction 0)."""
    return _var(self, dim, unbiased, keepdim, correction, False)


@public("std", error_forms=_variance_forms("std", True))
def std(self, dim: Dims = None, unbiased: Optional[bool] = None, keepdim: bool = False, *,
        correction: Optional[float] = None) -> Tensor:
    """The standard deviation over ``dim`` (all dims if None), with ``correction`` as ``var``."""
    return _var(self, dim, unbiased, keepdim, correction, True)


def _running_mean_inf(v: np.ndarray, dims: tuple, mean: np.ndarray) -> np.ndarray:
    """``mean`` (infinite somewhere) as PyTorch's var_mean gives it: a running (Welford) mean over
    each slice in order, which stays infinite only when the slice's one infinity is its last
    element (any element after it gives inf - inf)."""
    inf = np.isinf(v)
    k = len(dims)
    flags = np.moveaxis(inf, dims, tuple(range(v.ndim - k, v.ndim))).reshape(mean.size, -1)
    kept = (flags.sum(axis=1) == 1) & flags[:, -1]
    out = mean.copy()
    out[np.isinf(mean) & ~kept.reshape(mean.shape)] = np.nan
    return out


def _var_mean(x: Tensor, dim, unbiased, keepdim, correction, std: bool) -> tuple:
    name = "std_mean" if std else "var_mean"
    dim, c = _correction(name, dim, unbiased, correction, keepdim)
    dims, var, mean = _var_value(x, name, dim, c, keepdim)
    dt = x._dtype
    # (arrays even when 0-d: numpy's sqrt of a 0-d array is a scalar, and a tensor's storage is an array)
    first = np.asarray(np.sqrt(var) if std else var, dt.np)
    mean = np.asarray(mean, dt.np)
    if np.isinf(mean).any():
        mean = _running_mean_inf(x._value(), dims, mean)
    if not (x._rg and state.grad):
        return plain(first, dt), plain(mean, dt)
    tape = write_tape()
    nx = x._node if x._tape is tape else tape.import_(x)
    whole = np.concatenate([first.reshape(-1), mean.reshape(-1)])
    row = tape.append(STD_MEAN if std else VAR_MEAN, dt.arena, whole, nx, ia=mask_of(dims), ib=0 if dim is None else DIM_GIVEN, fa=c,
                      fb=float(std))
    nodes = tape.append_outputs(row, [first.shape, mean.shape])
    return (recorded(tape, nodes[0], first, dt), recorded(tape, nodes[1], mean, dt))


@public("var_mean", method=False, error_forms=_variance_forms("var_mean", False))
def var_mean(self, dim: Dims = None, unbiased: Optional[bool] = None, keepdim: bool = False, *,
             correction: Optional[float] = None) -> tuple:
    """``(var, mean)`` over ``dim`` in one pass (one node, as PyTorch's)."""
    return _var_mean(self, dim, unbiased, keepdim, correction, False)


@public("std_mean", method=False, error_forms=_variance_forms("std_mean", False))
def std_mean(self, dim: Dims = None, unbiased: Optional[bool] = None, keepdim: bool = False, *,
             correction: Optional[float] = None) -> tuple:
    """``(std, mean)`` over ``dim`` in one pass (one node, as PyTorch's)."""
    return _var_mean(self, dim, unbiased, keepdim, correction, True)


@public("nansum")
def nansum(self, dim: Dims = None, keepdim: bool = False, *, dtype: Optional[D.dtype] = None) -> Tensor:
    """The sum of the elements that are not nan, over ``dim`` (all dims if None)."""
    if dtype is not None:
        integral_result(self, dtype)
    x = self if dtype is None or dtype is self._dtype else self.to(dtype)
    if not x._dtype.is_floating_point:
        return x.sum(dim, keepdim, dtype=dtype)
    nd = len(x._shape)
    dims = tuple(range(nd)) if dim is None else reduced_dims(dim, nd)
    quiet()
    v = x._value()
    y = np.add.reduce(np.where(np.isnan(v), 0, v), axis=dims, keepdims=keepdim)
    return _record(NANSUM, y, x, dims,
                   saved=(("self", SAVED_SELF), ("dim", _dims_shown(dim)), ("keepdim", bool(keepdim))))


@public("nanmean")
def nanmean(self, dim: Dims = None, keepdim: bool = False, *, dtype: Optional[D.dtype] = None) -> Tensor:
    """The mean of the elements that are not nan, over ``dim`` (all dims if None)."""
    if not self._dtype.is_floating_point:
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype but got "
                           f"{D.legacy_name(self._dtype)}")
    if dtype is not None and not dtype.is_floating_point:
        raise RuntimeError(f"nanmean(): could not infer output dtype. Optional dtype must be either a floating "
                           f"point or complex dtype. Got: {D.legacy_name(dtype)}")
    x = self if dtype is None or dtype is self._dtype else self.to(dtype)
    nd = len(x._shape)
    dims = tuple(range(nd)) if dim is None else reduced_dims(dim, nd)
    count = (~np.isnan(x._value())).sum(axis=dims, keepdims=keepdim)
    return nansum(x, dim, keepdim) / plain(np.asarray(count, x._dtype.np), x._dtype)


def _check_empty_norm(shape: tuple, p: float, dim: Dims) -> None:
    """PyTorch's refusal of a norm without an identity (``p`` negative or inf) over no element: over the
    whole of an empty tensor (``dim`` None), or over a given dim of size 0."""
    if math.prod(shape) or not (p < 0 or p == math.inf):
        return
    if dim is None:
        raise RuntimeError(f"linalg.vector_norm cannot compute the {p:g} norm on an empty tensor because the "
                           "operation does not have an identity")
    for d in (dim if isinstance(dim, (tuple, list)) else (dim,)):
        if shape[reduced_dims(d, len(shape))[0]] == 0:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {p:g} norm on the dimension {d}because this "
                               "dimension is empty and the operation does not have an identity")


def _pnorm(v: np.ndarray, p: float, dims: tuple, keepdim: bool) -> np.ndarray:
    quiet()
    a = np.abs(v)
    n = 1
    for d in dims:
        n *= v.shape[d]
    if math.isinf(p):
        if n == 0:
            if p > 0:
                return np.zeros(_shape_after(v.shape, dims, keepdim), v.dtype)
            raise RuntimeError("linalg.vector_norm cannot compute the -inf norm on an empty tensor because "
                               "the operation does not have an identity")
        return (a.max if p > 0 else a.min)(axis=dims, keepdims=keepdim)
    if p == 0:
        return np.count_nonzero(v, axis=dims, keepdims=keepdim).astype(v.dtype)
    if p == 1:
        return a.sum(axis=dims, keepdims=keepdim)
    if p == 2:
        return np.sqrt(np.square(a).sum(axis=dims, keepdims=keepdim))
    with np.errstate(divide="ignore"):
        # in float64, as PyTorch accumulates a float32 norm (so |x| of one element is exact)
        w = a.astype(np.float64)
        return np.power(np.power(w, p).sum(axis=dims, keepdims=keepdim), 1.0 / p).astype(v.dtype)


def vector_norm(x: Tensor, ord: float = 2, dim: Dims = None, keepdim: bool = False, *,
                dtype: Optional[D.dtype] = None) -> Tensor:
    """The ``ord``-norm of the elements over ``dim`` (all dims if None): ``sum(|x|^ord)^(1/ord)``,
    the largest (smallest) ``|x|`` for inf (-inf), the number of non-zeros for 0."""
    if isinstance(ord, (bool, str)) or not isinstance(ord, (int, float, np.number)):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' (position 2) must be Number, not "
                        f"{type(ord).__name__}")
    if not x._dtype.is_floating_point:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{D.legacy_name(x._dtype)}")
    if dtype is not None and dtype is not x._dtype:
        if not dtype.is_floating_point:
            raise RuntimeError(f"linalg.vector_norm: dtype should be floating point or complex, but got "
                               f"{D.legacy_name(dtype)}")
        if D.promote(x._dtype, dtype) is not dtype:
            raise RuntimeError(f"linalg.vector_norm: the dtype of the input ({D.legacy_name(x._dtype)}) should be "
                               f"convertible without narrowing to the specified dtype ({D.legacy_name(dtype)})")
        x = x.to(dtype)
    nd = len(x._shape)
    dims = tuple(range(nd)) if dim is None else reduced_dims(dim, nd)
    p = float(ord)
    _check_empty_norm(x._shape, p, dim)
    y = np.asarray(_pnorm(x._value(), p, dims, keepdim), x._dtype.np)
    shown_ord = ord if isinstance(ord, (int, float)) else p     # (as given)
    return _record(NORM, y, x, dims, fa=p, saved=(("self", SAVED_SELF), ("ord", shown_ord), ("dim", _dims_shown(dim)),
                                                  ("keepdim", bool(keepdim)), ("result", SAVED_RESULT)))


def aten_norm(x: Tensor, p: float, dim: Dims, keepdim: bool) -> Tensor:
    """``at::norm(x, p, dim, keepdim)``, which PyTorch's C++ composites call: the vector norm, whose
    node is ``NormBackward1`` (``NormBackward0`` for ``dim`` None: ``at::norm(x, p)``)."""
    if not x._dtype.is_floating_point:
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. Got "
                           f"{D.legacy_name(x._dtype)} instead.")
    dims = tuple(range(len(x._shape))) if dim is None else reduced_dims(dim, len(x._shape))
    _check_empty_norm(x._shape, float(p), dim)
    y = np.asarray(_pnorm(x._value(), float(p), dims, keepdim), x._dtype.np)
    if dim is None:     # (``at::norm(x, p)``: its node shows ``p`` as given)
        return _record(NORM, y, x, dims, ib=ATEN_NORM | ATEN_NORM_ALL, fa=float(p),
                       saved=(("self", SAVED_SELF), ("p", p), ("result", SAVED_RESULT)))
    shown = (dim,) if isinstance(dim, int) else tuple(dim)
    return _record(NORM, y, x, dims, ib=ATEN_NORM, fa=float(p),
                   saved=(("self", SAVED_SELF), ("p", p), ("dim", shown), ("keepdim", keepdim), ("result", SAVED_RESULT)))


# The nuclear norm needs an SVD; its family (ops/decomp.py) imports this one, and puts its matrix norm here.
NUCLEAR_NORM: list = []


@public("norm")
def norm(self, p: Union[float, str, None] = "fro", dim: Dims = None, keepdim: bool = False,
         dtype: Optional[D.dtype] = None) -> Tensor:
    """The ``p``-norm over ``dim`` (all dims if None); ``'fro'`` is the 2-norm."""
    if p is None or p == "fro":
        p = 2
    elif p == "nuc":
        dims = tuple(range(len(self._shape))) if dim is None else ((dim,) if isinstance(dim, int) else tuple(dim))
        if len(dims) != 2:
            raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(str(d) for d in dims)}")
        return NUCLEAR_NORM[0](self, "nuc", dims, keepdim, dtype=dtype)
    elif isinstance(p, str):
        raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
    return vector_norm(self, p, dim, keepdim, dtype=dtype)


@public("dist")
def dist(self, other: Tensor, p: float = 2) -> Tensor:
    """The ``p``-norm of ``self - other`` (broadcast)."""
    if type(other) is not Tensor or type(p) not in (int, float):
        check_types("dist", (("other", Tensor), ("p", "Number")), other, p)
    _no_bool_sub(self, other)       # (PyTorch subtracts first, then takes the norm of the difference)
    broadcast_pair(self._shape, other._shape)
    dt = D.result_type(self, other)
    if not dt.is_floating_point:
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. Got "
                           f"{D.legacy_name(dt)} instead.")
    a = self if self._dtype is dt else self.to(dt)
    b = other if other._dtype is dt else other.to(dt)
    shape = broadcast_pair(a._shape, b._shape)
    quiet()
    diff = np.broadcast_to(a._value(), shape) - np.broadcast_to(b._value(), shape)
    _check_empty_norm(shape, float(p), None)
    y = np.asarray(_pnorm(diff, float(p), tuple(range(len(shape))), False), dt.np)
    if state.grad and (a._rg or b._rg):
        return emit(DIST, y, dt, a, b, fa=float(p))
    return plain(y, dt)
