"""The tangent sweep: forward-mode derivatives over a tape's rows, from each op's ``jvp`` rule.

Rows are visited in order; a row any of whose inputs has a tangent gets the tangent its op's
rule gives (``Op.jvp``: written with tape's tensor operations, so a tangent is recorded like any
value, and reverse mode or another tangent sweep can run through it).  An op whose rule is
``TRANSPOSED`` gets ``J t`` from its adjoint rule, which is linear in the adjoint ``u``: the
gradient of ``<vjp(u), t>`` with respect to ``u``, by recorded reverse mode over the rule.
"""
from __future__ import annotations

import numpy as np

from ._emit import D, Tensor, plain
from ._grad_mode import enable_grad
from ._row import Row
from .autograd._backward import grad
from .ops._spec import REGISTRY, SOURCE, TRANSPOSED


def _handle(tape, node: int) -> Tensor:
    return plain(tape.value_of(node), D.ARENA_DTYPES[int(tape.dt[node])])


def _known(handles, tape, node: int) -> Tensor:
    t = handles.get(node) if handles else None
    return _handle(tape, node) if t is None else t


def tangent_sweep(tape, seeds: dict, stop: int | None = None, handles: dict | None = None,
                  rows: list | None = None) -> dict:
    """Tangents of the rows of ``tape`` from ``seeds`` (node -> tangent of that node's value) up to
    row ``stop``: node -> tangent, for every node with a nonzero one.  ``handles`` (node -> tensor)
    gives the rules the tensors standing for those nodes (recorded ones: a tangent then has the
    history of the values it was computed from); other values are unrecorded.  ``rows`` (in
    order): visit only these."""
    tan = dict(seeds)
    stop = tape.n if stop is None else stop
    for r in _rows(tape, min(seeds) + 1 if seeds else stop, stop) if rows is None else rows:
        code = int(tape.op[r])
        if code in SOURCE:
            continue
        nodes = tape.inputs_of(r)
        ts = [tan.get(x) for x in nodes]
        op = REGISTRY[code]
        row = Row(tape, r)
        for k in op.nondiff + (op.nondiff_of(row) if op.nondiff_of is not None else ()):
            if k < len(ts):     # (an optional input, as an index row's held index tensor)
                ts[k] = None
        if any(t is not None for t in ts):
            xs = tuple(_known(handles, tape, x) for x in nodes)
            y = _known(handles, tape, r)
            out = tangent_of(op, tuple(ts), xs, y, row)
            if op.multi:
                for k, t in enumerate(out):
                    if t is not None:
                        tan[r + 1 + k] = t
            elif out is not None:
                tan[r] = out
    return tan


def _rows(tape, r: int, stop: int):
    """The rows from ``r`` to ``stop`` (a multi-output row's OUTPUT rows are its own)."""
    while r < stop:
        yield r
        r += 1 + int(tape.nout[r])


def tangent_of(op, ts: tuple, xs: tuple, y: Tensor, row: Row):
    """The tangent of one row's output(s) (None: zero)."""
    if op.jvp is None:
        raise NotImplementedError(f"Trying to use forward AD with {op.name} that does not support it")
    if op.jvp is not TRANSPOSED:
        return op.jvp(ts, xs, y, row)
    return _transposed(op, ts, xs, y, row)


def _transposed(op, ts: tuple, xs: tuple, y: Tensor, row: Row):
    with enable_grad():
        if op.multi:
            us = tuple(plain(np.zeros(s, y._dtype.np), y._dtype).requires_grad_() for s in row.out_shapes)
            g = us
        else:
            us = (plain(np.zeros(y._shape, y._dtype.np), y._dtype).requires_grad_(),)
            g = us[0]
        outs = op.vjp(g, xs, y, row)
        pairs = []
        for d, t, x in zip(outs, ts, xs):
            if d is None or t is None or not d.requires_grad:
                continue
            if d._shape != x._shape:
                d = d._sum_to(x._shape)
            pairs.append((d, t))
        if not pairs:
            return (None,) * len(us) if op.multi else None
        got = grad([d for d, _ in pairs], us, [t for _, t in pairs], create_graph=True, allow_unused=True)
    return got if op.multi else got[0]
