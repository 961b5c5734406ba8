"""``tape.version``: tape's version, and the accelerator toolkits it was built with (none)."""
from typing import Optional

__all__ = ["__version__", "debug", "cuda", "hip", "rocm", "xpu"]

__version__ = "0.1.0"
debug = False
cuda: Optional[str] = None
hip: Optional[str] = None
rocm: Optional[str] = None
xpu: Optional[str] = None
