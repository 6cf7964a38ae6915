"""The mutation campaign: its parsing of yosys' mutations, and a small real campaign.

The small campaign (slow; ``tox -e mutation`` runs the full ones) builds 20 yosys
mutants of the single-layer engine into one Verilator model: mutant 0 must pass the
subset against golden (the netlist yosys wrote is the converted design), and the
subset must kill most of the others.
"""

import pytest

from verify.mutation import describe

COMMAND = ("mutate -mode cnot1 -module m -cell $procdff$1767 -port Q -portbit 6 -ctrlbit 1 "
           "-wire gate_i_lane1_acc -wirebit 6 -src dut.v:353.19-353.35 -src dut.v:736.1-741.4")


def test_describe_reads_the_mutation_and_its_rtl_lines():
    d = describe(COMMAND)
    assert (d["mode"], d["cell"], d["port"], d["bit"], d["wire"]) == ("cnot1", "$procdff$1767", "Q", "6",
                                                                      "gate_i_lane1_acc")
    assert d["rtl_lines"] == [353, 736]


@pytest.mark.slow
@pytest.mark.cosim
def test_a_small_engine_campaign_kills_most_mutants():
    from cosim.tools import need_tools
    from verify.mutation import campaign

    need_tools("yosys", "verilator", "g++", "make")
    out = campaign("engine", count=20, seed=7, check_equivalence=False)
    assert out["mutants"] == 20
    assert out["killed"] + out["survived"] + out["equivalent"] == 20
    assert out["killed"] >= 10
