"""``detect`` over many inputs on Dask: the same bytes wherever it runs, thresholds per
scope checked against single-file runs, bad data named or skipped, and a real cluster
(a ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1) losing a worker
mid-run without losing a result."""

import contextlib
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from golden.autoencoder import AutoencoderConfig, realistic_weights
from lstm_chiplet import cli
from lstm_chiplet.models.keras import save_keras_npz
from lstm_chiplet.models.project import save_model
from lstm_chiplet.scale import partitions as pt
from lstm_chiplet.scale.archive import station_id, write_archive
from lstm_chiplet.workload.noaa import MinMaxScaler, load_windows

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
CFG = AutoencoderConfig(features=6, encoder_sizes=(8, 4), decoder_sizes=(4, 8), timesteps=24)
#: Seconds any cluster of these tests may take to come up.
STARTUP_S = 40


def run_detect(capsys, *argv):
    """``lstm-chiplet detect --quiet ARGV``: (exit code, stdout, stderr)."""
    return (cli.main(["detect", "--quiet"] + [str(a) for a in argv]),) + tuple(capsys.readouterr())


def read_csv(path):
    return list(csv.DictReader(Path(path).read_text().splitlines()))


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """Five generated stations in three files (two files hold two stations each)."""
    return write_archive(tmp_path_factory.mktemp("archive") / "lcd", 5, days=12,
                         stations_per_file=2)


@pytest.fixture(scope="module")
def small_model(tmp_path_factory, archive):
    """A small project model, its scaler fitted on the first file."""
    win = load_windows(archive[0])
    path = tmp_path_factory.mktemp("model") / "small.npz"
    save_model(path, realistic_weights(CFG, seed=5), MinMaxScaler.fit(win.sequences, win.features, units=win.units),
               data_format="lcd")
    return path


@pytest.fixture(scope="module")
def in_process(tmp_path_factory, archive, small_model):
    """The reference: every task in this process (--workers 1), small chunks."""
    out = tmp_path_factory.mktemp("ref") / "o"
    rc = cli.main(["detect", "--quiet", "--csv", str(archive[0].parent), "--model",
                   str(small_model), "--workers", "1", "--chunk-windows", "40", "--out", str(out)])
    assert rc == 0
    return out


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------

def test_inputs_from_files_globs_and_folders(archive, tmp_path):
    folder = archive[0].parent
    assert pt.expand_inputs([archive[0]]) == ([archive[0]], False)
    assert pt.expand_inputs([folder]) == (sorted(archive), True)
    assert pt.expand_inputs([str(folder / "*_2.csv")]) == (sorted(archive[:2]), True)
    files, many = pt.expand_inputs([archive[1], archive[0], archive[1]])
    assert files == [archive[1], archive[0]] and many
    with pytest.raises(ValueError, match="nope.csv not found"):
        pt.expand_inputs([tmp_path / "nope.csv"])
    with pytest.raises(ValueError, match="matches no file"):
        pt.expand_inputs([str(tmp_path / "*.csv")])
    with pytest.raises(ValueError, match="holds no"):
        pt.expand_inputs([tmp_path])


def test_a_single_file_stays_in_process_without_dask(archive, small_model, tmp_path):
    code = ("import sys; from lstm_chiplet import cli; "
            f"rc = cli.main(['detect', '--quiet', '--csv', {str(archive[2])!r}, '--model', "
            f"{str(small_model)!r}, '--out', {str(tmp_path / 'o')!r}]); "
            "print(rc, 'distributed' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert res.stdout.splitlines()[-1].split() == ["0", "False"], res.stderr
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    assert rep["input"]["kind"] == "csv" and (tmp_path / "o" / "scores.png").is_file()


# --------------------------------------------------------------------------
# The gathered report
# --------------------------------------------------------------------------

def test_partitions_follow_files_and_stations_and_match_single_file_runs(
        in_process, archive, small_model, tmp_path, capsys):
    rows = read_csv(in_process / "scores.csv")
    assert [int(r["window_index"]) for r in rows] == list(range(len(rows)))
    stations = [station_id(k) for k in range(5)]
    assert sorted({r["station"] for r in rows}) == stations
    # each station of each file: exactly the scores a single-file detect of it writes
    for k, path in enumerate(archive):
        one = tmp_path / f"one{k}"
        rc, _, err = run_detect(capsys, "--csv", path, "--model", small_model, "--out", one)
        assert rc == 0, err
        single = read_csv(one / "scores.csv")
        for st in sorted({r["station"] for r in single}):
            want = [(r["start_time"], r["mse"]) for r in single if r["station"] == st]
            got = [(r["start_time"], r["mse"]) for r in rows
                   if r["station"] == st and r["file"] == path.name]
            assert got == want, (path.name, st)
    rep = json.loads((in_process / "report.json").read_text())
    assert {s["station"]: s["windows"] for s in rep["stations"]} == {
        st: sum(1 for r in rows if r["station"] == st) for st in stations}
    for st in stations:
        assert (in_process / f"scores-{st}.png").stat().st_size > 1000
    assert rep["execution"]["kind"] == "in process" and rep["execution"]["retried"] == 0
    assert rep["execution"]["tasks"] > 2 * len(archive) + len(stations)     # chunked
    names = {m["file"] for m in rep["manifest"]}
    assert {"scores.csv", "anomalies.csv", "stations.csv", "report.md"} <= names
    md = (in_process / "report.md").read_text()
    assert all(f"## Station {st}" in md for st in stations)


def test_global_threshold_is_one_percentile_of_all_windows(in_process):
    rows = read_csv(in_process / "scores.csv")
    s = np.array([float(r["mse"]) for r in rows])
    limit = {float(r["threshold"]) for r in rows}
    assert len(limit) == 1
    # an order statistic check, not numpy's formula: about 5 % lie above, none equal
    above = int((s > limit.pop()).sum())
    assert abs(above - 0.05 * len(s)) <= 1
    assert len(read_csv(in_process / "anomalies.csv")) == above


def test_station_scope_flags_what_each_station_alone_would(archive, small_model, tmp_path, capsys):
    """One station per file: a single-file run's threshold is that station's."""
    files = write_archive(tmp_path / "one_each", 3, days=12, seed=300)
    rc, _, err = run_detect(capsys, "--csv", *files, "--model", small_model, "--threshold-scope",
                            "station", "--workers", "1", "--out", tmp_path / "many")
    assert rc == 0, err
    rep = json.loads((tmp_path / "many" / "report.json").read_text())
    for k, f in enumerate(files):
        rc, _, err = run_detect(capsys, "--csv", f, "--model", small_model, "--out", tmp_path / f"s{k}")
        assert rc == 0, err
        single = json.loads((tmp_path / f"s{k}" / "report.json").read_text())
        row = next(r for r in rep["stations"] if r["station"] == station_id(k))
        assert row["threshold"] == single["threshold"]["value"]
        assert row["flagged"] == single["threshold"]["flagged"]
    assert rep["threshold"]["scope"] == "station" and rep["threshold"]["value"] is None


# --------------------------------------------------------------------------
# The same bytes on a LocalCluster
# --------------------------------------------------------------------------

def test_a_local_cluster_writes_the_same_bytes(in_process, archive, small_model, tmp_path, capsys):
    out = tmp_path / "o"
    rc, stdout, err = run_detect(capsys, "--csv", *archive, "--model", small_model, "--workers", 2,
                                 "--chunk-windows", 40, "--out", out)
    assert rc == 0, err
    for name in ("scores.csv", "anomalies.csv", "stations.csv"):
        assert (out / name).read_bytes() == (in_process / name).read_bytes(), name
    rep = json.loads((out / "report.json").read_text())
    assert rep["execution"]["kind"] == "local cluster" and rep["execution"]["workers"] == 2
    assert rep["execution"]["retried"] == 0
    assert "local cluster, 2 worker(s)" in stdout


# --------------------------------------------------------------------------
# Bad data
# --------------------------------------------------------------------------

@pytest.fixture()
def with_bad_file(archive, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for f in archive:
        shutil.copy(f, folder / f.name)
    shutil.copy(FIXTURES / "lcd_missing_columns.csv", folder / "bad.csv")
    return folder


def test_a_bad_file_fails_the_run_naming_it(with_bad_file, small_model, tmp_path, capsys):
    rc, _, err = run_detect(capsys, "--csv", with_bad_file, "--model", small_model, "--workers", 1,
                            "--out", tmp_path / "o")
    assert rc == 1 and "bad.csv" in err and "--skip-bad" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_skip_bad_lists_the_file_and_scores_the_rest(with_bad_file, in_process, small_model,
                                                     tmp_path, capsys):
    rc, stdout, err = run_detect(capsys, "--csv", with_bad_file, "--model", small_model,
                                 "--workers", 1, "--chunk-windows", 40, "--skip-bad",
                                 "--out", tmp_path / "o")
    assert rc == 0, err
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    assert [(Path(s["file"]).name, s["station"]) for s in rep["skipped"]] == [("bad.csv", None)]
    assert "column" in rep["skipped"][0]["reason"]
    assert "bad.csv" in (tmp_path / "o" / "report.md").read_text()
    assert (tmp_path / "o" / "scores.csv").read_bytes() == (in_process / "scores.csv").read_bytes()


def test_a_bad_station_is_named_with_its_file(archive, small_model):
    spec = pt.ModelSpec.make(small_model, ("float", "fixed"), 4, "verilator")
    loaded = pt.load_file(str(archive[0]), pt.DataSpec(), spec)
    station = sorted(loaded.partitions)[1]
    loaded.partitions[station].sequences[3, 5, 2] = np.nan
    pt.score_chunk(loaded, station, 0, 3, spec)               # the windows before are fine
    with pytest.raises(pt.PartitionError) as err:
        pt.score_chunk(loaded, station, 0, 10, spec)
    assert f"file {archive[0]}, station {station}" in str(err.value)
    assert "1 NaN" in str(err.value)


def test_a_model_without_a_scaler_is_refused_for_many_inputs(archive, tmp_path, capsys):
    keras = tmp_path / "k.npz"
    save_keras_npz(keras, realistic_weights(CFG, seed=5))
    rc, _, err = run_detect(capsys, "--csv", *archive, "--model", keras, "--workers", 1,
                            "--out", tmp_path / "o")
    assert rc == 1 and "carries no scaler" in err and archive[0].name in err


# --------------------------------------------------------------------------
# A real cluster losing a worker
# --------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def loopback_cluster(folder: Path, workers: int = 2):
    """``dask scheduler`` and ``workers`` single-threaded ``dask worker`` processes (no
    nanny, so a killed worker stays dead) on 127.0.0.1; always torn down."""
    from distributed import Client
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO)] + [
        p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
        OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    addr = f"tcp://127.0.0.1:{_free_port()}"
    dask = [sys.executable, "-m", "dask"]
    procs = []

    def start(*argv, name):
        log = open(folder / f"{name}.log", "w")
        procs.append(subprocess.Popen(dask + list(argv), stdout=log, stderr=subprocess.STDOUT,
                                      env=env, start_new_session=True))
        log.close()
        return procs[-1]

    try:
        start("scheduler", "--host", "127.0.0.1", "--port", addr.rsplit(":", 1)[1],
              "--no-dashboard", name="scheduler")
        ws = [start("worker", addr, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                    "--name", f"w{i}", "--local-directory", str(folder / f"w{i}"), name=f"w{i}")
              for i in range(workers)]
        deadline = time.monotonic() + STARTUP_S
        client = None
        while client is None:
            try:
                client = Client(addr, timeout="2s")
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
        with client:
            client.wait_for_workers(workers, timeout=STARTUP_S)
            names = {v["name"]: k for k, v in client.scheduler_info()["workers"].items()}
        yield addr, {f"w{i}": (ws[i], names[f"w{i}"]) for i in range(workers)}
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _kill_when_scoring(addr, proc, worker_addr, killed, stop):
    """SIGKILL ``proc`` as soon as the scheduler gives its worker a chunk to score."""
    from distributed import Client
    with Client(addr, timeout="10s") as c:
        while not stop.is_set():
            keys = c.processing().get(worker_addr, ())
            if any("-chunk-" in str(k) for k in keys):
                os.kill(proc.pid, signal.SIGKILL)
                killed.append(time.monotonic())
                return
            time.sleep(0.005)


@pytest.mark.timeout(120)
def test_a_worker_killed_mid_run_loses_nothing(in_process, archive, small_model, tmp_path, capsys):
    with loopback_cluster(tmp_path) as (addr, workers):
        proc, worker_addr = workers["w0"]
        killed, stop = [], threading.Event()
        killer = threading.Thread(target=_kill_when_scoring,
                                  args=(addr, proc, worker_addr, killed, stop), daemon=True)
        killer.start()
        try:
            t0 = time.monotonic()
            rc, stdout, err = run_detect(capsys, "--csv", *archive, "--model", small_model,
                                         "--scheduler", addr, "--chunk-windows", 40,
                                         "--out", tmp_path / "o")
        finally:
            stop.set()
            killer.join(10)
        assert rc == 0, err
        assert killed and killed[0] > t0 and proc.poll() is not None   # it died mid-run
    out = tmp_path / "o"
    for name in ("scores.csv", "anomalies.csv", "stations.csv"):
        assert (out / name).read_bytes() == (in_process / name).read_bytes(), name
    ex = json.loads((out / "report.json").read_text())["execution"]
    assert ex["kind"] == "existing cluster" and ex["retried"] >= 1, ex
    assert ex["retried"] == len(ex["retried_tasks"])
    assert f"{ex['retried']} retried" in stdout


# --------------------------------------------------------------------------
# The rtl backend on workers
# --------------------------------------------------------------------------

def test_the_build_lock_excludes_other_processes(tmp_path):
    lock = tmp_path / "locks" / "x.lock"
    code = ("import sys, time; from pathlib import Path; from lstm_chiplet.scale.partitions "
            "import file_lock\n"
            f"with file_lock(Path({str(lock)!r})):\n"
            "    print('held', flush=True); time.sleep(1.0); print(time.time(), flush=True)\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        assert holder.stdout.readline().strip() == "held"
        with pt.file_lock(lock):
            got = time.time()
        released = float(holder.stdout.readline())
    finally:
        holder.wait(30)
    assert got >= released


@pytest.mark.cosim
@pytest.mark.hdl
@pytest.mark.timeout(600)
def test_rtl_on_two_workers_is_bit_exact_window_by_window(small_model, tmp_path, capsys):
    from cosim.tools import need_tools
    need_tools("verilator")
    files = write_archive(tmp_path / "in", 2, days=4, stations_per_file=2, anomalies=0)
    rc, _, err = run_detect(capsys, "--csv", tmp_path / "in", "--model", small_model,
                            "--workers", 1, "--out", tmp_path / "fixed")
    assert rc == 0, err
    rc, stdout, err = run_detect(capsys, "--csv", tmp_path / "in", "--model", small_model,
                                 "--backend", "rtl", "--workers", 2, "--chunk-windows", 20,
                                 "--out", tmp_path / "rtl")
    assert rc == 0, err
    rep = json.loads((tmp_path / "rtl" / "report.json").read_text())
    n = rep["windows"]["count"]
    assert rep["bit_exact"]["equal"] and rep["bit_exact"]["windows"] == n > 2 * 20
    assert rep["execution"]["tasks"] >= 2 + n // 20
    assert len(rep["bit_exact"]["cycles_per_window"]) == 1
    # the rtl reconstruction is the fixed one integer for integer, so its scores are too
    fixed_rows = read_csv(tmp_path / "fixed" / "scores.csv")
    rtl_rows = read_csv(tmp_path / "rtl" / "scores.csv")
    assert [r["mse"] for r in rtl_rows] == [r["mse"] for r in fixed_rows]
    assert len(files) == 1 and f"0 of {n} windows differ" in stdout


def test_an_rtl_difference_is_reported_by_station_and_window(archive, small_model, tmp_path,
                                                             capsys, monkeypatch):
    """A stand-in runner one LSB off in one window of each chunk: every one is listed."""
    from lstm_chiplet import backends as bk

    def runner(fixed, x_int, **_):
        y = fixed.reconstruct_int(fixed.formats.input.to_float(x_int)).copy()
        if len(y) > 3:
            y[3, 0, 0] += 1
        return {"reconstruction": y, "cycles_per_window": 1234}

    monkeypatch.setitem(bk.BACKENDS, "rtl", lambda m, f=None, **o: bk.RtlBackend(
        m, f, runner=runner, **o))
    monkeypatch.setattr(pt, "_WORKER_MODELS", {})
    rc, stdout, err = run_detect(capsys, "--csv", archive[0], archive[2], "--model", small_model,
                                 "--backend", "rtl", "--simulator", "icarus", "--workers", 1,
                                 "--chunk-windows", 50, "--out", tmp_path / "o")
    assert rc == 0, err
    bx = json.loads((tmp_path / "o" / "report.json").read_text())["bit_exact"]
    rows = read_csv(tmp_path / "o" / "scores.csv")
    per = {}
    for r in rows:
        per[(r["file"], r["station"])] = per.get((r["file"], r["station"]), 0) + 1
    want = sorted((f, st, a + 3) for (f, st), n in per.items() for a in range(0, n, 50) if n - a > 3)
    got = sorted((Path(d["file"]).name, d["station"], d["window_in_station"]) for d in bx["first"])
    assert not bx["equal"] and bx["windows_differing"] == len(want) == bx["values_differing"]
    assert got == want[:len(got)] and bx["cycles_per_window"] == [1234]


def test_local_workers_keep_the_adaptive_malloc_threshold():
    """Dask's nanny would set MALLOC_TRIM_THRESHOLD_ (the kernels ran 5-10x slower)."""
    from lstm_chiplet.scale.cluster import Executor
    ex = Executor(1)
    ex.in_process = False           # a one-worker LocalCluster, not the in-process shortcut
    with ex:
        got = ex.client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_")
        blas = ex.client.run(os.environ.get, "OPENBLAS_NUM_THREADS")
    assert list(got.values()) == [None] and list(blas.values()) == ["1"]


def test_a_failing_station_is_named_or_skipped_whole(archive, small_model, tmp_path, capsys,
                                                      monkeypatch):
    bad = station_id(1)                      # the second station of the first file
    real = pt.check_finite

    def check(part, a, b):
        if part.station == bad and a >= 40:  # its later chunks only: all of it must go
            raise pt.PartitionError(part.file, part.station, "planted bad values")
        real(part, a, b)

    monkeypatch.setattr(pt, "check_finite", check)
    common = ["--csv", *archive, "--model", small_model, "--workers", 1, "--chunk-windows", 40]
    rc, _, err = run_detect(capsys, *common, "--out", tmp_path / "fail")
    assert rc == 1 and f"{archive[0]}, station {bad}: planted bad values" in err
    rc, _, err = run_detect(capsys, *common, "--skip-bad", "--out", tmp_path / "skip")
    assert rc == 0, err
    rep = json.loads((tmp_path / "skip" / "report.json").read_text())
    assert rep["skipped"] == [{"file": str(archive[0]), "station": bad,
                               "reason": "planted bad values"}]
    rows = read_csv(tmp_path / "skip" / "scores.csv")
    assert rows and bad not in {r["station"] for r in rows}
    assert bad not in {s["station"] for s in rep["stations"]}
