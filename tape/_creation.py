"""Tensor factories: ``tensor``, ``zeros``, ``arange``, ``randn`` ... and the random seed."""
from __future__ import annotations

import math
import os
import threading
import warnings
from typing import Optional

import numpy as np

from . import _dtype as D
from . import _device
from ._device import check_device
from ._layout import arranged, check_layout, check_memory_format, contiguous_format, preserve_format
from ._mt import Stream
from ._spacing import _fma, linspace_values
from ._tensor import Size, Tensor, _plain, _py_scalar
from ._out import call_with_out
from .ops._args import shape_arg
from .ops._parser import Forms, check_types, parser_type_name



def _leaf(v: np.ndarray, dtype: D.dtype, requires_grad: bool) -> Tensor:
    if v.ndim == 0 and dtype is D.float64:
        t = _py_scalar(float(v))
    else:
        t = _plain(v, dtype)
    if requires_grad:
        if not dtype.is_floating_point:
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        t._rg = True
    return t


def _check_ragged(data, depth: int = 0) -> None:
    if isinstance(data, (list, tuple)) and data:
        lens = {len(x) if isinstance(x, (list, tuple)) else -1 for x in data}
        if len(lens) > 1:
            first = len(data[0]) if isinstance(data[0], (list, tuple)) else None
            for x in data[1:]:
                n = len(x) if isinstance(x, (list, tuple)) else None
                if n != first:
                    raise ValueError(f"expected sequence of length {first} at dim {depth + 1} (got {n})")
        for x in data:
            _check_ragged(x, depth + 1)


def _infer(data, dtype: Optional[D.dtype] = None) -> tuple:
    """The numpy array and tape dtype for Python data, inferred as PyTorch does.

    With ``dtype`` given, Python numbers convert straight to it (no rounding
    through the default dtype first).
    """
    if isinstance(data, Tensor):
        return np.array(data._value()), data._dtype
    if isinstance(data, np.ndarray):
        return np.array(data), D.from_numpy_dtype(data.dtype)
    if isinstance(data, np.generic):
        return np.array(data), D.from_numpy_dtype(data.dtype)
    _check_ragged(data)
    try:
        v = np.array(_plain_data(data))
    except (ValueError, TypeError) as e:
        raise TypeError(f"Could not infer dtype of {type(data).__name__}") from e
    if v.dtype == object or v.dtype.kind in "USV":
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    if dtype is None and v.dtype.kind in "biuf" and (v.dtype not in _PYTHON_KINDS or _first_typed(data)):
        # (numpy scalars, arrays or tensors among the items: numpy's dtype shows the narrow ones; a
        # float64 scalar, which PyTorch keeps float64, is looked for at the first item)
        typed = _typed_items(data)
        if typed is not None:
            return v.astype(typed.np), typed
    if v.dtype.kind == "f":
        if dtype is not None:
            return v, dtype
        return v.astype(D.get_default_dtype().np), D.get_default_dtype()
    if v.dtype.kind == "b":
        return v, D.bool_
    if v.dtype.kind in "iu":
        return v.astype(np.int64), D.int64
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


_PYTHON_KINDS = (np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.bool_))


def _first_typed(data) -> bool:
    """Whether the first item of nested sequences ``data`` is a numpy scalar or array or a tensor."""
    while isinstance(data, (list, tuple)) and data:
        data = data[0]
    return isinstance(data, (np.generic, np.ndarray, Tensor))


def _typed_items(data) -> Optional[D.dtype]:
    """The dtype PyTorch infers for a sequence holding numpy scalars or arrays or tensors (theirs, and
    the Python numbers' kinds, promoted together: ``[np.int16(1), np.int16(2)]`` is int16); None for
    one of Python numbers only."""
    found = None
    kinds = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, (np.generic, np.ndarray)):
            found = D.from_numpy_dtype(item.dtype) if found is None else D.promote(found, D.from_numpy_dtype(item.dtype))
        elif isinstance(item, Tensor):
            found = item._dtype if found is None else D.promote(found, item._dtype)
        else:
            kinds.append(item)
    if found is None:
        return None
    for item in kinds:
        kind = D.bool_ if isinstance(item, bool) else D.int64 if isinstance(item, int) else D.get_default_dtype()
        found = D.promote(found, kind)
    return found


def _plain_data(data):
    if isinstance(data, Tensor):
        return data.item() if data.dim() == 0 else data.tolist()
    if isinstance(data, (list, tuple)):
        return [_plain_data(x) for x in data]
    return data


def tensor(data, *, dtype: Optional[D.dtype] = None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    r"""Construct a tensor with no autograd history by copying ``data``.

    The dtype is inferred from ``data`` unless given: Python floats give the
    default dtype, ints ``tape.int64``, bools ``tape.bool``.
    """
    check_device(device)
    _options("tensor", None, pin_memory)
    if isinstance(data, Tensor):
        warnings.warn("To copy construct from a tensor, it is recommended to use sourceTensor.clone().detach() "
                      "or sourceTensor.clone().detach().requires_grad_(True), rather than "
                      "torch.tensor(sourceTensor).", UserWarning, stacklevel=2)
    v, inferred = _infer(data, dtype)
    dt = dtype or inferred
    return _leaf(np.array(v, dt.np, order="C"), dt, requires_grad)


def as_tensor(data, *, dtype: Optional[D.dtype] = None, device=None) -> Tensor:
    """Convert ``data`` to a tensor, sharing memory with a numpy array or tensor when possible."""
    check_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None or dtype is data._dtype else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or dtype.np == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype)


def from_numpy(a: np.ndarray) -> Tensor:
    """A tensor sharing memory with the numpy array ``a``."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(a).__name__})")
    t = _plain(a, D.from_numpy_dtype(a.dtype))
    return t


def legacy_tensor(*args, **kwargs) -> Tensor:
    """``tape.Tensor(...)``: from data (default float dtype) or from sizes (uninitialized)."""
    dt = D.get_default_dtype()
    if not args:
        return _plain(np.zeros((0,), dt.np), dt)
    if len(args) == 1 and isinstance(args[0], Tensor):
        return args[0]
    if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args) or \
            (len(args) == 1 and isinstance(args[0], Size)):
        shape = _checked_shape(args, "new")
        return _plain(_allocated(lambda: np.zeros(shape, dt.np), shape, dt), dt)
    if len(args) == 1:
        v, _ = _infer(args[0])
        return _plain(np.array(v, dt.np, order="C"), dt)
    raise TypeError(f"new(): invalid data type '{type(args[0]).__name__}'")


def tensor_new(cls, *args, **kwargs) -> Tensor:
    """``Tensor.__new__``: the legacy constructor for ``tape.Tensor(...)``, and for a subclass ``P(...)`` the
    same tensor made a ``P`` (``P(x)`` is an alias of ``x``, AliasBackward0 as in PyTorch)."""
    if cls is Tensor:
        return legacy_tensor(*args, **kwargs)
    if len(args) == 1 and not kwargs and isinstance(args[0], Tensor):
        t = args[0].new(args[0])
    else:
        t = legacy_tensor(*args, **kwargs)
    t.__class__ = cls
    return t


_MAX_INT64 = (1 << 63) - 1


def _checked_shape(size, name: str) -> tuple:
    shape = shape_arg(size)
    for i, s in enumerate(shape):
        if not -_MAX_INT64 - 1 <= s <= _MAX_INT64:
            raise TypeError(f"{name}(): argument 'size' failed to unpack the object at pos {i + 1} with error "
                            "\"Overflow when unpacking long long\"")
    for s in shape:
        if s < 0:
            if name == "zeros":
                raise RuntimeError("zeros: Dimension size must be non-negative.")
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(shape)}")
    return shape


def _allocated(make, shape: tuple, dtype: D.dtype) -> np.ndarray:
    """``make()``, the new array of ``shape``, with PyTorch's errors for a size that no storage can
    hold (before numpy tries) or that memory cannot fit."""
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > _MAX_INT64:
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(shape)}")
    if math.prod(max(s, 1) for s in shape[1:]) > _MAX_INT64:
        raise RuntimeError("Stride calculation overflowed")       # (an empty tensor: its strides still count)
    try:
        return make()
    except (MemoryError, ValueError) as e:
        if type(e) is ValueError and "too big" not in str(e):
            raise       # only numpy's "array is too big" (a float64 draw for a narrower dtype) means memory
        raise RuntimeError(f"DefaultCPUAllocator: can't allocate memory: you tried to allocate {nbytes} bytes. "
                           "Error code 12 (Cannot allocate memory)") from None


def _options(fn: str, layout=None, pin_memory: bool = False) -> None:
    """PyTorch's checks of the ``layout`` and ``pin_memory`` arguments (every tensor here is strided,
    in memory that cannot be pinned: there is no accelerator)."""
    check_layout(layout, fn)
    if pin_memory:
        raise RuntimeError("pin_memory=True requires a CUDA or other accelerator backend; no pinned memory "
                           "allocator is available on this system.")


# The vmap levels running (``tape.func.vmap``, ``tape._vmap_internals``), innermost last: (the thread's
# ident, the error a random draw raises there or None when draws are allowed).
random_guards: list = []


def enter_random_guard(error: Optional[str]) -> None:
    random_guards.append((threading.get_ident(), error))


def exit_random_guard() -> None:
    me = threading.get_ident()
    for i in range(len(random_guards) - 1, -1, -1):
        if random_guards[i][0] == me:
            del random_guards[i]
            return


def _check_random_guard() -> None:
    me = threading.get_ident()
    for ident, error in reversed(random_guards):
        if ident == me:
            if error is not None:
                raise RuntimeError(error)
            return


def _generator(generator) -> "Stream":
    if random_guards:
        _check_random_guard()
    if generator is None:
        return default_generator.stream
    if not isinstance(generator, Generator):
        raise TypeError(f"expected a torch.Generator, but got {type(generator).__name__}")
    return generator.stream


class _Unset:
    """The default of a creation function's ``size`` keyword: not given."""

    def __repr__(self) -> str:
        return "size"


_NO_SIZE = _Unset()
_RANDOM_FORMS = ("(tuple of ints size, *, torch.Generator generator, Tensor out = None, torch.dtype dtype = None, "
                 "torch.layout layout = None, torch.device device = None, bool pin_memory = False, "
                 "bool requires_grad = False)",
                 "(tuple of ints size, *, Tensor out = None, torch.dtype dtype = None, torch.layout layout = None, "
                 "torch.device device = None, bool pin_memory = False, bool requires_grad = False)")


def _type_name(v) -> str:
    """How PyTorch's argument parser names the type of ``v``."""
    if isinstance(v, Generator):
        return "torch._C.Generator"
    return f"torch.{type(v).__name__}" if isinstance(v, (D.dtype, _device.device)) else type(v).__name__


def _size_int(v) -> bool:
    """Whether the parser takes ``v`` as one of the ints of a size (a one-element integer tensor too)."""
    if isinstance(v, Tensor):
        return v.numel() == 1 and not v.dtype.is_floating_point and v.dtype is not D.bool_
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _check_sizes(name: str, size: tuple, options: dict) -> None:
    """The parser's errors for several positional arguments of a size (``zeros(2, 3)``): a first
    one not an int is the whole size, and takes no more; a later one must be an int."""
    if not _size_int(size[0]):
        if name in ("rand", "randn"):
            _random_forms(name, size, options)
        raise TypeError(f"{name}() takes 1 positional argument but {len(size)} were given")
    for k, s in enumerate(size):
        if not _size_int(s):
            raise TypeError(f"{name}(): argument 'size' failed to unpack the object at pos {k + 1} with "
                            f"error \"type must be tuple of ints,but got {parser_type_name(s)}\"")


def _random_forms(name: str, size: tuple, shown: dict) -> None:
    """The parser's error for a call of ``rand``/``randn`` that matches neither of its forms."""
    got = ", ".join([parser_type_name(s) for s in size] + [f"{k}={_type_name(v)}" for k, v in sorted(shown.items())])
    raise TypeError(f"{name}() received an invalid combination of arguments - got ({got}), but expected one of:\n"
                    + "".join(f" * {f}\n" for f in _RANDOM_FORMS))


def _sizes(name: str, size: tuple, keyword, options: dict) -> tuple:
    """``*size`` of a creation function, which may come instead as the keyword ``size=`` (a
    sequence), with PyTorch's errors for both or neither (``options``: the other keywords given
    other values than their defaults, which a random function's error lists)."""
    if keyword is _NO_SIZE and size:
        if len(size) > 1:
            for s in size:
                if type(s) is not int:
                    _check_sizes(name, size, options)
                    break
        return size
    if keyword is not _NO_SIZE and not size:
        if keyword is None or isinstance(keyword, (int, float)) and not isinstance(keyword, bool):
            raise TypeError(f"{name}(): argument 'size' must be tuple of ints, not {type(keyword).__name__}")
        return (keyword,)
    if name in ("rand", "randn") and (size or not options):
        # (PyTorch's parser: neither overload takes these arguments; with only other keywords
        # given, the size is what is missing)
        _random_forms(name, size, dict(options, **({} if keyword is _NO_SIZE else {"size": keyword})))
    if size:
        raise TypeError(f"{name}() got multiple values for argument 'size'")
    raise TypeError(f'{name}() missing 1 required positional arguments: "size"')


def _given(**options) -> dict:
    """The keywords of ``options`` that differ from their defaults (None or False)."""
    return {k: v for k, v in options.items() if v is not None and v is not False}


def _filled(size, value, dtype, requires_grad, name: str) -> Tensor:
    shape = _checked_shape(size, name)
    dt = dtype or D.get_default_dtype()
    return _leaf(_allocated(lambda: np.full(shape, value, dt.np), shape, dt), dt, requires_grad)


def zeros(*sizes, size=_NO_SIZE, dtype: Optional[D.dtype] = None, layout=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of the given size (``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))``)."""
    sizes = _sizes("zeros", sizes, size, {})
    check_device(device)
    _options("zeros", layout)
    return _filled(sizes, 0, dtype, requires_grad, "zeros")


def ones(*sizes, size=_NO_SIZE, dtype: Optional[D.dtype] = None, layout=None, device=None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ones of the given size (``ones(2, 3)``, ``ones((2, 3))`` or ``ones(size=(2, 3))``)."""
    sizes = _sizes("ones", sizes, size, {})
    check_device(device)
    _options("ones", layout)
    return _filled(sizes, 1, dtype, requires_grad, "ones")


def empty(*sizes, size=_NO_SIZE, dtype: Optional[D.dtype] = None, layout=None, device=None,
          requires_grad: bool = False, pin_memory: bool = False, memory_format=None) -> Tensor:
    """An uninitialized tensor of the given size (zero-filled here), laid out as ``memory_format``."""
    size = _sizes("empty", sizes, size, {})
    check_device(device)
    _options("empty", layout, pin_memory)
    fmt = check_memory_format(memory_format, "empty")
    if fmt is preserve_format:
        raise RuntimeError("unsupported memory format Preserve")
    t = _filled(size, 0, dtype, requires_grad, "empty")
    if fmt is not None and fmt is not contiguous_format:
        t._v = arranged(t._value(), fmt)
    return t


_OPTIONS = ("torch.dtype dtype = None, torch.layout layout = None, torch.device device = None, "
            "bool pin_memory = False, bool requires_grad = False")
_FULL = Forms("full", f"(tuple of ints size, Number fill_value, *, Tensor out = None, {_OPTIONS})")


def full(*args, **kwargs) -> Tensor:
    """full(size, fill_value, *, out=None, dtype=None, layout=None, device=None, pin_memory=False,
    requires_grad=False): a tensor of the given size filled with ``fill_value`` (of its type's
    default dtype unless ``dtype`` is given)."""
    _, given = _FULL.parse(args, kwargs)
    if given.get("out") is not None:
        return call_with_out("full", full, args, dict(kwargs))
    given.pop("out", None)
    return _full(**given)


def _full(size, fill_value, dtype: Optional[D.dtype] = None, layout=None, device=None, pin_memory: bool = False,
          requires_grad: bool = False) -> Tensor:
    check_device(device)
    _options("full", layout, pin_memory)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        dtype = D.result_type(fill_value)
    return _filled((tuple(size),), fill_value, dtype, requires_grad, "full")


def _like(t: Tensor, value, dtype, requires_grad, fn: str, layout, memory_format) -> Tensor:
    _options(fn, layout)
    fmt = check_memory_format(memory_format, fn)
    out = _filled((t._shape,), value, dtype or t._dtype, requires_grad, "")
    return like_layout(out, t, fmt)


def like_layout(out: Tensor, t: Tensor, fmt) -> Tensor:
    """``out`` (a new leaf of ``t``'s shape) laid out in storage as ``t`` is (``preserve_format``) or
    as ``fmt`` says."""
    if out._f is not None or t._f is not None:
        return out
    if fmt is None or fmt is preserve_format:
        if not t._v.flags.c_contiguous:
            v = np.empty_like(t._v, dtype=out._v.dtype, order="K")
            v[...] = out._v
            out._v = v
    elif fmt is not contiguous_format:
        out._v = arranged(out._v, fmt)
    return out


def zeros_like(input: Tensor, *, dtype: Optional[D.dtype] = None, layout=None, device=None,
               requires_grad: bool = False, memory_format=None) -> Tensor:
    check_device(device)
    return _like(input, 0, dtype, requires_grad, "zeros_like", layout, memory_format)


def ones_like(input: Tensor, *, dtype: Optional[D.dtype] = None, layout=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    check_device(device)
    return _like(input, 1, dtype, requires_grad, "ones_like", layout, memory_format)


def empty_like(input: Tensor, *, dtype: Optional[D.dtype] = None, layout=None, device=None,
               requires_grad: bool = False, memory_format=None) -> Tensor:
    check_device(device)
    return _like(input, 0, dtype, requires_grad, "empty_like", layout, memory_format)


def full_like(input: Tensor, fill_value, *, dtype: Optional[D.dtype] = None, layout=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    if type(fill_value) not in (int, float, bool):
        check_types("full_like", (("fill_value", "Number"),), fill_value, first=2)
    check_device(device)
    return _like(input, fill_value, dtype, requires_grad, "full_like", layout, memory_format)


_GRAIN = 32768     # PyTorch's parallel grain: longer ranges are split among its threads


def _threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _arange_floats(start: float, step: float, n: int, f32: bool) -> np.ndarray:
    """PyTorch's float ``arange`` values, bit for bit: each thread's range is filled by vectors of
    4 doubles or 8 floats (two at a time), whose first element is ``start + step * i`` and the rest
    that plus ``step * lane`` (fused multiply-adds), then one element at a time for the remainder."""
    k = np.arange(n, dtype=np.float64)
    width = 8 if f32 else 4
    lane = np.empty(n)
    scalar = np.zeros(n, bool)
    chunks = min(_threads(), -(-n // _GRAIN)) if n > _GRAIN else 1
    size = -(-n // chunks) if n else 0
    for lo in range(0, n, max(size, 1)):
        hi = min(n, lo + size)
        lane[lo:hi] = (k[lo:hi] - lo) % width
        scalar[lo + (hi - lo) - (hi - lo) % (2 * width):hi] = True
    base = _fma(step, k - lane, start)
    if f32:
        base = base.astype(np.float32).astype(np.float64)
    v = _fma(lane, step, base)
    v[scalar] = _fma(step, k[scalar], start)
    return v.astype(np.float32 if f32 else np.float64)


_ARANGE = Forms("arange", f"(Number end, *, Tensor out = None, {_OPTIONS})",
                 f"(Number start, Number end, *, {_OPTIONS})",
                 f"(Number start, Number end, Number step = 1, *, Tensor out = None, {_OPTIONS})")


def arange(*args, **kwargs) -> Tensor:
    """arange(end) or arange(start, end, step=1), with keywords ``out``, ``dtype``, ``layout``,
    ``device``, ``pin_memory``, ``requires_grad``: values from ``start`` (0) to ``end`` (exclusive)
    with spacing ``step``, as PyTorch computes them."""
    _, given = _ARANGE.parse(args, kwargs)
    if given.get("out") is not None:
        return call_with_out("arange", arange, args, dict(kwargs))
    given.pop("out", None)
    return _arange(given.pop("start", 0), given.pop("end"), given.pop("step", 1), **given)


def _arange(start, end, step, dtype: Optional[D.dtype] = None, layout=None, device=None, pin_memory: bool = False,
            requires_grad: bool = False) -> Tensor:
    check_device(device)
    _options("arange", layout, pin_memory)
    args = [x.item() if isinstance(x, Tensor) else x for x in (start, end, step)]
    if args[2] == 0:
        raise RuntimeError("step must be nonzero")
    if (args[1] - args[0]) * args[2] < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        dtype = D.get_default_dtype() if any(isinstance(x, (float, np.floating)) for x in args) else D.int64
    n = max(0, math.ceil((args[1] - args[0]) / args[2]))
    if dtype in (D.float32, D.float64):
        make = lambda: _arange_floats(float(args[0]), float(args[2]), n, dtype is D.float32)  # noqa: E731
    else:
        make = lambda: (args[0] + np.arange(n, dtype=np.float64 if dtype.is_floating_point else np.int64)  # noqa: E731
                        * args[2]).astype(dtype.np)
    return _leaf(_allocated(make, (n,), dtype), dtype, requires_grad)


def linspace(start, end, steps: int, *, dtype: Optional[D.dtype] = None, layout=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive, as PyTorch computes them:
    the first half counted up from ``start``, the second down from ``end``."""
    check_device(device)
    _options("linspace", layout)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    dtype = dtype or D.get_default_dtype()
    return _leaf(_allocated(lambda: linspace_values(start, end, steps, dtype.np), (steps,), dtype), dtype,
                 requires_grad)


def eye(n: int, m: Optional[int] = None, *, dtype: Optional[D.dtype] = None, layout=None, device=None,
        requires_grad: bool = False) -> Tensor:
    """A 2-D tensor with ones on the diagonal."""
    check_device(device)
    _options("eye", layout)
    dtype = dtype or D.get_default_dtype()
    return _leaf(_allocated(lambda: np.eye(n, m, dtype=dtype.np), (n, n if m is None else m), dtype), dtype,
                 requires_grad)


class Generator:
    """A random number generator with PyTorch's CPU streams (``tape/_mt.py``): seeded alike, it
    draws PyTorch's values in ``rand``, ``randn``, ``randint``, ``randperm``, ``normal``, ``uniform_``,
    ``random_`` and ``bernoulli``."""

    def __init__(self, device=None) -> None:
        check_device(device)
        self.stream = Stream(_DEFAULT_SEED)

    @property
    def device(self) -> _device.device:
        return _device.device("cpu")

    def manual_seed(self, seed: int) -> "Generator":
        self.stream.reseed(_seed_value(seed))
        return self

    def seed(self) -> int:
        """Seed from a non-deterministic source; returns the seed."""
        seed = int(np.random.SeedSequence().entropy) & 0xFFFFFFFFFFFFFFFF
        self.stream.reseed(seed)
        return seed

    def initial_seed(self) -> int:
        return self.stream.seed

    def get_state(self) -> Tensor:
        """The generator's state as a ``uint8`` tensor, in PyTorch's layout (5056 bytes)."""
        return _plain(np.frombuffer(self.stream.state_bytes(), np.uint8).copy(), D.uint8)

    def set_state(self, new_state: Tensor) -> "Generator":
        """Restore a state returned by ``get_state`` (this or PyTorch's)."""
        if not isinstance(new_state, Tensor):
            raise TypeError(f"expected a torch.ByteTensor, but got {type(new_state).__name__}")
        if new_state._dtype is not D.uint8:
            raise TypeError("RNG state must be a torch.ByteTensor")
        self.stream.set_state_bytes(new_state._value().tobytes())
        return self

    def clone_state(self) -> "Generator":
        """A new generator in this one's state."""
        other = Generator()
        other.stream = self.stream.copy()
        return other


_DEFAULT_SEED = 67280421310721      # (PyTorch's: a ``Generator()`` made without a seed starts from it)


def _seed_value(seed) -> int:
    seed = int(seed)
    if not -(1 << 63) <= seed < (1 << 64):
        raise ValueError("Overflow when unpacking long long")
    return seed & 0xFFFFFFFFFFFFFFFF


default_generator = Generator()
default_generator.seed()            # (PyTorch's default generator starts from a non-deterministic seed)


def get_rng_state() -> Tensor:
    """The state of the default random number generator, as a ``uint8`` tensor."""
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    """Restore the default random number generator to a state from ``get_rng_state``."""
    default_generator.set_state(new_state)


def rng_snapshot() -> tuple:
    """The default generator's state, for ``rng_restore`` (``Stream.snapshot``)."""
    return default_generator.stream.snapshot()


def rng_restore(snap: tuple) -> None:
    default_generator.stream.restore(snap)


def wide_ints(dtype: D.dtype) -> bool:
    """Whether PyTorch draws 64 bits for a range of 2**32 or more in this dtype (int64, float, double)."""
    return dtype in (D.int64, D.float32, D.float64)


def seed() -> int:
    """Seed the default generator from a non-deterministic source; returns the seed."""
    return default_generator.seed()


def manual_seed(seed: int) -> Generator:
    """Seed the random number generator used by ``rand``, ``randn`` and ``randint``."""
    return default_generator.manual_seed(seed)


def initial_seed() -> int:
    return default_generator.initial_seed()


def _float_dtype(dtype, name: str) -> D.dtype:
    dtype = dtype or D.get_default_dtype()
    if not dtype.is_floating_point:
        raise RuntimeError(f"\"{name}\" not implemented for '{dtype.name.capitalize()}'")
    return dtype


def rand(*sizes, size=_NO_SIZE, generator: Optional[Generator] = None, dtype: Optional[D.dtype] = None,
         layout=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Uniform random numbers in [0, 1), drawn from ``generator`` (the default one if None)."""
    size = _sizes("rand", sizes, size, _given(generator=generator, dtype=dtype, layout=layout, device=device,
                                             requires_grad=requires_grad, pin_memory=pin_memory))
    check_device(device)
    _options("rand", layout, pin_memory)
    rng = _generator(generator)
    dtype = _float_dtype(dtype, "check_uniform_bounds")
    shape = _checked_shape(size, "rand")
    v = _allocated(lambda: rng.uniform_range(math.prod(shape), dtype.np, 0.0, 1.0).astype(dtype.np).reshape(shape),
                   shape, dtype)
    return _leaf(v, dtype, requires_grad)


def randn(*sizes, size=_NO_SIZE, generator: Optional[Generator] = None, dtype: Optional[D.dtype] = None,
          layout=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Standard normal random numbers, drawn from ``generator`` (the default one if None)."""
    size = _sizes("randn", sizes, size, _given(generator=generator, dtype=dtype, layout=layout, device=device,
                                              requires_grad=requires_grad, pin_memory=pin_memory))
    check_device(device)
    _options("randn", layout, pin_memory)
    rng = _generator(generator)
    dtype = _float_dtype(dtype, "normal_kernel_cpu")
    shape = _checked_shape(size, "randn")
    v = _allocated(lambda: rng.normal(math.prod(shape), dtype.np, 0.0, 1.0).astype(dtype.np).reshape(shape),
                   shape, dtype)
    return _leaf(v, dtype, requires_grad)


_RANDINT = Forms("randint", *(f"({first}tuple of ints size, *, {gen}Tensor out = None, {_OPTIONS})"
                                for first in ("int high, ", "int low, int high, ")
                                for gen in ("torch.Generator generator, ", "")))


def randint(*args, **kwargs) -> Tensor:
    """randint(high, size) or randint(low, high, size), with keywords ``generator``, ``out``,
    ``dtype``, ``layout``, ``device``, ``pin_memory``, ``requires_grad``: random integers in
    ``[low, high)`` (``low`` 0), drawn from ``generator`` (the default one if None)."""
    _, given = _RANDINT.parse(args, kwargs)
    if given.get("out") is not None:
        return call_with_out("randint", randint, args, dict(kwargs))
    given.pop("out", None)
    return _randint(given.pop("low", 0), given.pop("high"), given.pop("size"), **given)


def _randint(low: int, high: int, size, generator: Optional[Generator] = None, dtype: Optional[D.dtype] = None,
             layout=None, device=None, pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    check_device(device)
    _options("randint", layout, pin_memory)
    rng = _generator(generator)
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    dtype = dtype or D.int64
    shape = _checked_shape((size,), "randint")
    v = _allocated(lambda: rng.from_to(math.prod(shape), low, high, wide_ints(dtype)).astype(dtype.np)
                   .reshape(shape), shape, dtype)
    return _leaf(v, dtype, requires_grad)


def range_(start=0, end=None, step=1, *, dtype: Optional[D.dtype] = None, device=None,
          requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` inclusive with spacing ``step`` (deprecated: ``arange``
    excludes ``end``, as Python's ``range`` does)."""
    check_device(device)
    if end is None:
        raise TypeError('range() missing 1 required positional arguments: "end"')
    check_types("range", (("start", "Number"), ("end", "Number"), ("step", "Number")), start, end, step)
    warnings.warn("torch.range is deprecated and will be removed in a future release because its behavior is "
                  "inconsistent with Python's range builtin. Instead, use torch.arange, which produces values in "
                  "[start, end).", UserWarning, stacklevel=2)
    args = [float(x.item() if isinstance(x, Tensor) else x) for x in (start, end, step)]
    if args[2] == 0:
        raise RuntimeError("step must be nonzero")
    if (args[1] - args[0]) * args[2] < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    dtype = dtype or D.get_default_dtype()
    n = int(math.floor((args[1] - args[0]) / args[2])) + 1
    # (PyTorch's kernel: start + i * step in double, then cast)
    return _leaf(_allocated(lambda: (args[0] + np.arange(n) * args[2]).astype(dtype.np), (n,), dtype), dtype,
                 requires_grad)


def scalar_tensor(s, *, dtype: Optional[D.dtype] = None, device=None, requires_grad: bool = False) -> Tensor:
    """A 0-d tensor holding the number ``s`` (of the default dtype unless ``dtype`` is given)."""
    check_device(device)
    if isinstance(s, Tensor):
        s = s.item()
    if not isinstance(s, (int, float, bool, np.number)):
        raise TypeError(f"scalar_tensor(): argument 's' (position 1) must be Number, not {type(s).__name__}")
    dtype = dtype or D.get_default_dtype()
    return _leaf(np.array(s, dtype.np), dtype, requires_grad)


def asarray(obj, *, dtype: Optional[D.dtype] = None, device=None, copy: Optional[bool] = None,
            requires_grad: Optional[bool] = None) -> Tensor:
    """``obj`` as a tensor: a tensor or a numpy array itself (sharing memory) when its dtype is
    kept and ``copy`` is not True, otherwise a copy; ``copy=False`` refuses to copy."""
    check_device(device)
    if isinstance(obj, (Tensor, np.ndarray)):
        have = obj._dtype if isinstance(obj, Tensor) else D.from_numpy_dtype(obj.dtype)
        if dtype is not None and dtype is not have and copy is False:
            raise ValueError(f"can't alias tensor with dtype '{D.legacy_name(have)}' into dtype "
                             f"'{D.legacy_name(dtype)}'.")
        if isinstance(obj, Tensor):
            if requires_grad is None and obj.requires_grad:
                warnings.warn("torch.asarray: unspecified requires_grad now defaults to obj.requires_grad instead of "
                              "False. Pass requires_grad=False explicitly to get the old behavior and silence this "
                              "warning.", UserWarning, stacklevel=2)
            t = obj.to(dtype) if dtype is not None and dtype is not have else obj.clone() if copy else obj
        else:
            t = tensor(obj, dtype=dtype) if copy or (dtype is not None and dtype is not have) else from_numpy(obj)
    else:
        t = tensor(obj, dtype=dtype)
    if requires_grad is not None and requires_grad != t.requires_grad:
        t.requires_grad_(requires_grad)
    return t
