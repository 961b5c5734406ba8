"""Adafactor (``tape.optim.Adafactor``): Adam's second moment kept as row and column factors of each
matrix, with PyTorch's options, checks, state and update order."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Optional, Union

from .._creation import tensor, zeros_like
from .._grad_mode import no_grad
from .._info import finfo
from .._tensor import Tensor
from ..ops.stats import norm
from ._common import closure_loss, step_dtype
from .optimizer import Optimizer, to_scalar

__all__ = ["Adafactor", "adafactor"]


class Adafactor(Optimizer):
    r"""Implements the Adafactor algorithm (Shazeer and Stern, 2018), in PyTorch's form: the second moment
    of a gradient with more than one dimension is kept as its row and column means over the last two
    dimensions, the step size is relative to the parameter's scale, and the update is clipped by its RMS.

    Args:
        params (iterable): iterable of parameters or named_parameters to optimize or iterable of
            dicts defining parameter groups.
        lr (float, Tensor, optional): unlike other optimizers, Adafactor does not require a learning rate;
            it caps the relative step size (default: 1e-2)
        beta2_decay (float, optional): the decay rate of beta2: beta2 at step t is 1 - t**beta2_decay
            (default: -0.8)
        eps (tuple[float, float], optional): epsilon1 added to the squared gradient (None: the machine
            epsilon of the parameter's dtype) and epsilon2, the smallest parameter scale (default: (None, 1e-3))
        d (float, optional): the clipping threshold of the update's RMS (default: 1.0)
        weight_decay (float, optional): decoupled weight decay coefficient (default: 0.0)
        foreach (bool, optional): accepted as PyTorch's; the implementation is the single-tensor loop
        maximize (bool, optional): maximize the objective with respect to the params (default: False)
    """

    def __init__(self, params: Iterable, lr: Union[float, Tensor] = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0, *,
                 foreach: Optional[bool] = None, maximize: bool = False) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        super().__init__(params, {"lr": lr, "beta2_decay": beta2_decay, "eps": eps, "d": d,
                                  "weight_decay": weight_decay, "foreach": foreach, "maximize": maximize})

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)
            for p in group["params"]:
                p_state = self.state.get(p, [])
                if len(p_state) != 0 and not isinstance(p_state["step"], Tensor):
                    p_state["step"] = tensor(float(p_state["step"]), dtype=step_dtype(None))

    def _init_group(self, group: dict, params: list, grads: list, row_vars: list, col_vars: list,
                    variances: list, steps: list) -> None:
        for p in group["params"]:
            if p.grad is None:
                continue
            params.append(p)
            grads.append(p.grad)
            state = self.state[p]
            if len(state) == 0:
                state["step"] = tensor(0.0, dtype=step_dtype(None))
                if p.grad.dim() > 1:
                    # (the factors: the mean of the squares over the last dim, and over the one before it)
                    row_shape = list(p.grad.shape)
                    row_shape[-1] = 1
                    state["row_var"] = p.grad.new_zeros(row_shape)
                    col_shape = list(p.grad.shape)
                    col_shape[-2] = 1
                    state["col_var"] = p.grad.new_zeros(col_shape)
                else:
                    state["variance"] = zeros_like(p.grad)
            row_vars.append(state.get("row_var"))
            col_vars.append(state.get("col_var"))
            variances.append(state.get("variance"))
            steps.append(state["step"])

    @no_grad()
    def step(self, closure: Optional[Callable[[], Any]] = None):
        """Perform a single optimization step; ``closure`` (optional) re-evaluates the model and
        returns the loss, which ``step`` returns."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            params, grads, row_vars, col_vars, variances, steps = [], [], [], [], [], []
            self._init_group(group, params, grads, row_vars, col_vars, variances, steps)
            eps1, eps2 = group["eps"]
            adafactor(params, grads, row_vars, col_vars, variances, steps, foreach=group["foreach"],
                      d=group["d"], lr=group["lr"], beta2_decay=group["beta2_decay"],
                      weight_decay=group["weight_decay"], eps1=eps1, eps2=eps2, maximize=group["maximize"])
        return loss


def adafactor(params: list[Tensor], grads: list[Tensor], row_vars: list, col_vars: list, variances: list,
              state_steps: list[Tensor], foreach: Optional[bool] = None, grad_scale: Optional[Tensor] = None,
              found_inf: Optional[Tensor] = None, has_complex: bool = False, *, d: float, lr, beta2_decay: float,
              weight_decay: float, eps1: Optional[float], eps2: float, maximize: bool) -> None:
    """The Adafactor update of each parameter (see :class:`Adafactor`), its state tensors changed in place."""
    if not all(isinstance(t, Tensor) for t in state_steps):
        raise RuntimeError("`state_steps` argument must contain a list of singleton tensors")
    if grad_scale is not None or found_inf is not None:
        raise AssertionError("Grad scaling should occur outside of optimizer.step()")
    lr = to_scalar(lr)
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        step_t, row_var, col_var, variance = state_steps[i], row_vars[i], col_vars[i], variances[i]
        if eps1 is None:
            eps1 = finfo(param.dtype).eps
        step_t += 1
        step = step_t.item()
        one_minus_beta2_t = step ** beta2_decay
        rho_t = min(lr, 1 / (step ** 0.5))
        alpha = max(eps2, param.norm(2).item() / (param.numel() ** 0.5)) * rho_t
        if weight_decay != 0:
            param.mul_(1 - lr * weight_decay)
        if grad.dim() > 1:
            if row_var is None or col_var is None:
                raise AssertionError("row_var and col_var should be defined when grad is multidimensional")
            row_var.lerp_(norm(grad, dim=-1, keepdim=True).square_().div_(grad.size(-1)), one_minus_beta2_t)
            col_var.lerp_(norm(grad, dim=-2, keepdim=True).square_().div_(grad.size(-2)), one_minus_beta2_t)
            var_estimate = row_var @ col_var
            var_estimate.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
        else:
            if variance is None:
                raise AssertionError("variance should be defined when grad is a vector")
            variance.lerp_(grad * grad, one_minus_beta2_t)
            var_estimate = variance.clone()
        update = var_estimate.clamp_(min=eps1 * eps1).rsqrt_()
        update.mul_(grad)
        denom = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * d))
        param.add_(update, alpha=-alpha / denom)
