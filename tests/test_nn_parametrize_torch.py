"""``tape.nn.utils.parametrize``/``parametrizations``, the hook-based weight and spectral norms and
``skip_init`` against PyTorch's: values after the same ``manual_seed``, gradients of the originals,
state_dict keys, reprs, warnings and errors."""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import tape

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")


def _both(f):
    """f run with torch and with tape after the same seed: its dicts of results."""
    out = []
    for M in (torch, tape):
        M.manual_seed(0)
        out.append(f(M))
    return out


def _check(a, b, tol=0.0):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], np.ndarray):
            assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
            assert np.allclose(a[k], b[k], rtol=tol, atol=tol), (k, np.abs(a[k] - b[k]).max())
        else:
            assert a[k] == b[k], k


def _np(t):
    return t.detach().numpy().copy()


class _Symmetric:
    """A parametrization class built on either library's ``nn.Module``."""

    @staticmethod
    def make(M):
        class Symmetric(M.nn.Module):
            def forward(self, X):
                return X.triu() + X.triu(1).T

            def right_inverse(self, A):
                return A.triu()

        return Symmetric()


def test_register_and_remove_vs_torch():
    def f(M):
        P = M.nn.utils.parametrize
        m = M.nn.Linear(3, 3)
        P.register_parametrization(m, "weight", _Symmetric.make(M))
        r = {"repr": repr(m), "keys": list(m.state_dict()), "w": _np(m.weight),
             "gf": type(m.weight.grad_fn).__name__, "type": type(m).__name__}
        m(M.ones(2, 3)).pow(2).sum().backward()
        r["grad"] = _np(m.parametrizations.weight.original.grad)
        P.remove_parametrizations(m, "weight")
        r["after"] = (type(m).__name__, list(m.state_dict()))
        return r

    _check(*_both(f), tol=1e-6)


def test_parametrizations_values_and_grads_vs_torch():
    def f(M):
        PZ = M.nn.utils.parametrizations
        r = {}
        m = PZ.weight_norm(M.nn.Linear(4, 3).double())
        m(M.ones(2, 4, dtype=M.float64)).pow(2).sum().backward()
        r["wn"] = _np(m.weight)
        r["wn_g"] = _np(m.parametrizations.weight.original0.grad)
        r["wn_v"] = _np(m.parametrizations.weight.original1.grad)
        r["wn_keys"] = list(m.state_dict())
        for dim in (None, 1):
            r[f"wn{dim}"] = _np(PZ.weight_norm(M.nn.Linear(4, 3), dim=dim).weight)
        m = PZ.spectral_norm(M.nn.Linear(5, 3))
        r["sn_keys"], r["sn_repr"] = list(m.state_dict()), repr(m)
        r["sn_u"] = _np(m.parametrizations.weight[0]._u)
        w = m.weight
        w.sum().backward()
        r["sn"], r["sn_grad"] = _np(w), _np(m.parametrizations.weight.original.grad)
        r["sn_gf"] = type(w.grad_fn).__name__
        m.eval()
        r["sn_eval"] = _np(m.weight)
        r["sn3"] = _np(PZ.spectral_norm(M.nn.Linear(5, 3), n_power_iterations=3, dim=1).weight)
        r["sn_vec"] = _np(PZ.spectral_norm(M.nn.Linear(5, 3), "bias").bias)
        for orth_map in ("matrix_exp", "cayley", "householder"):
            for shape in ((3, 3), (4, 3), (3, 5)):
                for triv in (True, False):
                    m = PZ.orthogonal(M.nn.Linear(shape[1], shape[0]), orthogonal_map=orth_map,
                                      use_trivialization=triv)
                    w = m.weight
                    (w * M.arange(w.numel()).reshape(w.shape)).sum().backward()
                    key = f"{orth_map}{shape}{triv}"
                    r["o" + key] = _np(w)
                    r["og" + key] = _np(m.parametrizations.weight.original.grad)
                    r["ok" + key] = list(m.state_dict())
        return r

    _check(*_both(f), tol=5e-5)


def test_hook_based_norms_and_skip_init_vs_torch():
    def f(M):
        U = M.nn.utils
        r = {}
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            m = U.weight_norm(M.nn.Linear(4, 3))
        r["warn"] = [(x.category, str(x.message)) for x in w]
        r["keys"], r["repr"] = list(m.state_dict()), repr(m)
        m(M.ones(2, 4)).pow(2).sum().backward()
        r["g"], r["v"], r["w"] = _np(m.weight_g.grad), _np(m.weight_v.grad), _np(m.weight)
        U.remove_weight_norm(m)
        r["keys2"] = list(m.state_dict())
        # 5 x 3: W^T W is invertible, so the v solved from a version 0 state_dict is well defined.
        m = U.spectral_norm(M.nn.Linear(3, 5))
        r["skeys"], r["u0"] = list(m.state_dict()), _np(m.weight_u)
        m(M.ones(1, 3)).sum().backward()
        r["sw"], r["sg"], r["u1"] = _np(m.weight), _np(m.weight_orig.grad), _np(m.weight_u)
        m.eval()
        m(M.ones(1, 3))
        r["sw_eval"] = _np(m.weight)
        sd = m.state_dict()
        r["meta"] = dict(sd._metadata[""])
        # A version 0 state_dict (the normalized weight, no ``weight_v``): v solved from u and sigma.
        old = {k: v for k, v in sd.items() if k != "weight_v"}
        old["weight"] = m.weight.detach()
        m2 = U.spectral_norm(M.nn.Linear(3, 5))
        m2.load_state_dict(old)
        r["v_solved"] = _np(m2.weight_v)
        U.remove_spectral_norm(m)
        r["skeys2"], r["sw_rm"] = list(m.state_dict()), _np(m.weight)
        m = U.skip_init(M.nn.Linear, 3, 2)
        r["skip"] = (tuple(m.weight.shape), m.weight.requires_grad, M.randn(3).tolist())
        return r

    a, b = _both(f)
    a["warn"] = [(c, s) for c, s in a["warn"]]
    _check(a, b, tol=1e-5)


def test_batched_orthogonal_and_assignment_vs_torch():
    def f(M):
        r = {}
        for orth_map in ("matrix_exp", "cayley", "householder"):
            for shape in ((2, 4, 3), (2, 3, 4)):
                for triv in (True, False):
                    m = M.nn.Module()
                    m.w = M.nn.Parameter(M.randn(*shape, dtype=M.float64))
                    M.nn.utils.parametrizations.orthogonal(m, "w", orthogonal_map=orth_map, use_trivialization=triv)
                    w = m.w
                    (w * M.arange(w.numel()).reshape(w.shape)).sum().backward()
                    key = f"{orth_map}{shape}{triv}"
                    r["o" + key], r["og" + key] = _np(w), _np(m.parametrizations.w.original.grad)
                    if triv or orth_map == "householder":
                        Q = M.linalg.qr(M.randn(2, 4, 3, dtype=M.float64)).Q
                        m.w = Q if shape[1] > shape[2] else Q.mT
                        r["as" + key] = _np(m.w)
        return r

    _check(*_both(f), tol=1e-12)


def _error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the type and message are what is compared
        return type(e).__name__, str(e).replace("torch", "tape")
    return None


@pytest.mark.parametrize("case", [
    "no_name", "dtype", "shape", "dtype_added", "no_inverse", "remove_twice", "seq_leave", "orth_1d", "orth_map",
    "orth_assign", "sn_dim", "sn_iters", "sn_hook_iters", "wn_twice", "sn_twice", "wn_remove", "sn_remove",
    "sn_none", "skip_module", "skip_device", "pickle"])
def test_errors_vs_torch(case):
    def f(M):
        nn, P, PZ, U = M.nn, M.nn.utils.parametrize, M.nn.utils.parametrizations, M.nn.utils

        class ToDouble(nn.Module):
            def forward(self, X):
                return X.double()

        class Flat(nn.Module):
            def forward(self, X):
                return X.reshape(-1)

        class Square(nn.Module):
            def forward(self, X):
                return X * X

        class Pair(nn.Module):
            def forward(self, a, b):
                return a + b

            def right_inverse(self, X):
                return X, X

        def twice(fn):
            def go():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fn(fn(nn.Linear(2, 2)))
            return go

        cases = {
            "no_name": lambda: P.register_parametrization(nn.Linear(2, 2), "nope", Square()),
            "dtype": lambda: P.register_parametrization(nn.Linear(2, 2), "weight", ToDouble()),
            "shape": lambda: P.register_parametrization(nn.Linear(2, 3), "weight", Flat()),
            "dtype_added": lambda: P.register_parametrization(
                P.register_parametrization(nn.Linear(2, 2), "weight", Square()), "weight", ToDouble()),
            "no_inverse": lambda: setattr(P.register_parametrization(nn.Linear(2, 2), "weight", Square()),
                                          "weight", M.ones(2, 2)),
            "remove_twice": lambda: P.remove_parametrizations(nn.Linear(2, 2), "weight"),
            "seq_leave": lambda: P.remove_parametrizations(P.register_parametrization(
                nn.Linear(2, 2), "weight", Pair()), "weight", leave_parametrized=False),
            "orth_1d": lambda: PZ.orthogonal(nn.Linear(2, 2), "bias"),
            "orth_map": lambda: PZ.orthogonal(nn.Linear(2, 2), orthogonal_map="qr"),
            "orth_assign": lambda: setattr(PZ.orthogonal(nn.Linear(2, 2), use_trivialization=False), "weight",
                                           M.eye(2)),
            "sn_dim": lambda: PZ.spectral_norm(nn.Linear(2, 2), dim=-3),
            "sn_iters": lambda: PZ.spectral_norm(nn.Linear(2, 2), n_power_iterations=0),
            "sn_hook_iters": lambda: U.spectral_norm(nn.Linear(2, 2), n_power_iterations=-1),
            "wn_twice": twice(U.weight_norm),
            "sn_twice": twice(U.spectral_norm),
            "wn_remove": lambda: U.remove_weight_norm(nn.Linear(2, 2)),
            "sn_remove": lambda: U.remove_spectral_norm(nn.Linear(2, 2)),
            "sn_none": lambda: U.spectral_norm(nn.Linear(2, 2, bias=False), "bias"),
            "skip_module": lambda: U.skip_init(int),
            "skip_device": lambda: U.skip_init(nn.ReLU),
            "pickle": lambda: pickle.dumps(P.register_parametrization(nn.Linear(2, 2), "weight", Square())),
        }
        return _error(cases[case])

    a, b = _both(f)
    assert a is not None and a == b
