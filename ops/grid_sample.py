"""Spatial transformers: ``affine_grid`` (``torch.affine_grid_generator``,
``AffineGridGeneratorBackward0``) and ``grid_sample`` (``torch.grid_sampler``, ``grid_sampler_2d``,
``grid_sampler_3d``: ``GridSampler2DBackward0`` / ``GridSampler3DBackward0``).

A grid sample reads, for each output point, a few taps of its input plane (4 corners in 2-D
bilinear, 8 in 3-D, 16 for bicubic, one for nearest) with weights that are polynomials of the
point's fractional position: ``out = sum_k W_k(grid) * x[idx_k]``.  The positions, taps and weights
are PyTorch's CPU kernels' arithmetic, in the input's precision, so that the values are its bits:
the 2-D kernel's vectorized forms (``(g + 1) * s - 0.5``, reflection by ``trunc`` and
``min(extra, span - extra)``, weights ``1 - frac``) with the multiply-adds its x86 build (AVX2 and
up) fuses, and the 3-D kernel's scalar ones (``((g + 1) * size - 1) / 2``, reflection by ``fmod``,
weights ``floor + 1 - pos``, non-finite positions sent to -100); nearest rounds half to even
(``nearbyint``).  A tap outside the plane (``zeros`` padding) reads 0.

The row's derivative rule is written in tape ops: the input's gradient scatters ``g * W_k`` back
to the taps (the transposed gather), the grid's gathers the taps and weighs them by ``dW_k/dpos``
times ``dpos/dgrid`` (the unnormalizing scale, the reflection's sign, 0 where clipped).  Positions
enter the rule as ``(grid - grid_value) * dpos/dgrid + pos_value``, so every order comes from
recording it (the second derivatives of the piecewise-polynomial weights included, as PyTorch's
``GridSampler2DBackwardBackward0``; only the names of those nodes differ, they are those of the
ops the rule is made of).
"""
from __future__ import annotations

import itertools
import math
import warnings
from typing import Optional

import numpy as np

from .._emit import D, Size, Tensor, emit, linspace_values, plain, state, write_tape
from ._parser import check_types
from ._rule import rule_adjoint
from .pooling import _ints
from ._spec import PYTHON, TRANSPOSED, X0, X1, Op, public_function, register, tangents
from .join import cat, stack, where

GRID_SAMPLER, AFFINE_GRID = PYTHON.start + 210, PYTHON.start + 211
BILINEAR, NEAREST, BICUBIC = 0, 1, 2
ZEROS, BORDER, REFLECTION = 0, 1, 2
_A = -0.75      # (the cubic convolution's constant, as PyTorch's bicubic)


def _fma(a, b, c) -> np.ndarray:
    """``a * b + c`` rounded once, as the fused multiply-adds of PyTorch's vectorized 2-D kernel: for
    float32 in float64 (the product is exact there); for float64 by Dekker's exact product and an
    exact sum, ``a * b = p + e``, ``p + c = s + t``, rounded as ``s + (t + e)``."""
    a = np.asarray(a)
    dt = a.dtype
    if dt == np.float32:
        return (a.astype(np.float64) * np.asarray(b, np.float64) + np.asarray(c, np.float64)).astype(np.float32)
    b, c = np.asarray(b, dt), np.asarray(c, dt)
    split = dt.type(134217729.0)            # (2^27 + 1: halves of 26 bits)
    t = split * a
    ah = t - (t - a)
    al = a - ah
    t = split * b
    bh = t - (t - b)
    bl = b - bh
    p = a * b
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    s = p + c
    back = s - p
    return s + (((p - (s - back)) + (c - back)) + e)


# --- positions ------------------------------------------------------------------------------------
def _unnormalize(c: np.ndarray, size: int, align: bool, vec: bool) -> tuple:
    """The pixel position of normalized coordinates ``c`` and its derivative (the scale)."""
    ft = c.dtype.type
    scale = ft(size - 1) / ft(2) if align else ft(size) / ft(2)
    if vec:         # (the 2-D kernel's ComputeLocationBase, its multiply-add fused)
        if align:
            pos = (c + ft(1)) * scale
        else:
            pos = _fma(c + ft(1), scale, ft(-0.5))
    else:           # (GridSampler.h's grid_sampler_unnormalize)
        pos = (c + ft(1)) / ft(2) * ft(size - 1) if align else ((c + ft(1)) * ft(size) - ft(1)) / ft(2)
    return pos, scale


def _clip(pos: np.ndarray, size: int) -> tuple:
    """``pos`` clipped to [0, size - 1] and its derivative (0 on and beyond the borders)."""
    ft = pos.dtype.type
    top = ft(size - 1)
    inside = (pos > 0) & (pos < top)
    return np.minimum(np.maximum(pos, ft(0)), top), inside.astype(pos.dtype)


def _reflect(pos: np.ndarray, size: int, align: bool, vec: bool) -> tuple:
    """``pos`` reflected by the plane's borders (the corner centres when ``align``, else the edges)
    into their span, and the derivative's sign."""
    ft = pos.dtype.type
    twice_low, twice_high = (0, 2 * (size - 1)) if align else (-1, 2 * size - 1)
    if twice_low == twice_high:
        return np.zeros_like(pos), np.zeros_like(pos)
    low = ft(twice_low) / ft(2)
    if vec:
        twice_span = ft(twice_high - twice_low)
        shifted = pos - low if not align else pos
        a = np.abs(shifted)
        extra = a - np.trunc(a / twice_span) * twice_span
        back = twice_span - extra
        flip = extra > back
        out = np.where(flip, back, extra)
        if not align:
            out = out + low
        return out, np.where(flip ^ (shifted < 0), ft(-1), ft(1)).astype(pos.dtype)
    span = ft(twice_high - twice_low) / ft(2)
    shifted = pos - low
    a = np.abs(shifted)
    extra = np.fmod(a, span)
    odd = np.floor(a / span) % 2 == 1
    out = np.where(odd, span - extra + low, extra + low)
    sign = np.where(odd ^ (shifted < 0), ft(-1), ft(1)).astype(pos.dtype)
    return out, sign


def _pad(pos: np.ndarray, size: int, padding: int, align: bool, vec: bool) -> tuple:
    """The padding mode's map of pixel positions (``compute_coordinates``) and its derivative."""
    one = np.ones_like(pos)
    if padding == BORDER:
        return _clip(pos, size)
    if padding == REFLECTION:
        pos, sign = _reflect(pos, size, align, vec)
        pos, inside = _clip(pos, size)
        return pos, sign * inside
    return pos, one


def _safe(pos: np.ndarray) -> np.ndarray:
    """The 3-D kernel's ``safe_downgrade_to_int_range``: non-finite or huge positions to -100."""
    bad = ~np.isfinite(pos) | (pos > 2147483646) | (pos < -2147483648)
    return np.where(bad, pos.dtype.type(-100), pos) if bad.any() else pos


# --- taps and weights -----------------------------------------------------------------------------
def _near(t):
    return ((_A + 2) * t - (_A + 3)) * t * t + 1


def _far(t):
    return ((_A * t - 5 * _A) * t + 8 * _A) * t - 4 * _A


def _d_near(t):
    return (3 * (_A + 2) * t - 2 * (_A + 3)) * t


def _d_far(t):
    return (3 * _A * t - 10 * _A) * t + 8 * _A


def _cubic(t) -> list:
    """The four bicubic coefficients at fraction ``t`` (an array or a tape tensor)."""
    return [_far(t + 1), _near(t), _near(1 - t), _far(2 - t)]


def _d_cubic(t) -> list:
    return [_d_far(t + 1), _d_near(t), -_d_near(1 - t), -_d_far(2 - t)]


def _fused_cubic(t: np.ndarray) -> list:
    """The bicubic coefficients as the 2-D kernel computes them: the inner ones' multiply-adds fused."""
    ft = t.dtype.type
    a = ft(_A)

    def near(x):
        return _fma(_fma(a + ft(2), x, -(a + ft(3))) * x, x, ft(1))
    return [_far(t + ft(1)), near(t), near(ft(1) - t), _far(ft(2) - t)]


class _Plan:
    """Where each output point of a grid sample reads: per dim (grid component order: x = W, y = H,
    z = D) the pixel position, its floor and its derivative by the grid; the taps' flat indices into the input
    plane (its size where outside it) in PyTorch's order of summation."""

    def __init__(self, grid: np.ndarray, in_sp: tuple, mode: int, padding: int, align: bool) -> None:
        nd = len(in_sp)
        vec = nd == 2
        n = grid.shape[0]
        self.mode, self.nd, self.in_sp = mode, nd, in_sp
        g = grid.reshape(n, math.prod(grid.shape[1:-1]), nd)
        sizes = in_sp[::-1]                 # (size along each grid component)
        self.pos, self.lo, self.mult, self.taps1d = [], [], [], []
        for d in range(nd):
            pos, mult = _unnormalize(g[..., d], sizes[d], align, vec)
            if mode != BICUBIC:
                pos, m = _pad(pos, sizes[d], padding, align, vec)
                mult = mult * m
                if not vec:
                    pos = _safe(pos)
            if mode == NEAREST:
                self.taps1d.append([np.rint(pos)])
                self.pos.append(None)
                self.lo.append(None)
            else:
                lo = np.floor(pos)
                self.lo.append(lo)
                self.pos.append(pos)
                offsets = range(-1, 3) if mode == BICUBIC else range(2)
                self.taps1d.append([lo + o for o in offsets])
            self.mult.append(np.broadcast_to(mult, pos.shape))
        self.bicubic_pad = (padding, align) if mode == BICUBIC else None
        self.idx = self._indices(in_sp)

    def _coordinate(self, p: np.ndarray, size: int) -> np.ndarray:
        """A tap's integer position in [0, size) or -1 (outside)."""
        if self.bicubic_pad is not None:        # (the bicubic taps pass the padding map one by one)
            padding, align = self.bicubic_pad
            p = _pad(p, size, padding, align, True)[0]
        ok = (p >= 0) & (p < size)
        return np.where(ok, np.where(ok, p, 0).astype(np.int64), -1)

    def _indices(self, in_sp: tuple) -> np.ndarray:
        """``(N, K, P)`` flat tap indices, K over the taps with the last grid component slowest."""
        nd = self.nd
        per_dim = [[self._coordinate(p, in_sp[nd - 1 - d]) for p in self.taps1d[d]] for d in range(nd)]
        outside = math.prod(in_sp)
        rows = []
        for combo in itertools.product(*(range(len(t)) for t in reversed(per_dim))):
            flat, bad = 0, False
            for d in range(nd):
                c = per_dim[d][combo[nd - 1 - d]]
                flat = flat + c * math.prod(in_sp[nd - d:])
                bad = bad | (c < 0)
            rows.append(np.where(bad, outside, flat))
        return np.stack(rows, 1)

    def factors(self, d: int, frac, derivative: bool = False) -> list:
        """The weights (or their derivatives) of dim ``d``'s taps at fraction ``frac`` (a tape tensor:
        the position less the taps' floor ``self.lo[d]``)."""
        if self.mode == BICUBIC:
            return _d_cubic(frac) if derivative else _cubic(frac)
        if derivative:
            return [frac * 0 - 1, frac * 0 + 1]
        return [1 - frac, frac]

    def values(self, d: int) -> list:
        """The weights of dim ``d``'s two bilinear taps as PyTorch's kernels compute them: ``1 - frac``
        in 2-D, the corner distances ``floor + 1 - pos`` in 3-D."""
        pos, lo = self.pos[d], self.lo[d]
        if self.nd == 2:
            frac = pos - lo
            return [1 - frac, frac]
        return [lo + 1 - pos, pos - lo]

    def weights(self, per_dim: list) -> list:
        """Each tap's weight from the factors of each dim, their product in PyTorch's order (y * x in
        2-D, x * y * z in 3-D), the taps with the last grid component slowest."""
        nd = self.nd
        out = []
        for combo in itertools.product(*(range(len(f)) for f in reversed(per_dim))):
            ws = [per_dim[d][combo[nd - 1 - d]] for d in range(nd)]
            order = ws[::-1] if nd == 2 else ws
            w = order[0]
            for f in order[1:]:
                w = w * f
            out.append(w)
        return out


def _values(x: np.ndarray, plan: _Plan) -> np.ndarray:
    """The sampled values, summed in PyTorch's order: corner after corner, or for bicubic four rows
    of four taps, each row's sum weighted by its y coefficient."""
    n, c = x.shape[:2]
    flat = np.zeros((n, c, math.prod(plan.in_sp) + 1), x.dtype)
    flat[:, :, :-1] = x.reshape(n, c, math.prod(plan.in_sp))
    k, p = plan.idx.shape[1:]
    taps = np.take_along_axis(flat, plan.idx.reshape(n, 1, k * p), 2).reshape(n, c, k, p)
    if plan.mode == NEAREST:
        return taps[:, :, 0]
    if plan.mode == BICUBIC:
        cx, cy = (_fused_cubic(f - lo) for f, lo in zip(plan.pos, plan.lo))
        rows = []
        for i in range(4):
            v = [taps[:, :, 4 * i + j] for j in range(4)]
            # (the multiply-adds as PyTorch's compiled kernel fuses them: the first pair, then two products)
            row = _fma(cx[0][:, None], v[0], cx[1][:, None] * v[1])
            rows.append(row + cx[2][:, None] * v[2] + cx[3][:, None] * v[3])
        out = _fma(cy[1][:, None], rows[1], cy[0][:, None] * rows[0])
        for i in (2, 3):
            out = _fma(cy[i][:, None], rows[i], out)
        return out
    ws = plan.weights([plan.values(d) for d in range(plan.nd)])
    out = taps[:, :, 0] * ws[0][:, None]
    for k in range(1, len(ws)):
        if plan.nd == 2:        # (the 2-D kernel's sum of products, fused)
            out = _fma(taps[:, :, k], ws[k][:, None], out)
        else:
            out = out + taps[:, :, k] * ws[k][:, None]
    return out


# --- the row --------------------------------------------------------------------------------------
def _attrs(r) -> tuple:
    """(mode, padding, align_corners) of a grid sampler row."""
    return r.ib % 3, r.ib // 3 % 3, bool(r.ib // 9 % 2)


def _linked(t: Tensor, sources: tuple) -> Tensor:
    """``t``, requiring grad when any of ``sources`` does, as the outputs of PyTorch's double-backward
    node do (it takes the adjoint, the input and the grid): plus a zero that depends on them."""
    if t._rg:
        return t
    for src in sources:
        if src._rg:
            return t + where(src.new_zeros(src._shape, dtype=D.bool_), src, 0.0).sum()
    return t


def _grid_sampler_vjp(g, xs, y, r):
    gx, ggrid = _grid_sampler_rule(g, xs, r)
    return _linked(gx, (g,) + tuple(xs)), _linked(ggrid, (g,) + tuple(xs))


def _grid_sampler_rule(g, xs, r):
    x, grid = xs
    mode, padding, align = _attrs(r)
    n, c = x._shape[:2]
    in_sp = x._shape[2:]
    nd = len(in_sp)
    gv = grid._value()
    plan = _Plan(gv, in_sp, mode, padding, align)
    k, p = plan.idx.shape[1], plan.idx.shape[2]
    dt = x._dtype
    idx = plain(plan.idx.reshape(n, 1, k * p), D.int64).expand(n, c, k * p)
    g = g.reshape(n, c, 1, p)
    fracs = []
    if mode != NEAREST:
        comps = grid.reshape(n, p, nd)
        for d in range(nd):
            # (the position as a function of the grid: its value exactly, its derivative ``mult``)
            comp = comps.select(2, d)
            moved = (comp - plain(np.ascontiguousarray(gv.reshape(n, p, nd)[..., d]), dt)) * \
                plain(np.ascontiguousarray(plan.mult[d]), dt)
            fracs.append(moved + plain(plan.pos[d] - plan.lo[d], dt))
    if mode == NEAREST:
        w = None
        spread = g.reshape(n, c, p)
    else:
        w = stack(plan.weights([plan.factors(d, fracs[d]) for d in range(nd)]), 1)     # (N, K, P)
        spread = (g * w.unsqueeze(1)).reshape(n, c, k * p)
    size = math.prod(in_sp)
    gx = x.new_zeros((n, c, size + 1)).scatter_add(2, idx, spread).narrow(2, 0, size).reshape(x._shape)
    if mode == NEAREST:
        return gx, grid.new_zeros(grid._shape)
    flat = cat([x.reshape(n, c, size), x.new_zeros((n, c, 1))], 2)
    taps = flat.gather(2, idx).reshape(n, c, k, p)
    seen = (g * taps).sum(1)                               # (N, K, P): the adjoint times each tap
    parts = []
    for d in range(nd):
        dw = stack(plan.weights([plan.factors(e, fracs[e], e == d) for e in range(nd)]), 1)
        parts.append((seen * dw).sum(1) * plain(np.ascontiguousarray(plan.mult[d]), dt))
    return gx, stack(parts, 2).reshape(grid._shape)


def _grid_sampler_name(r) -> str:
    return "GridSampler3DBackward0" if r.ia == 3 else "GridSampler2DBackward0"


register(Op(GRID_SAMPLER, "grid_sampler_2d", "GridSampler2DBackward0", X0 | X1, _grid_sampler_vjp,
            py_adjoint=rule_adjoint, arity=2, grad_fn_of=_grid_sampler_name,
            node_saved=(("align_corners", lambda r: _attrs(r)[2]), ("grid", X1), ("input", X0),
                        ("interpolation_mode", lambda r: _attrs(r)[0]), ("padding_mode", lambda r: _attrs(r)[1]))))
tangents({GRID_SAMPLER: TRANSPOSED})


def _sizes(t: Tensor) -> str:
    return str(list(t._shape))


def _sample(input: Tensor, grid: Tensor, mode: int, padding: int, align: bool, nd: Optional[int]) -> Tensor:
    """The checks of PyTorch's ``grid_sampler`` (``nd``: 2 or 3 for ``grid_sampler_2d``/``_3d``,
    None to choose by the input's dims), then the row."""
    if input.dim() == 0 or grid.dim() == 0 or input._shape[0] != grid._shape[0]:
        raise RuntimeError("grid_sampler(): expected grid and input to have same batch size, but got input with sizes "
                           f"{_sizes(input)} and grid with sizes {_sizes(grid)}")
    if grid._shape[-1] != input.dim() - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.dim() - 2} in last dimension, but got "
                           f"grid with sizes {_sizes(grid)}")
    for i in range(2, input.dim()):
        if input._shape[i] <= 0:
            raise RuntimeError("grid_sampler(): expected input to have non-empty spatial dimensions, but input has "
                               f"sizes {_sizes(input)} with dimension {i} being empty")
    if nd is None:
        nd = 2 if input.dim() == 4 else 3
    if input.dim() != nd + 2 or grid.dim() != input.dim():
        raise RuntimeError(f"grid_sampler(): expected {nd + 2}D input and grid with same number of dimensions, but "
                           f"got input with sizes {_sizes(input)} and grid with sizes {_sizes(grid)}")
    if nd == 3 and mode == BICUBIC:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if not input._dtype.is_floating_point:
        kernel = "grid_sampler_2d_cpu_kernel_impl" if nd == 2 else "grid_sampler3d_cpu"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{D.legacy_name(input._dtype)}'")
    if grid._dtype is not input._dtype:
        raise RuntimeError(f"expected scalar type {D.legacy_name(input._dtype)} but found "
                           f"{D.legacy_name(grid._dtype)}")
    # (PyTorch's kernels fall through a switch for other codes, leaving the output unwritten)
    if mode not in (BILINEAR, NEAREST, BICUBIC):
        raise RuntimeError(f"grid_sampler(): unknown interpolation mode {mode}")
    if padding not in (ZEROS, BORDER, REFLECTION):
        raise RuntimeError(f"grid_sampler(): unknown padding mode {padding}")
    x = input._value()
    plan = _Plan(grid._value(), input._shape[2:], mode, padding, align)
    y = np.ascontiguousarray(_values(x, plan).reshape(input._shape[:2] + grid._shape[1:-1]), x.dtype)
    if state.grad and (input._rg or grid._rg):
        return emit(GRID_SAMPLER, y, input._dtype, input, grid, ia=nd, ib=mode + 3 * padding + 9 * int(align))
    return plain(y, input._dtype)


_SAMPLER_ARGS = (("input", Tensor), ("grid", Tensor), ("interpolation_mode", "int"), ("padding_mode", "int"),
                 ("align_corners", "bool"))


def _sampler_args(name: str, args: tuple) -> None:
    if len(args) < 5:
        missing = [a for a, _ in _SAMPLER_ARGS[len(args):]]
        raise TypeError(f"{name}() missing {len(missing)} required positional arguments: "
                        + ", ".join(f'"{m}"' for m in missing))
    check_types(name, _SAMPLER_ARGS, *args)


@public_function("grid_sampler")
def grid_sampler(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,
                 align_corners: bool) -> Tensor:
    """The values of ``input`` (``(N, C, H, W)`` or ``(N, C, D, H, W)``) at the normalized positions
    of ``grid``; modes by code: interpolation 0 bilinear, 1 nearest, 2 bicubic; padding 0 zeros,
    1 border, 2 reflection."""
    _sampler_args("grid_sampler", (input, grid, interpolation_mode, padding_mode, align_corners))
    return _sample(input, grid, interpolation_mode, padding_mode, align_corners, None)


@public_function("grid_sampler_2d")
def grid_sampler_2d(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,
                    align_corners: bool) -> Tensor:
    """:func:`grid_sampler` of a 4-D input."""
    _sampler_args("grid_sampler_2d", (input, grid, interpolation_mode, padding_mode, align_corners))
    return _sample(input, grid, interpolation_mode, padding_mode, align_corners, 2)


@public_function("grid_sampler_3d")
def grid_sampler_3d(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,
                    align_corners: bool) -> Tensor:
    """:func:`grid_sampler` of a 5-D input."""
    _sampler_args("grid_sampler_3d", (input, grid, interpolation_mode, padding_mode, align_corners))
    return _sample(input, grid, interpolation_mode, padding_mode, align_corners, 3)


_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                  "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                  "grid_sample for details.")


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: Optional[bool] = None) -> Tensor:
    """Samples ``input`` (``(N, C, H_in, W_in)`` or ``(N, C, D_in, H_in, W_in)``) at the positions of
    ``grid`` (``(N, H_out, W_out, 2)`` or ``(N, D_out, H_out, W_out, 3)``), normalized to [-1, 1]
    across the input's extent (x along W first); ``mode`` 'bilinear', 'nearest' or 'bicubic' (4-D
    only), ``padding_mode`` for positions outside: 'zeros', 'border' or 'reflection';
    ``align_corners``: -1 and 1 are the corner pixels' centres rather than their outer edges."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError("nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', "
                         f"but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError("nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    return grid_sampler(input, grid, ("bilinear", "nearest", "bicubic").index(mode),
                        ("zeros", "border", "reflection").index(padding_mode), align_corners)


# --- affine grids ---------------------------------------------------------------------------------
def _steps(n: int, align: bool, ft) -> np.ndarray:
    """PyTorch's ``linspace_from_neg_one``: -1 .. 1 (scaled by (n - 1) / n unless ``align``)."""
    ft = np.dtype(ft).type
    if n <= 1:
        return np.zeros(n, ft)
    r = linspace_values(-1, 1, n, np.dtype(ft)).astype(ft)
    return r if align else r * ft(n - 1) / ft(n)


def _base(size: tuple, align: bool, ft) -> np.ndarray:
    """The ``(prod(spatial), nd + 1)`` homogeneous coordinates of the output points (x fastest)."""
    sp = size[2:]
    nd = len(sp)
    ft = np.dtype(ft).type
    base = np.ones(sp + (nd + 1,), ft)
    for d in range(nd):             # (component d runs along spatial dim nd - 1 - d)
        shape = [1] * nd
        shape[nd - 1 - d] = sp[nd - 1 - d]
        base[..., d] = _steps(sp[nd - 1 - d], align, ft).reshape(shape)
    return base.reshape(-1, nd + 1)


def _affine_attrs(r) -> tuple:
    ix = r.tape.ix
    k = int(ix[r.ia])
    return tuple(int(v) for v in ix[r.ia + 1:r.ia + 1 + k]), bool(r.ib)


def _affine_vjp(g, xs, y, r):
    size, align = _affine_attrs(r)
    theta = xs[0]
    base = plain(_base(size, align, theta._dtype.np), theta._dtype)
    n, nd = size[0], len(size) - 2
    return (g.reshape(n, -1, nd).transpose(1, 2).matmul(base),)


register(Op(AFFINE_GRID, "affine_grid_generator", "AffineGridGeneratorBackward0", 0, _affine_vjp,
            py_adjoint=rule_adjoint,
            node_saved=(("align_corners", lambda r: _affine_attrs(r)[1]), ("size", lambda r: _affine_attrs(r)[0]))))
tangents({AFFINE_GRID: TRANSPOSED})


@public_function("affine_grid_generator")
def affine_grid_generator(theta: Tensor, size: list, align_corners: bool) -> Tensor:
    """The sampling grid (``(N, H, W, 2)`` or ``(N, D, H, W, 3)``) of the affine maps ``theta``
    (``(N, 2, 3)`` or ``(N, 3, 4)``) over an output of ``size`` (``(N, C, H, W)`` or
    ``(N, C, D, H, W)``)."""
    check_types("affine_grid_generator", (("theta", Tensor),), theta)
    size = _ints("affine_grid_generator", "size", size, 2)
    check_types("affine_grid_generator", (("align_corners", "bool"),), align_corners, first=3)
    if len(size) not in (4, 5):
        raise RuntimeError("AffineGridGenerator needs 4d (spatial) or 5d (volumetric) inputs.")
    nd = len(size) - 2
    n = size[0]
    # (PyTorch's generator is a batched product of the base grid and theta transposed, viewed)
    if theta.dim() != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if theta._shape[0] != n or theta._shape[2] != nd + 1:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{n}, {nd + 1}] but got: "
                           f"[{theta._shape[0]}, {theta._shape[2]}].")
    if theta._shape[1] != nd:
        shape = [n, *size[2:], nd]
        raise RuntimeError(f"shape '{shape}' is invalid for input of size {n * math.prod(size[2:]) * theta._shape[1]}")
    ft = theta._dtype.np
    base = _base(size, align_corners, ft)
    y = np.ascontiguousarray(np.matmul(base, np.swapaxes(theta._value(), 1, 2)).reshape((n,) + size[2:] + (nd,)), ft)
    if state.grad and theta._rg:
        tape = write_tape()
        ia = tape.index_list(np.array((len(size),) + size, np.int64))
        return emit(AFFINE_GRID, y, theta._dtype, theta, ia=ia, ib=int(align_corners))
    return plain(y, theta._dtype)


def affine_grid(theta: Tensor, size: list, align_corners: Optional[bool] = None) -> Tensor:
    """The sampling grid of the batch of affine matrices ``theta`` (``(N, 2, 3)`` for 2-D,
    ``(N, 3, 4)`` for 3-D) over an output of ``size`` (``(N, C, H, W)`` or ``(N, C, D, H, W)``),
    for :func:`grid_sample`; ``align_corners`` as there (default False)."""
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    shown = Size(size) if isinstance(size, Size) else size
    if len(size) == 4:
        if theta.dim() != 3 or theta._shape[-2] != 2 or theta._shape[-1] != 3:
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {shown}. "
                             f"Got {theta.shape}.")
        spatial = size[-2:]
    elif len(size) == 5:
        if theta.dim() != 3 or theta._shape[-2] != 3 or theta._shape[-1] != 4:
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {shown}. "
                             f"Got {theta.shape}.")
        spatial = size[-3:]
    else:
        raise NotImplementedError("affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {shown}.")
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                      "align_corners=True. This is not an intended use case of affine_grid. See the documentation "
                      "of affine_grid for details.", stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {shown}")
    return affine_grid_generator(theta, size, align_corners)
