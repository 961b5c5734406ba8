"""``torch.linalg.lstsq``: least-squares solutions of ``A X = B`` with PyTorch's four LAPACK drivers'
outputs (``rank``, ``singular_values`` and ``residuals`` where the driver gives them).

One Python-rule row (``ops/_rule.py``) with two inputs (``A``, ``B``) and two outputs (the solution
and the residuals, both differentiable in PyTorch); its rule is PyTorch's linalg_lstsq_backward, a
composition of ``pinv`` and products, so every order works.  Row attribute ``ia`` bit 1: ``B`` is a
(batch of) vector(s).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .._emit import D, Tensor, plain, recorded, state, write_tape
from ._args import broadcast_pair
from ._rule import return_type, rule_adjoint
from ._spec import OUT, PYTHON, TRANSPOSED, X0, X1, Op, register, tangents
from .decomp import VECTOR, _outputs, _pinv_vjp, pinv

LSTSQ = PYTHON.start + 65
DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def _lstsq_vjp(g, xs, y, r):
    gx, gl = g
    if gl is not None and not gl.numel():
        gl = None               # (PyTorch's: empty residuals pass no gradient)
    if gx is None and gl is None:
        return None, None
    a, b = xs
    x, _ = _outputs(y, r)
    vector = bool(r.ia & VECTOR)
    if vector:
        b, x = b.unsqueeze(-1), x.unsqueeze(-1)
        gx = None if gx is None else gx.unsqueeze(-1)
    if gx is None:
        gx = x.new_zeros(x._shape)
    ga = gb = None
    if gl is not None and gl.numel():
        # the squared residuals |A X - B|^2 of each column (at the minimum, X's own change adds nothing)
        res = (a @ x - b) * gl.unsqueeze(-2) * 2
        ga, gb = res @ x.mT, -res
    p = pinv(a)
    ga_x = _pinv_vjp(gx @ b.mT, (a,), p, r)[0]
    gb_x = p.mT @ gx
    ga = ga_x if ga is None else ga + ga_x
    gb = gb_x if gb is None else gb + gb_x
    return ga, gb.squeeze(-1) if vector else gb


register(Op(LSTSQ, "linalg_lstsq", "LinalgLstsqBackward0", X0 | X1 | OUT, _lstsq_vjp, py_adjoint=rule_adjoint,
            arity=2, multi=True))
tangents({LSTSQ: TRANSPOSED})

LstsqResult = return_type("linalg_lstsq", ("solution", "residuals", "rank", "singular_values"))


def _check(A: Tensor, B: Tensor, driver: Optional[str]) -> bool:
    for k, (arg, t) in enumerate((("input", A), ("b", B))):
        if not isinstance(t, Tensor):
            raise TypeError(f"linalg_lstsq(): argument '{arg}' (position {k + 1}) must be Tensor, not "
                            f"{type(t).__name__}")
    name = "torch.linalg.lstsq"
    if A.dim() < 2:
        raise RuntimeError(f"{name}: input must have at least 2 dimensions.")
    if B.dim() < 1:
        raise RuntimeError(f"{name}: other must have at least 1 dimension.")
    if not A._dtype.is_floating_point or not B._dtype.is_floating_point:
        raise RuntimeError("This function doesn't handle types other than float and double")
    if A._dtype is not B._dtype:
        raise RuntimeError(f"{name}: Expected input and other to have the same dtype, but got input's dtype "
                           f"{D.legacy_name(A._dtype)} and other's dtype {D.legacy_name(B._dtype)}")
    if not (0 <= A.dim() - B.dim() <= 1):
        raise RuntimeError(f"{name}: input.dim() must be greater or equal to other.dim() and (input.dim() - "
                           f"other.dim()) <= 1")
    # (as linalg.solve: B is a (batch of) vector(s) if 1-D or of A's shape but its last dim; a B of one dim
    # less that is not is a matrix, whose leading dims still broadcast with A's batch)
    vector = B.dim() == 1 or B._shape == A._shape[:-1]
    if driver is not None and driver not in DRIVERS:
        raise RuntimeError(f"{name}: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    if (B._shape[-1] if vector else B._shape[-2]) != A._shape[-2]:
        if vector:
            broadcast_pair(A._shape[:-2], B._shape[:-1])     # (PyTorch's broadcast error comes first)
        raise RuntimeError(f"{name}: input.size(-2) should match other.size({-1 if vector else -2})")
    if B.dim() == A.dim() - 1:
        broadcast_pair(A._shape[:-2], B._shape[:-1])
    return vector


def _solve_one(a: np.ndarray, b: np.ndarray, rcond: float, driver: str) -> tuple:
    """One matrix: ``(x, rank, singular values)`` as the driver computes them (gels: from a QR or
    LQ factorization, assuming full rank; the others: the minimum-norm solution of the rank found)."""
    m, n = a.shape
    if not a.size:
        return np.zeros((n, b.shape[-1]), a.dtype), 0, np.zeros(min(m, n), a.dtype)
    if driver == "gels":
        with np.errstate(all="ignore"):
            if m >= n:
                q, rr = np.linalg.qr(a)
                return np.linalg.solve(rr, q.T @ b), n, None
            q, rr = np.linalg.qr(a.T)
            return q @ np.linalg.solve(rr.T, b), m, None
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    rank = int((s > rcond * s[0]).sum()) if s.size else 0
    x = vh[:rank].T @ ((u[:, :rank].T @ b) / s[:rank, None])
    return x, rank, s


def lstsq(A: Tensor, B: Tensor, rcond: Optional[float] = None, *, driver: Optional[str] = None) -> tuple:
    """A least-squares solution ``X`` of ``A X = B`` (of each system of a batch; ``B`` may be a
    (batch of) vector(s)) as a named tuple ``(solution, residuals, rank, singular_values)``:
    ``driver`` is LAPACK's (``'gelsy'`` by default; ``'gels'`` assumes full rank, ``'gelsd'``/``'gelss'``
    also give the singular values); singular values up to ``rcond`` times the largest count as
    zero (machine epsilon times ``max(m, n)`` by default).  ``residuals``, the squared residual of
    each column, is computed for more rows than columns and full rank, except by ``'gelsy'``."""
    vector = _check(A, B, driver)
    driver = driver or "gelsy"
    dt = A._dtype
    m, n = A._shape[-2:]
    if rcond is None:
        rcond = float(np.finfo(dt.np).eps) * max(m, n)
    b = B._value()[..., None] if vector else B._value()
    # (a B of one dim less than A: its leading dims broadcast with A's batch, also when it is a matrix)
    batch = broadcast_pair(A._shape[:-2], B._shape[:-1] if B.dim() == A.dim() - 1 else b.shape[:-2])
    a = np.broadcast_to(A._value(), batch + (m, n))
    b = np.broadcast_to(b, batch + b.shape[-2:])
    k = b.shape[-1]
    x = np.zeros(batch + (n, k), dt.np)
    ranks = np.zeros(batch, np.int64)
    sv = np.zeros(batch + (min(m, n),), dt.np)
    for index in np.ndindex(*batch):
        x[index], ranks[index], s = _solve_one(a[index], b[index], rcond, driver)
        if s is not None:
            sv[index] = s
    if driver != "gelsy" and m > n and (driver == "gels" or (ranks == n).all()):
        res = ((a @ x - b) ** 2).sum(-2)
    else:
        res = np.zeros((0,), dt.np)
    rank = plain(np.zeros((0,), np.int64) if driver == "gels" else ranks, D.int64)
    svals = plain(sv if driver in ("gelsd", "gelss") else np.zeros((0,), dt.np), dt)
    if vector:
        x = x[..., 0]
    ys = [np.require(x, dt.np, "C"), np.require(res, dt.np, "C")]
    if state.grad and (A._rg or B._rg):
        tape = write_tape()
        na = A._node if A._tape is tape else tape.import_(A)
        nb = B._node if B._tape is tape else tape.import_(B)
        row = tape.append(LSTSQ, dt.arena, np.concatenate([v.reshape(-1) for v in ys]), na, nb,
                          ia=VECTOR if vector else 0)
        outs = [recorded(tape, node, v, dt) for node, v in zip(tape.append_outputs(row, [v.shape for v in ys]), ys)]
    else:
        outs = [plain(v, dt) for v in ys]
    return LstsqResult((outs[0], outs[1], rank, svals))
