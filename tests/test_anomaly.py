"""Anomaly mode: ``detect_anomaly``/``set_detect_anomaly``, the nan check after each backward row,
and the warning with the traceback of the forward call that recorded the failing node."""
from __future__ import annotations

import re
import warnings

import pytest

import tape


@pytest.fixture(autouse=True)
def _anomaly_off():
    yield
    tape.set_anomaly_enabled(False)


def _nan_backward(lib, create_graph=False):
    x = lib.tensor([0.0, 1.0], requires_grad=True)
    (x * 2).sum()           # (the thread's tape has rows already when anomaly mode starts)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with lib.autograd.detect_anomaly():
            y = x.sqrt()
            z = y * 0.0
            q = (z / y).sum()           # the line the warning points at
            with pytest.raises(RuntimeError) as err:
                if create_graph:
                    lib.autograd.grad(q, x, create_graph=True)
                else:
                    q.backward()
    user = [str(m.message) for m in w if m.category is UserWarning]
    return str(err.value), user


def test_nan_in_backward_raises_after_the_warning():
    message, warned = _nan_backward(tape)
    assert message == "Function 'DivBackward0' returned nan values in its 1th output."
    assert warned[0] == ("Anomaly Detection has been enabled. This mode will increase the runtime and should only "
                         "be enabled for debugging.")
    assert warned[1].startswith("Error detected in DivBackward0. Traceback of forward call that caused the error:\n")
    assert re.search(r'File ".*test_anomaly.py", line \d+, in _nan_backward\n    q = \(z / y\).sum\(\)  ', warned[1])


def test_nan_in_a_recorded_backward():
    message, warned = _nan_backward(tape, create_graph=True)
    assert message == "Function 'DivBackward0' returned nan values in its 1th output."
    assert "q = (z / y).sum()" in warned[1]


def test_check_nan_off_and_mode_off():
    x = tape.tensor([0.0, 1.0], requires_grad=True)
    with tape.autograd.set_detect_anomaly(True, check_nan=False):
        assert tape.is_anomaly_enabled() and not tape.is_anomaly_check_nan_enabled()
        (x.sqrt() * 0.0 / x.sqrt()).sum().backward()
    assert not tape.is_anomaly_enabled() and tape.is_anomaly_check_nan_enabled()
    assert str(x.grad.tolist()) == "[nan, 0.0]"
    x.grad = None
    (x.sqrt() * 0.0 / x.sqrt()).sum().backward()         # no anomaly mode: no error either


def test_set_detect_anomaly_as_a_function():
    tape.autograd.set_detect_anomaly(True)
    assert tape.is_anomaly_enabled()
    tape.autograd.set_detect_anomaly(False)
    assert not tape.is_anomaly_enabled()


def test_errors_in_backward_are_preceded_by_the_forward_traceback():
    class Boom(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            raise RuntimeError("Some error in backward")

    x = tape.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with tape.autograd.detect_anomaly():
            out = Boom.apply(x).sum()       # the call the warning shows
            with pytest.raises(RuntimeError, match="^Some error in backward$"):
                out.backward()
            y2 = x * 1
            w2 = y2 * y2
            y2.add_(1)
            with pytest.raises(RuntimeError, match="modified by an inplace operation"):
                w2.sum().backward()
    warned = [str(m.message) for m in w if "Error detected" in str(m.message)]
    assert warned[0].startswith("Error detected in BoomBackward.") and "out = Boom.apply(x).sum()" in warned[0]
    assert warned[1].startswith("Error detected in MulBackward0.") and "w2 = y2 * y2" in warned[1]


def test_results_are_unchanged_in_anomaly_mode():
    x = tape.tensor([0.5, 1.5, 2.0], dtype=tape.float64, requires_grad=True)
    w = tape.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=tape.float64, requires_grad=True)

    def loss():
        return ((w @ x).tanh() * x.sum()).sum() + (x.sin() * x).sum()

    g0 = tape.autograd.grad(loss(), (x, w))
    h0 = tape.autograd.grad(tape.autograd.grad(loss(), x, create_graph=True)[0].sum(), w)
    with tape.autograd.set_detect_anomaly(True):
        g1 = tape.autograd.grad(loss(), (x, w))
        h1 = tape.autograd.grad(tape.autograd.grad(loss(), x, create_graph=True)[0].sum(), w)
    for a, b in zip(g0 + h0, g1 + h1):
        assert a.tolist() == b.tolist()


@pytest.mark.torch
def test_vs_torch():
    torch = pytest.importorskip("torch")
    got, want = _nan_backward(tape), _nan_backward(torch)
    assert got[0] == want[0]
    assert got[1][0] == want[1][0]
    assert want[1][1].startswith(got[1][1].replace("test_anomaly.py", "test_anomaly.py"))


def test_nan_from_a_python_row_outside_anomaly_mode_is_no_error():
    class NanGrad(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")

    x = tape.tensor([1.0, 2.0], requires_grad=True)
    (NanGrad.apply(x) * 2).sum().backward()
    assert str(x.grad.tolist()) == "[nan, nan]"
    x.grad = None
    with tape.autograd.set_detect_anomaly(True):
        with pytest.raises(RuntimeError, match="^Function 'NanGradBackward' returned nan values in its 0th output.$"):
            (NanGrad.apply(x) * 2).sum().backward()


class _Outer(tape.autograd.Function):
    @staticmethod
    def forward(ctx, x, fail_first):
        ctx.fail_first = fail_first
        ctx.save_for_backward(x)
        return x.sum(0, keepdim=True)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        g = g.clone().expand(3)
        return _Inner.apply(g * x, g + x, ctx.fail_first), None


class _Inner(tape.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, fail_first):
        ctx.fail_first = fail_first
        return a * 2.0 + b

    @staticmethod
    def backward(ctx, g):
        g1, g2 = g.clone(), g.clone()
        g1[0] = 0
        g2[0] = 0
        if ctx.fail_first:
            g1[0] /= 0
        else:
            g2[0] /= 0
        return g1, g2, None


def _messages(w) -> list:
    return [str(m.message) for m in w
            if m.category is UserWarning and "Anomaly Detection has been enabled" not in str(m.message)]


def test_node_recorded_by_a_backward_names_the_node_that_induced_it():
    x = tape.rand(3, requires_grad=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match=r"^Function '_InnerBackward' returned nan values in its 1th output.$"):
            with tape.autograd.detect_anomaly():
                out = _Outer.apply(x, False)
                (gx,) = tape.autograd.grad(out, (x,), create_graph=True)
                gx.sum().backward()
    first, induced = _messages(w)
    assert first.startswith("Error detected in _InnerBackward. Traceback of forward call that caused the error:\n")
    assert "(gx,) = tape.autograd.grad(out, (x,), create_graph=True)" in first
    assert "return _Inner.apply(g * x, g + x, ctx.fail_first), None" in first
    assert induced.startswith("\n\nPrevious calculation was induced by _OuterBackward. Traceback of forward call "
                              "that induced the previous calculation:\n")
    assert "out = _Outer.apply(x, False)" in induced
    # (PyTorch's C++ warnings end with where in its source they were given, as in 2.13)
    assert first.endswith("python_anomaly_mode.cpp:122.)") and induced.endswith("python_anomaly_mode.cpp:129.)")


def test_node_recorded_outside_anomaly_mode_has_no_forward_information():
    x = tape.rand(3, requires_grad=True)
    with tape.autograd.detect_anomaly():
        y = x * 2           # (rows on the same tape noted in anomaly mode: the later ones are not theirs)
    (gx,) = tape.autograd.grad(_Outer.apply(y, True), (x,), create_graph=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match=r"^Function '_InnerBackward' returned nan values in its 0th output.$"):
            with tape.autograd.detect_anomaly():
                gx.sum().backward()
    assert _messages(w) == ["Error detected in _InnerBackward. No forward pass information available. Enable detect "
                            "anomaly during forward pass for more information. (Triggered internally at "
                            "/__w/pytorch/pytorch/torch/csrc/autograd/python_anomaly_mode.cpp:100.)"]


def test_anomaly_warning_made_an_error_is_printed_instead(capsys):
    with pytest.raises(RuntimeError, match="^one of the variables needed for gradient computation has been modified"):
        with warnings.catch_warnings(record=True):
            with tape.autograd.detect_anomaly():
                warnings.simplefilter("error")
                a = tape.randn(5, requires_grad=True)
                d1 = a + 1
                d2 = d1 ** 2
                d1 += 1
                tape.autograd.grad(d2.sum(), a)
    err = capsys.readouterr().err
    assert err.startswith("UserWarning: Error detected in PowBackward0. Traceback of forward call that caused the "
                          "error:\n")
    assert "d2 = d1 ** 2" in err


def test_nan_check_numbers_a_function_node_gradients_as_returned():
    # An input given twice: PyTorch checks each gradient the node returned, not their sum.
    class Nan(tape.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, first):
            ctx.first = first
            return a.sum(0, keepdim=True)

        @staticmethod
        def backward(ctx, g):
            bad = g.expand(3).clone()
            bad[0] = float("nan")
            return (bad, None, None) if ctx.first else (None, bad, None)

    for first, k in ((True, 0), (False, 1)):
        x = tape.ones(3, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with tape.autograd.detect_anomaly():
                with pytest.raises(RuntimeError, match=f"^Function 'NanBackward' returned nan values in its {k}th "
                                                       "output.$"):
                    Nan.apply(x, x, first).backward()


def _helper_op(t):
    return t * 1.0          # (a user frame entered and left between the loop's ops)


def test_each_op_noted_at_its_own_line_in_a_loop_of_ops_from_one_frame():
    # The frame of the ops' caller is looked up once: ops after a call into another user frame, and
    # ops on other lines of the same frame, are still noted at their own line and stack.
    x = tape.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with tape.autograd.detect_anomaly():
            h = x.sqrt()
            for _ in range(3):
                h = _helper_op(h)
                h = h + 0.0
            z = h * 0.0
            q = (z / h).sum()           # the failing node's line
            with pytest.raises(RuntimeError, match="DivBackward0"):
                q.backward()
    first, = _messages(w)
    assert re.search(r'line \d+, in test_each_op_noted_at_its_own_line_in_a_loop_of_ops_from_one_frame\n'
                     r'    q = \(z / h\)\.sum\(\)  ', first)
    assert "_helper_op" not in first


def test_a_node_running_in_another_thread_induces_no_row_here():
    import threading

    started, release = threading.Event(), threading.Event()

    class _Wait(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            started.set()
            release.wait(10)
            return g

    def other():
        with tape.autograd.detect_anomaly():
            _Wait.apply(tape.rand(2, requires_grad=True)).sum().backward()

    x = tape.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        tape.set_anomaly_enabled(True)
        thread = threading.Thread(target=other)
        thread.start()
        try:
            assert started.wait(10)     # the other thread's backward runs _WaitBackward now
            y = x.sqrt()
            q = (y * 0.0 / y).sum()
        finally:
            release.set()
            thread.join()
        with pytest.raises(RuntimeError, match="DivBackward0"):
            q.backward()
    first = [m for m in _messages(w) if "DivBackward0" in m]
    assert len(first) == 1 and "Previous calculation was induced" not in first[0]
    assert "q = (y * 0.0 / y).sum()" in first[0]


def test_node_metadata_goes_with_the_tensor_after_a_recorded_backward_in_anomaly_mode():
    # (PyTorch's test_anomaly_assign_parent_cleanup: the tape the recorded backward wrote to stays
    # the thread's, and its rows' Python parts go once the last tensor needing them does)
    import weakref

    class Foo:
        pass

    def get_ref():
        x = tape.randn(2, 2, requires_grad=True)
        t = x.exp()
        with tape.autograd.detect_anomaly():
            tape.autograd.grad(t, x, tape.ones_like(t), create_graph=True)
        obj = Foo()
        t.grad_fn.metadata[0] = obj
        assert t.grad_fn.metadata[0] is obj
        return t, weakref.ref(obj)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t, ref = get_ref()
    assert ref() is not None
    del t
    assert ref() is None


def test_a_function_backward_making_nan_gives_no_numpy_warning_in_a_fresh_filter_list():
    # (as pytest's: a catch_warnings block around ``import tape`` drops tape's filter when it ends)
    class Div(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            g = g.clone()
            g[0] = 0
            g[0] /= 0
            return g

    x = tape.rand(3, requires_grad=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        Div.apply(x).sum().backward()
    assert [str(m.message) for m in w] == []
    assert x.grad.isnan().tolist() == [True, False, False]


def test_stack_of_follows_the_rows_noted_as_the_tape_grows():
    # (``stack_of`` bisects the noted rows, kept between calls: a backward in anomaly mode over n
    # Python rows costs n log n, not n**2; its answers are the definition's)
    from tape._anomaly import stack_of
    from tape._state import state

    def naive(tape, r):
        starts = [k for k in tape.prov if k <= r]
        return tape.prov[max(starts)] if starts else -1

    x = tape.tensor(1.0, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with tape.autograd.detect_anomaly():
            y = x * 2.0
            for _ in range(3):
                for _ in range(20):
                    y = y * 1.5
                    y = y + 1.0
                t = state.tape
                assert [stack_of(t, r) for r in range(t.n)] == [naive(t, r) for r in range(t.n)]
    assert len(set(t.prov.values())) > 2
