"""``LazyModuleMixin``: modules whose parameters' shapes come from their first input, as PyTorch's
``torch.nn.modules.lazy``."""
from __future__ import annotations

import itertools
from typing import Any, Optional

from ..._grad_mode import no_grad
from ..parameter import is_lazy

__all__ = ["LazyModuleMixin"]


class LazyModuleMixin:
    r"""A mixin for modules that lazily initialize parameters, also known as "lazy modules".

    Lazy modules derive the shapes of their parameters from the first input(s) to their forward method.
    Until that first forward they contain :class:`~tape.nn.UninitializedParameter` s that should not be
    accessed or used, and afterward they contain regular :class:`~tape.nn.Parameter` s (and the module
    becomes its ``cls_to_become``, e.g. a ``LazyLinear`` a ``Linear``).  Convert a lazy module's dtype
    before its first forward ("dry run"): the parameters are then made with that dtype.

    A lazy module's state dict holds its uninitialized parameters; loading initialized ones from a state
    dict materializes them (they are then not replaced by the dry run).
    """

    # the class a module becomes once all its parameters are initialized
    cls_to_become: Optional[type] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._load_hook = self._register_load_state_dict_pre_hook(self._lazy_load_hook)
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters, with_kwargs=True)

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        # (an uninitialized tensor cannot be detached: it is saved as it is)
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if is_lazy(param) or keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if is_lazy(buf) or keep_vars else buf.detach()

    def _lazy_load_hook(self, state_dict: dict, prefix: str, local_metadata: dict, strict: bool,
                        missing_keys: list, unexpected_keys: list, error_msgs: list) -> None:
        """Before ``load_state_dict``: an uninitialized parameter or buffer about to receive an initialized
        one is materialized with its shape (so the copy that follows fits)."""
        for name, param in itertools.chain(self._parameters.items(), self._buffers.items()):
            key = prefix + name
            if key in state_dict and param is not None and is_lazy(param) and not is_lazy(state_dict[key]):
                with no_grad():
                    param.materialize(state_dict[key].shape)

    def initialize_parameters(self, *args: Any, **kwargs: Any) -> None:
        r"""Initialize parameters according to the input batch properties (each lazy module defines it)."""
        raise NotImplementedError(f"initialize_parameters is not implemented for {self.__class__.__name__}")

    def has_uninitialized_params(self) -> bool:
        r"""Check if a module has parameters that are not initialized."""
        return any(is_lazy(t) for t in itertools.chain(self._parameters.values(), self._buffers.values()))

    def _infer_parameters(self, module: Any, args: tuple, kwargs: Optional[dict] = None) -> None:
        r"""The forward pre-hook of the first call: initialize the parameters from the input, then drop the
        hooks and become ``cls_to_become``."""
        module.initialize_parameters(*args, **(kwargs or {}))
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
        module._initialize_hook.remove()
        module._load_hook.remove()
        delattr(module, "_initialize_hook")
        delattr(module, "_load_hook")
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become

    def _replicate_for_data_parallel(self) -> None:
        raise RuntimeError("Modules with uninitialized parameters can't be used with `DataParallel`. Run a dummy "
                           "forward pass to correctly initialize the modules")
