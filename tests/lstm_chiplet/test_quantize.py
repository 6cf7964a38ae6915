"""``lstm-chiplet quantize`` end to end on a small model: the written model carries the
chosen formats, the stated error is what an independent run of the kernels gives, the
target holds, the plots are PNGs; a target out of reach fails without leaving files;
bad calibration data is refused by name; the cost is the hand-counted one."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from golden.autoencoder import AutoencoderConfig, FixedAutoencoder, realistic_weights, synthetic_windows
from golden.formats import DEFAULT_FORMATS, ModelFormats
from lstm_chiplet import cli
from lstm_chiplet import report as rp
from lstm_chiplet.models.project import load_model, save_model
from lstm_chiplet.quantize import REPORT_FILES, hardware_cost, parse_error

CFG = AutoencoderConfig(features=6, encoder_sizes=(8, 4), decoder_sizes=(4, 8), timesteps=24)
PNG = b"\x89PNG\r\n\x1a\n"
TARGET = 2.0 ** -7


def quantize(capsys, *argv):
    rc = cli.main(["quantize", "--quiet", *[str(a) for a in argv]])
    out, err = capsys.readouterr()
    return rc, out, err


def files(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def model():
    return realistic_weights(CFG, seed=11)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, model):
    folder = tmp_path_factory.mktemp("inputs")
    save_model(folder / "model.npz", model)
    x = synthetic_windows(48, CFG, seed=4)
    np.savez(folder / "windows.npz", sequences=x)
    return {"model": folder / "model.npz", "windows": folder / "windows.npz", "x": x}


@pytest.fixture(scope="module")
def result(tmp_path_factory, inputs):
    out = tmp_path_factory.mktemp("q") / "q.npz"
    rc = cli.main(["quantize", "--quiet", "--model", str(inputs["model"]), "--windows",
                   str(inputs["windows"]), "--max-error", "2^-7", "--screen", "24", "--out",
                   str(out)])
    return {"rc": rc, "out": out, "rep": json.loads((out.parent / "quantize.json").read_text())}


def test_model_written_with_the_chosen_formats(result, model):
    assert result["rc"] == 0
    lm = load_model(result["out"])
    rep = result["rep"]
    assert lm.model_formats == ModelFormats.from_dict(rep["formats"], CFG.num_layers)
    for a, b in zip(lm.model.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # shared mode: one width per role in every layer, binary points per layer
    for role in ("vec", "weight", "preact", "act"):
        assert len(lm.model_formats.word_bits(role)) == 1
    assert rep["chosen"]["words"] == {r: next(iter(lm.model_formats.word_bits(r)))
                                      for r in ("vec", "weight", "preact", "act")}
    assert rep["tool"] == "lstm-chiplet quantize" and rep["met"]
    assert lm.provenance["quantize"]["error"] == rep["error"]


def test_stated_error_is_an_independent_rerun_and_meets_the_target(result, inputs, model):
    lm = load_model(result["out"])
    x = inputs["x"]
    err = float(np.max(np.abs(lm.fixed().reconstruct(x) - model.reconstruct_float(x))))
    rep = result["rep"]
    assert rep["error"] == err
    assert rep["layer_errors"][-1]["y"] == err
    assert err <= TARGET == rep["target"]["max_error"]
    # cheaper than the widest formats, and the cost stated is the chosen formats' cost
    assert rep["chosen"]["cost"]["memory_bits"] < rep["start"]["cost"]["memory_bits"]
    assert rep["chosen"]["cost"] == hardware_cost(CFG, lm.model_formats)
    assert rep["data"]["windows"] == 48 and rep["data"]["screen"] == 24
    # the sound bound on the worst windows: those windows' errors, each covered
    per_window = np.abs(lm.fixed().reconstruct(x) - model.reconstruct_float(x)).reshape(48, -1).max(axis=1)
    tb = rep["trajectory_bound"]
    assert [b["window"] for b in tb] == list(np.argsort(-per_window, kind="stable")[:3])
    assert tb[0]["error"] == err
    assert all(b["error"] <= b["bound"] and b["within"] for b in tb)


def test_report_files_and_plots(result):
    folder = result["out"].parent
    assert files(folder) == sorted(REPORT_FILES + ("q.npz",))
    for name in REPORT_FILES:
        if name.endswith(".png"):
            assert (folder / name).read_bytes()[:8] == PNG, name
    rep = result["rep"]
    assert len(rep["candidates"]) >= 20
    assert {c["phase"] for c in rep["candidates"]} >= {"start", "descent", "sweep"}
    assert [s["word_bits"] for s in rep["sweep"]] == list(range(8, 17))
    md = (folder / "quantize.md").read_text()
    assert "Met." in md and "encoder LSTM 1" in md
    assert "Sound trajectory bound" in md


def test_unreachable_target_fails_and_leaves_nothing(tmp_path, capsys, inputs):
    out = tmp_path / "sub" / "q.npz"
    rc, _, err = quantize(capsys, "--model", inputs["model"], "--windows", inputs["windows"],
                          "--max-error", "1e-9", "--max-bits", "12", "--refine", "1", "--out", out)
    assert rc == 1
    assert "no configuration within 4..12 bits meets the target" in err
    assert "best found: vec 12, weight 12, preact 12, act 12" in err and "error " in err
    assert not out.exists()
    assert files(out.parent) == []


def test_report_on_failure_writes_the_report_but_no_model(tmp_path, capsys, inputs, model):
    out = tmp_path / "q.npz"
    earlier = inputs["model"].read_bytes()         # a model of an earlier run stays as it was
    out.write_bytes(earlier)
    rc, stdout, err = quantize(capsys, "--model", inputs["model"], "--windows", inputs["windows"],
                               "--max-error", "1e-9", "--max-bits", "12", "--refine", "1",
                               "--report-on-failure", "--out", out)
    assert rc == 0 and "no configuration" in err
    assert files(tmp_path) == sorted(REPORT_FILES + ("q.npz",))
    assert out.read_bytes() == earlier
    rep = json.loads((tmp_path / "quantize.json").read_text())
    assert rep["met"] is False and "q.npz" not in rep["outputs"]
    assert any("not a result of this run" in w for w in rep["warnings"])
    # the best configuration's error is real: rerun its formats
    best = ModelFormats.from_dict(rep["formats"], CFG.num_layers)
    x = inputs["x"]
    err_best = np.max(np.abs(FixedAutoencoder.from_float(model, best).reconstruct(x)
                             - model.reconstruct_float(x)))
    assert rep["error"] == float(err_best) > 1e-9


def test_same_anomalies_global(tmp_path, capsys, inputs, model):
    out = tmp_path / "q.npz"
    rc, _, err = quantize(capsys, "--model", inputs["model"], "--windows", inputs["windows"],
                          "--same-anomalies", "--global", "--max-bits", "12", "--out", out)
    assert rc == 0, err
    lm = load_model(out)
    assert lm.model_formats.is_global
    x = inputs["x"]
    fs = lm.fixed().scores(x)
    ff = model.scores_float(x)
    np.testing.assert_array_equal(rp.flagged(fs, rp.threshold(fs, 95.0)),
                                  rp.flagged(ff, rp.threshold(ff, 95.0)))


@pytest.mark.parametrize("case, match", [
    ("nan", r"windows\.npz: 'sequences' holds 1 NaN or infinite value"),
    ("shape", r"windows\.npz: windows of 5 features, the model expects 6"),
    ("few", r"calibration windows .*: 12 window\(s\), at least 20"),
])
def test_bad_calibration_data_is_named(tmp_path, capsys, inputs, case, match):
    x = inputs["x"].copy()
    if case == "nan":
        x[2, 3, 1] = np.nan
    elif case == "shape":
        x = x[:, :, :5]
    else:
        x = x[:12]
    path = tmp_path / "windows.npz"
    np.savez(path, sequences=x)
    out = tmp_path / "out" / "q.npz"
    rc, _, err = quantize(capsys, "--model", inputs["model"], "--windows", path, "--out", out)
    assert rc == 1
    assert re.search(match, err), err
    assert not out.parent.exists() or files(out.parent) == []


def test_refuses_to_overwrite_a_foreign_report(tmp_path, capsys, inputs):
    (tmp_path / "quantize.md").write_text("mine")
    rc, _, err = quantize(capsys, "--model", inputs["model"], "--windows", inputs["windows"],
                          "--out", tmp_path / "q.npz")
    assert rc == 1 and "not written by lstm-chiplet quantize" in err
    assert (tmp_path / "quantize.md").read_text() == "mine"
    assert files(tmp_path) == ["quantize.md"]


def test_cost_of_the_default_formats_by_hand():
    """Reference topology, every format 16 bits: 63,744 LSTM and 390 Dense parameters,
    h and c of 192 units, one 513-entry table of 19-bit entries (golden.activations)."""
    cost = hardware_cost(AutoencoderConfig(), ModelFormats.uniform(DEFAULT_FORMATS, 4))
    assert cost["weight_bits"] == 63_744 * 16
    assert cost["dense_bits"] == 390 * 16
    assert cost["state_bits"] == 192 * 32
    assert cost["table_bits"] == 513 * 19 and cost["tables"] == 1
    assert cost["memory_bits"] == 63_744 * 16 + 390 * 16 + 192 * 32 + 513 * 19
    assert cost["multiplier"] == "16 x 16"


def test_parse_error():
    assert parse_error("2^-10") == 2.0 ** -10 == parse_error("2**-10")
    assert parse_error("1e-3") == 1e-3
    for bad in ("0", "-1", "two", "nan"):
        with pytest.raises(ValueError, match="--max-error"):
            parse_error(bad)


def test_modes_share_what_the_hardware_shares(model, inputs):
    from golden.calibration import calibrate
    from lstm_chiplet.quantize import Point, Space
    cal = calibrate(model, inputs["x"])
    base = ModelFormats.uniform(DEFAULT_FORMATS, CFG.num_layers)
    shared = Space(cal, "shared", 0.125, base)
    f, _ = shared.formats(shared.start(14))
    assert all(f.word_bits(r) == {14} for r in ("vec", "weight", "preact", "act"))
    assert len({g.vec.frac_bits for g in f.layers}) > 1          # binary points per layer
    assert len({g.act for g in f.layers}) == 1                   # one table in the hardware
    from hdl.autoencoder_config import AutoencoderEngineConfig
    assert AutoencoderEngineConfig(CFG, 1, f).per_layer         # the hardware runs them
    assert all(len({g.act for g in shared.formats(q)[0].layers}) == 1
               for q in shared.offset_moves(shared.start(14)))
    per = Space(cal, "per-layer", 0.125, base)
    p = per.start(14)
    f, _ = per.formats(Point((13,) + p.words[1:], p.offsets))
    assert f.layers[0].vec.word_bits == 13 and f.layers[1].vec.word_bits == 14
    glob = Space(cal, "global", 0.125, base)
    f, _ = glob.formats(glob.start(14))
    assert f.is_global
    # global integer bits hold every layer's peak: the widest vec of the shared formats
    fs, _ = shared.formats(shared.start(14))
    assert f.layers[0].vec.int_bits == max([g.vec.int_bits for g in fs.layers]
                                           + [fs.dense.out.int_bits])
    # without fewer integer bits, no move goes below the calibrated ones
    strict = Space(cal, "shared", 0.125, base, fewer_int_bits=False)
    moves = list(strict.offset_moves(strict.start(14)))
    assert moves and all(min(q.offsets) >= 0 for q in moves)
    assert any(min(q.offsets) < 0 for q in shared.offset_moves(shared.start(14)))
    # the role-wide moves put every global configuration within the shared search's reach
    n = len(shared.offset_groups)
    assert Point(shared.start(14).words, (0,) * n) in list(shared.offset_moves(
        Point(shared.start(14).words, tuple(1 if g[0][1] == "preact" else 0
                                            for g in shared.offset_groups))))


def test_metric_csv_is_converted_into_the_model_scalers_units():
    """A metric (LCD version 2) file calibrates the shipped US-unit model in its scaler's
    units: its scaled values stay in the fitted range (unconverted, most would not)."""
    import argparse

    from lstm_chiplet import detect
    from lstm_chiplet.quantize import calibration_data

    v2 = Path(__file__).resolve().parents[1] / "fixtures" / "lcd_v2_small.csv"
    lm = detect.load_model(None)
    args = argparse.Namespace(windows=None, csv=str(v2), format="auto", features=None, stride=1)
    data = calibration_data(args, lm, lambda text: None)
    x = data["x"]
    assert x.shape[1:] == (lm.model.cfg.timesteps, lm.model.cfg.features)
    outside = np.mean((x < 0) | (x > 1))
    assert outside < 0.01, outside
    assert any("converted from degC into the scaler's degF" in w for w in data["warnings"])
