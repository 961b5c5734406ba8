"""The recurrent layers, as PyTorch's ``torch.nn.modules.rnn``: ``RNNCell``, ``LSTMCell``, ``GRUCell``
over ``tape.rnn_tanh_cell`` ... (``ops/rnn.py``)."""
from __future__ import annotations

import math
from typing import Any, Optional

from ..._creation import empty, zeros
from ..._tensor import Tensor
from ...ops.rnn import gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


class RNNCellBase(Module):
    """The parameters of a cell: ``weight_ih`` ``(num_chunks * hidden_size, input_size)``,
    ``weight_hh`` ``(num_chunks * hidden_size, hidden_size)``, ``bias_ih`` and ``bias_hh``
    ``(num_chunks * hidden_size)``, each drawn from :math:`\\mathcal{U}(-\\sqrt{k}, \\sqrt{k})`,
    :math:`k = 1 / \\text{hidden\\_size}`."""

    __constants__ = ["input_size", "hidden_size", "bias"]
    input_size: int
    hidden_size: int
    bias: bool
    weight_ih: Tensor
    weight_hh: Tensor

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device: Any = None,
                 dtype: Any = None) -> None:
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size), **factory_kwargs))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size), **factory_kwargs))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, **factory_kwargs))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, **factory_kwargs))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self) -> None:
        """Draw every parameter again from :math:`\\mathcal{U}(-1/\\sqrt{\\text{hidden\\_size}},
        1/\\sqrt{\\text{hidden\\_size}})`."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)


def _batched(name: str, input: Tensor, hidden: Optional[Tensor]) -> bool:
    if input.dim() not in (1, 2):
        raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
    if hidden is not None and hidden.dim() not in (1, 2):
        raise ValueError(f"{name}: Expected hidden to be 1D or 2D, got {hidden.dim()}D instead")
    return input.dim() == 2


class RNNCell(RNNCellBase):
    r"""An Elman RNN cell with tanh or ReLU non-linearity: :math:`h' = \tanh(x W_{ih}^T + b_{ih} + h W_{hh}^T + b_{hh})`.

    Args:
        input_size: The number of expected features in the input ``x``
        hidden_size: The number of features in the hidden state ``h``
        bias: If ``False``, the layer does not use the biases ``b_ih`` and ``b_hh``. Default: ``True``
        nonlinearity: The non-linearity to use, ``'tanh'`` or ``'relu'``. Default: ``'tanh'``

    Inputs: ``input`` of shape ``(batch, input_size)`` or ``(input_size)``, ``hidden`` of shape
    ``(batch, hidden_size)`` or ``(hidden_size)`` (zeros if not given). Output: ``h'``, shaped as ``hidden``.
    """

    __constants__ = ["input_size", "hidden_size", "bias", "nonlinearity"]
    nonlinearity: str

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tensor:
        is_batched = _batched("RNNCell", input, hx)
        if not is_batched:
            input = input.unsqueeze(0)
        if hx is None:
            hx = zeros(input.size(0), self.hidden_size, dtype=input.dtype, device=input.device)
        elif not is_batched:
            hx = hx.unsqueeze(0)
        if self.nonlinearity == "tanh":
            ret = rnn_tanh_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        elif self.nonlinearity == "relu":
            ret = rnn_relu_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return ret if is_batched else ret.squeeze(0)


class LSTMCell(RNNCellBase):
    r"""A long short-term memory (LSTM) cell: from ``(h, c)``, the input, forget, cell and output gates
    :math:`i, f, g, o` (``weight_ih`` stacks :math:`W_{ii}, W_{if}, W_{ig}, W_{io}` in that order),
    :math:`c' = f \odot c + i \odot g`, :math:`h' = o \odot \tanh(c')`.

    Args:
        input_size: The number of expected features in the input ``x``
        hidden_size: The number of features in the hidden state ``h``
        bias: If ``False``, the layer does not use the biases ``b_ih`` and ``b_hh``. Default: ``True``

    Inputs: ``input`` of shape ``(batch, input_size)`` or ``(input_size)``, ``hx`` the pair ``(h_0, c_0)``
    (zeros if not given). Output: ``(h_1, c_1)``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Optional[tuple[Tensor, Tensor]] = None) -> tuple[Tensor, Tensor]:
        if input.dim() not in (1, 2):
            raise ValueError(f"LSTMCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None:
            for idx, value in enumerate(hx):
                if value.dim() not in (1, 2):
                    raise ValueError(f"LSTMCell: Expected hx[{idx}] to be 1D or 2D, got {value.dim()}D instead")
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
        if hx is None:
            zero = zeros(input.size(0), self.hidden_size, dtype=input.dtype, device=input.device)
            hx = (zero, zero)
        elif not is_batched:
            hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        ret = lstm_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return ret if is_batched else (ret[0].squeeze(0), ret[1].squeeze(0))


class GRUCell(RNNCellBase):
    r"""A gated recurrent unit (GRU) cell: the reset, update and new gates :math:`r, z, n` (``weight_ih``
    stacks :math:`W_{ir}, W_{iz}, W_{in}` in that order), :math:`n = \tanh(W_{in} x + b_{in} + r \odot
    (W_{hn} h + b_{hn}))`, :math:`h' = (1 - z) \odot n + z \odot h`.

    Args:
        input_size: The number of expected features in the input ``x``
        hidden_size: The number of features in the hidden state ``h``
        bias: If ``False``, the layer does not use the biases ``b_ih`` and ``b_hh``. Default: ``True``

    Inputs: ``input`` of shape ``(batch, input_size)`` or ``(input_size)``, ``hidden`` of shape
    ``(batch, hidden_size)`` or ``(hidden_size)`` (zeros if not given). Output: ``h'``, shaped as ``hidden``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tensor:
        is_batched = _batched("GRUCell", input, hx)
        if not is_batched:
            input = input.unsqueeze(0)
        if hx is None:
            hx = zeros(input.size(0), self.hidden_size, dtype=input.dtype, device=input.device)
        elif not is_batched:
            hx = hx.unsqueeze(0)
        ret = gru_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return ret if is_batched else ret.squeeze(0)
