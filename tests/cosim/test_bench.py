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


def test_negative_start_up_fit_is_reported_as_noise():
    from cosim.bench import _speeds, _startup_text

    # the short run faster per cycle than the long one: the fitted start-up is negative
    fit = _speeds({"cycles": 1000, "seconds": 0.5}, {"cycles": 10000, "seconds": 2.0})
    assert fit["startup_s"] == pytest.approx(0.3333, abs=1e-4)
    noisy = _speeds({"cycles": 1000, "seconds": 0.1}, {"cycles": 10000, "seconds": 2.0})
    assert noisy["startup_s"] < 0
    assert "below timing noise" in _startup_text(noisy["startup_s"])
    assert _startup_text(0.3333) == "0.3333 s"
    assert _startup_text(None) == "not measured"
