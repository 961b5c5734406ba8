"""The operators made with ``tape.library``, and how a call of one picks its kernel.

PyTorch's dispatcher keeps, per operator overload, a schema and one kernel per dispatch key, and
runs the first that applies (autograd keys, then composite, then backend).  tape runs on the CPU
only, so of the keys a registration may name these decide a call, in this order:

- ``BackendSelect``: an operator without tensor arguments picks its kernel by its ``device`` argument
  (without one, and no tensor in the call, only a composite kernel can run);
- ``AutogradCPU`` / ``Autograd``: the kernel handles autograd itself (what ``register_autograd`` installs);
- ``CompositeImplicitAutograd``: the kernel is a composition of tape ops, recorded as they run (unless
  a backend kernel is registered: PyTorch then runs that);
- ``CPU``, then ``CompositeExplicitAutograd``: the backend kernel.  With no autograd kernel, PyTorch
  records what the kernel does and warns when a backward reaches it; so does tape.

The others (``Meta``, ``CUDA``, ...) are kept and never run.  ``tape.ops.<namespace>`` gives these
operators by name, as ``torch.ops.<namespace>`` does.
"""
from __future__ import annotations

import sys
import types
import warnings
from typing import Any, Optional

from .._grad_mode import is_grad_enabled, no_grad
from .._tensor import Tensor
from ..autograd.graph import increment_version
from .schema import Schema

__all__ = ["OpNamespace", "OpOverload", "OpOverloadPacket", "Operator", "defined", "kernels_of", "lookup",
           "namespace"]

# The dispatch keys a kernel may be registered to (PyTorch has more; these are the ones code names).
DISPATCH_KEYS = frozenset(
    ["CPU", "CUDA", "HIP", "XLA", "MPS", "IPU", "XPU", "HPU", "Lazy", "Meta", "MTIA", "PrivateUse1", "BackendSelect",
     "Python", "Functionalize", "ADInplaceOrView", "Autograd", "AutogradCPU", "AutogradCUDA", "AutogradXLA",
     "AutogradMPS", "AutogradXPU", "AutogradHPU", "AutogradLazy", "AutogradMeta", "AutogradOther",
     "AutogradPrivateUse1", "AutocastCPU", "AutocastCUDA", "AutocastXPU", "AutocastMPS", "FuncTorchBatched",
     "FuncTorchDynamicLayerBackMode", "FuncTorchDynamicLayerFrontMode", "CompositeImplicitAutograd",
     "CompositeExplicitAutograd", "CompositeExplicitAutogradNonFunctional", "CompositeImplicitAutogradNestedTensor",
     "SparseCPU", "NestedTensorCPU", "QuantizedCPU", "Undefined"])
_DEVICE_KEYS = {"cpu": "CPU", "cuda": "CUDA", "hip": "HIP", "xla": "XLA", "mps": "MPS", "ipu": "IPU", "xpu": "XPU",
                "hpu": "HPU", "lazy": "Lazy", "meta": "Meta", "mtia": "MTIA", "privateuseone": "PrivateUse1"}
_AUTOGRAD = ("AutogradCPU", "Autograd")
_BACKEND = ("CPU", "CompositeExplicitAutograd")

_NOT_DIFFERENTIABLE = (
    "{op}: an autograd kernel was not registered to the Autograd key(s) but we are trying to backprop through it. "
    "This may lead to silently incorrect behavior. This behavior is deprecated and will be removed in a future "
    "version of PyTorch. If your operator is differentiable, please ensure you have registered an autograd kernel "
    "to the correct Autograd key (e.g. DispatchKey::Autograd, DispatchKey::CompositeImplicitAutograd). If your "
    "operator is not differentiable, or to squash this warning and use the previous behavior, please register "
    "torch::CppFunction::makeFallthrough() to DispatchKey::Autograd. (Triggered internally at "
    "/__w/pytorch/pytorch/torch/csrc/autograd/autograd_not_implemented_fallback.cpp:76.)")


def key_for_device(device_type: str) -> str:
    """The backend dispatch key of a device type (``"cpu"`` -> ``"CPU"``); a dispatch key is itself."""
    if device_type in DISPATCH_KEYS:
        return device_type
    key = _DEVICE_KEYS.get(device_type)
    if key is None:
        raise RuntimeError(f"could not parse dispatch key: {device_type}")
    return key


class Operator:
    """One overload of an operator: its schema and what the libraries registered for it."""

    def __init__(self, qualname: str, overload: str, schema: Schema, where: str, tags: tuple = ()) -> None:
        self.qualname = qualname
        self.overload = overload
        self.schema = schema
        self.where = where              # (the ``file:line`` of the defining library, for messages)
        self.tags = list(tags)
        self.bumps_versions = False     # (custom_op: a call counts as a change of each mutated argument)

    @property
    def kernels(self) -> dict:
        return kernels_of(self.qualname, self.overload)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = self.schema.bind(args, kwargs)
        kernels = self.kernels
        if "BackendSelect" in kernels:      # (an operator without tensor arguments: picked by its device)
            return kernels["BackendSelect"](*args, **kwargs)
        tensors = tensors_in(args, kwargs)
        if not tensors:     # (no tensor to say which backend: only a composite kernel can run)
            for key in ("CompositeImplicitAutograd", "CompositeExplicitAutograd"):
                if key in kernels:
                    return kernels[key](*args, **kwargs)
            raise NotImplementedError(
                f"There were no tensor arguments to this function (e.g., you passed an empty list of Tensors), but "
                f"no fallback function is registered for schema {self.qualname}.  This usually means that this "
                f"function requires a non-empty list of Tensors, or that you (the operator writer) forgot to register "
                f"a fallback function.  Available functions are [{', '.join(kernels)}].")
        for key in _AUTOGRAD:
            if key in kernels:
                return kernels[key](*args, **kwargs)
        # (a composite kernel is the operator's autograd too unless a backend kernel is registered)
        if "CompositeImplicitAutograd" in kernels and not any(k in kernels for k in _BACKEND):
            return kernels["CompositeImplicitAutograd"](*args, **kwargs)
        if is_grad_enabled() and any(t.requires_grad for t in tensors):
            result = self.backend(args, kwargs, below_autograd=False)
            _warn_on_backward(self.qualname, result)
            return result
        return self.backend(args, kwargs)

    def backend(self, args: tuple, kwargs: dict, below_autograd: bool = True) -> Any:
        """Run the backend kernel (``below_autograd``: recording nothing, as below PyTorch's autograd key)."""
        kernels = self.kernels
        fn = next((kernels[k] for k in _BACKEND if k in kernels), None)
        if fn is None:
            available = ", ".join(k for k in kernels if k in DISPATCH_KEYS) or "Meta"
            raise NotImplementedError(
                f"Could not run '{self.qualname}' with arguments from the 'CPU' backend. This could be because the "
                f"operator doesn't exist for this backend, or was omitted during the selective/custom build process "
                f"(if using custom build). If you are a Facebook employee using PyTorch on mobile, please visit "
                f"https://fburl.com/ptmfixes for possible resolutions. '{self.qualname}' is only available for these "
                f"backends: [{available}].")
        if self.bumps_versions:
            args_, kwargs_ = self.schema.filled(args, kwargs)
            for a in self.schema.arguments:
                if a.is_write:
                    value = kwargs_[a.name] if a.kwarg_only else args_[self.schema.arguments.index(a)]
                    if isinstance(value, Tensor):
                        increment_version(value)
                    elif isinstance(value, (list, tuple)):
                        increment_version([v for v in value if isinstance(v, Tensor)])
        if not below_autograd:
            return fn(*args, **kwargs)
        with no_grad():
            return fn(*args, **kwargs)


def tensors_in(args: tuple, kwargs: dict) -> list:
    out = []
    for v in (*args, *kwargs.values()):
        if isinstance(v, Tensor):
            out.append(v)
        elif isinstance(v, (list, tuple)):
            out += [t for t in v if isinstance(t, Tensor)]
    return out


def _warn_on_backward(qualname: str, result: Any) -> None:
    """PyTorch's warning when a backward reaches what a kernel recorded with no autograd kernel registered."""
    outs = result if isinstance(result, (tuple, list)) else (result,)
    for t in outs:
        if isinstance(t, Tensor) and t.requires_grad:
            t.register_hook(lambda grad: warnings.warn(_NOT_DIFFERENTIABLE.format(op=qualname), UserWarning,
                                                       stacklevel=2))


# --- the registry -------------------------------------------------------------------------
_SCHEMAS: dict = {}     # "ns::name" -> {overload: Operator}, in definition order
_KERNELS: dict = {}     # ("ns::name", overload) -> {dispatch key: kernel} (a kernel may come before its def)
_NAMESPACES: dict = {}


def kernels_of(qualname: str, overload: str) -> dict:
    return _KERNELS.setdefault((qualname, overload), {})


def defined(qualname: str, overload: str) -> Optional[Operator]:
    return _SCHEMAS.get(qualname, {}).get(overload)


def add(op: Operator) -> None:
    _SCHEMAS.setdefault(op.qualname, {})[op.overload] = op


def remove(qualname: str, overload: str) -> None:
    overloads = _SCHEMAS.get(qualname, {})
    overloads.pop(overload, None)
    if not overloads:
        _SCHEMAS.pop(qualname, None)


def lookup(qualname: str) -> "OpOverload":
    """The ``OpOverload`` of ``"ns::name"`` or ``"ns::name.overload"`` (AttributeError if not defined)."""
    ns, name = qualname.split("::")
    name, _, overload = name.partition(".")
    return getattr(getattr(namespace(ns), name), overload or "default")


class OpOverload:
    """One overload of an operator (PyTorch's ``torch._ops.OpOverload``): call it to run the operator."""

    def __init__(self, packet: "OpOverloadPacket", op: Operator) -> None:
        self._op = op
        self.overloadpacket = packet
        self.namespace, self._opname = op.qualname.split("::")
        self._overloadname = op.overload or "default"
        self._name = op.qualname

    @property
    def _schema(self) -> Schema:
        return self._op.schema

    @property
    def tags(self) -> list:
        return self._op.tags

    def name(self) -> str:
        return self._name + (f".{self._op.overload}" if self._op.overload else "")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._op(*args, **kwargs)

    def __str__(self) -> str:
        return f"{self.namespace}.{self._opname}.{self._overloadname}"

    def __repr__(self) -> str:
        return f"<OpOverload(op='{self.namespace}.{self._opname}', overload='{self._overloadname}')>"

    def __hash__(self) -> int:
        return hash((self._name, self._overloadname))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OpOverload) and other._op is self._op


class OpOverloadPacket:
    """An operator with its overloads as attributes (PyTorch's ``torch._ops.OpOverloadPacket``); calling it
    runs the first overload whose schema the arguments fit."""

    def __init__(self, qualname: str) -> None:
        self._qualified_op_name = qualname
        self._ns, self.__name__ = qualname.split("::")
        self._cache: dict = {}

    def _overloads(self) -> dict:
        return _SCHEMAS.get(self._qualified_op_name, {})

    def overloads(self) -> list:
        return [o or "default" for o in self._overloads()]

    @property
    def _schemas(self) -> dict:
        return {o: op.schema for o, op in self._overloads().items()}

    def __getattr__(self, overload: str) -> OpOverload:
        if overload.startswith("__"):
            raise AttributeError(overload)
        op = self._overloads().get("" if overload == "default" else overload)
        if op is None:
            raise AttributeError(f"The underlying op of '{self}' has no overload name '{overload}'")
        cached = self._cache.get(overload)
        if cached is None or cached._op is not op:
            cached = self._cache[overload] = OpOverload(self, op)
        return cached

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        ops = list(self._overloads().values())
        if len(ops) == 1:
            return ops[0](*args, **kwargs)
        errors = []
        for op in ops:
            try:
                op.schema.bind(args, kwargs)
            except RuntimeError as e:
                errors.append(str(e))
                continue
            return op(*args, **kwargs)
        raise RuntimeError("Overloaded torch operator invoked from Python failed to match any schema:\n"
                           + "".join(e + "\n\n" for e in errors))

    def __str__(self) -> str:
        return f"{self._ns}.{self.__name__}"

    def __repr__(self) -> str:
        return f"<OpOverloadPacket(op='{self}')>"


class OpNamespace(types.ModuleType):
    """``tape.ops.<namespace>``: the operators of one namespace, as attributes."""

    def __init__(self, name: str) -> None:
        super().__init__(f"torch.ops.{name}")
        self.name = name
        self.__file__ = "torch.ops"
        self._packets: dict = {}

    def __getattr__(self, op_name: str) -> OpOverloadPacket:
        if op_name.startswith("__"):
            raise AttributeError(op_name)
        qualname = f"{self.name}::{op_name}"
        if qualname not in _SCHEMAS:
            raise AttributeError(f"'_OpNamespace' '{self.name}' object has no attribute '{op_name}'")
        packet = self._packets.get(op_name)
        if packet is None:
            packet = self._packets[op_name] = OpOverloadPacket(qualname)
        return packet


def namespace(name: str) -> OpNamespace:
    """The namespace ``tape.ops.<name>`` (made on first use, as PyTorch's)."""
    ns = _NAMESPACES.get(name)
    if ns is None:
        ns = _NAMESPACES[name] = OpNamespace(name)
    return ns


def _ops_getattr(name: str) -> OpNamespace:
    if name.startswith("_"):
        raise AttributeError(f"module 'tape.ops' has no attribute '{name}'")
    return namespace(name)


# ``tape.ops`` is the op catalogue package: its own names (``tape.ops.aten``, the family modules,
# ``REGISTRY`` ...) come first, any other name is an operator namespace, as ``torch.ops.<name>``.
sys.modules["tape.ops"].__getattr__ = _ops_getattr

