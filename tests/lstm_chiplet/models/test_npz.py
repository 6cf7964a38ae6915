"""The .npz primitives: files that are not .npz archives, object arrays, and layer
arrays with the wrong shape, gate count or values refused with a message that names
the file, the array and the problem (never unpickled)."""

import pickle
import re

import numpy as np
import pytest

from golden.lstm_float import ShapeError
from lstm_chiplet.models.npz import ModelFileError, lstm_weights_from_arrays, read_npz


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


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_named(bad):
    arrays = _keras_arrays()
    arrays["arr_1"][2, 5] = bad
    with pytest.raises(ModelFileError, match=r"array 'arr_1' has 1 value\(s\) that are NaN or infinite"):
        lstm_weights_from_arrays("w.npz", arrays, KERAS)


def test_non_numeric_arrays_are_named():
    arrays = _keras_arrays()
    arrays["arr_2"] = np.array(["a"] * 16)
    with pytest.raises(ModelFileError, match=r"array 'arr_2' has dtype <U1, expected numbers"):
        lstm_weights_from_arrays("w.npz", arrays, KERAS)
