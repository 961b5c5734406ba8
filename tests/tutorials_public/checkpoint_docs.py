# torch.utils.checkpoint docs (pytorch.org/docs/stable/checkpoint.html): checkpoint,
# checkpoint_sequential, and a selective-checkpoint policy.
import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint, checkpoint_sequential

torch.manual_seed(0)


def run_function(x, w):
    return torch.relu(x @ w).sin()


x = torch.randn(4, 3, requires_grad=True)
w = torch.randn(3, 3, requires_grad=True)
out = checkpoint(run_function, x, w, use_reentrant=False)
out.sum().backward()
print(out)
print(x.grad, w.grad, sep="\n")

model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2))
input_var = torch.randn(5, 3, requires_grad=True)
chunks = 2
out = checkpoint_sequential(model, chunks, input_var, use_reentrant=False)
out.pow(2).mean().backward()
print(out)
print(input_var.grad[:2])
print(model[0].bias.grad)

# Selective activation checkpoint
from torch.utils.checkpoint import create_selective_checkpoint_contexts, CheckpointPolicy
from functools import partial

ops_to_save = [
    torch.ops.aten.mm.default,
]


def policy_fn(ctx, op, *args, **kwargs):
    if op in ops_to_save:
        return CheckpointPolicy.MUST_SAVE
    else:
        return CheckpointPolicy.PREFER_RECOMPUTE


context_fn = partial(create_selective_checkpoint_contexts, policy_fn)


def fn(x, y):
    return torch.sigmoid(torch.matmul(torch.matmul(x, y), y)) * y


x = torch.randn(3, 3, requires_grad=True)
y = torch.randn(3, 3, requires_grad=True)
out = torch.utils.checkpoint.checkpoint(
    fn, x, y,
    use_reentrant=False,
    context_fn=context_fn,
)
out.sum().backward()
print(x.grad, y.grad, sep="\n")
