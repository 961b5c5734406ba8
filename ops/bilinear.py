"""``torch.bilinear`` (``nn.functional.bilinear``): ``y = x1^T A x2 + b`` over the last dims.

PyTorch composes it (``aten/src/ATen/native/Linear.cpp``): both inputs flattened to matrices, the
trilinear product of ``_trilinear``, a ``reshape`` back (``ViewBackward0``) and the bias added
(``AddBackward0``).  Here the product is an ``einsum`` of the three operands, so the top node is
PyTorch's and the one under it ``einsum``'s (PyTorch's is ``TrilinearBackward0``).
"""
from __future__ import annotations

from typing import Optional

from .._emit import Tensor
from ._spec import public_function
from .einsum import einsum

# (the names PyTorch's message gives the dtypes: TypeMeta's)
_TYPE_META = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
              "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
              "uint8": "unsigned char", "bool": "bool"}


def _type_meta(t: Tensor) -> str:
    name = str(t.dtype).replace("torch.", "")
    return _TYPE_META.get(name, name)


@public_function("bilinear")
def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """Applies a bilinear transformation to the incoming data: ``y = x1^T A x2 + b``, ``weight``
    ``A`` of shape ``(out, in1, in2)``, the inputs ``(*, in1)`` and ``(*, in2)``."""
    for k, (name, t) in enumerate((("input1", input1), ("input2", input2), ("weight", weight), ("bias", bias))):
        if not isinstance(t, Tensor) and (t is not None or k < 3):
            raise TypeError(f"bilinear(): argument '{name}' (position {k + 1}) must be Tensor, not {type(t).__name__}")
    given = [("input1", input1), ("input2", input2), ("weight", weight)]
    given += [("bias", bias)] if bias is not None else []
    if len({t.dtype for _, t in given}) > 1:
        raise RuntimeError("All tensors must have the same dtype, got "
                           + ", ".join(f"{name}: {_type_meta(t)}" for name, t in given))
    if input1.dim() != input2.dim():
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.dim()} and {input2.dim()}")
    for i in range(input1.dim() - 1):
        if input1.size(i) != input2.size(i):
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: got "
                               f"{input1.size(i)} and {input2.size(i)}")
    if input1.size(-1) != weight.size(1):
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got {input1.size(-1)} but "
                           f"expected {weight.size(1)}")
    if input2.size(-1) != weight.size(2):
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got {input2.size(-1)} but "
                           f"expected {weight.size(2)}")
    if bias is not None and bias.size(0) != weight.size(0):
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got {bias.size(0)} but "
                           f"expected {weight.size(0)}")
    output_size = tuple(input1.shape[:-1]) + (weight.size(0),)
    out = einsum("bi,oij,bj->bo", input1.reshape(-1, input1.size(-1)), weight,
                 input2.reshape(-1, input2.size(-1))).reshape(output_size)
    return out if bias is None else out + bias
