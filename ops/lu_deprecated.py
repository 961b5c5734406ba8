"""PyTorch's deprecated top-level LU functions: ``lu`` (``linalg.lu_factor_ex``'s factors), ``lu_solve``
(``linalg.lu_solve`` with its arguments in the old order) and ``lu_unpack`` (``P``, ``L`` and ``U`` of a
packed LU: its own node, ``LuUnpackBackward0``, one row with two outputs whose linear rule gives every
order)."""
from __future__ import annotations

import warnings

import numpy as np

from .._emit import D, Tensor, plain
from ._parser import check_types
from ._rule import return_type
from ._spec import PYTHON, TRANSPOSED, Op, public, public_function, register, tangents
from .decomp import _many
from .join import cat
from .lu import _permutation, _unpack, lu_factor_ex, lu_solve as linalg_lu_solve

LU_UNPACK = PYTHON.start + 77

LuUnpackResult = return_type("lu_unpack", ("P", "L", "U"))
_WARNED: set = set()        # (PyTorch's TORCH_WARN_ONCE, per function)
_LU_WARNING = (
    "torch.lu is deprecated in favor of torch.linalg.lu_factor / torch.linalg.lu_factor_ex and will be removed in a "
    "future PyTorch release.\nLU, pivots = torch.lu(A, compute_pivots)\nshould be replaced with\nLU, pivots = "
    "torch.linalg.lu_factor(A, compute_pivots)\nand\nLU, pivots, info = torch.lu(A, compute_pivots, get_infos=True)\n"
    "should be replaced with\nLU, pivots, info = torch.linalg.lu_factor_ex(A, compute_pivots)")
_LU_SOLVE_WARNING = (
    "torch.lu_solve is deprecated in favor of torch.linalg.lu_solveand will be removed in a future PyTorch release.\n"
    "Note that torch.linalg.lu_solve has its arguments reversed.\nX = torch.lu_solve(B, LU, pivots)\nshould be "
    "replaced with\nX = torch.linalg.lu_solve(LU, pivots, B)")


def _warn_once(name: str, message: str) -> None:
    if name not in _WARNED:
        _WARNED.add(name)
        warnings.warn(message, UserWarning, stacklevel=3)


@public("lu")
def lu(self, pivot: bool = True, get_infos: bool = False) -> tuple:
    """The LU factorization ``(LU, pivots)`` of ``linalg.lu_factor_ex``, with its ``infos`` when
    ``get_infos`` (deprecated: ``tape.linalg.lu_factor``; warns once, as PyTorch)."""
    check_types("_lu_with_info", (("pivot", "bool"),), pivot, first=None)     # (PyTorch's Python function's call)
    _warn_once("lu", _LU_WARNING)
    factors = lu_factor_ex(self, pivot=pivot)
    return tuple(factors) if get_infos else tuple(factors[:2])


@public("lu_solve")
def lu_solve(self, LU_data: Tensor, LU_pivots: Tensor) -> Tensor:
    """The solution ``X`` of ``A X = self`` from ``A``'s LU factorization ``(LU_data, LU_pivots)``
    (deprecated: ``tape.linalg.lu_solve(LU, pivots, B)``; warns once, as PyTorch)."""
    _warn_once("lu_solve", _LU_SOLVE_WARNING)
    return linalg_lu_solve(LU_data, LU_pivots, self)


def _lu_unpack_vjp(g, xs, y, r):
    # PyTorch's lu_unpack_backward: L's part below the diagonal, U's on and above it
    lu = xs[0]
    m, n = lu._shape[-2:]
    k = min(m, n)
    gl, gu = (None if t is None or not t.numel() and lu.numel() else t for t in g)
    zeros = lu.new_zeros(lu._shape)
    low = zeros if gl is None else gl.tril(-1)
    up = zeros if gu is None else gu.triu()
    if gl is not None and k < n:
        low = cat([low, lu.new_zeros(lu._shape[:-1] + (n - k,))], -1)
    if gu is not None and k < m:
        up = cat([up, lu.new_zeros(lu._shape[:-2] + (m - k, n))], -2)
    return (low + up,)


register(Op(LU_UNPACK, "lu_unpack", "LuUnpackBackward0", 0, _lu_unpack_vjp, multi=True,
            node_saved=(("LU_data_sym_argsize_minus_1", lambda r: int(r.ia) & 0xFFFFFFFF),
                        ("LU_data_sym_argsize_minus_2", lambda r: int(r.ia) >> 32))))
tangents({LU_UNPACK: TRANSPOSED})       # (linear)


@public_function("lu_unpack")
def lu_unpack(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True, unpack_pivots: bool = True) -> tuple:
    """The named tuple ``(P, L, U)`` of a packed LU factorization (``lu_factor``'s ``(LU, pivots)``):
    ``A = P L U``; an empty tensor for ``P`` without ``unpack_pivots``, for ``L`` and ``U`` without
    ``unpack_data``."""
    check_types("lu_unpack", (("LU_data", Tensor), ("LU_pivots", Tensor), ("unpack_data", "bool"), ("unpack_pivots", "bool")),
                LU_data, LU_pivots, unpack_data, unpack_pivots)
    if LU_data.dim() < 2:
        raise RuntimeError(f"torch.lu_unpack: Expected tensor with 2 or more dimensions. Got size: "
                           f"{list(LU_data._shape)} instead")
    if LU_pivots._dtype is not D.int32:
        raise RuntimeError("torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of torch.int32 dtype.\n"
                           "Note: this function is intended to be used with the output produced by "
                           "torch.linalg.lu_factor")
    m, n = LU_data._shape[-2:]
    dt = LU_data._dtype
    empty = np.zeros((0,), dt.np)
    if unpack_pivots:
        piv = LU_pivots._value()
        if piv.size and (piv.min() < 1 or piv.max() > m):
            raise RuntimeError("pivots passed to lu_unpack must be between 1 and LU.size(-2) inclusive."
                               "Did you properly pass the result of lu_factor?")
        p = plain(_permutation(np.broadcast_to(piv, LU_data._shape[:-2] + piv.shape[-1:]), m, dt.np), dt)
    else:
        p = plain(empty, dt)
    ys = list(_unpack(LU_data._value())) if unpack_data else [empty, empty]
    return LuUnpackResult((p,) + _many(LU_UNPACK, ys, LU_data, ia=(m << 32) | n))
