"""Layer files: round trip, and every kind of bad file refused with a message that
names the file, the array and the problem (never unpickled, never silently wrapped)."""

import pickle
import re
import warnings

import numpy as np
import pytest

from golden.formats import DEFAULT_FORMATS, FormatError, QFormat, LSTMFormats
from golden.lstm_fixed import FixedLSTMWeights
from golden.lstm_float import LSTMWeights, ShapeError
from golden.model_io import (ModelFileError, load_fixed_layers, load_layers, lstm_weights_from_arrays,
                             quantize_layers, read_npz, save_layers)


def _layer(rng, d, h, scale=1.0, peephole=False):
    return LSTMWeights(rng.uniform(-scale, scale, (d, 4 * h)), rng.uniform(-scale, scale, (h, 4 * h)),
                       rng.uniform(-scale, scale, 4 * h),
                       rng.uniform(-scale, scale, (3, h)) if peephole else None)


@pytest.fixture
def folder(build_dir, request):
    path = build_dir / "model_io" / request.node.name.replace("[", "_").replace("]", "")
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_round_trip_is_exact(folder):
    rng = np.random.default_rng(0)
    layers = [_layer(rng, 6, 4), _layer(rng, 4, 3, peephole=True)]
    extra = {"dense_kernel": rng.normal(size=(3, 6)), "dense_bias": np.arange(6.0),
             "scaler_min": np.array([1, 2, 3], dtype=np.int32)}
    path = save_layers(folder / "model.npz", layers, extra, DEFAULT_FORMATS)
    assert path == folder / "model.npz" and path.is_file()
    lf = load_layers(path)
    assert len(lf.layers) == 2 and lf.fmts == DEFAULT_FORMATS
    for a, b in zip(layers, lf.layers):
        for name, t in a.tensors().items():
            np.testing.assert_array_equal(t, b.tensors()[name])
    assert lf.layers[0].peephole is None and lf.layers[1].peephole is not None
    assert set(lf.extra) == set(extra)
    np.testing.assert_array_equal(lf.extra["dense_kernel"], extra["dense_kernel"])
    # the file is readable without pickle by plain numpy too
    with np.load(path, allow_pickle=False) as z:
        assert str(z["schema"]) == "lstm-chiplet-layers/1"


def test_path_is_used_as_given(folder):
    rng = np.random.default_rng(1)
    path = save_layers(folder / "weights.bin", [_layer(rng, 2, 2)])
    assert path.name == "weights.bin" and not (folder / "weights.bin.npz").exists()
    assert len(load_layers(path).layers) == 1


# ------------------------------------------------------------------ not an .npz
def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_files_that_are_not_npz(folder):
    with pytest.raises(ModelFileError, match=r"missing\.npz: no such file"):
        read_npz(folder / "missing.npz")
    for name, data in [("empty.npz", b""), ("text.npz", b"kernel,recurrent\n1,2\n"),
                       ("pickle.npz", pickle.dumps({"kernel": [1, 2]})),
                       ("truncated.npz", b"PK\x03\x04" + b"\0" * 40)]:
        path = _write(folder / name, data)
        with pytest.raises(ModelFileError, match=re.escape(str(path)) + ": not a valid .npz archive"):
            read_npz(path)
    np.save(folder / "single.npy", np.zeros(3))
    with pytest.raises(ModelFileError, match="single .npy array, not an .npz"):
        read_npz(folder / "single.npy")


def test_object_arrays_are_refused_not_unpickled(folder):
    path = folder / "objects.npz"
    np.savez(path, kernel=np.zeros((2, 8)), evil=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ModelFileError, match="array 'evil' is an object array that needs pickle"):
        read_npz(path)


def test_missing_arrays_are_listed(folder):
    path = folder / "partial.npz"
    np.savez(path, arr_0=np.zeros((6, 16)), arr_2=np.zeros(16))
    with pytest.raises(ModelFileError, match=r"missing array\(s\) 'arr_1', 'arr_3' \(the file holds: arr_0, arr_2\)"):
        read_npz(path, required=["arr_0", "arr_1", "arr_3"])
    rng = np.random.default_rng(2)
    save_layers(folder / "layers.npz", [_layer(rng, 3, 2), _layer(rng, 2, 2)])
    arrays = read_npz(folder / "layers.npz")
    del arrays["layer1_bias"]
    np.savez(folder / "nobias.npz", **arrays)
    with pytest.raises(ModelFileError, match=r"nobias\.npz: missing array\(s\) 'layer1_bias'"):
        load_layers(folder / "nobias.npz")
    del arrays["layer1_kernel"], arrays["layer1_recurrent"]
    arrays["layer2_kernel"], arrays["layer2_recurrent"], arrays["layer2_bias"] = (
        np.zeros((2, 8)), np.zeros((2, 8)), np.zeros(8))
    np.savez(folder / "gap.npz", **arrays)
    with pytest.raises(ModelFileError, match=r"arrays of layer\(s\) \[1\] are missing"):
        load_layers(folder / "gap.npz")


def test_foreign_npz_is_not_taken_for_a_layer_file(folder):
    path = folder / "keras.npz"
    np.savez(path, arr_0=np.zeros((6, 16)))
    with pytest.raises(ModelFileError, match="no 'schema' array.*not a layer file"):
        load_layers(path)
    assert set(read_npz(path)) == {"arr_0"}


# ------------------------------------------------------------------ shapes and values
def _keras_arrays(d=6, h=4, gates=4):
    return {"arr_0": np.zeros((d, gates * h)), "arr_1": np.zeros((h, gates * h)),
            "arr_2": np.zeros(gates * h)}


KERAS = {"kernel": "arr_0", "recurrent": "arr_1", "bias": "arr_2"}


def test_gate_count_and_shapes_are_named():
    with pytest.raises(ShapeError, match=r"f\.npz: array 'arr_1' \(recurrent kernel\): shape \(4, 12\) "
                                         r"holds 3 gate blocks of H = 4; an LSTM has 4 .* GRU"):
        lstm_weights_from_arrays("f.npz", _keras_arrays(gates=3), KERAS)
    bad = _keras_arrays()
    bad["arr_0"] = np.zeros((6, 12))
    with pytest.raises(ShapeError, match=r"array 'arr_0' \(kernel\): expected shape \(D, 4H\) = \(D, 16\)"):
        lstm_weights_from_arrays("f.npz", bad, KERAS)
    bad = _keras_arrays()
    bad["arr_2"] = np.zeros((1, 16))
    with pytest.raises(ShapeError, match=r"array 'arr_2' \(bias\): expected shape \(16,\), got \(1, 16\)"):
        lstm_weights_from_arrays("f.npz", bad, KERAS)
    bad = _keras_arrays()
    bad["arr_1"] = np.zeros(16)
    with pytest.raises(ShapeError, match=r"array 'arr_1' \(recurrent kernel\): expected shape \(H, 4H\)"):
        lstm_weights_from_arrays("f.npz", bad, KERAS)
    ok = lstm_weights_from_arrays("f.npz", _keras_arrays(), KERAS)
    assert (ok.input_size, ok.hidden_size) == (6, 4)


def test_layer_chain_mismatch_is_named(folder):
    rng = np.random.default_rng(3)
    save_layers(folder / "chain.npz", [_layer(rng, 3, 4), _layer(rng, 5, 2)])
    with pytest.raises(ShapeError, match=r"'layer1_kernel' takes 5 inputs but layer 0 gives 4"):
        load_layers(folder / "chain.npz")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_named(folder, bad):
    arrays = _keras_arrays()
    arrays["arr_1"][2, 5] = bad
    with pytest.raises(ModelFileError, match=r"array 'arr_1' has 1 value\(s\) that are NaN or infinite"):
        lstm_weights_from_arrays("w.npz", arrays, KERAS)
    rng = np.random.default_rng(4)
    extra = {"dense_bias": np.array([0.0, bad])}
    save_layers(folder / "extra.npz", [_layer(rng, 2, 2)], extra)
    with pytest.raises(ModelFileError, match=r"extra\.npz: array 'dense_bias' has 1 value"):
        load_layers(folder / "extra.npz")


def test_non_numeric_arrays_are_named():
    arrays = _keras_arrays()
    arrays["arr_2"] = np.array(["a"] * 16)
    with pytest.raises(ModelFileError, match=r"array 'arr_2' has dtype <U1, expected numbers"):
        lstm_weights_from_arrays("w.npz", arrays, KERAS)


def test_save_refuses_reserved_names_and_objects(folder):
    rng = np.random.default_rng(5)
    with pytest.raises(ModelFileError, match="'layer0_bias' is reserved"):
        save_layers(folder / "x.npz", [_layer(rng, 2, 2)], {"layer0_bias": np.zeros(8)})
    with pytest.raises(ModelFileError, match="'notes' is an object array"):
        save_layers(folder / "x.npz", [_layer(rng, 2, 2)], {"notes": np.array([None, 1], dtype=object)})
    assert not (folder / "x.npz").exists()


# ------------------------------------------------------------------ fitting the format
def test_weights_that_do_not_fit_are_named_with_excess(folder):
    rng = np.random.default_rng(6)
    second = _layer(rng, 3, 2)
    kernel = second.kernel.copy()
    kernel[1, 3] = 9.25
    layers = [_layer(rng, 4, 3), LSTMWeights(kernel, second.recurrent, second.bias)]
    path = save_layers(folder / "big.npz", layers)
    excess = 9.25 - DEFAULT_FORMATS.weight.max
    with pytest.raises(FormatError) as err:
        load_fixed_layers(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: array 'layer1_kernel':")
    found = re.search(r"exceeds it by (\d+\.\d+)", msg)
    assert found and float(found.group(1)) == pytest.approx(excess, rel=1e-5)


def test_auto_format_chooses_and_says_so(folder):
    rng = np.random.default_rng(7)
    layers = [_layer(rng, 3, 2, scale=12.0), _layer(rng, 2, 2)]
    path = save_layers(folder / "auto.npz", layers)
    fixed, fmts, notes, _ = load_fixed_layers(path, auto_format=True)
    assert fmts.weight == QFormat(16, 11, name="weight")          # peak in [8, 16): Q5.11
    assert len(notes) == 1 and "chosen automatically" in notes[0] and "Q5.11" in notes[0]
    assert str(path) in notes[0]
    # the quantized weights are the float ones to within half an LSB of the chosen format
    for w, fw in zip(layers, fixed):
        assert isinstance(fw, FixedLSTMWeights) and fw.fmts == fmts
        err = np.max(np.abs(fw.to_float().kernel - w.kernel))
        assert err <= fmts.weight.lsb / 2
    # small weights get more fraction bits ...
    _, fine, notes, _ = load_fixed_layers(save_layers(folder / "small.npz", [_layer(rng, 2, 2)]),
                                          auto_format=True)
    assert fine.weight.frac_bits == 15 and "Q1.15" in notes[0]
    # ... and a peak in [4, 8) keeps the default Q4.12, which the note says
    w = _layer(rng, 2, 2)
    w.kernel[0, 0] = 5.0
    _, same, notes, _ = load_fixed_layers(save_layers(folder / "q412.npz", [w]), auto_format=True)
    assert same == DEFAULT_FORMATS and "already the best fit" in notes[0]


def test_auto_format_that_breaks_the_formats_is_explained():
    rng = np.random.default_rng(8)
    narrow = LSTMFormats(QFormat(16, 2), QFormat(16, 12), QFormat(16, 11), QFormat(16, 14))
    with pytest.raises(FormatError, match=r"weights peak at .* breaks the formats: .*preact\.frac_bits"):
        quantize_layers([_layer(rng, 2, 2, scale=100.0)], narrow, auto_format=True, source="m.npz")


def test_saved_formats_are_used_by_default(folder):
    rng = np.random.default_rng(9)
    fmts = DEFAULT_FORMATS.with_rounding("floor")
    path = save_layers(folder / "floor.npz", [_layer(rng, 2, 2)], fmts=fmts)
    fixed, got, notes, _ = load_fixed_layers(path)
    assert got == fmts and fixed[0].fmts == fmts and notes == []
    arrays = read_npz(path)
    arrays["formats"] = np.array('{"vec": 1}')
    np.savez(folder / "badfmt.npz", **arrays)
    with pytest.raises(ModelFileError, match="array 'formats' is not a valid formats description"):
        load_layers(folder / "badfmt.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # loading warns about nothing
        load_layers(path)
