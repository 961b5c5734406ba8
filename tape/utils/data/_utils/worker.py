"""DataLoader worker processes: the loop each runs (seeded, then fetching the batches the main
process asks for), ``get_worker_info`` (None in the main process) and the messages they exchange.

A worker seeds Python's ``random`` and tape's default generator with ``base_seed + id`` and numpy's
global generator with PyTorch's state for it (``_generate_state``): a dataset drawing random
numbers in a worker draws PyTorch's.
"""
from __future__ import annotations

import os
import queue
import random
import sys
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from ...._creation import manual_seed
from ...._runtime import set_num_threads
from .fetch import create_fetcher

__all__ = ["WorkerInfo", "get_worker_info"]

# Seconds between checks that the other side (a worker, the main process) is still alive.
MP_STATUS_CHECK_INTERVAL = 5.0


@dataclass(frozen=True)
class WorkerInfo:
    """Information about the current DataLoader worker process or thread.

    Attributes:
        id: The current worker id (0 to num_workers - 1)
        num_workers: Total number of workers
        seed: Random seed set for this worker
        dataset: Copy of the dataset object in this worker
        rng: Optional RNG state container. Defaults to None.
        worker_method: Optional worker method ("multiprocessing" or "thread"). Defaults to "multiprocessing".
    """

    id: int
    num_workers: int
    seed: int
    dataset: Any
    rng: Any = None
    worker_method: Optional[str] = "multiprocessing"


_worker_info: Optional[WorkerInfo] = None


def get_worker_info() -> Optional[WorkerInfo]:
    """Returns the information about the current DataLoader iterator worker process: an object
    with the attributes ``id`` (the worker id), ``num_workers``, ``seed`` (the random seed set for
    this worker, from the main process's generator and the worker id) and ``dataset`` (the copy of
    the dataset object in this process). When called in the main process, this returns ``None``.
    """
    return _worker_info


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    """A worker's answer when its copy of an iterable-style dataset is exhausted."""

    worker_id: int


@dataclass(frozen=True)
class _ResumeIteration:
    """Sent to persistent workers at a new pass (and echoed back): start the dataset again."""

    seed: Optional[int] = None


class KeyErrorMessage(str):
    """A KeyError's message shown as it is (Python shows a KeyError's argument as its repr)."""

    def __repr__(self) -> str:
        return self


class ExceptionWrapper:
    """Wraps an exception plus traceback to communicate across processes."""

    def __init__(self, exc_info=None, where: str = "in background") -> None:
        exc_info = exc_info or sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self) -> None:
        """Reraises the wrapped exception in the current thread."""
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            # (an exception type that cannot be made from a message alone)
            raise RuntimeError(msg) from None
        try:
            raise exception
        finally:
            # (the exception's traceback holds this frame: without the local, no reference cycle keeps
            # the DataLoader iterator below alive until a garbage collection, when its queues may be
            # finalized before it can tell its workers to stop)
            del exception


def _generate_state(base_seed: int, worker_id: int) -> list:
    """The numpy seed of a worker: PyTorch's hash of (worker id, base seed) into four 32-bit words
    (numpy's SeedSequence mixing, written out so that it does not depend on numpy's version)."""
    mask = 0xFFFFFFFF
    shift = 16
    hash_a = 0x43B0D7E5

    def hashed(value: int) -> int:
        nonlocal hash_a
        value = (value ^ hash_a) & mask
        hash_a = (hash_a * 0x931E8875) & mask
        value = (value * hash_a) & mask
        return (value ^ (value >> shift)) & mask

    def mix(x: int, y: int) -> int:
        r = ((0xCA01F9DD * x) - (0x4973F715 * y)) & mask
        return (r ^ (r >> shift)) & mask

    pool = [hashed(v) for v in (worker_id, base_seed & mask, base_seed >> 32, 0)]
    for src in range(4):
        for dst in range(4):
            if src != dst:
                pool[dst] = mix(pool[dst], hashed(pool[src]))
    hash_b = 0x8B51F9DD
    state = []
    for value in pool:
        value = (value ^ hash_b) & mask
        hash_b = (hash_b * 0x58F38DED) & mask
        value = (value * hash_b) & mask
        state.append((value ^ (value >> shift)) & mask)
    return state


def _worker_loop(iterable: bool, dataset: Any, index_queue, data_queue, done_event, auto_collation: bool,
                 collate_fn: Callable, drop_last: bool, base_seed: int, init_fn: Optional[Callable[[int], None]],
                 worker_id: int, num_workers: int) -> None:
    """A worker process: fetch the batch of each ``(idx, index)`` read from ``index_queue`` and put
    ``(idx, data)`` on ``data_queue`` (an exception wrapped, or the end of an iterable dataset), until
    told to stop (None) or the main process is gone."""
    global _worker_info
    try:
        set_num_threads(1)
        seed = base_seed + worker_id
        random.seed(seed)
        manual_seed(seed)
        np.random.seed(_generate_state(base_seed, worker_id))
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        init_exception = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = create_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_exception = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        iteration_end = False
        parent = os.getppid()
        while os.getppid() == parent:
            try:
                r = index_queue.get(timeout=MP_STATUS_CHECK_INTERVAL)
            except queue.Empty:
                continue
            if isinstance(r, _ResumeIteration):
                data_queue.put((r, None))
                iteration_end = False
                fetcher = create_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
                continue
            if r is None:
                break
            if done_event.is_set() or iteration_end:
                continue
            idx, index = r
            if init_exception is not None:
                data, init_exception = init_exception, None
            else:
                try:
                    data = fetcher.fetch(index)
                except Exception as e:
                    if isinstance(e, StopIteration) and iterable:
                        data = _IterableDatasetStopIteration(worker_id)
                        iteration_end = True
                    else:
                        data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
            data_queue.put((idx, data))
            del data, idx, index, r
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        data_queue.cancel_join_thread()
        data_queue.close()
