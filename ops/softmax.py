"""Softmax, log-softmax and logsumexp: Python-rule rows (``ops/_rule.py``).

Row attributes: SOFTMAX/LOG_SOFTMAX keep the dim in ``ia``; LOGSUMEXP keeps the bit mask of
reduced dims in ``ia`` (as sum's rows do, so ``Row.keep_shape`` applies).

Big arrays over the last dim (``ROWS_FROM`` elements) are computed in blocks of whole rows, on
all cores (``in_parts``): each block's passes (max, exp, sum, ...) stay in cache, and the
adjoints are written straight into the input's.  Each row is reduced by the same calls in any
block, so the results do not depend on the blocks or the number of threads: in float64 they are
the same, to the bit, as the whole array's (and as the rule's); in float32 compiled loops do
each row's passes (``_softmax_kernels``: a vectorized exp and sums, within a few ulps of numpy's).
A gather of a big output (a loss picking one class per row) hands its adjoint on sparse
(``Op.sparse_from``): in float32 each row's adjoint is made in scratch, so the output's whole
adjoint is neither zeroed by the sweep nor read back here.
"""
from __future__ import annotations

from typing import Optional, Union

import numpy as np

from .._emit import D, Tensor, emit, emit_into, in_parts, lends, plain, state, write_tape
from . import _softmax_kernels as K
from ._args import reduced_dims, shown, wrap_dim
from ._rule import rule_adjoint
from ._spec import OUT, PYTHON, SAVED_RESULT, SAVED_SELF, X0, Op, public, register
from ._spec import tangents

SOFTMAX, LOG_SOFTMAX, LOGSUMEXP = PYTHON.start + 30, PYTHON.start + 31, PYTHON.start + 32


def _softmax_vjp(g, xs, y, r):
    return (y * (g - (g * y).sum(r.ia, keepdim=True)),)


def _log_softmax_vjp(g, xs, y, r):
    return (g - y.exp() * g.sum(r.ia, keepdim=True),)


def _logsumexp_vjp(g, xs, y, r):
    keep, shape = r.keep_shape, r.in_shapes[0]
    return (g.reshape(keep).expand(shape) * (xs[0] - y.reshape(keep).expand(shape)).exp(),)


# From this many elements over the last dim: blocks of about ``BLOCK`` elements (whole rows: a
# block's arrays stay in cache, and fewer blocks cost less Python; 2^14 was slower, 2^15-2^16 the
# same, measured on 512x1000 float32), parts of at least ``PART`` elements for other cores (a part
# costs ~70 us to hand over; softmax costs ~2 ns an element).
ROWS_FROM = 1 << 15
BLOCK = 1 << 16
PART = 1 << 16
# The compiled float32 rows (``_in_rows``) go to other cores from twice this many elements: a
# second core gains nothing on 512x1000 (forward 0.36 ms either way, sparse adjoint 0.22 -> 0.31 ms:
# the hand-over, and the rows' lines in the other core's cache), 0.88x / 1.10x on 768x1000, 0.79x /
# 0.96x on 1024x1000, 0.72x / 0.84x on 1536x1000 (measured with both cores free, SCHED_FIFO).
ROWS_PART = 1 << 19


def _by_rows(n: int, cols: int, fn) -> None:
    """``fn(lo, hi)`` for blocks of whole rows of an ``n``-element array of rows of ``cols``, on all cores."""
    step = max(1, BLOCK // cols)

    def part(lo: int, hi: int) -> None:
        lo, hi = -(-lo // cols), -(-hi // cols)         # (each part's first and last row: ceilings)
        for r in range(lo, hi, step):
            fn(r, min(r + step, hi))

    in_parts(part, n, PART)


def _in_rows(n: int, cols: int, fn) -> None:
    """``fn(lo, hi)`` for parts of whole rows of an ``n``-element array of rows of ``cols``, on all
    cores (a compiled kernel's: it takes each row's passes while the row is in cache)."""
    in_parts(lambda lo, hi: fn(-(-lo // cols), -(-hi // cols)), n, ROWS_PART)


def _rows(v: np.ndarray, d: int) -> bool:
    """Whether ``v`` is taken in blocks of rows along dim ``d``."""
    return v.size >= ROWS_FROM and d == v.ndim - 1 and v.shape[-1] > 0 and v.flags.c_contiguous


def softmax_adjoint(row, va, vb, gy, ga, gb, fresh) -> None:
    """``py_adjoint`` of SOFTMAX/LOG_SOFTMAX rows: the rule's numpy calls, in blocks of rows; a
    gather's adjoint handed on sparse (``Op.sparse_from``) by compiled rows in float32."""
    log = row.code == LOG_SOFTMAX
    if not isinstance(gy, np.ndarray):
        y = row.tape.value_of(row.r)
        if ga is not None and _rows(y, row.ia) and y.dtype == np.float32 and ga.dtype == np.float32 and \
                ga.flags.c_contiguous:
            _sparse_rows(y, gy.positions, gy.values, ga, log, fresh & 1)
            return
        gy = gy.dense()
    if ga is None or not _rows(gy, row.ia) or not ga.flags.c_contiguous:
        rule_adjoint(row, va, vb, gy, ga, gb, fresh)
        return
    cols = gy.shape[-1]
    y = row.tape.value_of(row.r).reshape(-1, cols)
    g = gy.reshape(-1, cols)
    dst = ga.reshape(-1, cols)
    write = fresh & 1
    if y.dtype == np.float32 and g.dtype == np.float32 and dst.dtype == np.float32:
        _in_rows(g.size, cols, lambda lo, hi: K.adjoint(y, g, dst, lo, hi, log, write))
        return

    def block(lo: int, hi: int) -> None:
        gb_, yb = g[lo:hi], y[lo:hi]
        if log:         # g - exp(y) * sum(g)
            t = np.exp(yb)
            t *= np.add.reduce(gb_, axis=1, keepdims=True)
            t = np.subtract(gb_, t, out=dst[lo:hi] if write else t)
        else:           # y * (g - sum(g * y))
            t = gb_ * yb
            t = np.subtract(gb_, np.add.reduce(t, axis=1, keepdims=True), out=t)
            t = np.multiply(yb, t, out=dst[lo:hi] if write else t)
        if not write:
            np.add(dst[lo:hi], t, out=dst[lo:hi])

    _by_rows(g.size, cols, block)


def _sparse_rows(y: np.ndarray, positions: np.ndarray, values: np.ndarray, ga: np.ndarray, log: bool,
                 write: int) -> None:
    """``softmax_adjoint`` of float32 rows from an adjoint that is zero but ``values`` at the flat
    ``positions``: each row's nonzero columns in the order given (``_softmax_kernels.sparse_adjoint``)."""
    cols = y.shape[-1]
    y = y.reshape(-1, cols)
    dst = ga.reshape(-1, cols)
    _in_rows(y.size, cols, lambda lo, hi: K.sparse_adjoint(y, positions, values, dst, lo, hi, log, write))


_SAVED = (("result", OUT), ("dim", lambda r: r.ia))
register(Op(SOFTMAX, "softmax", "SoftmaxBackward0", OUT, _softmax_vjp, py_adjoint=softmax_adjoint,
            node_saved=_SAVED, sparse_from=ROWS_FROM))
register(Op(LOG_SOFTMAX, "log_softmax", "LogSoftmaxBackward0", OUT, _log_softmax_vjp, py_adjoint=softmax_adjoint,
            node_saved=_SAVED, sparse_from=ROWS_FROM))
def reduced(r) -> tuple:
    """A reduction row's dims (bit mask ``ia``), as a tuple."""
    return tuple(d for d in range(r.ia.bit_length()) if r.ia >> d & 1)


def kept(r) -> bool:
    """Whether a reduction row kept its reduced dims (as size 1)."""
    return r.ia != 0 and len(r.out_shape) == len(r.in_shapes[0])


register(Op(LOGSUMEXP, "logsumexp", "LogsumexpBackward0", X0 | OUT, _logsumexp_vjp, py_adjoint=rule_adjoint,
            node_saved=(("self", X0), ("dim", reduced), ("keepdim", kept), ("result", OUT))))


def _logsumexp_jvp(ts, xs, y, r):
    keep, shape = r.keep_shape, r.in_shapes[0]
    dims = tuple(d for d in range(len(shape)) if r.ia >> d & 1)
    w = (xs[0] - y.reshape(keep).expand(shape)).exp()
    return (ts[0] * w).sum(dims, keepdim=True).reshape(r.out_shape) if dims else ts[0] * w


# Tangent rules: softmax's Jacobian is symmetric (its adjoint rule serves); log_softmax's is
# 1 - softmax along the dim; logsumexp's the softmax.
tangents({SOFTMAX: lambda ts, xs, y, r: _softmax_vjp(ts[0], xs, y, r)[0],
          LOG_SOFTMAX: lambda ts, xs, y, r: ts[0] - (ts[0] * y.exp()).sum(r.ia, keepdim=True),
          LOGSUMEXP: _logsumexp_jvp})


def _softmax_np(v: np.ndarray, d: int, log: bool) -> np.ndarray:
    if v.size == 0:
        return np.empty(v.shape, v.dtype)
    if _rows(v, d):
        return _softmax_rows(v, log)
    w = v.reshape(1) if v.ndim == 0 else v
    shifted = w - w.max(axis=d, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=d, keepdims=True)
    y = shifted - np.log(s) if log else e / s
    return y.reshape(v.shape)


def _softmax_rows(v: np.ndarray, log: bool, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``_softmax_np`` over the last dim, in blocks of rows on all cores (the same numpy calls per row),
    into ``out`` if given (a row's arena slot: ``emit_into``)."""
    cols = v.shape[-1]
    x = v.reshape(-1, cols)
    y = np.empty(v.shape, v.dtype) if out is None else out
    out = y.reshape(-1, cols)
    if x.dtype == np.float32:
        _in_rows(v.size, cols, lambda lo, hi: K.forward(x, out, lo, hi, log))
        return y

    def block(lo: int, hi: int) -> None:
        xb, yb = x[lo:hi], out[lo:hi]
        shifted = np.subtract(xb, xb.max(axis=1, keepdims=True), out=yb)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        if log:
            np.subtract(shifted, np.log(s, out=s), out=yb)
        else:
            np.divide(e, s, out=yb)

    _by_rows(v.size, cols, block)
    return y


def _softmax(x: Tensor, dim, dtype, code: int, name: str) -> Tensor:
    # (a ``dim`` not an int: ``wrap_dim``'s TypeError, which the front's wrapper gives the parser's words)
    nd = len(x._shape)
    d = wrap_dim(dim, nd)
    if dtype is not None and dtype is not x._dtype:
        x = x.to(dtype)
    dt = x._dtype
    if dt.arena is None:
        if not x.numel():        # (PyTorch's kernel is not dispatched for no element)
            return plain(np.empty(x._shape, dt.np), dt)
        where = "_lastdim" if d >= nd - 1 else ""
        raise NotImplementedError(f'"{name}{where}_kernel_impl" not implemented for \'{D.legacy_name(dt)}\'')
    v = x._value()
    if x._rg and state.grad and _rows(v, d) and lends(x._shape, dt, v):
        tape = write_tape()
        return emit_into(tape, code, dt, x._shape, _softmax_rows, (v, code == LOG_SOFTMAX),
                         x._node if x._tape is tape else tape.import_(x), ia=d)
    y = _softmax_np(v, d, code == LOG_SOFTMAX)
    if x._rg and state.grad:
        out = emit(code, y, dt, x, ia=d)
        out._tape.args[out._node] = lambda d=dim: (("result", SAVED_RESULT), ("dim", shown(d)))    # (as given)
        return out
    return plain(y, dt)


@public("softmax")
def softmax(self, dim: int, dtype: Optional[D.dtype] = None) -> Tensor:
    """Softmax over ``dim``: ``exp(x) / exp(x).sum(dim)``, computed in ``dtype`` if given."""
    return _softmax(self, dim, dtype, SOFTMAX, "softmax")


@public("log_softmax")
def log_softmax(self, dim: int, dtype: Optional[D.dtype] = None) -> Tensor:
    """Logarithm of the softmax over ``dim``, computed in ``dtype`` if given."""
    return _softmax(self, dim, dtype, LOG_SOFTMAX, "log_softmax")


def mask_of(dims: tuple) -> int:
    m = 0
    for d in dims:
        m |= 1 << d
    return m


@public("logsumexp")
def logsumexp(self, dim: Union[int, tuple], keepdim: bool = False) -> Tensor:
    """``log(exp(x).sum(dim))``, computed stably (the largest element taken out first)."""
    nd = len(self._shape)
    given = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    if not given and nd and not keepdim:
        raise RuntimeError(f"output with shape [] doesn't match the broadcast shape {[1] * nd}")
    dims = reduced_dims(dim, nd)
    x = self if self._dtype.is_floating_point else self.to(D.get_default_dtype())
    v = x._value()
    count = 1
    for d in dims:
        count *= v.shape[d]
    if count == 0:
        y = np.full(tuple(1 if d in dims else s for d, s in enumerate(v.shape)), -np.inf, v.dtype)
    else:
        m = v.max(axis=dims, keepdims=True)
        m = np.where(np.isinf(m), v.dtype.type(0), m)
        y = np.log(np.exp(v - m).sum(axis=dims, keepdims=True)) + m
    if not keepdim:
        y = y.reshape(tuple(s for d, s in enumerate(v.shape) if d not in dims))
    y = np.asarray(y, v.dtype)
    if x._rg and state.grad:
        out = emit(LOGSUMEXP, y, x._dtype, x, ia=mask_of(dims), ib=int(keepdim))
        out._tape.args[out._node] = lambda d=given, k=keepdim: (("self", SAVED_SELF), ("dim", shown(d)),
                                                                ("keepdim", bool(k)), ("result", SAVED_RESULT))
        return out
    return plain(y, x._dtype)
