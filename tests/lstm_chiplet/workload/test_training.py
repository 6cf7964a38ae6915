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
from golden.calibration import fitted_format, layer_tensors
from lstm_chiplet.workload.training import (QUANT_AWARE_PREACT, ProgressBar, TrainingConfig,
                                            init_autoencoder, loss_and_gradients, model_scores,
                                            range_limits_for, split_validation, train)

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


# limits low enough that the perturbed weights' z and c cross them in every layer
PENALISED = TrainingConfig(range_limits=(0.6, 0.3), range_weight=0.5, weight_decay=0.01)


@pytest.mark.parametrize("config", [None, PENALISED], ids=["mse", "quant-aware"])
@pytest.mark.parametrize("cfg", [TINY, LOPSIDED], ids=["2-3-2|2-3", "3-4|2-3"])
def test_gradients_match_central_differences(cfg, config):
    params = _perturbed_params(cfg, 1)
    x = np.random.default_rng(2).uniform(0.0, 1.0, (3, cfg.timesteps, cfg.features))
    parts = {}
    _, grads, _ = loss_and_gradients(params, cfg, x, config=config, parts=parts)
    if config is not None:          # both terms are active, so their gradients are checked
        assert parts["range"] > 0 and parts["decay"] > 0
    eps = 1e-5
    for k, (p, g, name) in enumerate(zip(params, grads, cfg.weight_names())):
        numeric = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + eps
            up = loss_and_gradients(params, cfg, x, with_gradients=False, config=config)[0]
            p[idx] = old - eps
            down = loss_and_gradients(params, cfg, x, with_gradients=False, config=config)[0]
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


def test_the_penalty_terms_are_what_the_docs_say():
    # one layer, one step, one unit: every term is a number one can work out by hand
    cfg = AutoencoderConfig(1, (1,), (1,), 1)
    params = [np.array([[2.0, 0.0, 0.0, 0.0]]), np.zeros((1, 4)), np.zeros(4),     # z_i = 2 x
              np.zeros((1, 4)), np.zeros((1, 4)), np.zeros(4), np.array([[3.0]]), np.zeros(1)]
    x = np.full((1, 1, 1), 1.0)
    parts = {}
    config = TrainingConfig(range_limits=(1.5, 1.0), range_weight=2.0, weight_decay=0.1)
    loss_and_gradients(params, cfg, x, with_gradients=False, config=config, parts=parts)
    # z_i = 2 is 0.5 beyond the gate limit: 2 * 0.5^2; every other z and c is 0
    assert parts["range"] == pytest.approx(0.5)
    # kernels 2 and 3 (the recurrent and decoder kernels are zero): 0.1 / 2 * (4 + 9)
    assert parts["decay"] == pytest.approx(0.65)
    assert parts["reconstruction"] == pytest.approx(1.0)          # y = 0 against x = 1


def _peaks(model, x):
    """Largest |z| of the sigmoid gates and of the tanh inputs (z_g, c), over every layer."""
    gate = tanh_in = 0.0
    seq = x
    for k, w in enumerate(model.layers):
        if k == len(model.cfg.encoder_sizes):
            seq = np.repeat(seq[:, -1:, :], model.cfg.timesteps, axis=1)
        seq, cseq, d = layer_tensors(seq, w)
        gate = max(gate, *(float(np.max(np.abs(d[t]))) for t in ("z_i", "z_f", "z_o")))
        tanh_in = max(tanh_in, float(np.max(np.abs(d["z_g"]))), float(np.max(np.abs(cseq))))
    return gate, tanh_in


def test_the_range_penalty_holds_the_ranges():
    cfg = AutoencoderConfig(3, (6, 4), (4, 6), 8)
    x = synthetic_windows(40, cfg, seed=11)
    base = dict(epochs=20, batch_size=8, learning_rate=1e-2, final_learning_rate=1e-3,
                validation_fraction=0.2, seed=3)
    free = train(x, cfg, TrainingConfig(**base), progress=None)
    g0, t0 = _peaks(free.model, x)
    limits = (0.5 * g0, 0.5 * t0)                    # half of what the free run reaches
    held = train(x, cfg, TrainingConfig(**base, range_limits=limits, range_weight=5.0), progress=None)
    g1, t1 = _peaks(held.model, x)
    assert g1 < 0.6 * g0 and t1 < 0.6 * t0, (g0, t0, g1, t1)
    assert held.history.penalty[-1] < held.history.penalty[0]
    assert all(p == 0 for p in free.history.penalty)
    # validation reports the MSE and the whole objective apart
    best = held.history.best_epoch - 1
    assert held.history.val_objective[best] > held.history.val_loss[best]


def test_quant_aware_limits_give_the_preact_format():
    # a model whose z and c peak at the limits calibrates to the aimed pre-activation
    # format; 8 % beyond them (past the margin) it does not
    gate, tanh_in = range_limits_for(QUANT_AWARE_PREACT)
    assert fitted_format(gate, 16, "preact").fmt.frac_bits == QUANT_AWARE_PREACT.frac_bits
    assert fitted_format(2 * tanh_in, 16, "preact").fmt.frac_bits == QUANT_AWARE_PREACT.frac_bits
    assert fitted_format(1.08 * gate, 16, "preact").fmt.frac_bits < QUANT_AWARE_PREACT.frac_bits


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


def test_train_command_fine_tunes_quant_aware(build_dir, capsys):
    first = build_dir / "training" / "qa_first.npz"
    tuned = build_dir / "training" / "qa_tuned.npz"
    assert cli_main(SMALL_RUN + ["--out", str(first)]) == 0
    rc = cli_main(SMALL_CSV + ["--epochs", "2", "--init", str(first), "--quant-aware", "--out", str(tuned)])
    assert rc == 0
    a, b = load_model(first), load_model(tuned)
    assert b.cfg == a.cfg
    np.testing.assert_array_equal(b.scaler.data_min, a.scaler.data_min)     # the model's own scaler
    tr = b.provenance["training"]
    assert tr["init"] == str(first) and tr["range_limits"] == list(range_limits_for(QUANT_AWARE_PREACT))
    assert tr["weight_decay"] > 0 and "quantization-aware" in tr["loss"]
    import hashlib
    assert b.provenance["data"]["init"]["sha256"] == hashlib.sha256(first.read_bytes()).hexdigest()
    assert any(not np.array_equal(p, q) for p, q in zip(a.model.get_weights(), b.model.get_weights()))
    err = capsys.readouterr().err
    assert "quantization-aware: range penalty" in err and "from " in err
    # sizes and --init together are refused, naming both
    assert cli_main(SMALL_CSV + ["--init", str(first), "--encoder", "4", "--out", str(tuned)]) == 1
    assert "--init" in capsys.readouterr().err
    assert cli_main(SMALL_CSV + ["--init", str(build_dir / "nope.npz"), "--out", str(tuned)]) == 1
    assert "no such model file" in capsys.readouterr().err


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
