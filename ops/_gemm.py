"""The BLAS's matrix product (``gemm``) for compiled code: numpy's own OpenBLAS, called by symbol.

A product row swept in numba would otherwise either run numba loops (a few GFLOP/s: for a 32x64
by 64x64 float32 product 12 us against OpenBLAS's 2.5, measured) or stop the sweep and hand the row
to Python for numpy's matmul (a round trip that costs more than the product).  numpy's wheels
bundle OpenBLAS with 64-bit integers (``scipy_cblas_[sd]gemm64_``); its two ``gemm`` functions are
entered in LLVM's symbol table as ``tape_sgemm``/``tape_dgemm``, which compiled code calls by name,
so that numba's cache holds no address (the symbols are resolved whenever cached code is loaded).
Where no such library is found, the names stand for loops compiled here (``HAVE_BLAS`` False).

``gemm(y, ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc)`` (``y`` an array of the dtype, for the
choice of function; ``a``, ``b``, ``c`` addresses): ``C = op(A) @ op(B) + beta * C``, row-major,
``op`` transposing when ``ta``/``tb``.
"""
from __future__ import annotations

import ctypes
import glob
import os

import numpy as np
from llvmlite import binding
from numba import carray, cfunc, njit, types

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
_NAMES = {"tape_sgemm": "scipy_cblas_sgemm64_", "tape_dgemm": "scipy_cblas_dgemm64_"}


def _blas() -> ctypes.CDLL | None:
    """numpy's bundled OpenBLAS with 64-bit integers, if it has one."""
    here = os.path.dirname(np.__file__)
    for path in sorted(glob.glob(os.path.join(here, os.pardir, "numpy.libs", "libscipy_openblas64_*")) +
                       glob.glob(os.path.join(here, ".dylibs", "libscipy_openblas64_*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        if all(hasattr(lib, name) for name in _NAMES.values()):
            return lib
    return None


def _loops(dtype):
    """The fallback ``gemm`` of one dtype: numba loops behind the C signature."""
    t = types.float32 if dtype == np.float32 else types.float64
    p = types.CPointer(t)

    @cfunc(types.void(types.int32, types.int32, types.int32, types.int64, types.int64, types.int64, t, p,
                      types.int64, p, types.int64, t, p, types.int64), cache=True)
    def gemm(order, ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc):
        A = carray(pa, ((k if ta == TRANS else m) * lda,))
        B = carray(pb, ((n if tb == TRANS else k) * ldb,))
        C = carray(pc, (m * ldc,))
        for i in range(m):
            for j in range(n):
                acc = A[0] * 0
                for p_ in range(k):
                    acc += (A[p_ * lda + i] if ta == TRANS else A[i * lda + p_]) * \
                        (B[j * ldb + p_] if tb == TRANS else B[p_ * ldb + j])
                C[i * ldc + j] = alpha * acc + (beta * C[i * ldc + j] if beta != 0 else 0)
    return gemm


_lib = _blas()
HAVE_BLAS = _lib is not None
for _name, _symbol in _NAMES.items():
    if HAVE_BLAS:
        _address = ctypes.cast(getattr(_lib, _symbol), ctypes.c_void_p).value
    else:
        _address = _loops(np.float32 if _name == "tape_sgemm" else np.float64).address
    binding.add_symbol(_name, _address)

_ARGS = (types.int32, types.int32, types.int32, types.int64, types.int64, types.int64)
_sgemm = types.ExternalFunction("tape_sgemm", types.void(*_ARGS, types.float32, types.intp, types.int64, types.intp,
                                                         types.int64, types.float32, types.intp, types.int64))
_dgemm = types.ExternalFunction("tape_dgemm", types.void(*_ARGS, types.float64, types.intp, types.int64, types.intp,
                                                         types.int64, types.float64, types.intp, types.int64))


@njit(cache=True)
def gemm(y, ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc):
    """``C = op(A) @ op(B) + beta * C`` in ``y``'s dtype (see the module's docstring)."""
    # (a leading dimension of 0, an empty matrix's, is an error to the BLAS, which then writes nothing)
    lda = max(lda, 1)
    ldb = max(ldb, 1)
    ldc = max(ldc, 1)
    if y.itemsize == 4:
        _sgemm(ROW_MAJOR, TRANS if ta else NO_TRANS, TRANS if tb else NO_TRANS, m, n, k, 1.0, a, lda, b, ldb,
               beta, c, ldc)
    else:
        _dgemm(ROW_MAJOR, TRANS if ta else NO_TRANS, TRANS if tb else NO_TRANS, m, n, k, 1.0, a, lda, b, ldb,
               beta, c, ldc)
