"""The implementation flow: report parsing on captured tool output, the plans, and the tools.

* Parsers are held to snippets captured from yosys 0.23 and nextpnr-ice40 0.4 runs of
  the engine (folders removed); the expected numbers are read off the snippets.
* The DSP budget and the memory plan are checked on hand-made cells whose right
  answer is worked out in the test.
* A smoke run (CI) takes a tiny engine through yosys, nextpnr and icepack behind the
  host bridge and checks the report against the netlist and nextpnr's own report.
  A missing tool fails it with the install command, unless
  LSTM_CHIPLET_ALLOW_MISSING_TOOLS=1 turns that into a skip.
* The slow set (tox -e synth) runs a reference-size engine that does not fit and the
  generic cell counts.
"""

import json
import math
import shutil

import pytest

from lstm_chiplet import synth
from lstm_chiplet.synth import (UP5K, Device, Memory, Multiplier, critical_path, drop_zero_init,
                                dsp_budget, ebr_blocks, memories_from_dump, multipliers_from_dump,
                                parse_nextpnr_log, parse_nextpnr_report, plan_memories, shortfalls)

# ------------------------------------------------------------------ captured output
NEXTPNR_DOES_NOT_FIT = """\
Info: Packing constants..
Info: Device utilisation:
Info: \t         ICESTORM_LC:  7085/ 5280   134%
Info: \t        ICESTORM_RAM:    30/   30   100%
Info: \t               SB_IO:    22/   96    22%
Info: \t               SB_GB:     8/    8   100%
Info: \t        ICESTORM_PLL:     0/    1     0%
Info: \t        ICESTORM_DSP:     8/    8   100%
Info: \t      ICESTORM_SPRAM:     4/    4   100%

Info: Placed 0 cells based on constraints.
ERROR: Unable to place cell 'bridge.tx_data_SB_DFFESR_Q_3_D_SB_LUT4_O_LC', no BELs remaining to implement cell type 'ICESTORM_LC'
"""

NEXTPNR_ROUTED = """\
Info: Device utilisation:
Info: \t         ICESTORM_LC:  4059/ 5280    76%
Info: \t        ICESTORM_RAM:    30/   30   100%
Info: \t        ICESTORM_DSP:     8/    8   100%
Info: \t      ICESTORM_SPRAM:     0/    4     0%
Info: Max frequency for clock 'clk$SB_IO_IN_$glb_clk': 16.51 MHz (FAIL at 24.00 MHz)
Info: Critical path report for clock 'clk$SB_IO_IN_$glb_clk' (posedge -> posedge):
Info: curr total
Info:  1.4  1.4  Source core.activation_unit1_sample_SB_DFF_Q_DFFLC.O
Info:  1.8  3.2    Net core.activation_unit1_sample[3] budget 0.000000 ns (3,27) -> (3,27)
Info:                Sink core.activation_unit1_interp_SB_LUT4_O_LC.I1
Info:                Defined in:
Info:                  /some/folder/engine_up5k.v:33.46-46.2
Info:                  /some/folder/engine.v:2865.10-2865.48
Info:                  /usr/bin/../share/yosys/ice40/arith_map.v:51.21-51.22
Info:  0.3 58.2  Source core.activation_unit1_y_SB_LUT4_O_LC.COUT
Info:                Defined in:
Info:                  /some/folder/engine.v:2889.10-2889.48
Info:                  /some/folder/engine.v:2865.10-2865.48
Info:  0.1 65.8  Setup core.activation_unit1_y_SB_DFFSR_Q_D_SB_LUT4_O_LC.SR
Info: 25.6 ns logic, 40.3 ns routing

Info: Critical path report for cross-domain path '<async>' -> 'posedge clk$SB_IO_IN_$glb_clk':
Info:  0.0  0.0  Source rst$sb_io.D_IN_0
Info:  0.1  9.0  Setup core.state_SB_DFFSR_Q_LC.SR
Info: 2.0 ns logic, 7.0 ns routing
Warning: Max frequency for clock 'clk$SB_IO_IN_$glb_clk': 15.19 MHz (FAIL at 24.00 MHz)
"""

NEXTPNR_REPORT = {
    "fmax": {"clk$SB_IO_IN_$glb_clk": {"achieved": 15.18718147277832, "constraint": 24}},
    "utilization": {"ICESTORM_DSP": {"available": 8, "used": 8},
                    "ICESTORM_LC": {"available": 5280, "used": 4059},
                    "ICESTORM_RAM": {"available": 30, "used": 30}},
}

MEMORY_DUMP = """\
  attribute \\src "/some/folder/top.v:33.48-46.2|/some/folder/engine.v:248.1-248.50"
  cell $mem_v2 \\core.gate_unit0_weight_memory0_mem
    parameter \\ABITS 11
    parameter \\INIT 32768'00000000000000000000000000000000
    parameter \\MEMID "\\\\core.gate_unit0_weight_memory0_mem"
    parameter \\RD_INIT_VALUE 16'0000000000000000
    parameter \\RD_PORTS 1
    parameter \\SIZE 2048
    parameter \\WIDTH 16
    parameter \\WR_PORTS 1
    connect \\RD_ADDR \\core.gate_unit0_weight_memory0_sp_addr
    connect \\RD_CLK \\clk
    connect \\WR_ADDR $flatten\\core.$0$memwr$\\gate_unit0_weight_memory0_mem$engine.v:352$8427_ADDR[10:0]$8441
  end

  cell $mem_v2 \\memcell_3
    parameter \\ABITS 9
    parameter \\INIT 9728'1000000000000000000100000000000000000010
    parameter \\MEMID "$flatten\\\\core.$auto$proc_rom.cc:150:do_switch$26187"
    parameter \\RD_PORTS 1
    parameter \\SIZE 512
    parameter \\WIDTH 19
    parameter \\WR_PORTS 0
    connect \\RD_ADDR \\core.activation_unit0_u [14:6]
  end
"""

MUX_IL = """\
  cell $mux $flatten\\core.$procmux$27037
    parameter \\WIDTH 11
    connect \\A 11'xxxxxxxxxxx
    connect \\B \\core.gate_unit0_weight_memory0_sp_addr
    connect \\S \\core.gate_unit0_weight_memory0_hit
    connect \\Y $flatten\\core.$0$memwr$\\gate_unit0_weight_memory0_mem$engine.v:352$8427_ADDR[10:0]$8441
  end
"""

MUL_DUMP = """\
  attribute \\src "/some/folder/engine.v:2865.31-2865.80"
  cell $mul \\mulcell_0
    parameter \\A_SIGNED 0
    parameter \\A_WIDTH 12
    parameter \\B_SIGNED 0
    parameter \\B_WIDTH 6
    parameter \\Y_WIDTH 18
    connect \\A \\core.activation_unit0_slope
  end

  attribute \\src "/some/folder/engine.v:363.12-363.50"
  cell $mul \\mulcell_2
    parameter \\A_SIGNED 1
    parameter \\A_WIDTH 16
    parameter \\B_SIGNED 1
    parameter \\B_WIDTH 16
    parameter \\Y_WIDTH 32
    connect \\A \\core.gate_unit0_weight_memory0_rd_data
  end
"""

STAT_JSON = """yosys banner line
{
   "creator": "Yosys 0.23",
   "modules": {
      "\\\\top_up5k": {"num_cells": 7,
         "num_cells_by_type": {"SB_LUT4": 3, "SB_DFFE": 2, "SB_DFFSR": 1, "SB_MAC16": 1}}
   },
   "design": {"num_cells": 7, "num_cells_by_type": {"SB_LUT4": 3}}
}
"""


# -------------------------------------------------------------------- parsers
def test_nextpnr_log_of_a_design_that_does_not_fit():
    r = parse_nextpnr_log(NEXTPNR_DOES_NOT_FIT)
    assert r["utilisation"]["ICESTORM_LC"] == {"used": 7085, "available": 5280}
    assert r["utilisation"]["ICESTORM_SPRAM"] == {"used": 4, "available": 4}
    assert r["fmax_mhz"] is None
    assert r["errors"] == ["Unable to place cell 'bridge.tx_data_SB_DFFESR_Q_3_D_SB_LUT4_O_LC', no BELs "
                           "remaining to implement cell type 'ICESTORM_LC'"]
    used = {synth.NEXTPNR_RESOURCES[k]: v["used"] for k, v in r["utilisation"].items()
            if k in synth.NEXTPNR_RESOURCES}
    short = shortfalls(used, UP5K)
    assert short == [{"resource": "logic_cells", "used": 7085, "available": 5280, "excess": 1805,
                      "percent_of_device": 134.2}]
    text = synth.describe_shortfall(short[0])
    assert "needs 7085" in text and "has 5280" in text and "1805 too many" in text


def test_nextpnr_log_of_a_routed_design_takes_the_last_clock_figure():
    r = parse_nextpnr_log(NEXTPNR_ROUTED)
    assert (r["fmax_mhz"], r["target_mhz"], r["timing"]) == (15.19, 24.0, "FAIL")
    assert r["clock"] == "clk$SB_IO_IN_$glb_clk"
    assert r["utilisation"]["ICESTORM_LC"]["used"] == 4059
    cp = r["critical_path"]
    assert cp["from"] == "core.activation_unit1_sample_SB_DFF_Q_DFFLC.O"
    assert cp["to"] == "core.activation_unit1_y_SB_DFFSR_Q_D_SB_LUT4_O_LC.SR"
    assert (cp["logic_ns"], cp["routing_ns"]) == (25.6, 40.3)
    # design files in path order, no folders, yosys' own library left out
    assert cp["rtl_lines"] == ["engine_up5k.v:33", "engine.v:2865", "engine.v:2889"]


def test_nextpnr_report_json():
    r = parse_nextpnr_report(NEXTPNR_REPORT)
    assert r["fmax_mhz"] == pytest.approx(15.18718147277832)
    assert (r["target_mhz"], r["timing"]) == (24.0, "FAIL")
    assert r["utilisation"]["ICESTORM_RAM"] == {"used": 30, "available": 30}


def test_timing_verdicts_say_by_how_much():
    fail = synth.describe_timing(15.19, 24.0)
    assert "FAILS" in fail and "8.81 MHz short" in fail and "37% below" in fail
    assert "65.8 ns against 41.7 ns" in fail
    ok = synth.describe_timing(30.0, 24.0)
    assert "meets 24 MHz" in ok and "6.00 MHz to spare" in ok


def test_yosys_stat_json_of_the_top_module():
    cells = synth.cells_from_stat_json(STAT_JSON, "top_up5k")
    assert cells == {"SB_LUT4": 3, "SB_DFFE": 2, "SB_DFFSR": 1, "SB_MAC16": 1}
    res = synth.resources_from_cells(cells)
    assert (res["lut4"], res["flip_flops"], res["dsp"], res["ebr"]) == (3, 3, 1, 0)
    assert (res["logic_cells_min"], res["logic_cells_max"]) == (3, 6)
    with pytest.raises(ValueError, match="no JSON"):
        synth.cells_from_stat_json("ERROR: nothing")


def test_multipliers_and_memories_from_dumps():
    muls = multipliers_from_dump(MUL_DUMP)
    assert [(m.name, m.a_bits, m.b_bits, m.y_bits, m.source) for m in muls] == [
        ("mulcell_0", 12, 6, 18, "engine.v:2865"), ("mulcell_2", 16, 16, 32, "engine.v:363")]
    mems = memories_from_dump(MEMORY_DUMP, MUX_IL)
    bank, rom = mems
    assert (bank.name, bank.memid, bank.size, bank.width, bank.rom) == (
        "core.gate_unit0_weight_memory0_mem", "core.gate_unit0_weight_memory0_mem", 2048, 16, False)
    assert bank.same_address and not bank.init_nonzero and bank.source == "engine.v:248"
    assert rom.rom and rom.init_nonzero and rom.label.startswith("ROM")
    # without the enable multiplexer the write address is another net
    assert not memories_from_dump(MEMORY_DUMP)[0].same_address


# ---------------------------------------------------------------------- plans
def test_ebr_and_spram_block_counts():
    # 256x16 is the EBR shape for 16-bit words: 2048 words -> 8 blocks
    assert ebr_blocks(2048, 16) == 8
    # 512x19: 512x8 blocks need 3 (19 bits = 8+8+3), 256x16 would need 2x2 = 4
    assert ebr_blocks(512, 19) == 3
    assert ebr_blocks(64, 16) == 1
    assert synth.spram_blocks(15_904, 16) == 1 and synth.spram_blocks(16_385, 16) == 2
    assert synth.spram_blocks(100, 32) == 2


def test_dsp_budget_gives_the_blocks_to_the_widest_products():
    muls = [Multiplier(f"act{k}", 12, 6, 18) for k in range(5)]
    muls += [Multiplier(f"mac{k}", 16, 16, 32) for k in range(8)]
    muls += [Multiplier("wide", 20, 16, 36), Multiplier("tiny", 4, 4, 8)]
    on, soft = dsp_budget(muls, 8)
    # "wide" (20x16 = 320) takes 2 blocks, then six 16x16 fill the remaining 6
    assert [m.name for m in on] == ["wide"] + [f"mac{k}" for k in range(6)]
    assert sum(m.dsp_blocks for m in on) == 8
    assert {m.name for m in soft} == {"mac6", "mac7", "tiny"} | {f"act{k}" for k in range(5)}
    assert Multiplier("tiny", 4, 4, 8).dsp_blocks == 0      # below mul2dsp's minimum width
    on, soft = dsp_budget(muls[:5], 8)
    assert len(on) == 5 and soft == []


def _mem(name, size, width, rom=False, same=True, init=False):
    return Memory(name, name, size, width, 1, 0 if rom else 1, same, init)


def test_memory_plan_moves_the_largest_rams_to_spram_only_when_ebr_overflows():
    fits = [_mem("bank", 2048, 16), _mem("rom", 512, 19, rom=True)]
    plan = plan_memories(fits, UP5K)
    assert plan["spram_candidates"] == [] and plan["ebr_estimate"] == 8 + 3
    banks = [_mem(f"bank{k}", 4480, 16) for k in range(5)]          # 18 EBR each
    mems = banks + [_mem("rom", 512, 19, rom=True), _mem("init", 8192, 16, init=True)]
    plan = plan_memories(mems, UP5K)
    # EBR need 5*18 + 3 + 32 = 125 > 30; the largest ("init", 32 blocks) has initial
    # contents, so the four SPRAMs take four 4480-word banks
    assert plan["spram_candidates"] == ["bank0", "bank1", "bank2", "bank3"]
    assert plan["ebr_estimate"] == 125 - 4 * 18
    assert plan["refused"] == {"init": synth.INITIAL_CONTENTS}
    assert "rom" not in plan["refused"]                       # ROMs never were candidates
    excluded = {"bank0": synth.SEPARATE_ADDRESSES}
    plan = plan_memories(mems, UP5K, excluded)
    assert plan["spram_candidates"] == ["bank1", "bank2", "bank3", "bank4"]
    assert plan["refused"]["bank0"] == synth.SEPARATE_ADDRESSES


def test_memory_plan_puts_tiny_memories_in_flip_flops_when_still_over():
    small = Device("t", "p", (), 5280, 8, ebr=3, spram=0, io=39)
    mems = [_mem("big", 512, 16), _mem("c", 16, 16), _mem("h", 8, 16), _mem("mid", 64, 16)]
    plan = plan_memories(mems, small)
    # EBR need 2 + 1 + 1 + 1 = 5 > 3; the smallest two (128 and 256 bits) go to flip-flops;
    # the 1024-bit one is above LOGIC_MAX_BITS and stays
    assert plan["logic"] == ["h", "c"] and plan["ebr_estimate"] == 3


def test_drop_zero_init_touches_only_the_named_memories():
    text = MEMORY_DUMP.replace("32768'00000000000000000000000000000000", "32'0" + "0" * 31)
    out = drop_zero_init(text, ["core.gate_unit0_weight_memory0_mem"])
    assert "parameter \\INIT 32'" + "x" * 32 in out
    assert "parameter \\RD_INIT_VALUE 16'" + "x" * 16 in out
    assert "9728'1000000000000000000100000000000000000010" in out     # the ROM keeps its table
    with pytest.raises(ValueError, match="not all zero"):
        drop_zero_init(MEMORY_DUMP, ["memcell_3"])


# ---------------------------------------------------------------- sources, tools
def test_manifest_errors_name_the_file_and_the_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        synth.DesignSource.from_manifest(tmp_path / "none.json")
    bad = tmp_path / "bad.manifest.json"
    bad.write_text(json.dumps({"module": "m", "ports": []}))
    with pytest.raises(ValueError, match="missing key 'files'"):
        synth.DesignSource.from_manifest(bad)
    bad.write_text(json.dumps({"module": "m", "ports": [], "files": {"verilog": "m.v"}}))
    with pytest.raises(FileNotFoundError, match="m.v not found"):
        synth.DesignSource.from_manifest(bad)
    (tmp_path / "m.v").write_text("module m; endmodule\n")
    bad.write_text(json.dumps({"module": "m", "ports": [{"name": "clk"}], "files": {"verilog": "m.v"}}))
    with pytest.raises(ValueError, match="port 0 lacks"):
        synth.DesignSource.from_manifest(bad)


def test_missing_tool_names_the_install_command(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(synth.ToolMissing, match=r"apt-get install fpga-icestorm"):
        synth.require("icepack")
    with pytest.raises(synth.ToolMissing, match=r"nextpnr-ice40 not found.*apt-get install nextpnr-ice40"):
        synth.require("nextpnr-ice40")


def test_top_wires_every_stream_port_through_the_bridge():
    src = synth.DesignSource("eng", [], [{"name": n, "direction": "x", "bits": b} for n, b in
                                         zip(synth.STREAM_PORTS, (1, 1, 96, 1, 1, 1, 1024, 1, 1, 1, 1, 15, 16))],
                             {})
    text = synth.top_verilog(src, "host_bridge_x", "eng_up5k")
    assert "wire [95:0] in_tdata;" in text and "wire [1023:0] out_tdata;" in text
    assert "wire [14:0] wr_addr;" in text and "wire in_tvalid;" in text
    for name in synth.STREAM_PORTS[2:]:
        assert text.count(f".{name}({name})") == 2


# ------------------------------------------------------------------- utilisation
def test_utilisation_rows_against_the_ideal():
    rows = synth.utilisation(lanes=(1, 2, 4, 8, 16))
    assert {r["layer"] for r in rows} == {"6->64", "64->32", "32->32", "32->64"}
    assert len(rows) == 4 * 5
    for r in rows:
        d, h, p = r["input_size"], r["hidden_size"], r["lanes"]
        assert r["ideal"] == math.ceil(h * (d + h) / p)
        assert r["cycles_per_step"] >= r["ideal"]
        assert r["within_10_percent"] == (r["cycles_per_step"] <= 1.1 * r["ideal"])
    one = next(r for r in rows if r["layer"] == "6->64" and r["lanes"] == 1)
    assert one["ideal"] == 64 * 70


def test_utilisation_table_and_plot(tmp_path):
    rows = synth.utilisation(lanes=(1, 4), layers=[(6, 8)])
    text = synth.utilisation_markdown(rows)
    assert text.count("\n") == 3 and "| 6->8 | 4 | 16 | 28 |" in text
    synth.utilisation_plot(rows, tmp_path / "u.png")
    assert (tmp_path / "u.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_whole_window_design_steps_at_the_multiplier_bound():
    """Issue 6, item 3, for the design placed on the UP5K: every reference layer's step
    takes exactly (H/P)(D+H) cycles at every P (its steps overlap; no gap)."""
    rows = synth.window_utilisation(lanes=(1, 2, 4, 8, 16))
    shapes = {"6->64": (6, 64), "64->32": (64, 32), "32->32": (32, 32), "32->64": (32, 64)}
    assert len(rows) == 20 and {r["layer"] for r in rows} == set(shapes)
    for r in rows:
        d, h = shapes[r["layer"]]
        assert r["ideal"] == h * (d + h) // r["lanes"]
        assert r["cycles_per_step"] == r["ideal"] and r["step_gap"] == 0 and r["within_10_percent"]
        assert r["window_cycles_measured"] is None
    assert {r["window_cycles"] for r in rows if r["lanes"] == 1} == {381_187}
    text = synth.window_utilisation_markdown(rows)
    assert "| 32->32 (2) | 16 | 64 | 128 | 128 | 0 | 1.000 | yes | 25,434 / - | 93.4% |" in text


@pytest.mark.slow
def test_whole_window_cycles_measured_on_verilator():
    rows = synth.window_utilisation(lanes=(16,), measure=True)
    assert rows and all(r["window_cycles_measured"] == r["window_cycles"] == 25_434 for r in rows)


def test_summary_keeps_the_entries_a_run_did_not_measure(tmp_path, capsys):
    import argparse

    parser = argparse.ArgumentParser()
    synth.add_arguments(parser)
    args = parser.parse_args(["--only", "utilisation", "--out", str(tmp_path)])
    (tmp_path / "summary.json").write_text(json.dumps(
        {"implementations": [{"design": "earlier", "fits": False}], "generic": "not a list"}))
    assert synth.run(args) == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["implementations"] == [{"design": "earlier", "fits": False}]
    assert s["generic"] == [] and len(s["utilisation"]) == 20
    assert all(r["date"] == s["date"] for r in s["utilisation"])
    assert (tmp_path / "utilisation.png").is_file() and "Multiplier utilisation" in capsys.readouterr().out


@pytest.mark.slow
def test_measured_cycles_equal_the_formula():
    rows = synth.utilisation(lanes=(1, 2), layers=[(3, 4)], measure=True)
    assert [r["measured"] for r in rows] == [r["cycles_per_step"] for r in rows]


# ------------------------------------------------------------- the tools, for real
def need_tools():
    from hdl.tools import missing_allowed

    for tool in ("yosys", "nextpnr-ice40", "icepack"):
        try:
            synth.require(tool)
        except synth.ToolMissing as exc:
            if missing_allowed():
                pytest.skip(str(exc))
            pytest.fail(str(exc))


def _netlist_cells(path):
    counts = {}
    for mod in json.loads(path.read_text())["modules"].values():
        for cell in mod.get("cells", {}).values():
            counts[cell["type"]] = counts.get(cell["type"], 0) + 1
    return counts


@pytest.mark.hdl
def test_smoke_flow_places_routes_and_packs_a_tiny_engine(tmp_path):
    need_tools()
    from hdl.config import EngineConfig

    src = synth.engine_source(EngineConfig(2, 4, 1), tmp_path / "rtl")
    r = synth.implement(src, tmp_path / "out")
    work = tmp_path / "out" / src.module
    assert json.loads((work / "report.json").read_text())["design"] == src.module
    assert "| DSP (SB_MAC16) |" in (work / "report.md").read_text()
    pnr = r["place_and_route"]
    assert pnr["routed"] and pnr["errors"] == []
    assert (work / "yosys" / "design.bin").stat().st_size > 100_000     # a UP5K image is ~104 kB
    assert 0 < pnr["fmax_mhz"] < 200
    assert ("meets" in r["verdict"][-1]) == (pnr["fmax_mhz"] >= synth.TARGET_MHZ)
    # the report's counts are the netlist's and nextpnr's
    cells = _netlist_cells(work / "yosys" / "netlist.json")
    res = r["synthesis"]["resources"]
    assert res["dsp"] == cells.get("SB_MAC16", 0) == pnr["utilisation"]["ICESTORM_DSP"]["used"]
    assert res["ebr"] == cells.get("SB_RAM40_4K", 0) == pnr["utilisation"]["ICESTORM_RAM"]["used"]
    assert res["lut4"] == cells["SB_LUT4"]
    assert res["dsp"] <= UP5K.dsp and pnr["utilisation"]["ICESTORM_LC"]["used"] <= UP5K.logic_cells
    # 4 MAC lanes + 3 cell-update products + 5 activation interpolations; the widest 8 get DSPs
    m = r["synthesis"]["multipliers"]
    assert m["total"] == 12 and len(m["on_dsp"]) == 8
    assert min(x["a_bits"] * x["b_bits"] for x in m["on_dsp"]) >= max(x["a_bits"] * x["b_bits"]
                                                                      for x in m["in_logic"])
    assert r["fits"] and r["host_interface"]["pins"] == 22


@pytest.mark.hdl
@pytest.mark.slow
def test_reference_size_engine_reports_what_does_not_fit(tmp_path):
    need_tools()
    from hdl.config import EngineConfig

    cfg = EngineConfig(32, 32, 1)
    r = synth.implement(synth.engine_source(cfg, tmp_path / "rtl"), tmp_path / "out")
    if r["fits"]:
        pytest.fail("expected the current engine not to fit: " + " / ".join(r["verdict"]))
    ebr = next(s for s in r["shortfalls"] if s["resource"] == "ebr")
    assert ebr["used"] == r["synthesis"]["resources"]["ebr"] > UP5K.ebr
    assert ebr["excess"] == ebr["used"] - UP5K.ebr
    assert any("EBR blocks" in v and f"{ebr['excess']} too many" in v for v in r["verdict"])


@pytest.mark.hdl
@pytest.mark.slow
def test_generic_cell_counts_grow_with_lanes(tmp_path):
    need_tools()
    from hdl.config import EngineConfig

    rows = [synth.generic_cells(EngineConfig(3, 4, p), tmp_path) for p in (1, 2)]
    assert [r["multipliers"] for r in rows] == [4 * 1 + 8, 4 * 2 + 8]
    assert rows[1]["gates"] > rows[0]["gates"] > 0
    # weights: 4H(D+H) words of 16 bits, in RAM, either way
    assert all(r["ram_bits"] >= 4 * 4 * 7 * 16 for r in rows)
