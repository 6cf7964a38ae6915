"""The verdict texts of the implementation report say by how much."""

from lstm_chiplet.implementation.reports import describe_timing


def test_timing_verdicts_say_by_how_much():
    fail = describe_timing(15.19, 24.0)
    assert "FAILS" in fail and "8.81 MHz short" in fail and "37% below" in fail
    assert "65.8 ns against 41.7 ns" in fail
    ok = describe_timing(30.0, 24.0)
    assert "meets 24 MHz" in ok and "6.00 MHz to spare" in ok
