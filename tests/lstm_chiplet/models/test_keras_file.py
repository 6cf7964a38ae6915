"""Keras model files as saved by Keras (.keras, legacy .h5): the float import equals Keras's
own predictions on the committed fixtures, and every refused layer or option is named.

The fixtures were written by real Keras (tools/make_model_fixtures.py); the refusal
cases edit a copy of the fixture's configuration (the JSON Keras wrote), never the
weights, so each test changes exactly one thing.
"""

import json
import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from lstm_chiplet.models.imported import RefusedModel
from lstm_chiplet.models.keras_file import load_keras_file
from lstm_chiplet.models.npz import ModelFileError
from lstm_chiplet.models.store import load_any_model

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "models"
#: Keras computes in float32 (the fixture's frameworks agree with each other to ~2.4e-7);
#: the import runs float64 on the same float32 weights.  Measured: 1.3e-7.
FRAMEWORK_TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURES / "ae_reference.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize("name, key", [("ae.keras", "keras"), ("ae.h5", "keras_h5"),
                                       ("ae_nested.keras", "keras_nested"),
                                       ("ae_nested.h5", "keras_nested"),
                                       ("ae_functional.keras", "keras_functional")],
                         ids=["keras", "h5", "nested-keras", "nested-h5", "functional"])
def test_import_equals_keras_predictions(reference, name, key):
    m = load_any_model(FIXTURES / name)
    assert m.kind == "keras"
    assert m.cfg.features == 6 and m.cfg.timesteps == 24
    assert m.cfg.encoder_sizes == (8, 4) and m.cfg.decoder_sizes == (4, 8)
    y = m.model.reconstruct_float(reference["windows"].astype(np.float64))
    err = np.max(np.abs(y - reference[key]))
    assert err < FRAMEWORK_TOLERANCE, f"{name}: max |float import - Keras| = {err:.3g}"


def test_keras_and_h5_hold_the_same_numbers():
    a = load_keras_file(FIXTURES / "ae.keras").model.get_weights()
    b = load_keras_file(FIXTURES / "ae_nested.h5").model.get_weights()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_training_only_dropout_is_accepted_with_a_note():
    m = load_keras_file(FIXTURES / "ae_nested.keras")
    notes = m.provenance["import_notes"]
    assert any("'enc1': dropout=0.2" in n for n in notes)
    assert any("'enc2': recurrent_dropout=0.1" in n for n in notes)


def test_names_say_where_each_tensor_is():
    m = load_keras_file(FIXTURES / "ae.keras")
    assert m.names["encoder LSTM 1 kernel"] == "/layers/lstm/cell/vars/0"
    assert m.names["decoder LSTM 2 recurrent kernel"] == "/layers/lstm_3/cell/vars/1"
    assert m.names["dense bias"] == "/layers/time_distributed/layer/vars/1"


# ------------------------------------------------------------------ editing copies
def _edit_keras(tmp_path, edit, name="edited.keras") -> Path:
    """A copy of ae.keras whose config.json is ``edit(config)`` (weights untouched)."""
    src = FIXTURES / "ae.keras"
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    out = tmp_path / name
    with zipfile.ZipFile(out, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    return out


def _edit_h5(tmp_path, edit) -> Path:
    out = tmp_path / "edited.h5"
    shutil.copy(FIXTURES / "ae.h5", out)
    with h5py.File(out, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        edit(config)
        f.attrs["model_config"] = json.dumps(config)
    return out


def _layer(config, index):
    """The index-th layer after the InputLayer of the Sequential fixture."""
    return config["config"]["layers"][index + 1]


def _set(index, **options):
    def edit(config):
        _layer(config, index)["config"].update(options)
    return edit


def _rename_class(index, cls):
    def edit(config):
        _layer(config, index)["class_name"] = cls
    return edit


def _insert(index, entry):
    def edit(config):
        config["config"]["layers"].insert(index + 1, entry)
    return edit


def _bidirectional(config):
    inner = _layer(config, 0)
    config["config"]["layers"][1] = {"class_name": "Bidirectional",
                                     "config": {"name": "bidi", "layer": inner}}


REFUSALS = [
    (_set(0, activation="relu"), r"LSTM layer 'enc1': activation='relu' \(the engines run activation='tanh'\)"),
    (_set(1, recurrent_activation="hard_sigmoid"), r"LSTM layer 'enc2': recurrent_activation='hard_sigmoid'"),
    (_set(0, stateful=True), r"LSTM layer 'enc1': stateful=True"),
    (_set(0, go_backwards=True), r"LSTM layer 'enc1': go_backwards=True"),
    (_set(3, unroll=True), r"LSTM layer 'dec1': unroll=True"),
    (_set(1, return_state=True), r"LSTM layer 'enc2': return_state=True"),
    (_set(0, dtype="mixed_float16"), r"LSTM layer 'enc1': dtype='mixed_float16'"),
    (_set(0, peculiar=3), r"LSTM layer 'enc1': option peculiar=3 is unknown"),
    (_rename_class(0, "GRU"), r"GRU layer 'enc1': a GRU layer"),
    (_rename_class(3, "SimpleRNN"), r"SimpleRNN layer 'dec1': a SimpleRNN layer"),
    (_bidirectional, r"Bidirectional layer 'bidi': a Bidirectional wrapper"),
    (_insert(0, {"class_name": "Masking", "config": {"name": "mask", "mask_value": 0.0}}),
     r"Masking layer 'mask': a Masking layer"),
    (_insert(0, {"class_name": "BatchNormalization", "config": {"name": "bn"}}),
     r"BatchNormalization layer 'bn': unknown to this reader"),
    (lambda c: _layer(c, 5)["config"]["layer"]["config"].update(activation="sigmoid"),
     r"Dense layer 'recon': activation='sigmoid' \(the engines run activation='linear'\)"),
    (lambda c: _layer(c, 5)["config"].update(layer={"class_name": "Conv1D", "config": {}}),
     r"TimeDistributed layer 'recon' wraps a 'Conv1D'"),
    (_set(1, return_sequences=True), r"LSTM layer 'enc2': return_sequences=True \(encoder layer 2 of 2"),
    (_set(4, return_sequences=False), r"LSTM layer 'dec2': return_sequences=False"),
]
REFUSAL_IDS = ["activation", "recurrent_activation", "stateful", "go_backwards", "unroll",
               "return_state", "dtype", "unknown-option", "gru", "simplernn", "bidirectional",
               "masking", "unknown-layer", "dense-activation", "time-distributed-other",
               "encoder-sequences", "decoder-sequences"]


@pytest.mark.parametrize("edit, message", REFUSALS, ids=REFUSAL_IDS)
def test_refusals_name_layer_option_and_value(tmp_path, edit, message):
    path = _edit_keras(tmp_path, edit)
    with pytest.raises(RefusedModel, match=r"edited\.keras: refused .*\n  - " + message):
        load_any_model(path)


@pytest.mark.parametrize("edit, message", REFUSALS[:3], ids=REFUSAL_IDS[:3])
def test_legacy_h5_refusals_too(tmp_path, edit, message):
    with pytest.raises(RefusedModel, match=message):
        load_any_model(_edit_h5(tmp_path, edit))


def test_every_refusal_is_listed_at_once(tmp_path):
    def edit(config):
        _set(0, activation="relu", stateful=True)(config)
        _rename_class(3, "GRU")(config)
    with pytest.raises(RefusedModel) as info:
        load_any_model(_edit_keras(tmp_path, edit))
    assert len(info.value.items) == 3
    assert "layers: LSTM(enc1), LSTM(enc2), RepeatVector(repeat)" in info.value.read[0]


def test_bias_free_layers_import_with_zero_bias(tmp_path):
    """use_bias=False: Keras saves no bias array; the import uses zeros."""
    src = FIXTURES / "ae.keras"
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    config = json.loads(members["config.json"])
    _layer(config, 0)["config"]["use_bias"] = False
    members["config.json"] = json.dumps(config).encode()
    weights = tmp_path / "w.h5"
    weights.write_bytes(members["model.weights.h5"])
    with h5py.File(weights, "r+") as f:
        del f["layers/lstm/cell/vars/2"]
    members["model.weights.h5"] = weights.read_bytes()
    out = tmp_path / "nobias.keras"
    with zipfile.ZipFile(out, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    m = load_any_model(out)
    full = load_any_model(src)
    assert np.array_equal(m.model.layers[0].bias, np.zeros(32))
    np.testing.assert_array_equal(m.model.layers[0].kernel, full.model.layers[0].kernel)
    assert m.names["encoder LSTM 1 bias"] == "(none)"


def test_repeat_count_must_match_the_input_steps(tmp_path):
    path = _edit_keras(tmp_path, _set(2, n=12))
    with pytest.raises(ModelFileError, match=r"RepeatVector 'repeat' has n=12 but the input has 24 steps"):
        load_any_model(path)


def test_a_free_time_axis_takes_t_from_the_repeat(tmp_path):
    def edit(config):
        config["config"]["layers"][0]["config"]["batch_shape"] = [None, None, 6]
        for e in config["config"]["layers"]:
            e.pop("build_config", None)
    assert load_any_model(_edit_keras(tmp_path, edit)).cfg.timesteps == 24


def test_two_repeats_or_none_are_not_an_autoencoder(tmp_path):
    path = _edit_keras(tmp_path, lambda c: c["config"]["layers"].pop(3))
    with pytest.raises(ModelFileError, match=r"0 RepeatVector layers"):
        load_any_model(path)


def _keras2_functional(config):
    """The Sequential config rewritten the way Keras 2 wrote a Functional model:
    ``batch_input_shape``, list-form ``inbound_nodes``, names beside the configs."""
    layers = config["config"]["layers"]
    out, prev = [], None
    for e in layers:
        body = dict(e["config"])
        if e["class_name"] == "InputLayer":
            body["batch_input_shape"] = body.pop("batch_shape")
            body["name"] = "input_1"
        name = body["name"]
        out.append({"class_name": e["class_name"], "name": name, "config": body,
                    "inbound_nodes": [] if prev is None else [[[prev, 0, 0, {}]]]})
        prev = name
    config["class_name"] = "Model"
    config["config"] = {"name": "ae", "layers": out, "input_layers": [["input_1", 0, 0]],
                        "output_layers": [[prev, 0, 0]]}


def test_keras2_functional_config_is_read(tmp_path, reference):
    m = load_any_model(_edit_h5(tmp_path, _keras2_functional))
    y = m.model.reconstruct_float(reference["windows"].astype(np.float64))
    assert np.max(np.abs(y - reference["keras_h5"])) < FRAMEWORK_TOLERANCE


def test_a_functional_model_that_is_not_a_chain_is_refused(tmp_path):
    def edit(config):
        _keras2_functional(config)
        config["config"]["layers"][3]["inbound_nodes"] = [[["enc1", 0, 0, {}]]]    # skips enc2
    with pytest.raises(ModelFileError, match=r"layer 'repeat' reads \['enc1'\], not the layer before "
                                             r"it \('enc2'\)"):
        load_any_model(_edit_h5(tmp_path, edit))


def test_weights_only_h5_says_what_is_missing(tmp_path):
    out = tmp_path / "weights.h5"
    shutil.copy(FIXTURES / "ae.h5", out)
    with h5py.File(out, "r+") as f:
        del f.attrs["model_config"]
    with pytest.raises(ModelFileError, match=r"weights\.h5: has no 'model_config' attribute"):
        load_any_model(out)


def test_a_zip_without_the_weights_is_named(tmp_path):
    out = tmp_path / "broken.keras"
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("config.json", "{}")
    with pytest.raises(ModelFileError, match=r"broken\.keras: the \.keras zip has no model\.weights\.h5"):
        load_any_model(out)
