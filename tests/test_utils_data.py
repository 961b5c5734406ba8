"""``tape.utils.data`` (datasets, samplers, collation, ``DataLoader``) and ``tape.random``: behaviour,
PyTorch's errors and warnings, and seeded reproducibility, without torch."""
from __future__ import annotations

import collections
import time
import warnings
from typing import NamedTuple

import numpy as np
import pytest

import tape
from tape.utils.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset, DistributedSampler,
                             IterableDataset, RandomSampler, Sampler, SequentialSampler, StackDataset, Subset,
                             SubsetRandomSampler, TensorDataset, WeightedRandomSampler, default_collate,
                             default_convert, get_worker_info, random_split)
from tape.utils.data._utils.collate import collate, default_collate_fn_map


class Stream(IterableDataset):
    def __init__(self, n: int, length: int | None = None) -> None:
        self.n, self.length = n, length

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self) -> int:
        return self.n if self.length is None else self.length


class Squares(Dataset):
    def __init__(self, n: int) -> None:
        self.n = n

    def __getitem__(self, i: int) -> int:
        return i * i

    def __len__(self) -> int:
        return self.n


class Pair(NamedTuple):
    x: object
    label: object


# -- datasets ---------------------------------------------------------------------------------
def test_tensor_dataset_indexes_along_the_first_dimension():
    x, y = tape.arange(12.).reshape(4, 3), tape.arange(4)
    ds = TensorDataset(x, y)
    assert len(ds) == 4
    a, b = ds[2]
    assert a.tolist() == [6., 7., 8.] and b.item() == 2
    assert ds[1:3][0].shape == (2, 3)
    with pytest.raises(AssertionError, match="^Size mismatch between tensors$"):
        TensorDataset(x, tape.arange(3))


def test_concat_dataset_and_dataset_addition():
    ds = Squares(3) + Squares(2)
    assert isinstance(ds, ConcatDataset) and ds.cumulative_sizes == [3, 5] and len(ds) == 5
    assert [ds[i] for i in range(5)] == [0, 1, 4, 0, 1]
    assert ds[-1] == 1 and ds[-5] == 0
    with pytest.raises(ValueError, match="^absolute value of index should not exceed dataset length$"):
        ds[-6]
    with pytest.raises(IndexError):
        ds[5]
    with pytest.warns(FutureWarning, match="`cummulative_sizes` attribute is renamed to `cumulative_sizes`"):
        assert ds.cummulative_sizes == [3, 5]
    with pytest.raises(AssertionError, match="^datasets should not be an empty iterable$"):
        ConcatDataset([])
    with pytest.raises(AssertionError, match="^ConcatDataset does not support IterableDataset$"):
        ConcatDataset([Squares(2), Stream(2)])


def test_chain_dataset():
    chain = Stream(2) + Stream(3)
    assert isinstance(chain, ChainDataset)
    assert list(chain) == [0, 1, 0, 1, 2] and len(chain) == 5
    bad = ChainDataset([Stream(1), Squares(2)])
    with pytest.raises(AssertionError, match="^ChainDataset only supports IterableDataset$"):
        list(bad)
    with pytest.raises(AssertionError, match="^ChainDataset only supports IterableDataset$"):
        len(bad)


def test_stack_dataset_as_tuples_and_dicts():
    a, b = Squares(3), TensorDataset(tape.arange(3))
    st = StackDataset(a, b)
    assert len(st) == 3 and st[2][0] == 4 and st[2][1][0].item() == 2
    sd = StackDataset(sq=a, t=b)
    assert sd[1]["sq"] == 1 and sd[1]["t"][0].item() == 1
    assert [s[0] for s in st.__getitems__([2, 0])] == [4, 0]
    assert [s["sq"] for s in sd.__getitems__([1, 2])] == [1, 4]
    with pytest.raises(ValueError, match="both types are given"):
        StackDataset(a, t=b)
    with pytest.raises(ValueError, match="^At least one dataset should be passed$"):
        StackDataset()
    with pytest.raises(ValueError, match="^Size mismatch between datasets$"):
        StackDataset(a, Squares(2))

    class Short(Squares):
        def __getitems__(self, indices):
            return [0]

    with pytest.raises(ValueError, match="^Nested dataset's output size mismatch. Expected 2, got 1$"):
        StackDataset(Short(3)).__getitems__([0, 1])


def test_subset_and_its_getitems():
    sub = Subset(Squares(10), [9, 2, 5])
    assert len(sub) == 3 and sub[0] == 81 and sub.__getitems__([2, 1]) == [25, 4]

    class Batched(Squares):
        def __getitems__(self, indices):
            return [("batched", i) for i in indices]

    assert Subset(Batched(10), [9, 2]).__getitems__([1]) == [("batched", 2)]

    class Plus(Subset):
        def __getitem__(self, idx):
            return super().__getitem__(idx) + 1

    with pytest.raises(NotImplementedError, match="Plus overrides __getitem__ but not __getitems__"):
        Plus(Squares(3), [0])


def test_abstract_bases_raise_pytorch_s_errors():
    with pytest.raises(NotImplementedError, match="^Subclasses of Dataset should implement __getitem__.$"):
        Dataset()[0]
    with pytest.raises(NotImplementedError):
        iter(Sampler())


# -- random_split -------------------------------------------------------------------------------
def test_random_split_lengths_cover_the_dataset_once():
    parts = random_split(range(10), [3, 7], generator=tape.Generator().manual_seed(1))
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))
    again = random_split(range(10), [3, 7], generator=tape.Generator().manual_seed(1))
    assert again[0].indices == parts[0].indices
    assert parts[0].indices + parts[1].indices == tape.randperm(10, generator=tape.Generator().manual_seed(1)).tolist()


def test_random_split_fractions_round_as_pytorch():
    # floor(10 * f) = 3, 3, 3; the remainder goes round-robin from the first split
    assert [len(p) for p in random_split(range(10), [0.33, 0.33, 0.34])] == [4, 3, 3]
    assert [len(p) for p in random_split(range(7), [0.5, 0.5])] == [4, 3]
    # floor(3 * f) = 1, 0, 0: two left over
    with pytest.warns(UserWarning, match="^Length of split at index 2 is 0. This might result in an empty dataset.$"):
        assert [len(p) for p in random_split(range(3), [0.6, 0.2, 0.2])] == [2, 1, 0]


def test_random_split_uses_the_default_generator():
    tape.manual_seed(5)
    a = random_split(range(8), [4, 4])[0].indices
    tape.manual_seed(5)
    assert random_split(range(8), [0.5, 0.5])[0].indices == a


def test_random_split_errors():
    with pytest.raises(ValueError, match="^Sum of input lengths does not equal the length of the input dataset!$"):
        random_split(range(5), [2, 2])
    with pytest.raises(ValueError, match="^Fraction at index 1 is not between 0 and 1$"):
        random_split(range(5), [0.5, 1.5, -1.0])
    with pytest.raises(ValueError, match="^Sum of input lengths"):
        random_split(range(5), [0.5, 0.4])


# -- samplers ---------------------------------------------------------------------------------
def test_sequential_and_random_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3] and len(SequentialSampler(range(4))) == 4
    tape.manual_seed(0)
    a = list(RandomSampler(range(20)))
    tape.manual_seed(0)
    sampler = RandomSampler(range(20))
    assert list(sampler) == a and sorted(a) == list(range(20))
    assert list(sampler) != a               # (each pass draws a new seed from the default generator)
    g = tape.Generator().manual_seed(3)
    s = RandomSampler(range(5), num_samples=12, generator=g)
    drawn = list(s)
    assert len(s) == 12 and len(drawn) == 12 and sorted(drawn[:5]) == list(range(5))
    r = RandomSampler(range(3), replacement=True, num_samples=70)
    assert len(list(r)) == 70 and set(r) <= {0, 1, 2}


def test_random_sampler_errors():
    with pytest.raises(TypeError, match="^replacement should be a boolean value, but got replacement=1$"):
        RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match="^num_samples should be a positive integer value, but got num_samples=0$"):
        RandomSampler(range(0))
    with pytest.raises(ValueError, match="num_samples=2.0$"):
        RandomSampler(range(3), num_samples=2.0)


def test_subset_and_weighted_samplers():
    g = tape.Generator().manual_seed(4)
    s = SubsetRandomSampler([10, 20, 30], generator=g)
    assert sorted(s) == [10, 20, 30] and len(s) == 3
    w = WeightedRandomSampler([0.0, 1.0, 3.0], 50, generator=g)
    drawn = list(w)
    assert len(w) == 50 and len(drawn) == 50 and 0 not in drawn and {1, 2} <= set(drawn)
    assert w.weights.dtype == tape.float64
    assert sorted(WeightedRandomSampler([1.0, 2.0, 3.0], 3, replacement=False)) == [0, 1, 2]
    for seed in range(5):       # (without replacement: distinct, zero weights only once the others are drawn)
        tape.manual_seed(seed)
        assert sorted(WeightedRandomSampler([0.0, 1.0, 0.0, 2.0, 0.5], 3, replacement=False)) == [1, 3, 4]
        assert list(WeightedRandomSampler([0.0, 1.0, 0.0], 1)) == [1]
    with pytest.raises(ValueError, match="^num_samples should be a positive integer value, but got num_samples=True$"):
        WeightedRandomSampler([1.0], True)
    with pytest.raises(ValueError, match="^replacement should be a boolean value, but got replacement=0$"):
        WeightedRandomSampler([1.0], 1, replacement=0)
    with pytest.raises(ValueError, match=r"^weights should be a 1d sequence but given weights have shape \(1, 2\)$"):
        WeightedRandomSampler([[1.0, 2.0]], 1)


def test_distributed_sampler():
    shares = [list(DistributedSampler(range(10), num_replicas=3, rank=r, shuffle=False)) for r in range(3)]
    assert shares == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]      # (padded from the start)
    dropped = [DistributedSampler(range(10), 3, r, shuffle=False, drop_last=True) for r in range(3)]
    assert [list(s) for s in dropped] == [[0, 3, 6], [1, 4, 7], [2, 5, 8]] and len(dropped[0]) == 3
    s = DistributedSampler(range(8), 2, 1, seed=4)
    first = list(s)
    assert list(s) == first and len(first) == 4
    s.set_epoch(1)
    assert list(s) != first
    s.set_epoch(0)
    assert list(s) == first
    with pytest.raises(RuntimeError, match="^Requires distributed package to be available$"):
        DistributedSampler(range(3))
    with pytest.raises(ValueError, match=r"^Invalid rank 3, rank should be in the interval \[0, 1\]$"):
        DistributedSampler(range(3), 2, 3)


def test_batch_sampler():
    assert list(BatchSampler(SequentialSampler(range(10)), 3, False)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert list(BatchSampler(range(10), 3, True)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert len(BatchSampler(range(10), 3, False)) == 4 and len(BatchSampler(range(10), 3, True)) == 3
    with pytest.raises(ValueError, match="^batch_size should be a positive integer value, but got batch_size=0$"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="^drop_last should be a boolean value, but got drop_last=None$"):
        BatchSampler(range(3), 2, None)


# -- collation --------------------------------------------------------------------------------
def test_default_collate_numbers_and_tensors():
    assert default_collate([1, 2]).dtype == tape.int64
    assert default_collate([1.5, 2.0]).dtype == tape.float64
    assert default_collate([True, False]).dtype == tape.bool
    out = default_collate([tape.ones(2, 3), tape.zeros(2, 3)])
    assert out.shape == (2, 2, 3) and out.dtype == tape.float32
    assert default_collate(["a", "b"]) == ["a", "b"] and default_collate([b"a", b"b"]) == [b"a", b"b"]


def test_default_collate_numpy():
    out = default_collate([np.arange(3, dtype=np.int32), np.arange(3, dtype=np.int32)])
    assert out.shape == (2, 3) and out.dtype == tape.int32
    assert default_collate([np.float32(1), np.float32(2)]).dtype == tape.float32
    assert default_collate([np.int16(1), np.int32(2)]).dtype == tape.int32
    assert default_collate([np.int32(1), np.float32(2)]).dtype == tape.float32
    with pytest.raises(TypeError, match="^default_collate: batch must contain tensors, numpy arrays, numbers, "
                                        "dicts or lists; found <U1$"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_collate_nested_structures():
    batch = [{"x": (tape.tensor([1.0]), 2), "tag": "a", "p": Pair(1.0, [3, 4])},
             {"x": (tape.tensor([5.0]), 6), "tag": "b", "p": Pair(2.0, [7, 8])}]
    out = default_collate(batch)
    assert isinstance(out["x"], list) and out["x"][0].tolist() == [[1.0], [5.0]] and out["x"][1].tolist() == [2, 6]
    assert out["tag"] == ["a", "b"]
    assert isinstance(out["p"], Pair) and out["p"].x.dtype == tape.float64
    assert [t.tolist() for t in out["p"].label] == [[3, 7], [4, 8]]
    ordered = default_collate([collections.OrderedDict(a=1), collections.OrderedDict(a=2)])
    assert type(ordered) is collections.OrderedDict and ordered["a"].tolist() == [1, 2]
    with pytest.raises(RuntimeError, match="^each element in list of batch should be of equal size$"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="^default_collate: batch must contain tensors, numpy arrays, numbers, "
                                        "dicts or lists; found <class 'object'>$"):
        default_collate([object()])


def test_collate_with_a_custom_map():
    custom = {**default_collate_fn_map, float: lambda batch, *, collate_fn_map: sum(batch)}
    assert collate([(1.0, 2), (3.0, 4)], collate_fn_map=custom)[0] == 4.0


def test_default_convert():
    out = default_convert({"a": np.array([1.0, 2.0]), "b": (np.int64(3), "s"), "c": [np.zeros(1)], "d": 1})
    assert isinstance(out["a"], tape.Tensor) and out["a"].dtype == tape.float64
    assert isinstance(out["b"], list) and out["b"][0].item() == 3 and out["b"][1] == "s"
    assert isinstance(out["c"][0], tape.Tensor) and out["d"] == 1
    strings = np.array(["a"])
    assert default_convert(strings) is strings
    p = default_convert(Pair(np.float32(1), 2))
    assert isinstance(p, Pair) and p.x.dtype == tape.float32


# -- DataLoader -------------------------------------------------------------------------------
def test_loader_batches_in_order_and_len():
    ds = TensorDataset(tape.arange(10.).reshape(5, 2), tape.arange(5))
    loader = DataLoader(ds, batch_size=2)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert batches[0][0].tolist() == [[0., 1.], [2., 3.]] and batches[2][1].tolist() == [4]
    assert [len(b[1]) for b in DataLoader(ds, batch_size=2, drop_last=True)] == [2, 2]
    assert len(DataLoader(ds, batch_size=2, drop_last=True)) == 2
    assert [b[1].tolist() for b in loader] == [b[1].tolist() for b in batches]     # (a second pass)


def test_loader_shuffles_reproducibly_and_each_epoch_anew():
    ds = TensorDataset(tape.arange(20))

    def epoch(loader):
        return [i for (b,) in loader for i in b.tolist()]

    tape.manual_seed(7)
    loader = DataLoader(ds, batch_size=4, shuffle=True)
    first, second = epoch(loader), epoch(loader)
    assert sorted(first) == list(range(20)) and first != second
    tape.manual_seed(7)
    assert epoch(DataLoader(ds, batch_size=4, shuffle=True)) == first
    g = tape.Generator().manual_seed(1)
    a = epoch(DataLoader(ds, batch_size=4, shuffle=True, generator=g))
    g.manual_seed(1)
    assert epoch(DataLoader(ds, batch_size=4, shuffle=True, generator=g)) == a


def test_loader_samplers_and_collate_fn():
    ds = Squares(6)
    assert [b.tolist() for b in DataLoader(ds, batch_size=2, sampler=[5, 0, 3])] == [[25, 0], [9]]
    assert [b.tolist() for b in DataLoader(ds, batch_sampler=[[1, 2], [4]])] == [[1, 4], [16]]
    assert len(DataLoader(ds, batch_sampler=[[1, 2], [4]])) == 2
    assert list(DataLoader(ds, batch_size=4, collate_fn=sum)) == [14, 41]
    unbatched = list(DataLoader(ds, batch_size=None))
    assert unbatched == [0, 1, 4, 9, 16, 25]           # (default_convert: numbers stay numbers)
    arrays = list(DataLoader([np.arange(2)], batch_size=None))
    assert isinstance(arrays[0], tape.Tensor) and arrays[0].shape == (2,)


def test_loader_over_an_iterable_dataset():
    loader = DataLoader(Stream(7), batch_size=3)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]] and len(loader) == 3
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    assert len(DataLoader(Stream(7), batch_size=3, drop_last=True)) == 2
    assert [b.tolist() for b in DataLoader(Stream(2))] == [[0], [1]]
    assert list(DataLoader(Stream(2), batch_size=None)) == [0, 1]
    short = DataLoader(Stream(3, length=2), batch_size=None)
    assert len(short) == 2
    with pytest.warns(UserWarning, match=r"was reported to be 2\(when accessing len\(dataloader\)\), but 3 samples"):
        assert list(short) == [0, 1, 2]


def test_loader_argument_errors():
    ds = Squares(4)
    cases = [
        (dict(shuffle=True, sampler=[0]), "^sampler option is mutually exclusive with shuffle$"),
        (dict(batch_sampler=[[0]], batch_size=2), "^batch_sampler option is mutually exclusive with batch_size, "
                                                  "shuffle, sampler, and drop_last$"),
        (dict(batch_sampler=[[0]], drop_last=True), "^batch_sampler option is mutually exclusive"),
        (dict(batch_size=None, drop_last=True), "^batch_size=None option disables auto-batching and is mutually "
                                                "exclusive with drop_last$"),
        (dict(num_workers=-1), "^num_workers option should be non-negative; use num_workers=0 to disable "
                               "multiprocessing.$"),
        (dict(num_workers=1, prefetch_factor=-1), "^prefetch_factor option should be non-negative$"),
        (dict(num_workers=1, multiprocessing_context="nope"), "^multiprocessing_context option should specify a "
                                                              "valid start method in "),
        (dict(timeout=-1), "^timeout option should be non-negative$"),
        (dict(prefetch_factor=2), "^prefetch_factor option could only be specified in multiprocessing."),
        (dict(persistent_workers=True), "^persistent_workers option needs num_workers > 0$"),
        (dict(multiprocessing_context="fork"), r"^multiprocessing_context can only be used with multi-process "
                                               r"loading \(num_workers > 0\), but got num_workers=0$"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            DataLoader(ds, **kwargs)
    for kwargs, message in [(dict(shuffle=True), "expected unspecified shuffle option, but got shuffle=True"),
                            (dict(sampler=[0]), r"expected unspecified sampler option, but got sampler=\[0\]"),
                            (dict(batch_sampler=[[0]]), "expected unspecified batch_sampler option")]:
        with pytest.raises(ValueError, match="^DataLoader with IterableDataset: " + message):
            DataLoader(Stream(2), **kwargs)
    loader = DataLoader(ds)
    with pytest.raises(ValueError, match="^batch_size attribute should not be set after DataLoader is initialized$"):
        loader.batch_size = 3
    loader.collate_fn = sum             # (not fixed)
    with pytest.raises(AssertionError, match="^_SingleProcessDataLoaderIter requires timeout == 0$"):
        iter(DataLoader(ds, timeout=1))


def test_loader_pin_memory_warns_without_an_accelerator():
    with pytest.warns(UserWarning, match="'pin_memory' argument is set as true but no accelerator is found"):
        batches = list(DataLoader(Squares(2), pin_memory=True))
    assert [b.tolist() for b in batches] == [[0], [1]]
    with pytest.warns(UserWarning) as caught:
        list(DataLoader(Squares(1), pin_memory=True, pin_memory_device="cuda"))
    assert [str(w.message)[:31] for w in caught] == ["pin_memory_device is deprecated",
                                                     "'pin_memory' argument is set as"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        list(DataLoader(Squares(1), pin_memory_device="cuda"))


def test_loader_draws_a_base_seed_per_pass():
    # (PyTorch's loader draws one 64-bit number per pass, even with no shuffle: the stream moves on)
    tape.manual_seed(2)
    list(DataLoader(Squares(3)))
    after = tape.rand(1)
    tape.manual_seed(2)
    tape.empty((), dtype=tape.int64).random_()
    assert tape.equal(tape.rand(1), after)


# -- worker processes -------------------------------------------------------------------------------
class Split(IterableDataset):
    """PyTorch's example: each worker takes its share of range(start, end)."""

    def __init__(self, start: int, end: int, split: bool = True) -> None:
        self.start, self.end, self.split = start, end, split

    def __iter__(self):
        info = get_worker_info()
        if info is None or not self.split:
            return iter(range(self.start, self.end))
        per = -(-(self.end - self.start) // info.num_workers)
        lo = self.start + info.id * per
        return iter(range(lo, min(lo + per, self.end)))


class WhoAmI(Dataset):
    """Each sample: the index, the worker's id and seed, a tape draw, the count of samples this copy
    of the dataset gave, and what ``worker_init_fn`` left."""

    def __init__(self, n: int) -> None:
        self.n, self.given, self.init = n, 0, None

    def __getitem__(self, i: int):
        info = get_worker_info()
        self.given += 1
        return i, info.id, info.seed, info.num_workers, self.given, self.init, tape.rand(()).item()

    def __len__(self) -> int:
        return self.n


def _set_init(worker_id: int) -> None:
    get_worker_info().dataset.init = ("init", worker_id)


def test_workers_load_batches_in_the_sampler_s_order():
    ds = TensorDataset(tape.arange(20.), tape.arange(20))
    tape.manual_seed(3)
    alone = [b[1].tolist() for b in DataLoader(ds, batch_size=3, shuffle=True)]
    tape.manual_seed(3)
    loader = DataLoader(ds, batch_size=3, shuffle=True, num_workers=2, prefetch_factor=1)
    batches = list(loader)
    assert [b[1].tolist() for b in batches] == alone and batches[0][0].dtype == tape.float32
    assert len(loader) == 7
    unordered = [b[1].tolist() for b in DataLoader(ds, batch_size=3, num_workers=2, in_order=False)]
    assert sorted(i for b in unordered for i in b) == list(range(20))


def test_workers_split_an_iterable_dataset_by_their_info():
    assert [b.tolist() for b in DataLoader(Split(3, 7), num_workers=2)] == [[3], [5], [4], [6]]
    assert list(DataLoader(Split(3, 7, split=False), num_workers=2, batch_size=None)) == [3, 3, 4, 4, 5, 5, 6, 6]
    assert [b.tolist() for b in DataLoader(Split(0, 7), num_workers=2, batch_size=2, drop_last=True)] == \
        [[0, 1], [4, 5], [2, 3]]


def test_workers_are_seeded_and_initialised():
    tape.manual_seed(0)
    loader = DataLoader(WhoAmI(4), batch_size=None, num_workers=2, worker_init_fn=_set_init)
    samples = list(loader)
    base = samples[0][2]
    # (default_convert: tuples come back as lists)
    assert [s[:6] for s in samples] == [[0, 0, base, 2, 1, ["init", 0]], [1, 1, base + 1, 2, 1, ["init", 1]],
                                        [2, 0, base, 2, 2, ["init", 0]], [3, 1, base + 1, 2, 2, ["init", 1]]]
    tape.manual_seed(base)
    assert [samples[0][6], samples[2][6]] == [tape.rand(()).item(), tape.rand(()).item()]
    tape.manual_seed(0)
    assert tape.empty((), dtype=tape.int64).random_().item() == base     # (the pass's base seed)


def test_persistent_workers_keep_their_dataset_copies():
    loader = DataLoader(WhoAmI(2), batch_size=None, num_workers=1, persistent_workers=True)
    first, second = list(loader), list(loader)
    assert [s[4] for s in first] == [1, 2] and [s[4] for s in second] == [3, 4]
    assert first[0][2] == second[0][2]          # (seeded once, when the workers started)
    assert [s[4] for s in DataLoader(WhoAmI(2), batch_size=None, num_workers=1)] == [1, 2]


class Failing(Dataset):
    def __getitem__(self, i):
        if i == 3:
            raise KeyError("boom")
        return i

    def __len__(self) -> int:
        return 6


class Slow(Dataset):
    def __getitem__(self, i):
        time.sleep(0.5)
        return i

    def __len__(self) -> int:
        return 1


def _bad_init(worker_id: int) -> None:
    raise ValueError("no")


def test_worker_errors_reach_the_main_process():
    with pytest.raises(KeyError, match="^Caught KeyError in DataLoader worker process 1.\nOriginal Traceback"):
        list(DataLoader(Failing(), batch_size=2, num_workers=2))
    with pytest.raises(RuntimeError, match=r"^DataLoader timed out after 0.1 seconds$"):
        list(DataLoader(Slow(), num_workers=1, timeout=0.1))

    with pytest.raises(ValueError, match="^Caught ValueError in DataLoader worker process 0.\n"):
        list(DataLoader(Squares(2), num_workers=1, worker_init_fn=_bad_init))
    with pytest.warns(UserWarning, match="^This DataLoader will create 4096 worker processes in total. Our suggested "
                                         "max number of worker in current system is"):
        DataLoader(Squares(2), num_workers=4096)
    with pytest.raises(TypeError, match="^multiprocessing_context option should be a valid context object or a "
                                        "string specifying the start method, but got multiprocessing_context=3$"):
        DataLoader(Squares(2), num_workers=1, multiprocessing_context=3)


def test_get_worker_info_is_none_in_the_main_process():
    seen = []

    class Asks(Squares):
        def __getitem__(self, i):
            seen.append(get_worker_info())
            return i

    list(DataLoader(Asks(2)))
    assert seen == [None, None] and tape.random.thread_safe_generator() is None


# -- tape.random --------------------------------------------------------------------------------
def test_random_module_is_pytorch_s():
    assert tape.random.manual_seed is tape.manual_seed and tape.random.seed is tape.seed
    assert tape.random.get_rng_state is tape.get_rng_state and tape.random.set_rng_state is tape.set_rng_state
    assert tape.random.initial_seed is tape.initial_seed and tape.random.default_generator is tape.default_generator
    assert tape.random.manual_seed(11) is tape.default_generator and tape.random.initial_seed() == 11
    with pytest.raises(ValueError, match="^Overflow when unpacking long long$"):
        tape.random.manual_seed(2 ** 64)


def test_fork_rng_restores_the_default_generator():
    tape.manual_seed(3)
    with tape.random.fork_rng():
        inside = tape.rand(3)
    assert tape.equal(tape.rand(3), inside)
    tape.manual_seed(3)
    with tape.random.fork_rng(enabled=False):
        tape.rand(3)
    assert not tape.equal(tape.rand(3), inside)
    tape.manual_seed(3)
    with pytest.raises(KeyError):
        with tape.random.fork_rng(devices=[]):
            tape.rand(2)
            raise KeyError
    assert tape.equal(tape.rand(3), inside)
    with tape.random.fork_rng(device_type="meta"):
        pass


def test_fork_rng_errors():
    with pytest.raises(AssertionError, match="^Torch not compiled with CUDA enabled$"):
        with tape.random.fork_rng(devices=[0]):
            pass
    with pytest.raises(RuntimeError, match="device type at start of device string: foo$"):
        with tape.random.fork_rng(device_type="foo"):
            pass
    with pytest.raises(RuntimeError, match="^torch has no module of `mps`, you should register a module by "
                                           "`torch._register_device_module`.$"):
        with tape.random.fork_rng(device_type="mps"):
            pass
