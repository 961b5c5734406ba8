"""``python -m bench --rounds N``: a cell's rounds combine into medians; a failed round is reported."""
from bench.__main__ import combined
from bench.report import check_line
from bench.workloads import WORKLOADS


def _cell(total: float, **extra) -> dict:
    return {"first_call_s": total * 2, "fwd_s": total / 2, "bwd_s": total / 2, "total_s": total, "repeats": 7,
            "check": {"value": 1.0}, "version": "x", **extra}


def test_rounds_combine_into_the_median_of_each_timing_and_count_every_run():
    cell = combined([_cell(3.0), _cell(1.0), _cell(2.0)])
    assert (cell["total_s"], cell["fwd_s"], cell["first_call_s"]) == (2.0, 1.0, 4.0)
    assert cell["repeats"] == 21 and cell["rounds"] == 3 and cell["version"] == "x"


def test_a_timing_missing_in_a_round_stays_missing():
    cell = combined([_cell(1.0), {**_cell(2.0), "bwd_s": None}])
    assert cell["bwd_s"] is None and cell["total_s"] == 1.5


def test_a_round_that_failed_is_the_cell():
    assert combined([_cell(1.0), {"skipped": "took over 30 s"}]) == {"skipped": "took over 30 s"}
    assert combined([{"error": "boom"}, _cell(1.0)]) == {"error": "boom"}


def test_gradients_with_no_reference_peer_are_not_a_mismatch():
    # (a cold first call over its budget skips tape's cell: its anomaly variant is then compared with nothing)
    w = WORKLOADS["mlp_step"]
    by_lib = {"numpy": {"check": {"value": 1.0, "grads": []}},
              "tape anomaly": {"check": {"value": 1.0, "grads": [1.0, 2.0]}}}
    line = check_line(w, by_lib)
    assert "MISMATCH" not in line and "no reference peer" in line
    by_lib["torch"] = {"check": {"value": 1.0, "grads": [1.0]}}
    assert "tape anomaly has 2 gradients, torch 1" in check_line(w, by_lib)
