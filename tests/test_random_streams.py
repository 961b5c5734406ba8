"""PyTorch's CPU random streams: seeded alike, tape draws PyTorch's values bit for bit.

The fixed expectations were printed by PyTorch 2.13; the differential test draws the same
sequences from both libraries where torch is installed."""
import copy
import pickle

import numpy as np
import pytest

import tape


def _bits(t) -> list:
    return [float(v) for v in np.asarray(t.numpy()).ravel()]


def test_seeded_draws_are_pytorchs():
    tape.manual_seed(0)
    assert _bits(tape.randn(3)) == [1.5409960746765137, -0.293428897857666, -2.1787893772125244]
    assert _bits(tape.rand(3)) == [0.455627977848053, 0.6323062777519226, 0.3488934636116028]
    assert tape.randint(0, 10, (5,)).tolist() == [6, 6, 9, 8, 6]
    assert tape.randperm(10).tolist() == [6, 1, 4, 5, 0, 9, 3, 2, 8, 7]


def test_randn_blocks_of_sixteen_and_their_tail():
    # 20 values: one block of 16, then the last 16 drawn again over new uniforms
    tape.manual_seed(0)
    assert _bits(tape.randn(20)[14:]) == [0.946298360824585, -0.843676745891571, 0.9318265914916992,
                                          1.2590092420578003, 2.0049805641174316, 0.05373690277338028]
    tape.manual_seed(0)
    assert _bits(tape.randn(2, dtype=tape.float64)) == [1.5409961082440433, -0.2934289057609464]
    assert _bits(tape.randn(20, dtype=tape.float64)[-2:]) == [-0.7233897004977882, 0.08636989238234997]


def test_uniform_range_is_one_fused_multiply_add():
    tape.manual_seed(1)
    assert _bits(tape.empty(3, dtype=tape.float64).uniform_(-0.7, 2.3)) == [
        -0.5168401758411291, -0.026336480297048714, 0.0027575418345181513]


def test_a_cached_normal_sample_is_part_of_the_state():
    tape.manual_seed(5)
    tape.randn(1, dtype=tape.float64)         # draws a pair, keeps the second
    state = tape.get_rng_state()
    assert state.shape == (5056,) and state.dtype is tape.uint8
    second = tape.randn(1, dtype=tape.float64)
    tape.set_rng_state(state)
    assert tape.equal(tape.randn(1, dtype=tape.float64), second)
    tape.manual_seed(5)                      # seeding drops it
    assert tape.equal(tape.randn(2, dtype=tape.float64)[1:], second)


def test_seeds_and_generators():
    assert tape.Generator().initial_seed() == 67280421310721
    tape.manual_seed(2 ** 40 + 5)
    assert tape.initial_seed() == 2 ** 40 + 5
    a = tape.rand(4)
    tape.manual_seed(5)                      # (the twister takes the low 32 bits)
    assert tape.equal(tape.rand(4), a)
    tape.manual_seed(-1)
    assert tape.initial_seed() == 2 ** 64 - 1
    with pytest.raises(ValueError, match="Overflow when unpacking long long"):
        tape.manual_seed(2 ** 64)
    g = tape.Generator().manual_seed(3)
    c = g.clone_state()
    assert tape.equal(tape.randn(30, generator=g), tape.randn(30, generator=c))
    s = tape.seed()
    assert tape.initial_seed() == s


@pytest.mark.parametrize("copy_of", [copy.deepcopy, lambda g: pickle.loads(pickle.dumps(g))],
                         ids=["deepcopy", "pickle"])
def test_a_copied_generator_goes_on_with_the_stream_and_its_state(copy_of):
    g = tape.Generator().manual_seed(11)
    tape.rand(5, generator=g)
    c = copy_of(g)
    assert bool((c.get_state() == g.get_state()).all())
    assert tape.equal(tape.rand(7, generator=c), tape.rand(7, generator=g))
    state = c.get_state()
    assert bool((state == g.get_state()).all())
    first = tape.randn(20, generator=c)
    c.set_state(state)
    assert tape.equal(tape.randn(20, generator=c), first)


def test_invalid_states_are_refused():
    state = tape.get_rng_state()
    with pytest.raises(RuntimeError, match="Expected a CPUGeneratorImplState of size 5056 but found the input RNG "
                                           "state size to be 5048"):
        tape.set_rng_state(state[:5048].clone())
    bad = state.clone()
    bad[8:12] = 0                            # no draws left and none to make: not a twister's state
    with pytest.raises(RuntimeError, match="Invalid mt19937 state"):
        tape.set_rng_state(bad)


def test_a_view_is_filled_in_memory_order():
    tape.manual_seed(4)
    flat = tape.empty(12).uniform_()
    tape.manual_seed(4)
    t = tape.empty(4, 3).t().uniform_()      # a transposed view: its memory order is the base's
    assert tape.equal(t.t().reshape(-1), flat)


@pytest.mark.torch
def test_every_seeded_sampler_against_pytorch():
    torch = pytest.importorskip("torch")

    def same(f):
        outs = []
        for lib in (torch, tape):
            lib.manual_seed(7)
            r = f(lib)
            outs.append([np.asarray(x.numpy()) for x in (r if isinstance(r, tuple) else (r,))])
        for a, b in zip(*outs):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)

    for name in ("float32", "float64"):
        def dt(L):
            return getattr(L, name)
        same(lambda L: (L.rand(3, 5, dtype=dt(L)), L.rand(17, dtype=dt(L)), L.rand_like(L.zeros(2, 3, dtype=dt(L)))))
        same(lambda L: (L.randn(3, dtype=dt(L)), L.randn(40, dtype=dt(L)), L.randn(1, dtype=dt(L)),
                        L.randn_like(L.zeros(33, dtype=dt(L)))))
        same(lambda L: (L.empty(5, 7, dtype=dt(L)).normal_(2.0, 0.3), L.empty(3, dtype=dt(L)).normal_(-1, 4),
                        L.empty(6, 7, dtype=dt(L)).t().normal_(2.0, 0.3)))
        same(lambda L: (L.empty(50, dtype=dt(L)).uniform_(-3, 5), L.zeros(6, 7, dtype=dt(L)).t().uniform_(-2.0, 0.3)))
        same(lambda L: (L.normal(1.5, 2.0, size=(4, 5), dtype=dt(L)),
                        L.normal(L.arange(20, dtype=dt(L)), L.ones(20, dtype=dt(L)) * 0.5),
                        L.normal(L.arange(6, dtype=dt(L)), 0.25), L.normal(0.5, L.arange(1, 7, dtype=dt(L)))))
        same(lambda L: (L.bernoulli(L.full((30,), 0.4, dtype=dt(L))), L.bernoulli(L.zeros(10, dtype=dt(L)), 0.6),
                        L.zeros(30, dtype=dt(L)).bernoulli_(0.3),
                        L.zeros(30, dtype=dt(L)).bernoulli_(L.full((30,), 0.6, dtype=dt(L)))))
        same(lambda L: (L.zeros(30, dtype=dt(L)).geometric_(0.3), L.zeros(30, dtype=dt(L)).log_normal_(0.3, 0.5),
                        L.zeros(30, dtype=dt(L)).cauchy_(0.3, 0.5)))
        same(lambda L: (L.zeros(30, dtype=dt(L)).random_(), L.zeros(30, dtype=dt(L)).random_(3, 70),
                        L.zeros(5, dtype=dt(L)).random_(9)))
    for name in ("int64", "int32", "int16", "uint8", "bool"):
        def it(L):
            return getattr(L, name)
        same(lambda L: L.zeros(30, dtype=it(L)).random_())
        if name != "bool":
            same(lambda L: (L.randint(0, 100, (4, 5), dtype=it(L)), L.randint(7, (3,), dtype=it(L))))
    same(lambda L: (L.randint(-5, 2 ** 40, (10,)), L.randint_like(L.zeros(3, 3), 2, 9)))
    same(lambda L: (L.randperm(1), L.randperm(2), L.randperm(17), L.randperm(1000)))
    same(lambda L: L.multinomial(L.tensor([[0.1, 0.5, 0.4], [1.0, 2.0, 0.0]]), 6, replacement=True))
    same(lambda L: (L.rand(3), L.get_rng_state(), L.randn(5, dtype=L.float64), L.get_rng_state()))
    same(lambda L: L.randn(5, generator=L.Generator().manual_seed(11)))
    # a state saved by one library restores in the other
    tape.set_rng_state(tape.tensor(torch.get_rng_state().numpy()))
    np.testing.assert_array_equal(tape.rand(4).numpy(), torch.rand(4).numpy())
