"""The regression can fail: planted bugs in the converted engine are all caught.

Each mutant is a patched copy of the generated Verilog (cosim.engine.ENGINE_MUTANTS);
the test first proves the patch changes the text, then runs the kill checks (the
properties' cheap deterministic cases) and requires every mutant to be killed.
The kill count and the check that caught each mutant go to
build/cosim/mutants-<module>.json and to the test output (pytest -s or -rA).
"""

from __future__ import annotations

import pytest

from cosim.engine import ENGINE_MUTANTS, mutation_report
from cosim.mutants import mutant_design

pytestmark = pytest.mark.cosim


@pytest.fixture(scope="module")
def cfg():
    from hdl.config import EngineConfig
    return EngineConfig(2, 4, 2)


def test_every_mutant_changes_the_generated_verilog(designs, cfg):
    design = designs(cfg)
    for m in ENGINE_MUTANTS:
        assert mutant_design(design, m).text != design.text, m.name


def test_regression_kills_every_planted_bug(designs, cfg, capsys):
    designs(cfg)
    summary = mutation_report(cfg)
    lines = [f"{r['name']:18s} {r['kind']:32s} killed by: {r['killed_by'] or 'SURVIVED'}"
             for r in summary["mutants"]]
    with capsys.disabled():
        print(f"\nplanted bugs in {summary['config']}: {summary['killed']}/{summary['total']} killed, "
              f"{len(summary['kinds'])} kinds\n" + "\n".join(lines))
    survivors = [r["name"] for r in summary["mutants"] if r["killed_by"] is None]
    assert not survivors, f"mutants not caught by the regression: {survivors}"
    assert len(summary["kinds"]) >= 5
    assert summary["killed"] == summary["total"] == len(ENGINE_MUTANTS) >= 5
