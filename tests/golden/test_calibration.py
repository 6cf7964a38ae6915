"""Calibration: the measured ranges are the float model's, the calibrated formats never
saturate on the calibration data, one integer bit fewer does (seen by the kernels'
clamp counts), and bad calibration data is refused by name."""

import numpy as np
import pytest

from golden.autoencoder import AutoencoderConfig, FixedAutoencoder, realistic_weights, synthetic_windows
from golden.calibration import (CalibrationError, calibrate, calibrated_formats, fitted_format,
                                integer_bits)
from golden.activations import TANH, activate
from golden.formats import ClampCounts, DenseFormats, FormatError, LSTMFormats, ModelFormats, QFormat

CFG = AutoencoderConfig(features=6, encoder_sizes=(8, 4), decoder_sizes=(4, 8), timesteps=24)


@pytest.fixture(scope="module")
def model():
    return realistic_weights(CFG, seed=5)


@pytest.fixture(scope="module")
def windows():
    # beyond [0, 1] on purpose, so the input needs integer bits the default lacks
    return 2.5 * synthetic_windows(40, CFG, seed=2) - 0.3


@pytest.fixture(scope="module")
def cal(model, windows):
    return calibrate(model, windows)


def test_peaks_are_the_float_models(model, windows, cal):
    ref = model.forward_float(windows)
    assert cal.windows == 40
    assert cal.layers[0]["x"] == np.abs(windows).max()
    for k in range(CFG.num_layers):
        assert cal.layers[k]["h"] == pytest.approx(np.abs(ref["h"][k]).max(), rel=0, abs=0)
        assert cal.layers[k]["c"] == np.abs(ref["c"][k]).max()
        assert cal.layers[k]["kernel"] == np.abs(model.layers[k].kernel).max()
        assert 0.5 < cal.layers[k]["act"] <= 1.0
    for k in range(1, CFG.num_layers):
        if k != len(CFG.encoder_sizes):
            assert cal.layers[k]["x"] == cal.layers[k - 1]["h"]
    # the decoder's input is the latent vector: the last encoder h at the last step
    ne = len(CFG.encoder_sizes)
    assert cal.layers[ne]["x"] == np.abs(ref["latent"]).max()
    assert cal.dense["y"] == np.abs(ref["reconstruction"]).max()


@pytest.mark.parametrize("peak, word, headroom, expect", [
    (0.9, 16, 0.0, 0),          # Q1.15 holds up to 1 - 2^-15
    (1.0, 16, 0.0, 1),          # 1.0 itself needs an integer bit
    (2.18, 16, 0.125, 2),       # 2.45 < 4 - lsb
    (3.6, 16, 0.125, 3),        # 4.05 > 4 - lsb
    (0.3, 16, 0.0, -1),         # below 1/2: one more fraction bit
    (9.03, 16, 0.125, 4),       # a cell state of 9 in Q5.11
], ids=["0.9", "1.0", "2.18+h", "3.6+h", "0.3", "9.03+h"])
def test_integer_bits_by_hand(peak, word, headroom, expect):
    assert integer_bits(peak, word, headroom) == expect


def test_calibrated_formats_do_not_saturate(model, windows, cal):
    fmts = calibrated_formats(cal, 16)
    fixed = FixedAutoencoder.from_float(model, fmts)
    clamps = ClampCounts()
    fixed.reconstruct(windows, clamps)
    assert clamps.total == 0, clamps.clamped()
    # the default formats (Q2.14 input) do saturate on these windows: the test has teeth
    d = ClampCounts()
    model.quantize().reconstruct(windows, d)
    assert d.total > 0


def _one_bit_fewer(fmts: ModelFormats, unit, role) -> ModelFormats:
    def fewer(f: QFormat) -> QFormat:
        return QFormat(f.word_bits, f.frac_bits + 1, name=f.name)
    layers = list(fmts.layers)
    if unit == "dense":
        dense = dict(weight=fmts.dense.weight, out=fmts.dense.out)
        dense[role] = fewer(dense[role])
        return ModelFormats(tuple(layers), DenseFormats(**dense))
    f = layers[unit]
    parts = {r: getattr(f, r) for r in ("vec", "weight", "preact", "act")}
    parts[role] = fewer(parts[role])
    layers[unit] = LSTMFormats(**parts)
    return ModelFormats(tuple(layers), fmts.dense)


#: Tensors a data slot's clamp counts name.
SLOT_TENSORS = {"vec": ("x", "h"), "preact": ("z_i", "z_f", "z_g", "z_o", "c"), "out": ("y",)}


def _clamps_of(model, fmts, windows, layer, tensors):
    clamps = ClampCounts()
    FixedAutoencoder.from_float(model, fmts).reconstruct(windows, clamps)
    return sum(c for (lay, t), (c, _) in clamps.counts.items() if lay == layer and t in tensors)


@pytest.mark.parametrize("unit", range(CFG.num_layers))
def test_one_integer_bit_fewer_vec_saturates(model, windows, cal, unit):
    """Without head-room the calibration is tight: one bit fewer clamps x or h."""
    tight = _one_bit_fewer(calibrated_formats(cal, 16, headroom=0.0), unit, "vec")
    assert _clamps_of(model, tight, windows, CFG.layer_name(unit), ("x", "h")) > 0


def _tanh_inputs(model, windows, k):
    """Largest |z_g| and |c| of layer k, from the LSTM equations on the float states."""
    ref = model.forward_float(windows)
    ne = len(CFG.encoder_sizes)
    if k == 0:
        seq = windows
    elif k == ne:
        seq = np.repeat(ref["latent"][:, None, :], CFG.timesteps, axis=1)
    else:
        seq = ref["h"][k - 1]
    h = ref["h"][k]
    h_prev = np.concatenate([np.zeros_like(h[:, :1]), h[:, :-1]], axis=1)
    w = model.layers[k]
    hs = w.hidden_size
    zg = (seq @ w.kernel + h_prev @ w.recurrent + w.bias)[..., 2 * hs:3 * hs]
    return max(np.abs(zg).max(), np.abs(ref["c"][k]).max())


@pytest.mark.parametrize("unit", range(CFG.num_layers))
def test_one_integer_bit_fewer_preact_saturates(model, windows, cal, unit):
    """One preact bit fewer clamps z or c, or cuts tanh short at the table's end (tanh is
    looked up at twice its input): tanh of the largest tanh input misses by over an LSB."""
    fmts = calibrated_formats(cal, 16, headroom=0.0)
    tight = _one_bit_fewer(fmts, unit, "preact")
    v = _tanh_inputs(model, windows, unit)

    def tanh_miss(f: LSTMFormats) -> float:
        got = f.act.to_float(activate(f.preact.quantize(v), TANH, f))
        return abs(got - np.tanh(v)) / f.act.lsb

    assert tanh_miss(fmts.layers[unit]) <= 1.0
    hit = _clamps_of(model, tight, windows, CFG.layer_name(unit), SLOT_TENSORS["preact"])
    assert hit > 0 or tanh_miss(tight.layers[unit]) > 1.0


def test_one_integer_bit_fewer_dense_out_saturates(model, windows, cal):
    tight = _one_bit_fewer(calibrated_formats(cal, 16, headroom=0.0), "dense", "out")
    clamps = ClampCounts()
    FixedAutoencoder.from_float(model, tight).reconstruct(windows, clamps)
    assert clamps.counts[("dense", "y")][0] > 0


@pytest.mark.parametrize("unit", list(range(CFG.num_layers)) + ["dense"])
def test_one_integer_bit_fewer_weights_do_not_fit(model, cal, unit):
    fmts = calibrated_formats(cal, 16, headroom=0.0)
    FixedAutoencoder.from_float(model, fmts)        # fits
    with pytest.raises(FormatError, match="kernel|bias|recurrent"):
        FixedAutoencoder.from_float(model, _one_bit_fewer(fmts, unit, "weight"))


def test_act_keeps_one_integer_bit_and_preact_the_table(cal):
    assert fitted_format(0.3, 12, "act").fmt.int_bits == 1
    with pytest.raises(FormatError, match="activation table"):
        fitted_format(9.0, 9, "preact")             # 4 integer bits leave 4 fraction bits
    capped = fitted_format(300.0, 16, "preact")
    assert capped.capped and capped.fmt.int_bits == 7 and capped.int_bits == 9


def test_bad_calibration_data_is_named(model, windows):
    bad = windows.copy()
    bad[3, 5, 2] = np.nan
    bad[7, 0, 0] = np.inf
    with pytest.raises(CalibrationError, match=r"calibration windows: 2 value\(s\) are NaN or "
                                               r"infinite .*first \[3, 7\]"):
        calibrate(model, bad)
    with pytest.raises(CalibrationError, match=r"calibration windows: expected shape \(N, 24, 6\)"):
        calibrate(model, windows[:, :, :5])
    with pytest.raises(CalibrationError, match=r"expected shape"):
        calibrate(model, windows[0])
    with pytest.raises(CalibrationError, match=r"calibration windows: 19 window\(s\), at least 20"):
        calibrate(model, windows[:19])
    with pytest.raises(CalibrationError, match="headroom"):
        integer_bits(1.0, 16, -0.5)
