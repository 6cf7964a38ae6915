"""The derived error bounds hold: measured |fixed - float| never exceeds them."""

import numpy as np
import pytest
from hypothesis import event, given, strategies as st

import golden.error_bound as eb
from golden.activations import SIGMOID, TANH, activate
from golden.autoencoder import (Autoencoder, AutoencoderConfig, FixedAutoencoder, realistic_layer,
                                realistic_weights, synthetic_windows)
from golden.formats import (DEFAULT_FORMATS, ROUNDING_MODES, TABLE_STEP_LOG2, DenseFormats,
                            FormatError, LSTMFormats, ModelFormats, QFormat)
from golden.lstm_fixed import FixedLSTMWeights, lstm_layer_fixed
from golden.lstm_float import LSTMWeights, ShapeError, lstm_layer


# ------------------------------------------------------------------------ strategies
@st.composite
def saturating_formats(draw):
    """Saturating LSTMFormats, small words included (big errors, frequent saturation)."""
    rounding = draw(st.sampled_from(ROUNDING_MODES))

    def fmt(name, word, frac):
        return QFormat(word, frac, True, rounding, "saturate", name)

    vec_word = draw(st.integers(6, 16))
    vec = fmt("vec", vec_word, draw(st.integers(max(1, vec_word - 4), vec_word - 1)))
    need = max(0, TABLE_STEP_LOG2 - vec.frac_bits)
    weight_word = draw(st.integers(max(6, need + 3), 16))
    weight = fmt("weight", weight_word, draw(st.integers(max(need, weight_word - 5), weight_word - 2)))
    act_word = draw(st.integers(6, 16))
    act = fmt("act", act_word, draw(st.integers(max(1, act_word - 4), act_word - 2)))
    preact_frac = draw(st.integers(TABLE_STEP_LOG2, min(14, vec.frac_bits + weight.frac_bits)))
    preact = fmt("preact", draw(st.integers(preact_frac + 1, preact_frac + 6)), preact_frac)
    return LSTMFormats(vec, weight, preact, act)


formats_strategy = st.one_of(st.just(DEFAULT_FORMATS),
                             st.just(DEFAULT_FORMATS.with_rounding("floor")), saturating_formats())


def _fit(a, fmt):
    return np.clip(a, fmt.min, fmt.max)


def _random_layer(rng, d, h, scale, fmts):
    w = fmts.weight
    return LSTMWeights(_fit(rng.uniform(-scale, scale, (d, 4 * h)), w),
                       _fit(rng.uniform(-scale, scale, (h, 4 * h)), w),
                       _fit(rng.uniform(-scale, scale, 4 * h) + np.repeat([0, 1, 0, 0], h), w))


@st.composite
def stack_cases(draw):
    fmts = draw(formats_strategy)
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    d = draw(st.integers(1, 4))
    sizes = draw(st.lists(st.integers(1, 5), min_size=1, max_size=2))
    t = draw(st.integers(1, 10))
    scale = draw(st.sampled_from([0.3, 1.0, 2.0, 4.0]))
    lo, hi = draw(st.sampled_from([(0.0, 1.0), (-1.0, 1.0), (-2.5, 2.5)]))
    float_layers, dd = [], d
    for h in sizes:
        float_layers.append(_random_layer(rng, dd, h, scale, fmts))
        dd = h
    x = rng.uniform(lo, hi, (t, d))
    return fmts, float_layers, x, (lo, hi)


def _measure_stack(fmts, float_layers, fixed_layers, x):
    """Per layer |h_fixed - h_float| and |c_fixed - c_float|, (T, H) each."""
    xf, xi = x[None], fmts.vec.quantize(x[None])
    out = []
    for wf, wq in zip(float_layers, fixed_layers):
        xf, cf = lstm_layer(xf, wf)
        xi, ci = lstm_layer_fixed(xi, wq)
        out.append((np.abs(fmts.vec.to_float(xi[0]) - xf[0]),
                    np.abs(fmts.preact.to_float(ci[0]) - cf[0])))
    return out


def _assert_within(bound, measured):
    for lb, (eh, ec) in zip(bound.layers, measured):
        assert lb.h.shape == eh.shape and lb.c.shape == ec.shape
        assert np.all(np.isfinite(lb.h)) and np.all(np.isfinite(lb.c))
        assert np.all(eh <= lb.h), (lb.name, "h", float(np.max(eh - lb.h)))
        assert np.all(ec <= lb.c), (lb.name, "c", float(np.max(ec - lb.c)))


# ------------------------------------------------------------------------ terms
@given(fmt_frac=st.integers(-2, 14), drop=st.integers(1, 20), rounding=st.sampled_from(ROUNDING_MODES),
       seed=st.integers(0, 2**31))
def test_rounding_error_term_covers_requantize(fmt_frac, drop, rounding, seed):
    fmt = QFormat(40, fmt_frac, True, rounding, "saturate")
    src = fmt_frac + drop
    a = np.random.default_rng(seed).integers(-2**30, 2**30, size=2000)
    err = fmt.to_float(fmt.requantize(a, src)) - a * 2.0 ** -src
    c, r = eb.rounding_error(fmt, src)
    assert np.all(err >= c - r) and np.all(err <= c + r)
    assert eb.rounding_error(fmt, fmt_frac) == (0.0, 0.0)


@given(fmts=formats_strategy)
def test_activation_error_term_covers_every_code(fmts):
    z = np.arange(fmts.preact.int_min, fmts.preact.int_max + 1)
    zr = fmts.preact.to_float(z)
    for kind, fn in ((SIGMOID, lambda v: 1 / (1 + np.exp(-v))), (TANH, np.tanh)):
        measured = np.max(np.abs(fmts.act.to_float(activate(z, kind, fmts)) - fn(zr)))
        assert measured <= eb.activation_error(kind, fmts)


# ------------------------------------------------------------------------ properties
@given(case=stack_cases())
def test_trajectory_bound_holds_for_random_stacks(case):
    fmts, float_layers, x, _ = case
    fixed = [FixedLSTMWeights.from_float(w, fmts) for w in float_layers]
    measured = _measure_stack(fmts, float_layers, fixed, x)
    _assert_within(eb.trajectory_bound(fixed, x, float_layers), measured)
    # with only the fixed weights: the float weights are any that round to them
    _assert_within(eb.trajectory_bound(fixed, x), measured)


@given(case=stack_cases())
def test_static_bound_holds_for_random_stacks(case):
    fmts, float_layers, x, box = case
    fixed = [FixedLSTMWeights.from_float(w, fmts) for w in float_layers]
    measured = _measure_stack(fmts, float_layers, fixed, x)
    _assert_within(eb.static_bound(fixed, x.shape[0], box, float_layers), measured)
    _assert_within(eb.static_bound(fixed, x.shape[0], box), measured)


@st.composite
def autoencoder_cases(draw):
    fmts = draw(formats_strategy)
    cfg = AutoencoderConfig(draw(st.integers(1, 3)),
                            tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=2))),
                            tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=2))),
                            draw(st.integers(1, 8)))
    seed = draw(st.integers(0, 2**31))
    ae = realistic_weights(cfg, seed)
    w = fmts.weight
    ae = Autoencoder(cfg, [LSTMWeights(_fit(layer.kernel, w), _fit(layer.recurrent, w), _fit(layer.bias, w))
                           for layer in ae.layers], _fit(ae.dense_kernel, w), _fit(ae.dense_bias, w))
    return fmts, ae, synthetic_windows(2, cfg, seed + 1)


def _assert_autoencoder_bounds_hold(ae, fmts, x):
    """Static and trajectory bounds cover every measured error, with the float weights
    known and without them (the same integers, source unknown)."""
    fx = ae.quantize(fmts)
    recon, layers = _autoencoder_errors(fx, ae, x)
    bare = FixedAutoencoder(fx.cfg, fx.layers, fx.dense_kernel, fx.dense_bias, fmts)
    for model in (fx, bare):
        static = eb.static_autoencoder_bound(model, (0.0, 1.0))
        for n in range(x.shape[0]):
            b = eb.trajectory_autoencoder_bound(model, x[n])
            _assert_within(b, [(eh[n], ec[n]) for eh, ec in layers])
            assert np.all(recon[n] <= b.reconstruction)
            _assert_within(static, [(eh[n], ec[n]) for eh, ec in layers])
            assert np.all(recon[n] <= static.reconstruction)


@given(case=autoencoder_cases())
def test_autoencoder_bounds_hold_for_random_configs(case):
    fmts, ae, x = case
    _assert_autoencoder_bounds_hold(ae, fmts, x)


@st.composite
def per_layer_autoencoder_cases(draw):
    """An autoencoder whose every layer (and the Dense layer) has formats of its own."""
    cfg = AutoencoderConfig(draw(st.integers(1, 3)),
                            tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=2))),
                            tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=2))),
                            draw(st.integers(1, 8)))
    layers = tuple(draw(saturating_formats()) for _ in range(cfg.num_layers))
    dense = DenseFormats(draw(saturating_formats()).weight, draw(saturating_formats()).vec)
    fm = ModelFormats(layers, dense)
    seed = draw(st.integers(0, 2**31))
    ae = realistic_weights(cfg, seed)
    ae = Autoencoder(cfg, [LSTMWeights(*(_fit(t, f.weight) for t in (w.kernel, w.recurrent, w.bias)))
                           for w, f in zip(ae.layers, layers)],
                     _fit(ae.dense_kernel, dense.weight), _fit(ae.dense_bias, dense.weight))
    return fm, ae, synthetic_windows(2, cfg, seed + 1)


def _autoencoder_errors(fx, ae, x):
    """|fixed - float| of the reconstruction and of every layer, each in its own formats."""
    fm = fx.formats
    fw = ae.forward_float(x)
    fi = fx.forward_int(fx.quantize_windows(x))
    recon = np.abs(fm.output.to_float(fi["reconstruction"]) - fw["reconstruction"])
    layers = [(np.abs(f.vec.to_float(hi) - hf), np.abs(f.preact.to_float(ci) - cf))
              for f, hi, hf, ci, cf in zip(fm.layers, fi["h"], fw["h"], fi["c"], fw["c"])]
    return recon, layers


@given(case=per_layer_autoencoder_cases())
def test_autoencoder_bounds_hold_with_per_layer_formats(case):
    fm, ae, x = case
    event("the layers' vec formats differ" if len({f.vec for f in fm.layers}) > 1
          else "one vec format")
    _assert_autoencoder_bounds_hold(ae, fm, x)


def _coarse_second_layer():
    """Two layers: the first keeps h in Q2.14, the second takes it in Q2.5 (9 bits of
    h dropped between them), so the requantization error dominates the second layer."""
    cfg = AutoencoderConfig(2, (6,), (6,), 6)
    coarse = LSTMFormats(QFormat(8, 5, name="vec"), DEFAULT_FORMATS.weight,
                         DEFAULT_FORMATS.preact, DEFAULT_FORMATS.act)
    fm = ModelFormats((DEFAULT_FORMATS, coarse), DenseFormats(DEFAULT_FORMATS.weight,
                                                              DEFAULT_FORMATS.vec))
    ae = realistic_weights(cfg, 4)
    return ae, ae.quantize(fm), synthetic_windows(6, cfg, 5)


def test_bound_covers_the_requantization_between_layers():
    ae, fx, x = _coarse_second_layer()
    recon, layers = _autoencoder_errors(fx, ae, x)
    for n in range(x.shape[0]):
        b = eb.trajectory_autoencoder_bound(fx, x[n])
        _assert_within(b, [(eh[n], ec[n]) for eh, ec in layers])
        assert np.all(recon[n] <= b.reconstruction)
        # the decoder's h error is of the order of its coarse input's LSB, not more
        assert b.layers[1].h.max() < 64 * 2.0 ** -5


def test_bound_without_the_requantization_term_fails(monkeypatch):
    """Dropping the error of the inter-layer requantization breaks the bound."""
    ae, fx, x = _coarse_second_layer()
    recon, layers = _autoencoder_errors(fx, ae, x)
    monkeypatch.setattr(eb, "_requant_form", lambda h, hf, src, dst, sym: (hf, hf.bound()))
    violated = False
    for n in range(x.shape[0]):
        b = eb.trajectory_autoencoder_bound(fx, x[n])
        violated |= bool(np.any(layers[1][0][n] > b.layers[1].h) or np.any(recon[n] > b.reconstruction))
    assert violated


def test_reference_topology_bound_holds_on_realistic_windows():
    ae = realistic_weights(AutoencoderConfig(), 0)
    fx = ae.quantize()
    x = synthetic_windows(40, ae.cfg, 0)[::20]            # two windows far apart
    recon, layers = _autoencoder_errors(fx, ae, x)
    bounds = eb.trajectory_autoencoder_bounds(fx, x)
    for n, b in enumerate(bounds):
        _assert_within(b, [(eh[n], ec[n]) for eh, ec in layers])
        assert np.all(recon[n] <= b.reconstruction)
        assert b.notes["symbols"] == 2 * sum(ae.cfg.hidden_sizes) * ae.cfg.timesteps
    tight = max(b.reconstruction_max for b in bounds) / recon.max()
    print(f"reference reconstruction: bound {max(b.reconstruction_max for b in bounds):.3g}, "
          f"observed {recon.max():.3g}, tightness {tight:.0f}x")
    static = eb.static_autoencoder_bound(fx)
    assert np.all(recon <= static.reconstruction)


def test_single_layer_6_to_32_bound_and_tightness():
    rng = np.random.default_rng(0)
    w = realistic_layer(rng, 6, 32)
    wq = FixedLSTMWeights.from_float(w)
    x = synthetic_windows(64, AutoencoderConfig(), 1)
    xf, _ = lstm_layer(x, w)
    xi, _ = lstm_layer_fixed(DEFAULT_FORMATS.vec.quantize(x), wq)
    err = np.abs(DEFAULT_FORMATS.vec.to_float(xi) - xf)
    worst = 0.0
    for n in range(0, 64, 16):
        b = eb.trajectory_bound([wq], x[n], [w])
        assert np.all(err[n] <= b.layers[0].h)
        worst = max(worst, b.layers[0].h.max())
    print(f"6->32 layer: bound {worst:.3g}, observed {err[::16].max():.3g}, "
          f"tightness {worst / err[::16].max():.1f}x")


def test_exact_case_bound_is_the_known_error():
    """All weights zero but a bias that the weight format holds exactly and a float
    bias off the grid: after one step every error is the known, exact bias error
    propagated, and the bound must contain it while staying within a few LSBs."""
    fmts = DEFAULT_FORMATS
    b = np.array([0.3, 1.1, -0.7, 0.4]) + fmts.weight.lsb / 3
    w = LSTMWeights(np.zeros((1, 4)), np.zeros((1, 4)), b)
    wq = FixedLSTMWeights.from_float(w, fmts)
    x = np.zeros((1, 1))
    bound = eb.trajectory_bound([wq], x, [w]).layers[0]
    (eh, ec), = _measure_stack(fmts, [w], [wq], x)
    assert np.all(eh <= bound.h) and np.all(ec <= bound.c)
    assert bound.h.max() < 8 * fmts.act.lsb + 2 * fmts.preact.lsb


def test_bound_without_rounding_terms_fails(monkeypatch):
    """The property tests can fail: dropping the rounding terms breaks the bound."""
    rng = np.random.default_rng(3)
    w = realistic_layer(rng, 6, 32)
    wq = FixedLSTMWeights.from_float(w)
    x = synthetic_windows(4, AutoencoderConfig(), 2)
    xf, cf = lstm_layer(x, w)
    xi, ci = lstm_layer_fixed(DEFAULT_FORMATS.vec.quantize(x), wq)
    err = np.abs(DEFAULT_FORMATS.preact.to_float(ci) - cf)
    monkeypatch.setattr(eb, "rounding_error", lambda fmt, frac: (0.0, 0.0))
    monkeypatch.setattr(eb, "activation_error", lambda kind, fmts: 0.0)
    violated = any(np.any(err[n] > eb.trajectory_bound([wq], x[n], [w]).layers[0].c)
                   for n in range(4))
    assert violated


def test_static_bound_grows_with_steps_and_is_finite():
    rng = np.random.default_rng(1)
    w = _random_layer(rng, 3, 4, 0.5, DEFAULT_FORMATS)
    wq = FixedLSTMWeights.from_float(w)
    b = eb.static_bound([wq], 12, (0.0, 1.0), [w])
    e = b.layers[0].h_per_step
    assert np.all(np.isfinite(e)) and np.all(np.diff(e) >= -1e-18)
    assert b.gain >= 1.0
    assert set(b.to_dict()) >= {"method", "layers", "gain"}


def test_bad_input_is_refused():
    wq = FixedLSTMWeights.from_float(_random_layer(np.random.default_rng(0), 2, 3, 0.5,
                                                   DEFAULT_FORMATS))
    with pytest.raises(ShapeError, match="window"):
        eb.trajectory_bound([wq], np.zeros((4, 3)))
    with pytest.raises(ShapeError, match="steps"):
        eb.static_bound([wq], 0)
    with pytest.raises(ShapeError, match="input_range"):
        eb.static_bound([wq], 3, (1.0, 0.0))
    wrap = LSTMFormats(DEFAULT_FORMATS.vec, DEFAULT_FORMATS.weight,
                       QFormat(16, 11, overflow="wrap", name="preact"), DEFAULT_FORMATS.act)
    wq_wrap = FixedLSTMWeights(wq.kernel, wq.recurrent, wq.bias, wrap)
    with pytest.raises(FormatError, match="wraps"):
        eb.static_bound([wq_wrap], 3)
    other = FixedLSTMWeights.from_float(_random_layer(np.random.default_rng(0), 2, 3, 0.5,
                                                      DEFAULT_FORMATS))
    with pytest.raises(ShapeError, match="input size"):
        eb.trajectory_bound([wq, other], np.zeros((4, 2)))
