"""Backwards on several Python threads at once (PyTorch's TestMultithreadAutograd): each thread
records on its own tape, and a leaf that their graphs share gets every thread's part in ``.grad``."""
from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import tape

N_THREADS = 8
BIG = 1 << 20       # numpy's in-place add lets go of the GIL on arrays this large


def _on_threads(work, n=N_THREADS) -> None:
    errors = []
    start = threading.Barrier(n)

    def run(i):
        try:
            work(i, start)
        except BaseException as e:      # (handed to the test's thread)
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a backward hung"
    if errors:
        raise errors[0]


@pytest.mark.parametrize("kind", ["own_graphs", "shared_graph", "create_graph"])
def test_backwards_on_several_threads_into_one_leaf_lose_no_part(kind):
    # (PyTorch's test_simple_backward_same_input / test_python_thread_in_middle, with leaves large
    # enough that an unguarded accumulation loses parts: ``.grad`` set twice from None, or two
    # in-place adds interleaved)
    for _ in range(2):
        x = tape.ones(BIG, requires_grad=True)
        shared = (x * 1).exp()

        def work(i, start):
            y = x * 2
            start.wait()
            if kind == "shared_graph":
                shared.sum().backward(retain_graph=True)
            elif kind == "create_graph":
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    y.sum().backward(create_graph=True)
            else:
                y.sum().backward()

        _on_threads(work)
        want = N_THREADS * (np.e if kind == "shared_graph" else 2.0)
        np.testing.assert_allclose(x.grad.detach().numpy()[[0, BIG // 2, -1]], want, rtol=1e-6)
        assert np.all(x.grad.detach().numpy() == x.grad.detach().numpy()[0])


def test_a_shared_graph_without_retain_graph_serves_one_backward_and_tells_the_others_why():
    # (PyTorch's test_python_thread_in_middle, case 1)
    x = tape.ones(5, 5, requires_grad=True)
    y = x + x ** 2
    outcomes = []

    def work(i, start):
        start.wait()
        try:
            (y + y ** 2).sum().backward()
            outcomes.append("ok")
        except RuntimeError as e:
            assert "Specify retain_graph=True" in str(e)
            outcomes.append("raised")

    _on_threads(work, n=5)
    assert outcomes.count("ok") >= 1 and len(outcomes) == 5
    # every backward that ran adds the whole gradient: d/dx (y + y^2) = (1 + 2y)(1 + 2x) = 5 * 3 at x = 1
    np.testing.assert_allclose(x.grad.numpy(), 15.0 * outcomes.count("ok"))


def test_the_first_ops_of_a_new_thread_are_recorded():
    # (a thread has no tape before its first recorded op: each front end's first op must start one)
    names = {}

    def run():
        x = tape.ones(3, requires_grad=True)
        ops = {"unary": lambda: x.exp(), "binary": lambda: x * x, "number": lambda: x * 2.0,
               "number_left": lambda: 1.0 - x, "matmul": lambda: x @ x, "reduce": lambda: x.sum()}
        for key, op in ops.items():
            names[key] = None
            t = threading.Thread(target=lambda: names.__setitem__(key, type(op().grad_fn).__name__))
            t.start()
            t.join()

    run()
    assert names == {"unary": "ExpBackward0", "binary": "MulBackward0", "number": "MulBackward0",
                     "number_left": "RsubBackward1", "matmul": "DotBackward0", "reduce": "SumBackward0"}
