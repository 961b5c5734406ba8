"""``tape.nn.utils``: PyTorch's ``torch.nn.utils`` helpers for training loops: gradient clipping and the
conversion of parameters to and from one vector."""
from __future__ import annotations

from . import rnn, stateless
from .clip_grad import clip_grad_norm, clip_grad_norm_, clip_grad_value_
from .clip_grad import _clip_grads_with_norm_ as clip_grads_with_norm_
from .clip_grad import _get_total_norm as get_total_norm
from .convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
           "parameters_to_vector", "rnn", "stateless", "vector_to_parameters"]
