"""Grad mode: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode`` (thread-local).

As decorators they follow PyTorch: a generator function gets the mode inside each resumption only,
a decorated class warns and wraps its constructor."""
from __future__ import annotations

import functools
import inspect
import sys
import threading
import warnings
from typing import Any, Callable

from . import _tensor
from ._state import state


def is_grad_enabled() -> bool:
    """Return True if grad mode is currently enabled in this thread."""
    return state.grad


class _GradModeContext:
    """Base of the grad-mode context managers; also usable as decorators."""

    _mode = True

    def __enter__(self) -> None:
        self.prev = state.grad
        state.grad = self._mode

    def __exit__(self, *exc: Any) -> None:
        state.grad = self.prev

    def __call__(self, fn: Callable) -> Callable:
        if inspect.isclass(fn):
            warnings.warn("Decorating classes is deprecated and will be disabled in future versions. You should only "
                          "decorate functions or methods. To preserve the current behavior of class decoration, you "
                          "can directly decorate the `__init__` method and nothing else.", FutureWarning, stacklevel=2)
            cls = fn
            fn = lambda *args, **kwargs: cls(*args, **kwargs)      # noqa: E731
        elif inspect.isgeneratorfunction(fn):
            return _wrap_generator(self.clone, fn)
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = state.grad
            state.grad = mode
            try:
                return fn(*args, **kwargs)
            finally:
                state.grad = prev
        return wrapper

    def clone(self):
        return self.__class__()


def _wrap_generator(ctx_factory: Callable, func: Callable) -> Callable:
    """A generator function whose every resumption (``send``, ``throw``, ``close``) runs in the
    context ``ctx_factory()`` makes, while the caller's mode holds in between."""
    @functools.wraps(func)
    def generator_context(*args, **kwargs):
        gen = func(*args, **kwargs)
        try:
            with ctx_factory():
                response = gen.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with ctx_factory():
                        gen.close()
                    raise
                except BaseException:
                    with ctx_factory():
                        response = gen.throw(sys.exc_info()[1])
                else:
                    with ctx_factory():
                        response = gen.send(request)
        except StopIteration as e:
            return e.value
    return generator_context


class _NoParamContext(_GradModeContext):
    """A grad-mode context that may also decorate a function without being called first."""

    def __new__(cls, orig_func: Callable | None = None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamContext):
    r"""Context-manager that disables gradient calculation.

    Results computed inside it have ``requires_grad=False`` even when their
    inputs require grad.  Also works as a decorator.  Thread-local.
    """

    _mode = False


class enable_grad(_NoParamContext):
    r"""Context-manager that enables gradient calculation (inside ``no_grad``, for example)."""

    _mode = True


class set_grad_enabled(_GradModeContext):
    r"""Set gradient calculation on or off.

    Takes effect immediately when called as a function, and restores the
    previous mode on exit when used as a context manager or decorator.
    """

    def __init__(self, mode: bool) -> None:
        if type(mode) is not bool:
            raise TypeError(f"set_grad_enabled(): argument 'enabled' (position 1) must be bool, not "
                            f"{type(mode).__name__}")
        self.prev = state.grad
        self.mode = mode
        state.grad = mode

    @property
    def _mode(self) -> bool:        # (the mode the base class's decorator applies)
        return self.mode

    def __enter__(self) -> None:
        state.grad = self.mode

    def __exit__(self, *exc: Any) -> None:
        state.grad = self.prev

    def __call__(self, fn: Callable) -> Callable:
        state.grad = self.prev
        return super().__call__(fn)

    def clone(self):
        return self.__class__(self.mode)


class _Multithreading(threading.local):
    enabled = True


_multithreading = _Multithreading()


def is_multithreading_enabled() -> bool:
    """Return True if multithreaded backward is enabled in this thread (the default)."""
    return _multithreading.enabled


class _Setting(_GradModeContext):
    """A thread-local setting in PyTorch's manner: set when constructed (so also when called as a
    function), restored to its previous value on exit, and, as a decorator, in force during each
    call.  Subclasses give ``_get``/``_set`` and PyTorch's two quirks that differ between them."""

    _apply_on_enter = False         # __enter__ sets the mode again
    _reset_on_decorate = False      # decorating restores the previous value at once

    def __init__(self, mode: bool) -> None:
        self.prev = self._get()
        self.mode = mode
        self._set(bool(mode))

    def __enter__(self) -> None:
        if self._apply_on_enter:
            self._set(bool(self.mode))

    def __exit__(self, *exc: Any) -> None:
        self._set(self.prev)

    def __call__(self, fn: Callable) -> Callable:
        if self._reset_on_decorate:
            self._set(self.prev)
        if inspect.isgeneratorfunction(fn):
            return _wrap_generator(self.clone, fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)
        return wrapper

    def clone(self):
        return self.__class__(self.mode)


class set_multithreading_enabled(_Setting):
    r"""Context-manager that enables or disables multithreaded backward.

    PyTorch runs the backward of tensors on accelerator devices on worker threads, and with
    ``mode=False`` on the calling thread.  tape's backward always runs on the calling thread,
    so the setting changes only what :func:`is_multithreading_enabled` reports.  It takes
    effect immediately when called as a function, is thread-local, and restores the previous
    setting on exit when used as a context manager or decorator.
    """

    @staticmethod
    def _get() -> bool:
        return _multithreading.enabled

    @staticmethod
    def _set(mode: bool) -> None:
        _multithreading.enabled = mode


def is_view_replay_enabled() -> bool:
    """Whether views changed through their base are re-derived by replaying their own view op
    (``_force_original_view_tracking``) rather than as PyTorch's as_strided node."""
    return state.view_replay


class _force_original_view_tracking(_Setting):
    r"""Context-manager that sets whether or not to always enable view-replay in autograd.

    After an in-place change of a tensor, its views take new nodes: with ``mode=True`` each
    replays its own view op on the changed tensor (``SelectBackward0``, ``TBackward0`` ...), with
    ``mode=False`` PyTorch's ``AsStridedBackward0``.  Takes effect when called as a function, is
    thread-local, and restores the previous setting on exit as a context manager or decorator.
    """

    _apply_on_enter = True
    _reset_on_decorate = True

    @staticmethod
    def _get() -> bool:
        return state.view_replay

    @staticmethod
    def _set(mode: bool) -> None:
        state.view_replay = mode


def is_inference_mode_enabled() -> bool:
    """Return True if inference mode is currently enabled in this thread."""
    return state.inference


_inference_threads = [0]      # threads in inference mode: while none is, new tensors are not checked


def _set_inference(on: bool) -> None:
    if on != state.inference:
        _inference_threads[0] += 1 if on else -1
        # (a module global: the handle constructors read it for nothing while it is off)
        _tensor._inference_on = _inference_threads[0] > 0
    state.inference = on


class inference_mode(_GradModeContext):
    r"""Context-manager that enables or disables inference mode.

    Inside it, as under ``no_grad``, nothing is recorded, and every tensor made is an
    *inference tensor* (``Tensor.is_inference()``): outside inference mode it cannot be
    saved for backward by an op that records, changed in place, or made to require grad
    (PyTorch's errors); views of normal tensors stay normal.  ``mode=False`` turns it off
    (and grad mode on) inside an enclosing one.  Also a decorator, with or without arguments.
    """

    def __new__(cls, mode: bool = True):
        if isinstance(mode, bool):
            return super().__new__(cls)
        return cls()(mode)          # ``@inference_mode`` without parentheses

    def __init__(self, mode: bool = True) -> None:
        self.mode = mode

    def __enter__(self) -> None:
        self._prev = (state.grad, state.inference)
        _set_inference(self.mode)
        state.grad = not self.mode

    def __exit__(self, *exc: Any) -> None:
        state.grad = self._prev[0]
        _set_inference(self._prev[1])

    def __call__(self, fn: Callable) -> Callable:
        if inspect.isgeneratorfunction(fn):
            return _wrap_generator(self.clone, fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)
        return wrapper

    def clone(self) -> "inference_mode":
        return self.__class__(self.mode)
