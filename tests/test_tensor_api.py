"""Tensor API: creation, dtypes, shape queries, conversion, repr, comparisons,
functional forms (``import tape as torch``).

Expectations were checked against PyTorch 2.x.  The repr tests that compare
against PyTorch itself are skipped when torch is not installed.
"""
import math
import operator
import re

import numpy as np
import pytest

import tape as torch


INF, NAN = float("inf"), float("nan")


@pytest.fixture(autouse=True)
def _restore_global_state():
    yield
    torch.set_grad_enabled(True)
    torch.set_default_dtype(torch.float32)


def vals(t):
    return t.detach().tolist()


# ---------------------------------------------------------------------------
# creation
# ---------------------------------------------------------------------------

def test_tensor_basic():
    x = torch.tensor([1.0, 2.0, 3.0])
    assert isinstance(x, torch.Tensor)
    assert x.dtype == torch.float32
    assert tuple(x.shape) == (3,)
    assert x.tolist() == [1.0, 2.0, 3.0]
    assert x.requires_grad is False
    y = torch.tensor([[1, 2], [3, 4]], dtype=torch.float64)
    assert y.dtype == torch.float64 and tuple(y.shape) == (2, 2)
    assert y.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_tensor_copies_its_data():
    a = np.array([1.0, 2.0])
    t = torch.tensor(a)
    a[0] = 9.0
    assert t.tolist() == [1.0, 2.0]
    assert t.dtype == torch.float64


def test_tensor_from_numpy_dtypes():
    assert torch.tensor(np.array([1, 2], dtype=np.int32)).dtype == torch.int32
    assert torch.tensor(np.array([1, 2], dtype=np.int64)).dtype == torch.int64
    assert torch.tensor(np.array([1.0], dtype=np.float32)).dtype == torch.float32
    assert torch.tensor(np.float64(2.0)).dtype == torch.float64
    assert torch.tensor(np.array(2.0)).dtype == torch.float64


def test_legacy_tensor_constructor():
    t = torch.Tensor([2])
    assert t.dtype == torch.float32
    assert str(t) == "tensor([2.])"
    t = torch.Tensor(2, 3)
    assert tuple(t.shape) == (2, 3)
    assert t.dtype == torch.float32
    t = torch.Tensor([[1, 2], [3, 4]])
    assert t.dtype == torch.float32 and t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    t = torch.Tensor()
    assert tuple(t.shape) == (0,)
    assert torch.Tensor([2]).is_leaf is True
    assert torch.Tensor([2]).requires_grad is False


def test_as_tensor():
    a = np.array([1.0, 2.0])
    x = torch.as_tensor(a)
    assert x.dtype == torch.float64
    a[1] = 5.0
    assert x.tolist() == [1.0, 5.0]  # shares memory with the numpy array
    assert torch.as_tensor([1, 2]).dtype == torch.int64
    assert torch.as_tensor(np.array([1, 2], dtype=np.float32)).dtype == torch.float32
    assert torch.as_tensor([1.0, 2.0], dtype=torch.float64).dtype == torch.float64
    t = torch.ones(2)
    assert torch.as_tensor(t) is t


def test_from_numpy_shares_memory():
    a = np.array([1.0, 2.0])
    t = torch.from_numpy(a)
    assert t.dtype == torch.float64
    a[0] = 9.0
    assert t.tolist() == [9.0, 2.0]
    t.mul_(2)
    assert a.tolist() == [18.0, 4.0]
    assert np.shares_memory(t.numpy(), a)
    assert torch.from_numpy(np.zeros(3, dtype=np.float32)).dtype == torch.float32
    assert torch.from_numpy(np.zeros(3, dtype=np.int64)).dtype == torch.int64


def test_zeros_ones():
    z = torch.zeros(2, 3)
    assert tuple(z.shape) == (2, 3) and z.dtype == torch.float32
    assert z.tolist() == [[0.0] * 3] * 2
    assert tuple(torch.zeros((2, 3)).shape) == (2, 3)
    assert tuple(torch.zeros([2, 3]).shape) == (2, 3)
    assert torch.zeros(2, dtype=torch.int64).tolist() == [0, 0]
    assert torch.zeros(2, dtype=torch.int64).dtype == torch.int64
    o = torch.ones(2, 3, dtype=torch.float64)
    assert o.dtype == torch.float64 and o.tolist() == [[1.0] * 3] * 2
    assert tuple(torch.ones(()).shape) == ()
    assert torch.ones(3, requires_grad=True).requires_grad is True
    assert tuple(torch.zeros(0).shape) == (0,)


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
def test_size_given_as_a_keyword(name):
    make = getattr(torch, name)
    assert make(size=(2, 3)).shape == (2, 3) and make(size=[4]).shape == (4,) and make(size=()).shape == ()
    assert make(size=torch.Size([1, 2]), dtype=torch.float64).dtype == torch.float64
    assert make(size=(), requires_grad=True).requires_grad
    with pytest.raises(TypeError, match=f"^{name}\\(\\): argument 'size' must be tuple of ints, not int"):
        make(size=2)
    random = name in ("rand", "randn")
    both = (f"^{name}\\(\\) received an invalid combination of arguments - got \\(int, size=tuple\\), but expected one of:"
            if random else f"^{name}\\(\\) got multiple values for argument 'size'$")
    with pytest.raises(TypeError, match=both):
        make(2, size=(2,))
    neither = (f"^{name}\\(\\) received an invalid combination of arguments - got \\(\\)," if random
               else f'^{name}\\(\\) missing 1 required positional arguments: "size"$')
    with pytest.raises(TypeError, match=neither):
        make()
    with pytest.raises(TypeError, match=f'^{name}\\(\\) missing 1 required positional arguments: "size"$'):
        make(dtype=torch.float64)


def test_full():
    f = torch.full((2, 2), 3.5)
    assert f.dtype == torch.float32 and f.tolist() == [[3.5, 3.5], [3.5, 3.5]]
    assert torch.full((2,), 3).dtype == torch.int64
    assert torch.full((2,), True).dtype == torch.bool
    assert torch.full((2,), 3, dtype=torch.float64).tolist() == [3.0, 3.0]


def test_empty():
    e = torch.empty(2, 3)
    assert tuple(e.shape) == (2, 3) and e.dtype == torch.float32
    assert torch.empty(4, dtype=torch.float64).dtype == torch.float64


def test_arange():
    assert torch.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert torch.arange(5).dtype == torch.int64
    assert torch.arange(1, 4).tolist() == [1, 2, 3]
    assert torch.arange(0, 5, 2).tolist() == [0, 2, 4]
    assert torch.arange(0, 5, 2).dtype == torch.int64
    x = torch.arange(0, 1, 0.25)
    assert x.dtype == torch.float32 and x.tolist() == [0.0, 0.25, 0.5, 0.75]
    assert torch.arange(5.0).dtype == torch.float32
    assert torch.arange(1, 2, dtype=torch.float64).tolist() == [1.0]
    assert torch.arange(1, 2, dtype=torch.float64).dtype == torch.float64


def test_linspace():
    x = torch.linspace(0, 1, 5)
    assert x.dtype == torch.float32
    assert x.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert torch.linspace(0, 10, steps=3).tolist() == [0.0, 5.0, 10.0]
    assert torch.linspace(0, 1, 3, dtype=torch.float64).dtype == torch.float64


def test_eye():
    assert torch.eye(3).tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    assert torch.eye(3).dtype == torch.float32
    assert torch.eye(2, 3).tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert torch.eye(2, dtype=torch.int64).tolist() == [[1, 0], [0, 1]]


def test_like_constructors():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    for fn, v in ((torch.zeros_like, 0.0), (torch.ones_like, 1.0)):
        r = fn(x)
        assert r.dtype == torch.float64 and tuple(r.shape) == (2, 2)
        assert r.tolist() == [[v, v], [v, v]]
    f = torch.full_like(x, 7)
    assert f.dtype == torch.float64 and f.tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert torch.zeros_like(x, dtype=torch.float32).dtype == torch.float32
    assert torch.ones_like(torch.tensor([1, 2])).tolist() == [1, 1]
    assert torch.ones_like(torch.tensor([1, 2])).dtype == torch.int64
    # *_like does not copy requires_grad
    assert torch.ones_like(torch.ones(2, requires_grad=True)).requires_grad is False
    assert torch.zeros_like(torch.ones(2), requires_grad=True).requires_grad is True


def test_random_constructors_shapes_and_dtypes():
    r = torch.rand(2, 3)
    assert tuple(r.shape) == (2, 3) and r.dtype == torch.float32
    a = r.numpy()
    assert np.all((a >= 0) & (a < 1))
    assert tuple(torch.rand((2, 3)).shape) == (2, 3)
    n = torch.randn(4)
    assert tuple(n.shape) == (4,) and n.dtype == torch.float32
    assert torch.randn(2, 3, dtype=torch.float64).dtype == torch.float64
    i = torch.randint(0, 10, (3,))
    assert i.dtype == torch.int64 and tuple(i.shape) == (3,)
    assert all(0 <= v < 10 for v in i.tolist())
    j = torch.randint(5, (2, 2))
    assert tuple(j.shape) == (2, 2) and all(0 <= v < 5 for row in j.tolist() for v in row)
    k = torch.randint(0, 10, [2, 3], dtype=torch.float64)
    assert k.dtype == torch.float64
    w = torch.randn(3, requires_grad=True)
    assert w.requires_grad is True and w.is_leaf is True


def test_randn_statistics():
    torch.manual_seed(123)
    a = torch.randn(20000).numpy()
    assert abs(a.mean()) < 0.05 and abs(a.std() - 1) < 0.05
    b = torch.rand(20000).numpy()
    assert abs(b.mean() - 0.5) < 0.02


def test_manual_seed_reproducibility():
    torch.manual_seed(0)
    a, b, c = torch.randn(5), torch.rand(3), torch.randint(0, 100, (4,))
    torch.manual_seed(0)
    a2, b2, c2 = torch.randn(5), torch.rand(3), torch.randint(0, 100, (4,))
    assert a.tolist() == a2.tolist()
    assert b.tolist() == b2.tolist()
    assert c.tolist() == c2.tolist()
    torch.manual_seed(1)
    assert torch.randn(5).tolist() != a.tolist()


# ---------------------------------------------------------------------------
# dtypes
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("data,dtype", [
    ([1, 2], "int64"),
    ([1.0, 2.0], "float32"),
    (True, "bool"),
    ([True, False], "bool"),
    ([1, 2.0], "float32"),
    (3, "int64"),
    (3.0, "float32"),
    ([], "float32"),
    ([True, 2], "int64"),
    # (numpy scalars and tensors among the items keep their dtypes, promoted with the Python numbers')
    ([np.int16(1), np.int16(2)], "int16"),
    ([[np.int16(1)], [np.int16(2)]], "int16"),
    ([np.float64(1.0), 2.0], "float64"),
    ([np.uint8(3)], "uint8"),
    ([np.int16(1), 2], "int64"),
    ([np.int8(1), np.float32(2.0)], "float32"),
    ([np.float32(1.0), 2.0], "float32"),
])
def test_dtype_inference(data, dtype):
    assert torch.tensor(data).dtype == getattr(torch, dtype)


def test_dtype_objects():
    assert torch.float32 != torch.float64
    assert torch.float == torch.float32
    assert torch.double == torch.float64
    assert torch.long == torch.int64
    assert torch.int == torch.int32
    assert str(torch.float32) == "torch.float32"
    assert repr(torch.float64) == "torch.float64"
    assert torch.float32.is_floating_point is True
    assert torch.int64.is_floating_point is False
    assert torch.tensor([1.0]).is_floating_point() is True
    assert torch.tensor([1]).is_floating_point() is False


# ---------------------------------------------------------------------------
# shape queries, conversion
# ---------------------------------------------------------------------------

def test_shape_size_dim_numel():
    x = torch.ones(2, 3)
    assert x.shape == (2, 3)
    assert x.size() == (2, 3)
    assert isinstance(x.shape, tuple)
    assert x.size(1) == 3 and x.size(-1) == 3 and x.size(0) == 2
    assert x.shape[0] == 2
    assert x.dim() == 2 and x.ndim == 2
    assert x.numel() == 6
    assert len(x) == 2
    s = torch.tensor(1.0)
    assert s.shape == () and s.dim() == 0 and s.numel() == 1
    if hasattr(torch, "Size"):
        assert isinstance(x.shape, torch.Size)
        assert repr(x.shape) == "torch.Size([2, 3])"
        assert torch.ones(x.shape).shape == (2, 3)
        # (slices, sums and repeats of a Size are Sizes; an item is an int)
        s = torch.ones(2, 3, 4).shape
        for part in (s[1:], s[::2], s + (5,), (5,) + s, s * 2, 2 * s):
            assert type(part) is torch.Size
        assert s[1:] == (3, 4) and (1,) + s == (1, 2, 3, 4) and type(s[-1]) is int


def test_len_of_0d_errors():
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(torch.tensor(1.0))


def test_item():
    assert torch.tensor(3.5).item() == 3.5
    assert type(torch.tensor(3.5).item()) is float
    assert type(torch.tensor(3).item()) is int
    assert type(torch.tensor(True).item()) is bool
    assert torch.tensor([7.5]).item() == 7.5
    assert torch.tensor([[2.0]]).item() == 2.0
    # float32 value converted exactly to a Python float
    assert torch.tensor(0.1).item() == float(np.float32(0.1))
    assert torch.tensor(0.1, dtype=torch.float64).item() == 0.1


def test_tolist():
    assert torch.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert torch.tensor(2.0).tolist() == 2.0
    assert type(torch.tensor([1, 2]).tolist()[0]) is int
    assert type(torch.tensor([1.0]).tolist()[0]) is float
    assert torch.tensor([True, False]).tolist() == [True, False]
    assert torch.tensor([1.0, 2.0], requires_grad=True).tolist() == [1.0, 2.0]


def test_numpy_and_array_protocol():
    x = torch.tensor([1.0, 2.0])
    a = x.numpy()
    assert isinstance(a, np.ndarray)
    assert a.dtype == np.float32
    assert np.shares_memory(a, x.numpy())
    a[0] = 5.0
    assert x.tolist() == [5.0, 2.0]  # numpy() shares memory
    assert np.asarray(torch.tensor([1, 2])).dtype == np.int64
    assert np.array(torch.ones(2)).tolist() == [1.0, 1.0]
    assert torch.tensor([1.0], dtype=torch.float64).numpy().dtype == np.float64
    assert torch.tensor([True]).numpy().dtype == np.bool_
    assert np.asarray(torch.ones(2, 3)).shape == (2, 3)


# ---------------------------------------------------------------------------
# repr
# ---------------------------------------------------------------------------

REPR_CASES = [
    ([1, 2, 3], None), ([-1, 10, 100], None), ([[1, 2], [3, 4]], None), (5, None), (-7, None),
    ([123456789, 1], None), ([2 ** 40, 1], None),
    ([1.0, 2.0], None), ([1.5, 2.25], None), ([0.1, 0.2], None), (3.5, None), (1e-5, None),
    ([1e-5, 1.0], None), ([1e8, 1.0], None), ([54.598, 1.0, 1096.6], None), ([1e10], None),
    ([-1.5, 2.5], None), ([0.0, -0.0], None), ([1e-10, 1e10], None), ([-INF, 1.0], None),
    ([NAN, 1.0], None), ([INF, -INF, NAN], None), ([1.5, INF], None), ([[1.0, 2.0], [3.0, 4.0]], None),
    ([True, False], None), (True, None), ([[True], [False]], None),
    ([1.0, 2.0], "float64"), (2.5, "float64"), ([1, 2], "float64"), ([1, 2], "int32"),
    ([], None), ([], "int64"), ([], "float64"), (4.0, None), (-0.5, None), (0.0, None),
    ([1234567.0], None), ([123456.7, 1.0], None), ([0.001, 1000.0], None), ([0.0001, 1.0], None),
    ([[1e-3, 2.0], [3.0, 4e3]], "float64"), ([100.0, 200.0], None), ([1.0, -1.0], None),
    ([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]], None), ([1e-8, 0.0], None), ([0.0, 0.0], None),
    ([float(i) for i in range(1, 15)], None), ([0.5] * 12, None), ([1e20, -1e-20], "float64"),
    ([[1.1, 2.2, 3.3]] * 3, None), ([-1e-5, 3.0], None),
    ([0.0893, 0.1730, 0.1023, 0.2946, 0.5129, 0.2371, 0.1064, 0.9711, 0.8577, 0.0347], None),
    ([[4.0, 0.0, 7.0], [6.0, 3.0, 5.0]], "float64"),
    ([1.3863, -INF, 1.9459], "float64"),
    ([1300.0, 2800.0], "float64"),
    ([3.14159265, 2.71828], "float64"),
]


def _build(lib, data, dtype, requires_grad=False):
    kw = {} if dtype is None else {"dtype": getattr(lib, dtype)}
    return lib.tensor(data, requires_grad=requires_grad, **kw)


@pytest.mark.torch
@pytest.mark.parametrize("data,dtype", REPR_CASES, ids=[str(i) for i in range(len(REPR_CASES))])
def test_repr_matches_pytorch(data, dtype):
    real = pytest.importorskip("torch")
    mine = _build(torch, data, dtype)
    ref = _build(real, data, dtype)
    expected = str(ref)
    assert str(mine) == expected
    assert repr(mine) == expected


GRAD_REPR_CASES = {
    "leaf": lambda lib: lib.tensor([1.0, 2.0], requires_grad=True),
    "leaf0d": lambda lib: lib.tensor(2.0, requires_grad=True),
    "leaf64": lambda lib: lib.tensor([1.5, 2.0], dtype=lib.float64, requires_grad=True),
    "mul": lambda lib: lib.tensor([1.0, 2.0], requires_grad=True) * 2,
    "sum": lambda lib: (lib.tensor([1.0, 2.0], requires_grad=True) * 2).sum(),
    "double": lambda lib: lib.tensor([1.0, 2.0], requires_grad=True).double(),
    "mul64": lambda lib: lib.tensor(2.0, dtype=lib.float64, requires_grad=True) * 3,
    "exp": lambda lib: lib.tensor([0.0, 1.0, 4.0], requires_grad=True).exp(),
    "add2d": lambda lib: lib.ones(2, 2, requires_grad=True) + 1,
    "div": lambda lib: lib.tensor(8.0, requires_grad=True) / lib.tensor(3.0),
    "zeros_like_rg": lambda lib: lib.zeros(3, dtype=lib.float64, requires_grad=True),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(GRAD_REPR_CASES))
def test_repr_with_autograd_suffix_matches_pytorch(name):
    real = pytest.importorskip("torch")
    mine = GRAD_REPR_CASES[name](torch)
    ref = GRAD_REPR_CASES[name](real)
    assert str(mine) == str(ref)


@pytest.mark.torch
def test_repr_of_large_and_empty_tensors_matches_pytorch():
    real = pytest.importorskip("torch")
    for build in (lambda lib: lib.zeros(0, 3), lambda lib: lib.zeros(2, 0),
                  lambda lib: lib.arange(1001), lambda lib: lib.arange(2000.0).reshape(40, 50),
                  lambda lib: lib.ones(3, dtype=lib.int32), lambda lib: lib.eye(3),
                  lambda lib: lib.linspace(-1, 1, 5), lambda lib: lib.linspace(0, 2, 5)):
        assert str(build(torch)) == str(build(real))


# hard-coded expectations (PyTorch's output), checked without torch installed
REPR_FIXED = [
    (lambda: torch.tensor([1, 2, 3]), "tensor([1, 2, 3])"),
    (lambda: torch.tensor([-1, 10, 100]), "tensor([ -1,  10, 100])"),
    (lambda: torch.tensor(5), "tensor(5)"),
    (lambda: torch.tensor([1.0, 2.0]), "tensor([1., 2.])"),
    (lambda: torch.tensor(3.5), "tensor(3.5000)"),
    (lambda: torch.tensor([1.5, 2.25]), "tensor([1.5000, 2.2500])"),
    (lambda: torch.tensor([-1.5, 2.5]), "tensor([-1.5000,  2.5000])"),
    (lambda: torch.tensor([54.598, 1.0, 1096.6]), "tensor([5.4598e+01, 1.0000e+00, 1.0966e+03])"),
    (lambda: torch.tensor(1e-5), "tensor(1.0000e-05)"),
    (lambda: torch.tensor([-INF, 1.0]), "tensor([-inf, 1.])"),
    (lambda: torch.tensor([INF, -INF, NAN]), "tensor([inf, -inf, nan])"),
    (lambda: torch.tensor([1.5, INF]), "tensor([1.5000,    inf])"),
    (lambda: torch.tensor([[1.0, 2.0], [3.0, 4.0]]), "tensor([[1., 2.],\n        [3., 4.]])"),
    (lambda: torch.tensor([True, False]), "tensor([ True, False])"),
    (lambda: torch.tensor(True), "tensor(True)"),
    (lambda: torch.tensor([1.0, 2.0], dtype=torch.float64), "tensor([1., 2.], dtype=torch.float64)"),
    (lambda: torch.tensor(2.5, dtype=torch.float64), "tensor(2.5000, dtype=torch.float64)"),
    (lambda: torch.tensor([1, 2], dtype=torch.int32), "tensor([1, 2], dtype=torch.int32)"),
    (lambda: torch.tensor([]), "tensor([])"),
    (lambda: torch.zeros(0, 3), "tensor([], size=(0, 3))"),
    (lambda: torch.tensor([1.0, 2.0], requires_grad=True), "tensor([1., 2.], requires_grad=True)"),
    (lambda: torch.tensor([1.0, 2.0], requires_grad=True) * 2, "tensor([2., 4.], grad_fn=<MulBackward0>)"),
    (lambda: (torch.tensor([1.0, 2.0], requires_grad=True) * 2).sum(), "tensor(6., grad_fn=<SumBackward0>)"),
    (lambda: torch.tensor([1.0, 2.0], requires_grad=True).double(),
     "tensor([1., 2.], dtype=torch.float64, grad_fn=<ToCopyBackward0>)"),
    (lambda: torch.tensor([1e20, -1e-20], dtype=torch.float64),
     "tensor([ 1.0000e+20, -1.0000e-20], dtype=torch.float64)"),
    (lambda: torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]]),
     "tensor([[[1., 2.],\n         [3., 4.]],\n\n        [[5., 6.],\n         [7., 8.]]])"),
    (lambda: torch.arange(1001), "tensor([   0,    1,    2,  ...,  998,  999, 1000])"),
]


@pytest.mark.parametrize("i", range(len(REPR_FIXED)))
def test_repr_fixed(i):
    build, expected = REPR_FIXED[i]
    t = build()
    assert str(t) == expected
    assert repr(t) == expected


def test_print_uses_str(capsys):
    print(torch.tensor([1.0, 2.0]))
    assert capsys.readouterr().out == "tensor([1., 2.])\n"


# ---------------------------------------------------------------------------
# dtype conversion, clone
# ---------------------------------------------------------------------------

def test_float_double_to():
    x = torch.tensor([1.0, 2.0])
    assert x.float() is x
    assert x.to(torch.float32) is x
    d = x.double()
    assert d.dtype == torch.float64 and d.tolist() == [1.0, 2.0]
    assert x.to(torch.float64).dtype == torch.float64
    assert x.to(dtype=torch.float64).dtype == torch.float64
    i = torch.tensor([1.7, -1.7]).to(torch.int64)
    assert i.dtype == torch.int64 and i.tolist() == [1, -1]
    assert torch.tensor([1, 2]).float().dtype == torch.float32
    assert torch.tensor([1, 2]).double().tolist() == [1.0, 2.0]
    assert torch.tensor([0.0, 2.0]).bool().tolist() == [False, True]
    assert torch.tensor([1.9]).long().tolist() == [1]
    assert torch.tensor([1.9]).int().dtype == torch.int32


def test_conversion_copies():
    x = torch.tensor([1.0, 2.0])
    d = x.double()
    d.add_(1)
    assert x.tolist() == [1.0, 2.0]
    f = x.float()  # same dtype: no copy (PyTorch returns self)
    f.add_(1)
    assert x.tolist() == [2.0, 3.0]


def test_conversion_keeps_graph():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    d = x.double()
    assert d.requires_grad is True
    (d * d).sum().backward()
    assert x.grad.dtype == torch.float32
    assert x.grad.tolist() == [2.0, 4.0]


def test_clone():
    x = torch.tensor([1.0, 2.0])
    c = x.clone()
    assert c is not x and c.tolist() == [1.0, 2.0] and c.dtype == x.dtype
    c.add_(5)
    assert x.tolist() == [1.0, 2.0]
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    wc = w.clone()
    assert wc.requires_grad is True and wc.is_leaf is False
    (wc * 3).sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]


# ---------------------------------------------------------------------------
# comparisons, Python number protocol
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("op,expected", [
    (operator.eq, [False, True, False]),
    (operator.ne, [True, False, True]),
    (operator.lt, [True, False, False]),
    (operator.le, [True, True, False]),
    (operator.gt, [False, False, True]),
    (operator.ge, [False, True, True]),
])
def test_comparison_operators(op, expected):
    a = torch.tensor([1.0, 2.0, 3.0])
    b = torch.tensor([2.0, 2.0, 2.0])
    r = op(a, b)
    assert r.dtype == torch.bool
    assert r.tolist() == expected
    assert op(a, 2.0).tolist() == expected   # with a Python number
    assert op(a, 2).tolist() == expected
    assert r.requires_grad is False


@pytest.mark.parametrize("name,expected", [
    ("eq", [False, True, False]), ("ne", [True, False, True]), ("lt", [True, False, False]),
    ("le", [True, True, False]), ("gt", [False, False, True]), ("ge", [False, True, True]),
])
def test_comparison_methods(name, expected):
    a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    r = getattr(a, name)(torch.tensor(2.0))
    assert r.dtype == torch.bool and r.tolist() == expected
    assert r.requires_grad is False


def test_reflected_comparison_and_broadcast():
    a = torch.tensor([1.0, 2.0, 3.0])
    assert (2.0 < a).tolist() == [False, False, True]
    assert (2 == a).tolist() == [False, True, False]
    m = torch.tensor([[1.0], [3.0]]) > torch.tensor([0.0, 2.0])
    assert m.tolist() == [[True, False], [True, True]]


def test_bool_float_int_on_one_element():
    assert bool(torch.tensor([0.0])) is False
    assert bool(torch.tensor(2.0)) is True
    assert bool(torch.tensor([[1]])) is True
    assert float(torch.tensor([2.5])) == 2.5
    assert float(torch.tensor(3)) == 3.0
    assert int(torch.tensor(3.7)) == 3
    assert int(torch.tensor(-3.7)) == -3
    assert int(torch.tensor([[5]])) == 5
    x = torch.tensor(1.0, requires_grad=True)
    assert float(x) == 1.0
    assert bool(x > 0) is True
    assert "%d" % torch.tensor(12.0) == "12"
    assert "%.3f" % torch.tensor(1.5) == "1.500"


def test_index_on_integer_tensor():
    assert [10, 20, 30][torch.tensor(1)] == 20
    assert operator.index(torch.tensor(2)) == 2


# ---------------------------------------------------------------------------
# functional forms and methods
# ---------------------------------------------------------------------------

X = [0.5, 1.0, 2.0]
W = [2.0, -1.0, 0.5]


def _x():
    return torch.tensor(X)


def _w():
    return torch.tensor(W)


_x_np, _w_np = np.array(X), np.array(W)

FUNCTIONAL = [
    ("exp", lambda: torch.exp(_x()), lambda: _x().exp(), np.exp(_x_np)),
    ("log", lambda: torch.log(_x()), lambda: _x().log(), np.log(_x_np)),
    ("sqrt", lambda: torch.sqrt(_x()), lambda: _x().sqrt(), np.sqrt(_x_np)),
    ("sin", lambda: torch.sin(_x()), lambda: _x().sin(), np.sin(_x_np)),
    ("cos", lambda: torch.cos(_x()), lambda: _x().cos(), np.cos(_x_np)),
    ("tanh", lambda: torch.tanh(_x()), lambda: _x().tanh(), np.tanh(_x_np)),
    ("sigmoid", lambda: torch.sigmoid(_x()), lambda: _x().sigmoid(), 1 / (1 + np.exp(-_x_np))),
    ("abs", lambda: torch.abs(_w()), lambda: _w().abs(), np.abs(_w_np)),
    ("neg", lambda: torch.neg(_w()), lambda: _w().neg(), -_w_np),
    ("relu", lambda: torch.relu(_w()), lambda: _w().relu(), np.maximum(_w_np, 0)),
    ("mul", lambda: torch.mul(_x(), _w()), lambda: _x().mul(_w()), _x_np * _w_np),
    ("add", lambda: torch.add(_x(), _w()), lambda: _x().add(_w()), _x_np + _w_np),
    ("sub", lambda: torch.sub(_x(), _w()), lambda: _x().sub(_w()), _x_np - _w_np),
    ("div", lambda: torch.div(_x(), _w()), lambda: _x().div(_w()), _x_np / _w_np),
    ("pow", lambda: torch.pow(_x(), 2), lambda: _x().pow(2), _x_np ** 2),
    ("add_scalar", lambda: torch.add(_x(), 1), lambda: _x().add(1), _x_np + 1),
    ("mul_scalar", lambda: torch.mul(_x(), 3), lambda: _x().mul(3), _x_np * 3),
    ("maximum", lambda: torch.maximum(_x(), _w()), lambda: _x().maximum(_w()), np.maximum(_x_np, _w_np)),
    ("minimum", lambda: torch.minimum(_x(), _w()), lambda: _x().minimum(_w()), np.minimum(_x_np, _w_np)),
    ("clamp", lambda: torch.clamp(_w(), min=0, max=1), lambda: _w().clamp(0, 1), np.clip(_w_np, 0, 1)),
    ("sum", lambda: torch.sum(_x()), lambda: _x().sum(), _x_np.sum()),
    ("mean", lambda: torch.mean(_x()), lambda: _x().mean(), _x_np.mean()),
    ("dot", lambda: torch.dot(_x(), _w()), lambda: _x().dot(_w()), _x_np @ _w_np),
    ("matmul", lambda: torch.matmul(_x(), _w()), lambda: _x().matmul(_w()), _x_np @ _w_np),
]


@pytest.mark.parametrize("case", FUNCTIONAL, ids=[c[0] for c in FUNCTIONAL])
def test_functional_and_method_forms(case):
    _, fn, method, expected = case
    a, b = fn(), method()
    assert a.dtype == torch.float32 and b.dtype == torch.float32
    assert np.allclose(a.numpy(), expected, rtol=1e-6, atol=1e-7)
    assert np.allclose(b.numpy(), expected, rtol=1e-6, atol=1e-7)
    assert tuple(a.shape) == np.shape(expected)


def test_functional_forms_build_graph():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    y = torch.add(torch.mul(x, w), torch.exp(x))
    assert type(y.grad_fn).__name__ == "AddBackward0"
    y.sum().backward()
    assert np.allclose(x.grad.numpy(), [3 + math.e, 4 + math.e ** 2])
    assert w.grad.tolist() == [1.0, 2.0]


def test_matmul_operator_shapes():
    a = torch.ones(2, 3)
    b = torch.ones(3, 4)
    assert tuple((a @ b).shape) == (2, 4)
    assert (a @ b).tolist() == [[3.0] * 4] * 2
    assert tuple((a @ torch.ones(3)).shape) == (2,)
    assert tuple((torch.ones(3) @ b).shape) == (4,)
    assert tuple((torch.ones(3) @ torch.ones(3)).shape) == ()


def test_reductions_with_dims():
    m = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert m.sum().item() == 21.0
    assert m.sum(0).tolist() == [5.0, 7.0, 9.0]
    assert m.sum(dim=1).tolist() == [6.0, 15.0]
    assert m.sum(1, keepdim=True).tolist() == [[6.0], [15.0]]
    assert m.sum(-1).tolist() == [6.0, 15.0]
    assert m.mean(0).tolist() == [2.5, 3.5, 4.5]
    assert m.mean(dim=1, keepdim=True).tolist() == [[2.0], [5.0]]
    assert m.sum((0, 1)).item() == 21.0
    assert torch.tensor([1, 2, 3]).sum().dtype == torch.int64
    assert torch.tensor([True, True]).sum().item() == 2


def test_reshape_view_unbind():
    m = torch.arange(6.0)
    assert m.reshape(2, 3).tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert m.reshape(-1, 2).shape == (3, 2)
    assert m.view(3, 2).shape == (3, 2)
    assert m.reshape((2, 3)).shape == (2, 3)
    r = m.view(2, 3)
    r.add_(10)
    assert m.tolist() == [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]  # view shares storage
    parts = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).unbind()
    assert isinstance(parts, tuple) and len(parts) == 2
    assert parts[1].tolist() == [3.0, 4.0]
    cols = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).unbind(1)
    assert cols[0].tolist() == [1.0, 3.0]
    assert [t.item() for t in torch.tensor([1.0, 2.0, 3.0]).unbind()] == [1.0, 2.0, 3.0]


# ---------------------------------------------------------------------------
# indexing and item assignment
# ---------------------------------------------------------------------------

def test_getitem():
    m = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert m[0].tolist() == [1.0, 2.0, 3.0]
    assert m[1, 2].item() == 6.0
    assert m[-1].tolist() == [4.0, 5.0, 6.0]
    assert m[:, 1].tolist() == [2.0, 5.0]
    assert m[0, 1:].tolist() == [2.0, 3.0]
    assert m[m > 2].tolist() == [3.0, 4.0, 5.0, 6.0]


def test_setitem():
    x = torch.tensor([1.0, 2.0, 3.0])
    x[0] = 5.0
    assert x.tolist() == [5.0, 2.0, 3.0]
    x[1:] = torch.tensor([7.0, 8.0])
    assert x.tolist() == [5.0, 7.0, 8.0]
    m = torch.zeros(2, 2)
    m[1] = 3.0
    assert m.tolist() == [[0.0, 0.0], [3.0, 3.0]]


def test_setitem_boolean_mask():
    # the pattern of the MyReLU tutorial: grad_input[input < 0] = 0
    inp = torch.tensor([-1.0, 1.0, 2.0])
    g = torch.tensor([1.0, 1.0, 1.0]).clone()
    g[inp < 0] = 0
    assert g.tolist() == [0.0, 1.0, 1.0]


# -- layout: strides, contiguity, view vs reshape -------------------------------------------
@pytest.mark.parametrize("requires_grad", [False, True])
def test_transpose_is_a_non_contiguous_view(requires_grad):
    x = torch.arange(6.0).reshape(2, 3).requires_grad_(requires_grad)
    assert x.is_contiguous() and x.stride() == (3, 1)
    t = x.t()
    assert t.stride() == (1, 3) and t.stride(0) == 1 and t.stride(-1) == 3
    assert not t.is_contiguous()
    assert vals(t) == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    with pytest.raises(RuntimeError, match=r"view size is not compatible with input tensor's size and stride "
                                           r"\(at least one dimension spans across two contiguous subspaces\)\. "
                                           r"Use \.reshape\(\.\.\.\) instead\."):
        t.view(6)
    assert vals(t.reshape(6)) == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    c = t.contiguous()
    assert c.is_contiguous() and c.stride() == (2, 1)
    assert vals(c.view(6)) == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    if requires_grad:
        assert type(c.grad_fn).__name__ == "CloneBackward0"
        c.view(6).sum().backward()
        assert vals(x.grad) == [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]


def test_contiguous_returns_self_when_contiguous():
    x = torch.ones(2, 3, requires_grad=True)
    assert x.contiguous() is x


def test_view_allowed_on_compatible_non_contiguous_layout():
    # Splitting a dim of a transposed tensor needs no copy: view works, as in PyTorch.
    t = torch.ones(2, 3).t()
    assert tuple(t.view(3, 2, 1).shape) == (3, 2, 1)


def test_expand_has_zero_strides():
    x = torch.ones(2, 1, requires_grad=True)
    e = x.expand(2, 3)
    assert e.stride() == (1, 0) and not e.is_contiguous()


def test_clone_keeps_the_layout():
    # PyTorch's clone() preserves strides (preserve_format); contiguous() does not.
    t = torch.ones(2, 3, requires_grad=True).t()
    assert not t.clone().is_contiguous()
    assert t.contiguous().is_contiguous()


def test_stride_of_0d_tensor():
    assert torch.tensor(2.0).stride() == ()
    assert torch.tensor(2.0, dtype=torch.float64, requires_grad=True).is_contiguous()


def test_broadcast_shapes_function():
    assert torch.broadcast_shapes((2, 1), (3,)) == torch.Size([2, 3])
    assert repr(torch.broadcast_shapes(2, (3, 1))) == "torch.Size([3, 2])"
    assert torch.broadcast_shapes() == torch.Size([])
    assert torch.broadcast_shapes((5, 1, 3), (4, 1), (3,)) == (5, 4, 3)
    with pytest.raises(RuntimeError, match=r"length 4 at -2! Mismatching argument at index 1 had \(4, 3\); "
                                           r"but expected shape should be broadcastable to \[2, 3\]"):
        torch.broadcast_shapes((2, 3), (4, 3))
    with pytest.raises(ValueError, match="negative length"):
        torch.broadcast_shapes((-1,), (2,))


def test_pow_half_is_sqrt_for_numbers_and_pow_for_tensors():
    # As PyTorch: x ** 0.5 is a square root (nan at -inf, -0 at -0); x ** tensor(0.5) is C's pow.
    x = torch.tensor([float("-inf"), -0.0, 4.0], dtype=torch.float64)
    by_number = (x ** 0.5).tolist()
    assert math.isnan(by_number[0]) and by_number[1:] == [0.0, 2.0] and math.copysign(1, by_number[1]) < 0
    assert (x ** torch.tensor(0.5, dtype=torch.float64)).tolist() == [math.inf, 0.0, 2.0]
    assert math.copysign(1, (x ** torch.tensor(0.5, dtype=torch.float64)).tolist()[1]) > 0
    assert math.isnan((torch.tensor(float("-inf"), dtype=torch.float64) ** 0.5).item())
    assert math.copysign(1, (torch.tensor(-0.0, dtype=torch.float64) ** 0.5).item()) < 0


@pytest.mark.parametrize("make, names, contiguous", [
    (lambda x: x.reshape(3, 2), ("ViewBackward0", "AccumulateGrad"), True),
    (lambda x: x.t().reshape(6), ("UnsafeViewBackward0", "CloneBackward0"), True),
    (lambda x: x.t().reshape(2, 3), ("ReshapeAliasBackward0", "TBackward0"), False),
    (lambda x: x.expand(2, 3, 2).reshape(12), ("UnsafeViewBackward0", "CloneBackward0"), True),
    (lambda x: x.t().flatten(), ("UnsafeViewBackward0", "CloneBackward0"), True),
    (lambda x: x.flatten(0), ("ViewBackward0", "AccumulateGrad"), True),
])
def test_reshape_node_names_follow_layout(make, names, contiguous):
    # As PyTorch: a view for contiguous input, a reshape alias for a strided layout that can take
    # the shape, else a contiguous clone viewed as the shape; gradients flow back either way.
    x = torch.ones(3, 2, requires_grad=True)
    y = make(x)
    assert (type(y.grad_fn).__name__, type(y.grad_fn.next_functions[0][0]).__name__) == names
    assert y.is_contiguous() == contiguous
    (y * torch.arange(y.numel()).reshape(y.shape)).sum().backward()
    assert x.grad is not None and x.grad.shape == (3, 2)


def test_flatten_dims():
    x = torch.ones(2, 3, 4, requires_grad=True) * 1
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12) and x.flatten(0, 1).shape == (6, 4)
    assert x.flatten(2) is x and torch.flatten(x, start_dim=-2).shape == (2, 12)
    assert torch.tensor(1.0).flatten().shape == (1,)
    with pytest.raises(RuntimeError, match="start_dim cannot come after end_dim"):
        x.flatten(2, 0)


def test_numpy_keyword_names_axis_and_keepdims():
    # (PyTorch's argument parser takes numpy's names for dim and keepdim on every op)
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert x.sum(axis=0).tolist() == [5.0, 7.0, 9.0] and torch.sum(x, axis=1).tolist() == [6.0, 15.0]
    assert torch.mean(x, axis=1, keepdims=True).shape == (2, 1) and x.sum(0, keepdims=True).shape == (1, 3)
    assert x.max(axis=0).indices.tolist() == [1, 1, 1] and x.argmax(axis=1).tolist() == [2, 2]
    assert torch.softmax(x, axis=1).sum(1).tolist() == pytest.approx([1.0, 1.0])
    assert x.std(axis=0).shape == (3,) and x[:1].squeeze(axis=0).shape == (3,)
    with pytest.raises(TypeError, match=r"^sum\(\) got an unexpected keyword argument 'axis'$"):
        x.sum(axis=0, dim=0)


@pytest.mark.parametrize("method, name, value, shape", [
    ("reshape", "shape", [3, 2], (3, 2)), ("expand", "size", (2, 2, 3), (2, 2, 3)),
    ("repeat", "repeats", (2, 1), (4, 3)), ("permute", "dims", (1, 0), (3, 2)), ("flip", "dims", (1,), (2, 3)),
    ("tile", "dims", (2,), (2, 6)), ("broadcast_to", "size", (2, 2, 3), (2, 2, 3)),
    ("new_zeros", "size", (4,), (4,)), ("new_ones", "size", [], ()), ("new_empty", "size", (1, 2), (1, 2))])
def test_size_like_arguments_given_as_a_keyword(method, name, value, shape):
    # (PyTorch's parser takes a method's size-like *args as one sequence by its name, and requires them)
    x = torch.arange(6.0).reshape(2, 3)
    assert getattr(x, method)(**{name: value}).shape == shape
    assert getattr(x, method)(value).shape == shape
    with pytest.raises(TypeError, match=f"^{method}\\(\\) got multiple values for argument '{name}'$"):
        getattr(x, method)(1, **{name: value})
    with pytest.raises(TypeError, match=f'^{method}\\(\\) missing 1 required positional arguments: "{name}"$'):
        getattr(x, method)()
    for bad, shown in ((2, "int"), (None, "NoneType"), (range(2), "range"), (np.int64(2), "numpy.int64")):
        with pytest.raises(TypeError, match=f"^{method}\\(\\): argument '{name}' must be tuple of ints, not {shown}$"):
            getattr(x, method)(**{name: bad})
    if hasattr(torch, method):
        # (the function form takes them as one sequence only)
        assert getattr(torch, method)(x, **{name: value}).shape == shape
        assert getattr(torch, method)(input=x, **{name: value}).shape == shape
        with pytest.raises(TypeError, match=f"^{method}\\(\\) takes 2 positional arguments but 3 were given$"):
            getattr(torch, method)(x, 1, 1)
        with pytest.raises(TypeError, match=f"^{method}\\(\\): argument '{name}' \\(position 2\\) must be tuple of "
                                            "ints, not int$"):
            getattr(torch, method)(x, 1)


def _combination(name: str, got: str, *forms: str) -> str:
    """PyTorch's parser's message for a call that matches none of ``forms`` (a regex)."""
    return "^" + re.escape(f"{name}() received an invalid combination of arguments - got {got}, but expected one of:\n"
                           + "".join(f" * {f}\n" for f in forms)) + "$"


def test_view_parses_its_two_forms_as_pytorch():
    x = torch.arange(6.0).reshape(2, 3)
    assert x.view(size=(3, 2)).shape == (3, 2) and x.view(np.int64(6)).shape == (6,) and x.view([6]).shape == (6,)
    forms = ("(torch.dtype dtype)", "(tuple of ints size)")
    with pytest.raises(TypeError, match=_combination("view", "()", *forms)):
        x.view()
    with pytest.raises(TypeError, match=_combination("view", "(int, int, size=tuple)", *forms)):
        x.view(3, 2, size=(3, 2))
    with pytest.raises(TypeError, match=_combination("view", "(list, int)", *forms)):
        x.view([2], 1)
    with pytest.raises(TypeError, match=_combination(
            "view", "(size=int, )", forms[0] + "\n      didn't match because some of the keywords were incorrect: size",
            forms[1] + "\n      didn't match because some of the arguments have invalid types: (!size=int!, )")):
        x.view(size=6)
    with pytest.raises(TypeError, match=re.escape("types: (!float!)")):
        x.view(2.0)
    # view(dtype): the same bytes read as another dtype (no graph)
    y = torch.tensor([1.0, -2.0], requires_grad=True)
    bits = y.view(torch.int32)
    assert bits.dtype == torch.int32 and bits.tolist() == [1065353216, -1073741824] and not bits.requires_grad
    assert y.view(dtype=torch.float64).shape == (1,) and y.view(torch.int16).shape == (4,)
    with pytest.raises(RuntimeError, match=r"^self.size\(-1\) must be divisible by 2 to view Float as Double "
                                           r"\(different element sizes\), but got 3$"):
        torch.ones(3).view(torch.float64)
    with pytest.raises(RuntimeError, match=r"^self.stride\(-1\) must be 1 to view Float as Half"):
        torch.ones(2, 3).t().view(torch.float16)
    with pytest.raises(RuntimeError, match=r"^self.dim\(\) cannot be 0 to view Float as Double"):
        torch.tensor(1.0).view(torch.float64)


_OPTIONS = ("torch.dtype dtype = None, torch.layout layout = None, torch.device device = None, "
            "bool pin_memory = False, bool requires_grad = False")


def test_arange_randint_full_take_pytorch_s_keywords():
    assert torch.arange(end=3).tolist() == [0, 1, 2] and torch.arange(start=1, end=3).tolist() == [1, 2]
    assert torch.arange(1, end=6, step=2).tolist() == [1, 3, 5] and torch.arange(np.float32(2.0)).dtype == torch.float32
    out = torch.empty(4)
    assert torch.arange(0.0, 1.0, 0.25, out=out) is out and out.tolist() == [0.0, 0.25, 0.5, 0.75]
    with pytest.raises(TypeError, match='^arange\\(\\) missing 1 required positional arguments: "end"$'):
        torch.arange(start=1)
    arange = (f"(Number end, *, Tensor out = None, {_OPTIONS})", f"(Number start, Number end, *, {_OPTIONS})",
              f"(Number start, Number end, Number step = 1, *, Tensor out = None, {_OPTIONS})")
    with pytest.raises(TypeError, match=_combination("arange", "()", *arange)):
        torch.arange()
    with pytest.raises(TypeError, match=_combination("arange", "(end=int, step=int, )", *arange)):
        torch.arange(step=2, end=5)
    with pytest.raises(TypeError, match=_combination("arange", "(int, step=int, dtype=torch.dtype)", *arange)):
        torch.arange(5, dtype=torch.float32, step=2)
    torch.manual_seed(0)
    a = torch.randint(low=2, high=9, size=(5,))
    torch.manual_seed(0)
    assert torch.randint(2, 9, (5,)).tolist() == a.tolist() and torch.randint(high=3, size=[2]).shape == (2,)
    with pytest.raises(TypeError, match='^randint\\(\\) missing 1 required positional arguments: "size"$'):
        torch.randint(low=0, high=3)
    with pytest.raises(TypeError, match='^randint\\(\\) missing 2 required positional argument: "high", "size"$'):
        torch.randint(low=1, size=(2,))
    with pytest.raises(TypeError, match=re.escape("randint(): argument 'size' (position 2) must be tuple of ints")):
        torch.randint(3, 2)
    with pytest.raises(TypeError, match="^randint\\(\\) received an invalid combination of arguments - got \\(int\\),"):
        torch.randint(3)
    assert torch.full(size=(2,), fill_value=3.0).tolist() == [3.0, 3.0] and torch.full((), 1).dtype == torch.int64
    with pytest.raises(TypeError, match=re.escape("full(): argument 'size' (position 1) must be tuple of ints")):
        torch.full(2, 3.0)
    with pytest.raises(TypeError, match='^full\\(\\) missing 2 required positional argument: "size", "fill_value"$'):
        torch.full()
    with pytest.raises(TypeError, match="^full\\(\\) got multiple values for argument 'fill_value'$"):
        torch.full((2,), 1.0, fill_value=2.0)
    x = torch.ones(2)
    assert x.new_full(size=(3,), fill_value=2.0).tolist() == [2.0] * 3 and x.new_full([1], 2).dtype == torch.float32
    with pytest.raises(TypeError, match='^new_full\\(\\) missing 1 required positional arguments: "fill_value"$'):
        x.new_full((2,))


def test_keyword_names_are_pytorch_s():
    # (found by comparing every public name's parameters with torch 2.13's schemas)
    x = torch.arange(12.0).reshape(2, 6)
    v = torch.arange(3.0)
    assert x.view(2, 3, 2).swapaxes_(axis0=0, axis1=2).shape == (2, 3, 2)
    assert x.view(2, 3, 2).swapdims_(dim0=0, dim1=2).shape == (2, 3, 2)
    assert torch.matmul(input=x, other=torch.ones(6)).tolist() == [15.0, 51.0]
    assert x.mm(mat2=torch.ones(6, 1)).shape == (2, 1) and torch.mm(x, mat2=torch.ones(6, 1)).shape == (2, 1)
    assert v.dot(tensor=v).item() == 5.0 and torch.dot(v, tensor=v).item() == 5.0
    assert torch.concatenate([x, x], dim=1).shape == (2, 12) and torch.concatenate([x, x], axis=1).shape == (2, 12)
    assert [t.shape[1] for t in x.hsplit(sections=3)] == [2, 2, 2]
    assert [t.shape[1] for t in x.hsplit(indices=[1, 4])] == [1, 3, 2]
    assert [t.shape[0] for t in torch.vsplit(x, sections=2)] == [1, 1]
    assert [t.shape[2] for t in x.view(2, 3, 2).dsplit(indices=[1])] == [1, 1]
    assert torch.zeros(2).resize_(size=(3,)).shape == (3,)
    assert torch.zeros(3).uniform_(**{"from": 2.0, "to": 2.0}).tolist() == [2.0] * 3
    assert torch.zeros(3).random_(**{"from": 5, "to": 6}).tolist() == [5.0] * 3
    assert torch.is_floating_point(input=x) and torch.numel(input=x) == 12
    torch.set_default_device(device="cpu")


def test_sort_takes_stable_by_keyword_only_as_pytorch():
    x = torch.tensor([3.0, 1.0, 2.0, 1.0])
    assert x.sort(stable=True, dim=0).indices.tolist() == [1, 3, 2, 0]
    assert torch.sort(x, dim=0, descending=True, stable=False).values.tolist() == [3.0, 2.0, 1.0, 1.0]
    assert torch.argsort(x, stable=True, dim=0, descending=True).tolist() == [0, 2, 1, 3]
    forms = ("(Tensor input, *, bool stable, int dim = -1, bool descending = False, tuple of Tensors out = None)",
             "(Tensor input, int dim = -1, bool descending = False, *, tuple of Tensors out = None)")
    with pytest.raises(TypeError, match=_combination("sort", "(Tensor, int, stable=bool)", *forms)):
        torch.sort(x, 0, stable=True)
    with pytest.raises(TypeError, match=_combination("sort", "(Tensor, bool)", *forms)):
        torch.sort(x, True)
    with pytest.raises(TypeError, match=re.escape("sort() takes from 1 to 0 positional arguments but 3 were given")):
        x.sort(0, False, True)
    with pytest.raises(TypeError, match=re.escape("argsort() takes from 2 to 1 positional arguments but 4 were given")):
        torch.argsort(x, 0, True, True)
