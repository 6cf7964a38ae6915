"""``detect`` over many inputs: several CSV files, a glob or a folder, on Dask workers.

Each file is read on a worker (:func:`.partitions.load_file`) into one partition per
station; each partition is scored in chunks (:func:`.partitions.score_chunk`) on every
backend; the driver gathers the chunks, in file order, then station order, then time,
and writes one report into the output folder with the same rules as a single-file
run (temporary folder, manifest, nothing of anyone else's replaced):

    scores.csv           window_index, file, station, start_time, end_time, mse, threshold
    anomalies.csv        the flagged windows, with mse_over_threshold
    stations.csv         the overall table: one row per station
    scores-<station>.png one plot per station (its windows over time, its threshold)
    report.md, report.json

Threshold scope: ``global`` (default) flags the windows above the percentile of every
scored window together, so stations compare on one scale; ``station`` takes the
percentile of each station's own windows (every station then gets its share of flags:
a ranking within each station, not across them).

The results do not depend on where the chunks ran: ``--workers 1`` (in process) and
any cluster give the same bytes in scores.csv.
"""

from __future__ import annotations

import csv
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import List

import numpy as np

from .partitions import (CHUNK_WINDOWS, RTL_CHUNK_WINDOWS, DataSpec, ModelSpec, PartitionError,
                         chunk_plan, file_info, load_file, score_chunk)

THRESHOLD_SCOPES = ("global", "station")
#: Highest-scoring windows listed per station in report.md.
TOP_PER_STATION = 5


def plot_name(station: str) -> str:
    return "scores-" + re.sub(r"[^A-Za-z0-9_.-]", "_", station) + ".png"


# --------------------------------------------------------------------------
# Running the tasks
# --------------------------------------------------------------------------

def run_tasks(ex, files: List[Path], data: DataSpec, spec: ModelSpec, chunk_windows: int,
              skip_bad: bool, progress) -> dict:
    """Load every file and score every chunk on ``ex``; gather the results.

    Returns ``infos`` (file -> FileInfo), ``chunks`` (list of ChunkResult), ``skipped``
    (file, station, reason), ``tasks`` and ``compute_seconds``.

    Raises
    ------
    PartitionError
        A file or station fails and ``skip_bad`` is off (the others are cancelled).
    """
    loads, pending, infos, chunks, skipped = {}, {}, {}, [], []
    left = defaultdict(int)         # file -> chunks not yet gathered
    total = done = 0
    for f in files:
        lf = ex.submit("load", load_file, str(f), data, spec)
        loads[str(f)] = lf
        pending[ex.submit("plan", file_info, lf)] = ("plan", str(f), None)
    ac = ex.as_completed(list(pending))
    tasks = 2 * len(files)
    compute = cpu = 0.0
    counter = progress.counter("windows scored")
    try:
        for fut in ac:
            kind, path, station = pending.pop(fut)
            try:
                value = fut.result()
            except PartitionError as exc:
                if not skip_bad:
                    raise
                if kind == "chunk":
                    left[path] -= 1
                if not any((s["file"], s["station"]) == (exc.file, exc.station) for s in skipped):
                    skipped.append({"file": exc.file, "station": exc.station,
                                    "reason": exc.reason})
                    progress.say(f"skipped: {exc}")
                value = None
            if value is None:
                pass
            elif kind == "plan":
                infos[path] = value
                compute += value.seconds
                cpu += value.cpu_seconds
                for st, a, b in chunk_plan(value, chunk_windows):
                    c = ex.submit("chunk", score_chunk, loads[path], st, a, b, spec, priority=1)
                    pending[c] = ("chunk", path, st)
                    ac.add(c)
                    tasks += 1
                    left[path] += 1
                total += sum(value.windows.values())
            else:
                chunks.append(value)
                compute += sum(value.seconds.values())
                cpu += value.cpu_seconds
                done += value.stop - value.first
                counter(done, total)
                left[path] -= 1
            if not left[path]:
                loads.pop(path, None)          # nothing of it left to score: release it
    except BaseException:
        ex.cancel(list(pending) + list(loads.values()))
        raise
    dropped = {(s["file"], s["station"]) for s in skipped}    # a skipped station: all of it
    chunks = [c for c in chunks if (c.file, c.station) not in dropped]
    return {"infos": infos, "chunks": chunks, "skipped": skipped, "tasks": tasks,
            "compute_seconds": compute, "cpu_seconds": cpu}



# --------------------------------------------------------------------------
# Gathering
# --------------------------------------------------------------------------

def gather(files: List[Path], got: dict, names: List[str]) -> dict:
    """Chunks into arrays in report order: file order, then station, then time."""
    order = {str(f): i for i, f in enumerate(files)}
    chunks = sorted(got["chunks"], key=lambda c: (order[c.file], c.station, c.first))
    def cat(get, dtype=None):
        return np.concatenate([get(c) for c in chunks]) if chunks else np.zeros(0, dtype=dtype)

    def each(get):
        return np.array([get(c) for c in chunks for _ in range(c.stop - c.first)], dtype=object)

    out = {"file": each(lambda c: c.file), "station": each(lambda c: c.station),
           "start": cat(lambda c: c.start, "datetime64[s]"),
           "end": cat(lambda c: c.end, "datetime64[s]"),
           "max_abs_fixed_float": cat(lambda c: c.max_abs_fixed_float, np.float64),
           "scores": {n: cat(lambda c, n=n: c.scores[n], np.float64) for n in names}}
    from golden.formats import ClampCounts
    clamps = ClampCounts()
    for c in chunks:
        clamps.merge(c.clamps)
    out["clamps"] = clamps
    rtl = [c for c in chunks if c.rtl_differing is not None]
    out["rtl"] = None if not rtl else {
        "windows": sum(c.stop - c.first for c in rtl),
        "differing": [{"file": c.file, "station": c.station, "window_in_station": w, "values": v}
                      for c in rtl for w, v in c.rtl_differing],
        "cycles_per_window": sorted({c.rtl_cycles for c in rtl if c.rtl_cycles is not None})}
    out["worker_pids"] = sorted({c.pid for c in chunks})
    return out


def thresholds(scores: np.ndarray, stations: np.ndarray, percentile: float, scope: str):
    """Per-window threshold (array) and the per-station (or global) values."""
    from .. import report as rp
    limit = np.zeros(len(scores))
    values = {}
    if scope == "global":
        g = rp.threshold(scores, percentile)
        limit[:] = g
        values = {"global": g}
    else:
        for st in sorted(set(stations.tolist())):
            m = stations == st
            values[st] = rp.threshold(scores[m], percentile)
            limit[m] = values[st]
    return limit, values


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------

def _iso(t) -> str:
    return str(np.datetime64(t, "s"))


def write_scores(path: Path, g: dict, s: np.ndarray, limit: np.ndarray, rows=None) -> None:
    idx = range(len(s)) if rows is None else rows
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        head = ["window_index", "file", "station", "start_time", "end_time", "mse", "threshold"]
        w.writerow(head + ([] if rows is None else ["mse_over_threshold"]))
        for i in idx:
            row = [int(i), Path(g["file"][i]).name, g["station"][i], _iso(g["start"][i]),
                   _iso(g["end"][i]), repr(float(s[i])), repr(float(limit[i]))]
            if rows is not None:
                row.append(repr(float(s[i]) / limit[i]) if limit[i] > 0 else "inf")
            w.writerow(row)


def station_table(g: dict, s: np.ndarray, limit: np.ndarray, flags: np.ndarray) -> List[dict]:
    rows = []
    for st in sorted(set(g["station"].tolist())):
        m = np.nonzero(g["station"] == st)[0]
        files = sorted({Path(f).name for f in g["file"][m]})
        top = sorted(m[flags[m]].tolist(), key=lambda i: -s[i])[:TOP_PER_STATION]
        rows.append({"station": st, "files": files, "windows": int(m.size),
                     "flagged": int(flags[m].sum()), "threshold": float(limit[m[0]]),
                     "median_mse": float(np.median(s[m])), "max_mse": float(s[m].max()),
                     "first_start": _iso(g["start"][m].min()), "last_end": _iso(g["end"][m].max()),
                     "plot": plot_name(st),
                     "top": [{"window_index": int(i), "file": Path(g["file"][i]).name,
                              "start_time": _iso(g["start"][i]), "end_time": _iso(g["end"][i]),
                              "mse": float(s[i])} for i in top]})
    return rows


def markdown(rep: dict) -> str:
    from ..report import _table
    th, ex = rep["threshold"], rep["execution"]
    out = ["# Anomaly detection report (many inputs)", "",
           f"Command: `{rep['command']}`", "",
           f"Input: {len(rep['input']['files'])} file(s), {len(rep['stations'])} station(s), "
           f"{rep['windows']['count']} windows of {rep['windows']['steps']} steps "
           f"(stride {rep['windows']['stride']}); no window crosses a station or a gap.", "",
           f"**{th['flagged']} of {rep['windows']['count']} windows flagged** by the "
           f"`{rep['backend']}` backend: score above the {th['percentile']:g}th percentile "
           + ("of every scored window together" if th["scope"] == "global" else
              "of each station's own windows") + f" (threshold scope `{th['scope']}`).", ""]
    out += ["## Where it ran", "",
            f"- {ex['kind']}: {ex['workers']} worker(s)"
            + (f", scheduler {ex['scheduler']}" if ex["scheduler"] else "")
            + f"; dashboard {ex['dashboard']}",
            f"- {ex['tasks']} tasks ({ex['chunk_windows']} windows per chunk at most), "
            f"{ex['seconds']:.2f} s wall, {ex['compute_seconds']:.2f} s of backend time in "
            f"the tasks, {ex['cpu_seconds']:.2f} s of task CPU",
            "- tasks retried (run more than once, e.g. a worker was lost): "
            + ("unknown (the scheduler could not count them)" if ex["retried"] is None
               else str(ex["retried"])), ""]
    if rep["skipped"]:
        out += ["## Skipped (--skip-bad)", ""]
        out += _table(["file", "station", "reason"],
                      [[s["file"], s["station"] or "(every station)", s["reason"]]
                       for s in rep["skipped"]])
        out.append("")
    out += ["## Stations", ""]
    out += _table(["station", "files", "windows", "flagged", "threshold", "median MSE",
                   "max MSE", "from", "to"],
                  [[r["station"], ", ".join(r["files"]), r["windows"], r["flagged"],
                    f"{r['threshold']:.5g}", f"{r['median_mse']:.4g}", f"{r['max_mse']:.4g}",
                    r["first_start"], r["last_end"]] for r in rep["stations"]])
    out.append("")
    out += ["## Backends", ""]
    for cmp in rep["agreement"]:
        a, b = cmp["backends"]
        out.append(f"- {a} and {b} flag " + ("the same windows" if cmp["same"] else
                                              f"different windows ({cmp['differences_total']} differ)"))
    bx = rep["bit_exact"]
    if bx is not None:
        out.append(f"- fixed and rtl, window by window: {bx['windows_differing']} of "
                   f"{bx['windows']} windows differ" + (" (bit-exact)" if bx["equal"] else ""))
    out.append(f"- largest |fixed - float| of a reconstruction value: "
               f"{rep['reconstruction_difference']['max_abs']:.3g}")
    sat = rep["saturation"]
    out.append(f"- fixed-point clamps: {sat['total']}")
    out.append("")
    for r in rep["stations"]:
        out += [f"## Station {r['station']}", "",
                f"{r['windows']} windows from {', '.join(r['files'])}, {r['first_start']} to "
                f"{r['last_end']}; {r['flagged']} flagged above {r['threshold']:.5g}.", "",
                f"![scores of {r['station']}]({r['plot']})", ""]
        if r["top"]:
            out += _table(["window", "file", "start", "end", "MSE"],
                          [[t["window_index"], t["file"], t["start_time"], t["end_time"],
                            f"{t['mse']:.5g}"] for t in r["top"]])
            out.append("")
    if rep["warnings"]:
        out += ["## Warnings", ""] + [f"- {w}" for w in rep["warnings"]] + [""]
    return "\n".join(out)


# --------------------------------------------------------------------------
# The job
# --------------------------------------------------------------------------

def run_many(args, files: List[Path], progress) -> dict:
    """The many-inputs job; writes into ``args._tmp``; returns the report dict."""
    from .. import report as rp
    from ..detect import TOOL, command_line, manifest, saturation_report
    from .cluster import Executor

    tmp: Path = args._tmp
    percentile = rp.check_percentile(args.percentile)
    if args.stride < 1:
        raise ValueError(f"--stride must be a positive integer, got {args.stride}")
    scope = args.threshold_scope
    names = ["float", "fixed"] + ([args.backend] if args.backend not in ("float", "fixed") else [])
    spec = ModelSpec.make(args.model, names, args.lanes, args.simulator,
                          getattr(args, "layers", None))
    feats = None if args.features is None else tuple(
        f.strip() for f in args.features.split(",") if f.strip())
    data = DataSpec(None if args.format == "auto" else args.format, feats, args.stride)
    chunk = args.chunk_windows or (RTL_CHUNK_WINDOWS if "rtl" in names else CHUNK_WINDOWS)
    if chunk < 1:
        raise ValueError(f"--chunk-windows must be positive, got {chunk}")

    from .partitions import worker_backends
    progress.say("loading the model")
    wm = worker_backends(spec)          # here first: a bad model fails before any cluster
    cfg, fixed = wm.loaded.model.cfg, wm.fixed

    progress.say(f"{len(files)} input file(s)")
    t0 = time.perf_counter()
    with Executor(args.workers, args.scheduler, say=progress.say) as ex:
        try:
            got = run_tasks(ex, files, data, spec, chunk, args.skip_bad, progress)
        except PartitionError as exc:
            raise ValueError(f"{exc} (pass --skip-bad to skip it and go on)") from None
        execs = ex.executions()
        where = ex.describe()
    wall = time.perf_counter() - t0
    retried = None if execs is None else sum(1 for v in execs.values() if v > 1)
    if not got["chunks"]:
        raise ValueError("no window to score in any input"
                         + (f" ({len(got['skipped'])} skipped)" if got["skipped"] else ""))

    progress.say("gathering the results")
    g = gather(files, got, names)
    prim = args.backend
    limits, flags, values = {}, {}, {}
    for name in names:
        limits[name], values[name] = thresholds(g["scores"][name], g["station"], percentile, scope)
        flags[name] = np.nonzero(g["scores"][name] > limits[name])[0]
    s, lim = g["scores"][prim], limits[prim]
    fl = np.zeros(len(s), dtype=bool)
    fl[flags[prim]] = True
    shown = {n: values[n]["global"] if scope == "global" else "per station" for n in names}
    agreement = [rp.compare_flags("float", flags["float"], "fixed", flags["fixed"], g["scores"],
                                  shown)]
    bitx = None
    if g["rtl"] is not None:
        agreement.append(rp.compare_flags("fixed", flags["fixed"], "rtl", flags["rtl"],
                                          g["scores"], shown))
        diff = g["rtl"]["differing"]
        bitx = {"backends": ["fixed", "rtl"], "equal": not diff, "windows": g["rtl"]["windows"],
                "windows_differing": len(diff), "values_differing": sum(d["values"] for d in diff),
                "first": diff[:rp.LIST_LIMIT],
                "cycles_per_window": g["rtl"]["cycles_per_window"]}
    mad = g["max_abs_fixed_float"]
    warnings = [w for info in got["infos"].values() for w in info.warnings]
    saturation = saturation_report(g["clamps"], fixed.formats, fixed.layer_names)
    warnings += saturation["warnings"]

    progress.say("writing the outputs")
    write_scores(tmp / "scores.csv", g, s, lim)
    write_scores(tmp / "anomalies.csv", g, s, lim, rows=flags[prim].tolist())
    table = station_table(g, s, lim, fl)
    with open(tmp / "stations.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["station", "files", "windows", "flagged", "threshold", "median_mse", "max_mse",
                    "first_start", "last_end"])
        for r in table:
            w.writerow([r["station"], " ".join(r["files"]), r["windows"], r["flagged"],
                        repr(r["threshold"]), repr(r["median_mse"]), repr(r["max_mse"]),
                        r["first_start"], r["last_end"]])
    for r in table:
        m = np.nonzero(g["station"] == r["station"])[0]
        rp.plot_scores(tmp / r["plot"], s[m], r["threshold"], np.nonzero(fl[m])[0], g["start"][m],
                       title=f"station {r['station']}: window scores ({prim} backend), "
                             f"{m.size} windows, threshold = {percentile:g}th percentile "
                             f"({scope})", window_span_s=3600.0 * (cfg.timesteps - 1))
    outputs = ["scores.csv", "anomalies.csv", "stations.csv"] + [r["plot"] for r in table] + [
        "report.md", "report.json"]
    per_file = defaultdict(dict)
    for path, info in got["infos"].items():
        per_file[path] = {"format": info.format, "stations": info.windows,
                          "stations_without_windows": info.no_windows, "rows": info.counts,
                          "scaling": info.scaling, "seconds": info.seconds}
    rep = {
        "tool": TOOL,
        "command": command_line(args),
        "input": {"kind": "csv-many", "files": [str(f) for f in files], "per_file": dict(per_file)},
        "model": {"path": wm.loaded.path, "kind": wm.loaded.kind, "description": cfg.describe()},
        "windows": {"count": int(len(s)), "steps": cfg.timesteps, "features": cfg.features,
                    "stride": args.stride},
        "backend": prim,
        "threshold": {"percentile": percentile, "scope": scope, "flagged": int(fl.sum()),
                      "value": values[prim].get("global"),
                      "per_station": values[prim] if scope == "station" else None},
        "stations": table,
        "backends": {n: {"threshold": values[n], "flagged": int(len(flags[n]))} for n in names},
        "agreement": agreement,
        "bit_exact": bitx,
        "reconstruction_difference": {"max_abs": float(mad.max()) if mad.size else 0.0,
                                      "lsb": fixed.formats.output.lsb},
        "saturation": saturation,
        "skipped": got["skipped"],
        "execution": dict(where, tasks=got["tasks"], chunk_windows=chunk, seconds=wall,
                          compute_seconds=got["compute_seconds"],
                          cpu_seconds=got["cpu_seconds"], retried=retried,
                          retried_tasks=None if execs is None else
                          sorted(k for k, v in execs.items() if v > 1),
                          worker_processes=len(g["worker_pids"])),
        "warnings": warnings,
        "outputs": outputs,
    }
    (tmp / "report.md").write_text(markdown(rep))
    rep["manifest"] = manifest(tmp, [f for f in outputs if f != "report.json"])
    rp.write_json(tmp / "report.json", rep)
    return rep

