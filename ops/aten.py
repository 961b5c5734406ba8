"""``tape.ops.aten``: names for ops as PyTorch's dispatcher calls them (``tape.ops.aten.mm.default``).

Selective checkpointing (``tape.utils.checkpoint.create_selective_checkpoint_contexts``) hands a
policy each op a segment ran as one of these objects, so that policies written for PyTorch (lists
such as ``[torch.ops.aten.mm.default]``, or ``op == torch.ops.aten.addmm.default``) run unchanged.
An op is named after the node PyTorch records for it (``MmBackward0`` -> ``aten.mm.default``,
``SumBackward1`` -> ``aten.sum.dim_IntList``), by ``of_node``.  Any name can be spelled (an op tape
does not have is simply never handed to a policy).
"""
from __future__ import annotations

import re

__all__ = ["OpOverload", "OpOverloadPacket", "of_node"]


class OpOverload:
    """One overload of an op, ``aten.<name>.<overload>`` (PyTorch's ``torch._ops.OpOverload``)."""

    __slots__ = ("_name", "_overloadname", "overloadpacket")

    def __init__(self, packet: "OpOverloadPacket", overload: str) -> None:
        self._name = packet._name
        self._overloadname = overload
        self.overloadpacket = packet

    namespace = "aten"

    def name(self) -> str:
        return f"aten::{self._name}" + ("" if self._overloadname == "default" else f".{self._overloadname}")

    def __str__(self) -> str:
        return f"aten.{self._name}.{self._overloadname}"

    def __repr__(self) -> str:
        return f"<OpOverload(op='aten.{self._name}', overload='{self._overloadname}')>"


class OpOverloadPacket:
    """An op with its overloads as attributes, ``aten.<name>`` (PyTorch's ``torch._ops.OpOverloadPacket``)."""

    __slots__ = ("_name", "_overloads")

    def __init__(self, name: str) -> None:
        self._name = name
        self._overloads = {}

    def __getattr__(self, overload: str) -> OpOverload:
        if overload.startswith("__"):
            raise AttributeError(overload)
        op = self._overloads.get(overload)
        if op is None:
            op = self._overloads[overload] = OpOverload(self, overload)
        return op

    def __str__(self) -> str:
        return f"aten.{self._name}"

    def __repr__(self) -> str:
        return f"<OpOverloadPacket(op='aten.{self._name}')>"


_PACKETS: dict = {}


def __getattr__(name: str) -> OpOverloadPacket:
    if name.startswith("__"):
        raise AttributeError(name)
    packet = _PACKETS.get(name)
    if packet is None:
        packet = _PACKETS[name] = OpOverloadPacket(name)
    return packet


# The aten name of a node's op where it is not the node's name in snake case, and the overload
# the dispatcher runs (by the node's number where PyTorch numbers a family's forms).
_RENAMED = {"unsafe_view": "_unsafe_view", "softmax": "_softmax", "log_softmax": "_log_softmax",
            "reshape_alias": "_reshape_alias", "copy_slices": "copy_", "copy_backwards": "copy_"}
_OVERLOADS = {
    "add": "Tensor", "sub": "Tensor", "mul": "Tensor", "div": "Tensor", "rsub": "Scalar", "select": "int",
    "slice": "Tensor", "transpose": "int", "where": "self", "index": "Tensor", "split": "Tensor", "unbind": "int",
    "split_with_sizes": "default", "clamp": "default", "eq": "Tensor", "masked_fill": "Scalar", "gather": "default",
    "pow": ("Tensor_Scalar", "Tensor_Tensor", "Scalar"), "sum": ("default", "dim_IntList"),
    "mean": ("default", "dim"), "max": ("dim", "default"), "min": ("dim", "default"), "squeeze": (
        "default", "dim", "dims", "dims", "dims"), "prod": ("default", "dim_int"), "var": ("correction",),
    "std": ("correction",), "var_mean": ("correction",), "std_mean": ("correction",), "median": ("default", "dim"),
    "nanmedian": ("default", "dim"),
    "sort": ("default", "stable"), "norm": ("Scalar", "ScalarOpt_dim"), "maximum": "default",
}


def of_node(node_name: str) -> OpOverload:
    """The op that records a node named ``node_name`` (``MulBackward0`` -> ``aten.mul.Tensor``)."""
    m = re.fullmatch(r"(?:torch::autograd::)?(\w+?)(?:Backward(\d*))?", node_name)
    base, number = m.group(1), int(m.group(2) or 0)
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", base).lower()
    name = _RENAMED.get(name, name)
    overload = _OVERLOADS.get(name, "default")
    if isinstance(overload, tuple):
        overload = overload[min(number, len(overload) - 1)]
    return getattr(__getattr__(name), overload)
