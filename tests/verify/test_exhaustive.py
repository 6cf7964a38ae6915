"""Every input code of the small units, on the converted Verilog (Verilator), against golden.

The counts are the input spaces golden's formats define (2^word codes of preact for
each activation case and each per-pass shift); a planted rounding bug and a planted
table entry show the comparison catches a single wrong code path.
"""

import re

import numpy as np
import pytest

from cosim.tools import need_tools
from verify.exhaustive import FULL_RANGE_BITS, run_bank
from verify.units import activation_cases, requantize_cases

pytestmark = pytest.mark.cosim


@pytest.fixture(scope="module", autouse=True)
def tools():
    need_tools("verilator", "g++", "make")


@pytest.fixture(scope="module")
def activation_results():
    return {r["case"]: r for r in run_bank(activation_cases())}


@pytest.fixture(scope="module")
def requantize_results():
    return {r["case"]: r for r in run_bank(requantize_cases())}


@pytest.mark.parametrize("case", activation_cases(), ids=lambda c: c.name)
def test_activation_unit_every_preact_code(case, activation_results):
    r = activation_results[case.name]
    assert r["codes"] == (case.extra_span + 1) * 2 ** case.fmts.preact.word_bits
    assert r["mismatches"] == 0, r["first_mismatches"]


@pytest.mark.parametrize("case", requantize_cases(), ids=lambda c: c.name)
def test_requantize_every_tie_and_edge(case, requantize_results):
    r = requantize_results[case.name]
    fmt = case.fmt
    if case.x_bits <= FULL_RANGE_BITS:
        assert r["codes"] == (case.extra_span + 1) << case.x_bits
    else:  # two inputs per result code (the tie and below), two codes beyond each end
        assert r["codes"] >= (case.extra_span + 1) * 2 * (fmt.int_max - fmt.int_min + 5)
    assert r["mismatches"] == 0, r["first_mismatches"]


def test_a_planted_rounding_bug_is_caught():
    cases = requantize_cases()[:2]

    def no_round_up_in_z(text):
        out, n = re.subn(r"(requantize_top0_requantize0_q = \(\$signed\(\w+ >>> \d+\) \+ )1\)",
                         r"\g<1>0)", text)
        assert n == 1, "update the pattern: the converted requantize changed shape"
        return out

    got = {r["case"]: r for r in run_bank(cases, patch=no_round_up_in_z)}
    assert got["z"]["mismatches"] > 0
    assert got["c"]["mismatches"] == 0
    # the wrong results are exactly the ties and the codes above them, rounded down
    m = got["z"]["first_mismatches"][0]
    assert m["actual"] == m["expected"] - 1


def test_a_planted_table_entry_is_caught():
    cases = activation_cases()[:1]            # sigmoid, defaults

    def wrong_sample_7(text):
        out, n = re.subn(r"^(\s+7: activation_top0_activation_unit0_sample <= )(\d+);",
                         lambda m: f"{m.group(1)}{int(m.group(2)) + 1};", text, flags=re.M)
        assert n == 1, "update the pattern: the converted activation unit changed shape"
        return out

    (r,) = run_bank(cases, patch=wrong_sample_7)
    # entry 7 is read for |z| in [7, 8) table steps: some of those codes round differently
    assert r["mismatches"] > 0
    z = np.array([m["x"] for m in r["first_mismatches"]])
    step = 1 << (cases[0].fmts.preact.frac_bits - 5)
    assert np.all(np.abs(z) // step == 7)
