"""``tape.nn``: ``Parameter``, ``Module`` and its machinery, the containers, layers and ``nn.init``
(torch-free; ``tests/test_nn_module_torch.py`` compares with PyTorch)."""
from __future__ import annotations

import copy
import pickle

import pytest

import tape
from tape import nn


# --- Tensor subclasses and Parameter -------------------------------------------------------------
class Sub(tape.Tensor):
    pass


def test_subclass_constructor_and_make_subclass():
    x = tape.ones(2, requires_grad=True)
    a = Sub(x)
    assert type(a) is Sub and a.grad_fn.name() == "AliasBackward0" and a.data_ptr() == x.data_ptr()
    assert type(Sub([1, 2])) is Sub and Sub([1, 2]).tolist() == [1.0, 2.0] and Sub(2, 3).shape == (2, 3)
    assert Sub().shape == (0,)
    m = tape.Tensor._make_subclass(Sub, x * 2, True)
    assert type(m) is Sub and m.is_leaf and m.requires_grad and m.tolist() == [2.0, 2.0]
    assert type(m * 2) is tape.Tensor
    with pytest.raises(TypeError, match="does not inherit from Tensor"):
        tape.Tensor._make_subclass(int, x)
    with pytest.raises(TypeError, match=r"argument 'data' \(position 2\) must be Tensor, not int"):
        tape.Tensor._make_subclass(Sub, 3)
    with pytest.raises(RuntimeError, match="Only Tensors of floating point and complex dtype"):
        tape.Tensor._make_subclass(Sub, tape.ones(2, dtype=tape.long), True)


def test_parameter_shares_storage_and_version():
    x = tape.ones(2, 3)
    p = nn.Parameter(x)
    assert isinstance(p, tape.Tensor) and type(p) is nn.Parameter
    assert p.is_leaf and p.requires_grad and p.grad_fn is None and p.data_ptr() == x.data_ptr()
    x.add_(1)
    assert p._version == 1 and p.tolist() == [[2.0] * 3] * 2
    for y in (p * 2, p.data, p.detach(), p.clone(), p[0], tape.exp(p), p.t(), p + x):
        assert type(y) is tape.Tensor
    (p * p).sum().backward()
    assert p.grad.tolist() == [[4.0] * 3] * 2 and type(p.grad) is tape.Tensor
    q = nn.Parameter(tape.ones(2, requires_grad=True) * 2)
    assert q.is_leaf and q.grad_fn is None
    assert nn.Parameter().shape == (0,) and nn.Parameter().requires_grad
    assert not nn.Parameter(x, requires_grad=False).requires_grad
    with pytest.raises(RuntimeError, match="Only Tensors of floating point"):
        nn.Parameter(tape.ones(2, dtype=tape.long))
    assert nn.Parameter(tape.ones(2, dtype=tape.long), requires_grad=False).dtype is tape.long
    s = nn.Parameter(tape.tensor(2.0))
    assert (s * s).item() == 4.0 and (tape.tensor(1.0) + s).item() == 3.0


def test_parameter_repr_copy_pickle():
    p = nn.Parameter(tape.ones(2, 2))
    assert repr(p) == "Parameter containing:\ntensor([[1., 1.],\n        [1., 1.]], requires_grad=True)"
    assert str(nn.Parameter(tape.ones(2), False)) == "Parameter containing:\ntensor([1., 1.])"
    d = copy.deepcopy(p)
    assert type(d) is nn.Parameter and d.requires_grad and d.data_ptr() != p.data_ptr() and d.tolist() == p.tolist()
    p.tag = "w"
    back = pickle.loads(pickle.dumps(p))
    assert type(back) is nn.Parameter and back.requires_grad and back.tolist() == p.tolist() and back.tag == "w"
    frozen = pickle.loads(pickle.dumps(nn.Parameter(tape.ones(1), requires_grad=False)))
    assert type(frozen) is nn.Parameter and not frozen.requires_grad


def test_parameter_of_another_subclass_and_buffer():
    with pytest.raises(RuntimeError, match="Creating a Parameter from an instance of type Sub requires that detach"):
        nn.Parameter(Sub([1.0]))
    x = tape.ones(2)
    b = nn.Buffer(x, persistent=False)
    assert type(b) is tape.Tensor and isinstance(b, nn.Buffer) and not isinstance(x, nn.Buffer)
    assert b.persistent is False and b.data_ptr() == x.data_ptr() and nn.Buffer().shape == (0,)
    assert not isinstance(x, nn.Parameter)


# --- Module ---------------------------------------------------------------------------------------
class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(tape.ones(2, 3))
        self.register_buffer("mean", tape.zeros(3))
        self.register_buffer("scratch", tape.zeros(1), persistent=False)
        self.inner = nn.Module()
        self.inner.b = nn.Parameter(tape.zeros(3))
        self.inner.register_buffer("count", tape.tensor(0))

    def forward(self, x):
        return x @ self.w + self.inner.b + self.mean


def test_module_registration_and_iteration():
    m = Net()
    assert [n for n, _ in m.named_parameters()] == ["w", "inner.b"]
    assert [n for n, _ in m.named_parameters(prefix="net", recurse=False)] == ["net.w"]
    assert [n for n, _ in m.named_buffers()] == ["mean", "scratch", "inner.count"]
    assert [n for n, _ in m.named_modules()] == ["", "inner"] and list(m.children()) == [m.inner]
    assert list(m.parameters())[0] is m.w and m.get_parameter("inner.b") is m.inner.b
    assert m.get_buffer("inner.count") is m.inner.count and m.get_submodule("inner") is m.inner
    m.inner.shared = m.w                # (a parameter of two modules is listed once, unless asked)
    assert len(list(m.parameters())) == 2
    assert [n for n, _ in m.named_parameters(remove_duplicate=False)] == ["w", "inner.b", "inner.shared"]
    m.w = None
    assert m.w is None and "w" in m._parameters and len(list(m.parameters())) == 2
    del m.inner.shared
    m.mean = tape.ones(3)               # (a registered buffer takes a plain tensor)
    assert m.get_buffer("mean").tolist() == [1.0] * 3
    m.extra = nn.Buffer(tape.ones(1), persistent=False)
    assert "extra" in m._buffers and "extra" in m._non_persistent_buffers_set
    m.plain = 3
    assert m.plain == 3 and "plain" in dir(m) and "inner" in dir(m)
    m.inner = nn.Module()               # (replacing a submodule; a Parameter name reused as a submodule)
    assert list(m.inner.parameters()) == []
    m.x = nn.Parameter(tape.ones(1))
    with pytest.raises(TypeError, match="cannot assign 'tape.nn.modules.module.Module' as parameter 'x'"):
        m.x = nn.Module()
    del m.x
    m.x = nn.Module()
    m.inner.x = nn.Module()
    m.inner.x = nn.Parameter(tape.ones(1))          # (a Parameter replaces a submodule of its name)
    assert "x" in m.inner._parameters and "x" not in m.inner._modules
    m.set_submodule("x", nn.Module())
    assert [n for n, _ in m.named_children()] == ["inner", "x"]


def test_module_registration_errors():
    class Early(nn.Module):
        def __init__(self, what) -> None:
            if what == "param":
                self.w = nn.Parameter(tape.ones(1))
            elif what == "module":
                self.m = nn.Module()
            else:
                self.register_buffer("b", tape.ones(1))

    for what, text in (("param", "cannot assign parameters before Module.__init__() call"),
                       ("module", "cannot assign module before Module.__init__() call"),
                       ("buffer", "cannot assign buffer before Module.__init__() call")):
        with pytest.raises(AttributeError, match=text.replace("(", r"\(").replace(")", r"\)")):
            Early(what)
    m = Net()
    with pytest.raises(TypeError, match=r"cannot assign 'torch.FloatTensor' as parameter 'w' \(torch.nn.Parameter "
                                        r"or None expected\)"):
        m.w = tape.ones(2, 3)
    with pytest.raises(TypeError, match=r"cannot assign 'int' as child module 'inner' \(torch.nn.Module or None"):
        m.inner = 3
    with pytest.raises(TypeError, match=r"cannot assign 'str' as buffer 'mean' \(torch.nn.Buffer, torch.Tensor"):
        m.mean = "x"
    with pytest.raises(KeyError, match="attribute 'forward' already exists"):
        m.register_parameter("forward", None)
    with pytest.raises(KeyError, match="parameter name can.+t contain \".\""):
        m.register_parameter("a.b", None)
    with pytest.raises(KeyError, match="buffer name can.+t be empty string"):
        m.register_buffer("", None)
    with pytest.raises(TypeError, match="parameter name should be a string. Got int"):
        m.register_parameter(1, None)
    with pytest.raises(TypeError, match=r"cannot assign 'torch.FloatTensor' object to parameter 'v' \(torch.nn."):
        m.register_parameter("v", tape.ones(1))
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'v'"):
        m.register_parameter("v", nn.Parameter(tape.ones(1), requires_grad=False).add_(tape.ones(1, requires_grad=True)))
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        m.add_module("k", 3)
    with pytest.raises(KeyError, match="module name can.+t contain \".\", got: a.b"):
        m.add_module("a.b", None)
    with pytest.raises(AttributeError, match="Net has no attribute `nope`"):
        m.get_submodule("nope")
    with pytest.raises(AttributeError, match="`w` is not an nn.Module"):
        m.get_submodule("w")
    with pytest.raises(AttributeError, match="`mean` is not an nn.Parameter"):
        m.get_parameter("mean")
    with pytest.raises(AttributeError, match="`w` is not a buffer"):
        m.get_buffer("w")
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'nope'"):
        m.nope
    with pytest.raises(TypeError, match=r"Net.__init__\(\) takes 1 positional argument but 2 were given"):
        nn.Module.__init__(m, 1)
    with pytest.raises(NotImplementedError, match='Module \\[Module\\] is missing the required "forward" function'):
        nn.Module()(tape.ones(1))
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        m.train(1)
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point or complex dtypes, but got "
                                        "desired dtype=torch.int64"):
        m.to(tape.int64)


def test_state_dict_round_trip_and_errors():
    m = Net()
    sd = m.state_dict()
    assert list(sd) == ["w", "mean", "inner.b", "inner.count"] and type(sd).__name__ == "OrderedDict"
    assert type(sd["w"]) is tape.Tensor and not sd["w"].requires_grad and sd["w"].data_ptr() == m.w.data_ptr()
    assert sd._metadata == {"": {"version": 1}, "inner": {"version": 1}}
    assert m.state_dict(keep_vars=True)["w"] is m.w and list(m.state_dict(prefix="p.")) [0] == "p.w"
    other = Net()
    with tape.no_grad():
        other.w.mul_(3)
    w = m.w
    result = m.load_state_dict(other.state_dict())
    assert repr(result) == "<All keys matched successfully>" and m.w is w and m.w.tolist() == [[3.0] * 3] * 2
    sd = other.state_dict()
    del sd["mean"]
    sd["extra"] = tape.ones(1)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd)
    assert str(e.value) == ('Error(s) in loading state_dict for Net:\n\tMissing key(s) in state_dict: "mean". '
                            '\n\tUnexpected key(s) in state_dict: "extra". ')
    keys = m.load_state_dict(sd, strict=False)
    assert keys.missing_keys == ["mean"] and keys.unexpected_keys == ["extra"]
    assert repr(keys) == "_IncompatibleKeys(missing_keys=['mean'], unexpected_keys=['extra'])"
    sd = other.state_dict()
    sd["w"] = tape.ones(3, 2)
    with pytest.raises(RuntimeError, match=r"size mismatch for w: copying a param with shape torch.Size\(\[3, 2\]\) "
                                           r"from checkpoint, the shape in current model is torch.Size\(\[2, 3\]\)."):
        m.load_state_dict(sd)
    sd["w"] = 3
    with pytest.raises(RuntimeError, match="While copying the parameter named \"w\", expected torch.Tensor"):
        m.load_state_dict(sd)
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like, got <class 'list'>."):
        m.load_state_dict([])
    new = tape.full((2, 3), 5.0)
    m.load_state_dict({**other.state_dict(), "w": new}, assign=True)
    assert type(m.w) is nn.Parameter and m.w.requires_grad and m.w.data_ptr() == new.data_ptr()


def test_state_dict_save_load(tmp_path):
    m = Net()
    with tape.no_grad():
        m.w.uniform_()
    tape.save(m.state_dict(), tmp_path / "m.pt")
    fresh = Net()
    fresh.load_state_dict(tape.load(tmp_path / "m.pt"))
    assert fresh.w.tolist() == m.w.tolist()


def test_conversions_keep_the_parameter_objects():
    m = Net()
    (m(tape.ones(1, 2)).sum()).backward()
    w, b = m.w, m.inner.b
    assert m.double() is m
    assert m.w is w and m.inner.b is b and w.dtype is tape.float64 and w.grad.dtype is tape.float64
    assert m.mean.dtype is tape.float64 and m.inner.count.dtype is tape.int64    # (integers stay)
    m.to(tape.float32)
    assert w.dtype is tape.float32 and w.requires_grad and w.is_leaf
    m.to("cpu", tape.float64)
    assert w.dtype is tape.float64
    m.to(tape.ones(1, dtype=tape.float32))
    assert w.dtype is tape.float32
    m.half()
    assert w.dtype is tape.float16
    m.float().cpu()
    assert w.dtype is tape.float32
    m.type(tape.float64)
    assert m.inner.count.dtype is tape.float64              # (``type`` converts every tensor)
    with pytest.raises(TypeError, match="to\\(\\) received an invalid combination of arguments"):
        m.to(3.5)


def test_modes_apply_zero_grad_requires_grad():
    m = Net()
    assert m.training and m.inner.training
    assert m.eval() is m and not m.inner.training
    m.train()
    assert m.inner.training
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Module", "Net"]
    m(tape.ones(1, 2)).sum().backward()
    m.zero_grad(set_to_none=False)
    assert m.w.grad.tolist() == [[0.0] * 3] * 2
    m.zero_grad()
    assert m.w.grad is None
    m.requires_grad_(False)
    assert not m.w.requires_grad and not m.inner.b.requires_grad


def test_repr_indents_children_and_extra_repr():
    class Leaf(nn.Module):
        def extra_repr(self) -> str:
            return "size=3"

    class Two(nn.Module):
        def extra_repr(self) -> str:
            return "a=1\nb=2"

    m = nn.Module()
    m.leaf = Leaf()
    m.two = Two()
    m.deep = nn.Module()
    m.deep.leaf = Leaf()
    m.add_module("none", None)
    assert repr(m) == ("Module(\n  (leaf): Leaf(size=3)\n  (two): Two(\n    a=1\n    b=2\n  )\n"
                       "  (deep): Module(\n    (leaf): Leaf(size=3)\n  )\n  (none): None\n)")


def test_forward_hooks():
    calls = []
    m = Net()
    x = tape.ones(1, 2)

    def pre(mod, args):
        calls.append("pre")
        return (args[0] * 2,)

    def pre_kw(mod, args, kwargs):
        calls.append("pre_kw")
        return args, kwargs

    def post(mod, args, out):
        calls.append("post")
        return out + 1

    def post_kw(mod, args, kwargs, out):
        calls.append("post_kw")

    h1 = m.register_forward_pre_hook(pre)
    h2 = m.register_forward_pre_hook(pre_kw, with_kwargs=True, prepend=True)
    h3 = m.register_forward_hook(post)
    m.register_forward_hook(post_kw, with_kwargs=True)
    out = m(x)
    assert calls == ["pre_kw", "pre", "post", "post_kw"] and out.tolist() == [[5.0] * 3]
    h1.remove()
    h3.remove()
    h2.remove()
    assert not m._forward_pre_hooks_with_kwargs and len(m._forward_hooks_with_kwargs) == 1
    assert m(x).tolist() == [[2.0] * 3]
    m.register_forward_pre_hook(lambda mod, args, kw: 3, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"forward pre-hook must return None or a tuple of \(new_args, new_kwargs\), "
                                           "but got 3."):
        m(x)


def test_forward_hook_always_call_and_global_hooks():
    from tape.nn.modules import module as module_mod

    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    seen = []
    m = Boom()
    m.register_forward_hook(lambda mod, args, out: seen.append(("always", out)), always_call=True)
    m.register_forward_hook(lambda mod, args, out: seen.append("never"))
    with pytest.raises(ValueError, match="boom"):
        m(tape.ones(1))
    assert seen == [("always", None)]
    h = module_mod.register_module_forward_hook(lambda mod, args, out: out * 10)
    hp = module_mod.register_module_forward_pre_hook(lambda mod, args: seen.append("global pre"))
    try:
        lin = Net()
        assert lin(tape.ones(1, 2)).tolist() == [[20.0] * 3] and seen[-1] == "global pre"
    finally:
        h.remove()
        hp.remove()
    assert Net()(tape.ones(1, 2)).tolist() == [[2.0] * 3]
    hr = module_mod.register_module_parameter_registration_hook(lambda mod, name, p: nn.Parameter(p * 0))
    try:
        assert Net().w.tolist() == [[0.0] * 3] * 2
    finally:
        hr.remove()


def test_module_deepcopy_and_pickle():
    m = Net()
    c = copy.deepcopy(m)
    assert c.w is not m.w and type(c.w) is nn.Parameter and c.w.tolist() == m.w.tolist()
    p = pickle.loads(pickle.dumps(m))
    assert type(p.inner.b) is nn.Parameter and [n for n, _ in p.named_buffers()] == ["mean", "scratch", "inner.count"]
