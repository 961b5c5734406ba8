"""Padding (``torch.nn.functional.pad``, ``torch.constant_pad_nd``) and the gather rows the pooling
layers share.

``constant_pad_nd`` is one PLACE row (``ConstantPadNdBackward0``): the input's elements placed in a
tensor filled with ``value``, the pad widths kept in the row (the tape's index table, ``ia``; their
count ``ib``); its derivative is the same op with the widths negated (PyTorch's formula), so every
order comes from it.  The reflection and replication pads, and the max pools of ``ops/pooling.py``,
are a PICK row: a gather of the input's elements at a flat index list (one entry per output
element), named by ``ib`` (``PICK_NAMES``); its derivative is a PUT row, the adjoint added back at the
same positions (PyTorch's ``...BackwardBackward0`` node, which holds the PICK's input too, of gradient
zero), whose derivative is the PICK again.
The circular pad is PyTorch's composition: an empty tensor and slice copies (``CopySlices``).
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .._emit import Tensor, node_in, plain, recorded, state, write_tape
from ._parser import parser_type_name
from ._rule import rule_adjoint
from ._spec import PYTHON, TRANSPOSED, X0, Given, Op, public_function, register, tangents

PICK, PUT, PLACE = PYTHON.start + 120, PYTHON.start + 121, PYTHON.start + 122
PICK_NAMES = ("ReflectionPad1DBackward0", "ReflectionPad2DBackward0", "ReflectionPad3DBackward0",
              "ReplicationPad1DBackward0", "ReplicationPad2DBackward0", "ReplicationPad3DBackward0",
              "MaxPool2DWithIndicesBackward0", "MaxPool3DWithIndicesBackward0", "AdaptiveMaxPool2DBackward0",
              "AdaptiveMaxPool3DBackward0", "FractionalMaxPool2DBackward0", "FractionalMaxPool3DBackward0")
# (each kind + dims - 1, or - 2 for the pools)
K_REFLECT, K_REPLICATE, K_MAX_POOL, K_ADAPTIVE_MAX, K_FRACTIONAL_MAX = 0, 3, 6, 8, 10


# --- the gather rows ------------------------------------------------------------------------
def adaptive_grad_check(pool: str, n: int, shape: tuple) -> None:
    """PyTorch's error in the backward of an adaptive pool to an output of no element (whose forward passes)."""
    for i in range(1, len(shape)):
        if shape[i] == 0:
            raise RuntimeError(f"adaptive_{pool}_pool{n}d_backward(): Expected grad_output to have non-zero size for "
                               f"non-batch dimensions, but grad_output has sizes {list(shape)} with dimension {i} "
                               f"being empty")


def _pick_vjp(g, xs, y, r):
    if K_ADAPTIVE_MAX <= r.ib < K_FRACTIONAL_MAX:
        adaptive_grad_check("max", r.ib - K_ADAPTIVE_MAX + 2, g._shape)
    # (PyTorch's backward of these pads and pools takes their input too: a gradient made with create_graph
    # requires grad when the input does, though it does not depend on its values)
    return (put(g, r.out_index_list.reshape(r.out_shape), r.in_shapes[0], r.ib, keep=xs[0]),)


def _put_vjp(g, xs, y, r):
    # (PyTorch's node gives the input it holds a gradient of zeros, as its formula does not read it)
    return pick(g, r.in_index_list.reshape(r.in_shapes[0]), r.ib), xs[1].new_zeros(xs[1]._shape)


register(Op(PICK, "reflection_pad2d", "ReflectionPad2DBackward0", X0, _pick_vjp, py_adjoint=rule_adjoint,
            grad_fn_of=lambda r: PICK_NAMES[r.ib]))
# (a PUT row holds the PICK's input as its second input, whose gradient is zero: ``put``'s ``keep``)
register(Op(PUT, "reflection_pad2d_backward", "ReflectionPad2DBackwardBackward0", 0, _put_vjp,
            py_adjoint=rule_adjoint, grad_fn_of=lambda r: PICK_NAMES[r.ib][:-1] + "Backward0", arity=2))
tangents({PICK: TRANSPOSED, PUT: TRANSPOSED})       # (linear: each the other's transpose)


def _row(code: int, y: np.ndarray, x: Tensor, positions: np.ndarray, kind: int, saved=None,
         keep: Optional[Tensor] = None) -> Tensor:
    tape = write_tape()
    nx = node_in(tape, x, x._dtype, x._shape)
    nk = -1 if keep is None else node_in(tape, keep, keep._dtype, keep._shape)
    node = tape.append(code, x._dtype.arena, y, nx, nk, ia=tape.index_list(positions), ib=kind)
    if saved is not None:
        tape.args[node] = saved
    return recorded(tape, node, y, x._dtype)


def pick(x: Tensor, positions: np.ndarray, kind: int, saved=None) -> Tensor:
    """The elements of ``x`` at the flat ``positions`` (an int64 array of the result's shape), as the
    node ``PICK_NAMES[kind]``; ``saved``: what it shows saved (``tape/_saved.py``)."""
    y = np.require(x._value().reshape(-1)[positions], x._dtype.np, "C")
    if not (x._rg and state.grad and x._dtype.arena is not None):
        return plain(y, x._dtype)
    return _row(PICK, y, x, np.require(positions, np.int64, "C"), kind, saved)


def put(g: Tensor, positions: np.ndarray, shape: tuple, kind: int, keep: Tensor) -> Tensor:
    """Zeros of ``shape`` with the elements of ``g`` added at the flat ``positions`` (of ``g``'s shape);
    ``keep``: the PICK's input, which PyTorch's backward takes too: the result requires grad with it (an input
    of the row, of gradient zero)."""
    n = int(np.prod(shape))
    y = np.bincount(positions.reshape(-1), g._value().reshape(-1), n).astype(g._dtype.np).reshape(shape)
    if not ((g._rg or keep._rg) and state.grad and g._dtype.arena is not None and keep._dtype.arena is not None):
        return plain(y, g._dtype)
    return _row(PUT, y, g, np.require(positions, np.int64, "C"), kind, keep=keep)


# --- constant padding -----------------------------------------------------------------------
def _pads(r) -> tuple:
    return tuple(int(p) for p in r.tape.ix[r.ia:r.ia + r.ib])


def _place_vjp(g, xs, y, r):
    return (_constant_pad(g, tuple(-p for p in _pads(r)), 0.0),)


register(Op(PLACE, "constant_pad_nd", "ConstantPadNdBackward0", 0, _place_vjp, py_adjoint=rule_adjoint,
            node_saved=(("pad", lambda r: _pads(r)),)))
tangents({PLACE: TRANSPOSED})


def _constant_pad(x: Tensor, pad: tuple, value: float) -> Tensor:
    shape, nd = x._shape, len(x._shape)
    src, dst, out = [slice(None)] * nd, [slice(None)] * nd, list(shape)
    for j in range(len(pad) // 2):
        d, lo, hi = nd - 1 - j, pad[2 * j], pad[2 * j + 1]
        out[d] = shape[d] + lo + hi
        src[d] = slice(max(-lo, 0), shape[d] - max(-hi, 0))
        dst[d] = slice(max(lo, 0), out[d] - max(hi, 0))
    y = np.full(out, value, x._dtype.np)
    y[tuple(dst)] = x._value()[tuple(src)]
    if not (x._rg and state.grad and x._dtype.arena is not None):
        return plain(y, x._dtype)
    tape = write_tape()
    nx = x._node if x._tape is tape else tape.import_(x)
    node = tape.append(PLACE, x._dtype.arena, y, nx, ia=tape.index_list(np.array(pad, np.int64)), ib=len(pad),
                       fa=float(value))
    return recorded(tape, node, y, x._dtype)


def _int_list(fn: str, name: str, position: int, values) -> tuple:
    """``values`` as PyTorch's parser takes an ``int[]`` argument, with its TypeErrors."""
    if not isinstance(values, (tuple, list)):
        raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be tuple of ints, "
                        f"not {parser_type_name(values)}")
    for k, v in enumerate(values):
        if type(v) is bool or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be tuple of ints, but found "
                            f"element of type {parser_type_name(v)} at pos {k}")
    return tuple(int(v) for v in values)


def _check_tensor(fn: str, input) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not {parser_type_name(input)}")


@public_function("constant_pad_nd")
def constant_pad_nd(input: Tensor, pad: Sequence[int], value: float = 0) -> Tensor:
    """``input`` padded with ``value``: ``pad`` gives the widths before and after each of its last
    dims, from the last dim on (negative widths crop)."""
    _check_tensor("constant_pad_nd", input)
    pad = _int_list("constant_pad_nd", "pad", 2, pad)
    _check_value("constant_pad_nd", value, 3)
    return _constant_pad_nd(input, pad, value)


def _check_value(fn: str, value, position: int) -> None:
    if isinstance(value, Tensor):
        if value._shape == () and not value.requires_grad:
            return
    elif isinstance(value, (bool, int, float, np.integer, np.floating)):
        return
    raise TypeError(f"{fn}(): argument 'value' (position {position}) must be float, not {parser_type_name(value)}")


def _constant_pad_nd(input: Tensor, pad: tuple, value) -> Tensor:
    if len(pad) % 2:
        raise RuntimeError(f"Length of pad must be even but instead it equals {len(pad)}")
    nd = len(input._shape)
    if len(pad) // 2 > nd:
        raise RuntimeError("Length of pad should be no more than twice the number of dimensions of the input. "
                           f"Pad length is {len(pad)}while the input has {nd}dimensions.")
    for j in range(len(pad) // 2):
        size, lo, hi = input._shape[nd - 1 - j], pad[2 * j], pad[2 * j + 1]
        if lo < 0 and size + lo < 0 or hi < 0 and size + min(lo, 0) + hi < 0:
            raise RuntimeError("narrow(): length must be non-negative.")
    value = float(value.item() if isinstance(value, Tensor) else value)
    return _constant_pad(input, pad, value)


# --- reflection, replication, circular ------------------------------------------------------
def _source(mode: str, o: np.ndarray, lo: int, size: int) -> np.ndarray:
    i = o - lo
    if mode == "reflect":
        i = np.abs(i)
        return np.where(i >= size, 2 * (size - 1) - i, i)
    return np.clip(i, 0, size - 1)


def _gather_pad(x: Tensor, pad: tuple, mode: str) -> Tensor:
    """``reflection_padNd`` / ``replication_padNd``: one PICK row."""
    k, shape = len(pad) // 2, x._shape
    nd = len(shape)
    if any(s == 0 for s in (shape[1:] if nd == k + 2 else shape)):
        raise RuntimeError(f"Expected {k + 1}D or {k + 2}D (batch mode) tensor with possibly 0 batch size and other "
                           f"non-zero dimensions for input, but got: {list(shape)}")
    if mode == "reflect":
        for j in range(k):
            d, lo, hi = nd - 1 - j, pad[2 * j], pad[2 * j + 1]
            if lo >= shape[d] or hi >= shape[d]:
                raise RuntimeError(f"Argument #{4 + 2 * j}: Padding size should be less than the corresponding "
                                   f"input dimension, but got: padding ({lo}, {hi}) at dimension {d} of input "
                                   f"{list(shape)}")
    out = [shape[nd - 1 - j] + pad[2 * j] + pad[2 * j + 1] for j in reversed(range(k))]
    if any(o < 1 for o in out):
        letters = "DHW"[3 - k:]
        sizes = ", ".join(f"{c}: {shape[nd - k + i]}" for i, c in enumerate(letters))
        outs = " ".join(f"{c}: {o}" for c, o in zip(letters, out))
        raise RuntimeError(f"input ({sizes}) is too small. Calculated output {outs}")
    positions = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    index = [slice(None)] * (nd - k)
    maps = [_source(mode, np.arange(out[i]), pad[2 * (k - 1 - i)], shape[nd - k + i]) for i in range(k)]
    positions = positions[tuple(index) + np.ix_(*maps)]
    kind = (K_REFLECT if mode == "reflect" else K_REPLICATE) + k - 1
    return pick(x, positions, kind, (("padding", pad), ("self", Given(X0))))


def _circular_pad(x: Tensor, pad: tuple) -> Tensor:
    """PyTorch's ``_pad_circular``: the input copied into an empty tensor, then each dim's borders
    copied from the opposite side (slice copies, so its node is ``CopySlices``)."""
    shape = x._shape
    k = len(pad) // 2
    nd = len(shape)
    out = list(shape)
    for j in range(k):
        d, lo, hi = nd - 1 - j, pad[2 * j], pad[2 * j + 1]
        out[d] = shape[d] + lo + hi
        if lo > shape[d] or hi > shape[d]:
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if out[d] < 0:
            raise RuntimeError("Negative padding value is resulting in an empty dimension")
    y = x.new_empty(tuple(out))
    dst, src = [slice(None)] * nd, [slice(None)] * nd
    for j in range(k):
        d, lo, hi = nd - 1 - j, pad[2 * j], pad[2 * j + 1]
        dst[d] = slice(max(lo, 0), out[d] - max(hi, 0))
        src[d] = slice(max(-lo, 0), shape[d] - max(-hi, 0))
    y[tuple(dst)].copy_(x[tuple(src)])
    for j in range(k):
        d, lo, hi = nd - 1 - j, pad[2 * j], pad[2 * j + 1]
        at = [slice(None)] * d
        if lo > 0:
            y[tuple(at + [slice(0, lo)])].copy_(y[tuple(at + [slice(out[d] - lo - max(hi, 0), out[d] - max(hi, 0))])])
        if hi > 0:
            y[tuple(at + [slice(out[d] - hi, out[d])])].copy_(y[tuple(at + [slice(max(lo, 0), max(lo, 0) + hi)])])
    return y


_SUPPORTED = ("Supported combinations for non-constant padding:\n"
              "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
              "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
              "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: Optional[float] = None) -> Tensor:
    """Pads ``input``: ``pad`` gives the widths before and after each of its last dims, from the last
    dim on (``(left, right, top, bottom, ...)``).  ``mode``: ``'constant'`` (filled with ``value``,
    0 by default), ``'reflect'`` (the input mirrored at its edges, the edge not repeated),
    ``'replicate'`` (the edge repeated) or ``'circular'`` (wrapped around); the last three pad
    the last 1, 2 or 3 dims of a batched or unbatched input."""
    _check_tensor("pad", input)
    pad = _int_list("pad", "pad", 2, pad)
    if not isinstance(mode, str):
        raise TypeError(f"pad(): argument 'mode' (position 3) must be str, not {parser_type_name(mode)}")
    if value is not None:
        _check_value("pad", value, 4)
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    nd = input.dim()
    if len(pad) > 2 * nd:
        raise RuntimeError("Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pad)} and input of dimension {nd}")
    if mode == "constant":
        return _constant_pad_nd(input, pad, 0.0 if value is None else value)
    if value is not None and float(value.item() if isinstance(value, Tensor) else value) != 0.0:
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    k = len(pad) // 2
    if k not in (1, 2, 3) or nd not in (k + 1, k + 2):
        raise NotImplementedError(f"Padding size {len(pad)} is not supported for {nd}D input tensor.\n" + _SUPPORTED)
    if mode == "circular":
        return _circular_pad(input, pad)
    return _gather_pad(input, pad, mode)
