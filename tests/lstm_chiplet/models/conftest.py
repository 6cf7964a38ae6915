"""Fixtures of the model-file tests."""

from pathlib import Path

import pytest


@pytest.fixture
def folder(build_dir, request):
    """The build folder for one test's files, named after its test module and the test."""
    path = build_dir / Path(request.node.path).stem / request.node.name.replace("[", "_").replace("]", "")
    path.mkdir(parents=True, exist_ok=True)
    return path
