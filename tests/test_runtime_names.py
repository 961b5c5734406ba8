"""PyTorch's process switches, build information, window functions and the complex-number names
on real tensors: values and errors as PyTorch 2.13's (fixed expectations; the last test compares
with PyTorch where it is installed)."""
from __future__ import annotations

import importlib
import math
import warnings

import numpy as np
import pytest

import tape
from tape import _runtime


@pytest.fixture
def restore_switches():
    saved = dict(_runtime._state), tape.get_num_threads(), tape.get_default_dtype()
    yield
    _runtime._state.clear()
    _runtime._state.update(saved[0])
    tape.set_num_threads(saved[1])
    tape.set_default_dtype(saved[2])


def test_threads(restore_switches):
    n = tape.get_num_threads()
    assert n >= 1
    tape.set_num_threads(1)
    assert tape.get_num_threads() == 1
    x = tape.rand(300_000, requires_grad=True)      # (a parallel kernel still runs on one thread)
    (x * x).sum().backward()
    assert np.allclose(x.grad.numpy(), 2 * x.detach().numpy())
    tape.set_num_threads(10_000)
    assert tape.get_num_threads() == n
    for bad, msg in ((0, "expects a positive integer"), (-1, "expects a positive integer"),
                     (1.5, "expects an int, but got float"), (True, "expects an int, but got bool")):
        with pytest.raises(RuntimeError, match=f"^set_num_threads {msg}$"):
            tape.set_num_threads(bad)
    tape.set_num_interop_threads(3)
    assert tape.get_num_interop_threads() == 3
    with pytest.raises(RuntimeError, match="^set_num_interop_threads expects a positive integer$"):
        tape.set_num_interop_threads(0)
    assert tape.init_num_threads() is None


def test_deterministic_switches(restore_switches):
    assert not tape.are_deterministic_algorithms_enabled() and tape.get_deterministic_debug_mode() == 0
    tape.use_deterministic_algorithms(True)
    assert tape.are_deterministic_algorithms_enabled() and not tape.is_deterministic_algorithms_warn_only_enabled()
    assert tape.get_deterministic_debug_mode() == 2
    tape.set_deterministic_debug_mode("warn")
    assert tape.is_deterministic_algorithms_warn_only_enabled() and tape.get_deterministic_debug_mode() == 1
    tape.set_deterministic_debug_mode(0)
    assert not tape.are_deterministic_algorithms_enabled()
    with pytest.raises(TypeError, match=r"argument 'mode' \(position 1\) must be bool, not int"):
        tape.use_deterministic_algorithms(1)
    with pytest.raises(TypeError, match="argument 'warn_only' must be bool, not int"):
        tape.use_deterministic_algorithms(True, warn_only=1)
    with pytest.raises(RuntimeError, match="expected one of `default`, `warn`, `error`, but got x$"):
        tape.set_deterministic_debug_mode("x")
    with pytest.raises(RuntimeError, match="expected 0, 1, or 2, but got 3$"):
        tape.set_deterministic_debug_mode(3)
    with pytest.raises(TypeError, match="debug_mode must be str or int, but got <class 'float'>"):
        tape.set_deterministic_debug_mode(1.0)


def test_matmul_precision_and_denormals(restore_switches):
    assert tape.get_float32_matmul_precision() == "highest"
    tape.set_float32_matmul_precision("medium")
    assert tape.get_float32_matmul_precision() == "medium"
    with pytest.warns(UserWarning, match="x is not one of 'highest', 'high', or 'medium'"):
        tape.set_float32_matmul_precision("x")
    assert tape.get_float32_matmul_precision() == "medium"
    assert tape.set_flush_denormal(True) is False
    assert np.float32(1e-40) * np.float32(1) != 0           # (denormals still computed)
    with pytest.raises(RuntimeError, match="^flush_denormal expects a bool, but got int$"):
        tape.set_flush_denormal(1)


def test_set_default_tensor_type(restore_switches):
    _runtime._state["warned_tensor_type"] = False
    with pytest.warns(UserWarning, match=r"set_default_tensor_type\(\) is deprecated as of PyTorch 2.1"):
        tape.set_default_tensor_type(tape.DoubleTensor)
    assert tape.get_default_dtype() is tape.float64 and tape.zeros(1).dtype is tape.float64
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # (warns once)
        tape.set_default_tensor_type("torch.FloatTensor")
    assert tape.get_default_dtype() is tape.float32
    with pytest.raises(TypeError, match="^only floating-point types are supported as the default type$"):
        tape.set_default_tensor_type(tape.LongTensor)
    with pytest.raises(TypeError, match="^invalid type object: only floating-point"):
        tape.set_default_tensor_type(tape.float64)
    with pytest.raises(TypeError, match="Torch not compiled with CUDA enabled"):
        tape.set_default_tensor_type("torch.cuda.FloatTensor")
    with pytest.raises(ModuleNotFoundError, match="No module named 'Foo'"):
        tape.set_default_tensor_type("Foo")
    with pytest.raises(AttributeError, match="module 'torch' has no attribute 'Foo'"):
        tape.set_default_tensor_type("torch.Foo")


def test_names_about_objects():
    x = tape.zeros(2, dtype=tape.float64)
    assert tape.typename(x) == "torch.DoubleTensor"
    assert tape.typename(3) == "int" and tape.typename(len) == "len"
    assert tape.typename(math) == "math" and tape.typename(np.zeros(1)) == "numpy.ndarray"
    assert tape.is_storage(x.untyped_storage()) and not tape.is_storage(x)
    assert tape.get_device(x) == -1
    with pytest.raises(TypeError, match=r"get_device\(\): argument 'input' \(position 1\) must be Tensor, not int"):
        tape.get_device(1)
    assert tape.has_lapack is True


def test_backends_version_cpu():
    import tape.backends.cudnn as cudnn
    assert tape.backends.cpu.get_cpu_capability() in ("AVX512", "AVX2", "DEFAULT")
    assert not tape.backends.mps.is_available() and not tape.backends.mps.is_built()
    assert not tape.backends.cuda.is_built() and not cudnn.is_available() and cudnn.version() is None
    assert not tape.backends.mkl.is_available() and not tape.backends.openmp.is_available()
    with cudnn.flags(enabled=False, deterministic=True):
        assert cudnn.deterministic is True and cudnn.enabled is False
    assert cudnn.deterministic is False and cudnn.enabled is True
    opt = importlib.import_module("tape.backends.opt_einsum")
    assert not opt.is_available() and opt.get_opt_einsum() is None
    with opt.flags(enabled=False):
        assert opt.enabled is False
    assert opt.enabled is True
    assert tape.version.__version__ == tape.__version__ and tape.version.cuda is None
    assert tape.cpu.is_available() and tape.cpu.device_count() == 1 and tape.cpu.current_device() == "cpu"


def test_tensor_dtype_methods():
    x = tape.tensor([1.7, -2.2, 0.0], requires_grad=True)
    for method, dt in (("byte", tape.uint8), ("char", tape.int8), ("short", tape.int16)):
        y = getattr(x.detach(), method)()
        assert y.dtype is dt and y.tolist() == [1, -2 if dt is not tape.uint8 else 254, 0]
    h = x.half()
    assert h.dtype is tape.float16 and type(h.grad_fn).__name__ == "ToCopyBackward0"
    assert not x.is_sparse and not x.is_quantized and not x.is_mps and not x.is_pinned()
    assert x.sparse_dim() == 0 and tape.zeros(2, 3).dense_dim() == 2
    with pytest.raises(RuntimeError, match="^Cannot access accelerator device when none is available.$"):
        x.pin_memory()


def test_complex_names_on_real_tensors():
    x = tape.tensor([1.0, -2.0], requires_grad=True)
    for name in ("conj", "resolve_conj", "resolve_neg", "conj_physical"):
        assert getattr(x, name)() is x and getattr(tape, name)(x) is x
    assert x.real is x and tape.real(x) is x
    assert not x.is_conj() and not tape.is_neg(x)
    with pytest.raises(RuntimeError, match="^imag is not implemented for tensors with non-complex dtypes.$"):
        x.imag
    with pytest.raises(TypeError, match=r"conj\(\): argument 'input' \(position 1\) must be Tensor, not int"):
        tape.conj(3)


@pytest.mark.parametrize("name", ["lstsq", "solve", "symeig", "eig"])
def test_functions_pytorch_removed(name):
    a = tape.eye(2)
    with pytest.raises(RuntimeError, match="^This function was deprecated since version 1.9 and is now removed. "):
        getattr(tape, name)(a, a) if name in ("lstsq", "solve") else getattr(tape, name)(a)
    with pytest.raises(RuntimeError, match="now removed"):
        getattr(a, name)(a) if name in ("lstsq", "solve") else getattr(a, name)()


WINDOWS = [("hann_window", (5,), [0.0, 0.3454915, 0.9045085, 0.9045085, 0.3454915]),
           ("hann_window", (5, False), [0.0, 0.5, 1.0, 0.5, 0.0]),
           ("hamming_window", (5,), [0.08, 0.39785218, 0.9121478, 0.9121478, 0.39785218]),
           ("hamming_window", (5, False, 0.5, 0.5), [0.0, 0.5, 1.0, 0.5, 0.0]),
           ("blackman_window", (5,), [-2.9802322e-08, 0.20077014, 0.84922986, 0.84922986, 0.20077014]),
           ("bartlett_window", (5,), [0.0, 0.4, 0.8, 0.8, 0.4]),
           ("bartlett_window", (6, False), [0.0, 0.4, 0.8, 0.8, 0.4, 0.0]),
           ("kaiser_window", (5,), [5.2773437e-05, 0.10171971, 0.79293942, 0.79293942, 0.10171971]),
           ("kaiser_window", (5, False, 8.0), [0.0023388299, 0.36897263, 1.0, 0.36897263, 0.0023388299]),
           ("hann_window", (1,), [1.0]), ("hann_window", (0,), [])]


@pytest.mark.parametrize("name,args,expected", WINDOWS)
def test_windows(name, args, expected):
    w = getattr(tape, name)(*args)
    assert w.dtype is tape.float32 and not w.requires_grad
    np.testing.assert_allclose(w.numpy(), expected, rtol=2e-4, atol=5e-8)
    w64 = getattr(tape, name)(*args, dtype=tape.float64, requires_grad=True)
    assert w64.dtype is tape.float64 and w64.is_leaf and w64.requires_grad


def test_window_errors():
    with pytest.raises(RuntimeError, match="^hann_window requires non-negative window_length, got window_length=-1$"):
        tape.hann_window(-1)
    with pytest.raises(RuntimeError, match=r"^kaiser_window expects floating point dtypes, got: "
                                           r"TensorOptions\(dtype=long int, device=cpu"):
        tape.kaiser_window(4, dtype=tape.int64)
    with pytest.raises(TypeError, match=r"argument 'window_length' \(position 1\) must be int, not float"):
        tape.hann_window(5.0)


@pytest.mark.torch
def test_against_pytorch():
    torch = pytest.importorskip("torch")
    for name, args, _ in WINDOWS + [("hann_window", (400,), None), ("blackman_window", (33, False), None)]:
        for dt in ("float32", "float64"):
            a = getattr(torch, name)(*args, dtype=getattr(torch, dt)).numpy()
            b = getattr(tape, name)(*args, dtype=getattr(tape, dt)).numpy()
            np.testing.assert_allclose(b, a, rtol=1e-6 if dt == "float32" else 1e-13, atol=1e-7)
    for name in ("is_sparse", "is_quantized", "is_mkldnn", "is_nested", "is_mps", "is_xpu"):
        assert getattr(tape.zeros(1), name) == getattr(torch.zeros(1), name)
    assert tape.typename(tape.zeros(2, dtype=tape.int64)) == torch.typename(torch.zeros(2, dtype=torch.int64))
    for name in ("lstsq", "solve", "symeig", "eig"):
        with pytest.raises(RuntimeError) as ours:
            getattr(tape.eye(2), name)(*([tape.eye(2)] if name in ("lstsq", "solve") else []))
        with pytest.raises(RuntimeError) as theirs:
            getattr(torch.eye(2), name)(*([torch.eye(2)] if name in ("lstsq", "solve") else []))
        assert str(ours.value) == str(theirs.value)


def test_apply_map_map2():
    f = tape.tensor([1.5, 2.5])
    assert f.clone().apply_(lambda v: v * 2).tolist() == [3.0, 5.0]
    assert tape.tensor([1, 2, 3]).apply_(lambda v: -2.7).tolist() == [-2, -2, -2]       # (truncated)
    assert tape.tensor([1, 2], dtype=tape.uint8).apply_(lambda v: -1).tolist() == [255, 255]
    assert tape.tensor([True, False]).apply_(lambda v: 0.5).tolist() == [True, True]
    z = tape.arange(5.0)
    z[::2].apply_(lambda v: v * 10)                     # (through a view, into the base)
    assert z.tolist() == [0.0, 1.0, 20.0, 3.0, 40.0]
    leaf = tape.tensor([1.0, 2.0], requires_grad=True)
    d = leaf.detach()
    d.apply_(lambda v: v * 3)                           # (as ``.data``: no version counted)
    assert leaf.tolist() == [3.0, 6.0] and leaf._version == 0 and d._version == 0
    assert f.clone().map_(f, lambda a, b: a * b).tolist() == [2.25, 6.25]
    assert tape.ones(3).map_(tape.tensor(2.0), lambda a, b: a + b).tolist() == [3.0, 3.0, 3.0]
    assert f.clone().map2_(f, tape.ones(1), lambda a, b, c: a + b + c).tolist() == [4.0, 6.0]
    with pytest.raises(RuntimeError, match=r"^Can't call apply_\(\) on Variable that requires grad. "
                                           r"Use var.detach\(\).apply_\(\) instead.$"):
        leaf.apply_(lambda v: v)
    with pytest.raises(TypeError, match="^must be real number, not str$"):
        f.clone().apply_(lambda v: "a")
    with pytest.raises(TypeError, match="^'NoneType' object cannot be interpreted as an integer$"):
        tape.tensor([1]).apply_(lambda v: None)
    with pytest.raises(ValueError, match="^Overflow when unpacking long long$"):
        tape.tensor([1]).apply_(lambda v: 2 ** 70)
    with pytest.raises(TypeError, match=r"^map_: expected torch.DoubleTensor for 'other' \(got torch.FloatTensor\)$"):
        tape.ones(2, dtype=tape.float64).map_(tape.ones(2), lambda a, b: a)
    with pytest.raises(TypeError, match=r"^map2_: expected torch.FloatTensor for argument 'y' \(got torch.LongTensor\)$"):
        f.clone().map2_(f, tape.tensor([1, 2]), lambda a, b, c: a)
    with pytest.raises(TypeError, match=r"^map2_\(\): argument 'y' \(position 2\) must be Tensor, not int$"):
        f.clone().map2_(f, 3, lambda a, b, c: a)
    with pytest.raises(TypeError, match=r"^map_\(\): argument 'other' \(position 1\) must be Tensor, not int$"):
        f.clone().map_(3, lambda a, b: a)
    with pytest.raises(RuntimeError, match=r"The expanded size of the tensor \(3\) must match the existing size \(2\)"):
        tape.ones(3).map_(tape.ones(2), lambda a, b: a)


def test_top_level_forms_of_in_place_methods():
    x = tape.ones(2, requires_grad=True) * 1
    assert tape.detach_(x) is x and x.grad_fn is None and not x.requires_grad
    assert tape.index_put_(tape.zeros(3), (tape.tensor([0]),), tape.tensor(5.0), accumulate=True).tolist() == [5, 0, 0]
    assert tape.resize_as_(tape.zeros(3), tape.zeros(2)).shape == (2,)
    assert tape.addmv_(tape.zeros(2), tape.ones(2, 3), tape.ones(3), beta=2, alpha=3).tolist() == [9.0, 9.0]
    for name in ("detach_", "index_put_", "resize_as_", "addmv_"):
        with pytest.raises(TypeError, match=rf"^{name}\(\): argument 'input' \(position 1\) must be Tensor, not int$"):
            getattr(tape, name)(3)
