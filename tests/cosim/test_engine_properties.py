"""Properties of the converted LSTM engine, each checked through the Verilog (Icarus).

(a) RTL == fast golden kernel == fxpmath specification, bit for bit;
(b) |RTL - float| never exceeds the derived error bound;
(c) at extremes the outputs saturate, never wrap;
(d) gaps, back-pressure and resets do not change results;
(e) measured cycles equal the documented latency and beat spacing.

Every example is a seed plus a few small parameters (see cosim.engine.random_case):
a failure names them, saves the case and keeps a VCD (see docs/verification.md).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from cosim.configs import ci_configs
from cosim.engine import WEIGHT_MODES, EngineCase, check_cycles, random_case, saturation_case
from cosim.runner import verify
from cosim.traffic import Traffic

pytestmark = pytest.mark.cosim

CONFIGS = ci_configs()
CONFIG_IDS = [c.module_name.replace("lstm_engine_", "") for c in CONFIGS]
BY_ID = dict(zip(CONFIG_IDS, CONFIGS))
# Draw a configuration by its short name, so a falsifying example reads
# cfg='d2_h4_p2_v2q14_w4q12_z5q11_a2q14' rather than a dump of its formats.
configs = st.sampled_from(CONFIG_IDS).map(BY_ID.__getitem__)
seeds = st.integers(0, 2**32 - 1)


def run(designs, case, traffic=None, **kw):
    stim = case.stimulus(traffic)
    trace = verify(designs(case.cfg), stim, case.reference(), context=case.context,
                   name=f"{case.cfg.module_name}", **kw)
    return stim, trace


# ----------------------------------------------------------------------------- (a)
@given(cfg=configs, seed=seeds, n_sequences=st.integers(1, 3), max_len=st.integers(1, 5),
       weight_mode=st.sampled_from(WEIGHT_MODES), input_mode=st.sampled_from(("scaled", "uniform", "extreme")))
def test_rtl_equals_golden_and_spec(designs, cfg, seed, n_sequences, max_len, weight_mode, input_mode):
    from golden.lstm_spec import spec_layer

    case = random_case(cfg, seed, n_sequences=n_sequences, max_len=max_len, weight_mode=weight_mode,
                       input_mode=input_mode)
    _, trace = run(designs, case)
    rtl = case.rtl_h(trace)
    for k, (seq, fast) in enumerate(zip(case.sequences, case.golden_h())):
        spec, _ = spec_layer(np.asarray(seq)[None], case.weights)
        assert np.array_equal(spec[0], fast), f"sequence {k}: fxpmath spec != fast kernel ({case.context})"
        assert np.array_equal(rtl[k], spec[0]), f"sequence {k}: RTL != fxpmath spec ({case.context})"


# ----------------------------------------------------------------------------- (b)
@given(cfg=configs, seed=seeds, steps=st.integers(1, 12), scale=st.sampled_from((0.25, 0.5, 1.0)))
def test_rtl_within_error_bound_of_float(designs, cfg, seed, steps, scale):
    from golden.error_bound import trajectory_bound
    from golden.lstm_fixed import FixedLSTMWeights
    from golden.lstm_float import LSTMWeights, lstm_layer

    fm = cfg.fmts
    rng = np.random.default_rng(seed)
    d, h = cfg.input_size, cfg.hidden_size
    lim = fm.weight.max

    def draw(shape):
        return np.clip(rng.normal(0.0, scale, shape), -lim, lim)

    w_float = LSTMWeights(draw((d, 4 * h)), draw((h, 4 * h)), draw(4 * h))
    w_fixed = FixedLSTMWeights.from_float(w_float, fm)
    x = rng.uniform(0.0, 1.0, (steps, d))
    case = EngineCase(cfg, w_fixed, [fm.vec.quantize(x)], Traffic.smooth(steps),
                      {"property": "error bound", "seed": seed, "config": cfg.module_name,
                       "steps": steps, "scale": scale})
    _, trace = run(designs, case)
    rtl = fm.vec.to_float(case.rtl_h(trace)[0])
    ref, _ = lstm_layer(x[None], w_float)
    bound = trajectory_bound([w_fixed], x, float_layers=[w_float]).layers[0].h
    err = np.abs(rtl - ref[0])
    worst = np.unravel_index(np.argmax(err - bound), err.shape)
    assert np.all(err <= bound), (f"|RTL - float| = {err[worst]:.3g} exceeds the bound {bound[worst]:.3g} "
                                  f"at step {worst[0]}, unit {worst[1]} ({case.context})")


# ----------------------------------------------------------------------------- (c)
@pytest.mark.parametrize("cfg", CONFIGS, ids=CONFIG_IDS)
def test_saturation_never_wraps(designs, cfg):
    """All weights and inputs at the top of their range: z and c saturate; h climbs to 1.

    Independent of the golden model: with i = f = o = g = 1, c_t = min(t, preact.max)
    and h_t = tanh(c_t), so h never decreases and ends within a few LSB of 1.
    """
    from golden.activations import SIGMOID, TANH, error_bound_lsb

    fm = cfg.fmts
    case = saturation_case(cfg, +1)
    _, trace = run(designs, case)
    h = case.rtl_h(trace)[0]
    t = np.arange(1, len(h) + 1)
    expect = np.tanh(np.minimum(t, fm.preact.max))[:, None]
    # o and tanh(c) each within their table's derived bound of the math function (and
    # both at most 1), then h rounded once to vec: the tolerance follows from those.
    tol = (error_bound_lsb(SIGMOID, fm) + error_bound_lsb(TANH, fm)) * fm.act.lsb + fm.vec.lsb / 2
    assert np.all(np.diff(h, axis=0) >= 0), f"h decreased at saturation (wrapped?): {h[:, 0]}"
    assert np.all(np.abs(fm.vec.to_float(h) - expect) <= tol), (
        f"h far from tanh(min(t, {fm.preact.max})): {fm.vec.to_float(h[:, 0])}")
    # the opposite extreme: every gate saturates low, o = 0, so h is exactly 0
    low = saturation_case(cfg, -1)
    _, trace = run(designs, low)
    assert np.all(low.rtl_h(trace)[0] == 0)


@given(cfg=configs, signs=st.tuples(*[st.sampled_from((1, -1))] * 4), steps=st.integers(1, 24))
def test_mixed_extremes_match_golden_and_float(designs, cfg, signs, steps):
    from golden.error_bound import trajectory_bound
    from golden.lstm_float import lstm_layer

    fm = cfg.fmts
    case = saturation_case(cfg, gate_signs=signs, steps=steps)
    _, trace = run(designs, case)          # bit-exact against the golden model
    rtl = fm.vec.to_float(case.rtl_h(trace)[0])
    x = fm.vec.to_float(case.sequences[0])
    w_float = case.weights.to_float()
    ref, _ = lstm_layer(x[None], w_float)
    bound = trajectory_bound([case.weights], x, float_layers=[w_float]).layers[0].h
    assert np.all(np.abs(rtl - ref[0]) <= bound), f"saturated RTL strays from float ({case.context})"


# ----------------------------------------------------------------------------- (d)
@given(cfg=configs, seed=seeds, n_sequences=st.integers(1, 3), max_len=st.integers(1, 4),
       stall=st.sampled_from((0.2, 0.5, 0.8)), long_stalls=st.booleans(), gap_prob=st.sampled_from((0.0, 0.5)))
def test_traffic_does_not_change_results(designs, cfg, seed, n_sequences, max_len, stall, long_stalls, gap_prob):
    case = random_case(cfg, seed, n_sequences=n_sequences, max_len=max_len, stall_prob=stall,
                       gap_prob=gap_prob, long_stalls=long_stalls)
    _, stalled = run(designs, case)
    _, smooth = run(designs, case, Traffic.smooth(case.n_beats))
    assert [(o.data, o.last) for o in stalled.outputs] == [(o.data, o.last) for o in smooth.outputs]
    assert stalled.end_cycle >= smooth.end_cycle


@given(cfg=configs, seed=seeds, resets=st.integers(1, 3), stall=st.sampled_from((0.0, 0.5)))
def test_reset_mid_sequence_starts_afresh(designs, cfg, seed, resets, stall):
    """Resets at random points (mid-step, while an output waits, between beats): no beat
    after a reset is lost, duplicated or stale, and each segment starts from h = c = 0
    (the scoreboard's reference restarts there)."""
    case = random_case(cfg, seed, n_sequences=2, max_len=5, resets=resets, stall_prob=stall,
                       long_stalls=stall > 0)
    stim, trace = run(designs, case)
    assert len(trace.resets) == len(stim.reset_points)


# ----------------------------------------------------------------------------- (e)
@pytest.mark.parametrize("cfg", CONFIGS, ids=CONFIG_IDS)
def test_cycles_match_documented_formula(designs, cfg):
    lat = check_cycles(designs(cfg), random_case(cfg, 1, n_sequences=2, max_len=4))
    assert lat[0] == cfg.latency_cycles == (cfg.hidden_size // cfg.lanes) * cfg.columns + cfg.lanes + cfg.step_overhead
    assert cfg.ideal_cycles <= cfg.beat_spacing < cfg.latency_cycles <= 1.1 * cfg.ideal_cycles + 16


@given(cfg=configs, seed=seeds)
def test_latency_is_constant_under_input_gaps(designs, cfg, seed):
    from cosim.scoreboard import latencies

    case = random_case(cfg, seed, n_sequences=2, max_len=3)
    rng = np.random.default_rng(seed)
    traffic = Traffic.random(rng, case.n_beats, gap_prob=0.7, stall_prob=0.0)
    stim, trace = run(designs, case, traffic)
    assert {c for _, c in latencies(trace, stim)} == {cfg.latency_cycles}
