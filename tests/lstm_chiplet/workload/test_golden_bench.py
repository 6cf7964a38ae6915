"""bench-golden: the figures are there, recomputed independently, and within the bound."""

import json

import numpy as np
import pytest

from golden.autoencoder import AutoencoderConfig, realistic_weights, synthetic_windows
from lstm_chiplet.cli import main
from lstm_chiplet.workload import golden_bench

SEED = 3
WINDOWS = 16


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    code = main(["bench-golden", "--quick", "--windows", str(WINDOWS), "--seed", str(SEED),
                 "--out", str(out)])
    return code, out, json.loads((out / "bench-golden.json").read_text())


def test_cli_quick_run_writes_json_and_png(quick_run, capsys):
    code, out, r = quick_run
    assert code == 0
    png = (out / "bench-golden.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    for section, keys in {
        "accuracy": ("reconstruction_max_abs_error", "target", "target_met", "per_layer",
                     "single_layer_6_32", "anomaly_flags"),
        "bound": ("static", "trajectory"),
        "timing": ("fixed_s", "float_s", "pure_python_s", "pure_python_scaled",
                   "speedup_fixed_vs_pure_python", "per_step_us"),
    }.items():
        assert set(keys) <= set(r[section]), section
    assert r["model"]["parameters"] == 64134
    assert r["accuracy"]["target"] == 2.0 ** -9
    assert r["settings"]["quick"] and r["timing"]["repeats"] == 1


def test_accuracy_figures_match_an_independent_run(quick_run):
    _, _, r = quick_run
    ae = realistic_weights(AutoencoderConfig(), SEED)
    x = synthetic_windows(WINDOWS, ae.cfg, SEED)
    err = np.abs(ae.quantize().reconstruct(x) - ae.reconstruct_float(x))
    assert r["accuracy"]["reconstruction_max_abs_error"] == pytest.approx(err.max(), rel=1e-12)
    assert r["accuracy"]["target_met"] == bool(err.max() <= 2.0 ** -9)
    # fixed vs float stays within the derived bound, element by element
    tb = r["bound"]["trajectory"]
    assert tb["holds"]
    for p in tb["per_window"]:
        bound = np.array(p["bound"])
        assert bound.shape == err[p["window"]].shape
        assert np.all(err[p["window"]] <= bound)
        assert p["tightness"] == pytest.approx(bound.max() / err[p["window"]].max())


def test_timing_figures_are_consistent(quick_run):
    _, _, r = quick_run
    t = r["timing"]
    assert t["fixed_s"] > 0 and t["float_s"] > 0 and t["pure_python_s"] > 0
    assert t["pure_python_scaled"] and t["pure_python_windows_timed"] == 2
    assert t["pure_python_s"] == pytest.approx(t["pure_python_sample_s"] * WINDOWS / 2)
    assert t["speedup_fixed_vs_pure_python"] == pytest.approx(t["pure_python_s"] / t["fixed_s"])
    assert t["lstm_steps"] == WINDOWS * 24 * 4
    assert t["pure_python_vs_float_max_abs_diff"] < 1e-9


def test_report_prints_the_figures(quick_run):
    _, _, r = quick_run
    text = golden_bench.format_report(r)
    for words in ("max |reconstruction error|", "hls4ml", "tightness", "pure Python",
                  f"{r['accuracy']['reconstruction_max_abs_error']:.3e}"):
        assert words in text


def test_format_attribution_lists_every_format():
    ae = realistic_weights(AutoencoderConfig(), 1)
    x = synthetic_windows(4, ae.cfg, 1)
    acc, err, _ = golden_bench._accuracy(ae, ae.quantize(), x, 1, attribution=True)
    rows = acc["format_attribution"]
    assert [row["format"] for row in rows] == ["vec", "weight", "preact", "act"]
    assert rows[2]["widened_to"] == "fxp-s20/15"
    assert acc["reconstruction_max_abs_error"] == pytest.approx(err.max())


def test_bad_arguments_are_refused(capsys):
    assert main(["bench-golden", "--windows", "0", "--quick"]) == 1
    assert "--windows" in capsys.readouterr().err
