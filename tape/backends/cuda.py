"""``tape.backends.cuda``: PyTorch's CPU build has no CUDA (``is_built()`` is False); the matmul
switches are kept for code that sets them and change nothing."""
from types import SimpleNamespace

__all__ = ["is_built", "matmul"]

matmul = SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                         allow_bf16_reduced_precision_reduction=True)


def is_built() -> bool:
    """False: no CUDA."""
    return False
