"""The catalogue's last functions (issue 14, branch ops14c): PyTorch's errors, the choices of form that
the op table's small inputs do not reach (``cdist``'s matrix product above 25 rows), and values against
PyTorch where installed."""
from __future__ import annotations

import numpy as np
import pytest

import tape


def _raises(kind, message, fn):
    with pytest.raises(kind) as e:
        fn()
    assert str(e.value) == message


# --- cdist, pdist ----------------------------------------------------------------------------------
def test_cdist_errors_as_pytorch():
    a, b = tape.ones(3, 4, dtype=tape.float64), tape.ones(5, 4, dtype=tape.float64)
    _raises(ValueError, "x is not a valid value for compute_mode", lambda: tape.cdist(a, b, compute_mode="x"))
    _raises(ValueError, "None is not a valid value for compute_mode", lambda: tape.cdist(a, b, compute_mode=None))
    _raises(RuntimeError, "cdist only supports at least 2D tensors, X1 got: 1D", lambda: tape.cdist(a[0], b[:, :3]))
    _raises(RuntimeError, "cdist only supports at least 2D tensors, X2 got: 1D", lambda: tape.cdist(a, b[0]))
    _raises(RuntimeError, "X1 and X2 must have the same number of columns. X1: 4 X2: 3",
            lambda: tape.cdist(a, b[:, :3], p=-1))
    _raises(RuntimeError, "cdist only supports floating-point dtypes, X1 got: Long",
            lambda: tape.cdist(a.long(), b, p=-1))
    _raises(RuntimeError, "cdist only supports floating-point dtypes, X2 got: Long", lambda: tape.cdist(a, b.long()))
    _raises(RuntimeError, "cdist only supports non-negative p values", lambda: tape.cdist(a, b, p=-1))
    _raises(RuntimeError, "expected scalar type Double but found Float", lambda: tape.cdist(a, b.float()))
    _raises(RuntimeError, "expected m1 and m2 to have the same dtype, but got: float != double",
            lambda: tape.cdist(a.float(), tape.ones(30, 4, dtype=tape.float64)))
    _raises(RuntimeError, "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0",
            lambda: tape.cdist(tape.ones(2, 3, 4), tape.ones(3, 5, 4)))


def test_pdist_errors_as_pytorch():
    x = tape.ones(3, 4, dtype=tape.float64)
    _raises(RuntimeError, "pdist only supports 2D tensors, got: 1D", lambda: tape.pdist(x[0], -1))
    _raises(RuntimeError, "pdist only supports 2D tensors, got: 3D", lambda: tape.pdist(x[None]))
    _raises(RuntimeError, "pdist only supports floating-point dtypes", lambda: tape.pdist(x.long(), -1))
    _raises(RuntimeError, "pdist only supports non-negative p values", lambda: tape.pdist(x, -1))


def test_cdist_takes_the_product_form_above_25_rows():
    rng = np.random.default_rng(0)
    a = tape.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    b = tape.tensor(rng.normal(size=(26, 4)), requires_grad=True)
    d = tape.cdist(a, b)
    assert type(d.grad_fn).__name__ == "ViewBackward0"
    assert type(d.grad_fn.next_functions[0][0]).__name__ == "EuclideanDistBackward0"
    assert type(tape.cdist(a, b[:25]).grad_fn).__name__ == "CdistBackward0"
    assert type(tape.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist").grad_fn).__name__ == "CdistBackward0"
    direct = tape.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")
    np.testing.assert_allclose(d.detach().numpy(), direct.detach().numpy(), rtol=1e-12)
    ga = tape.autograd.grad(d.sum(), a)[0]
    np.testing.assert_allclose(ga.numpy(), tape.autograd.grad(direct.sum(), a)[0].numpy(), rtol=1e-10)


def test_distances_without_pairs_or_features():
    x = tape.ones(1, 3, requires_grad=True)
    d = tape.pdist(x)
    assert tuple(d.shape) == (0,) and type(d.grad_fn).__name__ == "PdistBackward0"
    assert tape.pdist(tape.ones(4, 0)).tolist() == [0.0] * 6
    assert tape.cdist(tape.ones(3, 0), tape.ones(2, 0)).tolist() == [[0.0] * 2] * 3
    assert tuple(tape.cdist(tape.ones(0, 2), tape.ones(2, 2)).shape) == (0, 2)


@pytest.mark.torch
@pytest.mark.parametrize("p", [2.0, 1.0, 0.0, float("inf"), 3.5, 0.5])
def test_distances_where_a_difference_is_zero_as_pytorch(p):
    torch = pytest.importorskip("torch")
    v = np.array([[0.0, 1.0], [0.0, 2.0], [0.0, 1.0]])
    for M in (tape, torch):
        x = M.tensor(v, requires_grad=True)
        d = M.pdist(x, p).sum() + M.cdist(x, x.flip(0), p).sum()
        g = M.autograd.grad(d, x)[0]
        if M is tape:
            ours = (d.item(), g.numpy())
    assert ours[0] == pytest.approx(d.item())
    np.testing.assert_allclose(ours[1], g.numpy(), rtol=1e-12)


# --- prelu, renorm, block_diag ---------------------------------------------------------------------
def test_prelu_errors_as_pytorch():
    x = tape.ones(2, 3, 4, dtype=tape.float64)
    w3 = tape.ones(3, dtype=tape.float64)
    _raises(RuntimeError, "prelu: Type promoting not supported. Got Float and Double", lambda: tape.prelu(x.float(), w3))
    _raises(RuntimeError, "Mismatch of parameter numbers and input channel size. Found parameter numbers = 4 and "
            "channel size = 3.", lambda: tape.prelu(x, tape.ones(4, dtype=tape.float64)))
    _raises(RuntimeError, "Mismatch of parameter numbers and input channel size. Found parameter numbers = 3 and "
            "channel size = 1.", lambda: x[0, 0].prelu(w3))
    _raises(RuntimeError, "Not allow zero-dim input tensor.", lambda: tape.prelu(x[0, 0, 0], w3))
    _raises(RuntimeError, "prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = 2",
            lambda: tape.prelu(x, w3.view(3, 1)))
    _raises(NotImplementedError, "\"prelu_cpu\" not implemented for 'Long'",
            lambda: tape.prelu(x.long(), tape.ones(1, dtype=tape.int64)))


def test_prelu_gradients_require_grad_as_pytorch_s_double_backward_node():
    x = tape.tensor([1.0, -2.0], dtype=tape.float64)
    w = tape.tensor([0.5], dtype=tape.float64, requires_grad=True)
    (gw,) = tape.autograd.grad(tape.prelu(x, w).sum(), w, create_graph=True)
    assert gw.requires_grad and gw.tolist() == [-2.0]
    x.requires_grad_()
    w = tape.tensor([0.5], dtype=tape.float64)
    (gx,) = tape.autograd.grad(tape.prelu(x, w).sum(), x, create_graph=True)
    assert gx.requires_grad and gx.tolist() == [1.0, 0.5]


def test_renorm_errors_as_pytorch():
    x = tape.ones(3, 4, dtype=tape.float64)
    _raises(RuntimeError, "renorm: non-positive-norm not supported", lambda: tape.renorm(x, 0, 0, 1.0))
    _raises(RuntimeError, "renorm: expected maxnorm to be >= 0 but got -1", lambda: x.renorm(2, 0, -1))
    _raises(RuntimeError, "renorm: expected maxnorm to be >= 0 but got -1.5", lambda: x.renorm(2, 0, -1.5))
    _raises(RuntimeError, "renorm: input needs at least 2 dimensions, got 1 dimensions", lambda: x[0].renorm(2, 0, 1))
    _raises(IndexError, "Dimension out of range (expected to be in range of [-2, 1], but got 2)",
            lambda: x.renorm(2, 2, 1))
    _raises(RuntimeError, "linalg.vector_norm: Expected a floating point or complex tensor as input. Got Long",
            lambda: x.long().renorm(2, 0, 1))


def test_renorm_in_place_scales_the_rows_over_maxnorm():
    x = tape.tensor([[3.0, 4.0], [0.3, 0.4]], dtype=tape.float64)
    assert x.renorm_(2, 0, 1.0) is x
    np.testing.assert_allclose(x.numpy(), [[0.6 / (1 + 2e-8), 0.8 / (1 + 2e-8)], [0.3, 0.4]], rtol=1e-15)


def test_block_diag_errors_and_dtypes_as_pytorch():
    _raises(RuntimeError, "torch.block_diag: Input tensors must have 2 or fewer dimensions. Input 1 has 3 dimensions",
            lambda: tape.block_diag(tape.ones(2), tape.ones(1, 1, 1)))
    _raises(TypeError, "expected Tensor as element 0 in argument 0, but got list",
            lambda: tape.block_diag([tape.ones(2)]))
    empty = tape.block_diag()
    assert tuple(empty.shape) == (1, 0) and empty.dtype == tape.float32
    mixed = tape.block_diag(tape.tensor([1, 2]), tape.tensor([True]))
    assert mixed.dtype == tape.int64 and mixed.tolist() == [[1, 2, 0], [0, 0, 1]]
    x = tape.ones(2, dtype=tape.float32, requires_grad=True)
    y = tape.block_diag(tape.tensor([[1.5]], dtype=tape.float64), x, tape.zeros(0, 2))
    assert y.dtype == tape.float64 and tuple(y.shape) == (2, 5) and type(y.grad_fn).__name__ == "BlockDiagBackward0"
    y.sum().backward()
    assert x.grad.dtype == tape.float32 and x.grad.tolist() == [1.0, 1.0]


# --- the deprecated LU functions -------------------------------------------------------------------
def test_lu_deprecated_forms():
    from tape.ops import lu_deprecated
    lu_deprecated._WARNED.clear()
    a = tape.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=tape.float64)      # (singular: no error, as PyTorch)
    with pytest.warns(UserWarning, match="torch.lu is deprecated in favor of torch.linalg.lu_factor"):
        factors = tape.lu(a)
    assert type(factors) is tuple and len(factors) == 2 and factors[1].dtype == tape.int32
    lu_, piv, info = a.lu(get_infos=True)
    assert info.item() == 2 and lu_.tolist() == [[2.0, 4.0], [0.5, 0.0]] and piv.tolist() == [2, 2]
    _raises(RuntimeError, "linalg.lu_factor: LU without pivoting is not implemented on the CPU",
            lambda: tape.lu(a, pivot=False))
    b = tape.tensor([[1.0], [2.0]], dtype=tape.float64)
    lu_, piv = tape.lu(a + tape.eye(2, dtype=tape.float64))
    with pytest.warns(UserWarning, match="torch.lu_solve is deprecated in favor of torch.linalg.lu_solveand"):
        x = tape.lu_solve(b, lu_, piv)
    np.testing.assert_allclose(((a + tape.eye(2, dtype=tape.float64)) @ x).numpy(), b.numpy(), rtol=1e-14)


def test_lu_unpack_as_pytorch():
    a = tape.tensor([[1.0, 2.0, 0.5], [3.0, 1.0, 2.0]], dtype=tape.float64, requires_grad=True)
    p, low, up = tape.lu_unpack(*tape.linalg.lu_factor(a))
    np.testing.assert_allclose((p @ low @ up).detach().numpy(), a.detach().numpy(), rtol=1e-15)
    assert type(low.grad_fn).__name__ == "LuUnpackBackward0" and low.grad_fn is up.grad_fn
    assert not p.requires_grad and p.dtype == tape.float64
    none = tape.lu_unpack(*tape.linalg.lu_factor(a), unpack_data=False, unpack_pivots=False)
    assert [tuple(t.shape) for t in none] == [(0,), (0,), (0,)]
    lu_, piv = tape.linalg.lu_factor(a.detach())
    _raises(RuntimeError, "torch.lu_unpack: Expected tensor with 2 or more dimensions. Got size: [3] instead",
            lambda: tape.lu_unpack(lu_[0], piv))
    _raises(RuntimeError, "torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of torch.int32 dtype.\n"
            "Note: this function is intended to be used with the output produced by torch.linalg.lu_factor",
            lambda: tape.lu_unpack(lu_, piv.long()))
    _raises(RuntimeError, "pivots passed to lu_unpack must be between 1 and LU.size(-2) inclusive.Did you properly "
            "pass the result of lu_factor?", lambda: tape.lu_unpack(lu_, piv * 5))


def test_fill_diagonal_errors_and_layouts():
    _raises(RuntimeError, "dimensions must larger than 1", lambda: tape.zeros(3).fill_diagonal_(1))
    _raises(RuntimeError, "all dimensions of input must be of equal length", lambda: tape.zeros(3, 3, 4).fill_diagonal_(1))
    _raises(RuntimeError, "a view of a leaf Variable that requires grad is being used in an in-place operation.",
            lambda: tape.ones(2, 2, requires_grad=True).fill_diagonal_(0))
    cube = tape.zeros(3, 3, 3).fill_diagonal_(1)
    assert cube.sum().item() == 3 and cube[1, 1, 1].item() == 1
    tall = tape.zeros(7, 3).fill_diagonal_(1, wrap=True)
    assert tall.sum(1).tolist() == [1, 1, 1, 0, 1, 1, 1]
    assert tape.zeros(7, 3).fill_diagonal_(1).sum().item() == 3
    t = tape.zeros(4, 4).t()
    assert t.fill_diagonal_(3) is t and t._version == 1 and t.diagonal().tolist() == [3.0] * 4


# --- cholesky_solve, cholesky_inverse --------------------------------------------------------------
def test_cholesky_solve_and_inverse_errors_as_pytorch():
    f = tape.tensor([[2.0, 0.0], [1.0, 3.0]], dtype=tape.float64)
    b = tape.ones(2, 3, dtype=tape.float64)
    _raises(RuntimeError, "b should have at least 2 dimensions, but has 1 dimensions instead",
            lambda: tape.cholesky_solve(b[0], f[0]))
    _raises(RuntimeError, "u should have at least 2 dimensions, but has 1 dimensions instead",
            lambda: tape.cholesky_solve(b, f[0]))
    _raises(RuntimeError, "Expected b and A to have the same dtype, but found b of type Double and A of type Float "
            "instead.", lambda: tape.cholesky_solve(b, f.float()))
    _raises(RuntimeError, "A must be batches of square matrices, but they are 2 by 1 matrices",
            lambda: tape.cholesky_solve(b, f[:, :1]))
    _raises(RuntimeError, "Incompatible matrix sizes for cholesky_solve: each A matrix is 2 by 2 but each b matrix "
            "is 1 by 3", lambda: tape.cholesky_solve(b[:1], f))
    _raises(NotImplementedError, "\"cholesky_solve_cpu\" not implemented for 'Long'",
            lambda: tape.cholesky_solve(b.long(), f.long()))
    _raises(RuntimeError, "cholesky_inverse: The input tensor A must have at least 2 dimensions.",
            lambda: tape.cholesky_inverse(f[0]))
    _raises(RuntimeError, "cholesky_inverse: A must be batches of square matrices, but they are 2 by 1 matrices",
            lambda: tape.cholesky_inverse(f[:, :1]))
    _raises(NotImplementedError, "\"cholesky_inverse_out_cpu\" not implemented for 'Long'",
            lambda: f.long().cholesky_inverse())
    with pytest.raises(tape.linalg.LinAlgError, match=r"^cholesky_inverse: \(Batch element 1\): The diagonal element 2 "
                       "is zero, the inversion could not be completed because the input matrix is singular.$"):
        tape.cholesky_inverse(tape.stack([f, f * tape.tensor([[1.0], [0.0]], dtype=tape.float64)]))
    # (a singular factor solves to inf and nan, as LAPACK's)
    assert not np.isfinite(tape.cholesky_solve(b, tape.zeros(2, 2, dtype=tape.float64)).numpy()).any()


def test_cholesky_solve_and_inverse_values():
    f = tape.tensor([[2.0, 0.0], [1.0, 3.0]], dtype=tape.float64)
    a = (f @ f.mT).numpy()
    b = tape.tensor([[1.0, 2.0], [3.0, -1.0]], dtype=tape.float64)
    np.testing.assert_allclose(tape.cholesky_solve(b, f).numpy(), np.linalg.solve(a, b.numpy()), rtol=1e-14)
    np.testing.assert_allclose(tape.cholesky_solve(b, f.mT, upper=True).numpy(), np.linalg.solve(a, b.numpy()),
                               rtol=1e-14)
    np.testing.assert_allclose(tape.cholesky_inverse(f).numpy(), np.linalg.inv(a), rtol=1e-14)
    np.testing.assert_allclose(f.mT.cholesky_inverse(upper=True).numpy(), np.linalg.inv(a), rtol=1e-14)


# --- mode ------------------------------------------------------------------------------------------
def test_mode_picks_the_smallest_most_frequent_value_at_its_last_occurrence():
    x = tape.tensor([[1.0, 2.0, 2.0, 3.0, 3.0], [5.0, 4.0, 4.0, 5.0, 1.0]], dtype=tape.float64, requires_grad=True)
    r = tape.mode(x)
    assert type(r).__name__ == "mode" and r.values.tolist() == [2.0, 4.0] and r.indices.tolist() == [2, 2]
    assert type(r.values.grad_fn).__name__ == "ModeBackward0" and not r.indices.requires_grad
    r.values.sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0]]
    assert x.mode(0, keepdim=True).indices.tolist() == [[0, 0, 0, 0, 1]]
    assert tape.mode(tape.tensor([2, 1, 1, 2, 2])).indices.item() == 4
    _raises(IndexError, "mode(): Expected reduction dim 0 to have non-zero size.", lambda: tape.mode(tape.zeros(0, 3), 0))
    assert tuple(tape.mode(tape.zeros(0, 3), 1).values.shape) == (0,)


@pytest.mark.torch
def test_mode_with_ties_as_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for _ in range(40):
        a = rng.integers(0, 3, size=(3, 4, 5)).astype(np.float64)
        dim = int(rng.integers(-3, 3))
        ours, theirs = tape.mode(tape.tensor(a), dim), torch.mode(torch.tensor(a), dim)
        assert ours.values.tolist() == theirs.values.tolist() and ours.indices.tolist() == theirs.indices.tolist()


# --- triangular_solve ------------------------------------------------------------------------------
def test_triangular_solve_as_pytorch():
    from tape.ops import triangular_solve as module
    module._WARNED.clear()
    a = tape.tensor([[2.0, 1.0], [5.0, 4.0]], dtype=tape.float64, requires_grad=True)
    b = tape.tensor([[1.0], [2.0]], dtype=tape.float64, requires_grad=True)
    with pytest.warns(UserWarning, match="torch.triangular_solve is deprecated in favor of torch.linalg.solve_triangular"):
        r = tape.triangular_solve(b, a)
    assert type(r).__name__ == "triangular_solve" and r.solution.tolist() == [[0.25], [0.5]]
    assert r.cloned_coefficient.tolist() == [[2.0, 1.0], [5.0, 4.0]]
    assert type(r.solution.grad_fn).__name__ == "TriangularSolveBackward0" and r.solution.grad_fn is r[1].grad_fn
    gb, ga = tape.autograd.grad(r.cloned_coefficient.sum(), [b, a])
    assert gb.tolist() == [[0.0], [0.0]] and ga.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    _raises(RuntimeError, "torch.triangular_solve: Expected b to have at least 2 dimensions, but it has 1 dimensions "
            "instead", lambda: tape.triangular_solve(b[0], a))
    _raises(RuntimeError, "torch.triangular_solve: Expected A to have at least 2 dimensions, but it has 1 dimensions "
            "instead", lambda: tape.triangular_solve(b, a[0]))
    _raises(RuntimeError, "A must be batches of square matrices, but they are 2 by 1 matrices",
            lambda: tape.triangular_solve(b, a[:, :1]))
    _raises(RuntimeError, "Incompatible matrix sizes for triangular_solve: each A matrix is 2 by 2 but each b matrix "
            "is 1 by 1", lambda: tape.triangular_solve(b[:1], a))
    _raises(RuntimeError, "Expected b and A to have the same dtype, but found b of type Double and A of type Float "
            "instead.", lambda: tape.triangular_solve(b, a.float()))
    _raises(NotImplementedError, "\"triangular_solve_cpu\" not implemented for 'Long'",
            lambda: tape.triangular_solve(b.long(), a.long()))
