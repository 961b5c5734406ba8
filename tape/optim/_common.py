"""What the optimizers of the Adam family share: PyTorch's checks of their arguments, the dtype of
their ``step`` counters, and the state made at a parameter's first step."""
from __future__ import annotations

from typing import Optional

from collections.abc import Callable
from typing import Any

from .. import _dtype as D
from .._creation import tensor, zeros_like
from .._grad_mode import enable_grad
from .._tensor import Tensor

# (PyTorch's devices for ``capturable=True``: none of them is the CPU, so a step raises there)
CAPTURABLE_DEVICES = ["cuda", "xpu", "hpu", "privateuseone", "xla"]


def capturable_error(what: str = "params and state_steps", xla: bool = True) -> AssertionError:
    devices = CAPTURABLE_DEVICES if xla else CAPTURABLE_DEVICES[:-1]
    return AssertionError(f"If capturable=True, {what} must be on supported devices: {devices}.")


def step_dtype(fused: Optional[bool]) -> D.dtype:
    """The dtype of ``state['step']``: float32 when fused, else float64 only under a float64 default."""
    if fused:
        return D.float32
    return D.float64 if D.get_default_dtype() is D.float64 else D.float32


def check_lr(lr) -> None:
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def check_betas_eps_decay(betas, eps: float, weight_decay: float) -> None:
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def first_state(state: dict, p: Tensor, *zeroed: str, **scalars: float) -> None:
    """A parameter's state at its first step: ``step`` 0, the named buffers zeros like ``p``, the named
    0-d counters at their values."""
    if len(state) == 0:
        state["step"] = tensor(0.0, dtype=step_dtype(None))
        for name, value in scalars.items():
            state[name] = tensor(value, dtype=step_dtype(None))
        for name in zeroed:
            state[name] = zeros_like(p)


def with_grads(group: dict) -> list:
    """The parameters of ``group`` that have a gradient."""
    return [p for p in group["params"] if p.grad is not None]


def closure_loss(closure: Optional[Callable[[], Any]]):
    """The loss ``closure`` returns, evaluated with grad mode on (None without a closure)."""
    if closure is None:
        return None
    with enable_grad():
        return closure()


def check_fused(p: Tensor) -> None:
    """PyTorch's check of a parameter for ``fused=True`` (a floating point tensor on the CPU here)."""
    if not p.is_floating_point():
        raise RuntimeError("`fused=True` requires all the params to be floating point Tensors of supported "
                           f"devices: ['mps', 'cuda', 'xpu', 'hpu', 'cpu', 'mtia', 'privateuseone'] but "
                           f"{p.dtype} and {p.device.type}")
