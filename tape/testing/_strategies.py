r"""Hypothesis strategies and helpers for property-based gradient tests.

This module needs `hypothesis <https://hypothesis.readthedocs.io>`_, which is a
test-time dependency only: ``import tape`` does not import it.

Example::

    from hypothesis import given
    import tape
    from tape.testing import check_grads, tensors

    @given(tensors(), tensors())
    def test_mul(x, y):
        assert check_grads(lambda a, b: a * b, x, y)

Strategies (:func:`shapes`, :func:`broadcastable_shapes`, :func:`tensors`) draw
shapes and tape tensors; :func:`check_grads` runs
:func:`tape.autograd.gradcheck` and :func:`tape.autograd.gradgradcheck` and
raises :class:`~tape.autograd.gradcheck.GradcheckError` on a mismatch, so
hypothesis shrinks a failing example to a small one.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .. import _dtype as D
from .._creation import tensor as _tensor
from .._tensor import Tensor
from ..autograd.gradcheck import (
    GradcheckError,
    _as_tuple,
    _random_grad_outputs,
    _vjp_function,
    gradcheck,
    gradgradcheck,
)

__all__ = ["GradcheckError", "broadcastable_shapes", "check_grads", "shapes", "tensors"]

Shape = tuple[int, ...]


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> st.SearchStrategy[Shape]:
    r"""Return a strategy for tensor shapes.

    Args:
        min_dims (int, optional): the smallest number of dimensions. Default: 0
            (a 0-d tensor, that is a scalar).
        max_dims (int, optional): the largest number of dimensions. Default: 3.
        min_side (int, optional): the smallest size of a dimension. Default: 1.
        max_side (int, optional): the largest size of a dimension. Default: 4.

    Returns:
        A strategy for tuples of ints, shrinking towards fewer and smaller dimensions.

    Example::

        >>> @given(shapes(min_dims=1, max_dims=2))
        ... def test_sum(shape):
        ...     assert tape.ones(shape).sum().item() == math.prod(shape)
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(shape: Shape, min_dims: int = 0, max_dims: int | None = None, min_side: int = 1,
                         max_side: int | None = None) -> st.SearchStrategy[Shape]:
    r"""Return a strategy for shapes that broadcast with :attr:`shape`.

    Aligned from the right, each dimension of a drawn shape equals the
    dimension of :attr:`shape`, or one of the two is 1; the drawn shape may have
    more or fewer dimensions than :attr:`shape`.

    Args:
        shape (tuple of ints): the shape to broadcast with.
        min_dims (int, optional): the smallest number of dimensions. Default: 0.
        max_dims (int, optional): the largest number of dimensions. Default:
            ``max(len(shape), min_dims) + 2``.
        min_side (int, optional): the smallest size of a dimension. Default: 1.
        max_side (int, optional): the largest size of a dimension, for the
            dimensions that are not aligned with :attr:`shape`. Default:
            ``max(shape + (min_side,)) + 2``.

    Example::

        >>> @given(st.data())
        ... def test_add(data):
        ...     x = data.draw(tensors((2, 3)))
        ...     y = data.draw(tensors(broadcastable_shapes((2, 3))))
        ...     assert check_grads(tape.add, x, y)
    """
    return hnp.broadcastable_shapes(tuple(shape), min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                                    max_side=max_side)


def _default_elements(dtype: D.dtype) -> st.SearchStrategy:
    if dtype.is_floating_point:
        width = 8 * dtype.itemsize
        return st.floats(-10, 10, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=width)
    if dtype is D.bool_:
        return st.booleans()
    info = np.iinfo(dtype.np)
    return st.integers(max(int(info.min), -10), min(int(info.max), 10))


def tensors(shape: None | Shape | st.SearchStrategy[Shape] = None, dtype: D.dtype = D.float64,
            elements: st.SearchStrategy | None = None, requires_grad: bool = True) -> st.SearchStrategy[Tensor]:
    r"""Return a strategy for tape tensors (leaves).

    Args:
        shape (tuple of ints or strategy, optional): the shape of the tensors, or a
            strategy for it. Default: :func:`shapes()` (up to 3 dimensions of size
            1 to 4).
        dtype (:class:`tape.dtype`, optional): the dtype of the tensors.
            Default: ``tape.float64``, the precision :func:`~tape.autograd.gradcheck`
            is designed for.
        elements (strategy, optional): a strategy for the values. Default: finite
            floats in ``[-10, 10]`` without subnormal numbers (small integers for
            integer dtypes).
        requires_grad (bool, optional): whether the tensors require grad (floating
            point dtypes only). Default: ``True``.

    Example::

        >>> @given(tensors(shapes(min_dims=1)))
        ... def test_tanh(x):
        ...     assert check_grads(tape.tanh, x)
    """
    if not isinstance(dtype, D.dtype):
        raise TypeError(f"tensors(): dtype must be a tape.dtype, not {type(dtype).__name__}")
    if requires_grad and not dtype.is_floating_point:
        raise ValueError("tensors(): only tensors of floating point dtype can require gradients, got "
                         f"dtype={dtype}")
    if shape is None:
        shape = shapes()
    elif not isinstance(shape, st.SearchStrategy):
        shape = tuple(shape)
    if elements is None:
        elements = _default_elements(dtype)
    return hnp.arrays(dtype.np, shape, elements=elements).map(
        lambda a: _tensor(a, dtype=dtype, requires_grad=requires_grad))


def check_grads(func: Callable[..., Any], *inputs: Any, order: int = 2, eps: float = 1e-6, atol: float = 1e-5,
                rtol: float = 1e-3) -> bool:
    r"""Check the derivatives of :attr:`func` at :attr:`inputs` up to :attr:`order`.

    Runs :func:`tape.autograd.gradcheck` (first derivatives) and, for
    ``order >= 2``, :func:`tape.autograd.gradgradcheck` (second derivatives,
    with random ``grad_outputs``). Each further order checks the derivatives of
    the previous vector-Jacobian product in the same way.

    Args:
        func (function): a Python function that takes the inputs and returns a
            Tensor or a tuple of Tensors.
        *inputs: the arguments of :attr:`func`; the tensors that require grad are
            checked, other arguments are passed through.
        order (int, optional): the highest order of derivatives to check. Default: 2.
        eps (float, optional): perturbation for finite differences.
        atol (float, optional): absolute tolerance.
        rtol (float, optional): relative tolerance.

    Returns:
        ``True``.

    Raises:
        GradcheckError: if numerical and analytical derivatives differ (the
            message names the output and input and shows both Jacobians).

    Example::

        >>> x = tape.randn(3, dtype=tape.float64, requires_grad=True)
        >>> check_grads(lambda t: (t * t.sin()).sum(), x)
        True
    """
    if int(order) != order or order < 1:
        raise ValueError(f"check_grads(): order must be a positive integer, got {order!r}")
    kw = {"eps": eps, "atol": atol, "rtol": rtol, "raise_exception": True}
    gradcheck(func, inputs, **kw)
    f, args = func, _as_tuple(inputs)
    for k in range(2, int(order) + 1):
        gos = _random_grad_outputs(f, args)
        gradgradcheck(f, args, gos, **kw)
        if k < order:
            f, args = _vjp_function(f, args, gos), args + gos
    return True
