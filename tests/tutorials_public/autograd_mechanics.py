# "Autograd mechanics" notes (pytorch.org/docs/stable/notes/autograd.html): saved tensors, hooks for
# saved tensors, in-place correctness checks, locally disabling gradients, multithreading (complex
# autograd is left out: tape has no complex dtypes).
import threading

import torch

torch.manual_seed(0)

x = torch.randn(5, requires_grad=True)
y = x.pow(2)
print(x.equal(y.grad_fn._saved_self))  # True
print(x is y.grad_fn._saved_self)  # True

x = torch.randn(5, requires_grad=True)
y = x.exp()
print(y.equal(y.grad_fn._saved_result))  # True
print(y is y.grad_fn._saved_result)  # False

# Locally disabling gradient computation
x = torch.zeros(1, requires_grad=True)
with torch.no_grad():
    y = x * 2
print(y.requires_grad)

is_train = False
with torch.set_grad_enabled(is_train):
    y = x * 2
print(y.requires_grad)

torch.set_grad_enabled(True)  # this can also be used as a function
y = x * 2
print(y.requires_grad)

torch.set_grad_enabled(False)
y = x * 2
print(y.requires_grad)
torch.set_grad_enabled(True)

# In-place correctness checks
a = torch.tensor([1., 2., 3.], requires_grad=True)
b = a.sigmoid()
b.mul_(2)
try:
    b.sum().backward()
except RuntimeError as e:
    print(str(e).split(";")[0])

a = torch.tensor([1., 2., 3.], requires_grad=True)
b = a * 3
c = b.exp()
b.add_(1)
try:
    c.sum().backward()
except RuntimeError as e:
    print(str(e)[:70])
print(b._version)


# Multithreading: Define a train function to be used in different threads
def train_fn():
    x = torch.ones(5, 5, requires_grad=True)
    # forward
    y = (x + 3) * (x + 4) * 0.5
    # backward
    y.sum().backward()
    # potential optimizer update
    results.append(x.grad.sum().item())


# User write their own threading code to drive the train_fn
results = []
threads = []
for _ in range(10):
    p = threading.Thread(target=train_fn, args=())
    p.start()
    threads.append(p)

for p in threads:
    p.join()
print(results)

# Hooks for saved tensors
x = torch.randn(5, requires_grad=True)
y = x.pow(2)
y.grad_fn._raw_saved_self.register_hooks(lambda t: t * 1, lambda t: t * 10)
y.sum().backward()
print(torch.allclose(x.grad, 20 * x))


class SelfDeletingTempFile():
    def __init__(self):
        self.name = len(store)

    def __del__(self):
        store.pop(self.name, None)


store = {}


def pack_hook(tensor):
    temp_file = SelfDeletingTempFile()
    store[temp_file.name] = tensor.clone()
    return temp_file


def unpack_hook(temp_file):
    return store[temp_file.name]


x = torch.randn(5, requires_grad=True)
y = x.pow(2)
y.grad_fn._raw_saved_self.register_hooks(pack_hook, unpack_hook)
y.sum().backward()
print(torch.equal(x.grad, 2 * x))


def pack_hook(x):
    print("Packing", x)
    return x


def unpack_hook(x):
    print("Unpacking", x)
    return x


a = torch.ones(5, requires_grad=True)
b = torch.ones(5, requires_grad=True) * 2
with torch.autograd.graph.saved_tensors_hooks(pack_hook, unpack_hook):
    y = a * b
y.sum().backward()


# Only save on disk tensors that have size >= 1000 (here: >= 4)
SAVE_ON_DISK_THRESHOLD = 4
stash = []


def pack_hook(x):
    if x.numel() < SAVE_ON_DISK_THRESHOLD:
        return x
    stash.append(x.detach().clone())
    return len(stash) - 1


def unpack_hook(tensor_or_sctf):
    if isinstance(tensor_or_sctf, torch.Tensor):
        return tensor_or_sctf
    return stash[tensor_or_sctf]


class Model(torch.nn.Module):
    def forward(self, x):
        with torch.autograd.graph.saved_tensors_hooks(pack_hook, unpack_hook):
            # ... compute output
            output = x.sin() * x[:2].sum()
        return output


model = Model()
x = torch.randn(5, requires_grad=True)
model(x).sum().backward()
print(len(stash), x.grad)

x = torch.randn(5, requires_grad=True)
with torch.autograd.graph.save_on_cpu():
    y = x.pow(2).sin()
y.sum().backward()
print(torch.allclose(x.grad, 2 * x * x.pow(2).cos()))

# Backward hooks execution
t = torch.tensor(1., requires_grad=True).sin()
t.register_hook(lambda g: g * 2)
t.retain_grad()
t.register_hook(lambda g: g + 1)
t.exp().backward()
print(t.grad)
