"""``tape.nn``: PyTorch's ``torch.nn``: ``Parameter``, ``Module``, the containers and the layers over tape's
ops, ``init`` and the ``functional`` module (see the README's coverage table)."""
from __future__ import annotations

from . import functional, init, modules, parameter, utils
from .modules import (CosineSimilarity, Flatten, Hardshrink, Identity, Linear, LogSoftmax, Module, ModuleDict,
                      ModuleList, PairwiseDistance, ParameterDict, ParameterList, PReLU, ReLU, Sequential, Sigmoid,
                      Softmax, Softmax2d, Tanh, Threshold, Unflatten)
from .parameter import Buffer, Parameter

__all__ = ["Buffer", "CosineSimilarity", "Flatten", "Hardshrink", "Identity", "Linear", "LogSoftmax", "Module",
           "ModuleDict", "ModuleList", "PReLU", "PairwiseDistance", "Parameter", "ParameterDict", "ParameterList",
           "ReLU", "Sequential", "Sigmoid", "Softmax", "Softmax2d", "Tanh", "Threshold", "Unflatten", "functional",
           "init", "modules", "parameter", "utils"]
