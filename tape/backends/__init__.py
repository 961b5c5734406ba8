"""``tape.backends``: what PyTorch's CPU build says about its backends, for code that checks or
sets them (``torch.backends.cudnn.deterministic = True``, ``torch.backends.mps.is_available()``)."""
from . import cpu, cuda, cudnn, mha, mkl, mkldnn, mps, openmp, opt_einsum  # noqa: F401

__all__ = ["cpu", "cuda", "cudnn", "mha", "mkl", "mkldnn", "mps", "openmp", "opt_einsum"]
