"""``lstm-chiplet quantize``: per-layer fixed-point formats from calibration data and a
search for the cheapest formats that meet an accuracy target.

1. Calibration (:mod:`golden.calibration`): the float model runs on the calibration
   windows; every layer's x, h, z, c and weights get their largest magnitude; each
   format slot (a layer's vec, weight, preact, act; the Dense layer's weight and out)
   gets the fewest integer bits that hold its peak with the head-room.
2. Search: the word widths (and, per slot, the integer bits around the calibrated
   choice) that minimise the hardware cost (:func:`hardware_cost`: memory bits, ties
   broken by the multiplier's operand product) while the target holds: max |fixed -
   float| of the reconstruction <= ``--max-error`` on the calibration windows and/or
   the same anomalous windows as float (``--same-anomalies``).  A greedy descent from
   ``--max-bits`` everywhere (:func:`search`); candidates are screened on a subset of
   windows (the most extreme ones and a random sample), the chosen one is checked on
   every window.
3. Outputs beside ``--out`` (written into a temporary folder, renamed at the end):
   the model with its formats (a project model file), ``quantize.md``,
   ``quantize.json`` and the plots ``quantize_ranges.png``, ``quantize_search.png``,
   ``quantize_widths.png``.

Modes (the hardware constraint): the whole-window engine time-shares one datapath, so
``shared`` (default) gives each role one word width in every layer, binary points per
layer (one act format: the activation units hold one table), which the whole-window
engine runs (:mod:`hdl.pass_formats`); ``per-layer`` lets widths differ per layer too (golden model only: the
hardware cannot run it yet); ``global`` gives every layer one set of formats.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from golden.activations import activation_table
from golden.autoencoder import FixedAutoencoder, window_scores
from golden.calibration import (DEFAULT_HEADROOM, LSTM_ROLES, MIN_WINDOWS,
                                Calibration, calibrate, fitted_format, integer_bits,
                                ranges_table)
from golden.formats import ClampCounts, DenseFormats, FormatError, LSTMFormats, ModelFormats

#: Marker in quantize.json: an existing report holding it may be replaced.
TOOL = "lstm-chiplet quantize"
REPORT_FILES = ("quantize.md", "quantize.json", "quantize_ranges.png", "quantize_search.png",
                "quantize_widths.png")
MODES = ("shared", "per-layer", "global")
#: Windows of the screening subset (at most).
DEFAULT_SCREEN = 192
#: Word widths of the width sweep plot.
SWEEP_WIDTHS = tuple(range(8, 17))
#: A search may move a slot's integer bits this far from the calibrated choice.
OFFSET_LIMIT = 3
#: Rounds of integer-bit refinement (equal cost, lower error) the descent may spend.
DEFAULT_REFINE = 6


class QuantizeError(ValueError):
    """A problem with the command's input or output; the message names it."""


# --------------------------------------------------------------------------
# The search space: word groups and integer-bit groups of format slots
# --------------------------------------------------------------------------

def slot_label(slot, names) -> str:
    unit, role = slot
    return f"dense {role}" if unit == "dense" else f"{names[unit]} {role}"


#: The LSTM role whose word width the Dense layer's roles share in shared and global modes.
DENSE_SHARES = {"weight": "weight", "out": "vec"}


class Space:
    """Which format slots share a word width and which share integer bits.

    Parameters
    ----------
    cal : Calibration
    mode : {"shared", "per-layer", "global"}
    headroom : float
    base : ModelFormats
        Rounding and overflow modes come from it (widths never do).
    """

    def __init__(self, cal: Calibration, mode: str, headroom: float, base: ModelFormats,
                 fewer_int_bits: bool = True):
        if mode not in MODES:
            raise QuantizeError(f"mode must be one of {MODES}, got {mode!r}")
        self.cal, self.mode, self.headroom, self.base = cal, mode, headroom, base
        #: may a slot get fewer integer bits than calibrated (a rare clamp for a fraction bit)
        self.min_offset = -OFFSET_LIMIT if fewer_int_bits else 0
        self.names = list(cal.layer_names)
        slots = cal.slots()
        if mode == "per-layer":
            self.word_groups = [[s] for s in slots]
            self.word_names = [slot_label(s, self.names) for s in slots]
        else:
            self.word_groups, self.word_names = [], []
            for role in LSTM_ROLES:
                group = [(k, role) for k in range(len(cal.layers))]
                group += [("dense", d) for d, r in DENSE_SHARES.items() if r == role]
                self.word_groups.append(group)
                self.word_names.append(role)
        if mode == "global":
            self.offset_groups = self.word_groups
            self.offset_names = self.word_names
        elif mode == "shared":
            # binary points per layer, but one act format: the activation units hold one
            # table (hdl.pass_formats)
            singles = [s for s in slots if self._role(s) != "act"]
            self.offset_groups = [[s] for s in singles]
            self.offset_names = [slot_label(s, self.names) for s in singles]
            acts = [s for s in slots if self._role(s) == "act"]
            if acts:
                self.offset_groups.append(acts)
                self.offset_names.append("act")
        else:
            self.offset_groups = [[s] for s in slots]
            self.offset_names = [slot_label(s, self.names) for s in slots]
        self._word_of = {s: i for i, g in enumerate(self.word_groups) for s in g}
        self._offset_of = {s: i for i, g in enumerate(self.offset_groups) for s in g}

    def start(self, bits: int) -> "Point":
        return Point(tuple(bits for _ in self.word_groups), tuple(0 for _ in self.offset_groups))

    def _base_format(self, slot):
        unit, role = slot
        if unit == "dense":
            return getattr(self.base.dense, role)
        return getattr(self.base.layers[unit], role)

    @staticmethod
    def _role(slot) -> str:
        """The LSTM role whose rules a slot follows (Dense weight: weight, out: vec)."""
        return slot[1] if slot[0] != "dense" else DENSE_SHARES[slot[1]]

    def _slot_peak(self, slot, fmts) -> float:
        act = fmts.get((slot[0], "act")) if self._role(slot) == "preact" else None
        return self.cal.slot_peak(slot[0], slot[1], act)

    def group_peaks(self, p: "Point") -> List[float]:
        """The peak each integer-bit group must hold at ``p`` (preact's depends on act)."""
        return [max(self._slot_peak(s, self._act_formats(p)) for s in g)
                for g in self.offset_groups]

    def _act_formats(self, p: "Point") -> dict:
        out = {}
        for g, group in enumerate(self.offset_groups):
            if group[0][1] == "act":
                peak = max(self.cal.slot_peak(*s) for s in group)
                for s in group:
                    out[s] = fitted_format(peak, p.words[self._word_of[s]], "act", self.headroom,
                                           p.offsets[g], self._base_format(s)).fmt
        return out

    def formats(self, p: "Point") -> Tuple[ModelFormats, List[str]]:
        """The point's formats and the notes of slots capped by the activation table.
        Raises :class:`FormatError` when the point has no valid formats."""
        fmts = self._act_formats(p)
        peaks = self.group_peaks(p)
        notes = []
        for slot in self.cal.slots():
            if slot in fmts:
                continue
            word = p.words[self._word_of[slot]]
            g = self._offset_of[slot]
            fs = fitted_format(peaks[g], word, self._role(slot), self.headroom, p.offsets[g],
                               self._base_format(slot))
            if fs.capped:
                notes.append(f"{slot_label(slot, self.names)}: the peak {peaks[g]:.4g} needs "
                             "more integer bits than the activation table allows; it saturates")
            fmts[slot] = fs.fmt.renamed(slot[1])
        layers = tuple(LSTMFormats(*(fmts[(k, r)] for r in LSTM_ROLES))
                       for k in range(len(self.names)))
        return ModelFormats(layers, DenseFormats(fmts[("dense", "weight")],
                                                 fmts[("dense", "out")])), notes

    def describe(self, p: "Point") -> str:
        words = ", ".join(f"{n} {w}" for n, w in zip(self.word_names, p.words))
        moved = [f"{n} {o:+d}" for n, o in zip(self.offset_names, p.offsets) if o]
        return words + (f"; integer bits moved: {', '.join(moved)}" if moved else "")

    def word_moves(self, p: "Point", min_bits: int):
        for g, w in enumerate(p.words):
            if w > min_bits:
                yield Point(p.words[:g] + (w - 1,) + p.words[g + 1:], p.offsets)

    def offset_moves(self, p: "Point"):
        """Integer-bit moves: each group by +-1, and (unless the groups are already whole
        roles) every group of one role together, so the global configurations lie in reach."""
        bundles = [[g] for g in range(len(self.offset_groups))]
        if self.mode != "global":
            for role in LSTM_ROLES:
                bundles.append([g for g, group in enumerate(self.offset_groups)
                                if self._role(group[0]) == role])
        for bundle in bundles:
            for d in (-1, 1):
                if all(self.min_offset <= p.offsets[g] + d <= OFFSET_LIMIT for g in bundle):
                    offsets = list(p.offsets)
                    for g in bundle:
                        offsets[g] += d
                    yield Point(p.words, tuple(offsets))


@dataclass(frozen=True)
class Point:
    """A configuration: a width per word group, an integer-bit offset per offset group."""

    words: tuple
    offsets: tuple


# --------------------------------------------------------------------------
# Hardware cost
# --------------------------------------------------------------------------

def hardware_cost(cfg, formats: ModelFormats) -> dict:
    """Memory bits and multiplier widths of a model in ``formats``.

    memory = weights (every LSTM weight in its layer's weight width, the Dense
    layer's in its own) + state (h in vec and c in preact width, per layer) +
    activation tables (one table ROM per distinct preact/act pair, its entries times
    their width, :func:`golden.activations.activation_table`).  The multiplier's
    operands are the widest weight and the widest vec word (one datapath serves every
    layer); ``multiplier_bits`` is their product.  The search minimises ``memory_bits``,
    then ``multiplier_bits``.
    """
    weight = sum(4 * h * (d + h + 1) * f.weight.word_bits
                 for (d, h), f in zip(cfg.layer_shapes, formats.layers))
    dense = (cfg.hidden_sizes[-1] + 1) * cfg.features * formats.dense.weight.word_bits
    state = sum(h * (f.vec.word_bits + f.preact.word_bits)
                for h, f in zip(cfg.hidden_sizes, formats.layers))
    tables = {}
    for f in formats.layers:
        t = activation_table(f)
        tables[(f.preact, f.act)] = len(t.entries) * t.entry_bits
    table = sum(tables.values())
    wv = max(formats.word_bits("weight"))
    vv = max(f.vec.word_bits for f in formats.layers)
    return {"memory_bits": weight + dense + state + table, "weight_bits": weight,
            "dense_bits": dense, "state_bits": state, "table_bits": table,
            "tables": len(tables), "multiplier": f"{wv} x {vv}", "multiplier_bits": wv * vv}


def cost_key(cost: dict) -> tuple:
    return (cost["memory_bits"], cost["multiplier_bits"])


# --------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------

class Target:
    """What a configuration must meet: ``max_error`` and/or ``same_anomalies``."""

    def __init__(self, max_error: Optional[float], same_anomalies: bool, percentile: float):
        self.max_error, self.same_anomalies, self.percentile = max_error, same_anomalies, percentile

    def describe(self) -> str:
        parts = []
        if self.max_error is not None:
            parts.append(f"max |fixed - float| <= {self.max_error:.4g}")
        if self.same_anomalies:
            parts.append(f"the same anomalous windows as float ({self.percentile:g}th percentile)")
        return " and ".join(parts)


class Evaluator:
    """Runs candidates (``FixedAutoencoder.reconstruct``) and remembers every one."""

    def __init__(self, model, space: Space, x, screen: np.ndarray, target: Target, progress):
        from . import report as rp
        self.rp = rp
        self.model, self.space, self.x, self.target, self.progress = model, space, x, target, progress
        self.screen = np.asarray(screen)
        self.ref = model.reconstruct_float(x)
        self.float_scores = window_scores(x, self.ref)
        self.float_limit = rp.threshold(self.float_scores, target.percentile)
        self.float_flags = rp.flagged(self.float_scores, self.float_limit)
        # With --same-anomalies a subset says nothing: every candidate runs on all windows.
        self.screen_all = target.same_anomalies or len(self.screen) >= len(x)
        self.records: List[dict] = []
        self._by_point: Dict[Point, dict] = {}
        self._by_formats: Dict[ModelFormats, dict] = {}
        self.runs = 0

    def _run(self, formats, idx) -> Tuple[np.ndarray, np.ndarray]:
        fixed = FixedAutoencoder.from_float(self.model, formats)
        xs = self.x if idx is None else self.x[idx]
        ref = self.ref if idx is None else self.ref[idx]
        rec = fixed.reconstruct(xs)
        self.runs += 1
        return rec, np.abs(rec - ref).reshape(len(xs), -1).max(axis=1)

    def _record(self, p: Point, phase: str) -> dict:
        """The record of ``p``: a new one, or the one of a point with the same formats
        (integer-bit moves can land on formats already tried, e.g. act's floor of 1)."""
        if p in self._by_point:
            return self._by_point[p]
        try:
            formats, notes = self.space.formats(p)
            FixedAutoencoder.from_float(self.model, formats)      # weights fit, accumulators exact
        except FormatError as exc:
            formats, notes, reason = None, [], str(exc)
        else:
            reason = None
            if formats in self._by_formats:
                rec = self._by_point[p] = self._by_formats[formats]
                return rec
        rec = {"id": len(self.records), "phase": phase, "point": self.space.describe(p),
               "words": dict(zip(self.space.word_names, p.words)),
               "offsets": {n: o for n, o in zip(self.space.offset_names, p.offsets) if o},
               "feasible": formats is not None, "reason": reason, "cost": None,
               "error_screen": None, "error": None, "same_anomalies": None,
               "anomaly_differences": None, "met": False, "checked_all": False,
               "screened": False, "notes": notes}
        if formats is not None:
            rec["cost"] = hardware_cost(self.model.cfg, formats)
            rec["formats"] = formats.describe(self.space.names).splitlines()
            rec["_formats"] = formats
            self._by_formats[formats] = rec
        self.records.append(rec)
        self._by_point[p] = rec
        if formats is None:
            self._say(rec)
        return rec

    def _say(self, rec: dict) -> None:
        if not rec["feasible"]:
            text = f"infeasible ({rec['reason']})"
        else:
            err = rec["error"] if rec["checked_all"] else rec["error_screen"]
            where = "all windows" if rec["checked_all"] else "screen"
            text = (f"{rec['cost']['memory_bits']:,} bits, error {err:.3e} ({where})"
                    + ("" if rec["same_anomalies"] is None else
                       f", {rec['anomaly_differences']} anomaly difference(s)")
                    + (", meets" if rec["met"] else ""))
        self.progress.say(f"candidate {rec['id']} [{rec['phase']}] {rec['point']}: {text}")

    def screen_point(self, p: Point, phase: str) -> dict:
        """Screen ``p`` (on every window when the subset cannot decide)."""
        if self.screen_all:
            return self.check_point(p, phase)
        rec = self._record(p, phase)
        if rec["feasible"] and not rec["screened"] and not rec["checked_all"]:
            _, per = self._run(rec["_formats"], self.screen)
            rec["error_screen"] = float(per.max())
            rec["screened"] = True
            self._say(rec)
        return rec

    def passes_screen(self, rec: dict) -> bool:
        if not rec["feasible"]:
            return False
        if rec["checked_all"]:
            return rec["met"]
        return self.target.max_error is None or rec["error_screen"] <= self.target.max_error

    def check_point(self, p: Point, phase: str) -> dict:
        """Run ``p`` on every window and decide whether it meets the target."""
        rec = self._record(p, phase)
        if rec["feasible"] and not rec["checked_all"]:
            recon, per = self._run(rec["_formats"], None)
            rec["error"] = float(per.max())
            rec["error_screen"] = float(per[self.screen].max())
            met = self.target.max_error is None or rec["error"] <= self.target.max_error
            if self.target.same_anomalies:
                s = window_scores(self.x, recon)
                flags = self.rp.flagged(s, self.rp.threshold(s, self.target.percentile))
                diff = len(set(flags.tolist()) ^ set(self.float_flags.tolist()))
                rec["same_anomalies"] = diff == 0
                rec["anomaly_differences"] = diff
                met = met and diff == 0
            rec["met"] = bool(met)
            rec["checked_all"] = True
            self._say(rec)
        return rec

    def badness(self, rec: dict) -> tuple:
        """Order of the best unmet configuration: fewest anomaly differences, then error."""
        if not rec["feasible"] or not rec["checked_all"]:
            return (math.inf, math.inf)
        return (rec["anomaly_differences"] or 0, rec["error"])


# --------------------------------------------------------------------------
# The search
# --------------------------------------------------------------------------

def screening_windows(cal: Calibration, n_windows: int, size: int, seed: int = 0,
                      extra_order: Optional[np.ndarray] = None) -> np.ndarray:
    """Up to ``size`` windows: half the most extreme (the window with the largest peak of
    each measured tensor in turn, then the next, ...; and of ``extra_order`` first), the
    rest a random sample (``seed``)."""
    if size >= n_windows:
        return np.arange(n_windows)
    orders = [np.argsort(-wp, kind="stable") for wp in cal.window_peaks.values()]
    if extra_order is not None:
        orders.insert(0, np.asarray(extra_order))
    chosen: List[int] = []
    seen = set()
    rank = 0
    while len(chosen) < size // 2 and rank < n_windows:
        for order in orders:
            i = int(order[rank])
            if i not in seen and len(chosen) < size // 2:
                seen.add(i)
                chosen.append(i)
        rank += 1
    rest = np.array([i for i in range(n_windows) if i not in seen])
    rng = np.random.default_rng(seed)
    chosen += rng.choice(rest, size=size - len(chosen), replace=False).tolist()
    return np.array(sorted(chosen))


#: Windows (those with the largest error) the report's trajectory bound is computed on.
BOUND_WINDOWS = 3


def worst_window_bounds(fixed, model, x, count: int = BOUND_WINDOWS) -> list:
    """The sound per-window bound (:func:`golden.error_bound.trajectory_autoencoder_bound`)
    on the ``count`` windows with the largest max |reconstruction fixed - float|, beside
    that error: ``[{window, error, bound, tightness, within}]``."""
    from golden import error_bound as eb

    err = np.abs(fixed.reconstruct(x) - model.reconstruct_float(x)).reshape(len(x), -1).max(axis=1)
    out = []
    for n in np.argsort(-err, kind="stable")[:count]:
        b = float(np.max(eb.trajectory_autoencoder_bound(fixed, x[n]).reconstruction))
        e = float(err[n])
        out.append({"window": int(n), "error": e, "bound": b,
                    "tightness": b / e if e > 0 else None, "within": e <= b})
    return out


def _hardware_refusal(cfg, formats: ModelFormats) -> Optional[str]:
    """Why the whole-window engine cannot run ``formats``, or None when it can."""
    from hdl.autoencoder_config import AutoencoderEngineConfig

    try:
        AutoencoderEngineConfig(cfg, 1, formats)
    except FormatError as exc:
        return f"the hardware cannot run the chosen formats: {exc}"
    return None


def search(ev: Evaluator, max_bits: int, min_bits: int, refine: int = DEFAULT_REFINE) -> dict:
    """The greedy descent (module docstring, docs/quantize.md): the records ``met``,
    ``chosen`` and ``start``."""
    space = ev.space
    start = space.start(max_bits)
    cur = ev.check_point(start, "start")
    if not cur["feasible"]:
        raise QuantizeError(f"no valid formats at --max-bits {max_bits}: {cur['reason']}")
    p = start
    if not cur["met"]:
        # Nothing to descend from: spend the refinement on the error at the widest formats.
        best = cur
        for _ in range(refine):
            # The screen error never exceeds the error on every window, so a candidate
            # whose screen error is no better than the round's best cannot beat it.
            cands = [(ev.screen_point(q, "failure"), q) for q in space.offset_moves(p)]
            cands = sorted(((c, q) for c, q in cands if c["feasible"]),
                           key=lambda cq: (cq[0]["error_screen"], cq[0]["id"]))
            top = None
            for c, q in cands:
                if top is not None and not ev.screen_all and c["error_screen"] >= top[0]["error"]:
                    break
                full = ev.check_point(q, "failure")
                if top is None or ev.badness(full) < ev.badness(top[0]):
                    top = (full, q)
            if top is None or ev.badness(top[0]) >= ev.badness(best):
                break
            best, p = top
            if best["met"]:
                break
        if not best["met"]:
            return {"met": False, "chosen": best, "start": cur}
        cur = best
    rejected = set()
    refined = 0
    while True:
        moves = []
        for q in space.word_moves(p, min_bits):
            rec = ev.screen_point(q, "descent")
            if ev.passes_screen(rec) and q not in rejected:
                saving = cur["cost"]["memory_bits"] - rec["cost"]["memory_bits"]
                rise = rec["error_screen"] - cur["error_screen"]
                ratio = saving / rise if rise > 0 else math.inf
                moves.append((ratio, saving, -rec["cost"]["multiplier_bits"], rec["id"], q, rec))
        moves.sort(key=lambda m: m[:4], reverse=True)
        accepted = False
        for *_, q, rec in moves:
            full = ev.check_point(q, "descent")
            if full["met"]:
                p, cur, accepted = q, full, True
                break
            rejected.add(q)
        if accepted:
            continue
        if refined >= refine:
            break
        # Stuck: an integer-bit move at the same cost that lowers the error may open the
        # next width reduction.
        cands = []
        for q in space.offset_moves(p):
            rec = ev.screen_point(q, "refine")
            if ev.passes_screen(rec) and q not in rejected and rec["error_screen"] < cur["error_screen"]:
                cands.append((rec["error_screen"], rec["id"], q))
        refined += 1
        taken = False
        for _, _, q in sorted(cands):
            full = ev.check_point(q, "refine")
            if full["met"] and ev.badness(full) < ev.badness(cur):
                p, cur, taken = q, full, True
                break
            rejected.add(q)
        if not taken:
            break
    return {"met": True, "chosen": cur, "start": ev.check_point(start, "start")}


def width_sweep(ev: Evaluator, widths: Sequence[int] = SWEEP_WIDTHS) -> List[dict]:
    """Max error on every window with every word group at each width (calibrated integer
    bits)."""
    out = []
    for w in widths:
        rec = ev.check_point(ev.space.start(w), "sweep")
        out.append({"word_bits": w, "feasible": rec["feasible"], "reason": rec["reason"],
                    "error": rec["error"], "met": rec["met"],
                    "memory_bits": rec["cost"]["memory_bits"] if rec["cost"] else None})
    return out


# --------------------------------------------------------------------------
# Per-layer figures of the chosen configuration
# --------------------------------------------------------------------------

def layer_errors(model, formats: ModelFormats, x) -> Tuple[list, dict, ClampCounts]:
    """Max |fixed - float| of every layer's h and c, of the reconstruction, and the clamps."""
    fixed = FixedAutoencoder.from_float(model, formats)
    clamps = ClampCounts()
    got = fixed.forward_int(fixed.quantize_windows(x, clamps), clamps)
    ref = model.forward_float(x)
    rows = []
    for k, f in enumerate(formats.layers):
        rows.append({"layer": fixed.layer_names[k],
                     "h": float(np.max(np.abs(f.vec.to_float(got["h"][k]) - ref["h"][k]))),
                     "c": float(np.max(np.abs(f.preact.to_float(got["c"][k]) - ref["c"][k])))})
    recon = formats.output.to_float(got["reconstruction"])
    rows.append({"layer": "dense", "h": None, "c": None,
                 "y": float(np.max(np.abs(recon - ref["reconstruction"])))})
    return rows, {"max_abs": rows[-1]["y"]}, clamps


# --------------------------------------------------------------------------
# Calibration data
# --------------------------------------------------------------------------

def calibration_data(args, lm, say) -> dict:
    """The calibration windows: ``--windows``, ``--csv`` or the default detect job's data.

    Returns ``{"x", "description", "scaler", "warnings"}``.
    """
    from . import detect
    from .workload.noaa import MinMaxScaler, UnitError, load_windows
    cfg = lm.model.cfg
    warnings = []
    if args.windows is not None:
        say(f"reading scaled windows from {args.windows}")
        try:
            wz = detect.load_npz_windows(args.windows, cfg)
        except detect.DetectError as exc:
            raise QuantizeError(str(exc)) from None
        return {"x": wz["sequences"], "description": f"scaled windows {args.windows}",
                "scaler": lm.scaler, "warnings": warnings}
    with tempfile.TemporaryDirectory(prefix="lstm-chiplet-quantize-") as tmp:
        if args.csv is not None:
            path = Path(args.csv)
            if not path.is_file():
                raise QuantizeError(f"CSV file {path} not found")
            fmt = None if args.format == "auto" else args.format
            desc = f"{path}"
            default = False
        else:
            from .workload import synthetic
            days = args.days or synthetic.DEFAULT_DAYS
            normal, n_anom = synthetic.default_plan(days)
            seed = synthetic.DEFAULT_SEED if args.seed is None else args.seed
            say(f"generating the default detect data ({days} days, seed {seed})")
            synth = synthetic.generate_lcd(Path(tmp) / synthetic.DEFAULT_FILENAME, seed=seed,
                                           days=days, normal_days=normal, anomalies=n_anom)
            path, fmt, default = synth.csv_path, "lcd", True
            desc = (f"the default detect data (generated NOAA LCD, {days} days, seed {seed}, "
                    f"{n_anom} injected anomalies)")
        feats = detect._csv_features(args.features)
        win = load_windows(path, fmt, feats, None, steps=cfg.timesteps, stride=args.stride)
    if len(win.features) != cfg.features:
        raise QuantizeError(f"the model expects {cfg.features} features, {desc} has "
                            f"{len(win.features)} ({', '.join(win.features)}); choose columns "
                            "with --features")
    scaler = lm.scaler
    if scaler is not None and tuple(scaler.features) != tuple(win.features):
        raise QuantizeError(f"the model's scaler was fitted on {', '.join(scaler.features)}, "
                            f"{desc} has {', '.join(win.features)}: give --features in the "
                            "model's order")
    if scaler is None and default:
        shipped = detect.load_model(None).scaler
        if shipped is not None and tuple(shipped.features) == tuple(win.features):
            scaler = shipped
            warnings.append("the model carries no scaler: the default data are scaled with the "
                            "shipped model's scaler (as the default detect job scales them)")
    if scaler is None:
        scaler = MinMaxScaler.fit(win.sequences, win.features, what=desc, units=win.units or None)
        warnings.append("the model carries no scaler: min-max scaler fitted on the calibration data")
    else:       # the data in the scaler's units (a metric LCD file for a US-unit scaler)
        try:
            win = win.in_units(scaler.units, scaler="the model's scaler")
        except UnitError as exc:
            raise QuantizeError(str(exc)) from None
        warnings += win.summary["units"]["warnings"]
        warnings += [f"{desc}: {c['feature']} converted from {c['from']} into the scaler's "
                     f"{c['to']}" for c in win.summary["units"]["conversions"]]
    return {"x": win.scaled(scaler).sequences, "description": desc, "scaler": scaler,
            "warnings": warnings}


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------

def _check_out(out: Path) -> Path:
    if out.suffix != ".npz":
        raise QuantizeError(f"--out {out}: name a .npz model file")
    if out.is_dir():
        raise QuantizeError(f"--out {out} is a folder; name a .npz model file")
    folder = out.absolute().parent
    rep = folder / "quantize.json"
    ours = False
    if rep.is_file():
        try:
            ours = json.loads(rep.read_text()).get("tool") == TOOL
        except (OSError, ValueError, AttributeError):
            ours = False
        if not ours:
            raise QuantizeError(f"{rep} exists and was not written by {TOOL}; choose another "
                                "folder for --out")
    if not ours:
        foreign = [n for n in REPORT_FILES if (folder / n).exists()]
        if foreign:
            raise QuantizeError(f"{folder} holds {', '.join(foreign)} not written by {TOOL} "
                                "(no quantize.json of it); choose another folder for --out")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".quantize.partial-", dir=folder))
    except OSError as exc:
        raise QuantizeError(f"--out {out}: cannot write into {folder} "
                            f"({exc.strerror or exc})") from None


def _commit(tmp: Path, out: Path, names: Sequence[str]) -> None:
    folder = out.absolute().parent
    for name in names:
        target = out if name == out.name else folder / name
        os.replace(tmp / name, target)


def _fmt_q(f) -> str:
    return f"Q{f.word_bits - f.frac_bits}.{f.frac_bits} ({f.word_bits} bits)"


def formats_table(formats: ModelFormats, names) -> list:
    rows = [{"layer": n, **{r: _fmt_q(getattr(f, r)) for r in LSTM_ROLES}}
            for n, f in zip(names, formats.layers)]
    rows.append({"layer": "dense", "weight": _fmt_q(formats.dense.weight),
                 "out": _fmt_q(formats.dense.out)})
    return rows


def plot_ranges(path: Path, cal: Calibration, formats: ModelFormats) -> None:
    """Per-layer value-range profile: peaks of every tensor, the chosen format maxima."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups = [("x", "vec"), ("h", "vec"), ("z_i", "preact"), ("z_f", "preact"),
              ("z_g", "preact"), ("z_o", "preact"), ("c", "preact"), ("kernel", "weight"),
              ("recurrent", "weight"), ("bias", "weight")]
    units = list(cal.layer_names) + ["dense"]
    fig, ax = plt.subplots(figsize=(11, 4.6), dpi=110)
    width = 0.8 / len(groups)
    colors = plt.get_cmap("tab10")
    for j, (t, role) in enumerate(groups):
        vals = [cal.layers[k][t] for k in range(len(cal.layers))]
        vals.append({"kernel": cal.dense["kernel"], "bias": cal.dense["bias"],
                     "h": cal.dense["y"]}.get(t, np.nan))
        xs = np.arange(len(units)) + (j - len(groups) / 2 + 0.5) * width
        ax.bar(xs, vals, width, color=colors(j % 10), label=t if t != "h" else "h (dense: y)")
    for k, f in enumerate(list(formats.layers) + [None]):
        pairs = ([("vec", f.vec.max), ("weight", f.weight.max), ("preact", f.preact.max)]
                 if f is not None else [("weight", formats.dense.weight.max),
                                        ("out", formats.dense.out.max)])
        for role, m in pairs:
            ax.hlines(m, k - 0.42, k + 0.42, colors="k", linestyles=":", lw=0.8)
            ax.text(k + 0.43, m, role, fontsize=6, va="center")
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(units)))
    ax.set_xticklabels(units)
    ax.set_ylabel("largest |value| on the calibration windows")
    ax.set_title("value ranges per layer (dotted: the chosen formats' maxima)")
    ax.legend(fontsize=7, ncol=5, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_search(path: Path, records: list, chosen: dict, target: Target, met: bool = True) -> None:
    """Cost against error of every configuration tried, the chosen one marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    kinds = (("met (all windows)", lambda r: r["met"], "tab:green", "o"),
             ("missed on all windows", lambda r: r["checked_all"] and not r["met"], "tab:red", "x"),
             ("screened out", lambda r: not r["checked_all"], "tab:gray", "."))
    for label, sel, color, marker in kinds:
        pts = [(r["error"] if r["checked_all"] else r["error_screen"], r["cost"]["memory_bits"])
               for r in records if r["feasible"] and sel(r)]
        if pts:
            e, c = zip(*pts)
            ax.scatter(np.maximum(e, 1e-12), c, s=14, color=color, marker=marker, label=label)
    if chosen is not None and chosen["feasible"]:
        ax.scatter([max(chosen["error"], 1e-12)], [chosen["cost"]["memory_bits"]], s=160,
                   facecolors="none", edgecolors="k", lw=1.5,
                   label="chosen" if met else "best found (target not met)")
    if target.max_error is not None:
        ax.axvline(target.max_error, color="k", ls="--", lw=1, label=f"target {target.max_error:.3g}")
    ax.set_xscale("log")
    ax.set_xlabel("max |fixed - float| of the reconstruction (screen or all windows)")
    ax.set_ylabel("memory bits")
    ax.set_title("search: cost against error of every configuration tried")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_widths(path: Path, sweep: list, target: Target) -> None:
    """Max error against the word width (every format at that width)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    ok = [s for s in sweep if s["feasible"]]
    if ok:
        ax.plot([s["word_bits"] for s in ok], [max(s["error"], 1e-12) for s in ok], "o-",
                label="max |fixed - float|, all windows")
    for s in sweep:
        if not s["feasible"]:
            ax.axvline(s["word_bits"], color="tab:gray", lw=6, alpha=0.2)
    if target.max_error is not None:
        ax.axhline(target.max_error, color="k", ls="--", lw=1, label=f"target {target.max_error:.3g}")
    ax.set_yscale("log")
    ax.set_xlabel("word bits of every format (integer bits from calibration)")
    ax.set_ylabel("max error of the reconstruction")
    ax.set_title("error against word width (grey: no valid formats)")
    ax.set_xticks([s["word_bits"] for s in sweep])
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _public(rec: Optional[dict]) -> Optional[dict]:
    if rec is None:
        return None
    return {k: v for k, v in rec.items() if not k.startswith("_")}


def markdown(rep: dict) -> str:
    from .report import _table
    ch = rep["chosen"]
    out = [f"# Quantization of {rep['model']['name']}", "",
           f"Command: `{rep['command']}`", "",
           f"Calibration data: {rep['data']['description']}: {rep['data']['windows']} windows "
           f"({rep['data']['screen']} in the screening subset). Head-room {rep['headroom']:g} "
           f"over the measured peaks. Mode: {rep['mode']}."]
    out += ["", f"Target: {rep['target']['description']}. "
            + ("**Met.**" if rep["met"] else "**Not met** by any configuration within "
               f"{rep['limits']['min_bits']}..{rep['limits']['max_bits']} bits; the best one "
               "found is reported below and no model was written.")]
    for w in rep["warnings"]:
        out += ["", f"Warning: {w}"]
    out += ["", "## Value ranges (largest |value| on the calibration windows)", ""]
    tens = ["x", "h", "z_i", "z_f", "z_g", "z_o", "c", "kernel", "recurrent", "bias"]
    rows = [[L["name"]] + [f"{L[t]:.4g}" for t in tens] for L in rep["ranges"]["layers"]]
    d = rep["ranges"]["dense"]
    rows.append(["dense", "", f"y {d['y']:.4g}", "", "", "", "", "", f"{d['kernel']:.4g}", "",
                 f"{d['bias']:.4g}"])
    out += _table(["layer"] + tens, rows)
    out += ["", "## Chosen formats", "",
            f"{ch['point']}", ""]
    out += _table(["layer", "vec (x, h)", "weight", "preact (z, c)", "act", "out"],
                  [[r["layer"], r.get("vec", ""), r["weight"], r.get("preact", ""),
                    r.get("act", ""), r.get("out", "")] for r in rep["formats_table"]])
    out += ["", "## Error (all windows)", ""]
    out += _table(["layer", "max abs h", "max abs c", "max abs reconstruction"],
                  [[r["layer"], "-" if r["h"] is None else f"{r['h']:.3e}",
                    "-" if r["c"] is None else f"{r['c']:.3e}",
                    f"{r['y']:.3e}" if "y" in r else ""] for r in rep["layer_errors"]])
    out += ["", "Sound trajectory bound (golden.error_bound, affine arithmetic along the "
            "window's own trajectory) on the windows with the largest error:", ""]
    out += _table(["window", "max abs error", "bound", "bound / error"],
                  [[b["window"], f"{b['error']:.3e}", f"{b['bound']:.3e}",
                    "-" if b["tightness"] is None else f"{b['tightness']:.1f}"]
                   for b in rep["trajectory_bound"]])
    an = rep["anomalies"]
    out += ["", f"Anomalies ({an['percentile']:g}th percentile of each model's scores): float "
            f"flags {an['float_flagged']}, fixed {an['fixed_flagged']}, "
            + ("the same windows." if an["same"] else f"{an['differences']} window(s) differ."),
            "", f"Clamps on the calibration windows: {rep['clamps']['total']}"
            + ("" if not rep["clamps"]["clamped"] else " (" + ", ".join(
                f"{c['layer']} {c['tensor']}: {c['clamped']} of {c['seen']}"
                for c in rep["clamps"]["clamped"]) + ")") + "."]
    c = ch["cost"]
    out += ["", "## Cost", ""]
    out += _table(["", "chosen", f"all at {rep['limits']['max_bits']} bits"],
                  [["memory bits", f"{c['memory_bits']:,}", f"{rep['start']['cost']['memory_bits']:,}"],
                   ["  weights (LSTM)", f"{c['weight_bits']:,}", f"{rep['start']['cost']['weight_bits']:,}"],
                   ["  dense weights", f"{c['dense_bits']:,}", f"{rep['start']['cost']['dense_bits']:,}"],
                   ["  h and c state", f"{c['state_bits']:,}", f"{rep['start']['cost']['state_bits']:,}"],
                   ["  activation tables", f"{c['table_bits']:,} ({c['tables']})",
                    f"{rep['start']['cost']['table_bits']:,} ({rep['start']['cost']['tables']})"],
                   ["multiplier (weight x vec)", c["multiplier"], rep["start"]["cost"]["multiplier"]]])
    out += ["", "## Search", "",
            f"{len(rep['candidates'])} configurations tried ({rep['runs']} model runs) in "
            f"{rep['seconds']:.1f} s; `quantize_search.png` plots their cost against their error.",
            "", "Word width sweep (every format at one width, integer bits from calibration; "
            "`quantize_widths.png`):", ""]
    out += _table(["word bits", "max error", "memory bits", "meets"],
                  [[s["word_bits"], "-" if s["error"] is None else f"{s['error']:.3e}",
                    "-" if s["memory_bits"] is None else f"{s['memory_bits']:,}",
                    "no valid formats" if not s["feasible"] else ("yes" if s["met"] else "no")]
                   for s in rep["sweep"]])
    out += ["", "Files: " + ", ".join(rep["outputs"]), ""]
    return "\n".join(out)


# --------------------------------------------------------------------------
# The job
# --------------------------------------------------------------------------

def parse_error(text: str) -> float:
    """``1e-3``, ``2^-10`` or ``2**-10`` -> a positive float."""
    t = str(text).strip()
    m = re.fullmatch(r"2\s*(?:\^|\*\*)\s*(-?\d+)", t)
    try:
        v = 2.0 ** int(m.group(1)) if m else float(t)
    except ValueError:
        raise QuantizeError(f"--max-error: expected a number such as 1e-3 or 2^-10, got {text!r}") from None
    if not (v > 0 and math.isfinite(v)):
        raise QuantizeError(f"--max-error must be positive, got {text!r}")
    return v


def _error_argument(text: str) -> float:
    try:
        return parse_error(text)
    except QuantizeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _load(args):
    from . import detect
    if args.reference:
        from golden.autoencoder import realistic_weights
        from .models.project import LoadedModel
        return LoadedModel(realistic_weights(), "reference", "realistic_weights()",
                           provenance={"source": "golden.autoencoder.realistic_weights(seed=0)"})
    try:
        return detect.load_model(args.model)
    except detect.DetectError as exc:
        raise QuantizeError(str(exc)) from None


def _lossless_storage(model) -> str:
    arrays = model.get_weights()
    same = all(np.array_equal(a.astype(np.float32).astype(np.float64), a) for a in arrays)
    return "float32" if same else "float64"


def run_job(args, progress) -> dict:
    from . import report as rp
    from .models.project import save_model
    say = progress.say
    t0 = time.perf_counter()
    tmp: Path = args._tmp
    out = Path(args.out)
    target = Target(args.max_error, args.same_anomalies or args.max_error is None,
                    rp.check_percentile(args.percentile))
    if not 2 <= args.min_bits <= args.max_bits:
        raise QuantizeError(f"--min-bits {args.min_bits} and --max-bits {args.max_bits}: need "
                            "2 <= min <= max")
    if args.max_bits > 26:
        raise QuantizeError(f"--max-bits {args.max_bits}: at most 26 (the kernels' float64 "
                            "accumulators must stay exact; wider layers allow less)")
    if not (args.headroom >= 0 and math.isfinite(args.headroom)):
        raise QuantizeError(f"--headroom must be a non-negative number, got {args.headroom}")
    if args.screen < MIN_WINDOWS:
        raise QuantizeError(f"--screen must be at least {MIN_WINDOWS}, got {args.screen}")
    mode = "per-layer" if args.per_layer_words else ("global" if args.global_formats else "shared")

    say("loading the model")
    lm = _load(args)
    model = lm.model
    data = calibration_data(args, lm, say)
    x = data["x"]
    warnings = list(data["warnings"])
    say(f"calibrating on {len(x)} windows")
    cal = calibrate(model, x, what=f"calibration windows ({data['description']})")
    space = Space(cal, mode, args.headroom, lm.model_formats, not args.no_fewer_int_bits)
    # the start configuration's worst windows join the screening subset
    probe_formats, _ = space.formats(space.start(args.max_bits))
    probe = FixedAutoencoder.from_float(model, probe_formats).reconstruct(x)
    worst = np.argsort(-np.abs(probe - model.reconstruct_float(x)).reshape(len(x), -1).max(axis=1),
                       kind="stable")
    screen = screening_windows(cal, len(x), args.screen, args.search_seed, worst)
    ev = Evaluator(model, space, x, screen, target, progress)
    say(f"search ({mode} word widths, target {target.describe()}, "
        f"{'all' if ev.screen_all else len(screen)} windows per candidate)")
    res = search(ev, args.max_bits, args.min_bits, args.refine)
    say("width sweep")
    sweep = width_sweep(ev)
    chosen = res["chosen"]
    formats = chosen["_formats"]
    rows, _, clamps = layer_errors(model, formats, x)
    fixed = FixedAutoencoder.from_float(model, formats)
    say(f"trajectory bound on the {min(BOUND_WINDOWS, len(x))} worst windows")
    bounds = worst_window_bounds(fixed, model, x, BOUND_WINDOWS)
    fs = fixed.scores(x)
    flim = rp.threshold(fs, target.percentile)
    fflags = rp.flagged(fs, flim)
    cmp = rp.compare_flags("float", ev.float_flags, "fixed", fflags,
                           {"float": ev.float_scores, "fixed": fs},
                           {"float": ev.float_limit, "fixed": flim})
    if mode == "per-layer":
        warnings.append("per-layer word widths: the golden model runs these formats, the "
                        "hardware cannot (its one datapath needs one width per role)")
    else:
        hardware_note = _hardware_refusal(model.cfg, formats)
        if hardware_note:
            warnings.append(hardware_note)
    warnings += chosen.get("notes", [])
    if not res["met"] and out.exists():
        warnings.append(f"{out} is left as it was: it is not a result of this run (no "
                        "configuration met the target)")
    names = list(cal.layer_names)
    model_name = "the reference model (realistic_weights)" if args.reference else str(lm.path)
    outputs = list(REPORT_FILES) + ([out.name] if res["met"] else [])
    rep = {
        "tool": TOOL, "command": command_line(args),
        "model": {"name": model_name, "kind": lm.kind, "config": model.cfg.to_dict(),
                  "description": model.cfg.describe()},
        "data": {"description": data["description"], "windows": int(len(x)),
                 "screen": int(len(x) if ev.screen_all else len(screen))},
        "headroom": args.headroom, "mode": mode,
        "target": {"max_error": target.max_error, "same_anomalies": target.same_anomalies,
                   "percentile": target.percentile, "description": target.describe()},
        "limits": {"min_bits": args.min_bits, "max_bits": args.max_bits},
        "met": res["met"], "warnings": warnings,
        "ranges": cal.to_dict(), "range_rows": ranges_table(cal),
        "calibrated_int_bits": {n: integer_bits(pk, args.max_bits, args.headroom) for n, pk in
                                zip(space.offset_names, space.group_peaks(space.start(args.max_bits)))},
        "chosen": _public(chosen), "start": _public(res["start"]),
        "formats": formats.to_dict(), "formats_text": formats.describe(names),
        "formats_table": formats_table(formats, names),
        "error": chosen["error"], "layer_errors": rows, "trajectory_bound": bounds,
        "anomalies": {"percentile": target.percentile, "float_flagged": int(len(ev.float_flags)),
                      "fixed_flagged": int(len(fflags)), "same": cmp["same"],
                      "differences": cmp["differences_total"], "float_threshold": ev.float_limit,
                      "fixed_threshold": flim},
        "clamps": {"total": clamps.total, "clamped": [c for c in clamps.to_list() if c["clamped"]]},
        "cost": chosen["cost"], "sweep": sweep,
        "candidates": [_public(r) for r in ev.records], "runs": ev.runs,
        "outputs": outputs,
    }
    say("writing the outputs")
    plot_ranges(tmp / "quantize_ranges.png", cal, formats)
    plot_search(tmp / "quantize_search.png", ev.records, chosen, target, res["met"])
    plot_widths(tmp / "quantize_widths.png", sweep, target)
    if res["met"]:
        prov = dict(lm.provenance or {})
        prov["quantize"] = {"command": rep["command"], "target": target.describe(),
                            "mode": mode, "error": chosen["error"], "windows": int(len(x)),
                            "data": data["description"], "headroom": args.headroom}
        save_model(tmp / out.name, model, data["scaler"], fmts=formats, provenance=prov,
                   data_format=lm.data_format, storage=_lossless_storage(model))
    rep["seconds"] = time.perf_counter() - t0
    (tmp / "quantize.md").write_text(markdown(rep))
    rp.write_json(tmp / "quantize.json", rep)
    return rep


def command_line(args) -> str:
    parts = ["lstm-chiplet", "quantize"]
    for name in ("model", "windows", "csv", "format", "features", "max_error", "percentile",
                 "max_bits", "min_bits", "headroom", "screen", "refine", "stride", "days", "seed",
                 "out"):
        v = getattr(args, name, None)
        if v is None or (name, v) in (("format", "auto"), ("percentile", 95.0), ("max_bits", 16),
                                      ("min_bits", 4), ("headroom", DEFAULT_HEADROOM),
                                      ("screen", DEFAULT_SCREEN), ("refine", DEFAULT_REFINE),
                                      ("stride", 1)):
            continue
        parts += [f"--{name.replace('_', '-')}", shlex.quote(str(v))]
    for flag in ("reference", "same_anomalies", "per_layer_words", "global_formats",
                 "no_fewer_int_bits", "report_on_failure"):
        if getattr(args, flag, False):
            parts.append("--" + {"global_formats": "global"}.get(flag, flag).replace("_", "-"))
    return " ".join(parts)


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", type=Path, metavar="FILE",
                     help="project, Keras get_weights() or PyTorch .npz (default: the shipped model)")
    src.add_argument("--reference", action="store_true",
                     help="quantize the Keras-layout reference model (golden realistic_weights())")
    data = p.add_mutually_exclusive_group()
    data.add_argument("--windows", type=Path, metavar="W.npz",
                      help="scaled calibration windows: array 'sequences' (N, T, F)")
    data.add_argument("--csv", type=Path, metavar="FILE",
                      help="NOAA CSV (LCD or Global Marine); default: the default detect job's data")
    p.add_argument("--format", choices=("lcd", "marine", "auto"), default="auto",
                   help="CSV format (default: detected)")
    p.add_argument("--features", metavar="A,B,...", help="CSV feature columns in model order")
    p.add_argument("--stride", type=int, default=1, help="CSV: steps between window starts")
    p.add_argument("--days", type=int, help="default data: days (default as detect)")
    p.add_argument("--seed", type=int, help="default data: seed (default as detect)")
    p.add_argument("--max-error", type=_error_argument, metavar="E",
                   help="target: max |fixed - float| of the reconstruction (e.g. 1e-3, 2^-10)")
    p.add_argument("--same-anomalies", action="store_true",
                   help="target: the same anomalous windows as float (default when no "
                        "--max-error is given)")
    p.add_argument("--percentile", type=float, default=95.0,
                   help="anomaly threshold percentile of each model's scores (default 95)")
    p.add_argument("--max-bits", type=int, default=16, help="widest word (default 16)")
    p.add_argument("--min-bits", type=int, default=4, help="narrowest word tried (default 4)")
    p.add_argument("--headroom", type=float, default=DEFAULT_HEADROOM,
                   help=f"integer bits hold peak * (1 + headroom) (default {DEFAULT_HEADROOM:g})")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--per-layer-words", action="store_true",
                      help="word widths per layer too (golden model only; the hardware cannot run it yet)")
    mode.add_argument("--global", dest="global_formats", action="store_true",
                      help="one set of formats for every layer (what the hardware runs today)")
    p.add_argument("--no-fewer-int-bits", action="store_true",
                   help="never give a slot fewer integer bits than calibrated (no trading a "
                        "rare clamp for a fraction bit)")
    p.add_argument("--screen", type=int, default=DEFAULT_SCREEN,
                   help=f"windows of the screening subset (default {DEFAULT_SCREEN})")
    p.add_argument("--refine", type=int, default=DEFAULT_REFINE,
                   help=f"rounds of integer-bit refinement (default {DEFAULT_REFINE})")
    p.add_argument("--search-seed", type=int, default=0, help="seed of the screening sample")
    p.add_argument("--report-on-failure", action="store_true",
                   help="when no configuration meets the target, write the report (no model) "
                        "and exit 0")
    p.add_argument("--out", type=Path, required=True, metavar="Q.npz",
                   help="the quantized model; quantize.md, quantize.json and the plots go beside it")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run(args) -> int:
    from .detect import Progress
    progress = Progress(args.quiet)
    out = Path(args.out)
    args._tmp = _check_out(out)
    try:
        rep = run_job(args, progress)
        if rep["met"] or args.report_on_failure:
            _commit(args._tmp, out, rep["outputs"])
    finally:
        shutil.rmtree(args._tmp, ignore_errors=True)
    for note in rep["warnings"]:
        print(f"warning: {note}", file=sys.stderr)
    ch = rep["chosen"]
    if not rep["met"]:
        msg = (f"no configuration within {args.min_bits}..{args.max_bits} bits meets the target "
               f"({rep['target']['description']}); best found: {ch['point']}, error "
               f"{ch['error']:.4g}"
               + ("" if ch["anomaly_differences"] is None
                  else f", {ch['anomaly_differences']} anomalous window(s) differ"))
        print(msg, file=sys.stderr)
        if args.report_on_failure:
            print(f"report written: {out.absolute().parent}/quantize.md (no model)")
            return 0
        return 1
    print(f"chosen: {ch['point']}; error {ch['error']:.4g}, {ch['cost']['memory_bits']:,} memory "
          f"bits, multiplier {ch['cost']['multiplier']}")
    print(f"written: {out} and beside it {', '.join(REPORT_FILES)}")
    return 0
