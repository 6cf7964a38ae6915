"""``lstm-chiplet bench``: the side-by-side table, its cycle model and its inputs.

The timings themselves are machine-dependent; what is checked is what a timing row
must satisfy (scaling of sampled rows, ratios against pure Python, bit-exactness of
the specification row) and the projected rows' arithmetic, worked out here from the
documented cycle formula.
"""

import json

import pytest

from golden.autoencoder import AutoencoderConfig
from golden.formats import FormatError
from lstm_chiplet import bench, cli


def test_window_cycles_are_the_whole_window_designs():
    cfg = AutoencoderConfig()
    for lanes, total in ((1, 381_187), (8, 49_050)):      # measured on Verilator (docs/whole_window.md)
        w = bench.window_cycles(cfg, lanes)
        # every LSTM pass at the multiplier bound: T steps of (H/P)(D+H) cycles, no gap
        per_layer = [24 * (h // lanes) * (d + h) for d, h in ((6, 64), (64, 32), (32, 32), (32, 64))]
        assert [x["cycles"] for x in w["layers"]] == per_layer
        assert w["load_cycles"] == 24 * 6
        assert w["total"] == w["load_cycles"] + sum(per_layer) + w["dense_cycles"] == total
    with pytest.raises(FormatError, match="lanes"):
        bench.window_cycles(cfg, 3)


def _summary(tmp_path, implementations):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"date": "2026-01-01", "implementations": implementations}))
    return path


def _impl(name, fits, fmax, kind="lstm_engine"):
    return {"design": name, "fits": fits, "kind": kind, "target_mhz": 24.0,
            "place_and_route": {"fmax_mhz": fmax} if fmax else None}


def test_up5k_clock_prefers_a_placed_whole_window_design(tmp_path):
    missing = bench.up5k_clock(tmp_path / "none.json")
    assert missing["mhz"] is None and "run lstm-chiplet synth" in missing["why"]
    none = bench.up5k_clock(_summary(tmp_path, [_impl("e1", False, None), _impl("e2", False, None)]))
    assert none["mhz"] is None and "e1, e2" in none["why"]
    engines = bench.up5k_clock(_summary(tmp_path, [_impl("e1", True, 20.5), _impl("e2", True, 31.0),
                                                   _impl("e3", False, 50.0)]))
    assert (engines["mhz"], engines["design"], engines["whole_window"]) == (31.0, "e2", False)
    ae = dict(_impl("ae", True, 25.0, "autoencoder"), cycles={"cycles_per_window": 400_000},
              parameters={"lanes": 1})
    whole = bench.up5k_clock(_summary(tmp_path, [_impl("e2", True, 31.0), ae]))
    assert (whole["mhz"], whole["design"], whole["whole_window"]) == (25.0, "ae", True)
    rows, _ = bench._hardware_rows(AutoencoderConfig(), 273, _summary(tmp_path, [ae]), 200.0, 8)
    assert rows[0]["cycles_per_window"] == 400_000
    assert rows[0]["seconds"] == pytest.approx(400_000 * 273 / 25e6)


def test_quick_bench_rows(tmp_path):
    r = bench.run_bench(windows=6, repeats=1, python_sample=1, spec_sample=1, simulators=False,
                        synth_summary=_summary(tmp_path, [_impl("e", True, 30.0)]), progress=False)
    rows = {row["path"]: row for row in r["rows"]}
    py = rows["pure Python (list-based step)"]
    assert py["seconds"] == pytest.approx(py["sample_seconds"] * 6)
    assert py["speedup_vs_pure_python"] == pytest.approx(1.0)
    for row in r["rows"]:
        if row["available"]:
            assert row["speedup_vs_pure_python"] == pytest.approx(py["seconds"] / row["seconds"])
    assert rows["fxpmath specification"]["bit_exact_with_kernels"] is True
    assert not rows["Verilator"]["available"] and "skipped" in rows["Verilator"]["note"]
    up = rows["UP5K (projected)"]
    cycles = bench.window_cycles(AutoencoderConfig(), 1)["total"]
    assert up["seconds"] == pytest.approx(cycles * 6 / 30e6)
    chip = rows["chiplet (projected)"]
    assert chip["seconds"] == pytest.approx(bench.window_cycles(AutoencoderConfig(), 8)["total"] * 6 / 200e6)
    assert r["machine"]["nproc"] >= 1 and "/" not in r["machine"]["cpu"]
    text = bench.markdown_table(r)
    for name in rows:
        assert f"| {name} |" in text


def test_unplaced_up5k_is_projected_at_the_target_and_says_so(tmp_path):
    rows, hw = bench._hardware_rows(AutoencoderConfig(), 273, tmp_path / "none.json", 200.0, 8)
    assert rows[0]["path"] == "UP5K (projected at target)" and "NOT a measured clock" in rows[0]["note"]
    assert rows[0]["seconds"] == pytest.approx(hw["up5k"]["total"] * 273 / 24e6)


def test_simulator_rows_say_why_when_cosim_bench_is_missing(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "cosim.bench", None)
    rows, figures = bench._sim_rows(AutoencoderConfig(), 273, 1, 1)
    assert figures is None
    assert [r["available"] for r in rows] == [False, False]
    assert all("cosim.bench not importable" in r["note"] for r in rows)


def test_bench_command_quick_writes_json_and_markdown(tmp_path, capsys):
    out = tmp_path / "bench"
    code = cli.main(["bench", "--quick", "--windows", "4", "--out", str(out),
                     "--synth-summary", str(tmp_path / "none.json")])
    assert code == 0
    data = json.loads((out / "bench.json").read_text())
    assert data["settings"]["repeats"] == 1 and data["settings"]["simulators"] is False
    assert (out / "bench.md").read_text().startswith("Workload: 4 windows")
    assert "| numpy float64 |" in capsys.readouterr().out


def test_bad_arguments_are_named(tmp_path, capsys):
    assert cli.main(["bench", "--windows", "0", "--out", str(tmp_path)]) == 1
    assert "--windows: must be a positive integer" in capsys.readouterr().err
    with pytest.raises(ValueError, match="--chiplet-mhz"):
        bench.run_bench(windows=2, chiplet_mhz=0, progress=False)


def test_simulator_rows_turn_cycles_per_second_into_workload_time(monkeypatch):
    import cosim.bench

    speeds = {"icarus_vpi_pinned": 10_000, "icarus_vpi_unpinned": 12_000, "verilator": 2_000_000}
    fake = {k: {"steady_cycles_per_s": v} for k, v in speeds.items()}
    fake["design"] = "engine_under_test"
    monkeypatch.setattr(cosim.bench, "bench", lambda cfg, windows, repeats: fake)
    rows, figures = bench._sim_rows(AutoencoderConfig(), 273, 1, 1)
    from cosim.configs import bench_config

    workload = bench.window_cycles(AutoencoderConfig(), bench_config().lanes)["total"] * 273
    assert [r["seconds"] for r in rows] == [pytest.approx(workload / 10_000), pytest.approx(workload / 2_000_000)]
    assert "unpinned: 12,000 cycles/s" in rows[0]["note"] and figures is fake


def test_bench_takes_weights_and_per_layer_formats_from_a_model_file(tmp_path):
    from golden.autoencoder import realistic_weights
    from golden.formats import DEFAULT_FORMATS, DenseFormats, LSTMFormats, ModelFormats, QFormat
    from lstm_chiplet.models.project import save_model

    small = AutoencoderConfig(3, (8,), (8,), 5)         # the chiplet projection runs 8 lanes
    wide = LSTMFormats(QFormat(16, 12, name="vec"), DEFAULT_FORMATS.weight, DEFAULT_FORMATS.preact,
                       DEFAULT_FORMATS.act)
    fm = ModelFormats((wide, DEFAULT_FORMATS), DenseFormats(DEFAULT_FORMATS.weight, QFormat(16, 13)))
    path = save_model(tmp_path / "m.npz", realistic_weights(small, seed=2), fmts=fm)
    r = bench.run_bench(windows=3, repeats=1, python_sample=1, spec_sample=1, simulators=False,
                        synth_summary=tmp_path / "none.json", progress=False, model=path)
    assert r["workload"]["topology"] == small.describe()
    assert ModelFormats.from_dict(r["workload"]["formats"], 2) == fm
    rows = {row["path"]: row for row in r["rows"]}
    assert rows["fxpmath specification"]["bit_exact_with_kernels"] is True
