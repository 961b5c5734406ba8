"""Compiled product rows that call the BLAS (``ops/_gemm.py``): adjoints, the compiled forward the
recorded backward and traces replay, an operand used twice, and the loops standing in for a BLAS."""
import ctypes

import numpy as np
import pytest

import tape
from tape.ops import _gemm
from tape.ops import linalg as L

rng = np.random.default_rng(3)
A = rng.standard_normal((20, 30))
B = rng.standard_normal((30, 40))
W = rng.uniform(0.5, 2.0, (20, 40))


def _rows(t):
    return {int(c) for c in t._tape.op[:t._tape.n]}


@pytest.mark.parametrize("dtype", [tape.float32, tape.float64])
def test_adjoints_of_a_blas_product_in_the_sweep(dtype):
    a, b = (tape.tensor(x, dtype=dtype, requires_grad=True) for x in (A, B))
    w = tape.tensor(W, dtype=dtype)
    y = a @ b
    assert L.MATMUL in _rows(y) and L.MATMUL_BLAS not in _rows(y)
    (y * w).sum().backward()
    tol = 1e-4 if dtype is tape.float32 else 1e-12
    np.testing.assert_allclose(y.detach().numpy(), A @ B, rtol=tol, atol=tol)
    np.testing.assert_allclose(a.grad.numpy(), W @ B.T, rtol=tol, atol=tol)
    np.testing.assert_allclose(b.grad.numpy(), A.T @ W, rtol=tol, atol=tol)


def test_an_operand_used_twice():
    m = rng.standard_normal((30, 30))
    w = rng.uniform(0.5, 2.0, (30, 30))
    x = tape.tensor(m, dtype=tape.float64, requires_grad=True)
    (x @ x * tape.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), w @ m.T + m.T @ w, rtol=1e-12, atol=1e-12)


def test_recorded_backward_and_second_order():
    # create_graph: the sweep records the adjoint products as compiled rows (their forward calls the BLAS)
    a, b = (tape.tensor(x, dtype=tape.float64, requires_grad=True) for x in (A, B))
    w = tape.tensor(W)
    ga, = tape.autograd.grad((a @ b * w).sum(), a, create_graph=True)
    np.testing.assert_allclose(ga.detach().numpy(), W @ B.T, rtol=1e-12, atol=1e-12)
    v = rng.standard_normal(A.shape)
    gb, = tape.autograd.grad((ga * tape.tensor(v)).sum(), b)      # d/dB <W @ B.T, V> = V.T @ W
    np.testing.assert_allclose(gb.numpy(), v.T @ W, rtol=1e-12, atol=1e-12)


def test_trace_replays_a_blas_product():
    w = tape.tensor(W)
    tr = tape.trace(lambda a, b: (a @ b * w).sum(), tape.tensor(A), tape.tensor(B))
    a2, b2 = A + 0.5, B - 0.25
    y, (ga, gb) = tr.value_and_grad(tape.tensor(a2), tape.tensor(b2), argnums=(0, 1))
    np.testing.assert_allclose(y.item(), (a2 @ b2 * W).sum(), rtol=1e-12)
    np.testing.assert_allclose(ga.numpy(), W @ b2.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gb.numpy(), a2.T @ W, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta, tb", [(False, False), (False, True), (True, False), (True, True)])
def test_loops_standing_in_for_a_blas(dtype, ta, tb):
    m, n, k = 3, 5, 4
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    c = rng.standard_normal((m, n)).astype(dtype)
    want = (a.T if ta else a) @ (b.T if tb else b) + 0.5 * c
    loops = _gemm._loops(dtype).ctypes
    pointer = ctypes.POINTER(ctypes.c_float if dtype == np.float32 else ctypes.c_double)
    loops(_gemm.ROW_MAJOR, _gemm.TRANS if ta else _gemm.NO_TRANS, _gemm.TRANS if tb else _gemm.NO_TRANS, m, n, k,
          1.0, a.ctypes.data_as(pointer), a.shape[1], b.ctypes.data_as(pointer), b.shape[1], 0.5,
          c.ctypes.data_as(pointer), n)
    np.testing.assert_allclose(c, want, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("m, k, n", [(0, 3, 4), (3, 0, 4), (3, 4, 0), (0, 3, 1), (3, 0, 1)])
def test_empty_products(m, k, n):
    a = tape.tensor(np.ones((m, k)), requires_grad=True)
    b = tape.tensor(np.ones((k, n)), requires_grad=True)
    y = a @ b
    np.testing.assert_array_equal(y.detach().numpy(), np.zeros((m, n)))
    tr = tape.trace(lambda a, b: a @ b, a.detach(), b.detach())
    np.testing.assert_array_equal(tr(tape.tensor(np.ones((m, k))), tape.tensor(np.ones((k, n)))).numpy(),
                                  np.zeros((m, n)))
    (y * 2).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.zeros((m, k)))
    np.testing.assert_array_equal(b.grad.numpy(), np.zeros((k, n)))
