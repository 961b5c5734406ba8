"""``autograd.grad(..., is_grads_batched=True)``: one vector-Jacobian product per row of each
grad_output, stacked; PyTorch's errors; and the checks built on it (gradcheck's batched check,
``jacobian(vectorize=True)``)."""
import numpy as np
import pytest

import tape


def _x(lib):
    return lib.tensor([1.0, 2.0, 3.0], requires_grad=True)


def test_rows_are_the_vector_jacobian_products():
    x = _x(tape)
    (g,) = tape.autograd.grad(x ** 2, x, tape.eye(3), is_grads_batched=True)
    assert np.array_equal(g.numpy(), np.diag([2.0, 4.0, 6.0]))
    assert g.grad_fn is None


def test_create_graph_gives_differentiable_rows():
    x = _x(tape)
    (g,) = tape.autograd.grad(x ** 3, x, tape.eye(3), is_grads_batched=True, create_graph=True)
    g.sum().backward()
    assert np.array_equal(x.grad.numpy(), [6.0, 12.0, 18.0])


def test_graph_freed_after_the_last_vector_unless_retained():
    x = _x(tape)
    y = x ** 2
    tape.autograd.grad(y, x, tape.ones(2, 3), is_grads_batched=True)
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        tape.autograd.grad(y, x, tape.ones(2, 3), is_grads_batched=True)
    y = x ** 2
    tape.autograd.grad(y, x, tape.ones(2, 3), is_grads_batched=True, retain_graph=True)
    tape.autograd.grad(y, x, tape.ones(2, 3), is_grads_batched=True)


def test_unused_inputs():
    x, z = _x(tape), tape.tensor([1.0, 2.0], requires_grad=True)
    g, gz = tape.autograd.grad(x * 2, [x, z], tape.ones(2, 3), is_grads_batched=True, allow_unused=True)
    assert g.shape == (2, 3) and gz is None
    _, gz = tape.autograd.grad(x * 2, [x, z], tape.ones(2, 3), is_grads_batched=True, materialize_grads=True)
    assert gz.shape == (2,)             # as PyTorch: no batch dim


def _outcome(lib, case):
    x = _x(lib)
    try:
        if case == "bad_shape":
            r = lib.autograd.grad(x ** 2, x, lib.ones(2, 2), is_grads_batched=True)
        elif case == "bad_shape3":
            r = lib.autograd.grad(x ** 2, x, lib.ones(5, 2, 3), is_grads_batched=True)
        elif case == "empty":
            r = lib.autograd.grad(x ** 2, x, lib.ones(0, 3), is_grads_batched=True)
        elif case == "implicit":
            r = lib.autograd.grad((x ** 2).sum(), x, None, is_grads_batched=True)
        elif case == "sizes":
            r = lib.autograd.grad([x * 2, x * 3], x, [lib.ones(2, 3), lib.ones(4, 3)], is_grads_batched=True)
        elif case == "two_outputs":
            r = lib.autograd.grad([x * 2, x * x], x, [lib.ones(2, 3), lib.ones(2, 3) * 2], is_grads_batched=True)
        elif case == "dtype":
            r = lib.autograd.grad(x ** 2, x, lib.ones(2, 3, dtype=lib.float64), is_grads_batched=True)
        return "ok", [t.detach().numpy().tolist() for t in r], [str(t.dtype) for t in r]
    except Exception as e:          # noqa: BLE001 (the error is what is compared)
        return type(e).__name__, str(e)


CASES = ["bad_shape", "bad_shape3", "empty", "implicit", "sizes", "two_outputs", "dtype"]


@pytest.mark.parametrize("case", CASES)
def test_errors_are_pytorchs(case):
    kind, *_ = _outcome(tape, case)
    assert kind == {"bad_shape": "RuntimeError", "bad_shape3": "RuntimeError", "empty": "IndexError",
                    "implicit": "ValueError", "sizes": "ValueError"}.get(case, "ok")


@pytest.mark.torch
@pytest.mark.parametrize("case", CASES)
def test_matches_torch(case):
    torch = pytest.importorskip("torch")
    assert _outcome(tape, case) == _outcome(torch, case)


def test_gradcheck_batched_checks_pass():
    x = tape.rand(3, dtype=tape.float64, requires_grad=True)
    assert tape.autograd.gradcheck(lambda a: a.sin() * a, x, check_batched_grad=True)
    assert tape.autograd.gradgradcheck(lambda a: a.sin() * a, x, check_batched_grad=True)
