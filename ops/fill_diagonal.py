"""``Tensor.fill_diagonal_``: PyTorch's composition, a ``fill_`` of the main diagonal seen through
``as_strided`` (and with ``wrap``, of its continuation below a tall matrix), so that the tensor's node
is PyTorch's ``CopySlices``."""
from __future__ import annotations

from .._emit import Number, Tensor
from ._spec import public


@public("fill_diagonal_", function=False)
def fill_diagonal_(self, fill_value: Number, wrap: bool = False) -> Tensor:
    """Fill the main diagonal of a tensor of at least 2 dims (all of the same size when more than 2)
    with ``fill_value``, in place; with ``wrap``, a tall matrix's diagonal starts again every
    ``columns + 1`` rows."""
    nd = self.dim()
    if nd < 2:
        raise RuntimeError("dimensions must larger than 1")
    height, width = self._shape[0], self._shape[1]
    if nd > 2 and any(s != height for s in self._shape[1:]):
        raise RuntimeError("all dimensions of input must be of equal length")
    if not self.numel():
        self.diagonal(0, 0, 1).fill_(fill_value)      # (tape's as_strided needs elements to lay out)
        return self
    size = min(height, width)
    stride = sum(self.stride())
    offset = self.storage_offset()
    self.as_strided((size,), (stride,), offset).fill_(fill_value)
    if wrap and nd == 2 and height > width + 1:
        step = width + 1
        wrapped = (self.numel() + step - 1) // step - size
        self.as_strided((wrapped,), (stride,), offset + self.stride(0) * step).fill_(fill_value)
    return self
