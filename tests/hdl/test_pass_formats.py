"""Per-layer formats on the whole-window engine's configuration: what it takes and refuses."""

from __future__ import annotations

import pytest

from golden.autoencoder import AutoencoderConfig
from golden.formats import DEFAULT_FORMATS as FM, DenseFormats, FormatError, LSTMFormats, ModelFormats, QFormat
from hdl.autoencoder_config import AutoencoderEngineConfig

TINY = AutoencoderConfig(3, (4, 2), (2, 4), 3)


def layer(vec=(16, 14), weight=(16, 12), preact=(16, 11), act=(16, 14), rounding="nearest_posinf"):
    def q(name, wf):
        return QFormat(wf[0], wf[1], rounding=rounding, name=name)
    return LSTMFormats(q("vec", vec), q("weight", weight), q("preact", preact), q("act", act))


def model_formats(*layers, dense_weight=(16, 12), out=(16, 14)):
    layers = layers + (FM,) * (TINY.num_layers - len(layers))
    return ModelFormats(tuple(layers), DenseFormats(QFormat(*dense_weight, name="weight"),
                                                    QFormat(*out, name="out")))


def test_equal_per_layer_formats_are_the_global_design():
    """ModelFormats that are one set after all give the very design of that set."""
    cfg = AutoencoderEngineConfig(TINY, 2, ModelFormats.uniform(FM, TINY.num_layers))
    assert cfg == AutoencoderEngineConfig(TINY, 2, FM)
    assert not cfg.per_layer and cfg.fmts == FM
    assert cfg.module_name == AutoencoderEngineConfig(TINY, 2, FM).module_name


def test_moved_binary_points_name_their_own_design_and_round_trip():
    mf = model_formats(layer(vec=(16, 13)), layer(preact=(16, 12)))
    cfg = AutoencoderEngineConfig(TINY, 2, mf)
    assert cfg.per_layer and cfg.formats == mf
    assert cfg.module_name != AutoencoderEngineConfig(TINY, 2, FM).module_name
    assert AutoencoderEngineConfig.from_dict(cfg.to_dict()) == cfg
    assert set(cfg.pass_formats.varying) == {"bias", "z", "act", "h", "x"}
    # widths are the words': the same ports as the global design
    assert (cfg.in_bits, cfg.out_bits, cfg.weight_bits) == (3 * 16, 3 * 16, 16)


@pytest.mark.parametrize("mf, words", [
    (model_formats(layer(vec=(12, 10))), "vec is 12 bits in encoder LSTM 1 but 16 in encoder LSTM 2"),
    (model_formats(dense_weight=(8, 6)), "weight is 16 bits in encoder LSTM 1 but 8 in dense"),
    (model_formats(out=(12, 10)), "vec is 16 bits in encoder LSTM 1 but 12 in dense output"),
    (model_formats(layer(preact=(14, 9))), "preact is 14 bits"),
    (model_formats(FM, layer(act=(16, 13))), "act is .* in encoder LSTM 1 but .* in encoder LSTM 2; "
     "the activation units hold one table"),
    (model_formats(FM, layer(rounding="floor")), "rounds 'nearest_posinf' in encoder LSTM 1 but 'floor'"),
], ids=["vec-word", "dense-weight-word", "output-word", "preact-word", "act-format", "rounding"])
def test_formats_the_one_datapath_cannot_run_are_refused_by_name(mf, words):
    with pytest.raises(FormatError, match=words):
        AutoencoderEngineConfig(TINY, 2, mf)


def test_a_layer_count_that_does_not_match_is_refused():
    with pytest.raises(FormatError, match="2 layers given, the model has 4"):
        AutoencoderEngineConfig(TINY, 2, ModelFormats((FM, FM), DenseFormats(FM.weight, FM.vec)))
