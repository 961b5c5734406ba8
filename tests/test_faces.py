"""The faces of every op agree, value by value, without torch.

An op in ``ops/`` computes its function more than once (see ``ops/elementwise.py``):

* the numpy ``forward`` (arrays) and the Python-float ``scalar`` face (the 0-d float64 path);
* the numba forward kernels, with which compiled code writes the rows of a recorded backward;
* the fused numba adjoint kernels of a plain backward, and ``scalar_d`` for one-element rows;
* the derivative rule ``vjp``, traced into the programs of ``create_graph=True``.

For every registered op these tests pin

1. the float face to the numpy face (float64);
2. the numba forward kernels to the numpy face (float64 and float32);
3. the adjoint kernels to the rule's first-order values (float64 and float32), the
   rule run with tape's tensor ops as a recorded backward's Python path runs it (its
   compiled programs replay the same rule with the kernels of 2.);
4. ``scalar_d`` to the array adjoint kernels;

on edge values (signed zeros, infinities, nan, subnormals, huge values, the ops'
singularities and kinks) and on values hypothesis draws.  ``FACES`` states the
bound per op and pair of faces, in ulps: 0 where both compute the same
expression, a few where one must differ (numpy's vectorized transcendental
functions against libm, a float32 kernel that rounds a float64 intermediate
once where numpy rounds each step).  For a sum (reductions, products, an
operand broadcast along leading dims) an ulp is that of the sum of the terms'
magnitudes, as the order of the additions differs.  nan must meet nan, and a
zero must carry the other face's sign.  A face that does not exist for an op
is skipped with the reason the table gives; a registered op without a row, or
a row for an op that is not registered, fails ``test_every_op_has_a_row`` (a new
op needs its row, and the cases of its family's tests find it by its code).
One disagreement is left, a strict xfail naming the defect: relu(-0.)
(PyTorch's -0., tape's 0.).

Kernels run on arenas with guard slots (nans with a payload) around every slot
they read or write, and each test checks that nothing outside the slots a
kernel may write changed (a wrong arena or offset shows here, not as a
segfault).  With the thorough profile (``TAPE_HYPOTHESIS_PROFILE=thorough``)
``test_kernels_under_boundscheck`` runs the kernel tests once more in a
subprocess with ``NUMBA_BOUNDSCHECK=1`` (its own numba cache).
"""
from __future__ import annotations

import functools
import glob
import hashlib
import math
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Union

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tape.autograd import function as F
from tape.ops import REGISTRY
from tape.ops import addmm as A
from tape.ops import attention as AT
from tape.ops import block_diag as BD
from tape.ops import conv as CV
from tape.ops import losses as LO
from tape.ops import lu_deprecated as LUD
from tape.ops import margin_losses as ML
from tape.ops import normalization as NO
from tape.ops import embedding as EM
from tape.ops import triangular_solve as TS
from tape.ops import elementwise as E
from tape.ops import _specfun as SF
from tape.ops import index as I
from tape.ops import join as J
from tape.ops import lu as LU
from tape.ops import linalg as L
from tape.ops import reduction as R
from tape.ops import shape as S
from tape.ops import softmax as SM
from tape.ops import ternary as TE
from tape.ops.inplace import NO_DERIVATIVE
from tape.ops._rule import rule_adjoint
from tape.ops._spec import BINARY, REDUCE, SHAPE, UNARY

import tape

# Edge values overflow, divide by zero and make nans on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

F64, F32 = np.float64, np.float32
DTYPES = (F64, F32)
TAPE_DTYPE = {F64: tape.float64, F32: tape.float32}
OTHER = {F64: F32, F32: F64}


def _ids(dtype):
    return np.dtype(dtype).name


# --------------------------------------------------------------------------
# the table: bounds between faces, per op
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Skip:
    """This face does not exist for the op (or is not the op's own): why."""
    why: str


Bound = Union[int, Skip]
Pair = Union[tuple, Skip]      # (ulps in float64, ulps in float32), or why there is nothing to compare


@dataclass(frozen=True)
class Faces:
    float: Bound        # the Python-float face against numpy, float64
    kernel: Pair        # the numba forward kernel against numpy
    adjoint: Pair       # the adjoint kernel (plain backward) against the rule's values
    scalar_d: Pair      # scalar_d (one-element rows) against the array adjoint kernel
    signed_zero: bool = True    # False where PyTorch's sign of a zero result is not defined


NO_FLOAT = Skip("no Python-float face: a 0-d float64 tensor goes through numpy")
NO_SCALAR_D = Skip("not an elementwise row: the sweep calls scalar_d only for one-element unary/binary rows")
CAST_FORWARD = Skip("a cast's compiled forward is the recorder's own copy loop (tape/_record.py), "
                    "which the recorded-backward tests cover")
ONE_ELEMENT = (0, 0)    # (a float32 row: against the float64 kernel rounded once, see section 4)


def _elementwise(float_ulps, kernel, adjoint):
    return Faces(float_ulps, kernel, adjoint, ONE_ELEMENT)


# Columns: float face; forward kernel (float64, float32); adjoint kernel (float64, float32).  Same
# expression: 0 (a float32 kernel takes its numbers in float32, as numpy does).  libm against
# numpy's SIMD functions (exp, log, tan, tanh, pow...): 2 in float64; libm's float32 functions
# (numba's) against numpy's own float32 ones: 4.  An adjoint that rounds once where numpy rounds
# each step (a float32 y * y + 1.0 in float64): 2.
TRANSCENDENTAL = (2, (2, 4))
FACES: dict = {
    # Plain elementwise ops state their bounds in their own record (``Op.ulps``, see below).
    E.FILL: _elementwise(0, (0, 0), (0, 0)),
    E.CLAMP: Faces(NO_FLOAT, (0, 0), (0, 0), ONE_ELEMENT),
    # Ops whose rows keep parameters (``E.ATTR_FORWARD``): no float face of their own.
    E.LOGIT: Faces(NO_FLOAT, TRANSCENDENTAL[1], (0, 0), ONE_ELEMENT),
    E.CELU: Faces(NO_FLOAT, TRANSCENDENTAL[1], E.EXP_D[2], ONE_ELEMENT),
    E.NAN_TO_NUM: Faces(NO_FLOAT, (0, 0), (0, 0), ONE_ELEMENT),
    SF.POLYGAMMA: Faces(NO_FLOAT, (0, 0), (0, 0), ONE_ELEMENT),
    SF.MVLGAMMA: Faces(NO_FLOAT, (0, 0), (0, 0), ONE_ELEMENT),
    # The kernel adds nothing where the rule's zeros are +0: a -0.0 start shows the difference.
    E.MASK: Faces(Skip("no Python-float face: masks are made from arrays (mask_forward)"), (0, 0), (0, 0),
                  Skip("the sweep skips MASK rows (a piecewise-constant value has no adjoint)"), signed_zero=False),
    E.CAST: Faces(NO_FLOAT, CAST_FORWARD, (0, 0),
                  Skip("the sweep never calls scalar_d for a cast (its input is in the other arena)")),
    # A tie of signed zeros: PyTorch gives the first operand on short tensors, the second on long
    # ones (its SIMD loop), as numpy does; so the sign of a tied zero is not compared.
    E.MAXIMUM: Faces(0, (0, 0), (0, 0), ONE_ELEMENT, signed_zero=False),
    E.MINIMUM: Faces(0, (0, 0), (0, 0), ONE_ELEMENT, signed_zero=False),
    # Sums: ulps of the sum of magnitudes (the kernels and numpy add in different orders).  A zero
    # sum's sign depends on where the sum starts (PyTorch starts at +0, numpy's matmul does not),
    # so it is not compared.
    R.SUM: Faces(NO_FLOAT, (4, 4), (0, 0), NO_SCALAR_D, signed_zero=False),
    R.MEAN: Faces(NO_FLOAT, (4, 4), (1, 1), NO_SCALAR_D, signed_zero=False),
    S.VIEW: Faces(NO_FLOAT, (0, 0), (0, 0), NO_SCALAR_D),
    S.EXPAND: Faces(NO_FLOAT, (0, 0), (4, 4), NO_SCALAR_D, signed_zero=False),
    S.SELECT: Faces(NO_FLOAT, (0, 0), (0, 0), NO_SCALAR_D),
    S.EMBED: Faces(NO_FLOAT, (0, 0), (0, 0), NO_SCALAR_D),
    S.TRANSPOSE: Faces(NO_FLOAT, (0, 0), (0, 0), NO_SCALAR_D),
    S.GATHER: Faces(NO_FLOAT, (0, 0), (0, 0), NO_SCALAR_D),
    S.INDEX: Faces(NO_FLOAT, (0, 0), (0, 0), NO_SCALAR_D),
    S.SCATTER: Faces(NO_FLOAT, (0, 0), (0, 0), NO_SCALAR_D),
    S.LAYOUT: Faces(NO_FLOAT, (0, 0), (0, 0), NO_SCALAR_D),
    S.LAYOUT_SAVED: Faces(NO_FLOAT, (0, 0), (0, 0), NO_SCALAR_D),
    S.LAYOUT_SCATTER: Faces(NO_FLOAT, (0, 0), (0, 0), NO_SCALAR_D),
    # The compiled forward adds each kept element to +0.0, so a kept -0.0 comes out +0.0.
    S.TRIANGLE: Faces(NO_FLOAT, (0, 0), (0, 0), NO_SCALAR_D, signed_zero=False),
    L.MATMUL: Faces(NO_FLOAT, (4, 4), (4, 4), NO_SCALAR_D, signed_zero=False),
    L.MATMUL_BLAS: Faces(NO_FLOAT, Skip("a BLAS product: numpy computes it in every face"), (4, 4), NO_SCALAR_D,
                         signed_zero=False),
}
_JOIN_KERNELS = Skip("rows of listed inputs or several outputs: join_forward/join_adjoint are checked against "
                     "numpy in tests/test_join.py")
for _code in (J.CAT, J.STACK, J.WHERE, J.UNBIND, J.SPLIT, J.SPLIT_SIZES):
    FACES[_code] = Faces(NO_FLOAT, _JOIN_KERNELS, _JOIN_KERNELS, NO_SCALAR_D)
_TERNARY_KERNELS = Skip("listed rows: ternary_forward/ternary_adjoint are checked against numpy and the rule in "
                        "tests/test_elementwise3.py")
for _code in (TE.LERP, TE.LERP_T, TE.ADDCMUL, TE.ADDCDIV, TE.CLAMP_T):
    FACES[_code] = Faces(NO_FLOAT, _TERNARY_KERNELS, _TERNARY_KERNELS, NO_SCALAR_D)
_NONE = Skip("no derivative (PyTorch's in-place asinh_ ...): its backward raises, tests/test_inplace_variants.py")
FACES[NO_DERIVATIVE] = Faces(NO_FLOAT, _NONE, _NONE, NO_SCALAR_D)
for _code in (I.PUT, I.PUT_HELD):
    FACES[_code] = Faces(NO_FLOAT, Skip("no compiled forward: the front end computes a fill or scatter with numpy"),
                         Skip("py_adjoint, checked against the rule in tests/test_indexing.py"), NO_SCALAR_D)
_USER_CODE = Skip("a custom Function's row runs the user's forward and backward: tests/test_function.py")
FACES[F.FUNCTION] = Faces(NO_FLOAT, _USER_CODE, _USER_CODE, NO_SCALAR_D)
FACES.update({code: _elementwise(*op.ulps) for code, op in REGISTRY.items() if op.ulps})
# Python-rule rows (ops/_rule.py): numpy computes the value and the op's one rule the adjoint in
# every face; the op table compares both backwards.
_RULE_ROWS = Skip("a Python-rule row: its value is numpy's and its adjoint is its rule in every face")
FACES.update({code: Faces(NO_FLOAT, _RULE_ROWS, _RULE_ROWS, NO_SCALAR_D) for code, op in REGISTRY.items()
              if op.py_adjoint is rule_adjoint})
# (softmax's py_adjoint runs the rule's numpy calls in blocks of rows, the same bits, or in float32 compiled
# row kernels, within the ulps tests/test_big_softmax.py states)
FACES.update({code: Faces(NO_FLOAT, _RULE_ROWS, _RULE_ROWS, NO_SCALAR_D) for code, op in REGISTRY.items()
              if op.py_adjoint is SM.softmax_adjoint})
# (the same for rows of three inputs whose rule Python runs in both backwards: the addmm family, lu_solve)
FACES.update({code: Faces(NO_FLOAT, _RULE_ROWS, _RULE_ROWS, NO_SCALAR_D) for code in (*A.CODES, LU.LU_SOLVE)})
# (and ops14c's rows with listed inputs or two outputs: block_diag, lu_unpack, triangular_solve)
FACES.update({code: Faces(NO_FLOAT, _RULE_ROWS, _RULE_ROWS, NO_SCALAR_D)
              for code in (BD.BLOCK_DIAG, LUD.LU_UNPACK, TS.TRIANGULAR_SOLVE, AT.FLASH)})
# (and the scatters holding their index tensor as a third input, listed: their rule in both backwards)
FACES.update({code: Faces(NO_FLOAT, _RULE_ROWS, _RULE_ROWS, NO_SCALAR_D)
              for code in (I.PUT_SRC_HELD, I.REDUCED_HELD, I.INDEX_HELD)})     # (x[i, j]: the gather holding both)
FACES[TE.ADDCDIV_INT] = Faces(NO_FLOAT, _NONE, _NONE, NO_SCALAR_D)     # (PyTorch's backward fails: test_elementwise3)
# (and the binary cross entropies' rows, listed: their rule in both backwards)
FACES.update({code: Faces(NO_FLOAT, _RULE_ROWS, _RULE_ROWS, NO_SCALAR_D) for code in (LO.BCE, LO.BCE_GRAD)})
# (and the convolutions' row, listed: its rule in both backwards)
FACES[CV.CONV] = Faces(NO_FLOAT, _RULE_ROWS, _RULE_ROWS, NO_SCALAR_D)
# (and the margin losses' rows, listed: their rule in both backwards)
FACES.update({code: Faces(NO_FLOAT, _RULE_ROWS, _RULE_ROWS, NO_SCALAR_D) for code in (ML.MULTI_MARGIN, ML.MULTILABEL_MARGIN)})
# (and the normalization and embedding rows, listed: their rule in both backwards)
FACES.update({code: Faces(NO_FLOAT, _RULE_ROWS, _RULE_ROWS, NO_SCALAR_D)
              for code in (*NO.CODES, EM.EMBEDDING, EM.EMBEDDING_GRAD, EM.EMBEDDING_BAG)})


def _faces(code: int) -> Faces:
    faces = FACES.get(code)
    if faces is None:
        pytest.fail(f"{REGISTRY[code].name} ({code}) has no row in FACES: state its bounds there")
    return faces


def _bound(code: int, face: str, dtype=None) -> int:
    b = getattr(_faces(code), face)
    if isinstance(b, Skip):
        pytest.skip(f"{REGISTRY[code].name}: {b.why}")
    return b if dtype is None else b[DTYPES.index(dtype)]


def _name(code: int) -> str:
    return f"{REGISTRY[code].name}-{code}"


CODES = sorted(REGISTRY)
UNARY_CODES = [c for c in CODES if c in UNARY]
BINARY_CODES = [c for c in CODES if c in BINARY]


def _float_face(code: int):
    """(Python-float face, numpy face) of an elementwise op, or None: ``(x,)``, ``(x, c)`` for an
    op with a Python-number operand, ``(a, b)`` for a binary op."""
    if code in E.SCALAR_FORWARD:
        np_f, py_f = E.SCALAR_FORWARD[code]
        return py_f, np_f
    op = REGISTRY[code]
    if op.scalar is None:
        return None
    return op.scalar, op.forward


def test_every_op_has_a_row():
    missing = sorted(f"{_name(c)}" for c in REGISTRY if c not in FACES)
    assert not missing, f"registered ops without a row in FACES: {missing}"
    stale = sorted(c for c in FACES if c not in REGISTRY)
    assert not stale, f"rows of FACES for codes that are not registered: {stale}"
    for code, faces in FACES.items():
        # A float face is skipped exactly when the op has none.
        assert isinstance(faces.float, Skip) == (_float_face(code) is None), _name(code)
        for face in ("kernel", "adjoint", "scalar_d"):
            b = getattr(faces, face)
            assert isinstance(b, Skip) and b.why or len(b) == 2, f"{_name(code)}: {face}"
    # Every op with a face to compare is in a family the tests below run (elementwise rows,
    # reductions and shape ops by code; the two product codes by name).
    tested = set(UNARY_CODES) | set(BINARY_CODES) | {c for c in CODES if c in REDUCE or c in SHAPE} | {
        L.MATMUL, L.MATMUL_BLAS}
    untested = [_name(c) for c, f in FACES.items() if c not in tested
                and not all(isinstance(getattr(f, k), Skip) for k in ("kernel", "adjoint", "scalar_d"))]
    assert not untested, f"ops no test of this file runs: {untested}"


# --------------------------------------------------------------------------
# values
# --------------------------------------------------------------------------

_INF, _NAN = math.inf, math.nan
_HALF_PI = math.pi / 2
EDGES = (
    0.0, -0.0, 1.0, -1.0, _INF, -_INF, _NAN, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0, 0.1, 0.7, -0.7, 4.0, 0.25,
    # subnormals and the smallest normals (float64, float32)
    5e-324, -5e-324, 1e-310, -1e-310, 2.2250738585072014e-308, 1.4e-45, -1.4e-45, 1e-40,
    1.1754943508222875e-38, 1e-300, -1e-300, 1e-30, -1e-30, 1e-8, -1e-8,
    # huge values and the largest finite ones
    1e30, -1e30, 3.4028234663852886e38, -3.4028234663852886e38, 1e300, -1e300,
    1.7976931348623157e308, -1.7976931348623157e308,
    # where exp over- and underflows (float64, float32), where sigmoid and tanh saturate
    709.782712893384, 709.79, -745.1332191019411, -745.14, -708.4, 88.72283, 88.73, -103.97, -87.34,
    36.7, -36.7, 19.1, -19.1, 9.1, -9.1,
    # next to log's and pow's 1, tan's poles, sin's and cos's large arguments; 10 ** 38.4 * ln 10
    # overflows float32
    1.0000000000000002, 0.9999999999999999, 1.0000001, 0.99999994, 38.4,
    _HALF_PI, -_HALF_PI, 1.5707963267948968, 1.5707964, math.pi, 1e22, -1e22, 1e10,
)
# Python numbers for ops with a number operand (some float32 cannot hold).
CONSTANTS = (0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0, 2.5, 10.0, 0.1, 1 / 3, 0.7, 1e-310, 1e300,
             _INF, -_INF, _NAN)
# clamp's bounds: ordered, inverted, one-sided, signed zeros, float32 cannot hold 0.7
BOUNDS = ((-0.5, 0.7), (0.7, 2.0), (-_INF, 0.3), (0.3, _INF), (1.0, -1.0), (0.0, 0.0), (-0.0, 0.0),
          (0.0, -0.0), (-0.0, -0.0), (-_INF, _INF))
MASK_KINDS = (E.M_POS, E.M_SIGN, E.M_INRANGE, E.M_STEP_HALF, E.M_NONZERO, E.M_NEG, E.M_ZERO, E.M_FINITE, E.M_NONPOS,
              E.M_NOT_OUTSIDE)
# adjoints reaching a row
GRADS = (1.0, -1.0, 0.0, -0.0, 0.5, -3.0, 2.5, 1e-310, -1e300, _INF, -_INF, _NAN)


def _params(code: int) -> list:
    """The (fa, fb, ia) attributes a unary row of ``code`` is tried with."""
    if code in E.SCALAR_FORWARD:
        return [(c, 0.0, 0) for c in CONSTANTS]
    if code == E.CLAMP:
        return [(lo, hi, 0) for lo, hi in BOUNDS]
    if code == E.MASK:
        return [(lo, hi, kind) for kind in MASK_KINDS for lo, hi in ((-0.5, 0.7), (0.0, 0.0))]
    if code in E.ATTR_PARAMS:
        return E.ATTR_PARAMS[code]
    return [(0.0, 0.0, 0)]


def _grid(dtype) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.array(EDGES).astype(dtype)


@functools.lru_cache(maxsize=None)
def _floats(dtype):
    """Any float of the dtype (subnormals, infinities, nan), edge values, and moderate values."""
    w = 64 if dtype is F64 else 32
    return st.one_of(st.floats(width=w), st.sampled_from([float(e) for e in _grid(dtype)]),
                     st.floats(-40.0, 40.0, width=w))


@functools.lru_cache(maxsize=None)
def _arrays(dtype, n):
    return st.lists(_floats(dtype), min_size=n, max_size=n).map(lambda v: np.array(v, dtype))


# --------------------------------------------------------------------------
# comparison in ulps
# --------------------------------------------------------------------------

def _keys(a: np.ndarray) -> np.ndarray:
    """Integers in the order of the floats, one apart for neighbours (both zeros are 0)."""
    a = np.ascontiguousarray(a)
    if a.dtype == F32:
        i = a.view(np.int32).astype(np.int64)
        low = 0x7FFFFFFF
    else:
        i = a.view(np.int64)
        low = 0x7FFFFFFFFFFFFFFF
    return np.where(i < 0, -(i & low), i)


def _ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ka, kb = _keys(a), _keys(b)
    far = ((ka < 0) != (kb < 0)) & ((np.abs(ka) > 1 << 61) | (np.abs(kb) > 1 << 61))
    with np.errstate(over="ignore"):
        d = np.abs(ka - kb)
    return np.where(far, np.iinfo(np.int64).max, d)


@dataclass(frozen=True)
class Sums:
    """What a sum of terms allows: ``pos`` and ``neg``, the sums of its positive and negative
    terms' magnitudes (float64), per element; ``undefined`` where a term's value depends on the
    implementation (0 * inf or nan * 0 in a product: BLAS may skip zero factors)."""
    pos: np.ndarray
    neg: np.ndarray
    undefined: object = False


def _finite(w):
    return np.where(np.isinf(w), 0.0, w)


def linear_sums(add, terms) -> Sums:
    """Sums of ``terms`` that ``add`` (linear, coefficients 1) adds into each element."""
    t = np.asarray(terms, F64)
    with np.errstate(all="ignore"):
        pos, neg = add(np.clip(_finite(t), 0.0, None)), add(np.clip(-_finite(t), 0.0, None))
        pos = np.where(add((t == _INF).astype(F64)) > 0, _INF, pos)
        neg = np.where(add((t == -_INF).astype(F64)) > 0, _INF, neg)
    return Sums(pos, neg)


def product_sums(mul, u, v) -> Sums:
    """Sums of the products of elements of ``u`` and ``v`` that ``mul`` (bilinear, coefficients 1:
    a matrix product, or a derivative rule of one) adds into each element."""
    u, v = np.asarray(u, F64), np.asarray(v, F64)

    def f(c):
        return c.astype(F64)

    with np.errstate(all="ignore"):
        (up, un), (vp, vn) = ((np.nan_to_num(np.clip(_finite(w), 0.0, None)),
                               np.nan_to_num(np.clip(-_finite(w), 0.0, None))) for w in (u, v))
        pos = mul(up, vp) + mul(un, vn)
        neg = mul(up, vn) + mul(un, vp)
        # An infinite factor times a nonzero one: an infinite term (0 * inf is undefined, below).
        pos_inf = (mul(f(u == _INF), f(v > 0)) + mul(f(u == -_INF), f(v < 0)) + mul(f(u > 0), f(v == _INF))
                   + mul(f(u < 0), f(v == -_INF))) > 0
        neg_inf = (mul(f(u == _INF), f(v < 0)) + mul(f(u == -_INF), f(v > 0)) + mul(f(u > 0), f(v == -_INF))
                   + mul(f(u < 0), f(v == _INF))) > 0
        odd = [f(np.isinf(w) | np.isnan(w)) for w in (u, v)]
        undefined = (mul(f(u == 0), odd[1]) + mul(odd[0], f(v == 0)) + mul(f(np.isnan(u)), np.ones_like(v))
                     + mul(np.ones_like(u), f(np.isnan(v)))) > 0
        return Sums(np.where(pos_inf, _INF, pos), np.where(neg_inf, _INF, neg), undefined)


def plus(*sums) -> Sums:
    """The sums of several sums' terms."""
    return Sums(sum(np.asarray(s.pos, F64) for s in sums), sum(np.asarray(s.neg, F64) for s in sums),
                functools.reduce(np.logical_or, [np.asarray(s.undefined) for s in sums]))


def assert_faces(actual, expected, ulps: int, what: str, inputs: dict, sums=None, signed_zero=True,
                 floor=None):
    """``actual`` within ``ulps`` of ``expected`` elementwise; nan where nan; zeros of the same sign.

    With ``sums`` (``Sums``: each element a sum of terms), a finite ``expected`` allows ``ulps`` of
    the sum of the terms' magnitudes, plus one rounding (a face may round a term before adding
    it, the other the sum).  Where the positive or the negative terms add past the largest float,
    one order of additions may overflow and another not: only nan must meet nan there (no nan
    comes from one direction alone); where both do (inf - inf), or a term is undefined, nothing
    is compared.  ``floor``: an absolute error allowed besides (see ``subnormal_floor``)."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    a = actual.reshape(-1)
    e = expected.reshape(-1)
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    bad = nan_a != nan_e
    both = ~nan_a & ~nan_e
    if sums is None:
        d = _ulps(a, e)
        if floor is not None:
            with np.errstate(invalid="ignore", over="ignore"):
                near = np.abs(a.astype(F64) - e.astype(F64)) <= np.asarray(floor, F64).reshape(-1)
            d = np.where(near & np.isfinite(e), 0, d)
        bad |= both & (d > ulps)
    else:
        pos = np.broadcast_to(np.asarray(sums.pos, F64), actual.shape).reshape(-1)
        neg = np.broadcast_to(np.asarray(sums.neg, F64), actual.shape).reshape(-1)
        big = float(np.finfo(a.dtype).max)
        skip = np.broadcast_to(np.asarray(sums.undefined), actual.shape).reshape(-1) | ((pos > big) & (neg > big))
        bad &= ~skip
        both &= ~skip & ~(pos > big) & ~(neg > big) & ~np.isnan(pos + neg)     # (a nan term: nan must meet nan)
        eps = float(np.finfo(a.dtype).eps)
        finite = np.isfinite(e)
        with np.errstate(invalid="ignore", over="ignore"):
            err = np.abs(a.astype(F64) - e.astype(F64))
            allowed = (ulps + 1) * eps * (pos + neg) + float(np.finfo(a.dtype).smallest_subnormal)
        bad |= both & finite & ~(err <= allowed)
        bad |= both & ~finite & (a != e)
    if signed_zero:
        bad |= (a == 0) & (e == 0) & (np.signbit(a) != np.signbit(e))
    if bad.any():
        idx = np.flatnonzero(bad)[:8]
        rows = []
        for i in idx:
            parts = ", ".join(f"{k}={np.asarray(v).reshape(-1)[i]!r}" for k, v in inputs.items()
                              if np.asarray(v).size == a.size)
            extra = "" if sums is None else f" (ulps {int(_ulps(a[i:i + 1], e[i:i + 1])[0])})"
            rows.append(f"  {parts}: got {a[i]!r}, expected {e[i]!r}{extra}")
        worst = int(_ulps(a[bad & both], e[bad & both]).max()) if (bad & both).any() else 0
        raise AssertionError(f"{what}: {bad.sum()} of {a.size} elements beyond {ulps} ulps (worst {worst})\n"
                             + "\n".join(rows))


# --------------------------------------------------------------------------
# arenas with guard slots
# --------------------------------------------------------------------------

GUARD = 3


def _sentinel(dtype):
    """A quiet nan with a payload: written over, it changes bits; read by mistake, it shows as nan."""
    if dtype is F64:
        return np.array([0x7FFCDEADBEEFCAFE], np.uint64).view(F64)[0]
    return np.array([0x7FE0BEEF], np.uint32).view(F32)[0]


class Arena:
    """A flat arena of ``sizes`` parts back to back, ``GUARD`` sentinel slots before, between and
    after them; parts start as sentinels too."""

    def __init__(self, dtype, sizes):
        self.dtype = dtype
        self.off = []
        o = GUARD
        for n in sizes:
            self.off.append(o)
            o += n + GUARD
        self.a = np.full(o, _sentinel(dtype), dtype)

    def put(self, k: int, values) -> None:
        values = np.asarray(values, self.dtype).reshape(-1)
        self.a[self.off[k]:self.off[k] + values.size] = values

    def get(self, k: int, n: int) -> np.ndarray:
        return self.a[self.off[k]:self.off[k] + n].copy()

    def bits(self) -> np.ndarray:
        return self.a.view(np.int64 if self.dtype is F64 else np.int32).copy()

    def assert_only(self, before: np.ndarray, written: list, what: str) -> None:
        """Nothing but the slots of ``written`` (pairs of part and length) changed since ``before``."""
        keep = np.ones(self.a.size, bool)
        for k, n in written:
            keep[self.off[k]:self.off[k] + n] = False
        changed = np.flatnonzero(keep & (self.bits() != before))
        assert changed.size == 0, (f"{what}: a kernel wrote outside its slots, at {changed[:10].tolist()} "
                                   f"(parts at {self.off}, arena of {self.a.size}, written {written})")


# --------------------------------------------------------------------------
# the faces, as functions of arrays
# --------------------------------------------------------------------------

def numpy_unary(code: int, x: np.ndarray, fa: float, fb: float, ia: int) -> np.ndarray:
    """The numpy face of a unary row, as the front end computes it."""
    with np.errstate(all="ignore"):
        if code in E.SCALAR_FORWARD:
            y = E.SCALAR_FORWARD[code][0](x, fa)
        elif code == E.MASK:
            y = E.mask_forward(x, ia, fa, fb)
        elif code == E.CLAMP:
            y = tape.tensor(x).clamp(fa, fb).numpy()
        elif code in E.ATTR_FORWARD:
            y = E.ATTR_FORWARD[code](x, fa, fb, ia)
        else:
            y = REGISTRY[code].forward(x)
    return np.asarray(y).astype(x.dtype, copy=False)


def numpy_binary(code: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(REGISTRY[code].forward(a, b)).astype(a.dtype, copy=False)


class Row:
    """A row's attributes as derivative rules read them (those of ``tape._engine.Row``)."""

    def __init__(self, code, fa=0.0, fb=0.0, ia=0, ib=0, in_shapes=(), out_shape=(), index=None):
        self.code, self.fa, self.fb, self.ia, self.ib = code, float(fa), float(fb), int(ia), int(ib)
        self.in_shapes = [tuple(s) for s in in_shapes]
        self.out_shape = tuple(out_shape)
        self.index = index

    @property
    def keep_shape(self):
        return R.keep_shape(self.in_shapes[0], self.ia)

    @property
    def count(self):
        return float(math.prod(s for d, s in enumerate(self.in_shapes[0]) if self.ia >> d & 1))

    @property
    def log_fa(self):
        with np.errstate(all="ignore"):
            return float(np.log(self.fa))

    @property
    def out_index_list(self):
        return self.index

    @property
    def in_index_list(self):
        return self.index


def rule(code: int, dtype, g, xs, y, row: Row) -> list:
    """The first-order values of the op's derivative rule, run with tape's tensor ops as a recorded
    backward's Python path runs it (an operand broadcast along leading dims gets the rule's
    gradient summed to its shape, as there)."""
    def T(a, dt=dtype):
        return tape.tensor(np.asarray(a), dtype=TAPE_DTYPE[dt])

    ts = tuple(T(x, x.dtype.type) for x in xs)
    with tape.no_grad(), np.errstate(all="ignore"):
        outs = REGISTRY[code].vjp(T(g), ts, T(y), row)
        result = []
        for x, o in zip(xs, outs):
            if o is not None and tuple(o.shape) != x.shape:
                o = o._sum_to(x.shape)
            result.append(None if o is None else np.asarray(o.numpy()))
    return result


# --------------------------------------------------------------------------
# 1. the Python-float face against numpy (float64)
# --------------------------------------------------------------------------

_FALLBACK = (ValueError, OverflowError, ZeroDivisionError)    # the front end then runs numpy on the 0-d value


def _run_float_face(py_f, np_f, *args) -> float:
    try:
        return float(py_f(*args))
    except _FALLBACK:
        with np.errstate(all="ignore"):
            return float(np_f(*(np.float64(a) for a in args)))


def _check_float_face(code, args, what, c=None):
    """The float face over each element of ``args`` (arrays of one length) against the numpy face
    over the arrays (``c``: the Python number of an op with a number operand)."""
    ulps = _bound(code, "float")
    py_f, np_f = _float_face(code)
    extra = () if c is None else (c,)
    with np.errstate(all="ignore"):
        expected = np.asarray(np_f(*args, *extra), F64)
    got = np.array([_run_float_face(py_f, np_f, *(float(a[i]) for a in args), *extra) for i in range(args[0].size)])
    names = ("x",) if len(args) == 1 else ("a", "b")
    assert_faces(got, expected, ulps, f"{_name(code)} float face vs numpy {what}", dict(zip(names, args)),
                 signed_zero=_faces(code).signed_zero)


FLOAT_CODES = [c for c in CODES if c in UNARY or c in BINARY]


@pytest.mark.parametrize("code", FLOAT_CODES, ids=_name)
def test_float_face_on_edges(code):
    x = _grid(F64)
    if code in BINARY:
        _check_float_face(code, (np.repeat(x, x.size), np.tile(x, x.size)), "on pairs of edge values")
    elif code in E.SCALAR_FORWARD:
        for c in CONSTANTS:
            _check_float_face(code, (x,), f"with c={c!r}", c)
    else:
        _check_float_face(code, (x,), "on edge values")


@pytest.mark.parametrize("code", FLOAT_CODES, ids=_name)
@given(data=st.data())
def test_float_face_drawn(code, data):
    _bound(code, "float")
    n = data.draw(st.integers(1, 8), label="n")
    args = [data.draw(_arrays(F64, n), label="x")]
    c = None
    if code in BINARY:
        args.append(data.draw(_arrays(F64, n), label="b"))
    elif code in E.SCALAR_FORWARD:
        c = data.draw(st.one_of(st.sampled_from(CONSTANTS), st.floats(-4, 4), st.floats()), label="c")
    _check_float_face(code, tuple(args), f"on drawn values, c={c!r}", c)


@pytest.mark.xfail(strict=True, reason="defect: PyTorch's relu(-0.) is -0. (it keeps x on a tie with 0); every face "
                                       "of tape gives 0. (numpy's maximum takes the 0 on this CPU's tie; an exact "
                                       "numpy form, np.where(x < 0, 0, x), costs 10-30x on large arrays)")
def test_relu_of_negative_zero_is_negative_zero():
    x = np.array([-0.0])
    faces = [REGISTRY[E.RELU].forward(x)[0], REGISTRY[E.RELU].scalar(-0.0),
             kernel_unary_forward(E.RELU, x, 0.0, 0.0, 0)[0]]
    assert all(f == 0 and np.signbit(f) for f in faces), faces


# --------------------------------------------------------------------------
# 2. the numba forward kernels against numpy (float64, float32)
# --------------------------------------------------------------------------

def kernel_unary_forward(code, x, fa, fb, ia) -> np.ndarray:
    n = x.size
    V = Arena(x.dtype.type, [n, n])
    V.put(0, x)
    before = V.bits()
    E.unary_forward(code, n, fa, fb, ia, V.a, V.off[0], V.off[1])
    V.assert_only(before, [(1, n)], f"{_name(code)} unary_forward")
    return V.get(1, n)


def _check_unary_forward(code, dtype, x, params, what):
    ulps = _bound(code, "kernel", dtype)
    for fa, fb, ia in params:
        got = kernel_unary_forward(code, x, fa, fb, ia)
        assert_faces(got, numpy_unary(code, x, fa, fb, ia), ulps,
                     f"{_name(code)} unary_forward vs numpy, {_ids(dtype)}, fa={fa!r} fb={fb!r} ia={ia} {what}",
                     {"x": x}, signed_zero=_faces(code).signed_zero)


@pytest.mark.parametrize("dtype", DTYPES, ids=_ids)
@pytest.mark.parametrize("code", UNARY_CODES, ids=_name)
def test_kernel_unary_forward_on_edges(code, dtype):
    _check_unary_forward(code, dtype, _grid(dtype), _params(code), "on edge values")


@pytest.mark.parametrize("code", UNARY_CODES, ids=_name)
@given(data=st.data())
def test_kernel_unary_forward_drawn(code, data):
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    _bound(code, "kernel", dtype)
    x = data.draw(_arrays(dtype, data.draw(st.integers(0, 6), label="n")), label="x")
    params = [data.draw(st.sampled_from(_params(code)), label="fa, fb, ia")]
    _check_unary_forward(code, dtype, x, params, "on drawn values")


def kernel_binary_forward(code, a, b) -> np.ndarray:
    n = max(a.size, b.size)
    V = Arena(a.dtype.type, [a.size, b.size, n])
    V.put(0, a)
    V.put(1, b)
    before = V.bits()
    E.binary_forward(code, n, V.a, V.off[0], V.off[1], V.off[2], a.size, b.size)
    V.assert_only(before, [(2, n)], f"{_name(code)} binary_forward")
    return V.get(2, n).reshape(np.broadcast_shapes(a.shape, b.shape))


@pytest.mark.parametrize("dtype", DTYPES, ids=_ids)
@pytest.mark.parametrize("code", BINARY_CODES, ids=_name)
def test_kernel_binary_forward_on_edges(code, dtype):
    ulps = _bound(code, "kernel", dtype)
    x = _grid(dtype)
    a, b = np.repeat(x, x.size), np.tile(x, x.size)
    assert_faces(kernel_binary_forward(code, a, b), numpy_binary(code, a, b), ulps,
                 f"{_name(code)} binary_forward vs numpy, {_ids(dtype)}, pairs of edge values", {"a": a, "b": b},
                 signed_zero=_faces(code).signed_zero)


@st.composite
def _leading_broadcast(draw, dtype):
    """Two operands of one shape, or one repeated along the other's leading dims (the only
    broadcasting a binary row does itself)."""
    inner = draw(st.integers(1, 4), label="inner")
    outer = draw(st.integers(1, 3), label="outer")
    big = draw(_arrays(dtype, inner * outer), label="big").reshape(outer, inner)
    small = draw(_arrays(dtype, inner), label="small") if draw(st.booleans()) else \
        draw(_arrays(dtype, inner * outer), label="same").reshape(outer, inner)
    return (big, small) if draw(st.booleans()) else (small, big)


@pytest.mark.parametrize("code", BINARY_CODES, ids=_name)
@given(data=st.data())
def test_kernel_binary_forward_drawn(code, data):
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    ulps = _bound(code, "kernel", dtype)
    a, b = data.draw(_leading_broadcast(dtype), label="operands")
    ref = numpy_binary(code, a, b)
    assert_faces(kernel_binary_forward(code, a, b), ref, ulps, f"{_name(code)} binary_forward vs numpy, {_ids(dtype)}",
                 {"a": np.broadcast_to(a, ref.shape), "b": np.broadcast_to(b, ref.shape)},
                 signed_zero=_faces(code).signed_zero)


# --------------------------------------------------------------------------
# 3. the adjoint kernels (plain backward) against the rule (elementwise rows)
# --------------------------------------------------------------------------
# An input's adjoint slots start at -0.0, so a kernel's result there is exactly its contribution
# (-0.0 + d is d for every d); the rule's values are added to the same start in numpy.

def kernel_unary_adjoint(code, x, y, gy, fa, fb, ia, base) -> np.ndarray:
    """``unary_adjoint`` on guarded arenas; the input's adjoint slots after it (they held ``base``)."""
    dtype = y.dtype.type
    n = y.size
    V, G = Arena(dtype, [n, n]), Arena(dtype, [n, n])
    VO, GO = Arena(OTHER[dtype], [n]), Arena(OTHER[dtype], [n])   # the other dtype's arena
    cast = code == E.CAST
    # A cast's input lives in the other arena, at an offset where the row's own arena has guards.
    VX, GX = (VO, GO) if cast else (V, G)
    assert VX.off[0] == V.off[0]
    VX.put(0, x)
    GX.put(0, base)
    V.put(1, y)
    G.put(1, gy)
    before = [A.bits() for A in (V, G, VO, GO)]
    E.unary_adjoint(code, n, fa, fb, ia, V.a, G.a, V.off[0], V.off[1], VO.a, GO.a)
    what = f"{_name(code)} unary_adjoint ({_ids(dtype)})"
    for A, b in zip((V, G, VO, GO), before):
        A.assert_only(b, [(0, n)] if A is GX else [], what)
    return GX.get(0, n)


def _unary_cases(code, dtype):
    """(x, y, gy) over every pair of an edge value and an adjoint, per attribute set."""
    xdt = OTHER[dtype] if code == E.CAST else dtype
    xs = _grid(xdt)
    x = np.repeat(xs, len(GRADS))
    gy = np.tile(np.array(GRADS, dtype), xs.size)
    for fa, fb, ia in _params(code):
        y = x.astype(dtype) if code == E.CAST else numpy_unary(code, x, fa, fb, ia)
        yield x, y, gy, (fa, fb, ia)


@functools.lru_cache(maxsize=None)
def _starts(dtype, shape):
    """What an input's adjoint slots hold before a kernel adds to them: -0.0 (the slots then show
    the contribution exactly), or gradients from other rows."""
    n = math.prod(shape)
    return st.one_of(st.just(np.full(shape, -0.0, dtype)),
                     st.lists(st.floats(-4.0, 4.0, width=32), min_size=n, max_size=n)
                     .map(lambda v: np.array(v, dtype).reshape(shape)))


def _check_unary_adjoint(code, dtype, x, y, gy, fa, fb, ia, base, what):
    ulps = _bound(code, "adjoint", dtype)
    got = kernel_unary_adjoint(code, x, y, gy, fa, fb, ia, base)
    row = Row(code, fa, fb, ia, in_shapes=[x.shape], out_shape=y.shape)
    (d,) = rule(code, dtype, gy, (x,), y, row)
    with np.errstate(all="ignore"):
        expected = (base + d).astype(x.dtype)
    fresh = _fresh(base)
    magnitude = None if fresh else plus(*(linear_sums(lambda t: t, v) for v in (base, d)))
    # (The sign of a zero sum depends on the order of rounding steps: compared from a -0.0 start only.)
    assert_faces(got, expected, ulps,
                 f"{_name(code)} unary_adjoint vs rule, {_ids(dtype)}, fa={fa!r} fb={fb!r} ia={ia} {what}",
                 {"x": x, "y": y, "gy": gy, "start": base}, magnitude, _faces(code).signed_zero and fresh,
                 subnormal_floor(code, 0, dtype, ulps, gy, x, fa=fa))


def subnormal_floor(code, k, dtype, ulps, gy, x, b=None, fa=0.0):
    """The error allowed where a derivative goes through a power that is subnormal in the row's
    dtype (it holds fewer bits than the ulps of the result count): ``ulps`` steps of the smallest
    subnormal, times the factors applied after it (x ** (c - 1) times c and gy; a ** (b - 1) times
    b and gy).  None for the other ops."""
    if code == E.POWC:
        factor = np.abs(gy.astype(F64) * fa)
    elif code == E.POW and k == 0:
        factor = np.abs(gy.astype(F64) * np.broadcast_to(b, gy.shape).astype(F64))
    else:
        return None
    with np.errstate(all="ignore"):
        return (ulps * float(np.finfo(dtype).smallest_subnormal) * factor).reshape(-1)


def _fresh(base) -> bool:
    """Adjoint slots that start at -0.0 (which receive exactly the kernel's contribution)."""
    return bool(np.all((base == 0) & np.signbit(base)))


@pytest.mark.parametrize("dtype", DTYPES, ids=_ids)
@pytest.mark.parametrize("code", UNARY_CODES, ids=_name)
def test_kernel_unary_adjoint_on_edges(code, dtype):
    _bound(code, "adjoint", dtype)
    for x, y, gy, (fa, fb, ia) in _unary_cases(code, dtype):
        _check_unary_adjoint(code, dtype, x, y, gy, fa, fb, ia, np.full(x.size, -0.0, x.dtype), "on edge values")


@pytest.mark.parametrize("code", UNARY_CODES, ids=_name)
@given(data=st.data())
def test_kernel_unary_adjoint_drawn(code, data):
    """Drawn values, and adjoint slots that already hold a gradient (the kernel adds to it)."""
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    _bound(code, "adjoint", dtype)
    xdt = OTHER[dtype] if code == E.CAST else dtype
    n = data.draw(st.integers(1, 6), label="n")
    x = data.draw(_arrays(xdt, n), label="x")
    fa, fb, ia = data.draw(st.sampled_from(_params(code)), label="fa, fb, ia")
    y = x.astype(dtype) if code == E.CAST else numpy_unary(code, x, fa, fb, ia)
    gy = data.draw(_arrays(dtype, n), label="gy")
    base = data.draw(_starts(xdt, (n,)), label="start")
    _check_unary_adjoint(code, dtype, x, y, gy, fa, fb, ia, base, "on drawn values")


def kernel_binary_adjoint(code, a, b, y, gy, base_a, base_b, rga, rgb, alias=False):
    """``binary_adjoint`` on a guarded arena; both inputs' adjoint slots after it.  With ``alias``
    both operands are one node (``x * x``): one set of slots, returned twice."""
    dtype = y.dtype.type
    n, na, nb = y.size, a.size, b.size
    V, G = Arena(dtype, [na, nb, n]), Arena(dtype, [na, nb, n])
    V.put(0, a)
    V.put(1, b)
    V.put(2, y)
    G.put(0, base_a)
    G.put(1, base_b)
    G.put(2, gy)
    ob = V.off[0] if alias else V.off[1]
    before = V.bits(), G.bits()
    E.binary_adjoint(code, n, V.a, G.a, V.off[0], ob, V.off[2], na, nb, rga, rgb)
    what = f"{_name(code)} binary_adjoint ({_ids(dtype)}, rga={rga} rgb={rgb})"
    V.assert_only(before[0], [], what)
    G.assert_only(before[1], [(0, na)] * (rga or alias and rgb) + [(1, nb)] * (rgb and not alias), what)
    return G.get(0, na).reshape(a.shape), G.get(0 if alias else 1, nb).reshape(b.shape)


def _check_binary_adjoint(code, dtype, a, b, gy, bases, rg, what, alias=False):
    ulps = _bound(code, "adjoint", dtype)
    y = numpy_binary(code, a, b)
    gy = np.broadcast_to(gy, y.shape)
    got = kernel_binary_adjoint(code, a, b, y, gy, *bases, *rg, alias=alias)
    row = Row(code, in_shapes=[a.shape, b.shape], out_shape=y.shape)
    ds, mags = rule_with_magnitudes(code, dtype, gy, (a, b), y, row)
    if alias:
        # Both contributions land in one set of slots, a's first.
        with np.errstate(all="ignore"):
            first = bases[0] + ds[0] if rg[0] else bases[0]
            total = first + ds[1] if rg[1] else first
        m = plus(*(linear_sums(lambda t: t, v) for v, on in ((bases[0], 1), (ds[0], rg[0]), (ds[1], rg[1])) if on))
        expected, magnitudes = (total, total), (m, m)
    else:
        with np.errstate(all="ignore"):
            expected = tuple((base + d) if on else base for base, d, on in zip(bases, ds, rg))
        magnitudes = tuple(None if (m is None and _fresh(base)) else
                           plus(linear_sums(lambda t: t, base), linear_sums(lambda t: t, d) if m is None else m)
                           for base, d, m in zip(bases, ds, mags))
    inputs = {"a": np.broadcast_to(a, y.shape), "b": np.broadcast_to(b, y.shape), "gy": gy}
    for k in range(2):
        if not rg[k] and not alias:
            continue
        floor = None if got[k].shape != gy.shape else subnormal_floor(code, k, dtype, ulps, gy, a, b)
        assert_faces(got[k], np.asarray(expected[k], dtype), ulps,
                     f"{_name(code)} binary_adjoint vs rule, input {k}, {_ids(dtype)} {what}",
                     inputs, magnitudes[k], _faces(code).signed_zero and magnitudes[k] is None, floor)


def rule_with_magnitudes(code, dtype, g, xs, y, row):
    """The rule's values per input, and for an input broadcast along leading dims the sums of the
    magnitudes of the terms added into each element (None for the others)."""
    full = rule(code, dtype, g, tuple(np.broadcast_to(x, y.shape) for x in xs), y, row_full(row, y.shape))
    values = rule(code, dtype, g, xs, y, row)
    mags = []
    for x, f in zip(xs, full):
        # (x repeats along the leading dims: its elements are the blocks' columns)
        mags.append(None if f is None or x.shape == y.shape else
                    linear_sums(lambda t, x=x: t.reshape(-1, x.size).sum(0).reshape(x.shape), f))
    return values, mags


def row_full(row: Row, shape) -> Row:
    return Row(row.code, row.fa, row.fb, row.ia, row.ib, [shape] * len(row.in_shapes), shape, row.index)


@pytest.mark.parametrize("dtype", DTYPES, ids=_ids)
@pytest.mark.parametrize("code", BINARY_CODES, ids=_name)
def test_kernel_binary_adjoint_on_edges(code, dtype):
    _bound(code, "adjoint", dtype)
    x = _grid(dtype)
    a, b = np.repeat(x, x.size), np.tile(x, x.size)
    gy = np.resize(np.array(GRADS, dtype), a.size)
    start = np.full(a.size, -0.0, dtype)
    for rg in ((1, 1), (1, 0), (0, 1)):
        _check_binary_adjoint(code, dtype, a, b, gy, (start, start), rg, f"pairs of edge values, rg={rg}")


@pytest.mark.parametrize("code", BINARY_CODES, ids=_name)
@given(data=st.data())
def test_kernel_binary_adjoint_drawn(code, data):
    """Drawn values, an operand broadcast along leading dims, one node as both operands, and
    adjoint slots that already hold a gradient."""
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    _bound(code, "adjoint", dtype)
    alias = data.draw(st.booleans(), label="one node as both operands")
    if alias:
        a = data.draw(_arrays(dtype, data.draw(st.integers(1, 6), label="n")), label="x")
        b = a
    else:
        a, b = data.draw(_leading_broadcast(dtype), label="operands")
    gy = data.draw(_arrays(dtype, max(a.size, b.size)), label="gy").reshape(np.broadcast_shapes(a.shape, b.shape))
    # (One node needs a gradient or not: both operands' flags are that node's.)
    rg = (1, 1) if alias else data.draw(st.sampled_from([(1, 1), (1, 0), (0, 1)]), label="rg")
    bases = tuple(data.draw(_starts(dtype, x.shape), label="start") for x in (a, b))
    _check_binary_adjoint(code, dtype, a, b, gy, bases, rg, "on drawn values", alias)


# --------------------------------------------------------------------------
# 4. scalar_d (one-element rows) against the array adjoint kernels
# --------------------------------------------------------------------------
# The sweep calls scalar_d for a one-element float64 row; a one-element float32 row takes its
# group's array kernel, in float32 (``test_one_element_float32_row_computes_in_float32``).  Blocked
# sweeps (``tape/_blocked.py``) call scalar_d for the elements of both dtypes, in float64, then
# round.  So a float64 row must match the array kernel to the bit, and a float32 element the
# float64 array kernel run on its values, rounded once.

def sweep_one_element(code, gy, x, y, out, fa, fb) -> tuple:
    """What the sweep adds into the input slots for a one-element float64 row, and a blocked sweep
    for an element of either dtype (float64, before rounding)."""
    return E.scalar_d(code, float(gy), float(x), float(y), float(out), fa, fb)


def _one_element_reference(run_kernel, *arrays):
    """The array kernel on the values (float64 for a float32 row, as the sweep computes), rounded."""
    return [np.asarray(r, F64) for r in run_kernel(*(a.astype(F64) for a in arrays))]


@pytest.mark.parametrize("dtype", DTYPES, ids=_ids)
@pytest.mark.parametrize("code", UNARY_CODES + BINARY_CODES, ids=_name)
def test_kernel_scalar_d_on_edges(code, dtype):
    ulps = _bound(code, "scalar_d", dtype)
    signed = _faces(code).signed_zero
    if code in UNARY:
        for x, y, gy, (fa, fb, ia) in _unary_cases(code, dtype):
            start = np.full(x.size, -0.0, F64)
            (array,) = _one_element_reference(
                lambda x, y, gy: [kernel_unary_adjoint(code, x, y, gy, fa, fb, ia, start)], x, y, gy)
            one = np.array([sweep_one_element(code, gy[i], x[i], x[i], y[i], fa, fb)[0] for i in range(x.size)])
            assert_faces((-0.0 + one).astype(dtype), array.astype(dtype), ulps,
                         f"{_name(code)} scalar_d vs unary_adjoint, {_ids(dtype)}, fa={fa!r} fb={fb!r} ia={ia}",
                         {"x": x, "y": y, "gy": gy}, signed_zero=signed)
        return
    v = _grid(dtype)
    a, b = np.repeat(v, v.size), np.tile(v, v.size)
    gy = np.resize(np.array(GRADS, dtype), a.size)
    y = numpy_binary(code, a, b)
    start = np.full(a.size, -0.0, F64)
    arrays = _one_element_reference(
        lambda a, b, y, gy: kernel_binary_adjoint(code, a, b, y, gy, start, start, 1, 1), a, b, y, gy)
    pairs = np.array([sweep_one_element(code, gy[i], a[i], b[i], y[i], 0.0, 0.0) for i in range(a.size)])
    for k in range(2):
        assert_faces((-0.0 + pairs[:, k]).astype(dtype), arrays[k].astype(dtype), ulps,
                     f"{_name(code)} scalar_d vs binary_adjoint, input {k}, {_ids(dtype)}",
                     {"a": a, "b": b, "gy": gy}, signed_zero=signed)


@pytest.mark.parametrize("shape", [(), (1,)], ids=["0-d", "1-element"])
def test_one_element_float32_row_computes_in_float32(shape):
    """A backward through a one-element float32 row computes its adjoint in float32, as the array
    kernel (and numpy, and PyTorch): d tanh at 3 is ~20 float32 ulps from the float64 derivative
    rounded (cancellation in 1 - y * y)."""
    x = np.array([3.0], F32)
    y = numpy_unary(E.TANH, x, 0.0, 0.0, 0)
    gy = np.array([1.0], F32)
    array = kernel_unary_adjoint(E.TANH, x, y, gy, 0.0, 0.0, 0, np.array([-0.0], F32))
    rounded = np.float32(sweep_one_element(E.TANH, gy[0], x[0], x[0], y[0], 0.0, 0.0)[0])
    assert abs(int(rounded.view(np.int32)) - int(array.view(np.int32)[0])) > 8      # (the case tells them apart)
    for how in ("backward", "grad"):
        t = tape.tensor(x.reshape(shape), requires_grad=True)
        out = t.tanh().sum()
        if how == "backward":
            out.backward()
            g = t.grad
        else:
            (g,) = tape.autograd.grad(out, t)
        assert_faces(g.numpy().reshape(1), array, _bound(E.TANH, "adjoint", F32),
                     f"tanh: one-element float32 row ({how}) vs the float32 array kernel", {"x": x})


# --------------------------------------------------------------------------
# 5. reductions, shape ops and products: forward and adjoint kernels
# --------------------------------------------------------------------------

def shape_table(*shapes):
    """A shape table as ``ops/_index.py`` reads it (``[ndim, d0, ...]`` per shape, the 0-d shape
    at offset 0, as a tape's) and each shape's offset."""
    tab, offs = [0], []
    for s in shapes:
        offs.append(len(tab))
        tab += [len(s), *s]
    return np.array(tab, np.int64), offs


def index_list(positions):
    """A tape's index list holding ``positions`` at offset GUARD, between entries of -1 (a kernel
    reading past the list would write before its slots, into a guard)."""
    ix = np.full(positions.size + 2 * GUARD, -1, np.int64)
    ix[GUARD:GUARD + positions.size] = positions.reshape(-1)
    return ix, GUARD


def _reduced(draw, dtype, min_side=0):
    shape = draw(st.lists(st.integers(min_side, 4), max_size=4).map(tuple), label="shape")
    values = st.one_of(st.floats(-8.0, 8.0, width=64 if dtype is F64 else 32),
                       st.sampled_from([0.0, -0.0, _INF, -_INF, _NAN, 1e-40, 1e30]))
    x = np.array(draw(st.lists(values, min_size=math.prod(shape), max_size=math.prod(shape))), dtype).reshape(shape)
    mask = draw(st.integers(0, (1 << len(shape)) - 1), label="reduced dims")
    return x, mask


@pytest.mark.parametrize("code", [c for c in CODES if c in REDUCE], ids=_name)
@given(data=st.data())
def test_kernel_reduce_forward(code, data):
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    ulps = _bound(code, "kernel", dtype)
    x, mask = _reduced(data.draw, dtype)
    axes = tuple(d for d in range(x.ndim) if mask >> d & 1)
    count = max(1, math.prod(x.shape[d] for d in axes)) if code == R.MEAN else 1
    with np.errstate(all="ignore"):
        ref = np.asarray(R.reduce_forward[code](x, axis=axes, keepdims=True), dtype)
    magnitude = linear_sums(lambda t: np.add.reduce(t, axis=axes, keepdims=True) / count, x)
    stab, (sx,) = shape_table(x.shape)
    V = Arena(dtype, [x.size, ref.size])
    V.put(0, x)
    before = V.bits()
    R.reduce_forward_kernel(code, V.a, V.off[0], V.off[1], stab, sx, mask, x.size, ref.size)
    V.assert_only(before, [(1, ref.size)], f"{_name(code)} reduce_forward_kernel")
    assert_faces(V.get(1, ref.size).reshape(ref.shape), ref, ulps,
                 f"{_name(code)} reduce_forward_kernel vs numpy, {_ids(dtype)}, {x.shape} dims {axes}",
                 {"sum": ref}, magnitude, _faces(code).signed_zero)


@pytest.mark.parametrize("code", [c for c in CODES if c in REDUCE], ids=_name)
@given(data=st.data())
def test_kernel_reduce_adjoint(code, data):
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    ulps = _bound(code, "adjoint", dtype)
    x, mask = _reduced(data.draw, dtype)
    keep = R.keep_shape(x.shape, mask)
    gy = data.draw(_arrays(dtype, math.prod(keep)), label="gy").reshape(keep)
    row = Row(code, ia=mask, in_shapes=[x.shape], out_shape=keep)
    (d,) = rule(code, dtype, gy, (x,), np.zeros(keep, dtype), row)
    stab, (sx,) = shape_table(x.shape)
    V, G = Arena(dtype, [x.size, gy.size]), Arena(dtype, [x.size, gy.size])
    V.put(0, x)
    G.put(0, np.full(x.size, -0.0))
    G.put(1, gy)
    before = V.bits(), G.bits()
    R.reduce_adjoint(code, V.a, G.a, V.off[0], V.off[1], stab, sx, mask, x.size, gy.size)
    V.assert_only(before[0], [], f"{_name(code)} reduce_adjoint")
    G.assert_only(before[1], [(0, x.size)], f"{_name(code)} reduce_adjoint")
    assert_faces(G.get(0, x.size).reshape(x.shape), d, ulps,
                 f"{_name(code)} reduce_adjoint vs rule, {_ids(dtype)}, {x.shape} reduced {mask:b}",
                 {"gy": np.broadcast_to(gy, x.shape)}, signed_zero=_faces(code).signed_zero)


@st.composite
def shape_rows(draw, code, dtype):
    """(x, out shape, ia, ib, flat positions or None, numpy's value of the row) for a shape op."""
    shape = draw(st.lists(st.integers(1 if code in (S.SELECT, S.EMBED) else 0, 4), min_size=code in (
        S.SELECT, S.EMBED), max_size=4).map(tuple), label="shape")
    x = draw(_arrays(dtype, math.prod(shape)), label="x").reshape(shape)
    ia = ib = 0
    index = None
    if code == S.VIEW:
        out = draw(st.permutations(list(shape) + [1]).map(tuple), label="to")
        y = x.reshape(out)
        ia = S.V_VIEW
    elif code == S.EXPAND:
        lead = draw(st.lists(st.integers(1, 3), max_size=2).map(tuple), label="leading dims")
        out = lead + tuple(draw(st.integers(1, 3)) if s == 1 else s for s in shape)
        y = np.broadcast_to(x, out)
    elif code == S.SELECT:
        ia = draw(st.integers(0, len(shape) - 1), label="dim")
        ib = draw(st.integers(0, shape[ia] - 1), label="index")
        y = np.take(x, ib, axis=ia)
    elif code == S.EMBED:
        big = list(shape)
        ia = draw(st.integers(0, len(shape) - 1), label="dim")
        big[ia] = draw(st.integers(1, 4), label="size")
        ib = draw(st.integers(0, big[ia] - 1), label="index")
        x = np.take(x, 0, axis=ia)
        y = np.zeros(big, dtype)
        y[(slice(None),) * ia + (ib,)] = x
    elif code == S.TRANSPOSE:
        # (a 0-d tensor's t() records dims (0, 0), as Tensor.t does)
        ia = draw(st.integers(0, max(x.ndim - 1, 0)), label="d0")
        ib = draw(st.integers(0, max(x.ndim - 1, 0)), label="d1")
        y = np.swapaxes(x, ia, ib) if x.ndim else x
    elif code in (S.GATHER, S.INDEX, S.LAYOUT, S.LAYOUT_SAVED):
        out = draw(st.lists(st.integers(0, 4), max_size=2).map(tuple), label="index shape")
        positions = np.array(draw(st.lists(st.integers(0, max(x.size - 1, 0)), min_size=math.prod(out),
                                           max_size=math.prod(out))), np.int64).reshape(out)
        if x.size == 0:
            positions = np.zeros((0,), np.int64)
        ib = S.BY_INDEX if code == S.INDEX else draw(st.sampled_from([S.BY_SLICE, S.BY_SELECT]), label="kind")
        index = positions.reshape(-1)
        y = x.reshape(-1)[positions]
    elif code in (S.SCATTER, S.LAYOUT_SCATTER):     # x's elements added at positions of the out shape
        out = draw(st.lists(st.integers(1, 4), max_size=3).map(tuple), label="out shape")
        index = np.array(draw(st.lists(st.integers(0, math.prod(out) - 1), min_size=x.size, max_size=x.size)),
                         np.int64)
        y = np.zeros(math.prod(out), dtype)
        np.add.at(y, index, x.reshape(-1))
        y = y.reshape(out)
    elif code == S.TRIANGLE:
        shape = shape + (1, 2)[:2 - len(shape)] if len(shape) < 2 else shape
        x = draw(_arrays(dtype, math.prod(shape)), label="x").reshape(shape)
        ia = draw(st.integers(-4, 4), label="diagonal")
        ib = draw(st.integers(0, 1), label="upper")
        y = (np.triu if ib else np.tril)(x, ia)
    else:
        raise AssertionError(f"no rows for {_name(code)}: add its case to shape_rows")
    return np.array(x, order="C"), np.array(y, order="C"), ia, ib, index


SHAPE_CODES = [c for c in CODES if c in SHAPE]


def _run_shape_kernel(kernel, code, dtype, x, y, ia, ib, index, src, dst, base=None):
    """Run shape_forward (src x -> dst y) or shape_adjoint (src gy -> dst gx) on a guarded arena."""
    stab, (sx, sy) = shape_table(x.shape, y.shape)
    ix, o = index_list(np.zeros(0, np.int64) if index is None else index)
    A = Arena(dtype, [x.size, y.size])
    A.put(0 if kernel is S.shape_forward else 1, src)
    if base is not None:
        A.put(0, base)
    before = A.bits()
    ia_ = o if code in (S.GATHER, S.INDEX, S.SCATTER, S.LAYOUT, S.LAYOUT_SAVED, S.LAYOUT_SCATTER) else ia
    kernel(code, A.a, A.off[0], A.off[1], stab, ix, sx, sy, ia_, ib, x.size, y.size)
    part = 1 if kernel is S.shape_forward else 0
    A.assert_only(before, [(part, dst.size)], f"{_name(code)} {kernel.__name__}")
    return A.get(part, dst.size).reshape(dst.shape)


@pytest.mark.parametrize("code", SHAPE_CODES, ids=_name)
@given(data=st.data())
def test_kernel_shape_forward(code, data):
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    ulps = _bound(code, "kernel", dtype)
    x, y, ia, ib, index = data.draw(shape_rows(code, dtype), label="row")
    got = _run_shape_kernel(S.shape_forward, code, dtype, x, y, ia, ib, index, x, y)
    assert_faces(got, y, ulps, f"{_name(code)} shape_forward vs numpy, {_ids(dtype)}, {x.shape} -> {y.shape} "
                 f"ia={ia} ib={ib} index={index}", {"y": y}, signed_zero=_faces(code).signed_zero)


@pytest.mark.parametrize("code", SHAPE_CODES, ids=_name)
@given(data=st.data())
def test_kernel_shape_adjoint(code, data):
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    ulps = _bound(code, "adjoint", dtype)
    x, y, ia, ib, index = data.draw(shape_rows(code, dtype), label="row")
    gy = data.draw(_arrays(dtype, y.size), label="gy").reshape(y.shape)
    row = Row(code, ia=ia, ib=ib, in_shapes=[x.shape], out_shape=y.shape, index=index)
    (d,) = rule(code, dtype, gy, (x,), y, row)
    # From +0.0, as in an arena: where the rule adds zeros (a scatter's, an embed's), the kernel
    # adds nothing, which only a -0.0 start would tell apart.
    gx = _run_shape_kernel(S.shape_adjoint, code, dtype, x, y, ia, ib, index, gy, x, np.zeros(x.size))
    magnitude = None
    if code in (S.EXPAND, S.GATHER, S.INDEX, S.LAYOUT, S.LAYOUT_SAVED):  # several adjoint elements may sum into one
        magnitude = linear_sums(lambda t: rule(code, F64, t, (x.astype(F64),), y, row)[0], gy)
    assert_faces(gx, 0.0 + d, ulps, f"{_name(code)} shape_adjoint vs rule, {_ids(dtype)}, {x.shape} -> {y.shape} "
                 f"ia={ia} ib={ib} index={index}", {"gx": d}, magnitude, _faces(code).signed_zero)


@st.composite
def products(draw, dtype, cases=(L.DOT, L.MV, L.MM)):
    case = draw(st.sampled_from(cases), label="case")
    m, k, n = (draw(st.integers(1, 5), label=s) for s in "mkn")
    sa = {L.DOT: (k,), L.MV: (m, k), L.MM: (m, k), L.BATCHED: (2, m, k)}[case]
    sb = {L.DOT: (k,), L.MV: (k,), L.MM: (k, n), L.BATCHED: (k, n)}[case]
    a = draw(_arrays(dtype, math.prod(sa)), label="a").reshape(sa)
    b = draw(_arrays(dtype, math.prod(sb)), label="b").reshape(sb)
    return case, a, b





@given(data=st.data())
def test_kernel_matmul_forward(data):
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    ulps = _bound(L.MATMUL, "kernel", dtype)
    case, a, b = data.draw(products(dtype), label="product")
    with np.errstate(all="ignore"):
        ref = np.matmul(a, b)
    m = a.shape[0] if a.ndim == 2 else 1
    k = a.shape[-1]
    n = b.shape[1] if b.ndim == 2 else 1
    V = Arena(dtype, [a.size, b.size, ref.size])
    V.put(0, a)
    V.put(1, b)
    before = V.bits()
    L.matmul_forward(V.a, V.off[0], V.off[1], V.off[2], m, k, n)
    V.assert_only(before, [(2, ref.size)], "matmul_forward")
    assert_faces(V.get(2, ref.size).reshape(ref.shape), ref, ulps, f"matmul_forward vs numpy, {_ids(dtype)}, "
                 f"{a.shape} @ {b.shape}", {"y": ref}, product_sums(np.matmul, a, b), _faces(L.MATMUL).signed_zero)


def _product_adjoints(code, dtype, case, a, b, gy, rg):
    """The rule's adjoints of a product and the magnitudes of their terms."""
    row = Row(code, ia=case, in_shapes=[a.shape, b.shape], out_shape=gy.shape)
    with np.errstate(all="ignore"):
        y = np.matmul(a, b)
    d = rule(code, dtype, gy, (a, b), y, row)
    a64, b64 = a.astype(F64), b.astype(F64)
    sums = (product_sums(lambda u, v: rule(code, F64, u, (a64, v), y, row)[0], gy, b64),
            product_sums(lambda u, v: rule(code, F64, u, (v, b64), y, row)[1], gy, a64))
    return [(di, mi) if on else None for di, mi, on in zip(d, sums, rg)]


@given(data=st.data())
def test_kernel_matmul_adjoint(data):
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    code = L.MATMUL
    ulps = _bound(code, "adjoint", dtype)
    case, a, b = data.draw(products(dtype), label="product")
    with np.errstate(all="ignore"):
        y = np.matmul(a, b)
    gy = data.draw(_arrays(dtype, y.size), label="gy").reshape(y.shape)
    rg = data.draw(st.sampled_from([(1, 1), (1, 0), (0, 1)]), label="rg")
    expected = _product_adjoints(code, dtype, case, a, b, gy, rg)
    stab, (sa, sb) = shape_table(a.shape, b.shape)
    V, G = Arena(dtype, [a.size, b.size, y.size]), Arena(dtype, [a.size, b.size, y.size])
    V.put(0, a)
    V.put(1, b)
    V.put(2, y)
    G.put(0, np.full(a.size, -0.0))
    G.put(1, np.full(b.size, -0.0))
    G.put(2, gy)
    before = V.bits(), G.bits()
    L.matmul_adjoint(V.a, G.a, V.off[0], V.off[1], V.off[2], stab, sa, sb, case, rg[0], rg[1])
    V.assert_only(before[0], [], "matmul_adjoint")
    G.assert_only(before[1], [(k, x.size) for k, x in enumerate((a, b)) if rg[k]], "matmul_adjoint")
    for k, x in enumerate((a, b)):
        if expected[k] is not None:
            d, m = expected[k]
            assert_faces(G.get(k, x.size).reshape(x.shape), d, ulps, f"matmul_adjoint vs rule, input {k}, "
                         f"{_ids(dtype)}, {a.shape} @ {b.shape}", {"g": d}, m, _faces(code).signed_zero)


@given(data=st.data())
def test_blas_product_adjoint(data):
    """MATMUL_BLAS runs its adjoint in Python (``py_adjoint``, numpy's BLAS) instead of a kernel;
    it too must match the rule, into fresh or accumulated adjoints."""
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    code = L.MATMUL_BLAS
    ulps = _bound(code, "adjoint", dtype)
    case, a, b = data.draw(products(dtype, (L.DOT, L.MV, L.MM, L.BATCHED)), label="product")
    with np.errstate(all="ignore"):
        y = np.matmul(a, b)
    gy = data.draw(_arrays(dtype, y.size), label="gy").reshape(y.shape)
    rg = data.draw(st.sampled_from([(1, 1), (1, 0), (0, 1)]), label="rg")
    fresh = data.draw(st.booleans(), label="fresh")
    expected = _product_adjoints(code, dtype, case, a, b, gy, rg)
    grads = [np.zeros(x.shape, dtype) if fresh else np.full(x.shape, -0.0, dtype) if on else None
             for x, on in zip((a, b), rg)]
    with np.errstate(all="ignore"):
        REGISTRY[code].py_adjoint(Row(code, ia=case), a, b, gy, grads[0], grads[1], 3 if fresh else 0)
    for k in range(2):
        if expected[k] is not None:
            d, m = expected[k]
            assert_faces(grads[k], d, ulps, f"py_adjoint vs rule, input {k}, {_ids(dtype)}, {a.shape} @ {b.shape}",
                         {"g": d}, m, _faces(code).signed_zero)


# --------------------------------------------------------------------------
# 6. the kernel tests under NUMBA_BOUNDSCHECK=1 (thorough profile)
# --------------------------------------------------------------------------

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _boundscheck_cache() -> str:
    """A numba cache for kernels compiled with bounds checks, apart from the normal one (numba
    reads NUMBA_BOUNDSCHECK at import, and its cache does not tell the two builds apart), named
    after the kernels' sources so that a changed kernel is compiled afresh; older ones are dropped."""
    digest = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(_ROOT, "tape", "*.py")) + glob.glob(os.path.join(_ROOT, "ops", "*.py"))):
        with open(path, "rb") as f:
            digest.update(f.read())
    base = os.path.join(tempfile.gettempdir(), "tape-numba-boundscheck-")
    path = base + digest.hexdigest()[:16]
    for old in glob.glob(base + "*"):
        if old != path:
            shutil.rmtree(old, ignore_errors=True)
    return path


@pytest.mark.skipif(os.environ.get("TAPE_HYPOTHESIS_PROFILE") != "thorough",
                    reason="thorough profile only: every kernel compiled again with bounds checks")
@pytest.mark.skipif(os.environ.get("NUMBA_BOUNDSCHECK") is not None, reason="running under NUMBA_BOUNDSCHECK")
def test_kernels_under_boundscheck():
    """Every kernel test of this file again, with numba's bounds checks compiled in: an index
    past an array's end (a kernel's own temporaries included, which guard slots cannot see)
    raises IndexError instead of reading or writing memory."""
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=_boundscheck_cache(),
               TAPE_HYPOTHESIS_PROFILE="thorough")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", os.path.abspath(__file__),
                          "-k", "kernel"], cwd=_ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, f"kernel tests under NUMBA_BOUNDSCHECK=1:\n{run.stdout[-8000:]}\n{run.stderr[-2000:]}"
    assert " passed" in run.stdout and "IndexError" not in run.stdout
