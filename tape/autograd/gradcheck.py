r"""Gradient checking: compare the derivatives tape computes with finite differences.

:func:`gradcheck` checks first derivatives and :func:`gradgradcheck` second
derivatives of a function of tensors, with the semantics of
``torch.autograd.gradcheck``:

- the *numerical* Jacobian of every output with respect to every input that
  requires grad is computed by central differences, perturbing one element of
  one input at a time by ``eps`` (``fast_mode=True`` perturbs along a random
  direction instead);
- the *analytical* Jacobian is computed by reverse mode, one
  :func:`tape.autograd.grad` call per output element (the output's graph is
  recorded once and kept with ``retain_graph=True``);
- both are ``(input.numel(), output.numel())`` matrices, and they must satisfy
  ``|analytical - numerical| <= atol + rtol * |numerical|`` element-wise.

A failure raises :class:`GradcheckError` (a :class:`RuntimeError`) that names
the output and input and prints both Jacobians, or makes the check return
``False`` when ``raise_exception=False``.

As PyTorch's, the inputs are perturbed in place (through ``.data``: no version
change) and put back after each call, so a ``func`` that reads an input it
captured sees the perturbation too.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

from .._creation import rand, randn, zeros
from .._creation import tensor as _tensor
from .._tensor import Tensor
from .. import _dual
from .._C._functions import UndefinedGrad
from .._vmap_internals import _vmap
from ..ops.join import stack
from . import forward_ad
from ._backward import grad

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]

_TensorOrTensors = Tensor | Sequence[Tensor]
_TensorOrOptionalTensors = Tensor | Sequence[Tensor | None]


class GradcheckError(RuntimeError):
    r"""Error raised by :func:`gradcheck` and :func:`gradgradcheck`."""


# --- small helpers ----------------------------------------------------------------------
def _as_tuple(x) -> tuple:
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    return (x,)


def _needs_grad(x) -> bool:
    return isinstance(x, Tensor) and x.requires_grad


def _is_float_tensor(x) -> bool:
    return isinstance(x, Tensor) and x.dtype.is_floating_point


def _differentiable_outputs(x) -> tuple:
    return tuple(o for o in _as_tuple(x) if _needs_grad(o))


def _array(t: Tensor) -> np.ndarray:
    """A private numpy copy of ``t``'s value."""
    return np.array(t._value(), dtype=t.dtype.np, copy=True)


def _leaf(v: np.ndarray, like: Tensor, requires_grad: bool = False) -> Tensor:
    return _tensor(v, dtype=like.dtype, requires_grad=requires_grad)


def _show(v: np.ndarray, like: Tensor) -> Tensor:
    """A Jacobian as a tape tensor of ``like``'s dtype, for messages."""
    return _tensor(v, dtype=like.dtype)


def _allclose(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> bool:
    dt = np.promote_types(a.dtype, b.dtype)
    return bool(np.allclose(a.astype(dt), b.astype(dt), rtol=rtol, atol=atol))


def _check_inputs(tupled_inputs: tuple) -> None:
    any_input_requiring_grad = False
    for idx, inp in enumerate(tupled_inputs):
        if _needs_grad(inp):
            if inp.dtype.name != "float64":
                warnings.warn(
                    f"Input #{idx} requires gradient and "
                    "is not a double precision floating point or complex. "
                    "This check will likely fail if all the inputs are "
                    "not of double precision floating point or complex. ",
                    stacklevel=4,
                )
            # (a perturbed element would move every element sharing its memory)
            if not all(st > 0 or sz <= 1 for st, sz in zip(inp.stride(), inp.size())):
                raise RuntimeError(
                    f"The {idx}th input has a dimension with stride 0. gradcheck only "
                    "supports inputs that are non-overlapping to be able to "
                    "compute the numerical gradients correctly. You should call "
                    ".contiguous on the input before passing it to gradcheck."
                )
            any_input_requiring_grad = True
    if not any_input_requiring_grad:
        raise ValueError(
            "gradcheck expects at least one input tensor to require gradient, "
            "but none of them have requires_grad=True."
        )


def _check_same_dtype_and_shape(out1: np.ndarray, out2: np.ndarray, eps: float, idx=None) -> None:
    on_index = f"on index {idx} " if idx is not None else ""
    if out1.shape != out2.shape:
        raise AssertionError(
            f"Expected `func` to return outputs with the same shape"
            f" when inputs are perturbed {on_index}by {eps}, but got:"
            f" shapes {tuple(out1.shape)} and {tuple(out2.shape)}."
        )
    if out1.dtype != out2.dtype:
        raise AssertionError(
            f"Expected `func` to return outputs with the same dtype"
            f" when inputs are perturbed {on_index}by {eps}, but got:"
            f" dtypes {out1.dtype} and {out2.dtype}."
        )


def _notallclose_msg(analytical, numerical, output_idx: int, input_idx: int, mode: str = "") -> str:
    return (f"Jacobian {mode}mismatch for output {output_idx:d} with respect to input {input_idx:d},\n"
            f"numerical:{numerical}\nanalytical:{analytical}\n")


# --- numerical Jacobians ---------------------------------------------------------------------
class _Perturber:
    """Calls ``func`` with input ``idx`` perturbed in place."""

    def __init__(self, func: Callable, inputs: tuple, idx: int, float_out: list[int]):
        self.func = func
        self.inputs = inputs
        self.inp = inputs[idx]
        self.base = _array(self.inp)
        self.float_out = float_out

    def __call__(self, value: np.ndarray) -> list[np.ndarray]:
        # As PyTorch's, the input itself holds the perturbed value while ``func`` runs (a ``func``
        # that reads it where it captured it sees the perturbation), put back after the call.
        held = self.inp.data
        held.copy_(_leaf(value, self.inp))
        try:
            outs = _as_tuple(self.func(*self.inputs))
            res = []
            for k in self.float_out:
                o = outs[k]
                res.append(_array(o) if isinstance(o, Tensor) else np.array(o))
        finally:
            held.copy_(_leaf(self.base, self.inp))
        return res


def _central_difference(call: _Perturber, minus: np.ndarray, plus: np.ndarray, norm: float,
                        eps: float, idx=None) -> list[np.ndarray]:
    outa = call(minus)
    outb = call(plus)
    cols = []
    for a, b in zip(outa, outb):
        _check_same_dtype_and_shape(a, b, eps, idx)
        if a.dtype == np.bool_:
            a, b = a.astype(np.int64), b.astype(np.int64)
        cols.append(((b - a) / (2 * norm)).reshape(-1))
    return cols


def _numerical_jacobians(func: Callable, inputs: tuple, func_out: tuple, eps: float) -> list[dict]:
    """``[input k requiring grad][output o]``: the ``(input.numel(), output.numel())`` Jacobian of
    every floating-point output, by central differences."""
    float_out = [k for k, o in enumerate(func_out) if _is_float_tensor(o)]
    return [_numerical_jacobian_wrt(func, inputs, i, func_out, float_out, eps)
            for i, inp in enumerate(inputs) if _needs_grad(inp)]


def _numerical_jacobian_wrt(func: Callable, inputs: tuple, i: int, func_out: tuple, float_out: list[int],
                            eps: float) -> dict:
    """``{output o: Jacobian}`` of the outputs ``float_out`` with respect to input ``i``."""
    call = _Perturber(func, inputs, i, float_out)
    base = call.base
    n = base.size
    per_out = [np.zeros((n, func_out[k].numel()), dtype=func_out[k].dtype.np) for k in float_out]
    flat = base.reshape(-1)
    for e in range(n):
        orig = flat[e]
        minus = base.copy()
        minus.reshape(-1)[e] = orig - eps
        plus = base.copy()
        plus.reshape(-1)[e] = orig + eps
        idx = tuple(int(i) for i in np.unravel_index(e, base.shape)) if base.ndim else ()
        cols = _central_difference(call, minus, plus, eps, eps, idx)
        for jac, col in zip(per_out, cols):
            if col.size != jac.shape[1]:
                raise AssertionError(
                    f"Expected `func` to return outputs with the same shape when inputs are perturbed "
                    f"by {eps}, but an output has {col.size} elements instead of {jac.shape[1]}.")
            jac[e, :] = col
    return dict(zip(float_out, per_out))


def _deprecated(name: str) -> None:
    """PyTorch's warning for the private Jacobian functions it keeps for backward compatibility."""
    warnings.warn(f"`{name}` was part of PyTorch's private API and not meant to be exposed. We are deprecating it "
                  "and it will be removed in a future version of PyTorch. If you have a specific use for this or "
                  "feature request for this to be a stable API, please file us an issue at "
                  "https://github.com/pytorch/pytorch/issues/new", FutureWarning, stacklevel=3)


def get_numerical_jacobian(fn: Callable, inputs, target=None, eps: float = 1e-3, grad_out: float = 1.0) -> tuple:
    r"""Compute the numerical Jacobian of ``fn`` (restricted to its first output) with respect to
    each input requiring grad, or to each tensor of ``target`` requiring grad (which must be among
    ``inputs``).  ``fn`` takes the tuple ``inputs`` as its one argument.

    This is a deprecated API, kept for backward compatibility.
    """
    _deprecated("get_numerical_jacobian")
    if grad_out != 1.0:  # (kept in the signature for backward compatibility only)
        raise ValueError("Expected grad_out to be 1.0. get_numerical_jacobian no longer supports values of "
                         "grad_out != 1.0.")
    inputs = _as_tuple(inputs)

    def call(*inps):
        return fn(inps)

    func_out = _as_tuple(call(*inputs))
    float_out = [k for k, o in enumerate(func_out) if _is_float_tensor(o)]
    jacobians = []
    for t in (inputs if target is None else _as_tuple(target)):
        if not _needs_grad(t):
            continue
        where = [i for i, a in enumerate(inputs) if a is t]
        if not where:
            # (a target is perturbed as the input it is)
            raise ValueError("get_numerical_jacobian: every tensor of target must be one of the inputs")
        jac = _numerical_jacobian_wrt(call, inputs, where[0], func_out, float_out, eps)
        jacobians.append(_tensor(jac[float_out[0]]))
    return tuple(jacobians)


def get_analytical_jacobian(inputs, output: Tensor, nondet_tol: float = 0.0, grad_out: float = 1.0) -> tuple:
    r"""Compute the analytical Jacobian of ``output`` with respect to each tensor of ``inputs``
    requiring grad, twice: return ``(jacobians, reentrant, correct_grad_sizes,
    correct_grad_types)``, ``reentrant`` telling whether both computations agreed within
    ``nondet_tol``.

    This is a deprecated API, kept for backward compatibility.
    """
    _deprecated("get_analytical_jacobian")
    if grad_out != 1.0:  # (kept in the signature for backward compatibility only)
        raise ValueError("Expected grad_out to be 1.0. get_analytical_jacobian no longer supports values of "
                         "grad_out != 1.0.")
    diff_inputs = [t for t in _as_tuple(inputs) if _needs_grad(t)]
    seeds = _one_hot_seeds(output)
    runs, sizes_ok, types_ok = _vjp_columns_twice(output, diff_inputs, seeds)
    reentrant = all(a.size == 0 or np.abs(a - b).max() <= nondet_tol for a, b in zip(*runs))
    return tuple(_tensor(a) for a in runs[0]), reentrant, sizes_ok, types_ok


# --- analytical Jacobians --------------------------------------------------------------------
def _vjp_columns_twice(output: Tensor, diff_inputs: list[Tensor], seeds: list[np.ndarray]) -> tuple:
    """Two runs of ``[input k]``: the ``(input.numel(), len(seeds))`` matrix whose column ``j`` is the
    vector-Jacobian product of ``output`` with ``seeds[j]`` (twice, to check reentrancy), and whether
    every gradient had its input's size and dtype."""
    runs = tuple([np.zeros((t.numel(), len(seeds)), dtype=t.dtype.np) for t in diff_inputs] for _ in range(2))
    sizes_ok = types_ok = True
    for j, seed in enumerate(seeds):
        for jac in runs:
            grads = grad(output, diff_inputs, _leaf(seed, output), retain_graph=True, allow_unused=True)
            for k, (g, inp) in enumerate(zip(grads, diff_inputs)):
                if g is None:
                    continue
                if tuple(g.shape) != tuple(inp.shape):
                    sizes_ok = False
                    continue
                if g.dtype is not inp.dtype:
                    types_ok = False
                jac[k][:, j] = _array(g).reshape(-1)
    return runs, sizes_ok, types_ok


def _analytical_rows(output: Tensor, diff_inputs: list[Tensor], seeds: list[np.ndarray],
                     nondet_tol: float, check_grad_dtypes: bool) -> list[np.ndarray]:
    """``[input k]``: the ``(input.numel(), len(seeds))`` matrix whose column ``j`` is the vector-Jacobian
    product of ``output`` with ``seeds[j]``; every product is computed twice to check reentrancy."""
    (jac1, jac2), sizes_ok, types_ok = _vjp_columns_twice(output, diff_inputs, seeds)
    if not types_ok and check_grad_dtypes:
        raise GradcheckError("Gradient has dtype mismatch")
    if not sizes_ok:
        raise GradcheckError("Analytical gradient has incorrect size")
    for a, b in zip(jac1, jac2):
        if a.size and np.abs(a - b).max() > nondet_tol:
            raise GradcheckError(
                "Backward is not reentrant, i.e., running backward with "
                "same input and grad_output multiple times gives different values, "
                "although analytical gradient matches numerical gradient."
                f"The tolerance for nondeterminism was {nondet_tol}.")
    return jac1


def _one_hot_seeds(output: Tensor) -> list[np.ndarray]:
    seeds = []
    for j in range(output.numel()):
        s = np.zeros(tuple(output.shape), dtype=output.dtype.np)
        s.reshape(-1)[j] = 1
        seeds.append(s)
    return seeds


def _analytical_jacobian(diff_inputs: list[Tensor], output: Tensor, nondet_tol: float = float("inf"),
                         check_grad_dtypes: bool = False) -> list[np.ndarray]:
    return _analytical_rows(output, diff_inputs, _one_hot_seeds(output), nondet_tol, check_grad_dtypes)


# --- slow and fast checks ----------------------------------------------------------------------
def _check_no_differentiable_outputs(func, inputs, func_out, eps) -> bool:
    for per_out in _numerical_jacobians(func, inputs, func_out, eps):
        for jac in per_out.values():
            if np.count_nonzero(jac):
                raise GradcheckError("Numerical gradient for function expected to be zero")
    return True


def _slow_gradcheck(func, func_out, inputs, outputs, eps, rtol, atol, check_grad_dtypes, nondet_tol) -> bool:
    if not outputs:
        return _check_no_differentiable_outputs(func, inputs, func_out, eps)
    numerical = _numerical_jacobians(func, inputs, func_out, eps)
    out_pos = [k for k, o in enumerate(func_out) if _needs_grad(o)]
    diff_inputs = [t for t in inputs if _needs_grad(t)]
    for i, (o, pos) in enumerate(zip(outputs, out_pos)):
        analytical = _analytical_jacobian(diff_inputs, o, nondet_tol, check_grad_dtypes)
        for j, (a, n_per_out) in enumerate(zip(analytical, numerical)):
            n = n_per_out[pos]
            if not _allclose(a, n, rtol, atol):
                raise GradcheckError(_notallclose_msg(_show(a, diff_inputs[j]), _show(n, o), i, j))
    return True


def _unit_vector(t: Tensor, rng: np.random.Generator) -> np.ndarray:
    v = rng.random(t.numel()).astype(t.dtype.np)
    norm = np.linalg.norm(v)
    return v / norm if norm else v


def _fast_gradcheck(func, func_out, inputs, outputs, eps, rtol, atol, check_grad_dtypes, nondet_tol) -> bool:
    # Compare v^T J u, with J u by finite differences along u and v^T J by one backward.
    rng = np.random.default_rng(0)     # its own generator: the user's random state is left alone
    inp_idx = [i for i, t in enumerate(inputs) if _needs_grad(t)]
    diff_inputs = [inputs[i] for i in inp_idx]
    all_u = [_unit_vector(t, rng) for t in diff_inputs]
    all_v = [_unit_vector(o, rng) for o in outputs]
    out_pos = [k for k, o in enumerate(func_out) if _needs_grad(o)]
    float_out = [k for k, o in enumerate(func_out) if _is_float_tensor(o)]

    numerical = []                      # [input][output position] -> J u (flat)
    for i, u in zip(inp_idx, all_u):
        call = _Perturber(func, inputs, i, float_out)
        step = (u * eps).astype(call.base.dtype).reshape(call.base.shape)
        cols = _central_difference(call, call.base - step, call.base + step, eps, eps)
        numerical.append(dict(zip(float_out, cols)))
    if not outputs:
        for per_out in numerical:
            for ju in per_out.values():
                if ju.size and np.abs(ju).max() > nondet_tol:
                    raise GradcheckError("Numerical gradient for function expected to be zero")
        return True

    for j, (o, pos, v) in enumerate(zip(outputs, out_pos, all_v)):
        seed = v.reshape(tuple(o.shape))
        vjs = _analytical_rows(o, diff_inputs, [seed], nondet_tol, check_grad_dtypes)
        for i, (vj, u) in enumerate(zip(vjs, all_u)):
            a = np.dot(vj[:, 0], u.astype(vj.dtype))
            ju = numerical[i][pos]
            n = np.dot(v.astype(ju.dtype), ju)
            a, n = np.asarray(a), np.asarray(n)
            tol = atol * float(u.sum()) * float(v.sum())
            if not _allclose(a, n, rtol, tol):
                msg = _notallclose_msg(_show(a, diff_inputs[i]), _show(n, o), j, i)
                raise GradcheckError(msg + _slow_mode_report(func, inputs, func_out, i, j, pos, rtol, atol, eps))
    return True


def _slow_mode_report(func, inputs, func_out, input_idx, output_idx, pos, rtol, atol, eps) -> str:
    diff_inputs = [t for t in inputs if _needs_grad(t)]
    out = _differentiable_outputs(func_out)[output_idx]
    n = _numerical_jacobians(func, inputs, func_out, eps)[input_idx][pos]
    a = _analytical_jacobian(diff_inputs, out)[input_idx]
    max_diff = float(np.abs(n - a).max()) if n.size else 0.0
    msg = ("\nThe above quantities relating the numerical and analytical jacobians are computed \n"
           "in fast mode. Below, we recompute numerical and analytical jacobians in slow mode:\n\n"
           f"Numerical:\n {_show(n, out)}\n"
           f"Analytical:\n{_show(a, diff_inputs[input_idx])}\n\n"
           f"The max per-element difference (slow mode) is: {max_diff}.\n")
    if _allclose(a, n, rtol, atol):
        msg += ("\nFast gradcheck failed but element-wise differences are small. This means that the\n"
                "test might've passed in slow_mode! Call gradcheck/gradgradcheck with "
                "`fast_mode=False`.")
    return msg


# --- the checks that need only backward ----------------------------------------------------------
_FAILED_BATCHED_GRAD_MSG = (
    "gradcheck or gradgradcheck failed while testing batched gradient computation "
    "(autograd.grad with is_grads_batched=True). Call gradcheck/gradgradcheck with "
    "`check_batched_grad=False` to skip this test.")


def _test_batched_grad(diff_inputs: list[Tensor], output: Tensor, output_idx: int) -> bool:
    rng = np.random.default_rng(1)
    seeds = [rng.standard_normal(tuple(output.shape)).astype(output.dtype.np) for _ in range(2)]

    def vjp(seed):
        gs = grad(output, diff_inputs, _leaf(seed, output), retain_graph=True, allow_unused=True)
        return [np.zeros(tuple(t.shape), t.dtype.np) if g is None else _array(g) for g, t in zip(gs, diff_inputs)]

    expected = [np.stack(shards) for shards in zip(*[vjp(s) for s in seeds])]
    try:
        result = grad(output, diff_inputs, _leaf(np.stack(seeds), output), retain_graph=True,
                      allow_unused=True, is_grads_batched=True)
    except RuntimeError as ex:
        raise GradcheckError(f"While computing batched gradients, got: {ex}\n\n{_FAILED_BATCHED_GRAD_MSG}") from ex
    for input_idx, (res, exp, t) in enumerate(zip(result, expected, diff_inputs)):
        got = np.zeros_like(exp) if res is None else _array(res)
        if got.shape == exp.shape and np.allclose(got, exp):
            continue
        raise GradcheckError(f"For output {output_idx} and input {input_idx}:\n\n{_FAILED_BATCHED_GRAD_MSG}\n\n"
                             f"Got:\n{_show(got, t)}\n\nExpected:\n{_show(exp, t)}")
    return True


def _zero_seeds(outputs: Sequence[Tensor]) -> list[Tensor]:
    return [_leaf(np.zeros(tuple(o.shape), o.dtype.np), o) for o in outputs]


def _test_backward_mul_by_grad_output(outputs: tuple, inputs: tuple, masked: bool) -> bool:
    diff_inputs = [t for t in inputs if _needs_grad(t)]
    if not diff_inputs:
        raise GradcheckError("no Tensors requiring grad found in input")
    if not outputs:
        return True
    # retain_graph=True (PyTorch frees the graph here): a non-leaf input's own history must survive.
    grads = grad(outputs, diff_inputs, _zero_seeds(outputs), retain_graph=True, allow_unused=True)
    for gi, di in zip(grads, diff_inputs):
        if gi is None:
            continue
        g = _array(gi)
        if masked:
            if not np.allclose(g, 0):
                raise GradcheckError("backward not multiplied by grad_output")
        elif np.any(g != 0):
            raise GradcheckError("backward not multiplied by grad_output")
        if gi.dtype is not di.dtype:
            raise GradcheckError("grad is incorrect type")
        if tuple(gi.shape) != tuple(di.shape):
            raise GradcheckError("grad is incorrect size")
    return True


def _test_undefined_backward_mode(func: Callable, outputs: tuple, inputs: tuple) -> bool:
    """PyTorch's check that backward handles undefined output gradients: with every output's gradient
    undefined (``UndefinedGrad``), then, for several outputs, each one's in turn, the inputs' gradients
    must be None or zeros, and nothing on the way (a hook, a custom backward) may fail on them."""
    diff_inputs = [t for t in inputs if _needs_grad(t)]
    if not diff_inputs:
        raise GradcheckError("no Tensors requiring grad found in input")
    notes = 'Please look at "Notes about undefined output gradients" in "tools/autograd/derivatives.yaml"'

    def warn_bc_breaking():
        warnings.warn(
            "Backwards compatibility: New undefined gradient support checking "
            "feature is enabled by default, but it may break existing callers "
            "of this function. If this is true for you, you can call this "
            'function with "check_undefined_grad=False" to disable the feature',
            stacklevel=4,
        )

    def undefined(outs: list, which) -> list:
        return [UndefinedGrad()(o) if which is None or k == which else o for k, o in enumerate(outs)]

    cases = [None] + (list(range(len(outputs))) if len(outputs) > 1 else [])
    for which in cases:
        outs = undefined([o for o in _differentiable_outputs(func(*inputs)) if isinstance(o, Tensor)], which)
        if not outs:
            continue
        try:
            grads = grad(outs, diff_inputs, _zero_seeds(outs), allow_unused=True)
        except RuntimeError as e:
            warn_bc_breaking()
            raise GradcheckError(f"Expected backward function to handle undefined output grads. {notes}") from e
        for gi in grads:
            if gi is not None and np.any(_array(gi) != 0):
                warn_bc_breaking()
                raise GradcheckError("Expected all input grads to be undefined or zero when all output grads are "
                                     f"undefined or zero. {notes}")
    return True


# --- public API -----------------------------------------------------------------------------------
def gradcheck(
    func: Callable[..., _TensorOrTensors],
    inputs: _TensorOrTensors,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_batched_forward_grad: bool = False,
    check_forward_ad: bool = False,
    check_backward_ad: bool = True,
    fast_mode: bool = False,
    masked: bool | None = None,
) -> bool:
    r"""Check gradients computed via small finite differences against analytical
    gradients wrt tensors in :attr:`inputs` that are of floating point type and
    with ``requires_grad=True``.

    The check between numerical and analytical gradients uses the criterion of
    :func:`numpy.allclose`: ``|analytical - numerical| <= atol + rtol * |numerical|``.

    .. note::
        The default values are designed for :attr:`input` of double precision.
        This check will likely fail if :attr:`input` is of less precision, e.g.,
        ``tape.float32``.

    .. note::
        Gradcheck may fail when evaluated on non-differentiable points
        because the numerically computed gradients via finite differencing may differ
        those computed analytically (not necessarily because either is incorrect).

    .. note::
        The inputs are perturbed in place (through ``.data``, their versions
        unchanged) and put back after each evaluation of ``func``.

    Args:
        func (function): a Python function that takes Tensor inputs and returns
            a Tensor or a tuple of Tensors
        inputs (tuple of Tensor or Tensor): inputs to the function; arguments that
            are not tensors are passed through unchanged
        eps (float, optional): perturbation for finite differences
        atol (float, optional): absolute tolerance
        rtol (float, optional): relative tolerance
        raise_exception (bool, optional): indicating whether to raise an exception if
            the check fails. The exception gives more information about the
            exact nature of the failure. This is helpful when debugging gradchecks.
        nondet_tol (float, optional): tolerance for non-determinism. When running
            identical inputs through the differentiation, the results must either match
            exactly (default, 0.0) or be within this tolerance.
        check_undefined_grad (bool, optional): if ``True``, check that leaving the
            gradient of some outputs undefined is supported and treated as zeros (with
            ``check_forward_ad``, also an input's tangent: undefined gives what zeros give).
        check_grad_dtypes (bool, optional): if ``True``, check that the gradients have
            the dtypes of their inputs.
        check_batched_grad (bool, optional): if ``True``, check that
            ``autograd.grad(..., is_grads_batched=True)`` agrees with one call per
            gradient. Defaults to ``False``.
        check_batched_forward_grad (bool, optional): if ``True``, check that forward
            gradients computed for a batch of tangents with ``vmap`` agree with one
            forward pass per tangent. Defaults to ``False``.
        check_forward_ad (bool, optional): if ``True``, check that the gradients computed
            with forward mode AD (``tape.autograd.forward_ad``) match the numerical ones.
        check_backward_ad (bool, optional): if ``False``, do not perform any checks that
            rely on backward mode AD to be implemented. Defaults to ``True``.
        fast_mode (bool, optional): if ``True``, compare one random projection
            ``v^T J u`` of each Jacobian instead of the entire Jacobian (one pair of
            function evaluations per input and one backward per output).
        masked (bool, optional): accepted for compatibility (tape has no sparse
            tensors); if ``True``, the zero-gradient test allows rounding errors.

    Returns:
        ``True`` if all differences satisfy allclose condition

    Raises:
        GradcheckError: if a check fails and ``raise_exception`` is ``True``.
    """
    if not (check_forward_ad or check_backward_ad):
        raise AssertionError("Expected at least one of check_forward_ad or check_backward_ad to be True")
    if check_batched_grad and not check_backward_ad:
        raise AssertionError("Setting check_batched_grad=True requires check_backward_ad to be True")
    if check_batched_forward_grad and not check_forward_ad:
        raise AssertionError("Setting check_batched_forward_grad=True requires check_forward_ad to be True")
    try:
        if check_backward_ad:
            _gradcheck_helper(func, inputs, eps, atol, rtol, nondet_tol, check_undefined_grad,
                              check_grad_dtypes, check_batched_grad, fast_mode, bool(masked))
        if check_forward_ad:
            _forward_gradcheck(func, inputs, eps, atol, rtol)
            if check_undefined_grad:
                _undefined_tangents_check(func, _as_tuple(inputs))
        if check_batched_forward_grad:
            _test_batched_grad_forward_ad(func, _as_tuple(inputs))
        return True
    except GradcheckError:
        if raise_exception:
            raise
        return False


def _forward_jacobians(func: Callable, inputs: tuple, func_out: tuple) -> list:
    """``[j][i]``: the Jacobian of float output ``i`` with respect to input ``j`` (among those that
    require grad) by forward mode, one pass per input element, shaped as the numerical ones."""
    floats = [k for k, o in enumerate(func_out) if _is_float_tensor(o)]
    jacobians = []
    for j, x in enumerate(inputs):
        if not _needs_grad(x):
            continue
        per_out = [np.zeros((x.numel(), func_out[k].numel()), func_out[k].dtype.np) for k in floats]
        for e in range(x.numel()):
            with forward_ad.dual_level():
                duals = []
                for a in inputs:
                    if _needs_grad(a):
                        u = np.zeros(a._shape, a.dtype.np)
                        if a is x:
                            u.reshape(-1)[e] = 1
                        a = forward_ad.make_dual(a.detach(), _leaf(u, a))
                    duals.append(a)
                outs = _as_tuple(_dual.current(func)(*duals))
                for i, k in enumerate(floats):
                    t = forward_ad.unpack_dual(outs[k]).tangent
                    if t is not None:
                        per_out[i][e] = _array(t).reshape(-1)
        jacobians.append(per_out)
    return jacobians


def _forward_gradcheck(func: Callable, inputs, eps: float, atol: float, rtol: float) -> None:
    """PyTorch's ``check_forward_ad``: the Jacobians by forward mode against the numerical ones."""
    tupled_inputs = _as_tuple(inputs)
    _check_inputs(tupled_inputs)
    func_out = _as_tuple(func(*tupled_inputs))
    numerical = _numerical_jacobians(func, tupled_inputs, func_out, eps)
    floats = [k for k, o in enumerate(func_out) if _is_float_tensor(o)]
    diff_inputs = [t for t in tupled_inputs if _needs_grad(t)]
    for j, (per_out, n_per_out) in enumerate(zip(_forward_jacobians(func, tupled_inputs, func_out), numerical)):
        for i, (a, k) in enumerate(zip(per_out, floats)):
            n = n_per_out[k]
            if not _allclose(a, n, rtol, atol):
                raise GradcheckError(_notallclose_msg(_show(a, diff_inputs[j]), _show(n, func_out[k]), i, j,
                                                      "computed with forward mode "))


def _undefined_tangents_check(func: Callable, inputs: tuple) -> None:
    """PyTorch's check of undefined tangents: with the other inputs' tangents random, an input's zero
    tangent gives the outputs the tangents that input without one (a plain tensor) gives."""
    level_func = None
    with forward_ad.dual_level():
        level_func = _dual.current(func)
        duals = list(inputs)
        for i, a in enumerate(inputs):
            if _needs_grad(a):
                u = np.random.default_rng(i).uniform(-1.0, 1.0, a._shape)
                duals[i] = forward_ad.make_dual(a.detach(), _leaf(u.astype(a.dtype.np), a))
        for i, a in enumerate(inputs):
            if not _needs_grad(a):
                continue
            given = duals[i]
            duals[i] = forward_ad.make_dual(a.detach(), zeros(a._shape, dtype=a.dtype))
            zero_outs = [o for o in _as_tuple(level_func(*duals)) if _is_float_tensor(o)]
            duals[i] = a.detach()
            plain_outs = [o for o in _as_tuple(level_func(*duals)) if _is_float_tensor(o)]
            duals[i] = given
            for k, (o1, o2) in enumerate(zip(zero_outs, plain_outs)):
                t1 = forward_ad.unpack_dual(o1).tangent
                t2 = forward_ad.unpack_dual(o2).tangent
                if t1 is not None and t2 is not None and not np.allclose(_array(t1), _array(t2)):
                    raise GradcheckError(f"Mismatch in tangent values for output with index: {k} when input: {a} "
                                         f"has an undefined tangent value.  Got: {t1} but expected: {t2}")


_FAILED_BATCHED_GRAD_MSG_FWD_AD = (
    "gradcheck failed while testing batched gradient computation with forward-mode AD. "
    "Call gradcheck with `check_batched_forward_grad=False` to skip this test.")


def _test_batched_grad_forward_ad(func: Callable, inputs: tuple) -> bool:
    """PyTorch's batched forward-mode check: for each input that requires grad, the tangents of the
    outputs for two random tangents of it, by ``vmap`` over the pair and by one pass each, agree."""
    for input_idx, current_input in enumerate(inputs):
        if not _needs_grad(current_input):
            continue

        def jvp(tangent: Tensor, input_idx=input_idx, current_input=current_input) -> tuple:
            with forward_ad.dual_level():
                dual = forward_ad.make_dual(current_input.detach(), tangent)
                inputs_with_dual = tuple(dual if idx == input_idx else (inp.detach() if isinstance(inp, Tensor)
                                                                        else inp)
                                         for idx, inp in enumerate(inputs))
                ret = []
                for dual_output in _as_tuple(_dual.current(func)(*inputs_with_dual)):
                    if dual_output is None:
                        continue
                    primal_out, tangent_out = forward_ad.unpack_dual(dual_output)
                    ret.append(tangent_out if tangent_out is not None else
                               zeros([], dtype=primal_out.dtype).expand(primal_out.shape))
                return tuple(ret)

        if not current_input.dtype.is_floating_point:
            continue
        tangents = [randn(tuple(current_input.shape), dtype=current_input.dtype) for _ in range(2)]
        expected = [stack(shards) for shards in zip(*[jvp(t) for t in tangents])]
        try:
            result = _vmap(jvp)(stack(tangents))
        except RuntimeError as ex:
            raise GradcheckError(f"While computing batched gradients, got: {ex}\n\n{_FAILED_BATCHED_GRAD_MSG_FWD_AD}"
                                 ) from ex
        for output_idx, (res, exp) in enumerate(zip(result, expected)):
            if np.allclose(_array(res), _array(exp)):
                continue
            raise GradcheckError(f"For output {output_idx} and input {input_idx}:\n\n{_FAILED_BATCHED_GRAD_MSG_FWD_AD}"
                                 f"\n\nGot:\n{res}\n\nExpected:\n{exp}")
    return True


def _gradcheck_helper(func, inputs, eps, atol, rtol, nondet_tol, check_undefined_grad, check_grad_dtypes,
                      check_batched_grad, fast_mode, masked) -> bool:
    tupled_inputs = _as_tuple(inputs)
    _check_inputs(tupled_inputs)
    func_out = _as_tuple(func(*tupled_inputs))
    outputs = _differentiable_outputs(func_out)
    check = _fast_gradcheck if fast_mode else _slow_gradcheck
    check(func, func_out, tupled_inputs, outputs, eps, rtol, atol, check_grad_dtypes, nondet_tol)
    if check_batched_grad:
        diff_inputs = [t for t in tupled_inputs if _needs_grad(t)]
        for i, o in enumerate(outputs):
            _test_batched_grad(diff_inputs, o, i)
    _test_backward_mul_by_grad_output(outputs, tupled_inputs, masked)
    if check_undefined_grad:
        _test_undefined_backward_mode(func, outputs, tupled_inputs)
    return True


def _random_grad_outputs(func: Callable, tupled_inputs: tuple) -> tuple:
    """Random gradients for ``func``'s differentiable outputs: values in ``[-1, 1)`` of each output's
    shape and dtype, requiring grad (from tape's default generator, as ``torch.testing.make_tensor``)."""
    outputs = _differentiable_outputs(func(*tupled_inputs))
    return tuple((rand(tuple(o.shape), dtype=o.dtype if o.dtype.is_floating_point else None) * 2 - 1)
                 .detach().requires_grad_() for o in outputs)


def _vjp_function(func: Callable, tupled_inputs: tuple, tupled_grad_outputs: tuple) -> Callable:
    """``(*inputs, *grad_outputs) -> autograd.grad(func(*inputs), inputs, grad_outputs, create_graph=True)``
    over the inputs that require grad (the gradients that are not ``None``)."""
    num_outputs = len(tupled_grad_outputs)
    diff_input_args_indices = {i for i, x in enumerate(tupled_inputs) if _needs_grad(x)}
    diff_grad_output_indices = {i for i, x in enumerate(tupled_grad_outputs) if _needs_grad(x)}

    def _restore(x, flag: bool):
        return x.requires_grad_() if flag and not x.requires_grad else x

    def new_func(*args):
        split = len(args) - num_outputs
        input_args = tuple(_restore(x, i in diff_input_args_indices) for i, x in enumerate(args[:split]))
        # (in a dual level, the front end as it is there: ``func`` may be one, taken before the level began)
        outputs = _differentiable_outputs(_dual.current(func)(*input_args))
        gos = tuple(_restore(x, i in diff_grad_output_indices) for i, x in enumerate(args[split:]))
        diff_input_args = tuple(x for i, x in enumerate(input_args) if i in diff_input_args_indices)
        grad_inputs = grad(outputs, diff_input_args, gos, create_graph=True, allow_unused=True)
        return tuple(g for g in grad_inputs if g is not None)

    return new_func


def gradgradcheck(
    func: Callable[..., _TensorOrTensors],
    inputs: _TensorOrTensors,
    grad_outputs: _TensorOrOptionalTensors | None = None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    gen_non_contig_grad_outputs: bool = False,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_fwd_over_rev: bool = False,
    check_rev_over_rev: bool = True,
    fast_mode: bool = False,
    masked: bool = False,
) -> bool:
    r"""Check gradients of gradients computed via small finite differences
    against analytical gradients wrt tensors in :attr:`inputs` and
    :attr:`grad_outputs` that are of floating point type and with
    ``requires_grad=True``.

    This function checks that backpropagating through the gradients computed
    to the given :attr:`grad_outputs` are correct: it runs :func:`gradcheck` on
    the vector-Jacobian product ``(inputs, grad_outputs) -> autograd.grad(
    func(*inputs), inputs, grad_outputs, create_graph=True)``.

    .. note::
        The default values are designed for :attr:`input` and
        :attr:`grad_outputs` of double precision. This check will likely fail if
        they are of less precision, e.g., ``tape.float32``.

    Args:
        func (function): a Python function that takes Tensor inputs and returns
            a Tensor or a tuple of Tensors
        inputs (tuple of Tensor or Tensor): inputs to the function
        grad_outputs (tuple of Tensor or Tensor, optional): The gradients with
            respect to the function's outputs. By default, random tensors with
            values in ``[-1, 1)`` of the outputs' shapes and dtypes, requiring grad
            (drawn from tape's default generator, like ``torch.testing.make_tensor``).
        eps (float, optional): perturbation for finite differences
        atol (float, optional): absolute tolerance
        rtol (float, optional): relative tolerance
        gen_non_contig_grad_outputs (bool, optional): accepted for compatibility;
            tape tensors are always contiguous.
        raise_exception (bool, optional): indicating whether to raise an exception if
            the check fails. The exception gives more information about the
            exact nature of the failure. This is helpful when debugging gradchecks.
        nondet_tol (float, optional): tolerance for non-determinism. When running
            identical inputs through the differentiation, the results must either match
            exactly (default, 0.0) or be within this tolerance. Note that a small amount
            of nondeterminism in the gradient will lead to larger inaccuracies in
            the second derivative.
        check_undefined_grad (bool, optional): if True, check if undefined output grads
            are supported and treated as zeros
        check_grad_dtypes (bool, optional): if True, check that the gradients have the
            dtypes of their inputs
        check_batched_grad (bool, optional): if True, check batched gradients
            (``is_grads_batched=True``). Defaults to False.
        check_fwd_over_rev (bool, optional): if True, check the second derivatives computed
            by forward mode over reverse mode (the tangents of the recorded gradients).
        check_rev_over_rev (bool, optional): if True, check the second derivatives computed
            by reverse mode over reverse mode. Defaults to True.
        fast_mode (bool, optional): if True, run a faster implementation of gradgradcheck
            that no longer computes the entire jacobian.
        masked (bool, optional): accepted for compatibility (tape has no sparse tensors).

    Returns:
        True if all differences satisfy allclose condition
    """
    if not (check_fwd_over_rev or check_rev_over_rev):
        raise AssertionError("Expected at least one of check_fwd_over_rev or check_rev_over_rev to be True")
    if check_undefined_grad and not check_rev_over_rev:
        raise AssertionError("Setting check_undefined_grad=True requires check_rev_over_rev to be True")
    if check_batched_grad and not check_rev_over_rev:
        raise AssertionError("Setting check_batched_grad=True requires check_rev_over_rev to be True")
    tupled_inputs = _as_tuple(inputs)
    if grad_outputs is None:
        tupled_grad_outputs = _random_grad_outputs(func, tupled_inputs)
    else:
        tupled_grad_outputs = _as_tuple(grad_outputs)
    new_func = _vjp_function(func, tupled_inputs, tupled_grad_outputs)
    return gradcheck(
        new_func,
        tupled_inputs + tupled_grad_outputs,
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        nondet_tol=nondet_tol,
        check_undefined_grad=check_undefined_grad,
        check_grad_dtypes=check_grad_dtypes,
        check_batched_grad=check_batched_grad,
        fast_mode=fast_mode,
        check_forward_ad=check_fwd_over_rev,
        check_backward_ad=check_rev_over_rev,
        masked=masked,
    )
