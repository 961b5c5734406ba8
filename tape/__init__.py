"""tape: a JIT-compiled, tape-based automatic differentiation library with PyTorch's semantics.

Write PyTorch-style code (``import tape as torch`` runs autograd tutorials):
every op appends one integer-coded row to a per-thread tape, and backward is a
numba-compiled sweep over those rows.
"""
from __future__ import annotations

from ._kernel_cache import refresh as _refresh_kernel_cache
from ._alias import install as _install_alias
from ._ops_path import ensure_ops

ensure_ops()
_install_alias()     # (``sys.modules['torch'] = tape``: torch's submodules are tape's)
from . import ops as _ops  # noqa: E402,F401
from . import autograd, linalg, special  # noqa: E402
from ._creation import (  # noqa: E402
    Generator, arange, as_tensor, default_generator, empty, empty_like, eye, from_numpy, full, full_like,
    get_rng_state, initial_seed, linspace, manual_seed, ones, ones_like, rand, randint, randn, seed, set_rng_state,
    tensor, zeros, zeros_like)
from ._creation import asarray, range_ as range, scalar_tensor  # noqa: E402,A001  (``tape.range``, as ``torch.range``)
from ._dtype import (  # noqa: E402
    bool_ as bool, dtype, float16, float32, float64, get_default_dtype, int8, int16, int32, int64,
    set_default_dtype, uint8)
from ._anomaly import is_anomaly_check_nan_enabled, is_anomaly_enabled, set_anomaly_enabled  # noqa: E402
from ._grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled,  # noqa: E402
                         no_grad, set_grad_enabled)
from . import _random  # noqa: E402,F401  (registers its names before install)
from . import _python_maps, _windows  # noqa: E402,F401  (register their names before install)
from ._random import empty_strided  # noqa: E402  (no ``out=``, as PyTorch's)
from ._buffers import empty_permuted, from_dlpack, frombuffer, to_dlpack  # noqa: E402
from . import backends, cpu, cuda, testing, version, viz  # noqa: E402
from .version import __version__  # noqa: E402
from .utils import checkpoint as _checkpoint  # noqa: E402,F401  (tape.utils.checkpoint, as torch's)
from ._device import device, get_default_device, set_default_device  # noqa: E402
from ._legacy import LEGACY_TYPES as _LEGACY_TYPES  # noqa: E402
from ._serialize import load, save  # noqa: E402
from ._format import get_printoptions, set_printoptions  # noqa: E402
from ._warn import is_warn_always_enabled, set_warn_always  # noqa: E402
from ._storage import TypedStorage, UntypedStorage  # noqa: E402
from ._layout import (channels_last, channels_last_3d, contiguous_format, layout, memory_format,  # noqa: E402
                      preserve_format, strided)
from ._pytorch_names import TORCH as _TORCH_NAMES  # noqa: E402
from ._pytorch_names import missing as _missing  # noqa: E402
from ._install import install as _install  # noqa: E402
from ._tensor import Size, Tensor  # noqa: E402
from ._runtime import (  # noqa: E402
    are_deterministic_algorithms_enabled, get_deterministic_debug_mode, get_device, get_float32_matmul_precision,
    get_num_interop_threads, get_num_threads, has_lapack, has_mkl, has_openmp, has_spectral, init_num_threads,
    is_deterministic_algorithms_warn_only_enabled, is_storage, set_default_tensor_type, set_deterministic_debug_mode,
    set_float32_matmul_precision, set_flush_denormal, set_num_interop_threads, set_num_threads, typename,
    use_deterministic_algorithms)
from ._info import (can_cast, e, finfo, iinfo, inf, is_complex, is_nonzero, is_same_size, is_signed,  # noqa: E402
                    nan, newaxis, pi, promote_types, result_type)

# The ops' function forms (``tape.exp``, ``tape.matmul`` ...), from the registry of public names.
_functions = _install()
globals().update({cls.__name__: cls for cls in _LEGACY_TYPES.values()})    # FloatTensor ...

float = float32
double = float64
half = float16
long = int64
int = int32
short = int16


def is_tensor(obj: object) -> bool:
    """True if ``obj`` is a tape tensor."""
    return isinstance(obj, Tensor)


def is_inference(input: Tensor) -> bool:
    """Whether ``input`` is an inference tensor (made in inference mode, or a view of one)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"is_inference(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return input.is_inference()


def detach_(input: Tensor) -> Tensor:
    """``input.detach_()``: detaches the tensor from the graph that made it, in place."""
    if not isinstance(input, Tensor):
        raise TypeError(f"detach_(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return input.detach_()


def is_floating_point(input: Tensor) -> bool:
    """Whether ``input`` has a floating point dtype."""
    return input.is_floating_point()


def numel(input: Tensor) -> int:
    """The number of elements of ``input``."""
    return input.numel()


__all__ = [
    "Tensor", "Size", "dtype", "tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty",
    "arange", "linspace", "eye", "zeros_like", "ones_like", "full_like", "empty_like", "rand", "randn",
    "randint", "manual_seed", "seed", "initial_seed", "Generator", "default_generator", "float32", "float64", "float16",
    "int64", "int32", "int16", "int8", "uint8", "bool", "float", "double", "half", "long", "int", "short",
    "get_default_dtype", "set_default_dtype", "no_grad", "enable_grad", "set_grad_enabled",
    "is_grad_enabled", "autograd", "linalg", "special", "is_tensor", "is_floating_point", "numel", "device", "cuda",
    "get_default_device", "set_default_device", "save", "load",
    "set_printoptions", "get_printoptions", "set_warn_always", "is_warn_always_enabled",
    *(cls.__name__ for cls in _LEGACY_TYPES.values()),
    "is_anomaly_enabled", "is_anomaly_check_nan_enabled", "set_anomaly_enabled",
]


format_tape = viz.listing     # (the name it had first)
__all__ += ["format_tape", "viz", "testing"]
__all__ += ["inference_mode", "is_inference_mode_enabled", "detach_"]
if set(_functions) & set(globals()):
    raise ImportError(f"function forms shadow tape's names: {sorted(set(_functions) & set(globals()))}")
from ._trace import Trace, TraceGuardError, dispatching as _dispatching  # noqa: E402
from ._trace_io import load_trace  # noqa: E402
from . import _batch, _dask  # noqa: E402,F401  (Trace.map, grad_map, jvp_map, on a Dask cluster too)
_functions["trace"] = _dispatching(_functions["trace"])     # tape.trace(fn, *inputs) records fn
globals().update(_functions)
__all__ += list(_functions)
__all__ += ["get_rng_state", "set_rng_state"]
__all__ += ["is_inference", "channels_last", "channels_last_3d", "contiguous_format", "layout", "memory_format",
            "preserve_format", "strided", "TypedStorage", "UntypedStorage"]
__all__ += ["can_cast", "e", "finfo", "iinfo", "inf", "is_complex", "is_nonzero", "is_same_size", "is_signed", "nan",
            "newaxis", "pi", "promote_types", "result_type"]
__all__ += ["Trace", "TraceGuardError", "load_trace"]
__all__ += ["asarray", "range", "scalar_tensor"]
__all__ += ["empty_strided"]
__all__ += ["empty_permuted", "from_dlpack", "frombuffer", "to_dlpack"]
__all__ += ["backends", "cpu", "version", "are_deterministic_algorithms_enabled", "get_deterministic_debug_mode",
            "get_device", "get_float32_matmul_precision", "get_num_interop_threads", "get_num_threads", "has_lapack",
            "has_mkl", "has_openmp", "has_spectral", "init_num_threads", "is_deterministic_algorithms_warn_only_enabled",
            "is_storage", "set_default_tensor_type", "set_deterministic_debug_mode", "set_float32_matmul_precision",
            "set_flush_denormal", "set_num_interop_threads", "set_num_threads", "typename",
            "use_deterministic_algorithms"]
from ._foreach import FOREACH as _FOREACH  # noqa: E402
globals().update(_FOREACH)      # ``tape._foreach_add`` ...: private, as PyTorch's (not in ``__all__``)
from .ops.counting import _unique, _unique2  # noqa: E402,F401  (PyTorch's ATen forms of unique: private)
from . import distributions, func, nn, optim  # noqa: E402
from .func import vmap  # noqa: E402
__all__ += ["distributions", "func", "nn", "optim", "vmap"]
from . import random  # noqa: E402  (torch.random)
from . import types  # noqa: E402  (torch.types)
from . import library  # noqa: E402  (torch.library; also makes ``tape.ops.<namespace>`` the operators it defines)
from .utils import data as _data  # noqa: E402,F401  (tape.utils.data, as torch's)
__all__ += ["random", "library", "types"]



def __getattr__(name: str):
    raise _missing("tape", name, _TORCH_NAMES, "torch")


_refresh_kernel_cache(__name__)    # last: every kernel module is imported, no kernel has run
from . import _C  # noqa: E402,F401  (PyTorch's private names: torch._C)
from . import _VF  # noqa: E402,F401  (torch._VF)
from . import _vmap_internals  # noqa: E402,F401  (torch._vmap_internals)
from ._test_ops import (_test_autograd_multiple_dispatch, _test_autograd_multiple_dispatch_view,  # noqa: E402,F401
                        _test_autograd_multiple_dispatch_view_copy)
