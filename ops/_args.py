"""Argument helpers shared by the front ends: dims, shapes, broadcasting, with PyTorch's errors.

Pure functions of Python values (no tensors, no tape), so the tensor handle uses them too.
"""
from __future__ import annotations

import numpy as np


def wrap_dim(dim: int, ndim: int) -> int:
    """``dim`` as an index into ``ndim`` dims (negative counts from the end; a 0-d tensor takes
    0 and -1), with PyTorch's errors."""
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    if dim < lo or dim > hi:
        raise IndexError(f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")
    return dim + max(ndim, 1) if dim < 0 else dim


def shown(value) -> int | tuple:
    """An int argument (or a tuple of them) as a node shows it saved: as given, a negative one as
    the unsigned 64-bit integer of its bits (``grad_fn._saved_dim``)."""
    kind = type(value)
    if kind is int:
        return value if value >= 0 else value + (1 << 64)
    if kind is tuple or kind is list:
        return tuple(v if type(v) is int and v >= 0 else shown(v) for v in value)
    # (anything else but a numpy int is left for the op's argument checks)
    return shown(int(value)) if isinstance(value, np.integer) else value


def shape_arg(shape: tuple) -> tuple:
    """A shape given as ``*sizes`` or as one sequence (``reshape(2, 3)``, ``reshape((2, 3))``)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def infer_shape(shape: tuple, numel: int) -> tuple:
    """``shape`` with its -1 (at most one) filled in so that it holds ``numel`` elements."""
    known = 1
    infer = None
    for i, s in enumerate(shape):
        if s == -1:
            if infer is not None:
                raise RuntimeError("only one dimension can be inferred")
            infer = i
        elif s < 0:
            raise RuntimeError(f"invalid shape dimension {s}")
        else:
            known *= s
    if infer is not None:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = shape[:infer] + (numel // known,) + shape[infer + 1:]
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


_BROADCAST: dict = {}


def broadcast_pair(sa: tuple, sb: tuple) -> tuple:
    """The broadcast shape of ``sa`` and ``sb``, with PyTorch's error for an op's operands."""
    if sa == sb:
        return sa
    out = _BROADCAST.get((sa, sb))
    if out is None:
        out = _broadcast(sa, sb)
        if len(_BROADCAST) > 4096:
            _BROADCAST.clear()
        _BROADCAST[(sa, sb)] = out
    return out


def check_output_shape(shape: tuple, other) -> None:
    """PyTorch's error for an in-place op whose tensor operand ``other`` broadcasts the result
    beyond the output's ``shape`` (checked before the op's kernel, whose errors come after)."""
    if hasattr(other, "_shape"):
        out = broadcast_pair(shape, other._shape)
        if out != shape:
            raise RuntimeError(f"output with shape {list(shape)} doesn't match the broadcast shape {list(out)}")


def _broadcast(sa: tuple, sb: tuple) -> tuple:
    la, lb = len(sa), len(sb)
    nd = max(la, lb)
    out = [0] * nd
    for i in range(nd - 1, -1, -1):
        off = nd - 1 - i
        da = sa[len(sa) - 1 - off] if off < len(sa) else 1
        db = sb[len(sb) - 1 - off] if off < len(sb) else 1
        if da != db and da != 1 and db != 1:
            raise RuntimeError(f"The size of tensor a ({da}) must match the size of tensor b ({db}) "
                               f"at non-singleton dimension {i}")
        out[i] = db if da == 1 else da
    return tuple(out)


def reduced_dims(dim, nd: int, empty_is_all: bool = True) -> tuple:
    """``dim`` (an int or a sequence of ints) as sorted non-negative dims, with PyTorch's errors;
    an empty sequence (and any dim of a 0-d tensor) means every dim when ``empty_is_all``."""
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    dims = tuple(wrap_dim(d, nd) for d in dims)
    seen = set()
    for d in dims:
        if d in seen:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        seen.add(d)
    if nd == 0 or (not dims and empty_is_all):
        return tuple(range(nd))
    return tuple(sorted(dims))


def laid_out_like(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``y``, a compiled loop's C-contiguous result of ``x``'s shape, laid out as numpy's ufuncs lay out
    theirs (``x``'s axis order, dense), which tape's strides read: PyTorch's elementwise results keep a
    transposed input's strides too."""
    if x.ndim < 2 or x.flags.c_contiguous:
        return y
    out = np.empty_like(x, dtype=y.dtype)
    out[...] = y
    return out
