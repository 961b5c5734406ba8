"""``tape.backends.cpu``: the SIMD level tape's compiled kernels are built for."""
from __future__ import annotations

import llvmlite.binding as llvm

__all__ = ["get_cpu_capability"]


def get_cpu_capability() -> str:
    """The widest vector instructions the host offers to the compiled kernels, named as PyTorch
    names its CPU capabilities: "AVX512", "AVX2" or "DEFAULT"."""
    features = llvm.get_host_cpu_features()
    if features.get("avx512f") and features.get("avx512bw") and features.get("avx512vl"):
        return "AVX512"
    if features.get("avx2") and features.get("fma"):
        return "AVX2"
    return "DEFAULT"
