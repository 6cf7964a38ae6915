"""Number formats: rounding at ties, saturation, wrap, derived widths, format choice, errors."""

import math
import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from golden.formats import (ACT, DEFAULT_FORMATS, PREACT, VEC, WEIGHT, FormatError, LSTMFormats,
                            QFormat, accumulator_bits, weight_format_for)


def _round_half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def _wrap(v: int, word: int) -> int:
    """Keep the low ``word`` bits and read them as two's complement."""
    low = v & ((1 << word) - 1)
    return low - (1 << word) if low >> (word - 1) else low


formats = st.builds(
    lambda word, frac, rounding, overflow: QFormat(word, frac, True, rounding, overflow),
    st.integers(2, 24), st.integers(-4, 28), st.sampled_from(["nearest_posinf", "floor"]),
    st.sampled_from(["saturate", "wrap"]))


# ------------------------------------------------------------------ rounding at ties
@pytest.mark.parametrize("rounding, expected", [
    # LSBs: +0.5, -0.5, +1.5, -1.5, +2.5, -2.5, +0.25, -0.75
    ("nearest_posinf", [1, 0, 2, -1, 3, -2, 0, -1]),
    ("floor", [0, -1, 1, -2, 2, -3, 0, -1]),
])
def test_quantize_ties(rounding, expected):
    fmt = QFormat(16, 3, rounding=rounding)
    lsb = 2.0 ** -3
    x = np.array([0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.25, -0.75]) * lsb
    assert fmt.quantize(x).tolist() == expected


@pytest.mark.parametrize("rounding, expected", [
    # in LSBs of the target: +0.5, -0.5, +1.5, -1.5, +1, -1
    ("nearest_posinf", [1, 0, 2, -1, 1, -1]),
    ("floor", [0, -1, 1, -2, 1, -1]),
])
def test_requantize_ties(rounding, expected):
    fmt = QFormat(16, 4, rounding=rounding)
    assert fmt.requantize(np.array([1, -1, 3, -3, 2, -2]), 5).tolist() == expected
    # Two dropped bits: -0.75, +0.25, -0.5, +0.5 LSB.
    got = fmt.requantize(np.array([-3, 1, -2, 2]), 6).tolist()
    assert got == ([-1, 0, 0, 1] if rounding == "nearest_posinf" else [-1, 0, -1, 0])


@given(fmt=formats, code=st.integers(-(1 << 40), 1 << 40), extra=st.integers(0, 20))
def test_requantize_equals_exact_rounding_then_overflow(fmt, code, extra):
    """requantize == exact rational rounding, then clamp or two's-complement wrap."""
    exact = Fraction(code, 1 << extra)
    rounded = _round_half_up(exact) if fmt.rounding == "nearest_posinf" else math.floor(exact)
    if fmt.overflow == "saturate":
        want = min(max(rounded, fmt.int_min), fmt.int_max)
    else:
        want = _wrap(rounded, fmt.word_bits)
    assert int(fmt.requantize(np.array([code]), fmt.frac_bits + extra)[0]) == want


@given(fmt=formats, x=st.floats(-1e6, 1e6, allow_nan=False))
def test_quantize_equals_exact_rounding_then_overflow(fmt, x):
    scaled = Fraction(x) * Fraction(2) ** fmt.frac_bits
    rounded = _round_half_up(scaled) if fmt.rounding == "nearest_posinf" else math.floor(scaled)
    if fmt.overflow == "saturate":
        want = min(max(rounded, fmt.int_min), fmt.int_max)
    else:
        want = _wrap(rounded, fmt.word_bits)
    assert int(fmt.quantize(np.array([x]))[0]) == want


def test_saturation_clamps_at_both_ends():
    assert VEC.quantize(np.array([2.0, 100.0, -2.0, -100.0])).tolist() == [32767, 32767, -32768, -32768]
    assert PREACT.requantize(np.array([1 << 40, -(1 << 40)]), 26).tolist() == [32767, -32768]
    assert WEIGHT.fit(40000) == 32767 and WEIGHT.fit(-40000) == -32768


def test_wrap_keeps_low_bits():
    wrap = QFormat(8, 0, overflow="wrap")
    assert wrap.fit(np.array([127, 128, 255, 256, -129, -128, 300])).tolist() == \
        [127, -128, -1, 0, 127, -128, 44]
    sat = QFormat(8, 0)
    assert sat.fit(np.array([128, -129])).tolist() == [127, -128]


def test_nan_and_inf_are_refused_by_name():
    with pytest.raises(FormatError, match=r"enc0 kernel: 2 value\(s\) are NaN or infinite"):
        WEIGHT.quantize(np.array([0.0, np.nan, np.inf]), "enc0 kernel")
    with pytest.raises(FormatError, match="dense bias"):
        WEIGHT.check_fits(np.array([np.nan]), "dense bias")


# ------------------------------------------------------------------ derived quantities
def test_default_formats_and_derived_widths():
    assert [f.fxp_dtype for f in (VEC, WEIGHT, PREACT, ACT)] == \
        ["fxp-s16/14", "fxp-s16/12", "fxp-s16/11", "fxp-s16/14"]
    assert (VEC.int_min, VEC.int_max, VEC.one) == (-32768, 32767, 16384)
    assert (PREACT.min, PREACT.max) == (-16.0, 16.0 - 2.0 ** -11)
    assert WEIGHT.int_bits == 3 and ACT.lsb == 2.0 ** -14
    assert DEFAULT_FORMATS.acc_frac == 26
    assert LSTMFormats.from_dict(DEFAULT_FORMATS.to_dict()) == DEFAULT_FORMATS
    assert "Q5.11" in PREACT.describe()


@pytest.mark.parametrize("terms", [1, 2, 3, 38, 96, 1000])
def test_accumulator_holds_the_worst_case_sum(terms):
    """terms products of the most negative codes plus the largest bias fit the width."""
    f = DEFAULT_FORMATS
    worst = terms * f.vec.int_min * f.weight.int_min + (f.weight.int_max << f.vec.frac_bits)
    bits = accumulator_bits(f, terms)
    assert worst <= (1 << (bits - 1)) - 1
    assert -worst >= -(1 << (bits - 1))


# ------------------------------------------------------------------ format choice
@pytest.mark.parametrize("peak, frac", [(0.3, 15), (0.99, 15), (1.0, 14), (3.9, 13), (4.0, 12),
                                        (7.9997, 12), (8.0, 11), (100.0, 8)])
def test_weight_format_for_chooses_widest_fraction(peak, frac):
    fmt = weight_format_for({"kernel": np.array([[0.1, -peak]]), "bias": np.array([-0.05])})
    assert fmt.word_bits == 16 and fmt.frac_bits == frac
    fmt.check_fits(np.array([peak, -peak]), "kernel")            # holds every value ...
    if frac < 15:                       # (it never goes below one integer bit and sign: Q1.15)
        with pytest.raises(FormatError):                          # ... and one bit finer does not
            QFormat(16, frac + 1).check_fits(np.array([peak, -peak]), "kernel")


def test_weight_format_for_refuses_bad_tensors():
    with pytest.raises(FormatError, match="'recurrent' contains NaN"):
        weight_format_for({"kernel": np.zeros(3), "recurrent": np.array([np.nan])})
    with pytest.raises(FormatError, match="does not fit 8 bits"):
        weight_format_for({"kernel": np.array([1e6])}, word_bits=8)


def test_check_fits_names_tensor_and_excess():
    with pytest.raises(FormatError) as err:
        WEIGHT.check_fits(np.array([[0.5, 9.5], [-1.0, 2.0]]), "dec1 recurrent kernel")
    msg = str(err.value)
    assert msg.startswith("dec1 recurrent kernel:")
    excess = 9.5 - WEIGHT.max
    found = re.search(r"exceeds it by (\d+(?:\.\d+)?(?:e[+-]?\d+)?)", msg)
    assert found and float(found.group(1)) == pytest.approx(excess, rel=1e-5)
    # Within half an LSB of the end is accepted (it rounds to the end code).
    WEIGHT.check_fits(np.array([WEIGHT.max + WEIGHT.lsb / 4]), "bias")
    with pytest.raises(FormatError, match="exceeds it by 0.5"):
        WEIGHT.check_fits(np.array([-8.5]), "bias")


# ------------------------------------------------------------------ invalid formats
@pytest.mark.parametrize("kwargs, message", [
    ({"word_bits": 1, "frac_bits": 0}, "word_bits must be an integer in 2..62"),
    ({"word_bits": 16, "frac_bits": 1.5}, "frac_bits must be an integer"),
    ({"word_bits": 16, "frac_bits": 4, "rounding": "around"}, "rounding must be one of"),
    ({"word_bits": 16, "frac_bits": 4, "overflow": "clip"}, "overflow must be one of"),
])
def test_invalid_qformat_names_the_parameter(kwargs, message):
    with pytest.raises(FormatError, match=message):
        QFormat(name="probe", **kwargs)


@pytest.mark.parametrize("change, message", [
    ({"preact": QFormat(16, 27)}, "preact.frac_bits must not exceed"),
    ({"act": QFormat(16, 15)}, "act needs at least one integer bit"),
    ({"preact": QFormat(16, 4)}, "preact.frac_bits must be at least 5"),
    ({"preact": QFormat(24, 11)}, "preact range too wide"),
    ({"vec": QFormat(16, 14, signed=False)}, "must be signed"),
])
def test_invalid_lstm_formats_are_refused(change, message):
    parts = {"vec": VEC, "weight": WEIGHT, "preact": PREACT, "act": ACT}
    parts.update(change)
    with pytest.raises(FormatError, match=message):
        LSTMFormats(**parts)
