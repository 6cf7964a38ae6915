"""Per-layer formats: the whole autoencoder's kernels equal its fxpmath specification,
clamps are counted exactly, and the formats survive the model file.

The specification (golden.lstm_spec.spec_autoencoder) states the inter-layer and dense
requantizations in fxpmath; the kernels do them in numpy integers; the two are
compared as integers over random per-layer formats.  The clamp counts of the kernels
are held against the overflow counts the specification's requantize points keep.
"""

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from golden.autoencoder import AutoencoderConfig, realistic_weights, synthetic_windows
from golden.formats import (DEFAULT_FORMATS, ROUNDING_MODES, TABLE_STEP_LOG2, ClampCounts,
                            DenseFormats, FormatError, LSTMFormats, ModelFormats, QFormat)
from golden.lstm_spec import spec_autoencoder

SMALL = AutoencoderConfig(3, (5, 4), (4, 6), 5)


def _fmt(draw, name, word_lo=8, word_hi=16, int_lo=0, int_hi=5):
    word = draw(st.integers(word_lo, word_hi))
    ib = draw(st.integers(int_lo, min(int_hi, word - 2)))
    return QFormat(word, word - 1 - ib, True, draw(st.sampled_from(ROUNDING_MODES)),
                   "saturate", name)


@st.composite
def layer_formats(draw):
    """Formats of one layer: 8..16-bit words, few integer bits (clamps happen)."""
    vec = _fmt(draw, "vec", int_hi=3)
    weight = _fmt(draw, "weight", word_lo=max(8, TABLE_STEP_LOG2 - vec.frac_bits + 2), int_lo=1,
                  int_hi=3)
    act = _fmt(draw, "act", int_lo=1, int_hi=2)
    hi = min(14, vec.frac_bits + weight.frac_bits)
    preact_frac = draw(st.integers(TABLE_STEP_LOG2, max(TABLE_STEP_LOG2, hi)))
    preact_word = draw(st.integers(preact_frac + 2, preact_frac + 6))
    preact = QFormat(preact_word, preact_frac, True, draw(st.sampled_from(ROUNDING_MODES)),
                     "saturate", "preact")
    return LSTMFormats(vec, weight, preact, act)


@st.composite
def model_formats(draw, layers: int = SMALL.num_layers):
    per_layer = tuple(draw(layer_formats()) for _ in range(layers))
    return ModelFormats(per_layer, DenseFormats(_fmt(draw, "weight", int_lo=1, int_hi=3),
                                                _fmt(draw, "out", int_hi=3)))


def _model(seed):
    return realistic_weights(SMALL, seed=seed)


def _quantizable(ae, fm):
    """The model in ``fm``, with each weight format widened until the weights fit."""
    layers = []
    for k, f in enumerate(fm.layers):
        peak = max(float(np.max(np.abs(t))) for t in ae.layers[k].tensors().values())
        w = f.weight
        while w.max < peak:
            w = QFormat(w.word_bits, w.frac_bits - 1, True, w.rounding, w.overflow, "weight")
        layers.append(LSTMFormats(f.vec, w, QFormat(f.preact.word_bits, min(
            f.preact.frac_bits, f.vec.frac_bits + w.frac_bits), True, f.preact.rounding,
            f.preact.overflow, "preact"), f.act) if w != f.weight else f)
    dw = fm.dense.weight
    peak = max(float(np.max(np.abs(ae.dense_kernel))), float(np.max(np.abs(ae.dense_bias))))
    while dw.max < peak:
        dw = QFormat(dw.word_bits, dw.frac_bits - 1, True, dw.rounding, dw.overflow, "weight")
    return ModelFormats(tuple(layers), DenseFormats(dw, fm.dense.out))


def _spec_counts(trace):
    """(layer, point) -> overflow count from the specification's trace."""
    out = {}
    for layer, points in trace.items():
        for point, n in points.items():
            if not point.endswith(" total"):
                out[(layer, point)] = n
    return out


def _kernel_counts(clamps):
    """The kernels' clamp counts in the specification's terms (z summed over gates); the
    tanh table-end counts, which no requantization point has, are tested on their own."""
    out = {}
    for (layer, tensor), (c, _) in clamps.counts.items():
        if tensor.startswith("tanh_"):
            continue
        key = (layer, "z" if tensor.startswith("z_") else tensor)
        out[key] = out.get(key, 0) + c
    return out


@settings(max_examples=10)
@given(fm=model_formats(), seed=st.integers(0, 2**16), scale=st.sampled_from([1.0, 3.0, 9.0]))
def test_kernels_equal_the_specification_with_per_layer_formats(fm, seed, scale):
    ae = _model(seed % 7)
    fm = _quantizable(ae, fm)
    fx = ae.quantize(fm)
    x = (synthetic_windows(3, SMALL, seed=seed) - 0.5) * scale
    clamps = ClampCounts()
    x_int = fx.quantize_windows(x, clamps)
    kern = fx.forward_int(x_int, clamps)
    trace = {}
    spec = spec_autoencoder(fx, x_int, trace)
    np.testing.assert_array_equal(spec["reconstruction"], kern["reconstruction"])
    for a, b in zip(spec["h"], kern["h"]):
        np.testing.assert_array_equal(a, b)
    # every clamp the kernels count is one the specification's requantize points saw
    # (the first layer's x comes from float windows, outside the specification)
    kc = _kernel_counts(clamps)
    sc = _spec_counts(trace)
    first = fx.layer_names[0]
    for key, n in kc.items():
        if key == (first, "x"):
            continue
        assert sc.get(key, 0) == n, key
    event(f"clamps {'seen' if clamps.total else 'none'}")
    event("per-layer" if not fm.is_global else "global")


def test_inter_layer_requantization_saturates_and_is_counted():
    ae = _model(3)
    wide = LSTMFormats(QFormat(16, 11, name="vec"), QFormat(16, 12, name="weight"),
                       QFormat(16, 11, name="preact"), QFormat(16, 14, name="act"))
    # the second layer's vec spans [-0.5, 0.5): every |h| of layer 1 beyond clamps
    narrow = LSTMFormats(QFormat(16, 16, name="vec"), QFormat(16, 12, name="weight"),
                         QFormat(16, 11, name="preact"), QFormat(16, 14, name="act"))
    fm = ModelFormats((wide, narrow, wide, wide), DenseFormats(wide.weight, wide.vec))
    fx = ae.quantize(fm)
    x = synthetic_windows(4, SMALL, seed=1) * 6.0 - 3.0
    clamps = fx.saturation(x)
    h1 = fx.forward_int(fx.quantize_windows(x))["h"][0]
    # the real values of layer 1's h beyond [-0.5, 0.5 - 2^-16] are what must clamp
    h1_real = h1 / 2.0**11
    expect = int(np.count_nonzero(h1_real > 0.5 - 2.0**-16) + np.count_nonzero(h1_real < -0.5))
    assert expect > 0
    assert clamps.counts[(fx.layer_names[1], "x")] == [expect, h1.size]
    # window values beyond [-16, 16) do not exist here, so the first layer clamps none
    assert clamps.counts[(fx.layer_names[0], "x")][0] == 0


def test_input_clamps_count_the_values_outside_the_input_format():
    ae = _model(0)
    fx = ae.quantize(DEFAULT_FORMATS)
    x = synthetic_windows(6, SMALL, seed=4)
    x[0, 0, 0], x[1, 2, 1], x[2, 3, 2], x[3, 0, 0] = 2.5, -7.0, 1.99, -2.0
    clamps = fx.saturation(x)
    assert clamps.counts[(fx.layer_names[0], "x")] == [2, x.size]     # 2.5 and -7.0
    assert clamps.clamped()[0][:3] == (fx.layer_names[0], "x", 2)


def test_counting_changes_no_result():
    ae = _model(5)
    fx = ae.quantize(DEFAULT_FORMATS)
    x = synthetic_windows(5, SMALL, seed=2) * 5 - 2
    np.testing.assert_array_equal(fx.reconstruct_int(x), fx.reconstruct_int(x, ClampCounts()))


def test_global_formats_still_serve_single_format_callers():
    fx = _model(1).quantize(DEFAULT_FORMATS)
    assert fx.formats.is_global and fx.fmts == DEFAULT_FORMATS
    other = LSTMFormats(QFormat(16, 13, name="vec"), DEFAULT_FORMATS.weight,
                        DEFAULT_FORMATS.preact, DEFAULT_FORMATS.act)
    fm = ModelFormats((DEFAULT_FORMATS, other, DEFAULT_FORMATS, DEFAULT_FORMATS),
                      DenseFormats(DEFAULT_FORMATS.weight, DEFAULT_FORMATS.vec))
    fx2 = _model(1).quantize(fm)
    with pytest.raises(FormatError, match="per-layer formats .*encoder LSTM 2: vec Q3.13"):
        fx2.fmts


def test_model_formats_round_trip_and_old_global_dicts_load():
    fm = ModelFormats((DEFAULT_FORMATS, DEFAULT_FORMATS.with_rounding("floor")),
                      DenseFormats(QFormat(12, 9), QFormat(16, 13)))
    assert ModelFormats.from_dict(fm.to_dict(), 2) == fm
    old = ModelFormats.from_dict(DEFAULT_FORMATS.to_dict(), 4)
    assert old.layers == (DEFAULT_FORMATS,) * 4 and old.global_formats == DEFAULT_FORMATS
    with pytest.raises(FormatError, match="formats for 2 LSTM layers, the model has 3"):
        ModelFormats.from_dict(fm.to_dict(), 3)


def _saturating_model():
    """Gate biases pushed up by 3: i, f, g and o near 1, so c grows by about one per step
    (and clamps in a narrow preact format), and h = tanh(c) comes close to 1."""
    from golden.autoencoder import Autoencoder
    from golden.lstm_float import LSTMWeights
    ae = _model(2)
    layers = [LSTMWeights(w.kernel, w.recurrent, w.bias + 3.0) for w in ae.layers]
    return Autoencoder(SMALL, layers, ae.dense_kernel * 4.0, ae.dense_bias)


def test_every_kind_of_clamp_is_counted_as_the_specification_counts_it():
    """Narrow formats on purpose: z, c, h, the inter-layer x and the dense y all clamp."""
    ae = _saturating_model()
    weight = QFormat(12, 8, name="weight")          # [-8, 8): the raised biases fit
    tight = LSTMFormats(QFormat(10, 8, name="vec"), weight, QFormat(9, 6, name="preact"),
                        QFormat(12, 10, name="act"))
    half = LSTMFormats(QFormat(12, 12, name="vec"), weight, QFormat(9, 6, name="preact"),
                       QFormat(12, 10, name="act"))
    fm = ModelFormats((tight, half, tight, half), DenseFormats(weight, QFormat(8, 7)))
    fx = ae.quantize(fm)
    x = synthetic_windows(4, SMALL, seed=3) * 8.0 - 4.0
    clamps = ClampCounts()
    x_int = fx.quantize_windows(x, clamps)
    fx.forward_int(x_int, clamps)
    trace = {}
    spec_autoencoder(fx, x_int, trace)
    kc, sc = _kernel_counts(clamps), _spec_counts(trace)
    names = fx.layer_names
    for key in [(names[0], "x"), (names[0], "z"), (names[0], "c"), (names[1], "x"),
                (names[1], "h"), ("dense", "y")]:
        assert kc[key] > 0, key
    for key, n in kc.items():
        if key != (names[0], "x"):
            assert sc[key] == n, key
