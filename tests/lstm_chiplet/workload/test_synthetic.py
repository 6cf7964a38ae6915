"""The generated LCD file: determinism, the format and its quirks as the loader reports
them, and every injected anomaly visible in the loaded values exactly where it was put."""

import csv

import numpy as np
import pytest

from lstm_chiplet.workload.noaa import LCD_FEATURES, load_csv, load_windows
from lstm_chiplet.workload.synthetic import (ANOMALY_KINDS, DEFAULT_DAYS, LCD_COLUMNS, SyntheticLCD,
                                             anomalies_path_for, anomalous_windows, default_plan,
                                             generate_lcd, normal_windows, separation,
                                             windows_per_anomaly, write_default_dataset,
                                             write_earlier_season)

DAYS = 40
NORMAL = 10


@pytest.fixture(scope="module")
def folder(build_dir):
    path = build_dir / "synthetic"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def pair(folder):
    """The same weather with and without the six kinds of anomaly."""
    with_a = generate_lcd(folder / "with.csv", seed=21, days=DAYS, normal_days=NORMAL,
                          anomalies=list(ANOMALY_KINDS))
    without = generate_lcd(folder / "without.csv", seed=21, days=DAYS, normal_days=NORMAL, anomalies=0)
    return with_a, without


def _series(path):
    data = load_csv(path)
    (s,) = data.stations.values()
    return data, s


def test_same_seed_same_bytes_other_seed_other_weather(folder):
    a = generate_lcd(folder / "a.csv", seed=5, days=5, normal_days=2, anomalies=1)
    b = generate_lcd(folder / "b.csv", seed=5, days=5, normal_days=2, anomalies=1)
    c = generate_lcd(folder / "c.csv", seed=6, days=5, normal_days=2, anomalies=1)
    assert a.csv_path.read_bytes() == b.csv_path.read_bytes()
    assert a.csv_path.read_bytes() != c.csv_path.read_bytes()
    ja, jb = a.to_dict(), b.to_dict()
    ja.pop("csv"), jb.pop("csv")
    assert ja == jb
    assert anomalies_path_for(a.csv_path).name == "a.anomalies.json"
    back = SyntheticLCD.from_json(a.anomalies_path)
    assert back.anomalies == a.anomalies and back.normal_end == a.normal_end
    assert back.csv_path == a.csv_path


def test_header_and_report_types_as_in_lcd(pair):
    path = pair[0].csv_path
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    assert tuple(header) == LCD_COLUMNS and len(header) == 124
    assert header.count("REPORT_TYPE") == 2 and header.count("SOURCE") == 2
    types = [r[2] for r in rows[1:]]
    assert types.count("FM-15") == DAYS * 24                      # one routine report per hour
    assert types.count("SOD  ") == DAYS                           # trailing spaces, as NOAA writes
    assert types.count("SOM  ") == 1                              # January ends inside the 40 days
    assert types.count("FM-12") == DAYS * 4                       # at 01, 07, 13 and 19 h
    assert all(len(r) == 124 for r in rows)
    dates = [r[1] for r in rows[1:]]
    assert dates == sorted(dates)


def test_loader_counts_the_quirks(pair):
    data, s = _series(pair[1].csv_path)
    summ = data.summary
    assert summ["format"] == "lcd" and set(summ["header"]["duplicates"]) == {"REPORT_TYPE", "SOURCE"}
    rows = summ["rows"]
    assert rows["summary_report"] == DAYS + 1
    assert rows["incomplete"] == 1 == len(pair[1].dropped_hours)  # the dew point 'M' hour
    assert rows["kept"] == DAYS * 24 - 1
    cols = summ["columns"]
    assert cols["HourlyStationPressure"]["missing_M"] == 2
    assert cols["HourlyStationPressure"]["filled_same_hour"] == 2
    assert cols["HourlyDryBulbTemperature"]["suspect_s"] == pair[1].quirks["suspect_s_temperature_hours"] > 0
    assert cols["HourlyDewPointTemperature"]["missing_M"] == 1
    # the dropped hour is a gap: no window spans it
    win = load_windows(pair[1].csv_path)
    gap = np.datetime64(pair[1].dropped_hours[0], "h")
    assert not np.isin(win.times.astype("datetime64[h]"), gap).any()


def test_quirk_cells_in_the_file(pair):
    text = pair[0].csv_path.read_text()
    q = pair[0].quirks
    assert q["trace_T"] > 0 and ",T," in text
    assert q["VRB"] > 0 and ",VRB," in text
    assert q["variable_V"] > 0 and "V," in text
    assert q["FM-16"] > 0


@pytest.mark.parametrize("kind", ANOMALY_KINDS)
def test_each_anomaly_is_visible_exactly_where_it_was_put(pair, kind):
    with_a, without = pair
    (event,) = [a for a in with_a.anomalies if a.kind == kind]
    _, sa = _series(with_a.csv_path)
    _, sb = _series(without.csv_path)
    np.testing.assert_array_equal(sa.times, sb.times)
    hours = sa.times.astype("datetime64[h]")
    inside = np.isin(hours, event.hour_range)
    assert inside.sum() == event.hours
    others = np.isin(hours, with_a.anomaly_hours()) & ~inside
    diff = sa.values != sb.values                                   # (n, 6)
    # outside every event the loaded values are identical
    assert not diff[~inside & ~others].any()
    # inside this event exactly the listed features differ (in at least one hour)
    changed = {LCD_FEATURES[j] for j in range(6) if diff[inside, j].any()}
    assert changed == set(event.features), (kind, changed, event.features)
    a, b = sa.values[inside], sb.values[inside]
    j = {f: k for k, f in enumerate(LCD_FEATURES)}
    if kind == "spike":
        assert np.all(np.abs(a[:, j["HourlyDryBulbTemperature"]] - b[:, j["HourlyDryBulbTemperature"]]) >= 29)
    elif kind == "stuck":
        assert len(set(a[:, j["HourlyDryBulbTemperature"]])) == 1
        assert np.ptp(b[:, j["HourlyDryBulbTemperature"]]) >= 11
    elif kind == "pressure_drop":
        assert np.max(b[:, j["HourlyStationPressure"]] - a[:, j["HourlyStationPressure"]]) >= 0.59
    elif kind == "wind_burst":
        assert np.all(a[:, j["HourlyWindSpeed"]] >= 43)             # 38 kt and more, in mph
    elif kind == "dewpoint_jump":
        assert np.max(a[:, j["HourlyRelativeHumidity"]]) == 100
    elif kind == "visibility_drop":
        assert np.all(a[:, j["HourlyVisibility"]] <= 0.5)
        assert np.max(b[:, j["HourlyRelativeHumidity"]]) < 66


def test_anomalies_lie_after_the_normal_period_and_apart(pair):
    ev = pair[0].anomalies
    end = np.datetime64(pair[0].normal_end, "h")
    starts = [np.datetime64(a.start, "h") for a in ev]
    assert all(s >= end for s in starts)
    assert all(b - a >= np.timedelta64(48, "h") for a, b in zip(starts, starts[1:]))


def test_window_helpers_against_brute_force(pair):
    with_a = pair[0]
    win = load_windows(with_a.csv_path)
    bad = anomalous_windows(win.times, with_a.anomalies)
    affected = {str(h) for a in with_a.anomalies for h in a.hour_range}
    brute = np.array([any(str(np.datetime64(t, "h")) in affected for t in row) for row in win.times])
    np.testing.assert_array_equal(bad, brute)
    per = windows_per_anomaly(win.times, with_a.anomalies)
    assert sorted(set(np.concatenate(per))) == list(np.nonzero(bad)[0])
    assert all(len(p) >= 24 for p in per)                       # each event seen by >= 24 windows
    normal = normal_windows(win.times, with_a.normal_end)
    end = np.datetime64(with_a.normal_end)
    np.testing.assert_array_equal(normal, np.array([row.max() < end for row in win.times]))
    assert not (normal & bad).any()


def test_separation_figures(pair):
    win = load_windows(pair[0].csv_path)
    bad = anomalous_windows(win.times, pair[0].anomalies)
    # about a fifth of these windows touch an anomaly: threshold at the 70th percentile
    perfect = separation(bad.astype(float) + 0.01 * np.arange(len(bad)) / len(bad), win.times,
                         pair[0].anomalies, percentile=70)
    assert 0.1 < bad.mean() < 0.3
    assert perfect["auc"] == 1.0 and perfect["events_detected"] == 6
    assert perfect["flagged_anomalous"] == bad.sum() < perfect["flagged"]
    # a threshold inside the anomalous block: every flagged window touches an anomaly
    strict = separation(bad.astype(float) + 0.01 * np.arange(len(bad)) / len(bad), win.times,
                        pair[0].anomalies, percentile=100 * (1 - bad.mean() / 2))
    assert strict["flagged_anomalous"] == strict["flagged"] > 0
    rng = np.random.default_rng(0)
    scores = rng.uniform(size=len(bad))
    rep = separation(scores, win.times, pair[0].anomalies)
    pos, neg = scores[bad], scores[~bad]
    brute = np.mean(pos[:, None] > neg[None, :])
    assert rep["auc"] == pytest.approx(brute, abs=1e-12)
    assert rep["threshold"] == pytest.approx(np.percentile(scores, 95))
    assert rep["flagged"] == int(np.sum(scores > np.percentile(scores, 95)))


def test_default_and_earlier_seasons(folder):
    d = write_default_dataset(folder / "default")
    assert d.days == 90 and d.normal_days == 60 and len(d.anomalies) == 6
    assert sorted(a.kind for a in d.anomalies) == sorted(ANOMALY_KINDS)
    e = write_earlier_season(folder / "default", 1)
    assert e.anomalies == [] and e.start.startswith("2019-12-01") and e.seed != d.seed


@pytest.mark.parametrize("days", [2, 10, 30, 45, DEFAULT_DAYS, 200])
def test_default_plan_always_fits(folder, days):
    normal, n = default_plan(days)
    assert 1 <= normal < days or days == 2
    if days == DEFAULT_DAYS:
        assert (normal, n) == (60, 6)
    res = generate_lcd(folder / "plan.csv", days=days, normal_days=normal, anomalies=n)
    assert len(res.anomalies) == n


def test_bad_arguments_are_named(folder):
    with pytest.raises(ValueError, match="days"):
        generate_lcd(folder / "x.csv", days=1)
    with pytest.raises(ValueError, match="normal_days"):
        generate_lcd(folder / "x.csv", days=10, normal_days=11)
    with pytest.raises(ValueError, match="unknown anomaly kind"):
        generate_lcd(folder / "x.csv", days=10, normal_days=2, anomalies=["meteor"])
    with pytest.raises(ValueError, match="need at least"):
        generate_lcd(folder / "x.csv", days=10, normal_days=8, anomalies=3)
    with pytest.raises(ValueError, match="start"):
        generate_lcd(folder / "x.csv", start="yesterday")


@pytest.mark.realdata
def test_same_header_as_the_real_lcd_sample(noaa_dir):
    with open(noaa_dir / "lcd_hourly_KATL_2020-01.csv", newline="") as fh:
        real = next(csv.reader(fh))
    assert tuple(real) == LCD_COLUMNS
