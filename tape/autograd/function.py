"""``tape.autograd.Function``: operations whose forward and backward are the user's Python.

A call ``MyFn.apply(*args)`` runs ``forward`` without recording and records ONE row (code
``FUNCTION``, in the PYTHON range): its tensor arguments are listed in the tape's index
table and each differentiable tensor output gets an ``OUTPUT`` row after it (with a value of
its own, so that outputs may differ in dtype).  The row's context object (``MyFnBackward``,
holding what ``setup_context``/``forward`` stored on ``ctx``) lives in the tape's ``pyrows``.

Both sweeps stop at the row (``tape/_stops.py``) and Python runs the op's rule, ``_vjp``,
which calls the user's ``backward`` with one gradient per output and checks what it returns
as PyTorch does (count, shape, dtype); the sweep then resumes in numba below the row.  In a
recorded backward (``create_graph=True``) the user's ``backward`` runs with grad mode on and
its tape ops are recorded, so a ``backward`` written with tape ops is differentiable again.
"""
from __future__ import annotations

import functools
import inspect
import re
import threading
import warnings
import weakref
from typing import Any, Callable, Optional

import numpy as np

from .. import _dtype as D
from .._anomaly import modified_hint
from .._emit import plain, recorded, write_tape
from .. import _engine
from .._engine import FREED_MSG, pass_undefined
from .._graph import InputMetadata, Node, hold_metadata, sequence_nr, tensor_grad_fn
from .. import _saved
from .. import _hooks
from .._hooks import node_hook
from .._state import _set, state
from .._stops import FREED, MODIFIED
from .._tape import Tape
from .._tensor import VIEW_IN_FUNCTION, Tensor, _check_view_inplace, _link, _plain
from ..ops._spec import (CONST, LISTED, OUTPUT, PYTHON, R_DT, R_LN, R_LO, R_NOUT, R_OFF, R_RG, R_SHP, Op,
                         register)
from .. import utils
from ..utils.hooks import RemovableHandle

FUNCTION = PYTHON.start + 80        # 980: the code range set aside for this rows

__all__ = ["Function", "FunctionCtx", "BackwardCFunction", "InplaceFunction", "once_differentiable"]


class FunctionCtx:
    """The ``ctx`` object ``forward``/``setup_context`` and ``backward`` receive."""

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        r"""Save the given tensors for a future call to ``backward``.

        Call it at most once, in ``forward`` or ``setup_context``, with tensors (or None);
        ``backward`` reads them from ``ctx.saved_tensors``, which checks that none of them
        was modified in place since.
        """
        for k, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {k} is of type "
                                f"{type(t).__name__}")
        self.to_save = tensors

    def save_for_forward(self, *tensors: Tensor | None) -> None:
        r"""Save the given tensors (or None) for a future call to ``jvp``, which reads them from
        ``ctx.saved_tensors``.  Call it at most once, in ``forward`` or ``setup_context``."""
        for tensor in tensors:
            if not (isinstance(tensor, Tensor) or tensor is None):
                raise AssertionError("save_for_forward expects all arguments to be tensors; you should save "
                                     "non-tensors as attributes on ctx.")
        self.saved_for_forward = tensors

    def mark_dirty(self, *args: Tensor) -> None:
        r"""Mark the given tensors as modified in place by ``forward`` (they must be returned)."""
        self.dirty_tensors = args

    def mark_non_differentiable(self, *args: Tensor) -> None:
        r"""Mark outputs as not requiring gradients (``backward`` still gets a zero gradient for each)."""
        self.non_differentiable = args

    def set_materialize_grads(self, value: bool) -> None:
        r"""Whether undefined output gradients are given to ``backward`` as zeros (the default)
        or as None."""
        self.materialize_grads = bool(value)


class BackwardCFunction(FunctionCtx):
    """The node of a custom Function's call (``MyFnBackward``); it is also the ``ctx``."""

    @property
    def _raw_saved_tensors(self) -> tuple:
        """What ``save_for_backward`` got, as ``SavedTensor`` objects (whose ``register_hooks``
        packs one)."""
        saved = self.__dict__.get("_saved")
        if saved is None:
            return ()
        r = self._row
        tape = self._tape_ref()
        if tape is None or tape.fr.item(r) & FREED:
            raise RuntimeError(FREED_MSG)
        return tuple(_saved.SavedTensor._of(tape, r, k, -1 if entry is None else entry[1], self)
                     for k, entry in enumerate(saved))

    materialize_grads = True
    # (what forward marked or saved is taken over when the call is recorded: PyTorch's node then
    # shows None for these, and holds no reference to the tensors)
    dirty_tensors = non_differentiable = to_save = saved_for_forward = None
    _materialize_non_diff_grads = True      # (False: a non-differentiable output's gradient stays None)
    _row = None       # (tape weakref, row) once recorded
    _owner = None     # a weakref to the last tensor whose ``grad_fn`` it was (``tape._graph.hold_metadata``)
    _user_fn = None   # (the class's ``backward`` or ``vjp``, found at its first backward)
    _builtin = False  # (a node PyTorch makes in C++, ``torch._C._functions``: named and shown as one)

    def apply(self, *args: Any) -> Any:
        """Run the user's ``backward`` (or ``vjp``) with this node as its ``ctx`` on the gradients
        ``args``, outside any graph task (no hooks, no checks of what it returns)."""
        return self._get_user_fn()(self, *args)

    def apply_jvp(self, *args: Any) -> Any:
        """Run the user's ``jvp`` with this node as its ``ctx`` on the tangents ``args``."""
        return self._forward_cls.jvp(self, *args)

    def _get_user_fn(self) -> Callable:
        backward_fn = self._forward_cls.backward
        vjp_fn = self._forward_cls.vjp
        if backward_fn is not Function.backward and vjp_fn is not Function.vjp:
            raise RuntimeError("Implementing both 'backward' and 'vjp' for a custom Function is not allowed. You "
                               "should only implement one of them.")
        return vjp_fn if vjp_fn is not Function.vjp else backward_fn

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to ``save_for_backward``, checked for in-place changes since (in
        ``jvp``: those given to ``save_for_forward``)."""
        d = self.__dict__
        saved = d.get("_saved")
        if saved is not None and "_packed" not in d and "_in_jvp" not in d:
            # The common read, in each call's backward: no saved-tensor hooks, no checkpointed
            # segment's tape (whose values run again), nothing changed in place.
            tape = self._tape_ref()
            if type(tape) is Tape and not self._forward_cls.clear_saved_tensors_on_access:
                fr = tape.fr
                r = self._row
                if fr.item(r) & FREED:
                    raise RuntimeError(FREED_MSG)
                out = []
                for entry in saved:
                    if entry is None:
                        out.append(None)
                    elif entry[0] == "node":
                        node = entry[1]
                        f = fr.item(node)
                        if f & MODIFIED and r < f >> 2:
                            break
                        t = _input_itself(entry, r)
                        out.append(t if t is not None else
                                   recorded(tape, node, tape.value_of(node), D.ARENA_DTYPES[tape.dt.item(node)]))
                    elif entry[1]._vnum == entry[2]:
                        out.append(entry[1])
                    else:
                        break
                else:
                    return tuple(out)
        return self._unpack_saved()

    def _unpack_saved(self) -> tuple:
        """``saved_tensors`` in every case (hooks, checkpoints, errors)."""
        d = self.__dict__
        if d.get("_in_jvp"):
            return tuple(d.get("saved_for_forward", ()))
        if d.get("_cleared"):
            raise RuntimeError(_CLEARED)
        saved = d.get("_saved")
        if saved is None:
            return ()
        r = self._row
        tape = self._tape_ref() if r is not None else None
        if tape is not None and tape.fr.item(r) & FREED:
            raise RuntimeError(FREED_MSG)
        if getattr(tape, "recompute", False):
            # (once per backward, as PyTorch recomputes for each graph task: a double backward through
            # a recomputed segment unpacks again in its own)
            task = _hooks.current_task()
            if d.get("_unpacked") == task:
                # (tape.utils.checkpoint imports this module: its names are read when needed)
                raise utils.checkpoint.CheckpointError(utils.checkpoint.UNPACKED_TWICE)
            d["_unpacked"] = task
        packed = d.get("_packed")
        values = None       # (a Function inside a checkpointed segment: its values run again)
        out = []
        for k, entry in enumerate(saved):
            if packed is not None and packed[k] is not None:
                value = _saved.check_unpacked(packed[k][1](packed[k][0]))
                if entry is not None and entry[0] == "node":
                    if values is None:
                        values = _saved.valued(tape)
                    value = _saved.with_history(value, values, entry[1])
                elif entry is not None and entry[1]._rg and not value._rg and value._tape is None:
                    # (PyTorch's unpacked leaf shares the saved leaf's grad accumulator: a leaf that
                    # requires grad, as the one a checkpoint's recomputation starts from; in a
                    # recorded backward, linked to the saved leaf, where its gradient then goes)
                    value = _saved._linked(value, entry[1]) if state.grad else value.detach().requires_grad_()
                out.append(value)
                continue
            if entry is None:
                out.append(None)
                continue
            kind, what, version, ref = entry
            if kind == "node":
                if values is None:
                    values = _saved.valued(tape)
                node = what
                fr = values.fr.item(node)
                if fr & MODIFIED and r < fr >> 2:
                    t = ref()
                    now = t._vnum if t is not None else version + 1
                    # (a saved output is named by this node, a saved input by its tensor's node now)
                    maker = self if values.op.item(node) == OUTPUT and values.a.item(node) == r else None
                    _raise_modified(values, node, t, version, now, maker)
                t = _input_itself(entry, r) if values is tape else None
                out.append(t if t is not None else
                           recorded(values, node, values.value_of(node), D.ARENA_DTYPES[values.dt.item(node)]))
            else:
                if what._vnum != version:
                    _raise_modified(None, -1, what, version, what._vnum)
                out.append(what)
        forward_cls = getattr(type(self), "_forward_cls", None)
        if forward_cls is not None and forward_cls.clear_saved_tensors_on_access:
            d["_cleared"] = True
            d["_saved"] = d["_packed"] = None
        return tuple(out)

    @property
    def saved_variables(self) -> tuple:
        """Deprecated alias of :attr:`saved_tensors`."""
        warnings.warn("'saved_variables' is deprecated; use 'saved_tensors'", DeprecationWarning, stacklevel=2)
        return self.saved_tensors

    @property
    def needs_input_grad(self) -> tuple:
        return self._needs_input_grad

    def name(self) -> str:
        return ("torch::autograd::" if self._builtin else "") + type(self).__name__

    def _sequence_nr(self) -> int:
        """The node's place in the order the thread made nodes in (``Node._sequence_nr``)."""
        tape = self._tape_ref() if self._row is not None else None
        if tape is None:
            raise RuntimeError("the node of a Function call that recorded nothing has no sequence number")
        return sequence_nr(tape, self._row)

    @property
    def next_functions(self) -> tuple:
        tape = self._tape_ref() if self._row is not None else None
        edges = () if tape is None else Node(tape, self._row).next_functions
        defined = self.__dict__.get("_defined")
        if defined is None:
            return edges
        # (a node PyTorch makes in C++ takes a list of tensors: an undefined one is an edge to nothing)
        it = iter(edges)
        return tuple(next(it) if d else (None, 0) for d in defined)

    @property
    def _input_metadata(self) -> tuple:
        """The shape and dtype of each tensor output (the gradients the node receives)."""
        return tuple(InputMetadata(*meta) for meta in self.__dict__.get("_out_meta", ()) if meta is not None)

    def register_hook(self, fn: Callable) -> RemovableHandle:
        """Register ``fn(grad_inputs, grad_outputs) -> tuple or None``, run after ``backward``."""
        tape = self._tape_ref()
        hold_metadata(self, tape)
        return node_hook(tape, self._row, fn, pre=False)

    def register_prehook(self, fn: Callable) -> RemovableHandle:
        """Register ``fn(grad_outputs) -> tuple or None``, run before ``backward``."""
        tape = self._tape_ref()
        hold_metadata(self, tape)
        return node_hook(tape, self._row, fn, pre=True)

    @property
    def metadata(self) -> dict:
        meta = self.__dict__.get("_metadata")
        if meta is None:
            meta = self._metadata = {}
            tape = self._tape_ref() if self._row is not None else None
            if tape is not None:
                hold_metadata(self, tape)
        return meta

    def __repr__(self) -> str:
        where = "" if self._builtin or type(self).__module__ == "builtins" else type(self).__module__ + "."
        return f"<{where}{type(self).__name__} object at {id(self):#x}>"


def _node_class_name(t: Tensor) -> str:
    fn = tensor_grad_fn(t._tape, t._node) if t._tape is not None else None
    return re.sub(r"Backward\d*$", "", type(fn).__name__) if fn is not None else ""


def _raise_modified(tape, node, t, version, now, maker=None) -> None:
    if t is not None and t._rebased is not None and maker is None:
        raise RuntimeError(t._rebased[0])       # (PyTorch reads a saved input's node before its version)
    if t is not None:
        dtype, shape = t._dtype, t._shape
    else:
        dtype, shape = D.ARENA_DTYPES[int(tape.dt[node])], tape.shape_of(node)
    what = f"[torch.{D.legacy_name(dtype)}Tensor {list(shape)}]"
    if maker is not None:
        what += f", which is output 0 of {type(maker).__name__.removesuffix('Backward')},"
    elif t is not None and t._tape is not None:
        what += f", which is output 0 of {_node_class_name(t)},"
    raise RuntimeError("one of the variables needed for gradient computation has been modified by an inplace "
                       f"operation: {what} is at version {now}; expected version {version} instead. Hint: "
                       f"{modified_hint()}")


_CLEARED = ("saved_tensors can only be accessed once when clear_saved_tensors_on_access=True is set on the "
            "autograd.Function. Either access saved_tensors only once, or set clear_saved_tensors_on_access=False.")


class FunctionMeta(type):
    """Makes, for each Function class, its node class ``<ClassName>Backward``, in PyTorch's module
    (``torch.autograd.function``: a node's default repr prints it, as PyTorch's)."""

    def __init__(cls, name, bases, attrs):
        # (``_codegen_node``: a node PyTorch generates from derivatives.yaml, whose class is in no module)
        cls._backward_cls = type(attrs.get("_node_name", name + "Backward"), (BackwardCFunction,),
                                 {"_forward_cls": cls, "_builtin": attrs.get("_builtin_node", False),
                                  "__module__": "builtins" if attrs.get("_codegen_node") else "torch.autograd.function"})
        super().__init__(name, bases, attrs)


class Function(metaclass=FunctionMeta):
    r"""Base class to create custom autograd operations.

    Subclass it and implement ``forward`` and ``backward`` as static methods, then call
    ``MyFn.apply(*args)``; do not instantiate it or call ``forward`` directly::

        class Exp(tape.autograd.Function):
            @staticmethod
            def forward(ctx, i):
                result = i.exp()
                ctx.save_for_backward(result)
                return result

            @staticmethod
            def backward(ctx, grad_output):
                result, = ctx.saved_tensors
                return grad_output * result

    ``forward`` may instead take only the inputs, with a ``setup_context(ctx, inputs, output)``
    static method filling ``ctx``.  ``backward`` returns one gradient (or None) per input of
    ``forward``.
    """

    # True: the first ``ctx.saved_tensors`` lets go of the saved tensors (a second one raises), so
    # they go as soon as ``backward`` drops them.
    clear_saved_tensors_on_access = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn(f"{self.__class__} should not be instantiated. Methods on autograd functions are all static, "
                      "so you should invoke them on the class itself. Instantiating an autograd function will "
                      "raise an error in a future version of PyTorch.", DeprecationWarning, stacklevel=2)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Legacy autograd function with non-static forward method is deprecated. Please use "
                           "new-style autograd function with static forward method. (Example: "
                           "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)")

    @staticmethod
    def forward(*args: Any, **kwargs: Any) -> Any:
        r"""Compute the operation (``forward(ctx, *args)``, or ``forward(*args)`` with ``setup_context``)."""
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> Any:
        r"""Fill ``ctx`` from the inputs and output of a ``forward`` that takes no ``ctx``."""
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        r"""Gradients of the inputs (one per argument of ``forward``) from those of the outputs."""
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    vjp = backward      # backward and vjp are aliases: define one of them

    @staticmethod
    def jvp(ctx: Any, *grad_inputs: Any) -> Any:
        r"""Tangents of the outputs (one per output of ``forward``, None for one that is not a
        differentiable tensor) from those of the inputs (one per argument of ``forward``: None for
        one that is not a tensor), for forward-mode AD (``tape.autograd.forward_ad``); ``ctx``
        holds what ``forward`` saved with ``save_for_forward``, as ``ctx.saved_tensors``."""
        raise NotImplementedError("You must implement the jvp function for custom autograd.Function to use it "
                                  "with forward mode AD.")

    # True: ``tape.vmap`` may run this Function without a ``vmap`` staticmethod of its own.
    generate_vmap_rule = False
    # (tape's own Functions standing for what PyTorch does without one, a C++ node or checkpoint's
    # saved-tensor hooks, run under vmap without PyTorch's conditions on custom Functions)
    _vmap_exempt = False

    @staticmethod
    def vmap(info: Any, in_dims: tuple, *args: Any) -> Any:
        r"""The Function under :func:`tape.vmap`: ``(output, out_dims)`` for ``args`` batched along
        ``in_dims`` (one entry per argument: the batched dimension, or None).  Override it, or set
        ``generate_vmap_rule = True``, for a Function to be usable inside ``tape.vmap``; tape's vmap
        runs ``forward`` once per sample either way, so the rule itself is not called."""
        raise NotImplementedError("To use autograd.Function with vmap, you must either override the vmap staticmethod "
                                  "or set generate_vmap_rule=True.")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` and record the call as one node of the graph."""
        setup = cls.setup_context is not Function.setup_context
        if vmap_levels:
            _check_vmap_rule(cls, setup)
        if setup:
            bound = inspect.signature(cls.forward).bind(*args, **kwargs)
            bound.apply_defaults()
            args, kwargs = bound.args, bound.kwargs
        elif kwargs:
            args, kwargs = _keyword_inputs(cls, args, kwargs), {}
        if _dual_apply is not None:
            return _dual_apply(cls, setup, args, kwargs)
        return _apply(cls, setup, args, kwargs)


def _keyword_inputs(cls, args: tuple, kwargs: dict) -> tuple:
    """The arguments of ``apply`` given by keyword as PyTorch binds them for a ``forward(ctx, ...)``:
    to forward's parameters of those names, as positional inputs after ``args`` (so a tensor given
    by keyword is an input of the node like any other), with no default filled in before them."""
    names = [p.name for p in list(inspect.signature(cls.forward).parameters.values())[1:]
             if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    for name in kwargs:
        if name not in names:
            raise TypeError(f"forward() got an unexpected keyword argument '{name}'")
        if names.index(name) < len(args):
            raise TypeError(f"forward() got multiple values for argument '{name}'")
    bound = list(args)
    for i in range(len(args), max(names.index(name) for name in kwargs) + 1):
        if names[i] not in kwargs:
            raise TypeError(f"forward() missing required argument: '{names[i]}' (position {i})")
        bound.append(kwargs[names[i]])
    return tuple(bound)


_dual_apply = None      # while a forward AD level is active: ``_apply`` computing tangents (``tape/_dual.py``)

# The threads (idents) of the ``tape.vmap`` calls running, one entry per call (``tape/func.py``): a
# Function applied inside one must have a vmap rule.
vmap_levels: list = []

_EXTENDING_FUNC = "For more details, please see https://pytorch.org/docs/main/notes/extending.func.html"


def _check_vmap_rule(cls, setup: bool) -> None:
    """PyTorch's conditions for a Function under vmap: ``setup_context``, and a vmap rule (its own
    ``vmap`` or ``generate_vmap_rule``, not both)."""
    if cls._vmap_exempt or threading.get_ident() not in vmap_levels:
        return
    if not setup:
        raise RuntimeError("In order to use an autograd.Function with functorch transforms (vmap, grad, jvp, jacrev, "
                           f"...), it must override the setup_context staticmethod. {_EXTENDING_FUNC}")
    overridden = cls.vmap is not Function.vmap
    if cls.generate_vmap_rule and overridden:
        raise RuntimeError(f"You tried to vmap over {cls.__name__}, but it has both generate_vmap_rule=True and an "
                           "overridden vmap staticmethod. Please set generate_vmap_rule=False or delete the overridden "
                           f"vmap staticmethod to avoid ambiguity. {_EXTENDING_FUNC}")
    if not cls.generate_vmap_rule and not overridden:
        raise RuntimeError(f"You tried to vmap over {cls.__name__}, but it does not have vmap support. Please "
                           f"override and implement the vmap staticmethod or set generate_vmap_rule=True. "
                           f"{_EXTENDING_FUNC}")


def _apply(cls, setup: bool, args: tuple, kwargs: dict, keep: Optional[list] = None) -> Any:
    """Run ``forward`` and record the call (``keep``: gets the ctx, what ``forward`` returned and
    the tensors it marked dirty and non-differentiable, for the forward-AD call, ``tape/_dual.py``)."""
    ctx = cls._backward_cls()
    grad = state.grad
    # One pass over the arguments (this runs on every call): which need a gradient, and where
    # each tensor argument's history is now (forward may change one in place).
    needs = []
    before = []
    in_meta = []
    record = False
    for a in args:
        if isinstance(a, Tensor):
            need = grad and a._rg
            record = record or need
            needs.append(need)
            before.append((a, a._tape, a._node))
            in_meta.append((a._shape, a._dtype))
        else:
            needs.append(False)
    ctx._needs_input_grad = tuple(needs)
    # (grad mode off for ``forward`` through the thread-local's own setter: ``state.grad = ..``
    # costs a Python ``__setattr__`` each way; ``rec`` follows ``grad`` as that setter keeps it)
    _set(state, "grad", False)
    _set(state, "rec", None)
    try:
        if setup:
            outputs = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, outputs)
        else:
            outputs = cls.forward(ctx, *args, **kwargs)
    finally:
        _set(state, "grad", grad)
        _set(state, "rec", state.tape if grad else None)
    d = ctx.__dict__
    dirty = d.get("dirty_tensors", ())
    single = not isinstance(outputs, tuple)
    outs = (outputs,) if single else outputs
    if keep is not None:
        keep += (ctx, outs, dirty, d.get("non_differentiable", ()))
    for t in dirty:
        if not any(o is t for o in outs):
            raise RuntimeError("Some elements marked as dirty during the forward method were not returned as "
                               "output. The inputs that are modified inplace must all be outputs of the Function.")
    if d.get("_is_pure_view") and (sum(isinstance(a, Tensor) for a in args) != 1
                                   or sum(isinstance(o, Tensor) for o in outs) != 1):
        raise RuntimeError("Pure view custom Function can only have one input Tensor and one output Tensor. Open an "
                           "issue if you need to support more.")
    if not record:
        for t in dirty:
            t._bump()       # (``mark_dirty`` counts a change of its own, as PyTorch's does)
        if any(isinstance(o, Tensor) for o in outs):
            new = [_unrecorded_output(o, args, dirty) for o in outs]
            return new[0] if single else tuple(new)
        return outputs
    for t in dirty:
        _check_dirty(t, args, len(outs))
    new = _record(ctx, args, before, in_meta, outs, dirty)
    return new[0] if single else tuple(new)


def _pure_view(ctx) -> bool:
    """``ctx._is_pure_view``: forward only takes a view of its one tensor input, so that its one
    output is an ordinary view (changed in place, it is replayed as PyTorch replays a view it
    cannot name: ``as_strided``)."""
    return bool(ctx.__dict__.get("_is_pure_view"))


def _unrecorded_output(o: Any, args: tuple, dirty: tuple) -> Any:
    """An output of a Function run without recording, as PyTorch returns it: an input returned as
    it is becomes a view of it, and a view is marked as made inside a custom Function."""
    if not isinstance(o, Tensor):
        return o
    if any(o is d for d in dirty):
        # (one that requires grad is returned as a detached alias: its own history stays as it is)
        return o.detach() if o._rg else o
    if o._rg and any(o is a for a in args):
        return o.detach()
    if any(o is a for a in args):
        grad = state.grad
        state.grad = False
        try:
            o = o.view_as(o)
        finally:
            state.grad = grad
    if o._vb is not None:
        o._vm |= VIEW_IN_FUNCTION
    return o


_DIRTY_NOT_INPUT = ("ctx.mark_dirty() received a tensor that was not an input. Only input Tensors that have been "
                    "mutated should be passed to ctx.mark_dirty().")


def _check_dirty(t: Tensor, args: tuple, n_outputs: int) -> None:
    """PyTorch's checks of a tensor that ``forward`` changed in place (``ctx.mark_dirty``), in its order."""
    if t._tape is None and t._vb is None and t._rg:
        raise RuntimeError("a leaf Variable that requires grad has been used in an in-place operation.")
    if not any(t is a for a in args):
        if t._vb is not None:
            raise RuntimeError(_DIRTY_NOT_INPUT)
        warnings.warn(_DIRTY_NOT_INPUT, stacklevel=4)
        return
    if t._vb is not None and n_outputs > 1:
        raise RuntimeError(
            "If your Function modifies inplace an input that is a view of another Tensor, your Function cannot "
            "return more than one Tensor. This is not supported by the current autograd engine. You should either "
            "make sure the input is not a view (using .clone() for example) or make your Function only return one "
            "Tensor (potentially splitting it into two Functions: one doing the inplace that returns a single Tensor "
            "and a second one that does the other operations). You can ask on the forum "
            "https://discuss.pytorch.org/ if you need help to do this change.")
    if t._rebased is not None and t._rebased[1] is not None:
        raise RuntimeError(t._rebased[1])       # (a view PyTorch gives no node once changed: ``Tensor._rebased``)
    if t._vb is not None:
        _check_view_inplace(t)


def _position(o: Any, items: tuple, stop: int) -> int:
    """The first position before ``stop`` at which ``items`` holds ``o`` itself, or -1."""
    for k in range(stop):
        if items[k] is o:
            return k
    return -1


def _record(ctx, args: tuple, before: list, in_meta: list, outs: tuple, dirty: tuple) -> list:
    """Append the Function's row and its OUTPUT rows; return the outputs' handles (``in_meta``: the
    shape and dtype of each tensor argument, as ``forward`` got it)."""
    tape = write_tape()
    nodes = []
    for t, old_tape, old_node in before:
        if old_tape is tape:
            nodes.append(old_node)
        elif old_tape is t._tape and old_node == t._node:
            # (the tensor itself, where forward left it: a checkpoint's scratch tape gives it a
            # stand-in that the segment's gradient is then taken for)
            nodes.append(tape.import_(t))
        elif old_tape is not None:
            nodes.append(tape.import_(recorded(old_tape, old_node, old_tape.value_of(old_node), t._dtype)))
        elif t._rg or t._dtype.arena is not None:
            nodes.append(tape.import_(t))
        else:       # an integer tensor that needs no gradient: a constant in float64
            node = tape.append(CONST, 0, t._value().astype(np.float64))
            tape.rg[node] = 0
            nodes.append(node)
    nondiff = ctx.__dict__.get("non_differentiable", ())
    if len(outs) == 1 and not nondiff and not dirty:
        o = outs[0]
        if type(o) is Tensor and o._dtype.is_floating_point and _made_by_forward(o, args):
            return [_record_made(ctx, tape, nodes, o, args, before, in_meta)]
    new = []
    rows = []       # (arena, value, position) of each differentiable output, an OUTPUT row each
    positions = []
    meta = []
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            new.append(o)
            meta.append(None)
            continue
        dtype = o._dtype
        meta.append((o._shape, dtype))
        if nondiff and any(o is n for n in nondiff) or not dtype.is_floating_point:
            new.append(o if any(o is d for d in dirty) else o.detach())
            new[-1]._rg = False
            continue
        # (an output that forward made becomes the output itself, its storage the arena's copy
        # of it: ``value is o._v`` below; any other is copied to a new handle)
        own = _made_by_forward(o, args) and not (dirty and any(o is d for d in dirty))
        rows.append((dtype.arena, o._v if own else np.array(o._value()), i))
        positions.append(i)
        new.append(None)
    # (a leaf input the tape refers to stays where it is: the row's backward reads a leaf as itself)
    r = tape.append_call(FUNCTION, nodes, rows)
    tape.pyrows[r] = ctx
    ctx._tape_ref = tape.me
    ctx._row = r
    for node, (_, value, i) in enumerate(rows, r + 1):
        o = outs[i]
        twice = _position(o, outs, i) if i else -1
        if twice >= 0 and not (dirty and any(o is d for d in dirty)):
            # A tensor returned twice is one output, as in PyTorch: the last place it is returned
            # at is its output number.
            t = new[twice]
            t._tape, t._node = tape, node
            new[i] = t
        elif dirty and any(o is d for d in dirty):
            if o._vb is not None:
                # A view changed in place: its root takes PyTorch's CopySlices of the Function's
                # output, and the view is derived from the root again (``ops/views.py``).
                o._write_view(recorded(tape, node, value, o._dtype))
            else:
                # The input changed in place is now the output: it moves to the Function's node.
                o._bump()
                if o._retains and o._tape is not None:
                    # (retain_grad() follows the tensor to its new version)
                    old_tape, old_node = o._history()
                    old_tape.retained.pop(old_node, None)
                    tape.retained[node] = weakref.ref(o)
                o._tape, o._node, o._rg = tape, node, True
                o._ig = 0
                if o._views:
                    o._rederive_views()     # (its views now derive from the Function's node, as PyTorch's)
            new[i] = o
        elif value is o._v:
            # A tensor forward made is the output itself, as in PyTorch (``o is ctx.y`` holds).
            o._tape, o._node, o._rg = tape, node, True
            o._ig = 0
            new[i] = o
        else:
            t = recorded(tape, node, value, o._dtype)
            if o._vb is not None or _position(o, args, len(args)) >= 0:
                # A view (or an input returned as it is) stays a view of its base, which PyTorch's
                # in-place checks then refuse to change through it.
                _link(t, o, o._v)
                t._vm = 0 if _pure_view(ctx) else VIEW_IN_FUNCTION
            new[i] = t
    ctx._outputs = positions
    ctx._out_meta = meta
    if len(before) == len(args):
        ctx._inputs = range(len(args))
    else:
        ctx._inputs = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    ctx._in_meta = in_meta
    d = ctx.__dict__
    if "to_save" in d:
        _keep_saved(ctx, tape, args, outs, new, before, nodes)
    if dirty:
        del d["dirty_tensors"]
    if nondiff:
        del d["non_differentiable"]
    return new


def _made_by_forward(o: Tensor, args: tuple) -> bool:
    """Whether ``forward`` made the output ``o`` (no history, no view, not an argument), which then
    becomes the output itself."""
    return o._tape is None and o._vb is None and o._f is None and o._origins is None and o._views is None \
        and not o._rg and o._grad is None and not o._inf and _position(o, args, len(args)) < 0


def _record_made(ctx, tape: Tape, nodes: list, o: Tensor, args: tuple, before: list, in_meta: list) -> Tensor:
    """``_record``'s common call, in fewer steps: one output, a tensor that ``forward`` made, which
    becomes the output itself."""
    dtype = o._dtype
    r = tape.append_call(FUNCTION, nodes, ((dtype.arena, o._v, 0),))
    tape.pyrows[r] = ctx
    ctx._tape_ref = tape.me
    ctx._row = r
    o._tape, o._node, o._rg = tape, r + 1, True
    o._ig = 0
    ctx._outputs = _FIRST
    ctx._out_meta = [(o._shape, dtype)]
    ctx._inputs = range(len(args)) if len(before) == len(args) else \
        [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    ctx._in_meta = in_meta
    if "to_save" in ctx.__dict__:
        _keep_saved(ctx, tape, args, (o,), [o], before, nodes)
    return o


_FIRST = (0,)       # (the output positions of a call with one output)


def _input_itself(entry: tuple, r: int):
    """A saved input (a node before the Function's row ``r``) as the tensor itself while it lives
    unchanged, as PyTorch unpacks a saved tensor that is not an output; None otherwise."""
    t = entry[3]() if entry[1] < r else None
    return t if t is not None and t._vnum == entry[2] else None


def _keep_saved(ctx, tape, args: tuple, outs: tuple, new: list, before: list, nodes: list) -> None:
    """What ``save_for_backward`` got, as nodes of the tape (outputs, recorded inputs) or the
    tensors themselves (leaves and constants), each with its version now."""
    to_save = ctx.__dict__.pop("to_save", None)
    if to_save is None:
        return
    if len(to_save) == 1 and len(outs) == 1 and to_save[0] is outs[0] is new[0] and new[0]._tape is tape \
            and not _saved.local.stack:
        ctx._saved = (_node_entry(new[0]._node, new[0]),)     # (the common call: its output alone saved)
        return
    saved = []
    for t in to_save:
        if t is None:
            saved.append(None)
            continue
        node = None
        for o, n in zip(outs, new):
            # (an input returned as it is gives a new tensor as output: saved, it is still the
            # input, as in PyTorch, whose output is then an alias and the input has no grad_fn)
            if o is t and isinstance(n, Tensor) and n._tape is tape and (n is o or _position(o, args, len(args)) < 0):
                node, t = n._node, n
        if node is None and t._tape is not None:
            for (b, _, _), n in zip(before, nodes):
                if b is t:
                    node = n
            if node is None:
                node = t._node if t._tape is tape else tape.import_(t)
        if node is not None:
            saved.append(_node_entry(node, t))
        else:
            ver = t._ver
            saved.append(("tensor", t, 0 if ver is None else ver[0], None))
    ctx._saved = saved = tuple(saved)
    if _saved.local.stack:      # (saved-tensor hooks: what pack_hook gave, unpacked on each read)
        ctx._packed = _saved.pack_for_function([None if e is None else e[3]() if e[0] == "node" else e[1]
                                                for e in saved])


def _node_entry(node: int, t: Tensor) -> tuple:
    """A saved tensor recorded on the tape: its node, its version now, and the tensor (weakly)."""
    ver = t._ver
    return ("node", node, 0 if ver is None else ver[0], weakref.ref(t))


def _zeros(meta) -> Tensor:
    shape, dtype = meta
    return plain(np.zeros(shape, dtype.np), dtype)


def _vjp(gs, xs, y, row):
    """The rule of a Function row: the user's backward, its results checked and shaped."""
    tape = row.tape
    ctx = tape.pyrows[row.r]
    result = _backward_of(ctx, gs, True)
    rg = tape.rg
    out = []
    for x, pos, meta in zip(row.inputs, ctx._inputs, ctx._in_meta):
        g = result[pos]
        # (for an input that needs no gradient, what backward returned as it is: PyTorch checks only
        # the gradients that go somewhere, and the node's post hooks see the others unchecked)
        out.append(None if g is None else _shaped(ctx, g, pos, meta) if rg.item(x) else g)
    return tuple(out)


def _plain_row(tape, r: int, grads: tuple, marks: memoryview) -> None:
    """Row ``r`` of a custom Function in ``_engine.plain_backward``'s sweep (``marks``: its ``seen``
    flags): ``_engine._vjp_row`` and ``_vjp`` in one, its node the one evaluated meanwhile
    (``_engine.as_node``); this runs at every call's backward.  That sweep's adjoint buffers are
    its own (not kept for the next backward) and nothing reads an OUTPUT row's adjoint after its
    row ran (no hooks, no retained gradients there): ``backward`` gets views of them, not copies."""
    ctx = tape.pyrows[r]
    w = tape.w_int
    dts, offs, shps = w[R_DT], w[R_OFF], w[R_SHP]
    shapes = tape.shapes
    gs = []
    missing = False
    for q in range(r + 1, r + 1 + w[R_NOUT][r]):
        if marks[q] & 1:
            dt = dts[q]
            gs.append(_plain(_ndarray(shapes[shps[q]], _ARENA_NP[dt], grads[dt], offs[q] * _ITEMSIZE[dt]),
                             _ARENA_DTYPES[dt]))
        else:
            gs.append(None)
            missing = True
    first = w[R_LO][r]
    n_in = w[R_LN][r]
    ins = (tape.ix.item(first),) if n_in == 1 else tape.ix[first:first + n_in].tolist()
    evaluating = _hooks.evaluating
    prev = evaluating.node
    evaluating.node = (tape, r)
    try:
        result = _backward_of(ctx, gs, missing)
    finally:
        evaluating.node = prev
    marks[r] |= 4
    undefined = False
    rg = w[R_RG]
    # (a gradient found wrong after others were added raises: the buffers, plain_backward's own,
    # are dropped with them)
    for x, pos, meta in zip(ins, ctx._inputs, ctx._in_meta):
        g = result[pos]
        if g is None or not rg[x]:
            undefined = True
            continue
        if g._shape != meta[0] or g._dtype is not meta[1]:
            g = _shaped(ctx, g, pos, meta)
        dt = dts[x]
        adjoint = _ndarray(shapes[shps[x]], _ARENA_NP[dt], grads[dt], offs[x] * _ITEMSIZE[dt])
        if marks[x] & 1:
            adjoint += g._value()
        else:
            marks[x] |= 1
            adjoint[...] = g._value()
    if undefined:
        pass_undefined(tape, r, marks)


def _backward_of(ctx: BackwardCFunction, gs: list, missing: bool) -> tuple:
    """The user's ``backward`` of the call ``ctx``, given the gradients of its OUTPUT rows (None
    where none arrived; ``missing``: whether some may be None), its results checked as PyTorch
    checks them (count, type): one per argument of ``forward``."""
    meta = ctx._out_meta
    grads = gs
    if len(gs) != len(meta):        # (an output that is not a differentiable tensor: None there)
        grads = [None] * len(meta)
        for pos, g in zip(ctx._outputs, gs):
            grads[pos] = g
        missing = True
    if missing and ctx.materialize_grads:
        grads = list(grads)
        every = ctx._materialize_non_diff_grads
        for pos, g in enumerate(grads):
            if g is None and meta[pos] is not None and (every or pos in ctx._outputs):
                grads[pos] = _zeros(meta[pos])
    found = ctx._user_fn
    if found is None:
        found = type(ctx)._user_fn = (ctx._get_user_fn(),)     # (in a tuple: a function would bind to ctx)
    result = found[0](ctx, *grads)
    if not isinstance(result, tuple):
        result = (result,)
    n_args = len(ctx._needs_input_grad)
    if len(result) != n_args:
        if len(result) > n_args and all(g is None for g in result[n_args:]):
            result = result[:n_args]
        else:
            raise RuntimeError(f"function {type(ctx).__name__} returned an incorrect number of gradients (expected "
                               f"{n_args}, got {len(result)})")
    if len(ctx._inputs) != n_args:
        for pos, g in enumerate(result):
            if g is not None and pos not in ctx._inputs:
                raise RuntimeError(f"function {type(ctx).__name__} returned a gradient different than None at position "
                                   f"{pos + 1}, but the corresponding forward input was not a Variable")
    for g in result:
        if g is not None and not isinstance(g, Tensor):
            raise RuntimeError(f"expected Variable or None (got {type(g).__name__})")
    return result


def _shaped(ctx: BackwardCFunction, g: Tensor, pos: int, meta: tuple) -> Tensor:
    """Gradient ``g`` that ``backward`` returned at ``pos``, checked against and brought to the
    shape and dtype ``meta`` of that argument of ``forward``."""
    shape, dtype = meta
    if g._shape != shape:
        if not _expandable(shape, g._shape):
            raise RuntimeError(f"Function {type(ctx).__name__} returned an invalid gradient at index {pos} - got "
                               f"{list(g._shape)} but expected shape compatible with {list(shape)}")
        g = g._sum_to(shape)
    if g._dtype is not dtype:
        g = g.to(dtype)
    return g


_ndarray = np.ndarray
_ARENA_DTYPES = D.ARENA_DTYPES
_ARENA_NP = tuple(d.np for d in D.ARENA_DTYPES)
_ITEMSIZE = tuple(np.dtype(d).itemsize for d in _ARENA_NP)


def _jvp(ts, xs, y, row):
    """The tangent rule of a Function row: the user's ``jvp`` (one tangent per argument of ``forward``:
    zeros for a floating tensor without one unless ``ctx.set_materialize_grads(False)``, None for
    anything else, as PyTorch), one tangent per OUTPUT row."""
    ctx = row.tape.pyrows[row.r]
    tangents = [None] * len(ctx._needs_input_grad)
    materialize = ctx.materialize_grads
    for pos, meta, t in zip(ctx._inputs, ctx._in_meta, ts):
        tangents[pos] = _zeros(meta) if t is None and materialize and meta[1].is_floating_point else t
    ctx._in_jvp = True
    try:
        result = ctx._forward_cls.jvp(ctx, *tangents)
    finally:
        ctx._in_jvp = False
    if not isinstance(result, tuple):
        result = (result,)
    for pos, meta in enumerate(ctx._out_meta):
        if meta is not None and pos < len(result) and result[pos] is not None and pos not in ctx._outputs:
            raise RuntimeError(f"Function's jvp returned a gradient at position {pos}, but  the corresponding forward "
                               "output is not a differentiable Tensor.You should return None at that position instead.")
    return tuple(result[pos] for pos in ctx._outputs)


def _expandable(shape: tuple, to: tuple) -> bool:
    if len(shape) > len(to):
        return False
    return all(s == 1 or s == t for s, t in zip(reversed(shape), reversed(to)))


def _name_of(row) -> str:
    return type(row.tape.pyrows[row.r]).__name__


register(Op(FUNCTION, "autograd_function", "FunctionBackward0", 0, _vjp, float_only=False, grad_fn_of=_name_of,
            arity=LISTED, multi=True, jvp=_jvp, reads_inputs=False))
_engine.function_row = (FUNCTION, _plain_row)


def once_differentiable(fn: Callable) -> Callable:
    """Decorate a ``backward`` that is not differentiable itself: it runs without recording, and
    differentiating its result (``create_graph=True``) raises an error."""
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        prev = state.grad
        state.grad = False
        try:
            outputs = fn(ctx, *args)
        finally:
            state.grad = prev
        if not state.grad or not any(isinstance(a, Tensor) and a._rg for a in args):
            return outputs
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        marked = DelayedError(_ONCE, len(outs))(*(o.detach().requires_grad_() if isinstance(o, Tensor) else o
                                                  for o in outs))
        return marked if single or isinstance(marked, tuple) else (marked,)
    return wrapper


_ONCE = "trying to differentiate twice a function that was marked with @once_differentiable"


class _Error(Function):
    _node_name = "Error"
    _builtin_node = True
    _vmap_exempt = True

    @staticmethod
    def forward(ctx, msg: str, *xs: Tensor):
        ctx.msg = msg
        ctx._defined = tuple(x is not None for x in xs)
        # (the values themselves, sharing their storage but not their history)
        return tuple(x if x is None else x.detach() for x in xs)

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(ctx.msg)


class DelayedError:
    """``DelayedError(msg, num_inputs)(*tensors)`` (PyTorch's ``torch._C._functions.DelayedError``):
    the tensors' values, whose gradient raises ``RuntimeError(msg)`` when a backward reaches them."""

    def __init__(self, msg: str | bytes, num_inputs: int) -> None:
        self.msg = msg.decode() if isinstance(msg, bytes) else str(msg)
        self.num_inputs = int(num_inputs)

    def __call__(self, *inputs: Tensor) -> Tensor | tuple:
        outs = _Error.apply(self.msg, *inputs)
        return outs[0] if len(outs) == 1 else outs


class InplaceFunction(Function):
    r"""A :class:`Function` with an ``inplace`` flag, kept for backward compatibility (as in PyTorch).

    Use :class:`Function` instead for any new use case.
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace
