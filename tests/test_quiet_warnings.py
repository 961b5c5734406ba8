"""Ops give inf and nan silently, as PyTorch's, whatever warning filters the user sets after
``import tape`` (``simplefilter("error")``, ``catch_warnings`` blocks, pytest's ``-W error``):
numpy's floating-point warnings inside tape's ops never reach the user, while the user's own numpy
calls keep theirs."""
import warnings

import numpy as np
import pytest

import tape

_INF, _NAN = float("inf"), float("nan")
_VALUES = [-2.0, -1.0, 0.0, 0.5, 1.0, _INF, -_INF, _NAN, 1e30, -1e30]

_CASES = {
    "div": lambda x: x / 0,
    "div_tensor": lambda x: x / x,
    "rdiv": lambda x: 1 / x,
    "log": lambda x: x.log(),
    "sqrt": lambda x: x.sqrt(),
    "pow": lambda x: x ** 0.5,
    "mul_overflow": lambda x: x * 1e30,
    "exp": lambda x: (x * 1000).exp(),
    "logit": lambda x: x.logit(),
    "fmod": lambda x: x.fmod(0),
    "xlogy": lambda x: x.xlogy(0),
    "sum": lambda x: x.sum(),
    "prod": lambda x: x.prod(),
    "prod_dim": lambda x: x.reshape(2, 5).prod(1),
    "cumsum": lambda x: x.cumsum(0),
    "cumprod": lambda x: x.cumprod(0),
    "nansum": lambda x: x.nansum(),
    "nanmean": lambda x: x.nanmean(),
    "norm": lambda x: x.norm(),
    "norm_p": lambda x: x.norm(3),
    "dist": lambda x: x.dist(-x),
    "vdot": lambda x: x.vdot(x),
    "to_int": lambda x: x.long(),
    "to_half": lambda x: x.half(),
    "celu": lambda x: tape.celu(x * 1e30),
    "round": lambda x: (x * 1e30).round(decimals=3),
    "addcmul": lambda x: tape.addcmul(x, x, x),
    "addcdiv": lambda x: tape.addcdiv(x, x, x * 0),
    "lerp": lambda x: tape.lerp(x, -x, x),
    "addr": lambda x: tape.addr(tape.outer(x, x), x, x),
    "cdist": lambda x: tape.cdist(x.reshape(5, 2), x.reshape(5, 2).flip(0)),
    "pdist": lambda x: tape.pdist(x.reshape(5, 2)),
    "cross": lambda x: tape.linalg.cross(x[:9].reshape(3, 3), x[1:].reshape(3, 3)),
    # (operands on the tape: the front ends' array path)
    "recorded_log": lambda x: (x + 0).log(),
    "recorded_div": lambda x: (x + 0) / 0,
    "recorded_rsub_overflow": lambda x: 1e38 - (x + 0) * 1e30,
    "recorded_mul_overflow": lambda x: (x + 0) * (x * 1e30),
    "recorded_pow": lambda x: (x + 0) ** 0.5,
    # (operands that need no gradient: the front ends' unrecorded path)
    "plain_log": lambda x: x.detach().log(),
    "plain_div": lambda x: x.detach() / 0,
    "plain_rsub_overflow": lambda x: 1e38 - x.detach() * 1e30,
    "plain_mul_overflow": lambda x: x.detach() * (x.detach() * 1e30),
}


@pytest.mark.parametrize("dtype", [tape.float64, tape.float32])
@pytest.mark.parametrize("name", sorted(_CASES))
def test_ops_and_their_gradients_raise_no_numpy_warning_under_an_error_filter(name, dtype):
    x = tape.tensor(_VALUES, dtype=dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = _CASES[name](x)
        if y.requires_grad:
            g, = tape.autograd.grad(y.sum(), x, create_graph=True)
            if g.requires_grad:
                tape.autograd.grad(g.sum(), x)


def test_a_filter_added_after_import_does_not_unsilence_the_ops():
    x = tape.tensor([0.0, -1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x.log()                         # (the filter list of this block now has tape's filter in front)
        warnings.simplefilter("error")  # ... and this one goes before it, in the same list
        assert tape.isnan(x.log()[1])
        assert tape.isinf((x / 0)[1])


def test_scalar_ops_whose_float_path_fails_fall_back_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tape.isnan(tape.tensor(-1.0, dtype=tape.float64, requires_grad=True).log())
        assert tape.isnan(tape.tensor(0.0, dtype=tape.float64, requires_grad=True) / 0.0)


def test_the_users_own_numpy_warnings_are_left_alone():
    tape.tensor([0.0]).log()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tape.tensor([0.0]).log()
        with pytest.raises(RuntimeWarning):
            np.log(np.zeros(1))
