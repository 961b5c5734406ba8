"""Averaged SGD (``tape.optim.ASGD``), with PyTorch's options, checks, state and update order."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Optional, Union

from .._creation import as_tensor, tensor, zeros_like
from .._tensor import Tensor
from ._common import capturable_error, check_lr, closure_loss, step_dtype, with_grads
from .optimizer import Optimizer, to_scalar, use_grad_for_differentiable

__all__ = ["ASGD", "asgd"]


class ASGD(Optimizer):
    r"""Implements Averaged Stochastic Gradient Descent (Polyak and Juditsky, 1992).

    Args:
        params (iterable): iterable of parameters or named_parameters to optimize or iterable of
            dicts defining parameter groups.
        lr (float, Tensor, optional): learning rate (default: 1e-2)
        lambd (float, optional): decay term (default: 1e-4)
        alpha (float, optional): power for eta update (default: 0.75)
        t0 (float, optional): point at which to start averaging (default: 1e6)
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0)
        foreach (bool, optional): accepted as PyTorch's; the implementation is the single-tensor loop
        maximize (bool, optional): maximize the objective with respect to the params (default: False)
        differentiable (bool, optional): whether autograd should occur through the optimizer step (default: False)
        capturable (bool, optional): for CUDA graph capture; PyTorch's step raises on CPU tensors, and so does this one

    The state keeps the averaged parameters as ``ax``.
    """

    def __init__(self, params: Iterable, lr: Union[float, Tensor] = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0, foreach: Optional[bool] = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        check_lr(lr)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0, "weight_decay": weight_decay,
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
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = tensor(0.0, dtype=step_dtype(None))
                    state["eta"] = as_tensor(to_scalar(group["lr"]), dtype=step_dtype(None)).clone().detach()
                    state["mu"] = tensor(1.0, dtype=step_dtype(None))
                    state["ax"] = zeros_like(p)
            states = [self.state[p] for p in params]
            asgd(params, [p.grad for p in params], [s["ax"] for s in states], [s["mu"] for s in states],
                 [s["eta"] for s in states], [s["step"] for s in states], foreach=group["foreach"],
                 maximize=group["maximize"], differentiable=group["differentiable"], capturable=group["capturable"],
                 lambd=group["lambd"], lr=group["lr"], t0=group["t0"], alpha=group["alpha"],
                 weight_decay=group["weight_decay"])
        return loss


def asgd(params: list[Tensor], grads: list[Tensor], axs: list[Tensor], mus: list[Tensor], etas: list[Tensor],
         state_steps: list[Tensor], foreach: Optional[bool] = None, maximize: bool = False,
         differentiable: bool = False, capturable: bool = False, has_complex: bool = False, *, lambd: float, lr,
         t0: float, alpha: float, weight_decay: float) -> None:
    """The ASGD update of each parameter (see :class:`ASGD`), its state tensors changed in place."""
    lr = to_scalar(lr)
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        mu, ax, eta, step_t = mus[i], axs[i], etas[i], state_steps[i]
        if capturable:
            raise capturable_error("params, mus, etas, and state_steps")
        step_t += 1
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        eta_value = eta.item()
        param.mul_(1 - lambd * eta_value)      # (the decay term)
        param.add_(grad, alpha=-eta_value)
        if mu.item() != 1:
            ax.add_(param.sub(ax).mul_(mu))
        else:
            ax.copy_(param)
        step = step_t.item()
        eta.copy_(as_tensor(lr / ((1 + lambd * lr * step) ** alpha)))
        mu.copy_(as_tensor(1 / max(1, step - t0)))
