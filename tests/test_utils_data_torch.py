"""``tape.utils.data`` and ``tape.random`` against PyTorch 2.13's: after the same ``manual_seed`` the same
shuffled orders, samples and splits, the same collated structures and dtypes, the same errors."""
from __future__ import annotations

import collections
import random
import warnings
from typing import NamedTuple

import numpy as np
import pytest

import tape
from tape.utils.data._utils.worker import _generate_state

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
from torch.utils.data._utils.worker import _generate_state as torch_generate_state  # noqa: E402
LIBS = (tape, torch)
FORK = "fork"       # (the start method of the worker tests below)


class Pair(NamedTuple):
    x: object
    label: object


def plain(obj):
    """A structure of tensors as comparable Python values: each tensor as (dtype name, shape, values)."""
    if isinstance(obj, (tape.Tensor, torch.Tensor)):
        return (str(obj.dtype), tuple(obj.shape), obj.tolist())
    if isinstance(obj, dict):
        return (type(obj).__name__, {k: plain(v) for k, v in obj.items()})
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [plain(v) for v in obj])
    return obj


def both(fn):
    """``fn(M)`` for tape and torch, as plain values."""
    return [plain(fn(M)) for M in LIBS]


def same(fn):
    a, b = both(fn)
    assert a == b


def raised(fn):
    """(type name, message) of what ``fn(M)`` raises, for tape and torch."""
    out = []
    for M in LIBS:
        with pytest.raises(Exception) as info:
            fn(M)
        out.append((type(info.value).__name__, str(info.value)))
    return out


# -- seeded orders --------------------------------------------------------------------------------
def test_shuffled_epochs_are_pytorch_s():
    def epochs(M, **kw):
        M.manual_seed(12)
        ds = M.utils.data.TensorDataset(M.arange(23.).reshape(23, 1), M.arange(23))
        loader = M.utils.data.DataLoader(ds, batch_size=5, shuffle=True, **kw)
        out = [[b for b in loader] for _ in range(3)]
        return out, M.rand(2)           # (and the default stream left where PyTorch's is)

    same(epochs)
    same(lambda M: epochs(M, drop_last=True))
    same(lambda M: epochs(M, generator=M.Generator().manual_seed(4)))


def test_unshuffled_loader_moves_the_stream_as_pytorch():
    def run(M):
        M.manual_seed(1)
        batches = list(M.utils.data.DataLoader(list(range(7)), batch_size=3))
        return batches, M.randn(3)

    same(run)


def test_random_sampler_draws_are_pytorch_s():
    def draws(M, **kw):
        M.manual_seed(5)
        s = M.utils.data.RandomSampler(range(9), **kw)
        return list(s), list(s)

    same(draws)
    same(lambda M: draws(M, replacement=True, num_samples=70))
    same(lambda M: draws(M, num_samples=20))
    same(lambda M: draws(M, num_samples=4, generator=M.Generator().manual_seed(2)))
    same(lambda M: draws(M, replacement=True, generator=M.Generator().manual_seed(2)))


def test_subset_and_weighted_samplers_are_pytorch_s():
    def draws(M):
        M.manual_seed(8)
        sub = M.utils.data.SubsetRandomSampler([3, 1, 4, 1, 5, 9])
        weighted = M.utils.data.WeightedRandomSampler([0.1, 0.9, 0.4, 0.7, 3.0, 0.6], 40)
        g = M.Generator().manual_seed(3)
        return list(sub), list(weighted), list(M.utils.data.WeightedRandomSampler([1, 2, 0, 4], 9, generator=g))

    same(draws)


def test_multinomial_without_replacement_or_one_sample_is_pytorch_s():
    # (PyTorch's draw there: the top keys weight / q, q ~ Exp(1), in the input's dtype; draws beyond the
    # positive weights order their zero keys as its topk does, which is not checked)
    w = np.array([[0.2, 0.0, 1.5, 0.7, 0.01, 3.0], [1.0, 2.0, 0.5, 0.0, 0.0, 0.25]])

    def draws(M):
        M.manual_seed(6)
        out = []
        for dt in (M.float32, M.float64):
            x = M.tensor(w, dtype=dt)
            out += [M.multinomial(x, 4), M.multinomial(x[0], 1, True), M.multinomial(x.t().contiguous().t(), 3),
                    M.multinomial(x[1], 1, generator=M.Generator().manual_seed(2))]
        return out, list(M.utils.data.WeightedRandomSampler(w[0].tolist(), 5, replacement=False)), M.rand(2)

    same(draws)


def test_distributed_sampler_shares_are_pytorch_s():
    def shares(M):
        out = []
        for n, replicas, kw in [(10, 3, {}), (10, 3, dict(drop_last=True)), (5, 4, dict(shuffle=False)),
                                (2, 5, dict(seed=7)), (12, 4, dict(drop_last=True, seed=3))]:
            samplers = [M.utils.data.DistributedSampler(range(n), num_replicas=replicas, rank=r, **kw)
                        for r in range(replicas)]
            out.append([(len(s), list(s)) for s in samplers])
            for s in samplers:
                s.set_epoch(2)
            out.append([list(s) for s in samplers])
        return out

    same(shares)
    a, b = raised(lambda M: M.utils.data.DistributedSampler(range(3), num_replicas=2, rank=2))
    assert a == b


def test_random_split_is_pytorch_s():
    def split(M, lengths, **kw):
        M.manual_seed(21)
        return [p.indices for p in M.utils.data.random_split(range(30), lengths, **kw)]

    same(lambda M: split(M, [10, 5, 15]))
    same(lambda M: split(M, [0.3, 0.3, 0.4]))
    same(lambda M: split(M, [0.33, 0.33, 0.34]))
    same(lambda M: split(M, [0.5, 0.5], generator=M.Generator().manual_seed(42)))
    for M in LIBS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            M.utils.data.random_split(range(3), [0.6, 0.2, 0.2])
        assert [str(w.message) for w in caught] == ["Length of split at index 2 is 0. This might result in an empty "
                                                    "dataset."]


# -- collation -----------------------------------------------------------------------------------
def test_default_collate_structures_and_dtypes():
    def batch(M):
        return [{"x": (M.tensor([1.0, 2.0]), 3, 0.5, True), "tag": "a", "p": Pair(np.float32(1), [np.int16(3), 4]),
                 "a": np.arange(2, dtype=np.int32), "o": collections.OrderedDict(k=np.array(1.0))},
                {"x": (M.tensor([5.0, 6.0]), 7, 1.5, False), "tag": "b", "p": Pair(np.float32(2), [np.int16(5), 6]),
                 "a": np.arange(2, dtype=np.int32), "o": collections.OrderedDict(k=np.array(2.0))}]

    same(lambda M: M.utils.data.default_collate(batch(M)))
    same(lambda M: M.utils.data.default_collate([np.int8(1), np.int32(2)]))
    same(lambda M: M.utils.data.default_collate([np.int32(1), np.float32(2)]))
    same(lambda M: M.utils.data.default_collate([np.bool_(True), np.bool_(False)]))
    same(lambda M: M.utils.data.default_collate([[1, 2.0], [3, 4.0]]))
    same(lambda M: M.utils.data.default_convert({"a": np.arange(3), "b": (np.float32(1), "s"), "c": [np.zeros(2)],
                                                 "p": Pair(np.int64(1), 2)}))


def test_collate_errors_are_pytorch_s():
    a, b = raised(lambda M: M.utils.data.default_collate([[1, 2], [3]]))
    assert a == b
    a, b = raised(lambda M: M.utils.data.default_collate([np.array(["x"])]))
    assert a == b
    (ta, ma), (tb, mb) = raised(lambda M: M.utils.data.default_collate([object()]))
    assert ta == tb and ma == mb


def test_loader_over_iterable_datasets_and_without_batching():
    def run(M):
        class Stream(M.utils.data.IterableDataset):
            def __iter__(self):
                return iter(range(7))

            def __len__(self):
                return 7

        D = M.utils.data
        return ([list(D.DataLoader(Stream(), batch_size=3, drop_last=d)) for d in (False, True)],
                [len(D.DataLoader(Stream(), batch_size=3, drop_last=d)) for d in (False, True)],
                list(D.DataLoader(Stream(), batch_size=None)), list(D.DataLoader([np.arange(2)], batch_size=None)),
                list(D.ChainDataset([Stream(), Stream()])), list(D.DataLoader(Stream())))

    same(run)


# -- errors ---------------------------------------------------------------------------------------
BAD = [
    lambda M: M.utils.data.TensorDataset(M.zeros(3), M.zeros(2)),
    lambda M: M.utils.data.ConcatDataset([]),
    lambda M: M.utils.data.ConcatDataset([range(3)])[-4],
    lambda M: M.utils.data.StackDataset(),
    lambda M: M.utils.data.StackDataset(range(2), range(3)),
    lambda M: M.utils.data.random_split(range(5), [2, 2]),
    lambda M: M.utils.data.random_split(range(5), [0.5, 1.5, -1.0]),
    lambda M: M.utils.data.RandomSampler(range(3), replacement=1),
    lambda M: M.utils.data.RandomSampler(range(3), num_samples=0),
    lambda M: M.utils.data.WeightedRandomSampler([1.0], 0),
    lambda M: M.utils.data.WeightedRandomSampler([1.0], 1, replacement=None),
    lambda M: M.utils.data.WeightedRandomSampler([[1.0]], 1),
    lambda M: M.utils.data.BatchSampler(range(3), 1.5, False),
    lambda M: M.utils.data.BatchSampler(range(3), 2, 1),
    lambda M: M.utils.data.DataLoader(range(3), shuffle=True, sampler=[0]),
    lambda M: M.utils.data.DataLoader(range(3), batch_sampler=[[0]], shuffle=True),
    lambda M: M.utils.data.DataLoader(range(3), batch_size=None, drop_last=True),
    lambda M: M.utils.data.DataLoader(range(3), num_workers=-1),
    lambda M: M.utils.data.DataLoader(range(3), timeout=-2),
    lambda M: M.utils.data.DataLoader(range(3), prefetch_factor=2),
    lambda M: M.utils.data.DataLoader(range(3), persistent_workers=True),
    lambda M: M.utils.data.DataLoader(range(3), multiprocessing_context="spawn"),
    lambda M: setattr(M.utils.data.DataLoader(range(3)), "sampler", None),
    lambda M: iter(M.utils.data.DataLoader(range(3), timeout=1)),
    lambda M: M.utils.data.Dataset()[0],
    lambda M: M.random.manual_seed(2 ** 64),
    lambda M: M.random.fork_rng(devices=[0]).__enter__(),
]


@pytest.mark.parametrize("k", range(len(BAD)))
def test_errors_are_pytorch_s(k):
    a, b = raised(BAD[k])
    assert a == b


def test_iterable_loader_errors_are_pytorch_s():
    for kw in (dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])):
        def make(M, kw=kw):
            class Stream(M.utils.data.IterableDataset):
                def __iter__(self):
                    return iter(())
            return M.utils.data.DataLoader(Stream(), **kw)

        a, b = raised(make)
        assert a == b


def test_pin_memory_warnings_are_pytorch_s():
    messages = []
    for M in LIBS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            list(M.utils.data.DataLoader(range(2), pin_memory=True, pin_memory_device="cpu"))
        messages.append([str(w.message) for w in caught])
    assert messages[0] == messages[1] and len(messages[0]) == 2


# -- tape.random ------------------------------------------------------------------------------------
def test_fork_rng_is_pytorch_s():
    def run(M):
        M.random.manual_seed(9)
        with M.random.fork_rng():
            a = M.rand(2)
        with M.random.fork_rng(enabled=False):
            b = M.rand(2)
        return a, b, M.rand(2), M.random.initial_seed(), M.random.get_rng_state()[:16]

    same(run)
    assert sorted(tape.random.__all__) == sorted(torch.random.__all__)


# -- worker processes (forked: the datasets are local classes, which other start methods cannot pickle) ------
def _draws_in_workers(M):
    class Draws(M.utils.data.Dataset):
        def __getitem__(self, i):
            info = M.utils.data.get_worker_info()
            return [i, info.id, info.seed, M.rand(2), float(np.random.rand()), random.random()]

        def __len__(self):
            return 6

    M.manual_seed(17)
    loader = M.utils.data.DataLoader(Draws(), batch_size=2, num_workers=2, multiprocessing_context=FORK)
    return list(loader), M.rand(1)


def test_workers_draw_pytorch_s_numbers():
    same(_draws_in_workers)


def test_worker_numpy_seeds_are_pytorch_s():
    for base, k in [(0, 0), (2 ** 63 - 1, 3), (123456789123, 1)]:
        assert _generate_state(base, k) == torch_generate_state(base, k)


def test_workers_split_an_iterable_dataset_as_pytorch():
    def run(M):
        class Split(M.utils.data.IterableDataset):
            def __iter__(self):
                info = M.utils.data.get_worker_info()
                return iter(range(3 + info.id * 2, 5 + info.id * 2))

        return list(M.utils.data.DataLoader(Split(), num_workers=2, multiprocessing_context=FORK)), \
            list(M.utils.data.DataLoader(Split(), num_workers=2, batch_size=3, multiprocessing_context=FORK))

    same(run)


def test_a_tutorial_training_loop_follows_pytorch_s():
    def train(M):
        M.manual_seed(0)
        x = M.randn(100, 3)
        y = x @ M.tensor([[1.0], [-2.0], [0.5]]) + 0.1 * M.randn(100, 1)
        train_set, val_set = M.utils.data.random_split(M.utils.data.TensorDataset(x, y), [0.8, 0.2])
        model = M.nn.Linear(3, 1)
        opt = M.optim.SGD(model.parameters(), lr=0.1)
        losses = []
        for _ in range(3):
            for xb, yb in M.utils.data.DataLoader(train_set, batch_size=16, shuffle=True):
                loss = M.nn.functional.mse_loss(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
        with M.no_grad():
            val = [M.nn.functional.mse_loss(model(xb), yb).item()
                   for xb, yb in M.utils.data.DataLoader(val_set, batch_size=len(val_set))]
        return losses, val, val_set.indices

    (ours, our_val, our_split), (theirs, their_val, their_split) = train(tape), train(torch)
    assert our_split == their_split and len(ours) == 15
    np.testing.assert_allclose(ours + our_val, theirs + their_val, rtol=1e-5)
