"""``tape.nn.modules``: the module classes of ``tape.nn``, one file per family as PyTorch's ``torch.nn.modules``."""
from __future__ import annotations

from .activation import Hardshrink, LogSoftmax, PReLU, ReLU, Sigmoid, Softmax, Softmax2d, Tanh, Threshold
from .container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .distance import CosineSimilarity, PairwiseDistance
from .flatten import Flatten, Unflatten
from .linear import Identity, Linear
from .module import Module

__all__ = ["CosineSimilarity", "Flatten", "Hardshrink", "Identity", "Linear", "LogSoftmax", "Module", "ModuleDict",
           "ModuleList", "PReLU", "PairwiseDistance", "ParameterDict", "ParameterList", "ReLU", "Sequential",
           "Sigmoid", "Softmax", "Softmax2d", "Tanh", "Threshold", "Unflatten"]
