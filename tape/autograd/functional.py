"""``tape.autograd.functional``: Jacobians, Hessians and their products with vectors.

Signatures, return structures and ``strict`` errors are PyTorch's.  A Jacobian
(and so a Hessian) does not run one Python-level backward per output element:
when the graph lives on one tape, blocked sweeps carry many seeds through each
sweep of it (``tape._blocked.jacobian_block``; with ``strict=True``, one
compiled sweep per seed, ``tape._engine.jacobian_block``).  ``jvp`` uses the double-backward trick, as
PyTorch does; ``vectorize`` and ``strategy`` are accepted and give the same
values (the block sweep is already batched).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .. import _blocked, _engine
from .._grad_mode import enable_grad, is_grad_enabled, set_grad_enabled
from .._tensor import Tensor, _plain
from ..ops.join import stack
from .. import _dual
from . import forward_ad
from ._backward import grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _construct_standard_basis_for(tensors: tuple, tensor_numels: tuple) -> tuple:
    """The N x N identity matrix (N the sum of ``tensor_numels``) split into column chunks, one per
    tensor, of its dtype: the directions a Jacobian is computed along."""
    if len(tensors) != len(tensor_numels):
        raise AssertionError(f"Expected tensors and tensor_numels to have the same length, but got {len(tensors)} "
                             f"and {len(tensor_numels)}")
    if len(tensors) == 0:
        raise AssertionError("Expected at least one tensor")
    total = sum(tensor_numels)
    chunks = tuple(t.new_zeros(total, n) for t, n in zip(tensors, tensor_numels))
    start = 0
    for chunk, n in zip(chunks, tensor_numels):
        chunk.diagonal(start).fill_(1)
        start -= n
    return chunks


def _as_tuple(x, arg_name: str, fn_name: str):
    is_tuple = isinstance(x, tuple)
    items = x if is_tuple else (x,)
    for i, el in enumerate(items):
        if not isinstance(el, Tensor):
            where = f"value at index {i}" if is_tuple else f"given {arg_name}"
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors "
                            f"but the {where} has type {type(el)}.")
    return is_tuple, items


def _unpack(res, keep):
    """Undo ``_as_tuple``: ``keep`` is one flag, or (outer, inner) flags for nested results."""
    if isinstance(keep, tuple):
        outer, inner = keep
        if not inner:
            res = tuple(el[0] for el in res)
        if not outer:
            res = res[0]
        return res
    return res if keep else res[0]


def _fresh(inputs: tuple, create_graph: bool, need_graph: bool) -> tuple:
    """New tensor objects for the inputs, so that the function's own captures are told apart."""
    out = []
    for t in inputs:
        if create_graph and t.requires_grad:
            out.append(t.view_as(t))
        else:
            out.append(t.detach().requires_grad_(need_graph))
    return tuple(out)


def _finish(ts, create_graph: bool):
    if ts and isinstance(ts[0], Tensor):
        return ts if create_graph else tuple(t.detach() for t in ts)
    return tuple(_finish(t, create_graph) for t in ts)


_V_NONE_FOR_INPUTS = ("The vector v can only be None if the input to the user-provided function is a single "
                      "Tensor with a single element.")
_V_NONE_FOR_OUTPUTS = ("The vector v can only be None if the user-provided function returns a single Tensor "
                       "with a single element.")


def _vector(v, like: tuple, like_is_tuple: bool, create_graph: bool, name: str, none_message: str):
    """``v`` as a checked tuple shaped like ``like``; None only when ``like`` is one element."""
    if v is None:
        if len(like) != 1 or like[0].numel() != 1:
            raise RuntimeError(none_message)
        return None
    _, v = _as_tuple(v, "v", name)
    v = _fresh(v, create_graph, False)
    _check_v(v, like, like_is_tuple)
    return v


def _check_v(v: tuple, like: tuple, like_is_tuple: bool) -> None:
    if len(v) != len(like):
        if like_is_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(like)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (a, b) in enumerate(zip(v, like)):
        if a.shape != b.shape:
            where = f"Entry {i} in " if like_is_tuple else ""
            raise RuntimeError(f"{where}v has invalid size: should be {b.size()} but got {a.size()}.")


_NOT_DIFFERENTIABLE = {
    "hessian": ("The hessian of the user-provided function with respect to input {i} is independent of the "
                "input. This is not allowed in strict mode. You should ensure that your function is thrice "
                "differentiable and that the hessian depends on the inputs."),
    "jacobian": ("While computing the hessian, found that the jacobian of the user-provided function with "
                 "respect to input {i} is independent of the input. This is not allowed in strict mode. You "
                 "should ensure that your function is twice differentiable and that the jacobian depends on "
                 "the inputs (this would be violated by a linear function for example)."),
    "grad_inputs": ("The gradient with respect to input {i} is independent of the inputs of the "
                    "user-provided function. This is not allowed in strict mode."),
    "outputs": ("Output {i} of the user-provided function does not require gradients. The outputs must be "
                "computed in a differentiable manner from the input when running in strict mode."),
}


def _check_requires_grad(ts, kind: str, strict: bool) -> None:
    if not strict:
        return
    for i, t in enumerate(ts):
        if t is None:
            raise RuntimeError(f"The output of the user-provided function is independent of input {i}. "
                               "This is not allowed in strict mode.")
        if not t.requires_grad:
            raise RuntimeError(_NOT_DIFFERENTIABLE[kind].format(i=i))


def _grad(outputs: tuple, inputs: tuple, grad_outputs=None, create_graph: bool = False,
          retain_graph=None) -> tuple:
    """``autograd.grad`` that skips outputs which do not require grad (None for unused inputs)."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return grad(tuple(o for o, _ in pairs), inputs, tuple(g for _, g in pairs), allow_unused=True,
                create_graph=create_graph, retain_graph=retain_graph)


_INDEPENDENT = {
    "back": "The output of the user-provided function is independent of input {i}. This is not allowed in "
            "strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the grad_outputs when "
                  "using the double backward trick to compute forward mode gradients. This is not allowed in "
                  "strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. This is not "
                   "allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry {i} in the "
                         "grad_jacobian. This is not allowed in strict mode as it prevents from using the "
                         "double backward trick to replace forward mode AD.",
}


def _zeros_for_none(grads: tuple, refs: tuple, strict: bool, create_graph: bool, stage: str) -> tuple:
    out = []
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                raise RuntimeError(_INDEPENDENT[stage].format(i=i))
            g = _zeros_like(refs[i])
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of input {i}. This "
                               "is not allowed in strict mode when create_graph=True.")
        out.append(g)
    return tuple(out)


def _zeros_like(t: Tensor) -> Tensor:
    return _plain(np.zeros(t._shape, t._dtype.np), t._dtype)


def vjp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    r"""Compute the dot product between a vector ``v`` and the Jacobian of ``func`` at ``inputs``.

    Returns ``(func_output, vjp)``; ``vjp`` has the structure and shapes of ``inputs``.
    ``v`` may be omitted only when ``func`` returns a single one-element tensor.
    """
    with enable_grad():
        inputs_is_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _fresh(inputs, create_graph, True)
        outputs = func(*inputs)
        outputs_is_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", "vjp")
        _check_requires_grad(outputs, "outputs", strict)
        v = _vector(v, outputs, outputs_is_tuple, create_graph, "vjp", _V_NONE_FOR_OUTPUTS)
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        res = _zeros_for_none(_grad(outputs, inputs, v, create_graph), inputs, strict, create_graph, "back")
    return (_unpack(_finish(outputs, create_graph), outputs_is_tuple),
            _unpack(_finish(res, create_graph), inputs_is_tuple))


def jvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    r"""Compute the dot product between the Jacobian of ``func`` at ``inputs`` and a vector ``v``.

    Returns ``(func_output, jvp)``; ``jvp`` has the structure and shapes of the
    outputs.  Computed with the double-backward trick.  ``v`` may be omitted only
    when the input is a single one-element tensor.
    """
    with enable_grad():
        inputs_is_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _fresh(inputs, create_graph, True)
        v = _vector(v, inputs, inputs_is_tuple, create_graph, "jvp", _V_NONE_FOR_INPUTS)
        outputs = func(*inputs)
        outputs_is_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", "jvp")
        _check_requires_grad(outputs, "outputs", strict)
        dummies = tuple(_zeros_like(o).requires_grad_(True) for o in outputs)
        grad_inputs = _grad(outputs, inputs, dummies, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict)
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        res = _grad(grad_inputs, dummies, v, create_graph=create_graph)
        res = _zeros_for_none(res, outputs, strict, create_graph, "back_trick")
    return (_unpack(_finish(outputs, create_graph), outputs_is_tuple),
            _unpack(_finish(res, create_graph), outputs_is_tuple))


def _jacobian_rows(outputs: tuple, inputs: tuple, create_graph: bool, strict: bool) -> list:
    """``jac[i][j]``, the Jacobian of output ``i`` w.r.t. input ``j``, shaped out_i.shape + in_j.shape."""
    if not create_graph:
        # (strict needs each output element's own reach: one sweep per element)
        block = (_engine.jacobian_block if strict else _blocked.jacobian_block)(outputs, inputs)
        if block is not None:
            return _split_block(*block, outputs, inputs, strict)
    jac = []
    for i, out in enumerate(outputs):
        rows = [[] for _ in inputs]
        flat = out.reshape(-1)
        for e in range(out.numel()):
            vj = _grad((flat[e],), inputs, retain_graph=True, create_graph=create_graph)
            for j, (g, inp) in enumerate(zip(vj, inputs)):
                if g is None:
                    if strict:
                        raise RuntimeError(f"Output {i} of the user-provided function is independent of input "
                                           f"{j}. This is not allowed in strict mode.")
                    g = _zeros_like(inp)
                elif strict and create_graph and not g.requires_grad:
                    raise RuntimeError(f"The jacobian of the user-provided function is independent of input {i}. "
                                       "This is not allowed in strict mode when create_graph=True.")
                rows[j].append(g)
        jac.append(tuple(_stack(r, out, inp) for r, inp in zip(rows, inputs)))
    return jac


def _stack(rows: list, out: Tensor, inp: Tensor) -> Tensor:
    """Rows of a Jacobian block stacked into shape out.shape + inp.shape, differentiably."""
    shape = tuple(out.shape) + tuple(inp.shape)
    if not rows:
        return _plain(np.zeros(shape, inp.dtype.np), inp.dtype)
    if not any(r.requires_grad for r in rows):
        return _plain(np.stack([r.numpy() for r in rows]).reshape(shape), inp.dtype)
    # (stacked, as PyTorch stacks them: a sum of rows placed in zeros would turn their -0.0 into +0.0)
    return stack(rows).view(shape)


def _split_block(J: np.ndarray, used: list, reached: np.ndarray, outputs: tuple, inputs: tuple,
                 strict: bool) -> list:
    jac = []
    row = 0
    for i, out in enumerate(outputs):
        m = out.numel()
        col = 0
        found = 0
        blocks = []
        for j, inp in enumerate(inputs):
            n = inp.numel()
            depends = used[j] and bool(reached[row:row + m, found].any())
            if used[j]:
                found += 1
            if not depends:
                if strict:
                    raise RuntimeError(f"Output {i} of the user-provided function is independent of input {j}. "
                                       "This is not allowed in strict mode.")
                part = np.zeros((m, n))
            else:
                part = J[row:row + m, col:col + n]
            if used[j]:
                col += n
            shape = tuple(out.shape) + tuple(inp.shape)
            blocks.append(_plain(np.array(part, inp.dtype.np).reshape(shape), inp.dtype))
        jac.append(tuple(blocks))
        row += m
    return jac


def jacobian(func: Callable, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode"):
    r"""Compute the Jacobian of ``func`` at ``inputs``.

    For one input and one output the result is a tensor of shape
    ``output.shape + input.shape``; with tuples, ``Jacobian[i][j]`` is output
    ``i`` w.r.t. input ``j``.
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
                             'function has more outputs than inputs, "forward-mode" tends to be more performant. '
                             'Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        _forward_mode_refusals(create_graph, strict, vectorize)
        return _jacfwd(func, inputs)
    with enable_grad():
        inputs_is_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _fresh(inputs, create_graph, True)
        outputs = func(*inputs)
        outputs_is_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", "jacobian")
        _check_requires_grad(outputs, "outputs", strict)
        # (PyTorch refuses this pair only once func has run and its outputs passed the strict check)
        if vectorize and strict:
            raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are not "
                               "supported together. Please either set `strict=False` or `vectorize=False`.")
        jac = _jacobian_rows(outputs, inputs, create_graph, strict)
    return _unpack(_finish(tuple(jac), create_graph), (outputs_is_tuple, inputs_is_tuple))


def _forward_mode_refusals(create_graph: bool, strict: bool, vectorize: bool) -> None:
    """PyTorch's errors for the arguments forward mode does not take, in its order."""
    if create_graph:
        raise NotImplementedError("torch.autograd.functional.jacobian: `create_graph=True` and "
                                  '`strategy="forward-mode"` are not supported together (yet). Please either set '
                                  '`create_graph=False` or `strategy="reverse-mode"`.')
    if strict:
        raise RuntimeError('torch.autograd.functional.jacobian: `strict=True` and `strategy="forward-mode"` are not '
                           'supported together (yet). Please either set `strict=False` or '
                           '`strategy="reverse-mode"`.')
    if not vectorize:
        raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-reverse Hessian is"
                                  "only implemented for `vectorize=True`.")


def _jacfwd(func: Callable, inputs):
    """The Jacobian by forward mode: one pass of ``func`` on dual tensors per input element
    (PyTorch's ``vmap`` batches these passes; tape runs them one after another)."""
    inputs_is_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    columns = []
    outputs_is_tuple, primals = False, ()
    for j, x in enumerate(inputs):
        for k in range(x.numel()):
            with forward_ad.dual_level():
                basis = np.zeros(x._shape, x._dtype.np)
                basis.reshape(-1)[k] = 1
                duals = tuple(forward_ad.make_dual(a, _plain(basis, a._dtype) if i == j else a.new_zeros(a._shape))
                              for i, a in enumerate(inputs))
                outputs_is_tuple, outs = _as_tuple(_dual.current(func)(*duals), "outputs", "jacobian")
                unpacked = [forward_ad.unpack_dual(o) for o in outs]
                primals = tuple(p for p, _ in unpacked)
                columns.append(tuple(p.new_zeros(p._shape) if t is None else t for p, t in unpacked))
    jac = []
    for i, out in enumerate(primals):
        row = []
        start = 0
        for x in inputs:
            part = [columns[start + k][i] for k in range(x.numel())]
            start += x.numel()
            stacked = stack(part, -1) if part else out.new_zeros((*out._shape, 0))
            row.append(stacked.reshape((*out._shape, *x._shape)))
        jac.append(tuple(row))
    return _unpack(tuple(jac), (outputs_is_tuple, inputs_is_tuple))


def _scalar_output(func: Callable, inputs: tuple, name: str, strict: bool) -> Tensor:
    out = func(*inputs)
    is_tuple, out = _as_tuple(out, "outputs of the user-provided function", name)
    _check_requires_grad(out, "outputs", strict)
    if is_tuple or not isinstance(out[0], Tensor):
        raise RuntimeError(f"The function given to {name} should return a single Tensor")
    if out[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {name} should contain a single element")
    return out[0].squeeze()


def hessian(func: Callable, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode"):
    r"""Compute the Hessian of the scalar function ``func`` at ``inputs``.

    For one input the result has shape ``input.shape + input.shape``; with a
    tuple, ``Hessian[i][j]`` is the block for inputs ``i`` and ``j``.
    """
    inputs_is_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def gradient(*inp):
        out = _scalar_output(func, inp, "hessian", strict)
        g = _grad((out,), inp, create_graph=True)
        # (PyTorch's inner jacobian is not strict: an input the output ignores gets zeros, refused below)
        g = _zeros_for_none(g, inp, False, create_graph, "double_back")
        _check_requires_grad(g, "jacobian", strict)
        return g

    if outer_jacobian_strategy == "forward-mode":
        # forward over reverse: the gradient, recorded on dual inputs, carries H e_k as its tangent
        _forward_mode_refusals(create_graph, strict, vectorize)

        def dual_gradient(*inp):
            return gradient(*(t.requires_grad_(True) for t in inp))
        res = _jacfwd(dual_gradient, inputs)
    else:
        res = jacobian(gradient, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize)
    return _unpack(res, (inputs_is_tuple, inputs_is_tuple))


def _hessian_product(func, inputs, v, create_graph: bool, strict: bool, name: str, transpose: bool):
    with enable_grad():
        inputs_is_tuple, inputs = _as_tuple(inputs, "inputs", name)
        inputs = _fresh(inputs, create_graph, True)
        v = _vector(v, inputs, inputs_is_tuple, create_graph, name, _V_NONE_FOR_INPUTS)
        out = func(*inputs)
        outputs_is_tuple, outputs = _as_tuple(out, "outputs of the user-provided function", name)
        _check_requires_grad(outputs, "outputs", strict)
        if outputs_is_tuple or not isinstance(outputs[0], Tensor):
            raise RuntimeError(f"The function given to {name} should return a single Tensor")
        if outputs[0].numel() != 1:
            raise RuntimeError(f"The Tensor returned by the function given to {name} should contain a single "
                               "element")
        jac = _grad(outputs, inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        if transpose:
            # H v through the double-backward trick: differentiate (jac . u) w.r.t. u, then w.r.t. inputs.
            dummies = tuple(_zeros_like(x).requires_grad_(True) for x in inputs)
            double = _grad(jac, inputs, dummies, create_graph=True)
            _check_requires_grad(jac, "hessian", strict)
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        if transpose:
            res = _grad(double, dummies, v, create_graph=create_graph)
            res = _zeros_for_none(res, inputs, strict, create_graph, "double_back_trick")
        else:
            res = _grad(jac, inputs, v, create_graph=create_graph)
            res = _zeros_for_none(res, inputs, strict, create_graph, "double_back")
    return (_unpack(_finish(outputs, create_graph), outputs_is_tuple),
            _unpack(_finish(res, create_graph), inputs_is_tuple))


def vhp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    r"""Compute the dot product between ``v`` and the Hessian of the scalar function ``func`` at ``inputs``.

    Returns ``(func_output, vhp)``, ``vhp`` shaped like ``inputs``.
    """
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp", transpose=False)


def hvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    r"""Compute the dot product between the Hessian of the scalar function ``func`` at ``inputs`` and ``v``.

    Returns ``(func_output, hvp)``, ``hvp`` shaped like ``inputs``.
    """
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp", transpose=True)
