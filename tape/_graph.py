"""``grad_fn`` and ``next_functions``: views of tape rows shaped like PyTorch's nodes.

Nothing here is used by backward; the views are built on demand from the rows,
named from the op table (``MulBackward0`` ...), and cached while alive so that
``y.grad_fn is y.grad_fn`` holds, as in PyTorch.
"""
from __future__ import annotations

import weakref
from typing import Callable

from ._hooks import node_hook
from ._row import Row
from ._tape import Tape
from .ops._spec import CONST, INPUT, OUTPUT, REGISTRY
from .utils.hooks import RemovableHandle

_CLASSES = {}


class Node:
    """A node of the backward graph (the ``grad_fn`` of a tensor)."""

    __slots__ = ("_tape", "_row", "__weakref__")

    def __init__(self, tape: Tape, row: int) -> None:
        self._tape = tape
        self._row = row

    def name(self) -> str:
        name = type(self).__name__
        # (PyTorch's nodes that are not derivative formulas, such as CopySlices, print their C++ name)
        return name if "Backward" in name else "torch::autograd::" + name

    @property
    def next_functions(self) -> tuple:
        tape, r = self._tape, self._row
        op = REGISTRY[int(tape.op[r])]
        skip = op.nondiff if op.nondiff_of is None else op.nondiff_of(Row(tape, r))
        fold = op.folded_of(Row(tape, r)) if op.folded_of is not None else -1
        out = []
        for k, node in enumerate(Row(tape, r).inputs):
            if k == fold:
                while tape.hid[node]:
                    node = int(tape.a[node])
                out.extend(node_view(tape, node).next_functions[1:])
            elif k not in skip:
                out.append(_edge(tape, node))
        if op.number_input:
            out.append((None, 0))       # a Python-number operand, as PyTorch shows it
        return tuple(out)

    @property
    def metadata(self) -> dict:
        return {}

    def register_hook(self, fn: Callable) -> RemovableHandle:
        """Register ``fn(grad_inputs, grad_outputs) -> tuple or None``, run after this node computed
        the gradients of its inputs (a returned tuple replaces them)."""
        return node_hook(self._tape, self._row, fn, pre=False)

    def register_prehook(self, fn: Callable) -> RemovableHandle:
        """Register ``fn(grad_outputs) -> tuple or None``, run before this node runs (a returned
        tuple replaces the gradients of its outputs)."""
        return node_hook(self._tape, self._row, fn, pre=True)

    def __eq__(self, other) -> bool:
        return isinstance(other, Node) and other._tape is self._tape and other._row == self._row

    def __hash__(self) -> int:
        return hash((id(self._tape), self._row))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {id(self):#x}>"


class AccumulateGrad:
    """The node that accumulates a leaf's gradient into its ``.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable) -> None:
        self.variable = variable

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    next_functions = ()

    def __eq__(self, other) -> bool:
        return isinstance(other, AccumulateGrad) and other.variable is self.variable

    def __hash__(self) -> int:
        return id(self.variable)

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"


def _class(name: str) -> type:
    cls = _CLASSES.get(name)
    if cls is None:
        cls = _CLASSES[name] = type(name, (Node,), {"__slots__": ()})
    return cls


def _leader(tape: Tape, r: int) -> int:
    """The row that names ``r``'s node: the outputs of a row with several outputs share its node."""
    if tape.op[r] == OUTPUT:
        return int(tape.a[r])
    return r


def node_view(tape: Tape, r: int) -> Node:
    r = _leader(tape, r)
    ctx = tape.pyrows.get(r)
    if ctx is not None:
        return ctx          # a custom Function's node is its ctx, as in PyTorch
    if tape.views is None:
        tape.views = weakref.WeakValueDictionary()
    view = tape.views.get(r)
    if view is None:
        view = _class(REGISTRY[int(tape.op[r])].node_name(Row(tape, r)))(tape, r)
        tape.views[r] = view
    return view


def resolve(tape: Tape, node: int) -> tuple:
    """The (tape, node) a tensor's history really starts at: engine-made rows (hidden
    casts and broadcasts, the link left by an in-place change under no_grad) and
    imports from older tapes are looked through."""
    while True:
        if tape.hid[node]:
            node = int(tape.a[node])
        elif tape.op[node] == INPUT and type(tape.src.get(node)) is tuple:
            tape, node = tape.src[node]
        else:
            return tape, node


def tensor_grad_fn(tape: Tape, node: int):
    """``grad_fn`` of a recorded tensor (None when its history is a leaf)."""
    tape, node = resolve(tape, node)
    if tape.op[node] == INPUT or tape.op[node] == CONST:
        return None
    return node_view(tape, node)


def _edge(tape: Tape, node: int) -> tuple:
    """``(node, output index)`` for an input of a row, skipping engine-made rows."""
    while tape.hid[node]:
        node = int(tape.a[node])
    if not tape.rg[node]:
        return (None, 0)
    code = tape.op[node]
    if code == INPUT:
        src = tape.src[node]
        if type(src) is tuple:
            return _edge_of(src[0], src[1])
        return (AccumulateGrad(src()), 0)
    if code == CONST:
        return (None, 0)
    return _edge_of(tape, node)


def _edge_of(tape: Tape, node: int) -> tuple:
    index = int(tape.ia[node]) if tape.op[node] == OUTPUT else 0
    return (node_view(tape, node), index)


def grad_fn(t) -> Node | None:
    """``t.grad_fn`` (a Tensor property): the node that made ``t``, None for a leaf."""
    return None if t._tape is None else tensor_grad_fn(t._tape, t._node)
