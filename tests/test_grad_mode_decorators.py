"""``no_grad``/``enable_grad``/``set_grad_enabled`` as decorators of generators and classes,
as PyTorch's: the mode holds inside each resumption of the generator, not in between."""
from __future__ import annotations

import asyncio
import warnings

import pytest

import tape


def _generators(lib):
    out = []

    @lib.no_grad()
    def gen():
        x = yield lib.is_grad_enabled()
        yield (x, lib.is_grad_enabled())
        return 5

    g = gen()
    out.append((next(g), lib.is_grad_enabled()))
    out.append((g.send("s"), lib.is_grad_enabled()))
    with pytest.raises(StopIteration) as stop:
        next(g)
    out.append(stop.value.value)

    @lib.enable_grad()
    def gen2():
        try:
            yield lib.is_grad_enabled()
        except ValueError:
            yield ("caught", lib.is_grad_enabled())
        finally:
            out.append(("finally", lib.is_grad_enabled()))

    with lib.no_grad():
        g = gen2()
        out.append(next(g))
        out.append(g.throw(ValueError))
        out.append(lib.is_grad_enabled())
        g.close()

    @lib.set_grad_enabled(False)
    def gen3():
        yield lib.is_grad_enabled()

    out.append((list(gen3()), lib.is_grad_enabled(), gen3.__name__))

    @lib.no_grad
    def gen4():
        yield lib.is_grad_enabled()

    out.append(list(gen4()))

    async def co():
        return lib.is_grad_enabled()

    out.append(asyncio.run(lib.no_grad()(co)()))     # a coroutine function is wrapped as a function
    return out


def _decorated_class(lib):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")

        @lib.no_grad()
        class C:
            def __init__(self):
                self.grad = lib.is_grad_enabled()

    return [w[0].category.__name__, str(w[0].message), C().grad, type(C).__name__, lib.is_grad_enabled()]


def test_generators():
    assert _generators(tape) == [(False, True), (("s", False), True), 5, True, ("caught", True), False,
                                 ("finally", True), ([False], True, "gen3"), [False], True]


def test_decorated_class():
    got = _decorated_class(tape)
    assert got[0] == "FutureWarning" and got[1].startswith("Decorating classes is deprecated")
    assert got[2:] == [False, "function", True]


def test_mode_is_restored_when_the_generator_raises():
    @tape.no_grad()
    def gen():
        yield 1
        raise KeyError("x")

    g = gen()
    next(g)
    with pytest.raises(KeyError):
        next(g)
    assert tape.is_grad_enabled()


@pytest.mark.torch
def test_vs_torch():
    torch = pytest.importorskip("torch")
    assert _generators(tape) == _generators(torch)
    assert _decorated_class(tape) == _decorated_class(torch)
