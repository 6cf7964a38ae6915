"""``lstm-chiplet synth``: a run keeps the summary entries it did not measure."""

import json

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
