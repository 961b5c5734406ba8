"""DLPack exchange, as ``torch.utils.dlpack``: ``from_dlpack`` (a tensor sharing another library's
memory) and ``to_dlpack`` (a capsule of a tensor's memory)."""
from .._buffers import from_dlpack, to_dlpack

__all__ = ["from_dlpack", "to_dlpack"]
