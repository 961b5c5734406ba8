"""``tape.library.custom_op``: a Python function made an operator, and the ``CustomOpDef`` it returns."""
from __future__ import annotations

import contextlib
import inspect
import logging
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence, Union

from .._pytorch_names import missing
from . import dispatcher
from .autograd import make_autograd_impl
from .dispatcher import key_for_device
from .infer_schema import infer_schema
from .libraries import Library

__all__ = ["CustomOpDef", "OPDEFS", "custom_op"]

log = logging.getLogger(__name__)
device_types_t = Optional[Union[str, Sequence[str]]]
OPDEFS: dict = {}           # "ns::name" -> its CustomOpDef
_LIBRARIES: dict = {}       # "ns::name" -> the Library holding its registrations (a new custom_op replaces it)
# CustomOpDef's methods tape does not have (they need vmap rules, autocast, torch_dispatch or torch.compile).
_TORCH_OPDEF = frozenset(("register_vmap", "register_autocast", "register_torch_dispatch", "register_effect"))


def custom_op(name: str, fn: Optional[Callable] = None, /, *, mutates_args: Union[str, Iterable[str]],
              device_types: device_types_t = None, schema: Optional[str] = None,
              tags: Any = None) -> Union[Callable[[Callable], "CustomOpDef"], "CustomOpDef"]:
    r"""Wraps a function into custom operator.

    The function must have type hints (its schema is inferred from them, unless ``schema`` is
    given).  Used as a decorator, or called with the function.

    Args:
        name (str): A name for the custom op that looks like "{namespace}::{name}", e.g. "mylib::my_linear".
        mutates_args (Iterable[str] or "unknown"): The names of args that the function mutates.
            This MUST be accurate, otherwise, the behavior is undefined. If "unknown", it
            pessimistically assumes that all inputs to the operator are being mutated.
        device_types (str | None | Sequence[str]): The device type(s) the function is valid for.
            If no device type is provided, then the function is used as the default
            implementation for all device types.
        schema (str | None): A schema string for the operator. If None (recommended) we'll infer a
            schema for the operator from its type annotations.
        tags: one or more tags to apply to the operator.

    Example::

        >>> @torch.library.custom_op("mylib::numpy_sin", mutates_args=())
        >>> def numpy_sin(x: Tensor) -> Tensor:
        >>>     return torch.from_numpy(np.sin(x.numpy()))
    """

    def inner(fn: Callable) -> CustomOpDef:
        schema_str = infer_schema(fn, mutates_args=mutates_args) if schema is None else schema
        namespace, opname = name.split("::")
        result = CustomOpDef(namespace, opname, schema_str, fn, tags)
        if schema is not None:
            expected = {a.name for a in result._opoverload._schema.arguments
                        if a.alias_info is not None and a.alias_info.is_write}
            if expected != set(mutates_args):
                raise ValueError(f"Attempted to create a custom op with `mutates_args={mutates_args}` and "
                                 f"`schema={schema}. The schema suggests that the op mutates {expected}which is "
                                 f"different from what was provided to us in `mutates_args`. Please make these "
                                 f"consistent.")
        result.register_kernel(device_types)(fn)
        return result

    if fn is None:
        return inner
    return inner(fn)


class CustomOpDef:
    """CustomOpDef is a wrapper around a function that turns it into a custom op.

    It has various methods for registering additional behavior for this custom op.  You should not
    instantiate CustomOpDef directly; instead, use the :func:`tape.library.custom_op` API.
    """

    def __init__(self, namespace: str, name: str, schema: str, fn: Callable, tags: Any = None) -> None:
        self._namespace = namespace
        self._name = name
        self._schema = schema
        self._tags = () if tags is None else (tuple(tags) if isinstance(tags, (tuple, list)) else (tags,))
        self._init_fn = fn
        self._backend_fns: dict = {}
        self._backend_impls: dict = {}      # (device type -> the kernel the dispatcher runs for it)
        self._abstract_fn: Optional[Callable] = None
        self._setup_context_fn: Optional[Callable] = None
        self._backward_fn: Optional[Callable] = None
        self._disabled_kernel: set = set()
        old = _LIBRARIES.pop(self._qualname, None)
        if old is not None:
            old._destroy()
        self._lib = _LIBRARIES[self._qualname] = Library(namespace, "FRAGMENT")
        self._lib.define(name + schema, tags=self._tags)
        self._opoverload = dispatcher.lookup(self._qualname)
        op = self._opoverload._op
        if any(a.kwarg_only and a.type.is_tensor_like for a in op.schema.arguments):
            raise NotImplementedError(f"custom_op with kwarg-only Tensor args. Please make your tensors not "
                                      f"kwarg-only. Got: {name + schema}")
        op.bumps_versions = op.schema.is_mutable
        self._lib.impl(name, make_autograd_impl(op, self), "Autograd")
        OPDEFS[self._qualname] = self

    @property
    def _qualname(self) -> str:
        return f"{self._namespace}::{self._name}"

    def __repr__(self) -> str:
        return f"<CustomOpDef({self._qualname})>"

    def __getattr__(self, name: str) -> Any:
        if name in _TORCH_OPDEF:
            raise missing("CustomOpDef", name, _TORCH_OPDEF, "CustomOpDef")
        raise AttributeError(f"'CustomOpDef' object has no attribute '{name}'")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._opoverload(*args, **kwargs)

    @contextlib.contextmanager
    def set_kernel_enabled(self, device_type: str, enabled: bool = True) -> Iterator[None]:
        """Disable or re-enable an already registered kernel for this custom operator (the kernel
        ``custom_op`` wrapped runs instead of a disabled one); the state is restored on exit.

        Args:
            device_type (str): The device type to disable/enable the kernel for.
            enabled (bool): Whether to enable or disable the kernel.
        """
        action = "enable" if enabled else "disable"
        originally_disabled = device_type in self._disabled_kernel
        if device_type not in self._backend_fns:
            log.warning("Attempted to %s kernel for %s but no kernel was registered for this device type.",
                        action, device_type)
        if not enabled:
            if originally_disabled:
                log.warning("Attempted to disable kernel for %s but it was already disabled.", device_type)
            else:
                self._disabled_kernel.add(device_type)
        elif not originally_disabled:
            log.warning("Attempted to enable kernel for  %s but it was already enabled.", device_type)
        else:
            self._disabled_kernel.remove(device_type)
        try:
            yield
        finally:
            if originally_disabled:
                self._disabled_kernel.add(device_type)
            else:
                self._disabled_kernel.discard(device_type)

    def register_kernel(self, device_types: device_types_t, fn: Optional[Callable] = None, /) -> Callable:
        """Register an implementation for a device type for this operator (usable as a decorator).

        Args:
            device_types (str | Sequence[str]): The device types to register an impl to
                (None: the default implementation for all device types).
            fn (Callable): The function to register as the implementation for the given device types.
        """

        def inner(fn: Callable) -> Callable:
            types = [device_types] if device_types is None or isinstance(device_types, str) else list(device_types)
            for device_type in types:
                if device_type not in self._backend_fns:
                    impl = self._backend_impls[device_type] = self._backend_impl(device_type)
                    self._lib.impl(self._name, impl,
                                   "CompositeExplicitAutograd" if device_type is None else key_for_device(device_type))
                self._backend_fns[device_type] = self._unless_disabled(device_type, fn)
            return fn

        arguments = self._opoverload._schema.arguments
        if device_types is not None and not any(a.type.is_tensor_like for a in arguments):
            device_index = next((i for i, a in enumerate(arguments)
                                 if a.name == "device" and a.type.base == "Device" and not a.type.layers), None)
            if device_index is None:
                raise ValueError("Functions without tensor inputs are required to have a `device: torch.device` "
                                 "argument")
            self._lib.impl(self._name, self._backend_select(device_index), "BackendSelect")
        if fn is None:
            return inner
        return inner(fn)

    def _unless_disabled(self, device_type: Optional[str], fn: Callable) -> Callable:
        """``fn``, or the function ``custom_op`` wrapped while ``set_kernel_enabled`` disables ``device_type``."""

        def wrapped_fn(*args: Any, **kwargs: Any) -> Any:
            if device_type in self._disabled_kernel:
                return self._init_fn(*args, **kwargs)
            return fn(*args, **kwargs)

        return wrapped_fn

    def _backend_select(self, device_index: int) -> Callable:
        """The kernel of an operator without tensor arguments: the one registered for its ``device``'s type."""

        def backend_select(*args: Any, **kwargs: Any) -> Any:
            device = args[device_index].type
            if device not in self._backend_fns:
                raise RuntimeError(f"{self._name} does not have a kernel registered for {device}. Please use "
                                   f"register_kernel to do so.")
            return self._backend_impls[device](*args, **kwargs)

        return backend_select

    def _backend_impl(self, device_type: Optional[str]) -> Callable:
        """The kernel the dispatcher runs for ``device_type``: the registered function, its outputs checked
        to alias no input and no other output, as PyTorch checks."""

        def backend_impl(*args: Any, **kwargs: Any) -> Any:
            result = self._backend_fns[device_type](*args, **kwargs)
            seen = {t.untyped_storage().data_ptr() for t in dispatcher.tensors_in(args, kwargs)}
            for t in dispatcher.tensors_in(result if isinstance(result, tuple) else (result,), {}):
                key = t.untyped_storage().data_ptr()
                if key in seen and t.numel():
                    module = inspect.getmodule(self._backend_fns[device_type])
                    raise RuntimeError(
                        f"{self._name} (with implementation in {module}): The output of this custom operator (1) must "
                        f"not also be an input to this custom operator and (2) may not alias any inputs to this custom "
                        f"operator or other returns. The most common way to trigger this error is if we have y = "
                        f"custom_op(x) and y and x are the same Tensor. Please instead return a clone of the offending "
                        f"output tensor(s) (e.g. return x.clone()) or refactor the custom operator to not return y.")
                seen.add(key)
            return result

        return backend_impl

    def register_fake(self, fn: Callable, /) -> Callable:
        r"""Register a FakeTensor implementation for this custom op.

        tape keeps it (for code that registers one) and never calls it: eager calls run the real
        kernel, as PyTorch's do; tape has no FakeTensor tracing.
        """
        self._abstract_fn = fn
        return fn

    def register_autograd(self, backward: Callable, /, *, setup_context: Optional[Callable] = None) -> None:
        r"""Register a backward formula for this custom op.

        ``backward(ctx, *grads)`` runs during the backward pass, with one gradient per output, and
        returns one gradient per input (None for an input that is not a Tensor); ``ctx`` is the
        ``ctx`` of :class:`tape.autograd.Function`.  ``setup_context(ctx, inputs, output)`` (with
        ``keyword_only_inputs`` before ``output`` if the op has keyword-only arguments) runs during
        the forward pass and saves what ``backward`` needs on ``ctx``.
        """
        schema = self._opoverload._schema
        if not schema.is_functional():
            raise RuntimeError(f"Cannot register autograd formula for non-functional operator {self} with schema "
                               f"{schema}. Please create a functional operator and register an autograd formula for "
                               f"that.")
        self._backward_fn = backward
        self._setup_context_fn = setup_context


def maybe_opdef(op: Union[CustomOpDef, "dispatcher.OpOverload", str]) -> Optional[CustomOpDef]:
    """The ``CustomOpDef`` of an operator ``custom_op`` made, or None."""
    if isinstance(op, CustomOpDef):
        return op
    if isinstance(op, dispatcher.OpOverload):
        op = op._name
    return OPDEFS.get(op)

