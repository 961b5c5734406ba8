"""``tape.autograd``: ``backward`` and ``grad``, with PyTorch's signatures and checks."""
from __future__ import annotations

import sys as _sys
from typing import Any, NoReturn

from .._grad_mode import (_force_original_view_tracking, enable_grad, inference_mode, is_grad_enabled,
                          is_multithreading_enabled, is_view_replay_enabled, no_grad, set_grad_enabled,
                          set_multithreading_enabled)
from . import anomaly_mode, forward_ad, function, functional, grad_mode, graph
from .anomaly_mode import detect_anomaly, set_detect_anomaly
from .function import Function
from ._backward import _is_checkpoint_valid, backward, grad
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .._legacy import Variable
from . import variable as _variable_module  # noqa: F401  (the module; the package's ``variable`` is the function below)
from ._execution_engine import ExecutionEngine as _ExecutionEngine
from . import profiler, profiler_util
from .profiler import _profiler_enabled, kineto_available
from .._saved import SavedTensor
from .grad_mode import _unsafe_preserve_version_counter
from .._graph import GradientEdge as _GradientEdge
from .._tensor import Size as _Size, Tensor as _Tensor

Variable._execution_engine = _ExecutionEngine()


def variable(*args: Any, **kwargs: Any) -> NoReturn:
    """Deprecated: raises, as PyTorch's (use :func:`tape.tensor`)."""
    raise RuntimeError("torch.autograd.variable(...) is deprecated, use torch.tensor(...) instead")


torch = _sys.modules[__name__.rpartition(".")[0]]     # (PyTorch's ``torch.autograd.torch``: the package itself)


def _calculate_shape(output, grad: _Tensor, is_grads_batched: bool) -> tuple:
    """``(shape of output, shape of grad)`` as ``grad`` checks them: ``grad``'s without its batch
    dim when ``is_grads_batched``; a ``GradientEdge``'s output shape from its node."""
    if isinstance(output, _GradientEdge):
        if is_grads_batched:
            raise RuntimeError("Batched grads are not supported with GradientEdge")
        return _Size(output.node._input_metadata[output.output_nr].shape), grad.shape
    return output.shape, _Size(grad.shape[1:]) if is_grads_batched else grad.shape

__all__ = ["Function", "function", "forward_ad", "graph", "anomaly_mode", "detect_anomaly", "set_detect_anomaly", "backward", "grad", "functional", "gradcheck", "gradgradcheck", "GradcheckError", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]
__all__.append("Variable")
__all__ += ["grad_mode", "inference_mode", "is_multithreading_enabled", "set_multithreading_enabled",
            "is_view_replay_enabled"]
__all__ += ["profiler", "profiler_util", "kineto_available"]
__all__.append("SavedTensor")
