# Common autograd patterns of public code: PINN derivatives with autograd.grad(create_graph=True),
# the WGAN-GP gradient penalty, a MAML-style second-order update with functional_call,
# Hessian-vector products, clip_grad_norm_, and a torch.func.functional_call training step.
import torch
import torch.nn as nn
from torch.func import functional_call

torch.manual_seed(0)

# --- PINN: u_t + u * u_x - (0.01 / pi) * u_xx = 0 (Burgers), collocation points
net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))
optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
x = (torch.rand(32, 1) * 2 - 1).requires_grad_()
t = torch.rand(32, 1, requires_grad=True)
for step in range(3):
    u = net(torch.cat([x, t], dim=1))
    u_x = torch.autograd.grad(u, x, grad_outputs=torch.ones_like(u), create_graph=True)[0]
    u_t = torch.autograd.grad(u, t, grad_outputs=torch.ones_like(u), create_graph=True)[0]
    u_xx = torch.autograd.grad(u_x, x, grad_outputs=torch.ones_like(u_x), create_graph=True)[0]
    f = u_t + u * u_x - (0.01 / torch.pi) * u_xx
    loss = torch.mean(f ** 2)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    print(step, f"{loss.item():.6f}")

# --- WGAN-GP gradient penalty
D = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))


def compute_gradient_penalty(D, real_samples, fake_samples):
    """Calculates the gradient penalty loss for WGAN GP"""
    # Random weight term for interpolation between real and fake samples
    alpha = torch.rand((real_samples.size(0), 1))
    # Get random interpolation between real and fake samples
    interpolates = (alpha * real_samples + ((1 - alpha) * fake_samples)).requires_grad_(True)
    d_interpolates = D(interpolates)
    fake = torch.ones(real_samples.shape[0], 1, requires_grad=False)
    # Get gradient w.r.t. interpolates
    gradients = torch.autograd.grad(
        outputs=d_interpolates,
        inputs=interpolates,
        grad_outputs=fake,
        create_graph=True,
        retain_graph=True,
        only_inputs=True,
    )[0]
    gradients = gradients.view(gradients.size(0), -1)
    gradient_penalty = ((gradients.norm(2, dim=1) - 1) ** 2).mean()
    return gradient_penalty


real = torch.randn(6, 4)
fake = torch.randn(6, 4)
gp = compute_gradient_penalty(D, real, fake)
d_loss = -torch.mean(D(real)) + torch.mean(D(fake)) + 10 * gp
d_loss.backward()
print(gp, D[0].weight.grad[0])

# --- MAML: one inner step with create_graph, meta-gradient through it
model = nn.Sequential(nn.Linear(1, 8), nn.ReLU(), nn.Linear(8, 1))
meta_opt = torch.optim.SGD(model.parameters(), lr=0.01)
loss_fn = nn.MSELoss()
for it in range(2):
    meta_opt.zero_grad()
    for task in range(2):
        amp, phase = 1.0 + task, 0.5 * task
        xs, xq = torch.rand(5, 1) * 4 - 2, torch.rand(5, 1) * 4 - 2
        ys, yq = amp * torch.sin(xs + phase), amp * torch.sin(xq + phase)
        params = dict(model.named_parameters())
        support_loss = loss_fn(functional_call(model, params, (xs,)), ys)
        grads = torch.autograd.grad(support_loss, params.values(), create_graph=True)
        fast = {name: p - 0.1 * g for (name, p), g in zip(params.items(), grads)}
        query_loss = loss_fn(functional_call(model, fast, (xq,)), yq)
        query_loss.backward()
    meta_opt.step()
    print(it, f"{query_loss.item():.6f}", model[0].weight.grad[:3, 0])

# --- Hessian-vector products
w = torch.randn(3, requires_grad=True)
A = torch.randn(3, 3)


def loss_of(w):
    return (A @ w).pow(3).sum() + w.exp().sum()


v = torch.tensor([1.0, 0.0, -1.0])
g, = torch.autograd.grad(loss_of(w), w, create_graph=True)
hv, = torch.autograd.grad(g, w, grad_outputs=v)
print(hv)
print(torch.autograd.functional.hvp(loss_of, w.detach(), v))
print(torch.autograd.functional.vhp(loss_of, w.detach(), v)[1])
gv = (g * v).sum()
try:        # (the first grad freed the graph)
    torch.autograd.grad(gv, w)
except RuntimeError as e:
    print(e)
g, = torch.autograd.grad(loss_of(w), w, create_graph=True)
print(torch.autograd.grad((g * v).sum(), w)[0])

# --- gradient clipping
model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
out = model(torch.randn(8, 4) * 10).pow(2).sum()
out.backward()
total_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
print(total_norm)
print(torch.stack([p.grad.norm() for p in model.parameters()]).norm())
print(torch.nn.utils.clip_grad_value_(model.parameters(), clip_value=0.01), model[2].bias.grad)
print(torch.nn.utils.get_total_norm([p.grad for p in model.parameters()], norm_type=float("inf")))

# --- functional_call training
model = nn.Linear(3, 1)
params = {k: v.detach().clone().requires_grad_() for k, v in model.named_parameters()}
opt = torch.optim.SGD(params.values(), lr=0.1)
xs = torch.randn(16, 3)
ys = xs @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
for step in range(5):
    pred = functional_call(model, params, (xs,))
    loss = nn.functional.mse_loss(pred, ys)
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"{loss.item():.6f}", params["weight"], params["bias"])
print(model.weight.grad)
