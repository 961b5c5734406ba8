"""Matrix functions and decompositions: inv, det, slogdet, solve, solve_triangular, cholesky,
eigh, svd and qr, as Python-rule rows (``ops/_rule.py``): numpy's LAPACK computes the value, and one
rule in tape ops, PyTorch's derivative formula, serves both backwards, so every order works.
Leading batch dims are carried through; rows with several outputs (slogdet, eigh, svd) are
followed by their OUTPUT rows.

Row attributes: SOLVE ``ia`` bit 1: ``B`` is a (batch of) vector(s), bit 2: ``left=False``;
SOLVE_TRIANGULAR ``ia`` bits: 1 upper, 2 left, 4 unitriangular; CHOLESKY ``ia`` 1: upper, ``ib``
1: the deprecated ``tape.cholesky`` (``CholeskyBackward0``); QR ``ia``: the mode (``QR_MODES``).
"""
from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

from .._emit import D, Tensor, emit, plain, recorded, state, write_tape
from ._args import broadcast_pair
from ._parser import check_types
from ._rule import return_type, rule_adjoint
from ._spec import OUT, OUTPUTS, OUTS, PYTHON, X0, Given, Op, public, register
from ._spec import TRANSPOSED, tangents
from .join import cat, where
from . import stats
from .stats import _others, vector_norm

INV, DET, SLOGDET, SOLVE, SOLVE_TRIANGULAR, CHOLESKY, EIGH, SVD, QR = range(PYTHON.start + 1, PYTHON.start + 10)
VECTOR, RIGHT = 1, 2
QR_MODES = ("reduced", "complete", "r")
PINV = PYTHON.start + 53


class LinAlgError(RuntimeError):
    """A matrix function failed on its input (singular, not positive-definite): PyTorch's
    ``torch.linalg.LinAlgError``, a RuntimeError."""


LinAlgError.__name__ = LinAlgError.__qualname__ = "_LinAlgError"     # (as PyTorch's class prints)
UPPER, LEFT, UNIT = 1, 2, 4


def _outputs(y: Tensor, r) -> list:
    """The outputs of a row with several outputs: handles of its OUTPUT rows when the rule is
    recorded (so the rule's own derivative reaches them), parts of its value otherwise."""
    if y._rg:
        return [recorded(r.tape, o, r.tape.value_of(o), y._dtype) for o in r.outputs]
    v = y._value().reshape(-1)
    parts, at = [], 0
    for shape in r.out_shapes:
        n = int(np.prod(shape))
        parts.append(plain(v[at:at + n].reshape(shape), y._dtype))
        at += n
    return parts


def _mat(g: Tensor) -> Tensor:
    """A batch of numbers as a batch of 1x1 matrices, to scale matrices."""
    return g.unsqueeze(-1).unsqueeze(-1)


def _inv_vjp(g, xs, y, r):
    yt = y.mT
    return (-(yt @ g @ yt),)


def _det_vjp(g, xs, y, r):
    a = xs[0]
    if not a.numel():
        return (a.new_zeros(a.shape),)     # as PyTorch: an empty batch's gradient has no history
    if a.shape[-1] == 1:
        return (_mat(g),)                   # d det / dA = 1 for a 1 x 1 matrix (PyTorch's special case)
    if np.all(y._value() != 0):
        return (_mat(g * y) * inv(a).mT,)
    # A singular matrix has no inverse: PyTorch's cofactors from an SVD, det(U) det(Vh) U diag(the
    # product of the other singular values) Vh.
    u, s, vh = svd(a)
    alpha = det(u) * det(vh)
    return (_mat(g * alpha) * ((u * _others(s, s.dim() - 1).unsqueeze(-2)) @ vh),)


def _slogdet_vjp(g, xs, y, r):
    glog = g[1]
    if glog is None:
        return (None,)
    return (_mat(glog) * inv(xs[0]).mT,)


def _solve_vjp(g, xs, y, r):
    a, b = xs
    x = y
    if r.ia & RIGHT:
        # X A = B: gB = G A^-1, gA = -X^T gB
        gb = solve(a.mT, g, left=False)
        return -(x.mT @ gb), gb
    gb = solve(a.mT, g)
    if r.ia & VECTOR:
        return -(gb.unsqueeze(-1) @ x.unsqueeze(-2)), gb
    return -(gb @ x.mT), gb


def _triangle(t: Tensor, upper: bool, unit: bool) -> Tensor:
    k = 1 if unit else 0
    return t.triu(k) if upper else t.tril(-k)


def _solve_triangular_vjp(g, xs, y, r):
    a, b = xs
    upper, left, unit = bool(r.ia & UPPER), bool(r.ia & LEFT), bool(r.ia & UNIT)
    gb = solve_triangular(a.mT, g, upper=not upper, left=left, unitriangular=unit)
    ga = -(gb @ y.mT) if left else -(y.mT @ gb)
    return _triangle(ga, upper, unit), gb


def _cholesky_vjp(g, xs, y, r):
    # PyTorch's cholesky_backward (Murray, arXiv:1602.07527): phi(L^T gL), symmetrized, between
    # L^-T and L^-1.
    low, gl = (y.mT, g.mT) if r.ia & UPPER else (y, g)
    ga = (low.mT @ gl).tril()
    ga = (ga + ga.tril(-1).mT) * 0.5
    ga = solve_triangular(low.mT, ga, upper=True)
    return (solve_triangular(low, ga, upper=False, left=False),)


def _gaps(lam: Tensor) -> Tensor:
    """``E[i, j] = lam[j] - lam[i]`` with ones on the diagonal (PyTorch's Econj)."""
    n = lam._shape[-1]
    e = lam.unsqueeze(-2) - lam.unsqueeze(-1)
    eye = plain(np.eye(n, dtype=lam._dtype.np), lam._dtype)
    return e + eye


def _eigh_vjp(g, xs, y, r):
    gl, gv = g
    lam, v = _outputs(y, r)
    n = lam._shape[-1]
    eye = plain(np.eye(n, dtype=lam._dtype.np), lam._dtype)
    if gv is None:
        mid = gl.diag_embed()
    else:
        vg = v.mT @ gv
        mid = ((vg - vg.mT) * 0.5) / _gaps(lam) * (1 - eye)
        if gl is not None:
            mid = mid + gl.diag_embed()
    return (v @ mid @ v.mT,)


def _svd_vjp(g, xs, y, r):
    gu, gs, gvh = g
    u, s, vh = _outputs(y, r)
    k = s._shape[-1]
    m, n = u._shape[-2], vh._shape[-1]
    if u._shape[-1] != k:           # full_matrices: the rule reads the reduced factors
        u = u[..., :k]
        gu = None if gu is None else gu[..., :k]
    if vh._shape[-2] != k:
        vh = vh[..., :k, :]
        gvh = None if gvh is None else gvh[..., :k, :]
    if gu is None and gvh is None:
        if gs is None:
            return (None,)
        return ((u * gs.unsqueeze(-2)) @ vh,)
    v = vh.mT
    gv = None if gvh is None else gvh.mT
    s2 = s * s
    e = _gaps(s2)
    offdiag = 1 - plain(np.eye(k, dtype=s._dtype.np), s._dtype)
    ga = None
    if gu is not None:
        uhgu = u.mT @ gu
        ga = (uhgu - uhgu.mT) * s.unsqueeze(-2)
    if gv is not None:
        vhgv = v.mT @ gv
        term = s.unsqueeze(-1) * (vhgv - vhgv.mT)
        ga = term if ga is None else ga + term
    ga = ga / e * offdiag
    if gs is not None:
        ga = ga + gs.diag_embed()
    if m > n and gu is not None:
        ga = u @ ga
        gus = gu / s.unsqueeze(-2)
        ga = ga + gus - u @ (u.mT @ gus)
        return (ga @ vh,)
    if m < n and gv is not None:
        ga = ga @ vh
        gvs = gv / s.unsqueeze(-2)
        ga = ga + gvs.mT - (gvs.mT @ v) @ vh
        return (u @ ga,)
    return (u @ ga @ vh,)


def _qr_tall(gq, gr, q, r):
    """PyTorch's linalg_qr_backward for m >= n: (gQ + Q syminvadj(triu(gR R^T - Q^T gQ))) R^-T."""
    ga = None if gr is None else gr @ r.mT
    if gq is not None:
        ga = -(q.mT @ gq) if ga is None else ga - q.mT @ gq
    t = ga.triu()
    ga = q @ (t + t.triu(1).mT)
    if gq is not None:
        ga = ga + gq
    return solve_triangular(r.mT, ga, upper=False, left=False)


def _qr_vjp(g, xs, y, r):
    gq, gr = g
    if r.ia == QR_MODES.index("r"):
        raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. Please "
                           "use linalg.qr(A, mode='reduced') if you are going to differentiate through linalg.qr.")
    q, rr = _outputs(y, r)
    m, n = q._shape[-2], rr._shape[-1]
    if r.ia == QR_MODES.index("complete") and m > n:
        raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
    if gq is None and gr is None:
        return (None,)
    if m >= n:
        return (_qr_tall(gq, gr, q, rr),)
    # A = [X | Y] with X square: Y = Q R2 gives gY = Q gR2, and X is square with gQ + Y gR2^T.
    gr1 = None if gr is None else gr[..., :m]
    gr2 = None if gr is None else gr[..., m:]
    if gr2 is not None:
        gq = xs[0][..., m:] @ gr2.mT if gq is None else gq + xs[0][..., m:] @ gr2.mT
    gx = _qr_tall(gq, gr1, q, rr[..., :m])
    gy = q @ gr2 if gr2 is not None else plain(np.zeros(rr._shape[:-2] + (m, n - m), rr._dtype.np), rr._dtype)
    return (cat([gx, gy], -1),)


def _pinv_vjp(g, xs, y, r):
    # PyTorch's pinv_backward, arranged for the smaller of the two dimensions.
    a, p = xs[0], y
    ph, gh = p.mT, g.mT
    m, n = a._shape[-2:]
    if m <= n:
        k = gh @ p
        kph = k @ ph
        return (-(p @ k).mT + kph - (a @ p) @ kph + (ph @ p) @ (gh - k @ a),)
    k = p @ gh
    phk = ph @ k
    return (-(k @ p).mT + (gh - a @ k) @ p @ ph + phk - phk @ p @ a,)


register(Op(INV, "linalg_inv", "LinalgInvExBackward0", OUT, _inv_vjp, py_adjoint=rule_adjoint))
register(Op(DET, "linalg_det", "LinalgDetBackward0", X0 | OUT, _det_vjp, py_adjoint=rule_adjoint))
register(Op(SLOGDET, "linalg_slogdet", "LinalgSlogdetBackward0", X0 | OUT, _slogdet_vjp, py_adjoint=rule_adjoint,
            multi=True))
register(Op(SOLVE, "linalg_solve", "LinalgSolveExBackward0", X0 | OUT, _solve_vjp, py_adjoint=rule_adjoint,
            arity=2))
register(Op(SOLVE_TRIANGULAR, "linalg_solve_triangular", "LinalgSolveTriangularBackward0", X0 | OUT,
            _solve_triangular_vjp, py_adjoint=rule_adjoint, arity=2))
register(Op(CHOLESKY, "linalg_cholesky", "LinalgCholeskyExBackward0", OUT, _cholesky_vjp, py_adjoint=rule_adjoint,
            grad_fn_of=lambda r: "CholeskyBackward0" if r.ib else "LinalgCholeskyExBackward0"))
register(Op(EIGH, "linalg_eigh", "LinalgEighBackward0", OUT | OUTS, _eigh_vjp, py_adjoint=rule_adjoint, multi=True))
register(Op(SVD, "linalg_svd", "LinalgSvdBackward0", OUT | OUTS, _svd_vjp, py_adjoint=rule_adjoint, multi=True))
register(Op(PINV, "linalg_pinv", "LinalgPinvBackward0", X0 | OUT, _pinv_vjp, py_adjoint=rule_adjoint))
# (PyTorch's node shows the two factors and the mode; the rule of a wide matrix reads the input too)
register(Op(QR, "linalg_qr", "LinalgQrBackward0", X0 | OUT | OUTS, _qr_vjp, py_adjoint=rule_adjoint, multi=True,
            node_saved=(("Q", Given(OUTPUTS)), ("R", Given(OUTPUTS + 1)), ("mode", lambda r: QR_MODES[r.ia]))))
# Tangent rules: the decompositions' adjoint rules, transposed.
tangents({code: TRANSPOSED for code in (INV, DET, SLOGDET, SOLVE, SOLVE_TRIANGULAR, CHOLESKY, EIGH, SVD, PINV, QR)})


# --- checks -----------------------------------------------------------------------------
def _check_matrix(name: str, a, arg: str = "A", square: bool = True) -> None:
    """PyTorch's checks of a (batch of) matrix input, before anything is computed."""
    if not isinstance(a, Tensor):
        raise TypeError(f"{name.replace('.', '_')}(): argument '{arg.lower() if arg != 'A' else 'A'}' "
                        f"(position 1) must be Tensor, not {type(a).__name__}")
    if a.dim() < 2:
        raise RuntimeError(f"{name}: The input tensor {arg} must have at least 2 dimensions.")
    if square and a._shape[-1] != a._shape[-2]:
        raise RuntimeError(f"{name}: {arg} must be batches of square matrices, but they are "
                           f"{a._shape[-2]} by {a._shape[-1]} matrices")
    if not a._dtype.is_floating_point:
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{D.legacy_name(a._dtype)}")


def _batch_prefix(shape: tuple, index: tuple) -> str:
    """PyTorch's ``(Batch element i): `` for a failure in a batch (flat batch index)."""
    if len(shape) <= 2:
        return ""
    flat = int(np.ravel_multi_index(index, shape[:-2])) if index else 0
    return f"(Batch element {flat}): "


def _zero_pivot(m: np.ndarray) -> int:
    """The 1-based index of the first zero diagonal element of the LU factorization with partial
    pivoting of ``m`` (LAPACK's getrf ``info``), 0 if there is none."""
    u = np.array(m, np.float64)
    n = u.shape[0]
    first = 0
    for j in range(n):
        p = j + int(np.argmax(np.abs(u[j:, j])))
        if u[p, j] == 0:
            first = first or j + 1
            continue
        u[[j, p]] = u[[p, j]]
        u[j + 1:, j:] -= np.outer(u[j + 1:, j] / u[j, j], u[j, j:])
    return first


def _singular(name: str, v: np.ndarray) -> RuntimeError:
    for index in np.ndindex(*v.shape[:-2]):
        info = _zero_pivot(v[index])
        if info:
            return LinAlgError(f"{name}: {_batch_prefix(v.shape, index)}The diagonal element {info} is zero, the "
                                f"inversion could not be completed because the input matrix is singular.")
    return LinAlgError(f"{name}: The input matrix is singular.")


def _solve_values(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        try:
            return np.linalg.solve(a, b)
        except np.linalg.LinAlgError:
            raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix is singular.") from None


def _one(code: int, y: np.ndarray, x: Tensor, other: Optional[Tensor] = None, ia: int = 0, ib: int = 0) -> Tensor:
    dt = x._dtype
    y = np.require(y, dt.np, "C")
    if state.grad and (x._rg or (other is not None and other._rg)):
        return emit(code, y, dt, x, other, ia=ia, ib=ib)
    return plain(y, dt)


def _many(code: int, ys: list, x: Tensor, ia: int = 0) -> tuple:
    dt = x._dtype
    ys = [np.require(y, dt.np, "C") for y in ys]
    if not (x._rg and state.grad):
        return tuple(plain(y, dt) for y in ys)
    tape = write_tape()
    nx = x._node if x._tape is tape else tape.import_(x)
    row = tape.append(code, dt.arena, np.concatenate([y.reshape(-1) for y in ys]), nx, ia=ia)
    nodes = tape.append_outputs(row, [y.shape for y in ys])
    return tuple(recorded(tape, node, y, dt) for node, y in zip(nodes, ys))


# --- front ends ---------------------------------------------------------------------------
def inv(A: Tensor) -> Tensor:
    """The inverse of a square matrix (of each matrix of a batch)."""
    _check_matrix("linalg.inv", A)
    v = A._value()
    with np.errstate(all="ignore"):
        try:
            y = np.linalg.inv(v)
        except np.linalg.LinAlgError:
            raise _singular("linalg.inv", v) from None
    return _one(INV, y, A)


@public("inverse")
def inverse(self) -> Tensor:
    """The inverse of a square matrix (of each matrix of a batch): ``tape.linalg.inv``."""
    return inv(self)


def det(A: Tensor) -> Tensor:
    """The determinant of a square matrix (of each matrix of a batch)."""
    _check_matrix("linalg.det", A)
    return _one(DET, np.linalg.det(A._value()), A)


@public("det")
def det_method(self) -> Tensor:
    """The determinant of a square matrix (of each matrix of a batch): ``tape.linalg.det``."""
    return det(self)


SlogdetResult = return_type("linalg_slogdet", ("sign", "logabsdet"))
OldSlogdetResult = return_type("slogdet", ("sign", "logabsdet"))


def slogdet(A: Tensor) -> tuple:
    """The sign and the log of the absolute value of the determinant, as a named tuple
    ``(sign, logabsdet)``."""
    _check_matrix("linalg.slogdet", A)
    with np.errstate(divide="ignore", invalid="ignore"):
        sign, logabs = np.linalg.slogdet(A._value())
    # (PyTorch's sign is the product of the signs of U's diagonal, sign(nan) = 0: 0 where a nan left
    # logabsdet nan; numpy gives 1)
    sign = np.where(np.isnan(logabs), 0, sign).astype(sign.dtype)
    return SlogdetResult(_many(SLOGDET, [np.asarray(sign), np.asarray(logabs)], A))


@public("slogdet")
def slogdet_method(self) -> tuple:
    """``(sign, logabsdet)`` of the determinant: ``tape.linalg.slogdet``."""
    return OldSlogdetResult(slogdet(self))


@public("logdet")
def logdet(self) -> Tensor:
    """The log of the determinant: nan for a negative determinant (PyTorch's ``where`` over
    slogdet)."""
    _check_matrix("logdet", self)
    sign, logabs = slogdet(self)
    return where(sign < 0, float("nan"), logabs)


def _is_vector_rhs(a: tuple, b: tuple) -> bool:
    return len(b) == 1 or (len(b) == len(a) - 1 and b == a[:-1])


def _check_solve(A: Tensor, B: Tensor, left: bool, name: str) -> bool:
    """PyTorch's checks of ``linalg.solve``'s (``solve_ex``'s) arguments; whether ``B`` is a
    (batch of) vector(s)."""
    if not isinstance(A, Tensor):
        _check_matrix("linalg.solve", A)
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg_{name}(): argument 'B' (position 2) must be Tensor, not {type(B).__name__}")
    # (PyTorch checks the dtypes before the shapes)
    if not A._dtype.is_floating_point:
        raise RuntimeError(f"linalg.solve: Expected a floating point or complex tensor as input. Got "
                           f"{D.legacy_name(A._dtype)}")
    if A._dtype is not B._dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
                           f"{D.legacy_name(A._dtype)} and B of type {D.legacy_name(B._dtype)} instead")
    _check_matrix("linalg.solve", A)
    sa, sb = A._shape, B._shape
    vector = _is_vector_rhs(sa, sb)
    mb = sb + (1,) if vector else sb        # (PyTorch checks a vector as the column it solves for)
    if len(mb) < 2:
        raise RuntimeError("linalg.solve: The input tensor B must have at least 2 dimensions.")
    if mb[-1 if not left else -2] != sa[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({sa[-2]}x{sa[-1]} and {mb[-2]}x{mb[-1]})")
    if vector and not left:
        raise RuntimeError("linalg.solve: Vector broadcasting of the left hand side is not supported for left=False. "
                           "In this case linalg.solve is equivalent to B / A.squeeze(-1)")
    return vector


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """The solution ``X`` of ``A X = B`` (``X A = B`` with ``left=False``); batch dims broadcast,
    and ``B`` may be a (batch of) vector(s)."""
    vector = _check_solve(A, B, left, "solve")
    sa, sb = A._shape, B._shape
    n = sa[-1]
    a, b = A._value(), B._value()
    if vector:
        batch = broadcast_pair(sa[:-2], sb[:-1])
        y = _solve_values(a, np.broadcast_to(b, batch + (n,))[..., None])[..., 0]
    elif left:
        batch = broadcast_pair(sa[:-2], sb[:-2])
        y = _solve_values(a, np.broadcast_to(b, batch + sb[-2:]))
    else:
        batch = broadcast_pair(sa[:-2], sb[:-2])
        bt = np.swapaxes(np.broadcast_to(b, batch + sb[-2:]), -1, -2)
        y = np.swapaxes(_solve_values(np.swapaxes(a, -1, -2), bt), -1, -2)
    return _one(SOLVE, y, A, B, ia=(VECTOR if vector else 0) | (0 if left else RIGHT))


def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True, unitriangular: bool = False) -> Tensor:
    """The solution ``X`` of ``A X = B`` (``X A = B`` with ``left=False``) for a triangular ``A``
    (only its ``upper`` or lower triangle is read; a unit diagonal with ``unitriangular``)."""
    _check_matrix("linalg.solve_triangular", A)
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg_solve_triangular(): argument 'B' (position 2) must be Tensor, not "
                        f"{type(B).__name__}")
    if B.dim() < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 dimensions.")
    if A._dtype is not B._dtype:
        raise RuntimeError(f"linalg.solve_triangular: Expected A and B to have the same dtype, but found A of "
                           f"type {D.legacy_name(A._dtype)} and B of type {D.legacy_name(B._dtype)} instead")
    sa, sb = A._shape, B._shape
    if (sb[-2] if left else sb[-1]) != sa[-1]:
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the equation {eq} "
                           f"({sa[-2]}x{sa[-1]} and {sb[-2]}x{sb[-1]})")
    a = np.triu(A._value()) if upper else np.tril(A._value())
    if unitriangular:
        a = a.copy()
        idx = np.arange(sa[-1])
        a[..., idx, idx] = 1
    batch = broadcast_pair(sa[:-2], sb[:-2])
    b = np.broadcast_to(B._value(), batch + sb[-2:])
    with np.errstate(all="ignore"):
        # (a zero on the diagonal gives inf/nan as LAPACK's trsm, which does not check)
        try:
            if left:
                y = np.linalg.solve(a, b)
            else:
                y = np.swapaxes(np.linalg.solve(np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2)), -1, -2)
        except np.linalg.LinAlgError:
            y = _substitute(np.broadcast_to(a, batch + sa[-2:]), b, upper, left)
    flags = (UPPER if upper else 0) | (LEFT if left else 0) | (UNIT if unitriangular else 0)
    return _one(SOLVE_TRIANGULAR, y, A, B, ia=flags)


def _substitute(a: np.ndarray, b: np.ndarray, upper: bool, left: bool) -> np.ndarray:
    """Back or forward substitution (a singular triangular matrix: inf and nan, as LAPACK's)."""
    if not left:
        return np.swapaxes(_substitute(np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2), not upper, True), -1, -2)
    n = a.shape[-1]
    x = np.zeros(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + b.shape[-2:], np.result_type(a, b))
    order = range(n - 1, -1, -1) if upper else range(n)
    with np.errstate(all="ignore"):
        for i in order:
            acc = b[..., i, :] - np.einsum("...k,...kj->...j", a[..., i, :], x)
            x[..., i, :] = acc / a[..., i, i][..., None]
    return x


def _not_positive(name: str, v: np.ndarray) -> RuntimeError:
    for index in np.ndindex(*v.shape[:-2]):
        m = v[index]
        for k in range(1, m.shape[-1] + 1):
            try:
                failed = np.isnan(np.diagonal(np.linalg.cholesky(m[:k, :k]))).any()
            except np.linalg.LinAlgError:
                failed = True
            if failed:
                return LinAlgError(f"{name}: {_batch_prefix(v.shape, index)}The factorization could not be "
                                    f"completed because the input is not positive-definite (the leading minor "
                                    f"of order {k} is not positive-definite).")
    return LinAlgError(f"{name}: The factorization could not be completed because the input is not "
                        f"positive-definite.")


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """The Cholesky factor ``L`` of a symmetric positive-definite matrix (``A = L L^T``; its
    transpose ``U`` with ``upper=True``); only the lower triangle of ``A`` is read."""
    return _cholesky(A, upper, "linalg.cholesky", 0)


def _cholesky(A: Tensor, upper: bool, name: str, deprecated: int) -> Tensor:
    _check_matrix(name, A)
    v = A._value()
    if upper:
        v = np.swapaxes(v, -1, -2)     # (LAPACK's uplo: ``upper`` reads the upper triangle)
    with np.errstate(all="ignore"):
        try:
            low = np.linalg.cholesky(np.tril(v) + np.swapaxes(np.tril(v, -1), -1, -2))
        except np.linalg.LinAlgError:
            raise _not_positive(name, v) from None
        if np.isnan(np.diagonal(low, 0, -2, -1)).any():     # (LAPACK's potrf stops at a nan pivot)
            raise _not_positive(name, v)
    y = np.swapaxes(low, -1, -2) if upper else low
    return _one(CHOLESKY, y, A, ia=UPPER if upper else 0, ib=deprecated)


_WARNED: list = []       # (PyTorch's TORCH_WARN_ONCE)


@public("cholesky")
def cholesky_deprecated(self, upper: bool = False) -> Tensor:
    """The Cholesky factor (deprecated: ``tape.linalg.cholesky``; warns once, as PyTorch)."""
    check_types("cholesky", (("upper", "bool"),), upper)
    if not _WARNED:
        _WARNED.append(True)
        warnings.warn(
            "torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed in a future PyTorch "
            "release.\nL = torch.cholesky(A)\nshould be replaced with\nL = torch.linalg.cholesky(A)\nand\n"
            "U = torch.cholesky(A, upper=True)\nshould be replaced with\nU = torch.linalg.cholesky(A).mH\n"
            "This transform will produce equivalent results for all valid (symmetric positive definite) inputs.",
            UserWarning, stacklevel=3)
    return _cholesky(self, upper, "cholesky", 1)


EighResult = return_type("linalg_eigh", ("eigenvalues", "eigenvectors"))


def _eigh_values(name: str, A: Tensor, UPLO: str) -> list:
    if isinstance(A, Tensor) and A.dim() >= 2 and A._shape[-1] == A._shape[-2] and not A._dtype.is_floating_point:
        raise NotImplementedError(f"\"linalg_eigh_cpu\" not implemented for '{D.legacy_name(A._dtype)}'")
    _check_matrix(name, A)
    if UPLO not in ("L", "U", "l", "u"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    lam, vec = np.linalg.eigh(A._value(), UPLO=UPLO.upper())
    return [lam, vec]


def eigh(A: Tensor, UPLO: str = "L") -> tuple:
    """Eigenvalues (ascending) and orthonormal eigenvectors (columns) of a symmetric matrix, read
    from its lower (``UPLO='L'``) or upper triangle, as a named tuple ``(eigenvalues,
    eigenvectors)``. The gradient is not defined where eigenvalues repeat (inf or nan there)."""
    return EighResult(_many(EIGH, _eigh_values("linalg.eigh", A, UPLO), A))


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """The eigenvalues (ascending) of a symmetric matrix, read from the ``UPLO`` triangle."""
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_eigvalsh(): argument 'input' (position 1) must be Tensor, not {type(A).__name__}")
    # (PyTorch's messages name linalg.eigh, which it calls)
    return _many(EIGH, _eigh_values("linalg.eigh", A, UPLO), A)[0]


SvdResult = return_type("linalg_svd", ("U", "S", "Vh"))
OldSvdResult = return_type("svd", ("U", "S", "V"))


def _svd_values(name: str, A: Tensor, full_matrices: bool) -> list:
    _check_matrix(name, A, square=False)
    v = A._value()
    m, n = v.shape[-2:]
    if v.size == 0:
        k = min(m, n)
        batch = v.shape[:-2]
        eye = np.zeros(batch + (m, m if full_matrices else k), v.dtype)
        eyeh = np.zeros(batch + (n if full_matrices else k, n), v.dtype)
        if full_matrices:
            eye[...] = np.eye(m, dtype=v.dtype)
            eyeh[...] = np.eye(n, dtype=v.dtype)
        return [eye, np.zeros(batch + (k,), v.dtype), eyeh]
    u, s, vh = _svd(name, v, full_matrices=full_matrices)
    return [u, s, vh]


def _svd(name: str, v: np.ndarray, **kwargs):
    """``np.linalg.svd`` refusing a matrix holding a nan as PyTorch does (LAPACK's gesdd checks its
    max-abs norm for nan; an inf passes and gives nan; numpy's own error says only that it did not
    converge)."""
    nan = np.isnan(v).any(axis=(-2, -1))
    if nan.any():
        index = tuple(np.argwhere(nan)[0]) if nan.ndim else ()
        raise LinAlgError(f"{name}: {_batch_prefix(v.shape, index)}The algorithm failed to converge because the "
                          f"input matrix contained non-finite values.")
    return np.linalg.svd(v, **kwargs)


def svd(A: Tensor, full_matrices: bool = True) -> tuple:
    """The singular value decomposition ``A = U diag(S) Vh`` as a named tuple ``(U, S, Vh)``,
    singular values descending. The gradient through ``U``/``Vh`` is not defined where singular
    values repeat (inf or nan there)."""
    return SvdResult(_many(SVD, _svd_values("linalg.svd", A, full_matrices), A))


def svdvals(A: Tensor) -> Tensor:
    """The singular values of a matrix (descending)."""
    return _many(SVD, _svd_values("linalg.svd", A, False), A)[1]


@public("svd")
def svd_old(self, some: bool = True, compute_uv: bool = True) -> tuple:
    """``(U, S, V)`` with ``A = U diag(S) V^T`` (the deprecated form: ``V``, not ``Vh``); reduced
    factors unless ``some=False``; zero-filled factors with ``compute_uv=False``."""
    check_types("svd", (("some", "bool"), ("compute_uv", "bool")), some, compute_uv)
    if not compute_uv:
        s = svdvals(self)
        m, n = self._shape[-2:]
        batch = self._shape[:-2]
        return OldSvdResult((plain(np.zeros(batch + (m, m), self._dtype.np), self._dtype), s,
                             plain(np.zeros(batch + (n, n), self._dtype.np), self._dtype)))
    u, s, vh = svd(self, full_matrices=not some)
    return OldSvdResult((u, s, vh.mT))


def matrix_norm(A: Tensor, ord="fro", dim: tuple = (-2, -1), keepdim: bool = False, *,
                dtype: Optional[D.dtype] = None) -> Tensor:
    """A matrix norm over the two dims ``dim``: 'fro', 'nuc' (the sum of the singular values),
    2 / -2 (the largest / smallest singular value), 1 / -1 (largest / smallest column sum of
    absolute values), inf / -inf (the same over rows)."""
    if A.dim() < 2:
        raise RuntimeError(f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    if not A._dtype.is_floating_point:
        raise RuntimeError(f"linalg.matrix_norm: Expected a floating point or complex tensor as input. Got "
                           f"{D.legacy_name(A._dtype)}")
    nd = A.dim()
    d0, d1 = (int(d) % nd for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    if dtype is not None and dtype is not A._dtype:
        A = A.to(dtype)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2, 2.0, -2.0):
        # As PyTorch: the two dims moved last, the singular values reduced.
        perm = [d for d in range(nd) if d not in (d0, d1)] + [d0, d1]
        s = svdvals(A.permute(perm))
        if ord == "nuc":
            y = s.sum(-1, keepdim=keepdim)
        else:
            y = s.amax(-1, keepdim=keepdim) if ord > 0 else s.amin(-1, keepdim=keepdim)
        if keepdim:
            return y.unsqueeze(-1).permute([perm.index(d) for d in range(nd)])
        return y
    if ord in (1, -1, float("inf"), float("-inf")):
        inner, outer_ = (d0, d1) if abs(ord) == 1 else (d1, d0)
        sums = vector_norm(A, 1, inner, keepdim)
        if not keepdim and inner < outer_:
            outer_ -= 1
        return sums.amax(outer_, keepdim=keepdim) if ord > 0 else sums.amin(outer_, keepdim=keepdim)
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def linalg_norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype: Optional[D.dtype] = None) -> Tensor:
    """A vector norm (``dim`` an int, or ``A`` 1-D) or a matrix norm (``dim`` two dims, or ``A``
    2-D) of order ``ord``; without ``ord``, the 2-norm of the elements over ``dim`` (all of them
    if None)."""
    if isinstance(dim, int):
        dim = (dim,)
    if ord is None:
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    given = dim
    if dim is None:
        if A.dim() not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
                               f"Got {A.dim()}D.")
        dim = tuple(range(A.dim()))
    if len(dim) == 2:
        return matrix_norm(A, ord, tuple(dim), keepdim, dtype=dtype)
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: Order {ord} not supported.")
    return vector_norm(A, ord, given, keepdim, dtype=dtype)      # (no dim given: its errors say so)


QrResult = return_type("linalg_qr", ("Q", "R"))


def qr(A: Tensor, mode: str = "reduced") -> tuple:
    """The QR decomposition ``A = Q R`` (``Q`` with orthonormal columns, ``R`` upper triangular) as a
    named tuple ``(Q, R)``: reduced, ``'complete'`` (square ``Q``), or ``'r'`` (``R`` only; ``Q``
    empty, and no derivative, as PyTorch's)."""
    if mode not in QR_MODES:
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', "
                           f"or 'complete'")
    _check_matrix("linalg.qr", A, square=False)
    v = A._value()
    q, r = np.linalg.qr(v, mode="complete" if mode == "complete" else "reduced")
    if mode == "r":
        q = np.zeros((0,), v.dtype)
    return QrResult(_many(QR, [q, r], A, ia=QR_MODES.index(mode)))


OldQrResult = return_type("qr", ("Q", "R"))
_QR_WARNED: list = []       # (PyTorch's TORCH_WARN_ONCE)


@public("qr")
def qr_deprecated(self, some: bool = True) -> tuple:
    """The QR decomposition ``(Q, R)``, reduced unless ``some=False`` (deprecated: ``tape.linalg.qr``;
    warns once, as PyTorch)."""
    if not isinstance(self, Tensor):
        raise TypeError(f"qr(): argument 'input' (position 1) must be Tensor, not {type(self).__name__}")
    check_types("qr", (("some", "bool"),), some)
    if not _QR_WARNED:
        _QR_WARNED.append(True)
        warnings.warn(
            "torch.qr is deprecated in favor of torch.linalg.qr and will be removed in a future PyTorch release.\n"
            "The boolean parameter 'some' has been replaced with a string parameter 'mode'.\nQ, R = torch.qr(A, some)\n"
            "should be replaced with\nQ, R = torch.linalg.qr(A, 'reduced' if some else 'complete')",
            UserWarning, stacklevel=3)
    return OldQrResult(qr(self, "reduced" if some else "complete"))


def pinv(A: Tensor, rcond: Optional[float] = None, hermitian: bool = False, *, atol: Optional[float] = None,
         rtol: Optional[float] = None) -> Tensor:
    """The pseudo-inverse of a matrix (of each matrix of a batch), from its SVD (its eigenvalues with
    ``hermitian=True``): singular values at most ``max(atol, rtol * largest)`` count as zero
    (``rtol`` is eps * max(m, n) when neither is given; ``rcond`` is the older name of ``rtol``)."""
    if not isinstance(A, Tensor) or A.dim() < 2 or not A._dtype.is_floating_point:
        what = f"{D.legacy_name(A._dtype)}{{{list(A._shape)}}}" if isinstance(A, Tensor) else type(A).__name__
        raise RuntimeError(f"linalg.pinv({what}): expected a tensor with 2 or more dimensions of float, double, "
                           f"cfloat or cdouble types")
    if hermitian and A._shape[-1] != A._shape[-2]:
        raise RuntimeError(f"linalg.eigh: A must be batches of square matrices, but they are {A._shape[-2]} by "
                           f"{A._shape[-1]} matrices")
    if rcond is not None:
        rtol, atol = float(rcond), 0.0
    v = A._value()
    m, n = v.shape[-2:]
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else float(np.finfo(v.dtype).eps) * max(m, n)
    atol = 0.0 if atol is None else float(atol)
    if v.size == 0:
        y = np.zeros(v.shape[:-2] + (n, m), v.dtype)
    elif hermitian:
        lam, vec = np.linalg.eigh(v)
        big = np.abs(lam) > np.maximum(atol, rtol * np.abs(lam).max(-1, keepdims=True))
        with np.errstate(divide="ignore"):
            inv_l = np.where(big, 1 / np.where(big, lam, 1), 0)
        y = (vec * inv_l[..., None, :]) @ np.swapaxes(vec, -1, -2)
    else:
        u, sv, vh = _svd("linalg.svd", v, full_matrices=False)
        big = sv > np.maximum(atol, rtol * sv.max(-1, keepdims=True))
        inv_s = np.where(big, 1 / np.where(big, sv, 1), 0)
        y = (np.swapaxes(vh, -1, -2) * inv_s[..., None, :]) @ np.swapaxes(u, -1, -2)
    return _one(PINV, y, A)


@public("pinverse")
def pinverse(self, rcond: float = 1e-15) -> Tensor:
    """The pseudo-inverse, singular values up to ``rcond`` times the largest taken as zero
    (``tape.linalg.pinv``)."""
    if type(rcond) is not float:
        check_types("pinverse", (("rcond", "float"),), rcond)
    return pinv(self, rcond)


stats.NUCLEAR_NORM.append(matrix_norm)
