"""The 0-d float64 path written inline in the operators and unary front ends (``_emit.scalar_unary``,
``scalar_binary``): the same values, rows and gradients as the general path, and the general
path's behaviour wherever a Python float would differ from numpy."""
import math

import numpy as np
import pytest

import tape


def _leaf(v: float) -> tape.Tensor:
    return tape.tensor(v, dtype=tape.float64, requires_grad=True)


def _general(v: float) -> tape.Tensor:
    # The same value held as an array: the general path (numpy, one row per op).
    t = tape.tensor(np.array([v]), dtype=tape.float64).reshape(())
    return t.requires_grad_()


CASES = [
    ("mul", lambda x, y: x * y), ("rmul", lambda x, y: 2.5 * x), ("add", lambda x, y: x + y),
    ("radd", lambda x, y: 1.5 + x), ("sub", lambda x, y: x - y), ("rsub", lambda x, y: 3 - x),
    ("div", lambda x, y: x / y), ("divc", lambda x, y: x / 4), ("sin", lambda x, y: x.sin() * y),
    ("exp_fn", lambda x, y: tape.exp(x) + tape.tanh(y)), ("neg", lambda x, y: -x * y),
    ("chain", lambda x, y: tape.sin(x * y + 0.5) / (1.5 + tape.exp(-1.0 * (x * x))) * y + 0.25),
]


@pytest.mark.parametrize("name,f", CASES)
def test_values_and_gradients_match_the_general_path(name, f):
    x, y = _leaf(0.7), _leaf(-1.3)
    gx, gy = _general(0.7), _general(-1.3)
    out, ref = f(x, y), f(gx, gy)
    assert out._f is not None                    # the inline path ran
    assert out.item() == ref.item()
    assert out.grad_fn.name() == ref.grad_fn.name()
    out.backward()
    ref.backward()
    assert x.grad.item() == gx.grad.item()
    assert (y.grad is None) == (gy.grad is None)
    if y.grad is not None:
        assert y.grad.item() == gy.grad.item()


def test_division_by_zero_and_overflow_take_numpy_values():
    x = _leaf(0.0)
    z = _leaf(1.0) / x                           # Python raises ZeroDivisionError; numpy gives inf
    assert z.item() == math.inf and z.grad_fn.name() == "DivBackward0"
    assert (x / 0).item() != (x / 0).item()      # 0/0: nan
    big = _leaf(1000.0)
    assert big.exp().item() == math.inf          # math.exp raises OverflowError
    assert math.isnan(_leaf(-1.0).log().item())  # math.log raises ValueError
    assert math.isnan(_leaf(-1.0).sqrt().item())
    w = _leaf(2.0)
    (w * 1e308 * 10).backward()
    assert w.grad.item() == math.inf


def test_a_huge_int_operand_is_the_general_path_error():
    with pytest.raises(OverflowError):
        _leaf(2.0) * 10 ** 400


def test_bool_and_numpy_operands_keep_their_promotion():
    x = _leaf(2.0)
    assert (x * True).dtype == tape.float64 and (x * True).item() == 2.0
    assert (x * np.float32(3.0)).item() == 6.0


def test_function_form_checks_its_argument_and_takes_input_by_name():
    x = _leaf(0.5)
    assert tape.sin(input=x).item() == math.sin(0.5)
    with pytest.raises(TypeError, match=r"sin\(\): argument 'input' \(position 1\) must be Tensor, not float"):
        tape.sin(0.5)


def test_not_recorded_without_grad_mode_or_requires_grad():
    x = _leaf(0.5)
    with tape.no_grad():
        y = x * x
    assert y.grad_fn is None and not y.requires_grad
    c = tape.tensor(0.5, dtype=tape.float64)
    assert (c * c).grad_fn is None and c.sin().grad_fn is None


def test_leaf_import_cache_sees_in_place_changes():
    a = _leaf(2.0)
    y = a * a
    with tape.no_grad():
        a.mul_(3)                                # a new version: the cached import is stale
    z = a * 1.0
    z.backward()
    assert a.grad.item() == 1.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_an_import_that_fills_the_tape_grows_it():
    from tape._state import state
    for op in (lambda a: a * 2.0, lambda a: a * a, lambda a: a.sin()):
        keep = _leaf(1.0) * 2.0
        t = state.tape
        while t.n < t.cap - 1:
            keep = keep * 1.5
        a = tape.tensor(np.asarray(0.5), requires_grad=True)   # (not yet on the tape: its import takes the last row)
        y = op(a)
        assert state.tape is t and t.n <= t.cap
        y.backward()
        assert a.grad is not None and keep.grad_fn is not None


def test_the_recording_tape_follows_grad_mode_and_the_tape():
    # ``state.rec`` (the fast path's one read) is the tape while grad mode is on, else None.
    from tape._state import state
    x = _leaf(0.5)
    y = x * 2.0
    assert state.rec is state.tape is y._tape
    for off in (tape.no_grad, tape.inference_mode, lambda: tape.set_grad_enabled(False)):
        with off():
            assert state.rec is None
            assert (x * 2.0).grad_fn is None and x.sin().grad_fn is None and (x * x).grad_fn is None
            with tape.enable_grad():
                assert state.rec is state.tape and (x * 2.0).grad_fn is not None
        assert state.rec is state.tape and (x * x).grad_fn is not None
    seen = []

    def other_thread():
        seen.append(((x * 3.0).grad_fn is not None, state.rec is state.tape is not None))
    import threading
    with tape.no_grad():          # (this thread's mode only)
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
    assert seen == [(True, True)]


def test_a_tape_no_tensor_refers_to_is_reset_in_place():
    import weakref
    from tape._state import state
    x = _leaf(0.5)
    y = x * 2.0
    ref = weakref.ref(state.tape)
    while ref().n < ref().soft:
        y = y * 1.0
    del y
    z = x * 3.0         # at the soft limit, with no tensor on the tape: reset, not replaced
    assert state.tape is ref() and z._tape is ref() and ref().n <= 2


def test_rows_after_rows_of_other_sizes_keep_their_offsets():
    # After rows of several elements the arena offsets run ahead of the row numbers (the fast
    # path then writes ``off``); on a pure 0-d tape they are equal (it leaves the blank default).
    for step in range(4):
        x = _leaf(0.5)
        if step % 2 == 0:
            v = tape.tensor([1.0, 2.0, 3.0], dtype=tape.float64, requires_grad=True)
            s = (v * v).sum()
        else:
            v, s = None, _leaf(14.0)
        y = (s * x).sin() * 2.0 + x
        assert y.item() == math.sin(7.0) * 2.0 + 0.5
        y.backward()
        assert x.grad.item() == math.cos(7.0) * 2.0 * 14.0 + 1.0
        if v is not None:
            assert np.array_equal(v.grad.numpy(), math.cos(7.0) * 2.0 * 0.5 * 2 * np.array([1.0, 2.0, 3.0]))


def test_a_listed_input_changed_in_place_is_caught():
    # (the sweep checks saved values only for rows with marks on them or their inputs; a row with
    # listed inputs is always checked)
    t, a, b = _leaf(1.0), _leaf(2.0), _leaf(3.0)
    y = tape.addcmul(t, a, b)
    with tape.no_grad():
        b.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_sigmoid_is_pytorchs_formula_in_every_face():
    # PyTorch computes 1 / (1 + exp(-x)): 0 where exp(-x) overflows (the quotient form gave a subnormal)
    xs = [-720.0, -20.0, -1e-3, 0.0, 3.0, 800.0]
    want = [0.0 if x < -709 else 1.0 / (1.0 + math.exp(-x)) for x in xs]
    assert tape.sigmoid(tape.tensor(xs, dtype=tape.float64)).tolist() == want
    assert [tape.sigmoid(tape.tensor(x, dtype=tape.float64)).item() for x in xs] == want
    x = tape.tensor(xs, dtype=tape.float64, requires_grad=True)
    (g,) = tape.autograd.grad(x.sigmoid().sum(), x)
    assert g.tolist() == [w * (1.0 - w) for w in want]
