"""Random sampling beyond ``rand``/``randn``/``randint``: the ``*_like`` factories, ``normal``,
``bernoulli``, ``multinomial`` and the in-place random fills (``uniform_``, ``normal_`` ...).

Draws come from ``tape.default_generator`` or a ``generator=`` given, PyTorch's CPU streams
(``tape/_mt.py``): seeded alike, these functions draw PyTorch's values.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
from numpy.lib.stride_tricks import as_strided as _np_as_strided

from . import _dtype as D
from ._creation import (Generator, _allocated, _checked_shape, _generator, _leaf, _options, like_layout,
                        wide_ints)
from ._device import check_device
from ._layout import check_memory_format
from ._mt import fma64, libm
from ._tensor import Tensor, _plain
from .ops._parser import Forms, check_types
from .ops._spec import public, public_function
from .ops.elementwise import fill_with


def _in_memory_order(self: Tensor, values: np.ndarray) -> np.ndarray:
    """Values drawn one after another for the elements of ``self`` in the order PyTorch's kernels visit
    them: memory order (a transposed view gets its draws column by column)."""
    if self.is_contiguous():
        return values.reshape(self._shape)
    offsets = sum(np.arange(n).reshape((-1,) + (1,) * (self.dim() - 1 - k)) * st
                  for k, (n, st) in enumerate(zip(self._shape, self.stride())))
    out = np.empty(values.size, values.dtype)
    out[np.argsort(np.broadcast_to(offsets, self._shape).ravel(), kind="stable")] = values
    return out.reshape(self._shape)


def _not_implemented(kernel: str, dtype: D.dtype) -> NotImplementedError:
    # PyTorch's own error for a random kernel without this dtype.
    return NotImplementedError(f"\"{kernel}\" not implemented for '{D.legacy_name(dtype)}'")


def _like_dtype(input: Tensor, dtype: Optional[D.dtype]) -> D.dtype:
    return dtype or input._dtype


# -- *_like ---------------------------------------------------------------------------
def _random_like(input: Tensor, dtype: Optional[D.dtype], layout, device, requires_grad: bool, memory_format,
                 fn: str, kernel: str, draw) -> Tensor:
    check_device(device)
    _options(fn, layout)
    fmt = check_memory_format(memory_format, fn)
    dt = _like_dtype(input, dtype)
    if not dt.is_floating_point:
        raise _not_implemented(kernel, dt)
    return like_layout(_leaf(draw(math.prod(input._shape), dt.np).astype(dt.np).reshape(input._shape), dt,
                             requires_grad), input, fmt)


# PyTorch's overloads (parsed on the error path: ``public_function``'s ``error_forms``)
_LIKE_OPTIONS = ("*, {}torch.memory_format memory_format = None, torch.dtype dtype = None, torch.layout layout = None, "
                 "torch.device device = None, bool pin_memory = False, bool requires_grad = False")
_RANDOM_LIKE = tuple(f"(Tensor input, {_LIKE_OPTIONS.format(g)})" for g in ("torch.Generator generator, ", ""))


@public_function("rand_like", error_forms=Forms("rand_like", *_RANDOM_LIKE))
def rand_like(input: Tensor, *, generator: Optional[Generator] = None, dtype: Optional[D.dtype] = None, layout=None,
              device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
    """Uniform random numbers in [0, 1) with the size (and, unless given, dtype) of ``input``."""
    return _random_like(input, dtype, layout, device, requires_grad, memory_format, "rand_like",
                        "check_uniform_bounds", lambda n, dt: _generator(generator).uniform_range(n, dt, 0.0, 1.0))


@public_function("randn_like", error_forms=Forms("randn_like", *_RANDOM_LIKE))
def randn_like(input: Tensor, *, generator: Optional[Generator] = None, dtype: Optional[D.dtype] = None, layout=None,
               device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
    """Standard normal random numbers with the size (and, unless given, dtype) of ``input``."""
    return _random_like(input, dtype, layout, device, requires_grad, memory_format, "randn_like",
                        "normal_kernel_cpu", lambda n, dt: _generator(generator).normal(n, dt, 0.0, 1.0))


@public_function("randint_like")
def randint_like(input: Tensor, low: int = 0, high: Optional[int] = None, *, generator: Optional[Generator] = None,
                 dtype: Optional[D.dtype] = None, layout=None, device=None, requires_grad: bool = False,
                 memory_format=None) -> Tensor:
    """Random integers in ``[low, high)`` with the size (and, unless given, dtype) of ``input``:
    ``randint_like(input, high)`` or ``randint_like(input, low, high)``."""
    check_device(device)
    _options("randint_like", layout)
    fmt = check_memory_format(memory_format, "randint_like")
    if high is None:
        low, high = 0, low
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    dt = _like_dtype(input, dtype)
    v = _generator(generator).from_to(math.prod(input._shape), low, high, wide_ints(dt)).astype(dt.np) \
        .reshape(input._shape)
    return like_layout(_leaf(v, dt, requires_grad), input, fmt)


# -- sampling functions -----------------------------------------------------------------
def _check_std(std: float) -> None:
    if not std >= 0.0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")


@public_function("normal")
def normal(mean, std=1.0, size=None, *, generator: Optional[Generator] = None, dtype: Optional[D.dtype] = None,
           device=None, requires_grad: bool = False) -> Tensor:
    """Normal samples: ``normal(mean, std)`` with tensors or numbers (broadcast), or
    ``normal(mean, std, size)`` with numbers.  A ``mean``/``std`` tensor that requires grad gets the
    reparametrized gradient (``mean + std * noise``)."""
    check_device(device)
    rng = _generator(generator)
    if not isinstance(mean, Tensor) and not isinstance(std, Tensor):
        if size is None:
            raise TypeError("normal() received an invalid combination of arguments - got (float, float), but "
                            "expected one of:\n * (Tensor mean, Tensor std, *, torch.Generator generator = None, "
                            "Tensor out = None)\n * (Tensor mean, float std = 1, *, torch.Generator generator = "
                            "None, Tensor out = None)\n * (float mean, Tensor std, *, torch.Generator generator = "
                            "None, Tensor out = None)\n * (float mean, float std, tuple of ints size, *, "
                            "torch.Generator generator = None, Tensor out = None, torch.dtype dtype = None, "
                            "torch.layout layout = None, torch.device device = None, bool pin_memory = False, "
                            "bool requires_grad = False)")
        _check_std(float(std))
        dt = dtype or D.get_default_dtype()
        shape = _checked_shape((size,) if not isinstance(size, int) else (size,), "normal")
        v = rng.normal(math.prod(shape), dt.np, float(mean), float(std)).astype(dt.np).reshape(shape)
        return _leaf(v, dt, requires_grad)
    if size is not None:
        raise TypeError("normal(): a size is taken only with a number mean and std")
    if isinstance(std, Tensor):
        if std._v is not None and std.numel() and np.any(std._value() < 0):
            raise RuntimeError("normal expects all elements of std >= 0.0")
    else:
        _check_std(float(std))
    ref = mean if isinstance(mean, Tensor) else std
    if not ref._dtype.is_floating_point:
        raise _not_implemented("normal_kernel_cpu", ref._dtype)
    shape = np.broadcast_shapes(*(t._shape for t in (mean, std) if isinstance(t, Tensor)))
    # (PyTorch draws standard values, then scales and shifts them: the same bits as mean + std * noise)
    noise = _plain(rng.normal(math.prod(shape), ref._dtype.np, 0.0, 1.0).astype(ref._dtype.np).reshape(shape),
                   ref._dtype)
    return mean + std * noise


@public("bernoulli")
def bernoulli(self, p: Optional[float] = None, *, generator: Optional[Generator] = None) -> Tensor:
    """Draw 0 or 1 for each element: with probability ``self`` (or ``p`` when given)."""
    probs = self._value() if p is None else np.full(self._shape, p)
    if probs.size and not (np.all(probs >= 0) and np.all(probs <= 1)):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error message "
                           "be improved?  If so, please report an enhancement request to PyTorch.)")
    dt = self._dtype
    # (with a tensor of probabilities, PyTorch draws in their precision; with a number, in double's)
    digits = 24 if p is None and dt is not D.float64 else 53
    v = (_generator(generator).uniform(probs.size, digits).reshape(probs.shape) < probs).astype(dt.np)
    return _plain(v, dt)


@public("multinomial")
def multinomial(self, num_samples: int, replacement: bool = False, *,
                generator: Optional[Generator] = None) -> Tensor:
    """Indices drawn from the categorical distributions given by the rows of ``self`` (weights,
    not necessarily normalized); without replacement each index is drawn at most once."""
    if type(num_samples) is not int:
        check_types("multinomial", (("num_samples", "int"),), num_samples)
    if self.dim() not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not self._dtype.is_floating_point:
        raise RuntimeError("multinomial only supports floating-point dtypes for input, got: "
                           f"{D.legacy_name(self._dtype)}")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    w = np.asarray(self._value(), np.float64).reshape(-1, self._shape[-1])
    n = w.shape[1]
    if not replacement and num_samples > n:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    sums = w.sum(axis=1)
    if np.any(sums <= 0):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    rng = _generator(generator)
    if not replacement or num_samples == 1:
        # PyTorch's draw here (the Gumbel-top-k idea): the largest of ``weight / q``, q ~ Exp(1) filled
        # as ``exponential_`` fills a tensor like the input, divided in the input's dtype
        dt = self._dtype.np
        q = _in_memory_order(self, -libm(math.log1p, -rng.uniform(w.size, 53))).astype(dt)
        keys = (np.asarray(self._value(), dt) / q).reshape(w.shape)
        out = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
        return _plain(out.reshape(self._shape[:-1] + (num_samples,)), D.int64)
    out = np.empty((w.shape[0], num_samples), np.int64)
    for i, row in enumerate(w):
        # (PyTorch's search: the first category whose cumulative share reaches a uniform draw)
        cum = np.cumsum(row) / row.sum()
        cum[-1] = 1.0
        out[i] = np.searchsorted(cum, rng.uniform(num_samples, 53), side="left")
    return _plain(out.reshape(self._shape[:-1] + (num_samples,)), D.int64)


# -- in-place random fills ---------------------------------------------------------------------
def _float_fill(self: Tensor, kernel: str) -> None:
    if not self._dtype.is_floating_point:
        raise _not_implemented(kernel, self._dtype)


@public("uniform_", function=False)
def uniform_(self, from_: float = 0.0, to: float = 1.0, *, generator: Optional[Generator] = None) -> Tensor:
    """Fill the tensor in place with numbers drawn uniformly from ``[from_, to)``."""
    _float_fill(self, "check_uniform_bounds")
    if from_ > to:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={from_:g} > to={to:g}")
    v = _generator(generator).uniform_range(self.numel(), self._dtype.np, from_, to)
    return fill_with(self, _in_memory_order(self, v), "UniformBackward0")


@public("normal_", function=False)
def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: Optional[Generator] = None) -> Tensor:
    """Fill the tensor in place with normal samples of the given mean and standard deviation."""
    _float_fill(self, "normal_kernel_cpu")
    _check_std(std)
    v = _generator(generator).normal(self.numel(), self._dtype.np, mean, std, self.is_contiguous())
    return fill_with(self, _in_memory_order(self, v), "NormalBackward0")


@public("random_", function=False)
def random_(self, from_: int = 0, to: Optional[int] = None, *, generator: Optional[Generator] = None) -> Tensor:
    """Fill the tensor in place with integers from ``[from_, to)`` (``random_(to)``: from 0; no bound:
    up to 2**mantissa for floating dtypes, the dtype's maximum for integer ones)."""
    if to is None and from_ != 0:
        from_, to, kind = 0, from_, "RandomBackward1"
    elif to is None:
        kind = "RandomBackward0"
    else:
        kind = "RandomBackward2"
    dt, rng = self._dtype, _generator(generator)
    if to is None:
        # (no bound: a draw modulo 2**mantissa + 1, or the dtype's maximum + 1; the low bit for bool)
        bound = (1 << {D.float64: 53, D.float32: 24, D.float16: 11}[dt]) + 1 if dt.is_floating_point \
            else (2 if dt is D.bool_ else int(np.iinfo(dt.np).max) + 1)
        width = "bool" if dt is D.bool_ else "wide" if dt in (D.int64, D.float64) else "narrow"
        v = rng.full_range(self.numel(), width, bound)
    else:
        if from_ >= to:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} >= to={to}")
        v = rng.from_to(self.numel(), from_, to, wide_ints(dt))
    return fill_with(self, _in_memory_order(self, v), kind)


@public("bernoulli_", function=False)
def bernoulli_(self, p=0.5, *, generator: Optional[Generator] = None) -> Tensor:
    """Fill the tensor in place with 0 or 1, drawn with probability ``p`` (a number or a tensor)."""
    probs = p._value() if isinstance(p, Tensor) else p
    if not (np.all(np.asarray(probs) >= 0) and np.all(np.asarray(probs) <= 1)):
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={probs}")
    digits = 24 if isinstance(p, Tensor) and p._dtype is not D.float64 else 53
    v = _in_memory_order(self, _generator(generator).uniform(self.numel(), digits)) < probs
    return fill_with(self, v, "BernoulliBackward1" if isinstance(p, Tensor) else "BernoulliBackward2")


@public("exponential_", function=False)
def exponential_(self, lambd: float = 1.0, *, generator: Optional[Generator] = None) -> Tensor:
    """Fill the tensor in place with exponential samples of rate ``lambd``."""
    _float_fill(self, "exponential_cpu")
    if not lambd > 0.0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd:g}")
    v = -1.0 / lambd * libm(math.log1p, -_generator(generator).uniform(self.numel(), 53))
    return fill_with(self, _in_memory_order(self, v), "ExponentialBackward0")


@public("geometric_", function=False)
def geometric_(self, p: float, *, generator: Optional[Generator] = None) -> Tensor:
    """Fill the tensor in place with geometric samples (trials until the first success, ``p`` each)."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p:g}")
    v = np.ceil(libm(math.log, _generator(generator).uniform(self.numel(), 53)) / math.log1p(-p))
    return fill_with(self, _in_memory_order(self, v), "GeometricBackward0")


@public("log_normal_", function=False)
def log_normal_(self, mean: float = 1.0, std: float = 2.0, *, generator: Optional[Generator] = None) -> Tensor:
    """Fill the tensor in place with ``exp`` of normal samples of the given mean and std."""
    _float_fill(self, "log_normal_cpu")
    if not std > 0.0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std:g}")
    v = libm(math.exp, _generator(generator).normal_scalar(self.numel(), mean, std))
    return fill_with(self, _in_memory_order(self, v), "LogNormalBackward0")


@public("cauchy_", function=False)
def cauchy_(self, median: float = 0.0, sigma: float = 1.0, *, generator: Optional[Generator] = None) -> Tensor:
    """Fill the tensor in place with Cauchy samples of the given median and scale."""
    _float_fill(self, "cauchy_cpu")
    v = fma64(libm(math.tan, math.pi * (_generator(generator).uniform(self.numel(), 53) - 0.5)), sigma, median)
    return fill_with(self, _in_memory_order(self, v), "CauchyBackward0")


# -- permutations -----------------------------------------------------------------------------
# The largest ``n`` whose values ``0 .. n-1`` a floating dtype holds exactly (PyTorch's limits).
_PERM_LIMIT = {D.float16: (2049, "2049", "Half"), D.float32: ((1 << 24) + 1, "2^24+1", "Float"),
               D.float64: ((1 << 53) + 1, "2^53+1", "Double")}
_C_NAMES = {D.int8: "int8_t", D.uint8: "uint8_t", D.int16: "int16_t", D.int32: "int", D.int64: "int64_t"}


@public_function("randperm", error_forms=Forms("randperm", *(
    f"(int n, *, {g}Tensor out = None, torch.dtype dtype = None, torch.layout layout = None, torch.device device = "
    "None, bool pin_memory = False, bool requires_grad = False)" for g in ("torch.Generator generator, ", ""))))
def randperm(n: int, *, generator: Optional[Generator] = None, dtype: D.dtype = D.int64, layout=None,
             device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A random permutation of the integers ``0`` to ``n - 1``, drawn from ``generator`` (the default
    one if None)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) and not (
            isinstance(n, Tensor) and n.dim() == 0 and not n._dtype.is_floating_point and n._dtype is not D.bool_):
        raise TypeError(f"randperm(): argument 'n' (position 1) must be int, not {type(n).__name__}")
    n = int(n)
    check_device(device)
    _options("randperm", layout, pin_memory)
    rng = _generator(generator)
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    if dtype is D.bool_:
        raise NotImplementedError("\"randperm\" not implemented for 'Bool'")
    if dtype in _PERM_LIMIT:
        limit, text, name = _PERM_LIMIT[dtype]
        if n > limit:
            raise RuntimeError(f"n cannot be greater than {text} for {name} type.")
    elif n and n - 1 > np.iinfo(dtype.np).max:
        raise RuntimeError(f"value cannot be converted to type {_C_NAMES[dtype]} without overflow")
    v = _allocated(lambda: rng.permutation(n).astype(dtype.np), (n,), dtype)
    return _leaf(v, dtype, requires_grad)


# -- strided allocation ------------------------------------------------------------------------
def _ints(arg, name: str, pos: int) -> tuple:
    if not isinstance(arg, (tuple, list)):
        raise TypeError(f"empty_strided(): argument '{name}' (position {pos}) must be tuple of ints, not "
                        f"{type(arg).__name__}")
    for i, s in enumerate(arg):
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"empty_strided(): argument '{name}' (position {pos}) must be tuple of ints, but found "
                            f"element of type {type(s).__name__} at pos {i}")
    return tuple(int(s) for s in arg)


def empty_strided(size, stride, *, dtype: Optional[D.dtype] = None, layout=None, device=None,
                  requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """An uninitialized (here: zero) tensor of the given ``size`` whose elements lie in its storage
    ``stride`` elements apart along each dim (a storage just big enough: elements may share memory)."""
    size, stride = _ints(size, "size", 1), _ints(stride, "stride", 2)
    check_device(device)
    _options("empty_strided", layout, pin_memory)
    if len(size) != len(stride):
        raise RuntimeError(f"dimensionality of sizes ({len(size)}) must match dimensionality of strides "
                           f"({len(stride)})")
    shape = _checked_shape(size, "empty_strided")
    if 0 not in shape and any(s < 0 and n > 1 for n, s in zip(shape, stride)):
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(shape)} and strides={list(stride)}")
    dt = dtype or D.get_default_dtype()
    need = 0 if 0 in shape else 1 + sum((n - 1) * s for n, s in zip(shape, stride))
    buf = _allocated(lambda: np.zeros(need, dt.np), (need,), dt)
    return _leaf(_np_as_strided(buf, shape, tuple(s * dt.itemsize for s in stride)), dt, requires_grad)


# -- index grids ---------------------------------------------------------------------------------
def _tri_indices(row: int, col: int, offset: int, dtype: D.dtype, lower: bool) -> Tensor:
    if row < 0 or col < 0:
        raise RuntimeError(f"row must be non-negative, got{row}" if row < 0 else f"col must be non-negative, got{col}")
    if dtype not in (D.int64, D.int32):
        raise RuntimeError(f"\"{'tril' if lower else 'triu'}_indices\" not implemented for "
                           f"'{D.legacy_name(dtype)}'")
    r, c = np.tril_indices(row, offset, col) if lower else np.triu_indices(row, offset, col)
    return _plain(np.stack([r, c]).astype(dtype.np).reshape(2, -1), dtype)


_TRI_PARAMS = (("row", "int"), ("col", "int"), ("offset", "int"))


@public_function("tril_indices")
def tril_indices(row: int, col: int, offset: int = 0, *, dtype: D.dtype = D.int64, device=None,
                 layout=None) -> Tensor:
    """The (row, column) indices of the lower triangle of a ``row`` x ``col`` matrix, as a 2 x N tensor."""
    check_types("tril_indices", _TRI_PARAMS, row, col, offset)
    check_device(device)
    return _tri_indices(row, col, offset, dtype, True)


@public_function("triu_indices")
def triu_indices(row: int, col: int, offset: int = 0, *, dtype: D.dtype = D.int64, device=None,
                 layout=None) -> Tensor:
    """The (row, column) indices of the upper triangle of a ``row`` x ``col`` matrix, as a 2 x N tensor."""
    check_types("triu_indices", _TRI_PARAMS, row, col, offset)
    check_device(device)
    return _tri_indices(row, col, offset, dtype, False)


@public_function("logspace")
def logspace(start: float, end: float, steps: int, base: float = 10.0, *, dtype: Optional[D.dtype] = None,
             device=None, requires_grad: bool = False) -> Tensor:
    """``steps`` values ``base ** x`` for ``x`` evenly spaced from ``start`` to ``end`` inclusive."""
    check_device(device)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    dt = dtype or D.get_default_dtype()
    v = np.power(float(base), np.linspace(float(start), float(end), steps))
    return _leaf(v.astype(dt.np) if dt.is_floating_point else np.trunc(v).astype(dt.np), dt, requires_grad)

