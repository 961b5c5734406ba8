"""In-place view ops (``t_``, ``transpose_``, ``swapaxes_``, ``swapdims_``, ``squeeze_``, ``unsqueeze_``):
they change the tensor's own shape and strides, not its elements.

Each is its view op computed out of place (a row of the kind PyTorch names with suffix 1, or
``SqueezeBackward3/4/5``), to which the tensor moves, keeping its storage and version counter
(which moves, as PyTorch's does: a row that saved the tensor before raises at backward).  The
other views of the storage take nodes re-derived from their base's, as PyTorch's do once their
version changed (``ops/views.py``).  A recorded tensor changed under no_grad keeps its grad_fn,
the view row hidden behind it.
"""
from __future__ import annotations

import weakref
from typing import Callable, Optional, Union

from .._emit import VIEW_OF_MULTI, Tensor, multi_output, state
from ._spec import OUTPUT, PYTHON, public
from ._args import wrap_dim
from .shape import V_SQUEEZE_, V_SQUEEZE_DIMS, V_SQUEEZE_TUPLE_, V_UNSQUEEZE_, _transpose, viewed


def _check(self: Tensor) -> None:
    """PyTorch's refusals, before anything is computed."""
    if self._inf and not state.inference:
        raise RuntimeError("Inplace update to inference tensor outside InferenceMode is not allowed.You can make "
                           "a clone to get a normal tensor before doing inplace update.See "
                           "https://github.com/pytorch/rfcs/pull/17 for more details.")
    if not (self._rg and state.grad):
        return
    root, tape = self._vb, self._tape
    if tape is None and root is not None and root._tape is None:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
    if root is None and tape is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    multi = tape is not None and tape.op[self._node] == OUTPUT and tape.op[tape.a[self._node]] < PYTHON.start
    if multi or root is not None and self._vm:
        # PyTorch's errors for one of several views (a built-in op's outputs; a custom Function's are
        # its own) and for views made in no_grad mode, as other in-place ops raise them.
        self._check_inplace()
    if root is not None:
        if root._tape is None and root._rg:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place "
                               "operation.")


def _in_place(self: Tensor, view: Callable[[Tensor], Tensor]) -> Tensor:
    """Make ``self`` the view ``view(self)`` (the out-of-place op, which checks its arguments)."""
    _check(self)
    hidden = self._tape is not None and not state.grad
    # (an output of a multi-output view op stays one for PyTorch when changed so under no_grad: a
    # later recorded in-place change of it raises, naming the op's node, which grad_fn still shows)
    multi = hidden and multi_output(self)
    if hidden:
        state.grad = True       # (recorded all the same, hidden: the tensor's history stays usable)
        try:
            new = view(self)
        finally:
            state.grad = False
        new._tape.hid[new._node] = 1
    else:
        new = view(self)
    base = self._vb if self._vb is not None else self
    if base._views:
        base._views[:] = [e for e in base._views if e[0]() is not new]     # (``new`` is only a means)
    # The version moves: rows that saved the tensor (not its view row, the last) see the change.
    self._bump(new._tape)
    self._f = None
    self._v = new._v
    self._shape = new._shape
    if new._tape is None:
        return self
    self._tape, self._node, self._rg = new._tape, new._node, True
    self._ig = 0
    if multi:
        self._vm |= VIEW_OF_MULTI
    root = self._vb
    if root is None:
        if self._views:
            self._rederive_views()
    elif root._views and (root._tape is not None or root._rg):
        # The other views of the storage take nodes re-derived from the base; this one keeps its own.
        views = root._views
        views[:] = [e for e in views if e[0]() is not self]
        root._rederive_views()
        views.append((weakref.ref(self), self._tape.gen, self._node))
    return self


@public("t_", function=False)
def t_(self) -> Tensor:
    """In-place version of :meth:`t`: the tensor itself, its dimensions swapped."""
    nd = len(self._shape)
    if nd > 2:
        raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is {nd}D")
    return _in_place(self, lambda x: _transpose(x, 0, nd - 1 if nd else 0, 3.0))


@public("transpose_", function=False)
def transpose_(self, dim0: int, dim1: int) -> Tensor:
    """In-place version of :meth:`transpose`."""
    nd = len(self._shape)
    d0, d1 = wrap_dim(dim0, nd), wrap_dim(dim1, nd)
    return _in_place(self, lambda x: _transpose(x, d0, d1, 2.0))


@public("swapaxes_", function=False)
def swapaxes_(self, axis0: int, axis1: int) -> Tensor:
    """In-place version of :meth:`swapaxes`."""
    return transpose_(self, axis0, axis1)


@public("swapdims_", function=False)
def swapdims_(self, dim0: int, dim1: int) -> Tensor:
    """In-place version of :meth:`swapdims`."""
    return transpose_(self, dim0, dim1)


@public("unsqueeze_", function=False)
def unsqueeze_(self, dim: int) -> Tensor:
    """In-place version of :meth:`unsqueeze`."""
    dim = wrap_dim(dim, len(self._shape) + 1)
    shape = self._shape[:dim] + (1,) + self._shape[dim:]
    return _in_place(self, lambda x: viewed(x, shape, V_UNSQUEEZE_))


@public("squeeze_", function=False)
def squeeze_(self, dim: Optional[Union[int, tuple]] = None) -> Tensor:
    """In-place version of :meth:`squeeze`."""
    nd = len(self._shape)
    if dim is None:
        return _in_place(self, lambda x: viewed(x, tuple(s for s in x._shape if s != 1), V_SQUEEZE_))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    wrapped = [wrap_dim(d, nd) for d in dims]
    for k, d in enumerate(wrapped):
        if d in wrapped[:k]:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    shape = tuple(s for d, s in enumerate(self._shape) if not (d in wrapped and s == 1))
    how = V_SQUEEZE_DIMS if isinstance(dim, int) else V_SQUEEZE_TUPLE_
    return _in_place(self, lambda x: viewed(x, shape, how))
