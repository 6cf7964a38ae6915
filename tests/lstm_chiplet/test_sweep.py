"""``lstm-chiplet sweep``: points cached by model and parameters (a rerun computes only
new points), the table and the Pareto front; one real point through cosim and yosys
(slow: minutes of synthesis, tox -e regress)."""

import csv
import json

import pytest

from golden.autoencoder import AutoencoderConfig, realistic_weights
from lstm_chiplet import cli
from lstm_chiplet.models.project import save_model
from lstm_chiplet.scale import sweep

CFG = AutoencoderConfig(features=6, encoder_sizes=(8, 4), decoder_sizes=(4, 8), timesteps=24)


@pytest.fixture()
def small_model(tmp_path):
    path = tmp_path / "small.npz"
    save_model(path, realistic_weights(CFG, seed=5))
    return path


def test_points_are_cached_and_only_new_ones_run(small_model, tmp_path, capsys, monkeypatch):
    ran = []

    def fake_point(point, model, workdir):
        ran.append((point.lanes, point.seed))
        # cells grow with lanes, time falls: every point on the front but P=3 (dominated)
        cells = {1: 1000, 2: 1500, 3: 2600, 4: 2500}[point.lanes]
        return {"lanes": point.lanes, "seed": point.seed, "logic_cells": cells,
                "us_per_window_200mhz": 100.0 / point.lanes, "us_per_window_up5k": None}

    monkeypatch.setattr(sweep, "run_point", fake_point)
    base = ["sweep", "--quiet", "--model", str(small_model), "--workers", "1", "--out",
            str(tmp_path / "s")]
    assert cli.main(base + ["--lanes", "1,2", "--seeds", "1,2"]) == 0
    assert sorted(ran) == [(1, 1), (1, 2), (2, 1), (2, 2)]
    ran.clear()
    assert cli.main(base + ["--lanes", "1,2,3,4", "--seeds", "1"]) == 0
    assert sorted(ran) == [(3, 1), (4, 1)]                   # 1 and 2 at seed 1: cached
    res = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert [p["cached"] for p in res["points"]] == [True, True, False, False]
    assert res["pareto_lanes_200mhz"] == [1, 2, 4]
    rows = list(csv.DictReader((tmp_path / "s" / "sweep.csv").read_text().splitlines()))
    assert [r["lanes"] for r in rows] == ["1", "2", "3", "4"]
    assert (tmp_path / "s" / "pareto.png").stat().st_size > 1000
    ran.clear()
    small_model.write_bytes(small_model.read_bytes() + b"\0")  # another model file: all anew
    assert cli.main(base + ["--lanes", "1", "--seeds", "1"]) == 0
    assert ran == [(1, 1)]
    capsys.readouterr()


def test_models_are_the_formats_axis_and_targets_a_list(small_model, tmp_path, capsys, monkeypatch):
    from golden.calibration import calibrate, calibrated_formats
    from golden.autoencoder import synthetic_windows
    from lstm_chiplet.quantize import hardware_cost
    ran = []

    def fake_point(point, model, workdir):
        ran.append((point.model, point.lanes, point.target_mhz))
        from lstm_chiplet.detect import load_model
        fixed = load_model(model).fixed()
        return {**sweep.formats_summary(fixed), "lanes": point.lanes, "seed": point.seed,
                "target_mhz": point.target_mhz, "logic_cells": 1000 * point.lanes,
                "us_per_window_200mhz": 100.0 / point.lanes, "us_per_window_up5k": None}

    monkeypatch.setattr(sweep, "run_point", fake_point)
    # a second model file: the same weights with 12-bit calibrated formats
    m = realistic_weights(CFG, seed=5)
    narrow = calibrated_formats(calibrate(m, synthetic_windows(64, CFG, seed=1)), 12)
    other = tmp_path / "q12" / "small.npz"                    # same file name, other folder
    save_model(other, m, fmts=narrow)
    out = tmp_path / "s"
    argv = ["sweep", "--quiet", "--workers", "1", "--out", str(out), "--lanes", "1,2", "--seeds", "1",
            "--target-mhz", "24,30", "--model", str(small_model), str(other)]
    assert cli.main(argv) == 0
    assert len(ran) == 2 * 2 * 2 and {r[2] for r in ran} == {24.0, 30.0}
    res = json.loads((out / "sweep.json").read_text())
    names = {p["model"] for p in res["points"]}
    assert len(names) == 2 and f"q12/{other.name}" in names
    by_model = {p["model"]: p for p in res["points"]}
    assert by_model[f"q12/{other.name}"]["formats"] == "12/12/12/12"
    assert by_model[f"q12/{other.name}"]["memory_bits"] == hardware_cost(CFG, narrow)["memory_bits"]
    assert by_model[f"q12/{other.name}"]["memory_bits"] < by_model[next(iter(names - {f"q12/{other.name}"}))]["memory_bits"]
    assert all(set(f) == {"model", "lanes", "seed", "target_mhz"} for f in res["pareto_200mhz"])
    ran.clear()
    assert cli.main(argv) == 0 and ran == []                   # every point cached
    # bad axes are refused before any work, by name
    for bad, msg in ((["--target-mhz", "24,fast"], "'fast' is not a clock"),
                     (["--target-mhz", "0"], "must be positive"),
                     (["--model", str(tmp_path / "none.npz")], "no such model file")):
        assert cli.main(argv[:-3] + bad if bad[0] == "--model" else argv[:8] + bad
                        + ["--model", str(small_model)]) == 1
        assert msg in capsys.readouterr().err
    assert cli.main(argv[:-3] + ["--model", str(small_model), str(small_model)]) == 1
    assert "given twice" in capsys.readouterr().err
    assert ran == []


@pytest.mark.slow
@pytest.mark.hdl
@pytest.mark.cosim
@pytest.mark.timeout(1800)
def test_a_real_point_checks_cosim_and_synthesizes(small_model, tmp_path):
    from cosim.tools import need_tools
    need_tools("verilator", "yosys")
    pt = sweep.SweepPoint(lanes=2, seed=1, target_mhz=24.0, place=False, cosim_windows=2)
    row = sweep.run_point(pt, str(small_model), str(tmp_path / "w"))
    assert row["cosim_bit_exact"] is True
    assert row["cosim_cycles_per_window"] == row["cycles_per_window"] > 0
    assert row["logic_cells"] > 0 and row["fmax_mhz"] is None and not row["logic_cells_placed"]
    assert row["us_per_window_200mhz"] == pytest.approx(row["cycles_per_window"] / 200.0)
