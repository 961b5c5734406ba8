"""``backward`` and ``grad``: check the arguments as PyTorch does, run the engine, deliver gradients."""
from __future__ import annotations

from typing import Mapping, Optional, Sequence, Union

import numpy as np

from .. import _engine
from .._grad_mode import no_grad
from .._graph import AccumulateGrad, GradientEdge, edge_tensor
from .._hooks import current_task, fire_post
from .._state import deep_stack, on_fresh_stack, state
from .._tensor import Size, Tensor, _plain, quiet_numpy_warnings
from .._warn import warn_once
from ..ops.join import stack as _stack


_Tensors = Union[Tensor, Sequence[Tensor]]

# PyTorch's engine warns once per process (each time after ``set_warn_always(True)``) when backward(),
# not grad(), records its gradients.
_CYCLE_WARNING = (
    "Using backward() with create_graph=True will create a reference cycle between the parameter and its gradient "
    "which can cause a memory leak. We recommend using autograd.grad when creating the graph to avoid this. If you "
    "have to use this function, make sure to reset the .grad fields of your parameters to None after use to break "
    "the cycle and avoid the leak. (Triggered internally at "
    "/__w/pytorch/pytorch/torch/csrc/autograd/engine.cpp:1307.)")


def _as_tuple(x, what: str) -> tuple:
    if isinstance(x, Tensor):
        return (x,)
    if isinstance(x, GradientEdge):
        return (edge_tensor(x),)
    # (any iterable, as PyTorch's ``tuple(inputs)``: a generator, ``dict.values()`` ...)
    x = [edge_tensor(t) if isinstance(t, GradientEdge) else t for t in x]
    for t in x:
        if not isinstance(t, Tensor):
            if what == "inputs":
                raise RuntimeError("all inputs have to be Tensors, but got " + type(t).__name__)
            raise TypeError(f"{what} must be a Tensor or a sequence of Tensors, got "
                            f"{type(t).__name__}")
    return tuple(x)


def _no_rebased(inputs: tuple) -> None:
    """PyTorch's error for an input that is a view it gives no node (``ops/views.py``)."""
    for t in inputs:
        if t._rebased is not None:
            raise RuntimeError(t._rebased[0])


_ONE = {np.dtype(np.float64): np.ones((), np.float64), np.dtype(np.float32): np.ones((), np.float32)}
for _one in _ONE.values():
    _one.flags.writeable = False


def _seeds(outputs: tuple, grad_outputs, create_graph: bool) -> list:
    """The adjoint to start from at each output (checked as PyTorch checks it)."""
    if grad_outputs is None and len(outputs) == 1 and not create_graph:
        # (``loss.backward()``: a recorded 0-d float output, seeded with a shared read-only one)
        out = outputs[0]
        if out._rg and not out._shape and out._tape is not None:
            one = _ONE.get(out._dtype.np)
            if one is not None:
                return [one]
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,)
    else:
        grad_outputs = tuple(grad_outputs)
    seeds = []
    # As PyTorch: each output is checked against its grad_output (extra grad_outputs are ignored),
    # then the counts, then whether the outputs require grad.
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if g is None:
            if not out._rg:
                continue
            if out.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not out._dtype.is_floating_point:
                raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got "
                                   f"{out._dtype}")
            one = _ONE.get(out._dtype.np) if out._tape is not None and not create_graph else None
            if one is not None:
                seeds.append(one)       # only read: added into the adjoints of a recorded output
            else:
                ones = np.ones(out._shape, out._dtype.np)
                seeds.append(_plain(ones, out._dtype) if create_graph else ones)
            continue
        elif not isinstance(g, Tensor):
            raise TypeError(f"gradients can be either Tensors or None, but got {type(g).__name__}")
        elif g._shape != out._shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {Size(g._shape)!r} and "
                               f"output[{i}] has a shape of {Size(out._shape)!r}.")
        elif g._dtype is not out._dtype:
            g = g.to(out._dtype)
        seeds.append(g if create_graph else np.array(g._value(), out._dtype.np))
    if len(grad_outputs) < len(outputs):
        raise RuntimeError(f"got {len(outputs)} tensors and {len(grad_outputs)} gradients")
    for i, out in enumerate(outputs):
        if not out._rg:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
    return seeds


def _tensor_of(g, like: Tensor) -> Tensor:
    if isinstance(g, Tensor):
        # (``grad_dtype``: PyTorch casts a recorded gradient too, outside the graph)
        return g if not like._gdt or g._dtype is like._gdt else g.detach().to(like._gdt)
    return _engine.leaf_grad(g, like)


def _run(*args, **kwargs):
    """``_engine.run``; a backward started from inside another one (a custom Function's backward
    or a hook calling ``backward``) deep in the stack continues on a new thread's stack, as PyTorch's.
    (PyTorch's backward gives no floating-point warnings: numpy's, in the functions it runs, are kept
    silent; ``quiet_numpy_warnings``.)"""
    quiet_numpy_warnings()
    if current_task() != -1 and deep_stack():
        return on_fresh_stack(_engine.run, *args, **kwargs)
    return _engine.run(*args, **kwargs)


def _history(t: Tensor) -> tuple:
    tape, node = t._history()
    return id(tape), node


def _targets(inputs: tuple):
    return {_history(t) for t in inputs if t._tape is not None}


def _leaf_targets(inputs: tuple, given=()):
    """The leaves asked for (their ids); mapped to the span of their node (``_graph.row_span``) when
    ``given`` holds an ``AccumulateGrad`` edge that a later ``set_`` replaced."""
    ids = {id(t) for t in inputs if t._tape is None}
    old = [e.node for e in given if isinstance(e, GradientEdge) and isinstance(e.node, AccumulateGrad)
           and e.node.span is not None]
    if not old:
        return ids
    targets = dict.fromkeys(ids)
    for node in old:
        targets[id(node.variable)] = node.span
    return targets


def _grad_of(result, t: Tensor):
    if t._tape is None:
        entry = result.leaves.get(id(t))
        return None if entry is None else entry[1]
    return result.nodes.get(_history(t))


def backward(tensors: _Tensors, grad_tensors=None, retain_graph: Optional[bool] = None,
             create_graph: bool = False, grad_variables=None, inputs=None) -> None:
    r"""Compute the sum of gradients of ``tensors`` with respect to graph leaves.

    Gradients are accumulated into the ``.grad`` of the leaves (or only of
    ``inputs`` when given).  ``retain_graph`` defaults to ``create_graph``.
    """
    outputs = _as_tuple(tensors, "tensors")
    if grad_tensors is None:
        grad_tensors = grad_variables
    if retain_graph is None:
        retain_graph = create_graph
    chosen = None
    if inputs is not None:
        chosen = tuple({id(t): t for t in _as_tuple(inputs, "inputs")}.values())    # each tensor once, as PyTorch
        if not chosen:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    seeds = _seeds(outputs, grad_tensors, create_graph)
    if chosen is not None:
        _no_rebased(chosen)
        for t in chosen:
            if t._tape is not None or not t._rg:
                t.retain_grad()         # as PyTorch: a non-leaf named in inputs keeps its .grad

    def on_leaf(leaf: Tensor, g) -> None:
        # (a hooked leaf: accumulated when its hooks ran, then its post-accumulate hooks, as PyTorch)
        _accumulate(leaf, g, create_graph)
        fire_post(leaf)

    def deliver(result) -> None:
        if chosen is None:
            for leaf, g in result.leaves.values():
                if leaf._rg and id(leaf) not in result.delivered:
                    _accumulate(leaf, g, create_graph)
                    fire_post(leaf)
        else:
            for t in chosen:
                g = _grad_of(result, t)
                if g is not None and t._tape is None and id(t) not in result.delivered:
                    _accumulate(t, g, create_graph)
                    fire_post(t)
        for t, g in result.retained:
            _accumulate(t, g, create_graph, retained=True)

    if create_graph:
        warn_once(_CYCLE_WARNING, stacklevel=3)
    _run(list(outputs), seeds, retain_graph, create_graph,
         _targets(chosen) if chosen else None, leaf_targets=_leaf_targets(chosen) if chosen else None,
         run_targets=True, on_leaf=on_leaf, asked=chosen, deliver=deliver)
    if create_graph and state.tape is not None:
        # The accumulation recorded rows on the retained tape: let the next op check again whether
        # anything still refers to it (a loop that dropped or detached its gradients resets it).
        state.tape.soft = min(state.tape.soft, state.tape.n)


def _recorded_first_grad(t: Tensor, g: Tensor) -> Tensor:
    """A recorded gradient's first arrival, as PyTorch records it: a leaf's AccumulateGrad copies
    it into a new tensor (``CopyBackwards``), a retained gradient is its clone (``CloneBackward0``)."""
    prev = state.grad
    state.grad = True
    try:
        if t._tape is None:
            return _plain(np.empty(g._shape, g._dtype.np), g._dtype).copy_(g)
        return g.clone()
    finally:
        state.grad = prev


def _accumulate(t: Tensor, g, create_graph: bool, retained: bool = False) -> None:
    """Add ``g`` into ``t.grad``, in place unless the backward is recorded (a ``retained`` gradient:
    out of place and unrecorded, as PyTorch's retain_grad hook, run in the backward's grad mode)."""
    with _engine.leaf_lock:     # (PyTorch's AccumulateGrad mutex)
        _add_grad(t, g, create_graph, retained)


def _add_grad(t: Tensor, g, create_graph: bool, retained: bool = False) -> None:
    # (``_accumulate`` with ``_engine.leaf_lock`` held)
    if t._grad is None:
        if create_graph and isinstance(g, Tensor) and g._rg:
            t._grad = _recorded_first_grad(t, g)
            t._grad._of_grad = True
            return
        # ``g`` is the backward's own copy (or a recorded tensor): it can become ``.grad`` as it is,
        # unless it is a leaf, the caller's own gradient tensor (a recorded backward from a leaf).
        # A retained gradient is a clone (PyTorch's hook: CloneBackward0 when recorded).
        clone = isinstance(g, Tensor) and (g._tape is None or retained)
        t._grad = _tensor_of(g.clone() if clone else g, t)
    elif create_graph:
        t._grad = t._grad + _tensor_of(g, t)
    else:
        cur = t._grad
        history = cur._tape is not None or cur._rg
        if retained and history:
            with no_grad():
                t._grad = cur + _tensor_of(g, t)
        elif history or cur._f is None and not cur._v.flags.writeable:
            # PyTorch's AccumulateGrad outside grad mode: ``grad += new`` in place, into a gradient with
            # history too (the same tensor, its version bumped, its node kept), and into an expanded
            # one PyTorch's error
            with no_grad():
                cur.add_(_tensor_of(g, t))
        elif cur._f is not None:
            cur._f = cur._f + float(np.asarray(g))
            cur._bump()
        else:
            cur._v += np.asarray(g, cur._dtype.np)
            cur._bump()
    if create_graph and t._grad._tape is not None:
        t._grad._of_grad = True


def grad(outputs: _Tensors, inputs: _Tensors, grad_outputs=None, retain_graph: Optional[bool] = None,
         create_graph: bool = False, only_inputs: bool = True, allow_unused: Optional[bool] = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple:
    r"""Compute and return the sum of gradients of ``outputs`` with respect to ``inputs``.

    Unlike :func:`backward`, nothing is accumulated into ``.grad``.  With
    ``create_graph=True`` the result is itself differentiable.  ``inputs`` may be a dict, whose
    values are the inputs: the result is then a dict with the same keys.
    """
    if type(inputs) is dict:
        keys = tuple(inputs)
        got = grad(outputs, tuple(inputs.values()), grad_outputs, retain_graph, create_graph, only_inputs,
                   allow_unused, is_grads_batched, materialize_grads)
        return dict(zip(keys, got))
    if isinstance(inputs, Mapping):
        raise TypeError(f"`inputs` argument to `grad()` must be a dict, not {type(inputs).__name__}. "
                        "Other Mapping types are not supported.")
    outs = _as_tuple(outputs, "outputs")
    edges = (isinstance(inputs, GradientEdge),) if not isinstance(inputs, (tuple, list)) else \
        tuple(isinstance(t, GradientEdge) for t in inputs)
    ins = _as_tuple(inputs, "inputs")
    if not ins:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    if allow_unused is None:
        allow_unused = materialize_grads
    elif materialize_grads and not allow_unused:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    if retain_graph is None:
        retain_graph = create_graph
    if is_grads_batched:
        return _batched_grad(outs, ins, grad_outputs, retain_graph, create_graph, allow_unused, materialize_grads)
    seeds = _seeds(outs, grad_outputs, create_graph)
    _no_rebased(ins)
    for t in ins:
        if not t._rg:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    stand_in = getattr(state.tape, "stand_in", None)
    if stand_in is not None:
        # (inside a run of a checkpointed function, a tensor from outside that it read is the leaf
        # standing in for it there: the graph recorded on the run's tape leads to that)
        ins = tuple(t if s is None else s for t, s in zip(ins, map(stand_in, ins)))
    given = inputs if isinstance(inputs, (tuple, list)) and not isinstance(inputs, GradientEdge) else (inputs,)
    result = _run(list(outs), seeds, retain_graph, create_graph, _targets(ins),
                         leaf_targets=_leaf_targets(ins, given), asked=ins)
    for t, g in result.retained:
        _accumulate(t, g, create_graph, retained=True)     # as PyTorch: retained grads are filled by grad() too
    grads = []
    for i, t in enumerate(ins):
        g = _grad_of(result, t)
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have been used in "
                                   "the graph. Set allow_unused=True if this is the desired behavior.")
            if materialize_grads:
                if edges[i]:
                    raise RuntimeError("materialize_grads cannot be used when the given input is a GradientEdge")
                g = _plain(np.zeros(t._shape, t._dtype.np), t._dtype)
                g._rg = create_graph        # (as PyTorch's ``zeros_like(input, requires_grad=create_graph)``)
            grads.append(g)
        else:
            grads.append(_tensor_of(g, t))
    return tuple(grads)


def _batched_grad(outs: tuple, ins: tuple, grad_outputs, retain_graph: bool, create_graph: bool,
                  allow_unused: bool, materialize_grads: bool) -> tuple:
    """``grad(..., is_grads_batched=True)``: the first dim of each grad_output indexes vectors of a
    batch, and each result is the stack of the vector-Jacobian products (one backward per vector,
    over the graph kept until the last)."""
    if isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,)
    gos = tuple(grad_outputs) if grad_outputs is not None else (None,) * len(outs)
    for i, (out, g) in enumerate(zip(outs, gos)):
        if isinstance(g, Tensor) and g._shape[1:] != out._shape:
            # (PyTorch names the grad_output's shape without its first two dims)
            raise RuntimeError("If `is_grads_batched=True`, we interpret the first dimension of each grad_output "
                               "as the batch dimension. The sizes of the remaining dimensions are expected to match "
                               "the shape of corresponding output, but a mismatch was detected: grad_output"
                               f"[{i}] has a shape of {Size(g._shape[2:])!r} and output[{i}] has a shape of "
                               f"{Size(out._shape)!r}. If you only want some tensors in `grad_output` to be "
                               "considered batched, consider using vmap.")
    # (the other checks as for one vector: each batched grad_output stands in as one of its vectors)
    _seeds(outs, [_plain(np.zeros(o._shape, o._dtype.np), o._dtype) if isinstance(g, Tensor) else g
                  for o, g in zip(outs, gos)], create_graph)
    sizes = [g._shape[0] for g in gos if isinstance(g, Tensor)]
    if len(sizes) < len(outs):
        raise ValueError("vmap(vjp, in_dims=0, ...)(<inputs>): Got in_dim=0 for some input, but that input is "
                         "a Tensor of dimensionality 0 so expected in_dim to satisfy 0 <= in_dim < 0.")
    if len(set(sizes)) > 1:
        raise ValueError("vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
                         f"{sizes} for the mapped dimension")
    if sizes[0] == 0:
        raise IndexError("index 0 is out of bounds for dimension 0 with size 0")
    rows = []
    for k in range(sizes[0]):
        last = k == sizes[0] - 1
        rows.append(grad(outs, ins, [g[k] for g in gos], retain_graph=retain_graph or not last,
                         create_graph=create_graph, allow_unused=allow_unused))
    grads = []
    for i, t in enumerate(ins):
        col = [r[i] for r in rows]
        if col[0] is None:
            # (as PyTorch: a materialized gradient of an unused input has no batch dim)
            grads.append(_plain(np.zeros(t._shape, t._dtype.np), t._dtype) if materialize_grads else None)
        else:
            grads.append(col[0].unsqueeze(0) if len(col) == 1 else _stack(col))
    return tuple(grads)


def tensor_backward(self: Tensor, gradient: Optional[Tensor] = None, retain_graph: Optional[bool] = None,
                    create_graph: bool = False, inputs: Optional[_Tensors] = None) -> None:
    """Compute the gradient of this tensor with respect to the graph leaves.

    Gradients are accumulated into the leaves' ``.grad``.  A non-scalar
    tensor needs ``gradient`` (the vector in the vector-Jacobian product).
    The graph is freed unless ``retain_graph`` (default: ``create_graph``).
    """
    if gradient is None and not retain_graph and not create_graph and inputs is None and self._rg \
            and self._tape is not None and not self._shape:
        # (``loss.backward()``, the training loop's call: the engine's short path when it applies)
        one = _ONE.get(self._dtype.np)
        if one is not None and _engine.plain_backward(self, one, _accumulate_more):
            return
    backward(self, gradient, retain_graph, create_graph, inputs=inputs)


def _accumulate_more(leaf: Tensor, g: np.ndarray) -> None:
    _add_grad(leaf, g, False)       # (``plain_backward`` holds ``_engine.leaf_lock``)


def _is_checkpoint_valid() -> bool:
    """False while the backward running is ``autograd.grad`` or ``backward(inputs=...)``, which a
    reentrant checkpoint cannot serve (its inner ``backward`` would reach other inputs)."""
    return state.full_backward
