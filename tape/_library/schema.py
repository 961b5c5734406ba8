"""Operator schemas, ``ns::name.overload(Tensor(a!) x, int[] dims, *, float alpha=1) -> Tensor``.

PyTorch's dispatcher checks every call of a registered operator against its schema before any
kernel runs; tape does the same in Python, with the dispatcher's messages: a ``Schema`` parses the
text once (``parse``) and ``Schema.bind`` turns a call's arguments into what the kernel receives.
"""
from __future__ import annotations

import re
from typing import Any, Optional

from .. import _dtype as D
from .._device import device as Device
from .._tensor import Tensor

__all__ = ["Argument", "Schema", "parse"]

# The base types a schema may name, with the name the dispatcher's messages give them.
_BASE = {"Tensor": "Tensor", "int": "int", "SymInt": "int", "float": "float", "bool": "bool", "str": "str",
         "Scalar": "number", "ScalarType": "int", "Device": "Device", "Layout": "int", "MemoryFormat": "int",
         "Generator": "Generator", "Dimname": "Dimname", "Storage": "Storage", "Stream": "Stream", "Any": "Any",
         "SymBool": "bool", "SymFloat": "float", "complex": "complex"}

# c10's ScalarType numbers of the dtypes tape has.
_SCALAR_TYPES = {0: D.uint8, 1: D.int8, 2: D.int16, 3: D.int32, 4: D.int64, 5: D.float16, 6: D.float32, 7: D.float64,
                 11: D.bool_}

_SCALAR_TYPE_NUMBERS = {d: n for n, d in _SCALAR_TYPES.items()}

_TOKEN = re.compile(r"\s*(->|\.\.\.|[A-Za-z_]\w*|-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\"[^\"]*\"|'[^']*'"
                    r"|[()\[\],=*?!.:])")


class Type:
    """A schema type: a base name with list (``[]``/``[N]``) and optional (``?``) layers, outermost last."""

    __slots__ = ("base", "layers")

    def __init__(self, base: str, layers: tuple = ()) -> None:
        self.base = base
        self.layers = layers        # ("list", N or None) / ("optional",) from the inside out

    def schema_text(self) -> str:
        """The type as a schema writes it (``SymInt[]``)."""
        text = self.base
        for layer in self.layers:
            text += "?" if layer[0] == "optional" else f"[{layer[1] or ''}]"
        return text

    def __str__(self) -> str:
        """The type as PyTorch names it in messages (``SymInt[]`` is ``List[int]``)."""
        text = _BASE[self.base]
        for layer in self.layers:
            text = f"Optional[{text}]" if layer[0] == "optional" else f"List[{text}]"
        return text

    __repr__ = __str__

    @property
    def is_tensor_like(self) -> bool:
        return self.base == "Tensor"

    @property
    def is_tensor_list(self) -> bool:
        return self.base == "Tensor" and any(layer[0] == "list" for layer in self.layers)


class AliasInfo:
    """An alias annotation: the alias set before and after the call, and whether the operator writes."""

    __slots__ = ("before_set", "after_set", "is_write")

    def __init__(self, alias: str, is_write: bool) -> None:
        self.before_set = self.after_set = {alias}
        self.is_write = is_write


class Argument:
    """One argument (or return) of a schema."""

    __slots__ = ("name", "type", "alias", "is_write", "kwarg_only", "has_default", "default", "default_text")

    def __init__(self, name: str, type: Type, alias: Optional[str] = None, is_write: bool = False,
                 kwarg_only: bool = False, has_default: bool = False, default_value: Any = None,
                 default_text: str = "") -> None:
        self.name = name
        self.type = type
        self.alias = alias              # the alias set, ``a`` of ``Tensor(a!)``
        self.is_write = is_write        # ``!``: the operator writes the tensor
        self.kwarg_only = kwarg_only
        self.has_default = has_default
        self.default = default_value    # (as a kernel receives it: a dtype for a ScalarType)
        self.default_text = default_text

    @property
    def alias_info(self) -> Optional["AliasInfo"]:
        """The alias annotation, ``(a!)`` of ``Tensor(a!) x`` (None without one), as PyTorch's ``_AliasInfo``."""
        return None if self.alias is None else AliasInfo(self.alias, self.is_write)

    def has_default_value(self) -> bool:
        return self.has_default

    @property
    def default_value(self) -> Any:
        """The default as the schema holds it (a ScalarType as c10's number)."""
        return _SCALAR_TYPE_NUMBERS.get(self.default, self.default) if isinstance(self.default, D.dtype) \
            else self.default

    def __str__(self) -> str:
        text = self.type.schema_text()
        if self.alias is not None:
            text = text.replace("Tensor", f"Tensor({self.alias}{'!' if self.is_write else ''})", 1)
        if self.name:
            text += " " + self.name
        if self.has_default:
            text += "=" + _printed(self.default_value, self.default_text)
        return text


class Schema:
    """A parsed operator schema (PyTorch's ``torch._C.FunctionSchema``)."""

    def __init__(self, name: str, overload_name: str, arguments: list, returns: list,
                 returns_in_parens: bool = False) -> None:
        self.name = name                    # ``ns::op`` (or ``op`` while no namespace is known)
        self.overload_name = overload_name
        self.arguments = arguments
        self.returns = returns
        self.returns_in_parens = returns_in_parens      # ``-> (Tensor)``: one return, written as a tuple

    def __str__(self) -> str:
        args, kw = [], False
        for a in self.arguments:
            if a.kwarg_only and not kw:
                args.append("*")
                kw = True
            args.append(str(a))
        rets = [str(r) for r in self.returns]
        ret = rets[0] if len(rets) == 1 and not self.returns_in_parens else f"({', '.join(rets)})"
        name = self.name + (f".{self.overload_name}" if self.overload_name else "")
        return f"{name}({', '.join(args)}) -> {ret}"

    @property
    def is_mutable(self) -> bool:
        return any(a.is_write for a in self.arguments)

    def is_functional(self) -> bool:
        """No argument written, no return aliasing an argument, at least one return (PyTorch's test
        before an autograd formula may be registered)."""
        if self.is_mutable or not self.returns:
            return False
        return all(r.alias is None for r in self.returns)

    def bind(self, args: tuple, kwargs: dict) -> tuple:
        """The kernel's ``(args, kwargs)`` for a call: types checked and converted as the dispatcher does,
        keyword-only arguments as keywords, the others positional, arguments equal to their default left
        off the end (as PyTorch's dispatcher strips them)."""
        positional = [a for a in self.arguments if not a.kwarg_only]
        if len(args) > len(positional):
            if len(positional) < len(self.arguments):
                raise RuntimeError(f"{self.name}() takes {len(positional)} positional argument(s) but "
                                   f"{len(args)} was/were given.  Declaration: {self}")
            raise RuntimeError(f"{self.name}() expected at most {len(positional)} argument(s) but received "
                               f"{len(args)} argument(s). Declaration: {self}")
        values = []
        for i, a in enumerate(self.arguments):
            if i < len(args) and not a.kwarg_only:
                if a.name in kwargs:
                    raise RuntimeError(f"Argument '{a.name}' specified both as positional and keyword argument. "
                                       f"Schema: {self}")
                values.append((a, self._convert(a, args[i], i), True))
            elif a.name in kwargs:
                values.append((a, self._convert(a, kwargs[a.name], i), True))
            elif a.has_default:
                values.append((a, a.default, False))
            else:
                raise RuntimeError(f"{self.name}() is missing value for argument '{a.name}'. Declaration: {self}")
        names = {a.name for a in self.arguments}
        for k in kwargs:
            if k not in names:
                raise RuntimeError(f"Unknown keyword argument '{k}' for operator '{self.name}'. Schema: {self}")
        out_args = [v for a, v, _ in values if not a.kwarg_only]
        while out_args and positional[len(out_args) - 1].has_default and \
                _same(out_args[-1], positional[len(out_args) - 1].default):
            out_args.pop()
        out_kwargs = {a.name: v for a, v, given in values
                      if a.kwarg_only and not (a.has_default and _same(v, a.default))}
        return tuple(out_args), out_kwargs

    def filled(self, args: tuple, kwargs: dict) -> tuple:
        """``(args, kwargs)`` with the arguments ``bind`` left off put back (PyTorch's ``fill_defaults``)."""
        new_args, new_kwargs = [], {}
        for i, a in enumerate(self.arguments):
            if a.kwarg_only:
                new_kwargs[a.name] = kwargs.get(a.name, a.default)
            else:
                new_args.append(args[i] if i < len(args) else a.default)
        return tuple(new_args), new_kwargs

    def _convert(self, arg: Argument, value: Any, position: int) -> Any:
        ok, converted = _check(arg.type, arg.type.layers, value)
        if ok:
            return converted
        found = "Tensor" if isinstance(value, Tensor) else type(value).__name__
        t = arg.type
        if t.base == "SymInt" and t.layers and t.layers[-1][0] == "list" and not isinstance(value, (list, tuple)):
            details = f" Python error details: TypeError: '{type(value).__name__}' object is not iterable"
        elif t.base == "Tensor" and not t.is_tensor_list:
            details = f"Cast error details: Unable to cast {value!r} to Tensor"
        elif t.base == "Scalar" and not t.layers:
            details = f"Cast error details: Cannot cast {value} to number"
        else:
            details = (f"Cast error details: Unable to cast Python instance of type {type(value)} to C++ type '?' "
                       f"(#define PYBIND11_DETAILED_ERROR_MESSAGES or compile in debug mode for details)")
        raise RuntimeError(f"{self.name}() Expected a value of type '{t}' for argument "
                           f"'{arg.name}' but instead found type '{found}'.\nPosition: {position}\nValue: {value!r}\n"
                           f"Declaration: {self}\n{details}")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return a is b
    return type(a) is type(b) and a == b


def _check(t: Type, layers: tuple, value: Any) -> tuple:
    """``(ok, value as the kernel receives it)`` for ``value`` of type ``t`` (its outer ``layers``), by the
    conversions PyTorch's binding makes (a one-element tensor as a number, None or anything with ``__bool__``
    as a bool, a number as a ScalarType, a range as a list ...)."""
    if layers:
        layer, inner = layers[-1], layers[:-1]
        if layer[0] == "optional":
            return (True, None) if value is None else _check(t, inner, value)
        if t.base == "SymInt" and not inner and isinstance(value, Tensor) and value.dim() == 1 \
                and not value.is_floating_point():
            return True, [int(v) for v in value.tolist()]
        if not isinstance(value, (list, tuple, range)):
            return False, None
        out = []
        for v in value:
            ok, v = _check(t, inner, v)
            if not ok:
                return False, None
            out.append(v)
        return True, out
    base = t.base
    if base == "Tensor":        # (None too: an undefined tensor, as PyTorch's binding takes it)
        return value is None or isinstance(value, Tensor), value
    if base in ("int", "SymInt", "ScalarType"):
        if base != "SymInt" and isinstance(value, D.dtype) and value in _SCALAR_TYPE_NUMBERS:
            return True, value if base == "ScalarType" else _SCALAR_TYPE_NUMBERS[value]
        if not (isinstance(value, int) or _one_element(value)):
            return False, None
        if base == "ScalarType":        # (a ScalarType's number, as c10 counts them)
            dtype = _SCALAR_TYPES.get(int(value))
            return dtype is not None, dtype
        return True, int(value)
    if base in ("float", "SymFloat"):
        ok = isinstance(value, (int, float)) or _one_element(value)
        return ok, float(value) if ok else None
    if base in ("bool", "SymBool"):
        if value is None:
            return True, False
        if not hasattr(type(value), "__bool__"):
            return False, None
        try:
            return True, bool(value)
        except (RuntimeError, ValueError, TypeError):
            return False, None
    if base == "str":
        return isinstance(value, str), value
    if base == "Scalar":
        if isinstance(value, D.dtype) and value in _SCALAR_TYPE_NUMBERS:
            return True, _SCALAR_TYPE_NUMBERS[value]
        return isinstance(value, (int, float, complex)), value
    if base == "Device":
        if isinstance(value, (str, Device)):
            return True, Device(value)
        return False, None
    return True, value      # (the types tape has no values of: passed through)


def _one_element(value: Any) -> bool:
    return isinstance(value, Tensor) and value.numel() == 1


def _printed(value: Any, text: str) -> str:
    """A default value as c10 prints it (doubles to 17 digits, with a point: ``2.``, ``0.10000000000000001``)."""
    if value is None or isinstance(value, (bool, int)):
        return str(value)
    if isinstance(value, float):
        out = "%.17g" % value
        return out if any(c in out for c in ".en") else out + "."
    if isinstance(value, str) and text[:1] in "\"'":
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_printed(v, "") for v in value) + "]"
    return text


class _Tokens:
    """The tokens of a schema's text, for the parser (its errors point at the text, as PyTorch's)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.items = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                if text[pos:].strip() == "":
                    break
                self.error(pos, 1, f"unexpected character '{text[pos:].strip()[0]}'")
            self.items.append((m.group(1), m.start(1)))
            pos = m.end()
        self.i = 0

    def peek(self, k: int = 0) -> Optional[str]:
        return self.items[self.i + k][0] if self.i + k < len(self.items) else None

    def pos(self) -> int:
        return self.items[self.i][1] if self.i < len(self.items) else len(self.text)

    def next(self) -> str:
        tok = self.peek()
        if tok is None:
            self.error(len(self.text), 1, "unexpected end of schema")
        self.i += 1
        return tok

    def accept(self, tok: str) -> bool:
        if self.peek() == tok:
            self.i += 1
            return True
        return False

    def expect(self, tok: str) -> None:
        if self.peek() != tok:
            self.expected(tok)
        self.i += 1

    def expected(self, what: str) -> None:
        tok = self.peek()
        kind = "arrow" if tok == "->" else ("eof" if tok is None else tok)
        self.error(self.pos(), len(tok or " "), f"expected {what} but found '{kind}'")

    def ident(self) -> str:
        tok = self.peek()
        if tok is None or not re.fullmatch(r"[A-Za-z_]\w*", tok):
            self.expected("ident")
        self.i += 1
        return tok

    def error(self, pos: int, width: int, message: str) -> None:
        raise RuntimeError(f"{message} here:\n{self.text}\n{' ' * pos}{'~' * width} <--- HERE\n")


def parse(text: str, *, named: bool = True) -> Schema:
    """Parse ``text``: ``name[.overload](args) -> returns`` (``named=False``: ``(args) -> returns``)."""
    toks = _Tokens(text)
    name, overload = "", ""
    if named:
        name = toks.ident()
        while toks.accept(":"):
            toks.expect(":")
            name += "::" + toks.ident()
        if toks.accept("."):
            overload = toks.ident()
    toks.expect("(")
    arguments, kwarg_only = [], False
    if not toks.accept(")"):
        while True:
            if toks.accept("*"):
                kwarg_only = True
            else:
                arguments.append(_argument(toks, kwarg_only, True))
            if not toks.accept(","):
                toks.expect(")")
                break
    toks.expect("->")
    returns = []
    in_parens = toks.peek() == "("
    if in_parens:
        toks.next()
        if not toks.accept(")"):
            while True:
                returns.append(_argument(toks, False, False))
                if not toks.accept(","):
                    toks.expect(")")
                    break
    else:
        returns.append(_argument(toks, False, False))
    if toks.peek() is not None:
        toks.expected("eof")
    schema = Schema(name, overload, arguments, returns, in_parens and len(returns) == 1)
    seen_default = False
    for a in arguments:
        # (c10 lets a list follow a default: schemas with such broadcasting lists were serialized)
        is_list = bool(a.type.layers) and a.type.layers[-1][0] == "list"
        if seen_default and not a.has_default and not a.kwarg_only and not is_list:
            raise RuntimeError(
                '!seen_default_arg || arg.kwarg_only() INTERNAL ASSERT FAILED at "/__w/pytorch/pytorch/aten/src/ATen/'
                'core/function_schema.h":342, please report a bug to PyTorch. Non-default positional argument follows '
                f"default argument. Parameter {a.name} in {schema}")
        seen_default = seen_default or a.has_default
    return schema


def _argument(toks: _Tokens, kwarg_only: bool, is_input: bool) -> Argument:
    start = toks.pos()
    base = toks.ident()
    if base not in _BASE:
        raise RuntimeError(
            "\nunknown type specifier. Common valid schema types include Tensor, SymInt, int, float, bool, Scalar; "
            "for a full list, please see https://github.com/pytorch/pytorch/blob/main/aten/src/ATen/native/README.md"
            f"#func :\n{toks.text}\n{' ' * start}{'~' * len(base)} <--- HERE\n")
    alias, is_write = None, False
    if base == "Tensor" and toks.peek() == "(":
        toks.next()
        alias = toks.ident()
        is_write = toks.accept("!")
        if toks.accept("->"):
            toks.expect("*")
        toks.expect(")")
    layers = []
    while toks.peek() in ("[", "?"):
        if toks.accept("?"):
            layers.append(("optional",))
        else:
            toks.next()
            size = None
            if toks.peek() not in ("]", None):
                size = int(toks.next())
            toks.expect("]")
            layers.append(("list", size))
    name = ""
    if is_input or (toks.peek() not in (",", ")", None)):
        name = toks.ident()
    has_default, default, default_text = False, None, ""
    if is_input and toks.accept("="):
        has_default = True
        default_text, default = _default(toks, Type(base, tuple(layers)))
    return Argument(name, Type(base, tuple(layers)), alias, is_write, kwarg_only, has_default, default, default_text)


# The names c10's schema parser takes as a default's value (numbers of its enums), and for a ScalarType
# the dtypes' names.
_NAMED_DEFAULTS = {"contiguous_format": 0, "strided": 0, "Mean": 1, "long": 4, "float": 6}
_DTYPE_NAMES = {"uint8": 0, "int8": 1, "int16": 2, "short": 2, "int32": 3, "int": 3, "int64": 4, "long": 4,
                "float16": 5, "half": 5, "float32": 6, "float": 6, "float64": 7, "double": 7, "bool": 11}


def _default(toks: _Tokens, t: Type) -> tuple:
    """A default value of type ``t``: its text as written and its value (as a kernel receives it)."""
    is_list = bool(t.layers) and t.layers[-1][0] == "list"
    if is_list and toks.peek() != "None":
        toks.expect("[")
        items, texts = [], []
        while not toks.accept("]"):
            text, value = _default(toks, Type(t.base, t.layers[:-1]))
            items.append(value)
            texts.append(text)
            toks.accept(",")
        return f"[{', '.join(texts)}]", items
    start = toks.pos()
    tok = toks.next()
    if tok == "None":
        return tok, None
    if tok in ("True", "False"):
        return tok, tok == "True"
    if tok[0] in "\"'":
        return tok, tok[1:-1]
    if re.fullmatch(r"-?\d+", tok):
        return tok, float(tok) if t.base == "float" else int(tok)
    if re.fullmatch(r"-?[\d.]+(?:[eE][-+]?\d+)?", tok):
        return tok, float(tok)
    number = (_DTYPE_NAMES if t.base == "ScalarType" else _NAMED_DEFAULTS).get(tok)
    if number is None:
        raise RuntimeError(f"\ninvalid numeric default value:\n{toks.text}\n{' ' * start}{'~' * len(tok)} <--- HERE\n")
    if t.base == "ScalarType":
        return tok, _SCALAR_TYPES.get(number, number)
    return tok, number
