"""Performance model: the seeds' figures and the corrected ones.

Every expected number is stated here from DESIGN.md ("The seeds' estimate") or worked
out by hand in the comment beside it; none is recomputed with the model's code.
Float results are compared with a relative tolerance of 1e-12: that covers only the
rounding of decimal constants such as 5e9 and 500e-9 in binary, not the model.
"""

import argparse
import json

import pytest

from lstm_chiplet import cli, perf
from lstm_chiplet.perf import (REFERENCE, SEEDS_VARIANT, LinkModel, Topology, activation_memory,
                               corrected_estimate, markdown_table, performance_report,
                               seeds_estimate, weight_memory, window_cycles, window_link_bytes)

EXACT = dict(rel=1e-12)


# ------------------------------------------------------------ the seeds
def test_seeds_figures_reproduced():
    s = seeds_estimate()
    # 4(M+2N) in + 8N out with M=6, N=32: 4*70 + 8*32
    assert s["bytes_per_step"] == {"in": 280, "out": 256, "total": 536}
    # 536 B / 5 GB/s = 107.2 ns, + 500 ns
    assert s["link_ns_per_step"] == pytest.approx(607.2, **EXACT)
    # 45,696 x 607.2 ns = 27,746,611.2 ns
    assert s["link_ms_total"] == pytest.approx(27.7466112, **EXACT)
    assert round(s["link_ms_total"], 2) == 27.75
    # (2 s - 27.7466112 ms) / 45,696 = 43.1603... us
    assert s["compute_budget_us_per_step"] == pytest.approx(1_972_253_388.8 / 45_696 / 1e3, **EXACT)
    assert round(s["compute_budget_us_per_step"], 2) == 43.16
    # their table: 4*6 + 4*32 + 4 + 16 + 6 cycles, 5 ns each at 200 MHz
    assert s["seeds_cycles_per_step"] == 178
    assert s["seeds_compute_ns_per_step"] == pytest.approx(890.0, **EXACT)


def test_seeds_column_ignores_the_configured_link():
    r = performance_report(REFERENCE, LinkModel(10e9, 100e-9))
    assert r["seeds"]["link_ns_per_step"] == pytest.approx(607.2, **EXACT)
    # the corrected column uses it: 576 B / 10 GB/s + 100 ns
    assert r["corrected"]["link_whole_window"]["ns_per_window"] == pytest.approx(157.6, **EXACT)


# -------------------------------------------------------- the corrections
def test_weight_memory_corrected():
    wv = weight_memory(SEEDS_VARIANT, 32)
    # 4*32*(6+32+1) = 4,992 and three 32->32 layers of 4*32*(32+32+1) = 8,320; dense 32*6+6
    assert [x["parameters"] for x in wv["layers"]] == [4992, 8320, 8320, 8320, 198]
    assert wv["parameters"] == 30_150 and wv["bytes"] == 120_600
    assert round(wv["kib"], 2) == 117.77                   # "about 118 KiB at 32-bit"
    assert wv["layers"][1]["bytes"] == 33_280               # 32.5 KiB, not ~20.5 KB
    wr = weight_memory(REFERENCE, 16)
    # 4*64*71, 4*32*97, 4*32*65, 4*64*97, 64*6+6
    assert [x["parameters"] for x in wr["layers"]] == [18176, 12416, 8320, 24832, 390]
    assert wr["parameters"] == 64_134 and wr["bytes"] == 128_268
    assert [x["bytes"] for x in wr["layers"]] == [36352, 24832, 16640, 49664, 780]
    assert round(wr["kib"], 2) == 125.26                   # "125 KiB at 16-bit"


def test_cycles_one_mac_per_gate():
    c = corrected_estimate()
    # H(D+H) for the seeds' layer 6->32: 32*38
    assert c["cycles"]["seeds_layer"]["one_mac_per_gate"] == 1216
    assert c["cycles"]["seeds_layer"]["seeds_count"] == 178
    # reference, P=1: 64*70 + 32*96 + 32*64 + 64*96 + ceil(64*6/4), 24 steps
    assert window_cycles(REFERENCE)["cycles_per_window"] == 24 * (4480 + 3072 + 2048 + 6144 + 96) == 380_160
    # P=8: ceil(4480/8) + 3072/8 + 2048/8 + 6144/8 + ceil(384/32)
    assert window_cycles(REFERENCE, 8)["cycles_per_window"] == 24 * (560 + 384 + 256 + 768 + 12)
    # P=3 rounds up every term: 1494 + 1024 + 683 + 2048 + 32
    assert window_cycles(REFERENCE, 3)["cycles_per_window"] == 24 * (1494 + 1024 + 683 + 2048 + 32)


def test_whole_window_on_chip_bytes():
    # 24 vectors of 6 16-bit words each way
    assert window_link_bytes(REFERENCE, 16) == {"in": 288, "out": 288, "total": 576}
    assert window_link_bytes(REFERENCE, 16, score_only=True) == {"in": 288, "out": 2, "total": 290}
    c = corrected_estimate()
    assert c["configuration"]["vec_bits"] == 16 and c["configuration"]["weight_bits"] == 16
    # 576 / 5 GB/s = 115.2 ns, + 500 ns
    assert c["link_whole_window"]["ns_per_window"] == pytest.approx(615.2, **EXACT)
    assert c["link_whole_window"]["bytes_per_step_equivalent"] == 6.0      # 576 / 96
    # two transactions (one each way): 115.2 ns + 2 x 500 ns
    two = corrected_estimate(transactions_per_window=2)
    assert two["link_whole_window"]["ns_per_window"] == pytest.approx(1115.2, **EXACT)
    # the seeds' scheme at 16-bit, per layer (D+4H)*2: 268+256, 256+128, 192+128, 320+256
    assert [x["total"] for x in c["link_per_step_scheme"]["bytes_per_step"]] == [524, 384, 320, 576]
    assert c["link_per_step_scheme"]["bytes_per_window"] == 24 * 1804


def test_activation_memory_seeds_formula():
    a = activation_memory(6, 32, 32)
    assert a["seeds_formula_bytes"] == (6 + 6 * 32) * 4 == 792
    assert a["terms_sum_bytes"] == (6 + 7 * 32) * 4 == 920
    assert activation_memory(6, 32, 32, batch=4)["seeds_formula_bytes"] == 3168


def test_budget_speedup_and_throughput():
    c = corrected_estimate()
    assert c["steps"] == {"per_window": 96, "total": 45_696}
    # 380,160 cycles at 200 MHz = 1,900,800 ns; + 615.2 ns of link
    assert c["compute"]["us_per_window"] == pytest.approx(1900.8, **EXACT)
    assert c["throughput"]["latency_us"] == pytest.approx(1901.4152, **EXACT)
    assert c["throughput"]["windows_per_s"] == pytest.approx(1e6 / 1901.4152, **EXACT)
    # software 45,696 x 0.94 ms = 42.95424 s; chip 476 x 1,901,415.2 ns = 0.9050736352 s
    assert c["budget"]["software_s"] == pytest.approx(42.95424, **EXACT)
    assert c["budget"]["chip_s"] == pytest.approx(0.9050736352, **EXACT)
    assert c["budget"]["speedup"] == pytest.approx(42.95424 / 0.9050736352, **EXACT)
    # batch 8: 8*576 B / 5 GB/s + 500 ns = 1,421.6 ns; + 8 x 1,900,800 ns
    b = corrected_estimate(batch=8)["throughput"]
    assert b["latency_us"] == pytest.approx(15_207.8216, **EXACT)
    assert b["windows_per_s"] == pytest.approx(8e6 / 15_207.8216, **EXACT)


def test_measured_cycles_replace_the_model():
    c = corrected_estimate(macs_per_gate=8, measured_cycles_per_window=50_000, clock_hz=25e6)
    assert c["cycles"]["per_window"] == 50_000 and c["cycles"]["measured_per_window"] == 50_000
    # MACs per window: 24 x (4 x 15,744 + 64*6) = 1,520,640, on 32 lanes
    assert c["cycles"]["macs_per_window"] == 1_520_640
    assert c["cycles"]["mac_utilisation"] == pytest.approx(1_520_640 / (50_000 * 32), **EXACT)
    assert c["compute"]["us_per_window"] == pytest.approx(2000.0, **EXACT)


def test_other_topology():
    top = Topology(4, (16,), (16,), steps=10)
    w = weight_memory(top, 16)
    # 4*16*(4+16+1) = 1344, 4*16*(16+16+1) = 2112, dense 16*4+4 = 68
    assert [x["parameters"] for x in w["layers"]] == [1344, 2112, 68]
    assert corrected_estimate(top)["steps"]["per_window"] == 20


@pytest.mark.parametrize("kw, match", [
    ({"clock_hz": 0}, "clock_hz"),
    ({"macs_per_gate": 0}, "macs_per_gate"),
    ({"windows": -1}, "windows"),
    ({"measured_cycles_per_window": 0}, "measured cycles"),
])
def test_bad_configuration(kw, match):
    with pytest.raises(ValueError, match=match):
        corrected_estimate(**kw)


def test_bad_topology_and_link():
    with pytest.raises(ValueError, match="topology"):
        Topology(6, (), (32,))
    with pytest.raises(ValueError, match="topology"):
        Topology(6, (0,), (32,))
    with pytest.raises(ValueError, match="bandwidth"):
        LinkModel(0)


# ------------------------------------------------------------------ CLI
def _run(argv):
    ap = argparse.ArgumentParser()
    perf.add_arguments(ap)
    return perf.run(ap.parse_args(argv))


def test_cli_prints_table_and_writes_json(tmp_path, capsys):
    assert cli.COMMANDS["perf"][0] == "lstm_chiplet.perf"
    assert _run(["--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    for needle in ("| 536 (280 in + 256 out) |", "| 607.2 ns |", "27.75 ms for 45,696 steps",
                   "43.16 us", "1,216 = H(D+H)", "8,320 parameters = 32.5 KiB",
                   "30,150 parameters = 117.77 KiB", "64,134 = 125.26 KiB",
                   "576 bytes per window", "615.2 ns per window", "lstm1 780 B"):
        assert needle in text, needle
    report = json.loads((tmp_path / "perf.json").read_text())
    assert report["seeds"]["bytes_per_step"]["total"] == 536
    assert report["corrected"]["weights"]["parameters"] == 64_134
    assert (tmp_path / "perf.md").read_text().startswith("Performance model:")


def test_cli_options(tmp_path, capsys):
    _run(["--out", str(tmp_path), "--encoder", "32,32", "--decoder", "32,32", "--clock-mhz", "25",
          "--cycles-per-window", "123456", "--batch", "4", "--link-gbps", "10"])
    report = json.loads((tmp_path / "perf.json").read_text())
    c = report["corrected"]
    assert c["weights"]["parameters"] == 30_150
    assert c["cycles"]["per_window"] == 123_456
    assert c["configuration"]["link"]["bytes_per_s"] == 10e9
    assert c["throughput"]["batch"] == 4
    assert "measured" in markdown_table(report)
    with pytest.raises(SystemExit):
        _run(["--encoder", "32,x"])
