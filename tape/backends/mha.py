"""``tape.backends.mha``: the switch PyTorch's ``TransformerEncoder`` and ``MultiheadAttention`` consult
before their fused inference path.  tape has no fused kernels; ``nn.TransformerEncoder`` reads the switch
to reproduce the one visible effect of PyTorch's path (padded positions of the output are zeros)."""

__all__ = ["get_fastpath_enabled", "set_fastpath_enabled"]

_is_fastpath_enabled: bool = True


def get_fastpath_enabled() -> bool:
    """Returns whether fast path for TransformerEncoder and MultiHeadAttention is enabled."""
    return _is_fastpath_enabled


def set_fastpath_enabled(value: bool) -> None:
    """Sets whether fast path is enabled."""
    global _is_fastpath_enabled
    _is_fastpath_enabled = value
