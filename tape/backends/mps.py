"""``tape.backends.mps``: Apple's Metal backend is neither built nor available."""

__all__ = ["is_available", "is_built"]


def is_available() -> bool:
    """False."""
    return False


def is_built() -> bool:
    """False."""
    return False
