"""Pooling: the max, average, adaptive, power-average pools and max unpooling of
``torch.nn.functional`` (and PyTorch's top-level ``tape.max_pool2d``, ``tape.avg_pool1d`` ...).

Every pool works on the last 1, 2 or 3 dims of its input through a table of windows: for each
output position, the flat positions it reads in its input plane (the planes are the leading dims,
each pooled alike), a position past the plane's end marking a place outside it (padding, or a
window shorter than the longest).  The tables are made per dim and combined, as the windows are
products of intervals.

* A max pool picks the first largest element of each window (PyTorch's order): a PICK row of
  ``ops/padding.py`` gathering those elements (``MaxPool2DWithIndicesBackward0`` ...), whose
  derivative adds the adjoint back at the same positions (a PUT row), and so on to every order.
* An average pool is linear: a LIN row holds the table (the positions, and a divisor per output
  or a weight per position) in the tape's index table (``ia``), named by ``ib`` (``LIN_NAMES``);
  its derivative is the transposed map (a LIN_T row, PyTorch's ``...BackwardBackward0`` node),
  whose derivative is the map again.  ``ops/upsampling.py`` writes interpolation with the same rows.
* Max unpooling places each element at its index in zeros (an UNPOOL row, ``MaxUnpool2DBackward0``);
  its derivative gathers the adjoint at the indices.
* The 1-d pools are PyTorch's: the 2-d pool of the input unsqueezed, squeezed back; ``lp_pool`` is
  PyTorch's composition of ``avg_pool`` and elementwise ops; ``adaptive_avg_pool`` to size 1 a mean.
"""
from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np

from .._emit import D, Tensor, node_in, plain, recorded, state, write_tape
from ._parser import parser_type_name
from ._rule import rule_adjoint
from ._spec import PYTHON, SAVED_SELF, TRANSPOSED, Op, public_function, register, tangents
from .padding import K_ADAPTIVE_MAX, K_FRACTIONAL_MAX, K_MAX_POOL, adaptive_grad_check, pick
from .shape import BY_INDEX

LIN, LIN_T, UNPOOL = PYTHON.start + 123, PYTHON.start + 124, PYTHON.start + 125
LIN_TX = PYTHON.start + 250
LIN_NAMES = ("AvgPool2DBackward0", "AvgPool3DBackward0", "AdaptiveAvgPool2DBackward0", "AdaptiveAvgPool3DBackward0",
             "UpsampleNearest1DBackward0", "UpsampleNearest2DBackward0", "UpsampleNearest3DBackward0",
             "UpsampleNearestExact1DBackward0", "UpsampleNearestExact2DBackward0", "UpsampleNearestExact3DBackward0",
             "UpsampleLinear1DBackward0", "UpsampleBilinear2DBackward0", "UpsampleBicubic2DBackward0",
             "UpsampleTrilinear3DBackward0", "UpsampleBilinear2DAaBackward0", "UpsampleBicubic2DAaBackward0",
             "UpsampleLanczos2DAaBackward0")
K_AVG, K_ADAPTIVE_AVG = 0, 2        # (+ dims - 2)
K_NEAREST, K_NEAREST_EXACT, K_LINEAR, K_BILINEAR, K_BICUBIC, K_TRILINEAR = 4, 7, 10, 11, 12, 13
K_BILINEAR_AA, K_BICUBIC_AA, K_LANCZOS_AA = 14, 15, 16


# --- the linear maps ------------------------------------------------------------------------
class Map:
    """A linear map of the last ``len(in_sp)`` dims: output ``o`` is the sum over ``k`` of
    ``w[o, k] * x[cols[o, k]]`` (no ``w``: 1), divided by ``div[o]`` (if given); a column equal to
    the input plane's size reads 0."""

    __slots__ = ("in_sp", "out_sp", "cols", "w", "div")

    def __init__(self, in_sp: tuple, out_sp: tuple, cols: np.ndarray, w: Optional[np.ndarray] = None,
                 div: Optional[np.ndarray] = None) -> None:
        self.in_sp, self.out_sp, self.cols, self.w, self.div = in_sp, out_sp, cols, w, div

    def blob(self) -> np.ndarray:
        k, n = len(self.in_sp), self.cols.shape[1]
        head = np.array([k, n, self.w is not None, self.div is not None, *self.in_sp, *self.out_sp], np.int64)
        parts = [head, self.cols.reshape(-1)]
        if self.w is not None:
            parts.append(np.ascontiguousarray(self.w, np.float64).reshape(-1).view(np.int64))
        if self.div is not None:
            parts.append(np.ascontiguousarray(self.div, np.float64).view(np.int64))
        return np.concatenate(parts)

    @staticmethod
    def of(r) -> "Map":
        ix, at = r.tape.ix, r.ia
        k, n, has_w, has_div = (int(v) for v in ix[at:at + 4])
        in_sp = tuple(int(v) for v in ix[at + 4:at + 4 + k])
        out_sp = tuple(int(v) for v in ix[at + 4 + k:at + 4 + 2 * k])
        at += 4 + 2 * k
        m = math.prod(out_sp)
        cols = ix[at:at + m * n].reshape(m, n)
        at += m * n
        w = div = None
        if has_w:
            w = ix[at:at + m * n].view(np.float64).reshape(m, n)
            at += m * n
        if has_div:
            div = ix[at:at + m].view(np.float64)
        return Map(in_sp, out_sp, cols, w, div)

    def apply(self, x: np.ndarray) -> np.ndarray:
        lead = x.shape[:x.ndim - len(self.in_sp)]
        b, n_in = math.prod(lead), math.prod(self.in_sp)
        # (planes last: a gather of whole rows of ``b`` values, and a sentinel row of zeros)
        xt = np.empty((n_in + 1, b), x.dtype)
        xt[:n_in] = x.reshape(b, n_in).T
        xt[n_in] = 0
        w = None if self.w is None else self.w.astype(x.dtype)
        y = np.zeros((self.cols.shape[0], b), x.dtype)
        for k in range(self.cols.shape[1]):     # (the window's positions in order, as PyTorch's loops)
            v = xt[self.cols[:, k]]
            if w is not None:
                v *= w[:, k, None]
            y += v
        y = y.T
        if self.div is not None:
            y = y / self.div.astype(x.dtype) if x.dtype.kind in "fc" else np.fix(y / self.div).astype(x.dtype)
        return np.require(y.reshape(lead + self.out_sp), x.dtype, "C")

    def transpose(self, g: np.ndarray) -> np.ndarray:
        """The transposed map applied to ``g``: a gather too, by the table of the outputs each input
        position feeds (``transposed``), so that both directions are the same numpy calls."""
        return self.transposed().apply(g)

    def transposed(self) -> "Map":
        n_in, n_out = math.prod(self.in_sp), math.prod(self.out_sp)
        k = self.cols.shape[1]
        cols = self.cols.reshape(-1)
        valid = cols < n_in
        i = cols[valid]
        o = np.repeat(np.arange(n_out), k)[valid]
        w = None
        if self.w is not None or self.div is not None:
            w = np.ones((n_out, k)) if self.w is None else np.asarray(self.w, np.float64)
            if self.div is not None:
                w = w / self.div[:, None]
            w = w.reshape(-1)[valid]
        order = np.argsort(i, kind="stable")
        i, o = i[order], o[order]
        counts = np.bincount(i, minlength=n_in)
        kt = int(counts.max()) if counts.size else 0
        slot = np.arange(i.size) - (np.cumsum(counts) - counts)[i]
        cols_t = np.full((n_in, kt), n_out, np.int64)
        cols_t[i, slot] = o
        w_t = None
        if w is not None:
            w_t = np.zeros((n_in, kt))
            w_t[i, slot] = w[order]
        return Map(self.out_sp, self.in_sp, cols_t, w_t)


def _lin_vjp(g, xs, y, r):
    if K_ADAPTIVE_AVG <= r.ib < K_NEAREST:
        adaptive_grad_check("avg", r.ib - K_ADAPTIVE_AVG + 2, g._shape)
    # (PyTorch's average pools' backward takes their input too: a gradient made with create_graph requires
    # grad when the input does, though it does not depend on its values)
    return (linear_map(g, Map.of(r), r.ib, True, keep=xs[0] if r.ib < K_NEAREST else None),)


def _lin_t_vjp(g, xs, y, r):
    return (linear_map(g, Map.of(r), r.ib),)


def _lin_tx_vjp(g, xs, y, r):
    # (PyTorch's node gives the input it holds a gradient of zeros, as its formula does not read it)
    return linear_map(g, Map.of(r), r.ib), xs[1].new_zeros(xs[1]._shape)


register(Op(LIN, "avg_pool2d", "AvgPool2DBackward0", 0, _lin_vjp, py_adjoint=rule_adjoint,
            grad_fn_of=lambda r: LIN_NAMES[r.ib]))
register(Op(LIN_T, "avg_pool2d_backward", "AvgPool2DBackwardBackward0", 0, _lin_t_vjp, py_adjoint=rule_adjoint,
            grad_fn_of=lambda r: LIN_NAMES[r.ib][:-1] + "Backward0"))
# A LIN_T row holding the forward's input as a second input (``linear_map``'s ``keep``), whose gradient is zero.
register(Op(LIN_TX, "avg_pool2d_backward", "AvgPool2DBackwardBackward0", 0, _lin_tx_vjp, py_adjoint=rule_adjoint,
            grad_fn_of=lambda r: LIN_NAMES[r.ib][:-1] + "Backward0", arity=2))
tangents({LIN: TRANSPOSED, LIN_T: TRANSPOSED, LIN_TX: TRANSPOSED})


def linear_map(x: Tensor, m: Map, kind: int, transposed: bool = False, keep: Optional[Tensor] = None) -> Tensor:
    """``m`` (or its transpose) applied to ``x``: a LIN (LIN_T) row named ``LIN_NAMES[kind]``.  ``keep``: a
    tensor the result requires grad with (an input of the row, of gradient zero), as PyTorch's node takes it."""
    y = m.transpose(x._value()) if transposed else m.apply(x._value())
    keeps = keep is not None and keep._rg and keep._dtype.arena is not None
    if not ((x._rg or keeps) and state.grad and x._dtype.arena is not None):
        return plain(y, x._dtype)
    tape = write_tape()
    nx = node_in(tape, x, x._dtype, x._shape)
    if keeps:
        nk = node_in(tape, keep, keep._dtype, keep._shape)
        node = tape.append(LIN_TX, x._dtype.arena, y, nx, nk, ia=tape.index_list(m.blob()), ib=kind)
    else:
        node = tape.append(LIN_T if transposed else LIN, x._dtype.arena, y, nx, ia=tape.index_list(m.blob()),
                           ib=kind)
    return recorded(tape, node, y, x._dtype)


# --- max unpooling -------------------------------------------------------------------------
def _unpool_vjp(g, xs, y, r):
    return (g._gather(r.in_index_list.reshape(r.in_shapes[0]), BY_INDEX),)


register(Op(UNPOOL, "max_unpool2d", "MaxUnpool2DBackward0", 0, _unpool_vjp, py_adjoint=rule_adjoint,
            grad_fn_of=lambda r: ("MaxUnpool2DBackward0", "MaxUnpool3DBackward0")[r.ib]))
tangents({UNPOOL: TRANSPOSED})


# --- window tables ---------------------------------------------------------------------------
def _combine(per_dim: list, in_sp: tuple) -> np.ndarray:
    """The windows of the whole plane from those of each dim (``(O_d, K_d)`` positions, -1 outside):
    ``(prod O, prod K)`` flat positions, the plane's size where any dim is outside."""
    k = len(per_dim)
    cols, valid, stride = 0, True, 1
    for d in reversed(range(k)):
        c = per_dim[d]
        shape = [1] * (2 * k)
        shape[d], shape[k + d] = c.shape
        c = c.reshape(shape)
        cols = cols + c * stride
        valid = valid & (c >= 0)
        stride *= in_sp[d]
    out = tuple(c.shape[0] for c in per_dim)
    window = math.prod(c.shape[1] for c in per_dim)     # (explicit: an output of no element has windows too)
    return np.where(valid, cols, math.prod(in_sp)).reshape(math.prod(out), window).astype(np.int64)


def _outer(per_dim: list) -> np.ndarray:
    """The product of per-dim weights ``(O_d, K_d)``, laid out as ``_combine``'s windows."""
    k = len(per_dim)
    w = 1.0
    for d, c in enumerate(per_dim):
        shape = [1] * (2 * k)
        shape[d], shape[k + d] = c.shape
        w = w * c.reshape(shape)
    return np.asarray(w).reshape(math.prod(c.shape[0] for c in per_dim), math.prod(c.shape[1] for c in per_dim))


def _strided(size: int, out: int, k: int, s: int, p: int, d: int) -> np.ndarray:
    pos = np.arange(out)[:, None] * s - p + np.arange(k)[None, :] * d
    return np.where((pos >= 0) & (pos < size), pos, -1)


def _adaptive(size: int, out: int) -> tuple:
    o = np.arange(out)
    start, end = o * size // out, -(-(o + 1) * size // out)
    n = int((end - start).max()) if out else 0
    pos = start[:, None] + np.arange(n)[None, :]
    return np.where(pos < end[:, None], pos, -1), end - start


def _pooled_size(size: int, k: int, p: int, s: int, d: int, ceil: bool) -> int:
    """PyTorch's ``pooling_output_shape`` (with its checks)."""
    if s == 0:
        raise RuntimeError("stride should not be zero")
    if p < 0:
        raise RuntimeError(f"pad must be non-negative, but got pad: {p}")
    if p > ((k - 1) * d + 1) // 2:
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={p}, kernel_size={k} "
                           f"and dilation={d}")
    num = size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)
    out = num // s + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out


# --- argument parsing ----------------------------------------------------------------------
_WORDS = {1: "one", 2: "two", 3: "three"}


def _ints(fn: str, name: str, value, position: int) -> tuple:
    """An ``int[]`` argument as PyTorch's parser takes it (one int, or a sequence), with its TypeError."""
    if type(value) is not bool and isinstance(value, (int, np.integer)):
        return (int(value),)
    if isinstance(value, (tuple, list)):
        for k, v in enumerate(value):
            if type(v) is bool or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be tuple of ints, but found "
                                f"element of type {parser_type_name(v)} at pos {k}")
        return tuple(int(v) for v in value)
    raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be tuple of ints, not "
                    f"{parser_type_name(value)}")


def _sized(values: tuple, n: int, message: str, empty_ok: bool = False) -> tuple:
    if empty_ok and not values:
        return ()
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise RuntimeError(message)
    return values


def _check_input(fn: str, input) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not {parser_type_name(input)}")


def _nonempty(x: Tensor, n: int) -> bool:
    """Whether ``x`` is (C, *S) or (N, C, *S) with ``n`` spatial dims, each but N non-empty."""
    s = x._shape
    return len(s) == n + 1 and all(s) or len(s) == n + 2 and all(s[1:])


def _check_dtype(x: Tensor, kernel: str, floating: bool = False) -> None:
    """PyTorch's error for a dtype the op's kernel lacks (bool always; integers when ``floating``)."""
    if x._dtype is D.bool_ or floating and not x._dtype.is_floating_point:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{D.legacy_name(x._dtype)}'")


def _positive_3d(fn: str, x: Tensor) -> None:
    s = x._shape
    for i, v in enumerate(s[len(s) - 4:]):
        if v == 0:
            raise RuntimeError(f"{fn}(): Expected input's non-batch dimensions to have positive length, but input "
                               f"has a shape of {list(s)} and non-batch dimension {i} has length zero!")


def shows(out: Tensor, saved: tuple) -> Tensor:
    """``out`` (if recorded) with ``saved`` as what its node shows saved (``tape/_saved.py``)."""
    if out._tape is not None and out._rg:
        out._tape.args[out._node] = saved
    return out


def _plane_sizes(x: Tensor, n: int) -> str:
    return "x".join(str(v) for v in x._shape[-n - 1:])


# --- max pooling -----------------------------------------------------------------------------
def _max_windows(x: Tensor, windows: np.ndarray, n: int, out_sp: tuple, kind: int) -> tuple:
    """The max of each window (``windows``: ``_combine``'s table over the last ``n`` dims, or one per
    plane) and its index in the plane, as PyTorch's kernel finds them: the window's positions in
    order, from its first position inside the input with -inf, an element taking over when larger
    or nan."""
    lead, in_sp = x._shape[:-n], x._shape[-n:]
    b, size = math.prod(lead), math.prod(in_sp)
    v = x._value()
    lowest = -np.inf if v.dtype.kind == "f" else np.iinfo(v.dtype).min
    xt = np.empty((size + 1, b), v.dtype)       # (planes last, and a row of -inf past the plane)
    xt[:size] = v.reshape(b, size).T
    xt[size] = lowest
    per_plane = windows.ndim == 3
    if per_plane:
        windows = windows.transpose(1, 2, 0)    # (output, window position, plane)
    m, k = windows.shape[:2]
    planes = np.arange(b)
    first = np.take_along_axis(windows, np.argmax(windows < size, 1)[:, None], 1)[:, 0] if k else \
        np.zeros((m,) + windows.shape[2:], np.int64)
    best = np.full((m, b), lowest, v.dtype)
    idx = np.broadcast_to(first if per_plane else first[:, None], (m, b)).copy()
    for j in range(k):
        c = windows[:, j]
        val = xt[c, planes] if per_plane else xt[c]
        take = val > best
        if v.dtype.kind == "f":
            take |= np.isnan(val)
        np.copyto(best, val, where=take)
        np.copyto(idx, c if per_plane else np.broadcast_to(c[:, None], (m, b)), where=take)
    idx = idx.T
    positions = (idx + (np.arange(b) * size)[:, None]).reshape(lead + out_sp)
    y = pick(x, positions, kind)
    return y, plain(np.ascontiguousarray(idx.reshape(lead + out_sp), np.int64), D.int64)


def _max_pool(fn: str, input: Tensor, n: int, kernel_size, stride, padding, dilation, ceil_mode: bool) -> tuple:
    """``max_pool{n}d_with_indices`` (n 2 or 3): PyTorch's checks, then the pool."""
    _check_input(fn, input)
    word = _WORDS[n]
    k = _sized(_ints(fn, "kernel_size", kernel_size, 2), n,
               f"{fn}: kernel_size must either be a single int, or a tuple of {word} ints")
    given = _sized(_ints(fn, "stride", [] if stride is None else stride, 3), n,
                   f"{fn}: stride must either be omitted, a single int, or a tuple of {word} ints", True)
    s = given or k
    p = _sized(_ints(fn, "padding", padding, 4), n,
               f"{fn}: padding must either be a single int, or a tuple of {word} ints")
    d = _sized(_ints(fn, "dilation", dilation, 5), n,
               f"{fn}: dilation must be either a single int, or a tuple of {word} ints")
    if input.dim() not in (n + 1, n + 2):
        raise RuntimeError(f"non-empty {n + 1}D or {n + 2}D (batch mode) tensor expected for input")
    _check_dtype(input, fn)
    if n == 3:
        _positive_3d("max_pool3d_with_indices_out_cpu_template", input)
    in_sp = input._shape[-n:]
    out_sp = tuple(_pooled_size(in_sp[i], k[i], p[i], s[i], d[i], ceil_mode) for i in range(n))
    _shape_check(input, n, k, s, d, p, out_sp)
    windows = _combine([_strided(in_sp[i], out_sp[i], k[i], s[i], p[i], d[i]) for i in range(n)], in_sp)
    y, i = _max_windows(input, windows, n, out_sp, K_MAX_POOL + n - 2)
    return shows(y, (("ceil_mode", bool(ceil_mode)), ("dilation", d), ("kernel_size", k), ("padding", p),
                     ("result1", i), ("self", SAVED_SELF), ("stride", given))), i


def _shape_check(x: Tensor, n: int, k: tuple, s: tuple, d: tuple, p: tuple, out_sp: tuple,
                 avg: bool = False) -> None:
    """PyTorch's ``pool2d_shape_check`` / ``pool3d_shape_check``."""
    names = ("kT", "kH", "kW")[3 - n:]
    if min(k) <= 0:
        raise RuntimeError("kernel size should be greater than zero, but got " +
                           " ".join(f"{a}: {b}" for a, b in zip(names, k)))
    if min(s) <= 0:
        raise RuntimeError("stride should be greater than zero, but got " +
                           " ".join(f"{a}: {b}" for a, b in zip(("dT", "dH", "dW")[3 - n:], s)))
    if min(d) <= 0:
        raise RuntimeError("dilation should be greater than zero, but got " +
                           " ".join(f"{a}: {b}" for a, b in zip(("dilationT", "dilationH", "dilationW")[3 - n:], d)))
    if not _nonempty(x, n):
        sep = " " if n == 3 else ""
        raise RuntimeError(f"Expected {n + 1}D or {n + 2}D (batch mode) tensor with optional 0 dim batch size for "
                           f"input, but got:{sep}{list(x._shape)}")
    if n == 3 and avg and any(x._shape[-3 + i] < k[i] for i in range(3)):
        t, h, w = x._shape[-3:]
        raise RuntimeError(f"input image (T: {t} H: {h} W: {w}) smaller than kernel size (kT: {k[0]} kH: {k[1]} "
                           f"kW: {k[2]})")
    if any(p[i] > k[i] // 2 for i in range(n)):
        if n == 2:
            raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but got padW = {p[1]}, "
                               f"padH = {p[0]}, kW = {k[1]}, kH = {k[0]}")
        raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but got kT: {k[0]} "
                           f"kW: {k[2]} kH: {k[1]} padT: {p[0]} padW: {p[2]} padH: {p[1]}")
    if min(out_sp) < 1:
        plane = x._shape[-n - 1]
        raise RuntimeError(f"Given input size: ({_plane_sizes(x, n)}). Calculated output size: "
                           f"({'x'.join(str(v) for v in (plane,) + out_sp)}). Output size is too small")


def max_pool2d_with_indices(input: Tensor, kernel_size: Union[int, tuple], stride: Union[int, tuple] = (),
                            padding: Union[int, tuple] = 0, dilation: Union[int, tuple] = 1,
                            ceil_mode: bool = False) -> tuple:
    """The 2-d max pool of ``input`` and the index of each max in its plane."""
    return _max_pool("max_pool2d", input, 2, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool3d_with_indices(input: Tensor, kernel_size: Union[int, tuple], stride: Union[int, tuple] = (),
                            padding: Union[int, tuple] = 0, dilation: Union[int, tuple] = 1,
                            ceil_mode: bool = False) -> tuple:
    """The 3-d max pool of ``input`` and the index of each max in its volume."""
    return _max_pool("max_pool3d", input, 3, kernel_size, stride, padding, dilation, ceil_mode)


@public_function("max_pool2d")
def max_pool2d(input: Tensor, kernel_size: Union[int, tuple], stride: Union[int, tuple] = (),
               padding: Union[int, tuple] = 0, dilation: Union[int, tuple] = 1, ceil_mode: bool = False) -> Tensor:
    """The max of each ``kernel_size`` window of the last 2 dims of ``input``, every ``stride``
    (default: ``kernel_size``), over ``input`` padded by ``padding`` (-inf), the window's elements
    ``dilation`` apart; ``ceil_mode``: a last window that starts inside the input is kept."""
    return _max_pool("max_pool2d", input, 2, kernel_size, stride, padding, dilation, ceil_mode)[0]


@public_function("max_pool3d")
def max_pool3d(input: Tensor, kernel_size: Union[int, tuple], stride: Union[int, tuple] = (),
               padding: Union[int, tuple] = 0, dilation: Union[int, tuple] = 1, ceil_mode: bool = False) -> Tensor:
    """The max pool of the last 3 dims of ``input`` (see ``max_pool2d``)."""
    return _max_pool("max_pool3d", input, 3, kernel_size, stride, padding, dilation, ceil_mode)[0]


def _one(fn: str, name: str, value, position: int, message: str) -> tuple:
    v = _ints(fn, name, value, position)
    if len(v) != 1:
        raise RuntimeError(message.format(len(v)))
    return v


def _check_dims_1d(fn: str, x: Tensor) -> None:
    if x.dim() not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {x.dim()}-dimensional tensor for argument #1 'self' "
                           f"(while checking arguments for {fn})")


@public_function("max_pool1d_with_indices")
def max_pool1d_with_indices(input: Tensor, kernel_size: Union[int, tuple], stride: Union[int, tuple] = (),
                            padding: Union[int, tuple] = 0, dilation: Union[int, tuple] = 1,
                            ceil_mode: bool = False) -> tuple:
    """The 1-d max pool of ``input`` and the index of each max in its row (PyTorch's: the 2-d pool
    of the input unsqueezed, squeezed back)."""
    fn = "max_pool1d_with_indices"
    _check_input(fn, input)
    k = _one(fn, "kernel_size", kernel_size, 2, "max_pool1d() argument 'kernel_size' should contain one int (got {})")
    s = _ints(fn, "stride", [] if stride is None else stride, 3)
    if len(s) > 1:
        raise RuntimeError(f"max_pool1d() argument 'stride' should contain one int (got {len(s)})")
    p = _one(fn, "padding", padding, 4, "max_pool1d() argument 'padding' should contain one int (got {})")
    d = _one(fn, "dilation", dilation, 5, "max_pool1d() argument 'dilation' should contain one int (got {})")
    _check_dims_1d("max_pool1d", input)
    y, i = _max_pool("max_pool2d", input.unsqueeze(-2), 2, (1,) + k, (1,) + (s or k), (0,) + p, (1,) + d, ceil_mode)
    return y.squeeze(-2), i.squeeze(-2)


@public_function("max_pool1d")
def max_pool1d(input: Tensor, kernel_size: Union[int, tuple], stride: Union[int, tuple] = (),
               padding: Union[int, tuple] = 0, dilation: Union[int, tuple] = 1, ceil_mode: bool = False) -> Tensor:
    """The max of each ``kernel_size`` window of the last dim of ``input`` (see ``max_pool2d``)."""
    fn = "max_pool1d"
    _check_input(fn, input)
    k, s, p, d = (_ints(fn, n, v, i) for n, v, i in (("kernel_size", kernel_size, 2),
                                                      ("stride", [] if stride is None else stride, 3),
                                                      ("padding", padding, 4), ("dilation", dilation, 5)))
    if input.dim() not in (2, 3) or not all(input._shape[-2:]):        # (no dim but the batch may be empty)
        raise RuntimeError("max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for "
                           f"input, but got:{list(input._shape)}")
    for name, v in (("kernel_size", k), ("stride", s), ("padding", p), ("dilation", d)):
        if len(v) != 1 and not (name == "stride" and not v):
            raise RuntimeError(f"max_pool1d() {name} must be an int, list of ints or tuple of ints of size 1 but got "
                               f"size {len(v)}")
    s = s or k
    if k[0] <= 0:
        raise RuntimeError(f"max_pool1d() kernel_size must be greater than zero, but got {k[0]}")
    if s[0] <= 0:
        raise RuntimeError(f"max_pool1d() stride must be greater than zero, but got {s[0]}")
    if p[0] < 0:
        raise RuntimeError(f"max_pool1d() padding must be non-negative, but got {p[0]}")
    if p[0] > k[0] // 2:
        raise RuntimeError(f"max_pool1d() padding should be at most half of kernel size, but got padding={p[0]} and "
                           f"kernel_size={k[0]}")
    if d[0] <= 0:
        raise RuntimeError(f"max_pool1d() dilation must be greater than zero, but got {d[0]}")
    out = _pooled_size(input._shape[-1], k[0], p[0], s[0], d[0], ceil_mode)
    if out <= 0:
        raise RuntimeError(f"max_pool1d() Invalid computed output size: {out}")
    if input.requires_grad and state.grad:
        # (PyTorch's path when a gradient is needed: the pool with indices, whose node its result shows)
        return max_pool1d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)[0]
    windows = _combine([_strided(input._shape[-1], out, k[0], s[0], p[0], d[0])], input._shape[-1:])
    return _max_windows(input, windows, 1, (out,), K_MAX_POOL)[0]


# --- average pooling -----------------------------------------------------------------------
def _avg_tables(size: int, out: int, k: int, s: int, p: int) -> tuple:
    """A dim's windows of an average pool (clipped to the input) and their sizes, with and without
    the padding counted (PyTorch's ``pool_size`` and its clipped one)."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    with_pad = end - start
    lo, hi = np.maximum(start, 0), np.minimum(end, size)
    pos = lo[:, None] + np.arange(k)[None, :]
    return np.where(pos < hi[:, None], pos, -1), with_pad, np.maximum(hi - lo, 0)


def _avg_pool(fn: str, input: Tensor, n: int, kernel_size, stride, padding, ceil_mode: bool,
              count_include_pad: bool, divisor_override: Optional[int]) -> Tensor:
    _check_input(fn, input)
    word = _WORDS[n]
    either = "either be" if n == 2 else "be"
    k = _sized(_ints(fn, "kernel_size", kernel_size, 2), n,
               f"{fn}: kernel_size must {either} a single int, or a tuple of {word} ints")
    given = _sized(_ints(fn, "stride", [] if stride is None else stride, 3), n,
                   f"{fn}: stride must {either} omitted, a single int, or a tuple of {word} ints", True)
    s = given or k
    p = _sized(_ints(fn, "padding", padding, 4), n,
               f"{fn}: padding must {either} a single int, or a tuple of {word} ints")
    if n == 3 and input.dim() not in (4, 5):
        raise RuntimeError("non-empty 4D or 5D (batch mode) tensor expected for input")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    _check_dtype(input, fn)
    if n == 3:
        _positive_3d(fn, input)
    if not input.dim():
        raise IndexError(f"Dimension specified as {-n - 1} but tensor has no dimensions")
    if input.dim() < n + 1:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-input.dim()}, {input.dim() - 1}], "
                         f"but got {-n - 1})")
    in_sp = input._shape[-n:]
    out_sp = tuple(_pooled_size(in_sp[i], k[i], p[i], s[i], 1, ceil_mode) for i in range(n))
    _shape_check(input, n, k, s, (1,) * n, p, out_sp, avg=True)
    if input.dim() not in (n + 1, n + 2):
        raise RuntimeError(f"non-empty {n + 1}D or {n + 2}D (batch mode) tensor expected for input")
    tables = [_avg_tables(in_sp[i], out_sp[i], k[i], s[i], p[i]) for i in range(n)]
    windows = _combine([t[0] for t in tables], in_sp)
    if divisor_override is not None:
        div = np.full(windows.shape[0], float(divisor_override))
    else:
        div = _outer([(t[1] if count_include_pad else t[2]).astype(np.float64)[:, None] for t in tables])[:, 0]
    y = linear_map(input, Map(in_sp, out_sp, windows, div=div), K_AVG + n - 2)
    return shows(y, (("ceil_mode", bool(ceil_mode)), ("count_include_pad", bool(count_include_pad)),
                     ("divisor_override", divisor_override), ("kernel_size", k), ("padding", p), ("self", SAVED_SELF),
                     ("stride", given)))


def avg_pool2d(input: Tensor, kernel_size: Union[int, tuple], stride: Union[int, tuple] = (),
               padding: Union[int, tuple] = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None) -> Tensor:
    """The mean of each ``kernel_size`` window of the last 2 dims of ``input``, every ``stride``
    (default: ``kernel_size``), over ``input`` padded by ``padding`` zeros (counted in the mean when
    ``count_include_pad``; ``divisor_override``: the divisor of every sum); ``ceil_mode``: a last
    window that starts inside the input is kept."""
    return _avg_pool("avg_pool2d", input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input: Tensor, kernel_size: Union[int, tuple], stride: Union[int, tuple] = (),
               padding: Union[int, tuple] = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None) -> Tensor:
    """The average pool of the last 3 dims of ``input`` (see ``avg_pool2d``)."""
    return _avg_pool("avg_pool3d", input, 3, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


@public_function("avg_pool1d")
def avg_pool1d(input: Tensor, kernel_size: Union[int, tuple], stride: Union[int, tuple] = (),
               padding: Union[int, tuple] = 0, ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """The average pool of the last dim of ``input`` (PyTorch's: the 2-d pool of the input
    unsqueezed, squeezed back)."""
    fn = "avg_pool1d"
    _check_input(fn, input)
    k = _one(fn, "kernel_size", kernel_size, 2, "avg_pool1d() argument 'kernel_size' should contain one int (got {})")
    s = _ints(fn, "stride", [] if stride is None else stride, 3)
    if len(s) > 1:
        raise RuntimeError(f"avg_pool1d() argument 'stride' should contain one int (got {len(s)})")
    p = _one(fn, "padding", padding, 4, "avg_pool1d() argument 'padding' should contain one int (got {})")
    _check_dims_1d(fn, input)
    y = _avg_pool("avg_pool2d", input.unsqueeze(-2), 2, (1,) + k, (1,) + (s or k), (0,) + p, ceil_mode,
                  count_include_pad, None)
    return y.squeeze(-2)


# --- adaptive pooling ----------------------------------------------------------------------
def _output_size(fn: str, output_size, n: int, x: Tensor, message: str) -> tuple:
    """``output_size`` with None taking the input's size (PyTorch's ``_list_with_default``)."""
    if output_size is None and n > 1:
        raise TypeError("object of type 'NoneType' has no len()")     # (PyTorch's ``_list_with_default``)
    if isinstance(output_size, (tuple, list)):
        sizes = tuple(output_size)
        if x.dim() <= len(sizes):      # (PyTorch's Python wrapper, ``_list_with_default``, reads the input's sizes)
            raise ValueError(f"Input dimension should be at least {len(sizes) + 1}")
    else:
        sizes = (output_size,) * (n if output_size is not None else 1)     # (an int: one per dim; a list stays)
    if len(sizes) != n:
        raise RuntimeError(message)
    sp = x._shape[-n:] if x.dim() >= n else (None,) * n
    sizes = tuple(sp[i] if v is None else v for i, v in enumerate(sizes))
    return _ints(fn, "output_size", list(sizes), 2)


def _adaptive_checks(fn: str, x: Tensor, n: int, colon: str) -> None:
    if x.dim() not in (n + 1, n + 2):
        raise RuntimeError(f"{fn}(): Expected {n + 1}D or {n + 2}D tensor, but got{colon} {list(x._shape)}")
    # (PyTorch's: the first dim may be empty, batched or not; its 2-d average pool checks a batch's planes only)
    for i in range(2 if fn == "adaptive_avg_pool2d" and x.dim() == 4 else 1, x.dim()):
        if x._shape[i] == 0:
            raise RuntimeError(f"{fn}(): Expected input to have non-zero size for non-batch dimensions, but input "
                               f"has sizes {list(x._shape)} with dimension {i} being empty")


def _negative(fn: str, sizes: tuple) -> None:
    if any(v < 0 for v in sizes):
        shown = ", ".join(str(v) for v in sizes[:2]) + "".join(f",{v}" for v in sizes[2:])     # (PyTorch's spacing)
        raise RuntimeError(f"{fn}: elements of output_size must be greater than or equal to 0 but received "
                           f"{{{shown}}}")


def _adaptive_avg(fn: str, input: Tensor, output_size, n: int) -> Tensor:
    _check_input(fn, input)
    sizes = _output_size(fn, output_size, n, input, f"{fn}: output_size must be {n}")
    _negative(fn, sizes)
    if all(v == 1 for v in sizes):
        return input.mean(tuple(range(-n, 0)), keepdim=True)
    _adaptive_checks(fn, input, n, "")
    _check_dtype(input, fn if n == 2 else fn + "_cpu", True)
    in_sp = input._shape[-n:]
    tables = [_adaptive(in_sp[i], sizes[i]) for i in range(n)]
    windows = _combine([t[0] for t in tables], in_sp)
    div = _outer([t[1].astype(np.float64)[:, None] for t in tables])[:, 0]
    return shows(linear_map(input, Map(in_sp, sizes, windows, div=div), K_ADAPTIVE_AVG + n - 2),
                 (("self", SAVED_SELF),))


def adaptive_avg_pool2d(input: Tensor, output_size: Union[int, tuple]) -> Tensor:
    """The mean over each of ``output_size`` windows tiling the last 2 dims of ``input`` (window
    ``o`` of a dim of size ``L`` spans ``floor(o L / O)`` to ``ceil((o + 1) L / O)``; None: the
    input's size)."""
    return _adaptive_avg("adaptive_avg_pool2d", input, output_size, 2)


def adaptive_avg_pool3d(input: Tensor, output_size: Union[int, tuple]) -> Tensor:
    """The adaptive average pool of the last 3 dims of ``input`` (see ``adaptive_avg_pool2d``)."""
    return _adaptive_avg("adaptive_avg_pool3d", input, output_size, 3)


@public_function("adaptive_avg_pool1d")
def adaptive_avg_pool1d(input: Tensor, output_size: Union[int, tuple]) -> Tensor:
    """The adaptive average pool of the last dim of ``input`` (PyTorch's: the 2-d pool of the input
    unsqueezed, squeezed back)."""
    fn = "adaptive_avg_pool1d"
    _check_input(fn, input)
    o = _one(fn, "output_size", output_size, 2, "adaptive_avg_pool1d() argument 'output_size' should contain one int "
             "(got {})")
    _check_dims_1d(fn, input)
    return _adaptive_avg("adaptive_avg_pool2d", input.unsqueeze(-2), (1,) + o, 2).squeeze(-2)


def _adaptive_max(fn: str, input: Tensor, output_size, n: int) -> tuple:
    _check_input(fn, input)
    if isinstance(output_size, (tuple, list)) and len(output_size) != n and input.dim() > len(output_size):
        _adaptive_checks(fn, input, n, ":")     # (PyTorch's check of the input's dims comes before the sizes')
    sizes = _output_size(fn, output_size, n, input, f"{fn}(): internal error: output_size.size() must be {n}")
    _adaptive_checks(fn, input, n, ":")
    if any(v < 0 for v in sizes):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(sizes)}: "
                           f"{list(input._shape[:-n] + sizes)}")
    _check_dtype(input, fn if n == 2 else fn + "_cpu", True)
    in_sp = input._shape[-n:]
    windows = _combine([_adaptive(in_sp[i], sizes[i])[0] for i in range(n)], in_sp)
    y, i = _max_windows(input, windows, n, sizes, K_ADAPTIVE_MAX + n - 2)
    return shows(y, (("result1", i), ("self", SAVED_SELF))), i


def adaptive_max_pool2d_with_indices(input: Tensor, output_size: Union[int, tuple],
                                     return_indices: bool = False) -> tuple:
    """The adaptive max pool of the last 2 dims of ``input`` and the index of each max in its plane."""
    return _adaptive_max("adaptive_max_pool2d", input, output_size, 2)


def adaptive_max_pool3d_with_indices(input: Tensor, output_size: Union[int, tuple],
                                     return_indices: bool = False) -> tuple:
    """The adaptive max pool of the last 3 dims of ``input`` and the index of each max in its volume."""
    return _adaptive_max("adaptive_max_pool3d", input, output_size, 3)


@public_function("adaptive_max_pool1d")
def adaptive_max_pool1d(input: Tensor, output_size: Union[int, tuple]) -> tuple:
    """The adaptive max pool of the last dim of ``input`` and the index of each max (PyTorch's: the
    2-d pool of the input unsqueezed, squeezed back)."""
    fn = "adaptive_max_pool1d"
    _check_input(fn, input)
    o = _one(fn, "output_size", output_size, 2, "adaptive_max_pool1d() argument 'output_size' should contain one int "
             "(got {})")
    _check_dims_1d(fn, input)
    for i in range(1, input.dim()):     # (PyTorch's own check, on the input before it is unsqueezed)
        if input._shape[i] == 0:
            raise RuntimeError(f"{fn}(): Expected input to have non-zero size for non-batch dimensions, but input has "
                               f"sizes {list(input._shape)} with dimension {i} being empty")
    y, i = _adaptive_max("adaptive_max_pool2d", input.unsqueeze(-2), (1,) + o, 2)
    return y.squeeze(-2), i.squeeze(-2)


# --- power-average pooling -----------------------------------------------------------------
def _lp_pool(input: Tensor, norm_type: float, kernel_size, stride, ceil_mode: bool, n: int) -> Tensor:
    """PyTorch's composition: the average pool of ``input ** p``, times the window's size, to the
    power ``1 / p`` (the max pool of ``|input|`` for p = inf)."""
    k = tuple(kernel_size) if isinstance(kernel_size, (tuple, list)) else (kernel_size,) * n
    if n > 1 and len(k) > n:
        raise ValueError(f"too many values to unpack (expected {n})")
    if n > 1 and len(k) < n:
        raise ValueError(f"not enough values to unpack (expected {n}, got {len(k)})")
    avg, mx = ((avg_pool1d, max_pool1d), (avg_pool2d, max_pool2d), (avg_pool3d, max_pool3d))[n - 1]
    if isinstance(norm_type, (int, float)):
        if norm_type == math.inf:
            return mx(input.abs(), kernel_size, () if stride is None else stride, 0, 1, ceil_mode)
        if norm_type == -math.inf:
            return -mx(-input.abs(), kernel_size, () if stride is None else stride, 0, 1, ceil_mode)
    out = avg(input.pow(norm_type), kernel_size, () if stride is None else stride, 0, ceil_mode)
    return (out.sign() * out.abs().relu()).mul(math.prod(k) if n > 1 else kernel_size).pow(1.0 / norm_type)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size: int, stride: Optional[Union[int, tuple]] = None,
              ceil_mode: bool = False) -> Tensor:
    """The ``norm_type``-norm of each window of the last dim of ``input`` (``(sum x^p)^(1/p)``)."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 1)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size: Union[int, tuple],
              stride: Optional[Union[int, tuple]] = None, ceil_mode: bool = False) -> Tensor:
    """The ``norm_type``-norm of each window of the last 2 dims of ``input``."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 2)


def lp_pool3d(input: Tensor, norm_type: float, kernel_size: Union[int, tuple],
              stride: Optional[Union[int, tuple]] = None, ceil_mode: bool = False) -> Tensor:
    """The ``norm_type``-norm of each window of the last 3 dims of ``input``."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 3)


# --- max unpooling -------------------------------------------------------------------------
def _unpool_size(input: Tensor, k: tuple, s: tuple, p: tuple, output_size) -> list:
    """PyTorch's ``_unpool_output_size``."""
    n = len(k)
    default = [(input._shape[-n + d] - 1) * s[d] + k[d] - 2 * p[d] for d in range(n)]
    if output_size is None:
        out = default
    else:
        if len(output_size) == n + 2:
            output_size = output_size[2:]
        if len(output_size) != n:
            raise ValueError(f"output_size should be a sequence containing {n} or {n + 2} elements, but it has a "
                             f"length of '{len(output_size)}'")
        for d in range(n):
            lo, hi = default[d] - s[d], default[d] + s[d]
            if not lo < output_size[d] < hi:
                raise ValueError(f'invalid output_size "{output_size}" (dim {d} must be between {lo} and {hi})')
        out = list(output_size)
    for d in range(n):
        if out[d] < 0:
            raise ValueError("max_unpooling: output_size must contain non-negative spatial dimensions, but got "
                             f"output_size[{d}]={out[d]}")
    return out


def _unpool(fn: str, input: Tensor, indices: Tensor, out_sp: tuple) -> Tensor:
    n = len(out_sp)
    if indices._dtype is not D.int64:
        raise RuntimeError(f"elements in indices should be type int64 but got: {D.legacy_name(indices._dtype)}")
    if indices._shape != input._shape:
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor ({list(input._shape)}) "
                           f"but got indices tensor with shape: {list(indices._shape)}")
    if input.dim() not in (n + 1, n + 2) or not _nonempty(input, n):
        raise RuntimeError(f"Input to {fn} should be a {n + 1}d or {n + 2}d Tensor, but got a tensor with "
                           f"{input.dim()} dimensions.")
    lead = input._shape[:-n]
    b, size = math.prod(lead), math.prod(out_sp)
    idx = indices._value().reshape(b, -1)
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        bad = int(idx[(idx < 0) | (idx >= size)][0])
        raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of size "
                           f"{'x'.join(str(v) for v in out_sp)})")
    positions = np.ascontiguousarray((idx + (np.arange(b) * size)[:, None]).reshape(input._shape), np.int64)
    y = np.zeros(lead + tuple(out_sp), input._dtype.np)
    y.reshape(-1)[positions.reshape(-1)] = input._value().reshape(-1)
    if not (input._rg and state.grad and input._dtype.arena is not None):
        return plain(y, input._dtype)
    tape = write_tape()
    nx = input._node if input._tape is tape else tape.import_(input)
    node = tape.append(UNPOOL, input._dtype.arena, y, nx, ia=tape.index_list(positions), ib=n - 2)
    tape.args[node] = (("indices", indices),)
    return recorded(tape, node, y, input._dtype)


def _unpool_args(input, kernel_size, stride, padding, n: int) -> tuple:
    def tup(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n
    k = tup(kernel_size)
    return k, (k if stride is None else tup(stride)), tup(padding)


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size: Union[int, tuple],
                 stride: Optional[Union[int, tuple]] = None, padding: Union[int, tuple] = 0,
                 output_size: Optional[Union[int, tuple]] = None) -> Tensor:
    """The inverse of ``max_pool1d``: each element of ``input`` placed at its index (from the pool's
    ``return_indices``) in zeros (PyTorch's: the 2-d unpool of the input unsqueezed at the end)."""
    k, s, p = _unpool_args(input, kernel_size, stride, padding, 1)
    out = _unpool_size(input, k, s, p, output_size)
    return _unpool("max_unpool2d", input.unsqueeze(-1), indices.unsqueeze(-1), (out[0], 1)).squeeze(-1)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size: Union[int, tuple],
                 stride: Optional[Union[int, tuple]] = None, padding: Union[int, tuple] = 0,
                 output_size: Optional[Union[int, tuple]] = None) -> Tensor:
    """The inverse of ``max_pool2d``: each element of ``input`` placed at its index in zeros."""
    k, s, p = _unpool_args(input, kernel_size, stride, padding, 2)
    return _unpool("max_unpool2d", input, indices, tuple(_unpool_size(input, k, s, p, output_size)))


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size: Union[int, tuple],
                 stride: Optional[Union[int, tuple]] = None, padding: Union[int, tuple] = 0,
                 output_size: Optional[Union[int, tuple]] = None) -> Tensor:
    """The inverse of ``max_pool3d``: each element of ``input`` placed at its index in zeros."""
    k, s, p = _unpool_args(input, kernel_size, stride, padding, 3)
    return _unpool("max_unpool3d", input, indices, tuple(_unpool_size(input, k, s, p, output_size)))


# --- fractional max pooling ----------------------------------------------------------------
def _intervals(sample: np.ndarray, size: int, out: int, pool: int) -> np.ndarray:
    """PyTorch's ``generate_intervals``: each plane's window starts (in the samples' precision)."""
    ft = sample.dtype.type
    seq = np.full(sample.shape + (out,), size - pool, np.int64)
    if out > 1:
        alpha = ft(size - pool) / ft(out - 1)
        i = np.arange(out - 1, dtype=ft)
        first = (sample * alpha).astype(np.int64)
        seq[..., :-1] = ((i + sample[..., None]) * alpha).astype(np.int64) - first[..., None]
    return seq


def _fractional(fn: str, input: Tensor, n: int, kernel_size, output_size, output_ratio, samples) -> tuple:
    """``fractional_max_pool{n}d_with_indices``: PyTorch's argument handling, then a max pool over
    windows of ``kernel_size`` starting at pseudo-random steps, one set of steps per plane."""
    _check_input(fn, input)
    if output_size is None and output_ratio is None:
        raise ValueError(f"{fn} requires specifying either an output_size or an output_ratio")
    if output_size is None:
        if len(output_ratio) > n:
            raise ValueError(f"{fn} requires output_ratio to either be a single Int or tuple of Ints.")
        ratio = tuple(output_ratio) if isinstance(output_ratio, (tuple, list)) else (output_ratio,) * n
        if len(ratio) == 1:
            ratio = ratio * n
        output_size = [int(input._shape[-n + i] * ratio[i]) for i in range(n)]
    if samples is None:
        batch = 1 if input.dim() == n + 1 else input._shape[0]
        # (``torch.rand``'s draw: uniform in [0, 1) from the default generator)
        samples = plain(np.empty((batch, input._shape[-n - 1], n), input._dtype.np), input._dtype).uniform_()
    words = "Ints" if n == 2 else "three Ints"
    k = _sized(_ints(fn, "kernel_size", kernel_size, 2), n,
               f"{fn}: kernel_size must either be a single Int or tuple of {words}")
    out = _sized(_ints(fn, "output_size", output_size, 3), n,
                 f"{fn}: output_size must either be a single Int or tuple of {words}")
    if input.dim() not in (n + 1, n + 2):
        raise RuntimeError(f"{fn}(): Expected {n + 1}D or {n + 2}D tensor, but got: {list(input._shape)}")
    names = ("time", "height", "width")[3 - n:]
    where = f"{fn}()" if n == 2 else "fractional_max_pool3d_out()"
    for i in range(n):
        # (PyTorch's 3-d check is strict, its 2-d one not)
        if out[i] + k[i] - 1 > input._shape[-n + i] - (n == 3):
            raise RuntimeError(f"{where}: pool {names[i]} {k[i]} too large relative to input {names[i]} "
                               f"{input._shape[-n + i]}")
    batch = 1 if input.dim() == n + 1 else input._shape[0]
    if samples.dim() != 3 or samples._shape[2] != n:
        raise RuntimeError(f"Expect _random_samples.size(2) equals to {n}; got {samples._shape[-1]}.")
    if samples._shape[0] < batch:
        raise RuntimeError("Expect _random_samples.size(0) no less then input batch size.")
    if samples._shape[1] != input._shape[-n - 1]:
        raise RuntimeError("Expect _random_samples.size(1) equals to input channel size.")
    in_sp = input._shape[-n:]
    u = samples._value()[:batch].reshape(-1, n)      # (one row of samples per plane)
    # (the samples' order: width then height for 2-d, time, height, width for 3-d, as PyTorch's kernels)
    order = (1, 0) if n == 2 else (0, 1, 2)
    per_dim = []
    for i in range(n):
        starts = _intervals(u[:, order[i]], in_sp[i], out[i], k[i])
        per_dim.append(starts[:, :, None] + np.arange(k[i])[None, None, :])
    windows = np.stack([_combine([c[p] for c in per_dim], in_sp) for p in range(u.shape[0])])
    y, idx = _max_windows(input, windows, n, tuple(out), K_FRACTIONAL_MAX + n - 2)
    return shows(y, (("indices", idx), ("kernel_size", k), ("output_size", tuple(out)), ("self", SAVED_SELF))), idx


def fractional_max_pool2d_with_indices(input: Tensor, kernel_size: Union[int, tuple],
                                       output_size: Optional[Union[int, tuple]] = None, output_ratio=None,
                                       return_indices: bool = False, _random_samples: Optional[Tensor] = None) -> tuple:
    """The fractional max pool of the last 2 dims of ``input`` and the indices of the maxima."""
    return _fractional("fractional_max_pool2d", input, 2, kernel_size, output_size, output_ratio, _random_samples)


def fractional_max_pool3d_with_indices(input: Tensor, kernel_size: Union[int, tuple],
                                       output_size: Optional[Union[int, tuple]] = None, output_ratio=None,
                                       return_indices: bool = False, _random_samples: Optional[Tensor] = None) -> tuple:
    """The fractional max pool of the last 3 dims of ``input`` and the indices of the maxima."""
    return _fractional("fractional_max_pool3d", input, 3, kernel_size, output_size, output_ratio, _random_samples)
