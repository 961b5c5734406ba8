"""Stochastic gradient descent (``tape.optim.SGD``), with PyTorch's options, checks and update order."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Optional, Union

from .._state import state
from .._tensor import Tensor
from . import _fast
from ._common import check_fused, closure_loss
from .optimizer import Optimizer, to_scalar, use_grad_for_differentiable

__all__ = ["SGD", "sgd"]


class SGD(Optimizer):
    r"""Implements stochastic gradient descent (optionally with momentum).

    Args:
        params (iterable): iterable of parameters or named_parameters to optimize or iterable of
            dicts defining parameter groups.
        lr (float, Tensor, optional): learning rate (default: 1e-3)
        momentum (float, optional): momentum factor (default: 0)
        dampening (float, optional): dampening for momentum (default: 0)
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0)
        nesterov (bool, optional): enables Nesterov momentum (default: False)
        maximize (bool, optional): maximize the objective with respect to the params, instead of
            minimizing (default: False)
        foreach, fused (bool, optional): accepted as PyTorch's; every implementation here is the
            single-tensor loop (the same update)
        differentiable (bool, optional): whether autograd should occur through the optimizer step
            (default: False)
    """

    def __init__(self, params: Iterable, lr: Union[float, Tensor] = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: Union[float, Tensor] = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: Optional[bool] = None, differentiable: bool = False,
                 fused: Optional[bool] = None) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov, "maximize": maximize, "foreach": foreach,
                    "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)
            group.setdefault("fused", False)

    @use_grad_for_differentiable
    def step(self, closure: Optional[Callable[[], Any]] = None):
        """Perform a single optimization step; ``closure`` (optional) re-evaluates the model and
        returns the loss, which ``step`` returns."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            params, grads, buffers = [], [], []
            for p in group["params"]:
                if p.grad is not None:
                    if group["fused"]:
                        check_fused(p)
                    params.append(p)
                    grads.append(p.grad)
                    if group["momentum"] != 0:
                        buffers.append(self.state[p].get("momentum_buffer"))
            sgd(params, grads, buffers, foreach=group["foreach"], fused=group["fused"],
                weight_decay=group["weight_decay"], momentum=group["momentum"], lr=group["lr"],
                dampening=group["dampening"], nesterov=group["nesterov"], maximize=group["maximize"])
            if group["momentum"] != 0:
                for p, buffer in zip(params, buffers):
                    self.state[p]["momentum_buffer"] = buffer
        return loss


def sgd(params: list[Tensor], d_p_list: list[Tensor], momentum_buffer_list: list[Optional[Tensor]],
        has_sparse_grad: bool = False, foreach: Optional[bool] = None, fused: Optional[bool] = None,
        grad_scale: Optional[Tensor] = None, found_inf: Optional[Tensor] = None, *, weight_decay: float,
        momentum: float, lr: float, dampening: float, nesterov: bool, maximize: bool) -> None:
    """The SGD update of each parameter (see :class:`SGD`); ``momentum_buffer_list`` gets the new buffers."""
    if grad_scale is not None or found_inf is not None:
        raise RuntimeError("grad_scale and found_inf are not supported: tape has no gradient scaler")
    lr = to_scalar(lr)
    numbers = not state.grad and all(type(c) in (float, int) for c in (lr, weight_decay, momentum, dampening))
    for i, param in enumerate(params):
        buffer = momentum_buffer_list[i] if momentum != 0 else None
        if numbers and _fast.plain(param, d_p_list[i], buffer):
            buffer = _fast.sgd_step(param, d_p_list[i], buffer, lr=lr, weight_decay=weight_decay, momentum=momentum,
                                    dampening=dampening, nesterov=nesterov, maximize=maximize)
            if momentum != 0:
                momentum_buffer_list[i] = buffer
            continue
        grad = d_p_list[i] if not maximize else -d_p_list[i]
        if weight_decay != 0:
            if isinstance(weight_decay, Tensor) and weight_decay.requires_grad:
                grad = grad.addcmul_(param.clone(), weight_decay)
            else:
                grad = grad.add(param, alpha=weight_decay)
        if momentum != 0:
            buffer = momentum_buffer_list[i]
            if buffer is None:
                buffer = grad.detach().clone()
                momentum_buffer_list[i] = buffer
            else:
                buffer.mul_(momentum).add_(grad, alpha=1 - dampening)
            grad = grad.add(buffer, alpha=momentum) if nesterov else buffer
        if isinstance(lr, Tensor) and lr.requires_grad:
            param.addcmul_(grad, lr, value=-1)
        else:
            param.add_(grad, alpha=-lr)
