"""Devices, as PyTorch's CPU-only build has them: ``tape.device``, ``device=`` arguments, ``tape.cuda``.

tape computes on the CPU.  Naming a CUDA device where a tensor would be made or moved
raises the error a CPU build of PyTorch raises, so code that checks
``torch.cuda.is_available()`` first runs unchanged.
"""
from __future__ import annotations

import builtins
import re
from typing import Optional, Union

# PyTorch's list of device types, in the order its error message gives them.
_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia",
          "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")
_SPEC = re.compile(r"([a-z]+)(?::(.*))?$")


class device:
    """A device: ``device('cpu')``, ``device('cuda', 0)``, ``device('cuda:1')``.

    Only ``cpu`` holds tensors; other types can be named (for comparisons and
    ``is_available()`` checks) but not used.
    """

    __slots__ = ("_type", "_index")

    def __init__(self, type: Union[str, "device", int], index: Optional[int] = None) -> None:
        if isinstance(type, device):
            if index is not None:
                raise TypeError("device() received an invalid combination of arguments - got (torch.device, int)")
            self._type, self._index = type._type, type._index
            return
        if isinstance(type, int) and not isinstance(type, bool):
            raise RuntimeError("Cannot access accelerator device when none is available.")
        if not isinstance(type, str):
            raise TypeError("device() received an invalid combination of arguments - got "
                            f"({builtins.type(type).__name__})")
        m = _SPEC.match(type)
        if m is None or m.group(1) not in _TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_TYPES)} device type at start of device string: {type}")
        kind, text = m.group(1), m.group(2)
        if text is not None:
            if index is not None:
                raise RuntimeError("type (string) must not include an index because index was passed "
                                   f"explicitly: {type}")
            if not text.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(text)
        if index is not None and index < 0:
            raise RuntimeError("Device index must not be negative")
        self._type, self._index = kind, index

    @property
    def type(self) -> str:
        return self._type

    @property
    def index(self) -> Optional[int]:
        return self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, device) and (self._type, self._index) == (other._type, other._index)

    def __hash__(self) -> int:
        return hash((self._type, self._index))

    def __repr__(self) -> str:
        if self._index is None:
            return f"device(type='{self._type}')"
        return f"device(type='{self._type}', index={self._index})"

    def __str__(self) -> str:
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __reduce__(self):
        return device, (str(self),)


CPU = device("cpu")
_default = CPU


def _unavailable(kind: str) -> Exception:
    if kind == "cuda":
        return AssertionError("Torch not compiled with CUDA enabled")
    return RuntimeError(f"tape computes on the CPU only: the '{kind}' device is not supported "
                        "(see README, 'Not yet')")


def check_device(d) -> None:
    """Raise PyTorch's error for a ``device=`` argument naming anything but the CPU (None: the default)."""
    if d is None:
        d = _default
    if not isinstance(d, device):
        d = device(d)
    if d._type != "cpu":
        raise _unavailable(d._type)


def set_default_device(device) -> None:
    """Set the device new tensors are made on; only ``'cpu'`` (or None) is available."""
    global _default
    if device is None:
        _default = CPU
        return
    kind = type(CPU)        # (the class ``device``, which the parameter of PyTorch's name hides)
    d = device if isinstance(device, kind) else kind(device)
    if d._type != "cpu":
        raise _unavailable(d._type)
    _default = CPU


def get_default_device() -> device:
    """The device new tensors are made on: always ``device(type='cpu')``."""
    return _default
