"""The tensor API around the ops: devices, legacy types, ``new_*``, random sampling, copying and
saving, print options, and arange/linspace values; fixed expectations, then against PyTorch."""
from __future__ import annotations

import copy
import io
import pickle

import numpy as np
import pytest

import tape

F64 = tape.float64


# -- devices ----------------------------------------------------------------------------------
def test_device_objects_and_strings():
    d = tape.device("cpu")
    assert repr(d) == "device(type='cpu')" and str(d) == "cpu" and d.type == "cpu" and d.index is None
    assert repr(tape.device("cuda", 1)) == "device(type='cuda', index=1)" and str(tape.device("cuda:1")) == "cuda:1"
    assert tape.device("cpu") != tape.device("cpu", 0) and tape.device("cpu") == tape.device(d)
    assert hash(tape.device("cpu")) == hash(tape.device("cpu"))
    assert pickle.loads(pickle.dumps(tape.device("cuda:2"))) == tape.device("cuda", 2)
    x = tape.tensor([1.0])
    assert x.device == tape.device("cpu") and x.is_cpu and not x.is_cuda and x.get_device() == -1
    assert tape.get_default_device() == tape.device("cpu")


@pytest.mark.parametrize("make, exc, message", [
    (lambda: tape.device("foo"), RuntimeError, "Expected one of cpu, cuda, ipu"),
    (lambda: tape.device("cuda:x"), RuntimeError, "Invalid device string: 'cuda:x'"),
    (lambda: tape.device("cpu", -1), RuntimeError, "Device index must not be negative"),
    (lambda: tape.device("cpu:0", 1), RuntimeError, "must not include an index because index was passed"),
    (lambda: tape.device(0), RuntimeError, "Cannot access accelerator device when none is available."),
    (lambda: tape.zeros(2, device="cuda"), AssertionError, "Torch not compiled with CUDA enabled"),
    (lambda: tape.tensor([1.0], device="cuda:0"), AssertionError, "Torch not compiled with CUDA enabled"),
    (lambda: tape.tensor([1.0]).cuda(), AssertionError, "Torch not compiled with CUDA enabled"),
    (lambda: tape.tensor([1.0]).to("cuda"), AssertionError, "Torch not compiled with CUDA enabled"),
    (lambda: tape.tensor([1.0]).to(tape.device("cuda")), AssertionError, "Torch not compiled with CUDA enabled"),
    (lambda: tape.arange(3, device="cuda"), AssertionError, "Torch not compiled with CUDA enabled"),
    (lambda: tape.set_default_device("cuda"), AssertionError, "Torch not compiled with CUDA enabled"),
    (lambda: tape.cuda.current_device(), AssertionError, "Torch not compiled with CUDA enabled"),
    (lambda: tape.zeros(2, device="mps"), RuntimeError, "computes on the CPU only"),
])
def test_device_errors(make, exc, message):
    with pytest.raises(exc, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_cpu_device_arguments_and_to():
    x = tape.tensor([1.0, 2.0], requires_grad=True, device="cpu")
    assert tape.zeros(2, device=tape.device("cpu:0")).device == tape.device("cpu")
    assert x.to("cpu") is x and x.to(tape.device("cpu")) is x and x.cpu() is x
    c = x.to("cpu", copy=True)
    assert c is not x and type(c.grad_fn).__name__ == "ToCopyBackward0"
    y = x.to(device="cpu", dtype=F64, non_blocking=True)
    assert y.dtype is F64 and type(y.grad_fn).__name__ == "ToCopyBackward0"
    assert x.to("cpu", F64).dtype is F64 and x.to(tape.tensor([1])).dtype is tape.int64
    with pytest.raises(TypeError, match="to\\(\\) received an invalid combination of arguments"):
        x.to(F64, tape.float32)
    assert not tape.cuda.is_available() and tape.cuda.device_count() == 0
    tape.cuda.manual_seed(0)
    tape.cuda.manual_seed_all(0)


# -- legacy types, new_*, sizes, Variable -------------------------------------------------------
def test_legacy_types():
    x = tape.tensor([1.0, 2.0])
    assert isinstance(x, tape.FloatTensor) and not isinstance(x, tape.DoubleTensor)
    assert isinstance(tape.tensor([1]), tape.LongTensor) and isinstance(tape.tensor([True]), tape.BoolTensor)
    assert not issubclass(tape.FloatTensor, tape.Tensor)
    assert repr(tape.FloatTensor) == "<class 'torch.FloatTensor'>" and tape.FloatTensor.dtype is tape.float32
    assert tape.FloatTensor([1, 2]).tolist() == [1.0, 2.0] and tape.FloatTensor(2, 3).shape == (2, 3)
    assert tape.FloatTensor().shape == (0,) and tape.FloatTensor(tape.Size([2])).shape == (2,)
    assert tape.LongTensor([1.5]).tolist() == [1] and tape.DoubleTensor(2).dtype is F64
    assert tape.IntTensor([1]).dtype is tape.int32 and tape.ByteTensor([1]).dtype is tape.uint8
    shared = tape.FloatTensor(x)
    assert shared is not x and shared.tolist() == x.tolist()
    with pytest.raises(TypeError, match="expected Float tensor \\(got Double tensor\\)"):
        tape.FloatTensor(tape.tensor([1.0], dtype=F64))
    with pytest.raises(TypeError, match="new\\(\\): data must be a sequence \\(got float\\)"):
        tape.FloatTensor(2.5)
    with pytest.raises(RuntimeError, match="Trying to create tensor with negative dimension -1: \\[-1\\]"):
        tape.FloatTensor(-1)


def test_type_names_and_conversions():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    assert x.type() == "torch.FloatTensor" and tape.tensor([1], dtype=tape.int8).type() == "torch.CharTensor"
    assert tape.tensor([1], dtype=tape.uint8).type() == "torch.ByteTensor"
    assert x.type(tape.DoubleTensor).dtype is F64 and x.type("torch.LongTensor").dtype is tape.int64
    assert x.type(dtype=tape.int32).dtype is tape.int32 and x.type(tape.float32) is x
    assert type(x.type(F64).grad_fn).__name__ == "ToCopyBackward0"
    with pytest.raises(ValueError, match="invalid type: 'foo'"):
        x.type("foo")
    assert x.type_as(tape.tensor([1])).dtype is tape.int64
    assert (x.element_size(), x.nbytes, x.itemsize) == (4, 8, 4)
    assert str(tape.float32) == "torch.float32" and repr(x.shape) == "torch.Size([2])"


def test_new_factories():
    x = tape.tensor([1.0, 2.0], dtype=F64)
    z = x.new_zeros(2, 3)
    assert z.shape == (2, 3) and z.dtype is F64 and z.sum().item() == 0.0
    assert x.new_zeros((2, 3), dtype=tape.int64).dtype is tape.int64
    assert x.new_ones(2).tolist() == [1.0, 1.0] and x.new_full((2,), 3).tolist() == [3.0, 3.0]
    assert x.new_empty(4).shape == (4,) and x.new_empty((2, 1)).dtype is F64
    t = x.new_tensor([1, 2], requires_grad=True)
    assert t.dtype is F64 and t.requires_grad and t.is_leaf
    with pytest.warns(UserWarning, match="sourceTensor.clone\\(\\).detach\\(\\)"):
        x.new_tensor(x)


def test_variable_is_the_deprecated_wrapper():
    x = tape.tensor([1.0, 2.0])
    v = tape.autograd.Variable(x, requires_grad=True)
    assert v.requires_grad and v.is_leaf and isinstance(x, tape.autograd.Variable)
    assert not tape.autograd.Variable(v).requires_grad
    with pytest.warns(UserWarning, match="volatile was removed"):
        tape.autograd.Variable(x, volatile=True)
    with pytest.raises(TypeError, match="Variable data has to be a tensor, but got list"):
        tape.autograd.Variable([1])
    assert tape.autograd.Variable().shape == (0,)


# -- random -----------------------------------------------------------------------------------------
def test_random_factories_shapes_dtypes_and_seeds():
    x = tape.tensor([[1.0, 2.0, 3.0]], dtype=F64)
    assert tape.rand_like(x).dtype is F64 and tape.randn_like(x, dtype=tape.float32).shape == (1, 3)
    r = tape.randint_like(x, 2, 5)
    assert r.dtype is F64 and np.all((r.numpy() >= 2) & (r.numpy() < 5))
    tape.manual_seed(3)
    a = tape.normal(0.0, 1.0, size=(4,))
    tape.manual_seed(3)
    assert tape.normal(0.0, 1.0, size=(4,)).tolist() == a.tolist()
    g = tape.Generator().manual_seed(5)
    assert tape.normal(2.0, 0.0, (3,), generator=g).tolist() == [2.0, 2.0, 2.0]
    b = tape.bernoulli(tape.tensor([0.0, 1.0, 0.0, 1.0]))
    assert b.tolist() == [0.0, 1.0, 0.0, 1.0] and tape.bernoulli(tape.ones(3), p=0.0).tolist() == [0.0] * 3
    m = tape.multinomial(tape.tensor([[0.0, 1.0], [1.0, 0.0]]), 3, replacement=True)
    assert m.dtype is tape.int64 and m.tolist() == [[1, 1, 1], [0, 0, 0]]
    w = tape.multinomial(tape.tensor([0.1, 0.0, 0.9, 0.5]), 3)
    assert sorted(w.tolist()) == [0, 2, 3]


def test_normal_with_tensors_is_differentiable():
    mean = tape.tensor([1.0, -1.0], dtype=F64, requires_grad=True)
    std = tape.tensor([0.5, 2.0], dtype=F64, requires_grad=True)
    s = tape.normal(mean, std)
    s.sum().backward()
    assert mean.grad.tolist() == [1.0, 1.0]
    np.testing.assert_allclose(std.grad.numpy(), ((s - mean) / std).detach().numpy())


@pytest.mark.parametrize("make, exc, message", [
    (lambda: tape.normal(0.0, -1.0, size=(2,)), RuntimeError, "normal expects std >= 0.0, but found std -1"),
    (lambda: tape.normal(0.0, 1.0), TypeError, "normal\\(\\) received an invalid combination of arguments"),
    (lambda: tape.bernoulli(tape.full((3,), 1.5)), RuntimeError, "Expected p_in >= 0 && p_in <= 1"),
    (lambda: tape.multinomial(tape.tensor([0.2, 0.8]), 4), RuntimeError,
     "cannot sample n_sample > prob_dist.size\\(-1\\) samples without replacement"),
    (lambda: tape.multinomial(tape.tensor([-0.2, 0.8]), 1), RuntimeError, "probability tensor contains either"),
    (lambda: tape.multinomial(tape.tensor([0.0, 0.0]), 1), RuntimeError, "invalid multinomial distribution"),
    (lambda: tape.rand_like(tape.tensor([1, 2])), NotImplementedError,
     "\"check_uniform_bounds\" not implemented for 'Long'"),
    (lambda: tape.tensor([1.0]).uniform_(3, 2), RuntimeError, "uniform_ expects to return a \\[from, to\\) range"),
    (lambda: tape.tensor([1, 2]).normal_(), NotImplementedError, "\"normal_kernel_cpu\" not implemented for 'Long'"),
    (lambda: tape.tensor([1.0], requires_grad=True).uniform_(), RuntimeError,
     "a leaf Variable that requires grad is being used in an in-place operation."),
])
def test_random_errors(make, exc, message):
    with pytest.raises(exc, match=message):
        make()


def test_random_fills_in_place():
    x = tape.zeros(1000, dtype=F64)
    v0 = x._version
    assert x.uniform_(2, 3) is x and x._version == v0 + 1
    assert np.all((x.numpy() >= 2.0) & (x.numpy() < 3.0))
    assert abs(x.normal_(5.0, 0.1).numpy().mean() - 5.0) < 0.05
    assert set(np.unique(tape.zeros(200).random_(3).numpy())) <= {0.0, 1.0, 2.0}
    assert set(np.unique(tape.zeros(200, dtype=tape.int64).random_(2, 4).numpy())) <= {2, 3}
    assert np.all(tape.zeros(100).exponential_(2.0).numpy() > 0)
    assert np.all(tape.zeros(100).geometric_(0.5).numpy() >= 1)
    assert np.all(tape.zeros(100).log_normal_().numpy() > 0)
    assert tape.zeros(5).bernoulli_(1.0).tolist() == [1.0] * 5
    tape.zeros(5).cauchy_()
    w = tape.tensor([1.0, 2.0], requires_grad=True)
    for fill, name in [(lambda t: t.uniform_(), "UniformBackward0"), (lambda t: t.normal_(), "NormalBackward0"),
                       (lambda t: t.random_(), "RandomBackward0"), (lambda t: t.random_(4), "RandomBackward1"),
                       (lambda t: t.random_(1, 4), "RandomBackward2"), (lambda t: t.bernoulli_(), "BernoulliBackward2"),
                       (lambda t: t.exponential_(), "ExponentialBackward0")]:
        y = fill(w * 2)
        assert type(y.grad_fn).__name__ == name
        (y * w).sum().backward()
        np.testing.assert_allclose(w.grad.numpy(), y.detach().numpy())    # no gradient through the fill
        w.grad = None
    with tape.no_grad():
        assert w.uniform_() is w


def test_index_grids_and_logspace():
    assert tape.tril_indices(3, 3).tolist() == [[0, 1, 1, 2, 2, 2], [0, 0, 1, 0, 1, 2]]
    assert tape.triu_indices(3, 4, 1).tolist() == [[0, 0, 0, 1, 1, 2], [1, 2, 3, 2, 3, 3]]
    assert tape.tril_indices(3, 3, -1, dtype=tape.int32).dtype is tape.int32
    assert tape.logspace(0, 2, 3).tolist() == [1.0, 10.0, 100.0]
    assert tape.logspace(0, 2, 3, base=2).tolist() == [1.0, 2.0, 4.0]


# -- copying and saving ----------------------------------------------------------------------------
def test_deepcopy_and_pickle():
    w = tape.tensor([1.0, 2.0], requires_grad=True)
    w.grad = tape.tensor([3.0, 4.0])
    d = copy.deepcopy(w)
    assert d is not w and d.is_leaf and d.requires_grad and d.grad.tolist() == [3.0, 4.0]
    with tape.no_grad():
        d.zero_()
    assert w.tolist() == [1.0, 2.0]
    pair = copy.deepcopy([w, w])
    assert pair[0] is pair[1]
    with pytest.raises(RuntimeError, match="Only Tensors created explicitly by the user"):
        copy.deepcopy(w * 2)
    p = pickle.loads(pickle.dumps(w))
    assert p.is_leaf and p.requires_grad and p.grad is None and p.tolist() == [1.0, 2.0]
    q = pickle.loads(pickle.dumps(w * 2))
    assert q.is_leaf and q.requires_grad and q.tolist() == [2.0, 4.0]


def test_save_and_load(tmp_path):
    w = tape.tensor([1.0, 2.0], requires_grad=True)
    obj = {"w": w, "rest": [tape.tensor([1, 2]), 3, "x", None, (1.5, True)], 7: tape.tensor(2.5, dtype=F64)}
    buf = io.BytesIO()
    tape.save(obj, buf)
    buf.seek(0)
    back = tape.load(buf)
    assert back["w"].requires_grad and back["w"].tolist() == [1.0, 2.0] and back["w"].dtype is tape.float32
    assert back["rest"][0].dtype is tape.int64 and back["rest"][1:] == [3, "x", None, (1.5, True)]
    assert back[7].dtype is F64 and back[7].item() == 2.5
    path = tmp_path / "t.pt"
    tape.save(w * 3, str(path))
    assert tape.load(path, map_location="cpu").tolist() == [3.0, 6.0]
    with pytest.raises(RuntimeError, match="does not hold a tape.save archive"):
        tape.load(io.BytesIO(b"garbage"))
    pickled = io.BytesIO()
    np.save(pickled, np.array([object()], dtype=object), allow_pickle=True)
    pickled.seek(0)
    with pytest.raises(RuntimeError, match="does not hold a tape.save archive"):
        tape.load(pickled)
    with pytest.raises(TypeError, match="cannot save an object of type object"):
        tape.save(object(), io.BytesIO())


# -- printing ----------------------------------------------------------------------------------------
def test_printoptions_round_trip():
    before = tape.get_printoptions()
    assert before == {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}
    try:
        tape.set_printoptions(precision=2)
        assert repr(tape.tensor([1.23456])) == "tensor([1.23])"
        tape.set_printoptions(sci_mode=True)
        assert repr(tape.tensor([1.5])) == "tensor([1.50e+00])"
        tape.set_printoptions(profile="short")
        assert tape.get_printoptions()["edgeitems"] == 2
    finally:
        tape.set_printoptions(profile="default")
    assert tape.get_printoptions() == before


# -- against PyTorch -------------------------------------------------------------------------------
@pytest.mark.torch
def test_arange_and_linspace_are_pytorchs_bit_for_bit():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    cases = [(-8, 8, 0.1), (0, 1, 0.01), (1.5, 100.3, 0.7), (0.3, 1000.7, 0.01)] + [
        (float(rng.uniform(-10, 10)), float(rng.uniform(10, 60)), float(rng.uniform(0.01, 1))) for _ in range(40)] + [
        (float(rng.uniform(-10, 10)), float(rng.uniform(-60, -10)), -float(rng.uniform(0.01, 1))) for _ in range(10)]
    for name in ("float32", "float64"):
        for start, end, step in cases:
            mine = tape.arange(start, end, step, dtype=getattr(tape, name)).numpy()
            ref = torch.arange(start, end, step, dtype=getattr(torch, name)).numpy()
            assert np.array_equal(mine, ref), (name, start, end, step)
        for start, end, steps in [(0, 1, 11), (-2.5, 7.3, 50), (3, -1, 9), (1e-3, 17.0, 1000), (0, 1, 1),
                                  (0.0, 1.0, 100000)] + [
                (float(rng.uniform(-10, 10)), float(rng.uniform(-10, 50)), int(rng.integers(2, 500))) for _ in range(40)]:
            mine = tape.linspace(start, end, steps, dtype=getattr(tape, name)).numpy()
            ref = torch.linspace(start, end, steps, dtype=getattr(torch, name)).numpy()
            assert np.array_equal(mine, ref), (name, start, end, steps)
    assert tape.arange(-8, 8, 0.1)[80].item() == torch.arange(-8, 8, 0.1)[80].item() != 0.0


@pytest.mark.torch
def test_printoptions_match_pytorch():
    torch = pytest.importorskip("torch")
    values = [np.array([1.23456789, 2.5, 1e-5]), np.arange(2000.0) / 7, np.array([1.0, 2.0, 300000.0]),
              np.array([[1.5, 2.25], [3.125, 4.0625]])]
    try:
        for options in [dict(precision=2), dict(sci_mode=True), dict(sci_mode=False), dict(profile="short"),
                        dict(threshold=5, edgeitems=1), dict(linewidth=30)]:
            for lib in (tape, torch):
                lib.set_printoptions(**options)
            for v in values:
                assert repr(tape.tensor(v)) == repr(torch.tensor(v)), options
    finally:
        for lib in (tape, torch):
            lib.set_printoptions(profile="default", sci_mode=None)


@pytest.mark.torch
def test_type_names_and_legacy_types_match_pytorch():
    torch = pytest.importorskip("torch")
    for name in ("float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool", "float16"):
        mine, ref = tape.zeros(2, dtype=getattr(tape, name)), torch.zeros(2, dtype=getattr(torch, name))
        assert mine.type() == ref.type() and str(mine.dtype) == str(ref.dtype)
    for cls in ("FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "ShortTensor", "CharTensor", "ByteTensor",
                "BoolTensor", "HalfTensor"):
        assert repr(getattr(tape, cls)) == repr(getattr(torch, cls))
        assert repr(getattr(tape, cls)([1, 0])) == repr(getattr(torch, cls)([1, 0]))


# -- names not there yet -------------------------------------------------------------------------------
def test_a_pytorch_name_not_there_yet_says_so():
    from tape._pytorch_names import NotSupportedYet
    with pytest.raises(NotSupportedYet, match="tape.fft is not supported yet: tape does not implement PyTorch's "
                                              "torch.fft \\(README.md, 'Not yet'"):
        tape.fft
    with pytest.raises(NotSupportedYet, match="Tensor.stft is not supported yet"):
        tape.tensor([1.0]).stft
    with pytest.raises(AttributeError, match="^module 'tape' has no attribute 'no_such_name'$"):
        tape.no_such_name
    with pytest.raises(AttributeError, match="^'Tensor' object has no attribute 'no_such_name'$"):
        tape.tensor([1.0]).no_such_name
    assert not hasattr(tape.tensor([1.0]), "stft") and getattr(tape, "fft", None) is None


def test_tensor_attribute_reads_keep_python_s_fast_path():
    # CPython 3.11 specializes attribute reads only of types with the generic lookup: a __getattr__
    # (or __getattribute__) anywhere on Tensor would slow every read of every tensor (a sixth of a
    # 0-d op).  The names not there yet are descriptors of a base class instead.
    from tape._pytorch_names import NotSupportedYet
    for cls in tape.Tensor.__mro__[:-1]:
        assert "__getattr__" not in vars(cls) and "__getattribute__" not in vars(cls), cls
    t = tape.tensor([1.0])
    with pytest.raises(NotSupportedYet, match="^Tensor.stft is not supported yet"):
        t.stft
    with pytest.raises(NotSupportedYet, match="^Tensor.stft is not supported yet"):
        tape.Tensor.stft
    assert not hasattr(t, "stft") and getattr(t, "stft", 3) == 3
    t.stft = 1                  # (an attribute of the instance's own wins, as before)
    assert t.stft == 1 and not hasattr(tape.tensor(1.0), "stft")
    with pytest.raises(AttributeError, match="^'Tensor' object has no attribute 'no_such_name'$"):
        t.no_such_name
