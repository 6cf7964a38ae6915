"""NOAA loaders, windows and the scaler.

The expected figures for the shipped fixtures follow from their design, described in
tests/fixtures/make_fixtures.py and worked out here by hand; the real-sample tests
check every window against the raw CSV read independently with the csv module.
"""

import csv
import importlib.util
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from lstm_chiplet.workload.noaa import (DEFAULT_POLICIES, LCD, LCD_FEATURES, MARINE, MARINE_FEATURES,
                         DataError, DataPolicy, MinMaxScaler, detect_format, format_summary,
                         load_csv, load_windows, make_windows, parse_cell)
from golden.lstm_float import ShapeError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
MARINE_SMALL = FIXTURES / "marine_small.csv"
LCD_SMALL = FIXTURES / "lcd_small.csv"
LCD_T0 = datetime(2021, 6, 1)


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _raw(path):
    """Header and rows of a CSV, backticks removed: an independent reader."""
    lines = Path(path).read_text().splitlines()
    lines[0] = lines[0].replace("```", "")
    rows = list(csv.reader(lines))
    return rows[0], rows[1:]


# ---------------------------------------------------------------- fixtures
def test_fixtures_are_regenerated_exactly(tmp_path):
    gen = _load_generator()
    for p in gen.write_all(tmp_path):
        shipped = FIXTURES / p.name
        assert shipped.read_bytes() == p.read_bytes(), f"{p.name}: rerun make_fixtures.py"
        assert shipped.stat().st_size < 50_000


# ---------------------------------------------------------------- cells
@pytest.mark.parametrize("text, kw, expected", [
    ("12", {}, (12.0, "value")),
    (" -3.5 ", {}, (-3.5, "value")),
    ("", {}, (None, "empty")),
    ("M", {}, (None, "missing_M")),
    ("*", {}, (None, "flag_star")),
    ("VRB", {}, (None, "vrb")),
    ("T", {"trace_allowed": True}, (0.0, "trace_T")),
    ("T", {}, (None, "garbage")),
    ("0.01s", {}, (0.01, "suspect_s")),
    ("0.01s", {"suspect": "drop"}, (None, "suspect_dropped")),
    ("1.75V", {}, (1.75, "variable_V")),
    ("99", {"sentinels": (99.0,)}, (None, "sentinel")),
    ("2x7", {}, (None, "garbage")),
    ("nan", {}, (None, "garbage")),
    ("inf", {}, (None, "garbage")),
    ("s", {}, (None, "garbage")),
    ("1.2.3", {}, (None, "garbage")),
], ids=lambda v: repr(v) if isinstance(v, str) else None)
def test_parse_cell(text, kw, expected):
    assert parse_cell(text, **kw) == expected


# ------------------------------------------------------------------ lcd
def test_lcd_fixture_counts_and_windows():
    data = load_csv(LCD_SMALL)
    s = data.summary
    assert data.format == LCD and data.features == LCD_FEATURES
    # 58 FM-15 + 20 FM-12 + 5 FM-16 + 2 SOD + 1 SOM = 86 rows; hour 30 has none
    assert s["rows"]["read"] == 86
    assert s["rows"]["summary_report"] == 3
    assert s["rows"]["superseded_in_hour"] == 83 - 59
    assert s["rows"]["kept"] == 59 and s["rows"]["incomplete"] == 0
    assert s["header"]["duplicates"]["REPORT_TYPE"] == {"positions": [2, 22], "rows_disagreeing": 0}
    assert s["header"]["duplicates"]["SOURCE"] == {"positions": [3, 23], "rows_disagreeing": 0}
    c = s["columns"]
    assert c["HourlyDryBulbTemperature"] == {"value": 58, "missing_M": 1, "filled_same_hour": 1}
    assert c["HourlyRelativeHumidity"] == {"value": 58, "garbage": 1, "filled_same_hour": 1}
    assert c["HourlyStationPressure"] == {"value": 58, "flag_star": 1, "filled_same_hour": 1}
    assert c["HourlyWindSpeed"] == {"value": 58, "suspect_s": 1}
    assert c["HourlyVisibility"] == {"value": 57, "variable_V": 1, "empty": 1, "filled_same_hour": 1}

    w = make_windows(data)
    # runs of hours 0..29 and 31..59: (30 - 23) + (29 - 23)
    assert len(w) == 13 and w.sequences.shape == (13, 24, 6)
    assert w.summary["windows"]["count"] == 13
    starts = [LCD_T0 + timedelta(hours=h, minutes=52) for h in list(range(7)) + list(range(31, 37))]
    assert [str(t) for t in w.start] == [t.strftime("%Y-%m-%dT%H:%M:%S") for t in starts]
    assert not np.isnan(w.sequences).any()
    assert len(make_windows(data, stride=5)) == 2 + 2       # starts 0, 5 and 31, 36


def _series_value(data, hour, feature):
    s = next(iter(data.stations.values()))
    slot = np.datetime64(LCD_T0 + timedelta(hours=hour), "s").astype(np.int64)
    i = int(np.nonzero(s.slots == slot)[0][0])
    return s.values[i, data.features.index(feature)], s.times[i]


def test_lcd_fixture_values_follow_the_policy():
    data = load_csv(LCD_SMALL)
    header, rows = _raw(LCD_SMALL)
    # hour 45 has no FM-15: the FM-12 (dry bulb 99) is preferred to the FM-16
    v, t = _series_value(data, 45, "HourlyDryBulbTemperature")
    assert v == 99.0 and str(t) == "2021-06-02T21:00:00"
    assert _series_value(data, 5, "HourlyWindSpeed")[0] == 12.0        # '12s'
    assert _series_value(data, 12, "HourlyVisibility")[0] == 2.5       # '2.50V'
    assert _series_value(data, 10, "HourlyVisibility")[0] == 1.75      # lent by the FM-16
    # hour 15: 'M' in the FM-15, the value comes from the FM-12 of 15:00
    fm12 = [r for r in rows if r[1] == "2021-06-01T15:00:00"][0]
    assert _series_value(data, 15, "HourlyDryBulbTemperature")[0] == float(fm12[header.index("HourlyDryBulbTemperature")])
    # every other hour carries the FM-15's values exactly
    fm15 = {r[1]: r for r in rows if r[2] == "FM-15"}
    t = "2021-06-01T08:52:00"
    for f in LCD_FEATURES:
        assert _series_value(data, 8, f)[0] == float(fm15[t][header.index(f)])


def test_lcd_trace_suspect_and_vrb():
    feats = ("HourlyPrecipitation", "HourlyWindDirection")
    data = load_csv(LCD_SMALL, features=feats)
    c = data.summary["columns"]
    assert c["HourlyPrecipitation"]["trace_T"] == 2
    assert c["HourlyPrecipitation"]["suspect_s"] == 1
    # hour 45's FM-12 has no hourly precipitation: the FM-16 lends it
    assert c["HourlyPrecipitation"]["filled_same_hour"] == 1
    assert c["HourlyWindDirection"]["vrb"] == 1 and c["HourlyWindDirection"]["left_missing"] == 1
    assert data.summary["rows"]["incomplete"] == 1 and data.rows == 58
    assert _series_value(data, 3, "HourlyPrecipitation")[0] == 0.0
    assert _series_value(data, 6, "HourlyPrecipitation")[0] == 0.01
    # hour 7 dropped: runs 0..6, 8..29, 31..59 -> only the last holds windows (29 - 23)
    assert len(make_windows(data)) == 6

    strict = load_csv(LCD_SMALL, features=feats,
                      policy=DataPolicy(max_gap_hours=1, suspect="drop"))
    assert strict.summary["columns"]["HourlyPrecipitation"]["suspect_dropped"] == 1
    assert strict.summary["rows"]["incomplete"] == 2 and strict.rows == 57


def test_lcd_gap_policy():
    # with a 2 h gap allowed, the missing hour 30 no longer splits the series: 59 - 23
    data = load_csv(LCD_SMALL, policy=DataPolicy(max_gap_hours=2))
    assert len(make_windows(data)) == 36


# ---------------------------------------------------------------- marine
def test_marine_fixture_counts_and_windows():
    data = load_csv(MARINE_SMALL)
    s = data.summary
    assert data.format == MARINE and data.features == MARINE_FEATURES
    assert s["header"]["backticks"] is True
    assert s["rows"]["read"] == 40 + 43 + 10 + 2
    assert (s["rows"]["malformed"], s["rows"]["bad_date"], s["rows"]["duplicate_time"]) == (1, 1, 1)
    assert s["rows"]["incomplete"] == 10          # SHIP003 never reports waves
    assert s["rows"]["kept"] == 40 + 42
    assert s["stations_read"] == 3 and sorted(data.stations) == ["BUOY001", "SHIP002"]
    c = s["columns"]
    assert c["AIR_TEMP"]["garbage"] == 1 and c["AIR_TEMP"]["filled_hold"] == 1
    # BUOY001 has waves in 14 of 40 hours; the other 26 are held, plus the code 99 at hour 9
    assert c["WAVE_HGT"]["filled_hold"] == 26
    assert c["WAVE_PERIOD"]["sentinel"] == 1 and c["WAVE_PERIOD"]["filled_hold"] == 27

    w = make_windows(data)
    # BUOY001: 40 - 23; SHIP002: run of slots 0..25 -> 26 - 23, run 29..44 (16) -> none
    assert len(w) == 17 + 3
    per = w.summary["stations"]
    assert per["BUOY001"]["windows"] == 17 and per["SHIP002"]["windows"] == 3
    assert per["SHIP002"]["longest_run"] == 26
    assert list(w.start) == sorted(w.start)
    assert len(make_windows(data, stride=2)) == 9 + 2


def check_marine_windows(path, w, hold_hours=6, gap_hours=6):
    """Independent check of marine windows against the raw file.

    Every step is a raw report of the window's platform; each value is the report's
    own, or (when empty or the code 99) one of the platform's values of the last
    ``hold_hours``; consecutive steps are at most ``gap_hours`` apart; every report of
    the platform skipped between two steps lacks a feature that no hold can supply.
    """
    header, rows = _raw(path)
    fidx = [header.index(f) for f in MARINE_FEATURES]
    reports = {}
    for r in rows:
        if len(r) == len(header) and r[1][:4].isdigit() and r[1][5:7].isdigit():
            reports.setdefault(r[0], {}).setdefault(r[1], r)
    hold, gap = timedelta(hours=hold_hours), timedelta(hours=gap_hours)

    def usable(cell, j):
        return cell.isdigit() and not (MARINE_FEATURES[j] == "WAVE_PERIOD" and cell == "99")

    def candidates(station, t, j):
        tt = datetime.fromisoformat(t)
        return [float(r[fidx[j]]) for u, r in reports[station].items()
                if usable(r[fidx[j]], j) and timedelta(0) < tt - datetime.fromisoformat(u) <= hold]

    for n in range(len(w)):
        station = w.stations[n]
        times = [str(t) for t in w.times[n]]
        assert times == sorted(set(times))
        for k, t in enumerate(times):
            r = reports[station][t]
            if k:
                assert datetime.fromisoformat(t) - datetime.fromisoformat(times[k - 1]) <= gap
            for j, ci in enumerate(fidx):
                if usable(r[ci], j):
                    assert w.sequences[n, k, j] == float(r[ci])
                else:
                    assert w.sequences[n, k, j] in candidates(station, t, j)
        for u, r in reports[station].items():
            if times[0] < u < times[-1] and u not in times:
                assert any(not usable(r[ci], j) and not candidates(station, u, j)
                           for j, ci in enumerate(fidx)), f"{station} {u} skipped"


def test_marine_windows_match_the_raw_file():
    check_marine_windows(MARINE_SMALL, load_windows(MARINE_SMALL))


def test_marine_policy_without_fill():
    # no hold: BUOY001 is complete only every third hour (hour 9 lost to the code 99),
    # 13 reports; SHIP002 loses slot 5 (garbage), runs of 25 and 16 reports -> 2 windows
    data = load_csv(MARINE_SMALL, policy=DataPolicy(max_gap_hours=6, fill_hours=0))
    assert data.summary["rows"]["kept"] == 13 + 41
    assert len(make_windows(data)) == 2
    # gaps of 3 h not allowed: SHIP002 has no windows, BUOY001 keeps its 17
    data = load_csv(MARINE_SMALL, policy=DataPolicy(max_gap_hours=2, fill_hours=6))
    assert len(make_windows(data)) == 17


def test_summary_text_names_every_decision():
    text = format_summary(load_windows(MARINE_SMALL).summary)
    for needle in ("backticks", "wrong number of fields", "DATE not ISO", "same station and time",
                   "garbage 1", "sentinel 1", "filled_hold 27", "windows: 20 of 24 steps",
                   "BUOY001: 40 kept"):
        assert needle in text
    text = format_summary(load_windows(LCD_SMALL).summary)
    for needle in ("REPORT_TYPE appears 2 times", "SOD/SOM", "suspect_s 1", "variable_V 1",
                   "missing_M 1", "flag_star 1", "windows: 13"):
        assert needle in text


# ------------------------------------------------------------ bad input
def test_missing_columns_are_listed():
    with pytest.raises(DataError) as e:
        load_csv(FIXTURES / "lcd_missing_columns.csv")
    msg = str(e.value)
    assert "lcd_missing_columns.csv" in msg
    assert "HourlyStationPressure, HourlyVisibility not found" in msg
    assert "columns found: STATION, DATE, REPORT_TYPE" in msg


def test_chosen_feature_absent():
    with pytest.raises(DataError, match="column.s. Foo not found"):
        load_csv(LCD_SMALL, features=["HourlyWindSpeed", "Foo"])
    with pytest.raises(DataError, match="SEA_LVL_PRES.*not found"):
        load_csv(LCD_SMALL, fmt="marine")


def test_too_few_rows_for_a_window():
    with pytest.raises(DataError) as e:
        load_windows(FIXTURES / "marine_too_short.csv")
    msg = str(e.value)
    assert "marine_too_short.csv" in msg and "one window of 24 steps" in msg
    assert "10 usable row(s) in 1 station(s)" in msg
    assert "BUOY009: 10 usable, longest gap-free run 10" in msg
    assert len(load_windows(FIXTURES / "marine_too_short.csv", steps=10)) == 1
    empty = make_windows(load_csv(FIXTURES / "marine_too_short.csv"), require=False)
    assert empty.sequences.shape == (0, 24, 6)


def test_garbage_column_is_counted_then_refused(tmp_path):
    header, rows = _raw(LCD_SMALL)
    i = header.index("HourlyWindSpeed")
    for r in rows:
        if r[2].strip() not in ("SOD", "SOM"):
            r[i] = "abc"
    p = tmp_path / "garbage.csv"
    with open(p, "w", newline="") as fh:
        csv.writer(fh).writerows([header] + rows)
    data = load_csv(p)
    assert data.summary["columns"]["HourlyWindSpeed"]["garbage"] == 59
    assert data.summary["rows"]["incomplete"] == 59 and data.rows == 0
    with pytest.raises(DataError, match="garbage.csv: too few usable rows"):
        make_windows(data)


@pytest.mark.parametrize("content, match", [
    (None, "cannot read the file"),
    (b"", "the file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text CSV"),
    (b"a,b,c\n1,2,3\n", "cannot tell the format.*columns found: a, b, c"),
], ids=["absent", "empty", "binary", "unknown-header"])
def test_unreadable_files(tmp_path, content, match):
    p = tmp_path / "input.csv"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(DataError, match=match) as e:
        load_csv(p)
    assert "input.csv" in str(e.value)


def test_directory_and_bad_arguments(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        load_csv(tmp_path)
    with pytest.raises(DataError, match="format must be one of"):
        load_csv(LCD_SMALL, fmt="isd")
    with pytest.raises(DataError, match="stride"):
        make_windows(load_csv(LCD_SMALL), stride=0)
    with pytest.raises(DataError, match="max_gap_hours"):
        DataPolicy(max_gap_hours=0)
    with pytest.raises(DataError, match="suspect"):
        DataPolicy(max_gap_hours=1, suspect="maybe")


def test_detect_format():
    assert detect_format(_raw(MARINE_SMALL)[0]) == MARINE
    assert detect_format(_raw(LCD_SMALL)[0]) == LCD
    assert load_csv(LCD_SMALL, fmt=LCD).summary["rows"]["kept"] == 59
    assert DEFAULT_POLICIES[LCD].max_gap_hours == 1 and DEFAULT_POLICIES[MARINE].fill_hours == 6


# ---------------------------------------------------------------- scaler
def test_scaler_fit_transform_and_out_of_range():
    train = np.array([[0.0, 10.0, 5.0], [4.0, 30.0, 5.0], [2.0, 20.0, 5.0]])
    sc = MinMaxScaler.fit(train, ["a", "b", "c"])
    assert sc.data_min.tolist() == [0.0, 10.0, 5.0] and sc.data_max.tolist() == [4.0, 30.0, 5.0]
    y = sc.transform(train)
    assert y.tolist() == [[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.5, 0.5, 0.0]]
    test = np.array([[-4.0, 50.0, 6.0], [1.0, 20.0, 5.0]])
    assert sc.transform(test).tolist() == [[-1.0, 2.0, 1.0], [0.25, 0.5, 0.0]]
    assert sc.out_of_range(test) == {"a": {"below": 1, "above": 0}, "b": {"below": 0, "above": 1},
                                     "c": {"below": 0, "above": 1}}
    assert sc.inverse_transform(sc.transform(test)).tolist() == test.tolist()


def test_scaler_saved_without_pickle(tmp_path):
    w = load_windows(LCD_SMALL)
    sc = MinMaxScaler.fit(w.sequences, w.features)
    path = tmp_path / "model.npz"
    np.savez(path, **sc.to_arrays())
    with np.load(path, allow_pickle=False) as z:
        back = MinMaxScaler.from_arrays(z)
    assert back == sc and back.features == LCD_FEATURES
    with pytest.raises(DataError, match="scaler_max"):
        MinMaxScaler.from_arrays({"scaler_min": sc.data_min, "scaler_features": np.array(["x"])})


def test_scaled_windows_report_out_of_range():
    w = load_windows(LCD_SMALL)
    first, rest = w.sequences[:7], w.sequences[7:]      # the two runs of the fixture
    sc = MinMaxScaler.fit(first, w.features)
    scaled = w.scaled(sc)
    expected = {f: {"below": int(np.sum(rest[..., j] < first[..., j].min())),
                    "above": int(np.sum(rest[..., j] > first[..., j].max()))}
                for j, f in enumerate(w.features)}
    assert scaled.summary["scaler"]["out_of_range"] == expected
    assert scaled.summary["scaler"]["values_out_of_range"] == sum(
        d["below"] + d["above"] for d in expected.values()) > 0
    assert scaled.sequences[:7].min() == 0.0 and scaled.sequences[:7].max() == 1.0
    assert "outside the fitted range" in format_summary(scaled.summary)


def test_scaler_bad_input():
    sc = MinMaxScaler.fit(np.zeros((4, 3)) + np.arange(3))
    with pytest.raises(ShapeError, match="3 features"):
        sc.transform(np.zeros((2, 4)))
    with pytest.raises(DataError, match="NaN"):
        MinMaxScaler.fit(np.array([[1.0, np.nan]]))
    with pytest.raises(ShapeError, match="empty"):
        MinMaxScaler.fit(np.zeros((0, 3)))
    with pytest.raises(DataError, match="features"):
        sc.transform(np.zeros((1, 3)), features=("x", "y", "z"))


@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 30), st.integers(1, 5)),
                  elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)))
def test_scaler_maps_training_data_into_unit_interval(x):
    sc = MinMaxScaler.fit(x)
    y = sc.transform(x)
    assert y.min() >= 0.0 and y.max() <= 1.0
    assert all(v == {"below": 0, "above": 0} for v in sc.out_of_range(x).values())
    span = x.max(axis=0) > x.min(axis=0)
    assert np.all(y.max(axis=0)[span] == 1.0) and np.all(y.min(axis=0) == 0.0)


# ------------------------------------------------------------ real samples
@pytest.mark.realdata
def test_real_lcd_sample(noaa_dir):
    path = noaa_dir / "lcd_hourly_KATL_2020-01.csv"
    header, rows = _raw(path)
    # independent: one FM-15 per clock hour, all hours consecutive and complete
    fm15 = [r for r in rows if r[2] == "FM-15"]
    hours = sorted({r[1][:13] for r in fm15})
    assert len(hours) == len(fm15) == 1265
    w = load_windows(path)
    s = w.summary
    assert s["rows"]["read"] == len(rows) == 1998
    assert s["rows"]["summary_report"] == sum(r[2].strip() in ("SOD", "SOM") for r in rows) == 53
    assert s["rows"]["kept"] == 1265
    assert s["rows"]["superseded_in_hour"] == 1998 - 53 - 1265
    assert s["header"]["duplicates"]["REPORT_TYPE"]["positions"] == [2, 95]
    assert len(w) == 1265 - 23 == 1242
    idx = [header.index(f) for f in LCD_FEATURES]
    for n in (0, 500, 1241):
        assert str(w.start[n]) == fm15[n][1]
        for k in range(24):
            r = fm15[n + k]
            assert w.sequences[n, k].tolist() == [float(r[i].rstrip("sV")) for i in idx]


@pytest.mark.realdata
def test_real_lcd_quirks(noaa_dir):
    path = noaa_dir / "lcd_hourly_KATL_2020-01.csv"
    header, rows = _raw(path)
    i = header.index("HourlyPrecipitation")
    fm15 = [r for r in rows if r[2] == "FM-15"]
    data = load_csv(path, features=("HourlyPrecipitation", "HourlyWindDirection"))
    c = data.summary["columns"]
    assert c["HourlyPrecipitation"]["trace_T"] == sum(r[i] == "T" for r in fm15)
    assert c["HourlyPrecipitation"]["suspect_s"] == sum(r[i].endswith("s") for r in fm15)
    j = header.index("HourlyWindDirection")
    assert c["HourlyWindDirection"]["vrb"] == sum(r[j] == "VRB" for r in fm15) > 0


@pytest.mark.realdata
def test_real_marine_sample(noaa_dir):
    path = noaa_dir / "global_marine_10N100E_2025-03.csv"
    header, rows = _raw(path)
    w = load_windows(path)
    s = w.summary
    assert s["rows"]["read"] == len(rows) == 6327
    assert s["stations_read"] == len({r[0] for r in rows}) == 241
    assert s["header"]["backticks"] is True
    # figures documented in docs/data.md
    assert len(w) == 39 and s["windows"]["stations_with_windows"] == 1
    check_marine_windows(path, w)
