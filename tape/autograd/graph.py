"""``tape.autograd.graph``: hooks over several tensors (``register_multi_grad_hook``), saved-tensor
hooks (``saved_tensors_hooks``, ``save_on_cpu``, ``disable_saved_tensors_hooks``)."""
from __future__ import annotations

import abc
import collections
import collections.abc
import contextlib
import functools
import weakref
from typing import Any, Callable, Iterable, Iterator, Sequence

from .. import _saved, _state, _tape
from .._graph import AccumulateGrad, GradientEdge, Node as _Node, gradient_edge
from .._hooks import at_task_end, current_task
from .._tensor import Tensor
from .._C._functions import DelayedError, UndefinedGrad
from ..utils.hooks import RemovableHandle
from .function import BackwardCFunction

__all__ = ["register_multi_grad_hook", "saved_tensors_hooks", "save_on_cpu", "disable_saved_tensors_hooks", "Node",
           "GradientEdge", "get_gradient_edge"]


class Node(abc.ABC):
    """The base of the backward graph's nodes: ``grad_fn`` objects, ``AccumulateGrad`` nodes and custom
    Functions' nodes are all Nodes (registered with it, as PyTorch's, rather than derived from it); a
    class of one's own derives from it and implements the abstract methods."""

    @abc.abstractmethod
    def name(self) -> str:
        """The name of the node, e.g. ``MulBackward0``."""

    @property
    @abc.abstractmethod
    def next_functions(self) -> tuple:
        """``(node, output number)`` for each input of the node: where its gradients go."""

    @abc.abstractmethod
    def metadata(self) -> dict:
        """A dict kept with the node for the user's own data."""

    @property
    @abc.abstractmethod
    def _input_metadata(self) -> list:
        """Shape, dtype and device of each input."""

    @abc.abstractmethod
    def _sequence_nr(self) -> int:
        """The order the node was made in, in its thread: a later node runs first among the ready ones."""

    @abc.abstractmethod
    def _register_hook_dict(self, tensor: Tensor) -> None:
        """Run ``tensor``'s hooks before this node."""

    @abc.abstractmethod
    def register_hook(self, fn: Callable) -> RemovableHandle:
        """Register ``fn(grad_inputs, grad_outputs)``, called after the node computed its gradients;
        it may return new ``grad_inputs``."""

    @abc.abstractmethod
    def register_prehook(self, fn: Callable) -> RemovableHandle:
        """Register ``fn(grad_outputs)``, called before the node runs; it may return new ``grad_outputs``."""

    @classmethod
    def __subclasshook__(cls, sub: type) -> bool:
        if cls is Node and issubclass(sub, (_Node, AccumulateGrad, BackwardCFunction, DelayedError, UndefinedGrad)):
            return True
        return NotImplemented


def get_gradient_edge(tensor: Tensor) -> GradientEdge:
    r"""The edge the gradient of ``tensor`` flows along: ``GradientEdge(node, output_nr)``, its
    ``grad_fn`` (its ``AccumulateGrad`` node for a leaf) and which of that node's outputs it is.
    ``autograd.grad`` takes such edges in place of tensors, as inputs and as outputs."""
    return gradient_edge(tensor)


class saved_tensors_hooks:
    r"""Context-manager that sets a pair of pack / unpack hooks for saved tensors.

    Every tensor an operation saves for backward while it is active is given to
    ``pack_hook(tensor)`` when the operation is recorded, and what it returns is kept instead;
    ``unpack_hook(packed)`` must return a tensor with the same content, and is called each time
    backward (or ``grad_fn._saved_<name>``) needs the saved tensor.  Nested contexts: the
    innermost pair applies.  What was packed is released with the graph (after a backward without
    ``retain_graph``).
    """

    def __init__(self, pack_hook: Callable[[Tensor], Any], unpack_hook: Callable[[Any], Tensor]) -> None:
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self) -> None:
        if not (callable(self.pack_hook) and callable(self.unpack_hook)):
            raise TypeError("_push_saved_tensors_default_hooks(): incompatible function arguments. The following "
                            "argument types are supported:\n    1. (arg0: collections.abc.Callable, arg1: "
                            "collections.abc.Callable) -> None")
        _saved.push(self.pack_hook, self.unpack_hook)

    def __exit__(self, *args: object) -> None:
        _saved.pop()


class save_on_cpu(saved_tensors_hooks):
    r"""Context-manager under which saved tensors are kept on the CPU and moved back to their
    device when backward needs them.  Every tensor is on the CPU here: each saved tensor is
    kept as a copy with its device, as PyTorch's hooks do (``pin_memory`` has no effect)."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda") -> None:
        def pack_to_cpu(tensor: Tensor) -> tuple:
            return (tensor.device, tensor.detach().clone())

        def unpack_from_cpu(packed: tuple) -> Tensor:
            device, tensor = packed
            return tensor.to(device)

        super().__init__(pack_to_cpu, unpack_from_cpu)


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message: str) -> Iterator[None]:
    r"""Context-manager under which saved-tensor hooks may not be used: entering
    ``saved_tensors_hooks`` raises ``RuntimeError(error_message)``, as does entering this one
    while such hooks are active."""
    prev = _saved.local.disabled
    if _saved.local.stack:
        raise RuntimeError(error_message)
    _saved.local.disabled = error_message
    try:
        yield
    finally:
        _saved.local.disabled = prev


class _MultiHandle(RemovableHandle):
    """The handle of a hook registered on several tensors: ``remove()`` removes it from all."""

    def __init__(self, handles: tuple) -> None:
        self.handles = handles

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def register_multi_grad_hook(tensors: Sequence[Tensor], fn: Callable, *, mode: str = "all") -> RemovableHandle:
    r"""Register a hook over the gradients of several tensors.

    ``mode="all"``: ``fn(grads)`` runs once per backward, with the gradient of each tensor (None
    for those the backward did not reach), once the last of them is computed; when some are
    not reached, at the end of that backward.  ``mode="any"``: ``fn(grad)`` runs once per
    backward, on the first of the tensors' gradients to be computed.  Returns a handle whose
    ``remove()`` unregisters the hook from every tensor.
    """
    supported_modes = ("all", "any")
    if mode not in supported_modes:
        raise ValueError(f"Expects mode to be one of {supported_modes} but got {mode}")
    if mode == "all":
        for t in tensors:
            if t._tape is None and not t._rg:
                raise AssertionError("Expected gradient function to be set")
        buffers: dict = {}
        n = len(tensors)

        def finish(task: int) -> None:
            # Some of the tensors were not reached: fn gets None for them, now that the backward ends.
            grads = buffers.pop(task, None)
            if grads is not None:
                grads.pop()
                fn(grads)

        def inner(idx: int) -> Callable:
            def inner_hook(grad: Tensor) -> None:
                task = current_task()
                if task not in buffers:
                    buffers[task] = [None] * n
                    buffers[task].append(0)         # (the count, taken off before fn sees the list)
                    at_task_end(lambda: finish(task))
                grads = buffers[task]
                grads[idx] = grad
                grads[-1] += 1
                if grads[-1] == n:
                    del buffers[task]
                    grads.pop()
                    fn(grads)
            return inner_hook

        handles = tuple(t.register_hook(inner(i)) for i, t in enumerate(tensors))
    else:
        ran: set = set()

        @functools.wraps(fn)
        def wrapped_fn(grad: Tensor) -> None:
            task = current_task()
            if task in ran:
                return
            ran.add(task)
            at_task_end(lambda: ran.discard(task))
            fn(grad)

        handles = tuple(t.register_hook(wrapped_fn) for t in tensors if t.requires_grad)
    return _MultiHandle(handles)


def increment_version(tensor: Tensor | Iterable[Tensor]) -> None:
    """Update autograd metadata tracking whether the given Tensor was modified in place.

    Ops that change a tensor in place already do this; call it after changing a tensor's data
    in a way tape cannot see (through ``.numpy()``, say), so that a backward that needs the old
    value raises instead of using the new one.  Accepts a tensor or an iterable of tensors; an
    inference tensor, which has no version counter, is left alone.
    """
    if isinstance(tensor, Tensor):
        tensors = (tensor,)
    else:
        try:
            tensors = tuple(tensor)
        except TypeError:
            raise RuntimeError("increment_version expect a Iterable[Tensor] as input") from None
        if not all(isinstance(t, Tensor) for t in tensors):
            raise RuntimeError("increment_version expects each element of the iterable to be a tensor")
    for t in tensors:
        if not t._inf:
            t._bump()


class _Handle:
    """Stands for one saved tensor (PyTorch's ``_Handle``)."""

    __slots__ = ("__weakref__",)


class _LiveSaved(collections.abc.Mapping):
    """``tid_to_weakhandle`` (``mutated=False``) or ``cloned`` (True) of an
    ``allow_mutation_on_saved_tensors`` context, read from the tape when asked: one entry per tensor
    value saved by a row recorded inside the context that a tensor or node still reaches and whose
    backward has not freed it (for ``cloned``: only those changed in place since, whose saved value
    is the entry; PyTorch keeps a clone of them)."""

    def __init__(self, ctx: "_AllowMutationOnSavedContext", mutated: bool) -> None:
        self._ctx = weakref.ref(ctx)
        self._mutated = mutated
        self._handles: dict = {}

    def _live(self) -> dict:
        ctx = self._ctx()
        start = _state.mutation_allowed[0]
        if ctx is None or ctx._done or start is None:
            return {}
        out = {}
        tapes = [_state.state.tape, *_state.state.spares]     # (a list: ``reachable`` passes over it)
        while tapes:
            tape = tapes.pop()
            if tape is None or tape.gen < start[0]:
                continue
            for key, value in _saved.saved_inside(tape, start[1] if tape.gen == start[0] else 0,
                                                  _state.mutated_rows if self._mutated else None).items():
                out[key] = value if self._mutated else self._handles.setdefault(key, _Handle())
        return out

    def __getitem__(self, key):
        return self._live()[key]

    def __iter__(self):
        return iter(self._live())

    def __len__(self) -> int:
        return len(self._live())


class _AllowMutationOnSavedContext:
    """The state of an ``allow_mutation_on_saved_tensors`` context, under PyTorch's names.

    PyTorch clones a saved tensor before an in-place change and keeps the clones in ``cloned``; tape's
    tape already holds its own copy of every value it recorded, so nothing needs cloning: ``cloned``
    and ``tid_to_weakhandle`` show what PyTorch's would hold, read from the tape.
    """

    def __init__(self) -> None:
        self._done = False
        self.cloned = _LiveSaved(self, True)
        self.original: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.tid_to_weakhandle = _LiveSaved(self, False)
        self.sid_to_tid: collections.defaultdict = collections.defaultdict(set)

    def clear(self) -> None:
        self._done = True
        self.original.clear()
        self.sid_to_tid.clear()


@contextlib.contextmanager
def allow_mutation_on_saved_tensors() -> Iterator[_AllowMutationOnSavedContext]:
    """Context manager under which mutating tensors saved for backward is allowed.

    Inside it, a tensor saved for backward may be changed in place: a backward (run inside the
    same context) uses the value it had when it was saved.  A backward run after the context
    exited through what was recorded inside it raises.  Contexts cannot be nested.
    """
    if _state.mutation_allowed[0] is not None:
        raise RuntimeError("allow_mutation_on_saved_tensors contexts cannot be nested")
    ctx = _AllowMutationOnSavedContext()
    tape = _tape.write_tape()
    start = (tape.gen, tape.n)
    del tape
    _state.mutation_allowed[0] = start
    try:
        yield ctx
    finally:
        ctx.clear()
        _state.mutation_allowed[0] = None
        _state.mutated_rows.clear()
        _saved.end_mutation_span(start, _tape.write_tape())
