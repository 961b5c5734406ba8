"""Behaviours that PyTorch's own autograd tests (test/test_autograd.py, test/autograd/test_functional.py)
exercise and that tape got wrong until session 33: each test names the PyTorch test it comes from.
Values are pinned by reasoning; no torch needed."""
from __future__ import annotations

import pytest

import tape


# --- test_sparse_gather_*: gather's gradient with sparse_grad=True, made dense by to_dense() ---------
@pytest.mark.parametrize("size_x, size_ind, dim", [((4, 3), (2, 3), 0), ((3, 4, 2), (3, 2, 2), 1), ((5,), (), 0),
                                                   ((), (2,), 0), ((), (), 0)])
def test_gather_sparse_grad_densified_equals_the_dense_gradient(size_x, size_ind, dim):
    x = tape.randn(size_x, dtype=tape.float64, requires_grad=True)
    n = x.size(dim) if x.dim() else 1
    ind = tape.randint(n, size_ind) if size_ind and size_x else tape.zeros(size_ind, dtype=tape.int64)
    out = tape.gather(x, dim, ind)
    grad = tape.rand_like(out)
    out.backward(grad)
    dense = x.grad.clone()
    x.grad = None
    tape.gather(x, dim, ind, sparse_grad=True).backward(grad)
    assert tape.equal(x.grad.to_dense(), dense)


def test_gather_with_a_0d_index_of_a_1d_tensor_picks_one_element():
    # (PyTorch counts a 0-d index as 1-d: the result is 0-d and the gradient goes to that element)
    y = tape.arange(5.0, dtype=tape.float64).requires_grad_()
    out = tape.gather(y, 0, tape.tensor(3))
    assert out.shape == () and out.item() == 3.0
    out.backward()
    assert y.grad.tolist() == [0.0, 0.0, 0.0, 1.0, 0.0]
    with pytest.raises(RuntimeError, match="index 7 is out of bounds for dimension 0 with size 5"):
        tape.gather(y, 0, tape.tensor(7))
    with pytest.raises(RuntimeError, match="Index tensor must have the same number of dimensions as input tensor"):
        tape.gather(tape.zeros(2, 3), 0, tape.tensor(1))


def test_to_dense_of_a_strided_tensor_is_the_tensor_or_its_conversion():
    x = tape.randn(3)
    assert x.to_dense() is x and x.to_dense(tape.float32) is x and x.to_dense(masked_grad=True) is x
    y = tape.randn(3, requires_grad=True)
    z = y.to_dense(tape.float64)
    assert z.dtype == tape.float64 and z.grad_fn is not None
    z.sum().backward()
    assert y.grad.dtype == tape.float32 and y.grad.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(TypeError, match=r"to_dense\(\): argument 'dtype' \(position 1\) must be torch.dtype, not str"):
        x.to_dense("float")
    with pytest.raises(TypeError, match=r"to_dense\(\): argument 'masked_grad' must be bool, not int"):
        x.to_dense(masked_grad=3)


# --- test_grad_fn_attr_bindings: a 1-d upsampling node saves one ``scales`` ------------------------
@pytest.mark.parametrize("mode", ["nearest", "linear", "nearest-exact"])
def test_1d_upsampling_node_saves_scales(mode):
    a = tape.ones(1, 1, 2, requires_grad=True)
    node = tape.nn.functional.interpolate(a, scale_factor=0.5, mode=mode).grad_fn
    assert node._saved_scales == 0.5 and node._saved_output_size == (1,)
    assert tape.nn.functional.interpolate(a, 4, mode=mode).grad_fn._saved_scales is None
    assert not hasattr(node, "_saved_scales_w")


def test_2d_and_3d_upsampling_nodes_save_one_scale_per_dimension():
    node = tape.nn.functional.interpolate(tape.ones(1, 1, 2, 2, requires_grad=True), scale_factor=2.0).grad_fn
    assert (node._saved_scales_h, node._saved_scales_w) == (2.0, 2.0)
    node = tape.nn.functional.interpolate(tape.ones(1, 1, 2, 2, 2, requires_grad=True), scale_factor=2.0,
                                          mode="trilinear").grad_fn
    assert (node._saved_scales_d, node._saved_scales_h, node._saved_scales_w) == (2.0, 2.0, 2.0)


# --- test_warning_in_backward: a warning raised in a backward reaches Python -------------------------
def test_warning_raised_in_backward_reaches_python():
    a = tape.zeros((), requires_grad=True)
    b = tape._C._nn._test_warn_in_autograd(a)
    assert b.grad_fn.name() == "TestWarnInAutogradBackward0"
    with pytest.warns(UserWarning, match="Warn from backward"):
        b.backward()
    assert a.grad.item() == 1.0
    assert not tape._C._nn._test_warn_in_autograd(tape.ones(2)).requires_grad
    with pytest.raises(TypeError, match=r"argument 'input' \(position 1\) must be Tensor, not int"):
        tape._C._nn._test_warn_in_autograd(1)


# --- test_multiple_insert_removal_caching: the cached-tensor registry of torch._C -------------------
def test_cached_tensor_registry_marks_the_tensor_itself():
    x = tape.rand(4)
    with pytest.raises(RuntimeError, match="cached_tensorimpls_enabled"):
        tape._C._add_cached_tensor(x)
    tape._C._set_cached_tensors_enabled(True)
    try:
        tape._C._add_cached_tensor(x)
        assert tape._C._is_cached_tensor(x) and not tape._C._is_cached_tensor(x.view(4))
        tape._C._add_cached_tensor(x)
        tape._C._remove_cached_tensor(x)
        assert not tape._C._is_cached_tensor(x)
        tape._C._add_cached_tensor(x)
        tape._C._set_cached_tensors_enabled(False)
        assert not tape._C._is_cached_tensor(x)       # (off: nothing reads as cached; the mark stays)
        tape._C._set_cached_tensors_enabled(True)
        assert tape._C._is_cached_tensor(x)
        tape._C._remove_cached_tensor(x)
        with pytest.raises(TypeError, match="incompatible function arguments"):
            tape._C._is_cached_tensor(1)
    finally:
        tape._C._set_cached_tensors_enabled(False)


# --- test_dataparallel_saved_tensors_hooks, test_checkpointing_without_reentrant_dataparallel ---------
def test_data_parallel_without_accelerators_calls_the_module():
    inner = tape.nn.Linear(3, 2)
    model = tape.nn.DataParallel(inner)
    assert model.device_ids == [] and model.module is inner
    assert list(model.state_dict()) == ["module.weight", "module.bias"]
    x = tape.randn(4, 3, requires_grad=True)
    packed = []
    with tape.autograd.graph.saved_tensors_hooks(lambda t: packed.append(t) or t, lambda t: t):
        out = model(x)       # (one thread: the hooks of this one apply)
    assert packed and tape.equal(out, inner(x))
    out.sum().backward()
    assert inner.weight.grad.shape == (2, 3) and x.grad.shape == (4, 3)
    with pytest.raises(RuntimeError, match="device type could not be determined"):
        tape.nn.parallel.data_parallel(inner, x)


# --- session 34 -------------------------------------------------------------------------------------
# test_utils.py TestCheckpoint.test_checkpoint_partial_grad: a saved input that forward returns as
# it is stays the input (PyTorch's output is an alias of it; the input gets no grad_fn).
def test_saved_input_returned_as_is_unpacks_as_the_input():
    seen = []

    class Same(tape.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a

        @staticmethod
        def backward(ctx, g):
            seen.extend(ctx.saved_tensors)
            return g, g

    a = tape.ones(3)
    b = tape.ones(3, requires_grad=True)
    out = Same.apply(a, b)
    assert out is not a and out.requires_grad and not a.requires_grad
    out.sum().backward()
    assert seen[0] is a and not seen[0].requires_grad and seen[0].grad_fn is None
    assert seen[1] is b
    assert b.grad.tolist() == [1.0, 1.0, 1.0]


def test_reentrant_checkpoint_whose_outputs_need_no_grad_refuses_backward():
    def first(t1, t2):
        return t1

    a = tape.randn(1, 4)
    b = tape.randn(1, 4, requires_grad=True)
    out = tape.utils.checkpoint.checkpoint(first, a, b, use_reentrant=True)
    with pytest.raises(RuntimeError, match=r"none of output has requires_grad=True, this checkpoint\(\) is not "
                                           r"necessary"):
        out.sum().backward()


# test_post_accumulate_grad_hook_*: a post accumulate grad hook may return None or the tensor
# itself (``t.sub_(t.grad)``); another tensor is refused, a non-tensor as a tensor hook's result.
def test_post_accumulate_grad_hook_may_return_the_tensor_itself():
    t = tape.tensor([1.0, 2.0], requires_grad=True)
    t.register_post_accumulate_grad_hook(lambda u: u.sub_(u.grad))
    t.register_post_accumulate_grad_hook(lambda u: u.mul_(4.0))
    t.sum().backward()
    assert t.tolist() == [0.0, 4.0]
    for result, error, message in ((lambda u: u.detach(), RuntimeError, "^Tensor post accumulate grad hooks should "
                                    "return None.$"), (lambda u: "x", TypeError, "^expected Variable, but hook "
                                                                                   "returned 'str'$")):
        u = tape.ones(2, requires_grad=True)
        u.register_post_accumulate_grad_hook(result)
        with pytest.raises(error, match=message):
            u.sum().backward()


def test_save_for_backward_of_a_non_tensor_after_a_tensor_names_its_position():
    class Saves(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 3)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(TypeError, match="^save_for_backward can only save variables, but argument 1 is of type int$"):
        Saves.apply(tape.ones(2, requires_grad=True))


# TestAutograd's saved-tensor hooks tests, on the ops that save a third listed input: under
# saved_tensors_hooks the rule must read each unpacked value in its own place.
@pytest.mark.parametrize("op, expected", [
    # d/db sum(a + 2 * b * c) = 2 * c; with c unpacked as 2 * c + 1: 2 * (2 * c + 1)
    (lambda a, b, c: tape.addcmul(a, b, c, value=2), lambda a, b, c: (2 * (2 * c + 1), 2 * (2 * b + 1))),
    # lerp(a, b, c) = a + c * (b - a): d/dc = b - a, from the unpacked b and a
    (lambda a, b, c: tape.lerp(a, b, c), lambda a, b, c: (None, None, (2 * b + 1) - (2 * a + 1))),
])
def test_saved_tensor_hooks_unpack_the_third_input_in_its_place(op, expected):
    a, b, c = (tape.tensor(v, dtype=tape.float64, requires_grad=True) for v in ([1.0, 2.0], [3.0, -1.0], [0.5, 4.0]))
    with tape.autograd.graph.saved_tensors_hooks(lambda t: t * 2, lambda t: t + 1):
        out = op(a, b, c)
    grads = tape.autograd.grad(out.sum(), (a, b, c))
    want = expected(a.detach(), b.detach(), c.detach())
    for k, w in enumerate(want):
        if w is not None:
            assert grads[len(grads) - len(want) + k].tolist() == w.tolist()


# AddmmBackward0 and its family: each factor is saved only for the other's gradient (an in-place
# change to it is refused then, and saved-tensor hooks pack it), shown under PyTorch's names.
def test_addmm_saves_each_factor_for_the_other_factors_gradient():
    x = tape.ones(3, 4, requires_grad=True)
    w = tape.ones(4, 5, requires_grad=True)
    b = tape.ones(5, requires_grad=True)
    ww = w * 1
    out = tape.addmm(b, x, ww)
    ww.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()
    packed = []
    with tape.autograd.graph.saved_tensors_hooks(lambda t: packed.append(tuple(t.shape)) or t, lambda t: t):
        out = tape.addmm(b, x, w, beta=2, alpha=0.5)
        plain_x = tape.addmm(b, x.detach(), w)
    assert packed == [(3, 4), (4, 5), (3, 4)]
    node = out.grad_fn
    assert (node._saved_alpha, node._saved_beta) == (0.5, 2)
    assert node._saved_mat1_sym_sizes == (3, 4) and node._saved_mat2_sym_strides == (5, 1)
    assert node._saved_mat1.shape == (3, 4) and node._saved_mat2.shape == (4, 5)
    assert plain_x.grad_fn._saved_mat2 is None and plain_x.grad_fn._saved_mat1_sym_strides == ()
    node = tape.addbmm(tape.ones(3, 5), tape.ones(2, 3, 4, requires_grad=True), tape.ones(2, 4, 5)).grad_fn
    assert (node._saved_batch1_sym_argsize_0, node._saved_batch1_sym_argsize_1, node._saved_batch2_sym_argsize_2) == \
        (2, 3, 5)
    assert node._saved_batch1 is None and node._saved_batch2.shape == (2, 4, 5)
    assert type(node._saved_alpha) is int and node._saved_alpha == 1


# TestAutograd's custom Function tests, backward run twice: the graph's tape handed its buffers on
# after the first backward (a spent tape), and a second backward through a new ``out.sum()`` read
# that tape's rows through the writers of the buffers it handed on (another row's op ran in the
# custom Function's place and the leaf got an uninitialized gradient).  PyTorch raises as the
# Function's saved tensors were freed; a Function that saved nothing runs again.
def test_second_backward_through_a_spent_custom_function_row():
    class Square(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 2

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 2 * x * g

    class Double(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    y = tape.ones(3, requires_grad=True)
    out = Square.apply(y)
    out.sum().backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        out.sum().backward()
    assert y.grad.tolist() == [2.0, 2.0, 2.0]
    y = tape.ones(3, requires_grad=True)
    out = Double.apply(y)
    out.sum().backward()
    out.sum().backward()
    assert y.grad.tolist() == [4.0, 4.0, 4.0]
    y = tape.ones(3, requires_grad=True)
    out = tape.utils.checkpoint.checkpoint(lambda a: a.exp(), y, use_reentrant=True)
    out.sum().backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        out.sum().backward()


# TestAutogradInferenceMode._is_inference_tensor: an inference tensor tracks no version counter.
def test_inference_tensor_has_no_version_counter():
    with tape.inference_mode():
        c = tape.ones(2, 3)
        v = c.view(-1)
    for t in (c, v):
        with pytest.raises(RuntimeError, match=r"^Inference tensors do not track version counter\.$"):
            t._version
    s = tape.ones(2, 3, requires_grad=True)
    out = c.add(s)      # (an inference tensor still enters a graph as a constant)
    out.sum().backward()
    assert s.grad.tolist() == [[1.0] * 3] * 2
    a = s.clone()
    with tape.inference_mode():
        a.add_(1)
    assert a._version == 1


# Saved-tensor hooks around a checkpointed function (PyTorch's checkpoint packs what the function
# saves with hooks of its own; the arguments it keeps for the recomputation go through the hooks
# outside), and a custom Function's saved leaf, which unpacks as a leaf that requires grad.
def test_saved_tensor_hooks_around_a_checkpoint_pack_its_arguments():
    a = tape.tensor([1.0, 2.0], dtype=tape.float64, requires_grad=True)
    with tape.autograd.graph.saved_tensors_hooks(lambda t: t * 2, lambda t: t / 2 + 1):
        y = tape.utils.checkpoint.checkpoint(lambda x: (x * x).exp(), a, use_reentrant=False)
    y.sum().backward()
    # the recomputation starts from the unpacked argument a + 1: d/da exp(a^2) = 2 a exp(a^2) there
    b = a.detach() + 1
    assert tape.allclose(a.grad, 2 * b * (b * b).exp())

    class Mul(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x, w):
            ctx.save_for_backward(x, w)
            return x * w

        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            seen.append((x.requires_grad, x.is_leaf, w.requires_grad))
            return g * w, g * x

    seen = []
    with tape.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t.clone()):
        out = Mul.apply(a, a * 1)
    out.sum().backward()
    assert seen == [(True, True, True)]


# test_grad_fn_attr_bindings: LinalgQrBackward0 shows Q, R and the mode (Q empty for mode='r').
@pytest.mark.parametrize("mode, q_shape, r_shape", [("reduced", (3, 2), (2, 2)), ("complete", (3, 3), (3, 2)),
                                                    ("r", (0,), (2, 2))])
def test_linalg_qr_node_shows_its_factors_and_mode(mode, q_shape, r_shape):
    q, r = tape.linalg.qr(tape.ones(3, 2, requires_grad=True), mode=mode)
    node = r.grad_fn
    assert node._saved_mode == mode
    assert node._saved_Q.shape == q_shape and node._saved_R.shape == r_shape


# A custom Function's saved input that is no leaf unpacks as the tensor itself (PyTorch's
# SavedVariable keeps a saved non-output as it is); a saved output does not.
def test_saved_non_leaf_input_unpacks_as_itself():
    seen = []

    class Double(tape.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            y = a * 2
            ctx.save_for_backward(a, y)
            return y

        @staticmethod
        def backward(ctx, g):
            seen.extend(ctx.saved_tensors)
            return g * 2

    x = tape.ones(2, requires_grad=True)
    a = x * 1
    out = Double.apply(a)
    out.sum().backward()
    assert seen[0] is a and seen[1] is not out
    assert x.grad.tolist() == [2.0, 2.0]


# A checkpointed function that changes an argument in place: PyTorch saved the arguments before it
# ran, so its backward refuses them (tape's recomputation silently read the changed value: a wrong
# gradient).
@pytest.mark.parametrize("leaf", [True, False])
def test_checkpoint_refuses_an_argument_its_function_changed_in_place(leaf):
    a = tape.tensor([1.0, 2.0], requires_grad=True)
    b = tape.ones(2) if leaf else tape.ones(2, requires_grad=True) * 1

    def scaled(x, y):
        y.add_(1)
        return x * y

    out = tape.utils.checkpoint.checkpoint(scaled, a, b, use_reentrant=False)
    made_by = "" if leaf else ", which is output 0 of Add,"
    with pytest.raises(RuntimeError, match=rf"^one of the variables needed for gradient computation has been modified by "
                                           rf"an inplace operation: \[torch.FloatTensor \[2\]\]{made_by} is at version 1; "
                                           "expected version 0 instead"):
        out.sum().backward()
