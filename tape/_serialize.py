"""Copying and saving tensors: ``copy.deepcopy``, pickling, ``tape.save`` / ``tape.load``.

``tape.save`` writes numpy's ``.npz`` format: the tensors' arrays plus one JSON entry that
describes the saved object (nested dicts, lists and tuples of tensors, numbers, strings,
booleans and None).  ``tape.load`` reads it back without unpickling anything, so loading a
file runs no code from it (what PyTorch's ``weights_only=True`` promises).
"""
from __future__ import annotations

import json
import os
from typing import Any, BinaryIO, Union

import numpy as np

from . import _dtype as D
from ._device import check_device
from ._tensor import Tensor, _plain

_BY_NAME = {d.name: d for d in D.ALL}
# The Tensor subclasses that ``save`` and ``load`` keep (``nn.Parameter`` registers itself), by class name;
# each is made as ``cls(tensor, requires_grad)``.
SUBCLASSES: dict = {}
FileLike = Union[str, os.PathLike, BinaryIO]


def _leaf_copy(v: np.ndarray, dtype: D.dtype, requires_grad: bool) -> Tensor:
    t = _plain(np.array(v, copy=True), dtype)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _deepcopy(self: Tensor, memo: dict) -> Tensor:
    if not self.is_leaf:
        raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                           "protocol at the moment.  If you were attempting to deepcopy a module, this may be "
                           "because of a torch.nn.utils.weight_norm usage, see "
                           "https://github.com/pytorch/pytorch/pull/103001")
    if id(self) in memo:
        return memo[id(self)]
    t = _leaf_copy(self._value(), self._dtype, self.requires_grad)
    memo[id(self)] = t
    if self.grad is not None:
        t.grad = _deepcopy(self.grad, memo)
    return t


def _rebuild(v: np.ndarray, dtype_name: str, requires_grad: bool) -> Tensor:
    return _leaf_copy(v, _BY_NAME[dtype_name], requires_grad)


def _reduce_ex(self: Tensor, protocol: int):
    # As PyTorch: a pickled tensor comes back as a leaf (its graph and .grad are not pickled).
    return _rebuild, (np.array(self._value()), self._dtype.name, self.requires_grad)


Tensor.__deepcopy__ = _deepcopy          # type: ignore[attr-defined]
Tensor.__reduce_ex__ = _reduce_ex        # type: ignore[assignment]


# -- tape.save / tape.load ------------------------------------------------------------------------
def _describe(obj: Any, arrays: dict) -> Any:
    if isinstance(obj, Tensor):
        key = f"t{len(arrays)}"
        arrays[key] = np.array(obj._value())
        desc = {"tensor": key, "dtype": obj._dtype.name, "requires_grad": obj.requires_grad}
        if SUBCLASSES.get(type(obj).__name__) is type(obj):
            desc["class"] = type(obj).__name__
        return desc
    if isinstance(obj, dict):
        if not all(isinstance(k, (str, int)) for k in obj):
            raise TypeError("tape.save: dict keys must be str or int")
        return {"dict": [[k, _describe(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"list" if isinstance(obj, list) else "tuple": [_describe(v, arrays) for v in obj]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    raise TypeError(f"tape.save cannot save an object of type {type(obj).__name__}: it saves tensors and "
                    "dicts, lists and tuples of tensors, numbers, strings, booleans and None")


def _rebuilt(desc: Any, arrays) -> Any:
    if not isinstance(desc, dict) or len(desc) not in (1, 3, 4) or \
            len(desc) == 4 and desc.get("class") not in SUBCLASSES:
        raise RuntimeError("tape.load: the file does not hold a tape.save archive")
    if "tensor" in desc:
        dt = _BY_NAME[desc["dtype"]]
        t = _leaf_copy(arrays[desc["tensor"]].astype(dt.np, copy=False), dt, bool(desc["requires_grad"]))
        return SUBCLASSES[desc["class"]](t, t.requires_grad) if "class" in desc else t
    if "dict" in desc:
        return {k: _rebuilt(v, arrays) for k, v in desc["dict"]}
    if "list" in desc:
        return [_rebuilt(v, arrays) for v in desc["list"]]
    if "tuple" in desc:
        return tuple(_rebuilt(v, arrays) for v in desc["tuple"])
    return desc["value"]


def save(obj: Any, f: FileLike, pickle_module: Any = None, pickle_protocol: int = 2,
         _use_new_zipfile_serialization: bool = True) -> None:
    """Save ``obj`` (a tensor, or dicts/lists/tuples of tensors and plain values) to ``f`` (a path or
    a writable binary file) in numpy's ``.npz`` format."""
    arrays: dict = {}
    desc = _describe(obj, arrays)
    meta = np.frombuffer(json.dumps({"tape": 1, "object": desc}).encode(), np.uint8)
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            np.savez(fh, __meta__=meta, **arrays)
    else:
        np.savez(f, __meta__=meta, **arrays)


def load(f: FileLike, map_location: Any = None, pickle_module: Any = None, *, weights_only: bool = True,
         mmap: bool = False, **pickle_load_args: Any) -> Any:
    """Load an object saved by :func:`tape.save`; nothing in the file is executed."""
    if map_location is not None and not callable(map_location) and not isinstance(map_location, dict):
        check_device(map_location)
    try:
        with np.load(f, allow_pickle=False) as z:
            meta = json.loads(bytes(z["__meta__"]).decode())
            arrays = {k: z[k] for k in z.files if k != "__meta__"}
    except (ValueError, OSError, KeyError, json.JSONDecodeError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise RuntimeError(f"tape.load: the file does not hold a tape.save archive ({e})") from None
    if not isinstance(meta, dict) or meta.get("tape") != 1:
        raise RuntimeError("tape.load: the file does not hold a tape.save archive")
    return _rebuilt(meta["object"], arrays)

