"""The recurrent layers, as PyTorch's ``torch.nn.modules.rnn``: ``RNN``, ``LSTM``, ``GRU`` over
``tape.rnn_tanh`` ..., and ``RNNCell``, ``LSTMCell``, ``GRUCell`` over ``tape.rnn_tanh_cell`` ...
(``ops/rnn.py``)."""
from __future__ import annotations

import math
import numbers
import warnings
import weakref
from typing import Any, Optional, Union

from ..._creation import empty, zeros
from ..._tensor import Tensor
from ...ops.rnn import gru, gru_cell, lstm, lstm_cell, rnn_relu, rnn_relu_cell, rnn_tanh, rnn_tanh_cell
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_rnn_impls = {"RNN_TANH": rnn_tanh, "RNN_RELU": rnn_relu}


def _apply_permutation(tensor: Tensor, permutation: Tensor, dim: int = 1) -> Tensor:
    return tensor.index_select(dim, permutation)


class RNNBase(Module):
    """The base of ``RNN``, ``LSTM`` and ``GRU``: the parameters of every layer ``n`` and direction,
    ``weight_ih_l{n}{suffix}``, ``weight_hh_l{n}{suffix}``, ``bias_ih_l{n}{suffix}``,
    ``bias_hh_l{n}{suffix}`` (and ``weight_hr_l{n}{suffix}`` for an LSTM with projections;
    ``suffix`` is ``_reverse`` for the backward direction), in ``_flat_weights`` in that order,
    each drawn from :math:`\\mathcal{U}(-\\sqrt{k}, \\sqrt{k})`, :math:`k = 1 / \\text{hidden\\_size}`."""

    __constants__ = ["mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                     "bidirectional", "proj_size"]
    __jit_unused_properties__ = ["all_weights"]
    mode: str
    input_size: int
    hidden_size: int
    num_layers: int
    bias: bool
    batch_first: bool
    dropout: float
    bidirectional: bool
    proj_size: int

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: Any = None, dtype: Any = None) -> None:
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        self._flat_weight_refs: list = []
        num_directions = 2 if bidirectional else 1
        if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", stacklevel=2)
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first should be of type bool, got: {type(batch_first).__name__}")
        if not isinstance(input_size, int):
            raise TypeError(f"input_size should be of type int, got: {type(input_size).__name__}")
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        gates = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}.get(mode)
        if gates is None:
            raise ValueError("Unrecognized RNN mode: " + mode)
        gate_size = gates * hidden_size
        self._flat_weights_names: list = []
        self._all_weights: list = []
        real_hidden_size = proj_size if proj_size > 0 else hidden_size
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input_size = input_size if layer == 0 else real_hidden_size * num_directions
                w_ih = Parameter(empty((gate_size, layer_input_size), **factory_kwargs))
                w_hh = Parameter(empty((gate_size, real_hidden_size), **factory_kwargs))
                b_ih = Parameter(empty(gate_size, **factory_kwargs))
                b_hh = Parameter(empty(gate_size, **factory_kwargs))
                layer_params: tuple = (w_ih, w_hh, b_ih, b_hh) if bias else (w_ih, w_hh)
                param_names = ["weight_ih_l{}{}", "weight_hh_l{}{}"]
                if bias:
                    param_names += ["bias_ih_l{}{}", "bias_hh_l{}{}"]
                if proj_size > 0:
                    layer_params += (Parameter(empty((proj_size, hidden_size), **factory_kwargs)),)
                    param_names += ["weight_hr_l{}{}"]
                suffix = "_reverse" if direction == 1 else ""
                param_names = [x.format(layer, suffix) for x in param_names]
                for name, param in zip(param_names, layer_params):
                    setattr(self, name, param)
                self._flat_weights_names.extend(param_names)
                self._all_weights.append(param_names)
        self._init_flat_weights()
        self.reset_parameters()

    def _init_flat_weights(self) -> None:
        self._flat_weights = [getattr(self, wn) if hasattr(self, wn) else None for wn in self._flat_weights_names]
        self._flat_weight_refs = [weakref.ref(w) if w is not None else None for w in self._flat_weights]
        self.flatten_parameters()

    def __setattr__(self, attr: str, value: Any) -> None:
        if hasattr(self, "_flat_weights_names") and attr in self._flat_weights_names:
            # keep self._flat_weights up to date when a weight is assigned anew
            idx = self._flat_weights_names.index(attr)
            self._flat_weights[idx] = value
        super().__setattr__(attr, value)

    def flatten_parameters(self) -> None:
        """Resets parameter data pointers so that they can use faster code paths: PyTorch's cuDNN
        weights; on the CPU, as always here, it does nothing."""

    def _apply(self, fn, recurse: bool = True):
        self._flat_weight_refs = []
        ret = super()._apply(fn, recurse)
        # (the weights may be new tensors: refer to them again)
        self._init_flat_weights()
        return ret

    def reset_parameters(self) -> None:
        """Draw every parameter again from :math:`\\mathcal{U}(-1/\\sqrt{\\text{hidden\\_size}},
        1/\\sqrt{\\text{hidden\\_size}})`."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def check_input(self, input: Tensor, batch_sizes: Optional[Tensor]) -> None:
        if input.dtype != self._flat_weights[0].dtype:
            weight_dtype = self._flat_weights[0].dtype
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype ({weight_dtype}). "
                             f"Convert input: input.to({weight_dtype}), or convert model: model.to({input.dtype})")
        expected_input_dim = 2 if batch_sizes is not None else 3
        if input.dim() != expected_input_dim:
            raise RuntimeError(f"input must have {expected_input_dim} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.size(-1)}")

    def get_expected_hidden_size(self, input: Tensor, batch_sizes: Optional[Tensor]) -> tuple[int, int, int]:
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.size(0) if self.batch_first else input.size(1)
        num_directions = 2 if self.bidirectional else 1
        return (self.num_layers * num_directions, mini_batch,
                self.proj_size if self.proj_size > 0 else self.hidden_size)

    def check_hidden_size(self, hx: Tensor, expected_hidden_size: tuple[int, int, int],
                          msg: str = "Expected hidden size {}, got {}") -> None:
        if hx.size() != expected_hidden_size:
            raise RuntimeError(msg.format(expected_hidden_size, list(hx.size())))

    def _weights_have_changed(self) -> bool:
        for ref, name in zip(self._flat_weight_refs, self._flat_weights_names):
            weight = getattr(self, name) if hasattr(self, name) else None
            if weight is not None and ref is not None and ref() is not weight:
                return True
        return False

    def check_forward_args(self, input: Tensor, hidden: Tensor, batch_sizes: Optional[Tensor]) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx: Tensor, permutation: Optional[Tensor]):
        if permutation is None:
            return hx
        return _apply_permutation(hx, permutation)

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    def _update_flat_weights(self) -> None:
        if self._weights_have_changed():
            self._init_flat_weights()

    def __getstate__(self) -> dict:
        # (weak references do not pickle: made again on loading)
        self._update_flat_weights()
        state = self.__dict__.copy()
        del state["_flat_weight_refs"]
        return state

    def __setstate__(self, d: dict) -> None:
        super().__setstate__(d)
        self._flat_weights = [getattr(self, wn) if hasattr(self, wn) else None for wn in self._flat_weights_names]
        self._flat_weight_refs = [weakref.ref(w) if w is not None else None for w in self._flat_weights]

    @property
    def all_weights(self) -> list:
        """The parameters, one list per layer and direction (PyTorch's order)."""
        return [[getattr(self, weight) for weight in weights] for weights in self._all_weights]

    def _zeros(self, input: Tensor, batch: int, size: int) -> Tensor:
        return zeros(self.num_layers * (2 if self.bidirectional else 1), batch, size, dtype=input.dtype,
                     device=input.device)

    def _unpacked(self, input: Tensor, hx: Optional[Tensor], name: str) -> tuple:
        """The padded input made batched, and ``hx`` likewise (PyTorch's checks of RNN and GRU)."""
        if input.dim() not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D tensor instead")
        is_batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not is_batched:
            input = input.unsqueeze(batch_dim)
            if hx is not None:
                if hx.dim() != 2:
                    raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got {hx.dim()}-D tensor")
                hx = hx.unsqueeze(1)
        elif hx is not None and hx.dim() != 3:
            raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {hx.dim()}-D tensor")
        return input, hx, is_batched, batch_dim

    def _one_hidden_forward(self, input: Union[Tensor, PackedSequence], hx: Optional[Tensor], name: str,
                            impl) -> tuple:
        """RNN's and GRU's forward: ``impl`` is ``tape.rnn_tanh``, ``rnn_relu`` or ``gru``."""
        self._update_flat_weights()
        orig_input = input
        sorted_indices = unsorted_indices = None
        if isinstance(orig_input, PackedSequence):
            input, batch_sizes, sorted_indices, unsorted_indices = input
            if hx is None:
                hx = self._zeros(input, int(batch_sizes[0]), self.hidden_size)
            else:
                hx = self.permute_hidden(hx, sorted_indices)
        else:
            batch_sizes = None
            input, hx, is_batched, batch_dim = self._unpacked(input, hx, name)
            if hx is None:
                hx = self._zeros(input, input.size(0) if self.batch_first else input.size(1), self.hidden_size)
        self.check_forward_args(input, hx, batch_sizes)
        if batch_sizes is None:
            output, hidden = impl(input, hx, self._flat_weights, self.bias, self.num_layers, self.dropout,
                                  self.training, self.bidirectional, self.batch_first)
        else:
            output, hidden = impl(input, batch_sizes, hx, self._flat_weights, self.bias, self.num_layers,
                                  self.dropout, self.training, self.bidirectional)
        if isinstance(orig_input, PackedSequence):
            return (PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices),
                    self.permute_hidden(hidden, unsorted_indices))
        if not is_batched:
            output = output.squeeze(batch_dim)
            hidden = hidden.squeeze(1)
        return output, self.permute_hidden(hidden, unsorted_indices)


class RNN(RNNBase):
    r"""A multi-layer Elman RNN with tanh or ReLU non-linearity over an input sequence: for each
    element, :math:`h_t = \tanh(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})`.

    Args:
        input_size: The number of expected features in the input ``x``
        hidden_size: The number of features in the hidden state ``h``
        num_layers: Number of recurrent layers (stacked, each taking the previous one's output). Default: 1
        nonlinearity: The non-linearity to use, ``'tanh'`` or ``'relu'``. Default: ``'tanh'``
        bias: If ``False``, the layers do not use the biases ``b_ih`` and ``b_hh``. Default: ``True``
        batch_first: If ``True``, the input and output tensors are ``(batch, seq, feature)`` instead of
            ``(seq, batch, feature)``. Default: ``False``
        dropout: If non-zero, a Dropout layer on the outputs of each layer except the last, with dropout
            probability ``dropout`` (when training). Default: 0
        bidirectional: If ``True``, becomes a bidirectional RNN. Default: ``False``

    Inputs: ``input`` ``(L, N, H_in)`` (``(N, L, H_in)`` if ``batch_first``, ``(L, H_in)`` unbatched) or a
    :class:`~tape.nn.utils.rnn.PackedSequence`, ``hx`` ``(D * num_layers, N, H_out)`` (zeros if not given).
    Outputs: ``output`` ``(L, N, D * H_out)``, ``h_n`` ``(D * num_layers, N, H_out)``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, *args, **kwargs)

    def forward(self, input: Union[Tensor, PackedSequence], hx: Optional[Tensor] = None) -> tuple:
        return self._one_hidden_forward(input, hx, "RNN", _rnn_impls[self.mode])


class LSTM(RNNBase):
    r"""A multi-layer long short-term memory (LSTM) RNN over an input sequence (the cell of
    :class:`LSTMCell` at each step; with ``proj_size > 0``, :math:`h_t` is projected by ``weight_hr``).

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional: as :class:`RNN`'s
        proj_size: If ``> 0``, an LSTM with projections of this size. Default: 0

    Inputs: ``input`` (as :class:`RNN`'s), ``(h_0, c_0)`` (zeros if not given). Outputs: ``output``,
    ``(h_n, c_n)``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("LSTM", *args, **kwargs)

    def get_expected_cell_size(self, input: Tensor, batch_sizes: Optional[Tensor]) -> tuple[int, int, int]:
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.size(0) if self.batch_first else input.size(1)
        num_directions = 2 if self.bidirectional else 1
        return (self.num_layers * num_directions, mini_batch, self.hidden_size)

    def check_forward_args(self, input: Tensor, hidden: tuple, batch_sizes: Optional[Tensor]) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               "Expected hidden[1] size {}, got {}")

    def permute_hidden(self, hx: tuple, permutation: Optional[Tensor]) -> tuple:
        if permutation is None:
            return hx
        return _apply_permutation(hx[0], permutation), _apply_permutation(hx[1], permutation)

    def forward(self, input: Union[Tensor, PackedSequence], hx: Optional[tuple] = None) -> tuple:
        self._update_flat_weights()
        orig_input = input
        batch_sizes = None
        real_hidden_size = self.proj_size if self.proj_size > 0 else self.hidden_size
        sorted_indices = unsorted_indices = None
        if isinstance(orig_input, PackedSequence):
            input, batch_sizes, sorted_indices, unsorted_indices = input
            if hx is None:
                batch = int(batch_sizes[0])
                hx = (self._zeros(input, batch, real_hidden_size), self._zeros(input, batch, self.hidden_size))
            else:
                hx = self.permute_hidden(hx, sorted_indices)
        else:
            if input.dim() not in (2, 3):
                raise ValueError(f"LSTM: Expected input to be 2D or 3D, got {input.dim()}D instead")
            is_batched = input.dim() == 3
            batch_dim = 0 if self.batch_first else 1
            if not is_batched:
                input = input.unsqueeze(batch_dim)
            batch = input.size(0) if self.batch_first else input.size(1)
            if hx is None:
                hx = (self._zeros(input, batch, real_hidden_size), self._zeros(input, batch, self.hidden_size))
                self.check_forward_args(input, hx, batch_sizes)
            else:
                if is_batched:
                    if hx[0].dim() != 3 or hx[1].dim() != 3:
                        raise RuntimeError("For batched 3-D input, hx and cx should also be 3-D but got "
                                           f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
                else:
                    if hx[0].dim() != 2 or hx[1].dim() != 2:
                        raise RuntimeError("For unbatched 2-D input, hx and cx should also be 2-D but got "
                                           f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
                    hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
                self.check_forward_args(input, hx, batch_sizes)
        if batch_sizes is None:
            result = lstm(input, hx, self._flat_weights, self.bias, self.num_layers, self.dropout, self.training,
                          self.bidirectional, self.batch_first)
        else:
            result = lstm(input, batch_sizes, hx, self._flat_weights, self.bias, self.num_layers, self.dropout,
                          self.training, self.bidirectional)
        output, hidden = result[0], result[1:]
        if isinstance(orig_input, PackedSequence):
            return (PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices),
                    self.permute_hidden(hidden, unsorted_indices))
        if not is_batched:
            output = output.squeeze(batch_dim)
            hidden = (hidden[0].squeeze(1), hidden[1].squeeze(1))
        return output, self.permute_hidden(hidden, unsorted_indices)


class GRU(RNNBase):
    r"""A multi-layer gated recurrent unit (GRU) RNN over an input sequence (the cell of :class:`GRUCell`
    at each step).

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional: as :class:`RNN`'s

    Inputs and outputs: as :class:`RNN`'s.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input: Union[Tensor, PackedSequence], hx: Optional[Tensor] = None) -> tuple:
        return self._one_hidden_forward(input, hx, "GRU", gru)


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
    r"""An Elman RNN cell with tanh or ReLU non-linearity:
    :math:`h' = \tanh(x W_{ih}^T + b_{ih} + h W_{hh}^T + b_{hh})`.

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
