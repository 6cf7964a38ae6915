"""Training: gradients against central differences, reproducibility, the weight limit,
the progress bar, the command, and the shipped model's separation of the injected anomalies."""

import io
from pathlib import Path

import numpy as np
import pytest

from golden.autoencoder import Autoencoder, AutoencoderConfig, synthetic_windows
from golden.formats import DEFAULT_FORMATS, LSTMFormats, QFormat
from golden.lstm_float import ShapeError
from lstm_chiplet.cli import main as cli_main
from lstm_chiplet.models.project import load_model
from lstm_chiplet.workload.noaa import LCD_FEATURES, load_windows
from lstm_chiplet.workload.synthetic import normal_windows, separation, write_default_dataset
from lstm_chiplet.workload.training import (ProgressBar, TrainingConfig, init_autoencoder,
                                            loss_and_gradients, model_scores, split_validation, train)

REPO = Path(__file__).resolve().parents[3]
DEFAULT_MODEL = REPO / "lstm_chiplet" / "data" / "default_model.npz"

TINY = AutoencoderConfig(2, (3, 2), (2, 3), 4)
# one encoder layer, two decoder layers of different sizes: the latent path is generic
LOPSIDED = AutoencoderConfig(3, (4,), (2, 3), 5)


def _perturbed_params(cfg, seed):
    """Weights away from the initialisation (non-zero biases, larger values)."""
    rng = np.random.default_rng(seed)
    return [p + 0.4 * rng.standard_normal(p.shape)
            for p in init_autoencoder(cfg, seed, output_bias=np.full(cfg.features, 0.5)).get_weights()]


@pytest.mark.parametrize("cfg", [TINY, LOPSIDED], ids=["2-3-2|2-3", "3-4|2-3"])
def test_gradients_match_central_differences(cfg):
    params = _perturbed_params(cfg, 1)
    x = np.random.default_rng(2).uniform(0.0, 1.0, (3, cfg.timesteps, cfg.features))
    _, grads, _ = loss_and_gradients(params, cfg, x)
    eps = 1e-5
    for k, (p, g, name) in enumerate(zip(params, grads, cfg.weight_names())):
        numeric = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + eps
            up = loss_and_gradients(params, cfg, x, with_gradients=False)[0]
            p[idx] = old - eps
            down = loss_and_gradients(params, cfg, x, with_gradients=False)[0]
            p[idx] = old
            numeric[idx] = (up - down) / (2 * eps)
        rel = np.linalg.norm(g - numeric) / max(np.linalg.norm(g), np.linalg.norm(numeric))
        assert rel < 1e-6, f"arr_{k} ({name}): relative gradient error {rel:.3g}"
        assert np.linalg.norm(numeric) > 0, f"arr_{k} ({name}): gradient is zero, the check is void"


def test_a_wrong_gradient_is_caught():
    # the check above can fail: a gradient computed without the forget-gate path through
    # the cell state differs from the central differences by far more than 1e-6
    params = _perturbed_params(TINY, 3)
    x = np.random.default_rng(4).uniform(0.0, 1.0, (2, 4, 2))
    _, grads, _ = loss_and_gradients(params, TINY, x)
    k = 1                                              # first recurrent kernel
    p = params[k]
    idx = (0, 0)
    eps = 1e-5
    old = p[idx]
    p[idx] = old + eps
    up = loss_and_gradients(params, TINY, x, with_gradients=False)[0]
    p[idx] = old - eps
    down = loss_and_gradients(params, TINY, x, with_gradients=False)[0]
    p[idx] = old
    numeric = (up - down) / (2 * eps)
    assert abs(grads[k][idx] - numeric) < 1e-8
    assert abs(1.1 * grads[k][idx] - numeric) > 1e-6 * abs(numeric)


def test_forward_equals_the_float_reference():
    cfg = LOPSIDED
    params = _perturbed_params(cfg, 5)
    x = np.random.default_rng(6).uniform(0.0, 1.0, (4, cfg.timesteps, cfg.features))
    loss, _, recon = loss_and_gradients(params, cfg, x, with_gradients=False)
    ref = Autoencoder.from_weights(params, cfg).reconstruct_float(x)
    np.testing.assert_allclose(recon, ref, rtol=0, atol=1e-12)
    assert loss == pytest.approx(np.mean((ref - x) ** 2), rel=1e-12)


def _tiny_run(seed, epochs=20):
    cfg = AutoencoderConfig(3, (6, 4), (4, 6), 8)
    x = synthetic_windows(40, cfg, seed=11)
    config = TrainingConfig(epochs=epochs, batch_size=8, learning_rate=1e-2,
                            final_learning_rate=1e-3, validation_fraction=0.2, seed=seed)
    return train(x, cfg, config, progress=None)


def test_training_reduces_the_loss_and_is_reproducible():
    a = _tiny_run(seed=3)
    b = _tiny_run(seed=3)
    c = _tiny_run(seed=4)
    h = a.history
    assert len(h.loss) == 20 and h.loss[-1] < 0.5 * h.loss[0]
    assert h.val_loss[-1] < h.val_loss[0]
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert a.history.loss == b.history.loss
    assert any(not np.array_equal(wa, wc) for wa, wc in zip(a.model.get_weights(), c.model.get_weights()))
    # 40 windows, 20 % held out and the 7 overlapping ones before them dropped
    assert (a.train_windows, a.val_windows) == (25, 8)


def test_restore_best_returns_the_best_validation_epoch():
    res = _tiny_run(seed=3)
    h = res.history
    best = int(np.argmin(h.val_loss))
    assert h.best_epoch == best + 1
    from lstm_chiplet.workload.training import evaluate_loss
    x = synthetic_windows(40, res.model.cfg, seed=11)
    _, val_idx = split_validation(40, 0.2, 8)
    assert evaluate_loss(res.model.get_weights(), res.model.cfg, x[val_idx]) == pytest.approx(
        h.val_loss[best], rel=1e-12)


def test_weights_stay_inside_the_weight_format():
    # a narrow weight format (range [-1, 1)) and a large step: the L-inf limit must act
    narrow = QFormat(16, 15, name="weight")
    fmts = LSTMFormats(DEFAULT_FORMATS.vec, narrow, DEFAULT_FORMATS.preact, DEFAULT_FORMATS.act)
    cfg = AutoencoderConfig(3, (6,), (6,), 8)
    x = synthetic_windows(30, cfg, seed=2)
    res = train(x, cfg, TrainingConfig(epochs=4, batch_size=6, learning_rate=0.2,
                                       final_learning_rate=0.1, validation_fraction=0, seed=1),
                fmts, progress=None)
    peak = max(float(np.max(np.abs(w))) for w in res.model.get_weights())
    assert peak <= narrow.max
    assert res.history.clipped_weights > 0
    res.model.quantize(fmts)                                     # fits: no FormatError


def test_split_validation_never_overlaps():
    tr, val = split_validation(100, 0.1, 24)
    assert list(val) == list(range(90, 100))
    assert tr[-1] + 24 <= val[0]                                 # last train window ends before
    assert len(tr) == 100 - 10 - 23
    tr0, val0 = split_validation(50, 0.0, 24)
    assert len(tr0) == 50 and len(val0) == 0
    with pytest.raises(ShapeError, match="too few"):
        split_validation(30, 0.5, 24)


def test_learning_rate_schedule_and_config_checks():
    c = TrainingConfig(epochs=11, learning_rate=1e-2, final_learning_rate=1e-3)
    assert c.learning_rate_at(0) == pytest.approx(1e-2)
    assert c.learning_rate_at(10) == pytest.approx(1e-3)
    assert c.learning_rate_at(5) == pytest.approx(5.5e-3)
    for bad in ({"epochs": 0}, {"batch_size": 0}, {"learning_rate": -1.0},
                {"validation_fraction": 1.0}, {"clip_norm": 0.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            TrainingConfig(**bad)


def test_bad_training_windows_are_named():
    cfg = AutoencoderConfig(3, (4,), (4,), 8)
    with pytest.raises(ShapeError, match=r"expected shape \(N, 8, 3\)"):
        train(np.zeros((10, 8, 4)), cfg, TrainingConfig(epochs=1), progress=None)
    x = synthetic_windows(10, cfg)
    x[2, 3, 1] = np.nan
    with pytest.raises(ShapeError, match="NaN"):
        train(x, cfg, TrainingConfig(epochs=1, validation_fraction=0), progress=None)


def test_progress_bar_lines():
    out = io.StringIO()
    bar = ProgressBar(epochs=3, batches=4, stream=out, interval=0.0)
    for e in range(3):
        for b in range(4):
            bar.batch(e, b, 0.5)
        bar.epoch(e, 0.25 / (e + 1), 0.3)
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3                                       # not a terminal: one line per epoch
    assert lines[0].startswith("epoch 1/3 [########")
    assert lines[-1].startswith("epoch 3/3 [########################]")
    assert "loss 0.08333" in lines[-1] and "val 0.30000" in lines[-1] and "ETA 00:00" in lines[-1]

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    tty = Terminal()
    bar = ProgressBar(epochs=2, batches=2, stream=tty)
    bar.batch(0, 0, 0.7)
    bar.batch(0, 1, 0.6)
    bar.epoch(0, 0.65, None)
    bar.close()
    redraws = tty.getvalue().split("\r")[1:]
    assert len(redraws) == 3                                     # redrawn in place, per batch
    assert redraws[0].startswith("epoch 1/2 [######..................] loss 0.70000")
    assert redraws[-1].startswith("epoch 1/2 [############............] loss 0.65000")
    assert tty.getvalue().endswith("\n")


def test_train_command_on_a_csv(build_dir, capsys):
    out = build_dir / "training" / "csv_model.npz"
    fixture = REPO / "tests" / "fixtures" / "lcd_small.csv"
    rc = cli_main(["train", "--csv", str(fixture), "--epochs", "2", "--encoder", "5",
                   "--decoder", "5", "--validation-fraction", "0", "--quiet", "--out", str(out)])
    assert rc == 0
    m = load_model(out)
    assert m.cfg == AutoencoderConfig(6, (5,), (5,), 24)
    assert m.scaler.features == LCD_FEATURES and m.data_format == "lcd"
    # the scaler was fitted on the file's windows
    win = load_windows(fixture)
    np.testing.assert_array_equal(m.scaler.data_min, win.sequences.reshape(-1, 6).min(axis=0))
    assert m.provenance["data"]["file"] == "lcd_small.csv"
    assert m.provenance["history"]["epochs"] == 2
    assert "wrote" in capsys.readouterr().out


def test_train_command_on_the_default_data(build_dir, capsys):
    out = build_dir / "training" / "default_data_model.npz"
    rc = cli_main(["train", "--epochs", "1", "--encoder", "4", "--decoder", "4", "--extra-seasons", "0",
                   "--quiet", "--out", str(out), "--data-dir", str(build_dir / "training" / "data")])
    assert rc == 0
    m = load_model(out)
    ev = m.provenance["evaluation"]
    assert ev["windows"] > 2000 and len(ev["events"]) == 6
    # trained on the anomaly-free period only: windows whose last hour is before normal_end
    synth_csv = build_dir / "training" / "data" / "lcd_hourly_synthetic.csv"
    win = load_windows(synth_csv)
    meta = m.provenance["data"]["files"][-1]
    last_hours = win.times[:, -1].astype("datetime64[h]")
    expect = int(np.sum(last_hours < np.datetime64(meta["period"][1], "h")))
    assert m.provenance["data"]["windows"] == meta["windows"] == expect < ev["windows"]
    np.testing.assert_array_equal(
        m.scaler.data_min, win.sequences[:expect].reshape(-1, 6).min(axis=0))
    text = capsys.readouterr().out
    assert "events detected" in text and "AUC" in text


def test_train_command_errors_are_reported(capsys):
    assert cli_main(["train", "--encoder", "64,x", "--quiet"]) == 1
    assert "--encoder" in capsys.readouterr().err


SMALL_CSV = ["train", "--csv", str(REPO / "tests" / "fixtures" / "lcd_small.csv"), "--quiet",
             "--validation-fraction", "0"]        # 13 windows: too few to hold any out
SMALL_RUN = SMALL_CSV + ["--epochs", "2", "--encoder", "5", "--decoder", "5"]


def test_train_checks_its_output_before_any_work(tmp_path, capsys):
    folder = tmp_path / "models"
    folder.mkdir()
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    for out, message in ((folder, "is a folder; give the model file's name"),
                         (blocker / "m.npz", f"cannot be written: {blocker} is a file")):
        assert cli_main(SMALL_RUN + ["--out", str(out)]) == 1
        err = capsys.readouterr().err
        assert message in err and "Errno" not in err
        assert "training" not in err.split("error:", 1)[0]     # refused before training
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "models"]
    assert list(folder.iterdir()) == []


def test_a_diverged_run_is_not_saved_without_force(tmp_path, capsys):
    out = tmp_path / "m.npz"
    assert cli_main(SMALL_RUN + ["--learning-rate", "1e6", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "training diverged" in err and "pinned at the weight format's limit" in err
    assert "was not written" in err and not out.exists()
    assert list(tmp_path.iterdir()) == []
    assert cli_main(SMALL_RUN + ["--learning-rate", "1e6", "--force", "--out", str(out)]) == 0
    cap = capsys.readouterr()
    assert "warning: training diverged" in cap.err and "without overflow" not in cap.out
    reasons = load_model(out).provenance["divergence"]
    assert any("pinned" in r for r in reasons)


def test_a_sound_run_reports_no_divergence(tmp_path, capsys):
    out = tmp_path / "m.npz"
    assert cli_main(SMALL_RUN + ["--out", str(out)]) == 0
    assert load_model(out).provenance["divergence"] == []
    assert "warning" not in capsys.readouterr().err


def test_many_parameters_on_few_windows_without_validation_warn(tmp_path, capsys):
    out = tmp_path / "m.npz"
    assert cli_main(SMALL_CSV + ["--epochs", "1", "--encoder", "64,32", "--decoder", "32,64",
                                 "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "without validation" in err


def test_shipped_model_separates_the_injected_anomalies(build_dir):
    """The shipped model on the default data: every injected event scores above the
    95th percentile of the anomaly-free windows, and most flagged windows are anomalies."""
    assert DEFAULT_MODEL.is_file(), f"{DEFAULT_MODEL}: the shipped model is missing (it is tracked in git)"
    synth = write_default_dataset(build_dir / "training" / "default")
    win = load_windows(synth.csv_path)
    m = load_model(DEFAULT_MODEL)
    m.check_features(win.features)
    scores = model_scores(m.model, m.scaler.transform(win.sequences))
    rep = separation(scores, win.times, synth.anomalies)
    assert rep["auc"] > 0.9                                   # shipped: 0.943
    for e in rep["events"]:
        assert e["above_normal_threshold"] >= e["windows"] // 2, e
        assert e["max_score"] > rep["normal_threshold"], e
    assert rep["flagged_anomalous"] >= 0.8 * rep["flagged"]
    # windows of the training period score low
    normal = normal_windows(win.times, synth.normal_end)
    assert np.percentile(scores[normal], 95) < rep["threshold"]
