"""``lstm-chiplet detect``: NOAA data in, anomalous windows out, with the report.

With no arguments it generates the built-in default data (a NOAA LCD hourly CSV with
injected anomalies, :mod:`lstm_chiplet.workload.synthetic`) into the output folder,
loads it with the LCD loader (:mod:`lstm_chiplet.workload.noaa`), scales it with the
shipped model's scaler, cuts windows of the model's T steps (stride 1) and scores
every window on the chosen backend (:mod:`lstm_chiplet.backends`, default
``fixed``).  The ``float`` and ``fixed`` backends always run too, so the report can
say whether they flag the same windows; ``rtl`` runs when asked for.

Outputs (``--out``, default ``build/detect``)::

    scores.csv        window_index, station, start_time, end_time, mse (every window)
    anomalies.csv     the windows scoring above the threshold
    scores.png        scores over time, threshold, anomalies (injected events shaded)
    report.md         what was found, how the backends agree, cycles, bytes, performance
    report.json       the same, machine-readable (layout in docs/detect.md)

plus the generated CSV and its anomaly list when the default data is used.

Nothing half-written is ever left: the run writes into a temporary folder beside
``--out`` and moves it into place at the end; a failed run leaves the previous
outputs as they were.  Nothing the run did not write is ever deleted: report.json
lists every file of the run with its SHA-256 (``manifest``), and a later run into the
same folder replaces only the files that manifest lists and that nobody changed since;
every other file stays.  A non-empty ``--out`` without a previous ``detect`` report is
refused, and so is an input (CSV, windows, model) inside ``--out``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional

import numpy as np

REPO = Path(__file__).resolve().parent.parent
#: The model the project ships (trained on the generated default data).
DEFAULT_MODEL = Path(__file__).resolve().parent / "data" / "default_model.npz"
DEFAULT_OUT = REPO / "build" / "detect"
#: Marker written into report.json; an existing --out holding it may be replaced.
TOOL = "lstm-chiplet detect"
#: Highest-scoring anomalies listed in report.md.
TOP_ANOMALIES = 10


class DetectError(ValueError):
    """A problem with the job's input or output; the message names it."""


# --------------------------------------------------------------------------
# Progress (stderr)
# --------------------------------------------------------------------------

class Progress:
    """Stage messages and a progress line on stderr (silent with ``quiet``)."""

    def __init__(self, quiet: bool = False, stream=None):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._t0 = time.perf_counter()
        self._last = -1

    def say(self, text: str) -> None:
        if not self.quiet:
            print(f"[{time.perf_counter() - self._t0:6.1f} s] {text}", file=self.stream, flush=True)

    def counter(self, what: str):
        """A ``progress(done, total)`` callback drawing ``what: done/total``."""
        self._last = -1

        def progress(done: int, total: int) -> None:
            if self.quiet or total <= 0:
                return
            if self.tty:
                end = "\n" if done >= total else ""
                print(f"\r  {what}: {done}/{total} windows ({100 * done // total:3d} %)", end=end,
                      file=self.stream, flush=True)
            else:          # a log: a line per quarter
                q = 4 * done // total
                if q != self._last and (done == 0 or q > self._last):
                    self._last = q
                    print(f"  {what}: {done}/{total} windows", file=self.stream, flush=True)
        return progress


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------

def load_model(path: Optional[Path]):
    """Load ``path`` (project, Keras or PyTorch format, detected) or the shipped model.

    Returns
    -------
    lstm_chiplet.models.project.LoadedModel
        ``model`` (float), ``fmts``, ``scaler`` (None for Keras and PyTorch files),
        ``kind`` and ``path``.
    """
    from .models.store import load_any_model
    if path is None:
        path = DEFAULT_MODEL
        if not path.is_file():
            raise DetectError(f"the shipped default model {path} is missing; pass --model FILE "
                              "(a project, Keras get_weights() or PyTorch state-dict .npz)")
    path = Path(path)
    if not path.is_file():
        raise DetectError(f"model file {path} not found")
    return load_any_model(path)


def _csv_features(text: Optional[str]):
    if text is None:
        return None
    feats = [f.strip() for f in text.split(",") if f.strip()]
    if not feats:
        raise DetectError(f"--features: no column named in {text!r}")
    return feats


def load_npz_windows(path: Path, cfg) -> dict:
    """Already scaled windows from ``path`` (key ``sequences``, (N, T, F)), no pickle.

    Optional keys: ``stations`` (N,) and ``times`` (N, T) datetime64 (as
    :class:`lstm_chiplet.workload.noaa.Windows` holds them).
    """
    path = Path(path)
    if not path.is_file():
        raise DetectError(f"windows file {path} not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = list(z.keys())
            if "sequences" not in keys:
                raise DetectError(f"{path}: no array 'sequences' (arrays found: "
                                  f"{', '.join(keys) or 'none'}); expected scaled windows (N, T, F)")
            seq = z["sequences"]
            stations = z["stations"] if "stations" in keys else None
            times = z["times"] if "times" in keys else None
    except DetectError:
        raise
    except (OSError, ValueError) as exc:
        raise DetectError(f"{path}: not a readable .npz without pickled objects ({exc})") from None
    if seq.ndim != 3:
        raise DetectError(f"{path}: 'sequences' must have shape (N, T, F), got {seq.shape}")
    if not np.issubdtype(seq.dtype, np.number) or np.issubdtype(seq.dtype, np.complexfloating):
        raise DetectError(f"{path}: 'sequences' must be real numbers, got dtype {seq.dtype}")
    seq = seq.astype(np.float64)
    n, t, f = seq.shape
    if n == 0:
        raise DetectError(f"{path}: 'sequences' holds no window (shape {seq.shape})")
    if t != cfg.timesteps:
        raise DetectError(f"{path}: windows of {t} steps, the model expects {cfg.timesteps}")
    if f != cfg.features:
        raise DetectError(f"{path}: windows of {f} features, the model expects {cfg.features}")
    bad = int(seq.size - np.count_nonzero(np.isfinite(seq)))
    if bad:
        raise DetectError(f"{path}: 'sequences' holds {bad} NaN or infinite value(s)")
    if stations is not None and stations.shape != (n,):
        raise DetectError(f"{path}: 'stations' must have shape ({n},), got {stations.shape}")
    if times is not None:
        if times.shape != (n, t) or not np.issubdtype(times.dtype, np.datetime64):
            raise DetectError(f"{path}: 'times' must be datetime64 of shape ({n}, {t}), got "
                              f"{times.dtype} {times.shape}")
        times = times.astype("datetime64[s]")
    return {"sequences": seq, "stations": None if stations is None else stations.astype(str),
            "times": times}


# --------------------------------------------------------------------------
# The output folder
# --------------------------------------------------------------------------

def _previous_report(out: Path) -> Optional[dict]:
    """The report.json a previous detect run left in ``out``, or None."""
    rep = out / "report.json"
    if not rep.is_file():
        return None
    try:
        d = json.loads(rep.read_text())
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) and d.get("tool") == TOOL else None


def _is_previous_output(out: Path) -> bool:
    return not any(out.iterdir()) or _previous_report(out) is not None


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def manifest(folder: Path, names) -> list:
    """Name, size and SHA-256 of each file ``names`` in ``folder`` (report.json's list)."""
    return [{"file": n, "bytes": (folder / n).stat().st_size, "sha256": file_digest(folder / n)}
            for n in names]


#: The files every detect run writes (the default data's CSV and anomaly list besides).
RUN_OUTPUTS = ("scores.csv", "anomalies.csv", "scores.png", "report.md", "report.json")


def _legacy_outputs() -> frozenset:
    """File names a report without a manifest vouches for: what detect itself writes."""
    from .workload import synthetic
    data = synthetic.DEFAULT_FILENAME
    return frozenset(RUN_OUTPUTS + (data, synthetic.anomalies_path_for(data).name))


def owned_files(out: Path) -> List[str]:
    """The files of ``out`` that its previous detect run wrote and nobody changed since.

    From the previous report.json's manifest (name and SHA-256 must both match); a
    report without a manifest vouches only for the file names detect itself writes.
    report.json itself always counts.
    """
    rep = _previous_report(out)
    if rep is None:
        return []
    owned = {"report.json"}
    listed = rep.get("manifest")
    if isinstance(listed, list):
        for entry in listed:
            name = entry.get("file") if isinstance(entry, dict) else None
            if (isinstance(name, str) and name == Path(name).name and name not in (".", "..")
                    and (out / name).is_file() and file_digest(out / name) == entry.get("sha256")):
                owned.add(name)
    else:
        names = rep.get("outputs") if isinstance(rep.get("outputs"), list) else []
        legacy = _legacy_outputs()
        owned |= {n for n in names if isinstance(n, str) and n in legacy and (out / n).is_file()}
    return sorted(owned)


def check_inputs_outside(out: Path, inputs: dict) -> None:
    """Refuse an input file inside the output folder (a run replaces files there)."""
    root = Path(out).resolve()
    for what, path in inputs.items():
        if path is None:
            continue
        p = Path(path).resolve()
        if p == root or root in p.parents:
            raise DetectError(f"{what} {path} lies inside the output folder {out}; a run "
                              "replaces its own files there: move the input or choose another --out")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:         # someone else's live process
        return True
    return True


def remove_stale_partials(out: Path) -> List[str]:
    """Delete the temporary folders of earlier runs into ``out`` that were killed.

    Only folders of this tool's own naming (``.<out>.partial-<pid>-...``) whose process
    no longer exists are removed; returns their names.
    """
    parent = Path(out).absolute().parent
    prefix = f".{Path(out).name}.partial-"
    removed = []
    if not parent.is_dir():
        return removed
    for p in parent.iterdir():
        if not (p.name.startswith(prefix) and p.is_dir() and not p.is_symlink()):
            continue
        pid = p.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
    return removed


def _check_not_taken(out: Path, names, owned) -> None:
    """Refuse when a file ``names`` would replace is not one of ``owned``."""
    for name in names:
        if (out / name).exists() and name not in owned:
            raise DetectError(f"output folder {out}: {name} is there and is not a file of the "
                              "previous detect run (or it was changed since); it is left alone: "
                              "move it or choose another --out")


def prepare_output(out: Path) -> Path:
    """Check ``out`` can take the results; return a fresh temporary folder beside it
    (named after this process, so a later run can tell when it is stale)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DetectError(f"output folder {out} cannot be written: it is a file")
    if out.is_dir() and not _is_previous_output(out):
        raise DetectError(f"output folder {out} exists and does not hold a previous detect "
                          "report (no report.json written by lstm-chiplet detect); choose "
                          "another --out or empty it")
    if out.is_dir():        # the files every run writes: refused now, not after the work
        _check_not_taken(out, RUN_OUTPUTS, set(owned_files(out)))
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(out)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-{os.getpid()}-", dir=parent))
    except OSError as exc:
        raise DetectError(f"output folder {out} cannot be written: "
                          f"{exc.strerror or exc} ({exc.filename or parent})") from None
    return tmp


def commit_output(tmp: Path, out: Path) -> None:
    """Move the finished ``tmp`` folder's files into ``out``.

    A new ``out`` is ``tmp`` renamed.  Into an existing one, the files the previous
    run owns (:func:`owned_files`) are set aside, the new files moved in, and the old
    ones deleted only once every new file is in place; on any failure the folder is
    put back as it was.  A new file whose name is taken by a file the previous run
    does not own (the user's, or one changed since) stops the run, naming it.
    """
    tmp, out = Path(tmp), Path(out)
    if not out.exists():
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)       # mkdtemp made it private
        os.rename(tmp, out)
        return
    owned = set(owned_files(out))
    new = sorted(p.name for p in tmp.iterdir())
    _check_not_taken(out, new, owned)
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.previous-", dir=out.absolute().parent))
    set_aside, moved_in = [], []
    try:
        for name in sorted(owned):
            if (out / name).exists():
                os.rename(out / name, old / name)
                set_aside.append(name)
        for name in new:
            os.rename(tmp / name, out / name)
            moved_in.append(name)
    except OSError:
        for name in moved_in:
            os.rename(out / name, tmp / name)
        for name in set_aside:
            os.rename(old / name, out / name)
        os.rmdir(old)
        raise
    shutil.rmtree(old, ignore_errors=True)
    os.rmdir(tmp)


# --------------------------------------------------------------------------
# The job
# --------------------------------------------------------------------------

def _summary_counts(summary: dict) -> Optional[dict]:
    from .workload.noaa import _REPAIRED
    rows = summary.get("rows")
    if not rows:
        return None
    dropped = sum(v for k, v in rows.items() if k not in ("read", "kept"))
    repaired = sum(c.get(k, 0) for c in summary.get("columns", {}).values() for k in _REPAIRED)
    return {"read": rows["read"], "kept": rows["kept"], "dropped": dropped, "repaired": repaired}


def _formats_text(formats, names) -> dict:
    """Per layer (and ``dense``): role -> ``s16 Q2.14 (nearest_posinf, saturate)``."""
    def q(f):
        return (f"{'s' if f.signed else 'u'}{f.word_bits} Q{f.word_bits - f.frac_bits}.{f.frac_bits} "
                f"({f.rounding}, {f.overflow})")
    out = {name: {role: q(getattr(f, role)) for role in ("vec", "weight", "preact", "act")}
           for name, f in zip(names, formats.layers)}
    out["dense"] = {"weight": q(formats.dense.weight), "out": q(formats.output)}
    return out


#: What a clamped tensor means, for the warnings.
_CLAMPED = {"x": "inputs", "z_i": "input-gate pre-activations", "z_f": "forget-gate pre-activations",
            "z_g": "candidate pre-activations", "z_o": "output-gate pre-activations",
            "c": "cell states", "h": "hidden states", "y": "reconstruction values",
            "tanh_g": "candidate pre-activations", "tanh_c": "cell states"}


def saturation_report(clamps, formats, names) -> dict:
    """Clamp counts of the fixed-point run per layer and tensor, and the warnings."""
    from golden.activations import tanh_input_limit
    rows = clamps.to_list()
    fmt_of = {name: f for name, f in zip(names, formats.layers)}
    warn = []
    for layer, tensor, c, seen in clamps.clamped():
        if layer == "dense":
            fmt = formats.output
        else:
            f = fmt_of[layer]
            fmt = f.vec if tensor in ("x", "h") else f.preact
        q = f"Q{fmt.word_bits - fmt.frac_bits}.{fmt.frac_bits}"
        if tensor.startswith("tanh_"):
            edge = tanh_input_limit(fmt_of[layer]) * fmt.lsb
            warn.append(f"fixed point saturated tanh of {c} of {seen} {_CLAMPED[tensor]} "
                        f"({tensor}) of {layer} beyond |{edge:.4g}|, where the activation table "
                        f"of {q} ends (tanh is looked up at twice its input): its reconstruction "
                        "differs from float there; quantize the model on such data "
                        "(lstm-chiplet quantize) for more preact integer bits")
            continue
        warn.append(f"fixed point saturated {c} of {seen} {_CLAMPED.get(tensor, tensor)} "
                    f"({tensor}) of {layer} at the limits of {q} [{fmt.min:g}, {fmt.max:g}]: "
                    "its reconstruction differs from float there; quantize the model on such "
                    "data (lstm-chiplet quantize) for wider formats")
    return {"total": clamps.total, "tensors": rows, "clamped": [r for r in rows if r["clamped"]],
            "warnings": warn}


def _error_bound(fixed, x, rd, say) -> dict:
    """The derived bound at the largest difference (trajectory bound of that window)."""
    if rd.get("at") is None:
        return {"available": False, "reason": "no windows"}
    w, t, f = rd["at"]["window_index"], rd["at"]["step"], rd["at"]["feature"]
    try:
        from golden.error_bound import static_autoencoder_bound, trajectory_autoencoder_bound
    except ImportError as exc:
        return {"available": False, "reason": f"golden.error_bound not importable ({exc})"}
    say(f"error bound of window {w} (trajectory, affine arithmetic)")
    try:
        tb = trajectory_autoencoder_bound(fixed, x[w])
        sb = static_autoencoder_bound(fixed)
    except (ValueError, ArithmeticError) as exc:
        return {"available": False, "reason": str(exc)}
    static_max = float(sb.reconstruction_max)
    in_box = bool(np.all((x >= 0.0) & (x <= 1.0)))
    return {"available": True, "method": tb.method, "window_index": w,
            "at_value": float(tb.reconstruction[t, f]), "window_max": float(tb.reconstruction_max),
            "within": bool(rd["max_abs"] <= float(tb.reconstruction[t, f])),
            "static_max": static_max if np.isfinite(static_max) else None,
            "static_applies": in_box,
            "note": "bound on |fixed - float| for that window, derived in golden.error_bound"}


def run_job(args, progress: Progress) -> dict:
    """Everything but the renaming; writes into ``args._tmp``; returns the report dict."""
    from golden.autoencoder import window_scores
    from .workload.noaa import (DataError, MinMaxScaler, UnitError, format_summary, load_windows,
                                out_of_range_warnings, unit_interval_counts)
    from . import backends as bk
    from . import perf
    from . import report as rp

    tmp: Path = args._tmp
    out: Path = Path(args.out)
    say = progress.say
    percentile = rp.check_percentile(args.percentile)
    if args.stride < 1:
        raise DetectError(f"--stride must be a positive integer, got {args.stride}")

    say("loading the model")
    lm = load_model(args.model)
    cfg = lm.model.cfg
    warnings: List[str] = []
    # built before the data is read, so a missing backend fails at once
    names = ["float", "fixed"] + ([args.backend] if args.backend not in ("float", "fixed") else [])
    fixed = lm.fixed()
    built = {name: bk.make_backend(name, lm.model, fixed, lanes=args.lanes,
                                   simulator=args.simulator, port=getattr(args, "port", None),
                                   baud=getattr(args, "baud", None),
                                   timeout=getattr(args, "board_timeout", None)) for name in names}

    # ------------------------------------------------------------ data
    synth = None
    stations = times = None
    data_info = {"format": None, "features": [], "counts": None, "summary": None,
                 "summary_text": None}
    if args.windows is not None:
        say(f"reading scaled windows from {args.windows}")
        wz = load_npz_windows(args.windows, cfg)
        x = wz["sequences"]
        stations, times = wz["stations"], wz["times"]
        feats = list(lm.scaler.features) if lm.scaler is not None else [f"f{i}" for i in range(cfg.features)]
        data_info.update(format="npz", features=feats)
        outside = int(np.count_nonzero((x < 0) | (x > 1)))
        scaling = {"description": "none: the windows are already scaled"
                   + (f" ({outside} values outside [0, 1])" if outside else ""),
                   "source": "input", "values_outside_unit": outside}
        units_info = None
        warnings.extend(out_of_range_warnings(unit_interval_counts(x, feats),
                                              what="the unit interval"))
        input_desc = f"scaled windows {args.windows} ({len(x)} windows)"
        input_kind = "windows"
        stride = None
    else:
        if args.csv is not None:
            csv_path = Path(args.csv)
            if not csv_path.is_file():
                raise DetectError(f"CSV file {csv_path} not found")
            fmt = None if args.format == "auto" else args.format
            input_kind = "csv"
        else:
            from .workload import synthetic
            days = args.days or synthetic.DEFAULT_DAYS
            normal, n_anom = synthetic.default_plan(days)
            seed = synthetic.DEFAULT_SEED if args.seed is None else args.seed
            say(f"generating the default data ({days} days, {n_anom} injected anomalies, seed {seed})")
            synth = synthetic.generate_lcd(tmp / synthetic.DEFAULT_FILENAME, seed=seed,
                                           days=days, normal_days=normal, anomalies=n_anom)
            csv_path = synth.csv_path
            fmt = "lcd"
            input_kind = "default"
        feats = _csv_features(args.features)
        if feats is not None and len(feats) != cfg.features:
            raise DetectError(f"--features names {len(feats)} column(s) {feats}; the model "
                              f"expects {cfg.features} features")
        say(f"loading {csv_path.name}")
        layout = None if getattr(args, "layout", "auto") == "auto" else args.layout
        win = load_windows(csv_path, fmt, feats, None, steps=cfg.timesteps, stride=args.stride,
                           layout=layout)
        shown = out / csv_path.name if input_kind == "default" else csv_path
        win.summary["file"] = str(shown)
        if len(win.features) != cfg.features:
            raise DetectError(f"model {lm.path} expects {cfg.features} features, the data has "
                              f"{len(win.features)} ({', '.join(win.features)}); choose columns "
                              "with --features")
        scaler = lm.scaler
        if (scaler is not None and tuple(scaler.features) != tuple(win.features)
                and sorted(scaler.features) == sorted(win.features)):
            raise DetectError(f"model {lm.path} takes the features in the order "
                              f"{','.join(scaler.features)}; the data has them as "
                              f"{','.join(win.features)}: give --features in the model's order")
        if scaler is not None and tuple(scaler.features) != tuple(win.features):
            warnings.append(f"the model's scaler was fitted on {', '.join(scaler.features)}, "
                            f"the data has {', '.join(win.features)}: the scaler was re-fitted "
                            "on the scored data, and the model learnt other quantities, so its "
                            "scores say little about these data")
            scaler = None
        if scaler is None:
            if lm.scaler is None:
                warnings.append(f"the model file ({lm.kind} format) carries no scaler: min-max "
                                "scaler fitted on the scored data")
            scaler = MinMaxScaler.fit(win.sequences, win.features, what=str(shown),
                                      units=win.units)
            scaling = {"description": "min-max scaler fitted on the scored data", "source": "data"}
        else:
            try:
                win = win.in_units(scaler.units, scaler=f"the model's scaler ({lm.path})")
            except UnitError as exc:
                raise DetectError(str(exc)) from None
            warnings.extend(win.summary["units"]["warnings"])
            conv = win.summary["units"]["conversions"]
            scaling = {"description": "the model's min-max scaler", "source": "model"}
            if conv:
                scaling["description"] += "; data converted into its units: " + ", ".join(
                    f"{c['feature']} {c['from']} -> {c['to']}" for c in conv)
        win = win.scaled(scaler)
        sc = win.summary.get("scaler", {})
        if sc.get("values_out_of_range"):
            scaling["description"] += (f"; {sc['values_out_of_range']} of {sc['values']} values "
                                       "outside its fitted range")
        warnings.extend(out_of_range_warnings(scaler.range_counts(sc)))
        scaling.update(min=scaler.data_min, max=scaler.data_max, features=list(scaler.features),
                       units=list(scaler.units), out_of_range=sc.get("out_of_range"),
                       fraction_out_of_range=sc.get("fraction_out_of_range"))
        units_info = win.summary.get("units")
        x = win.sequences
        stations, times = win.stations, win.times
        data_info.update(format=win.summary["format"], features=list(win.features),
                         counts=_summary_counts(win.summary), summary=win.summary,
                         summary_text=format_summary(win.summary))
        stride = args.stride
        input_desc = (f"the generated default data {shown} (NOAA LCD format, seed {synth.seed}, "
                      f"{synth.days} days, {len(synth.anomalies)} injected anomalies)"
                      if synth else f"{csv_path} ({win.summary['format']} format)")
    n = len(x)
    if n == 0:
        raise DataError("no window to score")
    start = None if times is None else times[:, 0]
    end = None if times is None else times[:, -1]

    # -------------------------------------------------------- backends
    runs, scores, limits, flags = {}, {}, {}, {}
    for name in names:
        say(f"backend {name}: {built[name].describe()}")
        runs[name] = built[name].reconstruct(x, progress.counter(name))
        scores[name] = window_scores(x, runs[name].reconstruction)
        limits[name] = rp.threshold(scores[name], percentile)
        flags[name] = rp.flagged(scores[name], limits[name])
    prim = args.backend

    agreement = [rp.compare_flags("float", flags["float"], "fixed", flags["fixed"], scores, limits)]
    bitx = None
    chip_runs = [name for name in names if name not in ("float", "fixed") and built[name].exact]
    for name in chip_runs:      # rtl or board: window by window, integer for integer
        agreement.append(rp.compare_flags("fixed", flags["fixed"], name, flags[name], scores,
                                          limits))
        bitx = rp.bit_exact("fixed", runs["fixed"].reconstruction_int, name,
                            runs[name].reconstruction_int)
    rd = rp.reconstruction_difference(runs["float"].reconstruction, runs["fixed"].reconstruction)
    per_window = rd.pop("max_abs_per_window", None)
    formats = fixed.formats
    rd["lsb"] = formats.output.lsb
    vec = formats.input
    sat = (x < vec.min) | (x > vec.max)
    sat_windows = np.nonzero(sat.any(axis=(1, 2)))[0]
    rd["input_saturation"] = {
        "range": [vec.min, vec.max], "values": int(sat.sum()), "windows": int(sat_windows.size),
        "first_windows": sat_windows[:20].tolist(),
        "at_largest": bool(rd["at"] is not None and sat[rd["at"]["window_index"]].any())}
    clean = ~sat.any(axis=(1, 2))
    rd["max_abs_unsaturated"] = (float(per_window[clean].max())
                                 if per_window is not None and clean.any() else None)
    rd["error_bound"] = _error_bound(fixed, x, rd, say)
    saturation = saturation_report(built["fixed"].clamps, formats, fixed.layer_names)
    warnings.extend(saturation["warnings"])

    # ------------------------------------------------------------ chip
    chip_backend = built[prim] if built[prim].exact else built["fixed"]
    engine = chip_backend.engine() if hasattr(chip_backend, "engine") else built["fixed"].engine()
    chip_lanes = getattr(chip_backend, "lanes", args.lanes)   # a board runs its own lanes
    cycles = chip_backend.cycles_per_window()
    measured = bool(runs[chip_backend.name].cycles_measured)
    bpw = chip_backend.bytes_per_window()
    clock_hz = args.clock_mhz * 1e6
    top = perf.Topology(cfg.features, cfg.encoder_sizes, cfg.decoder_sizes, steps=cfg.timesteps)
    perf_rep = perf.performance_report(
        top, perf.LinkModel(), clock_hz=clock_hz, macs_per_gate=chip_lanes, windows=n,
        vec_bits=max(formats.word_bits("vec")), weight_bits=max(formats.word_bits("weight")),
        measured_cycles_per_window=cycles if measured else None)
    chip = {"backend": chip_backend.name, "cycles_per_window": cycles, "measured": measured,
            "engine": engine, "bytes_per_window": bpw, "bytes_all_windows": bpw["total"] * n,
            "clock_mhz": args.clock_mhz, "us_per_window": cycles / clock_hz * 1e6,
            "ms_all_windows": n * cycles / clock_hz * 1e3}

    # ------------------------------------------------------- injected
    injected = None
    if synth is not None:
        from .workload.synthetic import windows_per_anomaly
        covers = windows_per_anomaly(times, synth.anomalies)
        injected = rp.injected_recall(flags[prim], n, covers,
                                      [a.to_dict() for a in synth.anomalies])
        injected["anomalies_file"] = synth.anomalies_path.name

    # ---------------------------------------------------------- files
    say("writing the outputs")
    s, lim, idx = scores[prim], limits[prim], flags[prim]
    rp.write_scores_csv(tmp / "scores.csv", s, stations, start, end)
    rp.write_anomalies_csv(tmp / "anomalies.csv", s, lim, idx, stations, start, end)
    events = [] if synth is None else [
        {"start": a.start, "end": str(np.datetime64(a.end, "h") + np.timedelta64(1, "h")),
         "kind": a.kind} for a in synth.anomalies]
    rp.plot_scores(tmp / "scores.png", s, lim, idx, start, events,
                   title=f"window scores ({prim} backend), {n} windows, "
                         f"threshold = {percentile:g}th percentile",
                   window_span_s=3600.0 * (cfg.timesteps - 1))
    top_idx = sorted(idx.tolist(), key=lambda i: -s[i])[:TOP_ANOMALIES]
    top_rows = [{"window_index": int(i), "station": None if stations is None else str(stations[i]),
                 "start_time": None if start is None else str(start[i]),
                 "end_time": None if end is None else str(end[i]), "mse": float(s[i])}
                for i in top_idx]
    outputs = list(RUN_OUTPUTS)
    if synth is not None:
        outputs += [synth.csv_path.name, synth.anomalies_path.name]
    rtl_status = ("ran" if "rtl" in runs else
                  ("available, not requested (--backend rtl)" if bk.rtl_available()
                   else "not available: the co-simulation's whole-window runner could not be loaded"))
    rep = {
        "tool": TOOL,
        "command": command_line(args),
        "input": {"kind": input_kind, "description": input_desc,
                  "path": str(args.csv or args.windows or (out / synth.csv_path.name)),
                  "generated": None if synth is None else synth.to_dict()},
        "data": data_info,
        "scaling": scaling,
        "units": units_info,
        "warnings": warnings,
        "model": {"path": lm.path, "kind": lm.kind, "config": cfg.to_dict(),
                  "description": cfg.describe(), "parameters": cfg.parameter_count,
                  "formats": formats.to_dict(),
                  "formats_text": _formats_text(formats, fixed.layer_names),
                  "scaler_features": None if lm.scaler is None else list(lm.scaler.features),
                  "scaler_units": None if lm.scaler is None else list(lm.scaler.units),
                  "data_format": lm.data_format, "provenance": lm.provenance},
        "windows": {"count": n, "steps": cfg.timesteps, "features": cfg.features, "stride": stride},
        "backend": prim,
        "threshold": {"percentile": percentile, "value": lim, "flagged": int(len(idx))},
        "top_anomalies": top_rows,
        "backends": {name: {"description": built[name].describe(), "seconds": runs[name].seconds,
                            "threshold": limits[name], "flagged": int(len(flags[name])),
                            "flagged_windows": flags[name].tolist(),
                            "cycles_per_window": runs[name].cycles_per_window,
                            "cycles_measured": runs[name].cycles_measured,
                            "bytes_per_window": built[name].bytes_per_window()}
                     for name in names},
        "agreement": agreement,
        "reconstruction_difference": rd,
        "saturation": saturation,
        "bit_exact": bitx,
        "rtl_status": rtl_status,
        "chip": chip,
        "performance": perf_rep,
        "performance_table": perf.markdown_table(perf_rep),
        "injected": injected,
        "outputs": outputs,
    }
    (tmp / "report.md").write_text(rp.markdown(rep))
    rep["manifest"] = manifest(tmp, [f for f in outputs if f != "report.json"])
    rp.write_json(tmp / "report.json", rep)
    return rep


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    from .backends import DEFAULT_LANES, RTL_SIMULATORS
    src = p.add_mutually_exclusive_group()
    src.add_argument("--csv", type=Path, metavar="FILE", nargs="+",
                     help="NOAA CSV (LCD hourly or Global Marine); default: the generated data. "
                          "Several files, a glob or a folder are scored per file and station "
                          "on Dask workers (docs/scale.md)")
    src.add_argument("--windows", type=Path, metavar="FILE.npz",
                     help="already scaled windows: array 'sequences' of shape (N, T, F)")
    p.add_argument("--format", choices=("lcd", "marine", "auto"), default="auto",
                   help="CSV format (default: detected from the header)")
    p.add_argument("--layout", choices=("v1", "v2", "auto"), default="auto",
                   help="NOAA LCD layout version (v1: US customary units, v2: metric) when the "
                        "file's station IDs and columns do not tell it (default: detected; "
                        "docs/data.md)")
    p.add_argument("--features", metavar="A,B,...",
                   help="feature columns in model order (default: the format's six)")
    p.add_argument("--model", type=Path, metavar="FILE",
                   help="project (.npz), Keras (.keras, .h5, get_weights() .npz), ONNX (.onnx) "
                        "or PyTorch (.pt, state dict .npz) model (default: the shipped model)")
    p.add_argument("--backend", choices=("float", "fixed", "rtl", "board"), default="fixed",
                   help="backend whose scores are written (default fixed; float and fixed always run)")
    p.add_argument("--percentile", type=float, default=95.0,
                   help="anomaly threshold: this percentile of the scores (default 95)")
    p.add_argument("--stride", type=int, default=1, help="steps between window starts (default 1)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="output folder (default build/detect), replaced as a whole")
    p.add_argument("--lanes", type=int, default=DEFAULT_LANES,
                   help=f"MAC lanes per gate unit of the chip (default {DEFAULT_LANES})")
    p.add_argument("--clock-mhz", type=float, default=200.0, help="chip clock (default 200)")
    p.add_argument("--simulator", choices=RTL_SIMULATORS, default="verilator",
                   help="simulator of the rtl backend (default verilator)")
    p.add_argument("--port", metavar="PORT",
                   help="board backend: the board's serial port, e.g. /dev/ttyUSB1 (docs/board.md)")
    p.add_argument("--baud", type=int, default=None,
                   help="board backend: serial baud rate (default: the board build's, 3000000)")
    p.add_argument("--board-timeout", type=float, default=None, metavar="S",
                   help="board backend: seconds each answer of the board may take (default 5)")
    p.add_argument("--days", type=int, help="generated data only: days of data (default 90)")
    p.add_argument("--seed", type=int, help="generated data only: seed (default 7)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    many = p.add_argument_group("many inputs (several --csv files, a glob or a folder)")
    many.add_argument("--workers", type=int, metavar="N",
                      help="worker processes of a local Dask cluster (default: the machine's "
                           "cores); 1 runs in this process, no cluster")
    many.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                      help="run on the existing Dask cluster behind this scheduler")
    many.add_argument("--threshold-scope", choices=("global", "station"), default="global",
                      help="percentile of every window together (default) or of each station's")
    many.add_argument("--skip-bad", action="store_true",
                      help="a file or station that fails on its data is listed as skipped "
                           "instead of failing the run")
    many.add_argument("--chunk-windows", type=int, metavar="N",
                      help="windows per task at most (default 4096; 128 with --backend rtl)")


#: Options echoed in the report's command line when they differ from these defaults.
_ECHO = (("csv", None), ("windows", None), ("workers", None), ("scheduler", None),
         ("threshold_scope", "global"), ("skip_bad", False), ("chunk_windows", None), ("format", "auto"), ("features", None),
         ("model", None), ("backend", "fixed"), ("percentile", 95.0), ("stride", 1),
         ("out", DEFAULT_OUT), ("lanes", None), ("clock_mhz", 200.0), ("simulator", "verilator"),
         ("port", None), ("baud", None), ("board_timeout", None), ("days", None), ("seed", None))


def command_line(args) -> str:
    """The command that reproduces this run (options given away from their defaults)."""
    from .backends import DEFAULT_LANES
    parts = ["lstm-chiplet", "detect"]
    for name, default in _ECHO:
        v = getattr(args, name, default)
        if name == "lanes":
            default = DEFAULT_LANES
        if v is None or v == default:
            continue
        if v is True:
            parts.append(f"--{name.replace('_', '-')}")
        elif isinstance(v, (list, tuple)):
            parts += [f"--{name.replace('_', '-')}"] + [shlex.quote(str(a)) for a in v]
        else:
            parts += [f"--{name.replace('_', '-')}", shlex.quote(str(v))]
    return " ".join(parts)


def _write_run(args, out: Path, inputs: dict, job) -> dict:
    """Check the inputs lie outside ``out``, run ``job()`` into a temporary folder, move
    it into place (removed on any failure); print the report's warnings."""
    check_inputs_outside(out, inputs)
    args._tmp = prepare_output(out)
    try:
        rep = job()
        commit_output(args._tmp, out)
    except BaseException:
        shutil.rmtree(args._tmp, ignore_errors=True)
        raise
    for note in rep["warnings"]:
        print(f"warning: {note}", file=sys.stderr)
    return rep


def _print_agreement(rep: dict) -> None:
    for cmp in rep["agreement"]:
        a, b = cmp["backends"]
        print(f"{a} and {b} flag " + ("the same windows" if cmp["same"] else
                                       f"different windows ({cmp['differences_total']} differ)"))


def run(args) -> int:
    progress = Progress(args.quiet)
    out = Path(args.out)
    many = None
    if args.csv is not None:
        from .scale.partitions import expand_inputs
        files, is_many = expand_inputs(args.csv)
        if is_many:
            many = files
        else:                    # one file: the single-process job, exactly as before
            args.csv = files[0]
    if many is not None:
        if args.backend == "board":
            raise DetectError("--backend board scores one input at a time (one board, one serial port); "
                              "give one --csv file or --windows")
        return run_many_inputs(args, many, progress)
    if args.clock_mhz is None or not args.clock_mhz > 0:
        raise DetectError(f"--clock-mhz must be positive, got {args.clock_mhz}")
    if args.days is not None and args.csv is None and args.windows is None and args.days < 2:
        raise DetectError(f"--days must be at least 2, got {args.days}")
    rep = _write_run(args, out, {"input CSV": args.csv, "input windows": args.windows,
                                 "model": args.model}, lambda: run_job(args, progress))
    th = rep["threshold"]
    print(f"{th['flagged']} of {rep['windows']['count']} windows flagged ({rep['backend']} backend, "
          f"threshold {th['value']:.6g} = {th['percentile']:g}th percentile)")
    _print_agreement(rep)
    if rep["bit_exact"] is not None:
        bx = rep["bit_exact"]
        a, b = bx["backends"]
        print(f"{a} and {b}: " + ("bit for bit equal on every window" if bx["equal"] else
                                  f"{bx['windows_differing']} of {bx['windows']} windows differ"))
    if rep["injected"]:
        inj = rep["injected"]
        print(f"injected anomalies detected: {inj['events_detected']} of {inj['events']}; "
              f"flagged windows on an event: {inj['flagged_on_events']} of {inj['flagged']}")
    print(f"written: {out}/ ({', '.join(rep['outputs'])})")
    return 0


def run_many_inputs(args, files, progress) -> int:
    """``detect`` over several files (:mod:`lstm_chiplet.scale.detect_many`), same output rules."""
    from .scale.detect_many import run_many
    out = Path(args.out)
    inputs = {"model": args.model, **{f"input CSV {i + 1}": f for i, f in enumerate(files)}}
    rep = _write_run(args, out, inputs, lambda: run_many(args, files, progress))
    th, ex = rep["threshold"], rep["execution"]
    print(f"{th['flagged']} of {rep['windows']['count']} windows flagged in {len(rep['stations'])} "
          f"station(s) of {len(files)} file(s) ({rep['backend']} backend, threshold scope "
          f"{th['scope']}, {th['percentile']:g}th percentile)")
    _print_agreement(rep)
    if rep["bit_exact"] is not None:
        bx = rep["bit_exact"]
        print(f"fixed and rtl: {bx['windows_differing']} of {bx['windows']} windows differ")
    print(f"ran: {ex['kind']}, {ex['workers']} worker(s), {ex['tasks']} tasks, "
          f"{ex['retried'] if ex['retried'] is not None else 'unknown'} retried, "
          f"{len(rep['skipped'])} skipped, {ex['seconds']:.2f} s")
    print(f"written: {out}/ ({len(rep['outputs'])} files: report.md, scores.csv, stations.csv, ...)")
    return 0
