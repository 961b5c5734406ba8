"""PyTorch's ``*_copy`` functions (``t_copy``, ``select_copy``, ``split_copy`` ...): the value of a
view op as a tensor of its own (contiguous, no view of its input), whose node is the view's under
PyTorch's ``_copy`` name (``TBackward0_copy``, ``NarrowCopyBackward0`` ...).

Each is one LAYOUT row (``ops/layout.py``: a gather of the input's elements at flat positions,
its derivative the scatter back, so every order): the positions are those the view op itself lays
out from a tensor of the input's positions, so its argument checks and errors are the view op's.
``as_strided_copy`` gathers from ``self``, or from the storage's base when the view reaches beyond
``self``'s elements, as ``as_strided`` does.  ``split_copy``,
``split_with_sizes_copy`` and ``unbind_copy`` record one row with several outputs, as PyTorch
shows one node for all parts; ``detach_copy`` sits behind PyTorch's ``NotImplemented`` node.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import numpy as np

from .._emit import D, Tensor, plain, recorded, state, write_tape
from ._args import shown, wrap_dim
from ._parser import check_types
from ._rule import rule_adjoint
from ._spec import PYTHON, Op, public, register, tangents
from .as_strided import _positions as _storage_positions
from .as_strided import _storage_view
from .counting import N_DETACH_COPY, _nodiff
from .join import _unbind_vjp
from .layout import LAYOUT, LAYOUT_NAMES, _record, layout
from .shape import sliced
from .split import _split, _sized, _split_jvp, _split_vjp

SPLIT_COPY, SPLIT_SIZES_COPY, UNBIND_COPY = PYTHON.start + 220, PYTHON.start + 221, PYTHON.start + 222
_SPLIT_SAVED = (("dim", lambda r: r.ia), ("self_sym_sizes", lambda r: r.in_shapes[0]))
register(Op(SPLIT_COPY, "split_copy", "SplitBackward0_copy", 0, _split_vjp, float_only=False, multi=True,
            py_adjoint=rule_adjoint,
            node_saved=_SPLIT_SAVED + (("split_size", lambda r: r.out_shapes[0][r.ia]),)))
register(Op(SPLIT_SIZES_COPY, "split_with_sizes_copy", "SplitWithSizesBackward0_copy", 0, _split_vjp,
            float_only=False, multi=True, py_adjoint=rule_adjoint,
            node_saved=_SPLIT_SAVED + (("split_sizes", lambda r: tuple(s[r.ia] for s in r.out_shapes)),)))
register(Op(UNBIND_COPY, "unbind_copy", "UnbindBackward0_copy", 0, _unbind_vjp, float_only=False, multi=True,
            py_adjoint=rule_adjoint, node_saved=(("dim", lambda r: r.ia),)))
# (linear: the input's tangent cut the same way)
tangents({SPLIT_COPY: _split_jvp, SPLIT_SIZES_COPY: _split_jvp, UNBIND_COPY: lambda ts, xs, y, r: ts[0].unbind(r.ia)})


def _copy_of(x: Tensor, view: Callable[[Tensor], Tensor], node: str, saved=()) -> Tensor:
    """``view(x)``'s value as a fresh tensor, recorded as one gather named ``node``."""
    where = view(plain(np.arange(x.numel(), dtype=np.int64).reshape(x._shape), D.int64))
    positions = np.array(where._value(), dtype=np.int64, order="C")
    return layout(x, lambda a: a.reshape(-1)[positions], LAYOUT_NAMES.index(node), saved=saved)


@public("alias_copy", method=False)
def alias_copy(self) -> Tensor:
    """A copy of ``self`` (the value of :func:`torch.alias`)."""
    return _copy_of(self, lambda p: p, "AliasBackward0_copy")


@public("detach_copy", method=False)
def detach_copy(self) -> Tensor:
    """A copy of ``self`` (the value of :meth:`Tensor.detach`); PyTorch gives it no derivative: its
    result requires grad when ``self`` does, and backward through it raises."""
    y = np.array(self._value(), order="C")
    return _nodiff(y, N_DETACH_COPY, self)


@public("t_copy", method=False)
def t_copy(self) -> Tensor:
    """A copy of :meth:`Tensor.t`'s value."""
    return _copy_of(self, Tensor.t, "TBackward0_copy")


@public("transpose_copy", method=False)
def transpose_copy(self, dim0: int, dim1: int) -> Tensor:
    """A copy of :meth:`Tensor.transpose`'s value."""
    return _copy_of(self, lambda p: p.transpose(dim0, dim1), "TransposeBackward0_copy",
                    (("dim0", shown(dim0)), ("dim1", shown(dim1))))


@public("permute_copy", method=False)
def permute_copy(self, dims: Sequence[int]) -> Tensor:
    """A copy of :meth:`Tensor.permute`'s value."""
    return _copy_of(self, lambda p: p.permute(dims), "PermuteBackward0_copy", (("dims", shown(tuple(dims))),))


@public("select_copy", method=False)
def select_copy(self, dim: int, index: int) -> Tensor:
    """A copy of :meth:`Tensor.select`'s value."""
    return _copy_of(self, lambda p: p.select(dim, index), "SelectBackward0_copy",
                    (("dim", shown(dim)), ("index", shown(int(index))), ("self_sym_sizes", self._shape)))


@public("slice_copy", method=False)
def slice_copy(self, dim: int = 0, start: Optional[int] = None, end: Optional[int] = None, step: int = 1) -> Tensor:
    """A copy of the slice ``start:end:step`` of ``self`` along ``dim`` (the value of
    ``self[..., start:end:step]`` there)."""
    if type(dim) is not int or type(step) is not int:
        check_types("slice_copy", (("dim", "int"), ("start", "int?"), ("end", "int?"), ("step", "int")),
                    dim, start, end, step)
    if not self._shape:
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, len(self._shape))
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    return _copy_of(self, lambda p: p[(slice(None),) * d + (slice(start, end, step),)], "SliceBackward0_copy",
                    sliced(self, dim, start, end, step))


@public("diagonal_copy", method=False)
def diagonal_copy(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A copy of :meth:`Tensor.diagonal`'s value."""
    return _copy_of(self, lambda p: p.diagonal(offset, dim1, dim2), "DiagonalBackward0_copy",
                    (("dim1", shown(dim1)), ("dim2", shown(dim2)), ("offset", shown(offset)),
                     ("self_sym_sizes", self._shape)))


@public("expand_copy", method=False)
def expand_copy(self, size: Sequence[int], *, implicit: bool = False) -> Tensor:
    """A copy of :meth:`Tensor.expand`'s value (every element written out)."""
    return _copy_of(self, lambda p: p.expand(size), "ExpandBackward0_copy", (("self_sym_sizes", self._shape),))


@public("narrow_copy")
def narrow_copy(self, dim: int, start: int, length: int) -> Tensor:
    """A copy of :meth:`Tensor.narrow`'s value."""
    if isinstance(start, Tensor):
        start = int(start.item())
    return _copy_of(self, lambda p: p.narrow(dim, start, length), "NarrowCopyBackward0",
                    (("dim", shown(dim)), ("length", length), ("self_sym_sizes", self._shape), ("start", shown(start))))


@public("squeeze_copy", method=False)
def squeeze_copy(self, dim: Optional[Union[int, Sequence[int]]] = None) -> Tensor:
    """A copy of :meth:`Tensor.squeeze`'s value (all dims of size one, or those of ``dim``)."""
    sizes = (("self_sym_sizes", self._shape),)
    if dim is None:
        return _copy_of(self, Tensor.squeeze, "SqueezeBackward0_copy", sizes)
    if isinstance(dim, int):
        return _copy_of(self, lambda p: p.squeeze(dim), "SqueezeBackward1_copy", (("dim", shown(dim)),) + sizes)
    return _copy_of(self, lambda p: p.squeeze(tuple(dim)), "SqueezeBackward2_copy",
                    (("dim", shown(tuple(dim))),) + sizes)


@public("unsqueeze_copy", method=False)
def unsqueeze_copy(self, dim: int) -> Tensor:
    """A copy of :meth:`Tensor.unsqueeze`'s value."""
    return _copy_of(self, lambda p: p.unsqueeze(dim), "UnsqueezeBackward0_copy", (("dim", shown(dim)),))


@public("view_copy", method=False)
def view_copy(self, size: Union[Sequence[int], D.dtype]) -> Tensor:
    """A copy of ``self`` with the shape ``size`` (the elements in row-major order, whatever its
    strides), or with its bytes read as the dtype ``size`` (no derivative)."""
    if isinstance(size, D.dtype):
        v = self.detach().view(size)
        return plain(np.array(v._value(), order="C"), v._dtype)
    return _copy_of(self, lambda p: p.reshape(size), "ViewBackward0_copy", (("self_sym_sizes", self._shape),))


@public("unfold_copy", method=False)
def unfold_copy(self, dimension: int, size: int, step: int) -> Tensor:
    """A copy of :meth:`Tensor.unfold`'s value."""
    return _copy_of(self, lambda p: p.unfold(dimension, size, step), "UnfoldBackward0_copy",
                    (("dimension", shown(dimension)), ("self_sym_sizes", self._shape), ("size", size),
                     ("step", step)))


@public("as_strided_copy", method=False)
def as_strided_copy(self, size: Sequence[int], stride: Sequence[int], storage_offset: Optional[int] = None) -> Tensor:
    """A copy of :meth:`Tensor.as_strided`'s value (a view of ``self``'s storage)."""
    base, view = _storage_view(self, size, stride, storage_offset)
    y = np.array(view, order="C")
    if not (self._rg and state.grad):
        return plain(y, self._dtype)
    saved = (("size", tuple(size)), ("storage_offset", storage_offset), ("stride", tuple(stride)))
    try:        # (from ``self`` when its elements hold the view's: a view that requires grad where its base does not)
        source, positions = self, _storage_positions(self, view)
    except RuntimeError:
        source, positions = base, _storage_positions(base, view)
    return _record(source, LAYOUT, y, positions, LAYOUT_NAMES.index("AsStridedBackward0_copy"), saved)


def _parts(x: Tensor, views: tuple, code: int, dim: int, saved: tuple) -> tuple:
    """The values of ``views`` (x's parts along ``dim``) as fresh tensors: one row of ``code`` with
    an output per part when recorded."""
    dt = x._dtype
    parts = [np.array(v._value(), dtype=dt.np, order="C") for v in views]
    if not (x._rg and state.grad) or not parts:
        return tuple(plain(p, dt) for p in parts)
    tape = write_tape()
    nx = x._node if x._tape is tape else tape.import_(x)
    row = tape.append(code, dt.arena, np.concatenate([p.reshape(-1) for p in parts]), nx, ia=dim)
    tape.args[row] = saved
    nodes = tape.append_outputs(row, [p.shape for p in parts])
    return tuple(recorded(tape, node, p, dt) for node, p in zip(nodes, parts))


@public("split_copy", method=False)
def split_copy(self, split_size: int, dim: int = 0) -> tuple:
    """Copies of the parts of :meth:`Tensor.split` with an int ``split_size``."""
    if type(split_size) is not int or type(dim) is not int:
        check_types("split_copy", (("split_size", "int"), ("dim", "int")), split_size, dim)
    parts = _split(self.detach(), split_size, dim)
    d = wrap_dim(dim, len(self._shape))
    saved = (("dim", shown(dim)), ("self_sym_sizes", self._shape), ("split_size", split_size))
    return _parts(self, parts, SPLIT_COPY, d, saved)


@public("split_with_sizes_copy", method=False)
def split_with_sizes_copy(self, split_sizes: Sequence[int], dim: int = 0) -> tuple:
    """Copies of the parts of :meth:`Tensor.split_with_sizes`."""
    parts = _sized(self.detach(), split_sizes, dim, False)
    d = wrap_dim(dim, len(self._shape))
    saved = (("dim", shown(dim)), ("self_sym_sizes", self._shape), ("split_sizes", tuple(split_sizes)))
    return _parts(self, parts, SPLIT_SIZES_COPY, d, saved)


@public("unbind_copy", method=False)
def unbind_copy(self, dim: int = 0) -> tuple:
    """Copies of the slices of :meth:`Tensor.unbind`."""
    parts = self.detach().unbind(dim)
    return _parts(self, parts, UNBIND_COPY, wrap_dim(dim, len(self._shape)), (("dim", shown(dim)),))
