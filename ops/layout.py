"""Layout ops: the same elements in another arrangement (permute, movedim, flip, roll,
narrow, diagonal, diag, repeat, tile, repeat_interleave, unfold), the triangles of
tril/triu, and the compositions of views PyTorch builds from them (mT, atleast_nd,
ravel, unflatten, broadcast_to ...).

Nearly all are one LAYOUT row: a gather of the input's elements at a flat index list
computed here with numpy (``ops/shape.py`` has the kernels), named after the op by its
``ib`` (``LAYOUT_NAMES``); the derivative scatters the adjoint back through the same
list, so every order works.  ``LAYOUT_SAVED`` is its twin for ``repeat_interleave`` with
a tensor of repeats, whose PyTorch node (IndexSelectBackward0) saves that tensor;
``LAYOUT_SCATTER`` places the input at listed positions of zeros (diag_embed, diag of a
vector); TRIANGLE keeps ``ia`` = diagonal and ``ib`` = 0 for tril, 1 for triu.

Where PyTorch returns a view (permute, narrow, diagonal, unfold), the result is a view of
its base with PyTorch's strides, recorded or not (``ops/views.py``).
"""
from __future__ import annotations

import math
import warnings
from typing import Callable, Optional, Union

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .._emit import D, Tensor, aliased, plain, recorded, state, write_tape
from ._args import broadcast_pair, shown, wrap_dim
from ._parser import Forms, check_types, parser_type_name
from ._spec import NUMBER, Op, public, public_function, register
from ._spec import tangents
from .shape import (BY_INDEX, LAYOUT, LAYOUT_SAVED, LAYOUT_SCATTER, TRIANGLE, V_VIEW, _gather_jvp, _transpose, sliced,
                    viewed)

LAYOUT_NAMES = ("PermuteBackward0", "FlipBackward0", "RollBackward0", "SliceBackward0", "DiagonalBackward0",
                "DiagonalBackward0_copy", "RepeatBackward0", "UnfoldBackward0", "IndexSelectBackward0",
                "AliasBackward0",
                # (the ``*_copy`` functions' nodes, ``ops/view_copies.py``)
                "TBackward0_copy", "TransposeBackward0_copy", "PermuteBackward0_copy", "SelectBackward0_copy",
                "SliceBackward0_copy", "ExpandBackward0_copy", "NarrowCopyBackward0", "SqueezeBackward0_copy",
                "SqueezeBackward1_copy", "SqueezeBackward2_copy", "UnsqueezeBackward0_copy", "ViewBackward0_copy",
                "UnfoldBackward0_copy", "AliasBackward0_copy", "AsStridedBackward0_copy")
K_PERMUTE, K_FLIP, K_ROLL, K_SLICE, K_DIAGONAL, K_DIAG, K_REPEAT, K_UNFOLD, K_INDEX_SELECT, K_ALIAS = range(10)
SCATTER_NAMES = ("DiagEmbedBackward0",)
K_DIAG_EMBED = 0


def _gather_vjp(g, x, y, r):
    return (g._scatter(r.out_index_list, r.in_shapes[0]),)


def _scatter_vjp(g, x, y, r):
    return (g._gather(r.in_index_list.reshape(r.in_shapes[0]), BY_INDEX),)


register(Op(LAYOUT, "permute", "PermuteBackward0", 0, _gather_vjp, float_only=False,
            grad_fn_of=lambda r: LAYOUT_NAMES[r.ib]))
register(Op(LAYOUT_SAVED, "repeat_interleave", "IndexSelectBackward0", NUMBER, _gather_vjp, float_only=False,
            grad_fn_of=lambda r: LAYOUT_NAMES[r.ib]))
register(Op(LAYOUT_SCATTER, "diag_embed", "DiagEmbedBackward0", 0, _scatter_vjp, float_only=False,
            grad_fn_of=lambda r: SCATTER_NAMES[r.ib]))
register(Op(TRIANGLE, "tril", "TrilBackward0", 0, lambda g, x, y, r: (g._triangle(r.ia, r.ib),),
            float_only=False, grad_fn_of=lambda r: ("TrilBackward0", "TriuBackward0")[r.ib],
            node_saved=(("diagonal", lambda r: r.ia % (1 << 64)),)))    # (a negative one as PyTorch shows it)
# Tangent rules: these ops are linear, each its own tangent (a gather or scatter of the same positions).
tangents({LAYOUT: _gather_jvp, LAYOUT_SAVED: _gather_jvp,
          LAYOUT_SCATTER: lambda ts, xs, y, r: ts[0]._scatter(r.in_index_list.reshape(r.in_shapes[0]), r.out_shape),
          TRIANGLE: lambda ts, xs, y, r: ts[0]._triangle(r.ia, r.ib)})


# --- recording ----------------------------------------------------------------------
def _positions(x: Tensor) -> np.ndarray:
    return np.arange(x.numel(), dtype=np.int64).reshape(x._shape)


def _record(x: Tensor, code: int, y: np.ndarray, positions: np.ndarray, kind: int, saved=()) -> Tensor:
    tape = write_tape()
    nx = x._node if x._tape is tape else tape.import_(x)
    node = tape.append(code, x._dtype.arena, y, nx, ia=tape.index_list(positions), ib=kind)
    if saved:
        tape.args[node] = saved
    return recorded(tape, node, y, x._dtype)


def layout(x: Tensor, arrange: Callable, kind: int, view: bool = False, code: int = LAYOUT, saved=()) -> Tensor:
    """``x``'s elements as ``arrange`` (a numpy function of an array, the same on any array of
    ``x``'s shape) lays them out: one gather row named by ``kind``; a view of ``x`` when ``view``.
    ``saved``: what its node shows as saved (``(name, value)`` pairs or a function giving them,
    ``tape/_saved.py``)."""
    if not (x._rg and state.grad):
        if view:
            return x._view_alias(arrange(x._storage()))
        return plain(np.array(arrange(x._value()), dtype=x._dtype.np, order="C"), x._dtype)
    positions = np.array(arrange(_positions(x)), order="C")
    y = np.array(x._value().reshape(-1)[positions], dtype=x._dtype.np, order="C")
    out = _record(x, code, y, positions, kind, saved)
    return aliased(out, x, arrange(x._storage())) if view else out


def _scattered(x: Tensor, positions: np.ndarray, shape: tuple, kind: int, saved: tuple = ()) -> Tensor:
    """Zeros of ``shape`` with ``x``'s elements at flat ``positions`` (one per element)."""
    y = np.zeros(shape, x._dtype.np)
    y.reshape(-1)[positions.reshape(-1)] = x._value().reshape(-1)
    if not (x._rg and state.grad):
        return plain(y, x._dtype)
    return _record(x, LAYOUT_SCATTER, y, positions, kind, saved)


def _dims_arg(args: tuple, fn: str, name: str = "dims") -> tuple:
    """Dims given to the method ``fn`` as ``*dims`` or as one sequence (by keyword too:
    ``ops._spec.torch_keywords``), with the parser's errors for its ``tuple of ints`` parameter ``name``."""
    one = len(args) == 1 and isinstance(args[0], (tuple, list))
    dims = tuple(args[0]) if one else args
    for k, d in enumerate(dims):
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
            shown = parser_type_name(d)
            if len(args) == 1 and not one:
                raise TypeError(f"{fn}(): argument '{name}' (position 1) must be tuple of ints, not {shown}")
            if k == 0 and not one:
                # (a first argument not an int is the whole sequence, and takes no more)
                raise TypeError(f"{fn}() takes 1 positional argument but {len(args)} were given")
            raise TypeError(f"{fn}(): argument '{name}' failed to unpack the object at pos {k + 1} with error "
                            f"\"type must be tuple of ints,but got {shown}\"")
    return tuple(int(d) for d in dims)


def _unique_dims(dims: tuple, nd: int) -> tuple:
    wrapped = tuple(wrap_dim(d, nd) for d in dims)
    for k, d in enumerate(wrapped):
        if d in wrapped[:k]:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return wrapped


# --- permutations ---------------------------------------------------------------------
def _permuted(x: Tensor, perm: tuple, dims: Optional[tuple] = None) -> Tensor:
    """``x`` permuted (``dims``: the permutation as given, which its node shows)."""
    saved = lambda d=perm if dims is None else dims: (("dims", shown(d)),)
    return layout(x, lambda a: a.transpose(perm), K_PERMUTE, view=True, saved=saved)


@public("permute")
def permute(self, *dims: int) -> Tensor:
    """The tensor with its dimensions reordered: dim ``i`` of the result is dim ``dims[i]``
    of the input (a view)."""
    dims = _dims_arg(dims, "permute")
    nd = len(self._shape)
    if len(dims) != nd:
        raise RuntimeError("permute(sparse_coo): number of dimensions in the tensor input does not match the "
                           "length of the desired ordering of dimensions i.e. input.dim() = "
                           f"{nd} is not equal to len(dims) = {len(dims)}")
    perm = tuple(wrap_dim(d, nd) for d in dims)
    if len(set(perm)) != nd:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return _permuted(self, perm if nd else (), dims)


@public("movedim", "moveaxis", error_forms=Forms("movedim", "(Tensor input, int source, int destination)",
                                                 "(Tensor input, tuple of ints source, tuple of ints destination)"))
def movedim(self, source: Union[int, tuple], destination: Union[int, tuple]) -> Tensor:
    """Move the dims ``source`` to the positions ``destination``; the others keep their order
    (a view)."""
    src = [source] if isinstance(source, (int, np.integer)) else list(source)
    dst = [destination] if isinstance(destination, (int, np.integer)) else list(destination)
    nd = len(self._shape)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) should contain the "
                           f"same number of dims as destination ({dst} dims)")
    s = [wrap_dim(d, nd) for d in src]
    t = [wrap_dim(d, nd) for d in dst]
    if len(set(s)) != len(s):
        raise RuntimeError(f"movedim: repeated dim in `source` ({src})")
    if len(set(t)) != len(t):
        raise RuntimeError(f"movedim: repeated dim in `destination` ({dst})")
    if nd == 0:
        return layout(self, lambda a: a.view(), K_ALIAS, view=True)     # (PyTorch's alias of a 0-d tensor)
    perm = [-1] * nd
    for a, b in zip(s, t):
        perm[b] = a
    rest = iter(d for d in range(nd) if d not in s)
    perm = tuple(p if p >= 0 else next(rest) for p in perm)
    return _permuted(self, perm)


@public("swapaxes")
def swapaxes(self, axis0: int, axis1: int) -> Tensor:
    """``transpose(axis0, axis1)`` (NumPy's name)."""
    nd = len(self._shape)
    return _transpose(self, wrap_dim(axis0, nd), wrap_dim(axis1, nd), 0.0, (axis0, axis1))


@public("swapdims")
def swapdims(self, dim0: int, dim1: int) -> Tensor:
    """``transpose(dim0, dim1)``."""
    nd = len(self._shape)
    return _transpose(self, wrap_dim(dim0, nd), wrap_dim(dim1, nd), 0.0, (dim0, dim1))


_WARNED: set = set()


def _warn_once(message: str) -> None:
    """A warning given once per process, as PyTorch's TORCH_WARN_ONCE."""
    if message not in _WARNED:
        _WARNED.add(message)
        warnings.warn(message, UserWarning, stacklevel=3)


_IDENTITY_0D = {"mT": "Tensor.mT is deprecated on 0-D tensors. This function is the identity in these cases.",
                "mH": "Tensor.mH is deprecated on 0-D tensors. Consider using x.conj().",
                "adjoint()": "adjoint() is deprecated on 0-D tensors. Consider using x.conj()."}


def _matrix_transpose(x: Tensor, what: str) -> Tensor:
    nd = len(x._shape)
    if nd == 0:
        _warn_once(_IDENTITY_0D[what])
        return x
    if nd < 2:
        raise RuntimeError(f"tensor.{what} is only supported on matrices or batches of matrices. Got {nd}-D tensor.")
    return _transpose(x, nd - 2, nd - 1, 0.0, (-2, -1))


@public(properties=("mT",))
def mT(self) -> Tensor:
    """The transpose of the last two dims (a batch of matrices transposed)."""
    return _matrix_transpose(self, "mT")


@public(properties=("mH",))
def mH(self) -> Tensor:
    """The conjugate transpose of the last two dims (``mT`` for real tensors)."""
    return _matrix_transpose(self, "mH")


@public("adjoint")
def adjoint(self) -> Tensor:
    """The conjugate transpose of the last two dims (``mT`` for real tensors)."""
    return _matrix_transpose(self, "adjoint()")


@public(properties=("T",))
def T(self) -> Tensor:
    """The tensor with its dims reversed (deprecated on tensors of other than 2 dims)."""
    nd = len(self._shape)
    if nd == 0:
        _warn_once("Tensor.T is deprecated on 0-D tensors. This function is the identity in these cases.")
    if nd > 2:
        _warn_once("The use of `x.T` on tensors of dimension other than 2 to reverse their shape is deprecated and "
                   "it will throw an error in a future release. Consider `x.mT` to transpose batches of matrices "
                   "or `x.permute(*torch.arange(x.ndim - 1, -1, -1))` to reverse the dimensions of a tensor.")
    return _permuted(self, tuple(range(nd - 1, -1, -1)))


@public(properties=("H",))
def H(self) -> Tensor:
    """The conjugate transpose of a matrix (the transpose for real tensors)."""
    nd = len(self._shape)
    if nd == 0:
        _warn_once("Tensor.H is deprecated on 0-D tensors. Consider using x.conj().")
        return self
    if nd != 2:
        extra = " For batches of matrices, consider using tensor.mH" if nd > 2 else ""
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {nd}-D tensor.{extra}")
    return _transpose(self, 0, 1, 0.0, (-2, -1))


# --- views by reshaping -----------------------------------------------------------------
@public("ravel")
def ravel(self) -> Tensor:
    """The elements as a 1-D tensor: a view when contiguous, else a contiguous copy."""
    return viewed(self.contiguous(), (self.numel(),), V_VIEW)


@public("unflatten")
def unflatten(self, dim: int, sizes: tuple) -> Tensor:
    """Split dim ``dim`` into the dims ``sizes`` (one of them may be -1; a view)."""
    nd = len(self._shape)
    dim = wrap_dim(dim, nd)
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    if nd == 0:     # (PyTorch: a dim in 0-d's range, then its second wrap fails)
        raise RuntimeError("unflatten got an unexpected error:\nDimension specified as 0 but tensor has no dimensions")
    size = self._shape[dim]
    known = math.prod(s for s in sizes if s != -1)
    infer = [i for i, s in enumerate(sizes) if s == -1]
    if len(infer) > 1:
        raise RuntimeError("only one dimension can be inferred")
    shape = sizes
    if infer and known and size % known == 0:
        shape = sizes[:infer[0]] + (size // known,) + sizes[infer[0] + 1:]
    if math.prod(shape) != size or any(s < 0 for s in shape):
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {dim} "
                           f"({size}) in the input tensor")
    return viewed(self, self._shape[:dim] + shape + self._shape[dim + 1:], V_VIEW)


@public("broadcast_to")
def broadcast_to(self, *size: int) -> Tensor:
    """``self.expand(size)``: the tensor broadcast to ``size`` (a view)."""
    return self.expand(_dims_arg(size, "broadcast_to", "size"))


@public_function("broadcast_tensors")
def broadcast_tensors(*tensors: Tensor) -> tuple:
    """The tensors broadcast to their common shape (each an expanded view; a tensor of that
    shape already is returned as it is)."""
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    shape = tensors[0]._shape if tensors else ()
    for t in tensors[1:]:
        shape = broadcast_pair(shape, t._shape)
    return tuple(t if t._shape == shape else t.expand(shape) for t in tensors)


def _atleast(name: str, one: Callable, tensors: tuple):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
        single = False
    else:
        single = len(tensors) == 1
    for t in tensors:
        if not isinstance(t, Tensor):
            got = ", ".join(type(a).__name__ for a in tensors)
            bad = ", ".join(f"!{type(a).__name__}!" for a in tensors)
            why = f"      didn't match because some of the arguments have invalid types: ({bad})\n"
            raise TypeError(f"{name}() received an invalid combination of arguments - got ({got}), but expected one "
                            f"of:\n * (Tensor input)\n{why} * (tuple of Tensors tensors)\n{why}")
    out = tuple(one(t) for t in tensors)
    return out[0] if single else out


def _at_least_1d(t: Tensor) -> Tensor:
    return viewed(t, (1,), V_VIEW) if not t._shape else t


def _at_least_2d(t: Tensor) -> Tensor:
    nd = len(t._shape)
    return viewed(t, (1, 1), V_VIEW) if nd == 0 else t.unsqueeze(0) if nd == 1 else t


def _at_least_3d(t: Tensor) -> Tensor:
    nd = len(t._shape)
    if nd == 0:
        return viewed(t, (1, 1, 1), V_VIEW)
    if nd == 1:
        return t.unsqueeze(0).unsqueeze(-1)
    return t.unsqueeze(-1) if nd == 2 else t


@public_function("atleast_1d")
def atleast_1d(*tensors):
    """Each tensor with at least one dim (a 0-d one viewed as 1-D); a tuple for several."""
    return _atleast("atleast_1d", _at_least_1d, tensors)


@public_function("atleast_2d")
def atleast_2d(*tensors):
    """Each tensor with at least two dims (dims of size one put in front); a tuple for several."""
    return _atleast("atleast_2d", _at_least_2d, tensors)


@public_function("atleast_3d")
def atleast_3d(*tensors):
    """Each tensor with at least three dims (as NumPy: a matrix gains a last dim, a vector
    one on each side); a tuple for several."""
    return _atleast("atleast_3d", _at_least_3d, tensors)


# --- reversing, rolling, slicing, diagonals ------------------------------------------------
@public("flip")
def flip(self, *dims: int) -> Tensor:
    """The tensor with the order of its elements reversed along ``dims`` (a copy)."""
    dims = _dims_arg(dims, "flip")
    axes = _unique_dims(dims, len(self._shape)) if self._shape else ()
    return layout(self, lambda a: np.flip(a, axes), K_FLIP, saved=lambda d=dims: (("dims", shown(d)),))


@public("fliplr")
def fliplr(self) -> Tensor:
    """The columns in reverse order (``flip(1)``; at least 2 dims)."""
    if len(self._shape) < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return layout(self, lambda a: np.flip(a, 1), K_FLIP, saved=(("dims", (1,)),))


@public("flipud")
def flipud(self) -> Tensor:
    """The rows in reverse order (``flip(0)``; at least 1 dim)."""
    if not self._shape:
        raise RuntimeError("Input must be >= 1-d.")
    return layout(self, lambda a: np.flip(a, 0), K_FLIP, saved=(("dims", (0,)),))


def _int_tuple(v) -> tuple:
    return (int(v),) if isinstance(v, (int, np.integer)) else tuple(int(s) for s in v)


@public("roll")
def roll(self, shifts: Union[int, tuple], dims: Union[int, tuple, None] = None) -> Tensor:
    """Shift the elements cyclically by ``shifts`` along ``dims`` (of the flattened tensor when
    no dims are given, keeping its shape)."""
    shifts = _int_tuple(shifts)
    dims = () if dims is None else _int_tuple(dims)
    if not shifts:
        raise RuntimeError("`shifts` required")
    if len(shifts) != len(dims) and not (not dims and len(shifts) == 1):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    nd = len(self._shape)
    if dims and nd == 0:
        raise IndexError(f"Dimension specified as {dims[0]} but tensor has no dimensions")
    axes = tuple(wrap_dim(d, nd) for d in dims)
    saved = lambda d=dims, s=shifts: (("dims", shown(d)), ("shifts", shown(s)))
    if not dims:
        return layout(self, lambda a: np.roll(a, shifts[0]), K_ROLL, saved=saved)
    return layout(self, lambda a: np.roll(a, shifts, axes), K_ROLL, saved=saved)


def _index_int(v, what: str) -> int:
    if isinstance(v, Tensor):
        if v._shape or v._dtype.is_floating_point or v._dtype is D.bool_:
            raise RuntimeError(f"{what} must be an 0-dim integral Tensor.")
        return int(v.item())
    return int(v)


@public("narrow", error_forms=Forms("narrow", "(Tensor input, int dim, Tensor start, int length)",
                                    "(Tensor input, int dim, int start, int length)"),
        method_forms=Forms("narrow", "(int dim, Tensor start, int length)", "(int dim, int start, int length)"))
def narrow(self, dim: int, start: Union[int, Tensor], length: int) -> Tensor:
    """The ``length`` elements from ``start`` along ``dim`` (a view)."""
    if not self._shape:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    start = _index_int(start, "start")
    length = int(length)
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    given, dim = dim, wrap_dim(dim, len(self._shape))
    size = self._shape[dim]
    if start < -size or start > size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], but got {start})")
    if start < 0:
        start += size
    if start > size - length:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    index = (slice(None),) * dim + (slice(start, start + length),)
    return layout(self, lambda a: a[index], K_SLICE, view=True, saved=sliced(self, given, start, start + length, 1))



def aten_slice(self, dim: int, start: int, end: Optional[int] = None) -> Tensor:
    """``at::slice(self, dim, start, end)`` as PyTorch's C++ composites call it (a view, its
    SliceBackward0 showing ``start`` and ``end`` as given: negative, or None for the end)."""
    index = (slice(None),) * dim + (slice(start, end),)
    return layout(self, lambda a: a[index], K_SLICE, view=True, saved=sliced(self, dim, start, end, 1))

def _diagonal_view(a: np.ndarray, offset: int, d1: int, d2: int) -> np.ndarray:
    """A writable view of the diagonal ``offset`` of dims ``d1``/``d2`` of ``a``, as the last dim."""
    r0, c0 = max(-offset, 0), max(offset, 0)
    n = max(0, min(a.shape[d1] - r0, a.shape[d2] - c0))
    rest = [d for d in range(a.ndim) if d != d1 and d != d2]
    shape = tuple(a.shape[d] for d in rest) + (n,)
    strides = tuple(a.strides[d] for d in rest) + (a.strides[d1] + a.strides[d2],)
    if n and a.size:
        index = [slice(None)] * a.ndim
        index[d1], index[d2] = slice(r0, None), slice(c0, None)
        a = a[tuple(index)]
    return as_strided(a, shape, strides)


def _diagonal_dims(nd: int, dim1: int, dim2: int) -> tuple:
    d1, d2 = wrap_dim(dim1, nd), wrap_dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


@public("diagonal")
def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal ``offset`` (above the main one when positive) of the matrices over dims
    ``dim1`` and ``dim2``, as the last dim (a view)."""
    if type(offset) is not int:
        check_types("diagonal", (("offset", "int"),), offset)
    d1, d2 = _diagonal_dims(len(self._shape), dim1, dim2)
    offset = int(offset)
    saved = lambda o=offset, d1=dim1, d2=dim2, s=self._shape: (("offset", shown(o)), ("dim1", shown(d1)),
                                                                ("dim2", shown(d2)), ("self_sym_sizes", s))
    return layout(self, lambda a: _diagonal_view(a, offset, d1, d2), K_DIAGONAL, view=True, saved=saved)


def _embedded(x: Tensor, offset: int, d1: int, d2: int, dim1: int = -2, dim2: int = -1) -> Tensor:
    n = x._shape[-1] if x._shape else 1
    big = n + abs(offset)
    rest = list(x._shape[:-1])
    shape = []
    for d in range(len(rest) + 2):
        shape.append(big if d in (d1, d2) else rest.pop(0))
    out = np.arange(math.prod(shape), dtype=np.int64).reshape(shape)
    positions = np.ascontiguousarray(_diagonal_view(out, offset, d1, d2))
    saved = lambda o=offset, d1=dim1, d2=dim2: (("offset", shown(o)), ("dim1", shown(d1)), ("dim2", shown(d2)))
    return _scattered(x, positions, tuple(shape), K_DIAG_EMBED, saved)


@public("diag_embed")
def diag_embed(self, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices over dims ``dim1``/``dim2`` of the result whose diagonal ``offset`` holds the
    last dim of the input, zeros elsewhere."""
    if type(offset) is not int:
        check_types("diag_embed", (("offset", "int"),), offset)
    d1, d2 = _diagonal_dims(len(self._shape) + 1, dim1, dim2)
    return _embedded(self, int(offset), d1, d2, dim1, dim2)


@public("diag")
def diag(self, diagonal: int = 0) -> Tensor:
    """The matrix with a vector on its diagonal ``diagonal``, or the diagonal of a matrix."""
    if type(diagonal) is not int:
        check_types("diag", (("diagonal", "int"),), diagonal)
    nd = len(self._shape)
    if nd not in (1, 2):
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {nd}D")
    diagonal = int(diagonal)
    if nd == 1:
        return _embedded(self, diagonal, 0, 1)
    saved = lambda o=diagonal, s=self._shape: (("offset", shown(o)), ("dim1", 0), ("dim2", 1), ("self_sym_sizes", s))
    return layout(self, lambda a: _diagonal_view(a, diagonal, 0, 1), K_DIAG, saved=saved)


def _triangle_of(x: Tensor, diagonal: int, upper: int, name: str) -> Tensor:
    if len(x._shape) < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    diagonal = int(diagonal)
    y = (np.triu if upper else np.tril)(x._value(), diagonal).astype(x._dtype.np, copy=False)
    if not (x._rg and state.grad):
        return plain(np.ascontiguousarray(y), x._dtype)
    tape = write_tape()
    nx = x._node if x._tape is tape else tape.import_(x)
    y = np.ascontiguousarray(y)
    return recorded(tape, tape.append(TRIANGLE, x._dtype.arena, y, nx, ia=diagonal, ib=upper), y, x._dtype)


@public("tril")
def tril(self, diagonal: int = 0) -> Tensor:
    """The lower triangle of the matrices over the last two dims: elements on and below the
    diagonal ``diagonal``, zeros above."""
    if type(diagonal) is not int:
        check_types("tril", (("diagonal", "int"),), diagonal)
    return _triangle_of(self, diagonal, 0, "tril")


@public("triu")
def triu(self, diagonal: int = 0) -> Tensor:
    """The upper triangle of the matrices over the last two dims: elements on and above the
    diagonal ``diagonal``, zeros below."""
    if type(diagonal) is not int:
        check_types("triu", (("diagonal", "int"),), diagonal)
    return _triangle_of(self, diagonal, 1, "triu")


@public("_triangle")
def triangle(self, diagonal: int, upper: int) -> Tensor:
    """``triu(diagonal)`` if ``upper`` else ``tril(diagonal)`` (TRIANGLE's derivative)."""
    return _triangle_of(self, diagonal, upper, "triu" if upper else "tril")


# --- repeating ---------------------------------------------------------------------------
def _repeated(x: Tensor, reps: tuple) -> Tensor:
    nd = len(x._shape)
    if len(reps) < nd:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
    padded = (1,) * (len(reps) - nd) + x._shape
    shape = [a * b for a, b in zip(padded, reps)]
    if any(r < 0 for r in reps):
        bad = next(s for s in shape if s < 0)
        raise RuntimeError(f"Trying to create tensor with negative dimension {bad}: {shape}")
    saved = (("repeats", reps), ("self_sym_sizes", x._shape))
    return layout(x, lambda a: np.tile(a, reps), K_REPEAT, saved=saved)


@public("repeat", function=False)
def repeat(self, *repeats: int) -> Tensor:
    """The tensor repeated ``repeats[i]`` times along each dim (leading ones add dims; a copy)."""
    return _repeated(self, _dims_arg(repeats, "repeat", "repeats"))


@public("tile")
def tile(self, *dims: int) -> Tensor:
    """The tensor repeated ``dims[i]`` times along each dim; fewer dims than the tensor has are
    padded with ones in front (``repeat`` otherwise)."""
    dims = _dims_arg(dims, "tile")
    dims = (1,) * (len(self._shape) - len(dims)) + dims
    return _repeated(self, dims)


def _repeat_counts(repeats: Tensor, n: int, dim: int) -> np.ndarray:
    if repeats._dtype.is_floating_point or repeats._dtype is D.bool_:
        raise NotImplementedError(f"\"repeat_interleave_cpu\" not implemented for '{D.legacy_name(repeats._dtype)}'")
    if len(repeats._shape) > 1:
        raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
    counts = repeats._value().astype(np.int64).reshape(-1)
    if (counts < 0).any():
        raise RuntimeError("repeats can not be negative")
    if counts.size == 1:
        return np.full(n, counts[0], np.int64)
    if counts.size != n:
        raise RuntimeError(f"repeats must have the same size as input along dim, but got repeats.size(0) = "
                           f"{counts.size} and input.size({dim}) = {n}")
    return counts


_REPEAT_FUNCTION = Forms("repeat_interleave",
                         "(Tensor input, Tensor repeats, int dim = None, *, int output_size = None)",
                         "(Tensor repeats, *, int output_size = None)",
                         "(Tensor input, int repeats, int dim = None, *, int output_size = None)")


@public_function("repeat_interleave")
def repeat_interleave(input: Tensor, repeats: Union[int, Tensor, None] = None, dim: Optional[int] = None, *,
                      output_size: Optional[int] = None) -> Tensor:
    """Each element repeated ``repeats`` times (an int, or a tensor of counts, one per element
    along ``dim``) in place, along ``dim`` or over the flattened tensor.

    ``repeat_interleave(repeats)`` alone gives the indices ``0, 1, ...`` each repeated as many
    times as its count says."""
    if not isinstance(input, Tensor):
        raise TypeError(f"repeat_interleave(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if not (repeats is None or isinstance(repeats, (int, np.integer, Tensor))) or isinstance(repeats, bool):
        _REPEAT_FUNCTION.parse((input, repeats) if dim is None else (input, repeats, dim), {})
    if repeats is None:
        counts = _repeat_counts(input, input.numel(), 0)
        return plain(np.repeat(np.arange(counts.size, dtype=np.int64), counts), D.int64)
    x = input
    if dim is None:
        x = x.flatten()
        dim = 0
    given, dim = dim, wrap_dim(dim, len(x._shape))
    n = x._shape[dim] if x._shape else 1
    if isinstance(repeats, Tensor):
        counts = _repeat_counts(repeats, n, dim)
        total = int(counts.sum())
        if output_size is not None and output_size != total:
            raise RuntimeError("allocated size does not match required size")
        index = plain(np.repeat(np.arange(n, dtype=np.int64), counts), D.int64)
        saved = (("dim", shown(given)), ("index", index), ("self_sym_sizes", x._shape))
        return layout(x, lambda a: np.repeat(a, counts, dim), K_INDEX_SELECT, code=LAYOUT_SAVED, saved=saved)
    repeats = int(repeats)
    if repeats < 0:
        raise RuntimeError("Repeats must be non-negative")
    if output_size is not None and output_size != n * repeats:
        raise RuntimeError(f"repeat_interleave: Invalid output_size, expected {n * repeats} but got {output_size}")
    # As PyTorch: unsqueeze, expand, a contiguous clone, then a view.
    shape = x._shape[:dim + 1] + (repeats,) + x._shape[dim + 1:]
    wide = x.unsqueeze(dim + 1).expand(shape).clone()
    wide._v = np.ascontiguousarray(wide._v)
    return viewed(wide, x._shape[:dim] + (n * repeats,) + x._shape[dim + 1:], V_VIEW)


@public("repeat_interleave", function=False, method_forms=Forms(
    "repeat_interleave", *(f"({r} repeats, int dim = None, *, int output_size = None)" for r in ("Tensor", "int"))))
def repeat_interleave_method(self, repeats: Union[int, Tensor, None] = None, dim: Optional[int] = None, *,
                             output_size: Optional[int] = None) -> Tensor:
    """``tape.repeat_interleave(self, repeats, dim)``."""
    return repeat_interleave(self, repeats, dim, output_size=output_size)


@public("unfold", function=False)
def unfold(self, dimension: int, size: int, step: int) -> Tensor:
    """All slices of ``size`` elements along ``dimension``, ``step`` apart, as a new last dim
    (a view)."""
    nd = len(self._shape)
    d = wrap_dim(dimension, nd)
    most = self._shape[d] if nd else 1
    size, step = int(size), int(step)
    if size > most:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {most} but size is {size}")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    count = (most - size) // step + 1

    def windows(a):
        if not nd:
            return as_strided(a, (size,), (a.itemsize,))
        shape = a.shape[:d] + (count,) + a.shape[d + 1:] + (size,)
        strides = a.strides[:d] + (a.strides[d] * step,) + a.strides[d + 1:] + (a.strides[d],)
        return as_strided(a, shape, strides)
    saved = lambda d=dimension, s=self._shape: (("self_sym_sizes", s), ("dimension", shown(d)), ("size", size),
                                                ("step", step))
    return layout(self, windows, K_UNFOLD, view=True, saved=saved)
