"""The op catalogue.  Importing it registers every op in ``REGISTRY`` and its public names in ``PUBLIC``."""
from . import (activations, addmm, block_diag, cholesky_solve, compare, complex_faces, composite, conv, counting, decomp, distance, einsum, elementwise, extrema, functions, householder,  # noqa: F401
               fill_diagonal, index, integer, join, layout, ldl, linalg, linalg_extra, lstsq, losses, lu, lu_deprecated, matrix_exp, mode, nodes, reduction, shape, softmax,
               attention, bilinear, rnn, scaling, sorting, special, special_extra, split, stats, triangular_solve, views)  # (registration)
from . import grid_sample, padding, pooling, shuffle, upsampling  # noqa: F401,E402  (the nn layers: pad, pools, shuffles, interpolation, grid sampling)
from . import ctc, margin_losses, noise  # noqa: F401,E402  (the losses with rows of their own, the random layers)
from . import distributions  # noqa: F401,E402  (gamma sampling: tape.distributions)
from . import embedding, normalization  # noqa: F401,E402  (the normalization layers, embeddings)
from . import inplace  # noqa: F401,E402  (last: in-place variants of what the families registered)
from . import inplace_view  # noqa: F401,E402
from . import as_strided  # noqa: F401,E402
from . import view_copies  # noqa: F401,E402  (the ``*_copy`` functions)
from . import top_level  # noqa: F401,E402  (rsub, fill, as_strided_scatter, slice_inverse, nonzero_static)
from . import samplers  # noqa: F401,E402  (poisson, binomial)
from . import native_forms  # noqa: F401,E402  (native_layer_norm, native_dropout ..., norm_except_dim, ctc_loss)
from . import aten  # noqa: F401,E402  (``tape.ops.aten.mm.default`` ...: ops as PyTorch's dispatcher names them)
from ._spec import BINARY, JOIN, LINALG, N_CODES, PUBLIC, PYTHON, REDUCE, REGISTRY, SHAPE, SOURCE, UNARY, Op

__all__ = ["REGISTRY", "PUBLIC", "Op", "SOURCE", "UNARY", "BINARY", "REDUCE", "SHAPE", "LINALG", "JOIN", "PYTHON",
           "N_CODES"]
