"""Fixtures of the implementation-flow tests.

A missing yosys, nextpnr-ice40 or icepack FAILS the test with the install command;
only ``LSTM_CHIPLET_ALLOW_MISSING_TOOLS=1`` turns that into a skip (CI never sets it).
"""

import pytest

from cosim.tools import need_tools


@pytest.fixture(scope="session")
def implementation_tools():
    need_tools("yosys", "nextpnr-ice40", "icepack")
