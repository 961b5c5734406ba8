"""PyTorch's ``torch.nn.utils.rnn``: ``PackedSequence`` and the padding of sequences of different lengths."""
from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import NamedTuple, Optional, Union

from ..._creation import arange, as_tensor, empty_like, full
from ..._dtype import float16, float32, float64, int8, int16, int32, int64, uint8
from ..._tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "unpad_sequence", "pack_sequence", "unpack_sequence"]


def _aten(name: str):
    """``tape.<name>``, looked up at the call (a dual level swaps ``tape``'s functions for ones that
    compute tangents, as PyTorch's ``_VF`` functions do)."""
    return getattr(sys.modules["tape"], name)


class PackedSequence_(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Optional[Tensor]
    unsorted_indices: Optional[Tensor]


class PackedSequence(PackedSequence_):
    """The data and list of ``batch_sizes`` of a packed sequence: the steps of the sequences of a
    batch, sorted by decreasing length, one time step after the other (``batch_sizes[t]`` of them
    at step ``t``); ``sorted_indices`` and ``unsorted_indices`` permute the batch to and from the
    sorted order.  Made by :func:`pack_padded_sequence` and :func:`pack_sequence`; recurrent
    modules take and return them."""

    def __new__(cls, data: Tensor, batch_sizes: Optional[Tensor] = None, sorted_indices: Optional[Tensor] = None,
                unsorted_indices: Optional[Tensor] = None) -> "PackedSequence":
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> "PackedSequence":
        """The sequence with its ``data`` converted by :meth:`Tensor.to` (itself when that changes nothing)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self, *args, **kwargs) -> "PackedSequence":
        return self.to(*args, **kwargs)

    def double(self) -> "PackedSequence":
        return self.to(dtype=float64)

    def float(self) -> "PackedSequence":
        return self.to(dtype=float32)

    def half(self) -> "PackedSequence":
        return self.to(dtype=float16)

    def long(self) -> "PackedSequence":
        return self.to(dtype=int64)

    def int(self) -> "PackedSequence":
        return self.to(dtype=int32)

    def short(self) -> "PackedSequence":
        return self.to(dtype=int16)

    def char(self) -> "PackedSequence":
        return self.to(dtype=int8)

    def byte(self) -> "PackedSequence":
        return self.to(dtype=uint8)

    @property
    def is_cuda(self) -> bool:
        """Whether ``data`` is on a CUDA device (never here)."""
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        """Whether ``data`` is in pinned memory (never here)."""
        return False


def invert_permutation(permutation: Optional[Tensor]) -> Optional[Tensor]:
    """The permutation that undoes ``permutation`` (None for None)."""
    if permutation is None:
        return None
    output = empty_like(permutation)
    output.scatter_(0, permutation, arange(0, permutation.numel()))
    return output


def pack_padded_sequence(input: Tensor, lengths: Union[Tensor, list], batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Packs a padded batch of sequences of ``lengths`` (``input`` ``(T, B, *)``, or ``(B, T, *)`` if
    ``batch_first``), sorted by decreasing length unless ``enforce_sorted`` is False (then sorted here,
    the permutation kept in the result)."""
    if not isinstance(lengths, Tensor):
        lengths = as_tensor(lengths, dtype=int64)
    else:
        lengths = lengths.to(dtype=int64)
    if enforce_sorted:
        sorted_indices = None
    else:
        lengths, sorted_indices = lengths.sort(descending=True)
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    data, batch_sizes = _aten("_pack_padded_sequence")(input, lengths, batch_first)
    return PackedSequence(data, batch_sizes, sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: Optional[int] = None) -> tuple:
    """Pads a packed batch of sequences (the inverse of :func:`pack_padded_sequence`): the padded
    ``(T, B, *)`` tensor (``(B, T, *)`` if ``batch_first``; ``T`` is ``total_length`` if given) and the
    sequences' lengths, in the batch's original order."""
    max_seq_length = sequence.batch_sizes.size(0)
    if total_length is not None:
        if total_length < max_seq_length:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {max_seq_length}")
        max_seq_length = total_length
    padded_output, lengths = _aten("_pad_packed_sequence")(sequence.data, sequence.batch_sizes, batch_first,
                                                           padding_value, max_seq_length)
    unsorted_indices = sequence.unsorted_indices
    if unsorted_indices is not None:
        return padded_output.index_select(0 if batch_first else 1, unsorted_indices), lengths[unsorted_indices]
    return padded_output, lengths


def pad_sequence(sequences: Union[Tensor, list], batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """The tensors of ``sequences`` (each ``(L_i, *)``) stacked along a new batch dim, padded with
    ``padding_value`` on ``padding_side`` to the longest length: ``(L, B, *)``, or ``(B, L, *)`` if
    ``batch_first`` (PyTorch's composition: ``full`` and a ``copy_`` into each sequence's slice)."""
    if not isinstance(sequences, Iterable):
        raise RuntimeError(f"pad_sequence: Expected iterable for input sequences, but got arg of type: "
                           f"{type(sequences)}")
    sequences = tuple(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    first = sequences[0]
    max_len = max(s.size(0) for s in sequences)
    dims = (len(sequences), max_len) if batch_first else (max_len, len(sequences))
    out = full(dims + tuple(first.shape[1:]), padding_value, dtype=first.dtype)
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    for i, seq in enumerate(sequences):
        length = seq.size(0)
        start = max_len - length if padding_side == "left" else 0
        if batch_first:
            out.select(0, i).narrow(0, start, length).copy_(seq)
        else:
            out.narrow(0, start, length).select(1, i).copy_(seq)
    return out


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor, batch_first: bool = False) -> list:
    """The sequences of a padded batch, each cut to its length (the inverse of :func:`pad_sequence`;
    ``padded_sequences`` is transposed in place when not ``batch_first``, as PyTorch's)."""
    unpadded_sequences = []
    if not batch_first:
        padded_sequences.transpose_(0, 1)
    max_length = padded_sequences.shape[1]
    idx = arange(max_length)
    for seq, length in zip(padded_sequences, lengths):
        unpadded_sequences.append(seq[idx < length])
    return unpadded_sequences


def pack_sequence(sequences: list, enforce_sorted: bool = True) -> PackedSequence:
    """Packs a list of sequences of different lengths (each ``(L_i, *)``; sorted by decreasing length
    unless ``enforce_sorted`` is False)."""
    lengths = as_tensor([v.size(0) for v in sequences])
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The list of sequences a :class:`PackedSequence` holds (the inverse of :func:`pack_sequence`)."""
    padded_sequences, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded_sequences, lengths, batch_first=True)
