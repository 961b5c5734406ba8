# "Jacobians, Hessians, hvp, vhp, and more: composing function transforms"
# (pytorch.org/tutorials/intermediate/jacobians_hessians.html): the Hessian section.
import torch
import torch.nn.functional as F
from functools import partial
from torch.func import jacrev, jacfwd, vmap, vjp, hessian, jvp, grad

_ = torch.manual_seed(0)


def predict(weight, bias, x):
    return F.linear(x, weight, bias).tanh()


Din = 8
Dout = 16
weight = torch.randn(Dout, Din)
bias = torch.randn(Dout)
x = torch.randn(Din)

# remember the general rule about taller vs wider... here we have a taller matrix:
print(weight.shape)

# Hessian computation
hess_api = hessian(predict, argnums=2)(weight, bias, x)
hess_fwdfwd = jacfwd(jacfwd(predict, argnums=2), argnums=2)(weight, bias, x)
hess_revrev = jacrev(jacrev(predict, argnums=2), argnums=2)(weight, bias, x)
print(hess_api.shape)
assert torch.allclose(hess_api, hess_fwdfwd)
assert torch.allclose(hess_api, hess_revrev)
print(hess_api[0, :2, :3])

