"""``tape._VF``: the ATen function forms PyTorch keeps out of its top-level namespace
(``torch._VF.unique_dim``), and those its modules call through it (``torch._VF.lstm`` ...)."""
from __future__ import annotations

from .ops.counting import unique_dim
from .ops.rnn import (_pack_padded_sequence, _pad_packed_sequence, gru, gru_cell, lstm, lstm_cell, rnn_relu,
                      rnn_relu_cell, rnn_tanh, rnn_tanh_cell)

__all__ = ["unique_dim", "rnn_tanh", "rnn_relu", "lstm", "gru", "rnn_tanh_cell", "rnn_relu_cell", "lstm_cell",
           "gru_cell", "_pack_padded_sequence", "_pad_packed_sequence"]
