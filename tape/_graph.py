"""``grad_fn`` and ``next_functions``: views of tape rows shaped like PyTorch's nodes.

Nothing here is used by backward; the views are built on demand from the rows,
named from the op table (``MulBackward0`` ...), and cached while alive so that
``y.grad_fn is y.grad_fn`` holds, as in PyTorch.
"""
from __future__ import annotations

import gc
import sys
import weakref
from typing import Any, Callable, NamedTuple

from ._device import device
from ._dtype import ARENA_DTYPES
from ._grad_mode import is_multithreading_enabled
from ._hooks import _replacement, _reset_if_free, _row_hooks, accumulating, node_hook, release_with, task_graph
from ._row import Row
from ._saved import node_attribute, saved_names, valued
from ._state import state
from ._tape import Tape, packing
from ._tape import _gens as _tape_gens
from ._tensor import _recorded
from .ops._spec import CONST, INPUT, OUTPUT, REGISTRY
from .utils.hooks import RemovableHandle

_CLASSES = {}
run_node = [None]       # ``Node.__call__``'s work, which the engine does (``tape._engine.call_node``)


def sequence_nr(tape: Tape, row: int) -> int:
    """``Node._sequence_nr()`` of row ``row``: tapes are numbered in the order they were started (or
    reset), rows in the order they were recorded."""
    return tape.gen << 32 | row


class Node:
    """A node of the backward graph (the ``grad_fn`` of a tensor)."""

    __slots__ = ("_tape", "_row", "_owner", "__weakref__")

    def __init__(self, tape: Tape, row: int) -> None:
        self._tape = tape
        self._row = row
        self._owner = None      # (a weakref to the last tensor whose ``grad_fn`` it was: ``hold_metadata``)

    def __del__(self) -> None:
        # (a node kept after its tensors, then dropped, lets the hooks of its tape go: ``hold_metadata``)
        tape = self._tape
        if tape.hooks and state is not None:
            self._tape = None
            _reset_if_free(tape)

    def name(self) -> str:
        name = type(self).__name__
        # (PyTorch's nodes that are not derivative formulas, such as CopySlices and CopyBackwards, print
        # their C++ name)
        return name if name[-1].isdigit() else "torch::autograd::" + name

    def _sequence_nr(self) -> int:
        """The node's place in the order the thread made nodes in (a later node's is larger; PyTorch's
        count nodes from 0, tape's count rows of tapes in the order they were started)."""
        return sequence_nr(self._tape, self._row)

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
        if type(self).__name__ == "NotImplemented":
            # (PyTorch's node of an op without a derivative lists only the inputs that require grad)
            return tuple(e for e in out if e[0] is not None)
        return tuple(out)

    @property
    def _input_metadata(self) -> tuple:
        """What the node knows of each gradient it receives (the shape and dtype of each output)."""
        tape, r = self._tape, self._row
        outs = Row(tape, r).outputs if tape.nout[r] else (r,)
        return tuple(InputMetadata(tape.shape_of(k), ARENA_DTYPES[int(tape.dt[k])]) for k in outs)

    @property
    def metadata(self) -> dict:
        """A dict kept with the node, for the user's own data."""
        hooks = _row_hooks(self._tape, self._row)
        if hooks.meta is None:
            hooks.meta = {}
            hold_metadata(self, self._tape)
        return hooks.meta

    def __call__(self, *grads):
        """Run the node: the gradients of its inputs from those of its outputs (recorded in grad
        mode), one tensor for a node with one input, else a tuple."""
        return run_node[0](valued(self._tape), self._row, grads)

    def register_hook(self, fn: Callable) -> RemovableHandle:
        """Register ``fn(grad_inputs, grad_outputs) -> tuple or None``, run after this node computed
        the gradients of its inputs (a returned tuple replaces them)."""
        hold_metadata(self, self._tape)
        return node_hook(self._tape, self._row, fn, pre=False)

    def register_prehook(self, fn: Callable) -> RemovableHandle:
        """Register ``fn(grad_outputs) -> tuple or None``, run before this node runs (a returned
        tuple replaces the gradients of its outputs)."""
        hold_metadata(self, self._tape)
        return node_hook(self._tape, self._row, fn, pre=True)

    def __getattr__(self, name: str):
        # Only reached for a name not found: what the node saved (``_saved_self`` ...).
        if name.startswith(("_saved_", "_raw_saved_")):
            return node_attribute(self._tape, self._row, name, type(self).__name__)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __dir__(self) -> list:
        return sorted(set(super().__dir__()) | set(saved_names(self._tape, self._row)))

    def __eq__(self, other) -> bool:
        return isinstance(other, Node) and other._tape is self._tape and other._row == self._row

    def __hash__(self) -> int:
        return hash((id(self._tape), self._row))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {id(self):#x}>"


class InputMetadata:
    """A node's record of a gradient it receives: ``shape`` (a list), ``dtype``, ``device``
    (PyTorch's ``torch._C._autograd._InputMetadata``)."""

    __slots__ = ("shape", "dtype", "device")
    is_nested_tensor = False
    is_cpp_nested_tensor = False

    def __init__(self, shape: tuple, dtype) -> None:
        self.shape = list(shape)
        self.dtype = dtype
        self.device = device("cpu")

    def __repr__(self) -> str:
        return f"<torch._C._autograd._InputMetadata object at {id(self):#x}>"


class _Handles(RemovableHandle):
    """The handle of a hook kept as several: ``remove()`` removes them all."""

    def __init__(self, *handles: RemovableHandle) -> None:
        self.handles = handles

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


class AccumulateGrad:
    """The node that accumulates a leaf's gradient into its ``.grad`` (one per leaf while referred
    to: ``accumulator``).  ``set_`` gives a leaf a new one: ``span`` is None for the leaf's current
    node, else the number of the ``set_`` that ended the rows it stands for (``new_accumulator``)."""

    __slots__ = ("variable", "span", "__weakref__")

    def __init__(self, variable, span=None) -> None:
        self.variable = variable
        self.span = span

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    next_functions = ()

    def _sequence_nr(self) -> int:
        """As PyTorch's: UINT64_MAX (a leaf's node runs after every node that made part of its gradient)."""
        return 2 ** 64 - 1

    @property
    def metadata(self) -> dict:
        meta = self.variable.__dict__.get("_acc_meta")
        if meta is None:
            meta = self.variable._acc_meta = {}
        return meta

    def register_prehook(self, fn: Callable) -> RemovableHandle:
        """Register ``fn(grad_outputs) -> tuple or None``, run on the leaf's gradient before it is
        accumulated, after the leaf's tensor hooks (a returned tuple replaces it)."""
        def prehook(grad):
            if not accumulating():
                return None         # (``autograd.grad`` runs no AccumulateGrad node)
            new = fn((grad,))
            return None if new is None else _replacement(fn, new, (grad,))[0]
        prehook._order = 1
        return self.variable.register_hook(prehook)

    def register_hook(self, fn: Callable) -> RemovableHandle:
        """Register ``fn(grad_inputs, grad_outputs) -> None``, run after the leaf's gradient was
        accumulated into its ``.grad`` and its post-accumulate hooks ran (``grad_inputs`` is empty:
        the node has no inputs)."""
        seen = []
        leaf = self.variable

        def keep(grad) -> None:
            seen[:] = [grad, leaf._grad is None]

        def taken(leaf) -> None:
            # A first gradient becomes ``.grad`` itself in PyTorch: the hook's ``grad_outputs``
            # then is the ``.grad`` that the post-accumulate hooks saw (and may have changed).
            if seen and seen[1]:
                seen[0] = leaf._grad

        def after(leaf) -> None:
            new = fn((), tuple(seen[:1]))
            if new is not None:
                name = getattr(fn, "__name__", type(fn).__name__)
                got = len(new) if isinstance(new, tuple) else 1
                raise RuntimeError(f"hook '{name}' has returned an incorrect number of values (got {got}, but "
                                   "expected 0)")
        keep._order = 2
        taken._order = -1
        after._order = 1
        return _Handles(leaf.register_hook(keep), leaf.register_post_accumulate_grad_hook(taken),
                        leaf.register_post_accumulate_grad_hook(after))

    def __eq__(self, other) -> bool:
        return isinstance(other, AccumulateGrad) and other.variable is self.variable and other.span == self.span

    def __hash__(self) -> int:
        return hash((id(self.variable), self.span))

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"


def accumulator(t, tape: Tape | None = None, row: int = -1) -> AccumulateGrad:
    """The leaf ``t``'s AccumulateGrad node: the same object while anything refers to it, as
    PyTorch keeps a leaf's grad accumulator weakly (``n.next_functions[0][0] is
    n.next_functions[0][0]``); a weak reference, so that the leaf is freed as before.  With the
    ``row`` of ``tape`` that imported ``t``: the node of that row's span (``new_accumulator``)."""
    if t is None:
        return AccumulateGrad(None)     # (a leaf no longer alive: nothing to share the node with)
    span = None if tape is None else row_span(t, tape, row)
    if span is not None:
        old = t._acc_old
        ref = old.get(span)
        node = ref() if ref is not None else None
        if node is None:
            node = AccumulateGrad(t, span)
            old[span] = weakref.ref(node)
        return node
    ref = t.__dict__.get("_acc_node")
    node = ref() if ref is not None else None
    if node is None:
        node = AccumulateGrad(t)
        t._acc_node = weakref.ref(node)
    return node


def new_accumulator(t) -> None:
    """``t.set_(...)`` of a leaf that requires grad: as PyTorch's, the leaf gets a new AccumulateGrad
    node.  The rows that imported it so far (their tape's generation and row number, below the
    recording tape's now) stay with the old node: a backward through them still accumulates into
    ``t.grad``, but ``t`` asked for as an input (``autograd.grad``, ``backward(inputs=)``) is the new
    node, and an old ``GradientEdge`` of ``t`` reaches the old rows only (``leaf_row_wanted``)."""
    tape = state.tape
    cut = (tape.gen, tape.n) if tape is not None else (next(_tape_gens), 0)
    cuts = t.__dict__.get("_acc_cuts")
    if cuts is None:
        cuts = t._acc_cuts = []
        t._acc_old = {}
    span = len(cuts)
    cuts.append(cut)
    ref = t.__dict__.pop("_acc_node", None)
    node = ref() if ref is not None else None
    if node is not None:
        node.span = span
        t._acc_old[span] = ref


def row_span(t, tape: Tape, row: int):
    """The span of the leaf ``t``'s import at ``row`` of ``tape``: None for its current node, else
    the number of the ``set_`` after which it was replaced."""
    cuts = t.__dict__.get("_acc_cuts")
    if not cuts:
        return None
    at = (tape.gen, row)
    for span, cut in enumerate(cuts):
        if at < cut:
            return span
    return None


def leaf_row_wanted(targets, leaf, tape: Tape, row: int) -> bool:
    """Whether the import of ``leaf`` at ``row`` of ``tape`` is one of a backward's inputs:
    ``targets`` holds the ids of the leaves asked for, or maps them to the span asked for (an old
    ``GradientEdge``; None: the leaf's current node)."""
    if id(leaf) not in targets:
        return False
    if not leaf.__dict__.get("_acc_cuts"):
        return True
    want = targets.get(id(leaf)) if type(targets) is dict else None
    return row_span(leaf, tape, row) == want


# Nodes PyTorch makes from C++ functions of its own rather than derivative formulas: their class is
# ``CppFunction``, their ``name()`` tells them apart (a tensor's repr prints that name)
_CPP_FUNCTIONS = ("Identity",)


def _class(name: str) -> type:
    cls = _CLASSES.get(name)
    if cls is None:
        if name in _CPP_FUNCTIONS:
            full = "torch::autograd::" + name
            cls = type("CppFunction", (Node,), {"__slots__": (), "name": lambda self: full})
        else:
            cls = type(name, (Node,), {"__slots__": ()})
        _CLASSES[name] = cls
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
    return _edge_of(tape, node)[0]


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
        through = getattr(src, "edge", None)
        if through is not None:
            return through()        # (a checkpointed segment's input: the edge of the tensor it read)
        return (accumulator(src(), tape, node), 0)
    if code == CONST:
        return (None, 0)
    return _edge_of(tape, node)


def _edge_of(tape: Tape, node: int) -> tuple:
    index = int(tape.ia[node]) if tape.op[node] == OUTPUT else 0
    view = node_view(tape, node)
    shown = None if isinstance(view, Node) else getattr(view, "_shown_edge", None)
    if shown is not None:
        return shown(index)     # (a checkpointed segment's row shows the node of its output's last op)
    return (view, index)


def grad_fn(t) -> Node | None:
    """``t.grad_fn`` (a Tensor property): the node that made ``t``, None for a leaf."""
    if t._rebased is not None:
        raise RuntimeError(t._rebased[0])
    node = None if t._tape is None else tensor_grad_fn(t._tape, t._node)
    if node is not None:
        node._owner = weakref.ref(t)
    return node


def hold_metadata(node, tape: Tape) -> None:
    """A node's ``metadata`` dict was made, or a hook registered on it.  PyTorch frees these with
    the node, when the last tensor that needs the node goes; a tape's rows (and what Python keeps
    for them: hooks, custom Functions' contexts) go when the tape is reset, at the first op after no
    tensor refers to it.  So that they do not outlive the tensors by more, the tape is reset when
    the tensor whose ``grad_fn`` gave the node goes, if no tensor refers to the tape then."""
    release_with(node._owner() if node._owner is not None else None, tape)


_lent: list = []       # during a full collection: (weakref, current?) for the tapes taken from this thread


def _collecting(phase: str, info: dict) -> None:
    """Around each full garbage collection (``gc.callbacks``): the thread lets go of its tapes whose
    rows have Python parts (hooks, custom Functions' contexts) for the collection, and takes back
    those that live on.  A tape that only cycles keep (a hook's closure holding a node of the tape,
    a context's attribute holding an output) goes with them, as PyTorch's nodes do; a tape that a
    tensor or a node refers to lives on.  A tape that nothing refers to is reset instead, as the
    next op would reset it: its rows' Python parts go, its grown buffers stay the thread's."""
    if info["generation"] != 2 or state is None:
        return
    if phase == "start":
        if state.pinned or packing[0] is not None:
            return
        tape = state.tape
        if tape is not None and (tape.hooks or tape.pyrows):
            # (the references: state.tape (and state.rec), ``tape``, getrefcount's argument)
            if sys.getrefcount(tape) == 3 + (state.rec is tape):
                tape.reset()
            else:
                _lent.append((weakref.ref(tape), True))
                state.tape = None
        spares = state.spares
        for k in range(len(spares) - 1, -1, -1):
            if spares[k].hooks or spares[k].pyrows:
                if sys.getrefcount(spares[k]) == 2:     # (the list's, the argument)
                    spares[k].reset()
                    continue
                _lent.append((weakref.ref(spares[k]), False))
                del spares[k]
        tape = None
        return
    while _lent:
        ref, current = _lent.pop()
        tape = ref()
        if tape is None:
            continue
        if current and state.tape is None:
            state.tape = tape
        elif not current:
            state.spares.insert(0, tape)


gc.callbacks.append(_collecting)


class GradientEdge(NamedTuple):
    """An edge of the backward graph: output ``output_nr`` of ``node`` (``get_gradient_edge``)."""

    node: Any
    output_nr: int
    ownership_token: Any = None


def gradient_edge(t) -> GradientEdge:
    """``autograd.graph.get_gradient_edge(t)``: the edge ``t``'s gradient flows along (its
    ``grad_fn``, or its ``AccumulateGrad`` for a leaf)."""
    if not t._rg:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does not require gradients")
    node = grad_fn(t)
    return GradientEdge(accumulator(t) if node is None else node, t.output_nr)


def input_edge(x) -> GradientEdge | None:
    """The edge a tensor (or an edge given for one) stands for in a backward; None for a tensor
    that does not require grad."""
    if isinstance(x, GradientEdge):
        return x
    return gradient_edge(x) if x._rg else None


def edge_tensor(edge: GradientEdge):
    """A tensor standing for what ``edge`` carries (``autograd.grad`` takes edges for tensors)."""
    node = edge.node
    if isinstance(node, AccumulateGrad):
        return node.variable
    if isinstance(node, Node):
        tape, r = node._tape, node._row
        if tape.nout[r]:
            r += 1 + edge.output_nr
        outside = getattr(tape, "outside_node", None)
        if outside is not None:
            tape, r = outside(r)        # (a checkpointed segment's node: the segment's output it made)
    else:           # a custom Function's node (its ctx): its tensor outputs are OUTPUT rows in order
        tape, r = node._tape_ref(), node._row + 1 + node._outputs.index(edge.output_nr)
    return _recorded(tape, r, tape.value_of(r), ARENA_DTYPES[int(tape.dt[r])])


def _reached(graph: tuple) -> tuple:
    """``({node: whether the backward runs it}, its root nodes)`` for a backward's ``graph`` (see
    ``task_graph``): the nodes reachable from its roots that lead to an input asked for (every
    reachable node when none were)."""
    roots, inputs, captures = graph
    if inputs is None:
        needed = None
    else:
        needed = {e.node for e in map(input_edge, inputs) if e is not None}
    memo = {}

    def leads(n) -> bool:
        # Whether ``n`` is (or leads to) a node of the inputs asked for; every node when none were.
        done = memo.get(n)
        if done is not None:
            return done
        memo[n] = False
        found = needed is None or n in needed
        for child, _ in n.next_functions:
            if child is not None and leads(child):
                found = True
        memo[n] = found
        return found

    starts = []
    for root in roots:
        edge = input_edge(root)
        if edge is not None:
            leads(edge.node)
            starts.append(edge.node)
    return memo, starts


def execution_order() -> list:
    """``torch._C._current_graph_task_execution_order()``: the nodes the backward running in this
    thread runs, in the order PyTorch's engine runs them on one thread: a node once every node
    feeding it gradients ran, the ready node with the largest sequence number first (a leaf's
    ``AccumulateGrad`` as soon as it is ready)."""
    graph = task_graph()
    if graph is None:
        raise RuntimeError("_current_graph_task_execution_order should only be called during the backward pass")
    if is_multithreading_enabled():
        raise RuntimeError("get_current_graph_task_execution_order expects the current backward to be executed with "
                           "multithreading disabled, e.g. by running:\n\n>>> with "
                           "torch.autograd.set_multithreading_enabled(False):\n...     torch.autograd.grad(...)\n")
    memo, starts = _reached(graph)
    runs = [n for n, found in memo.items() if found]
    waiting = dict.fromkeys(runs, 0)
    for n in runs:
        for child, _ in n.next_functions:
            if child is not None and memo.get(child):
                waiting[child] += 1
    ready = list(dict.fromkeys(n for n in starts if memo.get(n) and not waiting[n]))
    order = []
    while ready:
        ready.sort(key=lambda n: n._sequence_nr())
        n = ready.pop()
        order.append(n)
        for child, _ in n.next_functions:
            if child is not None and memo.get(child):
                waiting[child] -= 1
                if not waiting[child]:
                    ready.append(child)
    return order


def will_execute(node) -> bool:
    """``torch._C._will_engine_execute_node(node)``: whether the backward running in this thread
    runs ``node`` (a ``grad_fn`` or ``AccumulateGrad``): it is reachable from the backward's roots
    and, when inputs were asked for, leads to one of them."""
    if not (isinstance(node, (Node, AccumulateGrad)) or hasattr(type(node), "_forward_cls")):
        raise RuntimeError(f"_will_engine_execute_node expects an grad_fn, but got {type(node).__name__}")
    graph = task_graph()
    if graph is None:
        raise RuntimeError("_get_should_execute_nodes should only be called during the backward pass")
    memo, _ = _reached(graph)
    if not memo.get(node, False):      # (absent: not in the graph)
        return False
    if graph[2] and isinstance(node, AccumulateGrad):
        raise RuntimeError("A leaf node was passed to _will_engine_execute_node but we are currently running "
                           "autograd.grad(). This is currently not supported.")
    return True
