"""Splitting a tensor into parts and the NumPy-style stacks built on ``cat``.

``split`` and ``chunk`` record one SPLIT row with several outputs, as ``unbind`` does
(``ops/join.py`` has its kernels): the row's value is the parts one after another, each
laid out ``(outer, size_k, inner)`` around ``dim`` (``ia``); a list of sizes records
SPLIT_SIZES instead (PyTorch's SplitWithSizesBackward0).  Its outputs are views
of the input as in PyTorch (``ops/views.py``).  ``tensor_split``
and ``hsplit``/``vsplit``/``dsplit`` are one slice per part (SliceBackward0 each), as in
PyTorch.  ``unsafe_split``/``unsafe_chunk``/``unsafe_split_with_sizes`` record the same parts as a
row of their own (UnsafeSplitBackward0, UnsafeSplitWithSizesBackward0) whose outputs share the
input's memory but are not views in autograd's sense: no base, a version counter of their own, and
changing them in place is allowed.
"""
from __future__ import annotations

from typing import Optional, Union

import numpy as np

from .._emit import D, Tensor, aliased, plain, recorded, state, write_tape
from ._args import shown, wrap_dim
from ._parser import Forms
from ._rule import rule_adjoint
from ._spec import PYTHON, Op, public, public_function, register
from ._spec import tangents
from .join import SPLIT, SPLIT_SIZES, _tensor_list, _zeros, cat
from .layout import K_SLICE, atleast_1d, atleast_2d, atleast_3d, layout
from .shape import sliced

def _split_vjp(gs, xs, y, r):
    return (cat([g if g is not None else _zeros(shape, xs[0]) for g, shape in zip(gs, r.out_shapes)], r.ia),)


def _sizes_along(r) -> tuple:
    return tuple(shape[r.ia] for shape in r.out_shapes)


# (``_parts`` writes what the nodes show, with the arguments as given: these tables are for rows
# recorded by derivatives)
register(Op(SPLIT, "split", "SplitBackward0", 0, _split_vjp, float_only=False, multi=True,
            node_saved=(("dim", lambda r: r.ia), ("self_sym_sizes", lambda r: r.in_shapes[0]),
                        ("split_size", lambda r: _sizes_along(r)[0]))))
register(Op(SPLIT_SIZES, "split_with_sizes", "SplitWithSizesBackward0", 0, _split_vjp, float_only=False, multi=True,
            node_saved=(("dim", lambda r: r.ia), ("self_sym_sizes", lambda r: r.in_shapes[0]),
                        ("split_sizes", _sizes_along))))


# The unsafe forms: Python rows (their outputs, not views, may change in place: ``_check_inplace``).
UNSAFE_SPLIT, UNSAFE_SPLIT_SIZES = PYTHON.start + 25, PYTHON.start + 26
register(Op(UNSAFE_SPLIT, "unsafe_split", "UnsafeSplitBackward0", 0, _split_vjp, float_only=False, multi=True,
            py_adjoint=rule_adjoint,
            node_saved=(("dim", lambda r: r.ia), ("self_sym_sizes", lambda r: r.in_shapes[0]),
                        ("split_size", lambda r: _sizes_along(r)[0]))))
register(Op(UNSAFE_SPLIT_SIZES, "unsafe_split_with_sizes", "UnsafeSplitWithSizesBackward0", 0, _split_vjp,
            float_only=False, multi=True, py_adjoint=rule_adjoint,
            node_saved=(("dim", lambda r: r.ia), ("self_sym_sizes", lambda r: r.in_shapes[0]),
                        ("split_sizes", _sizes_along))))
_UNSAFE = {SPLIT: UNSAFE_SPLIT, SPLIT_SIZES: UNSAFE_SPLIT_SIZES}


def _split_jvp(ts, xs, y, r):
    """Linear: the input's tangent split the same way."""
    return tuple(ts[0].split([s[r.ia] for s in r.out_shapes], r.ia))


tangents({SPLIT: _split_jvp, SPLIT_SIZES: _split_jvp, UNSAFE_SPLIT: _split_jvp, UNSAFE_SPLIT_SIZES: _split_jvp})


def _parts(x: Tensor, sizes: list, dim: int, code: int, saved: tuple, unsafe: bool = False) -> tuple:
    """``x`` cut along ``dim`` into parts of ``sizes`` (one SPLIT row when recorded, whose node
    shows ``saved``); ``unsafe``: parts that share ``x``'s memory without being its views."""
    bounds = np.cumsum([0] + list(sizes))
    index = [(slice(None),) * dim + (slice(int(a), int(b)),) for a, b in zip(bounds[:-1], bounds[1:])]
    if not (x._rg and state.grad):
        v = x._storage()
        if unsafe:
            return tuple(_inferred(plain(v[i], x._dtype), x) for i in index)
        return tuple(x._view_alias(v[i], multi=True) for i in index)
    if unsafe:
        code = _UNSAFE[code]
    dt = x._dtype
    value = x._value()
    parts = [np.ascontiguousarray(value[i]) for i in index]
    whole = np.concatenate([p.reshape(-1) for p in parts]) if parts else np.zeros(0, dt.np)
    tape = write_tape()
    nx = x._node if x._tape is tape else tape.import_(x)
    row = tape.append(code, dt.arena, whole, nx, ia=dim)
    tape.args[row] = saved
    nodes = tape.append_outputs(row, [p.shape for p in parts])
    v = x._storage()
    if unsafe:
        return tuple(_inferred(recorded(tape, node, v[i], dt), x) for node, i in zip(nodes, index))
    return tuple(aliased(recorded(tape, node, p, dt), x, v[i]) for node, p, i in zip(nodes, parts, index))


def _inferred(t: Tensor, x: Tensor) -> Tensor:
    """``t``, an inference tensor if ``x`` is."""
    t._inf = x._inf
    return t


def _split_sizes(x: Tensor, sizes, dim: int) -> list:
    n = x._shape[dim]
    sizes = [int(s) for s in sizes]
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative entries, but got "
                           f"split_sizes={sizes}")
    if sum(sizes) != n:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                           f"dimension {dim}), but got split_sizes={sizes}")
    return sizes


def _with_sizes(x: Tensor, sizes: list, dim: int, given: int, unsafe: bool = False) -> tuple:
    saved = (("dim", shown(given)), ("self_sym_sizes", x._shape), ("split_sizes", tuple(sizes)))
    return _parts(x, sizes, dim, SPLIT_SIZES, saved, unsafe)


def _split(x: Tensor, split_size, given: int, unsafe: bool = False) -> tuple:
    if not x._shape:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    dim = wrap_dim(given, len(x._shape))
    if isinstance(split_size, (list, tuple)):
        return _with_sizes(x, _split_sizes(x, split_size, dim), dim, given)
    if isinstance(split_size, Tensor):
        split_size = split_size.item()
    size = int(split_size)
    n = x._shape[dim]
    if size < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={size}")
    if size == 0 and n != 0:
        raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
    count = max(-(-n // size), 1) if size else 1
    sizes = [size] * (count - 1) + [n - size * (count - 1)]
    return _parts(x, sizes, dim, SPLIT, (("dim", shown(given)), ("self_sym_sizes", x._shape), ("split_size", size)),
                  unsafe)


@public("split", function=False)
def split(self, split_size: Union[int, list], dim: int = 0) -> tuple:
    """The tensor cut along ``dim`` into parts of ``split_size`` (the last one smaller), or of
    the sizes listed (views)."""
    return _split(self, split_size, dim)


@public_function("split")
def split_function(tensor: Tensor, split_size_or_sections: Union[int, list], dim: int = 0) -> tuple:
    """``tensor.split(split_size_or_sections, dim)``."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"split(): argument 'tensor' must be Tensor, not {type(tensor).__name__}")
    return _split(tensor, split_size_or_sections, dim)


@public("split_with_sizes")
def split_with_sizes(self, split_sizes: list, dim: int = 0) -> tuple:
    """The tensor cut along ``dim`` into parts of the sizes listed (views)."""
    return _sized(self, split_sizes, dim, False)


def _sized(x: Tensor, split_sizes: list, dim: int, unsafe: bool) -> tuple:
    if not x._shape:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = wrap_dim(dim, len(x._shape))
    return _with_sizes(x, _split_sizes(x, split_sizes, d), d, dim, unsafe)


@public("chunk")
def chunk(self, chunks: int, dim: int = 0) -> tuple:
    """The tensor cut along ``dim`` into at most ``chunks`` parts of equal size (the last one
    smaller; views)."""
    return _chunk(self, chunks, dim, False)


def _chunk(x: Tensor, chunks: int, dim: int, unsafe: bool) -> tuple:
    chunks = int(chunks)
    if not x._shape:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = wrap_dim(dim, len(x._shape))
    size = -(-x._shape[d] // chunks)
    if size == 0:
        return _with_sizes(x, [0] * chunks, d, dim, unsafe)
    return _split(x, size, dim, unsafe)


# -- the unsafe forms: PyTorch's argument checks (positions counted as the call was written) --
def _int(value, name: str, arg: str, position: int) -> int:
    if isinstance(value, Tensor) and not value._shape and not value._dtype.is_floating_point:
        return int(value.item())
    if not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be int, not {type(value).__name__}")
    return int(value)


def _ints(value, name: str, position: int) -> list:
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name}(): argument 'split_sizes' (position {position}) must be tuple of ints, not "
                        f"{type(value).__name__}")
    return list(value)


def _tensor(value, name: str) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(value).__name__}")
    return value


@public("unsafe_split", function=False)
def unsafe_split(self, split_size: int, dim: int = 0) -> tuple:
    """Like :meth:`split`, without autograd's restrictions on changing the parts in place (they
    share the tensor's memory but are not its views)."""
    return _split(self, _int(split_size, "unsafe_split", "split_size", 1), dim, True)


@public_function("unsafe_split")
def unsafe_split_function(input: Tensor, split_size: int, dim: int = 0) -> tuple:
    """Like :func:`split`, without autograd's restrictions on changing the parts in place (they
    share the tensor's memory but are not its views)."""
    return _split(_tensor(input, "unsafe_split"), _int(split_size, "unsafe_split", "split_size", 2), dim, True)


@public("unsafe_split_with_sizes", function=False)
def unsafe_split_with_sizes(self, split_sizes: list, dim: int = 0) -> tuple:
    """Like :meth:`split_with_sizes`, without autograd's restrictions on changing the parts in place."""
    return _sized(self, _ints(split_sizes, "unsafe_split_with_sizes", 1), dim, True)


@public_function("unsafe_split_with_sizes")
def unsafe_split_with_sizes_function(input: Tensor, split_sizes: list, dim: int = 0) -> tuple:
    """Like :func:`split_with_sizes`, without autograd's restrictions on changing the parts in place."""
    return _sized(_tensor(input, "unsafe_split_with_sizes"), _ints(split_sizes, "unsafe_split_with_sizes", 2), dim,
                  True)


@public("unsafe_chunk", function=False)
def unsafe_chunk(self, chunks: int, dim: int = 0) -> tuple:
    """Like :meth:`chunk`, without autograd's restrictions on changing the parts in place."""
    return _chunk(self, _int(chunks, "unsafe_chunk", "chunks", 1), dim, True)


@public_function("unsafe_chunk")
def unsafe_chunk_function(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Like :func:`chunk`, without autograd's restrictions on changing the parts in place."""
    return _chunk(_tensor(input, "unsafe_chunk"), _int(chunks, "unsafe_chunk", "chunks", 2), dim, True)


def _slices(x: Tensor, bounds: list, dim: int) -> tuple:
    n = x._shape[dim]
    return tuple(layout(x, lambda a, s=slice(a0, b0): a[(slice(None),) * dim + (s,)], K_SLICE, view=True,
                        saved=sliced(x, dim, a0, n if b0 is None else b0, 1)) for a0, b0 in bounds)


def _tensor_split(x: Tensor, arg, dim: int) -> tuple:
    if not x._shape:
        raise RuntimeError(f"tensor_split expected at least a 1-dimensional tensor, but got a tensor with "
                           f"{len(x._shape)} dims")
    if isinstance(arg, Tensor):
        if arg._dtype is not D.int64:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have dtype of long, but got "
                               f"{D.legacy_name(arg._dtype)}")
        if len(arg._shape) > 1:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor, but got a tensor with {len(arg._shape)} dims")
        arg = arg.item() if not arg._shape else [int(i) for i in arg._value()]
    dim = wrap_dim(dim, len(x._shape))
    n = x._shape[dim]
    if isinstance(arg, (list, tuple)):
        cuts = [0] + [int(i) for i in arg] + [None]
        bounds = list(zip(cuts[:-1], cuts[1:]))
    else:
        sections = int(arg)
        if sections <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
        small, extra = divmod(n, sections)
        bounds, start = [], 0
        for k in range(sections):
            size = small + (1 if k < extra else 0)
            bounds.append((start, start + size))
            start += size
    return _slices(x, bounds, dim)


# PyTorch's overloads of the methods (the argument given is taken as positional: the method cannot tell)
_NUMPY_SPLIT = Forms("hsplit", "(int sections)", "(tuple of ints indices)")
_NUMPY_SPLIT_FUNCTION = Forms("hsplit", "(Tensor input, int sections)", "(Tensor input, tuple of ints indices)")
_TENSOR_SPLIT = Forms("tensor_split", "(tuple of ints indices, int dim = 0)",
                      "(Tensor tensor_indices_or_sections, int dim = 0)", "(int sections, int dim = 0)")


@public("tensor_split", error_forms=Forms("tensor_split", *(f"(Tensor input, {f.text[1:]}" for f in _TENSOR_SPLIT.forms)))
def tensor_split(self, indices_or_sections=None, dim: int = 0, *, sections: Optional[int] = None,
                 indices: Optional[list] = None, tensor_indices_or_sections: Optional[Tensor] = None) -> tuple:
    """The tensor cut along ``dim`` into ``sections`` parts of nearly equal size (the first
    ones one larger), or at the listed ``indices`` (views)."""
    points = _split_points(indices_or_sections, sections, indices, tensor_indices_or_sections)
    if not isinstance(points, (int, np.integer, tuple, list, Tensor)) or isinstance(points, bool):
        _TENSOR_SPLIT.parse((points,) if dim == 0 else (points, dim), {})
    return _tensor_split(self, points, dim)


def _split_points(*given):
    """The one of PyTorch's keywords (``sections``, ``indices``, ...) that was given."""
    return next((g for g in given[1:] if g is not None), given[0])


def _numpy_split(x: Tensor, arg, name: str, dim: int, least: int) -> tuple:
    if not isinstance(arg, (int, np.integer, tuple, list)) or isinstance(arg, bool):
        _NUMPY_SPLIT.named(name).parse((arg,), {})
    nd = len(x._shape)
    if nd < least:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {least} dimension, but got a tensor with "
                           f"{nd} dimensions!")
    if isinstance(arg, (int, np.integer)) and not isinstance(arg, bool):
        size = x._shape[dim]
        if arg == 0 or size % arg:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size of the "
                               f"dimension {size} is not divisible by the split_size {arg}!")
    return _tensor_split(x, arg, dim)


@public("hsplit", error_forms=_NUMPY_SPLIT_FUNCTION)
def hsplit(self, indices_or_sections: Union[int, list, None] = None, *, sections: Optional[int] = None,
           indices: Optional[list] = None) -> tuple:
    """``tensor_split`` along dim 1 (dim 0 of a 1-D tensor), into equal parts when an int."""
    return _numpy_split(self, _split_points(indices_or_sections, sections, indices), "hsplit",
                        1 if len(self._shape) > 1 else 0, 1)


@public("vsplit", error_forms=_NUMPY_SPLIT_FUNCTION)
def vsplit(self, indices_or_sections: Union[int, list, None] = None, *, sections: Optional[int] = None,
           indices: Optional[list] = None) -> tuple:
    """``tensor_split`` along dim 0 (at least 2 dims), into equal parts when an int."""
    return _numpy_split(self, _split_points(indices_or_sections, sections, indices), "vsplit", 0, 2)


@public("dsplit", error_forms=_NUMPY_SPLIT_FUNCTION)
def dsplit(self, indices_or_sections: Union[int, list, None] = None, *, sections: Optional[int] = None,
           indices: Optional[list] = None) -> tuple:
    """``tensor_split`` along dim 2 (at least 3 dims), into equal parts when an int."""
    return _numpy_split(self, _split_points(indices_or_sections, sections, indices), "dsplit", 2, 3)


# --- stacks ---------------------------------------------------------------------------
def _stack_inputs(tensors, name: str) -> list:
    tensors = _tensor_list(tensors, name)
    if not tensors:
        raise RuntimeError(f"{name} expects a non-empty TensorList")
    return tensors


def _as_tuple(r) -> tuple:
    return r if isinstance(r, tuple) else (r,)


@public_function("hstack")
def hstack(tensors, *, out: Optional[Tensor] = None) -> Tensor:
    """Concatenate horizontally: along dim 1, or dim 0 for 1-D tensors (0-d ones count as 1-D)."""
    parts = _as_tuple(atleast_1d(_stack_inputs(tensors, "hstack")))
    return cat(parts, 0 if len(parts[0]._shape) == 1 else 1, out=out)


@public_function("vstack")
def vstack(tensors, *, out: Optional[Tensor] = None) -> Tensor:
    """Concatenate vertically: along dim 0, 1-D and 0-d tensors taken as rows."""
    return cat(_as_tuple(atleast_2d(_stack_inputs(tensors, "vstack"))), 0, out=out)


@public_function("row_stack")
def row_stack(tensors, *, out: Optional[Tensor] = None) -> Tensor:
    """Alias of :func:`vstack`."""
    return cat(_as_tuple(atleast_2d(_stack_inputs(tensors, "row_stack"))), 0, out=out)


@public_function("dstack")
def dstack(tensors, *, out: Optional[Tensor] = None) -> Tensor:
    """Concatenate depth-wise: along dim 2 of the tensors made at least 3-D (``atleast_3d``)."""
    return cat(_as_tuple(atleast_3d(_stack_inputs(tensors, "dstack"))), 2, out=out)


@public_function("column_stack")
def column_stack(tensors, *, out: Optional[Tensor] = None) -> Tensor:
    """Concatenate as columns: 0-d and 1-D tensors become columns, then all join along dim 1."""
    parts = [t.reshape(t.numel(), 1) if len(t._shape) <= 1 else t
             for t in _stack_inputs(tensors, "column_stack")]
    return cat(parts, 1, out=out)
