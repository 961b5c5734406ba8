"""``Tensor.untyped_storage()`` and ``Tensor.storage()``: read-only faces of the memory a tensor's
elements live in (the storage of the root of its chain of views), as PyTorch's storages show it:
address, size, dtype, elements.  Writing through a storage (``fill_``, ``copy_``, ``resize_``) is
not offered: tape could not account for the change (versions, recorded values).
"""
from __future__ import annotations

import warnings

import numpy as np

from . import _dtype as D
from ._device import CPU


def _memory(root_value: np.ndarray) -> np.ndarray:
    """The storage's elements in memory order (a dense array's, whatever its strides)."""
    if root_value.flags.c_contiguous:
        return root_value.reshape(-1)
    if root_value.flags.f_contiguous:
        return root_value.reshape(-1, order="F")
    order = np.argsort(root_value.strides)[::-1]
    return root_value.transpose(order).reshape(-1)       # (a copy only for an array with gaps or repeats)


class UntypedStorage:
    """The bytes of a tensor's storage."""

    def __init__(self, elements: np.ndarray) -> None:
        self._elements = elements

    def data_ptr(self) -> int:
        return self._elements.__array_interface__["data"][0]

    def nbytes(self) -> int:
        return self._elements.nbytes

    def size(self) -> int:
        return self._elements.nbytes

    def __len__(self) -> int:
        return self._elements.nbytes

    def element_size(self) -> int:
        return 1

    @property
    def device(self):
        return CPU

    def __getitem__(self, index):
        return np.ascontiguousarray(self._elements).view(np.uint8)[index].tolist()

    def tolist(self) -> list:
        return np.ascontiguousarray(self._elements).view(np.uint8).tolist()

    def __repr__(self) -> str:
        body = "\n".join(f" {b}" for b in self.tolist())
        return f"{body}\n[torch.storage.UntypedStorage(device=cpu) of size {len(self)}]"


class TypedStorage:
    """The elements of a tensor's storage, with its dtype (deprecated in PyTorch)."""

    def __init__(self, elements: np.ndarray, dtype: D.dtype) -> None:
        self._elements = elements
        self._dtype = dtype

    def data_ptr(self) -> int:
        return self._elements.__array_interface__["data"][0]

    def size(self) -> int:
        return self._elements.size

    def __len__(self) -> int:
        return self._elements.size

    @property
    def dtype(self) -> D.dtype:
        return self._dtype

    @property
    def device(self):
        return CPU

    def element_size(self) -> int:
        return self._elements.itemsize

    def nbytes(self) -> int:
        return self._elements.nbytes

    def untyped(self) -> UntypedStorage:
        return UntypedStorage(self._elements)

    @property
    def _untyped_storage(self) -> UntypedStorage:
        return self.untyped()

    def __getitem__(self, index):
        return self._elements[index].tolist()

    def tolist(self) -> list:
        return self._elements.tolist()

    def __repr__(self) -> str:
        body = "\n".join(f" {v}" for v in self.tolist())
        return f"{body}\n[torch.storage.TypedStorage(dtype={self._dtype}, device=cpu) of size {len(self)}]"


def untyped_storage(root_value: np.ndarray) -> UntypedStorage:
    return UntypedStorage(_memory(root_value))


def typed_storage(root_value: np.ndarray, dtype: D.dtype) -> TypedStorage:
    warnings.warn("TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be the only "
                  "storage class. This should only matter to you if you are using storages directly.  To access "
                  "UntypedStorage directly, use tensor.untyped_storage() instead of tensor.storage()",
                  UserWarning, stacklevel=3)
    return TypedStorage(_memory(root_value), dtype)
