"""Ops over several tensors at once: rows with a list of inputs or several outputs.

``cat`` and ``stack`` take any number of inputs (listed in the tape's index
table), ``where(condition, input, other)`` takes three, and ``unbind`` gives
several outputs: its row holds the outputs' values one after another (the input
with ``dim`` moved to the front), followed by one OUTPUT row per output, whose
value and adjoint are that row's parts.

All four move blocks between a "whole" laid out as ``(outer, total, inner)``
around ``dim`` and "parts" laid out as ``(outer, size_k, inner)``: cat and stack
assemble the whole from their inputs, unbind splits its input into its outputs;
each one's adjoint is the other's forward.

Row attributes: ``ia`` is the dim (of the output for cat and stack, of the input
for unbind).  ``where`` lists ``(condition, input, other)``; the condition is a
mask of 0/1 in the row's dtype, kept on the tape like any input, and gets no
gradient (PyTorch's node shows only ``input`` and ``other``).
"""
from __future__ import annotations

import warnings
from typing import Optional, Union

import numpy as np
from numba import njit

from .._emit import (LEND_FROM, ConstRef, D, Tensor, aliased, in_parts, node_in, plain, recorded, state, unshare,
                     write_tape)
from ._args import broadcast_pair, shown, wrap_dim
from ._parser import check_elements
from ._index import slab
from ._spec import (CONST, JOIN, LISTED, R_A, R_IA, R_LN, R_LO, R_NOUT, R_NUM, R_OFF, R_RG, R_SHP, X0, Op, public,
                    public_function, register)
from ._spec import tangents
from .ternary import TERNARY, ternary_adjoint, ternary_forward

CAT, STACK, WHERE, UNBIND = range(JOIN.start, JOIN.start + 4)
# split/chunk (``ops/split.py``): unbind's layout, parts of any size along ``ia``; two codes for
# PyTorch's two node names (SplitBackward0, SplitWithSizesBackward0), which its errors show.
SPLIT, SPLIT_SIZES = 410, 411
_TERNARY_START, _TERNARY_END = TERNARY.start, TERNARY.stop     # (lerp, addcmul ...: ``ops/ternary.py``)


# --- numeric kernels ------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _blocks(whole, ow, total, start, part, op, size, outer, inner, into_part):
    """Add part ``(outer, size, inner)`` to/from the whole ``(outer, total, inner)`` at ``start``."""
    w = size * inner
    for o in range(outer):
        a = ow + (o * total + start) * inner
        b = op + o * w
        if into_part:
            for j in range(w):
                part[b + j] += whole[a + j]
        else:
            for j in range(w):
                whole[a + j] += part[b + j]


@njit(cache=True, error_model="numpy")
def _move(R, ix, stab, v, r, into_parts, only_needed):
    """Move values between row ``r``'s whole and its parts (its inputs for cat/stack,
    its outputs for unbind), adding into the destination."""
    listed = R[R_LN, r] != 0
    whole = r if listed else R[R_A, r]
    outer, _, inner = slab(stab, R[R_SHP, whole], R[R_IA, r])
    if outer * inner == 0:
        return
    total = R[R_NUM, whole] // (outer * inner)
    n = R[R_LN, r] if listed else R[R_NOUT, r]
    start = 0
    for k in range(n):
        part = ix[R[R_LO, r] + k] if listed else r + 1 + k
        size = R[R_NUM, part] // (outer * inner)
        if not only_needed or R[R_RG, part] != 0:
            _blocks(v, R[R_OFF, whole], total, start, v, R[R_OFF, part], size, outer, inner, into_parts)
        start += size


@njit(cache=True, error_model="numpy")
def join_adjoint(code, R, ix, stab, v, g, r):
    """Accumulate the input adjoints of one row of this family; False for a code it does not know."""
    if code >= _TERNARY_START and code < _TERNARY_END:
        ternary_adjoint(code, R, ix, v, g, r)
        return True
    if code == CAT or code == STACK:
        _move(R, ix, stab, g, r, True, True)        # each input gets its block of the output's adjoint
        return True
    if code == UNBIND or code == SPLIT or code == SPLIT_SIZES:
        _move(R, ix, stab, g, r, False, False)      # the outputs' adjoints are the row's parts
        return True
    if code == WHERE:
        lo = R[R_LO, r]
        c = ix[lo]
        x = ix[lo + 1]
        y = ix[lo + 2]
        n = R[R_NUM, r]
        oc, ox, oy, o = R[R_OFF, c], R[R_OFF, x], R[R_OFF, y], R[R_OFF, r]
        nc, nx, ny = R[R_NUM, c], R[R_NUM, x], R[R_NUM, y]
        # Inputs broadcast along leading dims are read modulo their size, as binary rows are.
        # As PyTorch's where(condition, grad, 0): exactly 0 on the other side, even for a nan grad.
        if nc == n and nx == n and ny == n:
            # (no broadcast: a blend instead of a jump and a division per element, so it vectorizes)
            if n == 0:
                return True
            _where_loops(n, v[oc:oc + n], g[o:o + n], g[ox:ox + n], g[oy:oy + n], R[R_RG, x], R[R_RG, y])
            return True
        if R[R_RG, x] != 0:
            for i in range(n):
                if v[oc + i % nc] != 0:
                    g[ox + i % nx] += g[o + i]
        if R[R_RG, y] != 0:
            for i in range(n):
                if v[oc + i % nc] == 0:
                    g[oy + i % ny] += g[o + i]
        return True
    return False


@njit(cache=True, error_model="numpy", inline="always")
def _where_loops(n, mask, gy, gx, gz, rgx, rgy):
    zero = type(gy[0])(0.0)
    if rgx != 0:
        for i in range(n):
            gx[i] += gy[i] if mask[i] != 0 else zero
    if rgy != 0:
        for i in range(n):
            gz[i] += zero if mask[i] != 0 else gy[i]


@njit(cache=True, error_model="numpy", nogil=True)   # (run on blocks of a row by several threads)
def where_block(mask, gy, gx, gz, rgx, rgy):
    """Accumulate ``gx``, ``gz``, the adjoints of the two sides of a block of a ``where`` row whose
    inputs are not broadcast, from its 0/1 ``mask`` and output adjoint ``gy`` (``join_adjoint``'s
    loops on arrays given apart)."""
    _where_loops(gy.shape[0], mask, gy, gx, gz, rgx, rgy)


@njit(cache=True, error_model="numpy")
def join_forward(code, R, ix, stab, v, r):
    """Write the value of one row of this family (its compiled forward face); False for a
    code it does not know."""
    if code >= _TERNARY_START and code < _TERNARY_END:
        ternary_forward(code, R, ix, v, r)
        return True
    for i in range(R[R_NUM, r]):
        v[R[R_OFF, r] + i] = 0.0
    if code == CAT or code == STACK:
        _move(R, ix, stab, v, r, False, False)
        return True
    if code == SPLIT or code == SPLIT_SIZES:
        _move(R, ix, stab, v, r, True, False)       # each output's part from the input
        return True
    if code == UNBIND:
        # The parts are the row's own value here: fill it from the input, part by part.
        x = R[R_A, r]
        outer, _, inner = slab(stab, R[R_SHP, x], R[R_IA, r])
        if outer * inner == 0:
            return True
        total = R[R_NUM, x] // (outer * inner)
        op = R[R_OFF, r]
        for k in range(total):
            _blocks(v, R[R_OFF, x], total, k, v, op + k * outer * inner, 1, outer, inner, True)
        return True
    if code == WHERE:
        lo = R[R_LO, r]
        c, x, y = ix[lo], ix[lo + 1], ix[lo + 2]
        nc, nx, ny = R[R_NUM, c], R[R_NUM, x], R[R_NUM, y]
        for i in range(R[R_NUM, r]):
            v[R[R_OFF, r] + i] = v[R[R_OFF, x] + i % nx] if v[R[R_OFF, c] + i % nc] != 0 else v[R[R_OFF, y] + i % ny]
        return True
    return False


_SELECT_FROM = 1 << 12      # elements from which where's value is a compiled blend rather than numpy's where


@njit(cache=True, error_model="numpy", nogil=True)
def _select(mask, x, y, out):
    for i in range(out.shape[0]):
        out[i] = x[i] if mask[i] else y[i]


@njit(cache=True, error_model="numpy", nogil=True)
def _select_mask(cond, x, y, out, mask):
    """``_select`` of a condition's bytes, which also writes the 0/1 mask a where row keeps."""
    for i in range(out.shape[0]):
        c = cond[i] != 0
        out[i] = x[i] if c else y[i]
        mask[i] = 1.0 if c else 0.0


# --- derivative rules (tape ops, so every order works) ------------------------------
def _zeros(shape: tuple, like) -> Tensor:
    return plain(np.zeros(shape, like.dtype.np), like.dtype)


def _cat_vjp(g, xs, y, r):
    dim = r.ia
    nd = len(r.out_shape)
    out, start = [], 0
    for shape in r.in_shapes:
        if len(shape) != nd:
            out.append(_zeros(shape, g))        # a legacy empty 1-D input
            continue
        out.append(g[(slice(None),) * dim + (slice(start, start + shape[dim]),)])
        start += shape[dim]
    return tuple(out)


def _stack_vjp(g, xs, y, r):
    return g.unbind(r.ia)


def _unbind_vjp(gs, xs, y, r):
    parts = [g if g is not None else _zeros(shape, xs[0]) for g, shape in zip(gs, r.out_shapes)]
    return (stack(parts, r.ia),)


def _where_vjp(g, xs, y, r):
    cond = xs[0] != 0          # (kept on the tape as a 0/1 mask in the row's dtype)
    zero = _zeros((), g)
    return None, where(cond, g, zero), where(cond, zero, g)


# (the front ends write what the nodes show, with the arguments as given: these tables are for
# rows recorded by derivatives)
_DIM = (("dim", lambda r: r.ia),)
register(Op(CAT, "cat", "CatBackward0", 0, _cat_vjp, float_only=False, arity=LISTED, node_saved=_DIM))
register(Op(STACK, "stack", "StackBackward0", 0, _stack_vjp, float_only=False, arity=LISTED, node_saved=_DIM))
register(Op(WHERE, "where", "WhereBackward0", X0, _where_vjp, float_only=False, arity=LISTED, nondiff=(0,),
            node_saved=(("condition", X0),)))
register(Op(UNBIND, "unbind", "UnbindBackward0", 0, _unbind_vjp, float_only=False, multi=True,
            node_saved=(("dim", lambda r: r.ia),)))


def _filled(ts, xs) -> list:
    """The inputs' tangents, zeros for those without one."""
    return [t if t is not None else _zeros(x._shape, x) for t, x in zip(ts, xs)]


def _where_jvp(ts, xs, y, r):
    zero = _zeros((), y)
    out = where(xs[0] != 0, zero if ts[1] is None else ts[1], zero if ts[2] is None else ts[2])
    return out if out._shape == y._shape else out.expand(y._shape)


# Tangent rules: cat, stack and unbind are linear (their own tangent); where picks the tangents.
tangents({CAT: lambda ts, xs, y, r: cat(_filled(ts, xs), r.ia),
          STACK: lambda ts, xs, y, r: stack(_filled(ts, xs), r.ia),
          WHERE: _where_jvp,
          UNBIND: lambda ts, xs, y, r: ts[0].unbind(r.ia)})

# --- front ends ---------------------------------------------------------------------
def _tensor_list(tensors, name: str) -> list:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}(): argument 'tensors' (position 1) must be tuple of Tensors, not "
                        f"{type(tensors).__name__}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    return list(tensors)


def _dim_arg(dim, name: str, wrapped: bool = True) -> int:
    """``dim`` as an int; else a TypeError, which the front's wrapper (``wrapped``) gives the parser's
    words and the position as the call gave ``dim`` (``cat``'s, without a wrapper, says no position)."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        if wrapped:
            raise TypeError(f"{name}: dim must be an int, got {type(dim).__name__}")
        raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")
    return int(dim)


def _write_out(result: Tensor, out: Tensor | None, name: str) -> Tensor:
    """Copy ``result`` into ``out`` (resized to its shape) as PyTorch's ``out=`` does."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if result._dtype._cat > out._dtype._cat:
        raise RuntimeError(f"result type {D.legacy_name(result._dtype)} can't be cast to the desired output type "
                           f"{D.legacy_name(out._dtype)}")
    value = result._value().astype(out._dtype.np)
    if out._shape == result._shape:
        unshare(out._storage())
        out._storage()[...] = value
    else:
        out._v = value
        out._f = None
        out._shape = value.shape
    out._bump()
    return out


def _no_grad_out(tensors, out, name: str) -> None:
    if out is not None and state.grad and any(t._rg for t in tensors):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic differentiation, "
                           "but one of the arguments requires grad.")


def _record_listed(code: int, y: np.ndarray, dt: D.dtype, tensors: list, shapes: list, dim: int,
                   saved: tuple) -> Tensor:
    """A row over the ``tensors`` listed, whose node shows ``saved`` (``tape/_saved.py``)."""
    tape = write_tape()
    nodes = [node_in(tape, t, dt, s) for t, s in zip(tensors, shapes)]
    row = tape.append_listed(code, dt.arena, y, nodes, ia=dim)
    tape.args[row] = saved
    return recorded(tape, row, y, dt)


@public_function("cat")
def cat(tensors, dim: int = 0, *, out: Tensor | None = None, axis: int | None = None) -> Tensor:
    """Concatenate tensors along an existing dimension ``dim``.

    All tensors must have the same shape except along ``dim`` (1-D empty tensors are
    skipped, as in PyTorch); their dtypes are promoted to a common one.
    """
    tensors = _tensor_list(tensors, "cat")
    dim = _dim_arg(axis if axis is not None else dim, "cat", wrapped=False)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not t._shape:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    kept = [t for t in tensors if t._shape != (0,)]
    ref = kept[0] if kept else tensors[0]
    nd = len(ref._shape)
    given, dim = dim, wrap_dim(dim, nd)
    for i, t in enumerate(tensors):
        if t._shape == (0,):
            continue
        if len(t._shape) != nd:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {nd} and {len(t._shape)}")
        for d in range(nd):
            if d != dim and t._shape[d] != ref._shape[d]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {dim}. Expected size "
                                   f"{ref._shape[d]} but got size {t._shape[d]} for tensor number {i} in the list.")
    _no_grad_out(tensors, out, "cat")
    dt = D.result_type(*tensors)
    values = [t._value().astype(dt.np, copy=False) for t in kept]
    y = np.concatenate(values, axis=dim) if values else np.zeros((0,), dt.np)
    if out is None and state.grad and any(t._rg for t in tensors) and dt.is_floating_point:
        return _record_listed(CAT, y, dt, tensors, [t._shape for t in tensors], dim, (("dim", shown(given)),))
    return _write_out(plain(y, dt), out, "cat")


def _as_alias(e: TypeError, name: str) -> None:
    """``cat``'s argument errors as the parser words them for its alias ``name``."""
    if len(e.args) == 1 and str(e).startswith("cat()"):
        e.args = (name + str(e)[3:],)


@public_function("concat")
def concat(tensors, dim: int = 0, *, out: Tensor | None = None) -> Tensor:
    """Alias of :func:`cat`."""
    try:
        return cat(tensors, dim, out=out)
    except TypeError as e:
        _as_alias(e, "concat")
        raise


@public_function("concatenate")
def concatenate(tensors, dim: int = 0, *, out: Tensor | None = None) -> Tensor:
    """Alias of :func:`cat` (NumPy's name; ``axis=`` for ``dim`` as everywhere)."""
    try:
        return cat(tensors, dim, out=out)
    except TypeError as e:
        _as_alias(e, "concatenate")
        raise


@public_function("stack")
def stack(tensors, dim: int = 0, *, out: Tensor | None = None) -> Tensor:
    """Concatenate tensors of equal shape along a new dimension ``dim``."""
    tensors = _tensor_list(tensors, "stack")
    dim = _dim_arg(dim, "stack")
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0]._shape
    for i, t in enumerate(tensors):
        if t._shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 and "
                               f"{list(t._shape)} at entry {i}")
    given, dim = dim, wrap_dim(dim, len(shape) + 1)
    _no_grad_out(tensors, out, "stack")
    dt = D.result_type(*tensors)
    y = np.stack([t._value().astype(dt.np, copy=False) for t in tensors], axis=dim)
    if out is None and state.grad and any(t._rg for t in tensors) and dt.is_floating_point:
        return _record_listed(STACK, y, dt, tensors, [shape] * len(tensors), dim, (("dim", shown(given)),))
    return _write_out(plain(y, dt), out, "stack")


def _where_operand(x, dt: D.dtype) -> Tensor:
    return x if isinstance(x, Tensor) else plain(np.asarray(x, dt.np), dt)


@public_function("where")
def where(condition: Tensor, input=None, other=None, *, out: Tensor | None = None):
    """Elements of ``input`` where ``condition`` holds, else of ``other`` (broadcast together).

    ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``.
    """
    if input is None and other is None:
        if not isinstance(condition, Tensor):
            raise TypeError(f"where(): argument 'condition' (position 1) must be Tensor, not "
                            f"{type(condition).__name__}")
        return tuple(plain(i.astype(np.int64), D.int64) for i in np.nonzero(np.atleast_1d(condition._value())))
    if input is None or other is None or not isinstance(condition, Tensor):
        got = ", ".join(type(a).__name__ for a in (condition, input, other) if a is not None)
        raise TypeError(f"where() received an invalid combination of arguments - got ({got}), but expected one of:\n"
                        " * (Tensor condition)\n"
                        " * (Tensor condition, Tensor input, Tensor other, *, Tensor out = None)\n"
                        " * (Tensor condition, Number self, Tensor other)\n"
                        " * (Tensor condition, Tensor input, Number other)\n"
                        " * (Tensor condition, Number self, Number other)\n")
    for a in (input, other):
        if not isinstance(a, (Tensor, int, float, bool, np.number)):
            raise TypeError(f"where(): argument 'input' must be Tensor, not {type(a).__name__}")
    if condition._dtype is D.uint8:
        warnings.warn("where received a uint8 condition tensor. This behavior is deprecated and will be removed "
                      "in a future version of PyTorch. Use a boolean condition instead.", UserWarning, stacklevel=2)
    elif condition._dtype is not D.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                           f"{D.legacy_name(condition._dtype)}")
    dt = D.result_type(input, other)
    x = _where_operand(input, dt)
    y = _where_operand(other, dt)
    shape = broadcast_pair(broadcast_pair(condition._shape, x._shape), y._shape)
    tensors = (x, y)
    _no_grad_out(tensors, out, "where")
    vx, vy = x._value().astype(dt.np, copy=False), y._value().astype(dt.np, copy=False)
    if out is None and state.grad and (x._rg or y._rg) and dt.is_floating_point and dt.arena is not None and \
            condition._shape == vx.shape == vy.shape == shape and vx.size >= LEND_FROM:
        return _where_into(condition, x, y, vx, vy, dt, shape)
    mask = condition._value() != 0
    if mask.shape == vx.shape == vy.shape == shape and mask.size >= _SELECT_FROM:
        value = np.empty(shape, dt.np)      # (numpy's where jumps on each element of a mixed mask)
        _select(mask.reshape(-1), np.ascontiguousarray(vx).reshape(-1), np.ascontiguousarray(vy).reshape(-1),
                value.reshape(-1))
    else:
        value = np.asarray(np.where(mask, vx, vy), dt.np).reshape(shape)
    if out is None and state.grad and (x._rg or y._rg) and dt.is_floating_point:
        # (An input broadcast along leading dims only is kept as it is: the kernel reads it modulo
        # its size; others are expanded by node_in.  The condition itself is held, in the row's dtype,
        # so that an in-place change of it makes backward fail, as PyTorch's saved condition does.)
        return _record_listed(WHERE, value, dt, [condition, x, y], [shape] * 3, 0, (("condition", condition),))
    return _write_out(plain(value, dt), out, "where")


def _where_into(condition: Tensor, x: Tensor, y: Tensor, vx: np.ndarray, vy: np.ndarray, dt: D.dtype,
                shape: tuple) -> Tensor:
    """A big recorded ``where`` whose value and 0/1 mask (its CONST input, which the adjoint reads) are
    written by one pass straight into their arena slots, in parts on all cores."""
    tape = write_tape()
    nodes = [node_in(tape, t, dt, shape) for t in (x, y)]
    n = vx.size
    o, both = tape.slot(dt.arena, (2 * n,))       # (one reservation: a second could move the first)
    mask, value = both[:n], both[n:]
    cond = np.ascontiguousarray(condition._value()).reshape(-1).view(np.uint8)
    fx, fy = np.ascontiguousarray(vx).reshape(-1), np.ascontiguousarray(vy).reshape(-1)
    in_parts(lambda lo, hi: _select_mask(cond[lo:hi], fx[lo:hi], fy[lo:hi], value[lo:hi], mask[lo:hi]), n)
    kept = plain(mask.reshape(shape), dt)
    c = tape.append(CONST, dt.arena, kept._value(), at=o)
    tape.rg[c] = 0
    tape.csrc[c] = ConstRef(kept)
    row = tape.append_listed(WHERE, dt.arena, value.reshape(shape), [c] + nodes, at=o + n)
    tape.args[row] = (("condition", condition),)
    return recorded(tape, row, value.reshape(shape), dt)


@public("unbind")
def unbind(input: Tensor, dim: int = 0) -> tuple:
    """Remove a dimension; return the tuple of all slices along it."""
    given = _dim_arg(dim, "unbind")
    dim = wrap_dim(given, len(input._shape))
    if not input._shape:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    n = input._shape[dim]
    part = input._shape[:dim] + input._shape[dim + 1:]
    if not (input._rg and state.grad) or n == 0:
        v = input._storage()
        return tuple(input._view_alias(v[(slice(None),) * dim + (i, Ellipsis)], multi=True) for i in range(n))
    dt = input._dtype
    whole = np.ascontiguousarray(np.moveaxis(input._value(), dim, 0))
    tape = write_tape()
    x = input._node if input._tape is tape else tape.import_(input)
    row = tape.append(UNBIND, dt.arena, whole, x, ia=dim)
    tape.args[row] = (("dim", shown(given)),)
    nodes = tape.append_outputs(row, [part] * n)
    v = input._storage()
    return tuple(aliased(recorded(tape, node, whole[k], dt), input, v[(slice(None),) * dim + (k, Ellipsis)])
                 for k, node in enumerate(nodes))



@public("where", function=False)
def where_method(self, condition: Tensor, other: Union[Tensor, int, float, bool]) -> Tensor:
    """``tape.where(condition, self, other)``."""
    return where(condition, self, other)


@public_function("meshgrid")
def meshgrid(*tensors, indexing: Optional[str] = None) -> tuple:
    """Coordinate grids from 1-D (or 0-d) tensors: output ``k`` repeats ``tensors[k]`` along every other
    dim (``indexing='ij'``: dim ``k``; ``'xy'``: the first two dims swapped).  Each output is a view,
    as in PyTorch: ``tensors[k]`` reshaped, then expanded."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
                      UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    check_elements(tensors, Tensor)
    for t in tensors:
        if len(t._shape) > 1:
            raise RuntimeError("torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: "
                               f"{t._shape}")
    if any(t._dtype is not tensors[0]._dtype for t in tensors):
        raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    order = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        order[0], order[1] = 1, 0
    sizes = [tensors[k].numel() for k in order]
    out = []
    for k, t in enumerate(tensors):
        at = order.index(k)
        shape = [1] * len(tensors)
        shape[at] = -1
        out.append(t.reshape(shape).expand(sizes))
    return tuple(out)
