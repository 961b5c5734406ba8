"""Make ``tape.ops`` importable from a source checkout that was not pip-installed.

The op catalogue lives in the top-level ``ops/`` folder and is installed as
``tape.ops``; an editable or regular install maps it, a bare checkout does not.
"""
from __future__ import annotations

import importlib.util
import os
import sys


def ensure_ops() -> None:
    if "tape.ops" in sys.modules or importlib.util.find_spec("tape.ops") is not None:
        return
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ops")
    spec = importlib.util.spec_from_file_location("tape.ops", os.path.join(root, "__init__.py"),
                                                  submodule_search_locations=[root])
    module = importlib.util.module_from_spec(spec)
    sys.modules["tape.ops"] = module
    spec.loader.exec_module(module)
