"""Tensor methods and ``tape.<function>`` forms, made at import from the registry of public names.

Each op's front end is registered once, in its family file in ``ops/``, under its
PyTorch names (``ops._spec.public``); ``install`` makes them Tensor methods,
operators and properties, and returns the functions ``tape`` exports.  It also
sets the three members of the handle that use modules above it, so that
``tape/_tensor.py`` imports nothing above the tape: ``grad_fn`` (views of the
rows), ``backward`` (the engine) and ``Tensor.__new__`` (the legacy
constructor ``tape.Tensor(...)``).
"""
from __future__ import annotations

import functools
import inspect
from typing import Callable

from ._creation import tensor_new
from ._graph import grad_fn
from ._hooks import backward_hooks, register_hook, register_post_accumulate_grad_hook, use_count
from ._legacy import private_grad_fn, volatile
from ._out import call_with_out
from ._tensor import Tensor, mark_missing
from .autograd._backward import tensor_backward
from .autograd._functions import resize
from .ops import PUBLIC
from .ops._parser import annotated_error, as_function_error, as_keyword_error, parser_error
from .ops._spec import Public, sequence_param, sequence_value


def _first(x, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")
    return x


def _takes_out(fn: Callable) -> bool:
    try:
        return "out" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _function(name: str, entry: Public) -> Callable:
    """``tape.<name>(input, ...)``: the method called on ``input`` (a subclass's override, if any),
    with PyTorch's ``out=`` (``tape/_out.py``)."""
    method = entry.fn
    reflected = entry.reflected
    if reflected is None and hasattr(method, "function_form"):
        # (a unary front with the 0-d case inlined: ``_emit.scalar_unary``)
        def general(input, **kwargs):
            if kwargs:
                return call_with_out(name, general, (input,), kwargs)
            return getattr(_first(input, name), name)()
        fn = method.function_form(general)
    elif reflected is None:
        own_out = _takes_out(method)        # (a front end with its own ``out=``: a composite's, recorded)
        primary = entry.name
        seq = sequence_param(method)        # (which the function form takes as one sequence only)
        forms = entry.function_forms
        error_forms = None if entry.error_forms is None else entry.error_forms.named(name)

        def fn(input, *args, **kwargs):
            if forms is not None:
                forms.parse((input, *args), kwargs)
            if kwargs and "out" in kwargs and not own_out:
                return call_with_out(name, fn, (input, *args), kwargs)
            if seq is not None and args:
                if len(args) > 1:
                    raise TypeError(f"{name}() takes 2 positional arguments but {len(args) + 1} were given")
                sequence_value(name, seq, args[0], " (position 2)")
            # (a subclass's override, else the method; the input checked outside the ``try``, its error as it is)
            own = None if type(input) is Tensor else getattr(_first(input, name), name)
            try:
                return method(input, *args, **kwargs) if own is None else own(*args, **kwargs)
            except Exception as e:
                if isinstance(e, TypeError) and error_forms is not None and \
                        error_forms.reword(e, (input, *args), kwargs):
                    raise
                # (PyTorch's parser refuses an argument of the wrong type before the op runs)
                error = None if parser_error(e) else annotated_error(method, name, (input, *args), kwargs, 1)
                if error is not None:
                    raise error from None
                if isinstance(e, TypeError):
                    as_function_error(e, name, primary, kwargs, method.__name__)
                raise
    else:
        primary = entry.name
        error_forms = None if entry.error_forms is None else entry.error_forms.named(name)

        def fn(input, other, *args, **kwargs):
            if kwargs and "out" in kwargs:
                return call_with_out(name, fn, (input, other, *args), kwargs)
            try:
                if isinstance(input, Tensor):
                    return getattr(input, name)(other, *args, **kwargs)
                return reflected(_first(other, primary), input, *args, **kwargs)
            except TypeError as e:
                if error_forms is not None:
                    error_forms.reword(e, (input, other, *args), kwargs)
                raise
    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = "tape"
    fn.__doc__ = f"Function form of :meth:`Tensor.{name}`" + (
        " (either operand may be a number)." if reflected is not None else ".")
    return fn


def _plain_function(name: str, entry: Public) -> Callable:
    """A function form defined as a function (``public_function``), with ``out=`` added unless it
    takes one itself."""
    fn = entry.fn
    if _takes_out(fn):
        return fn
    error_forms = None if entry.error_forms is None else entry.error_forms.named(name)

    @functools.wraps(fn)
    def with_out(*args, **kwargs):
        if kwargs and "out" in kwargs:
            return call_with_out(name, fn, args, kwargs)
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            if isinstance(e, TypeError) and error_forms is not None and error_forms.reword(e, args, kwargs):
                raise
            error = None if parser_error(e) else annotated_error(fn, name, args, kwargs, 1)
            if error is not None:
                raise error from None
            if isinstance(e, TypeError) and kwargs:
                as_keyword_error(e, name, kwargs)
            raise
    return with_out


def _member(name: str, value) -> None:
    if name in vars(Tensor):
        raise ValueError(f"Tensor.{name} is defined twice (by the handle or by two front ends)")
    setattr(Tensor, name, value)


def _as_method(fn: Callable, name: str) -> Callable:
    """Name ``fn`` as the method it becomes (Python's argument errors say ``Tensor.sum()``)."""
    for f in (fn, getattr(fn, "__wrapped__", None)):        # (and what ``torch_keywords`` wraps)
        if f is not None:
            f.__name__ = name
            f.__qualname__ = "Tensor." + name
    return fn


def install() -> dict:
    """Make the Tensor members from the registry; return ``{name: function}`` for ``tape``."""
    functions: dict = {}
    for entry in PUBLIC:
        if entry.methods:
            _as_method(entry.fn, entry.methods[0])
        for name in entry.methods:
            _member(name, entry.fn)
        for name in entry.properties:
            _member(name, property(entry.fn, doc=entry.fn.__doc__))
        for name in entry.functions:
            if name in functions:
                raise ValueError(f"tape.{name} is defined by two front ends")
            functions[name] = _plain_function(name, entry) if entry.plain else _function(name, entry)
    _member("grad_fn", property(grad_fn, doc=grad_fn.__doc__))
    _member("backward", _as_method(tensor_backward, "backward"))
    _member("__new__", staticmethod(tensor_new))
    _member("register_hook", _as_method(register_hook, "register_hook"))
    _member("register_post_accumulate_grad_hook",
            _as_method(register_post_accumulate_grad_hook, "register_post_accumulate_grad_hook"))
    _member("_use_count", _as_method(use_count, "_use_count"))
    _member("resize", _as_method(resize, "resize"))
    # (attributes with setters: the registry's properties are read-only)
    _member("volatile", volatile)
    _member("_grad_fn", private_grad_fn)
    _member("_backward_hooks", backward_hooks)
    mark_missing()
    return functions
