"""Adamax (``tape.optim.Adamax``): Adam with the infinity norm, with PyTorch's options, checks, state
and update order."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Optional, Union

from .._tensor import Tensor
from ..ops.join import cat
from ._common import capturable_error, check_betas_eps_decay, check_lr, closure_loss, first_state, with_grads
from .optimizer import Optimizer, to_scalar, use_grad_for_differentiable

__all__ = ["Adamax", "adamax"]


class Adamax(Optimizer):
    r"""Implements the Adamax algorithm (a variant of Adam based on the infinity norm).

    Args:
        params (iterable): iterable of parameters or named_parameters to optimize or iterable of
            dicts defining parameter groups.
        lr (float, Tensor, optional): learning rate (default: 2e-3)
        betas (tuple[float, float], optional): coefficients used for computing running averages of
            the gradient and its square (default: (0.9, 0.999))
        eps (float, optional): term added to the denominator to improve numerical stability (default: 1e-8)
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0)
        foreach (bool, optional): accepted as PyTorch's; the implementation is the single-tensor loop
        maximize (bool, optional): maximize the objective with respect to the params (default: False)
        differentiable (bool, optional): whether autograd should occur through the optimizer step (default: False)
        capturable (bool, optional): for CUDA graph capture; PyTorch's step raises on CPU tensors, and so does this one
    """

    def __init__(self, params: Iterable, lr: Union[float, Tensor] = 2e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: Optional[bool] = None, *,
                 maximize: bool = False, differentiable: bool = False, capturable: bool = False) -> None:
        check_lr(lr)
        check_betas_eps_decay(betas, eps, weight_decay)
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                                  "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
                                  "capturable": capturable})

    @use_grad_for_differentiable
    def step(self, closure: Optional[Callable[[], Any]] = None):
        """Perform a single optimization step; ``closure`` (optional) re-evaluates the model and
        returns the loss, which ``step`` returns."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            params = with_grads(group)
            for p in params:
                first_state(self.state[p], p, "exp_avg", "exp_inf")
            states = [self.state[p] for p in params]
            beta1, beta2 = group["betas"]
            adamax(params, [p.grad for p in params], [s["exp_avg"] for s in states], [s["exp_inf"] for s in states],
                   [s["step"] for s in states], foreach=group["foreach"], maximize=group["maximize"],
                   differentiable=group["differentiable"], capturable=group["capturable"], eps=group["eps"],
                   beta1=beta1, beta2=beta2, lr=group["lr"], weight_decay=group["weight_decay"])
        return loss


def adamax(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor], exp_infs: list[Tensor],
           state_steps: list[Tensor], foreach: Optional[bool] = None, maximize: bool = False,
           differentiable: bool = False, capturable: bool = False, has_complex: bool = False, *, eps: float,
           beta1: float, beta2: float, lr, weight_decay: float) -> None:
    """The Adamax update of each parameter (see :class:`Adamax`), its state tensors changed in place."""
    if not all(isinstance(t, Tensor) for t in state_steps):
        raise RuntimeError("API has changed, `state_steps` argument must contain a list of singleton tensors")
    lr = to_scalar(lr)
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        exp_avg, exp_inf, step_t = exp_avgs[i], exp_infs[i], state_steps[i]
        if capturable:
            raise capturable_error()
        step_t += 1
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        exp_avg.lerp_(grad, 1 - beta1)
        if not differentiable:
            exp_inf.mul_(beta2)
            exp_inf.copy_(exp_inf.maximum(grad.abs().add_(eps)))
        else:
            norm_buf = cat([exp_inf.mul_(beta2).unsqueeze(0), grad.abs().add_(eps).unsqueeze_(0)], 0)
            exp_inf.copy_(norm_buf.amax(0, keepdim=False))
        clr = lr / (1 - beta1 ** step_t.item())
        param.addcdiv_(exp_avg, exp_inf, value=-clr)
