"""``lstm-chiplet synth``: a run keeps the summary entries it did not measure."""

import json

import pytest

from lstm_chiplet.implementation import cli


def test_summary_keeps_the_entries_a_run_did_not_measure(tmp_path, capsys):
    import argparse

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--only", "utilisation", "--out", str(tmp_path)])
    (tmp_path / "summary.json").write_text(json.dumps(
        {"implementations": [{"design": "earlier", "fits": False}], "generic": "not a list"}))
    assert cli.run(args) == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["implementations"] == [{"design": "earlier", "fits": False}]
    assert s["generic"] == [] and len(s["utilisation"]) == 20
    assert all(r["date"] == s["date"] for r in s["utilisation"])
    assert (tmp_path / "utilisation.png").is_file() and "Multiplier utilisation" in capsys.readouterr().out


def _synth_args(*argv):
    import argparse

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.hdl
@pytest.mark.slow
def test_model_file_formats_reach_the_up5k_flow(tmp_path, implementation_tools, capsys):
    """``synth --model``: the whole-window design of the file's topology and per-layer
    formats is synthesised (here without place and route), and only that design."""
    from golden.autoencoder import AutoencoderConfig, realistic_weights
    from golden.formats import DEFAULT_FORMATS as FM, DenseFormats, LSTMFormats, ModelFormats, QFormat
    from hdl.autoencoder_config import AutoencoderEngineConfig
    from lstm_chiplet.models.project import save_model

    cfg = AutoencoderConfig(3, (4,), (4,), 3)
    moved = LSTMFormats(QFormat(16, 13, name="vec"), FM.weight, QFormat(16, 12, name="preact"), FM.act)
    mf = ModelFormats((FM, moved), DenseFormats(FM.weight, QFormat(16, 13, name="out")))
    path = save_model(tmp_path / "q.npz", realistic_weights(cfg, seed=1), fmts=mf)
    args = _synth_args("--model", str(path), "--autoencoder", "2", "--only", "up5k", "--no-place",
                       "--out", str(tmp_path / "synth"))
    assert cli.run(args) == 0
    s = json.loads((tmp_path / "synth" / "summary.json").read_text())
    want = AutoencoderEngineConfig(cfg, 2, mf).module_name
    assert [r["design"] for r in s["implementations"]] == [want] and "_pl" in want
    assert s["implementations"][0]["synthesis"]["resources"]["lut4"] > 0
    capsys.readouterr()


def test_model_file_formats_the_hardware_cannot_run_are_refused(tmp_path):
    from golden.autoencoder import AutoencoderConfig, realistic_weights
    from golden.formats import DEFAULT_FORMATS as FM, DenseFormats, LSTMFormats, ModelFormats, QFormat
    from lstm_chiplet.models.project import save_model

    cfg = AutoencoderConfig(3, (4,), (4,), 3)
    narrow = LSTMFormats(QFormat(12, 10, name="vec"), FM.weight, FM.preact, FM.act)
    path = save_model(tmp_path / "q.npz", realistic_weights(cfg, seed=1),
                      fmts=ModelFormats((FM, narrow), DenseFormats(FM.weight, FM.vec)))
    args = _synth_args("--model", str(path), "--autoencoder", "2", "--only", "up5k", "--no-place",
                       "--out", str(tmp_path / "synth"))
    with pytest.raises(SystemExit, match="q.npz: whole-window engine: vec is 16 bits in encoder "
                                         "LSTM 1 but 12 in decoder LSTM 1"):
        cli.run(args)


def test_seeds_are_a_range_or_a_list_and_anything_else_is_named():
    assert cli._seeds("1-5") == [1, 2, 3, 4, 5]
    assert cli._seeds("7,3") == [7, 3]
    for bad in ("1-x", "3,3", "5-1", ""):
        with pytest.raises(ValueError, match="--seeds"):
            cli._seeds(bad)
