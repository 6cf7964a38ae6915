"""Fixtures of the implementation-flow tests.

A missing yosys, nextpnr-ice40 or icepack FAILS the test with the install command;
only ``LSTM_CHIPLET_ALLOW_MISSING_TOOLS=1`` turns that into a skip (CI never sets it).
"""

import pytest

from cosim.tools import MissingToolError, allow_missing_tools, require


@pytest.fixture(scope="session")
def implementation_tools():
    try:
        for tool in ("yosys", "nextpnr-ice40", "icepack"):
            require(tool)
    except MissingToolError as exc:
        if allow_missing_tools():
            pytest.skip(str(exc))
        pytest.fail(str(exc), pytrace=False)
