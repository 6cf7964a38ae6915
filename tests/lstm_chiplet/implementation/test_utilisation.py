"""Multiplier utilisation against the ideal, and generic cell counts.

The tables of both engines are checked against the ideal cycles; the slow set
measures the cycles (MyHDL simulation, Verilator) and runs yosys' generic synthesis.
"""

import math

import pytest

from lstm_chiplet.implementation.utilisation import (generic_cells, utilisation, utilisation_markdown,
                                                     utilisation_plot, window_utilisation,
                                                     window_utilisation_markdown)


def test_utilisation_rows_against_the_ideal():
    rows = utilisation(lanes=(1, 2, 4, 8, 16))
    assert {r["layer"] for r in rows} == {"6->64", "64->32", "32->32", "32->64"}
    assert len(rows) == 4 * 5
    for r in rows:
        d, h, p = r["input_size"], r["hidden_size"], r["lanes"]
        assert r["ideal"] == math.ceil(h * (d + h) / p)
        assert r["latency"] > r["beat_spacing"] >= r["ideal"]
        # the engine streams: every reference shape within 10 % of the ideal at every P
        assert r["within_10_percent"] and r["ratio"] <= 1.1
    one = next(r for r in rows if r["layer"] == "6->64" and r["lanes"] == 1)
    assert one["ideal"] == 64 * 70


def test_utilisation_table_and_plot(tmp_path):
    rows = utilisation(lanes=(1, 4), layers=[(6, 8)])
    text = utilisation_markdown(rows)
    assert text.count("\n") == 3 and "| 6->8 | 4 | 16 | 28 |" in text
    # ratio and busy share on the spacing: the latency would put P = 4 at 28 + drain
    row = next(r for r in rows if r["lanes"] == 4)
    assert f"| {row['beat_spacing']} / - | {row['beat_spacing'] / 28:.3f} |" in text
    utilisation_plot(rows, tmp_path / "u.png")
    assert (tmp_path / "u.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_whole_window_design_steps_at_the_multiplier_bound():
    """The design placed on the UP5K: every reference layer's step takes exactly
    (H/P)(D+H) cycles at every P (its steps overlap; no gap)."""
    rows = window_utilisation(lanes=(1, 2, 4, 8, 16))
    shapes = {"6->64": (6, 64), "64->32": (64, 32), "32->32": (32, 32), "32->64": (32, 64)}
    assert len(rows) == 20 and {r["layer"] for r in rows} == set(shapes)
    for r in rows:
        d, h = shapes[r["layer"]]
        assert r["ideal"] == h * (d + h) // r["lanes"]
        assert r["cycles_per_step"] == r["ideal"] and r["step_gap"] == 0 and r["within_10_percent"]
        assert r["window_cycles_measured"] is None
    assert {r["window_cycles"] for r in rows if r["lanes"] == 1} == {381_187}
    text = window_utilisation_markdown(rows)
    # P = 16: the first decoder pass reads the latent with H - P = 16 cycles of margin
    # against LAT = 20: 4 idle cycles before it
    assert "| 32->32 (2) | 16 | 64 | 128 | 128 | 0 | 1.000 | yes | 25,438 / - | 93.4% |" in text


@pytest.mark.slow
def test_whole_window_cycles_measured_on_verilator():
    rows = window_utilisation(lanes=(16,), measure=True)
    assert rows and all(r["window_cycles_measured"] == r["window_cycles"] == 25_438 for r in rows)


@pytest.mark.slow
def test_measured_cycles_equal_the_formula():
    rows = utilisation(lanes=(1, 2), layers=[(3, 4)], measure=True)
    assert [r["measured_spacing"] for r in rows] == [r["beat_spacing"] for r in rows]
    assert [r["measured_latency"] for r in rows] == [r["latency"] for r in rows]


@pytest.mark.hdl
@pytest.mark.slow
def test_generic_cell_counts_grow_with_lanes(tmp_path, implementation_tools):
    from hdl.config import EngineConfig

    rows = [generic_cells(EngineConfig(3, 4, p), tmp_path) for p in (1, 2)]
    assert [r["multipliers"] for r in rows] == [4 * 1 + 8, 4 * 2 + 8]
    assert rows[1]["gates"] > rows[0]["gates"] > 0
    # weights: 4H(D+H) words of 16 bits, in RAM, either way
    assert all(r["ram_bits"] >= 4 * 4 * 7 * 16 for r in rows)
