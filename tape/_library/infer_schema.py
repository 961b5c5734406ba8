"""``tape.library.infer_schema``: an operator's schema read from a Python function's type hints."""
from __future__ import annotations

import collections.abc
import functools
import inspect
import typing
from types import GenericAlias
from typing import Any, Callable, Iterable, Optional, Union

from .. import _dtype as D
from .._device import device
from .._tensor import Tensor
from ..types import Number

__all__ = ["infer_schema"]


def _derived(base: object, name: str, lists: bool, optional_items: bool, optional_list: bool) -> list:
    """The hints that mean ``base`` (``name`` in a schema) and its optional and list forms."""
    out = [(base, name), (Optional[base], f"{name}?")]

    def sequences(t: object) -> tuple:
        return (typing.Sequence[t], typing.List[t], GenericAlias(collections.abc.Sequence, (t,)),
                GenericAlias(list, (t,)))

    if lists:
        out += [(s, f"{name}[]") for s in sequences(base)]
    if optional_items:
        out += [(s, f"{name}?[]") for s in sequences(Optional[base])]
    if optional_list:
        out += [(Optional[s], f"{name}[]?") for s in sequences(base)]
    return out


@functools.lru_cache(maxsize=None)
def _tables() -> tuple:
    """The hints a parameter and a return may have, with their schema types (made at the first use)."""
    # (the Python type, its schema name, and which of the list forms (T[], T?[], T[]?) exist)
    params = dict(p for line in [(Tensor, "Tensor", True, True, False), (int, "SymInt", True, False, True),
                                 (float, "float", True, False, True), (bool, "bool", True, False, True),
                                 (str, "str", False, False, False), (Number, "Scalar", True, False, False),
                                 (D.dtype, "ScalarType", False, False, False), (device, "Device", False, False, False)]
                  for p in _derived(*line))
    returns = {Tensor: "Tensor", typing.List[Tensor]: "Tensor[]", list[Tensor]: "Tensor[]", int: "SymInt",
               float: "float", bool: "bool", Number: "Scalar"}
    return params, returns


def infer_schema(prototype_function: Callable, /, *, mutates_args: Union[str, Iterable[str]],
                 op_name: Optional[str] = None, tags: Any = ()) -> str:
    r"""Parses the schema of a given function with type hints.

    The schema is inferred from the function's type hints, and can be used to define a new
    operator. None of the outputs may alias an input or each other; only the arguments named in
    ``mutates_args`` are mutated (``"unknown"``: every Tensor argument may be).

    Args:
        prototype_function: The function from which to infer a schema for from its type annotations.
        op_name (Optional[str]): The name of the operator in the schema. If None, the name is not
            included in the inferred schema.
        mutates_args ("unknown" | Iterable[str]): The arguments that are mutated in the function.
        tags: tags of the operator (PyTorch's ``Tag.inplace`` and ``Tag.out`` change the aliasing
            inferred; tape has no ``torch.Tag``, so no tag changes it).

    Returns:
        The inferred schema, e.g. ``"(Tensor x) -> Tensor"``.
    """
    sig = inspect.signature(prototype_function)
    param_types, return_types = _tables()
    if type(mutates_args) is not str:
        mutates_args = tuple(mutates_args)

    def error(what: str) -> typing.NoReturn:
        raise ValueError(f"infer_schema(func): {what} Got func with signature {sig})")

    def resolve(hint: object) -> object:
        # (a string hint, ``from __future__ import annotations``: evaluated in the function's module)
        if isinstance(hint, str):
            try:
                return eval(hint, prototype_function.__globals__)
            except Exception as e:
                error(f"Unsupported type annotation {hint}. It is not a type. ({type(e).__name__}: {e})")
        origin = typing.get_origin(hint)
        if origin is not None and any(isinstance(a, str) for a in typing.get_args(hint)):
            return GenericAlias(origin, tuple(resolve(a) for a in typing.get_args(hint)))
        return hint

    params, seen, kw = [], set(), False
    for idx, (name, param) in enumerate(sig.parameters.items()):
        if param.kind not in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            error("We do not support positional-only args, varargs, or varkwargs.")
        if param.kind == inspect.Parameter.KEYWORD_ONLY and not kw:
            params.append("*")
            kw = True
        if param.annotation is inspect.Parameter.empty:
            error(f"Parameter {name} must have a type annotation.")
        hint = resolve(param.annotation)
        schema_type = param_types.get(hint)
        if schema_type is None:
            tuple_hint = getattr(hint, "__origin__", None) is tuple
            example = "\n\n"
            if tuple_hint:
                as_list = _tuple_to_list(hint)
                if as_list in param_types:
                    example = f"For example, {as_list}.\n\n"
            error(f"Parameter {name} has unsupported type {param.annotation}. "
                  + (f"We do not support Tuple inputs in schema. As a workaround, please try to use List instead. "
                     f"{example}" if tuple_hint else "")
                  + f"The valid types are: {param_types.keys()}.")
        if type(mutates_args) is str:
            if mutates_args != "unknown":
                raise ValueError("mutates_args must either be a sequence of the names of the arguments that are "
                                 "mutated or the string 'unknown'. ")
            if schema_type.startswith("Tensor"):
                schema_type = f"Tensor(a{idx}!){schema_type[len('Tensor'):]}"
        elif name in mutates_args:
            if not schema_type.startswith("Tensor"):
                error(f"Parameter {name} is in mutable_args but only Tensors or collections of Tensors can be mutated")
            schema_type = f"Tensor(a{idx}!){schema_type[len('Tensor'):]}"
        seen.add(name)
        if param.default is inspect.Parameter.empty:
            params.append(f"{schema_type} {name}")
            continue
        default = param.default
        if default is None or isinstance(default, (int, float, bool)):
            text = str(default)
        elif isinstance(default, (str, device)):
            text = f'"{default}"'
        elif isinstance(default, D.dtype):
            text = str(default)[len("torch."):]
        else:
            error(f"Parameter {name} has an unsupported default value type {type(default)}. "
                  f"Please file an issue on GitHub so we can prioritize this.")
        params.append(f"{schema_type} {name}={text}")
    if mutates_args != "unknown":
        unseen = set(mutates_args) - seen
        if unseen:
            error(f"{unseen} in mutates_args were not found in the custom op's signature. mutates_args should "
                  f"contain the names of all args that the custom op mutates, or just the string 'unknown' if you "
                  f"don't know.")
    ret = _parse_return(resolve(sig.return_annotation), error, return_types)
    return f"{op_name or ''}({', '.join(params)}) -> {ret}"


def _parse_return(hint: object, error: Callable, return_types: dict) -> str:
    if hint is None:
        return "()"
    if hint is inspect.Parameter.empty:
        error("No return type annotation was provided. Please add one.")
    if typing.get_origin(hint) is not tuple:
        if hint not in return_types:
            error(f"Return has unsupported type {hint}. The valid types are: {return_types}.")
        return return_types[hint]
    args = typing.get_args(hint)
    for arg in args:
        if arg not in return_types:
            error(f"Return has unsupported type {hint}. The valid types are: {return_types}.")
    text = ", ".join(return_types[a] for a in args)
    return f"(({text}))" if len(args) == 1 else f"({text})"


def _tuple_to_list(hint: object) -> object:
    args = typing.get_args(hint)
    if not args:
        return list
    if len(args) == 1 or (len(args) == 2 and args[1] is Ellipsis):
        return list[args[0]]
    return list[Union[args]]
