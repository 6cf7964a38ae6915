"""The four files of one autoencoder (.keras, .h5, .onnx, .pt) through the command line:
``detect --model`` gives the same scores from each, ``inspect`` reads the same model from
each, refused files are listed by ``inspect``, and ``--layers`` reaches the loader."""

import csv
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from golden.autoencoder import AutoencoderConfig, synthetic_windows
from lstm_chiplet import cli

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "models"
FILES = ["ae.keras", "ae.h5", "ae.onnx", "ae.pt"]
CFG = AutoencoderConfig(6, (8, 4), (4, 8), 24)
#: By hand: 4H(D+H+1) per layer, 4*8*15 + 4*4*13 + 4*4*9 + 4*8*13, plus the dense 8*6 + 6.
PARAMETERS = 480 + 208 + 144 + 416 + 54


def _needs(name):
    if name.endswith(".onnx"):           # the one optional reader: onnx is in the test extra,
        import onnx  # noqa: F401        # so a missing onnx fails here


def run(capsys, *argv):
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _scores(path):
    with open(path, newline="") as fh:
        return np.array([float(r["mse"]) for r in csv.DictReader(fh)])


@pytest.fixture(scope="module")
def windows_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("windows") / "w.npz"
    np.savez(path, sequences=synthetic_windows(40, CFG, seed=5))
    return path


@pytest.mark.parametrize("backend", ["float", "fixed"])
def test_detect_gives_the_same_scores_from_every_format(tmp_path, capsys, windows_file, backend):
    scores = {}
    for name in FILES:
        _needs(name)
        out = tmp_path / name.replace(".", "_")
        rc, _, err = run(capsys, "detect", "--quiet", "--windows", windows_file, "--model",
                         FIXTURES / name, "--backend", backend, "--out", out)
        assert rc == 0, err
        scores[name] = _scores(out / "scores.csv")
        kind = json.loads((out / "report.json").read_text())["model"]["kind"]
        assert kind == {"keras": "keras", "h5": "keras", "onnx": "onnx", "pt": "pytorch"}[name.split(".")[1]]
    ref = scores["ae.keras"]
    for name, s in scores.items():
        np.testing.assert_allclose(s, ref, rtol=0, atol=1e-9, err_msg=name)


def test_detect_runs_an_imported_model_on_generated_data(tmp_path, capsys):
    rc, _, err = run(capsys, "detect", "--quiet", "--model", FIXTURES / "ae.keras", "--days", "3",
                     "--backend", "float", "--out", tmp_path / "o")
    assert rc == 0, err
    assert len(_scores(tmp_path / "o" / "scores.csv")) > 0


@pytest.mark.parametrize("name", FILES)
def test_inspect_reads_the_same_model_from_every_format(capsys, name):
    _needs(name)
    rc, out, err = run(capsys, "inspect", FIXTURES / name, "--json")
    assert rc == 0, err
    s = json.loads(out)
    assert s["config"] == CFG.to_dict()
    assert s["parameters"] == PARAMETERS
    assert [x["parameters"] for x in s["layers"]] == [480, 208, 144, 416, 54]
    assert s["latent"] == {"layer": "encoder LSTM 2", "size": 4, "repeated": 24}
    e = s["engine"]
    assert e["lanes"] == 4 and e["multipliers"] == 16
    assert e["memory_bits_total"] == sum(e["memory_bits"].values())
    # every weight and bias of the LSTM layers is stored once at the weight width (16 bits)
    assert e["memory_bits"]["weights"] + e["memory_bits"]["biases"] >= 16 * (PARAMETERS - 54)
    assert e["ideal_cycles_per_window"] <= e["cycles_per_window"]


def test_inspect_text_and_a_lane_count_that_does_not_fit(capsys):
    rc, out, _ = run(capsys, "inspect", FIXTURES / "ae.keras", "--lanes", "3")
    assert rc == 0
    assert "topology:   6 -> 8 -> 4 | repeat x24 | 4 -> 8 -> Dense 6" in out
    assert "engine at P=3: cannot be built" in out
    assert "lanes that divide every hidden size: [1, 2, 4]" in out
    rc, out, _ = run(capsys, "inspect", FIXTURES / "ae_nested.keras")
    assert "note:       LSTM layer 'enc1': dropout=0.2 is applied only in training" in out


def test_inspect_lists_what_is_refused(tmp_path, capsys):
    with zipfile.ZipFile(FIXTURES / "ae.keras") as z:
        members = {n: z.read(n) for n in z.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][1]["config"]["go_backwards"] = True
    config["config"]["layers"][4]["class_name"] = "GRU"
    members["config.json"] = json.dumps(config).encode()
    bad = tmp_path / "bad.keras"
    with zipfile.ZipFile(bad, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    rc, out, _ = run(capsys, "inspect", bad)
    assert rc == 1
    assert "  - LSTM layer 'enc1': go_backwards=True" in out
    assert "  - GRU layer 'dec1': a GRU layer" in out
    rc, _, err = run(capsys, "detect", "--quiet", "--model", bad, "--out", tmp_path / "o")
    assert rc == 1 and "go_backwards=True" in err
    assert not (tmp_path / "o").exists()


def test_layers_reaches_the_loader_from_the_command_line(tmp_path, capsys):
    from golden.autoencoder import realistic_weights  # noqa: PLC0415

    ae = realistic_weights(CFG, seed=3)
    sd = {}
    for k, w in enumerate(ae.layers):
        sd.update({f"rnn{k}.weight_ih_l0": w.kernel.T, f"rnn{k}.weight_hh_l0": w.recurrent.T,
                   f"rnn{k}.bias_ih_l0": w.bias})
    sd.update({"fc.weight": ae.dense_kernel.T, "fc.bias": ae.dense_bias})
    path = tmp_path / "sd.npz"
    np.savez(path, **sd)
    rc, _, err = run(capsys, "inspect", path)
    assert rc == 1 and "--layers" in err
    rc, out, err = run(capsys, "inspect", path, "--layers", "rnn0,rnn1/rnn2,rnn3", "--json")
    assert rc == 0, err
    assert json.loads(out)["config"] == CFG.to_dict()


@pytest.mark.cosim
@pytest.mark.parametrize("name", ["ae.onnx", "ae.keras"])
def test_an_imported_model_runs_on_the_rtl_bit_exact(tmp_path, capsys, name):
    """The converted whole-window engine of an imported model equals its fixed-point model."""
    _needs(name)
    with np.load(FIXTURES / "ae_reference.npz") as z:
        path = tmp_path / "w.npz"
        np.savez(path, sequences=z["windows"][:2].astype(np.float64))
    rc, _, err = run(capsys, "detect", "--quiet", "--windows", path, "--model", FIXTURES / name,
                     "--backend", "rtl", "--out", tmp_path / "o")
    assert rc == 0, err
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    assert rep["bit_exact"]["backends"] == ["fixed", "rtl"]
    assert rep["bit_exact"]["equal"] and rep["bit_exact"]["windows"] == 2
