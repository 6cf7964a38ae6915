"""Activation table: contents, measured error against the math functions, derived bound."""

import math

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from golden.activations import (SIGMOID, TANH, activate, activation_table, error_bound_lsb,
                                measure_error)
from golden.formats import DEFAULT_FORMATS, LSTMFormats, QFormat, TABLE_STEP_LOG2, TABLE_GUARD_BITS


def _measured_lsb(kind, fmts):
    """Max |activate - math| over every preact code, in act LSBs (computed here)."""
    z = np.arange(fmts.preact.int_min, fmts.preact.int_max + 1, dtype=np.int64)
    got = activate(z, kind, fmts) * 2.0 ** -fmts.act.frac_bits
    x = z * 2.0 ** -fmts.preact.frac_bits
    ref = 1.0 / (1.0 + np.exp(-x)) if kind == SIGMOID else np.tanh(x)
    return float(np.max(np.abs(got - ref))) * 2.0 ** fmts.act.frac_bits


@st.composite
def activation_formats(draw):
    """Formats valid for LSTMFormats; only preact and act matter to the table."""
    rounding = draw(st.sampled_from(["nearest_posinf", "floor"]))
    preact_frac = draw(st.integers(TABLE_STEP_LOG2, 14))
    preact = QFormat(draw(st.integers(preact_frac + 1, preact_frac + 8)), preact_frac,
                     rounding=rounding, name="preact")
    act_word = draw(st.integers(4, 20))
    act = QFormat(act_word, draw(st.integers(1, act_word - 2)), rounding=rounding, name="act")
    return LSTMFormats(QFormat(16, 14), QFormat(16, 12), preact, act)


def test_table_entries_are_python_ints():
    t = activation_table(DEFAULT_FORMATS)
    assert isinstance(t.entries, tuple)
    assert all(type(e) is int for e in t.entries)       # not numpy ints (MyHDL ROMs need int)


def test_default_table_contents():
    f = DEFAULT_FORMATS
    t = activation_table(f)
    assert len(t.entries) == 513 and t.shift == 6 and t.table_frac == 18
    assert t.entries[0] == 1 << 17                         # sigmoid(0) = 1/2
    assert t.entry_bits == 19                               # unsigned, < 2^19 = 1.0
    assert all(b >= a for a, b in zip(t.entries, t.entries[1:]))   # sigmoid is increasing
    for k in (1, 100, 512):
        want = 1.0 / (1.0 + math.exp(-k / 32.0))
        assert abs(t.entries[k] / 2.0 ** 18 - want) <= 2.0 ** -19


@pytest.mark.parametrize("kind", [SIGMOID, TANH])
def test_default_error_at_most_one_lsb(kind):
    measured = _measured_lsb(kind, DEFAULT_FORMATS)
    assert measured == pytest.approx(measure_error(kind, DEFAULT_FORMATS), abs=1e-12)
    assert measured <= error_bound_lsb(kind, DEFAULT_FORMATS) <= 1.0
    # Figures quoted in docs/fixed_point.md: sigmoid 0.70, tanh 0.90 LSB.
    assert round(measured, 2) == {SIGMOID: 0.70, TANH: 0.90}[kind]


@given(activation_formats(), st.sampled_from([SIGMOID, TANH]))
def test_error_within_derived_bound_for_random_formats(fmts, kind):
    measured = _measured_lsb(kind, fmts)
    bound = error_bound_lsb(kind, fmts)
    note(f"{kind}: measured {measured:.4f} LSB, bound {bound:.4f} LSB\n{fmts.describe()}")
    assert measured <= bound


@pytest.mark.parametrize("kind", [SIGMOID, TANH])
def test_exact_points_and_limits(kind):
    f = DEFAULT_FORMATS
    one = f.act.one
    z = np.array([0, f.preact.int_max, f.preact.int_min])
    got = activate(z, kind, f).tolist()
    if kind == SIGMOID:
        assert got == [one // 2, one, 0]
    else:
        assert got == [0, one, -one]


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="activation kind must be"):
        activate(np.array([0]), "relu")


def test_guard_bits_and_table_size_follow_the_formats():
    f = LSTMFormats(QFormat(12, 10), QFormat(12, 8), QFormat(10, 6), QFormat(10, 7))
    t = activation_table(f)
    assert t.table_frac == 7 + TABLE_GUARD_BITS
    assert t.shift == 6 - TABLE_STEP_LOG2
    assert len(t.entries) == (1 << (10 - 1 - t.shift)) + 1
    assert t.u_max == (1 << 9) - 1
