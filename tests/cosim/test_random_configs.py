"""Random sizes and formats within the engine's limits, each converted and co-simulated.

Every example draws D, H, P and four formats (word bits 8..18, rounding half up or
floor), converts that engine, compiles it and runs random weights, inputs and traffic
plus a saturating sequence through Icarus, bit-exact against the golden model.  Each
example costs a conversion and a compilation, so this test takes a fifth of the
profile's examples, and deletes the files of every configuration that passed.
"""

from __future__ import annotations

import shutil

import pytest
from hypothesis import assume, given, settings, strategies as st

from cosim.compile import compile_icarus, engine_design
from cosim.engine import random_case, saturation_case
from cosim.runner import verify

pytestmark = pytest.mark.cosim

EXAMPLES = max(4, settings.default.max_examples // 5)


@st.composite
def engine_configs(draw):
    from golden.formats import TABLE_STEP_LOG2, FormatError, LSTMFormats, QFormat
    from hdl.config import EngineConfig

    rounding = draw(st.sampled_from(("nearest_posinf", "floor")))

    def q(name, word, int_bits):
        return QFormat(word, word - int_bits, rounding=rounding, name=name)

    vec = q("vec", draw(st.integers(8, 18)), draw(st.integers(2, 4)))
    weight = q("weight", draw(st.integers(8, 18)), draw(st.integers(2, 6)))
    pw = draw(st.integers(10, 18))
    pf = draw(st.integers(max(TABLE_STEP_LOG2, pw - 13), pw - 2))
    preact = QFormat(pw, pf, rounding=rounding, name="preact")
    act = q("act", draw(st.integers(8, 18)), draw(st.integers(2, 4)))
    d = draw(st.integers(1, 6))
    h = draw(st.integers(1, 8))
    p = draw(st.sampled_from([k for k in range(1, h + 1) if h % k == 0 and k <= d + h]))
    try:
        return EngineConfig(d, h, p, LSTMFormats(vec, weight, preact, act))
    except FormatError:
        assume(False)


def forget(design) -> None:
    """Delete a one-off configuration's conversion and simulator build."""
    shutil.rmtree(compile_icarus(design).parent, ignore_errors=True)
    shutil.rmtree(design.verilog.parent, ignore_errors=True)


@settings(max_examples=EXAMPLES)
@given(cfg=engine_configs(), seed=st.integers(0, 2**32 - 1),
       weight_mode=st.sampled_from(("trained", "uniform", "extreme", "sparse")))
def test_random_sizes_and_formats_match_golden(cfg, seed, weight_mode):
    # engine_design, not the session's in-memory `designs` cache: forget() below deletes
    # the files, and hypothesis may draw the same configuration again (it re-converts).
    design = engine_design(cfg)
    case = random_case(cfg, seed, n_sequences=2, max_len=4, weight_mode=weight_mode,
                       input_mode="uniform" if weight_mode != "trained" else "scaled",
                       resets=1, stall_prob=0.3, gap_prob=0.3)
    verify(design, case.stimulus(), case.reference(), context=case.context, name="random-config")
    sat = saturation_case(cfg, +1)
    verify(design, sat.stimulus(), sat.reference(), context=sat.context, name="random-config")
    forget(design)


def test_preact_fraction_at_the_table_step_converts(designs):
    """Found by the random-format property: the table needs no interpolation there."""
    from golden.formats import TABLE_STEP_LOG2, LSTMFormats, QFormat
    from hdl.config import EngineConfig

    fm = LSTMFormats(QFormat(16, 14, name="vec"), QFormat(16, 12, name="weight"),
                     QFormat(12, TABLE_STEP_LOG2, name="preact"), QFormat(16, 14, name="act"))
    cfg = EngineConfig(2, 2, 1, fm)
    design = designs(cfg)
    for mode in ("trained", "uniform"):
        case = random_case(cfg, 1, n_sequences=2, max_len=3, weight_mode=mode)
        verify(design, case.stimulus(), case.reference(), context=case.context, name="random-config")
    forget(design)
