"""Adagrad (``tape.optim.Adagrad``), with PyTorch's options, checks, state and update order."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Optional, Union

from .._creation import full_like, tensor
from .._tensor import Tensor
from ._common import check_fused, closure_loss, step_dtype
from .optimizer import Optimizer, to_scalar, use_grad_for_differentiable

__all__ = ["Adagrad", "adagrad"]


class Adagrad(Optimizer):
    r"""Implements the Adagrad algorithm (Duchi et al., 2011).

    Args:
        params (iterable): iterable of parameters or named_parameters to optimize or iterable of
            dicts defining parameter groups.
        lr (float, Tensor, optional): learning rate (default: 1e-2)
        lr_decay (float, optional): learning rate decay (default: 0)
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0)
        initial_accumulator_value (float, optional): initial value of the sum of squares of
            gradients (default: 0)
        eps (float, optional): term added to the denominator to improve numerical stability (default: 1e-10)
        foreach, fused (bool, optional): accepted as PyTorch's; the implementation is the single-tensor loop
        maximize (bool, optional): maximize the objective with respect to the params (default: False)
        differentiable (bool, optional): whether autograd should occur through the optimizer step
            (default: False)

    The state (``step`` and ``sum``) of every parameter is made when the optimizer is.
    """

    def __init__(self, params: Iterable, lr: Union[float, Tensor] = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0, eps: float = 1e-10,
                 foreach: Optional[bool] = None, *, maximize: bool = False, differentiable: bool = False,
                 fused: Optional[bool] = None) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = tensor(0.0, dtype=step_dtype(group["fused"]))
                state["sum"] = full_like(p, initial_accumulator_value)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        fused = None
        for group in self.param_groups:
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            fused = group.setdefault("fused", None)
        for p_state in self.state.values():
            if len(p_state) != 0 and not isinstance(p_state["step"], Tensor):
                p_state["step"] = tensor(float(p_state["step"]), dtype=step_dtype(fused))

    @use_grad_for_differentiable
    def step(self, closure: Optional[Callable[[], Any]] = None):
        """Perform a single optimization step; ``closure`` (optional) re-evaluates the model and
        returns the loss, which ``step`` returns."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            params, grads, sums, steps = [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if group["fused"]:
                    check_fused(p)
                params.append(p)
                grads.append(p.grad)
                state = self.state[p]
                if len(state) == 0:     # (a parameter added with ``add_param_group`` after construction)
                    state["step"] = tensor(0.0, dtype=step_dtype(group["fused"]))
                    state["sum"] = full_like(p, self.defaults["initial_accumulator_value"])
                sums.append(state["sum"])
                steps.append(state["step"])
            adagrad(params, grads, sums, steps, lr=group["lr"], weight_decay=group["weight_decay"],
                    lr_decay=group["lr_decay"], eps=group["eps"], foreach=group["foreach"],
                    maximize=group["maximize"], differentiable=group["differentiable"], fused=group["fused"])
        return loss


def adagrad(params: list[Tensor], grads: list[Tensor], state_sums: list[Tensor], state_steps: list[Tensor],
            fused: Optional[bool] = None, grad_scale: Optional[Tensor] = None, found_inf: Optional[Tensor] = None,
            has_sparse_grad: bool = False, foreach: Optional[bool] = None, differentiable: bool = False,
            has_complex: bool = False, *, lr, weight_decay: float, lr_decay: float, eps: float,
            maximize: bool) -> None:
    """The Adagrad update of each parameter (see :class:`Adagrad`), its state tensors changed in place."""
    if grad_scale is not None or found_inf is not None:
        raise RuntimeError("grad_scale and found_inf are not supported: tape has no gradient scaler")
    if not all(isinstance(t, Tensor) for t in state_steps):
        raise RuntimeError("API has changed, `state_steps` argument must contain a list of singleton tensors")
    lr = to_scalar(lr)
    for param, grad, state_sum, step_t in zip(params, grads, state_sums, state_steps):
        step_t += 1
        step = step_t.item()
        grad = grad if not maximize else -grad
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        clr = lr / (1 + (step - 1) * lr_decay)
        state_sum.addcmul_(grad, grad, value=1)
        std = state_sum.sqrt() + eps if differentiable else state_sum.sqrt().add_(eps)
        param.addcdiv_(grad, std, value=-clr)
