"""Ops PyTorch writes in terms of others (CompositeImplicitAutograd): their graphs are made of
the nodes of the ops they call, so here too they record nothing of their own (``diff`` is
``SubBackward0`` of two ``SliceBackward0``, ``diagflat`` a ``DiagEmbedBackward0`` of a view,
``msort`` a ``SortBackward0``), and every order of derivative comes from those ops.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .._emit import D, Size, Tensor, plain
from ._args import wrap_dim
from ._parser import check_types
from ._spec import public
from .join import cat


@public("positive")
def positive(self) -> Tensor:
    """``self`` itself (the unary ``+``); PyTorch refuses a bool tensor."""
    if self._dtype is D.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return self


@public("absolute")
def absolute(self) -> Tensor:
    """Alias of :meth:`Tensor.abs`."""
    return self.abs()


@public("diff")
def diff(self, n: int = 1, dim: int = -1, prepend: Optional[Tensor] = None,
         append: Optional[Tensor] = None) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (``x[i + 1] - x[i]``), after ``prepend`` and
    ``append`` are put before and after ``self`` along ``dim``; xor of neighbours for bool tensors."""
    if not self._shape:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    for other in (prepend, append):
        if other is not None and len(other._shape) != len(self._shape):
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
    if n == 0:      # (PyTorch's copy of self, prepend and append left out: it looks at the dim only for them)
        if prepend is not None or append is not None:
            wrap_dim(dim, len(self._shape))
        return plain(np.empty(self._shape, self._dtype.np), self._dtype).copy_(self)
    given, dim = dim, wrap_dim(dim, len(self._shape))
    x = self
    if prepend is not None or append is not None:
        x = cat([t for t in (prepend, self, append) if t is not None], given)
    for _ in range(n):
        size = x._shape[dim]
        if size == 0:
            break
        hi = x.narrow(given, 1, size - 1)       # (the dim as given, as PyTorch's nodes show it)
        lo = x.narrow(given, 0, size - 1)
        x = hi.logical_xor(lo) if x._dtype is D.bool_ else hi - lo
    return x


@public("diagflat")
def diagflat(self, offset: int = 0) -> Tensor:
    """A 2-D tensor with the flattened ``self`` on its ``offset``-th diagonal."""
    if type(offset) is not int:
        check_types("diagflat", (("offset", "int"),), offset)
    return self.contiguous().view(-1).diag_embed(offset)


@public("sum_to_size", function=False)
def sum_to_size(self, *size) -> Tensor:
    """``self`` summed down to ``size``, to which ``self`` must be expandable."""
    if not size:
        raise TypeError('sum_to_size() missing 1 required positional arguments: "size"')
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    size = tuple(int(s) for s in size)
    shape = self._shape
    lead = len(shape) - len(size)
    if lead < 0 or any(s != 1 and s != d for s, d in zip(size, shape[lead:])):
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size {{{list(shape)}}}.")
    if not size:
        return self.sum()           # (as PyTorch's sum_to: to no dims is the whole sum, a 0-d input's too)
    if size == shape:
        return self
    dims = tuple(range(lead)) + tuple(lead + k for k, s in enumerate(size) if s == 1 and shape[lead + k] != 1)
    y = self.sum(dims, keepdim=True) if dims else self
    return y.view(size) if lead else y


@public("signbit")
def signbit(self) -> Tensor:
    """Whether the sign bit of each element is set (true for -0.0 as for negative numbers)."""
    v = self._value()
    return plain(np.asarray(np.signbit(v) if v.dtype != np.bool_ else np.zeros(v.shape, bool)), D.bool_)


@public("msort")
def msort(self) -> Tensor:
    """``self`` sorted along its first dimension (the values of ``sort(dim=0)``)."""
    return self.sort(dim=0).values


def linear(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """Applies ``input @ weight.T + bias``: PyTorch's composition, so its nodes (``AddmmBackward0`` for
    a 2-D input with a bias, a flattened ``addmm`` for a contiguous one of other dims with a 1-D
    bias, else ``matmul`` and an in-place ``add_``)."""
    if not (isinstance(input, Tensor) and isinstance(weight, Tensor) and (bias is None or isinstance(bias, Tensor))):
        for k, (name, t) in enumerate((("input", input), ("weight", weight), ("bias", bias))):
            if not isinstance(t, Tensor) and (t is not None or k < 2):
                raise TypeError(f"linear(): argument '{name}' (position {k + 1}) must be Tensor, not "
                                f"{type(t).__name__}")
    nd = len(input._shape)
    if nd == 0 or not weight._shape:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are {nd}D and {weight.dim()}D")
    if bias is not None:
        if nd == 2:
            return bias.addmm(input, weight.t())
        if input.is_contiguous() and bias.dim() == 1:
            shape = input._shape
            out = bias.addmm(input.reshape(int(np.prod(shape[:-1])), shape[-1]), weight.t())
            return out.view(*shape[:-1], out._shape[1])
    out = input.matmul(weight.t())
    return out if bias is None else out.add_(bias)


def _dropout(input, p: float, train: bool, inplace: bool) -> Tensor:
    if not isinstance(input, Tensor):
        name = "dropout_" if inplace else "dropout"
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if not 0 <= p <= 1:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p:g}")
    if p == 0 or not train or input.numel() == 0:
        return input
    if p == 1:
        zero = plain(np.zeros((), input._dtype.np), input._dtype)
        return input.mul_(zero) if inplace else input * zero
    # (PyTorch's: a Bernoulli(1 - p) mask of the default generator, scaled by 1 / (1 - p))
    noise = plain(np.empty(input._shape, input._dtype.np), input._dtype).bernoulli_(1 - p)
    noise.div_(1 - p)
    return input.mul_(noise) if inplace else input * noise


@public("dropout", method=False)
def dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """``input`` with each element zeroed with probability ``p`` and the others scaled by
    ``1 / (1 - p)`` when ``train``; ``input`` itself otherwise."""
    return _dropout(input, p, train, False)


@public("dropout_", method=False)
def dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """In-place version of :func:`dropout`."""
    return _dropout(input, p, train, True)
