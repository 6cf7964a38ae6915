"""The co-simulation kit on its own small design: runners, agreement, checks, reports.

These tests use ``tests/cosim/toy_design.py`` (a saturating running sum with the
engine's port shape), so the kit is proven before and independently of the engine.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, strategies as st

from cosim.mutants import Mutant, MutantError, mutant_design
from cosim.runner import verify
from cosim.scoreboard import MismatchError, check, expected_segments, latencies
from cosim.stream import Stimulus, Trace
from cosim.tools import MissingToolError, require
from cosim.traffic import Traffic, stimulus
from cosim.verilog import pack_words, unpack_words

pytestmark = pytest.mark.cosim


def toy_case(rng, design, toy, n_beats, traffic_kw=None, extremes=False):
    shape = design.shape
    lo, hi = -(1 << (shape.in_bits - 1)), (1 << (shape.in_bits - 1)) - 1
    weights = [int(v) for v in rng.integers(lo, hi + 1, shape.in_count)]
    if extremes:
        weights = [hi if k % 2 else lo for k in range(shape.in_count)]
    image = [(k, w & ((1 << shape.data_bits) - 1)) for k, w in enumerate(weights)]
    beats = []
    for _ in range(n_beats):
        x = [int(v) for v in rng.integers(lo, hi + 1, shape.in_count)]
        beats.append((pack_words(x, shape.in_bits), bool(rng.random() < 0.3)))
    traffic = Traffic.random(rng, n_beats, **traffic_kw) if traffic_kw is not None else Traffic.smooth(n_beats)
    stim = stimulus(image, beats, traffic, max_cycles=5_000)

    def reference(xs, lasts):
        return toy.toy_reference(weights, list(zip(xs, lasts)), shape.in_bits)

    return stim, reference


# ------------------------------------------------------------------ pure Python parts
def test_packing_round_trip():
    vals = (-128, 127, 0, -1, 5)
    word = pack_words(vals, 8)
    assert word == 0x05_ff_00_7f_80
    assert unpack_words(word, 5, 8) == vals
    with pytest.raises(ValueError, match="does not fit"):
        pack_words([128], 8)


def test_stimulus_and_trace_text_round_trip():
    stim = Stimulus(((0, 5), (1, 0xff)), ((0x1234, False), (0xffff, True)), (0, 3),
                    (True, False, True), (2, -1), (1, 0), reset_cycles=3, tail_cycles=5, max_cycles=999)
    assert Stimulus.from_text(stim.to_text()) == stim
    assert stim.segments == [(0, 1), (1, 2)] and stim.expect_final == 1
    frames = replace(stim, expect_outputs=5)        # a device answering with its own count
    assert Stimulus.from_text(frames.to_text()) == frames and frames.expect_final == 5
    tr = Trace.from_text("in 0 5\nin 1 12\nout 11 10 0 67ff06\nrst 13\nviol 14 x y\nend 43 ok\n")
    assert tr.accepts == [(0, 5), (1, 12)] and tr.outputs[0].data == 0x67ff06
    assert tr.segment_of(12) == 0 and tr.segment_of(13) == 1
    assert Trace.from_text(tr.to_text()).core() == tr.core()


def test_missing_tool_names_the_install_command():
    with pytest.raises(MissingToolError, match="apt-get install"):
        require("no-such-simulator-xyz")


def test_bad_stimulus_is_refused_with_reason():
    with pytest.raises(ValueError, match="gaps has 1 entries for 2 beats"):
        Stimulus((), ((0, False), (0, True)), (0,))


# ------------------------------------------------------------------ through the simulators
def test_vpi_module_is_built_once(icarus):
    from cosim.vpi import build_myhdl_vpi
    assert icarus.is_file() and icarus.name == "myhdl.vpi"
    assert build_myhdl_vpi() == icarus


def test_icarus_toy_matches_reference_and_cycle_formula(icarus, toy_design, toy):
    rng = np.random.default_rng(1)
    stim, ref = toy_case(rng, toy_design, toy, 12)
    trace = verify(toy_design, stim, ref, name="toy-smooth")
    assert trace.xz_errors == 0
    assert {c for _, c in latencies(trace, stim)} == {toy_design.cycles_per_step}
    # the reference itself is independent arithmetic: spot-check one beat by hand
    shape = toy_design.shape
    exp = expected_segments(stim, shape, ref)[0]
    x0 = unpack_words(stim.beats[0][0], shape.in_count, shape.in_bits)
    w0 = [((a if a < 128 else a - 256)) for _, a in stim.image]
    assert exp[0][0] == tuple(max(-128, min(127, a + b)) for a, b in zip(x0, w0))


def test_icarus_and_verilator_agree_on_the_toy(icarus, verilator, toy_design, toy):
    rng = np.random.default_rng(7)
    stim, ref = toy_case(rng, toy_design, toy, 40, traffic_kw=dict(resets=3, stall_prob=0.5))
    ti = verify(toy_design, stim, ref, simulator="icarus", name="toy-agree")
    tv = verify(toy_design, stim, ref, simulator="verilator", name="toy-agree")
    assert ti.core() == tv.core()
    assert len(ti.resets) == 3 and ti.outputs


@given(seed=st.integers(0, 2**32 - 1), n_beats=st.integers(1, 25), resets=st.integers(0, 3),
       stall=st.sampled_from([0.0, 0.3, 0.8]), extremes=st.booleans())
def test_toy_under_random_traffic(icarus, toy_design, toy, seed, n_beats, resets, stall, extremes):
    rng = np.random.default_rng(seed)
    stim, ref = toy_case(rng, toy_design, toy, n_beats, extremes=extremes,
                         traffic_kw=dict(resets=resets, stall_prob=stall))
    verify(toy_design, stim, ref, context={"seed": seed, "n_beats": n_beats}, name="toy-random")


# ------------------------------------------------------------------ one host, every runner
def host_stimuli(toy_design, toy) -> dict:
    """Stimuli that visit the host's corners: back-pressure, gaps, resets, a timeout."""
    rng = np.random.default_rng(11)
    mixed, _ = toy_case(rng, toy_design, toy, 30, traffic_kw=dict(resets=3, stall_prob=0.5, gap_prob=0.5,
                                                                   stall_run_max=12))
    # a reset at once after the first beat, a gap before the first beat, long stalls,
    # a reset landing while an output waits, a short power-on reset and tail
    edges, _ = toy_case(np.random.default_rng(5), toy_design, toy, 6)
    edges = replace(edges, gaps=(4, 0, 0, 2, 0, 0), ready=(False,) * 9 + (True,),
                    reset_wait=(0, -1, -1, 7, -1, -1), reset_len=(1, 0, 0, 3, 0, 0), reset_cycles=1,
                    tail_cycles=3)
    return {"mixed": replace(mixed, reset_cycles=3), "edges": edges,
            "timeout": replace(mixed, max_cycles=70)}


def every_runner(device, design, stim, myhdl=True) -> dict:
    from cosim.host import run_myhdl
    from cosim.icarus import run_icarus
    from cosim.icarus_file import run_icarus_file
    from cosim.verilator import run_verilator

    traces = {"icarus (Python host, VPI)": run_icarus(design, stim),
              "icarus (Verilog host)": run_icarus_file(design, stim),
              "verilator (C++ host)": run_verilator(design, stim)}
    if myhdl:
        traces["myhdl (Python host, the block itself)"] = run_myhdl(device, stim)
    return traces


@pytest.mark.parametrize("name", ["mixed", "edges", "timeout"])
def test_every_runner_gives_the_python_hosts_trace(icarus, verilator, toy_device, toy_design, toy, name):
    """The same stimulus through the Python host (on the MyHDL block and, through the VPI,
    on its Verilog) and through its transcriptions (the Verilog bench of cosim.icarus_file
    and the C++ harness of cosim.verilator): identical traces, every beat, every edge."""
    stim = host_stimuli(toy_design, toy)[name]
    traces = every_runner(toy_device, toy_design, stim)
    want = traces["icarus (Python host, VPI)"]
    assert want.status == ("timeout" if name == "timeout" else "ok")
    assert want.accepts and want.outputs and (want.resets or name == "timeout")
    for runner, trace in traces.items():
        assert trace.core() == want.core(), f"{runner} differs from the Python host"


def test_every_runner_reports_the_same_violations(icarus, verilator, toy_design, toy):
    """A design that breaks the stream rule: the same violation records from every host."""
    bad = mutant_design(toy_design, TOY_MUTANTS[1])       # out_tvalid drops without a handshake
    stim = host_stimuli(toy_design, toy)["mixed"]
    traces = every_runner(None, bad, stim, myhdl=False)
    want = traces["icarus (Python host, VPI)"]
    assert want.violations
    for runner, trace in traces.items():
        assert trace.core() == want.core(), f"{runner} differs from the Python host"


# ------------------------------------------------------------------ the checks can fail
TOY_MUTANTS = [
    Mutant("wrap", "wrap instead of saturation", "sums wrap: the clamp never fires",
           r"\(total > 127\)", "(total > 1000)", None),
    Mutant("tready_ignored", "tready ignored", "out_tvalid drops without a handshake",
           r"else if \(\(out_tvalid && out_tready\)\)", "else if (out_tvalid)"),
    Mutant("stuck_valid", "tready ignored", "out_tvalid never drops: every beat repeats",
           r"else if \(\(out_tvalid && out_tready\)\)", "else if (1'b0)"),
    Mutant("xz_output", "state not cleared", "lane 0 output made X",
           r"accumulator_lane0_y <= total;", "accumulator_lane0_y <= 8'bx;"),
]


def test_mutant_with_stale_pattern_is_refused(toy_design):
    with pytest.raises(MutantError, match="matches nothing"):
        mutant_design(toy_design, Mutant("stale", "bias dropped", "", r"no such text", "x"))


@pytest.mark.parametrize("mutant", TOY_MUTANTS, ids=[m.name for m in TOY_MUTANTS])
def test_toy_mutants_are_caught_with_a_report_and_vcd(icarus, toy_design, toy, mutant):
    bad = mutant_design(toy_design, mutant)
    assert bad.text != toy_design.text
    rng = np.random.default_rng(3)
    stim, ref = toy_case(rng, toy_design, toy, 30, extremes=True,
                         traffic_kw=dict(resets=1, stall_prob=0.5))
    with pytest.raises(MismatchError) as err:
        verify(bad, stim, ref, context={"seed": 3}, name=f"toy-{mutant.name}")
    rep = err.value.report
    text = str(err.value)
    assert "seed=3" in text and "reproduce: python -m cosim.repro" in text
    assert rep.vcd and __import__("pathlib").Path(rep.vcd).stat().st_size > 0
    if rep.mismatch is not None:
        assert "expected h =" in text and "actual   h =" in text
    if mutant.name == "xz_output":
        assert any("X/Z" in p for p in rep.problems)
    if mutant.name == "tready_ignored":
        assert any("AXI4-Stream rule" in p for p in rep.problems)
    if mutant.name == "stuck_valid":
        assert any("extra output beat" in p or "status" in p for p in rep.problems)


def test_repro_replays_a_saved_failure(icarus, toy_design, toy):
    from cosim import repro
    bad = mutant_design(toy_design, TOY_MUTANTS[0])
    rng = np.random.default_rng(3)
    stim, ref = toy_case(rng, toy_design, toy, 10, extremes=True)
    with pytest.raises(MismatchError) as err:
        verify(bad, stim, ref, name="toy-repro", keep_vcd=False)
    folder = err.value.report.saved
    assert repro.main([folder, "--no-vcd"]) == 1
    design, stim2, expected, _ = repro.load_case(folder)
    assert stim2 == stim
    trace = verify(toy_design, stim2, ref, name="toy-repro-good")
    assert check(trace, stim2, design.shape, None, expected=expected).ok


def test_a_simulator_that_dies_is_reported_with_its_output(icarus, toy_design, toy):
    from cosim.tools import ToolFailed
    dying = mutant_design(toy_design, Mutant("dies", "state not cleared", "vvp stops at 200 ns",
                                             r"^endmodule", "initial #200 begin $display(\"bye\"); $finish; end\nendmodule"))
    stim, ref = toy_case(np.random.default_rng(0), toy_design, toy, 20)
    with pytest.raises(ToolFailed, match="broke off"):
        verify(dying, stim, ref, name="toy-dies")
