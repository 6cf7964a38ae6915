"""The main job ``lstm-chiplet detect``: outputs checked against an independent run of
the golden models, the report's figures, real NOAA samples, and bad input that must
leave no partial output behind."""

import csv
import hashlib
import importlib.util
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from golden.autoencoder import AutoencoderConfig, realistic_weights, synthetic_windows, window_scores
from lstm_chiplet import cli, detect
from lstm_chiplet import report as rp
from lstm_chiplet.models.keras import save_keras_npz
from lstm_chiplet.models.project import load_model as load_model_file, save_model
from lstm_chiplet.models.pytorch import save_pytorch_npz
from lstm_chiplet.workload import synthetic
from lstm_chiplet.workload.noaa import LCD_FEATURES, MinMaxScaler, load_windows

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CFG = AutoencoderConfig(features=6, encoder_sizes=(8, 4), decoder_sizes=(4, 8), timesteps=24)
#: A short generated data set, laid out like the default (synthetic.default_plan).
DAYS = 14


def run_detect(capsys, *argv):
    rc = cli.main(["detect", "--quiet", *[str(a) for a in argv]])
    out, err = capsys.readouterr()
    return rc, out, err


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def tree(folder: Path) -> dict:
    """Every file under ``folder`` with its bytes (to prove nothing changed)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(parent: Path) -> list:
    return [p.name for p in parent.iterdir() if ".partial-" in p.name or ".previous-" in p.name]


@pytest.fixture(scope="module")
def model():
    return realistic_weights(CFG, seed=21)


@pytest.fixture(scope="module")
def synth_csv(tmp_path_factory):
    """The generated data exactly as detect makes it for --days 10."""
    folder = tmp_path_factory.mktemp("synth")
    normal_days, anomalies = synthetic.default_plan(DAYS)
    return synthetic.generate_lcd(folder / synthetic.DEFAULT_FILENAME, days=DAYS,
                                   normal_days=normal_days, anomalies=anomalies)


@pytest.fixture(scope="module")
def project_model(tmp_path_factory, model, synth_csv):
    """A small project model whose scaler was fitted on the generated data's normal days."""
    win = load_windows(synth_csv.csv_path)
    normal = synthetic.normal_windows(win.times, synth_csv.normal_end)
    scaler = MinMaxScaler.fit(win.sequences[normal], win.features)
    path = tmp_path_factory.mktemp("model") / "small_model.npz"
    save_model(path, model, scaler, data_format="lcd")
    return path, scaler


@pytest.fixture(scope="module")
def default_run(tmp_path_factory, project_model):
    """One run on the generated default data (the previous output of later tests)."""
    out = tmp_path_factory.mktemp("default") / "detect"
    rc = cli.main(["detect", "--quiet", "--model", str(project_model[0]), "--days", str(DAYS),
                   "--out", str(out)])
    assert rc == 0
    return out


# --------------------------------------------------------------------------
# The default run, checked against the golden models run independently
# --------------------------------------------------------------------------

def test_default_run_writes_every_output(default_run):
    names = {p.name for p in default_run.iterdir()}
    assert {"scores.csv", "anomalies.csv", "scores.png", "report.md", "report.json",
            synthetic.DEFAULT_FILENAME, synthetic.anomalies_path_for("x.csv").name.replace(
                "x", Path(synthetic.DEFAULT_FILENAME).stem)} <= names
    assert (default_run / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert leftovers(default_run.parent) == []


def test_default_data_is_the_generated_file(default_run, synth_csv):
    assert (default_run / synthetic.DEFAULT_FILENAME).read_bytes() == synth_csv.csv_path.read_bytes()


def test_scores_are_the_fixed_models_scores(default_run, model, project_model):
    win = load_windows(default_run / synthetic.DEFAULT_FILENAME)
    x = project_model[1].transform(win.sequences)
    expect = window_scores(x, model.quantize().reconstruct(x))
    rows = read_csv(default_run / "scores.csv")
    assert len(rows) == len(win) == json.loads((default_run / "report.json").read_text())["windows"]["count"]
    assert [int(r["window_index"]) for r in rows] == list(range(len(win)))
    np.testing.assert_array_equal([float(r["mse"]) for r in rows], expect)
    assert [r["station"] for r in rows] == list(win.stations)
    assert [r["start_time"] for r in rows] == [str(t) for t in win.start]
    assert [r["end_time"] for r in rows] == [str(t) for t in win.end]


def test_anomalies_are_exactly_the_windows_above_the_threshold(default_run):
    scores = np.array([float(r["mse"]) for r in read_csv(default_run / "scores.csv")])
    rep = json.loads((default_run / "report.json").read_text())
    limit = np.percentile(scores, 95.0)
    assert rep["threshold"]["value"] == limit and rep["threshold"]["percentile"] == 95.0
    rows = read_csv(default_run / "anomalies.csv")
    idx = [int(r["window_index"]) for r in rows]
    assert idx == list(np.nonzero(scores > limit)[0])
    assert all(float(r["mse"]) > limit for r in rows)
    assert rep["threshold"]["flagged"] == len(idx) == rep["backends"]["fixed"]["flagged"]
    assert rep["backends"]["fixed"]["flagged_windows"] == idx


def test_report_compares_float_and_fixed(default_run, model, project_model):
    rep = json.loads((default_run / "report.json").read_text())
    win = load_windows(default_run / synthetic.DEFAULT_FILENAME)
    x = project_model[1].transform(win.sequences)
    rf, rq = model.reconstruct_float(x), model.quantize().reconstruct(x)
    flags = {}
    for name, r in (("float", rf), ("fixed", rq)):
        s = window_scores(x, r)
        flags[name] = set(np.nonzero(s > np.percentile(s, 95.0))[0].tolist())
        assert set(rep["backends"][name]["flagged_windows"]) == flags[name]
    cmp = rep["agreement"][0]
    assert cmp["backends"] == ["float", "fixed"]
    assert cmp["same"] == (flags["float"] == flags["fixed"])
    assert cmp["differences_total"] == len(flags["float"] ^ flags["fixed"])
    rd = rep["reconstruction_difference"]
    assert rd["max_abs"] == np.abs(rq - rf).max()
    at = rd["at"]
    assert abs(rq - rf)[at["window_index"], at["step"], at["feature"]] == rd["max_abs"]
    eb = rd["error_bound"]
    assert eb["available"] and eb["within"] and rd["max_abs"] <= eb["at_value"] <= eb["window_max"]
    assert rep["bit_exact"] is None or rep["bit_exact"]["equal"]


def test_report_chip_and_performance_figures(default_run):
    rep = json.loads((default_run / "report.json").read_text())
    chip = rep["chip"]
    assert chip["bytes_per_window"] == {"in": 24 * 6 * 2, "out": 24 * 6 * 2, "total": 576}
    assert chip["bytes_all_windows"] == 576 * rep["windows"]["count"]
    # the whole-window design at 4 lanes: a step is (H/P)(D+H) plus the gap
    # LAT - (D+H-P) where the row pipeline (LAT = 20 at P >= 2) is longer than a row-block
    assert chip["engine"]["lanes"] == 4 and chip["cycles_per_window"] == chip["engine"]["cycles_per_window"]
    assert [x["cycles_per_step"] for x in chip["engine"]["layers"]] == [28 + 10, 12 + 12, 8 + 16, 24 + 12]
    assert not chip["measured"]
    seeds = rep["performance"]["seeds"]
    assert seeds["bytes_per_step"]["total"] == 536
    assert round(seeds["link_ns_per_step"], 1) == 607.2
    assert rep["performance"]["corrected"]["configuration"]["windows"] == rep["windows"]["count"]
    md = (default_run / "report.md").read_text()
    assert "| figure | the seeds said |" in md and "607.2 ns" in md


def test_report_counts_the_injected_anomalies(default_run):
    rep = json.loads((default_run / "report.json").read_text())
    truth = synthetic.SyntheticLCD.from_json(
        default_run / (Path(synthetic.DEFAULT_FILENAME).stem + ".anomalies.json"))
    win = load_windows(default_run / synthetic.DEFAULT_FILENAME)
    on_event = synthetic.anomalous_windows(win.times, truth.anomalies)
    flagged = np.zeros(len(win), dtype=bool)
    flagged[rep["backends"]["fixed"]["flagged_windows"]] = True
    inj = rep["injected"]
    assert inj["events"] == len(truth.anomalies) == 2
    assert inj["windows_on_events"] == int(on_event.sum())
    assert inj["flagged_on_events"] == int((on_event & flagged).sum())
    assert inj["precision"] == inj["flagged_on_events"] / flagged.sum()
    per = synthetic.windows_per_anomaly(win.times, truth.anomalies)
    assert inj["events_detected"] == sum(bool(flagged[p].any()) for p in per)


def test_data_summary_in_the_report(default_run):
    rep = json.loads((default_run / "report.json").read_text())
    c = rep["data"]["counts"]
    assert c["kept"] + c["dropped"] == c["read"]
    assert rep["data"]["format"] == "lcd" and rep["scaling"]["source"] == "model"
    assert rep["model"]["kind"] == "project" and rep["model"]["config"] == CFG.to_dict()
    md = (default_run / "report.md").read_text()
    assert f"rows read {c['read']}, kept {c['kept']}, dropped {c['dropped']}" in md


def test_a_second_run_replaces_the_previous_output(tmp_path, default_run, project_model, capsys):
    out = tmp_path / "detect"
    shutil.copytree(default_run, out)
    (out / "notes.txt").write_text("the user's, not the run's")
    rc, stdout, _ = run_detect(capsys, "--model", project_model[0], "--days", DAYS, "--out", out,
                               "--percentile", 80, "--backend", "float")
    assert rc == 0 and "windows flagged (float backend" in stdout
    assert (out / "notes.txt").read_text() == "the user's, not the run's"
    assert leftovers(tmp_path) == []
    scores = np.array([float(r["mse"]) for r in read_csv(out / "scores.csv")])
    assert len(read_csv(out / "anomalies.csv")) == int((scores > np.percentile(scores, 80)).sum())
    assert json.loads((out / "report.json").read_text())["backend"] == "float"


def test_report_lists_its_files_with_their_digests(default_run):
    rep = json.loads((default_run / "report.json").read_text())
    listed = {e["file"]: e for e in rep["manifest"]}
    assert set(listed) == set(rep["outputs"]) - {"report.json"}
    for name, e in listed.items():
        data = (default_run / name).read_bytes()
        assert e["bytes"] == len(data) and e["sha256"] == hashlib.sha256(data).hexdigest()


def test_rerun_replaces_only_the_previous_runs_files(tmp_path, default_run, project_model, capsys):
    """Files the run did not write survive a rerun byte for byte: a model kept beside the
    report, notes, a sub-folder; the run's own files are replaced."""
    out = tmp_path / "detect"
    shutil.copytree(default_run, out)
    shutil.copy(project_model[0], out / "my_model.npz")
    (out / "plots").mkdir()
    (out / "plots" / "mine.png").write_bytes(b"not the run's")
    keep = {k: v for k, v in tree(out).items() if k in ("my_model.npz", "plots/mine.png")}
    rc, _, _ = run_detect(capsys, "--model", project_model[0], "--days", DAYS, "--out", out,
                          "--backend", "float")
    assert rc == 0
    after = tree(out)
    assert {k: after[k] for k in keep} == keep
    assert json.loads(after["report.json"])["backend"] == "float"
    assert set(after) == set(keep) | set(json.loads(after["report.json"])["outputs"])
    assert leftovers(tmp_path) == []


def test_a_report_json_that_merely_names_the_tool_vouches_for_nothing_else(tmp_path,
                                                                           project_model, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "report.json").write_text(json.dumps({"tool": detect.TOOL}))
    (out / "thesis.tex").write_text("precious")
    rc, _, _ = run_detect(capsys, "--model", project_model[0], "--days", DAYS, "--out", out)
    assert rc == 0
    assert (out / "thesis.tex").read_text() == "precious"


@pytest.mark.parametrize("name", ["anomalies.csv", synthetic.DEFAULT_FILENAME])
def test_a_changed_output_is_not_overwritten(name, tmp_path, default_run, project_model, capsys):
    """A listed file whose bytes changed since the run wrote it is the user's now (refused
    before the work for the files every run writes, at the end for the default data)."""
    out = tmp_path / "detect"
    shutil.copytree(default_run, out)
    (out / name).write_text("window_index,comment\n17,checked by hand\n")
    before = tree(out)
    rc, _, err = run_detect(capsys, "--model", project_model[0], "--days", DAYS, "--out", out)
    assert rc == 1 and f"{name} is there and is not a file of the previous detect run" in err
    assert tree(out) == before and leftovers(tmp_path) == []


def test_a_report_without_manifest_vouches_only_for_detects_own_names(tmp_path, default_run,
                                                                     project_model, capsys):
    out = tmp_path / "detect"
    shutil.copytree(default_run, out)
    rep = json.loads((out / "report.json").read_text())
    del rep["manifest"]
    rep["outputs"].append("results.xlsx")            # a name detect never writes
    (out / "report.json").write_text(json.dumps(rep))
    (out / "results.xlsx").write_bytes(b"the user's")
    rc, _, _ = run_detect(capsys, "--model", project_model[0], "--days", DAYS, "--out", out)
    assert rc == 0 and (out / "results.xlsx").read_bytes() == b"the user's"


@pytest.mark.parametrize("what", ["csv", "model", "windows"])
def test_an_input_inside_the_output_folder_is_refused(what, tmp_path, default_run, project_model,
                                                      model, capsys):
    out = tmp_path / "detect"
    shutil.copytree(default_run, out)
    args = {"csv": ["--csv", out / synthetic.DEFAULT_FILENAME, "--model", project_model[0]],
            "model": ["--days", DAYS, "--model", shutil.copy(project_model[0], out / "m.npz")],
            "windows": ["--model", project_model[0]]}[what]
    if what == "windows":
        np.savez(out / "w.npz", sequences=synthetic_windows(4, CFG, seed=1))
        args += ["--windows", out / "w.npz"]
    before = tree(out)
    rc, _, err = run_detect(capsys, *args, "--out", out)
    assert rc == 1 and "lies inside the output folder" in err and "Traceback" not in err
    assert tree(out) == before and leftovers(tmp_path) == []


def test_a_failure_while_moving_the_files_in_puts_everything_back(tmp_path, default_run,
                                                                   project_model, capsys,
                                                                   monkeypatch):
    out = tmp_path / "detect"
    shutil.copytree(default_run, out)
    (out / "notes.txt").write_text("keep")
    before = tree(out)
    real_rename, real_commit = os.rename, detect.commit_output
    owned = len(detect.owned_files(out))
    calls = []

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == owned + 2:        # the previous files set aside, one new file in
            raise OSError(5, "Input/output error")
        return real_rename(src, dst)

    def commit(tmp, dest):
        monkeypatch.setattr(os, "rename", flaky)
        try:
            return real_commit(tmp, dest)
        finally:
            monkeypatch.setattr(os, "rename", real_rename)
    monkeypatch.setattr(detect, "commit_output", commit)
    rc, _, err = run_detect(capsys, "--model", project_model[0], "--days", DAYS, "--out", out)
    assert rc == 1 and "Input/output error" in err and len(calls) > owned + 2 and owned >= 7
    assert tree(out) == before and leftovers(tmp_path) == []


def _start_detect(tmp_path, project_model, out):
    import signal
    import subprocess
    import sys
    import time

    # a test run started in the background of a shell has SIGINT ignored, which the
    # child would inherit (Python then installs no KeyboardInterrupt handler): let the
    # child start with the default disposition, as a terminal's user has it
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "lstm_chiplet", "detect", "--model",
                                 str(project_model[0]), "--days", "60", "--out", str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    deadline = time.monotonic() + 60
    while not any(".partial-" in p.name for p in tmp_path.iterdir()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "detect never started writing"
        time.sleep(0.02)
    return proc


@pytest.mark.parametrize("sig, code, word", [("SIGTERM", 143, "terminated"),
                                             ("SIGINT", 130, "interrupted")])
def test_a_signal_cleans_up_and_says_so_in_one_line(sig, code, word, tmp_path, project_model):
    import signal
    out = tmp_path / "detect"
    proc = _start_detect(tmp_path, project_model, out)
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert err.strip().splitlines()[-1] == f"lstm-chiplet detect: {word} ({sig})"
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_killed_runs_partial_folder_is_removed_by_the_next_run(tmp_path, project_model, capsys):
    import signal
    import subprocess
    import sys
    out = tmp_path / "detect"
    proc = _start_detect(tmp_path, project_model, out)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    stale = [p.name for p in tmp_path.iterdir()]
    assert len(stale) == 1 and ".partial-" in stale[0]
    # a partial folder of a live process, and a folder of another naming, are kept
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / f".detect.partial-{live.pid}-abc").mkdir()
        (tmp_path / ".detect.partial-notapid").mkdir()
        rc, _, _ = run_detect(capsys, "--model", project_model[0], "--days", DAYS, "--out", out)
        assert rc == 0
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            ["detect", f".detect.partial-{live.pid}-abc", ".detect.partial-notapid"])
    finally:
        live.kill()
        live.wait()


def test_shipped_default_model_runs_without_arguments(tmp_path, capsys):
    assert detect.DEFAULT_MODEL.is_file(), \
        f"{detect.DEFAULT_MODEL}: the shipped model is missing (it is tracked in git)"
    # the main job exactly as the README runs it (the default 90 days)
    rc, stdout, stderr = run_detect(capsys, "--out", tmp_path / "d")
    assert rc == 0
    rep = json.loads((tmp_path / "d" / "report.json").read_text())
    assert rep["model"]["path"] == str(detect.DEFAULT_MODEL) and rep["model"]["kind"] == "project"
    assert rep["scaling"]["source"] == "model"
    # the shipped model carries the formats lstm-chiplet quantize searched on this data:
    # nothing saturates, nothing warns, and fixed stays within the search's target of float
    assert rep["warnings"] == [] and rep["saturation"]["clamped"] == []
    q = load_model_file(detect.DEFAULT_MODEL).provenance["quantize"]
    assert "--no-fewer-int-bits" in q["command"] and q["headroom"] == 0.25
    assert q["target"].startswith("max |fixed - float| <= 0.003906")
    assert "warning" not in stderr
    assert rep["reconstruction_difference"]["input_saturation"]["values"] == 0
    assert rep["reconstruction_difference"]["max_abs"] <= 2.0 ** -8
    assert rep["agreement"][0]["same"]
    assert rep["input"]["kind"] == "default" and rep["injected"]["events"] >= 1
    rows = read_csv(tmp_path / "d" / "scores.csv")
    assert len(rows) == rep["windows"]["count"] == len(load_windows(tmp_path / "d" / synthetic.DEFAULT_FILENAME))


# --------------------------------------------------------------------------
# Other inputs
# --------------------------------------------------------------------------

def test_scaled_windows_input(tmp_path, model, capsys):
    x = synthetic_windows(40, CFG, seed=3)
    npz = tmp_path / "windows.npz"
    np.savez(npz, sequences=x)
    keras = save_keras_npz(tmp_path / "keras.npz", model)
    rc, _, _ = run_detect(capsys, "--windows", npz, "--model", keras, "--out", tmp_path / "o")
    assert rc == 0
    rows = read_csv(tmp_path / "o" / "scores.csv")
    np.testing.assert_array_equal([float(r["mse"]) for r in rows], model.quantize().scores(x))
    assert {r["station"] for r in rows} == {""} and {r["start_time"] for r in rows} == {""}
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    assert rep["input"]["kind"] == "windows" and rep["model"]["kind"] == "keras"
    assert rep["injected"] is None


def test_inputs_outside_the_vec_range_are_counted(tmp_path, model, capsys):
    x = synthetic_windows(12, CFG, seed=6)
    x[5, 3, 1], x[5, 9, 2], x[8, 0, 0] = 2.5, 7.0, -2.25      # vec Q2.14 holds [-2, 2)
    npz = tmp_path / "w.npz"
    np.savez(npz, sequences=x)
    keras = save_keras_npz(tmp_path / "keras.npz", model)
    rc, _, _ = run_detect(capsys, "--windows", npz, "--model", keras, "--out", tmp_path / "o")
    assert rc == 0
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    sat = rep["reconstruction_difference"]["input_saturation"]
    assert (sat["values"], sat["windows"], sat["first_windows"]) == (3, 2, [5, 8])
    clean = np.ones(len(x), dtype=bool)
    clean[[5, 8]] = False
    d = np.abs(model.quantize().reconstruct(x) - model.reconstruct_float(x))
    assert rep["reconstruction_difference"]["max_abs_unsaturated"] == d[clean].max()
    assert "3 scaled input value(s) in 2 window(s)" in (tmp_path / "o" / "report.md").read_text()


def _detect_with_formats(tmp_path, model, capsys, fm):
    """detect on 30 synthetic windows with ``model`` saved in formats ``fm`` (out: o/);
    returns (windows, exit code, stderr)."""
    path = save_model(tmp_path / "formats.npz", model, fmts=fm)
    x = synthetic_windows(30, CFG, seed=8)
    npz = tmp_path / "w.npz"
    np.savez(npz, sequences=x)
    rc, _, err = run_detect(capsys, "--windows", npz, "--model", path, "--out", tmp_path / "o")
    return x, rc, err


def test_per_layer_formats_model(tmp_path, model, capsys):
    """A model file with formats of its own per layer: detect scores with exactly those
    formats, reports them per layer, and the derived bound covers the difference."""
    from golden.formats import DEFAULT_FORMATS, DenseFormats, LSTMFormats, ModelFormats, QFormat
    d = DEFAULT_FORMATS
    wide_x = LSTMFormats(QFormat(16, 12, name="vec"), d.weight, d.preact, d.act)
    narrow_h = LSTMFormats(QFormat(12, 10, name="vec"), d.weight, d.preact, d.act)
    fm = ModelFormats((wide_x, d, narrow_h, d), DenseFormats(QFormat(16, 13, name="weight"), d.vec))
    x, rc, _ = _detect_with_formats(tmp_path, model, capsys, fm)
    assert rc == 0
    rows = read_csv(tmp_path / "o" / "scores.csv")
    np.testing.assert_array_equal([float(r["mse"]) for r in rows], model.quantize(fm).scores(x))
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    rd = rep["reconstruction_difference"]
    assert rd["max_abs"] == np.abs(model.quantize(fm).reconstruct(x) - model.reconstruct_float(x)).max()
    eb = rd["error_bound"]
    assert eb["available"] and eb["within"], eb


def test_tanh_beyond_the_table_end_warns(tmp_path, model, capsys):
    """A preact format of range 2 ends tanh's table at |z| = 1 (tanh(1) = 0.76): the
    saturated tanh inputs are counted and named in the warnings, not silent."""
    from golden.formats import DEFAULT_FORMATS, LSTMFormats, ModelFormats, QFormat
    d = DEFAULT_FORMATS
    narrow = LSTMFormats(d.vec, d.weight, QFormat(16, 14, name="preact"), d.act)
    fm = ModelFormats.uniform(narrow, CFG.num_layers)
    _, rc, err = _detect_with_formats(tmp_path, model, capsys, fm)
    assert rc == 0
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    tanh = [r for r in rep["saturation"]["clamped"] if r["tensor"].startswith("tanh_")]
    assert tanh, rep["saturation"]["clamped"]
    assert any("saturated tanh of" in w and "beyond |0.9999|" in w for w in rep["warnings"])
    assert "saturated tanh of" in err


def test_pytorch_model_gives_the_same_scores_as_keras(tmp_path, model, capsys):
    x = synthetic_windows(30, CFG, seed=4)
    npz = tmp_path / "w.npz"
    np.savez(npz, sequences=x)
    torch = save_pytorch_npz(tmp_path / "torch.npz", model)
    rc, _, _ = run_detect(capsys, "--windows", npz, "--model", torch, "--out", tmp_path / "o",
                          "--backend", "float")
    assert rc == 0
    rows = read_csv(tmp_path / "o" / "scores.csv")
    np.testing.assert_allclose([float(r["mse"]) for r in rows], model.scores_float(x),
                               rtol=1e-12, atol=0)
    assert json.loads((tmp_path / "o" / "report.json").read_text())["model"]["kind"] == "pytorch"


@pytest.mark.realdata
@pytest.mark.parametrize("backend", ["float", "fixed"])
@pytest.mark.parametrize("sample", ["lcd_hourly_KATL_2020-01.csv", "global_marine_10N100E_2025-03.csv"],
                         ids=["lcd", "marine"])
def test_real_noaa_samples(noaa_dir, tmp_path, model, sample, backend, capsys):
    keras = save_keras_npz(tmp_path / "keras.npz", model)
    rc, stdout, err = run_detect(capsys, "--csv", noaa_dir / sample, "--model", keras,
                                 "--backend", backend, "--out", tmp_path / "o")
    assert rc == 0, err
    win = load_windows(noaa_dir / sample)
    scaler = MinMaxScaler.fit(win.sequences, win.features)      # Keras files carry no scaler
    x = scaler.transform(win.sequences)
    rec = model.reconstruct_float(x) if backend == "float" else model.quantize().reconstruct(x)
    rows = read_csv(tmp_path / "o" / "scores.csv")
    np.testing.assert_array_equal([float(r["mse"]) for r in rows], window_scores(x, rec))
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    assert rep["data"]["format"] == ("lcd" if sample.startswith("lcd") else "marine")
    assert rep["scaling"]["source"] == "data" and rep["warnings"]
    assert rep["data"]["counts"]["read"] > rep["data"]["counts"]["kept"] > 0


# --------------------------------------------------------------------------
# Bad input: a clear message, exit 1, nothing half-written
# --------------------------------------------------------------------------

def _bad_windows(tmp_path, kind):
    p = tmp_path / f"{kind}.npz"
    if kind == "no_sequences":
        np.savez(p, windows=np.zeros((2, 24, 6)))
    elif kind == "wrong_steps":
        np.savez(p, sequences=np.zeros((2, 12, 6)))
    elif kind == "pickled":
        a = np.empty(2, dtype=object)
        a[:] = [np.zeros(3), "x"]
        np.savez(p, sequences=a)
    elif kind == "nan":
        a = np.zeros((2, 24, 6))
        a[1, 3, 2] = np.nan
        np.savez(p, sequences=a)
    return p


BAD = {
    "csv_missing_columns": (lambda t, m: ["--csv", FIXTURES / "lcd_missing_columns.csv"],
                            r"HourlyStationPressure.*not found.*columns found: STATION, DATE"),
    "csv_too_few_rows": (lambda t, m: ["--csv", FIXTURES / "marine_too_short.csv"],
                         r"too few usable rows for one window of 24 steps"),
    "csv_absent": (lambda t, m: ["--csv", t / "nope.csv"], r"nope.csv not found"),
    "model_feature_count": (lambda t, m: ["--model", m["four"]],
                            r"expects 4 features, the data has 6"),
    "features_count": (lambda t, m: ["--features", "HourlyDryBulbTemperature,HourlyWindSpeed"],
                       r"--features names 2 column.*expects 6"),
    "feature_not_in_generated_file": (
        lambda t, m: ["--features", "HourlyDryBulbTemperature,HourlyDewPointTemperature,"
                      "HourlyRelativeHumidity,HourlyWindSpeed,HourlyStationPressure,NoSuchColumn"],
        r"NoSuchColumn not found"),
    "features_out_of_model_order": (
        lambda t, m: ["--features", "HourlyDewPointTemperature,HourlyDryBulbTemperature,"
                      "HourlyRelativeHumidity,HourlyWindSpeed,HourlyStationPressure,HourlyVisibility"],
        r"takes the features in the order HourlyDryBulbTemperature,HourlyDewPoint.*--features"),
    "model_absent": (lambda t, m: ["--model", t / "none.npz"], r"none.npz not found"),
    "windows_without_sequences": (lambda t, m: ["--windows", _bad_windows(t, "no_sequences")],
                                  r"no array 'sequences' \(arrays found: windows\)"),
    "windows_wrong_steps": (lambda t, m: ["--windows", _bad_windows(t, "wrong_steps")],
                            r"windows of 12 steps, the model expects 24"),
    "windows_pickled": (lambda t, m: ["--windows", _bad_windows(t, "pickled")], r"pickle"),
    "windows_nan": (lambda t, m: ["--windows", _bad_windows(t, "nan")], r"1 NaN"),
    "percentile": (lambda t, m: ["--percentile", "100"], r"percentile must lie strictly between"),
    "stride": (lambda t, m: ["--stride", "0"], r"--stride must be a positive integer"),
    "lanes": (lambda t, m: ["--lanes", "3"], r"lanes \(3\) must divide hidden_size"),
}


@pytest.fixture(scope="module")
def bad_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_models")
    four = realistic_weights(AutoencoderConfig(4, (4,), (4,), 24), seed=1)
    return {"four": save_keras_npz(folder / "four_features.npz", four)}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_leaves_previous_output_untouched(case, tmp_path, default_run, project_model,
                                                    bad_models, capsys):
    out = tmp_path / "detect"
    shutil.copytree(default_run, out)
    before = tree(out)
    argv, message = BAD[case]
    args = argv(tmp_path, bad_models)
    if "--model" not in args:
        args += ["--model", project_model[0]]
    rc, stdout, err = run_detect(capsys, *args, "--days", DAYS, "--out", out)
    assert rc == 1
    assert err.startswith("lstm-chiplet detect: error: ") and "Traceback" not in err
    assert re.search(message, err), err
    assert tree(out) == before
    assert leftovers(tmp_path) == []


def test_bad_input_writes_no_new_folder(tmp_path, project_model, capsys):
    out = tmp_path / "fresh"
    rc, _, err = run_detect(capsys, "--csv", FIXTURES / "marine_too_short.csv",
                            "--model", project_model[0], "--out", out)
    assert rc == 1 and "too few" in err
    assert list(tmp_path.iterdir()) == []


def test_rtl_backend_not_available_is_a_clear_error(tmp_path, project_model, capsys, monkeypatch):
    from lstm_chiplet import backends
    monkeypatch.setattr(backends, "RTL_RUNNER", ("cosim.no_such_runner", "run_autoencoder_windows"))
    rc, _, err = run_detect(capsys, "--backend", "rtl", "--model", project_model[0],
                            "--days", DAYS, "--out", tmp_path / "o")
    assert rc == 1 and "'rtl'" in err and "not available" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_output_folder_that_cannot_be_written(tmp_path, project_model, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    rc, _, err = run_detect(capsys, "--model", project_model[0], "--days", DAYS,
                            "--out", blocker / "detect")
    assert rc == 1 and "cannot be written" in err and str(blocker) in err
    rc, _, err = run_detect(capsys, "--model", project_model[0], "--days", DAYS, "--out", blocker)
    assert rc == 1 and "cannot be written: it is a file" in err
    assert blocker.read_text() == "not a folder"


def test_foreign_folder_is_never_replaced(tmp_path, project_model, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    rc, _, err = run_detect(capsys, "--model", project_model[0], "--days", DAYS, "--out", out)
    assert rc == 1 and "does not hold a previous detect report" in err
    assert tree(out) == {"thesis.tex": b"precious"} and leftovers(tmp_path) == []


def test_failure_while_writing_leaves_nothing(tmp_path, default_run, project_model, capsys,
                                              monkeypatch):
    out = tmp_path / "detect"
    shutil.copytree(default_run, out)
    before = tree(out)

    def broken_plot(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(rp, "plot_scores", broken_plot)
    rc, _, err = run_detect(capsys, "--model", project_model[0], "--days", DAYS, "--out", out)
    assert rc == 1 and "No space left on device" in err
    assert tree(out) == before and leftovers(tmp_path) == []


# --------------------------------------------------------------------------
# Units: LCD version 2 (metric) files, the scaler's units, out-of-range values
# --------------------------------------------------------------------------

V2_FIXTURE = FIXTURES / "lcd_v2_small.csv"
#: Scores of the v2 fixture must equal its v1 twin's to within this fraction (a stated
#: target): the v2 file rounds to 0.1 deg C, 0.1 hPa, 0.1 m/s and 0.001 km, input
#: differences of at most 0.5 % of a feature's fitted span (0.11 mph of 22 mph), which
#: move a window's score by a few per cent (2.7 % measured); a unit mistake moves it
#: by seven orders of magnitude (MSE 1.3e5 against 3e-3).
SAME_DATA_SCORES = 0.05


@pytest.fixture(scope="module")
def v1_twin(tmp_path_factory):
    """The version 2 fixture's reports in the version 1 layout (US units)."""
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    path = tmp_path_factory.mktemp("twin") / "lcd_v1_twin.csv"
    path.write_text(gen.generated_lcd("v1"), encoding="ascii")
    return path


def _scores(folder):
    return np.array([float(r["mse"]) for r in read_csv(folder / "scores.csv")])


def test_metric_v2_file_is_scored_in_the_shipped_scalers_units(tmp_path, v1_twin, capsys):
    rc, _, err = run_detect(capsys, "--csv", V2_FIXTURE, "--out", tmp_path / "v2")
    assert rc == 0, err
    rc, _, err1 = run_detect(capsys, "--csv", v1_twin, "--out", tmp_path / "v1")
    assert rc == 0, err1
    s2, s1 = _scores(tmp_path / "v2"), _scores(tmp_path / "v1")
    assert len(s2) == len(s1) > 40
    assert np.all(np.abs(s2 - s1) <= SAME_DATA_SCORES * s1), np.max(np.abs(s2 - s1) / s1)
    rep = json.loads((tmp_path / "v2" / "report.json").read_text())
    rep1 = json.loads((tmp_path / "v1" / "report.json").read_text())
    assert rep["backends"]["fixed"]["flagged_windows"] == rep1["backends"]["fixed"]["flagged_windows"]
    u = rep["units"]
    assert u["layout"] == "v2" and u["evidence"]["columns"] == 125
    assert u["file"]["HourlyStationPressure"] == "hPa" and u["scaler"]["HourlyStationPressure"] == "inHg"
    assert {c["feature"]: c["formula"] for c in u["conversions"]} == {
        "HourlyDryBulbTemperature": "degF = degC * 9 / 5 + 32",
        "HourlyDewPointTemperature": "degF = degC * 9 / 5 + 32",
        "HourlyWindSpeed": "mph = m/s * 1 / 0.44704",
        "HourlyStationPressure": "inHg = hPa * 100 / 3386.389",
        "HourlyVisibility": "mi = km * 1000 / 1609.344"}
    assert rep1["units"]["conversions"] == [] and rep1["units"]["layout"] == "v1"
    assert "converted into the scaler's units: HourlyDryBulbTemperature degC -> degF" in \
        rep["data"]["summary_text"]
    assert "data converted into its units" in rep["scaling"]["description"]
    assert rep["model"]["scaler_units"] == ["degF", "degF", "%", "mph", "inHg", "mi"]
    assert not any("outside" in w for w in rep["warnings"]), rep["warnings"]
    assert max(rep["scaling"]["fraction_out_of_range"].values()) <= 0.05


def test_metric_file_with_a_scaler_without_units_is_refused(tmp_path, project_model, capsys):
    out = tmp_path / "o"
    rc, _, err = run_detect(capsys, "--csv", V2_FIXTURE, "--model", project_model[0], "--out", out)
    assert rc == 1
    assert "HourlyDryBulbTemperature is in degC (metric LCD version 2)" in err
    assert "records no units" in err and str(project_model[0]) in err
    assert not out.exists() and leftovers(tmp_path) == []


def test_a_scaler_without_units_on_v1_data_is_assumed_in_the_datas_units(default_run):
    rep = json.loads((default_run / "report.json").read_text())
    assert rep["units"]["scaler"] == dict.fromkeys(rep["data"]["features"])
    assert rep["units"]["conversions"] == []
    assert any("records no units (saved before units were stored): assumed to be the data's: "
               "HourlyDryBulbTemperature (degF)" in w for w in rep["warnings"]), rep["warnings"]


def test_a_file_whose_layout_cannot_be_told_is_refused(tmp_path, capsys):
    odd = tmp_path / "in" / "v2_header_wban_ids.csv"
    odd.parent.mkdir()
    odd.write_text(V2_FIXTURE.read_text().replace("ZZW00000001", "99900000001"))
    rc, _, err = run_detect(capsys, "--csv", odd, "--out", tmp_path / "o")
    assert rc == 1
    assert "the unit of HourlyDryBulbTemperature cannot be told (the LCD layout" in err
    assert "expects degF" in err and not (tmp_path / "o").exists()
    # the user who knows the layout says so: the same scores as the fixture itself
    rc, _, err = run_detect(capsys, "--csv", odd, "--layout", "v2", "--out", tmp_path / "o")
    assert rc == 0, err
    rc, _, _ = run_detect(capsys, "--csv", V2_FIXTURE, "--out", tmp_path / "v2")
    assert rc == 0
    assert ([r["mse"] for r in read_csv(tmp_path / "o" / "scores.csv")]
            == [r["mse"] for r in read_csv(tmp_path / "v2" / "scores.csv")])
    assert json.loads((tmp_path / "o" / "report.json").read_text())["units"]["layout"] == "v2"


def test_out_of_range_values_warn_in_the_report_and_on_stderr(tmp_path, model, v1_twin, capsys):
    win = load_windows(v1_twin)
    narrow = win.sequences[:3]                      # three windows: a narrow fitted range
    scaler = MinMaxScaler.fit(narrow, win.features, units=win.units)
    path = save_model(tmp_path / "narrow.npz", model, scaler, data_format="lcd")
    rc, _, err = run_detect(capsys, "--csv", v1_twin, "--model", path, "--out", tmp_path / "o")
    assert rc == 0, err
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    [warn] = [w for w in rep["warnings"] if "outside the scaler's fitted range" in w]
    assert f"warning: {warn}" in err
    flat, lo, hi = win.sequences.reshape(-1, 6), narrow.reshape(-1, 6).min(0), narrow.reshape(-1, 6).max(0)
    named = 0
    for j, f in enumerate(win.features):
        below, above = int(np.sum(flat[:, j] < lo[j])), int(np.sum(flat[:, j] > hi[j]))
        frac = (below + above) / len(flat)
        if frac > 0.05:
            named += 1
            assert f"{f} {100 * frac:.1f} % ({below} below, {above} above)" in warn
        else:
            assert f + " " not in warn
    assert named >= 2


def test_out_of_range_scaled_windows_warn(tmp_path, model, capsys):
    x = synthetic_windows(20, CFG, seed=5)
    x[:4, :, 2] += 1.5                              # 20 % of feature f2 above 1
    npz = tmp_path / "w.npz"
    np.savez(npz, sequences=x)
    keras = save_keras_npz(tmp_path / "keras.npz", model)
    rc, _, err = run_detect(capsys, "--windows", npz, "--model", keras, "--out", tmp_path / "o")
    assert rc == 0
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    [warn] = [w for w in rep["warnings"] if "outside the unit interval" in w]
    frac = np.mean((x[..., 2] < 0) | (x[..., 2] > 1))
    assert frac > 0.05 and f"f2 {100 * frac:.1f} %" in warn and f"warning: {warn}" in err


def test_a_model_whose_scaler_has_zero_span_is_refused(tmp_path, model, capsys):
    lo, hi = np.zeros(6), np.ones(6)
    hi[3] = lo[3] = 4.0
    path = save_model(tmp_path / "flat.npz", model, MinMaxScaler(lo, hi, LCD_FEATURES))
    rc, _, err = run_detect(capsys, "--days", DAYS, "--model", path, "--out", tmp_path / "o")
    assert rc == 1
    assert f"{path}: the scaler's feature 'HourlyWindSpeed' has zero span" in err
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------
# Report functions on hand-made values
# --------------------------------------------------------------------------

def test_threshold_and_flags_by_hand():
    s = np.arange(1.0, 21.0)                     # 1..20
    assert rp.threshold(s, 95) == pytest.approx(19.05)
    assert rp.flagged(s, rp.threshold(s, 95)).tolist() == [19]
    assert rp.flagged(s, 10.0).tolist() == list(range(10, 20))
    for bad in (0, 100, -1, float("nan")):
        with pytest.raises(ValueError, match="percentile"):
            rp.threshold(s, bad)
    with pytest.raises(ValueError, match="non-empty"):
        rp.threshold([], 95)


def test_compare_flags_lists_the_differences():
    scores = {"a": np.array([1.0, 5.0, 9.0, 2.0]), "b": np.array([1.0, 9.0, 2.0, 8.0])}
    cmp = rp.compare_flags("a", [1, 2], "b", [1, 3], scores, {"a": 4.0, "b": 4.0})
    assert not cmp["same"] and cmp["common"] == 1 and cmp["only_a"] == 1 and cmp["only_b"] == 1
    assert [(d["window_index"], d["flagged_by"]) for d in cmp["differences"]] == [(2, "a"), (3, "b")]
    assert rp.compare_flags("a", [2, 1], "b", [1, 2], scores, {"a": 4.0, "b": 4.0})["same"]


def test_injected_recall_by_hand():
    events = [{"kind": "spike"}, {"kind": "stuck"}, {"kind": "wind_burst"}]
    covers = [[2, 3, 4], [10, 11], []]
    r = rp.injected_recall([3, 7, 11, 12], 20, covers, events)
    assert (r["events"], r["events_detected"]) == (3, 2) and r["recall"] == pytest.approx(2 / 3)
    assert (r["flagged"], r["flagged_on_events"]) == (4, 2) and r["precision"] == 0.5
    assert r["windows_on_events"] == 5 and r["window_recall"] == pytest.approx(2 / 5)
    assert [e["detected"] for e in r["per_event"]] == [True, True, False]


def test_reconstruction_difference_finds_the_largest():
    ref = np.zeros((3, 4, 2))
    other = ref.copy()
    other[2, 1, 0] = -0.5
    other[0, 3, 1] = 0.25
    d = rp.reconstruction_difference(ref, other)
    assert d["max_abs"] == 0.5 and d["at"]["window_index"] == 2
    assert (d["at"]["step"], d["at"]["feature"], d["at"]["value"]) == (1, 0, -0.5)
