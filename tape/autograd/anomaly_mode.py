"""``detect_anomaly`` and ``set_detect_anomaly``: anomaly detection for the backward (``tape/_anomaly.py``)."""
from __future__ import annotations

import warnings
from typing import Any

from .._anomaly import is_anomaly_check_nan_enabled, is_anomaly_enabled, set_anomaly_enabled

__all__ = ["detect_anomaly", "set_detect_anomaly"]


class detect_anomaly:
    r"""Context-manager that enables anomaly detection for the autograd engine.

    Ops recorded inside it remember the traceback of the call that recorded them: an error in
    their backward is preceded by a warning showing it.  With ``check_nan`` (the default), a
    backward computation that produces nan raises an error naming the node.  For debugging
    only: it slows recording and backward down.
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.prev = is_anomaly_enabled()
        self.check_nan = check_nan
        self.prev_check_nan = is_anomaly_check_nan_enabled()
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only be "
                      "enabled for debugging.", stacklevel=2)

    def __enter__(self) -> None:
        set_anomaly_enabled(True, self.check_nan)

    def __exit__(self, *args: Any) -> None:
        set_anomaly_enabled(self.prev, self.prev_check_nan)


class set_detect_anomaly:
    r"""Context-manager that sets anomaly detection on or off (also usable as a function: the
    setting takes effect when it is called)."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev = is_anomaly_enabled()
        self.prev_check_nan = is_anomaly_check_nan_enabled()
        set_anomaly_enabled(mode, check_nan)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *args: Any) -> None:
        set_anomaly_enabled(self.prev, self.prev_check_nan)
