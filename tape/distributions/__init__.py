r"""``tape.distributions`` (``torch.distributions`` under ``import tape as torch``): parameterizable
probability distributions and sampling functions, as PyTorch's, written over tape's ops so that
``log_prob``, ``entropy``, ``rsample`` and ``kl_divergence`` are differentiable to any order.

Sampling draws the numbers PyTorch draws after the same ``manual_seed`` wherever PyTorch samples
through ``normal_``/``uniform_``/``exponential_``/``bernoulli``/``multinomial`` (tape's generator is
PyTorch's). The score function (REINFORCE) estimator::

    probs = policy_network(state)
    m = Categorical(probs)
    action = m.sample()
    next_state, reward = env.step(action)
    loss = -m.log_prob(action) * reward
    loss.backward()

and the pathwise (reparameterization) estimator::

    params = policy_network(state)
    m = Normal(*params)
    action = m.rsample()
    next_state, reward = env.step(action)
    loss = -reward
    loss.backward()
"""
from __future__ import annotations

from . import constraints
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .independent import Independent
from .kl import kl_divergence, register_kl
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .uniform import Uniform

__all__ = ["Bernoulli", "Categorical", "Distribution", "ExponentialFamily", "Independent", "MultivariateNormal",
           "Normal", "Uniform", "kl_divergence", "register_kl"]
