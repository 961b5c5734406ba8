# "Jacobians, Hessians, hvp, vhp, and more: composing function transforms"
# (pytorch.org/tutorials/intermediate/jacobians_hessians.html); the Jacobian sections (the timing
# sections are left out).
import torch
import torch.nn.functional as F
from functools import partial
from torch.func import jacrev, jacfwd, vmap, vjp, hessian, jvp, grad

_ = torch.manual_seed(0)


def predict(weight, bias, x):
    return F.linear(x, weight, bias).tanh()


D = 16
weight = torch.randn(D, D)
bias = torch.randn(D)
x = torch.randn(D)  # feature vector

primal = x.clone().requires_grad_()
cotangents = torch.eye(D)

# Sanity check that the jacobian computed above is correct...


def compute_jac(xp):
    jacobian_rows = [torch.autograd.grad(predict(weight, bias, xp), xp, vec)[0]
                     for vec in unit_vectors]
    return torch.stack(jacobian_rows)


xp = x.clone().requires_grad_()
unit_vectors = torch.eye(D)

jacobian = compute_jac(xp)

print(jacobian.shape)
print(jacobian[0])  # show first row

_, vjp_fn = vjp(partial(predict, weight, bias), x)

ft_jacobian, = vmap(vjp_fn)(unit_vectors)

# let's confirm both methods compute the same result
assert torch.allclose(ft_jacobian, jacobian)

ft_jacobian = jacrev(predict, argnums=2)(weight, bias, x)

# Confirm by running the following:
assert torch.allclose(ft_jacobian, jacobian)

ft_jac_weight, ft_jac_bias = jacrev(predict, argnums=(0, 1))(weight, bias, x)

print(ft_jac_weight.shape, ft_jac_bias.shape)
print(ft_jac_bias[:2, :4])

D = 16
weight = torch.randn(D, D)
bias = torch.randn(D)
x = torch.randn(D)

jacfwd_jac = jacfwd(predict, argnums=2)(weight, bias, x)
jacrev_jac = jacrev(predict, argnums=2)(weight, bias, x)
assert torch.allclose(jacfwd_jac, jacrev_jac)
print(jacfwd_jac[1, :4])

