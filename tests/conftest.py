"""Shared test configuration: hypothesis profiles and the build folder."""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "build"

# ci: what .ci/run runs (a few minutes in all); regress: tox -e regress; dev: quick edits.
settings.register_profile("ci", max_examples=25, deadline=None, derandomize=False,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("regress", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=8, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def build_dir() -> Path:
    """The repository's (git-ignored) build folder for tests' generated files."""
    path = BUILD / "tests"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def noaa_dir() -> Path:
    """Real NOAA samples beside the repository, or skip when absent."""
    path = REPO.parent / "shared" / "data" / "noaa"
    if not path.is_dir():
        pytest.skip("NOAA samples (../shared/data/noaa) not present")
    return path
