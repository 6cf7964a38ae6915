"""Value types of the whole-window engine's signals: signed words and counters."""

from __future__ import annotations

from myhdl import intbv

from .config import _bits_for


def signed_word(bits: int) -> intbv:
    """A two's-complement word of ``bits`` bits (a datapath value or an accumulator)."""
    return intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1))


def counter(count: int) -> intbv:
    """An unsigned value that holds 0 .. count-1 (at least one bit)."""
    return intbv(0)[_bits_for(count):]
