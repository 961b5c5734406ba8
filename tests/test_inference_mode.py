"""``tape.inference_mode``: the mode (context manager, decorator, generators), inference tensors
and PyTorch's errors for them outside inference mode."""
from __future__ import annotations

import re

import pytest

import tape

SAVED = "Inference tensors cannot be saved for backward. Please do not use Tensors created in inference mode"
INPLACE = "Inplace update to inference tensor outside InferenceMode is not allowed"
REQUIRES = "Setting requires_grad=True on inference tensor outside InferenceMode is not allowed."


def test_mode_and_inference_tensors():
    x = tape.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert not tape.is_inference_mode_enabled() and not x.is_inference()
    with tape.inference_mode():
        assert tape.is_inference_mode_enabled() and not tape.is_grad_enabled()
        i = tape.ones(3)
        j = x * 2
        s = tape.tensor(2.0, dtype=tape.float64) * 3.0       # (the 0-d float64 fast path)
        v = x.view(3)
        assert i.is_inference() and j.is_inference() and s.is_inference()
        assert (x + x).is_inference() and x.exp().is_inference() and (i * i).is_inference()
        assert not j.requires_grad and j.grad_fn is None
        assert not v.is_inference()            # a view of a normal tensor stays normal
        with tape.inference_mode(False):
            assert not tape.is_inference_mode_enabled() and tape.is_grad_enabled()
            assert not tape.ones(1).is_inference()
        assert tape.is_inference_mode_enabled()
    assert not tape.is_inference_mode_enabled() and tape.is_grad_enabled()
    assert i.view(3).is_inference()            # a view of an inference tensor is one
    assert not (i * 2).is_inference() and not i.clone().is_inference()
    assert not (i + i).is_inference() and not i.exp().is_inference()
    with tape.no_grad():
        with tape.inference_mode(False):
            assert tape.is_grad_enabled()      # as PyTorch: mode=False turns grad mode on


def test_inference_tensor_saved_for_backward():
    w = tape.tensor([4.0, 5.0, 6.0], requires_grad=True)
    s = tape.tensor(2.0, dtype=tape.float64, requires_grad=True)
    with tape.inference_mode():
        i = tape.ones(3)
        k = tape.tensor(3.0, dtype=tape.float64)
    for f in (lambda: i * w, lambda: w * i, lambda: w.exp() * i, lambda: s * k, lambda: i / w,
              lambda: tape.mm(i.reshape(1, 3), tape.ones(3, 2, requires_grad=True))):
        with pytest.raises(RuntimeError, match=SAVED):
            f()
    # Ops that save nothing (or save only the other operand) take an inference tensor.
    assert (i + w).grad_fn is not None
    y = w / i.clone()
    assert y.requires_grad
    assert (w * i.clone()).sum().item() == 15.0
    assert i.exp().tolist() == pytest.approx([2.718281828] * 3)     # nothing recorded: no error


def test_inference_index_tensors_and_conditions_are_saved_as_pytorchs():
    """PyTorch's index and where nodes save their index tensors and condition: any of them made
    in inference mode is refused (the third and later index tensors of an index_put too)."""
    x = tape.ones(3, 3, requires_grad=True)
    with tape.inference_mode():
        i, j, m = tape.tensor([0, 1]), tape.tensor([1, 2]), tape.tensor([True, False, True])
    ok = tape.tensor([0, 1])
    for f in (lambda: x[i], lambda: x[ok, j], lambda: x.index_put((ok, j), tape.ones(2)),
              lambda: tape.where(m, x[0], 0.0)):
        with pytest.raises(RuntimeError, match=SAVED):
            f()
    assert x.index_put((ok, ok), tape.ones(2)).grad_fn.name() == "IndexPutBackward0"


def test_inference_tensor_in_place_and_requires_grad():
    with tape.inference_mode():
        i = tape.ones(3)
        i.add_(1)                               # inside inference mode: allowed
        i.requires_grad_()
        i.requires_grad_(False)
    assert i.tolist() == [2.0, 2.0, 2.0]
    for f in (lambda: i.add_(1), lambda: i.zero_(), lambda: i.view(3).mul_(2), lambda: i.__setitem__(0, 5.0)):
        with pytest.raises(RuntimeError, match=INPLACE):
            f()
    assert i.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(RuntimeError, match=REQUIRES):
        i.requires_grad_()
    with pytest.raises(RuntimeError, match=REQUIRES):
        i.requires_grad = True
    i.requires_grad = False


def test_decorator_forms_and_generators():
    @tape.inference_mode
    def bare():
        return tape.ones(1).is_inference(), tape.is_inference_mode_enabled()

    @tape.inference_mode()
    def called():
        return tape.ones(1).is_inference()

    @tape.inference_mode(False)
    def off():
        return tape.ones(1).is_inference(), tape.is_grad_enabled()

    assert bare() == (True, True) and called() is True
    with tape.inference_mode():
        assert off() == (False, True)

    @tape.inference_mode()
    def gen():
        yield tape.is_inference_mode_enabled()
        yield tape.is_inference_mode_enabled()

    g = gen()
    assert next(g) is True
    assert not tape.is_inference_mode_enabled()      # the caller's mode between resumptions
    assert next(g) is True


@pytest.mark.torch
def test_errors_vs_torch():
    torch = pytest.importorskip("torch")

    def run(lib):
        out = []
        w = lib.tensor([4.0, 5.0, 6.0], requires_grad=True)
        with lib.inference_mode():
            i = lib.ones(3)
        for f in (lambda: i * w, lambda: i + w, lambda: i.add_(1), lambda: i.requires_grad_(), lambda: w.exp() * i,
                  lambda: (i * 2).is_inference(), lambda: i.view(3).is_inference()):
            try:
                r = f()
                out.append(r if isinstance(r, bool) else r.tolist())
            except RuntimeError as e:
                out.append(str(e))
        return out

    assert run(tape) == run(torch)


def _view_errors(lib) -> list:
    """The errors of in-place changes involving views made in inference mode (None: no error)."""
    out = []

    def attempt(fn):
        try:
            fn()
            out.append(None)
        except RuntimeError as e:
            out.append(str(e))

    x = lib.zeros(2)
    with lib.inference_mode():
        y = x.view(2)
    y.requires_grad_(True)
    z = y.view(2)
    attempt(lambda: z.div_(2))
    s = lib.ones(1, 2, 3, requires_grad=True)
    a = s.clone()
    with lib.inference_mode():
        v = a.view_as(a)
    attempt(lambda: v.add_(2))
    with lib.inference_mode():
        w = a.view(-1)
    a.add_(2)
    attempt(lambda: w.grad_fn)
    with lib.inference_mode():
        u = a.unbind(0)
        nested = a.view(-1).view(-1)
    attempt(lambda: u[0].add_(2))
    attempt(lambda: nested.add_(2))
    b = s.clone()
    with lib.inference_mode():
        v = b.view(-1)
    vz = v.view(-1)
    attempt(lambda: vz.add_(2))
    b.add_(1)
    attempt(lambda: vz.grad_fn)
    with lib.no_grad(), lib.inference_mode():
        v = b.view(-1)
    attempt(lambda: v.add_(2))
    return out


@pytest.mark.torch
def test_views_made_in_inference_mode_vs_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _view_errors(tape), _view_errors(torch)
    assert ours == theirs
    assert all(e is not None and "inference mode" in e for e in ours)


def test_inference_leaf_requiring_grad():
    s = tape.ones(2, 3, requires_grad=True)
    with tape.inference_mode():
        c = tape.ones(2, 3, requires_grad=True)
        c.resize_(3, 2)         # (autograd does not look inside inference mode)
        c.resize_(2, 3)
        v = c.view(-1)
        assert not v.requires_grad and not v._is_view() and v._base is None and v.is_leaf
    out = c.add(s)              # (add saves nothing)
    out.backward(tape.ones_like(out))
    assert c.grad.tolist() == [[1.0] * 3] * 2
    with pytest.raises(RuntimeError, match="^Inference tensors cannot be saved for backward"):
        c * s


def test_resize_to_the_same_shape_keeps_the_version():
    x = tape.rand(1)
    x.resize_((1, 2))
    x.resize_as_(tape.randn(3))
    assert x._version == 2
    x.resize_((3,))
    x.resize_as_(tape.randn(3))
    assert x._version == 2
    with pytest.raises(RuntimeError, match="^cannot resize variables that require grad$"):
        tape.ones(2, requires_grad=True).resize_(2)


def test_grad_cannot_be_the_tensor_itself():
    x = tape.randn(2, 2)
    with pytest.raises(RuntimeError, match="^can't assign Variable as its own grad$"):
        x.grad = x


INFERENCE_TAIL = ("Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify your code "
                  "by moving both the view and the inplace either both inside the inference_mode block (if you "
                  "don't want the inplace to be tracked) or both outside (if you want the inplace to be tracked).")


def test_views_made_in_inference_mode_name_it_in_their_errors():
    a = tape.rand(3, requires_grad=True).clone()
    with tape.inference_mode():
        v = a[:2]
    with pytest.raises(RuntimeError, match=re.escape("A view was created in inference mode and is being modified "
                                                     "inplace in normal mode. " + INFERENCE_TAIL)):
        v.add_(1)
    w = v.view(2)
    with pytest.raises(RuntimeError, match=re.escape("Output 0 of View is a view of a view which was created in "
                                                     "inference mode and is being modified inplace in normal mode. "
                                                     + INFERENCE_TAIL)):
        w.add_(1)
    a.add_(1)
    with pytest.raises(RuntimeError, match=re.escape("A view was created in inference mode and its base or another "
                                                     "view of its base has been modified inplace in normal mode. "
                                                     + INFERENCE_TAIL)):
        v.grad_fn
    with pytest.raises(RuntimeError, match=re.escape("Output 0 of View is a view of a view which was created in "
                                                     "inference mode and its base or another view of its base has "
                                                     "been modified inplace in normal mode. " + INFERENCE_TAIL)):
        w.grad_fn


def test_views_of_inference_tensors_are_not_tracked():
    for requires_grad in (True, False):
        with tape.inference_mode():
            c = tape.ones(1, 2, 3, requires_grad=requires_grad)
            v = c.view(-1)
            assert tape.is_inference(v) and not v.requires_grad and not v._is_view() and v.is_leaf
        out = c.view(-1)
        assert tape.is_inference(out) and not out.requires_grad and not out._is_view() and out.is_leaf
        with tape.inference_mode():
            out[0] = 5.0        # (the same memory)
        assert c[0, 0, 0].item() == 5.0


def test_inference_leaf_that_requires_grad_gets_a_gradient_but_is_not_saved():
    s = tape.ones(1, 2, 3, requires_grad=True)
    with tape.inference_mode():
        c = tape.ones(1, 2, 3, requires_grad=True)
    out = c.add(s)
    assert not tape.is_inference(out) and out.requires_grad
    out.backward(tape.ones_like(out))
    assert c.grad.tolist() == tape.ones(1, 2, 3).tolist()
    with pytest.raises(RuntimeError, match=SAVED):
        c * s
