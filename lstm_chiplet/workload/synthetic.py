"""A generated NOAA LCD hourly CSV with injected anomalies: the built-in default data.

:func:`generate_lcd` writes a file in the NOAA Local Climatological Data hourly
format (the 124-column header with REPORT_TYPE and SOURCE twice, US units, local
standard time) for a made-up station, and beside it a JSON file listing every
anomaly it injected.  Everything is drawn from one seed: the same seed gives the same
bytes.  :func:`write_default_dataset` writes the main job's default (seed
:data:`DEFAULT_SEED`, :data:`DEFAULT_DAYS` days from :data:`DEFAULT_START`) under a
folder the caller chooses (the project uses ``build/``).

The weather
-----------
Hourly series driven by three shared processes, so the features move together the
way station observations do:

* a synoptic state ``s`` (pressure systems passing every 3 to 7 days: four
  sinusoids of random period 70..160 h plus red noise, unit variance); high ``s``
  is a low-pressure system: lower pressure, warmer and moister air, more cloud,
  rain when it is deep;
* cloud cover from ``s`` and slow noise; it damps the diurnal temperature range
  (20 F clear, 7 F overcast);
* the season: a cosine over the year (mid-January coldest).

Temperature = season + 7 F * s (lagged 6 h) + diurnal cycle (minimum at 07, maximum
at 15 local) + AR(1) noise.  Dew point = the air mass's temperature minus a
depression that shrinks with cloud and moisture and never falls below the air
temperature (so clear calm nights can reach saturation and fog).  Relative humidity
is computed from temperature and dew point with the Magnus formula, as the station's
instrument does.  Station pressure 29.05 inHg - 0.18 inHg * s plus the semi-diurnal
tide.  Wind (reported in knots, written in mph as LCD does, so some mph values never
occur) grows with the pressure tendency and daytime mixing, is calm on some quiet
nights, direction veers with the systems.  Visibility is 10 mi except in rain, mist
and fog.

The file
--------
One FM-15 (routine METAR) per hour at HH:52; FM-12 (SYNOP) at 01, 07, 13 and 19:00
with the same observations (visibility 9.94 for 10 mi, no altimeter, no
precipitation); FM-16 specials at random minutes in hours with rain, fog or gusts;
a ``SOD  `` daily summary at 23:59 and a ``SOM  `` monthly summary at each month's
end (trailing spaces as in NOAA's files).  Quirks the loader must handle, as found in
real files: 'T' trace precipitation, precipitation and a few temperatures suffixed 's'
(suspect), visibility like '1.75V', wind direction 'VRB', a few feature cells 'M' in
an FM-15 whose hour has an FM-12 to fill them from, and one hour whose only report
lacks the dew point (the loader drops it: a gap windows do not cross).

Anomalies
---------
The first ``normal_days`` days are anomaly-free (the training period).  After them,
``anomalies`` events are placed one per equal slot of the remaining period, at least
two days apart, each a sensor or weather fault a station really shows:

=================  =================================  ==================================
kind               what                               features changed
=================  =================================  ==================================
spike              temperature jumps 30..40 F (up or  dry bulb (and RH, derived; dew
                   down) for 2 h                      point when it would exceed it)
stuck              temperature sensor repeats its     dry bulb (and RH)
                   06:00 value for 18 h, on a day
                   whose temperature moves >= 12 F
pressure_drop      station pressure falls 0.60..0.80  station pressure
                   inHg within 2 h and recovers
                   over 5 h
wind_burst         wind 38..48 kt for 2 h             wind speed
dewpoint_jump      dew point sensor reads 18..24 F    dew point (and RH)
                   high for 8 h from late morning
                   (capped at the temperature)
visibility_drop    visibility reads 0.25 or 0.5 mi    visibility
                   for 6 h in dry air (RH < 65 %)
=================  =================================  ==================================

The anomalies are applied to the observations of the hour, so every report of that
hour carries them.  :func:`anomalous_windows` tells which windows touch an event;
:func:`normal_windows` which lie wholly in the anomaly-free period.

The same reports can be written in the LCD version 2 layout (``layout="v2"``:
:data:`LCD_V2_COLUMNS`, the GHCN-style station :data:`STATION_ID_V2` with its site
columns, every value in metric units, converted from the US value with
``lstm_chiplet.workload.noaa.CONVERSIONS`` and rounded to :data:`V2_DECIMALS`); the
version 1 file of the same arguments is unchanged byte for byte.

``python -m lstm_chiplet.workload.synthetic OUT.csv [--seed N] [--days D] [--layout v2]``
writes a file.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .noaa import _NUMBER, LCD_QUANTITIES, LCD_UNITS, LCD_V1, LCD_V2, convert_units

#: Version of the generator: bump when the output of a given seed changes.
GENERATOR_VERSION = 1
DEFAULT_SEED = 7
DEFAULT_START = "2020-12-01"
DEFAULT_DAYS = 90
DEFAULT_NORMAL_DAYS = 60
DEFAULT_ANOMALIES = 6
DEFAULT_FILENAME = "lcd_hourly_synthetic.csv"

#: The made-up station (11 digits like USAF + WBAN; '999' marks it as not a real one).
STATION_ID = "99900000001"
#: ICAO placeholder used in the remarks ("no code assigned").
STATION_ICAO = "ZZZZ"
LATITUDE = 34.0

#: The kinds of injected anomaly, in the order of the module docstring.
ANOMALY_KINDS = ("spike", "stuck", "pressure_drop", "wind_burst", "dewpoint_jump",
                 "visibility_drop")

T_COL = "HourlyDryBulbTemperature"
TD_COL = "HourlyDewPointTemperature"
RH_COL = "HourlyRelativeHumidity"
WS_COL = "HourlyWindSpeed"
P_COL = "HourlyStationPressure"
VIS_COL = "HourlyVisibility"

#: The LCD (version 1) header, 124 columns, REPORT_TYPE and SOURCE appearing twice.
LCD_COLUMNS = (
    "STATION", "DATE", "REPORT_TYPE", "SOURCE", "AWND", "BackupDirection", "BackupDistance",
    "BackupDistanceUnit", "BackupElements", "BackupElevation", "BackupElevationUnit",
    "BackupEquipment", "BackupLatitude", "BackupLongitude", "BackupName", "CDSD", "CLDD",
    "DSNW", "DYHF", "DYTS", "DailyAverageDewPointTemperature", "DailyAverageDryBulbTemperature",
    "DailyAverageRelativeHumidity", "DailyAverageSeaLevelPressure", "DailyAverageStationPressure",
    "DailyAverageWetBulbTemperature", "DailyAverageWindSpeed", "DailyCoolingDegreeDays",
    "DailyDepartureFromNormalAverageTemperature", "DailyHeatingDegreeDays",
    "DailyMaximumDryBulbTemperature", "DailyMinimumDryBulbTemperature", "DailyPeakWindDirection",
    "DailyPeakWindSpeed", "DailyPrecipitation", "DailySnowDepth", "DailySnowfall",
    "DailySustainedWindDirection", "DailySustainedWindSpeed", "DailyWeather", "HDSD", "HTDD",
    "HourlyAltimeterSetting", "HourlyDewPointTemperature", "HourlyDryBulbTemperature",
    "HourlyPrecipitation", "HourlyPresentWeatherType", "HourlyPressureChange",
    "HourlyPressureTendency", "HourlyRelativeHumidity", "HourlySeaLevelPressure",
    "HourlySkyConditions", "HourlyStationPressure", "HourlyVisibility",
    "HourlyWetBulbTemperature", "HourlyWindDirection", "HourlyWindGustSpeed", "HourlyWindSpeed",
    "MonthlyAverageRH", "MonthlyDaysWithGT001Precip", "MonthlyDaysWithGT010Precip",
    "MonthlyDaysWithGT32Temp", "MonthlyDaysWithGT90Temp", "MonthlyDaysWithLT0Temp",
    "MonthlyDaysWithLT32Temp", "MonthlyDepartureFromNormalAverageTemperature",
    "MonthlyDepartureFromNormalCoolingDegreeDays", "MonthlyDepartureFromNormalHeatingDegreeDays",
    "MonthlyDepartureFromNormalMaximumTemperature", "MonthlyDepartureFromNormalMinimumTemperature",
    "MonthlyDepartureFromNormalPrecipitation", "MonthlyDewpointTemperature",
    "MonthlyGreatestPrecip", "MonthlyGreatestPrecipDate", "MonthlyGreatestSnowDepth",
    "MonthlyGreatestSnowDepthDate", "MonthlyGreatestSnowfall", "MonthlyGreatestSnowfallDate",
    "MonthlyMaxSeaLevelPressureValue", "MonthlyMaxSeaLevelPressureValueDate",
    "MonthlyMaxSeaLevelPressureValueTime", "MonthlyMaximumTemperature", "MonthlyMeanTemperature",
    "MonthlyMinSeaLevelPressureValue", "MonthlyMinSeaLevelPressureValueDate",
    "MonthlyMinSeaLevelPressureValueTime", "MonthlyMinimumTemperature", "MonthlySeaLevelPressure",
    "MonthlyStationPressure", "MonthlyTotalLiquidPrecipitation", "MonthlyTotalSnowfall",
    "MonthlyWetBulb", "NormalsCoolingDegreeDay", "NormalsHeatingDegreeDay", "REM",
    "REPORT_TYPE", "SOURCE",
) + tuple(f"ShortDurationEndDate{m:03d}" for m in (5, 10, 15, 20, 30, 45, 60, 80, 100, 120, 150, 180)) \
  + tuple(f"ShortDurationPrecipitationValue{m:03d}"
          for m in (5, 10, 15, 20, 30, 45, 60, 80, 100, 120, 150, 180)) \
  + ("Sunrise", "Sunset", "WindEquipmentChangeDate")

#: The LCD version 2 header, 125 columns: the site columns after DATE, REPORT_TYPE and
#: SOURCE once, the hourly columns first.
LCD_V2_COLUMNS = (
    "STATION", "DATE", "LATITUDE", "LONGITUDE", "ELEVATION", "NAME", "REPORT_TYPE", "SOURCE",
    "HourlyAltimeterSetting", "HourlyDewPointTemperature", "HourlyDryBulbTemperature",
    "HourlyPrecipitation", "HourlyPresentWeatherType", "HourlyPressureChange",
    "HourlyPressureTendency", "HourlyRelativeHumidity", "HourlySkyConditions",
    "HourlySeaLevelPressure", "HourlyStationPressure", "HourlyVisibility",
    "HourlyWetBulbTemperature", "HourlyWindDirection", "HourlyWindGustSpeed", "HourlyWindSpeed",
    "Sunrise", "Sunset", "DailyAverageDewPointTemperature", "DailyAverageDryBulbTemperature",
    "DailyAverageRelativeHumidity", "DailyAverageSeaLevelPressure", "DailyAverageStationPressure",
    "DailyAverageWetBulbTemperature", "DailyAverageWindSpeed", "DailyCoolingDegreeDays",
    "DailyDepartureFromNormalAverageTemperature", "DailyHeatingDegreeDays",
    "DailyMaximumDryBulbTemperature", "DailyMinimumDryBulbTemperature", "DailyPeakWindDirection",
    "DailyPeakWindSpeed", "DailyPrecipitation", "DailySnowDepth", "DailySnowfall",
    "DailySustainedWindDirection", "DailySustainedWindSpeed", "DailyWeather", "MonthlyAverageRH",
    "MonthlyDaysWithGT001Precip", "MonthlyDaysWithGT010Precip", "MonthlyDaysWithGT32Temp",
    "MonthlyDaysWithGT90Temp", "MonthlyDaysWithLT0Temp", "MonthlyDaysWithLT32Temp",
    "MonthlyDepartureFromNormalAverageTemperature", "MonthlyDepartureFromNormalCoolingDegreeDays",
    "MonthlyDepartureFromNormalHeatingDegreeDays", "MonthlyDepartureFromNormalMaximumTemperature",
    "MonthlyDepartureFromNormalMinimumTemperature", "MonthlyDepartureFromNormalPrecipitation",
    "MonthlyDewpointTemperature", "MonthlyGreatestPrecip", "MonthlyGreatestPrecipDate",
    "MonthlyGreatestSnowDepth", "MonthlyGreatestSnowDepthDate", "MonthlyGreatestSnowfall",
    "MonthlyGreatestSnowfallDate", "MonthlyMaxSeaLevelPressureValue",
    "MonthlyMaxSeaLevelPressureValueDate", "MonthlyMaxSeaLevelPressureValueTime",
    "MonthlyMaximumTemperature", "MonthlyMeanTemperature", "MonthlyMinSeaLevelPressureValue",
    "MonthlyMinSeaLevelPressureValueDate", "MonthlyMinSeaLevelPressureValueTime",
    "MonthlyMinimumTemperature", "MonthlySeaLevelPressure", "MonthlyStationPressure",
    "MonthlyTotalLiquidPrecipitation", "MonthlyTotalSnowfall", "MonthlyWetBulb", "AWND", "CDSD",
    "CLDD", "DSNW", "HDSD", "HTDD", "DYTS", "DYHF", "NormalsCoolingDegreeDay",
    "NormalsHeatingDegreeDay",
) + tuple(f"ShortDurationEndDate{m:03d}" for m in (5, 10, 15, 20, 30, 45, 60, 80, 100, 120, 150, 180)) \
  + tuple(f"ShortDurationPrecipitationValue{m:03d}"
          for m in (5, 10, 15, 20, 30, 45, 60, 80, 100, 120, 150, 180)) \
  + ("REM", "BackupDirection", "BackupDistance", "BackupDistanceUnit", "BackupElements",
     "BackupElevation", "BackupEquipment", "BackupLatitude", "BackupLongitude", "BackupName",
     "WindEquipmentChangeDate")
#: The layouts :func:`generate_lcd` writes (``lstm_chiplet.workload.noaa.LCD_LAYOUTS``).
LAYOUTS = (LCD_V1, LCD_V2)
#: The made-up station in the version 2 layout (GHCN-style; 'ZZ' is no country code).
STATION_ID_V2 = "ZZW00000001"
#: Site columns of the version 2 layout (degrees, metres above sea level).
SITE_V2 = {"LATITUDE": "34.0", "LONGITUDE": "-84.0", "ELEVATION": "300.0",
           "NAME": "GENERATED STATION, ZZ"}
#: Decimals of the metric values a version 2 file is written with, per quantity
#: (``lstm_chiplet.workload.noaa.LCD_QUANTITIES``); others are copied.
V2_DECIMALS = {"temperature": 1, "pressure": 1, "speed": 1, "visibility": 3, "precipitation": 1}

#: Visibilities an ASOS reports (statute miles).
VISIBILITY_LEVELS = np.array([0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 5.0,
                              6.0, 7.0, 8.0, 9.0, 10.0])
KNOT_MPH = 1.15078


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Anomaly:
    """One injected event.

    Attributes
    ----------
    kind : str
        One of :data:`ANOMALY_KINDS`.
    start : str
        First affected clock hour, ISO ``YYYY-MM-DDTHH:00:00`` (local standard time, as
        the file's DATE); the hour's reports (FM-15 at HH:52, ...) carry the fault.
    hours : int
        Affected clock hours, from ``start`` on.
    features : tuple of str
        LCD columns whose values differ from the undisturbed weather.
    detail : str
    """

    kind: str
    start: str
    hours: int
    features: Tuple[str, ...]
    detail: str

    @property
    def hour_range(self) -> np.ndarray:
        """The affected clock hours as ``datetime64[h]``."""
        return np.datetime64(self.start, "h") + np.arange(self.hours)

    @property
    def end(self) -> str:
        """Last affected clock hour (ISO)."""
        return str(self.hour_range[-1].astype("datetime64[s]"))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "start": self.start, "end": self.end, "hours": self.hours,
                "features": list(self.features), "detail": self.detail}

    @classmethod
    def from_dict(cls, d: dict) -> "Anomaly":
        return cls(d["kind"], d["start"], int(d["hours"]), tuple(d["features"]), d["detail"])


@dataclass
class SyntheticLCD:
    """A generated file and what was put into it.

    Attributes
    ----------
    csv_path, anomalies_path : Path
    seed, days, normal_days : int
    start : str
        First clock hour of the file (ISO).
    normal_end : str
        First clock hour after the anomaly-free period (ISO).
    anomalies : list of Anomaly
    dropped_hours : list of str
        Clock hours the loader cannot use (their only report lacks a feature).
    quirks : dict
        How many cells of each quirk were written.
    """

    csv_path: Path
    anomalies_path: Path
    seed: int
    days: int
    normal_days: int
    start: str
    normal_end: str
    anomalies: List[Anomaly]
    dropped_hours: List[str] = field(default_factory=list)
    quirks: Dict[str, int] = field(default_factory=dict)
    layout: str = LCD_V1

    def to_dict(self) -> dict:
        return {"generator": "lstm_chiplet.workload.synthetic", "version": GENERATOR_VERSION,
                "format": "lcd", "layout": self.layout,
                "station": STATION_ID_V2 if self.layout == LCD_V2 else STATION_ID,
                "csv": self.csv_path.name,
                "seed": self.seed, "days": self.days, "normal_days": self.normal_days,
                "start": self.start, "normal_end": self.normal_end,
                "anomalies": [a.to_dict() for a in self.anomalies],
                "dropped_hours": list(self.dropped_hours), "quirks": dict(self.quirks)}

    @classmethod
    def from_json(cls, path) -> "SyntheticLCD":
        """Read an anomalies JSON written by :func:`generate_lcd`."""
        path = Path(path)
        try:
            d = json.loads(path.read_text())
            return cls(path.with_name(d["csv"]), path, int(d["seed"]), int(d["days"]),
                       int(d["normal_days"]), d["start"], d["normal_end"],
                       [Anomaly.from_dict(a) for a in d["anomalies"]], list(d["dropped_hours"]),
                       dict(d["quirks"]), d.get("layout", LCD_V1))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not an anomalies file written by "
                             f"lstm_chiplet.workload.synthetic ({exc})") from None

    def anomaly_hours(self) -> np.ndarray:
        """Every affected clock hour, ``datetime64[h]``, sorted."""
        if not self.anomalies:
            return np.zeros(0, dtype="datetime64[h]")
        return np.sort(np.concatenate([a.hour_range for a in self.anomalies]))


def anomalies_path_for(csv_path) -> Path:
    """Where the anomaly list of ``csv_path`` goes: ``<name>.anomalies.json`` beside it."""
    p = Path(csv_path)
    return p.with_name(p.stem + ".anomalies.json")


# --------------------------------------------------------------------------
# Window helpers
# --------------------------------------------------------------------------

def _window_hours(times) -> np.ndarray:
    t = np.asarray(times)
    if t.ndim != 2:
        raise ValueError(f"window times: expected shape (N, T), got {t.shape}")
    return t.astype("datetime64[h]")


def anomalous_windows(times, anomalies: Sequence[Anomaly]) -> np.ndarray:
    """Which windows contain at least one affected hour: bool (N,).

    ``times`` is ``Windows.times`` (N, T) (report times; compared by clock hour).
    """
    hours = _window_hours(times)
    if not anomalies:
        return np.zeros(hours.shape[0], dtype=bool)
    bad = np.concatenate([a.hour_range for a in anomalies])
    return np.isin(hours, bad).any(axis=1)


def windows_per_anomaly(times, anomalies: Sequence[Anomaly]) -> List[np.ndarray]:
    """For each anomaly, the indices of the windows that contain one of its hours."""
    hours = _window_hours(times)
    return [np.nonzero(np.isin(hours, a.hour_range).any(axis=1))[0] for a in anomalies]


def normal_windows(times, normal_end: str) -> np.ndarray:
    """Which windows lie wholly before ``normal_end`` (the anomaly-free period): bool (N,)."""
    hours = _window_hours(times)
    return hours.max(axis=1) < np.datetime64(normal_end, "h") if hours.size else \
        np.zeros(hours.shape[0], dtype=bool)


def _auc(positive: np.ndarray, negative: np.ndarray) -> Optional[float]:
    """Probability that a positive scores above a negative (ties count half)."""
    if len(positive) == 0 or len(negative) == 0:
        return None
    allv = np.concatenate([positive, negative])
    order = np.argsort(allv, kind="mergesort")
    ranks = np.empty(len(allv))
    sorted_v = allv[order]
    # average ranks of ties
    i = 0
    while i < len(sorted_v):
        j = i
        while j + 1 < len(sorted_v) and sorted_v[j + 1] == sorted_v[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    r_pos = ranks[:len(positive)].sum()
    n_p, n_n = len(positive), len(negative)
    return float((r_pos - n_p * (n_p + 1) / 2.0) / (n_p * n_n))


def separation(scores, times, anomalies: Sequence[Anomaly], percentile: float = 95.0) -> dict:
    """How well window scores single out the injected anomalies.

    Two thresholds are reported: the ``percentile`` of all scores (the main job's
    rule) and the same percentile of the scores of windows touching no anomaly (the
    tail of normal behaviour).  Per event: its windows, how many are above each
    threshold, and its highest score.  ``auc``: probability that a window touching
    an anomaly scores above one that does not.
    """
    s = np.asarray(scores, dtype=np.float64)
    hours = _window_hours(times)
    if s.shape != (hours.shape[0],):
        raise ValueError(f"separation: {s.shape[0] if s.ndim else 0} scores for "
                         f"{hours.shape[0]} windows")
    bad = anomalous_windows(times, anomalies)
    thr = float(np.percentile(s, percentile))
    thr_normal = float(np.percentile(s[~bad], percentile)) if np.any(~bad) else float("nan")
    flagged = s > thr
    events = []
    for a, idx in zip(anomalies, windows_per_anomaly(times, anomalies)):
        sc = s[idx]
        events.append({"kind": a.kind, "start": a.start, "hours": a.hours, "windows": int(len(idx)),
                       "above_threshold": int(np.sum(sc > thr)),
                       "above_normal_threshold": int(np.sum(sc > thr_normal)),
                       "max_score": float(sc.max()) if len(sc) else None,
                       "detected": bool(len(sc) and sc.max() > thr)})
    return {"percentile": float(percentile), "windows": int(len(s)),
            "anomalous_windows": int(bad.sum()), "threshold": thr,
            "normal_threshold": thr_normal, "flagged": int(flagged.sum()),
            "flagged_anomalous": int(np.sum(flagged & bad)),
            "events_detected": int(sum(e["detected"] for e in events)),
            "auc": _auc(s[bad], s[~bad]), "events": events}


def format_separation(rep: dict) -> str:
    """:func:`separation` as a short text table."""
    p = f"{rep['percentile']:g}"
    out = [f"windows {rep['windows']}, touching an injected anomaly {rep['anomalous_windows']}; "
           f"threshold (p{p} of all scores) {rep['threshold']:.5f}, p{p} of anomaly-free windows "
           f"{rep['normal_threshold']:.5f}",
           f"flagged {rep['flagged']}, of which {rep['flagged_anomalous']} touch an anomaly; "
           f"events detected {rep['events_detected']} of {len(rep['events'])}"
           + (f"; AUC {rep['auc']:.4f}" if rep["auc"] is not None else "")]
    out.append(f"  {'kind':16s}{'start':21s}{'hours':>6s}{'windows':>9s}{'>thr':>7s}"
               f"{'>normal':>9s}{'max score':>11s}")
    for e in rep["events"]:
        out.append(f"  {e['kind']:16s}{e['start']:21s}{e['hours']:6d}{e['windows']:9d}"
                   f"{e['above_threshold']:7d}{e['above_normal_threshold']:9d}"
                   f"{(e['max_score'] or 0.0):11.5f}")
    return "\n".join(out)


# --------------------------------------------------------------------------
# The weather
# --------------------------------------------------------------------------

def _red_noise(rng, n: int, coef: float, std: float) -> np.ndarray:
    """AR(1) noise with the given lag-1 coefficient and stationary standard deviation."""
    e = rng.standard_normal(n) * std * math.sqrt(1.0 - coef * coef)
    out = np.empty(n)
    out[0] = rng.standard_normal() * std
    for k in range(1, n):
        out[k] = coef * out[k - 1] + e[k]
    return out


def _magnus_rh(t_f, td_f) -> np.ndarray:
    """Relative humidity (%) from temperature and dew point in F (Magnus formula)."""
    t = (np.asarray(t_f, dtype=np.float64) - 32.0) / 1.8
    td = (np.asarray(td_f, dtype=np.float64) - 32.0) / 1.8
    a, b = 17.625, 243.04
    return 100.0 * np.exp(a * td / (b + td) - a * t / (b + t))


def _wet_bulb_f(t_f, rh) -> np.ndarray:
    """Wet-bulb temperature (F) from temperature (F) and RH (%) (Stull's fit)."""
    t = (np.asarray(t_f, dtype=np.float64) - 32.0) / 1.8
    rh = np.clip(rh, 5.0, 99.0)
    tw = (t * np.arctan(0.151977 * np.sqrt(rh + 8.313659)) + np.arctan(t + rh)
          - np.arctan(rh - 1.676331) + 0.00391838 * rh ** 1.5 * np.arctan(0.023101 * rh) - 4.686035)
    return tw * 1.8 + 32.0


def _diurnal(hour_of_day: np.ndarray) -> np.ndarray:
    """-1 at 07:00, +1 at 15:00; warming over 8 h, cooling over 16 h, smooth."""
    h = np.asarray(hour_of_day, dtype=np.float64)
    rel = (h - 7.0) % 24.0
    phase = np.where(rel <= 8.0, math.pi * rel / 8.0, math.pi + math.pi * (rel - 8.0) / 16.0)
    return -np.cos(phase)


def _weather(rng, start: datetime, hours: int) -> Dict[str, np.ndarray]:
    """The undisturbed hourly observations (floats, before rounding and anomalies)."""
    pad = 48
    n = hours + pad
    tt = np.arange(n, dtype=np.float64) - pad
    periods = rng.uniform(70.0, 160.0, 4)
    amps = rng.uniform(0.5, 1.0, 4)
    phases = rng.uniform(0.0, 2 * math.pi, 4)
    s = sum(a * np.sin(2 * math.pi * tt / p + ph) for a, p, ph in zip(amps, periods, phases))
    s = s + _red_noise(rng, n, 0.97, 0.35)
    s = (s - s.mean()) / s.std()
    cloud_noise = _red_noise(rng, n, 0.9, 0.8)
    cloud = 1.0 / (1.0 + np.exp(-(1.7 * s + cloud_noise - 0.2)))
    moist = _red_noise(rng, n, 0.98, 1.0)
    t_noise = _red_noise(rng, n, 0.8, 0.7)
    p_noise = _red_noise(rng, n, 0.95, 0.006)
    wind_noise = _red_noise(rng, n, 0.75, 1.3)
    dir_noise = _red_noise(rng, n, 0.85, 25.0)
    # rain comes in showers lasting hours: a red-noise intensity, not hourly dice
    rain_noise = np.exp(_red_noise(rng, n, 0.85, 0.6))
    uniform = rng.uniform(0.0, 1.0, (n, 2))

    sl = slice(pad, n)
    lag = slice(pad - 6, n - 6)
    when = [start + timedelta(hours=k) for k in range(hours)]
    hod = np.array([w.hour for w in when], dtype=np.float64)
    doy = np.array([w.timetuple().tm_yday for w in when], dtype=np.float64)

    season = 56.0 - 14.0 * np.cos(2 * math.pi * (doy - 15.0) / 365.25)
    air_mass = season + 7.0 * s[lag]
    amp = 10.0 * (1.0 - 0.65 * cloud[sl])
    temp_smooth = air_mass + amp * _diurnal(hod)
    temp = temp_smooth + t_noise[sl]
    depression = np.maximum(1.0, 3.0 + 16.0 * (1.0 - cloud[sl]) - 2.0 * np.maximum(s[sl], 0.0)
                            + 2.5 * moist[sl])
    # a station's dew point stays a degree or more below the temperature (RH <= ~96 %)
    dew = np.minimum(air_mass - depression + 0.2 * amp * _diurnal(hod), temp - 1.0)

    ds = np.gradient(s)[sl]
    pressure = 29.05 - 0.18 * s[sl] + 0.015 * np.cos(2 * math.pi * (hod - 10.0) / 12.0) + p_noise[sl]
    mixing = np.maximum(_diurnal(hod), 0.0)
    wind_base = 2.0 + 45.0 * np.abs(ds) + 2.0 * cloud[sl] + 4.5 * mixing
    wind_kt = wind_base + wind_noise[sl]
    wind_kt = np.where(wind_kt < 2.5, 0.0, wind_kt)
    direction = (200.0 - 100.0 * np.tanh(ds * 20.0) + dir_noise[sl]) % 360.0

    wet = 1.0 / (1.0 + np.exp(-(cloud[sl] - 0.7) * 25.0))
    rain = np.maximum(0.0, s[sl] - 0.9) * wet * 0.05 * rain_noise[sl]
    rain = np.where(rain < 0.0005, 0.0, rain)
    rh_smooth = _magnus_rh(temp_smooth, np.minimum(dew, temp_smooth - 1.0))
    vis_rain = 10.0 / (1.0 + 60.0 * rain)
    # fog on calm, near-saturated hours (from the smooth fields, so it lasts)
    calm = np.clip((7.0 - wind_base) / 4.0, 0.0, 1.0)
    fog = np.clip((3.0 - (temp_smooth - dew)) / 2.0, 0.0, 1.0) * calm
    vis_fog = 10.0 ** (1.0 - 1.6 * fog)
    vis_mist = 10.0 - 4.0 * np.clip((rh_smooth - 85.0) / 11.0, 0.0, 1.0)
    vis = np.minimum(np.minimum(vis_rain, vis_fog), vis_mist)
    gust = np.where((wind_kt > 11.0) & (uniform[sl, 0] < 0.5), wind_kt + 6.0 + 6.0 * uniform[sl, 1], 0.0)
    return {"when": np.array(when), "hod": hod, "temp": temp, "dew": dew, "pressure": pressure,
            "wind_kt": wind_kt, "direction": direction, "gust_kt": gust, "vis": vis,
            "rain": rain, "cloud": cloud[sl]}


# --------------------------------------------------------------------------
# Anomalies
# --------------------------------------------------------------------------

#: Which hourly series feeds which LCD column (RH is derived from temperature and dew point).
_SERIES_COLUMNS = (("temp", T_COL), ("dew", TD_COL), ("wind_kt", WS_COL), ("pressure", P_COL),
                   ("vis", VIS_COL))
_FEATURE_ORDER = (T_COL, TD_COL, RH_COL, WS_COL, P_COL, VIS_COL)


def _apply_anomaly(kind: str, wx: dict, k0: int, mag: float, sign: float):
    """Change ``wx`` in place for one event starting at hour ``k0``; (hours, detail)."""
    if kind == "spike":
        hours, delta = 2, sign * (30.0 + 10.0 * mag)
        seg = slice(k0, k0 + hours)
        wx["temp"][seg] += delta
        wx["dew"][seg] = np.minimum(wx["dew"][seg], wx["temp"][seg] - 1.0)
        return hours, f"temperature sensor spike of {delta:+.0f} F for {hours} h"
    if kind == "stuck":
        hours = 18
        stuck = float(np.round(wx["temp"][k0]))
        seg = slice(k0, k0 + hours)
        wx["temp"][seg] = stuck
        wx["dew"][seg] = np.minimum(wx["dew"][seg], stuck - 1.0)
        return hours, f"temperature sensor stuck at {stuck:.0f} F for {hours} h"
    if kind == "pressure_drop":
        drop = 0.60 + 0.20 * mag
        profile = np.array([0.5, 1.0, 1.0, 1.0, 0.7, 0.4, 0.15])
        wx["pressure"][k0:k0 + len(profile)] -= drop * profile
        return len(profile), f"station pressure falls {drop:.2f} inHg within 2 h, recovers over 5 h"
    if kind == "wind_burst":
        hours, kt = 2, 38.0 + 10.0 * mag
        wx["wind_kt"][k0:k0 + hours] = kt
        wx["gust_kt"][k0:k0 + hours] = kt + 9.0
        return hours, f"wind {kt:.0f} kt ({kt * KNOT_MPH:.0f} mph) for {hours} h"
    if kind == "dewpoint_jump":
        hours, delta = 8, 18.0 + 6.0 * mag
        seg = slice(k0, k0 + hours)
        wx["dew"][seg] = np.minimum(wx["dew"][seg] + delta, wx["temp"][seg])
        return hours, f"dew point sensor reads {delta:.0f} F high for {hours} h (capped at the temperature)"
    if kind == "visibility_drop":
        hours, level = 6, (0.25 if mag < 0.5 else 0.5)
        wx["vis"][k0:k0 + hours] = level
        return hours, f"visibility sensor reads {level:g} mi for {hours} h in dry air"
    raise ValueError(f"noaa_synth: unknown anomaly kind {kind!r}; known: {', '.join(ANOMALY_KINDS)}")


def _place_anomalies(rng, wx: dict, kinds: Sequence[str], first: int, last: int,
                     start: datetime) -> List[Anomaly]:
    """Choose the hours of each event (one per equal slot of [first, last)) and apply it."""
    out = []
    n = len(kinds)
    if n == 0:
        return out
    slot = (last - first) / n
    if slot < 48:
        raise ValueError(f"noaa_synth: {n} anomalies need at least {48 * n} h after the normal "
                         f"period, only {last - first} h left")
    hod = wx["hod"]
    for j, kind in enumerate(kinds):
        lo = int(first + j * slot + 12)
        hi = int(first + (j + 1) * slot - 24)
        if kind == "stuck":
            # a day whose temperature moves at least 12 F from its 06:00 value: the fault shows
            candidates = [k for k in range(lo, hi) if hod[k] == 6
                          and np.max(np.abs(wx["temp"][k:k + 18] - wx["temp"][k])) >= 12.0]
            candidates = candidates or [k for k in range(lo, hi) if hod[k] == 6]
        elif kind == "dewpoint_jump":
            candidates = [k for k in range(lo, hi) if 11 <= hod[k] <= 13]
        elif kind == "visibility_drop":
            # dry hours (RH below 65 %), where nothing explains a low visibility
            rh = _magnus_rh(wx["temp"], wx["dew"])
            candidates = [k for k in range(lo, hi) if 11 <= hod[k] <= 13 and rh[k:k + 6].max() < 65.0]
            candidates = candidates or [k for k in range(lo, hi) if 11 <= hod[k] <= 13]
        else:
            candidates = list(range(lo, hi))
        k0 = int(rng.choice(candidates))
        mag = float(rng.uniform(0.0, 1.0))
        sign = 1.0 if rng.uniform() < 0.5 else -1.0
        before = {name: wx[name].copy() for name, _ in _SERIES_COLUMNS}
        hours, detail = _apply_anomaly(kind, wx, k0, mag, sign)
        seg = slice(k0, k0 + hours)
        changed = {col for name, col in _SERIES_COLUMNS
                   if not np.array_equal(before[name][seg], wx[name][seg])}
        if changed & {T_COL, TD_COL}:
            changed.add(RH_COL)
        when = (start + timedelta(hours=k0)).strftime("%Y-%m-%dT%H:00:00")
        out.append(Anomaly(kind, when, hours, tuple(c for c in _FEATURE_ORDER if c in changed), detail))
    return out


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------

def _num(v: float, decimals: int = 0) -> str:
    """A number as NOAA writes it: no trailing zeros, no '-0'."""
    s = f"{v:.{decimals}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _vis_text(v: float) -> str:
    return _num(v, 2)


def _sky(cloud: float, rng_u: float) -> str:
    base = 30 + int(rng_u * 200)
    if cloud < 0.2:
        return "CLR:00"
    if cloud < 0.4:
        return f"FEW:02 {base}"
    if cloud < 0.6:
        return f"SCT:04 {base}"
    if cloud < 0.8:
        return f"BKN:07 {base}"
    return f"OVC:08 {max(3, base // 10)}"


def _present_weather(rain: float, vis: float, rh: float) -> str:
    if rain > 0.1:
        return "RA:02 BR:1 |RA |RA"
    if rain > 0.002:
        return "-RA:02 |RA |RA"
    if vis < 1.0 and rh >= 94:
        return "FG:2 |FG |"
    if vis < 7.0:
        return "BR:1 ||"
    return ""


def _sun_hhmm(doy: int) -> Tuple[str, str]:
    """Approximate local standard sunrise and sunset at :data:`LATITUDE`."""
    decl = math.radians(23.44) * math.sin(2 * math.pi * (doy - 81) / 365.0)
    x = -math.tan(math.radians(LATITUDE)) * math.tan(decl)
    half = math.degrees(math.acos(max(-1.0, min(1.0, x)))) / 15.0
    noon = 12.4

    def hhmm(h):
        m = int(round(h * 60))
        return f"{m // 60}{m % 60:02d}"
    return hhmm(noon - half), hhmm(noon + half)


class _Row:
    """One CSV row being filled by column name (duplicate columns get the same value)."""

    def __init__(self):
        self.cells = {}

    def __setitem__(self, key, value):
        self.cells[key] = value

    def values(self) -> List[str]:
        return [self.cells.get(c, "") for c in LCD_COLUMNS]

    def values_v2(self) -> List[str]:
        """The row in the version 2 layout: metric values, GHCN-style station."""
        cells = dict(self.cells, STATION=STATION_ID_V2, **SITE_V2)
        return [_metric_cell(c, cells.get(c, "")) for c in LCD_V2_COLUMNS]


def _metric_cell(column: str, text: str) -> str:
    """A version 1 (US units) cell as version 2 writes it: converted and rounded to
    :data:`V2_DECIMALS`; flags ('T', 'M', 'VRB', ...) and suffixes ('s', 'V') kept."""
    q = LCD_QUANTITIES.get(column)
    if q not in V2_DECIMALS or not text:
        return text
    body, suffix = (text[:-1], text[-1]) if text[-1] in "sV" else (text, "")
    if not _NUMBER.fullmatch(body):
        return text
    v = float(convert_units(float(body), LCD_UNITS[LCD_V1][q], LCD_UNITS[LCD_V2][q]))
    return _num(round(v, V2_DECIMALS[q]), V2_DECIMALS[q]) + suffix


def generate_lcd(path, seed: int = DEFAULT_SEED, start: str = DEFAULT_START,
                 days: int = DEFAULT_DAYS, normal_days: int = DEFAULT_NORMAL_DAYS,
                 anomalies=DEFAULT_ANOMALIES, layout: str = "v1") -> SyntheticLCD:
    """Write a generated LCD hourly CSV and its anomalies JSON; return what was written.

    ``layout="v2"`` writes the same reports in the LCD version 2 layout
    (:data:`LCD_V2_COLUMNS`, station :data:`STATION_ID_V2`, metric values: each US
    value converted and rounded to :data:`V2_DECIMALS`), so the two files of one seed
    hold the same weather, apart from that rounding.

    Parameters
    ----------
    path : str or Path
        The CSV to write (its folder is created); the anomaly list goes to
        :func:`anomalies_path_for` ``(path)``.
    seed : int
        Everything random derives from it.  The undisturbed weather depends only on
        ``seed``, ``start`` and ``days``, not on the anomalies requested.
    start : str
        First day, ``YYYY-MM-DD`` (local standard time).
    days : int
    normal_days : int
        Anomaly-free days at the start (the training period).
    anomalies : int or sequence of str
        How many events (kinds cycled in a seed-dependent order) or the kinds to inject.

    Returns
    -------
    SyntheticLCD
    """
    path = Path(path)
    if layout not in LAYOUTS:
        raise ValueError(f"noaa_synth: layout must be one of {LAYOUTS}, got {layout!r}")
    if int(days) != days or days < 2:
        raise ValueError(f"noaa_synth: days must be an integer >= 2, got {days!r}")
    if int(normal_days) != normal_days or not 1 <= normal_days <= days:
        raise ValueError(f"noaa_synth: normal_days must be in 1..{days}, got {normal_days!r}")
    try:
        t0 = datetime.fromisoformat(str(start))
    except ValueError:
        raise ValueError(f"noaa_synth: start must be a date YYYY-MM-DD, got {start!r}") from None
    t0 = t0.replace(hour=0, minute=0, second=0, microsecond=0)
    hours = int(days) * 24
    wx = _weather(np.random.default_rng([seed, 0]), t0, hours)

    arng = np.random.default_rng([seed, 1])
    if isinstance(anomalies, (int, np.integer)):
        if anomalies < 0:
            raise ValueError(f"noaa_synth: anomalies must be >= 0, got {anomalies}")
        order = list(arng.permutation(ANOMALY_KINDS))
        kinds = [order[j % len(order)] for j in range(int(anomalies))]
    else:
        kinds = list(anomalies)
        unknown = [k for k in kinds if k not in ANOMALY_KINDS]
        if unknown:
            raise ValueError(f"noaa_synth: unknown anomaly kind(s) {unknown}; known: "
                             f"{', '.join(ANOMALY_KINDS)}")
    first = int(normal_days) * 24
    events = _place_anomalies(arng, wx, kinds, first, hours - 24, t0)

    # sensor resolution: what the station writes
    temp = np.round(wx["temp"])
    dew = np.minimum(np.round(wx["dew"]), temp)
    rh = np.clip(np.round(_magnus_rh(temp, dew)), 1, 100)
    wet = np.round(np.minimum(_wet_bulb_f(temp, rh), temp))
    pressure = np.round(wx["pressure"], 2)
    slp = np.round(pressure + 1.02, 2)
    alt = np.round(slp - 0.01, 2)
    wind_kt = np.round(wx["wind_kt"])
    wind = np.round(wind_kt * KNOT_MPH)
    gust = np.round(np.round(wx["gust_kt"]) * KNOT_MPH)
    direction = (np.round(wx["direction"] / 10.0) * 10.0) % 360.0
    direction = np.where(direction == 0, 360.0, direction)
    vis = VISIBILITY_LEVELS[np.abs(VISIBILITY_LEVELS[None, :] - wx["vis"][:, None]).argmin(axis=1)]
    rain = wx["rain"]

    # quirks: chosen with their own stream so they do not move when anomalies change
    qrng = np.random.default_rng([seed, 2])
    uq = qrng.uniform(0.0, 1.0, (hours, 6))
    # the 'M' cells and the suspect temperatures go into the normal period, a day from its ends
    normal_hours = np.arange(24, max(24, first - 24))
    synop_hours = [k for k in normal_hours if int(wx["hod"][k]) in (1, 7, 13, 19)]
    m_hours = set(int(k) for k in qrng.choice(synop_hours, size=min(2, len(synop_hours)), replace=False)) \
        if synop_hours else set()
    quiet = [k for k in normal_hours if int(wx["hod"][k]) not in (1, 7, 13, 19) and k not in m_hours
             and rain[k] <= 0.002 and vis[k] >= 10 and wx["gust_kt"][k] == 0]
    dropped = {int(qrng.choice(quiet))} if quiet else set()
    suspect_t = set(int(k) for k in qrng.choice(normal_hours, size=min(3, len(normal_hours)),
                                                 replace=False)) - m_hours - dropped
    quirks = {"trace_T": 0, "suspect_s": 0, "suspect_s_temperature_hours": len(suspect_t),
              "variable_V": 0, "VRB": 0, "M_filled_same_hour": 0, "M_dropped_hour": 0,
              "FM-12": 0, "FM-16": 0, "SOD": 0, "SOM": 0}

    rows: List[_Row] = []
    anomaly_hours = {int(k) for a in events
                     for k in ((a.hour_range - np.datetime64(t0, "h")).astype(int))}

    def precip_text(k: int) -> str:
        r = rain[k]
        if r <= 0.0:
            return "0"
        if r < 0.005:
            quirks["trace_T"] += 1
            return "T"
        txt = _num(round(r, 2), 2)
        if uq[k, 0] < 0.04:
            quirks["suspect_s"] += 1
            return txt + "s"
        return txt

    def hourly(row: _Row, k: int, *, vis_text: Optional[str] = None):
        row[T_COL] = _num(temp[k]) + ("s" if k in suspect_t else "")
        row[TD_COL] = _num(dew[k])
        row[RH_COL] = _num(rh[k])
        row["HourlyWetBulbTemperature"] = _num(wet[k])
        row[P_COL] = _num(pressure[k], 2)
        row["HourlySeaLevelPressure"] = _num(slp[k], 2)
        row[WS_COL] = _num(wind[k])
        if wind[k] == 0:
            row["HourlyWindDirection"] = "0"
        elif wind_kt[k] <= 6 and uq[k, 1] < 0.12:
            row["HourlyWindDirection"] = "VRB"
            quirks["VRB"] += 1
        else:
            row["HourlyWindDirection"] = _num(direction[k])
        if gust[k] > 0:
            row["HourlyWindGustSpeed"] = _num(gust[k])
        if vis_text is None:
            if 1.0 <= vis[k] <= 3.0 and uq[k, 2] < 0.1:
                vis_text = f"{vis[k]:.2f}V"
                quirks["variable_V"] += 1
            else:
                vis_text = _vis_text(vis[k])
        row[VIS_COL] = vis_text
        row["HourlyPresentWeatherType"] = _present_weather(rain[k], vis[k], rh[k])

    def remark(kind: str, when: datetime, k: int) -> str:
        tc, tdc = (temp[k] - 32) / 1.8, (dew[k] - 32) / 1.8

        def c2(v):
            return f"M{abs(round(v)):02d}" if round(v) < 0 else f"{round(v):02d}"
        utc = when + timedelta(hours=5)
        return (f"MET{when:%m/%d/%y %H:%M}:02 {kind} {STATION_ICAO} {utc:%d%H%M}Z "
                f"{int(direction[k]) if wind[k] else 0:03d}{int(wind_kt[k]):02d}KT "
                f"{_vis_text(vis[k])}SM {c2(tc)}/{c2(tdc)} A{int(round(alt[k] * 100)):04d} RMK AO2")

    for day in range(int(days)):
        day_start = day * 24
        for k in range(day_start, day_start + 24):
            hour = t0 + timedelta(hours=k)
            hod = hour.hour
            # FM-12 (SYNOP) at 01, 07, 13, 19:00: the same observations
            if hod in (1, 7, 13, 19) and k not in dropped:
                row = _Row()
                row["STATION"], row["DATE"] = STATION_ID, f"{hour:%Y-%m-%dT%H:%M:%S}"
                row["REPORT_TYPE"], row["SOURCE"] = "FM-12", "4"
                hourly(row, k, vis_text="9.94" if vis[k] == 10 else None)
                row["REM"] = f"SYN{k % 97:03d}{STATION_ID[:5]} 32966 {int(round(wind_kt[k])):02d}"
                if hod in (7, 19) and k >= 3:
                    change = pressure[k] - pressure[k - 3]
                    row["HourlyPressureChange"] = _num(change, 2)
                    row["HourlyPressureTendency"] = "3" if change > 0 else ("8" if change < 0 else "4")
                row["WindEquipmentChangeDate"] = "6/1/2005"
                rows.append(row)
                quirks["FM-12"] += 1
            # FM-16 specials in weather
            weather = rain[k] > 0.002 or vis[k] < 3.0 or gust[k] > 0
            if weather and uq[k, 3] < 0.5 and k not in dropped:
                for minute in sorted({5 + int(uq[k, 4] * 40), 5 + int(uq[k, 5] * 40)}):
                    when = hour + timedelta(minutes=minute)
                    row = _Row()
                    row["STATION"], row["DATE"] = STATION_ID, f"{when:%Y-%m-%dT%H:%M:%S}"
                    row["REPORT_TYPE"], row["SOURCE"] = "FM-16", "7"
                    hourly(row, k)
                    row["HourlyAltimeterSetting"] = _num(alt[k], 2)
                    row["HourlyPrecipitation"] = precip_text(k)
                    row["HourlySeaLevelPressure"] = ""
                    row["REM"] = remark("SPECI", when, k)
                    row["WindEquipmentChangeDate"] = "6/1/2005"
                    rows.append(row)
                    quirks["FM-16"] += 1
            # FM-15 (routine METAR) at HH:52
            when = hour + timedelta(minutes=52)
            row = _Row()
            row["STATION"], row["DATE"] = STATION_ID, f"{when:%Y-%m-%dT%H:%M:%S}"
            row["REPORT_TYPE"], row["SOURCE"] = "FM-15", "7"
            hourly(row, k)
            row["HourlyAltimeterSetting"] = _num(alt[k], 2)
            row["HourlyPrecipitation"] = precip_text(k)
            row["HourlySkyConditions"] = _sky(float(wx["cloud"][k]), float(uq[k, 4]))
            if hod % 3 == 0 and k >= 3:
                change = pressure[k] - pressure[k - 3]
                row["HourlyPressureChange"] = _num(change, 2)
                row["HourlyPressureTendency"] = "3" if change > 0 else ("8" if change < 0 else "4")
            if k in m_hours:
                row[P_COL] = "M"
                quirks["M_filled_same_hour"] += 1
            if k in dropped:
                row[TD_COL] = "M"
                quirks["M_dropped_hour"] += 1
            row["REM"] = remark("METAR", when, k)
            row["WindEquipmentChangeDate"] = "6/1/2005"
            rows.append(row)
        # daily summary
        seg = slice(day_start, day_start + 24)
        date = t0 + timedelta(days=day)
        sunrise, sunset = _sun_hhmm(date.timetuple().tm_yday)
        tmax, tmin = float(temp[seg].max()), float(temp[seg].min())
        tavg = round((tmax + tmin) / 2)
        rain_day = float(np.sum(np.where(rain[seg] >= 0.005, np.round(rain[seg], 2), 0.0)))
        row = _Row()
        row["STATION"], row["DATE"] = STATION_ID, f"{date:%Y-%m-%d}T23:59:00"
        row["REPORT_TYPE"], row["SOURCE"] = "SOD  ", "6"
        row["DailyAverageDryBulbTemperature"] = _num(tavg)
        row["DailyAverageDewPointTemperature"] = _num(float(np.mean(dew[seg])))
        row["DailyAverageRelativeHumidity"] = _num(float(np.mean(rh[seg])))
        row["DailyAverageStationPressure"] = _num(float(np.mean(pressure[seg])), 2)
        row["DailyAverageSeaLevelPressure"] = _num(float(np.mean(slp[seg])), 2)
        row["DailyAverageWetBulbTemperature"] = _num(float(np.mean(wet[seg])))
        row["DailyAverageWindSpeed"] = _num(float(np.mean(wind[seg])), 1)
        row["DailyMaximumDryBulbTemperature"] = _num(tmax)
        row["DailyMinimumDryBulbTemperature"] = _num(tmin)
        row["DailyPeakWindSpeed"] = _num(float(max(gust[seg].max(), wind[seg].max())))
        row["DailyPrecipitation"] = ("T" if rain_day == 0 and np.any(rain[seg] > 0)
                                     else _num(rain_day, 2))
        row["DailySnowDepth"], row["DailySnowfall"] = "0", "0"
        row["DailyHeatingDegreeDays"] = _num(max(0, 65 - tavg))
        row["DailyCoolingDegreeDays"] = _num(max(0, tavg - 65))
        row["Sunrise"], row["Sunset"] = sunrise, sunset
        row["REM"] = f"SOD 24 HR MAX TEMP (F): {tmax:.0f} 24 HR MIN TEMP (F): {tmin:.0f}"
        row["WindEquipmentChangeDate"] = "6/1/2005"
        rows.append(row)
        quirks["SOD"] += 1
        # monthly summary on the month's last day
        if (date + timedelta(days=1)).month != date.month:
            month = [k for k in range(0, day_start + 24) if (t0 + timedelta(hours=k)).month == date.month]
            row = _Row()
            row["STATION"], row["DATE"] = STATION_ID, f"{date:%Y-%m-%d}T23:59:00"
            row["REPORT_TYPE"], row["SOURCE"] = "SOM  ", "6"
            row["MonthlyMeanTemperature"] = _num(float(np.mean(temp[month])), 1)
            row["MonthlyMaximumTemperature"] = _num(float(np.max(temp[month])), 1)
            row["MonthlyMinimumTemperature"] = _num(float(np.min(temp[month])), 1)
            row["MonthlyStationPressure"] = _num(float(np.mean(pressure[month])), 2)
            row["MonthlySeaLevelPressure"] = _num(float(np.mean(slp[month])), 2)
            row["MonthlyTotalLiquidPrecipitation"] = _num(
                float(np.sum(np.where(rain[month] >= 0.005, np.round(rain[month], 2), 0.0))), 2)
            row["AWND"] = _num(float(np.mean(wind[month])), 1)
            row["REM"] = "SOM"
            row["WindEquipmentChangeDate"] = "6/1/2005"
            rows.append(row)
            quirks["SOM"] += 1

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        if layout == "v2":
            w.writerow(LCD_V2_COLUMNS)
            w.writerows(r.values_v2() for r in rows)
        else:
            w.writerow(LCD_COLUMNS)
            w.writerows(r.values() for r in rows)
    os.replace(tmp, path)

    result = SyntheticLCD(
        csv_path=path, anomalies_path=anomalies_path_for(path), seed=int(seed), days=int(days),
        normal_days=int(normal_days), start=f"{t0:%Y-%m-%dT%H:%M:%S}",
        normal_end=f"{t0 + timedelta(hours=first):%Y-%m-%dT%H:%M:%S}", anomalies=events,
        dropped_hours=[f"{t0 + timedelta(hours=k):%Y-%m-%dT%H:00:00}" for k in sorted(dropped)],
        quirks=quirks, layout=layout)
    assert not (anomaly_hours & dropped)
    tmp = result.anomalies_path.with_name(result.anomalies_path.name + ".part")
    tmp.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    os.replace(tmp, result.anomalies_path)
    return result


def default_plan(days: int = DEFAULT_DAYS) -> Tuple[int, int]:
    """(normal_days, anomalies) for a file of ``days`` days laid out like the default.

    ``DEFAULT_DAYS`` gives exactly the default (60 anomaly-free days, 6 events); other
    lengths keep two thirds anomaly-free and as many events (up to 6) as fit, one per
    48 h slot after the normal period.
    """
    if int(days) != days or days < 2:
        raise ValueError(f"noaa_synth: days must be an integer >= 2, got {days!r}")
    days = int(days)
    if days == DEFAULT_DAYS:
        return DEFAULT_NORMAL_DAYS, DEFAULT_ANOMALIES
    normal = max(1, round(days * DEFAULT_NORMAL_DAYS / DEFAULT_DAYS))
    fit = ((days - normal) * 24 - 24) // 48
    return normal, int(max(0, min(DEFAULT_ANOMALIES, fit)))


def write_default_dataset(folder) -> SyntheticLCD:
    """The main job's default data: :data:`DEFAULT_FILENAME` in ``folder`` (regenerated).

    Deterministic (seed :data:`DEFAULT_SEED`), so writing it again gives the same bytes.
    """
    return generate_lcd(Path(folder) / DEFAULT_FILENAME)


def write_earlier_season(folder, years_back: int) -> SyntheticLCD:
    """An anomaly-free winter of the same made-up station, ``years_back`` years earlier.

    Same length and calendar as the default dataset, seed ``DEFAULT_SEED + years_back``
    (other weather), no anomalies: extra training data, as a station's earlier years
    would be.  Written as ``lcd_hourly_synthetic_minus<years_back>y.csv`` in ``folder``.
    """
    if int(years_back) != years_back or years_back < 1:
        raise ValueError(f"noaa_synth: years_back must be a positive integer, got {years_back!r}")
    first = datetime.fromisoformat(DEFAULT_START)
    start = first.replace(year=first.year - int(years_back))
    name = Path(DEFAULT_FILENAME).stem + f"_minus{int(years_back)}y.csv"
    return generate_lcd(Path(folder) / name, seed=DEFAULT_SEED + int(years_back),
                        start=f"{start:%Y-%m-%d}", days=DEFAULT_DAYS, normal_days=DEFAULT_DAYS,
                        anomalies=0)


def main(argv=None) -> int:
    """``python -m lstm_chiplet.workload.synthetic OUT.csv``: write a generated LCD file and
    its anomalies."""
    ap = argparse.ArgumentParser(prog="python -m lstm_chiplet.workload.synthetic", description=main.__doc__)
    ap.add_argument("out", help="CSV file to write (the anomaly list goes beside it)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--start", default=DEFAULT_START)
    ap.add_argument("--days", type=int, default=DEFAULT_DAYS)
    ap.add_argument("--normal-days", type=int, default=DEFAULT_NORMAL_DAYS)
    ap.add_argument("--anomalies", type=int, default=DEFAULT_ANOMALIES)
    ap.add_argument("--layout", choices=LAYOUTS, default=LCD_V1,
                    help="LCD version 1 (US units, default) or version 2 (metric)")
    args = ap.parse_args(argv)
    res = generate_lcd(args.out, args.seed, args.start, args.days, args.normal_days, args.anomalies,
                       layout=args.layout)
    print(f"wrote {res.csv_path} ({res.days} days, anomaly-free until {res.normal_end}) and "
          f"{res.anomalies_path}")
    for a in res.anomalies:
        print(f"  {a.start} .. {a.end}  {a.kind:15s} {a.detail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
