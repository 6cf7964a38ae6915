"""The main job's findings: thresholds, agreement of backends, figures, files.

Everything here is a plain function of arrays and dicts, so the report can be
checked value by value without running a model:

* :func:`threshold` and :func:`flagged`: the anomaly rule (scores above a percentile
  of the scored set);
* :func:`compare_flags`: do two backends flag the same windows, and which differ;
* :func:`reconstruction_difference`: the largest |fixed - float| and where it is;
* :func:`bit_exact`: integer comparison of two exact backends (fixed and rtl);
* :func:`injected_recall`: flagged windows against known injected anomalies;
* :func:`write_scores_csv`, :func:`write_anomalies_csv`, :func:`plot_scores`,
  :func:`markdown` and :func:`write_json`: the files.

The report's JSON layout is documented in ``docs/detect.md``.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

#: Differences listed in full before the lists are cut (the counts stay exact).
LIST_LIMIT = 50


# --------------------------------------------------------------------------
# The anomaly rule
# --------------------------------------------------------------------------

def check_percentile(percentile: float) -> float:
    p = float(percentile)
    if not (0.0 < p < 100.0) or math.isnan(p):
        raise ValueError(f"percentile must lie strictly between 0 and 100, got {percentile!r}")
    return p


def threshold(scores, percentile: float = 95.0) -> float:
    """The ``percentile``-th percentile of ``scores`` (numpy's linear interpolation)."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"scores: expected a non-empty 1-D array, got shape {s.shape}")
    return float(np.percentile(s, check_percentile(percentile)))


def flagged(scores, limit: float) -> np.ndarray:
    """Indices of the windows whose score is strictly above ``limit``."""
    return np.nonzero(np.asarray(scores, dtype=np.float64) > limit)[0]


def compare_flags(name_a: str, flags_a, name_b: str, flags_b, scores: Dict[str, np.ndarray],
                  limits: Dict[str, float]) -> dict:
    """Whether two backends flag the same windows, and the windows where they differ.

    Returns
    -------
    dict
        ``same`` (bool), ``only_<a>`` / ``only_<b>`` counts and ``differences``: one
        entry per differing window (index, both scores, both thresholds), at most
        :data:`LIST_LIMIT` of them.
    """
    a, b = set(int(i) for i in flags_a), set(int(i) for i in flags_b)
    diff = sorted(a ^ b)
    rows = [{"window_index": i, "flagged_by": name_a if i in a else name_b,
             f"score_{name_a}": float(scores[name_a][i]), f"score_{name_b}": float(scores[name_b][i]),
             f"threshold_{name_a}": limits[name_a], f"threshold_{name_b}": limits[name_b]}
            for i in diff[:LIST_LIMIT]]
    return {"backends": [name_a, name_b], "same": not diff, f"only_{name_a}": len(a - b),
            f"only_{name_b}": len(b - a), "common": len(a & b), "differences": rows,
            "differences_listed": len(rows), "differences_total": len(diff)}


# --------------------------------------------------------------------------
# Reconstructions
# --------------------------------------------------------------------------

def reconstruction_difference(ref, other) -> dict:
    """Largest and mean |other - ref| over all windows, and where the largest lies."""
    r = np.asarray(ref, dtype=np.float64)
    o = np.asarray(other, dtype=np.float64)
    if r.shape != o.shape or r.ndim != 3:
        raise ValueError(f"reconstructions must both be (N, T, F), got {r.shape} and {o.shape}")
    d = np.abs(o - r)
    if d.size == 0:
        return {"max_abs": 0.0, "mean_abs": 0.0, "at": None}
    w, t, f = (int(v) for v in np.unravel_index(int(np.argmax(d)), d.shape))
    return {"max_abs": float(d[w, t, f]), "mean_abs": float(d.mean()),
            "at": {"window_index": w, "step": t, "feature": f,
                   "reference": float(r[w, t, f]), "value": float(o[w, t, f])},
            "max_abs_per_window": d.max(axis=(1, 2))}


def bit_exact(name_a: str, ints_a, name_b: str, ints_b) -> dict:
    """Integer comparison of two reconstructions: windows that differ, first difference."""
    a = np.asarray(ints_a)
    b = np.asarray(ints_b)
    if a.shape != b.shape:
        return {"backends": [name_a, name_b], "equal": False, "windows_differing": None,
                "first": None, "note": f"shapes differ: {a.shape} and {b.shape}"}
    if not (np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer)):
        raise ValueError(f"bit-exact comparison needs integer reconstructions, got "
                         f"{a.dtype} and {b.dtype}")
    neq = a != b
    bad = np.nonzero(neq.reshape(len(a), -1).any(axis=1))[0] if a.size else np.zeros(0, int)
    first = None
    if bad.size:
        w, t, f = (int(v) for v in np.argwhere(neq)[0])
        first = {"window_index": w, "step": t, "feature": f,
                 name_a: int(a[w, t, f]), name_b: int(b[w, t, f])}
    return {"backends": [name_a, name_b], "equal": not bad.size, "windows": int(len(a)),
            "windows_differing": int(bad.size), "values_differing": int(neq.sum()),
            "first": first}


# --------------------------------------------------------------------------
# Injected anomalies
# --------------------------------------------------------------------------

def injected_recall(flags, n: int, covers: Sequence, events: Sequence[dict]) -> dict:
    """Flagged windows against injected anomalies.

    Parameters
    ----------
    flags : sequence of int
        Flagged window indices.
    n : int
        Windows scored.
    covers : sequence of index arrays
        For each event, the windows that contain one of its affected hours
        (:func:`lstm_chiplet.workload.synthetic.windows_per_anomaly`).
    events : sequence of dict
        What each event was (``kind``, ``start``, ``end``, ...), copied to the report.

    Returns
    -------
    dict
        ``events`` and ``events_detected`` (an event is detected when one of its
        windows is flagged), ``recall`` = detected / events; ``flagged`` windows,
        ``flagged_on_events`` of them containing an event, ``precision`` =
        flagged_on_events / flagged; ``windows_on_events`` (all windows containing an
        event) and ``window_recall`` = flagged_on_events / windows_on_events; per event
        its windows and flagged windows.
    """
    if len(covers) != len(events):
        raise ValueError(f"injected anomalies: {len(covers)} window sets for {len(events)} events")
    is_flag = np.zeros(n, dtype=bool)
    is_flag[np.asarray(list(flags), dtype=np.int64)] = True
    on_event = np.zeros(n, dtype=bool)
    per_event = []
    for cov, ev in zip(covers, events):
        cover = np.zeros(n, dtype=bool)
        cover[np.asarray(cov, dtype=np.int64)] = True
        on_event |= cover
        per_event.append(dict(ev, windows=int(cover.sum()), flagged=int((cover & is_flag).sum()),
                              detected=bool((cover & is_flag).any())))
    detected = sum(1 for p in per_event if p["detected"])
    nf = int(is_flag.sum())
    hits = int((is_flag & on_event).sum())
    won = int(on_event.sum())
    return {"events": len(per_event), "events_detected": detected,
            "recall": detected / len(per_event) if per_event else None,
            "flagged": nf, "flagged_on_events": hits,
            "precision": hits / nf if nf else None,
            "windows_on_events": won, "window_recall": hits / won if won else None,
            "per_event": per_event}


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------

def _iso(t) -> str:
    return "" if t is None else str(np.datetime64(t, "s"))


def _window_rows(scores, stations, start, end, indices):
    for i in indices:
        yield [int(i), "" if stations is None else str(stations[i]),
               "" if start is None else _iso(start[i]), "" if end is None else _iso(end[i]),
               repr(float(scores[i]))]


def write_scores_csv(path, scores, stations=None, start=None, end=None) -> None:
    """``window_index, station, start_time, end_time, mse`` for every window."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["window_index", "station", "start_time", "end_time", "mse"])
        w.writerows(_window_rows(scores, stations, start, end, range(len(scores))))


def write_anomalies_csv(path, scores, limit: float, indices, stations=None, start=None,
                        end=None) -> None:
    """The flagged windows, in window order, with ``mse / threshold``."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["window_index", "station", "start_time", "end_time", "mse",
                    "mse_over_threshold"])
        for row, i in zip(_window_rows(scores, stations, start, end, indices), indices):
            w.writerow(row + [repr(float(scores[i]) / limit) if limit > 0 else "inf"])


def plot_scores(path, scores, limit: float, indices, start=None, events: Sequence[dict] = (),
                title: str = "window scores", window_span_s: float = 0.0) -> None:
    """PNG: scores over time (or window index), the threshold, the anomalies, events shaded.

    ``events`` (``start``, ``end`` as ISO text, end exclusive) are shaded dark; the
    window starts ``window_span_s`` seconds before each event light (the windows that
    contain it, plotted at their start).
    """
    window_span = int(round(window_span_s * 1000))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = np.asarray(scores, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(11, 4.2), dpi=110)
    if start is not None:
        x = np.asarray(start, dtype="datetime64[s]").astype("datetime64[ms]").astype(object)
        ax.set_xlabel("window start (time as in the file)")
    else:
        x = np.arange(len(s))
        ax.set_xlabel("window index")
    order = np.argsort(np.asarray(start, dtype="datetime64[s]")) if start is not None else slice(None)
    xs = np.asarray(x, dtype=object)[order] if start is not None else x
    ax.plot(xs, s[order], ".", ms=2.5, color="tab:blue", label="window score (MSE)")
    for k, ev in enumerate(events if start is not None else ()):
        a = np.datetime64(ev["start"], "ms")
        b = np.datetime64(ev["end"], "ms")
        # windows whose span contains the event start up to (window - 1) before it
        ax.axvspan((a - np.timedelta64(window_span, "ms")).astype(object), b.astype(object),
                   color="tab:orange", alpha=0.12, lw=0,
                   label="window contains an injected anomaly" if k == 0 else None)
        ax.axvspan(a.astype(object), b.astype(object), color="tab:orange", alpha=0.45, lw=0,
                   label="injected anomaly" if k == 0 else None)
    idx = np.asarray(list(indices), dtype=np.int64)
    if idx.size:
        xi = np.asarray(x, dtype=object)[idx] if start is not None else idx
        ax.plot(xi, s[idx], "x", ms=5, color="tab:red", label=f"anomaly ({idx.size})")
    ax.axhline(limit, color="k", ls="--", lw=1, label=f"threshold {limit:.4g}")
    pos = s[s > 0]
    if pos.size and pos.max() / max(pos.min(), 1e-300) > 1e3:
        ax.set_yscale("log")
    ax.set_ylabel("mean squared reconstruction error")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        obj = float(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (np.datetime64, Path)):
        return str(obj)
    return obj


def write_json(path, report: dict) -> None:
    Path(path).write_text(json.dumps(_jsonable(report), indent=2) + "\n")


# --------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------

def _g(x, fmt: str = ".4g") -> str:
    return "-" if x is None else format(x, fmt)


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def _table(head: Sequence[str], rows: List[Sequence]) -> List[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def markdown(rep: dict) -> str:
    """report.md from the report dict (the same dict report.json holds)."""
    out = ["# Anomaly detection report", ""]
    inp, th, prim = rep["input"], rep["threshold"], rep["backend"]
    out += [f"Command: `{rep['command']}`", "",
            f"Input: {inp['description']}", "",
            f"**{th['flagged']} of {rep['windows']['count']} windows flagged** by the "
            f"`{prim}` backend: score above the {th['percentile']:g}th percentile of the scored "
            f"set, {th['value']:.6g}.", ""]
    top = rep.get("top_anomalies") or []
    if top:
        out += ["Highest-scoring anomalies (all in `anomalies.csv`):", ""]
        out += _table(["window", "station", "start", "end", "MSE", "x threshold"],
                      [[a["window_index"], a["station"] or "-", a["start_time"] or "-",
                        a["end_time"] or "-", f"{a['mse']:.5g}", f"{a['mse'] / th['value']:.2f}"
                        if th["value"] > 0 else "-"] for a in top])
        out.append("")

    inj = rep.get("injected")
    if inj:
        out += ["## Injected anomalies (the generated default data)", ""]
        out += [f"- events detected: {inj['events_detected']} of {inj['events']} "
                f"(recall {_pct(inj['recall'])}); an event counts as detected when a flagged "
                "window contains one of its hours",
                f"- flagged windows on an event: {inj['flagged_on_events']} of {inj['flagged']} "
                f"(precision {_pct(inj['precision'])})",
                f"- windows containing an event: {inj['windows_on_events']}, of which flagged "
                f"{inj['flagged_on_events']} (window recall {_pct(inj['window_recall'])})", ""]
        out += _table(["kind", "first hour", "last hour", "what", "windows", "flagged", "detected"],
                      [[e.get("kind", "-"), e.get("start", "-"), e.get("end", "-"),
                        e.get("detail", "-"), e["windows"], e["flagged"],
                        "yes" if e["detected"] else "no"] for e in inj["per_event"]])
        out.append("")

    d = rep["data"]
    out += ["## Data", ""]
    if d.get("counts"):
        c = d["counts"]
        out += [f"- rows read {c['read']}, kept {c['kept']}, dropped {c['dropped']}; values "
                f"repaired {c['repaired']} ({d['format']} format)",
                f"- features: {', '.join(d['features'])}"]
    else:
        out.append(f"- features: {', '.join(d['features'])}")
    w = rep["windows"]
    out += [f"- windows: {w['count']} of {w['steps']} steps x {w['features']} features, "
            f"stride {w['stride']}", f"- scaling: {rep['scaling']['description']}"]
    for note in rep.get("warnings", []):
        out.append(f"- **warning**: {note}")
    if d.get("summary_text"):
        out += ["", "```", d["summary_text"], "```"]
    out.append("")

    m = rep["model"]
    out += ["## Model", "",
            f"- file: {m['path']} ({m['kind']})",
            f"- topology: {m['description']}",
            "- formats (per layer):"] + [
            f"  - {layer}: " + ", ".join(f"{k} {v}" for k, v in roles.items())
            for layer, roles in m["formats_text"].items()] + [
            "- scaler: " + (", ".join(m["scaler_features"]) if m.get("scaler_features")
                            else "none in the file")]
    prov = m.get("provenance") or {}
    shown = {k: v for k, v in prov.items() if isinstance(v, (str, int, float)) and k != "storage"}
    if shown:
        out.append("- provenance: " + ", ".join(f"{k} {v}" for k, v in list(shown.items())[:8]))
    out.append("")

    out += ["## Backends", ""]
    rows = []
    for name, b in rep["backends"].items():
        rows.append([f"`{name}`" + (" (primary)" if name == prim else ""), b["description"],
                     f"{b['seconds']:.2f}", f"{b['threshold']:.6g}", b["flagged"],
                     _g(b["cycles_per_window"], ",") if b["cycles_per_window"] is not None else "-",
                     b["bytes_per_window"]["total"] if b.get("bytes_per_window") else "-"])
    out += _table(["backend", "what", "seconds", "threshold", "flagged", "cycles/window",
                   "link bytes/window"], rows)
    out.append("")
    for cmp in rep["agreement"]:
        a, b = cmp["backends"]
        if cmp["same"]:
            out.append(f"- `{a}` and `{b}` flag **the same {cmp['common']} windows**.")
        else:
            out.append(f"- `{a}` and `{b}` flag **different windows**: {cmp['common']} in common, "
                       f"{cmp[f'only_{a}']} only by `{a}`, {cmp[f'only_{b}']} only by `{b}`:")
            out.append("")
            out += _table(["window", "flagged by", f"score {a}", f"score {b}",
                           f"threshold {a}", f"threshold {b}"],
                          [[r["window_index"], r["flagged_by"], f"{r[f'score_{a}']:.6g}",
                            f"{r[f'score_{b}']:.6g}", f"{r[f'threshold_{a}']:.6g}",
                            f"{r[f'threshold_{b}']:.6g}"] for r in cmp["differences"]])
            if cmp["differences_total"] > cmp["differences_listed"]:
                out.append(f"... {cmp['differences_total'] - cmp['differences_listed']} more "
                           "in report.json's count")
            out.append("")
    rd = rep["reconstruction_difference"]
    if rd:
        eb = rd.get("error_bound") or {}
        at = rd["at"]
        out += ["", "### Fixed point against float", "",
                f"- largest |fixed - float| over all reconstructed values: **{rd['max_abs']:.6g}** "
                f"(window {at['window_index']}, step {at['step']}, feature {at['feature']}); "
                f"mean {rd['mean_abs']:.3g}; one vec LSB is {rd['lsb']:.3g}"
                if at else "- no windows"]
        sat = rd.get("input_saturation")
        if sat and sat["values"]:
            out.append(f"- {sat['values']} scaled input value(s) in {sat['windows']} window(s) lie "
                       f"outside the vec format's range [{sat['range'][0]:g}, {sat['range'][1]:g}] "
                       "and saturate when quantized (the float model sees them unclipped); the "
                       "window of the largest difference "
                       + ("is one of them" if sat["at_largest"] else "is not one of them")
                       + (f"; the largest difference over the other windows is "
                          f"{rd['max_abs_unsaturated']:.6g}"
                          if rd.get("max_abs_unsaturated") is not None else ""))
        sat_all = rep.get("saturation") or {}
        if sat_all.get("clamped"):
            out += ["", "Values the fixed-point run saturated (clamped at a format's limit):", ""]
            out += _table(["layer", "tensor", "clamped", "of"],
                          [[r["layer"], r["tensor"], r["clamped"], r["seen"]]
                           for r in sat_all["clamped"]])
            out.append("")
        elif sat_all:
            out.append(f"- no value saturated in the fixed-point run "
                       f"({len(sat_all['tensors'])} tensors checked)")
        if eb.get("available"):
            out.append(f"- derived error bound (trajectory bound of window {eb['window_index']}) at that "
                       f"value: **{eb['at_value']:.6g}**; largest over the window "
                       f"{eb['window_max']:.6g}; the difference is "
                       + ("within" if rd["max_abs"] <= eb["at_value"] else "**OUTSIDE**")
                       + " the bound")
            if eb.get("static_max") is not None:
                out.append(f"- input-independent (static) bound for windows in [0, 1]: "
                           f"{eb['static_max']:.4g} (worst case over every input: it grows "
                           "geometrically with T, so the per-window bound is the useful one"
                           + ("" if eb.get("static_applies") else
                              "; it does not cover these data, some inputs lie outside [0, 1]")
                           + ")")
        elif eb:
            out.append(f"- derived error bound: not computed ({eb.get('reason')})")
    be = rep.get("bit_exact")
    if be:
        a, b = be["backends"]
        if be["equal"]:
            out.append(f"- `{a}` == `{b}` **bit for bit** on all {be['windows']} windows "
                       "(compared as integers).")
        else:
            out.append(f"- `{a}` != `{b}`: {be['windows_differing']} window(s) differ "
                       f"({be['values_differing']} values); first: {be['first']}")
    else:
        out.append("- `rtl` did not run: no bit-exact check of the Verilog in this report "
                   f"({rep['rtl_status']}).")
    out.append("")

    ch = rep["chip"]
    out += ["## The chip", "",
            f"- cycles per window: **{ch['cycles_per_window']:,}** "
            f"({'measured in simulation' if ch['measured'] else 'engine configuration'}, "
            f"{ch['engine']['lanes']} MAC lanes per gate unit, {ch['engine']['multipliers']} "
            f"multipliers, {100 * ch['engine']['mac_utilisation']:.1f} % busy; ideal "
            f"{ch['engine']['ideal_cycles_per_window']:,})",
            f"- bytes moved per window over the host link: **{ch['bytes_per_window']['total']}** "
            f"({ch['bytes_per_window']['in']} in + {ch['bytes_per_window']['out']} out); "
            f"{ch['bytes_all_windows']:,} for the {w['count']} windows",
            f"- at {ch['clock_mhz']:g} MHz: {ch['us_per_window']:.1f} us of compute per window, "
            f"{ch['ms_all_windows']:.2f} ms for all windows", ""]
    out += _table(["layer", "D", "H", "cycles/step", "ideal", "MACs busy"],
                  [[x["layer"], x["input"], x["hidden"], x["cycles_per_step"], x["ideal_cycles"],
                    f"{100 * x['mac_utilisation']:.1f} %"] for x in ch["engine"]["layers"]]
                  + [["dense", ch["engine"]["layers"][-1]["hidden"], w["features"],
                      ch["engine"]["dense_cycles_per_step"], "-", "-"]])
    out += ["", "## Performance model", "", rep["performance_table"], ""]
    out += ["## Files", ""] + [f"- `{f}`" for f in rep["outputs"]]
    return "\n".join(out) + "\n"
