"""``tape.backends.mkl``: tape does not use Intel's MKL."""

__all__ = ["is_available"]


def is_available() -> bool:
    """False."""
    return False
