"""Hypothesis profiles: ``ci`` (default, small) and ``thorough``; pick with TAPE_HYPOTHESIS_PROFILE."""
import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=400, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("TAPE_HYPOTHESIS_PROFILE", "ci"))
