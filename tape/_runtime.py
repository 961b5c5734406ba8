"""PyTorch's process-wide switches: threads, deterministic algorithms, float32 matmul precision,
denormals, the deprecated default tensor type, and what PyTorch says about its build.

tape's kernels are deterministic (parallel loops split work in fixed parts and combine them in a
fixed order), so the deterministic-algorithm switches are recorded and reported but change nothing;
matrix products always run in full float32 precision, whatever precision is asked for.
"""
from __future__ import annotations

import warnings
from typing import Union

import numba

from . import _dtype as D
from ._legacy import _BY_NAME, LEGACY_TYPES
from ._storage import TypedStorage, UntypedStorage
from ._tensor import Tensor

_state = {"interop": None, "deterministic": False, "warn_only": False, "matmul": "highest", "warned_tensor_type": False}
_BY_CLASS = {cls: dt for dt, cls in LEGACY_TYPES.items()}
_DEBUG_MODES = ("default", "warn", "error")
_PRECISIONS = ("highest", "high", "medium")


def _check_count(fn: str, n) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise RuntimeError(f"{fn} expects an int, but got {type(n).__name__}")
    if n <= 0:
        raise RuntimeError(f"{fn} expects a positive integer")
    return n


def get_num_threads() -> int:
    """The number of threads tape's parallel kernels use (numba's thread pool)."""
    return numba.get_num_threads()


def set_num_threads(int: int) -> None:  # noqa: A002  (PyTorch's parameter name)
    """Sets the number of threads tape's parallel kernels use, at most the number numba started
    with (``NUMBA_NUM_THREADS``, by default the machine's cores)."""
    n = _check_count("set_num_threads", int)
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def get_num_interop_threads() -> int:
    """The number of inter-op threads PyTorch would use; tape runs ops in the calling thread, and
    reports the value last set (by default the intra-op thread count)."""
    return _state["interop"] or numba.config.NUMBA_NUM_THREADS


def set_num_interop_threads(int: int) -> None:  # noqa: A002
    """Records the inter-op thread count (tape runs each op in the calling thread)."""
    _state["interop"] = _check_count("set_num_interop_threads", int)


def init_num_threads() -> None:
    """Nothing to initialize: numba's thread pool starts with the first parallel kernel."""


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Asks for deterministic algorithms (every tape kernel is one: the setting is kept and
    reported by ``are_deterministic_algorithms_enabled``)."""
    if not isinstance(mode, bool):
        raise TypeError(f"_set_deterministic_algorithms(): argument 'mode' (position 1) must be bool, not "
                        f"{type(mode).__name__}")
    if not isinstance(warn_only, bool):
        raise TypeError(f"_set_deterministic_algorithms(): argument 'warn_only' must be bool, not "
                        f"{type(warn_only).__name__}")
    _state["deterministic"], _state["warn_only"] = mode, warn_only


def are_deterministic_algorithms_enabled() -> bool:
    """Whether ``use_deterministic_algorithms(True)`` is in effect."""
    return _state["deterministic"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """Whether deterministic mode was asked with ``warn_only=True``."""
    return _state["warn_only"]


def set_deterministic_debug_mode(debug_mode: Union[str, int]) -> None:
    """The string or int form of ``use_deterministic_algorithms``: "default" (0), "warn" (1),
    "error" (2)."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, `warn`, `error`, but got "
                               f"{debug_mode}")
        debug_mode = _DEBUG_MODES.index(debug_mode)
    elif isinstance(debug_mode, int) and not isinstance(debug_mode, bool):
        if debug_mode not in (0, 1, 2):
            raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}")
    else:
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode)}")
    use_deterministic_algorithms(debug_mode > 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode() -> int:
    """0 when deterministic algorithms are off, 1 when they only warn, 2 when they are on."""
    if not _state["deterministic"]:
        return 0
    return 1 if _state["warn_only"] else 2


def set_float32_matmul_precision(precision: str) -> None:
    """Records the asked float32 matmul precision ("highest", "high" or "medium"); tape's products
    are always computed in float32."""
    if precision not in _PRECISIONS:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current"
                      f"setFloat32MatmulPrecision call has no effect.", UserWarning, stacklevel=2)
        return
    _state["matmul"] = precision


def get_float32_matmul_precision() -> str:
    """The precision last set by ``set_float32_matmul_precision`` ("highest" by default)."""
    return _state["matmul"]


def set_flush_denormal(mode: bool) -> bool:
    """Whether denormal numbers can be flushed to zero: False, tape does not change the CPU's
    floating-point modes (numpy and the compiled kernels keep computing with denormals)."""
    if not isinstance(mode, bool):
        raise RuntimeError(f"flush_denormal expects a bool, but got {type(mode).__name__}")
    return False


def set_default_tensor_type(t) -> None:
    """Deprecated (PyTorch 2.1): sets the default floating point dtype from a tensor type or its
    name (``tape.DoubleTensor``, ``"torch.DoubleTensor"``); warns once."""
    if not _state["warned_tensor_type"]:
        _state["warned_tensor_type"] = True
        warnings.warn("torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
                      "torch.set_default_dtype() and torch.set_default_device() as alternatives.",
                      UserWarning, stacklevel=2)
    if isinstance(t, str):
        if t.startswith("torch.cuda."):
            raise TypeError(f"type {t} not available. Torch not compiled with CUDA enabled.")
        module, _, name = t.rpartition(".")
        if module not in ("torch", "tape"):
            raise ModuleNotFoundError(f"No module named '{module or name}'")
        t = _BY_NAME.get(f"tape.{name}")
        if t is None:
            raise AttributeError(f"module '{module}' has no attribute '{name}'")
    dt = _BY_CLASS.get(t)
    if dt is None or not dt.is_floating_point:
        raise TypeError(("" if dt else "invalid type object: ")
                        + "only floating-point types are supported as the default type")
    D.set_default_dtype(dt)


def typename(obj: object) -> str:
    """The type name of ``obj``: a tensor's legacy type (``torch.FloatTensor``), else the module
    and qualified name of ``obj`` (or of its class, for an instance)."""
    if isinstance(obj, Tensor):
        return obj.type()
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    module = getattr(obj, "__module__", None) or ""
    if name is None:
        module, name = type(obj).__module__ or "", type(obj).__qualname__
    return name if module in ("", "builtins") else f"{module}.{name}"


def is_storage(obj: object) -> bool:
    """True if ``obj`` is a storage (``untyped_storage()``, ``storage()``)."""
    return isinstance(obj, (TypedStorage, UntypedStorage))


def get_device(input: Tensor) -> int:
    """-1: every tensor is on the CPU."""
    if not isinstance(input, Tensor):
        raise TypeError(f"get_device(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return input.get_device()


has_lapack = True       # (numpy's LAPACK)
has_openmp = False
has_mkl = False
has_spectral = False    # (no ``tape.fft``)
