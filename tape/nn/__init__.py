"""``tape.nn``: PyTorch's ``torch.nn``: ``Parameter``, ``Module``, the containers and the layers over tape's
ops, ``init`` and the ``functional`` module (see the README's coverage table)."""
from __future__ import annotations

from . import functional, init, modules, parameter, utils
from .modules import (BCELoss, BCEWithLogitsLoss, CELU, CosineSimilarity, CrossEntropyLoss, Dropout, ELU, Flatten,
                      GaussianNLLLoss, GELU, GLU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh, HuberLoss, Identity,
                      KLDivLoss, L1Loss, LeakyReLU, Linear, LogSigmoid, LogSoftmax, MarginRankingLoss, Mish, Module,
                      ModuleDict, ModuleList, MSELoss, NLLLoss, NLLLoss2d, PairwiseDistance, ParameterDict,
                      ParameterList, PoissonNLLLoss, PReLU, ReLU, ReLU6, SELU, Sequential, Sigmoid, SiLU, SmoothL1Loss,
                      SoftMarginLoss, Softmax, Softmax2d, Softmin, Softplus, Softshrink, Softsign, Tanh, Tanhshrink,
                      Threshold, Unflatten)
from .modules import (BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, InstanceNorm1d, InstanceNorm2d,  # noqa: E402
                      InstanceNorm3d, LayerNorm, LocalResponseNorm, RMSNorm)
from .modules import Embedding, EmbeddingBag  # noqa: E402
from .parameter import Buffer, Parameter

__all__ = ["BCELoss", "BCEWithLogitsLoss", "Buffer", "CELU", "CosineSimilarity", "CrossEntropyLoss", "Dropout", "ELU",
           "Flatten", "GELU", "GLU", "GaussianNLLLoss", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh",
           "HuberLoss", "Identity", "KLDivLoss", "L1Loss", "LeakyReLU", "Linear", "LogSigmoid", "LogSoftmax", "MSELoss",
           "MarginRankingLoss", "Mish", "Module", "ModuleDict", "ModuleList", "NLLLoss", "NLLLoss2d", "PReLU",
           "PairwiseDistance", "Parameter", "ParameterDict", "ParameterList", "PoissonNLLLoss", "ReLU", "ReLU6", "SELU",
           "Sequential", "SiLU", "Sigmoid", "SmoothL1Loss", "SoftMarginLoss", "Softmax", "Softmax2d", "Softmin",
           "Softplus", "Softshrink", "Softsign", "Tanh", "Tanhshrink", "Threshold", "Unflatten", "functional", "init",
           "modules", "parameter", "utils"]
__all__ += ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LayerNorm", "LocalResponseNorm", "RMSNorm"]
__all__ += ["Embedding", "EmbeddingBag"]
