"""``tape.library.Library``: a handle that defines operators of a namespace and registers kernels.

Everything a library registers lives as long as the library does: when it is destroyed (``_destroy``,
or garbage collected) its operators and kernels go, as PyTorch's ``TORCH_LIBRARY`` blocks do.
"""
from __future__ import annotations

import sys
import warnings
import weakref
from typing import Any, Callable, Sequence, Union

from . import dispatcher
from .dispatcher import DISPATCH_KEYS, Operator, OpOverload
from .schema import parse

__all__ = ["Library"]

_RESERVED = ("prim",)
# PyTorch's own operators: tape's ops are not dispatched through a table one could add kernels or overloads to.
_BUILTIN = ("aten", "prims")
_DEF_BLOCKS: dict = {"aten": "/__w/pytorch/pytorch/build/aten/src/ATen/RegisterSchema.cpp:6"}   # ns -> where
_IMPLS: set = set()         # "ns/name/key" of every kernel a Library registered (``allow_override``)
_FAKES: dict = {}           # "ns::name" -> the fake impl ``register_fake`` gave an operator custom_op did not make
_warned_override = [False]
_BLOCK = {"DEF": "TORCH_LIBRARY", "IMPL": "TORCH_LIBRARY_IMPL", "FRAGMENT": "TORCH_LIBRARY_FRAGMENT"}


def caller(depth: int) -> str:
    frame = sys._getframe(depth + 1)
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


class Library:
    r"""A class to create libraries that can be used to register new operators or override operators
    in existing libraries from Python.  A user can optionally pass in a dispatch keyname if they only
    want to register kernels corresponding to only one specific dispatch key.

    To create a library to override operators in an existing library (with name ns), set the kind to "IMPL".
    To create a new library (with name ns) to register new operators, set the kind to "DEF".
    To create a fragment of a possibly existing library to register operators (and bypass
    the limitation that there is only one library for a given namespace), set the kind to "FRAGMENT".

    Args:
        ns: library name
        kind: "DEF", "IMPL", "FRAGMENT"
        dispatch_key: PyTorch dispatch key (default: "")
    """

    def __init__(self, ns: str, kind: str, dispatch_key: str = "") -> None:
        if kind not in ("IMPL", "DEF", "FRAGMENT"):
            raise ValueError(f"Unsupported kind: {kind}")
        if ns in _RESERVED and kind in ("DEF", "FRAGMENT"):
            raise ValueError(f"{ns} is a reserved namespace. Please try creating a library with another name.")
        self._where = caller(1)
        if kind == "DEF":
            if ns in _DEF_BLOCKS:
                raise RuntimeError(
                    f"Only a single TORCH_LIBRARY can be used to register the namespace {ns}; please put all of your "
                    f"definitions in a single TORCH_LIBRARY block.  If you were trying to specify implementations, "
                    f"consider using TORCH_LIBRARY_IMPL (which can be duplicated).  If you really intended to define "
                    f"operators for a single namespace in a distributed way, you can use TORCH_LIBRARY_FRAGMENT to "
                    f"explicitly indicate this.  Previous registration of TORCH_LIBRARY was registered at "
                    f"{_DEF_BLOCKS[ns]}; latest registration was registered at {self._where}")
            _DEF_BLOCKS[ns] = self._where
        self.ns = ns
        self.kind = kind
        self.dispatch_key = dispatch_key
        self._defs: list = []       # (qualname, overload)
        self._impls: list = []      # (qualname, overload, key, kernel, "ns/name/key")
        self._alive = [True]
        weakref.finalize(self, _release, self._defs, self._impls, ns if kind == "DEF" else None, self._alive)

    def __repr__(self) -> str:
        return f"Library(kind={self.kind}, ns={self.ns}, dispatch_key={self.dispatch_key})>"

    def define(self, schema: str, alias_analysis: str = "", *, tags: Union[Any, Sequence[Any]] = ()) -> str:
        r"""Defines a new operator and its semantics in the ns namespace.

        Args:
            schema: function schema to define a new operator.
            alias_analysis (optional): Indicates if the aliasing properties of the operator arguments can be
                inferred from the schema (default behavior) or not ("CONSERVATIVE").
            tags: one or more tags to apply to this operator.

        Returns:
            name of the operator as inferred from the schema.
        """
        if alias_analysis not in ["", "FROM_SCHEMA", "CONSERVATIVE"]:
            raise RuntimeError(f"Invalid alias_analysis type {alias_analysis}")
        self._check_alive()
        _refuse_builtin(self.ns, "define")
        parsed = parse(schema)
        name = parsed.name
        if self.kind == "IMPL":
            raise RuntimeError(f'def("{name}"): Cannot define an operator inside of a TORCH_LIBRARY_IMPL block.  All '
                               f"def()s should be placed in the (unique) TORCH_LIBRARY block for their namespace.  "
                               f"(Error occurred while processing TORCH_LIBRARY_IMPL block at {self._where})")
        name = self._unqualified(name, "def")
        parsed.name = f"{self.ns}::{name}"
        existing = dispatcher.defined(parsed.name, parsed.overload_name)
        if existing is not None:
            raise RuntimeError(
                f"Tried to register an operator ({parsed}) with the same name and overload name multiple times. Each "
                f"overload's schema should only be registered with a single call to def(). Duplicate registration: "
                f"registered at {self._where}. Original registration: registered at {existing.where}")
        tags = (tags,) if not isinstance(tags, (tuple, list)) else tuple(tags)
        dispatcher.add(Operator(parsed.name, parsed.overload_name, parsed, self._where, tags))
        self._defs.append((parsed.name, parsed.overload_name))
        return name

    def impl(self, op_name: Union[str, OpOverload], fn: Callable, dispatch_key: str = "", *,
             allow_override: bool = True) -> None:
        r"""Registers the function implementation for an operator defined in the library.

        Args:
            op_name: operator name (along with the overload) or OpOverload object.
            fn: function that's the operator implementation for the input dispatch key.
            dispatch_key: dispatch key that the input function should be registered for. By default, it uses
                the dispatch key that the library was created with.
            allow_override: Flag controlling if we want to override an existing registered kernel
                implementation. This is on by default; pass ``False`` to error if a kernel is already
                registered for this dispatch key.
        """
        if not callable(fn):
            raise TypeError(f"Input function is required to be a callable but found type {type(fn)}")
        if dispatch_key == "":
            dispatch_key = self.dispatch_key
        name = self._resolve_op_name(op_name, "impl")
        record = self.ns + "/" + name.split("::")[-1] + "/" + dispatch_key
        if not allow_override and record in _IMPLS:
            raise RuntimeError(f"This is not allowed since there's already a kernel registered from python overriding "
                               f"{name.split('::')[-1]}'s behavior for {dispatch_key} dispatch key and {self.ns} "
                               f"namespace.")
        self._check_alive()
        _refuse_builtin(self.ns, "impl")
        name = self._unqualified(name, "impl")
        key = dispatch_key or "CompositeImplicitAutograd"
        if key not in DISPATCH_KEYS:
            raise RuntimeError(f"could not parse dispatch key: {key}")
        qualname = f"{self.ns}::{name.partition('.')[0]}"
        overload = name.partition(".")[2]
        kernels = dispatcher.kernels_of(qualname, overload)
        if key == "Meta" and "CompositeImplicitAutograd" in kernels:
            raise RuntimeError(f"We should not register a meta kernel directly to the operator '{name}', because it "
                               f"has a CompositeImplicitAutograd kernel in core. Instead we should let the operator "
                               f"decompose, and ensure that we have meta kernels for the base ops that it decomposes "
                               f"into.")
        if key in kernels and not _warned_override[0]:
            _warned_override[0] = True
            op = dispatcher.defined(qualname, overload)
            warnings.warn(
                "Warning only once for all operators,  other operators may also be overridden.\n  Overriding a "
                "previously registered kernel for the same operator and the same dispatch key\n  operator: "
                f"{op.schema if op else qualname}\n    registered at {op.where if op else self._where}\n  "
                f"dispatch key: "
                f"{key}\n  previous kernel: no debug info\n       new kernel: registered at {caller(1)} (Triggered "
                "internally at /__w/pytorch/pytorch/aten/src/ATen/core/dispatch/OperatorEntry.cpp:208.)",
                UserWarning, stacklevel=2)
        kernels[key] = fn
        self._impls.append((qualname, overload, key, fn, record))
        _IMPLS.add(record)

    def _register_fake(self, op_name: Union[str, OpOverload], fn: Callable) -> None:
        name = self._unqualified(self._resolve_op_name(op_name, "register_fake"), "impl")
        _FAKES[f"{self.ns}::{name}"] = fn

    def _resolve_op_name(self, op_name: Union[str, OpOverload], api_name: str) -> str:
        if isinstance(op_name, str):
            return op_name
        if isinstance(op_name, OpOverload):
            return op_name._schema.name + (f".{op_name._schema.overload_name}" if op_name._schema.overload_name
                                           else "")
        raise RuntimeError(f"{api_name} should be passed either a name or an OpOverload object as the first "
                           f"argument, got {type(op_name)}")

    def _unqualified(self, name: str, what: str) -> str:
        """``name`` without its namespace, which must be this library's."""
        if "::" not in name:
            return name
        ns, name = name.split("::", 1)
        if ns != self.ns:
            raise RuntimeError(
                f'{what}("{ns}::{name}", ...): Explicitly provided namespace ({ns}) in operator name does not match '
                f"namespace of enclosing {_BLOCK[self.kind]} block ({self.ns}).  Move this definition to the "
                f"{_BLOCK[self.kind]} block corresponding to this namespace (and consider deleting the namespace "
                f"from your schema string.)  (Error occurred while processing {_BLOCK[self.kind]} block at "
                f"{self._where})")
        return name

    def _check_alive(self) -> None:
        if not self._alive[0]:
            raise AssertionError("Library object has been destroyed")

    def _destroy(self) -> None:
        _release(self._defs, self._impls, self.ns if self.kind == "DEF" else None, self._alive)


def _refuse_builtin(ns: str, what: str) -> None:
    if ns in _BUILTIN:
        raise RuntimeError(f"Library.{what}: tape cannot add operators or kernels to PyTorch's own namespace '{ns}' "
                           f"(tape's ops are not dispatched through PyTorch's dispatcher; README.md, 'Not yet')")


def _release(defs: list, impls: list, def_ns: Any, alive: list) -> None:
    """Undo what a library registered."""
    for qualname, overload in defs:
        dispatcher.remove(qualname, overload)
    for qualname, overload, key, fn, record in impls:
        kernels = dispatcher.kernels_of(qualname, overload)
        if kernels.get(key) is fn:
            del kernels[key]
        _IMPLS.discard(record)
    defs.clear()
    impls.clear()
    if def_ns is not None and alive[0]:
        _DEF_BLOCKS.pop(def_ns, None)
    alive[0] = False
