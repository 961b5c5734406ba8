"""ATen's functions under the layers, at PyTorch's top level: ``native_layer_norm``,
``native_batch_norm``, ``native_group_norm`` (the normalized tensor, through the layer's own row,
with the statistics the backward of PyTorch's kernel saves), ``native_dropout`` (the output and its
mask; ``NativeDropoutBackward0``), ``native_channel_shuffle`` (behind ``NotImplemented``, as
PyTorch's), ``norm_except_dim`` (PyTorch's composition) and ``ctc_loss`` (the reduction as ATen's
enum).

The statistics are plain tensors: PyTorch's ``native_group_norm`` shows its node on them too,
through which no gradient flows but that of the output.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from .._emit import D, Tensor, node_in, plain, recorded, state, write_tape
from ._rule import rule_adjoint
from ._spec import PYTHON, Op, public, public_function, register, tangents
from .counting import N_CHANNEL_SHUFFLE, _nodiff
from .ctc import ctc_loss as _ctc_loss
from .normalization import _stats, batch_norm, group_norm, layer_norm
from .shuffle import channel_shuffle
from .stats import aten_norm

NATIVE_DROPOUT = PYTHON.start + 230
# (the mask, scaled, is the row's hidden second input: a constant)
register(Op(NATIVE_DROPOUT, "native_dropout", "NativeDropoutBackward0", 0,
            lambda g, xs, y, r: (g * xs[1], None), py_adjoint=rule_adjoint, arity=2, nondiff=(1,)))
tangents({NATIVE_DROPOUT: lambda ts, xs, y, r: ts[0] * xs[1]})


def _plain_stats(v: np.ndarray, axes: tuple, eps: float, dtype: D.dtype, shape: tuple) -> tuple:
    mean, _, _, rstd = _stats(v, axes, eps)
    return plain(mean.astype(dtype.np).reshape(shape), dtype), plain(rstd.astype(dtype.np).reshape(shape), dtype)


@public("native_layer_norm", method=False)
def native_layer_norm(input: Tensor, normalized_shape: Sequence[int], weight: Optional[Tensor],
                      bias: Optional[Tensor], eps: float) -> tuple:
    """:func:`torch.layer_norm`'s output, with the mean and ``1 / sqrt(var + eps)`` of each
    normalized slice (keeping its dims as ones)."""
    out = layer_norm(input, normalized_shape, weight, bias, eps)
    k = len(tuple(normalized_shape))
    keep = input._shape[:input.dim() - k] + (1,) * k
    return (out,) + _plain_stats(input._value(), tuple(range(input.dim() - k, input.dim())), eps, input._dtype, keep)


@public("native_batch_norm", method=False)
def native_batch_norm(input: Tensor, weight: Optional[Tensor], bias: Optional[Tensor],
                      running_mean: Optional[Tensor], running_var: Optional[Tensor], training: bool,
                      momentum: float, eps: float) -> tuple:
    """:func:`torch.batch_norm`'s output (the running statistics updated in ``training``), with the
    batch's mean and ``1 / sqrt(var + eps)`` per channel in ``training``, empty tensors otherwise."""
    v = input._value()
    out = batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps)
    dt = input._dtype
    if not training:
        return out, plain(np.zeros(0, dt.np), dt), plain(np.zeros(0, dt.np), dt)
    axes = (0,) + tuple(range(2, v.ndim))
    return (out,) + _plain_stats(v, axes, eps, dt, (input._shape[1],))


@public("native_group_norm", method=False)
def native_group_norm(input: Tensor, weight: Optional[Tensor], bias: Optional[Tensor], N: int, C: int, HxW: int,
                      group: int, eps: float) -> tuple:
    """:func:`torch.group_norm`'s output for ``input`` of ``N`` samples of ``C`` channels of
    ``HxW`` elements, with the mean and ``1 / sqrt(var + eps)`` of each sample's groups, ``(N, group)``."""
    if input.numel() != N * C * HxW:
        raise RuntimeError(f"Expected input.numel() == N * C * HxW to be true, but got false.  (Could this error "
                           "message be improved?  If so, please report an enhancement request to PyTorch.)")
    out = group_norm(input, group, weight, bias, eps)
    v = input._value().reshape(N, group, -1)
    return (out,) + _plain_stats(v, (2,), eps, input._dtype, (N, group))


@public("native_dropout", method=False)
def native_dropout(input: Tensor, p: float, train: Optional[bool]) -> tuple:
    """``input`` with each element zeroed with probability ``p`` and the others scaled by
    ``1 / (1 - p)`` (in training, ``train`` None or True; the same draws as :func:`torch.dropout`),
    and the mask of the elements kept."""
    dt = input._dtype
    if input.numel() == 0:
        return input, plain(np.zeros(input._shape, dt.np), dt)
    if train is None or train:
        keep = plain(np.empty(input._shape, dt.np), dt).bernoulli_(1 - p)._value()
        scaled = keep / dt.np.type(1 - p) if p < 1 else keep * 0
    else:
        keep = scaled = np.ones(input._shape, dt.np)
    y = np.array(input._value() * scaled, dtype=dt.np, order="C")
    # (PyTorch's derivative scales by 1 / (1 - p) only for ``train`` given True)
    slope = scaled if train else keep
    flags = plain(keep.astype(bool), D.bool_)
    if not (state.grad and input._rg):
        return plain(y, dt), flags
    tape = write_tape()
    nodes = [node_in(tape, t, dt, y.shape) for t in (input, plain(np.array(slope, dt.np), dt))]
    node = tape.append(NATIVE_DROPOUT, dt.arena, y, *nodes)
    tape.args[node] = (("p", float(p)), ("result1", flags))
    return recorded(tape, node, y, dt), flags


@public("native_channel_shuffle", method=False)
def native_channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """:func:`torch.channel_shuffle`'s value; PyTorch gives it no derivative."""
    y = channel_shuffle(input.detach(), groups)
    return _nodiff(np.array(y._value(), order="C"), N_CHANNEL_SHUFFLE, input)


@public_function("norm_except_dim")
def norm_except_dim(v: Tensor, pow: int = 2, dim: int = 0) -> Tensor:
    """The ``pow``-norm of ``v`` over every dim but ``dim``, shaped as ``v`` with ones elsewhere (of
    all of ``v`` for ``dim=-1``): weight normalization's norm."""
    if dim == -1:
        return aten_norm(v, pow, None, False)
    last = v.dim() - 1
    if dim == 0 or dim == last:
        size = [1] * v.dim()
        size[dim] = v._shape[dim]
        flat = v.contiguous().view(v._shape[0], -1) if dim == 0 else v.contiguous().view(-1, v._shape[last])
        return aten_norm(flat, pow, 1 if dim == 0 else 0, False).view(size)
    return norm_except_dim(v.transpose(0, dim), pow, 0).transpose(0, dim)


@public("ctc_loss", method=False)
def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths: Union[Tensor, Sequence[int]],
             target_lengths: Union[Tensor, Sequence[int]], blank: int = 0, reduction: int = 1,
             zero_infinity: bool = False) -> Tensor:
    """:func:`torch.nn.functional.ctc_loss` with ``reduction`` as ATen's enum (1 mean, 2 sum, any
    other value none, as ATen reads it)."""
    how = "mean" if reduction == 1 else "sum" if reduction == 2 else "none"
    return _ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, how, zero_infinity)
