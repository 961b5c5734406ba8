"""``pixel_shuffle``, ``pixel_unshuffle`` and ``channel_shuffle``: rearrangements of a tensor's
elements, each one SHUFFLE row (a gather at a flat index list, as ``ops/layout.py``'s) named by ``ib``
(``PixelShuffleBackward0``, ``PixelUnshuffleBackward0``, ``ChannelShuffleBackward0``).  The derivative
of a rearrangement is the inverse one, which PyTorch names as the op undoing it (a pixel shuffle's is a
``PixelUnshuffleBackward0`` node), so every order has PyTorch's nodes.
"""
from __future__ import annotations

import numpy as np

from .._emit import Tensor, plain, recorded, state, write_tape
from ._parser import check_types, parser_type_name
from ._rule import rule_adjoint
from ._spec import PYTHON, Op, public_function, register, tangents

SHUFFLE = PYTHON.start + 126
SHUFFLE_NAMES = ("PixelShuffleBackward0", "PixelUnshuffleBackward0", "ChannelShuffleBackward0")
K_PIXEL_SHUFFLE, K_PIXEL_UNSHUFFLE, K_CHANNEL_SHUFFLE = range(3)
_INVERSE = (K_PIXEL_UNSHUFFLE, K_PIXEL_SHUFFLE, K_CHANNEL_SHUFFLE)


def _inverse(positions: np.ndarray) -> np.ndarray:
    out = np.empty(positions.size, np.int64)
    out[positions.reshape(-1)] = np.arange(positions.size)
    return out


def _shuffle_vjp(g, xs, y, r):
    shape = r.in_shapes[0]
    return (_shuffled(g, _inverse(r.out_index_list).reshape(shape), _INVERSE[r.ib]),)


def _shuffle_jvp(ts, xs, y, r):
    return _shuffled(ts[0], r.out_index_list.reshape(r.out_shape).copy(), r.ib)


register(Op(SHUFFLE, "pixel_shuffle", "PixelShuffleBackward0", 0, _shuffle_vjp, py_adjoint=rule_adjoint,
            float_only=False, grad_fn_of=lambda r: SHUFFLE_NAMES[r.ib]))
tangents({SHUFFLE: _shuffle_jvp})       # (linear: the same rearrangement of the tangent)


def _shuffled(x: Tensor, positions: np.ndarray, kind: int, saved: tuple = ()) -> Tensor:
    """The elements of ``x`` at the flat ``positions`` (shaped as the result): a SHUFFLE row."""
    y = np.require(x._value().reshape(-1)[positions], x._dtype.np, "C")
    if not (x._rg and state.grad and x._dtype.arena is not None):
        return plain(y, x._dtype)
    tape = write_tape()
    nx = x._node if x._tape is tape else tape.import_(x)
    node = tape.append(SHUFFLE, x._dtype.arena, y, nx, ia=tape.index_list(np.require(positions, np.int64, "C")),
                       ib=kind)
    if saved:
        tape.args[node] = saved
    return recorded(tape, node, y, x._dtype)


def _positions(x: Tensor) -> np.ndarray:
    return np.arange(x.numel(), dtype=np.int64).reshape(x._shape)


def _check(fn: str, input, name: str, factor) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not {parser_type_name(input)}")
    check_types(fn, ((name, "int"),), factor, first=2)


@public_function("pixel_shuffle")
def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """Rearranges ``(*, C r^2, H, W)`` into ``(*, C, H r, W r)`` (``r``: ``upscale_factor``): each group
    of ``r^2`` channels becomes an ``r x r`` block of each pixel."""
    _check("pixel_shuffle", input, "upscale_factor", upscale_factor)
    r = int(upscale_factor)
    if input.dim() < 3:
        raise RuntimeError("pixel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.dim()} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *lead, c, h, w = input._shape
    if c % (r * r):
        raise RuntimeError("pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    p = _positions(input).reshape(*lead, c // (r * r), r, r, h, w)
    n = len(lead)
    p = p.transpose(*range(n), n, n + 3, n + 1, n + 4, n + 2).reshape(*lead, c // (r * r), h * r, w * r)
    return _shuffled(input, np.ascontiguousarray(p), K_PIXEL_SHUFFLE, (("upscale_factor", r),))


@public_function("pixel_unshuffle")
def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """Rearranges ``(*, C, H r, W r)`` into ``(*, C r^2, H, W)`` (``r``: ``downscale_factor``), the
    inverse of ``pixel_shuffle``."""
    _check("pixel_unshuffle", input, "downscale_factor", downscale_factor)
    r = int(downscale_factor)
    if input.dim() < 3:
        raise RuntimeError("pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.dim()} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *lead, c, h, w = input._shape
    if h % r:
        raise RuntimeError(f"pixel_unshuffle expects height to be divisible by downscale_factor, but "
                           f"input.size(-2)={h} is not divisible by {r}")
    if w % r:
        raise RuntimeError(f"pixel_unshuffle expects width to be divisible by downscale_factor, but "
                           f"input.size(-1)={w} is not divisible by {r}")
    p = _positions(input).reshape(*lead, c, h // r, r, w // r, r)
    n = len(lead)
    p = p.transpose(*range(n), n, n + 2, n + 4, n + 1, n + 3).reshape(*lead, c * r * r, h // r, w // r)
    return _shuffled(input, np.ascontiguousarray(p), K_PIXEL_UNSHUFFLE, (("downscale_factor", r),))


@public_function("channel_shuffle")
def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """Divides the channels (dim 1) of ``(N, C, *)`` into ``groups`` groups and interleaves them:
    channel ``g * (C / groups) + k`` moves to ``k * groups + g``."""
    _check("channel_shuffle", input, "groups", groups)
    g = int(groups)
    if input.dim() <= 2:
        raise RuntimeError("channel_shuffle expects input with > 2 dims, but got input with sizes "
                           f"{list(input._shape)}")
    if g <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{g}")
    n, c, *rest = input._shape
    if c % g:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {g} groups.")
    p = _positions(input).reshape(n, g, c // g, *rest).swapaxes(1, 2).reshape(input._shape)
    return _shuffled(input, np.ascontiguousarray(p), K_CHANNEL_SHUFFLE, (("groups", g),))
