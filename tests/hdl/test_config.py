"""EngineConfig: refusals name the parameter, derived widths follow the formats."""

import math

import pytest
from hypothesis import given, strategies as st

from golden.formats import DEFAULT_FORMATS, FormatError, LSTMFormats, QFormat, accumulator_bits
from hdl.config import EngineConfig


@pytest.mark.parametrize("args, words", [
    ((0, 4, 1), "input_size must be at least 1"),
    ((3, 0, 1), "hidden_size must be at least 1"),
    ((3, 4, 0), "lanes must be at least 1"),
    ((3, 6, 4), "lanes (4) must divide hidden_size (6)"),
    ((1, 2, 4), "lanes (4) must divide hidden_size (2)"),
    ((3.0, 4, 2), "input_size must be an integer"),
    ((3, True, 1), "hidden_size must be an integer"),
], ids=["D0", "H0", "P0", "P-not-divisor", "P-greater-H", "D-float", "H-bool"])
def test_refusals_name_the_parameter(args, words):
    with pytest.raises(FormatError) as info:
        EngineConfig(*args)
    assert words in str(info.value)


def test_divisor_list_in_message():
    with pytest.raises(FormatError) as info:
        EngineConfig(6, 12, 5)
    assert "[1, 2, 3, 4, 6, 12]" in str(info.value)


@pytest.mark.parametrize("role", ["vec", "weight", "preact", "act"])
def test_wrapping_format_refused(role):
    fm = DEFAULT_FORMATS
    f = getattr(fm, role)
    wrap = QFormat(f.word_bits, f.frac_bits, f.signed, f.rounding, "wrap", f.name)
    bad = LSTMFormats(**{**{k: getattr(fm, k) for k in ("vec", "weight", "preact", "act")}, role: wrap})
    with pytest.raises(FormatError) as info:
        EngineConfig(2, 4, 2, bad)
    assert f"format {role} has overflow 'wrap'" in str(info.value)


def test_reference_shapes_and_module_names():
    cfg = EngineConfig(6, 64, 4)
    assert cfg.module_name == "lstm_engine_d6_h64_p4_v2q14_w4q12_z5q11_a2q14"
    floor = DEFAULT_FORMATS.with_rounding("floor")
    assert EngineConfig(6, 64, 4, floor).module_name.endswith("_rffff")
    assert EngineConfig(6, 64, 4, floor).module_name != cfg.module_name


@given(d=st.integers(1, 80), h=st.integers(1, 80), data=st.data())
def test_derived_quantities(d, h, data):
    p = data.draw(st.sampled_from([k for k in range(1, h + 1) if h % k == 0]))
    cfg = EngineConfig(d, h, p)
    fm = cfg.fmts
    assert cfg.in_bits == d * fm.vec.word_bits
    assert cfg.out_bits == h * fm.vec.word_bits
    assert cfg.acc_bits >= accumulator_bits(fm, d + h)
    # the accumulator holds the extreme sum of D+H products and the shifted bias
    extreme = (d + h) * (fm.weight.int_min * fm.vec.int_min) + (fm.weight.int_min << fm.vec.frac_bits)
    assert -(1 << (cfg.acc_bits - 1)) <= -extreme and extreme < (1 << (cfg.acc_bits - 1))
    assert cfg.memory_words == 4 * h * (d + h) + 4 * h
    assert (1 << cfg.addr_bits) >= cfg.memory_words > (1 << (cfg.addr_bits - 1)) or cfg.memory_words <= 2
    assert cfg.ideal_cycles == math.ceil(h * (d + h) / p)
    assert cfg.cycles_per_step == cfg.ideal_cycles + p + cfg.step_overhead
    assert EngineConfig.from_dict(cfg.to_dict()) == cfg
    assert f"_d{d}_h{h}_p{p}_" in cfg.module_name
