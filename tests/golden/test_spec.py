"""The fast integer kernels equal the fxpmath specification, compared as integers.

Random formats (within LSTMFormats' rules, both rounding modes, both overflow modes),
random sizes, weights and inputs with extremes; saturation is shown to occur; planted
bugs in the kernels are shown to be caught by the same comparison.
"""

import numpy as np
import pytest
from hypothesis import event, find, given, settings, target
from hypothesis import strategies as st

import golden.lstm_fixed as lstm_fixed
from golden.activations import activate
from golden.formats import (DEFAULT_FORMATS, FormatError, LSTMFormats, OVERFLOW_MODES,
                            QFormat, ROUNDING_MODES, TABLE_STEP_LOG2)
from golden.lstm_fixed import (FixedLSTMWeights, bidirectional_layer_fixed, lstm_layer_fixed,
                               step)
from golden.lstm_float import ShapeError
from golden.lstm_spec import spec_bidirectional, spec_layer, spec_step

MAX_SIZE = 8


# ------------------------------------------------------------------------ strategies
@st.composite
def lstm_formats(draw):
    """Any LSTMFormats its validity rules allow, words of 4..18 bits."""
    def fmt(name, word, frac):
        return QFormat(word, frac, True, draw(st.sampled_from(ROUNDING_MODES)),
                       draw(st.sampled_from(OVERFLOW_MODES)), name)

    vec_word = draw(st.integers(4, 18))
    # Often no integer bit, so that h = +1 overflows the vec format.
    vec = fmt("vec", vec_word, draw(st.one_of(st.just(vec_word - 1), st.integers(1, vec_word - 1))))
    # preact.frac >= TABLE_STEP_LOG2 and <= vec.frac + weight.frac.
    need = max(0, TABLE_STEP_LOG2 - vec.frac_bits)
    weight_word = draw(st.integers(max(4, need + 1), 18))
    weight = fmt("weight", weight_word, draw(st.integers(need, weight_word - 1)))
    act_word = draw(st.integers(4, 18))
    act = fmt("act", act_word, draw(st.integers(1, act_word - 2)))      # 1.0 representable
    preact_frac = draw(st.integers(TABLE_STEP_LOG2, min(16, vec.frac_bits + weight.frac_bits)))
    # The table holds at most 4096 entries: word - 1 - (frac - step) <= 12.
    preact_word = draw(st.integers(preact_frac + 1, preact_frac + 8))
    preact = fmt("preact", preact_word, preact_frac)
    return LSTMFormats(vec, weight, preact, act)


def _codes(rng, fmt, shape, mode):
    """Integers of ``fmt``: full range, extremes only, small, or a mixture."""
    lo, hi = fmt.int_min, fmt.int_max
    full = rng.integers(lo, hi + 1, size=shape)
    if mode == "full":
        return full
    extreme = rng.choice(np.array([lo, hi, 0, -1, 1]), size=shape)
    if mode == "extreme":
        return extreme
    small = rng.integers(lo // 16, hi // 16 + 1, size=shape)
    if mode == "small":
        return small
    pick = rng.integers(0, 3, size=shape)
    return np.choose(pick, [full, extreme, small])


MODES = ("full", "extreme", "small", "mixed")


@st.composite
def lstm_cases(draw, peephole=None):
    """(x, weights, h0, c0): a random layer and sequences with random initial state."""
    fmts = draw(lstm_formats())
    d = draw(st.integers(1, MAX_SIZE))
    h = draw(st.integers(1, MAX_SIZE))
    b = draw(st.integers(1, 3))
    t = draw(st.integers(1, 4))
    use_peephole = draw(st.booleans()) if peephole is None else peephole
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    wmode, xmode, smode = (draw(st.sampled_from(MODES)) for _ in range(3))
    w = FixedLSTMWeights.from_ints(
        _codes(rng, fmts.weight, (d, 4 * h), wmode), _codes(rng, fmts.weight, (h, 4 * h), wmode),
        _codes(rng, fmts.weight, (4 * h,), wmode), fmts,
        peephole=_codes(rng, fmts.weight, (3, h), wmode) if use_peephole else None)
    x = _codes(rng, fmts.vec, (b, t, d), xmode)
    h0 = _codes(rng, fmts.vec, (b, h), smode)
    c0 = _codes(rng, fmts.preact, (b, h), smode)
    return x, w, h0, c0


# ------------------------------------------------------------------------ comparison
def assert_fast_equals_spec(x, w, h0=None, c0=None, trace=None):
    """Run both models over the sequences; raise AssertionError at the first difference."""
    h_fast, c_fast = lstm_layer_fixed(x, w, h0, c0)
    h_spec, c_spec = spec_layer(x, w, h0, c0, trace=trace)
    for name, fast, spec in (("c", c_fast, c_spec), ("h", h_fast, h_spec)):
        bad = np.argwhere(fast != spec)
        if bad.size:
            first = tuple(int(v) for v in bad[0])
            raise AssertionError(f"{name} differs at (batch, step, unit) = {first}: fast "
                                 f"{fast[first]} != spec {spec[first]} ({len(bad)} elements "
                                 f"differ); formats:\n{w.fmts.describe()}")
    return h_spec, c_spec


@given(lstm_cases())
def test_fast_kernels_equal_spec(case):
    x, w, h0, c0 = case
    trace = {}
    assert_fast_equals_spec(x, w, h0, c0, trace)
    overflowed = 0
    for point in ("z", "c", "h"):
        if trace[point]:
            event(f"{point} overflowed ({'peephole' if w.has_peephole else 'plain'})")
            overflowed += trace[point]
    target(overflowed / max(1, trace["z total"]), label="overflowed fraction")


def _fast_overflows(x, w, h0, c0):
    """Elements that overflow at z, c and h, found with the integer kernels' pieces
    (cheap enough to search many cases; the spec's trace confirms the one found)."""
    f = w.fmts
    hs = w.hidden_size
    h, c = h0, c0
    counts = {"z": 0, "c": 0, "h": 0}

    def outside(fmt, v):
        return int(np.count_nonzero((v < fmt.int_min) | (v > fmt.int_max)))

    for s in range(x.shape[1]):
        acc = lstm_fixed.gate_accumulators(x[:, s], h, w)
        if w.has_peephole:
            acc[:, :hs] += lstm_fixed.peephole_term(w.peephole[0], c, f)
            acc[:, hs:2 * hs] += lstm_fixed.peephole_term(w.peephole[1], c, f)
        counts["z"] += outside(f.preact, f.preact.shift_round(acc, f.acc_frac - f.preact.frac_bits))
        z = f.preact.requantize(acc, f.acc_frac)
        i, ff, g = (activate(z[:, k * hs:(k + 1) * hs], kind, f)
                    for k, kind in enumerate(("sigmoid", "sigmoid", "tanh")))
        big = max(f.act.frac_bits + f.preact.frac_bits, 2 * f.act.frac_bits)
        total = ((ff * c) << (big - f.act.frac_bits - f.preact.frac_bits)) + ((i * g) << (big - 2 * f.act.frac_bits))
        counts["c"] += outside(f.preact, f.preact.shift_round(total, big - f.preact.frac_bits))
        h_next, c = lstm_fixed.step(x[:, s], h, c, w)
        acc_o = acc[:, 3 * hs:]
        if w.has_peephole:
            acc_o = acc_o + lstm_fixed.peephole_term(w.peephole[2], c, f)
        o = activate(f.preact.requantize(acc_o, f.acc_frac), "sigmoid", f)
        prod = o * activate(c, "tanh", f)
        counts["h"] += outside(f.vec, f.vec.shift_round(prod, 2 * f.act.frac_bits - f.vec.frac_bits))
        h = h_next
    return counts


def _saturates(point):
    def condition(case):
        return _fast_overflows(*case)[point] > 0
    return condition


@pytest.mark.parametrize("point", ["z", "c", "h"])
def test_case_strategy_reaches_saturation(point):
    """The property above exercises overflow at every requantization point: the same
    strategy yields cases where ``point`` overflows (find raises if it never does)."""
    x, w, h0, c0 = find(lstm_cases(), _saturates(point), settings=settings(max_examples=500))
    trace = {}
    assert_fast_equals_spec(x, w, h0, c0, trace)
    assert trace[point] == _fast_overflows(x, w, h0, c0)[point] > 0


def test_extreme_weights_saturate_every_point_and_match():
    """Extreme weights and inputs drive z, c and h to the ends of their formats."""
    vec = QFormat(16, 15, name="vec")           # range [-1, 1): h = o tanh(c) = 1 saturates
    fmts = LSTMFormats(vec, DEFAULT_FORMATS.weight, DEFAULT_FORMATS.preact, DEFAULT_FORMATS.act)
    d, h, b, t = 3, 4, 2, 20
    wf = fmts.weight
    kernel = np.full((d, 4 * h), wf.int_max)
    kernel[:, 2 * h:3 * h] = wf.int_min                    # g gates pushed negative
    kernel[:, h:2 * h] = wf.int_max                        # forget gate open
    recurrent = np.zeros((h, 4 * h), np.int64)
    bias = np.full(4 * h, wf.int_max)
    bias[2 * h:3 * h] = wf.int_min
    w = FixedLSTMWeights.from_ints(kernel, recurrent, bias, fmts)
    x = np.full((b, t, d), vec.int_max)
    c0 = np.array([[0] * h, [fmts.preact.int_max] * h])   # second sequence starts at c = max
    x[1, :, 0] = vec.int_min                               # ... and sees other inputs
    trace = {}
    h_spec, c_spec = assert_fast_equals_spec(x, w, c0=c0, trace=trace)
    z = lstm_fixed.gate_preact(x[:, 0], np.zeros((b, h), np.int64), w)
    assert z.max() == fmts.preact.int_max and z.min() == fmts.preact.int_min
    # i = f = o = 1 and g = -1 exactly: c falls by 1 per step and saturates after 16.
    assert (c_spec[0, -1] == fmts.preact.int_min).all()
    # tanh(c) = -1, so h = -1 = vec.int_min; starting from c = 16, tanh(c) = 1 and
    # h = +1, which Q1.15 cannot hold: it saturates to int_max.
    assert (h_spec[0, -1] == vec.int_min).all()
    assert (h_spec[1, 0] == vec.int_max).all()
    assert trace["z"] > 0 and trace["c"] > 0 and trace["h"] > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bidirectional_fast_equals_spec(seed):
    rng = np.random.default_rng(seed)
    fmts = DEFAULT_FORMATS.with_rounding(ROUNDING_MODES[seed % 2])
    d, h, b, t = 3, 2 + seed, 2, 4

    def layer(peephole):
        return FixedLSTMWeights.from_ints(
            _codes(rng, fmts.weight, (d, 4 * h), "mixed"), _codes(rng, fmts.weight, (h, 4 * h), "mixed"),
            _codes(rng, fmts.weight, (4 * h,), "mixed"), fmts,
            peephole=_codes(rng, fmts.weight, (3, h), "mixed") if peephole else None)

    forward, backward = layer(False), layer(seed == 1)
    x = _codes(rng, fmts.vec, (b, t, d), "mixed")
    hf, cf = bidirectional_layer_fixed(x, forward, backward)
    hs, cs = spec_bidirectional(x, forward, backward)
    assert hf.shape == (b, t, 2 * h)
    np.testing.assert_array_equal(hf, hs)
    np.testing.assert_array_equal(cf, cs)
    # Halves are the two directions: forward over x, backward over reversed x.
    np.testing.assert_array_equal(hf[..., :h], lstm_layer_fixed(x, forward)[0])
    np.testing.assert_array_equal(hf[:, ::-1, h:], lstm_layer_fixed(x[:, ::-1], backward)[0])


def test_zero_peephole_is_plain_lstm():
    rng = np.random.default_rng(5)
    fmts = DEFAULT_FORMATS
    d, h = 3, 4
    k, r, b = (_codes(rng, fmts.weight, s, "mixed") for s in ((d, 4 * h), (h, 4 * h), (4 * h,)))
    plain = FixedLSTMWeights.from_ints(k, r, b, fmts)
    zero = FixedLSTMWeights.from_ints(k, r, b, fmts, peephole=np.zeros((3, h), np.int64))
    x = _codes(rng, fmts.vec, (2, 5, d), "mixed")
    for run in (lstm_layer_fixed, spec_layer):
        np.testing.assert_array_equal(run(x, plain)[0], run(x, zero)[0])
        np.testing.assert_array_equal(run(x, plain)[1], run(x, zero)[1])
    # ... and a non-zero peephole changes the result (the option is not ignored).
    some = FixedLSTMWeights.from_ints(k, r, b, fmts, peephole=np.full((3, h), fmts.weight.one))
    assert not np.array_equal(lstm_layer_fixed(x, plain)[1], lstm_layer_fixed(x, some)[1])


@pytest.mark.parametrize("vec_frac", [14, 9], ids=["shift-left", "rounded"])
def test_peephole_alignment(vec_frac):
    """p*c has weight.frac + preact.frac fraction bits; it is aligned to acc_frac exactly
    when vec.frac >= preact.frac and rounded otherwise; fast == spec in both cases."""
    fmts = LSTMFormats(QFormat(16, vec_frac, name="vec"), DEFAULT_FORMATS.weight,
                       DEFAULT_FORMATS.preact, DEFAULT_FORMATS.act)
    term = lstm_fixed.peephole_term(np.array([3]), np.array([5]), fmts)
    shift = fmts.acc_frac - (fmts.weight.frac_bits + fmts.preact.frac_bits)
    assert int(term[0]) == (15 << shift if shift >= 0 else (15 + (1 << (-shift - 1))) >> -shift)
    rng = np.random.default_rng(vec_frac)
    d, h = 2, 3
    w = FixedLSTMWeights.from_ints(*(_codes(rng, fmts.weight, s, "mixed")
                                     for s in ((d, 4 * h), (h, 4 * h), (4 * h,))), fmts,
                                   peephole=_codes(rng, fmts.weight, (3, h), "full"))
    assert_fast_equals_spec(_codes(rng, fmts.vec, (2, 4, d), "full"), w,
                            c0=_codes(rng, fmts.preact, (2, h), "full"))


# ---------------------------------------------------------------- planted bugs
def _floor_cell_state(i, f, g, c_prev, fmts):
    fc_frac = fmts.act.frac_bits + fmts.preact.frac_bits
    ig_frac = 2 * fmts.act.frac_bits
    big = max(fc_frac, ig_frac)
    s = (f * c_prev << (big - fc_frac)) + (i * g << (big - ig_frac))
    return fmts.preact.fit(s >> (big - fmts.preact.frac_bits))        # bug: floor, not round


def _floor_activate(z, kind, fmts):
    floor_act = QFormat(fmts.act.word_bits, fmts.act.frac_bits, True, "floor", fmts.act.overflow)
    return activate(z, kind, LSTMFormats(fmts.vec, fmts.weight, fmts.preact, floor_act))


def _wrapping_gate_preact(x, h, w):
    p = w.fmts.preact
    wrap = QFormat(p.word_bits, p.frac_bits, True, p.rounding, "wrap")
    return wrap.requantize(lstm_fixed.gate_accumulators(x, h, w), w.fmts.acc_frac)  # bug: wraps


@pytest.mark.parametrize("name, replacement", [
    ("cell_state", _floor_cell_state),
    ("activate", _floor_activate),
    ("gate_preact", _wrapping_gate_preact),
], ids=["floor-in-cell-update", "floor-in-activation", "wrap-in-preact"])
def test_planted_bug_is_caught(monkeypatch, name, replacement):
    rng = np.random.default_rng(11)
    fmts = DEFAULT_FORMATS
    d, h = 4, 6
    w = FixedLSTMWeights.from_ints(*(_codes(rng, fmts.weight, s, "mixed")
                                     for s in ((d, 4 * h), (h, 4 * h), (4 * h,))), fmts)
    x = _codes(rng, fmts.vec, (3, 4, d), "mixed")
    assert_fast_equals_spec(x, w)                      # the genuine kernels agree
    monkeypatch.setattr(lstm_fixed, name, replacement)
    with pytest.raises(AssertionError, match="differs at"):
        assert_fast_equals_spec(x, w)


# ---------------------------------------------------------------- bad input
def test_spec_refuses_out_of_range_and_misshapen_input():
    fmts = DEFAULT_FORMATS
    w = FixedLSTMWeights.from_ints(np.zeros((2, 8), np.int64), np.zeros((2, 8), np.int64),
                                   np.zeros(8, np.int64), fmts)
    with pytest.raises(FormatError, match="x: integers span"):
        spec_step(np.array([[fmts.vec.int_max + 1, 0]]), np.zeros((1, 2), np.int64),
                  np.zeros((1, 2), np.int64), w)
    with pytest.raises(ShapeError, match="spec_step"):
        spec_step(np.zeros((1, 3), np.int64), np.zeros((1, 2), np.int64),
                  np.zeros((1, 2), np.int64), w)
    with pytest.raises(FormatError, match="expected integers"):
        spec_layer(np.zeros((1, 2, 2)), w)


def test_single_vector_step_matches_batch():
    rng = np.random.default_rng(3)
    fmts = DEFAULT_FORMATS
    w = FixedLSTMWeights.from_ints(*(_codes(rng, fmts.weight, s, "full")
                                     for s in ((2, 12), (3, 12), (12,))), fmts)
    x, h0, c0 = (_codes(rng, f, (n,), "full") for f, n in ((fmts.vec, 2), (fmts.vec, 3), (fmts.preact, 3)))
    h1, c1 = spec_step(x, h0, c0, w)
    hb, cb = step(x[None], h0[None], c0[None], w)
    assert h1.shape == (3,)
    np.testing.assert_array_equal(h1, hb[0])
    np.testing.assert_array_equal(c1, cb[0])


@given(case=lstm_cases(), second=st.integers(0, 2**32 - 1))
def test_reverse_and_bidirectional_with_initial_state_equal_spec(case, second):
    """Time direction and initial state (golden.directions): kernels == spec, the final
    states included, and a reverse run is the forward run of the reversed sequence."""
    x, w, h0, c0 = case
    got = lstm_layer_fixed(x, w, h0, c0, reverse=True)
    want = spec_layer(x, w, h0, c0, reverse=True)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    plain = spec_layer(x[:, ::-1], w, h0, c0)
    np.testing.assert_array_equal(want[0], plain[0][:, ::-1])
    rng = np.random.default_rng(second)
    fm = w.fmts
    other = FixedLSTMWeights.from_ints(*(_codes(rng, fm.weight, s, "mixed")
                                         for s in ((w.input_size, 4 * w.hidden_size),
                                                   (w.hidden_size, 4 * w.hidden_size),
                                                   (4 * w.hidden_size,))), fm)
    states = ((h0, _codes(rng, fm.vec, h0.shape, "mixed")), (c0, _codes(rng, fm.preact, c0.shape, "mixed")))
    fast = bidirectional_layer_fixed(x, w, other, *states, return_state=True)
    spec = spec_bidirectional(x, w, other, None, *states, return_state=True)
    for a, b in zip(fast[:2], spec[:2]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(fast[2:], spec[2:]):
        np.testing.assert_array_equal(np.stack(a), np.stack(b))
    # the final states are the forward half's last step and the reverse half's first
    hs = w.hidden_size
    np.testing.assert_array_equal(spec[2][0], spec[0][:, -1, :hs])
    np.testing.assert_array_equal(spec[2][1], spec[0][:, 0, hs:])


def test_tanh_beyond_the_table_end_is_counted():
    """A narrow preact (Q3.13, range 4) ends tanh's table at |z| = 2 (tanh(2) = 0.96):
    the candidate inputs and cell states beyond it are counted, as many as the
    specification's own trace of z and c holds; the default formats never count them."""
    from golden.activations import tanh_input_limit
    from golden.formats import ClampCounts

    narrow = LSTMFormats(DEFAULT_FORMATS.vec, DEFAULT_FORMATS.weight,
                         QFormat(16, 13, name="preact"), DEFAULT_FORMATS.act)
    assert tanh_input_limit(DEFAULT_FORMATS) is None
    limit = tanh_input_limit(narrow)
    assert limit == (2 ** 15 - 1) // 2
    rng = np.random.default_rng(3)
    h = 4
    bias = rng.integers(-6000, 6000, 4 * h)
    bias[:2 * h] += 16384                # i and f open: c builds up past the table's end
    w = FixedLSTMWeights.from_ints(rng.integers(-6000, 6000, (3, 4 * h)),
                                   rng.integers(-6000, 6000, (h, 4 * h)), bias, narrow)
    x = rng.integers(narrow.vec.int_min, narrow.vec.int_max, (5, 6, 3))
    clamps = ClampCounts()
    lstm_layer_fixed(x, w, clamps=clamps, layer="l")
    h_seq, c = spec_layer(x, w)
    # z of every step from the specification's h sequence, in plain integer arithmetic
    h_prev = np.concatenate([np.zeros_like(h_seq[:, :1]), h_seq[:, :-1]], axis=1)
    acc = (x.astype(object) @ w.kernel.astype(object) + h_prev.astype(object) @ w.recurrent.astype(object)
           + (w.bias.astype(object) << narrow.vec.frac_bits))
    z_g = narrow.preact.requantize(acc.astype(np.int64), narrow.acc_frac)[..., 2 * h:3 * h]
    want_g = int(np.count_nonzero(np.abs(z_g) > limit))
    want_c = int(np.count_nonzero(np.abs(c) > limit))
    assert want_g > 0 and want_c > 0
    assert clamps.counts[("l", "tanh_g")] == [want_g, z_g.size]
    assert clamps.counts[("l", "tanh_c")] == [want_c, c.size]
    # the peephole step with zero peepholes computes the same and counts the same
    zero = FixedLSTMWeights.from_ints(w.kernel, w.recurrent, w.bias, narrow,
                                      peephole=np.zeros((3, h), np.int64))
    peep = ClampCounts()
    lstm_layer_fixed(x, zero, clamps=peep, layer="l")
    assert peep.counts[("l", "tanh_g")] == clamps.counts[("l", "tanh_g")]
    assert peep.counts[("l", "tanh_c")] == clamps.counts[("l", "tanh_c")]
    default = ClampCounts()
    lstm_layer_fixed(x, FixedLSTMWeights.from_ints(w.kernel, w.recurrent, w.bias, DEFAULT_FORMATS),
                     clamps=default, layer="l")
    assert not any(t.startswith("tanh_") for _, t in default.counts)
