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
    assert repr(Sub([[1.0, 2.0], [3.0, 4.0]])) == "Sub([[1., 2.],\n     [3., 4.]])" == str(Sub([[1.0, 2.0], [3.0, 4.0]]))
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


def test_parameter_save_load(tmp_path):
    tape.save({"p": nn.Parameter(tape.ones(2)), "frozen": nn.Parameter(tape.ones(1), False), "t": tape.ones(1)},
              tmp_path / "p.pt")
    back = tape.load(tmp_path / "p.pt")
    assert type(back["p"]) is nn.Parameter and back["p"].requires_grad and back["p"].tolist() == [1.0, 1.0]
    assert type(back["frozen"]) is nn.Parameter and not back["frozen"].requires_grad and type(back["t"]) is tape.Tensor


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


# --- containers -----------------------------------------------------------------------------------
def test_sequential():
    a, b, c = nn.Tanh(), nn.ReLU(), nn.Sigmoid()
    s = nn.Sequential(a, b)
    assert len(s) == 2 and s[0] is a and s[-1] is b and list(s) == [a, b]
    assert type(s[0:1]) is nn.Sequential and list(s[0:1]) == [a]
    s.append(c).insert(0, nn.Identity())
    assert [type(m).__name__ for m in s] == ["Identity", "Tanh", "ReLU", "Sigmoid"]
    del s[0]
    assert list(s._modules) == ["0", "1", "2"] and s.pop(-1) is c
    s.extend([c])
    assert (s + nn.Sequential(a))[-1] is a and len(s * 2) == 6 and len(2 * s) == 6
    x = tape.tensor([[-1.0, 2.0]])
    assert s(x).tolist() == nn.Sigmoid()(nn.ReLU()(x.tanh())).tolist()
    named = nn.Sequential(__import__("collections").OrderedDict([("first", a), ("second", b)]))
    assert named.first is a and [n for n, _ in named.named_children()] == ["first", "second"]
    s[1] = nn.Identity()
    assert type(s[1]) is nn.Identity
    with pytest.raises(IndexError, match="index 5 is out of range"):
        s[5]
    with pytest.raises(ValueError, match="add operator supports only objects of Sequential class, but <class 'int'>"):
        s + 1
    with pytest.raises(ValueError, match="Non-positive multiplication factor 0 for"):
        s * 0
    with pytest.raises(IndexError, match="Index out of range: 9"):
        s.insert(9, a)
    assert "0" not in dir(s)


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.Tanh())
    assert repr(ml) == ("ModuleList(\n  (0-2): 3 x Linear(in_features=2, out_features=2, bias=True)\n  (3): Tanh()\n)")
    assert len(list(ml.parameters())) == 6 and type(ml[1:]) is nn.ModuleList and len(ml[1:]) == 3
    ml.insert(0, nn.ReLU())
    assert type(ml[0]) is nn.ReLU and type(ml.pop(0)) is nn.ReLU and len(ml) == 4
    ml += [nn.Identity()]
    assert len(ml + nn.ModuleList([nn.Identity()])) == 6
    with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable, but got int"):
        ml.extend(3)
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        ml.append(3)
    md = nn.ModuleDict({"b": nn.Tanh(), "a": nn.ReLU()})
    assert list(md) == ["b", "a"] and "a" in md and type(md["a"]) is nn.ReLU and len(md) == 2
    md.update([("c", nn.Identity())])
    assert list(md.keys()) == ["b", "a", "c"] and type(md.pop("c")) is nn.Identity
    with pytest.raises(ValueError, match="ModuleDict update sequence element #0 has length 1; 2 is required"):
        md.update([("x",)])
    md.clear()
    assert len(md) == 0 and repr(md) == "ModuleDict()"


def test_parameter_list_and_dict():
    pl = nn.ParameterList([tape.ones(2), nn.Parameter(tape.ones(3, dtype=tape.float64)), "text"])
    assert type(pl[0]) is nn.Parameter and pl[2] == "text" and len(pl) == 3
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"]
    assert repr(pl) == ("ParameterList(\n    (0): Parameter containing: [torch.float32 of size 2]\n"
                        "    (1): Parameter containing: [torch.float64 of size 3]\n    (2): Object of type: str\n)")
    assert len(pl[0:2]) == 2
    with pytest.raises(RuntimeError, match="ParameterList should not be called."):
        pl()
    with pytest.raises(TypeError, match="ParameterList.extend should be called with an iterable, but got Tensor"):
        pl.extend(tape.ones(2))
    pd = nn.ParameterDict({"b": tape.ones(2), "a": tape.ones(1, 2)})
    assert list(pd) == ["a", "b"] and type(pd["a"]) is nn.Parameter     # (a dict's keys are taken sorted)
    assert repr(pd) == ("ParameterDict(\n    (a): Parameter containing: [torch.FloatTensor of size 1x2]\n"
                        "    (b): Parameter containing: [torch.FloatTensor of size 2]\n)")
    pd["c"] = tape.zeros(1)
    assert list(pd.keys()) == ["a", "b", "c"] and pd.get("z", 5) == 5 and pd.setdefault("z", 1) == 1
    assert pd.popitem()[0] == "z" and list((pd | nn.ParameterDict({"d": tape.ones(1)})).keys())[-1] == "d"
    assert [n for n, _ in pd.named_parameters()] == ["a", "b", "c"] and list(reversed(pd)) == ["c", "b", "a"]
    with pytest.raises(TypeError, match="Index given to ParameterDict cannot be used as a key as it is not a string"):
        pd[1]
    with pytest.raises(RuntimeError, match="ParameterDict should not be called."):
        pd(1)
    pd.clear()
    assert len(pd) == 0


# --- layers ---------------------------------------------------------------------------------------
def test_linear():
    tape.manual_seed(0)
    lin = nn.Linear(4, 3)
    assert repr(lin) == "Linear(in_features=4, out_features=3, bias=True)"
    assert lin.weight.shape == (3, 4) and lin.bias.shape == (3,) and type(lin.weight) is nn.Parameter
    bound = 0.5          # (kaiming-uniform with a=sqrt(5): U(-1/sqrt(in), 1/sqrt(in)) for weight and bias)
    assert lin.weight.abs().max().item() <= bound and lin.bias.abs().max().item() <= bound
    x = tape.randn(2, 4)
    y = lin(x)
    assert y.grad_fn.name() == "AddmmBackward0"
    assert tape.allclose(y, x @ lin.weight.t() + lin.bias)
    assert lin(tape.randn(5, 2, 4)).shape == (5, 2, 3) and lin(tape.randn(5, 2, 4)).grad_fn.name() == "ViewBackward0"
    assert lin(tape.randn(4)).shape == (3,)
    nobias = nn.Linear(4, 3, bias=False, dtype=tape.float64)
    assert nobias.bias is None and nobias.weight.dtype is tape.float64 and "bias=False" in repr(nobias)
    assert nobias(tape.randn(2, 4, dtype=tape.float64)).grad_fn.name() == "MmBackward0"
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x5 and 4x3\)"):
        lin(tape.randn(2, 5))
    with pytest.raises(RuntimeError, match="both arguments to linear need to be at least 1D, but they are 0D and 2D"):
        lin(tape.tensor(1.0))
    tape.manual_seed(0)
    again = nn.Linear(4, 3)
    assert again.weight.tolist() == lin.weight.tolist()


def test_linear_gradients_to_third_order():
    tape.manual_seed(0)
    lin = nn.Linear(3, 2, dtype=tape.float64)
    x = tape.randn(4, 3, dtype=tape.float64, requires_grad=True)
    fn = lambda x, w, b: nn.functional.linear(x, w, b).tanh()
    inputs = (x, lin.weight, lin.bias)
    assert tape.autograd.gradcheck(fn, inputs) and tape.autograd.gradgradcheck(fn, inputs)


def test_modules_over_functional_activations():
    x = tape.tensor([[-2.0, -0.25, 0.5, 3.0], [1.0, -1.0, 0.0, 7.0]], requires_grad=True)
    F = nn.functional
    cases = [(nn.GELU("tanh"), F.gelu(x, approximate="tanh"), "GELU(approximate='tanh')"),
             (nn.SiLU(), F.silu(x), "SiLU()"), (nn.Mish(), F.mish(x), "Mish()"),
             (nn.Softplus(2, 5), F.softplus(x, 2, 5), "Softplus(beta=2, threshold=5)"),
             (nn.ELU(0.5), F.elu(x, 0.5), "ELU(alpha=0.5)"), (nn.CELU(2.0), F.celu(x, 2.0), "CELU(alpha=2.0)"),
             (nn.SELU(), F.selu(x), "SELU()"),
             (nn.LeakyReLU(0.1), F.leaky_relu(x, 0.1), "LeakyReLU(negative_slope=0.1)"),
             (nn.Hardtanh(-0.5, 2.0), F.hardtanh(x, -0.5, 2.0), "Hardtanh(min_val=-0.5, max_val=2.0)"),
             (nn.ReLU6(), F.relu6(x), "ReLU6()"), (nn.LogSigmoid(), F.logsigmoid(x), "LogSigmoid()"),
             (nn.Softsign(), F.softsign(x), "Softsign()"), (nn.Tanhshrink(), F.tanhshrink(x), "Tanhshrink()"),
             (nn.Softshrink(0.3), F.softshrink(x, 0.3), "Softshrink(0.3)"),
             (nn.Hardsigmoid(), F.hardsigmoid(x), "Hardsigmoid()"), (nn.Hardswish(), F.hardswish(x), "Hardswish()"),
             (nn.Softmin(1), F.softmin(x, 1), "Softmin(dim=1)"), (nn.GLU(0), F.glu(x, 0), "GLU(dim=0)")]
    for mod, want, text in cases:
        got = mod(x)
        assert repr(mod) == text and got.tolist() == want.tolist() and got.grad_fn.name() == want.grad_fn.name(), text
    for cls in (nn.SiLU, nn.Mish, nn.ELU, nn.CELU, nn.SELU, nn.LeakyReLU, nn.Hardtanh, nn.ReLU6, nn.Hardsigmoid,
                nn.Hardswish):
        mod, y = cls(inplace=True), x.detach().clone()
        assert mod(y) is y and y.tolist() == cls()(x).tolist(), cls
    # PyTorch's Hardsigmoid and Hardswish show no inplace flag
    assert repr(nn.ELU(inplace=True)) == "ELU(alpha=1.0, inplace=True)"
    assert repr(nn.ReLU6(True)) == "ReLU6(inplace=True)"
    assert repr(nn.Hardswish(True)) == "Hardswish()" and repr(nn.SiLU(True)) == "SiLU(inplace=True)"
    with pytest.warns(FutureWarning, match="keyword argument `min_value` is deprecated and renamed to `min_val`"):
        assert nn.Hardtanh(min_value=-3.0).min_val == -3.0
    with pytest.raises(AssertionError, match=r"max_val \(1.0\) must be greater than min_val \(2.0\)"):
        nn.Hardtanh(2.0)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin has been deprecated") as w:
        nn.Softmin()(x)
    assert w[0].filename == __file__


def test_dropout_module():
    tape.manual_seed(0)
    drop, x = nn.Dropout(0.25), tape.ones(400, dtype=tape.float64, requires_grad=True)
    assert repr(drop) == "Dropout(p=0.25, inplace=False)"
    y = drop(x)
    kept = y.detach() != 0
    assert 250 < int(kept.sum()) < 350 and set(y.detach().tolist()) == {0.0, 4.0 / 3.0}
    y.sum().backward()
    assert x.grad.tolist() == (kept.double() * (4.0 / 3.0)).tolist()
    assert drop.eval()(x) is x and nn.Dropout(0.0)(x).tolist() == x.tolist()
    h = tape.ones(10)
    assert nn.Dropout(1.0, inplace=True)(h) is h and h.tolist() == [0.0] * 10
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)


def test_loss_modules():
    F = nn.functional
    x = tape.tensor([[0.2, -1.0, 2.0], [1.5, 0.5, -0.5]], requires_grad=True)
    y = tape.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0]])
    labels, w = tape.tensor([2, 0]), tape.tensor([1.0, 2.0, 0.5])
    cases = [(nn.MSELoss(), F.mse_loss(x, y)), (nn.L1Loss(reduction="sum"), F.l1_loss(x, y, reduction="sum")),
             (nn.SmoothL1Loss(beta=0.5), F.smooth_l1_loss(x, y, beta=0.5)),
             (nn.HuberLoss(reduction="none", delta=0.5), F.huber_loss(x, y, reduction="none", delta=0.5)),
             (nn.SoftMarginLoss(), F.soft_margin_loss(x, y * 2 - 1)),
             (nn.BCELoss(w), F.binary_cross_entropy(x.sigmoid(), y, w)),
             (nn.BCEWithLogitsLoss(pos_weight=w), F.binary_cross_entropy_with_logits(x, y, pos_weight=w))]
    for mod, want in cases:
        target = y * 2 - 1 if isinstance(mod, nn.SoftMarginLoss) else y
        got = mod(x.sigmoid() if isinstance(mod, nn.BCELoss) else x, target)
        assert got.tolist() == want.tolist() and got.grad_fn.name() == want.grad_fn.name(), mod
    nll = nn.NLLLoss(weight=w, ignore_index=0)
    assert nll(x.log_softmax(1), labels).item() == F.nll_loss(x.log_softmax(1), labels, w, ignore_index=0).item()
    ce = nn.CrossEntropyLoss(w, label_smoothing=0.1)
    assert ce(x, labels).item() == F.cross_entropy(x, labels, w, label_smoothing=0.1).item()
    assert (ce.ignore_index, ce.reduction, ce.label_smoothing) == (-100, "mean", 0.1)
    assert repr(ce) == "CrossEntropyLoss()"
    # the weights are buffers: in the state dict, converted by ``double()``
    bce = nn.BCEWithLogitsLoss(w, pos_weight=w)
    assert list(bce.state_dict()) == ["weight", "pos_weight"] and list(nn.MSELoss().state_dict()) == []
    assert bce.double().weight.dtype is tape.float64 and bce.pos_weight.dtype is tape.float64
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated, please use reduction='sum'"):
        assert nn.MSELoss(size_average=False).reduction == "sum"
    with pytest.warns(UserWarning, match="please use reduction='none'"):
        assert nn.CrossEntropyLoss(reduce=False).reduction == "none"
    with pytest.raises(TypeError, match="delta must be a float or int, got: <class 'str'>"):
        nn.HuberLoss(delta="1")
    lp, probs = x.log_softmax(1), y.softmax(1)
    assert nn.KLDivLoss(reduction="batchmean")(lp, probs).item() == F.kl_div(lp, probs, reduction="batchmean").item()
    assert nn.PoissonNLLLoss(log_input=False, full=True)(x.exp(), y).item() == \
        F.poisson_nll_loss(x.exp(), y, log_input=False, full=True).item()
    var = tape.full((2, 1), 0.5)
    assert nn.GaussianNLLLoss(eps=0.1)(x, y, var).item() == F.gaussian_nll_loss(x, y, var, eps=0.1).item()
    assert nn.MarginRankingLoss(0.2)(x, y, y * 2 - 1).item() == F.margin_ranking_loss(x, y, y * 2 - 1, 0.2).item()
    assert repr(nn.MarginRankingLoss(0.2)) == "MarginRankingLoss()" and nn.MarginRankingLoss(0.2).margin == 0.2
    with pytest.warns(FutureWarning, match="`NLLLoss2d` has been deprecated. Please use `NLLLoss` instead"):
        old = nn.NLLLoss2d(w, ignore_index=0)
    assert isinstance(old, nn.NLLLoss) and old(x.log_softmax(1), labels).item() == nll(x.log_softmax(1), labels).item()


def test_activation_flatten_identity_modules():
    x = tape.tensor([[-1.0, 0.25, 2.0], [0.5, -0.75, 1.0]])
    assert nn.ReLU()(x).tolist() == x.relu().tolist() and repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    y = x.clone()
    assert nn.ReLU(inplace=True)(y) is y and y.min().item() == 0.0
    assert nn.Threshold(0.3, -1.0)(x).tolist() == [[-1.0, -1.0, 2.0], [0.5, -1.0, 1.0]]
    assert repr(nn.Threshold(0.3, -1.0, inplace=True)) == "Threshold(threshold=0.3, value=-1.0, inplace=True)"
    assert nn.Sigmoid()(x).tolist() == x.sigmoid().tolist() and nn.Tanh()(x).tolist() == x.tanh().tolist()
    assert nn.Softmax(dim=1)(x).tolist() == x.softmax(1).tolist() and repr(nn.Softmax(1)) == "Softmax(dim=1)"
    assert nn.LogSoftmax(dim=0)(x).tolist() == x.log_softmax(0).tolist()
    image = tape.randn(2, 3, 4, 5)
    assert nn.Softmax2d()(image).tolist() == image.softmax(1).tolist() and repr(nn.Softmax2d()) == "Softmax2d()"
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D instead"):
        nn.Softmax2d()(x)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax has been deprecated") as w:
        nn.Softmax()(x)
    assert w[0].filename == __file__
    assert nn.Hardshrink(0.6)(x).tolist() == [[-1.0, 0.0, 2.0], [0.0, -0.75, 1.0]] and repr(nn.Hardshrink()) == \
        "Hardshrink(0.5)"
    pr = nn.PReLU(3)
    assert repr(pr) == "PReLU(num_parameters=3)" and pr.weight.tolist() == [0.25] * 3
    assert pr(x).tolist() == [[-0.25, 0.25, 2.0], [0.5, -0.1875, 1.0]] and pr(x).grad_fn is not None
    assert nn.Identity(1, a=2)(x) is x
    z = tape.ones(2, 3, 4)
    assert nn.Flatten()(z).shape == (2, 12) and nn.Flatten(0, 1)(z).shape == (6, 4)
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert nn.Unflatten(1, (2, 6))(nn.Flatten()(z)).shape == (2, 2, 6)
    assert repr(nn.Unflatten(1, (2, 6))) == "Unflatten(dim=1, unflattened_size=(2, 6))"
    with pytest.raises(TypeError, match="unflattened_size must be tuple of ints, but found element of type float at"):
        nn.Unflatten(1, (2, 6.0))
    with pytest.raises(TypeError, match="unflattened_size must be a tuple of ints, but found type int"):
        nn.Unflatten(1, 3)
    a, b = tape.ones(2, 3), tape.full((2, 3), 2.0)
    assert tape.allclose(nn.CosineSimilarity()(a, b), tape.ones(2))
    assert tape.allclose(nn.PairwiseDistance()(a, b), tape.full((2,), 3 ** 0.5), atol=1e-4)


# --- nn.init --------------------------------------------------------------------------------------
def test_init_functions():
    w = tape.empty(30, 20, requires_grad=True)
    for fill in (nn.init.uniform_, nn.init.normal_, nn.init.xavier_uniform_, nn.init.xavier_normal_,
                 nn.init.kaiming_uniform_, nn.init.kaiming_normal_, nn.init.trunc_normal_, nn.init.orthogonal_,
                 nn.init.ones_, nn.init.zeros_, nn.init.eye_):
        assert fill(w) is w and w.is_leaf and w.requires_grad
    assert w.tolist() == tape.eye(30, 20).tolist()
    conv = nn.init.dirac_(tape.empty(4, 2, 3, 3), groups=2)
    assert conv.sum().item() == 4.0 and conv[1, 1, 1, 1].item() == 1.0 and conv[3, 1, 1, 1].item() == 1.0
    sp = nn.init.sparse_(tape.empty(10, 4), sparsity=0.3)
    assert [(sp[:, j] == 0).sum().item() for j in range(4)] == [3] * 4
    with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions are supported"):
        nn.init.dirac_(tape.empty(3, 3))
    with pytest.raises(ValueError, match="dim 0 must be divisible by groups"):
        nn.init.dirac_(tape.empty(3, 3, 3), groups=2)
    assert nn.init.constant_(w, 0.5).tolist() == [[0.5] * 20] * 30
    q = nn.init.orthogonal_(tape.empty(3, 5, dtype=tape.float64))
    assert tape.allclose(q @ q.t(), tape.eye(3, dtype=tape.float64))
    t = nn.init.trunc_normal_(tape.empty(500), a=-0.5, b=0.5)
    assert float(t.abs().max()) <= 0.5
    t = nn.init.trunc_normal_(tape.empty(500), mean=0.0, std=1.0, a=2.0, b=3.0)     # (the narrow-window sampler)
    assert 2.0 <= float(t.min()) and float(t.max()) <= 3.0
    bound = (6 / 20) ** 0.5
    assert float(nn.init.kaiming_uniform_(tape.empty(30, 20), nonlinearity="relu").abs().max()) <= bound
    assert nn.init.calculate_gain("tanh") == 5 / 3 and nn.init.calculate_gain("leaky_relu", 0) == 2 ** 0.5
    assert nn.init._calculate_fan_in_and_fan_out(tape.empty(4, 3, 5)) == (15, 20)
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        nn.init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        nn.init.calculate_gain("leaky_relu", True)
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed for tensor with fewer than 2 dim"):
        nn.init.xavier_uniform_(tape.empty(3))
    with pytest.raises(ValueError, match=r"Mode fan_avg not supported, please use one of \['fan_in', 'fan_out'\]"):
        nn.init.kaiming_normal_(tape.empty(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        nn.init.eye_(tape.empty(3))
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions are supported"):
        nn.init.orthogonal_(tape.empty(3))
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        nn.init.kaiming_uniform_(tape.empty(0, 3))
    with pytest.warns(FutureWarning, match="`nn.init.normal` is now deprecated in favor of `nn.init.normal_`."):
        nn.init.normal(tape.empty(2))
    g = tape.Generator().manual_seed(5)
    first = nn.init.uniform_(tape.empty(3), generator=g).tolist()
    assert nn.init.uniform_(tape.empty(3), generator=tape.Generator().manual_seed(5)).tolist() == first


# --- training ------------------------------------------------------------------------------------
def test_small_mlp_trains_with_sgd():
    tape.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    x = tape.randn(64, 2)
    y = (x[:, :1] * x[:, 1:]).tanh()
    opt = tape.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(150):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]
    fresh = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    fresh.load_state_dict(model.state_dict())
    assert tape.allclose(fresh(x), model(x))


# --- backward hooks -------------------------------------------------------------------------------
class Scale(nn.Module):
    def forward(self, x, k, y):
        return x * k, y * 2, "tag"


def test_full_backward_hooks():
    log = []
    m = Scale()
    m.register_full_backward_pre_hook(lambda mod, go: log.append(("pre", go[0].tolist(), go[1:])))
    h = m.register_full_backward_hook(lambda mod, gi, go: log.append(("late", len(gi))))
    m.register_full_backward_hook(lambda mod, gi, go: (log.append(("full", gi[0].tolist(), gi[1], gi[2])),
                                                       (gi[0] * 10, None, None))[1], prepend=True)
    x = tape.ones(2, requires_grad=True)
    y = tape.ones(2)
    a, b, tag = m(x, 3.0, y)
    assert a.grad_fn.name() == "BackwardHookFunctionBackward" and tag == "tag" and not b.requires_grad
    a.sum().backward()
    assert log == [("pre", [1.0, 1.0], (None, None)), ("full", [3.0, 3.0], None, None), ("late", 3)]
    assert x.grad.tolist() == [30.0, 30.0]
    h.remove()
    log.clear()
    m.register_full_backward_pre_hook(lambda mod, go: (go[0] * 0, None, None))
    x.grad = None
    m(x, 1.0, y)[0].sum().backward()
    assert x.grad.tolist() == [0.0, 0.0] and [e[0] for e in log] == ["pre", "full"]
    m.register_full_backward_pre_hook(lambda mod, go: (go[0],))
    with pytest.raises(RuntimeError, match="Backward pre hook returned an invalid number of grad_output, got 1, but "
                                           "expected 3"):
        m(x, 1.0, y)[0].sum().backward()


def test_full_backward_hook_errors_and_no_input_grad(monkeypatch):
    lin = nn.Linear(2, 2)
    lin.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="Backward hook returned an invalid number of grad_input, got 2, but "
                                           "expected 1"):
        lin(tape.ones(1, 2, requires_grad=True)).sum().backward()
    seen = []
    frozen = nn.Linear(2, 2)
    frozen.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, go[0].shape)))
    with pytest.warns(UserWarning, match="Full backward hook is firing when gradients are computed with respect to "
                                         "module outputs since no inputs require gradients"):
        frozen(tape.ones(1, 2)).sum().backward()
    assert seen == [((None,), (1, 2))] and frozen.weight.grad is not None
    with tape.no_grad():
        assert frozen(tape.ones(1, 2, requires_grad=True)).grad_fn is None
    from tape.nn.modules import module as module_mod
    monkeypatch.setattr(module_mod, "_global_is_full_backward_hook", None)
    calls = []
    h = module_mod.register_module_full_backward_hook(lambda mod, gi, go: calls.append(type(mod).__name__))
    hp = module_mod.register_module_full_backward_pre_hook(lambda mod, go: calls.append("pre"))
    try:
        nn.Sequential(nn.Tanh())(tape.ones(1, requires_grad=True)).sum().backward()
    finally:
        h.remove()
        hp.remove()
    assert calls == ["pre", "pre", "Tanh", "Sequential"]


# --- nn.utils -------------------------------------------------------------------------------------
def test_clip_grad_and_vector_conversion():
    a = nn.Parameter(tape.zeros(2))
    b = nn.Parameter(tape.zeros(2, dtype=tape.float64))
    idle = nn.Parameter(tape.zeros(1))
    a.grad, b.grad = tape.tensor([3.0, 0.0]), tape.tensor([0.0, 4.0], dtype=tape.float64)
    total = nn.utils.clip_grad_norm_([a, b, idle], max_norm=1.0)
    assert total.item() == 5.0 and total.dtype is tape.float64 and idle.grad is None
    assert tape.allclose(a.grad, tape.tensor([0.6, 0.0])) and a.grad.dtype is tape.float32
    assert nn.utils.clip_grad_norm_(a, 10.0, norm_type="inf").item() == pytest.approx(0.6)
    assert tape.allclose(a.grad, tape.tensor([0.6, 0.0]))                # (below max_norm: unchanged)
    assert nn.utils.get_total_norm([a.grad, b.grad], 1).item() == pytest.approx(1.4, rel=1e-6)
    assert nn.utils.get_total_norm([]).item() == 0.0
    nn.utils.clip_grads_with_norm_([a], 0.3, tape.tensor(0.6))
    assert tape.allclose(a.grad, tape.tensor([0.3, 0.0]))
    b.grad = tape.tensor([float("nan"), 1.0], dtype=tape.float64)
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from `parameters` is non-finite"):
        nn.utils.clip_grad_norm_([a, b], 1.0, error_if_nonfinite=True)
    with pytest.warns(UserWarning, match="`parameters` is an empty generator, no gradient clipping will occur."):
        nn.utils.clip_grad_norm_((p for p in []), 1.0)
    with pytest.warns(FutureWarning, match="clip_grad_norm` is now deprecated in favor of"):
        nn.utils.clip_grad_norm([a], 1.0)
    a.grad = tape.tensor([-2.0, 0.25])
    nn.utils.clip_grad_value_(a, 0.5)
    assert a.grad.tolist() == [-0.5, 0.25]
    lin = nn.Linear(3, 2)
    vec = nn.utils.parameters_to_vector(lin.parameters())
    assert vec.shape == (8,) and vec.grad_fn.name() == "CatBackward0"
    weight = lin.weight
    nn.utils.vector_to_parameters(tape.arange(8.0), lin.parameters())
    assert lin.weight is weight and lin.weight.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert lin.bias.tolist() == [6.0, 7.0] and lin.weight.requires_grad
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: list"):
        nn.utils.vector_to_parameters([1.0], lin.parameters())


def test_non_full_backward_hook():
    log = []
    lin = nn.Linear(2, 3)
    lin.register_backward_hook(lambda mod, gi, go: log.append(([None if g is None else g.shape for g in gi],
                                                                [g.shape for g in go])))
    with pytest.warns(FutureWarning, match="Using a non-full backward hook when the forward contains multiple "
                                           "autograd Nodes is deprecated"):
        lin(tape.ones(4, 2, requires_grad=True)).sum().backward()
    assert log == [([(3,), (4, 2), (2, 3)], [(4, 3)])]       # (AddmmBackward0's: bias, input, weight.t())
    with pytest.raises(RuntimeError, match="Cannot use both regular backward hooks and full backward hooks on a "
                                           "single Module. Please use only one of them."):
        lin.register_full_backward_hook(lambda *a: None)
    other = nn.Linear(2, 2)
    other.register_full_backward_hook(lambda *a: None)
    with pytest.raises(RuntimeError, match="Cannot use both regular backward hooks and full backward hooks on a "
                                           "single Module"):
        other.register_backward_hook(lambda *a: None)


def test_global_non_full_backward_hook(monkeypatch):
    from tape.nn.modules import module as module_mod

    # (PyTorch's flag stays once set, for the process: each test sets its own)
    monkeypatch.setattr(module_mod, "_global_is_full_backward_hook", None)
    seen = []
    h = module_mod.register_module_backward_hook(lambda mod, gi, go: seen.append(type(mod).__name__))
    try:
        with pytest.raises(RuntimeError, match="Cannot use both regular backward hooks and full backward hooks as a "
                                               "global Module hook. Please use only one of them."):
            module_mod.register_module_full_backward_hook(lambda *a: None)
        act = nn.Tanh()         # (kept alive: the hook holds its module weakly, as PyTorch's)
        with pytest.warns(FutureWarning):
            act(tape.ones(1, requires_grad=True)).sum().backward()
    finally:
        h.remove()
    assert seen == ["Tanh"]
    monkeypatch.setattr(module_mod, "_global_is_full_backward_hook", True)
    with pytest.raises(RuntimeError, match="as a global Module hook"):
        module_mod.register_module_backward_hook(lambda *a: None)


# --- functional_call -------------------------------------------------------------------------------
def test_functional_call_swaps_and_restores():
    from tape.func import functional_call, grad, stack_module_state, vmap

    lin = nn.Linear(2, 1)
    w, b = lin.weight, lin.bias
    x = tape.ones(3, 2)
    out = functional_call(lin, {"weight": tape.ones(1, 2), "bias": tape.zeros(1)}, (x,))
    assert out.tolist() == [[2.0]] * 3 and lin.weight is w and lin.bias is b
    assert functional_call(lin, ({"weight": tape.ones(1, 2)}, {"bias": tape.ones(1)}), x).tolist() == [[3.0]] * 3
    assert tape.allclose(functional_call(lin, {}, x), lin(x))
    g = grad(lambda p: functional_call(lin, p, x).sum())({"weight": tape.ones(1, 2), "bias": tape.zeros(1)})
    assert g["weight"].tolist() == [[3.0, 3.0]] and g["bias"].tolist() == [3.0]
    with pytest.raises(ValueError, match=r"\['bias'\] appeared in multiple dictionaries"):
        functional_call(lin, ({"bias": tape.ones(1)}, {"bias": tape.ones(1)}), x)
    with pytest.raises(ValueError, match="Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts"):
        functional_call(lin, 3, x)
    with pytest.raises(RuntimeError, match="Error\\(s\\) in reparametrizing for Linear:\n\tUnexpected key\\(s\\): "
                                           "'nope'.\n\tMissing key\\(s\\): 'bias'."):
        functional_call(lin, {"weight": tape.ones(1, 2), "nope": tape.ones(1)}, x, strict=True)
    with pytest.raises(RuntimeError):
        functional_call(lin, {"weight": tape.ones(5, 5)}, x)
    assert lin.weight is w                       # (restored after the error)

    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(2, 2, bias=False)
            self.b = nn.Linear(2, 2, bias=False)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))

    tied = Tied()
    eye = tape.eye(2)
    assert functional_call(tied, {"a.weight": eye}, tape.ones(1, 2)).tolist() == [[1.0, 1.0]]
    assert not tape.allclose(functional_call(tied, {"a.weight": eye}, tape.ones(1, 2), tie_weights=False),
                             tape.ones(1, 2))
    with pytest.raises(ValueError, match=r"functional_call got multiple values for keys \['a.weight', 'b.weight'\]"):
        functional_call(tied, {"a.weight": eye, "b.weight": eye * 2}, tape.ones(1, 2))
    models = [nn.Linear(2, 1) for _ in range(3)]
    params, buffers = stack_module_state(models)
    assert params["weight"].shape == (3, 1, 2) and params["weight"].is_leaf and params["weight"].requires_grad
    outs = vmap(lambda p, x: functional_call(lin, p, (x,)), in_dims=(0, None))(params, x)
    assert outs.shape == (3, 3, 1) and tape.allclose(outs[1], models[1](x))
    with pytest.raises(RuntimeError, match="stack_module_state: Expected at least one model, got 0."):
        stack_module_state([])
    with pytest.raises(RuntimeError, match="stack_module_state: Expected all models to be of the same class."):
        stack_module_state([nn.Linear(1, 1), nn.Tanh()])
    with pytest.warns(FutureWarning, match="`torch.nn.utils.stateless.functional_call` is deprecated"):
        nn.utils.stateless.functional_call(lin, {}, x)


def test_modules_chain_second_and_third_order():
    """A chain of the activation and loss modules differentiates to the third order (float64 checks)."""
    tape.manual_seed(0)
    body = nn.Sequential(nn.Linear(4, 6, dtype=tape.float64), nn.GELU("tanh"), nn.SiLU(), nn.Softplus(2.0), nn.ELU(),
                         nn.Mish(), nn.LogSigmoid(), nn.GLU())
    labels, target = tape.tensor([0, 2]), tape.tensor([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]], dtype=tape.float64)
    ce, kl = nn.CrossEntropyLoss(label_smoothing=0.1), nn.KLDivLoss(reduction="batchmean")
    x = tape.randn(2, 4, dtype=tape.float64, requires_grad=True)

    def loss(x):
        h = body(x)
        return ce(h, labels) + kl(nn.LogSoftmax(1)(h), target) + nn.SmoothL1Loss()(nn.Softmin(1)(h), target)

    def grad(x):
        return tape.autograd.grad(loss(x), x, create_graph=True)[0]

    assert tape.autograd.gradcheck(loss, (x,)) and tape.autograd.gradgradcheck(loss, (x,))
    assert tape.autograd.gradgradcheck(grad, (x,))


def test_full_backward_hook_refuses_an_in_place_module():
    # the hooked module's inputs are views made inside a custom Function (BackwardHookFunction): an in-place
    # module changing them raises PyTorch's error, naming the Function as PyTorch does
    relu = nn.ReLU(inplace=True)
    relu.register_full_backward_hook(lambda mod, gi, go: None)
    x = tape.randn(3, requires_grad=True) * 1
    with pytest.raises(RuntimeError, match="^Output 0 of BackwardHookFunction is a view and is being modified "
                                           "inplace. This view was created inside a custom Function"):
        relu(x)
