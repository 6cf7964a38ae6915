"""PyTorch state dicts as saved by ``torch.save``: the committed fixtures equal the module's
own output, the layer order comes from the module names or from ``--layers``, and a state
dict whose names do not say the order is refused with what to do."""

from pathlib import Path

import numpy as np
import pytest

from golden.autoencoder import AutoencoderConfig, realistic_weights, synthetic_windows
from lstm_chiplet.models.npz import ModelFileError
from lstm_chiplet.models.pytorch import LayerOrder, order_from_names, parse_layer_order
from lstm_chiplet.models.store import layer_order, load_any_model

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "models"
#: PyTorch computes in float32; the import in float64 on the same float32 weights.
FRAMEWORK_TOLERANCE = 1e-6
CFG = AutoencoderConfig(3, (5, 4), (4, 6), 6)


@pytest.fixture(scope="module")
def model():
    return realistic_weights(CFG, seed=8)


def _state_dict(model, names):
    """A hand-made state dict, one single-layer nn.LSTM per name (in the given file order)."""
    sd = {}
    for name, w in names:
        sd.update({f"{name}.weight_ih_l0": w.kernel.T, f"{name}.weight_hh_l0": w.recurrent.T,
                   f"{name}.bias_ih_l0": w.bias})
    sd.update({"fc.weight": model.dense_kernel.T, "fc.bias": model.dense_bias})
    return sd


def _same_function(m, model):
    x = synthetic_windows(3, CFG, seed=2)
    np.testing.assert_allclose(m.model.reconstruct_float(x), model.reconstruct_float(x), rtol=0,
                               atol=1e-12)


@pytest.mark.parametrize("name", ["ae.pt", "ae_stacked.pt"], ids=["one-module-a-layer", "num_layers-2"])
def test_committed_state_dicts_equal_the_module(name):
    m = load_any_model(FIXTURES / name)
    assert m.kind == "pytorch" and m.cfg.encoder_sizes == (8, 4) and m.cfg.decoder_sizes == (4, 8)
    with np.load(FIXTURES / "ae_reference.npz") as z:
        err = np.max(np.abs(m.model.reconstruct_float(z["windows"].astype(np.float64)) - z["torch"]))
    assert err < FRAMEWORK_TOLERANCE


def test_names_order_the_sides_and_the_numbers_within(folder, model):
    # registered decoder first and numbers out of file order: the names still say it
    names = [("decoder2", model.layers[3]), ("decoder1", model.layers[2]),
             ("encoder1", model.layers[0]), ("encoder2", model.layers[1])]
    np.savez(folder / "sd.npz", **_state_dict(model, names))
    m = load_any_model(folder / "sd.npz", timesteps=6)
    assert m.cfg == CFG
    _same_function(m, model)
    assert m.names["encoder LSTM 1 kernel"] == "encoder1.weight_ih_l0"


def test_unnamed_sides_need_layers(folder, model):
    names = [(f"lstm{k}", w) for k, w in enumerate(model.layers)]
    np.savez(folder / "sd.npz", **_state_dict(model, names))
    with pytest.raises(ModelFileError, match=r"sd\.npz: the nn\.LSTM module names \('lstm0', 'lstm1', "
                                             r"'lstm2', 'lstm3'\) do not say .*--layers"):
        load_any_model(folder / "sd.npz", timesteps=6)
    m = load_any_model(folder / "sd.npz", timesteps=6, layers="lstm0,lstm1/lstm2,lstm3")
    _same_function(m, model)
    with layer_order("lstm0,lstm1/lstm2,lstm3"):            # what the command line sets
        _same_function(load_any_model(folder / "sd.npz", timesteps=6), model)
    # an explicit split with the file's order works too
    _same_function(load_any_model(folder / "sd.npz", timesteps=6, encoder_layers=2), model)


def test_layers_overrides_the_names(folder, model):
    # the names mislead (the "decoder" modules are the encoder); --layers says the truth
    names = [("decoder_a", model.layers[0]), ("decoder_b", model.layers[1]),
             ("encoder_a", model.layers[2]), ("encoder_b", model.layers[3])]
    np.savez(folder / "sd.npz", **_state_dict(model, names))
    with pytest.raises(ValueError, match=r"'decoder_a\.weight_ih_l0' takes 3 inputs but the layer before it"):
        load_any_model(folder / "sd.npz", timesteps=6)
    m = load_any_model(folder / "sd.npz", timesteps=6, layers="decoder_a,decoder_b/encoder_a,encoder_b")
    _same_function(m, model)


@pytest.mark.parametrize("spec, message", [
    ("lstm0,lstm1/lstm2", r"module\(s\) 'lstm3' not placed"),
    ("lstm0,lstm1/lstm2,lstm3,lstm9", r"no nn\.LSTM module 'lstm9' in the file"),
])
def test_layers_must_place_every_module_once(folder, model, spec, message):
    names = [(f"lstm{k}", w) for k, w in enumerate(model.layers)]
    np.savez(folder / "sd.npz", **_state_dict(model, names))
    with pytest.raises(ModelFileError, match=r"sd\.npz: --layers .*" + message):
        load_any_model(folder / "sd.npz", timesteps=6, layers=spec)


@pytest.mark.parametrize("spec, message", [
    ("a,b", "expected ENCODER_MODULES/DECODER_MODULES"),
    ("a/", "expected ENCODER_MODULES/DECODER_MODULES"),
    ("a,b/b", "module\\(s\\) b listed more than once"),
])
def test_bad_layer_specs_are_explained(spec, message):
    with pytest.raises(ModelFileError, match=message):
        parse_layer_order(spec)


def test_order_from_names_cases():
    assert order_from_names("f", ["enc.lstm", "dec.lstm"]) == LayerOrder(("enc.lstm",), ("dec.lstm",))
    assert order_from_names("f", ["model.encoder.rnn", "model.decoder.rnn"]) is not None
    assert order_from_names("f", ["lstm_a", "lstm_b"]) is None
    assert order_from_names("f", ["encoder1", "encoder2"]) is None            # no decoder
    assert order_from_names("f", ["encoding", "decoding"]) is None            # words, not markers
    assert order_from_names("f", ["enc_b", "enc_a", "dec"]).encoder == ("enc_b", "enc_a")   # file order
