"""Ready-made parametrizations, as PyTorch's ``torch.nn.utils.parametrizations``: ``orthogonal``,
``weight_norm`` and ``spectral_norm``, each registered with :func:`~tape.nn.utils.parametrize.register_parametrization`
and written with tape's ops, so their gradients (of every order) reach the original tensors."""
from __future__ import annotations

from enum import Enum, auto
from typing import Optional

import numpy as np

from ..._creation import eye, from_numpy, randn, zeros_like
from ..._grad_mode import no_grad
from ..._info import finfo
from ..._tensor import Tensor
from ...ops.decomp import solve
from ...ops.householder import householder_product
from ...ops.join import cat
from ...ops.matrix_exp import matrix_exp
from ...ops.stats import vector_norm
from .. import modules as _modules
from ..modules.module import Module
from . import parametrize

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


def _is_orthogonal(Q: Tensor) -> bool:
    n, k = Q.size(-2), Q.size(-1)
    Id = eye(k, dtype=Q.dtype, device=Q.device)
    # A tolerance that grows with n, as the rounding of the products does.
    return bool((Q.mH @ Q).allclose(Id, atol=10.0 * n * finfo(Q.dtype).eps))


def _geqrf(A: Tensor) -> tuple:
    """LAPACK's ``geqrf`` of a (batch of) matrices: the Householder reflectors below the diagonal and R on
    and above it, and the scalar factors ``tau``; as ``torch.geqrf``, not differentiable."""
    a = A.detach().numpy()
    if a.ndim == 2:
        h, tau = np.linalg.qr(a, mode="raw")
    else:
        pairs = [np.linalg.qr(m, mode="raw") for m in a.reshape(-1, *a.shape[-2:])]
        h = np.stack([p[0] for p in pairs]).reshape(*a.shape[:-2], a.shape[-1], a.shape[-2])
        tau = np.stack([p[1] for p in pairs]).reshape(*a.shape[:-2], -1)
    # numpy hands back LAPACK's column-major array as the transpose.
    return (from_numpy(np.ascontiguousarray(np.swapaxes(h, -1, -2)).astype(a.dtype, copy=False)),
            from_numpy(np.ascontiguousarray(tau).astype(a.dtype, copy=False)))


def _make_orthogonal(A: Tensor) -> Tensor:
    """The Q of A's QR decomposition with R's diagonal made positive: a unique orthogonal matrix."""
    X, tau = _geqrf(A)
    Q = householder_product(X, tau)
    return Q * X.diagonal(dim1=-2, dim2=-1).sgn().unsqueeze(-2)


class _OrthMaps(Enum):
    matrix_exp = auto()
    cayley = auto()
    householder = auto()


class _Orthogonal(Module):
    base: Tensor

    def __init__(self, weight: Tensor, orthogonal_map: _OrthMaps, *, use_trivialization: bool = True) -> None:
        super().__init__()
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X: Tensor) -> Tensor:
        n, k = X.size(-2), X.size(-1)
        transposed = n < k
        if transposed:
            X = X.mT
            n, k = k, n
        # X is now n x k with n >= k: its k columns are mapped to orthonormal ones.
        if self.orthogonal_map in (_OrthMaps.matrix_exp, _OrthMaps.cayley):
            X = X.tril()
            if n != k:
                X = cat([X, X.new_zeros(n, n - k).expand(*X.shape[:-2], -1, -1)], dim=-1)
            A = X - X.mH
            if self.orthogonal_map == _OrthMaps.matrix_exp:
                Q = matrix_exp(A)
            else:
                Id = eye(n, dtype=A.dtype, device=A.device)
                Q = solve(Id.add(A, alpha=-0.5), Id.add(A, alpha=0.5))
            if n != k:
                Q = Q[..., :k]
        else:
            A = X.tril(diagonal=-1)
            tau = 2.0 / (1.0 + (A * A).sum(dim=-2))
            Q = householder_product(A, tau)
            # The diagonal of X holds the signs (+-1) of the columns of Q.
            Q = Q * X.diagonal(dim1=-2, dim2=-1).int().unsqueeze(-2)
        if hasattr(self, "base"):
            Q = self.base @ Q
        if transposed:
            Q = Q.mT
        return Q

    def right_inverse(self, Q: Tensor) -> Tensor:
        with no_grad():
            return self._right_inverse(Q)

    def _right_inverse(self, Q: Tensor) -> Tensor:
        if Q.shape != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                             f"Got a tensor of shape {Q.shape}.")
        Q_init = Q
        n, k = Q.size(-2), Q.size(-1)
        transpose = n < k
        if transpose:
            Q = Q.mT
            n, k = k, n
        if not hasattr(self, "base"):
            if self.orthogonal_map in (_OrthMaps.cayley, _OrthMaps.matrix_exp):
                raise NotImplementedError("It is not possible to assign to the matrix exponential "
                                          "or the Cayley parametrizations when use_trivialization=False.")
            # The reflectors of Q's QR; the diagonal holds the signs of R's, flipped where tau == 0
            # (no reflection), so that forward reproduces Q.
            A, tau = _geqrf(Q)
            a = A.numpy()
            d = np.sign(np.diagonal(a, axis1=-2, axis2=-1)) * np.where(tau.numpy() == 0.0, -1.0, 1.0)
            idx = np.arange(min(a.shape[-2:]))
            a[..., idx, idx] = d
            A = from_numpy(a)
            return A.mT if transpose else A
        # With trivialization the original is -Id and base holds an orthogonal matrix; forward(-Id) = base.
        if n == k:
            Q = Q.clone() if _is_orthogonal(Q) else _make_orthogonal(Q)
        else:
            # Completed to an orthogonal basis by random columns, as PyTorch (same draws).
            N = randn(*(Q.size()[:-2] + (n, n - k)), dtype=Q.dtype, device=Q.device)
            Q = _make_orthogonal(cat([Q, N], dim=-1))
        self.base = Q
        neg_Id = zeros_like(Q_init)
        neg_Id.diagonal(dim1=-2, dim2=-1).fill_(-1.0)
        return neg_Id


def orthogonal(module: Module, name: str = "weight", orthogonal_map: Optional[str] = None, *,
               use_trivialization: bool = True) -> Module:
    r"""Apply an orthogonal or unitary parametrization to a matrix or a batch of matrices.

    The parametrized matrix :math:`Q \in \mathbb{R}^{m \times n}` is **orthogonal**:
    :math:`Q^{\text{H}}Q = \mathrm{I}_n` if :math:`m \geq n` and :math:`QQ^{\text{H}} = \mathrm{I}_m` otherwise.

    ``orthogonal_map`` is one of ``"matrix_exp"`` (the matrix exponential of a skew-symmetric matrix),
    ``"cayley"`` (the Cayley map :math:`(\mathrm{I}_n + A/2)(\mathrm{I}_n - A/2)^{-1}`) or ``"householder"``
    (a product of Householder reflectors). Default: ``"matrix_exp"`` if the matrix is square or complex,
    ``"householder"`` otherwise. (tape has no complex dtypes: the unitary case is PyTorch's only.)

    If ``use_trivialization=True`` (default), the parametrization uses the "Dynamic Trivialization
    Framework": an extra matrix :math:`B` is stored under ``module.parametrizations.weight[0].base``, which
    also makes it possible to assign an orthogonal matrix to ``module.weight``.

    Args:
        module (nn.Module): module on which to register the parametrization.
        name (str, optional): name of the tensor to make orthogonal. Default: ``"weight"``.
        orthogonal_map (str, optional): One of the following: ``"matrix_exp"``, ``"cayley"``,
            ``"householder"``. Default: as described above.
        use_trivialization (bool, optional): whether to use the dynamic trivialization framework.
            Default: ``True``.

    Returns:
        The original module with an orthogonal parametrization registered to the specified weight

    Example::

        >>> orth_linear = orthogonal(nn.Linear(20, 40))
        >>> Q = orth_linear.weight
        >>> torch.dist(Q.T @ Q, torch.eye(20))
        tensor(4.0332e-07)
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions.")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.size(-2) == weight.size(-1) else "householder"
    orth_enum = getattr(_OrthMaps, orthogonal_map, None)
    if orth_enum is None:
        raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", "householder". '
                         f"Got: {orthogonal_map}")
    orth = _Orthogonal(weight, orth_enum, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module


def _norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """The 2-norm of v over every dimension but ``dim`` (kept, with size 1), as ``torch.norm_except_dim``;
    ``dim=-1`` means over every dimension (a 0-d norm)."""
    if dim == -1:
        return vector_norm(v)
    dim = dim % v.ndim
    return vector_norm(v, 2, dim=tuple(d for d in range(v.ndim) if d != dim), keepdim=True)


class _WeightNorm(Module):
    def __init__(self, dim: Optional[int] = 0) -> None:
        super().__init__()
        if dim is None:
            dim = -1
        self.dim = dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight: Tensor) -> tuple:
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int = 0) -> Module:
    r"""Apply weight normalization to a parameter in the given module.

    .. math::
         \mathbf{w} = g \dfrac{\mathbf{v}}{\|\mathbf{v}\|}

    Weight normalization is a reparameterization that decouples the magnitude of a weight tensor from its
    direction. This replaces the parameter specified by :attr:`name` with two parameters: one specifying
    the magnitude (``module.parametrizations.weight.original0``) and one specifying the direction
    (``module.parametrizations.weight.original1``). By default, with ``dim=0``, the norm is computed
    independently per output channel/plane. To compute a norm over the entire weight tensor, use
    ``dim=None``.

    Args:
        module (Module): containing module
        name (str, optional): name of weight parameter
        dim (int, optional): dimension over which to compute the norm

    Returns:
        The original module with the weight norm hook

    Example::

        >>> m = weight_norm(nn.Linear(20, 40), name='weight')
        >>> m.parametrizations.weight.original0.size()
        torch.Size([40, 1])
        >>> m.parametrizations.weight.original1.size()
        torch.Size([40, 20])
    """
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def _weight_norm_compat_hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                 error_msgs) -> None:
        # A state_dict saved with the older ``nn.utils.weight_norm`` names its tensors ``weight_g``/``weight_v``.
        g_key = f"{prefix}{name}_g"
        v_key = f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            original0 = state_dict.pop(g_key)
            original1 = state_dict.pop(v_key)
            state_dict[f"{prefix}parametrizations.{name}.original0"] = original0
            state_dict[f"{prefix}parametrizations.{name}.original1"] = original1

    module._register_load_state_dict_pre_hook(_weight_norm_compat_hook)
    return module


def _normalize(x: Tensor, eps: float) -> Tensor:
    """``F.normalize(x, dim=0, eps=eps)``: x over its 2-norm, clamped below at eps."""
    return x / vector_norm(x, 2, dim=0, keepdim=True).clamp_min(eps).expand_as(x)


class _SpectralNorm(Module):
    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError("Dimension out of range (expected to be in range of "
                             f"[-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but "
                             f"got n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            # A vector is normalized by its norm: no power iteration, no buffers.
            self.n_power_iterations = n_power_iterations
            weight_mat = self._reshape_weight_to_matrix(weight)
            h, w = weight_mat.size()
            u = weight_mat.new_empty(h).normal_(0, 1)
            v = weight_mat.new_empty(w).normal_(0, 1)
            self.register_buffer("_u", _normalize(u, self.eps))
            self.register_buffer("_v", _normalize(v, self.eps))
            # Start from a good estimate of the singular vectors.
            self._power_method(weight_mat, 15)

    def _reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.dim()) if d != self.dim))
        return weight.flatten(1)

    def _power_method(self, weight_mat: Tensor, n_power_iterations: int) -> None:
        # The buffers are updated in place (as PyTorch's ``out=``), outside autograd: sigma's gradient
        # treats u and v as constants.
        with no_grad():
            for _ in range(n_power_iterations):
                self._u.copy_(_normalize(weight_mat.mv(self._v), self.eps))
                self._v.copy_(_normalize(weight_mat.H.mv(self._u), self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return _normalize(weight, self.eps)
        weight_mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        # Clones, so that a later power iteration's in-place update does not touch this graph's values.
        u = self._u.clone()
        v = self._v.clone()
        sigma = u.vdot(weight_mat.mv(v))
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


# Transposed convolutions keep their output channels in dimension 1; the classes exist once the
# convolution layers do.
_TRANSPOSED = tuple(getattr(_modules, n) for n in ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
                    if hasattr(_modules, n))


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: Optional[int] = None) -> Module:
    r"""Apply spectral normalization to a parameter in the given module.

    .. math::
        \mathbf{W}_{SN} = \dfrac{\mathbf{W}}{\sigma(\mathbf{W})},
        \sigma(\mathbf{W}) = \max_{\mathbf{h}: \mathbf{h} \ne 0} \dfrac{\|\mathbf{W} \mathbf{h}\|_2}{\|\mathbf{h}\|_2}

    When applied on a vector, it simplifies to :math:`\mathbf{x}_{SN} = \dfrac{\mathbf{x}}{\|\mathbf{x}\|_2}`.
    The spectral norm :math:`\sigma` is approximated with one step of the power method every time the
    weight is accessed in training mode; tensors of more than 2 dimensions are reshaped to 2D first.
    The singular vector estimates are the buffers ``module.parametrizations.weight[0]._u`` and ``_v``.

    Args:
        module (nn.Module): containing module
        name (str, optional): name of weight parameter. Default: ``"weight"``.
        n_power_iterations (int, optional): number of power iterations to calculate spectral norm.
            Default: ``1``.
        eps (float, optional): epsilon for numerical stability in calculating norms. Default: ``1e-12``.
        dim (int, optional): dimension corresponding to number of outputs. Default: ``0``, except for
            modules that are instances of ConvTranspose{1,2,3}d, when it is ``1``

    Returns:
        The original module with a new parametrization registered to the specified weight

    Example::

        >>> snm = spectral_norm(nn.Linear(20, 40))
        >>> snm.parametrizations.weight[0]._u.shape
        torch.Size([40])
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 1 if isinstance(module, _TRANSPOSED) else 0
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
