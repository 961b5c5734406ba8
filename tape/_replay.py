"""The forward replay sweep: a recorded tape's rows run again, in order, on new values.

``tape.trace`` writes new inputs into the INPUT rows' slots of the value arena and calls
``replay_rows``, which computes each row's value from its inputs and attributes with its
family's forward kernel (the ones the recording sweep uses, ``_record._forward``), in one
compiled loop.  It stops through the sweeps' one door (``_stops``): at a row that needs Python
(``ST_PYTHON``: a BLAS product, a guard Python checks), at a row whose family kernel is not
compiled yet (``ST_COMPILE``), and at a guard whose outcome differs from the recorded one
(``ST_GUARD``); Python acts and calls it again from the row.

Guard rows are SOURCE rows, which no other sweep runs: ``GUARD`` rows are checked here, with
their expected outcome as their own value (float64), ``PY_GUARD`` rows by Python.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._record import _forward
from ._stops import C_ROW, C_START, C_STATUS, ST_COMPILE, ST_DONE, ST_PYTHON
from ._sweep import _PYTHON_START, _SOURCE_END, _UNARY_END
from .ops._spec import N_CODES, REGISTRY, UNARY
from .ops.elementwise import ONE_ELEMENT, _binary_f, _unary_f, scalar_d

PY_GUARD = 8    # a guard Python checks: an op's result that left the tape (``tape/_trace.py``)
GUARD = 9       # a guard this sweep checks: attribute ``ia`` is its kind, ``a`` the node read
ST_GUARD = 20   # a guard's outcome differs from the recorded one
C_STOP = 1      # ``ctl`` slot: the row to stop before (the sweep's own; the others are ``_stops``'s)

# Rows of one-input elementwise ops whose forward is one of numpy's transcendental ufuncs (numba here
# has no SVML, so its loops of them do not vectorize) from this many elements are replayed by that
# ufunc, the one eager called: a trip to Python costs less than the scalar loop there, and the values
# are eager's, bitwise.
NUMPY_FROM = 256
_TRANSCENDENTAL = {np.exp, np.exp2, np.expm1, np.log, np.log2, np.log10, np.log1p, np.sin, np.cos, np.tan,
                   np.arcsin, np.arccos, np.arctan, np.sinh, np.cosh, np.tanh, np.arcsinh, np.arccosh,
                   np.arctanh, np.cbrt}
_BY_NUMPY = np.zeros(N_CODES, np.bool_)
# Rows whose value the front end computed with the op's numpy ``forward`` (``Op.numpy_forward``, a bit
# of ``ib``): replayed by it, as they were computed.
_NUMPY_IB = np.zeros(N_CODES, np.int64)
for _code, _op in REGISTRY.items():
    # (a forward that wraps a ufunc says so: ``transcendental``)
    _BY_NUMPY[_code] = _code in UNARY and (isinstance(_op.forward, np.ufunc) and _op.forward in _TRANSCENDENTAL
                                           or getattr(_op.forward, "transcendental", False))
    _NUMPY_IB[_code] = _op.numpy_forward


def numpy_rows(tape) -> list:
    """The rows of ``tape`` a replay leaves to numpy (``NUMPY_FROM``, ``Op.numpy_forward``), in order."""
    n = tape.n
    op = tape.op[:n]
    return np.nonzero(((tape.num[:n] >= NUMPY_FROM) & _BY_NUMPY[op]) | (tape.ib[:n] & _NUMPY_IB[op] != 0))[0].tolist()


# Guard kinds: the exact value read (``item``, ``float``, ``tolist`` ...), its truth (``bool``,
# elementwise), and a comparison with the number ``fa`` (elementwise), as ``==``, ``!=``, ``<``,
# ``<=``, ``>``, ``>=``.
EXACT, TRUTH, EQ, NE, LT, LE, GT, GE = range(8)


@njit(cache=True, error_model="numpy", inline="always")
def _holds(kind, x, c, expected):
    if kind == EXACT:
        return x == expected or (x != x and expected != expected)
    if kind == TRUTH:
        out = x != 0
    elif kind == EQ:
        out = x == c
    elif kind == NE:
        out = x != c
    elif kind == LT:
        out = x < c
    elif kind == LE:
        out = x <= c
    elif kind == GT:
        out = x > c
    else:
        out = x >= c
    return out == (expected != 0)


@njit(cache=True, error_model="numpy")
def _guard(R, F, v64, v32, r):
    """Whether guard row ``r`` holds for the value its node has now."""
    x = R[5, r]
    kind = R[7, r]
    c = F[0, r]
    o = R[2, x]
    g = R[2, r]
    f64 = R[1, x] == 0
    for i in range(R[3, r]):
        value = v64[o + i] if f64 else np.float64(v32[o + i])
        if not _holds(kind, value, c, v64[g + i]):
            return False
    return True


@njit(cache=True, error_model="numpy", inline="always")
def _scalar(R, F, v64, v32, code, r):
    """A one-element unary or binary row: its family's forward on one element, as scalars (the
    kernel's call with arrays costs several times the arithmetic; see ``ops.elementwise.scalar_d``)."""
    o = R[2, r]
    x = R[2, R[5, r]]
    if code < _UNARY_END:
        if R[1, r] == 0:
            v64[o] = _unary_f(code, v64[x], F[0, r], F[1, r], R[7, r])
        else:
            v32[o] = _unary_f(code, v32[x], np.float32(F[0, r]), np.float32(F[1, r]), R[7, r])
    else:
        y = R[2, R[6, r]]
        if R[1, r] == 0:
            v64[o] = _binary_f(code, v64[x], v64[y])
        else:
            v32[o] = _binary_f(code, v32[x], v32[y])


@njit(cache=True, error_model="numpy")
def replay_rows(R, F, stab, ix, v64, v32, ctl, fams):
    """Compute the values of rows ``ctl[C_START]`` up to ``ctl[C_STOP]`` from their inputs."""
    r = ctl[C_START]
    stop = ctl[C_STOP]
    while r < stop:
        code = R[0, r]
        if R[3, r] == 1 and ONE_ELEMENT[code]:
            _scalar(R, F, v64, v32, code, r)
        elif code < _SOURCE_END:
            if code == GUARD and not _guard(R, F, v64, v32, r):
                ctl[C_STATUS] = ST_GUARD
                ctl[C_ROW] = r
                return
            if code == PY_GUARD:
                ctl[C_STATUS] = ST_PYTHON
                ctl[C_ROW] = r
                return
        elif code >= _PYTHON_START:
            ctl[C_STATUS] = ST_PYTHON
            ctl[C_ROW] = r
            return
        elif not _forward(R, F, stab, ix, v64, v32, r, fams):
            ctl[C_STATUS] = ST_COMPILE
            ctl[C_ROW] = r
            return
        r += 1
    ctl[C_STATUS] = ST_DONE


# --- scalar programs: a tape of one-element float64 rows, replayed forward and back in one call ------
# A function of a few numbers (an objective, an ODE right-hand side) records one-element rows only.
# Its rows are copied once into a program of contiguous columns, in order (code, the offsets of the
# output and inputs in the value arena, the numbers), which one compiled call runs forward and then
# back: no family dispatch, no arrays passed per row.  Values and adjoints are the same functions'
# (``_unary_f``/``_binary_f`` and ``scalar_d``, which the sweeps call on one-element rows), so the
# results are bitwise those of ``replay_rows`` and the plain sweep.
@njit(cache=True, error_model="numpy")
def scalar_program(R, F, n, skip):
    """Whether rows ``0..n-1`` make a scalar program (all one-element float64 rows, INPUT/CONST
    or ``GUARD`` rows), and the program; ``skip``: the sweep's bits (2: no input asked for is
    reached through the row: not run backward)."""
    m = 0
    for r in range(n):
        code = R[0, r]
        if code == 0 or code == 1:          # (INPUT, CONST: their values are written in place)
            if R[1, r] != 0 or R[3, r] != 1:
                return False, np.zeros((7, 0), np.int64), np.zeros((2, 0))
            continue
        if R[1, r] != 0 or (code != GUARD and (R[3, r] != 1 or not ONE_ELEMENT[code])) or R[1, R[5, r]] != 0:
            return False, np.zeros((7, 0), np.int64), np.zeros((2, 0))
        m += 1
    # Columns: code, out, x, y (a guard: its element count), ia, flags (1: run backward, 2: x needs
    # a gradient, 4: y does), the row; fa, fb.
    P = np.zeros((7, m), np.int64)
    Q = np.zeros((2, m))
    k = 0
    for r in range(n):
        code = R[0, r]
        if code == 0 or code == 1:
            continue
        x = R[5, r]
        y = R[6, r] if code >= _UNARY_END else x
        P[0, k] = code
        P[1, k] = R[2, r]
        P[2, k] = R[2, x]
        P[3, k] = R[2, y] if code != GUARD else R[3, r]
        P[4, k] = R[7, r]
        if code != GUARD:
            P[5, k] = (0 if skip[r] & 2 else 1) | (2 if R[9, x] != 0 else 0) | (4 if R[9, y] != 0 else 0)
        P[6, k] = r
        Q[0, k] = F[0, r]
        Q[1, k] = F[1, r]
        k += 1
    return True, P, Q


@njit(cache=True, error_model="numpy")
def scalar_forward(P, Q, v):
    """Run a scalar program forward on the values ``v``; -1, or the row of the guard that failed
    (rows after it are not run)."""
    for k in range(P.shape[1]):
        code = P[0, k]
        if code == GUARD:
            x = P[2, k]
            g = P[1, k]
            for i in range(P[3, k]):
                if not _holds(P[4, k], v[x + i], Q[0, k], v[g + i]):
                    return P[6, k]
        elif code < _UNARY_END:
            v[P[1, k]] = _unary_f(code, v[P[2, k]], Q[0, k], Q[1, k], P[4, k])
        else:
            v[P[1, k]] = _binary_f(code, v[P[2, k]], v[P[3, k]])
    return -1


@njit(cache=True, error_model="numpy")
def scalar_backward(P, Q, v, g, reached):
    """Run a scalar program back from the adjoints seeded in ``g`` (``reached`` set at the seeds):
    an adjoint is written when a gradient first reaches it, then added to, as the sweep does."""
    for k in range(P.shape[1] - 1, -1, -1):
        code = P[0, k]
        o = P[1, k]
        if code == GUARD or not reached[o] or not P[5, k] & 1:
            continue
        x = P[2, k]
        y = P[3, k]
        dx, dy = scalar_d(code, g[o], v[x], v[y], v[o], Q[0, k], Q[1, k])
        if P[5, k] & 2:
            if not reached[x]:
                reached[x] = 1
                g[x] = 0.0
            g[x] += dx
        if code >= _UNARY_END and P[5, k] & 4:
            if not reached[y]:
                reached[y] = 1
                g[y] = 0.0
            g[y] += dy
