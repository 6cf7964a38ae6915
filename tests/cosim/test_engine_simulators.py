"""The same converted engine on both simulators, and long runs on Verilator.

Icarus (through MyHDL's VPI, the Python host) and Verilator (the generated C++
harness, a transcription of that host) run the same Verilog under the same stimulus,
and the Python host drives the MyHDL block itself; the traces must agree record for
record, cycle numbers included.  The slow tests (``tox -e regress``) stream long sequences through
larger configurations, up to the reference encoder's first layer, on Verilator.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from cosim.configs import regress_configs
from cosim.engine import engine_device, random_case
from cosim.runner import verify
from cosim.traffic import Traffic

pytestmark = pytest.mark.cosim


@pytest.fixture(scope="module", params=[(2, 4, 2), (14, 2, 2)], ids=["gap", "no_gap"])
def small(designs, request):
    """A short step (the next beat waits a step gap) and one without a gap (the next
    beat is taken in the last issue cycle, while the step drains)."""
    from hdl.config import EngineConfig
    cfg = EngineConfig(*request.param)
    assert (cfg.step_gap > 0) == (request.param == (2, 4, 2))
    return designs(cfg)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_simulator_agrees_on_the_engine(small, verilator, seed):
    """One stimulus (resets, stalls, gaps), three runs: the Python host on the MyHDL block,
    the Python host on the Verilog through the VPI, the C++ host on Verilator; bit-exact
    against the golden model under back-pressure on every simulator."""
    case = random_case(small.config, seed, n_sequences=3, max_len=5, resets=1, stall_prob=0.4,
                       gap_prob=0.4, long_stalls=seed == 3, weight_mode=("trained", "uniform", "extreme")[seed - 1])
    stim = case.stimulus()
    ti = verify(small, stim, case.reference(), simulator="icarus", context=case.context, name="agree")
    tv = verify(small, stim, case.reference(), simulator="verilator", context=case.context, name="agree")
    tm = verify(engine_device(small.config), stim, case.reference(), simulator="myhdl", context=case.context,
                name="agree")
    assert ti.core() == tv.core() == tm.core()
    assert ti.outputs and ti.resets == tv.resets and ti.xz_errors == 0 and tv.xz_errors is None


REGRESS = regress_configs()
REGRESS_IDS = [c.module_name.replace("lstm_engine_", "") for c in REGRESS]
BY_ID = dict(zip(REGRESS_IDS, REGRESS))


@pytest.mark.slow
@given(cfg=st.sampled_from(REGRESS_IDS).map(BY_ID.__getitem__), seed=st.integers(0, 2**32 - 1),
       n_sequences=st.integers(1, 12), weight_mode=st.sampled_from(("trained", "uniform", "sparse")),
       resets=st.integers(0, 2), stall=st.sampled_from((0.0, 0.3, 0.7)))
def test_long_sequences_on_verilator(designs, verilator, cfg, seed, n_sequences, weight_mode, resets, stall):
    case = random_case(cfg, seed, n_sequences=n_sequences, max_len=24, weight_mode=weight_mode,
                       resets=resets, stall_prob=stall, gap_prob=0.3 if stall else 0.0, long_stalls=stall > 0.5)
    verify(designs(cfg), case.stimulus(), case.reference(), simulator="verilator",
           context=case.context, name=f"long-{cfg.module_name}")


@pytest.mark.slow
def test_reference_layer_streams_many_windows(designs, verilator):
    """The reference encoder's first layer (D=6, H=64, P=4): 120 windows of 24 steps,
    trained-like weights, back-pressure, bit-exact on every beat and on cycle count."""
    from cosim.scoreboard import accept_intervals, latencies
    from hdl.config import EngineConfig

    cfg = EngineConfig(6, 64, 4)
    case = random_case(cfg, 2024, n_sequences=120, max_len=24, exact_len=True)
    design = designs(cfg)
    smooth = case.stimulus(Traffic.smooth(case.n_beats))
    trace = verify(design, smooth, case.reference(), simulator="verilator", context=case.context,
                   name="reference-layer")
    assert {c for _, c in latencies(trace, smooth)} == {cfg.latency_cycles}
    assert set(accept_intervals(trace)) == {cfg.beat_spacing} and cfg.mac_utilisation == 1.0
    rng = np.random.default_rng(5)
    stalled = case.stimulus(Traffic.random(rng, case.n_beats, stall_prob=0.5, gap_prob=0.3,
                                           stall_run_max=2 * cfg.cycles_per_step))
    verify(design, stalled, case.reference(), simulator="verilator", context=case.context,
           name="reference-layer-stalled")
