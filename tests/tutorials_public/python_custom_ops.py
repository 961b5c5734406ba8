# "Python Custom Operators" tutorial (pytorch.org/tutorials/advanced/python_custom_ops.html): crop and
# paste wrapped with torch.library.custom_op, a fake kernel, crop's gradient through paste with
# register_autograd, and a mutable numpy_sin.  numpy slicing stands in for PIL's crop and paste (no
# PIL/torchvision), the display calls print sums, and the torch.compile and opcheck sections are left
# out (tape has neither).
from typing import Sequence

import numpy as np
import torch


def display(img):
    print(tuple(img.shape), round(float(img.sum()), 4))


img = torch.ones(3, 64, 64)
img *= torch.linspace(0, 1, steps=64) * torch.linspace(0, 1, steps=64).unsqueeze(-1)
display(img)


# Use torch.library.custom_op to define a new custom operator.
# If your operator mutates any input Tensors, their names must be specified
# in the mutates_args argument.
@torch.library.custom_op("mylib::crop", mutates_args=())
def crop(pic: torch.Tensor, box: Sequence[int]) -> torch.Tensor:
    x0, y0, x1, y1 = box
    cropped = pic.cpu().numpy()[:, y0:y1, x0:x1].copy()
    return torch.from_numpy(cropped).to(pic.device, pic.dtype)


# Use register_fake to add a FakeTensor kernel for the operator
@crop.register_fake
def _(pic, box):
    channels = pic.shape[0]
    x0, y0, x1, y1 = box
    return pic.new_empty(channels, y1 - y0, x1 - x0)


cropped_img = crop(img, (10, 10, 50, 50))
display(cropped_img)
print(crop)
print(torch.ops.mylib.crop.default._schema)


@torch.library.custom_op("mylib::paste", mutates_args=())
def paste(im1: torch.Tensor, im2: torch.Tensor, coord: Sequence[int]) -> torch.Tensor:
    assert im1.device == im2.device
    assert im1.dtype == im2.dtype
    out = im1.cpu().numpy().copy()
    x, y = coord
    out[:, y:y + im2.shape[1], x:x + im2.shape[2]] = im2.cpu().numpy()
    return torch.from_numpy(out).to(im1.device, im1.dtype)


@paste.register_fake
def _(im1, im2, coord):
    assert im1.device == im2.device
    assert im1.dtype == im2.dtype
    return torch.empty_like(im1)


def backward(ctx, grad_output):
    grad_input = grad_output.new_zeros(ctx.pic_shape)
    grad_input = paste(grad_input, grad_output, ctx.coords)
    return grad_input, None


def setup_context(ctx, inputs, output):
    pic, box = inputs
    ctx.coords = box[:2]
    ctx.pic_shape = pic.shape


crop.register_autograd(backward, setup_context=setup_context)

img = img.requires_grad_()
result = crop(img, (10, 10, 50, 50))
print(result.grad_fn)
result.sum().backward()
display(img.grad)
print(img.grad[0, 9:12, 9:12])


@torch.library.custom_op("mylib::numpy_sin", mutates_args={"output"}, device_types="cpu")
def numpy_sin(input: torch.Tensor, output: torch.Tensor) -> None:
    assert input.device == output.device
    assert input.device.type == "cpu"
    input_np = input.numpy()
    output_np = output.numpy()
    np.sin(input_np, out=output_np)


def f(x):
    out = torch.empty(3)
    numpy_sin(x, out)
    return out


x = torch.randn(3)
y = f(x)
assert torch.allclose(y, x.sin())
print(torch.ops.mylib.numpy_sin.default._schema)
