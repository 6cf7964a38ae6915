"""yosys proves each converted unit equal to its reference Verilog written from golden.

CI runs the requantize proofs, the cell state and the default sigmoid (seconds each) and
the planted bugs; ``tox -e formal`` runs them all (the other activation cases and the
MAC lane's bounded proof are marked slow).
"""

import re

import pytest

from cosim.tools import need_tools
from verify.formal import proofs, prove

pytestmark = pytest.mark.cosim

FAST = {"cell_state", "cell_state_pipelined", "activation_sigmoid"}
ALL = {p.name: p for p in proofs()}


@pytest.fixture(scope="module", autouse=True)
def tools():
    need_tools("yosys")


def _marks(p):
    fast = p.name.startswith("requantize_") or p.name in FAST
    return () if fast else (pytest.mark.slow,)


@pytest.mark.parametrize("proof", [pytest.param(p, marks=_marks(p), id=p.name) for p in proofs()])
def test_converted_unit_equals_golden_reference(proof):
    r = prove(proof)
    assert r["proven"], f"{proof.name}: counterexample\n{r['counterexample']}"


def test_planted_rounding_bug_fails_the_proof():
    def floor_instead_of_round(text):
        out, n = re.subn(r"(_q = \(\$signed\(x >>> \d+\) \+ )1\)", r"\g<1>0)", text)
        assert n == 1, "update the pattern: the converted requantize changed shape"
        return out

    r = prove(ALL["requantize_z"], patch=floor_instead_of_round)
    assert not r["proven"]
    assert "\\x" in r["counterexample"]          # yosys shows the input that differs


def test_planted_alignment_bug_fails_the_cell_state_proof():
    def fc_misaligned(text):
        out, n = re.subn(r"(_fc << )(\d+)\)", lambda m: f"{m.group(1)}{int(m.group(2)) - 1})", text)
        assert n == 1, "update the pattern: the converted cell update changed shape"
        return out

    r = prove(ALL["cell_state"], patch=fc_misaligned)
    assert not r["proven"]


def test_planted_table_entry_fails_the_activation_proof():
    def wrong_sample(text):     # one act LSB is 2^guard table units: 64 of them is 4 LSB
        out, n = re.subn(r"^(\s+300: \w+_sample <= )(\d+);", lambda m: f"{m.group(1)}{int(m.group(2)) - 64};",
                         text, flags=re.M)
        assert n == 1, "update the pattern: the converted activation unit changed shape"
        return out

    r = prove(ALL["activation_sigmoid"], patch=wrong_sample)
    assert not r["proven"]
