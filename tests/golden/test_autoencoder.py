"""The autoencoder: sizes, Keras weight order, float and fixed forward passes, generators."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from golden.autoencoder import (Autoencoder, AutoencoderConfig, FixedAutoencoder,
                                realistic_weights, synthetic_windows, window_scores)
from golden.formats import DEFAULT_FORMATS, FormatError
from golden.lstm_fixed import lstm_layer_fixed
from golden.lstm_float import LSTMCell, ShapeError

REFERENCE = AutoencoderConfig()
ALL_32 = AutoencoderConfig(6, (32, 32), (32, 32), 24)


def _lstm_params(d, h):
    return 4 * h * d + 4 * h * h + 4 * h


def test_parameter_counts_reference_and_all_32_variant():
    # counted by hand from the layer sizes
    ref = (_lstm_params(6, 64) + _lstm_params(64, 32) + _lstm_params(32, 32)
           + _lstm_params(32, 64) + 64 * 6 + 6)
    var = _lstm_params(6, 32) + 3 * _lstm_params(32, 32) + 32 * 6 + 6
    assert ref == 64134 and var == 30150
    assert REFERENCE.parameter_count == 64134
    assert ALL_32.parameter_count == 30150
    assert realistic_weights(REFERENCE, 1).parameter_count == 64134
    assert realistic_weights(ALL_32, 1).parameter_count == 30150


def test_keras_weight_order_and_shapes():
    ae = realistic_weights(REFERENCE, 3)
    arrays = ae.get_weights()
    expect = [(6, 256), (64, 256), (256,), (64, 128), (32, 128), (128,), (32, 128), (32, 128),
              (128,), (32, 256), (64, 256), (256,), (64, 6), (6,)]
    assert [a.shape for a in arrays] == expect
    # arr_3 is the kernel of the second encoder layer, arr_12 the dense kernel
    assert np.array_equal(arrays[3], ae.layers[1].kernel)
    assert np.array_equal(arrays[12], ae.dense_kernel)
    back = Autoencoder.from_weights(arrays, REFERENCE)
    assert all(np.array_equal(a, b) for a, b in zip(arrays, back.get_weights()))


def test_inferred_split_between_encoder_and_decoder():
    cfg = AutoencoderConfig(3, (8, 6, 4), (5,), 7)
    arrays = realistic_weights(cfg, 0).get_weights()
    assert Autoencoder.from_weights(arrays, encoder_layers=3, timesteps=7).cfg == cfg
    assert Autoencoder.from_weights(arrays, timesteps=7).cfg.encoder_sizes == (8, 6)


@pytest.mark.parametrize("k, bad, words", [
    (4, np.zeros((32, 64)), "arr_4"),
    (12, np.zeros((6, 64)), "arr_12 (dense kernel)"),
    (2, np.zeros(255), "arr_2 (encoder LSTM 1 bias)"),
], ids=["recurrent", "dense-transposed", "bias"])
def test_wrong_shape_names_the_array(k, bad, words):
    arrays = realistic_weights(REFERENCE, 0).get_weights()
    arrays[k] = bad
    with pytest.raises(ShapeError, match=words.replace("(", r"\(").replace(")", r"\)")):
        Autoencoder.from_weights(arrays, REFERENCE)


def test_bad_weight_lists_are_refused():
    arrays = realistic_weights(REFERENCE, 0).get_weights()
    with pytest.raises(ShapeError, match="3L \\+ 2"):
        Autoencoder.from_weights(arrays[:-1])
    nan = [a.copy() for a in arrays]
    nan[7][0, 0] = np.nan
    with pytest.raises(FormatError, match="arr_7"):
        Autoencoder.from_weights(nan, REFERENCE)
    with pytest.raises(ShapeError, match="3 LSTM layers"):
        Autoencoder.from_weights(arrays, AutoencoderConfig(6, (64,), (32, 64)))


def test_config_validation():
    with pytest.raises(ShapeError, match="features"):
        AutoencoderConfig(features=0)
    with pytest.raises(ShapeError, match="encoder_sizes"):
        AutoencoderConfig(encoder_sizes=())
    with pytest.raises(ShapeError, match="decoder_sizes"):
        AutoencoderConfig(decoder_sizes=(32, -1))
    cfg = AutoencoderConfig(4, (10,), (7, 9), 5)
    assert AutoencoderConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.layer_shapes == [(4, 10), (10, 7), (7, 9)]


def test_windows_are_checked():
    ae = realistic_weights(AutoencoderConfig(2, (3,), (3,), 4), 0)
    with pytest.raises(ShapeError, match="4 time steps"):
        ae.reconstruct_float(np.zeros((1, 5, 2)))
    with pytest.raises(ShapeError, match="features"):
        ae.reconstruct_float(np.zeros((1, 4, 3)))
    bad = np.zeros((1, 4, 2))
    bad[0, 1, 1] = np.inf
    with pytest.raises(FormatError, match="NaN or infinite"):
        ae.quantize().reconstruct(bad)


def _reconstruct_by_steps(ae, x):
    """Independent composition: LSTMCell.step per sample and step, latent repeated."""
    cfg = ae.cfg
    out = np.empty(x.shape)
    ne = len(cfg.encoder_sizes)
    for n in range(x.shape[0]):
        seq = list(x[n])
        for k, w in enumerate(ae.layers):
            if k == ne:
                seq = [seq[-1]] * cfg.timesteps
            cell, h, c, nxt = LSTMCell(w), np.zeros(w.hidden_size), np.zeros(w.hidden_size), []
            for v in seq:
                h, c = cell.step(v, h, c)
                nxt.append(h)
            seq = nxt
        out[n] = np.array([ae.dense_kernel.T @ h + ae.dense_bias for h in seq])
    return out


@given(seed=st.integers(0, 2**16), f=st.integers(1, 4),
       enc=st.lists(st.integers(1, 6), min_size=1, max_size=2),
       dec=st.lists(st.integers(1, 6), min_size=1, max_size=2), t=st.integers(1, 6))
def test_float_forward_matches_step_by_step(seed, f, enc, dec, t):
    cfg = AutoencoderConfig(f, tuple(enc), tuple(dec), t)
    ae = realistic_weights(cfg, seed)
    x = synthetic_windows(3, cfg, seed + 1)
    np.testing.assert_allclose(ae.reconstruct_float(x), _reconstruct_by_steps(ae, x), rtol=0, atol=1e-12)


def test_decoder_sees_the_latent_repeated():
    cfg = AutoencoderConfig(3, (5, 4), (4,), 6)
    ae = realistic_weights(cfg, 2)
    x = synthetic_windows(2, cfg, 0)
    fw = ae.forward_float(x)
    assert np.array_equal(fw["latent"], fw["h"][1][:, -1])
    # the first decoder layer on a constant input: its first step from zero state
    cell = LSTMCell(ae.layers[2])
    h0, _ = cell.step(fw["latent"], np.zeros((2, 4)), np.zeros((2, 4)))
    np.testing.assert_allclose(fw["h"][2][:, 0], h0, atol=1e-15)


def _round_half_up_int(v: int, shift: int) -> int:
    return (v + (1 << (shift - 1))) >> shift


@given(seed=st.integers(0, 2**16), t=st.integers(1, 5))
def test_fixed_forward_matches_independent_integer_composition(seed, t):
    cfg = AutoencoderConfig(2, (4, 3), (3, 5), t)
    ae = realistic_weights(cfg, seed)
    fx = FixedAutoencoder.from_float(ae, DEFAULT_FORMATS)
    x = synthetic_windows(2, cfg, seed)
    fm = DEFAULT_FORMATS
    xi = np.floor(x * 2 ** fm.vec.frac_bits + 0.5).astype(np.int64)   # quantize by hand
    seq = xi
    for k, w in enumerate(fx.layers):
        if k == 2:
            seq = np.repeat(seq[:, -1:, :], t, axis=1)
        seq, _ = lstm_layer_fixed(seq, w)
    shift = fm.acc_frac - fm.vec.frac_bits
    expect = np.empty((2, t, 2), np.int64)
    for n in range(2):
        for s in range(t):
            for j in range(2):
                acc = sum(int(seq[n, s, k]) * int(fx.dense_kernel[k, j]) for k in range(5))
                acc += int(fx.dense_bias[j]) << fm.vec.frac_bits
                v = _round_half_up_int(acc, shift)
                expect[n, s, j] = min(max(v, fm.vec.int_min), fm.vec.int_max)
    got = fx.reconstruct_int(x)
    assert got.dtype == np.int64
    assert np.array_equal(got, expect)


def test_fixed_dense_saturates_to_vec():
    cfg = AutoencoderConfig(1, (1,), (1,), 2)
    ae = realistic_weights(cfg, 0)
    big = Autoencoder(cfg, ae.layers, np.full((1, 1), 7.5), np.full(1, 7.0))
    fx = big.quantize()
    out = fx.reconstruct_int(np.ones((1, 2, 1)))
    assert np.all(out <= DEFAULT_FORMATS.vec.int_max)
    assert np.any(out == DEFAULT_FORMATS.vec.int_max)


def test_quantize_refuses_weights_out_of_format():
    cfg = AutoencoderConfig(1, (2,), (2,), 2)
    ae = realistic_weights(cfg, 0)
    big = Autoencoder(cfg, ae.layers, np.full((2, 1), 9.0), np.zeros(1))
    with pytest.raises(FormatError, match="dense kernel"):
        big.quantize()


def test_window_scores_are_mse():
    rng = np.random.default_rng(0)
    w, r = rng.random((3, 4, 2)), rng.random((3, 4, 2))
    expect = [sum((r[n, t, f] - w[n, t, f]) ** 2 for t in range(4) for f in range(2)) / 8
              for n in range(3)]
    np.testing.assert_allclose(window_scores(w, r), expect, rtol=1e-14)
    ae = realistic_weights(AutoencoderConfig(2, (3,), (3,), 4), 0)
    x = synthetic_windows(3, ae.cfg, 0)
    np.testing.assert_allclose(ae.scores_float(x), window_scores(x, ae.reconstruct_float(x)))
    with pytest.raises(ShapeError):
        window_scores(w, r[:, :3])


def test_realistic_weights_ranges_and_reproducibility():
    a, b = realistic_weights(REFERENCE, 7), realistic_weights(REFERENCE, 7)
    assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))
    c = realistic_weights(REFERENCE, 8)
    assert not np.array_equal(a.layers[0].kernel, c.layers[0].kernel)
    for w in a.layers:
        for t in (w.kernel, w.recurrent, w.bias):
            assert np.max(np.abs(t)) <= 1.75
        hs = w.hidden_size
        assert 0.8 < w.bias[hs:2 * hs].mean() < 1.2            # unit forget bias
        assert abs(w.bias[:hs].mean()) < 0.2
    a.quantize()                                                # fits Q4.12


def test_synthetic_windows_look_like_scaled_weather():
    cfg = REFERENCE
    x = synthetic_windows(273, cfg, 0)
    assert x.shape == (273, 24, 6)
    assert x.min() >= 0.0 and x.max() <= 1.0
    series = np.concatenate([x[0], x[1:, -1]])                  # stride 1: one series
    assert np.array_equal(x[1, :-1], x[0, 1:])
    assert np.allclose(series.min(axis=0), 0) and np.allclose(series.max(axis=0), 1)
    corr = np.corrcoef(series.T)
    assert np.max(np.abs(corr[np.triu_indices(6, 1)])) > 0.5    # correlated features
    assert np.array_equal(synthetic_windows(5, cfg, 3), synthetic_windows(5, cfg, 3))
    assert not np.array_equal(synthetic_windows(5, cfg, 3), synthetic_windows(5, cfg, 4))
    with pytest.raises(ShapeError, match="n must be"):
        synthetic_windows(0, cfg)
