"""``tape.func``: PyTorch's composable function transforms (``torch.func``).

``grad``, ``vjp``, ``jacrev`` and ``hessian`` run the function on fresh differentiable stand-ins of
its inputs (a new leaf each, or a view of an input that already requires grad, so that an outer
transform or the user's own graph sees through) and differentiate it with ``autograd.grad``: each
transform differentiates with respect to its own stand-ins only, so nested levels never take one
another's perturbations for theirs.  A level records its backward (``create_graph=True``) only when
what it differentiated reaches a tensor requiring grad from outside it (an outer level's stand-in,
the user's parameters): the outermost transform of a function of plain tensors runs a plain
backward and returns tensors without history, as PyTorch's.

``jvp``, ``jacfwd`` and ``linearize`` push tangents with ``autograd.forward_ad`` (dual tensors);
``hessian`` is ``jacfwd(jacrev(f))`` as PyTorch's.  ``vmap`` calls the function once per element of
the mapped dimension and stacks the results: the values PyTorch's vmap gives (which falls back to
such a loop for ops without a batching rule), at the cost of one call per sample.
"""
from __future__ import annotations

import contextlib
import functools
import threading
import weakref
from typing import Any, Callable, Optional, Union

from . import _creation, _dual
from ._functional_call import functional_call, stack_module_state
from ._grad_mode import enable_grad, is_grad_enabled
from ._tensor import Tensor
from .autograd import forward_ad as _fwad
from .autograd.function import vmap_levels as _vmap_levels
from .autograd.functional import _jacobian_rows
from . import autograd as _autograd
from ._pytorch_names import missing
from ._pytree import TreeSpec, _broadcast, tree_flatten, tree_unflatten
from ._vmap_internals import flat_inputs
from .ops._spec import OUTPUT, SOURCE
from .ops.join import stack

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "hessian", "vmap",
           "functional_call", "stack_module_state"]

argnums_t = Union[int, tuple]

# torch.func's public names tape does not have.
_TORCH_FUNC = frozenset(("debug_unwrap", "functionalize", "rearrange", "replace_all_batch_norm_modules_"))


def __getattr__(name: str):
    if name in _TORCH_FUNC:
        raise missing("tape.func", name, _TORCH_FUNC, "torch.func")
    raise AttributeError(f"module 'tape.func' has no attribute '{name}'")


def _tree_map(fn: Callable, tree: Any) -> Any:
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(x) for x in leaves], spec)


# -- levels of differentiation ----------------------------------------------------------------------
# The stand-ins of the levels that returned (by id): no transform differentiates with respect to them
# any more, so a result that reaches only those has no history to keep.
_FINISHED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _inside(leaf: Tensor, mine: dict) -> bool:
    return id(leaf) in mine or _FINISHED.get(id(leaf)) is leaf


def _finish(mine: dict) -> None:
    _FINISHED.update({k: v for k, v in mine.items() if k != _DUAL})


def _reaches_outside(tensors, mine: dict) -> bool:
    """Whether the graph of ``tensors`` reaches a tensor requiring grad other than the leaves in
    ``mine`` (by id): then a result computed from them must keep its history."""
    todo = []
    for t in tensors:
        if not isinstance(t, Tensor) or not t._rg:
            continue
        if t._tape is None:
            if not _inside(t, mine):
                return True
        else:
            todo.append((t._tape, t._node))
    seen = set()
    while todo:
        tape, r = todo.pop()
        if (id(tape), r) in seen or not tape.rg[r]:
            continue
        seen.add((id(tape), r))
        code = int(tape.op[r])
        if code == OUTPUT:
            todo.append((tape, int(tape.a[r])))
        elif code in SOURCE:
            src = tape.src.get(r)
            if type(src) is tuple:
                todo.append(src)
            elif src is None or src() is not None and not _inside(src(), mine):
                # (a leaf from outside, or a row this walk does not know: keep history; a leaf gone
                # is no one's to differentiate with respect to)
                return True
        else:
            todo.extend((tape, x) for x in tape.inputs_of(r))
    return False


_DUAL = "dual"     # (in a level's ``mine``: a stand-in carries a tangent, so its results are recorded)


def _stand_in(x: Any, mine: dict) -> Tensor:
    """A differentiable stand-in for an input: a view of it when it requires grad already (the
    outer graph sees through), else a new leaf (with the input's tangent, in a forward level)."""
    if not isinstance(x, Tensor):
        raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")
    if x._rg:
        return x.view_as(x)
    if not (x.is_floating_point() or x.is_complex()):
        raise RuntimeError("only Tensors of floating point dtype can require gradients")
    leaf = x.detach().requires_grad_()
    mine[id(leaf)] = leaf
    tan = _dual.tangent(x) if _dual.TANGENTS else None
    if tan is None:
        return leaf
    mine[_DUAL] = True
    return _fwad.make_dual(leaf, tan)


def _keep(t: Tensor, mine: dict) -> bool:
    """Whether a result of a level keeps its history: it reaches outside the level, or carries a tangent."""
    return _reaches_outside((t,), mine) or bool(_dual.TANGENTS) and _dual.tangent(t) is not None


def _unwrap(tree: Any, mine: dict) -> Any:
    """Results handed out of a level: without history unless they must keep it (``_keep``)."""
    def one(t):
        if not isinstance(t, Tensor):
            raise RuntimeError(f"Expected tensors, got unsupported type {type(t)}")
        return t if not t._rg or _keep(t, mine) else t.detach()
    return _tree_map(one, tree)


def _check_argnum(argnum: Any, num_args: int) -> int:
    if not isinstance(argnum, int):
        raise RuntimeError(f"argnum must be int, got: {type(argnum)}")
    if 0 <= argnum < num_args:
        return argnum
    if -num_args <= argnum < 0:
        return argnum + num_args
    raise RuntimeError(f"Got argnum={argnum}, but only {num_args} positional inputs")


def _argnums(argnums: argnums_t, num_args: int) -> Union[int, tuple]:
    """``argnums`` checked and made non-negative (PyTorch's checks, in its order)."""
    if isinstance(argnums, tuple):
        if not argnums:
            raise RuntimeError("argnums must be non-empty")
        if len(set(argnums)) != len(argnums):
            raise RuntimeError(f"argnums elements must be unique, got {argnums}")
        return tuple(_check_argnum(a, num_args) for a in argnums)
    if not isinstance(argnums, int):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    return _check_argnum(argnums, num_args)


def _with_stand_ins(args: tuple, argnums: Union[int, tuple], mine: dict) -> tuple:
    """``(args with the differentiated ones replaced by stand-ins, the stand-ins' pytree)``."""
    args = list(args)
    picked = (argnums,) if isinstance(argnums, int) else argnums
    for i in picked:
        args[i] = _tree_map(lambda x: _stand_in(x, mine), args[i])
    diff = args[argnums] if isinstance(argnums, int) else tuple(args[i] for i in argnums)
    return tuple(args), diff


def _differentiate(outputs: list, inputs: list, cotangents: Optional[list], mine: dict,
                   retain_graph: bool = False, create_graph: Optional[bool] = None) -> list:
    """``autograd.grad`` of ``outputs`` with respect to ``inputs`` (zeros for an input they do not
    reach), recording the backward when the result must keep history (see the module's docstring)."""
    if not any(o._rg for o in outputs):
        return [_creation.zeros_like(x) for x in inputs]      # (nothing differentiable reached: zeros, as PyTorch's)
    if create_graph is None:
        create_graph = is_grad_enabled() and (_DUAL in mine or _reaches_outside(outputs, mine) or
                                              any(c._rg for c in cotangents or ()))
    with enable_grad():
        got = _autograd.grad(outputs, inputs, cotangents, retain_graph=retain_graph or create_graph,
                             create_graph=create_graph, allow_unused=True, materialize_grads=True)
    return [g if not create_graph or _keep(g, mine) else g.detach() for g in got]


# -- reverse mode ---------------------------------------------------------------------------------
def grad_and_value(func: Callable, argnums: argnums_t = 0, has_aux: bool = False) -> Callable:
    """A function that returns both the gradient of ``func`` and its value: ``(grads, value)``,
    or ``(grads, (value, aux))`` with ``has_aux``.

    ``func`` must return a 0-d tensor (with ``has_aux``, a pair ``(0-d tensor, aux)``); the gradients
    are taken with respect to the positional arguments ``argnums`` (an int, or a tuple of ints for a
    tuple of gradients), each a tensor or a pytree of tensors, which need not require grad.
    """
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        mine: dict = {}
        with enable_grad():
            args, diff = _with_stand_ins(args, _argnums(argnums, len(args)), mine)
            output = func(*args, **kwargs)
        aux = None
        if has_aux:
            if not (isinstance(output, tuple) and len(output) == 2):
                raise RuntimeError("grad_and_value(f)(*args): output of function f should be a tuple: (output, aux) "
                                   "if has_aux is True")
            output, aux = output
        if not isinstance(output, Tensor):
            raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got {type(output)}")
        if output.dim() != 0:
            raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got tensor "
                               f"with {output.dim()} dims. Maybe you wanted to use the vjp or jacrev APIs instead?")
        flat, spec = tree_flatten(diff)
        grads = tree_unflatten(_differentiate([output], flat, None, mine), spec)
        output = _unwrap(output, mine)
        _finish(mine)
        if has_aux:
            return grads, (output, _unwrap(aux, mine))
        return grads, output
    return wrapper


def grad(func: Callable, argnums: argnums_t = 0, has_aux: bool = False) -> Callable:
    """A function that returns the gradient of ``func`` with respect to its arguments ``argnums``
    (``(grads, aux)`` with ``has_aux``): :func:`grad_and_value` without the value.  Transforms
    nest: ``grad(grad(f))(x)`` is the second derivative of a scalar function ``f``.

    Example::

        >>> x = tape.tensor(0.5)
        >>> tape.func.grad(tape.sin)(x)             # cos(0.5)
        tensor(0.8776)
        >>> tape.func.grad(tape.func.grad(tape.sin))(x)   # -sin(0.5)
        tensor(-0.4794)
    """
    inner = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        grads, value = inner(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads
    return wrapper


def vjp(func: Callable, *primals: Any, has_aux: bool = False):
    """Evaluate ``func(*primals)`` and return ``(output, vjp_fn)``; ``vjp_fn(cotangents)`` gives
    the vector-Jacobian products (a tuple, one per primal), where ``cotangents`` has the structure
    and shapes of ``output``.  With ``has_aux``, ``func`` returns ``(output, aux)`` and so does this,
    ``(output, vjp_fn, aux)``.  ``vjp_fn`` can be called several times.
    """
    return _vjp(func, primals, None, has_aux)


def _vjp(func: Callable, primals: tuple, argnums: Optional[tuple], has_aux: bool):
    results, out_spec, flat_out, flat_diff, diff_spec, mine, aux = _vjp_parts(func, primals, argnums, has_aux)

    def vjp_fn(cotangents: Any, retain_graph: bool = True, create_graph: Optional[bool] = None):
        flat_ct, ct_spec = tree_flatten(cotangents)
        if ct_spec != out_spec:
            raise RuntimeError("Expected pytree structure of cotangents to be the same as pytree structure of outputs "
                               f"to the function. cotangents: {_pprint(ct_spec)}, primal output: {_pprint(out_spec)}")
        if create_graph is not None:
            create_graph = create_graph and is_grad_enabled()
        got = _differentiate(flat_out, flat_diff, flat_ct, mine, retain_graph=retain_graph, create_graph=create_graph)
        return tree_unflatten(got, diff_spec)

    if has_aux:
        return results, vjp_fn, aux
    return results, vjp_fn


def _vjp_parts(func: Callable, primals: tuple, argnums: Optional[tuple], has_aux: bool) -> tuple:
    """``func`` run on stand-ins: ``(results handed out, their spec, the outputs recorded, the
    stand-ins differentiated, their spec, the level's stand-ins, aux)``."""
    mine: dict = {}
    with enable_grad():
        if argnums is None:
            primals = _tree_map(lambda x: _stand_in(x, mine), primals)
            diff = primals
        else:
            primals, diff = _with_stand_ins(primals, argnums, mine)
        out = func(*primals)
    aux = None
    if has_aux:
        if not (isinstance(out, tuple) and len(out) == 2):
            raise RuntimeError("vjp(f, *primals): output of function f should be a tuple: (output, aux) "
                               "if has_aux is True")
        out, aux = out
        aux = _unwrap(aux, mine)
    flat_out, out_spec = tree_flatten(out)
    if not flat_out:
        raise RuntimeError(f"vjp(f, *primals): Expected f to be a function that has non-empty output (got output "
                           f"= {flat_out})")
    for o in flat_out:
        if not isinstance(o, Tensor):
            raise RuntimeError(f"vjp(f, *primals): expected f(*primals) to return only tensors, got unsupported type "
                               f"{type(o)}")
    for o in flat_out:
        if not (o.is_floating_point() or o.is_complex()):
            raise RuntimeError(f"vjp(f, ...): All outputs of f must be floating-point or complex Tensors, got Tensor "
                               f"with dtype {o.dtype}")
    flat_diff, diff_spec = tree_flatten(diff)
    results = _unwrap(out, mine)
    _finish(mine)
    return results, out_spec, flat_out, flat_diff, diff_spec, mine, aux


def _pprint(spec: TreeSpec) -> str:
    """``torch.utils._pytree.treespec_pprint``: the structure with ``*`` for leaves."""
    if spec.type is None:
        return "*"
    kids = [_pprint(c) for c in spec.children]
    if spec.type is dict:
        return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(spec.context, kids)) + "}"
    if spec.type is list:
        return "[" + ", ".join(kids) + "]"
    return "(" + ", ".join(kids) + ("," if len(kids) == 1 else "") + ")"


def jacrev(func: Callable, argnums: argnums_t = 0, *, has_aux: bool = False, chunk_size: Optional[int] = None,
           _preallocate_and_copy: bool = False) -> Callable:
    """A function that returns the Jacobian of ``func`` with respect to its arguments ``argnums``,
    computed in reverse mode (one vector-Jacobian product per output element, or in blocks of
    ``chunk_size``).  Each output's Jacobian has the output's shape followed by the argument's; a
    pytree of outputs or a tuple of ``argnums`` gives the same structure of Jacobians.  With
    ``has_aux``, ``func`` returns ``(output, aux)`` and the function returns ``(jacobian, aux)``.
    """
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")
    return _jacrev(func, argnums, has_aux, BLOCKED_ROWS)


# From this many rows on, a Jacobian without history comes from blocked sweeps: a small one (what a
# tutorial prints) from one backward per row, PyTorch's values to the sign of zero.
BLOCKED_ROWS = 64


def _jacrev(func: Callable, argnums: argnums_t, has_aux: bool, blocked_rows: int) -> Callable:
    @functools.wraps(func)
    def wrapper_fn(*args):
        nums = _argnums(argnums, len(args))
        _, out_spec, flat_out, flat_diff, diff_spec, mine, aux = _vjp_parts(func, args, nums, has_aux)
        jac = []
        blocked = sum(o.numel() for o in flat_out) >= blocked_rows
        for blocks in _jacobian(flat_out, flat_diff, mine, blocked):      # [output][primal]
            jac.append(tree_unflatten(blocks, diff_spec))      # (one argument may be a pytree too)
        result = tree_unflatten(jac, out_spec)
        return (result, aux) if has_aux else result
    return wrapper_fn


def _jacobian(flat_out: list, flat_diff: list, mine: dict, blocked: bool) -> list:
    """``jac[k][j]``, the Jacobian of output ``k`` with respect to stand-in ``j`` (shaped
    ``out.shape + input.shape``): when ``blocked`` and it keeps no history, by the blocked sweeps
    of ``autograd.functional.jacobian``; else one backward per output element (with the standard basis)."""
    if blocked and all(o._rg for o in flat_out) and not (_DUAL in mine or _reaches_outside(flat_out, mine)):
        with enable_grad():
            return [list(blocks) for blocks in _jacobian_rows(tuple(flat_out), tuple(flat_diff), False, False)]
    jac = []
    for k, o in enumerate(flat_out):
        rows: list = [[] for _ in flat_diff]
        for i in range(o.numel()):
            basis = [_creation.zeros_like(p) for p in flat_out]
            basis[k].view(-1)[i] = 1
            for acc, g in zip(rows, _differentiate(flat_out, flat_diff, basis, mine, retain_graph=True)):
                acc.append(g)
        jac.append([_stack(r, o.shape + p.shape, p) for r, p in zip(rows, flat_diff)])
    return jac


def _stack(parts: list, shape: tuple, like: Tensor) -> Tensor:
    """The Jacobian block of ``shape`` whose rows are ``parts`` (an empty output: zeros)."""
    if not parts:
        return _creation.zeros(shape, dtype=like.dtype)
    return _dual.current(stack)(parts).reshape(shape)


# -- forward mode ---------------------------------------------------------------------------------
def _jvp_checks(primals: Any, tangents: Any, name: str) -> tuple:
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{name}: Expected primals to be a tuple. E.g. it should be valid to call f(*primals).")
    flat_p, p_spec = tree_flatten(primals)
    flat_t, t_spec = tree_flatten(tangents)
    if p_spec != t_spec:
        raise RuntimeError(f"{name}: Expected primals and tangents to have the same python structure. For example, "
                           "if primals is a tuple of 3 tensors, tangents also must be. Got primals with structure "
                           f"{p_spec} and tangents with structure {t_spec}")
    for flat, what in ((flat_p, "primals"), (flat_t, "tangents")):
        if not flat:
            raise RuntimeError(f"{name}: Expected {what} to contain at least one Tensor.")
        for x in flat:
            if not isinstance(x, Tensor):
                raise RuntimeError(f"{name}: Expected {what} to only contain Tensors, got {type(x)}")
    return flat_p, p_spec, flat_t


def _one_jvp(func: Callable, primals: tuple, flat_p: list, p_spec: TreeSpec, flat_t: list, has_aux: bool,
             name: str, nested: bool, argnums: Optional[Union[int, tuple]] = None, strict: bool = False):
    """One jvp, ``(outputs, tangents, aux)``: with dual tensors in the level ``jvp`` or ``jacfwd``
    entered, or, inside a level an outer transform entered (forward mode has one level at a time),
    by reverse mode twice: ``J^T u`` is linear in the cotangent ``u``, and its vjp with the
    tangents is ``J t``."""
    mine: dict = {}
    with enable_grad():
        ins = [_stand_in(p, mine) for p in flat_p] if nested else \
            [_fwad.make_dual(p, t) for p, t in zip(flat_p, flat_t)]
        args = tree_unflatten(ins, p_spec)
        if argnums is not None:
            whole = list(primals)
            for k, i in enumerate((argnums,) if isinstance(argnums, int) else argnums):
                whole[i] = args if isinstance(argnums, int) else args[k]
            args = tuple(whole)
        out = _dual.current(func)(*args)
    aux = None
    if has_aux:
        if not (isinstance(out, tuple) and len(out) == 2):
            raise RuntimeError(f"{name}: output of function f should be a tuple: (output, aux) if has_aux is True")
        out, aux = out
        aux = _unwrap(aux, mine) if nested else _tree_map(_plain_primal, aux)
    flat_out, spec = tree_flatten(out)
    if not flat_out:
        raise RuntimeError(f"{name}: Expected f to be a function that has non-empty output (got output = {flat_out})")
    for o in flat_out:
        if not isinstance(o, Tensor):
            raise RuntimeError(f"{name}: expected f(*primals) to return only tensors, got unsupported type {type(o)}")
    if strict and any(not o._rg if nested else _fwad.unpack_dual(o).tangent is None for o in flat_out):
        raise RuntimeError("jvp(f, primals, tangents, strict=True): The output of f is independent of the inputs. "
                           "This is not allowed with strict=True.")
    if nested:
        tangents_out = _reverse_twice(flat_out, ins, flat_t, mine)
        primals_out = tree_flatten(_unwrap(flat_out, mine))[0]
        _finish(mine)
    else:
        primals_out, tangents_out = [], []
        for o in flat_out:
            p, t = _fwad.unpack_dual(o)
            primals_out.append(p)
            tangents_out.append(_creation.zeros_like(p) if t is None else t)
    return tree_unflatten(primals_out, spec), tree_unflatten(tangents_out, spec), aux


def _nested() -> bool:
    """Whether a forward level is active already (an outer jvp, jacfwd or hessian)."""
    return _fwad._current_level >= 0


def _reverse_twice(outs: list, ins: list, tangents: list, mine: dict) -> list:
    """``J t`` for the outputs ``outs`` of the stand-ins ``ins`` and their tangents, by reverse mode."""
    us = []
    for o in outs:
        u = _creation.zeros_like(o).requires_grad_()
        mine[id(u)] = u
        us.append(u)
    pairs = [(o, u) for o, u in zip(outs, us) if o._rg]
    with enable_grad():
        if pairs:
            gs = _autograd.grad([o for o, _ in pairs], ins, [u for _, u in pairs], create_graph=True,
                                allow_unused=True, materialize_grads=True)
            used = [(g, t) for g, t in zip(gs, tangents) if g._rg]
            if used:
                got = _autograd.grad([g for g, _ in used], us, [t for _, t in used], create_graph=True,
                                     allow_unused=True, materialize_grads=True)
                return [g if _keep(g, mine) else g.detach() for g in got]
    return [_creation.zeros_like(o) for o in outs]


def _fresh_level(nested: bool):
    """A forward level for a jvp, unless one is active (``nested``: ``_one_jvp`` uses reverse mode)."""
    return contextlib.nullcontext() if nested else _fwad.dual_level()


def _plain_primal(t: Any) -> Any:
    if not isinstance(t, Tensor):
        raise RuntimeError(f"Expected tensors, got unsupported type {type(t)}")
    return _fwad.unpack_dual(t).primal


def jvp(func: Callable, primals: Any, tangents: Any, *, strict: bool = False, has_aux: bool = False):
    """Evaluate ``func(*primals)`` and return ``(output, jvp_out)``, the product of ``func``'s
    Jacobian at ``primals`` with ``tangents`` (forward mode), ``tangents`` having the structure and
    shapes of ``primals``.  With ``has_aux``, ``func`` returns ``(output, aux)`` and so does this,
    ``(output, jvp_out, aux)``.
    """
    name = "jvp(f, primals, tangents)"
    flat_p, p_spec, flat_t = _jvp_checks(primals, tangents, name)
    nested = _nested()
    with _fresh_level(nested):
        got = _one_jvp(func, primals, flat_p, p_spec, flat_t, has_aux, name, nested, strict=strict)
    return _unwrap(got[:2], {}) + got[2:] if has_aux else _unwrap(got[:2], {})


def linearize(func: Callable, *primals: Any) -> tuple:
    """Evaluate ``func(*primals)`` and return ``(output, jvp_fn)``; ``jvp_fn(*tangents)`` is the
    Jacobian-vector product at ``primals`` (the function's linear approximation there), callable
    for many tangents.
    """
    flat_p, p_spec = tree_flatten(primals)
    out = func(*primals)

    def jvp_fn(*tangents):
        flat_t, t_spec = tree_flatten(tangents)
        if t_spec != p_spec:
            raise RuntimeError(f"Expected the tangents {t_spec} to have the same argspec as the primals {p_spec}")
        for i, (t, p) in enumerate(zip(flat_t, flat_p)):
            if t.shape != p.shape:
                raise RuntimeError(f"tangent:{i} with shape {t.shape} in flattened pytree doesn't match the shape "
                                   f"{p.shape} of the corresponding primal.")
            if t.dtype != p.dtype:
                raise RuntimeError(f"tangent:{i} with dtype {t.dtype} in flattened pytree doesn't match the dtype "
                                   f"{p.dtype} of the corresponding primal.")
        return jvp(func, primals, tangents)[1]
    return out, jvp_fn


def _basis(flat: list) -> list:
    """The standard basis of the flattened inputs: ``numel`` total vectors, each a list of tensors
    shaped as ``flat`` with a single one."""
    total = sum(p.numel() for p in flat)
    out = []
    for i in range(total):
        vecs = [_creation.zeros_like(p) for p in flat]
        k = 0
        while i >= flat[k].numel():
            i -= flat[k].numel()
            k += 1
        vecs[k].view(-1)[i] = 1
        out.append(vecs)
    return out


def jacfwd(func: Callable, argnums: argnums_t = 0, has_aux: bool = False, *, randomness: str = "error") -> Callable:
    """A function that returns the Jacobian of ``func`` with respect to its arguments ``argnums``,
    computed in forward mode (one Jacobian-vector product per input element); the result has the
    structure :func:`jacrev` gives.  ``randomness`` is :func:`vmap`'s, for random ops in ``func``.
    """
    _check_randomness(randomness)

    @functools.wraps(func)
    def wrapper_fn(*args):
        nums = _argnums(argnums, len(args))
        primals = args[nums] if isinstance(nums, int) else tuple(args[i] for i in nums)
        flat_p, p_spec = tree_flatten(primals)
        for p in flat_p:
            if not isinstance(p, Tensor):
                raise RuntimeError(f"jvp(f, primals, tangents): Expected primals to only contain Tensors, got {type(p)}")
        name = "jvp(f, primals, tangents)"
        cols, aux = [], None
        nested = _nested()
        with _fresh_level(nested), _Randomness(randomness) as rng:
            for basis in _basis(flat_p):
                rng.next_sample()
                _, t_out, aux = _one_jvp(func, args, flat_p, p_spec, basis, has_aux, name, nested, nums)
                cols.append(tree_flatten(t_out)[0])
            if not cols:    # (inputs without elements: the outputs' structure, from one plain call)
                _, t_out, aux = _one_jvp(func, args, flat_p, p_spec, [_creation.zeros_like(p) for p in flat_p],
                                         has_aux, name, nested, nums)
        flat_out, out_spec = tree_flatten(t_out)
        jac = []
        for k, o in enumerate(flat_out):
            whole = _dual.current(stack)([c[k] for c in cols], -1) if cols else \
                _creation.zeros(o.shape + (0,), dtype=o.dtype)
            blocks, start = [], 0
            for p in flat_p:
                blocks.append(whole[..., start:start + p.numel()].reshape(o.shape + p.shape))
                start += p.numel()
            jac.append(tree_unflatten(blocks, p_spec))
        result = _unwrap(tree_unflatten(jac, out_spec), {})
        return (result, aux) if has_aux else result
    return wrapper_fn


def hessian(func: Callable, argnums: argnums_t = 0) -> Callable:
    """A function that returns the Hessian of ``func`` (a scalar function) with respect to its
    arguments ``argnums``: the Jacobian of its gradient.

    PyTorch's is ``jacfwd(jacrev(func))`` (forward over reverse); tape's is that inside a forward
    level (a ``jvp`` or ``jacfwd`` around it), and otherwise ``jacrev(jacrev(func))``: one recorded
    backward, then the blocked reverse sweeps of the gradient (see ``autograd.functional.hessian``),
    the same values to rounding.  As in PyTorch's, a random op inside raises (vmap's randomness
    'error').
    """
    inner = jacrev(func, argnums)
    forward, reverse = jacfwd(inner, argnums), _jacrev(inner, argnums, False, 0)

    @functools.wraps(func)
    def wrapper_fn(*args):
        if _nested():
            return forward(*args)
        with _Randomness("error"):
            return reverse(*args)
    return wrapper_fn


# -- vmap -----------------------------------------------------------------------------------------
_RANDOM_ERROR = ("vmap: called random operation while in randomness error mode. Please either use the 'same' or "
                 "'different' randomness flags on vmap or perform the randomness operation out of vmap")


def _check_randomness(randomness: str) -> None:
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}")


class _Randomness:
    """The ``randomness`` of a vmap run as a loop: 'error' makes a random op raise PyTorch's error,
    'same' draws the same numbers for every sample (the generator set back before each), 'different'
    lets the samples draw one after another."""

    def __init__(self, randomness: str) -> None:
        self.mode = randomness
        self.start = None

    def __enter__(self) -> "_Randomness":
        _creation.enter_random_guard(_RANDOM_ERROR if self.mode == "error" else None)
        if self.mode == "same":
            self.start = _creation.rng_snapshot()
        return self

    def next_sample(self) -> None:
        if self.start is not None:
            _creation.rng_restore(self.start)

    def __exit__(self, *exc) -> None:
        _creation.exit_random_guard()


def _get_name(func: Callable) -> str:
    if hasattr(func, "__name__"):
        return func.__name__
    if isinstance(func, functools.partial):
        return f"functools.partial({_get_name(func.func)}, ...)"
    return repr(func)


def _check_out_dims(out_dims: Any, func: Callable) -> None:
    if isinstance(out_dims, int):
        return
    for d in tree_flatten(out_dims)[0]:
        if d is not None and not isinstance(d, int):
            raise ValueError(f"vmap({_get_name(func)}, ..., out_dims={out_dims}): `out_dims` must be an int, None or "
                             "a python collection of ints representing where in the outputs the vmapped dimension "
                             "should appear.")


def vmap(func: Callable, in_dims: Any = 0, out_dims: Any = 0, randomness: str = "error", *,
         chunk_size: Optional[int] = None) -> Callable:
    """A function that maps ``func`` over a dimension of its inputs: each input is taken apart
    along its ``in_dims`` entry (an int, or None for an input given whole to every call; a pytree
    of them matching the inputs), and each output is stacked along its ``out_dims`` entry.

    PyTorch vectorizes the ops ``func`` calls; tape calls ``func`` once per index of the mapped
    dimension (``chunk_size`` indices at a time make no difference here) and stacks the results:
    PyTorch's values, at the cost of a loop.  ``randomness``: 'error' (a random op inside raises),
    'different' (each sample draws its own numbers) or 'same' (every sample draws the same ones).
    """
    _check_randomness(randomness)
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        _check_out_dims(out_dims, func)
        name = _get_name(func)
        flat_args, flat_dims, args_spec = flat_inputs(name, in_dims, args, True)
        sizes = [a.size(d) for a, d in zip(flat_args, flat_dims) if d is not None]
        if not sizes:
            raise ValueError("vmap: Expected at least one Tensor to vmap over")
        if any(s != sizes[0] for s in sizes):
            raise ValueError("vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
                             f"{sizes} for the mapped dimension")
        outs = []
        _vmap_levels.append(threading.get_ident())
        try:
            with _Randomness(randomness) as rng:
                for b in range(sizes[0]):
                    rng.next_sample()
                    sample = [a if d is None else a.select(d, b) for a, d in zip(flat_args, flat_dims)]
                    outs.append(func(*tree_unflatten(sample, args_spec), **kwargs))
        finally:
            _vmap_levels.remove(threading.get_ident())
        return _stacked(outs, out_dims, func, name)
    return wrapped


def _stacked(outs: list, out_dims: Any, func: Callable, name: str) -> Any:
    """The per-sample results ``outs`` stacked along ``out_dims`` (PyTorch's checks)."""
    if not outs:
        raise ValueError(f"vmap({name}, ...): tape's vmap runs `{name}` once per sample and cannot tell the shape of "
                         "its outputs for an empty mapped dimension")
    flat_first, spec = tree_flatten(outs[0])

    def incompatible():
        return ValueError(f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is not compatible with the "
                          f"structure of `outputs`. out_dims has structure {tree_flatten(out_dims)[1]} but outputs has "
                          f"structure {spec}.")
    if isinstance(outs[0], Tensor):
        if isinstance(out_dims, int) or out_dims is None:
            flat_dims = [out_dims]
        elif isinstance(out_dims, tuple) and len(out_dims) == 1:
            flat_dims = list(out_dims)
        else:
            raise incompatible()
    else:
        flat_dims = _broadcast(out_dims, spec)
        if flat_dims is None:
            raise incompatible()
    flat_outs = [tree_flatten(o)[0] for o in outs]
    result = []
    for k, d in enumerate(flat_dims):
        column = [f[k] for f in flat_outs]
        if d is None:
            # (an output the samples do not change: PyTorch hands it out as it is; one that depends on
            # the mapped inputs would be a BatchedTensor there)
            if any(c is not column[0] and not (isinstance(c, Tensor) and isinstance(column[0], Tensor) and
                                               c.shape == column[0].shape and bool((c == column[0]).all()))
                   for c in column[1:]):
                raise ValueError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor when out_dim is None")
            result.append(column[0])
            continue
        for c in column:
            if not isinstance(c, Tensor):
                raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(c)}. Did you "
                                 "mean to set out_dims= to None for output?")
        result.append(_dual.current(stack)(column, d))
    return tree_unflatten(result, spec)
