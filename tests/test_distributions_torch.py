"""``tape.distributions`` against PyTorch 2.13's: the numbers drawn after the same ``manual_seed``,
``log_prob``/``entropy``/moments/``cdf``/``kl_divergence`` values and their gradients, shapes, reprs
and errors."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import tape

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")


def _leaf(M, values, dtype):
    return M.tensor(values, dtype=getattr(M, dtype), requires_grad=True)


# name -> (build(M, D, dtype) -> (distribution, its leaf parameters), draws the same numbers as PyTorch)
CASES = {
    "Normal": lambda M, D, dt: (lambda a, b: (D.Normal(a, b), [a, b]))(
        _leaf(M, [0.3, -1.2, 2.0], dt), _leaf(M, [0.5, 1.7, 0.9], dt)),
    "Normal-2": lambda M, D, dt: (lambda a, b: (D.Normal(a, b), [a, b]))(_leaf(M, [0.1, -0.7], dt), _leaf(M, [1.5, 0.4], dt)),
    "Exponential-3": lambda M, D, dt: (lambda r: (D.Exponential(r), [r]))(_leaf(M, [0.5, 3.0, 1.0], dt)),
    "Uniform-3": lambda M, D, dt: (lambda a, b: (D.Uniform(a, b), [a, b]))(_leaf(M, [0.0, -1.0, 0.5], dt), _leaf(M, [2.0, 0.5, 1.0], dt)),
    "Uniform-unit": lambda M, D, dt: (lambda a, b: (D.Uniform(a, b), [a, b]))(_leaf(M, [0.0, 0.2, 0.5], dt), _leaf(M, [1.0, 0.5, 1.5], dt)),
    "Normal-scalar": lambda M, D, dt: (D.Normal(0.5, 2.0), []),
    "Categorical-probs": lambda M, D, dt: (lambda p: (D.Categorical(probs=p), [p]))(
        _leaf(M, [[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]], dt)),
    "Categorical-logits": lambda M, D, dt: (lambda p: (D.Categorical(logits=p), [p]))(
        _leaf(M, [[0.2, -1.3, 2.5, 0.0], [1.6, 0.1, 0.3, -0.4]], dt)),
    "Bernoulli-probs": lambda M, D, dt: (lambda p: (D.Bernoulli(probs=p), [p]))(_leaf(M, [0.2, 0.7, 0.45], dt)),
    "Bernoulli-logits": lambda M, D, dt: (lambda p: (D.Bernoulli(logits=p), [p]))(_leaf(M, [0.2, -1.7, 3.0], dt)),
    "Uniform": lambda M, D, dt: (lambda a, b: (D.Uniform(a, b), [a, b]))(
        _leaf(M, [0.0, -1.0], dt), _leaf(M, [2.0, 0.5], dt)),
    "MultivariateNormal-cov": lambda M, D, dt: (lambda m, c: (D.MultivariateNormal(m, covariance_matrix=c @ c.mT + M.eye(3, dtype=c.dtype)), [m, c]))(
        _leaf(M, [0.1, -0.2, 0.3], dt), _leaf(M, [[1.0, 0.2, 0.0], [0.3, 0.9, -0.1], [0.0, 0.4, 1.1]], dt)),
    "MultivariateNormal-prec": lambda M, D, dt: (lambda m, c: (D.MultivariateNormal(m, precision_matrix=c @ c.mT + M.eye(3, dtype=c.dtype)), [m, c]))(
        _leaf(M, [[0.1, -0.2, 0.3], [1.0, 2.0, 0.0]], dt), _leaf(M, [[1.0, 0.2, 0.0], [0.3, 0.9, -0.1], [0.0, 0.4, 1.1]], dt)),
    "MultivariateNormal-tril": lambda M, D, dt: (lambda m, c: (D.MultivariateNormal(m, scale_tril=c.tril()), [m, c]))(
        _leaf(M, [0.1, -0.2], dt), _leaf(M, [[1.0, 0.0], [0.3, 0.9]], dt)),
    "Independent": lambda M, D, dt: (lambda a, b: (D.Independent(D.Normal(a, b), 1), [a, b]))(
        _leaf(M, [[0.3, -1.2], [2.0, 0.0]], dt), _leaf(M, [[0.5, 1.7], [0.9, 1.0]], dt)),
    "Exponential": lambda M, D, dt: (lambda r: (D.Exponential(r), [r]))(_leaf(M, [0.5, 3.0], dt)),
    "Laplace": lambda M, D, dt: (lambda a, b: (D.Laplace(a, b), [a, b]))(_leaf(M, [0.3, -1.2], dt), _leaf(M, [0.5, 1.7], dt)),
    "Cauchy": lambda M, D, dt: (lambda a, b: (D.Cauchy(a, b), [a, b]))(_leaf(M, [0.3, -1.2], dt), _leaf(M, [0.5, 1.7], dt)),
    "LogNormal": lambda M, D, dt: (lambda a, b: (D.LogNormal(a, b), [a, b]))(_leaf(M, [0.3, -1.2], dt), _leaf(M, [0.5, 1.7], dt)),
    "HalfNormal": lambda M, D, dt: (lambda b: (D.HalfNormal(b), [b]))(_leaf(M, [0.5, 1.7], dt)),
    "Gumbel": lambda M, D, dt: (lambda a, b: (D.Gumbel(a, b), [a, b]))(_leaf(M, [0.3, -1.2], dt), _leaf(M, [0.5, 1.7], dt)),
    "Gumbel-scalar": lambda M, D, dt: (D.Gumbel(0.5, 2.0), []),
    "Geometric-probs": lambda M, D, dt: (lambda p: (D.Geometric(probs=p), [p]))(_leaf(M, [0.2, 0.7, 1.0], dt)),
    "Geometric-logits": lambda M, D, dt: (lambda p: (D.Geometric(logits=p), [p]))(_leaf(M, [0.2, -1.7], dt)),
    "OneHotCategorical": lambda M, D, dt: (lambda p: (D.OneHotCategorical(probs=p), [p]))(
        _leaf(M, [[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]], dt)),
    "OneHotCategoricalStraightThrough": lambda M, D, dt: (lambda p: (D.OneHotCategoricalStraightThrough(logits=p), [p]))(
        _leaf(M, [0.2, -1.3, 2.5], dt)),
    "Poisson": lambda M, D, dt: (lambda r: (D.Poisson(r), [r]))(_leaf(M, [0.5, 4.0, 30.0], dt)),
    "Binomial-probs": lambda M, D, dt: (lambda p: (D.Binomial(5, probs=p), [p]))(_leaf(M, [0.2, 0.7, 0.5], dt)),
    "Binomial-logits": lambda M, D, dt: (lambda n, p: (D.Binomial(n, logits=p), [p]))(
        M.tensor([3.0, 10.0], dtype=getattr(M, dt)), _leaf(M, [0.2, -1.7], dt)),
    "RelaxedBernoulli": lambda M, D, dt: (lambda t, p: (D.RelaxedBernoulli(t, probs=p), [t, p]))(
        _leaf(M, 0.5, dt), _leaf(M, [0.2, 0.7, 0.45], dt)),
    "RelaxedOneHotCategorical": lambda M, D, dt: (lambda t, p: (D.RelaxedOneHotCategorical(t, logits=p), [t, p]))(
        _leaf(M, 0.7, dt), _leaf(M, [[0.2, -1.3, 2.5], [1.6, 0.1, 0.3]], dt)),
    "Gamma": lambda M, D, dt: (lambda a, b: (D.Gamma(a, b), [a, b]))(_leaf(M, [0.5, 2.0, 30.0], dt), _leaf(M, [1.0, 2.0, 0.5], dt)),
    "Gamma-2": lambda M, D, dt: (lambda a, b: (D.Gamma(a, b), [a, b]))(_leaf(M, [3.0, 0.7], dt), _leaf(M, [1.5, 0.5], dt)),
    "Chi2": lambda M, D, dt: (lambda a: (D.Chi2(a), [a]))(_leaf(M, [0.5, 3.0, 10.0], dt)),
    "StudentT": lambda M, D, dt: (lambda a, b, c: (D.StudentT(a, b, c), [a, b, c]))(
        _leaf(M, [3.0, 0.8, 1.5], dt), _leaf(M, [0.2, -1.0, 2.0], dt), _leaf(M, [0.5, 1.0, 2.0], dt)),
    "Dirichlet": lambda M, D, dt: (lambda a: (D.Dirichlet(a), [a]))(_leaf(M, [[0.5, 2.0, 3.0], [4.0, 1.0, 0.7]], dt)),
    "Beta": lambda M, D, dt: (lambda a, b: (D.Beta(a, b), [a, b]))(_leaf(M, [0.5, 2.0, 30.0], dt), _leaf(M, [1.0, 2.0, 0.5], dt)),
    "Beta-scalar": lambda M, D, dt: (D.Beta(2.0, 3.0), []),
    "HalfCauchy": lambda M, D, dt: (lambda b: (D.HalfCauchy(b), [b]))(_leaf(M, [0.5, 1.7, 3.0], dt)),
    "Pareto": lambda M, D, dt: (lambda a, b: (D.Pareto(a, b), [a, b]))(_leaf(M, [0.5, 1.0, 2.0], dt), _leaf(M, [0.8, 2.5, 4.0], dt)),
    "Weibull": lambda M, D, dt: (lambda a, b: (D.Weibull(a, b), [a, b]))(_leaf(M, [0.5, 1.0, 2.0], dt), _leaf(M, [0.8, 2.5, 4.0], dt)),
    "InverseGamma": lambda M, D, dt: (lambda a, b: (D.InverseGamma(a, b), [a, b]))(_leaf(M, [0.5, 2.5, 4.0], dt), _leaf(M, [1.0, 2.0, 0.5], dt)),
    "FisherSnedecor": lambda M, D, dt: (lambda a, b: (D.FisherSnedecor(a, b), [a, b]))(_leaf(M, [1.5, 3.0, 10.0], dt), _leaf(M, [2.0, 5.0, 8.0], dt)),
    "Multinomial": lambda M, D, dt: (lambda p: (D.Multinomial(5, probs=p), [p]))(_leaf(M, [[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]], dt)),
    "Multinomial-logits": lambda M, D, dt: (lambda p: (D.Multinomial(3, logits=p), [p]))(_leaf(M, [0.2, -1.3, 2.5, 0.0], dt)),
    "NegativeBinomial": lambda M, D, dt: (lambda n, p: (D.NegativeBinomial(n, probs=p), [n, p]))(
        _leaf(M, [3.0, 0.5, 10.0], dt), _leaf(M, [0.2, 0.7, 0.45], dt)),
    "NegativeBinomial-logits": lambda M, D, dt: (lambda p: (D.NegativeBinomial(4.0, logits=p), [p]))(_leaf(M, [0.2, -1.7], dt)),
    "Kumaraswamy": lambda M, D, dt: (lambda a, b: (D.Kumaraswamy(a, b), [a, b]))(_leaf(M, [0.5, 2.0, 3.0], dt), _leaf(M, [1.5, 2.0, 0.7], dt)),
    "MixtureSameFamily": lambda M, D, dt: (lambda p, a, b: (D.MixtureSameFamily(D.Categorical(logits=p), D.Normal(a, b)), [p, a, b]))(
        _leaf(M, [[0.2, -1.3, 2.5], [1.6, 0.1, 0.3]], dt), _leaf(M, [[0.3, -1.2, 2.0], [0.0, 1.0, -2.0]], dt), _leaf(M, [0.5, 1.7, 0.9], dt)),
    "MixtureSameFamily-mvn": lambda M, D, dt: (lambda p, a: (D.MixtureSameFamily(D.Categorical(logits=p), D.Independent(D.Normal(a, 1.5), 1)), [p, a]))(
        _leaf(M, [0.2, -1.3, 2.5], dt), _leaf(M, [[0.3, -1.2], [2.0, 0.0], [1.0, -2.0]], dt)),
    "LowRankMultivariateNormal": lambda M, D, dt: (lambda m, w, d: (D.LowRankMultivariateNormal(m, w, d), [m, w, d]))(
        _leaf(M, [[0.1, -0.2, 0.3], [1.0, 2.0, 0.0]], dt), _leaf(M, [[1.0, 0.2], [0.3, 0.9], [0.0, 0.4]], dt), _leaf(M, [0.5, 1.0, 2.0], dt)),
    "LowRankMultivariateNormal-1": lambda M, D, dt: (lambda m, w, d: (D.LowRankMultivariateNormal(m, w, d), [m, w, d]))(
        _leaf(M, [0.5, 0.2, -0.3], dt), _leaf(M, [[0.4], [-0.3], [1.2]], dt), _leaf(M, [1.5, 0.7, 1.0], dt)),
    "ContinuousBernoulli": lambda M, D, dt: (lambda p: (D.ContinuousBernoulli(probs=p), [p]))(_leaf(M, [0.2, 0.4995, 0.7], dt)),
    "ContinuousBernoulli-logits": lambda M, D, dt: (lambda p: (D.ContinuousBernoulli(logits=p), [p]))(_leaf(M, [0.3, -1.7, 1e-4], dt)),
    "LogisticNormal": lambda M, D, dt: (lambda a, b: (D.LogisticNormal(a, b), [a, b]))(
        _leaf(M, [[0.3, -1.2], [2.0, 0.0]], dt), _leaf(M, [[0.5, 1.7], [0.9, 1.0]], dt)),
    "LogisticNormal-scalar": lambda M, D, dt: (D.LogisticNormal(0.5, 2.0), []),
    # (float32 only: PyTorch's log_prob compares the concentration with a float32 0 by isclose, an error in float64)
    "GeneralizedPareto": lambda M, D, dt: (lambda a, b, c: (D.GeneralizedPareto(a, b, c), [a, b, c]))(
        _leaf(M, [0.3, -1.2, 0.0], "float32"), _leaf(M, [0.5, 1.7, 1.0], "float32"), _leaf(M, [0.2, -0.3, 0.0], "float32")),
    "VonMises": lambda M, D, dt: (lambda a, b: (D.VonMises(a, b), [a, b]))(_leaf(M, [0.3, -1.2, 2.0], dt), _leaf(M, [0.5, 4.0, 1e-3], dt)),
    "Transformed-affine-tanh": lambda M, D, dt: (lambda a, b: (D.TransformedDistribution(
        D.Normal(a, b), [D.AffineTransform(0.5, -2.0), D.TanhTransform()]), [a, b]))(
        _leaf(M, [0.3, -0.2], dt), _leaf(M, [0.5, 0.7], dt)),
    "Transformed-compose": lambda M, D, dt: (lambda a, b: (D.TransformedDistribution(
        D.Normal(a, b), D.ComposeTransform([D.ExpTransform(), D.PowerTransform(M.tensor(0.5, dtype=a.dtype)),
                                            D.SoftplusTransform().inv, D.SigmoidTransform()])), [a, b]))(
        _leaf(M, [0.3, -0.2], dt), _leaf(M, [0.5, 0.7], dt)),
    "Transformed-event": lambda M, D, dt: (lambda a, b: (D.TransformedDistribution(
        D.Normal(a, b), [D.ReshapeTransform((2, 2), (4,)), D.AffineTransform(M.tensor([1.0, 2.0, 3.0, 4.0], dtype=a.dtype), 2.0, event_dim=1)]), [a, b]))(
        _leaf(M, [[0.3, -0.2], [1.0, 0.1]], dt), _leaf(M, [[0.5, 0.7], [1.0, 2.0]], dt)),
}
OWN_SAMPLER = {"Poisson", "Binomial-probs", "Binomial-logits", "Gamma", "Gamma-2", "Chi2", "StudentT", "Dirichlet", "Beta",
               "Beta-scalar", "InverseGamma", "FisherSnedecor", "NegativeBinomial", "NegativeBinomial-logits"}
CDF_NO_GRAD = {"Gamma", "Gamma-2", "Chi2", "InverseGamma"}      # (igamma: no derivative in the concentration, PyTorch's too)     # (PyTorch's C++ samplers: the distribution, not the stream)


def _try(fn):
    try:
        return fn()
    except NotImplementedError:
        return NotImplemented


def _run(M, D, name, dtype):
    """Everything a case computes, as numpy arrays (and the grads of a scalar of them)."""
    M.manual_seed(7)
    d, params = CASES[name](M, D, dtype)
    out = {"batch_shape": tuple(d.batch_shape), "event_shape": tuple(d.event_shape), "repr": repr(d),
           "has_rsample": d.has_rsample}
    x = d.sample((2,))
    out["sample_shape"] = tuple(x.shape)
    if name in OWN_SAMPLER:
        if name.startswith(("Beta", "Dirichlet")):      # (values inside the simplex)
            x = d.mean.detach() * M.tensor([0.9, 0.95], dtype=x.dtype).view((2,) + (1,) * (x.dim() - 1))
            if name == "Dirichlet":
                x = x / x.sum(-1, True)
        else:
            x = d.mean.detach().nan_to_num(0.0).floor() + 1 + M.arange(2, dtype=x.dtype).view((2,) + (1,) * len(d.batch_shape))
    out["sample"] = x
    out["sample_dtype"] = str(x.dtype).split(".")[-1]
    if d.has_rsample:
        out["rsample"] = d.rsample((3,))
        if name in OWN_SAMPLER:
            out["rsample"] = tuple(out["rsample"].shape)
    lp = d.log_prob(x)
    out["log_prob"] = lp
    terms = [lp.sum()]
    for what in ("entropy", "mean", "variance", "stddev", "mode", "perplexity"):
        v = _try(lambda: getattr(d, what)() if what in ("entropy", "perplexity") else getattr(d, what))
        if v is not NotImplemented:
            out[what] = v
            if what in ("entropy", "mean", "variance") and v.is_floating_point() and v.isfinite().all():
                terms.append(v.sum())
    if d.has_rsample and name not in OWN_SAMPLER:
        terms.append(out["rsample"].pow(2).sum())
    c = _try(lambda: d.cdf(x))
    if c is not NotImplemented:
        out["cdf"] = c
        if name not in CDF_NO_GRAD:
            terms.append(c.sum())
    if getattr(d, "has_enumerate_support", False):
        out["support"] = _try(d.enumerate_support)
        out["support_small"] = _try(lambda: d.enumerate_support(expand=False))
    if params:
        out["grads"] = M.autograd.grad(sum(terms), params, allow_unused=True)
    return out


def _close(a, b, key, dtype):
    if isinstance(a, (tuple, list)) and a and not isinstance(a[0], int):
        for x, y in zip(a, b):
            _close(x, y, key, dtype)
        return
    if hasattr(a, "detach"):
        a, b = a.detach().numpy(), b.detach().numpy()
        assert a.shape == b.shape, key
        tol = (1e-8 if key == "cdf" else 1e-12) if a.dtype == np.float64 else 1e-5     # (cdf: igamma to ~1e-9)
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=key)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), key
    else:
        assert a == b, key


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_values_samples_and_grads_match_pytorch(name, dtype):
    got = _run(tape, tape.distributions, name, dtype)
    want = _run(torch, torch.distributions, name, dtype)
    assert sorted(got) == sorted(want)
    for key in want:
        if key != "repr":
            _close(got[key], want[key], key, dtype)
    assert got["repr"] == want["repr"]


KL_PAIRS = [
    ("Normal", "Normal"), ("Categorical-probs", "Categorical-probs"), ("Categorical-logits", "Categorical-logits"),
    ("Bernoulli-probs", "Bernoulli-logits"), ("Uniform", "Uniform"), ("MultivariateNormal-cov", "MultivariateNormal-prec"),
    ("MultivariateNormal-tril", "MultivariateNormal-tril"), ("Independent", "Independent"),
    ("Exponential", "Exponential"), ("Laplace", "Laplace"), ("Cauchy", "Cauchy"), ("LogNormal", "LogNormal"),
    ("HalfNormal", "HalfNormal"), ("Gumbel", "Gumbel"), ("Geometric-probs", "Geometric-probs"),
    ("OneHotCategorical", "OneHotCategorical"), ("Poisson", "Poisson"), ("Binomial-probs", "Binomial-probs"),
    ("Normal-2", "Laplace"), ("Normal-2", "Gumbel"), ("Laplace", "Normal-2"), ("Gumbel", "Normal-2"),
    ("Exponential", "Normal-2"), ("Exponential", "Gumbel"), ("Uniform", "Gumbel"), ("Normal-2", "Exponential"), ("Laplace", "Uniform"),
    ("Gumbel", "Exponential"), ("Exponential", "Uniform"), ("Poisson", "Binomial-probs"),
    ("Bernoulli-probs", "Poisson"), ("Transformed-affine-tanh", "Transformed-affine-tanh"),
    ("Gamma", "Gamma"), ("Chi2", "Gamma"), ("Exponential", "Gamma-2"), ("Gamma-2", "Exponential"), ("Gamma-2", "Gumbel"),
    ("Gamma-2", "Normal-2"), ("Uniform", "Gamma-2"), ("Gamma-2", "Uniform"), ("Normal-2", "Gamma-2"), ("Laplace", "Gamma-2"),
    ("Dirichlet", "Dirichlet"), ("Beta", "Beta"), ("Beta", "Exponential-3"), ("Beta", "Gamma"), ("Beta", "Normal"),
    ("Beta", "Uniform-3"), ("Uniform-unit", "Beta"), ("Normal", "Beta"), ("Gamma", "Beta"),
    ("Pareto", "Pareto"), ("Pareto", "Exponential-3"), ("Pareto", "Gamma"), ("Pareto", "Normal"), ("Pareto", "Uniform-3"),
    ("Beta", "Pareto"), ("Uniform-unit", "Pareto"), ("Normal", "Pareto"), ("HalfCauchy", "HalfCauchy"),
    ("Weibull", "Weibull"), ("InverseGamma", "InverseGamma"),
    ("LowRankMultivariateNormal", "LowRankMultivariateNormal-1"), ("MultivariateNormal-cov", "LowRankMultivariateNormal"),
    ("LowRankMultivariateNormal-1", "MultivariateNormal-prec"),
    ("ContinuousBernoulli", "ContinuousBernoulli-logits"), ("Beta", "ContinuousBernoulli"), ("Uniform-unit", "ContinuousBernoulli"),
    ("ContinuousBernoulli", "Exponential-3"), ("ContinuousBernoulli", "Normal"), ("ContinuousBernoulli", "Uniform-3"),
    ("ContinuousBernoulli", "Pareto"), ("Normal", "ContinuousBernoulli"),
]


def _kl(M, D, p, q, dtype):
    dp, pp = CASES[p](M, D, dtype)
    dq, qp = CASES[q](M, D, dtype)
    if p == q:      # (a second distribution of the same family: its parameters moved)
        dq = dq.expand(dq.batch_shape)
    if p == "Uniform" and q not in ("Uniform", "Beta"):      # (a support inside q's: [0, 2] and [-1, 0.5] in [0, inf))
        dp = D.Uniform(dp.low + 1, dp.high + 1)
    kl = D.kl_divergence(dp, dq)
    return kl, M.autograd.grad(kl.sum(), pp + qp, allow_unused=True) if kl.requires_grad else ()


@pytest.mark.parametrize("pair", KL_PAIRS, ids="-".join)
def test_kl_divergence_matches_pytorch(pair):
    got = _kl(tape, tape.distributions, *pair, "float64")
    want = _kl(torch, torch.distributions, *pair, "float64")
    _close(got, want, pair, "float64")


def test_kl_across_families_matches_pytorch():
    for M, D in ((tape, tape.distributions), (torch, torch.distributions)):
        a, b = M.tensor([0.0, -1.0]), M.tensor([2.0, 0.5])
        loc, scale = M.tensor([0.3, 0.1]), M.tensor([1.5, 0.4])
        res = [D.kl_divergence(D.Uniform(a, b), D.Normal(loc, scale)), D.kl_divergence(D.Normal(loc, scale), D.Uniform(a, b)),
               D.kl_divergence(D.Uniform(a, b), D.Uniform(a - 1, b)), D.kl_divergence(D.Uniform(a - 1, b), D.Uniform(a, b)),
               D.kl_divergence(D.Bernoulli(M.tensor([0.0, 1.0, 0.3])), D.Bernoulli(M.tensor([0.5, 0.0, 1.0])))]
        if M is tape:
            got = [r.numpy() for r in res]
        else:
            want = [r.numpy() for r in res]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gamma_rsample_gradient_is_pytorch_s_at_the_same_sample(dtype):
    # (PyTorch's _standard_gamma_grad approximates -dP(a, x)/da / p(x; a): within ~2e-4 of tape's)
    dt = getattr(tape, dtype)
    a = tape.tensor([0.05, 0.3, 0.5, 1.0, 2.0, 5.0, 7.9, 8.5, 20.0, 100.0] * 2, dtype=dt, requires_grad=True)
    tape.manual_seed(0)
    x = tape.distributions.Gamma(a, 2.0).rsample()
    g, = tape.autograd.grad(x.sum(), a, retain_graph=True)
    want = torch._standard_gamma_grad(torch.tensor(a.detach().numpy()), torch.tensor(x.detach().numpy() * 2)) / 2
    np.testing.assert_allclose(g.numpy(), want.numpy(), rtol=3e-4, atol=1e-6)
    assert x.grad_fn.name() == "DivBackward0" and x.grad_fn.next_functions[0][0].name() == "StandardGammaBackward0"
    g2, = tape.autograd.grad(x.sum(), a, create_graph=True)
    with pytest.raises(NotImplementedError, match="the derivative for '_standard_gamma_grad' is not implemented."):
        tape.autograd.grad(g2.sum(), a)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dirichlet_and_beta_rsample_gradients_are_pytorch_s_at_the_same_sample(dtype):
    dt = getattr(tape, dtype)
    a = tape.tensor([[0.5, 2.0, 3.0], [4.0, 1.0, 0.7], [30.0, 20.0, 60.0]], dtype=dt, requires_grad=True)
    w = tape.tensor([[0.3, -1.0, 2.0], [1.0, 0.5, 0.0], [2.0, 1.0, -1.0]], dtype=dt)
    tape.manual_seed(0)
    x = tape.distributions.Dirichlet(a).rsample()
    assert x.grad_fn.name() == "_DirichletBackward"
    g, = tape.autograd.grad((x * w).sum(), a)
    tx, ta, tw = (torch.tensor(v.detach().numpy()) for v in (x, a, w))
    want = torch.distributions.dirichlet._Dirichlet_backward(tx, ta, tw)
    np.testing.assert_allclose(g.numpy(), want.numpy(), rtol=1e-3, atol=1e-5)
    c1, c0 = tape.tensor([0.5, 3.0], dtype=dt, requires_grad=True), tape.tensor([2.0, 40.0], dtype=dt, requires_grad=True)
    tape.manual_seed(1)
    y = tape.distributions.Beta(c1, c0).rsample()
    g1, g0 = tape.autograd.grad(y.sum(), (c1, c0))
    ty, t1, t0 = (torch.tensor(v.detach().numpy()).requires_grad_() for v in (y, c1, c0))
    both = torch.stack([t1, t0], -1)
    want = torch.distributions.dirichlet._Dirichlet_backward(torch.stack([ty, 1 - ty], -1), both,
                                                             torch.stack([torch.ones_like(ty), torch.zeros_like(ty)], -1))
    np.testing.assert_allclose(np.stack([g1.numpy(), g0.numpy()], -1), want.detach().numpy(), rtol=1e-3, atol=1e-5)


def _registry_run(M):
    D = M.distributions
    C = D.constraints
    x = M.tensor([[0.3, -0.5, 1.2], [0.1, 0.2, -2.0]], dtype=M.float64, requires_grad=True)
    out = []
    for c in [C.real, C.positive, C.greater_than(1.5), C.less_than(-1.0), C.interval(-2.0, 3.0), C.unit_interval,
              C.simplex, C.independent(C.positive, 1), C.corr_cholesky, C.stack([C.positive, C.real], 0),
              C.cat([C.positive, C.real], 0, [1, 1]), C.lower_cholesky, C.positive_definite]:
        for registry in (D.biject_to, D.transform_to):
            try:
                t = registry(c)
            except NotImplementedError as e:
                out.append(str(e))
                continue
            z = x[:, :2].reshape(2, 1, 2).expand(2, 2, 2) if c in (C.lower_cholesky, C.positive_definite) else x
            y = t(z)
            total = y.sum() + t.inv(y).sum()
            if t.bijective:
                total = total + t.log_abs_det_jacobian(z, y).sum()
            out.append((type(t).__name__, t.bijective, y, t.inv(y), M.autograd.grad(total, x)[0]))
    cdt = D.CumulativeDistributionTransform(D.Normal(0.0, 1.0))
    out.append((cdt(M.tensor([0.3])), cdt.inv(M.tensor([0.3])), cdt.log_abs_det_jacobian(M.tensor([0.3]), None)))
    return out


def test_constraint_registry_and_transforms_match_pytorch():
    got, want = _registry_run(tape), _registry_run(torch)
    assert len(got) == len(want)
    for g, w in zip(got[:-1], want[:-1]):
        if isinstance(g, str):      # (PyTorch's NotImplementedError for a constraint without a transform)
            assert g == w
        else:
            assert g[:2] == w[:2]
            _close(list(g[2:]), list(w[2:]), g[0], "float64")
    _close(list(got[-1]), list(want[-1]), "CumulativeDistributionTransform", "float32")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lkj_cholesky_log_prob_and_samples(dtype):
    out = []
    for M in (tape, torch):
        c = M.tensor([0.5, 2.0], dtype=getattr(M, dtype), requires_grad=True)
        d = M.distributions.LKJCholesky(3, c)
        L = M.distributions.transforms.CorrCholeskyTransform()(M.tensor([[0.3, -0.2, 0.5], [0.1, 0.9, -1.0]], dtype=c.dtype))
        lp = d.log_prob(L)
        out.append((lp, M.autograd.grad(lp.sum(), c)[0], tuple(d.sample((4,)).shape), repr(d), tuple(d.event_shape)))
    _close(list(out[0][:2]), list(out[1][:2]), "LKJCholesky", dtype)
    assert out[0][2:] == out[1][2:]
    tape.manual_seed(0)
    s = tape.distributions.LKJCholesky(4, 0.7).sample((50,))
    assert bool(tape.distributions.constraints.corr_cholesky.check(s).all())


@pytest.mark.parametrize("how", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_wishart_values_grads_and_samples(how):
    out = []
    for M in (tape, torch):
        A = M.tensor([[1.0, 0.2, 0.0], [0.3, 0.9, -0.1], [0.0, 0.4, 1.1]], dtype=M.float64, requires_grad=True)
        df = M.tensor([4.0, 6.5], dtype=M.float64, requires_grad=True)
        S = A @ A.mT + M.eye(3, dtype=M.float64)
        w = M.distributions.Wishart(df, **{how: M.linalg.cholesky(S) if how == "scale_tril" else S})
        X = M.tensor([[2.0, 0.3, 0.1], [0.3, 1.5, 0.2], [0.1, 0.2, 1.0]], dtype=M.float64)
        parts = [w.log_prob(X), w.entropy(), w.mean, w.variance, w.mode]
        total = sum(p.nan_to_num(0.0).sum() for p in parts)
        M.manual_seed(0)
        with pytest.warns(UserWarning, match="Singular sample detected."):    # (PyTorch's, for regular samples)
            s = w.rsample((2,))
        out.append((parts, M.autograd.grad(total, [A, df]), tuple(s.shape), repr(w), tuple(w.expand((3, 2)).batch_shape),
                    M.distributions.constraints.positive_definite.check(s).tolist(), s.requires_grad))
    _close(list(out[0][0]) + list(out[0][1]), list(out[1][0]) + list(out[1][1]), "Wishart", "float64")
    assert out[0][2:] == out[1][2:]


def _error(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
    except Exception as e:        # noqa: BLE001  (the type and message are what is compared)
        return type(e).__name__, str(e).replace("torch.distributions", "tape.distributions")
    return None


ERRORS = [
    lambda M, D: D.Normal(M.tensor([0.0, 1.0]), M.tensor([1.0, -1.0])),
    lambda M, D: D.MultivariateNormal(M.zeros(2), M.eye(2)).log_prob(M.ones(3)),
    lambda M, D: D.Normal(M.zeros(3), 1.0).log_prob(M.ones(2)),
    lambda M, D: D.Normal(M.zeros(3), 1.0).log_prob([1.0]),
    lambda M, D: D.Categorical(M.tensor([0.5, 0.5]), M.tensor([0.0, 0.0])),
    lambda M, D: D.Categorical(),
    lambda M, D: D.Categorical(M.tensor(0.5)),
    lambda M, D: D.Categorical(logits=M.tensor(0.5)),
    lambda M, D: D.Categorical(M.tensor([0.5, -0.5])),
    lambda M, D: D.Categorical(M.tensor([0.5, 0.5])).log_prob(M.tensor([2.0])),
    lambda M, D: D.Categorical(M.tensor([0.5, 0.5])).log_prob(M.tensor([0.5])),
    lambda M, D: D.Categorical(M.tensor([0.5, 0.5])).cdf(M.tensor([0])),
    lambda M, D: D.Bernoulli(M.tensor([1.5])),
    lambda M, D: D.Bernoulli(M.tensor([0.5])).log_prob(M.tensor([0.5])),
    lambda M, D: D.Bernoulli(),
    lambda M, D: D.Bernoulli("a"),
    lambda M, D: D.Uniform(M.tensor([1.0]), M.tensor([0.0])),
    lambda M, D: D.Uniform(0.0, 1.0).log_prob(M.tensor(2.0)),
    lambda M, D: D.MultivariateNormal(M.zeros(2)),
    lambda M, D: D.MultivariateNormal(M.tensor(0.0), M.eye(2)),
    lambda M, D: D.MultivariateNormal(M.zeros(2), M.ones(2)),
    lambda M, D: D.MultivariateNormal(M.zeros(2), scale_tril=M.ones(2)),
    lambda M, D: D.MultivariateNormal(M.zeros(2), M.tensor([[1.0, 2.0], [2.0, 1.0]])),
    lambda M, D: D.MultivariateNormal(M.zeros(2), scale_tril=M.tensor([[1.0, 2.0], [2.0, 1.0]])),
    lambda M, D: D.MultivariateNormal(M.zeros(2), M.eye(2), scale_tril=M.eye(2)),
    lambda M, D: D.Independent(D.Normal(M.zeros(2), 1.0), 2),
    lambda M, D: D.Independent(D.Bernoulli(M.ones(2, 2) / 2), 1).enumerate_support(),
    lambda M, D: D.kl_divergence(D.Normal(0.0, 1.0), D.Categorical(M.ones(2))),
    lambda M, D: D.kl_divergence(D.Normal(0.0, 1.0), D.Bernoulli(0.5)),
    lambda M, D: D.kl_divergence(D.MultivariateNormal(M.zeros(2), M.eye(2)), D.MultivariateNormal(M.zeros(3), M.eye(3))),
    lambda M, D: D.kl_divergence(D.Independent(D.Normal(M.zeros(2, 2), 1.0), 1), D.Independent(D.Normal(M.zeros(2, 2), 1.0), 2)),
    lambda M, D: D.Normal(0.0, 1.0).enumerate_support(),
    lambda M, D: D.Uniform(0.0, 1.0).mode + D.Distribution().mode,
    lambda M, D: D.Distribution.set_default_validate_args(2),
    lambda M, D: D.Geometric(M.tensor([0.0, 0.5])),
    lambda M, D: D.Geometric(M.tensor([0.5])).log_prob(M.tensor([-1.0])),
    lambda M, D: D.Poisson(M.tensor([-1.0])),
    lambda M, D: D.Poisson(M.tensor([1.0])).log_prob(M.tensor([0.5])),
    lambda M, D: D.Binomial(M.tensor([2.0, 3.0]), M.tensor([0.5, 0.5])).entropy(),
    lambda M, D: D.Binomial(M.tensor([2.5]), M.tensor([0.5])),
    lambda M, D: D.Binomial(4, M.tensor([0.5])).log_prob(M.tensor([5.0])),
    lambda M, D: D.kl_divergence(D.Binomial(2, M.tensor([0.5])), D.Binomial(3, M.tensor([0.5]))),
    lambda M, D: D.Exponential(M.tensor([1.0])).log_prob(M.tensor([-1.0])),
    lambda M, D: D.Laplace(M.tensor([1.0]), M.tensor([0.0])),
    lambda M, D: D.HalfNormal(M.tensor([1.0])).log_prob(M.tensor([-1.0])),
    lambda M, D: D.LogNormal(M.tensor([1.0]), M.tensor([-1.0])),
    lambda M, D: D.OneHotCategorical(M.tensor([0.5, 0.5])).log_prob(M.tensor([1.0, 1.0])),
    lambda M, D: D.RelaxedBernoulli(M.tensor(0.5), M.tensor([0.5])).log_prob(M.tensor([1.5])),
    lambda M, D: D.TransformedDistribution(D.Normal(0.0, 1.0), "exp"),
    lambda M, D: D.TransformedDistribution(D.Normal(0.0, 1.0), [D.ExpTransform(), 2]),
    lambda M, D: D.TransformedDistribution(D.Normal(0.0, 1.0), D.SoftmaxTransform()),
    lambda M, D: D.TransformedDistribution(D.Normal(M.zeros(3), 1.0), D.SoftmaxTransform()).log_prob(M.ones(3) / 3),
    lambda M, D: D.ReshapeTransform((2, 2), (3,)),
    lambda M, D: D.ReshapeTransform((2, 2), (4,)).forward_shape((3, 2)),
    lambda M, D: D.ExpTransform(cache_size=2),
    lambda M, D: D.AffineTransform(0.0, 1.0).with_cache(1).event_dim + D.SoftmaxTransform().event_dim + D.ComposeTransform([D.ExpTransform(), D.SoftmaxTransform()]).event_dim + D.ReshapeTransform((4,), (2, 2)).event_dim,
    lambda M, D: D.kl_divergence(D.LogNormal(0.0, 1.0), D.TransformedDistribution(D.Normal(0.0, 1.0), D.TanhTransform())),
    lambda M, D: D.kl_divergence(D.Exponential(1.0), D.Laplace(0.0, 1.0)),
    lambda M, D: D.Gamma(M.tensor([1.0]), M.tensor([0.0])),
    lambda M, D: D.Gamma(M.tensor([1.0]), M.tensor([1.0])).log_prob(M.tensor([-1.0])),
    lambda M, D: D.Chi2(M.tensor([-1.0])),
    lambda M, D: D.StudentT(M.tensor([-1.0])),
    lambda M, D: D.Gamma(M.tensor([1, 2]), M.tensor([1, 1])).rsample(),
    lambda M, D: D.Dirichlet(M.tensor(1.0)),
    lambda M, D: D.Dirichlet(M.tensor([1.0, -1.0])),
    lambda M, D: D.Dirichlet(M.tensor([1.0, 1.0])).log_prob(M.tensor([0.5, 0.6])),
    lambda M, D: D.Beta(M.tensor([1.0]), M.tensor([-1.0])),
    lambda M, D: D.Beta(1.0, 2.0).log_prob(M.tensor(1.5)),
    lambda M, D: D.Pareto(M.tensor([1.0]), M.tensor([1.0])).log_prob(M.tensor([0.5])),
    lambda M, D: D.Weibull(M.tensor([1.0]), M.tensor([-1.0])),
    lambda M, D: D.HalfCauchy(M.tensor([1.0])).log_prob(M.tensor([-1.0])),
    lambda M, D: D.FisherSnedecor(M.tensor([1.0]), M.tensor([0.0])),
    lambda M, D: D.InverseGamma(M.tensor([1.0]), M.tensor([1.0])).log_prob(M.tensor([0.0])),
    lambda M, D: D.kl_divergence(D.HalfCauchy(M.tensor([1.0])), D.Weibull(M.tensor([1.0]), M.tensor([1.0]))),
    lambda M, D: D.Multinomial(M.tensor(2), M.tensor([0.5, 0.5])),
    lambda M, D: D.Multinomial(2, M.tensor([0.5, 0.5])).log_prob(M.tensor([2.0, 1.0])),
    lambda M, D: D.NegativeBinomial(M.tensor([1.0]), M.tensor([1.0])),
    lambda M, D: D.Kumaraswamy(M.tensor([1.0]), M.tensor([-1.0])),
    lambda M, D: D.MixtureSameFamily(D.Normal(0.0, 1.0), D.Normal(M.zeros(2), 1.0)),
    lambda M, D: D.MixtureSameFamily(D.Categorical(M.ones(3)), D.Normal(M.zeros(2), 1.0)),
    lambda M, D: D.MixtureSameFamily(D.Categorical(M.ones(4, 2)), D.Normal(M.zeros(3, 2), 1.0)),
    lambda M, D: D.MixtureSameFamily(D.Categorical(M.ones(2)), 3),
    lambda M, D: D.LogisticNormal(M.tensor([0.0]), M.tensor([-1.0])),
    lambda M, D: D.VonMises(M.tensor([0.0]), M.tensor([-1.0])),
    lambda M, D: D.LKJCholesky(1),
    lambda M, D: D.Wishart(2.0),
    lambda M, D: D.Wishart(2.0, M.ones(3)),
    lambda M, D: D.Wishart(1.0, M.eye(3)),
    lambda M, D: D.Wishart(M.tensor([5.0]), scale_tril=M.ones(3, 3)),
    lambda M, D: D.LKJCholesky(3, M.tensor([-1.0])),
    lambda M, D: D.LKJCholesky(2).log_prob(M.tensor([[1.0, 0.0], [0.5, 0.5]])),
    lambda M, D: D.GeneralizedPareto(0.0, -1.0, 0.5),
    lambda M, D: D.GeneralizedPareto(M.tensor([0.3], dtype=M.float64), 1.0, 0.2).log_prob(M.tensor([1.0], dtype=M.float64)),
    lambda M, D: D.GeneralizedPareto(M.tensor([0.0]), M.tensor([1.0]), M.tensor([-0.5])).log_prob(M.tensor([3.0])),
    lambda M, D: D.biject_to(D.constraints.lower_cholesky),
    lambda M, D: D.transform_to(D.constraints.boolean),
    lambda M, D: D.transform_to.register(3, lambda c: c),
    lambda M, D: D.CatTransform([D.ExpTransform()], 0, [1, 2]),
    lambda M, D: D.CatTransform([D.ExpTransform(), D.ExpTransform()], 0, [1, 1])(M.ones(3)),
    lambda M, D: D.StackTransform([D.ExpTransform(), D.ExpTransform()], 0)(M.ones(3)),
    lambda M, D: D.StickBreakingTransform().forward_shape(()),
    lambda M, D: D.CorrCholeskyTransform().forward_shape((4,)),
    lambda M, D: D.ContinuousBernoulli(M.tensor([1.5]), validate_args=True),
    lambda M, D: D.ContinuousBernoulli(M.tensor([0.5])).log_prob(M.tensor([1.5])),
    lambda M, D: D.LowRankMultivariateNormal(M.zeros(2), M.ones(3, 1), M.ones(2)),
    lambda M, D: D.LowRankMultivariateNormal(M.zeros(2), M.ones(2), M.ones(2)),
    lambda M, D: D.LowRankMultivariateNormal(M.zeros(2), M.ones(2, 1), M.ones(3)),
    lambda M, D: D.LowRankMultivariateNormal(M.zeros(3, 2), M.ones(4, 2, 1), M.ones(2)),
    lambda M, D: D.kl_divergence(D.LowRankMultivariateNormal(M.zeros(2), M.ones(2, 1), M.ones(2)), D.MultivariateNormal(M.zeros(3), M.eye(3))),
    lambda M, D: D.MixtureSameFamily(D.Categorical(M.ones(2)), D.Exponential(M.ones(2))).log_prob(M.tensor(-1.0)),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_errors_match_pytorch(case):
    got = _error(lambda: ERRORS[case](tape, tape.distributions))
    want = _error(lambda: ERRORS[case](torch, torch.distributions))
    assert want is not None
    assert got == want


def test_validation_switches_match_pytorch():
    for M, D in ((tape, tape.distributions), (torch, torch.distributions)):
        d = D.Normal(M.tensor([0.0]), M.tensor([-1.0]), validate_args=False)
        assert math.isnan(d.log_prob(M.tensor([0.0])).item())
        D.Distribution.set_default_validate_args(False)
        try:
            assert math.isnan(D.Normal(0.0, -1.0).log_prob(M.tensor(0.0)).item())
        finally:
            D.Distribution.set_default_validate_args(True)
        e = D.Normal(M.zeros(2), 1.0).expand((3, 2))
        assert tuple(e.batch_shape) == (3, 2) and e._validate_args


def test_sample_n_warns_as_pytorch():
    for M, D in ((tape, tape.distributions), (torch, torch.distributions)):
        M.manual_seed(0)
        with pytest.warns(FutureWarning, match=r"`sample_n\(n\)` will be deprecated. Use `sample\(\(n,\)\)` instead."):
            out = D.Normal(M.zeros(2), 1.0).sample_n(3)
        if M is tape:
            got = out.numpy()
    np.testing.assert_array_equal(got, out.numpy())
