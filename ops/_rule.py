"""Shared pieces of the reduction families: rows whose derivative runs in Python, and the named
tuples PyTorch returns (``torch.return_types.max``).

A Python-rule row (a code in the ``PYTHON`` range) has one derivative rule, its op's ``vjp``,
written in tape ops: the recorded backward runs it on the row's tensors (so every order comes
from it), and the plain backward runs the same rule on plain tensors over the arenas
(``rule_adjoint``), where each tensor op is one numpy call over the whole row.
"""
from __future__ import annotations

import numpy as np

from .._emit import D, plain
from ._spec import REGISTRY


def _handle(tape, node: int):
    return plain(tape.value_of(node), D.ARENA_DTYPES[int(tape.dt[node])])


def rule_adjoint(row, va, vb, gy, ga, gb, fresh) -> int:
    """``py_adjoint`` of a Python-rule row: its op's ``vjp`` run on plain tensors, written (first
    gradient to reach an input) or added into the input adjoints ``ga``/``gb``; returns which of
    them hold a gradient (bits 1/2: not one the rule passed as None to an input none reached yet)."""
    tape, r = row.tape, row.r
    op = REGISTRY[row.code]
    xs = tuple(_handle(tape, x) for x in row.inputs)
    dt = D.ARENA_DTYPES[int(tape.dt[r])]
    if op.multi:
        # One adjoint per output, consecutive parts of the row's (None where none arrived, as
        # PyTorch's undefined gradient: a nan of an unused output does not reach the input).
        g, at = [], 0
        arrived = row.arrived
        for k, shape in enumerate(row.out_shapes):
            n = int(np.prod(shape))
            g.append(plain(gy.reshape(-1)[at:at + n].reshape(shape), dt) if not arrived or arrived[k] else None)
            at += n
        g = tuple(g)
    else:
        g = plain(gy, dt)
    outs = op.vjp(g, xs, _handle(tape, r), row)
    wrote = 0
    for k, dst in enumerate((ga, gb)):
        if dst is None:
            continue
        d = outs[k]
        if d is not None and d._shape != dst.shape:
            d = d._sum_to(dst.shape)        # the input was broadcast
        if d is None:
            if fresh >> k & 1:
                dst[...] = 0                # (the other input may be the same node, and add to it)
            else:
                wrote |= 1 << k
        elif fresh >> k & 1:
            dst[...] = d._value()
            wrote |= 1 << k
        else:
            np.add(dst, d._value(), out=dst)
            wrote |= 1 << k
    return wrote


_RETURN_TYPES: dict = {}


def return_type(name: str, fields: tuple) -> type:
    """The named tuple type PyTorch returns as ``torch.return_types.<name>``: fields by name
    (``.values``, ``.indices``) and by position."""
    cls = _RETURN_TYPES.get(name)
    if cls is None:
        def __repr__(self) -> str:
            body = ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self))
            return f"torch.return_types.{name}(\n{body})"

        def __new__(klass, values):
            return tuple.__new__(klass, values)

        # (PyTorch's is a C struct sequence: its errors name it in full, and its fields are read-only)
        full = f"torch.return_types.{name}"

        def __setitem__(self, key, value):
            raise TypeError(f"'{full}' object does not support item assignment")

        def __delitem__(self, key):
            raise TypeError(f"'{full}' object doesn't support item deletion")

        def __setattr__(self, attr, value):
            if attr in fields:
                raise AttributeError("readonly attribute")
            raise AttributeError(f"'{full}' object has no attribute '{attr}'")

        def __delattr__(self, attr):
            __setattr__(self, attr, None)

        ns = {"__slots__": (), "__repr__": __repr__, "__new__": __new__, "_fields": fields,
              "__module__": "torch.return_types", "__qualname__": name, "__setitem__": __setitem__,
              "__delitem__": __delitem__, "__setattr__": __setattr__, "__delattr__": __delattr__}
        for k, f in enumerate(fields):
            ns[f] = property(lambda self, k=k: tuple.__getitem__(self, k))
        cls = _RETURN_TYPES[name] = type(name, (tuple,), ns)
    return cls


def diagonal(vjp):
    """The tangent rule of an elementwise op, from its adjoint rule: the op's Jacobian in each input
    is diagonal, hence its own transpose, so ``J t`` is ``vjp`` with the tangent as adjoint (each
    input's tangent broadcast to the output first), summed over the inputs (the product rule)."""
    def jvp(ts, xs, y, r):
        out = None
        for k, t in enumerate(ts):
            if t is None:
                continue
            if t._shape != y._shape:
                t = t.expand(y._shape)
            d = vjp(t, xs, y, r)[k]
            if d is None:
                continue
            if d._shape != y._shape:
                d = d.expand(y._shape)
            out = d if out is None else out + d
        return out
    return jvp
