"""Graph inspection beyond PyTorch: the backward graph as Graphviz DOT text, and a tape's rows.

``to_dot(y)`` walks ``y.grad_fn`` and ``next_functions`` exactly as PyTorch code would, so
what it draws is what autograd will traverse: one box per node (PyTorch's name, and the
values it saved for backward), one ellipse per leaf that accumulates a gradient (its shape
and dtype), an edge from each node to the node that uses it.  Render the text with
``dot -Tsvg graph.dot -o graph.svg``; producing it needs nothing.
"""
from __future__ import annotations

from typing import Optional

from ._graph import AccumulateGrad, Node
from ._tape import format_rows
from ._tensor import Tensor
from .ops._spec import OUT, REGISTRY, X0, X1

__all__ = ["to_dot", "listing"]

_SAVED = ((X0, "self"), (X1, "other"), (OUT, "result"))


def _saved(node) -> list:
    if not isinstance(node, Node):
        return []
    op = REGISTRY[int(node._tape.op[node._row])]
    return [name for bit, name in _SAVED if op.saved & bit]


def _quote(text: str) -> str:
    # Labels carry DOT's own "\n" line breaks; a quote in a leaf's name is escaped.
    return '"' + text.replace('"', '\\"') + '"'


def _leaf_label(t: Tensor, names: dict) -> str:
    name = names.get(id(t))
    shape = "(" + ", ".join(str(s) for s in t.shape) + ("," if len(t.shape) == 1 else "") + ")"
    return (f"{name}\\n" if name else "") + f"{shape} {t.dtype}"


def to_dot(output: Tensor, params: Optional[dict] = None) -> str:
    """The backward graph of ``output`` as Graphviz DOT text.

    ``params`` optionally names leaves (``{"w": w, "b": b}``), as torchviz's ``make_dot`` does.
    A tensor without history gives a graph of one ellipse.
    """
    names = {id(t): k for k, t in (params or {}).items()}
    ids: dict = {}
    lines = ["digraph {", '    graph [rankdir=BT, fontname="monospace"];',
             '    node [shape=box, fontname="monospace", fontsize=11];']

    def ident(obj) -> str:
        key = ("leaf", id(obj.variable)) if isinstance(obj, AccumulateGrad) else ("node", hash(obj), type(obj))
        if key not in ids:
            ids[key] = f"n{len(ids)}"
        return ids[key]

    out_id = "output"
    lines.append(f"    {out_id} [label={_quote(_leaf_label(output, names))}, shape=ellipse, style=filled, "
                 "fillcolor=darkolivegreen1];")
    root = output.grad_fn
    if root is None:
        lines.append("}")
        return "\n".join(lines) + "\n"
    seen = set()
    todo = [root]
    lines.append(f"    {ident(root)} -> {out_id};")
    while todo:
        fn = todo.pop()
        me = ident(fn)
        if me in seen:
            continue
        seen.add(me)
        if isinstance(fn, AccumulateGrad):
            lines.append(f"    {me} [label={_quote(_leaf_label(fn.variable, names))}, shape=ellipse, style=filled, "
                         "fillcolor=lightblue];")
            continue
        saved = _saved(fn)
        label = fn.name() + (f"\\nsaved: {', '.join(saved)}" if saved else "")
        lines.append(f"    {me} [label={_quote(label)}];")
        for nxt, _ in fn.next_functions:
            if nxt is None:
                continue
            lines.append(f"    {ident(nxt)} -> {me};")
            todo.append(nxt)
    lines.append("}")
    return "\n".join(lines) + "\n"


def listing(t: Tensor, last: Optional[int] = None) -> str:
    """The Wengert listing of the tape that recorded ``t`` (its last ``last`` rows): one line per
    row, with the op, its inputs, attributes, shape and the first values."""
    if t._tape is None:
        return "(a leaf: not recorded on a tape)"
    return format_rows(t._tape, last)
