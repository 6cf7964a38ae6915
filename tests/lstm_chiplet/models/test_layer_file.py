"""Layer files: round trip, and every kind of bad layer file refused with a message that
names the file, the array and the problem (never silently wrapped)."""

import re
import warnings

import numpy as np
import pytest

from golden.formats import DEFAULT_FORMATS, FormatError, QFormat, LSTMFormats
from golden.lstm_fixed import FixedLSTMWeights
from golden.lstm_float import LSTMWeights, ShapeError
from lstm_chiplet.models.layer_file import load_fixed_layers, load_layers, quantize_layers, save_layers
from lstm_chiplet.models.npz import ModelFileError, read_npz


def _layer(rng, d, h, scale=1.0, peephole=False):
    return LSTMWeights(rng.uniform(-scale, scale, (d, 4 * h)), rng.uniform(-scale, scale, (h, 4 * h)),
                       rng.uniform(-scale, scale, 4 * h),
                       rng.uniform(-scale, scale, (3, h)) if peephole else None)


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


# ------------------------------------------------------------------ incomplete files
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
def test_layer_chain_mismatch_is_named(folder):
    rng = np.random.default_rng(3)
    save_layers(folder / "chain.npz", [_layer(rng, 3, 4), _layer(rng, 5, 2)])
    with pytest.raises(ShapeError, match=r"'layer1_kernel' takes 5 inputs but layer 0 gives 4"):
        load_layers(folder / "chain.npz")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_extras_are_named(folder, bad):
    rng = np.random.default_rng(4)
    extra = {"dense_bias": np.array([0.0, bad])}
    save_layers(folder / "extra.npz", [_layer(rng, 2, 2)], extra)
    with pytest.raises(ModelFileError, match=r"extra\.npz: array 'dense_bias' has 1 value"):
        load_layers(folder / "extra.npz")


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
