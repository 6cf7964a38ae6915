"""``lstm-chiplet bench-scale`` on a tiny archive: every case and figure is there, the
window counts are the loader's, the command line reproduces the run."""

import json

from lstm_chiplet import cli
from lstm_chiplet.workload.noaa import load_windows


def test_bench_scale_reports_every_configuration(tmp_path, capsys):
    out = tmp_path / "b"
    argv = ["bench-scale", "--quiet", "--stations", "2", "--days", "4", "--rtl-windows", "0",
            "--repeats", "2", "--noop-tasks", "20", "--out", str(out)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    res = json.loads((out / "bench_scale.json").read_text())
    files = sorted((out / "archive-2x4d").glob("*.csv"))
    windows = sum(len(load_windows(f)) for f in files)
    assert len(files) == 2 and windows > 100
    for label in ("in process", "1 worker", "2 workers"):
        got = res["fixed"][label]
        assert got["windows"] == windows and len(got["runs"]) == 2
        secs = [r["seconds"] for r in got["runs"]]
        assert min(secs) <= got["median_seconds"] <= max(secs)
    assert res["fixed"]["speedup_vs_1_worker"] > 0 and res["rtl"] == {}
    assert res["overhead"]["noop"]["tasks"] == 20
    assert res["command"] == ("lstm-chiplet bench-scale --stations 2 --days 4 --rtl-windows 0 "
                              f"--repeats 2 --noop-tasks 20 --out {out}")
    assert "speed-up of 2 workers" in printed and "shared machine" in printed
    assert (out / "bench_scale.md").read_text().strip() == printed.strip()
