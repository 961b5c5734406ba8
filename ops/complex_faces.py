"""PyTorch's complex-number API on tape's real dtypes: the conjugate of a real tensor is the
tensor itself (``x.conj() is x``, as PyTorch's), its real part too, and it has no imaginary part."""
from __future__ import annotations

from .._emit import Tensor
from ._spec import public


@public("conj", "resolve_conj", "resolve_neg", "conj_physical", "conj_physical_")
def conj(self) -> Tensor:
    """The complex conjugate: ``self`` itself for a real tensor (no copy, no node)."""
    return self


@public("is_conj", "is_neg")
def is_conj(self) -> bool:
    """False: a real tensor carries no lazy conjugation or negation bit."""
    return False


@public("real", method=False, properties=("real",))
def real(self) -> Tensor:
    """The real part: ``self`` itself for a real tensor."""
    return self


@public("imag", method=False, properties=("imag",))
def imag(self) -> Tensor:
    """The imaginary part, which real tensors do not have (PyTorch's error)."""
    raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
