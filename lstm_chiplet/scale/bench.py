"""``lstm-chiplet bench-scale``: the speed-up of 1 against 2 Dask workers, in one run.

Cases (each timed from the first task submitted to the last result gathered; cluster
start-up and each worker's one-off model build are timed apart, as a warm-up):

``fixed``
    ``detect``'s many-inputs work (read every file, cut and scale the windows, score
    them on the fixed backend) over a generated multi-station LCD archive
    (:mod:`.archive`: ``--stations`` station-seasons of ``--days`` days, at least
    200,000 windows by default), cached under ``--out``.
``rtl``
    The first ``--rtl-windows`` windows of the archive on the ``rtl`` backend
    (Verilator, built once into the shared cache), with fixed == rtl checked window by
    window.
``overhead``
    Scheduling cost per task: ``--noop-tasks`` empty tasks through the 2-worker
    cluster, and for the fixed case, (wall - task compute / workers) / tasks.

Each case runs in this process (``--workers 1``, what detect does then), on a
``LocalCluster`` of 1 worker and of 2 workers; the speed-ups are against both 1-worker
figures.  Medians over ``--repeats`` runs (``--rtl-repeats`` for rtl).  Writes
``bench_scale.json`` and ``bench_scale.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "build" / "bench-scale"
#: What the issue asks of the fixed case, at least.
MIN_FIXED_WINDOWS = 200_000
TARGET_SPEEDUP = 1.8


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stations", type=int, default=24,
                   help="stations of the generated archive (default 24)")
    p.add_argument("--days", type=int, default=365, help="days per station (default 365)")
    p.add_argument("--rtl-windows", type=int, default=1000,
                   help="windows of the rtl case (default 1000; 0 skips it)")
    p.add_argument("--repeats", type=int, default=3, help="runs per fixed configuration (median)")
    p.add_argument("--rtl-repeats", type=int, default=1, help="runs per rtl configuration")
    p.add_argument("--noop-tasks", type=int, default=400, help="empty tasks of the overhead case")
    p.add_argument("--model", type=Path, metavar="FILE",
                   help="project model (default: the shipped model)")
    p.add_argument("--lanes", type=int, default=4, help="MAC lanes of the rtl design (default 4)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="where the archive is cached and the results written (build/bench-scale)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def command_line(args) -> str:
    """The command that reproduces this run (options away from their defaults)."""
    defaults = vars(_parser().parse_args([]))
    parts = ["lstm-chiplet", "bench-scale"]
    for name, default in defaults.items():
        v = getattr(args, name, default)
        if v != default and name != "quiet":
            parts += [f"--{name.replace('_', '-')}", shlex.quote(str(v))]
    return " ".join(parts)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lstm-chiplet bench-scale")
    add_arguments(p)
    return p


def _archive(args, say) -> list:
    from .archive import write_archive
    folder = Path(args.out) / f"archive-{args.stations}x{args.days}d"
    stamp = folder / "archive.json"
    want = {"stations": args.stations, "days": args.days, "seed": 100}
    if stamp.is_file() and json.loads(stamp.read_text()) == want:
        return sorted(folder.glob("*.csv"))
    say(f"generating the archive: {args.stations} stations x {args.days} days")
    # half the season anomaly-free, then two events where they fit (48 h apart each)
    normal = max(1, args.days // 2)
    events = int(max(0, min(2, ((args.days - normal) * 24 - 24) // 48)))
    files = write_archive(folder, args.stations, days=args.days, seed=100, anomalies=events,
                          normal_days=normal)
    stamp.write_text(json.dumps(want))
    return files


class _Quiet:
    """Progress that says nothing (the bench prints its own lines)."""

    def say(self, text):
        pass

    def counter(self, what):
        return lambda done, total: None


def _warm(ex, spec) -> None:
    """Every worker builds the model and backends once, before the clock starts."""
    from .partitions import worker_backends
    if ex.in_process:
        worker_backends(spec)
    else:
        ex.client.run(_warm_worker, spec)


def _warm_worker(spec) -> int:
    from .partitions import worker_backends
    worker_backends(spec)
    return os.getpid()


def _time_fixed(ex, files, spec) -> dict:
    from .detect_many import run_tasks
    from .partitions import CHUNK_WINDOWS, DataSpec
    t0 = time.perf_counter()
    got = run_tasks(ex, files, DataSpec(), spec, CHUNK_WINDOWS, False, _Quiet())
    wall = time.perf_counter() - t0
    n = sum(c.stop - c.first for c in got["chunks"])
    return {"seconds": wall, "windows": n, "tasks": got["tasks"],
            "compute_seconds": got["compute_seconds"], "cpu_seconds": got["cpu_seconds"]}


def _time_rtl(ex, path, spec, n: int) -> dict:
    """The first ``n`` windows of ``path`` (station order) on spec's backends."""
    from .partitions import RTL_CHUNK_WINDOWS, DataSpec, file_info, load_file, score_chunk
    t0 = time.perf_counter()
    lf = ex.submit("load", load_file, str(path), DataSpec(), spec)
    info = ex.submit("plan", file_info, lf).result()
    futs, left = [], n
    for st in sorted(info.windows):
        take = min(left, info.windows[st])
        for a in range(0, take, RTL_CHUNK_WINDOWS):
            futs.append(ex.submit("chunk", score_chunk, lf, st, a, min(a + RTL_CHUNK_WINDOWS, take),
                                  spec))
        left -= take
        if left <= 0:
            break
    chunks = [f.result() for f in ex.as_completed(futs)]
    wall = time.perf_counter() - t0
    cpu = info.cpu_seconds + sum(c.cpu_seconds for c in chunks)
    differing = sum(len(c.rtl_differing) for c in chunks)
    return {"seconds": wall, "windows": sum(c.stop - c.first for c in chunks), "tasks": len(futs) + 2,
            "compute_seconds": sum(sum(c.seconds.values()) for c in chunks), "cpu_seconds": cpu,
            "rtl_windows_differing": differing}


def _time_noop(ex, tasks: int) -> dict:
    from .partitions import noop
    t0 = time.perf_counter()
    futs = [ex.submit("noop", noop, i) for i in range(tasks)]
    for f in ex.as_completed(futs):
        f.result()
    wall = time.perf_counter() - t0
    return {"seconds": wall, "tasks": tasks, "ms_per_task": 1e3 * wall / tasks}


CONFIGS = (("in process", 1, True), ("1 worker", 1, False), ("2 workers", 2, False))


def _executor(workers: int, in_process: bool, say):
    from .cluster import Executor
    ex = Executor(workers, None, say=say)
    if not in_process:          # a cluster of one worker: not the in-process shortcut
        ex.in_process = False
    return ex


def run(args) -> int:
    from ..detect import Progress
    from .partitions import ModelSpec
    prog = Progress(args.quiet)
    say = prog.say
    if args.stations < 1 or args.days < 2:
        raise ValueError("--stations must be >= 1 and --days >= 2")
    if min(args.repeats, args.rtl_repeats) < 1:
        raise ValueError("--repeats and --rtl-repeats must be >= 1")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = _archive(args, say)
    fixed_spec = ModelSpec.make(args.model, ("fixed",), args.lanes, "verilator")
    rtl_spec = ModelSpec.make(args.model, ("fixed", "rtl"), args.lanes, "verilator")
    cores = os.cpu_count()
    load = os.getloadavg()
    res = {"command": command_line(args),
           "machine": {"cores": cores, "load_average_at_start": load,
                       "note": "a shared machine: other work ran beside this benchmark"},
           "archive": {"files": len(files), "stations": args.stations, "days": args.days},
           "fixed": {}, "rtl": {}, "overhead": {}}
    if args.rtl_windows:
        say("building the rtl model once (shared cache)")
        from .partitions import worker_backends
        worker_backends(rtl_spec)
    for label, workers, in_process in CONFIGS:
        t0 = time.perf_counter()
        with _executor(workers, in_process, lambda s: None) as ex:
            _warm(ex, fixed_spec)
            started = time.perf_counter() - t0
            runs = []
            for k in range(args.repeats):
                say(f"fixed, {label}: run {k + 1} of {args.repeats}")
                runs.append(_time_fixed(ex, files, fixed_spec))
            res["fixed"][label] = {"startup_seconds": started, "runs": runs,
                                   "median_seconds": statistics.median(r["seconds"] for r in runs),
                                   "windows": runs[0]["windows"], "tasks": runs[0]["tasks"]}
            if label == "2 workers":
                res["overhead"]["noop"] = _time_noop(ex, args.noop_tasks)
            if args.rtl_windows:
                _warm(ex, rtl_spec)
                rtl_runs = []
                for k in range(args.rtl_repeats):
                    say(f"rtl, {label}: run {k + 1} of {args.rtl_repeats}")
                    rtl_runs.append(_time_rtl(ex, files[0], rtl_spec, args.rtl_windows))
                res["rtl"][label] = {"runs": rtl_runs, "windows": rtl_runs[0]["windows"],
                                     "median_seconds": statistics.median(
                                         r["seconds"] for r in rtl_runs)}
    for case in ("fixed", "rtl"):
        got = res[case]
        if not got:
            continue
        two = got["2 workers"]["median_seconds"]
        got["speedup_vs_in_process"] = got["in process"]["median_seconds"] / two
        got["speedup_vs_1_worker"] = got["1 worker"]["median_seconds"] / two
        for v in got.values():
            if isinstance(v, dict) and "median_seconds" in v:
                v["windows_per_second"] = v["windows"] / v["median_seconds"]
    f2 = res["fixed"]["2 workers"]
    best = min(f2["runs"], key=lambda r: r["seconds"])
    res["overhead"]["fixed_2_workers_ms_per_task"] = 1e3 * max(
        0.0, best["seconds"] - best["compute_seconds"] / 2) / best["tasks"]
    res["machine"]["load_average_at_end"] = os.getloadavg()
    (out / "bench_scale.json").write_text(json.dumps(res, indent=2) + "\n")
    text = markdown(res)
    (out / "bench_scale.md").write_text(text)
    print(text)
    return 0


def markdown(res: dict) -> str:
    from ..report import _table
    rows = []
    for case in ("fixed", "rtl"):
        for label, _, _ in CONFIGS:
            v = res[case].get(label)
            if v:
                run = min(v["runs"], key=lambda r: abs(r["seconds"] - v["median_seconds"]))
                rows.append([case, label, v["windows"], f"{v['median_seconds']:.2f}",
                             f"{v['windows_per_second']:.1f}", f"{run['cpu_seconds']:.1f}",
                             f"{run['cpu_seconds'] / run['seconds']:.2f}", len(v["runs"])])
    lines = ["# bench-scale: 1 against 2 Dask workers", "",
             f"Command: `{res['command']}`", "",
             f"Machine: {res['machine']['cores']} cores, load average "
             f"{res['machine']['load_average_at_start'][0]:.2f} at the start and "
             f"{res['machine']['load_average_at_end'][0]:.2f} at the end; "
             + res["machine"]["note"] + ".", ""]
    lines += _table(["case", "where", "windows", "median s", "windows/s", "task CPU s",
                     "cores busy", "runs"], rows)
    lines += ["", "(task CPU s and cores busy: of the median run; cores busy = task CPU / wall, "
              "at most the workers; below that, the cores were taken by other work)", ""]
    for case in ("fixed", "rtl"):
        v = res[case]
        if v:
            lines.append(f"- {case}: speed-up of 2 workers {v['speedup_vs_in_process']:.2f}x "
                         f"against in process, {v['speedup_vs_1_worker']:.2f}x against a "
                         f"1-worker cluster (target {TARGET_SPEEDUP}x)")
    if res["rtl"]:
        diff = sum(r["rtl_windows_differing"] for v in res["rtl"].values() if isinstance(v, dict)
                   and "runs" in v for r in v["runs"])
        lines.append(f"- rtl: windows where fixed and rtl differ, over every run: {diff}")
    ov = res["overhead"]
    lines.append(f"- scheduling overhead per task: {ov['noop']['ms_per_task']:.2f} ms (empty "
                 f"tasks on 2 workers); {ov['fixed_2_workers_ms_per_task']:.1f} ms per partition "
                 "chunk in the fixed case (wall - compute / 2, over tasks)")
    lines.append(f"- fixed archive: {res['archive']['stations']} stations x {res['archive']['days']}"
                 f" days in {res['archive']['files']} files; cluster start-up (2 workers, with "
                 f"the model build) {res['fixed']['2 workers']['startup_seconds']:.1f} s, "
                 "not in the timings")
    return "\n".join(lines) + "\n"
