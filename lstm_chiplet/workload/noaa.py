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
    :data:`LCD_FEATURES`, in the units of the file's layout version (below).

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

Units: LCD layout versions
--------------------------
NOAA publishes LCD in two layouts that share the column names but not the units:

=========  ==============================  =================================  ==============
version    STATION                         header                             units
=========  ==============================  =================================  ==============
``v1``     USAF+WBAN number, 11 digits     STATION, DATE, REPORT_TYPE, ...    deg F, inHg,
           (72219013874)                   (REPORT_TYPE, SOURCE twice)        mi, mph, in
``v2``     GHCN ID (USW00014939)           STATION, DATE, LATITUDE,           deg C, hPa,
                                           LONGITUDE, ELEVATION, NAME, ...    km, m/s, mm
                                           (125 columns)
=========  ==============================  =================================  ==============

:func:`detect_lcd_layout` needs both signs to agree; otherwise the layout, and with it
the unit of every layout-dependent column, is unknown (``load_csv(..., layout=)``
overrides).  Which column holds which quantity is :data:`LCD_QUANTITIES`, the unit of
a quantity per version :data:`LCD_UNITS` (one table, used by the loader, the
generator and the checks); relative humidity (%) and directions (deg) are the same in
both.  Marine columns keep IMMA's integer units (:data:`MARINE_UNITS`).  A dataset's
``units`` (and ``summary["units"]``) give the unit of every feature.

The min-max scaler (:class:`MinMaxScaler`) is fitted on training data, records the unit
of each feature, maps each feature to [0, 1] on that data, counts values outside the
fitted range when applied to other data, and saves to a dict of plain arrays (for
``np.savez``; no pickle).  Before scaling with a model's scaler, data are brought into
its units (:meth:`Windows.in_units`, rules in :func:`unit_plan`, exact factors in
:data:`CONVERSIONS`); what cannot be told or converted is refused
(:class:`UnitError`).  More than :data:`OUT_OF_RANGE_LIMIT` of one feature's scaled
values outside [0, 1] is worth a warning (:func:`out_of_range_warnings`).

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
    #: Unit of each feature as the file holds it (None: cannot be told), see
    #: :func:`column_units`.
    units: Tuple[Optional[str], ...] = ()

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
    units : tuple of (str or None)
        Unit of each feature's values (None: cannot be told).
    """

    sequences: np.ndarray
    stations: np.ndarray
    times: np.ndarray
    features: Tuple[str, ...]
    summary: dict = field(default_factory=dict)
    units: Tuple[Optional[str], ...] = ()

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

    def in_units(self, units: Sequence[Optional[str]], *, scaler: str = "the scaler") -> "Windows":
        """The same windows with each feature converted into ``units`` (the scaler's).

        The rules are :func:`unit_plan`'s (a :class:`UnitError` where the units cannot
        be told or converted); the plan goes to ``summary["units"]`` (``scaler``,
        ``conversions``, ``warnings``) beside the file's units.
        """
        data = self.summary.get("file", "the data")
        file_units = self.units or (None,) * len(self.features)
        plan = unit_plan(self.features, file_units, units, data=str(data), scaler=scaler)
        seq = self.sequences.copy()
        for c in plan["conversions"]:
            j = self.features.index(c["feature"])
            seq[..., j] = convert_units(seq[..., j], c["from"], c["to"])
        summary = dict(self.summary)
        summary["units"] = dict(summary.get("units", {}), scaler=plan["scaler"],
                                conversions=plan["conversions"], warnings=plan["warnings"])
        target = tuple(u if u is not None else d for u, d in zip(units, file_units))
        return replace(self, sequences=seq, summary=summary, units=target)


# ----------------------------------------------------------------- units
#: LCD layout versions: ``v1`` (ISD-based: USAF+WBAN station numbers such as
#: 72219013874, US customary units) and ``v2`` (GHCNh-based: GHCN station IDs such as
#: USW00014939, LATITUDE, LONGITUDE, ELEVATION and NAME right after DATE, metric units).
LCD_V1 = "v1"
LCD_V2 = "v2"
LCD_LAYOUTS = (LCD_V1, LCD_V2)
#: The columns an LCD version 2 file has right after STATION and DATE.
LCD_V2_SITE_COLUMNS = ("LATITUDE", "LONGITUDE", "ELEVATION", "NAME")
#: Columns of an LCD version 2 file (the generated fixture has exactly this many).
LCD_V2_COLUMN_COUNT = 125
#: v1 station: 6-digit USAF number + 5-digit WBAN number.
_WBAN_STATION = re.compile(r"\d{11}")
#: v2 station: 2-letter country code, network code, 8-character station number.
_GHCN_STATION = re.compile(r"[A-Z]{2}[0-9A-Z][0-9A-Z]{8}")

#: The physical quantity an LCD column holds (its unit then follows from the layout,
#: :data:`LCD_UNITS`).  Columns not listed have no known unit.
LCD_QUANTITIES = {
    **dict.fromkeys(("HourlyDryBulbTemperature", "HourlyDewPointTemperature",
                     "HourlyWetBulbTemperature", "DailyAverageDryBulbTemperature",
                     "DailyAverageDewPointTemperature", "DailyAverageWetBulbTemperature",
                     "DailyMaximumDryBulbTemperature", "DailyMinimumDryBulbTemperature"),
                    "temperature"),
    **dict.fromkeys(("HourlyStationPressure", "HourlySeaLevelPressure", "HourlyAltimeterSetting",
                     "HourlyPressureChange", "DailyAverageStationPressure",
                     "DailyAverageSeaLevelPressure"), "pressure"),
    **dict.fromkeys(("HourlyWindSpeed", "HourlyWindGustSpeed", "DailyAverageWindSpeed",
                     "DailyPeakWindSpeed", "DailySustainedWindSpeed"), "speed"),
    "HourlyVisibility": "visibility",
    **dict.fromkeys(("HourlyPrecipitation", "DailyPrecipitation"), "precipitation"),
    **dict.fromkeys(("HourlyRelativeHumidity", "DailyAverageRelativeHumidity"), "humidity"),
    **dict.fromkeys(("HourlyWindDirection", "DailyPeakWindDirection",
                     "DailySustainedWindDirection"), "direction"),
}
#: Unit of each quantity per LCD layout (NCEI's LCD documentation: v1 in US customary
#: units, v2 metric).
LCD_UNITS = {
    LCD_V1: {"temperature": "degF", "pressure": "inHg", "speed": "mph", "visibility": "mi",
             "precipitation": "in", "humidity": "%", "direction": "deg"},
    LCD_V2: {"temperature": "degC", "pressure": "hPa", "speed": "m/s", "visibility": "km",
             "precipitation": "mm", "humidity": "%", "direction": "deg"},
}
#: Units of the marine columns as the file holds them (IMMA-derived integers).
MARINE_UNITS = {"AIR_TEMP": "0.1 degC", "SEA_SURF_TEMP": "0.1 degC", "SEA_LVL_PRES": "0.1 hPa",
                "WIND_SPEED": "0.1 m/s", "WAVE_HGT": "0.5 m", "WAVE_PERIOD": "s",
                "DEW_PT_TEMP": "0.1 degC", "WET_BULB_TEMP": "0.1 degC"}
#: ``(from, to): (num, den, offset)``: ``to = from * num / den + offset``, from the
#: exact definitions (degF = 9/5 degC + 32; 1 inHg = 3386.389 Pa, conventional inch
#: of mercury; 1 mi = 1609.344 m; 1 mph = 0.44704 m/s; 1 in = 25.4 mm).  The reverse
#: direction is the inverse: ``from = (to - offset) * den / num``.
CONVERSIONS = {
    ("degC", "degF"): (9.0, 5.0, 32.0),
    ("hPa", "inHg"): (100.0, 3386.389, 0.0),
    ("km", "mi"): (1000.0, 1609.344, 0.0),
    ("m/s", "mph"): (1.0, 0.44704, 0.0),
    ("mm", "in"): (1.0, 25.4, 0.0),
}
#: Scaled values outside the fitted range [0, 1] on more than this fraction of one
#: feature's values make a run warn: the data are not like the training data (other
#: units, another station or season, a broken sensor), so the scores are extrapolation.
OUT_OF_RANGE_LIMIT = 0.05


class UnitError(DataError):
    """The units of the data cannot be told, or not brought into the scaler's."""


def conversion_formula(src: str, dst: str) -> str:
    """``dst = src * num / den + offset`` as text (raises if there is none)."""
    num, den, off, inverse = _conversion(src, dst)
    if inverse:
        return f"{dst} = ({src} - {off:.10g}) * {den:.10g} / {num:.10g}" if off else \
            f"{dst} = {src} * {den:.10g} / {num:.10g}"
    return f"{dst} = {src} * {num:.10g} / {den:.10g}" + (f" + {off:.10g}" if off else "")


def _conversion(src: str, dst: str):
    if (src, dst) in CONVERSIONS:
        return (*CONVERSIONS[(src, dst)], False)
    if (dst, src) in CONVERSIONS:
        return (*CONVERSIONS[(dst, src)], True)
    raise UnitError(f"no conversion from {src} to {dst}")


def convert_units(x, src: Optional[str], dst: Optional[str]) -> np.ndarray:
    """``x`` (any shape) from unit ``src`` to ``dst`` (a copy; the same values if equal)."""
    a = np.array(x, dtype=np.float64)
    if src == dst:
        return a
    num, den, off, inverse = _conversion(src, dst)
    return (a - off) * den / num if inverse else a * num / den + off


def station_kind(station: str) -> str:
    """``wban`` (v1 numbering), ``ghcn`` (v2) or ``other``."""
    if _WBAN_STATION.fullmatch(station):
        return "wban"
    if _GHCN_STATION.fullmatch(station) and not station.isdigit():
        return "ghcn"
    return "other"


def detect_lcd_layout(header: Sequence[str], stations: Sequence[str]) -> dict:
    """Which LCD layout a file has, from its header and its station identifiers.

    Both signs must agree: ``v2`` needs GHCN-style identifiers *and*
    :data:`LCD_V2_SITE_COLUMNS` right after DATE; ``v1`` needs USAF+WBAN numbers and
    no such columns.  Anything else (mixed or other identifiers, a header that says one
    version and identifiers the other) leaves the layout unknown (``layout`` None).

    Returns
    -------
    dict
        ``layout``, ``station_ids`` (kind -> count of distinct stations),
        ``site_columns_after_date`` (bool), ``columns`` (int), ``reason`` (text).
    """
    kinds = Counter(station_kind(s) for s in set(stations) if s)
    site = tuple(header[2:2 + len(LCD_V2_SITE_COLUMNS)]) == LCD_V2_SITE_COLUMNS
    only = next(iter(kinds)) if len(kinds) == 1 else None
    if only == "ghcn" and site:
        layout, reason = LCD_V2, ("GHCN station IDs and LATITUDE, LONGITUDE, ELEVATION, NAME "
                                  "after DATE")
    elif only == "wban" and not site:
        layout, reason = LCD_V1, "USAF+WBAN station numbers, no site columns after DATE"
    else:
        ids = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
        layout, reason = None, (f"station IDs ({ids}) and header (site columns after DATE: "
                                f"{'yes' if site else 'no'}) do not match one LCD version")
    return {"layout": layout, "station_ids": dict(sorted(kinds.items())),
            "site_columns_after_date": site, "columns": len(header), "reason": reason}


def column_units(fmt: str, layout: Optional[str], features: Sequence[str]) -> Tuple[Optional[str], ...]:
    """The unit of each feature column as the file holds it (None: cannot be told; a
    quantity with the same unit in both LCD versions is known without the layout)."""
    if fmt == MARINE:
        return tuple(MARINE_UNITS.get(f) for f in features)
    out = []
    for f in features:
        q = LCD_QUANTITIES.get(f)
        if q is None:
            out.append(None)
        elif layout is not None:
            out.append(LCD_UNITS[layout][q])
        else:
            known = {LCD_UNITS[v][q] for v in LCD_LAYOUTS}
            out.append(known.pop() if len(known) == 1 else None)
    return tuple(out)


def _layout_dependent(feature: str) -> bool:
    q = LCD_QUANTITIES.get(feature)
    return q is not None and len({LCD_UNITS[v][q] for v in LCD_LAYOUTS}) > 1


def unit_plan(features: Sequence[str], data_units: Sequence[Optional[str]],
              scaler_units: Sequence[Optional[str]], *, data: str = "the data",
              scaler: str = "the scaler") -> dict:
    """How to bring data in ``data_units`` into the scaler's units, feature by feature.

    ============================  ============================================
    data unit / scaler unit       action
    ============================  ============================================
    equal                         none
    both known, convertible       convert (:data:`CONVERSIONS`)
    both known, not convertible   refused (:class:`UnitError`)
    data unknown, scaler known    refused: nothing tells the data's unit
    data known, scaler unknown    a scaler saved before units were recorded:
                                  refused when the data's unit is one an LCD v2
                                  file has and v1 does not (metric), else assumed
                                  equal, with a warning
    both unknown                  not checked, with a warning
    ============================  ============================================

    Returns
    -------
    dict
        ``data`` and ``scaler`` (feature -> unit or None), ``conversions`` (list of
        ``{feature, from, to, formula}``), ``warnings`` (list of text).
    """
    conversions, warnings, assumed, unchecked = [], [], [], []
    metric_only = {u for q, u in LCD_UNITS[LCD_V2].items() if LCD_UNITS[LCD_V1][q] != u}
    for f, du, su in zip(features, data_units, scaler_units):
        if du == su and du is not None:
            continue
        if du is not None and su is not None:
            try:
                formula = conversion_formula(du, su)
            except UnitError:
                raise UnitError(f"{data}: {f} is in {du}, {scaler} expects {su}, and there is "
                                f"no conversion between them") from None
            conversions.append({"feature": f, "from": du, "to": su, "formula": formula})
        elif du is None and su is not None:
            why = ("the LCD layout (v1 US units or v2 metric) cannot be told"
                   if _layout_dependent(f) else "the column has no known unit")
            raise UnitError(f"{data}: the unit of {f} cannot be told ({why}); {scaler} expects "
                            f"{su}: refused rather than scored in unknown units")
        elif su is None and du in metric_only:
            raise UnitError(f"{data}: {f} is in {du} (metric LCD version 2), and {scaler} "
                            "records no units (saved before units were stored; the project's "
                            "LCD models were fitted on version 1 US units): refused rather "
                            "than scored in units the scaler may not have been fitted in; "
                            "re-save the model with its scaler's units")
        elif su is None and du is not None:
            assumed.append(f"{f} ({du})")
        else:
            unchecked.append(f)
    if assumed:
        warnings.append(f"{scaler} records no units (saved before units were stored): assumed "
                        f"to be the data's: {', '.join(assumed)}")
    if unchecked:
        warnings.append(f"the units of {', '.join(unchecked)} are known neither for {data} nor "
                        f"for {scaler}: not checked")
    return {"data": dict(zip(features, data_units)), "scaler": dict(zip(features, scaler_units)),
            "conversions": conversions, "warnings": warnings}


def out_of_range_warnings(counts: dict, limit: float = OUT_OF_RANGE_LIMIT,
                          what: str = "the scaler's fitted range") -> list:
    """A warning naming every feature with more than ``limit`` of its values outside
    ``what`` (``counts``: feature -> ``{below, above, values}``); empty if none."""
    bad = []
    for f, d in counts.items():
        n = d["below"] + d["above"]
        if d["values"] and n > limit * d["values"]:
            bad.append(f"{f} {100.0 * n / d['values']:.1f} % ({d['below']} below, "
                       f"{d['above']} above)")
    if not bad:
        return []
    return [f"more than {100 * limit:g} % of the scaled values lie outside {what} [0, 1] on "
            f"{len(bad)} feature(s): {'; '.join(bad)}; the data are not like the training data "
            "(other units, another station or season, a faulty sensor), so the scores "
            "extrapolate"]


def unit_interval_counts(x, features: Sequence[str]) -> dict:
    """Per feature, scaled values below 0 and above 1 (``x`` (..., F))."""
    a = np.asarray(x, dtype=np.float64)
    flat = a.reshape(-1, a.shape[-1])
    return {f: {"below": int(np.sum(flat[:, j] < 0.0)), "above": int(np.sum(flat[:, j] > 1.0)),
                "values": int(flat.shape[0])} for j, f in enumerate(features)}


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
             policy: Optional[DataPolicy] = None, layout: Optional[str] = None) -> Dataset:
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
    layout : {"v1", "v2"}, optional
        LCD only: the layout version, which fixes the units (:data:`LCD_UNITS`);
        detected from the header and the station IDs when omitted
        (:func:`detect_lcd_layout`; it may stay unknown).

    Returns
    -------
    Dataset
        With ``summary``: counts of what was kept, repaired and dropped, and
        ``units`` (layout, how it was told, the unit of every feature).

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
    if layout is not None and (fmt != LCD or layout not in LCD_LAYOUTS):
        raise DataError(f"{name}: layout must be one of {LCD_LAYOUTS} (LCD files only), "
                        f"got {layout!r} for the {fmt} format")

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
    units_info = None
    if fmt == LCD:
        evidence = detect_lcd_layout(header, [r[col[STATION]].strip() for r in rows
                                              if len(r) == len(header)])
        units_info = {"layout": layout or evidence["layout"],
                      "layout_source": "given" if layout else "detected", "evidence": evidence}
    else:
        units_info = {"layout": None, "layout_source": "marine format"}
    units = column_units(fmt, units_info["layout"], features)
    units_info["file"] = dict(zip(features, units))

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
        "units": units_info,
    }
    return Dataset(name, fmt, features, policy, stations, summary, units)


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
                   times=when, features=tuple(data.features), summary=summary,
                   units=tuple(data.units))


def load_windows(path, fmt: Optional[str] = None, features: Optional[Sequence[str]] = None,
                 policy: Optional[DataPolicy] = None, steps: int = WINDOW_STEPS,
                 stride: int = 1, layout: Optional[str] = None) -> Windows:
    """:func:`load_csv` then :func:`make_windows` (raw, unscaled values, file units)."""
    return make_windows(load_csv(path, fmt, features, policy, layout), steps, stride)


# ---------------------------------------------------------------- scaler
class MinMaxScaler:
    """Per-feature min-max scaling to [0, 1] on the data it was fitted on.

    ``y = (x - data_min) / (data_max - data_min)``; a feature that was constant in the
    fitted data gets a span of 1 (so it maps to ``x - data_min``).  Such a scaler says
    nothing about that feature's normal range: it is refused when read from a model
    file (:meth:`from_arrays`) and before training (:meth:`check_span`).

    Parameters
    ----------
    data_min, data_max : ndarray, (F,)
    features : sequence of str, optional
    units : sequence of (str or None), optional
        The unit each feature was fitted in (None: not known, as in files saved
        before units were recorded); see :func:`unit_plan`.
    """

    def __init__(self, data_min, data_max, features: Optional[Sequence[str]] = None,
                 units: Optional[Sequence[Optional[str]]] = None):
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
        units = tuple(units) if units is not None else (None,) * lo.size
        if len(units) != lo.size or not all(u is None or (isinstance(u, str) and u)
                                            for u in units):
            raise ShapeError(f"scaler: units must be {lo.size} non-empty names or None, "
                             f"got {list(units)}")
        self.data_min, self.data_max, self.features, self.units = lo, hi, feats, units

    def check_span(self, what: str = "scaler") -> None:
        """Raise :class:`DataError` naming ``what`` and the first feature with zero span."""
        flat = np.nonzero(self.data_max <= self.data_min)[0]
        if flat.size:
            j = int(flat[0])
            others = f" (and {flat.size - 1} more)" if flat.size > 1 else ""
            raise DataError(f"{what}: the scaler's feature {self.features[j]!r}{others} has zero "
                            f"span (data_min = data_max = {self.data_min[j]:g}): it was fitted "
                            "on data where the feature never changed, so it has no range to "
                            "scale into [0, 1]; fit it on data where the feature varies")

    @property
    def span(self) -> np.ndarray:
        s = self.data_max - self.data_min
        return np.where(s > 0, s, 1.0)

    @classmethod
    def fit(cls, x, features: Optional[Sequence[str]] = None, what: str = "training data",
            units: Optional[Sequence[Optional[str]]] = None):
        """Fit on ``x`` of shape (..., F) (e.g. training windows (N, T, F)) in ``units``."""
        a = np.asarray(x, dtype=np.float64)
        if a.ndim < 1 or a.size == 0:
            raise ShapeError(f"{what}: cannot fit a scaler on an empty array of shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise DataError(f"{what}: {int(a.size - np.count_nonzero(np.isfinite(a)))} value(s) "
                            f"are NaN or infinite")
        flat = a.reshape(-1, a.shape[-1])
        return cls(flat.min(axis=0), flat.max(axis=0), features, units)

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
            per_feature = int(a.size // max(1, self.data_min.size))
            summary["scaler"] = {"out_of_range": oor,
                                 "values_out_of_range": sum(v["below"] + v["above"]
                                                            for v in oor.values()),
                                 "values": int(a.size), "values_per_feature": per_feature,
                                 "fraction_out_of_range": {
                                     f: (v["below"] + v["above"]) / per_feature if per_feature
                                     else 0.0 for f, v in oor.items()},
                                 "limit": OUT_OF_RANGE_LIMIT}
        return (a - self.data_min) / self.span

    def range_counts(self, summary_scaler: dict) -> dict:
        """``summary["scaler"]`` as :func:`out_of_range_warnings` takes it."""
        n = summary_scaler["values_per_feature"]
        return {f: dict(d, values=n) for f, d in summary_scaler["out_of_range"].items()}

    def inverse_transform(self, y):
        a = np.asarray(y, dtype=np.float64)
        self._check(a, "scaled data", None)
        return a * self.span + self.data_min

    def to_arrays(self, prefix: str = "scaler_") -> dict:
        """Plain arrays for ``np.savez`` (loadable with ``allow_pickle=False``).

        ``<prefix>units`` (one name per feature, "" where unknown) is written only when
        at least one unit is known, so a scaler without units saves as before.
        """
        out = {f"{prefix}min": self.data_min.copy(), f"{prefix}max": self.data_max.copy(),
               f"{prefix}features": np.array(self.features, dtype=str)}
        if any(u is not None for u in self.units):
            out[f"{prefix}units"] = np.array([u or "" for u in self.units], dtype=str)
        return out

    @classmethod
    def from_arrays(cls, arrays, prefix: str = "scaler_", what: str = "model file"):
        """Inverse of :meth:`to_arrays` (``arrays`` may be an open ``NpzFile``).

        Without ``<prefix>units`` every unit is None (unknown).  A feature with zero
        span is refused (:meth:`check_span`), naming ``what`` and the feature.
        """
        keys = [f"{prefix}min", f"{prefix}max", f"{prefix}features"]
        absent = [k for k in keys if k not in arrays]
        if absent:
            raise DataError(f"{what}: scaler array(s) {', '.join(absent)} not found")
        units = None
        if f"{prefix}units" in arrays:
            u = arrays[f"{prefix}units"]
            if u.ndim != 1 or u.dtype.kind != "U":
                raise DataError(f"{what}: array '{prefix}units' must be a 1-D unicode array "
                                f"(one unit per feature), got dtype {u.dtype} shape {u.shape}")
            units = [str(v) or None for v in u]
        sc = cls(arrays[keys[0]], arrays[keys[1]], [str(s) for s in arrays[keys[2]]], units)
        sc.check_span(what)
        return sc

    def __eq__(self, other):
        return (isinstance(other, MinMaxScaler) and self.features == other.features
                and self.units == other.units
                and np.array_equal(self.data_min, other.data_min)
                and np.array_equal(self.data_max, other.data_max))

    def __repr__(self):
        return f"MinMaxScaler(features={list(self.features)}, units={list(self.units)})"


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
    if summary.get("units"):
        u = summary["units"]
        if summary["format"] == LCD:
            ev = u.get("evidence", {})
            out.append(f"layout: LCD {u['layout'] or 'unknown'} ({u['layout_source']}"
                       + (f": {ev['reason']}" if ev.get("reason") else "") + ")")
        out.append("units of the file: " + ", ".join(f"{f} {v or 'unknown'}"
                                                     for f, v in u["file"].items()))
        if "conversions" in u:
            out.append("converted into the scaler's units: " + ("; ".join(
                f"{c['feature']} {c['from']} -> {c['to']} ({c['formula']})"
                for c in u["conversions"]) or "none (the same units)"))
    if "scaler" in summary:
        s = summary["scaler"]
        out.append(f"scaler: {s['values_out_of_range']} of {s['values']} values outside the "
                   f"fitted range")
        for f, d in s["out_of_range"].items():
            if d["below"] or d["above"]:
                frac = s.get("fraction_out_of_range", {}).get(f)
                out.append(f"  {f}: {d['below']} below, {d['above']} above"
                           + (f" ({100 * frac:.1f} % of its values)" if frac is not None else ""))
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
    ap.add_argument("--layout", choices=LCD_LAYOUTS,
                    help="LCD layout version (fixes the units); default: detected")
    args = ap.parse_args(argv)
    try:
        data = load_csv(args.csv, args.format,
                        args.features.split(",") if args.features else None, layout=args.layout)
        if args.max_gap_hours is not None or args.fill_hours is not None:
            pol = data.policy
            pol = replace(pol, max_gap_hours=pol.max_gap_hours if args.max_gap_hours is None
                          else args.max_gap_hours,
                          fill_hours=pol.fill_hours if args.fill_hours is None else args.fill_hours)
            data = load_csv(args.csv, data.format, data.features, pol, args.layout)
        win = make_windows(data, args.steps, args.stride, require=False)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(format_summary(win.summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
