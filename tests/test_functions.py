"""Functions PyTorch composes from other ops (``ops/functions.py``): values, dtypes, grad_fn names,
gradients, warnings and errors as PyTorch's, over fixed and generated inputs."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tape


def _run(torch, name, f, out, args):
    """Append ``f(*args)``'s facts (or its error) to ``out``: values, dtype, node name, the gradients
    of a weighted sum of the outputs, and the warnings it gave."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y = f(*args)
        msgs = sorted({str(w.message).split(" (Triggered internally")[0] for w in caught
                       if not issubclass(w.category, RuntimeWarning)       # (numpy's, which tape silences)
                       and "just left for JIT" not in str(w.message)})     # (once per process: test_warn_once)
        ys = list(y) if isinstance(y, (tuple, list)) else [y]
        s = [name, msgs]
        for t in ys:
            if not isinstance(t, torch.Tensor):
                s.append(repr(t))
                continue
            v = np.asarray(t.detach().double().numpy() if t.dtype.is_floating_point else t.numpy())
            # (+ 0.0: -0.0 is 0.0)
            s += [(np.round(v.astype(np.float64), 6) + 0.0).tolist(), str(t.dtype), list(t.shape),
                  t.grad_fn.name() if t.grad_fn else None]
        diff = [t for t in ys if isinstance(t, torch.Tensor) and t.requires_grad]
        leaves = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
        if diff and leaves:
            loss = sum((t * torch.arange(t.numel(), dtype=t.dtype).reshape(t.shape).cos()).sum() for t in diff)
            gs = torch.autograd.grad(loss, leaves, allow_unused=True)
            s.append([None if g is None else (np.round(g.double().numpy(), 5) + 0.0).tolist() for g in gs])
        out.append(s)
    except Exception as e:      # noqa: BLE001 (the error is what is compared)
        out.append([name, type(e).__name__, str(e).split("\n")[0]])


def _facts(torch) -> list:
    out = []

    def r(name, f, *args):
        _run(torch, name, f, out, args)

    def T(v, dtype=None, rg=True):
        t = torch.tensor(v, dtype=dtype or torch.float64)
        return t.requires_grad_(rg) if t.dtype.is_floating_point else t

    x = [[1., 2., 4., -1.], [3., -1., 0.5, 2.], [0., 1., 1., 7.]]
    v = [1., 5., 2., -3.]
    r("cov", lambda a: torch.cov(a), T(x))
    r("cov_1d", lambda a: a.cov(), T(v))
    r("cov_corr0", lambda a: torch.cov(a, correction=0), T(x))
    r("cov_fw", lambda a: torch.cov(a, fweights=torch.tensor([1, 2, 0, 3])), T(x))
    r("cov_aw", lambda a, w: torch.cov(a, aweights=w), T(x), T([0.5, 1., 2., 0.25]))
    r("cov_both", lambda a, w: torch.cov(a, correction=2, fweights=torch.tensor([1, 2, 1, 3]), aweights=w),
      T(x), T([0.5, 1., 2., 0.25]))
    r("cov_f32", lambda a: torch.cov(a), T(x, torch.float32))
    r("cov_int", lambda a: torch.cov(a), T([[1, 2, 4], [3, 1, 1]], torch.int64))
    r("cov_3d", lambda a: torch.cov(a), T([[[1.]]]))
    r("cov_bool", lambda a: torch.cov(a), torch.tensor([True, False]))
    r("cov_fw_float", lambda a: torch.cov(a, fweights=torch.ones(4)), T(x))
    r("cov_fw_neg", lambda a: torch.cov(a, fweights=torch.tensor([1, -1, 1, 1])), T(x))
    r("cov_fw_numel", lambda a: torch.cov(a, fweights=torch.tensor([1, 1])), T(x))
    r("cov_fw_2d", lambda a: torch.cov(a, fweights=torch.ones(2, 2, dtype=torch.int64)), T(x))
    r("cov_aw_int", lambda a: torch.cov(a, aweights=torch.tensor([1, 1, 1, 1])), T(x))
    r("cov_aw_neg", lambda a: torch.cov(a, aweights=torch.tensor([1., -1., 1., 1.])), T(x))
    r("cov_zero_w", lambda a: torch.cov(a, fweights=torch.tensor([0, 0, 0, 0])), T(x))
    r("cov_dof", lambda a: torch.cov(a, correction=5), T(x))
    r("cov_one_obs", lambda a: torch.cov(a), T([[1.], [2.]]))
    r("corrcoef", lambda a: torch.corrcoef(a), T(x))
    r("corrcoef_1d", lambda a: a.corrcoef(), T(v))
    r("corrcoef_const", lambda a: torch.corrcoef(a), T([[1., 1., 1.], [1., 2., 3.]]))
    r("corrcoef_3d", lambda a: torch.corrcoef(a), T([[[1.]]]))
    r("corrcoef_int", lambda a: torch.corrcoef(a), T([[1, 2, 4], [3, 1, 7]], torch.int64))

    r("quantile", lambda a: torch.quantile(a, 0.3), T(x))
    r("quantile_q", lambda a, q: a.quantile(q, dim=1, keepdim=True), T(x), T([0.1, 0.5, 1.0], rg=False))
    r("quantile_qgrad", lambda a, q: torch.quantile(a, q, dim=0), T(x), T([0.25, 0.8]))
    r("quantile_dim0", lambda a: torch.quantile(a, 0.75, 0), T(x))
    r("quantile_keep_all", lambda a: torch.quantile(a, 0.5, keepdim=True), T(x))
    for mode in ("lower", "higher", "midpoint", "nearest"):
        r("quantile_" + mode, lambda a, m=mode: torch.quantile(a, 0.4, -1, interpolation=m), T(x))
    r("quantile_mode_bad", lambda a: torch.quantile(a, 0.4, interpolation="up"), T(x))
    r("quantile_range", lambda a: torch.quantile(a, 1.5), T(x))
    r("quantile_q_range", lambda a: torch.quantile(a, torch.tensor([0.5, 2.], dtype=torch.float64)), T(x))
    r("quantile_q_2d", lambda a: torch.quantile(a, torch.ones(1, 1, dtype=torch.float64)), T(x))
    r("quantile_q_dtype", lambda a: torch.quantile(a, torch.tensor([0.5])), T(x))
    r("quantile_int", lambda a: torch.quantile(a, 0.5), T([1, 2], torch.int64))
    r("quantile_empty", lambda a: torch.quantile(a, 0.5), T([]))
    r("quantile_0d", lambda a: torch.quantile(a, 0.5), T(2.))
    r("quantile_0d_dim", lambda a: torch.quantile(a, torch.tensor([0.5, 0.1], dtype=torch.float64), 0), T(2.))
    r("quantile_nan", lambda a: torch.quantile(a, 0.5, 1), T([[1., float("nan"), 2.], [1., 2., 3.]]))
    r("nanquantile", lambda a: torch.nanquantile(a, 0.5, 1), T([[1., float("nan"), 2.], [1., 2., 3.]]))
    r("nanquantile_allnan", lambda a: a.nanquantile(0.5, 1), T([[float("nan")] * 2, [1., 2.]]))
    r("quantile_out", lambda a: torch.quantile(a, 0.5, out=torch.empty(0, dtype=torch.float64)),
      T(x, rg=False))
    r("quantile_out_grad", lambda a: torch.quantile(a, 0.5, out=torch.empty(0, dtype=torch.float64)), T(x))

    r("trapezoid", lambda a: torch.trapezoid(a), T(x))
    r("trapezoid_dx", lambda a: torch.trapezoid(a, dx=0.5, dim=0), T(x))
    r("trapezoid_x", lambda a, b: torch.trapezoid(a, b), T(x), T(v))
    r("trapezoid_x_pos", lambda a: torch.trapezoid(a, 2.0), T(x))
    r("trapezoid_x2d", lambda a, b: torch.trapezoid(a, b, dim=0), T(x), T([[1.], [2.], [4.]]))
    r("trapezoid_x_bad", lambda a, b: torch.trapezoid(a, b, dim=0), T(x), T(v))
    r("trapezoid_empty", lambda a: torch.trapezoid(a), T([[], []]))
    r("trapezoid_int", lambda a: torch.trapezoid(a), T([1, 2, 4], torch.int64))
    r("trapezoid_bool", lambda a: torch.trapezoid(a), torch.tensor([True, False]))
    r("trapz", lambda a: torch.trapz(a, dim=0), T(x))
    r("trapz_x", lambda a, b: torch.trapz(a, b), T(x), T(v))
    r("cumtrapz", lambda a: torch.cumulative_trapezoid(a), T(x))
    r("cumtrapz_dx", lambda a: torch.cumulative_trapezoid(a, dx=3, dim=0), T(x))
    r("cumtrapz_x", lambda a, b: torch.cumulative_trapezoid(a, b), T(x), T(v))
    r("cumtrapz_int", lambda a: torch.cumulative_trapezoid(a), T([1, 2, 4], torch.int64))
    r("cumtrapz_empty", lambda a: torch.cumulative_trapezoid(a), T([[], []]))

    # (PyTorch's vander writes into the view its cumprod saved: its backward fails, as tape's)
    r("vander", lambda a: torch.vander(a), T(v, rg=False))
    r("vander_N", lambda a: torch.vander(a, N=2, increasing=True), T(v, rg=False))
    r("vander_N0", lambda a: torch.vander(a, 0), T(v))
    r("vander_N1", lambda a: torch.vander(a, 1), T(v))
    r("vander_int", lambda a: torch.vander(a), T([1, 2, 3], torch.int32))
    r("vander_bool", lambda a: torch.vander(a), torch.tensor([True, False]))
    r("vander_2d", lambda a: torch.vander(a), T(x))
    r("vander_neg", lambda a: torch.vander(a, -1), T(v))

    r("cartesian", lambda a, b: torch.cartesian_prod(a, b), T(v), T([2., 3.]))
    r("cartesian1", lambda a: torch.cartesian_prod(a), T(v))
    r("cartesian3", lambda a: torch.cartesian_prod(a, a, a), T([1., 2.]))
    r("cartesian_2d", lambda a: torch.cartesian_prod(a, a), T(x))
    r("cartesian_int", lambda: torch.cartesian_prod(torch.tensor([1, 2]), torch.tensor([3])))
    r("combinations", lambda a: torch.combinations(a), T(v))
    r("combinations3", lambda a: torch.combinations(a, 3), T(v))
    r("combinations_rep", lambda a: torch.combinations(a, with_replacement=True), T(v))
    r("combinations0", lambda a: torch.combinations(a, 0), T(v))
    r("combinations_neg", lambda a: torch.combinations(a, -1), T(v))
    r("combinations_2d", lambda a: torch.combinations(a), T(x))
    r("combinations_big_r", lambda a: torch.combinations(a, 5), T(v))

    r("cos_sim", lambda a, b: torch.cosine_similarity(a, b), T(x), T(v))
    r("cos_sim_dim0", lambda a, b: torch.cosine_similarity(a, b, 0), T(x), T(x[::-1]))
    r("cos_sim_zero", lambda a, b: torch.cosine_similarity(a, b, -1), T([0., 0.]), T([1., 2.]))
    r("cos_sim_eps", lambda a, b: torch.cosine_similarity(a, b, -1, eps=10.), T([1., 2.]), T([1., 3.]))
    r("cos_sim_int", lambda: torch.cosine_similarity(torch.tensor([1, 2]), torch.tensor([1, 3]), 0))
    r("cos_sim_mixed", lambda a: torch.cosine_similarity(a, torch.tensor([1, 3]), 0), T([1., 2.]))
    r("cos_sim_f32", lambda a, b: torch.cosine_similarity(a, b), T(x, torch.float32), T(v))
    r("pdist_pair", lambda a, b: torch.pairwise_distance(a, b), T(x), T(v))
    r("pdist_pair_p1", lambda a, b: torch.pairwise_distance(a, b, p=1, keepdim=True), T(x), T(x[::-1]))
    r("pdist_pair_1d", lambda a, b: torch.pairwise_distance(a, b, eps=0.), T(v), T(v[::-1]))
    r("pdist_pair_int", lambda: torch.pairwise_distance(torch.tensor([1, 2]), torch.tensor([1, 3])))

    r("frobenius", lambda a: torch.frobenius_norm(a, (0, 1)), T(x))
    r("frobenius_dim", lambda a: torch.frobenius_norm(a, [1], keepdim=True), T(x))
    r("frobenius_3", lambda a: torch.frobenius_norm(a, (0, 1, 0)), T(x))
    r("nuclear", lambda a: torch.nuclear_norm(a), T(x))
    r("nuclear_keep", lambda a: torch.nuclear_norm(a, True), T(x))
    r("nuclear_dim", lambda a: torch.nuclear_norm(a, (1, 0)), T(x))
    r("nuclear_1d", lambda a: torch.nuclear_norm(a), T(v))
    r("nuclear_dim3", lambda a: torch.nuclear_norm(a, (1, 0, 1)), T(x))
    r("matrix_rank", lambda a: torch.matrix_rank(a), T(x))

    r("rot90", lambda a: torch.rot90(a), T(x))
    r("rot90_k", lambda a: a.rot90(-3, [1, 0]), T(x))
    r("rot90_k2", lambda a: torch.rot90(a, 2, (-1, -2)), T([x, x]))
    r("rot90_k0", lambda a: torch.rot90(a, 4), T(x))
    r("rot90_1d", lambda a: torch.rot90(a), T(v))
    r("rot90_same", lambda a: torch.rot90(a, 1, (0, -2)), T(x))
    r("rot90_three", lambda a: torch.rot90(a, 1, (0, 1, 1)), T(x))
    r("rot90_oob", lambda a: torch.rot90(a, 1, (0, 2)), T(x))
    r("rot90_int", lambda: torch.rot90(torch.tensor([[1, 2], [3, 4]]), -1))
    r("rot90_saved", lambda a: (lambda n: (n._saved_k, n._saved_dims))(torch.rot90(a, 7, (1, 0)).grad_fn), T(x))
    r("lcse", lambda a: torch.logcumsumexp(a, 1), T(x))
    r("lcse_big", lambda a: a.logcumsumexp(0), T([[1000., -1000.], [1000., 5.]]))
    r("lcse_0d", lambda a: torch.logcumsumexp(a, 0), T(2.))
    r("lcse_inf", lambda a: torch.logcumsumexp(a, 0), T([float("-inf"), 1., float("-inf")]))
    r("lcse_int", lambda: torch.logcumsumexp(torch.tensor([1, 2]), 0))
    r("lcse_f32", lambda a: torch.logcumsumexp(a, -1), T(x, torch.float32))
    r("lcse_out", lambda a: torch.logcumsumexp(a, 0, out=torch.empty(0, dtype=torch.float64)), T(x, rg=False))
    r("hardshrink", lambda a: torch.hardshrink(a, 1.), T(x))
    r("hardshrink_default", lambda a: a.hardshrink(), T([0.5, -0.5, 0.50001, -0.7]))
    r("hardshrink_saved", lambda a: a.hardshrink(0.25).grad_fn._saved_lambd, T(x))
    r("hardshrink_int", lambda: torch.hardshrink(torch.tensor([1, 2])))
    r("threshold", lambda a: torch.threshold(a, 1., -5.), T(x))
    r("threshold_int", lambda: torch.threshold(torch.tensor([1, 2]), 1, 5))
    r("threshold_saved", lambda a: torch.threshold(a, 2, 0.5).grad_fn._saved_threshold, T(x))
    r("threshold_inplace", lambda a: torch.threshold_(a * 1, 2., 0.5), T(x))
    r("threshold_inplace_leaf", lambda a: torch.threshold_(a, 2., 0.5), T(x))
    r("threshold_inplace_int", lambda: torch.threshold_(torch.tensor([1, 2]), 1, 5.5))
    r("select_scatter", lambda a, s: torch.select_scatter(a, s, 0, -1), T(x), T(v))
    r("select_scatter_dim", lambda a, s: a.select_scatter(s, 1, 2), T(x), T([1., 2., 3.]))
    r("select_scatter_mixed", lambda a: torch.select_scatter(a, torch.ones(4), 0, 0), T(x))
    r("select_scatter_shape", lambda a, s: torch.select_scatter(a, s, 1, 0), T(x), T(v))
    r("select_scatter_oob", lambda a, s: torch.select_scatter(a, s, 0, 3), T(x), T(v))
    r("slice_scatter", lambda a, s: torch.slice_scatter(a, s, 1, 1, 4, 2), T(x), T([[1., 2.], [3., 4.], [5., 6.]]))
    r("slice_scatter_default", lambda a, s: a.slice_scatter(s), T(x), T(x))
    r("slice_scatter_neg", lambda a, s: torch.slice_scatter(a, s, -1, -2), T(x), T([[1., 2.], [3., 4.], [5., 6.]]))
    r("slice_scatter_end", lambda a, s: torch.slice_scatter(a, s, 0, end=10), T(x), T(x))
    r("slice_scatter_shape", lambda a, s: torch.slice_scatter(a, s, 1), T(x), T(v))
    r("diagonal_scatter", lambda a, s: torch.diagonal_scatter(a, s, 1), T(x), T([1., 2., 3.]))
    r("diagonal_scatter_neg", lambda a, s: a.diagonal_scatter(s, -1, 1, 0), T(x), T([7., 8., 9.]))
    r("diagonal_scatter_shape", lambda a, s: torch.diagonal_scatter(a, s), T(x), T(v))
    r("diagonal_scatter_same", lambda a, s: torch.diagonal_scatter(a, s, 0, 1, 1), T(x), T(v))
    return out


@pytest.mark.torch
def test_matches_torch():
    torch = pytest.importorskip("torch")
    for mine, theirs in zip(_facts(tape), _facts(torch)):
        assert repr(mine) == repr(theirs)       # (repr: nan equals nan)


def test_values():
    x = tape.tensor([[1.0, 2.0, 4.0], [2.0, 4.0, 8.0]], dtype=tape.float64, requires_grad=True)
    c = tape.cov(x)
    assert np.allclose(c.detach().numpy(), np.cov(x.detach().numpy())) and c.grad_fn.name() == "SqueezeBackward0"
    assert np.allclose(tape.corrcoef(x).detach().numpy(), 1.0)
    q = tape.quantile(x, 0.25, dim=1)
    assert np.allclose(q.detach().numpy(), np.quantile(x.detach().numpy(), 0.25, axis=1))
    assert tape.trapezoid(tape.tensor([1.0, 2.0, 3.0])).item() == 4.0
    assert tape.vander(tape.tensor([2, 3])).tolist() == [[2, 1], [3, 1]]
    assert tape.combinations(tape.tensor([1, 2, 3])).tolist() == [[1, 2], [1, 3], [2, 3]]
    with pytest.raises(RuntimeError, match=r"quantile\(\) q must be in the range \[0, 1\] but got 2.0"):
        tape.quantile(x, 2.0)


def test_warn_once():
    from tape.ops import functions
    x = tape.ones(2, 2)
    for fn, args in ((tape.frobenius_norm, (x, (0, 1))), (tape.nuclear_norm, (x,))):
        functions._WARNED.clear()
        with pytest.warns(UserWarning, match="is deprecated and it is just left for JIT compatibility"):
            fn(*args)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fn(*args)


@pytest.mark.torch
@settings(max_examples=25, deadline=None)
# (values far from underflow: with tiny weights and squares the weighted covariance meets 0 * inf and inf - inf,
# whose order of operations PyTorch and tape resolve differently)
@given(st.lists(st.floats(-5, 5).filter(lambda v: v == 0 or abs(v) > 1e-6), min_size=2, max_size=7),
       st.floats(0, 1), st.integers(0, 4), st.sampled_from(["linear", "lower", "higher", "midpoint", "nearest"]))
def test_generated_match_torch(values, q, n_nan, mode):
    torch = pytest.importorskip("torch")
    a = np.array(values)
    a[:min(n_nan, len(a) - 1)][::2] = np.nan
    b = np.array(values)[::-1].copy()
    facts = []
    for M in (tape, torch):
        out = []
        x = M.tensor(np.stack([a, b]), requires_grad=True)
        w = M.tensor(b, requires_grad=True)
        _run(M, "nanquantile", lambda t: M.nanquantile(t, q, 1, interpolation=mode), out, (x,))
        _run(M, "quantile", lambda t: M.quantile(t, q, 1, interpolation=mode), out, (x,))
        xs = M.tensor(np.stack([b, b * b]), requires_grad=True)
        _run(M, "cov", lambda t, u: M.cov(t, aweights=u.abs()), out, (xs, w))
        _run(M, "trap", lambda t, u: M.trapezoid(t, u.cumsum(0)), out, (xs, w))
        _run(M, "cumtrap", lambda t: M.cumulative_trapezoid(t, dx=q), out, (xs,))
        _run(M, "cos", lambda t, u: M.cosine_similarity(t, u, -1), out, (xs, w))
        facts.append(out)
    assert repr(facts[0]) == repr(facts[1])
