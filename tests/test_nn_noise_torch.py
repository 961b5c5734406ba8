"""rrelu, the dropout variants and gumbel_softmax against PyTorch's after the same manual_seed: values (the
same draws), nodes, gradients, the generator's state after, warnings, errors; the modules' reprs."""
import warnings

import numpy as np
import pytest

import tape

pytestmark = pytest.mark.torch

X = np.linspace(-2.0, 2.0, 24).reshape(2, 3, 4)

# (id, fn(F, x), tolerance in float32): gumbel_softmax's log and softmax may differ from PyTorch's by an ulp
CASES = [
    ("rrelu-train", lambda F, x: F.rrelu(x, training=True)),
    ("rrelu-train-bounds", lambda F, x: F.rrelu(x, 0.1, 0.9, training=True)),
    ("rrelu-eval", lambda F, x: F.rrelu(x, 0.2, 0.4)),
    ("rrelu-inplace", lambda F, x: F.rrelu(x.clone(), training=True, inplace=True)),
    ("rrelu_", lambda F, x: F.rrelu_(x.clone(), 0.0, 1.0, True)),
    ("rrelu-bounds", lambda F, x: F.rrelu(x, 0.5, 0.1, training=True)),
    ("alpha", lambda F, x: F.alpha_dropout(x, 0.3, True)),
    ("alpha-inplace", lambda F, x: F.alpha_dropout(x.clone(), 0.3, True, inplace=True)),
    ("alpha-eval", lambda F, x: F.alpha_dropout(x, 0.3)),
    ("alpha-p1", lambda F, x: F.alpha_dropout(x, 1.0, True)),
    ("alpha-p", lambda F, x: F.alpha_dropout(x, 1.5, True)),
    ("feature-alpha", lambda F, x: F.feature_alpha_dropout(x, 0.4, True)),
    ("feature-alpha-inplace", lambda F, x: F.feature_alpha_dropout(x.clone(), 0.4, True, True)),
    ("feature-alpha-1d", lambda F, x: F.feature_alpha_dropout(x[0, 0], 0.4, True)),
    ("dropout1d", lambda F, x: F.dropout1d(x, 0.4)),
    ("dropout1d-unbatched", lambda F, x: F.dropout1d(x[0], 0.4)),
    ("dropout1d-unbatched-inplace", lambda F, x: F.dropout1d(x[0].clone(), 0.4, inplace=True)),
    ("dropout1d-4d", lambda F, x: F.dropout1d(x[None], 0.4)),
    ("dropout2d", lambda F, x: F.dropout2d(x[None], 0.4)),
    ("dropout2d-inplace", lambda F, x: F.dropout2d(x[None].clone(), 0.4, True, True)),
    ("dropout2d-3d", lambda F, x: F.dropout2d(x, 0.4)),
    ("dropout2d-2d", lambda F, x: F.dropout2d(x[0], 0.4)),
    ("dropout3d", lambda F, x: F.dropout3d(x[None, None], 0.4)),
    ("dropout3d-unbatched", lambda F, x: F.dropout3d(x[None], 0.4)),
    ("dropout3d-3d", lambda F, x: F.dropout3d(x, 0.4)),
    ("dropout3d-eval", lambda F, x: F.dropout3d(x[None], 0.4, False)),
    ("gumbel", lambda F, x: F.gumbel_softmax(x, 0.5)),
    ("gumbel-hard", lambda F, x: F.gumbel_softmax(x, 0.5, hard=True, dim=1)),
    ("gumbel-eps", lambda F, x: F.gumbel_softmax(x, eps=1e-3)),
]


def _run(M, fn, dtype):
    out = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            M.manual_seed(3)
            x = M.tensor(X, dtype=dtype, requires_grad=True)
            y = fn(M.nn.functional, x)
            out += [y.detach().numpy(), y.grad_fn.name() if y.grad_fn is not None else None, M.rand(2).numpy()]
            w = M.tensor(np.linspace(-1.0, 1.0, y.numel()).reshape(tuple(y.shape)), dtype=dtype)
            g, = M.autograd.grad((y * w).sum(), x, create_graph=True)
            out += [g.detach().numpy(), g.requires_grad]
        except Exception as e:     # noqa: BLE001  (the error is what is compared)
            out.append((type(e).__name__, str(e)))
    return out, [str(w.message) for w in caught]


def _same(a, b, tol) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype
                and np.allclose(a, b, rtol=tol, atol=tol))
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(x, y, tol) for x, y in zip(a, b))
    return a == b


@pytest.fixture(scope="module")
def torch1():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_matches_torch(case, dtype, torch1):
    want = _run(torch1, case[1], getattr(torch1, dtype))
    got = _run(tape, case[1], getattr(tape, dtype))
    # (elsewhere the same bits: the same draws, the same arithmetic)
    tol = 0.0 if not case[0].startswith("gumbel") else 1e-6 if dtype == "float32" else 1e-15
    assert _same(got, want, tol), (got, want)


def test_rrelu_saved_values_match_torch(torch1):
    def saved(M):
        M.manual_seed(0)
        x = M.tensor(X, requires_grad=True)
        g = M.nn.functional.rrelu(x, 0.25, 0.5, training=True).grad_fn
        return [g.name(), g._saved_lower, g._saved_upper, g._saved_training, g._saved_noise.numpy(),
                g._saved_self is x]
    assert _same(saved(tape), saved(torch1), 0.0)


MODULES = ["RReLU()", "RReLU(0.1, 0.3, True)", "AlphaDropout()", "AlphaDropout(0.2, True)",
           "FeatureAlphaDropout(0.3)", "Dropout1d()", "Dropout2d(0.1, inplace=True)", "Dropout3d()", "Identity()",
           "Softmax2d()", "Threshold(0.1, 20.0)"]


@pytest.mark.parametrize("made", MODULES)
def test_modules_match_torch(made, torch1):
    def run(M):
        m = eval(f"M.nn.{made}", {"M": M})
        M.manual_seed(0)
        x = M.tensor(X[None] if "1d" not in made else X, requires_grad=True)
        y = m(x.clone() if getattr(m, "inplace", False) else x)
        m.eval()
        e = m(x.clone() if getattr(m, "inplace", False) else x)
        return [repr(m), y.detach().numpy(), y.grad_fn.name() if y.grad_fn is not None else None, e.detach().numpy(),
                e.grad_fn.name() if e.grad_fn is not None else None]
    assert _same(run(tape), run(torch1), 0.0)


# PyTorch's top-level forms: (id, fn(module, x))
TOP = [
    ("rrelu", lambda M, x: M.rrelu(x, training=True)),
    ("rrelu-eval", lambda M, x: M.rrelu(x, 0.2, 0.4)),
    ("rrelu-generator", lambda M, x: M.rrelu(x, 0.1, 0.3, True, generator=M.Generator().manual_seed(5))),
    ("rrelu_", lambda M, x: M.rrelu_(x.clone(), training=True)),
    ("rrelu-str", lambda M, x: M.rrelu(x, "a")),
    ("rrelu-int", lambda M, x: M.rrelu(1)),
    ("alpha_dropout", lambda M, x: M.alpha_dropout(x, 0.3, True)),
    ("alpha_dropout_", lambda M, x: M.alpha_dropout_(x.clone(), 0.3, True)),
    ("feature_alpha_dropout", lambda M, x: M.feature_alpha_dropout(x, 0.3, True)),
    ("feature_alpha_dropout_", lambda M, x: M.feature_alpha_dropout_(x.clone(), 0.3, True)),
    ("feature_dropout", lambda M, x: M.feature_dropout(x, 0.3, True)),
    ("feature_dropout_", lambda M, x: M.feature_dropout_(x.clone(), 0.3, True)),
    ("feature_dropout-eval", lambda M, x: M.feature_dropout(x, 0.3, False)),
    ("alpha_dropout-p", lambda M, x: M.alpha_dropout(x, 1.5, True)),
    ("alpha_dropout-input", lambda M, x: M.alpha_dropout(1, 0.5, True)),
    ("feature_dropout-1d", lambda M, x: M.feature_dropout(x[0, 0], 0.5, True)),
    ("feature_dropout-p-str", lambda M, x: M.feature_dropout(x, "a", True)),
]


@pytest.mark.parametrize("case", TOP, ids=[c[0] for c in TOP])
def test_top_level_forms_match_torch(case, torch1):
    def run(M):
        M.manual_seed(2)
        x = M.tensor(X, requires_grad=True)
        try:
            y = case[1](M, x)
            return [y.detach().numpy(), y.grad_fn.name() if y.grad_fn is not None else None, M.rand(2).numpy()]
        except (RuntimeError, TypeError) as e:
            return (type(e).__name__, str(e))
    assert _same(run(tape), run(torch1), 0.0)
