"""The UP5K flow for real: yosys, nextpnr and icepack on converted engines.

* A smoke run (CI) takes a tiny engine through yosys, nextpnr and icepack behind the
  host bridge and checks the report against the netlist and nextpnr's own report.
* The slow set (tox -e synth) runs a reference-size engine that does not fit.

A missing tool fails with the install command (see the ``implementation_tools``
fixture).
"""

import json

import pytest

from lstm_chiplet.implementation.device import TARGET_MHZ, UP5K
from lstm_chiplet.implementation.flow import implement
from lstm_chiplet.implementation.sources import engine_source


def _netlist_cells(path):
    counts = {}
    for mod in json.loads(path.read_text())["modules"].values():
        for cell in mod.get("cells", {}).values():
            counts[cell["type"]] = counts.get(cell["type"], 0) + 1
    return counts


@pytest.mark.hdl
def test_smoke_flow_places_routes_and_packs_a_tiny_engine(tmp_path, implementation_tools):
    from hdl.config import EngineConfig

    src = engine_source(EngineConfig(2, 4, 1), tmp_path / "rtl")
    r = implement(src, tmp_path / "out", more_seeds=(2,))
    work = tmp_path / "out" / src.module
    assert json.loads((work / "report.json").read_text())["design"] == src.module
    assert "| DSP (SB_MAC16) |" in (work / "report.md").read_text()
    pnr = r["place_and_route"]
    assert pnr["routed"] and pnr["errors"] == []
    assert (work / "yosys" / "design.bin").stat().st_size > 100_000     # a UP5K image is ~104 kB
    assert 0 < pnr["fmax_mhz"] < 200
    timing = next(v for v in r["verdict"] if v.startswith("placed and routed"))
    assert ("meets" in timing) == (pnr["fmax_mhz"] >= TARGET_MHZ)
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
    # a second seed places the same netlist again, beside the first
    assert [x["seed"] for x in r["seeds"]] == [1, 2]
    assert r["seeds"][0]["fmax_mhz"] == pnr["fmax_mhz"]
    again = json.loads((work / "yosys" / "seed-2" / "pnr_report.json").read_text())
    assert again["fmax"] and (work / "yosys" / "seed-2" / "design.asc").is_file()
    assert r["seeds"][1]["routed"] and 0 < r["seeds"][1]["fmax_mhz"] < 200
    assert "| nextpnr seed |" in (work / "report.md").read_text()
    assert "of 2 meet" in r["verdict"][-1]


@pytest.mark.hdl
@pytest.mark.slow
def test_reference_size_engine_reports_what_does_not_fit(tmp_path, implementation_tools):
    from hdl.config import EngineConfig

    cfg = EngineConfig(32, 32, 1)
    r = implement(engine_source(cfg, tmp_path / "rtl"), tmp_path / "out")
    if r["fits"]:
        pytest.fail("expected the current engine not to fit: " + " / ".join(r["verdict"]))
    ebr = next(s for s in r["shortfalls"] if s["resource"] == "ebr")
    assert ebr["used"] == r["synthesis"]["resources"]["ebr"] > UP5K.ebr
    assert ebr["excess"] == ebr["used"] - UP5K.ebr
    assert any("EBR blocks" in v and f"{ebr['excess']} too many" in v for v in r["verdict"])
