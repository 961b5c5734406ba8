"""Resilient backpropagation (``tape.optim.Rprop``), with PyTorch's options, checks, state and update order."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Optional, Union

from .._creation import full_like, tensor, zeros_like
from .._tensor import Tensor
from ._common import capturable_error, check_lr, closure_loss, step_dtype, with_grads
from .optimizer import Optimizer, to_scalar, use_grad_for_differentiable

__all__ = ["Rprop", "rprop"]


class Rprop(Optimizer):
    r"""Implements the resilient backpropagation algorithm (Riedmiller and Braun, 1993): each element
    moves by its own step size, grown by ``etaplus`` while its gradient keeps its sign and shrunk by
    ``etaminus`` when the sign flips, within ``step_sizes``.

    Args:
        params (iterable): iterable of parameters or named_parameters to optimize or iterable of
            dicts defining parameter groups.
        lr (float, Tensor, optional): learning rate: the initial step size (default: 1e-2)
        etas (tuple[float, float], optional): pair of (etaminus, etaplus), the multiplicative decrease and
            increase factors (default: (0.5, 1.2))
        step_sizes (tuple[float, float], optional): the minimal and maximal step sizes (default: (1e-6, 50))
        capturable (bool, optional): for CUDA graph capture; PyTorch's step raises on CPU tensors, and so does this one
        foreach (bool, optional): accepted as PyTorch's; the implementation is the single-tensor loop
        maximize (bool, optional): maximize the objective with respect to the params (default: False)
        differentiable (bool, optional): whether autograd should occur through the optimizer step (default: False)
    """

    def __init__(self, params: Iterable, lr: Union[float, Tensor] = 1e-2, etas: tuple = (0.5, 1.2),
                 step_sizes: tuple = (1e-6, 50), *, capturable: bool = False, foreach: Optional[bool] = None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        super().__init__(params, {"lr": lr, "etas": etas, "step_sizes": step_sizes, "foreach": foreach,
                                  "maximize": maximize, "differentiable": differentiable, "capturable": capturable})

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
                    state["prev"] = zeros_like(p)
                    state["step_size"] = full_like(p.grad, to_scalar(group["lr"]))
            states = [self.state[p] for p in params]
            etaminus, etaplus = group["etas"]
            step_size_min, step_size_max = group["step_sizes"]
            rprop(params, [p.grad for p in params], [s["prev"] for s in states], [s["step_size"] for s in states],
                  [s["step"] for s in states], foreach=group["foreach"], maximize=group["maximize"],
                  differentiable=group["differentiable"], capturable=group["capturable"],
                  step_size_min=step_size_min, step_size_max=step_size_max, etaminus=etaminus, etaplus=etaplus)
        return loss


def rprop(params: list[Tensor], grads: list[Tensor], prevs: list[Tensor], step_sizes: list[Tensor],
          state_steps: list[Tensor], foreach: Optional[bool] = None, capturable: bool = False,
          maximize: bool = False, differentiable: bool = False, has_complex: bool = False, *,
          step_size_min: float, step_size_max: float, etaminus: float, etaplus: float) -> None:
    """The Rprop update of each parameter (see :class:`Rprop`), its state tensors changed in place."""
    if not all(isinstance(t, Tensor) for t in state_steps):
        raise RuntimeError("API has changed, `state_steps` argument must contain a list of singleton tensors")
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        prev, step_size, step = prevs[i], step_sizes[i], state_steps[i]
        if capturable:
            raise capturable_error()
        step += 1
        sign = grad.mul(prev.clone() if differentiable else prev).sign()
        sign[sign.gt(0)] = etaplus
        sign[sign.lt(0)] = etaminus
        sign[sign.eq(0)] = 1
        step_size.mul_(sign).clamp_(step_size_min, step_size_max)
        # (an element whose gradient changed sign does not move, and its next step starts afresh)
        grad = grad.clone()
        grad[sign.eq(etaminus)] = 0
        param.addcmul_(grad.sign(), step_size, value=-1)
        prev.copy_(grad)
