"""Interpolation (``torch.nn.functional.interpolate`` and the deprecated ``upsample`` forms): the
nearest, nearest-exact, (bi/tri)linear and bicubic resamplings, each a linear map of the last 1, 2 or 3
dims written as a LIN row of ``ops/pooling.py`` (``UpsampleNearest2DBackward0``,
``UpsampleBilinear2DBackward0`` ...), whose derivative is the transposed map (a LIN_T row), and so on
to every order; 'area' is PyTorch's adaptive average pool.

The source positions and weights of each dim follow PyTorch's CPU kernels (``UpSample.h``): computed
in the input's precision (float32 for a float32 input, as its ``opmath_t``), the nearest index in
float32 always, the bicubic coefficients of the convolution with A = -0.75 at clamped positions.
"""
from __future__ import annotations

import math
import numbers
import warnings
from typing import Optional, Union

import numpy as np

from .._emit import D, Tensor
from ._parser import parser_type_name
from .pooling import (K_BICUBIC, K_BICUBIC_AA, K_BILINEAR, K_BILINEAR_AA, K_LANCZOS_AA, K_LINEAR, K_NEAREST,
                      K_NEAREST_EXACT, K_TRILINEAR, Map, _combine, _outer, adaptive_avg_pool1d, adaptive_avg_pool2d,
                      adaptive_avg_pool3d, linear_map, shows)

_A = -0.75      # (PyTorch's bicubic convolution constant)


def _scale(size: int, out: int, align_corners: bool, scale: Optional[float], ft) -> float:
    """PyTorch's ``area_pixel_compute_scale`` (in the float type ``ft``)."""
    if align_corners:
        return ft(size - 1) / ft(out - 1) if out > 1 else ft(0)
    return ft(1.0) / ft(scale) if scale is not None and scale > 0 else ft(size) / ft(out)


def _source(scale, out: int, align_corners: bool, cubic: bool, ft) -> np.ndarray:
    """PyTorch's ``area_pixel_compute_source_index`` of every output position."""
    o = np.arange(out, dtype=ft)
    if align_corners:
        return scale * o
    src = scale * (o + ft(0.5)) - ft(0.5)
    return src if cubic else np.maximum(src, ft(0))


def _nearest(size: int, out: int, scale: Optional[float], exact: bool) -> np.ndarray:
    o = np.arange(out)
    if not exact and out == size:
        return o[:, None]
    if not exact and out == 2 * size:
        return (o >> 1)[:, None]
    s = np.float32(1.0) / np.float32(scale) if scale is not None and scale > 0 else np.float32(size) / np.float32(out)
    at = (o.astype(np.float32) + np.float32(0.5)) * s if exact else o.astype(np.float32) * s
    return np.minimum(np.floor(at).astype(np.int64), size - 1)[:, None]


def _linear(size: int, out: int, align_corners: bool, scale: Optional[float], ft) -> tuple:
    src = _source(_scale(size, out, align_corners, scale, ft), out, align_corners, False, ft)
    i0 = src.astype(np.int64)
    lam = np.clip(src - i0.astype(ft), ft(0), ft(1))
    i1 = i0 + (i0 < size - 1)
    return np.stack([i0, i1], 1), np.stack([ft(1) - lam, lam], 1).astype(np.float64)


def _cubic(size: int, out: int, align_corners: bool, scale: Optional[float], ft) -> tuple:
    src = _source(_scale(size, out, align_corners, scale, ft), out, align_corners, True, ft)
    i = np.floor(src)
    t = src - i
    a = ft(_A)

    def near(x):
        return ((a + ft(2)) * x - (a + ft(3))) * x * x + ft(1)

    def far(x):
        return ((a * x - ft(5) * a) * x + ft(8) * a) * x - ft(4) * a
    w = np.stack([far(t + ft(1)), near(t), near(ft(1) - t), far(ft(1) - t + ft(1))], 1)
    cols = np.clip(i.astype(np.int64)[:, None] - 1 + np.arange(4)[None, :], 0, size - 1)
    return cols, w.astype(np.float64)


def _triangle(x: np.ndarray) -> np.ndarray:
    return np.maximum(1 - np.abs(x), 0)


def _keys(x: np.ndarray) -> np.ndarray:
    """The cubic convolution kernel with A = -0.5 (PyTorch's antialiasing bicubic filter)."""
    x = np.abs(x)
    a = -0.5
    return np.where(x < 1, ((a + 2) * x - (a + 3)) * x * x + 1, np.where(x < 2, (((x - 5) * x + 8) * x - 4) * a, 0))


def _lanczos(x: np.ndarray) -> np.ndarray:
    return np.where(np.abs(x) < 3, np.sinc(x) * np.sinc(x / 3), 0)


# (the antialiasing filters: function, width in input pixels at scale 1)
_FILTERS = {"bilinear": (_triangle, 2), "bicubic": (_keys, 4), "lanczos": (_lanczos, 6)}


def _antialiased(size: int, out: int, align_corners: bool, scale: Optional[float], mode: str, ft) -> tuple:
    """PyTorch's antialiasing weights of a dim: the filter stretched by the scale when shrinking,
    over the input pixels within its support of each output centre, normalised to sum 1."""
    filt, width = _FILTERS[mode]
    s = _scale(size, out, align_corners, scale, ft)
    support = ft(width * 0.5) * s if s >= 1 else ft(width * 0.5)
    inv = ft(1) / s if s >= 1 else ft(1)
    center = s * (np.arange(out, dtype=ft) + ft(0.5))
    lo = np.maximum((center - support + ft(0.5)).astype(np.int64), 0)
    hi = np.minimum((center + support + ft(0.5)).astype(np.int64), size)
    n = max(int((hi - lo).max()), 1)
    j = np.arange(n)
    valid = j[None, :] < (hi - lo)[:, None]
    w = np.where(valid, filt((j[None, :] + lo[:, None] - center[:, None] + ft(0.5)) * inv), 0).astype(ft)
    total = w.sum(1, keepdims=True)
    w = np.where(total != 0, w / np.where(total != 0, total, 1), w)
    return np.where(valid, lo[:, None] + j[None, :], -1), w.astype(np.float64)


def _resample(x: Tensor, out_sp: tuple, scales: list, mode: str, align_corners: bool,
              antialias: bool = False) -> Tensor:
    n = len(out_sp)
    in_sp = x._shape[-n:]
    for i in range(n):
        if in_sp[i] <= 0 or out_sp[i] <= 0:
            letters = ("D", "H", "W")[3 - n:]
            ins = ", ".join(f"{c}: {v}" for c, v in zip(letters, in_sp))
            outs = ", ".join(f"{c}: {v}" for c, v in zip(letters, out_sp))
            joint = " and" if n == 1 else ""       # (PyTorch's wording)
            raise RuntimeError(f"Input and output sizes should be greater than 0, but got input ({ins}){joint} "
                               f"output ({outs})")
    if x.numel() == 0 and math.prod(x._shape[1:]) == 0:      # (no channel: only a batch of none may be empty)
        raise RuntimeError(f"Non-empty {n + 2}D data tensor expected but got a tensor with sizes {list(x._shape)}")
    if not x._dtype.is_floating_point:
        kernel = {"nearest": "compute_indices_weights_nearest", "nearest-exact": "compute_indices_weights_nearest",
                  "linear": "compute_indices_weights_linear", "trilinear": "compute_indices_weights_linear",
                  "bilinear": "upsample_bilinear2d_channels_last", "bicubic": "compute_indices_weights_cubic",
                  "lanczos": ""}[mode]
        if n == 2 and mode in ("nearest", "nearest-exact"):
            kernel = "upsample_nearest2d_channels_last"
        if antialias:
            kernel = "compute_index_ranges_weights"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{D.legacy_name(x._dtype)}'")
    ft = np.float32 if x._dtype.np == np.float32 else np.float64
    if mode in ("nearest", "nearest-exact"):
        cols = _combine([_nearest(in_sp[i], out_sp[i], scales[i], mode == "nearest-exact") for i in range(n)], in_sp)
        kind = (K_NEAREST if mode == "nearest" else K_NEAREST_EXACT) + n - 1
        return linear_map(x, Map(in_sp, out_sp, cols), kind)
    if antialias:
        tables = [_antialiased(in_sp[i], out_sp[i], align_corners, scales[i], mode, ft) for i in range(n)]
        kind = {"bilinear": K_BILINEAR_AA, "bicubic": K_BICUBIC_AA, "lanczos": K_LANCZOS_AA}[mode]
        m = Map(in_sp, out_sp, _combine([t[0] for t in tables], in_sp), _outer([t[1] for t in tables]))
        return linear_map(x, m, kind)
    tables = [(_cubic if mode == "bicubic" else _linear)(in_sp[i], out_sp[i], align_corners, scales[i], ft)
              for i in range(n)]
    cols = _combine([t[0] for t in tables], in_sp)
    w = _outer([t[1] for t in tables])
    kind = {"linear": K_LINEAR, "bilinear": K_BILINEAR, "bicubic": K_BICUBIC, "trilinear": K_TRILINEAR}[mode]
    return linear_map(x, Map(in_sp, out_sp, cols, w), kind)


def _is_integer(x) -> bool:
    return isinstance(x, (int, np.integer)) or isinstance(x, Tensor) and not x.is_floating_point()


_NEEDS = {"linear": 3, "bilinear": 4, "trilinear": 5}


def interpolate(input: Tensor, size: Optional[Union[int, tuple]] = None, scale_factor=None, mode: str = "nearest",
                align_corners: Optional[bool] = None, recompute_scale_factor: Optional[bool] = None,
                antialias: bool = False) -> Tensor:
    """Resamples the last 1, 2 or 3 dims of ``input`` (``(N, C, d1, ...)``) to ``size`` or by
    ``scale_factor``: ``mode`` 'nearest', 'nearest-exact', 'linear' (3-D input), 'bilinear' or
    'bicubic' (4-D), 'trilinear' (5-D), 'area' (the adaptive average pool), 'lanczos' (4-D, with
    ``antialias``).  ``align_corners``: the
    corner pixels' centres aligned (the interpolating modes); ``recompute_scale_factor``: the
    output size computed from ``scale_factor`` and the scale then taken from the sizes; ``antialias``
    (bilinear, bicubic, lanczos): a filter widened by the scale when shrinking."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    dim = input.dim() - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        scale_factors = None
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError("Input and output must have the same number of spatial dimensions, but got input "
                                 f"with spatial dimensions of {list(input._shape[2:])} and output size of {size}. "
                                 "Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size in "
                                 "(o1, o2, ...,oK) format.")
            if not all(_is_integer(x) for x in size):
                raise TypeError("expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                                f"Tuple[int, int, int], but got size with types {[type(x) for x in size]}")
            output_size = [int(v) for v in size]
        else:
            output_size = [size for _ in range(dim)]
    elif scale_factor is not None:
        output_size = None
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError("Input and scale_factor must have the same number of spatial dimensions, but got "
                                 f"input with spatial dimensions of {list(input._shape[2:])} and scale_factor of "
                                 f"shape {scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) format "
                                 "and scale_factor in (s1, s2, ...,sK) format.")
            scale_factors = list(scale_factor)
        else:
            scale_factors = [scale_factor for _ in range(dim)]
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and output_size is None:
        recompute_scale_factor = True
    if recompute_scale_factor:
        output_size = [int(input._shape[i + 2] * scale_factors[i]) for i in range(dim)]
        scale_factors = None
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.dim() == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires a 4-D "
                         "tensor as input")
    if dim in (1, 2, 3) and mode == "area":
        return (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[dim - 1](input, output_size)
    known = dim in (1, 2, 3) and mode in ("nearest", "nearest-exact") or mode == "bicubic" and dim == 2 or \
        _NEEDS.get(mode) == input.dim()
    if mode == "lanczos" and dim == 2:
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
        known = True
    if not known:
        if mode in _NEEDS and input.dim() in (3, 4, 5):
            raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs {_NEEDS[mode]}D input")
        raise NotImplementedError("Input Error: Only 3D, 4D and 5D input Tensors supported"
                                  f" (got {input.dim()}D) for the modes: nearest | linear | bilinear | bicubic | "
                                  f"trilinear | lanczos | area | nearest-exact (got {mode})")
    if output_size is None:
        for s in scale_factors:
            if not isinstance(s, numbers.Real):
                raise TypeError(f"upsample(): argument 'scale_factors' must be tuple of floats, not "
                                f"{parser_type_name(s)}")
        output_size = [int(input._shape[i + 2] * float(scale_factors[i])) for i in range(dim)]
    scales = [None] * dim if scale_factors is None else [float(s) for s in scale_factors]
    out_sp = tuple(int(v) for v in output_size)
    y = _resample(input, out_sp, scales, mode, align_corners, antialias)
    # (PyTorch's 1-d nodes save one ``scales``; the 2-d and 3-d ones one per dimension)
    names = ("scales",) if dim == 1 else tuple(f"scales_{c}" for c in "dhw"[3 - dim:])
    saved = (("output_size", out_sp),) + tuple(zip(names, scales)) + (("self_sym_sizes", input._shape),)
    if mode not in ("nearest", "nearest-exact"):
        saved = (("align_corners", bool(align_corners)),) + saved
    return shows(y, saved)


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: Optional[bool] = None) -> Tensor:
    """Deprecated: ``interpolate``."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: ``interpolate(..., mode='nearest')``."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: ``interpolate(..., mode='bilinear', align_corners=True)``."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)

