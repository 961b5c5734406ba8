"""Dual tensors: eager forward-mode AD (``tape.autograd.forward_ad``).

A dual tensor is an ordinary handle whose tangent is kept here (``TANGENTS``, by the handle's id),
so nothing in ``Tensor`` or in any op's front end knows about forward mode, and recording costs
exactly what it did when no dual level is active.  Entering a level swaps every op's front end
(Tensor methods, operators and properties, and the ``tape``, ``tape.linalg``, ``tape.special`` and
``tape.nn.functional`` functions) for a wrapper, and exiting puts the originals back.

A wrapper called with a dual tensor among its arguments runs the op as it is (the primal, with
its own history and errors), then runs it again on stand-ins: each dual argument a leaf copy that
requires grad (an in-place op's target a copy of it), recorded whatever the grad mode, and the
random generators set back so that both runs draw the same numbers.  The tangent sweep
(``tape/_tangent.py``) takes the arguments' tangents through the rows the second run recorded,
each op's ``jvp`` rule computing with the real arguments and result (so a tangent is recorded
when they or the tangents require grad, and reverse mode runs through it).  The ops inside a
front end (a composite's parts, the rules themselves) run unwrapped.

As PyTorch's, a view's tangent is the view of its base's (the view op run on the tangent), and an
in-place op writes the new tangent into the one its tensor has, so views and bases see it.  A
gradient recorded in a level (``autograd.grad(..., create_graph=True)``) gets its tangent from a
tangent sweep over the rows it depends on (forward over reverse, ``NODES``).
"""
from __future__ import annotations

import functools
import sys
import weakref
from typing import Callable, Optional

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import _dtype as D
from ._creation import Generator, default_generator
from ._engine import _tensor_at
from ._grad_mode import enable_grad
from ._state import state
from ._tape import write_tape
from ._tangent import tangent_sweep
from ._tensor import DUAL, Tensor
from ._tensor import _link
from ._tensor import _plain as plain
from .ops.shape import V_IDENTITY, viewed
from .ops.views import flat_positions
from .ops._spec import OUTPUT, PUBLIC, SOURCE

# id(tensor) -> (weakref to it, its tangent) for the tensors of the active level.
TANGENTS: dict = {}
# tape generation -> {node: tangent}: the recorded values of the level's dual tensors, which a
# gradient recorded in the level (``grad(..., create_graph=True)``) takes its tangent from.
NODES: dict = {}
_busy = False          # inside a wrapper (or a rule): ops run as they are
_swapped: list = []    # (owner, name, original) while a level is active
_current: dict = {}    # id(original) -> its wrapper, while a level is active


def tangent(t: Tensor) -> Optional[Tensor]:
    """The tangent of ``t`` at the active level (None: none).  A view without one of its own has
    the view of its root's, as PyTorch's (also when the root got it after the view was made)."""
    if not state.fwd_grad:
        return None         # (forward AD disabled: no tensor shows a tangent)
    entry = TANGENTS.get(id(t))
    if entry is not None and entry[0]() is t:
        return entry[1]
    root = t._vb
    if root is None or root is t:
        return None
    entry = TANGENTS.get(id(root))
    if entry is None or entry[0]() is not root:
        return None
    tan = _aliased(t, root, entry[1])
    set_tangent(t, tan)
    return tan


def _aliased(t: Tensor, root: Tensor, root_tan: Tensor) -> Tensor:
    """``root_tan``'s elements at the positions of ``t``'s in ``root``: a view of it (that shares
    its memory) when it has its root's layout, else a recorded gather of them."""
    rv, tv, sv = root._storage(), t._storage(), root_tan._v
    same = (not root_tan._rg and root_tan._vb is None and sv is not None and sv.shape == rv.shape
            and sv.strides == rv.strides and sv.dtype == rv.dtype and rv.flags.c_contiguous)
    if not same:
        positions = flat_positions(rv, tv)
        return unwrapped(lambda: root_tan.reshape(-1)[plain(positions, D.int64)])()
    off = (tv.__array_interface__["data"][0] - rv.__array_interface__["data"][0]) // rv.itemsize
    v = as_strided(sv.reshape(-1)[off:], tv.shape, tv.strides)
    return _link(plain(v, root_tan._dtype), root_tan, v)


def set_tangent(t: Tensor, tan: Optional[Tensor]) -> None:
    key = id(t)
    if tan is None:
        TANGENTS.pop(key, None)
        return
    TANGENTS[key] = (weakref.ref(t, lambda _, key=key: TANGENTS.pop(key, None)), tan)
    if t._tape is not None:
        NODES.setdefault(t._tape.gen, {})[t._node] = tan


DUAL[:] = [tangent, set_tangent]


def primal(t: Tensor) -> Tensor:
    """``t``'s primal at the active level (PyTorch's ``_fw_primal``): a view of it whose node is
    ``Identity``, with no tangent, neither its own nor a view of its root's."""
    p = unwrapped(viewed)(t, t._shape, V_IDENTITY)
    key = id(p)
    TANGENTS[key] = (weakref.ref(p, lambda _, key=key: TANGENTS.pop(key, None)), None)
    return p


def unwrapped(fn: Callable) -> Callable:
    """``fn`` run as it is, computing no tangent."""
    def run(*args, **kwargs):
        global _busy
        was = _busy
        _busy = True
        try:
            return fn(*args, **kwargs)
        finally:
            _busy = was
    return run


def _is_dual(a) -> bool:
    if type(a) is Tensor or isinstance(a, Tensor):
        return bool(TANGENTS) and tangent(a) is not None
    if isinstance(a, (list, tuple)):
        return any(_is_dual(b) for b in a)
    return False


def _inplace(name: str) -> bool:
    """Whether the front end named ``name`` changes its first argument (``add_``, ``__iadd__``, item assignment)."""
    if name.startswith("__"):
        return name == "__setitem__" or name[2] == "i" and name not in ("__invert__", "__index__", "__int__")
    return name.endswith("_") and not name.startswith("_")


def _inplace_position(fn: Callable) -> int:
    """The position of ``fn``'s ``inplace`` argument (``torch.nn.functional.elu(x, inplace=True)``), or -1."""
    code = getattr(fn, "__code__", None)        # (not inspect.signature: twenty thousand front ends)
    names = code.co_varnames[:code.co_argcount] if code is not None else ()
    return names.index("inplace") if "inplace" in names else -1


def wrap(fn: Callable, name: str) -> Callable:
    """``fn``, computing tangents when one of its arguments is a dual tensor."""
    inplace = _inplace(name)
    shaped = name in _SHAPED_LIKE
    position = -1 if inplace else _inplace_position(fn)

    @functools.wraps(fn)
    def front(*args, **kwargs):
        if _busy or not state.fwd_grad or not (any(_is_dual(a) for a in args)
                                               or any(_is_dual(a) for a in kwargs.values())):
            return fn(*args, **kwargs)
        if kwargs.get("out") is not None:
            raise NotImplementedError(f"Trying to use forward AD with {name}_out that does not support it because it "
                                      "is an out= function")
        now = inplace or position >= 0 and bool(args[position] if len(args) > position else kwargs.get("inplace"))
        return dual_call(fn, now, args, kwargs, shaped, name == "as_strided")
    front.__wrapped_front__ = fn
    return front


def _generators(args: tuple, kwargs: dict) -> list:
    gens = [default_generator]
    gens += [a for a in (*args, *kwargs.values()) if isinstance(a, Generator) and a is not default_generator]
    return gens


# (view ops whose other tensor argument gives only a shape: their result is a view of the first)
_SHAPED_LIKE = frozenset(("view_as", "expand_as", "reshape_as"))


def dual_call(fn: Callable, inplace: bool, args: tuple, kwargs: dict, shaped: bool = False, wide: bool = False):
    """Run ``fn`` on ``args`` (some dual) and give its tensor results their tangents (``shaped``:
    ``fn`` reads only the shape of its other tensor arguments; ``wide``: it may read its first
    argument's storage beyond its elements, ``as_strided``)."""
    global _busy
    _busy = True
    try:
        gens = _generators(args, kwargs)
        drawn = [g.stream.copy() for g in gens]
        target = args[0] if inplace and isinstance(args[0], Tensor) else None
        # (an in-place op changes its target, and maybe other arguments that alias it: their values
        # before it are what the stand-ins and the rules take)
        before = {id(a): (a, np.array(a._value())) for a in _tensors((args, kwargs))} if inplace else None
        out = fn(*args, **kwargs)
        for a in _tensors((args, kwargs)):
            if a._tape is None and a._ig and _is_dual(a):      # (taken in as a constant by a recorded row)
                NODES.setdefault(a._ig, {})[a._in] = tangent(a)
        rg = state.grad
        after = [g.stream for g in gens]
        for g, s in zip(gens, drawn):
            g.stream = s
        seeds: dict = {}
        handles: dict = {}
        with enable_grad():
            tape = write_tape()
            stand = {}

            def stand_in(a):
                if isinstance(a, (list, tuple)) and _is_dual(a):
                    return type(a)(stand_in(b) for b in a)
                if not isinstance(a, Tensor):
                    return a
                key = id(a)
                if key in stand:
                    return stand[key]
                t = tangent(a)
                if t is None and a is not target and _unchanged(a, before):
                    return a
                if wide and a is args[0] and before is None and t is not None:
                    s = _wide_stand_in(tape, a, t, seeds)
                    if s is not None:
                        stand[key] = s
                        return s
                s = plain(np.array(a._value()) if before is None else before[key][1], a._dtype)
                if t is not None:
                    s._rg = True
                    node = tape.import_(s)
                    seeds[node] = t
                    if a is not target and _unchanged(a, before):
                        handles[node] = a
                    else:
                        s = s.clone()
                stand[key] = s
                return s
            # (pinned: the stand-ins' rows all go to ``tape``, which the sweep reads, even when it is full)
            state.pinned += 1
            try:
                s_args = tuple(stand_in(a) for a in args)
                s_kwargs = {k: stand_in(v) for k, v in kwargs.items()}
                s_out = fn(*s_args, **s_kwargs)
            finally:
                state.pinned -= 1
        for g, s in zip(gens, after):
            g.stream = s
        if inplace:
            s_out, out = stand.get(id(target)), target
        pairs = list(_pairs(out, s_out))
        if seeds and any(s._tape is tape or s._ig == tape.gen for _, s in pairs):
            # (the other tensor arguments stand for themselves: rules computing with them record
            # through them, so a tangent's gradient reaches them too)
            for a in _tensors((args, kwargs)):
                if id(a) in stand or not _unchanged(a, before):
                    continue
                if a._tape is tape:
                    handles.setdefault(a._node, a)
                elif a._ig == tape.gen and a._iv == (a._ver[0] if a._ver is not None else 0):
                    handles.setdefault(a._in, a)
            if not inplace and len(pairs) == 1 and pairs[0][0] is not pairs[0][1]:
                handles[pairs[0][1]._node] = pairs[0][0]
            # (a rule run through reverse mode, ``TRANSPOSED``, records whatever requires grad)
            keep = rg and (any(t._rg for t in seeds.values()) or any(a._rg for a in handles.values()))
            tan = tangent_sweep(tape, seeds, tape.n, handles)
            for y, s in pairs:
                # (a stand-in returned as it is, by an op that returns an argument: its seed)
                t = tan.get(s._node if s._tape is tape else s._in if s._ig == tape.gen else -1)
                if t is not None and not keep and t._rg:
                    t = t.detach()
                t = t if y._dtype.is_floating_point else None
                if t is not None and tangent(y) is not t and any(_shares(t, u) for u in seeds.values()):
                    t = t.clone()       # (a rule that passes an argument's tangent on: ``clone``, ``copy_``)
                if inplace:
                    _write(y, t)
                else:
                    set_tangent(y, t)
            if (not inplace and isinstance(args[0], Tensor)
                    and (shaped or next(_tensors((args[1:], kwargs)), None) is None) and _viewed(pairs, args[0])):
                # a view of a dual tensor has the view of its tangent (the same op on it), as PyTorch's
                views = fn(tangent(args[0]), *args[1:], **kwargs)
                for (y, _), (t, _) in zip(pairs, _pairs(views, views)):
                    if tangent(y) is not None:
                        set_tangent(y, t)
        elif inplace:
            _write(out, None)
    finally:
        _busy = False
    return out


def _shares(a: Tensor, b: Tensor) -> bool:
    return a is b or bool(np.may_share_memory(a._value(), b._value()))


def _wide_stand_in(tape, a: Tensor, t: Tensor, seeds: dict) -> Optional[Tensor]:
    """For an op that may reach past ``a``'s elements into its storage (``as_strided``): a stand-in
    for ``a`` that views a copy of its whole storage, which stands for the storage with the
    tangent's storage as its tangent (laid out alike, as ``make_dual`` makes it); None when ``a``
    views no more than its elements or its tangent is laid out otherwise."""
    sa, st = a._strided_storage(), t._strided_storage()
    if sa is None or st is None or sa.size <= a.numel() or st.size != sa.size or t.stride() != a.stride() \
            or t.storage_offset() != a.storage_offset():
        return None
    full = plain(np.array(as_strided(sa, (sa.size,), (sa.itemsize,))), a._dtype)
    full._rg = True
    seeds[tape.import_(full)] = plain(np.array(as_strided(st, (st.size,), (st.itemsize,))), t._dtype)
    return full.as_strided(a.shape, a.stride(), a.storage_offset())


def _viewed(pairs: list, a: Tensor) -> bool:
    """Whether the results are views of ``a``, a dual tensor (an op like ``a[1:]``, ``a.t()``)."""
    root = a._vb if a._vb is not None else a
    t = tangent(a)
    return (t is not None and t._shape == a._shape and bool(pairs)
            and all(y._vb is root and y._v is not None and np.may_share_memory(y._v, a._v) for y, _ in pairs))


def _write(target: Tensor, new: Optional[Tensor]) -> None:
    """The tangent of an in-place op's ``target`` becomes ``new``: written into the one it has (or,
    for a view, into a zero one given to its root), so that its root and views see it, as PyTorch's."""
    old = tangent(target)
    if old is None and new is not None and target._vb is not None and target._vb is not target:
        root = target._vb
        if root._dtype.is_floating_point and tangent(root) is None:
            set_tangent(root, plain(np.zeros(root._shape, root._dtype.np), root._dtype))
            old = tangent(target)
    if old is None or old._shape != target._shape or new is not None and new._shape != old._shape:
        set_tangent(target, new)        # (an op that changes the shape: ``t_``, ``squeeze_`` ...)
        return
    if new is None:
        old.zero_()
    elif new is not old:
        old.copy_(new)
    set_tangent(target, old)            # (its node moved)


def _tensors(a):
    """The tensors in ``a`` (arguments: nested tuples, lists and dicts)."""
    if isinstance(a, Tensor):
        yield a
    elif isinstance(a, (list, tuple)):
        for b in a:
            yield from _tensors(b)
    elif isinstance(a, dict):
        for b in a.values():
            yield from _tensors(b)


def _unchanged(a: Tensor, before: Optional[dict]) -> bool:
    """Whether ``a`` holds the value it had before the (in-place) op."""
    return before is None or id(a) not in before or np.array_equal(before[id(a)][1], a._value(), equal_nan=True)


def _grad(original: Callable) -> Callable:
    """``autograd.grad`` in a level: a gradient recorded (``create_graph=True``) gets its tangent,
    as PyTorch's backward formulas compute with dual tensors (forward over reverse)."""
    @functools.wraps(original)
    def grad(outputs, inputs, *args, **kwargs):
        global _busy
        create_graph = kwargs["create_graph"] if "create_graph" in kwargs else len(args) > 2 and args[2]
        if _busy or not create_graph or not NODES:
            return original(outputs, inputs, *args, **kwargs)
        _busy = True        # (the backward's own Python rules compute no tangents)
        try:
            grads = original(outputs, inputs, *args, **kwargs)
            tapes = {id(g._tape): g._tape for g in grads if g is not None and g._tape is not None}
            for tape in tapes.values():
                _fwd_over_rev(tape, [g for g in grads if g is not None and g._tape is tape])
        finally:
            _busy = False
        return grads
    return grad


def _backward(original: Callable) -> Callable:
    """``autograd.backward`` in a level: the ``.grad`` a recorded backward (``create_graph=True``)
    gives a leaf gets its tangent, as PyTorch's."""
    @functools.wraps(original)
    def backward(tensors, *args, **kwargs):
        global _busy
        create_graph = kwargs["create_graph"] if "create_graph" in kwargs else len(args) > 2 and args[2]
        if _busy or not create_graph or not NODES:
            return original(tensors, *args, **kwargs)
        leaves = _leaves(tensors)
        was = [t._grad for t in leaves]
        _busy = True
        try:
            original(tensors, *args, **kwargs)
            grads = [t._grad for t, g in zip(leaves, was) if t._grad is not None and t._grad is not g]
            tapes = {id(g._tape): g._tape for g in grads if g._tape is not None}
            for tape in tapes.values():
                _fwd_over_rev(tape, [g for g in grads if g._tape is tape])
        finally:
            _busy = False
    return backward


def _leaves(tensors) -> list:
    """The leaves the graphs of ``tensors`` reach (those a backward may give a ``.grad``)."""
    tapes, leaves, seen = [], {}, set()
    for t in tensors if isinstance(tensors, (list, tuple)) else (tensors,):
        if isinstance(t, Tensor) and t._tape is not None:
            tapes.append(t._tape)
    while tapes:
        tape = tapes.pop()
        if id(tape) in seen:
            continue
        seen.add(id(tape))
        for src in tape.src.values():
            if type(src) is tuple:
                tapes.append(src[0])
            elif src() is not None:
                leaves[id(src())] = src()
    return list(leaves.values())


def _fwd_over_rev(tape, grads: list) -> None:
    """Give ``grads`` (recorded on ``tape`` by one backward) the tangents of the rows they come from."""
    tan = _tangents_on(tape, [g._node for g in grads])
    for g in grads:
        t = tan.get(g._node)
        if t is not None and tangent(g) is None:
            set_tangent(g, t)


def _tangents_on(tape, nodes: list) -> dict:
    """node -> tangent (the nonzero ones) for ``nodes`` of ``tape`` and the rows they come from, from
    the level's dual tensors: the rows whose tangent is not known (a backward's, a composite's inner
    ones) by a tangent sweep, and a value brought from another tape (a graph spanning tapes: the
    tape filled up) by the same on that tape."""
    known = {}
    mine = NODES.get(tape.gen, {})
    need = set()
    elsewhere: dict = {}        # other tape's id -> (that tape, {its node: our INPUT node})
    todo = list(nodes)
    while todo:
        r = todo.pop()
        if r in known or r in need:
            continue
        t = mine.get(r)
        if t is not None:
            known[r] = t
            continue
        code = int(tape.op[r])
        if code == OUTPUT:
            todo.append(int(tape.a[r]))
        elif code not in SOURCE:
            need.add(r)
            todo.extend(tape.inputs_of(r))
        else:
            src = tape.src.get(r)
            if src is None:
                src = tape.csrc.get(r)
            if type(src) is tuple:
                t = NODES.get(src[0].gen, {}).get(src[1])
                if t is None:
                    elsewhere.setdefault(id(src[0]), (src[0], {}))[1][src[1]] = r
            elif src is not None:
                t = _live_tangent(src)
            if t is not None:
                known[r] = t
    for other, ours in elsewhere.values():
        for node, t in _tangents_on(other, list(ours)).items():
            if node in ours:
                known[ours[node]] = t
    if not known:
        return {}
    # (the rules compute with the recorded values, so the tangents have history, as PyTorch's)
    handles = {x: _tensor_at(tape, x) for r in need for x in (r, *tape.inputs_of(r)) if tape.rg[x]}
    return tangent_sweep(tape, known, handles=handles, rows=sorted(need))


_NOT_INPLACE = ("An inplace custom Function is not modifying the forward mode gradients inplace. If the forward is "
                "modifying an input inplace, then the jvp function must modify the corresponding gradient inplace.")
_NOT_A_VIEW = "A custom Function's forward is returning a view (or an input as-is) but the jvp is not returning a view."
_NOT_VIEW_OF = "A custom Function is returning a view but the jvp is not returning a view of the given grad input."
_NOT_SAME_BASE = ("A custom Function is returning a view but the jvp is not returning a view of the same base as the "
                  "given grad input.")
_NONDIFF = ("Function's jvp returned a gradient at position {}, but  the corresponding forward output is not a "
            "differentiable Tensor.You should return None at that position instead.")


def _function_apply(apply: Callable) -> Callable:
    """A custom Function's call in a level, as PyTorch's: ``forward`` runs once, with forward AD
    off; then ``jvp`` gets one tangent per argument (None for anything but a floating tensor, zeros
    for one without) and its results become the outputs' tangents, after PyTorch's checks: an
    input changed in place must have its tangent changed in place, and an output that is a view of
    an input (or the input as it is) a tangent that is a view of that input's."""
    def dual_apply(cls, setup: bool, args: tuple, kwargs: dict):
        if _busy or not state.fwd_grad or not any(_is_dual(a) for a in args):
            return apply(cls, setup, args, kwargs)
        tans, versions = [], []
        for a in args:
            t = tangent(a) if isinstance(a, Tensor) else None
            versions.append(t._vnum if t is not None else None)
            if t is None and isinstance(a, Tensor) and a._dtype.is_floating_point:
                t = plain(np.zeros(a._shape, a._dtype.np), a._dtype)
            tans.append(t)
        keep = []
        state.fwd_grad = False
        try:
            out = apply(cls, setup, args, kwargs, keep)
            ctx, outs, dirty, nondiff = keep
            if not ctx.materialize_grads:
                # (``ctx.set_materialize_grads(False)`` in forward: the missing tangents stay None)
                tans = [t if v is not None else None for t, v in zip(tans, versions)]
            ctx._in_jvp = True
            try:
                result = cls.jvp(ctx, *tans)
            finally:
                ctx._in_jvp = False
        finally:
            state.fwd_grad = True
        result = result if isinstance(result, tuple) else (result,)
        news = (out,) if len(outs) == 1 and not isinstance(out, tuple) else out
        for pos, (o, new) in enumerate(zip(outs, news)):
            r = result[pos] if pos < len(result) else None
            if not isinstance(o, Tensor):
                continue
            if any(o is n for n in nondiff) or not o._dtype.is_floating_point:
                if r is not None:
                    raise RuntimeError(_NONDIFF.format(pos))
                continue
            k = next((k for k, a in enumerate(args) if a is o), -1)
            if k >= 0 and any(o is d for d in dirty):
                if versions[k] is not None:
                    if tans[k]._vnum == versions[k]:
                        raise RuntimeError(_NOT_INPLACE)
                    r = tans[k]
            elif new._vb is not None and r is not None:
                k = next((k for k, a in enumerate(args) if isinstance(a, Tensor) and (a if a._vb is None else a._vb) is new._vb), -1)
                if k >= 0 and tans[k] is not None:
                    given = tans[k]
                    if r._vb is None:
                        raise RuntimeError(_NOT_A_VIEW)
                    if r._vb is not (given if given._vb is None else given._vb):
                        raise RuntimeError(_NOT_SAME_BASE if given._vb is not None else _NOT_VIEW_OF)
            set_tangent(new, r)
        return out
    return dual_apply


def _live_tangent(ref) -> Optional[Tensor]:
    t = ref() if isinstance(ref, weakref.ref) else None
    return tangent(t) if t is not None else None


def _pairs(out, s_out):
    """The (result, stand-in result) tensor pairs of two results of the same structure."""
    if isinstance(out, Tensor):
        if isinstance(s_out, Tensor):
            yield out, s_out
    elif isinstance(out, (list, tuple)) and isinstance(s_out, (list, tuple)):
        for a, b in zip(out, s_out):
            yield from _pairs(a, b)


def _targets():
    """(owner, name, value) of every op front end: Tensor members and the functions of ``tape``,
    ``tape.linalg``, ``tape.special`` and ``tape.nn.functional``."""
    # (the package's modules, by name: they import this one)
    tape = sys.modules["tape"]
    members = set()
    for entry in PUBLIC:
        members.update(entry.methods)
        members.update(entry.properties)
    for name in sorted(members):
        yield Tensor, name, vars(Tensor)[name]
    for name in sorted(tape._functions):
        yield tape, name, getattr(tape, name)
    for module in (sys.modules["tape.linalg"], sys.modules["tape.special"], sys.modules["tape.nn.functional"]):
        for name in module.__all__:
            value = getattr(module, name)
            if callable(value) and not isinstance(value, type):
                yield module, name, value


def _wrapped(name: str, value):
    if isinstance(value, property):
        return property(wrap(value.fget, name), doc=value.__doc__)
    return wrap(value, name)


# (id(front end), name) -> (it, its wrapper) for the front ends of the last level: entering a level
# again (each ``torch.func.jvp``) does not build twenty thousand wrappers again
_made: dict = {}


def swap_in() -> None:
    """Make every op's front end compute tangents (a dual level begins)."""
    global _made
    made_now = {}
    for owner, name, value in _targets():
        made = _made.get((id(value), name))
        if made is None or made[0] is not value:
            made = (value, _wrapped(name, value))
        made_now[(id(value), name)] = made
        new = made[1]
        _swapped.append((owner, name, value))
        setattr(owner, name, new)
        _current[id(value)] = new
    _made = made_now
    for module in ("tape.autograd", "tape.autograd._backward", "tape.autograd.gradcheck",
                   "tape.autograd.functional"):
        module = sys.modules[module]
        _swapped.append((module, "grad", module.grad))
        module.grad = _grad(module.grad)
    for module in ("tape.autograd", "tape.autograd._backward"):     # (``Tensor.backward`` calls the latter's)
        module = sys.modules[module]
        _swapped.append((module, "backward", module.backward))
        module.backward = _backward(module.backward)
    function = sys.modules["tape.autograd.function"]      # (a custom Function's call: ``Function.apply``)
    _swapped.append((function, "_dual_apply", None))
    function._dual_apply = _function_apply(function._apply)


def current(fn: Callable) -> Callable:
    """The front end ``fn`` as it is in the active level (a function taken before it began)."""
    return _current.get(id(fn), fn)


def swap_out() -> None:
    """Put the front ends back and forget every tangent (the level ends)."""
    while _swapped:
        owner, name, value = _swapped.pop()
        setattr(owner, name, value)
    _current.clear()
    TANGENTS.clear()
    NODES.clear()
