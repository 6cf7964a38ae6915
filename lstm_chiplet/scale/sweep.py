"""``lstm-chiplet sweep``: a design-space sweep of the whole-window design, one task per point.

A point is (model file, lanes, nextpnr seed, clock target).  The model files are the
formats axis: each carries its topology and, per layer, its formats (``lstm-chiplet
quantize`` writes a model with its own, one file per searched configuration), and
the row gives what those formats cost (memory bits, multiplier widths,
:func:`lstm_chiplet.quantize.hardware_cost`).  Each point is one task on the same
workers as ``detect`` (:class:`.cluster.Executor`):

1. cycles per window of the design (:func:`lstm_chiplet.backends.engine_cycles`);
2. the co-simulation check: ``--cosim-windows`` generated windows on the converted
   Verilog (Verilator), compared integer for integer with the fixed-point model;
3. conversion, synthesis and place and route on the iCE40 UP5K
   (:func:`lstm_chiplet.implementation.flow.implement`; ``--no-place``: synthesis only).

Each finished point is cached as ``points/<key>.json`` under ``--out`` (written to a
temporary name, then renamed); the key is a digest of the model file's bytes and the
point's parameters, so a rerun computes only the points it does not hold.  Outputs:
``sweep.json``, ``sweep.csv``, ``sweep.md`` and ``pareto.png`` (window time at the
achieved clock, and at 200 MHz, against logic cells; the Pareto front joined).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "build" / "sweep"
#: The clock of the chiplet figures (the window time is also given at it).
CHIPLET_MHZ = 200.0


@dataclass(frozen=True)
class SweepPoint:
    lanes: int
    seed: int
    target_mhz: float
    place: bool
    cosim_windows: int
    #: the model file's name, for the table (its bytes are in the cache key)
    model: str = "shipped"

    def label(self) -> str:
        return f"{self.model} P={self.lanes} seed={self.seed} {self.target_mhz:g} MHz"


def point_key(model_digest: str, point: SweepPoint) -> str:
    params = {k: v for k, v in asdict(point).items() if k != "model"}
    text = json.dumps({"model": model_digest, **params}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def formats_summary(fixed) -> dict:
    """What a model's formats cost and how wide they are, for the table."""
    from golden.calibration import LSTM_ROLES
    from golden.formats import short_format
    from ..quantize import hardware_cost
    cost = hardware_cost(fixed.cfg, fixed.formats)
    words = {r: sorted(set(fixed.formats.word_bits(r))) for r in LSTM_ROLES}
    return {"formats": "/".join("-".join(str(w) for w in words[r]) for r in words),
            "preact_formats": ", ".join(short_format(f.preact) for f in fixed.formats.layers),
            "memory_bits": cost["memory_bits"], "multiplier": cost["multiplier"]}


def model_digest(path: Optional[Path]) -> str:
    from ..detect import DEFAULT_MODEL, file_digest
    return file_digest(Path(path) if path is not None else DEFAULT_MODEL)


def run_point(point: SweepPoint, model: Optional[str], workdir: str) -> dict:
    """One point of the sweep (runs on a worker); the row of the table."""
    import numpy as np

    from golden.autoencoder import synthetic_windows
    from .. import backends as bk
    from ..detect import load_model
    from ..implementation.flow import implement
    from ..implementation.sources import autoencoder_source
    t0 = time.perf_counter()
    fixed = load_model(None if model is None else Path(model)).fixed()
    cyc = bk.engine_cycles(fixed.cfg, bk.cycle_formats(fixed), point.lanes)
    row = {**asdict(point), **formats_summary(fixed), "cycles_per_window": cyc["cycles_per_window"],
           "multipliers": cyc["multipliers"], "mac_utilisation": cyc["mac_utilisation"]}
    if point.cosim_windows:
        from cosim.autoencoder import run_autoencoder_windows
        from .partitions import build_rtl_once
        build_rtl_once(fixed, point.lanes)
        x = synthetic_windows(point.cosim_windows, fixed.cfg, seed=point.seed)
        got = run_autoencoder_windows(fixed, fixed.quantize_windows(x), lanes=point.lanes)
        want = fixed.reconstruct_int(x)
        row["cosim_bit_exact"] = bool(np.array_equal(np.asarray(got["reconstruction"]), want))
        row["cosim_cycles_per_window"] = got["cycles_per_window"]
    src = autoencoder_source(point.lanes, Path(workdir) / "rtl", fixed)
    rep = implement(src, Path(workdir), target_mhz=point.target_mhz, seed=point.seed,
                    place=point.place)
    res = rep["synthesis"]["resources"]
    pnr = rep.get("place_and_route") or {}
    used = {k: v.get("used") for k, v in (pnr.get("utilisation") or {}).items()}
    fmax = pnr.get("fmax_mhz")
    row.update(design=rep["design"], fits=rep["fits"], verdict=rep["verdict"],
               logic_cells=used.get("ICESTORM_LC", res.get("logic_cells_min")),
               logic_cells_placed=used.get("ICESTORM_LC") is not None,
               dsp=res.get("dsp"), ebr=res.get("ebr"), spram=res.get("spram"), fmax_mhz=fmax,
               us_per_window_up5k=(cyc["cycles_per_window"] / fmax if fmax else None),
               us_per_window_200mhz=cyc["cycles_per_window"] / CHIPLET_MHZ,
               seconds=time.perf_counter() - t0)
    return row


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def pareto(rows, x: str, y: str) -> list:
    """Indices of ``rows`` on the front (no other row is at most as large in both, and
    smaller in one), for rows where both values are known; in x order."""
    known = [i for i, r in enumerate(rows) if r.get(x) is not None and r.get(y) is not None]
    front = [i for i in known if not any(
        rows[j][x] <= rows[i][x] and rows[j][y] <= rows[i][y] and
        (rows[j][x] < rows[i][x] or rows[j][y] < rows[i][y]) for j in known)]
    return sorted(front, key=lambda i: rows[i][x])


def plot(path: Path, rows: list) -> None:
    """Window time against logic cells (left) and against memory bits (right, where the
    formats axis shows), each with its Pareto front."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), dpi=110)
    models = len({r.get("model") for r in rows}) > 1
    for ax, xkey, xlabel in ((axes[0], "logic_cells", "logic cells"),
                             (axes[1], "memory_bits", "memory bits (weights, state, tables)")):
        drawn = False
        for key, label, mark in (("us_per_window_up5k", "UP5K, achieved clock", "o"),
                                 ("us_per_window_200mhz", f"at {CHIPLET_MHZ:g} MHz", "s")):
            pts = [r for r in rows if r.get(key) is not None and r.get(xkey) is not None]
            if not pts:
                continue
            drawn = True
            ax.plot([r[xkey] for r in pts], [r[key] for r in pts], mark, label=label)
            front = pareto(pts, xkey, key)
            ax.plot([pts[i][xkey] for i in front], [pts[i][key] for i in front], "-", alpha=0.6)
            for r in pts:
                ax.annotate(f"P={r['lanes']}" + (f" {r.get('model')}" if models else ""),
                            (r[xkey], r[key]), fontsize=7)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("window time (us)")
        ax.set_yscale("log")
        if drawn:
            ax.legend(fontsize=8)
    axes[0].set_title("whole-window design: window time against logic cells", fontsize=10)
    axes[1].set_title("... and against the formats' memory bits", fontsize=10)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.partial.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)


COLUMNS = ("model", "formats", "memory_bits", "multiplier", "lanes", "seed", "target_mhz", "place",
           "fits", "cosim_bit_exact", "cycles_per_window",
           "multipliers", "logic_cells", "dsp", "ebr", "spram", "fmax_mhz", "us_per_window_up5k",
           "us_per_window_200mhz", "seconds", "cached")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lanes", default="1,2,4", help="MAC lanes per gate unit (default 1,2,4)")
    p.add_argument("--seeds", default="1", help="nextpnr seeds (default 1)")
    p.add_argument("--target-mhz", default=None,
                   help="clock constraints of place and route, comma-separated (default: the flow's)")
    p.add_argument("--model", type=Path, metavar="FILE", nargs="+",
                   help="model files, the formats axis (each its topology and per-layer formats, "
                   "e.g. several lstm-chiplet quantize results; default: the shipped model)")
    p.add_argument("--no-place", action="store_true", help="synthesis only, no nextpnr")
    p.add_argument("--cosim-windows", type=int, default=4,
                   help="windows of the co-simulation check per point (default 4; 0 skips)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="local Dask workers (default: the machine's cores; 1: in process)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="an existing Dask cluster")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (build/sweep)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _ints(text: str, what: str) -> list:
    from ..implementation.cli import _ints as parse     # synth's comma-separated integers
    vals = parse(text, what)
    if not vals:
        raise ValueError(f"{what}: no value in {text!r}")
    return vals


def _mhz(text: str) -> list:
    vals = []
    for part in str(text).split(","):
        try:
            v = float(part)
        except ValueError:
            raise ValueError(f"--target-mhz: {part.strip()!r} is not a clock in MHz") from None
        if not v > 0:
            raise ValueError(f"--target-mhz: a clock must be positive, got {part.strip()}")
        vals.append(v)
    return vals


def _model_files(paths) -> list:
    """``(name, path)`` per model file (``None``: the shipped model), checked before any
    work; names are the file names, made unique with their folder where two clash."""
    if not paths:
        return [("shipped", None)]
    for p in paths:
        if not Path(p).is_file():
            raise ValueError(f"--model {p}: no such model file")
    resolved = [Path(p).resolve() for p in paths]
    twice = sorted({str(p) for p, r in zip(paths, resolved) if resolved.count(r) > 1})
    if twice:
        raise ValueError(f"--model: {', '.join(twice)} given twice")
    names = [Path(p).name for p in paths]
    out = [(n if names.count(n) == 1 else f"{Path(p).parent.name}/{n}", Path(p)) for n, p in zip(names, paths)]
    if len({n for n, _ in out}) != len(out):          # same name and same folder name
        out = [(str(p), Path(p)) for p in paths]
    return out


def run(args) -> int:
    from ..detect import Progress
    from ..implementation.device import TARGET_MHZ
    from .cluster import Executor
    prog = Progress(args.quiet)
    out = Path(args.out)
    targets = _mhz(args.target_mhz) if args.target_mhz is not None else [float(TARGET_MHZ)]
    files = _model_files(args.model)
    points, digests, paths = [], {}, {}
    for name, path in files:
        digests[name] = model_digest(path)
        paths[name] = None if path is None else str(path.resolve())
        points += [SweepPoint(p, s, t, not args.no_place, int(args.cosim_windows), name)
                   for p in _ints(args.lanes, "--lanes") for s in _ints(args.seeds, "--seeds")
                   for t in targets]
    keys = {pt: point_key(digests[pt.model], pt) for pt in points}
    rows, todo = {}, []
    for pt in points:
        cached = out / "points" / f"{keys[pt]}.json"
        if cached.is_file():
            rows[pt] = dict(json.loads(cached.read_text()), model=pt.model, cached=True)
        else:
            todo.append(pt)
    prog.say(f"{len(points)} points, {len(points) - len(todo)} cached, {len(todo)} to run")
    if todo:
        with Executor(args.workers, args.scheduler, say=prog.say) as ex:
            futs = {ex.submit("point", run_point, pt, paths[pt.model], str(out / "work" / keys[pt])): pt
                    for pt in todo}
            for k, fut in enumerate(ex.as_completed(list(futs)), 1):
                pt = futs[fut]
                row = fut.result()
                _write_atomic(out / "points" / f"{keys[pt]}.json",
                              json.dumps(row, indent=2) + "\n")
                rows[pt] = dict(row, model=pt.model, cached=False)
                prog.say(f"point {k} of {len(todo)} done: {pt.label()}")
    table = [rows[pt] for pt in points]
    idx = pareto(table, "logic_cells", "us_per_window_200mhz")
    front = [{k: table[i].get(k) for k in ("model", "lanes", "seed", "target_mhz")} for i in idx]
    _write_atomic(out / "sweep.json", json.dumps(
        {"points": table, "pareto_lanes_200mhz": [table[i]["lanes"] for i in idx],
         "pareto_200mhz": front}, indent=2) + "\n")
    with open(out / ".sweep.csv.tmp", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for r in table:
            w.writerow([r.get(c) for c in COLUMNS])
    os.replace(out / ".sweep.csv.tmp", out / "sweep.csv")
    from ..report import _table
    md = ["# Design-space sweep of the whole-window design", ""] + _table(
        COLUMNS, [[("-" if r.get(c) is None else r.get(c)) for c in COLUMNS] for r in table])
    _write_atomic(out / "sweep.md", "\n".join(md) + "\n")
    plot(out / "pareto.png", table)
    print("\n".join(md))
    return 0
