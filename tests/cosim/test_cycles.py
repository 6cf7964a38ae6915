"""Cycles per step measured in MyHDL simulation equal the documented formula."""

import pytest

from hdl.config import EngineConfig
from cosim.cycles import main as cycles_main, measure, table


@pytest.mark.parametrize("d, h, p", [(3, 4, 1), (3, 4, 4), (5, 6, 3)], ids=lambda v: str(v))
def test_measured_equals_formula_small(d, h, p):
    row = measure(d, h, p, steps=3)
    cfg = EngineConfig(d, h, p)
    assert row.latency == (cfg.cycles_per_step,) * 3
    assert row.spacing == (cfg.cycles_per_step,) * 2
    assert row.measured == (h // p) * (d + h) + p + 12
    assert row.ideal == h * (d + h) // p


@pytest.mark.slow
@pytest.mark.parametrize("d, h, p", [(d, h, p) for d, h in [(6, 64), (64, 32), (32, 32), (32, 64)]
                                     for p in (4, 16)], ids=lambda v: str(v))
def test_measured_equals_formula_reference_shapes(d, h, p):
    row = measure(d, h, p, steps=2)
    cfg = EngineConfig(d, h, p)
    assert row.measured == cfg.cycles_per_step
    assert row.measured <= cfg.target_cycles


def test_table_and_command(capsys):
    assert cycles_main(["--shapes", "2x4", "--lanes", "1,3,4", "--steps", "2"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[0].startswith("| D->H | P |") and len(lines) == 4      # P=3 skipped: 4 % 3
    cfg = EngineConfig(2, 4, 4)
    assert f"| 2->4 | 4 | 16 | {cfg.ideal_cycles} | {cfg.cycles_per_step} | {cfg.cycles_per_step} |" in out
    assert "measured/ideal" in table([measure(2, 2, 1, steps=2)], markdown=False)
