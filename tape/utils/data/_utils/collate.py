"""Turning fetched samples into a batch: ``default_collate`` (the DataLoader's default with
automatic batching) and ``default_convert`` (its default without).

``collate`` walks the first sample's structure (mappings, named tuples, sequences) and hands each
leaf type to the function ``collate_fn_map`` holds for it: tensors are stacked along a new first
dimension, numpy arrays and scalars become tensors, Python floats float64 tensors, ints int64
tensors (bools bool tensors), strings stay lists.
"""
from __future__ import annotations

import collections.abc
import copy
import functools
import re
from typing import Any, Callable, Optional, Union

import numpy as np

from ...._creation import as_tensor, tensor
from ...._dtype import float64, from_numpy_dtype, promote
from ...._tensor import Tensor
from ....ops.join import stack

__all__ = ["collate", "collate_float_fn", "collate_int_fn", "collate_numpy_array_fn", "collate_numpy_scalar_fn",
           "collate_str_fn", "collate_tensor_fn", "default_collate", "default_collate_err_msg_format",
           "default_collate_fn_map", "default_convert", "np_str_obj_array_pattern"]

# numpy dtypes of strings and objects (``dtype.str`` kinds), which are not turned into tensors
np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = ("default_collate: batch must contain tensors, numpy arrays, numbers, "
                                  "dicts or lists; found {}")

CollateMap = dict[Union[type, tuple], Callable]


def _rebuilt(like: Any, items: dict | list, mapping: bool) -> Any:
    """``items`` in a container of ``like``'s type: a copy of a mutable one updated in place, a new
    one otherwise, and a plain dict or list when the type cannot be built from them."""
    try:
        if mapping and isinstance(like, collections.abc.MutableMapping):
            clone = copy.copy(like)
            clone.update(items)
            return clone
        if not mapping and isinstance(like, collections.abc.MutableSequence):
            clone = copy.copy(like)
            for i, item in enumerate(items):
                clone[i] = item
            return clone
        return type(like)(items)
    except TypeError:
        return items


def default_convert(data: Any) -> Any:
    """Convert each numpy array or scalar in ``data`` to a tensor, keeping the structure around them
    (mappings, named tuples, sequences; a plain tuple becomes a list, as in PyTorch); numpy arrays of
    strings or objects, strings and other objects are left as they are.

    Examples:
        >>> default_convert(np.array([0, 1]))
        tensor([0, 1])
        >>> default_convert({"a": np.array(1.0)})
        {'a': tensor(1., dtype=torch.float64)}
    """
    kind = type(data)
    if isinstance(data, Tensor):
        return data
    if kind.__module__ == "numpy" and kind.__name__ not in ("str_", "string_"):
        if isinstance(data, np.ndarray) and np_str_obj_array_pattern.search(data.dtype.str) is not None:
            return data
        return as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _rebuilt(data, {key: default_convert(data[key]) for key in data}, True)
    if isinstance(data, tuple) and hasattr(data, "_fields"):      # a named tuple
        return kind(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuilt(data, [default_convert(d) for d in data], False)
    return data


def collate(batch: list, *, collate_fn_map: Optional[CollateMap] = None) -> Any:
    """Collate ``batch``, a list of samples of the same structure, into one batch of that structure.

    The first sample decides: a type in ``collate_fn_map`` (exactly, else the first entry it is an
    instance of) is collated by that entry's function; mappings are collated key by key, named tuples
    field by field, other sequences position by position (all samples of one length; a plain tuple
    gives a list). Anything else raises a TypeError.
    """
    elem = batch[0]
    kind = type(elem)
    if collate_fn_map is not None:
        if kind in collate_fn_map:
            return collate_fn_map[kind](batch, collate_fn_map=collate_fn_map)
        for collate_type, fn in collate_fn_map.items():
            if isinstance(elem, collate_type):
                return fn(batch, collate_fn_map=collate_fn_map)
    again = functools.partial(collate, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        return _rebuilt(elem, {key: again([d[key] for d in batch]) for key in elem}, True)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):      # a named tuple
        return kind(*(again(list(samples)) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [again(list(samples)) for samples in zip(*batch)]
        return columns if isinstance(elem, tuple) else _rebuilt(elem, columns, False)
    raise TypeError(default_collate_err_msg_format.format(kind))


def collate_tensor_fn(batch: list, *, collate_fn_map: Optional[CollateMap] = None) -> Tensor:
    """Tensors of one shape stacked along a new first dimension."""
    return stack(batch, 0)


def collate_numpy_array_fn(batch: list, *, collate_fn_map: Optional[CollateMap] = None) -> Any:
    """Numpy arrays as tensors, then collated (stacked); arrays of strings or objects raise."""
    elem = batch[0]
    if np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    return collate([as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch: list, *, collate_fn_map: Optional[CollateMap] = None) -> Tensor:
    """Numpy scalars as one 1-D tensor of their dtypes promoted as PyTorch promotes them."""
    dt = functools.reduce(promote, (from_numpy_dtype(np.asarray(b).dtype) for b in batch))
    return tensor(np.asarray(batch).astype(dt.np), dtype=dt)


def collate_float_fn(batch: list, *, collate_fn_map: Optional[CollateMap] = None) -> Tensor:
    """Python floats as a float64 tensor."""
    return tensor(batch, dtype=float64)


def collate_int_fn(batch: list, *, collate_fn_map: Optional[CollateMap] = None) -> Tensor:
    """Python ints as an int64 tensor (bools as a bool tensor)."""
    return tensor(batch)


def collate_str_fn(batch: list, *, collate_fn_map: Optional[CollateMap] = None) -> list:
    """Strings and bytes kept as the list they are."""
    return batch


default_collate_fn_map: CollateMap = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def default_collate(batch: list) -> Any:
    """Take in a batch of data and put the elements within the batch into a tensor with an additional
    outer dimension, the batch size: the DataLoader's ``collate_fn`` when batching automatically.

    The mapping from element type to batch:
        * ``Tensor`` -> ``Tensor`` (a new outer dimension of size batch size)
        * numpy array -> ``Tensor``; numpy scalar -> ``Tensor``
        * ``float`` -> float64 ``Tensor``; ``int`` -> int64 ``Tensor`` (``bool`` -> bool ``Tensor``)
        * ``str``, ``bytes`` -> the list of them
        * ``Mapping[K, V_i]`` -> ``Mapping[K, default_collate([V_1, V_2, ...])]``
        * ``NamedTuple[V1_i, V2_i, ...]`` -> ``NamedTuple[default_collate([V1_1, V1_2, ...]), ...]``
        * ``Sequence[V1_i, V2_i, ...]`` -> ``Sequence[default_collate([V1_1, V1_2, ...]), ...]``
          (a tuple gives a list)

    Examples:
        >>> default_collate([0, 1, 2, 3])
        tensor([0, 1, 2, 3])
        >>> default_collate([(1, "a"), (2, "b")])
        [tensor([1, 2]), ('a', 'b')]
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)
