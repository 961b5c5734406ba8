"""Property-based gradient tests for tape's differentiable ops.

For every op in ``OPS`` (name -> Op(fn, input strategy)) hypothesis draws
inputs (0-d .. 3-d shapes, broadcasting pairs, per-op value domains that
include edge values), a dtype (float64 / float32) and which inputs require
grad.  The scalar loss is ``sum_k (out_k * W_k).sum()`` with fixed random,
non-uniform weights ``W_k``, and:

* ``test_grad_matches_finite_differences``: ``x.grad`` after
  ``loss.backward()`` agrees with float64 central finite differences of the
  op's forward (evaluated through tape under ``tape.no_grad()`` on float64
  copies of the inputs).
* ``test_second_derivative_matches_finite_differences``: the Hessian-vector
  product obtained by double backward (``create_graph=True``) agrees with
  finite differences of ``x -> sum_i (grad_i(loss)(x) * v_i).sum()``.
* ``test_backward_modes_agree``: ``backward()``, ``autograd.grad`` and their
  ``create_graph=True`` variants give the same first gradient.

Op functions take the module as first argument (``fn(M, *tensors)``) so that
``tests/test_vs_torch.py`` can run exactly the same table against PyTorch.

Finite differences: central, step 1e-6 * max(|x|, 1) (purely relative for
domains that approach a singularity at 0), differencing the output tensors
before contracting with the weights.  Only when that disagrees is a five-point
stencil (step ~1e-4, O(h^4)) computed, and it decides.  Kinks and ties are kept
at least 1e-2 away from the inputs.

Tolerances: float64 rtol=1e-5, atol=1e-6; float32 (tape computes in float32,
the reference in float64 on the float64 version of the float32-rounded inputs
and weights) rtol=1e-3, atol=1e-3.  atol is scaled by max(1, sum of |terms|
summed into the entry), so large broadcast/reduction sums do not fail on
rounding alone.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
import re
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tape


# --------------------------------------------------------------------------
# value domains
# --------------------------------------------------------------------------

MARGIN = 1e-2  # minimal distance from kinks / ties (> 2 * largest FD step)
MAX_SIDE = 4
MAX_DIMS = 3


def _avoid(v: float, points, margin: float = MARGIN) -> float:
    """Move ``v`` away (by 2*margin steps) from every point in ``points``."""
    for _ in range(len(points) + 2):
        bad = [p for p in points if abs(v - p) < margin]
        if not bad:
            return v
        p = bad[0]
        v = p + 2 * margin if v >= p else p - 2 * margin
    return v


@dataclass(frozen=True)
class Dom:
    """Union of closed intervals, optional edge values, points to avoid."""

    intervals: tuple
    edges: tuple = ()
    avoid: tuple = ()
    # finite-difference step is FD_EPS * max(|x|, fd_floor): an absolute
    # step of ~1e-6 by default, a purely relative one for domains that
    # approach a singularity at 0 (log, sqrt, ...)
    fd_floor: float = 1.0

    def elements(self):
        parts = [
            st.floats(lo, hi, allow_nan=False, allow_infinity=False)
            for lo, hi in self.intervals
        ]
        if self.edges:
            parts.append(st.sampled_from(self.edges))
        s = st.one_of(*parts)
        if self.avoid:
            avoid = self.avoid
            s = s.map(lambda v: _avoid(v, avoid))
        return s

    def avoiding(self, points) -> "Dom":
        return Dom(self.intervals, self.edges, tuple(self.avoid) + tuple(points), self.fd_floor)


def dom(*intervals, edges=(), avoid=(), fd_floor=1.0):
    return Dom(tuple(intervals), tuple(edges), tuple(avoid), fd_floor)


REAL = dom((-10.0, 10.0), edges=(0.0, 1.0, -1.0, 10.0, -10.0, 0.5, -3.25))
NONZERO = dom((-10.0, -1e-2), (1e-2, 10.0), edges=(1e-2, -1e-2, 1.0, -1.0, 10.0, -10.0))
POSITIVE = dom((1e-4, 1e4), edges=(1e-4, 1e-3, 0.1, 1.0, 2.0, 1e3, 1e4), fd_floor=1e-300)
EXP = dom((-80.0, 80.0), edges=(-80.0, 80.0, 0.0, -1e-8, 50.0, -50.0))
TRIG = dom((-20.0, 20.0), edges=(0.0, math.pi / 2, -math.pi, math.pi, 20.0, -20.0))
# tan: keep at least ~0.17 away from the poles at +-pi/2 and 3*pi/2
TAN = dom((-1.4, 1.4), (1.75, 4.5), edges=(0.0, 1.4, -1.4, math.pi, 1.75, 4.5))
SQUASH = dom((-30.0, 30.0), edges=(0.0, 30.0, -30.0, 5.0, -5.0, 1e-3))
KINK0 = REAL.avoiding((0.0,))
POW_BASE = dom((0.05, 5.0), edges=(0.05, 1.0, 5.0, 0.5, 2.0))
POW_EXP = dom((-3.0, 3.0), edges=(0.0, 1.0, 2.0, -1.0, 3.0, -3.0, 0.5))
RPOW_EXP = dom((-30.0, 30.0), edges=(0.0, 30.0, -30.0, 1.0, -1.0))
CLAMP_X = dom((-2.0, 2.0), edges=(0.0, 2.0, -2.0, 0.5, 1.0, -1.0))


# --------------------------------------------------------------------------
# input strategies (each yields a tuple of float64 numpy arrays)
# --------------------------------------------------------------------------


def shapes(min_dims=0, max_dims=MAX_DIMS):
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=MAX_SIDE
    )


def array(shape, d: Dom):
    return _array(tuple(int(n) for n in shape), d)


# One strategy per shape and domain: the flatmaps below ask for one per draw, and building and
# validating a fresh hnp.arrays cost ~0.5 ms of each example (a strategy is immutable: the same
# choices draw the same arrays, so the examples are those drawn without the cache).
@functools.lru_cache(maxsize=4096)
def _array(shape: tuple, d: Dom):
    return hnp.arrays(np.float64, shape, elements=d.elements())


def unary(d: Dom, min_dims=0):
    return shapes(min_dims).flatmap(lambda s: st.tuples(array(s, d)))


def _order(a, b, swap):
    return (b, a) if swap else (a, b)


def broadcast_pairs():
    """Pairs of shapes that broadcast against each other."""
    mbs = hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=MAX_DIMS, min_side=1, max_side=MAX_SIDE
    ).map(lambda b: tuple(b.input_shapes))
    same = shapes().map(lambda s: (s, s))
    scalar_vs_nd = st.tuples(shapes(), st.booleans()).map(
        lambda t: ((), t[0]) if t[1] else (t[0], ())
    )
    # the same shape with some dimensions set to 1, on either side
    def with_ones(s):
        mask = st.lists(st.booleans(), min_size=len(s), max_size=len(s))
        return st.tuples(mask, st.booleans()).map(
            lambda t: _order(s, tuple(1 if m else n for n, m in zip(s, t[0])), t[1])
        )

    ones = shapes(min_dims=1).flatmap(with_ones)
    return st.one_of(mbs, same, scalar_vs_nd, ones)


def binary(da: Dom, db: Dom | None = None):
    db = da if db is None else db
    return broadcast_pairs().flatmap(
        lambda ss: st.tuples(array(ss[0], da), array(ss[1], db))
    )


def binary_no_ties(d: Dom):
    """Broadcasting pair whose elements never tie (for maximum/minimum)."""

    def second(ss, a):
        return array(ss[1], d.avoiding(tuple(float(v) for v in np.unique(a))))

    return broadcast_pairs().flatmap(
        lambda ss: array(ss[0], d).flatmap(
            lambda a: st.tuples(st.just(a), second(ss, a))
        )
    )


def matmul_inputs(kind: str, d: Dom = REAL):
    side = st.integers(1, MAX_SIDE)

    def build(nmp):
        n, m, p = nmp
        a, b = {
            "dot": ((n,), (n,)),
            "mm": ((m, n), (n, p)),
            "mv": ((m, n), (n,)),
            "vm": ((n,), (n, p)),
        }[kind]
        return st.tuples(array(a, d), array(b, d))

    return st.tuples(side, side, side).flatmap(build)


def joined(count: int, dim: int, d: Dom = REAL, same: bool = False):
    """``count`` arrays of one shape except along ``dim`` (the same shape when ``same``)."""

    def build(base):
        axis = dim % len(base)
        sizes = st.just([base[axis]] * count) if same else st.lists(
            st.integers(1, MAX_SIDE), min_size=count, max_size=count)
        return sizes.flatmap(lambda ns: st.tuples(*(
            array(base[:axis] + (n,) + base[axis + 1:], d) for n in ns)))

    return shapes(min_dims=max(1, dim + 1 if dim >= 0 else -dim)).flatmap(build)


WHERE_X = REAL.avoiding((0.3,))
FMOD_A = dom((5.2, 5.8), (-5.8, -5.2))
FMOD_B = dom((2.0, 2.5), (-2.5, -2.0))


def _spread_index(shape, dim):
    """An index for ``gather`` along ``dim`` over ``shape`` that repeats and skips positions."""
    shape = tuple(shape)
    return (np.arange(int(np.prod(shape))).reshape(shape) * 7 + 1) % shape[dim]


# Norms: away from 0, where float32 rounding of the rule's cancelling terms (a one-element slice)
# is compared with an exact zero.
NORM_X = dom((-3.0, -0.5), (0.5, 3.0), edges=(0.5, -0.5, 1.0, -1.0, 3.0))
# Products: exact zeros (the rule's other branch) but no tiny values, where y / x loses every digit.
PROD_X = dom((-2.0, -0.1), (0.1, 2.0), edges=(0.0, 1.0, -1.0, 0.5))
# Factors of a product without zeros, small enough that torch's rounding in its double backward stays
# inside the comparison's bounds (products of factors near 10 left torch's noise of 1e-12 where tape is 0).
PROD_NONZERO = dom((-2.0, -0.1), (0.1, 2.0), edges=(1.0, -1.0, 0.5, -0.1, 2.0))


def distinct_abs(min_dims=0):
    """Arrays whose magnitudes are distinct (at least 0.375 apart) and at least 0.5: no ties and
    no kink for the infinite norms."""
    def build(s):
        n = int(np.prod(s))
        signs = st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n)
        return st.tuples(st.permutations(range(n)), signs).map(
            lambda t: (((np.array(t[0], np.float64) * 0.375 + 0.5) * np.array(t[1])).reshape(s),))
    return shapes(min_dims).flatmap(build)


def wide(min_dims=0):
    """Distinct values (as ``distinct``) with at least 2 elements along every dim: a spread with
    degrees of freedom left, away from std's kink where all values are equal."""
    return distinct(min_dims, min_side=2)


def distinct(min_dims=0, min_side=1):
    """Arrays of distinct values (at least 0.25 apart, in a random order): no ties for extrema."""
    def build(s):
        n = int(np.prod(s))
        return st.tuples(st.permutations(range(n)), st.floats(-3.0, 3.0)).map(
            lambda t: (np.array(t[0], np.float64).reshape(s) * 0.375 + t[1],))
    return hnp.array_shapes(min_dims=min_dims, max_dims=MAX_DIMS, min_side=min_side,
                            max_side=MAX_SIDE).flatmap(build)


# --------------------------------------------------------------------------
# the op table
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    fn: Callable  # fn(M, *tensors) -> Tensor | tuple[Tensor, ...]
    inputs: object  # hypothesis strategy of tuple[np.ndarray, ...]
    # True when gradient entries are sums of several terms (reductions,
    # matmul); only used by test_vs_torch for float32 tolerance scaling.
    mixing: bool = False
    # optional different input strategy for the second-derivative test
    second_inputs: object = None
    fd_floor: tuple = (1.0, 1.0)  # per input, see Dom.fd_floor
    # PyTorch's backward op when its gradient has no derivative there ("hardsigmoid_backward"): the
    # gradient is recorded behind a NotImplemented node, and the second-order tests check that a
    # backward through it raises PyTorch's error instead of checking values.
    no_second: str = ""

    def _replace_second(self, strategy) -> "Op":
        return dataclasses.replace(self, second_inputs=strategy)

    def _first_order_only(self, backward: str) -> "Op":
        return dataclasses.replace(self, no_second=backward)

    def raises_at_second_order(self):
        """The check of a backward through this op's recorded gradient (an op with ``no_second``)."""
        return pytest.raises(RuntimeError, match=re.escape(f"derivative for aten::{self.no_second} is not implemented"))


# PyTorch masks d(base)/(exponent == 0) to zero with masked_fill, which also
# zeroes the mixed second derivative d^2/(d base d exponent) at exponent == 0
# exactly (mathematically it is 1/base).  tape must behave like PyTorch, so the
# second-derivative test keeps exponents away from exactly 0.
POW_TT_2ND = binary(POW_BASE, POW_EXP.avoiding((0.0,)))


def _layer_norm(M, x, w):
    return M.nn.functional.layer_norm(x, x.shape[-1:], w, w * 0.5) * w


def _u(fn, d=REAL, min_dims=0, mixing=False):
    return Op(fn, unary(d, min_dims), mixing, fd_floor=(d.fd_floor,))


def _ud(fn, min_dims, max_dims, d=REAL):
    """One input of ``min_dims`` to ``max_dims`` dims."""
    return Op(fn, shapes(min_dims, max_dims).flatmap(lambda s: st.tuples(array(s, d))), fd_floor=(d.fd_floor,))


def _b(fn, da=REAL, db=None):
    db = da if db is None else db
    return Op(fn, binary(da, db), True, fd_floor=(da.fd_floor, db.fd_floor))


def _mm(fn, kind):
    return Op(fn, matmul_inputs(kind), True)


def _slice_inverse(M, s):
    """``s`` seen again from its slice ``s[1:]`` (a view of its storage)."""
    return M.slice_inverse(s[1:], s, 0, 1)


def _distinct(arrays: tuple) -> tuple:
    """The arrays with their values replaced by distinct ones in the same order, 0.3 apart (no ties
    within finite-difference steps, for amax/amin)."""
    flat = np.concatenate([a.reshape(-1) for a in arrays])
    ranks = np.argsort(np.argsort(flat, kind="stable"), kind="stable")
    values = (ranks - len(flat) / 2) * 0.3 + 0.01
    out, k = [], 0
    for a in arrays:
        out.append(values[k:k + a.size].reshape(a.shape))
        k += a.size
    return tuple(out)


def _same_shape(da: Dom, db: Dom, min_dims: int = 0):
    """Two inputs of one drawn shape, values in ``da`` and ``db``."""
    return shapes(min_dims).flatmap(lambda s: st.tuples(array(s, da), array(s, db)))


def _paired(second, min_dims: int = 1, d: Dom = REAL):
    """An input of a drawn shape ``s`` and a second one of shape ``second(s)`` (values in ``d``)."""
    return shapes(min_dims).flatmap(lambda s: st.tuples(array(s, d), array(second(s), d)))


# ---- grid sampling: normalized coordinates off the pixel centres of a side of 3 (align_corners=True)
GRID = dom((-0.9, -0.1), (0.1, 0.9), (1.1, 1.4), (-1.4, -1.1))
GRID_NEAREST = dom((-0.9, -0.6), (-0.4, -0.1), (0.1, 0.4), (0.6, 0.9), (1.1, 1.4))   # (and off the halves)


# ---- linalg: strategies and well-conditioned inputs built inside the op functions
LA = dom((-1.0, 1.0), edges=(0.0, 1.0, -1.0, 0.5))


def la_matrices(count: int = 1, square: bool = True, rhs: str = "", max_batch: int = 1):
    """``count`` matrices (a batch of 0 or 1 dims, sides 1..3, |entries| <= 1) of one shape, and a
    right-hand side: ``"mat"`` (n x k), ``"vec"`` (n), ``"right"`` (k x n), ``"bcast"`` (n x k,
    unbatched)."""
    side = st.integers(1, 3)
    batch = hnp.array_shapes(min_dims=0, max_dims=max_batch, min_side=0, max_side=2)

    def build(t):
        b, m, n, k = t
        shape = b + ((n, n) if square else (m, n))
        shapes_ = [shape] * count
        shapes_ += {"": [], "mat": [b + (n, k)], "vec": [b + (n,)], "right": [b + (k, n)],
                    "bcast": [(n, k)]}[rhs]
        return st.tuples(*(array(s, LA) for s in shapes_))

    return st.tuples(batch, side, side, side).flatmap(build)


def _eye(M, x, scale=1.0):
    n = x.shape[-1]
    return M.eye(n, dtype=x.dtype) * scale


def _spd(M, x):
    """x x^T + n I: symmetric positive definite, condition number at most n + 1."""
    return x @ x.mT + _eye(M, x, x.shape[-1])


def _shifted(M, x):
    """x + (n + 1) I: diagonally dominant (|entries| <= 1), far from singular."""
    return x + _eye(M, x, x.shape[-1] + 1.0)


def _gapped(M, x):
    """x (+ x^T when square) plus a diagonal 10, 20, 30 ...: eigen/singular values at least ~2
    apart and away from 0 (the rules divide by their gaps)."""
    m, n = x.shape[-2:]
    steps = np.zeros((m, n))
    k = min(m, n)
    steps[range(k), range(k)] = 10.0 * np.arange(1, k + 1)
    base = x + x.mT if m == n else x
    return base + M.tensor(steps, dtype=x.dtype)


def _ramped(M, x):
    """x + 2 + 4 * (0, 1, 2 ...) in row-major order: positive, with distinct row and column sums
    (no kink of abs, no tie of the induced 1 and inf norms)."""
    m, n = x.shape[-2:]
    return x + M.tensor(2.0 + 4.0 * np.arange(m * n).reshape(m, n), dtype=x.dtype)


def _reduced(u, s, vh):
    """The parts of full SVD factors that are unique (the rest completes a basis at LAPACK's choice)."""
    k = s.shape[-1]     # (a slice of everything is AliasBackward0 in PyTorch: the indexing family's matter)
    return u if u.shape[-1] == k else u[..., :k], s, vh if vh.shape[-2] == k else vh[..., :k, :]


def _signless(outs):
    """Squares of eigen/singular vectors (and values), of QR's factors: their signs are LAPACK's
    choice, which can flip under a finite-difference step."""
    return tuple(t * t for t in outs)


def _quiet(fn):
    def call(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    return call


def _vectors(n_inputs: int = 2, size: int = 0, batch: bool = False):
    """1-D vectors of one length (``size`` if given), or equal batches of 3-vectors along dim 0."""
    if batch:
        return hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3).flatmap(
            lambda s: st.tuples(*(array((3,) + s, LA) for _ in range(n_inputs))))
    # (no empty vectors: the compiled recorder names the gradient of a size-0 product ViewBackward0 where
    # the Python one has PyTorch's MulBackward0: an engine matter, not vdot's)
    n = st.just(size) if size else st.integers(1, MAX_SIDE)
    return n.flatmap(lambda k: st.tuples(*(array((k,), REAL) for _ in range(n_inputs))))


def _chain():
    """A chain of 3 matrices (p x q, q x r, r x s)."""
    side = st.integers(1, 3)
    return st.tuples(side, side, side, side).flatmap(
        lambda t: st.tuples(array((t[0], t[1]), REAL), array((t[1], t[2]), REAL), array((t[2], t[3]), REAL)))


def _added(kind: str):
    """``(input, factor, factor)`` of the addmm family, sides 0..3, the input with or without its
    leading dim (broadcast)."""
    side = st.integers(0, 3)

    def build(t):
        b, n, k, p, drop = t
        inp, m1, m2 = {"mm": ((n, p), (n, k), (k, p)), "mv": ((n,), (n, k), (k,)), "r": ((n, k), (n,), (k,)),
                       "bmm": ((n, p), (b, n, k), (b, k, p)), "baddbmm": ((b, n, p), (b, n, k), (b, k, p))}[kind]
        # (an empty matrix-vector product keeps its input's shape in PyTorch: not broadcast then)
        drop = 0 if kind == "mv" and not n * k else drop
        return st.tuples(array(inp[drop:], REAL), array(m1, REAL), array(m2, REAL))

    return st.tuples(side, side, side, side, st.integers(0, 1)).flatmap(build)


def _contracted(kind: str):
    """Operands of a contraction (sides 0..3, size 0 included)."""
    side = st.integers(0, 3)

    def build(t):
        b, n, k, p = t
        shapes_ = {"mm": [(n, k), (k, p)], "batch": [(b, n, k), (k, p)], "diag": [(n, n, k)],
                   "chain": [(n, k), (k, p), (p, b)], "td2": [(n, k, p), (k, p, b)], "td_lists": [(k, n), (b, k, n)],
                   "inner": [(n, k), (b, p, k)], "bcast": [(b, 1, n, k), (2, k, p)], "vec_batch": [(k,), (b, k, p)],
                   "batch_vec": [(b, n, k), (k,)], "mat_batch": [(n, k), (b, k, p)]}[kind]
        return st.tuples(*(array(s, REAL) for s in shapes_))

    return st.tuples(side, side, side, side).flatmap(build)
def _mutual(*doms: Dom, full_first: bool = False):
    """Arrays of mutually broadcastable shapes, one per domain; with ``full_first`` the first has the
    broadcast shape (PyTorch's clamp with tensor bounds does not reduce the input's gradient)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=len(doms), min_dims=0, max_dims=MAX_DIMS, min_side=1,
                                             max_side=MAX_SIDE).flatmap(
        lambda b: st.tuples(*(array(b.result_shape if full_first and k == 0 else s, d)
                              for k, (s, d) in enumerate(zip(b.input_shapes, doms)))))


def _mutual_op(fn, *doms: Dom, full_first: bool = False):
    return Op(fn, _mutual(*doms, full_first=full_first), True, fd_floor=tuple(d.fd_floor for d in doms))


# clamp with tensor bounds: inputs kept away from the bounds' ranges (no ties within a step)
CLAMP_OUT = dom((-10.0, -3.5), (-0.5, 0.5), (3.5, 10.0), edges=(0.0, -10.0, 10.0, 4.0, -4.0))
CLAMP_LO = dom((-3.0, -1.0), edges=(-1.0, -3.0, -2.0))
CLAMP_HI = dom((1.0, 3.0), edges=(1.0, 3.0, 2.0))
DIVISOR = dom((0.5, 3.0), (-3.0, -0.5), edges=(1.0, -1.0, 0.5, -0.5, 3.0))
# the gamma family: positive, and between the poles at the negative integers (kept 0.2 away)
GAMMA_ARG = dom((0.2, 10.0), (-2.8, -2.2), (-0.8, -0.2), edges=(1.0, 2.0, 0.5, -0.5, -2.5, 10.0))


OPS: dict[str, Op] = {
    # ---- binary arithmetic with broadcasting
    "add": _b(lambda M, x, y: x + y),
    "add_fn": _b(lambda M, x, y: M.add(x, y)),
    "sub": _b(lambda M, x, y: x - y),
    "sub_fn": _b(lambda M, x, y: M.sub(x, y)),
    "mul": _b(lambda M, x, y: x * y),
    "mul_fn": _b(lambda M, x, y: M.mul(x, y)),
    "div": _b(lambda M, x, y: x / y, REAL, NONZERO),
    "div_fn": _b(lambda M, x, y: M.div(x, y), REAL, NONZERO),
    "pow_tt": _b(lambda M, x, y: x**y, POW_BASE, POW_EXP)._replace_second(POW_TT_2ND),
    "pow_tt_fn": _b(lambda M, x, y: M.pow(x, y), POW_BASE, POW_EXP)._replace_second(POW_TT_2ND),
    "maximum": Op(lambda M, x, y: M.maximum(x, y), binary_no_ties(REAL), True),
    "minimum": Op(lambda M, x, y: M.minimum(x, y), binary_no_ties(REAL), True),
    # ---- tensor ** python scalar
    "pow_s0": _u(lambda M, x: x**0),
    "pow_s1": _u(lambda M, x: x**1),
    "pow_s2": _u(lambda M, x: x**2),
    "pow_s2_float": _u(lambda M, x: x**2.0),
    "pow_s3": _u(lambda M, x: x**3),
    "pow_s_half": _u(lambda M, x: x**0.5, POSITIVE),
    "pow_s_neg1": _u(lambda M, x: x**-1, NONZERO),
    "pow_s_neg1_float": _u(lambda M, x: x**-1.0, NONZERO),
    "pow_s_fn": _u(lambda M, x: M.pow(x, 2.5), POSITIVE),
    # ---- python scalar on either side
    "radd": _u(lambda M, x: 2.5 + x),
    "radd_int": _u(lambda M, x: 3 + x),
    "add_scalar": _u(lambda M, x: x + 2.5),
    "rsub": _u(lambda M, x: 1.5 - x),
    "rsub_int": _u(lambda M, x: 2 - x),
    "sub_scalar": _u(lambda M, x: x - 1.5),
    "rmul": _u(lambda M, x: 2.5 * x),
    "rmul_int": _u(lambda M, x: -3 * x),
    "mul_scalar": _u(lambda M, x: x * -0.75),
    "rtruediv": _u(lambda M, x: 2.5 / x, NONZERO),
    "rtruediv_int": _u(lambda M, x: 3 / x, NONZERO),
    "truediv_scalar": _u(lambda M, x: x / 4.0),
    "truediv_int": _u(lambda M, x: x / 3),
    "rpow": _u(lambda M, x: 2.0**x, RPOW_EXP),
    "rpow_half": _u(lambda M, x: 0.5**x, RPOW_EXP),
    "rpow_int": _u(lambda M, x: 3**x, dom((-20.0, 20.0), edges=(0.0, 20.0, -20.0))),
    # ---- unary
    "neg": _u(lambda M, x: -x),
    "neg_fn": _u(lambda M, x: M.neg(x)),
    "abs": _u(lambda M, x: x.abs(), KINK0),
    "abs_fn": _u(lambda M, x: M.abs(x), KINK0),
    "exp": _u(lambda M, x: M.exp(x), EXP),
    "exp_method": _u(lambda M, x: x.exp(), EXP),
    "log": _u(lambda M, x: M.log(x), POSITIVE),
    "log_method": _u(lambda M, x: x.log(), POSITIVE),
    "log2": _u(lambda M, x: M.log2(x), POSITIVE),
    "log10": _u(lambda M, x: M.log10(x), POSITIVE),
    "sqrt": _u(lambda M, x: M.sqrt(x), POSITIVE),
    "sqrt_method": _u(lambda M, x: x.sqrt(), POSITIVE),
    "sin": _u(lambda M, x: M.sin(x), TRIG),
    "cos": _u(lambda M, x: M.cos(x), TRIG),
    "tan": _u(lambda M, x: M.tan(x), TAN),
    "tanh": _u(lambda M, x: M.tanh(x), SQUASH),
    "tanh_method": _u(lambda M, x: x.tanh(), SQUASH),
    "sigmoid": _u(lambda M, x: M.sigmoid(x), SQUASH),
    "sigmoid_method": _u(lambda M, x: x.sigmoid(), SQUASH),
    "sinh": _u(lambda M, x: x.sinh(), dom((-20.0, 20.0), edges=(0.0, 1.0, -1.0, 20.0, -20.0, 1e-8))),
    "cosh_fn": _u(lambda M, x: M.cosh(x), dom((-20.0, 20.0), edges=(0.0, 1.0, -1.0, 20.0, -20.0, 1e-8))),
    "expm1": _u(lambda M, x: M.expm1(x), dom((-30.0, 30.0), edges=(0.0, -1e-8, 1e-8, 30.0, -30.0))),
    "relu": _u(lambda M, x: M.relu(x), KINK0),
    "relu_method": _u(lambda M, x: x.relu(), KINK0),
    "clamp": _u(lambda M, x: x.clamp(-0.5, 0.7), CLAMP_X.avoiding((-0.5, 0.7))),
    "clamp_fn": _u(lambda M, x: M.clamp(x, -0.5, 0.7), CLAMP_X.avoiding((-0.5, 0.7))),
    "clamp_min": _u(lambda M, x: x.clamp(min=0.3), CLAMP_X.avoiding((0.3,))),
    "clamp_min_fn": _u(lambda M, x: M.clamp(x, min=0.3), CLAMP_X.avoiding((0.3,))),
    "clamp_max": _u(lambda M, x: x.clamp(max=-0.2), CLAMP_X.avoiding((-0.2,))),
    "clamp_max_fn": _u(lambda M, x: M.clamp(x, max=-0.2), CLAMP_X.avoiding((-0.2,))),
    # ---- reductions
    "sum_all": _u(lambda M, x: x.sum(), mixing=True),
    "sum_all_fn": _u(lambda M, x: M.sum(x), mixing=True),
    "sum_dim0": _u(lambda M, x: x.sum(0), mixing=True),
    "sum_dim_neg1": _u(lambda M, x: x.sum(dim=-1), mixing=True),
    "sum_dim0_keepdim": _u(lambda M, x: x.sum(0, keepdim=True), mixing=True),
    "sum_dim1_keepdim": _u(lambda M, x: x.sum(dim=1, keepdim=True), min_dims=2, mixing=True),
    "sum_dim_neg2": _u(lambda M, x: M.sum(x, dim=-2), min_dims=2, mixing=True),
    "sum_tuple": _u(lambda M, x: x.sum(dim=(0, -1)), min_dims=2, mixing=True),
    "sum_tuple_keepdim": _u(lambda M, x: M.sum(x, dim=(-1, -2), keepdim=True), min_dims=2, mixing=True),
    "sum_tuple_all3": _u(lambda M, x: x.sum((2, 0, 1)), min_dims=3, mixing=True),
    "mean_all": _u(lambda M, x: x.mean(), mixing=True),
    "mean_all_fn": _u(lambda M, x: M.mean(x), mixing=True),
    "mean_dim0": _u(lambda M, x: x.mean(0), mixing=True),
    "mean_dim_neg1": _u(lambda M, x: x.mean(dim=-1), mixing=True),
    "mean_dim0_keepdim": _u(lambda M, x: x.mean(0, keepdim=True), mixing=True),
    "mean_dim1_keepdim": _u(lambda M, x: x.mean(dim=1, keepdim=True), min_dims=2, mixing=True),
    "mean_dim_neg2": _u(lambda M, x: M.mean(x, dim=-2), min_dims=2, mixing=True),
    "mean_tuple": _u(lambda M, x: x.mean(dim=(0, -1)), min_dims=2, mixing=True),
    "mean_tuple_keepdim": _u(lambda M, x: M.mean(x, dim=(-1, -2), keepdim=True), min_dims=2, mixing=True),
    # ---- matmul
    "matmul_1d_1d": _mm(lambda M, x, y: x @ y, "dot"),
    "matmul_1d_1d_fn": _mm(lambda M, x, y: M.matmul(x, y), "dot"),
    "matmul_2d_2d": _mm(lambda M, x, y: x @ y, "mm"),
    "matmul_2d_2d_fn": _mm(lambda M, x, y: M.matmul(x, y), "mm"),
    "matmul_2d_1d": _mm(lambda M, x, y: x @ y, "mv"),
    "matmul_2d_1d_fn": _mm(lambda M, x, y: M.matmul(x, y), "mv"),
    "matmul_1d_2d": _mm(lambda M, x, y: x @ y, "vm"),
    "matmul_1d_2d_fn": _mm(lambda M, x, y: M.matmul(x, y), "vm"),
    # ---- shape ops
    "reshape_flat": _u(lambda M, x: x.reshape(-1)),
    "reshape_reversed": _u(lambda M, x: x.reshape(tuple(reversed(tuple(x.shape))))),
    "reshape_row_fn": _u(lambda M, x: M.reshape(x, (1, -1))),
    "reshape_varargs": _u(lambda M, x: x.reshape(-1, 1)),
    "view_flat": _u(lambda M, x: x.view(-1)),
    "view_reversed": _u(lambda M, x: x.view(tuple(reversed(tuple(x.shape))))),
    "view_varargs": _u(lambda M, x: x.view(1, -1, 1)),
    "unbind0": _u(lambda M, x: x.unbind(0), min_dims=1),
    "unbind_neg1_fn": _u(lambda M, x: M.unbind(x, dim=-1), min_dims=1),
    "unbind1": _u(lambda M, x: x.unbind(1), min_dims=2),
    # ---- several inputs or outputs in one row
    "cat0": Op(lambda M, x, y: M.cat([x, y]), joined(2, 0)),
    "cat_neg1_three": Op(lambda M, x, y, z: M.cat((x, y, z), dim=-1), joined(3, -1), fd_floor=(1.0,) * 3),
    "cat_dim1_repeated": Op(lambda M, x, y: M.cat([x, y, x], 1), joined(2, 1, same=True)),
    "concat_fn": Op(lambda M, x, y: M.concat([x, y], dim=0), joined(2, 0)),
    "stack0": Op(lambda M, x, y: M.stack([x, y]), joined(2, 0, same=True)),
    "stack_neg1_three": Op(lambda M, x, y, z: M.stack((x, y, z), dim=-1), joined(3, 0, same=True),
                           fd_floor=(1.0,) * 3),
    "stack_self": Op(lambda M, x: M.stack([x, x * 2.0], 1), joined(1, 0)),
    "where": _b(lambda M, x, y: M.where(x > 0.3, x, y), WHERE_X, REAL),
    "where_scalar_other": _u(lambda M, x: M.where(x > 0.3, x, 0.5), WHERE_X),
    "where_method": _b(lambda M, x, y: x.where(y < 0.3, y * x), REAL, WHERE_X),
    "unbind_stack_roundtrip": _u(lambda M, x: M.stack(x.unbind(-1)[::-1], 0), min_dims=1),
    # ---- the same input used several times (gradient accumulation, fan-out)
    "mul_self": _u(lambda M, x: x * x),
    "add_self": _u(lambda M, x: x + x),
    "pow_self": _u(lambda M, x: x**x, POW_BASE),
    "fanout_chain": _u(lambda M, x: x * M.exp(x) + M.sin(x) / 2 - x, dom((-5.0, 5.0), edges=(0.0,))),
    "matmul_self": Op(
        lambda M, x: x @ x,
        st.integers(1, MAX_SIDE).flatmap(lambda n: st.tuples(array((n, n), REAL))),
        True,
        fd_floor=(1.0,),
    ),
    "sum_broadcast_back": _u(lambda M, x: x - x.mean(0, keepdim=True), min_dims=1, mixing=True),
    # ---- shape: layout, joining and splitting (ops/layout.py, ops/split.py)
    "permute_reversed": _u(lambda M, x: x.permute(tuple(range(x.dim() - 1, -1, -1)))),
    "permute_fn_neg": _u(lambda M, x: M.permute(x, (-1,) + tuple(range(x.dim() - 1))), min_dims=1),
    "movedim": _u(lambda M, x: x.movedim(0, -1), min_dims=1),
    "movedim_0d_alias": _ud(lambda M, x: M.movedim(x, 0, -1), 0, 1),
    "moveaxis_tuple_fn": _u(lambda M, x: M.moveaxis(x, (0, 1), (-1, 0)), min_dims=2),
    "swapaxes": _u(lambda M, x: x.swapaxes(0, -1), min_dims=1),
    "swapdims_fn": _u(lambda M, x: M.swapdims(x, -1, 0), min_dims=1),
    "mT": _u(lambda M, x: x.mT, min_dims=2),
    "mH": _u(lambda M, x: x.mH * 1.0, min_dims=2),
    "adjoint_fn": _u(lambda M, x: M.adjoint(x), min_dims=2),
    "T_matrix": _ud(lambda M, x: x.T, 2, 2),
    "H_matrix": _ud(lambda M, x: x.H, 2, 2),
    "flatten_fn_range": _u(lambda M, x: M.flatten(x, 0, -2), min_dims=2),
    "unflatten": _u(lambda M, x: x.unflatten(-1, (1, x.shape[-1], 1)), min_dims=1),
    "unflatten_infer_fn": _u(lambda M, x: M.unflatten(x, 0, (-1, 1)), min_dims=1),
    "squeeze_tuple": _u(lambda M, x: x.squeeze((0, -1)), min_dims=2),
    "unsqueeze_neg_fn": _u(lambda M, x: M.unsqueeze(x, -1)),
    "broadcast_to": _u(lambda M, x: x.broadcast_to((2,) + tuple(x.shape))),
    "broadcast_tensors": _b(lambda M, x, y: M.stack(M.broadcast_tensors(x, y))),
    "flip": _u(lambda M, x: x.flip(0, -1), min_dims=2),
    "flip_fn_all": _u(lambda M, x: M.flip(x, tuple(range(x.dim())))),
    "fliplr": _u(lambda M, x: x.fliplr(), min_dims=2),
    "flipud_fn": _u(lambda M, x: M.flipud(x), min_dims=1),
    "roll": _u(lambda M, x: x.roll(1, -1), min_dims=1),
    "roll_flat_fn": _u(lambda M, x: M.roll(x, 2)),
    "roll_tuple": _u(lambda M, x: x.roll((1, -2), (0, -1)), min_dims=2),
    "narrow": _u(lambda M, x: x.narrow(0, x.shape[0] // 2, (x.shape[0] + 1) // 2), min_dims=1),
    "narrow_fn_neg": _u(lambda M, x: M.narrow(x, -1, -1, 1), min_dims=1),
    "diagonal": _u(lambda M, x: x.diagonal(), min_dims=2),
    "diagonal_fn_offset": _u(lambda M, x: M.diagonal(x, offset=1, dim1=-1, dim2=0), min_dims=2),
    "diagonal_neg_offset": _u(lambda M, x: x.diagonal(-1, 1, 2), min_dims=3),
    "diag_vector": _ud(lambda M, x: x.diag(1), 1, 1),
    "diag_matrix_fn": _ud(lambda M, x: M.diag(x, diagonal=-1), 2, 2),
    "diag_embed": _u(lambda M, x: M.diag_embed(x), min_dims=1),
    "diag_embed_dims": _u(lambda M, x: x.diag_embed(offset=-1, dim1=0, dim2=-1), min_dims=1),
    "tril": _u(lambda M, x: x.tril(), min_dims=2),
    "tril_neg": _u(lambda M, x: x.tril(-1), min_dims=2),
    "triu_fn": _u(lambda M, x: M.triu(x, diagonal=1), min_dims=2),
    "ravel": _u(lambda M, x: x.ravel()),
    "ravel_mT_fn": _u(lambda M, x: M.ravel(x.mT), min_dims=2),
    "view_as": _u(lambda M, x: x.view_as(M.zeros(x.numel()))),
    "reshape_as": _u(lambda M, x: x.mT.reshape_as(M.zeros(x.numel())), min_dims=2),
    "expand_as": _u(lambda M, x: x.expand_as(M.zeros((2,) + tuple(x.shape)))),
    "repeat": _u(lambda M, x: x.repeat(2, *[k % 2 + 1 for k in range(x.dim())])),
    "tile_fn": _u(lambda M, x: M.tile(x, (2,))),
    "repeat_interleave": _u(lambda M, x: x.repeat_interleave(2, dim=-1), min_dims=1),
    "repeat_interleave_flat_fn": _u(lambda M, x: M.repeat_interleave(x, 3)),
    "repeat_interleave_tensor": _u(lambda M, x: x.repeat_interleave(
        M.tensor([k % 3 for k in range(x.shape[0])]), dim=0, output_size=sum(k % 3 for k in range(x.shape[0]))),
        min_dims=1),
    "unfold": _u(lambda M, x: x.unfold(0, min(2, x.shape[0]), 1), min_dims=1),
    "unfold_step": _u(lambda M, x: x.unfold(-1, 1, 2)),
    "atleast_1d": _u(lambda M, x: M.atleast_1d(x)),
    "atleast_2d_pair": _u(lambda M, x: M.atleast_2d(x, x * 2.0)),
    "atleast_3d": _u(lambda M, x: M.atleast_3d(x)),
    "split": _u(lambda M, x: x.split(2, -1), min_dims=1),
    "split_sizes_fn": _u(lambda M, x: M.split(x, [1, x.shape[0] - 1]), min_dims=1),
    "split_first_only": _u(lambda M, x: x.split(1)[0] * 2.0, min_dims=1),
    "split_with_sizes": _u(lambda M, x: x.split_with_sizes([x.shape[-1] - 1, 0, 1], dim=-1), min_dims=1),
    "chunk": _u(lambda M, x: x.chunk(2, -1), min_dims=1),
    "chunk_fn": _u(lambda M, x: M.chunk(x, 3), min_dims=1),
    "tensor_split_sections": _u(lambda M, x: x.tensor_split(3, dim=-1), min_dims=1),
    "tensor_split_indices_fn": _u(lambda M, x: M.tensor_split(x, [1, 2], dim=0), min_dims=1),
    "tensor_split_tensor": _u(lambda M, x: x.tensor_split(M.tensor([1, 3])), min_dims=1),
    "hsplit": _u(lambda M, x: x.hsplit([1]), min_dims=1),
    "vsplit_fn": _u(lambda M, x: M.vsplit(x, [1]), min_dims=2),
    "dsplit": _u(lambda M, x: x.dsplit([0, 1]), min_dims=3),
    "hstack": _u(lambda M, x: M.hstack([x, x * 2.0])),
    "vstack": Op(lambda M, x, y: M.vstack((x, y)), joined(2, 0, same=True)),
    "row_stack": _u(lambda M, x: M.row_stack([x, x])),
    "dstack": _u(lambda M, x: M.dstack([x * 2.0, x])),
    "column_stack": _u(lambda M, x: M.column_stack([x, x.sin()])),
    # ---- index: gathers and scatters of index lists (indices made from the drawn shapes, with repeats)
    "index_select": _u(lambda M, x: x.index_select(-1, M.tensor(_picks(x.shape[-1]))), min_dims=1),
    "index_select_fn_0d_index": _u(lambda M, x: M.index_select(x, 0, M.tensor(x.shape[0] - 1)), min_dims=1),
    "gather": _u(lambda M, x: x.gather(0, M.tensor(_along(tuple(x.shape), 0))), min_dims=1),
    "gather_fn_neg": _u(lambda M, x: M.gather(x, -1, M.tensor(_along(tuple(x.shape), -1))), min_dims=1),
    "take": _u(lambda M, x: x.take(M.tensor(_picks(max(x.numel(), 1)))).reshape(-1, 1)),
    "take_along_dim": _u(lambda M, x: M.take_along_dim(x, M.tensor(_along(tuple(x.shape), -1, 1)), -1),
                         min_dims=1),
    "take_along_dim_flat": _u(lambda M, x: x.take_along_dim(M.tensor(_picks(x.numel())))),
    "masked_select": _u(lambda M, x: x.masked_select(M.tensor(_pattern(tuple(x.shape))))),
    "masked_select_broadcast": _u(lambda M, x: M.masked_select(x, M.tensor(_pattern((2,) + tuple(x.shape))))),
    "masked_fill": _u(lambda M, x: x.masked_fill(M.tensor(_pattern(tuple(x.shape))), 0.5)),
    "masked_fill_tensor": Op(lambda M, x, v: M.masked_fill(x, M.tensor(_pattern(tuple(x.shape))), v),
                             shapes().flatmap(lambda s: st.tuples(array(s, REAL), array((), REAL)))),
    "masked_fill_inplace": _u(lambda M, x: (x * 2.0).masked_fill_(M.tensor(_pattern(tuple(x.shape))), -1.0) * x),
    "scatter": Op(lambda M, x, z: x.scatter(0, M.tensor(_perm(tuple(x.shape), 0)), z), _paired(lambda s: s)),
    "scatter_value_fn": _u(lambda M, x: M.scatter(x, -1, M.tensor(_along(tuple(x.shape), -1, 1)), 0.5), min_dims=1),
    "scatter_add": Op(lambda M, x, z: x.scatter_add(-1, M.tensor(_along(tuple(x.shape), -1, x.shape[-1] + 1)), z),
                      _paired(lambda s: s[:-1] + (s[-1] + 1,))),
    "scatter_add_inplace": Op(lambda M, x, z: (x * 1.0).scatter_add_(0, M.tensor(_along(tuple(x.shape), 0)), z * x.sum()),
                              _paired(lambda s: (s[0] + 1,) + s[1:])),
    "index_add": Op(lambda M, x, z: x.index_add(0, M.tensor(_picks(x.shape[0])), z, alpha=-1.5),
                    _paired(lambda s: (4,) + s[1:])),
    "index_add_inplace_neg": Op(lambda M, x, z: (x * x).index_add_(-1, M.tensor(_picks(x.shape[-1])), z),
                                _paired(lambda s: s[:-1] + (4,))),
    "index_copy": Op(lambda M, x, z: M.index_copy(x, -1, M.tensor(list(range(x.shape[-1]))[::-1]), z),
                     _paired(lambda s: s)),
    "index_copy_inplace": Op(lambda M, x, z: (x * 1.0).index_copy_(0, M.tensor([x.shape[0] - 1]), z),
                             _paired(lambda s: (1,) + s[1:])),
    "index_fill": _u(lambda M, x: x.index_fill(-1, M.tensor(_picks(x.shape[-1])), 0.25), min_dims=1),
    "index_fill_tensor": Op(lambda M, x, v: M.index_fill(x, 0, M.tensor([0]), v), _paired(lambda s: ())),
    "index_fill_inplace": _u(lambda M, x: (x * x).index_fill_(0, M.tensor([-1]), -2.0), min_dims=1),
    "index_put": Op(lambda M, x, z: x.index_put((M.tensor(list(range(x.shape[0]))[::-1]),), z),
                    _paired(lambda s: s[1:])),
    "index_put_accumulate": Op(lambda M, x, v: x.index_put([M.tensor(_pattern(tuple(x.shape)))], v, accumulate=True),
                               _paired(lambda s: ())),
    "index_put_inplace": Op(lambda M, x, z: (x * 1.0).index_put_((M.tensor(_picks(x.shape[0])),), z, True),
                            _paired(lambda s: (4,) + s[1:])),
    "put": Op(lambda M, x, z: x.put(M.tensor(list(range(x.numel()))[::-2]), z),
              _paired(lambda s: ((int(np.prod(s)) + 1) // 2,), min_dims=0)),
    "put_accumulate": Op(lambda M, x, z: M.put(x, M.tensor(_picks(x.numel())), z, accumulate=True),
                         _paired(lambda s: (2, 2), min_dims=0)),
    "put_inplace": Op(lambda M, x, z: (x * 1.0).put_(M.tensor([0]), z), _paired(lambda s: (), min_dims=0)),
    "masked_scatter": Op(lambda M, x, z: x.masked_scatter(M.tensor(_pattern(tuple(x.shape))), z),
                         _paired(lambda s: s, min_dims=0)),
    "scatter_reduce_sum": Op(lambda M, x, z: x.scatter_reduce(0, M.tensor(_along(tuple(x.shape), 0)), z, "sum"),
                             _paired(lambda s: (s[0] + 1,) + s[1:])),
    # (a product's rule divides by self: kept away from zero, as from two zeros of src in one place,
    # where PyTorch's double backward refuses)
    "scatter_reduce_prod": Op(lambda M, x, z: M.scatter_reduce(x, -1, M.tensor(_along(tuple(x.shape), -1)), z, "prod"),
                              _paired(lambda s: s[:-1] + (s[-1] + 1,), d=PROD_NONZERO)),
    "scatter_reduce_prod_exclude": Op(lambda M, x, z: x.scatter_reduce(0, M.tensor(_along(tuple(x.shape), 0)), z, "prod",
                                                                       include_self=False),
                                      _paired(lambda s: (s[0] + 1,) + s[1:], d=PROD_NONZERO)),
    "scatter_reduce_mean": Op(lambda M, x, z: x.scatter_reduce(0, M.tensor(_along(tuple(x.shape), 0)), z, "mean"),
                              _paired(lambda s: (s[0] + 1,) + s[1:])),
    "scatter_reduce_mean_exclude": Op(lambda M, x, z: x.scatter_reduce(0, M.tensor(_along(tuple(x.shape), 0)), z, "mean",
                                                                       include_self=False),
                                      _paired(lambda s: (s[0] + 1,) + s[1:])),
    "scatter_reduce_amax": Op(lambda M, x, z: x.scatter_reduce(0, M.tensor(_along(tuple(x.shape), 0)), z, "amax"),
                              _paired(lambda s: (s[0] + 1,) + s[1:]).map(_distinct)),
    "scatter_reduce_amin_exclude": Op(lambda M, x, z: (x * 1.0).scatter_reduce_(
        -1, M.tensor(_along(tuple(x.shape), -1)), z, "amin", include_self=False),
        _paired(lambda s: s[:-1] + (s[-1] + 1,)).map(_distinct)),
    "index_reduce_prod": Op(lambda M, x, z: x.index_reduce(0, M.tensor(_repeats(x.shape[0])), z, "prod"),
                            _paired(lambda s: (s[0] + 1,) + s[1:], d=PROD_NONZERO)),
    "index_reduce_mean_exclude": Op(lambda M, x, z: M.index_reduce(x, -1, M.tensor(_repeats(x.shape[-1])), z, "mean",
                                                                   include_self=False),
                                    _paired(lambda s: s[:-1] + (s[-1] + 1,))),
    "index_reduce_amax": Op(lambda M, x, z: (x * 1.0).index_reduce_(0, M.tensor(_repeats(x.shape[0])), z, "amax"),
                            _paired(lambda s: (s[0] + 1,) + s[1:]).map(_distinct)),
    "index_reduce_amin_exclude": Op(lambda M, x, z: x.index_reduce(0, M.tensor(_repeats(x.shape[0])), z, "amin",
                                                                   include_self=False),
                                    _paired(lambda s: (s[0] + 1,) + s[1:]).map(_distinct)),
    "getitem_separated": _u(lambda M, x: x[[0, -1], :, [0, 0]], min_dims=3),
    "getitem_int_then_list": _u(lambda M, x: x[0, :, [0, -1, 0]], min_dims=3),
    "getitem_range_none_step": _u(lambda M, x: x[None, range(0, x.shape[0], 2), ..., ::2], min_dims=2),
    "getitem_bool_scalar_mask": _u(lambda M, x: x[True][:, M.tensor(np.arange(x.shape[0]) % 2 == 0)], min_dims=1),
    "getitem_two_index_tensors": _u(lambda M, x: x[M.tensor([0, -1, 0]), ..., M.tensor([x.shape[-1] - 1, 0, 0])],
                                    min_dims=2),
    "masked_scatter_inplace": Op(lambda M, x, z: (x * 1.0).masked_scatter_(M.tensor(_pattern(tuple(x.shape))), z),
                                 _paired(lambda s: (int(np.prod(s)),), min_dims=0)),
    # ---- reduce: softmax, extrema, selections (no ties: distinct values in a random order)
    "softmax_neg1": _u(lambda M, x: M.softmax(x, -1), mixing=True),
    "softmax_dim0_method": _u(lambda M, x: x.softmax(0), mixing=True),
    "log_softmax_neg1": _u(lambda M, x: M.log_softmax(x, dim=-1), mixing=True),
    "log_softmax_dim1_method": _u(lambda M, x: x.log_softmax(1), min_dims=2, mixing=True),
    "logsumexp_neg1": _u(lambda M, x: M.logsumexp(x, -1), mixing=True),
    "logsumexp_tuple_keepdim": _u(lambda M, x: x.logsumexp((0, -1), keepdim=True), min_dims=2, mixing=True),
    "max_all": Op(lambda M, x: x.max(), distinct()),
    "min_all_fn": Op(lambda M, x: M.min(x), distinct()),
    "max_dim_neg1": Op(lambda M, x: M.max(x, -1).values, distinct()),
    "max_dim0_keepdim": Op(lambda M, x: x.max(0, keepdim=True)[0], distinct()),
    "min_dim1": Op(lambda M, x: x.min(dim=1).values, distinct(min_dims=2)),
    "amax_tuple": Op(lambda M, x: x.amax((0, -1)), distinct(min_dims=2)),
    "amax_all_fn": Op(lambda M, x: M.amax(x), distinct()),
    "amin_neg1_keepdim": Op(lambda M, x: M.amin(x, -1, keepdim=True), distinct()),
    "amax_ties": Op(lambda M, x: M.cat([x, x]).amax(0), distinct(min_dims=1)),
    "prod_all": _u(lambda M, x: x.prod(), PROD_X, mixing=True),
    "prod_dim_neg1_fn": _u(lambda M, x: M.prod(x, -1), PROD_X, mixing=True),
    "prod_dim0_keepdim": _u(lambda M, x: x.prod(0, keepdim=True), PROD_X, mixing=True),
    "prod_zeros": _u(lambda M, x: M.cat([x, x * 0.0, x]).prod(0), PROD_X, min_dims=1, mixing=True),
    "prod_two_zeros_all": _u(lambda M, x: M.cat([x, x * 0.0, x * 0.0]).prod(), PROD_X, min_dims=1, mixing=True),
    "var_all": Op(lambda M, x: x.var(), wide(1)),
    "var_dim1_biased": Op(lambda M, x: M.var(x, 1, unbiased=False), wide(2)),
    "var_tuple_correction": Op(lambda M, x: x.var((0, -1), keepdim=True, correction=0.5), wide(2)),
    "std_all_fn": Op(lambda M, x: M.std(x), wide(1)),
    "std_dim_neg1_keepdim": Op(lambda M, x: x.std(-1, keepdim=True, correction=0), wide(1)),
    "var_mean_dim0": Op(lambda M, x: M.var_mean(x, 0), wide(1)),
    "std_mean_all": Op(lambda M, x: M.std_mean(x, correction=2), wide(2)),
    "nansum_dim0": _u(lambda M, x: x.nansum(0), mixing=True),
    "nansum_all_fn": _u(lambda M, x: M.nansum(x), mixing=True),
    "nanmean_neg1": _u(lambda M, x: M.nanmean(x, -1, keepdim=True), mixing=True),
    "norm_all": _u(lambda M, x: x.norm(), NORM_X, mixing=True),
    "norm_1_dim0": _u(lambda M, x: x.norm(1, 0), NORM_X, mixing=True),
    "norm_3_neg1_keepdim": _u(lambda M, x: M.norm(x, 3, -1, True), NORM_X, mixing=True),
    "norm_half": _u(lambda M, x: x.norm(0.5), NORM_X, mixing=True),
    "norm_1_5_tuple": _u(lambda M, x: x.norm(p=1.5, dim=(0, -1)), NORM_X, min_dims=2, mixing=True),
    "norm_inf_dim0": Op(lambda M, x: x.norm(float("inf"), 0), distinct_abs(), True),
    "norm_neg_inf": Op(lambda M, x: x.norm(float("-inf")), distinct_abs(), True),
    "dist_2": Op(lambda M, x, y: M.dist(x, y), binary_no_ties(REAL), True),
    # (differences kept away from 0, where float32 rounding of the rule's cancelling terms shows)
    "dist_3_method": _b(lambda M, x, y: x.dist(y - 3.0, 3), dom((0.5, 2.0)), dom((-2.0, 2.0))),
    "dist_1": Op(lambda M, x, y: M.dist(x, y, p=1), binary_no_ties(REAL), True),
    "sort_neg1": Op(lambda M, x: x.sort().values, distinct()),
    "sort_dim0_descending_fn": Op(lambda M, x: M.sort(x, dim=0, descending=True, stable=True)[0], distinct()),
    "topk_2": Op(lambda M, x: x.topk(min(2, x.shape[-1]) if x.dim() else 1).values, distinct()),
    "topk_smallest_dim0_fn": Op(lambda M, x: M.topk(x, 1, 0, largest=False)[0], distinct(1)),
    "kthvalue_1": Op(lambda M, x: x.kthvalue(1).values, distinct()),
    "kthvalue_dim0_keepdim_fn": Op(lambda M, x: M.kthvalue(x, x.shape[0], 0, True)[0], distinct(1)),
    "median_all": Op(lambda M, x: x.median(), distinct()),
    "median_all_ties": Op(lambda M, x: M.cat([x, x]).median(), distinct(1)),
    "median_neg1": Op(lambda M, x: M.median(x, -1).values, distinct()),
    "nanmedian_all_fn": Op(lambda M, x: M.nanmedian(x), distinct()),
    "nanmedian_dim0_keepdim": Op(lambda M, x: x.nanmedian(0, keepdim=True)[0], distinct(1)),
    "cummax_neg1": Op(lambda M, x: x.cummax(-1).values, distinct()),
    "cummin_dim0_fn": Op(lambda M, x: M.cummin(x, 0)[0], distinct(1)),
    "cumsum_neg1": _u(lambda M, x: x.cumsum(-1), mixing=True),
    "cumsum_dim0_fn": _u(lambda M, x: M.cumsum(x, dim=0), min_dims=1, mixing=True),
    "cumprod_neg1": _u(lambda M, x: x.cumprod(-1), PROD_X, mixing=True),
    "cumprod_dim0_zeros_fn": _u(lambda M, x: M.cumprod(M.cat([x, x * 0.0, x]), 0), PROD_X, min_dims=1,
                                mixing=True),
    "aminmax_all": Op(lambda M, x: M.aminmax(x), distinct()),
    "aminmax_dim0_keepdim": Op(lambda M, x: x.aminmax(dim=0, keepdim=True), distinct(1)),
    "aminmax_max_only": Op(lambda M, x: M.aminmax(x, dim=-1).max, distinct()),
    "linalg_vector_norm_3": _u(lambda M, x: M.linalg.vector_norm(x, 3, -1), NORM_X, mixing=True),
    "special_log_softmax": _u(lambda M, x: M.special.log_softmax(x, 0), mixing=True),
    "gather_dim0": _u(lambda M, x: x.gather(0, M.tensor(_spread_index(x.shape, 0))), min_dims=1, mixing=True),
    "gather_neg1_fn": _u(lambda M, x: M.gather(x, -1, M.tensor(_spread_index(x.shape, -1))), min_dims=1,
                         mixing=True),
    # ---- lead: meshgrid (ops/join.py)
    "meshgrid_xy": _b(lambda M, x, y: M.stack(M.meshgrid(x.reshape(-1), y.reshape(-1), indexing="xy"))),
    "meshgrid_ij_list": _b(lambda M, x, y: M.stack(M.meshgrid([x.reshape(-1), y.reshape(-1)], indexing="ij"))),
    # ---- elem: the catalogue's elementwise ops (issue 14)
    "square": _u(lambda M, x: M.square(x)),
    "square_method": _u(lambda M, x: x.square()),
    "rsqrt": _u(lambda M, x: M.rsqrt(x), POSITIVE),
    "log1p": _u(lambda M, x: x.log1p(), dom((-0.9, 10.0), edges=(0.0, -0.9, 1e-8, 10.0))),
    "asin": _u(lambda M, x: M.asin(x), dom((-0.95, 0.95), edges=(0.0, 0.95, -0.95))),
    "arcsin_method": _u(lambda M, x: x.arcsin(), dom((-0.95, 0.95))),
    "acos": _u(lambda M, x: M.acos(x), dom((-0.95, 0.95), edges=(0.0, 0.95, -0.95))),
    "arccos_fn": _u(lambda M, x: M.arccos(x), dom((-0.95, 0.95))),
    "atan": _u(lambda M, x: M.atan(x)),
    "arctan_method": _u(lambda M, x: x.arctan()),
    "asinh": _u(lambda M, x: M.asinh(x)),
    "arcsinh_method": _u(lambda M, x: x.arcsinh()),
    "acosh": _u(lambda M, x: M.acosh(x), dom((1.05, 10.0), edges=(1.05, 2.0, 10.0))),
    "arccosh_method": _u(lambda M, x: x.arccosh(), dom((1.05, 10.0))),
    "atanh": _u(lambda M, x: M.atanh(x), dom((-0.95, 0.95), edges=(0.0, 0.95, -0.95))),
    "arctanh_method": _u(lambda M, x: x.arctanh(), dom((-0.95, 0.95))),
    "erf": _u(lambda M, x: M.erf(x), dom((-4.0, 4.0), edges=(0.0, 4.0, -4.0, 1e-8))),
    "erf_method": _u(lambda M, x: x.erf(), dom((-4.0, 4.0))),
    "erfc": _u(lambda M, x: M.erfc(x), dom((-4.0, 4.0), edges=(0.0, 4.0, -4.0))),
    "erfinv": _u(lambda M, x: M.erfinv(x), dom((-0.95, 0.95), edges=(0.0, 0.95, -0.95, 1e-8))),
    "exp2": _u(lambda M, x: M.exp2(x), dom((-30.0, 30.0), edges=(0.0, 30.0, -30.0))),
    "frac": _u(lambda M, x: M.frac(x), REAL.avoiding(tuple(float(k) for k in range(-10, 11)))),
    "deg2rad": _u(lambda M, x: M.deg2rad(x)),
    "rad2deg_method": _u(lambda M, x: x.rad2deg()),
    "sign": _u(lambda M, x: M.sign(x) * x, KINK0),
    "sgn_method": _u(lambda M, x: x.sgn() + x, KINK0),
    "floor": _u(lambda M, x: M.floor(x) + x, REAL.avoiding(tuple(float(k) for k in range(-10, 11)))),
    "ceil_method": _u(lambda M, x: x.ceil() * x, REAL.avoiding(tuple(float(k) for k in range(-10, 11)))),
    "trunc": _u(lambda M, x: M.trunc(x) * x, REAL.avoiding(tuple(float(k) for k in range(-10, 11)))),
    "fix_method": _u(lambda M, x: x.fix(), REAL.avoiding(tuple(float(k) for k in range(-10, 11)))),
    "round": _u(lambda M, x: M.round(x) * x, REAL.avoiding(tuple(k + 0.5 for k in range(-11, 11)))),
    "round_decimals": _u(lambda M, x: x.round(decimals=1) * x,
                         dom((-2.0, 2.0)).avoiding(tuple(k / 10 + 0.05 for k in range(-21, 21)))),
    "round_decimals_neg_fn": _u(lambda M, x: M.round(x * 30.0, decimals=-1),
                                REAL.avoiding(tuple((10 * k + 5) / 30 for k in range(-31, 31)))),
    "logit": _u(lambda M, x: M.logit(x), dom((0.02, 0.98), edges=(0.5, 0.02, 0.98))),
    "logit_eps": _u(lambda M, x: x.logit(eps=0.1), dom((0.001, 0.999)).avoiding((0.1, 0.9))),
    "logit_eps_fn": _u(lambda M, x: M.logit(x, 0.25), dom((-0.5, 1.5)).avoiding((0.0, 0.25, 0.75, 1.0))),
    "selu": _u(lambda M, x: M.selu(x), KINK0),
    "celu": _u(lambda M, x: M.celu(x), KINK0),
    "celu_alpha": _u(lambda M, x: M.celu(x, alpha=2.5), KINK0),
    "gelu": _u(lambda M, x: M.nn.functional.gelu(x), EXP),
    # (beyond |x| ~ 4, 1 - tanh^2 of the inner term is a few float32 ulps of tanh: the second
    # derivative's float32 value is then rounding, in PyTorch as in tape)
    "gelu_tanh": _u(lambda M, x: M.nn.functional.gelu(x, approximate="tanh"), dom((-4.0, 4.0), edges=(0.0, 1.0, -4.0))),
    "silu": _u(lambda M, x: M.nn.functional.silu(x), EXP),
    "softplus": _u(lambda M, x: M.nn.functional.softplus(x), EXP.avoiding((20.0,))),
    "softplus_beta": _u(lambda M, x: M.nn.functional.softplus(x, beta=2, threshold=3.0), REAL.avoiding((1.5,))),
    "elu": _u(lambda M, x: M.nn.functional.elu(x, 0.5), KINK0),
    # (the other in-place forms and the compositions are compared with PyTorch to the third order in
    # tests/test_nn_functional.py; these rows cover each row kind)
    "elu_inplace": _u(lambda M, x: M.nn.functional.elu_(x.clone(), 1.5), KINK0),
    "leaky_relu": _u(lambda M, x: M.nn.functional.leaky_relu(x) * x, KINK0),
    "hardtanh": _u(lambda M, x: M.nn.functional.hardtanh(x, -2.0, 3) * x, REAL.avoiding((-2.0, 3.0))),
    "relu6": _u(lambda M, x: M.nn.functional.relu6(x) * x, REAL.avoiding((0.0, 6.0))),
    "logsigmoid": _u(lambda M, x: M.nn.functional.logsigmoid(x), EXP),
    "softshrink": _u(lambda M, x: M.nn.functional.softshrink(x, 1.5) * x, REAL.avoiding((-1.5, 1.5))),
    "hardsigmoid": _u(lambda M, x: M.nn.functional.hardsigmoid(x), REAL.avoiding((-3.0, 3.0)))._first_order_only(
        "hardsigmoid_backward"),
    "hardswish": _u(lambda M, x: M.nn.functional.hardswish(x), REAL.avoiding((-3.0, 3.0))),
    "mish": _u(lambda M, x: M.nn.functional.mish(x), EXP),
    "glu_dim0": Op(lambda M, x: M.nn.functional.glu(x, 0), shapes(1, 3).map(lambda s: (2 * s[0], *s[1:])).flatmap(
        lambda s: st.tuples(array(s, REAL)))),
    "nan_to_num": _u(lambda M, x: M.nan_to_num(x)),
    "nan_to_num_method": _u(lambda M, x: x.nan_to_num(0.5, posinf=2.0, neginf=-3.0) * x),
    "atan2": _b(lambda M, x, y: M.atan2(x, y), NONZERO),
    "arctan2_method": _b(lambda M, x, y: x.arctan2(y), NONZERO),
    # (a / b kept between integers: fmod and remainder jump where it crosses one)
    "fmod": _b(lambda M, x, y: M.fmod(x, y), FMOD_A, FMOD_B),
    "fmod_number": _u(lambda M, x: x.fmod(1.5), REAL.avoiding(tuple(1.5 * k for k in range(-7, 8)))),
    "remainder": _b(lambda M, x, y: M.remainder(x, y), FMOD_A, FMOD_B),
    "remainder_op": _u(lambda M, x: x % -1.5, REAL.avoiding(tuple(1.5 * k for k in range(-7, 8)))),
    "hypot": _b(lambda M, x, y: M.hypot(x, y), NONZERO),
    "logaddexp": _b(lambda M, x, y: M.logaddexp(x, y)),
    "logaddexp2_method": _b(lambda M, x, y: x.logaddexp2(y)),
    "xlogy": _b(lambda M, x, y: M.xlogy(x, y), REAL, POSITIVE),
    "xlogy_number": _u(lambda M, x: M.xlogy(x, 2.5)),
    "xlogy_rnumber": _u(lambda M, x: M.xlogy(2.5, x), POSITIVE),
    "copysign": _b(lambda M, x, y: M.copysign(x, y), NONZERO),
    "copysign_number": _u(lambda M, x: x.copysign(-1.0), NONZERO),
    "float_power": _b(lambda M, x, y: M.float_power(x, y).to(x.dtype), POW_BASE, POW_EXP)._replace_second(POW_TT_2ND),
    "float_power_number": _u(lambda M, x: x.float_power(2.5).to(x.dtype), POSITIVE),
    # ---- linalg: products, decompositions (ops/linalg.py, ops/decomp.py)
    "linalg_inv": Op(lambda M, x: M.linalg.inv(_spd(M, x)), la_matrices(), True),
    "inverse_method": Op(lambda M, x: _shifted(M, x).inverse(), la_matrices(), True),
    "inverse_fn_batch2": Op(lambda M, x: M.inverse(_shifted(M, x)), la_matrices(max_batch=2), True),
    "linalg_det": Op(lambda M, x: M.linalg.det(_shifted(M, x)), la_matrices(), True),
    "det_method": Op(lambda M, x: (x - _eye(M, x, x.shape[-1] + 1.0)).det(), la_matrices(), True),
    "linalg_slogdet": Op(lambda M, x: M.linalg.slogdet(-_shifted(M, x)), la_matrices(), True),
    "slogdet_logabsdet_fn": Op(lambda M, x: M.slogdet(_spd(M, x)).logabsdet, la_matrices(), True),
    "logdet": Op(lambda M, x: M.logdet(_spd(M, x)), la_matrices(), True),
    "linalg_solve": Op(lambda M, a, b: M.linalg.solve(_spd(M, a), b), la_matrices(rhs="mat"), True),
    "linalg_solve_vector": Op(lambda M, a, b: M.linalg.solve(_shifted(M, a), b), la_matrices(rhs="vec"), True),
    "linalg_solve_right": Op(lambda M, a, b: M.linalg.solve(_shifted(M, a), b, left=False),
                             la_matrices(rhs="right"), True),
    "linalg_solve_broadcast": Op(lambda M, a, b: M.linalg.solve(_spd(M, a), b), la_matrices(rhs="bcast"), True),
    "linalg_solve_triangular_upper": Op(lambda M, a, b: M.linalg.solve_triangular(_shifted(M, a), b, upper=True),
                                        la_matrices(rhs="mat"), True),
    "linalg_solve_triangular_lower_right_unit": Op(
        lambda M, a, b: M.linalg.solve_triangular(a, b, upper=False, left=False, unitriangular=True),
        la_matrices(rhs="right"), True),
    "linalg_cholesky": Op(lambda M, x: M.linalg.cholesky(_spd(M, x)), la_matrices(), True),
    "linalg_cholesky_upper": Op(lambda M, x: M.linalg.cholesky(_spd(M, x), upper=True), la_matrices(), True),
    "cholesky_deprecated_upper": Op(lambda M, x: _quiet(M.cholesky)(_spd(M, x), True), la_matrices(), True),
    "linalg_eigh": Op(lambda M, x: _signless(M.linalg.eigh(_gapped(M, x))), la_matrices(), True),
    "linalg_eigh_upper_vectors": Op(lambda M, x: M.linalg.eigh(_gapped(M, x), UPLO="U").eigenvectors ** 2,
                                    la_matrices(), True),
    "linalg_eigvalsh": Op(lambda M, x: M.linalg.eigvalsh(_gapped(M, x)), la_matrices(), True),
    "linalg_svd": Op(lambda M, x: _signless(M.linalg.svd(_gapped(M, x), full_matrices=False)),
                     la_matrices(square=False), True),
    "linalg_svd_full": Op(lambda M, x: _signless(_reduced(*M.linalg.svd(_gapped(M, x)))), la_matrices(square=False),
                          True),
    "linalg_svdvals": Op(lambda M, x: M.linalg.svdvals(_gapped(M, x)), la_matrices(square=False), True),
    "svd_old_method": Op(lambda M, x: _signless(_gapped(M, x).svd()), la_matrices(square=False), True),
    "linalg_matrix_norm_nuc": Op(lambda M, x: M.linalg.matrix_norm(_gapped(M, x), "nuc"),
                                 la_matrices(square=False), True),
    "linalg_matrix_norm_2_keepdim": Op(lambda M, x: M.linalg.matrix_norm(_gapped(M, x), 2, keepdim=True),
                                       la_matrices(square=False), True),
    "linalg_matrix_norm_neg2": Op(lambda M, x: M.linalg.matrix_norm(_gapped(M, x), -2), la_matrices(square=False),
                                  True),
    "linalg_matrix_norm_1": Op(lambda M, x: M.linalg.matrix_norm(_ramped(M, x), 1), la_matrices(square=False), True),
    "linalg_matrix_norm_neg_inf_dims": Op(lambda M, x: M.linalg.matrix_norm(_ramped(M, x).mT, -math.inf,
                                                                            dim=(-1, -2)),
                                          la_matrices(square=False), True),
    "linalg_norm_fro": Op(lambda M, x: M.linalg.norm(x + 2.0), la_matrices(square=False), True),
    "linalg_norm_2_matrix": Op(lambda M, x: M.linalg.norm(_gapped(M, x), 2), la_matrices(square=False, max_batch=0),
                               True),
    "linalg_qr": Op(lambda M, x: _signless(M.linalg.qr(_gapped(M, x))), la_matrices(square=False), True),
    "linalg_qr_complete_wide": Op(
        lambda M, x: _signless(M.linalg.qr(_gapped(M, x[..., :1, :]), mode="complete")), la_matrices(square=False),
        True),
    "linalg_pinv": Op(lambda M, x: M.linalg.pinv(_gapped(M, x)), la_matrices(square=False), True),
    "linalg_pinv_hermitian": Op(lambda M, x: M.linalg.pinv(_gapped(M, x) - 15.0, hermitian=True), la_matrices(),
                                True),
    "pinverse_method": Op(lambda M, x: _gapped(M, x).pinverse(), la_matrices(square=False), True),
    "kron": Op(lambda M, x, y: M.kron(x, y), binary(REAL), True),
    "kron_method_self": _u(lambda M, x: x.kron(x[..., :2] * 2.0), min_dims=1),
    "trace": Op(lambda M, x: x.trace(), matmul_inputs("mm").map(lambda t: (t[0],)), True),
    "trace_fn": Op(lambda M, x: M.trace(x * x), matmul_inputs("mm").map(lambda t: (t[1],)), True),
    "vdot": Op(lambda M, x, y: M.vdot(x, y), _vectors(), True),
    "vdot_method_self": Op(lambda M, x: x.vdot(x), _vectors(1), True),
    "outer": Op(lambda M, x, y: M.outer(x, y[:2]), _vectors(), True),
    "ger_method": Op(lambda M, x, y: x.ger(y), _vectors(), True),
    "linalg_cross": Op(lambda M, x, y: M.linalg.cross(x.movedim(0, -1), y.movedim(0, -1)), _vectors(batch=True),
                       True),
    "cross_dim0_broadcast": Op(lambda M, x, y: M.cross(x, y.sum(1, keepdim=True) if y.dim() > 1 else y, dim=0),
                               _vectors(batch=True), True),
    "bmm": Op(lambda M, x, y: M.bmm(x.reshape(1, *x.shape), y.reshape(1, *y.shape)), matmul_inputs("mm"), True),
    "bmm_method": Op(lambda M, x, y: M.stack([x, x * 2]).bmm(M.stack([y, -y])), matmul_inputs("mm"), True),
    "linalg_vecdot": Op(lambda M, x, y: M.linalg.vecdot(x, y), la_matrices(2, square=False), True),
    "linalg_multi_dot": Op(lambda M, x, y, z: M.linalg.multi_dot([x, y, z]), _chain(), True, fd_floor=(1.0,) * 3),
    "linalg_multi_dot_vectors": Op(lambda M, x, y, z: M.linalg.multi_dot([x[0], y, z[:, 0]]), _chain(), True,
                                     fd_floor=(1.0,) * 3),
    "chain_matmul": Op(lambda M, x, y, z: _quiet(M.chain_matmul)(x, y, z, z.mT), _chain(), True,
                         fd_floor=(1.0,) * 3),
    # (matrix powers of batches: "matrix_power_batch" in the lin3 block below)
    "linalg_matrix_power_neg2": Op(lambda M, x: M.linalg.matrix_power(_spd(M, x), -2), la_matrices(max_batch=0), True),
    "matrix_power_method_5": Op(lambda M, x: x.matrix_power(5), la_matrices(max_batch=0), True),
    "matrix_power_fn_3": Op(lambda M, x: M.matrix_power(x, 3), la_matrices(max_batch=0), True),
    "matrix_power_1": Op(lambda M, x: x.matrix_power(1) * x, la_matrices(), True),
    # ---- lin3: the addmm family, einsum, tensordot, inner (ops/addmm.py, ops/einsum.py)
    "addmm": Op(lambda M, i, a, b: M.addmm(i, a, b, beta=0.5, alpha=-2.0), _added("mm"), True, fd_floor=(1.0,) * 3),
    "addmm_method": Op(lambda M, i, a, b: i.addmm(a, b), _added("mm"), True, fd_floor=(1.0,) * 3),
    "addmm_inplace": Op(lambda M, i, a, b: (i * 1.0).addmm_(a, b, beta=-1.0) if i.dim() == 2 else M.addmm(i, a, b),
                        _added("mm"), True, fd_floor=(1.0,) * 3),
    "addmv": Op(lambda M, i, a, b: M.addmv(i, a, b, alpha=1.5), _added("mv"), True, fd_floor=(1.0,) * 3),
    "addr_method": Op(lambda M, i, a, b: i.addr(a, b, beta=2.0), _added("r"), True, fd_floor=(1.0,) * 3),
    "addbmm": Op(lambda M, i, a, b: M.addbmm(i, a, b, beta=0.5), _added("bmm"), True, fd_floor=(1.0,) * 3),
    "baddbmm_method": Op(lambda M, i, a, b: i.baddbmm(a, b, alpha=0.5), _added("baddbmm"), True,
                         fd_floor=(1.0,) * 3),
    "einsum_mm": Op(lambda M, a, b: M.einsum("ij,jk->ik", a, b), _contracted("mm"), True),
    "einsum_batch_ellipsis": Op(lambda M, a, b: M.einsum("...ij,...jk", a, b), _contracted("batch"), True),
    "einsum_diagonal_sum": Op(lambda M, a: M.einsum("iij->j", a), _contracted("diag"), True),
    "einsum_sublist_chain": Op(lambda M, a, b, c: M.einsum(a, [0, 1], b, [1, 2], c, [2, 3], [3, 0]),
                               _contracted("chain"), True, fd_floor=(1.0,) * 3),
    "tensordot_2": Op(lambda M, a, b: M.tensordot(a, b, 2), _contracted("td2"), True),
    "tensordot_lists": Op(lambda M, a, b: M.tensordot(a, b, ([0, 1], [1, 2])), _contracted("td_lists"), True),
    "inner": Op(lambda M, a, b: M.inner(a, b), _contracted("inner"), True),
    "matmul_batch_broadcast": Op(lambda M, a, b: a @ b, _contracted("bcast"), True),
    "matmul_vector_batch": Op(lambda M, a, b: M.matmul(a, b), _contracted("vec_batch"), True),
    "matmul_batch_vector": Op(lambda M, a, b: a.matmul(b), _contracted("batch_vec"), True),
    "matmul_matrix_batch": Op(lambda M, a, b: a @ b, _contracted("mat_batch"), True),
    "matrix_power_batch": Op(lambda M, x: x.matrix_power(3), la_matrices(max_batch=2), True),
    "linalg_vecdot_vectors": Op(lambda M, x, y: M.linalg.vecdot(x, y), _vectors(), True),
    "linalg_diagonal": Op(lambda M, x: M.linalg.diagonal(x, offset=-1, dim1=-1, dim2=-2), la_matrices(square=False),
                          True),
    # (no tiny values: cumprod's rule divides by products that underflow)
    "linalg_vander": _ud(lambda M, x: M.linalg.vander(x, N=3), 0, 2, dom((-3.0, -0.05), (0.05, 3.0),
                                                                         edges=(0.0, 1.0, -1.0, 2.0))),
    # (cond of an empty batch is zeros without history, as PyTorch's: tests/test_linalg3.py)
    "linalg_cond": Op(lambda M, x: M.linalg.cond(_gapped(M, x)) if x.numel() else x.sum((-2, -1)),
                      la_matrices(square=False), True),
    "linalg_cond_nuc_neg2": Op(lambda M, x: (M.linalg.cond(_gapped(M, x), "nuc"), M.linalg.cond(_gapped(M, x), -2))
                               if x.numel() else x.sum((-2, -1)), la_matrices(), True),
    # ---- ops3: three-input elementwise ops and clamp with tensor bounds
    "lerp_number": _b(lambda M, x, y: M.lerp(x, y, 0.3)),
    "lerp_number_large_method": _b(lambda M, x, y: x.lerp(y, 0.75)),
    "lerp_tensor": _mutual_op(lambda M, x, y, w: M.lerp(x, y, w), REAL, REAL, REAL),
    "lerp_tensor_method_self": _b(lambda M, x, w: x.lerp(x * w, w)),
    "addcmul": _mutual_op(lambda M, x, a, b: M.addcmul(x, a, b, value=-1.5), REAL, REAL, REAL),
    "addcmul_method_self": _b(lambda M, x, a: x.addcmul(a, x)),
    "addcdiv": _mutual_op(lambda M, x, a, b: M.addcdiv(x, a, b, value=0.5), REAL, REAL, DIVISOR),
    "addcdiv_method": _mutual_op(lambda M, x, a, b: x.addcdiv(a, b), REAL, REAL, DIVISOR),
    "clamp_tensors": _mutual_op(lambda M, x, lo, hi: M.clamp(x, lo, hi), CLAMP_OUT, CLAMP_LO, CLAMP_HI,
                                 full_first=True),
    "clip_tensor_min": _mutual_op(lambda M, x, lo: M.clip(x, min=lo), CLAMP_OUT, CLAMP_LO, full_first=True),
    "clamp_tensor_max_method": _mutual_op(lambda M, x, hi: x.clamp(max=hi), CLAMP_OUT, CLAMP_HI, full_first=True),
    "clamp_min_tensor": _mutual_op(lambda M, x, lo: M.clamp_min(x, lo), CLAMP_OUT, CLAMP_LO, full_first=True),
    "clamp_max_tensor_method": _mutual_op(lambda M, x, hi: x.clamp_max(hi), CLAMP_OUT, CLAMP_HI, full_first=True),
    "clamp_min_number": _u(lambda M, x: M.clamp_min(x, 1.0), CLAMP_OUT),
    "clamp_max_number_method": _u(lambda M, x: x.clamp_max(-1.0), CLAMP_OUT),
    "copy_broadcast": _mutual_op(lambda M, x, s: (x * 2.0).copy_(s) * x, REAL, REAL, full_first=True),
    "copy_into_plain": _b(lambda M, x, s: M.zeros(M.broadcast_shapes(x.shape, s.shape), dtype=x.dtype).copy_(s) * x),
    # ---- lead: ops PyTorch composes from others (ops/composite.py)
    "gradient": _u(lambda M, x: M.gradient(M.cat([x, x.sin(), x * 2], -1), dim=-1)[0], min_dims=1),
    "gradient_edge2_spacing": _u(lambda M, x: M.gradient(M.cat([x, x.exp(), x * x], 0), spacing=[0.5], dim=[0],
                                                         edge_order=2)[0], min_dims=1),
    "gradient_coordinates": _u(lambda M, x: M.gradient(M.cat([x, x.cos(), x * 3], -1), dim=-1, edge_order=2, spacing=[
        M.tensor(np.cumsum(np.arange(1.0, 3 * x.shape[-1] + 1)) * 0.25, dtype=x.dtype)])[0], min_dims=1),
    "diff": _u(lambda M, x: x.diff(), min_dims=1),
    "diff_n2_dim0_fn": _u(lambda M, x: M.diff(x, n=2, dim=0), min_dims=1),
    "diff_prepend_append": _u(lambda M, x: x.diff(dim=-1, prepend=x * 2, append=x.sin()), min_dims=1),
    "diagflat": _u(lambda M, x: M.diagflat(x)),
    "diagflat_offset": _u(lambda M, x: x.diagflat(-1), min_dims=1),
    "sum_to_size": _u(lambda M, x: x.sum_to_size((1,) * x.dim())),
    "sum_to_size_last": _u(lambda M, x: x.sum_to_size(x.shape[-1]), min_dims=1, mixing=True),
    "msort": Op(lambda M, x: M.msort(x), distinct()),
    "absolute": _u(lambda M, x: M.absolute(x), KINK0),
    "positive": _u(lambda M, x: M.positive(x) * 1.0),
    # ---- linalg4: the LU family and the *_ex forms (ops/lu.py); rows flipped so that LU pivots
    # (the pivot of each column stands out: no tie flips under a finite-difference step)
    "linalg_lu_factor": Op(lambda M, x: M.linalg.lu_factor(_gapped(M, x).flip(-2)).LU, la_matrices(square=False),
                           True),
    "linalg_lu_factor_ex_batch2": Op(lambda M, x: M.linalg.lu_factor_ex(_shifted(M, x))[0], la_matrices(max_batch=2),
                                     True),
    "linalg_lu": Op(lambda M, x: M.linalg.lu(_gapped(M, x).flip(-2))[1:], la_matrices(square=False), True),
    "linalg_lu_U": Op(lambda M, x: M.linalg.lu(_gapped(M, x)).U, la_matrices(square=False), True),
    "linalg_lu_solve": Op(lambda M, a, b: M.linalg.lu_solve(*M.linalg.lu_factor(_shifted(M, a).flip(-2)), b),
                          la_matrices(rhs="mat"), True),
    "linalg_lu_solve_adjoint": Op(
        lambda M, a, b: M.linalg.lu_solve(*M.linalg.lu_factor(_shifted(M, a).flip(-2)), b, adjoint=True),
        la_matrices(rhs="mat"), True),
    "linalg_lu_solve_right": Op(
        lambda M, a, b: M.linalg.lu_solve(*M.linalg.lu_factor(_shifted(M, a).flip(-1)), b, left=False),
        la_matrices(rhs="right"), True),
    "linalg_lu_solve_right_adjoint": Op(
        lambda M, a, b: M.linalg.lu_solve(*M.linalg.lu_factor(_shifted(M, a)), b, left=False, adjoint=True),
        la_matrices(rhs="right"), True),
    "linalg_solve_ex": Op(lambda M, a, b: M.linalg.solve_ex(_spd(M, a), b).result, la_matrices(rhs="vec"), True),
    "linalg_inv_ex": Op(lambda M, x: M.linalg.inv_ex(_shifted(M, x)).inverse, la_matrices(), True),
    "linalg_cholesky_ex_upper": Op(lambda M, x: M.linalg.cholesky_ex(_spd(M, x), upper=True).L, la_matrices(), True),
    # (lstsq of A^T: the right-hand side's rows are A's columns; residuals where there are more rows)
    "linalg_lstsq": Op(lambda M, a, b: M.linalg.lstsq(_gapped(M, a).mT, b)[:2], la_matrices(square=False, rhs="mat"),
                       True),
    "linalg_lstsq_gelsd_vector": Op(lambda M, a, b: M.linalg.lstsq(_gapped(M, a).mT, b, driver="gelsd")[:2],
                                    la_matrices(square=False, rhs="vec"), True),
    # (empty residuals pass no gradient, as PyTorch's: the solution then)
    "linalg_lstsq_gels_residuals": Op(
        lambda M, a, b: (lambda r: r.residuals if r.residuals.numel() else r.solution)(
            M.linalg.lstsq(_gapped(M, a).mT, b, driver="gels")), la_matrices(square=False, rhs="mat"), True),
    "linalg_matrix_exp": Op(lambda M, x: M.linalg.matrix_exp(x * 2.0), la_matrices(max_batch=2), True),
    "matrix_exp_method": Op(lambda M, x: x.matrix_exp(), la_matrices(), True),
    "linalg_tensorinv": Op(lambda M, x: M.linalg.tensorinv(_shifted(M, x).reshape(x.shape[0], 1, x.shape[1])),
                           la_matrices(max_batch=0), True),
    "linalg_tensorsolve_dims": Op(
        lambda M, a, b: M.linalg.tensorsolve(_shifted(M, a).unsqueeze(0), b.reshape(1, -1), dims=(1,)),
        la_matrices(rhs="vec", max_batch=0), True),
    # (A with a row more than columns: a 1 x 1 A's gradients are constants, which PyTorch's formula records;
    # an empty batch passes no gradient, as PyTorch's: tests/test_linalg4.py)
    "linalg_householder_product": Op(
        lambda M, x: M.linalg.householder_product(M.cat([x, x[..., :1, :] * 0.5], -2), x[..., 0, :])
        if x.numel() else x.sum((-2, -1)), la_matrices(), True),
    "qr_deprecated": Op(lambda M, x: _signless(_quiet(M.qr)(_gapped(M, x))), la_matrices(square=False), True),
    "orgqr_method_fewer": Op(lambda M, x: M.cat([x, x[..., :1, :] * 0.5], -2).orgqr(x[..., -1, :1])
                             if x.numel() else x.sum((-2, -1)), la_matrices(), True),
    # ---- meth: functions PyTorch composes from others (ops/functions.py)
    "cov": _u(lambda M, x: M.cov(_observations(M, x)), mixing=True),
    "cov_weights_method": Op(lambda M, x, w: _observations(M, x).cov(
        correction=1, fweights=M.tensor([2] * (x.numel() + 2)),
        aweights=M.cat([w.reshape(-1) * w.reshape(-1), w.new_ones(2)]) + 0.5), _paired(lambda s: s, 0), True),
    "corrcoef": _u(lambda M, x: M.corrcoef(_observations(M, x)), mixing=True),
    "quantile": Op(lambda M, x: M.quantile(x, 0.3), distinct()),
    "quantile_dim_q_tensor": Op(lambda M, x: x.quantile(M.tensor([0.2, 1.0, 0.75], dtype=x.dtype), dim=0, keepdim=True),
                                distinct(1)),
    "nanquantile_midpoint": Op(lambda M, x: M.nanquantile(x, 0.5, -1, interpolation="midpoint"), distinct(1)),
    "trapezoid": _u(lambda M, x: M.trapezoid(x), min_dims=1, mixing=True),
    "trapezoid_x": Op(lambda M, y, x: M.trapezoid(y, x), _paired(lambda s: s), True),
    "trapz_dx_dim0": _u(lambda M, x: M.trapz(x, dx=0.5, dim=0), min_dims=1, mixing=True),
    "cumulative_trapezoid": _u(lambda M, x: M.cumulative_trapezoid(x), min_dims=1, mixing=True),
    "cumulative_trapezoid_x": Op(lambda M, y, x: M.cumulative_trapezoid(y, x, dim=-1), _paired(lambda s: s), True),
    "cartesian_prod": _b(lambda M, x, y: M.cartesian_prod(x.reshape(-1), y.reshape(-1), x.reshape(-1))),
    "combinations": _u(lambda M, x: M.combinations(x.reshape(-1), 2, with_replacement=True)),
    "cosine_similarity": Op(lambda M, x, y: M.cosine_similarity(M.stack([x, y], -1), M.stack([y, x.sin()], -1), -1),
                            _paired(lambda s: s, d=NONZERO), True),
    "pairwise_distance": Op(lambda M, x, y: M.pairwise_distance(x, y * 0.5 + 3.0, keepdim=True),
                            _paired(lambda s: s[-1:]), True),
    "frobenius_norm": _u(lambda M, x: _quiet(M.frobenius_norm)(x, (0,)), NORM_X, min_dims=1, mixing=True),
    "nuclear_norm": Op(lambda M, x: _quiet(M.nuclear_norm)(_gapped(M, x), (-1, -2)), la_matrices(square=False), True),
    # ---- meth: ops with nodes of their own (ops/nodes.py)
    "rot90": _u(lambda M, x: M.rot90(x), min_dims=2),
    "rot90_k3_dims_method": _u(lambda M, x: x.rot90(-1, (-1, 0)) * x.rot90(1, (-1, 0)).flip(0, -1), min_dims=2),
    "logcumsumexp": _u(lambda M, x: M.logcumsumexp(x, -1), EXP, mixing=True),
    "logcumsumexp_dim0_method": _u(lambda M, x: x.logcumsumexp(0), mixing=True),
    "hardshrink": _u(lambda M, x: M.hardshrink(x, 0.5) * x, REAL.avoiding((0.5, -0.5))),
    "hardshrink_method": _u(lambda M, x: x.hardshrink() * x, REAL.avoiding((0.5, -0.5))),
    "threshold": _u(lambda M, x: M.threshold(x, 0.25, -2.0) * x, REAL.avoiding((0.25,))),
    "threshold_inplace": _u(lambda M, x: M.threshold_(x * 1.0, -1.0, 3.0) * x, REAL.avoiding((-1.0,))),
    "select_scatter": Op(lambda M, x, z: M.select_scatter(x, z, 0, -1), _paired(lambda s: s[1:])),
    "select_scatter_method_dim1": Op(lambda M, x, z: x.select_scatter(z * z, -1, 0) * x,
                                     _paired(lambda s: s[:-1], min_dims=1)),
    "slice_scatter": Op(lambda M, x, z: M.slice_scatter(x, z[::2], 0, 0, None, 2),
                        _paired(lambda s: s)),
    "slice_scatter_method_dim": Op(lambda M, x, z: x.slice_scatter(z, -1, -1) * x,
                                   _paired(lambda s: s[:-1] + (1,))),
    "diagonal_scatter": Op(lambda M, x, z: M.diagonal_scatter(x, z.diagonal(), 0),
                           _paired(lambda s: s, min_dims=2)),
    "diagonal_scatter_offset_method": Op(lambda M, x, z: x.diagonal_scatter(z.diagonal(-1, 0, -1), -1, 0, -1) * x,
                                         _paired(lambda s: s, min_dims=2)),
    # ---- losses (ops/losses.py): targets scaled to 1e-3 keep input - target away from the kinks
    "mse_loss": Op(lambda M, x, t: M.nn.functional.mse_loss(x, t), _same_shape(REAL, REAL), True),
    "mse_loss_none": Op(lambda M, x, t: M.nn.functional.mse_loss(x, t, reduction="none"), _same_shape(REAL, REAL), True),
    "l1_loss": Op(lambda M, x, t: M.nn.functional.l1_loss(x, t * 1e-3), _same_shape(KINK0, REAL), True),
    "smooth_l1_loss_sum": Op(lambda M, x, t: M.nn.functional.smooth_l1_loss(x, t * 1e-3, reduction="sum", beta=0.5),
                             _same_shape(REAL.avoiding((0.5, -0.5)), REAL), True),
    "huber_loss_none": Op(lambda M, x, t: M.nn.functional.huber_loss(x, t * 1e-3, reduction="none", delta=2.0),
                          _same_shape(REAL.avoiding((2.0, -2.0)), REAL), True),
    "soft_margin_loss": _u(lambda M, x: M.nn.functional.soft_margin_loss(x, M.full(x.shape, -0.7, dtype=x.dtype))),
    "soft_margin_loss_none": _u(lambda M, x: M.nn.functional.soft_margin_loss(x, M.ones_like(x), reduction="none")),
    "nll_loss": _ud(lambda M, x: M.nn.functional.nll_loss(x, M.arange(x.shape[0]) % x.shape[1]), 2, 2),
    "nll_loss_1d_weight_none": _ud(lambda M, x: M.nn.functional.nll_loss(
        x, M.tensor(x.shape[0] - 1), M.linspace(0.5, 2.0, x.shape[0], dtype=x.dtype), reduction="none"), 1, 1),
    "nll_loss_2d_ignored_sum": _ud(lambda M, x: M.nn.functional.nll_loss(
        x, (M.arange(x.shape[0] * x.shape[2] * x.shape[3]) % x.shape[1]).reshape(x.shape[0], *x.shape[2:]),
        ignore_index=0, reduction="sum"), 4, 4),
    "cross_entropy": _ud(lambda M, x: M.nn.functional.cross_entropy(x, M.arange(x.shape[0]) % x.shape[1]), 2, 2),
    "cross_entropy_3d_smoothing": _ud(lambda M, x: M.nn.functional.cross_entropy(
        x, (M.arange(x.shape[0] * x.shape[2]) % x.shape[1]).reshape(x.shape[0], x.shape[2]), label_smoothing=0.2), 3, 3),
    "cross_entropy_probabilities": Op(lambda M, x, p: M.nn.functional.cross_entropy(x, p.softmax(-1), label_smoothing=0.1),
                                      _same_shape(REAL, REAL, min_dims=1), True),
    # (probabilities in [0.1, 0.9] by arithmetic, which a trace's replay rounds as eager does)
    "binary_cross_entropy": Op(lambda M, x, t: M.nn.functional.binary_cross_entropy(x * 0.04 + 0.5, t * 0.04 + 0.5),
                               _same_shape(REAL, REAL), True),
    "binary_cross_entropy_weight_none": Op(lambda M, x, t: M.nn.functional.binary_cross_entropy(
        x * 0.04 + 0.5, t * 0.04 + 0.5, M.full(x.shape, 0.7, dtype=x.dtype), reduction="none"),
        _same_shape(REAL, REAL), True),
    "binary_cross_entropy_with_logits_sum": Op(lambda M, x, t: M.nn.functional.binary_cross_entropy_with_logits(
        x, t.sigmoid(), reduction="sum"), _same_shape(REAL, REAL), True),
    "binary_cross_entropy_with_logits_weights": Op(lambda M, x, t: M.nn.functional.binary_cross_entropy_with_logits(
        x, t.sigmoid(), M.full(x.shape, 0.7, dtype=x.dtype), pos_weight=M.full(x.shape[-1:], 2.5, dtype=x.dtype)),
        _same_shape(REAL, REAL, min_dims=1), True),
    "kl_div_batchmean": Op(lambda M, x, t: M.nn.functional.kl_div(x, t.softmax(-1), reduction="batchmean"),
                           _same_shape(REAL, REAL, min_dims=1), True),
    "poisson_nll_loss": Op(lambda M, x, t: M.nn.functional.poisson_nll_loss(x * 0.5, t.exp()), _same_shape(REAL, REAL),
                           True),
    "gaussian_nll_loss_none": Op(lambda M, x, t: M.nn.functional.gaussian_nll_loss(x, t, t.exp(), reduction="none"),
                                 _same_shape(REAL, REAL, min_dims=1), True),
    # (margin -2: cos - margin stays positive, no kink of its clamp)
    "cosine_embedding_loss": Op(lambda M, x, t: M.nn.functional.cosine_embedding_loss(
        x.reshape(1, -1), t.reshape(1, -1), M.tensor([-1.0]), margin=-2.0), _same_shape(NONZERO, NONZERO, min_dims=1),
        True),      # (nonzero vectors: at a zero one the norm's 1e-12 guard makes the loss too steep to difference)
    # (rrelu in evaluation: the mean slope, no draws)
    "rrelu_eval": _u(lambda M, x: M.nn.functional.rrelu(x, 0.1, 0.3), REAL.avoiding((0.0,))),
    # ---- normalization (ops/normalization.py): batches and groups grown by concatenation, of values at least 1/2
    # apart (more than one value per channel, away from a zero variance)
    "layer_norm": Op(lambda M, x, w: _layer_norm(M, M.cat([x, x + 1.0], -1), M.cat([w, w * 0.5])),
                     _paired(lambda s: s[-1:]), True),
    "batch_norm": _ud(lambda M, x: M.nn.functional.batch_norm(M.cat([x, x + 1.0]), None, None, training=True), 2, 3),
    "batch_norm_eval": _ud(lambda M, x: M.nn.functional.batch_norm(
        x, M.linspace(-1.0, 1.0, x.shape[1], dtype=x.dtype), M.linspace(0.5, 2.0, x.shape[1], dtype=x.dtype),
        x[0, :, 0] if x.dim() == 3 else x[0], None), 2, 3),
    "group_norm": _ud(lambda M, x: M.nn.functional.group_norm(
        M.cat([x, x + 1.0, x.cos() + 2.0, x.sin() - 2.0], 1), 2), 2, 3),
    # ---- embedding (ops/embedding.py): repeated indices, and a padding row
    "embedding": _ud(lambda M, x: M.nn.functional.embedding(M.tensor([[1, 0], [1, 1]]) % x.shape[0], x), 2, 2),
    # (the padding row is one no index takes: finite differences see its gradient)
    "embedding_padding": _ud(lambda M, x: M.nn.functional.embedding(
        M.tensor([0, x.shape[0] - 1, 0]), M.cat([x, x * 2.0]), padding_idx=-1) * x[:1], 2, 2),
    "embedding_bag_mean": _ud(lambda M, x: M.nn.functional.embedding_bag(
        M.tensor([0, x.shape[0] - 1, 0, 0]), x, M.tensor([0, 1, 1])), 2, 2),
    # (the maximum of x and 1 - x: x where x > 1/2)
    "embedding_bag_max": _ud(lambda M, x: M.nn.functional.embedding_bag(
        M.tensor([[0, x.shape[0]]]), M.cat([x, 1.0 - x]), mode="max"), 2, 2, REAL.avoiding((0.5,))),
    # ---- special: the gamma family, Bessel functions, torch.special (ops/special.py)
    "lgamma": _u(lambda M, x: M.lgamma(x), GAMMA_ARG),
    "digamma": _u(lambda M, x: x.digamma(), GAMMA_ARG),
    "polygamma_1": _u(lambda M, x: M.polygamma(1, x), GAMMA_ARG),
    "polygamma_3": _u(lambda M, x: x.polygamma(3), dom((0.3, 10.0), edges=(1.0, 0.5, 4.0))),
    "mvlgamma": _u(lambda M, x: M.mvlgamma(x, 3), dom((1.2, 10.0), edges=(1.5, 2.0, 7.0))),
    "special_multigammaln": _u(lambda M, x: M.special.multigammaln(x, 1), GAMMA_ARG),
    "special_psi": _u(lambda M, x: M.special.psi(x), GAMMA_ARG),
    "special_gammaln": _u(lambda M, x: M.special.gammaln(x), GAMMA_ARG),
    # (sinc's second derivative at 0 is nan in PyTorch; i1's near 0 cancels, in PyTorch's formula too)
    "sinc": _u(lambda M, x: M.sinc(x), dom((-4.0, 4.0), edges=(1.0, -0.5, 4.0)).avoiding((0.0,))),
    "i0": _u(lambda M, x: M.i0(x), dom((-30.0, 30.0), edges=(1.0, -5.0, 30.0)).avoiding((0.0,))),
    "special_i0e": _u(lambda M, x: M.special.i0e(x), dom((-40.0, 40.0), edges=(1.0, -5.0, 35.0)).avoiding((0.0,))),
    "special_i1": _u(lambda M, x: M.special.i1(x), dom((-30.0, 30.0), edges=(1.0, -5.0, 30.0)).avoiding((0.0,))),
    "special_i1e": _u(lambda M, x: M.special.i1e(x), dom((-40.0, 40.0), edges=(1.0, -5.0, 35.0)).avoiding((0.0,))),
    "special_erfcx": _u(lambda M, x: M.special.erfcx(x), dom((-4.0, 30.0), edges=(0.0, -3.0, 26.5, 5.0))),
    "special_ndtri": _u(lambda M, x: M.special.ndtri(x), dom((0.02, 0.98), edges=(0.5, 0.02, 0.3, 0.9))),
    # (below -8, y + x^2 / 2 in PyTorch's derivative cancels in float32)
    "special_log_ndtr": _u(lambda M, x: M.special.log_ndtr(x), dom((-8.0, 8.0), edges=(0.0, -1.0, -7.5, 3.0))),
    "special_entr": _u(lambda M, x: M.special.entr(x), dom((0.05, 10.0), edges=(1.0, 0.5, 0.05))),
    "special_expit": _u(lambda M, x: M.special.expit(x)),
    "special_xlog1py": _b(lambda M, x, y: M.special.xlog1py(x, y), REAL, dom((-0.9, 10.0), edges=(0.0, 1.0, -0.5))),
    "special_xlog1py_number": _u(lambda M, x: M.special.xlog1py(x, 2.5)),
    "special_xlog1py_rnumber": _u(lambda M, x: M.special.xlog1py(2.5, x), dom((-0.9, 10.0), edges=(0.0, 1.0))),
    "fmax": Op(lambda M, x, y: M.fmax(x, y), binary_no_ties(REAL), True),
    "fmin_method": Op(lambda M, x, y: x.fmin(y), binary_no_ties(REAL), True),
    # ops14: PyTorch differentiates igamma, igammac and zeta in their second argument only
    "igamma_other": _u(lambda M, x: M.igamma(M.tensor(1.7, dtype=x.dtype), x), dom((0.2, 6.0), edges=(1.0, 0.2))),
    "igammac_other": _u(lambda M, x: x.new_tensor(2.5).igammac(x), dom((0.2, 6.0), edges=(1.0, 2.5))),
    "special_gammainc_other": _u(lambda M, x: M.special.gammainc(x.new_tensor(0.5), x), dom((0.2, 6.0), edges=(1.0,))),
    "special_zeta_other": _u(lambda M, x: M.special.zeta(M.tensor(2.5, dtype=x.dtype), x), dom((0.3, 6.0), edges=(1.0,))),
    "special_zeta_number": _u(lambda M, x: M.special.zeta(3.0, x), dom((0.3, 6.0), edges=(1.0, 2.0))),
    "ldexp": _b(lambda M, x, y: M.ldexp(x, y), REAL, dom((-3.0, 3.0), edges=(0.0, 1.0, -2.0))),
    "frexp": _u(lambda M, x: M.frexp(x).mantissa, dom((0.3, 3.5), (-3.5, -0.3), avoid=(0.5, 1.0, 2.0, -0.5, -1.0, -2.0))),
    "nextafter": Op(lambda M, x, y: M.nextafter(x, y), binary_no_ties(REAL), True),     # (0 where equal, as PyTorch)
    "special_ndtr": _u(lambda M, x: M.special.ndtr(x), dom((-6.0, 6.0), edges=(0.0, 1.0, -2.0))),
    # ---- ext15b: in-place view ops (ops/inplace_view.py) and as_strided (ops/as_strided.py)
    "t_inplace": _ud(lambda M, x: (x * 1).t_(), 0, 2),
    "unsqueeze_squeeze_": _u(lambda M, x: (x * 1).unsqueeze_(-1).squeeze_(-1)),
    "as_strided": _u(lambda M, x: x.as_strided(((x.numel() + 1) // 2,), (2,)), min_dims=1),
    "as_strided_fn_offset": _u(lambda M, x: M.as_strided(x, (x.numel() // 2,), (1,), x.numel() // 2), min_dims=1),
    # ---- lead: div with a rounding mode (zero gradients; operands where the quotient stays between integers)
    "div_floor": _b(lambda M, x, y: M.div(x, y, rounding_mode="floor") + x * y, dom((-2.9, -0.3), (0.3, 2.9)),
                    dom((3.1, 9.0))),
    "div_trunc_number": _u(lambda M, x: x.div(3.0, rounding_mode="trunc") * x,
                           REAL.avoiding(tuple(3.0 * k for k in range(-3, 4)))),
    # ---- ops14c: distances (ops/distance.py); the rows of one array of distinct values, so no difference is
    # 0; for p = inf values bent (x + x^2 / 100) so that no two differences tie in size
    "cdist": Op(lambda M, x: M.cdist(x[..., :1, :], x[..., 1:, :]), distinct(2, 2), True),
    "cdist_p1_broadcast": Op(lambda M, x: M.cdist(x[..., 1:, :], x.flatten(0, -2)[:1], p=1), distinct(2, 2), True),
    "cdist_inf": Op(lambda M, x: M.cdist(_bent(x)[..., 1:, :], _bent(x)[..., :1, :], float("inf")), distinct(2, 2), True),
    "cdist_p3_5_p0": Op(lambda M, x: M.cdist(x[..., 1:, :], x[..., :1, :], 3.5) + M.cdist(x[..., 1:, :], x[..., :1, :], 0),
                        distinct(2, 2), True),
    "cdist_p0_5": Op(lambda M, x: M.cdist(x[..., :1, :], x[..., 1:, :], p=0.5), distinct(2, 2), True),
    "cdist_mm_broadcast": Op(lambda M, x: M.cdist(x[..., 1:, :], x.flatten(0, -2)[:1], 2, "use_mm_for_euclid_dist"),
                             distinct(2, 2), True),
    "pdist": Op(lambda M, x: M.pdist(x.flatten(0, -2)), distinct(2, 2), True),
    "sdpa_flash": _ud(lambda M, x: M.nn.functional.scaled_dot_product_attention(x, x * 0.5, x.flip(-2)), 4, 4),
    "pack_padded_sequence": _ud(lambda M, x: M.nn.utils.rnn.pack_padded_sequence(
        x, [x.shape[0] - min(i, x.shape[0] - 1) for i in range(x.shape[1])]).data, 2, 3),
    "pdist_inf": Op(lambda M, x: M.pdist(_bent(x.flatten(0, -2)), p=float("inf")), distinct(2, 2), True),
    # ---- ops14c: prelu, renorm (ops/scaling.py; maxnorm 2.25 is no norm of REAL's edges), block_diag (ops/block_diag.py)
    "prelu": Op(lambda M, x, w: M.prelu(x, w), _paired(lambda s: s[1:2] if len(s) > 1 else (1,), 0, KINK0), True),
    "prelu_method_one_weight": Op(lambda M, x, w: x.prelu(w), _paired(lambda s: (), 0, KINK0), True),
    "renorm": _u(lambda M, x: M.renorm(x, 2, 0, 2.25), KINK0, min_dims=2, mixing=True),
    "renorm_p1_method": _u(lambda M, x: x.renorm(1, -1, 2.25), KINK0, min_dims=2, mixing=True),
    "renorm_p3_5": _u(lambda M, x: M.renorm(x, 3.5, 1, 2.25), KINK0, min_dims=2, mixing=True),
    "renorm_p0_5": _u(lambda M, x: M.renorm(x, 0.5, 0, 2.25), NONZERO, min_dims=2, mixing=True),
    "renorm_inf_inplace": Op(lambda M, x: (x * 1).renorm_(float("inf"), -1, 2.25), distinct_abs(2), True),
    "block_diag": _ud(lambda M, x: M.block_diag(x, x[0] * 2, x.sum()), 1, 2),
    "block_diag_int": _ud(lambda M, x: M.block_diag(M.tensor([[1, 2]]), x), 0, 2),
    "fill_diagonal_": _ud(lambda M, x: (x * 1).fill_diagonal_(0.5) * x, 2, 2),
    "fill_diagonal_wrap": _ud(lambda M, x: M.cat([x, x.sin(), x]).fill_diagonal_(-2, wrap=True), 2, 2),
    # ---- ops14c: solving with a Cholesky factor (ops/cholesky_solve.py): triangular factors far from singular
    "cholesky_inverse": Op(lambda M, x: M.cholesky_inverse(_shifted(M, x).tril()), la_matrices(max_batch=2), True),
    "cholesky_inverse_upper_method": Op(lambda M, x: _shifted(M, x).triu().cholesky_inverse(True), la_matrices(), True),
    "cholesky_solve": Op(lambda M, a, b: M.cholesky_solve(b, _shifted(M, a).tril()), la_matrices(rhs="mat"), True),
    "cholesky_solve_upper_method_bcast": Op(lambda M, a, b: b.cholesky_solve(_shifted(M, a).triu(), upper=True),
                                            la_matrices(rhs="bcast"), True),
    "mode": Op(lambda M, x: M.mode(x)[0], distinct()),
    "mode_dim0_keepdim_method": Op(lambda M, x: x.mode(0, True).values, distinct(1)),
    # ---- ops14c: the deprecated LU functions (ops/lu_deprecated.py)
    "triangular_solve": Op(lambda M, a, b: _quiet(M.triangular_solve)(b, _shifted(M, a)), la_matrices(rhs="mat"), True),
    "triangular_solve_lower_transpose_unit_method": Op(
        lambda M, a, b: _quiet(b.triangular_solve)(_shifted(M, a), False, True, True).solution,
        la_matrices(rhs="bcast"), True),
    "lu_deprecated": Op(lambda M, x: _quiet(M.lu)(_gapped(M, x).flip(-2))[0], la_matrices(square=False), True),
    "lu_solve_deprecated_method": Op(lambda M, a, b: _quiet(b.lu_solve)(*M.linalg.lu_factor(_shifted(M, a).flip(-2))),
                                     la_matrices(rhs="mat"), True),
    "lu_unpack": Op(lambda M, x: M.lu_unpack(*M.linalg.lu_factor(_gapped(M, x).flip(-2)))[1:],
                    la_matrices(square=False), True),
    # ---- ckpt3: as_strided_ (ops/as_strided.py), unsafe_split/unsafe_chunk/unsafe_split_with_sizes (ops/split.py)
    "as_strided_": _u(lambda M, x: (x * 1).as_strided_(((x.numel() + 1) // 2,), (2,)), min_dims=1),
    "unsafe_split": _u(lambda M, x: x.unsafe_split(2, -1), min_dims=1),
    "unsafe_chunk_fn": _u(lambda M, x: M.unsafe_chunk(x, 3), min_dims=1),
    "unsafe_split_with_sizes_fn": _u(lambda M, x: M.unsafe_split_with_sizes(x, [1, x.shape[0] - 1]), min_dims=1),
    # ---- misc: the *_copy functions (ops/view_copies.py), rsub, fill, as_strided_scatter, slice_inverse (ops/top_level.py)
    "t_copy": _u(lambda M, x: M.t_copy(x.reshape(x.shape[0], -1)) * 2, min_dims=1),
    "select_copy": _u(lambda M, x: M.select_copy(x, 0, -1), min_dims=1),
    "expand_copy": _u(lambda M, x: M.expand_copy(x, (2,) + tuple(x.shape))),
    "as_strided_copy": _u(lambda M, x: M.as_strided_copy(x, ((x.numel() + 1) // 2,), (2,)), min_dims=1),
    "split_copy": _u(lambda M, x: M.split_copy(x, 2, -1), min_dims=1),
    "split_with_sizes_copy": _u(lambda M, x: M.split_with_sizes_copy(x, [1, x.shape[0] - 1]), min_dims=1),
    "unbind_copy": _u(lambda M, x: M.unbind_copy(x, -1), min_dims=1),
    "rsub": _b(lambda M, x, y: M.rsub(x, y * y, alpha=2)),
    "rsub_number": _u(lambda M, x: M.rsub(x, 1.5, alpha=-2) * x),
    "fill": _u(lambda M, x: M.fill(x, 2.0) * x),
    "fill_tensor": Op(lambda M, x, z: M.fill(x, z.sum()) * x, _paired(lambda s: s, min_dims=0)),
    # (the source's gradient only: PyTorch 2.13's gradient of self is that of the scattered positions, wrong;
    # tape's is tested in tests/test_misc_ops.py)
    "as_strided_scatter": _u(lambda M, x: M.as_strided_scatter(M.zeros(2 * x.numel() + 1, dtype=x.dtype),
                                                               x.reshape(-1) * x.reshape(-1), (x.numel(),), (2,), 1)),
    "slice_inverse": _u(lambda M, x: _slice_inverse(M, M.cat([x, x * 2])) * x.sum(), min_dims=1),
    "native_dropout_eval": _u(lambda M, x: M.native_dropout(x, 0.3, False)[0] * x),
    "norm_except_dim": _u(lambda M, x: M.norm_except_dim(M.stack([x, x * 2]) + 3.0, 2, 1), min_dims=1),
    # ---- conv (ops/conv.py): the input's elements as one signal, a kernel of two taps per filter
    "conv1d_padded": Op(lambda M, x, w: M.nn.functional.conv1d(x.reshape(1, 1, x.numel()), w.reshape(2, 1, 2), padding=1),
                        _paired(lambda s: (2, 2)), True),
    "conv2d_bias_dilated": Op(lambda M, x, w: M.nn.functional.conv2d(x.reshape(1, 1, 1, x.numel()), w.reshape(2, 1, 1, 2),
                                                                     w[:, 0], padding=(0, 2), dilation=2), _paired(lambda s: (2, 2)), True),
    "conv_transpose1d_stride": Op(lambda M, x, w: M.nn.functional.conv_transpose1d(
        x.reshape(1, 1, x.numel()), w.reshape(1, 2, 2), stride=2, output_padding=1), _paired(lambda s: (2, 2)), True),
    # ---- grid sampling (ops/grid_sample.py): align_corners=True over 3-pixel sides, the grid's values
    # (GRID) keeping its pixel positions off the integers (the weights' kinks), a few outside the plane
    "grid_sample_bilinear": Op(lambda M, x, g: M.nn.functional.grid_sample(x, g, align_corners=True),
                               st.tuples(array((1, 2, 3, 3), REAL), array((1, 2, 2, 2), GRID)), True),
    "grid_sample_bicubic_border": Op(lambda M, x, g: M.nn.functional.grid_sample(x, g, "bicubic", "border", True),
                                     st.tuples(array((1, 1, 3, 3), REAL), array((1, 1, 2, 2), GRID)), True),
    "grid_sample_nearest_reflection": Op(lambda M, x, g: M.nn.functional.grid_sample(x, g, "nearest", "reflection",
                                                                                     True),
                                         st.tuples(array((1, 1, 3, 3), REAL), array((1, 2, 1, 2), GRID_NEAREST)), True),
    "grid_sample_3d_reflection": Op(lambda M, x, g: M.nn.functional.grid_sample(x, g, "bilinear", "reflection", True),
                                    st.tuples(array((1, 1, 3, 3, 3), REAL), array((1, 1, 1, 2, 3), GRID)), True),
    "affine_grid": Op(lambda M, t: M.nn.functional.affine_grid(t, (2, 1, 2, 3), align_corners=False),
                      st.tuples(array((2, 2, 3), REAL)), True),
    # (fold's derivative is unfold's row: both codes)
    "fold": _u(lambda M, x: M.nn.functional.fold(M.cat([x.reshape(1, 1, -1), x.reshape(1, 1, -1).sin()], 1),
                                                 (1, x.numel() + 1), (1, 2)) * x.sum(), mixing=True),
}


def _bent(x):
    """``x`` (distinct values 0.375 apart) bent so that no two differences of its values tie in size."""
    return x + x * x * 0.01


def _observations(M, x):
    """Two variables (rows) observed ``x.numel() + 2`` times: ``x`` and its cosine, then two fixed
    observations (so that there are always more observations than the correction)."""
    v = x.reshape(1, -1)
    return M.cat([M.cat([v, v.cos()]), M.tensor([[0.5, -1.0], [2.0, 1.0]], dtype=x.dtype)], 1)


def _perm(shape: tuple, dim: int) -> np.ndarray:
    """An index of ``shape`` that is a permutation along ``dim`` (a scatter without repeats)."""
    grid = np.indices(shape)
    return grid.sum(0) % shape[dim]


def _picks(n: int) -> list:
    """Positions in ``range(n)`` with a repeat (gradients of repeated indices add up)."""
    return [n - 1, 0, n - 1, n // 2]


def _repeats(n: int) -> list:
    """An index of ``n + 1`` positions below ``n``, the last one repeated (index_reduce's)."""
    return [(3 * k + 1) % n for k in range(n + 1)]


def _along(shape: tuple, dim: int, size=None) -> np.ndarray:
    """An int64 index for gather along ``dim`` of ``shape`` (``size`` entries along ``dim``),
    with repeats."""
    shape = shape or (1,)
    d = dim % len(shape)
    out = list(shape)
    out[d] = shape[d] + 1 if size is None else size
    n = shape[d]
    return (np.arange(int(np.prod(out))).reshape(out) * 7 + 3) % n


def _pattern(shape: tuple) -> np.ndarray:
    """A boolean mask of ``shape`` that is neither all True nor all False where it can be."""
    return (np.arange(int(np.prod(shape))).reshape(shape) % 3) == 1

OP_NAMES = sorted(OPS)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

DTYPES = ("float64", "float32")
FD_EPS = 1e-6


def to_tensor(M, a: np.ndarray, dtype: str, requires_grad: bool = False):
    # built from a numpy array of the target dtype (construction from Python
    # floats is checked separately in test_vs_torch.py)
    return M.tensor(
        np.array(a, dtype=np.dtype(dtype)), dtype=getattr(M, dtype), requires_grad=requires_grad
    )


def to_np(t) -> np.ndarray:
    t = t.detach()
    try:
        values = t.tolist()
    except RuntimeError as e:  # torch's ZeroTensor (double backward of abs)
        if "unallocated storage" not in str(e):
            raise
        values = t.clone().tolist()
    return np.asarray(values, dtype=np.float64).reshape(tuple(t.shape))     # (an empty one keeps its shape)


def as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def round_to(a: np.ndarray, dtype: str) -> np.ndarray:
    """Round a float64 array to ``dtype`` and back (float64 result)."""
    return np.asarray(a, dtype=np.dtype(dtype)).astype(np.float64)


def weighted_loss(M, outs, weights, dtype):
    """sum_k (out_k * W_k).sum() with W_k fixed tensors of dtype."""
    terms = [(o * to_tensor(M, w, dtype)).sum() for o, w in zip(outs, weights)]
    return functools.reduce(operator.add, terms)


def make_weights(rng: np.random.Generator, shapes_, dtype: str):
    """Non-uniform weights of magnitude in [0.5, 2] with random signs."""
    ws = []
    for s in shapes_:
        w = rng.uniform(0.5, 2.0, size=s) * rng.choice([-1.0, 1.0], size=s)
        ws.append(round_to(np.asarray(w, dtype=np.float64), dtype))
    return ws


def fd_step(v: float, floor: float, rel: float) -> float:
    """A power-of-two step ~ rel * max(|v|, floor): v +- h, v +- 2h are exact."""
    return 2.0 ** round(math.log2(rel * max(abs(v), floor)))


# (relative step, [(coefficient, offset in steps), ...], denominator in steps)
STENCILS = {
    2: (FD_EPS, [(1.0, 1), (-1.0, -1)], 2.0),
    4: (1e-4, [(-1.0, 2), (8.0, 1), (-8.0, -1), (1.0, -2)], 12.0),
}


def central_fd(f, arrays, wrt, floors, order=2):
    """Central differences of a vector-valued function, contracted afterwards.

    ``f(arrays) -> list of (value, weight) pairs``.  Returns for every input
    index i in ``wrt`` (ref, scale) with
    ``ref[idx] = sum_k sum(weight_k * D f_k)[idx]`` where D is the central
    difference quotient along e_idx (order 2: eps ~1e-6; order 4: five-point
    stencil, eps ~1e-4), and ``scale`` the same sum of absolute values (the
    magnitude of the terms summed into the entry).  Differencing the vector
    output before contracting keeps round-off relative to the entries that
    actually change.
    """
    rel, stencil, denom = STENCILS[order]
    refs, scales = {}, {}
    for i in wrt:
        a = arrays[i]
        ref = np.zeros(a.shape)
        scale = np.zeros(a.shape)
        for idx in np.ndindex(*a.shape):
            v = float(a[idx])
            h = fd_step(v, floors[i], rel)
            evals = []
            for c, off in stencil:
                moved = [np.array(x, copy=True) for x in arrays]
                moved[i][idx] = v + off * h
                evals.append((c, f(moved)))
            acc = 0.0
            acc_abs = 0.0
            # pair opposite stencil points: c * (f(v+o h) - f(v-o h))
            half = len(evals) // 2
            for (c, fp), (_, fm) in zip(evals[:half], reversed(evals[half:])):
                for (yp, w), (ym, _) in zip(fp, fm):
                    d = c * (yp - ym) * w
                    acc += float(np.sum(d))
                    acc_abs += float(np.sum(np.abs(d)))
            ref[idx] = acc / (denom * h)
            scale[idx] = acc_abs / (denom * h)
        refs[i] = ref
        scales[i] = scale
    return refs, scales


def tolerances(dtype: str):
    if dtype == "float64":
        return 1e-5, 1e-6
    return 1e-3, 1e-3


def _bad_entries(actual, ref, scale, dtype):
    rtol, atol = tolerances(dtype)
    bound = rtol * np.abs(ref) + atol * np.maximum(1.0, scale)
    err = np.abs(actual - ref)
    return ~(err <= bound), bound  # also catches NaN


def assert_close(actual, ref, scale, dtype, what):
    actual = np.asarray(actual, dtype=np.float64)
    assert actual.shape == ref.shape, f"{what}: shape {actual.shape} != {ref.shape}"
    bad, bound = _bad_entries(actual, ref, scale, dtype)
    if bad.any():
        idx = tuple(int(k) for k in np.argwhere(bad)[0])
        raise AssertionError(
            f"{what} ({dtype}): {int(bad.sum())}/{bad.size} entries differ; first at "
            f"{idx}: got {actual[idx]!r}, expected {ref[idx]!r} (bound {bound[idx]:.3g})\n"
            f"got:\n{actual}\nexpected:\n{ref}"
        )


def check_against_fd(actual, f, arrays, wrt, floors, dtype, what):
    """``actual[i]`` (numpy) vs finite differences of ``f`` for i in wrt.

    The cheap second-order stencil is tried first; only when it disagrees is
    the (more accurate) fourth-order stencil computed, and it decides.
    """
    refs, scales = central_fd(f, arrays, wrt, floors, order=2)
    if all(
        np.shape(actual[i]) == refs[i].shape
        and not _bad_entries(np.asarray(actual[i], np.float64), refs[i], scales[i], dtype)[0].any()
        for i in wrt
    ):
        return
    refs, scales = central_fd(f, arrays, wrt, floors, order=4)
    for i in wrt:
        assert_close(actual[i], refs[i], scales[i], dtype, f"{what}{i}")


@dataclass
class Case:
    arrays: tuple  # float64 arrays, already rounded to dtype
    dtype: str
    requires: tuple  # bool per input
    seed: int

    @property
    def wrt(self):
        return [i for i, r in enumerate(self.requires) if r]


def draw_case(data, op: Op, allow_no_grad: bool = False, second: bool = False) -> Case:
    strategy = op.second_inputs if (second and op.second_inputs is not None) else op.inputs
    arrays = data.draw(strategy, label="inputs")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    n = len(arrays)
    if n == 1 and not allow_no_grad:
        requires = (True,)
    else:
        masks = st.lists(st.booleans(), min_size=n, max_size=n).map(tuple)
        if not allow_no_grad:
            masks = masks.filter(any)
        requires = data.draw(masks, label="requires_grad")
    seed = data.draw(st.integers(0, 2**32 - 1), label="weight_seed")
    arrays = tuple(round_to(a, dtype) for a in arrays)
    return Case(arrays, dtype, requires, seed)


def leaves(M, case: Case, dtype=None):
    dtype = case.dtype if dtype is None else dtype
    return [
        to_tensor(M, a, dtype, requires_grad=r) for a, r in zip(case.arrays, case.requires)
    ]


def output_shapes(op: Op, case: Case):
    with tape.no_grad():
        outs = as_list(op.fn(tape, *leaves(tape, case, "float64")))
    return [tuple(o.shape) for o in outs]


def forward_values(op: Op, arrays):
    with tape.no_grad():
        ts = [to_tensor(tape, a, "float64") for a in arrays]
        return [to_np(o) for o in as_list(op.fn(tape, *ts))]


def first_grads(op: Op, arrays, requires, weights, dtype="float64"):
    """Gradients (numpy) of the weighted loss wrt the inputs requiring grad."""
    ts = [to_tensor(tape, a, dtype, requires_grad=r) for a, r in zip(arrays, requires)]
    loss = weighted_loss(tape, as_list(op.fn(tape, *ts)), weights, dtype)
    wrt_ts = [t for t, r in zip(ts, requires) if r]
    gs = tape.autograd.grad(loss, wrt_ts, allow_unused=True)
    return [np.zeros(t.shape) if g is None else to_np(g) for t, g in zip(wrt_ts, gs)]


# --------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", OP_NAMES)
@settings(deadline=None)
@given(data=st.data())
def test_grad_matches_finite_differences(name, data):
    op = OPS[name]
    case = draw_case(data, op)
    rng = np.random.default_rng(case.seed)
    weights = make_weights(rng, output_shapes(op, case), case.dtype)

    ts = leaves(tape, case)
    outs = as_list(op.fn(tape, *ts))
    for o in outs:
        assert o.dtype == getattr(tape, case.dtype), f"output dtype {o.dtype}"
        assert o.requires_grad
    loss = weighted_loss(tape, outs, weights, case.dtype)
    loss.backward()

    def f(arrs):
        return list(zip(forward_values(op, arrs), weights))

    actual = {}
    for i, t in enumerate(ts):
        if not case.requires[i]:
            assert t.grad is None, f"input {i} does not require grad but has .grad"
            continue
        assert t.grad is not None, f"input {i}: .grad is None after backward"
        assert t.grad.dtype == t.dtype, f"input {i}: grad dtype {t.grad.dtype} != {t.dtype}"
        assert tuple(t.grad.shape) == tuple(t.shape), f"input {i}: grad shape"
        actual[i] = to_np(t.grad)
    check_against_fd(
        actual, f, case.arrays, case.wrt, op.fd_floor, case.dtype, f"{name}: d loss/d input"
    )


@pytest.mark.parametrize("name", OP_NAMES)
@settings(deadline=None)
@given(data=st.data())
def test_second_derivative_matches_finite_differences(name, data):
    op = OPS[name]
    case = draw_case(data, op, second=True)
    rng = np.random.default_rng(case.seed)
    weights = make_weights(rng, output_shapes(op, case), case.dtype)
    vs = make_weights(rng, [a.shape for a in case.arrays], case.dtype)
    wrt = case.wrt

    ts = leaves(tape, case)
    wrt_ts = [ts[i] for i in wrt]
    loss = weighted_loss(tape, as_list(op.fn(tape, *ts)), weights, case.dtype)
    gs = tape.autograd.grad(loss, wrt_ts, create_graph=True)
    assert len(gs) == len(wrt_ts)
    for g, t in zip(gs, wrt_ts):
        assert g is not None
        assert tuple(g.shape) == tuple(t.shape)
        assert g.dtype == t.dtype
    s = functools.reduce(
        operator.add, [(g * to_tensor(tape, vs[i], case.dtype)).sum() for g, i in zip(gs, wrt)]
    )
    if op.no_second:
        assert s.requires_grad
        with op.raises_at_second_order():
            tape.autograd.grad(s, wrt_ts, allow_unused=True)
        return
    if s.requires_grad:
        second = tape.autograd.grad(s, wrt_ts, allow_unused=True)
        second = [
            np.zeros(t.shape) if h is None else to_np(h) for h, t in zip(second, wrt_ts)
        ]
    else:
        # gradient does not depend on any input: second derivative is zero
        second = [np.zeros(t.shape) for t in wrt_ts]

    def f(arrs):
        g_vals = first_grads(op, arrs, case.requires, weights)
        return [(g, vs[i]) for g, i in zip(g_vals, wrt)]

    check_against_fd(
        dict(zip(wrt, second)), f, case.arrays, wrt, op.fd_floor, case.dtype,
        f"{name}: d(sum_i grad_i.v_i)/d input",
    )


@pytest.mark.parametrize("name", OP_NAMES)
@settings(deadline=None)
@given(data=st.data())
def test_backward_modes_agree(name, data):
    op = OPS[name]
    case = draw_case(data, op)
    rng = np.random.default_rng(case.seed)
    weights = make_weights(rng, output_shapes(op, case), case.dtype)
    wrt = case.wrt

    def run(mode):
        ts = leaves(tape, case)
        loss = weighted_loss(tape, as_list(op.fn(tape, *ts)), weights, case.dtype)
        wrt_ts = [ts[i] for i in wrt]
        if mode == "backward":
            loss.backward()
            gs = [t.grad for t in wrt_ts]
        elif mode == "backward_create_graph":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch warns about a ref cycle
                loss.backward(create_graph=True)
            gs = [t.grad for t in wrt_ts]
        elif mode == "grad":
            gs = list(tape.autograd.grad(loss, wrt_ts))
        else:
            gs = list(tape.autograd.grad(loss, wrt_ts, create_graph=True))
        for g, t in zip(gs, wrt_ts):
            assert g is not None, f"{mode}: missing gradient"
            assert g.dtype == t.dtype, f"{mode}: grad dtype {g.dtype}"
            assert tuple(g.shape) == tuple(t.shape), f"{mode}: grad shape {tuple(g.shape)}"
        return [to_np(g) for g in gs]

    base = run("backward")
    others = {mode: run(mode) for mode in ("grad", "grad_create_graph", "backward_create_graph")}
    # Equal up to rounding: the modes may evaluate the backward formulas by
    # different code paths, so differences of a few ulps of the magnitude of
    # the summed terms (e.g. over broadcast dimensions) are allowed.  That
    # magnitude, sum_j |w_j d out_j / d x_i|, is only computed (by finite
    # differences) when the cheap relative check fails.
    eps = float(np.finfo(np.dtype(case.dtype)).eps)
    term_scale = None
    for mode, other in others.items():
        for k, (a, b) in enumerate(zip(base, other)):
            bound = 8 * eps * np.abs(a) + 8 * eps
            if np.all(np.abs(b - a) <= bound):
                continue
            if term_scale is None:
                _, term_scale = central_fd(
                    lambda arrs: list(zip(forward_values(op, arrs), weights)),
                    case.arrays, wrt, op.fd_floor,
                )
            bound = bound + 8 * eps * term_scale[wrt[k]]
            bad = ~(np.abs(b - a) <= bound)
            assert not bad.any(), (
                f"{name}: {mode} vs backward, input {wrt[k]} ({case.dtype}): "
                f"{int(bad.sum())}/{bad.size} entries differ\n{mode}:\n{b}\nbackward:\n{a}"
            )
