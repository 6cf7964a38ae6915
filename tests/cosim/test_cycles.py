"""Measured cycles equal the documented formulas: beat spacing and latency.

MyHDL simulation for the table (``python -m cosim.cycles``), and the converted Verilog
on Icarus and on Verilator for random configurations, with and without a step gap.
"""

import pytest
from hypothesis import given, settings, strategies as st

from hdl.config import EngineConfig
from cosim.cycles import main as cycles_main, measure, table
from cosim.engine import check_cycles, random_case


@pytest.mark.parametrize("d, h, p", [(3, 4, 1), (3, 4, 4), (5, 6, 3), (14, 2, 2)], ids=lambda v: str(v))
def test_measured_equals_formula_small(d, h, p):
    row = measure(d, h, p, steps=3)
    cfg = EngineConfig(d, h, p)
    assert row.latency == (cfg.latency_cycles,) * 3
    assert row.spacing == (cfg.beat_spacing,) * 2
    assert row.measured == (h // p) * (d + h) + p + 12
    assert row.ideal == h * (d + h) // p
    # the spacing is the multipliers' cycles plus the derived gap, never more than the latency
    assert row.measured_spacing == row.ideal + cfg.step_gap < row.measured


@pytest.mark.slow
@pytest.mark.parametrize("d, h, p", [(d, h, p) for d, h in [(6, 64), (64, 32), (32, 32), (32, 64)]
                                     for p in (4, 16)], ids=lambda v: str(v))
def test_measured_equals_formula_reference_shapes(d, h, p):
    row = measure(d, h, p, steps=2)
    cfg = EngineConfig(d, h, p)
    assert row.measured == cfg.latency_cycles
    assert row.measured_spacing == cfg.beat_spacing == row.ideal
    assert row.busy == 1.0


@st.composite
def cycle_configs(draw):
    """Small sizes (a step gap) and sizes with D + H >= P + 13 (none), P dividing H."""
    d = draw(st.sampled_from([1, 2, 3, 5, 13, 17]))
    h = draw(st.sampled_from([1, 2, 3, 4, 6, 8]))
    p = draw(st.sampled_from([k for k in range(1, h + 1) if h % k == 0]))
    return EngineConfig(d, h, p)


@pytest.mark.cosim
@settings(max_examples=max(3, settings.default.max_examples // 8), deadline=None)
@given(cfg=cycle_configs(), seed=st.integers(0, 2**32 - 1))
def test_spacing_and_latency_on_icarus_and_verilator(designs, verilator, cfg, seed):
    """Back to back: every latency == latency_cycles, every interval == beat_spacing, on both
    simulators of the converted Verilog (the values are scoreboarded too)."""
    design = designs(cfg)
    case = random_case(cfg, seed, n_sequences=2, max_len=3)
    for simulator in ("icarus", "verilator"):
        lat = check_cycles(design, case, simulator)
        assert set(lat) == {cfg.latency_cycles}


def test_table_and_command(capsys):
    assert cycles_main(["--shapes", "2x4", "--lanes", "1,3,4", "--steps", "2"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[0].startswith("| D->H | P |") and len(lines) == 4      # P=3 skipped: 4 % 3
    cfg = EngineConfig(2, 4, 4)
    assert (f"| 2->4 | 4 | 16 | {cfg.ideal_cycles} | {cfg.beat_spacing} | {cfg.beat_spacing} | "
            f"{cfg.latency_cycles} | {cfg.latency_cycles} |") in out
    assert "spacing/ideal" in table([measure(2, 2, 1, steps=2)], markdown=False)
    with pytest.raises(SystemExit):
        cycles_main(["--shapes", "2x4", "--steps", "1"])
