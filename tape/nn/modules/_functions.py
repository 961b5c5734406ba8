"""The machinery of a module's full backward hooks, as PyTorch's ``BackwardHookFunction``
(``torch.nn.modules._functions``) and ``BackwardHook`` (``torch.utils.hooks``): an identity custom Function
wraps the module's input and output tensors, and hooks on its nodes see the gradients that flow through."""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from ..._creation import tensor
from ..._grad_mode import is_grad_enabled
from ..._tensor import Tensor
from ...ops.einsum import einsum
from ...autograd.function import Function


class BackwardHookFunction(Function):
    """The identity on its tensors; its node (``BackwardHookFunctionBackward``) carries the hooks."""

    @staticmethod
    def forward(ctx, *args):
        """The tensors themselves (new nodes), those not requiring grad marked non-differentiable."""
        ctx.mark_non_differentiable(*[arg for arg in args if not arg.requires_grad])
        # (their gradients stay None, not zeros: the module's hooks see None for an input that needs none)
        ctx._materialize_non_diff_grads = False
        return args

    @staticmethod
    def backward(ctx, *args):
        """The gradients pass through unchanged (the hooks on this node see and may replace them)."""
        return args


def _lrn_forward_window(size: int, channels: int) -> np.ndarray:
    """Which channels' squares each channel's scale sums, as PyTorch's running-sum loop adds and removes
    them (a window of ``size`` around the channel, except that the first channel is never removed)."""
    pre_pad = int((size - 1) / 2 + 1)
    window = np.zeros((channels, channels))
    window[0, :min(pre_pad, channels)] = 1
    for c in range(1, channels):
        window[c] = window[c - 1]
        if c < channels - pre_pad + 1:
            window[c, c + pre_pad - 1] += 1
        if c > pre_pad:
            window[c, c - pre_pad] -= 1
    return window


def _lrn_backward_window(size: int, channels: int) -> np.ndarray:
    """The channels PyTorch's backward sums ``grad * output / scale`` over, for each channel."""
    pre_pad = int(size - (size - 1) / 2)
    if pre_pad > size - 1:      # (PyTorch's ``narrow`` of its padded buffer fails)
        raise RuntimeError(f"start ({pre_pad}) + length ({channels}) exceeds dimension size "
                           f"({channels + size - 1}).")
    window = np.zeros((channels, channels))
    for c in range(channels):
        window[c, max(c - pre_pad, 0):max(min(c + size - pre_pad, channels), 0)] = 1
    return window


class CrossMapLRN2d(Function):
    """Lua Torch's cross-channel local response normalization of a 4D input, with PyTorch's running
    sums in ``forward`` and its hand-written ``backward`` (which, like PyTorch's, is not the derivative
    of the forward's window for more than one channel)."""

    @staticmethod
    def forward(ctx, input, size, alpha=1e-4, beta=0.75, k=1):
        """``input * (k + alpha / size * window-sum of input ** 2) ** -beta`` over the channels."""
        ctx.size, ctx.alpha, ctx.beta, ctx.k = size, alpha, beta, k
        if input.dim() != 4:
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.dim()}D instead.")
        window = tensor(_lrn_forward_window(size, input.size(1)), dtype=input.dtype)
        ctx.scale = einsum("dc,nchw->ndhw", window, input * input) * (alpha / size) + k
        output = ctx.scale.pow(-beta) * input
        ctx.save_for_backward(input, output)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        input, output = ctx.saved_tensors
        window = tensor(_lrn_backward_window(ctx.size, input.size(1)), dtype=input.dtype)
        ratio = einsum("dc,nchw->ndhw", window, grad_output * output / ctx.scale)
        grad_input = ctx.scale.pow(-ctx.beta) * grad_output - (2 * ctx.alpha * ctx.beta / ctx.size) * input * ratio
        return grad_input, None, None, None, None


class BackwardHook:
    """The full backward hooks (``user_hooks``) and backward pre-hooks (``user_pre_hooks``) of one call of
    ``module``: ``setup_input_hook`` wraps the call's inputs, ``setup_output_hook`` its outputs.  The
    output node's hook runs the pre-hooks and keeps the output gradients; the input node's hook passes
    them to the hooks with the input gradients."""

    def __init__(self, module: Any, user_hooks: list, user_pre_hooks: list) -> None:
        self.user_hooks = user_hooks
        self.user_pre_hooks = user_pre_hooks
        self.module = module
        self.grad_outputs = None
        self.n_outputs = -1
        self.output_tensors_index = None
        self.n_inputs = -1
        self.input_tensors_index = None

    def _pack_with_none(self, indices: list, values: tuple, size: int) -> tuple:
        res = [None] * size
        for idx, val in zip(indices, values):
            res[idx] = val
        return tuple(res)

    def _unpack_none(self, indices: list, values: tuple) -> tuple:
        return tuple(values[idx] for idx in indices)

    def _set_user_hook(self, grad_fn: Any) -> None:
        def hook(grad_input, _):
            if self.grad_outputs is None:
                # (the gradient reached the inputs without passing through the outputs: a double backward)
                return None
            res = self._pack_with_none(self.input_tensors_index, grad_input, self.n_inputs)
            for user_hook in self.user_hooks:
                out = user_hook(self.module, res, self.grad_outputs)
                if out is None:
                    continue
                if len(out) != len(res):
                    raise RuntimeError("Backward hook returned an invalid number of grad_input, "
                                       f"got {len(out)}, but expected {len(res)}")
                res = out
            self.grad_outputs = None
            return self._unpack_none(self.input_tensors_index, res)

        grad_fn.register_hook(hook)

    def _apply_on_tensors(self, fn: Callable, args: Any) -> tuple:
        tensors_idx = []
        tensors = []
        requires_grad = False
        for i, arg in enumerate(args):
            if isinstance(arg, Tensor):
                tensors_idx.append(i)
                tensors.append(arg)
                requires_grad |= arg.requires_grad
        if not (requires_grad and is_grad_enabled()):
            return args, None
        new_tensors = BackwardHookFunction.apply(*tensors)
        if len(new_tensors) == 0:
            raise RuntimeError("Cannot set Module backward hook for a Module with no input Tensors.")
        grad_fns = [t.grad_fn for t in new_tensors
                    if t.grad_fn is not None and t.grad_fn.name() == "BackwardHookFunctionBackward"]
        if len(grad_fns) == 0:
            raise RuntimeError("Error while setting up backward hooks. Please open an issue with a code sample to "
                               "reproduce this.")
        fn(grad_fns[0])
        arg_list = list(args)
        for idx, val in zip(tensors_idx, new_tensors):
            arg_list[idx] = val
        return (tuple(arg_list) if type(args) is tuple else type(args)(*arg_list)), tensors_idx

    def setup_input_hook(self, args: Any) -> Any:
        """``args`` with their tensors wrapped: the hooks run when the inputs' gradients are computed."""
        res, input_idx = self._apply_on_tensors(self._set_user_hook, args)
        self.n_inputs = len(args)
        self.input_tensors_index = input_idx
        return res

    def setup_output_hook(self, args: Any) -> Any:
        """The output (a tensor or a tuple) with its tensors wrapped: the pre-hooks run when their gradients
        arrive, and the output gradients are kept for the hooks."""
        def fn(grad_fn: Any) -> None:
            def hook(_, grad_output):
                self.grad_outputs = self._pack_with_none(self.output_tensors_index, grad_output, self.n_outputs)
                if self.user_pre_hooks:
                    expected_len = len(self.grad_outputs)
                    for user_pre_hook in self.user_pre_hooks:
                        hook_grad_outputs = user_pre_hook(self.module, self.grad_outputs)
                        if hook_grad_outputs is None:
                            continue
                        actual_len = len(hook_grad_outputs)
                        if actual_len != expected_len:
                            raise RuntimeError("Backward pre hook returned an invalid number of grad_output, "
                                               f"got {actual_len}, but expected {expected_len}")
                        self.grad_outputs = hook_grad_outputs
                local_grad_outputs = self.grad_outputs
                if self.input_tensors_index is None:
                    # (no input requires grad: no input node will run, the hooks run here)
                    warnings.warn("Full backward hook is firing when gradients are computed with respect to module "
                                  "outputs since no inputs require gradients. See https://docs.pytorch.org/docs/"
                                  "main/generated/torch.nn.Module.html#torch.nn.Module.register_full_backward_hook "
                                  "for more details.", stacklevel=5)
                    grad_inputs = self._pack_with_none([], [], self.n_inputs)
                    for user_hook in self.user_hooks:
                        res = user_hook(self.module, grad_inputs, self.grad_outputs)
                        if res is not None and not (isinstance(res, tuple) and all(el is None for el in res)):
                            raise RuntimeError("Backward hook for Modules where no input requires gradient should "
                                               "always return None or None for all gradients.")
                    self.grad_outputs = None
                if local_grad_outputs is not None:
                    return tuple(local_grad_outputs[i] for i in self.output_tensors_index)
                return None

            grad_fn.register_hook(hook)

        is_tuple = isinstance(args, tuple)
        if not is_tuple:
            args = (args,)
        res, output_idx = self._apply_on_tensors(fn, args)
        self.n_outputs = len(args)
        self.output_tensors_index = output_idx
        return res if is_tuple else res[0]

