"""NOAA weather CSV loaders, windows of T steps and the min-max scaler.

Two NOAA formats are read with the :mod:`csv` module and numpy (no pandas):

``marine``
    NCEI Global Marine data (IMMA-derived): many ships and buoys in one time-sorted
    stream, one row per report, most columns sparse.  Default features
    :data:`MARINE_FEATURES`.  Values are kept in the file's own units (IMMA: tenths of
    a degree C, tenths of a hPa, tenths of m/s, wave height in half metres, period in
    seconds): the min-max scaler makes the unit irrelevant to the model.
``lcd``
    NOAA Local Climatological Data, hourly: one station, several report types per
    hour, daily and monthly summary rows mixed in.  Default features
    :data:`LCD_FEATURES` (US units as in the file).

The format is recognised from the header (:func:`detect_format`) or given; any
numeric columns may be chosen as features.

The policy for every quirk
--------------------------
Each decision below is counted, per column or per row, in the load summary
(:func:`format_summary` prints it; ``Dataset.summary`` holds it as a dict).

=====================================  ==========  ==========================================
quirk                                  action      detail (summary key)
=====================================  ==========  ==========================================
marine header wrapped in three         repair      backticks stripped (``header.backticks``)
backticks
REPORT_TYPE / SOURCE twice in the      keep first  the copies are compared on every row;
LCD header                                         disagreements are counted
                                                   (``header.duplicates``)
row with the wrong number of fields    drop        ``rows.malformed``
DATE that is not ISO 8601              drop        ``rows.bad_date``
LCD 'SOD' / 'SOM' (daily / monthly     drop        summary rows, hourly fields empty
summary, trailing spaces)                          (``rows.summary_report``)
several LCD reports in one clock hour  resolve     one report per station and hour: FM-15
                                                   (routine METAR) before FM-12 (SYNOP)
                                                   before FM-16 (special), others last,
                                                   first in the file on a tie; the others
                                                   are dropped (``rows.superseded_in_hour``)
                                                   after lending the chosen report any value
                                                   it lacks (``filled_same_hour``)
marine: one platform twice at the      drop        the first report is kept
same time                                          (``rows.duplicate_time``)
empty cell                             missing     ``empty``
'M'                                    missing     ``missing_M``
'*'                                    missing     ``flag_star`` (a flag without a value)
'T' (trace) in a precipitation or      repair      0.0 (less than the smallest reported
snow column                                        amount) (``trace_T``); elsewhere garbage
value with suffix 's' (suspect)        repair      suffix stripped, value kept
                                                   (``suspect_s``); with ``suspect="drop"``
                                                   it becomes missing (``suspect_dropped``)
value with suffix 'V' (variable        repair      suffix stripped, value kept (``variable_V``)
visibility)
'VRB' (variable wind direction)        missing     no single direction exists (``vrb``)
IMMA code 99 in WAVE_PERIOD            missing     a code (no period determined), not 99 s
                                                   (``sentinel``)
anything else non-numeric              missing     ``garbage``
missing feature value                  fill/drop   held from the same station's previous
                                                   real value when at most ``fill_hours``
                                                   old (``filled_hold``); otherwise the
                                                   report is dropped (``rows.incomplete``,
                                                   per column ``left_missing``)
=====================================  ==========  ==========================================

Windows (:func:`make_windows`) are ``steps`` consecutive kept reports of one station
(ship, buoy or land station), in time order, never spanning a gap between consecutive
reports larger than ``max_gap_hours`` and never containing a missing value.  LCD gaps
are measured between clock hours, marine gaps between report times (marine reports
are irregular; a window is a sequence of reports, not a regular grid).  Default
policies (:data:`DEFAULT_POLICIES`):

* lcd: ``max_gap_hours=1`` (24 consecutive clock hours), ``fill_hours=0``;
* marine: ``max_gap_hours=6`` and ``fill_hours=6``: six hours is the synoptic
  reporting interval most ships keep, and many report wave fields only at synoptic
  hours, so without a short hold almost no report carries all six features.

The min-max scaler (:class:`MinMaxScaler`) is fitted on training data, maps each
feature to [0, 1] on that data, counts values outside the fitted range when applied
to other data, and saves to a dict of plain arrays (for ``np.savez``; no pickle).

Errors: :class:`DataError` (a ``ValueError``) names the file and, where it applies,
the column.  ``python -m lstm_chiplet.workload.noaa FILE`` prints the summary of a file.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from golden.lstm_float import ShapeError

MARINE = "marine"
LCD = "lcd"
DATA_FORMATS = (MARINE, LCD)

MARINE_FEATURES = ("AIR_TEMP", "SEA_SURF_TEMP", "SEA_LVL_PRES", "WIND_SPEED",
                   "WAVE_HGT", "WAVE_PERIOD")
LCD_FEATURES = ("HourlyDryBulbTemperature", "HourlyDewPointTemperature",
                "HourlyRelativeHumidity", "HourlyWindSpeed", "HourlyStationPressure",
                "HourlyVisibility")
DEFAULT_FEATURES = {MARINE: MARINE_FEATURES, LCD: LCD_FEATURES}

#: Steps per window of the reference workload.
WINDOW_STEPS = 24

STATION = "STATION"
DATE = "DATE"
REPORT_TYPE = "REPORT_TYPE"
#: LCD report types that summarise a day or a month (their hourly fields are empty).
SUMMARY_REPORTS = ("SOD", "SOM")
#: IMMA codes that are not measurements, per column.
SENTINELS = {MARINE: {"WAVE_PERIOD": (99.0,)}, LCD: {}}

#: What each per-column count means (keys of ``summary["columns"][name]``).
COLUMN_REASONS = {
    "value": "numeric, kept as read",
    "trace_T": "'T' trace -> 0.0",
    "suspect_s": "suffix 's' (suspect) stripped, kept",
    "suspect_dropped": "suffix 's' (suspect) -> missing",
    "variable_V": "suffix 'V' (variable) stripped, kept",
    "empty": "empty -> missing",
    "missing_M": "'M' -> missing",
    "flag_star": "'*' -> missing",
    "vrb": "'VRB' -> missing",
    "sentinel": "code (e.g. 99) -> missing",
    "garbage": "non-numeric -> missing",
    "filled_same_hour": "missing, taken from another report of the hour",
    "filled_hold": "missing, held from the station's previous value",
    "left_missing": "still missing: report dropped",
}
#: What each per-row count means (keys of ``summary["rows"]``).
ROW_REASONS = {
    "read": "data rows read",
    "malformed": "dropped: wrong number of fields",
    "bad_date": "dropped: DATE not ISO 8601",
    "summary_report": "dropped: LCD daily/monthly summary (SOD/SOM)",
    "superseded_in_hour": "dropped: another report of the same hour preferred",
    "duplicate_time": "dropped: same station and time as an earlier report",
    "incomplete": "dropped: a feature still missing after repairs",
    "kept": "kept: one step of a station's series",
}
_REPAIRED = ("trace_T", "suspect_s", "variable_V", "filled_same_hour", "filled_hold")
_MISSING = ("empty", "missing_M", "flag_star", "vrb", "sentinel", "garbage", "suspect_dropped")

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")


class DataError(ValueError):
    """Input data cannot be used; the message names the file and, where known, the column."""


@dataclass(frozen=True)
class DataPolicy:
    """How gaps, missing and suspect values are handled (see the module docstring).

    Parameters
    ----------
    max_gap_hours : float
        Largest time between two consecutive steps of one window.
    fill_hours : float
        A missing value is replaced by the same station's previous real value of
        that column when that value is at most this many hours old; 0 disables it.
    suspect : str
        ``keep`` (strip the 's' and use the value) or ``drop`` (treat as missing).
    report_preference : tuple of str
        LCD report types in order of preference within one clock hour.
    """

    max_gap_hours: float
    fill_hours: float = 0.0
    suspect: str = "keep"
    report_preference: Tuple[str, ...] = ("FM-15", "FM-12", "FM-16")

    def __post_init__(self):
        if not (float(self.max_gap_hours) > 0):
            raise DataError(f"policy: max_gap_hours must be positive, got {self.max_gap_hours!r}")
        if not (float(self.fill_hours) >= 0):
            raise DataError(f"policy: fill_hours must be >= 0, got {self.fill_hours!r}")
        if self.suspect not in ("keep", "drop"):
            raise DataError(f"policy: suspect must be 'keep' or 'drop', got {self.suspect!r}")

    def describe(self) -> str:
        return (f"max gap {self.max_gap_hours:g} h, hold-fill {self.fill_hours:g} h, "
                f"suspect values {'kept' if self.suspect == 'keep' else 'dropped'}, "
                f"hour preference {' > '.join(self.report_preference)}")

    def to_dict(self) -> dict:
        return {"max_gap_hours": float(self.max_gap_hours), "fill_hours": float(self.fill_hours),
                "suspect": self.suspect, "report_preference": list(self.report_preference)}


DEFAULT_POLICIES = {
    LCD: DataPolicy(max_gap_hours=1.0, fill_hours=0.0),
    MARINE: DataPolicy(max_gap_hours=6.0, fill_hours=6.0),
}


@dataclass
class StationSeries:
    """The kept reports of one station, in time order.

    Attributes
    ----------
    station : str
    times : ndarray of datetime64[s], (n,)
        Report times as written in the file.
    slots : ndarray of int64, (n,)
        Seconds used for the gap test: the clock hour for LCD, the report time for marine.
    values : ndarray of float64, (n, F)
    """

    station: str
    times: np.ndarray
    slots: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.times)

    def runs(self, max_gap_hours: float):
        """(start, stop) index pairs of the gap-free runs."""
        if len(self.slots) == 0:
            return []
        breaks = np.nonzero(np.diff(self.slots) > max_gap_hours * 3600.0)[0] + 1
        edges = np.concatenate(([0], breaks, [len(self.slots)]))
        return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


@dataclass
class Dataset:
    """A loaded CSV: per-station series of the chosen features and the load summary."""

    path: str
    format: str
    features: Tuple[str, ...]
    policy: DataPolicy
    stations: Dict[str, StationSeries]
    summary: dict

    @property
    def rows(self) -> int:
        return sum(len(s) for s in self.stations.values())


@dataclass
class Windows:
    """Windows of ``steps`` consecutive reports, ordered by start time (then station).

    Attributes
    ----------
    sequences : ndarray of float64, (N, T, F)
    stations : ndarray of str, (N,)
    times : ndarray of datetime64[s], (N, T)
        Report time of every step (``start`` and ``end`` are its first and last column).
    features : tuple of str
    summary : dict
        The dataset's load summary with a ``windows`` entry (and ``scaler`` once scaled).
    """

    sequences: np.ndarray
    stations: np.ndarray
    times: np.ndarray
    features: Tuple[str, ...]
    summary: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def start(self) -> np.ndarray:
        return self.times[:, 0]

    @property
    def end(self) -> np.ndarray:
        return self.times[:, -1]

    def scaled(self, scaler: "MinMaxScaler") -> "Windows":
        """The same windows scaled by ``scaler``; out-of-range counts go to the summary."""
        summary = dict(self.summary)
        seq = scaler.transform(self.sequences, summary=summary, features=self.features)
        return replace(self, sequences=seq, summary=summary)


# ---------------------------------------------------------------- reading
def _name(path) -> str:
    return str(path)


def _read_table(path) -> Tuple[list, list, dict]:
    """Header, rows and header notes of a CSV file (clear errors for unreadable input)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"{_name(path)}: cannot read the file: {exc.strerror or exc}") from exc
    if b"\x00" in raw:
        raise DataError(f"{_name(path)}: not a text CSV file (it contains NUL bytes)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")   # NOAA files are ASCII; tolerate stray bytes in remarks
    lines = text.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise DataError(f"{_name(path)}: the file is empty")
    notes = {"backticks": False}
    first = lines[0].strip()
    if first.startswith("```"):
        first = first.strip("`").strip()
        notes["backticks"] = True
    lines[0] = first
    body = [ln for ln in lines[1:] if ln.strip() and ln.strip() != "```"]
    try:
        header = [h.strip() for h in next(csv.reader([first]))]
        rows = list(csv.reader(io.StringIO("\n".join(body))))
    except csv.Error as exc:
        raise DataError(f"{_name(path)}: not a readable CSV file: {exc}") from exc
    return header, rows, notes


def detect_format(columns: Sequence[str], path="<csv>") -> str:
    """``marine`` or ``lcd`` from a header's column names."""
    cols = set(columns)
    if {STATION, DATE} <= cols:
        if "IMMA_VER" in cols or len(cols & set(MARINE_FEATURES)) >= 3:
            return MARINE
        if REPORT_TYPE in cols and any(c.startswith("Hourly") for c in cols):
            return LCD
    shown = ", ".join(list(columns)[:40]) + (", ..." if len(columns) > 40 else "")
    raise DataError(f"{_name(path)}: cannot tell the format from the header (expected NCEI "
                    f"Global Marine or NOAA LCD hourly columns); columns found: {shown}")


def _is_precipitation(column: str) -> bool:
    return "Precip" in column or "Snow" in column


def parse_cell(text: str, *, trace_allowed: bool = False, sentinels: Tuple[float, ...] = (),
               suspect: str = "keep") -> Tuple[Optional[float], str]:
    """One cell -> (value or None, reason key of :data:`COLUMN_REASONS`)."""
    t = text.strip()
    if t == "":
        return None, "empty"
    if t == "M":
        return None, "missing_M"
    if t == "*":
        return None, "flag_star"
    if t == "VRB":
        return None, "vrb"
    if t == "T":
        return (0.0, "trace_T") if trace_allowed else (None, "garbage")
    if _NUMBER.fullmatch(t):
        v = float(t)
        return (None, "sentinel") if v in sentinels else (v, "value")
    if len(t) > 1 and t[-1] in "sV" and _NUMBER.fullmatch(t[:-1]):
        v = float(t[:-1])
        if v in sentinels:
            return None, "sentinel"
        if t[-1] == "V":
            return v, "variable_V"
        return (v, "suspect_s") if suspect == "keep" else (None, "suspect_dropped")
    return None, "garbage"


def _hour_rank(report_type: str, preference: Sequence[str]) -> int:
    return preference.index(report_type) if report_type in preference else len(preference)


def load_csv(path, fmt: Optional[str] = None, features: Optional[Sequence[str]] = None,
             policy: Optional[DataPolicy] = None) -> Dataset:
    """Read a NOAA CSV into per-station series of ``features`` under ``policy``.

    Parameters
    ----------
    path : str or Path
    fmt : {"marine", "lcd"}, optional
        Detected from the header when omitted.
    features : sequence of str, optional
        Feature columns, in model order; the format's defaults when omitted.
    policy : DataPolicy, optional
        :data:`DEFAULT_POLICIES` of the format when omitted.

    Returns
    -------
    Dataset
        With ``summary``: counts of what was kept, repaired and dropped.

    Raises
    ------
    DataError
        Unreadable file, unknown format, missing columns (the columns found are listed).
    """
    name = _name(path)
    header, rows, notes = _read_table(path)
    if fmt is None:
        fmt = detect_format(header, name)
    elif fmt not in DATA_FORMATS:
        raise DataError(f"{name}: format must be one of {DATA_FORMATS}, got {fmt!r}")
    features = tuple(DEFAULT_FEATURES[fmt] if features is None else features)
    if not features:
        raise DataError(f"{name}: no feature column chosen")
    if len(set(features)) != len(features):
        raise DataError(f"{name}: feature columns repeated: {list(features)}")
    policy = policy or DEFAULT_POLICIES[fmt]

    needed = [STATION, DATE] + ([REPORT_TYPE] if fmt == LCD else []) + list(features)
    missing = [c for c in needed if c not in header]
    if missing:
        raise DataError(f"{name}: column(s) {', '.join(missing)} not found ({fmt} format); "
                        f"columns found: {', '.join(header)}")
    positions: Dict[str, list] = {}
    for i, h in enumerate(header):
        positions.setdefault(h, []).append(i)
    col = {c: positions[c][0] for c in needed}
    dups = {h: p for h, p in positions.items() if len(p) > 1}
    dup_disagree = Counter()

    rows_count = Counter(read=len(rows))
    sentinels = SENTINELS[fmt]
    # candidate reports: (station, slot, time, rank, order, cells)
    candidates = []
    for order, r in enumerate(rows):
        if len(r) != len(header):
            rows_count["malformed"] += 1
            continue
        for h, p in dups.items():
            if any(r[j] != r[p[0]] for j in p[1:]):
                dup_disagree[h] += 1
        try:
            t = datetime.fromisoformat(r[col[DATE]].strip())
        except ValueError:
            rows_count["bad_date"] += 1
            continue
        rank = 0
        if fmt == LCD:
            rtype = r[col[REPORT_TYPE]].strip()
            if rtype in SUMMARY_REPORTS:
                rows_count["summary_report"] += 1
                continue
            rank = _hour_rank(rtype, policy.report_preference)
            slot = t.replace(minute=0, second=0, microsecond=0)
        else:
            slot = t
        candidates.append((r[col[STATION]].strip(), slot, t, rank, order, r))

    # one report per (station, slot): LCD by preference, marine first in the file
    groups: Dict[tuple, list] = {}
    for c in candidates:
        groups.setdefault((c[0], c[1]), []).append(c)
    col_count = {f: Counter() for f in features}
    per_station: Dict[str, list] = {}
    for (station, slot), group in groups.items():
        group.sort(key=lambda c: (c[3], c[4]))
        chosen, others = group[0], group[1:]
        rows_count["superseded_in_hour" if fmt == LCD else "duplicate_time"] += len(others)
        vals = []
        for f in features:
            v, why = parse_cell(chosen[5][col[f]], trace_allowed=_is_precipitation(f),
                                sentinels=sentinels.get(f, ()), suspect=policy.suspect)
            if v is None and fmt == LCD:
                for o in others:
                    v2, why2 = parse_cell(o[5][col[f]], trace_allowed=_is_precipitation(f),
                                          sentinels=sentinels.get(f, ()), suspect=policy.suspect)
                    if v2 is not None:
                        col_count[f][why] += 1       # what the preferred report held
                        v, why = v2, "filled_same_hour"
                        break
            col_count[f][why] += 1
            vals.append(np.nan if v is None else v)
        per_station.setdefault(station, []).append((slot, chosen[2], chosen[4], vals))

    stations: Dict[str, StationSeries] = {}
    reordered = 0
    for station, items in per_station.items():
        file_order = [it[2] for it in items]
        items.sort(key=lambda it: (it[0], it[2]))
        reordered += sum(1 for a, b in zip(file_order, [it[2] for it in items]) if a != b)
        slots = np.array([np.datetime64(it[0], "s").astype(np.int64) for it in items], dtype=np.int64)
        times = np.array([np.datetime64(it[1], "s") for it in items], dtype="datetime64[s]")
        values = np.array([it[3] for it in items], dtype=np.float64).reshape(len(items), len(features))
        if policy.fill_hours > 0:
            _hold_fill(values, slots, policy.fill_hours, features, col_count)
        complete = ~np.any(np.isnan(values), axis=1)
        for j, f in enumerate(features):
            n = int(np.count_nonzero(np.isnan(values[:, j])))
            if n:
                col_count[f]["left_missing"] += n
        rows_count["incomplete"] += int(np.count_nonzero(~complete))
        if np.any(complete):
            stations[station] = StationSeries(station, times[complete], slots[complete],
                                              values[complete])
    rows_count["kept"] = sum(len(s) for s in stations.values())

    summary = {
        "file": name,
        "format": fmt,
        "features": list(features),
        "policy": policy.to_dict(),
        "header": {
            "columns": len(header),
            "backticks": notes["backticks"],
            "duplicates": {h: {"positions": p, "rows_disagreeing": dup_disagree[h]}
                           for h, p in dups.items()},
        },
        "rows": {k: int(rows_count[k]) for k in ROW_REASONS},
        "reordered": int(reordered),
        "columns": {f: {k: int(col_count[f][k]) for k in COLUMN_REASONS if col_count[f][k]}
                    for f in features},
        "stations": {s: {"kept": len(v)} for s, v in sorted(stations.items())},
        "stations_read": len(per_station),
    }
    return Dataset(name, fmt, features, policy, stations, summary)


def _hold_fill(values, slots, fill_hours, features, col_count):
    """Replace NaN by the previous real value of the column if at most ``fill_hours`` old."""
    limit = fill_hours * 3600.0
    for j, f in enumerate(features):
        last_v, last_t = None, None
        for i in range(len(slots)):
            v = values[i, j]
            if not np.isnan(v):
                last_v, last_t = v, slots[i]
            elif last_v is not None and slots[i] - last_t <= limit:
                values[i, j] = last_v
                col_count[f]["filled_hold"] += 1


# --------------------------------------------------------------- windows
def make_windows(data: Dataset, steps: int = WINDOW_STEPS, stride: int = 1,
                 require: bool = True) -> Windows:
    """Cut every station's gap-free runs into windows of ``steps`` reports.

    Within a run, windows start at offsets 0, stride, 2*stride, ...; a window never
    crosses a gap larger than ``data.policy.max_gap_hours``.  Windows are ordered by
    start time, then station.

    Raises
    ------
    DataError
        ``require`` and no window fits: the message gives the usable rows and the
        longest gap-free run per station.
    """
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise DataError(f"{data.path}: steps must be a positive integer, got {steps!r}")
    if not isinstance(stride, (int, np.integer)) or stride < 1:
        raise DataError(f"{data.path}: stride must be a positive integer, got {stride!r}")
    seqs, names, times = [], [], []
    per_station = {}
    for station, s in data.stations.items():
        runs = s.runs(data.policy.max_gap_hours)
        longest = max((b - a for a, b in runs), default=0)
        count = 0
        for a, b in runs:
            for k in range(a, b - steps + 1, stride):
                seqs.append(s.values[k:k + steps])
                names.append(station)
                times.append(s.times[k:k + steps])
                count += 1
        per_station[station] = {"kept": len(s), "runs": len(runs), "longest_run": longest,
                                "windows": count}
    summary = dict(data.summary)
    summary["stations"] = dict(sorted(per_station.items()))
    summary["windows"] = {"count": len(seqs), "steps": int(steps), "stride": int(stride),
                          "stations_with_windows": sum(1 for v in per_station.values() if v["windows"])}
    if not seqs and require:
        best = sorted(per_station.items(), key=lambda kv: (-kv[1]["longest_run"], kv[0]))[:5]
        detail = "; ".join(f"{k}: {v['kept']} usable, longest gap-free run {v['longest_run']}"
                           for k, v in best) or "none"
        if len(per_station) > len(best):
            detail += f"; the {len(best)} longest runs of {len(per_station)} stations shown"
        raise DataError(
            f"{data.path}: too few usable rows for one window of {steps} steps: "
            f"{data.rows} usable row(s) in {len(per_station)} station(s) ({detail}); "
            f"policy: {data.policy.describe()}")
    nf = len(data.features)
    order = sorted(range(len(seqs)), key=lambda i: (times[i][0], names[i]))
    if seqs:
        seq = np.stack([seqs[i] for i in order])
        when = np.stack([times[i] for i in order]).astype("datetime64[s]")
    else:
        seq, when = np.zeros((0, steps, nf)), np.zeros((0, steps), dtype="datetime64[s]")
    return Windows(sequences=seq.astype(np.float64),
                   stations=np.array([names[i] for i in order], dtype=str),
                   times=when, features=tuple(data.features), summary=summary)


def load_windows(path, fmt: Optional[str] = None, features: Optional[Sequence[str]] = None,
                 policy: Optional[DataPolicy] = None, steps: int = WINDOW_STEPS,
                 stride: int = 1) -> Windows:
    """:func:`load_csv` then :func:`make_windows` (raw, unscaled values)."""
    return make_windows(load_csv(path, fmt, features, policy), steps, stride)


# ---------------------------------------------------------------- scaler
class MinMaxScaler:
    """Per-feature min-max scaling to [0, 1] on the data it was fitted on.

    ``y = (x - data_min) / (data_max - data_min)``; a feature that was constant in the
    training data gets a span of 1 (so it maps to ``x - data_min``).

    Parameters
    ----------
    data_min, data_max : ndarray, (F,)
    features : sequence of str, optional
    """

    def __init__(self, data_min, data_max, features: Optional[Sequence[str]] = None):
        lo = np.asarray(data_min, dtype=np.float64)
        hi = np.asarray(data_max, dtype=np.float64)
        if lo.ndim != 1 or hi.shape != lo.shape or lo.size == 0:
            raise ShapeError(f"scaler: data_min and data_max must be equal 1-D arrays, "
                             f"got {lo.shape} and {hi.shape}")
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))) or np.any(hi < lo):
            raise DataError("scaler: data_min/data_max must be finite with data_min <= data_max")
        feats = tuple(features) if features is not None else tuple(f"f{i}" for i in range(lo.size))
        if len(feats) != lo.size:
            raise ShapeError(f"scaler: {len(feats)} feature names for {lo.size} features")
        self.data_min, self.data_max, self.features = lo, hi, feats

    @property
    def span(self) -> np.ndarray:
        s = self.data_max - self.data_min
        return np.where(s > 0, s, 1.0)

    @classmethod
    def fit(cls, x, features: Optional[Sequence[str]] = None, what: str = "training data"):
        """Fit on ``x`` of shape (..., F) (e.g. training windows (N, T, F))."""
        a = np.asarray(x, dtype=np.float64)
        if a.ndim < 1 or a.size == 0:
            raise ShapeError(f"{what}: cannot fit a scaler on an empty array of shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise DataError(f"{what}: {int(a.size - np.count_nonzero(np.isfinite(a)))} value(s) "
                            f"are NaN or infinite")
        flat = a.reshape(-1, a.shape[-1])
        return cls(flat.min(axis=0), flat.max(axis=0), features)

    def _check(self, a: np.ndarray, what: str, features):
        if a.ndim < 1 or a.shape[-1] != self.data_min.size:
            raise ShapeError(f"{what}: last axis must hold the scaler's {self.data_min.size} "
                             f"features {list(self.features)}, got shape {a.shape}")
        if features is not None and tuple(features) != self.features:
            raise DataError(f"{what}: features {list(features)} differ from the scaler's "
                            f"{list(self.features)}")

    def out_of_range(self, x, features=None, what: str = "data") -> dict:
        """Per feature, how many values lie below ``data_min`` or above ``data_max``."""
        a = np.asarray(x, dtype=np.float64)
        self._check(a, what, features)
        flat = a.reshape(-1, a.shape[-1])
        below = np.sum(flat < self.data_min, axis=0)
        above = np.sum(flat > self.data_max, axis=0)
        return {f: {"below": int(b), "above": int(h)}
                for f, b, h in zip(self.features, below, above)}

    def transform(self, x, summary: Optional[dict] = None, features=None, what: str = "data"):
        """Scale ``x`` (..., F); with ``summary``, record out-of-range counts in it."""
        a = np.asarray(x, dtype=np.float64)
        self._check(a, what, features)
        if summary is not None:
            oor = self.out_of_range(a)
            summary["scaler"] = {"out_of_range": oor,
                                 "values_out_of_range": sum(v["below"] + v["above"]
                                                            for v in oor.values()),
                                 "values": int(a.size)}
        return (a - self.data_min) / self.span

    def inverse_transform(self, y):
        a = np.asarray(y, dtype=np.float64)
        self._check(a, "scaled data", None)
        return a * self.span + self.data_min

    def to_arrays(self, prefix: str = "scaler_") -> dict:
        """Plain arrays for ``np.savez`` (loadable with ``allow_pickle=False``)."""
        return {f"{prefix}min": self.data_min.copy(), f"{prefix}max": self.data_max.copy(),
                f"{prefix}features": np.array(self.features, dtype=str)}

    @classmethod
    def from_arrays(cls, arrays, prefix: str = "scaler_", what: str = "model file"):
        """Inverse of :meth:`to_arrays` (``arrays`` may be an open ``NpzFile``)."""
        keys = [f"{prefix}min", f"{prefix}max", f"{prefix}features"]
        absent = [k for k in keys if k not in arrays]
        if absent:
            raise DataError(f"{what}: scaler array(s) {', '.join(absent)} not found")
        return cls(arrays[keys[0]], arrays[keys[1]], [str(s) for s in arrays[keys[2]]])

    def __eq__(self, other):
        return (isinstance(other, MinMaxScaler) and self.features == other.features
                and np.array_equal(self.data_min, other.data_min)
                and np.array_equal(self.data_max, other.data_max))

    def __repr__(self):
        return f"MinMaxScaler(features={list(self.features)})"


# --------------------------------------------------------------- summary
def format_summary(summary: dict, stations_shown: int = 8) -> str:
    """The load summary as text: rows kept and dropped, per-column repairs, windows."""
    out = [f"{summary['file']}: {summary['format']} format, features {', '.join(summary['features'])}"]
    p = summary["policy"]
    out.append(f"policy: max gap {p['max_gap_hours']:g} h, hold-fill {p['fill_hours']:g} h, "
               f"suspect values {'kept' if p['suspect'] == 'keep' else 'dropped'}"
               + (f", hour preference {' > '.join(p['report_preference'])}"
                  if summary["format"] == LCD else ""))
    h = summary["header"]
    notes = []
    if h["backticks"]:
        notes.append("backticks around the first line stripped")
    for name, d in h["duplicates"].items():
        notes.append(f"{name} appears {len(d['positions'])} times (first used; copies disagree "
                     f"on {d['rows_disagreeing']} row(s))")
    if notes:
        out.append("header: " + "; ".join(notes))
    r = summary["rows"]
    out.append(f"rows: {r['read']} read, {r['kept']} kept in {len(summary['stations'])} of "
               f"{summary['stations_read']} station(s)")
    for k in ROW_REASONS:
        if k not in ("read", "kept") and r[k]:
            out.append(f"  {r[k]:>7}  {ROW_REASONS[k]}")
    if summary.get("reordered"):
        out.append(f"  {summary['reordered']:>7}  reports put back into time order")
    table = [("column", "as read", "repaired", "missing (read as)", "filled", "left missing")]
    for f in summary["features"]:
        c = summary["columns"][f]
        table.append((f, str(c.get("value", 0)),
                      ", ".join(f"{k} {c[k]}" for k in _REPAIRED[:3] if c.get(k)) or "-",
                      ", ".join(f"{k} {c[k]}" for k in _MISSING if c.get(k)) or "-",
                      ", ".join(f"{k} {c[k]}" for k in _REPAIRED[3:] if c.get(k)) or "-",
                      str(c.get("left_missing", 0))))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        out.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    if "windows" in summary:
        wd = summary["windows"]
        out.append(f"windows: {wd['count']} of {wd['steps']} steps, stride {wd['stride']}, "
                   f"from {wd['stations_with_windows']} station(s)")
        st = sorted(summary["stations"].items(), key=lambda kv: (-kv[1].get("windows", 0),
                                                                 -kv[1]["kept"], kv[0]))
        for name, d in st[:stations_shown]:
            out.append(f"  {name}: {d['kept']} kept, longest gap-free run {d.get('longest_run', '?')}, "
                       f"{d.get('windows', 0)} window(s)")
        if len(st) > stations_shown:
            out.append(f"  ... {len(st) - stations_shown} more station(s)")
    if "scaler" in summary:
        s = summary["scaler"]
        out.append(f"scaler: {s['values_out_of_range']} of {s['values']} values outside the "
                   f"fitted range")
        for f, d in s["out_of_range"].items():
            if d["below"] or d["above"]:
                out.append(f"  {f}: {d['below']} below, {d['above']} above")
    return "\n".join(out)


def main(argv=None) -> int:
    """``python -m lstm_chiplet.workload.noaa FILE``: print the load summary and the window count."""
    ap = argparse.ArgumentParser(prog="python -m lstm_chiplet.workload.noaa", description=main.__doc__)
    ap.add_argument("csv", help="NOAA CSV file (marine or lcd)")
    ap.add_argument("--format", choices=DATA_FORMATS, help="default: detected from the header")
    ap.add_argument("--features", help="comma-separated feature columns")
    ap.add_argument("--steps", type=int, default=WINDOW_STEPS)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--max-gap-hours", type=float)
    ap.add_argument("--fill-hours", type=float)
    args = ap.parse_args(argv)
    try:
        data = load_csv(args.csv, args.format,
                        args.features.split(",") if args.features else None)
        if args.max_gap_hours is not None or args.fill_hours is not None:
            pol = data.policy
            pol = replace(pol, max_gap_hours=pol.max_gap_hours if args.max_gap_hours is None
                          else args.max_gap_hours,
                          fill_hours=pol.fill_hours if args.fill_hours is None else args.fill_hours)
            data = load_csv(args.csv, data.format, data.features, pol)
        win = make_windows(data, args.steps, args.stride, require=False)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(format_summary(win.summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
