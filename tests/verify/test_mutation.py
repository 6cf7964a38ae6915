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


# A registered sum whose low two bits nothing reads (the result keeps bits 7..2), and a
# hold register (a loop): the unit proof must accept a mutation of a bit nothing reads
# and refuse one that changes the result, and a loop.
UNIT_DUT = """
module m (input clk, input en, input [7:0] a, input [7:0] b, output reg [5:0] y, output reg [7:0] r);
wire [7:0] s;
assign s = a + b;
always @(posedge clk) y <= s[7:2];
always @(posedge clk) if (en) r <= a;
endmodule
"""


def _unit_case(tmp_path):
    from cosim.tools import need_tools
    from verify.mutation import _netlist

    need_tools("yosys")
    (tmp_path / "dut.v").write_text(UNIT_DUT)
    cells = _netlist(tmp_path, "m")["cells"]
    add = next(n for n, c in cells.items() if c["type"] == "$add")
    hold = next(n for n, c in cells.items() if c["type"] == "$dff" and len(c["connections"]["Q"]) == 8)
    return add, hold


@pytest.mark.cosim
@pytest.mark.parametrize("bit, proven", [(1, True), (0, True), (2, False), (5, False)])
def test_the_unit_proof_accepts_only_bits_nothing_reads(tmp_path, bit, proven):
    from verify.mutation import equivalent

    add, _ = _unit_case(tmp_path)
    ok, note = equivalent(tmp_path, "m", f"mutate -mode const1 -module m -cell {add} -port Y -portbit {bit}", bit)
    assert ok is proven, note
    if not proven:
        assert "counterexample" in note


@pytest.mark.cosim
def test_the_unit_proof_refuses_a_loop(tmp_path):
    from verify.mutation import unit_cone, unit_equivalent, _netlist

    _, hold = _unit_case(tmp_path)
    cells, feed_forward = unit_cone(_netlist(tmp_path, "m"), hold, 1)
    assert not feed_forward and hold in cells
    ok, note = unit_equivalent(tmp_path, "m", f"mutate -mode const0 -module m -cell {hold} -port Q -portbit 0",
                               0, 1)
    assert not ok and "loop" in note


# A registered table lookup whose entries are all below 12, and a clamp above 12 that
# the table therefore never reaches: a mutation inside the clamp's branch is equivalent, but
# only a unit that holds the table (context through one register) can show it.
ROM_DUT = """
module r (input clk, input [1:0] k, output reg [3:0] y = 0);
reg [3:0] t = 0;
always @(posedge clk) begin
    case (k)
        0: t <= 1;
        1: t <= 3;
        2: t <= 9;
        default: t <= 11;
    endcase
end
always @(posedge clk) begin
    if (t > 12) y <= 4'd14;
    else y <= t;
end
endmodule
"""


@pytest.mark.cosim
def test_the_unit_proof_uses_a_table_as_context(tmp_path):
    from cosim.tools import need_tools
    from verify.mutation import _netlist, equivalent, unit_equivalent

    need_tools("yosys")
    (tmp_path / "dut.v").write_text(ROM_DUT)
    cells = _netlist(tmp_path, "r")["cells"]
    gt = next(n for n, c in cells.items() if c["type"] == "$gt")
    never = f"mutate -mode const0 -module r -cell {gt} -port Y -portbit 0"    # the clamp never taken
    ok, note = unit_equivalent(tmp_path, "r", never, 1, 0)
    assert not ok and "counterexample" in note                                 # a free t reaches 13..15
    ok, note = equivalent(tmp_path, "r", never, 2)
    assert ok and "context" in note, note
    reached = f"mutate -mode const1 -module r -cell {gt} -port Y -portbit 0"  # the clamp always taken
    ok, note = equivalent(tmp_path, "r", reached, 3)
    assert not ok, note


@pytest.mark.cosim
def test_a_register_forced_to_its_initial_value_is_not_proven(tmp_path):
    """y starts at 0 and then holds odd table values: a bit of y forced to 0 agrees with
    the original only at power-on, so the proof from any state must refuse it."""
    from cosim.tools import need_tools
    from verify.mutation import _netlist, equivalent

    need_tools("yosys")
    (tmp_path / "dut.v").write_text(ROM_DUT)
    netlist = _netlist(tmp_path, "r")
    y_bits = netlist["netnames"]["y"]["bits"]
    y = next(n for n, c in netlist["cells"].items() if c["type"] == "$dff" and c["connections"]["Q"] == y_bits)
    ok, note = equivalent(tmp_path, "r", f"mutate -mode const0 -module r -cell {y} -port Q -portbit 0", 4)
    assert not ok, note


def test_require_fails_a_campaign_below_the_target(monkeypatch, tmp_path, capsys):
    """``--require P`` (what ``tox -e mutation`` runs with) exits 1 naming the design whose
    kill rate is below P, and 0 when every design reaches it."""
    from verify import mutation

    rates = {"engine": 96.9, "whole-window": 94.9}

    def fake_campaign(which, *args, **kwargs):
        return {"design": which, "mutants": 10, "killed": 9, "survived": 1, "equivalent": 0,
                "kill_rate": rates[which], "build_seconds": 0, "run_seconds": 0, "folder": str(tmp_path)}

    monkeypatch.setattr(mutation, "campaign", fake_campaign)
    monkeypatch.setattr(mutation, "verify_root", lambda: tmp_path)
    assert mutation.main(["--require", "95"]) == 1
    err = capsys.readouterr().err
    assert "whole-window: kill rate 94.9 % is below the required 95 %" in err and "engine:" not in err
    assert mutation.main(["--require", "94"]) == 0
    assert mutation.main([]) == 0                                  # no target: report only
