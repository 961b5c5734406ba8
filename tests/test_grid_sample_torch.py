"""``grid_sample`` and ``affine_grid`` against PyTorch: values and gradients for every mode,
padding and alignment in 2-D and 3-D (float64 and float32, grids reaching outside the input),
second derivatives, node names, and the errors."""
import itertools
import warnings

import numpy as np
import pytest

import tape

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

_FUSED = torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")
CASES = [(nd, mode, pad, align) for nd in (2, 3) for mode in range(3) for pad in range(3) for align in (False, True)
         if not (nd == 3 and mode == 2)]


def _pair(a, rg=True):
    return torch.tensor(a, requires_grad=rg), tape.tensor(a, requires_grad=rg)


@pytest.mark.parametrize("nd,mode,pad,align", CASES)
def test_values_and_gradients(nd, mode, pad, align):
    rng = np.random.default_rng(nd * 100 + mode * 10 + pad * 2 + align)
    in_sp, out = ((3, 4), (2, 5)) if nd == 2 else ((2, 3, 4), (2, 2, 3))
    for dt in (np.float64, np.float32):
        x = rng.standard_normal((2, 2) + in_sp).astype(dt)
        g = rng.uniform(-1.5, 1.5, (2,) + out + (nd,)).astype(dt)
        g.reshape(-1)[:6] = [-1, 1, 0, 1.5, -3.0, 0.5]      # (corners, centres, far outside)
        tx, ax = _pair(x)
        tg, ag = _pair(g)
        ty = torch.grid_sampler(tx, tg, mode, pad, align)
        ay = tape.grid_sampler(ax, ag, mode, pad, align)
        w = rng.standard_normal(ty.shape).astype(dt)
        (ty * torch.tensor(w)).sum().backward()
        (ay * tape.tensor(w)).sum().backward()
        tol = dict(rtol=1e-12, atol=1e-12) if dt == np.float64 else dict(rtol=2e-5, atol=2e-5)
        np.testing.assert_allclose(ay.detach().numpy(), ty.detach().numpy(), **tol)
        np.testing.assert_allclose(ax.grad.numpy(), tx.grad.numpy(), **tol)
        np.testing.assert_allclose(ag.grad.numpy(), tg.grad.numpy(), **tol)
        if nd == 3 or _FUSED:       # (bit for bit: the 2-D kernel's multiply-adds are fused on x86's AVX2 and up)
            assert np.array_equal(ay.detach().numpy(), ty.detach().numpy())
        assert type(ay.grad_fn).__name__ == type(ty.grad_fn).__name__


@pytest.mark.parametrize("mode,pad", list(itertools.product(("bilinear", "bicubic"), ("zeros", "reflection"))))
def test_second_derivatives(mode, pad):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 2, 3, 4))
    g = rng.uniform(-1.2, 1.2, (1, 2, 3, 2))
    results = []
    for M in (torch, tape):
        a = M.tensor(x, requires_grad=True)
        b = M.tensor(g, requires_grad=True)
        y = M.nn.functional.grid_sample(a, b, mode=mode, padding_mode=pad, align_corners=False)
        ga, gb = M.autograd.grad((y * y).sum(), (a, b), create_graph=True)
        h = M.autograd.grad((ga * ga).sum() + (gb * gb.cos()).sum(), (a, b))
        results.append([t.detach().numpy() for t in (ga, gb) + tuple(h)])
    for u, v in zip(*results):
        np.testing.assert_allclose(v, u, rtol=1e-10, atol=1e-10)


def test_affine_grid_against_torch():
    rng = np.random.default_rng(6)
    for size, shape in (((2, 3, 4, 5), (2, 2, 3)), ((2, 1, 3, 2, 4), (2, 3, 4)), ((1, 1, 1, 3), (1, 2, 3))):
        th = rng.standard_normal(shape)
        for align, dt in itertools.product((False, True), (np.float64, np.float32)):
            tt, at = _pair(th.astype(dt))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ty = torch.nn.functional.affine_grid(tt, size, align_corners=align)
                ay = tape.nn.functional.affine_grid(at, size, align_corners=align)
            tol = 1e-14 if dt == np.float64 else 1e-6
            np.testing.assert_allclose(ay.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
            w = rng.standard_normal(ty.shape).astype(dt)
            (ty * torch.tensor(w)).sum().backward()
            (ay * tape.tensor(w)).sum().backward()
            np.testing.assert_allclose(at.grad.numpy(), tt.grad.numpy(), rtol=tol * 10, atol=tol * 10)
            assert type(ay.grad_fn).__name__ == type(ty.grad_fn).__name__


def _outcome(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn()
        return "ok", tuple(out.shape)
    except Exception as e:      # noqa: BLE001 (the comparison is of the exception)
        return type(e).__name__, str(e)


def test_errors_match():
    def calls(M):
        F = M.nn.functional
        x, g = M.zeros(2, 3, 4, 5), M.zeros(2, 3, 4, 2)
        x5, g5 = M.zeros(2, 1, 2, 3, 4), M.zeros(2, 1, 2, 2, 3)
        return [
            lambda: F.grid_sample(x, g[:1], align_corners=False),
            lambda: F.grid_sample(x, g[..., :1], align_corners=False),
            lambda: F.grid_sample(x, g.double(), align_corners=False),
            lambda: F.grid_sample(x[0], g, align_corners=False),
            lambda: F.grid_sample(x, g[0], align_corners=False),
            lambda: F.grid_sample(x.unsqueeze(2), g, align_corners=False),
            lambda: F.grid_sample(x5, g5, mode="bicubic", align_corners=False),
            lambda: F.grid_sample(M.zeros(2, 3, 0, 5), g, align_corners=False),
            lambda: F.grid_sample(M.zeros(0, 3, 4, 5), g[:0], align_corners=False),
            lambda: F.grid_sample(M.zeros(2, 0, 4, 5), g, align_corners=False),
            lambda: F.grid_sample(x.long(), g.long(), align_corners=False),
            lambda: F.grid_sample(x5.int(), g5.int(), align_corners=False),
            lambda: F.grid_sample(x, g.long(), align_corners=False),
            lambda: F.grid_sample(x, g, mode="area"),
            lambda: F.grid_sample(x, g, padding_mode="const"),
            lambda: F.grid_sample(M.zeros(2, 3, 4), M.zeros(2, 4, 2), align_corners=False),
            lambda: F.grid_sample(M.zeros(2, 3, 4), M.zeros(2, 4, 1), align_corners=False),
            lambda: M.grid_sampler(x, g, 1.0, 0, False),
            lambda: M.grid_sampler(x, g, 0, 0, 1),
            lambda: M.grid_sampler_2d(x5, g5, 0, 0, False),
            lambda: M.grid_sampler_3d(x, g, 0, 0, False),
            lambda: M.grid_sampler_3d(x5, g5, 2, 0, False),
            lambda: M.affine_grid_generator(M.zeros(2, 2, 3), [2, 3, 4], False),
            lambda: M.affine_grid_generator(M.zeros(2, 3, 3), [2, 3, 4, 5], False),
            lambda: M.affine_grid_generator(M.zeros(2, 2, 3), [3, 3, 4, 5], False),
            lambda: F.affine_grid(M.zeros(2, 2, 3), [2, 3, 0, 5], align_corners=False),
            lambda: F.affine_grid(M.zeros(2, 2, 3), [2, 3, 4, 5, 6], align_corners=False),
            lambda: F.affine_grid(M.zeros(2, 3, 4), [2, 3, 4, 5], align_corners=False),
            lambda: F.affine_grid(M.zeros(2, 2, 3), [2, 3, 4], align_corners=False),
            lambda: F.affine_grid(M.zeros(2, 2, 3).long(), [2, 3, 4, 5], align_corners=False),
            lambda: F.affine_grid(M.zeros(2, 2, 3), M.Size([2, 3, 4, 5]), align_corners=False),
            lambda: F.affine_grid(M.zeros(2, 2, 3), (2, -3, 4, 5), align_corners=False),
            lambda: F.affine_grid(M.zeros(2, 2, 3), [2, 3, 1, 5], align_corners=True),
        ]
    for k, (a, b) in enumerate(zip(calls(torch), calls(tape))):
        assert _outcome(b) == _outcome(a), k
