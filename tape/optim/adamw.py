"""AdamW (``tape.optim.AdamW``): Adam with decoupled weight decay, default ``weight_decay=1e-2``."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Optional, Union

from .._tensor import Tensor
from .adam import Adam, adam

__all__ = ["AdamW", "adamw"]


class AdamW(Adam):
    r"""Implements the AdamW algorithm (Loshchilov and Hutter): Adam whose weight decay scales the
    parameter directly (``decoupled_weight_decay=True``) instead of adding to the gradient.

    Args: as :class:`Adam`'s (without ``decoupled_weight_decay``), ``weight_decay`` defaulting to 1e-2.
    """

    def __init__(self, params: Iterable, lr: Union[float, Tensor] = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: Optional[bool] = None, capturable: bool = False, differentiable: bool = False,
                 fused: Optional[bool] = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True     # (loading any state into AdamW keeps it AdamW)


def adamw(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor], exp_avg_sqs: list[Tensor],
          max_exp_avg_sqs: list[Tensor], state_steps: list[Tensor], foreach: Optional[bool] = None,
          capturable: bool = False, differentiable: bool = False, fused: Optional[bool] = None,
          grad_scale: Optional[Tensor] = None, found_inf: Optional[Tensor] = None, has_complex: bool = False, *,
          amsgrad: bool, beta1, beta2, lr, weight_decay: float, eps: float, maximize: bool) -> None:
    """The AdamW update of each parameter (see :class:`AdamW`)."""
    adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, foreach=foreach, capturable=capturable,
         differentiable=differentiable, fused=fused, grad_scale=grad_scale, found_inf=found_inf,
         has_complex=has_complex, decoupled_weight_decay=True, amsgrad=amsgrad, beta1=beta1, beta2=beta2, lr=lr,
         weight_decay=weight_decay, eps=eps, maximize=maximize)
