"""tape.optim.lr_scheduler: PyTorch's schedulers (rates per step, closed forms, warnings, errors, state)."""
import math
import warnings

import pytest

import tape
from tape.optim import lr_scheduler as S


def _opt(groups=2, kind="sgd"):
    params = [{"params": [tape.zeros(2, requires_grad=True)], "lr": 0.1 * (i + 1)} for i in range(groups)]
    return tape.optim.SGD(params, lr=0.1, momentum=0.9) if kind == "sgd" else tape.optim.Adam(params, lr=0.1)


def _rates(opt, scheduler, steps):
    out = [scheduler.get_last_lr()]
    for _ in range(steps):
        opt.step()
        scheduler.step()
        out.append(scheduler.get_last_lr())
    return out


def _close(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g == pytest.approx(w, rel=1e-12, abs=1e-15)


def test_step_multistep_exponential():
    o = _opt()
    _close(_rates(o, S.StepLR(o, 3, gamma=0.5), 7),
           [[0.1 * 0.5 ** (e // 3), 0.2 * 0.5 ** (e // 3)] for e in range(8)])
    o = _opt()
    counts = [0, 0, 1, 1, 1, 3, 3, 4]      # (milestones 2, 5, 5, 7: 5 counts twice)
    _close(_rates(o, S.MultiStepLR(o, [2, 5, 5, 7], gamma=0.5), 7), [[0.1 * 0.5 ** c, 0.2 * 0.5 ** c] for c in counts])
    o = _opt()
    _close(_rates(o, S.ExponentialLR(o, 0.9), 5), [[0.1 * 0.9 ** e, 0.2 * 0.9 ** e] for e in range(6)])


def test_lambda_multiplicative_constant_linear_polynomial():
    o = _opt()
    _close(_rates(o, S.LambdaLR(o, [lambda e: 1 / (e + 1), lambda e: 2.0]), 3),
           [[0.1 / (e + 1), 0.4] for e in range(4)])
    o = _opt(1)
    _close(_rates(o, S.MultiplicativeLR(o, lambda e: 0.5), 3), [[0.1 * 0.5 ** e] for e in range(4)])
    o = _opt(1)
    _close(_rates(o, S.ConstantLR(o, factor=0.5, total_iters=2), 3), [[0.05], [0.05], [0.1], [0.1]])
    o = _opt(1)
    _close(_rates(o, S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=3), 4),
           [[0.025], [0.05], [0.075], [0.1], [0.1]])
    o = _opt(1)
    _close(_rates(o, S.PolynomialLR(o, total_iters=4, power=2.0), 5),
           [[0.1 * (1 - min(e, 4) / 4) ** 2] for e in range(6)])


def test_cosine_annealing_and_warm_restarts():
    o = _opt(1)
    got = _rates(o, S.CosineAnnealingLR(o, T_max=4, eta_min=0.01), 8)
    _close(got, [[0.01 + 0.09 * (1 + math.cos(math.pi * e / 4)) / 2] for e in range(9)])
    o = _opt(1)
    got = _rates(o, S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2), 6)
    t_cur = [0, 1, 0, 1, 2, 3, 0]
    t_i = [2, 2, 4, 4, 4, 4, 8]
    _close(got, [[0.05 * (1 + math.cos(math.pi * c / i))] for c, i in zip(t_cur, t_i)])


def test_sequential_and_chained():
    o = _opt(1)
    seq = S.SequentialLR(o, [S.ConstantLR(o, factor=0.5, total_iters=2), S.ExponentialLR(o, 0.9)], milestones=[3])
    _close(_rates(o, seq, 5), [[0.05], [0.05], [0.1], [0.1], [0.09], [0.081]])
    o = _opt(1)
    chain = S.ChainedScheduler([S.ConstantLR(o, factor=0.5, total_iters=2), S.ExponentialLR(o, 0.9)])
    _close(_rates(o, chain, 3), [[0.05], [0.045], [0.081], [0.0729]])


def test_cyclic_and_one_cycle_cycle_the_momentum_too():
    o = _opt(1)
    s = S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2)
    _close(_rates(o, s, 4), [[0.01], [0.055], [0.1], [0.055], [0.01]])
    assert o.param_groups[0]["momentum"] == pytest.approx(0.9)
    o = _opt(1, "adam")
    s = S.OneCycleLR(o, max_lr=0.1, total_steps=10, anneal_strategy="linear")
    assert s.get_last_lr() == [pytest.approx(0.004)] and o.param_groups[0]["betas"] == (0.95, 0.999)
    for _ in range(2):
        o.step()
        s.step()
    assert s.get_last_lr() == [pytest.approx(0.1)] and o.param_groups[0]["betas"][0] == pytest.approx(0.85)
    for _ in range(7):
        o.step()
        s.step()
    assert s.get_last_lr() == [pytest.approx(0.004 / 1e4)]
    o.step()
    s.step()        # (the step after the last one is allowed, as in PyTorch; the next is not)
    with pytest.raises(ValueError, match="^Tried to step 11 times. The specified number of total steps is 10$"):
        s.step()


def test_reduce_on_plateau():
    o = _opt()
    p = S.ReduceLROnPlateau(o, patience=1, factor=0.5, min_lr=[0.06, 0.0])
    for metric in [1.0, 1.0, 1.0]:
        p.step(metric)
    assert p.get_last_lr() == [0.06, 0.1]
    for metric in [1.0, 1.0]:
        p.step(metric)
    assert p.get_last_lr() == [0.06, 0.05]       # (the first group is at its minimum)
    p.step(0.5)
    assert p.best == 0.5 and p.num_bad_epochs == 0
    m = S.ReduceLROnPlateau(_opt(), mode="max", threshold=0.1, threshold_mode="abs")
    m.step(1.0)
    m.step(1.05)
    assert m.best == 1.0 and m.num_bad_epochs == 1


def test_closed_form_with_epoch_warns():
    o = _opt(1)
    s = S.StepLR(o, 2, 0.5)
    o.step()
    with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)` was not necessary"):
        s.step(5)
    assert s.get_last_lr() == [0.025] and s.last_epoch == 5


def test_order_and_get_lr_warnings():
    o = _opt(1)
    s = S.ExponentialLR(o, 0.5)
    with pytest.warns(UserWarning, match="Detected call of `lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`"):
        s.step()
    with pytest.warns(UserWarning, match="^To get the last learning rate computed by the scheduler, please use "):
        s.get_lr()
    o = _opt(1)
    s = S.ExponentialLR(o, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        o.step()
        s.step()


def test_state_dict_round_trip():
    o = _opt(1)
    s = S.StepLR(o, 2, 0.5)
    for _ in range(3):
        o.step()
        s.step()
    sd = s.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 3
    o2 = _opt(1)
    s2 = S.StepLR(o2, 7, 0.1)
    s2.load_state_dict(sd)
    assert s2.step_size == 2 and s2.last_epoch == 3 and s2.get_last_lr() == s.get_last_lr()

    class Decay:
        def __init__(self, k):
            self.k = k

        def __call__(self, e):
            return self.k ** e

    o = _opt(1)
    s = S.LambdaLR(o, Decay(0.5))
    sd = s.state_dict()
    assert sd["lr_lambdas"] == [{"k": 0.5}]
    s3 = S.LambdaLR(_opt(1), Decay(0.9))
    s3.load_state_dict(sd)
    assert s3.lr_lambdas[0].k == 0.5


@pytest.mark.parametrize("make,error,message", [
    (lambda o: S.ConstantLR(o, factor=2), ValueError, "Constant multiplicative factor expected to be between 0 and 1."),
    (lambda o: S.LinearLR(o, start_factor=0), ValueError,
     "Starting multiplicative factor expected to be greater than 0 and less or equal to 1."),
    (lambda o: S.LambdaLR(o, [lambda e: 1]), ValueError, "Expected 2 lr_lambdas, but got 1"),
    (lambda o: S.StepLR(3, 2), TypeError, "int is not an Optimizer"),
    (lambda o: S.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor should be < 1.0."),
    (lambda o: S.ReduceLROnPlateau(o, mode="avg"), ValueError, "mode avg is unknown!"),
    (lambda o: S.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "expected 2 min_lrs, got 1"),
    (lambda o: S.CyclicLR(o, 0.1, 0.2, mode="x"), ValueError, "mode is invalid and scale_fn is None"),
    (lambda o: S.CyclicLR(o, [0.1], 0.2), ValueError,
     "base_lr must have the same length as optimizer.param_groups. base_lr has 1 values, param_groups has 2."),
    (lambda o: S.OneCycleLR(o, 0.1), ValueError, r"You must define either total_steps OR \(epochs AND steps_per_epoch\)"),
    (lambda o: S.OneCycleLR(o, 0.1, total_steps=10, pct_start=1), ValueError,
     "Expected float between 0 and 1 pct_start, but got 1"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "Expected positive integer T_0, but got 0"),
    (lambda o: S.SequentialLR(o, [], []), ValueError, "SequentialLR expects at least one scheduler, but got no scheduler."),
])
def test_errors(make, error, message):
    with pytest.raises(error, match=f"^{message}$"):
        make(_opt())


def test_resuming_needs_initial_lr():
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified in param_groups\\[0\\]"):
        S.StepLR(_opt(), 2, last_epoch=3)
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        S.CyclicLR(tape.optim.Adagrad([tape.zeros(1, requires_grad=True)]), 0.1, 0.2)


@pytest.mark.torch
def test_schedulers_match_torch():
    torch = pytest.importorskip("torch")
    from torch.optim import lr_scheduler as TS

    def run(lib, sched):
        def opt(kind):
            ps = [{"params": [lib.zeros(2, requires_grad=True)], "lr": 0.1 * (i + 1)} for i in range(2)]
            return lib.optim.SGD(ps, lr=0.1, momentum=0.9) if kind == "sgd" else lib.optim.Adam(ps, lr=0.1)
        cases = [lambda o: sched.LambdaLR(o, lambda e: 0.9 ** e), lambda o: sched.MultiplicativeLR(o, lambda e: 0.95),
                 lambda o: sched.StepLR(o, 3, gamma=0.5), lambda o: sched.MultiStepLR(o, [2, 5, 5, 7], gamma=0.5),
                 lambda o: sched.ConstantLR(o, factor=0.5, total_iters=4),
                 lambda o: sched.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=6),
                 lambda o: sched.ExponentialLR(o, 0.9), lambda o: sched.PolynomialLR(o, total_iters=6, power=2.0),
                 lambda o: sched.CosineAnnealingLR(o, T_max=4, eta_min=0.01),
                 lambda o: sched.SequentialLR(o, [sched.ConstantLR(o, factor=0.5, total_iters=2),
                                                  sched.ExponentialLR(o, 0.9)], milestones=[3]),
                 lambda o: sched.ChainedScheduler([sched.ConstantLR(o, factor=0.5, total_iters=2),
                                                   sched.ExponentialLR(o, 0.9)]),
                 lambda o: sched.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.001),
                 lambda o: sched.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=3, step_size_down=2,
                                          mode="triangular2"),
                 lambda o: sched.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="exp_range", gamma=0.9),
                 lambda o: sched.OneCycleLR(o, max_lr=[0.1, 0.2], total_steps=12),
                 lambda o: sched.OneCycleLR(o, max_lr=0.1, epochs=3, steps_per_epoch=4, three_phase=True,
                                            anneal_strategy="linear")]
        out = []
        for make in cases:
            for kind in ("sgd", "adam"):
                o = opt(kind)
                s = make(o)
                rates = [s.get_last_lr()]
                for _ in range(10):
                    o.step()
                    s.step()
                    rates.append(s.get_last_lr())
                out.append((rates, [g.get("momentum", g.get("betas")) for g in o.param_groups],
                            sorted(s.state_dict())))
        return out

    for got, want in zip(run(tape, S), run(torch, TS)):
        for g, w in zip(got[0], want[0]):
            assert g == pytest.approx(w, rel=1e-12, abs=1e-15)
        assert got[1] == pytest.approx(want[1]) if not isinstance(want[1][0], tuple) else got[1] == want[1]
        assert got[2] == want[2]
