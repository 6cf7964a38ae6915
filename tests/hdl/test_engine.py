"""The whole engine in MyHDL simulation against golden.lstm_fixed, with back-pressure.

Sequences with random tlast marks are streamed through small engines (hypothesis
draws D, H, P, the weights' scale, the inputs, idle gaps and the out_tready pattern);
every output must equal golden.lstm_fixed.lstm_layer_fixed run sequence by sequence
(h and c return to 0 after tlast), arrive exactly once and in order, stay stable
while held, and keep the documented timing: cfg.latency_cycles from beat to h,
beats cfg.beat_spacing apart when streamed back to back (the next beat is taken while
the previous step drains).
"""

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from golden.formats import DEFAULT_FORMATS as FM
from golden.lstm_fixed import FixedLSTMWeights, lstm_layer_fixed
from golden.memory_map import layer_image
from hdl.config import EngineConfig
from cosim.engine import run_engine


def golden_outputs(w, xs, lasts):
    """h of every step, the state cleared after each tlast step."""
    out, start = [], 0
    for t, last in enumerate(lasts):
        if last or t == len(lasts) - 1:
            hs, _ = lstm_layer_fixed(np.array(xs[start:t + 1])[None], w)
            out += [[int(v) for v in row] for row in hs[0]]
            start = t + 1
    return out


def random_weights(rng, d, h, scale):
    lo, hi = max(FM.weight.int_min, -scale), min(FM.weight.int_max, scale)
    return FixedLSTMWeights.from_ints(rng.integers(lo, hi + 1, (d, 4 * h)),
                                      rng.integers(lo, hi + 1, (h, 4 * h)),
                                      rng.integers(lo, hi + 1, 4 * h), FM)


@st.composite
def engine_cases(draw):
    # short steps need a step gap; D + H >= P + 13 overlaps with none (both branches)
    d = draw(st.sampled_from([1, 2, 3, 4, 13, 16]))
    h = draw(st.sampled_from([1, 2, 3, 4, 6]))
    p = draw(st.sampled_from([k for k in range(1, h + 1) if h % k == 0]))
    steps = draw(st.integers(1, 6))
    scale = draw(st.sampled_from([256, 4096, 1 << 15]))   # mild, typical, saturating
    lasts = draw(st.lists(st.booleans(), min_size=steps, max_size=steps))
    # short random patterns, or long stalls that hold an h across the next step
    ready = draw(st.one_of(st.lists(st.integers(0, 1), min_size=1, max_size=7).filter(any),
                           st.integers(10, 60).map(lambda n: [0] * n + [1])))
    gaps = draw(st.lists(st.integers(0, 3), min_size=steps, max_size=steps))
    seed = draw(st.integers(0, 2**32 - 1))
    return d, h, p, scale, lasts, ready, gaps, seed


@settings(max_examples=max(4, settings.default.max_examples // 2))
@given(case=engine_cases())
# found by the regress profile: while an h was held the idle lanes kept accumulating
# full-scale products until the accumulator left its range
@example(case=(1, 1, 1, 1 << 15, [False] * 4, [0] * 26 + [1], [0] * 4, 2))
def test_engine_streams_golden_steps_under_back_pressure(case):
    d, h, p, scale, lasts, ready, gaps, seed = case
    cfg = EngineConfig(d, h, p)
    rng = np.random.default_rng(seed)
    w = random_weights(rng, d, h, scale)
    xs = rng.integers(FM.vec.int_min, FM.vec.int_max + 1, (len(lasts), d)).tolist()
    run = run_engine(cfg, layer_image(w, p), list(zip(xs, lasts)), ready=ready, gaps=gaps)
    assert run.violations == []
    assert [o[0] for o in run.outputs] == golden_outputs(w, xs, lasts)
    assert [o[1] for o in run.outputs] == [bool(x) for x in lasts]
    assert_timing(cfg, run)


def assert_timing(cfg, run):
    """The documented timing, measured edge by edge.

    A step's h is first seen valid latency_cycles edges after its beat was taken,
    unless the previous h was still held: then right after that one is taken.  Beats
    are at least beat_spacing apart, a beat is taken before the previous step's h is
    out only while the output register is empty (the h before it taken), and one
    finished h at most waits in the engine (the beat after next waits until the held
    h is taken).
    """
    lat, spacing = cfg.latency_cycles, cfg.beat_spacing
    acc, first, taken = run.accept_edges, run.first_valid_edges, run.output_edges
    for n in range(len(first)):
        expect = acc[n] + lat if n == 0 else max(acc[n] + lat, taken[n - 1] + 1)
        assert first[n] == expect, (n, acc, first, taken)
    assert all(b >= a + spacing for a, b in zip(acc, acc[1:]))
    assert all(b >= o + 1 for o, b in zip(taken, acc[2:]))


@pytest.mark.parametrize("d, h, p", [(2, 4, 1), (2, 4, 4), (5, 3, 3), (13, 2, 2), (16, 4, 2)],
                         ids=lambda v: str(v))
def test_back_to_back_spacing_is_beat_spacing(d, h, p):
    """Streaming with out_tready high: beats are taken exactly beat_spacing apart while
    each h comes latency_cycles after its beat; with D + H >= P + 13 there is no gap."""
    cfg = EngineConfig(d, h, p)
    rng = np.random.default_rng(7)
    w = random_weights(rng, d, h, 4096)
    xs = rng.integers(FM.vec.int_min, FM.vec.int_max + 1, (4, d)).tolist()
    lasts = [False, False, False, True]
    run = run_engine(cfg, layer_image(w, p), list(zip(xs, lasts)))
    assert [o[0] for o in run.outputs] == golden_outputs(w, xs, lasts)
    spacing = [b - a for a, b in zip(run.accept_edges, run.accept_edges[1:])]
    assert spacing == [cfg.beat_spacing] * 3
    assert run.latencies == [cfg.latency_cycles] * 4
    assert cfg.latency_cycles == (h // p) * (d + h) + p + cfg.step_overhead > cfg.beat_spacing
    if d + h >= p + 13:
        assert cfg.beat_spacing == (h // p) * (d + h) and cfg.mac_utilisation == 1.0


@pytest.mark.parametrize("d, h, p", [(2, 4, 4), (5, 3, 3), (1, 1, 1), (2, 4, 1)], ids=lambda v: str(v))
def test_one_cycle_less_than_the_step_gap_reads_h_too_early(monkeypatch, d, h, p):
    """The derived gap is tight: one cycle less and step t+1 reads an h_prev element
    before step t wrote it (wrong values), so the gap is not padding."""
    cfg = EngineConfig(d, h, p)
    gap = cfg.step_gap
    assert gap > 0
    rng = np.random.default_rng(3)
    w = random_weights(rng, d, h, 4096)
    xs = rng.integers(FM.vec.int_min, FM.vec.int_max + 1, (4, d)).tolist()
    lasts = [False] * 4
    monkeypatch.setattr(EngineConfig, "step_gap", property(lambda self: gap - 1))
    run = run_engine(cfg, layer_image(w, p), list(zip(xs, lasts)))
    assert [b - a for a, b in zip(run.accept_edges, run.accept_edges[1:])] == [cfg.beat_spacing] * 3
    assert [o[0] for o in run.outputs] != golden_outputs(w, xs, lasts)


def test_held_output_blocks_the_step_after_next():
    """With out_tready low for long stretches a finished h waits, and so does in_tready."""
    cfg = EngineConfig(2, 2, 1)
    rng = np.random.default_rng(11)
    w = random_weights(rng, 2, 2, 4096)
    xs = rng.integers(FM.vec.int_min, FM.vec.int_max + 1, (3, 2)).tolist()
    ready = [0] * 60 + [1]
    run = run_engine(cfg, layer_image(w, 1), [(x, False) for x in xs], ready=ready)
    assert run.violations == []
    assert [o[0] for o in run.outputs] == golden_outputs(w, xs, [False] * 3)
    # each output waited for the ready cycle (ready[c] drives the cycle ending at edge c+1)
    assert all((e - 1) % len(ready) == len(ready) - 1 for e in run.output_edges)
    assert_timing(cfg, run)
    # the second beat is taken one beat spacing after the first (the output register
    # is empty while the first step drains); its h then waits in the assembly register
    # behind the first, and the third beat only after the first h has been taken
    assert run.accept_edges[1] == run.accept_edges[0] + cfg.beat_spacing
    assert run.accept_edges[2] == run.output_edges[0] + 1


@pytest.mark.parametrize("wait", [0, 5, 13], ids=lambda w: f"wait{w}")
def test_reset_mid_step_restarts_from_zero_state(wait):
    """rst loses the steps in flight; the next beats start a new sequence (h = c = 0).

    The reset comes ``wait`` cycles after beat 2 is taken: beat 2 is lost, and so is
    beat 1 (taken one beat spacing earlier, still draining) unless its h came out first.
    """
    cfg = EngineConfig(2, 4, 2)
    assert wait < cfg.cycles_per_step
    rng = np.random.default_rng(5)
    w = random_weights(rng, 2, 4, 4096)
    xs = rng.integers(FM.vec.int_min, FM.vec.int_max + 1, (5, 2)).tolist()
    run = run_engine(cfg, layer_image(w, 2), [(x, False) for x in xs], reset_after=(2, wait, 3))
    assert run.violations == []
    kept = 2 if wait >= cfg.latency_cycles - cfg.beat_spacing else 1
    want = golden_outputs(w, xs[:kept], [False] * kept) + golden_outputs(w, xs[3:], [False, False])
    assert [o[0] for o in run.outputs] == want


def other_formats(name):
    """Non-default format sets: every width in the RTL must follow them."""
    from golden.formats import LSTMFormats, QFormat
    if name == "narrow":
        return LSTMFormats(QFormat(12, 9, name="vec"), QFormat(10, 7, name="weight"),
                           QFormat(14, 9, name="preact", rounding="floor"), QFormat(12, 10, name="act"))
    if name == "wide":   # activation scale 2^31: constants MyHDL writes with a size
        return LSTMFormats(QFormat(24, 20, name="vec"), QFormat(18, 14, name="weight"),
                           QFormat(20, 14, name="preact"), QFormat(20, 18, name="act"))
    return FM.with_rounding("floor")


@pytest.mark.parametrize("fmts_name", ["narrow", "wide", "floor"])
def test_engine_follows_other_formats(fmts_name):
    fm = other_formats(fmts_name)
    cfg = EngineConfig(3, 4, 2, fm)
    rng = np.random.default_rng(13)
    lo, hi = fm.weight.int_min, fm.weight.int_max + 1
    w = FixedLSTMWeights.from_ints(rng.integers(lo, hi, (3, 16)), rng.integers(lo, hi, (4, 16)),
                                   rng.integers(lo, hi, 16), fm)
    xs = rng.integers(fm.vec.int_min, fm.vec.int_max + 1, (4, 3)).tolist()
    lasts = [False, True, False, False]
    run = run_engine(cfg, layer_image(w, 2), list(zip(xs, lasts)))
    assert [o[0] for o in run.outputs] == golden_outputs(w, xs, lasts)
    assert_timing(cfg, run)
