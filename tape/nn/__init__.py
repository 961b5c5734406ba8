"""``tape.nn``: PyTorch's ``torch.nn``: ``Parameter``, ``Module``, the containers and the layers over tape's
ops, ``init`` and the ``functional`` module (see the README's coverage table)."""
from __future__ import annotations

from . import functional, init, modules, parallel, parameter, utils
from .modules import (BCELoss, BCEWithLogitsLoss, CELU, CosineSimilarity, CrossEntropyLoss, Dropout, ELU, Flatten,
                      GaussianNLLLoss, GELU, GLU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh, HuberLoss, Identity,
                      KLDivLoss, L1Loss, LeakyReLU, Linear, LogSigmoid, LogSoftmax, MarginRankingLoss, Mish, Module,
                      ModuleDict, ModuleList, MSELoss, NLLLoss, NLLLoss2d, PairwiseDistance, ParameterDict,
                      ParameterList, PoissonNLLLoss, PReLU, ReLU, ReLU6, SELU, Sequential, Sigmoid, SiLU, SmoothL1Loss,
                      SoftMarginLoss, Softmax, Softmax2d, Softmin, Softplus, Softshrink, Softsign, Tanh, Tanhshrink,
                      Threshold, Unflatten)
from .modules import Bilinear, GRU, MultiheadAttention, GRUCell, LSTM, LSTMCell, RNN, RNNBase, RNNCell, RNNCellBase
from .modules import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d, Fold, Unfold
from .modules.channelshuffle import ChannelShuffle
from .modules.padding import (CircularPad1d, CircularPad2d, CircularPad3d, ConstantPad1d, ConstantPad2d,
                              ConstantPad3d, ReflectionPad1d, ReflectionPad2d, ReflectionPad3d, ReplicationPad1d,
                              ReplicationPad2d, ReplicationPad3d, ZeroPad1d, ZeroPad2d, ZeroPad3d)
from .modules.pixelshuffle import PixelShuffle, PixelUnshuffle
from .modules.upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from .modules.pooling import FractionalMaxPool2d, FractionalMaxPool3d
from .modules.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d,
                              AdaptiveMaxPool2d, AdaptiveMaxPool3d, AvgPool1d, AvgPool2d, AvgPool3d, LPPool1d,
                              LPPool2d, LPPool3d, MaxPool1d, MaxPool2d, MaxPool3d, MaxUnpool1d, MaxUnpool2d,
                              MaxUnpool3d)
from .modules import (CosineEmbeddingLoss, HingeEmbeddingLoss, MultiLabelMarginLoss, MultiLabelSoftMarginLoss,
                      MultiMarginLoss, TripletMarginLoss, TripletMarginWithDistanceLoss)
from .modules import AdaptiveLogSoftmaxWithLoss, CTCLoss
from .modules import AlphaDropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout, RReLU
from .modules import (BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, InstanceNorm1d, InstanceNorm2d,  # noqa: E402
                      InstanceNorm3d, LayerNorm, LocalResponseNorm, RMSNorm)
from .modules import Embedding, EmbeddingBag  # noqa: E402
from .modules import (Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,  # noqa: E402
                      TransformerEncoderLayer)
from .modules import (LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, LazyConv1d, LazyConv2d,  # noqa: E402
                      LazyConv3d, LazyConvTranspose1d, LazyConvTranspose2d, LazyConvTranspose3d, LazyInstanceNorm1d,
                      LazyInstanceNorm2d, LazyInstanceNorm3d, LazyLinear)
from .modules import Container, CrossMapLRN2d  # noqa: E402
from .parallel import DataParallel  # noqa: E402
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter

__all__ = ["BCELoss", "BCEWithLogitsLoss", "Buffer", "DataParallel", "CELU", "CosineSimilarity", "CrossEntropyLoss", "Dropout", "ELU",
           "Flatten", "GELU", "GLU", "GaussianNLLLoss", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh",
           "HuberLoss", "Identity", "KLDivLoss", "L1Loss", "LeakyReLU", "Linear", "LogSigmoid", "LogSoftmax", "MSELoss",
           "MarginRankingLoss", "Mish", "Module", "ModuleDict", "ModuleList", "NLLLoss", "NLLLoss2d", "PReLU",
           "PairwiseDistance", "Parameter", "ParameterDict", "ParameterList", "PoissonNLLLoss", "ReLU", "ReLU6", "SELU",
           "Sequential", "SiLU", "Sigmoid", "SmoothL1Loss", "SoftMarginLoss", "Softmax", "Softmax2d", "Softmin",
           "Softplus", "Softshrink", "Softsign", "Tanh", "Tanhshrink", "Threshold", "Unflatten", "functional", "init",
           "modules", "parameter", "utils",
           "Bilinear", "MultiheadAttention", "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]
__all__ += ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Fold", "Unfold"]
__all__ += ["CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
            "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
            "ReplicationPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d"]
__all__ += ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
            "AdaptiveMaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "LPPool1d", "LPPool2d", "LPPool3d",
            "MaxPool1d", "MaxPool2d", "MaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d"]
__all__ += ["ChannelShuffle", "PixelShuffle", "PixelUnshuffle"]
__all__ += ["Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"]
__all__ += ["FractionalMaxPool2d", "FractionalMaxPool3d"]
__all__ += ["CosineEmbeddingLoss", "HingeEmbeddingLoss", "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss",
            "MultiMarginLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss"]
__all__ += ["AlphaDropout", "Dropout1d", "Dropout2d", "Dropout3d", "FeatureAlphaDropout", "RReLU"]
__all__ += ["CTCLoss"]
__all__ += ["AdaptiveLogSoftmaxWithLoss"]
__all__ += ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LayerNorm", "LocalResponseNorm", "RMSNorm"]
__all__ += ["Embedding", "EmbeddingBag"]
__all__ += ["Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
            "TransformerDecoderLayer"]
__all__ += ["LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
            "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyInstanceNorm1d",
            "LazyInstanceNorm2d", "LazyInstanceNorm3d", "UninitializedParameter", "UninitializedBuffer"]
__all__ += ["Container"]
__all__ += ["CrossMapLRN2d"]
