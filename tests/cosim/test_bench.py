"""``lstm-chiplet cosim-bench`` on a small engine: both simulators measured in one run."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.cosim


def test_cosim_bench_measures_both_simulators(icarus, verilator, tmp_path, capsys):
    from lstm_chiplet.cli import main

    out = tmp_path / "bench.json"
    assert main(["cosim-bench", "--input-size", "2", "--hidden-size", "4", "--lanes", "2",
                 "--windows", "1", "--repeats", "1", "--out", str(out)]) == 0
    fig = json.loads(out.read_text())
    for key in ("icarus_vpi_pinned", "icarus_vpi_unpinned", "verilator"):
        assert fig[key]["long"]["cycles"] > fig[key]["short"]["cycles"] > 0
        assert fig[key]["end_to_end_cycles_per_s"] > 0
    assert fig["design"] == "lstm_engine_d2_h4_p2_v2q14_w4q12_z5q11_a2q14"
    assert "cycles/s" in capsys.readouterr().out


def test_cosim_bench_refuses_bad_counts():
    from lstm_chiplet.cli import main

    assert main(["cosim-bench", "--repeats", "0"]) == 1
