"""Reading nextpnr-ice40's output, held to snippets captured from nextpnr-ice40 0.4 runs of the engine.

The snippets have their folders removed; the expected numbers are read off them.
"""

import pytest

from lstm_chiplet.implementation.device import UP5K, shortfalls
from lstm_chiplet.implementation.nextpnr import NEXTPNR_RESOURCES, parse_nextpnr_log, parse_nextpnr_report
from lstm_chiplet.implementation.reports import describe_shortfall

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


def test_nextpnr_log_of_a_design_that_does_not_fit():
    r = parse_nextpnr_log(NEXTPNR_DOES_NOT_FIT)
    assert r["utilisation"]["ICESTORM_LC"] == {"used": 7085, "available": 5280}
    assert r["utilisation"]["ICESTORM_SPRAM"] == {"used": 4, "available": 4}
    assert r["fmax_mhz"] is None
    assert r["errors"] == ["Unable to place cell 'bridge.tx_data_SB_DFFESR_Q_3_D_SB_LUT4_O_LC', no BELs "
                           "remaining to implement cell type 'ICESTORM_LC'"]
    used = {NEXTPNR_RESOURCES[k]: v["used"] for k, v in r["utilisation"].items()
            if k in NEXTPNR_RESOURCES}
    short = shortfalls(used, UP5K)
    assert short == [{"resource": "logic_cells", "used": 7085, "available": 5280, "excess": 1805,
                      "percent_of_device": 134.2}]
    text = describe_shortfall(short[0])
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
