"""The DataLoader's helpers, as PyTorch's ``torch.utils.data._utils``: ``collate`` (batching samples)
and ``worker`` (``get_worker_info``)."""
from . import collate, worker

__all__ = ["collate", "worker"]
