"""``DistributedSampler``: each of ``num_replicas`` processes takes its own share of a dataset.

tape has no ``distributed`` package, so the replica count and rank are given, never read from a
process group (PyTorch's error without one: "Requires distributed package to be available").
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Optional, TypeVar

from ..._creation import Generator
from ..._random import randperm
from .dataset import Dataset
from .sampler import Sampler

__all__ = ["DistributedSampler"]

T_co = TypeVar("T_co", covariant=True)


class DistributedSampler(Sampler[T_co]):
    """Sampler that restricts data loading to a subset of the dataset.

    Each process passes its instance as a DataLoader ``sampler`` and loads a subset of the original
    dataset that is exclusive to it. The dataset is assumed to be of constant size.

    Args:
        dataset: Dataset used for sampling.
        num_replicas (int): Number of processes participating in distributed training.
        rank (int): Rank of the current process within :attr:`num_replicas`.
        shuffle (bool, optional): If ``True`` (default), sampler will shuffle the indices.
        seed (int, optional): random seed used to shuffle the sampler if :attr:`shuffle=True`. This
            number should be identical across all processes. Default: ``0``.
        drop_last (bool, optional): if ``True``, then the sampler will drop the tail of the data to
            make it evenly divisible across the number of replicas. If ``False``, the sampler will add
            extra indices (repeated from the start) to make the data evenly divisible. Default: ``False``.

    Calling :meth:`set_epoch` at the beginning of each epoch, before creating the DataLoader
    iterator, makes each epoch's order a new one (the shuffle is seeded with ``seed + epoch``).
    """

    def __init__(self, dataset: Dataset, num_replicas: Optional[int] = None, rank: Optional[int] = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            raise RuntimeError("Requires distributed package to be available")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            # (the tail dropped, so that every replica gets the same number of samples)
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[T_co]:
        n = len(self.dataset)
        if self.shuffle:
            indices = randperm(n, generator=Generator().manual_seed(self.seed + self.epoch)).tolist()
        else:
            indices = list(range(n))
        if self.drop_last:
            indices = indices[:self.total_size]
        else:
            padding = self.total_size - len(indices)
            indices += (indices * math.ceil(padding / len(indices)))[:padding] if padding else []
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch for this sampler: with ``shuffle=True`` each epoch then has its own order
        (the same in every replica)."""
        self.epoch = epoch
