"""``tape.backends.mkldnn``: tape does not use oneDNN (MKL-DNN)."""

__all__ = ["is_available"]


def is_available() -> bool:
    """False."""
    return False


enabled = False
