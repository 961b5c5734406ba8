"""PyTorch's Python argument parser, for the front ends with several overloads (``arange``,
``randint``, ``full``, ``Tensor.view``): which form a call matches, and the parser's TypeErrors
when it matches none, word for word (``torch/csrc/utils/python_arg_parser.cpp`` and
``invalid_arguments.cpp``).

Pure functions of Python values, as ``ops/_args.py``.
"""
from __future__ import annotations

import inspect
import numbers
import re
from typing import Callable, Optional

import numpy as np


_HEAP_TYPE = 1 << 9     # (``Py_TPFLAGS_HEAPTYPE``)


def parser_type_name(v) -> str:
    """How PyTorch's argument parser names the type of ``v`` (``py_typename``)."""
    t = type(v)
    if t.__module__ == "builtins" or t.__name__ == "Tensor":
        return t.__name__
    if t.__module__.split(".")[0] == "tape":
        # (tape's stand-ins for PyTorch's C types)
        return {"Generator": "torch._C.Generator"}.get(t.__name__, "torch." + t.__name__)
    if t.__flags__ & _HEAP_TYPE:
        # (a class defined in Python: its ``tp_name`` is its bare name)
        return t.__name__
    return f"{t.__module__}.{t.__qualname__}"


_CHECKS = {
    "tuple of ints": lambda v: isinstance(v, (tuple, list)),
    "int": lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool),
    "Number": lambda v: type(v) in (int, float) or parsed_number(v, False),
    "torch.dtype": lambda v: type(v).__name__ == "dtype",
    "bool": lambda v: v is None or isinstance(v, (bool, np.bool_)),
    "Tensor": lambda v: hasattr(v, "_shape"),
    "tuple of Tensors": lambda v: isinstance(v, (tuple, list)) and all(hasattr(t, "_shape") for t in v),
    "float": lambda v: parsed_number(v, True),
}


def _parsed_int(v) -> bool:
    """The parser's check of an ``int`` argument: a Python or numpy integer, not a bool, or a 0-d
    tensor of an integer dtype (which the op converts)."""
    if isinstance(v, (int, np.integer)):
        return not isinstance(v, bool)
    if hasattr(v, "_shape"):
        return v._shape == () and not (v.is_floating_point() or v.is_complex() or str(v.dtype) == "torch.bool")
    return not isinstance(v, (float, complex)) and hasattr(type(v), "__index__")


def parsed_number(v, real: bool = False) -> bool:
    """The parser's check of a ``Number`` (``float`` when ``real``) argument: a number, or a 0-d tensor
    that does not require grad (its value is taken: a gradient could not reach it)."""
    if hasattr(v, "_shape"):
        return v._shape == () and not v.requires_grad
    return isinstance(v, numbers.Real if real else numbers.Number)


_KINDS = {"bool": lambda v: type(v) is bool, "int": _parsed_int, "int?": lambda v: v is None or _parsed_int(v),
          "Number": lambda v: parsed_number(v, False), "float": lambda v: parsed_number(v, True),
          "float?": lambda v: v is None or parsed_number(v, True)}


def check_types(fn: str, params: tuple, *values, first: Optional[int] = 1) -> None:
    """PyTorch's argument parser's TypeError for the first of ``values`` not of its parameter's
    kind, which the parser checks before the op looks at any value: ``params`` lists ``(name,
    kind)`` pairs, a kind being a class (``Tensor``), a tuple of classes (``(Tensor, type(None))``
    for an optional tensor) or ``"bool"``, ``"int"``, ``"int?"`` (None too), ``"float"``, ``"Number"``.
    Positions count from ``first``: 1 for a method's arguments after ``self`` (``tape/_install.py``
    rewords it for the function form and for an argument given by keyword); None for none (the
    arguments PyTorch's Python wrapper passes on by keyword: ``unique``'s to ``_unique2``)."""
    for k, ((name, kind), v) in enumerate(zip(params, values)):
        if isinstance(kind, str):
            if _KINDS[kind](v):
                continue
            shown = kind.rstrip("?")
        elif isinstance(v, kind):
            continue
        else:
            shown = (kind[0] if isinstance(kind, tuple) else kind).__name__
        where = "" if first is None else f" (position {first + k})"
        raise TypeError(f"{fn}(): argument '{name}'{where} must be {shown}, not {parser_type_name(v)}")


# The kinds of the parser's parameters that a front end's annotations name (``dim: int``): a kind with
# ``?`` takes None too.
_ANNOTATED = {"int": "int", "Optional[int]": "int?", "int | None": "int?", "bool": "bool", "Optional[bool]": "bool?",
              "float": "float", "Optional[float]": "float?", "Number": "Number", "Optional[Number]": "Number?",
              "Tensor": "Tensor", "Optional[Tensor]": "Tensor?", "Tensor | None": "Tensor?",
              "Dims": "tuple of ints", "Optional[Dims]": "tuple of ints?", "Union[int, tuple]": "tuple of ints",
              "Union[int, tuple, None]": "tuple of ints?", "Sequence[int]": "tuple of ints", "list": "tuple of ints"}
_LENIENT = {
    "bool": lambda v: type(v) is bool,
    # (a sequence too: an annotation may say ``int`` where dims are taken)
    "int": lambda v: _parsed_int(v) or isinstance(v, (tuple, list)),
    "float": lambda v: parsed_number(v, True),
    "Number": lambda v: parsed_number(v, False),
    # (a number too: PyTorch's parser takes one for a tensor in some ops)
    "Tensor": lambda v: hasattr(v, "_shape") or isinstance(v, numbers.Number),
    # (one int, or a sequence or tensor of them)
    "tuple of ints": lambda v: _parsed_int(v) or isinstance(v, (tuple, list)) or hasattr(v, "_shape"),
}
_SIGNATURES: dict = {}


def _annotated(fn: Callable) -> tuple:
    """``(name, kind, index)`` of each parameter of ``fn`` whose annotation names a parser's kind
    (not ``*args``); ``index``: its position in a positional call, None when keyword-only."""
    params = _SIGNATURES.get(fn)
    if params is None:
        try:
            values = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            values = []
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        named = (*positional, inspect.Parameter.KEYWORD_ONLY)
        params = tuple((p.name, _ANNOTATED[p.annotation], i if p.kind in positional else None)
                       for i, p in enumerate(values)
                       if p.kind in named and isinstance(p.annotation, str) and p.annotation in _ANNOTATED)
        _SIGNATURES[fn] = params
    return params


_PARSER_ERROR = re.compile(r"\w+\(\): argument '|\w+\(\) received an invalid combination of arguments|expected \w+ as "
                           r"element \d+ in argument")


def parser_error(e: BaseException) -> bool:
    """Whether ``e`` is already an error of the parser's (a front end's own check of its arguments)."""
    return isinstance(e, TypeError) and _PARSER_ERROR.match(str(e)) is not None


def annotated_error(fn: Callable, name: str, args: tuple, kwargs: dict, offset: int) -> Optional[TypeError]:
    """The parser's TypeError for the first argument of the call ``fn(*args, **kwargs)`` (of the
    function ``name``) not of the kind ``fn``'s annotation gives its parameter, or None: what the
    parser would have refused before the op raised what it raised (called on that error's path).
    ``offset``: 0 when ``args[0]`` is a method's ``self`` (not checked), 1 when the function's first
    argument (position 1)."""
    for pname, kind, index in _annotated(fn):
        if index == 0 and offset == 0:
            continue
        if index is not None and index < len(args):
            value, where = args[index], f" (position {index + offset})"
        elif pname in kwargs:
            value, where = kwargs[pname], ""
        else:
            continue
        base = kind.rstrip("?")
        if not (_LENIENT[base](value) or value is None and kind[-1] == "?"):
            return TypeError(f"{name}(): argument '{pname}'{where} must be {base}, not {parser_type_name(value)}")
    return None


def check_elements(values, kind: type, argument: int = 0) -> None:
    """The parser's TypeError for the first of a sequence argument's ``values`` not a ``kind``
    (``argument``: the sequence's position, from 0), checked before any of them is looked at."""
    for k, v in enumerate(values):
        if not isinstance(v, kind):
            raise TypeError(f"expected {kind.__name__} as element {k} in argument {argument}, but got "
                            f"{parser_type_name(v)}")


_ARG_ERROR = re.compile(r"(\w+)\(\): argument '(\w+)' \(position (\d+)\)( must be .*)", re.S)


_NO_ARGUMENTS = re.compile(r"takes no arguments \((\d+) given\)")


def as_function_error(e: TypeError, name: str, primary: str, kwargs: dict, method: str = "") -> None:
    """Reword the parser's error of a method's argument (``maximum(): argument 'other' (position 1)
    must be Tensor, not int``) as the function form ``name`` reports it: the input counts as position
    1, an argument given by keyword has no position, and the message names the function called.
    Python's own errors for the call of the Tensor method ``method`` (``Tensor.abs() takes 1
    positional argument but 2 were given``) name the function too, as PyTorch's parser does."""
    if len(e.args) != 1:
        return
    text = str(e)
    if method and text.startswith(f"Tensor.{method}() "):
        rest = text[len(method) + 10:]
        m = _NO_ARGUMENTS.fullmatch(rest)
        if m is not None:
            rest = f"takes 1 positional argument but {int(m.group(1)) + 1} were given"
        e.args = (f"{name}() {rest}",)
        return
    m = _ARG_ERROR.fullmatch(text)
    if m is None or m.group(1) not in (name, primary):
        return
    arg = m.group(2)
    where = "" if arg in kwargs else f" (position {int(m.group(3)) + 1})"
    e.args = (f"{name}(): argument '{arg}'{where}{m.group(4)}",)


def as_inplace_error(e: TypeError, name: str, bases: tuple, takes_arguments: bool) -> None:
    """Reword an error of the method called by the in-place variant ``name`` (``abs_``), which
    names it as one of ``bases`` (``clip``, ``clamp``), as PyTorch reports it for ``name``:
    Python's count of positional arguments as the parser's of a method that ``takes_arguments``
    or not (``Tensor.abs_() takes no arguments (1 given)``)."""
    if len(e.args) != 1:
        return
    text = str(e)
    for base in bases:
        for head in (f"Tensor.{base}() ", f"{base}() ", f"{base}(): "):
            if text.startswith(head):
                rest = text[len(head):]
                m = _POSITIONAL.fullmatch(rest)
                if m is not None and not takes_arguments:
                    e.args = (f"Tensor.{name}() takes no arguments ({int(m.group(1)) - 1} given)",)
                else:
                    e.args = (head.replace(base, name, 1) + rest,)
                return


_POSITIONAL = re.compile(r"takes 1 positional argument but (\d+) were given")


def inplace_function_forms(e: TypeError, name: str) -> Optional["Forms"]:
    """The overloads of the function form of the in-place method ``name`` (``clamp_``), from the
    parser's error ``e`` of the method, which lists the method's: the same with ``input`` first
    (an in-place op has no ``out``); None if ``e`` is no such error."""
    text = str(e)
    if not text.startswith(f"{name}() received an invalid combination of arguments - got ("):
        return None
    forms = [line[3:] for line in text.splitlines() if line.startswith(" * (")]
    return Forms(name, *(f"(Tensor input{', ' + f[1:] if f != '()' else ')'}" for f in forms))


def as_keyword_error(e: TypeError, name: str, kwargs: dict) -> None:
    """Drop the position from the parser's error of an argument of the function ``name`` given by
    keyword (the front end cannot tell how it was given)."""
    m = _ARG_ERROR.fullmatch(str(e)) if len(e.args) == 1 else None
    if m is not None and m.group(1) == name and m.group(2) in kwargs:
        e.args = (f"{name}(): argument '{m.group(2)}'{m.group(4)}",)


# numpy's keyword names, which the parser takes for these (``ops/_spec.torch_keywords``)
_ALIASES = {"axis": "dim", "keepdims": "keepdim"}


def _matches(kind: str, v) -> bool:
    """Whether ``v`` passes the parser's check for a parameter of type ``kind`` (the types
    tape's forms use; any value for the others)."""
    check = _CHECKS.get(kind)
    return check is None or check(v)


def _described(v) -> str:
    """A value's type as ``_formattedArgDesc`` shows it (``tuple of (int, int)``)."""
    if not isinstance(v, (tuple, list)):
        return parser_type_name(v)
    inner = ", ".join(parser_type_name(e) for e in v)
    if isinstance(v, list):
        return f"{parser_type_name(v)} of [{inner}]"
    return f"{parser_type_name(v)} of ({inner}{',' if len(v) == 1 else ''})"


class _Param:
    def __init__(self, token: str, keyword_only: bool):
        head, _, default = token.partition(" = ")
        self.kind, _, self.name = head.rpartition(" ")
        self.optional = bool(default)
        self.none = default == "None"       # (an optional parameter that takes None: ``Tensor? min``)
        self.keyword_only = keyword_only

    def accepts(self, v) -> bool:
        return _matches(self.kind, v) or (v is None and self.none)


class Form:
    """One overload as the parser lists it: ``"(Number start, Number end, *, torch.dtype dtype = None)"``."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = text[1:-1].split(", ")
        self.params: list[_Param] = []
        star = False
        for token in self.tokens:
            if token == "*":
                star = True
            elif token:     # (``()``: no parameter, though the parser counts one, of no type, for its marks)
                self.params.append(_Param(token, star))
        self.positional = sum(not p.keyword_only for p in self.params)
        self.min_args = sum(not p.optional for p in self.params)
        self.named = {p.name: p for p in self.params}
        self.required = tuple(p.name for p in self.params if not p.optional)
        # (a lone positional ``tuple of ints`` may come as ``*args``: ``x.view(2, 3)``)
        self.varargs = self.positional == 1 and self.params[0].kind == "tuple of ints"

    def match(self, args: tuple, kwargs: dict) -> Optional[dict]:
        """The values given, by name, if the call matches this form, else None (what ``bind``
        decides, without its errors)."""
        got = {}
        if args:
            if not self.params:
                return None
            first = self.params[0]
            if self.varargs and not _matches(first.kind, args[0]):
                if not _matches("int", args[0]):
                    return None
                got[first.name] = args
            else:
                if len(args) > self.positional:
                    return None
                for p, v in zip(self.params, args):
                    if not p.accepts(v):
                        return None
                    got[p.name] = v
        for k, v in kwargs.items():
            p = self.named.get(k)
            if p is None or k in got or not p.accepts(v):
                return None
            got[k] = v
        for name in self.required:
            if name not in got:
                return None
        return got

    def raise_error(self, fn: str, args: tuple, kwargs: dict) -> None:
        """The parser's error for a call this form does not ``match``, found in its order
        (``FunctionSignature::parse``: extra positional arguments, then each parameter in turn,
        then the keywords left over)."""
        names = [p.name for p in self.params]
        if len(args) > self.positional and not self.varargs:
            self._extra(fn, len(args))
        pos = 0
        for i, p in enumerate(self.params):
            keyword = pos >= len(args) or p.keyword_only
            if not keyword:
                v = args[pos]
            elif p.name in kwargs:
                v = kwargs[p.name]
            elif p.optional:
                continue
            else:
                missing = [f'"{q.name}"' for q in self.params[i:] if not q.optional]
                # (the parser's own plural: "argument" for two or more)
                raise TypeError(f"{fn}() missing {len(missing)} required positional argument"
                                f"{'s' if len(missing) == 1 else ''}: {', '.join(missing)}")
            if not p.accepts(v):
                if not (i == 0 and self.varargs and not keyword and _matches("int", v)):
                    where = "" if keyword else f" (position {i + 1})"
                    raise TypeError(f"{fn}(): argument '{p.name}'{where} must be {p.kind}, not {parser_type_name(v)}")
                pos = len(args) - 1
            pos += not keyword
        if pos < len(args):
            self._extra(fn, len(args))
        for k in kwargs:
            if k not in names:
                raise TypeError(f"{fn}() got an unexpected keyword argument '{k}'")
            if names.index(k) < pos:
                raise TypeError(f"{fn}() got multiple values for argument '{k}'")

    def _extra(self, fn: str, n: int) -> None:
        """``extra_args``: more positional arguments than the form takes."""
        if self.min_args != self.positional:
            raise TypeError(f"{fn}() takes from {self.min_args} to {self.positional} positional arguments but {n} "
                            "were given")
        raise TypeError(f"{fn}() takes {self.positional} positional argument{'s' if self.positional != 1 else ''} "
                        f"but {n} were given")

    def count_matches(self, args: tuple, kwargs: dict) -> bool:
        """``_argcountMatch``: as many arguments given as the listed form has entries."""
        return len(args) + len(kwargs) == len(self.tokens)


class Forms:
    """A function's overloads, in the parser's order; ``hidden``: it has deprecated ones too, which
    the parser does not list (``addbmm(beta, input, alpha, batch1, batch2)``), so that a call
    matching none is "an invalid combination" even where one form is listed."""

    def __init__(self, fn: str, *forms: str, hidden: bool = False):
        self.fn = fn
        self.forms = tuple(Form(f) for f in forms)
        self.hidden = hidden

    def named(self, fn: str) -> "Forms":
        """The same overloads of the alias ``fn`` (``clip`` for ``clamp``)."""
        return Forms(fn, *(f.text for f in self.forms), hidden=self.hidden)

    def error(self, args: tuple, kwargs: dict) -> Optional[TypeError]:
        """The parser's error for a call that matches none of the forms, or None."""
        try:
            self.parse(args, kwargs)
        except TypeError as parsed:
            return parsed
        return None

    def reword(self, e: TypeError, args: tuple, kwargs: dict) -> bool:
        """Give ``e`` the parser's message for a call that matches none of the forms (True), or
        leave it (False)."""
        try:
            self.parse(args, kwargs)
        except TypeError as parsed:
            e.args = parsed.args
            return True
        return False

    def parse(self, args: tuple, kwargs: dict) -> tuple[int, dict]:
        """The index of the first form the call matches and the values given, by name; the
        parser's TypeError when it matches none."""
        if kwargs and any(k in _ALIASES for k in kwargs):
            kwargs = {_ALIASES.get(k, k) if _ALIASES.get(k) not in kwargs else k: v for k, v in kwargs.items()}
        for k, form in enumerate(self.forms):
            got = form.match(args, kwargs)
            if got is not None:
                return k, got
        n = len(args) + len(kwargs)
        plausible = [f for f in self.forms if f.min_args <= n <= len(f.params)]
        if len(self.forms) == 1 and not self.hidden:
            self.forms[0].raise_error(self.fn, args, kwargs)
        # (the parser's ``print_error``: the one listed form taking as many arguments names the wrong one)
        if len(plausible) == 1:
            plausible[0].raise_error(self.fn, args, kwargs)
        raise TypeError(self.invalid(args, kwargs))

    def invalid(self, args: tuple, kwargs: dict) -> str:
        """``format_invalid_args`` for several forms (keywords in the order of PyTorch's
        unordered_map: the reverse of the call's)."""
        given = list(reversed(kwargs.items()))
        desc = "".join(f"{parser_type_name(a)}, " for a in args) + "".join(
            f"{k}={parser_type_name(v)}, " for k, v in given)
        head = f"{self.fn}() received an invalid combination of arguments - got ({desc[:-2] if args else desc}), "
        if len(self.forms) == 1:
            return f"{head}but expected {self.forms[0].text}"
        lines = [head + "but expected one of:"]
        for form in self.forms:
            lines.append(f" * {form.text}")
            if not form.count_matches(args, kwargs):
                continue
            start = max(len(form.tokens) - len(kwargs), 0)
            known = [t.rpartition(" ")[2] for t in form.tokens[start:]]
            unmatched = [k for k, _ in given if k not in known]
            if unmatched:
                lines.append("      didn't match because some of the keywords were incorrect: " + ", ".join(unmatched))
                continue
            marks = []
            for i in range(len(args) + len(kwargs)):
                # (as ``_formattedArgDesc``: the i-th keyword is the one the form names i-th)
                kind, _, name = form.tokens[i].partition(" = ")[0].rpartition(" ")
                v = args[i] if i < len(args) else kwargs.get(name)
                shown = ("" if i < len(args) else f"{name}=") + _described(v)
                marks.append(f"{shown}, " if kind and _matches(kind, v) else f"!{shown}!, ")
            text = "".join(marks)
            lines.append("      didn't match because some of the arguments have invalid types: "
                         f"({text[:-2] if args else text})")
        return "\n".join(lines) + "\n"
