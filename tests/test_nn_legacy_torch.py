"""PyTorch's legacy modules against PyTorch: ``Container``'s warning and ``CrossMapLRN2d``'s values and
gradients (float32 and float64)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tape

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")


def test_container_warning_text():
    texts = []
    for lib in (torch, tape):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            c = lib.nn.Container(a=lib.nn.ReLU())
        texts.append(([(w.category, str(w.message)) for w in caught], repr(c)))
    assert texts[0] == texts[1]


@pytest.mark.parametrize("dtype,size,channels", [("float32", 2, 4), ("float64", 3, 3), ("float64", 5, 7)])
def test_cross_map_lrn2d(dtype, size, channels):
    rng = np.random.default_rng(size + channels)
    x = rng.standard_normal((2, channels, 3, 3)).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    results = []
    for lib in (torch, tape):
        xt = lib.tensor(x, requires_grad=True)
        out = lib.nn.CrossMapLRN2d(size, alpha=0.3, beta=0.6, k=1.5)(xt)
        out.backward(lib.tensor(g))
        results.append((out.detach().numpy(), xt.grad.numpy(), out.grad_fn.name()))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(results[1][0], results[0][0], **tol)
    np.testing.assert_allclose(results[1][1], results[0][1], **tol)
    assert results[1][2] == results[0][2]
