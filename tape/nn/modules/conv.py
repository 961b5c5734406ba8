"""The convolution modules, as PyTorch's ``torch.nn.modules.conv``: ``Conv1d``, ``Conv2d``, ``Conv3d``,
``ConvTranspose1d``, ``ConvTranspose2d``, ``ConvTranspose3d`` over ``tape.nn.functional``'s functions."""
from __future__ import annotations

import math
from typing import Any, Optional, Union

from ..._creation import empty
from ..._tensor import Size, Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter, UninitializedParameter
from .lazy import LazyModuleMixin
from .module import Module

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "LazyConv1d",
           "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d"]


def _ntuple(v, n: int) -> tuple:
    """``v`` repeated ``n`` times, or as a tuple if it is a sequence (PyTorch's ``_single``, ``_pair``, ``_triple``)."""
    if isinstance(v, (tuple, list)):
        return tuple(v)
    return (v,) * n


class _ConvNd(Module):
    """The parameters and checks common to the convolution modules (PyTorch's ``_ConvNd``)."""

    __constants__ = ["stride", "padding", "dilation", "groups", "padding_mode", "output_padding", "in_channels",
                     "out_channels", "kernel_size"]
    in_channels: int
    out_channels: int
    kernel_size: tuple
    stride: tuple
    padding: Union[str, tuple]
    dilation: tuple
    transposed: bool
    output_padding: tuple
    groups: int
    padding_mode: str
    weight: Tensor
    bias: Optional[Tensor]

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple, stride: tuple,
                 padding: Union[str, tuple], dilation: tuple, transposed: bool, output_padding: tuple, groups: int,
                 bias: bool, padding_mode: str, device: Any = None, dtype: Any = None) -> None:
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        valid_padding_strings = {"same", "valid"}
        if isinstance(padding, str):
            if padding not in valid_padding_strings:
                raise ValueError(f"Invalid padding string {padding!r}, should be one of {valid_padding_strings}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        valid_padding_modes = {"zeros", "reflect", "replicate", "circular"}
        if padding_mode not in valid_padding_modes:
            raise ValueError(f"padding_mode must be one of {valid_padding_modes}, but got "
                             f"padding_mode='{padding_mode}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = output_padding
        self.groups = groups
        self.padding_mode = padding_mode
        # (the padding ``F.pad`` takes for a padding mode other than zeros: the last dim's pair first)
        if isinstance(padding, str):
            self._reversed_padding_repeated_twice = [0, 0] * len(kernel_size)
            if padding == "same":
                for d, k, i in zip(dilation, kernel_size, range(len(kernel_size) - 1, -1, -1)):
                    total = d * (k - 1)
                    self._reversed_padding_repeated_twice[2 * i] = total // 2
                    self._reversed_padding_repeated_twice[2 * i + 1] = total - total // 2
        else:
            self._reversed_padding_repeated_twice = [p for p in reversed(padding) for _ in range(2)]
        shape = (in_channels, out_channels // groups) if transposed else (out_channels, in_channels // groups)
        self.weight = Parameter(empty((*shape, *kernel_size), **factory_kwargs))
        if bias:
            self.bias = Parameter(empty(out_channels, **factory_kwargs))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the weight and bias again: kaiming-uniform with ``a=sqrt(5)``, so :math:`\\mathcal{U}(-\\sqrt{k},
        \\sqrt{k})` with :math:`k = 1 / \\text{fan\\_in}` for both."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = "{in_channels}, {out_channels}, kernel_size={kernel_size}, stride={stride}"
        if self.padding != (0,) * len(self.padding):
            s += ", padding={padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += ", dilation={dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += ", output_padding={output_padding}"
        if self.groups != 1:
            s += ", groups={groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += ", padding_mode={padding_mode}"
        return s.format(**self.__dict__)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        if not hasattr(self, "padding_mode"):       # (a module pickled before padding modes)
            self.padding_mode = "zeros"

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
        conv = (F.conv1d, F.conv2d, F.conv3d)[len(self.kernel_size) - 1]
        if self.padding_mode != "zeros":
            return conv(F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode), weight, bias,
                        self.stride, 0, self.dilation, self.groups)
        return conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_ConvNd):
    r"""Applies a 1D convolution over an input signal composed of several input planes: input
    :math:`(N, C_{in}, L)` or :math:`(C_{in}, L)`, weight :math:`(C_{out}, C_{in} / groups, k)`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Union[int, tuple],
                 stride: Union[int, tuple] = 1, padding: Union[str, int, tuple] = 0, dilation: Union[int, tuple] = 1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, _ntuple(kernel_size, 1), _ntuple(stride, 1),
                         padding if isinstance(padding, str) else _ntuple(padding, 1), _ntuple(dilation, 1), False,
                         (0,), groups, bias, padding_mode, device=device, dtype=dtype)


class Conv2d(_ConvNd):
    r"""Applies a 2D convolution over an input image composed of several input planes: input
    :math:`(N, C_{in}, H, W)` or :math:`(C_{in}, H, W)`, weight :math:`(C_{out}, C_{in} / groups, kH, kW)`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Union[int, tuple],
                 stride: Union[int, tuple] = 1, padding: Union[str, int, tuple] = 0, dilation: Union[int, tuple] = 1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, _ntuple(kernel_size, 2), _ntuple(stride, 2),
                         padding if isinstance(padding, str) else _ntuple(padding, 2), _ntuple(dilation, 2), False,
                         (0, 0), groups, bias, padding_mode, device=device, dtype=dtype)


class Conv3d(_ConvNd):
    r"""Applies a 3D convolution over an input image composed of several input planes: input
    :math:`(N, C_{in}, D, H, W)` or :math:`(C_{in}, D, H, W)`, weight :math:`(C_{out}, C_{in} / groups, kD, kH, kW)`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Union[int, tuple],
                 stride: Union[int, tuple] = 1, padding: Union[str, int, tuple] = 0, dilation: Union[int, tuple] = 1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, _ntuple(kernel_size, 3), _ntuple(stride, 3),
                         padding if isinstance(padding, str) else _ntuple(padding, 3), _ntuple(dilation, 3), False,
                         (0, 0, 0), groups, bias, padding_mode, device=device, dtype=dtype)


class _ConvTransposeNd(_ConvNd):
    """The transposed convolutions' ``output_size`` (PyTorch's ``_ConvTransposeNd``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple, stride: tuple, padding: tuple,
                 dilation: tuple, transposed: bool, output_padding: tuple, groups: int, bias: bool, padding_mode: str,
                 device: Any = None, dtype: Any = None) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {self.__class__.__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, transposed,
                         output_padding, groups, bias, padding_mode, device=device, dtype=dtype)

    def _output_padding(self, input: Tensor, output_size: Optional[list], stride: list, padding: list,
                        kernel_size: list, num_spatial_dims: int, dilation: Optional[list] = None) -> list:
        if output_size is None:
            return list(_ntuple(self.output_padding, 1))
        has_batch_dim = input.dim() == num_spatial_dims + 2
        num_non_spatial_dims = 2 if has_batch_dim else 1
        if len(output_size) == num_non_spatial_dims + num_spatial_dims:
            output_size = output_size[num_non_spatial_dims:]
        if len(output_size) != num_spatial_dims:
            raise ValueError(f"ConvTranspose{num_spatial_dims}D: for {input.dim()}D input, output_size must have "
                             f"{num_spatial_dims} or {num_non_spatial_dims + num_spatial_dims} elements "
                             f"(got {len(output_size)})")
        min_sizes = [(input.size(d + num_non_spatial_dims) - 1) * stride[d] - 2 * padding[d]
                     + (dilation[d] if dilation is not None else 1) * (kernel_size[d] - 1) + 1
                     for d in range(num_spatial_dims)]
        max_sizes = [m + s - 1 for m, s in zip(min_sizes, stride)]
        for size, lo, hi in zip(output_size, min_sizes, max_sizes):
            if size < lo or size > hi:
                raise ValueError(f"requested an output size of {output_size}, but valid sizes range from {min_sizes} "
                                 f"to "
                                 f"{max_sizes} (for an input of {Size(input.size()[2:])})")
        return [output_size[d] - min_sizes[d] for d in range(num_spatial_dims)]

    def forward(self, input: Tensor, output_size: Optional[list] = None) -> Tensor:
        nd = len(self.kernel_size)
        output_padding = self._output_padding(input, output_size, self.stride, self.padding, self.kernel_size, nd,
                                              self.dilation)
        conv = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[nd - 1]
        return conv(input, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups,
                    self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    r"""Applies a 1D transposed convolution operator over an input image composed of several input planes:
    weight :math:`(C_{in}, C_{out} / groups, k)`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Union[int, tuple],
                 stride: Union[int, tuple] = 1, padding: Union[int, tuple] = 0,
                 output_padding: Union[int, tuple] = 0, groups: int = 1, bias: bool = True,
                 dilation: Union[int, tuple] = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, _ntuple(kernel_size, 1), _ntuple(stride, 1),
                         _ntuple(padding, 1), _ntuple(dilation, 1), True, _ntuple(output_padding, 1), groups, bias,
                         padding_mode, device=device, dtype=dtype)


class ConvTranspose2d(_ConvTransposeNd):
    r"""Applies a 2D transposed convolution operator over an input image composed of several input planes:
    weight :math:`(C_{in}, C_{out} / groups, kH, kW)`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Union[int, tuple],
                 stride: Union[int, tuple] = 1, padding: Union[int, tuple] = 0,
                 output_padding: Union[int, tuple] = 0, groups: int = 1, bias: bool = True,
                 dilation: Union[int, tuple] = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, _ntuple(kernel_size, 2), _ntuple(stride, 2),
                         _ntuple(padding, 2), _ntuple(dilation, 2), True, _ntuple(output_padding, 2), groups, bias,
                         padding_mode, device=device, dtype=dtype)


class ConvTranspose3d(_ConvTransposeNd):
    r"""Applies a 3D transposed convolution operator over an input image composed of several input planes:
    weight :math:`(C_{in}, C_{out} / groups, kD, kH, kW)`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Union[int, tuple],
                 stride: Union[int, tuple] = 1, padding: Union[int, tuple] = 0,
                 output_padding: Union[int, tuple] = 0, groups: int = 1, bias: bool = True,
                 dilation: Union[int, tuple] = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, _ntuple(kernel_size, 3), _ntuple(stride, 3),
                         _ntuple(padding, 3), _ntuple(dilation, 3), True, _ntuple(output_padding, 3), groups, bias,
                         padding_mode, device=device, dtype=dtype)


class _LazyConvXdMixin(LazyModuleMixin):
    """The lazy convolutions' initialization: ``in_channels`` from the first input's channel dim."""

    groups: int
    transposed: bool
    in_channels: int
    out_channels: int
    kernel_size: tuple
    weight: UninitializedParameter
    bias: UninitializedParameter

    def _lazy_init(self, out_channels: int, bias: bool, factory_kwargs: dict) -> None:
        self.weight = UninitializedParameter(**factory_kwargs)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(**factory_kwargs)

    def reset_parameters(self) -> None:
        """Initialize as the convolution once the parameters have their shapes."""
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor, *args: Any, **kwargs: Any) -> None:
        """Materialize ``weight`` and ``bias`` with ``in_channels`` taken from ``input``, and initialize them."""
        if self.has_uninitialized_params():
            self.in_channels = self._get_in_channels(input)
            if self.in_channels % self.groups != 0:
                raise ValueError("in_channels must be divisible by groups")
            if self.transposed:
                self.weight.materialize((self.in_channels, self.out_channels // self.groups, *self.kernel_size))
            else:
                self.weight.materialize((self.out_channels, self.in_channels // self.groups, *self.kernel_size))
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()

    def _get_in_channels(self, input: Tensor) -> int:
        no_batch = len(self.kernel_size) + 1
        if input.dim() not in (no_batch, no_batch + 1):
            raise RuntimeError(f"Expected {no_batch}D (unbatched) or {no_batch + 1}D (batched) input to "
                               f"{self.__class__.__name__}, but got input of size: {input.shape}")
        return input.shape[1] if input.dim() == no_batch + 1 else input.shape[0]


class LazyConv1d(_LazyConvXdMixin, Conv1d):
    r"""A :class:`Conv1d` whose ``in_channels`` is inferred from its first input (``input.size(1)``);
    it then becomes a :class:`Conv1d`."""

    cls_to_become = Conv1d

    def __init__(self, out_channels: int, kernel_size: Union[int, tuple], stride: Union[int, tuple] = 1,
                 padding: Union[str, int, tuple] = 0, dilation: Union[int, tuple] = 1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False, padding_mode, **factory_kwargs)
        self._lazy_init(out_channels, bias, factory_kwargs)


class LazyConv2d(_LazyConvXdMixin, Conv2d):
    r"""A :class:`Conv2d` whose ``in_channels`` is inferred from its first input (``input.size(1)``);
    it then becomes a :class:`Conv2d`."""

    cls_to_become = Conv2d

    def __init__(self, out_channels: int, kernel_size: Union[int, tuple], stride: Union[int, tuple] = 1,
                 padding: Union[str, int, tuple] = 0, dilation: Union[int, tuple] = 1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False, padding_mode, **factory_kwargs)
        self._lazy_init(out_channels, bias, factory_kwargs)


class LazyConv3d(_LazyConvXdMixin, Conv3d):
    r"""A :class:`Conv3d` whose ``in_channels`` is inferred from its first input (``input.size(1)``);
    it then becomes a :class:`Conv3d`."""

    cls_to_become = Conv3d

    def __init__(self, out_channels: int, kernel_size: Union[int, tuple], stride: Union[int, tuple] = 1,
                 padding: Union[str, int, tuple] = 0, dilation: Union[int, tuple] = 1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False, padding_mode, **factory_kwargs)
        self._lazy_init(out_channels, bias, factory_kwargs)


class LazyConvTranspose1d(_LazyConvXdMixin, ConvTranspose1d):
    r"""A :class:`ConvTranspose1d` whose ``in_channels`` is inferred from its first input
    (``input.size(1)``); it then becomes a :class:`ConvTranspose1d`."""

    cls_to_become = ConvTranspose1d

    def __init__(self, out_channels: int, kernel_size: Union[int, tuple], stride: Union[int, tuple] = 1,
                 padding: Union[int, tuple] = 0, output_padding: Union[int, tuple] = 0, groups: int = 1,
                 bias: bool = True, dilation: Union[int, tuple] = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False, dilation, padding_mode,
                         **factory_kwargs)
        self._lazy_init(out_channels, bias, factory_kwargs)


class LazyConvTranspose2d(_LazyConvXdMixin, ConvTranspose2d):
    r"""A :class:`ConvTranspose2d` whose ``in_channels`` is inferred from its first input
    (``input.size(1)``); it then becomes a :class:`ConvTranspose2d`."""

    cls_to_become = ConvTranspose2d

    def __init__(self, out_channels: int, kernel_size: Union[int, tuple], stride: Union[int, tuple] = 1,
                 padding: Union[int, tuple] = 0, output_padding: Union[int, tuple] = 0, groups: int = 1,
                 bias: bool = True, dilation: Union[int, tuple] = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False, dilation, padding_mode,
                         **factory_kwargs)
        self._lazy_init(out_channels, bias, factory_kwargs)


class LazyConvTranspose3d(_LazyConvXdMixin, ConvTranspose3d):
    r"""A :class:`ConvTranspose3d` whose ``in_channels`` is inferred from its first input
    (``input.size(1)``); it then becomes a :class:`ConvTranspose3d`."""

    cls_to_become = ConvTranspose3d

    def __init__(self, out_channels: int, kernel_size: Union[int, tuple], stride: Union[int, tuple] = 1,
                 padding: Union[int, tuple] = 0, output_padding: Union[int, tuple] = 0, groups: int = 1,
                 bias: bool = True, dilation: Union[int, tuple] = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False, dilation, padding_mode,
                         **factory_kwargs)
        self._lazy_init(out_channels, bias, factory_kwargs)
