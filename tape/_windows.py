"""PyTorch's window functions (``hann_window``, ``hamming_window``, ``blackman_window``,
``bartlett_window``, ``kaiser_window``): leaves computed in the window's dtype with ATen's arithmetic,
so values agree with PyTorch's to rounding."""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from . import _dtype as D
from ._creation import _leaf, _options
from ._device import check_device
from ._tensor import _CPP_NAMES, Tensor, _plain
from .ops._parser import Forms
from .ops._spec import public_function
from .ops.special import i0


_OPTIONS = ("*, torch.dtype dtype = None, torch.layout layout = None, torch.device device = None, bool pin_memory = "
            "False, bool requires_grad = False")


def _forms(fn: str, *extra: str) -> Forms:
    """A window's overloads: the length, then each of its further parameters in turn."""
    return Forms(fn, *(f"(int window_length, {''.join(p + ', ' for p in extra[:k])}{_OPTIONS})"
                       for k in range(len(extra) + 1)))


def _window(fn: str, window_length: int, periodic: bool, dtype: Optional[D.dtype], layout, device,
            pin_memory: bool, requires_grad: bool, values: Callable[[int, np.dtype], np.ndarray],
            extra: tuple = ()) -> Tensor:
    """Checks shared by every window, then ``values(n, np_dtype)`` over ``n`` points (one more
    when ``periodic``, the last dropped: a periodic window is the symmetric one of length + 1).
    ``extra``: the window's float parameters after ``periodic``, as given."""
    check_device(device)
    _options(fn, layout, pin_memory)
    if isinstance(window_length, bool) or not isinstance(window_length, (int, np.integer)) or \
            not isinstance(periodic, bool) or not all(isinstance(p, (int, float, np.number)) for p in extra):
        # (the parser's error for the arguments given: those after the length taken as positional)
        given = (window_length,) + (() if periodic is True and not extra else (periodic,)) + extra
        _forms(fn, "bool periodic", *_EXTRA.get(fn, ())).parse(given, {})
    dt = dtype or D.get_default_dtype()
    if not dt.is_floating_point:
        raise RuntimeError(f"{fn} expects floating point dtypes, got: TensorOptions(dtype={_CPP_NAMES[dt.name]}, "
                           f"device=cpu, layout=Strided (default), requires_grad=false (default), "
                           f"pinned_memory=false, memory_format=(nullopt))")
    if window_length < 0:
        raise RuntimeError(f"{fn} requires non-negative window_length, got window_length={window_length}")
    if window_length <= 1:
        v = np.ones(window_length, dt.np)
    else:
        n = int(window_length) + (1 if periodic else 0)
        v = np.ascontiguousarray(values(n, dt.np)[:window_length])
    return _leaf(v, dt, requires_grad)


_EXTRA = {"hamming_window": ("float alpha", "float beta"), "kaiser_window": ("float beta",)}


def _cosine_sum(n: int, t: np.dtype, alpha: float, beta: float) -> np.ndarray:
    w = np.arange(n, dtype=t) * t.type(2.0 * np.pi / (n - 1))
    return np.cos(w) * t.type(-beta) + t.type(alpha)


@public_function("hamming_window")
def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54, beta: float = 0.46, *,
                   dtype: Optional[D.dtype] = None, layout=None, device=None, pin_memory: bool = False,
                   requires_grad: bool = False) -> Tensor:
    """The Hamming window ``alpha - beta * cos(2 pi n / (N - 1))``; periodic (for spectral analysis)
    unless ``periodic=False``."""
    given = (alpha, beta) if beta != 0.46 else (alpha,) if alpha != 0.54 else ()
    return _window("hamming_window", window_length, periodic, dtype, layout, device, pin_memory, requires_grad,
                   lambda n, t: _cosine_sum(n, np.dtype(t), float(alpha), float(beta)), given)


@public_function("hann_window")
def hann_window(window_length: int, periodic: bool = True, *, dtype: Optional[D.dtype] = None, layout=None,
                device=None, pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    """The Hann window ``0.5 - 0.5 cos(2 pi n / (N - 1))``; periodic unless ``periodic=False``."""
    return _window("hann_window", window_length, periodic, dtype, layout, device, pin_memory, requires_grad,
                   lambda n, t: _cosine_sum(n, np.dtype(t), 0.5, 0.5))


def _blackman(n: int, t: np.dtype) -> np.ndarray:
    t = np.dtype(t)
    w = np.arange(n, dtype=t) * t.type(np.pi / (n - 1))
    return np.cos(w * t.type(4)) * t.type(0.08) - np.cos(w * t.type(2)) * t.type(0.5) + t.type(0.42)


@public_function("blackman_window")
def blackman_window(window_length: int, periodic: bool = True, *, dtype: Optional[D.dtype] = None, layout=None,
                    device=None, pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    """The Blackman window ``0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))``."""
    return _window("blackman_window", window_length, periodic, dtype, layout, device, pin_memory, requires_grad,
                   _blackman)


def _bartlett(n: int, t: np.dtype) -> np.ndarray:
    t = np.dtype(t)
    w = np.arange(n, dtype=t) * t.type(2.0 / (n - 1))
    half = ((n - 1) >> 1) + 1
    w[half:] = t.type(2) - w[half:]
    return w


@public_function("bartlett_window")
def bartlett_window(window_length: int, periodic: bool = True, *, dtype: Optional[D.dtype] = None, layout=None,
                    device=None, pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    """The Bartlett (triangular) window ``1 - |2n / (N - 1) - 1|``."""
    return _window("bartlett_window", window_length, periodic, dtype, layout, device, pin_memory, requires_grad,
                   _bartlett)


@public_function("kaiser_window")
def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *,
                  dtype: Optional[D.dtype] = None, layout=None, device=None, pin_memory: bool = False,
                  requires_grad: bool = False) -> Tensor:
    """The Kaiser window ``I0(beta sqrt(1 - ((n - a) / a)^2)) / I0(beta)`` with ``a = (N - 1) / 2``."""
    def values(n: int, t: np.dtype) -> np.ndarray:
        a = (n - 1) / 2.0
        r = (np.arange(n, dtype=np.float64) - a) / a
        x = float(beta) * np.sqrt(np.maximum(1.0 - r * r, 0.0))
        return (i0(_plain(x, D.float64))._value() / i0(_plain(np.array(float(beta)), D.float64))._value()).astype(t)
    return _window("kaiser_window", window_length, periodic, dtype, layout, device, pin_memory, requires_grad,
                   values, () if beta == 12.0 else (beta,))
