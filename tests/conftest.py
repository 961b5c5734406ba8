"""Hypothesis profiles: ``ci`` (default, small) and ``thorough``; pick with TAPE_HYPOTHESIS_PROFILE.

Tests that compare with PyTorch carry the ``torch`` marker and skip without torch;
``.ci/run`` installs torch and runs them with ``-m torch``.  So that this run
cannot pass by skipping, and no comparison is left out of it: a test that skips
for lack of torch fails when torch is installed, and fails when it is not marked;
with torch installed, a module that imports torch must be marked.
"""
import functools
import importlib.util
import os
import sys

import hypothesis.core
import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.internal.conjecture import providers

import tape
from tape import _record

# ``ci`` draws the same examples on every run (derandomized, seeded by each test's name), so a CI run
# is reproducible and cannot fail at random; ``thorough`` draws new ones each time, to explore.
settings.register_profile("ci", max_examples=10, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=400, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("TAPE_HYPOTHESIS_PROFILE", "ci"))

# hypothesis mixes into its draws constants it finds in the project's own modules, scanned again
# whenever ``sys.modules`` grows: derandomized examples then depend on what the process imported
# before (tape imports some modules when first used, and the README's command runs the files on
# several workers in an order that varies), so a run could draw what another did not.  Derandomized,
# its own constants only (0, the bounds, nan, the float edges ...): the same examples on every run.
if settings.default.derandomize and hasattr(providers, "_get_local_constants") and \
        hasattr(providers, "_local_constants"):
    providers._get_local_constants = lambda: providers._local_constants

# hypothesis hashes a test's source (inspect.getsource, tokenize) twice per run of it, for the
# derandomized seed and the database key: ~4 ms a run, ~25 s over the ~6,000 runs of the tests
# parametrized by op.  A function's source does not change during a session: one digest each.
if hasattr(hypothesis.core, "function_digest"):
    hypothesis.core.function_digest = functools.lru_cache(maxsize=None)(hypothesis.core.function_digest)


@pytest.fixture(autouse=True)
def _same_random_state():
    """Each test starts from the same state of tape's default generator and of numpy's global one,
    whatever ran before it in its process: the README's command runs the files on several workers,
    in an order that varies from run to run."""
    tape.manual_seed(0)
    np.random.seed(0)


# The suite runs the compiled recording sweep: its first tier (``tape/_record.recorder``, Python
# until the compiled one is compiled or cached) is tested against it in test_record.py.
_record._Tier.rows_left = 0

HAS_TORCH = importlib.util.find_spec("torch") is not None
NO_TORCH = "could not import 'torch'"      # pytest.importorskip's skip reason


def _skipped_for_torch(report) -> bool:
    return report.skipped and NO_TORCH in str(report.longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if not _skipped_for_torch(report):
        return
    if HAS_TORCH:
        why = f"torch is installed but the test skipped for lack of it: {report.longrepr[2]}"
    elif item.get_closest_marker("torch") is None:
        why = "the test needs torch but is not marked @pytest.mark.torch, so `pytest -m torch` would leave it out"
    else:
        return
    report.outcome, report.longrepr = "failed", why


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    report = (yield).get_result()
    if HAS_TORCH and _skipped_for_torch(report):
        report.outcome = "failed"
        report.longrepr = f"torch is installed but the module skipped for lack of it: {report.longrepr[2]}"


@pytest.hookimpl(tryfirst=True)     # before -m deselects anything
def pytest_collection_modifyitems(config, items):
    torch = sys.modules.get("torch")
    if torch is None:
        return
    unmarked = sorted({item.module.__name__ for item in items if getattr(item, "module", None) is not None
                       and any(v is torch for v in vars(item.module).values())
                       and item.get_closest_marker("torch") is None})
    if unmarked:
        raise pytest.UsageError(f"modules that import torch must be marked `pytestmark = pytest.mark.torch`: "
                                f"{', '.join(unmarked)}")
