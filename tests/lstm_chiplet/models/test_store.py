"""Model files: the project format round trip, automatic detection of project, Keras and
PyTorch weights (same function to 1e-12), the Keras reader on its own, the shipped
default model, and bad files."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from golden.autoencoder import AutoencoderConfig, realistic_weights, synthetic_windows
from golden.formats import DEFAULT_FORMATS, FormatError, LSTMFormats, QFormat
from golden.lstm_float import ShapeError
from lstm_chiplet.models.keras import load_keras_npz, save_keras_npz
from lstm_chiplet.models.layer_file import save_layers
from lstm_chiplet.models.npz import ModelFileError
from lstm_chiplet.models.project import SCHEMA, load_model, model_arrays, save_model
from lstm_chiplet.models.pytorch import pytorch_state_dict, save_pytorch_npz
from lstm_chiplet.models.store import load_any_model
from lstm_chiplet.workload.noaa import LCD_FEATURES, MinMaxScaler

REPO = Path(__file__).resolve().parents[3]
DEFAULT_MODEL = REPO / "lstm_chiplet" / "data" / "default_model.npz"

SMALL = AutoencoderConfig(3, (5, 4), (4, 5), 6)
FEATURES3 = ("a", "b", "c")


@pytest.fixture(scope="module")
def model():
    return realistic_weights(SMALL, seed=4)


@pytest.fixture(scope="module")
def windows():
    return synthetic_windows(5, SMALL, seed=9)


def _scaler(n=3):
    return MinMaxScaler(np.arange(n) - 1.5, np.arange(n) * 2.0 + 1.0, FEATURES3[:n])


# ------------------------------------------------------------------ project format
def test_project_round_trip_float64_is_exact(folder, model, windows):
    prov = {"note": "test", "numbers": [1, 2]}
    path = save_model(folder / "m.npz", model, _scaler(), DEFAULT_FORMATS, prov, "lcd")
    m = load_model(path)
    assert m.kind == "project" and m.cfg == SMALL and m.fixed().fmts == DEFAULT_FORMATS
    assert m.data_format == "lcd" and m.scaler == _scaler()
    assert m.provenance == dict(prov, storage="float64")
    for a, b in zip(model.get_weights(), m.model.get_weights()):
        np.testing.assert_array_equal(a, b)
        assert b.dtype == np.float64
    # plain numpy reads it without pickle; formats is JSON in a 0-d unicode array
    with np.load(path, allow_pickle=False) as z:
        assert str(z["schema"]) == SCHEMA
        stored = json.loads(str(z["formats"]))
        assert z["formats"].shape == () and len(stored["layers"]) == SMALL.num_layers
        assert all(f == DEFAULT_FORMATS.to_dict() for f in stored["layers"])
        assert stored["dense"] == {"weight": DEFAULT_FORMATS.weight.to_dict(),
                                   "out": DEFAULT_FORMATS.vec.to_dict()}
        assert z["layer3_recurrent"].shape == (5, 20)


def test_project_float32_storage_loads_as_float64_of_the_stored_values(folder, model):
    path = save_model(folder / "m32.npz", model, storage="float32")
    m = load_any_model(path)
    with np.load(path, allow_pickle=False) as z:
        assert z["layer0_kernel"].dtype == np.float32
    for a, b in zip(model.get_weights(), m.model.get_weights()):
        assert b.dtype == np.float64
        np.testing.assert_array_equal(b, a.astype(np.float32).astype(np.float64))
    # the fixed-point model is quantized from exactly the stored values
    fx = m.fixed()
    np.testing.assert_array_equal(fx.dense_kernel, DEFAULT_FORMATS.weight.quantize(
        model.dense_kernel.astype(np.float32).astype(np.float64)))
    assert m.scaler is None and m.provenance["storage"] == "float32"


def test_project_keeps_other_formats(folder, model):
    fmts = LSTMFormats(DEFAULT_FORMATS.vec, QFormat(16, 13, name="weight"), DEFAULT_FORMATS.preact,
                       DEFAULT_FORMATS.act)
    m = load_any_model(save_model(folder / "f.npz", model, fmts=fmts))
    assert m.fixed().fmts == fmts and m.model_formats.global_formats == fmts


# ------------------------------------------------------------------ detection
def _keras_file(path, model):
    np.savez(path, *model.get_weights())
    return path


def _torch_arrays(model, split_bias_seed=0, linear_first=False):
    """A PyTorch-style state dict built by hand: weight_ih = kernel^T, bias split in two."""
    rng = np.random.default_rng(split_bias_seed)
    out = {}
    if linear_first:
        out["head.weight"] = model.dense_kernel.T
        out["head.bias"] = model.dense_bias
    names = ["enc_a", "enc_b", "dec_a", "dec_b"]
    for name, w in zip(names, model.layers):
        part = rng.normal(size=w.bias.shape)
        out[f"{name}.weight_ih_l0"] = w.kernel.T
        out[f"{name}.weight_hh_l0"] = w.recurrent.T
        out[f"{name}.bias_ih_l0"] = w.bias - part
        out[f"{name}.bias_hh_l0"] = part
    if not linear_first:
        out["head.weight"] = model.dense_kernel.T
        out["head.bias"] = model.dense_bias
    return out


@pytest.mark.parametrize("layout", ["project", "keras", "keras-exported", "pytorch",
                                    "pytorch-linear-first", "pytorch-exported"])
def test_load_any_model_returns_the_same_function(folder, model, windows, layout):
    path = folder / f"{layout}.npz"
    if layout == "project":
        save_model(path, model)
    elif layout == "keras":
        _keras_file(path, model)
    elif layout == "keras-exported":
        save_keras_npz(path, model)
    elif layout == "pytorch-exported":
        save_pytorch_npz(path, model)
    else:
        np.savez(path, **_torch_arrays(model, linear_first=layout.endswith("first")))
    m = load_any_model(path, timesteps=SMALL.timesteps)     # T is not in Keras/PyTorch weights
    assert m.kind == layout.split("-")[0]
    assert m.cfg.hidden_sizes == SMALL.hidden_sizes and m.cfg.encoder_sizes == SMALL.encoder_sizes
    np.testing.assert_allclose(m.model.reconstruct_float(windows), model.reconstruct_float(windows),
                               rtol=0, atol=1e-12)
    assert m.names["dense kernel"] in ("dense_kernel", "arr_12", "head.weight", "output.weight")


def test_pytorch_multi_layer_module(folder, windows):
    # the decoder as one nn.LSTM(num_layers=2): keys decoder.*_l0 then decoder.*_l1
    cfg = AutoencoderConfig(3, (5, 4), (4, 4), 6)
    ae = realistic_weights(cfg, seed=6)
    sd = {}
    for n, w in enumerate(ae.layers[:2]):
        sd.update({f"encoder{n}.weight_ih_l0": w.kernel.T, f"encoder{n}.weight_hh_l0": w.recurrent.T,
                   f"encoder{n}.bias_ih_l0": w.bias})
    for k, w in enumerate(ae.layers[2:]):
        sd.update({f"decoder.weight_ih_l{k}": w.kernel.T, f"decoder.weight_hh_l{k}": w.recurrent.T,
                   f"decoder.bias_ih_l{k}": 0.5 * w.bias, f"decoder.bias_hh_l{k}": 0.5 * w.bias})
    sd.update({"out.weight": ae.dense_kernel.T, "out.bias": ae.dense_bias})
    np.savez(folder / "sd.npz", **sd)
    m = load_any_model(folder / "sd.npz", timesteps=6)
    np.testing.assert_allclose(m.model.reconstruct_float(synthetic_windows(4, cfg)),
                               ae.reconstruct_float(synthetic_windows(4, cfg)), rtol=0, atol=1e-12)
    assert m.names["decoder LSTM 2 kernel"] == "decoder.weight_ih_l1"


def test_exported_state_dict_uses_pytorch_layout(model):
    sd = pytorch_state_dict(model)
    assert list(sd)[:4] == ["encoder1.weight_ih_l0", "encoder1.weight_hh_l0", "encoder1.bias_ih_l0",
                            "encoder1.bias_hh_l0"]
    assert list(sd)[-2:] == ["output.weight", "output.bias"]
    assert sd["encoder1.weight_ih_l0"].shape == (20, 3)          # (4H, D)
    assert sd["decoder2.weight_hh_l0"].shape == (20, 5)          # (4H, H)
    assert sd["output.weight"].shape == (3, 5)                   # (F, H)


def test_keras_npz_round_trip_infers_sizes(folder):
    cfg = AutoencoderConfig(6, (32, 32), (32, 32), 24)
    ae = realistic_weights(cfg, 5)
    path = folder / "keras.npz"
    np.savez(path, *ae.get_weights())            # what a Keras user writes
    back = load_keras_npz(path)
    assert back.cfg == cfg
    x = synthetic_windows(3, cfg, 1)
    assert np.array_equal(back.reconstruct_float(x), ae.reconstruct_float(x))


def test_encoder_split_and_timesteps_can_be_given(folder, model):
    path = _keras_file(folder / "k.npz", model)
    m = load_any_model(path, encoder_layers=1, timesteps=10)
    assert m.cfg.encoder_sizes == (5,) and m.cfg.decoder_sizes == (4, 4, 5) and m.cfg.timesteps == 10


def test_pt_file_without_torch_says_what_to_do(folder, model):
    try:
        import torch  # noqa: F401
        pytest.skip("torch is installed: the .pt path is exercised by test_pt_file_with_torch")
    except ImportError:
        pass
    path = folder / "model.pt"
    path.write_bytes(b"PK\x03\x04 not really a checkpoint")
    with pytest.raises(ModelFileError, match=r"model\.pt.*needs torch.*Install torch.*\.npz"):
        load_any_model(path)
    # a torch.save zip under another name is recognised by its data.pkl member; one whose
    # pickle calls anything but the tensor rebuilders needs torch (it is never unpickled)
    import zipfile
    other = folder / "weights.bin"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00true\x85R.")
    with pytest.raises(ModelFileError, match=r"weights\.bin: is a PyTorch checkpoint.*needs torch"):
        load_any_model(other)


def test_pt_file_with_torch(folder, model, windows):
    torch = pytest.importorskip("torch")
    sd = {k: torch.tensor(v) for k, v in _torch_arrays(model).items()}
    torch.save({"state_dict": sd}, folder / "model.pth")
    m = load_any_model(folder / "model.pth", timesteps=6)
    np.testing.assert_allclose(m.model.reconstruct_float(windows), model.reconstruct_float(windows),
                               rtol=0, atol=1e-12)


# ------------------------------------------------------------------ feature checks
def test_feature_count_mismatch_names_file_and_arrays(folder, model):
    path = _keras_file(folder / "k.npz", model)
    with pytest.raises(ShapeError, match=r"k\.npz: the model takes 3 features .*'arr_0'.*'arr_12'.* has 6"):
        load_any_model(path, features=LCD_FEATURES)
    load_any_model(path, features=FEATURES3)                     # matching count: fine


def test_feature_names_must_match_the_scaler(folder, model):
    path = save_model(folder / "p.npz", model, _scaler())
    with pytest.raises(ShapeError, match=r"p\.npz: the model's scaler was fitted on features a, b, c"):
        load_any_model(path, features=("a", "c", "b"))


# ------------------------------------------------------------------ bad files
def test_not_an_npz(folder):
    p = folder / "notes.txt"
    p.write_text("hello, I am not a model\n")
    with pytest.raises(ModelFileError, match=r"notes\.txt: not a valid \.npz"):
        load_any_model(p)
    with pytest.raises(ModelFileError, match=r"missing\.npz: no such file"):
        load_any_model(folder / "missing.npz")


def test_object_arrays_are_refused_not_unpickled(folder):
    p = folder / "obj.npz"
    np.savez(p, arr_0=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ModelFileError, match=r"obj\.npz: array 'arr_0' is an object array"):
        load_any_model(p)
    q = folder / "pickled.npz"
    q.write_bytes(pickle.dumps({"arr_0": 1}))
    with pytest.raises(ModelFileError, match="pickled.npz"):
        load_any_model(q)


def test_unknown_layout_lists_the_arrays(folder):
    p = folder / "u.npz"
    np.savez(p, foo=np.zeros(3), bar=np.ones(2))
    with pytest.raises(ModelFileError, match=r"u\.npz: unknown model layout \(arrays: foo, bar\)"):
        load_any_model(p)


def test_layer_file_is_not_a_model(folder, model):
    p = save_layers(folder / "layers.npz", list(model.layers))
    with pytest.raises(ModelFileError, match="layer file"):
        load_any_model(p)


def test_keras_wrong_shape_names_the_array(folder, model):
    arrays = model.get_weights()
    arrays[4] = arrays[4][:, :-1]                                # recurrent kernel of layer 2
    p = folder / "bad_keras.npz"
    np.savez(p, *arrays)
    with pytest.raises(ShapeError, match=r"bad_keras\.npz: arr_4 \(recurrent kernel of LSTM layer 2\)"):
        load_any_model(p)
    np.savez(p, *model.get_weights()[:13])                       # dense bias missing
    with pytest.raises(ShapeError, match=r"bad_keras\.npz: .*3L \+ 2 arrays"):
        load_any_model(p)
    arrays = model.get_weights()
    np.savez(p, **{f"arr_{k}": a for k, a in enumerate(arrays) if k != 5})
    with pytest.raises(ModelFileError, match="arr_13 without gaps; arr_5 is missing"):
        load_any_model(p)


@pytest.mark.parametrize("mutation, message", [
    (lambda sd: sd.update({"enc_b.weight_ih_l0": sd["enc_b.weight_ih_l0"][:, :-1]}),
     r"'enc_b\.weight_ih_l0' takes 4 inputs but the layer before it \('enc_a\.weight_hh_l0'\) gives 5"),
    (lambda sd: sd.update({"dec_a.weight_hh_l0": sd["dec_a.weight_hh_l0"][:-1]}),
     r"'dec_a\.weight_hh_l0': expected shape \(4H, H\)"),
    (lambda sd: sd.update({"head.weight": sd["head.weight"][:, :-1]}),
     r"'head\.weight' \(output nn\.Linear weight\): expected shape \(F, H\) = \(3, 5\)"),
    (lambda sd: sd.update({"head.bias": np.zeros(4)}), r"'head\.bias'.*expected shape \(3,\)"),
    (lambda sd: sd.update({"enc_a.bias_hh_l0": np.zeros(7)}), r"'enc_a\.bias_hh_l0': expected shape \(20,\)"),
    (lambda sd: sd.pop("dec_b.weight_hh_l0"), r"has no weight_hh_l0"),
    (lambda sd: sd.update({"enc_a.weight_ih_l0_reverse": sd["enc_a.weight_ih_l0"]}), "bidirectional"),
    (lambda sd: sd.update({"norm.running_mean": np.zeros(3)}), r"'norm\.running_mean' are neither"),
    (lambda sd: sd.update({"extra.weight": np.zeros((3, 5))}), "exactly one nn.Linear"),
    (lambda sd: sd.update({"enc_a.weight_ih_l0": np.full((20, 3), np.nan)}), "NaN"),
], ids=["chain", "hh-shape", "linear-shape", "linear-bias", "bias-shape", "missing-hh", "reverse",
        "unknown-key", "two-linears", "nan"])
def test_pytorch_bad_state_dicts_name_file_and_array(folder, model, mutation, message):
    sd = _torch_arrays(model)
    mutation(sd)
    p = folder / "sd.npz"
    np.savez(p, **sd)
    with pytest.raises(ValueError, match=r"sd\.npz: .*" + message):
        load_any_model(p)


def test_project_file_problems_name_the_array(folder, model):
    good = model_arrays(model, _scaler())
    cases = {
        "dense_bias": (lambda a: a.pop("dense_bias"), r"array 'dense_bias' not found"),
        "config": (lambda a: a.update(config=np.array("{not json")), r"array 'config' is not valid JSON"),
        "formats": (lambda a: a.update(formats=np.array('{"vec": 1}')), r"array 'formats' is not a valid"),
        "kernel": (lambda a: a.update(layer1_kernel=np.zeros((4, 16))), r"'layer1_kernel'"),
        "extra": (lambda a: a.update(layer4_kernel=np.zeros((5, 4))), r"layer4_kernel do not belong"),
        "scaler": (lambda a: a.update(scaler_features=np.array(["a", "b"])), r"scaler"),
        "schema": (lambda a: a.update(schema=np.array("lstm-chiplet-autoencoder/99")), r"schema"),
        "data_format": (lambda a: a.update(data_format=np.array("csv")), r"'data_format'"),
    }
    for name, (mutate, message) in cases.items():
        arrays = dict(good)
        mutate(arrays)
        p = folder / f"{name}.npz"
        np.savez(p, **arrays)
        with pytest.raises(ValueError, match=rf"{name}\.npz: .*{message}"):
            load_any_model(p)


def test_weights_outside_the_format_are_named_on_quantization(folder, model):
    arrays = model.get_weights()
    arrays[6] = arrays[6] * 0 + 9.5                              # decoder 1 kernel beyond Q4.12
    from golden.autoencoder import Autoencoder
    big = Autoencoder.from_weights(arrays, SMALL)
    m = load_any_model(save_model(folder / "big.npz", big))
    with pytest.raises(FormatError, match=r"big\.npz: .*decoder LSTM 1.*kernel.*exceeds it by 1\.5"):
        m.fixed()


# ------------------------------------------------------------------ the shipped model
def test_default_model_loads_and_fits_the_formats():
    assert DEFAULT_MODEL.is_file(), f"{DEFAULT_MODEL}: the shipped model is missing (it is tracked in git)"
    assert DEFAULT_MODEL.stat().st_size < 600 * 1024
    m = load_any_model(DEFAULT_MODEL, features=LCD_FEATURES)
    assert m.kind == "project" and m.data_format == "lcd"
    assert m.cfg == AutoencoderConfig() and m.model.parameter_count == 64134
    assert m.scaler.features == LCD_FEATURES
    assert np.all(m.scaler.data_max > m.scaler.data_min)
    # per-layer formats (lstm-chiplet quantize's), 16-bit words: the UP5K datapath's
    fm = m.model_formats
    assert len(fm.layers) == 4 and len({f.preact for f in fm.layers}) > 1
    assert all(set(fm.word_bits(r)) == {16} for r in ("vec", "weight", "preact", "act"))
    fx = m.fixed()
    assert fx.formats == fm
    for k, (w, name) in enumerate(zip(m.model.get_weights(), m.cfg.weight_names())):
        fmt = fm.dense.weight if name.startswith("dense") else fm.layers[k // 3].weight
        fmt.check_fits(w, name)
    with np.load(DEFAULT_MODEL, allow_pickle=False) as z:
        stored = z["layer0_kernel"]
        assert stored.dtype == np.float32
        np.testing.assert_array_equal(fx.layers[0].kernel,
                                      fm.layers[0].weight.quantize(stored.astype(np.float64)))
    prov = m.provenance
    assert prov["history"]["loss_last"] < prov["history"]["loss_first"]
    assert prov["storage"] == "float32" and prov["data"]["format"] == "lcd"


def test_project_keeps_per_layer_formats(folder, model):
    from golden.formats import DenseFormats, ModelFormats
    wide = LSTMFormats(QFormat(16, 12, name="vec"), DEFAULT_FORMATS.weight, DEFAULT_FORMATS.preact,
                       DEFAULT_FORMATS.act)
    fm = ModelFormats((wide,) + (DEFAULT_FORMATS,) * (SMALL.num_layers - 1),
                      DenseFormats(QFormat(16, 13, name="weight"), QFormat(16, 12, name="out")))
    m = load_model(save_model(folder / "p.npz", model, fmts=fm))
    assert m.model_formats == fm and m.fixed().formats == fm
    assert m.fixed().formats.input.frac_bits == 12 and not m.model_formats.is_global


def test_project_file_with_one_global_formats_object_still_loads(folder, model):
    """Files written before per-layer formats hold one LSTMFormats: it serves every layer."""
    fmts = LSTMFormats(QFormat(16, 13, name="vec"), DEFAULT_FORMATS.weight, DEFAULT_FORMATS.preact,
                       DEFAULT_FORMATS.act)
    path = save_model(folder / "old.npz", model)
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["formats"] = np.array(json.dumps(fmts.to_dict()))
    np.savez(folder / "old2.npz", **arrays)
    m = load_model(folder / "old2.npz")
    assert m.model_formats.layers == (fmts,) * SMALL.num_layers and m.fixed().fmts == fmts
