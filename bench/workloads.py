"""Workload definitions: the math is written once and every peer runs it."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

OPS_PER_BLOCK = 10
SCALAR_N_OPS = 10_000
# Leaf values x0, a, b, c of the chain.
SCALAR_LEAVES = (0.3, 0.7, -0.2, 0.9)

# scalar_evals: value and gradient of a shorter chain of x alone (a, b, c fixed numbers) at many points.
EVAL_POINTS = 200
EVAL_N_OPS = 1_000

MLP_SIZES = (16, 64, 64, 1)
MLP_BATCH = 32
LARGE_MLP_SIZES = (784, 1024, 1024, 10)
LARGE_MLP_BATCH = 512

ELEMENTWISE_N = 1_000_000
XENT_SHAPE = (512, 1000)

ROSEN_N = 200
# A tape must match the analytic Hessian to this (max abs error); others are reported.
HESSIAN_EXACT_TOL = 1e-10

PENALTY_WEIGHT = 0.1

# per_sample_grads: the gradient w.r.t. a parameter vector of a small loss, at each sample of a batch.
PSG_SAMPLES = 10_000
PSG_DIM = 16
PSG_LAYERS = 4

CHAIN_LAYERS = 200
CHAIN_WIDTH = 256
CHAIN_BATCH = 64
CHAIN_SEGMENT = 10


@dataclass(frozen=True)
class Workload:
    """How a workload is reported: its unit and how seconds per run map onto it."""

    name: str
    title: str
    unit: str
    per_run: float  # multiply seconds per run by this to get `unit`
    rtol: float  # tolerance when cross-checking values and gradients between peers
    exact: str | None = None  # what Check.max_err measures, for workloads with an exact answer
    exact_tol: float | None = None  # tape's max_err must stay below this


WORKLOADS = {
    "scalar_chain": Workload(
        "scalar_chain",
        f"{SCALAR_N_OPS:,} float64 0-d ops (mul/add/sin/div/exp)",
        "ns/op",
        1e9 / SCALAR_N_OPS,
        1e-10,
    ),
    "scalar_evals": Workload(
        "scalar_evals",
        f"{EVAL_POINTS} value-and-gradient evaluations at different points of a {EVAL_N_OPS:,}-op function of "
        f"one float64 scalar (the scalar chain's ops); fwd = recording, compiling or building the graph, "
        f"bwd = the {EVAL_POINTS} evaluations",
        "ms",
        1e3,
        1e-10,
    ),
    "mlp_step": Workload(
        "mlp_step",
        f"float32 MLP {'-'.join(map(str, MLP_SIZES))}, tanh, MSE, batch {MLP_BATCH}",
        "us/step",
        1e6,
        1e-3,
    ),
    "function_mlp_step": Workload(
        "function_mlp_step",
        f"mlp_step with tanh as a custom autograd.Function (forward saves tanh(x); backward g * (1 - y*y))",
        "us/step",
        1e6,
        1e-3,
    ),
    "large_elementwise": Workload(
        "large_elementwise",
        f"sum(sin(x) * exp(-x*x) + sqrt(x*x + 1)) and its gradient, x float32 of {ELEMENTWISE_N:,} elements",
        "ms/step",
        1e3,
        1e-3,
    ),
    "new_ops_1e6": Workload(
        "new_ops_1e6",
        f"sum(erf(x) * log1p(x*x) + where(x > 0, atan(x), x / 2)) and its gradient, x float32 of "
        f"{ELEMENTWISE_N:,} elements",
        "ms/step",
        1e3,
        1e-3,
    ),
    "large_mlp_step": Workload(
        "large_mlp_step",
        f"float32 MLP {'-'.join(map(str, LARGE_MLP_SIZES))}, relu, MSE, batch {LARGE_MLP_BATCH}",
        "ms/step",
        1e3,
        1e-3,
    ),
    "hessian_rosenbrock": Workload(
        "hessian_rosenbrock",
        f"full Hessian of the extended Rosenbrock function, n={ROSEN_N}, float64, vector ops",
        "ms/Hessian",
        1e3,
        1e-10,
        exact="max |H - analytic H|",
        exact_tol=HESSIAN_EXACT_TOL,
    ),
    "grad_penalty_step": Workload(
        "grad_penalty_step",
        f"mlp_step + {PENALTY_WEIGHT:g} * sum |grad|^2 penalty: grad(create_graph=True), then double backward",
        "us/step",
        1e6,
        1e-3,
    ),
    "softmax_xent": Workload(
        "softmax_xent",
        f"softmax cross-entropy -log_softmax(z, 1).gather(1, t).mean() and its gradient, z float32 "
        f"{XENT_SHAPE[0]}x{XENT_SHAPE[1]}",
        "ms/step",
        1e3,
        1e-3,
    ),
    "per_sample_grads": Workload(
        "per_sample_grads",
        f"{PSG_SAMPLES:,} per-sample gradients: d/dw of a {PSG_LAYERS}-layer tanh/sin loss of a float64 parameter "
        f"vector w ({PSG_DIM}) at each sample x_i ({PSG_DIM}); fwd = recording or compiling, bwd = the batch",
        "ms",
        1e3,
        1e-10,
    ),
    "checkpoint_chain": Workload(
        "checkpoint_chain",
        f"{CHAIN_LAYERS}-layer chain h = tanh(h @ W_i), width {CHAIN_WIDTH}, batch {CHAIN_BATCH}, float32, "
        f"loss h.sum(); 'checkpoint' rows: utils.checkpoint(use_reentrant=False) every {CHAIN_SEGMENT} layers",
        "ms/step",
        1e3,
        # (200 float32 layers amplify the products' rounding, which differs between BLAS builds: the
        # float64 loss is 0.0205629, numpy's float32 one 0.0205753, PyTorch's 0.0205538 on one machine)
        3e-3,
    ),
}


@dataclass
class Check:
    """Numbers a run produced, compared across peers to catch wrong results."""

    value: float
    grads: list[float] = field(default_factory=list)
    max_err: float | None = None  # distance from the exact answer, where the workload has one


@dataclass
class Run:
    """One measured run; None marks a phase the peer does not have or cannot separate."""

    fwd_s: float | None
    bwd_s: float | None
    total_s: float
    check: Check
    held_bytes: int | None = None  # bytes a forward leaves for backward (values saved, parameters excluded)


def timed_run(fwd_s: float, bwd_s: float | None, check: Check) -> Run:
    """Run whose total is the sum of its phases."""
    return Run(fwd_s, bwd_s, fwd_s + (bwd_s or 0.0), check)


def scalar_chain(x: Any, a: Any, b: Any, c: Any, sin: Callable[[Any], Any],
                 exp: Callable[[Any], Any], n_ops: int = SCALAR_N_OPS) -> Any:
    """Iterate x <- c * sin(x*a + b) / (1.5 + exp(-1.0 * (x*x))) + 0.25, ten ops a block.

    |sin| <= 1 and the denominator lies in [1.5, 2.5], so |x| < 0.85 for ever:
    values and gradients stay finite however long the chain. Python floats sit
    on both sides of the operators so __rmul__/__radd__ are exercised too.
    """
    if n_ops % OPS_PER_BLOCK:
        raise ValueError(f"n_ops must be a multiple of {OPS_PER_BLOCK}")
    for _ in range(n_ops // OPS_PER_BLOCK):
        s = sin(x * a + b)  # mul, add, sin
        g = exp(-1.0 * (x * x))  # mul, mul, exp
        x = s / (1.5 + g) * c + 0.25  # add, div, mul, add
    return x


def eval_points() -> np.ndarray:
    """The points of scalar_evals."""
    return np.linspace(-0.5, 0.5, EVAL_POINTS)


def psg_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """per_sample_grads' parameter vector w and samples X (one per row)."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=PSG_DIM) / 2, rng.normal(size=(PSG_SAMPLES, PSG_DIM))


def psg_loss(w: Any, x: Any, tanh: Callable[[Any], Any], sin: Callable[[Any], Any]) -> Any:
    """per_sample_grads' loss of one sample (1-D w and x; elementwise ops and one sum)."""
    h = x
    for _ in range(PSG_LAYERS):
        h = tanh(h * w + 0.5) + sin(h) * 0.25
    return (h * h).sum() + (w * w).sum() * 0.01


def psg_check(grads: np.ndarray) -> Check:
    """What per_sample_grads cross-checks: the sum of the gradients and of their absolute values."""
    return Check(float(grads.sum()), [float(np.abs(grads).sum())])


def scalar_fn(x: Any, sin: Callable[[Any], Any], exp: Callable[[Any], Any]) -> Any:
    """The function of scalar_evals: the scalar chain of ``x``, with a, b, c the fixed numbers."""
    return scalar_chain(x, *SCALAR_LEAVES[1:], sin=sin, exp=exp, n_ops=EVAL_N_OPS)


def scalar_fn_guarded(x: Any, sin: Callable[[Any], Any], exp: Callable[[Any], Any]) -> Any:
    """scalar_fn with a branch on the value after every block of ten ops (always taken, since |x| < 0.85):
    the same arithmetic, plus one guard per block for a trace to check at each replay."""
    for _ in range(EVAL_N_OPS // OPS_PER_BLOCK):
        if not x < 1.0:
            raise AssertionError("the chain left (-0.85, 0.85)")
        x = scalar_chain(x, *SCALAR_LEAVES[1:], sin=sin, exp=exp, n_ops=OPS_PER_BLOCK)
    return x


def evals_check(values: Sequence[float], grads: Sequence[float]) -> Check:
    """What scalar_evals cross-checks: the sum of the values and of the gradients."""
    return Check(float(sum(values)), [float(sum(grads))])


@dataclass
class MlpData:
    """Fixed inputs, targets and parameters (w1, b1, w2, b2, w3, b3) as float32 numpy."""

    x: np.ndarray
    t: np.ndarray
    params: list[np.ndarray]


def mlp_data(seed: int = 0, sizes: Sequence[int] = MLP_SIZES, batch: int = MLP_BATCH) -> MlpData:
    """Deterministic data so every peer computes the same loss and gradients."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in pairwise(sizes):
        params.append(rng.standard_normal((fan_in, fan_out)) / math.sqrt(fan_in))
        params.append(0.1 * rng.standard_normal(fan_out))
    x = rng.standard_normal((batch, sizes[0]))
    t = rng.standard_normal((batch, sizes[-1]))
    f32 = np.float32
    return MlpData(x.astype(f32), t.astype(f32), [p.astype(f32) for p in params])


def large_mlp_data(seed: int = 0) -> MlpData:
    """mlp_data for large_mlp_step."""
    return mlp_data(seed, LARGE_MLP_SIZES, LARGE_MLP_BATCH)


def mlp_loss(params: Sequence[Any], x: Any, t: Any, act: Callable[[Any], Any]) -> Any:
    """MSE of an MLP with activation ``act`` (tanh, or relu when large): ((mlp(x) - t) ** 2).mean()."""
    w1, b1, w2, b2, w3, b3 = params
    h = act(x @ w1 + b1)
    h = act(h @ w2 + b2)
    y = h @ w3 + b3
    return ((y - t) ** 2).mean()


def function_tanh(lib: Any) -> Callable[[Any], Any]:
    """tanh as ``lib.autograd.Function`` (the same class body for tape and torch): its ``apply``."""

    class Tanh(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            y = x.tanh()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            y, = ctx.saved_tensors
            return g * (1 - y * y)

    return Tanh.apply


def elementwise_x(seed: int = 0) -> np.ndarray:
    """The fixed float32 input of large_elementwise."""
    return np.random.default_rng(seed).standard_normal(ELEMENTWISE_N).astype(np.float32)


def elementwise_loss(x: Any, sin: Callable[[Any], Any], exp: Callable[[Any], Any],
                     sqrt: Callable[[Any], Any]) -> Any:
    """sum(sin(x) * exp(-x*x) + sqrt(x*x + 1)): three transcendental functions, memory bound."""
    return (sin(x) * exp(-x * x) + sqrt(x * x + 1)).sum()


def new_ops_loss(x: Any, erf: Callable[[Any], Any], log1p: Callable[[Any], Any], atan: Callable[[Any], Any],
                 where: Callable[[Any, Any, Any], Any]) -> Any:
    """sum(erf(x) * log1p(x*x) + where(x > 0, atan(x), x / 2)): the catalogue's elementwise ops, memory bound."""
    return (erf(x) * log1p(x * x) + where(x > 0, atan(x), x * 0.5)).sum()


@dataclass
class XentData:
    """Fixed float32 logits (batch x classes) and int64 class targets (batch x 1) as numpy."""

    logits: np.ndarray
    targets: np.ndarray


def xent_data(seed: int = 0) -> XentData:
    """The fixed inputs of softmax_xent."""
    rng = np.random.default_rng(seed)
    batch, classes = XENT_SHAPE
    logits = (3.0 * rng.standard_normal((batch, classes))).astype(np.float32)
    return XentData(logits, rng.integers(0, classes, size=(batch, 1)).astype(np.int64))


def xent_loss(logits: Any, targets: Any) -> Any:
    """Mean negative log-likelihood of the targets under softmax(logits), PyTorch's tensor API."""
    return -logits.log_softmax(1).gather(1, targets).mean()


def grad_penalty(mse: Any, grads: Sequence[Any]) -> Any:
    """mse + PENALTY_WEIGHT * sum over parameters of (g ** 2).sum()."""
    return mse + PENALTY_WEIGHT * sum((g ** 2).sum() for g in grads)


def rosen_x0(n: int = ROSEN_N) -> np.ndarray:
    """Fixed float64 starting point x_i = 1.2 + 0.1 sin(i)."""
    return 1.2 + 0.1 * np.sin(np.arange(n, dtype=np.float64))


def rosenbrock(x: Any) -> Any:
    """Extended Rosenbrock sum(100 (x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2), vector ops only."""
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def rosenbrock_hessian(x: np.ndarray) -> np.ndarray:
    """The analytic Hessian, tridiagonal, as a dense float64 matrix."""
    n = len(x)
    h = np.zeros((n, n))
    diag = np.arange(n)
    h[diag, diag] = 200.0
    h[0, 0] = 0.0
    h[diag[:-1], diag[:-1]] += 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    off = -400 * x[:-1]
    h[diag[:-1], diag[1:]] = off
    h[diag[1:], diag[:-1]] = off
    return h


def hessian_check(h: np.ndarray, x0: np.ndarray) -> Check:
    """A few summaries of a computed Hessian, and its max abs error against the analytic one."""
    h = np.asarray(h, dtype=np.float64)
    exact = rosenbrock_hessian(x0)
    grads = [float(np.trace(h)), float(np.abs(h).sum()), float(h[0, 1]), float(h[-1, -1])]
    return Check(float(h.sum()), grads, float(np.abs(h - exact).max()))


@dataclass
class ChainData:
    """The fixed float32 input (batch x width) and weights (width x width, one per layer) of checkpoint_chain."""

    x: np.ndarray
    weights: list[np.ndarray]


def chain_data(seed: int = 0) -> ChainData:
    """Weights scaled by 1/sqrt(width), so the activations neither vanish nor saturate."""
    rng = np.random.default_rng(seed)
    scale = 1 / math.sqrt(CHAIN_WIDTH)
    weights = [(scale * rng.standard_normal((CHAIN_WIDTH, CHAIN_WIDTH))).astype(np.float32)
               for _ in range(CHAIN_LAYERS)]
    return ChainData(rng.standard_normal((CHAIN_BATCH, CHAIN_WIDTH)).astype(np.float32), weights)


def tanh_chain(h: Any, weights: Sequence[Any], lo: int, hi: int) -> Any:
    """Layers lo..hi-1 of the chain: h = tanh(h @ W_i)."""
    for w in weights[lo:hi]:
        h = (h @ w).tanh()
    return h
