"""LCD layout versions and units: detection, the exact conversions, units stored with the
scaler (and in the project model file), zero-span scalers refused, the out-of-range
warning, and the generated version 2 fixture against its version 1 twin."""

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from golden.autoencoder import AutoencoderConfig, realistic_weights
from lstm_chiplet.models.npz import ModelFileError
from lstm_chiplet.models.project import load_model, save_model
from lstm_chiplet.workload.noaa import (LCD_FEATURES, LCD_UNITS, OUT_OF_RANGE_LIMIT, DataError,
                                        MinMaxScaler, UnitError, convert_units, detect_lcd_layout,
                                        format_summary, load_csv, load_windows,
                                        out_of_range_warnings, unit_plan)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
V2_FIXTURE = FIXTURES / "lcd_v2_small.csv"
REPO = Path(__file__).resolve().parents[3]
SHIPPED = REPO / "lstm_chiplet" / "data" / "default_model.npz"


def _fixture_generator():
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def v1_twin(tmp_path_factory):
    """The version 2 fixture's reports in the version 1 layout (US units)."""
    path = tmp_path_factory.mktemp("twin") / "lcd_v1_twin.csv"
    path.write_text(_fixture_generator().generated_lcd("v1"), encoding="ascii")
    return path


# ------------------------------------------------------------------ layout
V1_HEADER = ["STATION", "DATE", "REPORT_TYPE", "SOURCE", "HourlyDryBulbTemperature"]
V2_HEADER = ["STATION", "DATE", "LATITUDE", "LONGITUDE", "ELEVATION", "NAME", "REPORT_TYPE",
             "SOURCE", "HourlyDryBulbTemperature"]


@pytest.mark.parametrize("header, stations, layout", [
    (V1_HEADER, ["72219013874"], "v1"),
    (V2_HEADER, ["USW00014939"], "v2"),
    (V2_HEADER, ["72219013874"], None),            # v2 header, v1 numbering
    (V1_HEADER, ["USW00014939"], None),            # v1 header, GHCN ID
    (V2_HEADER, ["USW00014939", "72219013874"], None),
    (V1_HEADER, ["KATL"], None),
], ids=["v1", "v2", "v2-header-wban-id", "v1-header-ghcn-id", "mixed-ids", "other-id"])
def test_layout_needs_both_signs(header, stations, layout):
    ev = detect_lcd_layout(header, stations)
    assert ev["layout"] == layout, ev
    if layout is None:
        assert "do not match one LCD version" in ev["reason"]


def test_files_are_read_with_the_units_of_their_layout():
    v2 = load_csv(V2_FIXTURE)
    assert v2.summary["header"]["columns"] == 125
    assert v2.summary["units"]["layout"] == "v2" and v2.summary["units"]["layout_source"] == "detected"
    assert v2.units == ("degC", "degC", "%", "m/s", "hPa", "km")
    v1 = load_csv(FIXTURES / "lcd_small.csv")
    assert v1.summary["units"]["layout"] == "v1"
    assert v1.units == ("degF", "degF", "%", "mph", "inHg", "mi")
    given = load_csv(FIXTURES / "lcd_small.csv", layout="v2")
    assert given.units[0] == "degC" and given.summary["units"]["layout_source"] == "given"
    assert "layout: LCD v2 (detected" in format_summary(load_windows(V2_FIXTURE).summary)
    with pytest.raises(DataError, match="layout must be one of"):
        load_csv(FIXTURES / "marine_small.csv", layout="v1")


def test_an_unknown_layout_leaves_the_units_unknown(tmp_path):
    text = V2_FIXTURE.read_text().replace("ZZW00000001", "99900000001")
    path = tmp_path / "wban_ids_v2_header.csv"
    path.write_text(text)
    data = load_csv(path)
    assert data.summary["units"]["layout"] is None
    # relative humidity is % in both versions; the rest depends on the layout
    assert data.units == (None, None, "%", None, None, None)


# ------------------------------------------------------------- conversions
@pytest.mark.parametrize("x, src, dst, expected, tol", [
    (0.0, "degC", "degF", 32.0, 0.0),
    (100.0, "degC", "degF", 212.0, 0.0),
    (-40.0, "degC", "degF", -40.0, 0.0),
    (37.0, "degC", "degF", 98.6, 1e-12),
    (1013.25, "hPa", "inHg", 29.9213, 5e-5),       # standard atmosphere: 29.92 inHg
    (1.609344, "km", "mi", 1.0, 1e-15),            # the international mile, exactly
    (10.0, "m/s", "mph", 22.3694, 5e-5),
    (25.4, "mm", "in", 1.0, 1e-15),
    (50.0, "degF", "degC", 10.0, 1e-12),           # and back
    (30.0, "inHg", "hPa", 1015.9167, 5e-5),
], ids=lambda v: str(v))
def test_conversions_match_published_values(x, src, dst, expected, tol):
    assert abs(float(convert_units(x, src, dst)) - expected) <= tol


def test_no_conversion_between_quantities():
    with pytest.raises(UnitError, match="no conversion from degC to mi"):
        convert_units(1.0, "degC", "mi")


def test_v2_fixture_converted_equals_its_v1_twin_within_the_rounding(v1_twin):
    """The v2 file holds each US value converted and rounded to 0.1 deg C, 0.1 hPa,
    0.1 m/s and 0.001 km; brought back into US units it differs from the v1 twin by at
    most half that step times the conversion's slope (plus float rounding)."""
    v1 = load_windows(v1_twin)
    v2 = load_windows(V2_FIXTURE)
    assert v2.features == v1.features == LCD_FEATURES
    np.testing.assert_array_equal(v2.times, v1.times)
    back = v2.in_units(LCD_UNITS_V1)
    assert back.units == LCD_UNITS_V1
    # half step (v2 unit) * d(US)/d(metric): 0.05*9/5, 0.05*100/3386.389, 0.05/0.44704, ...
    bound = np.array([0.05 * 1.8, 0.05 * 1.8, 0.0, 0.05 / 0.44704, 0.05 / 33.86389,
                      0.0005 / 1.609344]) + 1e-9
    d = np.abs(back.sequences - v1.sequences).reshape(-1, 6).max(axis=0)
    assert np.all(d <= bound), dict(zip(LCD_FEATURES, d))
    # and the conversion did something: unconverted the data are far apart
    assert np.abs(v2.sequences - v1.sequences).max() > 900
    conv = {c["feature"]: (c["from"], c["to"]) for c in back.summary["units"]["conversions"]}
    assert conv == {"HourlyDryBulbTemperature": ("degC", "degF"),
                    "HourlyDewPointTemperature": ("degC", "degF"), "HourlyWindSpeed": ("m/s", "mph"),
                    "HourlyStationPressure": ("hPa", "inHg"), "HourlyVisibility": ("km", "mi")}


LCD_UNITS_V1 = tuple(LCD_UNITS["v1"][q] for q in
                     ("temperature", "temperature", "humidity", "speed", "pressure", "visibility"))


# ------------------------------------------------------------ the unit plan
FEATS = ("t", "p")


def test_unit_plan_rules():
    same = unit_plan(FEATS, ("degF", "inHg"), ("degF", "inHg"))
    assert same["conversions"] == [] and same["warnings"] == []
    conv = unit_plan(FEATS, ("degC", "hPa"), ("degF", "inHg"))
    assert [(c["feature"], c["from"], c["to"]) for c in conv["conversions"]] == [
        ("t", "degC", "degF"), ("p", "hPa", "inHg")]
    with pytest.raises(UnitError, match="t is in degC, the scaler expects mi"):
        unit_plan(FEATS, ("degC", "hPa"), ("mi", "inHg"))
    with pytest.raises(UnitError, match="unit of t cannot be told"):
        unit_plan(FEATS, (None, "hPa"), ("degF", "inHg"))
    # a scaler without units (saved before they were recorded)
    with pytest.raises(UnitError, match="metric LCD version 2.*records no units"):
        unit_plan(FEATS, ("degC", "hPa"), (None, None))
    legacy = unit_plan(FEATS, ("degF", "inHg"), (None, None))
    assert legacy["conversions"] == []
    assert legacy["warnings"] == ["the scaler records no units (saved before units were stored): "
                                  "assumed to be the data's: t (degF), p (inHg)"]
    unknown = unit_plan(FEATS, (None, None), (None, None))
    assert "not checked" in unknown["warnings"][0]


def test_out_of_range_warning_threshold():
    n = 1000
    at_limit = int(OUT_OF_RANGE_LIMIT * n)
    assert out_of_range_warnings({"a": {"below": at_limit, "above": 0, "values": n}}) == []
    w = out_of_range_warnings({"a": {"below": at_limit, "above": 1, "values": n},
                               "b": {"below": 0, "above": 0, "values": n},
                               "c": {"below": 300, "above": 352, "values": n}})
    assert len(w) == 1
    assert "a 5.1 % (50 below, 1 above)" in w[0] and "c 65.2 % (300 below, 352 above)" in w[0]
    assert " b " not in w[0] and "more than 5 %" in w[0]


# ------------------------------------------------------- scaler and model file
def test_scaler_units_round_trip_and_legacy_arrays():
    sc = MinMaxScaler([0.0, 1.0], [2.0, 3.0], ["a", "b"], units=["degF", None])
    arr = sc.to_arrays()
    assert arr["scaler_units"].tolist() == ["degF", ""]
    back = MinMaxScaler.from_arrays(arr)
    assert back == sc and back.units == ("degF", None)
    legacy = MinMaxScaler([0.0, 1.0], [2.0, 3.0], ["a", "b"])
    assert "scaler_units" not in legacy.to_arrays()          # written exactly as before
    assert MinMaxScaler.from_arrays(legacy.to_arrays()).units == (None, None)
    assert back != legacy
    with pytest.raises(DataError, match="1-D unicode"):
        MinMaxScaler.from_arrays(dict(arr, scaler_units=np.zeros(2)))


def test_zero_span_is_refused_when_read_naming_the_feature():
    arr = MinMaxScaler([0.0, 5.0, 1.0], [2.0, 5.0, 3.0], ["a", "wind", "c"]).to_arrays()
    with pytest.raises(DataError, match=r"some.npz: the scaler's feature 'wind' has zero span"):
        MinMaxScaler.from_arrays(arr, what="some.npz")


CFG = AutoencoderConfig(features=6, encoder_sizes=(4,), decoder_sizes=(4,), timesteps=24)


def test_model_file_keeps_the_units(tmp_path):
    model = realistic_weights(CFG, seed=2)
    units = ("degF", "degF", "%", "mph", "inHg", "mi")
    sc = MinMaxScaler(np.zeros(6), np.ones(6), LCD_FEATURES, units)
    path = save_model(tmp_path / "m.npz", model, sc, data_format="lcd")
    loaded = load_model(path)
    assert loaded.scaler.units == units and loaded.scaler == sc
    assert "HourlyStationPressure (inHg)" in loaded.describe()
    legacy = save_model(tmp_path / "legacy.npz", model, MinMaxScaler(np.zeros(6), np.ones(6),
                                                                        LCD_FEATURES))
    with np.load(legacy) as z:
        assert "scaler_units" not in z.files
    assert load_model(legacy).scaler.units == (None,) * 6


def test_model_file_with_a_zero_span_feature_is_refused(tmp_path):
    model = realistic_weights(CFG, seed=2)
    lo, hi = np.zeros(6), np.ones(6)
    hi[4] = 0.0
    path = save_model(tmp_path / "flat.npz", model, MinMaxScaler(lo, hi, LCD_FEATURES))
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: ") and "'HourlyStationPressure' has zero span" in msg
    assert msg.count(str(path)) == 1


#: Digest of the shipped model's weights, scaler numbers, config and schema (name, dtype,
#: shape, bytes), taken from the file as training wrote it: what later steps added
#: (``scaler_units``, the searched per-layer ``formats`` and their ``provenance``
#: entry) leaves them bit for bit as they were.
SHIPPED_ARRAYS_SHA256 = "9aafa134d8ada455b42715146f2e1d42293e778bddc0033ac5c06dab921410bb"
ADDED_LATER = ("scaler_units", "formats", "provenance")


def test_shipped_model_gained_units_and_formats_and_nothing_else():
    h = hashlib.sha256()
    with np.load(SHIPPED, allow_pickle=False) as z:
        names = sorted(z.files)
        for k in names:
            if k in ADDED_LATER:
                continue
            a = z[k]
            h.update(k.encode() + b"\0" + str(a.dtype).encode() + b"\0" + str(a.shape).encode()
                     + b"\0" + np.ascontiguousarray(a).tobytes())
    assert set(ADDED_LATER) <= set(names)
    assert h.hexdigest() == SHIPPED_ARRAYS_SHA256
    m = load_model(SHIPPED)
    assert m.scaler.features == LCD_FEATURES
    # fitted on the generated v1 data: deg F, inHg, miles, mph
    assert m.scaler.units == ("degF", "degF", "%", "mph", "inHg", "mi")
    assert 28 < m.scaler.data_min[4] < m.scaler.data_max[4] < 31          # inHg, not hPa


# ------------------------------------------------------------------- train
def _train(tmp_path, csv_path, name):
    from lstm_chiplet.cli import main as cli_main
    out = tmp_path / name
    rc = cli_main(["train", "--csv", str(csv_path), "--epochs", "1", "--encoder", "3",
                   "--decoder", "3", "--validation-fraction", "0", "--quiet", "--out", str(out)])
    return rc, out


def test_train_records_the_files_units(tmp_path, capsys):
    rc, out = _train(tmp_path, V2_FIXTURE, "v2_model.npz")
    assert rc == 0, capsys.readouterr().err
    m = load_model(out)
    assert m.scaler.units == ("degC", "degC", "%", "m/s", "hPa", "km")
    assert 900 < m.scaler.data_min[4] < m.scaler.data_max[4] < 1100       # hPa as read


def test_train_refuses_a_feature_that_never_changes(tmp_path, capsys):
    import csv
    rows = list(csv.reader(V2_FIXTURE.read_text().splitlines()))
    j = rows[0].index("HourlyRelativeHumidity")
    for r in rows[1:]:
        if r[j]:
            r[j] = "50"
    flat = tmp_path / "flat_rh.csv"
    with open(flat, "w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    rc, out = _train(tmp_path, flat, "flat.npz")
    err = capsys.readouterr().err
    assert rc == 1 and not out.exists()
    assert "training windows of flat_rh.csv: the scaler's feature 'HourlyRelativeHumidity' has " \
           "zero span (data_min = data_max = 50)" in err
