"""The local runs of the differential fuzzers (``python tests/test_fuzz_*_torch.py LO HI [MODE ...]``):
fresh programs seed after seed, each distinct failure printed once with its program."""
from __future__ import annotations

import re
import sys
from typing import Callable

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

MODES = ["backward", "grad", "second"]


def local_run(run_program: Callable, lo: int, hi: int, modes: list[str], width: int = 4000) -> None:
    """25 fresh programs for each seed ``lo..hi-1`` and mode (no shrinking): each distinct failure once, with its
    program, cut to ``width`` characters.  (A seed's first program is hypothesis's simplest, the same for all:
    one program a seed would explore nothing.)"""
    seen = {}
    for s in range(lo, hi):
        for mode in modes:
            @settings(max_examples=25, database=None, phases=[Phase.generate], deadline=None,
                      suppress_health_check=list(HealthCheck))
            @seed(s)
            @given(st.data())
            def one(data):
                run_program(data, mode)
            try:
                one()
            except Exception as e:  # noqa: BLE001 - reported
                head = str(e).split("\n--- program")[0]
                key = re.sub(r"v\d+|\d", "#", head)[:200]
                if key not in seen:
                    seen[key] = s
                    print(f"{'=' * 20} seed {s} {mode}\n{str(e)[:width]}", flush=True)
    print(f"{len(seen)} distinct failures in seeds {lo}..{hi - 1}", flush=True)


def main(run_program: Callable, width: int = 4000) -> None:
    """``LO HI [MODE ...]`` from the command line."""
    local_run(run_program, int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:] or MODES, width)
