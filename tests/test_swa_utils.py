"""``tape.optim.swa_utils``: ``AveragedModel`` (SWA and EMA, parameters and buffers), the averaging
functions and ``SWALR``; the torch-marked tests compare whole runs with PyTorch's."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import tape
from tape.optim import swa_utils


def _net(M):
    M.manual_seed(0)
    net = M.nn.Sequential(M.nn.Linear(3, 2), M.nn.Tanh(), M.nn.Linear(2, 1))
    net.register_buffer("steps", M.zeros((), dtype=M.int64))
    net.register_buffer("stat", M.zeros(2))
    return net


def _bump(net, i):
    """Move the net's values in place (no autograd); a copy of them after."""
    with tape.no_grad():
        for p in net.parameters():
            p.add_(float(i + 1) * 0.1)
        net.steps.add_(3)
        net.stat.add_(float(i))
    return {n: t.clone() for n, t in net.state_dict().items()}


def test_averaged_model_swa_and_buffers():
    net = _net(tape)
    swa = swa_utils.AveragedModel(net)
    assert swa.module is not net and list(swa.state_dict()) == ["n_averaged"] + ["module." + n for n in net.state_dict()]
    assert swa.n_averaged.dtype is tape.int64 and swa.n_averaged.item() == 0
    seen = []
    for i in range(3):
        seen.append(_bump(net, i))
        swa.update_parameters(net)
    assert swa.n_averaged.item() == 3
    for name, p in swa.module.named_parameters():
        want = sum(s[name] for s in seen) / 3
        np.testing.assert_allclose(p.detach().numpy(), want.numpy(), rtol=1e-6)
        assert p.requires_grad and p.grad is None
    # buffers follow the source model when use_buffers is False
    assert swa.module.steps.item() == 9 and swa.module.stat.tolist() == net.stat.tolist()
    x = tape.ones(4, 3)
    assert swa(x).tolist() == swa.module(x).tolist()

    avg = swa_utils.AveragedModel(_net(tape), use_buffers=True)
    net = _net(tape)
    for i in range(2):
        _bump(net, i)
        avg.update_parameters(net)
    # an integer buffer averaged (3 and 6 -> 4.5, truncated by copy_); a float one as the parameters
    assert avg.module.steps.item() == 4 and avg.module.stat.tolist() == [0.5, 0.5]


def test_averaged_model_ema_functions():
    net = _net(tape)
    single = swa_utils.AveragedModel(net, avg_fn=swa_utils.get_ema_avg_fn(0.9))
    multi = swa_utils.AveragedModel(net, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.9), use_buffers=True)
    first = _bump(net, 0)
    for m in (single, multi):
        m.update_parameters(net)
    second = _bump(net, 1)
    for m in (single, multi):
        m.update_parameters(net)
    for name, p in single.module.named_parameters():
        want = 0.9 * first[name] + 0.1 * second[name]
        np.testing.assert_allclose(p.detach().numpy(), want.numpy(), rtol=1e-6)
        np.testing.assert_allclose(multi.module.get_parameter(name).detach().numpy(), want.numpy(), rtol=1e-6)
    # the integer buffer through the non-foreach branch: 0.9 * 3 + 0.1 * 6 = 3.3 -> 3
    assert multi.module.steps.item() == 3
    swa_multi = swa_utils.AveragedModel(net, multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    swa_multi.update_parameters(net)
    before = {n: t.clone() for n, t in swa_multi.module.state_dict().items()}
    _bump(net, 2)
    swa_multi.update_parameters(net)
    for name, t in swa_multi.module.named_parameters():
        np.testing.assert_allclose(t.detach().numpy(), ((before[name] + net.get_parameter(name)) / 2).detach().numpy(),
                                   rtol=1e-6)
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn should be provided"):
        swa_utils.AveragedModel(net, avg_fn=swa_utils.get_swa_avg_fn(), multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    for bad in (swa_utils.get_ema_avg_fn, swa_utils.get_ema_multi_avg_fn):
        with pytest.raises(ValueError, match=r"Invalid decay value 1.5 provided. Please provide a value in \[0,1\]"):
            bad(1.5)


def _lrs(opt, sched, n):
    out = []
    for _ in range(n):
        opt.step()
        sched.step()
        out.append([g["lr"] for g in opt.param_groups])
    return out


def test_swalr():
    w = tape.zeros(1, requires_grad=True)
    opt = tape.optim.SGD([{"params": [w]}, {"params": [tape.zeros(1, requires_grad=True)], "lr": 0.5}], lr=1.0)
    sched = swa_utils.SWALR(opt, swa_lr=[0.1, 0.2], anneal_epochs=4)
    assert [g["swa_lr"] for g in opt.param_groups] == [0.1, 0.2]
    got = _lrs(opt, sched, 6)
    for k, lrs in enumerate(got, start=1):
        alpha = (1 - math.cos(math.pi * min(1, k / 4))) / 2
        np.testing.assert_allclose(lrs, [0.1 * alpha + 1.0 * (1 - alpha), 0.2 * alpha + 0.5 * (1 - alpha)], rtol=1e-12)
    assert sched.get_last_lr() == got[-1]
    state = sched.state_dict()
    assert "anneal_func" not in state and "optimizer" not in state and state["_anneal_strategy"] == "cos"
    opt2 = tape.optim.SGD([w], lr=1.0)
    lin = swa_utils.SWALR(opt2, 0.25, anneal_epochs=2, anneal_strategy="linear")
    np.testing.assert_allclose(_lrs(opt2, lin, 3), [[0.625], [0.25], [0.25]], rtol=1e-12)
    lin.load_state_dict(state | {"_anneal_strategy": "cos"})
    assert lin.anneal_func is lin._cosine_anneal
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        lin.get_lr()
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear', instead got step"):
        swa_utils.SWALR(opt2, 0.1, anneal_strategy="step")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0, got -1"):
        swa_utils.SWALR(opt2, 0.1, anneal_epochs=-1)
    with pytest.raises(ValueError, match="swa_lr must have the same length as optimizer.param_groups"):
        swa_utils.SWALR(opt2, [0.1, 0.2])


def _run(M, use_buffers, avg):
    """A small SGD run with SWALR and an AveragedModel: the rates, the averages and the averaged model's output."""
    su = M.optim.swa_utils
    net = _net(M)
    kw = {"avg_fn": su.get_ema_avg_fn(0.8)} if avg == "ema" else \
        {"multi_avg_fn": su.get_ema_multi_avg_fn(0.7)} if avg == "ema_multi" else \
        {"multi_avg_fn": su.get_swa_multi_avg_fn()} if avg == "swa_multi" else {}
    model = su.AveragedModel(net, use_buffers=use_buffers, **kw)
    opt = M.optim.SGD(net.parameters(), lr=0.3, momentum=0.5)
    sched = su.SWALR(opt, swa_lr=0.05, anneal_epochs=3, anneal_strategy="linear" if use_buffers else "cos")
    x = M.tensor(np.linspace(-1, 1, 12).reshape(4, 3), dtype=M.float32)
    lrs = []
    for step in range(5):
        opt.zero_grad()
        net(x).pow(2).sum().backward()
        opt.step()
        with M.no_grad():
            net.steps.add_(step + 1)
            net.stat.add_(0.5 * step)
        sched.step()
        model.update_parameters(net)
        lrs.append(sched.get_last_lr())
    return (repr(model), list(model.state_dict()), lrs, {n: t.detach().numpy().copy() for n, t in model.state_dict().items()},
            model(x).detach().numpy())


@pytest.mark.torch
@pytest.mark.parametrize("use_buffers, avg", [(False, "swa"), (True, "swa"), (False, "ema"), (True, "ema"),
                                              (True, "ema_multi"), (False, "swa_multi")])
def test_swa_utils_like_torch(use_buffers, avg):
    torch = pytest.importorskip("torch")
    (ra, ka, la, sa, ya), (rb, kb, lb, sb, yb) = _run(tape, use_buffers, avg), _run(torch, use_buffers, avg)
    assert ra == rb and ka == kb
    np.testing.assert_allclose(la, lb, rtol=1e-12)
    for k in ka:
        assert sa[k].dtype == sb[k].dtype, k
        np.testing.assert_allclose(sa[k], sb[k], rtol=1e-6, atol=1e-7, err_msg=k)
    np.testing.assert_allclose(ya, yb, rtol=1e-6, atol=1e-7)


def _error(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
    except Exception as e:
        return type(e), str(e)
    return None


@pytest.mark.torch
@pytest.mark.parametrize("case", [
    lambda M: M.optim.swa_utils.SWALR(M.optim.SGD([M.zeros(1, requires_grad=True)]), 0.1, anneal_epochs=2.0),
    lambda M: M.optim.swa_utils.SWALR(M.optim.SGD([M.zeros(1, requires_grad=True)]), 0.1, anneal_strategy="exp"),
    lambda M: M.optim.swa_utils.SWALR(M.optim.SGD([M.zeros(1, requires_grad=True)]), (0.1, 0.2)),
    lambda M: M.optim.swa_utils.SWALR(3, 0.1),
    lambda M: M.optim.swa_utils.get_ema_avg_fn(-0.1),
    lambda M: M.optim.swa_utils.AveragedModel(M.nn.Linear(1, 1), avg_fn=abs, multi_avg_fn=abs),
    # integer tensors: PyTorch's foreach errors (a tensor count, an int count)
    lambda M: M.optim.swa_utils.get_swa_multi_avg_fn()([M.tensor(6)], [M.tensor(9)], M.tensor(1)),
    lambda M: M.optim.swa_utils.get_swa_multi_avg_fn()([M.tensor(6)], [M.tensor(9)], 1),
])
def test_swa_errors_like_torch(case):
    torch = pytest.importorskip("torch")
    ours, theirs = _error(lambda: case(tape)), _error(lambda: case(torch))
    assert theirs is not None and ours == theirs


def _swalr_edges(M):
    w = M.zeros(1, requires_grad=True)
    opt = M.optim.SGD([w], lr=1.0)
    sched = M.optim.swa_utils.SWALR(opt, 0.1, anneal_epochs=0)
    rates = [opt.param_groups[0]["lr"]]
    for _ in range(2):
        opt.step()
        sched.step()
        rates.append(opt.param_groups[0]["lr"])
    # a tensor rate stays a tensor, filled in place
    topt = M.optim.SGD([w], lr=M.tensor(0.5))
    lr = topt.param_groups[0]["lr"]
    tsched = M.optim.swa_utils.SWALR(topt, M.tensor(0.05), anneal_epochs=2, anneal_strategy="linear")
    topt.step()
    tsched.step()
    return rates, topt.param_groups[0]["lr"] is lr, lr.item(), sorted(sched.state_dict())


@pytest.mark.torch
def test_swalr_edges_like_torch():
    torch = pytest.importorskip("torch")
    assert _swalr_edges(tape) == _swalr_edges(torch)
