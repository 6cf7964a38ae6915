"""The fast kernels' arithmetic choices: float64 where the formats prove it exact, int64
where they do not, activations by lookup; every result equal to a reference written
with Python integers (no float, no int64 wrap), clamp counts included.

The reference (:func:`reference_layer`) states one step element by element in Python
ints: exact accumulators, round and overflow exactly as each format says, the
activation of each code by :func:`golden.activations.activate` (the interpolated
table, the contract the kernels share with the hardware).
"""

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import golden.lstm_fixed as lstm_fixed
from golden.activations import SIGMOID, TANH, activate
from golden.autoencoder import AutoencoderConfig, realistic_weights, synthetic_windows
from golden.formats import (DEFAULT_FORMATS, OVERFLOW_MODES, ROUNDING_MODES, TABLE_STEP_LOG2,
                            ClampCounts, DenseFormats, FormatError, LSTMFormats, ModelFormats,
                            QFormat)
from golden.lstm_fixed import FixedLSTMWeights, check_exact, lstm_layer_fixed


# ------------------------------------------------------------------ the reference
def _requantize(v: int, src_frac: int, fmt: QFormat):
    """Python int ``v`` with ``src_frac`` fraction bits -> (code, clamped?) in ``fmt``."""
    shift = src_frac - fmt.frac_bits
    if shift <= 0:
        r = v << -shift
    elif fmt.rounding == "nearest_posinf":
        r = (v + (1 << (shift - 1))) >> shift          # Python's >> floors
    else:
        r = v >> shift
    over = not fmt.int_min <= r <= fmt.int_max
    if over and fmt.overflow == "saturate":
        r = min(max(r, fmt.int_min), fmt.int_max)
    elif over:
        r = (r - fmt.int_min) % (1 << fmt.word_bits) + fmt.int_min
    return r, over


def _act(code: int, kind: str, fmts: LSTMFormats) -> int:
    return int(activate(np.array([code], dtype=np.int64), kind, fmts)[0])


def reference_layer(x, w: FixedLSTMWeights, h0=None, c0=None):
    """(h_seq, c_seq, clamps) of a plain LSTM layer, in Python ints; clamps counts
    (clamped, seen) per tensor as :class:`golden.formats.ClampCounts` names them."""
    f = w.fmts
    b, t, d = x.shape
    hs = w.hidden_size
    k = [[int(v) for v in row] for row in w.kernel]
    r = [[int(v) for v in row] for row in w.recurrent]
    bias = [int(v) << f.vec.frac_bits for v in w.bias]
    big = max(f.act.frac_bits + f.preact.frac_bits, 2 * f.act.frac_bits)
    a_fc = big - f.act.frac_bits - f.preact.frac_bits
    a_ig = big - 2 * f.act.frac_bits
    counts = {name: [0, 0] for name in ("z_i", "z_f", "z_g", "z_o", "c", "h")}
    h_seq = np.zeros((b, t, hs), np.int64)
    c_seq = np.zeros((b, t, hs), np.int64)
    for n in range(b):
        h = [0] * hs if h0 is None else [int(v) for v in h0[n]]
        c = [0] * hs if c0 is None else [int(v) for v in c0[n]]
        for s in range(t):
            xs = [int(v) for v in x[n, s]]
            z = []
            for j in range(4 * hs):
                acc = (sum(xs[i] * k[i][j] for i in range(d))
                       + sum(h[i] * r[i][j] for i in range(hs)) + bias[j])
                code, over = _requantize(acc, f.acc_frac, f.preact)
                gate = ("z_i", "z_f", "z_g", "z_o")[j // hs]
                counts[gate][0] += over
                counts[gate][1] += 1
                z.append(code)
            h_new, c_new = [], []
            for u in range(hs):
                i_, f_, o_ = (_act(z[g * hs + u], SIGMOID, f) for g in (0, 1, 3))
                g_ = _act(z[2 * hs + u], TANH, f)
                cu, over = _requantize(((f_ * c[u]) << a_fc) + ((i_ * g_) << a_ig), big, f.preact)
                counts["c"][0] += over
                counts["c"][1] += 1
                hu, over = _requantize(o_ * _act(cu, TANH, f), 2 * f.act.frac_bits, f.vec)
                counts["h"][0] += over
                counts["h"][1] += 1
                h_new.append(hu)
                c_new.append(cu)
            h, c = h_new, c_new
            h_seq[n, s], c_seq[n, s] = h, c
    return h_seq, c_seq, counts


def _kernel_counts(clamps: ClampCounts, layer=None) -> dict:
    """The requantization points' counts (of ``layer``, or keyed by (layer, tensor) for
    all); the tanh table-end counts are tested on their own (test_spec)."""
    return {(t if layer is not None else (name, t)): list(v)
            for (name, t), v in clamps.counts.items()
            if (layer is None or name == layer) and not t.startswith("tanh_")}


def assert_layer_equals_reference(x, w, h0=None, c0=None):
    h_ref, c_ref, counts = reference_layer(x, w, h0, c0)
    h, c = lstm_layer_fixed(x, w, h0, c0)
    np.testing.assert_array_equal(c, c_ref)
    np.testing.assert_array_equal(h, h_ref)
    clamps = ClampCounts()
    h2, c2 = lstm_layer_fixed(x, w, h0, c0, clamps=clamps, layer="L")
    np.testing.assert_array_equal(h2, h_ref)
    np.testing.assert_array_equal(c2, c_ref)
    assert _kernel_counts(clamps, "L") == counts
    return counts


# ------------------------------------------------------------------ strategies
def _codes(rng, fmt, shape):
    """Codes of ``fmt``: the extremes, small values and the full range mixed."""
    lo, hi = fmt.int_min, fmt.int_max
    pick = rng.integers(0, 3, size=shape)
    return np.choose(pick, [rng.integers(lo, hi + 1, size=shape),
                            rng.choice(np.array([lo, hi, 0, -1, 1]), size=shape),
                            rng.integers(lo // 64, hi // 64 + 1, size=shape)])


@st.composite
def wide_formats(draw):
    """LSTMFormats with words up to 30 bits: the accumulators of many of them exceed
    what float64 holds exactly (the int64 path); preact words up to 20 bits (beyond
    the lookup table's 18)."""
    def fmt(name, word, frac):
        return QFormat(word, frac, True, draw(st.sampled_from(ROUNDING_MODES)),
                       draw(st.sampled_from(OVERFLOW_MODES)), name)

    wide = draw(st.booleans())                  # x, h and weights of 24..30 bits

    def word(least):
        return draw(st.integers(24, 30) if wide else st.integers(least, 18))

    vw = word(4)
    vec = fmt("vec", vw, draw(st.integers(1, vw - 1)))
    need = max(0, TABLE_STEP_LOG2 - vec.frac_bits)
    ww = word(max(4, need + 1))
    weight = fmt("weight", ww, draw(st.integers(need, ww - 1)))
    aw = draw(st.integers(4, 18))
    act = fmt("act", aw, draw(st.integers(1, aw - 2)))
    top = min(14, vec.frac_bits + weight.frac_bits)
    # mostly preact words the lookup table serves, sometimes wider ones (evaluated)
    evaluated = top >= 11 and draw(st.integers(0, 3)) == 0
    pf = draw(st.integers(11 if evaluated else TABLE_STEP_LOG2, top))
    pw = draw(st.integers(19, pf + 8) if evaluated else st.integers(pf + 1, min(18, pf + 8)))
    preact = fmt("preact", pw, pf)
    return LSTMFormats(vec, weight, preact, act)


@st.composite
def layer_cases(draw):
    fmts = draw(wide_formats())
    d, h = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    b, t = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    w = FixedLSTMWeights.from_ints(_codes(rng, fmts.weight, (d, 4 * h)),
                                   _codes(rng, fmts.weight, (h, 4 * h)),
                                   _codes(rng, fmts.weight, (4 * h,)), fmts)
    return (_codes(rng, fmts.vec, (b, t, d)), w, _codes(rng, fmts.vec, (b, h)),
            _codes(rng, fmts.preact, (b, h)))


# ------------------------------------------------------------------ properties
@settings(max_examples=60)
@given(layer_cases())
def test_layer_equals_the_python_int_reference(case):
    x, w, h0, c0 = case
    counts = assert_layer_equals_reference(x, w, h0, c0)
    event(f"accumulator in {check_exact(w.fmts, w.input_size + w.hidden_size)}")
    event("lookup table" if w.fmts.preact.word_bits <= lstm_fixed.LOOKUP_MAX_WORD_BITS
          else "activation evaluated")
    event("clamps" if any(c for c, _ in counts.values()) else "no clamps")


SMALL = AutoencoderConfig(3, (4, 3), (3, 4), 4)


@st.composite
def per_layer_formats(draw):
    """Per-layer formats that differ between layers, some beyond float64's exactness."""
    layers = tuple(draw(wide_formats()) for _ in range(SMALL.num_layers))
    def fmt(name):
        word = draw(st.integers(8, 30))
        return QFormat(word, word - 1 - draw(st.integers(1, 3)), True,
                       draw(st.sampled_from(ROUNDING_MODES)), "saturate", name)
    return ModelFormats(layers, DenseFormats(fmt("weight"), fmt("out")))


def _reference_autoencoder(fx, x_int):
    """The autoencoder on :func:`reference_layer` and Python-int requantizations."""
    fm = fx.formats
    names = fx.layer_names
    counts = {}
    seq = x_int
    latent = None
    ne = len(fx.cfg.encoder_sizes)
    for k, w in enumerate(fx.layers):
        if k == ne:
            seq = np.repeat(latent[:, None, :], fx.cfg.timesteps, axis=1)
        if k and fm.layers[k].vec != fm.layers[k - 1].vec:
            src, dst = fm.layers[k - 1].vec, fm.layers[k].vec
            pairs = [_requantize(int(v), src.frac_bits, dst) for v in seq.ravel()]
            seq = np.array([p for p, _ in pairs], np.int64).reshape(seq.shape)
            counts[(names[k], "x")] = [sum(o for _, o in pairs), len(pairs)]
        seq, _, layer_counts = reference_layer(seq, w)
        counts.update({(names[k], t): v for t, v in layer_counts.items()})
        if k == ne - 1:
            latent = seq[:, -1, :]
    wd = fm.dense.weight
    kd = [[int(v) for v in row] for row in fx.dense_kernel]
    bd = [int(v) << fm.dense_in.frac_bits for v in fx.dense_bias]
    y = np.zeros(seq.shape[:2] + (len(bd),), np.int64)
    over = 0
    for idx in np.ndindex(*seq.shape[:2]):
        hv = [int(v) for v in seq[idx]]
        for j in range(len(bd)):
            acc = sum(hv[i] * kd[i][j] for i in range(len(hv))) + bd[j]
            y[idx + (j,)], o = _requantize(acc, wd.frac_bits + fm.dense_in.frac_bits, fm.output)
            over += o
    counts[("dense", "y")] = [over, y.size]
    return y, counts


@settings(max_examples=15)
@given(fm=per_layer_formats(), seed=st.integers(0, 2**16))
def test_autoencoder_with_per_layer_formats_equals_the_reference(fm, seed):
    rng = np.random.default_rng(seed)
    ae = realistic_weights(SMALL, seed % 5)
    from golden.autoencoder import FixedAutoencoder
    layers = []
    for k, f in enumerate(fm.layers):
        d, h = SMALL.layer_shapes[k]
        layers.append(FixedLSTMWeights.from_ints(_codes(rng, f.weight, (d, 4 * h)),
                                                 _codes(rng, f.weight, (h, 4 * h)),
                                                 _codes(rng, f.weight, (4 * h,)), f))
    dk = _codes(rng, fm.dense.weight, (SMALL.hidden_sizes[-1], SMALL.features))
    db = _codes(rng, fm.dense.weight, (SMALL.features,))
    fx = FixedAutoencoder(SMALL, layers, dk, db, fm, source=ae)
    x_int = _codes(rng, fm.input, (2, SMALL.timesteps, SMALL.features))
    y_ref, counts = _reference_autoencoder(fx, x_int)
    np.testing.assert_array_equal(fx.forward_int(x_int)["reconstruction"], y_ref)
    clamps = ClampCounts()
    np.testing.assert_array_equal(fx.forward_int(x_int, clamps)["reconstruction"], y_ref)
    assert _kernel_counts(clamps) == counts
    event("int64 somewhere" if any(check_exact(f, sum(SMALL.layer_shapes[k])) == "int64"
                                   for k, f in enumerate(fm.layers)) else "float64 only")


# ------------------------------------------------------------------ the exactness bound
def test_bound_is_reached_by_the_worst_codes():
    """The bound is the magnitude of the worst accumulator the formats allow (every code
    the most negative, the bias too), plus the rounding half: reached, not exceeded."""
    f = DEFAULT_FORMATS
    terms = 7
    worst = terms * f.vec.int_min * f.weight.int_min - (f.weight.int_min << f.vec.frac_bits)
    half = 1 << (f.acc_frac - f.preact.frac_bits - 1)
    assert lstm_fixed.accumulator_bound(f, terms) == abs(worst) + half
    w = FixedLSTMWeights.from_ints(np.full((3, 16), f.weight.int_min),
                                   np.full((4, 16), f.weight.int_min),
                                   np.full(16, -f.weight.int_min - 1), f)
    acc = lstm_fixed.gate_accumulators(np.full((1, 3), f.vec.int_min),
                                       np.full((1, 4), f.vec.int_min), w)
    assert int(acc.max()) + half <= lstm_fixed.accumulator_bound(f, terms)


def _fmts(vec_word, weight_word, preact=(20, 14), rounding="nearest_posinf"):
    vec = QFormat(vec_word, vec_word - 1, name="vec")
    weight = QFormat(weight_word, weight_word - 1, name="weight")
    return LSTMFormats(vec, weight, QFormat(*preact, rounding=rounding, name="preact"),
                       QFormat(16, 14, name="act"))


def test_arithmetic_follows_the_bound():
    assert check_exact(DEFAULT_FORMATS, 128) == "float64"        # 128 * 2^30 + 2^29 + 2^14
    # 27-bit words, Q1.26: one product 2^52, the aligned bias 2^26 << 26 = 2^52: exactly
    # 2^53 when the preact rounds down, one rounding half (2^37) more when it rounds up
    assert check_exact(_fmts(27, 27, rounding="floor"), 1) == "float64"
    assert check_exact(_fmts(27, 27), 1) == "int64"
    assert check_exact(_fmts(27, 27), 3) == "int64"
    with pytest.raises(FormatError, match="beyond the 63 bits of int64"):
        check_exact(_fmts(32, 33), 4)
    with pytest.raises(FormatError, match="beyond the 63 bits of int64"):
        FixedLSTMWeights.from_ints(np.zeros((2, 8), np.int64), np.zeros((2, 8), np.int64),
                                   np.zeros(8, np.int64), _fmts(32, 33))._gate_plan


def _wide_case(preact):
    """A layer whose accumulators pass 2^53 with odd values near a rounding tie: float64
    cannot hold them; the exact sum decides the pre-activation."""
    f = _fmts(27, 27, preact)
    big = f.weight.int_max                      # 2^26 - 1, odd
    d, h = 3, 2
    kernel = np.full((d, 4 * h), big, np.int64)
    kernel[2, 1::2] = -big
    recurrent = np.full((h, 4 * h), big, np.int64)
    recurrent[1, ::2] = -big + 2
    bias = np.arange(4 * h, dtype=np.int64) - 3
    w = FixedLSTMWeights.from_ints(kernel, recurrent, bias, f)
    x = np.full((2, 3, d), f.vec.int_max, np.int64)
    x[1, :, 1] = f.vec.int_min + 1
    h0 = np.full((2, h), f.vec.int_max, np.int64)
    return x, w, h0


def _exact_accumulators(x, h, w):
    """x Wk + h Wr + (b << vec.frac) in Python ints."""
    xh = [[int(v) for v in np.concatenate([x[n], h[n]])] for n in range(x.shape[0])]
    cols = np.concatenate([w.kernel, w.recurrent]).T
    return [[sum(a * int(c) for a, c in zip(row, col)) + (int(b) << w.fmts.vec.frac_bits)
             for col, b in zip(cols, w.bias)] for row in xh]


@pytest.mark.parametrize("preact", [(20, 14), (18, 10)], ids=["evaluated", "lookup"])
def test_int64_path_is_exact_where_float64_is_not(preact):
    x, w, h0 = _wide_case(preact)
    assert check_exact(w.fmts, w.input_size + w.hidden_size) == "int64"
    exact = _exact_accumulators(x[:, 0], h0, w)
    flat = [v for row in exact for v in row]
    assert max(abs(v) for v in flat) > 2**53                    # beyond float64 ...
    assert any(int(float(v)) != v for v in flat)                 # ... and not representable
    assert lstm_fixed.gate_accumulators(x[:, 0], h0, w).tolist() == exact
    assert_layer_equals_reference(x, w, h0)


def test_float64_forced_on_the_wide_case_is_caught(monkeypatch):
    """The planted bug: take the float64 path where the bound says int64.  The
    accumulators then lose their low bits, and the exact comparison sees it."""
    x, w, h0 = _wide_case((20, 14))
    monkeypatch.setattr(lstm_fixed, "FLOAT64_EXACT", 1 << 62)
    assert w._gate_plan.arithmetic == "float64"
    assert lstm_fixed.gate_accumulators(x[:, 0], h0, w).tolist() != _exact_accumulators(
        x[:, 0], h0, w)


# ------------------------------------------------------------------ lookup tables
@pytest.mark.parametrize("preact", [QFormat(16, 11), QFormat(9, 6, True, "floor", "wrap"),
                                    QFormat(18, 10)], ids=["Q5.11", "Q3.6-floor-wrap", "Q8.10"])
def test_lookup_equals_activate_at_every_code(preact):
    f = LSTMFormats(DEFAULT_FORMATS.vec, DEFAULT_FORMATS.weight, preact.renamed("preact"),
                    DEFAULT_FORMATS.act)
    z = np.arange(preact.int_min, preact.int_max + 1, dtype=np.int64).reshape(1, -1)
    beyond = np.array([[preact.int_min - 1, preact.int_max + 1, 4 * preact.int_min]])
    for kind in (SIGMOID, TANH):
        np.testing.assert_array_equal(lstm_fixed.activate_codes(z, kind, f), activate(z, kind, f))
        # integers outside the preact codes take activate's own clamp, not a wrong entry
        np.testing.assert_array_equal(lstm_fixed.activate_codes(beyond, kind, f),
                                      activate(beyond, kind, f))
    quarter = z[:, :(z.shape[1] // 4) * 4]
    gates = lstm_fixed.gate_activations(quarter, f)
    q = quarter.shape[1] // 4
    for g, kind in enumerate((SIGMOID, SIGMOID, TANH, SIGMOID)):
        np.testing.assert_array_equal(gates[g], activate(quarter[:, g * q:(g + 1) * q], kind, f))


def test_clamp_counting_changes_nothing_on_the_workload_model():
    ae = realistic_weights(SMALL, 2)
    fx = ae.quantize(DEFAULT_FORMATS)
    x = synthetic_windows(3, SMALL, seed=5) * 12.0 - 6.0
    clamps = ClampCounts()
    np.testing.assert_array_equal(fx.reconstruct_int(x), fx.reconstruct_int(x, clamps))
    assert clamps.total > 0


def test_dense_layer_beyond_float64_is_exact():
    """The Dense layer takes int64 where its sums pass 2^53: an output format with the
    accumulator's own fraction keeps every bit, so a lost bit would show."""
    vec = QFormat(28, 27, name="vec")
    f = LSTMFormats(vec, QFormat(16, 14, name="weight"), QFormat(16, 11, name="preact"),
                    QFormat(16, 14, name="act"))
    dense = DenseFormats(QFormat(28, 27, name="weight"), QFormat(60, 54, name="out"))
    fm = ModelFormats((f,) * SMALL.num_layers, dense)
    layers = [FixedLSTMWeights.from_ints(np.zeros((d, 4 * h), np.int64), np.zeros((h, 4 * h), np.int64),
                                         np.zeros(4 * h, np.int64), f) for d, h in SMALL.layer_shapes]
    hl = SMALL.hidden_sizes[-1]
    kernel = np.full((hl, SMALL.features), dense.weight.int_max, np.int64)
    kernel[0, ::2] -= 2
    bias = np.arange(SMALL.features, dtype=np.int64) - 2
    from golden.autoencoder import FixedAutoencoder
    fx = FixedAutoencoder(SMALL, layers, kernel, bias, fm)
    assert fx._dense_arithmetic == "int64"
    h = np.full((2, 1, hl), vec.int_max, np.int64)
    h[1, 0, 1] = vec.int_min + 3
    exact = [[[sum(int(a) * int(k) for a, k in zip(h[n, 0], kernel[:, j]))
               + (int(bias[j]) << vec.frac_bits) for j in range(SMALL.features)]] for n in range(2)]
    assert max(abs(v) for row in exact for v in row[0]) > 2**53
    assert any(int(float(v)) != v for row in exact for v in row[0])
    assert fx.dense_int(h).tolist() == exact


@given(word=st.integers(2, 40), frac=st.integers(-4, 40), from_frac=st.integers(-4, 60),
       rounding=st.sampled_from(ROUNDING_MODES), overflow=st.sampled_from(OVERFLOW_MODES),
       seed=st.integers(0, 2**32 - 1))
def test_in_place_requantization_equals_the_format_s(word, frac, from_frac, rounding, overflow,
                                                     seed):
    fmt = QFormat(word, frac, True, rounding, overflow)
    rng = np.random.default_rng(seed)
    limit = 1 << max(1, 62 - max(0, fmt.frac_bits - from_frac) - 1)
    v = rng.integers(-limit, limit, size=64)
    v[:4] = [0, -1, 1, -limit]
    expect = [_requantize(int(a), from_frac, fmt)[0] for a in v]
    assert lstm_fixed._requantize_owned(fmt, v.copy(), from_frac).tolist() == expect
    assert fmt.requantize(v, from_frac).tolist() == expect
