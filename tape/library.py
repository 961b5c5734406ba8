"""``tape.library``: new operators from Python, as ``torch.library``.

``custom_op`` turns a type-hinted function into an operator (``tape.ops.<ns>.<name>``) whose
autograd, kernels per device and fake impl are registered on the ``CustomOpDef`` it returns; the
older ``Library(ns, kind)`` defines operators from schema strings and registers kernels per dispatch
key.  What needs FakeTensors or ``torch.compile`` (``opcheck``, ``get_ctx``, ``register_vmap``,
``register_torch_dispatch``, ``register_autocast``, ``triton_op``) is not here.
"""
from __future__ import annotations

import functools
import re
import warnings
from typing import Any, Callable, Optional, Sequence, Union

from ._library import dispatcher
from ._library.autograd import Info, make_autograd_impl
from ._library.custom_ops import CustomOpDef, custom_op, device_types_t, maybe_opdef
from ._library.dispatcher import OpOverload, key_for_device, DISPATCH_KEYS
from ._library.infer_schema import infer_schema
from ._library.libraries import Library
from ._pytorch_names import missing

__all__ = ["Library", "impl", "define", "impl_abstract", "register_fake", "register_kernel", "register_autograd",
           "custom_op", "infer_schema", "CustomOpDef"]

# torch.library's public names tape does not have (they need FakeTensors, torch.compile or C++ dispatcher objects).
_TORCH_LIBRARY = frozenset(("opcheck", "get_ctx", "get_kernel", "register_vmap", "register_torch_dispatch",
                            "register_autocast", "triton_op", "wrap_triton", "fallthrough_kernel"))


def __getattr__(name: str):
    if name in _TORCH_LIBRARY:
        raise missing("tape.library", name, _TORCH_LIBRARY, "torch.library")
    raise AttributeError(f"module 'tape.library' has no attribute '{name}'")


NAMELESS_SCHEMA = re.compile(r"\(.*\) -> .*")
_keep_alive: list = []      # (the libraries the module-level functions make: their registrations stay)

_op_identifier = Union[str, OpOverload, CustomOpDef]


def _parse_namespace(qualname: str) -> tuple:
    splits = qualname.split("::")
    if len(splits) != 2:
        raise ValueError(f'Expected `qualname` to be of the form "namespace::name", but got {qualname}. The qualname '
                         f"passed to the torch.library APIs must consist of a namespace and a name, e.g. aten::sin")
    return splits[0], splits[1]


def _library_for(namespace: str, lib: Optional[Library]) -> Library:
    if lib is not None:
        return lib
    lib = Library(namespace, "FRAGMENT")
    _keep_alive.append(lib)
    return lib


@functools.singledispatch
def define(qualname: str, schema: str, *, lib: Optional[Library] = None, tags: Any = ()) -> None:
    r"""Defines a new operator.

    Defining an op is the first step; implement it then with :func:`impl`,
    :func:`register_kernel`, :func:`register_autograd` or :func:`register_fake`.

    Args:
        qualname (str): The qualified name for the operator, like "namespace::name".
        schema (str): The schema of the operator, e.g. "(Tensor x) -> Tensor" (without the name).
        lib (Optional[Library]): If provided, the lifetime of this operator will be tied to the
            lifetime of the Library object.
        tags: one or more tags to apply to this operator.
    """
    if not isinstance(qualname, str):
        raise ValueError(f"define(qualname, schema): expected qualname to be instance of str, got {type(qualname)}")
    namespace, name = _parse_namespace(qualname)
    lib = _library_for(namespace, lib)
    if not NAMELESS_SCHEMA.fullmatch(schema):
        raise ValueError(f'define(qualname, schema, ...): expected schema to look like e.g. "(Tensor x) -> Tensor" '
                         f'but got "{schema}"')
    lib.define(name + schema, alias_analysis="", tags=tags)


@define.register
def _(lib: Library, schema: str, alias_analysis: str = "") -> Callable:
    """The old ``define(lib, schema)``: a decorator that defines the op and registers the function."""

    def wrap(f: Callable) -> Callable:
        name = lib.define(schema, alias_analysis)
        lib.impl(name, f)
        return f

    return wrap


@functools.singledispatch
def impl(qualname: str, types: Union[str, Sequence[str]], func: Optional[Callable] = None, *,
         lib: Optional[Library] = None) -> Any:
    """Register an implementation for a device type for this operator.

    You may pass "default" for ``types`` to register this implementation as the default
    implementation for ALL device types.  This API may be used as a decorator.

    Args:
        qualname (str): Should be a string that looks like "namespace::operator_name".
        types (str | Sequence[str]): The device types to register an impl to.
        lib (Optional[Library]): If provided, the lifetime of this registration will be tied to
            the lifetime of the Library object.
    """
    return _impl(qualname, types, func, lib=lib)


@impl.register
def _(lib: Library, name: str, dispatch_key: str = "") -> Callable:
    """The old ``impl(lib, name, dispatch_key)``: a decorator registering the function."""

    def wrap(f: Callable) -> Callable:
        lib.impl(name, f, dispatch_key)
        return f

    return wrap


def _impl(qualname: str, types: Union[str, Sequence[str]], func: Optional[Callable], *,
          lib: Optional[Library]) -> Any:
    if isinstance(types, str):
        types = (types,)
    keys = set()
    for typ in types:
        keys.add(typ if typ in DISPATCH_KEYS else
                 "CompositeExplicitAutograd" if typ == "default" else key_for_device(typ))

    def register(func: Callable) -> None:
        namespace, _ = _parse_namespace(qualname)
        use_lib = _library_for(namespace, lib)
        for key in keys:
            use_lib.impl(qualname, func, key)

    if func is None:
        return register
    register(func)
    return None


def _resolve(op: _op_identifier, registration_name: str) -> Union[str, CustomOpDef]:
    if not isinstance(op, (str, OpOverload, CustomOpDef)):
        raise ValueError(f"{registration_name}({op}): got unexpected type for op: {type(op)}")
    if isinstance(op, OpOverload):
        op = op._name
    return maybe_opdef(op) or op


def register_kernel(op: _op_identifier, device_types: device_types_t, func: Optional[Callable] = None, /, *,
                    lib: Optional[Library] = None) -> Any:
    """Register an implementation for a device type for this operator (usable as a decorator).

    Args:
        op (str | OpOverload): The operator to register an impl to.
        device_types (str | None | Sequence[str]): The device_types to register an impl to.
            If None, we will register to all device types.
        func (Callable): The function to register as the implementation for the given device types.
        lib (Optional[Library]): If provided, the lifetime of this registration.
    """
    op = _resolve(op, "register_kernel")
    if isinstance(op, CustomOpDef):
        return op.register_kernel(device_types, func)
    if device_types is None:
        device_types = "CompositeExplicitAutograd"
    return _impl(op, device_types, func, lib=lib)


def register_fake(op: _op_identifier, func: Optional[Callable] = None, /, *, lib: Optional[Library] = None,
                  allow_override: bool = True) -> Any:
    r"""Register a FakeTensor implementation ("fake impl") for this operator.

    tape keeps it and never calls it: eager calls run the real kernel, as PyTorch's do (tape has
    no FakeTensor tracing or ``torch.compile``).  Usable as a decorator.
    """
    op = _resolve(op, "register_fake")
    if isinstance(op, CustomOpDef):
        return op.register_fake if func is None else op.register_fake(func)

    def register(func: Callable) -> Callable:
        namespace, op_name = _parse_namespace(op)
        _library_for(namespace, lib)._register_fake(op_name, func)
        return func

    return register if func is None else register(func)


def impl_abstract(qualname: str, func: Optional[Callable] = None, *, lib: Optional[Library] = None) -> Any:
    r"""This API was renamed to :func:`register_fake` in PyTorch 2.4. Please use that instead."""
    warnings.warn("`torch.library.impl_abstract` was renamed to `torch.library.register_fake`. Please use that "
                  "instead; we will remove `torch.library.impl_abstract` in a future version of PyTorch.",
                  FutureWarning, stacklevel=2)
    return register_fake(qualname, func, lib=lib)


def register_autograd(op: _op_identifier, backward: Callable, /, *, setup_context: Optional[Callable] = None,
                      lib: Optional[Library] = None) -> None:
    r"""Register a backward formula for this custom op.

    ``backward(ctx, *grads)`` runs during the backward pass with one gradient per output and returns
    one gradient per input; ``setup_context(ctx, inputs, output)`` (``keyword_only_inputs`` before
    ``output`` when the op has keyword-only arguments) runs during the forward pass and saves on
    ``ctx`` what ``backward`` needs.  ``ctx`` is the ``ctx`` of :class:`tape.autograd.Function`.
    """
    op = _resolve(op, "register_autograd")
    if isinstance(op, CustomOpDef):
        op.register_autograd(backward, setup_context=setup_context)
        return
    overload = dispatcher.lookup(op)
    schema = overload._schema
    if not schema.is_functional():
        raise RuntimeError(f"Cannot register autograd formula for non-functional operator {overload} with schema "
                           f"{schema}. Please create a functional operator and register an autograd formula for "
                           f"that.")
    if any(a.kwarg_only and a.type.is_tensor_like for a in schema.arguments):
        raise NotImplementedError(f"register_autograd with kwarg-only Tensor args. In the original definition of the "
                                  f"op, please make your tensors not kwarg-only. Got: {schema}")
    namespace, opname = _parse_namespace(op)
    kernel = make_autograd_impl(overload._op, Info(backward, setup_context))
    _library_for(namespace, lib).impl(opname, kernel, "Autograd")
